//! The cluster's data key: certificate private keys are sealed with it
//! (AES-256-GCM) by the node that receives an upload, before they enter the
//! log, and opened by a node's data plane, in memory only.
//!
//! The key file (`secrets.data_key_file`, made by `fulcrum certs
//! create-data-key`) holds one key per line, 64 hex digits; `#` starts a
//! comment. The first key seals; every key listed opens, so a key is
//! rotated by putting the new one first on every node (each reloads its
//! file within [`DATA_KEY_RELOAD_INTERVAL`]; [`DataKeyRing`]) and asking the
//! cluster to re-seal (`fulcrum cluster reseal-keys`); then the old line can
//! go. A key is named by its id (the first 8 bytes of a SHA-256 of it),
//! never printed or logged itself. `--dev` makes one under the data
//! directory when none is given.

use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use fulcrum_raft_store::domain::sealed::{KEY_ID_BYTES, NONCE_BYTES, Sealed};
use sha2::{Digest, Sha256};

use crate::file_stamp::ChangeWatch;

/// Bytes of a data key.
pub const DATA_KEY_BYTES: usize = 32;
/// Keys a data key file may list (the current one and those it replaces).
pub const MAX_DATA_KEYS: usize = 16;
/// The file `--dev` keeps its data key in, under the data directory.
pub const DEV_DATA_KEY_FILE: &str = "data-key";

/// Why the data key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The key file cannot be read or written.
    #[error("secrets.data_key_file: {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS's reason.
        source: std::io::Error,
    },
    /// The key file does not hold keys.
    #[error("secrets.data_key_file: {path}: {reason}")]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A sealed key names a data key this node does not have.
    #[error("sealed with data key {key_id}, which secrets.data_key_file does not list")]
    UnknownKey {
        /// The missing key's id, in hex.
        key_id: String,
    },
    /// The sealed text does not open: altered, or moved to another certificate.
    #[error(
        "a sealed key does not open with data key {key_id} (altered, or not this certificate's)"
    )]
    Corrupt {
        /// The key's id, in hex.
        key_id: String,
    },
    /// No random bytes, or the cipher refused.
    #[error("sealing failed: {0}")]
    Crypto(String),
}

/// One data key and its id.
struct DataKey {
    id: [u8; KEY_ID_BYTES],
    key: LessSafeKey,
}

/// The data keys a node holds: the first seals, all open.
pub struct DataKeys {
    keys: Vec<DataKey>,
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<String> = self.keys.iter().map(|key| hex(&key.id)).collect();
        formatter
            .debug_struct("DataKeys")
            .field("ids", &ids)
            .finish()
    }
}

/// `bytes` in lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A data key's id: it names the key in sealed texts and logs.
fn key_id(key: &[u8; DATA_KEY_BYTES]) -> [u8; KEY_ID_BYTES] {
    let digest = Sha256::new()
        .chain_update(b"fulcrum data key id\0")
        .chain_update(key)
        .finalize();
    let mut id = [0; KEY_ID_BYTES];
    id.copy_from_slice(&digest[..KEY_ID_BYTES]);
    id
}

/// `N` random bytes from the workspace's one crypto provider.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], SecretsError> {
    let mut bytes = [0; N];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| SecretsError::Crypto("no random bytes".to_owned()))?;
    Ok(bytes)
}

/// A new data key file's text: one fresh key.
pub fn new_key_file() -> Result<String, SecretsError> {
    let key: [u8; DATA_KEY_BYTES] = random()?;
    Ok(format!(
        "# Fulcrum data key {}: the same file on every node; keep it secret.\n{}\n",
        hex(&key_id(&key)),
        hex(&key)
    ))
}

