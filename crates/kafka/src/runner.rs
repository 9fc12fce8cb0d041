//! The engine loop on Kafka: consume the three input topics in
//! micro-batches, apply, rescore what changed, publish changed scores and
//! dead letters, checkpoint, commit offsets.
//!
//! Guarantee (docs/streaming.md): every input record is reflected in the
//! state exactly once, and every score record is published at least once
//! with a content-derived id. A checkpoint is written only after every
//! output of the records it covers has been acknowledged by the broker, and
//! offsets are committed to Kafka only after their checkpoint; after a crash
//! the engine restores the checkpoint, reads on from its offsets, and
//! republishes every entity's current record once, then what was published
//! since — with the same ids and payloads, so readers that keep the last
//! record per key (or drop repeated ids) see no difference.
//!
//! With list rules (`lists.toml` in the pipelines directory) each flush also
//! evaluates the rescored entities; new alerts are appended to the alert
//! log in the checkpoint directory (synced, numbered, each id once) and
//! published to `alerts`. The list state is part of every checkpoint. On
//! restore, alerts logged after the checkpoint are taken as announced (a
//! replay does not repeat them) and published again (their first sending
//! may not have been acknowledged): at least once, with the same ids.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use serde::Serialize;
use tidewatch_alerts::{LoggedAlert, Rules};
use tidewatch_engine::checkpoint::{
    family_name, reason_code, CheckpointDir, ListsWrite, PartitionOffset, SourceRef, Written,
};
use tidewatch_engine::lists::{Lists, ListsChanges, ListsSnapshot};
use tidewatch_engine::pipeline::Pipeline;
use tidewatch_engine::records::ScoreRecord;
use tidewatch_engine::stream::Engine;
use tidewatch_ingest::{DeadLetter, Locate, SourcePos};
use tidewatch_metrics::Metrics;
use tidewatch_model::Family;
use tidewatch_scoring::Policy;
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::group::{co_partitioned, expected_range, GroupContext, GroupEvent};
use crate::lanes::Lanes;
use crate::topics::{self, partition_count, Topics, META_TIMEOUT};

/// A callback for each batch of published score records, and after each
/// checkpoint (with none).
pub type OnScores = Box<dyn FnMut(&[ScoreRecord]) + Send>;

/// A callback for each batch of newly logged alerts, with the list state
/// after them.
pub type OnAlerts = Box<dyn FnMut(&[LoggedAlert], &tidewatch_alerts::ListState) + Send>;

/// The alert log's name in the checkpoint directory.
pub const ALERT_LOG: &str = "alerts.ndjson";

/// Counts delivery failures reported by librdkafka.
#[derive(Debug, Default)]
pub struct Deliveries {
    failed: AtomicU64,
    /// Records handed to the producer, and acknowledged (or failed) by the
    /// broker: the latency measurement compares the two.
    enqueued: AtomicU64,
    acked: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// Whether event-to-score latencies are being measured (see
    /// [`Latencies`]); checked before taking the lock.
    timing: AtomicBool,
    latencies: Mutex<Latencies>,
}

/// Event-to-score latency bookkeeping (the stream benchmark turns it on).
/// A batch's input timestamps wait until the delivery reports count past
/// the last output sent for the batch; they are settled in the report that
/// does, with the time it arrived.
#[derive(Debug, Default)]
struct Latencies {
    /// (records sent up to the end of the batch, its input timestamps).
    pending: VecDeque<(u64, Vec<i64>)>,
    /// Settled latencies, in milliseconds.
    done: Vec<u32>,
}

impl Latencies {
    fn settle(&mut self, acked: u64) {
        let n = self
            .pending
            .iter()
            .take_while(|(upto, _)| *upto <= acked)
            .count();
        if n == 0 {
            return;
        }
        let now = unix_ms();
        for (_, ts) in self.pending.drain(..n) {
            self.done
                .extend(ts.into_iter().map(|t| (now - t).max(0) as u32));
        }
    }
}

impl Deliveries {
    /// Failures since the last call.
    pub fn failed_count(&self) -> u64 {
        self.failed.swap(0, Ordering::Relaxed)
    }

    /// A batch's input timestamps, whose outputs are the records sent so
    /// far: settled once those are acknowledged (at once if they are).
    fn await_batch(&self, ts: Vec<i64>) {
        self.timing.store(true, Ordering::Relaxed);
        let upto = self.enqueued.load(Ordering::Relaxed);
        if let Ok(mut l) = self.latencies.lock() {
            l.pending.push_back((upto, ts));
            l.settle(self.acked.load(Ordering::Relaxed));
        }
    }

    /// Counts one delivery report, settling the batches it completes.
    fn count_report(&self) {
        let acked = self.acked.fetch_add(1, Ordering::Relaxed) + 1;
        if self.timing.load(Ordering::Relaxed) {
            if let Ok(mut l) = self.latencies.lock() {
                l.settle(acked);
            }
        }
    }

    fn take_latencies(&self) -> Vec<u32> {
        self.latencies
            .lock()
            .map(|mut l| std::mem::take(&mut l.done))
            .unwrap_or_default()
    }
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        self.count_report();
        if let Err((e, m)) = r {
            self.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut last) = self.last_error.lock() {
                *last = Some(format!("{} [{}]: {e}", m.topic(), m.partition()));
            }
        }
    }
}

/// Serves every delivery report the producer has queued. rdkafka's
/// `poll(Duration::ZERO)` serves a single event (one batch's reports) per
/// call; called once per loop it falls behind, and acknowledged records
/// then look outstanding for seconds and keep their place in the
/// producer's bounded queue.
pub(crate) fn serve_deliveries(producer: &BaseProducer<Deliveries>) {
    loop {
        let before = producer.context().acked.load(Ordering::Relaxed);
        producer.poll(Duration::ZERO);
        if producer.context().acked.load(Ordering::Relaxed) == before {
            return;
        }
    }
}

/// Appends new alerts to the alert log (each id once, synced) and
/// publishes what was logged to `topic`, as logged byte for byte, keyed by
/// USCC. Returns the logged alerts.
fn append_and_send(
    log: &mut tidewatch_webhook::AlertLog,
    producer: &BaseProducer<Deliveries>,
    topic: &str,
    alerts: &[tidewatch_alerts::Alert],
) -> anyhow::Result<Vec<LoggedAlert>> {
    if alerts.is_empty() {
        return Ok(Vec::new());
    }
    let appended = log.append_lines(alerts)?;
    for (i, a) in appended.alerts.iter().enumerate() {
        Runner::send(
            producer,
            topic,
            a.alert.entity.uscc.as_bytes(),
            appended.line(i),
        )?;
    }
    Ok(appended.alerts)
}

/// Lowers this thread's scheduling priority (nice 10), for a checkpoint
/// writer: when the machine is busy the loop and its pool get the CPU
/// first, and a checkpoint takes longer to write instead of holding up
/// the micro-batches being scored meanwhile. Nothing depends on how long
/// it takes (the next one waits for it).
fn yield_to_the_loop() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10) {
        debug!("the checkpoint writer keeps its priority: {e}");
    }
}

