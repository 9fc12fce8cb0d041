//! `tidewatch bench engine`: the streaming engine's own work, in memory and
//! without a broker — what `bench stream` measures minus Kafka. It is the
//! ceiling of the end-to-end rate, and the place to profile the engine.
//!
//! The events of a generated population, in time order (as `bench stream`
//! feeds them), go through [`Engine`] as the Kafka loop drives it:
//!
//! 1. the backlog in micro-batches of `--batch` records with the lists
//!    deferred, then the lists judged once for everyone the backlog touched
//!    (a catch-up);
//! 2. the live feed in micro-batches of `--live-batch` records (a
//!    20,000 events/s feed read every 50 ms gives 1,000), the lists judged
//!    after each: the time per batch bounds the latency a live feed sees.
//!
//! Score records and alerts are built (JSON payloads included) but not
//! sent anywhere.

use std::path::PathBuf;
use std::time::Instant;

use tidewatch_alerts::Rules;
use tidewatch_engine::stream::{Engine, FlushTimes};
use tidewatch_ingest::FileLine;
use tidewatch_kafka::bench::Line;
use tidewatch_model::Family;
use tidewatch_seedgen::{generate_to_dir, SeedConfig};

use super::stream::lines_of;
use super::{pct, peak_rss};
use crate::cmd::run::load_policy;

pub struct EngineBench {
    pub events: u64,
    pub live: u64,
    pub batch: usize,
    pub live_batch: usize,
    pub pipelines: PathBuf,
}

/// What the engine did over some micro-batches.
#[derive(Default)]
struct Totals {
    events: usize,
    rescored: usize,
    records: usize,
    alerts: usize,
    apply_ms: f64,
    /// Milliseconds per micro-batch (offer + flush).
    batches: Vec<f64>,
}

impl Totals {
    fn summary(&self, what: &str, batch: usize, secs: f64) {
        println!(
            "{what}: {} events in batches of {batch} in {secs:.2} s = {:.0} events/s; {} rescorings ({:.2} per event), {} score records, {} alerts",
            self.events,
            self.events as f64 / secs,
            self.rescored,
            self.rescored as f64 / self.events.max(1) as f64,
            self.records,
            self.alerts
        );
    }
}

