//! Snapshot encoding of the state: versioned, checksummed, deterministic bytes.
//!
//! Layout: `FULCRUMS` magic (8 bytes), format version (u32 little endian),
//! body length (u64 little endian), body (postcard of [`State`]), SHA-256 of
//! the body (32 bytes). Every map in the state is ordered, so one state always
//! encodes to the same bytes: replicas can compare snapshots byte for byte.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use super::legacy::{ListenerLayout, StateV1, StateV2, reading_listeners_of};
use super::state::State;

/// The first bytes of every snapshot.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"FULCRUMS";
/// The snapshot format this build writes: 5, the first whose listeners
/// have forwarding rules. It also reads format 4 (today's types, each
/// listener read without rules: `legacy::reading_listeners_of`), format 3
/// (each listener without `access_log` either), format 2 (before access
/// tokens and the principals of recorded events too, `legacy::StateV2`) and
/// format 1 (before the five resource quotas too, `legacy::StateV1`).
pub const SNAPSHOT_FORMAT_VERSION: u32 = 5;
const OLDEST_SNAPSHOT_FORMAT_VERSION: u32 = 1;
/// The first snapshot format whose listeners have `access_log`.
const FIRST_SNAPSHOT_FORMAT_WITH_ACCESS_LOGS: u32 = 4;
/// The first snapshot format whose listeners have rules.
const FIRST_SNAPSHOT_FORMAT_WITH_RULES: u32 = 5;
const HEADER_BYTES: usize = 8 + 4 + 8;
const CHECKSUM_BYTES: usize = 32;

/// Why snapshot bytes could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Not a Fulcrum snapshot at all.
    #[error("not a Fulcrum snapshot (bad magic bytes)")]
    BadMagic,
    /// Written by another format version.
    #[error(
        "snapshot format version {found} is not supported; this build reads version {supported}"
    )]
    UnsupportedVersion {
        /// The snapshot's version.
        found: u32,
        /// This build's version.
        supported: u32,
    },
    /// Shorter than its header says.
    #[error("snapshot is truncated: {actual} bytes, expected {expected}")]
    Truncated {
        /// Bytes present.
        actual: u64,
        /// Bytes the header announces.
        expected: u64,
    },
    /// Longer than its header says.
    #[error("snapshot has bytes after its checksum")]
    TrailingBytes,
    /// Reading or writing the snapshot failed.
    #[error("snapshot input or output failed: {0}")]
    Io(#[from] io::Error),
    /// The body does not match its checksum.
    #[error("snapshot body is corrupt: its SHA-256 does not match")]
    ChecksumMismatch,
    /// The body passed its checksum but does not decode (a bug, or a forged checksum).
    #[error("snapshot body does not decode: {0}")]
    Malformed(#[from] postcard::Error),
    /// The state could not be serialised.
    #[error("snapshot could not be encoded: {0}")]
    Encode(postcard::Error),
}

/// The largest string or byte run that reading a snapshot buffers at once
/// (certificates are the longest: 64 KiB of PEM).
const READ_SCRATCH_BYTES: usize = 1 << 20;

/// Counts what is written and throws it away: the body's length, first pass.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0 += bytes.len() as u64;
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Hashes and counts what passes through to the inner writer.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..written]);
        self.written += written as u64;
        Ok(written)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes and counts what is read through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..read]);
        self.read += read as u64;
        Ok(read)
    }
}

/// Reads as many bytes as `buffer` holds, or fewer at the end of input.
fn read_up_to(input: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match input.read(&mut buffer[filled..])? {
            0 => break,
            read => filled += read,
        }
    }
    Ok(filled)
}

impl State {
    /// Writes the state as a snapshot, streaming: memory use does not grow
    /// with the snapshot's size (the body is serialised twice, once to learn
    /// its length).
    pub fn write_snapshot(&self, mut output: impl Write) -> Result<(), SnapshotError> {
        let mut counter = Counter(0);
        postcard::to_io(self, &mut counter).map_err(SnapshotError::Encode)?;
        output.write_all(&SNAPSHOT_MAGIC)?;
        output.write_all(&SNAPSHOT_FORMAT_VERSION.to_le_bytes())?;
        output.write_all(&counter.0.to_le_bytes())?;
        let mut body = HashingWriter {
            inner: &mut output,
            hasher: Sha256::new(),
            written: 0,
        };
        postcard::to_io(self, &mut body).map_err(SnapshotError::Encode)?;
        // Encoding is deterministic: both passes produce the same bytes.
        assert_eq!(
            body.written, counter.0,
            "snapshot body changed length between passes"
        );
        let checksum = body.hasher.finalize();
        output.write_all(&checksum)?;
        output.flush()?;
        Ok(())
    }

