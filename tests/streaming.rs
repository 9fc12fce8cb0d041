//! Streaming on a real Kafka-protocol broker: the seeds produced to the
//! input topics, the engine run over them, the `scores` topic compared with
//! the one-shot batch job over the same events.

#[path = "support/http.rs"]
mod http;
#[path = "support/kafka.rs"]
mod kafka;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use kafka::{
    assert_same, brokers, last_per_key, ok, produce, read_topic, run_kafka, run_kafka_with, seeds,
    serve_cmd, tidewatch, unique_prefix,
};
use polars::prelude::*;
use serde_json::Value;
use tidewatch_engine::records::frame_payloads;
use tidewatch_engine::stream::Engine;
use tidewatch_ingest::{ndjson, SourcePos};
use tidewatch_model::Family;
use tidewatch_scoring::Policy;

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 9, 30).expect("date")
}

/// Every record of the event files in `dir`, credit records first, with
/// where it was read.
fn records_in(dir: &Path) -> Vec<(Family, SourcePos, Vec<u8>)> {
    let mut out = Vec::new();
    for f in [
        Family::CreditRecords,
        Family::Inspections,
        Family::Complaints,
    ] {
        let path = dir.join(format!("{}.ndjson", f.as_str()));
        let file = path.display().to_string();
        ndjson::for_each_line(&path, |line, b| {
            let pos = SourcePos::File {
                file: file.clone(),
                line,
            };
            out.push((f, pos, b.to_vec()));
        })
        .expect("seed file");
    }
    out
}

/// The batch result: every seed record offered to one engine, scored in one
/// frame. Key: USCC; value: (record id, payload).
fn batch(dir: &Path) -> BTreeMap<String, (String, String)> {
    let policy = Policy::load(&kafka::root().join("pipelines/policy.toml")).expect("policy");
    let mut e = Engine::new(policy, as_of());
    for (f, pos, b) in records_in(dir) {
        e.offer(f, &b, pos);
    }
    e.flush().expect("flush");
    e.all_records()
        .expect("records")
        .into_iter()
        .map(|r| (r.uscc, (r.id, r.payload)))
        .collect()
}

/// The `summary.json` a run wrote under `out`.
fn summary(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary"))
        .expect("summary.json")
}

fn payload_ids(scores: &BTreeMap<String, String>) -> BTreeMap<String, (String, String)> {
    scores
        .iter()
        .map(|(k, v)| {
            let j: Value = serde_json::from_str(v).expect("score record is JSON");
            let id = j["id"].as_str().expect("id").to_owned();
            (k.clone(), (id, v.clone()))
        })
        .collect()
}

#[test]
fn the_batch_engine_equals_the_embedded_run() {
    // The reference the stream is compared with is itself the one-shot
    // job's result: same rows, same values, as scores.parquet has them.
    let reference = batch(&seeds());
    let out = tempfile::tempdir().expect("tmp");
    let o = tidewatch()
        .args(["run", "--seeds"])
        .arg(seeds())
        .arg("--out")
        .arg(out.path())
        .arg("--pipelines")
        .arg(kafka::root().join("pipelines"))
        .output()
        .expect("runs");
    ok(o, "tidewatch run");
    let f = std::fs::File::open(out.path().join("scores.parquet")).expect("scores.parquet");
    let df = ParquetReader::new(f).finish().expect("parquet");
    let usccs: Vec<String> = df
        .column("uscc")
        .expect("uscc")
        .str()
        .expect("str")
        .iter()
        .map(|u| u.expect("a uscc in every row").to_owned())
        .collect();
    let ids: Vec<String> = usccs.iter().map(|u| reference[u].0.clone()).collect();
    let payloads = frame_payloads(&df, as_of(), &ids).expect("payloads");
    assert_eq!(usccs.len(), reference.len());
    for (u, p) in usccs.iter().zip(payloads) {
        assert_eq!(p, reference[u].1, "entity {u}");
    }
}

