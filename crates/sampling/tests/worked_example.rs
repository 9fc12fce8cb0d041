//! The worked example of docs/draw-algorithm.md. Every hex value quoted in
//! the document is asserted here, so the document cannot drift from the code.

mod common;

use common::*;
use tidewatch_model::{Domain, Officer};
use tidewatch_sampling::digest::canonical_json;
use tidewatch_sampling::draw::{
    canonical_history, canonical_roster, entity_rank, level_rank, officer_rank, seed,
    PastInspection,
};
use tidewatch_sampling::{
    canonical_csv, commit, draw, verify, verify_commitment, Class, DrawInputs, Plan, PopulationRow,
    Quota,
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
        officer("ZS-005", "330902", &[Domain::Food], 5),
        officer("ZS-006", "330902", &[Domain::Food], 1),
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

const ROSTER_JSON: &str = r#"[{"officer_id":"PT-001","name":"执法人员PT-001","unit":"330903","qualifications":["food"],"conflicts":[],"capacity":5},{"officer_id":"ZS-001","name":"执法人员ZS-001","unit":"330902","qualifications":["general","food"],"conflicts":["913309020000000088"],"capacity":5},{"officer_id":"ZS-002","name":"执法人员ZS-002","unit":"330902","qualifications":["food"],"conflicts":[],"capacity":5},{"officer_id":"ZS-003","name":"执法人员ZS-003","unit":"330902","qualifications":["food"],"conflicts":[],"capacity":5},{"officer_id":"ZS-004","name":"执法人员ZS-004","unit":"330902","qualifications":["general"],"conflicts":[],"capacity":5},{"officer_id":"ZS-005","name":"执法人员ZS-005","unit":"330902","qualifications":["food"],"conflicts":[],"capacity":5},{"officer_id":"ZS-006","name":"执法人员ZS-006","unit":"330902","qualifications":["food"],"conflicts":[],"capacity":1}]"#;

const HISTORY_JSON: &str =
    r#"[{"uscc":"913309020000000075","officer_id":"ZS-002","inspected_on":"2024-11-20"}]"#;

const COMMITMENT_BODY: &str = r#"{"algorithm":"tidewatch-draw/2","plan_id":"example-2025Q3","plan_digest":"0bd94a4ac49c3c373600cc9d049c5a9f040c2e1216c815d0f52065f38be61b47","population_digest":"a01176b375c6057aa22d007236ab2015a91373a464e0ead7c2d3ba2c2a19e1f2","population_rows":8,"roster_digest":"e879b15c896186a7632cd281fa33a6263d540786b1955066f83edcb706368f6e","roster_officers":7,"history_digest":"f0b34c109623cc265808d80e5b782ac5f31a9ab03871b2990493fbb2bb211304","history_records":1,"randomness_source":"example beacon, round 4242"}"#;

/// The document's text, so the test fails if the document and the code part.
fn doc() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/draw-algorithm.md"),
    )
    .expect("docs/draw-algorithm.md")
}

