//! The cluster id: which cluster a node belongs to, carried by every Raft
//! message (the `fulcrum-cluster-id` header) and checked by its receiver, so
//! that nodes of two clusters never mix, even when an address is reused.
//!
//! The id is derived when a cluster is bootstrapped, from its initial
//! members (every bootstrapping member derives the same one, as etcd derives
//! its cluster id from `--initial-cluster`), and kept in the data directory
//! (`cluster-id`). A joining node learns it from the member it joins. A node
//! that has none yet (an empty data directory waiting to be added) takes the
//! id of the first leader that replicates to it, and grants no vote before.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use sha2::{Digest, Sha256};
use tonic::Status;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};

use crate::config::InitialMember;

/// The request header that carries the sender's cluster id.
pub const CLUSTER_ID_HEADER: &str = "fulcrum-cluster-id";
/// The file in the data directory that holds the id.
pub const CLUSTER_ID_FILE: &str = "cluster-id";
/// Hex digits of an id: 64 bits.
const ID_HEX_DIGITS: usize = 16;

/// The id of the cluster bootstrapped from `members`: the same on every
/// member, whatever the order they are listed in.
pub fn derive(members: &[InitialMember]) -> String {
    let mut sorted: Vec<&InitialMember> = members.iter().collect();
    sorted.sort_by_key(|member| member.id);
    let mut hasher = Sha256::new();
    hasher.update(b"fulcrum cluster\0");
    for member in sorted {
        hasher.update(format!(
            "{}={}/{};",
            member.id, member.raft_address, member.api_address
        ));
    }
    let digest = hasher.finalize();
    digest
        .iter()
        .take(ID_HEX_DIGITS / 2)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// What a receiver may do with a message from a cluster it does not know yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unknown {
    /// Take the sender's id: a leader replicating to this new node.
    Adopt,
    /// Refuse: a vote or a forwarded command needs a node that knows its cluster.
    Refuse,
}

/// This node's cluster id, once known, and where it is kept.
#[derive(Debug)]
pub struct ClusterIdentity {
    path: PathBuf,
    id: RwLock<Option<String>>,
}

impl ClusterIdentity {
    /// The identity kept in `data_dir`, or none yet.
    pub fn load(data_dir: &Path) -> io::Result<Self> {
        let path = data_dir.join(CLUSTER_ID_FILE);
        let id = match std::fs::read_to_string(&path) {
            Ok(text) => Some(checked(text.trim()).map_err(|message| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {message}", path.display()),
                )
            })?),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        Ok(Self {
            path,
            id: RwLock::new(id),
        })
    }

    /// An identity that is never written (tests of the Raft network alone).
    pub fn in_memory(id: &str) -> Self {
        Self {
            path: PathBuf::new(),
            id: RwLock::new(Some(id.to_owned())),
        }
    }

    /// The id, once known.
    pub fn get(&self) -> Option<String> {
        self.id
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Keeps `id` as this node's (durably: written, synced, renamed into
    /// place); refuses a different id than the one already kept.
    pub fn adopt(&self, id: &str) -> io::Result<()> {
        let id =
            checked(id).map_err(|message| io::Error::new(io::ErrorKind::InvalidInput, message))?;
        let mut current = self
            .id
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match current.as_deref() {
            Some(known) if known == id => return Ok(()),
            Some(known) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("this node belongs to cluster {known}, not {id}"),
                ));
            }
            None => {}
        }
        if !self.path.as_os_str().is_empty() {
            write_durably(&self.path, id.as_bytes())?;
        }
        *current = Some(id);
        Ok(())
    }

    /// Checks the cluster id a Raft message carries against this node's.
    pub fn check(&self, metadata: &MetadataMap, unknown: Unknown) -> Result<(), Status> {
        let Some(sent) = metadata
            .get(CLUSTER_ID_HEADER)
            .and_then(|value| value.to_str().ok())
        else {
            return Err(Status::failed_precondition(format!(
                "{CLUSTER_ID_HEADER}: a Raft message must carry its cluster id"
            )));
        };
        match (self.get(), unknown) {
            (Some(own), _) if own == sent => Ok(()),
            (Some(own), _) => Err(Status::failed_precondition(format!(
                "{CLUSTER_ID_HEADER}: this node belongs to cluster {own}, not {sent}; nodes of two clusters never mix"
            ))),
            (None, Unknown::Adopt) => self.adopt(sent).map_err(|error| {
                Status::failed_precondition(format!("{CLUSTER_ID_HEADER}: {error}"))
            }),
            (None, Unknown::Refuse) => Err(Status::failed_precondition(format!(
                "{CLUSTER_ID_HEADER}: this node belongs to no cluster yet (an empty data directory); it takes part only once a leader has added it"
            ))),
        }
    }

    /// The header value to send, once the id is known.
    pub fn header(&self) -> Option<AsciiMetadataValue> {
        self.get()
            .and_then(|id| AsciiMetadataValue::try_from(id).ok())
    }
}

