//! Storing a source's lines: skip what the store already has (its cursor), parse,
//! attribute and classify the rest, and store them in batches. Each batch moves the
//! source's cursor in the transaction that stores its rows, so a run that stops half way
//! (a crash, the database going away) resumes at the first line not stored, and loading
//! the same file twice stores nothing the second time.
//!
//! A malformed line is counted and reported with its source and line number; it never
//! stops the run, and it is not stored.

use std::fmt;
use std::io::{self, BufRead};

use undersign_core::access::WebRulesOwner;
use undersign_core::logs::{LogBatch, LoggedRequest, Register};
use undersign_core::store::{Logs, StoreError};

use crate::classify::Classifier;
use crate::journal::{Journal, Segment};
use crate::line::{self, LineError};
use crate::source::{LineReader, MAX_LINE, Next};

/// Lines per batch (one transaction each).
pub const BATCH_LINES: usize = 20_000;

/// Malformed lines reported in full; the rest are only counted.
pub const REPORTED: usize = 100;

/// One malformed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// The file (or journal segment) it is in.
    pub file: String,
    pub line: u64,
    pub error: LineError,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.error)
    }
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Lines read (including those skipped and malformed).
    pub lines: u64,
    /// Lines stored before, and skipped.
    pub already: u64,
    /// Requests stored now.
    pub stored: u64,
    /// Malformed lines, all counted…
    pub malformed: u64,
    /// …and the first [`REPORTED`] of them in full.
    pub examples: Vec<Malformed>,
}

impl Report {
    fn add(&mut self, other: Report) {
        self.lines += other.lines;
        self.already += other.already;
        self.stored += other.stored;
        self.malformed += other.malformed;
        for m in other.examples {
            if self.examples.len() < REPORTED {
                self.examples.push(m);
            }
        }
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{file}: {error}")]
    Read { file: String, error: io::Error },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Loads sources into one school's store.
pub struct Loader<'a, S: Logs + ?Sized> {
    store: &'a S,
    owner: WebRulesOwner,
    classifier: Classifier,
    register: Register,
}

impl<'a, S: Logs + ?Sized> Loader<'a, S> {
    /// Reads the school's register once; [`Loader::refresh`] reads it again.
    pub async fn new(
        store: &'a S,
        owner: WebRulesOwner,
        classifier: Classifier,
    ) -> Result<Self, LoadError> {
        let register = store.attribution_register(&owner).await?;
        Ok(Self {
            store,
            owner,
            classifier,
            register,
        })
    }

    /// Reads the device register again (it changes while a daemon runs for weeks).
    pub async fn refresh(&mut self) -> Result<(), LoadError> {
        self.register = self.store.attribution_register(&self.owner).await?;
        Ok(())
    }

    /// Stores the lines of `reader` not yet stored under `source`. `file` names it in
    /// reports. `progress` is called after each batch.
    pub async fn load<R: BufRead>(
        &mut self,
        source: &str,
        file: &str,
        reader: &mut LineReader<R>,
        mut progress: impl FnMut(&Report),
    ) -> Result<Report, LoadError> {
        let read_error = |error| LoadError::Read {
            file: file.to_owned(),
            error,
        };
        let mut report = Report::default();
        let cursor = self.store.log_cursor(&self.owner, source).await?;
        while reader.lines < cursor {
            if reader.next_line().map_err(read_error)?.is_none() {
                break;
            }
        }
        report.already = reader.lines;
        report.lines = reader.lines;
        let mut from_line = reader.lines;
        let mut batch: Vec<LoggedRequest> = Vec::with_capacity(BATCH_LINES);
        loop {
            // The number the next line will have.
            let number = reader.lines + 1;
            let done = match reader.next_line().map_err(read_error)? {
                None => true,
                Some(Next::TooLong) => {
                    report.note_malformed(
                        file,
                        number,
                        LineError {
                            field: "line",
                            problem: format!("longer than {MAX_LINE} bytes"),
                        },
                    );
                    false
                }
                Some(Next::Line(raw)) => {
                    match line::parse(raw) {
                        Ok(l) => batch.push(self.classifier.request(number, &l, &self.register)),
                        Err(e) => report.note_malformed(file, number, e),
                    }
                    false
                }
            };
            let lines = reader.lines - from_line;
            if lines > 0 && (done || lines >= BATCH_LINES as u64) {
                let stored = batch.len() as u64;
                self.store
                    .load_logs(
                        &self.owner,
                        &LogBatch {
                            source: source.to_owned(),
                            from_line,
                            to_line: reader.lines,
                            requests: std::mem::take(&mut batch),
                        },
                    )
                    .await?;
                report.stored += stored;
                report.lines = reader.lines;
                from_line = reader.lines;
                progress(&report);
            }
            if done {
                break;
            }
        }
        Ok(report)
    }

    /// Stores every segment of `journal` not yet stored, and deletes the closed ones that
    /// are stored whole. The open (last) segment's unfinished line is left for later. When
    /// another process is loading the journal, does nothing this time.
    pub async fn load_journal(&mut self, journal: &Journal) -> Result<Report, LoadError> {
        let mut report = Report::default();
        let Some(_lock) = journal
            .try_lock_loading()
            .map_err(|error| LoadError::Read {
                file: journal.dir().display().to_string(),
                error,
            })?
        else {
            return Ok(report);
        };
        let segments = journal.segments().map_err(|error| LoadError::Read {
            file: journal.dir().display().to_string(),
            error,
        })?;
        let last = segments.last().map(|s| s.number);
        for segment in &segments {
            let closed = Some(segment.number) != last;
            let r = self.load_segment(journal, segment, closed).await?;
            report.add(r);
            if closed {
                std::fs::remove_file(&segment.path).map_err(|error| LoadError::Read {
                    file: segment.path.display().to_string(),
                    error,
                })?;
            }
        }
        Ok(report)
    }

    async fn load_segment(
        &mut self,
        journal: &Journal,
        segment: &Segment,
        closed: bool,
    ) -> Result<Report, LoadError> {
        let file = segment.path.display().to_string();
        let opened = std::fs::File::open(&segment.path).map_err(|error| LoadError::Read {
            file: file.clone(),
            error,
        })?;
        let mut reader = LineReader::new(io::BufReader::with_capacity(256 * 1024, opened), closed);
        self.load(&journal.source(segment), &file, &mut reader, |_| {})
            .await
    }
}

impl Report {
    fn note_malformed(&mut self, file: &str, line: u64, error: LineError) {
        self.malformed += 1;
        if self.examples.len() < REPORTED {
            self.examples.push(Malformed {
                file: file.to_owned(),
                line,
                error,
            });
        }
    }
}
