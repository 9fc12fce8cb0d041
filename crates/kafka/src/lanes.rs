//! Reading the input partitions in the order of their records' timestamps.
//!
//! A consumer that takes records as the fetches bring them reads about the
//! same number of bytes from every partition at a time. The three feeds'
//! records differ in size (credit records are the largest), so on a
//! backlog the topics drift apart in time: `credit-records` fell far
//! behind, and the events of entities whose registration had not been read
//! yet were held, up to 284,403 records at once in `bench stream` (bytes
//! and map entries: about 100 MB).
//!
//! Here each partition gets a queue of its own (librdkafka keeps fetching
//! into it up to `queued.max.messages.kbytes`) and a record of lookahead,
//! and the reader always takes the earliest of those records, as Kafka
//! Streams does. On equal timestamps the lowest lane goes first, and
//! `credit-records` comes first among the lanes, so a registration
//! produced in the same millisecond as its entity's first event is read
//! before it.
//!
//! While a backlog is read, a partition whose queue runs dry is waited for
//! while it holds more records by the high watermark of the last fetch
//! response (a fetch is on its way), or before anything is heard of it.
//! One that has caught up is not waited for, and once live none is: a live
//! record is read as soon as it is there. (The end offsets a ListOffsets
//! request returns cannot serve here: the test broker's lag far behind
//! what it holds.)
//!
//! Nothing here changes *what* is read or applied, only the order across
//! partitions: within a partition records come in offset order, and the
//! offsets committed are those of what was read.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use tidewatch_model::Family;

use crate::group::GroupContext;
use crate::runner::ms;

/// How long, in all, a partition that has not brought its first record is
/// waited for while nothing comes from it (its first fetch may follow an
/// offset lookup; until it brings a record nothing is known of its time).
/// A partition whose records never come holds the others up this long once.
const FIRST_PATIENCE: Duration = Duration::from_secs(2);

/// How long, in all, a partition that has brought records and is known to
/// hold more is waited for while nothing comes from it. A fetch is on its
/// way (librdkafka fetches again once a queue drains below its
/// thresholds), and reading the others meanwhile would take their records
/// out of time order; Kafka Streams also waits for a partition it knows
/// has more. Short: offsets a consumer never sees (an aborted transaction's
/// records) look like more to come, and each such gap costs this once.
const PATIENCE: Duration = Duration::from_millis(200);

/// A wait is made in slices this long, the partition's high watermark
/// looked at again between them.
const SLICE: Duration = Duration::from_millis(5);

/// Whether a partition read up to `next` (-1: from its beginning, nothing
/// read yet) holds records not read, by the watermarks the last fetch
/// response reported (`None`: no fetch response yet). A single offset left
/// does not count: it is most often a transaction's commit marker, which
/// takes an offset and is never delivered.
fn behind(next: i64, watermarks: Option<(i64, i64)>) -> Option<bool> {
    let (low, high) = watermarks?;
    Some(high > next.max(low).max(0) + 1)
}

/// How long to wait for a partition whose queue is empty: while it is
/// behind or not yet heard of, a slice of the batch's `left`, until its
/// patience (`FIRST_PATIENCE` before its first record, `PATIENCE` after)
/// is spent in vain.
fn patience(behind: Option<bool>, delivered: bool, waited: Duration, left: Duration) -> Duration {
    if behind == Some(false) {
        return Duration::ZERO;
    }
    let limit = if delivered { PATIENCE } else { FIRST_PATIENCE };
    left.min(SLICE).min(limit.saturating_sub(waited))
}

/// Which lane's record to take next: the earliest by timestamp among the
/// lanes that have one, the lowest lane on a tie.
fn pick(heads: impl IntoIterator<Item = Option<i64>>) -> Option<usize> {
    heads
        .into_iter()
        .enumerate()
        .filter_map(|(i, ts)| ts.map(|ts| (ts, i)))
        .min()
        .map(|(_, i)| i)
}

/// Set by librdkafka when a lane's queue goes from empty to not empty.
#[derive(Debug, Default)]
struct Arrived {
    any: AtomicBool,
    lock: Mutex<()>,
    cond: Condvar,
}

