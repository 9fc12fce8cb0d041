//! The HTTP API and /metrics beside the continuous engine: the engine's
//! published score records feed an in-memory view the API reads.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use serde_json::Value;
use tidewatch_engine::records::ScoreRecord;
use tidewatch_metrics::Metrics;
use tidewatch_model::{Class, Domain, RegionCode, Uscc};
use tidewatch_server::memory::{MemoryAlerts, MemoryEngine};
use tidewatch_server::view::{DrawService, EntityScores, FieldScore, Readiness};
use tidewatch_server::{router, AppState, AuditLog, ServerConfig, Services};

use super::serve_draws::LiveScores;

/// One score record (the `scores` topic's JSON) as the API shows it; `None`
/// when it lacks what the API needs.
pub fn entity_scores(payload: &str, fields: &[Domain]) -> Option<EntityScores> {
    let v: Value = serde_json::from_str(payload).ok()?;
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    let mut out = Vec::new();
    for d in fields {
        let f = d.as_str();
        let Some(risk) = v.get(format!("{f}_risk_score")).and_then(Value::as_u64) else {
            continue; // not in the field
        };
        let class = |k: String| s(&k).and_then(|c| Class::parse(c).ok());
        let (Some(model_class), Some(class)) = (
            class(format!("{f}_model_class")),
            class(format!("{f}_class")),
        ) else {
            continue;
        };
        out.push(FieldScore {
            field: *d,
            risk_score: u32::try_from(risk).unwrap_or(u32::MAX),
            model_class,
            class,
            reasons: s(&format!("{f}_reasons"))
                .unwrap_or("")
                .split('；')
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
            model_version: s(&format!("{f}_model_version")).unwrap_or("").to_owned(),
        });
    }
    Some(EntityScores {
        uscc: Uscc::from_str(s("uscc")?).ok()?,
        name: s("name")?.to_owned(),
        region: RegionCode::parse(s("region_code")?).ok()?,
        zone: s("zone").map(str::to_owned),
        industry: s("industry_code")?.to_owned(),
        as_of: s("as_of")?.to_owned(),
        fields: out,
        override_applied: s("override").map(str::to_owned),
        lists: Vec::new(),
    })
}

/// The view the API reads, kept current from published score records.
pub struct LiveView {
    pub engine: Arc<MemoryEngine>,
    fields: Vec<Domain>,
    metrics: Metrics,
    /// Each entity's (field, region, class), to move it between counts.
    classes: BTreeMap<Uscc, Vec<(Domain, RegionCode, Class)>>,
    /// (field, region, class) → entities: the class gauges.
    counts: BTreeMap<(&'static str, String, Class), u64>,
    /// Each entity's listings (kept by the alert side), attached to its
    /// scores.
    pub listed: Option<super::serve_alerts::Listed>,
    /// Every entity's current score record: the draws' population.
    pub scores: Arc<LiveScores>,
}

impl LiveView {
    pub fn new(as_of: &str, fields: Vec<Domain>, metrics: Metrics) -> LiveView {
        let engine = Arc::new(MemoryEngine::new(as_of));
        engine.set_readiness(Readiness {
            state_restored: false,
            consumer_lag: None,
        });
        LiveView {
            engine,
            fields,
            metrics,
            classes: BTreeMap::new(),
            counts: BTreeMap::new(),
            listed: None,
            scores: LiveScores::new(),
        }
    }

    /// Takes a batch of published records.
    pub fn publish(&mut self, records: &[ScoreRecord]) {
        let listed = self
            .listed
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|p| p.into_inner()));
        self.scores.update(records);
        for r in records {
            let Some(mut e) = entity_scores(&r.payload, &self.fields) else {
                tracing::warn!("a score record the API cannot read");
                continue;
            };
            let now: Vec<_> = e
                .fields
                .iter()
                .map(|f| (f.field, e.region, f.class))
                .collect();
            for (d, region, c) in &now {
                *self
                    .counts
                    .entry((d.as_str(), region.to_string(), *c))
                    .or_default() += 1;
            }
            if let Some(before) = self.classes.insert(e.uscc, now) {
                for (d, region, c) in before {
                    if let Some(n) = self.counts.get_mut(&(d.as_str(), region.to_string(), c)) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
            if let Some(l) = listed.as_ref().and_then(|m| m.get(&e.uscc)) {
                e.lists = l.clone();
            }
            self.engine.upsert_entity(e);
        }
        drop(listed);
        self.counts.retain(|_, n| *n > 0);
        self.metrics.set_class_distribution(
            self.counts
                .iter()
                .map(|((f, r, c), n)| (*f, r.as_str(), *c, *n)),
        );
        self.engine.set_readiness(Readiness {
            state_restored: true,
            consumer_lag: Some(u64::try_from(self.metrics.max_consumer_lag()).unwrap_or(0)),
        });
    }
}

/// Starts the API on its own runtime thread; returns the address bound.
pub fn start(
    server: Option<&toml::Value>,
    listen: Option<SocketAddr>,
    engine: Arc<MemoryEngine>,
    draws: Arc<dyn DrawService>,
    alerts: Arc<MemoryAlerts>,
    metrics: Metrics,
) -> anyhow::Result<(SocketAddr, Arc<AuditLog>)> {
    let mut cfg: ServerConfig = match server {
        Some(v) => v
            .clone()
            .try_into()
            .context("the [server] section of the config")?,
        None => ServerConfig::default(),
    };
    if let Some(l) = listen {
        cfg.listen = l;
    }
    cfg.validate()
        .map_err(|e| anyhow::anyhow!("[server]: {e}"))?;
    let tokens = cfg
        .resolve_tokens(|k| std::env::var(k).ok())
        .map_err(|e| anyhow::anyhow!("[server] tokens: {e}"))?;
    let audit =
        Arc::new(AuditLog::open(&cfg.audit_log).map_err(|e| {
            anyhow::anyhow!("opening the audit log {}: {e}", cfg.audit_log.display())
        })?);
    let state = AppState::new(
        &cfg,
        tokens,
        Services {
            engine,
            draws,
            alerts,
            metrics,
            audit: audit.clone(),
        },
    );
    let app = router(state);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the HTTP runtime")?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(cfg.listen))
        .with_context(|| format!("listening on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name("http".into())
        .spawn(move || {
            if let Err(e) = rt.block_on(tidewatch_server::serve(listener, app)) {
                tracing::error!("HTTP API stopped: {e}");
            }
        })
        .context("starting the HTTP thread")?;
    Ok((addr, audit))
}
