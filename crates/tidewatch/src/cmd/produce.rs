//! `tidewatch produce`: load seed or generated event files into the input
//! topics, keyed by USCC.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tidewatch_kafka::{produce, Topics};

use super::kafka::KafkaArgs;

#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Directory with inspections.ndjson, complaints.ndjson and
    /// credit-records.ndjson.
    #[arg(long, default_value = "seeds")]
    from: PathBuf,
    #[command(flatten)]
    kafka: KafkaArgs,
}

pub fn run(a: ProduceArgs) -> anyhow::Result<ExitCode> {
    let cfg = a.kafka.config(None)?;
    let topics = Topics::new(&cfg.kafka.topic_prefix);
    let p = produce::produce_dir(&cfg.kafka, &topics, &a.from)?;
    println!(
        "produced {} records ({:.1} MB) from {} to {} in {:.2} s: {:.0} records/s{}",
        p.records,
        p.bytes as f64 / 1e6,
        a.from.display(),
        cfg.kafka.brokers,
        p.seconds,
        p.records as f64 / p.seconds.max(1e-9),
        if p.unkeyed > 0 {
            format!(" ({} without a uscc, sent unkeyed)", p.unkeyed)
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}