impl Arrived {
    fn notify(&self) {
        self.any.store(true, Ordering::SeqCst);
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.cond.notify_all();
    }

    /// Whether a record arrived since the last call (or `wait`).
    fn take(&self) -> bool {
        self.any.swap(false, Ordering::SeqCst)
    }

    /// Waits until a record arrived since the last `take`, at most `d`.
    fn wait(&self, d: Duration) {
        let g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let _g = self
            .cond
            .wait_timeout_while(g, d, |_| !self.any.load(Ordering::SeqCst))
            .unwrap_or_else(|p| p.into_inner());
        self.any.store(false, Ordering::SeqCst);
    }
}

struct Lane {
    family: Family,
    /// As librdkafka takes it.
    topic: CString,
    partition: i32,
    queue: PartitionQueue<GroupContext>,
    /// Offset of the next record to read; -1 from the beginning, before
    /// the first.
    next: i64,
    /// Waited in vain since the last record came.
    waited: Duration,
    /// Whether a record came from the lane yet.
    delivered: bool,
    /// The next record, read from the queue but not yet taken.
    head: Option<Head>,
}

/// A record read from a queue, owned: a lane's record of lookahead, and
/// what [`Lanes::read`] hands on.
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch, when the record carries a timestamp.
    pub ts: Option<i64>,
    pub payload: Vec<u8>,
}

impl Head {
    /// `m`, in a spare buffer when there is one.
    fn of(m: &BorrowedMessage<'_>, spare: &mut Vec<Head>) -> Head {
        let mut h = spare.pop().unwrap_or_default();
        h.partition = m.partition();
        h.offset = m.offset();
        h.ts = m.timestamp().to_millis();
        h.payload.clear();
        h.payload.extend_from_slice(m.payload().unwrap_or_default());
        h
    }

    /// Where the record stands in time order: one without a timestamp
    /// first.
    fn order(&self) -> i64 {
        self.ts.unwrap_or(i64::MIN)
    }
}

impl Lane {
    /// [`behind`], by librdkafka's cache of the partition's watermarks (no
    /// request to the broker).
    fn behind(&self, consumer: &BaseConsumer<GroupContext>) -> Option<bool> {
        let (mut low, mut high) = (-1i64, -1i64);
        // SAFETY: the client pointer is valid while `consumer` is borrowed,
        // the topic is a NUL-terminated string that outlives the call, and
        // librdkafka writes only through the two out-pointers, which point
        // at live locals.
        #[allow(unsafe_code)]
        let err = unsafe {
            rdkafka::bindings::rd_kafka_get_watermark_offsets(
                consumer.client().native_ptr(),
                self.topic.as_ptr(),
                self.partition,
                &mut low,
                &mut high,
            )
        };
        let known =
            err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0;
        behind(self.next, known.then_some((low, high)))
    }
}

/// The input partitions, each read from a queue of its own.
pub(crate) struct Lanes {
    lanes: Mutex<LaneState>,
    arrived: Arc<Arrived>,
    /// Whether a partition that may hold more is waited for: while a
    /// backlog is read. Live, a record is read as soon as it is there: a
    /// wait for another partition's fetch would only add to its latency.
    patient: AtomicBool,
    /// Waits for a lane that may hold more that came back empty: how many
    /// and their milliseconds; waits with every lane empty.
    pub(crate) waits: Mutex<LaneWaits>,
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LaneWaits {
    pub behind: u64,
    pub behind_ms: f64,
    pub all_empty: u64,
}

struct LaneState {
    lanes: Vec<Lane>,
    /// Heads taken, their buffers kept for the next ones.
    spare: Vec<Head>,
}

impl std::fmt::Debug for Lanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lanes").finish_non_exhaustive()
    }
}

