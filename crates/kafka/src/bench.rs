//! Pieces of `tidewatch bench stream`: the broker's own rate for the same
//! reads and writes as the engine, with a plain rdkafka client, and a paced
//! producer for the latency test.

use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::runner::{Deliveries, Runner};
use crate::topics::Topics;

/// Reads `records` records from the input topics and writes `writes`
/// records of the same sizes to `out_topic`, as fast as a plain client can:
/// what the broker sustains alone for the engine's reads and writes.
/// Returns the seconds taken.
pub fn plain_client(
    cfg: &KafkaConfig,
    topics: &Topics,
    out_topic: &str,
    records: u64,
    writes: u64,
) -> anyhow::Result<f64> {
    // The same consumer settings as the engine's, so the comparison is of
    // the work, not of the fetch tuning.
    let group = format!("{}-plain-baseline", cfg.group_id);
    let consumer: BaseConsumer = cfg
        .client_config_with(&[
            ("group.id", &group),
            ("enable.auto.commit", "false"),
            ("queued.max.messages.kbytes", "65536"),
            ("fetch.wait.max.ms", "5"),
        ])
        .create()
        .context("creating the baseline consumer")?;
    let producer: BaseProducer<Deliveries> = cfg
        .client_config()
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "200000")
        .create_with_context(Deliveries::default())
        .context("creating the baseline producer")?;
    // Created first: producing to an unknown topic waits for its metadata.
    crate::topics::ensure_one(cfg, out_topic)?;
    let mut tpl = TopicPartitionList::new();
    for (_, t) in topics.inputs() {
        let md = consumer.fetch_metadata(Some(t), Duration::from_secs(10))?;
        let parts = md.topics().first().map_or(0, |x| x.partitions().len());
        for p in 0..parts as i32 {
            tpl.add_partition_offset(t, p, Offset::Beginning)?;
        }
    }
    consumer.assign(&tpl)?;
    // Write one output per `every` inputs, so the writes match the engine's.
    let every = (records / writes.max(1)).max(1);
    let start = Instant::now();
    let (mut read, mut written) = (0u64, 0u64);
    let mut idle_since = Instant::now();
    while read < records {
        // Short polls, as the engine's loop makes them.
        let Some(m) = consumer.poll(Duration::from_millis(50)) else {
            if idle_since.elapsed() > Duration::from_secs(10) {
                anyhow::bail!(
                    "the baseline read {read} of {records} records, then nothing for 10 s"
                );
            }
            continue;
        };
        idle_since = Instant::now();
        let m = m?;
        read += 1;
        if read % every == 0 && written < writes {
            let key = m.key().unwrap_or_default().to_vec();
            let payload = m.payload().unwrap_or_default().to_vec();
            Runner::send(&producer, out_topic, &key, &payload)?;
            written += 1;
        }
    }
    producer.flush(Duration::from_secs(120))?;
    Ok(start.elapsed().as_secs_f64())
}

/// One input record of the benchmark: (index of its family in
/// `Family::ALL`, key, bytes).
pub type Line = (usize, Option<String>, Vec<u8>);

/// Produces `lines` to the input topics as fast as the broker takes them
/// and waits for every acknowledgement. Returns the seconds taken.
pub fn fill(cfg: &KafkaConfig, topics: &Topics, lines: &[Line]) -> anyhow::Result<f64> {
    crate::topics::ensure(cfg, topics)?;
    let producer = crate::produce::bulk_producer(cfg)?;
    let inputs = topics.inputs();
    let start = Instant::now();
    for (f, key, bytes) in lines {
        let key = key.as_deref().unwrap_or("").as_bytes();
        Runner::send(&producer, inputs[*f].1, key, bytes)?;
    }
    crate::produce::all_acknowledged(&producer)?;
    Ok(start.elapsed().as_secs_f64())
}

/// Produces `lines` in order at `rate` records per second (each once; the
/// last ones are left out when `seconds` runs out first). Returns how many
/// were sent.
pub fn paced(
    cfg: &KafkaConfig,
    topics: &Topics,
    lines: &[Line],
    rate: u64,
    seconds: f64,
) -> anyhow::Result<u64> {
    let producer: BaseProducer<Deliveries> = cfg
        .client_config()
        .set("acks", "all")
        // librdkafka's default. At 1 ms the test broker falls behind on
        // the number of requests and acknowledges seconds late.
        .set("linger.ms", "5")
        .create_with_context(Deliveries::default())
        .context("creating the paced producer")?;
    let inputs = topics.inputs();
    let total = ((rate as f64 * seconds) as u64).min(lines.len() as u64);
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        // Where the schedule says we should be by now.
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        while sent < due {
            let (f, key, bytes) = &lines[sent as usize];
            let key = key.as_deref().unwrap_or("").as_bytes();
            Runner::send(&producer, inputs[*f].1, key, bytes)?;
            sent += 1;
        }
        crate::runner::serve_deliveries(&producer);
        std::thread::sleep(Duration::from_micros(500));
    }
    producer.flush(Duration::from_secs(120))?;
    Ok(sent)
}
