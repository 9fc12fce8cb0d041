//! The embedded default end to end: `tidewatch run` on the committed seeds.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn seeds() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../seeds")
}

fn run_on_seeds() -> (tempfile::TempDir, String) {
    let out = tempfile::tempdir().expect("tmp");
    let o = Command::new(env!("CARGO_BIN_EXE_tidewatch"))
        .args(["run", "--seeds"])
        .arg(seeds())
        .arg("--out")
        .arg(out.path())
        .arg("--pipelines")
        .arg(seeds().join("../pipelines"))
        .output()
        .expect("runs");
    let stdout = String::from_utf8(o.stdout).expect("utf-8");
    assert!(
        o.status.success(),
        "run failed: {}\n{stdout}",
        String::from_utf8_lossy(&o.stderr)
    );
    (out, stdout)
}

fn read_json(p: PathBuf) -> Value {
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn dead_letters(out: &tempfile::TempDir) -> Vec<Value> {
    std::fs::read_to_string(out.path().join("dead-letter.ndjson"))
        .expect("dead-letter written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("dead letter is JSON"))
        .collect()
}

#[test]
fn every_deliberately_bad_seed_record_is_dead_lettered_with_its_reason() {
    let (out, stdout) = run_on_seeds();
    let meta = read_json(seeds().join("meta.json"));
    let bad = meta["bad_records"]
        .as_array()
        .expect("meta.json lists bad_records");
    assert!(bad.len() >= 8, "expected the documented bad records");
    let dead = dead_letters(&out);
    for b in bad {
        let id = b["event_id"].as_str().expect("event_id");
        let reason = b["reason"].as_str().expect("reason");
        let file = b["file"].as_str().expect("file");
        let line = b["line"].as_u64().expect("line");
        let hit = dead.iter().find(|d| {
            d["source"]["line"].as_u64() == Some(line)
                && d["source"]["file"]
                    .as_str()
                    .is_some_and(|f| f.ends_with(file))
        });
        let hit = hit.unwrap_or_else(|| {
            panic!("bad record {id} ({file}:{line}) not in the dead-letter file")
        });
        if id.starts_with("bad-") {
            assert!(
                hit["original"].as_str().is_some_and(|o| o.contains(id)),
                "{hit}"
            );
        }
        assert_eq!(hit["reason"], reason, "{id}: {hit}");
        assert!(!hit["message"].as_str().unwrap_or("").is_empty());
        assert!(hit["source"]["line"].as_u64().is_some_and(|l| l > 0));
        assert!(hit["source"]["file"]
            .as_str()
            .is_some_and(|f| f.ends_with(".ndjson")));
        // The summary's breakdown names every reason that occurred.
        assert!(stdout.contains(reason), "summary lacks {reason}:\n{stdout}");
    }
    // Only the deliberately bad records are rejected.
    assert_eq!(dead.len(), bad.len(), "unexpected rejections: {dead:#?}");
}

#[test]
fn summary_counts_add_up() {
    let (out, stdout) = run_on_seeds();
    let s = read_json(out.path().join("summary.json"));
    let meta = read_json(seeds().join("meta.json"));
    assert_eq!(
        s["as_of"], meta["as_of"],
        "defaults to the seeds' as-of date"
    );
    let i = &s["ingest"];
    let read: u64 = i["records"]
        .as_object()
        .expect("records")
        .values()
        .map(|v| v.as_u64().unwrap_or(0))
        .sum();
    let applied = i["applied"].as_u64().expect("applied");
    let dups = i["duplicates"].as_u64().expect("duplicates");
    let rejected = s["rejected_total"].as_u64().expect("rejected");
    assert_eq!(
        read,
        applied + dups + rejected,
        "every record is applied, a duplicate, or rejected"
    );
    assert_eq!(
        dups, 1,
        "the seeds carry exactly one harmless exact duplicate"
    );
    assert_eq!(s["entities"], meta["entities"]);
    let regions = s["entities_by_region"].as_object().expect("regions");
    assert_eq!(regions.len(), 4, "the four districts");
    let by_region: u64 = regions
        .values()
        .map(|r| r["entities"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(by_region, s["entities"].as_u64().expect("entities"));
    assert!(stdout.contains("定海区") && stdout.contains("rejected"));
}

#[test]
fn features_parquet_has_one_row_per_entity_and_every_feature() {
    use polars::prelude::*;
    let (out, _) = run_on_seeds();
    let f = std::fs::File::open(out.path().join("features.parquet")).expect("written");
    let df = ParquetReader::new(f).finish().expect("readable parquet");
    let meta = read_json(seeds().join("meta.json"));
    assert_eq!(Some(df.height() as u64), meta["entities"].as_u64());
    for d in tidewatch_state::FEATURES {
        assert!(df.column(d.name).is_ok(), "missing column {}", d.name);
    }
    let uscc = df.column("uscc").expect("uscc").str().expect("strings");
    assert!(uscc
        .iter()
        .flatten()
        .all(|u| tidewatch_model::Uscc::parse(u).is_ok()));
    // Not every entity is quiet: the seeds have a risky tail.
    let pen = df
        .column("penalties_36m")
        .expect("col")
        .i64()
        .expect("i64")
        .sum()
        .unwrap_or(0);
    assert!(pen > 0);
}
