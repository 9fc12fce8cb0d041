//! Officer assignment (§6): every rule holds on random rosters, loads stay
//! as even as the version-1 rule made them, no officer is favoured, and the
//! result does not depend on the number of threads.

mod common;

use std::collections::HashMap;

use common::*;
use proptest::prelude::*;
use tidewatch_model::{Domain, Officer};
use tidewatch_sampling::draw::PastInspection;
use tidewatch_sampling::{draw, verify, Class, DrawInputs, Manifest, Plan, PopulationRow, Quota};

const UNITS: [&str; 5] = ["330900", "330902", "330903", "330921", "330922"];
const FIELDS: [Domain; 3] = [Domain::General, Domain::Food, Domain::Construction];

fn run(
    plan: &Plan,
    pop: &[PopulationRow],
    roster: &[Officer],
    history: &[PastInspection],
    randomness: &str,
) -> Manifest {
    draw(
        &DrawInputs {
            plan,
            population: pop,
            roster,
            history,
        },
        randomness,
    )
    .expect("draw")
}

/// Checks every rule of §6 on a manifest, independently of the code that
/// made it, and returns the loads it counted.
fn check_rules(
    m: &Manifest,
    plan: &Plan,
    roster: &[Officer],
    history: &[PastInspection],
) -> HashMap<String, u32> {
    let by_id: HashMap<&str, &Officer> =
        roster.iter().map(|o| (o.officer_id.as_str(), o)).collect();
    let cut = plan
        .as_of
        .checked_sub_months(chrono::Months::new(plan.recusal_months))
        .expect("window");
    let mut loads: HashMap<String, u32> = HashMap::new();
    for c in &m.chosen {
        let unstaffed = m.unstaffed.iter().any(|u| u.uscc == c.uscc);
        assert_eq!(
            c.officers.is_empty(),
            unstaffed,
            "{} staffed or listed",
            c.uscc
        );
        if !unstaffed {
            assert_eq!(c.officers.len(), plan.team_size as usize);
        }
        let mut seen = c.officers.clone();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), c.officers.len(), "an officer twice in one team");
        for id in &c.officers {
            let o = by_id[id.as_str()];
            assert!(o.qualifications.contains(&plan.field), "{id} unqualified");
            assert!(
                plan.allow_cross_region_teams || o.unit == c.region,
                "{id} of unit {} sent to {}",
                o.unit,
                c.region
            );
            assert!(
                !o.conflicts.contains(&c.uscc),
                "{id} has a conflict with {}",
                c.uscc
            );
            let recused = plan.recusal_months > 0
                && history
                    .iter()
                    .any(|h| h.uscc == c.uscc && h.officer_id == *id && h.inspected_on > cut);
            assert!(!recused, "{id} recused for {}", c.uscc);
            *loads.entry(id.clone()).or_default() += 1;
        }
    }
    for (id, l) in &loads {
        assert!(*l <= by_id[id.as_str()].capacity, "{id} over capacity");
    }
    for u in &m.unstaffed {
        let s = &u.shortfall;
        assert!(s.eligible < s.needed);
        let total =
            s.eligible + s.not_qualified + s.other_unit + s.conflict + s.recused + s.at_capacity;
        assert_eq!(total as usize, roster.len(), "every officer counted once");
    }
    for o in &m.load.officers {
        let l = loads.get(&o.officer_id).copied().unwrap_or(0);
        assert_eq!(l, o.load, "reported load of {}", o.officer_id);
        assert!(
            m.load.min <= l && l <= m.load.max,
            "load within the reported bounds"
        );
    }
    loads
}

