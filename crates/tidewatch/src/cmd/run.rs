//! `tidewatch run`: the one-shot job on the embedded default.
//!
//! Reads the three NDJSON files of a seeds directory, builds entity state at
//! the as-of date, and writes `features.parquet`, `dead-letter.ndjson` and
//! `summary.json` under the output directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::NaiveDate;
use clap::Args;
use serde::Serialize;
use tidewatch_ingest::{ndjson, DeadLetter, SourcePos};
use tidewatch_model::codes::{ZHOUSHAN_REGIONS, ZHOUSHAN_ZONES};
use tidewatch_model::Family;
use tidewatch_scoring::{Class, Policy};
use tidewatch_state::FeatureTable;

use crate::output;
use crate::pipeline::{IngestStats, Pipeline};
use crate::scores;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Directory with inspections.ndjson, complaints.ndjson and
    /// credit-records.ndjson (and meta.json with the data's as-of date).
    #[arg(long, default_value = "seeds")]
    seeds: PathBuf,
    /// Output directory.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// The as-of date for windows and date checks (default: the seeds' own).
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Directory with policy.toml, the models it names and lists.toml
    /// (default: `pipelines`, or the config's `engine.pipelines` on Kafka).
    #[arg(long)]
    pipelines: Option<PathBuf>,
    /// Kafka mode: read the three topics up to their end offsets at start
    /// (resuming from the latest checkpoint) instead of the seed files.
    #[command(flatten)]
    kafka: super::kafka::KafkaArgs,
}

/// `out/summary.json`.
#[derive(Debug, Serialize)]
struct Summary {
    as_of: NaiveDate,
    seeds: String,
    entities: usize,
    ingest: IngestStats,
    rejected_total: u64,
    entities_by_region: BTreeMap<String, RegionCount>,
    entities_by_zone: BTreeMap<String, RegionCount>,
    model_versions: BTreeMap<&'static str, String>,
    classes: scores::Distribution,
    /// Present when a model changed since the previous run's scores.
    #[serde(skip_serializing_if = "Option::is_none")]
    class_migration: Option<scores::Migration>,
    timings_ms: BTreeMap<&'static str, u128>,
}

#[derive(Debug, Serialize)]
struct RegionCount {
    name: String,
    entities: u64,
}

