//! Plan files as people write them: a TOML (or JSON) file that names what
//! is particular to one draw and leaves the rest to the defaults of
//! `pipelines/draws/defaults.toml`. Resolving one gives a complete [`Plan`],
//! which is what is committed and digested.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use tidewatch_model::{Domain, EntityKind, RegionCode, Uscc};

use crate::plan::{Exclusions, PerClass, Plan, PlanError, Quota};

/// A per-class sampling rule as written: `{ ratio = "0.05" }` or `{ count = 3 }`.
/// Ratios are strings so that what is digested is exactly what was written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum QuotaSpec {
    Ratio(String),
    Count(u64),
}

impl QuotaSpec {
    fn resolve(&self, class: &str) -> Result<Quota, PlanError> {
        match self {
            QuotaSpec::Count(c) => Ok(Quota::Count(*c)),
            QuotaSpec::Ratio(s) => {
                let plain = !s.is_empty()
                    && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                    && s.bytes().filter(|&b| b == b'.').count() <= 1;
                match s.parse::<Decimal>() {
                    Ok(d) if plain => Ok(Quota::Ratio(d)),
                    _ => Err(PlanError::Parse(format!(
                        "sampling.{class}.ratio is {s:?}; write a decimal such as \"0.05\""
                    ))),
                }
            }
        }
    }
}

/// Per-class rules where each class may be left to the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialPerClass {
    #[serde(rename = "A")]
    pub a: Option<QuotaSpec>,
    #[serde(rename = "B")]
    pub b: Option<QuotaSpec>,
    #[serde(rename = "C")]
    pub c: Option<QuotaSpec>,
    #[serde(rename = "D")]
    pub d: Option<QuotaSpec>,
}

/// Exclusions where each rule may be left to the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialExclusions {
    pub deregistered: Option<bool>,
    pub revoked: Option<bool>,
    /// `Some(None)` is an explicit JSON `null`: no such exclusion.
    #[serde(default, deserialize_with = "explicit")]
    pub inspected_within_months: Option<Option<u32>>,
    #[serde(default)]
    pub open_plan_usccs: Vec<Uscc>,
}

/// Distinguishes a key written as `null` from a key left out.
fn explicit<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A plan file: `id`, `field` and `randomness_source` are required, the
/// rest falls back to [`Defaults`]; `as_of` falls back to the as-of date of
/// the scores the population is taken from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub id: String,
    pub field: Domain,
    #[serde(default)]
    pub regions: Vec<RegionCode>,
    #[serde(default)]
    pub industries: Vec<String>,
    #[serde(default)]
    pub entity_kinds: Option<Vec<EntityKind>>,
    pub as_of: Option<NaiveDate>,
    #[serde(default)]
    pub sampling: PartialPerClass,
    pub stratum_minimum: Option<u64>,
    pub stratify_by_region: Option<bool>,
    pub team_size: Option<u32>,
    #[serde(default)]
    pub exclusions: PartialExclusions,
    pub allow_cross_region_teams: Option<bool>,
    pub recusal_months: Option<u32>,
    pub randomness_source: String,
}

/// Default exclusions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultExclusions {
    pub deregistered: bool,
    pub revoked: bool,
    /// 0 means no such exclusion.
    pub inspected_within_months: u32,
}

/// What `tidewatch run` draws on the embedded default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunDraw {
    /// A plan file beside the defaults file.
    pub plan: String,
    /// The fixed public randomness of the one-shot run (no beacon offline).
    pub randomness: String,
}

/// `pipelines/draws/defaults.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub sampling: PerClass<QuotaSpec>,
    pub stratum_minimum: u64,
    pub stratify_by_region: bool,
    pub team_size: u32,
    pub allow_cross_region_teams: bool,
    pub recusal_months: u32,
    pub exclusions: DefaultExclusions,
    pub run: Option<RunDraw>,
}

impl Defaults {
    pub fn from_toml(s: &str) -> Result<Defaults, PlanError> {
        let d: Defaults = toml::from_str(s).map_err(|e| PlanError::Parse(e.to_string()))?;
        for (class, q) in [
            ("A", &d.sampling.a),
            ("B", &d.sampling.b),
            ("C", &d.sampling.c),
            ("D", &d.sampling.d),
        ] {
            q.resolve(class)?;
        }
        Ok(d)
    }
}

impl PlanFile {
    pub fn from_toml(s: &str) -> Result<PlanFile, PlanError> {
        toml::from_str(s).map_err(|e| PlanError::Parse(e.to_string()))
    }

    pub fn from_json(s: &str) -> Result<PlanFile, PlanError> {
        serde_json::from_str(s).map_err(|e| PlanError::Parse(e.to_string()))
    }

    /// The complete plan, validated. `as_of` is used when the file has none.
    pub fn resolve(
        &self,
        defaults: &Defaults,
        as_of: Option<NaiveDate>,
    ) -> Result<Plan, PlanError> {
        let quota = |class: &str, own: &Option<QuotaSpec>, default: &QuotaSpec| {
            own.as_ref().unwrap_or(default).resolve(class)
        };
        let s = &self.sampling;
        let d = &defaults.sampling;
        let e = &self.exclusions;
        let de = &defaults.exclusions;
        let plan = Plan {
            id: self.id.clone(),
            field: self.field,
            regions: self.regions.clone(),
            industries: self.industries.clone(),
            entity_kinds: self.entity_kinds.clone(),
            as_of: self.as_of.or(as_of).ok_or(PlanError::NoAsOf)?,
            sampling: PerClass {
                a: quota("A", &s.a, &d.a)?,
                b: quota("B", &s.b, &d.b)?,
                c: quota("C", &s.c, &d.c)?,
                d: quota("D", &s.d, &d.d)?,
            },
            stratum_minimum: self.stratum_minimum.unwrap_or(defaults.stratum_minimum),
            stratify_by_region: self
                .stratify_by_region
                .unwrap_or(defaults.stratify_by_region),
            team_size: self.team_size.unwrap_or(defaults.team_size),
            exclusions: Exclusions {
                deregistered: e.deregistered.unwrap_or(de.deregistered),
                revoked: e.revoked.unwrap_or(de.revoked),
                inspected_within_months: e.inspected_within_months.unwrap_or(
                    (de.inspected_within_months > 0).then_some(de.inspected_within_months),
                ),
                open_plan_usccs: e.open_plan_usccs.clone(),
            },
            allow_cross_region_teams: self
                .allow_cross_region_teams
                .unwrap_or(defaults.allow_cross_region_teams),
            recusal_months: self.recusal_months.unwrap_or(defaults.recusal_months),
            randomness_source: self.randomness_source.clone(),
        };
        plan.validate()?;
        Ok(plan)
    }
}
