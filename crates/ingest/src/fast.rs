//! The fast path of decoding: a parser for records in the plain form
//! producers write, which builds the same [`Event`] serde would.
//!
//! serde_json spends most of a record's time on what these records rarely
//! need: a credit record's `#[serde(flatten)]` body is buffered into a
//! generic tree before it is decoded, every string is UTF-8 checked twice,
//! and dates go through chrono's general format parser. This parser handles
//! the common shape directly and gives up (`None`) on anything else: an
//! escape in a string, a key it does not know or sees twice, `payload`
//! before `kind`, a number or date outside the plain form, any syntax it is
//! not sure of. The caller then decodes the record with serde, so rejections
//! and their messages come from one place and never depend on this path.
//!
//! The rule that keeps the two paths equal: this parser accepts a record
//! only if serde accepts it, and then builds the same event, because every
//! leaf goes through the same constructor serde's impls call
//! ([`Uscc::parse`], [`Money::parse`], the code lists' `from_code`, …).
//! A differential test over mutated records checks it.

use chrono::NaiveDate;
use tidewatch_model::codes::{
    AbnormalReason, AccidentSeverity, ChangeKind, Channel, EntityType, Hazard, IndustryCode,
    InspectionType, Licence, RegionCode, Severity, ViolationCategory, ZoneCode,
};
use tidewatch_model::event::{
    AbnormalListing, Accident, AnnualReport, Award, Certification, Change, Complaint, CreditRecord,
    CreditRepair, Inspection, ListDecision, Note, Penalty, PenaltyRef, Registration, Sampling,
};
use tidewatch_model::{CreditBody, Domain, Event, Family, Money, ResultCode, Uscc};

/// `None`: not decoded here, decode with serde.
type R<T> = Option<T>;

/// Decodes `bytes` if it is in the plain form; `None` leaves it to serde.
pub fn decode(family: Family, bytes: &[u8]) -> Option<Event> {
    // One UTF-8 check for the whole record (serde_json checks each string
    // on its own); every string below is then a slice of it.
    let s = simdutf8::basic::from_utf8(bytes).ok()?;
    let mut p = P { s, b: bytes, i: 0 };
    let e = match family {
        Family::Inspections => Event::Inspection(inspection(&mut p)?),
        Family::Complaints => Event::Complaint(complaint(&mut p)?),
        Family::CreditRecords => Event::Credit(credit(&mut p)?),
    };
    // serde_json allows only whitespace after the value.
    p.ws();
    (p.i == p.b.len()).then_some(e)
}

/// A cursor over one record.
struct P<'a> {
    s: &'a str,
    /// `s` as bytes.
    b: &'a [u8],
    i: usize,
}

