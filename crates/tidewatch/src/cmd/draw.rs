//! `tidewatch draw`: double-random (双随机) inspection draws over the current
//! scores — preview, commit, run, verify, replace, status — and a benchmark.
//!
//! The algorithm lives in `tidewatch-sampling` (specified in
//! `docs/draw-algorithm.md`); this file only reads and writes files. A draw's
//! directory `<out>/draws/<plan-id>/` holds what `commit` publishes before the
//! randomness is known (`plan.json`, `population.csv`, `roster.json`,
//! `history.json`, each byte-for-byte the input of its digest, and
//! `commitment.json`), then what `run` and `replace` write (`manifest.json`,
//! `list.xlsx`, `list.csv`, `list.json`, `publication.csv`).
//!
//! The population is a list of rows: [`population_from_frames`] builds it
//! from the scores and features frames `tidewatch run` writes; in Kafka mode
//! (`--brokers` or `--config`) it is built from the last record per key of
//! the `scores` topic (`population_from_score_records`, the same rows),
//! `run` and `replace` also publish the list to the `samples` topic, and
//! `status` reads the results from the `inspections` topic.
//!
//! The operations return what they did ([`Drawn`], [`Status`], …) and the
//! commands print it, so `tidewatch serve`'s draw endpoints
//! (`serve_draws.rs`) run exactly the same code over the live engine's
//! score records.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use chrono::{Datelike, NaiveDate};
use clap::{Args, Subcommand};
use polars::prelude::{DataFrame, ParquetReader, SerReader};
use rayon::prelude::*;
use serde_json::Value;
use tidewatch_ingest::{decode, decode_and_validate, ndjson};
use tidewatch_kafka::{snapshot, Config, Topics};
use tidewatch_model::event::Inspection;
use tidewatch_model::{Class, Domain, Event, Family, Officer, RegionCode, Uscc};
use tidewatch_sampling::digest::{canonical_json, sha256_hex};
use tidewatch_sampling::draw::{canonical_history, canonical_roster, roster_digest};
use tidewatch_sampling::list::{
    list_cells, list_csv, list_entries, list_json, publication_csv, shortfall_text, ListEntry,
    LIST_HEADERS_ZH,
};
use tidewatch_sampling::plan::PLAN_FIELDS;
use tidewatch_sampling::population::{sorted_rows, write_csv_of_sorted};
use tidewatch_sampling::{
    commit, draw_with_timings, parse_csv, population_from_score_records, preview, records_as_of,
    replace, sample_records, verify, verify_commitment, Commitment, Defaults, DrawInputs, Manifest,
    PastInspection, Plan, PlanFile, PopulationRow, Preview, ScoreRecordError,
};

use super::kafka::KafkaArgs;

/// Rows of an Excel worksheet, the header included.
pub const SHEET_ROWS: u32 = 1_048_576;

#[derive(Debug, Args)]
pub struct DrawArgs {
    #[command(subcommand)]
    what: DrawCmd,
}

/// Where the inputs are and where draws go.
#[derive(Debug, Clone, Args)]
pub(crate) struct Dirs {
    /// Where `tidewatch run` wrote the scores; draws go to <out>/draws/<plan-id>/.
    #[arg(long, default_value = "out")]
    pub(crate) out: PathBuf,
    /// Holds officers.ndjson (the roster) and inspections.ndjson (history and results).
    #[arg(long, default_value = "seeds")]
    pub(crate) seeds: PathBuf,
    /// Holds draws/defaults.toml, the default ratios and team rules.
    #[arg(long, default_value = "pipelines")]
    pub(crate) pipelines: PathBuf,
    #[command(flatten)]
    pub(crate) kafka: DrawKafka,
}

/// Kafka mode: the population from the `scores` topic, results from
/// `inspections`, the list published to `samples`.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct DrawKafka {
    /// Kafka brokers (HOST:PORT[,HOST:PORT…]): take the population from the
    /// scores topic instead of the files under --out.
    #[arg(long)]
    brokers: Option<String>,
    /// The engine's TOML config file (brokers, topic prefix, security);
    /// see docs/streaming.md.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Prefix of every topic name (default `tidewatch.`).
    #[arg(long)]
    topic_prefix: Option<String>,
}

impl DrawKafka {
    /// The Kafka config when Kafka mode was asked for (flags, then the
    /// environment, then the file, as for `run`).
    fn config(&self) -> anyhow::Result<Option<Config>> {
        let a = KafkaArgs {
            brokers: self.brokers.clone(),
            config: self.config.clone(),
            topic_prefix: self.topic_prefix.clone(),
            checkpoint_dir: None,
        };
        if !a.wanted() {
            return Ok(None);
        }
        Ok(Some(a.config(None)?))
    }
}

/// How the list files are written.
#[derive(Debug, Clone, Args)]
pub(crate) struct ListOpts {
    /// Date on the publication (default: the plan's as-of date).
    #[arg(long)]
    pub(crate) date: Option<NaiveDate>,
    /// Rows per worksheet of list.xlsx, header included; a longer list
    /// continues on further sheets.
    #[arg(long, default_value_t = SHEET_ROWS,
          value_parser = clap::value_parser!(u32).range(2..=SHEET_ROWS as i64))]
    pub(crate) sheet_rows: u32,
}

/// A refusal the caller can act on (a conflict with a draw's state, an
/// invalid plan, something missing), told apart from failures so the HTTP
/// API answers with the right status. The message is the command's.
#[derive(Debug)]
pub(crate) enum Refusal {
    Invalid(String),
    Conflict(String),
    NotFound(String),
    Unavailable(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Invalid(m)
            | Refusal::Conflict(m)
            | Refusal::NotFound(m)
            | Refusal::Unavailable(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Refusal {}

fn invalid(m: String) -> anyhow::Error {
    Refusal::Invalid(m).into()
}

fn conflict(m: String) -> anyhow::Error {
    Refusal::Conflict(m).into()
}

fn not_found(m: String) -> anyhow::Error {
    Refusal::NotFound(m).into()
}

#[derive(Debug, Subcommand)]
enum DrawCmd {
    /// Counts per stratum and the officer capacity a plan needs, without drawing.
    Preview {
        /// A plan file (TOML or JSON), or the id of a committed plan.
        plan: String,
        #[command(flatten)]
        dirs: Dirs,
    },
    /// Publish the digests of plan, population, roster and history, and
    /// snapshot them, before the randomness is known.
    Commit {
        plan: String,
        /// Overwrite an earlier commitment of this plan that was never drawn.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        dirs: Dirs,
    },
    /// Draw a committed plan with the public randomness its plan names.
    Run {
        plan: String,
        /// The published value, exactly as published.
        #[arg(long)]
        randomness: String,
        #[command(flatten)]
        list: ListOpts,
        #[command(flatten)]
        dirs: Dirs,
    },
    /// Re-derive a published draw; print "match" or the first difference.
    Verify {
        /// The manifest.json; the other inputs default to the files beside it.
        manifest: PathBuf,
        #[arg(long)]
        plan: Option<PathBuf>,
        #[arg(long)]
        population: Option<PathBuf>,
        /// roster.json (a JSON array) or an officers.ndjson.
        #[arg(long)]
        roster: Option<PathBuf>,
        #[arg(long)]
        history: Option<PathBuf>,
        #[arg(long)]
        commitment: Option<PathBuf>,
    },
    /// Replace a chosen entity found closed or unreachable with the next
    /// eligible entity of its stratum in rank order.
    Replace {
        plan: String,
        uscc: String,
        /// Why, e.g. the result code "7" (已关闭停业) or "6" (无法联系).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        list: ListOpts,
        #[command(flatten)]
        dirs: Dirs,
    },
    /// Which chosen entities have inspection results carrying the plan id.
    Status {
        plan: String,
        /// Inspection results (NDJSON); default <seeds>/inspections.ndjson.
        #[arg(long)]
        inspections: Option<PathBuf>,
        #[command(flatten)]
        dirs: Dirs,
    },
    /// Time a draw over a generated population: selection, assignment,
    /// manifest, verification and the list files.
    Bench {
        #[arg(long, default_value_t = 10_000_000)]
        entities: u64,
        /// Inspections per officer in the generated roster.
        #[arg(long, default_value_t = 60)]
        capacity: u32,
        /// Officers per district unit (default: enough for its share, plus 15%).
        #[arg(long)]
        officers_per_unit: Option<usize>,
        /// Where the files go (default: a folder in the system temp dir).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Skip writing list.xlsx.
        #[arg(long)]
        no_xlsx: bool,
        /// Holds draws/defaults.toml (the ratios drawn with).
        #[arg(long, default_value = "pipelines")]
        pipelines: PathBuf,
    },
}

pub fn run(a: DrawArgs) -> anyhow::Result<ExitCode> {
    match a.what {
        DrawCmd::Preview { plan, dirs } => preview_cmd(&plan, &dirs),
        DrawCmd::Commit { plan, force, dirs } => commit_cmd(&plan, force, &dirs),
        DrawCmd::Run {
            plan,
            randomness,
            list,
            dirs,
        } => run_cmd(&plan, &randomness, &list, &dirs),
        DrawCmd::Verify {
            manifest,
            plan,
            population,
            roster,
            history,
            commitment,
        } => verify_cmd(
            &manifest,
            plan.as_deref(),
            population.as_deref(),
            roster.as_deref(),
            history.as_deref(),
            commitment.as_deref(),
        ),
        DrawCmd::Replace {
            plan,
            uscc,
            reason,
            list,
            dirs,
        } => replace_cmd(&plan, &uscc, &reason, &list, &dirs),
        DrawCmd::Status {
            plan,
            inspections,
            dirs,
        } => status_cmd(&plan, inspections.as_deref(), &dirs),
        DrawCmd::Bench {
            entities,
            capacity,
            officers_per_unit,
            out,
            no_xlsx,
            pipelines,
        } => bench_cmd(
            entities,
            capacity,
            officers_per_unit,
            out,
            !no_xlsx,
            &pipelines,
        ),
    }
}

// ---------------------------------------------------------------- inputs

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn load_defaults(pipelines: &Path) -> anyhow::Result<Defaults> {
    let path = pipelines.join("draws").join("defaults.toml");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {} (the default sampling ratios and team rules)",
            path.display()
        )
    })?;
    Defaults::from_toml(&text).map_err(|e| match e {
        tidewatch_sampling::PlanError::Parse(m) => anyhow!("{}: {m}", path.display()),
        e => anyhow!("{}: {e}", path.display()),
    })
}