#[test]
fn worked_example_matches_the_document() {
    let doc = doc();
    for quoted in [
        PLAN_JSON,
        POPULATION_CSV,
        ROSTER_JSON,
        HISTORY_JSON,
        COMMITMENT_BODY,
    ] {
        assert!(doc.contains(quoted), "the document lacks {quoted}");
    }
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
        String::from_utf8(canonical_json(&canonical_roster(&roster).expect("roster")))
            .expect("utf8"),
        ROSTER_JSON
    );
    assert_eq!(
        String::from_utf8(canonical_json(&canonical_history(&history))).expect("utf8"),
        HISTORY_JSON
    );
    assert_eq!(
        m.roster_digest,
        "e879b15c896186a7632cd281fa33a6263d540786b1955066f83edcb706368f6e"
    );
    assert_eq!(
        m.history_digest,
        "f0b34c109623cc265808d80e5b782ac5f31a9ab03871b2990493fbb2bb211304"
    );
    assert_eq!(
        m.seed,
        "93006c45c414b301cff95b3e6a2e0ab322ab3c04523a6ec91beb67648bf2aec6"
    );
    for digest in [
        &m.plan_digest,
        &m.population_digest,
        &m.roster_digest,
        &m.history_digest,
        &m.seed,
    ] {
        assert!(doc.contains(digest.as_str()), "the document lacks {digest}");
    }
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
        assert!(doc.contains(want), "the document lacks the rank of {u}");
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
            "ZS-005",
            "0e5696f6506be3e0934fa1c43d1e6a29a61384735d5a0257164532e215d1abc2",
        ),
        (
            "91330902000000003Q",
            "ZS-006",
            "6664a9b4fa7abd66dfb9c97b4dd0ac214feff880584ed3f1f18a213d06695948",
        ),
        (
            "91330902000000005Y",
            "ZS-002",
            "4c29f078107bcefd0f82e40ccccce82d3232e757abc29b49f181e8aaf8e85ee3",
        ),
        (
            "91330902000000005Y",
            "ZS-003",
            "57a43218b0ab31d75e9ae66e92b011a6ee5898003f6e44986abbf85bba2cf8f4",
        ),
        (
            "91330902000000005Y",
            "ZS-005",
            "4fa2d6010672620f48cf535e6be0419d7a892bc538f5514720fc94199365e858",
        ),
        (
            "91330902000000005Y",
            "ZS-006",
            "388d07930bf31268abf76661981ad45373f2d4090a27fa61bf25bc6112dc7190",
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
            "913309020000000088",
            "ZS-005",
            "783ab35c77d0fbd6164c4a01b5e8e70987acd2ab1f74a8eacbd361e582c2fc6e",
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
        (
            "913309020000000075",
            "ZS-005",
            "50b9311bf4cbd4f2369b0307fd751828b2c8eb1f638e1b5230dcfb2f025be501",
        ),
    ];
    for (u, o, want) in officer_ranks {
        let line = format!("{u} {o} {want}");
        assert!(doc.contains(&line), "the document lacks {line}");
        let u = u.parse().expect("uscc");
        assert_eq!(hex::encode(officer_rank(&s, &u, o)), want);
    }
    let level_ranks = [
        (
            "ZS-001",
            0,
            "3d5d5a608a51f803544577c8507b0568e228619ad3644e9d58faba996c32d5a8",
        ),
        (
            "ZS-001",
            1,
            "d048554772673061185ae012804ba31ad4921ab764fbb92429fdaee3cbf61829",
        ),
        (
            "ZS-002",
            0,
            "a2c835d0d5224ecb126da622aabd20a625555ca9aa5ba597afb1e140dac5aaea",
        ),
        (
            "ZS-002",
            1,
            "306172eb2c020ee227802b011d9118670bc9ae68d2acba7ad772f47646f744e1",
        ),
        (
            "ZS-002",
            2,
            "3b4881cb6dcfb5962352b8feaf6d99082daa3a7298d1248d26def499499421b0",
        ),
        (
            "ZS-003",
            0,
            "c0e380fc55cfe9bca2fb51328ed44c6fa506c23269bf8d0ebdbe9fecac930b8f",
        ),
        (
            "ZS-003",
            1,
            "e3f08660c21828036dd01be21eaa78e7024ea2b8f323ee7fb9533c73b8af4186",
        ),
        (
            "ZS-003",
            2,
            "334ba65e709ed100b6e45cc46ddc6bb939f5d54a6c590d30d9c4f993bdbd7089",
        ),
        (
            "ZS-005",
            0,
            "656ca7f44446231727761be24773afc7d713eb8c6f5158e6477e0ae3b07c4170",
        ),
        (
            "ZS-005",
            1,
            "5f93250bed23b9f8318f82f7366aed49d59c10c809697466ac34fbaebe00fcb4",
        ),
        (
            "ZS-005",
            2,
            "be7240c92bcb960c4815857b85e50416649e0c32a83069371da8f05fda24427e",
        ),
        (
            "ZS-006",
            0,
            "5f624a08bb99c0533394f411b05d5815a68aad2808e8a1301f98d04073cd89e3",
        ),
    ];
    for (o, load, want) in level_ranks {
        let line = format!("{o} load {load} {want}");
        assert!(doc.contains(&line), "the document lacks {line}");
        assert_eq!(hex::encode(level_rank(&s, load, o)), want);
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
            ("91330902000000003Q", vec!["ZS-001", "ZS-005"]),
            ("91330902000000005Y", vec!["ZS-006", "ZS-002"]),
            ("913309020000000088", vec!["ZS-003", "ZS-002"]),
            ("913309020000000075", vec!["ZS-003", "ZS-005"]),
        ]
    );
    let loads: Vec<(&str, u32)> = m
        .load
        .officers
        .iter()
        .map(|o| (o.officer_id.as_str(), o.load))
        .collect();
    assert_eq!(
        loads,
        [
            ("ZS-001", 1),
            ("ZS-002", 2),
            ("ZS-003", 2),
            ("ZS-005", 2),
            ("ZS-006", 1)
        ]
    );
    assert_eq!((m.load.min, m.load.max), (1, 2));
    assert_eq!(m.algorithm, "tidewatch-draw/2");
    assert_eq!(
        m.result_digest,
        "30bcb832d90486acf004fd02b596fbee7d45f86072c0d46dcb7243ba3ea31943"
    );
    assert!(doc.contains(&m.result_digest));
    verify(&m, &plan, &pop, &history, &roster).expect("verify");

    // The commitment: its digest is SHA-256 of the body the document quotes.
    let c = commit(&DrawInputs {
        plan: &plan,
        population: &pop,
        roster: &roster,
        history: &history,
    })
    .expect("commit");
    assert_eq!(
        c.commitment_digest,
        "64ab540bb33b8901c1abeac330b39130d50aeaffc8ccf779b28f4c3425586646"
    );
    assert_eq!(
        c.commitment_digest,
        tidewatch_sampling::digest::sha256_hex(COMMITMENT_BODY.as_bytes())
    );
    assert!(doc.contains(&c.commitment_digest));
    verify_commitment(&m, &c).expect("follows the commitment");

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
    assert_eq!(last.officers, vec!["ZS-001", "ZS-005"]);
    assert_eq!(
        r.result_digest,
        "71be07223297f99055b9e78c99b7e57903206c4154c04969de687cee811faf56"
    );
    assert!(doc.contains(&r.result_digest));
}