impl DataKeys {
    /// The keys `text` lists (read from `path`).
    pub fn parse(path: &Path, text: &str) -> Result<Self, SecretsError> {
        let content = |reason: String| SecretsError::Content {
            path: path.to_owned(),
            reason,
        };
        let mut keys = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bytes: Option<Vec<u8>> = (line.len() == 2 * DATA_KEY_BYTES)
                .then(|| {
                    (0..line.len())
                        .step_by(2)
                        .map(|at| {
                            line.get(at..at + 2)
                                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                        })
                        .collect()
                })
                .flatten();
            let Some(Ok(key)) = bytes.map(<[u8; DATA_KEY_BYTES]>::try_from) else {
                return Err(content(format!(
                    "line {} is not a key of {} hex digits",
                    number + 1,
                    2 * DATA_KEY_BYTES
                )));
            };
            let unbound = UnboundKey::new(&AES_256_GCM, &key)
                .map_err(|_| content(format!("line {} is not an AES-256 key", number + 1)))?;
            keys.push(DataKey {
                id: key_id(&key),
                key: LessSafeKey::new(unbound),
            });
        }
        if keys.is_empty() {
            return Err(content(
                "holds no key (fulcrum certs create-data-key makes one)".to_owned(),
            ));
        }
        if keys.len() > MAX_DATA_KEYS {
            return Err(content(format!(
                "lists {} keys; at most {MAX_DATA_KEYS}",
                keys.len()
            )));
        }
        Ok(Self { keys })
    }

    /// Reads the key file at `path`.
    pub fn load(path: &Path) -> Result<Self, SecretsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SecretsError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Reads the key file at `path`, first writing a new one (0600) if there
    /// is none: `--dev`'s single node.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretsError> {
        if !path.exists() {
            let io = |source| SecretsError::Io {
                path: path.to_owned(),
                source,
            };
            if let Some(directory) = path.parent() {
                std::fs::create_dir_all(directory).map_err(io)?;
            }
            fulcrum_pki::write_private(path, &new_key_file()?, false).map_err(|error| {
                SecretsError::Content {
                    path: path.to_owned(),
                    reason: error.to_string(),
                }
            })?;
        }
        Self::load(path)
    }

    /// The id of the key that seals, in hex.
    pub fn current_id(&self) -> String {
        self.keys
            .first()
            .map(|key| hex(&key.id))
            .unwrap_or_default()
    }

    /// `clear`, sealed with the current key and bound to `aad`.
    pub fn seal(&self, clear: &str, aad: &[u8]) -> Result<String, SecretsError> {
        let current = self
            .keys
            .first()
            .ok_or_else(|| SecretsError::Crypto("no data key".to_owned()))?;
        let nonce: [u8; NONCE_BYTES] = random()?;
        let mut ciphertext = clear.as_bytes().to_vec();
        current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut ciphertext,
            )
            .map_err(|_| SecretsError::Crypto("AES-256-GCM refused to seal".to_owned()))?;
        Ok(Sealed {
            key_id: current.id,
            nonce,
            ciphertext,
        }
        .to_text())
    }

    /// The clear text of `sealed`, bound to `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<String, SecretsError> {
        let sealed = Sealed::parse("private_key", sealed)
            .map_err(|rejection| SecretsError::Crypto(rejection.to_string()))?;
        let key = self
            .keys
            .iter()
            .find(|key| key.id == sealed.key_id)
            .ok_or_else(|| SecretsError::UnknownKey {
                key_id: sealed.key_id_hex(),
            })?;
        let corrupt = || SecretsError::Corrupt {
            key_id: sealed.key_id_hex(),
        };
        let mut buffer = sealed.ciphertext.clone();
        let clear = key
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(sealed.nonce),
                Aad::from(aad),
                &mut buffer,
            )
            .map_err(|_| corrupt())?;
        String::from_utf8(clear.to_vec()).map_err(|_| corrupt())
    }

    /// Whether `sealed` was sealed with the current key.
    pub fn is_current(&self, sealed: &str) -> bool {
        Sealed::parse("private_key", sealed)
            .is_ok_and(|sealed| self.keys.first().is_some_and(|key| key.id == sealed.key_id))
    }
}

