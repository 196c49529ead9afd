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
use std::sync::Arc;

use undersign_core::access::WebRulesOwner;
use undersign_core::logs::{BatchBuilder, LogBatch, Register};
use undersign_core::store::{Logs, StoreError};

use crate::classify::Classifier;
use crate::journal::{Journal, Segment};
use crate::line::{self, LineError};
use crate::source::{LineReader, MAX_LINE};

/// Lines per batch (one transaction each)…
pub const BATCH_LINES: usize = 250_000;

/// …or fewer, when their text reaches this size. A load holds at most two batches per
/// parsing thread and one being read.
const BATCH_BYTES: usize = 48 << 20;

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
    register: Arc<Register>,
    batch_lines: usize,
}

impl<'a, S: Logs + ?Sized> Loader<'a, S> {
    /// Reads the school's register once; [`Loader::refresh`] reads it again.
    pub async fn new(
        store: &'a S,
        owner: WebRulesOwner,
        classifier: Classifier,
    ) -> Result<Self, LoadError> {
        let register = Arc::new(store.attribution_register(&owner).await?);
        Ok(Self {
            store,
            owner,
            classifier,
            register,
            batch_lines: BATCH_LINES,
        })
    }

    /// Stores at most `lines` lines per batch (at least one) instead of [`BATCH_LINES`].
    pub fn with_batch_lines(mut self, lines: usize) -> Self {
        self.batch_lines = lines.max(1);
        self
    }

    /// Reads the device register again (it changes while a daemon runs for weeks).
    pub async fn refresh(&mut self) -> Result<(), LoadError> {
        self.register = Arc::new(self.store.attribution_register(&self.owner).await?);
        Ok(())
    }