/// A plan argument: a plan file (named for messages), or the id of a
/// committed plan.
pub(crate) enum PlanArg {
    File(String, Box<PlanFile>),
    Committed(String),
}

impl PlanArg {
    fn parse(arg: &str, dirs: &Dirs) -> anyhow::Result<PlanArg> {
        let path = Path::new(arg);
        if path.is_file() {
            let text = read_text(path)?;
            let json = path.extension().is_some_and(|e| e == "json");
            let file = if json {
                PlanFile::from_json(&text)
            } else {
                PlanFile::from_toml(&text)
            }
            .map_err(|e| invalid(format!("plan {}: {e}", path.display())))?;
            return Ok(PlanArg::File(path.display().to_string(), Box::new(file)));
        }
        PlanArg::committed(arg, dirs).map_err(|_| {
            not_found(format!(
                "{arg:?} is neither a plan file nor the id of a plan committed under {}",
                dirs.out.join("draws").display()
            ))
        })
    }

    /// A plan given as JSON (a plan file's keys; the rest from the defaults).
    pub(crate) fn from_json(plan: &Value) -> anyhow::Result<PlanArg> {
        let file = PlanFile::from_json(&plan.to_string())
            .map_err(|e| invalid(format!("the plan: {e}")))?;
        Ok(PlanArg::File("the plan".into(), Box::new(file)))
    }

    /// The id of a plan committed under `dirs.out`.
    pub(crate) fn committed(id: &str, dirs: &Dirs) -> anyhow::Result<PlanArg> {
        // The id names a directory: only what a plan id may be.
        let safe = !id.is_empty()
            && !id.starts_with('.')
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if safe && draw_dir(dirs, id).join("plan.json").is_file() {
            return Ok(PlanArg::Committed(id.to_string()));
        }
        Err(not_found(format!(
            "no plan {id:?} is committed under {}",
            dirs.out.join("draws").display()
        )))
    }

    fn id(&self) -> &str {
        match self {
            PlanArg::File(_, f) => &f.id,
            PlanArg::Committed(id) => id,
        }
    }

    /// The complete plan; `as_of` is used when the file has none.
    fn resolve(&self, dirs: &Dirs, as_of: Option<NaiveDate>) -> anyhow::Result<Plan> {
        match self {
            PlanArg::File(label, file) => {
                let defaults = load_defaults(&dirs.pipelines)?;
                file.resolve(&defaults, as_of)
                    .map_err(|e| invalid(format!("plan {label}: {e}")))
            }
            PlanArg::Committed(id) => {
                let path = draw_dir(dirs, id).join("plan.json");
                Plan::from_json(&read_text(&path)?).map_err(|e| anyhow!("{}: {e}", path.display()))
            }
        }
    }
}

fn draw_dir(dirs: &Dirs, id: &str) -> PathBuf {
    dirs.out.join("draws").join(id)
}

/// The as-of date of the scores in `out` (from `summary.json`).
fn scores_as_of(out: &Path) -> anyhow::Result<NaiveDate> {
    let path = out.join("summary.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {}: run `tidewatch run --out {}` first to score the population",
            path.display(),
            out.display()
        )
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    v.get("as_of")
        .and_then(|d| d.as_str())
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| anyhow!("{} has no as_of date", path.display()))
}

fn read_parquet(path: &Path) -> anyhow::Result<DataFrame> {
    let f = File::open(path).with_context(|| {
        format!(
            "cannot open {}: run `tidewatch run` first to score the population",
            path.display()
        )
    })?;
    ParquetReader::new(f)
        .finish()
        .map_err(|e| anyhow!("reading {}: {e}", path.display()))
}

/// The population for `field` from the scores and features `tidewatch run`
/// wrote under `out`.
fn population_from_out(
    out: &Path,
    field: Domain,
    as_of: NaiveDate,
) -> anyhow::Result<Vec<PopulationRow>> {
    let scores = read_parquet(&out.join("scores.parquet"))?;
    let features = read_parquet(&out.join("features.parquet"))?;
    population_from_frames(&scores, &features, field, as_of)
}

/// The scores a draw's population is taken from.
pub(crate) enum Scores {
    /// The files `tidewatch run` wrote in this directory.
    Files(PathBuf),
    /// Score records, decoded: the last per key of the scores topic, or the
    /// live engine's current ones; `source` names them in messages.
    Records { source: String, records: Vec<Value> },
}

impl Scores {
    /// The files under `--out`; in Kafka mode the scores topic.
    fn of(dirs: &Dirs, kafka: Option<&Config>) -> anyhow::Result<Scores> {
        let Some(cfg) = kafka else {
            return Ok(Scores::Files(dirs.out.clone()));
        };
        let topic = Topics::new(&cfg.kafka.topic_prefix).scores;
        let last = snapshot::last_per_key(cfg, &topic)?;
        Scores::from_payloads(
            format!("the scores topic {topic}"),
            last.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
        )
    }

    /// Score records from their JSON payloads, keyed by USCC.
    pub(crate) fn from_payloads<'a>(
        source: String,
        payloads: impl Iterator<Item = (&'a str, &'a [u8])>,
    ) -> anyhow::Result<Scores> {
        let records = payloads
            .map(|(key, p)| {
                serde_json::from_slice(p)
                    .map_err(|e| anyhow!("{source}: the record of {key} is not JSON: {e}"))
            })
            .collect::<anyhow::Result<Vec<Value>>>()?;
        Ok(Scores::Records { source, records })
    }

    fn record_error(source: &str, e: ScoreRecordError) -> anyhow::Error {
        match e {
            ScoreRecordError::Empty => Refusal::Unavailable(format!(
                "{source} has no score records: score the population first (`tidewatch run --brokers …` or `tidewatch serve`)"
            ))
            .into(),
            e @ ScoreRecordError::MixedAsOf(_) => {
                Refusal::Unavailable(format!("{source}: {e}")).into()
            }
            e => anyhow!("{source}: {e}"),
        }
    }

    /// The as-of date of the scores.
    fn as_of(&self) -> anyhow::Result<NaiveDate> {
        match self {
            Scores::Files(out) => scores_as_of(out),
            Scores::Records { source, records } => {
                records_as_of(records).map_err(|e| Scores::record_error(source, e))
            }
        }
    }

    /// The population for `field` (the scores are as of `as_of`).
    fn population(&self, field: Domain, as_of: NaiveDate) -> anyhow::Result<Vec<PopulationRow>> {
        match self {
            Scores::Files(out) => population_from_out(out, field, as_of),
            Scores::Records { source, records } => population_from_score_records(records, field)
                .map_err(|e| Scores::record_error(source, e)),
        }
    }

    fn describe(&self) -> String {
        match self {
            Scores::Files(out) => format!("the scores in {}", out.display()),
            Scores::Records { source, .. } => source.clone(),
        }
    }
}

/// The population snapshot for a draw in `field`: one row per entity the
/// field covers (its `<field>_class` is set), with the combined class for
/// the field, from a scores frame (uscc, name, region_code, industry_code,
/// `<field>_class`) and a features frame (uscc, deregistered, revoked,
/// days_since_inspection) computed at `as_of`.
pub fn population_from_frames(
    scores: &DataFrame,
    features: &DataFrame,
    field: Domain,
    as_of: NaiveDate,
) -> anyhow::Result<Vec<PopulationRow>> {
    let class_col = format!("{}_class", field.as_str());
    let s_col = |name: &str| {
        scores
            .column(name)
            .map_err(|_| anyhow!("the scores have no column {name:?}"))
    };
    let f_col = |name: &str| {
        features
            .column(name)
            .map_err(|_| anyhow!("the features have no column {name:?}"))
    };
    let uscc = s_col("uscc")?.str()?;
    let name = s_col("name")?.str()?;
    let region = s_col("region_code")?.str()?;
    let industry = s_col("industry_code")?.str()?;
    let class = scores
        .column(&class_col)
        .map_err(|_| {
            anyhow!(
                "the scores have no column {class_col:?}: the scoring policy has no field {field}"
            )
        })?
        .str()?;
    let f_uscc = f_col("uscc")?.str()?;
    let deregistered = f_col("deregistered")?.i64()?;
    let revoked = f_col("revoked")?.i64()?;
    let days = f_col("days_since_inspection")?.i64()?;
    // The run writes both frames in the same entity order; anything else
    // is joined by USCC.
    let aligned = f_uscc.len() == uscc.len() && f_uscc.iter().zip(uscc.iter()).all(|(a, b)| a == b);
    let index: HashMap<&str, usize> = if aligned {
        HashMap::new()
    } else {
        f_uscc
            .iter()
            .enumerate()
            .filter_map(|(i, u)| u.map(|u| (u, i)))
            .collect()
    };
    let mut rows = Vec::new();
    for i in 0..scores.height() {
        let Some(c) = class.get(i).filter(|c| !c.is_empty()) else {
            continue;
        };
        let at = |what: &str| format!("scores row {} ({what})", i + 1);
        let u = uscc
            .get(i)
            .ok_or_else(|| anyhow!("{} is empty", at("uscc")))?;
        let code: Uscc = u.parse().map_err(|e| anyhow!("{}: {e}", at("uscc")))?;
        let j = if aligned {
            i
        } else {
            *index
                .get(u)
                .ok_or_else(|| anyhow!("{u} is in the scores but not in the features"))?
        };
        let r = region.get(i).unwrap_or_default();
        let last = match days.get(j) {
            Some(d) => Some(
                as_of
                    .checked_sub_signed(chrono::Duration::days(d))
                    .ok_or_else(|| anyhow!("{u}: days_since_inspection {d} is out of range"))?,
            ),
            None => None,
        };
        rows.push(PopulationRow {
            uscc: code,
            name: name.get(i).unwrap_or_default().to_string(),
            region: RegionCode::parse(r).map_err(|e| anyhow!("{} for {u}: {e}", at("region")))?,
            industry: industry.get(i).unwrap_or_default().to_string(),
            class: Class::parse(c).map_err(|e| anyhow!("{} for {u}: {e}", at(&class_col)))?,
            deregistered: deregistered.get(j).unwrap_or(0) != 0,
            revoked: revoked.get(j).unwrap_or(0) != 0,
            last_inspected_on: last,
        });
    }
    Ok(rows)
}

