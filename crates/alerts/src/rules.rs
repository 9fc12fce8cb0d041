//! List rules as data: the lists, their lifecycle settings, the rules that
//! propose or make a listing, and the early-warning settings, loaded from
//! `pipelines/lists.toml`.
//!
//! Loading checks everything it can (record kinds, code lists, feature
//! names, which keys belong to which kind of rule) and names the file, the
//! line and the problem. Each rule has a version: a digest of the rule's own
//! table and of its list's table, so editing one rule changes the ids of its
//! own alerts only, and rewording a comment changes nothing.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tidewatch_model::codes::{
    AbnormalReason, AccidentSeverity, Channel, Hazard, InspectionType, ResultCode, Severity,
    ViolationCategory,
};
use tidewatch_model::event::{CreditBody, Inspection};
use tidewatch_model::{Domain, Event};
use tidewatch_state::{Dimension, Feature};
use toml::Spanned;

/// A rules file that failed to load: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RulesError {
    pub file: String,
    /// 1-based; 0 when the problem is the file as a whole.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

/// Whether a rule's match lists the entity itself or proposes the listing
/// to the deciding authority; `Decision` marks a listing that came as a
/// decision record without a rule proposing it (e.g. another authority's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Automatic,
    Proposal,
    Decision,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Automatic => "automatic",
            Mode::Proposal => "proposal",
            Mode::Decision => "decision",
        }
    }
}

/// One list and its lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub struct ListDef {
    pub id: String,
    pub name: String,
    /// The credit-record kind of the authority's decision to list.
    pub listed_by: String,
    /// The credit-record kind of the authority's decision to remove.
    pub removed_by: String,
    /// Term of a listing; it expires (automatically) at its end.
    pub term_months: Option<u32>,
    /// Earliest early removal (credit repair), from the listing date.
    pub repair_after_months: Option<u32>,
    /// A longer wait for listings caused by penalties in these categories.
    pub repair_after_months_by_category: BTreeMap<ViolationCategory, u32>,
    /// Early removal is refused if a heavier penalty followed the listing.
    pub repair_needs_no_new_heavy_penalty: bool,
    /// A proposal with no decision within this many days lapses.
    pub proposal_lapses_days: Option<u32>,
    /// Version of the list's own settings (for listings no rule proposed).
    pub version: String,
    pub line: usize,
}

/// Which events a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    Penalty,
    Accident,
    Inspection,
    Complaint,
}

impl On {
    const ALL: [(&'static str, On); 4] = [
        ("penalty", On::Penalty),
        ("accident", On::Accident),
        ("inspection", On::Inspection),
        ("complaint", On::Complaint),
    ];

    fn parse(s: &str) -> Option<On> {
        On::ALL.iter().find(|(n, _)| *n == s).map(|(_, o)| *o)
    }

    pub fn as_str(self) -> &'static str {
        On::ALL
            .iter()
            .find(|(_, o)| *o == self)
            .map_or("", |(n, _)| n)
    }

    /// Whether `e` is an event of this kind.
    pub fn is(self, e: &Event) -> bool {
        match (self, e) {
            (On::Inspection, Event::Inspection(_)) | (On::Complaint, Event::Complaint(_)) => true,
            (On::Penalty, Event::Credit(c)) => matches!(c.body, CreditBody::Penalty(_)),
            (On::Accident, Event::Credit(c)) => matches!(c.body, CreditBody::Accident(_)),
            _ => false,
        }
    }
}

/// One condition of a rule's `match` table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Domain(Vec<Domain>),
    Severity(Vec<Severity>),
    ViolationCategory(Vec<ViolationCategory>),
    ViolationCode(Vec<String>),
    RevokedLicense(bool),
    LicenceFraud(bool),
    CriminalReferral(bool),
    AccidentSeverity(Vec<AccidentSeverity>),
    Result(Vec<ResultCode>),
    InspectionType(Vec<InspectionType>),
    SamplingPassed(bool),
    Hazard(Vec<Hazard>),
    Category(Vec<String>),
    Channel(Vec<Channel>),
    Substantiated(bool),
}

