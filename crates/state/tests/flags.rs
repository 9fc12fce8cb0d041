//! The flag features found without the rest of the row equal the row's.

use chrono::{Months, NaiveDate};
use tidewatch_ingest::decode_and_validate;
use tidewatch_model::Family;
use tidewatch_seedgen::{generate_to_dir, SeedConfig};
use tidewatch_state::{entity_row, flag_feature, EntityStore, Feature as F, FEATURES};

#[test]
fn flags_found_alone_equal_the_whole_row_at_every_date() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = SeedConfig {
        entities: 2000,
        months: 36,
        seed: 7,
        bad_records: false,
        ..SeedConfig::default()
    };
    generate_to_dir(&cfg, dir.path()).expect("generate");
    let mut st = EntityStore::new();
    let mut tag = 0;
    for f in Family::ALL {
        let text = std::fs::read_to_string(dir.path().join(format!("{}.ndjson", f.as_str())))
            .expect("read");
        for line in text.lines() {
            let e = decode_and_validate(f, line.as_bytes(), cfg.as_of).expect("good seed line");
            st.apply(e, tag).expect("no conflicts");
            tag += 1;
        }
    }
    let dates: Vec<NaiveDate> = (0..40)
        .map(|m| cfg.as_of.checked_sub_months(Months::new(m)).expect("date"))
        .collect();
    let flags = [F::Deregistered, F::Revoked, F::CourtDishonest];
    let mut set = [0usize; 3];
    for e in st.entities() {
        for &d in &dates {
            let row = entity_row(e, d);
            for (k, &f) in flags.iter().enumerate() {
                let v = row.values[f.index()];
                assert_eq!(flag_feature(e, d, f), Some(v), "{f:?} of {} at {d}", e.uscc);
                set[k] += usize::from(v == 1);
            }
        }
    }
    // The population has each kind of event, before and after some dates.
    assert!(
        set.iter().all(|&n| n > 0),
        "every flag is set somewhere: {set:?}"
    );
    // Every other feature is left to the row.
    for def in FEATURES {
        if !flags.contains(&def.feature) {
            let e = &st.entities()[0];
            assert_eq!(
                flag_feature(e, cfg.as_of, def.feature),
                None,
                "{:?}",
                def.feature
            );
        }
    }
}
