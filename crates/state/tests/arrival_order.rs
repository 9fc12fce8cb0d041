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
use tidewatch_state::{EntityStore, FeatureTable, LiveTable};

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
    /// the dirty entities alone, equals the batch table after every batch.
    #[test]
    fn live_table_equals_batch_after_every_micro_batch(seed in any::<u64>(), batch in 1usize..700) {
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
            let affected = live.update(&st, &dirty);
            for id in &dirty {
                prop_assert!(affected.binary_search(id).is_ok(), "a changed entity is rescored");
            }
            prop_assert_eq!(live.table(), &FeatureTable::compute(&st, d.as_of));
        }
        // A new as-of date recomputes everything.
        let earlier = d.as_of.checked_sub_months(chrono::Months::new(7)).expect("date");
        live.rebuild(&st, earlier);
        prop_assert_eq!(live.table(), &FeatureTable::compute(&st, earlier));
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
