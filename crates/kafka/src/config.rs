//! The engine's configuration: one TOML file, then environment overrides,
//! then command-line flags (the caller applies those).
//!
//! ```toml
//! [kafka]
//! brokers = "127.0.0.1:9092"
//! group_id = "tidewatch"
//! topic_prefix = "tidewatch."
//! partitions = 4            # for topics the engine creates
//! [kafka.properties]        # passed through to librdkafka as they are
//! "security.protocol" = "SASL_SSL"
//! "sasl.mechanism" = "SCRAM-SHA-512"
//! "sasl.username" = "tidewatch"
//! "ssl.ca.location" = "/etc/tidewatch/ca.pem"
//!
//! [engine]
//! checkpoint_dir = "state"
//! checkpoint_interval_ms = 5000
//! batch_max = 10000          # records per micro-batch
//! latency_ms = 50            # the longest a record waits for its batch
//! backlog_flush_ms = 5000    # while reading a backlog: rescore at most this often
//! as_of = "calendar"         # or a fixed date, "2026-09-30"
//! utc_offset_hours = 8       # the calendar day is the regulator's day
//! hold_grace_ms = 0          # serve: held records wait this long for their registration (0: forever)
//! catch_up_idle_ms = 1000    # `run`: quiet time that ends a catch-up
//! resume_rewind = 10000      # records re-read (and skipped) before each checkpointed offset
//! group = false              # serve: one of several processes in the consumer group
//! time_order = true          # one process: read the partitions in record-timestamp order
//! pipelines = "pipelines"
//! out = "out"
//! ```
//!
//! Environment overrides: `TIDEWATCH_BROKERS`, `TIDEWATCH_GROUP_ID`,
//! `TIDEWATCH_TOPIC_PREFIX`, `TIDEWATCH_CHECKPOINT_DIR`, `TIDEWATCH_AS_OF`,
//! `TIDEWATCH_BATCH_MAX`, `TIDEWATCH_LATENCY_MS`, `TIDEWATCH_BACKLOG_FLUSH_MS`,
//! `TIDEWATCH_CHECKPOINT_INTERVAL_MS`, `TIDEWATCH_HOLD_GRACE_MS`,
//! `TIDEWATCH_CATCH_UP_IDLE_MS`, `TIDEWATCH_RESUME_REWIND`, `TIDEWATCH_GROUP`
//! and `TIDEWATCH_TIME_ORDER` (`true`/`false`), and
//! `TIDEWATCH_KAFKA_<PROPERTY>` for any librdkafka property
//! (`TIDEWATCH_KAFKA_SASL_PASSWORD` sets `sasl.password`), so secrets need
//! not be in the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use chrono::{Days, NaiveDate};
use rdkafka::ClientConfig;
use serde::Deserialize;

/// The whole file. Sections other engines read (`server`, `webhooks`) are
/// accepted here and parsed by their owners.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub kafka: KafkaConfig,
    #[serde(default)]
    pub engine: EngineConfig,
    #[serde(default)]
    pub server: Option<toml::Value>,
    #[serde(default)]
    pub webhooks: Option<toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    pub brokers: String,
    pub group_id: String,
    pub topic_prefix: String,
    pub partitions: i32,
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            group_id: "tidewatch".into(),
            topic_prefix: "tidewatch.".into(),
            partitions: 4,
            properties: BTreeMap::new(),
        }
    }
}

impl KafkaConfig {
    /// librdkafka settings: brokers, then the pass-through properties.
    pub fn client_config(&self) -> ClientConfig {
        self.client_config_with(&[])
    }

    /// librdkafka settings: brokers, the engine's defaults for this client,
    /// then the pass-through properties (which win).
    pub fn client_config_with(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in defaults {
            c.set(*k, *v);
        }
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }
}

/// Which as-of date the engine scores at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// Today in the regulator's time zone; moving at midnight rescores all.
    Calendar,
    Fixed(NaiveDate),
}

