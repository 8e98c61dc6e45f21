//! The Raft log on RocksDB: entries by index, the vote, the committed log id
//! and the last purged log id, each value checksummed.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use fulcrum_api::internal::v1 as internal;
use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader};
use prost::Message;
use rocksdb::{ColumnFamily, DB, Direction, IteratorMode, WriteBatch, WriteOptions};

use super::codec::{
    decode_message, entry_from_wire, entry_to_wire, frame, log_id_from_wire, log_id_to_wire,
    unframe, vote_from_wire, vote_to_wire,
};
use super::flusher::Flusher;
use super::store::{CF_RAFT_LOG, CF_RAFT_META, StoreMetrics, family, storage_error};
use super::types::{Entry, LogId, TypeConfig, Vote};

const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
const KEY_LAST_PURGED: &[u8] = b"last_purged";
/// Sorts after every 8-byte index key: the end of a range delete to the log's end.
const PAST_LAST_KEY: [u8; 9] = [0xff; 9];

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn index_of(key: &[u8]) -> io::Result<u64> {
    <[u8; 8]>::try_from(key)
        .map(u64::from_be_bytes)
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("malformed log key {key:02x?}"),
            )
        })
}

/// The log store. Clones share the database and the sync thread.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    flusher: Flusher,
    metrics: Arc<StoreMetrics>,
}

impl LogStore {
    pub(crate) fn new(db: Arc<DB>, flusher: Flusher, metrics: Arc<StoreMetrics>) -> Self {
        Self {
            db,
            flusher,
            metrics,
        }
    }

    fn family(&self, name: &str) -> io::Result<&ColumnFamily> {
        family(&self.db, name)
    }

    fn read_meta<M: Message + Default>(&self, key: &[u8]) -> io::Result<Option<M>> {
        let meta = self.family(CF_RAFT_META)?;
        match self
            .db
            .get_cf(meta, key)
            .map_err(|error| storage_error("reading Raft metadata", error))?
        {
            None => Ok(None),
            Some(value) => {
                let payload = unframe(CF_RAFT_META, key, &value)?;
                decode_message(std::str::from_utf8(key).unwrap_or("raft metadata"), payload)
                    .map(Some)
            }
        }
    }

    fn decode_entry(key: &[u8], value: &[u8]) -> io::Result<Entry> {
        let payload = unframe(CF_RAFT_LOG, key, value)?;
        entry_from_wire(decode_message("log entry", payload)?)
    }

    fn last_entry_log_id(&self) -> io::Result<Option<LogId>> {
        let log = self.family(CF_RAFT_LOG)?;
        match self.db.iterator_cf(log, IteratorMode::End).next() {
            None => Ok(None),
            Some(item) => {
                let (key, value) = item.map_err(|error| storage_error("reading the log", error))?;
                Ok(Some(Self::decode_entry(&key, &value)?.log_id))
            }
        }
    }

    fn write(&self, batch: WriteBatch) -> io::Result<()> {
        let mut options = WriteOptions::default();
        // Durability comes from the sync thread, never from a tokio worker.
        options.set_sync(false);
        self.db
            .write_opt(batch, &options)
            .map_err(|error| storage_error("writing the log", error))
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> io::Result<Vec<Entry>> {
        let start = match range.start_bound() {
            Bound::Included(index) => *index,
            Bound::Excluded(index) => index.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let log = self.family(CF_RAFT_LOG)?;
        let mut entries = Vec::new();
        for item in self.db.iterator_cf(
            log,
            IteratorMode::From(&index_key(start), Direction::Forward),
        ) {
            let (key, value) = item.map_err(|error| storage_error("reading the log", error))?;
            if !range.contains(&index_of(&key)?) {
                break;
            }
            entries.push(Self::decode_entry(&key, &value)?);
        }
        Ok(entries)
    }

    async fn read_vote(&mut self) -> io::Result<Option<Vote>> {
        Ok(self
            .read_meta::<internal::RaftVote>(KEY_VOTE)?
            .as_ref()
            .map(vote_from_wire))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> io::Result<LogState<TypeConfig>> {
        let last_purged_log_id = self
            .read_meta::<internal::RaftLogId>(KEY_LAST_PURGED)?
            .as_ref()
            .map(log_id_from_wire);
        let last_log_id = self.last_entry_log_id()?.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> io::Result<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.family(CF_RAFT_META)?,
            KEY_VOTE,
            frame(&vote_to_wire(vote).encode_to_vec()),
        );
        self.write(batch)?;
        self.flusher.sync().await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> io::Result<()> {
        let mut batch = WriteBatch::default();
        let meta = self.family(CF_RAFT_META)?;
        match committed {
            Some(log_id) => batch.put_cf(
                meta,
                KEY_COMMITTED,
                frame(&log_id_to_wire(&log_id).encode_to_vec()),
            ),
            None => batch.delete_cf(meta, KEY_COMMITTED),
        }
        self.write(batch)
    }

    async fn read_committed(&mut self) -> io::Result<Option<LogId>> {
        Ok(self
            .read_meta::<internal::RaftLogId>(KEY_COMMITTED)?
            .as_ref()
            .map(log_id_from_wire))
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> io::Result<()>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let log = self.family(CF_RAFT_LOG)?;
        let mut batch = WriteBatch::default();
        let mut count = 0;
        for entry in entries {
            batch.put_cf(
                log,
                index_key(entry.log_id.index),
                frame(&entry_to_wire(&entry).encode_to_vec()),
            );
            count += 1;
        }
        self.write(batch)?;
        self.metrics.appends.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .entries_appended
            .fetch_add(count, Ordering::Relaxed);
        self.flusher.complete_when_durable(callback).await
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> io::Result<()> {
        let from = last_log_id.map_or(0, |log_id| log_id.index + 1);
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(
            self.family(CF_RAFT_LOG)?,
            index_key(from).as_slice(),
            PAST_LAST_KEY.as_slice(),
        );
        self.write(batch)?;
        self.flusher.sync().await
    }

    async fn purge(&mut self, log_id: LogId) -> io::Result<()> {
        // One batch: the purge mark and the deletion land together, so the
        // log never shows a hole.
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.family(CF_RAFT_META)?,
            KEY_LAST_PURGED,
            frame(&log_id_to_wire(&log_id).encode_to_vec()),
        );
        batch.delete_range_cf(
            self.family(CF_RAFT_LOG)?,
            index_key(0),
            index_key(log_id.index + 1),
        );
        self.write(batch)
    }
}
