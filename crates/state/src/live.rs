//! The feature table kept current as entities change, for the streaming
//! engine: only changed entities' rows are recomputed, plus the relation
//! features of everyone sharing a legal representative with them.
//!
//! The result is always equal to [`FeatureTable::compute`] over the same
//! store at the same as-of date (a test checks it), so streaming and batch
//! give the same features.
//!
//! When the entities are split between processes (a consumer group), a
//! legal representative's entities may live in several of them. Each
//! process then also hears [`RelationFact`]s about the others' entities and
//! counts them into the groups: the relation features come out as if every
//! entity were local, once every process has heard every other's facts.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tidewatch_model::Uscc;

use crate::compute::{entity_row, FeatureTable, Row};
use crate::features::{Feature as F, N_FEATURES};
use crate::store::{EntityId, EntityStore, Map, Set};

/// Changed entities whose feature rows are computed at once (see
/// [`LiveTable::update`]): enough to keep both cores busy, a few MB.
const ROWS_AT_ONCE: usize = 8192;

/// Members of one legal representative's group, and how many are in trouble.
#[derive(Debug, Default, Clone)]
struct Group {
    members: BTreeSet<EntityId>,
    in_trouble: i64,
    /// Entities of other processes in the group, and how many of those are
    /// in trouble.
    remote: i64,
    remote_trouble: i64,
}

impl Group {
    fn is_empty(&self) -> bool {
        self.members.is_empty() && self.remote == 0
    }
}

/// What the relation features need to know about one entity: its legal
/// representative at the as-of date and whether it is in trouble. `as_of`
/// and `events` (how many events the entity had) order one entity's facts:
/// both only grow, and equal versions carry equal facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationFact {
    pub uscc: Uscc,
    pub legal_rep_key: Option<String>,
    pub in_trouble: bool,
    pub as_of: NaiveDate,
    pub events: u64,
}

impl RelationFact {
    fn version(&self) -> (NaiveDate, u64) {
        (self.as_of, self.events)
    }
}

/// A fact heard from elsewhere, and whether the groups count it (they do
/// not while the entity is local: the store is the truth for those).
#[derive(Debug, Clone)]
struct Heard {
    fact: RelationFact,
    counted: bool,
}

/// The rows of a [`FeatureTable`] with what its relation pass needs to be
/// updated in place.
#[derive(Debug, Clone)]
pub struct LiveTable {
    as_of: NaiveDate,
    /// One entity's features beside each other: a flush rewrites a few
    /// entities' whole rows and then reads them back ([`LiveTable::select`]),
    /// which by columns touched a cache line per feature and entity.
    rows: Vec<[i64; N_FEATURES]>,
    reps: Vec<Option<String>>,
    trouble: Vec<bool>,
    groups: Map<String, Group>,
    /// Every fact heard about an entity, the latest per entity.
    heard: Map<Uscc, Heard>,
    /// When tracked (see [`LiveTable::track_moves`]): entities whose legal
    /// representative or trouble flag changed, with the representative
    /// they had before.
    moved: Option<Vec<(EntityId, Option<String>)>>,
}

impl LiveTable {
    /// An empty table at `as_of`.
    pub fn new(as_of: NaiveDate) -> LiveTable {
        LiveTable {
            as_of,
            rows: Vec::new(),
            reps: Vec::new(),
            trouble: Vec::new(),
            groups: Map::default(),
            heard: Map::default(),
            moved: None,
        }
    }

    /// Starts noting which entities' relation facts change (one process of
    /// several shares them, see [`LiveTable::take_moved`]).
    pub fn track_moves(&mut self) {
        self.moved.get_or_insert_with(Vec::new);
    }

