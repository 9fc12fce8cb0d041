//! Every Prometheus metric family tidewatch exports, in one [`Registry`].
//!
//! The engine, the alert delivery, the draws and the HTTP server all record
//! into one [`Metrics`] value (cheap to clone: every handle is shared), and
//! [`Metrics::render`] produces the text exposition format served at
//! `/metrics`. Names follow Prometheus conventions: the `tidewatch_` prefix,
//! base units (`_seconds`), `_total` only on counters, and labels with few
//! values — never a USCC, a name or anything else per entity. The families,
//! their labels and meaning are listed in `docs/metrics.md`; a test keeps
//! that list and [`FAMILIES`] in step with what is registered here.
//!
//! This crate does no I/O and needs no async runtime, so the engine can
//! depend on it without pulling in the server.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::core::Collector;
use prometheus::{
    Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use tidewatch_model::{Class, Family, RejectReason};

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every family this crate registers under the `tidewatch_` prefix, with
/// its type and label names, in the order of `docs/metrics.md`. Tests check
/// the rendered page, the dashboard, the alerting rules and the docs
/// against this list.
pub const FAMILIES: &[FamilySpec] = &[
    fam("tidewatch_build_info", Kind::Gauge, &["version"]),
    fam("tidewatch_ready", Kind::Gauge, &[]),
    fam("tidewatch_events_consumed_total", Kind::Counter, &["topic"]),
    fam(
        "tidewatch_events_rejected_total",
        Kind::Counter,
        &["topic", "reason"],
    ),
    fam("tidewatch_events_applied_total", Kind::Counter, &["topic"]),
    fam(
        "tidewatch_events_duplicate_total",
        Kind::Counter,
        &["topic"],
    ),
    fam("tidewatch_events_held", Kind::Gauge, &[]),
    fam("tidewatch_dead_letters_total", Kind::Counter, &["source"]),
    fam("tidewatch_microbatch_entities", Kind::Histogram, &[]),
    fam("tidewatch_scoring_duration_seconds", Kind::Histogram, &[]),
    fam("tidewatch_entities_scored_total", Kind::Counter, &[]),
    fam(
        "tidewatch_entities",
        Kind::Gauge,
        &["field", "region", "class"],
    ),
    fam("tidewatch_as_of_timestamp_seconds", Kind::Gauge, &[]),
    fam("tidewatch_model_info", Kind::Gauge, &["field", "version"]),
    fam("tidewatch_list_entities", Kind::Gauge, &["list"]),
    fam(
        "tidewatch_alerts_emitted_total",
        Kind::Counter,
        &["kind", "list"],
    ),
    fam(
        "tidewatch_alerts_delivered_total",
        Kind::Counter,
        &["kind", "target"],
    ),
    fam(
        "tidewatch_alert_delivery_failures_total",
        Kind::Counter,
        &["target"],
    ),
    fam(
        "tidewatch_alert_delivery_retries_total",
        Kind::Counter,
        &["target"],
    ),
    fam(
        "tidewatch_alert_delivery_duration_seconds",
        Kind::Histogram,
        &["target"],
    ),
    fam("tidewatch_alerts_parked", Kind::Gauge, &["target"]),
    fam(
        "tidewatch_consumer_lag_messages",
        Kind::Gauge,
        &["topic", "partition"],
    ),
    fam("tidewatch_checkpoint_age_seconds", Kind::Gauge, &[]),
    fam("tidewatch_group_members", Kind::Gauge, &[]),
    fam("tidewatch_group_partitions", Kind::Gauge, &[]),
    fam(
        "tidewatch_group_assignment_mismatches_total",
        Kind::Counter,
        &[],
    ),
    fam(
        "tidewatch_checkpoint_duration_seconds",
        Kind::Histogram,
        &[],
    ),
    fam("tidewatch_checkpoint_failures_total", Kind::Counter, &[]),
    fam("tidewatch_draws_total", Kind::Counter, &["field"]),
    fam("tidewatch_audit_entries", Kind::Gauge, &[]),
    fam(
        "tidewatch_http_requests_total",
        Kind::Counter,
        &["route", "method", "status"],
    ),
    fam(
        "tidewatch_http_request_duration_seconds",
        Kind::Histogram,
        &["route", "method"],
    ),
];

/// The standard process families (Linux), registered alongside.
pub const PROCESS_FAMILIES: &[&str] = &[
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
    "process_virtual_memory_bytes",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "process_threads",
];

/// A metric type, as Prometheus names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One entry of [`FAMILIES`].
#[derive(Debug, Clone, Copy)]
pub struct FamilySpec {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
}

const fn fam(name: &'static str, kind: Kind, labels: &'static [&'static str]) -> FamilySpec {
    FamilySpec { name, kind, labels }
}

impl FamilySpec {
    /// The series names a query can use: a histogram's `_bucket`, `_sum`
    /// and `_count`, the name itself otherwise.
    pub fn series(&self) -> Vec<String> {
        match self.kind {
            Kind::Histogram => ["_bucket", "_sum", "_count"]
                .iter()
                .map(|s| format!("{}{s}", self.name))
                .collect(),
            _ => vec![self.name.to_string()],
        }
    }
}

/// All series names a dashboard or rule may reference: ours, their
/// histogram parts, and the process families.
pub fn exported_series() -> BTreeSet<String> {
    let mut out: BTreeSet<String> = FAMILIES.iter().flat_map(|f| f.series()).collect();
    out.extend(PROCESS_FAMILIES.iter().map(|s| s.to_string()));
    out
}

/// The metric handles. Clone freely: clones share the same series.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    pub ready: IntGauge,
    pub events_consumed: IntCounterVec,
    pub events_rejected: IntCounterVec,
    pub events_applied: IntCounterVec,
    pub events_duplicate: IntCounterVec,
    pub events_held: IntGauge,
    pub dead_letters: IntCounterVec,
    pub microbatch_entities: Histogram,
    pub scoring_duration: Histogram,
    pub entities_scored: IntCounter,
    pub entities: IntGaugeVec,
    pub as_of: IntGauge,
    pub model_info: IntGaugeVec,
    pub list_entities: IntGaugeVec,
    pub alerts_emitted: IntCounterVec,
    pub alerts_delivered: IntCounterVec,
    pub alert_delivery_failures: IntCounterVec,
    pub alert_delivery_retries: IntCounterVec,
    pub alert_delivery_duration: HistogramVec,
    pub alerts_parked: IntGaugeVec,
    pub consumer_lag: IntGaugeVec,
    pub checkpoint_duration: Histogram,
    pub checkpoint_failures: IntCounter,
    pub group_members: IntGauge,
    pub group_partitions: IntGauge,
    pub group_mismatches: IntCounter,
    pub draws: IntCounterVec,
    pub audit_entries: IntGauge,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    checkpoint_age: Gauge,
    /// When the last checkpoint succeeded, or the process started; the age
    /// gauge is computed from it at each scrape so it grows while nothing
    /// checkpoints.
    checkpoint_since: Arc<Mutex<SystemTime>>,
    /// The label sets of the last class-distribution snapshot, so series
    /// that vanished from it can be removed.
    entity_keys: Arc<Mutex<BTreeSet<[String; 3]>>>,
    consumer_lags: Arc<Mutex<BTreeMap<[String; 2], i64>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

// Buckets: batch sizes from one entity to a national rescoring (a daily
// as-of tick rescores everything), durations from a millisecond to minutes.
const BATCH_BUCKETS: &[f64] = &[
    1.0,
    10.0,
    100.0,
    1_000.0,
    10_000.0,
    100_000.0,
    1_000_000.0,
    10_000_000.0,
];
const SCORING_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0,
];
const DELIVERY_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
const CHECKPOINT_BUCKETS: &[f64] = &[0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0];
const HTTP_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0];