/// The roster: a JSON array of officers, or one officer per line (NDJSON).
fn read_roster(path: &Path) -> anyhow::Result<Vec<Officer>> {
    let bytes = read(path)?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return serde_json::from_slice(&bytes)
            .map_err(|e| anyhow!("{}: not a roster: {e}", path.display()));
    }
    let mut out = Vec::new();
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let o: Officer = serde_json::from_slice(line)
            .map_err(|e| anyhow!("{} line {}: not an officer: {e}", path.display(), n + 1))?;
        out.push(o);
    }
    Ok(out)
}

/// Inspection results of an NDJSON file: with `as_of`, only those that pass
/// the run's checks at that date; without, every well-formed one. Returns
/// the results and the number of lines left out.
fn read_inspections(
    path: &Path,
    as_of: Option<NaiveDate>,
) -> anyhow::Result<(Vec<Inspection>, u64)> {
    let mut out = Vec::new();
    let mut skipped = 0u64;
    ndjson::for_each_line(path, |_, bytes| {
        let ev = match as_of {
            Some(d) => decode_and_validate(Family::Inspections, bytes, d),
            None => decode(Family::Inspections, bytes),
        };
        match ev {
            Ok(Event::Inspection(i)) => out.push(i),
            _ => skipped += 1,
        }
    })
    .with_context(|| format!("reading {}", path.display()))?;
    Ok((out, skipped))
}

/// Who inspected whom when, from the results with inspector ids, up to
/// `as_of` (bad lines are the run's dead letters and count for nothing).
fn history_from_seeds(seeds: &Path, as_of: NaiveDate) -> anyhow::Result<Vec<PastInspection>> {
    let path = seeds.join("inspections.ndjson");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let (results, _) = read_inspections(&path, Some(as_of))?;
    Ok(results
        .into_iter()
        .flat_map(|i| {
            let (uscc, on) = (i.uscc, i.occurred_on);
            i.inspector_ids
                .into_iter()
                .map(move |officer_id| PastInspection {
                    uscc,
                    officer_id,
                    inspected_on: on,
                })
        })
        .collect())
}

/// Plan, population, roster and history: what a commitment covers.
struct Snapshot {
    plan: Plan,
    population: Vec<PopulationRow>,
    roster: Vec<Officer>,
    history: Vec<PastInspection>,
}

impl Snapshot {
    fn inputs(&self) -> DrawInputs<'_> {
        DrawInputs {
            plan: &self.plan,
            population: &self.population,
            roster: &self.roster,
            history: &self.history,
        }
    }

    /// From the current scores, roster and history.
    fn current(plan: Plan, dirs: &Dirs, scores: &Scores) -> anyhow::Result<Snapshot> {
        let population = scores.population(plan.field, plan.as_of)?;
        let roster = read_roster(&dirs.seeds.join("officers.ndjson"))?;
        let history = history_from_seeds(&dirs.seeds, plan.as_of)?;
        Ok(Snapshot {
            plan,
            population,
            roster,
            history,
        })
    }
}

/// The plan resolved against the scores, refusing a plan whose as-of date
/// is not the scores' (its windows would not match the data).
fn plan_for_scores(arg: &PlanArg, dirs: &Dirs, scores: &Scores) -> anyhow::Result<Plan> {
    let scored = scores.as_of()?;
    let plan = arg.resolve(dirs, Some(scored))?;
    if plan.as_of != scored {
        return Err(invalid(format!(
            "plan {} is as of {}, but {} are as of {}: run `tidewatch run --as-of {}` first",
            plan.id,
            plan.as_of,
            scores.describe(),
            scored,
            plan.as_of
        )));
    }
    Ok(plan)
}

// ---------------------------------------------------------------- commit

const SNAPSHOT_FILES: [&str; 5] = [
    "plan.json",
    "population.csv",
    "roster.json",
    "history.json",
    "commitment.json",
];

/// Writes the snapshot and the commitment into `dir`. Each snapshot file is
/// exactly the bytes its digest is taken over, so `sha256sum` checks it.
fn write_commitment(dir: &Path, snap: &Snapshot) -> anyhow::Result<Commitment> {
    let c = commit(&snap.inputs())?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_file(&dir.join("plan.json"), &snap.plan.canonical_json())?;
    let path = dir.join("population.csv");
    let mut w = BufWriter::with_capacity(1 << 20, create(&path)?);
    write_csv_of_sorted(&sorted_rows(&snap.population)?, &mut w)
        .and_then(|()| w.flush())
        .with_context(|| format!("writing {}", path.display()))?;
    let roster = canonical_roster(&snap.roster)?;
    write_file(&dir.join("roster.json"), &canonical_json(&roster))?;
    let history = canonical_history(&snap.history);
    write_file(&dir.join("history.json"), &canonical_json(&history))?;
    write_file(&dir.join("commitment.json"), &c.to_json())?;
    Ok(c)
}