/// Every flush of an engine over the seeds in micro-batches of `batch`
/// records, each entity scored `chunk` at a time: the records and alerts
/// of each flush, as JSON lines.
fn flushes(chunk: usize, batch: usize) -> Vec<(Vec<String>, Vec<String>)> {
    use tidewatch_engine::lists::Lists;
    let root = kafka::root().join("pipelines");
    let policy = Policy::load(&root.join("policy.toml")).expect("policy");
    let rules = tidewatch_alerts::Rules::load(&root.join("lists.toml")).expect("rules");
    let mut e = Engine::new(policy, as_of());
    e.set_lists(Lists::new(rules));
    e.set_flush_chunk(chunk);
    let mut out = Vec::new();
    for part in records_in(&seeds()).chunks(batch) {
        for (f, pos, b) in part {
            e.offer(*f, b, pos.clone());
        }
        let flushed = e.flush().expect("flush");
        let records = flushed
            .records
            .iter()
            .map(|r| format!("{} {}", r.uscc, r.payload))
            .collect();
        let alerts = flushed
            .alerts
            .iter()
            .map(|a| serde_json::to_string(a).expect("JSON"))
            .collect();
        out.push((records, alerts));
    }
    out
}

#[test]
fn a_flush_scored_a_chunk_at_a_time_publishes_what_one_chunk_would() {
    // Chunks of 7 and 1,000 entities against one chunk for everyone the
    // flush rescores (3,000 entities in the seeds).
    let whole = flushes(1 << 20, 8000);
    let first = whole[0].0.len();
    assert!(first > 2000, "the first flush publishes {first} records");
    for chunk in [7, 1000] {
        let chunked = flushes(chunk, 8000);
        assert_eq!(chunked.len(), whole.len());
        for (i, (c, w)) in chunked.iter().zip(&whole).enumerate() {
            for (what, c, w) in [("records", &c.0, &w.0), ("alerts", &c.1, &w.1)] {
                // The first difference, not two pages of JSON.
                let at = c.iter().zip(w).position(|(a, b)| a != b);
                assert!(
                    at.is_none() && c.len() == w.len(),
                    "{what} of flush {i}, chunks of {chunk}: {} against {}, first differing at {at:?}",
                    c.len(),
                    w.len()
                );
            }
        }
    }
}

#[test]
fn stream_equals_batch_and_bad_records_reach_dead_letter() {
    let prefix = unique_prefix("equal");
    produce(&prefix, &seeds());
    let tmp = tempfile::tempdir().expect("tmp");
    let stdout = run_kafka(&prefix, &tmp.path().join("state"), &tmp.path().join("out"));
    assert!(stdout.contains("entities       3000"), "{stdout}");

    let stream = payload_ids(&last_per_key(&read_topic(&format!("{prefix}scores"))));
    let reference = batch(&seeds());
    assert_eq!(stream.len(), 3000);
    assert_same(&stream, &reference, "scores topic vs batch");

    // Every deliberately bad seed record is on the dead-letter topic with
    // its reason and its source offset; the stream went on past them.
    let dead: Vec<Value> = read_topic(&format!("{prefix}dead-letter"))
        .iter()
        .map(|r| serde_json::from_str(&r.value).expect("dead letter is JSON"))
        .collect();
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(seeds().join("meta.json")).expect("meta"))
            .expect("meta.json");
    for b in meta["bad_records"].as_array().expect("bad_records") {
        let reason = b["reason"].as_str().expect("reason");
        let id = b["event_id"].as_str().expect("event_id");
        let hit = dead.iter().find(|d| {
            d["reason"] == reason
                && d["original"].as_str().is_some_and(|o| o.contains(id))
                && d["source"]["topic"].as_str().is_some()
                && d["source"]["offset"].as_i64().is_some()
        });
        assert!(
            hit.is_some(),
            "{id} ({reason}) not on the dead-letter topic: {dead:?}"
        );
    }

    // A second run restores the checkpoint, finds nothing new, and
    // republishes each entity's record once, unchanged.
    let before = read_topic(&format!("{prefix}scores")).len();
    let stdout = run_kafka(&prefix, &tmp.path().join("state"), &tmp.path().join("out2"));
    assert!(stdout.contains("entities       3000"), "{stdout}");
    let after = read_topic(&format!("{prefix}scores"));
    assert_eq!(after.len(), before + 3000);
    assert_same(
        &payload_ids(&last_per_key(&after)),
        &reference,
        "after a restart",
    );
}

