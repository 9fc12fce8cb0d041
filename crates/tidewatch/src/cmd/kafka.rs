//! Flags shared by the commands that talk to Kafka, and the config they
//! build: the file (`--config`), then `TIDEWATCH_*` variables, then flags.

use std::path::PathBuf;

use clap::Args;
use tidewatch_kafka::config::AsOf;
use tidewatch_kafka::Config;

#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Kafka brokers (HOST:PORT[,HOST:PORT…]); enough on its own to use the
    /// default topics.
    #[arg(long)]
    pub brokers: Option<String>,
    /// The engine's TOML config file (brokers, group, topics, security,
    /// checkpoints, micro-batches); see docs/streaming.md.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Prefix of every topic name (default `tidewatch.`).
    #[arg(long)]
    pub topic_prefix: Option<String>,
    /// Where checkpoints are kept (default `state`).
    #[arg(long)]
    pub checkpoint_dir: Option<PathBuf>,
}

impl KafkaArgs {
    /// Whether Kafka mode was asked for.
    pub fn wanted(&self) -> bool {
        self.brokers.is_some() || self.config.is_some()
    }

    /// The config with the flags applied last.
    pub fn config(&self, as_of: Option<chrono::NaiveDate>) -> anyhow::Result<Config> {
        let mut c = Config::load(self.config.as_deref())?;
        if let Some(b) = &self.brokers {
            c.kafka.brokers = b.clone();
        }
        if let Some(p) = &self.topic_prefix {
            c.kafka.topic_prefix = p.clone();
        }
        if let Some(d) = &self.checkpoint_dir {
            c.engine.checkpoint_dir = d.clone();
        }
        if let Some(d) = as_of {
            c.engine.as_of = AsOf::Fixed(d);
        }
        c.check()?;
        Ok(c)
    }
}
