//! Streaming and batch agree: an entity's events evaluated one at a time as
//! they arrive (each at its own date) end in the same entries, with the
//! same alert ids, as one evaluation of the whole history — over random
//! histories that mix every rule's events. Out of order, the entries agree
//! once what late events retracted is set aside.

mod common;

use std::collections::BTreeSet;

use common::{eval, eval_changed, History};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use tidewatch_alerts::{AlertKind, Cause, EntityLists, Entry};

const AS_OF: &str = "2026-09-30";

/// One event of a small vocabulary that touches every rule.
#[derive(Debug, Clone)]
enum Ev {
    Penalty {
        cat: usize,
        heavy: bool,
        code: usize,
        flag: usize,
    },
    Withdraw(usize),
    Serious(Option<usize>),
    Quality(Option<usize>),
    Abnormal(usize),
    AbnormalRemoved,
    SeriousRemoved,
    Repair(Option<usize>),
    Inspection(usize),
    Accident,
    Report(i32),
    Address,
}

fn ev() -> impl Strategy<Value = (u32, Ev)> {
    let e = prop_oneof![
        4 => (0..4usize, any::<bool>(), 0..3usize, 0..4usize)
            .prop_map(|(cat, heavy, code, flag)| Ev::Penalty { cat, heavy, code, flag }),
        1 => (0..6usize).prop_map(Ev::Withdraw),
        2 => proptest::option::of(0..6usize).prop_map(Ev::Serious),
        1 => proptest::option::of(0..6usize).prop_map(Ev::Quality),
        2 => (0..3usize).prop_map(Ev::Abnormal),
        1 => Just(Ev::AbnormalRemoved),
        1 => Just(Ev::SeriousRemoved),
        1 => proptest::option::of(0..6usize).prop_map(Ev::Repair),
        3 => (0..4usize).prop_map(Ev::Inspection),
        1 => Just(Ev::Accident),
        2 => (2023..2026i32).prop_map(Ev::Report),
        1 => Just(Ev::Address),
    ];
    // Days after 2023-10-01, up to the as-of date.
    (0..1095u32, e)
}

fn date(day: u32) -> String {
    let d = common::d("2023-10-01") + chrono::Days::new(u64::from(day));
    d.to_string()
}

