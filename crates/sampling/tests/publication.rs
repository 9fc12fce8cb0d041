//! What is published around a draw: the commitment, the snapshot CSV read
//! back, plan files with defaults, the preview, the list and the
//! publication file.

mod common;

use common::*;
use proptest::prelude::*;
use tidewatch_model::Domain;
use tidewatch_sampling::list::{list_csv, list_entries, publication_csv};
use tidewatch_sampling::{
    canonical_csv, commit, draw, parse_csv, preview, verify_commitment, Defaults, DrawInputs,
    Mismatch, PlanError, PlanFile, Quota,
};

const DEFAULTS: &str = r#"
stratum_minimum = 1
stratify_by_region = true
team_size = 2
allow_cross_region_teams = false
recusal_months = 24
[sampling]
A = { ratio = "0.03" }
B = { ratio = "0.10" }
C = { ratio = "0.40" }
D = { ratio = "0.80" }
[exclusions]
deregistered = true
revoked = true
inspected_within_months = 12
"#;

#[test]
fn the_commitment_binds_the_roster_and_the_history() {
    let plan = plan();
    let pop = population(30);
    let roster = roster(4, 50);
    let inputs = DrawInputs {
        plan: &plan,
        population: &pop,
        roster: &roster,
        history: &[],
    };
    let c = commit(&inputs).expect("commit");
    assert_eq!(c.commitment_digest, c.expected_digest());
    assert_eq!(c.roster_officers, 16);
    let m = draw(&inputs, "reveal").expect("draw");
    verify_commitment(&m, &c).expect("follows");

    // A roster adjusted after the commitment: the draw no longer follows it.
    let mut roster2 = roster.clone();
    roster2[0].capacity = 0;
    let m2 = draw(
        &DrawInputs {
            roster: &roster2,
            ..inputs
        },
        "reveal",
    )
    .expect("draw");
    match verify_commitment(&m2, &c) {
        Err(Mismatch::Commitment { what, .. }) => assert_eq!(what, "roster_digest"),
        e => panic!("{e:?}"),
    }
    // So does a history that gained a record.
    let history = vec![tidewatch_sampling::PastInspection {
        uscc: pop[0].uscc,
        officer_id: roster[0].officer_id.clone(),
        inspected_on: date("2025-01-01"),
    }];
    let m3 = draw(
        &DrawInputs {
            history: &history,
            ..inputs
        },
        "reveal",
    )
    .expect("draw");
    match verify_commitment(&m3, &c) {
        Err(Mismatch::Commitment { what, .. }) => assert_eq!(what, "history_digest"),
        e => panic!("{e:?}"),
    }
    // And a commitment edited by hand no longer matches its own digest.
    let mut forged = c.clone();
    forged.roster_digest = m2.roster_digest.clone();
    match verify_commitment(&m2, &forged) {
        Err(Mismatch::Value { what, .. }) => assert!(what.starts_with("commitment_digest")),
        e => panic!("{e:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_snapshot_csv_reads_back_to_the_same_rows(
        names in proptest::collection::vec("[a-z,\"\r\n 舟山 ]{0,12}", 1..20),
        flags in proptest::collection::vec((any::<bool>(), any::<bool>(), proptest::option::of(0i64..900)), 20),
    ) {
        let mut pop = population(5);
        pop.truncate(names.len());
        for (r, (n, (d, v, days))) in pop.iter_mut().zip(names.iter().zip(&flags)) {
            r.name = n.clone();
            r.deregistered = *d;
            r.revoked = *v;
            r.last_inspected_on = days.map(|x| date("2025-06-30") - chrono::Duration::days(x));
            r.industry = if *d { String::new() } else { "C1361".into() };
        }
        let csv = canonical_csv(&pop).expect("csv");
        let back = parse_csv(&csv).expect("parse");
        prop_assert_eq!(canonical_csv(&back).expect("csv"), csv);
        let mut sorted = pop.clone();
        sorted.sort_by(|a, b| a.uscc.as_bytes().cmp(b.uscc.as_bytes()));
        prop_assert_eq!(back, sorted);
    }
}

#[test]
fn a_bad_snapshot_line_is_named() {
    let csv = canonical_csv(&population(1)).expect("csv");
    let mut text = String::from_utf8(csv).expect("utf8");
    text = text.replacen(",A,", ",E,", 1);
    let e = parse_csv(text.as_bytes()).expect_err("bad class");
    assert!(e.to_string().contains("line 2"), "{e}");
    assert!(parse_csv(b"uscc,name\n").is_err());
    let e = parse_csv(
        b"uscc,name,region,industry,class,deregistered,revoked,last_inspected_on\n\"open",
    )
    .expect_err("unclosed");
    assert!(e.to_string().contains("not closed"), "{e}");
}

#[test]
fn plan_files_take_what_they_leave_out_from_the_defaults() {
    let d = Defaults::from_toml(DEFAULTS).expect("defaults");
    let f = PlanFile::from_toml(
        r#"
id = "ZS-2026Q4-food"
field = "food"
regions = ["330902"]
sampling = { D = { count = 5 } }
exclusions = { inspected_within_months = 6 }
randomness_source = "lottery"
"#,
    )
    .expect("plan file");
    assert_eq!(f.resolve(&d, None), Err(PlanError::NoAsOf));
    let p = f.resolve(&d, Some(date("2026-09-30"))).expect("resolves");
    assert_eq!(p.field, Domain::Food);
    assert_eq!(p.sampling.a, ratio("0.03"));
    assert_eq!(p.sampling.d, Quota::Count(5));
    assert_eq!(p.exclusions.inspected_within_months, Some(6));
    assert!(p.exclusions.deregistered);
    assert_eq!(p.team_size, 2);
    assert!(p.stratify_by_region);
    // The canonical JSON of a resolved plan reads back as a plan file to
    // the same plan, explicit nulls included.
    let mut q = p.clone();
    q.exclusions.inspected_within_months = None;
    let back = PlanFile::from_json(std::str::from_utf8(&q.canonical_json()).expect("utf8"))
        .expect("json plan file")
        .resolve(&d, None)
        .expect("resolves");
    assert_eq!(back, q);

    // Refused with a reason: a ratio that is not a decimal string, an
    // unknown key, a team of one.
    let e = PlanFile::from_toml("id = \"x\"\nfield = \"food\"\nrandomness_source = \"r\"\nsampling = { A = { ratio = \"5%\" } }\n")
        .expect("parses")
        .resolve(&d, Some(date("2026-09-30")))
        .expect_err("bad ratio");
    assert!(e.to_string().contains("sampling.A.ratio"), "{e}");
    let e =
        PlanFile::from_toml("id = \"x\"\nfield = \"food\"\nrandomness_source = \"r\"\nteams = 2\n")
            .expect_err("unknown key");
    assert!(e.to_string().contains("teams"), "{e}");
    let e = PlanFile::from_toml(
        "id = \"x\"\nfield = \"food\"\nrandomness_source = \"r\"\nteam_size = 1\n",
    )
    .expect("parses")
    .resolve(&d, Some(date("2026-09-30")))
    .expect_err("team of one");
    assert_eq!(e, PlanError::TeamTooSmall(1));
    let e = PlanFile::from_toml("id = \"x\"\nfield = \"fishing\"\nrandomness_source = \"r\"\n")
        .expect_err("unknown field");
    assert!(e.to_string().contains("fishing"), "{e}");
}

#[test]
fn the_preview_counts_what_the_draw_draws() {
    let mut plan = plan();
    plan.stratify_by_region = false;
    let mut pop = population(50);
    pop[0].deregistered = true;
    pop[11].last_inspected_on = Some(date("2025-05-01"));
    let roster = roster(2, 5);
    let p = preview(&plan, &pop, &roster).expect("preview");
    let m = draw(
        &DrawInputs {
            plan: &plan,
            population: &pop,
            roster: &roster,
            history: &[],
        },
        "preview",
    )
    .expect("draw");
    assert_eq!(p.strata.len(), m.strata.len());
    for (a, b) in p.strata.iter().zip(&m.strata) {
        assert_eq!((a.size, a.eligible, a.quota), (b.size, b.eligible, b.quota));
    }
    assert_eq!(p.total_quota, m.chosen.len() as u64);
    // Four district pools; their expected entities add up to the quota.
    assert_eq!(p.pools.len(), 4);
    let expected: f64 = p.pools.iter().map(|x| x.entities).sum();
    assert!((expected - p.total_quota as f64).abs() < 1e-6);
    // 2 officers × capacity 5 per district cannot staff its share.
    assert!(p.pools.iter().all(|x| x.short(plan.team_size)));
    assert!(!m.unstaffed.is_empty());
}

#[test]
fn the_publication_carries_no_class() {
    let plan = plan();
    let pop = population(30);
    let roster = roster(3, 50);
    let m = draw(
        &DrawInputs {
            plan: &plan,
            population: &pop,
            roster: &roster,
            history: &[],
        },
        "publication",
    )
    .expect("draw");
    let entries = list_entries(&m, &roster);
    assert_eq!(entries.len(), m.chosen.len());
    let publication =
        String::from_utf8(publication_csv(&m, &entries, date("2025-07-01"))).expect("utf8");
    assert!(publication.starts_with("抽查计划,企业名称,统一社会信用代码,检查人员,日期\n"));
    assert_eq!(publication.lines().count(), m.chosen.len() + 1);
    for line in publication.lines().skip(1) {
        assert!(line.ends_with(",2025-07-01"), "{line}");
        // No field is a bare class letter or a stratum label.
        for field in line.split(',') {
            assert!(!matches!(field, "A" | "B" | "C" | "D"), "{line}");
            assert!(!field.contains('/'), "{line}");
        }
    }
    let list = String::from_utf8(list_csv(&entries)).expect("utf8");
    assert!(list.lines().nth(1).expect("a row").starts_with("1,"));
    assert!(list.contains(&m.chosen[0].uscc.to_string()));
}
