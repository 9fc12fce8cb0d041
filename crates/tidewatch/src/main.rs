//! `tidewatch`: the command-line entry point. Each subcommand turns its
//! arguments into a config and calls into the library crates; no domain
//! logic lives here.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// polars allocates and frees large buffers constantly; the system allocator
// hands them back to the kernel, which then zeroes fresh pages on every
// reuse. mimalloc keeps them, as polars' own binaries do.
//
// mimalloc also replaces `malloc` and `free` for the C code linked in
// (libmimalloc-sys's `override`), librdkafka above all: its copies of
// every message produced and its fetch buffers then reuse memory the
// engine freed, instead of growing a second heap beside mimalloc's. A
// catch-up in `bench stream` faults in about a quarter fewer pages
// (about 410,000 → 320,000) and ends 200–300 MB smaller.
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
    keep_freed_memory();
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

/// mimalloc's `purge_delay` option (its index in mimalloc's option table,
/// `mi_option_e`; the bindings name only some of the options).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays with the process before mimalloc hands it
/// back to the kernel, in ms (mimalloc's default is 1 s).
///
/// A catch-up frees and allocates again every micro-batch and every flush
/// (decoded records, feature frames, score payloads). Memory handed back
/// after a second was faulted in fresh the next time: about a third of the
/// page faults of a catch-up in `bench stream` (about 570,000 → 420,000).
/// On a virtual machine whose free memory goes back to the host, a fresh
/// page can cost the host's fault too, and that made whole runs slow. Memory
/// is still returned once it has been unused for this long, so a burst does
/// not keep its peak for good. `MIMALLOC_PURGE_DELAY` in the environment
/// overrides it.
const PURGE_DELAY_MS: std::os::raw::c_long = 10_000;

#[allow(unsafe_code)]
fn keep_freed_memory() {
    // SAFETY: sets one number in mimalloc's option table, which is read
    // whenever memory is freed; this runs at the start of `main`, before any
    // other thread exists. `set_default` leaves a value taken from the
    // environment alone.
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

/// mimalloc advises the kernel to back its segments with transparent huge
/// pages. The engine frees and reuses memory every micro-batch, and a
/// reuse after a purge faulted in a huge page the kernel zeroed whole: 16 %
/// of the engine's CPU time in `bench engine` went to zeroing pages.
/// Without huge pages a fault zeroes a 4 KB page, and only pages touched
/// are faulted. (Measured again with the longer purge delay above: huge
/// pages cut a catch-up's faults tenfold but made it slower, 200,000–208,000
/// against 319,000–338,000 events/s in two runs each.)
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

#[cfg(test)]
mod tests {
    use std::ffi::c_void;

    extern "C" {
        fn malloc(size: usize) -> *mut c_void;
        fn free(p: *mut c_void);
    }

    /// The C code linked in (librdkafka) allocates from mimalloc's heap,
    /// not from a heap of its own beside it (see the `override` feature
    /// above the global allocator).
    #[test]
    #[allow(unsafe_code)]
    fn c_malloc_is_served_by_mimalloc() {
        // SAFETY: one block from the C allocator, asked about and given
        // back to it; it is never read or written.
        let ours = unsafe {
            let p = malloc(64);
            assert!(!p.is_null(), "malloc(64) failed");
            let ours = libmimalloc_sys::mi_is_in_heap_region(p);
            free(p);
            ours
        };
        assert!(
            ours,
            "C malloc is not mimalloc's: librdkafka would grow a heap of its own"
        );
    }
}
