//! The certificates of a Fulcrum cluster: make them and read them.
//!
//! One cluster CA signs every certificate the cluster trusts. Each certificate
//! it issues names an identity, and that encoding is a contract the rest of
//! Fulcrum relies on:
//!
//! - the subject **Common Name (CN)** is the *principal*: 1 to
//!   [`PRINCIPAL_MAX_BYTES`] characters of `A-Z a-z 0-9 . _ @ -`, starting
//!   with a letter or digit ([`check_principal`]);
//! - the subject **Organizational Unit (OU)** is the [`Role`]: `viewer`,
//!   `operator` or `admin` for a client certificate, `node` for a node's.
//!
//! A node certificate ([`Authority::issue_node`]) names the node (`node-1`),
//! carries every IP address and DNS name the node answers on as subject
//! alternative names, and serves for both TLS server and TLS client
//! authentication: a node uses one certificate on both sides of the peer port.
//! A client certificate ([`Authority::issue_client`]) serves for client
//! authentication only. All keys are ECDSA P-256.
//!
//! Everything here is a pure function of PEM text, except [`write_private`],
//! which writes a file readable by its owner only, and the random serial
//! numbers read from the operating system.
//!
//! - [`create_ca`] and [`Authority`]: the CA and the certificates it issues.
//! - [`identity_of`]: the principal and role of a verified peer certificate,
//!   read on every TLS handshake.
//! - [`describe`]: what a PEM bundle holds, for people.
//! - [`write_private`]: mode 0600 files, created that way.
//!
//! This crate knows no other Fulcrum crate, no async runtime and no TLS stack.

mod describe;
mod error;
mod files;
mod identity;
mod issue;

pub use describe::{BUNDLE_CERTIFICATES_MAX, Description, describe};
pub use error::PkiError;
pub use files::write_private;
pub use identity::{Identity, PRINCIPAL_MAX_BYTES, Role, check_principal, identity_of};
pub use issue::{
    Authority, CA_COMMON_NAME, CA_NAME_MAX_BYTES, CA_VALIDITY_DAYS_DEFAULT, CA_VALIDITY_DAYS_MAX,
    CaOptions, ClientOptions, HOSTS_MAX, LEAF_VALIDITY_DAYS_DEFAULT, LEAF_VALIDITY_DAYS_MAX,
    NodeOptions, VALIDITY_DAYS_MIN, create_ca,
};

use std::fmt;

/// A certificate and its private key, both PEM text.
///
/// `Debug` leaves the private key out.
#[derive(Clone, PartialEq, Eq)]
pub struct Pem {
    /// One `CERTIFICATE` section.
    pub certificate: String,
    /// One PKCS #8 `PRIVATE KEY` section.
    pub private_key: String,
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pem")
            .field("certificate", &self.certificate)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// Lower-case hexadecimal, no separators.
fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(text, "{byte:02x}");
    }
    text
}
