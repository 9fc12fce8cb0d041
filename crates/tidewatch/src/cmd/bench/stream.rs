//! `tidewatch bench stream`: the engine end to end on a broker.
//!
//! 1. Generates a population with about N events and produces it to fresh
//!    topics (the producer's rate).
//! 2. Runs the engine over them from a fresh checkpoint: consume → decode →
//!    apply → rescore → produce, events/s from the first record read to the
//!    last batch published.
//! 3. Measures the broker alone for the same reads and writes with a plain
//!    rdkafka client.
//! 4. Offers events at a fixed rate to a running engine and reports the
//!    event-to-score latency distribution (producer timestamp → the score
//!    acknowledged by the broker).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use tidewatch_kafka::config::AsOf;
use tidewatch_kafka::runner::Runner;
use tidewatch_kafka::{bench, produce, Config, Topics};
use tidewatch_model::Family;
use tidewatch_seedgen::{generate_to_dir, SeedConfig};

use crate::cmd::run::load_policy;

pub struct StreamBench {
    pub brokers: String,
    pub events: u64,
    pub rate: u64,
    pub seconds: f64,
    pub partitions: i32,
    pub pipelines: std::path::PathBuf,
}

/// (index of the family in `Family::ALL`, key, record bytes).
type Line = (usize, Option<String>, Vec<u8>);

fn lines_of(dir: &Path) -> anyhow::Result<Vec<Line>> {
    let mut out = Vec::new();
    for f in [
        Family::CreditRecords,
        Family::Inspections,
        Family::Complaints,
    ] {
        let idx = Family::ALL.iter().position(|x| *x == f).unwrap_or(0);
        let path = dir.join(format!("{}.ndjson", f.as_str()));
        tidewatch_ingest::ndjson::for_each_line(&path, |_, b| {
            out.push((idx, produce::key_of(b).map(str::to_owned), b.to_vec()));
        })
        .with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(out)
}

fn pct(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn run(b: StreamBench) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let seeds = tmp.path().join("events");
    // The generator's rate is about 7.8 events per entity over 36 months.
    let cfg_seed = SeedConfig {
        entities: (b.events as f64 / 7.8).ceil().max(10.0) as u64,
        bad_records: false,
        ..SeedConfig::default()
    };
    let t = Instant::now();
    generate_to_dir(&cfg_seed, &seeds)?;
    let lines = lines_of(&seeds)?;
    let n = lines.len() as u64;
    println!(
        "generated {n} events for {} entities in {:.1} s",
        cfg_seed.entities,
        t.elapsed().as_secs_f64()
    );
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut cfg = Config::default();
    cfg.kafka.brokers = b.brokers.clone();
    cfg.kafka.partitions = b.partitions;
    cfg.kafka.topic_prefix = format!("bench-{stamp}.");
    cfg.engine.as_of = AsOf::Fixed(cfg_seed.as_of);
    cfg.engine.checkpoint_dir = tmp.path().join("state");
    cfg.engine.checkpoint_interval_ms = 5000;
    cfg.engine.catch_up_idle_ms = 1500;
    cfg.check()?;
    let topics = Topics::new(&cfg.kafka.topic_prefix);

    let policy = load_policy(&b.pipelines)?;
    // 1. Fill the topics.
    let p = produce::produce_dir(&cfg.kafka, &topics, &seeds)?;
    println!(
        "produce: {} records in {:.2} s = {:.0} records/s",
        p.records,
        p.seconds,
        p.records as f64 / p.seconds
    );

    // 2. The broker alone, for the same reads and (about) the same writes:
    // the engine publishes about one score per six events on this data.
    let writes = n / 6;
    let plain = bench::plain_client(
        &cfg.kafka,
        &topics,
        &format!("{}baseline-out", cfg.kafka.topic_prefix),
        n,
        writes,
    )?;
    let plain_rate = n as f64 / plain;
    println!(
        "broker alone (plain rdkafka client: read {n}, write {writes}): {plain:.2} s = {plain_rate:.0} events/s"
    );

    // 3. The engine over the same topics.
    let mut runner = Runner::open(cfg.clone(), policy.clone())?;
    runner.catch_up()?;
    let s = runner.stats.clone();
    let busy = match (runner.first_at, runner.last_at) {
        (Some(a), Some(z)) => z.duration_since(a).as_secs_f64(),
        _ => f64::NAN,
    };
    let engine_rate = s.consumed as f64 / busy;
    println!(
        "engine: {} records consumed, {} rescorings, {} scores published, {} checkpoints in {:.2} s = {:.0} events/s end to end",
        s.consumed, s.rescored, s.scores_published, s.checkpoints, busy, engine_rate
    );
    drop(runner);
    println!(
        "engine = {:.0}% of the broker-alone rate",
        100.0 * engine_rate / plain_rate
    );

    // 4. Latency at a fixed offered rate, on fresh topics.
    let mut lcfg = cfg.clone();
    lcfg.kafka.topic_prefix = format!("bench-{stamp}-latency.");
    lcfg.engine.checkpoint_dir = tmp.path().join("state-latency");
    lcfg.engine.latency_ms = 20;
    let ltopics = Topics::new(&lcfg.kafka.topic_prefix);
    tidewatch_kafka::topics::ensure(&lcfg.kafka, &ltopics)?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut runner = Runner::open(lcfg.clone(), policy)?;
    runner.latencies = Some(Vec::new());
    // The first seconds are a warm-up (the engine's first fetches, the
    // backlog check at start): offered, not measured.
    let warmup = 2.0;
    runner.latency_since_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
        + (warmup * 1000.0) as i64;
    let st = stop.clone();
    let engine = std::thread::spawn(move || -> anyhow::Result<Runner> {
        runner.serve(&st)?;
        Ok(runner)
    });
    let sent = bench::paced(&lcfg.kafka, &ltopics, &lines, b.rate, warmup + b.seconds)?;
    // Let the engine drain what is in flight.
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    let runner = engine
        .join()
        .map_err(|_| anyhow::anyhow!("the engine thread panicked"))??;
    let mut lat = runner.latencies.unwrap_or_default();
    lat.sort_unstable();
    println!(
        "latency at {} events/s offered for {:.0} s after a {warmup:.0} s warm-up ({sent} events, {} measured): p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        b.rate,
        b.seconds,
        lat.len(),
        pct(&lat, 0.50),
        pct(&lat, 0.90),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or(0)
    );
    Ok(())
}
