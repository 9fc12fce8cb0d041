//! Checkpoints: the engine's state and the input offsets it reflects,
//! written together and atomically.
//!
//! State is kept as an append-only log of the records that were accepted
//! (applied, held or exact duplicates), in the order they were applied; a
//! checkpoint is a small JSON file naming how many bytes of that log it
//! covers and the next offset of every input partition. The checkpoint file
//! is replaced with write-to-temporary, fsync, rename, fsync-directory, so
//! after a crash there is always one whole checkpoint, and its log prefix
//! was fsynced before it. Restoring truncates the log to that prefix
//! (dropping what was applied after the checkpoint: those records are read
//! again from their offsets) and replays it.
//!
//! Rejected records are not in the log (they never changed state); their
//! counts are carried in the checkpoint file.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tidewatch_ingest::SourcePos;
use tidewatch_model::{Family, RejectReason};

use crate::lists::ListsCut;

const LOG: &str = "records.log";
const CHECKPOINT: &str = "checkpoint.json";
const FORMAT: u32 = 1;

/// The next offset to read of one input partition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartitionOffset {
    pub topic: String,
    pub partition: i32,
    pub next: i64,
}

/// `checkpoint.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub format: u32,
    /// Sequence number of this checkpoint (1, 2, …).
    pub seq: u64,
    pub as_of: NaiveDate,
    /// Bytes of `records.log` this checkpoint covers.
    pub log_len: u64,
    /// Records in that prefix.
    pub log_records: u64,
    pub offsets: Vec<PartitionOffset>,
    /// Rejected records per family and reason (they are not in the log).
    pub rejected: BTreeMap<String, BTreeMap<String, u64>>,
    /// Digest of the scoring policy in force; informational.
    pub policy_digest: String,
    /// Unix seconds when it was written; informational (checkpoint age).
    pub written_at: u64,
    /// The file beside it holding the list state at this checkpoint
    /// (written and synced before this file), when the engine keeps lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lists_file: Option<String>,
    /// Files of changes to that list state, in the order they apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lists_changes: Vec<String>,
    /// Held records whose grace period ran out (rejected, published to
    /// `dead-letter`): they are in the log, and restoring drops them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired_held: Vec<SourcePos>,
    /// Every entity in the log had its lists judged when this checkpoint
    /// was cut (none was waiting, as they do while a backlog is read), so
    /// the list state is what judging the log's entities again would give.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lists_judged: bool,
    /// How many alerts the alert log held for this checkpoint, when they
    /// were logged while its list state was written (see
    /// [`Pending::write_when`]): it replaces the count in the list state,
    /// which was taken before them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts_logged: Option<u64>,
}

/// One record of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRecord {
    pub family: Family,
    pub source: SourcePos,
    pub bytes: Vec<u8>,
}

/// A checkpoint directory open for writing.
#[derive(Debug)]
pub struct CheckpointDir {
    dir: PathBuf,
    log: LogWriter,
    /// The log's file again, for syncing it where a checkpoint is written.
    log_file: Arc<File>,
    log_len: u64,
    log_records: u64,
    seq: u64,
    /// The whole list state on disk and the changes written after it,
    /// with their sizes in bytes.
    lists_file: Option<(String, u64)>,
    lists_changes: Vec<(String, u64)>,
}

/// The list state a checkpoint writes.
#[derive(Debug, Clone)]
pub enum ListsWrite {
    /// All of it, as JSON.
    Whole(Vec<u8>),
    /// What changed since the previous checkpoint's, as JSON.
    Changes(Vec<u8>),
    /// Either, taken from the lists and made JSON where the checkpoint is
    /// written.
    Cut(ListsCut),
}

impl ListsWrite {
    pub fn is_whole(&self) -> bool {
        match self {
            ListsWrite::Whole(_) => true,
            ListsWrite::Changes(_) => false,
            ListsWrite::Cut(c) => c.is_whole(),
        }
    }

    /// Writes the lists to `f`; returns the bytes written.
    fn write_to(self, f: &mut File) -> anyhow::Result<u64> {
        match self {
            ListsWrite::Whole(b) | ListsWrite::Changes(b) => {
                f.write_all(&b)?;
                Ok(b.len() as u64)
            }
            ListsWrite::Cut(c) => {
                let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut *f);
                c.write_json(&mut w)
                    .context("writing the list state as JSON")?;
                w.flush()?;
                drop(w);
                Ok(f.stream_position()?)
            }
        }
    }
}

