//! What `tidewatch serve` does with the alerts its engine logs: the HTTP
//! alert history (catch-up from a sequence number), list contents and
//! memberships in the API's view, an audit entry per list change, and
//! webhook delivery.
//!
//! The engine's alert log (in the checkpoint directory) is the source of
//! truth; everything here can be rebuilt from it at start: the API's
//! history is loaded from it, audit entries missing for logged list changes
//! (a stop between the two writes) are added, and every logged alert is
//! offered to the webhook targets again, which skip what their receiver
//! acknowledged before.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;
use tidewatch_alerts::{AlertKind, Cause, EntityLists, ListState, LoggedAlert, Status};
use tidewatch_metrics::Metrics;
use tidewatch_model::{RegionCode, Uscc};
use tidewatch_server::audit::{action, read_after};
use tidewatch_server::memory::{MemoryAlerts, MemoryEngine};
use tidewatch_server::view::{ListEntry, ListMembership};
use tidewatch_server::{AuditLog, AuditRecord, EngineView};
use tidewatch_webhook::{Deliverer, WebhookTarget};

/// The audit action for a list change, `None` for warnings.
fn audit_action(a: &LoggedAlert) -> Option<&'static str> {
    Some(match a.alert.kind {
        AlertKind::Proposed => action::LIST_PROPOSE,
        AlertKind::Listed => action::LIST_ADD,
        AlertKind::Removed if a.alert.cause == Some(Cause::Expired) => action::LIST_EXPIRE,
        AlertKind::Removed => action::LIST_REMOVE,
        AlertKind::Withdrawn => action::LIST_WITHDRAW,
        AlertKind::Warning => return None,
    })
}

fn audit_record(a: &LoggedAlert) -> Option<AuditRecord> {
    let act = audit_action(a)?;
    let x = &a.alert;
    Some(AuditRecord {
        actor: "engine".into(),
        action: act.into(),
        subject: format!("{}/{}", x.list.as_deref().unwrap_or("-"), x.entity.uscc),
        detail: json!({
            "alert_id": x.id,
            "alert_seq": a.seq,
            "rule": x.rule,
            "rule_version": x.rule_version,
            "mode": x.mode,
            "cause": x.cause,
            "triggers": x.triggers,
            "effective_on": x.effective_on,
            "expires_on": x.expires_on,
            "authority": x.authority,
        }),
    })
}

/// An entity's listings as the API shows them.
fn memberships(e: &EntityLists) -> Vec<(ListMembership, ListEntry)> {
    let (Ok(uscc), Ok(region)) = (
        Uscc::parse(&e.entity.uscc),
        RegionCode::parse(&e.entity.region),
    ) else {
        return Vec::new();
    };
    e.entries
        .iter()
        .filter(|x| x.status == Status::Listed)
        .map(|x| {
            let since = x.listed_on.map(|d| d.to_string()).unwrap_or_default();
            let until = x.expires_on.map(|d| d.to_string());
            (
                ListMembership {
                    list: x.list.clone(),
                    since: since.clone(),
                    until: until.clone(),
                    decision: x.decision.clone(),
                },
                ListEntry {
                    uscc,
                    name: e.entity.name.clone(),
                    region,
                    since,
                    until,
                    reason: Some(x.reason.clone()),
                    decision: x.decision.clone(),
                },
            )
        })
        .collect()
}

/// Each entity's listings, shared between the alert side and the view.
pub type Listed = Arc<Mutex<BTreeMap<Uscc, Vec<ListMembership>>>>;

/// The alert side of `serve`.
pub struct AlertSide {
    pub history: Arc<MemoryAlerts>,
    engine: Arc<MemoryEngine>,
    audit: Arc<AuditLog>,
    metrics: Metrics,
    /// Each entity's listings now, as the view holds them.
    listed: Listed,
    webhooks: Option<(tokio::runtime::Runtime, Deliverer)>,
}

impl AlertSide {
    pub fn new(
        history: Arc<MemoryAlerts>,
        engine: Arc<MemoryEngine>,
        audit: Arc<AuditLog>,
        metrics: Metrics,
    ) -> AlertSide {
        AlertSide {
            history,
            engine,
            audit,
            metrics,
            listed: Arc::default(),
            webhooks: None,
        }
    }

    /// Each entity's listings, for the score view to attach.
    pub fn listed(&self) -> Listed {
        self.listed.clone()
    }

