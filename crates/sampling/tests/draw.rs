//! Determinism, verification, constraints and replacement.

mod common;

use common::*;
use tidewatch_model::Domain;
use tidewatch_sampling::draw::PastInspection;
use tidewatch_sampling::{
    draw, replace, verify, Class, DrawError, DrawInputs, Manifest, Mismatch, Quota,
};

const RANDOMNESS: &str = "8f3c0d9a1b2e4f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";

fn run(
    plan: &tidewatch_sampling::Plan,
    pop: &[tidewatch_sampling::PopulationRow],
    roster: &[tidewatch_model::Officer],
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

#[test]
fn same_inputs_give_identical_bytes_whatever_the_input_order() {
    let plan = plan();
    let pop = population(60);
    let roster = roster(6, 50);
    let history = vec![PastInspection {
        uscc: pop[3].uscc,
        officer_id: "ZS330902-001".into(),
        inspected_on: date("2025-01-10"),
    }];
    let a = run(&plan, &pop, &roster, &history, RANDOMNESS);
    let b = run(&plan, &pop, &roster, &history, RANDOMNESS);
    assert_eq!(a.to_json(), b.to_json());

    let mut pop_rev = pop.clone();
    pop_rev.reverse();
    let mut roster_rev = roster.clone();
    roster_rev.reverse();
    for o in &mut roster_rev {
        o.qualifications.reverse();
    }
    let c = run(&plan, &pop_rev, &roster_rev, &history, RANDOMNESS);
    assert_eq!(a.to_json(), c.to_json());
    assert!(!a.chosen.is_empty());
    verify(&a, &plan, &pop_rev, &history, &roster_rev).expect("verifies");
}

#[test]
fn any_changed_input_changes_the_result_and_verify_names_it() {
    let plan = plan();
    let pop = population(60);
    let roster = roster(6, 50);
    let base = run(&plan, &pop, &roster, &[], RANDOMNESS);
    verify(&base, &plan, &pop, &[], &roster).expect("verifies");

    // One entity's name.
    let mut pop2 = pop.clone();
    pop2[17].name.push('X');
    let other = run(&plan, &pop2, &roster, &[], RANDOMNESS);
    assert_ne!(other.result_digest, base.result_digest);
    match verify(&base, &plan, &pop2, &[], &roster) {
        Err(Mismatch::Population { .. }) => {}
        e => panic!("expected a population mismatch, got {e:?}"),
    }

    // One entity dropped that was chosen: the hint names it.
    let dropped = base.chosen[0].uscc;
    let pop3: Vec<_> = pop.iter().filter(|r| r.uscc != dropped).cloned().collect();
    match verify(&base, &plan, &pop3, &[], &roster) {
        Err(Mismatch::Population { hint: Some(h), .. }) => {
            assert!(h.contains(dropped.as_str()), "{h}")
        }
        e => panic!("expected a population mismatch with a hint, got {e:?}"),
    }

    // One plan field.
    let mut plan2 = plan.clone();
    plan2.team_size = 3;
    let other = run(&plan2, &pop, &roster, &[], RANDOMNESS);
    assert_ne!(other.result_digest, base.result_digest);
    match verify(&base, &plan2, &pop, &[], &roster) {
        Err(Mismatch::PlanField { field, .. }) => assert_eq!(field, "team_size"),
        e => panic!("expected a plan field mismatch, got {e:?}"),
    }

    // One randomness byte.
    let mut r2 = RANDOMNESS.to_string();
    r2.replace_range(0..1, "9");
    let other = run(&plan, &pop, &roster, &[], &r2);
    assert_ne!(other.result_digest, base.result_digest);
    let mut forged = base.clone();
    forged.randomness = r2;
    match verify(&forged, &plan, &pop, &[], &roster) {
        Err(Mismatch::Value { what, .. }) => assert!(what.starts_with("seed"), "{what}"),
        e => panic!("expected a seed mismatch, got {e:?}"),
    }

    // The roster.
    let mut roster2 = roster.clone();
    roster2[0].capacity += 1;
    match verify(&base, &plan, &pop, &[], &roster2) {
        Err(Mismatch::Value { what, .. }) => assert_eq!(what, "roster_digest"),
        e => panic!("expected a roster mismatch, got {e:?}"),
    }
}

#[test]
fn a_tampered_list_is_pinpointed() {
    let plan = plan();
    let pop = population(60);
    let roster = roster(6, 50);
    let base = run(&plan, &pop, &roster, &[], RANDOMNESS);

    // Swapping an officer without fixing the digest: the digest says so.
    let mut m = base.clone();
    m.chosen[2].officers[0] = "ZS330902-999".into();
    match verify(&m, &plan, &pop, &[], &roster) {
        Err(Mismatch::Value { what, .. }) => assert!(what.starts_with("result_digest"), "{what}"),
        e => panic!("{e:?}"),
    }
    // ... and with the digest recomputed, the entry itself.
    m.result_digest = tidewatch_sampling::draw::result_digest(&m.chosen, &m.replacements);
    match verify(&m, &plan, &pop, &[], &roster) {
        Err(Mismatch::Value { what, .. }) => {
            assert_eq!(what, format!("chosen[2] ({})", m.chosen[2].uscc))
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn officers_respect_every_rule_and_shortfalls_are_reported() {
    let mut plan = plan();
    plan.team_size = 2;
    let pop = population(40);
    let mut roster = roster(3, 100);
    // An unqualified officer in every unit, and conflicts for two entities.
    for r in ["330902", "330903", "330921", "330922"] {
        roster.push(officer(&format!("X{r}"), r, &[Domain::Construction], 100));
    }
    let conflicted = pop[9].uscc; // class D, always drawn
    roster[0].conflicts.push(conflicted);
    let history = vec![PastInspection {
        uscc: conflicted,
        officer_id: "ZS330902-001".into(),
        inspected_on: date("2024-12-01"),
    }];
    let m = run(&plan, &pop, &roster, &history, RANDOMNESS);
    verify(&m, &plan, &pop, &history, &roster).expect("verifies");
    let by_id: std::collections::HashMap<_, _> =
        roster.iter().map(|o| (o.officer_id.as_str(), o)).collect();
    let mut loads = std::collections::HashMap::<&str, u32>::new();
    for c in &m.chosen {
        for id in &c.officers {
            let o = by_id[id.as_str()];
            assert!(o.qualifications.contains(&Domain::Food), "{id} unqualified");
            assert_eq!(o.unit, c.region, "{id} from another unit");
            assert!(!o.conflicts.contains(&c.uscc), "{id} conflicted");
            *loads.entry(id.as_str()).or_default() += 1;
        }
        if !c.officers.is_empty() {
            assert_eq!(c.officers.len(), 2);
        }
    }
    // The conflicted entity has ZS330902-000 (conflict) and -001 (recused)
    // out, leaving one officer: unstaffed, with the reasons counted.
    let u = m
        .unstaffed
        .iter()
        .find(|u| u.uscc == conflicted)
        .expect("reported unstaffed");
    assert_eq!(u.shortfall.needed, 2);
    assert_eq!(u.shortfall.eligible, 1);
    assert_eq!(u.shortfall.conflict, 1);
    assert_eq!(u.shortfall.recused, 1);
    assert_eq!(u.shortfall.not_qualified, 4);
    assert_eq!(u.shortfall.other_unit, 9);
    let c = m
        .chosen
        .iter()
        .find(|c| c.uscc == conflicted)
        .expect("chosen");
    assert!(c.officers.is_empty());
    for ol in &m.load.officers {
        assert_eq!(
            loads.get(ol.officer_id.as_str()).copied().unwrap_or(0),
            ol.load
        );
        assert!(ol.load >= m.load.min && ol.load <= m.load.max);
    }
}

#[test]
fn capacity_is_never_exceeded_and_runs_out_visibly() {
    let mut plan = plan();
    plan.sampling.d = Quota::Count(100);
    let pop = population(100);
    let roster = roster(2, 3); // 2 officers per unit, 3 inspections each
    let m = run(&plan, &pop, &roster, &[], RANDOMNESS);
    assert!(m.load.max <= 3);
    assert!(!m.unstaffed.is_empty());
    let staffed_per_unit = 3; // 2 officers × 3 slots / team of 2
    for r in ["330902", "330903", "330921", "330922"] {
        let n = m
            .chosen
            .iter()
            .filter(|c| c.region.as_str() == r && !c.officers.is_empty())
            .count();
        assert_eq!(n, staffed_per_unit);
    }
    assert!(m.unstaffed.iter().all(|u| u.shortfall.at_capacity == 2));
}

#[test]
fn loads_are_balanced_when_nothing_else_constrains() {
    let mut plan = plan();
    plan.allow_cross_region_teams = true;
    let pop = population(100);
    let roster = roster(5, 1000);
    let m = run(&plan, &pop, &roster, &[], RANDOMNESS);
    assert!(m.unstaffed.is_empty());
    assert!(
        m.load.max - m.load.min <= 1,
        "{:?}",
        (m.load.min, m.load.max)
    );
}

#[test]
fn replacement_takes_the_next_in_rank_order_of_the_same_stratum() {
    let plan = plan();
    let pop = population(60);
    let roster = roster(6, 50);
    let inputs = DrawInputs {
        plan: &plan,
        population: &pop,
        roster: &roster,
        history: &[],
    };
    let base = draw(&inputs, RANDOMNESS).expect("draw");
    let target = base
        .chosen
        .iter()
        .find(|c| c.class == Class::B)
        .expect("a B entity")
        .clone();
    let m = replace(&base, &inputs, target.uscc, "7 已关闭停业").expect("replace");
    assert_eq!(m.replacements.len(), 1);
    let rep = &m.replacements[0];
    assert_eq!(rep.replaced, target.uscc);
    let new = m
        .chosen
        .iter()
        .find(|c| Some(c.uscc) == rep.replacement)
        .expect("replacement on the list");
    assert_eq!(new.replaces, Some(target.uscc));
    assert_eq!(new.stratum, target.stratum);
    // Every other eligible B entity not on the list ranks after it.
    let chosen_b: Vec<_> = base.chosen.iter().filter(|c| c.class == Class::B).collect();
    let max_chosen = chosen_b.iter().map(|c| c.rank.clone()).max().expect("some");
    assert!(new.rank > max_chosen);
    assert!(!m.chosen.iter().any(|c| c.uscc == target.uscc));
    assert_eq!(m.chosen.len(), base.chosen.len());
    assert_ne!(m.result_digest, base.result_digest);
    verify(&m, &plan, &pop, &[], &roster).expect("replacement verifies");
    // A second replacement builds on the first and still verifies.
    let again = replace(&m, &inputs, new.uscc, "6 无法联系").expect("replace again");
    verify(&again, &plan, &pop, &[], &roster).expect("verifies");
    assert_eq!(again.replacements.len(), 2);
    // Entities not on the list cannot be replaced.
    assert_eq!(
        replace(&again, &inputs, target.uscc, "x").err(),
        Some(DrawError::NotChosen(target.uscc))
    );
}

#[test]
fn exclusions_apply_before_ranking() {
    let mut plan = plan();
    plan.sampling.a = Quota::Ratio(1.into());
    let mut pop = population(20);
    pop[0].deregistered = true; // A
    pop[1].revoked = true; // A
    pop[2].last_inspected_on = Some(date("2025-01-01")); // A, within 12 months
    pop[3].last_inspected_on = Some(date("2024-06-30")); // exactly 12 months: eligible
    pop[9].last_inspected_on = Some(date("2025-06-01")); // D: inspected anyway
    plan.exclusions.open_plan_usccs = vec![pop[4].uscc];
    let m = run(&plan, &pop, &roster(20, 100), &[], RANDOMNESS);
    let a = m.strata.iter().find(|s| s.stratum == "A").expect("A");
    assert_eq!(
        (
            a.excluded_deregistered,
            a.excluded_revoked,
            a.excluded_recently_inspected,
            a.excluded_open_plan
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(a.eligible, a.size - 4);
    assert_eq!(a.drawn, a.eligible);
    for r in &pop[..3] {
        assert!(!m.chosen.iter().any(|c| c.uscc == r.uscc));
    }
    assert!(m.chosen.iter().any(|c| c.uscc == pop[3].uscc));
    assert!(m.chosen.iter().any(|c| c.uscc == pop[9].uscc));
}

#[test]
fn scope_and_region_strata() {
    let mut plan = plan();
    plan.regions = vec![region("330902"), region("330921")];
    plan.stratify_by_region = true;
    plan.industries = vec!["F52".into()];
    let mut pop = population(30);
    pop[0].industry = "C1361".into();
    let m = run(&plan, &pop, &roster(10, 100), &[], RANDOMNESS);
    let labels: Vec<_> = m.strata.iter().map(|s| s.stratum.as_str()).collect();
    assert_eq!(
        labels,
        [
            "A/330902", "A/330921", "B/330902", "B/330921", "C/330902", "C/330921", "D/330902",
            "D/330921"
        ]
    );
    assert!(m
        .chosen
        .iter()
        .all(|c| c.region.as_str() == "330902" || c.region.as_str() == "330921"));
    assert_eq!(m.strata[0].size, 17); // 18 A per region, one outside the industry scope
}

#[test]
fn bad_inputs_are_refused_clearly() {
    let plan = plan();
    let pop = population(5);
    let roster = roster(2, 5);
    let inputs = DrawInputs {
        plan: &plan,
        population: &pop,
        roster: &roster,
        history: &[],
    };
    assert_eq!(draw(&inputs, ""), Err(DrawError::EmptyRandomness));
    assert!(matches!(
        draw(&inputs, " abc"),
        Err(DrawError::BadRandomness(_))
    ));
    let mut dup = pop.clone();
    dup.push(pop[0].clone());
    let e = draw(
        &DrawInputs {
            population: &dup,
            ..inputs
        },
        "r",
    )
    .expect_err("duplicate");
    assert!(e.to_string().contains(pop[0].uscc.as_str()), "{e}");
    let mut r2 = roster.clone();
    r2.push(roster[0].clone());
    assert!(matches!(
        draw(
            &DrawInputs {
                roster: &r2,
                ..inputs
            },
            "r"
        ),
        Err(DrawError::DuplicateOfficer(_))
    ));
}

#[test]
fn samples_are_the_list_with_ids_that_repeat_only_for_the_same_record() {
    use tidewatch_sampling::sample_records;
    let plan = plan();
    let pop = population(60);
    let roster = roster(6, 50);
    let inputs = DrawInputs {
        plan: &plan,
        population: &pop,
        roster: &roster,
        history: &[],
    };
    let base = draw(&inputs, RANDOMNESS).expect("draw");
    let s = sample_records(&base);
    assert_eq!(s.len(), base.chosen.len());
    for (r, c) in s.iter().zip(&base.chosen) {
        assert_eq!((r.uscc, r.status), (c.uscc, "chosen"));
        assert_eq!(r.officers, c.officers);
        assert_eq!(r.rank.as_deref(), Some(c.rank.as_str()));
        assert_eq!(r.class, Some(c.class));
        assert_eq!(r.id.len(), 32);
    }
    // The same draw again: the same records.
    assert_eq!(
        sample_records(&run(&plan, &pop, &roster, &[], RANDOMNESS)),
        s
    );
    // Distinct records have distinct ids.
    let ids: std::collections::BTreeSet<&str> = s.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), s.len());
    // After a replacement: every untouched entity keeps its record and id,
    // the replaced one is reported as such, and its successor names it.
    let gone = base
        .chosen
        .iter()
        .find(|c| c.class == Class::B)
        .expect("a B entity")
        .uscc;
    let m = replace(&base, &inputs, gone, "7").expect("replace");
    let after = sample_records(&m);
    let new = m.replacements[0].replacement.expect("a replacement");
    for r in &s {
        if r.uscc != gone {
            assert!(after.contains(r), "{} unchanged", r.uscc);
        }
    }
    let out = after
        .iter()
        .find(|r| r.uscc == gone)
        .expect("the replaced entity");
    assert_eq!(out.status, "replaced");
    assert_eq!(out.replaced_by, Some(new));
    assert_eq!(out.reason.as_deref(), Some("7"));
    assert!(out.officers.is_empty() && out.rank.is_none());
    let came = after
        .iter()
        .find(|r| r.uscc == new)
        .expect("the new entity");
    assert_eq!((came.status, came.replaces), ("chosen", Some(gone)));
    assert_eq!(after.len(), s.len() + 1);
}
