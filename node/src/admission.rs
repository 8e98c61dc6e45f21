//! Admission: the checks a command passes on the node before it is proposed,
//! so that a request that cannot be accepted never reaches the log.
//!
//! Two kinds of check run here:
//! - the domain's own field checks and hard limits (`Command::try_from`, the
//!   client token), the same code every replica runs again at the entry's log
//!   position, so a refusal here is the refusal the log would have given;
//! - the deployment's address rules, which depend on facts the replicated
//!   state does not hold: which binder the cluster runs (loopback EIPs and
//!   members only on the loopback binder) and the nodes' own addresses (an
//!   EIP or a member may not be one of them).
//!
//! Rules that relate a command to the state (quotas, uniqueness, references)
//! stay in `decide`, at the log position, where two racing commands cannot
//! both pass.

use std::net::{IpAddr, Ipv4Addr};

use fulcrum_api::v1;
use fulcrum_raft_store::domain::limits::LOOPBACK;
use fulcrum_raft_store::domain::{Command, validate};
use ipnet::Ipv4Net;
use tonic::Status;

use crate::errors::rejection_status;

/// What the node knows of its deployment that the address rules need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressPolicy {
    /// The cluster runs the loopback binder (`--dev`, one machine).
    pub loopback_binder: bool,
    /// On the loopback binder, members may still be outside 127.0.0.0/8
    /// (`eip.allow_remote_members`): the operator says the addresses are theirs.
    pub allow_remote_members: bool,
}

/// Checks `command` (with its `client_token`) before it is proposed. The
/// nodes' own addresses are those of `node_addresses` (every member's API
/// and Raft addresses, as the membership lists them).
pub fn admit(
    policy: &AddressPolicy,
    client_token: &str,
    command: &v1::Command,
    node_addresses: &[Ipv4Addr],
) -> Result<(), Status> {
    validate::client_token(client_token).map_err(|rejection| rejection_status(&rejection))?;
    // The domain's own checks, whose parsed values the address rules read.
    match Command::try_from(command).map_err(|rejection| rejection_status(&rejection))? {
        Command::CreateInstance { address, .. } => member_address(policy, address, node_addresses),
        Command::UpdateSettings(update) => update
            .eip_pool
            .iter()
            .flatten()
            .enumerate()
            .try_for_each(|(position, block)| {
                pool_block(
                    policy,
                    &format!("eip_pool.cidrs[{position}]"),
                    block,
                    node_addresses,
                )
            }),
        _ => Ok(()),
    }
}

fn invalid(field: &str, message: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {message}"))
}

/// An instance's address: not a node's own; loopback only on the loopback
/// binder, and on it nothing but loopback unless the operator allows it.
fn member_address(
    policy: &AddressPolicy,
    address: Ipv4Addr,
    node_addresses: &[Ipv4Addr],
) -> Result<(), Status> {
    if node_addresses.contains(&address) && !address.is_loopback() {
        return Err(invalid(
            "address",
            format!("{address} is a Fulcrum node's own address; a member may not be a node"),
        ));
    }
    match (policy.loopback_binder, address.is_loopback()) {
        (false, true) => Err(invalid(
            "address",
            format!(
                "{address} is loopback; members are on loopback only on a single-machine cluster (eip.binder = \"loopback\")"
            ),
        )),
        (true, false) if !policy.allow_remote_members => Err(invalid(
            "address",
            format!(
                "{address} is outside 127.0.0.0/8; this cluster runs the loopback binder (one machine, --dev), so its members are on this machine: use a 127.x address, or set eip.allow_remote_members = true if {address} is yours to send traffic to"
            ),
        )),
        _ => Ok(()),
    }
}

/// An EIP pool block: loopback only on the loopback binder, never a node's
/// own API or Raft address.
fn pool_block(
    policy: &AddressPolicy,
    field: &str,
    block: &Ipv4Net,
    node_addresses: &[Ipv4Addr],
) -> Result<(), Status> {
    let touches_loopback =
        LOOPBACK.contains(&block.network()) || block.contains(&LOOPBACK.network());
    if touches_loopback && !policy.loopback_binder {
        return Err(invalid(
            field,
            format!(
                "{block} reaches into loopback (127.0.0.0/8); loopback EIPs need the loopback binder (eip.binder = \"loopback\")"
            ),
        ));
    }
    if let Some(node) = node_addresses.iter().find(|node| block.contains(*node)) {
        return Err(invalid(
            field,
            format!(
                "{block} contains {node}, a Fulcrum node's own address; an EIP must never be a node's address"
            ),
        ));
    }
    Ok(())
}

