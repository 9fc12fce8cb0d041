//! The draw itself: seed, strata, selection, officer teams, replacement and
//! the manifest. The order of every step is part of the specification in
//! `docs/draw-algorithm.md`; change one and you change the algorithm version.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tidewatch_model::{Officer, RegionCode, Uscc};

use crate::class::Class;
use crate::digest::{canonical_json, sha256, sha256_hex};
use crate::plan::{stratum_quota, window_start, Plan, PlanError};
use crate::population::{csv_of_sorted, sorted_rows, PopulationError, PopulationRow};
use crate::verify::Mismatch;

/// Names this algorithm; a verifier refuses manifests of another version.
pub const ALGORITHM_VERSION: &str = "tidewatch-draw/1";

/// An earlier inspection by an officer, for recusal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PastInspection {
    pub uscc: Uscc,
    pub officer_id: String,
    pub inspected_on: NaiveDate,
}

/// Everything a draw depends on besides the randomness.
#[derive(Debug, Clone, Copy)]
pub struct DrawInputs<'a> {
    pub plan: &'a Plan,
    pub population: &'a [PopulationRow],
    pub roster: &'a [Officer],
    pub history: &'a [PastInspection],
}

/// Counts for one stratum (of the initial draw, before replacements).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StratumCount {
    pub stratum: String,
    pub class: Class,
    pub region: Option<RegionCode>,
    /// In scope (region, industry, entity kind).
    pub size: u64,
    pub excluded_deregistered: u64,
    pub excluded_revoked: u64,
    pub excluded_open_plan: u64,
    pub excluded_recently_inspected: u64,
    pub eligible: u64,
    /// What the plan asks for, after rounding and clamping.
    pub quota: u64,
    pub drawn: u64,
}

/// One chosen entity with its team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chosen {
    pub uscc: Uscc,
    pub name: String,
    pub region: RegionCode,
    pub class: Class,
    pub stratum: String,
    /// SHA-256(seed ‖ uscc), lower-case hex.
    pub rank: String,
    /// Officer ids in pick order; empty when the entity could not be staffed.
    pub officers: Vec<String>,
    /// The entity this one replaced, if it was drawn as a replacement.
    pub replaces: Option<Uscc>,
}

/// A replacement of a chosen entity that turned out closed or unreachable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replacement {
    pub replaced: Uscc,
    /// Why, as the desk recorded it (e.g. result code `7`); free text.
    pub reason: String,
    pub stratum: String,
    /// `None` when the stratum had no eligible entity left.
    pub replacement: Option<Uscc>,
}

/// Officers excluded for one entity, each counted under the first rule it
/// fails, in the order the fields are listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortfall {
    pub needed: u32,
    pub eligible: u32,
    pub not_qualified: u32,
    pub other_unit: u32,
    pub conflict: u32,
    pub recused: u32,
    pub at_capacity: u32,
}

/// A chosen entity no team could be formed for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unstaffed {
    pub uscc: Uscc,
    pub stratum: String,
    pub shortfall: Shortfall,
}

/// One officer's load in this draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerLoad {
    pub officer_id: String,
    pub load: u32,
    pub capacity: u32,
}

/// Loads over the officer pool: officers qualified for the field and, unless
/// cross-region teams are allowed, whose unit is the region of a chosen entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadSummary {
    pub min: u32,
    pub max: u32,
    pub officers: Vec<OfficerLoad>,
}

/// The published record of a draw. [`crate::verify`] re-derives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub algorithm: String,
    pub plan: Plan,
    pub plan_digest: String,
    pub population_digest: String,
    pub population_rows: u64,
    pub roster_digest: String,
    pub history_digest: String,
    pub randomness_source: String,
    pub randomness: String,
    pub seed: String,
    pub strata: Vec<StratumCount>,
    pub chosen: Vec<Chosen>,
    pub unstaffed: Vec<Unstaffed>,
    pub replacements: Vec<Replacement>,
    pub load: LoadSummary,
    pub result_digest: String,
}

