//! Draw plans: what is in scope, how much of each class to draw, how teams
//! are formed, and which public randomness will be used.

use chrono::{Months, NaiveDate};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use tidewatch_model::{Domain, EntityKind, RegionCode, Uscc};

use crate::class::Class;
use crate::digest::{canonical_json, sha256_hex};

/// How many entities to draw from one stratum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quota {
    /// A share of the stratum's eligible entities, 0 to 1 inclusive.
    Ratio(Decimal),
    /// A fixed number per stratum.
    Count(u64),
}

/// One value per risk class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerClass<T> {
    #[serde(rename = "A")]
    pub a: T,
    #[serde(rename = "B")]
    pub b: T,
    #[serde(rename = "C")]
    pub c: T,
    #[serde(rename = "D")]
    pub d: T,
}

impl<T> PerClass<T> {
    pub fn get(&self, class: Class) -> &T {
        match class {
            Class::A => &self.a,
            Class::B => &self.b,
            Class::C => &self.c,
            Class::D => &self.d,
        }
    }
}

/// Entities that are in scope but may not be drawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusions {
    pub deregistered: bool,
    pub revoked: bool,
    /// Skip entities inspected within this many months before the as-of date,
    /// except class D (high risk is inspected regardless).
    pub inspected_within_months: Option<u32>,
    /// Entities already chosen by other open plans.
    #[serde(default)]
    pub open_plan_usccs: Vec<Uscc>,
}

/// A draw plan. Its canonical JSON (fields in this order) is what
/// [`Plan::digest`] hashes, so the field order is part of the specification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub id: String,
    pub field: Domain,
    /// Regions in scope (GB/T 2260); empty means every region.
    #[serde(default)]
    pub regions: Vec<RegionCode>,
    /// GB/T 4754 prefixes in scope (`C13` covers `C1361`); empty means all.
    #[serde(default)]
    pub industries: Vec<String>,
    /// Entity kinds in scope (from the USCC prefix); `None` means all.
    #[serde(default)]
    pub entity_kinds: Option<Vec<EntityKind>>,
    pub as_of: NaiveDate,
    pub sampling: PerClass<Quota>,
    /// Least number drawn from a non-empty stratum sampled by ratio.
    pub stratum_minimum: u64,
    pub stratify_by_region: bool,
    pub team_size: u32,
    pub exclusions: Exclusions,
    pub allow_cross_region_teams: bool,
    /// An officer who inspected an entity within this many months is recused.
    pub recusal_months: u32,
    /// Names the public randomness (beacon round, lottery draw) in advance.
    pub randomness_source: String,
}

/// The plan's keys in declaration order, i.e. the order of its canonical JSON.
pub const PLAN_FIELDS: [&str; 14] = [
    "id",
    "field",
    "regions",
    "industries",
    "entity_kinds",
    "as_of",
    "sampling",
    "stratum_minimum",
    "stratify_by_region",
    "team_size",
    "exclusions",
    "allow_cross_region_teams",
    "recusal_months",
    "randomness_source",
];

/// Why a plan is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("plan could not be read: {0}")]
    Parse(String),
    #[error("plan id is empty")]
    EmptyId,
    #[error("plan id {0:?} may only use letters, digits, '.', '_' and '-' and must not start with '.' (it names the output directory)")]
    BadId(String),
    #[error("team size is {0}; double-random inspections need at least 2 officers")]
    TeamTooSmall(u32),
    #[error(
        "sampling ratio for class {class} is {ratio}; a ratio must lie between 0 and 1 inclusive"
    )]
    RatioOutOfRange { class: Class, ratio: Decimal },
    #[error(
        "industry prefix {0:?} is not a GB/T 4754 prefix (section letter A-T, then up to 4 digits)"
    )]
    BadIndustry(String),
    #[error("{what} {value:?} is listed twice")]
    Duplicate { what: &'static str, value: String },
    #[error("entity_kinds is an empty list, which would exclude every entity; omit it to allow all kinds")]
    NoEntityKinds,
    #[error("randomness_source is empty; name the beacon round or lottery draw before committing the plan")]
    NoRandomnessSource,
    #[error("the plan has no as_of date and none was given (the as-of date of the scores it is drawn from)")]
    NoAsOf,
    #[error("{what} of {months} months before {as_of} is outside the calendar")]
    WindowOutOfRange {
        what: &'static str,
        months: u32,
        as_of: NaiveDate,
    },
}

