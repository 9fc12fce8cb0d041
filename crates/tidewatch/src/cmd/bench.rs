//! `tidewatch bench score --entities N`: the scoring core's throughput on a
//! synthetic population whose features are already in memory, against the
//! physical limit of reading the feature columns once.
//! `tidewatch bench ingest`: the ingest step's throughput (see [`ingest`]).
//! `tidewatch bench engine`: the streaming engine without a broker (see
//! [`engine`]).
//! `tidewatch bench stream`: the engine end to end on a broker (see
//! [`stream`]).

mod engine;
mod ingest;
mod stream;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use polars::prelude::*;
use rayon::prelude::*;
use tidewatch_scoring::synth::frame_for;
use tidewatch_scoring::{Bound, Model, Want};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Debug, Subcommand)]
enum BenchWhat {
    /// Score a synthetic population with the general model.
    Score {
        /// Entities in the population.
        #[arg(long, default_value_t = 1_000_000)]
        entities: usize,
        /// Timed repetitions of each measurement (the best is reported).
        #[arg(long, default_value_t = 5)]
        repeat: usize,
        /// The model to score with.
        #[arg(long, default_value = "pipelines/models/general.toml")]
        model: PathBuf,
    },
    /// The engine on a broker: consume → decode → apply → rescore → produce
    /// throughput, the broker alone for comparison, and the event-to-score
    /// latency at a fixed offered rate.
    Stream {
        /// Kafka brokers (HOST:PORT).
        #[arg(long)]
        brokers: String,
        /// Events to pre-fill the topics with.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Offered rate for the latency test (events/s).
        #[arg(long, default_value_t = 20_000)]
        rate: u64,
        /// Length of the latency test (seconds).
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Partitions of the topics created.
        #[arg(long, default_value_t = 4)]
        partitions: i32,
        /// Directory with policy.toml and its models.
        #[arg(long, default_value = "pipelines")]
        pipelines: PathBuf,
    },
    /// The streaming engine without a broker: time-ordered events in
    /// micro-batches, applied, rescored and judged by the list rules, in
    /// memory (events/s, time by stage, time per live batch).
    Engine {
        /// Events of the backlog (a catch-up, lists deferred).
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Events of the live feed that follows (lists judged per batch).
        #[arg(long, default_value_t = 200_000)]
        live: u64,
        /// Records per micro-batch of the catch-up (`engine.batch_max`).
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
        batch: u64,
        /// Records per micro-batch of the live feed.
        #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
        live_batch: u64,
        /// Directory with policy.toml, its models and lists.toml.
        #[arg(long, default_value = "pipelines")]
        pipelines: PathBuf,
    },
    /// Decode, validate and apply records held in memory (events/s by stage).
    Ingest {
        /// Generate a population of this many entities (default 1,000,000).
        #[arg(long, conflicts_with = "seeds")]
        entities: Option<u64>,
        /// Read the records of a seeds directory instead.
        #[arg(long)]
        seeds: Option<PathBuf>,
        /// The as-of date (default: the data's own).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// Records per `offer_batch` call.
        #[arg(long, default_value_t = 65_536, value_parser = clap::value_parser!(u64).range(1..))]
        batch: u64,
        /// Time `offer_batch` alone (for profiling it).
        #[arg(long)]
        batch_only: bool,
        /// Timed repetitions of each measurement (the best is reported).
        #[arg(long, default_value_t = 1)]
        repeat: usize,
    },
}

/// The `p` quantile (0–1) of sorted values, nearest rank; the default of
/// `T` when there are none.
fn pct<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Peak resident memory of this process (VmHWM), in bytes.
fn peak_rss() -> Option<u64> {
    status_bytes("VmHWM:")
}

/// Resident memory now (VmRSS), in bytes.
fn rss() -> Option<u64> {
    status_bytes("VmRSS:")
}

/// A size in kB from this process's `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Minor page faults of this process so far: each one is a page the
/// kernel had to find and zero. On a virtual machine whose free memory goes
/// back to the host, each can cost the host's fault too, so the count of
/// fresh pages a phase touches says how exposed it is to that.
fn minor_faults() -> Option<u64> {
    stat_field(10)
}

/// This process's CPU time so far, user and system, in seconds (all its
/// threads: the engine's and librdkafka's). A high system share means the
/// kernel's work, such as zeroing fresh pages, took the time.
fn cpu_secs() -> Option<(f64, f64)> {
    // utime and stime, in clock ticks.
    let (user, system) = (stat_field(14)?, stat_field(15)?);
    let tick = rustix::param::clock_ticks_per_second() as f64;
    Some((user as f64 / tick, system as f64 / tick))
}

/// Field `n` (numbered from 1, as in proc(5)) of `/proc/self/stat`, a
/// number. The command name (field 2) is in parentheses and may hold
/// spaces, so the fields are counted from after it: state is field 3.
fn stat_field(n: usize) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    rest.split_whitespace().nth(n.checked_sub(3)?)?.parse().ok()
}

fn best<T>(repeat: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed());
        out = Some(r);
    }
    // repeat ≥ 1, so `out` is set.
    (best, out.unwrap_or_else(f))
}

fn rate(n: usize, d: Duration) -> String {
    let r = n as f64 / d.as_secs_f64();
    if r >= 1e6 {
        format!("{:.1} million entities/s", r / 1e6)
    } else {
        format!("{r:.0} entities/s")
    }
}

