//! The ingest step shared by every source: bytes in, events applied to the
//! entity store, bad records out as dead letters, with the counts the
//! summary and the metrics report. No I/O: sources feed it, sinks drain it.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::Serialize;
use tidewatch_ingest::{decode_and_validate, DeadLetter, Record, SourcePos};
use tidewatch_model::{Family, RejectReason, Rejection};
use tidewatch_state::store::Prepared;
use tidewatch_state::{Applied, EntityStore};

/// Records decoded per parallel step of [`Pipeline::offer_batch`]: enough
/// that splitting and joining cost nothing next to decoding, few enough that
/// decoding the next step overlaps applying this one.
const STEP: usize = 4096;

/// Decoding, validating and hashing: pure, so it runs on any thread.
fn prepare(family: Family, bytes: &[u8], as_of: NaiveDate) -> Result<Prepared, Rejection> {
    decode_and_validate(family, bytes, as_of).map(Prepared::new)
}

fn slot(f: Family) -> usize {
    match f {
        Family::Inspections => 0,
        Family::Complaints => 1,
        Family::CreditRecords => 2,
    }
}

/// Counts of what happened to the records offered.
#[derive(Debug, Default, Clone, Serialize)]
pub struct IngestStats {
    /// Records read, per family.
    pub records: BTreeMap<&'static str, u64>,
    /// Events added to an entity's history (held ones once released).
    pub applied: u64,
    /// Exact repeats of an event already received (applied once).
    pub duplicates: u64,
    /// Events that arrived before their entity's registration.
    pub held: u64,
    /// Rejected records per reason code.
    pub rejected: BTreeMap<&'static str, u64>,
}

impl IngestStats {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// Where a held event came from, kept in case it is never matched.
#[derive(Debug)]
struct HeldRaw {
    family: Family,
    source: SourcePos,
    bytes: Vec<u8>,
}

/// Decodes, validates and applies records at a fixed as-of date.
#[derive(Debug)]
pub struct Pipeline {
    pub store: EntityStore,
    pub as_of: NaiveDate,
    pub stats: IngestStats,
    held: HashMap<u64, HeldRaw>,
    next_tag: u64,
}

impl Pipeline {
    pub fn new(as_of: NaiveDate) -> Self {
        Pipeline {
            store: EntityStore::new(),
            as_of,
            stats: IngestStats::default(),
            held: HashMap::new(),
            next_tag: 0,
        }
    }

    /// Offers one record; returns the dead letter if it is rejected.
    pub fn offer(&mut self, family: Family, bytes: &[u8], source: SourcePos) -> Option<DeadLetter> {
        *self.stats.records.entry(family.as_str()).or_default() += 1;
        let tag = self.next_tag;
        self.next_tag += 1;
        let applied =
            prepare(family, bytes, self.as_of).and_then(|p| self.store.apply_prepared(p, tag));
        self.settle(family, bytes, || source, tag, applied)
    }

    /// Offers records in arrival order; returns the dead letters in that
    /// order. The result, the store and the counts are exactly those of
    /// [`Pipeline::offer`] called on each record in turn: decoding and
    /// validation, which depend on nothing but the record, run in parallel
    /// (rayon), and the store takes each step's events in order
    /// ([`EntityStore::apply_batch`]) while the next step's records are
    /// being decoded.
    pub fn offer_batch<R: Record>(&mut self, records: &[R]) -> Vec<DeadLetter> {
        let as_of = self.as_of;
        let decode = |step: &[R], out: &mut Vec<Result<Prepared, Rejection>>| {
            step.par_iter()
                .with_min_len(64)
                .map(|r| prepare(r.family(), r.bytes(), as_of))
                .collect_into_vec(out)
        };
        let mut dead = Vec::new();
        let mut counts = [0u64; 3];
        // Two step buffers, reused: one is applied while the other fills.
        // Fresh buffers each step would be handed back to the system and
        // faulted in again, which costs more than the decoding.
        let (mut current, mut next) = (Vec::new(), Vec::new());
        let mut steps = records.chunks(STEP).peekable();
        if let Some(first) = steps.peek() {
            decode(first, &mut current);
        }
        while let Some(step) = steps.next() {
            let following = steps.peek().copied();
            rayon::join(
                || {
                    if let Some(s) = following {
                        decode(s, &mut next);
                    }
                },
                || {
                    let first_tag = self.next_tag;
                    self.next_tag += step.len() as u64;
                    let outcomes = self.store.apply_batch(&mut current, first_tag);
                    for ((r, applied), tag) in step.iter().zip(outcomes).zip(first_tag..) {
                        counts[slot(r.family())] += 1;
                        dead.extend(self.settle(
                            r.family(),
                            r.bytes(),
                            || r.source(),
                            tag,
                            applied,
                        ));
                    }
                },
            );
            std::mem::swap(&mut current, &mut next);
        }
        for f in Family::ALL {
            if counts[slot(f)] > 0 {
                *self.stats.records.entry(f.as_str()).or_default() += counts[slot(f)];
            }
        }
        dead
    }

