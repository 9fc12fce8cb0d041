//! Re-deriving a published draw and naming the first difference.

use serde::Serialize;
use tidewatch_model::Officer;

use crate::digest::{canonical_json, canonical_json_digest};
use crate::draw::{
    canonical_history, canonical_roster, derive, replacement_requests, result_digest, seed,
    DrawInputs, Manifest, PastInspection, ALGORITHM_VERSION,
};
use crate::plan::Plan;
use crate::population::{digest_of_sorted, sorted_rows, PopulationRow};

/// The first way a manifest fails to follow from the inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error(
        "algorithm version: manifest says {manifest:?}, this verifier implements {expected:?}"
    )]
    Algorithm { manifest: String, expected: String },
    #[error("plan field `{field}` differs: manifest has {manifest}, the given plan has {given}")]
    PlanField {
        field: String,
        manifest: String,
        given: String,
    },
    #[error("population digest: manifest has {manifest}, the given population hashes to {computed}{}", hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Population {
        manifest: String,
        computed: String,
        /// A chosen entity whose row differs or is missing, when one does.
        hint: Option<String>,
    },
    #[error("{what}: committed {committed}, but the manifest has {manifest}")]
    Commitment {
        what: String,
        committed: String,
        manifest: String,
    },
    #[error("{what}: manifest has {manifest}, re-derived {derived}")]
    Value {
        what: String,
        manifest: String,
        derived: String,
    },
    #[error("the inputs do not allow a draw: {0}")]
    Rederive(String),
}

fn value(what: impl Into<String>, manifest: impl ToString, derived: impl ToString) -> Mismatch {
    Mismatch::Value {
        what: what.into(),
        manifest: manifest.to_string(),
        derived: derived.to_string(),
    }
}

fn json<T: Serialize>(v: &T) -> String {
    String::from_utf8_lossy(&canonical_json(v)).into_owned()
}

/// Re-derives the draw the manifest describes from the given inputs (with
/// the manifest's randomness and replacement requests) and reports the first
/// difference, checking in this order: algorithm, plan, digests, seed, the
/// manifest's own result digest, then strata, chosen list, replacements,
/// unstaffed list and loads.
pub fn verify(
    manifest: &Manifest,
    plan: &Plan,
    population: &[PopulationRow],
    history: &[PastInspection],
    roster: &[Officer],
) -> Result<(), Mismatch> {
    if manifest.algorithm != ALGORITHM_VERSION {
        return Err(Mismatch::Algorithm {
            manifest: manifest.algorithm.clone(),
            expected: ALGORITHM_VERSION.to_string(),
        });
    }
    compare_plans(&manifest.plan, plan)?;
    let plan_digest = plan.digest();
    if manifest.plan_digest != plan_digest {
        return Err(value("plan_digest", &manifest.plan_digest, plan_digest));
    }
    let population_digest = match sorted_rows(population) {
        Ok(rows) => digest_of_sorted(&rows),
        Err(e) => return Err(Mismatch::Rederive(e.to_string())),
    };
    if manifest.population_digest != population_digest {
        return Err(Mismatch::Population {
            manifest: manifest.population_digest.clone(),
            computed: population_digest,
            hint: population_hint(manifest, population),
        });
    }
    let roster_digest = canonical_roster(roster)
        .map(|r| canonical_json_digest(&r))
        .map_err(|e| Mismatch::Rederive(e.to_string()))?;
    if manifest.roster_digest != roster_digest {
        return Err(value(
            "roster_digest",
            &manifest.roster_digest,
            roster_digest,
        ));
    }
    let history_digest = canonical_json_digest(&canonical_history(history));
    if manifest.history_digest != history_digest {
        return Err(value(
            "history_digest",
            &manifest.history_digest,
            history_digest,
        ));
    }
    if manifest.randomness_source != plan.randomness_source {
        return Err(value(
            "randomness_source",
            &manifest.randomness_source,
            &plan.randomness_source,
        ));
    }
    let seed_hex = hex::encode(seed(&plan_digest, &population_digest, &manifest.randomness));
    if manifest.seed != seed_hex {
        return Err(value(
            format!("seed (from randomness {:?})", manifest.randomness),
            &manifest.seed,
            seed_hex,
        ));
    }
    let own = result_digest(&manifest.chosen, &manifest.replacements);
    if manifest.result_digest != own {
        return Err(value(
            "result_digest (over the manifest's own chosen list and replacements)",
            &manifest.result_digest,
            own,
        ));
    }

    let inputs = DrawInputs {
        plan,
        population,
        roster,
        history,
    };
    let derived = derive(
        &inputs,
        &manifest.randomness,
        &replacement_requests(manifest),
        &mut Vec::new(),
    )
    .map_err(|e| Mismatch::Rederive(e.to_string()))?;

    compare_list("strata", &manifest.strata, &derived.strata, |s| {
        s.stratum.clone()
    })?;
    compare_list("chosen", &manifest.chosen, &derived.chosen, |c| {
        c.uscc.to_string()
    })?;
    compare_list(
        "replacements",
        &manifest.replacements,
        &derived.replacements,
        |r| r.replaced.to_string(),
    )?;
    compare_list("unstaffed", &manifest.unstaffed, &derived.unstaffed, |u| {
        u.uscc.to_string()
    })?;
    compare_list(
        "load.officers",
        &manifest.load.officers,
        &derived.load.officers,
        |o| o.officer_id.clone(),
    )?;
    if (manifest.load.min, manifest.load.max) != (derived.load.min, derived.load.max) {
        return Err(value(
            "load min/max",
            format!("{}/{}", manifest.load.min, manifest.load.max),
            format!("{}/{}", derived.load.min, derived.load.max),
        ));
    }
    if manifest.population_rows != derived.population_rows {
        return Err(value(
            "population_rows",
            manifest.population_rows,
            derived.population_rows,
        ));
    }
    if manifest.result_digest != derived.result_digest {
        return Err(value(
            "result_digest",
            &manifest.result_digest,
            &derived.result_digest,
        ));
    }
    Ok(())
}

