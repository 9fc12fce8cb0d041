//! The append-only audit log of draw runs and list changes.
//!
//! One JSON object per line. Each line carries `prev`, the `hash` of the
//! line before it (64 zeros for the first), and its own `hash`: the SHA-256
//! of the line's bytes with the `hash` member left out, i.e. of
//! `{"seq":…,…,"prev":"…"}` exactly as written. Hashing the written bytes,
//! not a re-serialisation, makes verification independent of JSON
//! formatting. [`verify`] then detects:
//!
//! - an edited entry (its own hash no longer matches);
//! - an edited entry whose hash was recomputed (the next entry's `prev`
//!   no longer matches);
//! - an inserted or deleted entry (`seq` is not consecutive, `prev` breaks);
//! - deleted or rewritten entries at the end, against a recorded head
//!   ([`verify_with_anchor`]): the head hash is published at
//!   `GET /v1/audit/head` and the entry count in the `tidewatch_audit_entries`
//!   metric, which Prometheus keeps outside this file's reach.
//!
//! Entries never contain personal data: detail members that name a legal
//! representative are redacted before hashing.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened. Dotted names, grouped by subject.
pub mod action {
    pub const DRAW_COMMIT: &str = "draw.commit";
    pub const DRAW_RUN: &str = "draw.run";
    pub const DRAW_REPLACE: &str = "draw.replace";
    pub const LIST_ADD: &str = "list.add";
    pub const LIST_REMOVE: &str = "list.remove";
    pub const LIST_EXPIRE: &str = "list.expire";
    /// The engine proposed a listing to the listing authority.
    pub const LIST_PROPOSE: &str = "list.propose";
    /// A proposal was withdrawn (its basis was withdrawn or retracted).
    pub const LIST_WITHDRAW: &str = "list.withdraw";
}

/// What a caller records.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Who: a token's name, or `engine` for automatic list changes.
    pub actor: String,
    /// One of [`action`].
    pub action: String,
    /// What it concerns: a plan id, or a list and USCC (`serious/9133…`).
    pub subject: String,
    pub detail: Value,
}

/// One entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    /// UTC, RFC 3339 with milliseconds.
    pub time: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: Value,
    pub prev: String,
    pub hash: String,
}

/// The body written and hashed: the entry without its hash. Field order
/// here is the order in the file.
#[derive(Serialize)]
struct Body<'a> {
    seq: u64,
    time: &'a str,
    actor: &'a str,
    action: &'a str,
    subject: &'a str,
    detail: &'a Value,
    prev: &'a str,
}

/// The end of the chain: how many entries, and the last hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub entries: u64,
    pub hash: String,
}

/// Why a log does not verify. `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("line {line}: not an audit entry ({message})")]
    Malformed { line: u64, message: String },
    #[error("line {line}: hash does not match the entry's content (entry edited)")]
    HashMismatch { line: u64 },
    #[error("line {line}: seq is {found}, expected {expected} (entry inserted or deleted)")]
    Sequence {
        line: u64,
        expected: u64,
        found: u64,
    },
    #[error("line {line}: prev does not match the hash of the entry before it (entry edited, inserted or deleted)")]
    BrokenLink { line: u64 },
    #[error("anchor {hash} at entry {entries} is not in the log (entries deleted or rewritten)")]
    AnchorMissing { entries: u64, hash: String },
}