    /// Starts from the engine's alert log and list state: loads the
    /// history, adds missing audit entries, starts webhook delivery.
    pub fn start(
        &mut self,
        lists: &[String],
        log: &Path,
        state: &ListState,
        targets: &[WebhookTarget],
        webhook_state: &Path,
    ) -> anyhow::Result<()> {
        for l in lists {
            self.engine.declare_list(l);
        }
        let all = tidewatch_webhook::read_log(log)?;
        for a in &all {
            let seq = self.history.push(serde_json::to_value(a)?);
            anyhow::ensure!(
                seq == a.seq,
                "{}: alert {} has sequence {} at position {seq}",
                log.display(),
                a.alert.id,
                a.seq
            );
        }
        // Audit entries for logged list changes that have none.
        let audited: HashSet<String> = read_after(self.audit.path(), 0, usize::MAX)
            .map_err(|e| anyhow::anyhow!("reading the audit log: {e}"))?
            .into_iter()
            .filter(|e| e.actor == "engine")
            .filter_map(|e| e.detail.get("alert_id")?.as_str().map(str::to_owned))
            .collect();
        let missing: Vec<AuditRecord> = all
            .iter()
            .filter(|a| !audited.contains(&a.alert.id))
            .filter_map(audit_record)
            .collect();
        if !missing.is_empty() {
            tracing::info!(
                entries = missing.len(),
                "audit entries for list changes logged before the last stop"
            );
            self.append_audit(missing)?;
        }
        self.refresh(state.entities.keys().map(String::as_str), state);
        if !targets.is_empty() {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("webhooks")
                .enable_all()
                .build()
                .context("starting the webhook runtime")?;
            let m = self.metrics.clone();
            let observer: tidewatch_webhook::Observer = Arc::new(move |a| {
                if a.parked {
                    m.alert_parked(a.target);
                } else {
                    m.delivery_attempt(a.kind, a.target, a.retry, a.ok, a.took);
                }
            });
            let d = {
                let _in = rt.enter();
                Deliverer::start_observed(targets, webhook_state, Some(observer))?
            };
            for a in &all {
                d.submit_alert(a)?;
            }
            self.webhooks = Some((rt, d));
        }
        Ok(())
    }

    fn append_audit(&self, records: Vec<AuditRecord>) -> anyhow::Result<()> {
        let done = self
            .audit
            .append_all(records)
            .map_err(|e| anyhow::anyhow!("writing list changes to the audit log: {e}"))?;
        if let Some(last) = done.last() {
            self.metrics
                .audit_entries
                .set(i64::try_from(last.seq).unwrap_or(i64::MAX));
        }
        Ok(())
    }

    /// Puts the listings of `usccs` in the view as the state has them.
    fn refresh<'a>(&self, usccs: impl Iterator<Item = &'a str>, state: &ListState) {
        let mut listed = self.listed.lock().unwrap_or_else(|p| p.into_inner());
        for u in usccs {
            let Ok(uscc) = Uscc::parse(u) else { continue };
            let now = state.entity(u).map(memberships).unwrap_or_default();
            for l in listed.get(&uscc).into_iter().flatten() {
                self.engine.remove_from_list(&l.list, &uscc);
            }
            // One row per entity and list: the first listing shows.
            let mut shown: Vec<ListMembership> = Vec::new();
            for (m, entry) in now {
                if !shown.iter().any(|s| s.list == m.list) {
                    self.engine.add_to_list(&m.list, entry);
                }
                shown.push(m);
            }
            if let Ok(Some(mut e)) = self.engine.entity(&uscc) {
                if e.lists != shown {
                    e.lists = shown.clone();
                    self.engine.upsert_entity(e);
                }
            }
            if shown.is_empty() {
                listed.remove(&uscc);
            } else {
                listed.insert(uscc, shown);
            }
        }
    }

    /// A batch of newly logged alerts, with the list state after them.
    pub fn on_alerts(&self, logged: &[LoggedAlert], state: &ListState) {
        for a in logged {
            match serde_json::to_value(a) {
                Ok(v) => {
                    let seq = self.history.push(v);
                    if seq != a.seq {
                        tracing::error!(
                            seq,
                            logged = a.seq,
                            "alert history out of step with the log"
                        );
                    }
                }
                Err(e) => tracing::error!("an alert the API cannot hold: {e}"),
            }
        }
        let records: Vec<AuditRecord> = logged.iter().filter_map(audit_record).collect();
        if !records.is_empty() {
            // The alert log holds the change; a missing entry is added at
            // the next start.
            if let Err(e) = self.append_audit(records) {
                tracing::error!("{e:#}");
            }
        }
        let mut touched: Vec<&str> = logged
            .iter()
            .map(|a| a.alert.entity.uscc.as_str())
            .collect();
        touched.sort_unstable();
        touched.dedup();
        self.refresh(touched.into_iter(), state);
        if let Some((_, d)) = &self.webhooks {
            for a in logged {
                if let Err(e) = d.submit_alert(a) {
                    tracing::error!("an alert could not be queued for delivery: {e}");
                }
            }
        }
    }

    /// Webhook counts into the metrics (called after each checkpoint).
    pub fn sync_metrics(&self) {
        if let Some((_, d)) = &self.webhooks {
            for s in d.stats() {
                self.metrics.set_alerts_parked(&s.name, s.parked);
            }
        }
    }

    /// Stops delivery, letting what is in flight finish for up to `wait`.
    pub fn shutdown(self, wait: Duration) {
        if let Some((rt, d)) = self.webhooks {
            rt.block_on(async {
                let _ = tokio::time::timeout(wait, d.flush()).await;
                d.shutdown().await;
            });
        }
    }
}
