//! The population snapshot a draw is taken over, and its canonical bytes.
//!
//! The snapshot is published as CSV before the randomness is known, so its
//! byte layout is fixed here and in `docs/draw-algorithm.md`. Rows can come
//! from any source (the scores file, the scores topic, a test): a draw only
//! sees [`PopulationRow`]s.

use std::fmt::Write as _;
use std::io::{self, Write};

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tidewatch_model::{RegionCode, Uscc};

use crate::class::Class;
use crate::digest::HashWriter;

/// One entity of the snapshot, with its class for the plan's field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PopulationRow {
    pub uscc: Uscc,
    pub name: String,
    pub region: RegionCode,
    /// GB/T 4754 code as registered; may be empty when unknown.
    pub industry: String,
    pub class: Class,
    pub deregistered: bool,
    pub revoked: bool,
    pub last_inspected_on: Option<NaiveDate>,
}

/// Why a snapshot cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PopulationError {
    #[error("USCC {0} appears more than once in the population")]
    DuplicateUscc(Uscc),
    #[error("population CSV line {line}: {message}")]
    Csv { line: u64, message: String },
}

/// The fixed header line of the canonical CSV.
pub const CSV_HEADER: &str =
    "uscc,name,region,industry,class,deregistered,revoked,last_inspected_on";

/// Rows per formatting chunk: big enough to amortise the task, small enough
/// that a batch of chunks in flight stays a few tens of megabytes.
const CHUNK_ROWS: usize = 32_768;

/// Rows sorted by USCC; refuses duplicates because a duplicate would make
/// the entity's class (and so its stratum) ambiguous. USCCs are unique once
/// checked, so the (parallel, unstable) sort has exactly one result.
pub fn sorted_rows(rows: &[PopulationRow]) -> Result<Vec<&PopulationRow>, PopulationError> {
    // Snapshots often arrive sorted already (a published CSV read back).
    if rows
        .par_windows(2)
        .all(|w| w[0].uscc.as_bytes() < w[1].uscc.as_bytes())
    {
        return Ok(rows.iter().collect());
    }
    // The 18 key bytes as two integers next to the row index: comparisons
    // stay in registers and the sort never chases a pointer.
    let mut keys: Vec<(u128, u16, usize)> = rows
        .par_iter()
        .enumerate()
        .map(|(i, r)| {
            let b = r.uscc.as_bytes();
            let mut hi = [0u8; 16];
            hi.copy_from_slice(&b[..16]);
            (
                u128::from_be_bytes(hi),
                u16::from_be_bytes([b[16], b[17]]),
                i,
            )
        })
        .collect();
    keys.par_sort_unstable();
    if let Some(w) = keys
        .windows(2)
        .find(|w| (w[0].0, w[0].1) == (w[1].0, w[1].1))
    {
        return Err(PopulationError::DuplicateUscc(rows[w[0].2].uscc));
    }
    Ok(keys.into_par_iter().map(|(_, _, i)| &rows[i]).collect())
}

/// The canonical CSV of the snapshot: UTF-8 without BOM, `\n` line ends
/// (after the last row too), the header [`CSV_HEADER`], rows sorted by USCC
/// bytes. A field is quoted only when it contains `,`, `"`, `\r` or `\n`,
/// with `"` doubled inside quotes. Booleans are `true`/`false`; an absent
/// date is the empty field.
pub fn canonical_csv(rows: &[PopulationRow]) -> Result<Vec<u8>, PopulationError> {
    let mut out = Vec::with_capacity(64 + rows.len() * 96);
    match write_csv_of_sorted(&sorted_rows(rows)?, &mut out) {
        Ok(()) => Ok(out),
        Err(e) => unreachable!("writing into a Vec cannot fail: {e}"),
    }
}

/// SHA-256 of [`canonical_csv`], lower-case hex.
pub fn population_digest(rows: &[PopulationRow]) -> Result<String, PopulationError> {
    Ok(digest_of_sorted(&sorted_rows(rows)?))
}

