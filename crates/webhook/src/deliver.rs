//! Delivery: one queue and one worker task per target, so a slow or dead
//! receiver holds up only itself and never the caller.
//!
//! [`Deliverer::submit`] puts an alert on every target's queue and returns
//! at once. A target's worker sends alerts in order: POST with the
//! `Idempotency-Key` and signature headers; on a connection error, a
//! timeout or a 408/425/429/5xx it retries with exponential back-off and
//! jitter; after `max_attempts` it parks the alert in the dead-letter store
//! and marks the receiver down, so what follows is parked at once rather
//! than each waiting out its own budget. Every `retry_parked_ms` the worker
//! tries the oldest parked alert; when that succeeds the receiver is up
//! again and the dead letters drain in order. Other 4xx answers are parked
//! without retries (the request itself is refused) but leave the receiver up.
//! A 2xx is an acknowledgement, recorded durably before the next send.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tidewatch_alerts::LoggedAlert;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::WebhookTarget;
use crate::sign::{signature_header, SIGNATURE_HEADER};
use crate::store::{Parked, TargetStore};
use crate::WebhookError;

/// One alert to deliver: its id, its place in the log and the exact body.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub seq: u64,
    pub body: Arc<str>,
}

/// One delivery attempt, as an [`Observer`] sees it (for metrics).
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub target: &'a str,
    /// The alert's kind (`listed`, `warning`, …), `unknown` if the body
    /// does not say.
    pub kind: &'a str,
    /// It repeats a failed attempt of the same alert.
    pub retry: bool,
    pub ok: bool,
    pub took: Duration,
    /// The alert was parked after it.
    pub parked: bool,
}

/// Called after every attempt, on the delivery task: keep it cheap.
pub type Observer = Arc<dyn Fn(&Attempt<'_>) + Send + Sync>;

/// The `kind` member of an alert body.
fn kind_of(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct K {
        kind: Option<String>,
    }
    serde_json::from_str::<K>(body)
        .ok()
        .and_then(|k| k.kind)
        .unwrap_or_else(|| "unknown".into())
}

impl Delivery {
    /// The body is the alert's JSON as in the log.
    pub fn of(a: &LoggedAlert) -> Result<Delivery, serde_json::Error> {
        Ok(Delivery {
            id: a.alert.id.clone(),
            seq: a.seq,
            body: serde_json::to_string(a)?.into(),
        })
    }
}

/// Counts of one target, since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetStats {
    pub name: String,
    /// Alerts acknowledged by the receiver in this session.
    pub delivered: u64,
    /// Alerts skipped because the receiver acknowledged them before.
    pub already_acked: u64,
    /// Alerts in the dead-letter store now.
    pub parked: u64,
    /// HTTP attempts made, and how many failed.
    pub attempts: u64,
    pub failures: u64,
    /// Whether the receiver is considered down (retry budget exhausted).
    pub down: bool,
    pub last_error: Option<String>,
}

enum Msg {
    Deliver(Delivery),
    /// Answered once everything queued before it was acknowledged or parked.
    Flush(oneshot::Sender<()>),
}

struct Target {
    name: String,
    tx: mpsc::UnboundedSender<Msg>,
    stats: Arc<Mutex<TargetStats>>,
    task: JoinHandle<()>,
}

/// Delivers alerts to every configured target.
#[derive(Debug)]
pub struct Deliverer {
    targets: Vec<Target>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("name", &self.name).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A worker that panicked left the counts usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Deliverer {
    /// Opens each target's state under `state_dir` and starts its worker.
    /// Must be called within a tokio runtime.
    pub fn start(targets: &[WebhookTarget], state_dir: &Path) -> Result<Deliverer, WebhookError> {
        Self::start_observed(targets, state_dir, None)
    }

    /// As [`Deliverer::start`], reporting every attempt to `observer`.
    pub fn start_observed(
        targets: &[WebhookTarget],
        state_dir: &Path,
        observer: Option<Observer>,
    ) -> Result<Deliverer, WebhookError> {
        let (stop, stop_rx) = watch::channel(false);
        let mut out = Vec::new();
        for t in targets {
            t.validate().map_err(|m| WebhookError::Config {
                file: String::new(),
                line: 0,
                message: m,
            })?;
            let secrets = t.resolve_secrets().map_err(|m| WebhookError::Config {
                file: String::new(),
                line: 0,
                message: m,
            })?;
            let (store, parked) = TargetStore::open(state_dir, &t.name)?;
            let client = reqwest::Client::builder()
                .timeout(t.timeout())
                // A redirected POST would silently turn into a GET.
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("tidewatch/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| WebhookError::Config {
                    file: String::new(),
                    line: 0,
                    message: format!("webhook {:?}: HTTP client: {e}", t.name),
                })?;
            let stats = Arc::new(Mutex::new(TargetStats {
                name: t.name.clone(),
                parked: parked.len() as u64,
                ..TargetStats::default()
            }));
            let (tx, rx) = mpsc::unbounded_channel();
            let worker = Worker {
                cfg: t.clone(),
                secrets,
                client,
                store: Arc::new(Mutex::new(store)),
                parked,
                down: false,
                stats: stats.clone(),
                stop: stop_rx.clone(),
                observer: observer.clone(),
            };
            let task = tokio::spawn(worker.run(rx));
            out.push(Target {
                name: t.name.clone(),
                tx,
                stats,
                task,
            });
        }
        Ok(Deliverer { targets: out, stop })
    }

