//! SHA-256 helpers and the canonical JSON every digest is taken over.

use std::io::{self, BufWriter, Write};

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

/// SHA-256 (hex) of the canonical JSON of `value`, streamed into the hasher
/// so a list of a million entries is never held as one buffer.
pub fn canonical_json_digest<T: Serialize + ?Sized>(value: &T) -> String {
    let mut w = BufWriter::with_capacity(1 << 16, HashWriter::default());
    // Writing into a hasher cannot fail, and neither can serialising the
    // digested types (see `canonical_json`).
    serde_json::to_writer(&mut w, value).expect("digested types always serialise");
    match w.into_inner() {
        Ok(h) => h.hex(),
        Err(_) => unreachable!("flushing into a hasher cannot fail"),
    }
}

/// An `io::Write` that hashes what is written to it.
#[derive(Debug, Default, Clone)]
pub struct HashWriter(Sha256);

impl HashWriter {
    pub fn hex(self) -> String {
        hex::encode(self.0.finalize())
    }
}

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
