//! Produced alerts hold to the published schema, `docs/alert.schema.json`,
//! for every kind and cause.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::schema::{matches, validate};
use common::{eval, eval_scores, History};
use tidewatch_alerts::{Alert, AlertKind, Cause, LoggedAlert};

fn schema() -> serde_json::Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/alert.schema.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Histories that between them raise every kind of alert and every cause
/// the seeds may not.
fn sample_alerts() -> Vec<Alert> {
    let mut out = Vec::new();
    let mut h = History::new("2018-05-01");
    h.penalty("2024-03-01", "D-1", "consumer_harm", "heavy", "general");
    h.credit(
        "2024-04-01",
        "serious_listed",
        r#"{"authority":"某局","reason":"D-1"}"#,
    );
    h.penalty("2024-05-01", "D-2", "food_safety", "heavy", "food");
    h.credit(
        "2024-05-20",
        "penalty_withdrawn",
        r#"{"document_no":"D-2"}"#,
    );
    h.inspection("2024-06-01", "B", None);
    h.inspection("2024-09-01", "6", None);
    h.credit(
        "2024-10-01",
        "abnormal_listed",
        r#"{"reason":"unreachable"}"#,
    );
    h.credit("2025-02-01", "abnormal_removed", r#"{}"#);
    h.penalty_code(
        "2025-03-01",
        "D-3",
        "food_safety",
        "fine",
        "food",
        "食安法124",
    );
    out.extend(eval(&h, "2026-09-30", None).alerts);
    out.extend(eval(&h, "2029-01-01", None).alerts);
    let mut r = History::new("2018-05-01");
    r.penalty("2024-03-01", "D-1", "consumer_harm", "heavy", "general");
    r.credit("2024-04-01", "serious_listed", r#"{"reason":"D-1"}"#);
    r.credit("2025-06-01", "credit_repaired", r#"{"document_no":"D-1"}"#);
    out.extend(eval(&r, "2026-09-30", None).alerts);
    let mut w = History::new("2015-01-01");
    w.complaint("2026-08-01");
    out.extend(
        eval_scores(
            &w,
            "2026-09-30",
            None,
            &[("food", 800, 'D'), ("general", 600, 'C')],
            &[("food", 500, 'C'), ("general", 300, 'B')],
            Some("2026-06-30"),
        )
        .alerts,
    );
    let mut g = History::new("2015-01-01");
    g.inspection("2025-03-01", "6", None);
    g.credit("2025-04-01", "deregistered", r#"{}"#);
    out.extend(eval(&g, "2026-09-30", None).alerts);
    out
}

#[test]
fn every_produced_alert_validates_against_the_published_schema() {
    let schema = schema();
    let alerts = sample_alerts();
    let kinds: BTreeSet<AlertKind> = alerts.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds.len(),
        AlertKind::ALL.len(),
        "not every kind: {kinds:?}"
    );
    let causes: BTreeSet<Cause> = alerts.iter().filter_map(|a| a.cause).collect();
    for c in [
        Cause::Repaired,
        Cause::Expired,
        Cause::Decision,
        Cause::PenaltyWithdrawn,
        Cause::Lapsed,
        Cause::Deregistered,
        Cause::ClassD,
        Cause::ScoreRise,
        Cause::OneEventAway,
    ] {
        assert!(causes.contains(&c), "no {c} among {causes:?}");
    }
    for (i, alert) in alerts.into_iter().enumerate() {
        let logged = LoggedAlert {
            seq: i as u64 + 1,
            alert,
        };
        let v = serde_json::to_value(&logged).expect("serialises");
        let problems = validate(&schema, &v);
        assert!(problems.is_empty(), "{v}\n{problems:#?}");
        let back: LoggedAlert = serde_json::from_value(v).expect("reads back");
        assert_eq!(back, logged);
    }
}

#[test]
fn the_schema_rejects_what_it_should() {
    let schema = schema();
    let alert = sample_alerts().remove(0);
    let mut v = serde_json::to_value(LoggedAlert { seq: 1, alert }).expect("json");
    v["kind"] = "maybe".into();
    v["entity"]["uscc"] = "91330921X6KYML9C3I".into();
    v["extra"] = 1.into();
    if let Some(o) = v.as_object_mut() {
        o.remove("id");
    }
    let p = validate(&schema, &v);
    assert_eq!(p.len(), 4, "{p:#?}");
}

#[test]
fn the_small_pattern_matcher_reads_the_schema_patterns() {
    assert!(matches("^[0-9a-f]{4}$", "00af"));
    assert!(!matches("^[0-9a-f]{4}$", "00afa"));
    assert!(matches("^sha256:[0-9a-f]{2}$", "sha256:0f"));
    assert!(matches("^[a-z0-9_.]+$", "serious.heavy_penalty"));
    assert!(!matches("^[a-z0-9_.]+$", "Serious"));
    assert!(matches("^[0-9A-HJ-NPQRTUWXY]{2}$", "9H"));
    assert!(!matches("^[0-9A-HJ-NPQRTUWXY]{2}$", "9I"));
}
