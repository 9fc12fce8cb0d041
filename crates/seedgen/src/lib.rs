//! Deterministic, realistic synthetic seed data for tidewatch.
//!
//! [`generate_to_dir`] writes a Zhoushan-like population of market entities
//! (enterprises, individual businesses and farmers' cooperatives of 定海,
//! 普陀, 岱山 and 嵊泗) with their registrations and three years of
//! inspections, complaints and credit records, an officer roster, a set of
//! deliberately bad records and `meta.json`:
//!
//! | file | content |
//! | --- | --- |
//! | `inspections.ndjson` | one `tidewatch_model::event::Inspection` per line |
//! | `complaints.ndjson` | one `Complaint` per line |
//! | `credit-records.ndjson` | one `CreditRecord` per line; registrations are kind `registered` |
//! | `officers.ndjson` | one `tidewatch_model::Officer` per line |
//! | `meta.json` | as-of date, seed, counts, the bad records and where they are |
//!
//! The output is a pure function of [`SeedConfig`]: entities are generated in
//! chunks of [`CHUNK_SIZE`], each from its own RNG seeded from (seed, chunk),
//! and written in chunk order, so the bytes do not depend on the number of
//! threads. Within a chunk each file is sorted by `occurred_on`, then
//! `event_id`; event ids (`insp-000000001`, `cmpl-…`, `cred-…`) and document
//! numbers (`舟市监罚〔2025〕12号`) are dense and increase in file order.
//!
//! Bad records (when [`SeedConfig::bad_records`] is set) come after all good
//! lines of their file; `meta.json` lists them with file, line and expected
//! reason code.

mod bad;
mod catalog;
mod gen;
mod ids;
mod officers;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use chrono::{Months, NaiveDate};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tidewatch_model::{CreditBody, CreditRecord};

pub use bad::BadRecord;
pub use gen::CHUNK_SIZE;

use gen::{gen_chunk, ChunkEvents, Ctx, Series};
use officers::Roster;

/// Version of the generated format and content; part of `meta.json`. Bump it
/// whenever the bytes generated for a configuration change (and regenerate
/// `seeds/`).
pub const GENERATOR_VERSION: &str = "1.0";

/// The data files, in the order they are written.
pub const FILES: [&str; 4] = [
    "inspections.ndjson",
    "complaints.ndjson",
    "credit-records.ndjson",
    "officers.ndjson",
];

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedConfig {
    /// Number of market entities.
    pub entities: u64,
    /// Length of the event window in months, ending at `as_of`.
    pub months: u32,
    pub seed: u64,
    /// The as-of date: no event is dated after it.
    pub as_of: NaiveDate,
    /// Roster size; `None` = `max(60, ceil(entities / 500))`.
    pub officers: Option<u32>,
    /// Append the deliberately bad records (see `meta.json`).
    pub bad_records: bool,
}

impl Default for SeedConfig {
    fn default() -> Self {
        SeedConfig {
            entities: 3000,
            months: 36,
            seed: 20_260_930,
            as_of: NaiveDate::from_ymd_opt(2026, 9, 30).unwrap_or_default(),
            officers: None,
            bad_records: true,
        }
    }
}

impl SeedConfig {
    /// First day before the window: events are dated after it.
    pub fn window_start(&self) -> NaiveDate {
        self.as_of
            .checked_sub_months(Months::new(self.months))
            .unwrap_or(NaiveDate::MIN)
    }

    /// The roster size this configuration gives.
    pub fn officer_count(&self) -> u32 {
        self.officers
            .unwrap_or_else(|| officers::auto_size(self.entities))
    }

