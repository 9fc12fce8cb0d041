//! The entity store: every known market entity, densely indexed, with the
//! events applied to it.
//!
//! The store keeps each entity's history rather than running totals, because
//! features are a function of (history, as-of date): when the as-of date moves
//! every window moves, and when events arrive out of order nothing has to be
//! undone. Histories are short (a handful of events per entity per year), so
//! recomputing an entity's features from them is cheap.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::LazyLock;

use foldhash::{fast, quality};
use hashbrown::hash_table::{Entry, HashTable};
use rayon::prelude::*;
use tidewatch_model::event::Registration;
use tidewatch_model::{Event, RejectReason, Rejection, Uscc};

/// The store's hash seeds: foldhash, several times faster than the standard
/// SipHash on short keys, seeded once per process from the standard
/// library's random keys, so keys (event ids, codes) cannot be chosen in
/// advance to collide. No answer depends on the seeds: a hash collision
/// costs a comparison, except in the 64-bit content digest, as before.
static SEEDS: LazyLock<(fast::FixedState, quality::FixedState)> = LazyLock::new(|| {
    let keys = RandomState::new();
    (
        fast::FixedState::with_seed(keys.hash_one(1u8)),
        quality::FixedState::with_seed(keys.hash_one(2u8)),
    )
});

/// The hasher of the store's maps and of event ids (and of the live
/// table's groups).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Seeded;

impl BuildHasher for Seeded {
    type Hasher = fast::FoldHasher;
    fn build_hasher(&self) -> Self::Hasher {
        SEEDS.0.build_hasher()
    }
}

pub(crate) type Map<K, V> = HashMap<K, V, Seeded>;
pub(crate) type Set<K> = std::collections::HashSet<K, Seeded>;

/// Dense entity index (row of the feature table).
pub type EntityId = u32;

/// One market entity.
#[derive(Debug, Clone)]
pub struct Entity {
    pub uscc: Uscc,
    /// Events applied to this entity, in arrival order (registrations too).
    history: Vec<Event>,
    /// Where the registration in force is in `history` (see
    /// [`Entity::registration`]), kept as events arrive: scoring and the
    /// list rules ask for it several times per entity and flush.
    registration: Option<usize>,
    /// Whether `history` arrived in event time (see
    /// [`Entity::history_until`]), as it mostly does: then reading it in
    /// event time needs no sort.
    in_order: bool,
}

/// The order of event time: (date, family, event id).
fn event_time_cmp(a: &Event, b: &Event) -> std::cmp::Ordering {
    (a.occurred_on(), a.family(), a.event_id()).cmp(&(b.occurred_on(), b.family(), b.event_id()))
}

impl Entity {
    /// An entity with these events, in arrival order.
    pub fn new(uscc: Uscc, events: impl IntoIterator<Item = Event>) -> Entity {
        let mut e = Entity {
            uscc,
            history: Vec::new(),
            registration: None,
            in_order: true,
        };
        for ev in events {
            e.add(ev);
        }
        e
    }

    fn add(&mut self, event: Event) {
        if event.registration().is_some() {
            let in_force = self.registration.and_then(|i| self.history.get(i));
            if in_force.is_none_or(|now| {
                (event.occurred_on(), event.event_id()) > (now.occurred_on(), now.event_id())
            }) {
                self.registration = Some(self.history.len());
            }
        }
        if self.in_order {
            if let Some(last) = self.history.last() {
                self.in_order = event_time_cmp(last, &event).is_le();
            }
        }
        self.history.push(event);
    }

    /// Every event applied, in arrival order.
    pub fn history(&self) -> &[Event] {
        &self.history
    }

    /// The registration in force: the latest by (date, event id), so that the
    /// answer does not depend on arrival order.
    pub fn registration(&self) -> Option<&Registration> {
        self.history.get(self.registration?)?.registration()
    }