fn create(path: &Path) -> anyhow::Result<File> {
    File::create(path).with_context(|| format!("creating {}", path.display()))
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

pub(crate) fn read_commitment(path: &Path) -> anyhow::Result<Commitment> {
    serde_json::from_slice(&read(path)?)
        .map_err(|e| anyhow!("{} is not a commitment: {e}", path.display()))
}

/// A plan committed: where, its commitment, and whether an identical
/// commitment was there already (nothing written then).
pub(crate) struct Committed {
    pub(crate) dir: PathBuf,
    pub(crate) commitment: Commitment,
    pub(crate) unchanged: bool,
}

/// `draw commit`: snapshots plan, population, roster and history under
/// `<out>/draws/<plan id>/` and writes their commitment.
pub(crate) fn commit_plan(
    arg: &PlanArg,
    force: bool,
    dirs: &Dirs,
    scores: &Scores,
) -> anyhow::Result<Committed> {
    let plan = plan_for_scores(arg, dirs, scores)?;
    let dir = draw_dir(dirs, &plan.id);
    let snap = Snapshot::current(plan, dirs, scores)?;
    let fresh = commit(&snap.inputs())?;
    let old_path = dir.join("commitment.json");
    if old_path.exists() {
        let old = read_commitment(&old_path)?;
        if old == fresh {
            return Ok(Committed {
                dir,
                commitment: fresh,
                unchanged: true,
            });
        }
        if dir.join("manifest.json").exists() {
            return Err(conflict(format!(
                "plan {} was committed and drawn already ({}); a drawn plan's inputs cannot change: commit the new inputs under a new plan id",
                fresh.plan_id,
                dir.display()
            )));
        }
        if !force {
            return Err(conflict(format!(
                "plan {} is already committed with other inputs ({}: {}); a published commitment must not change. Commit under a new plan id, or pass --force if that commitment was never published",
                fresh.plan_id,
                old_path.display(),
                first_commitment_difference(&old, &fresh)
            )));
        }
    }
    let commitment = write_commitment(&dir, &snap)?;
    Ok(Committed {
        dir,
        commitment,
        unchanged: false,
    })
}

fn commit_cmd(arg: &str, force: bool, dirs: &Dirs) -> anyhow::Result<ExitCode> {
    let kafka = dirs.kafka.config()?;
    let arg = PlanArg::parse(arg, dirs)?;
    let scores = Scores::of(dirs, kafka.as_ref())?;
    let c = commit_plan(&arg, force, dirs, &scores)?;
    let what = if c.unchanged {
        "already committed; unchanged"
    } else {
        "publish these digests now, before the randomness is known"
    };
    print_commitment(&c.dir, &c.commitment, what);
    if !c.unchanged {
        println!("  population from {}", scores.describe());
    }
    Ok(ExitCode::SUCCESS)
}

fn first_commitment_difference(old: &Commitment, new: &Commitment) -> String {
    let pairs = [
        ("plan_digest", &old.plan_digest, &new.plan_digest),
        (
            "population_digest",
            &old.population_digest,
            &new.population_digest,
        ),
        ("roster_digest", &old.roster_digest, &new.roster_digest),
        ("history_digest", &old.history_digest, &new.history_digest),
    ];
    pairs
        .iter()
        .find(|(_, a, b)| a != b)
        .map(|(what, a, b)| format!("{what} was {a}, now {b}"))
        .unwrap_or_else(|| "the algorithm or randomness source differs".into())
}

fn print_commitment(dir: &Path, c: &Commitment, what: &str) {
    println!("draw commit {} — {what}", c.plan_id);
    println!("  algorithm          {}", c.algorithm);
    println!("  plan_digest        {}", c.plan_digest);
    println!(
        "  population_digest  {}  ({} entities)",
        c.population_digest, c.population_rows
    );
    println!(
        "  roster_digest      {}  ({} officers)",
        c.roster_digest, c.roster_officers
    );
    println!(
        "  history_digest     {}  ({} records)",
        c.history_digest, c.history_records
    );
    println!("  randomness source  {}", c.randomness_source);
    println!("  commitment_digest  {}", c.commitment_digest);
    println!("  wrote {}/{}", dir.display(), SNAPSHOT_FILES.join(", "));
}

/// The committed snapshot of a plan, each file checked against its digest.
fn load_committed(dir: &Path) -> anyhow::Result<(Commitment, Snapshot)> {
    let cpath = dir.join("commitment.json");
    if !cpath.exists() {
        return Err(not_found(format!(
            "no commitment in {}: run `tidewatch draw commit PLAN` first",
            dir.display()
        )));
    }
    let c = read_commitment(&cpath)?;
    let checked = |file: &str, what: &str, digest: &str| -> anyhow::Result<Vec<u8>> {
        let path = dir.join(file);
        let bytes = read(&path)?;
        let got = sha256_hex(&bytes);
        if got != digest {
            return Err(conflict(format!(
                "{} no longer matches the committed {what} (committed {digest}, the file hashes to {got}): the inputs changed after the commitment",
                path.display()
            )));
        }
        Ok(bytes)
    };
    let plan_bytes = checked("plan.json", "plan_digest", &c.plan_digest)?;
    let pop = checked("population.csv", "population_digest", &c.population_digest)?;
    let roster = checked("roster.json", "roster_digest", &c.roster_digest)?;
    let history = checked("history.json", "history_digest", &c.history_digest)?;
    let snap = Snapshot {
        plan: Plan::from_json(&String::from_utf8_lossy(&plan_bytes))
            .map_err(|e| anyhow!("{}/plan.json: {e}", dir.display()))?,
        population: parse_csv(&pop)
            .map_err(|e| anyhow!("{}/population.csv: {e}", dir.display()))?,
        roster: serde_json::from_slice(&roster)
            .map_err(|e| anyhow!("{}/roster.json: {e}", dir.display()))?,
        history: serde_json::from_slice(&history)
            .map_err(|e| anyhow!("{}/history.json: {e}", dir.display()))?,
    };
    Ok((c, snap))
}

/// Refuses a plan argument that does not resolve to the committed plan,
/// naming the first field that differs.
fn check_same_plan(arg: &PlanArg, committed: &Plan, dirs: &Dirs) -> anyhow::Result<()> {
    let given = arg.resolve(dirs, Some(committed.as_of))?;
    if given.digest() == committed.digest() {
        return Ok(());
    }
    let a = serde_json::to_value(&given)?;
    let b = serde_json::to_value(committed)?;
    let field = PLAN_FIELDS
        .iter()
        .find(|k| a.get(**k) != b.get(**k))
        .copied()
        .unwrap_or("?");
    Err(conflict(format!(
        "plan {} differs from the committed plan in `{field}` (given {}, committed {}); a committed plan cannot change: commit the new plan under a new id",
        committed.id,
        a.get(field).map(|v| v.to_string()).unwrap_or_default(),
        b.get(field).map(|v| v.to_string()).unwrap_or_default()
    )))
}

// ---------------------------------------------------------------- run

/// Time spent writing each output file.
pub(crate) type FileTimes = Vec<(&'static str, Duration, u64)>;

/// Writes manifest.json, list.xlsx, list.csv, list.json and publication.csv.
fn write_outputs(
    dir: &Path,
    m: &Manifest,
    roster: &[Officer],
    date: NaiveDate,
    sheet_rows: u32,
) -> anyhow::Result<(FileTimes, usize)> {
    let mut times = Vec::new();
    let mut timed = |name: &'static str, f: &mut dyn FnMut(&Path) -> anyhow::Result<()>| {
        let t = Instant::now();
        let path = dir.join(name);
        f(&path)?;
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        times.push((name, t.elapsed(), size));
        anyhow::Ok(())
    };
    timed("manifest.json", &mut |p| {
        let mut w = BufWriter::with_capacity(1 << 20, create(p)?);
        m.write_json(&mut w)
            .and_then(|()| w.flush())
            .with_context(|| format!("writing {}", p.display()))
    })?;
    let entries = list_entries(m, roster);
    timed("list.csv", &mut |p| write_file(p, &list_csv(&entries)))?;
    timed("list.json", &mut |p| write_file(p, &list_json(m, &entries)))?;
    timed("publication.csv", &mut |p| {
        write_file(p, &publication_csv(m, &entries, date))
    })?;
    let mut sheets = 0;
    timed("list.xlsx", &mut |p| {
        sheets = write_xlsx(p, &entries, &m.plan.id, sheet_rows, m.plan.as_of)?;
        Ok(())
    })?;
    Ok((times, sheets))
}

/// Column widths of the list sheet, in characters.
const XLSX_WIDTHS: [f64; 8] = [8.0, 36.0, 22.0, 14.0, 9.0, 10.0, 36.0, 40.0];

/// The list as a workbook: Chinese headers, one row per entity, a new
/// sheet every `sheet_rows − 1` entities. Rows are streamed to disk
/// (constant-memory worksheets), and the document date is `created`, so the
/// same list gives the same bytes.
pub fn write_xlsx(
    path: &Path,
    entries: &[ListEntry],
    plan_id: &str,
    sheet_rows: u32,
    created: NaiveDate,
) -> anyhow::Result<usize> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
    let per_sheet = sheet_rows.saturating_sub(1).max(1) as usize;
    let mut wb = Workbook::new();
    let when = ExcelDateTime::from_ymd(
        u16::try_from(created.year()).unwrap_or(1900),
        created.month() as u8,
        created.day() as u8,
    )?;
    wb.set_properties(
        &DocProperties::new()
            .set_title(format!("双随机抽查名单 {plan_id}"))
            .set_creation_datetime(&when),
    );
    // Deflate dominates saving a long list; the fastest level costs a few
    // percent in size.
    wb.set_zip_compression_level(1);
    let bold = Format::new().set_bold();
    let sheets = entries.len().div_ceil(per_sheet).max(1);
    for s in 0..sheets {
        let part =
            &entries[(s * per_sheet).min(entries.len())..((s + 1) * per_sheet).min(entries.len())];
        let ws = wb.add_worksheet_with_constant_memory()?;
        ws.set_name(if s == 0 {
            "抽查名单".to_string()
        } else {
            format!("抽查名单{}", s + 1)
        })?;
        for (c, w) in XLSX_WIDTHS.iter().enumerate() {
            ws.set_column_width(c as u16, *w)?;
        }
        ws.set_freeze_panes(1, 0)?;
        for (c, h) in LIST_HEADERS_ZH.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        for (r, e) in part.iter().enumerate() {
            let row = r as u32 + 1;
            let cells = list_cells(e);
            ws.write_number(row, 0, e.seq as f64)?;
            for (c, v) in cells.into_iter().enumerate().skip(1) {
                ws.write_string(row, c as u16, v)?;
            }
        }
    }
    wb.save(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(sheets)
}

/// A topic and how many records were published to it.
pub(crate) type Published = (String, usize);

/// A draw (or a replacement) done: the manifest and what was written and
/// published.
pub(crate) struct Drawn {
    pub(crate) dir: PathBuf,
    pub(crate) manifest: Manifest,
    pub(crate) took: Duration,
    pub(crate) files: FileTimes,
    pub(crate) sheets: usize,
    /// The samples topic and the records published to it (Kafka mode).
    pub(crate) published: Option<Published>,
    /// The roster file changed since the commitment (the committed one is used).
    pub(crate) roster_changed: bool,
}

/// Publishes the draw's records to the samples topic (every chosen entity,
/// then every replaced one, each with its content id) and waits for the
/// broker's acknowledgement.
fn publish_samples(cfg: &Config, m: &Manifest) -> anyhow::Result<Published> {
    let topic = Topics::new(&cfg.kafka.topic_prefix).samples;
    let records = sample_records(m)
        .iter()
        .map(|s| Ok((s.uscc.to_string(), serde_json::to_vec(s)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    snapshot::publish(cfg, &topic, &records)?;
    Ok((topic, records.len()))
}

/// Publishes (Kafka mode), then writes the files: a failure to publish
/// leaves the draw's files as they were, so the same command can be run
/// again, and records published twice carry the same ids.
fn publish_and_write(
    dir: &Path,
    m: &Manifest,
    snap: &Snapshot,
    list: &ListOpts,
    kafka: Option<&Config>,
) -> anyhow::Result<(FileTimes, usize, Option<Published>)> {
    let published = kafka.map(|cfg| publish_samples(cfg, m)).transpose()?;
    let date = list.date.unwrap_or(snap.plan.as_of);
    let (files, sheets) = write_outputs(dir, m, &snap.roster, date, list.sheet_rows)?;
    Ok((files, sheets, published))
}

fn roster_changed(dirs: &Dirs, c: &Commitment) -> bool {
    read_roster(&dirs.seeds.join("officers.ndjson"))
        .map(|r| roster_digest(&r))
        .is_ok_and(|now| now.ok().as_deref() != Some(c.roster_digest.as_str()))
}

/// `draw run`: draws a committed plan with the public randomness.
pub(crate) fn run_plan(
    arg: &PlanArg,
    randomness: &str,
    list: &ListOpts,
    dirs: &Dirs,
    kafka: Option<&Config>,
) -> anyhow::Result<Drawn> {
    let dir = draw_dir(dirs, arg.id());
    let (c, snap) = load_committed(&dir)?;
    check_same_plan(arg, &snap.plan, dirs)?;
    let mpath = dir.join("manifest.json");
    if mpath.exists() {
        let old = read_manifest(&mpath)?;
        if old.randomness != randomness {
            return Err(conflict(format!(
                "plan {} was already drawn with randomness {:?} ({}); a plan is drawn once. Use `tidewatch draw replace` for chosen entities found closed or unreachable",
                c.plan_id,
                old.randomness,
                mpath.display()
            )));
        }
        if !old.replacements.is_empty() {
            return Err(conflict(format!(
                "plan {} was drawn and has {} replacement(s) since ({}); running it again would drop them",
                c.plan_id,
                old.replacements.len(),
                mpath.display()
            )));
        }
    }
    let roster_changed = roster_changed(dirs, &c);
    let t = Instant::now();
    let (m, _) = draw_with_timings(&snap.inputs(), randomness)
        .map_err(|e| invalid(format!("plan {}: {e}", c.plan_id)))?;
    verify_commitment(&m, &c)
        .map_err(|e| anyhow!("the draw does not follow the commitment: {e}"))?;
    let took = t.elapsed();
    let (files, sheets, published) = publish_and_write(&dir, &m, &snap, list, kafka)?;
    Ok(Drawn {
        dir,
        manifest: m,
        took,
        files,
        sheets,
        published,
        roster_changed,
    })
}

fn run_cmd(arg: &str, randomness: &str, list: &ListOpts, dirs: &Dirs) -> anyhow::Result<ExitCode> {
    let kafka = dirs.kafka.config()?;
    let arg = PlanArg::parse(arg, dirs)?;
    let d = run_plan(&arg, randomness, list, dirs, kafka.as_ref())?;
    if d.roster_changed {
        println!(
            "note: {} changed since the commitment; the draw uses the committed roster",
            dirs.seeds.join("officers.ndjson").display()
        );
    }
    print_draw(&d.manifest, &d.dir, d.took, &d.files, d.sheets);
    print_published(&d);
    Ok(ExitCode::SUCCESS)
}

fn print_published(d: &Drawn) {
    if let Some((topic, n)) = &d.published {
        println!("  published {n} records to {topic}");
    }
}

pub(crate) fn read_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let f = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_reader(std::io::BufReader::with_capacity(1 << 20, f))
        .map_err(|e| anyhow!("{} is not a draw manifest: {e}", path.display()))
}

fn print_draw(m: &Manifest, dir: &Path, took: Duration, files: &FileTimes, sheets: usize) {
    println!(
        "draw {} — field {}, as of {}, {}",
        m.plan.id, m.plan.field, m.plan.as_of, m.algorithm
    );
    println!("  randomness  {:?}", m.randomness);
    println!("  seed        {}", m.seed);
    println!(
        "  {:<10} {:>8} {:>6} {:>7} {:>5} {:>7} {:>8} {:>6} {:>6}",
        "stratum", "in scope", "dereg", "revoked", "open", "recent", "eligible", "quota", "drawn"
    );
    for s in &m.strata {
        println!(
            "  {:<10} {:>8} {:>6} {:>7} {:>5} {:>7} {:>8} {:>6} {:>6}",
            s.stratum,
            s.size,
            s.excluded_deregistered,
            s.excluded_revoked,
            s.excluded_open_plan,
            s.excluded_recently_inspected,
            s.eligible,
            s.quota,
            s.drawn
        );
    }
    let by_class = count_by(m.chosen.iter().map(|c| c.class.as_str()));
    println!(
        "  chosen      {} ({})",
        entities(m.chosen.len()),
        by_class
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  officers    {} in the pool, loads {}–{} (capacity respected, no officer with a conflict, a recusal or without the qualification)",
        m.load.officers.len(),
        m.load.min,
        m.load.max
    );
    if m.unstaffed.is_empty() {
        println!("  unstaffed   none");
    } else {
        println!(
            "  unstaffed   {} could not be given a full team (no rule was relaxed):",
            entities(m.unstaffed.len())
        );
        for u in m.unstaffed.iter().take(10) {
            println!("    {} {}", u.uscc, shortfall_text(&u.shortfall));
        }
        if m.unstaffed.len() > 10 {
            println!(
                "    … {} more in manifest.json (\"unstaffed\")",
                m.unstaffed.len() - 10
            );
        }
    }
    for r in &m.replacements {
        match r.replacement {
            Some(n) => println!("  replaced    {} ({}) by {}", r.replaced, r.reason, n),
            None => println!(
                "  replaced    {} ({}): stratum {} has no eligible entity left",
                r.replaced, r.reason, r.stratum
            ),
        }
    }
    print_done(m, "drawn", dir, took, files, sheets);
}

/// The closing lines of `run` and `replace`: result digest, time, files.
fn print_done(
    m: &Manifest,
    what: &str,
    dir: &Path,
    took: Duration,
    files: &FileTimes,
    sheets: usize,
) {
    println!("  result      {}", m.result_digest);
    println!("  {what} in {} ms", took.as_millis());
    println!(
        "  wrote {}/{} (list.xlsx: {sheets} sheet{})",
        dir.display(),
        files.iter().map(|f| f.0).collect::<Vec<_>>().join(", "),
        if sheets == 1 { "" } else { "s" }
    );
}

fn entities(n: usize) -> String {
    format!("{n} {}", if n == 1 { "entity" } else { "entities" })
}

fn count_by<'a>(it: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, u64> {
    let mut m = BTreeMap::new();
    for k in it {
        *m.entry(k).or_default() += 1;
    }
    m
}

// ---------------------------------------------------------------- verify

/// A published draw re-derived from its inputs.
pub(crate) struct Verified {
    pub(crate) manifest: Manifest,
    /// The commitment checked against, when there is one.
    pub(crate) commitment: Option<(PathBuf, Commitment)>,
    /// The first difference, `None` when everything matches; the text
    /// follows "MISMATCH" (": …", or " against the commitment …: …").
    pub(crate) mismatch: Option<String>,
}

/// `draw verify` over the files beside `manifest` (or the ones given).
pub(crate) fn verify_files(
    manifest: &Path,
    plan: Option<&Path>,
    population: Option<&Path>,
    roster: Option<&Path>,
    history: Option<&Path>,
    commitment: Option<&Path>,
) -> anyhow::Result<Verified> {
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let m = read_manifest(manifest)?;
    let beside =
        |given: Option<&Path>, name: &str| given.map_or_else(|| dir.join(name), Path::to_path_buf);
    let plan_path = beside(plan, "plan.json");
    let plan = if plan_path.exists() {
        Plan::from_json(&read_text(&plan_path)?)
            .map_err(|e| anyhow!("{}: {e}", plan_path.display()))?
    } else {
        m.plan.clone()
    };
    let pop_path = beside(population, "population.csv");
    let pop = parse_csv(&read(&pop_path)?).map_err(|e| anyhow!("{}: {e}", pop_path.display()))?;
    let roster = read_roster(&beside(roster, "roster.json"))?;
    let hist_path = beside(history, "history.json");
    let history: Vec<PastInspection> = serde_json::from_slice(&read(&hist_path)?)
        .map_err(|e| anyhow!("{}: not an inspection history: {e}", hist_path.display()))?;
    let cpath = beside(commitment, "commitment.json");
    let committed = if cpath.exists() {
        Some((cpath.clone(), read_commitment(&cpath)?))
    } else {
        None
    };
    let mismatch = match &committed {
        Some((p, c)) => verify_commitment(&m, c)
            .err()
            .map(|e| format!(" against the commitment {}: {e}", p.display())),
        None => None,
    }
    .or_else(|| {
        verify(&m, &plan, &pop, &history, &roster)
            .err()
            .map(|e| format!(": {e}"))
    });
    Ok(Verified {
        manifest: m,
        commitment: committed,
        mismatch,
    })
}

fn verify_cmd(
    manifest: &Path,
    plan: Option<&Path>,
    population: Option<&Path>,
    roster: Option<&Path>,
    history: Option<&Path>,
    commitment: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let v = verify_files(manifest, plan, population, roster, history, commitment)?;
    let m = &v.manifest;
    match &v.mismatch {
        None => {
            println!(
                "match: {} follows from its plan, population, roster, history and randomness {:?}",
                manifest.display(),
                m.randomness
            );
            match &v.commitment {
                Some((cpath, c)) => println!(
                    "  and from the commitment published before it ({}, commitment_digest {})",
                    cpath.display(),
                    c.commitment_digest
                ),
                None => println!(
                    "  (no commitment file: the digests were not checked against a prior publication)"
                ),
            }
            println!(
                "  {} chosen, {} replacements, result digest {}",
                m.chosen.len(),
                m.replacements.len(),
                m.result_digest
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(e) => {
            println!("MISMATCH{e}");
            Ok(ExitCode::from(1))
        }
    }
}

// ---------------------------------------------------------------- replace

/// `draw replace`: replaces a chosen entity with the next eligible entity
/// of its stratum.
pub(crate) fn replace_in_plan(
    arg: &PlanArg,
    uscc: &str,
    reason: &str,
    list: &ListOpts,
    dirs: &Dirs,
    kafka: Option<&Config>,
) -> anyhow::Result<Drawn> {
    let dir = draw_dir(dirs, arg.id());
    let (c, snap) = load_committed(&dir)?;
    check_same_plan(arg, &snap.plan, dirs)?;
    let mpath = dir.join("manifest.json");
    if !mpath.exists() {
        return Err(conflict(format!(
            "plan {} has not been drawn yet: run `tidewatch draw run` first",
            c.plan_id
        )));
    }
    let old = read_manifest(&mpath)?;
    let code: Uscc = uscc.parse().map_err(|e| invalid(format!("{uscc}: {e}")))?;
    if reason.trim().is_empty() {
        return Err(invalid(
            "the reason is empty; say why, e.g. the result code 7 (已关闭停业) or 6 (无法联系)"
                .into(),
        ));
    }
    let t = Instant::now();
    let m = replace(&old, &snap.inputs(), code, reason)
        .map_err(|e| invalid(format!("plan {}: {e}", c.plan_id)))?;
    verify_commitment(&m, &c)
        .map_err(|e| anyhow!("the draw does not follow the commitment: {e}"))?;
    let took = t.elapsed();
    let (files, sheets, published) = publish_and_write(&dir, &m, &snap, list, kafka)?;
    Ok(Drawn {
        dir,
        manifest: m,
        took,
        files,
        sheets,
        published,
        roster_changed: false,
    })
}

fn replace_cmd(
    arg: &str,
    uscc: &str,
    reason: &str,
    list: &ListOpts,
    dirs: &Dirs,
) -> anyhow::Result<ExitCode> {
    let kafka = dirs.kafka.config()?;
    let arg = PlanArg::parse(arg, dirs)?;
    let d = replace_in_plan(&arg, uscc, reason, list, dirs, kafka.as_ref())?;
    let (m, took, files, sheets, dir) = (&d.manifest, d.took, &d.files, d.sheets, &d.dir);
    let r = m
        .replacements
        .last()
        .ok_or_else(|| anyhow!("the replacement was not recorded"))?;
    match r
        .replacement
        .and_then(|n| m.chosen.iter().find(|c| c.uscc == n))
    {
        Some(n) => println!(
            "replaced {} ({}) in stratum {} by {} {} (rank {}), officers {}",
            r.replaced,
            r.reason,
            r.stratum,
            n.uscc,
            n.name,
            n.rank,
            if n.officers.is_empty() {
                "none (see unstaffed)".into()
            } else {
                n.officers.join(", ")
            }
        ),
        None => println!(
            "removed {} ({}): stratum {} has no eligible entity left to replace it",
            r.replaced, r.reason, r.stratum
        ),
    }
    print_done(m, "done", dir, took, files, sheets);
    print_published(&d);
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------- status

/// Inspection results of the inspections topic (Kafka mode), in topic
/// order within each entity. Returns the results and the number of
/// records left out (not a readable inspection).
fn inspections_from_topic(cfg: &Config) -> anyhow::Result<(Vec<Inspection>, u64, String)> {
    let topic = Topics::new(&cfg.kafka.topic_prefix).inspections;
    let mut out = Vec::new();
    let mut skipped = 0u64;
    snapshot::read_topic(cfg, &topic, |r| {
        match decode(Family::Inspections, &r.payload) {
            Ok(Event::Inspection(i)) => out.push(i),
            _ => skipped += 1,
        }
    })?;
    Ok((out, skipped, format!("topic {topic}")))
}

/// Which chosen entities of a drawn plan have results carrying its id.
pub(crate) struct Status {
    pub(crate) id: String,
    pub(crate) manifest: Manifest,
    /// Results with the plan id, by entity (on the list or not).
    pub(crate) results: HashMap<Uscc, Vec<Inspection>>,
    /// Where the results came from, and how many records were unreadable.
    pub(crate) source: String,
    pub(crate) skipped: u64,
}

impl Status {
    /// Chosen entities with at least one result.
    pub(crate) fn done(&self) -> usize {
        self.manifest
            .chosen
            .iter()
            .filter(|c| self.results.contains_key(&c.uscc))
            .count()
    }

    /// Results of chosen entities by result code ("E 发现问题经责令已改正").
    pub(crate) fn by_code(&self) -> BTreeMap<String, u64> {
        let mut by_code: BTreeMap<String, u64> = BTreeMap::new();
        for c in &self.manifest.chosen {
            for i in self.results.get(&c.uscc).into_iter().flatten() {
                *by_code
                    .entry(format!("{} {}", i.result.as_str(), i.result.label()))
                    .or_default() += 1;
            }
        }
        by_code
    }

    /// Entities with results that are not on the list (sorted), naming
    /// the replaced ones.
    pub(crate) fn stray(&self) -> Vec<String> {
        let on_list: std::collections::HashSet<Uscc> =
            self.manifest.chosen.iter().map(|c| c.uscc).collect();
        let replaced: HashMap<Uscc, &str> = self
            .manifest
            .replacements
            .iter()
            .map(|r| (r.replaced, r.reason.as_str()))
            .collect();
        let mut stray: Vec<String> = self
            .results
            .keys()
            .filter(|u| !on_list.contains(u))
            .map(|u| match replaced.get(u) {
                Some(reason) => format!("{u} (replaced: {reason})"),
                None => u.to_string(),
            })
            .collect();
        stray.sort();
        stray
    }
}

/// `draw status`: results from `inspections` (a file), else in Kafka mode
/// from the inspections topic, else from `<seeds>/inspections.ndjson`.
pub(crate) fn status_of(
    id: &str,
    dirs: &Dirs,
    inspections: Option<&Path>,
    kafka: Option<&Config>,
) -> anyhow::Result<Status> {
    let mpath = draw_dir(dirs, id).join("manifest.json");
    if !mpath.exists() {
        return Err(conflict(format!(
            "plan {id} has not been drawn yet ({} is missing)",
            mpath.display()
        )));
    }
    let manifest = read_manifest(&mpath)?;
    let (all, skipped, source) = match (inspections, kafka) {
        (None, Some(cfg)) => inspections_from_topic(cfg)?,
        _ => {
            let path = inspections
                .map_or_else(|| dirs.seeds.join("inspections.ndjson"), Path::to_path_buf);
            let (all, skipped) = read_inspections(&path, None)?;
            (all, skipped, path.display().to_string())
        }
    };
    let mut results: HashMap<Uscc, Vec<Inspection>> = HashMap::new();
    for i in all.into_iter().filter(|i| i.plan_id.as_deref() == Some(id)) {
        results.entry(i.uscc).or_default().push(i);
    }
    Ok(Status {
        id: id.to_string(),
        manifest,
        results,
        source,
        skipped,
    })
}

fn status_cmd(arg: &str, inspections: Option<&Path>, dirs: &Dirs) -> anyhow::Result<ExitCode> {
    let kafka = dirs.kafka.config()?;
    let arg = PlanArg::parse(arg, dirs)?;
    let st = status_of(arg.id(), dirs, inspections, kafka.as_ref())?;
    let (id, m, results) = (&st.id, &st.manifest, &st.results);
    let done = st.done();
    println!(
        "draw status {id} — {} chosen, {done} with results, {} pending (results from {}{})",
        m.chosen.len(),
        m.chosen.len() - done,
        st.source,
        if st.skipped > 0 {
            format!(", {} unreadable records skipped", st.skipped)
        } else {
            String::new()
        }
    );
    for (code, n) in &st.by_code() {
        println!("  result {code}: {n}");
    }
    for (seq, c) in m.chosen.iter().enumerate() {
        let line = match results.get(&c.uscc) {
            None => "pending".to_string(),
            Some(rs) => rs
                .iter()
                .map(|i| {
                    let mut s = format!(
                        "{} result {} {}",
                        i.occurred_on,
                        i.result.as_str(),
                        i.result.label()
                    );
                    if !i.inspector_ids.is_empty() && i.inspector_ids != c.officers {
                        let mut a = i.inspector_ids.clone();
                        let mut b = c.officers.clone();
                        a.sort();
                        b.sort();
                        if a != b {
                            s.push_str(&format!(
                                " (inspected by {}, assigned {})",
                                i.inspector_ids.join(", "),
                                c.officers.join(", ")
                            ));
                        }
                    }
                    s
                })
                .collect::<Vec<_>>()
                .join("; "),
        };
        println!("  {:>5} {} {}  {line}", seq + 1, c.uscc, c.name);
    }
    let stray = st.stray();
    if !stray.is_empty() {
        println!(
            "  {} result(s) carry plan id {id} for entities not on the list: {}",
            stray.len(),
            stray.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------- preview

/// `draw preview`: the resolved plan and what it would draw now.
pub(crate) fn preview_plan(
    arg: &PlanArg,
    dirs: &Dirs,
    scores: &Scores,
) -> anyhow::Result<(Plan, Preview)> {
    let plan = plan_for_scores(arg, dirs, scores)?;
    let population = scores.population(plan.field, plan.as_of)?;
    let roster = read_roster(&dirs.seeds.join("officers.ndjson"))?;
    let p = preview(&plan, &population, &roster)
        .map_err(|e| invalid(format!("plan {}: {e}", plan.id)))?;
    Ok((plan, p))
}

fn preview_cmd(arg: &str, dirs: &Dirs) -> anyhow::Result<ExitCode> {
    let kafka = dirs.kafka.config()?;
    let arg = PlanArg::parse(arg, dirs)?;
    let scores = Scores::of(dirs, kafka.as_ref())?;
    let (plan, p) = preview_plan(&arg, dirs, &scores)?;
    println!(
        "draw preview {} — field {}, as of {}, {} entities in the field's population (nothing drawn)",
        plan.id, plan.field, plan.as_of, p.population_rows
    );
    println!(
        "  {:<10} {:>8} {:>6} {:>7} {:>5} {:>7} {:>8} {:>6}  rule",
        "stratum", "in scope", "dereg", "revoked", "open", "recent", "eligible", "quota"
    );
    for s in &p.strata {
        println!(
            "  {:<10} {:>8} {:>6} {:>7} {:>5} {:>7} {:>8} {:>6}  {}",
            s.stratum,
            s.size,
            s.excluded_deregistered,
            s.excluded_revoked,
            s.excluded_open_plan,
            s.excluded_recently_inspected,
            s.eligible,
            s.quota,
            quota_text(&plan, s.class)
        );
    }
    println!(
        "  total to draw {} entities, teams of {} ({} officer-inspections)",
        p.total_quota,
        plan.team_size,
        p.total_quota * u64::from(plan.team_size)
    );
    println!(
        "  officer capacity needed per pool (qualified for {}):",
        plan.field
    );
    let mut short = 0;
    for pool in &p.pools {
        let unit = pool
            .unit
            .map(|u| format!("{} {}", u, u.name().unwrap_or_default()))
            .unwrap_or_else(|| "all units".into());
        let flag = if pool.short(plan.team_size) {
            short += 1;
            "  SHORT"
        } else {
            ""
        };
        println!(
            "    {unit:<14} {}{:.0} entities, {:.0} seats; {} officers with capacity {}{flag}",
            if pool.exact { "" } else { "≈" },
            pool.entities,
            pool.seats,
            pool.officers,
            pool.capacity
        );
    }
    if short > 0 {
        println!(
            "  {short} pool(s) cannot staff their share: the draw would list the entities it cannot staff (add officers or capacity, or allow cross-region teams)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn quota_text(plan: &Plan, class: Class) -> String {
    match plan.sampling.get(class) {
        tidewatch_sampling::Quota::Ratio(r) => format!("ratio {r}"),
        tidewatch_sampling::Quota::Count(n) => format!("count {n}"),
    }
}

// ---------------------------------------------------------------- run's default draw

/// The default draw of `tidewatch run`: the plan named in
/// `<pipelines>/draws/defaults.toml` ([run]) over the scores just written to
/// `out`, committed and drawn at once with the fixed randomness named
/// there (the one-shot run has no beacon to wait for). The draw directory
/// is rewritten on every run.
pub fn default_draw(
    out: &Path,
    seeds: &Path,
    pipelines: &Path,
    as_of: NaiveDate,
) -> anyhow::Result<()> {
    let defaults_path = pipelines.join("draws").join("defaults.toml");
    if !defaults_path.exists() {
        println!(
            "  default draw: skipped ({} not found)",
            defaults_path.display()
        );
        return Ok(());
    }
    let defaults = load_defaults(pipelines)?;
    let Some(run) = &defaults.run else {
        println!(
            "  default draw: skipped (no [run] in {})",
            defaults_path.display()
        );
        return Ok(());
    };
    let roster_path = seeds.join("officers.ndjson");
    if !roster_path.exists() {
        println!(
            "  default draw: skipped (no roster at {})",
            roster_path.display()
        );
        return Ok(());
    }
    let dirs = Dirs {
        out: out.to_path_buf(),
        seeds: seeds.to_path_buf(),
        pipelines: pipelines.to_path_buf(),
        kafka: DrawKafka::default(),
    };
    let plan_path = pipelines.join("draws").join(&run.plan);
    let arg = PlanArg::parse(&plan_path.display().to_string(), &dirs)?;
    let plan = arg.resolve(&dirs, Some(as_of))?;
    if plan.as_of != as_of {
        bail!(
            "{} is as of {}, but this run is as of {}: leave as_of out of the default plan",
            plan_path.display(),
            plan.as_of,
            as_of
        );
    }
    let dir = draw_dir(&dirs, &plan.id);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    let t = Instant::now();
    let snap = Snapshot::current(plan, &dirs, &Scores::Files(out.to_path_buf()))?;
    let c = write_commitment(&dir, &snap)?;
    let (m, _) = draw_with_timings(&snap.inputs(), &run.randomness)?;
    verify_commitment(&m, &c)
        .map_err(|e| anyhow!("the default draw does not follow its commitment: {e}"))?;
    let (files, sheets) = write_outputs(&dir, &m, &snap.roster, as_of, SHEET_ROWS)?;
    let by_class = count_by(m.chosen.iter().map(|c| c.class.as_str()));
    let eligible: u64 = m.strata.iter().map(|s| s.eligible).sum();
    println!(
        "  default draw {} ({}): {} of {eligible} eligible entities chosen ({}), officer loads {}–{}, {} unstaffed, result {}",
        m.plan.id,
        m.plan.field,
        m.chosen.len(),
        by_class
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        m.load.min,
        m.load.max,
        m.unstaffed.len(),
        m.result_digest
    );
    println!(
        "    randomness: the fixed value {:?} from {} — no beacon in the one-shot run, so this draw is reproducible but was foreseeable (a demonstration, not for publication)",
        run.randomness,
        defaults_path.display()
    );
    println!(
        "    wrote {}/{} and {} (list.xlsx: {sheets} sheet{}) in {} ms",
        dir.display(),
        SNAPSHOT_FILES.join(", "),
        files.iter().map(|f| f.0).collect::<Vec<_>>().join(", "),
        if sheets == 1 { "" } else { "s" },
        t.elapsed().as_millis()
    );
    Ok(())
}

// ---------------------------------------------------------------- bench

/// splitmix64: a fixed, fast mix, so the generated population is the same
/// on every run and every thread count.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

const BENCH_REGIONS: [(&str, u64); 4] = [
    ("330902", 45),
    ("330903", 30),
    ("330921", 15),
    ("330922", 10),
];

fn bench_region(h: u64) -> usize {
    let mut x = h % 100;
    for (i, (_, w)) in BENCH_REGIONS.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    0
}

/// A synthetic population: the four Zhoushan districts, class shares
/// A 65%, B 25%, C 8%, D 2%, 2% deregistered, 0.5% revoked, 40% inspected
/// at some time in the last three years.
fn bench_population(n: u64, as_of: NaiveDate) -> anyhow::Result<Vec<PopulationRow>> {
    const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let regions: Vec<RegionCode> = BENCH_REGIONS
        .iter()
        .map(|(r, _)| RegionCode::parse(r).map_err(|e| anyhow!(e)))
        .collect::<anyhow::Result<_>>()?;
    (0..n)
        .into_par_iter()
        .map(|i| {
            let h = mix(i);
            let r = bench_region(h);
            let mut org = [b'0'; 9];
            let mut x = i;
            for k in (0..9).rev() {
                org[k] = ALPHABET[(x % 31) as usize];
                x /= 31;
            }
            let kind = match (h >> 8) % 10 {
                0..=5 => "91",
                6..=8 => "92",
                _ => "93",
            };
            let body = format!(
                "{kind}{}{}",
                BENCH_REGIONS[r].0,
                String::from_utf8_lossy(&org)
            );
            let h2 = mix(h);
            let class = match h2 % 1000 {
                0..=649 => Class::A,
                650..=899 => Class::B,
                900..=979 => Class::C,
                _ => Class::D,
            };
            let h3 = mix(h2);
            let last = ((h3 >> 20) % 100 < 40)
                .then(|| as_of - chrono::Duration::days(((h3 >> 30) % 1095) as i64));
            Ok(PopulationRow {
                uscc: Uscc::from_body(&body)?,
                name: format!("舟山测试企业{i}有限公司"),
                region: regions[r],
                industry: "F5221".into(),
                class,
                deregistered: h3 % 100 < 2,
                revoked: h3 % 1000 == 7,
                last_inspected_on: last,
            })
        })
        .collect()
}

/// A roster that can staff the plan: per district unit, enough officers of
/// `capacity` for its expected seats plus 15% (or `per_unit` of them), a
/// declared conflict for 1 entity in 500; and a history of two inspectors
/// for 1 entity in 20 in the last three years.
fn bench_roster(
    pop: &[PopulationRow],
    plan: &Plan,
    capacity: u32,
    per_unit: Option<usize>,
) -> anyhow::Result<(Vec<Officer>, Vec<PastInspection>)> {
    let p = preview(plan, pop, &[])?;
    let mut officers = Vec::new();
    let mut by_unit: HashMap<RegionCode, Vec<usize>> = HashMap::new();
    for need in &p.pools {
        let Some(unit) = need.unit else { continue };
        let k = per_unit.unwrap_or(
            ((need.seats * 1.15) / f64::from(capacity)).ceil() as usize + plan.team_size as usize,
        );
        for j in 0..k {
            by_unit.entry(unit).or_default().push(officers.len());
            officers.push(Officer {
                officer_id: format!("ZS{}-{j:05}", unit.as_str()),
                name: format!("检查员{}-{j}", unit.as_str()),
                unit,
                qualifications: vec![Domain::General, Domain::Food],
                conflicts: Vec::new(),
                capacity,
            });
        }
    }
    let mut history = Vec::new();
    for (i, row) in pop.iter().enumerate() {
        let h = mix(i as u64 ^ 0xD1CE);
        let Some(team) = by_unit.get(&row.region) else {
            continue;
        };
        if h % 500 == 3 {
            officers[team[(h as usize >> 7) % team.len()]]
                .conflicts
                .push(row.uscc);
        }
        if h % 20 == 1 {
            for k in 0..2u64 {
                let o = &officers[team[((h >> (8 + 16 * k)) as usize) % team.len()]];
                history.push(PastInspection {
                    uscc: row.uscc,
                    officer_id: o.officer_id.clone(),
                    inspected_on: plan.as_of - chrono::Duration::days(((h >> 40) % 1095) as i64),
                });
            }
        }
    }
    Ok((officers, history))
}

fn peak_rss_mb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

fn ms(d: Duration) -> String {
    format!("{:>8.0} ms", d.as_secs_f64() * 1000.0)
}

/// CPU time of this process (user + system, all threads), from
/// /proc/self/stat; `None` where that file does not exist.
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses).
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // The kernel reports in USER_HZ, 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// Wall and CPU time of one bench step: on a shared machine the wall time
/// depends on the load, the CPU time much less.
struct Clock {
    wall: Instant,
    cpu: Option<Duration>,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            wall: Instant::now(),
            cpu: cpu_time(),
        }
    }

    fn line(&self, what: &str) {
        let cpu = match (self.cpu, cpu_time()) {
            (Some(a), Some(b)) => format!("  (cpu {:>6.0} ms)", (b - a).as_secs_f64() * 1000.0),
            _ => String::new(),
        };
        println!("  {what:<54}{}{cpu}", ms(self.wall.elapsed()));
    }
}

fn bench_cmd(
    n: u64,
    capacity: u32,
    per_unit: Option<usize>,
    out: Option<PathBuf>,
    xlsx: bool,
    pipelines: &Path,
) -> anyhow::Result<ExitCode> {
    if capacity == 0 {
        bail!("--capacity must be at least 1");
    }
    let dir = out.unwrap_or_else(|| std::env::temp_dir().join("tidewatch-draw-bench"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let defaults = load_defaults(pipelines)?;
    let as_of = NaiveDate::from_ymd_opt(2026, 9, 30).ok_or_else(|| anyhow!("as-of date"))?;
    let file = PlanFile {
        id: "bench-general".into(),
        field: Domain::General,
        regions: Vec::new(),
        industries: Vec::new(),
        entity_kinds: None,
        as_of: Some(as_of),
        sampling: Default::default(),
        stratum_minimum: None,
        stratify_by_region: None,
        team_size: None,
        exclusions: Default::default(),
        allow_cross_region_teams: None,
        recusal_months: None,
        randomness_source: "bench: a fixed value".into(),
    };
    let plan = file.resolve(&defaults, None)?;
    let threads = rayon::current_num_threads();
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| {
            l.split_whitespace()
                .next()
                .map(|x| format!(", load average {x}"))
        })
        .unwrap_or_default();
    println!(
        "draw bench — {n} entities, default ratios of {} (A {}, B {}, C {}, D {}), {threads} threads{load}",
        pipelines.join("draws/defaults.toml").display(),
        quota_text(&plan, Class::A),
        quota_text(&plan, Class::B),
        quota_text(&plan, Class::C),
        quota_text(&plan, Class::D)
    );
    let t = Instant::now();
    let pop = bench_population(n, as_of)?;
    let (roster, history) = bench_roster(&pop, &plan, capacity, per_unit)?;
    println!(
        "  generated in {} ms (not timed below): {} officers of capacity {capacity}, {} history records, {} declared conflicts",
        t.elapsed().as_millis(),
        roster.len(),
        history.len(),
        roster.iter().map(|o| o.conflicts.len()).sum::<usize>()
    );
    // The command-line flow: `draw commit` digests the inputs and writes the
    // snapshot; `draw run` reads the snapshot back, checks it against the
    // commitment and draws.
    let clock = Clock::start();
    let snap = Snapshot {
        plan,
        population: pop,
        roster,
        history,
    };
    let c = write_commitment(&dir, &snap)?;
    clock.line("commit: digests, snapshot files written");
    drop(snap);
    let clock = Clock::start();
    let (c2, snap) = load_committed(&dir)?;
    if c2 != c {
        bail!("the commitment read back differs from the one written");
    }
    clock.line("run: snapshot read back and checked");
    let (plan, pop, roster, history) = (&snap.plan, &snap.population, &snap.roster, &snap.history);
    let inputs = snap.inputs();
    let whole = Clock::start();
    let clock = Clock::start();
    let (m, phases) = draw_with_timings(&inputs, "bench-randomness-0001")?;
    clock.line("run: draw");
    for (what, d) in &phases {
        println!("    {what:<52}{}", ms(*d));
    }
    let clock = Clock::start();
    let mpath = dir.join("manifest.json");
    let mut w = BufWriter::with_capacity(1 << 20, create(&mpath)?);
    m.write_json(&mut w)
        .and_then(|()| w.flush())
        .with_context(|| format!("writing {}", mpath.display()))?;
    let manifest_bytes = std::fs::metadata(&mpath).map(|x| x.len()).unwrap_or(0);
    clock.line(&format!(
        "run: manifest.json ({:.0} MB)",
        manifest_bytes as f64 / 1e6
    ));
    whole.line("draw + manifest (selection, assignment, manifest)");
    let clock = Clock::start();
    verify(&m, plan, pop, history, roster)
        .map_err(|e| anyhow!("bench draw does not verify: {e}"))?;
    verify_commitment(&m, &c)
        .map_err(|e| anyhow!("bench draw does not follow its commitment: {e}"))?;
    clock.line("verify (re-derive everything)");
    let clock = Clock::start();
    let entries = list_entries(&m, roster);
    write_file(&dir.join("list.csv"), &list_csv(&entries))?;
    write_file(&dir.join("list.json"), &list_json(&m, &entries))?;
    write_file(
        &dir.join("publication.csv"),
        &publication_csv(&m, &entries, as_of),
    )?;
    clock.line("list.csv, list.json, publication.csv");
    if xlsx {
        let clock = Clock::start();
        let sheets = write_xlsx(
            &dir.join("list.xlsx"),
            &entries,
            &plan.id,
            SHEET_ROWS,
            as_of,
        )?;
        let size = std::fs::metadata(dir.join("list.xlsx"))
            .map(|x| x.len())
            .unwrap_or(0);
        clock.line(&format!(
            "list.xlsx ({} rows, {sheets} sheet{}, {:.0} MB)",
            entries.len(),
            if sheets == 1 { "" } else { "s" },
            size as f64 / 1e6
        ));
    }
    let eligible: u64 = m.strata.iter().map(|s| s.eligible).sum();
    println!(
        "  chosen {} of {eligible} eligible; {} officers in the pool, loads {}–{}; {} unstaffed",
        m.chosen.len(),
        m.load.officers.len(),
        m.load.min,
        m.load.max,
        m.unstaffed.len()
    );
    if let Some(mb) = peak_rss_mb() {
        println!("  peak memory {mb} MB; files in {}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidewatch_sampling::Exclusions;

    fn entry(i: u64) -> ListEntry {
        ListEntry {
            seq: i + 1,
            uscc: Uscc::from_body(&format!("91330902{i:09}")).expect("uscc"),
            name: format!("舟山测试企业{i}有限公司"),
            region: RegionCode::parse("330902").expect("region"),
            region_name: "定海区".into(),
            class: Class::B,
            stratum: "B/330902".into(),
            officer_ids: vec!["ZS-0001".into(), "ZS-0002".into()],
            officer_names: vec!["徐勇".into(), "夏平鹏".into()],
            replaces: None,
            note: String::new(),
        }
    }

    fn sheet_names(path: &Path) -> Vec<String> {
        // Entry names of a zip archive are stored uncompressed.
        let bytes = std::fs::read(path).expect("xlsx");
        let text = String::from_utf8_lossy(&bytes);
        let mut names: Vec<String> = (1..20)
            .map(|i| format!("xl/worksheets/sheet{i}.xml"))
            .filter(|n| text.contains(n.as_str()))
            .collect();
        names.dedup();
        names
    }

    #[test]
    fn the_list_continues_on_new_sheets_past_the_row_limit() {
        let dir = tempfile::tempdir().expect("tmp");
        let entries: Vec<ListEntry> = (0..10).map(entry).collect();
        let date = NaiveDate::from_ymd_opt(2026, 9, 30).expect("date");
        // 4 rows per sheet = header + 3 entries: 10 entries need 4 sheets.
        let p = dir.path().join("split.xlsx");
        assert_eq!(write_xlsx(&p, &entries, "t", 4, date).expect("xlsx"), 4);
        assert_eq!(sheet_names(&p).len(), 4);
        // Exactly full sheets: no empty sheet after them.
        let p = dir.path().join("exact.xlsx");
        assert_eq!(
            write_xlsx(&p, &entries[..9], "t", 4, date).expect("xlsx"),
            3
        );
        // The real limit keeps a normal list on one sheet, and an empty
        // list still gets its (header-only) sheet.
        let p = dir.path().join("one.xlsx");
        assert_eq!(
            write_xlsx(&p, &entries, "t", SHEET_ROWS, date).expect("xlsx"),
            1
        );
        let p = dir.path().join("empty.xlsx");
        assert_eq!(write_xlsx(&p, &[], "t", SHEET_ROWS, date).expect("xlsx"), 1);
        // The same list gives the same bytes (the document date is fixed).
        let a = dir.path().join("a.xlsx");
        let b = dir.path().join("b.xlsx");
        write_xlsx(&a, &entries, "t", 4, date).expect("xlsx");
        write_xlsx(&b, &entries, "t", 4, date).expect("xlsx");
        assert_eq!(std::fs::read(a).expect("a"), std::fs::read(b).expect("b"));
    }

    #[test]
    fn the_bench_population_is_valid_and_reproducible() {
        let date = NaiveDate::from_ymd_opt(2026, 9, 30).expect("date");
        let a = bench_population(2000, date).expect("population");
        let b = bench_population(2000, date).expect("population");
        assert_eq!(a, b);
        assert!(sorted_rows(&a).is_ok(), "USCCs are unique");
        for c in Class::ALL {
            assert!(a.iter().any(|r| r.class == c), "class {c} present");
        }
    }

    #[test]
    fn a_population_comes_from_the_scores_and_features_frames() {
        use polars::prelude::Column;
        let u1 = Uscc::from_body("91330902000000001")
            .expect("uscc")
            .to_string();
        let u2 = Uscc::from_body("91330903000000002")
            .expect("uscc")
            .to_string();
        let u3 = Uscc::from_body("92330921000000003")
            .expect("uscc")
            .to_string();
        let n = 3;
        let scores = DataFrame::new(
            n,
            vec![
                Column::new("uscc".into(), [u1.as_str(), u2.as_str(), u3.as_str()]),
                Column::new("name".into(), ["甲", "乙,丙", "丁"]),
                Column::new("region_code".into(), ["330902", "330903", "330921"]),
                Column::new("industry_code".into(), ["H6210", "F5221", "C1361"]),
                Column::new("food_class".into(), [Some("A"), None, Some("D")]),
            ],
        )
        .expect("scores");
        // Features in another order: joined by USCC.
        let features = DataFrame::new(
            n,
            vec![
                Column::new("uscc".into(), [u3.as_str(), u1.as_str(), u2.as_str()]),
                Column::new("deregistered".into(), [0i64, 1, 0]),
                Column::new("revoked".into(), [1i64, 0, 0]),
                Column::new("days_since_inspection".into(), [Some(10i64), None, Some(3)]),
            ],
        )
        .expect("features");
        let date = NaiveDate::from_ymd_opt(2026, 9, 30).expect("date");
        let rows = population_from_frames(&scores, &features, Domain::Food, date).expect("rows");
        assert_eq!(
            rows.len(),
            2,
            "the entity outside the food field is left out"
        );
        assert_eq!(rows[0].uscc.to_string(), u1);
        assert!(rows[0].deregistered && !rows[0].revoked);
        assert_eq!(rows[0].last_inspected_on, None);
        assert_eq!(rows[1].class, Class::D);
        assert!(rows[1].revoked);
        assert_eq!(
            rows[1].last_inspected_on,
            NaiveDate::from_ymd_opt(2026, 9, 20)
        );
        let e = population_from_frames(&scores, &features, Domain::Construction, date)
            .expect_err("no such field");
        assert!(e.to_string().contains("construction_class"), "{e}");
    }

    #[test]
    fn a_minimal_plan_file_takes_the_rest_from_the_defaults() {
        let d = Defaults::from_toml(
            &std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/draws/defaults.toml"),
            )
            .expect("defaults"),
        )
        .expect("parse");
        let p = PlanFile::from_toml("id = \"x\"\nfield = \"general\"\nrandomness_source = \"r\"\n")
            .expect("plan file")
            .resolve(&d, NaiveDate::from_ymd_opt(2026, 9, 30))
            .expect("plan");
        assert_eq!(p.team_size, 2);
        assert_eq!(
            p.exclusions,
            Exclusions {
                deregistered: true,
                revoked: true,
                inspected_within_months: Some(12),
                open_plan_usccs: vec![],
            }
        );
    }
}
