//! One entity's evaluation: `(history, previous list state, as-of date) →
//! (new list state, alerts)`.
//!
//! The lifecycle is replayed from the history ([`crate::lifecycle`]); the
//! early warnings are judged at the as-of date; every step becomes an alert
//! with a content-derived id, and only ids not announced before are new.
//! Nothing here depends on the order entities are evaluated in or on how
//! the events were batched, so the streaming engine (one entity at a time,
//! as its events arrive) and the batch run (everyone once) agree.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

use chrono::{Months, NaiveDate};
use tidewatch_model::{Class, Domain, Event};
use tidewatch_state::Entity;

use crate::alert::{alert_id, Alert, AlertKind, Cause, EntityRef, IdFacts};
use crate::lifecycle::{Fact, Lifecycle};
use crate::rules::{Rules, Trigger};
use crate::state::{EntityLists, Entry, Status};

/// One field's score of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldScore {
    pub field: Domain,
    /// Risk score 0–1000.
    pub risk: i64,
    /// The class used for the field.
    pub class: Class,
}

/// What is evaluated: the entity with its history and its scores now and at
/// the previous as-of date.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub entity: &'a Entity,
    /// Scores of the fields the entity is in, at the as-of date.
    pub scores: &'a [FieldScore],
    /// The same at the previous as-of date (empty if the entity was not
    /// scored then).
    pub previous_scores: &'a [FieldScore],
}

/// The evaluation's dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    pub as_of: NaiveDate,
    /// The first day the event history is complete for (see
    /// [`data_since`]); deadlines before it are not judged.
    pub data_since: Option<NaiveDate>,
    /// The previous evaluation's as-of date; `None` on a first run (then
    /// no score-rise warnings).
    pub previous_as_of: Option<NaiveDate>,
}

/// The result for one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluated {
    /// `None` when there is nothing to keep (no entries, nothing announced).
    pub state: Option<EntityLists>,
    /// New alerts, in per-entity sequence order.
    pub alerts: Vec<Alert>,
}

/// The first day of the event history: the earliest event that is not a
/// registration (registrations carry the establishment date, which may lie
/// long before the data begins).
pub fn data_since<'a>(entities: impl IntoIterator<Item = &'a Entity>) -> Option<NaiveDate> {
    entities
        .into_iter()
        .flat_map(|e| e.history().iter())
        .filter(|e| e.registration().is_none())
        .map(Event::occurred_on)
        .min()
}

/// An entity's USCC, name and region, as its [`EntityRef`] holds them.
fn entity_parts(entity: &Entity) -> [&str; 3] {
    let reg = entity.registration();
    [
        entity.uscc.as_str(),
        reg.map_or("", |r| r.name.as_str()),
        reg.map_or_else(|| entity.uscc.region_digits(), |r| r.region_code.as_str()),
    ]
}

fn entity_ref(entity: &Entity) -> EntityRef {
    let [uscc, name, region] = entity_parts(entity).map(str::to_owned);
    EntityRef { uscc, name, region }
}

/// Whether `r` is what [`entity_ref`] makes of `entity` (without making
/// it: most evaluations change nothing and need no copy).
fn is_entity_ref(r: &EntityRef, entity: &Entity) -> bool {
    [r.uscc.as_str(), &r.name, &r.region] == entity_parts(entity)
}

/// An alert before its id and sequence number. Drafts are made for every
/// step of the replayed history, and most turn out to be announced
/// already: they borrow from the replay's entries and facts, and only the
/// new ones are made owned alerts.
struct Draft<'a> {
    kind: AlertKind,
    cause: Option<Cause>,
    list: Option<Cow<'a, str>>,
    rule: Cow<'a, str>,
    rule_version: Cow<'a, str>,
    mode: Option<crate::rules::Mode>,
    triggers: Cow<'a, [String]>,
    cause_event: Option<Cow<'a, str>>,
    effective_on: NaiveDate,
    expires_on: Option<NaiveDate>,
    repair_from: Option<NaiveDate>,
    field: Option<Domain>,
    authority: Option<Cow<'a, str>>,
    reason: Cow<'a, str>,
}

