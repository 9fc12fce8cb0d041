//! Rounding, clamping, plan validation and the per-stratum count property.

mod common;

use common::*;
use proptest::prelude::*;
use rust_decimal::Decimal;
use tidewatch_model::Domain;
use tidewatch_sampling::plan::stratum_quota;
use tidewatch_sampling::{draw, Class, DrawInputs, Plan, PlanError, Quota};

fn r(s: &str) -> Quota {
    ratio(s)
}

#[test]
fn ratios_round_half_up() {
    assert_eq!(stratum_quota(&r("0.05"), 0, 10), 1); // 0.5 → 1
    assert_eq!(stratum_quota(&r("0.05"), 0, 9), 0); // 0.45 → 0
    assert_eq!(stratum_quota(&r("0.25"), 0, 10), 3); // 2.5 → 3
    assert_eq!(stratum_quota(&r("0.35"), 0, 10), 4); // 3.5 → 4
    assert_eq!(stratum_quota(&r("0.249"), 0, 10), 2); // 2.49 → 2
    assert_eq!(stratum_quota(&r("0.03"), 0, 50), 2); // 1.5 → 2
    assert_eq!(stratum_quota(&r("0.6"), 0, 0), 0);
    assert_eq!(stratum_quota(&r("1"), 0, 7), 7);
}

#[test]
fn minimum_and_size_clamp() {
    assert_eq!(stratum_quota(&r("0.01"), 3, 100), 3); // 1 → at least 3
    assert_eq!(stratum_quota(&r("0.01"), 3, 2), 2); // but never more than the stratum
    assert_eq!(stratum_quota(&r("0"), 1, 10), 1); // the minimum applies to ratio 0 too
    assert_eq!(stratum_quota(&r("0"), 1, 0), 0);
    assert_eq!(stratum_quota(&Quota::Count(5), 10, 100), 5); // counts ignore the minimum
    assert_eq!(stratum_quota(&Quota::Count(500), 0, 100), 100);
}

type Edit = Box<dyn Fn(&mut Plan)>;

#[test]
fn invalid_plans_are_refused_with_a_reason() {
    let ok = plan();
    ok.validate().expect("valid");
    let cases: Vec<(Edit, PlanError)> = vec![
        (Box::new(|p| p.team_size = 1), PlanError::TeamTooSmall(1)),
        (Box::new(|p| p.id.clear()), PlanError::EmptyId),
        (
            Box::new(|p| p.id = "../etc".into()),
            PlanError::BadId("../etc".into()),
        ),
        (
            Box::new(|p| p.sampling.c = ratio("1.2")),
            PlanError::RatioOutOfRange {
                class: Class::C,
                ratio: Decimal::new(12, 1),
            },
        ),
        (
            Box::new(|p| p.sampling.a = ratio("-0.1")),
            PlanError::RatioOutOfRange {
                class: Class::A,
                ratio: Decimal::new(-1, 1),
            },
        ),
        (
            Box::new(|p| p.industries = vec!["c13".into()]),
            PlanError::BadIndustry("c13".into()),
        ),
        (
            Box::new(|p| p.regions = vec![region("330902"), region("330902")]),
            PlanError::Duplicate {
                what: "region",
                value: "330902".into(),
            },
        ),
        (
            Box::new(|p| p.entity_kinds = Some(vec![])),
            PlanError::NoEntityKinds,
        ),
        (
            Box::new(|p| p.randomness_source = " ".into()),
            PlanError::NoRandomnessSource,
        ),
    ];
    for (edit, want) in cases {
        let mut p = ok.clone();
        edit(&mut p);
        assert_eq!(p.validate(), Err(want));
    }
    // Unknown field names and keys are refused when the plan is read.
    let mut json: serde_json::Value = serde_json::from_slice(&ok.canonical_json()).expect("json");
    json["field"] = "fishing".into();
    let e = Plan::from_json(&json.to_string()).expect_err("unknown field");
    assert!(e.to_string().contains("fishing"), "{e}");
    let mut json: serde_json::Value = serde_json::from_slice(&ok.canonical_json()).expect("json");
    json["team"] = 2.into();
    assert!(Plan::from_json(&json.to_string()).is_err());
    // And a valid plan round-trips through its canonical JSON.
    let back =
        Plan::from_json(std::str::from_utf8(&ok.canonical_json()).expect("utf8")).expect("plan");
    assert_eq!(back.digest(), ok.digest());
    assert_eq!(back.field, Domain::Food);
}

fn quota_strategy() -> impl Strategy<Value = Quota> {
    prop_oneof![
        (0u32..=1000).prop_map(|x| Quota::Ratio(Decimal::new(x as i64, 3))),
        (0u64..40).prop_map(Quota::Count),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn drawn_count_per_stratum_is_exactly_the_quota(
        sizes in proptest::collection::vec(0u32..40, 4),
        quotas in proptest::collection::vec(quota_strategy(), 4),
        minimum in 0u64..5,
        by_region in any::<bool>(),
        randomness in "[a-f0-9]{8,16}",
    ) {
        let mut plan = plan();
        plan.sampling.a = quotas[0].clone();
        plan.sampling.b = quotas[1].clone();
        plan.sampling.c = quotas[2].clone();
        plan.sampling.d = quotas[3].clone();
        plan.stratum_minimum = minimum;
        plan.stratify_by_region = by_region;
        let mut pop = Vec::new();
        let mut n = 0;
        for (ci, class) in Class::ALL.iter().enumerate() {
            for i in 0..sizes[ci] {
                n += 1;
                let reg = if i % 2 == 0 { "330902" } else { "330903" };
                pop.push(row(reg, n, *class));
            }
        }
        let roster = roster(3, 1);
        let m = draw(&DrawInputs { plan: &plan, population: &pop, roster: &roster, history: &[] }, &randomness).expect("draw");
        for s in &m.strata {
            let want = stratum_quota(plan.sampling.get(s.class), minimum, s.eligible);
            prop_assert_eq!(s.quota, want);
            prop_assert_eq!(s.drawn, want);
            let on_list = m.chosen.iter().filter(|c| c.stratum == s.stratum).count() as u64;
            prop_assert_eq!(on_list, want);
        }
        let total: u64 = m.strata.iter().map(|s| s.size).sum();
        prop_assert_eq!(total, pop.len() as u64);
    }
}
