//! `tidewatch serve`: the continuous engine on Kafka. Consumes the three
//! feeds, publishes changed scores, checkpoints; stops cleanly (final
//! checkpoint) on SIGINT or SIGTERM.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use tidewatch_kafka::runner::Runner;
use tracing::info;

use super::kafka::KafkaArgs;
use super::run::load_policy;
use super::serve_alerts::AlertSide;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    kafka: KafkaArgs,
    /// Score at a fixed as-of date instead of following the calendar.
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Directory with policy.toml and the models it names (default: the
    /// config's `engine.pipelines`).
    #[arg(long)]
    pipelines: Option<std::path::PathBuf>,
    /// Address of the HTTP API and /metrics (default: the config's
    /// `[server] listen`, else 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Holds officers.ndjson (the draws' roster) and inspections.ndjson
    /// (their inspection history); draws go to <engine.out>/draws/.
    #[arg(long, default_value = "seeds")]
    seeds: std::path::PathBuf,
    /// A TOML file of `[[webhooks]]` targets to deliver alerts to (default:
    /// the config's own `[[webhooks]]` tables, if any).
    #[arg(long)]
    webhooks: Option<std::path::PathBuf>,
    /// Join the consumer group as one of several engines: hold only the
    /// partitions the group gives this process (same as `engine.group`).
    #[arg(long)]
    group: bool,
}

/// The webhook targets: the flag's file, else the config's tables.
fn webhook_targets(
    flag: Option<&std::path::Path>,
    cfg: &tidewatch_kafka::config::Config,
) -> anyhow::Result<Vec<tidewatch_webhook::WebhookTarget>> {
    if let Some(path) = flag {
        return Ok(tidewatch_webhook::load_targets(path)?);
    }
    let Some(v) = &cfg.webhooks else {
        return Ok(Vec::new());
    };
    let mut t = toml::Table::new();
    t.insert("webhooks".into(), v.clone());
    let text = toml::to_string(&t).context("the config's [[webhooks]] tables")?;
    Ok(tidewatch_webhook::parse_targets(
        &text,
        "[[webhooks]] in the config",
    )?)
}

/// Sets `stop` on SIGINT or SIGTERM.
fn on_signal(stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal listener")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            rt.block_on(async {
                let mut term =
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(t) => t,
                        Err(_) => return,
                    };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                stop.store(true, Ordering::Relaxed);
            })
        })
        .context("starting the signal listener")?;
    Ok(())
}

pub fn run(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = a.kafka.config(a.as_of)?;
    if let Some(p) = a.pipelines {
        cfg.engine.pipelines = p;
    }
    cfg.engine.group |= a.group;
    let policy = load_policy(&cfg.engine.pipelines)?;
    let stop = Arc::new(AtomicBool::new(false));
    on_signal(stop.clone())?;
    let targets = webhook_targets(a.webhooks.as_deref(), &cfg)?;
    let metrics = tidewatch_metrics::Metrics::new();
    metrics.set_model_versions(policy.versions().iter().map(|(f, v)| (*f, v.as_str())));
    let fields: Vec<_> = policy.fields.iter().map(|f| f.domain).collect();
    let mut view = super::serve_api::LiveView::new(
        &cfg.engine.as_of_now().to_string(),
        fields,
        metrics.clone(),
    );
    let history = Arc::new(tidewatch_server::memory::MemoryAlerts::new());
    let draws = super::serve_draws::ServeDraws::new(
        cfg.engine.out.clone(),
        a.seeds,
        cfg.engine.pipelines.clone(),
        Some(cfg.clone()),
        view.scores.clone(),
        view.engine.clone(),
    );
    let (addr, audit) = super::serve_api::start(
        cfg.server.as_ref(),
        a.listen,
        view.engine.clone(),
        Arc::new(draws),
        history.clone(),
        metrics.clone(),
    )?;
    eprintln!("tidewatch serve: HTTP API and /metrics on http://{addr}");
    let webhook_state = cfg.engine.checkpoint_dir.join("webhooks");
    let mut runner = Runner::open(cfg, policy)?;
    info!(restored = runner.stats.restored_records, "engine started");
    let mut alerts = AlertSide::new(history, view.engine.clone(), audit, metrics.clone());
    if let (Some(l), Some((log, _))) = (runner.lists(), runner.alert_log()) {
        let lists: Vec<String> = l.rules().lists.iter().map(|d| d.id.clone()).collect();
        alerts.start(&lists, &log, l.state(), &targets, &webhook_state)?;
        view.listed = Some(alerts.listed());
    } else if !targets.is_empty() {
        tracing::warn!(
            "webhook targets are configured but there are no list rules: nothing to deliver"
        );
    }
    // What the checkpoint restored is the API's starting view.
    let current = runner.engine.all_records()?;
    view.publish(&current);
    runner.metrics = Some(metrics);
    let alerts = Arc::new(alerts);
    let side = alerts.clone();
    runner.on_scores = Some(Box::new(move |recs| {
        view.publish(recs);
        if recs.is_empty() {
            // After a checkpoint.
            side.sync_metrics();
        }
    }));
    let side = alerts.clone();
    runner.on_alerts = Some(Box::new(move |logged, state| side.on_alerts(logged, state)));
    eprintln!(
        "tidewatch serve: consuming {}, {}, {}; publishing {}, {} (stop with Ctrl-C or SIGTERM)",
        runner.topics().inspections,
        runner.topics().complaints,
        runner.topics().credit_records,
        runner.topics().scores,
        runner.topics().alerts
    );
    let served = runner.serve(&stop);
    let s = &runner.stats;
    eprintln!(
        "tidewatch serve: stopped after {} records, {} scores published, {} alerts, {} dead letters, {} checkpoints",
        s.consumed, s.scores_published, s.alerts_published, s.dead_letters_published, s.checkpoints
    );
    // The callbacks hold the other references.
    runner.on_alerts = None;
    runner.on_scores = None;
    if let Ok(side) = Arc::try_unwrap(alerts) {
        side.sync_metrics();
        side.shutdown(std::time::Duration::from_secs(5));
    }
    served?;
    Ok(ExitCode::SUCCESS)
}
