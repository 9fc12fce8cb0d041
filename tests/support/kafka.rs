//! Helpers for the tests that talk to the Kafka-compatible test broker.
//! The broker's address comes from `TIDEWATCH_TEST_BROKERS`, which the
//! test command (scripts/test.sh) sets after starting it; without it these
//! tests fail rather than skip.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

pub fn brokers() -> String {
    std::env::var("TIDEWATCH_TEST_BROKERS").unwrap_or_else(|_| {
        panic!(
            "TIDEWATCH_TEST_BROKERS is not set: run the tests with scripts/test.sh, which starts \
             the test broker, or start one with `scripts/ci/broker.sh start 19092` and set \
             TIDEWATCH_TEST_BROKERS=127.0.0.1:19092"
        )
    })
}

/// A topic prefix no other test (or earlier run on the same broker) uses.
pub fn unique_prefix(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!(
        "t{}-{}-{}-{name}.",
        std::process::id(),
        t,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn seeds() -> PathBuf {
    root().join("seeds")
}

pub fn tidewatch() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tidewatch"));
    c.env_remove("TIDEWATCH_BROKERS");
    c
}

pub fn ok(o: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{what} failed ({}): {}\n{stdout}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

pub fn produce(prefix: &str, from: &Path) {
    let o = tidewatch()
        .args([
            "produce",
            "--brokers",
            &brokers(),
            "--topic-prefix",
            prefix,
            "--from",
        ])
        .arg(from)
        .output()
        .expect("runs");
    ok(o, "tidewatch produce");
}

/// One record read back from a topic.
#[derive(Debug, Clone)]
pub struct Rec {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub value: String,
}

/// Every record of a topic, partition by partition in offset order.
pub fn read_topic(topic: &str) -> Vec<Rec> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("reader-{topic}"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let parts = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map_or(0, |t| t.partitions().len()) as i32;
    let mut ends = BTreeMap::new();
    let mut tpl = TopicPartitionList::new();
    for p in 0..parts {
        let (_, high) = c
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .expect("watermarks");
        ends.insert(p, high);
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    c.assign(&tpl).expect("assign");
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    // The test broker's end offsets lag behind what it holds, so reading
    // ends past them *and* after two quiet seconds.
    let mut quiet_since = std::time::Instant::now();
    loop {
        let reached = ends
            .iter()
            .all(|(p, &h)| h <= 0 || next.get(p).copied().unwrap_or(0) >= h);
        if reached && quiet_since.elapsed() >= Duration::from_secs(2) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "reading {topic} timed out"
        );
        let Some(m) = c.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m.expect("message");
        quiet_since = std::time::Instant::now();
        next.insert(m.partition(), m.offset() + 1);
        out.push(Rec {
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            value: String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
        });
    }
    out.sort_by_key(|r| (r.partition, r.offset));
    out
}

/// The last record per key (what a compacted topic keeps).
pub fn last_per_key(recs: &[Rec]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for r in recs {
        if let Some(k) = &r.key {
            m.insert(k.clone(), r.value.clone());
        }
    }
    m
}

/// Asserts two keyed maps are equal, naming the first differences only
/// (score payloads are long).
pub fn assert_same<V: PartialEq + std::fmt::Debug>(
    got: &BTreeMap<String, V>,
    want: &BTreeMap<String, V>,
    what: &str,
) {
    let missing: Vec<&String> = want
        .keys()
        .filter(|k| !got.contains_key(*k))
        .take(5)
        .collect();
    let extra: Vec<&String> = got
        .keys()
        .filter(|k| !want.contains_key(*k))
        .take(5)
        .collect();
    let differ: Vec<&String> = want
        .iter()
        .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
        .map(|(k, _)| k)
        .collect();
    if missing.is_empty() && extra.is_empty() && differ.is_empty() {
        return;
    }
    let first = differ
        .first()
        .map(|k| {
            format!(
                "\nfirst difference, {k}:\n got  {:?}\n want {:?}",
                got[*k], want[*k]
            )
        })
        .unwrap_or_default();
    panic!(
        "{what}: {} keys vs {} expected; missing {missing:?}; unexpected {extra:?}; {} differ{first}",
        got.len(),
        want.len(),
        differ.len()
    );
}

/// Lines of the seed files, for counting.
pub fn seed_lines() -> u64 {
    ["inspections", "complaints", "credit-records"]
        .iter()
        .map(|f| {
            std::fs::read_to_string(seeds().join(format!("{f}.ndjson")))
                .expect("seed file")
                .lines()
                .count() as u64
        })
        .sum()
}

/// Sends SIGTERM to a running engine.
pub fn terminate(child: &std::process::Child) {
    ok(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .output()
            .expect("kill"),
        "kill -TERM",
    );
}

/// SIGTERM, then the engine must stop cleanly (a final checkpoint).
pub fn stop_cleanly(child: std::process::Child) {
    terminate(&child);
    let o = child.wait_with_output().expect("wait");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `tidewatch run --brokers` over the topics under `prefix` at the seeds'
/// as-of date; returns its output.
pub fn run_kafka(prefix: &str, state: &Path, out: &Path) -> String {
    run_kafka_with(prefix, state, out, &[])
}

/// [`run_kafka`] with `TIDEWATCH_*` tuning in the environment.
pub fn run_kafka_with(prefix: &str, state: &Path, out: &Path, env: &[(&str, &str)]) -> String {
    ok(
        tidewatch()
            .envs(env.iter().copied())
            .args(["run", "--brokers", &brokers(), "--topic-prefix", prefix])
            .arg("--checkpoint-dir")
            .arg(state)
            .arg("--out")
            .arg(out)
            .args(["--as-of", "2026-09-30", "--pipelines"])
            .arg(root().join("pipelines"))
            .output()
            .expect("runs"),
        "tidewatch run --brokers",
    )
}

/// `tidewatch serve` on the topics under `prefix` at the seeds' as-of date,
/// on a free port, run in `cwd` (the API's audit log defaults to out/ under
/// the working directory: keep it in the test's own).
pub fn serve_cmd(prefix: &str, state: &Path, cwd: &Path) -> Command {
    let mut c = tidewatch();
    c.args(["serve", "--brokers", &brokers(), "--topic-prefix", prefix])
        .args(["--listen", "127.0.0.1:0"])
        .current_dir(cwd)
        .arg("--checkpoint-dir")
        .arg(state)
        .args(["--as-of", "2026-09-30", "--pipelines"])
        .arg(root().join("pipelines"));
    c
}
