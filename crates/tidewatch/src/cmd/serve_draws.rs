//! The draw endpoints of `tidewatch serve`: a [`DrawService`] that does what
//! `tidewatch draw` does — the same code (`draw.rs`), the same files under
//! `<out>/draws/<plan id>/`, the same manifest — with the population taken
//! from the live engine's current score records instead of a file or a
//! topic read, and the roster, history and plan defaults from the seeds and
//! pipelines directories, as for the command.
//!
//! Operations run one at a time (they write a draw's files); the API calls
//! them on its blocking pool.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{json, Value};
use tidewatch_engine::records::ScoreRecord;
use tidewatch_kafka::Config;
use tidewatch_sampling::{DrawError, Plan, PlanError};
use tidewatch_server::error::ServiceError;
use tidewatch_server::view::{
    DrawRecord, DrawService, DrawState, DrawVerification, EngineView, ReplaceRequest, RunRequest,
};

use super::draw::{
    commit_plan, preview_plan, read_commitment, read_manifest, replace_in_plan, run_plan,
    status_of, verify_files, Dirs, DrawKafka, Drawn, ListOpts, PlanArg, Refusal, Scores,
    SHEET_ROWS,
};

/// The engine's current score record per entity (USCC → payload), kept
/// from every record the engine publishes.
#[derive(Debug, Default)]
pub struct LiveScores {
    by_uscc: RwLock<HashMap<String, String>>,
}

impl LiveScores {
    pub fn new() -> Arc<LiveScores> {
        Arc::new(LiveScores::default())
    }

    /// Takes a batch of published records (the last one per entity wins).
    pub fn update(&self, records: &[ScoreRecord]) {
        if records.is_empty() {
            return;
        }
        let mut m = self.by_uscc.write().unwrap_or_else(|e| e.into_inner());
        for r in records {
            m.insert(r.uscc.clone(), r.payload.clone());
        }
    }

    /// The records now, decoded. The engine's next batch waits while they
    /// are decoded (milliseconds for thousands of entities), so the
    /// snapshot is one consistent state.
    fn scores(&self) -> anyhow::Result<Scores> {
        let m = self.by_uscc.read().unwrap_or_else(|e| e.into_inner());
        Scores::from_payloads(
            "the live engine's scores".into(),
            m.iter().map(|(k, v)| (k.as_str(), v.as_bytes())),
        )
    }
}

/// The draw workflow over the live engine's scores.
pub struct ServeDraws {
    dirs: Dirs,
    /// Kafka mode: samples published, results read from `inspections`.
    kafka: Option<Config>,
    scores: Arc<LiveScores>,
    /// Whether the engine has restored its state (a population taken
    /// before that would be partial).
    engine: Arc<dyn EngineView>,
    one_at_a_time: Mutex<()>,
}

impl std::fmt::Debug for ServeDraws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeDraws")
            .field("dirs", &self.dirs)
            .finish_non_exhaustive()
    }
}

/// An error of the draw code as the API reports it.
fn service_error(e: anyhow::Error) -> ServiceError {
    if let Some(r) = e.downcast_ref::<Refusal>() {
        return match r {
            Refusal::Invalid(m) => ServiceError::Invalid(m.clone()),
            Refusal::Conflict(m) => ServiceError::Conflict(m.clone()),
            Refusal::NotFound(m) => ServiceError::NotFound(m.clone()),
            Refusal::Unavailable(m) => ServiceError::Unavailable(m.clone()),
        };
    }
    if e.downcast_ref::<DrawError>().is_some() || e.downcast_ref::<PlanError>().is_some() {
        return ServiceError::Invalid(e.to_string());
    }
    ServiceError::Internal(format!("{e:#}"))
}

fn file_names(d: &Drawn) -> Vec<&'static str> {
    d.files.iter().map(|f| f.0).collect()
}

