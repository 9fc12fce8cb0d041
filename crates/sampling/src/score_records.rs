//! The population snapshot from score records — the JSON objects the engine
//! publishes on the `scores` topic, one per entity (docs/streaming.md) — and
//! the records a draw publishes on the `samples` topic. Pure: decoded JSON
//! in, rows and bytes out; reading and writing topics is the Kafka edge's.
//!
//! A score record carries, besides the identity columns and per field the
//! class, what a draw's scope and exclusions need: `deregistered`,
//! `revoked` and `last_inspected_on`. [`population_from_score_records`]
//! gives exactly the rows the scores and features files of the same run
//! give, so a draw over the topic has the same population digest.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;
use tidewatch_model::{Domain, RegionCode, Uscc};

use crate::class::Class;
use crate::digest::{canonical_json, sha256_hex};
use crate::draw::Manifest;
use crate::population::PopulationRow;

/// Why score records cannot make a population.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreRecordError {
    #[error("there are no score records yet")]
    Empty,
    #[error("the score records are of several as-of dates ({0}): the engine is still rescoring after a date change; wait until it has caught up")]
    MixedAsOf(String),
    #[error("score record {record}: {message}")]
    Bad { record: String, message: String },
}

fn bad(v: &Value, message: impl Into<String>) -> ScoreRecordError {
    ScoreRecordError::Bad {
        record: v
            .get("uscc")
            .and_then(Value::as_str)
            .unwrap_or("without a uscc")
            .to_owned(),
        message: message.into(),
    }
}

