//! Alerts: what downstream systems receive when an entity is proposed for,
//! put on or taken off a list, and the early warnings before that.
//!
//! An alert's id is derived from the facts it announces, never from when or
//! where it was computed, so a replay or a retry produces the same id and a
//! receiver can drop what it has seen. `docs/alert.schema.json` describes the
//! JSON form.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tidewatch_model::Domain;

use crate::rules::Mode;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A rule's criteria are met; the listing authority is to decide.
    Proposed,
    /// The entity is on the list (by decision, or directly for automatic rules).
    Listed,
    /// The entity is off the list; `cause` says why.
    Removed,
    /// A proposal no longer stands; `cause` says why.
    Withdrawn,
    /// An early warning; `cause` says which.
    Warning,
}

impl AlertKind {
    pub const ALL: [AlertKind; 5] = [
        AlertKind::Proposed,
        AlertKind::Listed,
        AlertKind::Removed,
        AlertKind::Withdrawn,
        AlertKind::Warning,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Proposed => "proposed",
            AlertKind::Listed => "listed",
            AlertKind::Removed => "removed",
            AlertKind::Withdrawn => "withdrawn",
            AlertKind::Warning => "warning",
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a listing ended, a proposal was withdrawn, or a warning was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    // removed
    /// Early removal after credit repair or correction.
    Repaired,
    /// The listing term ran out.
    Expired,
    /// The authority's removal decision.
    Decision,
    // withdrawn
    /// The penalty the proposal rested on was withdrawn on review or appeal.
    PenaltyWithdrawn,
    /// No decision arrived within the list's time for one.
    Lapsed,
    /// The entity was deregistered.
    Deregistered,
    /// Events that arrived late show the criteria were not met after all.
    Retracted,
    // warning
    /// The entity moved to class D in a field.
    ClassD,
    /// A field's risk score rose by more than the configured amount.
    ScoreRise,
    /// One more matching event would meet a listing rule.
    OneEventAway,
    /// A `listed_for` rule will fire soon.
    ApproachingTerm,
    /// The penalty a listing rests on was withdrawn: the authority should
    /// review the listing (listing and removal are its decisions).
    BasisWithdrawn,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Repaired => "repaired",
            Cause::Expired => "expired",
            Cause::Decision => "decision",
            Cause::PenaltyWithdrawn => "penalty_withdrawn",
            Cause::Lapsed => "lapsed",
            Cause::Deregistered => "deregistered",
            Cause::Retracted => "retracted",
            Cause::ClassD => "class_d",
            Cause::ScoreRise => "score_rise",
            Cause::OneEventAway => "one_event_away",
            Cause::ApproachingTerm => "approaching_term",
            Cause::BasisWithdrawn => "basis_withdrawn",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The entity an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityRef {
    pub uscc: String,
    pub name: String,
    /// GB/T 2260 county-level region code.
    pub region: String,
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// SHA-256 (hex) over the facts; see [`alert_id`].
    pub id: String,
    /// 1, 2, … per entity, in the order the engine raised its alerts, so a
    /// receiver can order one entity's alerts even when they arrive late.
    pub entity_seq: u64,
    pub kind: AlertKind,
    pub cause: Option<Cause>,
    /// List id (`serious`, `quality`, `abnormal`); `null` for warnings that
    /// are not about one list (class D, score rise).
    pub list: Option<String>,
    pub list_name: Option<String>,
    pub entity: EntityRef,
    pub rule: String,
    pub rule_version: String,
    /// How the listing comes about: `automatic`, `proposal` or `decision`;
    /// `null` for warnings.
    pub mode: Option<Mode>,
    /// Ids of the events the listing or warning rests on.
    pub triggers: Vec<String>,
    /// Id of the event that caused this step (a decision, a repair, a
    /// withdrawal), when one did.
    pub cause_event: Option<String>,
    pub effective_on: NaiveDate,
    /// End of the listing term, or when a warning lapses.
    pub expires_on: Option<NaiveDate>,
    /// Earliest early removal (credit repair) of a listing.
    pub repair_from: Option<NaiveDate>,
    /// The field of a class-D or score-rise warning.
    pub field: Option<Domain>,
    /// The authority whose decision it was, when a record says.
    pub authority: Option<String>,
    /// Why, in words.
    pub reason: String,
    /// The as-of date of the evaluation that raised it (not part of the id).
    pub as_of: NaiveDate,
}

/// The facts an alert id is computed over.
#[derive(Debug, Clone, Copy)]
pub struct IdFacts<'a> {
    pub kind: AlertKind,
    pub cause: Option<Cause>,
    pub list: Option<&'a str>,
    pub uscc: &'a str,
    pub rule: &'a str,
    pub triggers: &'a [String],
    pub cause_event: Option<&'a str>,
    pub effective_on: NaiveDate,
    pub rule_version: &'a str,
}

/// SHA-256 over the fields, each followed by the unit separator 0x1F:
/// `tidewatch-alert/1`, kind, cause, list, USCC, rule, the trigger ids
/// joined by commas, the cause event, the effective date and the rule
/// version (absent values as empty strings); lower-case hex.
pub fn alert_id(f: &IdFacts<'_>) -> String {
    use std::io::Write as _;
    let mut h = Sha256::new();
    for p in [
        "tidewatch-alert/1",
        f.kind.as_str(),
        f.cause.map_or("", Cause::as_str),
        f.list.unwrap_or(""),
        f.uscc,
        f.rule,
    ] {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    // The triggers joined by commas, without building the joined string.
    for (i, t) in f.triggers.iter().enumerate() {
        if i > 0 {
            h.update(b",");
        }
        h.update(t.as_bytes());
    }
    h.update([0x1f]);
    h.update(f.cause_event.unwrap_or("").as_bytes());
    h.update([0x1f]);
    // The date as `to_string` writes it, straight into the hasher (whose
    // writes cannot fail).
    let _ = write!(h, "{}\x1f", f.effective_on);
    h.update(f.rule_version.as_bytes());
    h.update([0x1f]);
    format!("{:x}", h.finalize())
}

/// An alert as written to the alert log: with its place in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedAlert {
    /// 1, 2, … over the whole log, so a receiver can catch up from the
    /// last sequence number it has.
    pub seq: u64,
    #[serde(flatten)]
    pub alert: Alert,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The id as first written (each part formatted to a string): ids are
    /// what receivers deduplicate on, so a rewrite must give the same.
    fn id_as_first_written(f: &IdFacts<'_>) -> String {
        let mut h = Sha256::new();
        let date = f.effective_on.to_string();
        let triggers = f.triggers.join(",");
        for part in [
            "tidewatch-alert/1",
            f.kind.as_str(),
            f.cause.map_or("", Cause::as_str),
            f.list.unwrap_or(""),
            f.uscc,
            f.rule,
            &triggers,
            f.cause_event.unwrap_or(""),
            &date,
            f.rule_version,
        ] {
            h.update(part.as_bytes());
            h.update([0x1f]);
        }
        hex::encode(h.finalize())
    }

    #[test]
    fn ids_are_the_ones_first_announced() {
        let none: Vec<String> = Vec::new();
        let one = vec!["cred-1".to_owned()];
        let three = vec!["a".to_owned(), "b,c".to_owned(), String::new()];
        for triggers in [&none, &one, &three] {
            for (kind, cause, list, cause_event) in [
                (AlertKind::Proposed, None, Some("serious"), None),
                (
                    AlertKind::Removed,
                    Some(Cause::Retracted),
                    None,
                    Some("cred-9"),
                ),
            ] {
                for effective_on in [
                    NaiveDate::from_ymd_opt(2025, 7, 1).expect("date"),
                    NaiveDate::from_ymd_opt(10_000, 1, 1).expect("date"),
                ] {
                    let f = IdFacts {
                        kind,
                        cause,
                        list,
                        uscc: "9144030071526726XG",
                        rule: "serious.heavy_penalty",
                        triggers,
                        cause_event,
                        effective_on,
                        rule_version: "sha256:0000000000000000",
                    };
                    assert_eq!(alert_id(&f), id_as_first_written(&f));
                }
            }
        }
    }

    #[test]
    fn id_depends_on_every_fact_and_nothing_else() {
        let d = NaiveDate::from_ymd_opt(2025, 7, 1).expect("date");
        let t = vec!["cred-1".to_owned()];
        let base = IdFacts {
            kind: AlertKind::Proposed,
            cause: None,
            list: Some("serious"),
            uscc: "9144030071526726XG",
            rule: "serious.heavy_penalty",
            triggers: &t,
            cause_event: None,
            effective_on: d,
            rule_version: "sha256:0000000000000000",
        };
        let id = alert_id(&base);
        assert_eq!(id.len(), 64);
        assert_eq!(id, alert_id(&base.clone()));
        let t2 = vec!["cred-2".to_owned()];
        for other in [
            IdFacts {
                kind: AlertKind::Listed,
                ..base
            },
            IdFacts {
                triggers: &t2,
                ..base
            },
            IdFacts {
                effective_on: d.succ_opt().expect("date"),
                ..base
            },
            IdFacts {
                rule_version: "sha256:1111111111111111",
                ..base
            },
            IdFacts {
                cause_event: Some("cred-9"),
                ..base
            },
        ] {
            assert_ne!(alert_id(&other), id);
        }
    }
}
