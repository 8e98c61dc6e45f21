//! Fulcrum's wire contract: the `fulcrum.v1` protobuf services and messages,
//! the replicated log's envelope and the events, as generated Rust code.
//!
//! This crate depends on no other Fulcrum crate. It holds no rules: the domain
//! in `fulcrum-raft-store` converts these messages into checked domain types
//! with one `TryFrom` per message, naming the field that is wrong.

/// The `fulcrum.v1` package: messages, service clients and servers.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod v1 {
    tonic::include_proto!("fulcrum.v1");
}

/// The `fulcrum.internal.v1` package: Raft's records and the peers' own
/// service (Raft, forwarded proposals, read index, leadership transfer,
/// data-plane status), served on the peer port only.
pub mod internal {
    /// Version 1 of the internal package.
    #[allow(missing_docs, unreachable_pub, clippy::all)]
    pub mod v1 {
        tonic::include_proto!("fulcrum.internal.v1");
    }
}

pub mod client;

pub use client::{Client, ConnectError, Credentials};

/// The encoded `FileDescriptorSet` of the public contract (`fulcrum.v1`)
/// with its methods' `google.api.http` annotations (and the `google.api`
/// and `google.protobuf` files they need), for gRPC server reflection and
/// the REST transcoder; the internal package is left out.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/fulcrum_descriptor.bin"));

/// The log envelope format this build writes and the newest it can apply.
/// Version 2 adds the hard limits (ceilings, request bounds, address
/// classes). Version 3 adds access tokens (the commands
/// `issue_access_token` and `revoke_access_token`) and the envelope's
/// `principal`, which the history records. Version 4 adds the listener's
/// `access_log`. Version 5 adds the listener's forwarding rules (the
/// command `set_listener_rules`). Entries of older versions still apply by
/// their version's rules: they carry none of these.
pub const LOG_FORMAT_VERSION: u32 = 5;

/// The oldest log envelope format this build still applies.
pub const OLDEST_LOG_FORMAT_VERSION: u32 = 1;

#[cfg(test)]
mod tests {
    use super::v1;
    use prost::Message;

    #[test]
    fn descriptor_set_holds_every_service() {
        let set = prost_types::FileDescriptorSet::decode(super::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set decodes");
        let services: Vec<&str> = set
            .file
            .iter()
            .flat_map(|file| file.service.iter().map(|service| service.name()))
            .collect();
        for expected in [
            "NetworkService",
            "EipService",
            "LoadBalancerService",
            "ListenerService",
            "VirtualServerGroupService",
            "CertificateService",
            "AccessTokenService",
            "EventService",
            "ClusterService",
        ] {
            assert!(
                services.contains(&expected),
                "{expected} missing from {services:?}"
            );
        }
        assert!(
            !services.contains(&"RaftService"),
            "the peers' service must not be described on the public port: {services:?}"
        );
        // The contract, the HTTP annotations its methods carry and the
        // descriptor types they extend; never the internal package.
        for file in &set.file {
            assert!(
                ["fulcrum.v1", "google.api", "google.protobuf"].contains(&file.package()),
                "{} ({}) must not be described on the public port",
                file.name(),
                file.package()
            );
        }
        assert!(
            set.file
                .iter()
                .any(|file| file.name() == "google/api/annotations.proto"),
            "the google.api.http extension must resolve"
        );
    }

    #[test]
    fn envelope_round_trips_byte_for_byte() {
        let mut tags = std::collections::BTreeMap::new();
        tags.insert("team".to_owned(), "web".to_owned());
        tags.insert("env".to_owned(), "prod".to_owned());
        let envelope = v1::LogEnvelope {
            format_version: super::LOG_FORMAT_VERSION,
            client_token: "token-1".to_owned(),
            accepted_at_unix_ms: 1_700_000_000_000,
            principal: "alice@example.com".to_owned(),
            command: Some(v1::Command {
                kind: Some(v1::command::Kind::CreateLoadBalancer(
                    v1::CreateLoadBalancerRequest {
                        name: "web".to_owned(),
                        network_id: "net-1".to_owned(),
                        subnet_id: "sn-1".to_owned(),
                        tags,
                        ..Default::default()
                    },
                )),
            }),
        };
        let bytes = envelope.encode_to_vec();
        let decoded = v1::LogEnvelope::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(decoded, envelope);
        assert_eq!(decoded.encode_to_vec(), bytes);
    }
}