impl<'a> P<'a> {
    /// Skips JSON whitespace (the four characters serde_json skips).
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> R<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> R<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// A string without escapes or control characters, borrowed.
    fn str(&mut self) -> R<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        // Eight bytes at a time: most strings here are short, where a
        // byte loop or memchr's setup would cost more than the scan.
        let mut i = start;
        while let Some(word) = self.b.get(i..i + 8) {
            let m = specials(u64::from_le_bytes(word.try_into().ok()?));
            if m != 0 {
                i += (m.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        if self.b.get(i..i + 8).is_none() {
            i += self.b[i..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        }
        // An escape is serde's to read, a control character serde's to reject.
        if self.b[i] != b'"' {
            return None;
        }
        self.i = i + 1;
        // Both ends are at an ASCII quote, so on a character boundary.
        self.s.get(start..i)
    }

    fn string(&mut self) -> R<String> {
        self.str().map(str::to_owned)
    }

    fn literal(&mut self, w: &[u8]) -> bool {
        if self.peek().is_some() && self.b[self.i..].starts_with(w) {
            self.i += w.len();
            true
        } else {
            false
        }
    }

    fn bool(&mut self) -> R<bool> {
        if self.literal(b"true") {
            Some(true)
        } else if self.literal(b"false") {
            Some(false)
        } else {
            None
        }
    }

    /// `null` as `None`, else the value `f` reads, as serde reads an `Option`.
    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> R<T>) -> R<Option<T>> {
        if self.literal(b"null") {
            Some(None)
        } else {
            f(self).map(Some)
        }
    }

    /// An integer of at most nine digits (so it fits an `i32`), in the form
    /// JSON allows (no leading zero); anything longer or with a fraction or
    /// an exponent is left to serde.
    fn i32(&mut self) -> R<i32> {
        self.ws();
        let neg = self.b.get(self.i) == Some(&b'-');
        let start = self.i + usize::from(neg);
        let digits = self.b[start..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 || digits > 9 || (self.b[start] == b'0' && (digits > 1 || neg)) {
            return None;
        }
        let end = start + digits;
        if let Some(b'.' | b'e' | b'E') = self.b.get(end) {
            return None;
        }
        let v = self.b[start..end]
            .iter()
            .fold(0i32, |a, &c| a * 10 + i32::from(c - b'0'));
        self.i = end;
        Some(if neg { -v } else { v })
    }

    /// `YYYY-MM-DD` exactly, a real date; other spellings chrono may take
    /// are left to serde.
    fn date(&mut self) -> R<NaiveDate> {
        let s = self.str()?.as_bytes();
        let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *s else {
            return None;
        };
        let num = |ds: &[u8]| {
            ds.iter().try_fold(0u32, |a, &c| {
                c.is_ascii_digit().then(|| a * 10 + u32::from(c - b'0'))
            })
        };
        let y = num(&[y0, y1, y2, y3])?;
        if y < 1000 {
            return None;
        }
        NaiveDate::from_ymd_opt(y as i32, num(&[m0, m1])?, num(&[d0, d1])?)
    }

    fn uscc(&mut self) -> R<Uscc> {
        Uscc::parse(self.str()?).ok()
    }

    fn money(&mut self) -> R<Money> {
        Money::parse(self.str()?).ok()
    }

    /// A code list value by its wire code.
    fn code<T>(&mut self, from_code: fn(&str) -> Option<T>) -> R<T> {
        from_code(self.str()?)
    }

    /// Calls `f(self, key)` for each member of an object; `f` reads the value.
    fn object(&mut self, mut f: impl FnMut(&mut Self, &'a str) -> R<()>) -> R<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let k = self.str()?;
            self.eat(b':')?;
            f(self, k)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn array<T>(&mut self, mut f: impl FnMut(&mut Self) -> R<T>) -> R<Vec<T>> {
        self.eat(b'[')?;
        let mut out = Vec::new();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(out);
        }
        loop {
            out.push(f(self)?);
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(out);
                }
                _ => return None,
            }
        }
    }
}

/// The bytes of `w` (little-endian) that are `"`, `\\` or below 0x20, as
/// their high bits. Only the lowest flagged byte is exact (a borrow can flag
/// bytes above it), which is the one the string scan needs.
fn specials(w: u64) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    zero(w ^ (LO * u64::from(b'"')))
        | zero(w ^ (LO * u64::from(b'\\')))
        | (w.wrapping_sub(LO * 0x20) & !w & HI)
}

/// Fills a field once; a second value is a duplicate key, which serde
/// rejects, so it is left to serde.
fn set<T>(slot: &mut Option<T>, v: T) -> R<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(v);
    Some(())
}

/// The fields every family starts with.
#[derive(Default)]
struct Common {
    event_id: Option<String>,
    uscc: Option<Uscc>,
    occurred_on: Option<NaiveDate>,
    domain: Option<Domain>,
}

impl Common {
    /// Reads `key` if it is a common field: `Some(Some(()))` read,
    /// `Some(None)` not a common field, `None` give up.
    fn read(&mut self, p: &mut P, key: &str) -> R<Option<()>> {
        match key {
            "event_id" => set(&mut self.event_id, p.string()?),
            "uscc" => set(&mut self.uscc, p.uscc()?),
            "occurred_on" => set(&mut self.occurred_on, p.date()?),
            "domain" => set(&mut self.domain, p.code(Domain::from_code)?),
            _ => return Some(None),
        }
        .map(Some)
    }
}