/// Registers a collector built from constant definitions. Failure means a
/// malformed or duplicate name in this file, which the unit tests catch, so
/// it is a programming error rather than a runtime condition.
fn reg<C: Collector + Clone + 'static>(r: &Registry, c: Result<C, prometheus::Error>) -> C {
    let c = c.expect("metric definition in tidewatch-metrics is valid");
    r.register(Box::new(c.clone()))
        .expect("metric names in tidewatch-metrics are unique");
    c
}

fn hopts(name: &str, help: &str, buckets: &[f64]) -> HistogramOpts {
    HistogramOpts::new(name, help).buckets(buckets.to_vec())
}

impl Metrics {
    /// A fresh registry with every family registered. Counters whose label
    /// values are known in advance (input topics, reject reasons) start at
    /// zero so `rate()` sees them from the first scrape.
    pub fn new() -> Self {
        let r = Registry::new();
        let build_info = reg(
            &r,
            IntGaugeVec::new(
                Opts::new(
                    "tidewatch_build_info",
                    "Always 1; the version label says which build is running.",
                ),
                &["version"],
            ),
        );
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);

        let m = Metrics {
            ready: reg(
                &r,
                IntGauge::new(
                    "tidewatch_ready",
                    "1 when state is restored and the consumer is caught up (what /readyz reports), else 0.",
                ),
            ),
            events_consumed: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "tidewatch_events_consumed_total",
                        "Input records read, by input family (topic).",
                    ),
                    &["topic"],
                ),
            ),
            events_rejected: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "tidewatch_events_rejected_total",
                        "Input records rejected to the dead-letter output, by topic and reason code.",
                    ),
                    &["topic", "reason"],
                ),
            ),
            events_applied: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "tidewatch_events_applied_total",
                        "Events applied to entity state, by topic.",
                    ),
                    &["topic"],
                ),
            ),
            events_duplicate: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "tidewatch_events_duplicate_total",
                        "Records repeated with the same event_id and content, applied once.",
                    ),
                    &["topic"],
                ),
            ),
            events_held: reg(
                &r,
                IntGauge::new(
                    "tidewatch_events_held",
                    "Events waiting for their entity's registration record.",
                ),
            ),
            dead_letters: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "tidewatch_dead_letters_total",
                        "Records written to a dead-letter store, by source (an input topic, or alerts).",
                    ),
                    &["source"],
                ),
            ),
            microbatch_entities: reg(
                &r,
                Histogram::with_opts(hopts(
                    "tidewatch_microbatch_entities",
                    "Entities rescored per micro-batch.",
                    BATCH_BUCKETS,
                )),
            ),
            scoring_duration: reg(
                &r,
                Histogram::with_opts(hopts(
                    "tidewatch_scoring_duration_seconds",
                    "Time to score one micro-batch.",
                    SCORING_BUCKETS,
                )),
            ),
            entities_scored: reg(
                &r,
                IntCounter::new(
                    "tidewatch_entities_scored_total",
                    "Entity scorings performed (an entity rescored twice counts twice).",
                ),
            ),
            entities: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "tidewatch_entities",
                        "Entities per risk class, per field and per region (GB/T 2260 code), at the current as-of date.",
                    ),
                    &["field", "region", "class"],
                ),
            ),
            as_of: reg(
                &r,
                IntGauge::new(
                    "tidewatch_as_of_timestamp_seconds",
                    "The as-of date the current scores are computed at, as a Unix timestamp (midnight UTC).",
                ),
            ),
            model_info: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "tidewatch_model_info",
                        "Always 1; the version label is the hash of the model file scoring each field.",
                    ),
                    &["field", "version"],
                ),
            ),
            list_entities: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "tidewatch_list_entities",
                        "Entities currently on each list (serious, quality, abnormal: the lists of pipelines/lists.toml).",
                    ),
                    &["list"],
                ),
            ),
            alerts_emitted: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "tidewatch_alerts_emitted_total",
                        "Alerts raised by the list rules, by kind (proposed, listed, removed, withdrawn, warning) and list.",
                    ),
                    &["kind", "list"],
                ),
            ),
            alerts_delivered: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "tidewatch_alerts_delivered_total",
                        "Alerts acknowledged by a delivery target (a webhook receiver or the alerts topic).",
                    ),
                    &["kind", "target"],
                ),
            ),
            alert_delivery_failures: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "tidewatch_alert_delivery_failures_total",
                        "Failed delivery attempts (timeouts, connection errors, non-2xx answers), by target.",
                    ),
                    &["target"],
                ),
            ),
            alert_delivery_retries: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "tidewatch_alert_delivery_retries_total",
                        "Delivery attempts that were retries of an earlier failed attempt, by target.",
                    ),
                    &["target"],
                ),
            ),
            alert_delivery_duration: reg(
                &r,
                HistogramVec::new(
                    hopts(
                        "tidewatch_alert_delivery_duration_seconds",
                        "Time of one delivery attempt, by target.",
                        DELIVERY_BUCKETS,
                    ),
                    &["target"],
                ),
            ),
            alerts_parked: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "tidewatch_alerts_parked",
                        "Alerts parked in the delivery dead-letter store after their retries ran out, by target.",
                    ),
                    &["target"],
                ),
            ),
            consumer_lag: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "tidewatch_consumer_lag_messages",
                        "Messages between the committed position and the end of each assigned partition.",
                    ),
                    &["topic", "partition"],
                ),
            ),
            group_members: reg(
                &r,
                IntGauge::new(
                    "tidewatch_group_members",
                    "Members of the engine's consumer group at the last assignment check (group mode).",
                ),
            ),
            group_partitions: reg(
                &r,
                IntGauge::new(
                    "tidewatch_group_partitions",
                    "Input partition numbers this process holds (all of them outside group mode).",
                ),
            ),
            group_mismatches: reg(
                &r,
                IntCounter::new(
                    "tidewatch_group_assignment_mismatches_total",
                    "Times this member held partitions the range assignor gives another member, and rejoined.",
                ),
            ),
            checkpoint_age: reg(
                &r,
                Gauge::new(
                    "tidewatch_checkpoint_age_seconds",
                    "Seconds since the last successful checkpoint (since process start before the first one).",
                ),
            ),
            checkpoint_duration: reg(
                &r,
                Histogram::with_opts(hopts(
                    "tidewatch_checkpoint_duration_seconds",
                    "Time to write one checkpoint of state and input offsets.",
                    CHECKPOINT_BUCKETS,
                )),
            ),
            checkpoint_failures: reg(
                &r,
                IntCounter::new(
                    "tidewatch_checkpoint_failures_total",
                    "Checkpoints that failed to be written.",
                ),
            ),
            draws: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "tidewatch_draws_total",
                        "Double-random draws run (randomness applied, manifest written), by field.",
                    ),
                    &["field"],
                ),
            ),
            audit_entries: reg(
                &r,
                IntGauge::new(
                    "tidewatch_audit_entries",
                    "Entries in the audit log; a drop means entries were removed.",
                ),
            ),
            http_requests: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "tidewatch_http_requests_total",
                        "HTTP API requests, by route template, method and status code.",
                    ),
                    &["route", "method", "status"],
                ),
            ),
            http_duration: reg(
                &r,
                HistogramVec::new(
                    hopts(
                        "tidewatch_http_request_duration_seconds",
                        "HTTP API request latency, by route template and method.",
                        HTTP_BUCKETS,
                    ),
                    &["route", "method"],
                ),
            ),
            checkpoint_since: Arc::new(Mutex::new(SystemTime::now())),
            entity_keys: Arc::default(),
            consumer_lags: Arc::default(),
            registry: r,
        };

        for f in Family::ALL {
            let t = f.as_str();
            m.events_consumed.with_label_values(&[t]);
            m.events_applied.with_label_values(&[t]);
            m.events_duplicate.with_label_values(&[t]);
            m.dead_letters.with_label_values(&[t]);
            for reason in RejectReason::ALL {
                m.events_rejected.with_label_values(&[t, reason.code()]);
            }
        }
        m.dead_letters.with_label_values(&["alerts"]);
        m.register_process_collector();
        m
    }

    #[cfg(target_os = "linux")]
    fn register_process_collector(&self) {
        let pc = prometheus::process_collector::ProcessCollector::for_self();
        // Registration only fails on a duplicate, which cannot happen on a
        // registry this constructor just made.
        let _ = self.registry.register(Box::new(pc));
    }

    #[cfg(not(target_os = "linux"))]
    fn register_process_collector(&self) {}

    /// The registry, for callers that add collectors of their own.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition of every family.
    pub fn render(&self) -> String {
        self.refresh_checkpoint_age();
        let families = self.registry.gather();
        let mut out = String::new();
        // Encoding into a String only fails on a malformed family, which
        // the registry refuses at registration; an empty page is the
        // harmless answer if it ever did.
        if TextEncoder::new().encode_utf8(&families, &mut out).is_err() {
            out.clear();
        }
        out
    }

    // --- ingest -------------------------------------------------------

    /// `n` records read from `topic`.
    pub fn consumed(&self, topic: &str, n: u64) {
        self.events_consumed.with_label_values(&[topic]).inc_by(n);
    }

    /// A record rejected: counted as rejected and as a dead letter.
    pub fn rejected(&self, topic: &str, reason: RejectReason) {
        self.events_rejected
            .with_label_values(&[topic, reason.code()])
            .inc();
        self.dead_letters.with_label_values(&[topic]).inc();
    }

    pub fn applied(&self, topic: &str, n: u64) {
        self.events_applied.with_label_values(&[topic]).inc_by(n);
    }

    pub fn duplicate(&self, topic: &str) {
        self.events_duplicate.with_label_values(&[topic]).inc();
    }

    // --- scoring ------------------------------------------------------

    /// One micro-batch of `entities` scored in `took`.
    pub fn scored_batch(&self, entities: u64, took: Duration) {
        self.microbatch_entities.observe(entities as f64);
        self.scoring_duration.observe(took.as_secs_f64());
        self.entities_scored.inc_by(entities);
    }

    /// Replaces the class distribution with a new snapshot of
    /// `(field, region, class) → entities`. Series absent from the snapshot
    /// are removed, so a region or field that empties does not linger.
    pub fn set_class_distribution<'a, I>(&self, snapshot: I)
    where
        I: IntoIterator<Item = (&'a str, &'a str, Class, u64)>,
    {
        let mut keys = lock(&self.entity_keys);
        let mut fresh = BTreeSet::new();
        for (field, region, class, n) in snapshot {
            self.entities
                .with_label_values(&[field, region, class.as_str()])
                .set(clamp_i64(n));
            fresh.insert([field.to_string(), region.to_string(), class.to_string()]);
        }
        for gone in keys.difference(&fresh) {
            let _ = self
                .entities
                .remove_label_values(&[&gone[0], &gone[1], &gone[2]]);
        }
        *keys = fresh;
    }

    /// The as-of date the scores are computed at, as days since 1970-01-01.
    pub fn set_as_of_days(&self, days_since_epoch: i64) {
        self.as_of.set(days_since_epoch.saturating_mul(86_400));
    }

    /// The model version per field (replaces the previous set).
    pub fn set_model_versions<'a, I>(&self, versions: I)
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        self.model_info.reset();
        for (field, version) in versions {
            self.model_info.with_label_values(&[field, version]).set(1);
        }
    }

    // --- lists and alerts --------------------------------------------

    pub fn set_list_size(&self, list: &str, entities: u64) {
        self.list_entities
            .with_label_values(&[list])
            .set(clamp_i64(entities));
    }

    pub fn alert_emitted(&self, kind: &str, list: &str) {
        self.alerts_emitted.with_label_values(&[kind, list]).inc();
    }

    /// One delivery attempt to `target`: `retry` when it repeats a failed
    /// one, `ok` when the target acknowledged it.
    pub fn delivery_attempt(
        &self,
        kind: &str,
        target: &str,
        retry: bool,
        ok: bool,
        took: Duration,
    ) {
        self.alert_delivery_duration
            .with_label_values(&[target])
            .observe(took.as_secs_f64());
        if retry {
            self.alert_delivery_retries
                .with_label_values(&[target])
                .inc();
        }
        if ok {
            self.alerts_delivered
                .with_label_values(&[kind, target])
                .inc();
        } else {
            self.alert_delivery_failures
                .with_label_values(&[target])
                .inc();
        }
    }

    /// An alert parked after its retries ran out.
    pub fn alert_parked(&self, target: &str) {
        self.alerts_parked.with_label_values(&[target]).inc();
        self.dead_letters.with_label_values(&["alerts"]).inc();
    }

    /// The number of alerts parked for `target` (after a restart, or once
    /// parked alerts were redelivered).
    pub fn set_alerts_parked(&self, target: &str, n: u64) {
        self.alerts_parked
            .with_label_values(&[target])
            .set(clamp_i64(n));
    }

    // --- consumer and checkpoints --------------------------------------

    /// Replaces the lag snapshot: `(topic, partition) → messages behind`.
    /// Partitions no longer assigned (after a rebalance) are removed.
    pub fn set_consumer_lag<'a, I>(&self, lags: I)
    where
        I: IntoIterator<Item = (&'a str, i32, i64)>,
    {
        let mut keys = lock(&self.consumer_lags);
        let mut fresh = BTreeMap::new();
        for (topic, partition, lag) in lags {
            let p = partition.to_string();
            let lag = lag.max(0);
            self.consumer_lag
                .with_label_values(&[topic, p.as_str()])
                .set(lag);
            fresh.insert([topic.to_string(), p], lag);
        }
        for gone in keys.keys().filter(|k| !fresh.contains_key(*k)) {
            let _ = self.consumer_lag.remove_label_values(&[&gone[0], &gone[1]]);
        }
        *keys = fresh;
    }

    /// The largest lag over the assigned partitions (0 when none).
    pub fn max_consumer_lag(&self) -> i64 {
        lock(&self.consumer_lags)
            .values()
            .copied()
            .max()
            .unwrap_or(0)
    }

    /// Members of the consumer group, as last described.
    pub fn group_members(&self, n: u64) {
        self.group_members.set(n as i64);
    }

    /// Input partition numbers this process holds.
    pub fn group_partitions(&self, n: u64) {
        self.group_partitions.set(n as i64);
    }

    /// This member held another's partitions and rejoined.
    pub fn group_assignment_mismatch(&self) {
        self.group_mismatches.inc();
    }

    /// A checkpoint was written in `took`.
    pub fn checkpoint_written(&self, took: Duration) {
        self.checkpoint_written_at(SystemTime::now(), took);
    }

    /// Same, with the time it completed (tests pass a fixed one).
    pub fn checkpoint_written_at(&self, at: SystemTime, took: Duration) {
        self.checkpoint_duration.observe(took.as_secs_f64());
        *lock(&self.checkpoint_since) = at;
    }

    fn refresh_checkpoint_age(&self) {
        let since = *lock(&self.checkpoint_since);
        let age = SystemTime::now()
            .duration_since(since)
            .unwrap_or(Duration::ZERO);
        self.checkpoint_age.set(age.as_secs_f64());
    }

    // --- draws, audit, HTTP -------------------------------------------

    pub fn draw_run(&self, field: &str) {
        self.draws.with_label_values(&[field]).inc();
    }

    /// One HTTP request. `route` is the matched route template (never the
    /// raw path, which would carry a USCC).
    pub fn http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let s = status.to_string();
        self.http_requests
            .with_label_values(&[route, method, s.as_str()])
            .inc();
        self.http_duration
            .with_label_values(&[route, method])
            .observe(took.as_secs_f64());
    }
}

