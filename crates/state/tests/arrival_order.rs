//! Arrival order never changes features: the generated population's events,
//! applied in any order (registrations late, families interleaved), give the
//! same feature row per entity at the same as-of date.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::NaiveDate;
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use tidewatch_ingest::decode_and_validate;
use tidewatch_model::{Event, Family, Uscc};
use tidewatch_seedgen::{generate_to_dir, SeedConfig};
use tidewatch_state::{EntityStore, Feature as F, FeatureTable, LiveTable, RelationFact};

struct Data {
    events: Vec<Event>,
    as_of: NaiveDate,
}

fn data() -> &'static Data {
    static D: OnceLock<Data> = OnceLock::new();
    D.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        let cfg = SeedConfig {
            entities: 300,
            months: 36,
            seed: 99,
            bad_records: false,
            ..SeedConfig::default()
        };
        generate_to_dir(&cfg, dir.path()).expect("generate");
        let mut events = Vec::new();
        for f in Family::ALL {
            let text = std::fs::read_to_string(dir.path().join(format!("{}.ndjson", f.as_str())))
                .expect("read");
            for line in text.lines() {
                events.push(
                    decode_and_validate(f, line.as_bytes(), cfg.as_of).expect("good seed line"),
                );
            }
        }
        Data {
            events,
            as_of: cfg.as_of,
        }
    })
}

fn by_entity(events: &[Event], as_of: NaiveDate) -> HashMap<Uscc, Vec<i64>> {
    let mut st = EntityStore::new();
    for (i, e) in events.iter().enumerate() {
        st.apply(e.clone(), i as u64)
            .expect("no conflicts in good data");
    }
    assert_eq!(st.held_count(), 0, "every entity is registered in the end");
    let t = FeatureTable::compute(&st, as_of);
    st.entities()
        .iter()
        .enumerate()
        .map(|(row, e)| (e.uscc, t.row(row)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// The streaming engine's table, updated micro-batch by micro-batch from
    /// the dirty entities alone, equals the batch table after every batch,
    /// however many rows the update computes at a time (groups of one legal
    /// representative span those chunks).
    #[test]
    fn live_table_equals_batch_after_every_micro_batch(
        seed in any::<u64>(),
        batch in 1usize..700,
        rows_at_once in 1usize..64,
    ) {
        let d = data();
        let mut shuffled = d.events.clone();
        shuffled.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let mut st = EntityStore::new();
        let mut live = LiveTable::new(d.as_of);
        for (b, chunk) in shuffled.chunks(batch).enumerate() {
            for (i, e) in chunk.iter().enumerate() {
                st.apply(e.clone(), (b * batch + i) as u64).expect("no conflicts in good data");
            }
            let dirty = st.take_dirty();
            let affected = live.update_in_chunks(&st, &dirty, rows_at_once);
            for id in &dirty {
                prop_assert!(affected.binary_search(id).is_ok(), "a changed entity is rescored");
            }
            prop_assert_eq!(live.table(), FeatureTable::compute(&st, d.as_of));
        }
        // A new as-of date recomputes everything.
        let earlier = d.as_of.checked_sub_months(chrono::Months::new(7)).expect("date");
        live.rebuild(&st, earlier);
        prop_assert_eq!(live.table(), FeatureTable::compute(&st, earlier));
    }
    #[test]
    fn any_arrival_order_gives_the_same_features(seed in any::<u64>(), months_back in 0u32..30) {
        let d = data();
        // Also at earlier as-of dates, where some events are in the future.
        let as_of = d.as_of.checked_sub_months(chrono::Months::new(months_back)).expect("date");
        let expected = by_entity(&d.events, as_of);
        let mut shuffled = d.events.clone();
        shuffled.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let got = by_entity(&shuffled, as_of);
        prop_assert_eq!(expected.len(), 300);
        prop_assert_eq!(got, expected);
    }
}

/// One share of the entities, as one process of a group holds it.
struct Shard {
    store: EntityStore,
    live: LiveTable,
}

fn shard_of(u: &Uscc, shards: usize) -> usize {
    u.as_str().bytes().map(usize::from).sum::<usize>() % shards
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10))]

    /// Entities split between processes, each hearing the others' relation
    /// facts late, repeated and out of order: once every fact is heard,
    /// every process's rows equal the whole population's table.
    #[test]
    fn split_entities_hearing_each_other_equal_the_whole(
        seed in any::<u64>(),
        batch in 50usize..700,
        shards in 2usize..4,
    ) {
        let d = data();
        let whole = by_entity(&d.events, d.as_of);
        let related = F::RelatedEntities.index();
        prop_assert!(
            whole.values().filter(|r| r[related] > 0).count() >= 20,
            "the data has relation groups to split"
        );
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut shuffled = d.events.clone();
        shuffled.shuffle(&mut rng);
        let mut parts: Vec<Shard> = (0..shards)
            .map(|_| {
                let mut live = LiveTable::new(d.as_of);
                live.track_moves();
                Shard { store: EntityStore::new(), live }
            })
            .collect();
        // Facts in flight to each shard: every one ever sent, in a random
        // order, some twice.
        let mut inbox: Vec<Vec<RelationFact>> = vec![Vec::new(); shards];
        for (b, chunk) in shuffled.chunks(batch).enumerate() {
            for (i, e) in chunk.iter().enumerate() {
                let s = shard_of(&e.uscc(), shards);
                parts[s].store.apply(e.clone(), (b * batch + i) as u64).expect("good data");
            }
            for (s, p) in parts.iter_mut().enumerate() {
                let dirty = p.store.take_dirty();
                p.live.update(&p.store, &dirty);
                // What an engine shares: the entities whose fact changed.
                for (id, _) in p.live.take_moved() {
                    let (rep, trouble) = p.live.fact(id);
                    let e = p.store.entity(id);
                    let fact = RelationFact {
                        uscc: e.uscc,
                        legal_rep_key: rep.map(str::to_owned),
                        in_trouble: trouble,
                        as_of: d.as_of,
                        events: e.history().len() as u64,
                    };
                    for (t, inbox) in inbox.iter_mut().enumerate() {
                        if t != s {
                            inbox.push(fact.clone());
                        }
                    }
                }
            }
            // Deliver a random part of each inbox, shuffled.
            for (s, inbox) in inbox.iter_mut().enumerate() {
                inbox.shuffle(&mut rng);
                let keep = inbox.len() / 3;
                let now: Vec<RelationFact> = inbox.drain(keep..).collect();
                let p = &mut parts[s];
                p.live.hear(&p.store, now);
            }
        }
        for (s, inbox) in inbox.iter_mut().enumerate() {
            let mut all = std::mem::take(inbox);
            all.shuffle(&mut rng);
            let again: Vec<RelationFact> = all.iter().take(all.len() / 2).cloned().collect();
            let p = &mut parts[s];
            p.live.hear(&p.store, all);
            p.live.hear(&p.store, again);
        }
        let mut seen = 0;
        for p in &parts {
            for (row, e) in p.store.entities().iter().enumerate() {
                prop_assert_eq!(&p.live.table().row(row), &whole[&e.uscc], "entity {}", e.uscc);
                seen += 1;
            }
        }
        prop_assert_eq!(seen, whole.len());
    }
}
