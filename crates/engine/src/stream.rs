//! The streaming engine's core: records in, micro-batches of changed scores
//! out. No I/O; the Kafka edge feeds it and publishes what it returns, and
//! [`crate::checkpoint`] makes it durable.
//!
//! A flush rescores every entity whose feature row may have changed since
//! the previous flush (the dirty entities and their relation groups, or
//! everyone when the as-of date moved) and returns the records whose
//! content id changed. Because scoring a row depends only on that row, and
//! the live table always equals the batch table, the last record per entity
//! equals what the one-shot batch job computes from the same events.

use std::time::Instant;

use chrono::NaiveDate;
use rayon::prelude::*;
use tidewatch_alerts::{Alert, FieldScore};
use tidewatch_ingest::{DeadLetter, SourcePos};
use tidewatch_model::Family;
use tidewatch_scoring::Policy;
use tidewatch_state::{EntityId, EntityStore, FeatureTable, LiveTable, RelationFact};

use crate::lists::{field_scores, Lists};
use crate::output::features_frame_of;
use crate::pipeline::Pipeline;
use crate::records::{record_id, ScoreRecord};
use crate::scores::{coverage_of, score_payloads, score_population};

/// Ingest + live features + scoring, with what was last published per
/// entity.
#[derive(Debug)]
pub struct Engine {
    pub pipe: Pipeline,
    policy: Policy,
    live: LiveTable,
    /// The id of the last record returned per entity (by entity id).
    published: Vec<Option<String>>,
    /// The as-of date moved: everyone is rescored at the next flush.
    rebuild: bool,
    /// The list rules, when the engine evaluates them.
    lists: Option<Lists>,
    /// While set, flushes only note which entities the lists must look at
    /// (catching up on a backlog: see [`Engine::defer_lists`]).
    defer_lists: bool,
    /// Entities rescored while the lists were deferred (by entity id).
    pending: Vec<bool>,
    /// Entities whose relation features moved on facts heard from others.
    heard_dirty: Vec<EntityId>,
    /// Where the flushes' time went, summed.
    pub times: FlushTimes,
    /// What the last [`Engine::flush_scores`] left for
    /// [`Engine::judge_lists`].
    unjudged: Option<Unjudged>,
    /// Alerts of lists judged early (before the as-of date or the list
    /// mode moved), returned with the next alerts.
    judged_early: Vec<Alert>,
    /// Entities scored at a time in a flush (see [`FLUSH_CHUNK`]).
    flush_chunk: usize,
}

/// Entities rescored and not yet judged by the list rules.
#[derive(Debug)]
struct Unjudged {
    /// Those with new events.
    dirty: Vec<EntityId>,
    ids: Vec<EntityId>,
    scores: Vec<Vec<FieldScore>>,
}

/// Entities a flush scores at a time (see
/// [`Engine::flush_judging_previous_into`]): large enough for the
/// scoring's parallel steps, small enough that a chunk's frames and
/// payloads (a few KB per entity) stay well under the state's size.
const FLUSH_CHUNK: usize = 16 * 1024;

/// Time spent in the stages of [`Engine::flush`], summed over flushes
/// (milliseconds).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct FlushTimes {
    /// Feature rows of the changed entities and their relation groups.
    pub features_ms: f64,
    /// The models over those rows (general + specialized), classes and
    /// per-field scores.
    pub score_ms: f64,
    /// Score records: reasons, content ids and JSON payloads.
    pub records_ms: f64,
    /// The list rules.
    pub lists_ms: f64,
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// What one flush did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Flushed {
    /// Entities rescored.
    pub rescored: usize,
    /// Records whose content changed, in entity order.
    pub records: Vec<ScoreRecord>,
    /// Alerts not announced before (empty without list rules).
    pub alerts: Vec<Alert>,
    /// Relation facts to share with the other processes, each with the
    /// legal representative key it is filed under (see
    /// [`Engine::share_relations`]).
    pub relations: Vec<(String, RelationFact)>,
}