/// The draw result is the manifest.
pub type DrawResult = Manifest;

impl Manifest {
    /// Pretty JSON with a final newline, as published. Deterministic.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("manifest always serialises");
        v.push(b'\n');
        v
    }
}

/// Why a draw cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrawError {
    #[error("invalid plan: {0}")]
    Plan(#[from] PlanError),
    #[error("invalid population: {0}")]
    Population(#[from] PopulationError),
    #[error("randomness is empty")]
    EmptyRandomness,
    #[error("randomness {0:?} has leading or trailing whitespace or a control character; pass the published value exactly")]
    BadRandomness(String),
    #[error("officer id {0:?} appears more than once in the roster")]
    DuplicateOfficer(String),
    #[error("roster has an officer with an empty id")]
    EmptyOfficerId,
    #[error("{0} is not currently on the chosen list, so it cannot be replaced")]
    NotChosen(Uscc),
    #[error("the manifest does not match the inputs: {0}")]
    Verify(Box<Mismatch>),
}

/// The seed: SHA-256 over the ASCII bytes of the plan digest hex, a line
/// feed, the population digest hex, a line feed, and the randomness in UTF-8.
pub fn seed(plan_digest_hex: &str, population_digest_hex: &str, randomness: &str) -> [u8; 32] {
    sha256(&[
        plan_digest_hex.as_bytes(),
        b"\n",
        population_digest_hex.as_bytes(),
        b"\n",
        randomness.as_bytes(),
    ])
}

/// An entity's rank in its stratum: SHA-256(seed ‖ uscc ASCII).
pub fn entity_rank(seed: &[u8; 32], uscc: &Uscc) -> [u8; 32] {
    sha256(&[seed, uscc.as_bytes()])
}

/// An officer's rank for an entity: SHA-256(seed ‖ uscc ‖ officer_id UTF-8).
pub fn officer_rank(seed: &[u8; 32], uscc: &Uscc, officer_id: &str) -> [u8; 32] {
    sha256(&[seed, uscc.as_bytes(), officer_id.as_bytes()])
}

fn check_randomness(r: &str) -> Result<(), DrawError> {
    if r.is_empty() {
        return Err(DrawError::EmptyRandomness);
    }
    let trimmed = r.trim() != r;
    if trimmed || r.chars().any(char::is_control) {
        return Err(DrawError::BadRandomness(r.to_string()));
    }
    Ok(())
}

/// The roster in canonical form: sorted by officer id, each officer's
/// qualifications and conflicts sorted and de-duplicated.
pub fn canonical_roster(roster: &[Officer]) -> Result<Vec<Officer>, DrawError> {
    let mut out: Vec<Officer> = roster.to_vec();
    for o in &mut out {
        if o.officer_id.is_empty() {
            return Err(DrawError::EmptyOfficerId);
        }
        o.qualifications.sort();
        o.qualifications.dedup();
        o.conflicts.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        o.conflicts.dedup();
    }
    out.sort_by(|a, b| a.officer_id.as_bytes().cmp(b.officer_id.as_bytes()));
    if let Some(w) = out.windows(2).find(|w| w[0].officer_id == w[1].officer_id) {
        return Err(DrawError::DuplicateOfficer(w[0].officer_id.clone()));
    }
    Ok(out)
}

/// History sorted by (uscc, officer id, date) and de-duplicated.
pub fn canonical_history(history: &[PastInspection]) -> Vec<PastInspection> {
    let mut h = history.to_vec();
    h.sort_by(|a, b| {
        (a.uscc.as_bytes(), a.officer_id.as_bytes(), a.inspected_on).cmp(&(
            b.uscc.as_bytes(),
            b.officer_id.as_bytes(),
            b.inspected_on,
        ))
    });
    h.dedup();
    h
}

/// Draws the list for `inputs` with the published `randomness`.
pub fn draw(inputs: &DrawInputs<'_>, randomness: &str) -> Result<Manifest, DrawError> {
    derive(inputs, randomness, &[])
}

/// Replaces `uscc` (currently chosen) with the next eligible entity of its
/// stratum and returns the new manifest. The manifest is verified against
/// the inputs first, so a replacement never builds on a draw that does not
/// follow from them.
pub fn replace(
    manifest: &Manifest,
    inputs: &DrawInputs<'_>,
    uscc: Uscc,
    reason: &str,
) -> Result<Manifest, DrawError> {
    crate::verify::verify(
        manifest,
        inputs.plan,
        inputs.population,
        inputs.history,
        inputs.roster,
    )
    .map_err(|m| DrawError::Verify(Box::new(m)))?;
    if !manifest.chosen.iter().any(|c| c.uscc == uscc) {
        return Err(DrawError::NotChosen(uscc));
    }
    let mut requests = replacement_requests(manifest);
    requests.push((uscc, reason.to_string()));
    derive(inputs, &manifest.randomness, &requests)
}

pub(crate) fn replacement_requests(manifest: &Manifest) -> Vec<(Uscc, String)> {
    manifest
        .replacements
        .iter()
        .map(|r| (r.replaced, r.reason.clone()))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct StratumKey {
    class: Class,
    region: Option<RegionCode>,
}

impl StratumKey {
    fn label(&self) -> String {
        match self.region {
            Some(r) => format!("{}/{}", self.class.as_str(), r.as_str()),
            None => self.class.as_str().to_string(),
        }
    }
}

struct Stratum {
    count: StratumCount,
    /// Eligible entities as (rank, row index), in ascending population order.
    eligible: Vec<([u8; 32], usize)>,
}

/// Draws with replacement requests applied in order. Verification calls this
/// with the requests the manifest records.
pub(crate) fn derive(
    inputs: &DrawInputs<'_>,
    randomness: &str,
    requests: &[(Uscc, String)],
) -> Result<Manifest, DrawError> {
    let plan = inputs.plan;
    plan.validate()?;
    check_randomness(randomness)?;
    let rows = sorted_rows(inputs.population)?;
    let population_digest = sha256_hex(&csv_of_sorted(&rows));
    let plan_digest = plan.digest();
    let roster = canonical_roster(inputs.roster)?;
    let history = canonical_history(inputs.history);
    let roster_digest = sha256_hex(&canonical_json(&roster));
    let history_digest = sha256_hex(&canonical_json(&history));
    let seed = seed(&plan_digest, &population_digest, randomness);

    let mut strata = build_strata(plan, &rows, &seed);

    // Initial selection: the `quota` smallest (rank, uscc) of each stratum.
    let mut picked: Vec<([u8; 32], usize, StratumKey)> = Vec::new();
    for (key, s) in strata.iter_mut() {
        let k = s.count.quota as usize;
        if k > 0 && k < s.eligible.len() {
            s.eligible
                .select_nth_unstable_by(k - 1, |a, b| cmp_rank(a, b, &rows));
        }
        let mut first: Vec<_> = s.eligible[..k].to_vec();
        first.sort_by(|a, b| cmp_rank(a, b, &rows));
        s.count.drawn = first.len() as u64;
        picked.extend(first.into_iter().map(|(r, i)| (r, i, *key)));
    }
    // Teams are formed in ascending (rank, uscc) over the whole list, so no
    // class or region is systematically served last from a depleted roster.
    picked.sort_by(|a, b| cmp_rank(&(a.0, a.1), &(b.0, b.1), &rows));

    let mut teams = Teams::new(plan, &roster, &history, &seed)?;
    let mut chosen: Vec<Chosen> = Vec::with_capacity(picked.len());
    let mut shortfalls: HashMap<Uscc, Shortfall> = HashMap::new();
    let mut ever_chosen: HashSet<usize> = HashSet::with_capacity(picked.len());
    for (rank, idx, key) in &picked {
        ever_chosen.insert(*idx);
        chosen.push(teams.staff(rows[*idx], key, rank, None, &mut shortfalls));
    }

    let mut replacements = Vec::with_capacity(requests.len());
    for (uscc, reason) in requests {
        let pos = chosen
            .iter()
            .position(|c| c.uscc == *uscc)
            .ok_or(DrawError::NotChosen(*uscc))?;
        let gone = chosen.remove(pos);
        teams.release(&gone.officers);
        shortfalls.remove(uscc);
        let key = strata
            .iter()
            .find(|(k, _)| k.label() == gone.stratum)
            .map(|(k, _)| *k);
        let next = key.and_then(|k| {
            strata[&k]
                .eligible
                .iter()
                .filter(|(_, i)| !ever_chosen.contains(i))
                .min_by(|a, b| cmp_rank(a, b, &rows))
                .map(|&(r, i)| (k, r, i))
        });
        let replacement = match next {
            Some((k, rank, idx)) => {
                ever_chosen.insert(idx);
                let c = teams.staff(rows[idx], &k, &rank, Some(*uscc), &mut shortfalls);
                let u = c.uscc;
                chosen.push(c);
                Some(u)
            }
            None => None,
        };
        replacements.push(Replacement {
            replaced: *uscc,
            reason: reason.clone(),
            stratum: gone.stratum,
            replacement,
        });
    }

    let unstaffed = chosen
        .iter()
        .filter_map(|c| {
            shortfalls.get(&c.uscc).map(|s| Unstaffed {
                uscc: c.uscc,
                stratum: c.stratum.clone(),
                shortfall: s.clone(),
            })
        })
        .collect();
    let load = teams.summary(&chosen);
    let result_digest = result_digest(&chosen, &replacements);
    Ok(Manifest {
        algorithm: ALGORITHM_VERSION.to_string(),
        plan: plan.clone(),
        plan_digest,
        population_digest,
        population_rows: rows.len() as u64,
        roster_digest,
        history_digest,
        randomness_source: plan.randomness_source.clone(),
        randomness: randomness.to_string(),
        seed: hex::encode(seed),
        strata: strata.into_values().map(|s| s.count).collect(),
        chosen,
        unstaffed,
        replacements,
        load,
        result_digest,
    })
}

/// SHA-256 of the canonical JSON `{"chosen":[…],"replacements":[…]}`.
pub fn result_digest(chosen: &[Chosen], replacements: &[Replacement]) -> String {
    #[derive(Serialize)]
    struct Result<'a> {
        chosen: &'a [Chosen],
        replacements: &'a [Replacement],
    }
    sha256_hex(&canonical_json(&Result {
        chosen,
        replacements,
    }))
}

fn cmp_rank(
    a: &([u8; 32], usize),
    b: &([u8; 32], usize),
    rows: &[&PopulationRow],
) -> std::cmp::Ordering {
    a.0.cmp(&b.0)
        .then_with(|| rows[a.1].uscc.as_bytes().cmp(rows[b.1].uscc.as_bytes()))
}

/// Scope filters, then exclusions, then the quota of each stratum.
fn build_strata(
    plan: &Plan,
    rows: &[&PopulationRow],
    seed: &[u8; 32],
) -> BTreeMap<StratumKey, Stratum> {
    let open: HashSet<Uscc> = plan.exclusions.open_plan_usccs.iter().copied().collect();
    // validate() has checked the window is inside the calendar.
    let inspected_cutoff = plan
        .exclusions
        .inspected_within_months
        .and_then(|m| window_start(plan.as_of, m));
    let mut strata: BTreeMap<StratumKey, Stratum> = BTreeMap::new();
    for (idx, row) in rows.iter().enumerate() {
        if !plan.regions.is_empty() && !plan.regions.contains(&row.region) {
            continue;
        }
        if !plan.industry_in_scope(&row.industry) {
            continue;
        }
        if let Some(kinds) = &plan.entity_kinds {
            match row.uscc.entity_kind() {
                Some(k) if kinds.contains(&k) => {}
                _ => continue,
            }
        }
        let key = StratumKey {
            class: row.class,
            region: plan.stratify_by_region.then_some(row.region),
        };
        let s = strata.entry(key).or_insert_with(|| Stratum {
            count: StratumCount {
                stratum: key.label(),
                class: key.class,
                region: key.region,
                size: 0,
                excluded_deregistered: 0,
                excluded_revoked: 0,
                excluded_open_plan: 0,
                excluded_recently_inspected: 0,
                eligible: 0,
                quota: 0,
                drawn: 0,
            },
            eligible: Vec::new(),
        });
        let c = &mut s.count;
        c.size += 1;
        if plan.exclusions.deregistered && row.deregistered {
            c.excluded_deregistered += 1;
        } else if plan.exclusions.revoked && row.revoked {
            c.excluded_revoked += 1;
        } else if open.contains(&row.uscc) {
            c.excluded_open_plan += 1;
        } else if row.class != Class::D
            && matches!((inspected_cutoff, row.last_inspected_on), (Some(cut), Some(d)) if d > cut)
        {
            c.excluded_recently_inspected += 1;
        } else {
            c.eligible += 1;
            s.eligible.push((entity_rank(seed, &row.uscc), idx));
        }
    }
    for (key, s) in strata.iter_mut() {
        s.count.quota = stratum_quota(
            plan.sampling.get(key.class),
            plan.stratum_minimum,
            s.count.eligible,
        );
    }
    strata
}

/// Officer assignment state.
struct Teams<'a> {
    plan: &'a Plan,
    roster: &'a [Officer],
    seed: &'a [u8; 32],
    loads: Vec<u32>,
    qualified: Vec<bool>,
    /// Qualified officer indices by unit (all under `None` when cross-region).
    pools: HashMap<Option<RegionCode>, Vec<usize>>,
    conflicts: Vec<HashSet<Uscc>>,
    recused: HashMap<Uscc, HashSet<usize>>,
}

