//! The feature table kept current as entities change, for the streaming
//! engine: only changed entities' rows are recomputed, plus the relation
//! features of everyone sharing a legal representative with them.
//!
//! The result is always equal to [`FeatureTable::compute`] over the same
//! store at the same as-of date (a test checks it), so streaming and batch
//! give the same features.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;

use crate::compute::{entity_row, FeatureTable};
use crate::features::{Feature as F, N_FEATURES};
use crate::store::{EntityId, EntityStore};

/// Members of one legal representative's group, and how many are in trouble.
#[derive(Debug, Default, Clone)]
struct Group {
    members: BTreeSet<EntityId>,
    in_trouble: i64,
}

/// A [`FeatureTable`] with what its relation pass needs to be updated in
/// place.
#[derive(Debug, Clone)]
pub struct LiveTable {
    table: FeatureTable,
    reps: Vec<Option<String>>,
    trouble: Vec<bool>,
    groups: HashMap<String, Group>,
}

impl LiveTable {
    /// An empty table at `as_of`.
    pub fn new(as_of: NaiveDate) -> LiveTable {
        LiveTable {
            table: FeatureTable {
                as_of,
                columns: vec![Vec::new(); N_FEATURES],
            },
            reps: Vec::new(),
            trouble: Vec::new(),
            groups: HashMap::new(),
        }
    }

    pub fn table(&self) -> &FeatureTable {
        &self.table
    }

    pub fn as_of(&self) -> NaiveDate {
        self.table.as_of
    }

    /// Recomputes every row at a (possibly new) as-of date; returns every
    /// entity id.
    pub fn rebuild(&mut self, store: &EntityStore, as_of: NaiveDate) -> Vec<EntityId> {
        *self = LiveTable::new(as_of);
        let all: Vec<EntityId> = (0..store.len() as EntityId).collect();
        self.update(store, &all)
    }

    /// Recomputes the rows of `changed` entities (new ones included) and the
    /// relation features their changes touch. Returns every entity whose row
    /// may differ, sorted.
    pub fn update(&mut self, store: &EntityStore, changed: &[EntityId]) -> Vec<EntityId> {
        let n = store.len();
        if self.reps.len() < n {
            for c in &mut self.table.columns {
                c.resize(n, 0);
            }
            self.reps.resize(n, None);
            self.trouble.resize(n, false);
        }
        let as_of = self.table.as_of;
        let mut affected: BTreeSet<EntityId> = changed.iter().copied().collect();
        // Groups whose size or trouble count moved: all their members'
        // relation features are recomputed below.
        let mut touched: BTreeSet<String> = BTreeSet::new();
        for &id in changed {
            let i = id as usize;
            let row = entity_row(&store.entities()[i], as_of);
            for (c, v) in self.table.columns.iter_mut().zip(row.values.iter()) {
                c[i] = *v;
            }
            let (old_rep, old_t) = (self.reps[i].take(), self.trouble[i]);
            if old_rep == row.legal_rep && old_t == row.in_trouble {
                self.reps[i] = old_rep;
                continue;
            }
            if let Some(r) = old_rep {
                if let Some(g) = self.groups.get_mut(&r) {
                    g.members.remove(&id);
                    g.in_trouble -= i64::from(old_t);
                    if g.members.is_empty() {
                        self.groups.remove(&r);
                    }
                }
                touched.insert(r);
            }
            if let Some(r) = &row.legal_rep {
                let g = self.groups.entry(r.clone()).or_default();
                g.members.insert(id);
                g.in_trouble += i64::from(row.in_trouble);
                touched.insert(r.clone());
            }
            self.reps[i] = row.legal_rep;
            self.trouble[i] = row.in_trouble;
        }
        for r in &touched {
            if let Some(g) = self.groups.get(r) {
                affected.extend(g.members.iter().copied());
            }
        }
        for &id in &affected {
            let i = id as usize;
            let own = i64::from(self.trouble[i]);
            let (all, bad) = self.reps[i]
                .as_ref()
                .and_then(|r| self.groups.get(r))
                .map_or((1, own), |g| (g.members.len() as i64, g.in_trouble));
            self.table.columns[F::RelatedEntities.index()][i] = all - 1;
            self.table.columns[F::RelatedInTrouble.index()][i] = bad - own;
        }
        affected.into_iter().collect()
    }
}
