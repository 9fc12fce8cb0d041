//! The registration in force is the latest by (date, event id), whatever
//! order the registrations arrived in (the store keeps where it is as
//! events arrive rather than searching the history each time).

use chrono::NaiveDate;
use tidewatch_ingest::decode_and_validate;
use tidewatch_model::{Event, Family};
use tidewatch_state::{Entity, EntityStore};

const USCC: &str = "91330903G061B4F47C";

fn registered(id: &str, on: &str, name: &str) -> Event {
    let line = format!(
        r#"{{"event_id":"{id}","uscc":"{USCC}","occurred_on":"{on}","domain":"general","kind":"registered","payload":{{"name":"{name}","region_code":"330903","industry_code":"F5224","entity_type":"limited_company","registered_capital_cny":"300000.00","established_on":"2001-10-05","legal_rep_key":"LR-1","licences":[]}}}}"#
    );
    let as_of = NaiveDate::from_ymd_opt(2026, 9, 30).expect("date");
    decode_and_validate(Family::CreditRecords, line.as_bytes(), as_of).expect("a good line")
}

fn inspection(id: &str, on: &str) -> Event {
    let line = format!(
        r#"{{"event_id":"{id}","uscc":"{USCC}","occurred_on":"{on}","domain":"food","inspection_type":"routine","result":"1"}}"#
    );
    let as_of = NaiveDate::from_ymd_opt(2026, 9, 30).expect("date");
    decode_and_validate(Family::Inspections, line.as_bytes(), as_of).expect("a good line")
}

fn name(e: &Entity) -> Option<&str> {
    e.registration().map(|r| r.name.as_str())
}

#[test]
fn the_latest_registration_is_in_force_in_any_arrival_order() {
    let events = [
        registered("cred-1", "2001-10-05", "first"),
        registered("cred-3", "2020-01-01", "same day, lower id"),
        registered("cred-4", "2020-01-01", "latest"),
        registered("cred-2", "2010-06-01", "middle"),
        inspection("insp-1", "2024-01-01"),
    ];
    // Every order of the five events.
    let mut orders = vec![vec![]];
    for _ in 0..events.len() {
        orders = orders
            .into_iter()
            .flat_map(|o: Vec<usize>| {
                (0..events.len())
                    .filter(|i| !o.contains(i))
                    .map(|i| {
                        let mut o = o.clone();
                        o.push(i);
                        o
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
    }
    assert_eq!(orders.len(), 120);
    for order in orders {
        let e = Entity::new(
            USCC.parse().expect("uscc"),
            order.iter().map(|&i| events[i].clone()),
        );
        assert_eq!(name(&e), Some("latest"), "order {order:?}");

        // The store's way in: an event of an unknown entity is held
        // until its registration arrives, then applied with it.
        let mut st = EntityStore::new();
        for (tag, &i) in order.iter().enumerate() {
            st.apply(events[i].clone(), tag as u64).expect("applied");
        }
        let e = st.entity(0);
        assert_eq!(e.history().len(), events.len());
        assert_eq!(name(e), Some("latest"), "order {order:?}");
    }
}

#[test]
fn an_entity_without_a_registration_has_none() {
    let e = Entity::new(
        USCC.parse().expect("uscc"),
        [inspection("insp-1", "2024-01-01")],
    );
    assert!(e.registration().is_none());
}
