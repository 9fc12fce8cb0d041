//! Blacklists and alerts on the embedded default.
//!
//! - [`update`]: the step of `tidewatch run` that evaluates the list rules
//!   (`pipelines/lists.toml`) for every entity, appends the new alerts to
//!   `out/alerts.ndjson` and keeps the list state in `out/lists-state.json`,
//!   so that a run at a later as-of date continues the lifecycle.
//! - `tidewatch lists`: who is on which list and why, from the out dir.
//! - `tidewatch alerts deliver`: POST the alert log to the webhook targets,
//!   resumably; `tidewatch alerts since`: the log from a sequence number.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use polars::prelude::*;
use rayon::prelude::*;
use tidewatch_alerts::{
    data_since, evaluate, Alert, AlertKind, Context, FieldScore, Input, ListState, LoggedAlert,
    Rules, Status,
};
use tidewatch_model::{Class, Domain};
use tidewatch_scoring::Evaluation;
use tidewatch_state::EntityStore;
use tidewatch_webhook::{alerts_since, load_targets, read_log, AlertLog, Deliverer};

/// Fixed names under the out dir.
pub const ALERTS_FILE: &str = "alerts.ndjson";
pub const STATE_FILE: &str = "lists-state.json";
pub const RULES_FILE: &str = "lists.toml";

/// What one evaluation of the lists did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub rules_version: String,
    /// New alerts: `(list or "-", kind)` → count, and causes within.
    pub by_list_kind: BTreeMap<(String, AlertKind), u64>,
    pub causes: BTreeMap<(String, AlertKind), BTreeMap<String, u64>>,
    pub new_alerts: usize,
    /// Sequence numbers the new alerts got in the log.
    pub seq_range: Option<(u64, u64)>,
    /// Entities listed / proposed per list at the as-of date.
    pub listed: BTreeMap<String, (usize, usize)>,
    pub skipped: Option<String>,
}

/// Scores per entity from a previous run's `scores.parquet`.
fn previous_scores(path: &Path) -> anyhow::Result<HashMap<String, Vec<FieldScore>>> {
    let Ok(f) = File::open(path) else {
        return Ok(HashMap::new());
    };
    let df = ParquetReader::new(f)
        .finish()
        .map_err(|e| anyhow::anyhow!("reading previous scores {}: {e}", path.display()))?;
    let uscc = df.column("uscc")?.str()?.clone();
    let mut out: HashMap<String, Vec<FieldScore>> = HashMap::new();
    for d in Domain::ALL {
        let (Ok(risk), Ok(class)) = (
            df.column(&format!("{}_risk_score", d.as_str())),
            df.column(&format!("{}_class", d.as_str())),
        ) else {
            continue;
        };
        let risk = risk.cast(&DataType::Int64)?;
        let risk = risk.i64()?;
        let class = class.str()?;
        for (i, u) in uscc.iter().enumerate() {
            let (Some(u), Some(r), Some(c)) = (u, risk.get(i), class.get(i)) else {
                continue;
            };
            let Ok(c) = Class::parse(c) else { continue };
            out.entry(u.to_owned()).or_default().push(FieldScore {
                field: *d,
                risk: r,
                class: c,
            });
        }
    }
    Ok(out)
}

fn load_state(path: &Path) -> anyhow::Result<Option<ListState>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let s: ListState = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a list state", path.display()))?;
    if s.format != tidewatch_alerts::state::STATE_FORMAT {
        bail!(
            "{} has format {}, this tidewatch reads {}",
            path.display(),
            s.format,
            tidewatch_alerts::state::STATE_FORMAT
        );
    }
    Ok(Some(s))
}

