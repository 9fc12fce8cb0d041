//! The three input event families: inspections, complaints and credit records.
//!
//! These are the wire contracts of DESIGN.md as serde types. Decoding is
//! strict: a required field that is missing or an enum value outside its list
//! is an error, never a default. Unknown extra fields are ignored, so a
//! producer may add fields before the engine learns about them.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::codes::{
    AbnormalReason, AccidentSeverity, ChangeKind, Channel, Domain, EntityType, Hazard,
    IndustryCode, InspectionType, Licence, RegionCode, ResultCode, Severity, ViolationCategory,
    ZoneCode,
};
use crate::money::Money;
use crate::uscc::Uscc;

/// Which input family (and topic) an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    Inspections,
    Complaints,
    CreditRecords,
}

impl Family {
    pub const ALL: [Family; 3] = [
        Family::Inspections,
        Family::Complaints,
        Family::CreditRecords,
    ];

    /// Position in [`Family::ALL`]: a dense index for per-family tables and
    /// the family byte of the checkpoint log.
    pub fn index(self) -> usize {
        match self {
            Family::Inspections => 0,
            Family::Complaints => 1,
            Family::CreditRecords => 2,
        }
    }

    /// The topic / file stem: `inspections`, `complaints`, `credit-records`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Inspections => "inspections",
            Family::Complaints => "complaints",
            Family::CreditRecords => "credit-records",
        }
    }
}

/// An inspection result (抽查检查结果).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Inspection {
    pub event_id: String,
    pub uscc: Uscc,
    pub occurred_on: NaiveDate,
    pub domain: Domain,
    pub inspection_type: InspectionType,
    pub result: ResultCode,
    /// The draw plan that chose this entity, when it was a double-random draw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inspector_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<Sampling>,
}

/// A product sampling outcome attached to an inspection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sampling {
    pub product: String,
    pub passed: bool,
    /// Required when `passed` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hazard: Option<Hazard>,
}

/// A consumer complaint or report (投诉举报).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Complaint {
    pub event_id: String,
    pub uscc: Uscc,
    pub occurred_on: NaiveDate,
    pub domain: Domain,
    pub channel: Channel,
    pub category: String,
    /// `null` while the complaint has not been looked into.
    #[serde(default)]
    pub substantiated: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_cny: Option<Money>,
    pub resolved: bool,
}

/// A credit record: registration facts, penalties, list decisions and the like.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CreditRecord {
    pub event_id: String,
    pub uscc: Uscc,
    pub occurred_on: NaiveDate,
    pub domain: Domain,
    #[serde(flatten)]
    pub body: CreditBody,
}

/// The kind of a credit record and its payload, on the wire as
/// `"kind": "...", "payload": {...}` (the payload may be `{}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "snake_case")]
pub enum CreditBody {
    Registered(Registration),
    Changed(Change),
    Deregistered(Note),
    Revoked(Note),
    AnnualReportFiled(AnnualReport),
    Penalty(Penalty),
    PenaltyWithdrawn(PenaltyRef),
    Accident(Accident),
    AbnormalListed(AbnormalListing),
    AbnormalRemoved(Note),
    SeriousListed(ListDecision),
    SeriousRemoved(ListDecision),
    QualityBlacklisted(ListDecision),
    QualityBlacklistRemoved(ListDecision),
    CourtDishonest(Note),
    Certification(Certification),
    Award(Award),
    CreditRepaired(CreditRepair),
}

impl CreditBody {
    /// The `kind` string as on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            CreditBody::Registered(_) => "registered",
            CreditBody::Changed(_) => "changed",
            CreditBody::Deregistered(_) => "deregistered",
            CreditBody::Revoked(_) => "revoked",
            CreditBody::AnnualReportFiled(_) => "annual_report_filed",
            CreditBody::Penalty(_) => "penalty",
            CreditBody::PenaltyWithdrawn(_) => "penalty_withdrawn",
            CreditBody::Accident(_) => "accident",
            CreditBody::AbnormalListed(_) => "abnormal_listed",
            CreditBody::AbnormalRemoved(_) => "abnormal_removed",
            CreditBody::SeriousListed(_) => "serious_listed",
            CreditBody::SeriousRemoved(_) => "serious_removed",
            CreditBody::QualityBlacklisted(_) => "quality_blacklisted",
            CreditBody::QualityBlacklistRemoved(_) => "quality_blacklist_removed",
            CreditBody::CourtDishonest(_) => "court_dishonest",
            CreditBody::Certification(_) => "certification",
            CreditBody::Award(_) => "award",
            CreditBody::CreditRepaired(_) => "credit_repaired",
        }
    }
}