impl<'a> Teams<'a> {
    fn new(
        plan: &'a Plan,
        roster: &'a [Officer],
        history: &[PastInspection],
        seed: &'a [u8; 32],
    ) -> Result<Self, DrawError> {
        let qualified: Vec<bool> = roster
            .iter()
            .map(|o| o.qualifications.contains(&plan.field))
            .collect();
        let mut pools: HashMap<Option<RegionCode>, Vec<usize>> = HashMap::new();
        for (i, o) in roster.iter().enumerate() {
            if qualified[i] {
                let key = (!plan.allow_cross_region_teams).then_some(o.unit);
                pools.entry(key).or_default().push(i);
            }
        }
        let index: HashMap<&str, usize> = roster
            .iter()
            .enumerate()
            .map(|(i, o)| (o.officer_id.as_str(), i))
            .collect();
        let mut recused: HashMap<Uscc, HashSet<usize>> = HashMap::new();
        if plan.recusal_months > 0 {
            let cut = window_start(plan.as_of, plan.recusal_months).ok_or(
                PlanError::WindowOutOfRange {
                    what: "recusal window",
                    months: plan.recusal_months,
                    as_of: plan.as_of,
                },
            )?;
            for h in history.iter().filter(|h| h.inspected_on > cut) {
                // Inspections by officers not on this roster cannot recuse anyone.
                if let Some(&i) = index.get(h.officer_id.as_str()) {
                    recused.entry(h.uscc).or_default().insert(i);
                }
            }
        }
        Ok(Teams {
            plan,
            roster,
            seed,
            loads: vec![0; roster.len()],
            qualified,
            pools,
            conflicts: roster
                .iter()
                .map(|o| o.conflicts.iter().copied().collect())
                .collect(),
            recused,
        })
    }