/// An id is 16 lowercase hex digits.
fn checked(id: &str) -> Result<String, String> {
    if id.len() == ID_HEX_DIGITS
        && id
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
    {
        Ok(id.to_owned())
    } else {
        Err(format!(
            "{id:?} is not a cluster id ({ID_HEX_DIGITS} lowercase hex digits)"
        ))
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or
/// the whole new one: a temporary file, synced, renamed, directory synced.
fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temporary = path.with_extension("tmp");
    {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    if let Some(directory) = path.parent() {
        std::fs::File::open(directory)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u64) -> InitialMember {
        InitialMember {
            id,
            raft_address: format!("10.0.0.{id}:7401"),
            api_address: format!("10.0.0.{id}:7400"),
        }
    }

    #[test]
    fn every_member_derives_the_same_id_and_other_clusters_another() {
        let one = derive(&[member(1), member(2), member(3)]);
        assert_eq!(one, derive(&[member(3), member(1), member(2)]));
        assert_ne!(one, derive(&[member(1), member(2), member(4)]));
        assert!(checked(&one).is_ok(), "{one}");
    }

    #[test]
    fn a_kept_id_survives_a_restart_and_refuses_another() {
        let directory = tempfile::tempdir().expect("directory");
        let identity = ClusterIdentity::load(directory.path()).expect("load");
        assert_eq!(identity.get(), None);
        identity.adopt("0123456789abcdef").expect("adopt");
        let again = ClusterIdentity::load(directory.path()).expect("load");
        assert_eq!(again.get().as_deref(), Some("0123456789abcdef"));
        assert!(again.adopt("fedcba9876543210").is_err());
    }

    #[test]
    fn messages_of_another_or_no_cluster_are_refused() {
        let identity = ClusterIdentity::in_memory("0123456789abcdef");
        let mut metadata = MetadataMap::new();
        assert!(identity.check(&metadata, Unknown::Adopt).is_err());
        metadata.insert(
            CLUSTER_ID_HEADER,
            AsciiMetadataValue::from_static("fedcba9876543210"),
        );
        let refused = identity
            .check(&metadata, Unknown::Adopt)
            .expect_err("refused");
        assert!(refused.message().contains("never mix"), "{refused:?}");
        metadata.insert(
            CLUSTER_ID_HEADER,
            AsciiMetadataValue::from_static("0123456789abcdef"),
        );
        assert!(identity.check(&metadata, Unknown::Refuse).is_ok());
    }

    #[test]
    fn a_new_node_adopts_from_a_leader_but_grants_no_vote_first() {
        let directory = tempfile::tempdir().expect("directory");
        let identity = ClusterIdentity::load(directory.path()).expect("load");
        let mut metadata = MetadataMap::new();
        metadata.insert(
            CLUSTER_ID_HEADER,
            AsciiMetadataValue::from_static("0123456789abcdef"),
        );
        assert!(identity.check(&metadata, Unknown::Refuse).is_err());
        identity.check(&metadata, Unknown::Adopt).expect("adopted");
        assert_eq!(identity.get().as_deref(), Some("0123456789abcdef"));
    }
}