/// A free-text reason, for kinds whose payload carries nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Note {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The registration of a market entity (设立登记).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Registration {
    pub name: String,
    /// GB/T 2260; must equal digits 3–8 of the USCC.
    pub region_code: RegionCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<ZoneCode>,
    pub industry_code: IndustryCode,
    pub entity_type: EntityType,
    pub registered_capital_cny: Money,
    pub established_on: NaiveDate,
    /// A pseudonymous key for the legal representative, never an ID number.
    pub legal_rep_key: String,
    #[serde(default)]
    pub licences: Vec<Licence>,
}

/// A registered change (变更登记). The new value travels with the change
/// where features need it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Change {
    pub what: ChangeKind,
    /// New legal representative, for `legal_rep`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_rep_key: Option<String>,
    /// New registered capital, for `capital`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_capital_cny: Option<Money>,
}

/// An annual report filing (年度报告).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AnnualReport {
    /// The business year reported on; due by 30 June of the next year.
    pub year: i32,
    pub on_time: bool,
}

/// An administrative penalty decision (行政处罚决定).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Penalty {
    pub document_no: String,
    pub violation_category: ViolationCategory,
    /// The provision violated, so that the same violation twice is recognised.
    pub violation_code: String,
    pub fine_cny: Money,
    pub severity: Severity,
    #[serde(default)]
    pub revoked_license: bool,
    #[serde(default)]
    pub licence_fraud: bool,
    #[serde(default)]
    pub criminal_referral: bool,
}

/// Refers to an earlier penalty by its document number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PenaltyRef {
    pub document_no: String,
}

/// A special-equipment or product-safety accident.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Accident {
    pub severity: AccidentSeverity,
}

/// Listing on the abnormal-operations list (经营异常名录).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AbnormalListing {
    pub reason: AbnormalReason,
}

/// A decision of a listing authority, to list or to remove.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ListDecision {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_no: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A certification held (e.g. 品字标浙江制造, HACCP, ISO 9001).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Certification {
    pub scheme: String,
}

/// A quality award (e.g. a government quality award, the Luban prize).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Award {
    pub name: String,
}

/// A completed credit repair (信用修复), optionally naming the penalty it covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CreditRepair {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_no: Option<String>,
}

/// One event of any family.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Event {
    Inspection(Inspection),
    Complaint(Complaint),
    Credit(CreditRecord),
}

impl Event {
    pub fn family(&self) -> Family {
        match self {
            Event::Inspection(_) => Family::Inspections,
            Event::Complaint(_) => Family::Complaints,
            Event::Credit(_) => Family::CreditRecords,
        }
    }

    pub fn event_id(&self) -> &str {
        match self {
            Event::Inspection(e) => &e.event_id,
            Event::Complaint(e) => &e.event_id,
            Event::Credit(e) => &e.event_id,
        }
    }

    pub fn uscc(&self) -> Uscc {
        match self {
            Event::Inspection(e) => e.uscc,
            Event::Complaint(e) => e.uscc,
            Event::Credit(e) => e.uscc,
        }
    }

    pub fn occurred_on(&self) -> NaiveDate {
        match self {
            Event::Inspection(e) => e.occurred_on,
            Event::Complaint(e) => e.occurred_on,
            Event::Credit(e) => e.occurred_on,
        }
    }

    pub fn domain(&self) -> Domain {
        match self {
            Event::Inspection(e) => e.domain,
            Event::Complaint(e) => e.domain,
            Event::Credit(e) => e.domain,
        }
    }

    /// Whether this is the registration that makes the entity known.
    pub fn registration(&self) -> Option<&Registration> {
        match self {
            Event::Credit(CreditRecord {
                body: CreditBody::Registered(r),
                ..
            }) => Some(r),
            _ => None,
        }
    }
}
