//! The list rules inside the streaming engine: each flush evaluates the
//! entities it rescored and returns the alerts nobody announced yet.
//!
//! Everything an evaluation reads is kept here, so it is part of the
//! engine's checkpoints ([`ListsSnapshot`]): the state of every list, each
//! entity's scores now, and its scores at the previous as-of date (for the
//! score-rise warning). The previous as-of date is the one the engine left
//! when its as-of date last moved; before the first move there is none,
//! and no score-rise warnings are given (as on a first batch run).
//!
//! An alert's id derives from its facts, and an entity's evaluation
//! announces only ids it has not announced before, so the lifecycle alerts
//! do not depend on how the events were cut into micro-batches. Warnings
//! are judged on the state the engine has when it evaluates: an entity
//! that was one event away from a listing while its events were still
//! arriving got that warning, even if a batch run over all the events
//! finds it already listed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tidewatch_alerts::{
    evaluate_changed, Alert, Context, EntityLists, FieldScore, Input, ListState, LoggedAlert, Rules,
};
use tidewatch_model::{Class, Domain, Uscc};
use tidewatch_scoring::Evaluation;
use tidewatch_state::{EntityId, EntityStore};

/// The scores of row `r` in the fields that cover it.
pub fn field_scores(ev: &Evaluation, r: usize) -> Vec<FieldScore> {
    ev.fields
        .iter()
        .filter(|f| f.covered.get(r).copied().unwrap_or(false))
        .filter_map(|f| {
            Some(FieldScore {
                field: f.domain,
                risk: i64::from(*f.scores.risk.get(r)?),
                class: (*f.class.get(r)?)?,
            })
        })
        .collect()
}

/// One field's score as a checkpoint keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptScore(pub Domain, pub i64, pub Class);

fn keep(s: &[FieldScore]) -> Vec<KeptScore> {
    s.iter()
        .map(|f| KeptScore(f.field, f.risk, f.class))
        .collect()
}

fn unkeep(s: &[KeptScore]) -> Vec<FieldScore> {
    s.iter()
        .map(|k| FieldScore {
            field: k.0,
            risk: k.1,
            class: k.2,
        })
        .collect()
}

/// What a checkpoint keeps of the lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListsSnapshot {
    pub state: ListState,
    pub previous_as_of: Option<NaiveDate>,
    /// Scores at the previous as-of date, by USCC.
    pub previous: HashMap<String, Vec<KeptScore>>,
    /// How many alerts the engine's alert log held when the snapshot was
    /// taken; alerts logged after it are absorbed again on restore.
    pub alerts_logged: u64,
}

/// What changed in the lists since the previous snapshot or changes were
/// written: a checkpoint writes these instead of the whole state while the
/// whole state on disk plus its changes stay smaller than twice the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListsChanges {
    pub as_of: Option<NaiveDate>,
    pub rules_version: String,
    pub alerts_logged: u64,
    /// The lists of every entity that changed, by USCC (`None`: it has
    /// none any more).
    pub entities: BTreeMap<String, Option<EntityLists>>,
}

impl ListsSnapshot {
    /// The snapshot these changes were taken after, brought up to them.
    pub fn apply(&mut self, c: ListsChanges) {
        self.state.as_of = c.as_of;
        self.state.rules_version = c.rules_version;
        self.alerts_logged = c.alerts_logged;
        for (uscc, e) in c.entities {
            self.state.put(&uscc, e);
        }
    }
}

/// Writes a map whose entries come from an iterator (serde writes a
/// `BTreeMap` or `HashMap` the same way).
struct MapOf<F>(F);

impl<F, I, K, V> Serialize for MapOf<F>
where
    F: Fn() -> I,
    I: Iterator<Item = (K, V)>,
    K: Serialize,
    V: Serialize,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map((self.0)())
    }
}

/// [`ListsSnapshot`] as it serializes, borrowing from the lists.
#[derive(Serialize)]
struct SnapshotView<'a, E: Serialize, P: Serialize> {
    state: StateView<'a, E>,
    previous_as_of: Option<NaiveDate>,
    previous: P,
    alerts_logged: u64,
}

/// [`ListState`] as it serializes, with the parked entities.
#[derive(Serialize)]
struct StateView<'a, E: Serialize> {
    format: u32,
    as_of: Option<NaiveDate>,
    rules_version: &'a str,
    entities: E,
}

/// [`ListsChanges`] as it serializes.
#[derive(Serialize)]
struct ChangesView<'a, E: Serialize> {
    as_of: Option<NaiveDate>,
    rules_version: &'a str,
    alerts_logged: u64,
    entities: E,
}

