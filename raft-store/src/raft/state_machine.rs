//! The state machine on RocksDB: applies entries through the domain, writes
//! the changed records, the applied log id and the membership in one batch,
//! and builds and installs snapshots as files. A snapshot is built from a
//! RocksDB snapshot of those records, off the apply path: the state in
//! memory is neither locked nor copied for it.
//!
//! Snapshot file: `FULCRUMR` magic (8 bytes), the Raft snapshot meta framed
//! with its checksum and length-prefixed (u32 LE), then the domain's own
//! snapshot bytes (which carry their own version and checksum), streamed
//! both ways so that no copy of the whole snapshot is held in memory.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use fulcrum_api::internal::v1 as internal;
use futures::{Stream, StreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use prost::Message;
use rocksdb::{DB, IteratorMode, WriteBatch, WriteOptions};

use crate::domain::{RecordKey, State};

use super::codec::{
    decode_message, frame, log_id_from_wire, log_id_to_wire, snapshot_meta_from_wire,
    snapshot_meta_to_wire, stored_membership_from_wire, stored_membership_to_wire, unframe,
};
use super::flusher::Flusher;
use super::store::{CF_SM_META, CF_SM_RECORDS, StoreMetrics, family, storage_error};
use super::types::{LogId, Response, SnapshotMeta, StoredMembership, TypeConfig};

const KEY_APPLIED: &[u8] = b"applied";
const KEY_MEMBERSHIP: &[u8] = b"membership";
const KEY_SNAPSHOT: &[u8] = b"snapshot";
const SNAPSHOT_FILE_MAGIC: [u8; 8] = *b"FULCRUMR";
/// The largest snapshot meta accepted in a file.
const MAX_SNAPSHOT_META_BYTES: u32 = 1 << 20;

/// The state, shared with readers (the API) while the state machine applies.
pub type SharedState = Arc<RwLock<State>>;

/// A snapshot as a file on disk: built here, or received from the leader.
#[derive(Debug)]
pub struct SnapshotFile {
    /// Where the file is.
    pub path: PathBuf,
}

/// The state machine.
pub struct StateMachine {
    db: Arc<DB>,
    snapshot_directory: PathBuf,
    flusher: Flusher,
    state: SharedState,
    applied: Option<LogId>,
    membership: StoredMembership,
    metrics: Arc<StoreMetrics>,
    /// The last applied log index, for whoever waits on one (0: none yet).
    applied_index: tokio::sync::watch::Sender<u64>,
}

/// Builds a snapshot from a RocksDB snapshot of the state machine's
/// records, taken when the builder is made: the state held in memory is
/// neither locked nor copied, and entries go on being applied while the
/// file is written (on a blocking thread that holds the RocksDB snapshot).
pub struct SnapshotBuilder {
    db: Arc<DB>,
    flusher: Flusher,
    metrics: Arc<StoreMetrics>,
    snapshot_directory: PathBuf,
    /// When the builder was made (the build's duration counts from it).
    started: std::time::Instant,
    /// The file written from the RocksDB snapshot: its path and meta.
    written: tokio::sync::oneshot::Receiver<io::Result<(PathBuf, SnapshotMeta)>>,
}

/// Reads one metadata value through `get` (the database, or a RocksDB
/// snapshot of it).
fn read_meta<M: Message + Default>(
    get: impl Fn(&[u8]) -> Result<Option<Vec<u8>>, rocksdb::Error>,
    key: &[u8],
) -> io::Result<Option<M>> {
    match get(key).map_err(|error| storage_error("reading state machine metadata", error))? {
        None => Ok(None),
        Some(value) => {
            decode_message("state machine metadata", unframe(CF_SM_META, key, &value)?).map(Some)
        }
    }
}

/// The applied log id and the membership, read through `get`.
fn read_position(
    get: impl Fn(&[u8]) -> Result<Option<Vec<u8>>, rocksdb::Error>,
) -> io::Result<(Option<LogId>, StoredMembership)> {
    let applied = read_meta::<internal::RaftLogId>(&get, KEY_APPLIED)?
        .as_ref()
        .map(log_id_from_wire);
    let membership = match read_meta::<internal::RaftStoredMembership>(&get, KEY_MEMBERSHIP)? {
        Some(stored) => stored_membership_from_wire(&stored)?,
        None => StoredMembership::default(),
    };
    Ok((applied, membership))
}

/// A stored record: its key, and its value unframed.
type Record = (Box<[u8]>, Vec<u8>);

/// Every record of the state machine, through `records` (an iterator of
/// the database or of a RocksDB snapshot), unframed.
fn read_records(
    records: impl Iterator<Item = Result<(Box<[u8]>, Box<[u8]>), rocksdb::Error>>,
) -> io::Result<Vec<Record>> {
    records
        .map(|item| {
            let (key, value) =
                item.map_err(|error| storage_error("reading the state machine", error))?;
            let payload = unframe(CF_SM_RECORDS, &key, &value)?.to_vec();
            Ok((key, payload))
        })
        .collect()
}

/// Writes the snapshot file of what `db` held when `taken` is told: the
/// records, the applied log id and the membership are read from one RocksDB
/// snapshot, which the apply path writes in one batch, so they agree.
/// Answers the file's path and meta.
fn write_snapshot_of_store(
    db: &DB,
    directory: &Path,
    taken: tokio::sync::oneshot::Sender<()>,
) -> io::Result<(PathBuf, SnapshotMeta)> {
    let (records_family, meta_family) = (family(db, CF_SM_RECORDS)?, family(db, CF_SM_META)?);
    let snapshot = db.snapshot();
    let _ = taken.send(());
    let (last_log_id, last_membership) = read_position(|key| snapshot.get_cf(meta_family, key))?;
    let records = read_records(snapshot.iterator_cf(records_family, IteratorMode::Start))?;
    drop(snapshot);
    let state = State::stored_from_records(records)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
    let meta = SnapshotMeta {
        last_log_id,
        last_membership,
    };
    let path = directory.join(snapshot_file_name(&meta));
    write_snapshot_file(&path, &meta, &state)?;
    Ok((path, meta))
}

fn snapshot_file_name(meta: &SnapshotMeta) -> String {
    match &meta.last_log_id {
        Some(log_id) => format!(
            "snapshot-{}-{}-{}.snap",
            log_id.leader_id.term, log_id.leader_id.node_id, log_id.index
        ),
        None => "snapshot-empty.snap".to_owned(),
    }
}

/// Writes a snapshot file (meta, then the state, streamed) and makes it durable.
pub(crate) fn write_snapshot_file(
    path: &Path,
    meta: &SnapshotMeta,
    state: &State,
) -> io::Result<()> {
    let meta_bytes = frame(&snapshot_meta_to_wire(meta).encode_to_vec());
    let partial = path.with_extension("partial");
    let mut file = io::BufWriter::new(std::fs::File::create(&partial)?);
    file.write_all(&SNAPSHOT_FILE_MAGIC)?;
    file.write_all(&(meta_bytes.len() as u32).to_le_bytes())?;
    file.write_all(&meta_bytes)?;
    state.write_snapshot(&mut file).map_err(io::Error::other)?;
    let file = file.into_inner().map_err(|error| error.into_error())?;
    file.sync_all()?;
    std::fs::rename(&partial, path)?;
    if let Some(directory) = path.parent() {
        sync_directory(directory)?;
    }
    Ok(())
}

/// Reads a snapshot file's meta.
fn read_snapshot_meta(path: &Path, input: &mut impl Read) -> io::Result<SnapshotMeta> {
    let invalid = |why: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("snapshot {}: {why}", path.display()),
        )
    };
    let mut magic = [0u8; 8];
    input.read_exact(&mut magic)?;
    if magic != SNAPSHOT_FILE_MAGIC {
        return Err(invalid("not a Fulcrum snapshot file".to_owned()));
    }
    let mut length = [0u8; 4];
    input.read_exact(&mut length)?;
    let length = u32::from_le_bytes(length);
    if length > MAX_SNAPSHOT_META_BYTES {
        return Err(invalid(format!("meta of {length} bytes is over the limit")));
    }
    let mut meta_bytes = vec![0u8; length as usize];
    input.read_exact(&mut meta_bytes)?;
    snapshot_meta_from_wire(&decode_message(
        "snapshot meta",
        unframe("snapshot", b"meta", &meta_bytes)?,
    )?)
}

