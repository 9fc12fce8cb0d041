//! Reading a topic as it stands: every partition from the beginning to its
//! end (the `scores` topic for a draw's population, `inspections` for a
//! draw's status), and publishing a draw's records to `samples`.
//!
//! The end of a partition is, as in [`crate::runner::Runner::catch_up`], the
//! end offset the broker reports at the start *and* a quiet consumer (no
//! record for `engine.catch_up_idle_ms`): the test broker's end offsets lag
//! behind what it holds. Reading always starts at the beginning of each
//! partition, never at an offset: the test broker answers a fetch that
//! starts inside a producer's record batch with nothing.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::Config;
use crate::runner::{Deliveries, Runner};
use crate::topics;

use crate::topics::META_TIMEOUT;

/// One record read from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
}

/// A consumer for reading all of `topic` (its group, `<group_id>-<role>`,
/// is never subscribed or committed: librdkafka only wants one), and every
/// partition of the topic from its beginning, to assign.
pub(crate) fn whole_topic(
    cfg: &Config,
    topic: &str,
    role: &str,
) -> anyhow::Result<(BaseConsumer, TopicPartitionList)> {
    let consumer: BaseConsumer = cfg
        .kafka
        .client_config_with(&[
            ("group.id", &format!("{}-{role}", cfg.kafka.group_id)),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("fetch.wait.max.ms", "20"),
        ])
        .create()
        .with_context(|| format!("creating a consumer of {topic}"))?;
    let parts = topics::partition_count(&consumer, topic, &cfg.kafka.brokers)?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..parts {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    Ok((consumer, tpl))
}

/// Calls `each` with every record of `topic`, partition by partition in
/// offset order within a partition (partitions interleave). Returns how
/// many records were read. A topic that does not exist is an error.
pub fn read_topic(
    cfg: &Config,
    topic: &str,
    mut each: impl FnMut(TopicRecord),
) -> anyhow::Result<u64> {
    let (consumer, tpl) = whole_topic(cfg, topic, "reader")?;
    let mut ends_q = TopicPartitionList::new();
    for e in tpl.elements() {
        ends_q.add_partition_offset(topic, e.partition(), Offset::End)?;
    }
    let ends: BTreeMap<i32, i64> = consumer
        .offsets_for_times(ends_q, META_TIMEOUT)
        .with_context(|| format!("reading the end offsets of {topic}"))?
        .elements()
        .iter()
        .map(|e| {
            let high = match e.offset() {
                Offset::Offset(n) => n,
                _ => 0,
            };
            (e.partition(), high)
        })
        .collect();
    consumer
        .assign(&tpl)
        .with_context(|| format!("assigning the partitions of {topic}"))?;
    let idle = Duration::from_millis(cfg.engine.catch_up_idle_ms);
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let mut quiet_since = Instant::now();
    let mut n = 0u64;
    loop {
        let reached = ends
            .iter()
            .all(|(p, &high)| high <= 0 || next.get(p).is_some_and(|&o| o >= high));
        if reached && quiet_since.elapsed() >= idle {
            break;
        }
        let Some(m) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = m.with_context(|| format!("reading {topic}"))?;
        quiet_since = Instant::now();
        next.insert(m.partition(), m.offset() + 1);
        n += 1;
        each(TopicRecord {
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            payload: m.payload().unwrap_or_default().to_vec(),
        });
    }
    Ok(n)
}

/// The last record per key of `topic` (what a compacted topic keeps);
/// keys that are not UTF-8 and records without a key are left out.
pub fn last_per_key(cfg: &Config, topic: &str) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    // Within a partition later offsets win; a key lives in one partition.
    let mut by_key: BTreeMap<String, (i32, i64, Vec<u8>)> = BTreeMap::new();
    read_topic(cfg, topic, |r| {
        let Some(key) = r.key.and_then(|k| String::from_utf8(k).ok()) else {
            return;
        };
        match by_key.get(&key) {
            Some((p, o, _)) if *p == r.partition && *o > r.offset => {}
            _ => {
                by_key.insert(key, (r.partition, r.offset, r.payload));
            }
        }
    })?;
    Ok(by_key.into_iter().map(|(k, (_, _, v))| (k, v)).collect())
}

/// Publishes keyed records to `topic` (created if missing, with
/// `kafka.partitions` partitions) and waits until the broker has
/// acknowledged every one.
pub fn publish(cfg: &Config, topic: &str, records: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
    topics::ensure_one(&cfg.kafka, topic)?;
    let producer: BaseProducer<Deliveries> = cfg
        .kafka
        .client_config_with(&[("acks", "all"), ("linger.ms", "5")])
        .create_with_context(Deliveries::default())
        .context("creating the Kafka producer")?;
    for (key, payload) in records {
        Runner::send(&producer, topic, key.as_bytes(), payload)?;
    }
    producer
        .flush(Duration::from_secs(120))
        .with_context(|| format!("waiting for the broker to acknowledge {topic}"))?;
    let failed = producer.context().failed_count();
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} records to {topic} were not acknowledged by the broker",
        records.len()
    );
    Ok(())
}
