//! A test stand-in for a sealed certificate key. The node seals an uploaded
//! key with the cluster's data key before it proposes the upload; the domain
//! checks only the sealed text's shape and never opens it, so a test needs
//! no data key, only a well-formed text. Shared by the domain tests (through
//! `harness.rs`) and by the fuzz seeds (`tests/fuzz_corpus.rs`).

use fulcrum_raft_store::domain::sealed::{KEY_ID_BYTES, NONCE_BYTES, Sealed, TAG_BYTES};

/// The key id of every stand-in: `testonly` in ASCII (hex
/// `746573746f6e6c79`), so a stand-in is recognisable in any dump.
const STAND_IN_KEY_ID: [u8; KEY_ID_BYTES] = *b"testonly";
/// The nonce of every stand-in (never a real one: it is the same for all).
const STAND_IN_NONCE: [u8; NONCE_BYTES] = *b"not-a-nonce!";
/// Where a real sealed text has its AES-GCM tag.
const STAND_IN_TAG: [u8; TAG_BYTES] = *b"stand-in, no tag";
/// What the stand-in XORs the clear key with, so that not even its hex
/// digits spell the key.
const STAND_IN_MASK: u8 = 0x5a;

/// A sealed-shaped text for `clear_key_pem`, deterministic and NOT
/// encrypted: the key's bytes XOR a fixed mask, then a fixed 16-byte
/// "tag", under the fixed key id [`STAND_IN_KEY_ID`] and nonce
/// [`STAND_IN_NONCE`]. The clear PEM text does not occur in it.
pub fn sealed_stand_in(clear_key_pem: &str) -> String {
    let mut ciphertext: Vec<u8> = clear_key_pem
        .bytes()
        .map(|byte| byte ^ STAND_IN_MASK)
        .collect();
    ciphertext.extend_from_slice(&STAND_IN_TAG);
    Sealed {
        key_id: STAND_IN_KEY_ID,
        nonce: STAND_IN_NONCE,
        ciphertext,
    }
    .to_text()
}