/// The lists at one checkpoint, to be written as JSON (see [`Lists::cut`]):
/// a [`ListsSnapshot`] or [`ListsChanges`] once read back.
#[derive(Debug, Clone)]
pub enum ListsCut {
    Whole {
        format: u32,
        as_of: Option<NaiveDate>,
        rules_version: String,
        /// Held and parked entities' lists.
        entities: Vec<(String, Arc<EntityLists>)>,
        previous_as_of: Option<NaiveDate>,
        /// The previous scores of held and parked entities.
        previous: [Arc<HashMap<String, Vec<FieldScore>>>; 2],
        alerts_logged: u64,
    },
    Changes {
        as_of: Option<NaiveDate>,
        rules_version: String,
        alerts_logged: u64,
        /// In no order: the writer sorts them.
        entities: Vec<(Uscc, Option<Arc<EntityLists>>)>,
    },
}

impl ListsCut {
    pub fn is_whole(&self) -> bool {
        matches!(self, ListsCut::Whole { .. })
    }

    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write_json(&mut out)?;
        Ok(out)
    }

    /// [`ListsCut::to_json`] written straight to `w`: a whole state is tens
    /// of megabytes, which a buffer would grow (and fault in) page by page.
    pub fn write_json<W: std::io::Write>(&self, w: W) -> serde_json::Result<()> {
        match self {
            ListsCut::Whole {
                format,
                as_of,
                rules_version,
                entities,
                previous_as_of,
                previous,
                alerts_logged,
            } => serde_json::to_writer(
                w,
                &SnapshotView {
                    state: StateView {
                        format: *format,
                        as_of: *as_of,
                        rules_version,
                        entities: MapOf(|| entities.iter().map(|(u, e)| (u, &**e))),
                    },
                    previous_as_of: *previous_as_of,
                    previous: MapOf(|| {
                        previous
                            .iter()
                            .flat_map(|m| m.iter())
                            .map(|(u, s)| (u, keep(s)))
                    }),
                    alerts_logged: *alerts_logged,
                },
            ),
            ListsCut::Changes {
                as_of,
                rules_version,
                alerts_logged,
                entities,
            } => {
                let mut sorted: Vec<_> = entities.iter().collect();
                sorted.sort_unstable_by_key(|(u, _)| *u);
                serde_json::to_writer(
                    w,
                    &ChangesView {
                        as_of: *as_of,
                        rules_version,
                        alerts_logged: *alerts_logged,
                        entities: MapOf(|| sorted.iter().map(|(u, e)| (u.as_str(), e.as_deref()))),
                    },
                )
            }
        }
    }
}

/// The lists of the engine.
#[derive(Debug)]
pub struct Lists {
    rules: Rules,
    state: ListState,
    /// Current scores by entity id (kept for the previous-date snapshot).
    current: Vec<Vec<FieldScore>>,
    /// Replaced whole when the as-of date moves; shared with checkpoints
    /// being written.
    previous: Arc<HashMap<String, Vec<FieldScore>>>,
    previous_as_of: Option<NaiveDate>,
    data_since: Option<NaiveDate>,
    /// See [`Lists::park_others`].
    parked: BTreeMap<String, Arc<EntityLists>>,
    parked_previous: Arc<HashMap<String, Vec<FieldScore>>>,
    /// Entities whose lists changed since the last snapshot or changes,
    /// with their lists now (kept as they change, so a checkpoint takes
    /// them without looking each one up among all the entities' lists).
    touched: HashMap<Uscc, Option<Arc<EntityLists>>>,
    /// Something besides the entities' lists changed (the previous scores,
    /// what is parked): only a whole snapshot says it.
    whole_due: bool,
    /// `state.entities` by entity id, for the evaluations: a lookup by
    /// USCC in a map of 150,000 strings is a chain of cache misses, an
    /// index one. Kept with every change an evaluation makes; rebuilt from
    /// the state after anything else changed it (`None`).
    by_id: Option<Vec<Option<Arc<EntityLists>>>>,
}

impl Lists {
    pub fn new(rules: Rules) -> Lists {
        let state = ListState {
            rules_version: rules.version.clone(),
            ..ListState::default()
        };
        Lists {
            rules,
            state,
            current: Vec::new(),
            previous: Arc::default(),
            previous_as_of: None,
            data_since: None,
            parked: BTreeMap::new(),
            parked_previous: Arc::default(),
            touched: HashMap::new(),
            whole_due: true,
            by_id: None,
        }
    }

    /// Lists restored from a checkpoint; `store` is the restored entity
    /// state (for the first day of the data).
    pub fn restore(rules: Rules, snap: ListsSnapshot, store: &EntityStore) -> Lists {
        let mut state = snap.state;
        state.rules_version = rules.version.clone();
        Lists {
            rules,
            state,
            current: Vec::new(),
            previous: Arc::new(
                snap.previous
                    .iter()
                    .map(|(u, s)| (u.clone(), unkeep(s)))
                    .collect(),
            ),
            previous_as_of: snap.previous_as_of,
            data_since: tidewatch_alerts::data_since(store.entities()),
            parked: BTreeMap::new(),
            parked_previous: Arc::default(),
            touched: HashMap::new(),
            whole_due: false,
            by_id: None,
        }
    }

