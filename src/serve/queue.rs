//! The durable queue of repository work (pushes, wiki edits, repositories made public): a
//! webhook delivery is acknowledged only once its item is on disk, so `kill -9` at any moment
//! loses no acknowledged work. One file per item, written with `atomic::write` (fsync, rename,
//! directory fsync) and removed only after the work is done and its keys revoked: a crash in
//! between makes the restarted worker do it again, which revocation's idempotency makes safe.
//!
//! Items carry references (repository, commit ids, ref) and never payload text: a leaked key
//! must not come to rest on the receiver's disk.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::atomic;

/// One unit of repository work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The webhook delivery it came from (`X-GitHub-Delivery`).
    pub delivery: String,
    /// The webhook event name (`push`, `gollum`, `repository`, `pull_request`).
    pub event: String,
    /// The payload's `action`, if any (`publicized`, `synchronize`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// `OWNER/NAME`.
    pub repo: String,
    /// Commit ids and the ref: what the handler needs to find what was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// When the delivery was received (unix milliseconds): latency is measured from it.
    pub received_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("the work queue is full ({0} items)")]
    Full(usize),
    #[error("cannot write to the work queue: {0}")]
    Io(#[from] io::Error),
}

pub struct Queue {
    dir: PathBuf,
    bound: usize,
    state: Mutex<State>,
    ready: Condvar,
}

struct State {
    pending: VecDeque<PathBuf>,
    next_seq: u64,
    closed: bool,
}

impl Queue {
    /// Opens the queue in `dir`, picking up what a previous run left, oldest first.
    pub fn open(dir: &Path, bound: usize) -> io::Result<Queue> {
        std::fs::create_dir_all(dir)?;
        let mut files: Vec<(u64, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            match name
                .strip_suffix(".json")
                .and_then(|n| n.split('-').next()?.parse().ok())
            {
                Some(seq) => files.push((seq, path)),
                // A temporary file of a write cut by a crash: that item was never acknowledged.
                None if name.starts_with('.') => {
                    let _ = std::fs::remove_file(&path);
                }
                None => {}
            }
        }
        files.sort();
        let next_seq = files.last().map_or(0, |(seq, _)| seq + 1);
        Ok(Queue {
            dir: dir.to_path_buf(),
            bound,
            state: Mutex::new(State {
                pending: files.into_iter().map(|(_, p)| p).collect(),
                next_seq,
                closed: false,
            }),
            ready: Condvar::new(),
        })
    }

    pub fn len(&self) -> usize {
        self.lock().pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes `item` durably and queues it. Blocking (fsync): call from a blocking thread.
    pub fn push(&self, item: &Item) -> Result<(), PushError> {
        let mut state = self.lock();
        if state.pending.len() >= self.bound {
            return Err(PushError::Full(self.bound));
        }
        let path = self
            .dir
            .join(format!("{:020}-{}.json", state.next_seq, item.delivery));
        let bytes = serde_json::to_vec(item).map_err(io::Error::other)?;
        atomic::write(&path, &bytes)?;
        state.next_seq += 1;
        state.pending.push_back(path);
        self.ready.notify_one();
        Ok(())
    }

    /// The oldest item, waiting up to `wait` for one: `None` once the queue is closed,
    /// `Some(None)` when nothing came. The item stays on disk until [`Queue::done`]; a file
    /// that cannot be read comes back as the error.
    #[allow(clippy::type_complexity)]
    pub fn next(&self, wait: Duration) -> Option<Option<(PathBuf, io::Result<Item>)>> {
        let mut state = self.lock();
        if state.pending.is_empty() && !state.closed {
            state = self
                .ready
                .wait_timeout(state, wait)
                .map_or_else(|e| e.into_inner().0, |(s, _)| s);
        }
        if state.closed {
            return None;
        }
        let Some(path) = state.pending.front().cloned() else {
            return Some(None);
        };
        drop(state);
        let item = read_item(&path);
        Some(Some((path, item)))
    }

    /// Waits `d` before a retry, or less if the queue is closed meanwhile.
    pub fn pause(&self, d: Duration) {
        let deadline = std::time::Instant::now() + d;
        let mut state = self.lock();
        while !state.closed {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .ready
                .wait_timeout(state, left)
                .map_or_else(|e| e.into_inner().0, |(s, _)| s);
        }
    }

    /// The item at `path` is handled: forget it, on disk too.
    pub fn done(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock();
        state.pending.retain(|p| p != path);
        drop(state);
        std::fs::remove_file(path)?;
        atomic::sync_dir(path);
        Ok(())
    }

    /// Wakes the worker and makes `next` return `None`: shutdown. Items stay on disk.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A queue item is a few hundred bytes of references; one bigger than this is not ours.
const ITEM_MAX: u64 = 64 << 10;

/// Reads one item, bounded: a file put in the queue directory by mistake cannot exhaust memory.
fn read_item(path: &Path) -> io::Result<Item> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(ITEM_MAX + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > ITEM_MAX {
        return Err(io::Error::other(format!(
            "over {ITEM_MAX} bytes: not a work item"
        )));
    }
    serde_json::from_slice(&bytes).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(delivery: &str) -> Item {
        Item {
            delivery: delivery.into(),
            event: "push".into(),
            action: None,
            repo: "o/r".into(),
            before: Some("a".repeat(40)),
            after: Some("b".repeat(40)),
            git_ref: Some("refs/heads/main".into()),
            received_ms: 1,
        }
    }

    #[test]
    fn items_survive_a_restart_in_order_until_done() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path(), 10).unwrap();
        q.push(&item("d1")).unwrap();
        q.push(&item("d2")).unwrap();
        drop(q);
        let q = Queue::open(dir.path(), 10).unwrap();
        assert_eq!(q.len(), 2);
        let (path, first) = q.next(Duration::ZERO).flatten().unwrap();
        assert_eq!(first.unwrap(), item("d1"));
        q.done(&path).unwrap();
        q.push(&item("d3")).unwrap();
        let order: Vec<String> = std::iter::from_fn(|| {
            let (p, i) = q.next(Duration::ZERO).flatten()?;
            q.done(&p).unwrap();
            Some(i.unwrap().delivery)
        })
        .collect();
        assert_eq!(order, ["d2", "d3"]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_full_queue_refuses_and_a_closed_one_stops_the_worker() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path(), 1).unwrap();
        q.push(&item("d1")).unwrap();
        let err = q.push(&item("d2")).unwrap_err();
        assert_eq!(err.to_string(), "the work queue is full (1 items)");
        let started = std::time::Instant::now();
        q.close();
        assert!(q.next(Duration::from_secs(5)).is_none());
        q.pause(Duration::from_secs(5));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(Queue::open(dir.path(), 1).unwrap().len(), 1, "kept on disk");
    }

    #[test]
    fn an_oversized_item_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b' '; ITEM_MAX as usize + 10]).unwrap();
        let err = read_item(&path).unwrap_err();
        assert_eq!(err.to_string(), "over 65536 bytes: not a work item");
    }
}
