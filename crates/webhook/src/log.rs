//! The alert log: `out/alerts.ndjson`, one [`LoggedAlert`] per line with a
//! global sequence number, append-only across runs.
//!
//! Receivers that missed alerts catch up from the last sequence number they
//! have ([`alerts_since`]); delivery re-reads the log after a restart. An
//! alert id is written once: appending an id the log already holds (a run
//! that crashed after writing the log but before saving the list state, and
//! was run again) is skipped. A torn last line from a crash mid-write is cut
//! off when the log is opened.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use tidewatch_alerts::{Alert, LoggedAlert};

use crate::WebhookError;

fn io(path: &Path, e: std::io::Error) -> WebhookError {
    WebhookError::Io {
        path: path.display().to_string(),
        source: e,
    }
}

/// Reads every complete line of a log; `Ok(empty)` if there is no log.
/// Returns the alerts and the byte length of the complete lines.
fn read_lines(path: &Path) -> Result<(Vec<LoggedAlert>, u64), WebhookError> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(io(path, e)),
    };
    let mut r = BufReader::new(f);
    let mut out = Vec::new();
    let mut good = 0u64;
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let n = r.read_until(b'\n', &mut buf).map_err(|e| io(path, e))?;
        if n == 0 || buf.last() != Some(&b'\n') {
            // End, or a torn line a crash left behind.
            break;
        }
        line_no += 1;
        let a: LoggedAlert = serde_json::from_slice(&buf).map_err(|e| WebhookError::Corrupt {
            path: path.display().to_string(),
            line: line_no,
            message: e.to_string(),
        })?;
        if a.seq != line_no as u64 {
            return Err(WebhookError::Corrupt {
                path: path.display().to_string(),
                line: line_no,
                message: format!("sequence {} where {line_no} was expected", a.seq),
            });
        }
        good += n as u64;
        out.push(a);
    }
    Ok((out, good))
}

/// Every alert in the log, in sequence order.
pub fn read_log(path: &Path) -> Result<Vec<LoggedAlert>, WebhookError> {
    Ok(read_lines(path)?.0)
}

/// Up to `limit` alerts with a sequence number above `seq`, in order: what
/// a receiver whose last alert was `seq` has missed (0 for everything).
pub fn alerts_since(path: &Path, seq: u64, limit: usize) -> Result<Vec<LoggedAlert>, WebhookError> {
    let (all, _) = read_lines(path)?;
    Ok(all
        .into_iter()
        .filter(|a| a.seq > seq)
        .take(limit)
        .collect())
}

/// Alerts per piece of an append: the pieces are serialized in parallel,
/// each into a buffer of its own. One buffer for a large append (the end
/// of a catch-up logs about 160,000 alerts, 170 MB) grew by doubling into
/// fresh memory, and faulting those pages in cost more than the JSON.
const PIECE: usize = 512;

/// Alerts appended to the log, with their lines.
#[derive(Debug, Default)]
pub struct Appended {
    pub alerts: Vec<LoggedAlert>,
    /// The lines of `PIECE` alerts each, with where each line ends in them
    /// (after its newline).
    pieces: Vec<(Vec<u8>, Vec<usize>)>,
}

impl Appended {
    /// Alert `i`'s line as written to the log, without its newline.
    pub fn line(&self, i: usize) -> &[u8] {
        let (lines, ends) = &self.pieces[i / PIECE];
        let j = i % PIECE;
        let start = if j == 0 { 0 } else { ends[j - 1] };
        &lines[start..ends[j] - 1]
    }
}

/// The log, open for appending.
#[derive(Debug)]
pub struct AlertLog {
    path: PathBuf,
    file: File,
    last_seq: u64,
    ids: HashSet<String>,
}

impl AlertLog {
    /// Opens (or creates) the log, cutting off a torn last line.
    pub fn open(path: &Path) -> Result<AlertLog, WebhookError> {
        Ok(Self::open_after(path, u64::MAX)?.0)
    }

    /// [`AlertLog::open`], returning too the alerts logged after sequence
    /// number `seq`, from the same read: a restart needs the alerts its
    /// checkpoint does not cover, and reading the log a second time for
    /// them (160,000 alerts, 170 MB of JSON, at the end of a large
    /// catch-up) doubled that part of the restart.
    pub fn open_after(path: &Path, seq: u64) -> Result<(AlertLog, Vec<LoggedAlert>), WebhookError> {
        let (all, good) = read_lines(path)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io(path, e))?;
        let len = file.metadata().map_err(|e| io(path, e))?.len();
        if len > good {
            file.set_len(good).map_err(|e| io(path, e))?;
            file.sync_all().map_err(|e| io(path, e))?;
        }
        let last_seq = all.last().map_or(0, |a| a.seq);
        let mut ids = HashSet::with_capacity(all.len());
        let mut later = Vec::new();
        for a in all {
            if a.seq > seq {
                ids.insert(a.alert.id.clone());
                later.push(a);
            } else {
                ids.insert(a.alert.id);
            }
        }
        let log = AlertLog {
            path: path.to_owned(),
            file,
            last_seq,
            ids,
        };
        Ok((log, later))
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Appends alerts not in the log yet, numbering them on, and syncs the
    /// file before returning what was written.
    pub fn append(&mut self, alerts: &[Alert]) -> Result<Vec<LoggedAlert>, WebhookError> {
        Ok(self.append_lines(alerts)?.alerts)
    }

    /// [`AlertLog::append`], with each appended alert's line as written
    /// (JSON, without the newline): what the engine publishes, so it is
    /// not serialized twice.
    pub fn append_lines(&mut self, alerts: &[Alert]) -> Result<Appended, WebhookError> {
        let fresh: Vec<&Alert> = alerts
            .iter()
            .filter(|a| !self.ids.contains(&a.id))
            .collect();
        if fresh.is_empty() {
            return Ok(Appended::default());
        }
        let first = self.last_seq + 1;
        let pieces: Vec<(Vec<LoggedAlert>, Vec<u8>, Vec<usize>)> = fresh
            .par_chunks(PIECE)
            .enumerate()
            .map(|(k, piece)| {
                let mut lines = Vec::with_capacity(piece.len() * 1024);
                let mut ends = Vec::with_capacity(piece.len());
                let mut logged = Vec::with_capacity(piece.len());
                for (j, a) in piece.iter().enumerate() {
                    let l = LoggedAlert {
                        seq: first + (k * PIECE + j) as u64,
                        alert: (*a).clone(),
                    };
                    serde_json::to_writer(&mut lines, &l).map_err(|e| (a.id.clone(), e))?;
                    lines.push(b'\n');
                    ends.push(lines.len());
                    logged.push(l);
                }
                Ok((logged, lines, ends))
            })
            .collect::<Result<_, (String, serde_json::Error)>>()
            .map_err(|(id, e)| WebhookError::Corrupt {
                path: self.path.display().to_string(),
                line: 0,
                message: format!("cannot serialise alert {id}: {e}"),
            })?;
        for (_, lines, _) in &pieces {
            self.file.write_all(lines).map_err(|e| io(&self.path, e))?;
        }
        self.file.sync_data().map_err(|e| io(&self.path, e))?;
        let mut out = Appended::default();
        for (logged, lines, ends) in pieces {
            out.alerts.extend(logged);
            out.pieces.push((lines, ends));
        }
        for a in &out.alerts {
            self.ids.insert(a.alert.id.clone());
        }
        self.last_seq += out.alerts.len() as u64;
        Ok(out)
    }
}
