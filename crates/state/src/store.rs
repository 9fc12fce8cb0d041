//! The entity store: every known market entity, densely indexed, with the
//! events applied to it.
//!
//! The store keeps each entity's history rather than running totals, because
//! features are a function of (history, as-of date): when the as-of date moves
//! every window moves, and when events arrive out of order nothing has to be
//! undone. Histories are short (a handful of events per entity per year), so
//! recomputing an entity's features from them is cheap.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use tidewatch_model::event::Registration;
use tidewatch_model::{Event, Family, RejectReason, Rejection, Uscc};

/// Dense entity index (row of the feature table).
pub type EntityId = u32;

/// One market entity.
#[derive(Debug, Clone)]
pub struct Entity {
    pub uscc: Uscc,
    /// Events applied to this entity, in arrival order (registrations too).
    pub history: Vec<Event>,
}

impl Entity {
    /// The registration in force: the latest by (date, event id), so that the
    /// answer does not depend on arrival order.
    pub fn registration(&self) -> Option<&Registration> {
        self.history
            .iter()
            .filter_map(|e| e.registration().map(|r| (e.occurred_on(), e.event_id(), r)))
            .max_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)))
            .map(|(_, _, r)| r)
    }
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Added to the entity's history.
    Applied(EntityId),
    /// The entity is not registered yet; kept until it is.
    Held,
    /// The same event (same id, same content) was applied before.
    Duplicate,
}

/// All entities, their histories, and the events waiting for a registration.
#[derive(Debug, Default)]
pub struct EntityStore {
    index: HashMap<Uscc, EntityId>,
    entities: Vec<Entity>,
    /// Content digest per event id, per family, to tell exact duplicates
    /// from conflicting ones.
    seen: [HashMap<Box<str>, u64>; 3],
    /// Events for entities not registered yet, with the caller's tag.
    held: HashMap<Uscc, Vec<(Event, u64)>>,
    held_count: usize,
    /// Entities changed since the last [`EntityStore::take_dirty`].
    dirty: Vec<EntityId>,
    is_dirty: Vec<bool>,
}

fn digest(e: &Event) -> u64 {
    let mut h = DefaultHasher::new();
    e.hash(&mut h);
    h.finish()
}

fn family_slot(f: Family) -> usize {
    match f {
        Family::Inspections => 0,
        Family::Complaints => 1,
        Family::CreditRecords => 2,
    }
}

impl EntityStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a validated event. `tag` is the caller's handle for the event
    /// (e.g. where it was read), returned if it is still held at the end.
    ///
    /// Errors only with `conflicting_duplicate`: the event id was seen before
    /// with different content. The first version stays applied.
    pub fn apply(&mut self, event: Event, tag: u64) -> Result<Applied, Rejection> {
        let d = digest(&event);
        match self.seen[family_slot(event.family())].entry(event.event_id().into()) {
            Entry::Occupied(o) => {
                return if *o.get() == d {
                    Ok(Applied::Duplicate)
                } else {
                    Err(Rejection::new(
                        RejectReason::ConflictingDuplicate,
                        format!(
                            "event_id {:?} was already received in {} with different content",
                            event.event_id(),
                            event.family().as_str()
                        ),
                    ))
                };
            }
            Entry::Vacant(v) => {
                v.insert(d);
            }
        }
        let uscc = event.uscc();
        let id = match self.index.get(&uscc) {
            Some(&id) => id,
            None if event.registration().is_some() => self.insert(uscc),
            None => {
                self.held.entry(uscc).or_default().push((event, tag));
                self.held_count += 1;
                return Ok(Applied::Held);
            }
        };
        self.entities[id as usize].history.push(event);
        self.mark_dirty(id);
        Ok(Applied::Applied(id))
    }

    fn insert(&mut self, uscc: Uscc) -> EntityId {
        let id = self.entities.len() as EntityId;
        self.index.insert(uscc, id);
        let mut history = Vec::new();
        // Release what was waiting for this registration.
        if let Some(waiting) = self.held.remove(&uscc) {
            self.held_count -= waiting.len();
            history.extend(waiting.into_iter().map(|(e, _)| e));
        }
        self.entities.push(Entity { uscc, history });
        self.is_dirty.push(false);
        id
    }

    fn mark_dirty(&mut self, id: EntityId) {
        if !self.is_dirty[id as usize] {
            self.is_dirty[id as usize] = true;
            self.dirty.push(id);
        }
    }

    /// Entities changed since the last call, in the order they first changed.
    pub fn take_dirty(&mut self) -> Vec<EntityId> {
        for &id in &self.dirty {
            self.is_dirty[id as usize] = false;
        }
        std::mem::take(&mut self.dirty)
    }

    /// Removes and returns the events still waiting for a registration, in
    /// tag order, so the caller can reject them as `unknown_entity`.
    pub fn take_unmatched(&mut self) -> Vec<(Event, u64)> {
        let mut out: Vec<_> = self.held.drain().flat_map(|(_, v)| v).collect();
        self.held_count = 0;
        out.sort_by_key(|(_, tag)| *tag);
        out
    }

    pub fn held_count(&self) -> usize {
        self.held_count
    }

    pub fn len(&self) -> usize {
        self.entities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    pub fn get(&self, uscc: &Uscc) -> Option<EntityId> {
        self.index.get(uscc).copied()
    }

    pub fn entity(&self, id: EntityId) -> &Entity {
        &self.entities[id as usize]
    }

    pub fn entities(&self) -> &[Entity] {
        &self.entities
    }
}
