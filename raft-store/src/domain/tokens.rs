//! Client-token memory: a retried command is answered from memory and applied once.
//!
//! Bounded by count and by age, both measured on the leader-stamped clock of
//! the log, so every replica forgets the same tokens at the same log position.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::Revision;
use super::rejection::Rejection;

/// What an accepted command answered: enough to answer a retry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The revision at which it was applied.
    pub revision: Revision,
    /// The id of the resource it created or changed (empty for settings).
    pub resource_id: String,
}

/// How a command was answered.
pub type Answer = Result<Receipt, Rejection>;

/// The bytes that identify a request: SHA-256 of its encoding, first 16 bytes.
pub(crate) type Fingerprint = [u8; 16];

/// One token's entry: which request it was, when, and the first answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Remembered {
    pub(super) fingerprint: Fingerprint,
    pub(super) accepted_at_ms: i64,
    pub(super) log_index: u64,
    pub(super) answer: Answer,
}

/// Tokens and the first answer given for each.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenMemory {
    pub(super) by_token: BTreeMap<String, Remembered>,
    /// Oldest first: (accepted_at_ms, log_index) orders by age, ties broken by log position.
    pub(super) by_age: BTreeMap<(i64, u64), String>,
}

/// What the memory says of a token.
#[derive(Debug, PartialEq, Eq)]
pub enum Recall<'a> {
    /// Never seen (or forgotten).
    Unknown,
    /// Seen with the same request: here is the first answer.
    Replay(&'a Answer),
    /// Seen with a different request.
    Conflict,
}

impl TokenMemory {
    /// What the memory holds for `token` with a request of `fingerprint`.
    pub fn recall(&self, token: &str, fingerprint: &Fingerprint) -> Recall<'_> {
        match self.by_token.get(token) {
            None => Recall::Unknown,
            Some(remembered) if &remembered.fingerprint == fingerprint => {
                Recall::Replay(&remembered.answer)
            }
            Some(_) => Recall::Conflict,
        }
    }

    /// Remembers the first answer given to `token`.
    pub(crate) fn remember(
        &mut self,
        token: String,
        fingerprint: Fingerprint,
        now_ms: i64,
        log_index: u64,
        answer: Answer,
    ) {
        self.by_age.insert((now_ms, log_index), token.clone());
        let previous = self.by_token.insert(
            token,
            Remembered {
                fingerprint,
                accepted_at_ms: now_ms,
                log_index,
                answer,
            },
        );
        assert!(previous.is_none(), "a remembered token was answered twice");
    }

    /// Forgets tokens older than `retention_ms` and the oldest beyond
    /// `capacity`, and answers which it forgot.
    pub(crate) fn forget_old(
        &mut self,
        now_ms: i64,
        retention_ms: u64,
        capacity: u32,
    ) -> Vec<String> {
        let oldest_kept = now_ms.saturating_sub(i64::try_from(retention_ms).unwrap_or(i64::MAX));
        let mut forgotten = Vec::new();
        while let Some((&(accepted_at_ms, log_index), _)) = self.by_age.first_key_value() {
            if accepted_at_ms >= oldest_kept && self.by_age.len() <= capacity as usize {
                break;
            }
            if let Some(token) = self.by_age.remove(&(accepted_at_ms, log_index)) {
                self.by_token.remove(&token);
                forgotten.push(token);
            }
        }
        forgotten
    }

    /// Puts back an entry read from storage.
    pub(super) fn restore(&mut self, token: String, remembered: Remembered) {
        self.by_age.insert(
            (remembered.accepted_at_ms, remembered.log_index),
            token.clone(),
        );
        self.by_token.insert(token, remembered);
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }

    pub(crate) fn check_consistent(&self) -> Result<(), String> {
        if self.by_token.len() != self.by_age.len() {
            return Err(format!(
                "token memory: {} tokens but {} age entries",
                self.by_token.len(),
                self.by_age.len()
            ));
        }
        for ((accepted_at_ms, log_index), token) in &self.by_age {
            match self.by_token.get(token) {
                Some(remembered)
                    if remembered.accepted_at_ms == *accepted_at_ms
                        && remembered.log_index == *log_index => {}
                _ => {
                    return Err(format!(
                        "token memory: age entry for {token:?} does not match"
                    ));
                }
            }
        }
        Ok(())
    }
}
