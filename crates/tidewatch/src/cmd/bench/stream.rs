//! `tidewatch bench stream`: the engine end to end on a broker.
//!
//! The events of a generated population are put in time order (by
//! `occurred_on`), as a live feed delivers them, and split in two: the
//! first N are the backlog, the rest the live feed.
//!
//! 1. Produces the backlog to fresh topics (the producer's rate).
//! 2. Measures the broker alone for the same reads and writes with a plain
//!    rdkafka client.
//! 3. Runs the engine over the backlog from an empty checkpoint: consume →
//!    decode → apply → rescore → produce, events/s from the first record
//!    read to the last batch published.
//! 4. Restarts the engine on that checkpoint (it holds the whole
//!    population) and offers the live feed at a fixed rate: the
//!    event-to-score latency distribution (producer timestamp → the score
//!    acknowledged by the broker), and how long records waited to be read.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use tidewatch_kafka::bench::{self, Line};
use tidewatch_kafka::config::AsOf;
use tidewatch_kafka::runner::{unix_ms, LoopTimes, Runner};
use tidewatch_kafka::{produce, Config, Topics};
use tidewatch_model::Family;
use tidewatch_seedgen::{generate_to_dir, SeedConfig};

use super::{cpu_secs, minor_faults, pct, rss};
use crate::cmd::run::load_policy;

pub struct StreamBench {
    pub brokers: String,
    pub events: u64,
    pub rate: u64,
    pub seconds: f64,
    pub partitions: i32,
    pub pipelines: std::path::PathBuf,
}

/// Every record of the population in time order (stable: a day's records
/// keep their files' order, registrations first).
pub(super) fn lines_of(dir: &Path) -> anyhow::Result<Vec<Line>> {
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
    out.sort_by_cached_key(|(_, _, b)| occurred_on(b));
    Ok(out)
}

/// The `occurred_on` date of a generated record, as its bytes (ISO dates
/// sort as bytes).
fn occurred_on(line: &[u8]) -> [u8; 10] {
    const FIELD: &[u8] = b"\"occurred_on\":\"";
    let mut day = [0u8; 10];
    if let Some(i) = line.windows(FIELD.len()).position(|w| w == FIELD) {
        if let Some(d) = line.get(i + FIELD.len()..i + FIELD.len() + 10) {
            day.copy_from_slice(d);
        }
    }
    day
}

fn times(t: &LoopTimes) -> String {
    format!(
        "poll {:.0} ms (the loop waited {:.0} ms for it), apply {:.0} ms, score {:.0} ms, publish {:.0} ms, checkpoint {:.0} ms; alerts logged beside the loop {:.0} ms, waited for {:.0} ms",
        t.poll_ms, t.read_wait_ms, t.apply_ms, t.score_ms, t.publish_ms, t.checkpoint_ms, t.alerts_ms, t.alerts_wait_ms
    )
}

/// "p50 …, p90 …, p99 …, max …" of sorted milliseconds.
fn spread(sorted: &[u32]) -> String {
    format!(
        "p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        pct(sorted, 0.50),
        pct(sorted, 0.90),
        pct(sorted, 0.99),
        sorted.last().copied().unwrap_or(0)
    )
}

