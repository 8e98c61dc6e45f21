//! Opening the RocksDB database that holds the Raft log and the state
//! machine, and checking its format version.
//!
//! Column families: `raft_log` (entries by big-endian index), `raft_meta`
//! (vote, committed, last purged, format version), `sm_records` (the domain's
//! records) and `sm_meta` (applied log id, membership, current snapshot).
//! Every value is framed with a checksum (see `codec`).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rocksdb::{ColumnFamilyDescriptor, DB, Options};

use super::codec::{frame, unframe};
use super::flusher::Flusher;
use super::log_store::LogStore;
use super::state_machine::StateMachine;

/// The on-disk format this build writes; a newer one is refused, an older
/// one is marked as this one when opened (its records still read, and a
/// build of the older format then refuses what this one wrote). Version 2:
/// listener and history records start with layout bytes (the listener's
/// `access_log`, log format 4).
pub const STORE_FORMAT_VERSION: u32 = 2;

pub(crate) const CF_RAFT_LOG: &str = "raft_log";
pub(crate) const CF_RAFT_META: &str = "raft_meta";
pub(crate) const CF_SM_RECORDS: &str = "sm_records";
pub(crate) const CF_SM_META: &str = "sm_meta";
const COLUMN_FAMILIES: [&str; 4] = [CF_RAFT_LOG, CF_RAFT_META, CF_SM_RECORDS, CF_SM_META];
const KEY_FORMAT_VERSION: &[u8] = b"format_version";

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// RocksDB refused to open the database.
    #[error("cannot open the database in {path}: {source}")]
    Database {
        /// The database directory.
        path: PathBuf,
        /// RocksDB's reason.
        source: rocksdb::Error,
    },
    /// The database was written by a newer Fulcrum.
    #[error(
        "the database in {path} has format version {found}; this build reads up to {supported}: upgrade Fulcrum"
    )]
    NewerFormat {
        /// The database directory.
        path: PathBuf,
        /// The stored version.
        found: u32,
        /// This build's version.
        supported: u32,
    },
    /// A stored value is corrupt or unreadable.
    #[error("cannot read the store: {0}")]
    Io(#[from] io::Error),
}

/// Counters of the store's work, for benchmarks and metrics.
#[derive(Debug)]
pub struct StoreMetrics {
    /// Entries appended to the log.
    pub entries_appended: AtomicU64,
    /// Append calls.
    pub appends: AtomicU64,
    /// WAL syncs (each may cover many appends).
    pub wal_syncs: AtomicU64,
    /// Committed entries applied to the state.
    pub entries_applied: AtomicU64,
    /// How long each batch of committed entries took to apply: the state
    /// changed and its records written.
    pub apply_duration: Durations,
    /// Snapshots this node built.
    pub snapshots_built: AtomicU64,
    /// How long building each took (written and synced).
    pub snapshot_build_duration: Durations,
    /// The size of the latest snapshot file built or installed, in bytes.
    pub snapshot_bytes: AtomicU64,
    /// Snapshots received from the leader and installed.
    pub snapshots_installed: AtomicU64,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        Self {
            entries_appended: AtomicU64::new(0),
            appends: AtomicU64::new(0),
            wal_syncs: AtomicU64::new(0),
            entries_applied: AtomicU64::new(0),
            apply_duration: Durations::new(&APPLY_BOUNDS),
            snapshots_built: AtomicU64::new(0),
            snapshot_build_duration: Durations::new(&SNAPSHOT_BUILD_BOUNDS),
            snapshot_bytes: AtomicU64::new(0),
            snapshots_installed: AtomicU64::new(0),
        }
    }
}

/// Bucket bounds of [`StoreMetrics::apply_duration`], in seconds: 50 µs to 1 s.
const APPLY_BOUNDS: [f64; 13] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Bucket bounds of [`StoreMetrics::snapshot_build_duration`], in seconds: 1 ms to 2 min.
const SNAPSHOT_BUILD_BOUNDS: [f64; 11] = [
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 120.0,
];

/// A histogram of durations kept in atomics: observing one and reading
/// them take no lock, so a metrics scrape never waits on `apply`.
#[derive(Debug)]
pub struct Durations {
    bounds: &'static [f64],
    /// By bucket (not cumulative); the last is past every bound.
    counts: Box<[AtomicU64]>,
    sum_micros: AtomicU64,
}

impl Durations {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Counts one duration.
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = self
            .bounds
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The bucket bounds, in seconds.
    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }

    /// The count of each bucket (not cumulative; one more than there are
    /// bounds) and the sum of every duration in seconds.
    pub fn read(&self) -> (Vec<u64>, f64) {
        let counts = self
            .counts
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .collect();
        (counts, self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6)
    }
}

/// An open database: hands out the log store and the state machine.
pub struct Store {
    db: Arc<DB>,
    directory: PathBuf,
    flusher: Flusher,
    metrics: Arc<StoreMetrics>,
}

/// A column family of the store's database, or an error naming it.
pub(crate) fn family<'a>(db: &'a DB, name: &str) -> io::Result<&'a rocksdb::ColumnFamily> {
    db.cf_handle(name)
        .ok_or_else(|| io::Error::other(format!("column family {name} is missing")))
}

pub(crate) fn storage_error(context: &str, error: rocksdb::Error) -> io::Error {
    io::Error::other(format!("{context}: {error}"))
}