/// Writes the state whole or not at all: temporary file, sync, rename.
fn save_state(path: &Path, s: &ListState) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    // Buffered: serde writes token by token, one system call each otherwise.
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    serde_json::to_writer(&mut w, s)?;
    w.write_all(b"\n")?;
    let f = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing {}: {}", tmp.display(), e.error()))?;
    f.sync_all()
        .with_context(|| format!("syncing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Evaluates the list rules for every entity at `as_of`; appends new alerts
/// to `out/alerts.ndjson` and saves `out/lists-state.json`. Call it before
/// the run overwrites `out/scores.parquet`: the previous scores are read
/// from there.
pub fn update(
    pipelines: &Path,
    out: &Path,
    store: &EntityStore,
    ev: &Evaluation,
    as_of: NaiveDate,
) -> anyhow::Result<Outcome> {
    let rules_path = pipelines.join(RULES_FILE);
    if !rules_path.exists() {
        return Ok(Outcome {
            skipped: Some(format!(
                "no {}: list rules not evaluated",
                rules_path.display()
            )),
            ..Outcome::default()
        });
    }
    let rules = Rules::load(&rules_path)?;
    let state_path = out.join(STATE_FILE);
    let mut state = load_state(&state_path)?.unwrap_or_default();
    if let Some(prev) = state.as_of {
        if prev > as_of {
            bail!(
                "{} is at {prev}, after --as-of {as_of}: the lists cannot move back in time. \
                 Use another --out, or remove {} and {} to start the lists over",
                state_path.display(),
                STATE_FILE,
                ALERTS_FILE
            );
        }
    }
    let before = previous_scores(&out.join("scores.parquet"))?;
    let ctx = Context {
        as_of,
        data_since: data_since(store.entities()),
        previous_as_of: state.as_of,
    };
    let results: Vec<_> = store
        .entities()
        .par_iter()
        .enumerate()
        .map(|(r, e)| {
            let uscc = e.uscc.as_str();
            let now = tidewatch_engine::lists::field_scores(ev, r);
            let prev = before.get(uscc).map_or(&[][..], Vec::as_slice);
            let input = Input {
                entity: e,
                scores: &now,
                previous_scores: prev,
            };
            (uscc, evaluate(&rules, &input, state.entity(uscc), &ctx))
        })
        .collect();
    let mut alerts: Vec<Alert> = Vec::new();
    for (uscc, done) in results {
        alerts.extend(done.alerts);
        state.put(uscc, done.state);
    }
    alerts.sort_by(|a, b| {
        (a.effective_on, &a.entity.uscc, a.entity_seq).cmp(&(
            b.effective_on,
            &b.entity.uscc,
            b.entity_seq,
        ))
    });
    state.as_of = Some(as_of);
    state.rules_version = rules.version.clone();
    // The log first: if the run stops between the two, the next run
    // announces the same ids again and the log skips them.
    let mut log = AlertLog::open(&out.join(ALERTS_FILE))?;
    let logged = log.append(&alerts)?;
    save_state(&state_path, &state)?;

    Ok(outcome(&rules, &state, &logged))
}

/// What a list evaluation did: counts of the newly logged alerts by list
/// and kind, and who is on each list now.
fn outcome(rules: &Rules, state: &ListState, logged: &[LoggedAlert]) -> Outcome {
    let mut o = Outcome {
        rules_version: rules.version.clone(),
        new_alerts: logged.len(),
        seq_range: logged
            .first()
            .zip(logged.last())
            .map(|(a, b)| (a.seq, b.seq)),
        ..Outcome::default()
    };
    for a in logged {
        let key = (
            a.alert.list.clone().unwrap_or_else(|| "-".into()),
            a.alert.kind,
        );
        *o.by_list_kind.entry(key.clone()).or_default() += 1;
        if let Some(c) = a.alert.cause {
            *o.causes
                .entry(key)
                .or_default()
                .entry(c.as_str().to_owned())
                .or_default() += 1;
        }
    }
    for l in &rules.lists {
        let listed = state
            .entities
            .values()
            .filter(|e| e.is_listed_on(&l.id))
            .count();
        let proposed = state
            .entities
            .values()
            .filter(|e| e.entries_on(&l.id, Status::Proposed).next().is_some())
            .count();
        o.listed.insert(l.id.clone(), (listed, proposed));
    }
    o
}

/// Kafka mode of `tidewatch run`: the engine evaluated the lists as the
/// records arrived and kept its alert log in the checkpoint directory.
/// Writes that log to `out/alerts.ndjson` and the list state to
/// `out/lists-state.json` (for `tidewatch lists`), and reports the alerts
/// logged after sequence number `since` (this run's).
pub fn from_engine(
    out: &Path,
    rules: &Rules,
    state: &ListState,
    alert_log: &Path,
    since: u64,
) -> anyhow::Result<Outcome> {
    let all = read_log(alert_log)?;
    std::fs::copy(alert_log, out.join(ALERTS_FILE)).with_context(|| {
        format!(
            "copying {} to {}",
            alert_log.display(),
            out.join(ALERTS_FILE).display()
        )
    })?;
    save_state(&out.join(STATE_FILE), state)?;
    let new: Vec<LoggedAlert> = all.into_iter().filter(|a| a.seq > since).collect();
    Ok(outcome(rules, state, &new))
}

impl Outcome {
    /// The run's lines on lists and alerts.
    pub fn print(&self, out: &Path) {
        if let Some(s) = &self.skipped {
            println!("  lists: {s}");
            return;
        }
        println!(
            "  lists and alerts (rules {}): {} new alert(s){}",
            self.rules_version,
            self.new_alerts,
            self.seq_range
                .map(|(a, b)| format!(", log sequence {a}-{b}"))
                .unwrap_or_default()
        );
        let mut lists: Vec<String> = self.listed.keys().cloned().collect();
        lists.push("-".into());
        for l in &lists {
            let cells: Vec<String> = AlertKind::ALL
                .iter()
                .filter_map(|k| {
                    let key = (l.clone(), *k);
                    let n = self.by_list_kind.get(&key).copied().unwrap_or(0);
                    if l == "-" && *k != AlertKind::Warning {
                        return None;
                    }
                    let causes = self
                        .causes
                        .get(&key)
                        .map(|c| {
                            c.iter()
                                .map(|(c, n)| format!("{c} {n}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .filter(|s| !s.is_empty())
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default();
                    Some(format!("{k} {n}{causes}"))
                })
                .collect();
            let name = if l == "-" { "(no list)" } else { l.as_str() };
            println!("    {name:<10} {}", cells.join("  "));
        }
        let now: Vec<String> = self
            .listed
            .iter()
            .map(|(l, (listed, proposed))| format!("{l} {listed} listed, {proposed} proposed"))
            .collect();
        println!("    on the lists at the as-of date: {}", now.join("; "));
        println!(
            "  wrote {}/{ALERTS_FILE} (appended), {STATE_FILE}",
            out.display()
        );
    }
}

// ---- tidewatch lists ----

#[derive(Debug, Args)]
pub struct ListsArgs {
    /// The output directory of `tidewatch run`.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Directory with lists.toml, for the lists' names.
    #[arg(long, default_value = "pipelines")]
    pipelines: PathBuf,
    /// Only this list (serious, quality, abnormal).
    #[arg(long)]
    list: Option<String>,
    /// Only this entity, with its whole history on the lists.
    #[arg(long)]
    uscc: Option<String>,
    /// Include ended entries (removed, withdrawn).
    #[arg(long)]
    all: bool,
}

pub fn run(a: ListsArgs) -> anyhow::Result<ExitCode> {
    let path = a.out.join(STATE_FILE);
    let Some(state) = load_state(&path)? else {
        bail!(
            "no {} yet: run `tidewatch run --out {}` first",
            path.display(),
            a.out.display()
        );
    };
    let rules = Rules::load(&a.pipelines.join(RULES_FILE)).ok();
    let name_of = |id: &str| {
        rules
            .as_ref()
            .and_then(|r| r.list(id))
            .map_or(String::new(), |l| l.name.clone())
    };
    let mut lists: Vec<String> = state
        .entities
        .values()
        .flat_map(|e| e.entries.iter().map(|x| x.list.clone()))
        .collect();
    if let Some(r) = &rules {
        lists.extend(r.lists.iter().map(|l| l.id.clone()));
    }
    lists.sort();
    lists.dedup();
    if let Some(l) = &a.list {
        if !lists.contains(l) {
            bail!("no list {l:?} (lists: {})", lists.join(", "));
        }
        lists.retain(|x| x == l);
    }
    let show_all = a.all || a.uscc.is_some();
    // Built whole, then written once: a closed pipe (| head) is not an error.
    let mut o = String::new();
    let _ = writeln!(
        o,
        "lists as of {} ({})",
        state.as_of.map_or("-".into(), |d| d.to_string()),
        path.display()
    );
    for l in &lists {
        let mut rows: Vec<(&tidewatch_alerts::EntityLists, &tidewatch_alerts::Entry)> = state
            .entities
            .values()
            .map(|e| &**e)
            .filter(|e| a.uscc.as_deref().is_none_or(|u| e.entity.uscc == u))
            .flat_map(|e| e.entries.iter().map(move |x| (e, x)))
            .filter(|(_, x)| &x.list == l && (show_all || x.status.is_active()))
            .collect();
        rows.sort_by(|x, y| {
            (
                x.1.status,
                x.1.listed_on.or(x.1.proposed_on),
                &x.0.entity.uscc,
            )
                .cmp(&(
                    y.1.status,
                    y.1.listed_on.or(y.1.proposed_on),
                    &y.0.entity.uscc,
                ))
        });
        if a.uscc.is_some() && rows.is_empty() {
            continue;
        }
        let count = |st: Status| {
            let mut u: Vec<&str> = rows
                .iter()
                .filter(|(_, x)| x.status == st)
                .map(|(e, _)| e.entity.uscc.as_str())
                .collect();
            let n = u.len();
            u.sort_unstable();
            u.dedup();
            (u.len(), n)
        };
        let (listed, listings) = count(Status::Listed);
        let (proposed, proposals) = count(Status::Proposed);
        o.push('\n');
        let _ = writeln!(o,
            "{l} {}: {listed} entities listed ({listings} listings), {proposed} proposed ({proposals} proposals)",
            name_of(l)
        );
        for (e, x) in rows {
            let dates = match x.status {
                Status::Listed => format!(
                    "since {}{}{}",
                    x.listed_on.map_or("-".into(), |d| d.to_string()),
                    x.expires_on
                        .map(|d| format!(" until {d}"))
                        .unwrap_or_default(),
                    x.repair_from
                        .map(|d| format!(", repair from {d}"))
                        .unwrap_or_default()
                ),
                Status::Proposed => format!(
                    "proposed {}",
                    x.proposed_on.map_or("-".into(), |d| d.to_string())
                ),
                Status::Removed | Status::Withdrawn => format!(
                    "{} {} ({})",
                    x.status.as_str(),
                    x.ended_on.map_or("-".into(), |d| d.to_string()),
                    x.end_cause.map_or("-", |c| c.as_str())
                ),
            };
            let _ = writeln!(
                o,
                "  {} {} [{}] {:<9} {dates}",
                e.entity.uscc,
                e.entity.name,
                e.entity.region,
                x.status.as_str()
            );
            let _ = writeln!(
                o,
                "      rule {} ({}): {}",
                x.rule,
                x.mode.as_str(),
                x.reason
            );
            let mut basis: Vec<String> = x.triggers.clone();
            if let Some(d) = &x.decision {
                basis.push(format!("decision {d}"));
            }
            if let Some(au) = &x.authority {
                basis.push(au.clone());
            }
            if !basis.is_empty() {
                let _ = writeln!(o, "      events: {}", basis.join(", "));
            }
        }
    }
    match std::io::stdout().lock().write_all(o.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

// ---- tidewatch alerts ----

#[derive(Debug, Args)]
pub struct AlertsArgs {
    #[command(subcommand)]
    command: AlertsCommand,
}

#[derive(Debug, Subcommand)]
enum AlertsCommand {
    /// POST out/alerts.ndjson to the webhook targets (resumable: what a
    /// receiver acknowledged is never sent to it again).
    Deliver(DeliverArgs),
    /// Print the alerts after a log sequence number, as NDJSON.
    Since(SinceArgs),
}

#[derive(Debug, Args)]
struct DeliverArgs {
    /// A TOML file of [[webhooks]] targets.
    #[arg(long)]
    webhooks: PathBuf,
    /// The output directory holding alerts.ndjson.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Delivery state (acknowledgements, dead letters); default OUT/webhooks.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Longest time to keep retrying before exiting; what is left stays
    /// parked for the next run.
    #[arg(long, default_value_t = 60)]
    wait_secs: u64,
}

#[derive(Debug, Args)]
struct SinceArgs {
    /// The last sequence number the receiver has (0 for everything).
    seq: u64,
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    #[arg(long, default_value = "out")]
    out: PathBuf,
}

pub fn alerts(a: AlertsArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        AlertsCommand::Deliver(d) => deliver(d),
        AlertsCommand::Since(s) => {
            let path = s.out.join(ALERTS_FILE);
            let mut stdout = std::io::stdout().lock();
            for a in alerts_since(&path, s.seq, s.limit)? {
                serde_json::to_writer(&mut stdout, &a)?;
                stdout.write_all(b"\n")?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn deliver(a: DeliverArgs) -> anyhow::Result<ExitCode> {
    let targets = load_targets(&a.webhooks)?;
    let log_path = a.out.join(ALERTS_FILE);
    let alerts = read_log(&log_path)?;
    let state = a.state.unwrap_or_else(|| a.out.join("webhooks"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let stats = rt.block_on(async {
        let d = Deliverer::start(&targets, &state)?;
        for x in &alerts {
            d.submit_alert(x)?;
        }
        let done = d.drain(Duration::from_secs(a.wait_secs)).await;
        let stats = d.stats();
        d.shutdown().await;
        anyhow::Ok((done, stats))
    })?;
    let (done, stats) = stats;
    println!(
        "alerts deliver: {} alert(s) in {}",
        alerts.len(),
        log_path.display()
    );
    for s in &stats {
        println!(
            "  {:<20} delivered {}  already acknowledged {}  parked {}  attempts {} (failed {}){}",
            s.name,
            s.delivered,
            s.already_acked,
            s.parked,
            s.attempts,
            s.failures,
            s.last_error
                .as_ref()
                .filter(|_| s.parked > 0)
                .map(|e| format!("  last error: {e}"))
                .unwrap_or_default()
        );
    }
    if done {
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "  parked alerts are kept in {} and retried by the next `tidewatch alerts deliver`",
            state.display()
        );
        Ok(ExitCode::from(1))
    }
}