    /// Counts what the store did with one record (or why it was rejected).
    /// `source` is asked only for a record that is held or rejected.
    fn settle(
        &mut self,
        family: Family,
        bytes: &[u8],
        source: impl FnOnce() -> SourcePos,
        tag: u64,
        applied: Result<Applied, Rejection>,
    ) -> Option<DeadLetter> {
        match applied {
            Ok(Applied::Applied(_)) => {
                self.stats.applied += 1;
                None
            }
            Ok(Applied::Duplicate) => {
                self.stats.duplicates += 1;
                None
            }
            Ok(Applied::Held) => {
                self.stats.held += 1;
                self.held.insert(
                    tag,
                    HeldRaw {
                        family,
                        source: source(),
                        bytes: bytes.to_vec(),
                    },
                );
                None
            }
            Err(r) => Some(self.reject(r, family, source(), bytes)),
        }
    }

    fn reject(
        &mut self,
        r: Rejection,
        family: Family,
        source: SourcePos,
        bytes: &[u8],
    ) -> DeadLetter {
        *self.stats.rejected.entry(r.reason.code()).or_default() += 1;
        DeadLetter::new(r, family, source, bytes)
    }

    /// The tag the next record gets: every record offered so far has a
    /// smaller one.
    pub fn next_tag(&self) -> u64 {
        self.next_tag
    }

    /// Rejects as `unknown_entity` the events still waiting for a
    /// registration that arrived before the record tagged `before` (the
    /// grace period ran out for them); returns their dead letters in
    /// arrival order. `why` ends the message.
    pub fn expire_held_before(&mut self, before: u64, why: &str) -> Vec<DeadLetter> {
        let gone = self.store.take_held_where(|tag| tag < before);
        let mut out = Vec::with_capacity(gone.len());
        for (event, tag) in gone {
            self.stats.held = self.stats.held.saturating_sub(1);
            let Some(raw) = self.held.remove(&tag) else {
                continue;
            };
            let r = Rejection::new(
                RejectReason::UnknownEntity,
                format!("no registration for {} arrived {why}", event.uscc()),
            );
            out.push(self.reject(r, raw.family, raw.source, &raw.bytes));
        }
        // What is left below the mark was released to its entity.
        self.held.retain(|tag, _| *tag >= before);
        out
    }

    /// Restoring a checkpoint: the held events from these sources had
    /// expired before it (their dead letters were published then); they
    /// are rejected again, without a dead letter, so every count stays as
    /// it was. Returns how many.
    pub fn drop_expired(&mut self, sources: &[SourcePos]) -> usize {
        if sources.is_empty() {
            return 0;
        }
        let wanted: std::collections::HashSet<String> =
            sources.iter().map(ToString::to_string).collect();
        let tags: std::collections::HashSet<u64> = self
            .held
            .iter()
            .filter(|(_, raw)| wanted.contains(&raw.source.to_string()))
            .map(|(tag, _)| *tag)
            .collect();
        let gone = self.store.take_held_where(|tag| tags.contains(&tag));
        for (_, tag) in &gone {
            self.held.remove(tag);
            self.stats.held = self.stats.held.saturating_sub(1);
            *self
                .stats
                .rejected
                .entry(RejectReason::UnknownEntity.code())
                .or_default() += 1;
        }
        gone.len()
    }