fn build(events: &[(u32, Ev)]) -> History {
    let mut h = History::without_reports("2016-04-01");
    for (i, (day, e)) in events.iter().enumerate() {
        let d = date(*day);
        let doc = |k: usize| format!("D-{k}");
        match e {
            Ev::Penalty {
                cat,
                heavy,
                code,
                flag,
            } => {
                let (category, domain) = [
                    ("food_safety", "food"),
                    ("quality_safety", "industrial_product"),
                    ("consumer_harm", "general"),
                    ("other", "general"),
                ][*cat];
                let severity = if *heavy { "heavy" } else { "fine" };
                let flags = [
                    "",
                    r#","revoked_license":true"#,
                    r#","licence_fraud":true"#,
                    "",
                ][*flag];
                h.credit_in(
                    &d,
                    domain,
                    "penalty",
                    &format!(
                        r#"{{"document_no":"{}","violation_category":"{category}","violation_code":"code-{code}","fine_cny":"5000.00","severity":"{severity}"{flags}}}"#,
                        doc(i)
                    ),
                );
            }
            Ev::Withdraw(k) => {
                h.credit(
                    &d,
                    "penalty_withdrawn",
                    &format!(r#"{{"document_no":"{}"}}"#, doc(i.saturating_sub(k + 1))),
                );
            }
            Ev::Serious(k) => {
                let reason = k.map(|k| doc(i.saturating_sub(k + 1))).unwrap_or_default();
                h.credit(&d, "serious_listed", &format!(r#"{{"reason":"{reason}"}}"#));
            }
            Ev::Quality(k) => {
                let reason = k.map(|k| doc(i.saturating_sub(k + 1))).unwrap_or_default();
                h.credit(
                    &d,
                    "quality_blacklisted",
                    &format!(r#"{{"reason":"{reason}"}}"#),
                );
            }
            Ev::Abnormal(r) => {
                let reason = [
                    "annual_report_missing",
                    "unreachable",
                    "disclosure_not_made",
                ][*r];
                h.credit(
                    &d,
                    "abnormal_listed",
                    &format!(r#"{{"reason":"{reason}"}}"#),
                );
            }
            Ev::AbnormalRemoved => {
                h.credit(&d, "abnormal_removed", "{}");
            }
            Ev::SeriousRemoved => {
                h.credit(&d, "serious_removed", "{}");
            }
            Ev::Repair(k) => {
                let p = match k {
                    Some(k) => format!(r#"{{"document_no":"{}"}}"#, doc(i.saturating_sub(k + 1))),
                    None => "{}".into(),
                };
                h.credit(&d, "credit_repaired", &p);
            }
            Ev::Inspection(r) => {
                match r {
                    0 => h.inspection(&d, "6", None),
                    1 => h.inspection(&d, "B", None),
                    2 => h.inspection(&d, "C", None),
                    _ => h.inspection(&d, "A", Some(("major", "food"))),
                };
            }
            Ev::Accident => {
                h.credit_in(
                    &d,
                    "special_equipment",
                    "accident",
                    r#"{"severity":"general"}"#,
                );
            }
            Ev::Report(y) => {
                h.credit(
                    &d,
                    "annual_report_filed",
                    &format!(r#"{{"year":{y},"on_time":false}}"#),
                );
            }
            Ev::Address => {
                h.credit(&d, "changed", r#"{"what":"address"}"#);
            }
        }
    }
    h
}

fn not_retracted(entries: &[Entry]) -> Vec<Entry> {
    entries
        .iter()
        .filter(|e| e.end_cause != Some(Cause::Retracted))
        .cloned()
        .collect()
}

/// Streams `order` (indices into the history's events after the
/// registration), evaluating after each at its date, then at the as-of.
fn stream(h: &History, order: &[usize]) -> (Vec<Entry>, BTreeSet<String>) {
    let mut part = History::empty(h.uscc);
    part.events.push(h.events[0].clone());
    let mut state = None;
    let mut ids = BTreeSet::new();
    let mut latest = common::d("2016-04-01");
    for &i in order {
        let e = h.events[i + 1].clone();
        latest = latest.max(e.occurred_on());
        part.events.push(e);
        // The as-of date never goes back.
        let out = eval(&part, &latest.to_string(), state.as_ref());
        ids.extend(out.alerts.iter().map(|a| a.id.clone()));
        state = out.state;
    }
    let out = eval(&part, AS_OF, state.as_ref());
    ids.extend(out.alerts.iter().map(|a| a.id.clone()));
    let entries = out.state.map(|s| s.entries).unwrap_or_default();
    (entries, ids)
}

fn config() -> Config {
    Config {
        cases: 160,
        rng_seed: RngSeed::Fixed(20_260_930),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn in_order_arrival_ends_where_the_batch_does(events in proptest::collection::vec(ev(), 1..24)) {
        let h = build(&events);
        let batch = eval(&h, AS_OF, None);
        let batch_entries = batch.state.as_ref().map(|s| s.entries.clone()).unwrap_or_default();
        // Arrival in event-time order (date, family, id), as the replay sorts.
        let mut order: Vec<usize> = (0..h.events.len() - 1).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&h.events[a + 1], &h.events[b + 1]);
            (x.occurred_on(), x.family(), x.event_id()).cmp(&(y.occurred_on(), y.family(), y.event_id()))
        });
        let (entries, ids) = stream(&h, &order);
        prop_assert_eq!(&entries, &batch_entries);
        for a in batch.alerts.iter().filter(|a| a.kind != AlertKind::Warning) {
            prop_assert!(ids.contains(&a.id), "the stream never announced {:?}", a);
        }
    }

    #[test]
    fn any_arrival_order_agrees_once_retractions_are_set_aside(
        events in proptest::collection::vec(ev(), 1..16),
        seed in any::<u64>(),
    ) {
        let h = build(&events);
        let batch = eval(&h, AS_OF, None);
        let batch_entries = batch.state.map(|s| s.entries).unwrap_or_default();
        let mut order: Vec<usize> = (0..h.events.len() - 1).collect();
        // A deterministic shuffle from the case's seed.
        let mut x = seed | 1;
        for i in (1..order.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            order.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let (entries, _) = stream(&h, &order);
        prop_assert_eq!(not_retracted(&entries), batch_entries);
    }

    /// The streaming engine keeps its state when an evaluation says it
    /// changes nothing: that must be exactly when the full evaluation gives
    /// no alert and the state it had. Evaluating again with nothing new
    /// announces nothing and settles at once (a retraction is kept in the
    /// state for one evaluation, then dropped).
    #[test]
    fn an_evaluation_that_changes_nothing_says_so(
        events in proptest::collection::vec(ev(), 1..20),
        same_day in any::<bool>(),
    ) {
        let h = build(&events);
        let mut part = History::empty(h.uscc);
        part.events.push(h.events[0].clone());
        let mut state: Option<EntityLists> = None;
        let mut latest = common::d("2016-04-01");
        let (mut some, mut none) = (0, 0);
        for e in &h.events[1..] {
            latest = latest.max(e.occurred_on());
            part.events.push(e.clone());
            let as_of = if same_day { AS_OF.to_owned() } else { latest.to_string() };
            let full = eval(&part, &as_of, state.as_ref());
            match eval_changed(&part, &as_of, state.as_ref()) {
                None => {
                    none += 1;
                    prop_assert!(full.alerts.is_empty(), "unchanged, yet {:?}", full.alerts);
                    prop_assert_eq!(&full.state, &state);
                }
                Some(c) => {
                    some += 1;
                    prop_assert!(!c.alerts.is_empty() || c.state != state, "changed, yet the same");
                    prop_assert_eq!(&c, &full);
                }
            }
            state = full.state;
            let mut settled = false;
            for _ in 0..2 {
                let Some(again) = eval_changed(&part, &as_of, state.as_ref()) else {
                    settled = true;
                    break;
                };
                prop_assert!(again.alerts.is_empty(), "nothing new, yet {:?}", again.alerts);
                prop_assert_eq!(&again, &eval(&part, &as_of, state.as_ref()));
                state = again.state;
            }
            prop_assert!(settled, "evaluating again never settles");
        }
        prop_assert_eq!(some + none, h.events.len() - 1);
    }
}
