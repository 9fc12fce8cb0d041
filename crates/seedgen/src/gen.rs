//! Generation of one chunk of entities and their event histories.
//!
//! A chunk is generated from its own RNG, so chunks can be produced in any
//! order on any number of threads. Everything that must be numbered across
//! the whole data set (event ids, document numbers) is left as a chunk-local
//! number here and completed when chunks are rendered in order.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tidewatch_model::codes::{
    AbnormalReason, AccidentSeverity, ChangeKind, Channel, EntityType, Hazard, InspectionType,
    Licence, ResultCode, Severity, ViolationCategory,
};
use tidewatch_model::event::{
    AbnormalListing, Accident, AnnualReport, Award, Certification, Change, Complaint, CreditRepair,
    Inspection, ListDecision, Note, Penalty, PenaltyRef, Registration, Sampling,
};
use tidewatch_model::{
    CreditBody, CreditRecord, Domain, EntityKind, IndustryCode, Money, RegionCode, Uscc, ZoneCode,
};

use crate::catalog::{
    provisions, serious_category, CertProfile, Sector, NICKNAMES, SECTORS, TOWNS, TRADE_NAMES,
};
use crate::ids::{basics, hash3, rep_key, REGIONS, REGION_NAMES};
use crate::officers::Roster;

/// Entities per chunk. Part of the output's definition: changing it changes
/// the bytes generated for a seed.
pub const CHUNK_SIZE: u64 = 1024;

/// Per-tier probabilities: low risk, average, elevated, high.
const TIER_CUM: [f64; 4] = [0.55, 0.88, 0.97, 1.0];

const ZONES: [&str; 3] = ["330950", "330951", "330952"];

/// Numbered document series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Series {
    Penalty,
    Serious,
    Quality,
}

impl Series {
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Series::Penalty => "舟市监罚",
            Series::Serious => "舟市监严失",
            Series::Quality => "舟市监质黑",
        }
    }
}

/// Sort key within a chunk: date, then entity, then creation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub day: i32,
    pub ent: u32,
    pub seq: u32,
}

#[derive(Debug)]
pub(crate) struct CredItem {
    pub key: Key,
    pub rec: CreditRecord,
    /// This record carries a numbered document (tag until resolved).
    pub num: Option<(Series, u32)>,
    /// This record refers to the penalty with this tag.
    pub refers: Option<u32>,
}

/// A resolved chunk-local document number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalDoc {
    pub series: Series,
    pub year: i32,
    pub n: u32,
}

#[derive(Debug, Default)]
pub(crate) struct ChunkEvents {
    pub insp: Vec<(Key, Inspection)>,
    pub comp: Vec<(Key, Complaint)>,
    pub cred: Vec<CredItem>,
    /// File order of each family, as indices (set by [`ChunkEvents::finalize`]).
    pub order_insp: Vec<u32>,
    pub order_comp: Vec<u32>,
    pub order_cred: Vec<u32>,
    /// Aligned with `cred` (storage order) after [`ChunkEvents::finalize`].
    pub docs: Vec<Option<LocalDoc>>,
    pub refs: Vec<Option<LocalDoc>>,
    /// Documents per (series, year) in this chunk.
    pub doc_counts: BTreeMap<(Series, i32), u32>,
}

impl ChunkEvents {
    /// Orders each family by date (sorting indices, not the records) and
    /// numbers documents chunk-locally.
    fn finalize(&mut self) {
        self.order_insp = order(self.insp.iter().map(|(k, _)| *k));
        self.order_comp = order(self.comp.iter().map(|(k, _)| *k));
        self.order_cred = order(self.cred.iter().map(|c| c.key));
        let mut by_tag: BTreeMap<u32, LocalDoc> = BTreeMap::new();
        self.docs = vec![None; self.cred.len()];
        for &i in &self.order_cred {
            let c = &self.cred[i as usize];
            if let Some((series, tag)) = c.num {
                let year = date(c.key.day).year();
                let n = self.doc_counts.entry((series, year)).or_insert(0);
                *n += 1;
                let d = LocalDoc {
                    series,
                    year,
                    n: *n,
                };
                by_tag.insert(tag, d);
                self.docs[i as usize] = Some(d);
            }
        }
        self.refs = self
            .cred
            .iter()
            .map(|c| c.refers.and_then(|t| by_tag.get(&t).copied()))
            .collect();
    }
}

/// Indices of `keys` in key order (keys are unique).
fn order(keys: impl Iterator<Item = Key>) -> Vec<u32> {
    let mut v: Vec<(Key, u32)> = keys.enumerate().map(|(i, k)| (k, i as u32)).collect();
    v.sort_unstable();
    v.into_iter().map(|(_, i)| i).collect()
}

/// Shared, read-only inputs of every chunk.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub seed: u64,
    pub entities: u64,
    pub as_of: i32,
    /// First day of the event window.
    pub start: i32,
    pub roster: &'a Roster,
    /// Cumulative sector weights per kind and region.
    sector_cum: Vec<Vec<f64>>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        seed: u64,
        entities: u64,
        as_of: NaiveDate,
        window_start: NaiveDate,
        roster: &'a Roster,
    ) -> Self {
        let mut sector_cum = Vec::with_capacity(12);
        for kind in 0..3 {
            for region in 0..4 {
                let mut acc = 0.0;
                let mut cum: Vec<f64> = SECTORS
                    .iter()
                    .map(|s| {
                        acc += s.w[kind] * s.rw[region];
                        acc
                    })
                    .collect();
                for c in cum.iter_mut() {
                    *c /= acc;
                }
                sector_cum.push(cum);
            }
        }
        Ctx {
            seed,
            entities,
            as_of: as_of.num_days_from_ce(),
            start: window_start.num_days_from_ce() + 1,
            roster,
            sector_cum,
        }
    }
}

pub(crate) fn date(d: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(d).unwrap_or_default()
}

fn ymd(y: i32, m: u32, d: u32) -> i32 {
    NaiveDate::from_ymd_opt(y, m, d)
        .map(|x| x.num_days_from_ce())
        .unwrap_or(0)
}

fn pick_cum(u: f64, cum: &[f64]) -> usize {
    cum.iter()
        .position(|&c| u < c)
        .unwrap_or(cum.len().saturating_sub(1))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Deregistered,
    Revoked,
}

#[derive(Debug)]
struct Entity {
    local: u32,
    uscc: Uscc,
    kind: EntityKind,
    region: usize,
    zone: Option<usize>,
    sector: &'static Sector,
    etype: EntityType,
    capital_fen: i64,
    established: i32,
    tier: usize,
    /// Specialized fields, sorted.
    fields: Vec<Domain>,
    exit: Option<(i32, Exit)>,
}