/// A checkpoint taken ([`CheckpointDir::cut`]) and not yet written: it can
/// be written on another thread ([`Pending::write`]) while the engine goes
/// on appending to the log.
#[derive(Debug)]
pub struct Pending {
    dir: PathBuf,
    log_file: Arc<File>,
    /// How far the log's writer has written.
    log_written: Arc<LogProgress>,
    checkpoint: Checkpoint,
    /// The list file to write, by name.
    lists: Option<(String, ListsWrite)>,
}

/// A checkpoint written: its file, and the size of the list file it wrote
/// (for [`CheckpointDir::written`]).
#[derive(Debug, Clone)]
pub struct Written {
    pub checkpoint: Checkpoint,
    /// (name, bytes) of the list file written.
    pub lists: Option<(String, u64)>,
}

/// Where a record came from, borrowed: what a frame stores of its source.
#[derive(Debug, Clone, Copy)]
pub enum SourceRef<'a> {
    Kafka {
        topic: &'a str,
        partition: i32,
        offset: i64,
    },
    File {
        file: &'a str,
        line: u64,
    },
}

impl<'a> From<&'a SourcePos> for SourceRef<'a> {
    fn from(s: &'a SourcePos) -> Self {
        match s {
            SourcePos::Kafka {
                topic,
                partition,
                offset,
            } => SourceRef::Kafka {
                topic,
                partition: *partition,
                offset: *offset,
            },
            SourcePos::File { file, line } => SourceRef::File { file, line: *line },
        }
    }
}

/// Frame: u32 length of what follows, u8 family, u8 source kind, then for
/// Kafka i64 partition, i64 offset; for a file i64 0, i64 line; then u16
/// name length, name (topic or file); then the record bytes.
/// Little-endian. Written straight to `out`: no copy of the record.
fn encode_into(
    out: &mut impl Write,
    family: Family,
    source: SourceRef<'_>,
    bytes: &[u8],
) -> std::io::Result<u64> {
    let (kind, a, b, name): (u8, i64, i64, &str) = match source {
        SourceRef::Kafka {
            topic,
            partition,
            offset,
        } => (0, i64::from(partition), offset, topic),
        SourceRef::File { file, line } => (1, 0, line as i64, file),
    };
    let name = &name.as_bytes()[..name.len().min(u16::MAX as usize)];
    let body = 1 + 1 + 8 + 8 + 2 + name.len() + bytes.len();
    out.write_all(&(body as u32).to_le_bytes())?;
    out.write_all(&[family.index() as u8, kind])?;
    out.write_all(&a.to_le_bytes())?;
    out.write_all(&b.to_le_bytes())?;
    out.write_all(&(name.len() as u16).to_le_bytes())?;
    out.write_all(name)?;
    out.write_all(bytes)?;
    Ok(4 + body as u64)
}

fn decode(body: &[u8]) -> anyhow::Result<LoggedRecord> {
    let take = |at: usize, n: usize| -> anyhow::Result<&[u8]> {
        body.get(at..at + n)
            .with_context(|| format!("log frame of {} bytes is cut short", body.len()))
    };
    let family = match take(0, 1)?[0] {
        x if (x as usize) < Family::ALL.len() => Family::ALL[x as usize],
        x => bail!("log frame names family {x}, which does not exist"),
    };
    let kind = take(1, 1)?[0];
    let a = i64::from_le_bytes(take(2, 8)?.try_into()?);
    let b = i64::from_le_bytes(take(10, 8)?.try_into()?);
    let n = u16::from_le_bytes(take(18, 2)?.try_into()?) as usize;
    let name = String::from_utf8(take(20, n)?.to_vec()).context("log frame source name")?;
    let bytes = body[20 + n..].to_vec();
    let source = match kind {
        0 => SourcePos::Kafka {
            topic: name,
            partition: i32::try_from(a).context("log frame partition")?,
            offset: b,
        },
        1 => SourcePos::File {
            file: name,
            line: b as u64,
        },
        x => bail!("log frame has source kind {x}, which does not exist"),
    };
    Ok(LoggedRecord {
        family,
        source,
        bytes,
    })
}

