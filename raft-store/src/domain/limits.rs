//! Every hard limit of the replicated state, in one place, and the rule sets
//! that say which of them a log entry is judged by.
//!
//! A limit bounds what one command may carry and what the catalog may hold,
//! whatever the quotas say: quotas are the operator's knob, these are the
//! ceilings of that knob. The README's "Limits" table lists each one; a test
//! (`tests/domain/limits.rs`) takes each to its value and one past it.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Which rules judge a log entry: those of the log format that wrote it.
///
/// An entry committed by an older build must apply exactly as that build
/// applied it, or a replica that replays the log would diverge from one that
/// applied it before an upgrade. So the limits this file adds to the older
/// rules bind only entries written in the newer format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rules {
    /// Log format 1: field rules and quotas, no ceilings and no address classes.
    V1,
    /// Log format 2: every limit of this file.
    V2,
    /// Log format 3: format 2's rules, access tokens, the envelope's
    /// principal, and certificate keys sealed with the data key.
    V3,
    /// Log format 4: format 3's rules and the listener's `access_log`.
    V4,
    /// Log format 5: format 4's rules and the listener's forwarding rules.
    V5,
}

impl Rules {
    /// The rules of the format this build writes.
    pub const CURRENT: Rules = Rules::V5;

    /// The rules of log format `version`, if this build knows it.
    pub fn of_format(version: u32) -> Option<Rules> {
        match version {
            1 => Some(Rules::V1),
            2 => Some(Rules::V2),
            3 => Some(Rules::V3),
            4 => Some(Rules::V4),
            5 => Some(Rules::V5),
            _ => None,
        }
    }

    /// Whether the ceilings, request bounds and address classes apply.
    pub fn bounded(self) -> bool {
        self >= Rules::V2
    }

    /// Whether access tokens and the envelope's principal exist. A build of
    /// an older format knew neither: it read an access-token command as no
    /// command at all and ignored the principal, and so does this one.
    pub fn access_control(self) -> bool {
        self >= Rules::V3
    }

    /// Whether a certificate's private key must arrive sealed with the
    /// cluster's data key (`sealed.rs`) rather than as clear PEM.
    pub fn sealed_keys(self) -> bool {
        self >= Rules::V3
    }

    /// Whether a listener request's `access_log` counts. A build of an
    /// older format knew no such field and decoded it as an unknown one,
    /// dropped: so does this one, and the listener's access log stays off.
    pub fn access_logs(self) -> bool {
        self >= Rules::V4
    }

    /// Whether listeners have forwarding rules. A build of an older format
    /// read `set_listener_rules` as no command at all, and so does this one.
    pub fn forwarding_rules(self) -> bool {
        self >= Rules::V5
    }

    /// Whether a group's persistence, PROXY protocol and passive health
    /// count. A build of an older format dropped these unknown fields, and
    /// so does this one.
    pub fn group_traffic_settings(self) -> bool {
        self >= Rules::V5
    }
}

// Field limits (checked by `validate.rs`, at every log format).

/// Names: 1 to 32 characters.
pub const MAX_NAME_CHARS: usize = 32;
/// Descriptions: at most 256 characters.
pub const MAX_DESCRIPTION_CHARS: usize = 256;
/// Tags per resource.
pub const MAX_TAGS: usize = 50;
/// Characters in a tag key.
pub const MAX_TAG_KEY_CHARS: usize = 128;
/// Characters in a tag value.
pub const MAX_TAG_VALUE_CHARS: usize = 256;
/// Characters in a client token.
pub const MAX_CLIENT_TOKEN_CHARS: usize = 64;
/// The largest connection limit.
pub const MAX_CONNECTION_LIMIT: i64 = 1_000_000;
/// The largest member weight.
pub const MAX_WEIGHT: u32 = 100;
/// The weight of a member that does not name one.
pub const DEFAULT_WEIGHT: u8 = 10;
/// Listener idle timeout bounds and default, in seconds.
pub const MAX_IDLE_TIMEOUT_S: u32 = 4000;
/// The idle timeout of a listener that does not name one.
pub const DEFAULT_IDLE_TIMEOUT_S: u32 = 60;
/// Shortest and longest prefix of a network or subnet.
pub const CIDR_PREFIX_RANGE: std::ops::RangeInclusive<u8> = 8..=30;
/// Characters in a health check path.
pub const MAX_HTTP_PATH_CHARS: usize = 1000;
/// PEM text of a certificate chain or key.
pub const MAX_PEM_BYTES: usize = 64 * 1024;
/// Bytes of a principal (an access token's, or a log entry's sender).
pub const MAX_PRINCIPAL_BYTES: usize = 128;
/// Bytes of an access token's secret hash: a SHA-256.
pub const SECRET_SHA256_BYTES: usize = 32;