    /// The `tidewatch seed` command line that reproduces this configuration.
    pub fn command(&self, out: &str) -> String {
        let mut s = format!(
            "tidewatch seed --entities {} --months {} --seed {}",
            self.entities, self.months, self.seed
        );
        if self.as_of != SeedConfig::default().as_of {
            s.push_str(&format!(" --as-of {}", self.as_of));
        }
        if let Some(n) = self.officers {
            s.push_str(&format!(" --officers {n}"));
        }
        if !self.bad_records {
            s.push_str(" --no-bad-records");
        }
        s.push_str(" --out ");
        s.push_str(out);
        s
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedStats {
    pub entities: u64,
    pub officers: u64,
    /// Good inspection lines (without the bad records and the exact duplicate).
    pub inspections: u64,
    pub complaints: u64,
    /// Good credit-record lines, registrations included.
    pub credit_records: u64,
    /// Lines appended as bad records (the exact duplicate not included).
    pub bad_records: u64,
    /// Bytes of the four data files (`meta.json` not included).
    pub bytes: u64,
}

#[derive(Debug, Serialize)]
struct FileMeta {
    file: &'static str,
    lines: u64,
    bytes: u64,
}

#[derive(Debug, Default, Serialize)]
struct Counts {
    inspections: u64,
    complaints: u64,
    credit_records: u64,
    credit_records_by_kind: BTreeMap<&'static str, u64>,
    inspections_by_type: BTreeMap<&'static str, u64>,
    inspections_by_result: BTreeMap<&'static str, u64>,
    complaints_by_category: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize)]
struct ExactDuplicate {
    event_id: String,
    file: &'static str,
    line: u64,
    /// Line of the original it repeats.
    original_line: u64,
}

#[derive(Debug, Serialize)]
struct Meta {
    generator: &'static str,
    generator_version: &'static str,
    command: String,
    as_of: NaiveDate,
    /// Events (other than registrations) are dated after this day.
    window_start: NaiveDate,
    seed: u64,
    entities: u64,
    months: u32,
    officers: u64,
    chunk_size: u64,
    files: Vec<FileMeta>,
    counts: Counts,
    bad_records: Vec<BadRecord>,
    exact_duplicate_event_id: Option<String>,
    exact_duplicate: Option<ExactDuplicate>,
    stats: SeedStats,
}

/// Generates the data set of `cfg` into `dir` (created if missing) on all
/// available cores.
pub fn generate_to_dir(cfg: &SeedConfig, dir: &Path) -> io::Result<SeedStats> {
    generate_to_dir_with_threads(cfg, dir, 0)
}

/// Running counters across chunks, the bases of the next chunk's numbers.
#[derive(Debug, Clone, Default)]
struct Bases {
    insp: u64,
    comp: u64,
    cred: u64,
    docs: BTreeMap<(Series, i32), u32>,
}

#[derive(Debug, Default)]
struct Rendered {
    insp: Vec<u8>,
    comp: Vec<u8>,
    cred: Vec<u8>,
    counts: Counts,
    first_insp: Option<(String, Vec<u8>)>,
    first_penalty: Option<CreditRecord>,
}

fn event_id(prefix: &str, n: u64) -> String {
    format!("{prefix}-{n:09}")
}

fn doc_no(series: Series, year: i32, n: u32) -> String {
    format!("{}〔{}〕{}号", series.prefix(), year, n)
}

fn render(mut g: ChunkEvents, b: &Bases) -> io::Result<Rendered> {
    let mut r = Rendered {
        insp: Vec::with_capacity(g.insp.len() * 200 + 256),
        comp: Vec::with_capacity(g.comp.len() * 230 + 256),
        cred: Vec::with_capacity(g.cred.len() * 300 + 256),
        ..Rendered::default()
    };
    let c = &mut r.counts;
    for (i, &at) in g.order_insp.iter().enumerate() {
        let ev = &mut g.insp[at as usize].1;
        ev.event_id = event_id("insp", b.insp + i as u64 + 1);
        let start = r.insp.len();
        serde_json::to_writer(&mut r.insp, &ev)?;
        r.insp.push(b'\n');
        if r.first_insp.is_none() {
            r.first_insp = Some((ev.event_id.clone(), r.insp[start..].to_vec()));
        }
        c.inspections += 1;
        *c.inspections_by_type
            .entry(ev.inspection_type.as_str())
            .or_default() += 1;
        *c.inspections_by_result
            .entry(ev.result.as_str())
            .or_default() += 1;
    }
    for (i, &at) in g.order_comp.iter().enumerate() {
        let ev = &mut g.comp[at as usize].1;
        ev.event_id = event_id("cmpl", b.comp + i as u64 + 1);
        serde_json::to_writer(&mut r.comp, &ev)?;
        r.comp.push(b'\n');
        c.complaints += 1;
        match c.complaints_by_category.get_mut(&ev.category) {
            Some(n) => *n += 1,
            None => {
                c.complaints_by_category.insert(ev.category.clone(), 1);
            }
        }
    }
    let number = |d: gen::LocalDoc| {
        let base = b.docs.get(&(d.series, d.year)).copied().unwrap_or(0);
        doc_no(d.series, d.year, base + d.n)
    };
    for (i, &at) in g.order_cred.iter().enumerate() {
        let at = at as usize;
        let rec = &mut g.cred[at].rec;
        rec.event_id = event_id("cred", b.cred + i as u64 + 1);
        if let Some(d) = g.docs.get(at).copied().flatten() {
            let s = number(d);
            match &mut rec.body {
                CreditBody::Penalty(p) => p.document_no = s,
                CreditBody::SeriousListed(l) | CreditBody::QualityBlacklisted(l) => {
                    l.decision_no = Some(s)
                }
                _ => {}
            }
        }
        if let Some(d) = g.refs.get(at).copied().flatten() {
            let s = number(d);
            match &mut rec.body {
                CreditBody::PenaltyWithdrawn(p) => p.document_no = s,
                CreditBody::CreditRepaired(p) => p.document_no = Some(s),
                CreditBody::SeriousListed(l) | CreditBody::QualityBlacklisted(l) => {
                    let reason = l.reason.take().unwrap_or_default();
                    l.reason = Some(format!("{reason}（{s}）"));
                }
                _ => {}
            }
        }
        serde_json::to_writer(&mut r.cred, &rec)?;
        r.cred.push(b'\n');
        c.credit_records += 1;
        *c.credit_records_by_kind.entry(rec.body.kind()).or_default() += 1;
        if r.first_penalty.is_none() && matches!(rec.body, CreditBody::Penalty(_)) {
            r.first_penalty = Some(rec.clone());
        }
    }
    Ok(r)
}

fn merge(into: &mut Counts, from: Counts) {
    into.inspections += from.inspections;
    into.complaints += from.complaints;
    into.credit_records += from.credit_records;
    for (k, v) in from.credit_records_by_kind {
        *into.credit_records_by_kind.entry(k).or_default() += v;
    }
    for (k, v) in from.inspections_by_type {
        *into.inspections_by_type.entry(k).or_default() += v;
    }
    for (k, v) in from.inspections_by_result {
        *into.inspections_by_result.entry(k).or_default() += v;
    }
    for (k, v) in from.complaints_by_category {
        *into.complaints_by_category.entry(k).or_default() += v;
    }
}

/// The three event files after the last chunk, and what went into them.
#[derive(Debug)]
struct Written {
    insp: Out,
    comp: Out,
    cred: Out,
    counts: Counts,
    first_insp: Option<(String, Vec<u8>)>,
    first_penalty: Option<CreditRecord>,
}

/// Counts lines and bytes written to one file.
#[derive(Debug)]
struct Out {
    file: File,
    lines: u64,
    bytes: u64,
}

impl Out {
    fn create(dir: &Path, name: &str) -> io::Result<Out> {
        Ok(Out {
            file: File::create(dir.join(name))?,
            lines: 0,
            bytes: 0,
        })
    }
    /// Appends `buf`, which holds `lines` lines.
    fn write(&mut self, buf: &[u8], lines: u64) -> io::Result<()> {
        self.file.write_all(buf)?;
        self.lines += lines;
        self.bytes += buf.len() as u64;
        Ok(())
    }
}

/// As [`generate_to_dir`], on `threads` worker threads (0 = all cores). The
/// output does not depend on `threads`.
pub fn generate_to_dir_with_threads(
    cfg: &SeedConfig,
    dir: &Path,
    threads: usize,
) -> io::Result<SeedStats> {
    std::fs::create_dir_all(dir)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(io::Error::other)?;
    let n_officers = cfg.officer_count();
    let roster = Roster::generate(cfg.seed, n_officers, cfg.entities);
    let ctx = Ctx::new(
        cfg.seed,
        cfg.entities,
        cfg.as_of,
        cfg.window_start(),
        &roster,
    );

    // Chunks are generated and rendered on the pool, batch by batch, while a
    // writer thread appends the previous batch to the files in chunk order.
    let n_chunks = cfg.entities.div_ceil(CHUNK_SIZE);
    let batch = (pool.current_num_threads() as u64 * 4).max(4);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Rendered>>(1);
    let written = std::thread::scope(|s| {
        let writer = s.spawn(move || -> io::Result<Written> {
            let mut w = Written {
                insp: Out::create(dir, FILES[0])?,
                comp: Out::create(dir, FILES[1])?,
                cred: Out::create(dir, FILES[2])?,
                counts: Counts::default(),
                first_insp: None,
                first_penalty: None,
            };
            for rendered in rx {
                for r in rendered {
                    w.insp.write(&r.insp, r.counts.inspections)?;
                    w.comp.write(&r.comp, r.counts.complaints)?;
                    w.cred.write(&r.cred, r.counts.credit_records)?;
                    merge(&mut w.counts, r.counts);
                    if w.first_insp.is_none() {
                        w.first_insp = r.first_insp;
                    }
                    if w.first_penalty.is_none() {
                        w.first_penalty = r.first_penalty;
                    }
                }
            }
            Ok(w)
        });
        let mut bases = Bases::default();
        let mut c0 = 0;
        let mut failed = None;
        while c0 < n_chunks {
            let c1 = (c0 + batch).min(n_chunks);
            let generated: Vec<ChunkEvents> = pool.install(|| {
                (c0..c1)
                    .into_par_iter()
                    .map(|c| gen_chunk(&ctx, c))
                    .collect()
            });
            let mut jobs = Vec::with_capacity(generated.len());
            for g in generated {
                let b = bases.clone();
                bases.insp += g.insp.len() as u64;
                bases.comp += g.comp.len() as u64;
                bases.cred += g.cred.len() as u64;
                for (k, v) in &g.doc_counts {
                    *bases.docs.entry(*k).or_default() += v;
                }
                jobs.push((g, b));
            }
            let rendered = pool.install(|| {
                jobs.into_par_iter()
                    .map(|(g, b)| render(g, &b))
                    .collect::<io::Result<Vec<_>>>()
            });
            match rendered {
                Ok(r) => {
                    // A closed channel means the writer stopped on an error,
                    // which its join below reports.
                    if tx.send(r).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            c0 = c1;
        }
        drop(tx);
        let w = writer
            .join()
            .map_err(|_| io::Error::other("seed writer thread panicked"))?;
        match failed {
            Some(e) => Err(e),
            None => w,
        }
    })?;
    let Written {
        mut insp,
        mut comp,
        mut cred,
        counts,
        first_insp,
        first_penalty,
    } = written;

    let mut bad_list = Vec::new();
    let mut bad_lines = 0u64;
    let mut exact = None;
    if cfg.bad_records && cfg.entities > 0 {
        let registered = ids::basics(cfg.seed, 0).uscc;
        let bad = bad::build(
            cfg.seed,
            cfg.entities,
            cfg.as_of,
            registered,
            first_penalty.as_ref(),
        )?;
        for (out, lines) in [
            (&mut insp, bad.inspections),
            (&mut comp, bad.complaints),
            (&mut cred, bad.credit),
        ] {
            for (l, mut meta) in lines {
                out.write(&l, 1)?;
                meta.line = out.lines;
                bad_lines += 1;
                if meta.reason != "accepted" {
                    bad_list.push(meta);
                }
            }
        }
        // (i) An exact repeat of the first inspection: applied once and
        // counted as a duplicate, not rejected.
        if let Some((id, l)) = first_insp {
            insp.write(&l, 1)?;
            exact = Some(ExactDuplicate {
                event_id: id,
                file: FILES[0],
                line: insp.lines,
                original_line: 1,
            });
        }
    }

    let mut off = Out::create(dir, FILES[3])?;
    let mut buf = Vec::with_capacity(roster.officers.len() * 160);
    for o in &roster.officers {
        serde_json::to_writer(&mut buf, o)?;
        buf.push(b'\n');
    }
    off.write(&buf, roster.officers.len() as u64)?;
    for o in [&mut insp, &mut comp, &mut cred, &mut off] {
        o.file.flush()?;
    }

    let stats = SeedStats {
        entities: cfg.entities,
        officers: roster.officers.len() as u64,
        inspections: counts.inspections,
        complaints: counts.complaints,
        credit_records: counts.credit_records,
        bad_records: bad_lines,
        bytes: insp.bytes + comp.bytes + cred.bytes + off.bytes,
    };
    let meta = Meta {
        generator: "tidewatch-seedgen",
        generator_version: GENERATOR_VERSION,
        command: cfg.command("<dir>"),
        as_of: cfg.as_of,
        window_start: cfg.window_start(),
        seed: cfg.seed,
        entities: cfg.entities,
        months: cfg.months,
        officers: stats.officers,
        chunk_size: CHUNK_SIZE,
        files: [&insp, &comp, &cred, &off]
            .iter()
            .zip(FILES)
            .map(|(o, f)| FileMeta {
                file: f,
                lines: o.lines,
                bytes: o.bytes,
            })
            .collect(),
        counts,
        bad_records: bad_list,
        exact_duplicate_event_id: exact.as_ref().map(|e| e.event_id.clone()),
        exact_duplicate: exact,
        stats: stats.clone(),
    };
    let mut m = serde_json::to_vec_pretty(&meta)?;
    m.push(b'\n');
    std::fs::write(dir.join("meta.json"), m)?;
    Ok(stats)
}
