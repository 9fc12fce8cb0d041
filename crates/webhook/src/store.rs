//! A target's delivery state on disk, under `<state dir>/<target name>/`:
//!
//! - `acked.log`: one line `<seq> <alert id>` per alert the receiver
//!   acknowledged, appended and synced before the next alert is sent, so an
//!   acknowledged alert is never sent again, across restarts too;
//! - `dead-letter/<seq>-<id>.json`: alerts parked after their retry budget,
//!   each written to a temporary file, synced and renamed into place, so a
//!   crash leaves either the whole file or none.
//!
//! Alerts merely queued in memory are not here: after a restart the caller
//! submits the log again, and what `acked.log` holds is skipped.

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::WebhookError;

fn io(path: &Path, e: std::io::Error) -> WebhookError {
    WebhookError::Io {
        path: path.display().to_string(),
        source: e,
    }
}

/// An alert in the dead-letter store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parked {
    pub seq: u64,
    pub id: String,
    /// Attempts made so far.
    pub attempts: u32,
    pub last_error: String,
    /// Unix seconds when it was (last) parked.
    pub parked_at: u64,
    /// The exact body that is signed and sent.
    pub body: String,
}

/// One target's acknowledgements and dead letters.
#[derive(Debug)]
pub struct TargetStore {
    dir: PathBuf,
    dead_dir: PathBuf,
    ack_path: PathBuf,
    ack_file: File,
    acked: HashSet<String>,
}

fn sync_dir(dir: &Path) -> Result<(), WebhookError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}

impl TargetStore {
    /// Opens the state of target `name` under `root`, creating it if need be.
    /// Returns the store and the parked alerts, by sequence.
    pub fn open(
        root: &Path,
        name: &str,
    ) -> Result<(TargetStore, BTreeMap<u64, Parked>), WebhookError> {
        let dir = root.join(name);
        let dead_dir = dir.join("dead-letter");
        std::fs::create_dir_all(&dead_dir).map_err(|e| io(&dead_dir, e))?;
        let ack_path = dir.join("acked.log");
        let mut text = Vec::new();
        match File::open(&ack_path) {
            Ok(mut f) => {
                f.read_to_end(&mut text).map_err(|e| io(&ack_path, e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&ack_path, e)),
        }
        // A line is whole only with its newline: cut off a torn last line.
        let good = text.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
        let mut acked = HashSet::new();
        for (i, line) in text[..good].split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let line = std::str::from_utf8(line).map_err(|_| WebhookError::Corrupt {
                path: ack_path.display().to_string(),
                line: i + 1,
                message: "not UTF-8".into(),
            })?;
            let id = line.split_once(' ').map_or(line, |(_, id)| id);
            acked.insert(id.to_owned());
        }
        let ack_file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&ack_path)
            .map_err(|e| io(&ack_path, e))?;
        if (text.len() as u64) > good as u64 {
            ack_file
                .set_len(good as u64)
                .and_then(|_| ack_file.sync_all())
                .map_err(|e| io(&ack_path, e))?;
        }
        sync_dir(&dir)?;
        let mut store = TargetStore {
            dir,
            dead_dir,
            ack_path,
            ack_file,
            acked,
        };
        let parked = store.load_parked()?;
        Ok((store, parked))
    }

    fn load_parked(&mut self) -> Result<BTreeMap<u64, Parked>, WebhookError> {
        let mut out = BTreeMap::new();
        let rd = std::fs::read_dir(&self.dead_dir).map_err(|e| io(&self.dead_dir, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| io(&self.dead_dir, e))?;
            let path = entry.path();
            if path.extension().and_then(|x| x.to_str()) != Some("json") {
                // A temporary file a crash left before its rename.
                if path.extension().and_then(|x| x.to_str()) == Some("tmp") {
                    let _ = std::fs::remove_file(&path);
                }
                continue;
            }
            let text = std::fs::read(&path).map_err(|e| io(&path, e))?;
            let p: Parked = serde_json::from_slice(&text).map_err(|e| WebhookError::Corrupt {
                path: path.display().to_string(),
                line: 0,
                message: e.to_string(),
            })?;
            // Acknowledged, then a crash before the file was removed.
            if self.acked.contains(&p.id) {
                std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
                continue;
            }
            out.insert(p.seq, p);
        }
        Ok(out)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn is_acked(&self, id: &str) -> bool {
        self.acked.contains(id)
    }

    pub fn acked_count(&self) -> usize {
        self.acked.len()
    }

    /// Records an acknowledgement durably; removes a dead letter of it.
    pub fn ack(&mut self, seq: u64, id: &str) -> Result<(), WebhookError> {
        if self.acked.contains(id) {
            return Ok(());
        }
        self.ack_file
            .write_all(format!("{seq} {id}\n").as_bytes())
            .and_then(|_| self.ack_file.sync_data())
            .map_err(|e| io(&self.ack_path, e))?;
        self.acked.insert(id.to_owned());
        let p = self.dead_path(seq, id);
        match std::fs::remove_file(&p) {
            Ok(()) => sync_dir(&self.dead_dir)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&p, e)),
        }
        Ok(())
    }

    fn dead_path(&self, seq: u64, id: &str) -> PathBuf {
        self.dead_dir.join(format!("{seq:012}-{id}.json"))
    }

    /// Writes a dead letter: temporary file, sync, rename, sync directory.
    pub fn park(&self, p: &Parked) -> Result<(), WebhookError> {
        let path = self.dead_path(p.seq, &p.id);
        let tmp = path.with_extension("tmp");
        let bytes = serde_json::to_vec_pretty(p).map_err(|e| WebhookError::Corrupt {
            path: path.display().to_string(),
            line: 0,
            message: e.to_string(),
        })?;
        let mut f = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        f.write_all(&bytes)
            .and_then(|_| f.sync_all())
            .map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        sync_dir(&self.dead_dir)
    }
}
