//! The domain: commands → events → projections, pure and deterministic.
//!
//! No IO, no clock, no randomness, no openraft type, ordered maps only. The
//! log feeds [`State::apply`] one envelope at a time; `decide` checks the
//! command against the state at that log position and answers with events or
//! a [`Rejection`]; `evolve` applies the events. Time comes from the leader's
//! stamp in the envelope; ids come from the log index.

mod catalog;
pub mod certificate;
mod command;
mod decide;
mod event;
mod evolve;
mod history;
mod ids;
mod invariants;
mod legacy;
pub mod limits;
mod model;
pub mod projection;
mod records;
mod rejection;
mod relations;
pub mod sealed;
mod snapshot;
mod state;
mod tokens;
pub mod validate;
pub mod wire;

pub use catalog::Catalog;
pub use command::{
    Command, DEFAULT_FIXED_RESPONSE_CONTENT_TYPE, DEFAULT_MAX_EJECTED_PERCENT,
    DEFAULT_REDIRECT_STATUS, IssueAccessToken, health_check_defaults,
};
pub use event::{Event, RecordedEvent};
pub use history::{Compacted, History};
pub use ids::{
    AccessTokenId, CertificateId, EipId, GroupId, InstanceId, ListenerId, LoadBalancerId, MemberId,
    NetworkId, SubnetId,
};
pub use model::*;
pub use records::{RecordError, RecordKey};
pub use rejection::{Rejection, RejectionKind};
pub use snapshot::{SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAGIC, SnapshotError};
pub use state::{Applied, ApplyError, State};
pub use tokens::{Answer, Receipt, TokenMemory};
