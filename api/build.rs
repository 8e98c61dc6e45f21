//! Compiles `proto/fulcrum/v1/*.proto` (the public contract),
//! `proto/fulcrum/internal/v1/*.proto` (the peers' service) and our own
//! `proto/google/api/*.proto` (the HTTP binding annotations) with protox, a
//! protobuf compiler written in Rust, so that building needs no system `protoc`.

use std::path::PathBuf;

const PROTO_ROOT: &str = "proto";
/// The packages the public descriptor set describes: the contract, the
/// HTTP annotations its methods carry, and the descriptor types those
/// annotations extend (so that the extension resolves for a reader). The
/// internal package is left out.
const DESCRIBED_PACKAGES: &[&str] = &["fulcrum.v1", "google.api", "google.protobuf"];
/// The packages Rust code is generated for (the annotations are read by
/// reflection only).
const GENERATED_PACKAGE_PREFIX: &str = "fulcrum.";
const PROTO_FILES: &[&str] = &[
    "google/api/http.proto",
    "google/api/annotations.proto",
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
    let mut compiler = protox::Compiler::new([PROTO_ROOT])?;
    compiler
        .include_imports(true)
        .include_source_info(true)
        .open_files(&files)?;

    // Kept for gRPC server reflection and the REST transcoder: the public
    // files only, so that the API port never describes the peers' service.
    // Each file is encoded from the compiler's own pool, which keeps the
    // methods' custom options (`google.api.http`); prost's
    // `FileDescriptorProto` would drop them.
    let mut public = Vec::new();
    for file in compiler.descriptor_pool().files() {
        if DESCRIBED_PACKAGES.contains(&file.package_name()) {
            // FileDescriptorSet { repeated FileDescriptorProto file = 1; }
            prost::encoding::bytes::encode(1, &file.encode_to_vec(), &mut public);
        }
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("fulcrum_descriptor.bin"), public)?;

    let mut generated = compiler.file_descriptor_set();
    generated
        .file
        .retain(|file| file.package().starts_with(GENERATED_PACKAGE_PREFIX));
    tonic_prost_build::configure()
        // Ordered maps: the same message always encodes to the same bytes,
        // which the replicated log and the snapshots rely on.
        .btree_map(".")
        // An entry's encoded envelope, shared between the log store, the
        // replication streams and the proposal, not copied.
        .bytes(".fulcrum.internal.v1.RaftEntry.command")
        .compile_fds(generated)?;
    Ok(())
}