/// Defaults and bounds of the settings.
pub mod settings_limits {
    /// A day.
    pub const DEFAULT_CLIENT_TOKEN_RETENTION_MS: u64 = 24 * 60 * 60 * 1000;
    /// A week at most.
    pub const MAX_CLIENT_TOKEN_RETENTION_MS: u64 = 7 * 24 * 60 * 60 * 1000;
    /// Tokens remembered by default.
    pub const DEFAULT_CLIENT_TOKEN_CAPACITY: u32 = 100_000;
    /// Tokens remembered at most.
    pub const MAX_CLIENT_TOKEN_CAPACITY: u32 = 1_000_000;
    /// Revisions of history kept by default.
    pub const DEFAULT_HISTORY_RETENTION_REVISIONS: u64 = 100_000;
    /// Revisions of history kept at most.
    pub const MAX_HISTORY_RETENTION_REVISIONS: u64 = 10_000_000;
}

/// Resources one command may create: ids pack a 16-bit ordinal beside the
/// log index, so this is the id space of one log entry.
pub const MAX_RESOURCES_PER_COMMAND: usize = u16::MAX as usize;

/// Forwarding rules of one listener.
pub const MAX_RULES_PER_LISTENER: usize = 100;

/// Bytes of a forwarding rule's header value (its paths are bounded as a
/// health check's, by `MAX_HTTP_PATH_CHARS`).
pub const MAX_RULE_TEXT_BYTES: usize = 1024;

/// Bytes of a fixed response's body.
pub const MAX_FIXED_RESPONSE_BODY_BYTES: usize = 1024;

/// Members in one group, and so in one request, whatever the quota says.
pub const MAX_MEMBERS_PER_GROUP: u32 = 1000;

// A command creates at most a group and its members: that must fit the id space.
const _: () = assert!((MAX_MEMBERS_PER_GROUP as usize) < MAX_RESOURCES_PER_COMMAND);

/// Blocks in the EIP pool.
pub const MAX_EIP_POOL_BLOCKS: usize = 64;

/// Certificate keys one `ResealCertificateKeys` command seals anew (a node
/// re-sealing more sends several).
pub const MAX_RESEALED_KEYS_PER_COMMAND: usize = 1_000;

/// Access tokens in the cluster (format 3 on). Not a quota: every node
/// holds them all in memory to check bearer tokens locally.
pub const MAX_ACCESS_TOKENS: usize = 10_000;

/// Bytes of event history kept (encoded), besides the retention in revisions:
/// the oldest revisions are compacted first when the history grows past it.
pub const MAX_HISTORY_BYTES: u64 = 128 << 20;

/// The largest value a quota could take under log format 1 (all quotas).
pub const MAX_QUOTA_V1: u32 = 1_000_000;

/// One quota: its default and the ceiling it may not be raised past.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaLimit {
    /// The field's name in `Quotas`.
    pub field: &'static str,
    /// A new cluster's value.
    pub default: u32,
    /// The largest value an operator may set.
    pub ceiling: u32,
}

macro_rules! quota_limits {
    ($($name:ident: $field:literal, default $default:expr, ceiling $ceiling:expr;)*) => {
        /// Defaults and ceilings of every quota.
        pub mod quota {
            use super::QuotaLimit;
            $(
                #[doc = concat!("Quota `", $field, "`.")]
                pub const $name: QuotaLimit = QuotaLimit {
                    field: $field,
                    default: $default,
                    ceiling: $ceiling,
                };
            )*
            /// Every quota, in the order of the `Quotas` message.
            pub const ALL: &[QuotaLimit] = &[$($name),*];
        }
    };
}