    /// Ends the run: events still waiting for a registration are rejected as
    /// `unknown_entity`, in arrival order. Held events that were released
    /// count as applied.
    pub fn finish(&mut self) -> Vec<DeadLetter> {
        let unmatched = self.store.take_unmatched();
        let released = self.stats.held - unmatched.len() as u64;
        self.stats.applied += released;
        let mut out = Vec::with_capacity(unmatched.len());
        for (event, tag) in unmatched {
            let Some(raw) = self.held.remove(&tag) else {
                continue;
            };
            let r = Rejection::new(
                RejectReason::UnknownEntity,
                format!(
                    "no registration for {} arrived by the end of the run",
                    event.uscc()
                ),
            );
            out.push(self.reject(r, raw.family, raw.source, &raw.bytes));
        }
        self.held.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidewatch_ingest::{ndjson, FileLine};

    /// The committed seeds' records, with the file and line each came from.
    fn seed_records() -> Vec<(Family, Vec<u8>, String, u64)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../seeds");
        let mut out = Vec::new();
        for family in [
            Family::CreditRecords,
            Family::Inspections,
            Family::Complaints,
        ] {
            let file = format!("seeds/{}.ndjson", family.as_str());
            ndjson::for_each_line(
                &dir.join(format!("{}.ndjson", family.as_str())),
                |line, b| {
                    out.push((family, b.to_vec(), file.clone(), line));
                },
            )
            .expect("seed file");
        }
        out
    }

    /// Everything the ingest step leaves behind, in comparable form.
    fn outcome(
        mut p: Pipeline,
        mut dead: Vec<DeadLetter>,
    ) -> (String, Vec<DeadLetter>, Vec<Vec<Event>>, Vec<u32>) {
        dead.extend(p.finish());
        let stats = serde_json::to_string(&p.stats).expect("stats");
        let dirty = p.store.take_dirty();
        let histories = p
            .store
            .entities()
            .iter()
            .map(|e| e.history().to_vec())
            .collect();
        (stats, dead, histories, dirty)
    }

    fn one_at_a_time(
        records: &[(Family, Vec<u8>, String, u64)],
    ) -> (String, Vec<DeadLetter>, Vec<Vec<Event>>, Vec<u32>) {
        let mut p = Pipeline::new(as_of());
        let mut dead = Vec::new();
        for (f, b, file, line) in records {
            let pos = SourcePos::File {
                file: file.clone(),
                line: *line,
            };
            dead.extend(p.offer(*f, b, pos));
        }
        outcome(p, dead)
    }

    fn batched(
        records: &[(Family, Vec<u8>, String, u64)],
        size: usize,
    ) -> (String, Vec<DeadLetter>, Vec<Vec<Event>>, Vec<u32>) {
        let recs: Vec<(Family, &[u8], FileLine)> = records
            .iter()
            .map(|(f, b, file, line)| (*f, &b[..], FileLine { file, line: *line }))
            .collect();
        let mut p = Pipeline::new(as_of());
        let mut dead = Vec::new();
        for chunk in recs.chunks(size) {
            dead.extend(p.offer_batch(chunk));
        }
        outcome(p, dead)
    }

    fn as_of() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 9, 30).expect("date")
    }

    use tidewatch_model::Event;

    #[test]
    fn offer_batch_is_offer_in_a_loop() {
        let mut records = seed_records();
        // Repeats (exact and conflicting), bytes that are not JSON, and
        // registrations last so that most events are held first.
        let n = records.len();
        for i in (0..n).step_by(997) {
            let (f, b, file, line) = records[i].clone();
            records.push((f, b.clone(), file.clone(), line + 100_000));
            let changed =
                String::from_utf8_lossy(&b).replace("\"occurred_on\":\"20", "\"occurred_on\":\"19");
            records.push((f, changed.into_bytes(), file, line + 200_000));
        }
        records.push((Family::Complaints, vec![0xff, b'{'], "x".into(), 1));
        records.push((Family::Inspections, b"  ".to_vec(), "x".into(), 2));
        let reversed: Vec<_> = records.iter().rev().cloned().collect();
        // A fixed shuffle (Fisher-Yates with a small LCG).
        let mut shuffled = records.clone();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for i in (1..shuffled.len()).rev() {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            shuffled.swap(i, (x >> 33) as usize % (i + 1));
        }
        for order in [&records, &reversed, &shuffled] {
            let want = one_at_a_time(order);
            assert!(want.1.len() > 20, "rejections are exercised");
            for size in [1, 3, STEP + 1, order.len()] {
                assert!(batched(order, size) == want, "batches of {size} differ");
            }
        }
    }
}
