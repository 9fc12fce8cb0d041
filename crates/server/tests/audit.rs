//! The audit chain detects an edited, inserted or deleted entry.

use std::path::Path;

use serde_json::json;
use sha2::{Digest, Sha256};
use tidewatch_server::audit::{self, action, verify, verify_with_anchor, AuditError};
use tidewatch_server::{AuditLog, AuditRecord, Head};

fn log_with(n: usize) -> (tempfile::TempDir, std::path::PathBuf, Vec<String>) {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&p).expect("open");
    for i in 0..n {
        log.append(AuditRecord {
            actor: "planning-desk".into(),
            action: if i % 2 == 0 {
                action::DRAW_RUN
            } else {
                action::LIST_ADD
            }
            .into(),
            subject: format!("subject-{i}"),
            detail: json!({"n": i, "list": "serious"}),
        })
        .expect("append");
    }
    let lines = read_lines(&p);
    (dir, p, lines)
}

fn read_lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .expect("read")
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(p: &Path, lines: &[String]) {
    let mut s = lines.join("\n");
    s.push('\n');
    std::fs::write(p, s).expect("write");
}

/// Re-seals an edited line so its own hash is right again, as a forger
/// who knows the format would.
fn reseal(line: &str) -> String {
    let body_end = line.rfind(",\"hash\":\"").expect("hash member");
    let body = format!("{}}}", &line[..body_end]);
    let h = hex::encode(Sha256::digest(body.as_bytes()));
    format!("{},\"hash\":\"{h}\"}}", &line[..body_end])
}

#[test]
fn an_intact_log_verifies() {
    let (_d, p, lines) = log_with(5);
    let head = verify(&p).expect("verifies");
    assert_eq!(head.entries, 5);
    assert!(lines[4].ends_with(&format!("\"hash\":\"{}\"}}", head.hash)));
    let empty = p.with_file_name("empty.jsonl");
    std::fs::write(&empty, "").expect("write");
    assert_eq!(verify(&empty).expect("empty log").entries, 0);
}

#[test]
fn an_edited_entry_is_detected() {
    let (_d, p, mut lines) = log_with(5);
    lines[2] = lines[2].replace("subject-2", "subject-X");
    write_lines(&p, &lines);
    assert_eq!(verify(&p), Err(AuditError::HashMismatch { line: 3 }));
}

#[test]
fn an_edited_and_resealed_entry_breaks_the_next_link() {
    let (_d, p, mut lines) = log_with(5);
    lines[2] = reseal(&lines[2].replace("subject-2", "subject-X"));
    write_lines(&p, &lines);
    assert_eq!(verify(&p), Err(AuditError::BrokenLink { line: 4 }));
}

#[test]
fn an_edited_and_resealed_last_entry_is_detected_against_an_anchor() {
    let (_d, p, mut lines) = log_with(5);
    let anchor = verify(&p).expect("verifies");
    lines[4] = reseal(&lines[4].replace("subject-4", "subject-X"));
    write_lines(&p, &lines);
    // The chain alone cannot tell; the recorded head can.
    assert!(verify(&p).is_ok());
    assert!(matches!(
        verify_with_anchor(&p, Some(&anchor)),
        Err(AuditError::AnchorMissing { entries: 5, .. })
    ));
}

#[test]
fn a_deleted_entry_is_detected() {
    let (_d, p, mut lines) = log_with(5);
    lines.remove(1);
    write_lines(&p, &lines);
    assert_eq!(
        verify(&p),
        Err(AuditError::Sequence {
            line: 2,
            expected: 2,
            found: 3
        })
    );
}

#[test]
fn a_deleted_first_entry_is_detected() {
    let (_d, p, mut lines) = log_with(3);
    lines.remove(0);
    write_lines(&p, &lines);
    assert!(matches!(
        verify(&p),
        Err(AuditError::Sequence { line: 1, .. })
    ));
}

#[test]
fn deleted_last_entries_are_detected_against_an_anchor() {
    let (_d, p, mut lines) = log_with(5);
    let anchor = verify(&p).expect("verifies");
    lines.truncate(3);
    write_lines(&p, &lines);
    assert_eq!(verify(&p).map(|h| h.entries), Ok(3));
    assert!(matches!(
        verify_with_anchor(&p, Some(&anchor)),
        Err(AuditError::AnchorMissing { entries: 5, .. })
    ));
    // An older anchor still in the chain is fine.
    let (_d2, p2, _) = log_with(5);
    let early = Head {
        entries: 2,
        hash: serde_json::from_str::<serde_json::Value>(&read_lines(&p2)[1]).expect("json")["hash"]
            .as_str()
            .expect("hash")
            .to_string(),
    };
    assert!(verify_with_anchor(&p2, Some(&early)).is_ok());
}

#[test]
fn an_inserted_entry_is_detected() {
    let (_d, p, mut lines) = log_with(4);
    // A forged entry with a correct own hash and a correct link to entry 2,
    // inserted after it: entry 3 then sits at line 4 with the wrong seq.
    let v: serde_json::Value = serde_json::from_str(&lines[1]).expect("json");
    let forged = format!(
        "{{\"seq\":3,\"time\":\"2026-01-01T00:00:00.000Z\",\"actor\":\"x\",\"action\":\"list.remove\",\"subject\":\"s\",\"detail\":{{}},\"prev\":\"{}\",\"hash\":\"{}\"}}",
        v["hash"].as_str().expect("hash"),
        "0".repeat(64)
    );
    lines.insert(2, reseal(&forged));
    write_lines(&p, &lines);
    assert!(matches!(
        verify(&p),
        Err(AuditError::Sequence { line: 4, .. }) | Err(AuditError::BrokenLink { line: 4 })
    ));
}

#[test]
fn a_truncated_line_or_garbage_is_malformed() {
    let (_d, p, mut lines) = log_with(3);
    let cut = lines[2].len() / 2;
    lines[2].truncate(cut);
    write_lines(&p, &lines);
    assert!(matches!(
        verify(&p),
        Err(AuditError::Malformed { line: 3, .. })
    ));
}

#[test]
fn reading_after_a_sequence_number() {
    let (_d, p, _) = log_with(5);
    let e = audit::read_after(&p, 3, 10).expect("read");
    assert_eq!(e.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5]);
}