#[test]
fn a_backlog_is_read_in_time_order_so_events_find_their_registration() {
    // `produce` sends the credit records before the other two feeds, so
    // every event's record is stamped after its entity's registration. Read
    // in timestamp order across the partitions, no event waits for its
    // registration, except those whose entity is never registered. (Read as
    // the fetches brought them, 7,745 waited: checked with time_order off.)
    let prefix = unique_prefix("timeorder");
    produce(&prefix, &seeds());
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    run_kafka(&prefix, &tmp.path().join("state"), &out);
    let summary = summary(&out);
    let unknown = read_topic(&format!("{prefix}dead-letter"))
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.value).expect("JSON"))
        .filter(|d| d["reason"] == "unknown_entity")
        .count() as u64;
    assert_eq!(
        summary["ingest"]["held"].as_u64(),
        Some(unknown),
        "{}",
        summary["ingest"]
    );
    assert_same(
        &payload_ids(&last_per_key(&read_topic(&format!("{prefix}scores")))),
        &batch(&seeds()),
        "scores read in time order vs batch",
    );
}

#[test]
fn a_backlog_is_rescored_per_interval_not_per_batch() {
    // The same backlog read in small batches, rescored after every batch
    // and at most once a minute: the second publishes fewer records (an
    // entity's intermediate scores are skipped) and the same last one per
    // entity.
    let reference = batch(&seeds());
    let mut published = Vec::new();
    for flush_ms in ["0", "60000"] {
        let prefix = unique_prefix(&format!("backlog{flush_ms}"));
        produce(&prefix, &seeds());
        let tmp = tempfile::tempdir().expect("tmp");
        let env = [
            ("TIDEWATCH_BATCH_MAX", "500"),
            ("TIDEWATCH_BACKLOG_FLUSH_MS", flush_ms),
        ];
        run_kafka_with(
            &prefix,
            &tmp.path().join("state"),
            &tmp.path().join("out"),
            &env,
        );
        let scores = read_topic(&format!("{prefix}scores"));
        assert_same(
            &payload_ids(&last_per_key(&scores)),
            &reference,
            &format!("backlog_flush_ms = {flush_ms}"),
        );
        published.push(scores.len());
    }
    let (per_batch, per_interval) = (published[0], published[1]);
    assert!(per_interval >= reference.len());
    assert!(
        per_interval < per_batch,
        "{per_interval} records published rescoring per interval, {per_batch} per batch"
    );
}