    /// Stores the lines of `reader` not yet stored under `source`. `file` names it in
    /// reports. `progress` is called after each batch.
    ///
    /// Reading, parsing and storing overlap: one thread reads lines into chunks of a
    /// batch each, [`workers`] threads parse, attribute, classify and encode them, and
    /// this task stores the batches in line order as they come.
    pub async fn load<R: BufRead + Send + 'static>(
        &mut self,
        source: &str,
        file: &str,
        mut reader: LineReader<R>,
        mut progress: impl FnMut(&Report),
    ) -> Result<Report, LoadError> {
        let cursor = self.store.log_cursor(&self.owner, source).await?;
        let workers = workers();
        let mut inputs = Vec::with_capacity(workers);
        let mut outputs = Vec::with_capacity(workers);
        // Chunks parsed come back to be filled again, rather than new memory each time.
        let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Chunk>();
        for _ in 0..workers {
            let spare = spare_tx.clone();
            let (chunk_tx, chunk_rx) = std::sync::mpsc::sync_channel::<io::Result<Chunk>>(1);
            let (built_tx, built_rx) = tokio::sync::mpsc::channel(1);
            let classifier = self.classifier.worker();
            let register = Arc::clone(&self.register);
            let (source_name, file_name) = (source.to_owned(), file.to_owned());
            std::thread::Builder::new()
                .name("undersign-logs-parse".into())
                .spawn(move || {
                    build(
                        chunk_rx,
                        built_tx,
                        &spare,
                        classifier,
                        &register,
                        &source_name,
                        &file_name,
                    )
                })
                .map_err(|error| LoadError::Read {
                    file: file.to_owned(),
                    error,
                })?;
            inputs.push(chunk_tx);
            outputs.push(built_rx);
        }
        let (skipped_tx, skipped_rx) = tokio::sync::oneshot::channel();
        // The lines read in all, sent once the whole input was handed to the parsers.
        let (read_tx, read_rx) = tokio::sync::oneshot::channel();
        let batch_lines = self.batch_lines;
        std::thread::Builder::new()
            .name("undersign-logs-read".into())
            .spawn(move || {
                let mut send = inputs.iter().cycle();
                let skipped = skip(&mut reader, cursor);
                let failed = skipped.is_err();
                let _ = skipped_tx.send(skipped);
                if failed {
                    return;
                }
                loop {
                    let Some(next) = send.next() else { return };
                    let chunk = spare_rx.try_recv().unwrap_or_default();
                    match read_chunk(&mut reader, chunk, batch_lines) {
                        Ok(Some(chunk)) => {
                            if next.send(Ok(chunk)).is_err() {
                                return;
                            }
                        }
                        Ok(None) => {
                            let _ = read_tx.send(reader.lines);
                            return;
                        }
                        Err(e) => {
                            let _ = next.send(Err(e));
                            return;
                        }
                    }
                }
            })
            .map_err(|error| LoadError::Read {
                file: file.to_owned(),
                error,
            })?;

        let read_error = |error| LoadError::Read {
            file: file.to_owned(),
            error,
        };
        let mut report = Report::default();
        let already = skipped_rx
            .await
            .map_err(|_| read_error(io::Error::other("the reading thread stopped")))?
            .map_err(read_error)?;
        report.already = already;
        report.lines = already;
        for i in (0..workers).cycle() {
            let Some(built) = outputs[i].recv().await else {
                break;
            };
            let (batch, part) = built.map_err(read_error)?;
            self.store.load_logs(&self.owner, &batch).await?;
            report.add(part);
            report.lines = batch.to_line;
            progress(&report);
        }
        // A parser that stopped early (it panicked) ends the batches before the input.
        if let Ok(read) = read_rx.await
            && read != report.lines
        {
            return Err(read_error(io::Error::other(format!(
                "parsing stopped after line {} of {read}",
                report.lines
            ))));
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
        let reader = LineReader::new(io::BufReader::with_capacity(256 * 1024, opened), closed);
        self.load(&journal.source(segment), &file, reader, |_| {})
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

/// Threads that parse: one per core, at most four.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4))
}

/// The lines of one batch as read: their text, and where each ends (`None`: too long).
#[derive(Default)]
struct Chunk {
    /// Lines of the source before it.
    from_line: u64,
    text: Vec<u8>,
    ends: Vec<Option<usize>>,
}

/// Reads past the lines already stored; returns how many there were.
fn skip<R: BufRead>(reader: &mut LineReader<R>, cursor: u64) -> io::Result<u64> {
    while reader.lines < cursor {
        if reader.next_line()?.is_none() {
            break;
        }
    }
    Ok(reader.lines)
}

/// The next batch's lines, or `None` at the end.
fn read_chunk<R: BufRead>(
    reader: &mut LineReader<R>,
    mut chunk: Chunk,
    max_lines: usize,
) -> io::Result<Option<Chunk>> {
    chunk.from_line = reader.lines;
    chunk.text.clear();
    chunk.ends.clear();
    reader.read_into(&mut chunk.text, &mut chunk.ends, max_lines, BATCH_BYTES)?;
    Ok((!chunk.ends.is_empty()).then_some(chunk))
}

type Built = io::Result<(LogBatch, Report)>;

/// A parsing thread: chunks in, batches out, until either side closes.
fn build(
    chunks: std::sync::mpsc::Receiver<io::Result<Chunk>>,
    built: tokio::sync::mpsc::Sender<Built>,
    spare: &std::sync::mpsc::Sender<Chunk>,
    mut classifier: Classifier,
    register: &Register,
    source: &str,
    file: &str,
) {
    while let Ok(chunk) = chunks.recv() {
        let result = chunk.map(|c| {
            let batch = build_batch(&c, &mut classifier, register, source, file);
            let _ = spare.send(c);
            batch
        });
        if built.blocking_send(result).is_err() {
            return;
        }
    }
}

fn build_batch(
    chunk: &Chunk,
    classifier: &mut Classifier,
    register: &Register,
    source: &str,
    file: &str,
) -> (LogBatch, Report) {
    let mut report = Report::default();
    let mut batch = BatchBuilder::default();
    let mut start = 0;
    let mut number = chunk.from_line;
    // Checked as UTF-8 once for the whole batch; line by line only if that fails.
    let text = std::str::from_utf8(&chunk.text).ok();
    for end in &chunk.ends {
        number += 1;
        let Some(end) = *end else {
            report.note_malformed(
                file,
                number,
                LineError {
                    field: "line",
                    problem: format!("longer than {MAX_LINE} bytes"),
                },
            );
            continue;
        };
        let parsed = match text.and_then(|t| t.get(start..end)) {
            Some(l) => line::parse_str(l),
            None => line::parse(&chunk.text[start..end]),
        };
        match parsed {
            Ok(l) => {
                batch.push(&classifier.classify(number, &l, register));
                report.stored += 1;
            }
            Err(e) => report.note_malformed(file, number, e),
        }
        start = end;
    }
    (batch.finish(source, chunk.from_line, number), report)
}