/// The hazard of a failed sampling; a failure without one counts as minor,
/// as in the feature table.
fn failed_hazard(i: &Inspection) -> Option<Hazard> {
    i.sampling
        .as_ref()
        .filter(|s| !s.passed)
        .map(|s| s.hazard.unwrap_or(Hazard::Minor))
}

impl Cond {
    /// Whether the event meets the condition (the caller checked its kind).
    pub fn test(&self, e: &Event) -> bool {
        let pen = match e {
            Event::Credit(c) => match &c.body {
                CreditBody::Penalty(p) => Some(p),
                _ => None,
            },
            _ => None,
        };
        match self {
            Cond::Domain(v) => v.contains(&e.domain()),
            Cond::Severity(v) => pen.is_some_and(|p| v.contains(&p.severity)),
            Cond::ViolationCategory(v) => pen.is_some_and(|p| v.contains(&p.violation_category)),
            Cond::ViolationCode(v) => pen.is_some_and(|p| v.contains(&p.violation_code)),
            Cond::RevokedLicense(b) => pen.is_some_and(|p| p.revoked_license == *b),
            Cond::LicenceFraud(b) => pen.is_some_and(|p| p.licence_fraud == *b),
            Cond::CriminalReferral(b) => pen.is_some_and(|p| p.criminal_referral == *b),
            Cond::AccidentSeverity(v) => match e {
                Event::Credit(c) => match &c.body {
                    CreditBody::Accident(a) => v.contains(&a.severity),
                    _ => false,
                },
                _ => false,
            },
            Cond::Result(v) => matches!(e, Event::Inspection(i) if v.contains(&i.result)),
            Cond::InspectionType(v) => {
                matches!(e, Event::Inspection(i) if v.contains(&i.inspection_type))
            }
            Cond::SamplingPassed(b) => match e {
                Event::Inspection(i) => i.sampling.as_ref().is_some_and(|s| s.passed == *b),
                _ => false,
            },
            Cond::Hazard(v) => match e {
                Event::Inspection(i) => failed_hazard(i).is_some_and(|h| v.contains(&h)),
                _ => false,
            },
            Cond::Category(v) => matches!(e, Event::Complaint(c) if v.contains(&c.category)),
            Cond::Channel(v) => matches!(e, Event::Complaint(c) if v.contains(&c.channel)),
            Cond::Substantiated(b) => {
                matches!(e, Event::Complaint(c) if c.substantiated == Some(*b))
            }
        }
    }
}

/// What a counted rule groups by ("the same violation twice").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Same {
    ViolationCode,
    ViolationCategory,
    Domain,
    Product,
}

impl Same {
    const ALL: [(&'static str, Same); 4] = [
        ("violation_code", Same::ViolationCode),
        ("violation_category", Same::ViolationCategory),
        ("domain", Same::Domain),
        ("product", Same::Product),
    ];

    /// The group an event falls in (`None`: it has no such attribute).
    pub fn key(self, e: &Event) -> Option<String> {
        match self {
            Same::Domain => Some(e.domain().as_str().to_owned()),
            Same::ViolationCode | Same::ViolationCategory => match e {
                Event::Credit(c) => match &c.body {
                    CreditBody::Penalty(p) if self == Same::ViolationCode => {
                        Some(p.violation_code.clone())
                    }
                    CreditBody::Penalty(p) => Some(p.violation_category.as_str().to_owned()),
                    _ => None,
                },
                _ => None,
            },
            Same::Product => match e {
                Event::Inspection(i) => i.sampling.as_ref().map(|s| s.product.clone()),
                _ => None,
            },
        }
    }
}

/// A comparison over one feature at the date a rule would fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureCond {
    pub feature: Feature,
    pub op: Op,
    pub value: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Ge,
    Le,
    Gt,
    Lt,
}

impl Op {
    pub fn test(self, a: i64, b: i64) -> bool {
        match self {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Ge => a >= b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Lt => a < b,
        }
    }
}