pub fn run(a: BenchArgs) -> anyhow::Result<ExitCode> {
    let (n, repeat, model) = match a.what {
        BenchWhat::Score {
            entities,
            repeat,
            model,
        } => (entities, repeat, model),
        BenchWhat::Stream {
            brokers,
            events,
            rate,
            seconds,
            partitions,
            pipelines,
        } => {
            stream::run(stream::StreamBench {
                brokers,
                events,
                rate,
                seconds,
                partitions,
                pipelines,
            })?;
            return Ok(ExitCode::SUCCESS);
        }
        BenchWhat::Engine {
            events,
            live,
            batch,
            live_batch,
            pipelines,
        } => {
            engine::run(engine::EngineBench {
                events,
                live,
                batch: batch as usize,
                live_batch: live_batch as usize,
                pipelines,
            })?;
            return Ok(ExitCode::SUCCESS);
        }
        BenchWhat::Ingest {
            entities,
            seeds,
            as_of,
            batch,
            batch_only,
            repeat,
        } => {
            ingest::run(entities, seeds, as_of, batch as usize, batch_only, repeat)?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    let m = Model::load(&model)?;
    let t = Instant::now();
    let df = frame_for(&[&m], n, 20_260_930)
        .map_err(|e| anyhow::anyhow!("generating the population: {e}"))?;
    let gen = t.elapsed();
    let table_bytes: usize = df.columns().iter().map(|c| c.len() * 8 + c.len() / 8).sum();
    println!(
        "population: {n} entities × {} feature columns (Int64), {:.0} MB in memory, generated in {:.1} s; {} threads",
        df.width(),
        table_bytes as f64 / 1e6,
        gen.as_secs_f64(),
        rayon::current_num_threads()
    );
    println!(
        "model: {} ({} variables, version {})",
        m.id,
        m.variables.len(),
        m.version
    );

    // The physical limit: read every feature column once (sum it), on the
    // same threads the kernel uses.
    let cols: Vec<Int64Chunked> = df
        .columns()
        .iter()
        .map(|c| {
            c.as_materialized_series()
                .i64()
                .map(|ca| ca.rechunk().into_owned())
        })
        .collect::<Result<_, _>>()?;
    let (t_read, sum) = best(repeat, || {
        cols.iter()
            .map(|ca| {
                ca.downcast_as_array()
                    .values()
                    .as_slice()
                    .par_chunks(1 << 16)
                    .map(|c| c.iter().fold(0i64, |a, &x| a.wrapping_add(x)))
                    .reduce(|| 0, i64::wrapping_add)
            })
            .fold(0i64, i64::wrapping_add)
    });
    std::hint::black_box(sum);
    println!(
        "read the feature columns once:  {:>8.1} ms  {}",
        t_read.as_secs_f64() * 1e3,
        rate(n, t_read)
    );

    let (t_bind, _) = best(repeat, || Bound::new(&m, &df).map(|b| b.rows()));
    println!(
        "bind (derived inputs):          {:>8.1} ms",
        t_bind.as_secs_f64() * 1e3
    );
    let (t_plain, s) = best(repeat, || {
        Bound::new(&m, &df).map(|b| b.score(Want::default()))
    });
    let s = s?;
    let frac = t_read.as_secs_f64() / t_plain.as_secs_f64();
    println!(
        "scores + classes:               {:>8.1} ms  {}  ({:.0}% of the read limit)",
        t_plain.as_secs_f64() * 1e3,
        rate(n, t_plain),
        frac * 100.0
    );
    let d = s.class.iter().filter(|&&c| c == 3).count();
    let (t_reasons, _) = best(repeat, || {
        Bound::new(&m, &df).map(|b| {
            b.score(Want {
                points: false,
                reasons: true,
            })
        })
    });
    println!(
        "scores + classes + top-3 reasons:{:>7.1} ms  {}",
        t_reasons.as_secs_f64() * 1e3,
        rate(n, t_reasons)
    );

    // Micro-batches: 10,000 changed entities gathered into a small frame
    // (the engine builds that frame from the changed entities' fresh
    // features), then rescored with reasons. Timed apart, 200 batches.
    let k = 10_000.min(n);
    let (mut gathers, mut scores) = (Vec::new(), Vec::new());
    for rep in 0..200u64 {
        let idx: Vec<IdxSize> = (0..k as u64)
            .map(|i| ((i * 7_919 + rep * 104_729) % n as u64) as IdxSize)
            .collect();
        let idx = IdxCa::from_vec("idx".into(), idx);
        let t = Instant::now();
        let sub = df.take(&idx)?;
        gathers.push(t.elapsed());
        let t = Instant::now();
        let r = Bound::new(&m, &sub)?.score(Want {
            points: false,
            reasons: true,
        });
        scores.push(t.elapsed());
        std::hint::black_box(r);
    }
    let pct = |v: &mut Vec<Duration>, q: usize| {
        v.sort();
        v[(v.len() * q / 100).min(v.len() - 1)].as_secs_f64() * 1e3
    };
    println!(
        "micro-batch of {k} changed entities rescored with reasons: median {:.2} ms, p99 {:.2} ms; gathering them from the table first: median {:.2} ms, p99 {:.2} ms",
        pct(&mut scores, 50),
        pct(&mut scores, 99),
        pct(&mut gathers, 50),
        pct(&mut gathers, 99)
    );
    println!(
        "class D in the synthetic population: {:.1}%",
        d as f64 * 100.0 / n as f64
    );
    if let Some(p) = peak_rss() {
        println!(
            "peak memory: {:.0} MB ({:.2}× the feature table)",
            p as f64 / 1e6,
            p as f64 / table_bytes as f64
        );
    }
    Ok(ExitCode::SUCCESS)
}
