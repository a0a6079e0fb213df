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
//! idempotency of the service does that): a torn or foreign line is skipped with a note, never
//! a reason to stop revoking a leaked key.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::client::Attempts;
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
    /// Reads a journal; a missing file is an empty journal. Lines it skips are noted.
    pub fn read(path: &Path, messages: &Messages) -> anyhow::Result<JournalState> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self::parse(&text, path, messages)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(JournalState::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read journal {}", path.display())),
        }
    }

    pub fn parse(text: &str, path: &Path, messages: &Messages) -> JournalState {
        let mut state = JournalState::default();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let Ok(record) = serde_json::from_str::<Record>(line) else {
                messages.note(format_args!(
                    "{}:{}: skipping a line that is not a journal record (a write cut short?)",
                    path.display(),
                    n + 1
                ));
                continue;
            };
            let entry = match (
                record.event,
                record.outcome.as_deref().map(KeyOutcome::parse),
            ) {
                (Event::Intent, _) => Entry::Pending,
                (Event::Outcome, Some(Some(o))) if o.is_final() => Entry::Settled(o),
                (Event::Outcome, Some(Some(KeyOutcome::Failed(reason)))) => Entry::Failed(reason),
                (Event::Outcome, _) => continue,
            };
            state
                .entries
                .insert((record.endpoint, record.key_hash), entry);
        }
        state
    }

    pub fn get(&self, endpoint: &str, key_hash: &str) -> Option<&Entry> {
        self.entries
            .get(&(endpoint.to_string(), key_hash.to_string()))
    }
}

pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

impl Journal {
    /// Opens (creating) the journal for appending and replays what it holds. A new `.keysweep/`
    /// directory gets a `.gitignore` of `*`, so the journal is neither committed nor scanned.
    pub fn open(path: &Path, messages: &Messages) -> anyhow::Result<(Journal, JournalState)> {
        let state = JournalState::read(path, messages)?;
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
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open journal {}", path.display()))?;
        // A run killed mid-write leaves a line without its newline; the next record must not
        // be glued to it.
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len > 0 && !std::fs::read(path).is_ok_and(|b| b.ends_with(b"\n")) {
            file.write_all(b"\n")
                .with_context(|| format!("cannot write journal {}", path.display()))?;
        }
        // The file's directory entry must survive a crash too, or the first records could vanish
        // with it.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok((
            Journal {
                path: path.to_path_buf(),
                file: Mutex::new(file),
            },
            state,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one record as one line in one `write` (appends of a few hundred bytes are not
    /// interleaved with other writers' on Linux), then fsyncs before returning.
    pub fn append(&self, record: &Record) -> io::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(&line)?;
        file.sync_data()
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
mod tests {
    use super::*;
    use crate::revoke::FoundAt;
    use std::time::Duration;

    const EP: &str = "https://keys.example/v1/revocations";

    fn target(hash: &str) -> Target {
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

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let at = |s| rfc3339(SystemTime::UNIX_EPOCH + Duration::from_millis(s));
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 (a leap day in a century leap year) 12:34:56.789
        assert_eq!(at(951_827_696_789), "2000-02-29T12:34:56.789Z");
        assert_eq!(at(1_709_251_199_000), "2024-02-29T23:59:59.000Z");
    }
}
