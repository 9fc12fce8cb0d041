//! Topic names under a prefix, and creating them.

use std::time::Duration;

use anyhow::Context;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::types::RDKafkaErrorCode;
use tidewatch_model::Family;

use crate::config::KafkaConfig;

/// The engine's topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub inspections: String,
    pub complaints: String,
    pub credit_records: String,
    /// Keyed by USCC; meant for a compacted topic (last record per key).
    pub scores: String,
    pub dead_letter: String,
    /// List alerts, keyed by USCC (an entity's alerts stay in order).
    pub alerts: String,
    /// A draw's chosen (and replaced) entities, keyed by USCC; one record
    /// per entity per draw, with a content id (not compacted: an entity can
    /// be in several draws).
    pub samples: String,
    /// Relation facts of the members of a group, keyed by legal
    /// representative key (the repartition topic of the relation feature).
    pub relations: String,
}

impl Topics {
    pub fn new(prefix: &str) -> Topics {
        Topics {
            inspections: format!("{prefix}inspections"),
            complaints: format!("{prefix}complaints"),
            credit_records: format!("{prefix}credit-records"),
            scores: format!("{prefix}scores"),
            dead_letter: format!("{prefix}dead-letter"),
            alerts: format!("{prefix}alerts"),
            samples: format!("{prefix}samples"),
            relations: format!("{prefix}relations"),
        }
    }

    pub fn input(&self, f: Family) -> &str {
        match f {
            Family::Inspections => &self.inspections,
            Family::Complaints => &self.complaints,
            Family::CreditRecords => &self.credit_records,
        }
    }

    pub fn inputs(&self) -> [(Family, &str); 3] {
        Family::ALL.map(|f| (f, self.input(f)))
    }

    /// The input topics' names (what the consumer group subscribes to).
    pub fn input_names(&self) -> [&str; 3] {
        Family::ALL.map(|f| self.input(f))
    }

    pub fn family_of(&self, topic: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| self.input(*f) == topic)
    }
}

/// How long a metadata or offsets request may take.
pub const META_TIMEOUT: Duration = Duration::from_secs(15);

/// How many partitions `topic` has on the broker; an error when it does not
/// exist or has none.
pub fn partition_count<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    brokers: &str,
) -> anyhow::Result<i32> {
    let md = consumer
        .fetch_metadata(Some(topic), META_TIMEOUT)
        .with_context(|| format!("reading metadata of {topic} from {brokers}"))?;
    let parts = md
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map_or(0, |t| t.partitions().len()) as i32;
    if parts == 0 {
        anyhow::bail!("topic {topic} does not exist on {brokers} (or has no partitions)");
    }
    Ok(parts)
}

/// Creates one topic with `partitions` partitions unless it exists.
pub fn ensure_one(cfg: &KafkaConfig, name: &str) -> anyhow::Result<()> {
    create(
        cfg,
        &[NewTopic::new(
            name,
            cfg.partitions,
            TopicReplication::Fixed(1),
        )],
    )
}

/// Creates topics, taking "already exists" as success.
fn create(cfg: &KafkaConfig, new: &[NewTopic<'_>]) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = cfg
        .client_config()
        .create()
        .context("creating the Kafka admin client")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = rt
        .block_on(admin.create_topics(new.iter(), &opts))
        .with_context(|| format!("creating topics on {}", cfg.brokers))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => anyhow::bail!("creating topic {t} on {}: {e}", cfg.brokers),
        }
    }
    Ok(())
}

/// Creates the topics that do not exist yet: the inputs and outputs with
/// `partitions` partitions (inputs must share a partition count so that an
/// entity's three feeds land in the same partition number), `scores`
/// compacted, and `samples` (written by draws).
pub fn ensure(cfg: &KafkaConfig, topics: &Topics) -> anyhow::Result<()> {
    let mut new = Vec::new();
    for (_, t) in topics.inputs() {
        new.push(NewTopic::new(t, cfg.partitions, TopicReplication::Fixed(1)));
    }
    for t in [
        &topics.dead_letter,
        &topics.alerts,
        &topics.samples,
        &topics.relations,
    ] {
        new.push(NewTopic::new(t, cfg.partitions, TopicReplication::Fixed(1)));
    }
    new.push(
        NewTopic::new(&topics.scores, cfg.partitions, TopicReplication::Fixed(1))
            .set("cleanup.policy", "compact"),
    );
    create(cfg, &new)
}