/// What makes a rule match.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// `count` events of kind `on` meeting every condition, within
    /// `within_months` (and in the same group, when `same` is set).
    Events {
        on: On,
        conds: Vec<Cond>,
        count: u32,
        within_months: Option<u32>,
        same: Option<Same>,
    },
    /// The annual report on a year not filed by 30 June of the next year,
    /// `grace_days` after the deadline.
    AnnualReportMissing { grace_days: u32 },
    /// Still on list `list` `months` after being listed.
    ListedFor { list: String, months: u32 },
}

/// What corrects a listing (经营异常名录: removed when corrected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Correction {
    /// The missing annual report was filed.
    AnnualReportFiled,
    /// The registered address was changed.
    AddressChanged,
}

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub list: String,
    pub mode: Mode,
    /// Words for people: why the rule lists.
    pub reason: String,
    pub trigger: Trigger,
    /// Feature conditions at the date the rule would fire.
    pub when: Vec<FeatureCond>,
    /// The abnormal-list reason code of the decision records this rule's
    /// listings arrive as.
    pub decision_reason: Option<AbnormalReason>,
    pub corrected_by: Option<Correction>,
    /// The correction removes the listing at once (otherwise a removal
    /// decision does, and counts the listing as repaired).
    pub removed_when_corrected: bool,
    /// Overrides the list's earliest early removal for this rule's listings.
    pub repair_after_months: Option<u32>,
    pub version: String,
    pub line: usize,
}

/// Early-warning settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Warnings {
    /// Warn when a field's risk score rose by more than this since the
    /// previous as-of date.
    pub score_rise: Option<i64>,
    /// Warn when an entity moves to class D in a field.
    pub class_d: bool,
    /// ... unless it is on one of these lists (D by override already).
    pub class_d_unless_listed: Vec<String>,
    /// Warn when one more matching event would meet a counted rule.
    pub one_event_away: bool,
    /// Warn this many days before a `listed_for` rule would fire.
    pub days_before_listed_for: Option<u32>,
    pub version: String,
}

/// A loaded, checked rules file.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub lists: Vec<ListDef>,
    pub rules: Vec<Rule>,
    pub warnings: Warnings,
    /// `sha256:` and 16 hex digits of the file's bytes.
    pub version: String,
    pub source: String,
}

