//! `tidewatch score --model M --input T --out O`: apply any model to any
//! table with matching columns. The output keeps the input's rows in order
//! and adds `score` (the card's total points); `--points` adds each
//! variable's points; models with class cut-offs add `risk_score` and
//! `class`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use polars::prelude::*;
use tidewatch_scoring::points::to_f64;
use tidewatch_scoring::{Bound, Class, Model, Want};

use super::score_parquet::{self, Values};

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The model (pipelines TOML, e.g. from `tidewatch model import`).
    #[arg(long)]
    model: PathBuf,
    /// The table to score: .csv or .parquet.
    #[arg(long)]
    input: PathBuf,
    /// Where to write: .csv or .parquet.
    #[arg(long)]
    out: PathBuf,
    /// Also write each variable's points as `<variable>_points`.
    #[arg(long)]
    points: bool,
    /// Parquet compression of the output.
    #[arg(long, value_enum, default_value_t = Compression::Zstd)]
    compression: Compression,
}

/// Parquet output compression.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Compression {
    Zstd,
    Lz4,
    Snappy,
    None,
}

impl Compression {
    fn parquet(self) -> ParquetCompression {
        match self {
            Compression::Zstd => ParquetCompression::Zstd(None),
            Compression::Lz4 => ParquetCompression::Lz4Raw,
            Compression::Snappy => ParquetCompression::Snappy,
            Compression::None => ParquetCompression::Uncompressed,
        }
    }
}

fn ext(p: &Path) -> String {
    p.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

pub fn read_table(p: &Path) -> anyhow::Result<DataFrame> {
    match ext(p).as_str() {
        "csv" => CsvReadOptions::default()
            .with_has_header(true)
            .try_into_reader_with_file_path(Some(p.to_path_buf()))
            .and_then(|r| r.finish())
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display())),
        "parquet" => {
            let f = File::open(p).with_context(|| format!("opening {}", p.display()))?;
            ParquetReader::new(f)
                .finish()
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))
        }
        _ => bail!("{}: the table must be .csv or .parquet", p.display()),
    }
}

pub fn write_table(p: &Path, df: &mut DataFrame, compression: Compression) -> anyhow::Result<()> {
    let e = ext(p);
    if e != "csv" && e != "parquet" {
        bail!("{}: the output must be .csv or .parquet", p.display());
    }
    let f = File::create(p).with_context(|| format!("creating {}", p.display()))?;
    let r = if e == "csv" {
        let mut f = f;
        CsvWriter::new(&mut f).finish(df)
    } else {
        ParquetWriter::new(f)
            .with_compression(compression.parquet())
            .finish(df)
            .map(|_| ())
    };
    r.map_err(|e| anyhow::anyhow!("writing {}: {e}", p.display()))
}

/// Appends the new columns to the frame, cut to its chunks.
pub(crate) fn add_columns(df: &mut DataFrame, extra: Vec<(String, Values)>) -> anyhow::Result<()> {
    let lengths: Vec<usize> = df
        .columns()
        .first()
        .map(|c| c.as_materialized_series().chunk_lengths().collect())
        .unwrap_or_default();
    for (name, v) in extra {
        let name = PlSmallStr::from(name);
        let c = match v {
            Values::F64(v) => Column::new(name, v),
            Values::OptF64(v) => Column::new(name, v),
            Values::OptI16(v) => Column::new(name, v),
            Values::OptStr(v) => Column::new(name, v),
        };
        let s = c.as_materialized_series().rechunk();
        let s = if lengths.len() > 1 {
            match s.dtype() {
                DataType::Float64 => s.f64()?.match_chunks(lengths.iter().copied()).into_series(),
                DataType::Int16 => s.i16()?.match_chunks(lengths.iter().copied()).into_series(),
                DataType::String => s.str()?.match_chunks(lengths.iter().copied()).into_series(),
                _ => s,
            }
        } else {
            s
        };
        df.with_column(s.into_column())?;
    }
    Ok(())
}

