//! Scores of the population: running the policy over the feature table,
//! reasons in words, the scores files, class distributions and the class
//! migration a model change causes.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;
use tidewatch_model::Domain;
use tidewatch_scoring::model::{Input, Variable};
use tidewatch_scoring::points::Show;
use tidewatch_scoring::{evaluate, Class, Evaluation, Policy, Reason, Want};
use tidewatch_state::{Entity, EntityStore, Feature, FeatureTable, Unit, NULL};

/// Checks a policy's models against the feature catalogue: every column a
/// variable reads must be a feature, and a variable that can see a missing
/// value (a nullable feature, a ratio) needs a missing bin.
pub fn check_policy(policy: &Policy) -> anyhow::Result<()> {
    for f in &policy.fields {
        for v in &f.model.variables {
            for c in v.input.columns() {
                let Some(feat) = Feature::by_name(c) else {
                    anyhow::bail!(
                        "{}:{}: variable {:?} reads {c:?}, which is not a feature (see `tidewatch features`)",
                        f.model.source,
                        v.line,
                        v.name
                    );
                };
                let can_miss = feat.def().nullable || v.input.is_ratio();
                if can_miss && v.missing_bin().is_none() {
                    anyhow::bail!(
                        "{}:{}: variable {:?} can see a missing value ({c:?}{}) but has no `missing = true` bin",
                        f.model.source,
                        v.line,
                        v.name,
                        if v.input.is_ratio() { " as a divisor" } else { " is nullable" }
                    );
                }
            }
        }
    }
    Ok(())
}

/// Whether each entity is in each field of the policy.
pub fn coverage(policy: &Policy, store: &EntityStore) -> Vec<Vec<bool>> {
    coverage_of(policy, store.entities())
}

/// [`coverage`] of some entities, in their order.
pub fn coverage_of<'a>(
    policy: &Policy,
    entities: impl IntoIterator<Item = &'a Entity>,
) -> Vec<Vec<bool>> {
    let mut cover = vec![Vec::new(); policy.fields.len()];
    for e in entities {
        // One registration lookup per entity, for every field.
        let reg = e.registration();
        for (f, c) in policy.fields.iter().zip(cover.iter_mut()) {
            c.push(reg.is_some_and(|r| f.covers(&r.licences, Some(&r.industry_code))));
        }
    }
    cover
}

/// Runs the policy over the population with reasons.
pub fn score_population(
    policy: &Policy,
    features: &DataFrame,
    coverage: &[Vec<bool>],
) -> anyhow::Result<Evaluation> {
    Ok(evaluate(
        policy,
        features,
        coverage,
        Want {
            points: false,
            reasons: true,
        },
    )?)
}

/// A variable's value for one entity, from the feature table.
pub fn variable_value(v: &Variable, table: &FeatureTable, row: usize) -> Option<f64> {
    let get = |c: &str| {
        Feature::by_name(c)
            .map(|f| table.get(row, f))
            .filter(|&x| x != NULL)
    };
    match &v.input {
        Input::Column(c) => get(c).map(|x| x as f64),
        Input::Ratio(a, b) => match (get(a), get(b)) {
            (Some(x), Some(y)) if y != 0 => Some(x as f64 / y as f64),
            _ => None,
        },
        Input::Sum(cs) => cs
            .iter()
            .map(|c| get(c))
            .sum::<Option<i64>>()
            .map(|x| x as f64),
        Input::Diff(a, b) => Some((get(a)? - get(b)?) as f64),
    }
}

/// A value in the words of its unit: yuan for money, days, yes/no.
pub fn show_value(v: &Variable, value: Option<f64>) -> String {
    let mut s = String::new();
    write_value(&mut s, v, value);
    s
}

