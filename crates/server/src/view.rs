//! The seams between the HTTP API and whatever holds the data: the
//! streaming engine implements [`EngineView`], [`DrawService`] and
//! [`AlertLog`]; [`crate::memory`] implements them over plain values for
//! tests and for serving a finished run.
//!
//! Methods are synchronous: implementations answer from memory or a
//! snapshot. The server calls the draw methods, which may write files, on
//! the blocking thread pool.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tidewatch_model::{Class, Domain, RegionCode, Uscc};

use crate::error::ServiceError;

/// Read access to the engine's current state.
pub trait EngineView: Send + Sync + 'static {
    /// Whether state is restored, and how far the consumer is behind.
    fn readiness(&self) -> Readiness;

    /// One entity's current scores, classes, reasons and list memberships;
    /// `None` when the engine does not know the entity.
    fn entity(&self, uscc: &Uscc) -> Result<Option<EntityScores>, ServiceError>;

    /// Entities per class for a field, filtered by region and industry,
    /// optionally grouped.
    fn distribution(&self, query: &DistributionQuery) -> Result<Distribution, ServiceError>;

    /// Every list with its size.
    fn lists(&self) -> Result<Vec<ListSummary>, ServiceError>;

    /// One page of a list's entries, in a stable order.
    /// [`ServiceError::NotFound`] for an unknown list.
    fn list(&self, list: &str, page: &PageRequest) -> Result<ListPage, ServiceError>;
}

/// The double-random draw workflow: preview (no side effects), commit
/// (freeze the plan and population and publish their digests), run (apply
/// the public randomness), replace (an entity found closed or unreachable),
/// verify (re-derive the published manifest) and status.
pub trait DrawService: Send + Sync + 'static {
    /// What a plan would draw at the current snapshot, without recording
    /// anything.
    fn preview(&self, plan: &Value) -> Result<Value, ServiceError>;
    /// Records a plan with its population snapshot. The plan's `id` becomes
    /// the draw's id; [`ServiceError::Conflict`] if it exists.
    fn commit(&self, plan: &Value) -> Result<DrawRecord, ServiceError>;
    fn run(&self, plan_id: &str, request: &RunRequest) -> Result<DrawRecord, ServiceError>;
    fn replace(&self, plan_id: &str, request: &ReplaceRequest) -> Result<DrawRecord, ServiceError>;
    fn verify(&self, plan_id: &str) -> Result<DrawVerification, ServiceError>;
    fn status(&self, plan_id: &str) -> Result<DrawRecord, ServiceError>;
}

/// The alerts raised so far, each with a sequence number that increases by
/// one, so a client that saw up to `n` asks for what came after `n`.
pub trait AlertLog: Send + Sync + 'static {
    /// Up to `limit` alerts with a sequence number above `after`, oldest
    /// first.
    fn after(&self, after: u64, limit: usize) -> Result<AlertPage, ServiceError>;
}

/// Readiness as the engine reports it; the server compares the lag with
/// `ready_max_lag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    pub state_restored: bool,
    /// The largest lag over assigned partitions; `None` when not consuming
    /// from a broker (file input), which counts as caught up.
    pub consumer_lag: Option<u64>,
}

/// One entity as the API shows it. No personal data: the legal
/// representative is not part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityScores {
    pub uscc: Uscc,
    pub name: String,
    pub region: RegionCode,
    #[serde(default)]
    pub zone: Option<String>,
    /// GB/T 4754 industry code.
    pub industry: String,
    /// The as-of date of the scores (`YYYY-MM-DD`).
    pub as_of: String,
    /// The general field first, then each specialized field the entity is in.
    pub fields: Vec<FieldScore>,
    /// The hard override applied, if any, as the policy words it (e.g.
    /// `列入严重违法失信名单`).
    #[serde(default)]
    pub override_applied: Option<String>,
    #[serde(default)]
    pub lists: Vec<ListMembership>,
}

/// An entity's score in one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldScore {
    pub field: Domain,
    /// 0–1000, higher is riskier.
    pub risk_score: u32,
    /// The class the model's score maps to.
    pub model_class: Class,
    /// The class used for the field (general + specialized, overrides).
    pub class: Class,
    /// The top reasons, in words, most points first.
    pub reasons: Vec<String>,
    pub model_version: String,
}

/// The entity is on a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMembership {
    pub list: String,
    /// Listed on (`YYYY-MM-DD`).
    pub since: String,
    /// When the term ends, if it has one.
    #[serde(default)]
    pub until: Option<String>,
    /// The decision document number, if one is known.
    #[serde(default)]
    pub decision: Option<String>,
}

/// How to group a distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// By GB/T 2260 region code.
    Region,
    /// By GB/T 4754 section letter (A–T).
    IndustrySection,
    /// By GB/T 4754 division (section letter and two digits, e.g. `C13`).
    IndustryDivision,
}