/// Serves the engine producer's delivery reports on a thread of its own,
/// so acknowledgements are counted when they arrive rather than when the
/// loop next comes round: a checkpoint waiting for its outputs, the
/// producer's bounded queue and the latency measurement all see them at
/// once. Stopped (and joined) when dropped.
struct ReportServer {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl ReportServer {
    fn start(producer: Arc<BaseProducer<Deliveries>>) -> anyhow::Result<ReportServer> {
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let handle = std::thread::Builder::new()
            .name("deliveries".into())
            .spawn(move || {
                while !st.load(Ordering::Relaxed) {
                    // Returns as soon as a report is served, or after the
                    // timeout (how long stopping may take).
                    producer.poll(Duration::from_millis(20));
                }
            })
            .context("starting the delivery report thread")?;
        Ok(ReportServer {
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for ReportServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Sends everything queued and waits until the broker acknowledged it.
/// rdkafka's `flush` waits in slices of 100 ms, so a flush of outputs that
/// were acknowledged a millisecond later still took 100 ms: this one
/// checks every millisecond.
pub(crate) fn await_deliveries(
    producer: &BaseProducer<Deliveries>,
    timeout: Duration,
) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        // With a zero timeout librdkafka only sends what lingers, at once.
        match producer.flush(Duration::ZERO) {
            Ok(()) => {
                serve_deliveries(producer);
                return Ok(());
            }
            Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {}
            Err(e) => return Err(e.into()),
        }
        serve_deliveries(producer);
        if start.elapsed() >= timeout {
            bail!(
                "{} records were not acknowledged within {timeout:?}",
                producer.in_flight_count()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until `upto` records sent were acknowledged (or failed), as
/// counted by the delivery reports the loop serves; fails if any failed.
fn await_acked(d: &Deliveries, upto: u64, timeout: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let acked = d.acked.load(Ordering::Relaxed);
        if acked >= upto {
            break;
        }
        if start.elapsed() >= timeout {
            bail!(
                "{} output records were not acknowledged within {timeout:?}",
                upto - acked
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let failed = d.failed_count();
    if failed > 0 {
        let last = d
            .last_error
            .lock()
            .ok()
            .and_then(|l| l.clone())
            .unwrap_or_default();
        bail!("{failed} output records were not delivered (last: {last}); not checkpointing past them");
    }
    Ok(())
}

/// A checkpoint being written on its own thread: the checkpoint, and how
/// long the writer waited for acknowledgements (ms).
struct Writing {
    handle: std::thread::JoinHandle<anyhow::Result<(Written, f64)>>,
    started: Instant,
}

/// What the loop did, for logs, the summary and the benchmark.
#[derive(Debug, Default, Clone, Serialize)]
pub struct LoopStats {
    pub consumed: u64,
    pub batches: u64,
    pub rescored: u64,
    pub scores_published: u64,
    pub dead_letters_published: u64,
    /// Alerts logged and published (republished ones not counted).
    pub alerts_published: u64,
    pub checkpoints: u64,
    /// Records replayed from the checkpoint at start.
    pub restored_records: u64,
    /// Events waiting for their entity's registration, at most, after a
    /// batch.
    pub held_most: u64,
    /// Where the loop's time went.
    pub time: LoopTimes,
}

/// Milliseconds the loop spent in each step (the benchmark prints them).
#[derive(Debug, Default, Clone, Serialize)]
pub struct LoopTimes {
    /// Waiting in the consumer's poll.
    pub poll_ms: f64,
    /// The loop waiting for the next batch to be read, once it was done
    /// with the one before (the reader thread's poll is on the loop's path
    /// only for this long).
    pub read_wait_ms: f64,
    /// Decoding, validating, applying and logging records.
    pub apply_ms: f64,
    /// Rescoring, list rules and alerts (the engine's flush).
    pub score_ms: f64,
    /// Logging and publishing alerts on the logger thread (not on the
    /// loop's path, but see `alerts_wait_ms`).
    pub alerts_ms: f64,
    /// Waiting for the logger where the loop needs the log.
    pub alerts_wait_ms: f64,
    /// Handing score records to the producer.
    pub publish_ms: f64,
    /// Waiting for acknowledgements and writing checkpoints.
    pub checkpoint_ms: f64,
    /// The end of a catch-up, after its idle wait: the last rescoring, the
    /// lists judged for everyone the backlog touched, the last checkpoint
    /// (part of the times above too).
    pub finish_ms: f64,
}

pub(crate) fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Milliseconds from `a` to `b`.
fn ms_between(a: Instant, b: Instant) -> f64 {
    b.duration_since(a).as_secs_f64() * 1000.0
}

/// The wall clock in Unix milliseconds (what record timestamps count).
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One engine process on Kafka.
pub struct Runner {
    cfg: Config,
    topics: Topics,
    /// Shared with the thread that reads ahead (see [`Runner::catch_up`]).
    consumer: Arc<BaseConsumer<GroupContext>>,
    producer: Arc<BaseProducer<Deliveries>>,
    /// Serves `producer`'s delivery reports.
    _reports: ReportServer,
    pub engine: Engine,
    cp: CheckpointDir,
    /// Next offset to read, per input partition.
    next: BTreeMap<(String, i32), i64>,
    /// Records below these offsets were applied before the checkpoint; a
    /// rewound assignment reads them again and skips them.
    /// Keyed by family (one input topic each): looked up per record.
    skip_below: BTreeMap<(Family, i32), i64>,
    rejected: BTreeMap<String, BTreeMap<String, u64>>,
    pub stats: LoopStats,
    /// Dead letters of this process's run (for `out/dead-letter.ndjson`).
    pub dead: Vec<DeadLetter>,
    last_checkpoint: Instant,
    /// The checkpoint being written, if one is.
    writing: Option<Writing>,
    last_flush: Instant,
    /// When set (Unix ms), every record produced at or after it has its
    /// event-to-score latency measured (producer timestamp → its batch's
    /// scores acknowledged by the broker), see [`Runner::take_latencies`]
    /// (the stream benchmark, which leaves its warm-up out).
    pub latency_since_ms: Option<i64>,
    /// The measured input timestamps of the batch being read.
    batch_ts: Vec<i64>,
    /// Alerts raised and not yet handed to the logger thread.
    to_log: Vec<tidewatch_alerts::Alert>,
    /// Alerts being logged on a thread of their own, which holds the alert
    /// log meanwhile (see [`Runner::log_behind`]).
    logging: Option<std::thread::JoinHandle<LoggingDone>>,
    /// With `latency_since_ms`: each measured record's wait from its
    /// producer timestamp to being read by the engine, in milliseconds.
    pub arrivals: Vec<u32>,
    /// When the first record was read and the last batch with records was
    /// done (throughput without the idle tail).
    pub first_at: Option<Instant>,
    pub last_at: Option<Instant>,
    /// Engine metrics (`tidewatch serve` exposes them on /metrics).
    pub metrics: Option<Metrics>,
    /// Called with every batch of published score records (the API's view).
    pub on_scores: Option<OnScores>,
    /// The alert log, when the engine keeps lists.
    alert_log: Option<tidewatch_webhook::AlertLog>,
    /// Called with every batch of newly logged alerts.
    pub on_alerts: Option<OnAlerts>,
    /// Held records rejected when their grace period ran out (kept in
    /// every checkpoint: restoring drops them again).
    expired_held: Vec<SourcePos>,
    /// (when, next tag then): every record tagged below arrived by then.
    held_marks: std::collections::VecDeque<(Instant, u64)>,
    /// The list rules (kept to rebuild the engine on a rebalance).
    rules: Option<Rules>,
    /// In a group: the input partition numbers this member holds. `None`:
    /// every partition (one process).
    owned: Option<BTreeSet<i32>>,
    /// In a group: the reader of every member's relation facts.
    relations: Option<BaseConsumer>,
    /// This process's client id (the group names its member after it).
    client_id: String,
    last_group_check: Instant,
    /// The batch applied last, emptied and read into again: its buffers
    /// (a few MB) stay with the process instead of being freed and faulted
    /// in fresh for every batch.
    spare: Option<Batch>,
    /// One process reading in time order: a queue per input partition.
    lanes: Option<Arc<Lanes>>,
    /// The end offsets of the backlog being read (`catch_up`, `serve`),
    /// found at its start.
    backlog_ends: Option<BTreeMap<(String, i32), i64>>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("topics", &self.topics)
            .field("next", &self.next)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// Connects, creates missing topics, restores the latest checkpoint and
    /// assigns every input partition at its checkpointed offset; in a group
    /// (`engine.group`), joins it and restores on the first assignment.
    pub fn open(cfg: Config, policy: Policy) -> anyhow::Result<Runner> {
        let topics = Topics::new(&cfg.kafka.topic_prefix);
        topics::ensure(&cfg.kafka, &topics)?;
        debug!("topics ready");
        let group = cfg.engine.group;
        // Unique per process: the broker names group members after it, and
        // the assignment check finds this member by it.
        let client_id = format!("tidewatch-{:016x}", rand::random::<u64>());
        let lanes = !group && cfg.engine.time_order;
        let mut defaults = vec![
            ("group.id", cfg.kafka.group_id.as_str()),
            ("client.id", client_id.as_str()),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", "earliest"),
            // Bounded prefetch: memory stays flat when the engine lags.
            // Per partition once each has a queue of its own (reading in
            // time order), for the whole consumer otherwise.
            (
                "queued.max.messages.kbytes",
                if lanes { "8192" } else { "65536" },
            ),
            // A fetch that includes caught-up partitions returns after
            // this long at most; the test broker otherwise holds it
            // for about a second even when other partitions have data.
            // Live records wait for the fetch that brings them: at 20 ms
            // they waited 41-53 ms to be read (p50) at 20,000 events/s,
            // at 5 ms 18-29 ms, with the catch-up as fast.
            ("fetch.wait.max.ms", "5"),
            // When the prefetch queue is full, fetch again this soon after
            // it drains (the default, 1 s, left the loop waiting for data
            // about a third of the time while reading a backlog).
            ("fetch.queue.backoff.ms", "5"),
        ];
        if group {
            defaults.extend([
                // Keeps an entity's three feeds with one member.
                ("partition.assignment.strategy", "range"),
                // A member that died hands its partitions on within this.
                ("session.timeout.ms", "10000"),
                ("heartbeat.interval.ms", "1000"),
            ]);
        }
        let consumer: BaseConsumer<GroupContext> = cfg
            .kafka
            .client_config_with(&defaults)
            .create_with_context(GroupContext::new(cfg.engine.resume_rewind as i64))
            .context("creating the Kafka consumer")?;
        let producer: Arc<BaseProducer<Deliveries>> = Arc::new(
            cfg.kafka
                .client_config_with(&[
                    ("acks", "all"),
                    ("linger.ms", "5"),
                    // A full queue blocks the loop (backpressure), see `send`.
                    ("queue.buffering.max.messages", "200000"),
                ])
                .create_with_context(Deliveries::default())
                .context("creating the Kafka producer")?,
        );
        let reports = ReportServer::start(producer.clone())?;
        let relations = if group {
            Some(relations_reader(&cfg, &topics.relations)?)
        } else {
            None
        };
        let rules_path = cfg.engine.pipelines.join("lists.toml");
        let rules = if rules_path.exists() {
            Some(Rules::load(&rules_path)?)
        } else {
            info!(path = %rules_path.display(), "no list rules: lists and alerts are off");
            None
        };
        // In a group nothing is owned until the group says so.
        let owned = group.then(BTreeSet::new);
        let r = restore(&cfg, policy, rules.clone(), owned.as_ref(), Vec::new())?;
        let mut runner = Runner {
            cfg,
            topics,
            consumer: Arc::new(consumer),
            producer,
            _reports: reports,
            engine: r.engine,
            cp: r.cp,
            skip_below: BTreeMap::new(),
            next: r.next,
            rejected: r.rejected,
            stats: r.stats,
            dead: Vec::new(),
            last_checkpoint: Instant::now(),
            writing: None,
            last_flush: Instant::now(),
            latency_since_ms: None,
            batch_ts: Vec::new(),
            to_log: Vec::new(),
            logging: None,
            arrivals: Vec::new(),
            first_at: None,
            last_at: None,
            metrics: None,
            on_scores: None,
            alert_log: r.alert_log,
            on_alerts: None,
            expired_held: r.expired_held,
            held_marks: Default::default(),
            rules,
            owned,
            relations,
            client_id,
            last_group_check: Instant::now(),
            spare: None,
            lanes: None,
            backlog_ends: None,
        };
        runner.set_skip_below();
        runner.publish_restored(r.republish, &r.late_alerts)?;
        if group {
            runner.consumer.context().set_starts(&runner.next);
            runner
                .consumer
                .subscribe(&runner.topics.input_names())
                .context("joining the consumer group")?;
            info!(group = %runner.cfg.kafka.group_id, member = %runner.client_id, "joined the consumer group; waiting for partitions");
        } else {
            let assigned = runner.assign()?;
            if lanes {
                runner.lanes = Some(Arc::new(Lanes::split(&runner.consumer, &assigned)?));
            }
            debug!("partitions assigned");
        }
        Ok(runner)
    }

    fn set_skip_below(&mut self) {
        self.skip_below = self
            .next
            .iter()
            .filter_map(|((t, p), &n)| Some(((self.topics.family_of(t)?, *p), n)))
            .collect();
    }

    /// Publishes what a restore recomputed: every entity's current record,
    /// its relation facts, and the alerts logged after the checkpoint.
    fn publish_restored(
        &mut self,
        republish: tidewatch_engine::stream::Flushed,
        late_alerts: &[LoggedAlert],
    ) -> anyhow::Result<()> {
        let tidewatch_engine::stream::Flushed {
            records,
            alerts,
            relations,
            ..
        } = republish;
        for r in &records {
            Self::send(
                &self.producer,
                &self.topics.scores,
                r.uscc.as_bytes(),
                r.payload.as_bytes(),
            )?;
        }
        self.stats.scores_published += records.len() as u64;
        self.send_relations(&relations)?;
        // Alerts logged after the checkpoint: published again.
        for a in late_alerts {
            Self::send(
                &self.producer,
                &self.topics.alerts,
                a.alert.entity.uscc.as_bytes(),
                &serde_json::to_vec(a)?,
            )?;
        }
        if !late_alerts.is_empty() {
            info!(
                alerts = late_alerts.len(),
                "alerts logged after the checkpoint published again"
            );
        }
        self.log_alerts(&alerts)
    }

    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// Assigns every partition of the input topics, at the checkpointed
    /// offset or from the beginning; returns them with the offset each
    /// starts at (-1: the beginning).
    fn assign(&mut self) -> anyhow::Result<Vec<(Family, String, i32, i64)>> {
        let mut tpl = TopicPartitionList::new();
        let mut assigned = Vec::new();
        for (family, topic) in self.topics.inputs() {
            let parts = partition_count(&self.consumer, topic, &self.cfg.kafka.brokers)?;
            for p in 0..parts {
                if self.owned.as_ref().is_some_and(|o| !o.contains(&p)) {
                    continue;
                }
                let key = (topic.to_owned(), p);
                let at = resume_at(
                    self.next.get(&key).copied(),
                    self.cfg.engine.resume_rewind as i64,
                );
                tpl.add_partition_offset(topic, p, at)?;
                let start = match at {
                    Offset::Offset(o) => o,
                    _ => -1,
                };
                assigned.push((family, topic.to_owned(), p, start));
                self.next.entry(key).or_insert(-1);
            }
        }
        self.consumer
            .assign(&tpl)
            .context("assigning input partitions")?;
        Ok(assigned)
    }

    /// The end offset of every input partition now (one request).
    fn end_offsets(&self) -> anyhow::Result<BTreeMap<(String, i32), i64>> {
        let mut tpl = TopicPartitionList::new();
        for (topic, p) in self.next.keys() {
            if self.holds(*p) {
                tpl.add_partition_offset(topic, *p, Offset::End)?;
            }
        }
        if tpl.count() == 0 {
            return Ok(BTreeMap::new());
        }
        let got = self
            .consumer
            .offsets_for_times(tpl, META_TIMEOUT)
            .context("reading the end offsets of the input partitions")?;
        let mut out = BTreeMap::new();
        for e in got.elements() {
            let high = match e.offset() {
                Offset::Offset(n) => n,
                // No answer for the partition: nothing to wait for.
                _ => 0,
            };
            out.insert((e.topic().to_owned(), e.partition()), high);
        }
        Ok(out)
    }

    /// Whether this process holds an input partition number.
    fn holds(&self, partition: i32) -> bool {
        self.owned.as_ref().is_none_or(|o| o.contains(&partition))
    }

    /// Publishes relation facts to `relations`, each under its legal
    /// representative's key.
    fn send_relations(
        &mut self,
        facts: &[(String, tidewatch_state::RelationFact)],
    ) -> anyhow::Result<()> {
        if self.relations.is_none() {
            return Ok(());
        }
        for (key, fact) in facts {
            let payload = serde_json::to_vec(fact)?;
            Self::send(
                &self.producer,
                &self.topics.relations,
                key.as_bytes(),
                &payload,
            )?;
        }
        Ok(())
    }

    /// Takes the relation facts that arrived (without waiting).
    fn hear_relations(&mut self) -> anyhow::Result<()> {
        let Some(reader) = &self.relations else {
            return Ok(());
        };
        let mut facts = Vec::new();
        while facts.len() < 100_000 {
            let Some(m) = reader.poll(Duration::ZERO) else {
                break;
            };
            let m = m.context("reading relation facts")?;
            match serde_json::from_slice::<tidewatch_state::RelationFact>(
                m.payload().unwrap_or_default(),
            ) {
                Ok(f) => facts.push(f),
                // Only engines write the topic: a bad record is a bug or a
                // stranger's, and no entity of ours depends on it.
                Err(e) => warn!(
                    partition = m.partition(),
                    offset = m.offset(),
                    "unreadable relation fact skipped: {e}"
                ),
            }
        }
        self.engine.hear(facts);
        Ok(())
    }

    /// Handles the group's changes of this member's assignment; true when
    /// the engine was rebuilt.
    fn follow_group(&mut self) -> anyhow::Result<bool> {
        if self.owned.is_none() {
            return Ok(false);
        }
        let now = match self.consumer.context().take_events().last() {
            None => return Ok(false),
            Some(GroupEvent::Assigned(got)) => {
                co_partitioned(got, &self.topics.input_names()).map_err(anyhow::Error::msg)?
            }
            Some(GroupEvent::Revoked) => {
                if self.owned.as_ref().is_some_and(BTreeSet::is_empty) {
                    return Ok(false);
                }
                info!("partitions revoked; waiting for the group's next assignment");
                self.rebuild(BTreeSet::new())?;
                return Ok(true);
            }
        };
        self.rebuild(now)?;
        self.check_assignment();
        Ok(true)
    }

    /// Rebuilds the engine for the partitions this member now holds: the
    /// current state is checkpointed, then the checkpoint replayed for the
    /// held partitions alone; the partitions are read on from there (from
    /// the beginning when this member never held them).
    fn rebuild(&mut self, owned: BTreeSet<i32>) -> anyhow::Result<()> {
        self.flush()?;
        self.checkpoint()?;
        let heard = self.engine.take_heard();
        let policy = self.engine.policy().clone();
        let r = restore(&self.cfg, policy, self.rules.clone(), Some(&owned), heard)?;
        info!(partitions = ?owned, restored_records = r.stats.restored_records, "rebuilt for the group's assignment");
        self.engine = r.engine;
        self.cp = r.cp;
        self.next = r.next;
        self.rejected = r.rejected;
        self.stats.restored_records = r.stats.restored_records;
        self.expired_held = r.expired_held;
        self.alert_log = r.alert_log;
        self.held_marks.clear();
        if let Some(m) = &self.metrics {
            m.group_partitions(owned.len() as u64);
        }
        self.owned = Some(owned);
        self.set_skip_below();
        self.publish_restored(r.republish, &r.late_alerts)?;
        // Reads on from the rebuilt state's offsets (what was fetched for
        // the new assignment meanwhile is read again).
        self.assign()?;
        Ok(())
    }

    /// Compares what this member holds with what the range assignor gives
    /// it among the group's members now; rejoins when it holds partitions
    /// that are another's (the test broker has handed a late joiner
    /// partitions another member still held).
    fn check_assignment(&mut self) {
        let Some(owned) = self.owned.clone() else {
            return;
        };
        self.last_group_check = Instant::now();
        let group = &self.cfg.kafka.group_id;
        let list = match self.consumer.fetch_group_list(Some(group), META_TIMEOUT) {
            Ok(l) => l,
            Err(e) => {
                debug!("describing the group: {e}");
                return;
            }
        };
        let Some(g) = list.groups().iter().find(|g| g.name() == group) else {
            return;
        };
        if g.state() != "Stable" {
            return;
        }
        let members: Vec<String> = g.members().iter().map(|m| m.id().to_owned()).collect();
        let prefix = format!("{}-", self.client_id);
        let me = members.iter().find(|m| m.starts_with(&prefix)).cloned();
        let partitions = match partition_count(
            &self.consumer,
            self.topics.input(Family::ALL[0]),
            &self.cfg.kafka.brokers,
        ) {
            Ok(n) => n,
            Err(e) => {
                debug!("{e:#}");
                return;
            }
        };
        let due = me
            .as_deref()
            .and_then(|me| expected_range(&members, me, partitions));
        let stale = match &due {
            Some(due) => !owned.is_subset(due),
            None => !owned.is_empty(),
        };
        if let Some(m) = &self.metrics {
            m.group_members(members.len() as u64);
        }
        if stale {
            warn!(
                held = ?owned,
                due = ?due,
                members = members.len(),
                "this member holds partitions the group gives another: rejoining"
            );
            if let Some(m) = &self.metrics {
                m.group_assignment_mismatch();
            }
            self.consumer.unsubscribe();
            if let Err(e) = self.consumer.subscribe(&self.topics.input_names()) {
                warn!("rejoining the consumer group: {e}");
            }
        }
    }

    /// Sends one record, waiting while the producer's queue is full.
    pub(crate) fn send(
        producer: &BaseProducer<Deliveries>,
        topic: &str,
        key: &[u8],
        payload: &[u8],
    ) -> anyhow::Result<()> {
        let mut rec = BaseRecord::to(topic).key(key).payload(payload);
        loop {
            match producer.send(rec) {
                Ok(()) => {
                    producer.context().enqueued.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    rec = r;
                    producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => bail!("producing to {topic}: {e}"),
            }
        }
    }

    /// How long a batch may wait for records, and its size.
    fn batch_limits(&self) -> (Duration, usize) {
        (
            Duration::from_millis(self.cfg.engine.latency_ms.max(1)),
            self.cfg.engine.batch_max,
        )
    }

    /// What reading a batch needs, as it stands now. One process keeps it
    /// for a run (the assignment does not change under it); a group takes
    /// it again for each batch.
    fn reader(&self) -> Reader {
        let (budget, max) = self.batch_limits();
        Reader {
            consumer: Arc::clone(&self.consumer),
            topics: self.topics.clone(),
            skip_below: self.skip_below.clone(),
            grouped: self.owned.is_some(),
            latency_since_ms: self.latency_since_ms,
            budget,
            max,
            lanes: self.lanes.clone(),
        }
    }

    /// Reads one micro-batch (up to `batch_max` records, or what arrived
    /// within the latency budget) and applies it. Returns how many were
    /// read.
    fn read_batch(&mut self) -> anyhow::Result<usize> {
        let spare = self.spare.take().unwrap_or_default();
        let batch = self.reader().read_into(spare)?;
        let n = self.apply_read(&batch);
        self.spare = Some(batch);
        n
    }

    /// Applies `batch` and rescores when due, while `reader` reads the next
    /// batch on a thread of its own (unless `read_next` is false). Returns
    /// the size of `batch` and the next one.
    fn step(
        &mut self,
        reader: &Reader,
        batch: Batch,
        live: bool,
        read_next: bool,
    ) -> anyhow::Result<(usize, Option<Batch>)> {
        let spare = self.spare.take().unwrap_or_default();
        std::thread::scope(|s| {
            let reading = read_next.then(|| s.spawn(|| reader.read_into(spare)));
            let n = self.apply_read(&batch);
            self.spare = Some(batch);
            let n = n?;
            if self.flush_due(n, live) {
                self.flush()?;
            }
            let waiting = Instant::now();
            let next = reading
                .map(|r| r.join())
                .transpose()
                .map_err(|_| anyhow::anyhow!("reading the next batch panicked"))?
                .transpose()?;
            // An empty batch is the consumer's quiet time, not the loop's.
            if next.as_ref().is_some_and(|b| !b.is_empty()) {
                self.stats.time.read_wait_ms += ms(waiting);
            }
            Ok((n, next))
        })
    }

    /// Counts a batch of `n` records read; a non-empty one restarts the
    /// quiet time.
    fn count_batch(&mut self, n: usize, quiet_since: &mut Instant) {
        if n > 0 {
            *quiet_since = Instant::now();
            self.stats.batches += 1;
            self.last_at = Some(*quiet_since);
        }
    }

    /// Applies a batch read: decodes, validates and applies its records,
    /// sends the rejected ones to `dead-letter`, appends the others to the
    /// checkpoint log and moves the offsets on. Returns its size.
    fn apply_read(&mut self, batch: &Batch) -> anyhow::Result<usize> {
        self.stats.time.poll_ms += batch.poll_ms;
        self.batch_ts.extend_from_slice(&batch.ts);
        self.arrivals.extend_from_slice(&batch.arrivals);
        let n = batch.reads.len();
        if n == 0 {
            return Ok(0);
        }
        let applying = Instant::now();
        let records: Vec<(Family, &[u8], KafkaPos<'_>)> = batch
            .records()
            .map(|(r, bytes)| {
                (
                    r.family,
                    bytes,
                    KafkaPos {
                        topic: self.topics.input(r.family),
                        partition: r.partition,
                        offset: r.offset,
                    },
                )
            })
            .collect();
        // Decoding and validation run in parallel; the store applies in
        // arrival order, as `offer` one by one would.
        let dead = self.engine.pipe.offer_batch(&records);
        let mut rejected: BTreeMap<(i32, i64, &str), DeadLetter> = BTreeMap::new();
        for d in dead {
            if let SourcePos::Kafka {
                partition, offset, ..
            } = &d.source
            {
                let key = (*partition, *offset, d.family.as_str());
                rejected.insert(key, d);
            }
        }
        // Per family: (read, accepted), reported to the metrics once a batch.
        let mut counts = [(0u64, 0u64); 3];
        // Next offset per partition, folded into `self.next` once a batch.
        let mut batch_next: BTreeMap<(Family, i32), (&str, i64)> = BTreeMap::new();
        for (family, bytes, pos) in &records {
            let slot = &mut counts[family.index()];
            slot.0 += 1;
            match rejected.remove(&(pos.partition, pos.offset, family.as_str())) {
                Some(d) => {
                    if let Some(m) = &self.metrics {
                        m.rejected(pos.topic, d.reason);
                    }
                    *self
                        .rejected
                        .entry(family.as_str().to_owned())
                        .or_default()
                        .entry(d.reason.code().to_owned())
                        .or_default() += 1;
                    send_dead(
                        &self.producer,
                        &self.topics,
                        &mut self.stats,
                        &mut self.dead,
                        d,
                    )?;
                }
                None => {
                    slot.1 += 1;
                    self.cp.append(
                        *family,
                        SourceRef::Kafka {
                            topic: pos.topic,
                            partition: pos.partition,
                            offset: pos.offset,
                        },
                        bytes,
                    )?
                }
            }
            // Offsets rise within a partition: the last one read wins.
            batch_next.insert((*family, pos.partition), (pos.topic, pos.offset + 1));
        }
        for ((_, partition), (topic, n)) in batch_next {
            self.next.insert((topic.to_owned(), partition), n);
        }
        self.stats.consumed += n as u64;
        let held = self.engine.pipe.store.held_count() as u64;
        self.stats.held_most = self.stats.held_most.max(held);
        if let Some(m) = &self.metrics {
            for (f, (read, accepted)) in Family::ALL.iter().zip(counts) {
                if read > 0 {
                    let topic = self.topics.input(*f);
                    m.consumed(topic, read);
                    m.applied(topic, accepted);
                }
            }
        }
        if self.first_at.is_none() {
            self.first_at = Some(batch.started);
        }
        self.stats.time.apply_ms += ms(applying);
        Ok(n)
    }

    /// With `hold_grace_ms` set (`serve`, once the backlog is read): records
    /// held longer than that for a registration that has not come are
    /// rejected as `unknown_entity`. Time is this process's: after a
    /// restart they wait the whole grace period again.
    fn expire_held(&mut self) -> anyhow::Result<()> {
        let grace = Duration::from_millis(self.cfg.engine.hold_grace_ms);
        if grace.is_zero() {
            return Ok(());
        }
        let now = Instant::now();
        let tag = self.engine.pipe.next_tag();
        if self.held_marks.back().is_none_or(|(_, t)| *t != tag) {
            self.held_marks.push_back((now, tag));
        }
        let mut limit = None;
        while let Some(&(at, t)) = self.held_marks.front() {
            if now.duration_since(at) < grace {
                break;
            }
            limit = Some(t);
            self.held_marks.pop_front();
        }
        let Some(limit) = limit else { return Ok(()) };
        if self.engine.pipe.store.held_count() == 0 {
            return Ok(());
        }
        let why = format!(
            "within the grace period ({} ms)",
            self.cfg.engine.hold_grace_ms
        );
        for d in self.engine.pipe.expire_held_before(limit, &why) {
            if let (Some(m), SourcePos::Kafka { topic, .. }) = (&self.metrics, &d.source) {
                m.rejected(topic, d.reason);
            }
            self.expired_held.push(d.source.clone());
            self.publish_dead(d)?;
        }
        Ok(())
    }

    fn publish_dead(&mut self, d: DeadLetter) -> anyhow::Result<()> {
        send_dead(
            &self.producer,
            &self.topics,
            &mut self.stats,
            &mut self.dead,
            d,
        )
    }

    /// Starts logging and publishing the last flushes' alerts on a thread
    /// of their own, unless one is still at it (they wait for the next
    /// call). The log is synced after each append, which on a slow disk
    /// takes up to a hundred milliseconds: the loop waits for it only
    /// where it needs the log ([`Runner::finish_logging`]). Returns where
    /// the thread will say the alerts it took are in the log (see
    /// [`Receipt`]), when it started one.
    fn log_behind(&mut self) -> anyhow::Result<Option<mpsc::Receiver<Receipt>>> {
        if self.logging.as_ref().is_some_and(|h| !h.is_finished()) {
            return Ok(None);
        }
        self.finish_logging()?;
        if self.to_log.is_empty() {
            return Ok(None);
        }
        let Some(mut log) = self.alert_log.take() else {
            return Ok(None);
        };
        let alerts = std::mem::take(&mut self.to_log);
        let producer = Arc::clone(&self.producer);
        let topic = self.topics.alerts.clone();
        // Nobody may wait for the receipt: a buffer of one never blocks.
        let (receipt, rx) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("alerts".into())
            .spawn(move || {
                let t = Instant::now();
                let logged = append_and_send(&mut log, &producer, &topic, &alerts);
                let _ = receipt.send(match &logged {
                    Ok(_) => Ok((
                        log.last_seq(),
                        producer.context().enqueued.load(Ordering::Relaxed),
                    )),
                    Err(e) => Err(format!("{e:#}")),
                });
                (log, logged.map(|l| (l, ms(t))))
            });
        match spawned {
            Ok(h) => {
                self.logging = Some(h);
                Ok(Some(rx))
            }
            Err(e) => bail!("starting the alert logger: {e}"),
        }
    }

    /// Waits for the alerts being logged, if any, and takes the log back.
    fn finish_logging(&mut self) -> anyhow::Result<()> {
        let Some(h) = self.logging.take() else {
            return Ok(());
        };
        let t = Instant::now();
        let (log, logged) = h
            .join()
            .map_err(|_| anyhow::anyhow!("logging the alerts panicked"))?;
        self.stats.time.alerts_wait_ms += ms(t);
        self.alert_log = Some(log);
        let (logged, took) = logged?;
        self.stats.time.alerts_ms += took;
        self.logged(logged);
        Ok(())
    }

    /// Appends new alerts to the alert log (each id once) and publishes
    /// what was logged, after those being logged and those waiting to be:
    /// the log keeps the order they were raised.
    fn log_alerts(&mut self, alerts: &[tidewatch_alerts::Alert]) -> anyhow::Result<()> {
        self.finish_logging()?;
        let Some(log) = self.alert_log.as_mut() else {
            return Ok(());
        };
        let mut waiting = std::mem::take(&mut self.to_log);
        waiting.extend_from_slice(alerts);
        let logged = append_and_send(log, &self.producer, &self.topics.alerts, &waiting)?;
        self.logged(logged);
        Ok(())
    }

    /// Counts alerts [`append_and_send`] logged and published, and hands
    /// them on.
    fn logged(&mut self, logged: Vec<LoggedAlert>) {
        if logged.is_empty() {
            return;
        }
        if let Some(m) = &self.metrics {
            for a in &logged {
                m.alert_emitted(a.alert.kind.as_str(), a.alert.list.as_deref().unwrap_or(""));
            }
        }
        self.stats.alerts_published += logged.len() as u64;
        if let (Some(cb), Some(l)) = (self.on_alerts.as_mut(), self.engine.lists()) {
            cb(&logged, l.state());
        }
    }

    /// The engine's list state (when it keeps lists).
    pub fn lists(&self) -> Option<&Lists> {
        self.engine.lists()
    }

    /// The alert log's path and how many alerts it holds (when the engine
    /// keeps lists).
    pub fn alert_log(&self) -> Option<(std::path::PathBuf, u64)> {
        self.alert_log
            .as_ref()
            .map(|l| (self.cfg.engine.checkpoint_dir.join(ALERT_LOG), l.last_seq()))
    }

    /// Rescores what changed and publishes the changed scores; judges the
    /// lists of the previous flush's entities meanwhile and publishes their
    /// new alerts (see [`Engine::flush_judging_previous`]). The last
    /// flush's lists are judged at the next one, or before a checkpoint
    /// ([`Runner::start_checkpoint`]).
    fn flush(&mut self) -> anyhow::Result<()> {
        let t = Instant::now();
        self.last_flush = t;
        // The records are sent a chunk at a time as the engine scores
        // them (see `Engine::flush_judging_previous_into`): a flush that
        // rescores a whole backlog never holds all its payloads at once.
        let (producer, topic, on_scores) =
            (&self.producer, &self.topics.scores, &mut self.on_scores);
        let mut sent = 0u64;
        let mut send_ms = 0.0;
        let f = self.engine.flush_judging_previous_into(&mut |records| {
            let t = Instant::now();
            if let Some(cb) = on_scores.as_mut() {
                cb(&records);
            }
            for r in &records {
                Self::send(producer, topic, r.uscc.as_bytes(), r.payload.as_bytes())?;
            }
            sent += records.len() as u64;
            send_ms += ms(t);
            Ok(())
        })?;
        // Sending happened inside the flush: it counts as publishing.
        let scoring = t
            .elapsed()
            .saturating_sub(Duration::from_secs_f64(send_ms / 1e3));
        self.stats.time.score_ms += scoring.as_secs_f64() * 1e3;
        self.stats.time.publish_ms += send_ms;
        let publishing = Instant::now();
        if let Some(m) = &self.metrics {
            if f.rescored > 0 {
                m.scored_batch(f.rescored as u64, scoring);
            }
        }
        self.stats.rescored += f.rescored as u64;
        self.stats.scores_published += sent;
        self.send_relations(&f.relations)?;
        self.settle_latencies();
        self.to_log.extend(f.alerts);
        self.log_behind()?;
        self.stats.time.publish_ms += ms(publishing);
        Ok(())
    }

    /// Latency bookkeeping: a batch's records are scored when every score
    /// record sent up to the end of its batch is acknowledged, as the
    /// delivery reports count (see [`Latencies`]).
    fn settle_latencies(&mut self) {
        if !self.batch_ts.is_empty() {
            let ts = std::mem::take(&mut self.batch_ts);
            self.producer.context().await_batch(ts);
        }
    }

    /// The event-to-score latencies settled so far, in milliseconds (with
    /// `latency_since_ms` set).
    pub fn take_latencies(&self) -> Vec<u32> {
        self.producer.context().take_latencies()
    }

    /// Writes a checkpoint of everything published so far and waits until
    /// it is written (see [`Runner::start_checkpoint`]).
    pub fn checkpoint(&mut self) -> anyhow::Result<()> {
        self.start_checkpoint()?;
        self.finish_checkpoint(true)?;
        // The alerts logged beside it are in the log by now: the log comes
        // back, and they are handed on, before the caller goes on (to stop,
        // or to open the log again for a new assignment).
        self.finish_logging()
    }

    /// Takes a checkpoint of everything read and published so far and
    /// writes it on a thread of its own, so the loop goes on reading and
    /// scoring meanwhile (writing a large population's lists takes most of
    /// a second). The thread first waits until the broker acknowledged
    /// every output sent before the cut: a checkpoint never covers an
    /// output that could still be lost. One checkpoint is written at a
    /// time; [`Runner::finish_checkpoint`] takes it in, then its offsets
    /// are committed to the group.
    fn start_checkpoint(&mut self) -> anyhow::Result<()> {
        self.finish_checkpoint(true)?;
        // The last flush's lists are judged now, and every alert still
        // waiting is logged beside the writer, which waits for them before
        // the checkpoint names them (the cut counts them as announced).
        let t = Instant::now();
        let alerts = self.engine.judge_lists();
        self.to_log.extend(alerts);
        self.stats.time.score_ms += ms(t);
        self.finish_logging()?;
        let logged_before = self.alert_log.as_ref().map(|l| l.last_seq());
        let receipt = self.log_behind()?;
        let t = Instant::now();
        let offsets: Vec<PartitionOffset> = self
            .next
            .iter()
            .filter(|(_, &n)| n >= 0)
            .map(|((t, p), &n)| PartitionOffset {
                topic: t.clone(),
                partition: *p,
                next: n,
            })
            .collect();
        // The whole list state, or only what changed since the last
        // checkpoint; taken now (shared, not copied), made JSON by the
        // writer.
        let wants_whole = self.cp.wants_whole_lists();
        let lists = match (self.engine.lists_mut(), logged_before) {
            (Some(l), Some(logged)) => Some(ListsWrite::Cut(l.cut(logged, wants_whole))),
            _ => None,
        };
        let as_of = self.engine.as_of();
        let digest = self.engine.policy().digest.clone();
        let pending = self
            .cp
            .cut(
                as_of,
                offsets,
                &self.rejected,
                &digest,
                lists,
                &self.expired_held,
            )?
            .lists_judged(self.engine.lists_judged());
        let deliveries = self.producer.context().clone();
        let upto = deliveries.enqueued.load(Ordering::Relaxed);
        let handle = std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn(move || -> anyhow::Result<(Written, f64)> {
                yield_to_the_loop();
                let t = Instant::now();
                await_acked(&deliveries, upto, Duration::from_secs(120))?;
                let mut acked_ms = ms(t);
                let written = pending.write_when(|| {
                    let Some(rx) = receipt else { return Ok(None) };
                    // No time limit: a large append takes what it takes, and
                    // a logger that died drops its end, which ends the wait.
                    let (logged, upto) = rx
                        .recv()
                        .context("the alert logger stopped before logging the alerts")?
                        .map_err(|e| anyhow::anyhow!("logging the alerts: {e}"))?;
                    let t = Instant::now();
                    await_acked(&deliveries, upto, Duration::from_secs(120))?;
                    acked_ms += ms(t);
                    Ok(Some(logged))
                })?;
                Ok((written, acked_ms))
            })
            .context("starting the checkpoint writer")?;
        self.writing = Some(Writing { handle, started: t });
        self.last_checkpoint = Instant::now();
        self.stats.time.checkpoint_ms += ms(t);
        Ok(())
    }

    /// Takes in the checkpoint being written once it is (with `wait`: waits
    /// for it, serving delivery reports meanwhile): commits its offsets to
    /// the group and updates the metrics. A checkpoint that could not be
    /// written is an error: the engine stops, and a restart resumes from
    /// the one before.
    fn finish_checkpoint(&mut self, wait: bool) -> anyhow::Result<()> {
        let Some(w) = self.writing.as_ref() else {
            return Ok(());
        };
        if !w.handle.is_finished() {
            if !wait {
                return Ok(());
            }
            let t = Instant::now();
            while !w.handle.is_finished() {
                // The writer waits for acknowledgements (counted on the
                // report thread): send what lingers at once.
                let _ = self.producer.flush(Duration::ZERO);
                std::thread::sleep(Duration::from_millis(1));
            }
            self.stats.time.checkpoint_ms += ms(t);
        }
        let Some(w) = self.writing.take() else {
            return Ok(());
        };
        let (written, acked_ms) = w
            .handle
            .join()
            .map_err(|_| anyhow::anyhow!("the checkpoint writer panicked"))?
            .context("writing a checkpoint")?;
        self.cp.written(&written);
        let cp = &written.checkpoint;
        debug!(
            seq = cp.seq,
            records = cp.log_records,
            acked_ms,
            lists_bytes = written.lists.as_ref().map_or(0, |(_, n)| *n),
            whole = written
                .lists
                .as_ref()
                .is_some_and(|(n, _)| cp.lists_file.as_ref() == Some(n)),
            total_ms = ms(w.started),
            "checkpoint written"
        );
        let offsets: BTreeMap<(String, i32), i64> = cp
            .offsets
            .iter()
            .map(|o| ((o.topic.clone(), o.partition), o.next))
            .collect();
        if self.owned.is_some() {
            // Where a rebalance hands this member a partition: its own
            // checkpointed offsets.
            self.consumer.context().set_starts(&offsets);
            if self.last_group_check.elapsed() >= Duration::from_secs(5) {
                self.check_assignment();
            }
        }
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), next) in &offsets {
            if self.holds(*partition) {
                tpl.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
            }
        }
        if tpl.count() > 0 {
            // For lag monitoring only: the checkpoint is the source of truth.
            if let Err(e) = self.consumer.commit(&tpl, CommitMode::Async) {
                warn!("committing offsets to the group: {e}");
            }
        }
        self.stats.checkpoints += 1;
        if let Some(m) = &self.metrics {
            m.checkpoint_written(w.started.elapsed());
            if let Some(l) = self.engine.lists() {
                for def in &l.rules().lists {
                    let n = l
                        .state()
                        .entities
                        .values()
                        .filter(|e| e.is_listed_on(&def.id))
                        .count();
                    m.set_list_size(&def.id, n as u64);
                }
            }
            // Lag per partition, from the end offsets the broker reports now.
            match self.end_offsets() {
                Ok(ends) => m.set_consumer_lag(ends.iter().map(|((topic, p), &high)| {
                    let next = self
                        .next
                        .get(&(topic.clone(), *p))
                        .copied()
                        .unwrap_or(0)
                        .max(0);
                    (topic.as_str(), *p, (high - next).max(0))
                })),
                Err(e) => debug!("reading end offsets for the lag: {e:#}"),
            }
        }
        // Lets the view refresh what depends on the lag (readiness).
        if let Some(cb) = self.on_scores.as_mut() {
            cb(&[]);
        }
        Ok(())
    }

    fn reached(&self, ends: &BTreeMap<(String, i32), i64>) -> bool {
        ends.iter().all(|(k, &high)| {
            let n = self.next.get(k).copied().unwrap_or(-1);
            high <= 0 || n >= high
        })
    }

    /// Takes in a checkpoint written meanwhile, and starts the next one
    /// when it is due (the loops call it after each batch).
    fn checkpoint_when_due(&mut self) -> anyhow::Result<()> {
        self.finish_checkpoint(false)?;
        if self.checkpoint_due() {
            self.start_checkpoint()?;
        }
        Ok(())
    }

    /// Whether to rescore after a read of `n` records: after every batch
    /// once live; while reading a backlog (full batches), at most every
    /// `engine.backlog_flush_ms`, and before a checkpoint is taken (it
    /// covers only what was published).
    fn flush_due(&self, n: usize, live: bool) -> bool {
        live || (n < self.cfg.engine.batch_max && self.backlog_reached())
            || self.last_flush.elapsed() >= Duration::from_millis(self.cfg.engine.backlog_flush_ms)
            || self.checkpoint_due()
    }

    /// Whether the backlog being read reached its end offsets (true when
    /// none is being read). A short batch before that is the reader
    /// waiting for a fetch, not the end of the backlog: rescoring then
    /// would score most entities twice.
    fn backlog_reached(&self) -> bool {
        self.backlog_ends.as_ref().is_none_or(|e| self.reached(e))
    }

    /// The checkpoint interval has passed and no checkpoint is being
    /// written.
    fn checkpoint_due(&self) -> bool {
        self.writing.is_none()
            && self.last_checkpoint.elapsed()
                >= Duration::from_millis(self.cfg.engine.checkpoint_interval_ms)
    }

    /// The one-shot job: reads up to the end offsets found now, publishes,
    /// checkpoints, then rejects what is still waiting for a registration.
    ///
    /// The end of a partition is the end offset the broker reports at start
    /// *and* a quiet consumer: no record for `catch_up_idle_ms`. The second
    /// rule is there because the test broker's end offsets (ListOffsets)
    /// lag behind what it holds; on a broker that answers exactly, records
    /// keep arriving past them only while producers are still writing.
    pub fn catch_up(&mut self) -> anyhow::Result<()> {
        if self.owned.is_some() {
            bail!("the one-shot job reads every partition: engine.group is for `serve`");
        }
        let ends = self.end_offsets()?;
        info!(partitions = ends.len(), "catching up to the end offsets");
        self.backlog_ends = Some(ends);
        let idle = Duration::from_millis(self.cfg.engine.catch_up_idle_ms);
        let mut quiet_since = Instant::now();
        // The next batch is read while this one is applied, scored and
        // published: reading alone kept one of two cores busy for about a
        // third of a backlog. Nothing changes in what is applied or when
        // offsets move, only when records leave the consumer's queue.
        let reader = self.reader();
        let mut batch = reader.read()?;
        loop {
            let (n, next) = self.step(&reader, batch, false, true)?;
            self.count_batch(n, &mut quiet_since);
            self.checkpoint_when_due()?;
            let Some(next) = next else { break };
            if next.is_empty() && self.backlog_reached() && quiet_since.elapsed() >= idle {
                break;
            }
            batch = next;
        }
        let finishing = Instant::now();
        self.flush()?;
        let flushed = Instant::now();
        let alerts = self.engine.evaluate_pending();
        let judged = Instant::now();
        let raised = alerts.len();
        // Logged beside the last checkpoint's writer (see
        // `start_checkpoint`).
        self.to_log.extend(alerts);
        self.checkpoint()?;
        self.stats.time.finish_ms = ms(finishing);
        debug!(
            flush_ms = ms_between(finishing, flushed),
            lists_ms = ms_between(flushed, judged),
            alerts = raised,
            checkpoint_and_log_ms = ms(judged),
            "caught up"
        );
        debug!(ends = ?self.backlog_ends, next = ?self.next, "caught up to");
        if let Some(l) = &self.lanes {
            debug!(waits = ?*l.waits.lock().unwrap_or_else(|p| p.into_inner()), "lanes");
        }
        // Held records stay held in the checkpoint (a later run may bring
        // their registration); this run reports them as unknown entities.
        for d in self.engine.pipe.finish() {
            self.publish_dead(d)?;
        }
        await_deliveries(&self.producer, Duration::from_secs(120))
            .context("waiting for the broker to acknowledge dead letters")?;
        Ok(())
    }

    /// The continuous engine: runs until `stop` is set, then checkpoints.
    ///
    /// It starts by reading the backlog found at start with the lists
    /// deferred, as `catch_up` does; the backlog ends at the end offsets
    /// found at start once the consumer is quiet for `catch_up_idle_ms` or
    /// returns less than a full batch. Then the lists are judged for
    /// everyone the backlog touched, and live after every batch from then on.
    pub fn serve(&mut self, stop: &AtomicBool) -> anyhow::Result<()> {
        self.backlog_ends = Some(self.end_offsets()?);
        let mut at = Serving {
            quiet_since: Instant::now(),
            // In a group, nothing is held before the first assignment.
            live: false,
        };
        if self.owned.is_some() {
            // In a group the assignment may change between two batches,
            // so each batch is read after the last one is done.
            while !stop.load(Ordering::Relaxed) {
                if self.follow_group()? {
                    // New partitions: their backlog is read before lists
                    // are judged live again.
                    self.backlog_ends = Some(self.end_offsets()?);
                    at.live = false;
                    at.quiet_since = Instant::now();
                }
                self.hear_relations()?;
                self.engine.set_as_of(self.cfg.engine.as_of_now());
                let n = self.read_batch()?;
                self.after_read(n, &mut at)?;
            }
        } else {
            // One process: the next batch is read while this one is
            // applied, scored and published (see `catch_up`), so records
            // that arrive meanwhile do not wait for the loop to come round.
            let reader = self.reader();
            let mut batch = reader.read()?;
            loop {
                // The batch read last is applied even when stopping: the
                // checkpoint below then covers everything read.
                let stopping = stop.load(Ordering::Relaxed);
                self.engine.set_as_of(self.cfg.engine.as_of_now());
                let (n, next) = self.step(&reader, batch, at.live, !stopping)?;
                self.after_flush(n, &mut at)?;
                match next {
                    Some(b) => batch = b,
                    None => break,
                }
            }
        }
        self.flush()?;
        self.checkpoint()
    }

    /// What `serve` does with a batch of `n` records once it is applied:
    /// rescore and publish, reject held records past their grace, judge
    /// the lists once the backlog is read, checkpoint when due.
    fn after_read(&mut self, n: usize, at: &mut Serving) -> anyhow::Result<()> {
        if self.flush_due(n, at.live) {
            self.flush()?;
        }
        self.after_flush(n, at)
    }

    /// [`Runner::after_read`] past the flush.
    fn after_flush(&mut self, n: usize, at: &mut Serving) -> anyhow::Result<()> {
        let idle = Duration::from_millis(self.cfg.engine.catch_up_idle_ms);
        if at.live {
            // Not while reading the backlog: a registration may be a few
            // records behind on another partition.
            self.expire_held()?;
        }
        self.count_batch(n, &mut at.quiet_since);
        if !at.live
            && self.backlog_reached()
            && (at.quiet_since.elapsed() >= idle || (n > 0 && n < self.cfg.engine.batch_max))
        {
            at.live = true;
            if let Some(l) = &self.lanes {
                l.set_patient(false);
            }
            self.engine.defer_lists(false);
            let alerts = self.engine.evaluate_pending();
            info!(
                alerts = alerts.len(),
                "backlog read: lists are judged live from now on"
            );
            self.log_alerts(&alerts)?;
        }
        self.settle_latencies();
        self.checkpoint_when_due()
    }

    /// Waits until the broker acknowledged everything sent so far (after
    /// a restart: the current records republished on restore).
    pub fn await_outputs(&self) -> anyhow::Result<()> {
        await_deliveries(&self.producer, Duration::from_secs(300))
    }

    /// The state, for the output files of the one-shot job.
    pub fn into_parts(self) -> (Pipeline, Vec<DeadLetter>, LoopStats) {
        (self.engine.into_pipeline(), self.dead, self.stats)
    }
}

/// Publishes a dead letter, keyed by its source position (so a replay
/// repeats the same key and content).
fn send_dead(
    producer: &BaseProducer<Deliveries>,
    topics: &Topics,
    stats: &mut LoopStats,
    dead: &mut Vec<DeadLetter>,
    d: DeadLetter,
) -> anyhow::Result<()> {
    let key = d.source.to_string();
    let payload = serde_json::to_vec(&d)?;
    Runner::send(producer, &topics.dead_letter, key.as_bytes(), &payload)?;
    stats.dead_letters_published += 1;
    dead.push(d);
    Ok(())
}

/// What an alert logger thread tells a checkpoint writer once its alerts
/// are in the log (synced) and handed to the producer: how many alerts the
/// log holds, and how many outputs had been enqueued by then (to be
/// acknowledged before the checkpoint covers them). An error if it could
/// not log them.
type Receipt = Result<(u64, u64), String>;

/// What the alert-logging thread hands back: the log, and the alerts it
/// logged and published with how long that took.
type LoggingDone = (
    tidewatch_webhook::AlertLog,
    anyhow::Result<(Vec<LoggedAlert>, f64)>,
);

/// Records read from the input topics, copied out of the consumer's
/// buffers, so that a batch can be applied while the next one is read.
/// The copy costs a few percent of reading a record.
#[derive(Debug)]
struct Batch {
    /// When the reading began.
    started: Instant,
    /// The records' bytes, end to end.
    bytes: Vec<u8>,
    reads: Vec<Read>,
    /// Producer timestamps of the records measured for latency
    /// (`latency_since_ms`), and their waits until read (ms).
    ts: Vec<i64>,
    arrivals: Vec<u32>,
    /// Time spent waiting in `poll`.
    poll_ms: f64,
}

/// One record of a [`Batch`]; its bytes end at `end`.
#[derive(Debug, Clone, Copy)]
struct Read {
    family: Family,
    partition: i32,
    offset: i64,
    end: usize,
}

impl Default for Batch {
    fn default() -> Batch {
        Batch {
            started: Instant::now(),
            bytes: Vec::new(),
            reads: Vec::new(),
            ts: Vec::new(),
            arrivals: Vec::new(),
            poll_ms: 0.0,
        }
    }
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.reads.is_empty()
    }

    /// The records with their bytes, in the order read.
    fn records(&self) -> impl Iterator<Item = (&Read, &[u8])> {
        let starts = std::iter::once(0).chain(self.reads.iter().map(|r| r.end));
        self.reads
            .iter()
            .zip(starts)
            .map(|(r, start)| (r, self.bytes.get(start..r.end).unwrap_or_default()))
    }
}

/// What reading a batch needs, owned beside the runner, so that a thread
/// can read a batch while the runner applies the one before (see
/// [`Runner::catch_up`]).
struct Reader {
    consumer: Arc<BaseConsumer<GroupContext>>,
    topics: Topics,
    skip_below: BTreeMap<(Family, i32), i64>,
    /// In a group: a poll that saw the assignment change ends the batch.
    grouped: bool,
    latency_since_ms: Option<i64>,
    /// How long a batch may wait for records, and its size.
    budget: Duration,
    max: usize,
    /// One process: the partitions read in time order (see [`Lanes`]).
    lanes: Option<Arc<Lanes>>,
}

impl Reader {
    /// Reads records until the batch is full or the budget is spent.
    fn read(&self) -> anyhow::Result<Batch> {
        self.read_into(Batch::default())
    }

    /// [`Reader::read`] into `b`, emptied first (its buffers are reused).
    fn read_into(&self, mut b: Batch) -> anyhow::Result<Batch> {
        let started = Instant::now();
        b.started = started;
        b.bytes.clear();
        b.reads.clear();
        b.ts.clear();
        b.arrivals.clear();
        b.poll_ms = 0.0;
        if let Some(lanes) = &self.lanes {
            let poll_ms = lanes.read(&self.consumer, started, self.budget, self.max, |f, h| {
                self.put(f, h.partition, h.offset, h.ts, &h.payload, &mut b)
            })?;
            b.poll_ms = poll_ms;
            return Ok(b);
        }
        while b.reads.len() < self.max {
            let left = self.budget.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            let t = Instant::now();
            let polled = self.consumer.poll(left);
            b.poll_ms += ms(t);
            if self.grouped && self.consumer.context().has_events() {
                // The assignment changed during this poll: what it
                // returned is read again after the rebuild.
                break;
            }
            let Some(m) = polled else {
                break;
            };
            let m = m.context("consuming")?;
            let Some(family) = self.topics.family_of(m.topic()) else {
                continue;
            };
            let (ts, payload) = (m.timestamp().to_millis(), m.payload().unwrap_or_default());
            self.put(family, m.partition(), m.offset(), ts, payload, &mut b);
        }
        Ok(b)
    }

    /// Puts a record read into `b` (unless it was applied before the
    /// checkpoint); returns how many it put there, 0 or 1.
    fn put(
        &self,
        family: Family,
        partition: i32,
        offset: i64,
        ts: Option<i64>,
        payload: &[u8],
        b: &mut Batch,
    ) -> usize {
        if self
            .skip_below
            .get(&(family, partition))
            .is_some_and(|&n| offset < n)
        {
            return 0;
        }
        if let Some(since) = self.latency_since_ms {
            if let Some(ts) = ts.filter(|t| *t >= since) {
                b.ts.push(ts);
                b.arrivals.push((unix_ms() - ts).max(0) as u32);
            }
        }
        b.bytes.extend_from_slice(payload);
        b.reads.push(Read {
            family,
            partition,
            offset,
            end: b.bytes.len(),
        });
        1
    }
}

/// Where `serve` is: when a record last came, and whether the backlog
/// (up to [`Runner::backlog_ends`]) is read.
#[derive(Debug)]
struct Serving {
    quiet_since: Instant,
    live: bool,
}

/// Where a consumed record came from, borrowed from its message.
#[derive(Debug, Clone, Copy)]
struct KafkaPos<'a> {
    topic: &'a str,
    partition: i32,
    offset: i64,
}

impl Locate for KafkaPos<'_> {
    fn locate(&self) -> SourcePos {
        SourcePos::Kafka {
            topic: self.topic.to_owned(),
            partition: self.partition,
            offset: self.offset,
        }
    }
}

/// The source of a record replayed from the checkpoint log.
#[derive(Debug, Clone, Copy)]
struct Logged<'a>(&'a SourcePos);

impl Locate for Logged<'_> {
    fn locate(&self) -> SourcePos {
        self.0.clone()
    }
}

/// What a restore from the checkpoint directory gives.
struct Restore {
    engine: Engine,
    cp: CheckpointDir,
    next: BTreeMap<(String, i32), i64>,
    rejected: BTreeMap<String, BTreeMap<String, u64>>,
    stats: LoopStats,
    expired_held: Vec<SourcePos>,
    alert_log: Option<tidewatch_webhook::AlertLog>,
    late_alerts: Vec<LoggedAlert>,
    /// The first flush after the replay (to publish).
    republish: tidewatch_engine::stream::Flushed,
}

/// Restores the latest checkpoint: the records of the `owned` input
/// partitions (all with `None`) replayed into a new engine, the list state,
/// and the alerts logged after the checkpoint. `heard`: relation facts a
/// previous engine of this process heard.
fn restore(
    cfg: &Config,
    policy: Policy,
    rules: Option<Rules>,
    owned: Option<&BTreeSet<i32>>,
    heard: Vec<tidewatch_state::RelationFact>,
) -> anyhow::Result<Restore> {
    let as_of = cfg.engine.as_of_now();
    let (cp, restored) = CheckpointDir::open(&cfg.engine.checkpoint_dir)?;
    let mut stats = LoopStats::default();
    let mut next = BTreeMap::new();
    let mut rejected = BTreeMap::new();
    let mut restored_lists = None;
    let mut expired_held = Vec::new();
    let restoring = restored.is_some();
    // Whether the replay rebuilds a state whose lists were all judged, with
    // the same policy, rules and entities: then they need not be judged
    // again, which for a large state takes a second before the first live
    // batch.
    let mut judged = restored.as_ref().is_some_and(|r| {
        let c = &r.checkpoint;
        c.lists_judged && c.policy_digest == policy.digest && owned.is_none() && heard.is_empty()
    });
    let mine = |s: &SourcePos| match (owned, s) {
        (None, _) => true,
        (Some(set), SourcePos::Kafka { partition, .. }) => set.contains(partition),
        (Some(_), _) => false,
    };
    let mut engine = match restored {
        None => Engine::new(policy, as_of),
        Some(r) => {
            let c = &r.checkpoint;
            info!(
                seq = c.seq,
                records = c.log_records,
                as_of = %c.as_of,
                "restoring checkpoint"
            );
            if c.policy_digest != policy.digest {
                info!(
                    old = %c.policy_digest,
                    new = %policy.digest,
                    "the scoring policy changed since the checkpoint: everyone is rescored"
                );
            }
            let mut engine = Engine::new(policy, c.as_of);
            let replay: Vec<(Family, &[u8], Logged<'_>)> = r
                .records
                .iter()
                .filter(|rec| mine(&rec.source))
                .map(|rec| (rec.family, rec.bytes.as_slice(), Logged(&rec.source)))
                .collect();
            stats.restored_records = replay.len() as u64;
            for d in engine.pipe.offer_batch(&replay) {
                // The record was accepted once; a different verdict
                // now means the rules changed under the log.
                warn!(source = %d.source, reason = d.reason.code(), "a logged record is now rejected");
            }
            for (fam, by_reason) in &c.rejected {
                for (reason, n) in by_reason {
                    let (Some(f), Some(rc)) = (family_name(fam), reason_code(reason)) else {
                        bail!("checkpoint names an unknown family {fam:?} or reason {reason:?}");
                    };
                    *engine.pipe.stats.records.entry(f).or_default() += n;
                    *engine.pipe.stats.rejected.entry(rc).or_default() += n;
                }
            }
            rejected = c.rejected.clone();
            let dropped = engine.pipe.drop_expired(&c.expired_held);
            if dropped > 0 {
                debug!(
                    dropped,
                    "held records that had expired before the checkpoint"
                );
            }
            expired_held = c.expired_held.clone();
            for o in &c.offsets {
                next.insert((o.topic.clone(), o.partition), o.next);
            }
            if let Some(bytes) = &r.lists {
                let unreadable = || {
                    format!(
                        "the list state of checkpoint {} in {} is unreadable",
                        c.seq,
                        cfg.engine.checkpoint_dir.display()
                    )
                };
                let mut snap: ListsSnapshot =
                    serde_json::from_slice(bytes).with_context(unreadable)?;
                for bytes in &r.lists_changes {
                    let changes: ListsChanges =
                        serde_json::from_slice(bytes).with_context(unreadable)?;
                    snap.apply(changes);
                }
                if let Some(n) = c.alerts_logged {
                    snap.alerts_logged = n;
                }
                restored_lists = Some(snap);
            }
            engine
        }
    };
    if cfg.engine.group {
        engine.share_relations();
        engine.hear(heard);
    }
    let mut alert_log = None;
    let mut late_alerts = Vec::new();
    if let Some(rules) = rules {
        let path = cfg.engine.checkpoint_dir.join(ALERT_LOG);
        let after = restored_lists.as_ref().map_or(0, |s| s.alerts_logged);
        judged &= restored_lists
            .as_ref()
            .is_some_and(|s| s.state.rules_version == rules.version);
        let mut lists = match restored_lists {
            Some(snap) => Lists::restore(rules, snap, &engine.pipe.store),
            None => Lists::new(rules),
        };
        let (log, late) = tidewatch_webhook::AlertLog::open_after(&path, after)?;
        late_alerts = late;
        lists.absorb(&late_alerts);
        if owned.is_some() {
            // Entities of partitions this member does not hold now.
            lists.park_others(&engine.pipe.store);
        }
        engine.set_lists(lists);
        // Lists are judged once the backlog is read (see `catch_up` and
        // `serve`).
        engine.defer_lists(true);
        alert_log = Some(log);
    }
    // Everything the checkpoint covers was published before it was
    // written, but records published after it and before the crash may
    // describe states the replay never passes through again (a listing
    // and its removal landing in one batch). Republishing every
    // entity's current record once puts the right record last for
    // every key.
    let mut republish = Default::default();
    if restoring {
        republish = engine.flush()?;
        if judged {
            engine.forget_pending();
        }
        engine.set_as_of(as_of);
    }
    Ok(Restore {
        engine,
        cp,
        next,
        rejected,
        stats,
        expired_held,
        alert_log,
        late_alerts,
        republish,
    })
}

/// A consumer of the whole `relations` topic, from its beginning: every
/// member hears every other's relation facts.
fn relations_reader(cfg: &Config, topic: &str) -> anyhow::Result<BaseConsumer> {
    let (consumer, tpl) = crate::snapshot::whole_topic(cfg, topic, "relations")?;
    consumer
        .assign(&tpl)
        .context("assigning the relations topic")?;
    Ok(consumer)
}

/// Where to start reading a partition whose next offset to apply is
/// `next`. Rewound: the test broker answers a fetch that starts inside a
/// record batch with nothing (or with the batches after it), so the engine
/// starts `rewind` records earlier and skips what it already applied.
pub(crate) fn resume_at(next: Option<i64>, rewind: i64) -> Offset {
    match next {
        Some(n) if n - rewind > 0 => Offset::Offset(n - rewind),
        _ => Offset::Beginning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The delivery reports settle a batch once they count past its last
    /// output, and not before; a batch whose outputs were all acknowledged
    /// before it was handed in settles at once.
    #[test]
    fn latencies_settle_when_the_reports_count_past_a_batch() {
        let d = Deliveries::default();
        let now = unix_ms();
        d.enqueued.store(3, Ordering::Relaxed);
        d.await_batch(vec![now - 1000, now - 2000]);
        d.enqueued.store(5, Ordering::Relaxed);
        d.await_batch(vec![now - 500]);
        let report = Deliveries::count_report;
        report(&d);
        report(&d);
        assert!(d.take_latencies().is_empty(), "two of three acknowledged");
        report(&d);
        let first = d.take_latencies();
        assert_eq!(first.len(), 2);
        assert!(first[0] >= 1000 && first[0] < 60_000, "{first:?}");
        assert!(first[1] >= 2000 && first[1] < 60_000, "{first:?}");
        report(&d);
        assert!(d.take_latencies().is_empty(), "four of five acknowledged");
        report(&d);
        assert_eq!(d.take_latencies().len(), 1);
        // Nothing sent since: settled on the spot.
        d.await_batch(vec![now]);
        assert_eq!(d.take_latencies().len(), 1);
    }
}
