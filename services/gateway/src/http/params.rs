//! An HTTP request as the request message's canonical JSON: query and path
//! parameters named by the message's JSON field names, typed by its
//! descriptor, then read by the generated (pbjson) deserializer. Every
//! refusal is INVALID_ARGUMENT naming the parameter or field.

use portrait_service::http_error::invalid;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tonic::Status;

use super::schema::{Field, Kind, Schema};

/// A leaf field of a request message, settable by one query or path parameter.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    /// JSON path from the request message, e.g. `["filter", "fromDate"]`.
    pub(crate) path: Vec<String>,
    /// What a client writes: the leaf's JSON name (`fromDate`) when no other
    /// leaf of the message has it, else the dotted path (`filter.fromDate`).
    pub(crate) name: String,
    pub(crate) field: Field,
}

impl Param {
    fn dotted(&self) -> String {
        self.path.join(".")
    }

    fn is(&self, key: &str) -> bool {
        key == self.name || key == self.dotted()
    }
}

/// The leaves of `message` (full name with the leading dot). A singular
/// message field is flattened into its fields; nested repeated messages
/// cannot be written as parameters and are left to bodies.
pub(crate) fn leaves(schema: &Schema, message: &str) -> Vec<Param> {
    fn walk(schema: &Schema, message: &str, prefix: &[String], out: &mut Vec<Param>) {
        let Some(m) = schema.messages.get(message) else {
            return;
        };
        for f in &m.fields {
            let path = [prefix, std::slice::from_ref(&f.json_name)].concat();
            match &f.kind {
                // A cycle would need a message that contains itself; depth guards it.
                Kind::Message(nested) if !f.repeated && path.len() < 4 => {
                    walk(schema, nested, &path, out);
                }
                Kind::Message(_) => {}
                _ => out.push(Param {
                    name: String::new(),
                    path,
                    field: f.clone(),
                }),
            }
        }
    }
    let mut out = Vec::new();
    walk(schema, message, &[], &mut out);
    let leaf = |p: &Param| p.path.last().cloned().unwrap_or_default();
    let names: Vec<String> = out.iter().map(leaf).collect();
    for p in &mut out {
        let short = leaf(p);
        p.name = if names.iter().filter(|n| **n == short).count() == 1 {
            short
        } else {
            p.dotted()
        };
    }
    out
}

/// One parameter's text as its field's canonical JSON value.
fn value(schema: &Schema, p: &Param, raw: &str) -> Result<Value, Status> {
    let bad = |what: &str| invalid(&p.name, format!("{raw:?} is not {what}"));
    Ok(match &p.field.kind {
        Kind::Int32 => Value::from(
            raw.parse::<i64>()
                .ok()
                .filter(|n| i32::try_from(*n).is_ok() || u32::try_from(*n).is_ok())
                .ok_or_else(|| bad("a 32-bit integer"))?,
        ),
        // 64-bit integers stay strings, as the JSON mapping writes them.
        Kind::Int64 => {
            if raw.parse::<i64>().is_err() && raw.parse::<u64>().is_err() {
                return Err(bad("an integer"));
            }
            Value::String(raw.to_owned())
        }
        Kind::Double => Value::from(raw.parse::<f64>().map_err(|_| bad("a number"))?),
        Kind::Bool => Value::Bool(raw.parse::<bool>().map_err(|_| bad("true or false"))?),
        Kind::String | Kind::Bytes => Value::String(raw.to_owned()),
        Kind::Enum(name) => {
            let names: Vec<&str> = schema
                .enums
                .get(name)
                .map(|e| e.values.iter().map(|(n, _)| n.as_str()).collect())
                .unwrap_or_default();
            if !names.contains(&raw) {
                return Err(invalid(
                    &p.name,
                    format!("{raw:?} is not one of {}", names.join(", ")),
                ));
            }
            Value::String(raw.to_owned())
        }
        Kind::Message(_) => return Err(bad("settable from a parameter")),
    })
}

fn slot<'a>(root: &'a mut Map<String, Value>, path: &[String]) -> Option<&'a mut Value> {
    let (last, parents) = path.split_last()?;
    let mut object = root;
    for key in parents {
        object = object
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()?;
    }
    Some(object.entry(last.clone()).or_insert(Value::Null))
}