impl Entity {
    fn in_field(&self, d: Domain) -> bool {
        d == Domain::General || self.fields.contains(&d)
    }
    fn primary(&self) -> Domain {
        if self.sector.primary != Domain::General && self.in_field(self.sector.primary) {
            self.sector.primary
        } else {
            self.fields.first().copied().unwrap_or(Domain::General)
        }
    }
    fn authority(&self) -> &'static str {
        [
            "舟山市市场监督管理局定海分局",
            "舟山市市场监督管理局普陀分局",
            "岱山县市场监督管理局",
            "嵊泗县市场监督管理局",
        ][self.region]
    }
}

/// Penalties an entity has had, to repeat violations and detect repeats.
#[derive(Debug, Clone, Copy)]
struct PastPenalty {
    day: i32,
    cat: ViolationCategory,
    code: &'static str,
    domain: Domain,
}

struct Gen<'c, 'a> {
    ctx: &'c Ctx<'a>,
    rng: ChaCha8Rng,
    chunk: u64,
    out: ChunkEvents,
    seq: u32,
    next_tag: u32,
    next_person: u64,
    /// People holding the chunk's entities, for changes of representative.
    people: Vec<u64>,
}

fn chance(rng: &mut impl Rng, p: f64) -> bool {
    rng.random::<f64>() < p
}

fn pick<'x, T>(rng: &mut impl Rng, xs: &'x [T]) -> &'x T {
    &xs[rng.random_range(0..xs.len())]
}

fn pick_str(rng: &mut impl Rng, xs: &[&'static str]) -> &'static str {
    xs[rng.random_range(0..xs.len())]
}

fn pick_weighted<'x, T>(rng: &mut impl Rng, xs: &'x [(T, f64)]) -> &'x T {
    let total: f64 = xs.iter().map(|(_, w)| w).sum();
    let mut u = rng.random::<f64>() * total;
    for (x, w) in xs {
        if u < *w {
            return x;
        }
        u -= w;
    }
    &xs[xs.len() - 1].0
}