    /// Queues an alert for every target. Never waits.
    pub fn submit(&self, d: &Delivery) {
        for t in &self.targets {
            // A send fails only once the worker stopped; the alert stays in
            // the log and is submitted again at the next start.
            let _ = t.tx.send(Msg::Deliver(d.clone()));
        }
    }

    /// Queues a logged alert for every target.
    pub fn submit_alert(&self, a: &LoggedAlert) -> Result<(), serde_json::Error> {
        self.submit(&Delivery::of(a)?);
        Ok(())
    }

    /// Waits until everything submitted so far was acknowledged or parked.
    pub async fn flush(&self) {
        let mut waits = Vec::new();
        for t in &self.targets {
            let (tx, rx) = oneshot::channel();
            if t.tx.send(Msg::Flush(tx)).is_ok() {
                waits.push(rx);
            }
        }
        for w in waits {
            let _ = w.await;
        }
    }

    /// Waits until everything submitted was acknowledged (parked alerts
    /// included, as their retries succeed), or until `limit` passes.
    /// Returns whether everything was delivered.
    pub async fn drain(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if tokio::time::timeout_at(deadline, self.flush())
                .await
                .is_err()
            {
                return false;
            }
            if self.stats().iter().all(|s| s.parked == 0) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn stats(&self) -> Vec<TargetStats> {
        self.targets
            .iter()
            .map(|t| lock(&t.stats).clone())
            .collect()
    }

    /// Stops every worker: an attempt in flight finishes (and its
    /// acknowledgement is recorded), nothing new is sent. Queued alerts
    /// stay in the log for the next start.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.targets {
            drop(t.tx);
            let _ = t.task.await;
        }
    }
}

/// What one attempt came to.
enum Outcome {
    Acked,
    /// Worth retrying: connection error, timeout, 408/425/429/5xx.
    Retry(String),
    /// The receiver refused the request itself (other 4xx, 3xx).
    Refused(String),
}

