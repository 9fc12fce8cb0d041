//! What a plan would draw, without drawing: counts per stratum and the
//! officer capacity the teams will need, so a desk can fix a plan or a
//! roster before committing to it.

use std::collections::BTreeMap;

use serde::Serialize;
use tidewatch_model::{Officer, RegionCode};

use crate::draw::{build_strata, canonical_roster, eligible_by_region, DrawError, StratumCount};
use crate::plan::Plan;
use crate::population::{sorted_rows, PopulationRow};

/// Staffing need of one officer pool (a unit, or every unit when teams may
/// cross regions).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolNeed {
    /// The unit's region code, or `None` for the single cross-region pool.
    pub unit: Option<RegionCode>,
    /// Entities the pool will staff: exact when strata are by region or
    /// teams cross regions, otherwise the expected number (the stratum's
    /// quota spread over regions in proportion to eligible entities).
    pub entities: f64,
    pub exact: bool,
    /// `entities × team_size`.
    pub seats: f64,
    /// Officers qualified for the field in the pool.
    pub officers: u64,
    /// Their summed capacity.
    pub capacity: u64,
}

impl PoolNeed {
    /// Whether the pool cannot staff what it is expected to.
    pub fn short(&self, team_size: u32) -> bool {
        self.seats > self.capacity as f64
            || (self.entities > 0.0 && self.officers < team_size as u64)
    }
}

/// The preview of a plan over a population and a roster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preview {
    pub population_rows: u64,
    pub strata: Vec<StratumCount>,
    pub total_quota: u64,
    pub pools: Vec<PoolNeed>,
}

/// Counts per stratum (scope, exclusions, quota) and the staffing need.
pub fn preview(
    plan: &Plan,
    population: &[PopulationRow],
    roster: &[Officer],
) -> Result<Preview, DrawError> {
    plan.validate()?;
    let rows = sorted_rows(population)?;
    let roster = canonical_roster(roster)?;
    let strata = build_strata(plan, &rows, &[0; 32], false);
    // Eligible entities per (stratum, region), to spread quotas over units.
    let by_region = if !plan.allow_cross_region_teams && !plan.stratify_by_region {
        eligible_by_region(plan, &rows)
    } else {
        BTreeMap::new()
    };
    let mut entities: BTreeMap<Option<RegionCode>, f64> = BTreeMap::new();
    for s in strata.values() {
        let c = &s.count;
        if plan.allow_cross_region_teams {
            *entities.entry(None).or_default() += c.quota as f64;
        } else if let Some(r) = c.region {
            *entities.entry(Some(r)).or_default() += c.quota as f64;
        } else if c.eligible > 0 {
            for ((label, region), n) in &by_region {
                if *label != c.stratum {
                    continue;
                }
                *entities.entry(Some(*region)).or_default() +=
                    c.quota as f64 * *n as f64 / c.eligible as f64;
            }
        }
    }
    let mut officers: BTreeMap<Option<RegionCode>, (u64, u64)> = BTreeMap::new();
    for o in roster
        .iter()
        .filter(|o| o.qualifications.contains(&plan.field))
    {
        let key = (!plan.allow_cross_region_teams).then_some(o.unit);
        let e = officers.entry(key).or_default();
        e.0 += 1;
        e.1 += u64::from(o.capacity);
    }
    let exact = plan.allow_cross_region_teams || plan.stratify_by_region;
    let pools = entities
        .iter()
        .map(|(unit, n)| {
            let (k, cap) = officers.get(unit).copied().unwrap_or_default();
            PoolNeed {
                unit: *unit,
                entities: *n,
                exact,
                seats: n * f64::from(plan.team_size),
                officers: k,
                capacity: cap,
            }
        })
        .collect();
    let strata: Vec<StratumCount> = strata.into_values().map(|s| s.count).collect();
    Ok(Preview {
        population_rows: rows.len() as u64,
        total_quota: strata.iter().map(|s| s.quota).sum(),
        strata,
        pools,
    })
}
