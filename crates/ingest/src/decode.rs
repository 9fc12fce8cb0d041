//! Bytes → validated [`Event`], or a [`Rejection`] with the reason code.
//!
//! This is pure: the same bytes and as-of date always give the same answer,
//! whichever source they came from (file line or Kafka record). Any input
//! bytes are accepted without panicking; that is a property test below.

use chrono::NaiveDate;
use serde_json::error::Category;
use tidewatch_model::event::{Complaint, CreditRecord, Inspection};
use tidewatch_model::{validate, Event, Family, RejectReason, Rejection};

/// Decodes one record of `family` without the as-of checks.
///
/// Records in the plain form take the fast path ([`crate::fast`]); the rest,
/// and every record that is rejected, are decoded by serde, which alone
/// decides the reason and the message.
pub fn decode(family: Family, bytes: &[u8]) -> Result<Event, Rejection> {
    match crate::fast::decode(family, bytes) {
        Some(e) => Ok(e),
        None => decode_with_serde(family, bytes),
    }
}

/// The reference decoder: serde_json into the model's types. [`decode`]
/// gives the same answer for every input, faster.
pub fn decode_with_serde(family: Family, bytes: &[u8]) -> Result<Event, Rejection> {
    // serde would accept `42` or `[]` as far as "invalid type"; a record that
    // is not an object is malformed, not a wrong value.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(_) => {
            return Err(Rejection::new(
                RejectReason::MalformedJson,
                "record is not a JSON object",
            ))
        }
        None => return Err(Rejection::new(RejectReason::MalformedJson, "empty record")),
    }
    let r = match family {
        Family::Inspections => serde_json::from_slice::<Inspection>(bytes).map(Event::Inspection),
        Family::Complaints => serde_json::from_slice::<Complaint>(bytes).map(Event::Complaint),
        Family::CreditRecords => serde_json::from_slice::<CreditRecord>(bytes).map(Event::Credit),
    };
    r.map_err(classify)
}

/// Decodes and applies the checks that depend on the as-of date.
pub fn decode_and_validate(
    family: Family,
    bytes: &[u8],
    as_of: NaiveDate,
) -> Result<Event, Rejection> {
    let e = decode(family, bytes)?;
    validate(&e, as_of)?;
    Ok(e)
}

