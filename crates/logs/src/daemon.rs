//! Squid's logfile daemon protocol, read from stdin. Each line from Squid starts with a
//! command letter:
//!
//! | | |
//! |---|---|
//! | `L<log line>` | a log line: appended to the journal |
//! | `R` | rotate (`squid -k rotate`): the open segment is closed and the next started |
//! | `F` | flush: what was appended is made durable |
//! | `r<n>`, `b<n>` | the rotation count and buffering, sent once at open: not needed here |
//! | `T`, `O` | truncate, reopen: ignored (a journal is never truncated) |
//!
//! Squid expects no reply, and silently drops lines once about 4 MiB are queued for the
//! daemon, so this loop does nothing but append: lines go to the page cache as they come
//! (a crash of this process loses none). A background thread makes them durable every
//! [`SYNC_EVERY`] (see [`Writer::sync_in_background`]), and `F`, `R` and the end of input
//! do at once, so a crash of the machine loses at most that much.

use std::io::{self, BufRead, BufReader, Read};
use std::time::Duration;

use crate::journal::Writer;

/// How often appended lines are made durable while Squid keeps sending.
pub const SYNC_EVERY: Duration = Duration::from_millis(200);

/// What one run read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub lines: u64,
    pub rotations: u64,
    /// Commands that are not part of the protocol (reported on stderr, first few only).
    pub unknown: u64,
}

/// Reads Squid's commands from `input` until it closes, appending log lines to `writer`.
/// `rotated` is called after each rotation (the loader may then finish the closed
/// segment).
pub fn run(input: impl Read, writer: &mut Writer, mut rotated: impl FnMut()) -> io::Result<Stats> {
    let mut input = BufReader::with_capacity(256 * 1024, input);
    let mut pending: Vec<u8> = Vec::with_capacity(256 * 1024);
    let mut stats = Stats::default();
    let mut line: Vec<u8> = Vec::with_capacity(1024);
    loop {
        // Everything Squid has sent so far is appended, in one write, before waiting for
        // more.
        if input.buffer().is_empty() && !pending.is_empty() {
            writer.append(&pending)?;
            pending.clear();
        }
        line.clear();
        let n = input.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            // Squid closed the pipe in the middle of a line: keep it, whole.
            line.push(b'\n');
        }
        match line[0] {
            b'L' => {
                pending.extend_from_slice(&line[1..]);
                stats.lines += 1;
            }
            b'R' => {
                writer.append(&pending)?;
                pending.clear();
                writer.rotate()?;
                stats.rotations += 1;
                rotated();
            }
            b'F' => {
                writer.append(&pending)?;
                pending.clear();
                writer.sync()?;
            }
            b'r' | b'b' | b'T' | b'O' | b'\n' => {}
            other => {
                stats.unknown += 1;
                if stats.unknown <= 10 {
                    eprintln!(
                        "undersign logs daemon: ignored a line starting {:?}, which is not a logfile daemon command",
                        char::from(other)
                    );
                }
            }
        }
    }
    writer.append(&pending)?;
    writer.sync()?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Journal;

    #[test]
    fn log_lines_are_journalled_and_rotation_starts_a_segment() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        let mut w = Writer::open(journal.clone()).unwrap();
        let input = b"r10\nb1\nLfirst line\nLsecond line\nF\nR\nLthird\nXnonsense\nLcut off";
        let mut rotations = 0;
        let stats = run(&input[..], &mut w, || rotations += 1).unwrap();
        assert_eq!(
            stats,
            Stats {
                lines: 4,
                rotations: 1,
                unknown: 1
            }
        );
        assert_eq!(rotations, 1);
        let segments = journal.segments().unwrap();
        let read = |i: usize| std::fs::read_to_string(&segments[i].path).unwrap();
        assert_eq!(read(0), "first line\nsecond line\n");
        assert_eq!(read(1), "third\ncut off\n");
    }
}