/// How often a node looks at its data key file for a change.
pub const DATA_KEY_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// A node's data keys, reloaded when their file changes: sealing and
/// opening take the current set; a file that does not load is logged and
/// the previous set stays.
pub struct DataKeyRing {
    path: PathBuf,
    current: arc_swap::ArcSwap<DataKeys>,
    changes: ChangeWatch,
}

impl DataKeyRing {
    /// The keys of `path` (made first when `create_if_missing`, for `--dev`).
    pub fn open(
        path: &Path,
        create_if_missing: bool,
    ) -> Result<std::sync::Arc<Self>, SecretsError> {
        let keys = if create_if_missing {
            DataKeys::load_or_create(path)?
        } else {
            DataKeys::load(path)?
        };
        Ok(std::sync::Arc::new(Self {
            path: path.to_owned(),
            changes: ChangeWatch::new(vec![path.to_owned()]),
            current: arc_swap::ArcSwap::from_pointee(keys),
        }))
    }

    /// The keys sealing and opening use now.
    pub fn current(&self) -> std::sync::Arc<DataKeys> {
        self.current.load_full()
    }

    /// Reloads the file if it changed since the last look; true when a new
    /// set took effect.
    pub fn reload_if_changed(&self) -> Result<bool, SecretsError> {
        if !self.changes.changed() {
            return Ok(false);
        }
        self.current
            .store(std::sync::Arc::new(DataKeys::load(&self.path)?));
        Ok(true)
    }

    /// Looks at the file every [`DATA_KEY_RELOAD_INTERVAL`], forever.
    pub async fn watch(self: std::sync::Arc<Self>) {
        let mut ticks = tokio::time::interval(DATA_KEY_RELOAD_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match self.reload_if_changed() {
                Ok(true) => tracing::info!(
                    data_key_id = %self.current().current_id(),
                    "the data key file changed: new uploads are sealed with its first key"
                ),
                Ok(false) => {}
                Err(error) => tracing::warn!(
                    %error,
                    "the data key file changed but does not load; the previous keys stay in use"
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> DataKeys {
        DataKeys::parse(Path::new("data.key"), text).expect("valid keys")
    }

    #[test]
    fn a_sealed_key_opens_only_with_its_key_and_its_certificate() {
        let old = new_key_file().unwrap();
        let new = new_key_file().unwrap();
        let before = keys(&old);
        let sealed = before
            .seal("-----BEGIN PRIVATE KEY-----", b"chain-a")
            .unwrap();
        assert!(!sealed.contains("BEGIN PRIVATE KEY"));
        assert_eq!(
            before.open(&sealed, b"chain-a").unwrap(),
            "-----BEGIN PRIVATE KEY-----"
        );
        // Bound to its certificate.
        assert!(matches!(
            before.open(&sealed, b"chain-b"),
            Err(SecretsError::Corrupt { .. })
        ));
        // Rotation: the new key first, the old one still opens.
        let both = keys(&format!("{new}{old}"));
        assert_eq!(
            both.open(&sealed, b"chain-a").unwrap(),
            "-----BEGIN PRIVATE KEY-----"
        );
        assert!(!both.is_current(&sealed));
        assert!(both.is_current(&both.seal("k", b"chain-a").unwrap()));
        // A node without the key says which one it lacks.
        let error = keys(&new).open(&sealed, b"chain-a").unwrap_err();
        assert!(error.to_string().contains(&before.current_id()), "{error}");
        // Two seals of one text differ (fresh nonces).
        assert_ne!(
            before.seal("k", b"x").unwrap(),
            before.seal("k", b"x").unwrap()
        );
    }

    #[test]
    fn bad_key_files_are_named() {
        for bad in ["", "# only a comment\n", "abcd\n", &"zz".repeat(32)] {
            let error = DataKeys::parse(Path::new("data.key"), bad).unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with("secrets.data_key_file: data.key"),
                "{error}"
            );
        }
        assert!(format!("{:?}", keys(&new_key_file().unwrap())).contains("ids"));
    }
}