    /// Sets aside the entities the store does not hold (in a group, those of
    /// partitions another process holds now): kept in snapshots for when
    /// their partition comes back, neither judged nor shown meanwhile.
    pub fn park_others(&mut self, store: &EntityStore) {
        let held = |u: &str| tidewatch_model::Uscc::parse(u).is_ok_and(|u| store.get(&u).is_some());
        let (keep, park): (BTreeMap<_, _>, BTreeMap<_, _>) =
            std::mem::take(&mut self.state.entities)
                .into_iter()
                .partition(|(u, _)| held(u));
        self.state.entities = keep;
        self.by_id = None;
        self.parked.extend(park);
        let (keep, park): (HashMap<_, _>, HashMap<_, _>) =
            Arc::unwrap_or_clone(std::mem::take(&mut self.previous))
                .into_iter()
                .partition(|(u, _)| held(u));
        self.previous = Arc::new(keep);
        Arc::make_mut(&mut self.parked_previous).extend(park);
        self.whole_due = true;
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub fn state(&self) -> &ListState {
        &self.state
    }

    pub fn snapshot(&self, alerts_logged: u64) -> ListsSnapshot {
        let mut state = self.state.clone();
        state
            .entities
            .extend(self.parked.iter().map(|(u, e)| (u.clone(), e.clone())));
        ListsSnapshot {
            state,
            previous_as_of: self.previous_as_of,
            previous: self
                .previous
                .iter()
                .chain(self.parked_previous.iter())
                .map(|(u, s)| (u.clone(), keep(s)))
                .collect(),
            alerts_logged,
        }
    }

    /// Whether the next cut is a whole snapshot: only one can say what
    /// changed since the last (see [`Lists::changes`]), or half the entities
    /// or more changed, so that the changes would be as large as the whole
    /// state and leave the next checkpoint to write it again (after a
    /// backlog is read, that was a second 40 MB write in the first seconds
    /// of live scoring).
    pub fn whole_due(&self) -> bool {
        self.whole_due || self.touched.len() * 2 >= self.state.entities.len().max(1)
    }

    /// What changed since the last snapshot or changes were written; valid
    /// only when [`Lists::whole_due`] is false.
    pub fn changes(&self, alerts_logged: u64) -> ListsChanges {
        ListsChanges {
            as_of: self.state.as_of,
            rules_version: self.state.rules_version.clone(),
            alerts_logged,
            entities: self
                .touched
                .iter()
                .map(|(u, e)| (u.as_str().to_owned(), e.as_deref().cloned()))
                .collect(),
        }
    }

    /// The lists as a checkpoint writes them now: the whole state when
    /// `want_whole` or when only it can say what changed
    /// ([`Lists::whole_due`]), otherwise what changed since the last cut.
    /// Taking it is cheap (the lists are shared, not copied); writing it as
    /// JSON ([`ListsCut::to_json`]) can then happen on another thread while
    /// the lists go on changing. The next changes start from here.
    pub fn cut(&mut self, alerts_logged: u64, want_whole: bool) -> ListsCut {
        let st = &self.state;
        let cut = if want_whole || self.whole_due() {
            ListsCut::Whole {
                format: st.format,
                as_of: st.as_of,
                rules_version: st.rules_version.clone(),
                entities: st
                    .entities
                    .iter()
                    .chain(&self.parked)
                    .map(|(u, e)| (u.clone(), e.clone()))
                    .collect(),
                previous_as_of: self.previous_as_of,
                previous: [self.previous.clone(), self.parked_previous.clone()],
                alerts_logged,
            }
        } else {
            ListsCut::Changes {
                as_of: st.as_of,
                rules_version: st.rules_version.clone(),
                alerts_logged,
                entities: self.touched.drain().collect(),
            }
        };
        self.touched.clear();
        self.whole_due = false;
        cut
    }

    /// Takes alerts that were logged but that the state does not know
    /// (written after the last checkpoint): their ids count as announced
    /// and their entity sequence numbers as used, so a replay neither
    /// repeats them nor gives another alert the same number.
    pub fn absorb(&mut self, logged: &[LoggedAlert]) {
        self.by_id = None;
        for l in logged {
            let a = &l.alert;
            let e = self
                .state
                .entities
                .entry(a.entity.uscc.clone())
                .or_insert_with(|| {
                    Arc::new(EntityLists {
                        entity: a.entity.clone(),
                        as_of: a.as_of,
                        seq: 0,
                        entries: Vec::new(),
                        announced: Default::default(),
                    })
                });
            let m = Arc::make_mut(e);
            m.announced.insert(a.id.clone());
            m.seq = m.seq.max(a.entity_seq);
            match Uscc::parse(&a.entity.uscc) {
                Ok(u) => {
                    self.touched.insert(u, Some(e.clone()));
                }
                // Not a code this engine wrote: only a whole snapshot can
                // say what it changed.
                Err(_) => self.whole_due = true,
            }
        }
    }

    /// The as-of date moves from `old`: the scores at `old` become the
    /// previous scores.
    pub fn as_of_moved(&mut self, old: NaiveDate, store: &EntityStore) {
        let ents = store.entities();
        self.previous = Arc::new(
            self.current
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.is_empty())
                .filter_map(|(i, s)| Some((ents.get(i)?.uscc.to_string(), s.clone())))
                .collect(),
        );
        self.previous_as_of = Some(old);
        self.whole_due = true;
    }

