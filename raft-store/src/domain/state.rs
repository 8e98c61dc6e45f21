//! The replicated state and `apply`, the one entry point of the log into it.

use std::collections::{BTreeMap, BTreeSet};

use fulcrum_api::{LOG_FORMAT_VERSION, v1};
use prost::Message;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::catalog::Catalog;
use super::command::{self, Command};
use super::decide::{Context, decide};
use super::event::{Event, RecordedEvent};
use super::evolve::evolve;
use super::history::History;
use super::ids::AccessTokenId;
use super::limits::{self, Rules};
use super::model::{AccessToken, Revision, SecretHash, Settings};
use super::projection::dataplane::{DataPlaneChanges, DataPlaneConfig, DataPlaneProjection};
use super::projection::eip_ownership::EipOwnership;
use super::records::RecordKey;
use super::rejection::Rejection;
use super::tokens::{Answer, Fingerprint, Recall, Receipt, TokenMemory};
use super::validate;

/// Everything the log has built: settings, catalog (access tokens included),
/// client-token memory and history.
///
/// Invariants (checked by [`State::check_invariants`]):
/// - log indexes applied are strictly increasing; the clock never goes back;
/// - every resource's revision is at most the state's revision;
/// - references resolve: listener → Load Balancer, group, certificate;
///   group → Load Balancer, member → instance; subnet → network; instance → subnet;
/// - an EIP is bound to at most one Load Balancer and the back-references agree;
/// - listener ports, listener names and group names are unique per Load Balancer,
///   Load Balancer names in the cluster, members (instance, port) per group;
/// - access tokens have distinct secret hashes, valid principals, and number
///   at most `MAX_ACCESS_TOKENS`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub(crate) last_log_index: u64,
    pub(crate) revision: Revision,
    pub(crate) clock_ms: i64,
    pub(crate) settings: Settings,
    pub(crate) catalog: Catalog,
    pub(crate) tokens: TokenMemory,
    pub(crate) history: History,
    /// Derived from the catalog: not stored, rebuilt by [`State::rebuild_derived`].
    #[serde(skip)]
    pub(crate) data_plane: DataPlaneProjection,
}

/// The result of applying one log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// What the client is told: the receipt, or why the command was refused.
    pub answer: Answer,
    /// The events this entry appended (none when refused or replayed).
    pub events: Vec<RecordedEvent>,
    /// True when the answer came from the client-token memory.
    pub replayed: bool,
    /// The records this entry changed, for the store to write in one batch.
    pub changed: BTreeSet<RecordKey>,
}

impl Applied {
    fn refused(rejection: Rejection, changed: BTreeSet<RecordKey>) -> Self {
        Self {
            answer: Err(rejection),
            events: Vec::new(),
            replayed: false,
            changed,
        }
    }
}

/// An entry that this build cannot apply. The node must stop: skipping or
/// rejecting it would make this replica diverge from the others.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The entry was written by a newer (or unknown) format.
    #[error(
        "log entry {log_index} has format version {found}; this build applies version {supported}: upgrade this node"
    )]
    UnsupportedFormat {
        /// Where in the log.
        log_index: u64,
        /// The entry's version.
        found: u32,
        /// This build's version.
        supported: u32,
    },
}

impl State {
    /// A state with the given settings, as a new cluster starts.
    pub fn with_settings(settings: Settings) -> Self {
        Self {
            settings,
            ..Self::default()
        }
    }