/// Offers `lines` in micro-batches of `batch` and flushes after each.
fn drive(engine: &mut Engine, lines: &[Line], batch: usize, t: &mut Totals) -> anyhow::Result<()> {
    for (b, chunk) in lines.chunks(batch).enumerate() {
        let start = Instant::now();
        let records: Vec<(Family, &[u8], FileLine<'_>)> = chunk
            .iter()
            .enumerate()
            .map(|(i, (fam, _, bytes))| {
                let family = Family::ALL
                    .get(*fam)
                    .copied()
                    .unwrap_or(Family::CreditRecords);
                let line = FileLine {
                    file: "bench",
                    line: (b * batch + i + 1) as u64,
                };
                (family, bytes.as_slice(), line)
            })
            .collect();
        let dead = engine.pipe.offer_batch(&records);
        if !dead.is_empty() {
            anyhow::bail!(
                "the generated events were rejected: {}",
                dead[0].reason.code()
            );
        }
        t.apply_ms += start.elapsed().as_secs_f64() * 1e3;
        // As the Kafka loop does: this batch scored while the previous
        // one's lists are judged.
        let f = engine.flush_judging_previous()?;
        t.events += chunk.len();
        t.rescored += f.rescored;
        t.records += f.records.len();
        t.alerts += payloads(&f.alerts)?;
        t.batches.push(start.elapsed().as_secs_f64() * 1e3);
    }
    // The last batch's lists.
    t.alerts += payloads(&engine.judge_lists())?;
    Ok(())
}

/// Alerts as the Kafka edge publishes them (JSON); how many.
fn payloads(alerts: &[tidewatch_alerts::Alert]) -> anyhow::Result<usize> {
    for a in alerts {
        std::hint::black_box(serde_json::to_vec(a)?);
    }
    Ok(alerts.len())
}

fn stages(apply_ms: f64, t: &FlushTimes) -> String {
    format!(
        "apply {apply_ms:.0} ms, features {:.0} ms, score {:.0} ms, records {:.0} ms, lists {:.0} ms",
        t.features_ms, t.score_ms, t.records_ms, t.lists_ms
    )
}

fn since(now: &FlushTimes, before: &FlushTimes) -> FlushTimes {
    FlushTimes {
        features_ms: now.features_ms - before.features_ms,
        score_ms: now.score_ms - before.score_ms,
        records_ms: now.records_ms - before.records_ms,
        lists_ms: now.lists_ms - before.lists_ms,
    }
}

pub fn run(b: EngineBench) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let seeds = tmp.path().join("events");
    // The generator's rate is about 7.8 events per entity over 36 months.
    let cfg = SeedConfig {
        entities: ((b.events + b.live) as f64 / 7.8).ceil().max(10.0) as u64,
        bad_records: false,
        ..SeedConfig::default()
    };
    let t = Instant::now();
    generate_to_dir(&cfg, &seeds)?;
    let lines = lines_of(&seeds)?;
    let split = lines.len().saturating_sub(b.live as usize);
    let (backlog, feed) = lines.split_at(split);
    println!(
        "generated {} events for {} entities in {:.1} s: a backlog of {}, then {} live",
        lines.len(),
        cfg.entities,
        t.elapsed().as_secs_f64(),
        backlog.len(),
        feed.len()
    );

    let policy = load_policy(&b.pipelines)?;
    let mut engine = Engine::new(policy, cfg.as_of);
    let rules = b.pipelines.join("lists.toml");
    if rules.exists() {
        engine.set_lists(tidewatch_engine::lists::Lists::new(Rules::load(&rules)?));
        engine.defer_lists(true);
    } else {
        println!("no {}: lists and alerts are off", rules.display());
    }

    // 1. Catch-up.
    let mut c = Totals::default();
    let start = Instant::now();
    drive(&mut engine, backlog, b.batch, &mut c)?;
    let t = Instant::now();
    engine.defer_lists(false);
    c.alerts += payloads(&engine.evaluate_pending())?;
    let pending_ms = t.elapsed().as_secs_f64() * 1e3;
    let secs = start.elapsed().as_secs_f64();
    c.summary("catch-up", b.batch, secs);
    println!(
        "  time: {}; the deferred lists {pending_ms:.0} ms",
        stages(c.apply_ms, &engine.times)
    );
    if c.rescored > 0 {
        let flush = engine.times.features_ms
            + engine.times.score_ms
            + engine.times.records_ms
            + engine.times.lists_ms;
        println!(
            "  {:.2} µs of flush per rescoring",
            flush * 1e3 / c.rescored as f64
        );
    }

    // 2. Live.
    if !feed.is_empty() {
        live(&mut engine, feed, b.live_batch)?;
    }
    if let Some(rss) = peak_rss() {
        println!("peak memory: {:.0} MB", rss as f64 / 1e6);
    }
    Ok(())
}

fn live(engine: &mut Engine, feed: &[Line], batch: usize) -> anyhow::Result<()> {
    let before = engine.times;
    let mut l = Totals::default();
    let start = Instant::now();
    drive(engine, feed, batch, &mut l)?;
    let secs = start.elapsed().as_secs_f64();
    l.batches.sort_by(f64::total_cmp);
    l.summary("live", batch, secs);
    println!(
        "  time: {} (a batch's lists run beside the next one's features, score and records)",
        stages(l.apply_ms, &since(&engine.times, &before))
    );
    println!(
        "  per batch: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(&l.batches, 0.5),
        pct(&l.batches, 0.9),
        pct(&l.batches, 0.99),
        l.batches.last().copied().unwrap_or(0.0)
    );
    Ok(())
}
