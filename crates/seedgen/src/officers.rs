//! The officer roster: who can be sent on a double-random inspection.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tidewatch_model::{Domain, Officer, RegionCode, Uscc};

use crate::catalog::{GIVEN, SURNAMES};
use crate::ids::{basics, hash3};

/// Units: the city bureau, then the four regions in [`crate::ids::REGIONS`] order.
pub(crate) const UNITS: [&str; 5] = ["330900", "330902", "330903", "330921", "330922"];

/// Domains in the order used for the per-domain tables.
pub(crate) const DOMAINS: [Domain; 5] = [
    Domain::General,
    Domain::Food,
    Domain::SpecialEquipment,
    Domain::IndustrialProduct,
    Domain::Construction,
];

pub(crate) fn domain_index(d: Domain) -> usize {
    DOMAINS.iter().position(|&x| x == d).unwrap_or(0)
}

/// The roster plus lookup tables for team assignment.
#[derive(Debug)]
pub(crate) struct Roster {
    pub officers: Vec<Officer>,
    /// Candidates per (region, domain): officers of the region's unit and of
    /// the city bureau holding the qualification.
    cand: Vec<Vec<u32>>,
    /// Officers per domain, any unit (fallback).
    any: Vec<Vec<u32>>,
    conflicts: HashMap<Uscc, Vec<u32>>,
}

/// Default roster size: at least 60, and about one officer per 500 entities.
pub(crate) fn auto_size(entities: u64) -> u32 {
    let n = entities.div_ceil(500).min(u32::MAX as u64) as u32;
    n.max(60)
}

impl Roster {
    pub(crate) fn generate(seed: u64, n: u32, entities: u64) -> Roster {
        let mut rng = ChaCha8Rng::seed_from_u64(hash3(seed, 0x0FF1CE, 0));
        let mut officers = Vec::with_capacity(n as usize);
        for j in 0..n as usize {
            let unit = j % 5;
            // Every (unit, domain) pair is covered at least twice among the
            // first 50 officers, so every team can be staffed.
            let primary = DOMAINS[(j / 5) % 5];
            let mut q = vec![primary];
            if primary == Domain::General || rng.random::<f64>() < 0.9 {
                q.push(Domain::General);
            }
            let extra = match rng.random::<f64>() {
                u if u < 0.5 => 0,
                u if u < 0.85 => 1,
                _ => 2,
            };
            for _ in 0..extra {
                let u: f64 = rng.random();
                q.push(match u {
                    u if u < 0.45 => Domain::Food,
                    u if u < 0.75 => Domain::SpecialEquipment,
                    u if u < 0.9 => Domain::IndustrialProduct,
                    _ => Domain::Construction,
                });
            }
            q.sort();
            q.dedup();
            let mut name = String::from(SURNAMES[rng.random_range(0..SURNAMES.len())]);
            name.push_str(GIVEN[rng.random_range(0..GIVEN.len())]);
            if rng.random::<f64>() < 0.6 {
                name.push_str(GIVEN[rng.random_range(0..GIVEN.len())]);
            }
            let mut conflicts = Vec::new();
            if entities > 0 && rng.random::<f64>() < 0.2 {
                let k = rng.random_range(1..=3);
                for _ in 0..k {
                    // Prefer an entity of the officer's own district.
                    let mut pick = None;
                    for _ in 0..8 {
                        let idx = rng.random_range(0..entities);
                        let b = basics(seed, idx);
                        pick = Some(b.uscc);
                        if unit == 0 || b.region + 1 == unit {
                            break;
                        }
                    }
                    conflicts.extend(pick);
                }
                conflicts.sort();
                conflicts.dedup();
            }
            officers.push(Officer {
                officer_id: format!("ZS-{:04}", j + 1),
                name,
                unit: RegionCode::parse(UNITS[unit]).expect("static unit code"),
                qualifications: q,
                conflicts,
                capacity: rng.random_range(20..=80),
            });
        }
        let mut cand = vec![Vec::new(); 4 * 5];
        let mut any = vec![Vec::new(); 5];
        let mut conflict_map: HashMap<Uscc, Vec<u32>> = HashMap::new();
        for (i, o) in officers.iter().enumerate() {
            let unit = UNITS
                .iter()
                .position(|u| *u == o.unit.as_str())
                .unwrap_or(0);
            for d in &o.qualifications {
                let di = domain_index(*d);
                any[di].push(i as u32);
                for r in 0..4 {
                    if unit == 0 || unit == r + 1 {
                        cand[r * 5 + di].push(i as u32);
                    }
                }
            }
            for u in &o.conflicts {
                conflict_map.entry(*u).or_default().push(i as u32);
            }
        }
        Roster {
            officers,
            cand,
            any,
            conflicts: conflict_map,
        }
    }

    /// Two distinct qualified officers for an inspection of `uscc` in
    /// `region`, none of whom declared a conflict with it.
    pub(crate) fn pick_two(
        &self,
        rng: &mut impl Rng,
        region: usize,
        domain: Domain,
        uscc: &Uscc,
    ) -> Vec<String> {
        let di = domain_index(domain);
        let conflicted = self.conflicts.get(uscc);
        let ok = |i: &u32| conflicted.is_none_or(|c| !c.contains(i));
        let local = &self.cand[region * 5 + di];
        let pool: Vec<u32>;
        let list: &[u32] = if local.iter().filter(|i| ok(i)).count() >= 2 {
            if conflicted.is_some() {
                pool = local.iter().copied().filter(|i| ok(i)).collect();
                &pool
            } else {
                local
            }
        } else {
            let wide: Vec<u32> = self.any[di].iter().copied().filter(|i| ok(i)).collect();
            pool = if wide.len() >= 2 {
                wide
            } else {
                (0..self.officers.len() as u32).filter(|i| ok(i)).collect()
            };
            &pool
        };
        if list.len() < 2 {
            return list
                .iter()
                .map(|&i| self.officers[i as usize].officer_id.clone())
                .collect();
        }
        let a = rng.random_range(0..list.len());
        let mut b = rng.random_range(0..list.len() - 1);
        if b >= a {
            b += 1;
        }
        let (a, b) = (list[a], list[b]);
        let (a, b) = if a < b { (a, b) } else { (b, a) };
        vec![
            self.officers[a as usize].officer_id.clone(),
            self.officers[b as usize].officer_id.clone(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_team_can_be_staffed() {
        let r = Roster::generate(5, 60, 3000);
        assert_eq!(r.officers.len(), 60);
        for reg in 0..4 {
            for d in DOMAINS {
                assert!(r.cand[reg * 5 + domain_index(d)].len() >= 3, "{reg} {d}");
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for o in &r.officers {
            for u in &o.conflicts {
                for _ in 0..20 {
                    let t = r.pick_two(&mut rng, 0, Domain::Food, u);
                    assert_eq!(t.len(), 2);
                    assert!(!t.contains(&o.officer_id));
                }
            }
        }
    }
}