#[test]
fn killed_at_random_points_the_engine_loses_and_repeats_nothing() {
    let prefix = unique_prefix("crash");
    produce(&prefix, &seeds());
    let tmp = tempfile::tempdir().expect("tmp");
    let state = tmp.path().join("state");
    let logged = |state: &Path| -> u64 {
        std::fs::read_to_string(state.join("checkpoint.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|c| c["log_records"].as_u64())
            .unwrap_or(0)
    };
    // Every seed record but the 7 bad ones rejected outright (the 8th bad
    // record names an unknown entity: held, so in the log).
    let accepted = kafka::seed_lines() - 7;
    let mut mid_stream = 0;
    // A fixed sequence of kill times, so the test cannot flake on a seed.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..5 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let before = logged(&state);
        let mut child = serve_cmd(&prefix, &state, tmp.path())
            // Small batches and frequent checkpoints: many kill points.
            .env("TIDEWATCH_BATCH_MAX", "100")
            .env("TIDEWATCH_CHECKPOINT_INTERVAL_MS", "50")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        // Every other run is killed at a random point after its first
        // checkpoint (past its start, reading), so that kills land while it
        // is busy rather than after it read everything; the others at a
        // random point from its start (restoring, or reading).
        let start = Instant::now();
        while round % 2 == 0
            && before < accepted
            && logged(&state) == before
            && start.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(
            x % if round % 2 == 0 { 120 } else { 600 },
        ));
        // SIGKILL: no chance to checkpoint or flush.
        child.kill().expect("kill");
        let o = child.wait_with_output().expect("wait");
        assert!(
            !o.status.success(),
            "round {round}: serve should have been killed"
        );
        let n = logged(&state);
        if n > 0 && n < accepted {
            mid_stream += 1;
        }
    }
    assert!(
        mid_stream >= 2,
        "only {mid_stream} kills landed after a checkpoint and before the end; the test must kill mid-stream"
    );
    // The last restart runs to the end of the topics and stops.
    let out = tmp.path().join("out");
    run_kafka(&prefix, &state, &out);

    let recs = read_topic(&format!("{prefix}scores"));
    // No output id with two different payloads.
    let mut by_id: HashMap<String, String> = HashMap::new();
    for r in &recs {
        let j: Value = serde_json::from_str(&r.value).expect("JSON");
        let id = j["id"].as_str().expect("id").to_owned();
        if let Some(prev) = by_id.insert(id.clone(), r.value.clone()) {
            assert_eq!(prev, r.value, "id {id} published with two payloads");
        }
    }
    // The final scores equal the batch.
    assert_same(
        &payload_ids(&last_per_key(&recs)),
        &batch(&seeds()),
        "scores topic after crashes vs batch",
    );
    // Every input record counted exactly once: none skipped, none twice.
    let summary = summary(&out);
    let read: u64 = summary["ingest"]["records"]
        .as_object()
        .expect("records")
        .values()
        .map(|v| v.as_u64().expect("count"))
        .sum();
    assert_eq!(read, kafka::seed_lines(), "{}", summary["ingest"]);
    assert_eq!(summary["ingest"]["duplicates"], 1, "{}", summary["ingest"]);
}