/// The IPv4 addresses of `addresses` (host:port texts), skipping any other.
pub fn ipv4_hosts<'a>(addresses: impl IntoIterator<Item = &'a str>) -> Vec<Ipv4Addr> {
    addresses
        .into_iter()
        .filter_map(|text| text.parse::<std::net::SocketAddr>().ok())
        .filter_map(|address| match address.ip() {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use v1::command::Kind;

    const LINUX: AddressPolicy = AddressPolicy {
        loopback_binder: false,
        allow_remote_members: false,
    };
    const DEV: AddressPolicy = AddressPolicy {
        loopback_binder: true,
        allow_remote_members: false,
    };

    fn instance(address: &str) -> v1::Command {
        v1::Command {
            kind: Some(Kind::CreateInstance(v1::CreateInstanceRequest {
                name: "web".into(),
                subnet_id: "subnet-0000000000000".into(),
                address: address.into(),
                ..Default::default()
            })),
        }
    }

    fn pool(cidrs: &[&str]) -> v1::Command {
        v1::Command {
            kind: Some(Kind::UpdateClusterSettings(
                v1::UpdateClusterSettingsRequest {
                    eip_pool: Some(v1::EipPool {
                        cidrs: cidrs.iter().map(|cidr| (*cidr).to_owned()).collect(),
                    }),
                    ..Default::default()
                },
            )),
        }
    }

    /// `None` when admitted, else the refusal's code and message.
    fn check(
        policy: &AddressPolicy,
        command: &v1::Command,
        nodes: &[&str],
    ) -> Option<(tonic::Code, String)> {
        let nodes: Vec<Ipv4Addr> = nodes
            .iter()
            .map(|node| node.parse().expect("address"))
            .collect();
        admit(policy, "", command, &nodes)
            .err()
            .map(|status| (status.code(), status.message().to_owned()))
    }

    fn refused(
        policy: &AddressPolicy,
        command: &v1::Command,
        nodes: &[&str],
        field: &str,
        rule: &str,
    ) {
        let (code, message) = check(policy, command, nodes).expect("refused");
        assert_eq!(code, tonic::Code::InvalidArgument, "{message}");
        assert!(message.starts_with(field), "{message} names {field}");
        assert!(message.contains(rule), "{message} says {rule}");
    }

    #[test]
    fn member_addresses_follow_the_binder_and_avoid_the_nodes() {
        assert_eq!(check(&LINUX, &instance("10.0.1.10"), &["10.0.0.1"]), None);
        refused(
            &LINUX,
            &instance("10.0.0.1"),
            &["10.0.0.1"],
            "address",
            "node's own",
        );
        refused(&LINUX, &instance("127.0.0.1"), &[], "address", "loopback");
        refused(
            &LINUX,
            &instance("169.254.169.254"),
            &[],
            "address",
            "link-local",
        );
        refused(&LINUX, &instance("224.0.0.1"), &[], "address", "multicast");
        refused(&LINUX, &instance("0.0.0.0"), &[], "address", "unspecified");
        assert_eq!(check(&DEV, &instance("127.0.0.2"), &["127.0.0.1"]), None);
        refused(
            &DEV,
            &instance("10.0.1.10"),
            &[],
            "address",
            "loopback binder",
        );
        let remote = AddressPolicy {
            allow_remote_members: true,
            ..DEV
        };
        assert_eq!(check(&remote, &instance("10.0.1.10"), &[]), None);
    }

    #[test]
    fn pool_blocks_follow_the_binder_and_avoid_the_nodes() {
        assert_eq!(
            check(&LINUX, &pool(&["203.0.113.0/24"]), &["10.0.0.1"]),
            None
        );
        refused(
            &LINUX,
            &pool(&["203.0.113.0/24", "10.0.0.0/24"]),
            &["10.0.0.1"],
            "eip_pool.cidrs[1]",
            "node's own",
        );
        refused(
            &LINUX,
            &pool(&["127.0.0.0/8"]),
            &[],
            "eip_pool.cidrs[0]",
            "loopback",
        );
        refused(
            &LINUX,
            &pool(&["169.254.0.0/24"]),
            &[],
            "eip_pool.cidrs[0]",
            "link-local",
        );
        refused(
            &LINUX,
            &pool(&["224.0.0.0/8"]),
            &[],
            "eip_pool.cidrs[0]",
            "multicast",
        );
        refused(
            &LINUX,
            &pool(&["255.255.255.255/32"]),
            &[],
            "eip_pool.cidrs[0]",
            "broadcast",
        );
        refused(
            &LINUX,
            &pool(&["0.0.0.0/0"]),
            &[],
            "eip_pool.cidrs[0]",
            "unspecified",
        );
        assert_eq!(check(&DEV, &pool(&["127.77.0.0/16"]), &["127.0.0.1"]), None);
        refused(
            &DEV,
            &pool(&["127.0.0.0/8"]),
            &["127.0.0.1"],
            "eip_pool.cidrs[0]",
            "node's own",
        );
    }

    #[test]
    fn a_bad_field_is_refused_with_the_domain_s_words() {
        refused(&LINUX, &instance("not-an-address"), &[], "address", "IPv4");
        let (code, message) = check(&LINUX, &v1::Command::default(), &[]).expect("refused");
        assert_eq!(code, tonic::Code::InvalidArgument, "{message}");
    }
}