impl ServeDraws {
    /// Draws go to `<out>/draws/`; the roster and history are
    /// `<seeds>/officers.ndjson` and `<seeds>/inspections.ndjson`, the plan
    /// defaults `<pipelines>/draws/defaults.toml`.
    pub fn new(
        out: PathBuf,
        seeds: PathBuf,
        pipelines: PathBuf,
        kafka: Option<Config>,
        scores: Arc<LiveScores>,
        engine: Arc<dyn EngineView>,
    ) -> ServeDraws {
        ServeDraws {
            dirs: Dirs {
                out,
                seeds,
                pipelines,
                kafka: DrawKafka::default(),
            },
            kafka,
            scores,
            engine,
            one_at_a_time: Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.one_at_a_time.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn live_scores(&self) -> Result<Scores, ServiceError> {
        if !self.engine.readiness().state_restored {
            return Err(ServiceError::Unavailable(
                "the engine has not restored its state yet: no population to draw from".into(),
            ));
        }
        self.scores.scores().map_err(service_error)
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.dirs.out.join("draws").join(id)
    }

    /// A committed plan's state and digests, from its files.
    fn record(&self, id: &str) -> anyhow::Result<DrawRecord> {
        let dir = self.dir(id);
        let c = read_commitment(&dir.join("commitment.json"))?;
        let plan_path = dir.join("plan.json");
        let text = std::fs::read_to_string(&plan_path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", plan_path.display()))?;
        let plan = Plan::from_json(&text)?;
        let mut detail = json!({
            "as_of": plan.as_of,
            "commitment_digest": c.commitment_digest,
            "roster_digest": c.roster_digest,
            "roster_officers": c.roster_officers,
            "history_digest": c.history_digest,
            "history_records": c.history_records,
            "randomness_source": c.randomness_source,
            "dir": dir.display().to_string(),
        });
        let mpath = dir.join("manifest.json");
        let mut r = DrawRecord {
            plan_id: c.plan_id.clone(),
            field: plan.field.as_str().to_string(),
            state: DrawState::Committed,
            plan_digest: c.plan_digest.clone(),
            population_digest: c.population_digest.clone(),
            population_rows: c.population_rows,
            result_digest: None,
            chosen: None,
            replacements: 0,
            detail: Value::Null,
        };
        if mpath.exists() {
            let m = read_manifest(&mpath)?;
            r.state = DrawState::Drawn;
            r.result_digest = Some(m.result_digest.clone());
            r.chosen = Some(m.chosen.len() as u64);
            r.replacements = m.replacements.len() as u64;
            detail["randomness"] = json!(m.randomness);
            detail["seed"] = json!(m.seed);
            detail["strata"] = json!(m.strata);
            detail["unstaffed"] = json!(m.unstaffed.len());
        }
        r.detail = detail;
        Ok(r)
    }

    fn record_after(&self, id: &str, d: &Drawn) -> Result<DrawRecord, ServiceError> {
        let mut r = self.record(id).map_err(service_error)?;
        r.detail["files"] = json!(file_names(d));
        if let Some((topic, n)) = &d.published {
            r.detail["published"] = json!({"topic": topic, "records": n});
        }
        Ok(r)
    }

    fn committed(&self, id: &str) -> Result<PlanArg, ServiceError> {
        PlanArg::committed(id, &self.dirs).map_err(service_error)
    }

    fn list_opts() -> ListOpts {
        ListOpts {
            date: None,
            sheet_rows: SHEET_ROWS,
        }
    }
}

impl DrawService for ServeDraws {
    fn preview(&self, plan: &Value) -> Result<Value, ServiceError> {
        let arg = PlanArg::from_json(plan).map_err(service_error)?;
        let scores = self.live_scores()?;
        let (plan, p) = preview_plan(&arg, &self.dirs, &scores).map_err(service_error)?;
        Ok(json!({
            "plan_id": plan.id,
            "field": plan.field,
            "as_of": plan.as_of,
            "plan_digest": plan.digest(),
            "plan": plan,
            "population_rows": p.population_rows,
            "total_quota": p.total_quota,
            "strata": p.strata,
            "pools": p.pools,
        }))
    }

    fn commit(&self, plan: &Value) -> Result<DrawRecord, ServiceError> {
        let arg = PlanArg::from_json(plan).map_err(service_error)?;
        let _one = self.lock();
        let scores = self.live_scores()?;
        let c = commit_plan(&arg, false, &self.dirs, &scores).map_err(service_error)?;
        let mut r = self.record(&c.commitment.plan_id).map_err(service_error)?;
        r.detail["unchanged"] = json!(c.unchanged);
        Ok(r)
    }

    fn run(&self, plan_id: &str, req: &RunRequest) -> Result<DrawRecord, ServiceError> {
        let _one = self.lock();
        let arg = self.committed(plan_id)?;
        let d = run_plan(
            &arg,
            &req.randomness,
            &Self::list_opts(),
            &self.dirs,
            self.kafka.as_ref(),
        )
        .map_err(service_error)?;
        self.record_after(plan_id, &d)
    }

    fn replace(&self, plan_id: &str, req: &ReplaceRequest) -> Result<DrawRecord, ServiceError> {
        let _one = self.lock();
        let arg = self.committed(plan_id)?;
        let d = replace_in_plan(
            &arg,
            req.uscc.as_str(),
            &req.reason,
            &Self::list_opts(),
            &self.dirs,
            self.kafka.as_ref(),
        )
        .map_err(service_error)?;
        self.record_after(plan_id, &d)
    }

    fn verify(&self, plan_id: &str) -> Result<DrawVerification, ServiceError> {
        let _one = self.lock();
        self.committed(plan_id)?;
        let mpath = self.dir(plan_id).join("manifest.json");
        if !mpath.exists() {
            return Ok(DrawVerification {
                plan_id: plan_id.to_string(),
                ok: false,
                mismatches: vec!["not drawn yet: no manifest to verify".into()],
            });
        }
        let v = verify_files(&mpath, None, None, None, None, None).map_err(service_error)?;
        Ok(DrawVerification {
            plan_id: plan_id.to_string(),
            ok: v.mismatch.is_none(),
            mismatches: v
                .mismatch
                .map(|m| m.trim_start_matches([':', ' ']).to_string())
                .into_iter()
                .collect(),
        })
    }

    fn status(&self, plan_id: &str) -> Result<DrawRecord, ServiceError> {
        self.committed(plan_id)?;
        let mut r = self.record(plan_id).map_err(service_error)?;
        if r.state == DrawState::Drawn {
            let st =
                status_of(plan_id, &self.dirs, None, self.kafka.as_ref()).map_err(service_error)?;
            let done = st.done() as u64;
            r.detail["results"] = json!({
                "source": st.source,
                "with_results": done,
                "pending": st.manifest.chosen.len() as u64 - done,
                "by_code": st.by_code(),
                "not_on_list": st.stray(),
                "unreadable_records": st.skipped,
            });
        }
        Ok(r)
    }
}