struct Worker {
    cfg: WebhookTarget,
    secrets: Vec<Vec<u8>>,
    client: reqwest::Client,
    store: Arc<Mutex<TargetStore>>,
    parked: BTreeMap<u64, Parked>,
    down: bool,
    stats: Arc<Mutex<TargetStats>>,
    stop: watch::Receiver<bool>,
    observer: Option<Observer>,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        // Dead letters from before a restart are tried first.
        let mut next_retry = (!self.parked.is_empty()).then(Instant::now);
        loop {
            if *self.stop.borrow() {
                return;
            }
            let retry_at =
                next_retry.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
            tokio::select! {
                biased;
                _ = self.stop.changed() => return,
                _ = tokio::time::sleep_until(retry_at), if next_retry.is_some() => {
                    next_retry = None;
                    self.retry_parked().await;
                }
                msg = rx.recv() => match msg {
                    None => return,
                    Some(Msg::Flush(done)) => { let _ = done.send(()); }
                    Some(Msg::Deliver(d)) => self.deliver(d).await,
                },
            }
            if next_retry.is_none() && !self.parked.is_empty() && !self.stopping() {
                next_retry = Some(Instant::now() + Duration::from_millis(self.cfg.retry_parked_ms));
            }
        }
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    async fn with_store<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut TargetStore) -> Result<R, WebhookError> + Send + 'static,
    ) -> Result<R, WebhookError> {
        let store = self.store.clone();
        // File writes and fsync run off the async threads.
        match tokio::task::spawn_blocking(move || f(&mut lock(&store))).await {
            Ok(r) => r,
            Err(e) => Err(WebhookError::Worker(e.to_string())),
        }
    }

    fn note(&self, f: impl FnOnce(&mut TargetStats)) {
        f(&mut lock(&self.stats));
    }

    async fn deliver(&mut self, d: Delivery) {
        if lock(&self.store).is_acked(&d.id) {
            self.note(|s| s.already_acked += 1);
            return;
        }
        if self.parked.contains_key(&d.seq) {
            return;
        }
        if self.down {
            self.park(&d, 0, "receiver down: parked without trying".into())
                .await;
            return;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt(&d, attempt > 1).await {
                Outcome::Acked => {
                    self.acked(&d).await;
                    return;
                }
                Outcome::Refused(e) => {
                    self.park(&d, attempt, e).await;
                    return;
                }
                Outcome::Retry(e) => {
                    if attempt >= self.cfg.max_attempts || self.stopping() {
                        tracing::warn!(target = %self.cfg.name, id = %d.id, error = %e, "retry budget spent; parked, receiver marked down");
                        self.park(&d, attempt, e).await;
                        self.down = !self.stopping();
                        return;
                    }
                    let wait = self.backoff(attempt);
                    let mut stop = self.stop.clone();
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        }
    }

    /// `initial × 2^(attempt−1)`, capped, times a random factor in
    /// [0.5, 1] so that many senders do not retry in step.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .cfg
            .backoff_initial_ms
            .saturating_mul(1u64 << (attempt - 1).min(30));
        let capped = exp.min(self.cfg.backoff_max_ms) as f64;
        let jitter: f64 = rand::random_range(0.5..=1.0);
        Duration::from_millis((capped * jitter) as u64)
    }

    fn observe(&self, d: &Delivery, retry: bool, ok: bool, took: Duration, parked: bool) {
        if let Some(o) = &self.observer {
            let kind = kind_of(&d.body);
            o(&Attempt {
                target: &self.cfg.name,
                kind: &kind,
                retry,
                ok,
                took,
                parked,
            });
        }
    }

    async fn attempt(&self, d: &Delivery, retry: bool) -> Outcome {
        let started = Instant::now();
        let t = unix_now();
        let sig = signature_header(&self.secrets, t, d.body.as_bytes());
        self.note(|s| s.attempts += 1);
        let r = self
            .client
            .post(&self.cfg.url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", d.id.as_str())
            .header(SIGNATURE_HEADER, sig)
            .body(d.body.as_bytes().to_vec())
            .send()
            .await;
        let out = match r {
            Ok(resp) if resp.status().is_success() => Outcome::Acked,
            Ok(resp) => {
                let st = resp.status();
                let msg = format!("HTTP {st}");
                if st.is_server_error() || matches!(st.as_u16(), 408 | 425 | 429) {
                    Outcome::Retry(msg)
                } else {
                    Outcome::Refused(msg)
                }
            }
            Err(e) if e.is_timeout() => {
                Outcome::Retry(format!("timed out after {} ms", self.cfg.timeout_ms))
            }
            Err(e) => Outcome::Retry(format!("request failed: {e}")),
        };
        if let Outcome::Retry(e) | Outcome::Refused(e) = &out {
            let e = e.clone();
            self.note(|s| {
                s.failures += 1;
                s.last_error = Some(e);
            });
        }
        let ok = matches!(out, Outcome::Acked);
        self.observe(d, retry, ok, started.elapsed(), false);
        out
    }

    async fn acked(&mut self, d: &Delivery) {
        let (seq, id) = (d.seq, d.id.clone());
        if let Err(e) = self.with_store(move |s| s.ack(seq, &id)).await {
            // The receiver has it; not recording that means a possible
            // repeat after a restart, which its idempotency key absorbs.
            tracing::error!(target = %self.cfg.name, error = %e, "cannot record an acknowledgement");
        }
        let was_parked = self.parked.remove(&d.seq).is_some();
        let parked = self.parked.len() as u64;
        self.note(|s| {
            s.delivered += 1;
            s.parked = parked;
            if was_parked {
                s.down = false;
            }
        });
    }

    async fn park(&mut self, d: &Delivery, attempts: u32, error: String) {
        let p = Parked {
            seq: d.seq,
            id: d.id.clone(),
            attempts: self.parked.get(&d.seq).map_or(0, |p| p.attempts) + attempts,
            last_error: error,
            parked_at: unix_now(),
            body: d.body.to_string(),
        };
        let q = p.clone();
        if let Err(e) = self.with_store(move |s| s.park(&q)).await {
            // Still queued in memory for this session; the log has it for
            // the next.
            tracing::error!(target = %self.cfg.name, error = %e, "cannot write a dead letter");
        }
        self.parked.insert(p.seq, p);
        self.observe(d, false, false, Duration::ZERO, true);
        let n = self.parked.len() as u64;
        let down = self.down;
        self.note(|s| {
            s.parked = n;
            s.down = down;
        });
    }

    /// One attempt each for the parked alerts, oldest first, stopping at the
    /// first that fails.
    async fn retry_parked(&mut self) {
        let queue: Vec<Parked> = self.parked.values().cloned().collect();
        for p in queue {
            if self.stopping() {
                return;
            }
            let d = Delivery {
                id: p.id.clone(),
                seq: p.seq,
                body: p.body.as_str().into(),
            };
            match self.attempt(&d, true).await {
                Outcome::Acked => {
                    self.down = false;
                    self.acked(&d).await;
                }
                Outcome::Retry(e) => {
                    self.down = true;
                    self.park(&d, 1, e).await;
                    return;
                }
                Outcome::Refused(e) => self.park(&d, 1, e).await,
            }
        }
        self.note(|s| s.down = false);
    }
}
