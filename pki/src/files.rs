//! Writing keys and certificates to files only their owner can read.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::PkiError;

/// Owner read and write, nothing for anyone else.
const PRIVATE_MODE: u32 = 0o600;

/// Writes `contents` to `path` with mode 0600 from the file's creation on.
///
/// Without `overwrite`, the file must not exist ([`PkiError::Exists`]). With
/// it, the contents go to a temporary file beside `path`, created 0600 and
/// synced, then renamed over `path`: a reader sees the old file or the new
/// one, never a mix, and never a wider mode. Errors name the path.
pub fn write_private(path: &Path, contents: &str, overwrite: bool) -> Result<(), PkiError> {
    if !overwrite {
        let file = create_private(path).map_err(|source| {
            if source.kind() == io::ErrorKind::AlreadyExists {
                PkiError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                io_error("creating", path, source)
            }
        })?;
        return fill(file, path, contents).inspect_err(|_| {
            // A half-written file would block the retry; the error says why.
            let _ = fs::remove_file(path);
        });
    }
    let temporary = temporary_path(path)?;
    let file = match create_private(&temporary) {
        // Left by a writer that died: it is ours to replace.
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => fs::remove_file(&temporary)
            .and_then(|()| create_private(&temporary))
            .map_err(|source| io_error("creating", &temporary, source))?,
        created => created.map_err(|source| io_error("creating", &temporary, source))?,
    };
    let written = fill(file, &temporary, contents).and_then(|()| {
        fs::rename(&temporary, path).map_err(|source| io_error("renaming over", path, source))
    });
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written?;
    sync_directory(path)
}

/// Creates a new file, 0600 from the start; fails if anything is at `path`
/// (a symbolic link included: it is not followed).
fn create_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_MODE)
        .open(path)
}

/// Writes, sets the mode (a umask can only have narrowed it), and syncs.
fn fill(mut file: File, path: &Path, contents: &str) -> Result<(), PkiError> {
    file.write_all(contents.as_bytes())
        .and_then(|()| file.set_permissions(Permissions::from_mode(PRIVATE_MODE)))
        .and_then(|()| file.sync_all())
        .map_err(|source| io_error("writing", path, source))
}

/// `.<name>.<process id>.tmp` in the same directory, so that the rename stays
/// on one file system and two processes writing one path do not share it.
fn temporary_path(path: &Path) -> Result<PathBuf, PkiError> {
    let Some(name) = path.file_name() else {
        return Err(io_error(
            "writing",
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"),
        ));
    };
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(name);
    temporary_name.push(format!(".{}.tmp", std::process::id()));
    Ok(path.with_file_name(temporary_name))
}

/// Makes the rename durable.
fn sync_directory(path: &Path) -> Result<(), PkiError> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(directory)
        .and_then(|directory| directory.sync_all())
        .map_err(|source| io_error("syncing", directory, source))
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> PkiError {
    PkiError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}
