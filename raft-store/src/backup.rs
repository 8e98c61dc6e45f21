//! The backup file: a copy of the replicated state that a new cluster can
//! be seeded from (`fulcrum backup create`, `fulcrum agent --restore`).
//!
//! Layout: the magic `FULCRUMB` (8 bytes), the header's length (u32 LE),
//! the header (`fulcrum.v1.BackupHeader`, protobuf), then the state's
//! snapshot bytes (which carry their own version and checksum). The header
//! names the state's log index, its size and its SHA-256, checked on read.

use std::io::{self, Read, Write};
use std::path::Path;

use fulcrum_api::v1;
use prost::Message;
use sha2::{Digest, Sha256};

use crate::domain::State;

/// The first bytes of every backup file.
pub const BACKUP_MAGIC: [u8; 8] = *b"FULCRUMB";
/// The largest header accepted.
const MAX_HEADER_BYTES: u32 = 64 << 10;

/// Why a backup file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The reason.
        source: io::Error,
    },
    /// The file is not a backup, or is damaged.
    #[error("{path}: {why}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
}

impl BackupError {
    fn invalid(path: &Path, why: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.display().to_string(),
            why: why.into(),
        }
    }

    fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The header of `state_bytes`, a state as of `log_index`.
pub fn header_of(state_bytes: &[u8], log_index: u64) -> v1::BackupHeader {
    v1::BackupHeader {
        log_index,
        state_bytes: state_bytes.len() as u64,
        state_sha256: Sha256::digest(state_bytes).to_vec(),
        log_format_version: fulcrum_api::LOG_FORMAT_VERSION,
        ..Default::default()
    }
}

/// Writes the magic and `header` to `output`; the state's bytes follow.
pub fn write_header(output: &mut impl Write, header: &v1::BackupHeader) -> io::Result<()> {
    let bytes = header.encode_to_vec();
    output.write_all(&BACKUP_MAGIC)?;
    output.write_all(&(bytes.len() as u32).to_le_bytes())?;
    output.write_all(&bytes)
}

/// Reads a backup file whole: its header and its state, after checking
/// the size and SHA-256 the header names and the state's own checksum.
pub fn read(path: &Path) -> Result<(v1::BackupHeader, State), BackupError> {
    let mut input =
        io::BufReader::new(std::fs::File::open(path).map_err(|e| BackupError::io(path, e))?);
    let mut magic = [0u8; 8];
    input
        .read_exact(&mut magic)
        .map_err(|e| BackupError::io(path, e))?;
    if magic != BACKUP_MAGIC {
        return Err(BackupError::invalid(
            path,
            "not a Fulcrum backup (no FULCRUMB magic)",
        ));
    }
    let mut length = [0u8; 4];
    input
        .read_exact(&mut length)
        .map_err(|e| BackupError::io(path, e))?;
    let length = u32::from_le_bytes(length);
    if length > MAX_HEADER_BYTES {
        return Err(BackupError::invalid(
            path,
            format!("a header of {length} bytes is over the limit"),
        ));
    }
    let mut header = vec![0u8; length as usize];
    input
        .read_exact(&mut header)
        .map_err(|e| BackupError::io(path, e))?;
    let header = v1::BackupHeader::decode(header.as_slice()).map_err(|error| {
        BackupError::invalid(path, format!("the header does not decode: {error}"))
    })?;
    let mut state_bytes = Vec::new();
    input
        .take(header.state_bytes.saturating_add(1))
        .read_to_end(&mut state_bytes)
        .map_err(|e| BackupError::io(path, e))?;
    if state_bytes.len() as u64 != header.state_bytes {
        return Err(BackupError::invalid(
            path,
            format!(
                "the header names {} bytes of state; the file holds {}{}",
                header.state_bytes,
                state_bytes.len().min(header.state_bytes as usize),
                if state_bytes.len() as u64 > header.state_bytes {
                    " and more"
                } else {
                    ""
                }
            ),
        ));
    }
    if Sha256::digest(&state_bytes).as_slice() != header.state_sha256.as_slice() {
        return Err(BackupError::invalid(
            path,
            "the state's SHA-256 is not the header's: the file is damaged",
        ));
    }
    let state = State::read_snapshot(state_bytes.as_slice())
        .map_err(|error| BackupError::invalid(path, format!("the state does not read: {error}")))?;
    if state.last_log_index() != header.log_index {
        return Err(BackupError::invalid(
            path,
            format!(
                "the header says log index {}, the state is as of {}",
                header.log_index,
                state.last_log_index()
            ),
        ));
    }
    Ok((header, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_of(state: &State) -> Vec<u8> {
        let bytes = state.to_snapshot_bytes().unwrap();
        let mut file = Vec::new();
        write_header(&mut file, &header_of(&bytes, state.last_log_index())).unwrap();
        file.extend_from_slice(&bytes);
        file
    }

    #[test]
    fn a_backup_reads_back_to_its_state_and_damage_is_named() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("backup");
        let state = State::default();
        let file = file_of(&state);
        std::fs::write(&path, &file).unwrap();
        let (header, restored) = read(&path).unwrap();
        assert_eq!(restored, state);
        assert_eq!(header.log_index, 0);

        let mut damaged = file.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        std::fs::write(&path, &damaged).unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("SHA-256"));

        std::fs::write(&path, &file[..file.len() - 1]).unwrap();
        assert!(
            read(&path)
                .unwrap_err()
                .to_string()
                .contains("bytes of state")
        );

        let mut longer = file.clone();
        longer.push(0);
        std::fs::write(&path, &longer).unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("and more"));

        std::fs::write(&path, b"FULCRUMRxxxx").unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("magic"));
    }
}