fn write_value(out: &mut String, v: &Variable, value: Option<f64>) {
    use std::fmt::Write as _;
    let Some(x) = value else {
        out.push_str("无记录");
        return;
    };
    if v.input.is_ratio() {
        let _ = write!(out, "{:.0}%", x * 100.0);
        return;
    }
    let unit = match &v.input {
        Input::Column(c) => Feature::by_name(c).map(|f| f.def().unit),
        _ => Some(Unit::Count),
    };
    let _ = match unit {
        Some(Unit::Fen) => write!(out, "{:.2}元", x / 100.0),
        Some(Unit::Days) => write!(out, "{x:.0}天"),
        Some(Unit::Flag) => {
            out.push_str(if x != 0.0 { "是" } else { "否" });
            Ok(())
        }
        _ => write!(out, "{x}"),
    };
}

/// "label: value (+points)" for one reason, using the bin's own words when
/// it has them.
pub fn reason_text(v: &Variable, value: Option<f64>, points: i64) -> String {
    let mut s = String::new();
    write_reason(&mut s, v, value, points);
    s
}

/// [`reason_text`], appended to `out` (a row's reasons share one buffer).
fn write_reason(out: &mut String, v: &Variable, value: Option<f64>, points: i64) {
    use std::fmt::Write as _;
    let sign = if points >= 0 { "+" } else { "" };
    match v.bin_for(value).and_then(|b| b.reason.as_deref()) {
        Some(r) => {
            let _ = write!(out, "{r}（{}：", v.label);
            write_value(out, v, value);
            let _ = write!(out, "，{sign}{}分）", Show(points));
        }
        None => {
            let _ = write!(out, "{}：", v.label);
            write_value(out, v, value);
            let _ = write!(out, "（{sign}{}分）", Show(points));
        }
    }
}

fn reasons_of(
    policy: &Policy,
    fi: usize,
    ev: &Evaluation,
    table: &FeatureTable,
    row: usize,
) -> String {
    let model = &policy.fields[fi].model;
    let Some(rs) = ev.fields[fi].scores.reasons.as_ref() else {
        return String::new();
    };
    let mut out = String::new();
    write_reasons(&mut out, model, &rs[row], table, row);
    out
}

/// A row's reasons, "；"-separated, appended to `out`.
fn write_reasons(
    out: &mut String,
    model: &tidewatch_scoring::Model,
    reasons: &[Reason],
    table: &FeatureTable,
    row: usize,
) {
    let start = out.len();
    for r in reasons.iter().filter(|r| !r.is_none()) {
        if out.len() > start {
            out.push('；');
        }
        let v = &model.variables[r.var as usize];
        write_reason(out, v, variable_value(v, table, row), r.points);
    }
}

/// What one key of a score record holds (see [`score_payloads`]); the
/// `usize` is the field's index in the evaluation.
enum Val<'a> {
    Id,
    AsOf,
    Identity(&'a StringChunked),
    Covered(usize),
    Risk(usize),
    ModelClass(usize),
    Class(usize),
    Reasons(usize),
    Version(usize),
    Override,
    Flag(Feature),
    LastInspected,
}