fn inspection(p: &mut P) -> R<Inspection> {
    let mut c = Common::default();
    let (mut itype, mut result) = (None, None);
    let (mut plan_id, mut inspectors, mut sampling) = (None, None, None);
    p.object(|p, k| {
        if c.read(p, k)?.is_some() {
            return Some(());
        }
        match k {
            "inspection_type" => set(&mut itype, p.code(InspectionType::from_code)?),
            "result" => set(&mut result, p.code(ResultCode::from_code)?),
            "plan_id" => set(&mut plan_id, p.opt(P::string)?),
            "inspector_ids" => set(&mut inspectors, p.array(P::string)?),
            "sampling" => set(&mut sampling, p.opt(sampling_of)?),
            _ => None,
        }
    })?;
    Some(Inspection {
        event_id: c.event_id?,
        uscc: c.uscc?,
        occurred_on: c.occurred_on?,
        domain: c.domain?,
        inspection_type: itype?,
        result: result?,
        plan_id: plan_id.flatten(),
        inspector_ids: inspectors.unwrap_or_default(),
        sampling: sampling.flatten(),
    })
}

fn sampling_of(p: &mut P) -> R<Sampling> {
    let (mut product, mut passed, mut hazard) = (None, None, None);
    p.object(|p, k| match k {
        "product" => set(&mut product, p.string()?),
        "passed" => set(&mut passed, p.bool()?),
        "hazard" => set(&mut hazard, p.opt(|p| p.code(Hazard::from_code))?),
        _ => None,
    })?;
    Some(Sampling {
        product: product?,
        passed: passed?,
        hazard: hazard.flatten(),
    })
}

fn complaint(p: &mut P) -> R<Complaint> {
    let mut c = Common::default();
    let (mut channel, mut category, mut substantiated, mut amount, mut resolved) =
        (None, None, None, None, None);
    p.object(|p, k| {
        if c.read(p, k)?.is_some() {
            return Some(());
        }
        match k {
            "channel" => set(&mut channel, p.code(Channel::from_code)?),
            "category" => set(&mut category, p.string()?),
            "substantiated" => set(&mut substantiated, p.opt(P::bool)?),
            "amount_cny" => set(&mut amount, p.opt(P::money)?),
            "resolved" => set(&mut resolved, p.bool()?),
            _ => None,
        }
    })?;
    Some(Complaint {
        event_id: c.event_id?,
        uscc: c.uscc?,
        occurred_on: c.occurred_on?,
        domain: c.domain?,
        channel: channel?,
        category: category?,
        substantiated: substantiated.flatten(),
        amount_cny: amount.flatten(),
        resolved: resolved?,
    })
}

fn credit(p: &mut P) -> R<CreditRecord> {
    let mut c = Common::default();
    let mut kind: Option<&str> = None;
    let mut body = None;
    p.object(|p, k| {
        if c.read(p, k)?.is_some() {
            return Some(());
        }
        match k {
            "kind" => set(&mut kind, p.str()?),
            // serde also takes the payload before the kind, buffering it;
            // that order is left to serde.
            "payload" => set(&mut body, payload(p, kind?)?),
            _ => None,
        }
    })?;
    Some(CreditRecord {
        event_id: c.event_id?,
        uscc: c.uscc?,
        occurred_on: c.occurred_on?,
        domain: c.domain?,
        body: body?,
    })
}

/// Optional string fields of a payload (`null` or absent is `None`).
fn opt_string(slot: &mut Option<Option<String>>, p: &mut P) -> R<()> {
    set(slot, p.opt(P::string)?)
}

