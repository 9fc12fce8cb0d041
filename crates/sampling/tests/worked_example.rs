//! The worked example of docs/draw-algorithm.md. Every hex value quoted in
//! the document is asserted here, so the document cannot drift from the code.

mod common;

use common::*;
use tidewatch_model::{Domain, Officer};
use tidewatch_sampling::draw::{entity_rank, officer_rank, seed, PastInspection};
use tidewatch_sampling::{
    canonical_csv, draw, verify, Class, DrawInputs, Plan, PopulationRow, Quota,
};

const RANDOMNESS: &str = "example-beacon-round-4242";

fn example() -> (Plan, Vec<PopulationRow>, Vec<Officer>, Vec<PastInspection>) {
    let mut plan = plan();
    plan.id = "example-2025Q3".into();
    plan.regions = vec![region("330902")];
    plan.sampling.a = ratio("0.25");
    plan.sampling.b = ratio("0.5");
    plan.sampling.c = Quota::Count(1);
    plan.sampling.d = ratio("1");
    plan.exclusions.inspected_within_months = Some(12);
    plan.randomness_source = "example beacon, round 4242".into();
    let classes = [
        Class::A,
        Class::A,
        Class::A,
        Class::A,
        Class::B,
        Class::B,
        Class::C,
        Class::D,
    ];
    let mut pop: Vec<PopulationRow> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| row("330902", i as u32 + 1, *c))
        .collect();
    pop[1].last_inspected_on = Some(date("2025-03-15")); // A, excluded
    pop[4].name = "定海\"海鲜\",排档".into(); // exercises CSV quoting
    let mut roster = vec![
        officer("ZS-001", "330902", &[Domain::General, Domain::Food], 5),
        officer("ZS-002", "330902", &[Domain::Food], 5),
        officer("ZS-003", "330902", &[Domain::Food], 5),
        officer("ZS-004", "330902", &[Domain::General], 5),
        officer("PT-001", "330903", &[Domain::Food], 5),
    ];
    roster[0].conflicts.push(pop[7].uscc);
    let history = vec![PastInspection {
        uscc: pop[6].uscc,
        officer_id: "ZS-002".into(),
        inspected_on: date("2024-11-20"),
    }];
    (plan, pop, roster, history)
}

const PLAN_JSON: &str = r#"{"id":"example-2025Q3","field":"food","regions":["330902"],"industries":[],"entity_kinds":null,"as_of":"2025-06-30","sampling":{"A":{"ratio":"0.25"},"B":{"ratio":"0.5"},"C":{"count":1},"D":{"ratio":"1"}},"stratum_minimum":1,"stratify_by_region":false,"team_size":2,"exclusions":{"deregistered":true,"revoked":true,"inspected_within_months":12,"open_plan_usccs":[]},"allow_cross_region_teams":false,"recusal_months":24,"randomness_source":"example beacon, round 4242"}"#;

const POPULATION_CSV: &str =
    "uscc,name,region,industry,class,deregistered,revoked,last_inspected_on
91330902000000001J,舟山测试企业1有限公司,330902,F5221,A,false,false,
91330902000000002M,舟山测试企业2有限公司,330902,F5221,A,false,false,2025-03-15
91330902000000003Q,舟山测试企业3有限公司,330902,F5221,A,false,false,
91330902000000004U,舟山测试企业4有限公司,330902,F5221,A,false,false,
91330902000000005Y,\"定海\"\"海鲜\"\",排档\",330902,F5221,B,false,false,
913309020000000062,舟山测试企业6有限公司,330902,F5221,B,false,false,
913309020000000075,舟山测试企业7有限公司,330902,F5221,C,false,false,
913309020000000088,舟山测试企业8有限公司,330902,F5221,D,false,false,
";

