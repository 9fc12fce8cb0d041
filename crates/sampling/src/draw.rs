//! The draw itself: seed, strata, selection, officer teams, replacement and
//! the manifest. The order of every step is part of the specification in
//! `docs/draw-algorithm.md`; change one and you change the algorithm version.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{self, Write};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tidewatch_model::{Officer, RegionCode, Uscc};

use crate::class::Class;
use crate::digest::{canonical_json_digest, sha256};
use crate::plan::{stratum_quota, window_start, Plan, PlanError};
use crate::population::{digest_of_sorted, sorted_rows, PopulationError, PopulationRow};
use crate::verify::Mismatch;

/// Names this algorithm; a verifier refuses manifests of another version.
/// Version 2 changed how officers are ranked within a load level (§6 of the
/// specification); entity selection is the same as in version 1.
pub const ALGORITHM_VERSION: &str = "tidewatch-draw/2";

/// Officers considered per team seat: an entity's candidates are the first
/// `CANDIDATES_PER_SEAT × team_size` eligible officers of its pool's deck.
pub const CANDIDATES_PER_SEAT: usize = 2;

/// An earlier inspection by an officer, for recusal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
        let mut v = Vec::new();
        match self.write_json(&mut v) {
            Ok(()) => v,
            Err(e) => unreachable!("writing into a Vec cannot fail: {e}"),
        }
    }

    /// Writes [`Manifest::to_json`] to `w` without building it in memory.
    pub fn write_json(&self, mut w: impl Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut w, self)?;
        w.write_all(b"\n")
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