quota_limits! {
    LOAD_BALANCERS: "load_balancers", default 1000, ceiling 10_000;
    LISTENERS_PER_LOAD_BALANCER: "listeners_per_load_balancer", default 50, ceiling 200;
    GROUPS_PER_LOAD_BALANCER: "groups_per_load_balancer", default 50, ceiling 200;
    MEMBERS_PER_GROUP: "members_per_group", default 200, ceiling super::MAX_MEMBERS_PER_GROUP;
    NETWORKS: "networks", default 100, ceiling 1000;
    SUBNETS: "subnets", default 1000, ceiling 10_000;
    INSTANCES: "instances", default 10_000, ceiling 100_000;
    EIPS: "eips", default 1000, ceiling 10_000;
    CERTIFICATES: "certificates", default 1000, ceiling 10_000;
}

/// A range of addresses that may never be an EIP nor a member's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForbiddenRange {
    /// The block.
    pub block: Ipv4Net,
    /// What it is, for the refusal's message.
    pub what: &'static str,
}

const fn forbidden(a: u8, b: u8, c: u8, d: u8, prefix: u8, what: &'static str) -> ForbiddenRange {
    ForbiddenRange {
        block: Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix),
        what,
    }
}

/// Addresses that no EIP and no instance may use, on any binder: they are
/// not unicast addresses of a host on a network (169.254.169.254 is the
/// metadata service of most clouds). Loopback is the node's rule: it depends
/// on the binder (see the node's admission checks).
pub const FORBIDDEN_RANGES: [ForbiddenRange; 4] = [
    forbidden(0, 0, 0, 0, 8, "unspecified (0.0.0.0/8)"),
    forbidden(
        169,
        254,
        0,
        0,
        16,
        "link-local (169.254.0.0/16, cloud metadata)",
    ),
    forbidden(224, 0, 0, 0, 4, "multicast (224.0.0.0/4)"),
    forbidden(
        240,
        0,
        0,
        0,
        4,
        "reserved or broadcast (240.0.0.0/4, 255.255.255.255)",
    ),
];

/// The forbidden range that `block` touches, if any.
pub fn forbidden_range_of(block: &Ipv4Net) -> Option<&'static ForbiddenRange> {
    FORBIDDEN_RANGES.iter().find(|range| {
        range.block.contains(&block.network()) || block.contains(&range.block.network())
    })
}

/// The loopback block: EIPs and members may use it only on the loopback binder.
pub const LOOPBACK: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_ranges_catch_the_metadata_service_and_broadcast() {
        let host = |text: &str| Ipv4Net::new(text.parse().expect("address"), 32).expect("prefix");
        assert!(forbidden_range_of(&host("169.254.169.254")).is_some());
        assert!(forbidden_range_of(&host("255.255.255.255")).is_some());
        assert!(forbidden_range_of(&host("0.0.0.0")).is_some());
        assert!(forbidden_range_of(&host("239.1.2.3")).is_some());
        assert!(forbidden_range_of(&host("10.0.1.10")).is_none());
        assert!(forbidden_range_of(&"0.0.0.0/0".parse().expect("cidr")).is_some());
    }

    #[test]
    fn each_format_has_its_rules_and_keeps_those_of_the_one_before() {
        assert_eq!(Rules::of_format(0), None);
        assert_eq!(Rules::of_format(1), Some(Rules::V1));
        assert_eq!(Rules::of_format(3), Some(Rules::V3));
        assert_eq!(Rules::of_format(4), Some(Rules::V4));
        assert_eq!(Rules::of_format(5), Some(Rules::V5));
        assert_eq!(Rules::of_format(6), None);
        assert_eq!(
            Rules::of_format(fulcrum_api::LOG_FORMAT_VERSION),
            Some(Rules::CURRENT)
        );
        let v4 = Rules::V4;
        let v3 = Rules::V3;
        assert_eq!(v4.bounded(), v3.bounded());
        assert_eq!(v4.access_control(), v3.access_control());
        assert_eq!(v4.sealed_keys(), v3.sealed_keys());
        assert!(v4.access_logs());
        assert!(!v3.access_logs() && !Rules::V2.access_logs() && !Rules::V1.access_logs());
        assert!(Rules::V5.access_logs() && Rules::V5.forwarding_rules());
        assert!(Rules::V5.group_traffic_settings());
        assert!(!v4.forwarding_rules() && !v4.group_traffic_settings());
    }

    #[test]
    fn every_quota_default_is_within_its_ceiling() {
        for limit in quota::ALL {
            assert!((1..=limit.ceiling).contains(&limit.default), "{limit:?}");
        }
    }
}
