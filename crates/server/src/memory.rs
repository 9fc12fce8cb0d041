//! In-memory implementations of the seams: entities, lists and alerts held
//! as plain values. The API tests use them; they can also serve a finished
//! run's outputs (alerts from `alerts.ndjson` via [`MemoryAlerts::from_ndjson`]).
//!
//! [`MemoryDraws`] records the draw workflow (states, digests, audit-worthy
//! transitions) without drawing: it stands in for the engine's draw service
//! so the API's routes, roles and audit entries can be tested on their own.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::{Mutex, RwLock};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tidewatch_model::Uscc;

use crate::error::ServiceError;
use crate::view::{
    distribution_of, AlertLog, AlertPage, AlertRecord, Distribution, DistributionQuery, DrawRecord,
    DrawService, DrawState, DrawVerification, EngineView, EntityScores, ListEntry, ListPage,
    ListSummary, PageRequest, Readiness, ReplaceRequest, RunRequest,
};

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// Entities and lists held in memory.
#[derive(Debug)]
pub struct MemoryEngine {
    as_of: String,
    readiness: RwLock<Readiness>,
    entities: RwLock<BTreeMap<Uscc, EntityScores>>,
    /// List name → entries ordered by USCC (the cursor is the last USCC).
    lists: RwLock<BTreeMap<String, BTreeMap<Uscc, ListEntry>>>,
}

impl MemoryEngine {
    /// An empty engine at an as-of date, restored and caught up.
    pub fn new(as_of: impl Into<String>) -> Self {
        MemoryEngine {
            as_of: as_of.into(),
            readiness: RwLock::new(Readiness {
                state_restored: true,
                consumer_lag: None,
            }),
            entities: RwLock::default(),
            lists: RwLock::default(),
        }
    }

    pub fn set_readiness(&self, r: Readiness) {
        *write(&self.readiness) = r;
    }

    pub fn upsert_entity(&self, e: EntityScores) {
        write(&self.entities).insert(e.uscc, e);
    }

    /// Declares a list (so it is listed even while empty).
    pub fn declare_list(&self, list: &str) {
        write(&self.lists).entry(list.to_string()).or_default();
    }

    pub fn add_to_list(&self, list: &str, entry: ListEntry) {
        write(&self.lists)
            .entry(list.to_string())
            .or_default()
            .insert(entry.uscc, entry);
    }

    pub fn remove_from_list(&self, list: &str, uscc: &Uscc) -> bool {
        write(&self.lists)
            .get_mut(list)
            .is_some_and(|l| l.remove(uscc).is_some())
    }
}

impl EngineView for MemoryEngine {
    fn readiness(&self) -> Readiness {
        *read(&self.readiness)
    }

    fn entity(&self, uscc: &Uscc) -> Result<Option<EntityScores>, ServiceError> {
        Ok(read(&self.entities).get(uscc).cloned())
    }

    fn distribution(&self, q: &DistributionQuery) -> Result<Distribution, ServiceError> {
        Ok(distribution_of(
            &self.as_of,
            read(&self.entities).values(),
            q,
        ))
    }

    fn lists(&self) -> Result<Vec<ListSummary>, ServiceError> {
        Ok(read(&self.lists)
            .iter()
            .map(|(k, v)| ListSummary {
                list: k.clone(),
                entities: v.len() as u64,
            })
            .collect())
    }

    fn list(&self, list: &str, page: &PageRequest) -> Result<ListPage, ServiceError> {
        let lists = read(&self.lists);
        let entries = lists
            .get(list)
            .ok_or_else(|| ServiceError::NotFound(format!("no list named {list:?}")))?;
        let start = match &page.cursor {
            None => None,
            Some(c) => Some(
                Uscc::parse(c)
                    .map_err(|_| ServiceError::Invalid(format!("cursor {c:?} is not valid")))?,
            ),
        };
        let mut iter: Box<dyn Iterator<Item = &ListEntry>> = match start {
            None => Box::new(entries.values()),
            Some(u) => Box::new(
                entries
                    .range((std::ops::Bound::Excluded(u), std::ops::Bound::Unbounded))
                    .map(|(_, v)| v),
            ),
        };
        let items: Vec<ListEntry> = iter.by_ref().take(page.limit).cloned().collect();
        let more = iter.next().is_some();
        Ok(ListPage {
            list: list.to_string(),
            total: entries.len() as u64,
            next_cursor: if more {
                items.last().map(|e| e.uscc.as_str().to_string())
            } else {
                None
            },
            items,
        })
    }
}

/// Alerts in memory, numbered from 1 in the order they were pushed.
#[derive(Debug, Default)]
pub struct MemoryAlerts {
    alerts: RwLock<Vec<Value>>,
}

impl MemoryAlerts {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an alert; returns its sequence number.
    pub fn push(&self, alert: Value) -> u64 {
        let mut a = write(&self.alerts);
        a.push(alert);
        a.len() as u64
    }

