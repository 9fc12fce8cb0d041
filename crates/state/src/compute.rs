//! Features of every entity at an as-of date, as a columnar table.
//!
//! An entity's row is a pure function of its history and the as-of date:
//! events are sorted by (date, family, event id) before they are folded, so
//! the arrival order never matters, and only events on or before the as-of
//! date count. The relation features need every entity's status first, so
//! they are filled in a second pass over legal representatives.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, Months, NaiveDate};
use tidewatch_model::codes::{ChangeKind, Hazard, ResultCode, Severity};
use tidewatch_model::event::{CreditBody, Registration};
use tidewatch_model::{Domain, EntityKind, Event};

use crate::features::{Feature as F, NULL, N_FEATURES};
use crate::store::{Entity, EntityId, EntityStore};

/// Feature values of all entities: `columns[feature][row]`, rows in
/// [`EntityId`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureTable {
    pub as_of: NaiveDate,
    pub columns: Vec<Vec<i64>>,
}

impl FeatureTable {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    pub fn get(&self, row: usize, f: F) -> i64 {
        self.columns[f.index()][row]
    }

    pub fn column(&self, f: F) -> &[i64] {
        &self.columns[f.index()]
    }

    /// One entity's row as a vector, in catalogue order.
    pub fn row(&self, row: usize) -> Vec<i64> {
        self.columns.iter().map(|c| c[row]).collect()
    }

    /// The rows of `ids`, in that order, as a table of their own.
    pub fn select(&self, ids: &[EntityId]) -> FeatureTable {
        FeatureTable {
            as_of: self.as_of,
            columns: self
                .columns
                .iter()
                .map(|c| ids.iter().map(|&i| c[i as usize]).collect())
                .collect(),
        }
    }

    /// Computes every entity's features at `as_of`.
    pub fn compute(store: &EntityStore, as_of: NaiveDate) -> FeatureTable {
        let n = store.len();
        let mut columns = vec![vec![0i64; n]; N_FEATURES];
        let mut reps: Vec<Option<String>> = Vec::with_capacity(n);
        let mut trouble = Vec::with_capacity(n);
        for (id, e) in store.entities().iter().enumerate() {
            let r = entity_row(e, as_of);
            for (c, v) in columns.iter_mut().zip(r.values.iter()) {
                c[id] = *v;
            }
            reps.push(r.legal_rep);
            trouble.push(r.in_trouble);
        }
        // Relations: group by the legal representative in force at as_of.
        let mut groups: HashMap<&str, (i64, i64)> = HashMap::new();
        for (rep, t) in reps.iter().zip(&trouble) {
            if let Some(rep) = rep {
                let g = groups.entry(rep.as_str()).or_default();
                g.0 += 1;
                g.1 += i64::from(*t);
            }
        }
        for (id, (rep, t)) in reps.iter().zip(&trouble).enumerate() {
            let (all, bad) = rep
                .as_deref()
                .and_then(|r| groups.get(r))
                .copied()
                .unwrap_or((1, i64::from(*t)));
            columns[F::RelatedEntities.index()][id] = all - 1;
            columns[F::RelatedInTrouble.index()][id] = bad - i64::from(*t);
        }
        FeatureTable { as_of, columns }
    }
}

/// Descriptive attributes of an entity at an as-of date, for outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub id: EntityId,
    pub registration: Registration,
}

/// One entity's features, and what the relation pass needs.
#[derive(Debug, Clone)]
pub struct Row {
    pub values: [i64; N_FEATURES],
    pub legal_rep: Option<String>,
    pub in_trouble: bool,
}

/// The domain-specific feature block of a specialized field:
/// (inspections, problems, failed samplings, penalties, complaints).
fn domain_block(d: Domain) -> Option<[F; 5]> {
    match d {
        Domain::General => None,
        Domain::Food => Some([
            F::FoodInspections24m,
            F::FoodProblems24m,
            F::FoodFailedSamplings24m,
            F::FoodPenalties36m,
            F::FoodComplaints12m,
        ]),
        Domain::SpecialEquipment => Some([
            F::SeInspections24m,
            F::SeProblems24m,
            F::SeFailedSamplings24m,
            F::SePenalties36m,
            F::SeComplaints12m,
        ]),
        Domain::IndustrialProduct => Some([
            F::IpInspections24m,
            F::IpProblems24m,
            F::IpFailedSamplings24m,
            F::IpPenalties36m,
            F::IpComplaints12m,
        ]),
        Domain::Construction => Some([
            F::CnInspections24m,
            F::CnProblems24m,
            F::CnFailedSamplings24m,
            F::CnPenalties36m,
            F::CnComplaints12m,
        ]),
    }
}

/// Start (exclusive) of a window of `months` ending at `as_of`.
fn window_start(as_of: NaiveDate, months: u32) -> NaiveDate {
    as_of
        .checked_sub_months(Months::new(months))
        .unwrap_or(NaiveDate::MIN)
}