impl Rules {
    pub fn list(&self, id: &str) -> Option<&ListDef> {
        self.lists.iter().find(|l| l.id == id)
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Loads a rules file.
    pub fn load(path: &Path) -> Result<Rules, RulesError> {
        let file = path.display().to_string();
        let fail = |message: String| RulesError {
            file: file.clone(),
            line: 0,
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|_| fail("not UTF-8".into()))?;
        Rules::parse(&text, &file)
    }

    /// Parses rules text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Rules, RulesError> {
        let at = |offset: usize, message: String| RulesError {
            file: file.to_owned(),
            line: line_of(text, offset),
            message,
        };
        let raw: RawRules = toml::from_str(text).map_err(|e| RulesError {
            file: file.to_owned(),
            line: e.span().map_or(0, |s| line_of(text, s.start)),
            message: e.message().trim().to_owned(),
        })?;
        // The same document as plain values, for the versions.
        let doc: toml::Table = toml::from_str(text).map_err(|e| at(0, e.message().to_owned()))?;
        let list_values = doc.get("list").and_then(|v| v.as_table());
        let rule_values = doc.get("rule").and_then(|v| v.as_array());

        let mut lists = Vec::new();
        for (id, l) in &raw.list {
            let start = l.span().start;
            let l = l.get_ref();
            check_ident(id).map_err(|m| at(start, format!("list {id:?}: {m}")))?;
            let listed_kinds = ["serious_listed", "quality_blacklisted", "abnormal_listed"];
            let removed_kinds = [
                "serious_removed",
                "quality_blacklist_removed",
                "abnormal_removed",
            ];
            if !listed_kinds.contains(&l.listed_by.as_str()) {
                return Err(at(
                    start,
                    format!(
                        "list {id:?}: listed_by {:?} is not a listing decision record (one of {})",
                        l.listed_by,
                        listed_kinds.join(", ")
                    ),
                ));
            }
            if !removed_kinds.contains(&l.removed_by.as_str()) {
                return Err(at(
                    start,
                    format!(
                        "list {id:?}: removed_by {:?} is not a removal decision record (one of {})",
                        l.removed_by,
                        removed_kinds.join(", ")
                    ),
                ));
            }
            for (what, v) in [
                ("term_months", l.term_months),
                ("repair_after_months", l.repair_after_months),
                ("proposal_lapses_days", l.proposal_lapses_days),
            ] {
                if v == Some(0) {
                    return Err(at(start, format!("list {id:?}: {what} must be at least 1")));
                }
            }
            let mut by_cat = BTreeMap::new();
            for (c, m) in &l.repair_after_months_by_category {
                let cat = ViolationCategory::from_code(c).ok_or_else(|| {
                    at(
                        start,
                        format!(
                            "list {id:?}: repair_after_months_by_category: {c:?} is not a violation category (one of {})",
                            codes(ViolationCategory::ALL.iter().map(|v| v.as_str()))
                        ),
                    )
                })?;
                by_cat.insert(cat, *m);
            }
            if !by_cat.is_empty() && l.repair_after_months.is_none() {
                return Err(at(
                    start,
                    format!(
                        "list {id:?}: repair_after_months_by_category needs repair_after_months"
                    ),
                ));
            }
            if let (Some(t), Some(r)) = (l.term_months, l.repair_after_months) {
                if r >= t {
                    return Err(at(
                        start,
                        format!("list {id:?}: repair_after_months ({r}) must be shorter than term_months ({t})"),
                    ));
                }
            }
            if lists.iter().any(|x: &ListDef| x.listed_by == l.listed_by) {
                return Err(at(
                    start,
                    format!(
                        "list {id:?}: another list is already listed by {:?}",
                        l.listed_by
                    ),
                ));
            }
            let value = list_values.and_then(|t| t.get(id));
            lists.push(ListDef {
                id: id.clone(),
                name: l.name.clone(),
                listed_by: l.listed_by.clone(),
                removed_by: l.removed_by.clone(),
                term_months: l.term_months,
                repair_after_months: l.repair_after_months,
                repair_after_months_by_category: by_cat,
                repair_needs_no_new_heavy_penalty: l
                    .repair_needs_no_new_heavy_penalty
                    .unwrap_or(false),
                proposal_lapses_days: l.proposal_lapses_days,
                version: version_of(&[value]),
                line: line_of(text, start),
            });
        }
        if lists.is_empty() {
            return Err(at(0, "the file defines no [list.<id>]".into()));
        }

        let mut rules: Vec<Rule> = Vec::new();
        for (i, r) in raw.rule.iter().enumerate() {
            let start = r.span().start;
            let line = line_of(text, start);
            let r = r.get_ref();
            let err = |m: String| RulesError {
                file: file.to_owned(),
                line,
                message: format!("rule {:?}: {m}", r.id),
            };
            check_ident(&r.id).map_err(&err)?;
            if rules.iter().any(|x| x.id == r.id) {
                return Err(err("defined twice".into()));
            }
            let Some(list) = lists.iter().find(|l| l.id == r.list) else {
                return Err(err(format!(
                    "list {:?} is not defined (one of {})",
                    r.list,
                    codes(lists.iter().map(|l| l.id.as_str()))
                )));
            };
            let mode = match r.mode.as_str() {
                "automatic" => Mode::Automatic,
                "proposal" => Mode::Proposal,
                m => {
                    return Err(err(format!(
                        "mode {m:?} must be \"automatic\" (the rule lists) or \"proposal\" (the authority decides)"
                    )))
                }
            };
            let trigger = build_trigger(r, &lists).map_err(&err)?;
            let when = r
                .when
                .iter()
                .map(|c| parse_feature_cond(c))
                .collect::<Result<Vec<_>, _>>()
                .map_err(&err)?;
            let decision_reason = match &r.decision_reason {
                None => None,
                Some(s) => {
                    if list.listed_by != "abnormal_listed" {
                        return Err(err(format!(
                            "decision_reason applies to lists decided by abnormal_listed records; {:?} is listed by {}",
                            list.id, list.listed_by
                        )));
                    }
                    Some(AbnormalReason::from_code(s).ok_or_else(|| {
                        err(format!(
                            "decision_reason {s:?} is not one of {}",
                            codes(AbnormalReason::ALL.iter().map(|a| a.as_str()))
                        ))
                    })?)
                }
            };
            if let Some(reason) = decision_reason {
                if let Some(other) = rules
                    .iter()
                    .find(|x| x.list == r.list && x.decision_reason == Some(reason))
                {
                    return Err(err(format!(
                        "decision_reason {:?} is already claimed by rule {:?}",
                        reason.as_str(),
                        other.id
                    )));
                }
            }
            let corrected_by = match r.corrected_by.as_deref() {
                None => None,
                Some("annual_report_filed") => Some(Correction::AnnualReportFiled),
                Some("address_changed") => Some(Correction::AddressChanged),
                Some(c) => {
                    return Err(err(format!(
                        "corrected_by {c:?} is not one of annual_report_filed, address_changed"
                    )))
                }
            };
            if corrected_by == Some(Correction::AnnualReportFiled)
                && !matches!(trigger, Trigger::AnnualReportMissing { .. })
            {
                return Err(err(
                    "corrected_by = \"annual_report_filed\" needs an annual_report trigger (it corrects the year that rule listed)".into(),
                ));
            }
            let removed_when_corrected = r.removed_when_corrected.unwrap_or(false);
            if removed_when_corrected && corrected_by.is_none() {
                return Err(err("removed_when_corrected needs corrected_by".into()));
            }
            if r.repair_after_months.is_some() && list.repair_after_months.is_none() {
                return Err(err(format!(
                    "repair_after_months: list {:?} has no early removal (set repair_after_months on the list)",
                    list.id
                )));
            }
            let value = rule_values.and_then(|a| a.get(i));
            let list_value = list_values.and_then(|t| t.get(&list.id));
            rules.push(Rule {
                id: r.id.clone(),
                list: r.list.clone(),
                mode,
                reason: r.reason.clone(),
                trigger,
                when,
                decision_reason,
                corrected_by,
                removed_when_corrected,
                repair_after_months: r.repair_after_months,
                version: version_of(&[value, list_value]),
                line,
            });
        }
        if rules.is_empty() {
            return Err(at(0, "the file defines no [[rule]]".into()));
        }

        let w = raw.warnings.unwrap_or_default();
        for l in &w.class_d_unless_listed {
            if !lists.iter().any(|x| &x.id == l) {
                return Err(at(
                    0,
                    format!("warnings.class_d_unless_listed: list {l:?} is not defined"),
                ));
            }
        }
        let warnings = Warnings {
            score_rise: w.score_rise,
            class_d: w.class_d.unwrap_or(false),
            class_d_unless_listed: w.class_d_unless_listed,
            one_event_away: w.one_event_away.unwrap_or(false),
            days_before_listed_for: w.days_before_listed_for,
            version: version_of(&[doc.get("warnings")]),
        };
        Ok(Rules {
            lists,
            rules,
            warnings,
            version: format!(
                "sha256:{}",
                &hex::encode(Sha256::digest(text.as_bytes()))[..16]
            ),
            source: file.to_owned(),
        })
    }
}