#[test]
fn events_before_their_registration_are_held_not_rejected() {
    let prefix = unique_prefix("held");
    let dir = tempfile::tempdir().expect("tmp");
    let seeds_text = |f: &str| std::fs::read_to_string(seeds().join(f)).expect("seed");
    // An entity's inspections and complaints first, its registration later.
    let credit = seeds_text("credit-records.ndjson");
    let first_reg = credit
        .lines()
        .find(|l| l.contains("\"registered\""))
        .expect("a registration");
    let reg: Value = serde_json::from_str(first_reg).expect("JSON");
    let uscc = reg["uscc"].as_str().expect("uscc").to_owned();
    let mine = |text: String| -> String {
        text.lines()
            .filter(|l| l.contains(&uscc))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let insp = mine(seeds_text("inspections.ndjson"));
    assert!(!insp.is_empty(), "the entity has inspections");
    std::fs::write(dir.path().join("inspections.ndjson"), &insp).expect("write");
    std::fs::write(dir.path().join("complaints.ndjson"), "").expect("write");
    std::fs::write(dir.path().join("credit-records.ndjson"), "").expect("write");
    produce(&prefix, dir.path());
    let tmp = tempfile::tempdir().expect("tmp");
    let state = tmp.path().join("state");
    run_kafka(&prefix, &state, &tmp.path().join("out1"));
    // The one-shot job reports them as unknown entities at its end…
    let dead: Vec<Value> = read_topic(&format!("{prefix}dead-letter"))
        .iter()
        .map(|r| serde_json::from_str(&r.value).expect("JSON"))
        .collect();
    assert_eq!(dead.len(), insp.lines().count());
    assert!(
        dead.iter().all(|d| d["reason"] == "unknown_entity"),
        "{dead:?}"
    );
    // …but keeps them held: when the registration arrives, they count.
    let reg_lines = mine(credit);
    std::fs::write(dir.path().join("inspections.ndjson"), "").expect("write");
    std::fs::write(dir.path().join("credit-records.ndjson"), &reg_lines).expect("write");
    produce(&prefix, dir.path());
    run_kafka(&prefix, &state, &tmp.path().join("out2"));
    let scores = last_per_key(&read_topic(&format!("{prefix}scores")));
    // The same entity with everything in order, in one batch.
    let all = tempfile::tempdir().expect("tmp");
    std::fs::write(all.path().join("inspections.ndjson"), &insp).expect("write");
    std::fs::write(all.path().join("complaints.ndjson"), "").expect("write");
    std::fs::write(all.path().join("credit-records.ndjson"), &reg_lines).expect("write");
    let reference = batch(all.path());
    assert_eq!(scores.len(), 1);
    assert_eq!(
        scores[&uscc], reference[&uscc].1,
        "held inspections were applied"
    );
}

#[test]
fn serve_exposes_scores_and_metrics_that_move_with_the_stream() {
    let prefix = unique_prefix("serve");
    produce(&prefix, &seeds());
    let tmp = tempfile::tempdir().expect("tmp");
    let port = http::free_port();
    let token = "viewer-token-for-the-serve-test";
    let cfg = tmp.path().join("tidewatch.toml");
    std::fs::write(
        &cfg,
        format!(
            "[kafka]\nbrokers = \"{}\"\ntopic_prefix = \"{prefix}\"\n[engine]\ncheckpoint_dir = \"{}\"\nas_of = \"2026-09-30\"\ncheckpoint_interval_ms = 200\npipelines = \"{}\"\n[server]\nlisten = \"127.0.0.1:{port}\"\naudit_log = \"{}\"\n[[server.tokens]]\nrole = \"viewer\"\ntoken = \"{token}\"\n",
            brokers(),
            tmp.path().join("state").display(),
            kafka::root().join("pipelines").display(),
            tmp.path().join("audit.jsonl").display(),
        ),
    )
    .expect("config");
    let child = tidewatch()
        .args(["serve", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    // Wait until every seed record is counted as consumed and the class
    // gauges are set. Records are counted when applied, the gauges at the
    // flush that scores them: a scrape can fall between the two, and
    // while a backlog is read the first flush may come only after the
    // last record.
    let total = kafka::seed_lines() as f64;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not consume the seeds and set the class gauges in time"
        );
        std::thread::sleep(Duration::from_millis(300));
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            continue;
        }
        let (code, body) = http::get(port, "/metrics", None);
        if code != 200 {
            continue;
        }
        let consumed: f64 = body
            .lines()
            .filter(|l| l.starts_with("tidewatch_events_consumed_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if consumed >= total {
            assert_eq!(consumed, total, "every record counted once");
            if body.contains("tidewatch_entities{") {
                break body;
            }
        }
    };
    // Valid exposition, checked by Prometheus' own tool.
    let promtool = std::process::Command::new("bash")
        .arg(kafka::root().join("scripts/ci/promtool.sh"))
        .output()
        .expect("promtool.sh");
    let promtool = ok(promtool, "scripts/ci/promtool.sh").trim().to_owned();
    let mut check = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    {
        use std::io::Write;
        check
            .stdin
            .take()
            .expect("stdin")
            .write_all(metrics.as_bytes())
            .expect("write");
    }
    let out = check.wait_with_output().expect("promtool runs");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The API serves the same record the topic has, to viewers only.
    let scores = last_per_key(&read_topic(&format!("{prefix}scores")));
    let (uscc, payload) = scores.iter().next().expect("a score");
    let want: Value = serde_json::from_str(payload).expect("JSON");
    assert_eq!(
        http::get(port, &format!("/v1/entities/{uscc}"), None).0,
        401
    );
    let (code, body) = http::get(port, &format!("/v1/entities/{uscc}"), Some(token));
    assert_eq!(code, 200, "{body}");
    let got: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(got["fields"][0]["field"], "general");
    assert_eq!(got["fields"][0]["risk_score"], want["general_risk_score"]);
    assert_eq!(got["fields"][0]["class"], want["general_class"]);
    // Ready once the lag measured at a checkpoint is small.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = http::get(port, "/readyz", None);
        if code == 200 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never ready: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // SIGTERM stops it cleanly, with a final checkpoint.
    kafka::stop_cleanly(child);
}

#[test]
fn held_records_past_the_grace_period_reach_dead_letter_once() {
    let prefix = unique_prefix("grace");
    let dir = tempfile::tempdir().expect("tmp");
    // An entity's inspections whose registration never comes.
    let insp_all = std::fs::read_to_string(seeds().join("inspections.ndjson")).expect("seed");
    let first: Value =
        serde_json::from_str(insp_all.lines().next().expect("a line")).expect("JSON");
    let uscc = first["uscc"].as_str().expect("uscc").to_owned();
    // Without exact repeats (the seeds repeat one of these on purpose).
    let mut seen = std::collections::HashSet::new();
    let insp: String = insp_all
        .lines()
        .filter(|l| l.contains(&uscc) && seen.insert(*l))
        .map(|l| format!("{l}\n"))
        .collect();
    let n = insp.lines().count();
    std::fs::write(dir.path().join("inspections.ndjson"), &insp).expect("write");
    std::fs::write(dir.path().join("complaints.ndjson"), "").expect("write");
    std::fs::write(dir.path().join("credit-records.ndjson"), "").expect("write");
    produce(&prefix, dir.path());
    let tmp = tempfile::tempdir().expect("tmp");
    let state = tmp.path().join("state");
    let expired = || -> usize {
        std::fs::read_to_string(state.join("checkpoint.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|c| c["expired_held"].as_array().map(Vec::len))
            .unwrap_or(0)
    };
    let serve = || {
        serve_cmd(&prefix, &state, tmp.path())
            .env("TIDEWATCH_HOLD_GRACE_MS", "500")
            .env("TIDEWATCH_CHECKPOINT_INTERVAL_MS", "100")
            .env("TIDEWATCH_CATCH_UP_IDLE_MS", "300")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts")
    };
    let stop = kafka::stop_cleanly;
    let child = serve();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while expired() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "the held records never expired"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    stop(child);
    let dead = || -> Vec<Value> {
        read_topic(&format!("{prefix}dead-letter"))
            .iter()
            .map(|r| serde_json::from_str(&r.value).expect("JSON"))
            .collect()
    };
    let first_dead = dead();
    assert_eq!(first_dead.len(), n, "{first_dead:?}");
    assert!(first_dead.iter().all(|d| d["reason"] == "unknown_entity"
        && d["message"]
            .as_str()
            .is_some_and(|m| m.contains("grace period"))));
    // A restart restores them as expired: nothing is rejected twice.
    let child = serve();
    std::thread::sleep(Duration::from_millis(2500));
    stop(child);
    assert_eq!(dead().len(), n, "expired records rejected again");
    assert_eq!(expired(), n);
    let out = tmp.path().join("out");
    run_kafka(&prefix, &state, &out);
    let summary = summary(&out);
    let i = &summary["ingest"];
    assert_eq!(i["records"]["inspections"], n as u64, "{i}");
    assert_eq!(i["held"], 0, "{i}");
    assert_eq!(i["rejected"]["unknown_entity"], n as u64, "{i}");
    assert_eq!(dead().len(), n, "the final run rejects nothing again");
}

/// The partition sets a `serve --group` process logged as its assignments.
fn assignments(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("rebuilt for the group's assignment"))
        .filter_map(|l| {
            let at = l.find("partitions=")? + "partitions=".len();
            let rest = &l[at..];
            Some(rest[..rest.find('}').map_or(rest.len(), |i| i + 1)].to_owned())
        })
        .collect()
}

#[test]
fn two_processes_in_one_group_give_the_scores_of_one() {
    let prefix = unique_prefix("group");
    produce(&prefix, &seeds());
    let expected = batch(&seeds());
    let tmp = tempfile::tempdir().expect("tmp");
    let group = format!("{prefix}engines");
    let start = |name: &str| {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).expect("dir");
        let log = dir.join("stderr.log");
        let child = serve_cmd(&prefix, &dir.join("state"), &dir)
            .arg("--group")
            .env("TIDEWATCH_GROUP_ID", &group)
            .env("TIDEWATCH_BATCH_MAX", "500")
            .env("TIDEWATCH_CHECKPOINT_INTERVAL_MS", "500")
            .env("TIDEWATCH_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("serve starts");
        (child, log)
    };
    // The first engine starts alone and takes every partition; the second
    // joins while the first is busy, and the group splits them.
    let (a, a_log) = start("a");
    std::thread::sleep(Duration::from_millis(1500));
    let (b, b_log) = start("b");
    let deadline = std::time::Instant::now() + Duration::from_secs(150);
    let scores = format!("{prefix}scores");
    let mut got = BTreeMap::new();
    let split = |a: &[String], b: &[String]| match (a.last(), b.last()) {
        (Some(x), Some(y)) => x != "{}" && y != "{}",
        _ => false,
    };
    while std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(2));
        let (aa, bb) = (assignments(&a_log), assignments(&b_log));
        if !split(&aa, &bb) {
            continue;
        }
        got = payload_ids(&last_per_key(&read_topic(&scores)));
        if got == expected {
            break;
        }
    }
    let (aa, bb) = (assignments(&a_log), assignments(&b_log));
    // One member leaves: the other takes every partition back, rebuilding
    // the ones it gave up from its own checkpoint, and the scores stay.
    kafka::stop_cleanly(b);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline
        && assignments(&a_log).last().map(String::as_str) != Some("{0, 1, 2, 3}")
    {
        std::thread::sleep(Duration::from_millis(500));
    }
    let after_leave = assignments(&a_log);
    std::thread::sleep(Duration::from_secs(3));
    kafka::stop_cleanly(a);
    assert_eq!(
        after_leave.last().map(String::as_str),
        Some("{0, 1, 2, 3}"),
        "a takes every partition when b leaves: {after_leave:?}"
    );
    assert_same(
        &payload_ids(&last_per_key(&read_topic(&scores))),
        &expected,
        "scores after one member left vs batch",
    );
    assert!(
        split(&aa, &bb),
        "both engines hold partitions at the end: a {aa:?}, b {bb:?}\n{}",
        std::fs::read_to_string(&b_log).unwrap_or_default()
    );
    // The last assignments split the four partitions without overlap.
    let parse = |s: &str| -> Vec<i32> {
        s.trim_matches(|c| c == '{' || c == '}')
            .split(',')
            .filter_map(|p| p.trim().parse().ok())
            .collect()
    };
    let (pa, pb) = (parse(aa.last().expect("a")), parse(bb.last().expect("b")));
    let mut all: Vec<i32> = pa.iter().chain(&pb).copied().collect();
    all.sort_unstable();
    assert_eq!(all, vec![0, 1, 2, 3], "a holds {pa:?}, b holds {pb:?}");
    // Relation features cross the split: some legal representative has
    // entities on both engines (registrations name the representative).
    let mut sides: HashMap<String, (bool, bool)> = HashMap::new();
    for r in read_topic(&format!("{prefix}credit-records")) {
        let j: Value = serde_json::from_str(&r.value).expect("JSON");
        if let Some(rep) = j["payload"]["legal_rep_key"].as_str() {
            let e = sides.entry(rep.to_owned()).or_default();
            if pa.contains(&r.partition) {
                e.0 = true;
            } else {
                e.1 = true;
            }
        }
    }
    let crossing = sides.values().filter(|(x, y)| *x && *y).count();
    assert!(crossing > 0, "no legal representative spans both engines");
    assert_same(
        &got,
        &expected,
        "scores of two engines in one group vs batch",
    );
}