pub(crate) fn digest_of_sorted(rows: &[&PopulationRow]) -> String {
    let mut h = HashWriter::default();
    match write_csv_of_sorted(rows, &mut h) {
        Ok(()) => h.hex(),
        Err(e) => unreachable!("writing into a hasher cannot fail: {e}"),
    }
}

/// Writes the canonical CSV of already sorted rows to `out`. Chunks of rows
/// are formatted in parallel and written in order, so the bytes do not
/// depend on the number of threads.
pub fn write_csv_of_sorted<W: Write + Send>(
    rows: &[&PopulationRow],
    out: &mut W,
) -> io::Result<()> {
    out.write_all(CSV_HEADER.as_bytes())?;
    out.write_all(b"\n")?;
    let batch = CHUNK_ROWS * 2 * rayon::current_num_threads().max(1);
    let format = |block: &[&PopulationRow]| -> Vec<Vec<u8>> {
        block
            .par_chunks(CHUNK_ROWS)
            .map(|chunk| {
                let mut s = Vec::with_capacity(chunk.len() * 100);
                for r in chunk {
                    push_row(&mut s, r);
                }
                s
            })
            .collect()
    };
    // Writing (hashing) one block overlaps with formatting the next.
    let mut pending: Vec<Vec<u8>> = Vec::new();
    for block in rows.chunks(batch) {
        let done = std::mem::take(&mut pending);
        let (written, next) = rayon::join(
            || done.iter().try_for_each(|p| out.write_all(p)),
            || format(block),
        );
        written?;
        pending = next;
    }
    pending.iter().try_for_each(|p| out.write_all(p))
}

