//! `tidewatch seed`: generate a synthetic population (see tidewatch-seedgen).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use tidewatch_seedgen::{generate_to_dir, SeedConfig};

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Number of market entities.
    #[arg(long, default_value_t = 3000)]
    entities: u64,
    /// Months of event history before the as-of date.
    #[arg(long, default_value_t = 36)]
    months: u32,
    /// Random seed; the same arguments always give the same bytes.
    #[arg(long, default_value_t = 20260930)]
    seed: u64,
    /// The as-of date the data ends at (YYYY-MM-DD).
    #[arg(long, default_value = "2026-09-30")]
    as_of: NaiveDate,
    /// Officers in the roster (default: enough to staff draws).
    #[arg(long)]
    officers: Option<u32>,
    /// Leave out the deliberately bad records.
    #[arg(long)]
    no_bad_records: bool,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: SeedArgs) -> anyhow::Result<ExitCode> {
    let cfg = SeedConfig {
        entities: a.entities,
        months: a.months,
        seed: a.seed,
        as_of: a.as_of,
        officers: a.officers,
        bad_records: !a.no_bad_records,
    };
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let t = Instant::now();
    let s = generate_to_dir(&cfg, &a.out)
        .with_context(|| format!("writing seeds to {}", a.out.display()))?;
    let secs = t.elapsed().as_secs_f64();
    let events = s.inspections + s.complaints + s.credit_records;
    println!(
        "generated {} entities, {} officers, {} events ({} inspections, {} complaints, {} credit records, {} deliberately bad) into {}",
        s.entities, s.officers, events, s.inspections, s.complaints, s.credit_records, s.bad_records, a.out.display()
    );
    println!(
        "{:.2} s: {:.0} entities/s, {:.0} events/s, {:.1} MB/s",
        secs,
        s.entities as f64 / secs,
        events as f64 / secs,
        s.bytes as f64 / secs / 1e6
    );
    Ok(ExitCode::SUCCESS)
}
