//! The lifecycle of one entity's listings, replayed from its history.
//!
//! Entries are a function of (history, as-of date): the events are walked
//! in event time, and what happens between them (terms running out,
//! proposals lapsing, an annual-report deadline passing, three years on the
//! abnormal list) is a timer that fires on its date. Replaying rather than
//! updating running state is what makes a batch evaluation and a stream of
//! small ones agree, whatever order the events arrived in, and lets a later
//! as-of date expire what ran out.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{Datelike, Days, Months, NaiveDate};
use tidewatch_model::codes::{ChangeKind, Severity, ViolationCategory};
use tidewatch_model::event::{CreditBody, ListDecision};
use tidewatch_model::Event;
use tidewatch_state::compute::latest_due_report_year;
use tidewatch_state::{entity_row, flag_feature, Entity, Row};

use crate::alert::{AlertKind, Cause};
use crate::rules::{Correction, FeatureCond, ListDef, Mode, Rule, Rules, Trigger};
use crate::state::{Entry, Status};

/// Entry identity (list, rule, key, opened on) → rule version, from the
/// previous evaluation. An entity has a handful of entries: a list
/// searched in place beats building a map of owned keys per evaluation.
pub(crate) type PriorVersions<'a> = [(&'a str, &'a str, &'a str, NaiveDate, &'a str)];

/// Whether a rule's guard (`when`) holds for the entity at `d`. Flags are
/// found without the whole feature row ([`flag_feature`]); any other
/// feature takes the row, computed once into `row` (which must be the
/// row at `d`, if any).
pub(crate) fn when_holds(
    when: &[FeatureCond],
    entity: &Entity,
    d: NaiveDate,
    row: &mut Option<Row>,
) -> bool {
    when.iter().all(|c| {
        let v = match flag_feature(entity, d, c.feature) {
            Some(v) => v,
            None => row.get_or_insert_with(|| entity_row(entity, d)).values[c.feature.index()],
        };
        c.op.test(v, c.value)
    })
}

/// One step of the lifecycle, to become an alert.
#[derive(Debug, Clone)]
pub(crate) struct Fact {
    pub kind: AlertKind,
    pub cause: Option<Cause>,
    pub entry: usize,
    pub date: NaiveDate,
    pub cause_event: Option<String>,
    /// The entry's dates and authority as they were at this step.
    pub expires_on: Option<NaiveDate>,
    pub repair_from: Option<NaiveDate>,
    pub authority: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Expire(usize),
    Lapse(usize),
    ListedFor { rule: usize, entry: usize },
    AnnualCheck { rule: usize, year: i32 },
}

#[derive(Debug, Clone)]
struct PenaltySeen {
    event_id: String,
    doc: String,
    date: NaiveDate,
    heavier: bool,
    category: ViolationCategory,
}

/// The replay.
pub(crate) struct Lifecycle<'a> {
    rules: &'a Rules,
    entity: &'a Entity,
    events: &'a [&'a Event],
    prior: &'a PriorVersions<'a>,
    pub entries: Vec<Entry>,
    pub facts: Vec<Fact>,
    timers: BTreeSet<(NaiveDate, Timer)>,
    /// Events processed so far (a prefix of `events`).
    seen: usize,
    penalties: Vec<PenaltySeen>,
    /// Document number → date withdrawn.
    withdrawn: HashMap<String, NaiveDate>,
    /// Report year → first filing date.
    reports: BTreeMap<i32, NaiveDate>,
    deregistered: bool,
}

fn add_months(d: NaiveDate, m: u32) -> NaiveDate {
    d.checked_add_months(Months::new(m))
        .unwrap_or(NaiveDate::MAX)
}

fn sub_months(d: NaiveDate, m: u32) -> NaiveDate {
    d.checked_sub_months(Months::new(m))
        .unwrap_or(NaiveDate::MIN)
}

fn add_days(d: NaiveDate, n: u32) -> NaiveDate {
    d.checked_add_days(Days::new(u64::from(n)))
        .unwrap_or(NaiveDate::MAX)
}