/// Reads a snapshot file back, streaming: its meta and its state.
pub(crate) fn read_snapshot_file(path: &Path) -> io::Result<(SnapshotMeta, State)> {
    let mut input = io::BufReader::new(std::fs::File::open(path)?);
    let meta = read_snapshot_meta(path, &mut input)?;
    let state = State::read_snapshot(input).map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("snapshot {}: {error}", path.display()),
        )
    })?;
    Ok((meta, state))
}

impl StateMachine {
    /// Loads the state machine from its records and metadata.
    pub(crate) fn load(
        db: Arc<DB>,
        snapshot_directory: PathBuf,
        flusher: Flusher,
        metrics: Arc<StoreMetrics>,
    ) -> io::Result<Self> {
        let loaded =
            read_records(db.iterator_cf(family(&db, CF_SM_RECORDS)?, IteratorMode::Start))?;
        let state = State::from_records(loaded)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        let meta_family = family(&db, CF_SM_META)?;
        let (applied, membership) = read_position(|key| db.get_cf(meta_family, key))?;
        Ok(Self {
            db,
            snapshot_directory,
            flusher,
            state: Arc::new(RwLock::new(state)),
            applied_index: tokio::sync::watch::Sender::new(applied.map_or(0, |id| id.index)),
            applied,
            membership,
            metrics,
        })
    }