    fn available(&self, i: usize, uscc: &Uscc, recused: Option<&HashSet<usize>>) -> bool {
        !self.conflicts[i].contains(uscc)
            && !recused.is_some_and(|r| r.contains(&i))
            && self.loads[i] < self.roster[i].capacity
    }

    /// Forms the team for one entity: eligible officers sorted by (current
    /// load, officer rank, officer id), the first `team_size` of them.
    fn staff(
        &mut self,
        row: &PopulationRow,
        key: &StratumKey,
        rank: &[u8; 32],
        replaces: Option<Uscc>,
        shortfalls: &mut HashMap<Uscc, Shortfall>,
    ) -> Chosen {
        let uscc = row.uscc;
        let pool_key = (!self.plan.allow_cross_region_teams).then_some(row.region);
        let recused = self.recused.get(&uscc);
        let mut cands: Vec<(u32, [u8; 32], usize)> = self
            .pools
            .get(&pool_key)
            .map(|p| p.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|&&i| self.available(i, &uscc, recused))
            .map(|&i| {
                (
                    self.loads[i],
                    officer_rank(self.seed, &uscc, &self.roster[i].officer_id),
                    i,
                )
            })
            .collect();
        let need = self.plan.team_size as usize;
        let mut officers = Vec::new();
        if cands.len() < need {
            shortfalls.insert(uscc, self.shortfall(row, cands.len()));
        } else {
            // Officer indices follow officer-id byte order, so ties on
            // (load, rank) fall back to the officer id.
            cands.sort_unstable();
            for &(_, _, i) in &cands[..need] {
                self.loads[i] += 1;
                officers.push(self.roster[i].officer_id.clone());
            }
        }
        Chosen {
            uscc,
            name: row.name.clone(),
            region: row.region,
            class: row.class,
            stratum: key.label(),
            rank: hex::encode(rank),
            officers,
            replaces,
        }
    }

