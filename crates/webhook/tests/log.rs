//! The alert log: global sequence across appends, no id twice, a torn last
//! line cut off, catch-up from a sequence number.

use std::io::Write;

use chrono::NaiveDate;
use tidewatch_alerts::{Alert, AlertKind, EntityRef};
use tidewatch_webhook::{alerts_since, read_log, AlertLog};

fn alert(i: u64) -> Alert {
    let d = NaiveDate::from_ymd_opt(2026, 9, 30).expect("date");
    Alert {
        id: format!("{i:064x}"),
        entity_seq: i,
        kind: AlertKind::Warning,
        cause: Some(tidewatch_alerts::Cause::ClassD),
        list: None,
        list_name: None,
        entity: EntityRef {
            uscc: "91330921X6KYML9C3L".into(),
            name: "测试".into(),
            region: "330921".into(),
        },
        rule: "warning.class_d.general".into(),
        rule_version: "sha256:0123456789abcdef".into(),
        mode: None,
        triggers: vec![],
        cause_event: None,
        effective_on: d,
        expires_on: None,
        repair_from: None,
        field: None,
        authority: None,
        reason: "D".into(),
        as_of: d,
    }
}

#[test]
fn sequence_continues_across_opens_and_ids_are_written_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("alerts.ndjson");
    let mut log = AlertLog::open(&p).expect("open");
    let a = log.append(&[alert(1), alert(2), alert(3)]).expect("append");
    assert_eq!(a.iter().map(|x| x.seq).collect::<Vec<_>>(), [1, 2, 3]);
    drop(log);
    let mut log = AlertLog::open(&p).expect("reopen");
    assert_eq!(log.last_seq(), 3);
    let b = log.append(&[alert(2), alert(4)]).expect("append");
    assert_eq!(b.len(), 1, "alert 2 is in the log already");
    assert_eq!(b[0].seq, 4);
    let all = read_log(&p).expect("read");
    assert_eq!(all.len(), 4);
    assert_eq!(all[3].alert, alert(4));
}

/// A log of alerts 1 to 5 in `dir`.
fn log_of_five(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("alerts.ndjson");
    let mut log = AlertLog::open(&p).expect("open");
    log.append(&(1..=5).map(alert).collect::<Vec<_>>())
        .expect("append");
    p
}

#[test]
fn opening_after_a_sequence_returns_the_later_alerts_and_the_same_log() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = log_of_five(dir.path());
    for (after, expect) in [
        (0, vec![1, 2, 3, 4, 5]),
        (3, vec![4, 5]),
        (5, vec![]),
        (9, vec![]),
    ] {
        let (mut log, later) = AlertLog::open_after(&p, after).expect("open after");
        assert_eq!(later.iter().map(|a| a.seq).collect::<Vec<_>>(), expect);
        for a in &later {
            assert_eq!(a.alert, alert(a.seq));
        }
        // Every alert of the log counts as logged, returned or not.
        assert_eq!(log.last_seq(), 5);
        assert!(log
            .append(&[alert(1), alert(5)])
            .expect("append")
            .is_empty());
    }
    assert_eq!(read_log(&p).expect("read").len(), 5);
}

#[test]
fn a_torn_last_line_is_cut_off_and_catch_up_starts_after_a_sequence() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = log_of_five(dir.path());
    // A crash in the middle of a write.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&p)
        .expect("f");
    f.write_all(br#"{"seq":6,"id":"00"#).expect("write");
    drop(f);
    assert_eq!(read_log(&p).expect("read").len(), 5);
    let mut log = AlertLog::open(&p).expect("reopen");
    let c = log.append(&[alert(6)]).expect("append");
    assert_eq!(c[0].seq, 6);
    let since = alerts_since(&p, 3, 2).expect("since");
    assert_eq!(since.iter().map(|x| x.seq).collect::<Vec<_>>(), [4, 5]);
    assert_eq!(alerts_since(&p, 6, 10).expect("since").len(), 0);
    assert_eq!(alerts_since(&p, 0, 100).expect("since").len(), 6);
}

#[test]
fn appended_lines_are_the_log_lines_and_the_alerts_as_json() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("alerts.ndjson");
    let mut log = AlertLog::open(&p).expect("open");
    log.append(&[alert(1)]).expect("append");
    let a = log
        .append_lines(&[alert(1), alert(2), alert(3)])
        .expect("append");
    assert_eq!(a.alerts.len(), 2, "alert 1 is in the log already");
    let text = std::fs::read_to_string(&p).expect("log");
    let on_disk: Vec<&str> = text.lines().skip(1).collect();
    for (i, logged) in a.alerts.iter().enumerate() {
        assert_eq!(a.line(i), on_disk[i].as_bytes());
        assert_eq!(a.line(i), serde_json::to_vec(logged).expect("json"));
    }
    assert_eq!(a.alerts[1].seq, 3);
}

#[test]
fn a_large_append_keeps_the_order_the_numbers_and_the_lines_across_its_pieces() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("alerts.ndjson");
    let mut log = AlertLog::open(&p).expect("open");
    log.append(&[alert(0)]).expect("append");
    // More alerts than one piece holds (512), the one logged already
    // among them, and a last piece that is not full.
    let alerts: Vec<_> = (0..1300).map(alert).collect();
    let a = log.append_lines(&alerts).expect("append");
    assert_eq!(a.alerts.len(), 1299);
    let text = std::fs::read_to_string(&p).expect("log");
    let on_disk: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(on_disk.len(), 1299);
    for (i, logged) in a.alerts.iter().enumerate() {
        assert_eq!(logged.seq, i as u64 + 2);
        assert_eq!(logged.alert.id, alerts[i + 1].id);
        assert_eq!(a.line(i), on_disk[i].as_bytes());
        assert_eq!(a.line(i), serde_json::to_vec(logged).expect("json"));
    }
    // Reopened, the log goes on from the last number.
    drop(log);
    let mut log = AlertLog::open(&p).expect("reopen");
    let more = log.append(&[alert(5000)]).expect("append");
    assert_eq!(more[0].seq, 1301);
}