/// The columns a run adds: `score`, each variable's points when asked,
/// `risk_score` and `class` for models with classes.
fn new_columns(model: &Model, scores: &tidewatch_scoring::Scores) -> Vec<(String, Values)> {
    let n = scores.len();
    let score: Vec<Option<f64>> = (0..n)
        .map(|r| scores.is_scored(r).then(|| to_f64(scores.total[r])))
        .collect();
    let mut extra = vec![("score".to_owned(), Values::OptF64(score))];
    if let Some(pts) = &scores.points {
        for (v, p) in model.variables.iter().zip(pts) {
            let c: Vec<f64> = p.iter().map(|x| to_f64(*x)).collect();
            extra.push((format!("{}_points", v.name), Values::F64(c)));
        }
    }
    if model.classes.is_some() {
        let risk: Vec<Option<i16>> = (0..n)
            .map(|r| scores.is_scored(r).then(|| scores.risk[r]))
            .collect();
        let class: Vec<Option<&'static str>> = (0..n)
            .map(|r| {
                scores
                    .is_scored(r)
                    .then(|| scores.class_of(r).map_or("", Class::as_str))
            })
            .collect();
        extra.push(("risk_score".into(), Values::OptI16(risk)));
        extra.push(("class".into(), Values::OptStr(class)));
    }
    extra
}

pub fn run(a: ScoreArgs) -> anyhow::Result<ExitCode> {
    let model = Model::load(&a.model)?;
    let t0 = Instant::now();
    // The columns the run adds, known before it reads anything.
    let mut names: Vec<String> = vec!["score".into()];
    if a.points {
        names.extend(model.variables.iter().map(|v| format!("{}_points", v.name)));
    }
    if model.classes.is_some() {
        names.extend(["risk_score".into(), "class".into()]);
    }
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    // Parquet to Parquet: the input's encoded columns are copied as they
    // are, only the new ones are encoded, and only the model's inputs are
    // read.
    let pass_through = if ext(&a.input) == "parquet" && ext(&a.out) == "parquet" {
        score_parquet::pass_through_columns(&a.input, &name_refs)
    } else {
        None
    };
    let want = Want {
        points: a.points,
        reasons: false,
    };
    let (n, t_read, t_score, t) = if let Some(have) = pass_through {
        // Those the file has: binding the model names any that are missing.
        let mut cols: Vec<String> = model
            .variables
            .iter()
            .flat_map(|v| v.input.columns())
            .filter(|c| have.iter().any(|h| h == c))
            .map(str::to_owned)
            .collect();
        cols.sort_unstable();
        cols.dedup();
        // One row group at a time: memory stays at one group's worth.
        let (mut n, mut t_read, mut t_score) = (0, Duration::ZERO, Duration::ZERO);
        score_parquet::write_with(&a.input, &a.out, a.compression, |from, rows| {
            let t = Instant::now();
            let f =
                File::open(&a.input).with_context(|| format!("opening {}", a.input.display()))?;
            let df = ParquetReader::new(f)
                .with_columns(Some(cols.clone()))
                .with_slice(Some((from, rows)))
                .finish()
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", a.input.display()))?;
            t_read += t.elapsed();
            let t = Instant::now();
            let scores = Bound::new(&model, &df)?.score(want);
            n += scores.len();
            let extra = new_columns(&model, &scores);
            t_score += t.elapsed();
            Ok(extra)
        })?;
        (n, t_read, t_score, t0 + t_read + t_score)
    } else {
        let mut df = read_table(&a.input)?;
        let t_read = t0.elapsed();
        let t = Instant::now();
        let bound = Bound::new(&model, &df)?;
        tracing::info!(bind_ms = t.elapsed().as_millis() as u64, "bound the model");
        let scores = bound.score(want);
        let n = scores.len();
        let extra = new_columns(&model, &scores);
        let t_score = t.elapsed();
        let t = Instant::now();
        add_columns(&mut df, extra)?;
        write_table(&a.out, &mut df, a.compression)?;
        (n, t_read, t_score, t)
    };
    let t_write = t.elapsed();
    let total = t0.elapsed().as_secs_f64();
    eprintln!(
        "scored {n} rows with {} ({} variables, version {}): read {:.0} ms, score {:.0} ms, write {:.0} ms; {:.0} rows/s end to end",
        model.id,
        model.variables.len(),
        model.version,
        t_read.as_secs_f64() * 1e3,
        t_score.as_secs_f64() * 1e3,
        t_write.as_secs_f64() * 1e3,
        n as f64 / total
    );
    Ok(ExitCode::SUCCESS)
}