/// Maps a serde error to a reason code. serde reports data errors as text
/// only, so the classification reads the stable prefixes serde (and our own
/// `Deserialize` impls, e.g. "invalid USCC") put at the front of the message.
fn classify(err: serde_json::Error) -> Rejection {
    let msg = err.to_string();
    let reason = match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => RejectReason::MalformedJson,
        Category::Data => {
            if msg.starts_with("missing field") {
                RejectReason::MissingField
            } else if msg.starts_with("unknown variant") {
                RejectReason::UnknownEnum
            } else if msg.starts_with("invalid USCC") {
                RejectReason::InvalidUscc
            } else {
                RejectReason::InvalidValue
            }
        }
    };
    Rejection::new(reason, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const AS_OF: &str = "2026-09-30";

    fn as_of() -> NaiveDate {
        AS_OF.parse().expect("date")
    }

    fn reason(family: Family, s: &str) -> RejectReason {
        match decode_and_validate(family, s.as_bytes(), as_of()) {
            Ok(e) => panic!("accepted: {e:?}"),
            Err(r) => r.reason,
        }
    }

    const INSP: &str = r#"{"event_id":"i1","uscc":"9144030071526726XG","occurred_on":"2026-03-02","domain":"food","inspection_type":"double_random","result":"A","plan_id":"P1","inspector_ids":["ZS-0001","ZS-0002"]}"#;

    #[test]
    fn good_inspection_decodes() {
        let e = decode_and_validate(Family::Inspections, INSP.as_bytes(), as_of()).expect("valid");
        assert_eq!(e.event_id(), "i1");
        assert_eq!(e.family(), Family::Inspections);
    }

    #[test]
    fn reasons_are_specific() {
        let f = Family::Inspections;
        assert_eq!(
            reason(f, &INSP.replace("6XG", "6XA")),
            RejectReason::InvalidUscc
        );
        assert_eq!(
            reason(f, &INSP.replace("6XG", "6xg")),
            RejectReason::InvalidUscc
        );
        assert_eq!(
            reason(f, &INSP.replace("double_random", "surprise_visit")),
            RejectReason::UnknownEnum
        );
        assert_eq!(
            reason(f, &INSP.replace("\"result\":\"A\",", "")),
            RejectReason::MissingField
        );
        assert_eq!(reason(f, &INSP[..40]), RejectReason::MalformedJson);
        assert_eq!(reason(f, "[1,2]"), RejectReason::MalformedJson);
        assert_eq!(
            reason(f, &INSP.replace("2026-03-02", "2026-10-01")),
            RejectReason::FutureDate
        );
        assert_eq!(
            reason(f, &INSP.replace("2026-03-02", "2026-02-30")),
            RejectReason::InvalidValue
        );
        assert_eq!(
            reason(f, &INSP.replace("\"result\":\"A\"", "\"result\":\"5\"")),
            RejectReason::UnknownEnum
        );
    }

    #[test]
    fn complaint_amounts() {
        let c = r#"{"event_id":"c1","uscc":"9144030071526726XG","occurred_on":"2026-03-02","domain":"general","channel":"12315","category":"price","substantiated":null,"amount_cny":"-20.00","resolved":false}"#;
        assert_eq!(reason(Family::Complaints, c), RejectReason::NegativeAmount);
        assert_eq!(
            reason(Family::Complaints, &c.replace("\"-20.00\"", "20.5")),
            RejectReason::InvalidValue
        );
        assert!(decode_and_validate(
            Family::Complaints,
            c.replace("-20", "20").as_bytes(),
            as_of()
        )
        .is_ok());
    }

    #[test]
    fn credit_record_kinds() {
        let pen = r#"{"event_id":"p1","uscc":"9144030071526726XG","occurred_on":"2025-05-06","domain":"food","kind":"penalty","payload":{"document_no":"舟市监罚〔2025〕1号","violation_category":"food_safety","violation_code":"食品安全法第一百二十四条","fine_cny":"50000.00","severity":"heavy"}}"#;
        let e = decode_and_validate(Family::CreditRecords, pen.as_bytes(), as_of()).expect("valid");
        assert!(matches!(e, Event::Credit(ref c) if c.body.kind() == "penalty"));
        let f = Family::CreditRecords;
        assert_eq!(
            reason(
                f,
                &pen.replace("\"document_no\":\"舟市监罚〔2025〕1号\",", "")
            ),
            RejectReason::MissingField
        );
        assert_eq!(
            reason(
                f,
                &pen.replace("\"kind\":\"penalty\"", "\"kind\":\"pardon\"")
            ),
            RejectReason::UnknownEnum
        );
        assert_eq!(
            reason(f, &pen.replace("\"kind\":\"penalty\",", "")),
            RejectReason::MissingField
        );
        assert_eq!(
            reason(f, &pen.replace("50000.00", "-1.00")),
            RejectReason::NegativeAmount
        );
        let dereg = r#"{"event_id":"d1","uscc":"9144030071526726XG","occurred_on":"2025-05-06","domain":"general","kind":"deregistered","payload":{}}"#;
        assert!(decode_and_validate(f, dereg.as_bytes(), as_of()).is_ok());
    }

    #[test]
    fn registration_must_match_its_code() {
        // 914403... is a Shenzhen enterprise: region 440300.
        let reg = r#"{"event_id":"r1","uscc":"9144030071526726XG","occurred_on":"2001-01-01","domain":"general","kind":"registered","payload":{"name":"x","region_code":"440300","industry_code":"I6420","entity_type":"limited_company","registered_capital_cny":"1000000.00","established_on":"2001-01-01","legal_rep_key":"LR-1","licences":[]}}"#;
        let f = Family::CreditRecords;
        assert!(decode_and_validate(f, reg.as_bytes(), as_of()).is_ok());
        assert_eq!(
            reason(f, &reg.replace("\"440300\"", "\"330902\"")),
            RejectReason::InvalidValue
        );
        assert_eq!(
            reason(f, &reg.replace("limited_company", "individual_business")),
            RejectReason::InvalidValue
        );
        assert_eq!(
            reason(f, &reg.replace("I6420", "I64200")),
            RejectReason::InvalidValue
        );
        assert_eq!(
            reason(
                f,
                &reg.replace("\"zone\"", "")
                    .replace("\"licences\":[]", "\"zone\":\"123456\"")
            ),
            RejectReason::InvalidValue
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300), fam in 0usize..3) {
            let _ = decode_and_validate(Family::ALL[fam], &bytes, as_of());
        }

        #[test]
        fn never_panics_on_mutated_records(pos in 0usize..200, byte in any::<u8>(), fam in 0usize..3) {
            let mut b = INSP.as_bytes().to_vec();
            let p = pos % b.len();
            b[p] = byte;
            let _ = decode_and_validate(Family::ALL[fam], &b, as_of());
        }
    }
}
