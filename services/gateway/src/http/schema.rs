//! The protos' descriptors, indexed for what the HTTP layer derives from them:
//! the query parameters of a request message and the OpenAPI schemas. Read
//! from the same `FileDescriptorSet` the code and reflection come from, so the
//! HTTP surface cannot drift from the protos.

use std::collections::BTreeMap;

use prost::Message as _;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorSet,
    MethodDescriptorProto,
};

/// A proto field's kind as its canonical JSON form sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// 32-bit integers: JSON numbers.
    Int32,
    /// 64-bit integers: JSON strings of decimal digits.
    Int64,
    Double,
    Bool,
    String,
    /// Base64 in a JSON string.
    Bytes,
    /// Full name with the leading dot, e.g. `.portrait.v1.Segment`.
    Enum(String),
    Message(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    /// The proto3 JSON name (lowerCamelCase).
    pub(crate) json_name: String,
    pub(crate) kind: Kind,
    pub(crate) repeated: bool,
    pub(crate) doc: String,
}

#[derive(Debug, Clone)]
pub(crate) struct MessageType {
    pub(crate) fields: Vec<Field>,
    pub(crate) doc: String,
}

#[derive(Debug, Clone)]
pub(crate) struct EnumType {
    pub(crate) values: Vec<(String, String)>,
    pub(crate) doc: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Method {
    pub(crate) input: String,
    pub(crate) output: String,
    pub(crate) doc: String,
    /// A client or server stream has no JSON route: one request, one answer.
    pub(crate) streaming: bool,
}

/// Every message, enum and method of the portrait protos, by full name.
#[derive(Debug, Default)]
pub(crate) struct Schema {
    pub(crate) messages: BTreeMap<String, MessageType>,
    pub(crate) enums: BTreeMap<String, EnumType>,
    pub(crate) methods: BTreeMap<String, Method>,
}

// Paths into FileDescriptorProto and DescriptorProto, as descriptor.proto numbers them.
const FILE_MESSAGES: i32 = 4;
const FILE_ENUMS: i32 = 5;
const FILE_SERVICES: i32 = 6;
const MESSAGE_FIELDS: i32 = 2;
const MESSAGE_NESTED: i32 = 3;
const MESSAGE_ENUMS: i32 = 4;
const ENUM_VALUES: i32 = 2;
const SERVICE_METHODS: i32 = 2;

fn kind(f: &FieldDescriptorProto) -> Kind {
    match f.r#type() {
        Type::Int32 | Type::Sint32 | Type::Sfixed32 | Type::Uint32 | Type::Fixed32 => Kind::Int32,
        Type::Int64 | Type::Sint64 | Type::Sfixed64 | Type::Uint64 | Type::Fixed64 => Kind::Int64,
        Type::Double | Type::Float => Kind::Double,
        Type::Bool => Kind::Bool,
        Type::String => Kind::String,
        Type::Bytes => Kind::Bytes,
        Type::Enum => Kind::Enum(f.type_name().to_owned()),
        Type::Message | Type::Group => Kind::Message(f.type_name().to_owned()),
    }
}

impl Schema {
    pub(crate) fn load(encoded: &[u8]) -> Result<Self, prost::DecodeError> {
        let set = FileDescriptorSet::decode(encoded)?;
        let mut schema = Schema::default();
        for file in &set.file {
            let docs: BTreeMap<Vec<i32>, String> = file
                .source_code_info
                .iter()
                .flat_map(|info| &info.location)
                .filter_map(|l| {
                    let doc = l.leading_comments().trim();
                    (!doc.is_empty()).then(|| (l.path.clone(), doc.replace("\n ", "\n")))
                })
                .collect();
            let doc = |path: &[i32]| docs.get(path).cloned().unwrap_or_default();
            let prefix = format!(".{}", file.package());
            for (i, m) in file.message_type.iter().enumerate() {
                schema.add_message(&prefix, m, &[FILE_MESSAGES, i as i32], &doc);
            }
            for (i, e) in file.enum_type.iter().enumerate() {
                schema.add_enum(&prefix, e, &[FILE_ENUMS, i as i32], &doc);
            }
            for (i, s) in file.service.iter().enumerate() {
                for (j, m) in s.method.iter().enumerate() {
                    let path = [FILE_SERVICES, i as i32, SERVICE_METHODS, j as i32];
                    schema.add_method(&format!("{prefix}.{}", s.name()), m, doc(&path));
                }
            }
        }
        Ok(schema)
    }