    /// Applies the envelope at `log_index`. Pure: the same state and entry
    /// always give the same result and the same next state.
    ///
    /// # Panics
    /// When `log_index` does not follow the last one applied: the caller has
    /// broken the log's order, and going on would diverge.
    pub fn apply(
        &mut self,
        log_index: u64,
        envelope: &v1::LogEnvelope,
    ) -> Result<Applied, ApplyError> {
        assert!(
            log_index > self.last_log_index,
            "log index {log_index} applied after {}",
            self.last_log_index
        );
        let Some(rules) = Rules::of_format(envelope.format_version) else {
            return Err(ApplyError::UnsupportedFormat {
                log_index,
                found: envelope.format_version,
                supported: LOG_FORMAT_VERSION,
            });
        };
        self.last_log_index = log_index;
        self.clock_ms = self.clock_ms.max(envelope.accepted_at_unix_ms);
        let mut changed = BTreeSet::from([RecordKey::Meta]);
        changed.extend(self.forget_old_tokens().into_iter().map(RecordKey::Token));

        let token = match validate::client_token(&envelope.client_token) {
            Ok(token) => token,
            Err(rejection) => return Ok(Applied::refused(rejection, changed)),
        };
        let principal = match sender(envelope, rules) {
            Ok(principal) => principal,
            Err(rejection) => return Ok(Applied::refused(rejection, changed)),
        };
        let no_command = v1::Command::default();
        let raw_command = match &envelope.command {
            // A build of an older format decoded the access-token kinds,
            // unknown to it, as no command: such an entry gets its answer.
            Some(command) if rules.access_control() || !is_access_control(command) => command,
            _ => &no_command,
        };
        let fingerprint = token.as_ref().map(|_| fingerprint(raw_command, rules));
        if let (Some(token), Some(fingerprint)) = (&token, &fingerprint) {
            match self.tokens.recall(token, fingerprint) {
                Recall::Unknown => {}
                Recall::Replay(answer) => {
                    return Ok(Applied {
                        answer: answer.clone(),
                        events: Vec::new(),
                        replayed: true,
                        changed,
                    });
                }
                Recall::Conflict => {
                    let rejection = Rejection::invalid(
                        "client_token",
                        format!(
                            "{token:?} was already used for a different request; use a new token for a new request"
                        ),
                    );
                    return Ok(Applied::refused(rejection, changed));
                }
            }
        }

        let (answer, events) = match Command::parse(raw_command, rules) {
            Err(rejection) => (Err(rejection), Vec::new()),
            Ok(command) => {
                self.decide_and_evolve(log_index, rules, &command, principal, &mut changed)
            }
        };
        if let (Some(token), Some(fingerprint)) = (token, fingerprint) {
            changed.insert(RecordKey::Token(token.clone()));
            self.tokens
                .remember(token, fingerprint, self.clock_ms, log_index, answer.clone());
            // Bound by count again: the memory never holds more than its capacity.
            changed.extend(self.forget_old_tokens().into_iter().map(RecordKey::Token));
        }
        Ok(Applied {
            answer,
            events,
            replayed: false,
            changed,
        })
    }

    fn forget_old_tokens(&mut self) -> Vec<String> {
        self.tokens.forget_old(
            self.clock_ms,
            self.settings.client_token_retention_ms,
            self.settings.client_token_capacity,
        )
    }

    fn decide_and_evolve(
        &mut self,
        log_index: u64,
        rules: Rules,
        command: &Command,
        principal: String,
        changed: &mut BTreeSet<RecordKey>,
    ) -> (Answer, Vec<RecordedEvent>) {
        let revision = self.revision + 1;
        let mut context = Context::new(revision, self.clock_ms, log_index, rules);
        let events = match decide(&self.catalog, &self.settings, &mut context, command) {
            Ok(events) => events,
            Err(rejection) => return (Err(rejection), Vec::new()),
        };
        assert!(
            !events.is_empty(),
            "log index {log_index}: an accepted command produced no event"
        );
        let receipt = Receipt {
            revision,
            resource_id: subject_id(command, &events),
        };
        let recorded: Vec<RecordedEvent> = events
            .into_iter()
            .map(|event| RecordedEvent {
                revision,
                at_ms: self.clock_ms,
                event,
                principal: principal.clone(),
            })
            .collect();
        let mut touched = BTreeSet::new();
        for event in &recorded {
            evolve(&mut self.catalog, &mut self.settings, log_index, event);
            touched.extend(event.event.record_keys());
        }
        self.data_plane.update(&self.catalog, revision, &touched);
        changed.append(&mut touched);
        self.revision = revision;
        self.history.append(revision, recorded.clone());
        changed.insert(RecordKey::History(revision));
        let dropped = self.history.compact(
            revision,
            self.settings.history_retention_revisions,
            rules.bounded().then_some(limits::MAX_HISTORY_BYTES),
        );
        changed.extend(dropped.into_iter().map(RecordKey::History));
        (Ok(receipt), recorded)
    }