/// The payload of a credit record of `kind`: an object of that kind's fields.
fn payload(p: &mut P, kind: &str) -> R<CreditBody> {
    Some(match kind {
        "registered" => CreditBody::Registered(registration(p)?),
        "changed" => {
            let (mut what, mut rep, mut capital) = (None, None, None);
            p.object(|p, k| match k {
                "what" => set(&mut what, p.code(ChangeKind::from_code)?),
                "legal_rep_key" => opt_string(&mut rep, p),
                "registered_capital_cny" => set(&mut capital, p.opt(P::money)?),
                _ => None,
            })?;
            CreditBody::Changed(Change {
                what: what?,
                legal_rep_key: rep.flatten(),
                registered_capital_cny: capital.flatten(),
            })
        }
        "deregistered" => CreditBody::Deregistered(note(p)?),
        "revoked" => CreditBody::Revoked(note(p)?),
        "annual_report_filed" => {
            let (mut year, mut on_time) = (None, None);
            p.object(|p, k| match k {
                "year" => set(&mut year, p.i32()?),
                "on_time" => set(&mut on_time, p.bool()?),
                _ => None,
            })?;
            CreditBody::AnnualReportFiled(AnnualReport {
                year: year?,
                on_time: on_time?,
            })
        }
        "penalty" => CreditBody::Penalty(penalty(p)?),
        "penalty_withdrawn" => {
            let mut doc = None;
            p.object(|p, k| match k {
                "document_no" => set(&mut doc, p.string()?),
                _ => None,
            })?;
            CreditBody::PenaltyWithdrawn(PenaltyRef { document_no: doc? })
        }
        "accident" => {
            let mut severity = None;
            p.object(|p, k| match k {
                "severity" => set(&mut severity, p.code(AccidentSeverity::from_code)?),
                _ => None,
            })?;
            CreditBody::Accident(Accident {
                severity: severity?,
            })
        }
        "abnormal_listed" => {
            let mut reason = None;
            p.object(|p, k| match k {
                "reason" => set(&mut reason, p.code(AbnormalReason::from_code)?),
                _ => None,
            })?;
            CreditBody::AbnormalListed(AbnormalListing { reason: reason? })
        }
        "abnormal_removed" => CreditBody::AbnormalRemoved(note(p)?),
        "serious_listed" => CreditBody::SeriousListed(list_decision(p)?),
        "serious_removed" => CreditBody::SeriousRemoved(list_decision(p)?),
        "quality_blacklisted" => CreditBody::QualityBlacklisted(list_decision(p)?),
        "quality_blacklist_removed" => CreditBody::QualityBlacklistRemoved(list_decision(p)?),
        "court_dishonest" => CreditBody::CourtDishonest(note(p)?),
        "certification" => {
            let mut scheme = None;
            p.object(|p, k| match k {
                "scheme" => set(&mut scheme, p.string()?),
                _ => None,
            })?;
            CreditBody::Certification(Certification { scheme: scheme? })
        }
        "award" => {
            let mut name = None;
            p.object(|p, k| match k {
                "name" => set(&mut name, p.string()?),
                _ => None,
            })?;
            CreditBody::Award(Award { name: name? })
        }
        "credit_repaired" => {
            let mut doc = None;
            p.object(|p, k| match k {
                "document_no" => opt_string(&mut doc, p),
                _ => None,
            })?;
            CreditBody::CreditRepaired(CreditRepair {
                document_no: doc.flatten(),
            })
        }
        _ => return None,
    })
}

fn note(p: &mut P) -> R<Note> {
    let mut reason = None;
    p.object(|p, k| match k {
        "reason" => opt_string(&mut reason, p),
        _ => None,
    })?;
    Some(Note {
        reason: reason.flatten(),
    })
}

fn list_decision(p: &mut P) -> R<ListDecision> {
    let (mut decision_no, mut authority, mut reason) = (None, None, None);
    p.object(|p, k| match k {
        "decision_no" => opt_string(&mut decision_no, p),
        "authority" => opt_string(&mut authority, p),
        "reason" => opt_string(&mut reason, p),
        _ => None,
    })?;
    Some(ListDecision {
        decision_no: decision_no.flatten(),
        authority: authority.flatten(),
        reason: reason.flatten(),
    })
}

fn registration(p: &mut P) -> R<Registration> {
    let (mut name, mut region, mut zone, mut industry, mut etype) = (None, None, None, None, None);
    let (mut capital, mut established, mut rep, mut licences) = (None, None, None, None);
    p.object(|p, k| match k {
        "name" => set(&mut name, p.string()?),
        "region_code" => set(&mut region, RegionCode::parse(p.str()?).ok()?),
        "zone" => set(&mut zone, p.opt(|p| ZoneCode::parse(p.str()?).ok())?),
        "industry_code" => set(&mut industry, IndustryCode::parse(p.str()?).ok()?),
        "entity_type" => set(&mut etype, p.code(EntityType::from_code)?),
        "registered_capital_cny" => set(&mut capital, p.money()?),
        "established_on" => set(&mut established, p.date()?),
        "legal_rep_key" => set(&mut rep, p.string()?),
        "licences" => set(&mut licences, p.array(|p| p.code(Licence::from_code))?),
        _ => None,
    })?;
    Some(Registration {
        name: name?,
        region_code: region?,
        zone: zone.flatten(),
        industry_code: industry?,
        entity_type: etype?,
        registered_capital_cny: capital?,
        established_on: established?,
        legal_rep_key: rep?,
        licences: licences.unwrap_or_default(),
    })
}

