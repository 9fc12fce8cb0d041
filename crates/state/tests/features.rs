//! Known answers for the feature computation, and the invariant that
//! arrival order never changes features.

use chrono::NaiveDate;
use proptest::prelude::*;
use tidewatch_ingest::decode_and_validate;
use tidewatch_model::{Event, Family, RejectReason, Uscc};
use tidewatch_state::{Applied, EntityStore, Feature as F, FeatureTable, NULL};

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 9, 30).expect("date")
}

/// Zhoushan-looking codes with correct check characters.
fn code(n: u32) -> Uscc {
    Uscc::from_body(&format!("91330902MA2{n:06}")).expect("body")
}

fn reg(id: &str, u: Uscc, rep: &str, est: &str) -> (Family, String) {
    (
        Family::CreditRecords,
        format!(
            r#"{{"event_id":"{id}","uscc":"{u}","occurred_on":"{est}","domain":"general","kind":"registered","payload":{{"name":"舟山市定海区测试有限公司","region_code":"330902","industry_code":"C1361","entity_type":"limited_company","registered_capital_cny":"1000000.00","established_on":"{est}","legal_rep_key":"{rep}","licences":["food_production"]}}}}"#
        ),
    )
}

fn credit(
    id: &str,
    u: Uscc,
    date: &str,
    domain: &str,
    kind: &str,
    payload: &str,
) -> (Family, String) {
    (
        Family::CreditRecords,
        format!(
            r#"{{"event_id":"{id}","uscc":"{u}","occurred_on":"{date}","domain":"{domain}","kind":"{kind}","payload":{payload}}}"#
        ),
    )
}