/// How far a [`LogWriter`]'s thread has written the log (bytes from the
/// file's start), or why it stopped.
#[derive(Debug, Default)]
struct LogProgress {
    state: Mutex<(u64, Option<String>)>,
    moved: Condvar,
}

impl LogProgress {
    fn set(&self, f: impl FnOnce(&mut (u64, Option<String>))) {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g);
        self.moved.notify_all();
    }

    /// Why the writer stopped, if it did.
    fn failed(&self) -> Option<std::io::Error> {
        let g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Self::error(&g)
    }

    fn error(state: &(u64, Option<String>)) -> Option<std::io::Error> {
        let e = state.1.as_ref()?;
        Some(std::io::Error::other(format!(
            "writing the record log: {e}"
        )))
    }

    /// Waits until the log is written up to `len` bytes.
    fn wait_for(&self, len: u64) -> anyhow::Result<()> {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(e) = Self::error(&g) {
                return Err(e.into());
            }
            if g.0 >= len {
                return Ok(());
            }
            g = self.moved.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// The record log's appends, handed in pieces of 1 MiB to a thread that
/// writes them to the file: copying 300 MB of records into the page cache
/// took a third of the loop's samples while a backlog was read, and the
/// loop only needs the bytes counted. At most [`LogWriter::IN_FLIGHT`]
/// pieces wait to be written (a slow disk slows the appends). The thread
/// stops, having written everything, when the writer is dropped.
#[derive(Debug)]
struct LogWriter {
    buf: Vec<u8>,
    tx: Option<mpsc::SyncSender<Vec<u8>>>,
    /// Written pieces, handed back to be filled again.
    spare: mpsc::Receiver<Vec<u8>>,
    progress: Arc<LogProgress>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl LogWriter {
    const PIECE: usize = 1 << 20;
    const IN_FLIGHT: usize = 8;

    /// Writes to `file` from its current position, `at` bytes from its start.
    fn start(mut file: File, at: u64) -> anyhow::Result<LogWriter> {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(Self::IN_FLIGHT);
        let (back, spare) = mpsc::channel();
        let progress = Arc::new(LogProgress::default());
        progress.set(|s| s.0 = at);
        let p = progress.clone();
        let handle = std::thread::Builder::new()
            .name("record-log".into())
            .spawn(move || {
                for mut piece in rx {
                    if let Err(e) = file.write_all(&piece) {
                        p.set(|s| s.1 = Some(e.to_string()));
                        return;
                    }
                    p.set(|s| s.0 += piece.len() as u64);
                    piece.clear();
                    let _ = back.send(piece);
                }
            })
            .context("starting the record log's writer")?;
        Ok(LogWriter {
            buf: Vec::with_capacity(Self::PIECE),
            tx: Some(tx),
            spare,
            progress,
            handle: Some(handle),
        })
    }

    /// Hands what was appended to the thread.
    fn send(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.progress.failed() {
            return Err(e);
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(Self::PIECE));
        let piece = std::mem::replace(&mut self.buf, next);
        match &self.tx {
            Some(tx) => tx
                .send(piece)
                .map_err(|_| std::io::Error::other("the record log's writer stopped")),
            None => Err(std::io::Error::other("the record log's writer stopped")),
        }
    }
}

impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= Self::PIECE {
            self.send()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        // What was appended is written (as a buffered writer's drop would),
        // and the file is no longer written once this returns: the
        // directory may be opened again at once.
        let _ = self.send();
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// What [`CheckpointDir::open`] found.
#[derive(Debug)]
pub struct Restored {
    pub checkpoint: Checkpoint,
    pub records: Vec<LoggedRecord>,
    /// The list state the checkpoint names, as written.
    pub lists: Option<Vec<u8>>,
    /// The changes to it, in order, as written.
    pub lists_changes: Vec<Vec<u8>>,
}

fn fsync_dir(dir: &Path) -> anyhow::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing directory {}", dir.display()))
}

impl CheckpointDir {
    /// Opens (creating) a checkpoint directory. Returns the latest
    /// checkpoint with the log prefix it covers, if there is one; the log is
    /// truncated to that prefix.
    pub fn open(dir: &Path) -> anyhow::Result<(CheckpointDir, Option<Restored>)> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let cp_path = dir.join(CHECKPOINT);
        let checkpoint: Option<Checkpoint> = match std::fs::read(&cp_path) {
            Ok(b) => {
                let c: Checkpoint = serde_json::from_slice(&b)
                    .with_context(|| format!("{} is not a checkpoint", cp_path.display()))?;
                if c.format != FORMAT {
                    bail!(
                        "{} has format {}, this engine reads format {FORMAT}",
                        cp_path.display(),
                        c.format
                    );
                }
                Some(c)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("reading {}", cp_path.display())),
        };
        let log_path = dir.join(LOG);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let keep = checkpoint.as_ref().map_or(0, |c| c.log_len);
        let have = file.metadata()?.len();
        if have < keep {
            bail!(
                "{} has {have} bytes but the checkpoint covers {keep}: the log was truncated or replaced",
                log_path.display()
            );
        }
        file.set_len(keep)
            .with_context(|| format!("truncating {}", log_path.display()))?;
        let mut records = Vec::new();
        if let Some(c) = &checkpoint {
            file.seek(SeekFrom::Start(0))?;
            let mut r = BufReader::new(&mut file).take(keep);
            let mut len = [0u8; 4];
            loop {
                match r.read_exact(&mut len) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e.into()),
                }
                let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
                r.read_exact(&mut body)
                    .with_context(|| format!("{}: frame cut short", log_path.display()))?;
                records.push(decode(&body).with_context(|| log_path.display().to_string())?);
            }
            if records.len() as u64 != c.log_records {
                bail!(
                    "{} holds {} records where the checkpoint counts {}",
                    log_path.display(),
                    records.len(),
                    c.log_records
                );
            }
        }
        file.seek(SeekFrom::End(0))?;
        let seq = checkpoint.as_ref().map_or(0, |c| c.seq);
        // Each list file the checkpoint names, with its name.
        let read_named = |name: &String| {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).with_context(|| {
                format!(
                    "reading {}, which {} names",
                    path.display(),
                    cp_path.display()
                )
            })?;
            anyhow::Ok((name.clone(), bytes))
        };
        let lists = checkpoint
            .as_ref()
            .and_then(|c| c.lists_file.as_ref())
            .map(read_named)
            .transpose()?;
        let lists_changes = checkpoint
            .iter()
            .flat_map(|c| &c.lists_changes)
            .map(read_named)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let size = |(name, bytes): &(String, Vec<u8>)| (name.clone(), bytes.len() as u64);
        let lists_file = lists.as_ref().map(size);
        let lists_changes_sizes = lists_changes.iter().map(size).collect();
        let lists = lists.map(|(_, b)| b);
        let lists_changes = lists_changes.into_iter().map(|(_, b)| b).collect();
        let restored = checkpoint.map(|checkpoint| Restored {
            checkpoint,
            records,
            lists,
            lists_changes,
        });
        let (log_len, log_records) = restored
            .as_ref()
            .map_or((0, 0), |r| (r.checkpoint.log_len, r.checkpoint.log_records));
        Ok((
            CheckpointDir {
                dir: dir.to_path_buf(),
                log_file: Arc::new(
                    file.try_clone()
                        .with_context(|| format!("opening {} again", log_path.display()))?,
                ),
                log: LogWriter::start(file, log_len)?,
                log_len,
                log_records,
                seq,
                lists_file,
                lists_changes: lists_changes_sizes,
            },
            restored,
        ))
    }

    /// Appends an accepted record to the log (durable at the next
    /// checkpoint that covers it, see [`CheckpointDir::cut`]).
    pub fn append<'a>(
        &mut self,
        family: Family,
        source: impl Into<SourceRef<'a>>,
        bytes: &[u8],
    ) -> anyhow::Result<()> {
        self.log_len += encode_into(&mut self.log, family, source.into(), bytes)?;
        self.log_records += 1;
        Ok(())
    }

    /// Takes a checkpoint covering everything appended so far, to be
    /// written with [`Pending::write`] and then told to
    /// [`CheckpointDir::written`]. One at a time: the next cut comes after
    /// the previous one was written.
    pub fn cut(
        &mut self,
        as_of: NaiveDate,
        offsets: Vec<PartitionOffset>,
        rejected_by_family: &BTreeMap<String, BTreeMap<String, u64>>,
        policy_digest: &str,
        lists: Option<ListsWrite>,
        expired_held: &[SourcePos],
    ) -> anyhow::Result<Pending> {
        // To the log's writer now; written and synced before the
        // checkpoint is (see `Pending::write_when`).
        self.log.flush()?;
        // The list state goes to files of its own, named by the sequence
        // number: the checkpoint file names them, so replacing the
        // checkpoint switches to them at once.
        let seq = self.seq + 1;
        let lists = match lists {
            None => {
                self.lists_file = None;
                self.lists_changes.clear();
                None
            }
            Some(w) => {
                let name = if w.is_whole() {
                    format!("lists-{seq}.json")
                } else if self.lists_file.is_none() {
                    bail!("list changes without a whole list state to apply them to");
                } else {
                    format!("lists-{seq}.changes.json")
                };
                // The size is known once written.
                if w.is_whole() {
                    self.lists_file = Some((name.clone(), 0));
                    self.lists_changes.clear();
                } else {
                    self.lists_changes.push((name.clone(), 0));
                }
                Some((name, w))
            }
        };
        self.seq = seq;
        let mut offsets = offsets;
        offsets.sort();
        let checkpoint = Checkpoint {
            format: FORMAT,
            seq,
            as_of,
            log_len: self.log_len,
            log_records: self.log_records,
            offsets,
            rejected: rejected_by_family.clone(),
            policy_digest: policy_digest.to_owned(),
            written_at: 0,
            lists_file: self.lists_file.as_ref().map(|(n, _)| n.clone()),
            lists_changes: self.lists_changes.iter().map(|(n, _)| n.clone()).collect(),
            expired_held: expired_held.to_vec(),
            lists_judged: false,
            alerts_logged: None,
        };
        Ok(Pending {
            dir: self.dir.clone(),
            log_file: self.log_file.clone(),
            log_written: self.log.progress.clone(),
            checkpoint,
            lists,
        })
    }

    /// A checkpoint taken by [`CheckpointDir::cut`] was written.
    pub fn written(&mut self, w: &Written) {
        if let Some((name, bytes)) = &w.lists {
            for (n, size) in self.lists_file.iter_mut().chain(&mut self.lists_changes) {
                if n == name {
                    *size = *bytes;
                }
            }
        }
    }

    /// Whether the next list state written should be whole: there is none
    /// on disk, or the changes written since add up to half its size (a
    /// restore then reads at most one and a half times the state), or to
    /// 64 files.
    pub fn wants_whole_lists(&self) -> bool {
        let changes: u64 = self.lists_changes.iter().map(|(_, n)| n).sum();
        match &self.lists_file {
            None => true,
            Some((_, whole)) => changes >= whole / 2 || self.lists_changes.len() >= 64,
        }
    }
}