    /// The last log index applied.
    pub fn last_log_index(&self) -> u64 {
        self.last_log_index
    }

    /// The revision of the last accepted command (0 before any).
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// The log's clock: the latest leader-stamped time applied.
    pub fn clock_ms(&self) -> i64 {
        self.clock_ms
    }

    /// The cluster settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The catalog projection.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The event-history projection.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The client-token memory.
    pub fn tokens(&self) -> &TokenMemory {
        &self.tokens
    }

    /// The access token whose secret has this SHA-256, if any: how a node
    /// checks a bearer token (hash the presented secret, look it up here).
    /// O(log n); a revoked token is not found.
    pub fn access_token_by_secret_hash(&self, secret_sha256: &SecretHash) -> Option<&AccessToken> {
        self.catalog.access_token_by_secret_hash(secret_sha256)
    }

    /// Every access token, by id (for listing, paged by id).
    pub fn access_tokens(&self) -> &BTreeMap<AccessTokenId, AccessToken> {
        self.catalog.access_tokens()
    }

    /// The data-plane configuration at the current revision.
    pub fn data_plane_config(&self) -> DataPlaneConfig {
        self.data_plane.config(self.revision)
    }

    /// The data-plane projection, kept in step with every applied command.
    pub fn data_plane(&self) -> &DataPlaneProjection {
        &self.data_plane
    }

    /// What changed in the data-plane projection after `revision`.
    pub fn data_plane_changes_since(&self, revision: Revision) -> DataPlaneChanges {
        self.data_plane.changes_since(revision)
    }

    /// Rebuilds what is derived from the catalog (its relations and the
    /// data-plane projection) after the state was read back.
    pub(crate) fn rebuild_derived(&mut self) {
        self.catalog.reindex();
        self.data_plane = DataPlaneProjection::rebuild(&self.catalog, self.revision);
    }

    /// The EIP addresses the leader must hold at the current revision.
    pub fn eip_ownership(&self) -> EipOwnership {
        EipOwnership::compile(&self.catalog, self.revision)
    }
}

/// The principal that sent the entry: checked under format 3 (empty means
/// none), and none under older formats, whose builds ignored the field.
fn sender(envelope: &v1::LogEnvelope, rules: Rules) -> Result<String, Rejection> {
    if !rules.access_control() || envelope.principal.is_empty() {
        return Ok(String::new());
    }
    validate::principal("principal", &envelope.principal)
}

/// Whether a command is one of the access-token kinds of format 3.
fn is_access_control(command: &v1::Command) -> bool {
    use v1::command::Kind;
    matches!(
        command.kind,
        Some(
            Kind::IssueAccessToken(_) | Kind::RevokeAccessToken(_) | Kind::ResealCertificateKeys(_)
        )
    )
}

