//! A checkpoint cut when every entity's lists were judged holds the lists
//! that judging the log's entities again would give. A restore from it
//! therefore skips judging them again (`Engine::forget_pending`); this
//! checks the premise: judging them again changes no entry and raises no
//! alert.

mod common;

use chrono::NaiveDate;
use tidewatch_alerts::Rules;
use tidewatch_engine::lists::{Lists, ListsSnapshot};
use tidewatch_engine::stream::Engine;
use tidewatch_ingest::SourcePos;
use tidewatch_model::Family;
use tidewatch_scoring::Policy;

use common::{root, seed_records};

fn offer_all(e: &mut Engine, records: &[(Family, Vec<u8>, u64)]) {
    let batch: Vec<(Family, &[u8], SourcePos)> = records
        .iter()
        .map(|(f, b, line)| {
            let source = SourcePos::File {
                file: f.as_str().into(),
                line: *line,
            };
            (*f, b.as_slice(), source)
        })
        .collect();
    for (f, b, s) in batch {
        e.offer(f, b, s);
    }
}

#[test]
fn judging_a_restored_judged_state_again_changes_nothing() {
    let policy = Policy::load(&root().join("pipelines/policy.toml")).expect("policy");
    let rules = Rules::load(&root().join("pipelines/lists.toml")).expect("rules");
    let as_of = NaiveDate::from_ymd_opt(2026, 9, 30).expect("date");
    let records = seed_records();

    // The engine before the checkpoint: a backlog read with the lists
    // deferred, then judged for everyone it touched.
    let mut first = Engine::new(policy.clone(), as_of);
    first.set_lists(Lists::new(rules.clone()));
    first.defer_lists(true);
    offer_all(&mut first, &records);
    first.flush().expect("flush");
    assert!(!first.lists_judged(), "deferred lists are waiting");
    let alerts = first.evaluate_pending();
    assert!(!alerts.is_empty(), "the seeds raise alerts");
    assert!(first.lists_judged());
    let logged = alerts.len() as u64;
    let json = serde_json::to_vec(&first.lists().expect("lists").snapshot(logged)).expect("json");
    let snap: ListsSnapshot = serde_json::from_slice(&json).expect("snapshot");

    // The restore: the log replayed, the lists as the checkpoint holds
    // them, everyone rescored with the lists deferred, then judged again.
    let mut restored = Engine::new(policy, as_of);
    offer_all(&mut restored, &records);
    restored.set_lists(Lists::restore(rules, snap.clone(), &restored.pipe.store));
    restored.defer_lists(true);
    restored.flush().expect("flush");
    assert!(
        !restored.lists_judged(),
        "everyone replayed waits for the lists"
    );
    let again = restored.evaluate_pending();
    assert!(
        again.is_empty(),
        "judging again raised {} alerts",
        again.len()
    );
    let after = restored.lists().expect("lists").snapshot(logged);
    assert!(after == snap, "judging again changed the lists");
}