impl Store {
    /// Opens (or creates) the store under `directory`: the database in
    /// `directory/db`, snapshot files in `directory/snapshots`.
    pub fn open(directory: &Path) -> Result<Self, OpenError> {
        let db_path = directory.join("db");
        std::fs::create_dir_all(&db_path)?;
        std::fs::create_dir_all(directory.join("snapshots"))?;
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let families =
            COLUMN_FAMILIES.map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&options, &db_path, families).map_err(|source| {
            OpenError::Database {
                path: db_path.clone(),
                source,
            }
        })?;
        check_format_version(&db, &db_path)?;
        let db = Arc::new(db);
        let metrics = Arc::new(StoreMetrics::default());
        let flusher = Flusher::start(db.clone(), metrics.clone())?;
        Ok(Self {
            db,
            directory: directory.to_path_buf(),
            flusher,
            metrics,
        })
    }

    /// The log store (cheap to clone: it shares the database).
    pub fn log_store(&self) -> LogStore {
        LogStore::new(self.db.clone(), self.flusher.clone(), self.metrics.clone())
    }

    /// The state machine, loaded from its records.
    pub fn state_machine(&self) -> Result<StateMachine, OpenError> {
        Ok(StateMachine::load(
            self.db.clone(),
            self.directory.join("snapshots"),
            self.flusher.clone(),
            self.metrics.clone(),
        )?)
    }

    /// Where snapshot files live; a received snapshot is written here before it is installed.
    pub fn snapshot_directory(&self) -> PathBuf {
        self.directory.join("snapshots")
    }

    /// The store's counters.
    pub fn metrics(&self) -> Arc<StoreMetrics> {
        self.metrics.clone()
    }
}

fn check_format_version(db: &DB, path: &Path) -> Result<(), OpenError> {
    let meta = family(db, CF_RAFT_META)?;
    match db
        .get_cf(meta, KEY_FORMAT_VERSION)
        .map_err(|error| storage_error("reading the format version", error))?
    {
        Some(value) => {
            let payload = unframe(CF_RAFT_META, KEY_FORMAT_VERSION, &value)?;
            let found = <[u8; 4]>::try_from(payload)
                .map(u32::from_le_bytes)
                .map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidData, "malformed format version")
                })?;
            if found > STORE_FORMAT_VERSION {
                return Err(OpenError::NewerFormat {
                    path: path.to_path_buf(),
                    found,
                    supported: STORE_FORMAT_VERSION,
                });
            }
            if found < STORE_FORMAT_VERSION {
                write_format_version(db)?;
            }
        }
        None => write_format_version(db)?,
    }
    Ok(())
}

/// Records [`STORE_FORMAT_VERSION`] as the database's format, synced.
fn write_format_version(db: &DB) -> Result<(), OpenError> {
    let meta = family(db, CF_RAFT_META)?;
    let mut write = rocksdb::WriteOptions::default();
    write.set_sync(true);
    db.put_cf_opt(
        meta,
        KEY_FORMAT_VERSION,
        frame(&STORE_FORMAT_VERSION.to_le_bytes()),
        &write,
    )
    .map_err(|error| storage_error("writing the format version", error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The format version `store` records.
    fn recorded_version(store: &Store) -> u32 {
        let meta = family(&store.db, CF_RAFT_META).unwrap();
        let value = store.db.get_cf(meta, KEY_FORMAT_VERSION).unwrap().unwrap();
        let payload = unframe(CF_RAFT_META, KEY_FORMAT_VERSION, &value).unwrap();
        u32::from_le_bytes(<[u8; 4]>::try_from(payload).unwrap())
    }

    fn record_version(store: &Store, version: u32) {
        let meta = family(&store.db, CF_RAFT_META).unwrap();
        store
            .db
            .put_cf(meta, KEY_FORMAT_VERSION, frame(&version.to_le_bytes()))
            .unwrap();
    }

    #[test]
    fn an_older_format_is_marked_current_and_a_newer_one_refused() {
        let directory = tempfile::tempdir().unwrap();
        let store = Store::open(directory.path()).unwrap();
        assert_eq!(recorded_version(&store), STORE_FORMAT_VERSION);
        record_version(&store, 1);
        drop(store);
        let store = Store::open(directory.path()).unwrap();
        assert_eq!(recorded_version(&store), STORE_FORMAT_VERSION);
        record_version(&store, STORE_FORMAT_VERSION + 1);
        drop(store);
        assert!(matches!(
            Store::open(directory.path()),
            Err(OpenError::NewerFormat { found, .. }) if found == STORE_FORMAT_VERSION + 1
        ));
    }

    #[test]
    fn durations_fall_in_their_buckets_and_sum() {
        let durations = Durations::new(&APPLY_BOUNDS);
        durations.observe(Duration::from_micros(40));
        durations.observe(Duration::from_micros(100));
        durations.observe(Duration::from_secs(3));
        let (counts, sum) = durations.read();
        assert_eq!(counts.len(), APPLY_BOUNDS.len() + 1);
        assert_eq!((counts[0], counts[1]), (1, 1), "bounds are inclusive");
        assert_eq!(counts[APPLY_BOUNDS.len()], 1, "past every bound");
        assert_eq!(counts.iter().sum::<u64>(), 3);
        assert!((sum - 3.000_14).abs() < 1e-9, "{sum}");
    }
}