fn poisson(rng: &mut impl Rng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 30.0 {
        let v = lambda + lambda.sqrt() * normal(rng);
        return v.round().max(0.0) as u32;
    }
    let l = (-lambda).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.random::<f64>();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A log-normal amount in fen: `median` yuan, `sd` in log10 units.
fn amount_fen(rng: &mut impl Rng, median: f64, sd: f64, min: f64, max: f64) -> f64 {
    (median * 10f64.powf(sd * normal(rng))).clamp(min, max) * 100.0
}

/// Rounds to two significant figures.
fn round2(v: f64) -> f64 {
    if v <= 0.0 {
        return 0.0;
    }
    let mag = 10f64.powi(v.log10().floor() as i32 - 1);
    (v / mag).round() * mag
}

/// Tier multipliers.
const TIER_PROBLEM: [f64; 4] = [0.4, 1.0, 2.5, 4.5];

fn inspection_result(rng: &mut impl Rng, tier: usize, general: bool) -> ResultCode {
    use ResultCode as R;
    let m = TIER_PROBLEM[tier];
    let table: [(R, f64); 9] = [
        (R::Corrected, 0.05 * m),
        (R::ProblemPending, 0.03 * m),
        (R::OtherViolation, 0.02 * m),
        (R::NotDisclosed, if general { 0.025 * m } else { 0.0 }),
        (R::FalseDisclosure, if general { 0.003 * m } else { 0.0 }),
        (R::NoActivity, 0.015),
        (R::Unreachable, 0.01 * m),
        (R::Closed, 0.004),
        (R::Obstructed, 0.001 * m),
    ];
    let mut u: f64 = rng.random();
    for (r, p) in table {
        if u < p {
            return r;
        }
        u -= p;
    }
    R::NoProblem
}

impl<'c, 'a> Gen<'c, 'a> {
    fn key(&mut self, e: &Entity, day: i32) -> Key {
        self.seq += 1;
        Key {
            day,
            ent: e.local,
            seq: self.seq,
        }
    }

    fn day_in(&mut self, a: i32, b: i32) -> i32 {
        if b <= a {
            a
        } else {
            self.rng.random_range(a..=b)
        }
    }

    fn cred(
        &mut self,
        e: &Entity,
        day: i32,
        domain: Domain,
        body: CreditBody,
        num: Option<Series>,
        refers: Option<u32>,
    ) -> u32 {
        let key = self.key(e, day);
        let tag = self.next_tag;
        self.next_tag += 1;
        self.out.cred.push(CredItem {
            key,
            rec: CreditRecord {
                event_id: String::new(),
                uscc: e.uscc,
                occurred_on: date(day),
                domain,
                body,
            },
            num: num.map(|s| (s, tag)),
            refers,
        });
        tag
    }

    fn new_person(&mut self) -> u64 {
        self.next_person += 1;
        self.next_person - 1
    }

    // ---------------------------------------------------------------- entity

    fn entity(&mut self, idx: u64, local: u32) -> (Entity, String, Vec<Licence>) {
        let ctx = self.ctx;
        let b = basics(ctx.seed, idx);
        let ki = match b.kind {
            EntityKind::Enterprise => 0,
            EntityKind::IndividualBusiness => 1,
            EntityKind::FarmersCooperative => 2,
        };
        let r = &mut self.rng;
        let sector = &SECTORS[pick_cum(r.random(), &ctx.sector_cum[ki * 4 + b.region])];
        let tier = pick_cum(r.random(), &TIER_CUM);
        let big = sector.cap >= 1.0;
        let etype = match b.kind {
            EntityKind::IndividualBusiness => EntityType::IndividualBusiness,
            EntityKind::FarmersCooperative => EntityType::FarmersCooperative,
            EntityKind::Enterprise => {
                let t: &[(EntityType, f64)] = if big {
                    &[
                        (EntityType::LimitedCompany, 0.70),
                        (EntityType::JointStockCompany, 0.10),
                        (EntityType::Branch, 0.08),
                        (EntityType::StateOwned, 0.05),
                        (EntityType::ForeignInvested, 0.07),
                    ]
                } else {
                    &[
                        (EntityType::LimitedCompany, 0.81),
                        (EntityType::JointStockCompany, 0.03),
                        (EntityType::SoleProprietorship, 0.05),
                        (EntityType::Partnership, 0.02),
                        (EntityType::Branch, 0.06),
                        (EntityType::StateOwned, 0.01),
                        (EntityType::ForeignInvested, 0.02),
                    ]
                };
                *pick_weighted(r, t)
            }
        };
        // Capital: individual businesses small, big industry large.
        let capital_fen = match etype {
            EntityType::Branch => 0,
            EntityType::IndividualBusiness => {
                let v = amount_fen(r, 25_000.0, 0.5, 1_000.0, 5_000_000.0) / 100.0;
                ((v / 1000.0).round().max(1.0) * 1000.0) as i64 * 100
            }
            EntityType::FarmersCooperative => {
                let v = amount_fen(r, 400_000.0, 0.5, 10_000.0, 50_000_000.0) / 100.0;
                (round2(v / 10_000.0).max(1.0) * 10_000.0) as i64 * 100
            }
            t => {
                let shift = sector.cap
                    + match t {
                        EntityType::JointStockCompany => 0.6,
                        EntityType::StateOwned => 0.8,
                        EntityType::ForeignInvested => 0.5,
                        EntityType::SoleProprietorship => -0.8,
                        EntityType::Partnership => 0.2,
                        _ => 0.0,
                    };
                let v = amount_fen(r, 10f64.powf(6.0 + shift), 0.6, 10_000.0, 5e10) / 100.0;
                (round2(v / 10_000.0).max(1.0) * 10_000.0) as i64 * 100
            }
        };
        // Established: some inside the window, most earlier, up to 25 years.
        let as_of = ctx.as_of;
        let (recent, mean_age) = match b.kind {
            EntityKind::IndividualBusiness => (0.28, 4.0),
            EntityKind::FarmersCooperative => (0.05, 6.0),
            EntityKind::Enterprise => (0.18, 6.5),
        };
        let age_days = if r.random::<f64>() < recent {
            r.random_range(30.0..3.0 * 365.25)
        } else {
            let base = if b.kind == EntityKind::FarmersCooperative {
                7.0
            } else {
                3.0
            };
            let exp = -mean_age * (1.0 - r.random::<f64>()).ln();
            (base + exp).min(25.0) * 365.25 - r.random_range(0.0..200.0)
        };
        let established = as_of - age_days.max(30.0) as i32;
        // Licences and fields.
        let mut licences = Vec::new();
        for &(l, p) in sector.lic {
            let p = if b.kind == EntityKind::IndividualBusiness
                && matches!(
                    l,
                    Licence::SpecialEquipmentUse | Licence::SpecialEquipmentManufacture
                ) {
                p * 0.5
            } else {
                p
            };
            if r.random::<f64>() < p {
                licences.push(l);
            }
        }
        licences.sort();
        let mut fields: Vec<Domain> = licences
            .iter()
            .map(|l| match l {
                Licence::FoodProduction | Licence::FoodBusiness => Domain::Food,
                Licence::SpecialEquipmentUse | Licence::SpecialEquipmentManufacture => {
                    Domain::SpecialEquipment
                }
                Licence::IndustrialProduct | Licence::HazardousChemicals => {
                    Domain::IndustrialProduct
                }
                Licence::ConstructionQualification => Domain::Construction,
            })
            .collect();
        if sector.primary != Domain::General {
            fields.push(sector.primary);
        }
        fields.sort();
        fields.dedup();
        // Functional zones: 高新区 and 新城 in 定海, 普陀山-朱家尖 in 普陀.
        let zone = match b.region {
            0 => {
                let tech = matches!(sector.code, "I6513" | "C3734" | "C2614");
                let town = sector.code.starts_with('H') || sector.code.starts_with("F52");
                let u: f64 = r.random();
                let p_tech = if tech { 0.3 } else { 0.06 };
                let p_new = if town { 0.14 } else { 0.09 };
                if u < p_tech {
                    Some(0)
                } else if u < p_tech + p_new {
                    Some(2)
                } else {
                    None
                }
            }
            1 => {
                let p = if sector.tourism { 0.3 } else { 0.06 };
                (r.random::<f64>() < p).then_some(1)
            }
            _ => None,
        };
        let name = self.name(b.kind, b.region, zone, etype, sector);
        let r = &mut self.rng;
        // Exit within the window.
        let lo = ctx.start.max(established + 90);
        let exit = if lo <= as_of {
            let p_rev = [0.0, 0.001, 0.01, 0.08][tier];
            let p_dereg = [0.025, 0.05, 0.06][ki] * [0.6, 1.0, 1.8, 3.0][tier];
            let u: f64 = r.random();
            if u < p_rev && b.kind != EntityKind::FarmersCooperative {
                let a = lo.max(ctx.start + 200);
                (a <= as_of).then(|| (r.random_range(a..=as_of), Exit::Revoked))
            } else if u < p_rev + p_dereg {
                Some((r.random_range(lo..=as_of), Exit::Deregistered))
            } else {
                None
            }
        } else {
            None
        };
        (
            Entity {
                local,
                uscc: b.uscc,
                kind: b.kind,
                region: b.region,
                zone,
                sector,
                etype,
                capital_fen,
                established,
                tier,
                fields,
                exit,
            },
            name,
            licences,
        )
    }

    fn name(
        &mut self,
        kind: EntityKind,
        region: usize,
        zone: Option<usize>,
        etype: EntityType,
        sector: &Sector,
    ) -> String {
        let r = &mut self.rng;
        let district = REGION_NAMES[region];
        let mut s = String::with_capacity(64);
        match kind {
            EntityKind::IndividualBusiness => {
                s.push_str(district);
                // A town that fits the functional zone, if any.
                let town = match zone {
                    Some(1) => Some("朱家尖街道"),
                    Some(2) => Some("临城街道"),
                    Some(_) => None,
                    None => Some(pick_str(r, TOWNS[region])),
                };
                if let Some(t) = town.filter(|_| r.random::<f64>() < 0.4) {
                    s.push_str(t);
                }
                s.push_str(pick_str(r, NICKNAMES));
                s.push_str(pick_str(r, sector.ib));
            }
            EntityKind::FarmersCooperative => {
                if r.random::<f64>() < 0.5 {
                    s.push_str("舟山市");
                }
                s.push_str(district);
                s.push_str(pick_str(r, TRADE_NAMES));
                s.push_str(pick_str(r, sector.coop));
            }
            EntityKind::Enterprise => {
                let u: f64 = r.random();
                let short = &district[..district.len() - "区".len()];
                if u < 0.35 {
                    s.push_str("舟山");
                } else if u < 0.65 {
                    s.push_str("舟山市");
                    s.push_str(district);
                } else if u < 0.75 && sector.cap >= 0.5 {
                    s.push_str("浙江");
                } else {
                    // 岱山县…, 嵊泗县…, 舟山市定海…
                    if region >= 2 {
                        s.push_str(district);
                    } else {
                        s.push_str("舟山市");
                        s.push_str(short);
                    }
                }
                let word = pick_str(r, sector.ent);
                let mut trade = pick_str(r, TRADE_NAMES);
                while word.contains(trade) {
                    trade = pick_str(r, TRADE_NAMES);
                }
                s.push_str(trade);
                s.push_str(word);
                match etype {
                    EntityType::JointStockCompany => s.push_str("股份有限公司"),
                    EntityType::SoleProprietorship => {
                        s.push_str(pick_str(r, &["经营部", "商行", "厂"]));
                    }
                    EntityType::Partnership => s.push_str("合伙企业（普通合伙）"),
                    EntityType::StateOwned => s.push_str("总公司"),
                    EntityType::Branch => {
                        s.push_str("有限公司");
                        s.push_str(short);
                        s.push_str("分公司");
                    }
                    _ => s.push_str("有限公司"),
                }
            }
        }
        s
    }

    // ---------------------------------------------------------------- events

    fn events(&mut self, e: &mut Entity, name: String, licences: Vec<Licence>, rep: String) {
        let ctx = self.ctx;
        // Registration, possibly long before the window.
        let reg = Registration {
            name,
            region_code: RegionCode::parse(REGIONS[e.region]).expect("static region code"),
            zone: e
                .zone
                .map(|z| ZoneCode::parse(ZONES[z]).expect("static zone code")),
            industry_code: IndustryCode::parse(e.sector.code).expect("static industry code"),
            entity_type: e.etype,
            registered_capital_cny: Money::from_fen(e.capital_fen),
            established_on: date(e.established),
            legal_rep_key: rep,
            licences,
        };
        self.cred(
            e,
            e.established,
            Domain::General,
            CreditBody::Registered(reg),
            None,
            None,
        );
        let start = ctx.start.max(e.established + 1);
        let end = e.exit.map(|(d, _)| d - 1).unwrap_or(ctx.as_of);
        if let Some((d, kind)) = e.exit {
            let body = match kind {
                Exit::Deregistered => CreditBody::Deregistered(Note {
                    reason: Some(
                        (*pick(&mut self.rng, &["简易注销", "决议解散", "经营期限届满"]))
                            .to_string(),
                    ),
                }),
                Exit::Revoked => CreditBody::Revoked(Note {
                    reason: Some("开业后自行停业连续六个月以上".to_string()),
                }),
            };
            self.cred(e, d, Domain::General, body, None, None);
            self.exit_precursors(e, start, d, kind);
        }
        if start > end {
            return;
        }
        let years = (end - start + 1) as f64 / 365.25;
        let mut past: Vec<PastPenalty> = Vec::new();
        self.annual_reports(e, start, end);
        self.changes(e, start, end, years);
        self.inspections(e, start, end, years, &mut past);
        self.complaints(e, start, end, years, &mut past);
        // Penalties found outside inspections (reports, cases).
        let n = poisson(&mut self.rng, [0.001, 0.004, 0.03, 0.18][e.tier] * years);
        for _ in 0..n {
            let d = self.day_in(start, end);
            self.penalty(e, d, end, None, None, false, &mut past, true);
        }
        self.accidents(e, start, end, years, &mut past);
        self.rare_records(e, start, end, years);
    }

    fn exit_precursors(&mut self, e: &Entity, start: i32, exit_day: i32, kind: Exit) {
        match kind {
            Exit::Revoked => {
                let d = exit_day - self.rng.random_range(150..400);
                if d >= start {
                    self.inspection(
                        e,
                        d,
                        Domain::General,
                        InspectionType::Routine,
                        ResultCode::Unreachable,
                        None,
                    );
                    let l = d + self.rng.random_range(10..40);
                    if l < exit_day {
                        self.cred(
                            e,
                            l,
                            Domain::General,
                            CreditBody::AbnormalListed(AbnormalListing {
                                reason: AbnormalReason::Unreachable,
                            }),
                            None,
                            None,
                        );
                    }
                }
            }
            Exit::Deregistered => {
                if chance(&mut self.rng, 0.15) {
                    let d = exit_day - self.rng.random_range(30..200);
                    if d >= start {
                        self.inspection(
                            e,
                            d,
                            Domain::General,
                            InspectionType::Routine,
                            ResultCode::Closed,
                            None,
                        );
                    }
                }
            }
        }
    }

    fn annual_reports(&mut self, e: &Entity, start: i32, end: i32) {
        let ctx = self.ctx;
        let first = date(ctx.start).year() - 1;
        let last = date(ctx.as_of).year() - 1;
        let est_year = date(e.established).year();
        for y in first..=last {
            if est_year > y {
                continue;
            }
            let jan1 = ymd(y + 1, 1, 1);
            let jun30 = ymd(y + 1, 6, 30);
            if jan1 < ctx.start || jan1 > end {
                continue;
            }
            let ib = if e.kind == EntityKind::IndividualBusiness {
                0.04
            } else {
                0.0
            };
            let p_on = [0.96, 0.9, 0.72, 0.45][e.tier] - ib;
            let report = |on_time| CreditBody::AnnualReportFiled(AnnualReport { year: y, on_time });
            let listed = || {
                CreditBody::AbnormalListed(AbnormalListing {
                    reason: AbnormalReason::AnnualReportMissing,
                })
            };
            if chance(&mut self.rng, p_on) {
                // Filings cluster towards the 30 June deadline.
                let back = (181.0 * self.rng.random::<f64>().powf(1.6)) as i32;
                let d = (jun30 - back).max(start);
                if d <= end {
                    self.cred(e, d, Domain::General, report(true), None, None);
                }
            } else if chance(&mut self.rng, [0.85, 0.7, 0.45, 0.2][e.tier]) {
                if chance(&mut self.rng, 0.3) {
                    let d = jun30 + self.rng.random_range(1..15);
                    if d <= end {
                        self.cred(e, d, Domain::General, report(false), None, None);
                    }
                } else {
                    let l = jun30 + self.rng.random_range(1..=31);
                    if l > end {
                        continue;
                    }
                    self.cred(e, l, Domain::General, listed(), None, None);
                    let f = l + self.rng.random_range(10..240);
                    if f <= end {
                        self.cred(e, f, Domain::General, report(false), None, None);
                        let rm = f + self.rng.random_range(1..15);
                        if rm <= end {
                            let body = CreditBody::AbnormalRemoved(Note {
                                reason: Some("补报年度报告".to_string()),
                            });
                            self.cred(e, rm, Domain::General, body, None, None);
                        }
                    }
                }
            } else {
                let l = jun30 + self.rng.random_range(1..=31);
                if l <= end {
                    self.cred(e, l, Domain::General, listed(), None, None);
                }
            }
        }
    }

    fn changes(&mut self, e: &mut Entity, start: i32, end: i32, years: f64) {
        let n = poisson(&mut self.rng, [0.05, 0.07, 0.12, 0.2][e.tier] * years);
        for _ in 0..n {
            let d = self.day_in(start, end);
            let rep_w = if e.tier >= 2 { 0.4 } else { 0.2 };
            let cap_w = if e.etype == EntityType::Branch {
                0.0
            } else {
                0.15
            };
            let what = *pick_weighted(
                &mut self.rng,
                &[
                    (ChangeKind::Address, 0.35),
                    (ChangeKind::Scope, 0.3),
                    (ChangeKind::LegalRep, rep_w),
                    (ChangeKind::Capital, cap_w),
                ],
            );
            let mut ch = Change {
                what,
                legal_rep_key: None,
                registered_capital_cny: None,
            };
            match what {
                ChangeKind::LegalRep => {
                    let person = if chance(&mut self.rng, 0.2) && !self.people.is_empty() {
                        *pick(&mut self.rng, &self.people)
                    } else {
                        self.new_person()
                    };
                    ch.legal_rep_key = Some(rep_key(self.ctx.seed, self.chunk, person));
                }
                ChangeKind::Capital => {
                    let f = if chance(&mut self.rng, 0.75) {
                        self.rng.random_range(1.5..5.0)
                    } else {
                        self.rng.random_range(0.2..0.8)
                    };
                    let unit = if e.kind == EntityKind::IndividualBusiness {
                        100_000.0
                    } else {
                        1_000_000.0
                    };
                    let v = ((e.capital_fen as f64 * f / unit).round().max(1.0) * unit) as i64;
                    e.capital_fen = v;
                    ch.registered_capital_cny = Some(Money::from_fen(v));
                }
                _ => {}
            }
            self.cred(e, d, Domain::General, CreditBody::Changed(ch), None, None);
        }
    }

    /// Pushes one inspection and what its result leads to.
    fn inspection(
        &mut self,
        e: &Entity,
        d: i32,
        domain: Domain,
        itype: InspectionType,
        result: ResultCode,
        sampling: Option<Sampling>,
    ) {
        let (plan_id, inspector_ids) = if itype == InspectionType::DoubleRandom {
            let dt = date(d);
            let q = (dt.month() - 1) / 3 + 1;
            let plan = format!(
                "ZS-{}Q{}-{}-{}",
                dt.year(),
                q,
                domain.as_str(),
                REGIONS[e.region]
            );
            let team = self
                .ctx
                .roster
                .pick_two(&mut self.rng, e.region, domain, &e.uscc);
            (Some(plan), team)
        } else {
            (None, Vec::new())
        };
        let key = self.key(e, d);
        self.out.insp.push((
            key,
            Inspection {
                event_id: String::new(),
                uscc: e.uscc,
                occurred_on: date(d),
                domain,
                inspection_type: itype,
                result,
                plan_id,
                inspector_ids,
                sampling,
            },
        ));
    }

    /// Consequences of an inspection result within the entity's active span.
    fn consequences(
        &mut self,
        e: &Entity,
        d: i32,
        end: i32,
        domain: Domain,
        result: ResultCode,
        past: &mut Vec<PastPenalty>,
    ) {
        use ResultCode as R;
        let listing = |reason| CreditBody::AbnormalListed(AbnormalListing { reason });
        let (reason, p_list, p_remove) = match result {
            R::Unreachable => (Some(AbnormalReason::Unreachable), 0.8, 0.3),
            R::NotDisclosed => (Some(AbnormalReason::DisclosureNotMade), 0.3, 0.6),
            R::FalseDisclosure => (Some(AbnormalReason::FalseDisclosure), 0.7, 0.3),
            _ => (None, 0.0, 0.0),
        };
        if let Some(reason) = reason {
            if chance(&mut self.rng, p_list) {
                let l = d + self.rng.random_range(10..60);
                if l <= end {
                    self.cred(e, l, Domain::General, listing(reason), None, None);
                    if chance(&mut self.rng, p_remove) {
                        let rm = l + self.rng.random_range(30..300);
                        if rm <= end {
                            let body = CreditBody::AbnormalRemoved(Note {
                                reason: Some("恢复正常记载状态".to_string()),
                            });
                            self.cred(e, rm, Domain::General, body, None, None);
                        }
                    }
                }
            }
        }
        let (cat, p) = match result {
            R::FalseDisclosure => (Some(ViolationCategory::Disclosure), 0.3),
            R::Obstructed => (Some(ViolationCategory::Obstruction), 0.6),
            R::ProblemPending | R::OtherViolation => (None, 0.1),
            _ => return,
        };
        if chance(&mut self.rng, p) {
            let pd = d + self.rng.random_range(20..120);
            if pd <= end {
                self.penalty(e, pd, end, cat, Some(domain), false, past, false);
            }
        }
    }

    fn inspections(
        &mut self,
        e: &Entity,
        start: i32,
        end: i32,
        years: f64,
        past: &mut Vec<PastPenalty>,
    ) {
        let t = e.tier;
        let mut plan: Vec<(Domain, InspectionType, f64)> = Vec::with_capacity(12);
        plan.push((
            Domain::General,
            InspectionType::DoubleRandom,
            [0.04, 0.06, 0.12, 0.2][t],
        ));
        let catering_or_retail = matches!(e.sector.code.as_bytes()[0], b'H' | b'F');
        for &f in &e.fields {
            plan.push((f, InspectionType::DoubleRandom, [0.08, 0.12, 0.2, 0.3][t]));
            let routine = match f {
                Domain::Food if catering_or_retail => 1.5,
                Domain::Food => 0.5,
                Domain::SpecialEquipment => 0.35,
                Domain::IndustrialProduct => 0.25,
                Domain::Construction => 0.3,
                Domain::General => 0.0,
            };
            plan.push((
                f,
                InspectionType::Routine,
                routine * [0.8, 1.0, 1.3, 1.6][t],
            ));
        }
        for (domain, itype, rate) in plan {
            let n = poisson(&mut self.rng, rate * years);
            for _ in 0..n {
                let d = self.day_in(start, end);
                let r = inspection_result(&mut self.rng, t, domain == Domain::General);
                self.inspection(e, d, domain, itype, r, None);
                self.consequences(e, d, end, domain, r, past);
            }
        }
        // Targeted checks follow signals: mostly the riskier entities.
        let n = poisson(&mut self.rng, [0.005, 0.02, 0.15, 0.4][t] * years);
        for _ in 0..n {
            let d = self.day_in(start, end);
            let k = self.rng.random_range(0..=e.fields.len());
            let domain = if k == e.fields.len() {
                Domain::General
            } else {
                e.fields[k]
            };
            let r = inspection_result(&mut self.rng, (t + 1).min(3), domain == Domain::General);
            self.inspection(e, d, domain, InspectionType::Targeted, r, None);
            self.consequences(e, d, end, domain, r, past);
        }
        // Product sampling.
        let s = e.sector;
        if s.sampling > 0.0 && e.in_field(s.sampling_domain) {
            let ib = if e.kind == EntityKind::IndividualBusiness {
                0.5
            } else {
                1.0
            };
            let n = poisson(
                &mut self.rng,
                s.sampling * ib * [0.8, 1.0, 1.2, 1.5][t] * years,
            );
            let fail_p = if s.sampling_domain == Domain::Food {
                [0.035, 0.07, 0.14, 0.22][t]
            } else {
                [0.02, 0.04, 0.1, 0.18][t]
            };
            for _ in 0..n {
                let d = self.day_in(start, end);
                let product = (*pick(&mut self.rng, s.products)).to_string();
                let passed = !chance(&mut self.rng, fail_p);
                let hazard = (!passed).then(|| {
                    *pick_weighted(
                        &mut self.rng,
                        &[
                            (Hazard::Minor, 0.6),
                            (Hazard::Major, 0.3),
                            (Hazard::Critical, 0.1),
                        ],
                    )
                });
                let result = if passed {
                    ResultCode::NoProblem
                } else {
                    *pick_weighted(
                        &mut self.rng,
                        &[
                            (ResultCode::ProblemPending, 0.5),
                            (ResultCode::OtherViolation, 0.2),
                            (ResultCode::Corrected, 0.3),
                        ],
                    )
                };
                let domain = s.sampling_domain;
                self.inspection(
                    e,
                    d,
                    domain,
                    InspectionType::ProductSampling,
                    result,
                    Some(Sampling {
                        product,
                        passed,
                        hazard,
                    }),
                );
                if let Some(h) = hazard {
                    if chance(&mut self.rng, 0.3) {
                        let pd = d + self.rng.random_range(30..120);
                        if pd <= end {
                            let cat = if domain == Domain::Food {
                                ViolationCategory::FoodSafety
                            } else {
                                ViolationCategory::QualitySafety
                            };
                            let heavy = h == Hazard::Critical && chance(&mut self.rng, 0.5);
                            self.penalty(e, pd, end, Some(cat), Some(domain), heavy, past, false);
                        }
                    }
                }
            }
        }
    }

    fn complaint_domain(&self, e: &Entity, cat: &str) -> Domain {
        match cat {
            "food_safety" => Domain::Food,
            "quality" => match e.primary() {
                Domain::General | Domain::SpecialEquipment => Domain::General,
                d => d,
            },
            _ => Domain::General,
        }
    }

    fn complaints(
        &mut self,
        e: &Entity,
        start: i32,
        end: i32,
        years: f64,
        past: &mut Vec<PastPenalty>,
    ) {
        let s = e.sector;
        let kind_f = if e.kind == EntityKind::IndividualBusiness {
            0.6
        } else {
            1.0
        };
        let zone_f = if e.zone == Some(1) && s.tourism {
            1.6
        } else {
            1.0
        };
        let rate = 4.0 * s.complaints * kind_f * zone_f * [0.5, 1.0, 2.0, 3.5][e.tier];
        let n = poisson(&mut self.rng, rate * years);
        // Holiday peaks: Spring Festival, summer, Golden Week.
        const SEASON: [f64; 12] = [1.0, 1.3, 0.8, 0.9, 1.2, 1.0, 1.4, 1.5, 1.0, 1.4, 0.8, 0.9];
        for _ in 0..n {
            let mut d = self.day_in(start, end);
            if s.tourism {
                for _ in 0..8 {
                    let m = date(d).month0() as usize;
                    if self.rng.random::<f64>() * 1.5 < SEASON[m] {
                        break;
                    }
                    d = self.day_in(start, end);
                }
            }
            let channel = *pick_weighted(
                &mut self.rng,
                &[
                    (Channel::Hotline12315, 0.45),
                    (Channel::Hotline, 0.25),
                    (Channel::Online, 0.17),
                    (Channel::Letter, 0.03),
                    (Channel::Visit, 0.06),
                    (Channel::Referral, 0.04),
                ],
            );
            let cat = *pick_weighted(&mut self.rng, s.cats);
            let domain = self.complaint_domain(e, cat);
            let recent = d > self.ctx.as_of - 30;
            let u: f64 = self.rng.random();
            let substantiated = if (recent && u < 0.7) || (!recent && u < 0.06) {
                None
            } else {
                Some(chance(&mut self.rng, [0.3, 0.45, 0.6, 0.7][e.tier]))
            };
            let resolved = match substantiated {
                None => chance(&mut self.rng, 0.2),
                Some(_) => chance(&mut self.rng, [0.93, 0.9, 0.8, 0.7][e.tier]),
            };
            let amount_cny = chance(&mut self.rng, 0.45).then(|| {
                let median = match cat {
                    "food_safety" => 200.0,
                    "price" => 150.0,
                    "service" => 300.0,
                    "quality" => 800.0,
                    "contract" => 5000.0,
                    _ => 500.0,
                };
                let fen = amount_fen(&mut self.rng, median, 0.4, 10.0, 2_000_000.0);
                let fen = if chance(&mut self.rng, 0.7) {
                    (fen / 100.0).round() * 100.0
                } else {
                    fen.round()
                };
                Money::from_fen(fen as i64)
            });
            let key = self.key(e, d);
            self.out.comp.push((
                key,
                Complaint {
                    event_id: String::new(),
                    uscc: e.uscc,
                    occurred_on: date(d),
                    domain,
                    channel,
                    category: cat.to_string(),
                    substantiated,
                    amount_cny,
                    resolved,
                },
            ));
            // A check of the complaint on site.
            let p_check = if substantiated == Some(true) {
                0.35
            } else {
                0.1
            };
            if chance(&mut self.rng, p_check) {
                let cd = d + self.rng.random_range(3..25);
                if cd <= end {
                    let r = if substantiated == Some(true) {
                        *pick_weighted(
                            &mut self.rng,
                            &[
                                (ResultCode::Corrected, 0.4),
                                (ResultCode::ProblemPending, 0.25),
                                (ResultCode::OtherViolation, 0.1),
                                (ResultCode::NoProblem, 0.25),
                            ],
                        )
                    } else {
                        inspection_result(&mut self.rng, e.tier, false)
                    };
                    self.inspection(e, cd, domain, InspectionType::Complaint, r, None);
                    self.consequences(e, cd, end, domain, r, past);
                }
            }
        }
    }

    fn category_for(&mut self, e: &Entity, domain: Domain) -> ViolationCategory {
        use ViolationCategory as V;
        let r = &mut self.rng;
        match domain {
            Domain::Food => *pick_weighted(
                r,
                &[
                    (V::FoodSafety, 0.85),
                    (V::FalseAdvertising, 0.08),
                    (V::Other, 0.07),
                ],
            ),
            Domain::SpecialEquipment => V::SpecialEquipment,
            Domain::IndustrialProduct => V::QualitySafety,
            Domain::Construction => *pick_weighted(r, &[(V::QualitySafety, 0.7), (V::Other, 0.3)]),
            Domain::General => {
                let consumer = e.sector.complaints >= 0.1;
                if consumer {
                    let cosmetics = matches!(e.sector.code, "F5234" | "F5212");
                    *pick_weighted(
                        r,
                        &[
                            (V::ConsumerHarm, 0.3),
                            (V::Other, 0.3),
                            (V::FalseAdvertising, 0.2),
                            (V::UnfairCompetition, 0.1),
                            (V::DrugsCosmetics, if cosmetics { 0.2 } else { 0.0 }),
                        ],
                    )
                } else {
                    *pick_weighted(
                        r,
                        &[
                            (V::Other, 0.4),
                            (V::UnfairCompetition, 0.2),
                            (V::FalseAdvertising, 0.2),
                            (V::Disclosure, 0.2),
                        ],
                    )
                }
            }
        }
    }

    /// An administrative penalty and its follow-ups: withdrawal on review,
    /// listing decisions, credit repair.
    #[allow(clippy::too_many_arguments)]
    fn penalty(
        &mut self,
        e: &Entity,
        d: i32,
        end: i32,
        cat: Option<ViolationCategory>,
        domain_hint: Option<Domain>,
        force_heavy: bool,
        past: &mut Vec<PastPenalty>,
        may_repeat: bool,
    ) {
        use ViolationCategory as V;
        let repeat_of = if may_repeat && !past.is_empty() && chance(&mut self.rng, 0.35) {
            Some(*pick(&mut self.rng, past))
        } else {
            None
        };
        let (cat, code, domain) = match repeat_of {
            Some(p) => (p.cat, p.code, p.domain),
            None => {
                let domain = domain_hint.unwrap_or_else(|| {
                    let k = self.rng.random_range(0..=e.fields.len());
                    e.fields.get(k).copied().unwrap_or(Domain::General)
                });
                let cat = match cat {
                    Some(c) => c,
                    None => self.category_for(e, domain),
                };
                let domain = match cat {
                    V::FoodSafety => Domain::Food,
                    V::SpecialEquipment => Domain::SpecialEquipment,
                    V::QualitySafety if domain == Domain::General => {
                        if e.in_field(Domain::IndustrialProduct) {
                            Domain::IndustrialProduct
                        } else {
                            Domain::General
                        }
                    }
                    V::QualitySafety => domain,
                    _ => Domain::General,
                };
                (cat, *pick(&mut self.rng, provisions(cat)), domain)
            }
        };
        let serious = serious_category(cat);
        let p_heavy = [0.03, 0.06, 0.12, 0.25][e.tier] * if serious { 1.0 } else { 0.4 };
        let severity = if force_heavy {
            Severity::Heavy
        } else {
            let u: f64 = self.rng.random();
            if u < p_heavy {
                Severity::Heavy
            } else if u < p_heavy + 0.2 {
                Severity::Warning
            } else {
                Severity::Fine
            }
        };
        let ib_f = if e.kind == EntityKind::IndividualBusiness {
            0.3
        } else {
            1.0
        };
        let fine_fen = match severity {
            Severity::Warning => 0.0,
            Severity::Fine => {
                let median = match cat {
                    V::FoodSafety | V::QualitySafety => 15_000.0,
                    V::SpecialEquipment => 30_000.0,
                    V::FalseAdvertising | V::UnfairCompetition => 20_000.0,
                    _ => 5_000.0,
                };
                amount_fen(&mut self.rng, median * ib_f, 0.45, 200.0, 500_000.0)
            }
            Severity::Heavy => amount_fen(
                &mut self.rng,
                200_000.0 * ib_f.max(0.5),
                0.4,
                50_000.0,
                20_000_000.0,
            ),
        };
        let fine_fen = ((fine_fen / 10_000.0).round() * 10_000.0) as i64; // whole 100 yuan
        let heavy = severity == Severity::Heavy;
        // Licences belong to the specialized fields: only a penalty in one can
        // revoke a licence or find it obtained by fraud.
        let licensed = domain != Domain::General && e.fields.contains(&domain);
        let revoked_license = heavy && licensed && chance(&mut self.rng, 0.12);
        let licence_fraud =
            severity != Severity::Warning && licensed && chance(&mut self.rng, 0.01);
        let criminal_referral = heavy && chance(&mut self.rng, 0.06);
        let repeat = past
            .iter()
            .any(|p| p.code == code && d - p.day <= 3 * 365 && d > p.day);
        let tag = self.cred(
            e,
            d,
            domain,
            CreditBody::Penalty(Penalty {
                document_no: String::new(),
                violation_category: cat,
                violation_code: code.to_string(),
                fine_cny: Money::from_fen(fine_fen),
                severity,
                revoked_license,
                licence_fraud,
                criminal_referral,
            }),
            Some(Series::Penalty),
            None,
        );
        past.push(PastPenalty {
            day: d,
            cat,
            code,
            domain,
        });
        // Overturned on review or appeal.
        if chance(&mut self.rng, 0.025) {
            let w = d + self.rng.random_range(40..200);
            if w <= end {
                let body = CreditBody::PenaltyWithdrawn(PenaltyRef {
                    document_no: String::new(),
                });
                self.cred(e, w, domain, body, None, Some(tag));
                return;
            }
        }
        let authority = Some(e.authority().to_string());
        if heavy && serious && chance(&mut self.rng, 0.7) {
            let l = d + self.rng.random_range(15..60);
            if l <= end {
                let body = CreditBody::SeriousListed(ListDecision {
                    decision_no: None,
                    authority: authority.clone(),
                    reason: Some("较重行政处罚".to_string()),
                });
                self.cred(e, l, domain, body, Some(Series::Serious), Some(tag));
                if chance(&mut self.rng, 0.5) {
                    let r = l + 365 + self.rng.random_range(0..120);
                    if r <= end {
                        let body = CreditBody::CreditRepaired(CreditRepair { document_no: None });
                        self.cred(e, r, domain, body, None, Some(tag));
                        let rm = r + self.rng.random_range(3..20);
                        if rm <= end {
                            let body = CreditBody::SeriousRemoved(ListDecision {
                                decision_no: None,
                                authority: authority.clone(),
                                reason: Some("信用修复".to_string()),
                            });
                            self.cred(e, rm, domain, body, None, None);
                        }
                    }
                }
            }
        }
        let quality_reason = if revoked_license {
            Some("吊销许可证")
        } else if licence_fraud {
            Some("以欺骗等不正当手段取得许可")
        } else if criminal_referral {
            Some("涉嫌犯罪移送司法机关")
        } else if repeat
            && matches!(
                cat,
                V::FoodSafety | V::QualitySafety | V::SpecialEquipment | V::DrugsCosmetics
            )
        {
            Some("三年内同一违法行为两次受到行政处罚")
        } else {
            None
        };
        if let Some(reason) = quality_reason.filter(|_| domain != Domain::General) {
            if chance(&mut self.rng, 0.6) {
                let q = d + self.rng.random_range(20..90);
                if q <= end {
                    let body = CreditBody::QualityBlacklisted(ListDecision {
                        decision_no: None,
                        authority,
                        reason: Some(reason.to_string()),
                    });
                    self.cred(e, q, domain, body, Some(Series::Quality), Some(tag));
                }
            }
        } else if severity == Severity::Fine && chance(&mut self.rng, 0.12) {
            let r = d + self.rng.random_range(100..400);
            if r <= end {
                let body = CreditBody::CreditRepaired(CreditRepair { document_no: None });
                self.cred(e, r, domain, body, None, Some(tag));
            }
        }
    }

    fn accidents(
        &mut self,
        e: &Entity,
        start: i32,
        end: i32,
        years: f64,
        past: &mut Vec<PastPenalty>,
    ) {
        if !e.in_field(Domain::SpecialEquipment) {
            return;
        }
        let n = poisson(&mut self.rng, [0.0005, 0.002, 0.008, 0.02][e.tier] * years);
        for _ in 0..n {
            let d = self.day_in(start, end);
            let severity = *pick_weighted(
                &mut self.rng,
                &[
                    (AccidentSeverity::General, 0.88),
                    (AccidentSeverity::Larger, 0.1),
                    (AccidentSeverity::Major, 0.02),
                ],
            );
            let dom = Domain::SpecialEquipment;
            self.cred(
                e,
                d,
                dom,
                CreditBody::Accident(Accident { severity }),
                None,
                None,
            );
            if chance(&mut self.rng, 0.6) {
                let pd = d + self.rng.random_range(30..120);
                if pd <= end {
                    let cat = Some(ViolationCategory::SpecialEquipment);
                    self.penalty(e, pd, end, cat, Some(dom), true, past, false);
                }
            }
            if chance(&mut self.rng, 0.4) {
                let q = d + self.rng.random_range(20..90);
                if q <= end {
                    let body = CreditBody::QualityBlacklisted(ListDecision {
                        decision_no: None,
                        authority: Some(e.authority().to_string()),
                        reason: Some("发生特种设备事故".to_string()),
                    });
                    self.cred(e, q, dom, body, Some(Series::Quality), None);
                }
            }
        }
    }

    /// Court listings, certifications and awards.
    fn rare_records(&mut self, e: &Entity, start: i32, end: i32, years: f64) {
        let span = years / 3.0;
        if chance(&mut self.rng, [0.001, 0.004, 0.03, 0.12][e.tier] * span) {
            let d = self.day_in(start, end);
            let body = CreditBody::CourtDishonest(Note {
                reason: Some("列为失信被执行人".to_string()),
            });
            self.cred(e, d, Domain::General, body, None, None);
        }
        if e.kind != EntityKind::Enterprise || e.tier >= 2 {
            return;
        }
        let good = if e.tier == 0 { 1.0 } else { 0.6 };
        let certs: &[(&str, f64)] = match e.sector.cert {
            CertProfile::None => &[],
            CertProfile::SeafoodProcessing => &[
                ("HACCP", 0.2),
                ("ISO 22000", 0.08),
                ("ISO 9001", 0.1),
                ("品字标浙江制造", 0.02),
            ],
            CertProfile::ColdChain => &[("HACCP", 0.08), ("ISO 22000", 0.05), ("ISO 9001", 0.1)],
            CertProfile::Manufacturing => &[
                ("ISO 9001", 0.25),
                ("ISO 14001", 0.08),
                ("ISO 45001", 0.05),
                ("品字标浙江制造", 0.04),
            ],
            CertProfile::Construction => &[("ISO 9001", 0.25), ("ISO 14001", 0.1)],
            CertProfile::Catering => &[("ISO 9001", 0.03), ("HACCP", 0.02)],
        };
        for &(scheme, p) in certs {
            if chance(&mut self.rng, p * good * span) {
                let d = self.day_in(start, end);
                let domain = match scheme {
                    "HACCP" | "ISO 22000" => Domain::Food,
                    "品字标浙江制造" if e.in_field(Domain::Food) => Domain::Food,
                    "品字标浙江制造" if e.in_field(Domain::IndustrialProduct) => {
                        Domain::IndustrialProduct
                    }
                    _ => Domain::General,
                };
                let body = CreditBody::Certification(Certification {
                    scheme: scheme.to_string(),
                });
                self.cred(e, d, domain, body, None, None);
            }
        }
        if e.tier != 0 {
            return;
        }
        let mut awards: Vec<(&str, f64, Domain)> = Vec::new();
        if matches!(e.sector.code, "E4710" | "E4823") {
            awards.push(("钱江杯优质工程", 0.06, Domain::Construction));
            awards.push(("鲁班奖", 0.015, Domain::Construction));
        }
        if e.capital_fen >= 1_000_000_000 {
            awards.push(("舟山市政府质量奖", 0.02, Domain::General));
        }
        if e.capital_fen >= 10_000_000_000 {
            awards.push(("浙江省政府质量奖", 0.004, Domain::General));
        }
        for (name, p, domain) in awards {
            if chance(&mut self.rng, p * span) {
                let d = self.day_in(start, end);
                let body = CreditBody::Award(Award {
                    name: name.to_string(),
                });
                self.cred(e, d, domain, body, None, None);
            }
        }
    }
}

/// Generates chunk `chunk`: entities `chunk * CHUNK_SIZE ..` and their events,
/// sorted, with chunk-local document numbers.
pub(crate) fn gen_chunk(ctx: &Ctx<'_>, chunk: u64) -> ChunkEvents {
    let lo = chunk * CHUNK_SIZE;
    let hi = (lo + CHUNK_SIZE).min(ctx.entities);
    let n = hi.saturating_sub(lo) as usize;
    let mut g = Gen {
        ctx,
        rng: ChaCha8Rng::seed_from_u64(hash3(ctx.seed, 0xC4C4, chunk)),
        chunk,
        out: ChunkEvents::default(),
        seq: 0,
        next_tag: 0,
        next_person: 0,
        people: Vec::with_capacity(n),
    };
    // Legal representatives: about one in ten holds two to six entities.
    while g.people.len() < n {
        let person = g.new_person();
        let k = if chance(&mut g.rng, 0.1) {
            *pick_weighted(
                &mut g.rng,
                &[(2, 0.45), (3, 0.25), (4, 0.15), (5, 0.1), (6, 0.05)],
            )
        } else {
            1
        };
        for _ in 0..k {
            g.people.push(person);
        }
    }
    g.people.truncate(n);
    for i in (1..n).rev() {
        let j = g.rng.random_range(0..=i);
        g.people.swap(i, j);
    }
    for (local, idx) in (lo..hi).enumerate() {
        let (mut e, name, licences) = g.entity(idx, local as u32);
        let rep = rep_key(ctx.seed, chunk, g.people[local]);
        g.events(&mut e, name, licences, rep);
    }
    g.out.finalize();
    g.out
}
