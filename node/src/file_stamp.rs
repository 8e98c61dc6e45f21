//! Telling a changed file from an unchanged one, for the files the agent
//! reloads while it runs (its TLS files, the data key file).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

/// What identifies one version of a file: its inode (a file renamed into
/// place), its change time (which no copy preserves), its modification
/// time and its size; `None` while it cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStamp(Option<(u64, i64, i64, SystemTime, u64)>);

impl FileStamp {
    /// The stamp of `path` now.
    pub fn of(path: &Path) -> Self {
        Self(std::fs::metadata(path).ok().and_then(|meta| {
            Some((
                meta.ino(),
                meta.ctime(),
                meta.ctime_nsec(),
                meta.modified().ok()?,
                meta.len(),
            ))
        }))
    }
}

/// A set of files and their stamps at the last look.
#[derive(Debug)]
pub struct ChangeWatch {
    paths: Vec<PathBuf>,
    last: Mutex<Vec<FileStamp>>,
}

impl ChangeWatch {
    /// Watches `paths`, as they are now.
    pub fn new(paths: Vec<PathBuf>) -> Self {
        let last = Mutex::new(paths.iter().map(|path| FileStamp::of(path)).collect());
        Self { paths, last }
    }

    /// Whether any file changed since the last look. A change is reported
    /// once, even if what changed does not load: it is tried again when a
    /// file changes again (a key written after its certificate, say), not
    /// at every look.
    pub fn changed(&self) -> bool {
        let now: Vec<FileStamp> = self.paths.iter().map(|path| FileStamp::of(path)).collect();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if *last == now {
            return false;
        }
        *last = now;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_is_a_change_once() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("key");
        std::fs::write(&path, "one").expect("written");
        let watch = ChangeWatch::new(vec![path.clone()]);
        assert!(!watch.changed());
        // Same size, renamed into place: a new inode.
        let next = directory.path().join("key.new");
        std::fs::write(&next, "two").expect("written");
        std::fs::rename(&next, &path).expect("renamed");
        assert!(watch.changed());
        assert!(!watch.changed());
        std::fs::remove_file(&path).expect("removed");
        assert!(watch.changed());
    }
}
