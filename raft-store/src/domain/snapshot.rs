//! Snapshot encoding of the state: versioned, checksummed, deterministic bytes.
//!
//! Layout: `FULCRUMS` magic (8 bytes), format version (u32 little endian),
//! body length (u64 little endian), body (postcard of [`State`]), SHA-256 of
//! the body (32 bytes). Every map in the state is ordered, so one state always
//! encodes to the same bytes: replicas can compare snapshots byte for byte.

use sha2::{Digest, Sha256};

use super::state::State;

/// The first bytes of every snapshot.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"FULCRUMS";
/// The snapshot format this build writes and reads.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;
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
        actual: usize,
        /// Bytes the header announces.
        expected: usize,
    },
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

impl State {
    /// Encodes the state as snapshot bytes.
    pub fn to_snapshot_bytes(&self) -> Result<Vec<u8>, SnapshotError> {
        let body = postcard::to_stdvec(self).map_err(SnapshotError::Encode)?;
        let mut bytes = Vec::with_capacity(HEADER_BYTES + body.len() + CHECKSUM_BYTES);
        bytes.extend_from_slice(&SNAPSHOT_MAGIC);
        bytes.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(&Sha256::digest(&body));
        Ok(bytes)
    }

    /// Reads a state from snapshot bytes, checking magic, version and checksum.
    pub fn from_snapshot_bytes(bytes: &[u8]) -> Result<Self, SnapshotError> {
        if bytes.len() < HEADER_BYTES {
            return if bytes.len() >= 8 && bytes[..8] != SNAPSHOT_MAGIC {
                Err(SnapshotError::BadMagic)
            } else {
                Err(SnapshotError::Truncated {
                    actual: bytes.len(),
                    expected: HEADER_BYTES,
                })
            };
        }
        let (magic, rest) = bytes.split_at(8);
        if magic != SNAPSHOT_MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        let (version, rest) = rest.split_at(4);
        let version = u32::from_le_bytes([version[0], version[1], version[2], version[3]]);
        if version != SNAPSHOT_FORMAT_VERSION {
            return Err(SnapshotError::UnsupportedVersion {
                found: version,
                supported: SNAPSHOT_FORMAT_VERSION,
            });
        }
        let (length, rest) = rest.split_at(8);
        let mut length_bytes = [0u8; 8];
        length_bytes.copy_from_slice(length);
        let body_bytes = usize::try_from(u64::from_le_bytes(length_bytes)).unwrap_or(usize::MAX);
        let expected = HEADER_BYTES
            .saturating_add(body_bytes)
            .saturating_add(CHECKSUM_BYTES);
        if bytes.len() != expected || rest.len() < body_bytes {
            return Err(SnapshotError::Truncated {
                actual: bytes.len(),
                expected,
            });
        }
        let (body, checksum) = rest.split_at(body_bytes);
        if Sha256::digest(body).as_slice() != checksum {
            return Err(SnapshotError::ChecksumMismatch);
        }
        Ok(postcard::from_bytes(body)?)
    }
}