fn penalty(p: &mut P) -> R<Penalty> {
    let (mut doc, mut category, mut code, mut fine, mut severity) = (None, None, None, None, None);
    let (mut revoked, mut fraud, mut criminal) = (None, None, None);
    p.object(|p, k| match k {
        "document_no" => set(&mut doc, p.string()?),
        "violation_category" => set(&mut category, p.code(ViolationCategory::from_code)?),
        "violation_code" => set(&mut code, p.string()?),
        "fine_cny" => set(&mut fine, p.money()?),
        "severity" => set(&mut severity, p.code(Severity::from_code)?),
        "revoked_license" => set(&mut revoked, p.bool()?),
        "licence_fraud" => set(&mut fraud, p.bool()?),
        "criminal_referral" => set(&mut criminal, p.bool()?),
        _ => None,
    })?;
    Some(Penalty {
        document_no: doc?,
        violation_category: category?,
        violation_code: code?,
        fine_cny: fine?,
        severity: severity?,
        revoked_license: revoked.unwrap_or(false),
        licence_fraud: fraud.unwrap_or(false),
        criminal_referral: criminal.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_with_serde;
    use proptest::prelude::*;

    /// The rule of this module: whatever the fast path accepts, serde
    /// accepts, with the same event.
    fn agrees(family: Family, bytes: &[u8]) -> Result<bool, String> {
        match (decode(family, bytes), decode_with_serde(family, bytes)) {
            (None, _) => Ok(false),
            (Some(f), Ok(s)) if f == s => Ok(true),
            (Some(f), s) => Err(format!(
                "{}: fast {f:?}, serde {s:?}",
                String::from_utf8_lossy(bytes)
            )),
        }
    }

    fn seed_lines() -> Vec<(Family, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../seeds");
        let mut out = Vec::new();
        for f in Family::ALL {
            let text = std::fs::read_to_string(dir.join(format!("{}.ndjson", f.as_str())))
                .expect("seed file");
            out.extend(text.lines().map(|l| (f, l.to_owned())));
        }
        out
    }

    #[test]
    fn every_good_seed_record_takes_the_fast_path_with_the_same_event() {
        let mut fast = 0;
        let mut good = 0;
        for (f, line) in seed_lines() {
            good += usize::from(decode_with_serde(f, line.as_bytes()).is_ok());
            fast += usize::from(agrees(f, line.as_bytes()).expect("agrees"));
        }
        assert!(good > 23_000);
        assert_eq!(fast, good, "a good record left the fast path");
    }

    fn record(body: CreditBody) -> CreditRecord {
        CreditRecord {
            event_id: "c-1".into(),
            uscc: Uscc::parse("9144030071526726XG").expect("valid"),
            occurred_on: NaiveDate::from_ymd_opt(2025, 5, 6).expect("date"),
            domain: Domain::Food,
            body,
        }
    }

    #[test]
    fn every_credit_kind_round_trips_through_the_fast_path() {
        let m = Money::yuan(1200, 50);
        let s = || Some("x".to_owned());
        let bodies = vec![
            CreditBody::Registered(Registration {
                name: "舟山市定海区测试有限公司".into(),
                region_code: RegionCode::parse("440300").expect("region"),
                zone: Some(ZoneCode::parse("330951").expect("zone")),
                industry_code: IndustryCode::parse("C1361").expect("industry"),
                entity_type: EntityType::LimitedCompany,
                registered_capital_cny: m,
                established_on: NaiveDate::from_ymd_opt(2001, 1, 1).expect("date"),
                legal_rep_key: "LR-1".into(),
                licences: vec![Licence::FoodBusiness, Licence::IndustrialProduct],
            }),
            CreditBody::Changed(Change {
                what: ChangeKind::LegalRep,
                legal_rep_key: s(),
                registered_capital_cny: Some(m),
            }),
            CreditBody::Deregistered(Note { reason: s() }),
            CreditBody::Revoked(Note::default()),
            CreditBody::AnnualReportFiled(AnnualReport {
                year: 2024,
                on_time: true,
            }),
            CreditBody::Penalty(Penalty {
                document_no: "舟市监罚〔2025〕1号".into(),
                violation_category: ViolationCategory::FoodSafety,
                violation_code: "食品安全法第一百二十四条".into(),
                fine_cny: m,
                severity: Severity::Heavy,
                revoked_license: true,
                licence_fraud: false,
                criminal_referral: true,
            }),
            CreditBody::PenaltyWithdrawn(PenaltyRef {
                document_no: "d".into(),
            }),
            CreditBody::Accident(Accident {
                severity: AccidentSeverity::ExtraMajor,
            }),
            CreditBody::AbnormalListed(AbnormalListing {
                reason: AbnormalReason::Unreachable,
            }),
            CreditBody::AbnormalRemoved(Note { reason: s() }),
            CreditBody::SeriousListed(ListDecision {
                decision_no: s(),
                authority: s(),
                reason: s(),
            }),
            CreditBody::SeriousRemoved(ListDecision::default()),
            CreditBody::QualityBlacklisted(ListDecision::default()),
            CreditBody::QualityBlacklistRemoved(ListDecision {
                decision_no: s(),
                authority: None,
                reason: None,
            }),
            CreditBody::CourtDishonest(Note::default()),
            CreditBody::Certification(Certification {
                scheme: "HACCP".into(),
            }),
            CreditBody::Award(Award {
                name: "鲁班奖".into(),
            }),
            CreditBody::CreditRepaired(CreditRepair { document_no: s() }),
        ];
        assert_eq!(bodies.len(), 18, "one of each kind");
        for b in bodies {
            let r = record(b);
            let j = serde_json::to_string(&r).expect("serialise");
            assert!(
                agrees(Family::CreditRecords, j.as_bytes()).expect("agrees"),
                "{j}"
            );
            // Absent optional fields and explicit nulls read alike.
            let nulls = j.replace("{}", r#"{"reason":null}"#);
            agrees(Family::CreditRecords, nulls.as_bytes()).expect("agrees");
        }
    }

    /// Records with every optional field, to mutate.
    const TEMPLATES: &[(Family, &str)] = &[
        (
            Family::Inspections,
            r#"{"event_id":"i1","uscc":"9144030071526726XG","occurred_on":"2026-03-02","domain":"food","inspection_type":"product_sampling","result":"A","plan_id":"P1","inspector_ids":["ZS-0001","ZS-0002"],"sampling":{"product":"鱼干","passed":false,"hazard":"major"}}"#,
        ),
        (
            Family::Complaints,
            r#"{"event_id":"c1","uscc":"9144030071526726XG","occurred_on":"2026-03-02","domain":"general","channel":"12315","category":"price","substantiated":true,"amount_cny":"120.50","resolved":false}"#,
        ),
        (
            Family::CreditRecords,
            r#"{"event_id":"r1","uscc":"9144030071526726XG","occurred_on":"2001-01-01","domain":"general","kind":"registered","payload":{"name":"x","region_code":"440300","zone":"330950","industry_code":"I6420","entity_type":"limited_company","registered_capital_cny":"1000000.00","established_on":"2001-01-01","legal_rep_key":"LR-1","licences":["food_business"]}}"#,
        ),
        (
            Family::CreditRecords,
            r#"{"event_id":"p1","uscc":"9144030071526726XG","occurred_on":"2025-05-06","domain":"food","kind":"penalty","payload":{"document_no":"D1","violation_category":"food_safety","violation_code":"V","fine_cny":"50000.00","severity":"heavy","revoked_license":true}}"#,
        ),
        (
            Family::CreditRecords,
            r#"{"event_id":"a1","uscc":"9144030071526726XG","occurred_on":"2025-05-06","domain":"general","kind":"annual_report_filed","payload":{"year":2024,"on_time":false}}"#,
        ),
    ];

    /// Each member of each template (and of its payload or sampling)
    /// removed, or given a value of every JSON type: a missing or mistyped
    /// field is never filled in by the fast path.
    #[test]
    fn missing_and_mistyped_fields_are_left_to_serde() {
        use serde_json::{json, Value};
        let values = [
            Value::Null,
            json!(true),
            json!(7),
            json!(-1.5),
            json!("x"),
            json!([]),
            json!(["x"]),
            json!({}),
        ];
        let mut accepted = 0;
        for (family, text) in TEMPLATES {
            let v: Value = serde_json::from_str(text).expect("template");
            let mut variants = Vec::new();
            let Value::Object(top) = &v else {
                panic!("object")
            };
            for (k, inner) in top {
                let mut gone = v.clone();
                gone.as_object_mut().expect("object").remove(k);
                variants.push(gone);
                for x in &values {
                    let mut w = v.clone();
                    w[k.as_str()] = x.clone();
                    variants.push(w);
                }
                if let Value::Object(m) = inner {
                    for ik in m.keys() {
                        let mut gone = v.clone();
                        gone[k.as_str()].as_object_mut().expect("object").remove(ik);
                        variants.push(gone);
                        for x in &values {
                            let mut w = v.clone();
                            w[k.as_str()][ik.as_str()] = x.clone();
                            variants.push(w);
                        }
                    }
                }
            }
            for w in variants {
                let b = serde_json::to_vec(&w).expect("serialise");
                accepted += usize::from(agrees(*family, &b).expect("agrees"));
            }
        }
        assert!(
            accepted > 20,
            "optional fields absent or null still decode fast"
        );
    }

    #[test]
    fn the_word_scan_finds_the_first_special_byte() {
        for len in 0..20 {
            for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                for at in 0..=len {
                    let mut b = vec![b'a'; len];
                    b.insert(at, special);
                    b.extend_from_slice(br#"","x":1}"#);
                    let mut rec = b"\"".to_vec();
                    rec.extend(&b);
                    let mut p = P {
                        s: std::str::from_utf8(&rec).expect("ascii"),
                        b: &rec,
                        i: 0,
                    };
                    let got = p.str();
                    if special == b'"' {
                        assert_eq!(got.map(str::len), Some(at));
                    } else {
                        assert_eq!(got, None);
                    }
                }
            }
        }
        // Bytes at or above 0x20, ASCII or not, are never special.
        let w = u64::from_le_bytes([0x20, 0x7f, 0x80, 0xa0, 0xe8, 0xff, b'!', b'#']);
        assert_eq!(specials(w), 0);
    }

    const SPICE: &[u8] = b"\"\\,:{}[] \t\n0123456789-.eEnultrfa\x7f\x80\xff\x00";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn fast_path_never_accepts_what_serde_would_not(
            t in 0..TEMPLATES.len(),
            edits in proptest::collection::vec((0usize..400, 0usize..400, any::<u8>(), 0u8..4), 1..4),
        ) {
            let (family, text) = TEMPLATES[t];
            let mut b = text.as_bytes().to_vec();
            for (at, len, byte, op) in edits {
                let at = at % (b.len() + 1);
                match op {
                    // Replace one byte, usually by one that matters to JSON.
                    0 if at < b.len() => b[at] = SPICE[byte as usize % SPICE.len()],
                    1 => b.insert(at, SPICE[byte as usize % SPICE.len()]),
                    // Delete a run of bytes.
                    2 => {
                        let end = (at + len % 12).min(b.len());
                        b.drain(at..end);
                    }
                    // Repeat a run elsewhere (duplicate keys and values).
                    _ => {
                        let end = (at + len % 40).min(b.len());
                        let run = b[at..end].to_vec();
                        let to = (len * 7) % (b.len() + 1);
                        b.splice(to..to, run);
                    }
                }
            }
            prop_assert!(agrees(family, &b).is_ok(), "{}", agrees(family, &b).unwrap_err());
        }

        #[test]
        fn templates_with_whitespace_take_the_fast_path(t in 0..TEMPLATES.len(), ws in "[ \t\r\n]{0,3}") {
            let (family, text) = TEMPLATES[t];
            let spaced = text
                .replace(':', &format!("{ws}:{ws}"))
                .replace(',', &format!("{ws},{ws}"));
            prop_assert_eq!(agrees(family, spaced.as_bytes()), Ok(true));
        }
    }
}
