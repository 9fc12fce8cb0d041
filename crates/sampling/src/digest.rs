//! SHA-256 helpers and the canonical JSON every digest is taken over.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Lower-case hex of SHA-256 over `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha256(&[bytes]))
}

/// Canonical JSON: serde_json's compact form, fields in declaration order,
/// no whitespace, non-ASCII written as raw UTF-8.
pub fn canonical_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Only plain structs with string keys and no floats are digested here,
    // and serialising those into a Vec cannot fail.
    serde_json::to_vec(value).expect("digested types always serialise")
}