impl Lanes {
    /// Gives each of `partitions` (assigned just before, at the offset
    /// given, -1 for the beginning) a queue of its own, `credit-records`
    /// first. Records fetched before the split are still in the consumer's
    /// queue: [`Lanes::read`] takes them first.
    pub(crate) fn split(
        consumer: &Arc<BaseConsumer<GroupContext>>,
        partitions: &[(Family, String, i32, i64)],
    ) -> anyhow::Result<Lanes> {
        let arrived = Arc::new(Arrived::default());
        let mut sorted: Vec<&(Family, String, i32, i64)> = partitions.iter().collect();
        // Registrations travel on credit-records: on equal timestamps they
        // come before the events that need them.
        sorted.sort_by_key(|(f, t, p, _)| (*f != Family::CreditRecords, f.index(), t.clone(), *p));
        let mut lanes = Vec::with_capacity(sorted.len());
        for (family, topic, partition, start) in sorted {
            let mut queue = consumer
                .split_partition_queue(topic, *partition)
                .with_context(|| format!("a queue of its own for {topic}/{partition}"))?;
            let a = Arc::clone(&arrived);
            queue.set_nonempty_callback(move || a.notify());
            lanes.push(Lane {
                family: *family,
                topic: CString::new(topic.as_str())
                    .with_context(|| format!("topic name {topic:?}"))?,
                partition: *partition,
                queue,
                next: *start,
                waited: Duration::ZERO,
                delivered: false,
                head: None,
            });
        }
        Ok(Lanes {
            lanes: Mutex::new(LaneState {
                lanes,
                spare: Vec::new(),
            }),
            arrived,
            patient: AtomicBool::new(true),
            waits: Mutex::new(LaneWaits::default()),
        })
    }

    /// Waits for partitions that may hold more (a backlog is read) or not
    /// (live).
    pub(crate) fn set_patient(&self, patient: bool) {
        self.patient.store(patient, Ordering::Relaxed);
    }