impl Engine {
    pub fn new(policy: Policy, as_of: NaiveDate) -> Engine {
        Engine {
            pipe: Pipeline::new(as_of),
            policy,
            live: LiveTable::new(as_of),
            published: Vec::new(),
            rebuild: false,
            lists: None,
            defer_lists: false,
            pending: Vec::new(),
            heard_dirty: Vec::new(),
            times: FlushTimes::default(),
            unjudged: None,
            judged_early: Vec::new(),
            flush_chunk: FLUSH_CHUNK,
        }
    }

    /// Scores a flush's entities `n` at a time (at least one) instead of
    /// [`FLUSH_CHUNK`]: what is published does not depend on it.
    pub fn set_flush_chunk(&mut self, n: usize) {
        self.flush_chunk = n.max(1);
    }

    /// One of several processes: flushes return the relation facts of the
    /// entities whose legal representative or trouble flag changed, for
    /// the others to [`Engine::hear`].
    pub fn share_relations(&mut self) {
        self.live.track_moves();
    }

    /// Takes relation facts about other processes' entities; the next flush
    /// rescores the local entities they relate to.
    pub fn hear(&mut self, facts: Vec<RelationFact>) {
        if facts.is_empty() {
            return;
        }
        let ids = self.live.hear(&self.pipe.store, facts);
        self.heard_dirty.extend(ids);
    }

    /// Every fact heard so far, for an engine rebuilt for another share of
    /// the entities (which [`Engine::hear`]s them once its store is
    /// restored, before its first flush).
    pub fn take_heard(&mut self) -> Vec<RelationFact> {
        self.live.take_heard()
    }

    /// Defers list evaluation: flushes keep scoring and publishing, and
    /// only remember whom the lists must look at. Reading a backlog, the
    /// engine would otherwise judge deadlines (an annual report missing
    /// after 30 June) on an entity whose later records are still queued.
    pub fn defer_lists(&mut self, defer: bool) {
        if defer != self.defer_lists {
            self.settle_lists();
        }
        self.defer_lists = defer;
    }

    /// Judges the lists a flush left unjudged now, keeping the alerts for
    /// the next call that returns alerts: what is judged must not move
    /// under them (the as-of date, the list mode).
    fn settle_lists(&mut self) {
        let alerts = self.judge_lists();
        self.judged_early = alerts;
    }

    /// Evaluates the lists for every entity rescored while they were
    /// deferred; returns the new alerts.
    pub fn evaluate_pending(&mut self) -> Vec<Alert> {
        let mut alerts = self.judge_lists();
        let ids: Vec<EntityId> = self
            .pending
            .iter()
            .enumerate()
            .filter(|(_, p)| **p)
            .map(|(i, _)| i as EntityId)
            .collect();
        self.pending.clear();
        if let Some(l) = self.lists.as_mut().filter(|_| !ids.is_empty()) {
            alerts.extend(l.evaluate_kept(&self.pipe.store, &ids, self.pipe.as_of));
        }
        alerts
    }

    /// Evaluates these list rules at every flush, for the entities rescored.
    pub fn set_lists(&mut self, lists: Lists) {
        self.settle_lists();
        self.lists = Some(lists);
    }

    pub fn lists(&self) -> Option<&Lists> {
        self.lists.as_ref()
    }

    pub fn lists_mut(&mut self) -> Option<&mut Lists> {
        self.lists.as_mut()
    }

