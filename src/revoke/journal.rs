//! The revocation journal: append-only JSON lines, each written whole and fsynced before
//! keysweep moves on. An `intent` goes down before a request leaves, an `outcome` after its
//! answer. A rerun skips keys with a final outcome and retries keys with an intent and no
//! outcome (the run that wrote it was killed): the retry carries the same `Idempotency-Key`, so
//! the service revokes the key at most once whatever happened to the first request.
//!
//! Records hold the key's hash and public metadata, never the key. They also never hold the
//! `mk_live_` key id: the journal lives in the scanned tree by default, and the id would show up
//! as a finding of the next scan.
//!
//! The journal is an audit trail and an optimisation, not what keeps revocation correct (the
//! idempotency of the service does that): a torn or damaged line is skipped and reported
//! ([`super::replay`]), never a reason to stop revoking a leaked key. A failed write, though,
//! stops revocation: a request must never leave without its intent on disk.
//!
//! One run at a time per journal (an advisory lock held while it is open): two runs that both
//! replayed the journal before either wrote would both send every key.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::client::Attempts;
use super::replay::regular;
pub use super::replay::{Entry, JournalState};
use super::{KeyOutcome, Target};
use crate::messages::Messages;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Intent,
    Outcome,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub event: Event,
    /// UTC, RFC 3339.
    pub at: String,
    pub endpoint: String,
    pub key_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// `revoked`, `already_revoked`, `unknown_key` or `failed: reason` (outcomes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
}

impl Record {
    pub fn intent(endpoint: &str, target: &Target) -> Record {
        Record {
            event: Event::Intent,
            at: rfc3339(SystemTime::now()),
            endpoint: endpoint.to_string(),
            key_hash: target.key_hash.clone(),
            key_prefix: Some(target.key_prefix.clone()),
            rule: Some(target.rule.clone()),
            outcome: None,
            status: None,
            attempts: None,
        }
    }

    pub fn outcome(
        endpoint: &str,
        target: &Target,
        outcome: &KeyOutcome,
        attempts: &Attempts,
    ) -> Record {
        Record {
            event: Event::Outcome,
            outcome: Some(outcome.to_string()),
            status: attempts.status,
            attempts: Some(attempts.count),
            key_prefix: None,
            rule: None,
            ..Record::intent(endpoint, target)
        }
    }
}

/// How long a run waits for another run holding the same journal before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// The append side of the journal, with group commit: records that arrive while an fsync is
/// under way are written and fsynced together by the next one, so N concurrent revocations
/// cost about one fsync per round instead of N. [`Journal::append`] returns only once its own
/// record is on disk, so durability is that of one fsync per record.
pub struct Journal {
    path: PathBuf,
    /// Holds the advisory lock for the life of the journal. Only the thread that is the
    /// commit leader writes to it.
    file: File,
    group: Mutex<Group>,
    committed: Condvar,
}

#[derive(Default)]
struct Group {
    /// Lines appended and not yet handed to a commit.
    waiting: Vec<u8>,
    /// Sequence number of the last record appended / last record on disk.
    appended: u64,
    durable: u64,
    /// A commit is writing and syncing.
    leader: bool,
    /// The first write or sync error: every later append fails with it. After a failed
    /// write, what reached the file is unknown, and a journal that may have lost an intent
    /// must not let more requests leave.
    failed: Option<(io::ErrorKind, String)>,
}

impl Journal {
    /// Opens (creating) the journal for appending, takes its lock (waiting up to
    /// [`LOCK_WAIT`] for another run that holds it), and replays what it holds. A new
    /// `.keysweep/` directory gets a `.gitignore` of `*`, so the journal is neither committed
    /// nor scanned.
    pub fn open(path: &Path, messages: &Messages) -> anyhow::Result<(Journal, JournalState)> {
        Self::open_waiting(path, messages, LOCK_WAIT)
    }

