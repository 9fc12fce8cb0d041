//! One engine among several: the consumer-group side of the loop.
//!
//! Members of one group split the input partitions with Kafka's `range`
//! assignor, which gives a member the same partition numbers of every input
//! topic (they share a partition count), so an entity's three feeds stay
//! with one member. The rebalance callback assigns each partition at the
//! member's own checkpointed offset (the group's committed offset is the
//! previous owner's, whose state this member does not have); the loop then
//! rebuilds its state for the partitions it now owns (see
//! `Runner::rebuild`).
//!
//! The assignment is checked rather than trusted: the test broker once gave
//! a member that joined a busy group late partitions another member still
//! held. A member compares what it holds with what the `range` assignor
//! gives it among the group's current members, and rejoins when it holds
//! more (see [`expected_range`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tracing::warn;

/// A change of this member's assignment, as the loop sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupEvent {
    /// Partitions assigned (every topic's, as the callback received them).
    Assigned(Vec<(String, i32)>),
    /// Everything revoked.
    Revoked,
}

/// The consumer's context: assigns at the member's own offsets and tells
/// the loop about every change.
#[derive(Debug, Default)]
pub struct GroupContext {
    /// The next offset per partition from the latest checkpoint (every
    /// partition this member ever held).
    starts: Mutex<BTreeMap<(String, i32), i64>>,
    /// Records re-read (and skipped) before each checkpointed offset.
    pub rewind: i64,
    events: Mutex<Vec<GroupEvent>>,
    /// Set with each event: the loop checks it after every poll, without
    /// taking the lock.
    pending: AtomicBool,
}

impl GroupContext {
    pub fn new(rewind: i64) -> GroupContext {
        GroupContext {
            rewind,
            ..GroupContext::default()
        }
    }

    /// Changes since the last call, in order.
    pub fn take_events(&self) -> Vec<GroupEvent> {
        self.pending.store(false, Ordering::Release);
        self.events
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }

    pub fn has_events(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    fn push(&self, e: GroupEvent) {
        if let Ok(mut v) = self.events.lock() {
            v.push(e);
        }
        self.pending.store(true, Ordering::Release);
    }

    /// Takes the offsets of the latest checkpoint as where partitions the
    /// group assigns from now on start.
    pub fn set_starts(&self, next: &BTreeMap<(String, i32), i64>) {
        if let Ok(mut s) = self.starts.lock() {
            s.clone_from(next);
        }
    }

    /// Where to start reading a partition.
    pub fn start_of(&self, topic: &str, partition: i32) -> Offset {
        let next = self
            .starts
            .lock()
            .ok()
            .and_then(|s| s.get(&(topic.to_owned(), partition)).copied());
        crate::runner::resume_at(next, self.rewind)
    }
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let got: Vec<(String, i32)> = tpl
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_owned(), e.partition()))
                    .collect();
                for (t, p) in &got {
                    if let Err(e) = tpl.set_partition_offset(t, *p, self.start_of(t, *p)) {
                        warn!("setting the start of {t}/{p}: {e}");
                    }
                }
                if let Err(e) = consumer.assign(tpl) {
                    warn!("taking the group's assignment: {e}");
                }
                self.push(GroupEvent::Assigned(got));
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                if let Err(e) = consumer.unassign() {
                    warn!("giving up partitions: {e}");
                }
                self.push(GroupEvent::Revoked);
            }
            other => {
                warn!("rebalance failed: {other:?}; holding nothing until the next one");
                let _ = consumer.unassign();
                self.push(GroupEvent::Revoked);
            }
        }
    }
}

/// The partitions Kafka's `range` assignor gives `member` of a topic with
/// `partitions` partitions among `members` (member ids, any order): members
/// sorted by id, each a contiguous run, the first ones one more when it
/// does not divide. `None` when `member` is not among them.
pub fn expected_range(members: &[String], member: &str, partitions: i32) -> Option<BTreeSet<i32>> {
    let mut sorted: Vec<&str> = members.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let i = sorted.iter().position(|m| *m == member)? as i32;
    let m = sorted.len() as i32;
    let (per, extra) = (partitions / m, partitions % m);
    let start = i * per + i.min(extra);
    let len = per + i32::from(i < extra);
    Some((start..start + len).collect())
}

/// The partition numbers this member holds of each input topic, when they
/// are the same for all (an entity's feeds must stay together); otherwise
/// what differs.
pub fn co_partitioned(
    assigned: &[(String, i32)],
    inputs: &[&str],
) -> Result<BTreeSet<i32>, String> {
    let mut per: BTreeMap<&str, BTreeSet<i32>> =
        inputs.iter().map(|t| (*t, BTreeSet::new())).collect();
    for (t, p) in assigned {
        if let Some(s) = per.get_mut(t.as_str()) {
            s.insert(*p);
        }
    }
    let mut sets = per.values();
    let first = sets.next().cloned().unwrap_or_default();
    if sets.all(|s| *s == first) {
        Ok(first)
    } else {
        Err(format!(
            "the input topics' partitions were split differently ({per:?}); \
             the group must use the range assignor (partition.assignment.strategy = \"range\") \
             and the input topics one partition count"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn range_splits_like_kafka() {
        let m = ids(&["b-2", "a-1", "c-3"]);
        // 4 partitions, 3 members: a gets 0-1, b 2, c 3.
        assert_eq!(expected_range(&m, "a-1", 4), Some([0, 1].into()));
        assert_eq!(expected_range(&m, "b-2", 4), Some([2].into()));
        assert_eq!(expected_range(&m, "c-3", 4), Some([3].into()));
        assert_eq!(expected_range(&m, "d-4", 4), None);
        // More members than partitions: the last ones get nothing.
        assert_eq!(expected_range(&m, "c-3", 2), Some(BTreeSet::new()));
        assert_eq!(expected_range(&ids(&["x"]), "x", 4), Some((0..4).collect()));
        // Every partition exactly once.
        for n in 1..10 {
            for k in 1..6 {
                let m: Vec<String> = (0..k).map(|i| format!("m{i}")).collect();
                let mut all = Vec::new();
                for id in &m {
                    all.extend(expected_range(&m, id, n).unwrap_or_default());
                }
                all.sort_unstable();
                assert_eq!(
                    all,
                    (0..n).collect::<Vec<_>>(),
                    "{n} partitions, {k} members"
                );
            }
        }
    }

    #[test]
    fn inputs_must_split_alike() {
        let a = |t: &str, p: i32| (t.to_owned(), p);
        let inputs = ["i", "c", "r"];
        let same = [
            a("i", 0),
            a("c", 0),
            a("r", 0),
            a("i", 2),
            a("c", 2),
            a("r", 2),
        ];
        assert_eq!(co_partitioned(&same, &inputs), Ok([0, 2].into()));
        let split = [a("i", 0), a("c", 1), a("r", 0)];
        let e = co_partitioned(&split, &inputs).unwrap_err();
        assert!(e.contains("range"), "{e}");
        assert_eq!(co_partitioned(&[], &inputs), Ok(BTreeSet::new()));
    }
}