    /// The events up to `as_of`, in event time: sorted by (date, family,
    /// event id), so the order never depends on arrival order.
    pub fn history_until(&self, as_of: chrono::NaiveDate) -> Vec<&Event> {
        if self.in_order {
            // Mostly every event is on or before the as-of date: one look
            // at the last instead of a search through events scattered in
            // memory (each probe a cache miss).
            let n = match self.history.last() {
                Some(last) if last.occurred_on() <= as_of => self.history.len(),
                _ => self.history.partition_point(|e| e.occurred_on() <= as_of),
            };
            return self.history[..n].iter().collect();
        }
        let mut events: Vec<&Event> = self
            .history
            .iter()
            .filter(|e| e.occurred_on() <= as_of)
            .collect();
        events.sort_by(|a, b| event_time_cmp(a, b));
        events
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

/// An event with the hashes [`EntityStore::apply_prepared`] needs. Making
/// one is pure and costs about as much as hashing the event, so a caller
/// that decodes in parallel makes it there and leaves the store's single
/// thread only the lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    event: Event,
    /// Content digest, to tell an exact repeat from a conflicting one.
    digest: u64,
    /// Hash of the event id, for the seen-table.
    id_hash: u32,
}

impl Prepared {
    pub fn new(event: Event) -> Self {
        let digest = SEEDS.1.hash_one(&event);
        let id_hash = id_hash(event.event_id());
        Prepared {
            event,
            digest,
            id_hash,
        }
    }

