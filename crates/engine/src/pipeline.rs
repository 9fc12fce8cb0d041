//! The ingest step shared by every source: bytes in, events applied to the
//! entity store, bad records out as dead letters, with the counts the
//! summary and the metrics report. No I/O: sources feed it, sinks drain it.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;
use tidewatch_ingest::{decode_and_validate, DeadLetter, SourcePos};
use tidewatch_model::{Family, RejectReason, Rejection};
use tidewatch_state::{Applied, EntityStore};

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
        let applied = decode_and_validate(family, bytes, self.as_of)
            .and_then(|event| self.store.apply(event, tag));
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
                        source,
                        bytes: bytes.to_vec(),
                    },
                );
                None
            }
            Err(r) => Some(self.reject(r, family, source, bytes)),
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