    /// The last applied log index, changed when each batch of entries (or
    /// an installed snapshot) is applied: a request waits on its own index
    /// without polling Raft's metrics.
    pub fn applied_index(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applied_index.subscribe()
    }

    fn publish_applied(&self) {
        if let Some(applied) = self.applied {
            self.applied_index.send_replace(applied.index);
        }
    }

    /// The state, for readers.
    pub fn shared_state(&self) -> SharedState {
        self.state.clone()
    }

    fn read_state(&self) -> io::Result<std::sync::RwLockReadGuard<'_, State>> {
        self.state
            .read()
            .map_err(|_| io::Error::other("the state lock is poisoned"))
    }

    /// Puts the applied log id and membership into `batch`.
    fn put_position(&self, batch: &mut WriteBatch) -> io::Result<()> {
        let meta = family(&self.db, CF_SM_META)?;
        match &self.applied {
            Some(log_id) => batch.put_cf(
                meta,
                KEY_APPLIED,
                frame(&log_id_to_wire(log_id).encode_to_vec()),
            ),
            None => batch.delete_cf(meta, KEY_APPLIED),
        }
        batch.put_cf(
            meta,
            KEY_MEMBERSHIP,
            frame(&stored_membership_to_wire(&self.membership).encode_to_vec()),
        );
        Ok(())
    }

    fn put_records(
        &self,
        state: &State,
        keys: &BTreeSet<RecordKey>,
        batch: &mut WriteBatch,
    ) -> io::Result<()> {
        let records = family(&self.db, CF_SM_RECORDS)?;
        for key in keys {
            let record = state.record(key).map_err(io::Error::other)?;
            match record {
                Some(value) => batch.put_cf(records, key.to_bytes(), frame(&value)),
                None => batch.delete_cf(records, key.to_bytes()),
            }
        }
        Ok(())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotFile;

    async fn build_snapshot(
        &mut self,
    ) -> io::Result<openraft::type_config::alias::SnapshotOf<TypeConfig, SnapshotFile>> {
        let (path, meta) = (&mut self.written).await.map_err(|_| {
            io::Error::other("the snapshot writer ended without an answer (it panicked)")
        })??;
        let mut batch = WriteBatch::default();
        let file_name = put_snapshot_record(&self.db, &mut batch, &path)?;
        self.db
            .write(batch)
            .map_err(|error| storage_error("recording the snapshot", error))?;
        // The sync makes the snapshot record durable, and with it every state
        // machine write before it: logs may be purged up to this snapshot.
        self.flusher.sync().await?;
        remove_other_snapshots(&self.snapshot_directory, &file_name);
        let metrics = &self.metrics;
        metrics.snapshots_built.fetch_add(1, Ordering::Relaxed);
        metrics
            .snapshot_build_duration
            .observe(self.started.elapsed());
        if let Ok(file) = std::fs::metadata(&path) {
            metrics.snapshot_bytes.store(file.len(), Ordering::Relaxed);
        }
        Ok(openraft::storage::Snapshot {
            meta,
            snapshot: SnapshotFile { path },
        })
    }
}

