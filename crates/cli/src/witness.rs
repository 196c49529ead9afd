//! The witness files: `school-<id>.witness` beside `school-<id>.key`, one signed line per
//! checkpoint (`undersign_core::ledger::witness`). Appended only, each line fsynced before
//! the checkpoint counts; never rewritten. Back them up with the keys.

use anyhow::Context;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use undersign_core::SchoolId;
use undersign_core::ledger::{Checkpoint, Witnessed};

/// Where the witness of `school` lives.
pub fn path(dir: &Path, school: SchoolId) -> PathBuf {
    dir.join(format!("school-{school}.witness"))
}

/// What a witness file holds: its good lines, and the lines that could not be read (each
/// with its number and what is wrong).
#[derive(Debug, Default)]
pub struct WitnessFile {
    pub lines: Vec<Witnessed>,
    pub unreadable: Vec<(usize, String)>,
}

impl WitnessFile {
    pub fn last(&self) -> Option<&Witnessed> {
        self.lines.last()
    }
}

/// Reads the witness of `school`, or `None` if there is no file.
pub fn read(dir: &Path, school: SchoolId) -> anyhow::Result<Option<WitnessFile>> {
    let path = path(dir, school);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read the witness file {}", path.display()));
        }
    };
    let mut file = WitnessFile::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match Checkpoint::parse_witness_line(line) {
            Ok(checkpoint) => file.lines.push(Witnessed {
                line: i + 1,
                checkpoint,
            }),
            Err(e) => file.unreadable.push((i + 1, e)),
        }
    }
    Ok(Some(file))
}

/// Appends one checkpoint and waits until it is on disk.
pub fn append(dir: &Path, checkpoint: &Checkpoint) -> anyhow::Result<()> {
    let path = path(dir, checkpoint.school);
    let created = !path.exists();
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open the witness file {}", path.display()))?;
    writeln!(file, "{}", checkpoint.witness_line())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the witness file {}", path.display()))?;
    if created {
        // The new file's directory entry must be durable too.
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot sync the key directory {}", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use undersign_core::ledger::ChainHead;

    #[test]
    fn lines_are_appended_and_read_back_with_their_numbers() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(read(tmp.path(), SchoolId(2)).unwrap().is_none());
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        for seq in [1, 4] {
            let head = ChainHead {
                seq,
                hash: "ab".repeat(32),
            };
            append(
                tmp.path(),
                &Checkpoint::sign(SchoolId(2), &head, Utc::now(), &key),
            )
            .unwrap();
        }
        let mut f = OpenOptions::new()
            .append(true)
            .open(path(tmp.path(), SchoolId(2)))
            .unwrap();
        writeln!(f, "not a witness line").unwrap();
        let file = read(tmp.path(), SchoolId(2)).unwrap().unwrap();
        assert_eq!(file.lines.len(), 2);
        assert_eq!(file.last().unwrap().checkpoint.seq, 4);
        assert_eq!(file.last().unwrap().line, 2);
        assert_eq!(file.unreadable.len(), 1);
        assert_eq!(file.unreadable[0].0, 3);
    }
}
