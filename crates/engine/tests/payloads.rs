//! The streaming engine writes score payloads straight from the evaluation
//! (`score_payloads`); the batch job builds the scores frame. Both must give
//! the same bytes, or the stream would not equal the batch.

use std::path::Path;

use chrono::NaiveDate;
use tidewatch_engine::output::features_frame;
use tidewatch_engine::pipeline::Pipeline;
use tidewatch_engine::records::{frame_payloads, record_id};
use tidewatch_engine::scores::{coverage, score_payloads, score_population, scores_frame};
use tidewatch_ingest::{ndjson, SourcePos};
use tidewatch_model::Family;
use tidewatch_scoring::Policy;
use tidewatch_state::FeatureTable;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn seeds_at(as_of: NaiveDate) -> Pipeline {
    let mut pipe = Pipeline::new(as_of);
    for family in Family::ALL {
        let path = root().join(format!("seeds/{}.ndjson", family.as_str()));
        ndjson::for_each_line(&path, |line, b| {
            let source = SourcePos::File {
                file: family.as_str().into(),
                line,
            };
            pipe.offer(family, b, source);
        })
        .expect("seeds");
    }
    pipe
}

#[test]
fn direct_payloads_equal_the_scores_frame_as_json() {
    let policy = Policy::load(&root().join("pipelines/policy.toml")).expect("policy");
    // The seeds' own date, and a year later (other windows, other reasons).
    for as_of in [
        NaiveDate::from_ymd_opt(2026, 9, 30).expect("date"),
        NaiveDate::from_ymd_opt(2027, 9, 30).expect("date"),
    ] {
        let pipe = seeds_at(as_of);
        let table = FeatureTable::compute(&pipe.store, as_of);
        let features = features_frame(&pipe.store, &table).expect("features");
        let cover = coverage(&policy, &pipe.store);
        let ev = score_population(&policy, &features, &cover).expect("scores");
        let ids: Vec<String> = pipe
            .store
            .entities()
            .iter()
            .enumerate()
            .map(|(row, e)| record_id(&policy.digest, as_of, e, &table, row))
            .collect();
        let frame = scores_frame(&policy, &ev, &features, &table, as_of).expect("frame");
        let want = frame_payloads(&frame, as_of, &ids).expect("frame payloads");
        let got = score_payloads(&policy, &ev, &features, &table, as_of, &ids).expect("payloads");
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w);
        }
        // The seeds reach every kind of value the writer has.
        let has = |s: &str| want.iter().any(|p| p.contains(s));
        assert!(has(r#""override":""#), "an override applied");
        assert!(has(r#""override":null"#));
        assert!(
            has(r#"_covered":false"#) && has(r#"_reasons":null"#),
            "an uncovered field"
        );
        assert!(has(r#""last_inspected_on":null"#) && has(r#""last_inspected_on":"20"#));
        assert!(has(r#""deregistered":true"#) || has(r#""revoked":true"#));
        assert!(has(r#""zone":null"#));
    }
}

/// The record id as first written (formatting each part to a string):
/// ids are content ids that consumers deduplicate on, so any rewrite of
/// `record_id` must give the same bytes.
fn record_id_as_first_written(
    digest: &str,
    as_of: NaiveDate,
    e: &tidewatch_state::Entity,
    table: &FeatureTable,
    row: usize,
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"tidewatch-score-v1\0");
    h.update(e.uscc.to_string().as_bytes());
    h.update(b"\0");
    h.update(as_of.to_string().as_bytes());
    h.update(b"\0");
    h.update(digest.as_bytes());
    h.update(b"\0");
    if let Some(r) = e.registration() {
        for s in [
            r.name.clone(),
            r.region_code.to_string(),
            r.zone.map(|z| z.to_string()).unwrap_or_default(),
            r.industry_code.to_string(),
        ] {
            h.update(s.as_bytes());
            h.update(b"\0");
        }
    }
    for c in &table.columns {
        h.update(c[row].to_le_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

#[test]
fn record_ids_are_the_ones_first_published() {
    let policy = Policy::load(&root().join("pipelines/policy.toml")).expect("policy");
    for as_of in [
        NaiveDate::from_ymd_opt(2026, 9, 30).expect("date"),
        // A date whose text is not ten characters.
        NaiveDate::from_ymd_opt(10_000, 1, 1).expect("date"),
    ] {
        let pipe = seeds_at(as_of);
        let table = FeatureTable::compute(&pipe.store, as_of);
        let mut zones = 0;
        for (row, e) in pipe.store.entities().iter().enumerate() {
            let want = record_id_as_first_written(&policy.digest, as_of, e, &table, row);
            assert_eq!(record_id(&policy.digest, as_of, e, &table, row), want);
            zones += usize::from(e.registration().is_some_and(|r| r.zone.is_some()));
        }
        assert!(zones > 0, "the seeds have entities in a zone");
    }
}