    /// The entities whose legal representative or trouble flag changed
    /// since the last call, each with the representative it had before.
    pub fn take_moved(&mut self) -> Vec<(EntityId, Option<String>)> {
        self.moved.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// An entity's legal representative and trouble flag, as its relation
    /// features see them (after the last update).
    pub fn fact(&self, id: EntityId) -> (Option<&str>, bool) {
        let i = id as usize;
        (
            self.reps.get(i).and_then(|r| r.as_deref()),
            self.trouble.get(i).copied().unwrap_or(false),
        )
    }

    /// Facts heard so far (to carry them into a table rebuilt for another
    /// set of entities, which [`LiveTable::hear`]s them).
    pub fn take_heard(&mut self) -> Vec<RelationFact> {
        let heard = std::mem::take(&mut self.heard);
        for g in self.groups.values_mut() {
            g.remote = 0;
            g.remote_trouble = 0;
        }
        self.groups.retain(|_, g| !g.is_empty());
        heard.into_values().map(|h| h.fact).collect()
    }

    /// Counts facts heard about other processes' entities into the groups.
    /// Returns the local entities whose relation features changed, sorted.
    pub fn hear(&mut self, store: &EntityStore, facts: Vec<RelationFact>) -> Vec<EntityId> {
        let mut touched: Set<String> = Set::default();
        for fact in facts {
            if let Some(old) = self.heard.get(&fact.uscc) {
                if old.fact.version() >= fact.version() {
                    continue;
                }
            }
            if let Some(old) = self.heard.remove(&fact.uscc) {
                if old.counted {
                    self.uncount(&old.fact, &mut touched);
                }
            }
            let counted = fact.legal_rep_key.is_some() && store.get(&fact.uscc).is_none();
            if counted {
                if let Some(r) = &fact.legal_rep_key {
                    let g = self.groups.entry(r.clone()).or_default();
                    g.remote += 1;
                    g.remote_trouble += i64::from(fact.in_trouble);
                    touch(&mut touched, r);
                }
            }
            self.heard.insert(fact.uscc, Heard { fact, counted });
        }
        let mut affected = BTreeSet::new();
        for r in &touched {
            if let Some(g) = self.groups.get(r) {
                affected.extend(g.members.iter().copied());
            }
        }
        // Only rows the table has (members are added by `update`).
        affected.retain(|&id| (id as usize) < self.reps.len());
        for &id in &affected {
            self.relate(id);
        }
        affected.into_iter().collect()
    }

    fn uncount(&mut self, fact: &RelationFact, touched: &mut Set<String>) {
        if let Some(r) = &fact.legal_rep_key {
            if let Some(g) = self.groups.get_mut(r) {
                g.remote -= 1;
                g.remote_trouble -= i64::from(fact.in_trouble);
                if g.is_empty() {
                    self.groups.remove(r);
                }
            }
            touch(touched, r);
        }
    }

    /// Sets one row's relation features from its group.
    fn relate(&mut self, id: EntityId) {
        let i = id as usize;
        let own = i64::from(self.trouble[i]);
        let (all, bad) = self.reps[i]
            .as_ref()
            .and_then(|r| self.groups.get(r))
            .map_or((1, own), |g| {
                (
                    g.members.len() as i64 + g.remote,
                    g.in_trouble + g.remote_trouble,
                )
            });
        let row = &mut self.rows[i];
        row[F::RelatedEntities.index()] = all - 1;
        row[F::RelatedInTrouble.index()] = bad - own;
    }

    /// Rows in the table (every entity it was updated with).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows of `ids`, in that order, as a table of their own.
    pub fn select(&self, ids: &[EntityId]) -> FeatureTable {
        let mut columns: Vec<Vec<i64>> = (0..N_FEATURES)
            .map(|_| Vec::with_capacity(ids.len()))
            .collect();
        for &id in ids {
            for (c, &v) in columns.iter_mut().zip(&self.rows[id as usize]) {
                c.push(v);
            }
        }
        FeatureTable {
            as_of: self.as_of,
            columns,
        }
    }

    /// The whole table.
    pub fn table(&self) -> FeatureTable {
        let ids: Vec<EntityId> = (0..self.rows.len() as EntityId).collect();
        self.select(&ids)
    }

    pub fn as_of(&self) -> NaiveDate {
        self.as_of
    }

    /// Recomputes every row at a (possibly new) as-of date; returns every
    /// entity id.
    pub fn rebuild(&mut self, store: &EntityStore, as_of: NaiveDate) -> Vec<EntityId> {
        let heard = self.take_heard();
        let before = std::mem::replace(self, LiveTable::new(as_of));
        self.hear(store, heard);
        let all: Vec<EntityId> = (0..store.len() as EntityId).collect();
        let ids = self.update(store, &all);
        if let Some(mut moved) = before.moved {
            // Changed against the rows before the rebuild, not against none.
            let old = |i: usize| {
                (
                    before.reps.get(i).cloned().flatten(),
                    before.trouble.get(i).copied().unwrap_or(false),
                )
            };
            for i in 0..store.len() {
                let (rep, trouble) = old(i);
                if rep != self.reps[i] || trouble != self.trouble[i] {
                    moved.push((i as EntityId, rep));
                }
            }
            self.moved = Some(moved);
        }
        ids
    }

    /// Recomputes the rows of `changed` entities (new ones included) and the
    /// relation features their changes touch. Returns every entity whose row
    /// may differ, sorted.
    pub fn update(&mut self, store: &EntityStore, changed: &[EntityId]) -> Vec<EntityId> {
        self.update_in_chunks(store, changed, ROWS_AT_ONCE)
    }

    /// [`LiveTable::update`], computing the rows of at most `rows_at_once`
    /// entities at a time. The result does not depend on it (a property
    /// test holds it to the batch table with small chunks).
    pub fn update_in_chunks(
        &mut self,
        store: &EntityStore,
        changed: &[EntityId],
        rows_at_once: usize,
    ) -> Vec<EntityId> {
        let n = store.len();
        if self.reps.len() < n {
            self.rows.resize(n, [0; N_FEATURES]);
            self.reps.resize(n, None);
            self.trouble.resize(n, false);
        }
        let as_of = self.as_of;
        let mut affected: Vec<EntityId> = changed.to_vec();
        // Groups whose size or trouble count moved: all their members'
        // relation features are recomputed below.
        let mut touched: Set<String> = Set::default();
        // The rows depend only on each entity's history: computed in
        // parallel, then folded into the groups in order. A chunk at a time,
        // so that a catch-up's hundred thousand changed entities do not
        // hold all their rows at once.
        let mut rows: Vec<Row> = Vec::new();
        for chunk in changed.chunks(rows_at_once.max(1)) {
            chunk
                .par_iter()
                .with_min_len(32)
                .map(|&id| entity_row(&store.entities()[id as usize], as_of))
                .collect_into_vec(&mut rows);
            self.fold_rows(store, chunk, rows.drain(..), &mut touched);
        }
        for r in &touched {
            if let Some(g) = self.groups.get(r) {
                affected.extend(g.members.iter().copied());
            }
        }
        affected.sort_unstable();
        affected.dedup();
        for &id in &affected {
            self.relate(id);
        }
        affected
    }

    /// Puts the new `rows` of the entities `changed` in the table, and
    /// moves each whose legal representative or trouble flag changed to its
    /// new group (noting the groups `touched`).
    fn fold_rows(
        &mut self,
        store: &EntityStore,
        changed: &[EntityId],
        rows: impl Iterator<Item = Row>,
        touched: &mut Set<String>,
    ) {
        for (&id, row) in changed.iter().zip(rows) {
            let i = id as usize;
            let entity = &store.entities()[i];
            // Heard of while it lived elsewhere: the store speaks for it now.
            if !self.heard.is_empty() {
                if let Some(h) = self.heard.get_mut(&entity.uscc) {
                    if h.counted {
                        h.counted = false;
                        let fact = h.fact.clone();
                        self.uncount(&fact, touched);
                    }
                }
            }
            self.rows[i] = row.values;
            let (old_rep, old_t) = (self.reps[i].take(), self.trouble[i]);
            if old_rep == row.legal_rep && old_t == row.in_trouble {
                self.reps[i] = old_rep;
                continue;
            }
            if let Some(m) = self.moved.as_mut() {
                m.push((id, old_rep.clone()));
            }
            if let Some(r) = old_rep {
                if let Some(g) = self.groups.get_mut(&r) {
                    g.members.remove(&id);
                    g.in_trouble -= i64::from(old_t);
                    if g.is_empty() {
                        self.groups.remove(&r);
                    }
                }
                touch(touched, &r);
            }
            if let Some(r) = &row.legal_rep {
                let g = self.groups.entry(r.clone()).or_default();
                g.members.insert(id);
                g.in_trouble += i64::from(row.in_trouble);
                touch(touched, r);
            }
            self.reps[i] = row.legal_rep;
            self.trouble[i] = row.in_trouble;
        }
    }
}

/// Notes a group as touched, copying its key only the first time.
fn touch(touched: &mut Set<String>, key: &str) {
    if !touched.contains(key) {
        touched.insert(key.to_owned());
    }
}