fn from_entry<'a>(e: &'a Entry, f: &'a Fact) -> Draft<'a> {
    let warning = f.kind == AlertKind::Warning;
    let reason = match f.cause {
        Some(Cause::BasisWithdrawn) => Cow::Owned(format!(
            "所依据的行政处罚已撤销，请复核是否移出：{}",
            e.reason
        )),
        _ => Cow::Borrowed(e.reason.as_str()),
    };
    Draft {
        kind: f.kind,
        cause: f.cause,
        list: Some(Cow::Borrowed(e.list.as_str())),
        rule: Cow::Borrowed(e.rule.as_str()),
        rule_version: Cow::Borrowed(e.rule_version.as_str()),
        mode: (!warning).then_some(e.mode),
        triggers: Cow::Borrowed(e.triggers.as_slice()),
        cause_event: f.cause_event.as_deref().map(Cow::Borrowed),
        effective_on: f.date,
        expires_on: if f.kind == AlertKind::Listed {
            f.expires_on
        } else {
            None
        },
        repair_from: if f.kind == AlertKind::Listed {
            f.repair_from
        } else {
            None
        },
        field: None,
        authority: f.authority.as_deref().map(Cow::Borrowed),
        reason,
    }
}

/// Evaluates one entity at `ctx.as_of`.
pub fn evaluate(
    rules: &Rules,
    input: &Input<'_>,
    previous: Option<&EntityLists>,
    ctx: &Context,
) -> Evaluated {
    evaluate_changed(rules, input, previous, ctx).unwrap_or_else(|| Evaluated {
        state: previous.cloned(),
        alerts: Vec::new(),
    })
}