fn build_trigger(r: &RawRule, lists: &[ListDef]) -> Result<Trigger, String> {
    let kinds = [
        r.on.is_some(),
        r.annual_report.is_some(),
        r.listed_for.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(
            "a rule has exactly one of `on` (events), `annual_report` or `listed_for`".into(),
        );
    }
    let event_keys =
        r.matches.is_some() || r.count.is_some() || r.within_months.is_some() || r.same.is_some();
    if let Some(a) = &r.annual_report {
        if event_keys {
            return Err("match, count, within_months and same belong to `on` rules".into());
        }
        return Ok(Trigger::AnnualReportMissing {
            grace_days: a.grace_days,
        });
    }
    if let Some(l) = &r.listed_for {
        if event_keys {
            return Err("match, count, within_months and same belong to `on` rules".into());
        }
        if !lists.iter().any(|x| x.id == l.list) {
            return Err(format!("listed_for.list {:?} is not defined", l.list));
        }
        if l.list == r.list {
            return Err("listed_for must name another list than the rule's own".into());
        }
        if l.months == 0 {
            return Err("listed_for.months must be at least 1".into());
        }
        return Ok(Trigger::ListedFor {
            list: l.list.clone(),
            months: l.months,
        });
    }
    let on_s = r.on.as_deref().unwrap_or_default();
    let on = On::parse(on_s).ok_or_else(|| {
        format!(
            "on {on_s:?} is not one of {}",
            codes(On::ALL.iter().map(|(n, _)| *n))
        )
    })?;
    let mut conds = Vec::new();
    if let Some(m) = &r.matches {
        for (k, v) in m {
            conds.push(build_cond(on, k, v)?);
        }
    }
    let count = r.count.unwrap_or(1);
    if count == 0 {
        return Err("count must be at least 1".into());
    }
    if count > 1 && r.within_months.is_none() {
        return Err(format!(
            "count = {count} needs within_months (the window the events must fall in)"
        ));
    }
    if r.within_months == Some(0) {
        return Err("within_months must be at least 1".into());
    }
    let same = match r.same.as_deref() {
        None => None,
        Some(s) => Some(
            Same::ALL
                .iter()
                .find(|(n, _)| *n == s)
                .map(|(_, x)| *x)
                .ok_or_else(|| {
                    format!(
                        "same {s:?} is not one of {}",
                        codes(Same::ALL.iter().map(|(n, _)| *n))
                    )
                })?,
        ),
    };
    if same.is_some() && count < 2 {
        return Err("same needs count of 2 or more".into());
    }
    Ok(Trigger::Events {
        on,
        conds,
        count,
        within_months: r.within_months,
        same,
    })
}

