//! The commitment: every digest a draw depends on, published before the
//! randomness is known, so none of the inputs (the roster included) can be
//! adjusted once the result could be foreseen.

use serde::{Deserialize, Serialize};

use crate::digest::{canonical_json, canonical_json_digest, sha256_hex};
use crate::draw::{canonical_history, canonical_roster, DrawError, DrawInputs, ALGORITHM_VERSION};
use crate::population::{digest_of_sorted, sorted_rows};
use crate::verify::Mismatch;
use crate::Manifest;

/// What `draw commit` publishes. Field order is the canonical JSON order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commitment {
    pub algorithm: String,
    pub plan_id: String,
    pub plan_digest: String,
    pub population_digest: String,
    pub population_rows: u64,
    pub roster_digest: String,
    pub roster_officers: u64,
    pub history_digest: String,
    pub history_records: u64,
    pub randomness_source: String,
    /// SHA-256 of the canonical JSON of the fields above: the one value to
    /// publish where space is short.
    pub commitment_digest: String,
}

/// [`Commitment`] without its own digest, i.e. what that digest covers.
#[derive(Serialize)]
struct Body<'a> {
    algorithm: &'a str,
    plan_id: &'a str,
    plan_digest: &'a str,
    population_digest: &'a str,
    population_rows: u64,
    roster_digest: &'a str,
    roster_officers: u64,
    history_digest: &'a str,
    history_records: u64,
    randomness_source: &'a str,
}

impl Commitment {
    /// The digest the other fields give.
    pub fn expected_digest(&self) -> String {
        sha256_hex(&canonical_json(&Body {
            algorithm: &self.algorithm,
            plan_id: &self.plan_id,
            plan_digest: &self.plan_digest,
            population_digest: &self.population_digest,
            population_rows: self.population_rows,
            roster_digest: &self.roster_digest,
            roster_officers: self.roster_officers,
            history_digest: &self.history_digest,
            history_records: self.history_records,
            randomness_source: &self.randomness_source,
        }))
    }

    /// Pretty JSON with a final newline, as published.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("commitment always serialises");
        v.push(b'\n');
        v
    }
}

/// Computes the commitment for a plan, a population, a roster and a history.
pub fn commit(inputs: &DrawInputs<'_>) -> Result<Commitment, DrawError> {
    let plan = inputs.plan;
    plan.validate()?;
    let rows = sorted_rows(inputs.population)?;
    let roster = canonical_roster(inputs.roster)?;
    let history = canonical_history(inputs.history);
    let mut c = Commitment {
        algorithm: ALGORITHM_VERSION.to_string(),
        plan_id: plan.id.clone(),
        plan_digest: plan.digest(),
        population_digest: digest_of_sorted(&rows),
        population_rows: rows.len() as u64,
        roster_digest: canonical_json_digest(&roster),
        roster_officers: roster.len() as u64,
        history_digest: canonical_json_digest(&history),
        history_records: history.len() as u64,
        randomness_source: plan.randomness_source.clone(),
        commitment_digest: String::new(),
    };
    c.commitment_digest = c.expected_digest();
    Ok(c)
}

/// Checks that a manifest was drawn from exactly the committed inputs:
/// the commitment is intact, then algorithm, plan id, each digest, the
/// population size and the randomness source, in that order.
pub fn verify_commitment(manifest: &Manifest, c: &Commitment) -> Result<(), Mismatch> {
    let own = c.expected_digest();
    if c.commitment_digest != own {
        return Err(value(
            "commitment_digest (over the commitment's own fields)",
            &c.commitment_digest,
            own,
        ));
    }
    let pairs: [(&str, String, String); 7] = [
        ("algorithm", c.algorithm.clone(), manifest.algorithm.clone()),
        ("plan id", c.plan_id.clone(), manifest.plan.id.clone()),
        (
            "plan_digest",
            c.plan_digest.clone(),
            manifest.plan_digest.clone(),
        ),
        (
            "population_digest",
            c.population_digest.clone(),
            manifest.population_digest.clone(),
        ),
        (
            "population_rows",
            c.population_rows.to_string(),
            manifest.population_rows.to_string(),
        ),
        (
            "roster_digest",
            c.roster_digest.clone(),
            manifest.roster_digest.clone(),
        ),
        (
            "history_digest",
            c.history_digest.clone(),
            manifest.history_digest.clone(),
        ),
    ];
    for (what, committed, drawn) in pairs {
        if committed != drawn {
            return Err(Mismatch::Commitment {
                what: what.to_string(),
                committed,
                manifest: drawn,
            });
        }
    }
    if c.randomness_source != manifest.randomness_source {
        return Err(Mismatch::Commitment {
            what: "randomness_source".into(),
            committed: c.randomness_source.clone(),
            manifest: manifest.randomness_source.clone(),
        });
    }
    Ok(())
}

fn value(what: &str, manifest: &str, derived: String) -> Mismatch {
    Mismatch::Value {
        what: what.to_string(),
        manifest: manifest.to_string(),
        derived,
    }
}
