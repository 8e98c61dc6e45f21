//! The shape of a sealed secret: a certificate's private key as it travels
//! and rests from log format 3 on, encrypted (AES-256-GCM) by the node that
//! received the upload, with the cluster's data key. The log, the state,
//! the snapshots, the history and the peer stream hold only this text; a
//! node's data plane opens it in memory.
//!
//! The domain holds no key: it checks the shape, never the content. The
//! nodes seal and open (`node/src/secrets.rs`); the associated data binds
//! a sealed key to its certificate chain, so a sealed key moved to another
//! certificate does not open.
//!
//! Text: `fulcrum-sealed:v1:KEY_ID:NONCE:CIPHERTEXT`, each field lowercase
//! hex: the data key's id (8 bytes), the nonce (12 bytes), the ciphertext
//! with its 16-byte tag.

use sha2::{Digest, Sha256};

use super::limits::MAX_PEM_BYTES;
use super::rejection::Rejection;

/// What every sealed text starts with.
pub const SEALED_PREFIX: &str = "fulcrum-sealed:v1:";
/// Bytes of a data key's id.
pub const KEY_ID_BYTES: usize = 8;
/// Bytes of an AES-GCM nonce.
pub const NONCE_BYTES: usize = 12;
/// Bytes of an AES-GCM tag.
pub const TAG_BYTES: usize = 16;
/// The longest sealed text: a private key of [`MAX_PEM_BYTES`], sealed.
pub const MAX_SEALED_BYTES: usize =
    SEALED_PREFIX.len() + 2 * (KEY_ID_BYTES + NONCE_BYTES + MAX_PEM_BYTES + TAG_BYTES) + 2;

/// A sealed secret, read from its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// Which data key sealed it.
    pub key_id: [u8; KEY_ID_BYTES],
    /// The nonce it was sealed with.
    pub nonce: [u8; NONCE_BYTES],
    /// The ciphertext, tag last.
    pub ciphertext: Vec<u8>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(field: &str, text: &str) -> Result<Vec<u8>, Rejection> {
    if !text.len().is_multiple_of(2) {
        return Err(Rejection::invalid(
            field,
            "a sealed field has an odd number of hex digits",
        ));
    }
    (0..text.len())
        .step_by(2)
        .map(|at| {
            text.get(at..at + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| Rejection::invalid(field, "a sealed field is not hex"))
        })
        .collect()
}

impl Sealed {
    /// Reads `text`, naming `field` when its shape is wrong.
    pub fn parse(field: &str, text: &str) -> Result<Self, Rejection> {
        if text.len() > MAX_SEALED_BYTES {
            return Err(Rejection::invalid(
                field,
                format!(
                    "has {} bytes; a sealed key has at most {MAX_SEALED_BYTES}",
                    text.len()
                ),
            ));
        }
        let Some(rest) = text.strip_prefix(SEALED_PREFIX) else {
            return Err(Rejection::invalid(
                field,
                format!(
                    "must be sealed with the cluster's data key (\"{SEALED_PREFIX}...\"); the node that receives an upload seals it"
                ),
            ));
        };
        let mut parts = rest.split(':');
        let (Some(key_id), Some(nonce), Some(ciphertext), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Rejection::invalid(
                field,
                "a sealed key has three fields: KEY_ID:NONCE:CIPHERTEXT",
            ));
        };
        let key_id: [u8; KEY_ID_BYTES] = unhex(field, key_id)?.try_into().map_err(|_| {
            Rejection::invalid(field, format!("a sealed key's id has {KEY_ID_BYTES} bytes"))
        })?;
        let nonce: [u8; NONCE_BYTES] = unhex(field, nonce)?.try_into().map_err(|_| {
            Rejection::invalid(
                field,
                format!("a sealed key's nonce has {NONCE_BYTES} bytes"),
            )
        })?;
        let ciphertext = unhex(field, ciphertext)?;
        if ciphertext.len() <= TAG_BYTES {
            return Err(Rejection::invalid(
                field,
                "a sealed key's ciphertext is shorter than its tag",
            ));
        }
        Ok(Self {
            key_id,
            nonce,
            ciphertext,
        })
    }

    /// The text form.
    pub fn to_text(&self) -> String {
        format!(
            "{SEALED_PREFIX}{}:{}:{}",
            hex(&self.key_id),
            hex(&self.nonce),
            hex(&self.ciphertext)
        )
    }

    /// The id of the data key that sealed it, in hex.
    pub fn key_id_hex(&self) -> String {
        hex(&self.key_id)
    }
}

/// Whether `text` is a sealed secret (rather than a clear PEM key of an
/// entry written before log format 3).
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(SEALED_PREFIX)
}

/// The associated data a certificate's key is sealed with: it binds the
/// key to the certificate chain it was uploaded with.
pub fn certificate_key_aad(certificate_chain_pem: &str) -> Vec<u8> {
    let mut aad = b"fulcrum certificate key\0".to_vec();
    aad.extend_from_slice(&Sha256::digest(certificate_chain_pem.as_bytes()));
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_bad_shapes_name_the_field() {
        let sealed = Sealed {
            key_id: [1; KEY_ID_BYTES],
            nonce: [2; NONCE_BYTES],
            ciphertext: vec![3; 40],
        };
        let text = sealed.to_text();
        assert!(is_sealed(&text));
        assert_eq!(Sealed::parse("private_key", &text).unwrap(), sealed);
        for bad in [
            "-----BEGIN PRIVATE KEY-----",
            "fulcrum-sealed:v1:0101",
            "fulcrum-sealed:v1:01:02:03:04",
            "fulcrum-sealed:v1:zz01010101010101:020202020202020202020202:0303030303030303030303030303030303",
            "fulcrum-sealed:v1:0101010101010101:020202020202020202020202:03",
        ] {
            let rejection = Sealed::parse("private_key", bad).unwrap_err();
            assert!(
                rejection.to_string().contains("private_key"),
                "{bad}: {rejection}"
            );
        }
    }
}