/// Identifies a request for the token memory: the same request always encodes
/// to the same bytes (ordered maps), so equal fingerprints mean equal requests.
/// An access token's issue is identified by the client's request alone, not
/// by the secret's hash, which each attempt generates anew; so is a
/// certificate upload from format 3 on, without its sealed key, which each
/// attempt seals with a fresh nonce (the chain names the key). A listener
/// request before format 4 is identified without `access_log`, and a group
/// request before format 5 without its traffic settings, as the builds of
/// those formats, which knew no such fields, dropped them.
fn fingerprint(command: &v1::Command, rules: Rules) -> Fingerprint {
    use v1::command::Kind;
    let encode = |kind: Kind| v1::Command { kind: Some(kind) }.encode_to_vec();
    let encoded = match &command.kind {
        Some(Kind::IssueAccessToken(issue)) => command::fingerprinted(issue).encode_to_vec(),
        Some(Kind::UploadCertificate(upload)) if rules.sealed_keys() => {
            encode(Kind::UploadCertificate(v1::UploadCertificateRequest {
                private_key: String::new(),
                ..upload.clone()
            }))
        }
        Some(Kind::CreateListener(create)) if !rules.access_logs() => {
            encode(Kind::CreateListener(v1::CreateListenerRequest {
                access_log: None,
                ..create.clone()
            }))
        }
        Some(Kind::CreateGroup(create)) if !rules.group_traffic_settings() => {
            encode(Kind::CreateGroup(v1::CreateGroupRequest {
                persistence: None,
                proxy_protocol: 0,
                passive_health: None,
                ..create.clone()
            }))
        }
        Some(Kind::UpdateGroup(update)) if !rules.group_traffic_settings() => {
            encode(Kind::UpdateGroup(v1::UpdateGroupRequest {
                persistence: None,
                proxy_protocol: None,
                passive_health: None,
                clear_passive_health: false,
                ..update.clone()
            }))
        }
        Some(Kind::UpdateListener(update)) if !rules.access_logs() => {
            encode(Kind::UpdateListener(v1::UpdateListenerRequest {
                access_log: None,
                ..update.clone()
            }))
        }
        _ => command.encode_to_vec(),
    };
    let digest = Sha256::digest(encoded);
    let mut fingerprint = [0u8; 16];
    fingerprint.copy_from_slice(&digest[..16]);
    fingerprint
}

/// The resource a command is about: the one it created, or its target.
fn subject_id(command: &Command, events: &[Event]) -> String {
    let target: Option<&str> = match command {
        Command::DeleteNetwork(target) => Some(target.id.as_str()),
        Command::DeleteSubnet(target) => Some(target.id.as_str()),
        Command::DeleteInstance(target) => Some(target.id.as_str()),
        Command::ReleaseEip(target) => Some(target.id.as_str()),
        Command::UpdateLoadBalancer(update) => Some(update.id.as_str()),
        Command::DeleteLoadBalancer(target) => Some(target.id.as_str()),
        Command::AssociateEip {
            load_balancer_id, ..
        }
        | Command::DisassociateEip { load_balancer_id } => Some(load_balancer_id.as_str()),
        Command::UpdateListener(update) => Some(update.id.as_str()),
        Command::SetListenerRules { listener_id, .. } => Some(listener_id.as_str()),
        Command::DeleteListener(target) => Some(target.id.as_str()),
        Command::UpdateGroup(update) => Some(update.id.as_str()),
        Command::DeleteGroup(target) => Some(target.id.as_str()),
        Command::UpdateMember { member_id, .. } | Command::RemoveMember { member_id, .. } => {
            Some(member_id.as_str())
        }
        Command::ReplaceMembers { group_id, .. } => Some(group_id.as_str()),
        Command::DeleteCertificate(target) => Some(target.id.as_str()),
        Command::UpdateSettings(_) => Some(""),
        Command::RevokeAccessToken(target) => Some(target.id.as_str()),
        Command::ResealCertificateKeys(_) => Some(""),
        Command::CreateNetwork { .. }
        | Command::CreateSubnet { .. }
        | Command::CreateInstance { .. }
        | Command::AllocateEip { .. }
        | Command::CreateLoadBalancer(_)
        | Command::CreateListener(_)
        | Command::CreateGroup(_)
        | Command::AddMember { .. }
        | Command::UploadCertificate(_)
        | Command::IssueAccessToken(_) => None,
    };
    match target {
        Some(id) => id.to_owned(),
        // Creations produce exactly one event, about the new resource.
        None => events
            .first()
            .map(|event| event.resource_id().to_owned())
            .unwrap_or_default(),
    }
}
