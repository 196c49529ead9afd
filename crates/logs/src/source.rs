//! Reading a log source line by line: a plain or gzip-compressed file, or a journal
//! segment that may still be growing. Lines are bounded in length, so one corrupt line of
//! hundreds of megabytes costs a counter, not the memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

/// Longer lines are reported and skipped. Squid itself cuts URLs at 8 KiB by default.
pub const MAX_LINE: usize = 64 * 1024;

/// One line as read.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// A whole line, without its line ending.
    Line(&'a [u8]),
    /// A line longer than [`MAX_LINE`], skipped.
    TooLong,
}

/// Reads lines from `R`, keeping count.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Whether a last line without a line ending is a line (a finished file) or a write
    /// still in progress (a journal segment being appended to), left for later.
    tail_is_line: bool,
    /// Lines returned so far.
    pub lines: u64,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R, tail_is_line: bool) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(1024),
            tail_is_line,
            lines: 0,
        }
    }

    /// The next line, or `None` at the end.
    pub fn next_line(&mut self) -> io::Result<Option<Next<'_>>> {
        self.buf.clear();
        let mut too_long = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                // The end: a last line without its ending.
                if (self.buf.is_empty() && !too_long) || !self.tail_is_line {
                    return Ok(None);
                }
                break;
            }
            match memchr::memchr(b'\n', available) {
                Some(i) => {
                    if !too_long {
                        self.buf.extend_from_slice(&available[..i]);
                    }
                    self.inner.consume(i + 1);
                    break;
                }
                None => {
                    let n = available.len();
                    if !too_long {
                        self.buf.extend_from_slice(available);
                    }
                    self.inner.consume(n);
                }
            }
            if self.buf.len() > MAX_LINE {
                too_long = true;
                self.buf.clear();
            }
        }
        if self.buf.len() > MAX_LINE {
            too_long = true;
        }
        self.lines += 1;
        if too_long {
            return Ok(Some(Next::TooLong));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(Next::Line(&self.buf)))
    }
}

impl<R: BufRead> LineReader<R> {
    /// Appends lines to `text`, each line's end (`None`: too long, skipped) to `ends`,
    /// until `ends` holds `max_lines` or `text` `max_bytes`, or the input ends. Lines
    /// are as [`LineReader::next_line`] gives them, copied once.
    pub fn read_into(
        &mut self,
        text: &mut Vec<u8>,
        ends: &mut Vec<Option<usize>>,
        max_lines: usize,
        max_bytes: usize,
    ) -> io::Result<()> {
        while ends.len() < max_lines && text.len() < max_bytes {
            // The common case: a whole line is in the buffer already.
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if let Some(i) = memchr::memchr(b'\n', available)
                && i <= MAX_LINE
            {
                let line = &available[..i];
                text.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
                ends.push(Some(text.len()));
                self.inner.consume(i + 1);
                self.lines += 1;
                continue;
            }
            match self.next_line()? {
                None => break,
                Some(Next::TooLong) => ends.push(None),
                Some(Next::Line(l)) => {
                    text.extend_from_slice(l);
                    ends.push(Some(text.len()));
                }
            }
        }
        Ok(())
    }
}

/// Counts the bytes read through it (the compressed bytes of a gzip file), for progress.
pub struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a log file, plain or gzip (told by its first bytes, not its name), for reading
/// from the start. `count` receives the bytes read from the file.
pub fn open_file(path: &Path, count: Arc<AtomicU64>) -> io::Result<Box<dyn BufRead + Send>> {
    let mut file = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let gzip = file.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let counted = Counted { inner: file, count };
    Ok(if gzip {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            MultiGzDecoder::new(counted),
        ))
    } else {
        Box::new(BufReader::with_capacity(256 * 1024, counted))
    })
}

/// A log file's source name: `file:` and the SHA-256 of its first line, so that the same
/// log is one source whatever it is called and however it is compressed (`access.log`
/// today is `access.log.1.gz` next week), and the lines stored from it are counted once.
/// `None` for a file without a whole first line.
pub fn file_source(path: &Path) -> io::Result<Option<String>> {
    let mut reader = LineReader::new(open_file(path, Arc::default())?, true);
    let first = match reader.next_line()? {
        Some(Next::Line(l)) => Sha256::digest(l),
        Some(Next::TooLong) => return Ok(None),
        None => return Ok(None),
    };
    Ok(Some(format!("file:{}", hex::encode(first))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], tail_is_line: bool) -> Vec<String> {
        let mut r = LineReader::new(io::BufReader::with_capacity(7, input), tail_is_line);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push(match l {
                Next::Line(l) => String::from_utf8_lossy(l).into_owned(),
                Next::TooLong => "<too long>".into(),
            });
        }
        out
    }

    #[test]
    fn a_growing_segment_leaves_its_unfinished_line_for_later() {
        assert_eq!(lines(b"a\r\nbb\nccc", true), ["a", "bb", "ccc"]);
        assert_eq!(lines(b"a\nbb\nccc", false), ["a", "bb"]);
        assert_eq!(lines(b"a\n\nb\n", false), ["a", "", "b"]);
    }

    #[test]
    fn lines_read_in_bulk_are_the_lines_read_one_by_one() {
        let mut input = b"a\r\nbb\n\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 1));
        input.extend_from_slice(b"\nlast");
        for tail_is_line in [true, false] {
            let mut r = LineReader::new(io::BufReader::with_capacity(7, &input[..]), tail_is_line);
            let (mut text, mut ends) = (Vec::new(), Vec::new());
            r.read_into(&mut text, &mut ends, 2, usize::MAX).unwrap();
            assert_eq!((r.lines, ends.len()), (2, 2));
            r.read_into(&mut text, &mut ends, 100, usize::MAX).unwrap();
            let mut start = 0;
            let mut got = Vec::new();
            for end in &ends {
                got.push(match end {
                    Some(end) => {
                        let l = String::from_utf8_lossy(&text[start..*end]).into_owned();
                        start = *end;
                        l
                    }
                    None => "<too long>".into(),
                });
            }
            assert_eq!(got, lines(&input, tail_is_line));
            assert_eq!(r.lines, got.len() as u64);
        }
    }

    #[test]
    fn an_overlong_line_is_skipped_without_being_kept() {
        let mut input = b"first\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE * 3));
        input.extend_from_slice(b"\nlast\n");
        assert_eq!(lines(&input, true), ["first", "<too long>", "last"]);
    }
}