    pub fn open_waiting(
        path: &Path,
        messages: &Messages,
        wait: Duration,
    ) -> anyhow::Result<(Journal, JournalState)> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.exists() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create journal directory {}", dir.display()))?;
            if dir.file_name().is_some_and(|n| n == ".keysweep") {
                std::fs::write(dir.join(".gitignore"), "*\n")
                    .with_context(|| format!("cannot write {}/.gitignore", dir.display()))?;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open journal {}", path.display()))?;
        regular(&file, path)?;
        lock(&file, path, messages, wait)?;
        // Replayed under the lock: a run that held it has written all it sent.
        let state = JournalState::replay(&file, path, messages)?;
        let journal = Journal {
            path: path.to_path_buf(),
            file,
            group: Mutex::default(),
            committed: Condvar::new(),
        };
        journal.end_torn_line()?;
        // The file's directory entry must survive a crash too, or the first records could vanish
        // with it.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok((journal, state))
    }

    /// A run killed mid-write leaves a line without its newline; the next record must not be
    /// glued to it.
    fn end_torn_line(&self) -> anyhow::Result<()> {
        let mut last = [0u8];
        // Appends go to the end whatever the offset, so moving it to read is harmless.
        let torn = (&self.file).seek(SeekFrom::End(-1)).is_ok()
            && (&self.file).read_exact(&mut last).is_ok()
            && last[0] != b'\n';
        if torn {
            (&self.file)
                .write_all(b"\n")
                .with_context(|| format!("cannot write journal {}", self.path.display()))?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `Err` with the reason once a write or sync has failed: the journal takes no more.
    pub fn health(&self) -> Result<(), String> {
        match &self.group().failed {
            None => Ok(()),
            Some((_, reason)) => Err(reason.clone()),
        }
    }

    /// Appends one record as one line and returns once it is on disk (fsynced), committing it
    /// together with the records other threads appended meanwhile.
    pub fn append(&self, record: &Record) -> io::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        let mut group = self.group();
        if let Some(err) = failure(&group) {
            return Err(err);
        }
        group.waiting.extend_from_slice(&line);
        group.appended += 1;
        let mine = group.appended;
        loop {
            if group.durable >= mine {
                return Ok(());
            }
            if let Some(err) = failure(&group) {
                return Err(err);
            }
            if group.leader {
                group = self
                    .committed
                    .wait(group)
                    .unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // Lead one commit: everything waiting, written in one `write` and synced once.
            group.leader = true;
            let (lines, upto) = (std::mem::take(&mut group.waiting), group.appended);
            drop(group);
            let written = (&self.file)
                .write_all(&lines)
                .and_then(|()| self.file.sync_data());
            group = self.group();
            group.leader = false;
            match written {
                Ok(()) => group.durable = upto,
                Err(e) => group.failed = Some((e.kind(), e.to_string())),
            }
            self.committed.notify_all();
        }
    }

    fn group(&self) -> std::sync::MutexGuard<'_, Group> {
        self.group.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn failure(group: &Group) -> Option<io::Error> {
    let (kind, reason) = group.failed.as_ref()?;
    Some(io::Error::new(*kind, reason.clone()))
}

/// Takes the journal's advisory lock, so two runs on one journal never both send a key: the
/// second waits (saying so) until the first is done, then replays what it wrote. Waits at most
/// `wait`, then gives up with the reason.
fn lock(file: &File, path: &Path, messages: &Messages, wait: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => {
                return Err(e)
                    .with_context(|| format!("cannot lock the journal {}", path.display()))
            }
        }
        if started.elapsed() >= wait {
            anyhow::bail!(
                "the journal {} is in use by another keysweep run (still locked after \
                 {wait:?}); nothing was sent. Wait for that run to finish, or give this one its \
                 own --journal",
                path.display(),
            );
        }
        if !said {
            messages.note(format_args!(
                "the journal {} is in use by another keysweep run; waiting up to {wait:?} for it",
                path.display(),
            ));
            said = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// RFC 3339 UTC with milliseconds, without a date crate: days to civil date after Howard
/// Hinnant's `civil_from_days` (http://howardhinnant.github.io/date_algorithms.html).
pub fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::revoke::FoundAt;
    use std::time::Duration;

    pub const EP: &str = "https://keys.example/v1/revocations";

    pub fn target(hash: &str) -> Target {
        Target {
            key_hash: hash.into(),
            key_prefix: "sk_live_".into(),
            key_id: Some("mk_live_0123456789abcdef".into()),
            rule: "t.key".into(),
            redacted: "sk_live_abcd…(51)".into(),
            found_at: FoundAt {
                source: "dir".into(),
                repo: None,
                commit: None,
                path: Some("a".into()),
                line: 1,
                url: None,
            },
            findings: vec![0],
        }
    }

    fn quiet() -> Messages {
        Messages::capture()
    }

    fn attempts() -> Attempts {
        Attempts {
            count: 2,
            status: Some(200),
        }
    }

    #[test]
    fn replay_settles_final_outcomes_and_keeps_interrupted_intents_pending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".keysweep/revocations.jsonl");
        let (j, state) = Journal::open(&path, &quiet()).unwrap();
        assert!(state.get(EP, "a").is_none());
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".keysweep/.gitignore")).unwrap(),
            "*\n"
        );
        let (a, b, c, d) = (target("a"), target("b"), target("c"), target("d"));
        j.append(&Record::intent(EP, &a)).unwrap();
        j.append(&Record::outcome(EP, &a, &KeyOutcome::Revoked, &attempts()))
            .unwrap();
        j.append(&Record::intent(EP, &b)).unwrap();
        j.append(&Record::intent(EP, &c)).unwrap();
        let failed = KeyOutcome::Failed("HTTP 503".into());
        j.append(&Record::outcome(EP, &c, &failed, &attempts()))
            .unwrap();
        j.append(&Record::intent(EP, &d)).unwrap();
        j.append(&Record::outcome(
            EP,
            &d,
            &KeyOutcome::UnknownKey,
            &attempts(),
        ))
        .unwrap();
        drop(j);
        let state = JournalState::read(&path, &quiet()).unwrap();
        assert_eq!(
            state.get(EP, "a"),
            Some(&Entry::Settled(KeyOutcome::Revoked))
        );
        assert_eq!(state.get(EP, "b"), Some(&Entry::Pending));
        assert_eq!(state.get(EP, "c"), Some(&Entry::Failed("HTTP 503".into())));
        assert_eq!(
            state.get(EP, "d"),
            Some(&Entry::Settled(KeyOutcome::UnknownKey))
        );
        // Another service has not settled anything.
        assert_eq!(state.get("https://other.example/revoke", "a"), None);
    }

    #[test]
    fn records_hold_hashes_and_no_key_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let (j, _) = Journal::open(&path, &quiet()).unwrap();
        let t = target("ab12");
        j.append(&Record::intent(EP, &t)).unwrap();
        j.append(&Record::outcome(EP, &t, &KeyOutcome::Revoked, &attempts()))
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(!text.contains("mk_live_"), "{text}");
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["event"], "intent");
        assert_eq!(first["key_hash"], "ab12");
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_the_next_record_starts_a_new_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let t = target("aa");
        let intent = serde_json::to_string(&Record::intent(EP, &t)).unwrap();
        std::fs::write(&path, format!("{intent}\n{{\"event\":\"outc")).unwrap();
        let messages = Messages::capture();
        let (j, state) = Journal::open(&path, &messages).unwrap();
        assert_eq!(state.get(EP, "aa"), Some(&Entry::Pending));
        assert_eq!(
            messages.captured(),
            format!(
                "keysweep: note: {}:2: skipping a line that is not a journal record (a write \
                 cut short?)\n",
                path.display()
            )
        );
        j.append(&Record::outcome(EP, &t, &KeyOutcome::Revoked, &attempts()))
            .unwrap();
        let state = JournalState::read(&path, &quiet()).unwrap();
        assert_eq!(
            state.get(EP, "aa"),
            Some(&Entry::Settled(KeyOutcome::Revoked))
        );
    }

    fn lines_of(path: &Path) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn concurrent_appends_are_committed_together_and_each_returns_once_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let (j, _) = Journal::open(&path, &quiet()).unwrap();
        std::thread::scope(|s| {
            for t in 0..8 {
                let (j, path) = (&j, &path);
                s.spawn(move || {
                    for i in 0..40 {
                        let target = target(&format!("{t}-{i}"));
                        j.append(&Record::intent(EP, &target)).unwrap();
                        j.append(&Record::outcome(
                            EP,
                            &target,
                            &KeyOutcome::Revoked,
                            &attempts(),
                        ))
                        .unwrap();
                        // Returned: the record is in the file (a reader sees it).
                        let state = JournalState::read(path, &quiet()).unwrap();
                        assert_eq!(
                            state.get(EP, &format!("{t}-{i}")),
                            Some(&Entry::Settled(KeyOutcome::Revoked))
                        );
                    }
                });
            }
        });
        let group = j.group();
        assert_eq!((group.appended, group.durable), (640, 640));
        assert!(group.waiting.is_empty() && !group.leader);
        drop(group);
        assert_eq!(
            lines_of(&path).len(),
            640,
            "every record whole, on its own line"
        );
    }

    #[test]
    fn a_failed_write_stops_the_journal_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "").unwrap();
        // A handle that cannot write, as a full disk or a vanished device would answer.
        let j = Journal {
            path: path.clone(),
            file: File::open(&path).unwrap(),
            group: Mutex::default(),
            committed: Condvar::new(),
        };
        assert_eq!(j.health(), Ok(()));
        let first = j.append(&Record::intent(EP, &target("a"))).unwrap_err();
        let again = j.append(&Record::intent(EP, &target("b"))).unwrap_err();
        assert_eq!(first.to_string(), again.to_string());
        assert_eq!(j.health(), Err(first.to_string()));
        assert_eq!(std::fs::read(&path).unwrap(), b"", "nothing half-written");
    }

    #[test]
    fn devices_and_directories_are_refused_as_journals() {
        for path in ["/dev/full", "/dev/zero", "/dev/null"] {
            let err = Journal::open(Path::new(path), &quiet()).err().unwrap();
            assert_eq!(
                err.to_string(),
                format!(
                    "the journal {path} is not a regular file; give --journal a path to a file \
                     (created if missing)"
                )
            );
        }
        let err = JournalState::read(Path::new("/dev/zero"), &quiet()).unwrap_err();
        assert!(err.to_string().contains("is not a regular file"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            // Neither waits for a writer that never comes.
            let err = JournalState::read(&fifo, &quiet()).unwrap_err();
            assert!(err.to_string().contains("is not a regular file"), "{err}");
            let err = Journal::open(&fifo, &quiet()).err().unwrap();
            assert!(err.to_string().contains("is not a regular file"), "{err}");
        }
        let err = Journal::open(dir.path(), &quiet()).err().unwrap();
        assert!(
            format!("{err:#}").contains("cannot open journal"),
            "{err:#}"
        );
    }

    #[test]
    fn a_second_run_on_the_journal_waits_for_the_first_then_sees_what_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let (first, _) = Journal::open(&path, &quiet()).unwrap();
        let messages = Messages::capture();
        let wait = Duration::from_millis(200);
        let err = Journal::open_waiting(&path, &messages, wait).err().unwrap();
        let p = path.display();
        assert_eq!(
            err.to_string(),
            format!(
                "the journal {p} is in use by another keysweep run (still locked after 200ms); \
                 nothing was sent. Wait for that run to finish, or give this one its own \
                 --journal"
            )
        );
        assert_eq!(
            messages.captured(),
            format!(
                "keysweep: note: the journal {p} is in use by another keysweep run; waiting up \
                 to 200ms for it\n"
            )
        );
        let t = target("k");
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(300));
                first.append(&Record::intent(EP, &t)).unwrap();
                first
                    .append(&Record::outcome(EP, &t, &KeyOutcome::Revoked, &attempts()))
                    .unwrap();
                drop(first);
            });
            let (_second, state) =
                Journal::open_waiting(&path, &quiet(), Duration::from_secs(20)).unwrap();
            assert_eq!(
                state.get(EP, "k"),
                Some(&Entry::Settled(KeyOutcome::Revoked)),
                "the second run skips what the first revoked"
            );
        });
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let at = |s| rfc3339(SystemTime::UNIX_EPOCH + Duration::from_millis(s));
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 (a leap day in a century leap year) 12:34:56.789
        assert_eq!(at(951_827_696_789), "2000-02-29T12:34:56.789Z");
        assert_eq!(at(1_709_251_199_000), "2024-02-29T23:59:59.000Z");
    }
}
