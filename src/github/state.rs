//! What GitHub runs remember between runs, and the rule that keeps it honest: state only moves
//! forward after the findings it covers have been written. A run killed before its report is
//! out leaves the old state, so the next run looks at the same things again (a repeat, never a
//! miss).
//!
//! Layout of the cache directory (`--cache`), one subdirectory per API host:
//! ```text
//! <cache>/<api-host>/mirrors/<owner>/<name>.git   bare mirror (heads and tags)
//! <cache>/<api-host>/state/<owner>/<name>.git.state   the git engine's incremental state
//! <cache>/<api-host>/state/<owner>/<name>.sweep.json  pushed_at and rules of the last sweep
//! <cache>/<api-host>/events/<feed>.json           events poller position (default --state)
//! ```
//! One file per repository (no shared index) means concurrent sweeps of different shards on one
//! cache never overwrite each other's state.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::rules::RuleSet;

/// Writes `bytes` to `path` durably (see [`crate::atomic::write`]); the error names the file.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    crate::atomic::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Where one API host's mirrors and state live.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    pub fn new(dir: &Path, host_label: &str) -> Cache {
        let host: String = host_label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Cache {
            root: dir.join(host),
        }
    }

    pub fn mirror(&self, owner: &str, name: &str) -> PathBuf {
        self.root
            .join("mirrors")
            .join(owner)
            .join(format!("{name}.git"))
    }

    pub fn git_state(&self, owner: &str, name: &str) -> PathBuf {
        self.root
            .join("state")
            .join(owner)
            .join(format!("{name}.git.state"))
    }

    pub fn sweep_record(&self, owner: &str, name: &str) -> PathBuf {
        self.root
            .join("state")
            .join(owner)
            .join(format!("{name}.sweep.json"))
    }

    pub fn events_state(&self, feed_label: &str) -> PathBuf {
        self.root.join("events").join(format!("{feed_label}.json"))
    }
}

/// State files written by this run but not yet in force. The git engine and the sweep write
/// to a `.pending` sibling; [`Pending::commit`] renames them into place once the report holding
/// what they cover has been written. Until then the old state stays in force.
#[derive(Debug, Default)]
pub struct Pending {
    staged: Mutex<Vec<(PathBuf, PathBuf)>>,
}

impl Pending {
    /// A pending copy of `path` to hand to a writer that reads the old state and writes the new
    /// one in the same file (the git engine's `--state`).
    pub fn stage(&self, path: &Path) -> anyhow::Result<PathBuf> {
        let pending = pending_path(path);
        // Staged before in this run (two events on one repository): the pending file already
        // holds the newer state, which the old one must not overwrite.
        if self.lock().iter().any(|(p, _)| p == path) {
            return Ok(pending);
        }
        if let Some(dir) = pending.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        match fs::copy(path, &pending) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // No state yet: make sure a stale pending file from a killed run is not read.
                let _ = fs::remove_file(&pending);
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot copy {}", path.display()));
            }
        }
        self.push(path, pending.clone());
        Ok(pending)
    }

    /// Writes `bytes` as the pending new content of `path`.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
        let pending = pending_path(path);
        atomic_write(&pending, bytes)?;
        self.push(path, pending);
        Ok(())
    }

    fn push(&self, path: &Path, pending: PathBuf) {
        let mut staged = self.lock();
        staged.retain(|(p, _)| p != path);
        staged.push((path.to_path_buf(), pending));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(PathBuf, PathBuf)>> {
        self.staged.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts every pending file in force. Each rename is atomic; a crash half-way leaves some
    /// repositories at their old state, which only means they are looked at again.
    pub fn commit(&self) -> anyhow::Result<()> {
        let staged = std::mem::take(&mut *self.lock());
        for (path, pending) in staged {
            match fs::rename(&pending, &path) {
                Ok(()) => {}
                // The writer never created it (e.g. the scan failed before writing state).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot update {}", path.display()))
                }
            }
            crate::atomic::sync_dir(&path);
        }
        Ok(())
    }
}

fn pending_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".pending");
    path.with_file_name(name)
}