pub fn run(b: StreamBench) -> anyhow::Result<()> {
    // The first seconds of the live feed are a warm-up (the engine's first
    // fetches after its restart): offered, not measured.
    let warmup = 2.0;
    let live = (b.rate as f64 * (warmup + b.seconds)).ceil() as u64;
    let tmp = tempfile::tempdir()?;
    let seeds = tmp.path().join("events");
    // The generator's rate is about 7.8 events per entity over 36 months.
    let cfg_seed = SeedConfig {
        entities: ((b.events + live) as f64 / 7.8).ceil().max(10.0) as u64,
        bad_records: false,
        ..SeedConfig::default()
    };
    let t = Instant::now();
    generate_to_dir(&cfg_seed, &seeds)?;
    let lines = lines_of(&seeds)?;
    let split = lines.len().saturating_sub(live as usize);
    let (backlog, feed) = lines.split_at(split);
    let n = backlog.len() as u64;
    println!(
        "generated {} events for {} entities in {:.1} s: a backlog of {n}, then {} live",
        lines.len(),
        cfg_seed.entities,
        t.elapsed().as_secs_f64(),
        feed.len()
    );
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // The engine's tuning from `TIDEWATCH_*` variables (micro-batch size,
    // librdkafka properties, …), as `serve` takes it; the topics, state and
    // date are the benchmark's own.
    let mut cfg = Config::default();
    cfg.apply_env(std::env::vars())?;
    cfg.kafka.brokers = b.brokers.clone();
    cfg.kafka.partitions = b.partitions;
    cfg.kafka.topic_prefix = format!("bench-{stamp}.");
    cfg.engine.as_of = AsOf::Fixed(cfg_seed.as_of);
    cfg.engine.checkpoint_dir = tmp.path().join("state");
    cfg.engine.pipelines = b.pipelines.clone();
    cfg.engine.catch_up_idle_ms = 1500;
    cfg.check()?;
    let topics = Topics::new(&cfg.kafka.topic_prefix);
    let policy = load_policy(&b.pipelines)?;

    // 1. The backlog.
    let secs = bench::fill(&cfg.kafka, &topics, backlog)?;
    println!(
        "produce: {n} records in {secs:.2} s = {:.0} records/s",
        n as f64 / secs
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

    // 3. The engine over the backlog.
    let (rss0, faults0, cpu0) = (rss(), minor_faults(), cpu_secs());
    let mut runner = Runner::open(cfg.clone(), policy.clone())?;
    runner.catch_up()?;
    let (rss1, faults1, cpu1) = (rss(), minor_faults(), cpu_secs());
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
    println!("  engine time: {}", times(&s.time));
    println!(
        "  read {}: at most {} events waited for their entity's registration at once",
        if cfg.engine.time_order {
            "in record-timestamp order across the partitions"
        } else {
            "as the fetches brought the records (time_order off)"
        },
        s.held_most
    );
    let whole = busy + s.time.finish_ms / 1e3;
    println!(
        "  with the end of the catch-up (the lists judged for everyone the backlog touched, {} alerts, the last checkpoint: {:.0} ms): {whole:.2} s = {:.0} events/s",
        s.alerts_published,
        s.time.finish_ms,
        s.consumed as f64 / whole
    );
    if let (Some(r0), Some(r1), Some(f0), Some(f1)) = (rss0, rss1, faults0, faults1) {
        let fresh = f1.saturating_sub(f0);
        println!(
            "  memory: resident {:.0} MB before, {:.0} MB after; {fresh} page faults ({:.0} MB of fresh pages) in the catch-up",
            r0 as f64 / 1e6,
            r1 as f64 / 1e6,
            fresh as f64 * 4096.0 / 1e6
        );
    }
    if let (Some((u0, s0)), Some((u1, s1))) = (cpu0, cpu1) {
        let (user, system) = (u1 - u0, s1 - s0);
        println!(
            "  CPU time in the catch-up (all the process's threads): user {user:.2} s, system {system:.2} s ({:.0}% system)",
            100.0 * system / (user + system).max(f64::EPSILON)
        );
    }
    drop(runner);
    println!(
        "engine = {:.0}% of the broker-alone rate",
        100.0 * engine_rate / plain_rate
    );

    // 4. The live feed at a fixed rate, to the engine restarted on its
    // checkpoint.
    let mut lcfg = cfg.clone();
    if std::env::var_os("TIDEWATCH_LATENCY_MS").is_none() {
        lcfg.engine.latency_ms = 20;
    }
    let t = Instant::now();
    let mut runner = Runner::open(lcfg.clone(), policy)?;
    let replayed = t.elapsed().as_secs_f64();
    // A restart republishes every entity's current record: the live feed
    // starts once those are acknowledged, so that it measures the steady
    // state rather than the restart.
    runner.await_outputs()?;
    println!(
        "engine restarted: {} records replayed from the checkpoint in {replayed:.2} s, {} current scores republished and acknowledged after {:.2} s",
        runner.stats.restored_records,
        runner.stats.scores_published,
        t.elapsed().as_secs_f64()
    );
    runner.latency_since_ms = Some(unix_ms() + (warmup * 1000.0) as i64);
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let engine = std::thread::spawn(move || -> anyhow::Result<Runner> {
        runner.serve(&st)?;
        Ok(runner)
    });
    let sent = bench::paced(&lcfg.kafka, &topics, feed, b.rate, warmup + b.seconds)?;
    // Let the engine drain what is in flight.
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    let mut runner = engine
        .join()
        .map_err(|_| anyhow::anyhow!("the engine thread panicked"))??;
    let s = &runner.stats;
    println!(
        "  engine: {} rescorings, {} scores, {} alerts published; time: {}",
        s.rescored,
        s.scores_published,
        s.alerts_published,
        times(&s.time)
    );
    runner.arrivals.sort_unstable();
    let mut lat = runner.take_latencies();
    lat.sort_unstable();
    println!(
        "latency at {} events/s offered for {:.0} s after a {warmup:.0} s warm-up ({sent} events, {} measured): {}",
        b.rate,
        b.seconds,
        lat.len(),
        spread(&lat)
    );
    println!(
        "  of which waiting to be read: {}",
        spread(&runner.arrivals)
    );
    Ok(())
}