/// The as-of date every record shares.
pub fn records_as_of<'a>(
    records: impl IntoIterator<Item = &'a Value>,
) -> Result<NaiveDate, ScoreRecordError> {
    let mut dates = std::collections::BTreeSet::new();
    for v in records {
        let d = v
            .get("as_of")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(v, "has no as_of date"))?;
        let d: NaiveDate = d
            .parse()
            .map_err(|_| bad(v, format!("as_of {d:?} is not a YYYY-MM-DD date")))?;
        dates.insert(d);
    }
    match dates.len() {
        0 => Err(ScoreRecordError::Empty),
        1 => dates.into_iter().next().ok_or(ScoreRecordError::Empty),
        _ => Err(ScoreRecordError::MixedAsOf(
            dates
                .iter()
                .map(NaiveDate::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}

/// The population for a draw in `field`: one row per record whose
/// `<field>_class` is set (the entity is in the field), with that class.
/// Records are taken as they are (one per entity: the last per key of the
/// topic); a record missing a key a draw needs is an error naming it.
pub fn population_from_score_records<'a>(
    records: impl IntoIterator<Item = &'a Value>,
    field: Domain,
) -> Result<Vec<PopulationRow>, ScoreRecordError> {
    let class_key = format!("{}_class", field.as_str());
    let mut rows = Vec::new();
    for v in records {
        let class = match v.get(&class_key) {
            None => {
                return Err(bad(
                    v,
                    format!(
                        "has no {class_key:?}: the scoring policy has no field {}",
                        field.as_str()
                    ),
                ))
            }
            Some(Value::Null) => continue,
            Some(Value::String(c)) if c.is_empty() => continue,
            Some(Value::String(c)) => {
                Class::parse(c).map_err(|e| bad(v, format!("{class_key}: {e}")))?
            }
            Some(other) => return Err(bad(v, format!("{class_key} is {other}, not a class"))),
        };
        let text = |k: &str| -> Result<&str, ScoreRecordError> {
            match v.get(k) {
                Some(Value::String(s)) => Ok(s),
                Some(Value::Null) => Ok(""),
                Some(other) => Err(bad(v, format!("{k} is {other}, not a string"))),
                None => Err(bad(v, format!("has no {k:?}"))),
            }
        };
        let flag = |k: &str| -> Result<bool, ScoreRecordError> {
            v.get(k).and_then(Value::as_bool).ok_or_else(|| {
                bad(
                    v,
                    format!("has no boolean {k:?} (a record of an older engine: rescore with the current one)"),
                )
            })
        };
        let uscc: Uscc = text("uscc")?
            .parse()
            .map_err(|e| bad(v, format!("uscc: {e}")))?;
        let region =
            RegionCode::parse(text("region_code")?).map_err(|e| bad(v, format!("region: {e}")))?;
        let last_inspected_on = match v.get("last_inspected_on") {
            Some(Value::Null) => None,
            Some(Value::String(d)) => Some(d.parse().map_err(|_| {
                bad(
                    v,
                    format!("last_inspected_on {d:?} is not a YYYY-MM-DD date"),
                )
            })?),
            _ => {
                return Err(bad(
                    v,
                    "has no \"last_inspected_on\" (a record of an older engine: rescore with the current one)",
                ))
            }
        };
        rows.push(PopulationRow {
            uscc,
            name: text("name")?.to_owned(),
            region,
            industry: text("industry_code")?.to_owned(),
            class,
            deregistered: flag("deregistered")?,
            revoked: flag("revoked")?,
            last_inspected_on,
        });
    }
    Ok(rows)
}

/// One record of the `samples` topic: a chosen entity of a draw, or one
/// replaced after the draw. Keyed by USCC; `id` is derived from the rest,
/// so publishing the same draw again gives the same records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// 32 hex characters: the first 128 bits of SHA-256 over
    /// `tidewatch-sample-v1\n` and the canonical JSON of the other fields.
    pub id: String,
    pub plan_id: String,
    pub field: Domain,
    pub as_of: NaiveDate,
    /// `chosen` (on the list) or `replaced` (taken off it, see `reason`).
    pub status: &'static str,
    pub uscc: Uscc,
    pub stratum: String,
    /// The entity's name, region, class, rank (hex) and team; `null` (and
    /// no officers) for a replaced entity.
    pub name: Option<String>,
    pub region: Option<RegionCode>,
    pub class: Option<Class>,
    pub rank: Option<String>,
    pub officers: Vec<String>,
    /// The entity this one replaced.
    pub replaces: Option<Uscc>,
    /// Why a replaced entity left the list, and what came in for it.
    pub reason: Option<String>,
    pub replaced_by: Option<Uscc>,
}

/// The `samples` records of a draw: every chosen entity in list order, then
/// every replaced one in replacement order.
pub fn sample_records(m: &Manifest) -> Vec<Sample> {
    let base = |status: &'static str, uscc: Uscc, stratum: &str| Sample {
        id: String::new(),
        plan_id: m.plan.id.clone(),
        field: m.plan.field,
        as_of: m.plan.as_of,
        status,
        uscc,
        stratum: stratum.to_owned(),
        name: None,
        region: None,
        class: None,
        rank: None,
        officers: Vec::new(),
        replaces: None,
        reason: None,
        replaced_by: None,
    };
    let chosen = m.chosen.iter().map(|c| Sample {
        name: Some(c.name.clone()),
        region: Some(c.region),
        class: Some(c.class),
        rank: Some(c.rank.clone()),
        officers: c.officers.clone(),
        replaces: c.replaces,
        ..base("chosen", c.uscc, &c.stratum)
    });
    let replaced = m.replacements.iter().map(|r| Sample {
        reason: Some(r.reason.clone()),
        replaced_by: r.replacement,
        ..base("replaced", r.replaced, &r.stratum)
    });
    chosen
        .chain(replaced)
        .map(|mut s| {
            let mut h = b"tidewatch-sample-v1\n".to_vec();
            h.extend(canonical_json(&s));
            s.id = sha256_hex(&h)[..32].to_owned();
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(uscc: &str, food: Value) -> Value {
        json!({
            "id": "x", "as_of": "2026-09-30", "uscc": uscc, "name": "甲,乙",
            "region_code": "330902", "zone": null, "industry_code": "F5221",
            "general_class": "B", "food_class": food,
            "deregistered": false, "revoked": true, "last_inspected_on": "2026-03-01",
        })
    }

    fn uscc(body: &str) -> String {
        Uscc::from_body(body).expect("uscc").to_string()
    }

    #[test]
    fn rows_come_from_the_records_of_the_field() {
        let a = uscc("91330902000000001");
        let b = uscc("91330902000000002");
        let recs = [record(&a, json!("D")), record(&b, Value::Null)];
        assert_eq!(
            records_as_of(&recs),
            Ok(NaiveDate::from_ymd_opt(2026, 9, 30).expect("date"))
        );
        let rows = population_from_score_records(&recs, Domain::Food).expect("rows");
        assert_eq!(rows.len(), 1, "the entity outside food is left out");
        assert_eq!(rows[0].uscc.to_string(), a);
        assert_eq!(rows[0].class, Class::D);
        assert!(rows[0].revoked && !rows[0].deregistered);
        assert_eq!(rows[0].name, "甲,乙");
        assert_eq!(
            rows[0].last_inspected_on,
            NaiveDate::from_ymd_opt(2026, 3, 1)
        );
        assert_eq!(
            population_from_score_records(&recs, Domain::General)
                .expect("rows")
                .len(),
            2
        );
    }

    #[test]
    fn missing_keys_and_mixed_dates_are_refused() {
        let a = uscc("91330902000000001");
        let mut old = record(&a, json!("A"));
        old.as_object_mut().expect("object").remove("revoked");
        let e = population_from_score_records([&old], Domain::Food).expect_err("no revoked");
        assert!(e.to_string().contains("revoked"), "{e}");
        let e =
            population_from_score_records([&old], Domain::Construction).expect_err("no such field");
        assert!(e.to_string().contains("construction_class"), "{e}");
        let mut later = record(&a, json!("A"));
        later["as_of"] = json!("2026-10-01");
        let e = records_as_of([&record(&a, json!("A")), &later]).expect_err("mixed");
        assert!(matches!(e, ScoreRecordError::MixedAsOf(_)), "{e}");
        assert_eq!(records_as_of([]), Err(ScoreRecordError::Empty));
    }
}
