//! Dead-letter records: what was rejected, where it came from, and why.
//!
//! A rejected record keeps its original bytes (as text, or base64 when they
//! are not UTF-8) so that it can be repaired and replayed; nothing is dropped.

use base64::Engine;
use serde::{Deserialize, Serialize};
use tidewatch_model::{Family, RejectReason, Rejection};

/// Where a record was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SourcePos {
    File {
        file: String,
        line: u64,
    },
    Kafka {
        topic: String,
        partition: i32,
        offset: i64,
    },
}

impl std::fmt::Display for SourcePos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourcePos::File { file, line } => write!(f, "{file}:{line}"),
            SourcePos::Kafka {
                topic,
                partition,
                offset,
            } => write!(f, "{topic}[{partition}]@{offset}"),
        }
    }
}

/// Anything that can say where a record came from. A source hands the
/// ingest step one per record; it is turned into a [`SourcePos`] only for a
/// record that is held or rejected, so a source need not build a `String`
/// per record.
pub trait Locate {
    fn locate(&self) -> SourcePos;
}

impl Locate for SourcePos {
    fn locate(&self) -> SourcePos {
        self.clone()
    }
}

/// A line of a named file, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLine<'a> {
    pub file: &'a str,
    pub line: u64,
}

impl Locate for FileLine<'_> {
    fn locate(&self) -> SourcePos {
        SourcePos::File {
            file: self.file.to_owned(),
            line: self.line,
        }
    }
}

/// A record as a batch of the ingest step takes it: family, bytes (borrowed
/// or owned) and where it came from, e.g. `(Family, &[u8], SourcePos)` or
/// `(Family, Vec<u8>, FileLine)`.
pub trait Record: Sync {
    fn family(&self) -> Family;
    fn bytes(&self) -> &[u8];
    fn source(&self) -> SourcePos;
}

impl<B: AsRef<[u8]> + Sync, S: Locate + Sync> Record for (Family, B, S) {
    fn family(&self) -> Family {
        self.0
    }
    fn bytes(&self) -> &[u8] {
        self.1.as_ref()
    }
    fn source(&self) -> SourcePos {
        self.2.locate()
    }
}

/// One line of `dead-letter.ndjson` (or one record of the dead-letter topic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub reason: RejectReason,
    pub message: String,
    pub family: Family,
    pub source: SourcePos,
    /// The record as received, when it is valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    /// The record as received, base64, when it is not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_base64: Option<String>,
}

impl DeadLetter {
    pub fn new(rejection: Rejection, family: Family, source: SourcePos, bytes: &[u8]) -> Self {
        let (original, original_base64) = match std::str::from_utf8(bytes) {
            Ok(s) => (Some(s.to_owned()), None),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            ),
        };
        DeadLetter {
            reason: rejection.reason,
            message: rejection.message,
            family,
            source,
            original,
            original_base64,
        }
    }

    /// The original bytes, whichever way they were stored.
    pub fn original_bytes(&self) -> Option<Vec<u8>> {
        match (&self.original, &self.original_base64) {
            (Some(s), _) => Some(s.as_bytes().to_vec()),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD.decode(b).ok(),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_round_trips_through_base64() {
        let bytes = [0xff, 0xfe, b'{'];
        let d = DeadLetter::new(
            Rejection::new(RejectReason::MalformedJson, "bad"),
            Family::Complaints,
            SourcePos::Kafka {
                topic: "tidewatch.complaints".into(),
                partition: 3,
                offset: 42,
            },
            &bytes,
        );
        let j = serde_json::to_string(&d).expect("serialise");
        assert!(j.contains("\"original_base64\""));
        assert!(j.contains("\"partition\":3"));
        let back: DeadLetter = serde_json::from_str(&j).expect("deserialise");
        assert_eq!(back.original_bytes().as_deref(), Some(&bytes[..]));
        assert_eq!(back, d);
    }
}
