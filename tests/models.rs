//! Known answers for the committed models (pipelines/): hand-built entities,
//! the points of each variable, the totals, overrides and the combination.

use std::collections::HashMap;
use std::path::PathBuf;

use polars::prelude::*;
use tidewatch_model::Domain;
use tidewatch_scoring::points::ONE;
use tidewatch_scoring::{evaluate, Class, Policy, Want};
use tidewatch_state::FEATURES;

fn policy() -> Policy {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/policy.toml");
    Policy::load(&p).expect("the committed policy loads")
}

/// A frame of entities: every feature 0 (nullable ones null) unless given.
fn frame(rows: &[HashMap<&str, Option<i64>>]) -> DataFrame {
    let cols = FEATURES
        .iter()
        .map(|d| {
            let v: Vec<Option<i64>> = rows
                .iter()
                .map(|r| match r.get(d.name) {
                    Some(x) => *x,
                    None if d.nullable => None,
                    None => Some(0),
                })
                .collect();
            Column::new(d.name.into(), v)
        })
        .collect();
    DataFrame::new(rows.len(), cols).expect("frame")
}

fn quiet() -> HashMap<&'static str, Option<i64>> {
    HashMap::from([
        ("age_days", Some(4000)),
        ("registered_capital_fen", Some(200_000_000)),
        ("entity_kind", Some(1)),
        ("annual_report_on_time", Some(1)),
        ("inspections_24m", Some(2)),
        ("days_since_inspection", Some(100)),
    ])
}

fn risky() -> HashMap<&'static str, Option<i64>> {
    HashMap::from([
        ("age_days", Some(200)),
        ("registered_capital_fen", Some(5_000_000)),
        ("entity_kind", Some(2)),
        ("licence_count", Some(1)),
        ("key_changes_12m", Some(2)),
        ("legal_rep_changes_12m", Some(1)),
        ("capital_reduced_12m", Some(1)),
        ("annual_report_on_time", Some(0)),
        ("annual_reports_missing_3y", Some(2)),
        ("inspections_24m", Some(4)),
        ("problems_24m", Some(3)),
        ("unreachable_24m", Some(1)),
        ("failed_samplings_minor_24m", Some(1)),
        ("failed_samplings_major_24m", Some(1)),
        ("days_since_inspection", Some(30)),
        ("penalties_36m", Some(2)),
        ("heavy_penalties_36m", Some(1)),
        ("max_fine_36m_fen", Some(5_000_000)),
        ("repeat_violations_36m", Some(1)),
        ("related_in_trouble", Some(1)),
        ("related_entities", Some(2)),
        ("substantiated_complaints_12m", Some(2)),
        ("unresolved_complaints_12m", Some(1)),
        ("complaint_amount_12m_fen", Some(2_000_000)),
    ])
}

fn listed_but_certified() -> HashMap<&'static str, Option<i64>> {
    HashMap::from([
        ("age_days", Some(5000)),
        ("registered_capital_fen", Some(1_000_000_000)),
        ("entity_kind", Some(1)),
        ("serious_listed", Some(1)),
        ("certifications", Some(2)),
        ("awards_36m", Some(1)),
    ])
}

fn food_shop() -> HashMap<&'static str, Option<i64>> {
    HashMap::from([
        ("age_days", Some(500)),
        ("entity_kind", Some(1)),
        ("licence_count", Some(1)),
        ("annual_report_on_time", Some(1)),
        ("failed_samplings_critical_24m", Some(1)),
        ("food_failed_samplings_24m", Some(1)),
        ("food_complaints_12m", Some(3)),
        ("certifications", Some(1)),
    ])
}

fn run(
    rows: &[HashMap<&str, Option<i64>>],
    food: &[bool],
) -> (Policy, tidewatch_scoring::Evaluation) {
    let p = policy();
    let df = frame(rows);
    let n = rows.len();
    let coverage: Vec<Vec<bool>> = p
        .fields
        .iter()
        .map(|f| {
            if f.domain == Domain::Food {
                food.to_vec()
            } else {
                vec![f.domain == Domain::General; n]
            }
        })
        .collect();
    let ev = evaluate(
        &p,
        &df,
        &coverage,
        Want {
            points: true,
            reasons: true,
        },
    )
    .expect("evaluates");
    (p, ev)
}

fn points_of(
    p: &Policy,
    ev: &tidewatch_scoring::Evaluation,
    d: Domain,
    row: usize,
) -> HashMap<String, i64> {
    let fi = p.fields.iter().position(|f| f.domain == d).expect("field");
    let pts = ev.fields[fi].scores.points.as_ref().expect("points");
    p.fields[fi]
        .model
        .variables
        .iter()
        .enumerate()
        .map(|(vi, v)| (v.name.clone(), pts[vi][row] / ONE))
        .collect()
}