fn strings(key: &str, v: &toml::Value) -> Result<Vec<String>, String> {
    let arr = v
        .as_array()
        .ok_or_else(|| format!("match.{key} must be a list of strings, e.g. [\"a\", \"b\"]"))?;
    if arr.is_empty() {
        return Err(format!("match.{key} is an empty list"));
    }
    arr.iter()
        .map(|x| {
            x.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("match.{key} must be a list of strings"))
        })
        .collect()
}

fn enums<T: Copy>(
    key: &str,
    v: &toml::Value,
    parse: impl Fn(&str) -> Option<T>,
    all: impl Iterator<Item = &'static str>,
) -> Result<Vec<T>, String> {
    let all: Vec<&str> = all.collect();
    strings(key, v)?
        .iter()
        .map(|s| {
            parse(s).ok_or_else(|| {
                format!(
                    "match.{key}: {s:?} is not one of {}",
                    codes(all.iter().copied())
                )
            })
        })
        .collect()
}

fn boolean(key: &str, v: &toml::Value) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("match.{key} must be true or false"))
}

fn build_cond(on: On, key: &str, v: &toml::Value) -> Result<Cond, String> {
    let c = match (on, key) {
        (_, "domain") => Cond::Domain(enums(
            key,
            v,
            Domain::from_code,
            Domain::ALL.iter().map(|d| d.as_str()),
        )?),
        (On::Penalty, "severity") => Cond::Severity(enums(
            key,
            v,
            Severity::from_code,
            Severity::ALL.iter().map(|d| d.as_str()),
        )?),
        (On::Penalty, "violation_category") => Cond::ViolationCategory(enums(
            key,
            v,
            ViolationCategory::from_code,
            ViolationCategory::ALL.iter().map(|d| d.as_str()),
        )?),
        (On::Penalty, "violation_code") => Cond::ViolationCode(strings(key, v)?),
        (On::Penalty, "revoked_license") => Cond::RevokedLicense(boolean(key, v)?),
        (On::Penalty, "licence_fraud") => Cond::LicenceFraud(boolean(key, v)?),
        (On::Penalty, "criminal_referral") => Cond::CriminalReferral(boolean(key, v)?),
        (On::Accident, "severity") => Cond::AccidentSeverity(enums(
            key,
            v,
            AccidentSeverity::from_code,
            AccidentSeverity::ALL.iter().map(|d| d.as_str()),
        )?),
        (On::Inspection, "result") => Cond::Result(enums(
            key,
            v,
            ResultCode::from_code,
            ResultCode::ALL.iter().map(|d| d.as_str()),
        )?),
        (On::Inspection, "inspection_type") => Cond::InspectionType(enums(
            key,
            v,
            InspectionType::from_code,
            InspectionType::ALL.iter().map(|d| d.as_str()),
        )?),
        (On::Inspection, "sampling_passed") => Cond::SamplingPassed(boolean(key, v)?),
        (On::Inspection, "hazard") => Cond::Hazard(enums(
            key,
            v,
            Hazard::from_code,
            Hazard::ALL.iter().map(|d| d.as_str()),
        )?),
        (On::Complaint, "category") => Cond::Category(strings(key, v)?),
        (On::Complaint, "channel") => Cond::Channel(enums(
            key,
            v,
            Channel::from_code,
            Channel::ALL.iter().map(|d| d.as_str()),
        )?),
        (On::Complaint, "substantiated") => Cond::Substantiated(boolean(key, v)?),
        _ => {
            let keys = match on {
                On::Penalty => "domain, severity, violation_category, violation_code, revoked_license, licence_fraud, criminal_referral",
                On::Accident => "domain, severity",
                On::Inspection => "domain, result, inspection_type, sampling_passed, hazard",
                On::Complaint => "domain, category, channel, substantiated",
            };
            return Err(format!(
                "match.{key} does not apply to {} events (their keys: {keys})",
                on.as_str()
            ));
        }
    };
    Ok(c)
}