/// Records `path` as the current snapshot in `batch`; answers its file name.
fn put_snapshot_record(db: &DB, batch: &mut WriteBatch, path: &Path) -> io::Result<String> {
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    batch.put_cf(
        family(db, CF_SM_META)?,
        KEY_SNAPSHOT,
        frame(file_name.as_bytes()),
    );
    Ok(file_name)
}

/// The name prefix of a snapshot being received from the leader (the Raft
/// service writes `receiving-N.partial` before it hands the file over).
pub const RECEIVING_PREFIX: &str = "receiving-";

/// Removes snapshot files other than the current one, but never one being
/// received: its receiver removes it if the transfer fails. Failures only
/// leave files behind.
fn remove_other_snapshots(directory: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name != keep && !name.starts_with(RECEIVING_PREFIX) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Makes a rename or creation in `directory` durable.
fn sync_directory(directory: &Path) -> io::Result<()> {
    std::fs::File::open(directory)?.sync_all()
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotFile;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> io::Result<(Option<LogId>, StoredMembership)> {
        Ok((self.applied, self.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> io::Result<()>
    where
        Strm: Stream<Item = io::Result<EntryResponder<TypeConfig>>> + Unpin + OptionalSend,
    {
        let mut changed = BTreeSet::new();
        let mut responses = Vec::new();
        let mut started = None;
        let mut count = 0;
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            // Timed from the first entry's arrival, not from the wait for it.
            started.get_or_insert_with(std::time::Instant::now);
            count += 1;
            let log_index = entry.log_id.index;
            let applied = match entry.payload {
                EntryPayload::Blank => None,
                EntryPayload::Normal(proposal) => {
                    let mut state = self
                        .state
                        .write()
                        .map_err(|_| io::Error::other("the state lock is poisoned"))?;
                    let mut applied = state
                        .apply(log_index, proposal.envelope())
                        .map_err(io::Error::other)?;
                    changed.append(&mut applied.changed);
                    Some(applied)
                }
                EntryPayload::Membership(membership) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), membership);
                    None
                }
            };
            self.applied = Some(entry.log_id);
            if let Some(responder) = responder {
                responses.push((responder, Response { log_index, applied }));
            }
        }
        let mut batch = WriteBatch::default();
        {
            let state = self.read_state()?;
            self.put_records(&state, &changed, &mut batch)?;
        }
        self.put_position(&mut batch)?;
        // Not synced: the log is durable, and a lost tail is applied again on restart.
        self.db
            .write(batch)
            .map_err(|error| storage_error("writing the state machine", error))?;
        for (responder, response) in responses {
            responder.send(response);
        }
        self.publish_applied();
        self.metrics
            .entries_applied
            .fetch_add(count, Ordering::Relaxed);
        if let Some(started) = started {
            self.metrics.apply_duration.observe(started.elapsed());
        }
        Ok(())
    }

    /// Takes a RocksDB snapshot of the records now (before any further
    /// entry is applied) and writes the file from it on a blocking thread.
    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        let (db, directory) = (Arc::clone(&self.db), self.snapshot_directory.clone());
        let (taken, snapshot_taken) = tokio::sync::oneshot::channel();
        let (answer, written) = tokio::sync::oneshot::channel();
        let started = std::time::Instant::now();
        tokio::task::spawn_blocking(move || {
            let _ = answer.send(write_snapshot_of_store(&db, &directory, taken));
        });
        // Told once the view is fixed, or dropped if the writer failed
        // before: either way no entry applied from here on is in the view.
        let _ = snapshot_taken.await;
        SnapshotBuilder {
            db: self.db.clone(),
            flusher: self.flusher.clone(),
            metrics: self.metrics.clone(),
            snapshot_directory: self.snapshot_directory.clone(),
            started,
            written,
        }
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotFile,
    ) -> io::Result<()> {
        let source = snapshot.path.clone();
        let (file_meta, state) = tokio::task::spawn_blocking(move || read_snapshot_file(&source))
            .await
            .map_err(io::Error::other)??;
        if &file_meta != meta {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "snapshot file {} covers {:?}, not {:?}",
                    snapshot.path.display(),
                    file_meta.last_log_id,
                    meta.last_log_id
                ),
            ));
        }
        let path = self.snapshot_directory.join(snapshot_file_name(meta));
        if snapshot.path != path {
            std::fs::rename(&snapshot.path, &path)?;
        }
        // The file's new name must be durable before the batch below records
        // it: a crash in between must not leave a record of a missing file.
        sync_directory(&self.snapshot_directory)?;
        self.applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        // One batch replaces every record, the position and the snapshot
        // record: a crash leaves the old state or the new one, never a mix.
        let mut batch = WriteBatch::default();
        let records = family(&self.db, CF_SM_RECORDS)?;
        batch.delete_range_cf(records, [0u8].as_slice(), [0xffu8; 2].as_slice());
        self.put_records(&state, &state.record_keys(), &mut batch)?;
        self.put_position(&mut batch)?;
        let file_name = put_snapshot_record(&self.db, &mut batch, &path)?;
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut options = WriteOptions::default();
            options.set_sync(true);
            db.write_opt(batch, &options)
        })
        .await
        .map_err(io::Error::other)?
        .map_err(|error| storage_error("installing the snapshot", error))?;
        *self
            .state
            .write()
            .map_err(|_| io::Error::other("the state lock is poisoned"))? = state;
        remove_other_snapshots(&self.snapshot_directory, &file_name);
        self.publish_applied();
        self.metrics
            .snapshots_installed
            .fetch_add(1, Ordering::Relaxed);
        if let Ok(file) = std::fs::metadata(&path) {
            self.metrics
                .snapshot_bytes
                .store(file.len(), Ordering::Relaxed);
        }
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> io::Result<Option<openraft::type_config::alias::SnapshotOf<TypeConfig, SnapshotFile>>>
    {
        let meta = family(&self.db, CF_SM_META)?;
        let Some(value) = self
            .db
            .get_cf(meta, KEY_SNAPSHOT)
            .map_err(|error| storage_error("reading the snapshot record", error))?
        else {
            return Ok(None);
        };
        let file_name = String::from_utf8(unframe(CF_SM_META, KEY_SNAPSHOT, &value)?.to_vec())
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "snapshot file name is not UTF-8",
                )
            })?;
        let path = self.snapshot_directory.join(file_name);
        let read_path = path.clone();
        let meta = tokio::task::spawn_blocking(move || {
            let mut input = io::BufReader::new(std::fs::File::open(&read_path)?);
            read_snapshot_meta(&read_path, &mut input)
        })
        .await
        .map_err(io::Error::other)??;
        Ok(Some(openraft::storage::Snapshot {
            meta,
            snapshot: SnapshotFile { path },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_keeps_the_current_snapshot_and_one_being_received() {
        let directory = tempfile::tempdir().expect("directory");
        for name in [
            "snapshot-1-1-5.snap",
            "snapshot-1-1-2.snap",
            "receiving-3.partial",
        ] {
            std::fs::write(directory.path().join(name), b"x").expect("write");
        }
        remove_other_snapshots(directory.path(), "snapshot-1-1-5.snap");
        let mut left: Vec<String> = std::fs::read_dir(directory.path())
            .expect("list")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        left.sort();
        assert_eq!(left, ["receiving-3.partial", "snapshot-1-1-5.snap"]);
    }
}