    fn add_message(
        &mut self,
        prefix: &str,
        m: &DescriptorProto,
        path: &[i32],
        doc: &dyn Fn(&[i32]) -> String,
    ) {
        let name = format!("{prefix}.{}", m.name());
        let fields = m
            .field
            .iter()
            .enumerate()
            .map(|(i, f)| Field {
                // protox fills it; the mapping's own rule for a set that lacks it.
                json_name: f
                    .json_name
                    .clone()
                    .unwrap_or_else(|| portrait_service::http_error::json_path(f.name())),
                kind: kind(f),
                repeated: f.label() == Label::Repeated,
                doc: doc(&[path, &[MESSAGE_FIELDS, i as i32]].concat()),
            })
            .collect();
        for (i, nested) in m.nested_type.iter().enumerate() {
            self.add_message(
                &name,
                nested,
                &[path, &[MESSAGE_NESTED, i as i32]].concat(),
                doc,
            );
        }
        for (i, e) in m.enum_type.iter().enumerate() {
            self.add_enum(&name, e, &[path, &[MESSAGE_ENUMS, i as i32]].concat(), doc);
        }
        self.messages.insert(
            name,
            MessageType {
                fields,
                doc: doc(path),
            },
        );
    }

    fn add_enum(
        &mut self,
        prefix: &str,
        e: &EnumDescriptorProto,
        path: &[i32],
        doc: &dyn Fn(&[i32]) -> String,
    ) {
        let values = e
            .value
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let value_doc = doc(&[path, &[ENUM_VALUES, i as i32]].concat());
                (v.name().to_owned(), value_doc)
            })
            .collect();
        self.enums.insert(
            format!("{prefix}.{}", e.name()),
            EnumType {
                values,
                doc: doc(path),
            },
        );
    }

    fn add_method(&mut self, service: &str, m: &MethodDescriptorProto, doc: String) {
        self.methods.insert(
            format!("{service}/{}", m.name()),
            Method {
                input: m.input_type().to_owned(),
                output: m.output_type().to_owned(),
                doc,
                streaming: m.client_streaming() || m.server_streaming(),
            },
        );
    }

    /// The methods of `service` (full name with the leading dot), by name.
    #[cfg(test)]
    pub(crate) fn service_methods<'a>(
        &'a self,
        service: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Method)> + 'a {
        self.methods.iter().filter_map(move |(name, m)| {
            let (s, method) = name.split_once('/')?;
            (s == service).then_some((method, m))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_portrait_protos_are_indexed_with_json_names_and_comments() {
        let schema = Schema::load(portrait_proto::FILE_DESCRIPTOR_SET).unwrap();
        let filter = &schema.messages[".portrait.v1.Filter"];
        let names: Vec<&str> = filter.fields.iter().map(|f| f.json_name.as_str()).collect();
        assert_eq!(
            names,
            ["storeIds", "cities", "fromDate", "toDate", "asOfDate"]
        );
        assert!(filter.fields[0].repeated);
        assert!(filter.fields[2].doc.contains("First day included"));
        let segment = &schema.enums[".portrait.v1.Segment"];
        assert_eq!(segment.values[1].0, "SEGMENT_IMPORTANT_VALUE");
        let trigger = &schema.methods[".portrait.v1.PortraitService/TriggerSync"];
        assert_eq!(trigger.input, ".portrait.v1.TriggerSyncRequest");
        assert!(
            trigger.doc.contains("FAILED_PRECONDITION"),
            "{}",
            trigger.doc
        );
    }
}
