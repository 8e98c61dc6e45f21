//! The event-history projection: every event at its revision, compacted to a
//! retention window, serving history and watch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::event::{Event, RecordedEvent};
use super::model::Revision;

/// Events by revision, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub(super) events: BTreeMap<Revision, Vec<RecordedEvent>>,
    /// Every revision below this one has been compacted away.
    pub(super) first_kept: Revision,
    /// The encoded size of the kept events: derived, so not stored (a state
    /// read back recounts it, see [`History::recount`]).
    #[serde(skip)]
    pub(super) bytes: u64,
}

/// The encoded size of one revision's events, less one byte per empty
/// principal, one per listener whose access log is off, one per listener
/// without rules and one per absent group setting (persistence, PROXY
/// protocol, passive health): so an event of log formats 1 and 2 (which
/// have no principal), 1 to 3 (whose listeners have no `access_log`) or 1
/// to 4 (no rules, no group settings) counts what the build that wrote it
/// counted, and
/// replaying an older log compacts where that build compacted. Encoding to a
/// counter cannot fail for these types (no maps with non-string keys, no
/// unsized values).
fn encoded_bytes(events: &[RecordedEvent]) -> u64 {
    let size = postcard::serialize_with_flavor(events, postcard::ser_flavors::Size::default())
        .map_or(0, |size: usize| size as u64);
    // An empty string or list encodes as its length, one byte; `false` as one byte.
    let uncounted = events
        .iter()
        .map(|event| {
            let newer_fields_unset = match &event.event {
                Event::ListenerCreated(listener) | Event::ListenerUpdated(listener) => {
                    u64::from(!listener.access_log) + u64::from(listener.rules.is_empty())
                }
                Event::GroupCreated(group) | Event::GroupUpdated(group) => {
                    u64::from(group.persistence.is_none())
                        + u64::from(group.proxy_protocol.is_none())
                        + u64::from(group.passive_health.is_none())
                }
                _ => 0,
            };
            u64::from(event.principal.is_empty()) + newer_fields_unset
        })
        .sum::<u64>();
    size.saturating_sub(uncounted)
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
        self.bytes += encoded_bytes(&events);
        self.events.insert(revision, events);
    }

    /// Counts the kept events' size again (after the history was read back).
    pub(crate) fn recount(&mut self) {
        self.bytes = self
            .events
            .values()
            .map(|events| encoded_bytes(events))
            .sum();
    }

    /// The encoded size of the kept events.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Drops revisions so that at most `retention` remain before `current`
    /// (inclusive) and, when `max_bytes` is given, so that the kept events
    /// encode to at most that many bytes (the newest revision always stays);
    /// answers which revisions it dropped.
    pub(crate) fn compact(
        &mut self,
        current: Revision,
        retention: u64,
        max_bytes: Option<u64>,
    ) -> Vec<Revision> {
        let mut first_kept = current.saturating_sub(retention.saturating_sub(1)).max(1);
        let mut bytes_after = self.bytes
            - self
                .events
                .range(..first_kept)
                .map(|(_, events)| encoded_bytes(events))
                .sum::<u64>();
        if let Some(max_bytes) = max_bytes {
            let mut newer = self.events.range(first_kept..).peekable();
            while bytes_after > max_bytes {
                let (Some((_, events)), Some(&(&next, _))) = (newer.next(), newer.peek()) else {
                    break;
                };
                bytes_after -= encoded_bytes(events);
                first_kept = next;
            }
        }
        if first_kept <= self.first_kept {
            return Vec::new();
        }
        let kept = self.events.split_off(&first_kept);
        let dropped = std::mem::replace(&mut self.events, kept)
            .into_keys()
            .collect();
        self.first_kept = first_kept;
        self.bytes = bytes_after;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::EipId;

    fn events(revision: Revision) -> Vec<RecordedEvent> {
        vec![RecordedEvent {
            revision,
            at_ms: 0,
            event: Event::EipReleased {
                id: EipId::parse("id", "eip-0000000000000").expect("id"),
            },
            principal: String::new(),
        }]
    }

    /// The size formats 1 and 2 counted: postcard of the events without a
    /// principal (the layout of `legacy::RecordedEventV2`).
    #[test]
    fn events_without_a_principal_count_what_format_two_counted() {
        #[derive(serde::Serialize)]
        struct Before<'a> {
            revision: Revision,
            at_ms: i64,
            event: &'a Event,
        }
        let mut recorded = events(7);
        recorded.push(recorded[0].clone());
        let before: Vec<Before<'_>> = recorded
            .iter()
            .map(|event| Before {
                revision: event.revision,
                at_ms: event.at_ms,
                event: &event.event,
            })
            .collect();
        let old_size = postcard::to_stdvec(&before).expect("encode").len() as u64;
        assert_eq!(encoded_bytes(&recorded), old_size);
        recorded[0].principal = "alice".to_owned();
        let new_size = postcard::to_stdvec(&recorded).expect("encode").len() as u64;
        assert_eq!(
            encoded_bytes(&recorded),
            new_size - 1,
            "one empty principal left"
        );
        assert_eq!(encoded_bytes(&recorded), old_size + 1 + 5);
    }

    /// The size format 3 counted for listener events: postcard of the
    /// events whose listeners have no `access_log`.
    #[test]
    fn listener_events_with_the_access_log_off_count_what_format_three_counted() {
        use crate::domain::legacy::before_access_logs::{RecordedEventV3, listener};
        let listener = listener(false);
        let mut recorded = vec![
            RecordedEvent {
                revision: 7,
                at_ms: 0,
                event: Event::ListenerCreated(listener.clone()),
                principal: "alice".to_owned(),
            },
            RecordedEvent {
                revision: 7,
                at_ms: 0,
                event: Event::ListenerUpdated(listener),
                principal: "alice".to_owned(),
            },
        ];
        let before: Vec<RecordedEventV3<'_>> = recorded.iter().map(RecordedEventV3::from).collect();
        let old_size = postcard::to_stdvec(&before).expect("encode").len() as u64;
        assert_eq!(encoded_bytes(&recorded), old_size);
        if let Event::ListenerUpdated(listener) = &mut recorded[1].event {
            listener.access_log = true;
        }
        assert_eq!(encoded_bytes(&recorded), old_size + 1, "one access log on");
    }

    #[test]
    fn history_is_compacted_by_bytes_too_and_keeps_the_newest_revision() {
        let mut history = History::default();
        for revision in 1..=10 {
            history.append(revision, events(revision));
        }
        let per_revision = encoded_bytes(&events(1));
        assert_eq!(history.bytes(), 10 * per_revision);
        // Room for three revisions: the seven oldest go.
        let dropped = history.compact(10, 100, Some(3 * per_revision));
        assert_eq!(dropped, (1..=7).collect::<Vec<_>>());
        assert_eq!(history.first_kept(), 8);
        assert_eq!(history.bytes(), 3 * per_revision);
        // Room for none: the newest revision stays.
        history.compact(10, 100, Some(0));
        assert_eq!(history.revisions_from(0).collect::<Vec<_>>(), [10]);
        let mut read_back = history.clone();
        read_back.bytes = 0;
        read_back.recount();
        assert_eq!(read_back, history);
    }
}
