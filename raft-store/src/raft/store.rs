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
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use rocksdb::{ColumnFamilyDescriptor, DB, Options};

use super::codec::{frame, unframe};
use super::flusher::Flusher;
use super::log_store::LogStore;
use super::state_machine::StateMachine;

/// The on-disk format this build writes; a newer one is refused.
pub const STORE_FORMAT_VERSION: u32 = 1;

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
    pub apply_duration: Histogram,
    /// Snapshots this node built.
    pub snapshots_built: AtomicU64,
    /// How long building each took (written and synced).
    pub snapshot_build_duration: Histogram,
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
            // 50 µs to ~0.8 s.
            apply_duration: Histogram::new(exponential_buckets(0.00005, 2.0, 15)),
            snapshots_built: AtomicU64::new(0),
            // 1 ms to ~65 s.
            snapshot_build_duration: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
            snapshot_bytes: AtomicU64::new(0),
            snapshots_installed: AtomicU64::new(0),
        }
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
        }
        None => {
            let mut write = rocksdb::WriteOptions::default();
            write.set_sync(true);
            db.put_cf_opt(
                meta,
                KEY_FORMAT_VERSION,
                frame(&STORE_FORMAT_VERSION.to_le_bytes()),
                &write,
            )
            .map_err(|error| storage_error("writing the format version", error))?;
        }
    }
    Ok(())
}
