//! The Kafka loop judges one micro-batch's lists while it scores the next
//! (`flush_judging_previous`). Against flushing one batch at a time, that
//! must change neither the scores nor the entries the lists end with.
//!
//! What is announced on the way may differ, as it does between two batch
//! sizes: a batch's lists are judged on histories that may already hold
//! the next batch's events, so a listing that a late record (an annual
//! report filed after the deadline check) would retract may never be made.
//! Such a retracted entry stays in the state one evaluation longer, so
//! entries ended as retracted are left out of the comparison. The as-of
//! date moves halfway, so lists left unjudged are judged before the move.

mod common;

use std::collections::BTreeSet;

use chrono::NaiveDate;
use tidewatch_alerts::{Alert, AlertKind, Cause, EntityLists, Rules};
use tidewatch_engine::lists::Lists;
use tidewatch_engine::stream::Engine;
use tidewatch_ingest::SourcePos;
use tidewatch_scoring::Policy;

use common::{root, seed_records};

fn engine(as_of: NaiveDate) -> Engine {
    let policy = Policy::load(&root().join("pipelines/policy.toml")).expect("policy");
    let rules = Rules::load(&root().join("pipelines/lists.toml")).expect("rules");
    let mut e = Engine::new(policy, as_of);
    e.set_lists(Lists::new(rules));
    e
}

/// Feeds the seeds in batches of `batch`, moving the as-of date by a day
/// halfway; returns every alert returned.
fn run(e: &mut Engine, batch: usize, overlapped: bool, as_of: NaiveDate) -> Vec<Alert> {
    let records = seed_records();
    let chunks: Vec<_> = records.chunks(batch).collect();
    let mut alerts = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        if i == chunks.len() / 2 {
            e.set_as_of(as_of.succ_opt().expect("date"));
        }
        for (family, bytes, line) in *chunk {
            let source = SourcePos::File {
                file: family.as_str().into(),
                line: *line,
            };
            // The seeds' bad records are dead letters for both engines alike.
            let _ = e.offer(*family, bytes, source);
        }
        let f = if overlapped {
            e.flush_judging_previous()
        } else {
            e.flush()
        }
        .expect("flush");
        alerts.extend(f.alerts);
    }
    alerts.extend(e.judge_lists());
    assert!(!e.lists_unjudged());
    alerts
}

fn lifecycle_ids(alerts: &[Alert]) -> BTreeSet<String> {
    alerts
        .iter()
        .filter(|a| a.kind != AlertKind::Warning)
        .map(|a| a.id.clone())
        .collect()
}

#[test]
fn judging_a_batch_beside_the_next_changes_no_score_or_entry() {
    let as_of = NaiveDate::from_ymd_opt(2026, 9, 30).expect("date");
    let mut one = engine(as_of);
    let mut two = engine(as_of);
    let a1 = run(&mut one, 400, false, as_of);
    let a2 = run(&mut two, 400, true, as_of);

    assert_eq!(
        one.all_records().expect("records"),
        two.all_records().expect("records")
    );
    let (s1, s2) = (
        &one.lists().expect("lists").state().entities,
        &two.lists().expect("lists").state().entities,
    );
    // Entities with only warnings announced may have a state in one and
    // not the other; entries must agree everywhere.
    let entries = |s: &std::collections::BTreeMap<String, std::sync::Arc<EntityLists>>, u: &str| {
        s.get(u).map_or_else(Vec::new, |l| {
            l.entries
                .iter()
                .filter(|e| e.end_cause != Some(Cause::Retracted))
                .cloned()
                .collect()
        })
    };
    let mut listed = 0;
    for uscc in s1.keys().chain(s2.keys()) {
        let (e1, e2) = (entries(s1, uscc), entries(s2, uscc));
        assert!(e1 == e2, "{uscc}: {e1:?} != {e2:?}");
        listed += e1.len();
    }
    assert!(listed > 0, "the seeds put entities on lists");
    assert!(!lifecycle_ids(&a1).is_empty() && !lifecycle_ids(&a2).is_empty());
    // Each alert is returned once.
    let ids: BTreeSet<_> = a2.iter().map(|a| &a.id).collect();
    assert_eq!(ids.len(), a2.len());
}
