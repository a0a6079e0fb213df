//! Webhook deliveries already acted on, by `X-GitHub-Delivery`, so a redelivery (GitHub's
//! retry, or a person pressing "Redeliver") acts once.
//!
//! An append-only file of ids, each line fsynced before the delivery is acknowledged; when it
//! holds twice the bound it is rewritten with the newest half through `atomic::write`. A
//! delivery is recorded after its work is done (or durably queued): a crash in between makes
//! GitHub's retry do the work again, which is safe because revocation is idempotent by hash.

use std::collections::{HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::atomic;

/// GitHub's delivery ids are GUIDs; anything longer or stranger is refused before it is
/// stored.
pub const MAX_ID_LEN: usize = 64;

pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

pub struct Deliveries {
    path: PathBuf,
    bound: usize,
    inner: Mutex<Seen>,
}

struct Seen {
    ids: HashSet<String>,
    order: VecDeque<String>,
    lines: usize,
    file: File,
}

impl Deliveries {
    /// Opens (or creates) the store at `path`, keeping the newest `bound` ids. Reads at most
    /// what `2 × bound` lines can hold; a torn last line (a crash mid-write) is ignored.
    pub fn open(path: &Path, bound: usize) -> io::Result<Deliveries> {
        let mut bytes = Vec::new();
        if let Ok(f) = File::open(path) {
            let limit = (2 * bound as u64 + 1) * (MAX_ID_LEN as u64 + 1);
            f.take(limit).read_to_end(&mut bytes)?;
        }
        // A damaged line (bytes that are not UTF-8) is one id not remembered, not a server
        // that cannot start: it becomes U+FFFD, which no valid id contains.
        let text = String::from_utf8_lossy(&bytes);
        let mut ids = HashSet::new();
        let mut order = VecDeque::new();
        let mut lines = 0;
        for line in text.split_inclusive('\n') {
            let Some(id) = line.strip_suffix('\n') else {
                continue; // torn by a crash mid-write
            };
            if valid_id(id) && ids.insert(id.to_string()) {
                order.push_back(id.to_string());
                lines += 1;
            }
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        if !text.is_empty() && !text.ends_with('\n') {
            // End the torn line, or the next id would be glued to it.
            file.write_all(b"\n")?;
        }
        let deliveries = Deliveries {
            path: path.to_path_buf(),
            bound,
            inner: Mutex::new(Seen {
                ids,
                order,
                lines,
                file,
            }),
        };
        Ok(deliveries)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.lock().ids.contains(id)
    }

    /// Records `id` durably. Blocking (fsync): call from a blocking thread.
    pub fn record(&self, id: &str) -> io::Result<()> {
        debug_assert!(valid_id(id));
        let mut seen = self.lock();
        if !seen.ids.insert(id.to_string()) {
            return Ok(());
        }
        seen.order.push_back(id.to_string());
        seen.file.write_all(format!("{id}\n").as_bytes())?;
        seen.file.sync_data()?;
        seen.lines += 1;
        while seen.order.len() > self.bound {
            if let Some(old) = seen.order.pop_front() {
                seen.ids.remove(&old);
            }
        }
        if seen.lines >= 2 * self.bound {
            self.compact(&mut seen)?;
        }
        Ok(())
    }

    /// Rewrites the file with the ids still remembered, so it stays bounded on disk too.
    fn compact(&self, seen: &mut Seen) -> io::Result<()> {
        let text: String = seen.order.iter().map(|id| format!("{id}\n")).collect();
        atomic::write(&self.path, text.as_bytes())?;
        seen.file = OpenOptions::new().append(true).open(&self.path)?;
        seen.lines = seen.order.len();
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_survive_a_reopen_and_the_file_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deliveries");
        let d = Deliveries::open(&path, 3).unwrap();
        for i in 0..10 {
            d.record(&format!("id-{i}")).unwrap();
        }
        assert!(d.contains("id-9") && d.contains("id-7") && !d.contains("id-6"));
        drop(d);
        let d = Deliveries::open(&path, 3).unwrap();
        assert!(d.contains("id-9") && d.contains("id-7") && !d.contains("id-0"));
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines < 6, "{lines} lines kept");
    }

    #[test]
    fn a_torn_line_and_odd_ids_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deliveries");
        std::fs::write(&path, "good-1\nbad id\ngood-2\npart").unwrap();
        let d = Deliveries::open(&path, 10).unwrap();
        assert!(d.contains("good-1") && d.contains("good-2") && !d.contains("bad id"));
        assert!(!d.contains("part"));
        d.record("next").unwrap();
        drop(d);
        let d = Deliveries::open(&path, 10).unwrap();
        assert!(d.contains("next") && !d.contains("partnext"));
        assert!(!valid_id("") && !valid_id(&"a".repeat(65)) && !valid_id("a/b"));
    }

    #[test]
    fn a_line_that_is_not_utf8_is_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deliveries");
        std::fs::write(&path, b"good-1\nba\xffd\ngood-2\n").unwrap();
        let d = Deliveries::open(&path, 10).unwrap();
        assert!(d.contains("good-1") && d.contains("good-2"));
    }
}