    /// Reads up to `max` records within `budget` from `started`, in
    /// timestamp order across the lanes, handing each to `take` (with its
    /// family). Returns the milliseconds spent waiting for records.
    pub(crate) fn read(
        &self,
        consumer: &BaseConsumer<GroupContext>,
        started: Instant,
        budget: Duration,
        max: usize,
        mut take: impl FnMut(Family, &Head) -> usize,
    ) -> anyhow::Result<f64> {
        let mut s = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let LaneState { lanes, spare } = &mut *s;
        let patient = self.patient.load(Ordering::Relaxed);
        let mut taken = 0usize;
        let mut poll_ms = 0.0;
        // The consumer's own queue: served for its events, and holding
        // whatever was fetched before the lanes were split (earlier than
        // anything in their queues).
        while let Some(m) = consumer.poll(Duration::ZERO) {
            let m = m.context("consuming")?;
            if let Some(l) = lanes.iter_mut().find(|l| {
                l.partition == m.partition() && l.topic.as_bytes() == m.topic().as_bytes()
            }) {
                let h = Head::of(&m, spare);
                l.next = h.offset + 1;
                taken += take(l.family, &h);
                spare.push(h);
            }
        }
        self.arrived.take();
        // Lanes with nothing to read now, until a record arrives on any.
        let mut dry = vec![false; lanes.len()];
        while taken < max {
            if started.elapsed() >= budget {
                break;
            }
            if self.arrived.take() {
                dry.fill(false);
            }
            // Every lane without a record of lookahead reads one, waiting
            // for it while its partition may hold more: its next record
            // may be earlier than every other lane's.
            for (lane, dry) in lanes.iter_mut().zip(&mut dry) {
                let mut wait = Duration::ZERO;
                while lane.head.is_none() && !*dry {
                    let t = Instant::now();
                    let polled = lane.queue.poll(wait);
                    let took = t.elapsed();
                    if !wait.is_zero() {
                        poll_ms += took.as_secs_f64() * 1e3;
                    }
                    if let Some(m) = polled {
                        lane.head = Some(Head::of(&m.context("consuming")?, spare));
                        lane.waited = Duration::ZERO;
                        lane.delivered = true;
                    } else {
                        if !wait.is_zero() {
                            lane.waited += took;
                            let mut w = self.waits.lock().unwrap_or_else(|p| p.into_inner());
                            w.behind += 1;
                            w.behind_ms += took.as_secs_f64() * 1e3;
                        }
                        let left = budget.saturating_sub(started.elapsed());
                        wait = if patient {
                            patience(lane.behind(consumer), lane.delivered, lane.waited, left)
                        } else {
                            Duration::ZERO
                        };
                        *dry = wait.is_zero();
                    }
                }
            }
            let Some(i) = pick(lanes.iter().map(|l| l.head.as_ref().map(Head::order))) else {
                // Every lane is empty: wait for a record on any of them.
                let left = budget.saturating_sub(started.elapsed());
                if left.is_zero() {
                    break;
                }
                let t = Instant::now();
                self.waits
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .all_empty += 1;
                self.arrived.wait(left);
                poll_ms += ms(t);
                dry.fill(false);
                continue;
            };
            let lane = &mut lanes[i];
            if let Some(h) = lane.head.take() {
                lane.next = h.offset + 1;
                taken += take(lane.family, &h);
                spare.push(h);
            }
        }
        Ok(poll_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_record_is_taken_next() {
        assert_eq!(pick([Some(30), Some(10), Some(20)]), Some(1));
        // A lane with nothing to read now is passed over.
        assert_eq!(pick([Some(30), None, Some(20)]), Some(2));
        assert_eq!(pick([None, None]), None);
        assert_eq!(pick(Vec::<Option<i64>>::new()), None);
    }

    #[test]
    fn ties_go_to_the_lowest_lane_and_records_without_a_time_come_first() {
        // Lane 0 is credit-records: a registration stamped in the same
        // millisecond as an event is read before it.
        assert_eq!(pick([Some(5), Some(5), Some(5)]), Some(0));
        assert_eq!(pick([None, Some(5), Some(5)]), Some(1));
        assert_eq!(pick([Some(5), Some(i64::MIN), Some(3)]), Some(1));
    }

    #[test]
    fn a_partition_is_behind_while_its_high_watermark_is_past_what_was_read() {
        assert_eq!(behind(-1, None), None, "no fetch response yet");
        assert_eq!(behind(-1, Some((0, 0))), Some(false), "an empty partition");
        assert_eq!(behind(-1, Some((0, 5))), Some(true));
        assert_eq!(behind(3, Some((0, 5))), Some(true));
        assert_eq!(behind(5, Some((0, 5))), Some(false), "caught up");
        // One offset left: a commit marker, not waited for.
        assert_eq!(behind(4, Some((0, 5))), Some(false));
        // Records below the log start are gone: nothing to wait for.
        assert_eq!(behind(-1, Some((5, 5))), Some(false));
        assert_eq!(behind(2, Some((5, 9))), Some(true));
    }

    #[test]
    fn a_partition_is_waited_for_in_slices_while_it_may_hold_more() {
        let ms = Duration::from_millis;
        let left = ms(50);
        assert_eq!(patience(Some(false), true, ms(0), left), ms(0), "caught up");
        assert_eq!(patience(Some(true), true, ms(0), left), SLICE);
        assert_eq!(
            patience(None, false, ms(0), left),
            SLICE,
            "not heard of yet"
        );
        assert_eq!(
            patience(Some(true), true, ms(0), ms(2)),
            ms(2),
            "the batch's time"
        );
        assert_eq!(patience(Some(true), true, PATIENCE - ms(1), left), ms(1));
        assert_eq!(
            patience(Some(true), true, PATIENCE, left),
            ms(0),
            "given up"
        );
        // Before its first record a partition is given longer.
        assert_eq!(patience(Some(true), false, PATIENCE, left), SLICE);
        assert_eq!(
            patience(None, false, FIRST_PATIENCE, left),
            ms(0),
            "given up"
        );
    }

    #[test]
    fn a_wait_ends_when_a_record_arrives_or_at_its_limit() {
        let a = Arc::new(Arrived::default());
        let t = Instant::now();
        a.wait(Duration::from_millis(30));
        assert!(t.elapsed() >= Duration::from_millis(30));
        // Arrived before the wait: it returns at once, and takes the news.
        a.notify();
        let t = Instant::now();
        a.wait(Duration::from_secs(10));
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(!a.take());
        let b = Arc::clone(&a);
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            b.notify();
        });
        let t = Instant::now();
        a.wait(Duration::from_secs(10));
        assert!(t.elapsed() < Duration::from_secs(5));
        h.join().ok();
        // Taken once.
        a.notify();
        assert!(a.take());
        assert!(!a.take());
    }
}