    fn shortfall(&self, row: &PopulationRow, eligible: usize) -> Shortfall {
        let mut s = Shortfall {
            needed: self.plan.team_size,
            eligible: eligible as u32,
            ..Shortfall::default()
        };
        let recused = self.recused.get(&row.uscc);
        for (i, o) in self.roster.iter().enumerate() {
            if !self.qualified[i] {
                s.not_qualified += 1;
            } else if !self.plan.allow_cross_region_teams && o.unit != row.region {
                s.other_unit += 1;
            } else if self.conflicts[i].contains(&row.uscc) {
                s.conflict += 1;
            } else if recused.is_some_and(|r| r.contains(&i)) {
                s.recused += 1;
            } else if self.loads[i] >= o.capacity {
                s.at_capacity += 1;
            }
        }
        s
    }

    fn release(&mut self, officers: &[String]) {
        for id in officers {
            if let Some(i) = self.roster.iter().position(|o| &o.officer_id == id) {
                self.loads[i] = self.loads[i].saturating_sub(1);
            }
        }
    }

    fn summary(&self, chosen: &[Chosen]) -> LoadSummary {
        let regions: HashSet<RegionCode> = chosen.iter().map(|c| c.region).collect();
        let officers: Vec<OfficerLoad> = self
            .roster
            .iter()
            .enumerate()
            .filter(|(i, o)| {
                self.qualified[*i]
                    && (self.plan.allow_cross_region_teams || regions.contains(&o.unit))
            })
            .map(|(i, o)| OfficerLoad {
                officer_id: o.officer_id.clone(),
                load: self.loads[i],
                capacity: o.capacity,
            })
            .collect();
        LoadSummary {
            min: officers.iter().map(|o| o.load).min().unwrap_or(0),
            max: officers.iter().map(|o| o.load).max().unwrap_or(0),
            officers,
        }
    }
}
