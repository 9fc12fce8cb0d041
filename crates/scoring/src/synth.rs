//! Synthetic populations for benchmarks: a frame with every column a model
//! reads, filled deterministically with values spread over the model's bins
//! (most entities quiet, a tail that hits the higher bins, a few missing
//! values where the model has a missing bin).

use std::collections::BTreeMap;

use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::model::{BinKind, End, Model, Value};

/// What values a column should take.
#[derive(Debug, Clone, Default)]
struct Spec {
    /// Numeric edges seen in bins over this column.
    edges: Vec<f64>,
    /// Integer category values seen.
    values: Vec<i64>,
    nullable: bool,
}

const CHUNK: usize = 1 << 16;

/// A frame of `n` rows with every column `models` read (Int64), values drawn
/// deterministically from `seed`.
pub fn frame_for(models: &[&Model], n: usize, seed: u64) -> PolarsResult<DataFrame> {
    let mut specs: BTreeMap<String, Spec> = BTreeMap::new();
    for m in models {
        for v in &m.variables {
            for c in v.input.columns() {
                let s = specs.entry(c.to_owned()).or_default();
                // Missing values only where the variable reads the column directly.
                s.nullable |= v.missing_bin().is_some()
                    && v.input.columns().len() == 1
                    && !v.input.is_ratio();
                for b in &v.bins {
                    match &b.kind {
                        BinKind::Range { lo: End::At(x), .. } => s.edges.push(*x),
                        BinKind::Values(vs) => s.values.extend(vs.iter().filter_map(|x| match x {
                            Value::Int(i) => Some(*i),
                            Value::Str(_) => None,
                        })),
                        _ => {}
                    }
                }
            }
        }
    }
    let cols = specs
        .iter()
        .enumerate()
        .map(|(ci, (name, s))| column(name, s, n, seed ^ ((ci as u64 + 1) * 0x9E37_79B9_7F4A_7C15)))
        .collect::<Vec<_>>();
    DataFrame::new(n, cols)
}

fn column(name: &str, s: &Spec, n: usize, seed: u64) -> Column {
    let mut edges = s.edges.clone();
    edges.sort_by(f64::total_cmp);
    let lo = edges.first().copied().unwrap_or(0.0).min(0.0);
    let hi = edges.last().copied().unwrap_or(1.0);
    // Filled in place, chunk by chunk, each chunk from its own seeded RNG:
    // deterministic whatever the thread count, and no second copy.
    let mut values = vec![0i64; n];
    let mut valid = vec![true; n];
    values
        .par_chunks_mut(CHUNK)
        .zip(valid.par_chunks_mut(CHUNK))
        .enumerate()
        .for_each(|(c, (v, ok))| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(c as u64));
            for (x, o) in v.iter_mut().zip(ok.iter_mut()) {
                *x = if !s.values.is_empty() {
                    // Categories: mostly the first listed value.
                    if rng.random_bool(0.85) {
                        s.values[0]
                    } else {
                        s.values[rng.random_range(0..s.values.len())]
                    }
                } else if rng.random_bool(0.7) {
                    // Quiet entity: at or below the lowest edge.
                    lo.max(0.0) as i64
                } else {
                    let span = (hi - lo).max(1.0) * 1.5;
                    (lo + rng.random::<f64>() * span) as i64
                };
                *o = !(s.nullable && rng.random_bool(0.03));
            }
        });
    if s.nullable {
        let ca: Int64Chunked = values
            .into_iter()
            .zip(valid)
            .map(|(x, ok)| ok.then_some(x))
            .collect();
        ca.with_name(name.into()).into_column()
    } else {
        Column::new(name.into(), values)
    }
}
