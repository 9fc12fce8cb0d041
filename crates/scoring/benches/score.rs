//! Criterion benchmarks of the scoring kernel on the committed general
//! model over a synthetic population: `cargo bench --workspace --bench score`
//! (building the whole workspace keeps polars compiled with the features the
//! binary uses; `-p` alone would rebuild it).
//! The `tidewatch bench score` subcommand runs the same at 1 M and 10 M.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use polars::prelude::*;
use tidewatch_scoring::synth::frame_for;
use tidewatch_scoring::{Bound, Model, Want};

fn general() -> Model {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/models/general.toml");
    Model::load(&p).expect("general model")
}

fn bench(c: &mut Criterion) {
    let m = general();
    let n = 1_000_000;
    let df = frame_for(&[&m], n, 7).expect("frame");
    let mut g = c.benchmark_group("general_model");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(20);
    g.bench_function("scores_and_classes_1m", |b| {
        b.iter(|| Bound::new(&m, &df).expect("binds").score(Want::default()))
    });
    g.bench_function("with_top3_reasons_1m", |b| {
        b.iter(|| {
            Bound::new(&m, &df).expect("binds").score(Want {
                points: false,
                reasons: true,
            })
        })
    });
    g.finish();

    let mut g = c.benchmark_group("micro_batch");
    g.throughput(Throughput::Elements(10_000));
    let idx: Vec<IdxSize> = (0..10_000u32).map(|i| (i * 97) % n as u32).collect();
    let idx = IdxCa::from_vec("idx".into(), idx);
    g.bench_function("rescore_10k_changed", |b| {
        b.iter_batched(
            || idx.clone(),
            |idx| {
                let sub = df.take(&idx).expect("take");
                Bound::new(&m, &sub).expect("binds").score(Want {
                    points: false,
                    reasons: true,
                })
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
