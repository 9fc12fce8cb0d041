//! Score records: one entity's scores as a JSON object with an id derived
//! from content, the unit of the `scores` topic.
//!
//! The id is SHA-256 over the USCC, the as-of date, the policy digest (every
//! model file and the policy file) and the entity's feature row (identity
//! columns included). It never depends on the wall clock or on where a
//! micro-batch ended, so a replay after a crash reproduces a record with the
//! same id and the same payload, and consumers can drop duplicates.

use chrono::NaiveDate;
use polars::prelude::*;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tidewatch_state::{Entity, FeatureTable};

/// One entity's scores, ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreRecord {
    /// The Kafka key: the USCC.
    pub uscc: String,
    /// 32 hex characters (the first 128 bits of the SHA-256).
    pub id: String,
    /// The JSON object (keys sorted), `id` and `as_of` included.
    pub payload: String,
}

/// The content id of an entity's score at `as_of` under a policy.
/// `table`'s row `row` is the entity's feature row.
pub fn record_id(
    policy_digest: &str,
    as_of: NaiveDate,
    entity: &Entity,
    table: &FeatureTable,
    row: usize,
) -> String {
    let mut h = Sha256::new();
    h.update(b"tidewatch-score-v1\0");
    h.update(entity.uscc.to_string().as_bytes());
    h.update(b"\0");
    h.update(as_of.to_string().as_bytes());
    h.update(b"\0");
    h.update(policy_digest.as_bytes());
    h.update(b"\0");
    if let Some(r) = entity.registration() {
        for s in [
            r.name.as_str(),
            &r.region_code.to_string(),
            &r.zone.map(|z| z.to_string()).unwrap_or_default(),
            &r.industry_code.to_string(),
        ] {
            h.update(s.as_bytes());
            h.update(b"\0");
        }
    }
    for c in &table.columns {
        h.update(c[row].to_le_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

enum Col<'a> {
    Str(&'a StringChunked),
    Bool(&'a BooleanChunked),
    I64(&'a Int64Chunked),
    Other(&'a Column),
}

/// The rows of a scores frame (see [`crate::scores::scores_frame`]) as JSON
/// objects, with `id` and `as_of` added. `ids[row]` is the row's record id.
pub fn frame_payloads(
    df: &DataFrame,
    as_of: NaiveDate,
    ids: &[String],
) -> anyhow::Result<Vec<String>> {
    anyhow::ensure!(ids.len() == df.height(), "one id per row");
    let cols: Vec<(&str, Col)> = df
        .columns()
        .iter()
        .map(|c| {
            let col = match c.dtype() {
                DataType::String => c.str().map(Col::Str),
                DataType::Boolean => c.bool().map(Col::Bool),
                DataType::Int64 => c.i64().map(Col::I64),
                _ => Ok(Col::Other(c)),
            }?;
            Ok((c.name().as_str(), col))
        })
        .collect::<PolarsResult<_>>()?;
    let as_of = Value::String(as_of.to_string());
    let mut out = Vec::with_capacity(df.height());
    for (row, id) in ids.iter().enumerate() {
        let mut m = Map::new();
        m.insert("id".into(), Value::String(id.clone()));
        m.insert("as_of".into(), as_of.clone());
        for (name, c) in &cols {
            let v = match c {
                Col::Str(ca) => ca.get(row).map_or(Value::Null, |s| Value::String(s.into())),
                Col::Bool(ca) => ca.get(row).map_or(Value::Null, Value::Bool),
                Col::I64(ca) => ca.get(row).map_or(Value::Null, Value::from),
                Col::Other(c) => match c.get(row)? {
                    AnyValue::Null => Value::Null,
                    v => Value::String(v.str_value().into_owned()),
                },
            };
            m.insert((*name).to_owned(), v);
        }
        out.push(serde_json::to_string(&m)?);
    }
    Ok(out)
}