fn io_err(path: &Path, e: std::io::Error) -> AuditError {
    AuditError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The suffix every line ends with: `,"hash":"<64 hex>"}`.
const HASH_PREFIX: &str = ",\"hash\":\"";
const HASH_SUFFIX_LEN: usize = HASH_PREFIX.len() + 64 + 2;

/// Checks one line against the previous head; returns the entry.
fn check_line(line_no: u64, line: &str, prev: &Head) -> Result<AuditEntry, AuditError> {
    let malformed = |m: &str| AuditError::Malformed {
        line: line_no,
        message: m.to_string(),
    };
    let entry: AuditEntry = serde_json::from_str(line).map_err(|e| malformed(&e.to_string()))?;
    if line.len() < HASH_SUFFIX_LEN || !line.is_char_boundary(line.len() - HASH_SUFFIX_LEN) {
        return Err(malformed("hash is not the last member"));
    }
    let (body, tail) = line.split_at(line.len() - HASH_SUFFIX_LEN);
    if tail != format!("{HASH_PREFIX}{}\"}}", entry.hash) {
        return Err(malformed("hash is not the last member"));
    }
    let mut hashed = String::with_capacity(body.len() + 1);
    hashed.push_str(body);
    hashed.push('}');
    if sha256_hex(hashed.as_bytes()) != entry.hash {
        return Err(AuditError::HashMismatch { line: line_no });
    }
    if entry.seq != prev.entries + 1 {
        return Err(AuditError::Sequence {
            line: line_no,
            expected: prev.entries + 1,
            found: entry.seq,
        });
    }
    if entry.prev != prev.hash {
        return Err(AuditError::BrokenLink { line: line_no });
    }
    Ok(entry)
}

fn genesis() -> Head {
    Head {
        entries: 0,
        hash: GENESIS.to_string(),
    }
}

/// Verifies a whole log; returns its head. A missing file is an error
/// (an empty file is a valid empty log).
pub fn verify(path: &Path) -> Result<Head, AuditError> {
    verify_with_anchor(path, None)
}

/// Same, and checks that the entry numbered `anchor.entries` has hash
/// `anchor.hash`: a head recorded earlier must still be in the chain.
pub fn verify_with_anchor(path: &Path, anchor: Option<&Head>) -> Result<Head, AuditError> {
    let f = File::open(path).map_err(|e| io_err(path, e))?;
    let mut head = genesis();
    let mut anchor_seen = anchor.is_none_or(|a| a.entries == 0 && a.hash == GENESIS);
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| io_err(path, e))?;
        let line_no = i as u64 + 1;
        let e = check_line(line_no, &line, &head)?;
        head = Head {
            entries: e.seq,
            hash: e.hash,
        };
        if let Some(a) = anchor {
            if a.entries == head.entries {
                if a.hash != head.hash {
                    return Err(AuditError::AnchorMissing {
                        entries: a.entries,
                        hash: a.hash.clone(),
                    });
                }
                anchor_seen = true;
            }
        }
    }
    if !anchor_seen {
        if let Some(a) = anchor {
            return Err(AuditError::AnchorMissing {
                entries: a.entries,
                hash: a.hash.clone(),
            });
        }
    }
    Ok(head)
}

/// Reads entries after `after` (a seq), up to `limit`, from a verified log.
pub fn read_after(path: &Path, after: u64, limit: usize) -> Result<Vec<AuditEntry>, AuditError> {
    let f = File::open(path).map_err(|e| io_err(path, e))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| io_err(path, e))?;
        let e: AuditEntry = serde_json::from_str(&line).map_err(|e| AuditError::Malformed {
            line: i as u64 + 1,
            message: e.to_string(),
        })?;
        if e.seq > after {
            out.push(e);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

/// An open audit log. Appends are serialised and flushed to disk before
/// they return.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    state: Mutex<(File, Head)>,
}

