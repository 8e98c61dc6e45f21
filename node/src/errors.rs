//! One place that turns what can go wrong into gRPC statuses, with the codes
//! the resource model names.

use fulcrum_raft_store::domain::{Rejection, RejectionKind};
use tonic::{Code, Status};

/// The status for a command or read refused by a domain rule.
pub fn rejection_status(rejection: &Rejection) -> Status {
    let code = match rejection.kind {
        RejectionKind::InvalidArgument => Code::InvalidArgument,
        RejectionKind::NotFound => Code::NotFound,
        RejectionKind::AlreadyExists => Code::AlreadyExists,
        RejectionKind::FailedPrecondition => Code::FailedPrecondition,
        RejectionKind::ResourceExhausted => Code::ResourceExhausted,
        RejectionKind::Aborted => Code::Aborted,
    };
    Status::new(code, rejection.message.clone())
}

/// No leader, or no quorum, could be reached before the deadline. Nothing was
/// applied on behalf of this call that a retry with the same token would repeat.
pub fn no_leader(detail: impl std::fmt::Display) -> Status {
    Status::unavailable(format!(
        "no leader could take the request ({detail}); it is safe to retry with the same client_token"
    ))
}

/// The command was handed to the leader but its outcome is not known.
pub fn outcome_unknown(detail: impl std::fmt::Display) -> Status {
    Status::deadline_exceeded(format!(
        "the deadline passed after the command was sent ({detail}); it may or may not have \
         been applied: retry with the same client_token to learn its outcome"
    ))
}

/// A field of a request that never reaches the log (reads, cluster
/// administration) is wrong.
pub fn invalid(field: &str, rule: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {rule}"))
}
