//! The OpenAPI 3.1 document of the JSON routes, made at start-up from the
//! route table and the protos' descriptors: paths, parameters, the request and
//! answer schemas in their canonical JSON form, and the error shape.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::params::Param;
use super::schema::{Field, Kind, Schema};
use super::{Bound, OPENAPI_PATH, Verb};

const STATUS: &str = "google.rpc.Status";

fn reference(full_name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{}", full_name.trim_start_matches('.'))})
}

fn scalar(kind: &Kind) -> Value {
    match kind {
        Kind::Int32 => json!({"type": "integer", "format": "int32"}),
        Kind::Int64 => json!({"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"}),
        Kind::Double => json!({"type": "number", "format": "double"}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::String => json!({"type": "string"}),
        Kind::Bytes => json!({"type": "string", "format": "byte"}),
        Kind::Enum(name) | Kind::Message(name) => reference(name),
    }
}

fn field_schema(f: &Field) -> Value {
    let one = scalar(&f.kind);
    let mut schema = if f.repeated {
        json!({"type": "array", "items": one})
    } else {
        one
    };
    if !f.doc.is_empty()
        && let Some(object) = schema.as_object_mut()
    {
        object.insert("description".into(), Value::String(f.doc.clone()));
    }
    schema
}

/// Every message and enum reachable from `roots`, as component schemas.
fn components(schema: &Schema, roots: &BTreeSet<String>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut todo: Vec<String> = roots.iter().cloned().collect();
    while let Some(name) = todo.pop() {
        let key = name.trim_start_matches('.').to_owned();
        if out.contains_key(&key) {
            continue;
        }
        if let Some(e) = schema.enums.get(&name) {
            let names: Vec<&str> = e.values.iter().map(|(n, _)| n.as_str()).collect();
            let docs: Vec<String> = e
                .values
                .iter()
                .filter(|(_, d)| !d.is_empty())
                .map(|(n, d)| format!("- `{n}`: {d}"))
                .collect();
            let doc = [e.doc.clone(), docs.join("\n")].join("\n\n");
            out.insert(
                key,
                json!({"type": "string", "enum": names, "description": doc.trim()}),
            );
        } else if let Some(m) = schema.messages.get(&name) {
            let mut properties = Map::new();
            for f in &m.fields {
                if let Kind::Enum(n) | Kind::Message(n) = &f.kind {
                    todo.push(n.clone());
                }
                properties.insert(f.json_name.clone(), field_schema(f));
            }
            out.insert(
                key,
                json!({"type": "object", "description": m.doc, "properties": properties}),
            );
        }
    }
    out
}

fn parameter(p: &Param, in_path: bool) -> Value {
    let mut description = p.field.doc.clone();
    if p.name != p.path.join(".") {
        description = format!("`{}` also works. {description}", p.path.join("."));
    }
    if p.field.repeated {
        description.push_str(" Repeat the parameter or separate values with commas.");
    }
    let mut schema = field_schema(&p.field);
    if let Some(object) = schema.as_object_mut() {
        object.remove("description");
    }
    json!({
        "name": p.name,
        "in": if in_path { "path" } else { "query" },
        "required": in_path,
        "description": description.trim(),
        "schema": schema,
        "explode": true,
    })
}

/// The document for `routes`.
pub(crate) fn document(schema: &Schema, routes: &[Bound]) -> Value {
    let mut paths = Map::new();
    let mut roots = BTreeSet::new();
    let error = json!({
        "description": "The call failed: a google.rpc.Status, with a google.rpc.BadRequest detail naming the invalid field",
        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{STATUS}")}}},
    });
    for b in routes {
        let parameters: Vec<Value> = b
            .params
            .iter()
            .filter_map(|p| {
                let in_path = b.path_params.contains(&p.name);
                (in_path || b.route.verb == Verb::Get).then(|| parameter(p, in_path))
            })
            .collect();
        let mut operation = json!({
            "operationId": b.route.rpc,
            "summary": b.method.doc,
            "description": format!("`portrait.v1.PortraitService/{}` over HTTP.", b.route.rpc),
            "parameters": parameters,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": reference(&b.method.output)}}},
                "default": error,
            },
        });
        if b.route.verb == Verb::Post {
            operation["requestBody"] = json!({
                "required": false,
                "content": {"application/json": {"schema": reference(&b.method.input)}},
            });
            roots.insert(b.method.input.clone());
        }
        roots.insert(b.method.output.clone());
        for p in &b.params {
            if let Kind::Enum(n) = &p.field.kind {
                roots.insert(n.clone());
            }
        }
        let entry = paths
            .entry(b.route.path.to_owned())
            .or_insert_with(|| json!({}));
        entry[b.route.verb.lower()] = operation;
    }
    paths.insert(
        OPENAPI_PATH.to_owned(),
        json!({"get": {
            "operationId": "GetOpenApi",
            "summary": "This document.",
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}},
        }}),
    );
    let mut schemas = components(schema, &roots);
    schemas.insert(
        STATUS.to_owned(),
        json!({
            "type": "object",
            "description": "An error: the gRPC status code, a message naming what is wrong, and details.",
            "properties": {
                "code": {"type": "integer", "format": "int32", "description": "google.rpc.Code, e.g. 3 INVALID_ARGUMENT, 5 NOT_FOUND, 14 UNAVAILABLE"},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {"type": "object", "properties": {"@type": {"type": "string"}}, "additionalProperties": true}},
            },
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Portrait",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "portrait.v1.PortraitService as JSON over HTTP: the proto3 canonical JSON mapping (camelCase names, 64-bit integers as strings, enums by name). Query parameters are the request message's JSON field names; a filter's fields may be written with or without `filter.`.",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    })
}