    /// Gives up the engine, keeping its ingest state.
    pub fn into_pipeline(self) -> Pipeline {
        self.pipe
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn as_of(&self) -> NaiveDate {
        self.pipe.as_of
    }

    /// Moves the as-of date; the next flush rescores everyone. Lists left
    /// unjudged are judged first, at the date they were scored at; their
    /// alerts come with the next ones returned.
    pub fn set_as_of(&mut self, as_of: NaiveDate) {
        if as_of != self.pipe.as_of {
            self.settle_lists();
            if let Some(l) = self.lists.as_mut() {
                l.as_of_moved(self.pipe.as_of, &self.pipe.store);
            }
            self.pipe.as_of = as_of;
            self.rebuild = true;
        }
    }

    /// Offers one record; returns its dead letter when it is rejected.
    pub fn offer(&mut self, family: Family, bytes: &[u8], source: SourcePos) -> Option<DeadLetter> {
        self.pipe.offer(family, bytes, source)
    }

    /// Rescores what changed since the last flush, and judges the lists
    /// of the rescored entities.
    pub fn flush(&mut self) -> anyhow::Result<Flushed> {
        let mut f = self.flush_scores()?;
        f.alerts.extend(self.judge_lists());
        Ok(f)
    }

    /// The first half of [`Engine::flush`]: rescores what changed and
    /// returns the changed records (and only alerts judged early, see
    /// [`Engine::set_as_of`]). The lists of the rescored
    /// entities are judged by [`Engine::judge_lists`], which must come
    /// next: the scores can be published meanwhile, as they do not wait
    /// for the list rules.
    pub fn flush_scores(&mut self) -> anyhow::Result<Flushed> {
        anyhow::ensure!(
            self.unjudged.is_none(),
            "the lists of the previous flush were not judged"
        );
        self.flush_judging_previous()
    }

    /// [`Engine::judge_lists`] for the previous flush, then
    /// [`Engine::flush_scores`], the two at once: both only read the
    /// entities' histories, so the list rules of one micro-batch run beside
    /// the scoring of the next instead of holding it up. Returns this
    /// flush's changed records and the previous flush's new alerts; this
    /// flush's lists are left for the next call (or [`Engine::judge_lists`]).
    ///
    /// The previous batch's entities are then judged on histories that may
    /// hold this batch's events too, as a larger batch would: the entries
    /// the lists end with are the same, and an entity with new events is
    /// judged again at the next call, on its new scores. What is announced
    /// on the way may differ as between two batch sizes (an early warning,
    /// a listing a late record would have retracted).
    pub fn flush_judging_previous(&mut self) -> anyhow::Result<Flushed> {
        let mut records = Vec::new();
        let mut f = self.flush_judging_previous_into(&mut |chunk| {
            records.extend(chunk);
            Ok(())
        })?;
        f.records = records;
        Ok(f)
    }

    /// [`Engine::flush_judging_previous`], handing the changed records to
    /// `sink` a chunk of rescored entities at a time (in entity order)
    /// instead of returning them: the rows, frames and payloads of one
    /// chunk are freed before the next is scored, so a flush that rescores
    /// everyone (a backlog, a new as-of date) needs the memory of a chunk,
    /// not of the population, and the first records can be on their way
    /// while the rest are scored. The returned [`Flushed`] has no records.
    /// An error from `sink` ends the flush; the records it was handed stay
    /// counted as published.
    pub fn flush_judging_previous_into(
        &mut self,
        sink: &mut (dyn FnMut(Vec<ScoreRecord>) -> anyhow::Result<()> + Send),
    ) -> anyhow::Result<Flushed> {
        let t = Instant::now();
        let dirty = self.pipe.store.take_dirty();
        let heard = std::mem::take(&mut self.heard_dirty);
        let previous = self.unjudged.take();
        let fields = self.lists.is_some();
        let Engine {
            pipe,
            policy,
            live,
            published,
            rebuild,
            lists,
            defer_lists,
            pending,
            flush_chunk,
            ..
        } = self;
        let (store, as_of, defer) = (&pipe.store, pipe.as_of, *defer_lists);
        published.resize(store.len(), None);
        let (scored, judged) = rayon::join(
            || -> anyhow::Result<_> {
                let ids = if *rebuild || live.as_of() != as_of {
                    *rebuild = false;
                    live.rebuild(store, as_of)
                } else {
                    let mut ids = live.update(store, &dirty);
                    if !heard.is_empty() {
                        ids.extend(heard);
                        ids.sort_unstable();
                        ids.dedup();
                    }
                    ids
                };
                let features_ms = ms(t);
                let mut took = FlushTimes::default();
                let mut scores = Vec::new();
                let mut sent = 0;
                for chunk in ids.chunks(*flush_chunk) {
                    let t = Instant::now();
                    let sub = live.select(chunk);
                    took.features_ms += ms(t);
                    let (records, fields, times) =
                        score_rows(policy, store, sub, as_of, chunk, fields)?;
                    took.score_ms += times.score_ms;
                    took.records_ms += times.records_ms;
                    scores.extend(fields);
                    let changed: Vec<ScoreRecord> = chunk
                        .iter()
                        .zip(records)
                        .filter(|(id, rec)| {
                            let slot = &mut published[**id as usize];
                            let new = slot.as_deref() != Some(rec.id.as_str());
                            if new {
                                *slot = Some(rec.id.clone());
                            }
                            new
                        })
                        .map(|(_, rec)| rec)
                        .collect();
                    sent += changed.len();
                    if !changed.is_empty() {
                        sink(changed)?;
                    }
                }
                took.features_ms += features_ms;
                Ok((ids, took, scores, sent))
            },
            || {
                let t = Instant::now();
                let alerts = match (lists.as_mut(), previous) {
                    (Some(l), Some(u)) => judge(l, pending, defer, store, as_of, u),
                    _ => Vec::new(),
                };
                (alerts, ms(t))
            },
        );
        let (alerts, lists_ms) = judged;
        let mut alerts_out = std::mem::take(&mut self.judged_early);
        alerts_out.extend(alerts);
        self.times.lists_ms += lists_ms;
        let (ids, took, scores, sent) = scored?;
        self.times.features_ms += took.features_ms;
        if ids.is_empty() {
            return Ok(Flushed {
                alerts: alerts_out,
                ..Flushed::default()
            });
        }
        self.times.score_ms += took.score_ms;
        self.times.records_ms += took.records_ms;
        let relations = self.changed_relations();
        let rescored = ids.len();
        tracing::debug!(
            rescored,
            published = sent,
            features_ms = took.features_ms,
            score_ms = took.score_ms,
            records_ms = took.records_ms,
            lists_ms,
            total_ms = ms(t),
            "flushed"
        );
        if self.lists.is_some() {
            self.unjudged = Some(Unjudged { dirty, ids, scores });
        }
        Ok(Flushed {
            rescored,
            records: Vec::new(),
            alerts: alerts_out,
            relations,
        })
    }

    /// The second half of [`Engine::flush`]: the list rules over the
    /// entities the last [`Engine::flush_scores`] rescored (noted for
    /// later while the lists are deferred). Returns the new alerts, after
    /// any judged early.
    pub fn judge_lists(&mut self) -> Vec<Alert> {
        let mut alerts = std::mem::take(&mut self.judged_early);
        let (Some(l), Some(u)) = (self.lists.as_mut(), self.unjudged.take()) else {
            return alerts;
        };
        let t = Instant::now();
        alerts.extend(judge(
            l,
            &mut self.pending,
            self.defer_lists,
            &self.pipe.store,
            self.pipe.as_of,
            u,
        ));
        self.times.lists_ms += ms(t);
        alerts
    }

    /// Whether every entity rescored so far had its lists judged: none is
    /// waiting for the lists (deferred, or left by the last flush).
    pub fn lists_judged(&self) -> bool {
        !self.lists_unjudged() && !self.pending.contains(&true)
    }

    /// Forgets which entities wait for the lists: for an engine restored
    /// from a checkpoint whose lists were judged on the very state the
    /// replay rebuilt (see [`Engine::lists_judged`]), judging them again
    /// would give the same lists and no alert.
    pub fn forget_pending(&mut self) {
        self.pending.clear();
    }

    /// Whether a flush left lists to judge (see
    /// [`Engine::flush_judging_previous`]).
    pub fn lists_unjudged(&self) -> bool {
        self.unjudged.is_some() || !self.judged_early.is_empty()
    }

    /// The relation facts of the entities whose legal representative or
    /// trouble flag changed (none unless [`Engine::share_relations`] was
    /// called), each filed under its new representative or the one it left.
    fn changed_relations(&mut self) -> Vec<(String, RelationFact)> {
        let store = &self.pipe.store;
        let mut out = Vec::new();
        for (id, before) in self.live.take_moved() {
            let (rep, trouble) = self.live.fact(id);
            let Some(key) = rep.map(str::to_owned).or(before) else {
                continue;
            };
            let e = store.entity(id);
            out.push((
                key,
                RelationFact {
                    uscc: e.uscc,
                    legal_rep_key: rep.map(str::to_owned),
                    in_trouble: trouble,
                    as_of: self.pipe.as_of,
                    events: e.history().len() as u64,
                },
            ));
        }
        out
    }

    /// The current record of every entity, in entity order (the batch view).
    pub fn all_records(&self) -> anyhow::Result<Vec<ScoreRecord>> {
        let ids: Vec<EntityId> = (0..self.live.len() as EntityId).collect();
        Ok(score_rows(
            &self.policy,
            &self.pipe.store,
            self.live.table(),
            self.pipe.as_of,
            &ids,
            false,
        )?
        .0)
    }
}

/// The list rules over what a flush rescored (only noted, with the scores
/// kept, while the lists are deferred).
fn judge(
    l: &mut Lists,
    pending: &mut Vec<bool>,
    defer: bool,
    store: &EntityStore,
    as_of: NaiveDate,
    u: Unjudged,
) -> Vec<Alert> {
    l.saw_events(store, &u.dirty);
    if defer {
        l.keep_scores(store, &u.ids, u.scores);
        pending.resize(store.len(), false);
        for &id in &u.ids {
            pending[id as usize] = true;
        }
        Vec::new()
    } else {
        l.evaluate(store, &u.ids, u.scores, as_of)
    }
}

/// Scores some entities, `sub` being their rows of the live table; with
/// `fields`, also each one's scores per field (for the list rules), and
/// the time it took.
#[allow(clippy::type_complexity)]
fn score_rows(
    policy: &Policy,
    store: &EntityStore,
    sub: FeatureTable,
    as_of: NaiveDate,
    ids: &[EntityId],
    fields: bool,
) -> anyhow::Result<(Vec<ScoreRecord>, Vec<Vec<FieldScore>>, FlushTimes)> {
    let t = Instant::now();
    let all = store.entities();
    let ents = ids.iter().map(|&i| &all[i as usize]);
    let frame = features_frame_of(ents.clone(), &sub)?;
    let cover = coverage_of(policy, ents.clone());
    let ev = score_population(policy, &frame, &cover)?;
    let per_field = if fields {
        (0..ids.len()).map(|r| field_scores(&ev, r)).collect()
    } else {
        Vec::new()
    };
    let scoring = ms(t);
    let t = Instant::now();
    let rids: Vec<String> = ids
        .par_iter()
        .enumerate()
        .with_min_len(64)
        .map(|(row, &i)| record_id(&policy.digest, as_of, &all[i as usize], &sub, row))
        .collect();
    let payloads = score_payloads(policy, &ev, &frame, &sub, as_of, &rids)?;
    let records = ents
        .zip(rids)
        .zip(payloads)
        .map(|((e, id), payload)| ScoreRecord {
            uscc: e.uscc.to_string(),
            id,
            payload,
        })
        .collect();
    let times = FlushTimes {
        score_ms: scoring,
        records_ms: ms(t),
        ..FlushTimes::default()
    };
    Ok((records, per_field, times))
}