impl<'de> Deserialize<'de> for AsOf {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for AsOf {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "calendar" {
            return Ok(AsOf::Calendar);
        }
        s.parse()
            .map(AsOf::Fixed)
            .map_err(|_| format!("as_of {s:?} is neither \"calendar\" nor a YYYY-MM-DD date"))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    pub checkpoint_dir: PathBuf,
    pub checkpoint_interval_ms: u64,
    pub batch_max: usize,
    pub latency_ms: u64,
    /// While reading a backlog (every batch full), changed entities are
    /// rescored and published at most this often rather than after every
    /// batch: an entity with several events in the backlog is then scored
    /// once for them, as a compacted topic would keep only the last score
    /// anyway. Live records are rescored after every batch. The default
    /// equals the checkpoint interval, which flushes too: over a backlog
    /// spread across the population, each second between flushes touched
    /// most entities again.
    pub backlog_flush_ms: u64,
    pub as_of: AsOf,
    pub utc_offset_hours: i32,
    pub hold_grace_ms: u64,
    /// `run` on Kafka: how long the consumer must see nothing new, past the
    /// end offsets found at start, before the run ends.
    pub catch_up_idle_ms: u64,
    /// On restore, start this many records before each checkpointed offset
    /// and skip what was applied (the test broker cannot start a fetch in
    /// the middle of a producer's record batch).
    pub resume_rewind: u64,
    /// `serve`: join the consumer group and hold only the partitions it
    /// gives this process (several processes split the work); relation
    /// features then travel through the `relations` topic.
    pub group: bool,
    /// One process: read the input partitions in the order of their
    /// records' timestamps (each partition a queue of its own), so that
    /// the three feeds stay together in time over a backlog and events
    /// rarely wait for their registration. Off: records are taken as the
    /// fetches bring them.
    pub time_order: bool,
    pub pipelines: PathBuf,
    pub out: PathBuf,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            checkpoint_dir: "state".into(),
            checkpoint_interval_ms: 5000,
            batch_max: 10_000,
            latency_ms: 50,
            backlog_flush_ms: 5000,
            as_of: AsOf::Calendar,
            utc_offset_hours: 8,
            hold_grace_ms: 0,
            catch_up_idle_ms: 1000,
            resume_rewind: 10_000,
            group: false,
            time_order: true,
            pipelines: "pipelines".into(),
            out: "out".into(),
        }
    }
}

impl EngineConfig {
    /// The as-of date now.
    pub fn as_of_now(&self) -> NaiveDate {
        match self.as_of {
            AsOf::Fixed(d) => d,
            AsOf::Calendar => {
                let secs = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64)
                    + i64::from(self.utc_offset_hours) * 3600;
                let days = u64::try_from(secs.div_euclid(86_400)).unwrap_or(0);
                NaiveDate::from_ymd_opt(1970, 1, 1)
                    .and_then(|e| e.checked_add_days(Days::new(days)))
                    .unwrap_or(NaiveDate::MIN)
            }
        }
    }
}