fn roster_strategy() -> impl Strategy<Value = Vec<(usize, Vec<usize>, u32, Vec<usize>)>> {
    // (unit, fields, capacity, conflicts as population indices)
    proptest::collection::vec(
        (
            0..UNITS.len(),
            proptest::collection::vec(0..FIELDS.len(), 1..3),
            0u32..6,
            proptest::collection::vec(0usize..80, 0..4),
        ),
        0..24,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn no_rule_is_ever_broken(
        officers in roster_strategy(),
        field in 0..FIELDS.len(),
        team in 2u32..4,
        cross in any::<bool>(),
        recusals in proptest::collection::vec((0usize..80, 0usize..24, 0i64..1200), 0..30),
        randomness in "[a-z0-9]{6,12}",
    ) {
        let mut plan = plan();
        plan.field = FIELDS[field];
        plan.team_size = team;
        plan.allow_cross_region_teams = cross;
        plan.sampling.a = Quota::Ratio("0.3".parse().expect("ratio"));
        let pop = population(20);
        let roster: Vec<Officer> = officers
            .iter()
            .enumerate()
            .map(|(i, (u, fs, cap, conf))| {
                let mut o = officer(
                    &format!("OF-{i:03}"),
                    UNITS[*u],
                    &fs.iter().map(|f| FIELDS[*f]).collect::<Vec<_>>(),
                    *cap,
                );
                o.conflicts = conf.iter().map(|&k| pop[k].uscc).collect();
                o
            })
            .collect();
        let history: Vec<PastInspection> = recusals
            .iter()
            .filter(|(_, o, _)| *o < roster.len().max(1))
            .map(|(k, o, days)| PastInspection {
                uscc: pop[*k].uscc,
                officer_id: format!("OF-{o:03}"),
                inspected_on: plan.as_of - chrono::Duration::days(*days),
            })
            .collect();
        let m = run(&plan, &pop, &roster, &history, &randomness);
        check_rules(&m, &plan, &roster, &history);
        prop_assert!(verify(&m, &plan, &pop, &history, &roster).is_ok());
    }
}

fn big_roster() -> Vec<Officer> {
    // Large pools, so the deck and its candidate limit matter.
    let mut r = roster(40, 30);
    for (i, o) in r.iter_mut().enumerate() {
        if i % 7 == 0 {
            o.capacity = 3;
        }
    }
    r
}

#[test]
fn the_thread_count_does_not_change_a_byte() {
    let plan = plan();
    let pop = population(400);
    let mut roster = big_roster();
    roster[3].conflicts.push(pop[9].uscc);
    let history = vec![PastInspection {
        uscc: pop[19].uscc,
        officer_id: roster[5].officer_id.clone(),
        inspected_on: date("2025-01-02"),
    }];
    let with = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(|| run(&plan, &pop, &roster, &history, "thread-count").to_json())
    };
    let one = with(1);
    assert_eq!(one, with(2));
    assert_eq!(one, with(5));
}

#[test]
fn teams_are_the_least_loaded_so_loads_stay_within_one() {
    let mut plan = plan();
    plan.sampling.a = Quota::Ratio("0.5".parse().expect("ratio"));
    let pop = population(400);
    let roster = roster(40, 1000);
    for k in 0..5 {
        let m = run(&plan, &pop, &roster, &[], &format!("balance-{k}"));
        check_rules(&m, &plan, &roster, &[]);
        assert!(m.unstaffed.is_empty());
        // Within each district's pool (strata are by class, so districts
        // get different numbers of entities).
        let unit: HashMap<&str, &str> = roster
            .iter()
            .map(|o| (o.officer_id.as_str(), o.unit.as_str()))
            .collect();
        let mut by_unit: HashMap<&str, Vec<u32>> = HashMap::new();
        for o in &m.load.officers {
            by_unit
                .entry(unit[o.officer_id.as_str()])
                .or_default()
                .push(o.load);
        }
        for (u, loads) in by_unit {
            let (lo, hi) = (loads.iter().min(), loads.iter().max());
            assert!(
                hi.zip(lo).is_some_and(|(h, l)| h - l <= 1),
                "{u}: {loads:?}"
            );
        }
    }
}

/// Upper 0.1% point of χ² with 39 degrees of freedom.
const CHI2_999_DF39: f64 = 72.05;

#[test]
fn no_officer_is_favoured_for_an_entity() {
    // One stratum, one entity drawn per draw, one pool of 40 officers: over
    // many randomness values every officer should staff it equally often,
    // although each draw only looks at 4 candidates.
    let mut plan = plan();
    plan.sampling.a = Quota::Count(1);
    plan.sampling.b = Quota::Count(0);
    plan.sampling.c = Quota::Count(0);
    plan.sampling.d = Quota::Count(0);
    plan.stratum_minimum = 0;
    let pop: Vec<PopulationRow> = (0..50).map(|i| row("330902", i + 1, Class::A)).collect();
    let roster: Vec<Officer> = roster(40, 10)
        .into_iter()
        .filter(|o| o.unit.as_str() == "330902")
        .collect();
    assert_eq!(roster.len(), 40);
    let draws = 1000u32;
    let mut hits: HashMap<String, u32> = HashMap::new();
    for k in 0..draws {
        let m = run(&plan, &pop, &roster, &[], &format!("officer-fairness-{k}"));
        assert_eq!(m.chosen.len(), 1);
        for o in &m.chosen[0].officers {
            *hits.entry(o.clone()).or_default() += 1;
        }
    }
    let expected = f64::from(draws * plan.team_size) / roster.len() as f64;
    let chi2: f64 = roster
        .iter()
        .map(|o| {
            let h = f64::from(hits.get(&o.officer_id).copied().unwrap_or(0));
            (h - expected).powi(2) / expected
        })
        .sum();
    assert!(chi2 < CHI2_999_DF39, "χ² = {chi2:.1}");
    assert!(chi2 > 0.05 * 39.0, "suspiciously regular: χ² = {chi2:.2}");
}