/// One CSV line, as bytes (the codes are ASCII already; no UTF-8 re-check).
fn push_row(out: &mut Vec<u8>, r: &PopulationRow) {
    out.extend_from_slice(r.uscc.as_bytes());
    out.push(b',');
    push_field_bytes(out, &r.name);
    out.push(b',');
    out.extend_from_slice(r.region.as_str().as_bytes());
    out.push(b',');
    push_field_bytes(out, &r.industry);
    out.push(b',');
    out.extend_from_slice(r.class.as_str().as_bytes());
    out.extend_from_slice(match (r.deregistered, r.revoked) {
        (false, false) => b",false,false,",
        (true, false) => b",true,false,",
        (false, true) => b",false,true,",
        (true, true) => b",true,true,",
    });
    if let Some(d) = r.last_inspected_on {
        use chrono::Datelike;
        match u32::try_from(d.year()) {
            Ok(y) if y <= 9999 => {
                let (m, day) = (d.month(), d.day());
                let digit = |x: u32| b'0' + (x % 10) as u8;
                out.extend_from_slice(&[
                    digit(y / 1000),
                    digit(y / 100),
                    digit(y / 10),
                    digit(y),
                    b'-',
                    digit(m / 10),
                    digit(m),
                    b'-',
                    digit(day / 10),
                    digit(day),
                ]);
            }
            _ => {
                let mut s = String::new();
                push_date(&mut s, d);
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
    out.push(b'\n');
}

fn push_field_bytes(out: &mut Vec<u8>, s: &str) {
    // A fold without early exit vectorises; names are short.
    let special = s.bytes().fold(false, |acc, b| {
        acc | (b == b',') | (b == b'"') | (b == b'\r') | (b == b'\n')
    });
    if special {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// `YYYY-MM-DD`, without chrono's format parser (this runs per row).
pub(crate) fn push_date(out: &mut String, d: NaiveDate) {
    use chrono::Datelike;
    let _ = write!(out, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
}

/// Appends a CSV field, quoted only when it has to be.
pub(crate) fn push_field(out: &mut String, s: &str) {
    // Bytes, not chars: the specials are ASCII and never part of a UTF-8
    // multi-byte sequence.
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// Reads a population snapshot CSV (the canonical layout; row order and
/// quoting style are not checked, the digest is what proves the bytes).
/// Records are found in one quote-aware pass, then parsed in parallel.
pub fn parse_csv(bytes: &[u8]) -> Result<Vec<PopulationRow>, PopulationError> {
    let line_of =
        |offset: usize| 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count() as u64;
    let text = std::str::from_utf8(bytes).map_err(|e| PopulationError::Csv {
        line: line_of(e.valid_up_to()),
        message: "not UTF-8".into(),
    })?;
    // Record boundaries: a line feed outside quotes ends a record. `""`
    // inside quotes flips the state twice, so it needs no special case.
    let mut ends = Vec::with_capacity(bytes.len() / 64);
    let mut quoted = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => ends.push(i),
            _ => {}
        }
    }
    if quoted {
        return Err(PopulationError::Csv {
            line: line_of(bytes.len()),
            message: "a quoted field is not closed".into(),
        });
    }
    if ends.last().is_none_or(|&e| e + 1 != bytes.len()) && !bytes.is_empty() {
        // The last record lacks its line feed; take it anyway.
        ends.push(bytes.len());
    }
    // Record i runs from after end i−1 to end i.
    let record = |i: usize| {
        let start = if i == 0 { 0 } else { ends[i - 1] + 1 };
        (start, ends[i].max(start))
    };
    if ends.is_empty() {
        return Err(PopulationError::Csv {
            line: 1,
            message: "empty file".into(),
        });
    }
    let (h0, h1) = record(0);
    let header = split_record(&text[h0..h1]);
    if header.join(",") != CSV_HEADER {
        return Err(PopulationError::Csv {
            line: 1,
            message: format!("header is {:?}, expected {CSV_HEADER:?}", header.join(",")),
        });
    }
    // Collected by index straight into place (a `Result` collect would
    // gather pieces and copy them), then checked.
    let parsed: Vec<Result<PopulationRow, (usize, String)>> = (1..ends.len())
        .into_par_iter()
        .map(|i| {
            let (a, b) = record(i);
            parse_row(&split_record(&text[a..b])).map_err(|m| (a, m))
        })
        .collect();
    parsed
        .into_iter()
        .map(|r| {
            r.map_err(|(at, message)| PopulationError::Csv {
                line: line_of(at),
                message,
            })
        })
        .collect()
}

/// The fields of one record: split at commas outside quotes, quotes
/// removed and `""` unescaped. A record without quotes borrows its fields.
fn split_record(rec: &str) -> Vec<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    let rec = rec.strip_suffix('\r').unwrap_or(rec);
    if !rec.contains('"') {
        return rec.split(',').map(Cow::Borrowed).collect();
    }
    let mut fields = Vec::with_capacity(8);
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = rec.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(Cow::Owned(std::mem::take(&mut field))),
            _ => field.push(c),
        }
    }
    fields.push(Cow::Owned(field));
    fields
}

fn parse_row(f: &[std::borrow::Cow<'_, str>]) -> Result<PopulationRow, String> {
    if f.len() != 8 {
        return Err(format!("{} fields, expected 8", f.len()));
    }
    let flag = |i: usize, what: &str| match f[i].as_ref() {
        "true" => Ok(true),
        "false" => Ok(false),
        v => Err(format!("{what} is {v:?}, expected true or false")),
    };
    Ok(PopulationRow {
        uscc: f[0].parse().map_err(|e| format!("{e}"))?,
        name: f[1].to_string(),
        region: RegionCode::parse(&f[2])?,
        industry: f[3].to_string(),
        class: f[4].parse().map_err(|e| format!("{e}"))?,
        deregistered: flag(5, "deregistered")?,
        revoked: flag(6, "revoked")?,
        last_inspected_on: if f[7].is_empty() {
            None
        } else {
            Some(
                parse_date(&f[7])
                    .ok_or_else(|| format!("last_inspected_on {:?} is not YYYY-MM-DD", f[7]))?,
            )
        },
    })
}

/// `YYYY-MM-DD` exactly (what the canonical CSV writes).
fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}
