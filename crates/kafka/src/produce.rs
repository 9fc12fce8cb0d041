//! The producer tool: loads NDJSON event files (seeds or generated) into
//! the input topics, keyed by USCC so an entity's events share a partition.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde::{Deserialize, Serialize};
use tidewatch_ingest::ndjson;
use tidewatch_model::Family;

use crate::config::KafkaConfig;
use crate::runner::Deliveries;
use crate::topics::{self, Topics};

/// What was produced.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Produced {
    pub records: u64,
    pub bytes: u64,
    /// Records without a readable `uscc` (bad records), sent without a key.
    pub unkeyed: u64,
    pub seconds: f64,
}

#[derive(Deserialize)]
struct KeyOnly<'a> {
    #[serde(borrow)]
    uscc: Option<&'a str>,
}

/// The partition key of a record: its `uscc` field when it has one.
pub fn key_of(line: &[u8]) -> Option<&str> {
    serde_json::from_slice::<KeyOnly>(line)
        .ok()
        .and_then(|k| k.uscc)
}

/// A producer for loading records as fast as the broker takes them.
pub(crate) fn bulk_producer(cfg: &KafkaConfig) -> anyhow::Result<BaseProducer<Deliveries>> {
    cfg.client_config()
        .set("acks", "all")
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "500000")
        .create_with_context(Deliveries::default())
        .context("creating the Kafka producer")
}

/// Waits until the broker acknowledged every record sent, and fails if it
/// refused any.
pub(crate) fn all_acknowledged(producer: &BaseProducer<Deliveries>) -> anyhow::Result<()> {
    crate::runner::await_deliveries(producer, Duration::from_secs(300))
        .context("waiting for the broker to acknowledge")?;
    let failed = producer.context().failed_count();
    anyhow::ensure!(
        failed == 0,
        "{failed} records were not acknowledged by the broker"
    );
    Ok(())
}

/// Produces `dir`'s `inspections.ndjson`, `complaints.ndjson` and
/// `credit-records.ndjson` (registrations first, as a live feed mostly
/// delivers them) to their topics, and waits for every acknowledgement.
pub fn produce_dir(cfg: &KafkaConfig, topics: &Topics, dir: &Path) -> anyhow::Result<Produced> {
    topics::ensure(cfg, topics)?;
    let producer = bulk_producer(cfg)?;
    let t = Instant::now();
    let mut out = Produced::default();
    for family in [
        Family::CreditRecords,
        Family::Inspections,
        Family::Complaints,
    ] {
        let path = dir.join(format!("{}.ndjson", family.as_str()));
        let topic = topics.input(family);
        let mut err = None;
        ndjson::for_each_line(&path, |_, line| {
            if err.is_some() {
                return;
            }
            let key = key_of(line);
            out.unkeyed += u64::from(key.is_none());
            let mut rec: BaseRecord<'_, str, [u8]> = BaseRecord::to(topic).payload(line);
            if let Some(k) = key {
                rec = rec.key(k);
            }
            loop {
                match producer.send(rec) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        rec = r;
                        producer.poll(Duration::from_millis(5));
                    }
                    Err((e, _)) => {
                        err = Some(anyhow::anyhow!("producing to {topic}: {e}"));
                        return;
                    }
                }
            }
            out.records += 1;
            out.bytes += line.len() as u64;
        })
        .with_context(|| format!("reading {}", path.display()))?;
        if let Some(e) = err {
            return Err(e);
        }
    }
    all_acknowledged(&producer)?;
    out.seconds = t.elapsed().as_secs_f64();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_the_uscc_field() {
        assert_eq!(
            key_of(br#"{"event_id":"x","uscc":"91330900MA2A0B1C2D"}"#),
            Some("91330900MA2A0B1C2D")
        );
        assert_eq!(key_of(br#"{"event_id":"x"}"#), None);
        assert_eq!(key_of(b"not json"), None);
    }
}
