//! Selection frequencies match the stratum ratios. Fixed randomness values,
//! so the outcome is the same on every run and cannot flake.

mod common;

use std::collections::HashMap;

use common::*;
use tidewatch_sampling::{draw, Class, DrawInputs, PopulationRow};

/// Upper 0.1% points of χ² (scipy.stats.chi2.ppf(0.999, df)). Sampling
/// without replacement makes the statistic about (1 − p)·χ²(n − 1), so these
/// thresholds are conservative.
const CHI2_999: [(u64, f64); 3] = [(199, 266.39), (39, 72.05), (19, 43.82)];

#[test]
fn selection_frequency_matches_the_stratum_ratio() {
    let mut plan = plan();
    plan.sampling.a = ratio("0.05"); // 200 → 10
    plan.sampling.c = ratio("0.5"); // 40 → 20
    plan.sampling.d = ratio("0.75"); // 20 → 15
    plan.allow_cross_region_teams = true;
    let mut pop: Vec<PopulationRow> = Vec::new();
    for i in 0..200 {
        pop.push(row("330902", i + 1, Class::A));
    }
    for i in 0..40 {
        pop.push(row("330903", 1000 + i, Class::C));
    }
    for i in 0..20 {
        pop.push(row("330921", 2000 + i, Class::D));
    }
    let roster = roster(4, 1000);
    let inputs = DrawInputs {
        plan: &plan,
        population: &pop,
        roster: &roster,
        history: &[],
    };
    let draws = 400u64;
    let mut hits: HashMap<_, u64> = HashMap::new();
    for k in 0..draws {
        let m = draw(&inputs, &format!("statistical-test-{k}")).expect("draw");
        for c in &m.chosen {
            *hits.entry(c.uscc).or_default() += 1;
        }
        // Loads stay within the reported bounds, which are at most one apart
        // when nothing but balance decides.
        assert!(m.load.max - m.load.min <= 1);
        let mut loads: HashMap<&str, u32> = HashMap::new();
        for c in &m.chosen {
            for o in &c.officers {
                *loads.entry(o.as_str()).or_default() += 1;
            }
        }
        for o in &m.load.officers {
            let l = loads.get(o.officer_id.as_str()).copied().unwrap_or(0);
            assert_eq!(l, o.load);
            assert!(m.load.min <= l && l <= m.load.max);
        }
    }
    for (class, size, drawn) in [
        (Class::A, 200u64, 10u64),
        (Class::C, 40, 20),
        (Class::D, 20, 15),
    ] {
        let expected = (draws * drawn) as f64 / size as f64;
        let chi2: f64 = pop
            .iter()
            .filter(|r| r.class == class)
            .map(|r| {
                let o = hits.get(&r.uscc).copied().unwrap_or(0) as f64;
                (o - expected).powi(2) / expected
            })
            .sum();
        let limit = CHI2_999
            .iter()
            .find(|(df, _)| *df == size - 1)
            .map(|(_, v)| *v)
            .expect("threshold");
        assert!(chi2 < limit, "class {class}: χ² = {chi2:.1} ≥ {limit}");
        // And not suspiciously regular either (a broken ranking that cycles
        // deterministically would give χ² ≈ 0).
        assert!(
            chi2 > 0.05 * (size - 1) as f64,
            "class {class}: χ² = {chi2:.2}"
        );
    }
}