/// The record text a decision's document numbers can be found in.
fn decision_text(d: &ListDecision) -> String {
    format!(
        "{} {}",
        d.decision_no.as_deref().unwrap_or(""),
        d.reason.as_deref().unwrap_or("")
    )
}

impl<'a> Lifecycle<'a> {
    pub fn new(
        rules: &'a Rules,
        entity: &'a Entity,
        events: &'a [&'a Event],
        prior: &'a PriorVersions<'a>,
    ) -> Self {
        Lifecycle {
            rules,
            entity,
            events,
            prior,
            entries: Vec::new(),
            facts: Vec::new(),
            timers: BTreeSet::new(),
            seen: 0,
            penalties: Vec::new(),
            withdrawn: HashMap::new(),
            reports: BTreeMap::new(),
            deregistered: false,
        }
    }

    /// Replays everything up to and including `as_of`. `data_since` is the
    /// first day the history is complete for: deadlines before it are not
    /// judged (a report filed before the data began is not in it).
    pub fn run(&mut self, as_of: NaiveDate, data_since: Option<NaiveDate>) {
        self.seed_annual_checks(as_of, data_since);
        loop {
            let next_event = self.events.get(self.seen).map(|e| e.occurred_on());
            let next_timer = self.timers.first().map(|t| t.0);
            let d = match (next_event, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => break,
            };
            if d > as_of {
                break;
            }
            // A day's events come before its timers: a report filed on the
            // last day of grace counts, a removal decision on the day a term
            // ends is the authority's.
            while let Some(e) = self.events.get(self.seen) {
                if e.occurred_on() != d {
                    break;
                }
                self.seen += 1;
                self.on_event(e, d);
            }
            while let Some(&(t, timer)) = self.timers.first() {
                if t != d {
                    break;
                }
                self.timers.pop_first();
                self.on_timer(timer, d);
            }
        }
    }

    fn seed_annual_checks(&mut self, as_of: NaiveDate, data_since: Option<NaiveDate>) {
        let Some(reg) = self.entity.registration() else {
            return;
        };
        // The report on year Y can be filed from 1 January of Y + 1: only
        // years whose whole filing period the data covers are judged.
        let first_covered = data_since.map_or(i32::MIN, |d| {
            if d.ordinal() == 1 {
                d.year() - 1
            } else {
                d.year()
            }
        });
        let first = reg.established_on.year().max(first_covered);
        for (ri, r) in self.rules.rules.iter().enumerate() {
            let Trigger::AnnualReportMissing { grace_days } = r.trigger else {
                continue;
            };
            for year in first..=as_of.year() {
                let Some(deadline) = NaiveDate::from_ymd_opt(year + 1, 6, 30) else {
                    continue;
                };
                let check = add_days(deadline, grace_days);
                if check > as_of {
                    break;
                }
                self.timers
                    .insert((check, Timer::AnnualCheck { rule: ri, year }));
            }
        }
    }

    fn list(&self, id: &str) -> Option<&'a ListDef> {
        self.rules.list(id)
    }

    fn rule_of(&self, entry: &Entry) -> Option<&'a Rule> {
        self.rules.rule(&entry.rule)
    }

    fn fact(
        &mut self,
        kind: AlertKind,
        cause: Option<Cause>,
        entry: usize,
        date: NaiveDate,
        ev: Option<&str>,
    ) {
        let e = &self.entries[entry];
        self.facts.push(Fact {
            kind,
            cause,
            entry,
            date,
            cause_event: ev.map(str::to_owned),
            expires_on: e.expires_on,
            repair_from: e.repair_from,
            authority: e.authority.clone(),
        });
    }

    fn end(&mut self, i: usize, status: Status, cause: Cause, d: NaiveDate, ev: Option<&str>) {
        let e = &mut self.entries[i];
        e.status = status;
        e.ended_on = Some(d);
        e.end_cause = Some(cause);
        e.end_event = ev.map(str::to_owned);
        let kind = if status == Status::Removed {
            AlertKind::Removed
        } else {
            AlertKind::Withdrawn
        };
        self.fact(kind, Some(cause), i, d, ev);
    }

    /// Whether a penalty counts at `d` (not withdrawn by then).
    fn counts(&self, e: &Event, d: NaiveDate) -> bool {
        match e {
            Event::Credit(c) => match &c.body {
                CreditBody::Penalty(p) => self.withdrawn.get(&p.document_no).is_none_or(|w| *w > d),
                _ => true,
            },
            _ => true,
        }
    }

    fn on_event(&mut self, e: &'a Event, d: NaiveDate) {
        if let Event::Credit(c) = e {
            match &c.body {
                CreditBody::Penalty(p) => self.penalties.push(PenaltySeen {
                    event_id: c.event_id.clone(),
                    doc: p.document_no.clone(),
                    date: d,
                    heavier: p.severity == Severity::Heavy || p.revoked_license,
                    category: p.violation_category,
                }),
                CreditBody::PenaltyWithdrawn(r) => {
                    self.on_withdrawal(&r.document_no, &c.event_id, d)
                }
                CreditBody::Deregistered(_) => {
                    self.deregistered = true;
                    for i in 0..self.entries.len() {
                        if self.entries[i].status == Status::Proposed {
                            self.end(
                                i,
                                Status::Withdrawn,
                                Cause::Deregistered,
                                d,
                                Some(&c.event_id),
                            );
                        }
                    }
                }
                CreditBody::AnnualReportFiled(a) => {
                    self.reports.entry(a.year).or_insert(d);
                    let key = a.year.to_string();
                    self.correct(Correction::AnnualReportFiled, Some(&key), &c.event_id, d);
                }
                CreditBody::Changed(ch) if ch.what == ChangeKind::Address => {
                    self.correct(Correction::AddressChanged, None, &c.event_id, d);
                }
                CreditBody::CreditRepaired(r) => {
                    self.on_repair(r.document_no.as_deref(), &c.event_id, d)
                }
                body => {
                    let kind = body.kind();
                    if let Some(l) = self.rules.lists.iter().find(|l| l.listed_by == kind) {
                        self.on_listing_decision(l, e, d);
                    } else if let Some(l) = self.rules.lists.iter().find(|l| l.removed_by == kind) {
                        self.on_removal_decision(l, &c.event_id, d);
                    }
                }
            }
        }
        self.match_event_rules(e, d);
    }

    /// Rules over events, when event `e` arrives.
    fn match_event_rules(&mut self, e: &'a Event, d: NaiveDate) {
        for (ri, r) in self.rules.rules.iter().enumerate() {
            let Trigger::Events {
                on,
                ref conds,
                count,
                same,
                ..
            } = r.trigger
            else {
                continue;
            };
            if !on.is(e) || !conds.iter().all(|c| c.test(e)) || !self.counts(e, d) {
                continue;
            }
            if count == 1 {
                let detail = event_detail(e);
                self.open(
                    ri,
                    e.event_id().to_owned(),
                    vec![e.event_id().to_owned()],
                    d,
                    detail,
                );
            } else {
                let group = same.and_then(|s| s.key(e));
                if same.is_some() && group.is_none() {
                    continue;
                }
                self.check_group(ri, group, d);
            }
        }
    }

    /// Matching, counting events of a counted rule within its window at
    /// `d`, by group, in event order.
    pub(crate) fn groups(&self, ri: usize, d: NaiveDate) -> BTreeMap<String, Vec<&'a Event>> {
        let mut out: BTreeMap<String, Vec<&'a Event>> = BTreeMap::new();
        let r = &self.rules.rules[ri];
        let Trigger::Events {
            on,
            ref conds,
            within_months,
            same,
            ..
        } = r.trigger
        else {
            return out;
        };
        let start = within_months.map_or(NaiveDate::MIN, |m| sub_months(d, m));
        for e in &self.events[..self.seen] {
            let t = e.occurred_on();
            if t <= start
                || t > d
                || !on.is(e)
                || !conds.iter().all(|c| c.test(e))
                || !self.counts(e, d)
            {
                continue;
            }
            let key = match same {
                Some(s) => match s.key(e) {
                    Some(k) => k,
                    None => continue,
                },
                None => String::new(),
            };
            out.entry(key).or_default().push(e);
        }
        out
    }

    fn check_group(&mut self, ri: usize, group: Option<String>, d: NaiveDate) {
        let Trigger::Events { count, .. } = self.rules.rules[ri].trigger else {
            return;
        };
        let key = group.unwrap_or_default();
        let groups = self.groups(ri, d);
        let Some(members) = groups.get(&key) else {
            return;
        };
        let n = count as usize;
        if members.len() < n {
            return;
        }
        // The latest `count` events make the match.
        let last = &members[members.len() - n..];
        let triggers = last.iter().map(|e| e.event_id().to_owned()).collect();
        let detail = last
            .iter()
            .map(|e| event_detail(e))
            .collect::<Vec<_>>()
            .join("；");
        self.open(ri, key, triggers, d, detail);
    }

    fn on_withdrawal(&mut self, doc: &str, event_id: &str, d: NaiveDate) {
        self.withdrawn.entry(doc.to_owned()).or_insert(d);
        let ids: HashSet<String> = self
            .penalties
            .iter()
            .filter(|p| p.doc == doc)
            .map(|p| p.event_id.clone())
            .collect();
        if ids.is_empty() {
            return;
        }
        for i in 0..self.entries.len() {
            let hit = self.entries[i].triggers.iter().any(|t| ids.contains(t));
            if !hit {
                continue;
            }
            match self.entries[i].status {
                Status::Proposed => self.end(
                    i,
                    Status::Withdrawn,
                    Cause::PenaltyWithdrawn,
                    d,
                    Some(event_id),
                ),
                // Listing and removal are the authority's decisions: tell it.
                Status::Listed => self.fact(
                    AlertKind::Warning,
                    Some(Cause::BasisWithdrawn),
                    i,
                    d,
                    Some(event_id),
                ),
                _ => {}
            }
        }
        // The remaining penalties may still meet a counted rule.
        for ri in 0..self.rules.rules.len() {
            let r = &self.rules.rules[ri];
            if let Trigger::Events { on, count, .. } = r.trigger {
                if on == crate::rules::On::Penalty && count > 1 {
                    let keys: Vec<String> = self.groups(ri, d).into_keys().collect();
                    for k in keys {
                        self.check_group(ri, Some(k), d);
                    }
                }
            }
        }
    }

    fn correct(&mut self, what: Correction, key: Option<&str>, event_id: &str, d: NaiveDate) {
        for i in 0..self.entries.len() {
            let e = &self.entries[i];
            if e.status != Status::Listed || key.is_some_and(|k| k != e.key) {
                continue;
            }
            let Some(rule) = self.rule_of(e) else {
                continue;
            };
            if rule.corrected_by != Some(what) {
                continue;
            }
            self.entries[i].corrected_on.get_or_insert(d);
            if rule.removed_when_corrected {
                self.end(i, Status::Removed, Cause::Repaired, d, Some(event_id));
            }
        }
    }

    fn docs_of(&self, entry: &Entry) -> Vec<&str> {
        self.penalties
            .iter()
            .filter(|p| entry.triggers.contains(&p.event_id))
            .map(|p| p.doc.as_str())
            .collect()
    }

    fn on_repair(&mut self, doc: Option<&str>, event_id: &str, d: NaiveDate) {
        for i in 0..self.entries.len() {
            let e = &self.entries[i];
            if e.status != Status::Listed {
                continue;
            }
            let Some(list) = self.list(&e.list) else {
                continue;
            };
            if list.repair_after_months.is_none() {
                continue;
            }
            let applies = match doc {
                None => true,
                Some(doc) => self.docs_of(e).contains(&doc) || e.reason.contains(doc),
            };
            if !applies {
                continue;
            }
            let since = e.listed_on.unwrap_or(e.opened_on);
            let early = e.repair_from.is_some_and(|r| d < r);
            let new_heavier = list.repair_needs_no_new_heavy_penalty
                && self.penalties.iter().any(|p| {
                    p.heavier
                        && p.date > since
                        && p.date <= d
                        && !e.triggers.contains(&p.event_id)
                        && self.withdrawn.get(&p.doc).is_none_or(|w| *w > d)
                });
            if early || new_heavier {
                self.entries[i].repair_seen_on.get_or_insert(d);
            } else {
                self.end(i, Status::Removed, Cause::Repaired, d, Some(event_id));
            }
        }
    }

    fn on_listing_decision(&mut self, list: &'a ListDef, e: &'a Event, d: NaiveDate) {
        let Event::Credit(c) = e else { return };
        let (text, authority, abnormal) = match &c.body {
            CreditBody::AbnormalListed(a) => (String::new(), None, Some(a.reason)),
            CreditBody::SeriousListed(x) | CreditBody::QualityBlacklisted(x) => {
                (decision_text(x), x.authority.clone(), None)
            }
            _ => return,
        };
        let mapped = abnormal.and_then(|reason| {
            self.rules
                .rules
                .iter()
                .position(|r| r.list == list.id && r.decision_reason == Some(reason))
        });
        let mut pending: Vec<usize> = (0..self.entries.len())
            .filter(|&i| {
                let x = &self.entries[i];
                x.list == list.id
                    && x.status == Status::Proposed
                    && mapped.is_none_or(|m| self.rules.rules[m].id == x.rule)
            })
            .collect();
        // A decision naming penalties by document number decides the
        // proposals resting on those penalties, and only those.
        let named: Vec<String> = self
            .penalties
            .iter()
            .filter(|p| !p.doc.is_empty() && text.contains(&p.doc))
            .map(|p| p.event_id.clone())
            .collect();
        if !named.is_empty() {
            pending.retain(|&i| self.entries[i].triggers.iter().any(|t| named.contains(t)));
        }
        if !pending.is_empty() {
            for i in pending {
                self.entries[i].decision = Some(c.event_id.clone());
                self.entries[i].authority = authority.clone();
                self.list_entry(i, d, Some(&c.event_id));
            }
            return;
        }
        let mut triggers = Vec::new();
        let (rule, key, version, reason) = match mapped.map(|m| &self.rules.rules[m]) {
            Some(r) if matches!(r.trigger, Trigger::AnnualReportMissing { .. }) => {
                let year = latest_due_report_year(d);
                let key = year.to_string();
                // Confirms an automatic listing of that year.
                if let Some(i) = self
                    .entries
                    .iter()
                    .position(|x| x.rule == r.id && x.key == key)
                {
                    let x = &mut self.entries[i];
                    x.decision.get_or_insert_with(|| c.event_id.clone());
                    return;
                }
                (
                    r.id.clone(),
                    key,
                    r.version.clone(),
                    format!("{}（{year}年度）", r.reason),
                )
            }
            Some(r) => (
                r.id.clone(),
                c.event_id.clone(),
                r.version.clone(),
                r.reason.clone(),
            ),
            None => {
                // Decided after its proposal lapsed: the earlier proposal
                // on the named penalty gives the rule and the triggers.
                let earlier =
                    self.entries.iter().rev().find(|x| {
                        x.list == list.id && x.triggers.iter().any(|t| named.contains(t))
                    });
                match earlier.and_then(|x| Some((x, self.rules.rule(&x.rule)?))) {
                    Some((x, r)) => {
                        triggers = x.triggers.clone();
                        (
                            r.id.clone(),
                            c.event_id.clone(),
                            r.version.clone(),
                            x.reason.clone(),
                        )
                    }
                    None => {
                        // Another authority's listing, or one no rule
                        // matched; it rests on the penalties it names.
                        triggers = named.clone();
                        (
                            format!("{}.decision", list.id),
                            c.event_id.clone(),
                            list.version.clone(),
                            if text.trim().is_empty() {
                                format!("列入{}的决定", list.name)
                            } else {
                                text.trim().to_owned()
                            },
                        )
                    }
                }
            }
        };
        let version = self
            .prior_version(&list.id, &rule, &key, d)
            .unwrap_or(version);
        self.entries.push(Entry {
            list: list.id.clone(),
            rule,
            key,
            mode: Mode::Decision,
            rule_version: version,
            triggers,
            reason,
            opened_on: d,
            status: Status::Proposed,
            proposed_on: None,
            listed_on: None,
            decision: Some(c.event_id.clone()),
            authority,
            expires_on: None,
            repair_from: None,
            corrected_on: None,
            repair_seen_on: None,
            ended_on: None,
            end_cause: None,
            end_event: None,
            removal_decision: None,
        });
        let i = self.entries.len() - 1;
        self.list_entry(i, d, Some(&c.event_id));
    }

    fn on_removal_decision(&mut self, list: &ListDef, event_id: &str, d: NaiveDate) {
        let listed: Vec<usize> = (0..self.entries.len())
            .filter(|&i| {
                self.entries[i].list == list.id && self.entries[i].status == Status::Listed
            })
            .collect();
        // A removal after a correction removes what was corrected.
        let corrected: Vec<usize> = listed
            .iter()
            .copied()
            .filter(|&i| self.entries[i].corrected_on.is_some())
            .collect();
        if corrected.is_empty() {
            // The record that follows a removal the engine already made on
            // a repair or correction confirms it, and removes nothing else,
            // unless a listing came after that removal.
            let latest_listing = listed
                .iter()
                .filter_map(|&i| self.entries[i].listed_on)
                .max();
            let confirmed = (0..self.entries.len()).find(|&i| {
                let x = &self.entries[i];
                x.list == list.id
                    && x.status == Status::Removed
                    && x.end_cause == Some(Cause::Repaired)
                    && x.removal_decision.is_none()
                    && latest_listing.is_none_or(|l| x.ended_on.is_some_and(|e| e >= l))
            });
            if let Some(i) = confirmed {
                self.entries[i].removal_decision = Some(event_id.to_owned());
                return;
            }
        }
        let targets = if corrected.is_empty() {
            listed
        } else {
            corrected
        };
        for i in targets {
            let x = &self.entries[i];
            let cause = if x.corrected_on.is_some() || x.repair_seen_on.is_some() {
                Cause::Repaired
            } else {
                Cause::Decision
            };
            self.end(i, Status::Removed, cause, d, Some(event_id));
        }
    }

    fn prior_version(&self, list: &str, rule: &str, key: &str, d: NaiveDate) -> Option<String> {
        self.prior
            .iter()
            // The last one, as a map built from the entries would keep.
            .rfind(|p| (p.0, p.1, p.2, p.3) == (list, rule, key, d))
            .map(|p| p.4.to_owned())
    }

    /// Opens an entry for rule `ri` if nothing stands in its way.
    fn open(
        &mut self,
        ri: usize,
        key: String,
        triggers: Vec<String>,
        d: NaiveDate,
        detail: String,
    ) {
        let r = &self.rules.rules[ri];
        if self.deregistered {
            return;
        }
        let dup = self.entries.iter().any(|x| {
            (x.rule == r.id && x.key == key && (x.status.is_active() || x.triggers == triggers))
                || (x.list == r.list
                    && x.status.is_active()
                    && !triggers.is_empty()
                    && x.triggers == triggers)
        });
        if dup {
            return;
        }
        if !when_holds(&r.when, self.entity, d, &mut None) {
            return;
        }
        let version = self
            .prior_version(&r.list, &r.id, &key, d)
            .unwrap_or_else(|| r.version.clone());
        let reason = if detail.is_empty() {
            r.reason.clone()
        } else {
            format!("{}（{detail}）", r.reason)
        };
        self.entries.push(Entry {
            list: r.list.clone(),
            rule: r.id.clone(),
            key,
            mode: r.mode,
            rule_version: version,
            triggers,
            reason,
            opened_on: d,
            status: Status::Proposed,
            proposed_on: None,
            listed_on: None,
            decision: None,
            authority: None,
            expires_on: None,
            repair_from: None,
            corrected_on: None,
            repair_seen_on: None,
            ended_on: None,
            end_cause: None,
            end_event: None,
            removal_decision: None,
        });
        let i = self.entries.len() - 1;
        match r.mode {
            Mode::Automatic | Mode::Decision => self.list_entry(i, d, None),
            Mode::Proposal => {
                self.entries[i].proposed_on = Some(d);
                self.fact(AlertKind::Proposed, None, i, d, None);
                if let Some(days) = self.list(&r.list).and_then(|l| l.proposal_lapses_days) {
                    self.timers.insert((add_days(d, days), Timer::Lapse(i)));
                }
            }
        }
    }

    /// Puts an entry on its list at `d`.
    fn list_entry(&mut self, i: usize, d: NaiveDate, ev: Option<&str>) {
        let list = self.list(&self.entries[i].list);
        let rule = self.rule_of(&self.entries[i]);
        let repair_months = list.and_then(|l| {
            let base = l.repair_after_months?;
            if let Some(m) = rule.and_then(|r| r.repair_after_months) {
                return Some(m);
            }
            let by_cat = self
                .penalties
                .iter()
                .filter(|p| self.entries[i].triggers.contains(&p.event_id))
                .filter_map(|p| l.repair_after_months_by_category.get(&p.category).copied())
                .max();
            Some(by_cat.map_or(base, |m| m.max(base)))
        });
        let term = list.and_then(|l| l.term_months);
        let x = &mut self.entries[i];
        x.status = Status::Listed;
        x.listed_on = Some(d);
        x.expires_on = term.map(|m| add_months(d, m));
        x.repair_from = repair_months.map(|m| add_months(d, m));
        let expires = x.expires_on;
        let list_id = x.list.clone();
        self.fact(AlertKind::Listed, None, i, d, ev);
        if let Some(t) = expires {
            self.timers.insert((t, Timer::Expire(i)));
        }
        for (ri, r) in self.rules.rules.iter().enumerate() {
            if let Trigger::ListedFor { ref list, months } = r.trigger {
                if *list == list_id {
                    self.timers.insert((
                        add_months(d, months),
                        Timer::ListedFor { rule: ri, entry: i },
                    ));
                }
            }
        }
    }

    fn on_timer(&mut self, t: Timer, d: NaiveDate) {
        match t {
            Timer::Expire(i) => {
                if self.entries[i].status == Status::Listed {
                    self.end(i, Status::Removed, Cause::Expired, d, None);
                }
            }
            Timer::Lapse(i) => {
                if self.entries[i].status == Status::Proposed {
                    self.end(i, Status::Withdrawn, Cause::Lapsed, d, None);
                }
            }
            Timer::ListedFor { rule, entry } => {
                let src = &self.entries[entry];
                if src.status != Status::Listed {
                    return;
                }
                let Trigger::ListedFor { months, .. } = self.rules.rules[rule].trigger else {
                    return;
                };
                let key = format!("{}:{}:{}", src.rule, src.key, src.opened_on);
                let mut triggers = src.triggers.clone();
                triggers.extend(src.decision.iter().cloned());
                let since = src.listed_on.unwrap_or(src.opened_on);
                let name = self.list(&src.list).map_or("", |l| l.name.as_str());
                let detail = format!("自{since}列入{name}满{months}个月：{}", src.reason);
                self.open(rule, key, triggers, d, detail);
            }
            Timer::AnnualCheck { rule, year } => {
                if self.reports.contains_key(&year) {
                    return;
                }
                let detail = format!("{year}年度报告未在{}-06-30前报送", year + 1);
                self.open(rule, year.to_string(), Vec::new(), d, detail);
            }
        }
    }
}

/// A few words on a triggering event, for the entry's reason.
fn event_detail(e: &Event) -> String {
    match e {
        Event::Credit(c) => match &c.body {
            CreditBody::Penalty(p) => format!(
                "{}，{}，{}",
                p.document_no,
                p.violation_category.label(),
                p.violation_code
            ),
            CreditBody::Accident(a) => format!("{} {}", c.occurred_on, a.severity.label()),
            b => format!("{} {}", c.occurred_on, b.kind()),
        },
        Event::Inspection(i) => format!(
            "{} {}：{}{}",
            i.occurred_on,
            i.inspection_type.label(),
            i.result.label(),
            i.sampling
                .as_ref()
                .filter(|s| !s.passed)
                .map(|s| format!("，{}抽检不合格", s.product))
                .unwrap_or_default()
        ),
        Event::Complaint(c) => format!("{} 投诉 {}", c.occurred_on, c.category),
    }
}
