//! A checkpoint writes the whole list state once, then only what changed:
//! the whole state with every change written since applied in order must
//! equal the whole state at every checkpoint.

use std::path::Path;

use chrono::NaiveDate;
use tidewatch_alerts::Rules;
use tidewatch_engine::lists::{Lists, ListsChanges, ListsSnapshot};
use tidewatch_engine::stream::Engine;
use tidewatch_ingest::{ndjson, SourcePos};
use tidewatch_model::Family;
use tidewatch_scoring::Policy;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn seed_records() -> Vec<(Family, Vec<u8>, u64)> {
    let mut out = Vec::new();
    for family in Family::ALL {
        let path = root().join(format!("seeds/{}.ndjson", family.as_str()));
        ndjson::for_each_line(&path, |line, b| out.push((family, b.to_vec(), line)))
            .expect("seeds");
    }
    // Interleaved, as the three topics arrive together.
    out.sort_by_key(|(_, _, line)| *line);
    out
}

/// Through JSON, as the checkpoint files hold them.
fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
    serde_json::from_slice(&serde_json::to_vec(v).expect("serialize")).expect("deserialize")
}

#[test]
fn the_whole_state_and_its_changes_give_the_whole_state() {
    let policy = Policy::load(&root().join("pipelines/policy.toml")).expect("policy");
    let rules = Rules::load(&root().join("pipelines/lists.toml")).expect("rules");
    let as_of = NaiveDate::from_ymd_opt(2026, 9, 30).expect("date");
    let mut engine = Engine::new(policy, as_of);
    engine.set_lists(Lists::new(rules));
    let records = seed_records();
    let mut on_disk: Option<ListsSnapshot> = None;
    let (mut wholes, mut changes, mut alerts) = (0, 0, 0);
    for (i, chunk) in records.chunks(1500).enumerate() {
        for (family, bytes, line) in chunk {
            let source = SourcePos::File {
                file: family.as_str().into(),
                line: *line,
            };
            engine.offer(*family, bytes, source);
        }
        if i == 8 {
            // A new day: the previous scores change for everyone.
            engine.set_as_of(as_of.succ_opt().expect("date"));
        }
        alerts += engine.flush().expect("flush").alerts.len();
        let l = engine.lists_mut().expect("lists");
        let logged = i as u64;
        if l.whole_due() {
            let whole: ListsSnapshot =
                serde_json::from_slice(&l.snapshot_json(logged).expect("json")).expect("whole");
            assert!(whole == round_trip(&l.snapshot(logged)));
            on_disk = Some(whole);
            wholes += 1;
        } else {
            let c: ListsChanges =
                serde_json::from_slice(&l.changes_json(logged).expect("json")).expect("changes");
            assert!(c == round_trip(&l.changes(logged)));
            assert!(
                c.entities.len() < l.state().entities.len(),
                "only what changed"
            );
            on_disk.as_mut().expect("a whole state first").apply(c);
            changes += 1;
        }
        l.written();
        assert!(
            on_disk.as_ref() == Some(&l.snapshot(logged)),
            "checkpoint {i}"
        );
    }
    assert!(alerts > 0, "the lists saw something");
    // The first checkpoint and the one after the as-of date moved.
    assert_eq!(wholes, 2);
    assert!(changes >= 10);
}
