//! Files the embedded run writes, under fixed names (DESIGN.md).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use polars::prelude::*;
use tidewatch_ingest::DeadLetter;
use tidewatch_state::{Entity, EntityStore, FeatureTable, FEATURES, NULL};

/// Writes `features.parquet`: identity columns, then one column per feature
/// in catalogue order (missing values as nulls, money in fen).
pub fn write_features(
    path: &Path,
    store: &EntityStore,
    table: &FeatureTable,
) -> anyhow::Result<()> {
    let mut df = features_frame(store, table)?;
    let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    ParquetWriter::new(f)
        .finish(&mut df)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    Ok(())
}

/// The feature table as a polars frame.
pub fn features_frame(store: &EntityStore, table: &FeatureTable) -> anyhow::Result<DataFrame> {
    features_frame_of(store.entities(), table)
}

/// The frame of some entities: `table`'s rows are `entities`' rows, in the
/// same order (the whole population, or a micro-batch gathered with
/// [`FeatureTable::select`]).
pub fn features_frame_of<'a>(
    entities: impl IntoIterator<Item = &'a Entity>,
    table: &FeatureTable,
) -> anyhow::Result<DataFrame> {
    let n = table.rows();
    // Borrowed, not copied: the frame's columns copy them once (a catch-up
    // builds this for a hundred thousand entities at a time).
    let mut uscc: Vec<&str> = Vec::with_capacity(n);
    let mut name: Vec<&str> = Vec::with_capacity(n);
    let mut region: Vec<&str> = Vec::with_capacity(n);
    let mut zone: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut industry: Vec<&str> = Vec::with_capacity(n);
    for e in entities {
        uscc.push(e.uscc.as_str());
        let r = e.registration();
        name.push(r.map_or("", |r| r.name.as_str()));
        region.push(r.map_or("", |r| r.region_code.as_str()));
        zone.push(r.and_then(|r| r.zone.as_ref().map(|z| z.as_str())));
        industry.push(r.map_or("", |r| r.industry_code.as_str()));
    }
    anyhow::ensure!(
        uscc.len() == n,
        "{} entities for {n} feature rows",
        uscc.len()
    );
    let mut cols: Vec<Column> = vec![
        Column::new("uscc".into(), uscc),
        Column::new("name".into(), name),
        Column::new("region_code".into(), region),
        Column::new("zone".into(), zone),
        Column::new("industry_code".into(), industry),
    ];
    for (def, values) in FEATURES.iter().zip(&table.columns) {
        if def.nullable {
            let v: Vec<Option<i64>> = values.iter().map(|&x| (x != NULL).then_some(x)).collect();
            cols.push(Column::new(def.name.into(), v));
        } else {
            cols.push(Column::new(def.name.into(), values.as_slice()));
        }
    }
    Ok(DataFrame::new(n, cols)?)
}

/// Writes dead letters as NDJSON.
pub fn write_dead_letters(path: &Path, letters: &[DeadLetter]) -> anyhow::Result<()> {
    let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::new(f);
    for d in letters {
        serde_json::to_writer(&mut w, d)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}