/// Time spent in each step of a draw, in order, for benchmarks.
pub type Timings = Vec<(&'static str, Duration)>;

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

/// An officer's place in its pool's deck while at `load`:
/// SHA-256(seed ‖ load as 4 bytes big-endian ‖ officer_id UTF-8).
pub fn level_rank(seed: &[u8; 32], load: u32, officer_id: &str) -> [u8; 32] {
    sha256(&[seed, &load.to_be_bytes(), officer_id.as_bytes()])
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
    h.par_sort_unstable_by(|a, b| {
        (a.uscc.as_bytes(), a.officer_id.as_bytes(), a.inspected_on).cmp(&(
            b.uscc.as_bytes(),
            b.officer_id.as_bytes(),
            b.inspected_on,
        ))
    });
    h.dedup();
    h
}

/// SHA-256 (hex) of the canonical roster JSON.
pub fn roster_digest(roster: &[Officer]) -> Result<String, DrawError> {
    Ok(canonical_json_digest(&canonical_roster(roster)?))
}

/// SHA-256 (hex) of the canonical history JSON.
pub fn history_digest(history: &[PastInspection]) -> String {
    canonical_json_digest(&canonical_history(history))
}

/// Draws the list for `inputs` with the published `randomness`.
pub fn draw(inputs: &DrawInputs<'_>, randomness: &str) -> Result<Manifest, DrawError> {
    derive(inputs, randomness, &[], &mut Vec::new())
}

/// [`draw`], also returning how long each step took.
pub fn draw_with_timings(
    inputs: &DrawInputs<'_>,
    randomness: &str,
) -> Result<(Manifest, Timings), DrawError> {
    let mut t = Vec::new();
    let m = derive(inputs, randomness, &[], &mut t)?;
    Ok((m, t))
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
    derive(inputs, &manifest.randomness, &requests, &mut Vec::new())
}

pub(crate) fn replacement_requests(manifest: &Manifest) -> Vec<(Uscc, String)> {
    manifest
        .replacements
        .iter()
        .map(|r| (r.replaced, r.reason.clone()))
        .collect()
}

/// A rank as two big-endian halves: ordering these is ordering the 32
/// bytes, without a byte-by-byte comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Rank(u128, u128);

impl Rank {
    fn of(b: [u8; 32]) -> Rank {
        let mut hi = [0u8; 16];
        let mut lo = [0u8; 16];
        hi.copy_from_slice(&b[..16]);
        lo.copy_from_slice(&b[16..]);
        Rank(u128::from_be_bytes(hi), u128::from_be_bytes(lo))
    }

    fn hex(&self) -> String {
        let mut b = [0u8; 32];
        b[..16].copy_from_slice(&self.0.to_be_bytes());
        b[16..].copy_from_slice(&self.1.to_be_bytes());
        hex::encode(b)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct StratumKey {
    pub class: Class,
    pub region: Option<RegionCode>,
}

impl StratumKey {
    pub fn label(&self) -> String {
        match self.region {
            Some(r) => format!("{}/{}", self.class.as_str(), r.as_str()),
            None => self.class.as_str().to_string(),
        }
    }
}

pub(crate) struct Stratum {
    pub count: StratumCount,
    /// Eligible entities as (rank, row index), in ascending population order
    /// until selection reorders them.
    pub eligible: Vec<(Rank, usize)>,
}

struct Lap<'t> {
    at: Instant,
    out: &'t mut Timings,
}

impl Lap<'_> {
    fn lap(&mut self, what: &'static str) {
        let now = Instant::now();
        self.out.push((what, now - self.at));
        self.at = now;
    }
}

/// Draws with replacement requests applied in order. Verification calls this
/// with the requests the manifest records.
pub(crate) fn derive(
    inputs: &DrawInputs<'_>,
    randomness: &str,
    requests: &[(Uscc, String)],
    timings: &mut Timings,
) -> Result<Manifest, DrawError> {
    let mut clock = Lap {
        at: Instant::now(),
        out: timings,
    };
    let plan = inputs.plan;
    plan.validate()?;
    check_randomness(randomness)?;
    let population_digest = digest_of_sorted(&sorted_rows(inputs.population)?);
    clock.lap("population: sort and digest");
    // Everything after the digest is a pure function of each row or a total
    // order on (rank, USCC), so rows are taken in the order given: reading
    // them sequentially is much faster than in USCC order.
    let rows: Vec<&PopulationRow> = inputs.population.iter().collect();
    let plan_digest = plan.digest();
    let roster = canonical_roster(inputs.roster)?;
    let history = canonical_history(inputs.history);
    let roster_digest = canonical_json_digest(&roster);
    let history_digest = canonical_json_digest(&history);
    clock.lap("roster and history digests");
    let seed = seed(&plan_digest, &population_digest, randomness);

    let mut strata = build_strata(plan, &rows, &seed, true);
    clock.lap("strata and entity ranks");

    // Initial selection: the `quota` smallest (rank, uscc) of each stratum.
    let mut picked: Vec<(Rank, usize, StratumKey)> = Vec::new();
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
    // (rank, uscc) is unique, so the unstable sort has one result.
    picked.par_sort_unstable_by(|a, b| cmp_rank(&(a.0, a.1), &(b.0, b.1), &rows));
    clock.lap("selection");

    let ctx = Ctx::new(plan, &roster, &history, seed)?;
    let mut pools = ctx.empty_pools();
    let list_rows: Vec<&PopulationRow> = picked.iter().map(|p| rows[p.1]).collect();
    let teams = ctx.staff_in_order(&mut pools, &list_rows);
    clock.lap("officer teams");
    let labels: HashMap<StratumKey, String> = strata.keys().map(|k| (*k, k.label())).collect();
    let (mut chosen, short): (Vec<Chosen>, Vec<Option<Shortfall>>) = picked
        .par_iter()
        .zip(teams)
        .map(|((rank, idx, key), team)| ctx.chosen(rows[*idx], &labels[key], rank, team, None))
        .unzip();
    let mut shortfalls: UsccMap<Shortfall> = chosen
        .iter()
        .zip(short)
        .filter_map(|(c, s)| s.map(|s| (c.uscc, s)))
        .collect();
    // Row indices ever on the list: a replacement never comes back.
    let mut ever_chosen = vec![false; rows.len()];
    for (_, idx, _) in &picked {
        ever_chosen[*idx] = true;
    }
    clock.lap("chosen list");

    let mut replacements = Vec::with_capacity(requests.len());
    for (uscc, reason) in requests {
        let pos = chosen
            .iter()
            .position(|c| c.uscc == *uscc)
            .ok_or(DrawError::NotChosen(*uscc))?;
        let gone = chosen.remove(pos);
        ctx.release(&mut pools, &gone);
        shortfalls.remove(uscc);
        let key = strata
            .iter()
            .find(|(k, _)| k.label() == gone.stratum)
            .map(|(k, _)| *k);
        let next = key.and_then(|k| {
            strata[&k]
                .eligible
                .iter()
                .filter(|(_, i)| !ever_chosen[*i])
                .min_by(|a, b| cmp_rank(a, b, &rows))
                .map(|&(r, i)| (k, r, i))
        });
        let replacement = match next {
            Some((k, rank, idx)) => {
                ever_chosen[idx] = true;
                let team = ctx.staff_one(&mut pools, rows[idx]);
                let (c, s) = ctx.chosen(rows[idx], &labels[&k], &rank, team, Some(*uscc));
                if let Some(s) = s {
                    shortfalls.insert(c.uscc, s);
                }
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
    let load = ctx.summary(&pools, &chosen);
    clock.lap("replacements and loads");
    let result_digest = result_digest(&chosen, &replacements);
    clock.lap("result digest");
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
    canonical_json_digest(&Result {
        chosen,
        replacements,
    })
}

fn cmp_rank(a: &(Rank, usize), b: &(Rank, usize), rows: &[&PopulationRow]) -> std::cmp::Ordering {
    a.0.cmp(&b.0)
        .then_with(|| rows[a.1].uscc.as_bytes().cmp(rows[b.1].uscc.as_bytes()))
}

/// Where an in-scope entity ends up.
#[derive(Clone, Copy)]
enum Fate {
    OutOfScope,
    Deregistered(StratumKey),
    Revoked(StratumKey),
    OpenPlan(StratumKey),
    RecentlyInspected(StratumKey),
    Eligible(StratumKey),
}

/// Scope filters, then exclusions, then the quota of each stratum. With
/// `rank`, every eligible entity's rank is computed (in parallel; each is a
/// pure function of the seed and the USCC, so the thread count cannot
/// matter); without, the strata only count (for a preview).
pub(crate) fn build_strata(
    plan: &Plan,
    rows: &[&PopulationRow],
    seed: &[u8; 32],
    rank: bool,
) -> BTreeMap<StratumKey, Stratum> {
    let open: HashSet<Uscc> = plan.exclusions.open_plan_usccs.iter().copied().collect();
    // validate() has checked the window is inside the calendar.
    let inspected_cutoff = plan
        .exclusions
        .inspected_within_months
        .and_then(|m| window_start(plan.as_of, m));
    // Each block of rows is classified on its own; blocks are merged in
    // order, so every stratum's eligible list is in population order
    // whatever the thread count.
    const BLOCK: usize = 1 << 16;
    type Partial = HashMap<StratumKey, ([u64; 6], Vec<usize>)>;
    let partials: Vec<Partial> = rows
        .par_chunks(BLOCK)
        .enumerate()
        .map(|(b, block)| {
            let mut part: Partial = HashMap::new();
            for (j, row) in block.iter().enumerate() {
                let (key, slot) = match fate(plan, &open, inspected_cutoff, row) {
                    Fate::OutOfScope => continue,
                    Fate::Deregistered(k) => (k, 1),
                    Fate::Revoked(k) => (k, 2),
                    Fate::OpenPlan(k) => (k, 3),
                    Fate::RecentlyInspected(k) => (k, 4),
                    Fate::Eligible(k) => (k, 5),
                };
                let e = part.entry(key).or_default();
                e.0[0] += 1;
                e.0[slot] += 1;
                if slot == 5 && rank {
                    e.1.push(b * BLOCK + j);
                }
            }
            part
        })
        .collect();
    let mut merged: BTreeMap<StratumKey, ([u64; 6], Vec<usize>)> = BTreeMap::new();
    for part in partials {
        // Keys in a fixed order, so indices append in population order.
        let mut part: Vec<_> = part.into_iter().collect();
        part.sort_unstable_by_key(|(k, _)| *k);
        for (key, (counts, idx)) in part {
            let m = merged.entry(key).or_default();
            for (a, b) in m.0.iter_mut().zip(counts) {
                *a += b;
            }
            m.1.extend(idx);
        }
    }
    merged
        .into_iter()
        .map(|(key, (c, idx))| {
            let eligible = c[5];
            let count = StratumCount {
                stratum: key.label(),
                class: key.class,
                region: key.region,
                size: c[0],
                excluded_deregistered: c[1],
                excluded_revoked: c[2],
                excluded_open_plan: c[3],
                excluded_recently_inspected: c[4],
                eligible,
                quota: stratum_quota(plan.sampling.get(key.class), plan.stratum_minimum, eligible),
                drawn: 0,
            };
            let eligible = idx
                .par_iter()
                .map(|&i| (Rank::of(entity_rank(seed, &rows[i].uscc)), i))
                .collect();
            (key, Stratum { count, eligible })
        })
        .collect()
}

/// Eligible entities per (stratum label, region), for a preview's staffing.
pub(crate) fn eligible_by_region(
    plan: &Plan,
    rows: &[&PopulationRow],
) -> BTreeMap<(String, RegionCode), u64> {
    let open: HashSet<Uscc> = plan.exclusions.open_plan_usccs.iter().copied().collect();
    let cutoff = plan
        .exclusions
        .inspected_within_months
        .and_then(|m| window_start(plan.as_of, m));
    let mut out = BTreeMap::new();
    for row in rows {
        if let Fate::Eligible(k) = fate(plan, &open, cutoff, row) {
            *out.entry((k.label(), row.region)).or_default() += 1;
        }
    }
    out
}

fn fate(
    plan: &Plan,
    open: &HashSet<Uscc>,
    inspected_cutoff: Option<NaiveDate>,
    row: &PopulationRow,
) -> Fate {
    if !plan.regions.is_empty() && !plan.regions.contains(&row.region) {
        return Fate::OutOfScope;
    }
    if !plan.industry_in_scope(&row.industry) {
        return Fate::OutOfScope;
    }
    if let Some(kinds) = &plan.entity_kinds {
        match row.uscc.entity_kind() {
            Some(k) if kinds.contains(&k) => {}
            _ => return Fate::OutOfScope,
        }
    }
    let key = StratumKey {
        class: row.class,
        region: plan.stratify_by_region.then_some(row.region),
    };
    if plan.exclusions.deregistered && row.deregistered {
        Fate::Deregistered(key)
    } else if plan.exclusions.revoked && row.revoked {
        Fate::Revoked(key)
    } else if open.contains(&row.uscc) {
        Fate::OpenPlan(key)
    } else if row.class != Class::D
        && matches!((inspected_cutoff, row.last_inspected_on), (Some(cut), Some(d)) if d > cut)
    {
        Fate::RecentlyInspected(key)
    } else {
        Fate::Eligible(key)
    }
}

/// A map keyed by USCC with a cheap hash: the keys are checked codes, not
/// attacker-chosen strings, and it is looked up for every chosen entity.
type UsccMap<V> = HashMap<Uscc, V, std::hash::BuildHasherDefault<UsccHasher>>;

/// FNV-1a over the code's bytes.
#[derive(Debug, Clone, Copy)]
struct UsccHasher(u64);

impl Default for UsccHasher {
    fn default() -> Self {
        UsccHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for UsccHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A team, or how many officers were eligible when that was too few.
type Team = Result<Vec<u32>, u32>;

/// What officer assignment reads but never changes. Officers are referred
/// to by their index in the canonical roster, which is officer-id byte
/// order, so comparing indices compares ids.
struct Ctx<'a> {
    plan: &'a Plan,
    roster: &'a [Officer],
    seed: [u8; 32],
    team_size: usize,
    qualified: u32,
    /// Pool of each officer (`None`: not qualified for the field).
    pool_of: Vec<Option<u32>>,
    /// Position of each officer within its pool.
    local_of: Vec<u32>,
    /// Pool by unit (`None` when teams may cross regions: one pool).
    pool_index: HashMap<Option<RegionCode>, u32>,
    pool_members: Vec<Vec<u32>>,
    conflicts: UsccMap<Vec<u32>>,
    recused: UsccMap<Vec<u32>>,
}

/// One pool's mutable state: loads and the deck of officers below capacity,
/// ordered by (load, level rank at that load, officer index).
struct Pool {
    loads: Vec<u32>,
    keys: Vec<Rank>,
    deck: BTreeSet<(u32, Rank, u32)>,
}

impl<'a> Ctx<'a> {
    fn new(
        plan: &'a Plan,
        roster: &'a [Officer],
        history: &[PastInspection],
        seed: [u8; 32],
    ) -> Result<Self, DrawError> {
        let mut pool_index: HashMap<Option<RegionCode>, u32> = HashMap::new();
        let mut pool_members: Vec<Vec<u32>> = Vec::new();
        let mut pool_of = vec![None; roster.len()];
        let mut local_of = vec![0; roster.len()];
        let mut qualified = 0;
        for (i, o) in roster.iter().enumerate() {
            if !o.qualifications.contains(&plan.field) {
                continue;
            }
            qualified += 1;
            let key = (!plan.allow_cross_region_teams).then_some(o.unit);
            let p = *pool_index.entry(key).or_insert_with(|| {
                pool_members.push(Vec::new());
                (pool_members.len() - 1) as u32
            });
            pool_of[i] = Some(p);
            local_of[i] = pool_members[p as usize].len() as u32;
            pool_members[p as usize].push(i as u32);
        }
        let index: HashMap<&str, u32> = roster
            .iter()
            .enumerate()
            .map(|(i, o)| (o.officer_id.as_str(), i as u32))
            .collect();
        let mut conflicts: UsccMap<Vec<u32>> = UsccMap::default();
        for (i, o) in roster.iter().enumerate() {
            for u in &o.conflicts {
                conflicts.entry(*u).or_default().push(i as u32);
            }
        }
        let mut recused: UsccMap<Vec<u32>> = UsccMap::default();
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
                    recused.entry(h.uscc).or_default().push(i);
                }
            }
            for v in recused.values_mut() {
                v.sort_unstable();
                v.dedup();
            }
        }
        Ok(Ctx {
            plan,
            roster,
            seed,
            team_size: plan.team_size as usize,
            qualified,
            pool_of,
            local_of,
            pool_index,
            pool_members,
            conflicts,
            recused,
        })
    }

    /// Every pool with loads at 0 and every member with capacity in the deck.
    fn empty_pools(&self) -> Vec<Pool> {
        self.pool_members
            .iter()
            .map(|members| {
                let keys: Vec<Rank> = members
                    .iter()
                    .map(|&g| {
                        Rank::of(level_rank(
                            &self.seed,
                            0,
                            &self.roster[g as usize].officer_id,
                        ))
                    })
                    .collect();
                let deck = members
                    .iter()
                    .zip(&keys)
                    .filter(|(&g, _)| self.roster[g as usize].capacity > 0)
                    .map(|(&g, k)| (0, *k, g))
                    .collect();
                Pool {
                    loads: vec![0; members.len()],
                    keys,
                    deck,
                }
            })
            .collect()
    }

    fn pool_key(&self, row: &PopulationRow) -> Option<RegionCode> {
        (!self.plan.allow_cross_region_teams).then_some(row.region)
    }

    /// Teams for `list` in order. Pools share no officer, so each pool's
    /// entities are staffed in list order on their own (in parallel): the
    /// result is the one sequential processing of the list gives.
    fn staff_in_order(&self, pools: &mut [Pool], list: &[&PopulationRow]) -> Vec<Team> {
        let mut work: Vec<Vec<usize>> = vec![Vec::new(); pools.len()];
        let mut teams: Vec<Team> = vec![Err(0); list.len()];
        for (pos, row) in list.iter().enumerate() {
            if let Some(&p) = self.pool_index.get(&self.pool_key(row)) {
                work[p as usize].push(pos);
            }
        }
        let done: Vec<Vec<(usize, Team)>> = pools
            .par_iter_mut()
            .zip(work.par_iter())
            .map(|(pool, positions)| {
                positions
                    .iter()
                    .map(|&pos| (pos, self.staff(pool, &list[pos].uscc)))
                    .collect()
            })
            .collect();
        for (pos, team) in done.into_iter().flatten() {
            teams[pos] = team;
        }
        teams
    }

    fn staff_one(&self, pools: &mut [Pool], row: &PopulationRow) -> Team {
        match self.pool_index.get(&self.pool_key(row)) {
            Some(&p) => self.staff(&mut pools[p as usize], &row.uscc),
            None => Err(0),
        }
    }

    /// §6: walk the deck, skipping officers with a conflict or a recusal for
    /// this entity; the first `2 × team_size` are the candidates; the team is
    /// the first `team_size` of them by (load, officer rank, officer id).
    fn staff(&self, pool: &mut Pool, uscc: &Uscc) -> Team {
        let conflicted = self.conflicts.get(uscc);
        let recused = self.recused.get(uscc);
        let skip = |g: u32| {
            conflicted.is_some_and(|v| v.contains(&g)) || recused.is_some_and(|v| v.contains(&g))
        };
        let want = CANDIDATES_PER_SEAT * self.team_size;
        let mut cands: Vec<(u32, Rank, u32)> = Vec::with_capacity(want);
        for &(load, _, g) in &pool.deck {
            if skip(g) {
                continue;
            }
            let id = &self.roster[g as usize].officer_id;
            cands.push((load, Rank::of(officer_rank(&self.seed, uscc, id)), g));
            if cands.len() == want {
                break;
            }
        }
        if cands.len() < self.team_size {
            // The deck was walked to its end: these are all the eligible.
            return Err(cands.len() as u32);
        }
        cands.sort_unstable();
        let team: Vec<u32> = cands[..self.team_size].iter().map(|c| c.2).collect();
        for &g in &team {
            self.set_load(pool, g, true);
        }
        Ok(team)
    }

    /// Moves an officer one load level up or down, in or out of the deck.
    fn set_load(&self, pool: &mut Pool, g: u32, up: bool) {
        let l = self.local_of[g as usize] as usize;
        let cap = self.roster[g as usize].capacity;
        let old = pool.loads[l];
        let new = if up { old + 1 } else { old.saturating_sub(1) };
        if new == old {
            return;
        }
        if old < cap {
            pool.deck.remove(&(old, pool.keys[l], g));
        }
        pool.loads[l] = new;
        pool.keys[l] = Rank::of(level_rank(
            &self.seed,
            new,
            &self.roster[g as usize].officer_id,
        ));
        if new < cap {
            pool.deck.insert((new, pool.keys[l], g));
        }
    }

    /// Gives back the loads of a chosen entity's team (§7 step 1).
    fn release(&self, pools: &mut [Pool], gone: &Chosen) {
        for id in &gone.officers {
            let Ok(g) = self
                .roster
                .binary_search_by(|o| o.officer_id.as_bytes().cmp(id.as_bytes()))
            else {
                continue;
            };
            if let Some(p) = self.pool_of[g] {
                self.set_load(&mut pools[p as usize], g as u32, false);
            }
        }
    }

    /// The list entry for an entity and its team (or why it has none).
    fn chosen(
        &self,
        row: &PopulationRow,
        stratum: &str,
        rank: &Rank,
        team: Team,
        replaces: Option<Uscc>,
    ) -> (Chosen, Option<Shortfall>) {
        let (officers, shortfall) = match team {
            Ok(t) => (
                t.iter()
                    .map(|&g| self.roster[g as usize].officer_id.clone())
                    .collect(),
                None,
            ),
            Err(eligible) => (Vec::new(), Some(self.shortfall(row, eligible))),
        };
        let c = Chosen {
            uscc: row.uscc,
            name: row.name.clone(),
            region: row.region,
            class: row.class,
            stratum: stratum.to_string(),
            rank: rank.hex(),
            officers,
            replaces,
        };
        (c, shortfall)
    }

    /// Every roster officer counted once, under the first rule it fails.
    /// Counted from the pools rather than officer by officer, so a large
    /// roster costs nothing per unstaffed entity.
    fn shortfall(&self, row: &PopulationRow, eligible: u32) -> Shortfall {
        let pool = self.pool_index.get(&self.pool_key(row)).copied();
        let pool_size = pool.map_or(0, |p| self.pool_members[p as usize].len() as u32);
        let in_pool = |g: &&u32| pool.is_some() && self.pool_of[**g as usize] == pool;
        let conflicted = self.conflicts.get(&row.uscc);
        let conflict = conflicted.map_or(0, |v| v.iter().filter(in_pool).count() as u32);
        let recused = self.recused.get(&row.uscc).map_or(0, |v| {
            v.iter()
                .filter(in_pool)
                .filter(|g| !conflicted.is_some_and(|c| c.contains(g)))
                .count() as u32
        });
        Shortfall {
            needed: self.plan.team_size,
            eligible,
            not_qualified: self.roster.len() as u32 - self.qualified,
            other_unit: self.qualified - pool_size,
            conflict,
            recused,
            at_capacity: pool_size.saturating_sub(conflict + recused + eligible),
        }
    }

    fn summary(&self, pools: &[Pool], chosen: &[Chosen]) -> LoadSummary {
        let regions: HashSet<RegionCode> = chosen.iter().map(|c| c.region).collect();
        let officers: Vec<OfficerLoad> = self
            .roster
            .iter()
            .enumerate()
            .filter_map(|(g, o)| {
                let p = self.pool_of[g]?;
                if !self.plan.allow_cross_region_teams && !regions.contains(&o.unit) {
                    return None;
                }
                Some(OfficerLoad {
                    officer_id: o.officer_id.clone(),
                    load: pools[p as usize].loads[self.local_of[g] as usize],
                    capacity: o.capacity,
                })
            })
            .collect();
        LoadSummary {
            min: officers.iter().map(|o| o.load).min().unwrap_or(0),
            max: officers.iter().map(|o| o.load).max().unwrap_or(0),
            officers,
        }
    }
}