impl AuditLog {
    /// Opens (creating if absent) a log and verifies what is there. A log
    /// that fails verification is not appended to: adding entries would
    /// chain onto tampered history.
    pub fn open(path: impl Into<PathBuf>) -> Result<AuditLog, AuditError> {
        let path = path.into();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        let head = verify(&path)?;
        Ok(AuditLog {
            path,
            state: Mutex::new((file, head)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn head(&self) -> Head {
        self.lock().1.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (File, Head)> {
        // A panic mid-append leaves at worst a partial last line, which
        // verification reports; the head in memory is only replaced after a
        // complete write, so recovering the guard is safe.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one entry at the current time.
    pub fn append(&self, record: AuditRecord) -> Result<AuditEntry, AuditError> {
        self.append_at(record, SystemTime::now())
    }

    /// Appends one entry with a given time (tests pass a fixed one).
    pub fn append_at(&self, record: AuditRecord, at: SystemTime) -> Result<AuditEntry, AuditError> {
        let mut out = self.append_all_at(vec![record], at)?;
        out.pop().ok_or_else(|| AuditError::Malformed {
            line: 0,
            message: "no entry written".into(),
        })
    }

    /// Appends entries in order with one write and one sync (the engine
    /// records a micro-batch's list changes at once).
    pub fn append_all(&self, records: Vec<AuditRecord>) -> Result<Vec<AuditEntry>, AuditError> {
        self.append_all_at(records, SystemTime::now())
    }

    fn append_all_at(
        &self,
        records: Vec<AuditRecord>,
        at: SystemTime,
    ) -> Result<Vec<AuditEntry>, AuditError> {
        let time = rfc3339_millis(at);
        let mut st = self.lock();
        let mut head = st.1.clone();
        let mut text = String::new();
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let detail = redact(record.detail);
            let seq = head.entries + 1;
            let prev = head.hash.clone();
            let body = Body {
                seq,
                time: &time,
                actor: &record.actor,
                action: &record.action,
                subject: &record.subject,
                detail: &detail,
                prev: &prev,
            };
            let body = serde_json::to_string(&body).map_err(|e| AuditError::Malformed {
                line: seq,
                message: e.to_string(),
            })?;
            let hash = sha256_hex(body.as_bytes());
            text.push_str(&body[..body.len() - 1]);
            text.push_str(HASH_PREFIX);
            text.push_str(&hash);
            text.push_str("\"}\n");
            head = Head {
                entries: seq,
                hash: hash.clone(),
            };
            out.push(AuditEntry {
                seq,
                time: time.clone(),
                actor: record.actor,
                action: record.action,
                subject: record.subject,
                detail,
                prev,
                hash,
            });
        }
        if out.is_empty() {
            return Ok(out);
        }
        let file = &mut st.0;
        file.write_all(text.as_bytes())
            .and_then(|_| file.sync_data())
            .map_err(|e| io_err(&self.path, e))?;
        st.1 = head;
        for e in &out {
            tracing::info!(seq = e.seq, action = %e.action, head = %e.hash, "audit entry appended");
        }
        Ok(out)
    }
}

/// Replaces the value of any member whose name mentions a legal
/// representative, at any depth: the audit log is kept for years and read
/// by many, so it must not carry personal data even if a caller passes it.
pub fn redact(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    if is_personal_key(&k) {
                        (k, Value::String("[redacted]".into()))
                    } else {
                        (k, redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(redact).collect()),
        other => other,
    }
}

fn is_personal_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    ["legal_rep", "legalrep", "id_number", "person", "phone"]
        .iter()
        .any(|p| k.contains(p))
}

/// `2025-01-31T08:00:00.123Z`. The wall clock is right here: the audit log
/// records when a person acted, unlike outputs, which use the as-of date.
fn rfc3339_millis(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    match chrono::DateTime::from_timestamp(secs, d.subsec_nanos()) {
        Some(dt) => dt.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        None => "1970-01-01T00:00:00.000Z".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(action: &str, subject: &str) -> AuditRecord {
        AuditRecord {
            actor: "desk".into(),
            action: action.into(),
            subject: subject.into(),
            detail: json!({"field": "food", "legal_rep_key": "LR-1"}),
        }
    }

    #[test]
    fn append_then_reopen_continues_the_chain() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("a/audit.jsonl");
        let log = AuditLog::open(&p).expect("open");
        let e1 = log.append(rec(action::DRAW_COMMIT, "p1")).expect("append");
        assert_eq!(e1.prev, GENESIS);
        assert_eq!(e1.detail["legal_rep_key"], "[redacted]");
        drop(log);
        let log = AuditLog::open(&p).expect("reopen");
        let e2 = log.append(rec(action::DRAW_RUN, "p1")).expect("append");
        assert_eq!(e2.seq, 2);
        assert_eq!(e2.prev, e1.hash);
        let head = verify(&p).expect("verifies");
        assert_eq!(
            head,
            Head {
                entries: 2,
                hash: e2.hash.clone()
            }
        );
        let text = std::fs::read_to_string(&p).expect("read");
        assert!(!text.contains("LR-1"));
        assert_eq!(read_after(&p, 1, 10).expect("read").len(), 1);
    }

    #[test]
    fn a_tampered_log_is_not_appended_to() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&p).expect("open");
        log.append(rec(action::DRAW_RUN, "p1")).expect("append");
        drop(log);
        let text = std::fs::read_to_string(&p)
            .expect("read")
            .replace("p1", "p2");
        std::fs::write(&p, text).expect("write");
        assert!(matches!(
            AuditLog::open(&p),
            Err(AuditError::HashMismatch { line: 1 })
        ));
    }
}