/// The as-of date: the flag, else the seeds' `meta.json`.
pub fn resolve_as_of(flag: Option<NaiveDate>, seeds: &Path) -> anyhow::Result<NaiveDate> {
    if let Some(d) = flag {
        return Ok(d);
    }
    let meta = seeds.join("meta.json");
    let text = std::fs::read_to_string(&meta).with_context(|| {
        format!(
            "no --as-of given and cannot read {} for the seeds' as-of date",
            meta.display()
        )
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", meta.display()))?;
    let Some(s) = v.get("as_of").and_then(|x| x.as_str()) else {
        bail!(
            "{} has no \"as_of\" date; pass --as-of YYYY-MM-DD",
            meta.display()
        );
    };
    s.parse()
        .with_context(|| format!("{}: as_of {s:?} is not a YYYY-MM-DD date", meta.display()))
}

/// Loads the scoring policy and checks it against the feature catalogue.
pub fn load_policy(dir: &Path) -> anyhow::Result<Policy> {
    let policy = Policy::load(&dir.join("policy.toml"))?;
    scores::check_policy(&policy)?;
    Ok(policy)
}

/// Reads a seeds directory into entity state; returns the dead letters.
pub fn ingest_seeds(seeds: &Path, as_of: NaiveDate) -> anyhow::Result<(Pipeline, Vec<DeadLetter>)> {
    let mut pipe = Pipeline::new(as_of);
    let mut dead = Vec::new();
    // Registrations first, as a live feed mostly delivers them; any order
    // gives the same state (events before their registration are held).
    for family in [
        Family::CreditRecords,
        Family::Inspections,
        Family::Complaints,
    ] {
        let path = seeds.join(format!("{}.ndjson", family.as_str()));
        let file = path.display().to_string();
        ndjson::for_each_line(&path, |line, bytes| {
            let pos = SourcePos::File {
                file: file.clone(),
                line,
            };
            if let Some(d) = pipe.offer(family, bytes, pos) {
                dead.push(d);
            }
        })
        .with_context(|| format!("reading {file}"))?;
    }
    dead.extend(pipe.finish());
    Ok((pipe, dead))
}

/// Kafka mode of the one-shot job: catch up to the end offsets found at
/// start, publishing scores and dead letters and checkpointing on the way.
fn ingest_kafka(
    cfg: tidewatch_kafka::config::Config,
    policy: &Policy,
    out: &Path,
) -> anyhow::Result<(
    Pipeline,
    Vec<DeadLetter>,
    String,
    Option<super::lists::Outcome>,
)> {
    let source = format!("kafka {} ({}*)", cfg.kafka.brokers, cfg.kafka.topic_prefix);
    let mut runner = tidewatch_kafka::runner::Runner::open(cfg, policy.clone())?;
    let since = runner.alert_log().map_or(0, |(_, n)| n);
    runner.catch_up()?;
    // The engine judged the lists as it read; its log and state go to out/.
    let lists = match (runner.lists(), runner.alert_log()) {
        (Some(l), Some((log, _))) => Some(super::lists::from_engine(
            out,
            l.rules(),
            l.state(),
            &log,
            since,
        )?),
        _ => None,
    };
    let (pipe, dead, stats) = runner.into_parts();
    tracing::info!(?stats, "caught up");
    Ok((pipe, dead, source, lists))
}

pub fn run(a: RunArgs) -> anyhow::Result<ExitCode> {
    let t0 = Instant::now();
    // File mode: the as-of date is checked before anything else is read.
    let file_as_of = if a.kafka.wanted() {
        None
    } else {
        Some(resolve_as_of(a.as_of, &a.seeds)?)
    };
    let kafka_cfg = if a.kafka.wanted() {
        let mut cfg = a.kafka.config(a.as_of)?;
        if let Some(p) = &a.pipelines {
            cfg.engine.pipelines = p.clone();
        }
        Some(cfg)
    } else {
        None
    };
    let pipelines = match &kafka_cfg {
        Some(c) => c.engine.pipelines.clone(),
        None => a.pipelines.clone().unwrap_or_else(|| "pipelines".into()),
    };
    let policy = load_policy(&pipelines)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let mut timings = BTreeMap::new();
    let (pipe, dead, source, kafka_lists) = if let Some(cfg) = kafka_cfg {
        ingest_kafka(cfg, &policy, &a.out)?
    } else {
        let as_of = match file_as_of {
            Some(d) => d,
            None => resolve_as_of(a.as_of, &a.seeds)?,
        };
        let (pipe, dead) = ingest_seeds(&a.seeds, as_of)?;
        (pipe, dead, a.seeds.display().to_string(), None)
    };
    let as_of = pipe.as_of;
    timings.insert("ingest", t0.elapsed().as_millis());

    let t = Instant::now();
    let table = FeatureTable::compute(&pipe.store, as_of);
    timings.insert("features", t.elapsed().as_millis());

    let t = Instant::now();
    let features = output::features_frame(&pipe.store, &table)?;
    let cover = scores::coverage(&policy, &pipe.store);
    let ev = scores::score_population(&policy, &features, &cover)?;
    let mut scored = scores::scores_frame(&policy, &ev, &features, &table, as_of)?;
    timings.insert("scoring", t.elapsed().as_millis());
    let migration = scores::migration(&a.out.join("scores.parquet"), &scored, &ev)?;
    let regions: Vec<String> = features
        .column("region_code")?
        .str()?
        .iter()
        .map(|r| r.unwrap_or("").to_owned())
        .collect();
    let classes = scores::distribution(&ev, &regions);

    // ---- lists and alerts (before scores.parquet is overwritten: the
    // previous scores are read from it); printed after the summary ----
    // On Kafka the engine evaluated them as the records arrived.
    let lists = match kafka_lists {
        Some(o) => o,
        None => super::lists::update(&pipelines, &a.out, &pipe.store, &ev, as_of)?,
    };
    // ---- end lists and alerts ----

    let t = Instant::now();
    output::write_features(&a.out.join("features.parquet"), &pipe.store, &table)?;
    output::write_dead_letters(&a.out.join("dead-letter.ndjson"), &dead)?;
    scores::write_scores(&a.out, &mut scored)?;
    timings.insert("write", t.elapsed().as_millis());

    let mut by_region: BTreeMap<String, RegionCount> = BTreeMap::new();
    let mut by_zone: BTreeMap<String, RegionCount> = BTreeMap::new();
    for e in pipe.store.entities() {
        let Some(r) = e.registration() else { continue };
        let code = r.region_code.to_string();
        let name = r.region_code.name().unwrap_or("").to_owned();
        by_region
            .entry(code)
            .or_insert(RegionCount { name, entities: 0 })
            .entities += 1;
        if let Some(z) = r.zone {
            by_zone
                .entry(z.to_string())
                .or_insert(RegionCount {
                    name: z.name().to_owned(),
                    entities: 0,
                })
                .entities += 1;
        }
    }
    timings.insert("total", t0.elapsed().as_millis());
    let summary = Summary {
        as_of,
        seeds: source,
        entities: pipe.store.len(),
        rejected_total: pipe.stats.rejected_total(),
        ingest: pipe.stats.clone(),
        entities_by_region: by_region,
        entities_by_zone: by_zone,
        model_versions: policy.versions(),
        classes,
        class_migration: migration,
        timings_ms: timings,
    };
    let path = a.out.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    print_summary(&summary, &a.out);
    lists.print(&a.out); // lists and alerts

    // Double-random draw: the default plan of pipelines/draws over these scores.
    if !a.kafka.wanted() {
        crate::cmd::draw::default_draw(&a.out, &a.seeds, &pipelines, as_of)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &Summary, out: &Path) {
    let i = &s.ingest;
    let read: u64 = i.records.values().sum();
    println!("tidewatch run — as of {}", s.as_of);
    println!(
        "  records read   {read} ({})",
        i.records
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  entities       {}", s.entities);
    println!("  events applied {}", i.applied);
    println!("  duplicates     {} (applied once)", i.duplicates);
    println!(
        "  held           {} (arrived before their registration)",
        i.held
    );
    println!("  rejected       {}", s.rejected_total);
    for (reason, n) in &i.rejected {
        println!("    {reason:<22} {n}");
    }
    println!("  entities by region");
    for (code, _) in ZHOUSHAN_REGIONS {
        if let Some(r) = s.entities_by_region.get(code) {
            println!("    {code} {}: {}", r.name, r.entities);
        }
    }
    for (code, r) in &s.entities_by_region {
        if !ZHOUSHAN_REGIONS.iter().any(|(c, _)| c == code) {
            println!("    {code} {}: {}", r.name, r.entities);
        }
    }
    println!("  in functional zones");
    for (code, _) in ZHOUSHAN_ZONES {
        if let Some(r) = s.entities_by_zone.get(code) {
            println!("    {code} {}: {}", r.name, r.entities);
        }
    }
    print_classes(s);
    println!(
        "  wrote {}/features.parquet, scores.csv, scores.parquet, dead-letter.ndjson, summary.json in {} ms",
        out.display(),
        s.timings_ms.get("total").copied().unwrap_or(0)
    );
}

fn class_row(counts: &BTreeMap<String, u64>) -> String {
    let total: u64 = counts.values().sum();
    Class::ALL
        .iter()
        .map(|c| {
            let n = counts.get(c.as_str()).copied().unwrap_or(0);
            let pct = if total == 0 {
                0.0
            } else {
                n as f64 * 100.0 / total as f64
            };
            format!("{c} {n:>5} ({pct:>4.1}%)")
        })
        .collect::<Vec<_>>()
        .join("  ")
}

fn print_classes(s: &Summary) {
    println!("  risk classes by field (the class used for the field; entities covered)");
    for (field, counts) in &s.classes.by_field {
        println!("    {field:<20} {}", class_row(counts));
    }
    println!("  general risk classes by region");
    for (code, counts) in &s.classes.by_region {
        let name = ZHOUSHAN_REGIONS
            .iter()
            .find(|(c, _)| c == code)
            .map_or("", |(_, n)| *n);
        println!("    {code} {name}  {}", class_row(counts));
    }
    match &s.class_migration {
        None => println!("  class migration: no previous scores to compare with"),
        Some(m) if m.changed_models.is_empty() => {
            println!("  class migration: models unchanged since the previous run")
        }
        Some(m) => {
            for (field, (old, new)) in &m.changed_models {
                println!("  class migration in {field}: model {old} -> {new} (rows: previous class, columns: new class)");
                println!(
                    "          {}",
                    ["A", "B", "C", "D", "-"]
                        .map(|c| format!("{c:>6}"))
                        .join("")
                );
                if let Some(mat) = m.matrix.get(field) {
                    for (old_c, row) in mat {
                        let cells = ["A", "B", "C", "D", "-"]
                            .map(|c| format!("{:>6}", row.get(c).copied().unwrap_or(0)))
                            .join("");
                        println!("      {old_c:>3} {cells}");
                    }
                }
            }
        }
    }
}
