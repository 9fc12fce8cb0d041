//! An entity's history in event time — (date, family, event id) — does
//! not depend on the order its events arrived in. The store skips the sort
//! while events arrive in event time, so both paths are checked: arrivals
//! in event time (ties on the date included) and in any other order.

use chrono::NaiveDate;
use proptest::prelude::*;
use tidewatch_ingest::decode_and_validate;
use tidewatch_model::{Event, Family};
use tidewatch_state::Entity;

const USCC: &str = "91330903G061B4F47C";

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 9, 30).expect("date")
}

fn day(d: u32) -> String {
    (NaiveDate::from_ymd_opt(2026, 1, 1).expect("date") + chrono::Days::new(u64::from(d)))
        .to_string()
}

/// Event `i` of one of three families on day `d` (few days, so that dates
/// tie).
fn event(kind: u8, i: usize, d: u32) -> Event {
    let on = day(d);
    let (family, line) = match kind % 3 {
        0 => (
            Family::Inspections,
            format!(
                r#"{{"event_id":"ins-{i:03}","uscc":"{USCC}","occurred_on":"{on}","domain":"food","inspection_type":"routine","result":"1"}}"#
            ),
        ),
        1 => (
            Family::Complaints,
            format!(
                r#"{{"event_id":"cmp-{i:03}","uscc":"{USCC}","occurred_on":"{on}","domain":"food","channel":"12315","category":"price","substantiated":null,"resolved":false}}"#
            ),
        ),
        _ => (
            Family::CreditRecords,
            format!(
                r#"{{"event_id":"cred-{i:03}","uscc":"{USCC}","occurred_on":"{on}","domain":"general","kind":"registered","payload":{{"name":"n{i}","region_code":"330903","industry_code":"F5224","entity_type":"limited_company","registered_capital_cny":"300000.00","established_on":"2001-10-05","legal_rep_key":"LR-1","licences":[]}}}}"#
            ),
        ),
    };
    decode_and_validate(family, line.as_bytes(), as_of()).expect("a good line")
}

fn key(e: &Event) -> (NaiveDate, Family, String) {
    (e.occurred_on(), e.family(), e.event_id().to_owned())
}

fn expected(events: &[Event], until: NaiveDate) -> Vec<(NaiveDate, Family, String)> {
    let mut want: Vec<_> = events
        .iter()
        .filter(|e| e.occurred_on() <= until)
        .map(key)
        .collect();
    want.sort();
    want
}

proptest! {
    #[test]
    fn history_in_event_time_whatever_the_arrival_order(
        spec in prop::collection::vec((0u8..3, 0u32..6), 1..40),
        shuffle in any::<bool>(),
        seed in any::<u64>(),
        cut in 0u32..8,
    ) {
        let mut events: Vec<Event> =
            spec.iter().enumerate().map(|(i, &(k, d))| event(k, i, d)).collect();
        // In event time, or in an order drawn from the seed.
        events.sort_by_key(key);
        if shuffle {
            let mut s = seed;
            for i in (1..events.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                events.swap(i, (s >> 33) as usize % (i + 1));
            }
        }
        let uscc = USCC.parse().expect("uscc");
        let e = Entity::new(uscc, events.clone());
        let until = NaiveDate::parse_from_str(&day(cut), "%Y-%m-%d").expect("date");
        for date in [until, as_of()] {
            let got: Vec<_> = e.history_until(date).into_iter().map(key).collect();
            prop_assert_eq!(got, expected(&events, date));
        }
    }
}
