//! The daemon's local journal: Squid's log lines appended to numbered segment files in one
//! directory, before anything else happens to them.
//!
//! ```text
//! DIR/journal.id                 random, names the journal's sources in the store
//! DIR/segment-0000000001.log     closed: a later segment exists
//! DIR/segment-0000000002.log     open: the daemon appends here
//! ```
//!
//! A segment is closed by Squid's rotate (`R`), or when the daemon starts and finds the
//! last segment ending in the middle of a line (a crash mid-write). The loader stores
//! each segment's lines under the source `journal:<id>/<segment number>` and deletes a
//! closed segment once all of its lines are stored.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ID_FILE: &str = "journal.id";

/// A journal directory.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
    id: String,
}

/// One segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub number: u64,
    pub path: PathBuf,
}

impl Journal {
    /// Opens `dir`, creating it and its id when new.
    pub fn open(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let id_path = dir.join(ID_FILE);
        let id = match fs::read_to_string(&id_path) {
            Ok(id) => id.trim().to_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let id = hex::encode(rand::random::<[u8; 8]>());
                let tmp = dir.join(format!("{ID_FILE}.tmp"));
                let mut f = File::create(&tmp)?;
                f.write_all(id.as_bytes())?;
                f.sync_all()?;
                fs::rename(&tmp, &id_path)?;
                File::open(dir)?.sync_all()?;
                id
            }
            Err(e) => return Err(e),
        };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} does not hold a journal id", id_path.display()),
            ));
        }
        Ok(Self {
            dir: dir.to_owned(),
            id,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the journal's loading lock, if no other process holds it: two loaders of one
    /// journal (a daemon restarted by `squid -k reconfigure` while the old one finishes)
    /// take turns instead of racing for the same lines and segments. `None` when another
    /// holds it; the lock is released when the returned file is dropped.
    pub fn try_lock_loading(&self) -> io::Result<Option<File>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("load.lock"))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// The store's name for a segment's lines.
    pub fn source(&self, segment: &Segment) -> String {
        format!("journal:{}/{}", self.id, segment.number)
    }

    /// The segments, oldest first.
    pub fn segments(&self) -> io::Result<Vec<Segment>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(number) = name
                .to_str()
                .and_then(|n| n.strip_prefix("segment-"))
                .and_then(|n| n.strip_suffix(".log"))
                .and_then(|n| n.parse().ok())
            else {
                continue;
            };
            out.push(Segment {
                number,
                path: entry.path(),
            });
        }
        out.sort_by_key(|s| s.number);
        Ok(out)
    }

    fn segment_path(&self, number: u64) -> PathBuf {
        self.dir.join(format!("segment-{number:010}.log"))
    }
}

/// Appends to the journal's open segment.
pub struct Writer {
    journal: Journal,
    number: u64,
    file: File,
    /// The open segment again, for the background syncer.
    shared: Arc<Mutex<File>>,
    /// Appended since the last sync.
    dirty: Arc<AtomicBool>,
}

impl Writer {
    /// Opens the last segment for appending, or starts a new one when there is none or
    /// the last ends in the middle of a line.
    pub fn open(journal: Journal) -> io::Result<Self> {
        let last = journal.segments()?.pop();
        let number = match &last {
            Some(s) if ends_whole(&s.path)? => s.number,
            Some(s) => s.number + 1,
            None => 1,
        };
        let file = open_segment(&journal.segment_path(number))?;
        let shared = Arc::new(Mutex::new(file.try_clone()?));
        Ok(Self {
            journal,
            number,
            file,
            shared,
            dirty: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Appends bytes (whole lines, each ending in `\n`). They are in the page cache when
    /// this returns: safe from a crash of the process, not yet from a crash of the machine.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.file.write_all(bytes)?;
        self.dirty.store(true, Ordering::Release);
        Ok(())
    }

    /// Makes what was appended durable now.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.dirty.swap(false, Ordering::AcqRel) {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Makes what is appended durable every `every` from a thread of its own, so that
    /// the appending never waits for the disk.
    pub fn sync_in_background(&self, every: Duration) -> io::Result<()> {
        let shared = Arc::clone(&self.shared);
        let dirty = Arc::clone(&self.dirty);
        std::thread::Builder::new()
            .name("journal-sync".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(every);
                    if dirty.swap(false, Ordering::AcqRel) {
                        let file = shared.lock().unwrap_or_else(|p| p.into_inner());
                        if let Err(e) = file.sync_data() {
                            eprintln!("undersign logs daemon: cannot sync the journal: {e}");
                            dirty.store(true, Ordering::Release);
                        }
                    }
                }
            })?;
        Ok(())
    }

    /// Closes the open segment (durably) and starts the next.
    pub fn rotate(&mut self) -> io::Result<()> {
        self.file.sync_all()?;
        self.dirty.store(false, Ordering::Release);
        self.number += 1;
        self.file = open_segment(&self.journal.segment_path(self.number))?;
        *self.shared.lock().unwrap_or_else(|p| p.into_inner()) = self.file.try_clone()?;
        File::open(self.journal.dir())?.sync_all()?;
        Ok(())
    }

    /// The open segment's number.
    pub fn segment(&self) -> u64 {
        self.number
    }
}

fn open_segment(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Whether `path` is empty or ends with a line ending.
fn ends_whole(path: &Path) -> io::Result<bool> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    f.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_cut_mid_line_is_closed_and_the_next_one_started() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        let mut w = Writer::open(journal.clone()).unwrap();
        w.append(b"one\n").unwrap();
        w.sync().unwrap();
        drop(w);
        let w = Writer::open(journal.clone()).unwrap();
        assert_eq!(
            w.segment(),
            1,
            "a whole segment is appended to after a restart"
        );
        drop(w);
        fs::OpenOptions::new()
            .append(true)
            .open(journal.segment_path(1))
            .unwrap()
            .write_all(b"half a li")
            .unwrap();
        let mut w = Writer::open(journal.clone()).unwrap();
        assert_eq!(w.segment(), 2);
        w.rotate().unwrap();
        let numbers: Vec<u64> = journal
            .segments()
            .unwrap()
            .iter()
            .map(|s| s.number)
            .collect();
        assert_eq!(numbers, [1, 2, 3]);
        let held = journal.try_lock_loading().unwrap();
        assert!(held.is_some());
        assert!(
            journal.try_lock_loading().unwrap().is_none(),
            "one loader at a time"
        );
        drop(held);
        assert!(journal.try_lock_loading().unwrap().is_some());
        let again = Journal::open(dir.path()).unwrap();
        assert_eq!(
            again.source(&journal.segments().unwrap()[0]),
            journal.source(&journal.segments().unwrap()[0])
        );
    }
}