impl Pending {
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// Says whether every entity in the log had its lists judged at the cut
    /// (see [`Checkpoint::lists_judged`]).
    pub fn lists_judged(mut self, judged: bool) -> Pending {
        self.checkpoint.lists_judged = judged;
        self
    }

    /// Writes the checkpoint: syncs the log prefix it covers, writes and
    /// syncs its list file, then replaces the checkpoint file (write to a
    /// temporary, sync, rename, sync the directory).
    pub fn write(self) -> anyhow::Result<Written> {
        self.write_when(|| Ok(None))
    }

    /// [`Pending::write`], waiting for `logged` before the checkpoint file
    /// is replaced: the alerts the list state counts as announced may still
    /// be on their way into the alert log while the list file is written,
    /// and a checkpoint must not name them before they are there. `logged`
    /// says how many alerts the log then holds (`None`: the list state's
    /// own count stands); an error fails the checkpoint.
    pub fn write_when(
        self,
        logged: impl FnOnce() -> anyhow::Result<Option<u64>>,
    ) -> anyhow::Result<Written> {
        let Pending {
            dir,
            log_file,
            log_written,
            mut checkpoint,
            lists,
        } = self;
        log_written.wait_for(checkpoint.log_len)?;
        log_file.sync_data().context("syncing the record log")?;
        let lists = match lists {
            None => None,
            Some((name, w)) => {
                let path = dir.join(&name);
                let mut f =
                    File::create(&path).with_context(|| format!("creating {}", path.display()))?;
                let len = w
                    .write_to(&mut f)
                    .with_context(|| format!("writing {}", path.display()))?;
                f.sync_all()
                    .with_context(|| format!("syncing {}", path.display()))?;
                Some((name, len))
            }
        };
        checkpoint.alerts_logged = logged()?;
        checkpoint.written_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let tmp = dir.join(format!("{CHECKPOINT}.tmp"));
        {
            let mut f =
                File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
            f.write_all(&serde_json::to_vec_pretty(&checkpoint)?)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, dir.join(CHECKPOINT))
            .with_context(|| format!("replacing {}", dir.join(CHECKPOINT).display()))?;
        fsync_dir(&dir)?;
        remove_old_lists(&dir, &checkpoint);
        Ok(Written { checkpoint, lists })
    }
}

