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
    use std::io::Write as _;
    let mut h = Sha256::new();
    h.update(b"tidewatch-score-v1\0");
    h.update(entity.uscc.as_str().as_bytes());
    h.update(b"\0");
    // The date as `to_string` writes it, straight into the hasher (whose
    // writes cannot fail).
    let _ = write!(h, "{as_of}");
    h.update(b"\0");
    h.update(policy_digest.as_bytes());
    h.update(b"\0");
    if let Some(r) = entity.registration() {
        for s in [
            r.name.as_str(),
            r.region_code.as_str(),
            r.zone.as_ref().map_or("", |z| z.as_str()),
            r.industry_code.as_str(),
        ] {
            h.update(s.as_bytes());
            h.update(b"\0");
        }
    }
    for c in &table.columns {
        h.update(c[row].to_le_bytes());
    }
    // The first 16 bytes in lower-case hex.
    format!("{:.32x}", h.finalize())
}

/// The keys of a JSON object in sorted order (as a `serde_json::Map` sorts
/// them), each written once with its opening brace or comma, quotes and
/// colon, beside what it holds: a row's object is then these prefixes and
/// its values, then `}`.
pub(crate) fn object_keys<K: AsRef<str>, V>(
    by_key: std::collections::BTreeMap<K, V>,
) -> anyhow::Result<Vec<(String, V)>> {
    by_key
        .into_iter()
        .enumerate()
        .map(|(i, (name, v))| {
            let sep = if i == 0 { "{" } else { "," };
            Ok((
                format!("{sep}{}:", serde_json::to_string(name.as_ref())?),
                v,
            ))
        })
        .collect()
}

enum Col<'a> {
    Id,
    AsOf,
    Str(&'a StringChunked),
    Bool(&'a BooleanChunked),
    I64(&'a Int64Chunked),
    Other(&'a Column),
}

/// The rows of a scores frame (see [`crate::scores::scores_frame`]) as JSON
/// objects, with `id` and `as_of` added. `ids[row]` is the row's record id.
///
/// Keys are sorted (as a `serde_json::Map` would sort them) and each object
/// is written straight into its string: building a map per row cost more
/// than the scoring.
pub fn frame_payloads(
    df: &DataFrame,
    as_of: NaiveDate,
    ids: &[String],
) -> anyhow::Result<Vec<String>> {
    anyhow::ensure!(ids.len() == df.height(), "one id per row");
    // By key, a later column replacing an earlier one of the same name.
    let mut cols: std::collections::BTreeMap<&str, Col> = std::collections::BTreeMap::new();
    cols.insert("id", Col::Id);
    cols.insert("as_of", Col::AsOf);
    for c in df.columns() {
        let col = match c.dtype() {
            DataType::String => Col::Str(c.str()?),
            DataType::Boolean => Col::Bool(c.bool()?),
            DataType::Int64 => Col::I64(c.i64()?),
            _ => Col::Other(c),
        };
        cols.insert(c.name().as_str(), col);
    }
    let keys = object_keys(cols)?;
    let as_of = serde_json::to_string(&as_of.to_string())?;
    let mut out = Vec::with_capacity(df.height());
    let mut len = 256;
    for (row, id) in ids.iter().enumerate() {
        let mut buf: Vec<u8> = Vec::with_capacity(len);
        for (key, c) in &keys {
            buf.extend_from_slice(key.as_bytes());
            match c {
                Col::Id => serde_json::to_writer(&mut buf, id)?,
                Col::AsOf => buf.extend_from_slice(as_of.as_bytes()),
                Col::Str(ca) => match ca.get(row) {
                    Some(s) => serde_json::to_writer(&mut buf, s)?,
                    None => buf.extend_from_slice(b"null"),
                },
                Col::Bool(ca) => buf.extend_from_slice(match ca.get(row) {
                    Some(true) => b"true",
                    Some(false) => b"false",
                    None => b"null",
                }),
                Col::I64(ca) => match ca.get(row) {
                    Some(v) => serde_json::to_writer(&mut buf, &v)?,
                    None => buf.extend_from_slice(b"null"),
                },
                Col::Other(c) => match c.get(row)? {
                    AnyValue::Null => buf.extend_from_slice(b"null"),
                    v => serde_json::to_writer(&mut buf, &v.str_value())?,
                },
            }
        }
        buf.push(b'}');
        len = len.max(buf.len());
        out.push(String::from_utf8(buf)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value};

    /// What the payloads were before they were written directly: a sorted
    /// map per row, serialized.
    fn via_map(df: &DataFrame, as_of: NaiveDate, ids: &[String]) -> Vec<String> {
        (0..df.height())
            .map(|row| {
                let mut m = Map::new();
                m.insert("id".into(), Value::String(ids[row].clone()));
                m.insert("as_of".into(), Value::String(as_of.to_string()));
                for c in df.columns() {
                    let v = match c.get(row).unwrap() {
                        AnyValue::Null => Value::Null,
                        AnyValue::String(s) => Value::String(s.into()),
                        AnyValue::Boolean(b) => Value::Bool(b),
                        AnyValue::Int64(i) => Value::from(i),
                        v => Value::String(v.str_value().into_owned()),
                    };
                    m.insert(c.name().to_string(), v);
                }
                serde_json::to_string(&m).unwrap()
            })
            .collect()
    }

    #[test]
    fn payloads_are_the_sorted_json_objects_of_the_rows() {
        let df = df!(
            "uscc" => ["91330903G061B4F47C", "x\"\\\n\u{1}", "舟山"],
            "zeta" => [Some(true), None, Some(false)],
            "alpha" => [Some(-3i64), Some(i64::MAX), None],
            "grade" => [Some("A"), None, Some("")],
            "ratio" => [Some(0.5f64), None, Some(-1.25)],
            // Replaces the added field, as a map insert would.
            "as_of" => ["own", "own", "own"],
        )
        .unwrap();
        let as_of = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
        let ids: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let got = frame_payloads(&df, as_of, &ids).unwrap();
        assert_eq!(got, via_map(&df, as_of, &ids));
        assert!(got[0].starts_with(r#"{"alpha":-3,"as_of":"own","grade":"A","id":"a","#));
        assert!(frame_payloads(&df, as_of, &ids[..2]).is_err());
    }
}