#[test]
fn worked_example_matches_the_document() {
    let (plan, pop, roster, history) = example();
    let m = draw(
        &DrawInputs {
            plan: &plan,
            population: &pop,
            roster: &roster,
            history: &history,
        },
        RANDOMNESS,
    )
    .expect("draw");
    assert_eq!(
        String::from_utf8(plan.canonical_json()).expect("utf8"),
        PLAN_JSON
    );
    assert_eq!(
        String::from_utf8(canonical_csv(&pop).expect("csv")).expect("utf8"),
        POPULATION_CSV
    );
    assert_eq!(
        m.plan_digest,
        "0bd94a4ac49c3c373600cc9d049c5a9f040c2e1216c815d0f52065f38be61b47"
    );
    assert_eq!(
        m.population_digest,
        "a01176b375c6057aa22d007236ab2015a91373a464e0ead7c2d3ba2c2a19e1f2"
    );
    assert_eq!(
        m.roster_digest,
        "219f9d528eff1d797a2ffd11d5c90584e53827e610249fa08923ee02c47487da"
    );
    assert_eq!(
        m.history_digest,
        "f0b34c109623cc265808d80e5b782ac5f31a9ab03871b2990493fbb2bb211304"
    );
    assert_eq!(
        m.seed,
        "93006c45c414b301cff95b3e6a2e0ab322ab3c04523a6ec91beb67648bf2aec6"
    );
    let s = seed(&m.plan_digest, &m.population_digest, RANDOMNESS);
    let ranks = [
        (
            "91330902000000001J",
            "90312171ff45ab6f5494bd26ad31311f219ac3df053674af85f510459f05ba7c",
        ),
        (
            "91330902000000002M",
            "9a23bfef1b00c9aa434c4afdc676bf42076129acba1a1072a2f08ecaabce15db",
        ),
        (
            "91330902000000003Q",
            "0cd1212798e6b96d1dc84c1027fc693e66ff66c42d3cb8fcde130ecdfe293459",
        ),
        (
            "91330902000000004U",
            "ef96c1c47ae8cb817a71730d0d4f319e4ca3adb3450e4602ae00c8efa22f74ee",
        ),
        (
            "91330902000000005Y",
            "1a34a5b7374c2d065bc471141be32910bc2923fdd7f02704eb6f498fc06063bf",
        ),
        (
            "913309020000000062",
            "fdb6f25e30d115f9d23612c41414be3f7b30568bc6668e89abbcb7f5780a4a1f",
        ),
        (
            "913309020000000075",
            "4ca9e3a55d41abf5f6baf0266e6df3d0ec3b382bc88ba87efa2c2035d30b0b5a",
        ),
        (
            "913309020000000088",
            "3cfecab5fa35feb493aa5bd1eb7f0199e60a9974785e6d7816962ebf26586cc9",
        ),
    ];
    for (u, want) in ranks {
        let u = u.parse().expect("uscc");
        assert_eq!(hex::encode(entity_rank(&s, &u)), want);
    }
    let officer_ranks = [
        (
            "91330902000000003Q",
            "ZS-001",
            "04bfc636302300a0d17a9cfde07dc2fab9b6d4a01eda9d0b71a83de2ae50e3bc",
        ),
        (
            "91330902000000003Q",
            "ZS-002",
            "788996abf29f1e30b6b52291afd6105ad96b21456debd4e55654ce45eae74c57",
        ),
        (
            "91330902000000003Q",
            "ZS-003",
            "5fe86e0098d649d949320286ecd08dbec90aa90318be34228a19fb941698214f",
        ),
        (
            "91330902000000005Y",
            "ZS-001",
            "3b0e1ecc3092255534fe8200571f50489cfdf313906afc1e2156682c2a8d655e",
        ),
        (
            "91330902000000005Y",
            "ZS-003",
            "57a43218b0ab31d75e9ae66e92b011a6ee5898003f6e44986abbf85bba2cf8f4",
        ),
        (
            "913309020000000088",
            "ZS-002",
            "063ea6aeb0c66274bbfe570b467b3b48d603bd30e37ad3c9b79eefc8927cd60d",
        ),
        (
            "913309020000000088",
            "ZS-003",
            "41793316424a6afed2dbed703aca386faf49b3c2eb9af7772f67d115f1847e96",
        ),
        (
            "913309020000000075",
            "ZS-001",
            "588a2362e81453f239da28474303b0a043a5e14d3b80d4c9c813fb7fe7e0e0f6",
        ),
        (
            "913309020000000075",
            "ZS-003",
            "4ec8f8105fd88918a38766b3cf0f7d7dbdba444eb15e9db13248cd28f766477c",
        ),
    ];
    for (u, o, want) in officer_ranks {
        let u = u.parse().expect("uscc");
        assert_eq!(hex::encode(officer_rank(&s, &u, o)), want);
    }
    let list: Vec<(&str, Vec<&str>)> = m
        .chosen
        .iter()
        .map(|c| {
            (
                c.uscc.as_str(),
                c.officers.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        list,
        vec![
            ("91330902000000003Q", vec!["ZS-001", "ZS-003"]),
            ("91330902000000005Y", vec!["ZS-002", "ZS-001"]),
            ("913309020000000088", vec!["ZS-002", "ZS-003"]),
            ("913309020000000075", vec!["ZS-003", "ZS-001"]),
        ]
    );
    assert_eq!((m.load.min, m.load.max), (2, 3));
    assert_eq!(
        m.result_digest,
        "24304e7336402dca345c1930e67dd22a5e00bee490f0459978df0f3016237aa2"
    );
    verify(&m, &plan, &pop, &history, &roster).expect("verify");

    // The replacement step of the example: 3Q turns out closed.
    let inputs = DrawInputs {
        plan: &plan,
        population: &pop,
        roster: &roster,
        history: &history,
    };
    let r = tidewatch_sampling::replace(
        &m,
        &inputs,
        "91330902000000003Q".parse().expect("uscc"),
        "7",
    )
    .expect("replace");
    assert_eq!(
        r.replacements[0]
            .replacement
            .map(|u| u.to_string())
            .as_deref(),
        Some("91330902000000001J")
    );
    let last = r.chosen.last().expect("replacement");
    assert_eq!(last.officers, vec!["ZS-002", "ZS-001"]);
    assert_eq!(
        r.result_digest,
        "da5c6805ae0d2354dd46826ec979d6ce65c84978711b673150f66c427a070e17"
    );
}