/// What the last complete sweep of one repository saw. When GitHub reports the same
/// `pushed_at` and the rules are the same, nothing new can be in the repository, so a rerun
/// skips even the fetch.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SweepRecord {
    pub pushed_at: Option<String>,
    pub rules: String,
}

impl SweepRecord {
    pub fn load(path: &Path) -> Option<SweepRecord> {
        // A missing or unreadable record only costs a fetch: never an error.
        serde_json::from_slice(&fs::read(path).ok()?).ok()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

/// The rules in force, as a sweep record stores them: a repository swept under other rules is
/// swept again.
pub fn rules_digest(rules: &RuleSet) -> String {
    hex::encode(&rules.digest()[..16])
}

/// The events poller's position in one feed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventsState {
    /// The feed this state belongs to (`orgs/acme`): a state file given for another feed is
    /// refused rather than silently skipping that feed's events.
    pub feed: String,
    /// The newest event id handled; events up to it are never handled again.
    pub last_event_id: Option<String>,
    /// ETag of the first page when `last_event_id` was recorded, for `If-None-Match`.
    pub etag: Option<String>,
    /// Events newer than `last_event_id` whose handling failed, with the passes tried so far:
    /// the position stays before the oldest of them, so the next pass reads them again. Ids
    /// only, never an event's content (it may hold a secret).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retry>,
    /// Events newer than `last_event_id` that were handled (after a failed one): not again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub done: Vec<String>,
}

/// An event to handle again on the next pass.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Retry {
    pub id: String,
    pub attempts: u32,
}

impl EventsState {
    pub fn load(path: &Path, feed: &str) -> anyhow::Result<EventsState> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(EventsState {
                    feed: feed.to_string(),
                    ..Default::default()
                })
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let state: EventsState = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a keysweep events state file", path.display()))?;
        anyhow::ensure!(
            state.feed == feed,
            "{} holds the position in the {} feed, not {feed}; give another --state file",
            path.display(),
            state.feed
        );
        Ok(state)
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        atomic_write(path, &serde_json::to_vec_pretty(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/state.json");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn pending_state_is_in_force_only_after_commit() {
        let dir = tempfile::tempdir().unwrap();
        let engine = dir.path().join("r.git.state");
        let record = dir.path().join("r.sweep.json");
        fs::write(&engine, b"old").unwrap();
        let pending = Pending::default();
        let staged = pending.stage(&engine).unwrap();
        assert_eq!(fs::read(&staged).unwrap(), b"old");
        fs::write(&staged, b"new").unwrap();
        pending.write(&record, b"{}").unwrap();
        assert_eq!(fs::read(&engine).unwrap(), b"old");
        assert!(!record.exists());
        // Staging again in the same run keeps the newer pending content.
        assert_eq!(pending.stage(&engine).unwrap(), staged);
        assert_eq!(fs::read(&staged).unwrap(), b"new");
        pending.commit().unwrap();
        assert_eq!(fs::read(&engine).unwrap(), b"new");
        assert_eq!(fs::read(&record).unwrap(), b"{}");
        assert!(!staged.exists());
    }

    #[test]
    fn events_state_belongs_to_one_feed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        let fresh = EventsState::load(&p, "orgs/acme").unwrap();
        assert_eq!(fresh.last_event_id, None);
        EventsState {
            feed: "orgs/acme".into(),
            last_event_id: Some("42".into()),
            etag: Some("\"e\"".into()),
            ..EventsState::default()
        }
        .save(&p)
        .unwrap();
        assert_eq!(
            EventsState::load(&p, "orgs/acme")
                .unwrap()
                .last_event_id
                .as_deref(),
            Some("42")
        );
        let err = EventsState::load(&p, "users/bob").unwrap_err().to_string();
        assert!(err.contains("orgs/acme"), "{err}");
    }

    #[test]
    fn cache_paths_are_per_host_and_sanitised() {
        let c = Cache::new(Path::new("/c"), "127.0.0.1_8080");
        assert_eq!(
            c.mirror("acme", "api"),
            PathBuf::from("/c/127.0.0.1_8080/mirrors/acme/api.git")
        );
        let c = Cache::new(Path::new("/c"), "a/../b");
        assert!(c.mirror("o", "n").starts_with("/c/a_.._b"));
    }
}
