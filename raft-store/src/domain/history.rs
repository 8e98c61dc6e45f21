//! The event-history projection: every event at its revision, compacted to a
//! retention window, serving history and watch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::event::RecordedEvent;
use super::model::Revision;

/// Events by revision, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub(super) events: BTreeMap<Revision, Vec<RecordedEvent>>,
    /// Every revision below this one has been compacted away.
    pub(super) first_kept: Revision,
}

/// A request for history older than what is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("revision {asked} has been compacted; the oldest kept is {first_kept}")]
pub struct Compacted {
    /// The revision asked for.
    pub asked: Revision,
    /// The oldest revision still kept.
    pub first_kept: Revision,
}

impl History {
    pub(crate) fn append(&mut self, revision: Revision, events: Vec<RecordedEvent>) {
        if let Some((&last, _)) = self.events.last_key_value() {
            assert!(revision > last, "history: revision {revision} after {last}");
        }
        self.events.insert(revision, events);
    }

    /// Drops revisions so that at most `retention` remain before `current`
    /// (inclusive), and answers which revisions it dropped.
    pub(crate) fn compact(&mut self, current: Revision, retention: u64) -> Vec<Revision> {
        let first_kept = current.saturating_sub(retention.saturating_sub(1)).max(1);
        if first_kept <= self.first_kept {
            return Vec::new();
        }
        let kept = self.events.split_off(&first_kept);
        let dropped = std::mem::replace(&mut self.events, kept)
            .into_keys()
            .collect();
        self.first_kept = first_kept;
        dropped
    }

    /// The oldest revision whose events are still kept (0 before any compaction).
    pub fn first_kept(&self) -> Revision {
        self.first_kept
    }

    /// Events from `from` on (0: the oldest kept), at most `limit` revisions'
    /// worth, those matching `filter` only.
    pub fn read(
        &self,
        from: Revision,
        limit: usize,
        filter: impl Fn(&RecordedEvent) -> bool,
    ) -> Result<Vec<&RecordedEvent>, Compacted> {
        if from != 0 && from < self.first_kept {
            return Err(Compacted {
                asked: from,
                first_kept: self.first_kept,
            });
        }
        Ok(self
            .events
            .range(from..)
            .take(limit)
            .flat_map(|(_, events)| events.iter())
            .filter(|event| filter(event))
            .collect())
    }

    /// The kept revisions from `from` on, in order.
    pub fn revisions_from(&self, from: Revision) -> impl Iterator<Item = Revision> + '_ {
        self.events.range(from..).map(|(revision, _)| *revision)
    }

    /// Every kept revision in order with its events.
    pub fn revisions(&self) -> impl Iterator<Item = (&Revision, &Vec<RecordedEvent>)> {
        self.events.iter()
    }
}
