//! Drives the RocksDB store outside of Raft: for the crash-recovery test and
//! for the storage benchmarks.
//!
//! ```text
//! fulcrum-store-bench append-until-killed DIR SEED
//!     appends and applies test commands until killed, printing
//!     "durable N" after each flush callback fires
//! fulcrum-store-bench append-bench DIR [SECONDS]
//!     append throughput with real fsync at batch sizes 1, 16 and 256, as a
//!     ratio to RocksDB's own synced writes of the same batches on this disk
//! fulcrum-store-bench scale DIR [COMMANDS]
//!     applies COMMANDS (default 1,000,000) small commands, then reports the
//!     size on disk, reopen time, snapshot build and install time, and memory
//! ```
//!
//! Benchmarks report; they assert nothing. DIR must be on the disk to measure.

// This tool's output is its report.
#![allow(clippy::print_stdout)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fulcrum_raft_store::raft::sample::sample_entries;
use fulcrum_raft_store::raft::{Entry, Store, TypeConfig};
use openraft::RaftSnapshotBuilder;
use openraft::storage::{IOFlushed, RaftLogStorage, RaftStateMachine};
use openraft::type_config::TypeConfigExt;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn entries(first: u64, last: u64) -> Vec<Entry> {
    sample_entries(first, last)
}

/// xorshift64*: a small seeded generator, so a seed reproduces a run.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound
    }
}

async fn append_until_killed(directory: PathBuf, seed: u64) -> Result<(), Error> {
    let store = Store::open(&directory)?;
    let mut log = store.log_store();
    let mut state_machine = store.state_machine()?;
    let mut random = Random(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut stdout = std::io::stdout();
    let (mut next, mut applied) = (1u64, 0u64);
    loop {
        let last = next + random.below(8);
        let (done, durable) = TypeConfig::oneshot();
        log.append(entries(next, last), IOFlushed::signal(done))
            .await?;
        durable.await.map_err(|_| "flush callback dropped")??;
        writeln!(stdout, "durable {last}")?;
        stdout.flush()?;
        next = last + 1;
        if random.below(3) == 0 {
            let batch = entries(applied + 1, last)
                .into_iter()
                .map(|entry| Ok((entry, None)));
            state_machine.apply(futures::stream::iter(batch)).await?;
            applied = last;
        }
    }
}

/// Appends at most this many batches before waiting for their flushes, as
/// openraft keeps appending while earlier flushes are pending.
const APPENDS_IN_FLIGHT: usize = 64;

/// RocksDB alone: synced write batches of `batch` values of `value_bytes`, one after another.
fn raw_synced_rate(
    directory: &Path,
    batch: usize,
    value_bytes: usize,
    duration: Duration,
) -> Result<f64, Error> {
    let mut options = rocksdb::Options::default();
    options.create_if_missing(true);
    let db = rocksdb::DB::open(&options, directory)?;
    let mut write = rocksdb::WriteOptions::default();
    write.set_sync(true);
    let value = vec![0x5au8; value_bytes];
    let (start, mut index, mut entries) = (Instant::now(), 0u64, 0u64);
    while start.elapsed() < duration {
        let mut writes = rocksdb::WriteBatch::default();
        for _ in 0..batch {
            index += 1;
            writes.put(index.to_be_bytes(), &value);
        }
        db.write_opt(writes, &write)?;
        entries += batch as u64;
    }
    Ok(entries as f64 / start.elapsed().as_secs_f64())
}

/// The store: appends of `batch` entries, back to back, each completed by the sync thread.
async fn store_append_rate(
    directory: &Path,
    batch: usize,
    duration: Duration,
) -> Result<(f64, f64), Error> {
    let store = Store::open(directory)?;
    let mut log = store.log_store();
    let (start, mut next) = (Instant::now(), 1u64);
    let mut pending = std::collections::VecDeque::new();
    while start.elapsed() < duration {
        let last = next + batch as u64 - 1;
        let (done, durable) = TypeConfig::oneshot();
        log.append(entries(next, last), IOFlushed::signal(done))
            .await?;
        pending.push_back(durable);
        next = last + 1;
        if pending.len() >= APPENDS_IN_FLIGHT
            && let Some(oldest) = pending.pop_front()
        {
            oldest.await.map_err(|_| "flush callback dropped")??;
        }
    }
    for durable in pending {
        durable.await.map_err(|_| "flush callback dropped")??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let metrics = store.metrics();
    let appends = metrics.appends.load(Ordering::Relaxed) as f64;
    let syncs = metrics.wal_syncs.load(Ordering::Relaxed).max(1) as f64;
    Ok(((next - 1) as f64 / elapsed, appends / syncs))
}

async fn append_bench(directory: PathBuf, seconds: u64) -> Result<(), Error> {
    let duration = Duration::from_secs(seconds);
    let value_bytes = fulcrum_raft_store::raft::encoded_entry_len(&entries(2, 2)[0]);
    println!(
        "entry size {value_bytes} bytes (encoded, with checksum); {seconds} s per run; {APPENDS_IN_FLIGHT} appends in flight"
    );
    println!(
        "{:>6} {:>16} {:>16} {:>8} {:>16}",
        "batch", "store entries/s", "raw entries/s", "ratio", "appends per sync"
    );
    for batch in [1usize, 16, 256] {
        let raw_directory = directory.join(format!("raw-{batch}"));
        let store_directory = directory.join(format!("store-{batch}"));
        let raw = raw_synced_rate(&raw_directory, batch, value_bytes, duration)?;
        let (ours, appends_per_sync) = store_append_rate(&store_directory, batch, duration).await?;
        println!(
            "{batch:>6} {ours:>16.0} {raw:>16.0} {:>8.2} {appends_per_sync:>16.1}",
            ours / raw
        );
        std::fs::remove_dir_all(&raw_directory)?;
        std::fs::remove_dir_all(&store_directory)?;
    }
    Ok(())
}

fn size_on_disk(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(metadata) if metadata.is_dir() => size_on_disk(&entry.path()),
            Ok(metadata) => metadata.len(),
            Err(_) => 0,
        })
        .sum()
}

fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

async fn scale(directory: PathBuf, commands: u64) -> Result<(), Error> {
    const BATCH: u64 = 1000;
    let store_directory = directory.join("store");
    let start = Instant::now();
    {
        let store = Store::open(&store_directory)?;
        let mut log = store.log_store();
        let mut state_machine = store.state_machine()?;
        let mut next = 1;
        while next <= commands {
            let last = (next + BATCH - 1).min(commands);
            let (done, durable) = TypeConfig::oneshot();
            log.append(entries(next, last), IOFlushed::signal(done))
                .await?;
            durable.await.map_err(|_| "flush callback dropped")??;
            let batch = entries(next, last)
                .into_iter()
                .map(|entry| Ok((entry, None)));
            state_machine.apply(futures::stream::iter(batch)).await?;
            next = last + 1;
        }
    }
    let applied_s = start.elapsed().as_secs_f64();
    println!(
        "applied {commands} commands in {applied_s:.1} s ({:.0} commands/s, appended and applied in batches of {BATCH})",
        commands as f64 / applied_s
    );
    println!(
        "store size on disk: {:.1} MiB",
        size_on_disk(&store_directory) as f64 / (1 << 20) as f64
    );

    let start = Instant::now();
    let store = Store::open(&store_directory)?;
    let mut state_machine = store.state_machine()?;
    let (applied, _) = state_machine.applied_state().await?;
    println!(
        "reopen and load the state machine: {:.2} s (applied up to {:?}); resident memory {:.0} MiB",
        start.elapsed().as_secs_f64(),
        applied.map(|id| id.index),
        resident_mib()
    );

    let start = Instant::now();
    let snapshot = state_machine
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await?;
    let snapshot_bytes = std::fs::metadata(&snapshot.snapshot.path)?.len();
    println!(
        "snapshot build: {:.2} s, {:.1} MiB",
        start.elapsed().as_secs_f64(),
        snapshot_bytes as f64 / (1 << 20) as f64
    );

    let follower_directory = directory.join("follower");
    let follower = Store::open(&follower_directory)?;
    let mut follower_machine = follower.state_machine()?;
    let received = follower_directory
        .join("snapshots")
        .join("incoming.receive");
    std::fs::copy(&snapshot.snapshot.path, &received)?;
    let start = Instant::now();
    follower_machine
        .install_snapshot(
            &snapshot.meta,
            fulcrum_raft_store::raft::SnapshotFile { path: received },
        )
        .await?;
    println!(
        "snapshot install on a fresh store: {:.2} s; resident memory now {:.0} MiB",
        start.elapsed().as_secs_f64(),
        resident_mib()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    match arguments
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["append-until-killed", directory, seed] => {
            append_until_killed(directory.into(), seed.parse()?).await
        }
        ["append-bench", directory] => append_bench(directory.into(), 5).await,
        ["append-bench", directory, seconds] => append_bench(directory.into(), seconds.parse()?).await,
        ["scale", directory] => scale(directory.into(), 1_000_000).await,
        ["scale", directory, commands] => scale(directory.into(), commands.parse()?).await,
        _ => Err(
            "usage: fulcrum-store-bench (append-until-killed DIR SEED | append-bench DIR [SECONDS] | scale DIR [COMMANDS])"
                .into(),
        ),
    }
}
