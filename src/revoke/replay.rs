//! Replaying the revocation journal ([`super::journal`]): the last word on each key, read as a
//! stream of bounded lines. Damage is skipped and reported, never a reason to stop revoking.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use anyhow::Context;

use super::journal::{Event, Record};
use super::KeyOutcome;
use crate::messages::Messages;

/// What the journal says about one key at one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// An intent with no outcome after it: the run was interrupted.
    Pending,
    Settled(KeyOutcome),
    Failed(String),
}

/// The journal replayed: the last word on each (endpoint, key hash). Keyed by endpoint too,
/// because "unknown to service A" says nothing about service B.
#[derive(Debug, Default)]
pub struct JournalState {
    entries: HashMap<(String, String), Entry>,
}

impl JournalState {
    /// Reads a journal; a missing file is an empty journal. Lines it skips are reported.
    pub fn read(path: &Path, messages: &Messages) -> anyhow::Result<JournalState> {
        // Checked before opening: opening a FIFO to read waits for a writer, forever.
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(not_regular(path));
        }
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(JournalState::default()),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read journal {}", path.display()))
            }
        };
        regular(&file, path)?;
        Self::replay(file, path, messages)
    }

    /// Replays the lines of `journal` (streamed: memory grows with the keys, not the file).
    /// A line that is cut short at the end (a killed run) is noted; a damaged line elsewhere
    /// (not UTF-8, not a record, over [`LINE_MAX`]) is a warning with its line number. Neither
    /// stops the replay: the key service's idempotency, not the journal, keeps revocation right.
    pub fn replay(journal: impl Read, path: &Path, messages: &Messages) -> anyhow::Result<Self> {
        let mut reader = BufReader::new(journal);
        let mut state = JournalState::default();
        let mut line = Vec::new();
        let mut n = 0;
        while let Some(read) = bounded_line(&mut reader, &mut line)
            .with_context(|| format!("cannot read journal {}", path.display()))?
        {
            n += 1;
            let damage = match read {
                Line::TooLong => Some("is longer than any journal record"),
                Line::Whole | Line::Torn => match std::str::from_utf8(&line) {
                    Err(_) => Some("is not UTF-8"),
                    Ok(text) if text.trim().is_empty() => continue,
                    Ok(text) => match serde_json::from_str::<Record>(text) {
                        Ok(record) => {
                            state.apply(record);
                            continue;
                        }
                        Err(_) => Some("is not a journal record"),
                    },
                },
            };
            let where_ = format!("{}:{n}", path.display());
            match (read, damage) {
                (Line::Torn, Some(_)) => messages.note(format_args!(
                    "{where_}: skipping a line that is not a journal record (a write cut short?)"
                )),
                (_, Some(what)) => messages.warn(format_args!(
                    "{where_}: skipping a damaged line: it {what}; the keys it named, if any, \
                     may be sent again (harmless: revocation is idempotent)"
                )),
                _ => {}
            }
        }
        Ok(state)
    }

    fn apply(&mut self, record: Record) {
        let entry = match (
            record.event,
            record.outcome.as_deref().map(KeyOutcome::parse),
        ) {
            (Event::Intent, _) => Entry::Pending,
            (Event::Outcome, Some(Some(o))) if o.is_final() => Entry::Settled(o),
            (Event::Outcome, Some(Some(KeyOutcome::Failed(reason)))) => Entry::Failed(reason),
            (Event::Outcome, _) => return,
        };
        self.entries
            .insert((record.endpoint, record.key_hash), entry);
    }

    pub fn get(&self, endpoint: &str, key_hash: &str) -> Option<&Entry> {
        self.entries
            .get(&(endpoint.to_string(), key_hash.to_string()))
    }
}

/// A journal line is a few hundred bytes; a longer one is damage, read no further than this.
pub const LINE_MAX: usize = 64 << 10;

/// How a line of the journal ended.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Line {
    /// With its newline.
    Whole,
    /// At the end of the file without a newline: a write cut short.
    Torn,
    /// Over [`LINE_MAX`]: `buf` holds its start only.
    TooLong,
}

/// The next line into `buf` (without its newline), holding at most `LINE_MAX + 1` bytes of it
/// whatever the input: `/dev/zero` or a file without newlines cannot exhaust memory.
fn bounded_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Option<Line>> {
    buf.clear();
    let mut seen = false;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(seen.then_some(match buf.len() > LINE_MAX {
                true => Line::TooLong,
                false => Line::Torn,
            }));
        }
        seen = true;
        let end = chunk.iter().position(|&b| b == b'\n');
        let take = end.unwrap_or(chunk.len());
        let room = (LINE_MAX + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..take.min(room)]);
        reader.consume(end.map_or(take, |e| e + 1));
        if end.is_some() {
            return Ok(Some(match buf.len() > LINE_MAX {
                true => Line::TooLong,
                false => Line::Whole,
            }));
        }
    }
}

/// The journal is appended to and replayed: a device, FIFO or directory in its place (e.g.
/// `/dev/full`, `/dev/zero`) would make writes fail forever or a replay read forever.
pub(super) fn regular(file: &File, path: &Path) -> anyhow::Result<()> {
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read journal {}", path.display()))?;
    match meta.is_file() {
        true => Ok(()),
        false => Err(not_regular(path)),
    }
}

fn not_regular(path: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "the journal {} is not a regular file; give --journal a path to a file (created if \
         missing)",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::revoke::journal::tests::{target, EP};

    fn quiet() -> Messages {
        Messages::capture()
    }
    use crate::revoke::journal::Journal;

    #[test]
    fn damaged_lines_are_skipped_with_a_warning_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let line = |t: &str| serde_json::to_string(&Record::intent(EP, &target(t))).unwrap();
        let mut text = format!("{}\n", line("a")).into_bytes();
        text.extend_from_slice(b"{\"event\":\"intent\xff\xfe\"}\n");
        text.extend_from_slice(&vec![b'x'; LINE_MAX + 10]);
        text.extend_from_slice(format!("\n{}\n", line("b")).as_bytes());
        std::fs::write(&path, text).unwrap();
        let messages = Messages::capture();
        let state = JournalState::read(&path, &messages).unwrap();
        assert_eq!(state.get(EP, "a"), Some(&Entry::Pending));
        assert_eq!(state.get(EP, "b"), Some(&Entry::Pending));
        let p = path.display();
        assert_eq!(
            messages.captured(),
            format!(
                "keysweep: warning: {p}:2: skipping a damaged line: it is not UTF-8; the keys it \
                 named, if any, may be sent again (harmless: revocation is idempotent)\n\
                 keysweep: warning: {p}:3: skipping a damaged line: it is longer than any \
                 journal record; the keys it named, if any, may be sent again (harmless: \
                 revocation is idempotent)\n"
            )
        );
        // Opening for a run replays the same way and appends after the damage.
        let (j, state) = Journal::open(&path, &quiet()).unwrap();
        assert_eq!(state.get(EP, "b"), Some(&Entry::Pending));
        j.append(&Record::intent(EP, &target("c"))).unwrap();
        let state = JournalState::read(&path, &quiet()).unwrap();
        assert_eq!(state.get(EP, "c"), Some(&Entry::Pending));
    }
}