    /// Loads alerts from NDJSON (one alert per line, as `alerts.ndjson` is
    /// written); blank lines are skipped, a bad line is an error naming it.
    pub fn from_ndjson(r: impl BufRead) -> Result<Self, String> {
        let out = MemoryAlerts::new();
        for (i, line) in r.lines().enumerate() {
            let line = line.map_err(|e| format!("line {}: {e}", i + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            let v: Value =
                serde_json::from_str(&line).map_err(|e| format!("line {}: {e}", i + 1))?;
            out.push(v);
        }
        Ok(out)
    }
}

impl AlertLog for MemoryAlerts {
    fn after(&self, after: u64, limit: usize) -> Result<AlertPage, ServiceError> {
        let a = read(&self.alerts);
        let start = usize::try_from(after).unwrap_or(usize::MAX).min(a.len());
        let items = a[start..]
            .iter()
            .take(limit)
            .enumerate()
            .map(|(i, v)| AlertRecord {
                seq: (start + i + 1) as u64,
                alert: v.clone(),
            })
            .collect();
        Ok(AlertPage {
            items,
            last_seq: a.len() as u64,
        })
    }
}

/// Records draws through their states without drawing anything (see the
/// module note). Digests are SHA-256 over the plan's JSON and the given
/// population size, so they are stable for a given plan.
#[derive(Debug)]
pub struct MemoryDraws {
    population_rows: u64,
    draws: Mutex<BTreeMap<String, DrawRecord>>,
}

impl MemoryDraws {
    pub fn new(population_rows: u64) -> Self {
        MemoryDraws {
            population_rows,
            draws: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, DrawRecord>> {
        self.draws.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn plan_parts(plan: &Value) -> Result<(String, String), ServiceError> {
        let id = plan
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ServiceError::Invalid("plan needs a non-empty string `id`".into()))?;
        let field = plan
            .get("field")
            .and_then(Value::as_str)
            .ok_or_else(|| ServiceError::Invalid("plan needs a string `field`".into()))?;
        if tidewatch_model::Domain::from_code(field).is_none() {
            return Err(ServiceError::Invalid(format!("unknown field {field:?}")));
        }
        Ok((id.to_string(), field.to_string()))
    }
}

fn hex_sha(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
}

impl DrawService for MemoryDraws {
    fn preview(&self, plan: &Value) -> Result<Value, ServiceError> {
        let (id, field) = Self::plan_parts(plan)?;
        Ok(json!({
            "plan_id": id,
            "field": field,
            "population_rows": self.population_rows,
            "plan_digest": hex_sha(&[plan.to_string().as_bytes()]),
        }))
    }

    fn commit(&self, plan: &Value) -> Result<DrawRecord, ServiceError> {
        let (id, field) = Self::plan_parts(plan)?;
        let mut d = self.lock();
        if d.contains_key(&id) {
            return Err(ServiceError::Conflict(format!(
                "draw {id:?} already exists"
            )));
        }
        let r = DrawRecord {
            plan_id: id.clone(),
            field,
            state: DrawState::Committed,
            plan_digest: hex_sha(&[plan.to_string().as_bytes()]),
            population_digest: hex_sha(&[&self.population_rows.to_le_bytes()]),
            population_rows: self.population_rows,
            result_digest: None,
            chosen: None,
            replacements: 0,
            detail: Value::Null,
        };
        d.insert(id, r.clone());
        Ok(r)
    }

    fn run(&self, plan_id: &str, req: &RunRequest) -> Result<DrawRecord, ServiceError> {
        if req.randomness.trim().is_empty() {
            return Err(ServiceError::Invalid("randomness must not be empty".into()));
        }
        let mut d = self.lock();
        let r = d
            .get_mut(plan_id)
            .ok_or_else(|| ServiceError::NotFound(format!("no draw {plan_id:?}")))?;
        if r.state == DrawState::Drawn {
            return Err(ServiceError::Conflict(format!(
                "draw {plan_id:?} was already run"
            )));
        }
        r.state = DrawState::Drawn;
        r.result_digest = Some(hex_sha(&[
            r.plan_digest.as_bytes(),
            r.population_digest.as_bytes(),
            req.randomness.as_bytes(),
        ]));
        r.chosen = Some(self.population_rows.min(10));
        Ok(r.clone())
    }

    fn replace(&self, plan_id: &str, req: &ReplaceRequest) -> Result<DrawRecord, ServiceError> {
        let mut d = self.lock();
        let r = d
            .get_mut(plan_id)
            .ok_or_else(|| ServiceError::NotFound(format!("no draw {plan_id:?}")))?;
        if r.state != DrawState::Drawn {
            return Err(ServiceError::Conflict(format!(
                "draw {plan_id:?} has not been run; nothing to replace"
            )));
        }
        r.replacements += 1;
        r.detail = json!({"last_replaced": req.uscc, "reason": req.reason});
        Ok(r.clone())
    }

    fn verify(&self, plan_id: &str) -> Result<DrawVerification, ServiceError> {
        let d = self.lock();
        let r = d
            .get(plan_id)
            .ok_or_else(|| ServiceError::NotFound(format!("no draw {plan_id:?}")))?;
        Ok(DrawVerification {
            plan_id: plan_id.to_string(),
            ok: r.state == DrawState::Drawn,
            mismatches: if r.state == DrawState::Drawn {
                Vec::new()
            } else {
                vec!["not drawn yet: no manifest to verify".into()]
            },
        })
    }

    fn status(&self, plan_id: &str) -> Result<DrawRecord, ServiceError> {
        self.lock()
            .get(plan_id)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound(format!("no draw {plan_id:?}")))
    }
}
