//! Compiles proto/ with protox so that no system `protoc` is needed, and
//! generates the proto3 canonical JSON mapping (pbjson) from the same descriptors.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not compiled in: a build script's binary is reused by
    // every checkout that shares a target directory, and a compiled-in path
    // would keep pointing at the checkout that built it.
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "events",
        "common",
        "ingest",
        "query",
        "sync",
        "gateway",
        "customer",
        "models",
        "associations",
        "exchange",
        "rebuild",
        "effect",
        "segments",
        "audit",
    ]
    .map(|name| root.join(format!("portrait/v1/{name}.proto")));
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let descriptors = protox::compile(&files, [&root])?;
    let encoded = prost::Message::encode_to_vec(&descriptors);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("portrait_descriptor.bin"), &encoded)?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    pbjson_build::Builder::new()
        .register_descriptors(&encoded)?
        // Zeros and empty lists are printed, so a JSON client (a dashboard, a
        // BI tool) sees the same keys in every answer; the mapping allows it.
        .emit_fields()
        .build(&[".portrait.v1"])?;
    Ok(())
}
