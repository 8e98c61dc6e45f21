//! Compiles `proto/fulcrum/v1/*.proto` (the public contract) and
//! `proto/fulcrum/internal/v1/*.proto` (the peers' service) with protox, a protobuf compiler written
//! in Rust, so that building needs no system `protoc`.

use std::path::PathBuf;

const PROTO_ROOT: &str = "proto";
/// The package of the public contract; the others are internal.
const PUBLIC_PACKAGE: &str = "fulcrum.v1";
const PROTO_FILES: &[&str] = &[
    "fulcrum/v1/common.proto",
    "fulcrum/v1/resources.proto",
    "fulcrum/v1/network.proto",
    "fulcrum/v1/eip.proto",
    "fulcrum/v1/load_balancer.proto",
    "fulcrum/v1/listener.proto",
    "fulcrum/v1/group.proto",
    "fulcrum/v1/certificate.proto",
    "fulcrum/v1/access.proto",
    "fulcrum/v1/events.proto",
    "fulcrum/v1/cluster.proto",
    "fulcrum/v1/log.proto",
    "fulcrum/internal/v1/raft.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    let files: Vec<String> = PROTO_FILES
        .iter()
        .map(|file| format!("{PROTO_ROOT}/{file}"))
        .collect();
    let descriptors = protox::compile(&files, [PROTO_ROOT])?;

    // Kept for gRPC server reflection: the public files only, so that the
    // API port never describes the peers' service.
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut public = descriptors.clone();
    public.file.retain(|file| file.package() == PUBLIC_PACKAGE);
    let descriptor_bytes = prost::Message::encode_to_vec(&public);
    std::fs::write(out_dir.join("fulcrum_descriptor.bin"), descriptor_bytes)?;

    tonic_prost_build::configure()
        // Ordered maps: the same message always encodes to the same bytes,
        // which the replicated log and the snapshots rely on.
        .btree_map(".")
        .compile_fds(descriptors)?;
    Ok(())
}
