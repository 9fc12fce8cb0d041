//! Deliberately bad records, one per rejection reason, appended to the end of
//! the files so that the ingest's dead-letter path is exercised by the seeds.
//!
//! Each line is built from a valid record of the model serialised with
//! serde_json and then broken in exactly one way, so that it is rejected for
//! exactly the documented reason and no other.

use chrono::{Days, NaiveDate};
use serde::Serialize;
use tidewatch_model::codes::{Channel, InspectionType, ResultCode, Severity, ViolationCategory};
use tidewatch_model::event::{Complaint, Inspection, Penalty};
use tidewatch_model::uscc::ALPHABET;
use tidewatch_model::{CreditBody, CreditRecord, Domain, EntityKind, Money, Uscc};

use crate::ids::{org_code, uscc_of};

/// One bad record as listed in `meta.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRecord {
    pub event_id: String,
    pub file: &'static str,
    /// 1-based line number in `file`.
    pub line: u64,
    /// The reason code the ingest must give.
    pub reason: &'static str,
    /// What was broken.
    pub note: &'static str,
}

/// Lines to append per file, each with its description (line numbers are
/// filled in by the writer).
#[derive(Debug, Default)]
pub(crate) struct BadLines {
    pub inspections: Vec<(Vec<u8>, BadRecord)>,
    pub complaints: Vec<(Vec<u8>, BadRecord)>,
    pub credit: Vec<(Vec<u8>, BadRecord)>,
}

pub(crate) const INSPECTIONS: &str = "inspections.ndjson";
pub(crate) const COMPLAINTS: &str = "complaints.ndjson";
pub(crate) const CREDIT: &str = "credit-records.ndjson";

fn line<T: Serialize>(v: &T) -> std::io::Result<Vec<u8>> {
    let mut b = serde_json::to_vec(v)?;
    b.push(b'\n');
    Ok(b)
}

fn replace_once(line: &[u8], from: &str, to: &str) -> Vec<u8> {
    let s = String::from_utf8_lossy(line);
    s.replacen(from, to, 1).into_bytes()
}

fn rec(event_id: &str, file: &'static str, reason: &'static str, note: &'static str) -> BadRecord {
    BadRecord {
        event_id: event_id.to_string(),
        file,
        line: 0,
        reason,
        note,
    }
}