/// The latest business year whose annual report is overdue at `as_of`:
/// the report on year Y is due by 30 June of Y + 1.
pub fn latest_due_report_year(as_of: NaiveDate) -> i32 {
    let deadline = NaiveDate::from_ymd_opt(as_of.year(), 6, 30).unwrap_or(NaiveDate::MIN);
    if as_of > deadline {
        as_of.year() - 1
    } else {
        as_of.year() - 2
    }
}

fn add(v: &mut [i64; N_FEATURES], f: F, n: i64) {
    v[f.index()] += n;
}

/// The value [`entity_row`] gives a flag feature that only says whether an
/// event of one kind happened by `as_of` (deregistered, revoked, court
/// dishonest), found in one pass over the history without the rest of the
/// row; `None` for every other feature. The list rules' guards test these
/// flags at each entry they open, where a whole row cost more than the
/// rest of the evaluation.
pub fn flag_feature(entity: &Entity, as_of: NaiveDate, f: F) -> Option<i64> {
    let kind: fn(&CreditBody) -> bool = match f {
        F::Deregistered => |b| matches!(b, CreditBody::Deregistered(_)),
        F::Revoked => |b| matches!(b, CreditBody::Revoked(_)),
        F::CourtDishonest => |b| matches!(b, CreditBody::CourtDishonest(_)),
        _ => return None,
    };
    let hit = entity
        .history()
        .iter()
        .any(|e| matches!(e, Event::Credit(c) if kind(&c.body)) && e.occurred_on() <= as_of);
    Some(i64::from(hit))
}

