//! Generates a data set and prints the generation rate.
//!
//! `cargo run --release -p tidewatch-seedgen --example seedgen_rate -- [ENTITIES] [DIR] [THREADS]`
//!
//! With no arguments it regenerates the committed seeds: the default
//! configuration (3000 entities, 36 months, seed 20260930, as of 2026-09-30)
//! into `seeds/` of the current directory.

use std::path::PathBuf;
use std::time::Instant;

use tidewatch_seedgen::{generate_to_dir_with_threads, SeedConfig};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut cfg = SeedConfig::default();
    if let Some(n) = args.next() {
        cfg.entities = n
            .parse()
            .map_err(|e| std::io::Error::other(format!("ENTITIES {n:?}: {e}")))?;
    }
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "seeds".to_string()));
    let threads = match args.next() {
        Some(t) => t
            .parse()
            .map_err(|e| std::io::Error::other(format!("THREADS {t:?}: {e}")))?,
        None => 0,
    };
    let t0 = Instant::now();
    let stats = generate_to_dir_with_threads(&cfg, &dir, threads)?;
    let secs = t0.elapsed().as_secs_f64();
    let events = stats.inspections + stats.complaints + stats.credit_records;
    println!("{}", serde_json::to_string_pretty(&stats)?);
    println!(
        "{} entities, {} events, {:.1} MB in {:.2} s: {:.0} entities/s, {:.0} events/s, {:.1} MB/s",
        stats.entities,
        events,
        stats.bytes as f64 / 1e6,
        secs,
        stats.entities as f64 / secs,
        events as f64 / secs,
        stats.bytes as f64 / 1e6 / secs
    );
    Ok(())
}