/// The score records' JSON payloads, written straight from the evaluation:
/// the same bytes as [`crate::records::frame_payloads`] over
/// [`scores_frame`] (a test checks it), without building the frame's
/// string columns and reading them back, which cost the streaming engine
/// more than the scoring. `features` and `table` are the rows scored,
/// `ids[row]` each row's record id.
pub fn score_payloads(
    policy: &Policy,
    ev: &Evaluation,
    features: &DataFrame,
    table: &FeatureTable,
    as_of: NaiveDate,
    ids: &[String],
) -> anyhow::Result<Vec<String>> {
    use std::io::Write as _;
    let n = features.height();
    anyhow::ensure!(
        ids.len() == n && table.rows() == n,
        "one id and one feature row per row"
    );
    // The keys of `scores_frame`, sorted as `frame_payloads` sorts them.
    let mut vals: BTreeMap<String, Val<'_>> = BTreeMap::new();
    vals.insert("id".into(), Val::Id);
    vals.insert("as_of".into(), Val::AsOf);
    for c in ["uscc", "name", "region_code", "zone", "industry_code"] {
        vals.insert(c.into(), Val::Identity(features.column(c)?.str()?));
    }
    for (fi, f) in ev.fields.iter().enumerate() {
        let d = f.domain.as_str();
        if f.domain != Domain::General {
            vals.insert(format!("{d}_covered"), Val::Covered(fi));
        }
        vals.insert(format!("{d}_risk_score"), Val::Risk(fi));
        vals.insert(format!("{d}_model_class"), Val::ModelClass(fi));
        vals.insert(format!("{d}_class"), Val::Class(fi));
        vals.insert(format!("{d}_reasons"), Val::Reasons(fi));
        vals.insert(format!("{d}_model_version"), Val::Version(fi));
    }
    vals.insert("override".into(), Val::Override);
    vals.insert("deregistered".into(), Val::Flag(Feature::Deregistered));
    vals.insert("revoked".into(), Val::Flag(Feature::Revoked));
    vals.insert("last_inspected_on".into(), Val::LastInspected);
    let keys = crate::records::object_keys(vals)?;
    let as_of_json = serde_json::to_string(&as_of.to_string())?;
    let models: Vec<&tidewatch_scoring::Model> = (0..ev.fields.len())
        .map(|fi| &policy.fields[fi].model)
        .collect();
    // One row's object; rows are independent, so they are written in
    // parallel, each thread into buffers of its own (the reasons, the
    // object). The object is then copied out at its size: a catch-up holds
    // every changed entity's payload at once until it is published, and
    // buffers grown by doubling left a third of that memory unused.
    let write_row = |(reasons, buf): &mut (String, Vec<u8>),
                     row: usize|
     -> anyhow::Result<String> {
        let id = &ids[row];
        buf.clear();
        for (key, v) in &keys {
            buf.extend_from_slice(key.as_bytes());
            let covered = |fi: usize| ev.fields[fi].covered[row];
            match *v {
                Val::Id => serde_json::to_writer(&mut *buf, id)?,
                Val::AsOf => buf.extend_from_slice(as_of_json.as_bytes()),
                Val::Identity(ca) => match ca.get(row) {
                    Some(s) => serde_json::to_writer(&mut *buf, s)?,
                    None => buf.extend_from_slice(b"null"),
                },
                Val::Covered(fi) => buf.extend_from_slice(json_bool(covered(fi))),
                Val::Risk(fi) if covered(fi) => {
                    write!(buf, "{}", ev.fields[fi].scores.risk[row])?;
                }
                Val::ModelClass(fi) if covered(fi) => {
                    let class = ev.fields[fi].scores.class_of(row);
                    serde_json::to_writer(&mut *buf, class.map_or("", |c| c.as_str()))?;
                }
                Val::Class(fi) => match ev.fields[fi].class[row] {
                    Some(c) => serde_json::to_writer(&mut *buf, c.as_str())?,
                    None => buf.extend_from_slice(b"null"),
                },
                Val::Reasons(fi) if covered(fi) => {
                    reasons.clear();
                    if let Some(rs) = ev.fields[fi].scores.reasons.as_ref() {
                        write_reasons(reasons, models[fi], &rs[row], table, row);
                    }
                    serde_json::to_writer(&mut *buf, &reasons)?;
                }
                Val::Version(fi) => serde_json::to_writer(&mut *buf, &ev.fields[fi].model_version)?,
                Val::Override => match ev.override_applied[row] {
                    Some(i) => {
                        serde_json::to_writer(&mut *buf, &policy.overrides[i as usize].reason)?
                    }
                    None => buf.extend_from_slice(b"null"),
                },
                Val::Flag(f) => {
                    // As the features frame carries it: a nullable feature's
                    // missing value is false.
                    let x = table.get(row, f);
                    let missing = f.def().nullable && x == NULL;
                    buf.extend_from_slice(json_bool(!missing && x != 0));
                }
                Val::LastInspected => {
                    let x = table.get(row, Feature::DaysSinceInspection);
                    let day = (x != NULL)
                        .then(|| as_of.checked_sub_signed(chrono::Duration::days(x)))
                        .flatten();
                    match day {
                        Some(day) => write!(buf, "\"{day}\"")?,
                        None => buf.extend_from_slice(b"null"),
                    }
                }
                Val::Risk(_) | Val::ModelClass(_) | Val::Reasons(_) => {
                    buf.extend_from_slice(b"null")
                }
            }
        }
        buf.push(b'}');
        Ok(std::str::from_utf8(buf)?.to_owned())
    };
    (0..n)
        .into_par_iter()
        .with_min_len(64)
        .map_init(|| (String::new(), Vec::with_capacity(4096)), write_row)
        .collect()
}