/// Parses `feature op integer`, e.g. `deregistered == 0`.
fn parse_feature_cond(s: &str) -> Result<FeatureCond, String> {
    let t: Vec<&str> = s.split_whitespace().collect();
    let [name, op, value] = t.as_slice() else {
        return Err(format!(
            "when {s:?}: write `feature op value`, e.g. \"deregistered == 0\""
        ));
    };
    let feature = Feature::by_name(name).ok_or_else(|| {
        format!("when {s:?}: {name:?} is not a feature (see `tidewatch features`)")
    })?;
    if feature.def().dimension == Dimension::Relations {
        return Err(format!(
            "when {s:?}: {name:?} is a relation feature, computed over the whole population, not from one entity's history"
        ));
    }
    let op = match *op {
        "==" => Op::Eq,
        "!=" => Op::Ne,
        ">=" => Op::Ge,
        "<=" => Op::Le,
        ">" => Op::Gt,
        "<" => Op::Lt,
        o => {
            return Err(format!(
                "when {s:?}: operator {o:?} is not one of ==, !=, >=, <=, >, <"
            ))
        }
    };
    let value = value
        .parse::<i64>()
        .map_err(|_| format!("when {s:?}: {value:?} is not an integer"))?;
    Ok(FeatureCond { feature, op, value })
}

fn check_ident(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "id {s:?} must be lower-case letters, digits, '_' and '.'"
        ))
    }
}

fn codes<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// `sha256:` and 16 hex digits over the canonical form of some values
/// (keys sorted, so neither key order nor comments change a version).
fn version_of(values: &[Option<&toml::Value>]) -> String {
    let mut s = String::new();
    for v in values {
        match v {
            Some(v) => canonical(v, &mut s),
            None => s.push('-'),
        }
        s.push('\n');
    }
    format!(
        "sha256:{}",
        &hex::encode(Sha256::digest(s.as_bytes()))[..16]
    )
}

fn canonical(v: &toml::Value, out: &mut String) {
    match v {
        toml::Value::Table(t) => {
            let mut keys: Vec<&String> = t.keys().collect();
            keys.sort();
            out.push('{');
            for k in keys {
                out.push_str(&format!("{k:?}="));
                canonical(&t[k.as_str()], out);
                out.push(',');
            }
            out.push('}');
        }
        toml::Value::Array(a) => {
            out.push('[');
            for x in a {
                canonical(x, out);
                out.push(',');
            }
            out.push(']');
        }
        toml::Value::String(s) => out.push_str(&format!("{s:?}")),
        other => out.push_str(&other.to_string()),
    }
}

