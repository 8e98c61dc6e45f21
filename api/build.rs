//! Compiles `proto/fulcrum/v1/*.proto` with protox, a protobuf compiler written
//! in Rust, so that building needs no system `protoc`.

use std::path::PathBuf;

const PROTO_ROOT: &str = "proto";
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
    "fulcrum/v1/raft.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    let files: Vec<String> = PROTO_FILES
        .iter()
        .map(|file| format!("{PROTO_ROOT}/{file}"))
        .collect();
    let descriptors = protox::compile(&files, [PROTO_ROOT])?;

    // Kept for gRPC server reflection.
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_bytes = prost::Message::encode_to_vec(&descriptors);
    std::fs::write(out_dir.join("fulcrum_descriptor.bin"), descriptor_bytes)?;

    tonic_prost_build::configure()
        // Ordered maps: the same message always encodes to the same bytes,
        // which the replicated log and the snapshots rely on.
        .btree_map(".")
        .compile_fds(descriptors)?;
    Ok(())
}