    pub fn event(&self) -> &Event {
        &self.event
    }
}

fn id_hash(id: &str) -> u32 {
    (Seeded.hash_one(id) >> 32) as u32
}

/// The event ids of one family seen so far, with their content digests.
/// Ids live end to end in one buffer rather than one allocation each; a
/// table entry is 24 bytes and keeps a 32-bit hash so growing the table
/// never reads the ids again.
#[derive(Debug, Default)]
struct Seen {
    table: HashTable<SeenId>,
    ids: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct SeenId {
    digest: u64,
    start: u64,
    len: u32,
    hash: u32,
}

/// Spreads a 32-bit id hash over the 64 bits the table uses (bucket from
/// the low bits, tag from the high ones).
fn table_hash(h: u32) -> u64 {
    u64::from(h).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl Seen {
    /// The digest first recorded for `id`, recording `digest` if `id` is new.
    fn first_digest(&mut self, id: &str, hash: u32, digest: u64) -> Option<u64> {
        let ids = &self.ids;
        let same = |e: &SeenId| {
            e.hash == hash
                && ids.get(e.start as usize..e.start as usize + e.len as usize)
                    == Some(id.as_bytes())
        };
        match self
            .table
            .entry(table_hash(hash), same, |e| table_hash(e.hash))
        {
            Entry::Occupied(o) => Some(o.get().digest),
            Entry::Vacant(v) => {
                let start = self.ids.len() as u64;
                self.ids.extend_from_slice(id.as_bytes());
                // Ids longer than 4 GiB cannot arrive in one record.
                let len = u32::try_from(id.len()).unwrap_or(u32::MAX);
                v.insert(SeenId {
                    digest,
                    start,
                    len,
                    hash,
                });
                None
            }
        }
    }
}

/// The seen-ids are split in two by the top bit of the id hash (the table
/// buckets use the low bits), so that [`EntityStore::apply_batch`] checks a
/// batch's ids on two threads; an id's outcome depends only on earlier
/// events with the same id, which are in the same half.
const SHARDS: usize = 2;

fn shard(id_hash: u32) -> usize {
    (id_hash >> 31) as usize
}

/// Events looked up per task in [`EntityStore::apply_batch`] (a lookup is
/// a cache miss or two: tasks must be large enough to pay for the split).
const LOOKUPS_PER_TASK: usize = 512;

/// Ranges of entities whose histories [`EntityStore::apply_batch`] extends
/// as tasks of their own: more than two threads' worth, so that a range
/// with more events than the others does not leave a thread idle.
const HISTORY_PARTS: usize = 8;

/// All entities, their histories, and the events waiting for a registration.
#[derive(Debug, Default)]
pub struct EntityStore {
    index: Map<Uscc, EntityId>,
    entities: Vec<Entity>,
    /// Event ids per shard and family, to tell exact duplicates from
    /// conflicting ones.
    seen: [[Seen; 3]; SHARDS],
    /// Events for entities not registered yet, with the caller's tag.
    held: Map<Uscc, Vec<(Event, u64)>>,
    held_count: usize,
    /// Entities changed since the last [`EntityStore::take_dirty`].
    dirty: Vec<EntityId>,
    is_dirty: Vec<bool>,
}

/// The outcome for an event whose id was seen before, `first` being the
/// digest recorded then; `None` for a new id.
fn repeat(p: &Prepared, first: Option<u64>) -> Option<Result<Applied, Rejection>> {
    let d = first?;
    Some(if d == p.digest {
        Ok(Applied::Duplicate)
    } else {
        Err(Rejection::new(
            RejectReason::ConflictingDuplicate,
            format!(
                "event_id {:?} was already received in {} with different content",
                p.event.event_id(),
                p.event.family().as_str()
            ),
        ))
    })
}

/// Moves an entry out of a batch being applied, leaving a stand-in that
/// the last step skips.
fn take(slot: &mut Result<Prepared, Rejection>) -> Result<Prepared, Rejection> {
    std::mem::replace(
        slot,
        Err(Rejection::new(RejectReason::InvalidValue, String::new())),
    )
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
        self.apply_prepared(Prepared::new(event), tag)
    }

    /// [`EntityStore::apply`] for an event whose hashes are already made.
    pub fn apply_prepared(&mut self, p: Prepared, tag: u64) -> Result<Applied, Rejection> {
        let first = self.seen[shard(p.id_hash)][p.event.family().index()].first_digest(
            p.event.event_id(),
            p.id_hash,
            p.digest,
        );
        if let Some(done) = repeat(&p, first) {
            return done;
        }
        Ok(match self.target(&p.event, None) {
            Some(id) => {
                self.entities[id as usize].add(p.event);
                Applied::Applied(id)
            }
            None => {
                self.hold(p.event, tag);
                Applied::Held
            }
        })
    }

    /// Applies events in arrival order, with the tags `first_tag`,
    /// `first_tag + 1`, …; a record rejected before the store keeps its
    /// rejection (and its tag). Each outcome is exactly what
    /// [`EntityStore::apply_prepared`] on each event in turn would give.
    /// Empties `events`, keeping its allocation.
    ///
    /// Faster on a few thousand events than one at a time: the ids are
    /// checked on two threads, one per half of the seen-ids; the entities
    /// known before the batch are looked up, and the histories extended,
    /// on every thread; only registering, holding and telling duplicates
    /// go in arrival order on one. The cache misses of different events
    /// then overlap instead of queueing behind each other.
    pub fn apply_batch(
        &mut self,
        events: &mut Vec<Result<Prepared, Rejection>>,
        first_tag: u64,
    ) -> Vec<Result<Applied, Rejection>> {
        // 1. Ids: the digest first recorded for each id seen before.
        let evs = &*events;
        let check = |seen: &mut [Seen; 3], half: usize| {
            let mut repeats = Vec::new();
            for (i, p) in evs.iter().enumerate() {
                let Ok(p) = p else { continue };
                if shard(p.id_hash) != half {
                    continue;
                }
                let slot = &mut seen[p.event.family().index()];
                if let Some(d) = slot.first_digest(p.event.event_id(), p.id_hash, p.digest) {
                    repeats.push((i, d));
                }
            }
            repeats
        };
        let [s0, s1] = &mut self.seen;
        let (r0, r1) = rayon::join(|| check(s0, 0), || check(s1, 1));
        let mut first = vec![None; events.len()];
        for (i, d) in r0.into_iter().chain(r1) {
            first[i] = Some(d);
        }
        // 2. Where each new event goes, in arrival order: registrations
        // create entities (releasing what was held for them), events of
        // unknown entities are held. The events stay in the batch until
        // step 3, except those held here: a later registration in the same
        // batch releases them. The entities known before the batch are
        // looked up first, on every thread (the index only read); the pass
        // in order looks again only for those it did not know.
        let index = &self.index;
        let known: Vec<Option<EntityId>> = events
            .par_iter()
            .with_min_len(LOOKUPS_PER_TASK)
            .map(|slot| {
                let p = slot.as_ref().ok()?;
                index.get(&p.event.uscc()).copied()
            })
            .collect();
        let mut out = Vec::with_capacity(events.len());
        let mut to: Vec<Option<EntityId>> = Vec::with_capacity(events.len());
        for (((slot, first), known), tag) in
            events.iter_mut().zip(first).zip(known).zip(first_tag..)
        {
            let mut target = None;
            match slot {
                Err(_) => {
                    if let Err(e) = take(slot) {
                        out.push(Err(e));
                    }
                }
                Ok(p) => match repeat(p, first) {
                    Some(done) => out.push(done),
                    None => match self.target(&p.event, known) {
                        Some(id) => {
                            out.push(Ok(Applied::Applied(id)));
                            target = Some(id);
                        }
                        None => {
                            if let Ok(p) = take(slot) {
                                self.hold(p.event, tag);
                            }
                            out.push(Ok(Applied::Held));
                        }
                    },
                },
            }
            to.push(target);
        }
        // 3. Histories, in arrival order per entity, on every thread: the
        // entities are cut into ranges, each extended by one task.
        let size = self.entities.len().div_ceil(HISTORY_PARTS).max(1);
        let mut parts: Vec<Vec<(EntityId, Event)>> =
            (0..HISTORY_PARTS).map(|_| Vec::new()).collect();
        for (r, target) in events.drain(..).zip(to) {
            if let (Ok(p), Some(id)) = (r, target) {
                parts[id as usize / size].push((id, p.event));
            }
        }
        self.entities
            .par_chunks_mut(size)
            .zip(parts)
            .enumerate()
            .for_each(|(k, (entities, part))| {
                for (id, event) in part {
                    entities[id as usize - k * size].add(event);
                }
            });
        out
    }

    /// The entity a new event belongs to, registered now if the event is
    /// its registration, and marked changed; `None` while it is unknown.
    /// `known` is its entity if it was looked up already.
    fn target(&mut self, event: &Event, known: Option<EntityId>) -> Option<EntityId> {
        let uscc = event.uscc();
        let id = match known.or_else(|| self.index.get(&uscc).copied()) {
            Some(id) => id,
            None if event.registration().is_some() => self.insert(uscc),
            None => return None,
        };
        self.mark_dirty(id);
        Some(id)
    }

    fn hold(&mut self, event: Event, tag: u64) {
        self.held
            .entry(event.uscc())
            .or_default()
            .push((event, tag));
        self.held_count += 1;
    }

    fn insert(&mut self, uscc: Uscc) -> EntityId {
        let id = self.entities.len() as EntityId;
        self.index.insert(uscc, id);
        // Release what was waiting for this registration.
        let waiting = self.held.remove(&uscc).unwrap_or_default();
        self.held_count -= waiting.len();
        self.entities
            .push(Entity::new(uscc, waiting.into_iter().map(|(e, _)| e)));
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

    /// Removes the held events whose tag `expire` picks, in tag order (the
    /// others keep their order).
    pub fn take_held_where(&mut self, mut expire: impl FnMut(u64) -> bool) -> Vec<(Event, u64)> {
        let mut out = Vec::new();
        self.held.retain(|_, waiting| {
            let (gone, keep): (Vec<_>, Vec<_>) = std::mem::take(waiting)
                .into_iter()
                .partition(|(_, tag)| expire(*tag));
            out.extend(gone);
            *waiting = keep;
            !waiting.is_empty()
        });
        self.held_count -= out.len();
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