impl Plan {
    /// Reads a plan from JSON and validates it. An unknown `field` (or any
    /// unknown key) is refused here, since a [`Plan`] value cannot hold one.
    pub fn from_json(s: &str) -> Result<Plan, PlanError> {
        let plan: Plan = serde_json::from_str(s).map_err(|e| PlanError::Parse(e.to_string()))?;
        plan.validate()?;
        Ok(plan)
    }

    /// Checks everything the type system does not.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.id.is_empty() {
            return Err(PlanError::EmptyId);
        }
        let id_ok = !self.id.starts_with('.')
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !id_ok {
            return Err(PlanError::BadId(self.id.clone()));
        }
        if self.team_size < 2 {
            return Err(PlanError::TeamTooSmall(self.team_size));
        }
        for class in Class::ALL {
            if let Quota::Ratio(r) = self.sampling.get(class) {
                if *r < Decimal::ZERO || *r > Decimal::ONE {
                    return Err(PlanError::RatioOutOfRange { class, ratio: *r });
                }
            }
        }
        for (i, p) in self.industries.iter().enumerate() {
            if !is_industry_prefix(p) {
                return Err(PlanError::BadIndustry(p.clone()));
            }
            if self.industries[..i].contains(p) {
                return Err(dup("industry prefix", p));
            }
        }
        for (i, r) in self.regions.iter().enumerate() {
            if self.regions[..i].contains(r) {
                return Err(dup("region", r.as_str()));
            }
        }
        if let Some(kinds) = &self.entity_kinds {
            if kinds.is_empty() {
                return Err(PlanError::NoEntityKinds);
            }
            for (i, k) in kinds.iter().enumerate() {
                if kinds[..i].contains(k) {
                    return Err(dup("entity kind", k.as_str()));
                }
            }
        }
        if self.randomness_source.trim().is_empty() {
            return Err(PlanError::NoRandomnessSource);
        }
        if let Some(m) = self.exclusions.inspected_within_months {
            window_start(self.as_of, m).ok_or(PlanError::WindowOutOfRange {
                what: "inspection exclusion window",
                months: m,
                as_of: self.as_of,
            })?;
        }
        window_start(self.as_of, self.recusal_months).ok_or(PlanError::WindowOutOfRange {
            what: "recusal window",
            months: self.recusal_months,
            as_of: self.as_of,
        })?;
        Ok(())
    }

    /// The canonical JSON bytes of the plan.
    pub fn canonical_json(&self) -> Vec<u8> {
        canonical_json(self)
    }

    /// SHA-256 of [`Plan::canonical_json`], lower-case hex.
    pub fn digest(&self) -> String {
        sha256_hex(&self.canonical_json())
    }

    /// Whether an industry code is in scope.
    pub fn industry_in_scope(&self, code: &str) -> bool {
        self.industries.is_empty() || self.industries.iter().any(|p| code.starts_with(p.as_str()))
    }
}

fn dup(what: &'static str, value: &str) -> PlanError {
    PlanError::Duplicate {
        what,
        value: value.to_string(),
    }
}

fn is_industry_prefix(p: &str) -> bool {
    let b = p.as_bytes();
    matches!(b.len(), 1..=5)
        && (b'A'..=b'T').contains(&b[0])
        && b[1..].iter().all(u8::is_ascii_digit)
}

/// `as_of` minus `months` calendar months (the day is clamped to the end of a
/// shorter month, e.g. 2024-05-31 − 3 months = 2024-02-29). An event on a
/// date strictly after this is "within the last `months` months".
pub fn window_start(as_of: NaiveDate, months: u32) -> Option<NaiveDate> {
    as_of.checked_sub_months(Months::new(months))
}

/// The number to draw from a stratum with `eligible` eligible entities.
///
/// A ratio becomes `floor(ratio × eligible + 1/2)` (round half up, exact
/// decimal arithmetic), then at least `minimum`, then at most `eligible`. A
/// count is taken as given, at most `eligible`; the minimum does not apply
/// to it because an explicit count already says how many.
pub fn stratum_quota(quota: &Quota, minimum: u64, eligible: u64) -> u64 {
    match quota {
        Quota::Count(c) => (*c).min(eligible),
        Quota::Ratio(r) => {
            let exact = Decimal::from(eligible).checked_mul(*r);
            let rounded = exact
                .map(|x| x.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero))
                .and_then(|x| x.to_u64())
                // Only reachable for ratios with absurd precision; a ratio ≤ 1
                // never asks for more than the stratum holds.
                .unwrap_or(eligible);
            rounded.max(minimum).min(eligible)
        }
    }
}
