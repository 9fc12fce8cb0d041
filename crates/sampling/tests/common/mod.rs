//! Fixtures shared by the integration tests.
#![allow(dead_code)]

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tidewatch_model::{Domain, Officer, RegionCode, Uscc};
use tidewatch_sampling::{Class, Exclusions, PerClass, Plan, PopulationRow, Quota};

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

pub fn region(s: &str) -> RegionCode {
    RegionCode::parse(s).expect("region")
}

/// A valid enterprise USCC registered in `region` with organisation number `n`.
pub fn uscc(region: &str, n: u32) -> Uscc {
    Uscc::from_body(&format!("91{region}{n:09}")).expect("uscc")
}

pub fn ratio(s: &str) -> Quota {
    Quota::Ratio(s.parse::<Decimal>().expect("decimal"))
}

pub fn plan() -> Plan {
    Plan {
        id: "2025Q3-food-zhoushan".into(),
        field: Domain::Food,
        regions: vec![],
        industries: vec![],
        entity_kinds: None,
        as_of: date("2025-06-30"),
        sampling: PerClass {
            a: ratio("0.05"),
            b: ratio("0.2"),
            c: ratio("0.5"),
            d: ratio("1"),
        },
        stratum_minimum: 1,
        stratify_by_region: false,
        team_size: 2,
        exclusions: Exclusions {
            deregistered: true,
            revoked: true,
            inspected_within_months: Some(12),
            open_plan_usccs: vec![],
        },
        allow_cross_region_teams: false,
        recusal_months: 24,
        randomness_source: "drand quicknet round 12345678".into(),
    }
}

pub fn row(region_code: &str, n: u32, class: Class) -> PopulationRow {
    PopulationRow {
        uscc: uscc(region_code, n),
        name: format!("舟山测试企业{n}有限公司"),
        region: region(region_code),
        industry: "F5221".into(),
        class,
        deregistered: false,
        revoked: false,
        last_inspected_on: None,
    }
}

/// `n` entities per region over the four Zhoushan regions, classes cycling
/// A A A A A A B B C D so every class is present.
pub fn population(n: u32) -> Vec<PopulationRow> {
    let cycle = [
        Class::A,
        Class::A,
        Class::A,
        Class::A,
        Class::A,
        Class::A,
        Class::B,
        Class::B,
        Class::C,
        Class::D,
    ];
    let mut out = Vec::new();
    for r in ["330902", "330903", "330921", "330922"] {
        for i in 0..n {
            out.push(row(r, i + 1, cycle[i as usize % cycle.len()]));
        }
    }
    out
}

pub fn officer(id: &str, unit: &str, quals: &[Domain], capacity: u32) -> Officer {
    Officer {
        officer_id: id.into(),
        name: format!("执法人员{id}"),
        unit: region(unit),
        qualifications: quals.to_vec(),
        conflicts: vec![],
        capacity,
    }
}

/// `per_unit` food+general officers in each Zhoushan region.
pub fn roster(per_unit: u32, capacity: u32) -> Vec<Officer> {
    let mut out = Vec::new();
    for r in ["330902", "330903", "330921", "330922"] {
        for i in 0..per_unit {
            out.push(officer(
                &format!("ZS{r}-{i:03}"),
                r,
                &[Domain::General, Domain::Food],
                capacity,
            ));
        }
    }
    out
}