fn insp(
    id: &str,
    u: Uscc,
    date: &str,
    domain: &str,
    result: &str,
    sampling: &str,
) -> (Family, String) {
    let s = if sampling.is_empty() {
        String::new()
    } else {
        format!(r#","sampling":{sampling}"#)
    };
    (
        Family::Inspections,
        format!(
            r#"{{"event_id":"{id}","uscc":"{u}","occurred_on":"{date}","domain":"{domain}","inspection_type":"routine","result":"{result}"{s}}}"#
        ),
    )
}

fn complaint(
    id: &str,
    u: Uscc,
    date: &str,
    subst: &str,
    amount: &str,
    resolved: bool,
) -> (Family, String) {
    (
        Family::Complaints,
        format!(
            r#"{{"event_id":"{id}","uscc":"{u}","occurred_on":"{date}","domain":"food","channel":"12315","category":"food_safety","substantiated":{subst},"amount_cny":"{amount}","resolved":{resolved}}}"#
        ),
    )
}

fn decode(recs: &[(Family, String)]) -> Vec<Event> {
    recs.iter()
        .map(|(f, s)| {
            decode_and_validate(*f, s.as_bytes(), as_of()).unwrap_or_else(|r| panic!("{r}: {s}"))
        })
        .collect()
}

fn table(events: Vec<Event>) -> (EntityStore, FeatureTable) {
    let mut st = EntityStore::new();
    for (i, e) in events.into_iter().enumerate() {
        st.apply(e, i as u64).expect("no conflicts");
    }
    let t = FeatureTable::compute(&st, as_of());
    (st, t)
}

fn history() -> Vec<(Family, String)> {
    let a = code(1);
    let b = code(2);
    let c = code(3);
    let pen = |id: &str, date: &str, doc: &str, code: &str, fine: &str, sev: &str| {
        credit(
            id,
            a,
            date,
            "food",
            "penalty",
            &format!(
                r#"{{"document_no":"{doc}","violation_category":"food_safety","violation_code":"{code}","fine_cny":"{fine}","severity":"{sev}"}}"#
            ),
        )
    };
    vec![
        reg("r-a", a, "LR-1", "2020-03-01"),
        reg("r-b", b, "LR-1", "2024-01-10"),
        reg("r-c", c, "LR-1", "2018-05-05"),
        // a: inside and outside the windows
        insp(
            "i1",
            a,
            "2026-01-10",
            "food",
            "A",
            r#"{"product":"冻虾仁","passed":false,"hazard":"major"}"#,
        ),
        insp("i2", a, "2025-06-01", "food", "1", ""),
        insp("i3", a, "2024-09-30", "general", "6", ""), // exactly 24 months back: outside
        insp("i4", a, "2024-10-01", "general", "8", ""), // inside
        complaint("c1", a, "2026-09-30", "true", "120.50", false),
        complaint("c2", a, "2025-09-30", "true", "99.00", true), // 12 months back: outside
        complaint("c3", a, "2026-02-01", "null", "10.00", true),
        pen(
            "p1",
            "2025-03-01",
            "舟市监罚〔2025〕1号",
            "FSL-124",
            "50000.00",
            "heavy",
        ),
        pen(
            "p2",
            "2026-04-01",
            "舟市监罚〔2026〕9号",
            "FSL-124",
            "20000.00",
            "fine",
        ),
        pen(
            "p3",
            "2026-05-01",
            "舟市监罚〔2026〕10号",
            "FSL-125",
            "90000.00",
            "fine",
        ),
        credit(
            "w3",
            a,
            "2026-06-01",
            "food",
            "penalty_withdrawn",
            r#"{"document_no":"舟市监罚〔2026〕10号"}"#,
        ),
        credit(
            "ch1",
            a,
            "2026-02-02",
            "general",
            "changed",
            r#"{"what":"capital","registered_capital_cny":"500000.00"}"#,
        ),
        credit(
            "ar24",
            a,
            "2025-05-01",
            "general",
            "annual_report_filed",
            r#"{"year":2024,"on_time":true}"#,
        ),
        credit(
            "ar25",
            a,
            "2026-07-15",
            "general",
            "annual_report_filed",
            r#"{"year":2025,"on_time":false}"#,
        ),
        credit(
            "cert",
            a,
            "2022-01-01",
            "food",
            "certification",
            r#"{"scheme":"HACCP"}"#,
        ),
        credit(
            "cert2",
            a,
            "2023-01-01",
            "food",
            "certification",
            r#"{"scheme":"HACCP"}"#,
        ),
        // b: abnormal listed, c: serious listed then removed, then listed again
        credit(
            "ab",
            b,
            "2026-07-01",
            "general",
            "abnormal_listed",
            r#"{"reason":"annual_report_missing"}"#,
        ),
        credit("s1", c, "2025-01-01", "general", "serious_listed", r#"{}"#),
        credit("s2", c, "2026-01-01", "general", "serious_removed", r#"{}"#),
    ]
}

#[test]
fn known_answers() {
    let (st, t) = table(decode(&history()));
    let a = st.get(&code(1)).expect("a") as usize;
    let b = st.get(&code(2)).expect("b") as usize;
    let c = st.get(&code(3)).expect("c") as usize;
    let f = |row: usize, feat: F| t.get(row, feat);
    assert_eq!(f(a, F::Inspections24m), 3);
    assert_eq!(f(a, F::Problems24m), 2, "A and 8 are problems, 1 is not");
    assert_eq!(f(a, F::Obstructed24m), 1);
    assert_eq!(f(a, F::Unreachable24m), 0, "the 6 is outside the window");
    assert_eq!(f(a, F::FailedSamplingsMajor24m), 1);
    assert_eq!(f(a, F::FoodInspections24m), 2);
    assert_eq!(f(a, F::FoodFailedSamplings24m), 1);
    assert_eq!(f(a, F::DaysSinceInspection), 263);
    assert_eq!(f(a, F::Complaints12m), 2);
    assert_eq!(f(a, F::SubstantiatedComplaints12m), 1);
    assert_eq!(f(a, F::ComplaintAmount12m), 12050);
    assert_eq!(f(a, F::UnresolvedComplaints12m), 1);
    assert_eq!(
        f(a, F::Penalties36m),
        2,
        "the withdrawn penalty does not count"
    );
    assert_eq!(f(a, F::HeavyPenalties36m), 1);
    assert_eq!(f(a, F::MaxFine36m), 5_000_000);
    assert_eq!(f(a, F::TotalFines36m), 7_000_000);
    assert_eq!(f(a, F::RepeatViolations36m), 1);
    assert_eq!(f(a, F::FoodPenalties36m), 2);
    assert_eq!(f(a, F::RegisteredCapital), 50_000_000);
    assert_eq!(f(a, F::CapitalReduced12m), 1);
    assert_eq!(f(a, F::KeyChanges12m), 1);
    assert_eq!(f(a, F::AnnualReportOnTime), 0, "2025 was filed late");
    assert_eq!(
        f(a, F::AnnualReportsMissing3y),
        1,
        "2023 missing; 2024, 2025 filed"
    );
    assert_eq!(f(a, F::Certifications), 1, "distinct schemes");
    assert_eq!(f(a, F::AgeDays), 2404);
    assert_eq!(f(a, F::EntityKindCode), 1);
    assert_eq!(f(a, F::LicenceCount), 1);
    // b: registered 2024, so only 2024 and 2025 reports were due; none filed.
    assert_eq!(f(b, F::AnnualReportsMissing3y), 2);
    assert_eq!(f(b, F::AnnualReportOnTime), 0);
    assert_eq!(f(b, F::AbnormalListed), 1);
    assert_eq!(f(b, F::AbnormalDays), 91);
    assert_eq!(f(b, F::DaysSinceInspection), NULL);
    assert_eq!(f(c, F::SeriousListed), 0);
    // Relations: a (heavy penalty) and b (abnormal) are in trouble, c is not.
    assert_eq!(f(a, F::RelatedEntities), 2);
    assert_eq!(f(a, F::RelatedInTrouble), 1);
    assert_eq!(f(c, F::RelatedInTrouble), 2);
    assert_eq!(f(b, F::RelatedInTrouble), 1);
}

#[test]
fn as_of_moves_windows() {
    let (st, _) = table(decode(&history()));
    let later = FeatureTable::compute(&st, NaiveDate::from_ymd_opt(2027, 4, 2).expect("date"));
    let a = st.get(&code(1)).expect("a") as usize;
    assert_eq!(
        later.get(a, F::Inspections24m),
        2,
        "i4 (2024-10-01) left the window"
    );
    assert_eq!(later.get(a, F::Complaints12m), 1);
}

#[test]
fn held_until_registered_and_duplicates() {
    let recs = history();
    let mut events = decode(&recs);
    // Registration of a arrives last.
    let reg_a = events.remove(0);
    let mut st = EntityStore::new();
    let mut held = 0;
    for (i, e) in events.iter().cloned().enumerate() {
        if st.apply(e, i as u64).expect("ok") == Applied::Held {
            held += 1;
        }
    }
    assert_eq!(held, 16);
    assert_eq!(st.held_count(), 16);
    assert!(matches!(
        st.apply(reg_a.clone(), 99),
        Ok(Applied::Applied(_))
    ));
    assert_eq!(st.held_count(), 0);
    assert_eq!(st.apply(reg_a, 100), Ok(Applied::Duplicate));
    // Same id, different content.
    let (fam, s) = &recs[3];
    let changed =
        decode_and_validate(*fam, s.replace("\"A\"", "\"E\"").as_bytes(), as_of()).expect("valid");
    let err = st.apply(changed, 101).expect_err("conflict");
    assert_eq!(err.reason, RejectReason::ConflictingDuplicate);
    // Never registered: comes back out at the end.
    let stray = decode(&[insp("x", code(9), "2026-01-01", "general", "1", "")]);
    assert_eq!(st.apply(stray[0].clone(), 7), Ok(Applied::Held));
    let un = st.take_unmatched();
    assert_eq!(un.len(), 1);
    assert_eq!(un[0].1, 7);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn arrival_order_does_not_change_features(
        order in Just((0..history().len()).collect::<Vec<_>>()).prop_shuffle()
    ) {
        let events = decode(&history());
        let (_, expected) = table(events.clone());
        let shuffled: Vec<Event> = order.iter().map(|&i| events[i].clone()).collect();
        let (st, t) = table(shuffled);
        let (st0, _) = table(events);
        // Rows follow registration order, so compare per entity.
        for n in 1..=3 {
            let u = code(n);
            let r0 = st0.get(&u).expect("known") as usize;
            let r1 = st.get(&u).expect("known") as usize;
            prop_assert_eq!(expected.row(r0), t.row(r1));
        }
    }
}