/// [`evaluate`], or `None` when the evaluation changes nothing: no new
/// alerts, and the state would equal `previous`. The streaming engine
/// evaluates an entity at each of its events, and most evaluations change
/// nothing: it then keeps the state it has instead of building a copy
/// (the announced ids are most of it) and comparing the two.
pub fn evaluate_changed(
    rules: &Rules,
    input: &Input<'_>,
    previous: Option<&EntityLists>,
    ctx: &Context,
) -> Option<Evaluated> {
    let entity = input.entity;
    let as_of = ctx.as_of;
    let events = entity.history_until(as_of);
    let prior: Vec<_> = previous
        .map(|p| {
            p.entries
                .iter()
                .map(|e| {
                    (
                        e.list.as_str(),
                        e.rule.as_str(),
                        e.key.as_str(),
                        e.opened_on,
                        e.rule_version.as_str(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();

    let mut life = Lifecycle::new(rules, entity, &events, &prior);
    life.run(as_of, ctx.data_since);
    // The replay's entries become the state (the warnings below read
    // `life` for its event groups only).
    let entries = std::mem::take(&mut life.entries);

    // Entries announced before that the replay no longer has: late events
    // showed the criteria were not met. Say so once; they stay in the
    // state, ended, after the others.
    let gone: Vec<(Entry, Fact)> = match previous {
        None => Vec::new(),
        Some(p) => {
            let now: HashSet<_> = entries.iter().map(Entry::identity).collect();
            p.entries
                .iter()
                .filter(|e| e.status.is_active() && !now.contains(&e.identity()))
                .map(|e| {
                    let mut e = e.clone();
                    let (status, kind) = if e.status == Status::Proposed {
                        (Status::Withdrawn, AlertKind::Withdrawn)
                    } else {
                        (Status::Removed, AlertKind::Removed)
                    };
                    e.status = status;
                    e.ended_on = Some(as_of);
                    e.end_cause = Some(Cause::Retracted);
                    let f = Fact {
                        kind,
                        cause: Some(Cause::Retracted),
                        entry: 0,
                        date: as_of,
                        cause_event: None,
                        expires_on: None,
                        repair_from: None,
                        authority: e.authority.clone(),
                    };
                    (e, f)
                })
                .collect()
        }
    };
    let mut drafts: Vec<Draft> = life
        .facts
        .iter()
        .map(|f| from_entry(&entries[f.entry], f))
        .chain(gone.iter().map(|(e, f)| from_entry(e, f)))
        .collect();

    let deregistered = events.iter().any(|e| {
        matches!(e, Event::Credit(c) if matches!(c.body, tidewatch_model::CreditBody::Deregistered(_)))
    });
    if !deregistered {
        drafts.extend(warnings(rules, input, &life, &entries, ctx));
    }

    // Ids, then only what is new, in date order (stable: the replay's order
    // within a day).
    let uscc = entity.uscc.as_str();
    drafts.sort_by_key(|d| d.effective_on);
    let before = previous.map(|p| &p.announced);
    let mut fresh: Vec<(String, Draft)> = Vec::new();
    for d in drafts {
        let id = alert_id(&IdFacts {
            kind: d.kind,
            cause: d.cause,
            list: d.list.as_deref(),
            uscc,
            rule: &d.rule,
            triggers: &d.triggers,
            cause_event: d.cause_event.as_deref(),
            effective_on: d.effective_on,
            rule_version: &d.rule_version,
        });
        if before.is_some_and(|b| b.contains(&id)) || fresh.iter().any(|(f, _)| *f == id) {
            continue;
        }
        fresh.push((id, d));
    }
    let unchanged = fresh.is_empty()
        && match previous {
            Some(p) => {
                p.entries
                    .iter()
                    .eq(entries.iter().chain(gone.iter().map(|(e, _)| e)))
                    && p.as_of == as_of
                    && is_entity_ref(&p.entity, entity)
            }
            None => entries.is_empty(),
        };
    if unchanged {
        return None;
    }
    let eref = entity_ref(entity);
    let mut announced: BTreeSet<String> = before.cloned().unwrap_or_default();
    let mut seq = previous.map_or(0, |p| p.seq);
    let mut alerts = Vec::with_capacity(fresh.len());
    for (id, d) in fresh {
        announced.insert(id.clone());
        seq += 1;
        let list_name = d
            .list
            .as_deref()
            .and_then(|l| rules.list(l))
            .map(|l| l.name.clone());
        alerts.push(Alert {
            id,
            entity_seq: seq,
            kind: d.kind,
            cause: d.cause,
            list: d.list.map(Cow::into_owned),
            list_name,
            entity: eref.clone(),
            rule: d.rule.into_owned(),
            rule_version: d.rule_version.into_owned(),
            mode: d.mode,
            triggers: d.triggers.into_owned(),
            cause_event: d.cause_event.map(Cow::into_owned),
            effective_on: d.effective_on,
            expires_on: d.expires_on,
            repair_from: d.repair_from,
            field: d.field,
            authority: d.authority.map(Cow::into_owned),
            reason: d.reason.into_owned(),
            as_of,
        });
    }
    let mut entries = entries;
    entries.extend(gone.into_iter().map(|(e, _)| e));
    let state = (!entries.is_empty() || !announced.is_empty()).then_some(EntityLists {
        entity: eref,
        as_of,
        seq,
        entries,
        announced,
    });
    Some(Evaluated { state, alerts })
}

/// Early warnings at the as-of date.
fn warnings(
    rules: &Rules,
    input: &Input<'_>,
    life: &Lifecycle<'_>,
    entries: &[Entry],
    ctx: &Context,
) -> Vec<Draft<'static>> {
    let w = &rules.warnings;
    let as_of = ctx.as_of;
    let mut out = Vec::new();
    let active_on = |list: &str| {
        entries
            .iter()
            .any(|e| e.list == list && e.status.is_active())
    };
    let listed_on = |list: &str| {
        entries
            .iter()
            .any(|e| e.list == list && e.status == Status::Listed)
    };
    let mut row = None;
    let mut guard = |r: &crate::rules::Rule| {
        crate::lifecycle::when_holds(&r.when, input.entity, as_of, &mut row)
    };

    for (ri, r) in rules.rules.iter().enumerate() {
        match &r.trigger {
            Trigger::Events {
                count,
                within_months,
                ..
            } if w.one_event_away && *count >= 2 => {
                if active_on(&r.list) || !guard(r) {
                    continue;
                }
                for (key, members) in life.groups(ri, as_of) {
                    if members.len() + 1 != *count as usize
                        || entries
                            .iter()
                            .any(|e| e.rule == r.id && e.key == key && e.status.is_active())
                    {
                        continue;
                    }
                    let (Some(first), Some(last)) = (members.first(), members.last()) else {
                        continue;
                    };
                    let lapses = within_months
                        .and_then(|m| first.occurred_on().checked_add_months(Months::new(m)));
                    out.push(Draft {
                        kind: AlertKind::Warning,
                        cause: Some(Cause::OneEventAway),
                        list: Some(r.list.clone().into()),
                        rule: r.id.clone().into(),
                        rule_version: r.version.clone().into(),
                        mode: None,
                        triggers: members
                            .iter()
                            .map(|e| e.event_id().to_owned())
                            .collect::<Vec<_>>()
                            .into(),
                        cause_event: None,
                        effective_on: last.occurred_on(),
                        expires_on: lapses,
                        repair_from: None,
                        field: None,
                        authority: None,
                        reason: Cow::Owned(format!(
                            "再有1次即满足列入条件（{}个月内{}次）：{}",
                            within_months.unwrap_or(0),
                            count,
                            r.reason
                        )),
                    });
                }
            }
            Trigger::ListedFor { list, months } => {
                let Some(days) = w.days_before_listed_for else {
                    continue;
                };
                if active_on(&r.list) || !guard(r) {
                    continue;
                }
                for e in entries
                    .iter()
                    .filter(|e| &e.list == list && e.status == Status::Listed)
                {
                    let since = e.listed_on.unwrap_or(e.opened_on);
                    let Some(fires) = since.checked_add_months(Months::new(*months)) else {
                        continue;
                    };
                    let Some(from) = fires.checked_sub_days(chrono::Days::new(u64::from(days)))
                    else {
                        continue;
                    };
                    if as_of < from || as_of >= fires {
                        continue;
                    }
                    let mut triggers = e.triggers.clone();
                    triggers.extend(e.decision.iter().cloned());
                    out.push(Draft {
                        kind: AlertKind::Warning,
                        cause: Some(Cause::ApproachingTerm),
                        list: Some(r.list.clone().into()),
                        rule: r.id.clone().into(),
                        rule_version: r.version.clone().into(),
                        mode: None,
                        triggers: triggers.into(),
                        cause_event: None,
                        effective_on: from,
                        expires_on: Some(fires),
                        repair_from: None,
                        field: None,
                        authority: None,
                        reason: Cow::Owned(format!(
                            "将于{fires}满足：{}（{}）",
                            r.reason, e.reason
                        )),
                    });
                }
            }
            _ => {}
        }
    }

    let exempt = w.class_d_unless_listed.iter().any(|l| listed_on(l));
    for s in input.scores {
        let before = input.previous_scores.iter().find(|p| p.field == s.field);
        if w.class_d && !exempt && s.class == Class::D && before.is_none_or(|b| b.class != Class::D)
        {
            out.push(Draft {
                kind: AlertKind::Warning,
                cause: Some(Cause::ClassD),
                list: None,
                rule: format!("warning.class_d.{}", s.field.as_str()).into(),
                rule_version: w.version.clone().into(),
                mode: None,
                triggers: Vec::new().into(),
                cause_event: None,
                effective_on: as_of,
                expires_on: None,
                repair_from: None,
                field: Some(s.field),
                authority: None,
                reason: Cow::Owned(format!(
                    "{}领域风险等级为D（风险分{}{}）",
                    s.field.label(),
                    s.risk,
                    before.map_or(String::new(), |b| format!("，此前为{}", b.class))
                )),
            });
        }
        let (Some(threshold), Some(prev_as_of), Some(b)) =
            (w.score_rise, ctx.previous_as_of, before)
        else {
            continue;
        };
        let rise = s.risk - b.risk;
        if rise <= threshold {
            continue;
        }
        let mut triggers: Vec<String> = input
            .entity
            .history()
            .iter()
            .filter(|e| e.occurred_on() > prev_as_of && e.occurred_on() <= as_of)
            .map(|e| e.event_id().to_owned())
            .collect();
        triggers.sort();
        out.push(Draft {
            kind: AlertKind::Warning,
            cause: Some(Cause::ScoreRise),
            list: None,
            rule: format!("warning.score_rise.{}", s.field.as_str()).into(),
            rule_version: w.version.clone().into(),
            mode: None,
            triggers: triggers.into(),
            cause_event: None,
            effective_on: as_of,
            expires_on: None,
            repair_from: None,
            field: Some(s.field),
            authority: None,
            reason: Cow::Owned(format!(
                "{}领域风险分自{prev_as_of}的{}升至{}（+{rise}，超过{threshold}）",
                s.field.label(),
                b.risk,
                s.risk
            )),
        });
    }
    out
}
