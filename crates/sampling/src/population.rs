//! The population snapshot a draw is taken over, and its canonical bytes.
//!
//! The snapshot is published as CSV before the randomness is known, so its
//! byte layout is fixed here and in `docs/draw-algorithm.md`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tidewatch_model::{RegionCode, Uscc};

use crate::class::Class;
use crate::digest::sha256_hex;

/// One entity of the snapshot, with its class for the plan's field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PopulationRow {
    pub uscc: Uscc,
    pub name: String,
    pub region: RegionCode,
    /// GB/T 4754 code as registered; may be empty when unknown.
    pub industry: String,
    pub class: Class,
    pub deregistered: bool,
    pub revoked: bool,
    pub last_inspected_on: Option<NaiveDate>,
}

/// Why a snapshot cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PopulationError {
    #[error("USCC {0} appears more than once in the population")]
    DuplicateUscc(Uscc),
}

/// The fixed header line of the canonical CSV.
pub const CSV_HEADER: &str =
    "uscc,name,region,industry,class,deregistered,revoked,last_inspected_on";

/// Rows sorted by USCC; refuses duplicates because a duplicate would make
/// the entity's class (and so its stratum) ambiguous.
pub fn sorted_rows(rows: &[PopulationRow]) -> Result<Vec<&PopulationRow>, PopulationError> {
    let mut sorted: Vec<&PopulationRow> = rows.iter().collect();
    sorted.sort_by(|a, b| a.uscc.as_bytes().cmp(b.uscc.as_bytes()));
    if let Some(w) = sorted.windows(2).find(|w| w[0].uscc == w[1].uscc) {
        return Err(PopulationError::DuplicateUscc(w[0].uscc));
    }
    Ok(sorted)
}

/// The canonical CSV of the snapshot: UTF-8 without BOM, `\n` line ends
/// (after the last row too), the header [`CSV_HEADER`], rows sorted by USCC
/// bytes. A field is quoted only when it contains `,`, `"`, `\r` or `\n`,
/// with `"` doubled inside quotes. Booleans are `true`/`false`; an absent
/// date is the empty field.
pub fn canonical_csv(rows: &[PopulationRow]) -> Result<Vec<u8>, PopulationError> {
    Ok(csv_of_sorted(&sorted_rows(rows)?))
}

pub(crate) fn csv_of_sorted(rows: &[&PopulationRow]) -> Vec<u8> {
    let mut out = String::with_capacity(64 + rows.len() * 96);
    out.push_str(CSV_HEADER);
    out.push('\n');
    for r in rows {
        out.push_str(r.uscc.as_str());
        out.push(',');
        push_field(&mut out, &r.name);
        out.push(',');
        out.push_str(r.region.as_str());
        out.push(',');
        push_field(&mut out, &r.industry);
        out.push(',');
        out.push_str(r.class.as_str());
        out.push(',');
        out.push_str(if r.deregistered { "true" } else { "false" });
        out.push(',');
        out.push_str(if r.revoked { "true" } else { "false" });
        out.push(',');
        if let Some(d) = r.last_inspected_on {
            out.push_str(&d.format("%Y-%m-%d").to_string());
        }
        out.push('\n');
    }
    out.into_bytes()
}

fn push_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// SHA-256 of [`canonical_csv`], lower-case hex.
pub fn population_digest(rows: &[PopulationRow]) -> Result<String, PopulationError> {
    Ok(sha256_hex(&canonical_csv(rows)?))
}