fn clamp_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Locks a mutex, recovering it if a panicking thread poisoned it: every
/// guarded value here is replaced whole, so it is never half-updated.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Seconds since the Unix epoch of a time, for callers formatting ages.
pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Metrics {
        let m = Metrics::new();
        m.consumed("inspections", 10);
        m.rejected("inspections", RejectReason::InvalidUscc);
        m.applied("inspections", 9);
        m.scored_batch(9, Duration::from_millis(3));
        m.set_class_distribution([
            ("general", "330902", Class::A, 60),
            ("general", "330902", Class::D, 2),
        ]);
        m.set_model_versions([("general", "sha256:decbc70fcb359758")]);
        m.set_list_size("serious", 3);
        m.alert_emitted("listed", "serious");
        m.alert_parked("licensing");
        m.delivery_attempt(
            "listed",
            "joint-punishment",
            false,
            false,
            Duration::from_millis(20),
        );
        m.delivery_attempt(
            "listed",
            "joint-punishment",
            true,
            true,
            Duration::from_millis(20),
        );
        m.set_consumer_lag([("inspections", 0, 12), ("inspections", 1, 3)]);
        m.checkpoint_written(Duration::from_millis(40));
        m.draw_run("food");
        m.http_request("/v1/entities/{uscc}", "GET", 200, Duration::from_millis(1));
        m
    }

    #[test]
    fn every_family_is_rendered_with_its_type() {
        let text = sample().render();
        for f in FAMILIES {
            let line = format!("# TYPE {} {}", f.name, f.kind.as_str());
            assert!(text.contains(&line), "missing {line}");
        }
        assert!(text.contains("process_start_time_seconds"));
    }

    #[test]
    fn registered_families_are_exactly_the_documented_list() {
        let m = sample();
        let names: BTreeSet<String> = m
            .registry()
            .gather()
            .iter()
            .map(|f| f.name().to_string())
            .filter(|n| n.starts_with("tidewatch_"))
            .collect();
        let listed: BTreeSet<String> = FAMILIES.iter().map(|f| f.name.to_string()).collect();
        assert_eq!(names, listed);
        for f in m.registry().gather() {
            if let Some(spec) = FAMILIES.iter().find(|s| s.name == f.name()) {
                for metric in f.get_metric() {
                    let labels: Vec<&str> = metric.get_label().iter().map(|l| l.name()).collect();
                    assert_eq!(labels.len(), spec.labels.len(), "{}", spec.name);
                    for l in labels {
                        assert!(spec.labels.contains(&l), "{}: {l}", spec.name);
                    }
                }
            }
        }
    }

    #[test]
    fn naming_follows_prometheus_conventions() {
        for f in FAMILIES {
            assert!(f.name.starts_with("tidewatch_"));
            assert_eq!(
                f.name.ends_with("_total"),
                f.kind == Kind::Counter,
                "{}: _total is for counters only",
                f.name
            );
            for l in f.labels {
                assert!(!["uscc", "name", "entity", "legal_rep"].contains(l));
            }
        }
    }

    #[test]
    fn class_snapshot_replaces_the_previous_one() {
        let m = sample();
        m.set_class_distribution([("general", "330903", Class::B, 5)]);
        let text = m.render();
        assert!(text.contains(r#"tidewatch_entities{class="B",field="general",region="330903"} 5"#));
        assert!(!text.contains(r#"region="330902""#), "{text}");
    }

    #[test]
    fn lag_snapshot_and_max() {
        let m = sample();
        assert_eq!(m.max_consumer_lag(), 12);
        m.set_consumer_lag([("inspections", 1, 4)]);
        assert_eq!(m.max_consumer_lag(), 4);
        assert!(!m.render().contains(r#"partition="0""#));
    }

    #[test]
    fn checkpoint_age_grows_from_the_last_checkpoint() {
        let m = Metrics::new();
        let past = SystemTime::now() - Duration::from_secs(600);
        m.checkpoint_written_at(past, Duration::from_secs(1));
        let text = m.render();
        let line = text
            .lines()
            .find(|l| l.starts_with("tidewatch_checkpoint_age_seconds "))
            .map(str::to_string)
            .unwrap_or_default();
        let v: f64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        assert!(v >= 600.0, "{line}");
    }

    /// docs/metrics.md has one table row per family, with its type and
    /// labels.
    #[test]
    fn the_metrics_doc_lists_every_family() {
        let doc = include_str!("../../../docs/metrics.md");
        for f in FAMILIES {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", f.name)))
                .unwrap_or_else(|| panic!("docs/metrics.md lacks {}", f.name));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            assert_eq!(cells[2], f.kind.as_str(), "{}", f.name);
            let labels: Vec<String> = f.labels.iter().map(|l| format!("`{l}`")).collect();
            assert_eq!(cells[3], labels.join(", "), "{}", f.name);
        }
        for p in PROCESS_FAMILIES {
            assert!(doc.contains(&format!("`{p}`")), "{p}");
        }
    }

    #[test]
    fn reject_reasons_start_at_zero() {
        let text = Metrics::new().render();
        assert!(text.contains(
            r#"tidewatch_events_rejected_total{reason="unknown_entity",topic="credit-records"} 0"#
        ));
    }
}
