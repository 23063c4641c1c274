//! Generated code for the `portrait.v1` protobuf package.

#[allow(unreachable_pub, clippy::all)]
pub mod v1 {
    tonic::include_proto!("portrait.v1");
}

/// Encoded `FileDescriptorSet` of every portrait proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/portrait_descriptor.bin"));