/// Builds the bad lines. `registered` is a USCC whose registration is in the
/// data set; `first_penalty` the first generated penalty (file order), whose
/// event id the conflicting duplicate reuses.
pub(crate) fn build(
    seed: u64,
    entities: u64,
    as_of: NaiveDate,
    registered: Uscc,
    first_penalty: Option<&CreditRecord>,
) -> std::io::Result<BadLines> {
    let mut out = BadLines::default();
    let day = as_of.checked_sub_days(Days::new(7)).unwrap_or(as_of);
    let inspection = |id: &str| Inspection {
        event_id: id.to_string(),
        uscc: registered,
        occurred_on: day,
        domain: Domain::General,
        inspection_type: InspectionType::Routine,
        result: ResultCode::NoProblem,
        plan_id: None,
        inspector_ids: Vec::new(),
        sampling: None,
    };
    let complaint = |id: &str, uscc: Uscc| Complaint {
        event_id: id.to_string(),
        uscc,
        occurred_on: day,
        domain: Domain::Food,
        channel: Channel::Hotline12315,
        category: "food_safety".to_string(),
        substantiated: Some(true),
        amount_cny: Some(Money::yuan(200, 0)),
        resolved: false,
    };

    // (a) invalid_uscc: the check character is wrong.
    let good = registered.as_str();
    let last = good.as_bytes()[17];
    let pos = ALPHABET.iter().position(|&c| c == last).unwrap_or(0);
    let mut broken = good.as_bytes().to_vec();
    broken[17] = ALPHABET[(pos + 1) % ALPHABET.len()];
    let broken = String::from_utf8_lossy(&broken).into_owned();
    let l = line(&inspection("bad-invalid-uscc"))?;
    out.inspections.push((
        replace_once(&l, good, &broken),
        rec(
            "bad-invalid-uscc",
            INSPECTIONS,
            "invalid_uscc",
            "USCC with a wrong check character",
        ),
    ));
    // (c) unknown_enum: an inspection type outside the list.
    let l = line(&inspection("bad-unknown-enum"))?;
    out.inspections.push((
        replace_once(
            &l,
            "\"inspection_type\":\"routine\"",
            "\"inspection_type\":\"surprise_visit\"",
        ),
        rec(
            "bad-unknown-enum",
            INSPECTIONS,
            "unknown_enum",
            "inspection_type \"surprise_visit\" is not in the list",
        ),
    ));
    // (f) future_date: dated after the as-of date.
    let mut f = inspection("bad-future-date");
    f.occurred_on = as_of.checked_add_days(Days::new(30)).unwrap_or(as_of);
    out.inspections.push((
        line(&f)?,
        rec(
            "bad-future-date",
            INSPECTIONS,
            "future_date",
            "occurred_on 30 days after the as-of date",
        ),
    ));

    // (b) negative_amount.
    let mut c = complaint("bad-negative-amount", registered);
    c.amount_cny = Some(Money::yuan(-200, 0));
    out.complaints.push((
        line(&c)?,
        rec(
            "bad-negative-amount",
            COMPLAINTS,
            "negative_amount",
            "amount_cny is -200.00",
        ),
    ));
    // (d) malformed_json: a line cut off in the middle.
    let full = line(&complaint("bad-malformed", registered))?;
    let cut = full.len() * 2 / 3;
    let mut t = full[..cut].to_vec();
    while !t.is_empty() && std::str::from_utf8(&t).is_err() {
        t.pop();
    }
    t.push(b'\n');
    out.complaints.push((
        t,
        rec(
            "bad-malformed",
            COMPLAINTS,
            "malformed_json",
            "truncated JSON object",
        ),
    ));
    // (g) unknown_entity: a valid code that is never registered (the
    // organisation code of the first index past the generated entities).
    let ghost = uscc_of(EntityKind::Enterprise, 0, &org_code(seed, entities));
    out.complaints.push((
        line(&complaint("bad-unknown-entity", ghost))?,
        rec(
            "bad-unknown-entity",
            COMPLAINTS,
            "unknown_entity",
            "valid USCC without a registration",
        ),
    ));

    // (e) conflicting_duplicate: an earlier penalty's event id, another fine.
    let penalty = |id: &str, doc: &str| CreditRecord {
        event_id: id.to_string(),
        uscc: registered,
        occurred_on: day,
        domain: Domain::Food,
        body: CreditBody::Penalty(Penalty {
            document_no: doc.to_string(),
            violation_category: ViolationCategory::FoodSafety,
            violation_code: "食品安全法第一百二十六条".to_string(),
            fine_cny: Money::yuan(5000, 0),
            severity: Severity::Fine,
            revoked_license: false,
            licence_fraud: false,
            criminal_referral: false,
        }),
    };
    let mut dup = match first_penalty {
        Some(p) => p.clone(),
        None => {
            // No penalty was generated (a tiny data set): add one, then its
            // conflicting twin. The first line is a good record.
            let p = penalty("bad-conflicting-duplicate", "舟市监罚〔0000〕1号");
            out.credit.push((
                line(&p)?,
                rec(
                    "bad-conflicting-duplicate",
                    CREDIT,
                    "accepted",
                    "the original of the conflicting duplicate below",
                ),
            ));
            p
        }
    };
    if let CreditBody::Penalty(p) = &mut dup.body {
        let fen = p.fine_cny.to_fen().unwrap_or(0);
        p.fine_cny = Money::from_fen(fen + 100_000);
    }
    out.credit.push((
        line(&dup)?,
        BadRecord {
            event_id: dup.event_id.clone(),
            file: CREDIT,
            line: 0,
            reason: "conflicting_duplicate",
            note: "event_id of an earlier penalty, fine_cny 1000.00 higher",
        },
    ));
    // (h) missing_field: a penalty without document_no.
    let l = line(&penalty("bad-missing-field", "舟市监罚〔0000〕0号"))?;
    out.credit.push((
        replace_once(&l, "\"document_no\":\"舟市监罚〔0000〕0号\",", ""),
        rec(
            "bad-missing-field",
            CREDIT,
            "missing_field",
            "penalty payload without document_no",
        ),
    ));
    Ok(out)
}
