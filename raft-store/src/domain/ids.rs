//! Resource ids: opaque strings with a type prefix, derived from the log position.
//!
//! Every replica assigns the same id because the id is a pure function of the
//! log index of the command that created the resource and of the resource's
//! ordinal within that command. The function is a bijection on `u64`, so two
//! positions never share an id, while the ids look opaque to users (they do
//! not invite anyone to parse an order out of them).

use serde::{Deserialize, Serialize};

use super::rejection::Rejection;

/// Where in the log a resource was created: the seed of its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IdSeed {
    /// The log index of the command that creates the resource.
    pub(crate) log_index: u64,
    /// The resource's place among those that the command creates.
    pub(crate) ordinal: u16,
}

/// Lowercase Crockford base32: no `i`, `l`, `o` or `u`, so ids read aloud well.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// 13 base32 digits hold 65 bits: every `u64` fits.
const ID_DIGITS: usize = 13;
/// The log indexes that ids can be derived from (48 bits, 2.8e14 entries).
const MAX_LOG_INDEX: u64 = (1 << 48) - 1;

impl IdSeed {
    fn encode(self) -> String {
        assert!(
            self.log_index <= MAX_LOG_INDEX,
            "log index {} is beyond what ids can encode",
            self.log_index
        );
        let mut value = scramble((self.log_index << 16) | u64::from(self.ordinal));
        let mut digits = [0u8; ID_DIGITS];
        for digit in digits.iter_mut().rev() {
            *digit = ALPHABET[(value & 31) as usize];
            value >>= 5;
        }
        digits.iter().map(|&digit| char::from(digit)).collect()
    }
}

/// A fixed bijection on `u64` (the splitmix64 finaliser: each step is invertible).
fn scramble(mut value: u64) -> u64 {
    value ^= value >> 30;
    value = value.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value ^= value >> 27;
    value = value.wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

macro_rules! resource_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $noun:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(String);

        impl $name {
            /// What every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;
            /// What users call this kind of resource, in messages.
            pub const NOUN: &'static str = $noun;

            pub(crate) fn derive(seed: IdSeed) -> Self {
                Self(format!("{}-{}", Self::PREFIX, seed.encode()))
            }

            /// Reads an id a client sent in `field`; it must be present and have this kind's prefix.
            pub fn parse(field: &str, raw: &str) -> Result<Self, Rejection> {
                if raw.is_empty() {
                    return Err(Rejection::invalid(
                        field,
                        format!("is required: the id of a {}", Self::NOUN),
                    ));
                }
                match raw.strip_prefix(Self::PREFIX).and_then(|rest| rest.strip_prefix('-')) {
                    Some(rest) if !rest.is_empty() && rest.len() <= 64 => Ok(Self(raw.to_owned())),
                    _ => Err(Rejection::invalid(
                        field,
                        format!(
                            "{raw:?} is not a {} id ({} ids start with \"{}-\")",
                            Self::NOUN,
                            Self::NOUN,
                            Self::PREFIX
                        ),
                    )),
                }
            }

            /// Like [`Self::parse`], but an empty string means "none".
            pub fn parse_optional(field: &str, raw: &str) -> Result<Option<Self>, Rejection> {
                if raw.is_empty() { Ok(None) } else { Self::parse(field, raw).map(Some) }
            }

            /// The id as the API shows it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

resource_id!(
    /// Identifies a [`super::model::Network`].
    NetworkId, "net", "network"
);
resource_id!(
    /// Identifies a [`super::model::Subnet`].
    SubnetId, "subnet", "subnet"
);
resource_id!(
    /// Identifies an [`super::model::Instance`].
    InstanceId, "ins", "instance"
);
resource_id!(
    /// Identifies an [`super::model::Eip`].
    EipId, "eip", "EIP"
);
resource_id!(
    /// Identifies a [`super::model::LoadBalancer`].
    LoadBalancerId, "lb", "load balancer"
);
resource_id!(
    /// Identifies a [`super::model::Listener`].
    ListenerId, "lsn", "listener"
);
resource_id!(
    /// Identifies a [`super::model::Group`].
    GroupId, "vsg", "virtual server group"
);
resource_id!(
    /// Identifies a [`super::model::Member`].
    MemberId, "mbr", "member"
);
resource_id!(
    /// Identifies a [`super::model::Certificate`].
    CertificateId, "cert", "certificate"
);
resource_id!(
    /// Identifies a [`super::model::AccessToken`].
    AccessTokenId, "tok", "access token"
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ids_are_distinct_across_positions_and_ordinals() {
        let mut seen = BTreeSet::new();
        for log_index in 1..2_000 {
            for ordinal in 0..8 {
                let id = LoadBalancerId::derive(IdSeed { log_index, ordinal });
                assert!(seen.insert(id.clone()), "{id} derived twice");
                assert_eq!(id.as_str().len(), "lb-".len() + ID_DIGITS);
            }
        }
    }

    #[test]
    fn parse_checks_the_prefix_and_names_the_field() {
        assert!(LoadBalancerId::parse("load_balancer_id", "lb-abc").is_ok());
        let error = LoadBalancerId::parse("load_balancer_id", "lsn-abc").unwrap_err();
        assert!(
            error.message.contains("load_balancer_id"),
            "{}",
            error.message
        );
        let error = LoadBalancerId::parse("load_balancer_id", "").unwrap_err();
        assert!(error.message.contains("is required"), "{}", error.message);
        assert!(LoadBalancerId::parse("id", "lb-").is_err());
    }
}