    /// Reads a snapshot, streaming, checking magic, version, length and checksum.
    pub fn read_snapshot(mut input: impl Read) -> Result<Self, SnapshotError> {
        let mut header = [0u8; HEADER_BYTES];
        let read = read_up_to(&mut input, &mut header)?;
        if read >= 8 && header[..8] != SNAPSHOT_MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        if read < HEADER_BYTES {
            return Err(SnapshotError::Truncated {
                actual: read as u64,
                expected: HEADER_BYTES as u64,
            });
        }
        let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if !(OLDEST_SNAPSHOT_FORMAT_VERSION..=SNAPSHOT_FORMAT_VERSION).contains(&version) {
            return Err(SnapshotError::UnsupportedVersion {
                found: version,
                supported: SNAPSHOT_FORMAT_VERSION,
            });
        }
        let mut length = [0u8; 8];
        length.copy_from_slice(&header[12..20]);
        let body_bytes = u64::from_le_bytes(length);
        let expected = (HEADER_BYTES as u64)
            .saturating_add(body_bytes)
            .saturating_add(CHECKSUM_BYTES as u64);

        let mut body = HashingReader {
            inner: (&mut input).take(body_bytes),
            hasher: Sha256::new(),
            read: 0,
        };
        let mut scratch = vec![0u8; READ_SCRATCH_BYTES];
        let decode = || match version {
            1 => postcard::from_io::<StateV1, _>((&mut body, &mut scratch))
                .map(|(old, _)| old.into()),
            2 => postcard::from_io::<StateV2, _>((&mut body, &mut scratch))
                .map(|(old, _)| old.into()),
            _ => postcard::from_io::<State, _>((&mut body, &mut scratch)).map(|(state, _)| state),
        };
        let layout = if version < FIRST_SNAPSHOT_FORMAT_WITH_ACCESS_LOGS {
            ListenerLayout::BeforeAccessLogs
        } else if version < FIRST_SNAPSHOT_FORMAT_WITH_RULES {
            ListenerLayout::BeforeRules
        } else {
            ListenerLayout::Today
        };
        let decoded = reading_listeners_of(layout, decode);
        // Hash whatever the decoder left, so that corruption is reported as
        // such rather than as whatever the decoder tripped on.
        io::copy(&mut body, &mut io::sink())?;
        let truncated = |read: u64| SnapshotError::Truncated {
            actual: HEADER_BYTES as u64 + read,
            expected,
        };
        if body.read != body_bytes {
            return Err(truncated(body.read));
        }
        let digest = body.hasher.finalize();
        let mut checksum = [0u8; CHECKSUM_BYTES];
        let read = read_up_to(&mut input, &mut checksum)?;
        if read != CHECKSUM_BYTES {
            return Err(truncated(body_bytes + read as u64));
        }
        if digest.as_slice() != checksum {
            return Err(SnapshotError::ChecksumMismatch);
        }
        let mut state: State = decoded?;
        state.history.recount();
        state.rebuild_derived();
        if read_up_to(&mut input, &mut [0u8; 1])? != 0 {
            return Err(SnapshotError::TrailingBytes);
        }
        Ok(state)
    }

    /// Encodes the state as snapshot bytes.
    pub fn to_snapshot_bytes(&self) -> Result<Vec<u8>, SnapshotError> {
        let mut bytes = Vec::new();
        self.write_snapshot(&mut bytes)?;
        Ok(bytes)
    }

    /// Reads a state from snapshot bytes.
    pub fn from_snapshot_bytes(bytes: &[u8]) -> Result<Self, SnapshotError> {
        Self::read_snapshot(bytes)
    }
}