#[test]
fn general_model_known_answers() {
    let (p, ev) = run(&[quiet(), risky(), listed_but_certified()], &[false; 3]);
    let g = ev.field(Domain::General).expect("general");

    // A quiet, old, well-capitalised enterprise: base points only.
    assert_eq!(g.scores.total[0], 100 * ONE);
    assert_eq!(g.scores.risk[0], 100);
    assert_eq!(g.class[0], Some(Class::A));

    let r = points_of(&p, &ev, Domain::General, 1);
    let expect = [
        ("age_days", 50),
        ("registered_capital_fen", 20),
        ("entity_kind", 5),
        ("licence_count", 10),
        ("key_changes_12m", 40),
        ("legal_rep_changes_12m", 25),
        ("capital_reduced_12m", 20),
        ("annual_report_on_time", 40),
        ("annual_reports_missing_3y", 90),
        ("problem_rate_24m", 80),
        ("problems_24m", 60),
        ("unreachable_24m", 80),
        ("failed_samplings_24m", 90),
        ("penalties_36m", 110),
        ("heavy_penalties_36m", 150),
        ("max_fine_36m_fen", 30),
        ("repeat_violations_36m", 100),
        ("related_in_trouble", 40),
        ("related_entities", 5),
        ("substantiated_complaints_12m", 60),
        ("unresolved_complaints_12m", 25),
        ("complaint_amount_12m_fen", 20),
        ("days_since_inspection", 0),
        ("obstructed_24m", 0),
    ];
    for (v, pts) in expect {
        assert_eq!(r[v], pts, "{v}");
    }
    let sum: i64 = r.values().sum();
    assert_eq!(sum, 1150);
    assert_eq!(g.scores.total[1], 1250 * ONE);
    assert_eq!(g.scores.risk[1], 1000, "clamped to 1000");
    assert_eq!(g.class[1], Some(Class::D));
    // Reasons: the three largest contributions, ties by variable order.
    let rs = g.scores.reasons.as_ref().expect("reasons")[1];
    let names: Vec<&str> = rs
        .iter()
        .map(|x| p.fields[0].model.variables[x.var as usize].name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "heavy_penalties_36m",
            "penalties_36m",
            "repeat_violations_36m"
        ]
    );

    // Never inspected (missing bins), certified, awarded, but on the
    // serious-violation list: 380 points is class C, the override makes it D.
    let l = points_of(&p, &ev, Domain::General, 2);
    assert_eq!(l["annual_report_on_time"], 10);
    assert_eq!(l["problem_rate_24m"], 15);
    assert_eq!(l["days_since_inspection"], 20);
    assert_eq!(l["certifications"], -35);
    assert_eq!(l["awards_36m"], -30);
    assert_eq!(g.scores.total[2], 380 * ONE);
    assert_eq!(g.scores.class_of(2), Some(Class::C));
    assert_eq!(g.class[2], Some(Class::D));
    let o = ev.override_applied[2].expect("override");
    assert_eq!(p.overrides[o as usize].reason, "列入严重违法失信名单");
}

#[test]
fn food_model_and_combination() {
    let (p, ev) = run(
        &[food_shop(), quiet(), listed_but_certified()],
        &[true, false, true],
    );
    let f = points_of(&p, &ev, Domain::Food, 0);
    assert_eq!(f["food_inspections_24m"], 30);
    assert_eq!(f["food_problem_rate_24m"], 0, "missing ratio bin");
    assert_eq!(f["food_failed_samplings_24m"], 80);
    assert_eq!(f["food_complaints_12m"], 50);
    assert_eq!(f["age_days"], 30);
    assert_eq!(f["failed_samplings_critical_24m"], 150);
    assert_eq!(f["certifications"], -30);
    let food = ev.field(Domain::Food).expect("food");
    assert_eq!(food.scores.total[0], 410 * ONE);
    assert_eq!(food.scores.class_of(0), Some(Class::C));
    let g = ev.field(Domain::General).expect("general");
    // General: 100 + 30 age + 20 capital + 10 licence + 15 never inspected
    // + 40 failed sampling + 120 critical + 20 days unknown − 20 certified.
    assert_eq!(g.scores.total[0], 335 * ONE);
    assert_eq!(g.class[0], Some(Class::B));
    assert_eq!(food.class[0], Some(p.combine(Class::B, Class::C)));
    assert_eq!(food.class[0], Some(Class::C));
    // Not covered: no food class.
    assert_eq!(food.class[1], None);
    // General D by override, food model A: the matrix gives C, the override D.
    assert_eq!(food.scores.class_of(2), Some(Class::A));
    assert_eq!(p.combine(Class::D, Class::A), Class::C);
    assert_eq!(food.class[2], Some(Class::D));
}

#[test]
fn every_specialized_model_scores_its_field_block() {
    let p = policy();
    for f in &p.fields {
        if f.domain == Domain::General {
            continue;
        }
        let pref = match f.domain {
            Domain::Food => "food",
            Domain::SpecialEquipment => "se",
            Domain::IndustrialProduct => "ip",
            _ => "cn",
        };
        // One penalty and one failed sampling in the field, inspected once.
        let row = HashMap::from([
            ("age_days", Some(4000)),
            ("entity_kind", Some(1)),
            (
                Box::leak(format!("{pref}_inspections_24m").into_boxed_str()) as &str,
                Some(1),
            ),
            (
                Box::leak(format!("{pref}_penalties_36m").into_boxed_str()) as &str,
                Some(1),
            ),
            (
                Box::leak(format!("{pref}_failed_samplings_24m").into_boxed_str()) as &str,
                Some(1),
            ),
        ]);
        let (p, ev) = run(&[row], &[true]);
        let pts = points_of(&p, &ev, f.domain, 0);
        assert_eq!(pts[&format!("{pref}_inspections_24m")], 0, "{}", f.domain);
        assert_eq!(pts[&format!("{pref}_penalties_36m")], 90, "{}", f.domain);
        assert_eq!(
            pts[&format!("{pref}_failed_samplings_24m")],
            80,
            "{}",
            f.domain
        );
        let fe = ev.field(f.domain).expect("field");
        assert_eq!(fe.scores.total[0], 270 * ONE, "{}", f.domain);
        assert_eq!(fe.scores.class_of(0), Some(Class::B), "{}", f.domain);
    }
}
