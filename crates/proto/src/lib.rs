//! Generated code for the `portrait.v1` protobuf package: prost messages, tonic
//! clients and servers, and the proto3 canonical JSON mapping (serde, pbjson).

#[allow(unreachable_pub, clippy::all)]
pub mod v1 {
    tonic::include_proto!("portrait.v1");
    include!(concat!(env!("OUT_DIR"), "/portrait.v1.serde.rs"));
}

/// Encoded `FileDescriptorSet` of every portrait proto (with source comments),
/// for server reflection and the HTTP API's OpenAPI document.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/portrait_descriptor.bin"));