// ---- the file format, as serde sees it ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    warnings: Option<RawWarnings>,
    #[serde(default)]
    list: BTreeMap<String, Spanned<RawList>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWarnings {
    score_rise: Option<i64>,
    class_d: Option<bool>,
    #[serde(default)]
    class_d_unless_listed: Vec<String>,
    one_event_away: Option<bool>,
    days_before_listed_for: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    name: String,
    listed_by: String,
    removed_by: String,
    term_months: Option<u32>,
    repair_after_months: Option<u32>,
    #[serde(default)]
    repair_after_months_by_category: BTreeMap<String, u32>,
    repair_needs_no_new_heavy_penalty: Option<bool>,
    proposal_lapses_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    list: String,
    mode: String,
    reason: String,
    on: Option<String>,
    #[serde(rename = "match")]
    matches: Option<toml::Table>,
    count: Option<u32>,
    within_months: Option<u32>,
    same: Option<String>,
    annual_report: Option<RawAnnual>,
    listed_for: Option<RawListedFor>,
    #[serde(default)]
    when: Vec<String>,
    decision_reason: Option<String>,
    corrected_by: Option<String>,
    removed_when_corrected: Option<bool>,
    repair_after_months: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnnual {
    grace_days: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListedFor {
    list: String,
    months: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r#"
[list.q]
name = "质量失信黑名单"
listed_by = "quality_blacklisted"
removed_by = "quality_blacklist_removed"
term_months = 60

[[rule]]
id = "q.fraud"
list = "q"
mode = "proposal"
reason = "以欺骗手段取得许可"
on = "penalty"
match = { licence_fraud = true }
"#;

    fn err(text: &str) -> RulesError {
        match Rules::parse(text, "l.toml") {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    #[test]
    fn loads_a_minimal_file() {
        let r = Rules::parse(MINI, "l.toml").expect("valid");
        assert_eq!(r.rules.len(), 1);
        assert_eq!(r.rules[0].line, 8, "the line of its [[rule]] header");
        assert!(r.rules[0].version.starts_with("sha256:"));
        assert_eq!(r.list("q").map(|l| l.term_months), Some(Some(60)));
    }

    #[test]
    fn versions_ignore_comments_and_key_order_but_not_values() {
        let a = Rules::parse(MINI, "l.toml").expect("valid");
        let commented = MINI.replace("on = \"penalty\"", "# a note\non = \"penalty\"");
        let b = Rules::parse(&commented, "l.toml").expect("valid");
        assert_eq!(a.rules[0].version, b.rules[0].version);
        assert_ne!(a.version, b.version, "the file version is of its bytes");
        let changed = MINI.replace("term_months = 60", "term_months = 36");
        let c = Rules::parse(&changed, "l.toml").expect("valid");
        assert_ne!(
            a.rules[0].version, c.rules[0].version,
            "the list's term is part of its rules' versions"
        );
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        let e = err(&MINI.replace("licence_fraud = true", "licence_fraud = \"yes\""));
        assert_eq!(e.line, 8, "{e}");
        assert!(e.message.contains("true or false"), "{e}");
        let e = err(&MINI.replace("licence_fraud", "result"));
        assert!(e.message.contains("does not apply to penalty"), "{e}");
        let e = err(&MINI.replace("mode = \"proposal\"", "mode = \"maybe\""));
        assert!(
            e.to_string().starts_with("l.toml:8: rule \"q.fraud\""),
            "{e}"
        );
        let e = err(&MINI.replace("list = \"q\"", "list = \"x\""));
        assert!(e.message.contains("not defined"), "{e}");
        let e = err(&MINI.replace("quality_blacklisted", "blacklisted"));
        assert_eq!(e.line, 2, "{e}");
        let e = err(&MINI.replace("reason =", "reasons ="));
        assert!(e.message.contains("unknown field"), "{e}");
        let e = err(&format!("{MINI}when = [\"no_such >= 1\"]\n"));
        assert!(e.message.contains("not a feature"), "{e}");
        let e = err(&format!("{MINI}when = [\"related_entities >= 1\"]\n"));
        assert!(e.message.contains("relation feature"), "{e}");
        let e = err(&format!("{MINI}count = 2\n"));
        assert!(e.message.contains("within_months"), "{e}");
    }
}