fn json_bool(b: bool) -> &'static [u8] {
    if b {
        b"true"
    } else {
        b"false"
    }
}

/// The scores frame: one row per entity, per field the risk score, the
/// model's class, the class used for the field, reasons and model version;
/// then the override applied and what a double-random draw needs besides
/// the class (`deregistered`, `revoked`, `last_inspected_on` at `as_of`),
/// so a draw's population can be built from score records alone.
pub fn scores_frame(
    policy: &Policy,
    ev: &Evaluation,
    features: &DataFrame,
    table: &FeatureTable,
    as_of: NaiveDate,
) -> anyhow::Result<DataFrame> {
    let n = features.height();
    let mut cols: Vec<Column> = ["uscc", "name", "region_code", "zone", "industry_code"]
        .iter()
        .map(|c| features.column(c).cloned())
        .collect::<Result<_, _>>()?;
    for (fi, f) in ev.fields.iter().enumerate() {
        let d = f.domain.as_str();
        let cov = |r: usize| f.covered[r];
        if f.domain != Domain::General {
            cols.push(Column::new(
                format!("{d}_covered").into(),
                f.covered.clone(),
            ));
        }
        let risk: Vec<Option<i64>> = (0..n)
            .map(|r| cov(r).then(|| i64::from(f.scores.risk[r])))
            .collect();
        cols.push(Column::new(format!("{d}_risk_score").into(), risk));
        let own: Vec<Option<&str>> = (0..n)
            .map(|r| cov(r).then(|| f.scores.class_of(r).map_or("", |c| c.as_str())))
            .collect();
        cols.push(Column::new(format!("{d}_model_class").into(), own));
        let class: Vec<Option<&str>> = f.class.iter().map(|c| c.map(Class::as_str)).collect();
        cols.push(Column::new(format!("{d}_class").into(), class));
        let reasons: Vec<Option<String>> = (0..n)
            .map(|r| cov(r).then(|| reasons_of(policy, fi, ev, table, r)))
            .collect();
        cols.push(Column::new(format!("{d}_reasons").into(), reasons));
        cols.push(Column::new(
            format!("{d}_model_version").into(),
            vec![f.model_version.as_str(); n],
        ));
    }
    let overrides: Vec<Option<&str>> = ev
        .override_applied
        .iter()
        .map(|o| o.map(|i| policy.overrides[i as usize].reason.as_str()))
        .collect();
    cols.push(Column::new("override".into(), overrides));
    for flag in ["deregistered", "revoked"] {
        let v: Vec<bool> = features
            .column(flag)?
            .i64()?
            .iter()
            .map(|x| x.unwrap_or(0) != 0)
            .collect();
        cols.push(Column::new(flag.into(), v));
    }
    let last: Vec<Option<String>> = features
        .column("days_since_inspection")?
        .i64()?
        .iter()
        .map(|d| {
            d.and_then(|d| as_of.checked_sub_signed(chrono::Duration::days(d)))
                .map(|day| day.to_string())
        })
        .collect();
    cols.push(Column::new("last_inspected_on".into(), last));
    Ok(DataFrame::new(n, cols)?)
}

