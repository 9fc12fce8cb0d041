//! `tidewatch`: the command-line entry point. Each subcommand turns its
//! arguments into a config and calls into the library crates; no domain
//! logic lives here.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// polars allocates and frees large buffers constantly; the system allocator
// hands them back to the kernel, which then zeroes fresh pages on every
// reuse. mimalloc keeps them, as polars' own binaries do.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cmd;

// The engine's modules, under the names the subcommands use.
use tidewatch_engine::{output, pipeline, scores};

#[derive(Debug, Parser)]
#[command(
    name = "tidewatch",
    version,
    about = "Credit-based risk supervision engine for market regulators",
    long_about = "tidewatch keeps every market entity's risk features current from inspection \
results, complaints and credit records, and writes them for scoring, double-random draws and \
blacklist alerts."
)]
struct Cli {
    /// Log as JSON lines instead of text (logs go to stderr).
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the one-shot job: on the embedded default (files in, files out),
    /// or with --brokers up to the topics' current end.
    Run(cmd::run::RunArgs),
    /// Run the continuous engine on Kafka.
    Serve(cmd::serve::ServeArgs),
    /// Load seed or generated event files into the input topics.
    Produce(cmd::produce::ProduceArgs),
    /// Double-random draws: preview, commit, run, verify, replace, status, bench.
    Draw(cmd::draw::DrawArgs),
    /// Print one entity's scorecards line by line: why it is in its class.
    Explain(cmd::explain::ExplainArgs),
    /// Import or check scorecard models.
    Model(cmd::model::ModelArgs),
    /// Apply a model to a table (CSV or Parquet) and write it with scores.
    Score(cmd::score::ScoreArgs),
    /// Measure the scoring core (prints entities/s and peak memory).
    Bench(cmd::bench::BenchArgs),
    /// Check unified social credit codes (GB 32100-2015), one verdict per line.
    Uscc(cmd::uscc::UsccArgs),
    /// Generate a deterministic synthetic Zhoushan population and event streams.
    Seed(cmd::seed::SeedArgs),
    /// List the feature catalogue: name, dimension, unit and meaning.
    Features(cmd::features::FeaturesArgs),
    /// Check the audit log of draw runs and list changes.
    Audit(cmd::audit::AuditArgs),
    /// Who is on which blacklist and why (from the out dir).
    Lists(cmd::lists::ListsArgs),
    /// Deliver the alert log to webhook targets, or print it from a sequence number.
    Alerts(cmd::lists::AlertsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    no_huge_pages();
    let r = match cli.command {
        Command::Run(a) => cmd::run::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Produce(a) => cmd::produce::run(a),
        Command::Uscc(a) => cmd::uscc::run(a),
        Command::Draw(a) => cmd::draw::run(a),
        Command::Explain(a) => cmd::explain::run(a),
        Command::Model(a) => cmd::model::run(a),
        Command::Score(a) => cmd::score::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Seed(a) => cmd::seed::run(a),
        Command::Features(a) => cmd::features::run(a),
        Command::Audit(a) => cmd::audit::run(a),
        Command::Lists(a) => cmd::lists::run(a),
        Command::Alerts(a) => cmd::lists::alerts(a),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// mimalloc advises the kernel to back its segments with transparent huge
/// pages and hands freed memory back after 10 ms. The engine frees and
/// reuses memory every micro-batch, so each reuse faulted in a huge page
/// the kernel zeroed whole: 16 % of the engine's CPU time in `bench engine`
/// went to zeroing pages. Without huge pages a reuse zeroes 4 KB pages, and
/// only those touched.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!("transparent huge pages stay on: {e}");
    }
}

fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("TIDEWATCH_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}