/// Computes one entity's features at `as_of` (relation features are 0 here;
/// [`FeatureTable::compute`] fills them).
pub fn entity_row(entity: &Entity, as_of: NaiveDate) -> Row {
    let mut v = [0i64; N_FEATURES];
    let w12 = window_start(as_of, 12);
    let w24 = window_start(as_of, 24);
    let w36 = window_start(as_of, 36);

    let events = entity.history_until(as_of);
    let withdrawn: HashSet<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Credit(c) => match &c.body {
                CreditBody::PenaltyWithdrawn(p) => Some(p.document_no.as_str()),
                _ => None,
            },
            _ => None,
        })
        .collect();

    let mut reg: Option<&Registration> = None;
    let mut legal_rep: Option<&str> = None;
    let mut capital: i64 = 0;
    let mut reports: BTreeMap<i32, bool> = BTreeMap::new();
    let mut violation_counts: HashMap<&str, u32> = HashMap::new();
    let mut abnormal_since: Option<NaiveDate> = None;
    let mut schemes: HashSet<&str> = HashSet::new();
    let mut last_inspection: Option<NaiveDate> = None;

    let mut flags: Vec<F> = Vec::new();

    for e in &events {
        let d = e.occurred_on();
        let block = domain_block(e.domain());
        match e {
            Event::Inspection(i) => {
                last_inspection = Some(last_inspection.map_or(d, |l| l.max(d)));
                if d <= w24 {
                    continue;
                }
                add(&mut v, F::Inspections24m, 1);
                let problem = i.result.is_problem();
                add(&mut v, F::Problems24m, i64::from(problem));
                add(
                    &mut v,
                    F::Unreachable24m,
                    i64::from(i.result == ResultCode::Unreachable),
                );
                add(
                    &mut v,
                    F::Obstructed24m,
                    i64::from(i.result == ResultCode::Obstructed),
                );
                let failed = i.sampling.as_ref().filter(|s| !s.passed);
                if let Some(s) = failed {
                    match s.hazard {
                        Some(Hazard::Critical) => add(&mut v, F::FailedSamplingsCritical24m, 1),
                        Some(Hazard::Major) => add(&mut v, F::FailedSamplingsMajor24m, 1),
                        _ => add(&mut v, F::FailedSamplingsMinor24m, 1),
                    }
                }
                if let Some(b) = block {
                    add(&mut v, b[0], 1);
                    add(&mut v, b[1], i64::from(problem));
                    add(&mut v, b[2], i64::from(failed.is_some()));
                }
            }
            Event::Complaint(c) => {
                if d <= w12 {
                    continue;
                }
                add(&mut v, F::Complaints12m, 1);
                if c.substantiated == Some(true) {
                    add(&mut v, F::SubstantiatedComplaints12m, 1);
                    let fen = c.amount_cny.and_then(|m| m.to_fen()).unwrap_or(0);
                    add(&mut v, F::ComplaintAmount12m, fen);
                }
                add(&mut v, F::UnresolvedComplaints12m, i64::from(!c.resolved));
                if let Some(b) = block {
                    add(&mut v, b[4], 1);
                }
            }
            Event::Credit(c) => match &c.body {
                CreditBody::Registered(r) => {
                    reg = Some(r);
                    legal_rep = Some(&r.legal_rep_key);
                    capital = r.registered_capital_cny.to_fen().unwrap_or(i64::MAX);
                }
                CreditBody::Changed(ch) => {
                    let recent = d > w12;
                    if recent
                        && matches!(
                            ch.what,
                            ChangeKind::LegalRep | ChangeKind::Address | ChangeKind::Capital
                        )
                    {
                        add(&mut v, F::KeyChanges12m, 1);
                    }
                    if let (ChangeKind::LegalRep, Some(k)) = (ch.what, &ch.legal_rep_key) {
                        legal_rep = Some(k);
                        add(&mut v, F::LegalRepChanges12m, i64::from(recent));
                    }
                    if let (ChangeKind::Capital, Some(m)) = (ch.what, ch.registered_capital_cny) {
                        let new = m.to_fen().unwrap_or(i64::MAX);
                        if recent && new < capital {
                            flags.push(F::CapitalReduced12m);
                        }
                        capital = new;
                    }
                }
                CreditBody::Deregistered(_) => flags.push(F::Deregistered),
                CreditBody::Revoked(_) => flags.push(F::Revoked),
                CreditBody::AnnualReportFiled(a) => {
                    let on_time = reports.entry(a.year).or_insert(false);
                    *on_time |= a.on_time;
                }
                CreditBody::Penalty(p) => {
                    if d <= w36 || withdrawn.contains(p.document_no.as_str()) {
                        continue;
                    }
                    add(&mut v, F::Penalties36m, 1);
                    add(
                        &mut v,
                        F::HeavyPenalties36m,
                        i64::from(p.severity == Severity::Heavy),
                    );
                    let fen = p.fine_cny.to_fen().unwrap_or(0);
                    v[F::MaxFine36m.index()] = v[F::MaxFine36m.index()].max(fen);
                    add(&mut v, F::TotalFines36m, fen);
                    *violation_counts
                        .entry(p.violation_code.as_str())
                        .or_default() += 1;
                    if p.revoked_license {
                        flags.push(F::LicenceRevoked36m);
                    }
                    if p.licence_fraud {
                        flags.push(F::LicenceFraud36m);
                    }
                    if p.criminal_referral {
                        flags.push(F::CriminalReferral36m);
                    }
                    if let Some(b) = block {
                        add(&mut v, b[3], 1);
                    }
                }
                CreditBody::PenaltyWithdrawn(_) => {}
                CreditBody::Accident(_) => {
                    if d > w36 {
                        add(&mut v, F::Accidents36m, 1);
                    }
                }
                CreditBody::AbnormalListed(_) => {
                    abnormal_since.get_or_insert(d);
                }
                CreditBody::AbnormalRemoved(_) => abnormal_since = None,
                CreditBody::SeriousListed(_) => v[F::SeriousListed.index()] = 1,
                CreditBody::SeriousRemoved(_) => v[F::SeriousListed.index()] = 0,
                CreditBody::QualityBlacklisted(_) => v[F::QualityBlacklisted.index()] = 1,
                CreditBody::QualityBlacklistRemoved(_) => v[F::QualityBlacklisted.index()] = 0,
                CreditBody::CourtDishonest(_) => flags.push(F::CourtDishonest),
                CreditBody::Certification(c) => {
                    schemes.insert(c.scheme.as_str());
                }
                CreditBody::Award(_) => {
                    if d > w36 {
                        add(&mut v, F::Awards36m, 1);
                    }
                }
                CreditBody::CreditRepaired(_) => {
                    if d > w36 {
                        add(&mut v, F::CreditRepairs36m, 1);
                    }
                }
            },
        }
    }
    for f in flags {
        v[f.index()] = 1;
    }

    v[F::RegisteredCapital.index()] = capital;
    v[F::RepeatViolations36m.index()] =
        violation_counts.values().filter(|&&n| n >= 2).count() as i64;
    v[F::Certifications.index()] = schemes.len() as i64;
    v[F::DaysSinceInspection.index()] = last_inspection.map_or(NULL, |l| (as_of - l).num_days());
    if let Some(since) = abnormal_since {
        v[F::AbnormalListed.index()] = 1;
        v[F::AbnormalDays.index()] = (as_of - since).num_days();
    }
    v[F::EntityKindCode.index()] = match entity.uscc.entity_kind() {
        Some(EntityKind::Enterprise) => 1,
        Some(EntityKind::IndividualBusiness) => 2,
        Some(EntityKind::FarmersCooperative) => 3,
        None => NULL,
    };
    if let Some(r) = reg {
        v[F::AgeDays.index()] = (as_of - r.established_on).num_days();
        v[F::LicenceCount.index()] = r.licences.len() as i64;
        // Annual reports: years the entity existed for, whose deadline passed.
        let due = latest_due_report_year(as_of);
        let first = r.established_on.year();
        v[F::AnnualReportOnTime.index()] = if first <= due {
            i64::from(reports.get(&due).copied().unwrap_or(false))
        } else {
            NULL
        };
        v[F::AnnualReportsMissing3y.index()] = (due - 2..=due)
            .filter(|y| *y >= first && !reports.contains_key(y))
            .count() as i64;
    } else {
        v[F::AnnualReportOnTime.index()] = NULL;
    }
    let in_trouble = v[F::SeriousListed.index()] == 1
        || v[F::QualityBlacklisted.index()] == 1
        || v[F::AbnormalListed.index()] == 1
        || v[F::Revoked.index()] == 1
        || v[F::HeavyPenalties36m.index()] > 0;
    Row {
        values: v,
        legal_rep: legal_rep.map(str::to_owned),
        in_trouble,
    }
}
