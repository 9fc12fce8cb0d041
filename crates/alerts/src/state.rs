//! The state of every list: per entity, its entries (proposals and
//! listings, current and past) and the alert ids already announced.
//!
//! Everything here is serde-serializable: the embedded run keeps it in
//! `out/lists-state.json`, the streaming engine in its checkpoints. The
//! entries themselves are recomputed from the entity's history at each
//! evaluation (see [`crate::evaluate`]); what the state adds is memory of
//! what was announced (so nothing is announced twice), the per-entity
//! sequence, and the rule version each entry was made under.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::alert::{Cause, EntityRef};
use crate::rules::Mode;

/// Format of the serialized state; bumped on incompatible changes.
pub const STATE_FORMAT: u32 = 1;

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Proposed to the listing authority; no decision yet.
    Proposed,
    /// On the list.
    Listed,
    /// Taken off the list (`end_cause` says why).
    Removed,
    /// A proposal that no longer stands (`end_cause` says why).
    Withdrawn,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Proposed => "proposed",
            Status::Listed => "listed",
            Status::Removed => "removed",
            Status::Withdrawn => "withdrawn",
        }
    }

    /// Proposed or listed.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Proposed | Status::Listed)
    }
}

/// One proposal or listing of one entity on one list. Dates and records
/// not set are left out of the JSON (most are, and a checkpoint writes the
/// lists of every entity with any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub list: String,
    /// The rule that matched, or `<list>.decision` for a listing no rule
    /// proposed (e.g. another authority's decision).
    pub rule: String,
    /// Tells apart entries of one rule: the triggering event, the report
    /// year, the group of a counted rule.
    pub key: String,
    pub mode: Mode,
    /// The rule's version when the entry was opened; its alerts keep it.
    pub rule_version: String,
    pub triggers: Vec<String>,
    pub reason: String,
    /// The date the entry was opened (proposed, or listed directly).
    pub opened_on: NaiveDate,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposed_on: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed_on: Option<NaiveDate>,
    /// The decision record that listed it (or confirmed an automatic listing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_from: Option<NaiveDate>,
    /// When the cause was corrected (e.g. the missing report filed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_on: Option<NaiveDate>,
    /// A credit repair that came before the earliest early removal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_seen_on: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_on: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_cause: Option<Cause>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_event: Option<String>,
    /// The authority's removal record that followed a removal the engine
    /// had already made (on repair or correction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal_decision: Option<String>,
}

impl Entry {
    /// What identifies an entry across evaluations.
    pub fn identity(&self) -> (&str, &str, &str, NaiveDate) {
        (&self.list, &self.rule, &self.key, self.opened_on)
    }
}

/// One entity's lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityLists {
    pub entity: EntityRef,
    /// The as-of date of the evaluation that produced this.
    pub as_of: NaiveDate,
    /// The last per-entity alert sequence number used.
    pub seq: u64,
    pub entries: Vec<Entry>,
    /// Ids of the alerts announced for this entity.
    pub announced: BTreeSet<String>,
}

impl EntityLists {
    /// Entries on `list` with this status.
    pub fn entries_on<'a>(
        &'a self,
        list: &'a str,
        status: Status,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.list == list && e.status == status)
    }

    pub fn is_listed_on(&self, list: &str) -> bool {
        self.entries_on(list, Status::Listed).next().is_some()
    }
}

/// The state of every list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListState {
    pub format: u32,
    /// The as-of date of the last evaluation; `None` before the first.
    pub as_of: Option<NaiveDate>,
    /// Version of the rules file last used (informational).
    pub rules_version: String,
    /// Entities with entries or announced alerts, by USCC. Shared, so that
    /// a checkpoint can take the state as it is now and write it on another
    /// thread while evaluation goes on (an evaluation replaces an entity's
    /// lists, it never changes them in place).
    #[serde(with = "shared")]
    pub entities: BTreeMap<String, Arc<EntityLists>>,
}

/// Serializes the shared lists as the lists themselves.
mod shared {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::EntityLists;

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<String, Arc<EntityLists>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(m.iter().map(|(k, v)| (k, &**v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Arc<EntityLists>>, D::Error> {
        let m = BTreeMap::<String, EntityLists>::deserialize(d)?;
        Ok(m.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

impl Default for ListState {
    fn default() -> Self {
        ListState {
            format: STATE_FORMAT,
            as_of: None,
            rules_version: String::new(),
            entities: BTreeMap::new(),
        }
    }
}

impl ListState {
    pub fn entity(&self, uscc: &str) -> Option<&EntityLists> {
        self.entities.get(uscc).map(|l| &**l)
    }

    /// Replaces an entity's lists with a new evaluation's; returns the old
    /// ones (the caller may drop them elsewhere: a long list history takes
    /// a while to free).
    pub fn put(&mut self, uscc: &str, lists: Option<EntityLists>) -> Option<Arc<EntityLists>> {
        self.put_shared(uscc, lists.map(Arc::new))
    }

    /// [`ListState::put`] for lists already shared.
    pub fn put_shared(
        &mut self,
        uscc: &str,
        lists: Option<Arc<EntityLists>>,
    ) -> Option<Arc<EntityLists>> {
        match (lists, self.entities.get_mut(uscc)) {
            // Most entities are listed already: no new key.
            (Some(l), Some(slot)) => Some(std::mem::replace(slot, l)),
            (Some(l), None) => self.entities.insert(uscc.to_owned(), l),
            (None, _) => self.entities.remove(uscc),
        }
    }

    /// Entries with a status on a list, with their entity, by USCC.
    pub fn on_list<'a>(
        &'a self,
        list: &'a str,
        status: Status,
    ) -> impl Iterator<Item = (&'a EntityLists, &'a Entry)> + 'a {
        self.entities
            .values()
            .map(|el| &**el)
            .flat_map(move |el| el.entries_on(list, status).map(move |e| (el, e)))
    }
}