/// A class distribution query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionQuery {
    pub field: Domain,
    /// Only entities registered in this region.
    pub region: Option<RegionCode>,
    /// Only entities whose industry code starts with this (a section
    /// letter, a division, a group…).
    pub industry: Option<String>,
    pub group_by: Option<GroupBy>,
}

/// Entities per class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassCounts {
    #[serde(rename = "A")]
    pub a: u64,
    #[serde(rename = "B")]
    pub b: u64,
    #[serde(rename = "C")]
    pub c: u64,
    #[serde(rename = "D")]
    pub d: u64,
}

impl ClassCounts {
    pub fn add(&mut self, class: Class) {
        match class {
            Class::A => self.a += 1,
            Class::B => self.b += 1,
            Class::C => self.c += 1,
            Class::D => self.d += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.a + self.b + self.c + self.d
    }
}

/// One group of a distribution (`key` is `null` when ungrouped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionGroup {
    pub key: Option<String>,
    pub classes: ClassCounts,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distribution {
    pub as_of: String,
    pub field: Domain,
    pub region: Option<RegionCode>,
    pub industry: Option<String>,
    pub group_by: Option<GroupBy>,
    pub groups: Vec<DistributionGroup>,
}

/// Computes a distribution over entities held as [`EntityScores`]; an
/// engine that keeps them this way can answer
/// [`EngineView::distribution`] with it. Entities not in the field are
/// left out.
pub fn distribution_of<'a>(
    as_of: &str,
    entities: impl IntoIterator<Item = &'a EntityScores>,
    q: &DistributionQuery,
) -> Distribution {
    let mut groups: BTreeMap<Option<String>, ClassCounts> = BTreeMap::new();
    for e in entities {
        if q.region.as_ref().is_some_and(|r| *r != e.region) {
            continue;
        }
        if q.industry
            .as_deref()
            .is_some_and(|p| !e.industry.starts_with(p))
        {
            continue;
        }
        let Some(fs) = e.fields.iter().find(|f| f.field == q.field) else {
            continue;
        };
        let key = match q.group_by {
            None => None,
            Some(GroupBy::Region) => Some(e.region.as_str().to_string()),
            Some(GroupBy::IndustrySection) => Some(e.industry.chars().take(1).collect()),
            Some(GroupBy::IndustryDivision) => Some(e.industry.chars().take(3).collect()),
        };
        groups.entry(key).or_default().add(fs.class);
    }
    if groups.is_empty() && q.group_by.is_none() {
        groups.insert(None, ClassCounts::default());
    }
    Distribution {
        as_of: as_of.to_string(),
        field: q.field,
        region: q.region,
        industry: q.industry.clone(),
        group_by: q.group_by,
        groups: groups
            .into_iter()
            .map(|(key, classes)| DistributionGroup {
                key,
                total: classes.total(),
                classes,
            })
            .collect(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSummary {
    pub list: String,
    pub entities: u64,
}

/// A page request: an opaque cursor from the previous page, and a size
/// the server has already checked against its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    pub cursor: Option<String>,
    pub limit: usize,
}

/// One entity on a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListEntry {
    pub uscc: Uscc,
    pub name: String,
    pub region: RegionCode,
    pub since: String,
    #[serde(default)]
    pub until: Option<String>,
    /// Why (the rule or violation category), in words.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub decision: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPage {
    pub list: String,
    pub total: u64,
    pub items: Vec<ListEntry>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// One alert with its sequence number. The alert itself is the JSON the
/// alert rules emit (its id, kind, list, USCC, dates, reason…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub seq: u64,
    pub alert: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPage {
    pub items: Vec<AlertRecord>,
    /// The highest sequence number so far (0 when there are none), so a
    /// client knows whether it has caught up.
    pub last_seq: u64,
}

/// Where a draw is in its workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrawState {
    /// Plan and population digests fixed and published; no randomness yet.
    Committed,
    /// Randomness applied; the manifest exists.
    Drawn,
}

/// A draw's state and digests, as status, commit, run and replace return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrawRecord {
    pub plan_id: String,
    pub field: String,
    pub state: DrawState,
    pub plan_digest: String,
    pub population_digest: String,
    pub population_rows: u64,
    /// The manifest's result digest, once drawn.
    #[serde(default)]
    pub result_digest: Option<String>,
    /// Entities chosen, once drawn.
    #[serde(default)]
    pub chosen: Option<u64>,
    #[serde(default)]
    pub replacements: u64,
    /// Anything else the implementation reports (strata counts, file names).
    #[serde(default)]
    pub detail: Value,
}

/// The public randomness for a committed draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The public random value (a lottery result, a beacon round's output),
    /// exactly as published.
    pub randomness: String,
}

/// Replace a chosen entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceRequest {
    pub uscc: Uscc,
    /// Why, as the desk records it (e.g. result code `7`).
    pub reason: String,
}

/// The outcome of re-deriving a draw from its published inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrawVerification {
    pub plan_id: String,
    pub ok: bool,
    /// What differs, one line each; empty when `ok`.
    pub mismatches: Vec<String>,
}
