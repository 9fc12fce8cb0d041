//! A checkpoint writes the whole list state once, then only what changed:
//! the whole state with every change written since applied in order must
//! equal the whole state at every checkpoint. A checkpoint takes the lists
//! at once and writes them later, on another thread: what it writes is the
//! state when it was taken, whatever changed meanwhile.

mod common;

use chrono::NaiveDate;
use tidewatch_alerts::Rules;
use tidewatch_engine::lists::{Lists, ListsChanges, ListsCut, ListsSnapshot};
use tidewatch_engine::stream::Engine;
use tidewatch_ingest::SourcePos;
use tidewatch_scoring::Policy;

use common::{root, seed_records};

/// Through JSON, as the checkpoint files hold them.
fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
    serde_json::from_slice(&serde_json::to_vec(v).expect("serialize")).expect("deserialize")
}

/// A checkpoint's cut of the lists, and the state it should say.
struct Pending {
    i: usize,
    cut: ListsCut,
    want: ListsSnapshot,
    want_changes: Option<ListsChanges>,
}

/// Writes a cut as JSON and applies it to the state on disk, as a restore
/// reads it.
fn write(p: Pending, on_disk: &mut Option<ListsSnapshot>) {
    let json = p.cut.to_json().expect("json");
    match p.want_changes {
        None => {
            assert!(p.cut.is_whole());
            let whole: ListsSnapshot = serde_json::from_slice(&json).expect("whole");
            assert!(whole == round_trip(&p.want));
            *on_disk = Some(whole);
        }
        Some(want) => {
            assert!(!p.cut.is_whole());
            let c: ListsChanges = serde_json::from_slice(&json).expect("changes");
            assert!(c == round_trip(&want));
            on_disk.as_mut().expect("a whole state first").apply(c);
        }
    }
    assert!(on_disk.as_ref() == Some(&p.want), "checkpoint {}", p.i);
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
    let mut pending: Option<Pending> = None;
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
        // The previous checkpoint's cut is written only now, after the
        // lists changed again (as a checkpoint is written on another thread
        // while the engine goes on): it must still say the state it was
        // taken at.
        if let Some(p) = pending.take() {
            write(p, &mut on_disk);
        }
        let l = engine.lists_mut().expect("lists");
        let logged = i as u64;
        let whole = l.whole_due();
        // A whole state: the first, the one after the as-of date moved,
        // and any where half the entities with lists or more changed (the
        // changes would be as large as the whole state).
        let changed = l.changes(logged).entities.len();
        let half = changed * 2 >= l.state().entities.len().max(1);
        assert_eq!(whole, i == 0 || i == 8 || half, "checkpoint {i}");
        let want_changes = (!whole).then(|| l.changes(logged));
        if let Some(c) = &want_changes {
            assert!(
                c.entities.len() < l.state().entities.len(),
                "only what changed"
            );
        }
        let want = l.snapshot(logged);
        if whole {
            wholes += 1;
        } else {
            changes += 1;
        }
        pending = Some(Pending {
            i,
            cut: l.cut(logged, whole),
            want,
            want_changes,
        });
    }
    if let Some(p) = pending.take() {
        write(p, &mut on_disk);
    }
    assert!(alerts > 0, "the lists saw something");
    assert!(wholes >= 2);
    assert!(changes >= 5, "{changes} checkpoints wrote changes");
}