/// Names the first top-level plan field whose canonical JSON differs.
fn compare_plans(manifest: &Plan, given: &Plan) -> Result<(), Mismatch> {
    let a = serde_json::to_value(manifest).unwrap_or_default();
    let b = serde_json::to_value(given).unwrap_or_default();
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return Ok(());
    };
    // serde_json's map is sorted, so walk the declaration order instead.
    for key in crate::plan::PLAN_FIELDS {
        if a.get(key) != b.get(key) {
            return Err(Mismatch::PlanField {
                field: key.to_string(),
                manifest: a.get(key).map(|v| v.to_string()).unwrap_or_default(),
                given: b.get(key).map(|v| v.to_string()).unwrap_or_default(),
            });
        }
    }
    Ok(())
}

/// A chosen entity whose population row is missing or no longer matches.
fn population_hint(manifest: &Manifest, population: &[PopulationRow]) -> Option<String> {
    let by_uscc: std::collections::HashMap<_, _> = population.iter().map(|r| (r.uscc, r)).collect();
    manifest
        .chosen
        .iter()
        .find_map(|c| match by_uscc.get(&c.uscc) {
            None => Some(format!("chosen entity {} is not in the population", c.uscc)),
            Some(r) if r.name != c.name || r.region != c.region || r.class != c.class => Some(
                format!("chosen entity {} differs in name, region or class", c.uscc),
            ),
            Some(_) => None,
        })
}

fn compare_list<T: Serialize + PartialEq>(
    what: &str,
    manifest: &[T],
    derived: &[T],
    id: impl Fn(&T) -> String,
) -> Result<(), Mismatch> {
    for (i, (m, d)) in manifest.iter().zip(derived).enumerate() {
        if m != d {
            return Err(value(format!("{what}[{i}] ({})", id(m)), json(m), json(d)));
        }
    }
    if manifest.len() != derived.len() {
        return Err(value(
            format!("{what} length"),
            manifest.len(),
            derived.len(),
        ));
    }
    Ok(())
}
