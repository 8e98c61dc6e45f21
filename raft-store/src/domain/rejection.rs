//! Rejections: the answer to a command that breaks a rule.
//!
//! A rejection is a result returned to the client, never a storage error. Its
//! kind says what the caller can do about it and maps one-to-one onto the gRPC
//! status codes of the resource model; its message names the field and the rule.

use serde::{Deserialize, Serialize};

/// What kind of rule a command broke, sorted by what the caller can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RejectionKind {
    /// A field fails validation: fix the request. gRPC `INVALID_ARGUMENT`.
    InvalidArgument,
    /// A named resource does not exist. gRPC `NOT_FOUND`.
    NotFound,
    /// A duplicate port, member or name. gRPC `ALREADY_EXISTS`.
    AlreadyExists,
    /// Dependents exist, a field is immutable, an EIP is already bound, or
    /// delete protection is on: change the state first. gRPC `FAILED_PRECONDITION`.
    FailedPrecondition,
    /// A quota is exceeded. gRPC `RESOURCE_EXHAUSTED`.
    ResourceExhausted,
    /// The expected revision does not match: read again and retry. gRPC `ABORTED`.
    Aborted,
}

/// A command refused by a rule, with a message a user can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    /// What kind of rule was broken.
    pub kind: RejectionKind,
    /// The request field at fault, when one is (`listener.port`, `members[2].weight`).
    pub field: Option<String>,
    /// The whole explanation, starting with the field when there is one.
    pub message: String,
}

impl Rejection {
    fn new(kind: RejectionKind, field: Option<&str>, rule: impl std::fmt::Display) -> Self {
        let message = match field {
            Some(field) => format!("{field}: {rule}"),
            None => rule.to_string(),
        };
        Self {
            kind,
            field: field.map(str::to_owned),
            message,
        }
    }

    /// `field` fails validation; `rule` says how.
    pub fn invalid(field: &str, rule: impl std::fmt::Display) -> Self {
        Self::new(RejectionKind::InvalidArgument, Some(field), rule)
    }

    /// The resource named in `field` does not exist.
    pub fn not_found(field: &str, noun: &str, id: impl std::fmt::Display) -> Self {
        Self::new(
            RejectionKind::NotFound,
            Some(field),
            format!("{noun} {id} does not exist"),
        )
    }

    /// `field` duplicates something that must be unique.
    pub fn already_exists(field: &str, rule: impl std::fmt::Display) -> Self {
        Self::new(RejectionKind::AlreadyExists, Some(field), rule)
    }

    /// The state does not allow the command, whatever its fields.
    pub fn precondition(field: Option<&str>, rule: impl std::fmt::Display) -> Self {
        Self::new(RejectionKind::FailedPrecondition, field, rule)
    }

    /// A quota would be exceeded.
    pub fn exhausted(rule: impl std::fmt::Display) -> Self {
        Self::new(RejectionKind::ResourceExhausted, None, rule)
    }

    /// The resource is not at the revision the client expected.
    pub fn aborted(noun: &str, id: impl std::fmt::Display, expected: u64, actual: u64) -> Self {
        Self::new(
            RejectionKind::Aborted,
            Some("expected_revision"),
            format!("{noun} {id} is at revision {actual}, not {expected}: read it again and retry"),
        )
    }
}