/// Removes list files the checkpoint does not name (best effort: a file
/// left behind is only disk space).
fn remove_old_lists(dir: &Path, cp: &Checkpoint) {
    let keep = |name: &str| {
        cp.lists_file.as_deref() == Some(name) || cp.lists_changes.iter().any(|c| c == name)
    };
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("lists-") && name.ends_with(".json") && !keep(name) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The `&'static str` code of a reject reason named in a checkpoint.
pub fn reason_code(name: &str) -> Option<&'static str> {
    RejectReason::ALL
        .iter()
        .map(|r| r.code())
        .find(|c| *c == name)
}

/// The `&'static str` name of a family named in a checkpoint.
pub fn family_name(name: &str) -> Option<&'static str> {
    Family::ALL.iter().map(|f| f.as_str()).find(|c| *c == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint cut and written at once.
    fn commit_now(
        cp: &mut CheckpointDir,
        as_of: NaiveDate,
        offsets: Vec<PartitionOffset>,
        lists: Option<ListsWrite>,
    ) -> anyhow::Result<Checkpoint> {
        let w = cp
            .cut(as_of, offsets, &BTreeMap::new(), "p", lists, &[])?
            .write()?;
        cp.written(&w);
        Ok(w.checkpoint)
    }

    fn rec(i: i64) -> LoggedRecord {
        LoggedRecord {
            family: Family::Complaints,
            source: SourcePos::Kafka {
                topic: "tidewatch.complaints".into(),
                partition: 3,
                offset: i,
            },
            bytes: format!("{{\"n\":{i}}}").into_bytes(),
        }
    }

    #[test]
    fn frames_round_trip() {
        for r in [
            rec(7),
            LoggedRecord {
                family: Family::CreditRecords,
                source: SourcePos::File {
                    file: "seeds/credit-records.ndjson".into(),
                    line: 12,
                },
                bytes: vec![0xff, 0, 1],
            },
        ] {
            let mut f = Vec::new();
            encode_into(&mut f, r.family, (&r.source).into(), &r.bytes).unwrap();
            assert_eq!(
                u32::from_le_bytes(f[..4].try_into().unwrap()) as usize,
                f.len() - 4
            );
            assert_eq!(decode(&f[4..]).unwrap(), r);
        }
    }

    #[test]
    fn a_checkpoint_written_on_another_thread_covers_what_came_before_its_cut() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cp, _) = CheckpointDir::open(tmp.path()).unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
        let append = |cp: &mut CheckpointDir, i: i64| {
            let r = rec(i);
            cp.append(r.family, &r.source, &r.bytes).unwrap();
        };
        let whole = Some(ListsWrite::Whole(b"W".to_vec()));
        commit_now(&mut cp, d, Vec::new(), whole).unwrap();
        for i in 0..3 {
            append(&mut cp, i);
        }
        let changes = Some(ListsWrite::Changes(b"C1".to_vec()));
        let pending = cp
            .cut(d, Vec::new(), &BTreeMap::new(), "p", changes, &[])
            .unwrap();
        assert_eq!(pending.checkpoint().log_records, 3);
        // The engine goes on while the checkpoint is written.
        let writer = std::thread::spawn(move || pending.write());
        for i in 3..5 {
            append(&mut cp, i);
        }
        let w = writer.join().unwrap().unwrap();
        cp.written(&w);
        assert_eq!(w.lists, Some(("lists-2.changes.json".to_owned(), 2)));
        // The written size counts towards the next whole state.
        assert_eq!(
            cp.lists_changes,
            vec![("lists-2.changes.json".to_owned(), 2)]
        );
        assert!(
            cp.wants_whole_lists(),
            "changes of 2 bytes ≥ half of a whole of 1"
        );
        cp.log.flush().unwrap();
        drop(cp);
        let (_, restored) = CheckpointDir::open(tmp.path()).unwrap();
        let restored = restored.unwrap();
        assert_eq!(restored.checkpoint.seq, 2);
        assert_eq!(restored.records, (0..3).map(rec).collect::<Vec<_>>());
        assert_eq!(restored.lists.as_deref(), Some(&b"W"[..]));
        assert_eq!(restored.lists_changes, vec![b"C1".to_vec()]);
    }

    #[test]
    fn whether_the_lists_were_judged_is_kept_and_older_checkpoints_say_no() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cp, _) = CheckpointDir::open(tmp.path()).unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
        let w = cp
            .cut(d, Vec::new(), &BTreeMap::new(), "p", None, &[])
            .unwrap()
            .lists_judged(true)
            .write()
            .unwrap();
        cp.written(&w);
        drop(cp);
        let (_, restored) = CheckpointDir::open(tmp.path()).unwrap();
        let c = restored.unwrap().checkpoint;
        assert!(c.lists_judged);
        // Written before the field existed: nothing is taken as judged.
        let mut json = serde_json::to_value(&c).unwrap();
        json.as_object_mut().unwrap().remove("lists_judged");
        let old: Checkpoint = serde_json::from_value(json).unwrap();
        assert!(!old.lists_judged);
    }

    #[test]
    fn the_log_writer_writes_in_order_and_a_failed_write_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("log");
        let mut w = LogWriter::start(File::create(&path).unwrap(), 0).unwrap();
        // Pieces of several sizes, past the piece size and below it.
        let mut want = Vec::new();
        for i in 0..3000u32 {
            let b = vec![(i % 251) as u8; (i as usize * 7) % 1500];
            w.write_all(&b).unwrap();
            want.extend_from_slice(&b);
        }
        w.flush().unwrap();
        w.progress.wait_for(want.len() as u64).unwrap();
        drop(w);
        assert_eq!(std::fs::read(&path).unwrap(), want);
        // A file it cannot write: the wait for its bytes fails, and so do
        // the appends after it.
        let ro = File::open(&path).unwrap();
        let mut w = LogWriter::start(ro, 0).unwrap();
        w.write_all(b"frame").unwrap();
        w.flush().unwrap();
        assert!(w.progress.wait_for(5).is_err());
        assert!(w.write_all(&[0; LogWriter::PIECE]).is_err());
    }

    #[test]
    fn a_checkpoint_waits_for_its_alerts_and_is_not_written_without_them() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cp, _) = CheckpointDir::open(tmp.path()).unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
        let lists = || Some(ListsWrite::Whole(b"L".to_vec()));
        let r = rec(0);
        cp.append(r.family, &r.source, &r.bytes).unwrap();
        let w = cp
            .cut(d, Vec::new(), &BTreeMap::new(), "p", lists(), &[])
            .unwrap()
            .write_when(|| Ok(Some(41)))
            .unwrap();
        cp.written(&w);
        // The alerts of the next one could not be logged: it is not
        // written, and the one before stays.
        let r = rec(1);
        cp.append(r.family, &r.source, &r.bytes).unwrap();
        let failed = cp
            .cut(d, Vec::new(), &BTreeMap::new(), "p", lists(), &[])
            .unwrap()
            .write_when(|| anyhow::bail!("disk full"));
        assert!(failed.is_err());
        drop(cp);
        let (_, restored) = CheckpointDir::open(tmp.path()).unwrap();
        let c = restored.unwrap().checkpoint;
        assert_eq!((c.seq, c.log_records, c.alerts_logged), (1, 1, Some(41)));
        // Without a count from the logger, the list state's own stands.
        let (mut cp, _) = CheckpointDir::open(tmp.path()).unwrap();
        let w = cp
            .cut(d, Vec::new(), &BTreeMap::new(), "p", lists(), &[])
            .unwrap()
            .write()
            .unwrap();
        assert_eq!(w.checkpoint.alerts_logged, None);
    }

    #[test]
    fn restore_sees_exactly_the_committed_prefix() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cp, restored) = CheckpointDir::open(tmp.path()).unwrap();
        assert!(restored.is_none());
        let d = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
        for i in 0..3 {
            let r = rec(i);
            cp.append(r.family, &r.source, &r.bytes).unwrap();
        }
        let off = vec![PartitionOffset {
            topic: "tidewatch.complaints".into(),
            partition: 3,
            next: 3,
        }];
        commit_now(
            &mut cp,
            d,
            off.clone(),
            Some(ListsWrite::Whole(b"L1".to_vec())),
        )
        .unwrap();
        // Appended after the checkpoint, then a crash: not restored.
        let r = rec(3);
        cp.append(r.family, &r.source, &r.bytes).unwrap();
        cp.log.flush().unwrap();
        drop(cp);
        let (mut cp, restored) = CheckpointDir::open(tmp.path()).unwrap();
        let restored = restored.unwrap();
        assert_eq!(restored.records, (0..3).map(rec).collect::<Vec<_>>());
        assert_eq!(restored.checkpoint.offsets, off);
        assert_eq!(restored.checkpoint.seq, 1);
        assert_eq!(restored.lists.as_deref(), Some(&b"L1"[..]));
        // Appending continues after the restored prefix.
        let r = rec(9);
        cp.append(r.family, &r.source, &r.bytes).unwrap();
        commit_now(&mut cp, d, off, Some(ListsWrite::Whole(b"L2".to_vec()))).unwrap();
        drop(cp);
        let (_, restored) = CheckpointDir::open(tmp.path()).unwrap();
        let got = restored.unwrap();
        assert_eq!(got.checkpoint.seq, 2);
        // The list state moves with the checkpoint; the old file is gone.
        assert_eq!(got.lists.as_deref(), Some(&b"L2"[..]));
        assert!(!tmp.path().join("lists-1.json").exists());
        assert_eq!(got.records, vec![rec(0), rec(1), rec(2), rec(9)],);
    }

    #[test]
    fn list_changes_chain_on_the_whole_state_until_it_is_written_again() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut cp, _) = CheckpointDir::open(tmp.path()).unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
        let commit =
            |cp: &mut CheckpointDir, w: Option<ListsWrite>| commit_now(cp, d, Vec::new(), w);
        assert!(cp.wants_whole_lists());
        assert!(commit(&mut cp, Some(ListsWrite::Changes(b"c".to_vec()))).is_err());
        let whole = vec![b'W'; 100];
        commit(&mut cp, Some(ListsWrite::Whole(whole.clone()))).unwrap();
        assert!(!cp.wants_whole_lists());
        commit(&mut cp, Some(ListsWrite::Changes(vec![b'a'; 20]))).unwrap();
        commit(&mut cp, Some(ListsWrite::Changes(vec![b'b'; 20]))).unwrap();
        assert!(!cp.wants_whole_lists());
        drop(cp);
        let (mut cp, restored) = CheckpointDir::open(tmp.path()).unwrap();
        let r = restored.unwrap();
        assert_eq!(r.lists.as_deref(), Some(&whole[..]));
        assert_eq!(r.lists_changes, vec![vec![b'a'; 20], vec![b'b'; 20]]);
        // Half the whole state's size in changes: the next is whole.
        commit(&mut cp, Some(ListsWrite::Changes(vec![b'c'; 10]))).unwrap();
        assert!(cp.wants_whole_lists());
        commit(&mut cp, Some(ListsWrite::Whole(b"W2".to_vec()))).unwrap();
        let (_, restored) = CheckpointDir::open(tmp.path()).unwrap();
        let r = restored.unwrap();
        assert_eq!(r.lists.as_deref(), Some(&b"W2"[..]));
        assert!(r.lists_changes.is_empty());
        let mut left: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("lists-"))
            .collect();
        left.sort();
        assert_eq!(left, vec![format!("lists-{}.json", r.checkpoint.seq)]);
        // Without lists the checkpoint names none.
        let (mut cp, _) = CheckpointDir::open(tmp.path()).unwrap();
        let c = commit(&mut cp, None).unwrap();
        assert!(c.lists_file.is_none() && c.lists_changes.is_empty());
    }
}
