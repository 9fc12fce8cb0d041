//! Why a record is rejected, and the checks that need more than decoding.
//!
//! The reason codes are a fixed, stable list: dashboards count by them and
//! operators grep for them, so a code is never renamed. Each rejection also
//! carries a human message saying exactly what was wrong.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::codes::EntityType;
use crate::event::{CreditBody, CreditRecord, Event};
use crate::money::Money;
use crate::uscc::EntityKind;

/// The fixed list of reasons a record can be rejected for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not a JSON object (syntax error, truncated, not UTF-8).
    MalformedJson,
    /// A required field is absent.
    MissingField,
    /// An enum field holds a value outside its list.
    UnknownEnum,
    /// The USCC fails GB 32100 (length, alphabet, check character, case).
    InvalidUscc,
    /// A field has the wrong type or format (a date that is not a date, an
    /// amount that is a float, a region code that disagrees with the USCC).
    InvalidValue,
    /// An amount is below zero.
    NegativeAmount,
    /// An event dated after the as-of date.
    FutureDate,
    /// No registration for the entity arrived (by the end of the run, or
    /// within the grace period).
    UnknownEntity,
    /// An `event_id` seen before with different content.
    ConflictingDuplicate,
}

impl RejectReason {
    pub const ALL: [RejectReason; 9] = [
        RejectReason::MalformedJson,
        RejectReason::MissingField,
        RejectReason::UnknownEnum,
        RejectReason::InvalidUscc,
        RejectReason::InvalidValue,
        RejectReason::NegativeAmount,
        RejectReason::FutureDate,
        RejectReason::UnknownEntity,
        RejectReason::ConflictingDuplicate,
    ];

    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::MalformedJson => "malformed_json",
            RejectReason::MissingField => "missing_field",
            RejectReason::UnknownEnum => "unknown_enum",
            RejectReason::InvalidUscc => "invalid_uscc",
            RejectReason::InvalidValue => "invalid_value",
            RejectReason::NegativeAmount => "negative_amount",
            RejectReason::FutureDate => "future_date",
            RejectReason::UnknownEntity => "unknown_entity",
            RejectReason::ConflictingDuplicate => "conflicting_duplicate",
        }
    }
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A reason plus the message a person reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct Rejection {
    pub reason: RejectReason,
    pub message: String,
}

impl Rejection {
    pub fn new(reason: RejectReason, message: impl Into<String>) -> Self {
        Rejection {
            reason,
            message: message.into(),
        }
    }
}

fn non_negative(field: &str, m: Money) -> Result<(), Rejection> {
    if m.is_negative() {
        return Err(Rejection::new(
            RejectReason::NegativeAmount,
            format!("{field} is {m}, amounts cannot be negative"),
        ));
    }
    Ok(())
}

fn not_after(field: &str, d: NaiveDate, as_of: NaiveDate) -> Result<(), Rejection> {
    if d > as_of {
        return Err(Rejection::new(
            RejectReason::FutureDate,
            format!("{field} {d} is after the as-of date {as_of}"),
        ));
    }
    Ok(())
}

/// Checks a decoded event against the rules decoding cannot express:
/// amounts not negative, dates not after `as_of`, a failed sampling with its
/// hazard, and a registration consistent with its USCC.
pub fn validate(event: &Event, as_of: NaiveDate) -> Result<(), Rejection> {
    not_after("occurred_on", event.occurred_on(), as_of)?;
    match event {
        Event::Inspection(i) => {
            if let Some(s) = &i.sampling {
                if !s.passed && s.hazard.is_none() {
                    return Err(Rejection::new(
                        RejectReason::MissingField,
                        "sampling.hazard is required when sampling.passed is false",
                    ));
                }
            }
        }
        Event::Complaint(c) => {
            if let Some(a) = c.amount_cny {
                non_negative("amount_cny", a)?;
            }
        }
        Event::Credit(c) => validate_credit(c, as_of)?,
    }
    Ok(())
}

fn validate_credit(c: &CreditRecord, as_of: NaiveDate) -> Result<(), Rejection> {
    match &c.body {
        CreditBody::Registered(r) => {
            non_negative("registered_capital_cny", r.registered_capital_cny)?;
            not_after("established_on", r.established_on, as_of)?;
            if r.established_on > c.occurred_on {
                return Err(Rejection::new(
                    RejectReason::InvalidValue,
                    format!(
                        "established_on {} is after the registration record's occurred_on {}",
                        r.established_on, c.occurred_on
                    ),
                ));
            }
            if r.region_code.as_str() != c.uscc.region_digits() {
                return Err(Rejection::new(
                    RejectReason::InvalidValue,
                    format!(
                        "region_code {} differs from the USCC's region digits {}",
                        r.region_code,
                        c.uscc.region_digits()
                    ),
                ));
            }
            let kind = c.uscc.entity_kind();
            let expected = match r.entity_type {
                EntityType::IndividualBusiness => EntityKind::IndividualBusiness,
                EntityType::FarmersCooperative => EntityKind::FarmersCooperative,
                _ => EntityKind::Enterprise,
            };
            if kind != Some(expected) {
                return Err(Rejection::new(
                    RejectReason::InvalidValue,
                    format!(
                        "entity_type {} needs a USCC starting {}, got {}",
                        r.entity_type,
                        expected.prefix(),
                        &c.uscc.as_str()[..2]
                    ),
                ));
            }
            if r.legal_rep_key.trim().is_empty() {
                return Err(Rejection::new(
                    RejectReason::MissingField,
                    "legal_rep_key is empty",
                ));
            }
        }
        CreditBody::Changed(ch) => {
            if let Some(m) = ch.registered_capital_cny {
                non_negative("registered_capital_cny", m)?;
            }
        }
        CreditBody::Penalty(p) => non_negative("fine_cny", p.fine_cny)?,
        _ => {}
    }
    Ok(())
}