impl Config {
    /// Reads a config file (when given), then applies the environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let mut c = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading config {}", p.display()))?;
                Config::parse(&text).with_context(|| format!("config {}", p.display()))?
            }
            None => Config::default(),
        };
        c.apply_env(std::env::vars())?;
        Ok(c)
    }

    pub fn parse(text: &str) -> anyhow::Result<Config> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].lines().count().max(1)
            });
            anyhow::anyhow!("line {line}: {}", e.message().trim())
        })
    }

    /// Applies `TIDEWATCH_*` overrides (see the module docs).
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<()> {
        fn num<T: std::str::FromStr>(k: &str, v: &str) -> anyhow::Result<T> {
            v.parse()
                .map_err(|_| anyhow::anyhow!("{k}={v:?} is not a number"))
        }
        fn flag(k: &str, v: &str) -> anyhow::Result<bool> {
            match v {
                "true" | "1" => Ok(true),
                "false" | "0" | "" => Ok(false),
                _ => bail!("{k}={v:?} is neither true nor false"),
            }
        }
        for (k, v) in vars {
            match k.as_str() {
                "TIDEWATCH_BROKERS" => self.kafka.brokers = v,
                "TIDEWATCH_GROUP_ID" => self.kafka.group_id = v,
                "TIDEWATCH_TOPIC_PREFIX" => self.kafka.topic_prefix = v,
                "TIDEWATCH_CHECKPOINT_DIR" => self.engine.checkpoint_dir = v.into(),
                "TIDEWATCH_AS_OF" => {
                    self.engine.as_of = v
                        .parse()
                        .map_err(|e: String| anyhow::anyhow!("TIDEWATCH_AS_OF: {e}"))?
                }
                "TIDEWATCH_BATCH_MAX" => self.engine.batch_max = num(&k, &v)?,
                "TIDEWATCH_LATENCY_MS" => self.engine.latency_ms = num(&k, &v)?,
                "TIDEWATCH_BACKLOG_FLUSH_MS" => self.engine.backlog_flush_ms = num(&k, &v)?,
                "TIDEWATCH_CHECKPOINT_INTERVAL_MS" => {
                    self.engine.checkpoint_interval_ms = num(&k, &v)?
                }
                "TIDEWATCH_HOLD_GRACE_MS" => self.engine.hold_grace_ms = num(&k, &v)?,
                "TIDEWATCH_CATCH_UP_IDLE_MS" => self.engine.catch_up_idle_ms = num(&k, &v)?,
                "TIDEWATCH_RESUME_REWIND" => self.engine.resume_rewind = num(&k, &v)?,
                "TIDEWATCH_GROUP" => self.engine.group = flag(&k, &v)?,
                "TIDEWATCH_TIME_ORDER" => self.engine.time_order = flag(&k, &v)?,
                _ => {
                    if let Some(p) = k.strip_prefix("TIDEWATCH_KAFKA_") {
                        let prop = p.to_ascii_lowercase().replace('_', ".");
                        self.kafka.properties.insert(prop, v);
                    }
                }
            }
        }
        self.check()
    }

    /// Values no engine can run with.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.kafka.brokers.trim().is_empty() {
            bail!("kafka.brokers is empty: give HOST:PORT[,HOST:PORT…]");
        }
        if self.kafka.partitions < 1 {
            bail!("kafka.partitions must be at least 1");
        }
        if self.engine.batch_max == 0 {
            bail!("engine.batch_max must be at least 1");
        }
        if !(-12..=14).contains(&self.engine.utc_offset_hours) {
            bail!("engine.utc_offset_hours must be between -12 and 14");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment() {
        let mut c = Config::parse(
            "[kafka]\nbrokers = \"k1:9092\"\n[kafka.properties]\n\"security.protocol\" = \"SASL_SSL\"\n[engine]\nas_of = \"2026-09-30\"\nbatch_max = 500\n",
        )
        .unwrap();
        assert_eq!(
            c.engine.as_of,
            AsOf::Fixed(NaiveDate::from_ymd_opt(2026, 9, 30).unwrap())
        );
        c.apply_env([
            ("TIDEWATCH_BROKERS".to_owned(), "k2:9092".to_owned()),
            (
                "TIDEWATCH_KAFKA_SASL_PASSWORD".to_owned(),
                "s3cret".to_owned(),
            ),
            ("HOME".to_owned(), "/".to_owned()),
        ])
        .unwrap();
        assert_eq!(c.kafka.brokers, "k2:9092");
        assert_eq!(c.engine.batch_max, 500);
        assert_eq!(c.kafka.properties["sasl.password"], "s3cret");
        assert_eq!(c.kafka.properties["security.protocol"], "SASL_SSL");
        assert_eq!(c.kafka.topic_prefix, "tidewatch.");
        // Switches: the file, then the environment; a word that is neither
        // is an error that names the variable.
        let mut c = Config::parse("[engine]\ntime_order = false\n").unwrap();
        assert!(!c.engine.time_order);
        assert!(Config::default().engine.time_order);
        c.apply_env([("TIDEWATCH_TIME_ORDER".to_owned(), "1".to_owned())])
            .unwrap();
        assert!(c.engine.time_order);
        let e = c
            .apply_env([("TIDEWATCH_TIME_ORDER".to_owned(), "yes".to_owned())])
            .unwrap_err();
        assert!(e.to_string().contains("TIDEWATCH_TIME_ORDER"), "{e}");
    }

    #[test]
    fn clear_errors() {
        let e = Config::parse("[engine]\nbatch_max = \"x\"\n").unwrap_err();
        assert!(e.to_string().starts_with("line 2:"), "{e}");
        let e = Config::parse("[kafka]\nbrokerz = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("brokerz"), "{e}");
        let e = Config::parse("[engine]\nas_of = \"yesterday\"\n").unwrap_err();
        assert!(e.to_string().contains("calendar"), "{e}");
        let mut c = Config::default();
        let e = c
            .apply_env([("TIDEWATCH_BATCH_MAX".to_owned(), "0".to_owned())])
            .unwrap_err();
        assert!(e.to_string().contains("batch_max"), "{e}");
    }
}