fn set(schema: &Schema, root: &mut Map<String, Value>, p: &Param, raw: &str) -> Result<(), Status> {
    let Some(slot) = slot(root, &p.path) else {
        return Err(invalid(&p.name, "conflicts with the body"));
    };
    if p.field.repeated {
        // Repeat the parameter, or separate values with commas: both add.
        let mut values = match slot.take() {
            Value::Array(values) => values,
            _ => Vec::new(),
        };
        for part in raw.split(',').filter(|s| !s.is_empty()) {
            values.push(value(schema, p, part)?);
        }
        *slot = Value::Array(values);
    } else if slot.is_null() {
        *slot = value(schema, p, raw)?;
    } else {
        return Err(invalid(&p.name, "given more than once"));
    }
    Ok(())
}

/// The request's JSON from its parts: `body` (a POST's, else an empty
/// object), then the query's parameters, then the path's (which win).
pub(crate) fn request_json(
    schema: &Schema,
    params: &[Param],
    query: Option<&str>,
    path: &[(&str, &str)],
    body: Option<Value>,
) -> Result<Value, Status> {
    let mut root = match body {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(invalid("body", "not a JSON object")),
    };
    for (key, raw) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let p = params
            .iter()
            .find(|p| p.is(&key))
            .ok_or_else(|| invalid(&key, "unknown query parameter"))?;
        set(schema, &mut root, p, &raw)?;
    }
    for (key, raw) in path {
        let p = params
            .iter()
            .find(|p| p.is(key))
            .ok_or_else(|| invalid(key, "unknown path parameter"))?;
        if let Some(slot) = slot(&mut root, &p.path) {
            *slot = Value::Null;
        }
        set(schema, &mut root, p, raw)?;
    }
    Ok(Value::Object(root))
}

/// Reads `value` with the message's generated deserializer; a refusal names
/// the field's JSON path.
pub(crate) fn decode<T: DeserializeOwned>(value: Value) -> Result<T, Status> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        invalid(&field, e.into_inner())
    })
}

#[cfg(test)]
mod tests {
    use portrait_proto::v1::{ListSuggestionsRequest, Priority, TopProductsRequest};

    use super::*;

    fn schema() -> Schema {
        Schema::load(portrait_proto::FILE_DESCRIPTOR_SET).unwrap()
    }

    fn field(status: &Status) -> &str {
        status
            .metadata()
            .get(portrait_service::http_error::INVALID_FIELD)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    #[test]
    fn parameters_fill_the_request_by_json_name() {
        let schema = schema();
        let params = leaves(&schema, ".portrait.v1.TopProductsRequest");
        let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "storeIds", "cities", "fromDate", "toDate", "asOfDate", "limit", "orderBy"
            ]
        );
        let query = "cities=%E4%B8%8A%E6%B5%B7&cities=a,b&filter.fromDate=2026-01-01&limit=5&orderBy=PRODUCT_ORDER_REVENUE";
        let json = request_json(&schema, &params, Some(query), &[], None).unwrap();
        let r: TopProductsRequest = decode(json).unwrap();
        let filter = r.filter.unwrap();
        assert_eq!(filter.cities, ["上海", "a", "b"]);
        assert_eq!(filter.from_date, "2026-01-01");
        assert_eq!((r.limit, r.order_by), (5, 2));
    }

    #[test]
    fn a_bad_parameter_is_named() {
        let schema = schema();
        let params = leaves(&schema, ".portrait.v1.ListSuggestionsRequest");
        for (query, name) in [
            ("pageSize=ten", "pageSize"),
            ("pageSize=99999999999", "pageSize"),
            ("minPriority=URGENT", "minPriority"),
            ("colour=red", "colour"),
            ("pageToken=a&pageToken=b", "pageToken"),
        ] {
            let err = request_json(&schema, &params, Some(query), &[], None).unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{query}");
            assert_eq!(field(&err), name, "{query}");
            assert!(err.message().starts_with(name), "{}", err.message());
        }
        let json = request_json(
            &schema,
            &params,
            Some("minPriority=PRIORITY_HIGH"),
            &[],
            None,
        );
        let r: ListSuggestionsRequest = decode(json.unwrap()).unwrap();
        assert_eq!(r.min_priority(), Priority::High);
    }

    #[test]
    fn a_bad_body_field_is_named() {
        let body = serde_json::json!({"mode": "SYNC_MODE_SOMETIMES"});
        let err = decode::<portrait_proto::v1::TriggerSyncRequest>(body).unwrap_err();
        assert_eq!(field(&err), "mode", "{}", err.message());
    }
}
