//! Group commit: one dedicated thread makes the write-ahead log durable.
//!
//! Appends write their batch to RocksDB without syncing, then hand their
//! completion callback here. The thread takes every request waiting, syncs the
//! WAL once for all of them, then completes them all: concurrent appends share
//! one fsync, and no tokio worker ever waits on the disk. RocksDB has one WAL
//! for all column families, written in order, so one sync makes every write
//! before it durable.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use openraft::storage::IOFlushed;
use rocksdb::DB;
use tokio::sync::{mpsc, oneshot};

use super::store::StoreMetrics;
use super::types::TypeConfig;

/// Requests waiting for a sync, at most.
pub(crate) const FLUSH_QUEUE_CAPACITY: usize = 4096;

enum FlushRequest {
    /// An append's callback, completed once its entries are durable.
    Log(IOFlushed<TypeConfig>),
    /// A caller awaiting durability (a vote, a truncation).
    Wait(oneshot::Sender<io::Result<()>>),
}

/// The handle to the sync thread. When the last handle is dropped, the queue
/// closes, the thread finishes what is queued, and the drop waits for it, so
/// the database is closed once the store and its handles are gone.
#[derive(Clone)]
pub(crate) struct Flusher {
    inner: Arc<FlusherInner>,
}

struct FlusherInner {
    requests: Option<mpsc::Sender<FlushRequest>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for FlusherInner {
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(thread) = self.thread.take() {
            // A panic in the sync thread has already failed every waiting request.
            let _ = thread.join();
        }
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the WAL sync thread has stopped")
}

impl Flusher {
    pub(crate) fn start(db: Arc<DB>, metrics: Arc<StoreMetrics>) -> io::Result<Self> {
        let (requests, mut queue) = mpsc::channel::<FlushRequest>(FLUSH_QUEUE_CAPACITY);
        let thread = std::thread::Builder::new()
            .name("fulcrum-wal-sync".to_owned())
            .spawn(move || {
                while let Some(first) = queue.blocking_recv() {
                    let mut waiting = vec![first];
                    while let Ok(more) = queue.try_recv() {
                        waiting.push(more);
                    }
                    let result = db.flush_wal(true);
                    metrics.wal_syncs.fetch_add(1, Ordering::Relaxed);
                    for request in waiting {
                        let result = result.as_ref().map(|_| ()).map_err(|error| {
                            io::Error::other(format!("syncing the write-ahead log failed: {error}"))
                        });
                        match request {
                            FlushRequest::Log(callback) => callback.io_completed(result),
                            // The waiter may have gone away; nobody is left to tell.
                            FlushRequest::Wait(waiter) => drop(waiter.send(result)),
                        }
                    }
                }
            })?;
        Ok(Self {
            inner: Arc::new(FlusherInner {
                requests: Some(requests),
                thread: Some(thread),
            }),
        })
    }

    fn queue(&self) -> io::Result<&mpsc::Sender<FlushRequest>> {
        self.inner.requests.as_ref().ok_or_else(closed)
    }

    /// Completes `callback` once everything written so far is durable.
    pub(crate) async fn complete_when_durable(
        &self,
        callback: IOFlushed<TypeConfig>,
    ) -> io::Result<()> {
        self.queue()?
            .send(FlushRequest::Log(callback))
            .await
            .map_err(|_| closed())
    }

    /// Returns once everything written so far is durable.
    pub(crate) async fn sync(&self) -> io::Result<()> {
        let (done, wait) = oneshot::channel();
        self.queue()?
            .send(FlushRequest::Wait(done))
            .await
            .map_err(|_| closed())?;
        wait.await.map_err(|_| closed())?
    }
}