    /// Entities `changed` got new events: the first day of the data only
    /// moves earlier, and only through them (entities rescored for their
    /// relation group alone have nothing new to look at).
    pub fn saw_events(&mut self, store: &EntityStore, changed: &[EntityId]) {
        let ents = store.entities();
        let first =
            tidewatch_alerts::data_since(changed.iter().filter_map(|&id| ents.get(id as usize)));
        self.data_since = match (self.data_since, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Keeps the current scores of the rescored entities `ids` (in the same
    /// order).
    pub fn keep_scores(
        &mut self,
        store: &EntityStore,
        ids: &[EntityId],
        scores: Vec<Vec<FieldScore>>,
    ) {
        self.current.resize(store.len(), Vec::new());
        for (&id, s) in ids.iter().zip(scores) {
            self.current[id as usize] = s;
        }
    }

    /// Evaluates the rescored entities `ids` (with their scores now, in the
    /// same order) at `as_of`; returns the new alerts in (effective date,
    /// USCC, entity sequence) order.
    pub fn evaluate(
        &mut self,
        store: &EntityStore,
        ids: &[EntityId],
        scores: Vec<Vec<FieldScore>>,
        as_of: NaiveDate,
    ) -> Vec<Alert> {
        self.keep_scores(store, ids, scores);
        self.evaluate_kept(store, ids, as_of)
    }

    /// The lists by entity id, for every entity of the store (see
    /// `by_id`).
    fn fill_by_id(&mut self, store: &EntityStore) {
        let ents = store.entities();
        let state = &self.state;
        let of = |e: &tidewatch_state::Entity| state.entities.get(e.uscc.as_str()).cloned();
        let by_id = self
            .by_id
            .get_or_insert_with(|| ents.iter().map(of).collect());
        // Entities new to the store since.
        if by_id.len() < ents.len() {
            let from = by_id.len();
            by_id.extend(ents[from..].iter().map(of));
        }
    }

    /// Evaluates `ids` with the scores kept for them.
    pub fn evaluate_kept(
        &mut self,
        store: &EntityStore,
        ids: &[EntityId],
        as_of: NaiveDate,
    ) -> Vec<Alert> {
        let ents = store.entities();
        self.current.resize(ents.len(), Vec::new());
        let ctx = Context {
            as_of,
            data_since: self.data_since,
            previous_as_of: self.previous_as_of,
        };
        self.fill_by_id(store);
        let by_id = self.by_id.as_deref().unwrap_or_default();
        let (rules, current, previous) = (&self.rules, &self.current, &self.previous);
        let done: Vec<_> = ids
            .par_iter()
            .filter_map(|&id| {
                let e = ents.get(id as usize)?;
                let uscc = e.uscc.as_str();
                let input = Input {
                    entity: e,
                    scores: &current[id as usize],
                    previous_scores: previous.get(uscc).map_or(&[][..], Vec::as_slice),
                };
                let before = by_id.get(id as usize).and_then(Option::as_deref);
                let d = evaluate_changed(rules, &input, before, &ctx)?;
                Some((id, uscc, d))
            })
            .collect();
        let mut alerts = Vec::new();
        let mut replaced = Vec::new();
        for (id, uscc, d) in done {
            alerts.extend(d.alerts);
            let new = d.state.map(Arc::new);
            self.touched.insert(ents[id as usize].uscc, new.clone());
            if let Some(slot) = self.by_id.as_mut().and_then(|b| b.get_mut(id as usize)) {
                slot.clone_from(&new);
            }
            replaced.extend(self.state.put_shared(uscc, new));
        }
        // Freed on the pool, off the loop.
        rayon::spawn(move || drop(replaced));
        self.state.as_of = Some(as_of);
        alerts.sort_by(|a, b| {
            (a.effective_on, &a.entity.uscc, a.entity_seq).cmp(&(
                b.effective_on,
                &b.entity.uscc,
                b.entity_seq,
            ))
        });
        alerts
    }
}