pub fn write_scores(dir: &Path, df: &mut DataFrame) -> anyhow::Result<()> {
    let p = dir.join("scores.parquet");
    let f = File::create(&p).with_context(|| format!("creating {}", p.display()))?;
    ParquetWriter::new(f)
        .finish(df)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", p.display()))?;
    let p = dir.join("scores.csv");
    let mut f = File::create(&p).with_context(|| format!("creating {}", p.display()))?;
    CsvWriter::new(&mut f)
        .finish(df)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", p.display()))?;
    Ok(())
}

/// Class counts: `by_field[field][class]` and `by_region[region][class]`
/// (general class).
#[derive(Debug, Default, Serialize)]
pub struct Distribution {
    pub by_field: BTreeMap<String, BTreeMap<String, u64>>,
    pub by_region: BTreeMap<String, BTreeMap<String, u64>>,
}

pub fn distribution(ev: &Evaluation, regions: &[String]) -> Distribution {
    let mut d = Distribution::default();
    for f in &ev.fields {
        let m = d.by_field.entry(f.domain.as_str().to_owned()).or_default();
        for c in Class::ALL {
            m.insert(c.as_str().to_owned(), 0);
        }
        for c in f.class.iter().flatten() {
            *m.entry(c.as_str().to_owned()).or_default() += 1;
        }
    }
    if let Some(g) = ev.field(Domain::General) {
        for (c, region) in g.class.iter().zip(regions) {
            let m = d.by_region.entry(region.clone()).or_insert_with(|| {
                Class::ALL
                    .iter()
                    .map(|c| (c.as_str().to_owned(), 0))
                    .collect()
            });
            if let Some(c) = c {
                *m.entry(c.as_str().to_owned()).or_default() += 1;
            }
        }
    }
    d
}

/// Old class × new class counts per field where the model changed since the
/// previous run's `scores.parquet`.
#[derive(Debug, Default, Serialize)]
pub struct Migration {
    /// Fields whose model version changed: old → new version.
    pub changed_models: BTreeMap<String, (String, String)>,
    /// `matrix[field][old class][new class]` over entities in both runs.
    pub matrix: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>,
}

/// Compares with the previous scores, if there are any.
pub fn migration(
    previous: &Path,
    current: &DataFrame,
    ev: &Evaluation,
) -> anyhow::Result<Option<Migration>> {
    let Ok(f) = File::open(previous) else {
        return Ok(None);
    };
    let old = ParquetReader::new(f)
        .finish()
        .map_err(|e| anyhow::anyhow!("reading previous scores {}: {e}", previous.display()))?;
    let mut m = Migration::default();
    let old_uscc = old.column("uscc")?.str()?.clone();
    let index: std::collections::HashMap<&str, usize> = old_uscc
        .iter()
        .enumerate()
        .filter_map(|(i, u)| u.map(|u| (u, i)))
        .collect();
    let cur_uscc = current.column("uscc")?.str()?.clone();
    for f in &ev.fields {
        let d = f.domain.as_str();
        let (Ok(old_ver), Ok(old_class)) = (
            old.column(&format!("{d}_model_version")),
            old.column(&format!("{d}_class")),
        ) else {
            continue;
        };
        let old_ver = old_ver.str()?.get(0).unwrap_or("").to_owned();
        if old_ver == f.model_version {
            continue;
        }
        m.changed_models
            .insert(d.to_owned(), (old_ver, f.model_version.clone()));
        let old_class = old_class.str()?;
        let mut mat: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for (r, u) in cur_uscc.iter().enumerate() {
            let Some(&o) = u.and_then(|u| index.get(u)) else {
                continue;
            };
            let old_c = old_class.get(o).unwrap_or("-").to_owned();
            let new_c = f.class[r].map_or("-", Class::as_str).to_owned();
            *mat.entry(old_c).or_default().entry(new_c).or_default() += 1;
        }
        m.matrix.insert(d.to_owned(), mat);
    }
    Ok(Some(m))
}
