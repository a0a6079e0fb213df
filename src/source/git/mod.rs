//! Git history (`keysweep git`): every blob reachable from every ref, stash entry and HEAD,
//! scanned exactly once however many commits, branches and paths hold it, plus commit and tag
//! messages. Findings are then attributed to the commit that first introduced the blob.
//!
//! A whole history is read in the order that is cheapest for the object store, not for the
//! history (README, performance): every pack is decoded whole by gix's delta-tree traversal, on
//! every core, scanning each blob as it comes out, while the commits are walked; a walk of the
//! unique trees then gives what is reachable and, in its graph (`graph.rs`), where the blobs
//! that matched lie, so that only the commits that put one at a new path are diffed. Ranges and
//! incremental runs, which want few blobs, walk first and look those blobs up.

mod attribution;
mod diff;
mod emit;
mod graph;
mod history;
mod parallel;
mod range;
mod read;
mod state;
mod sweep;
mod text;
mod tips;
mod trees;

pub(crate) use diff::added_lines;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use anyhow::Context;
use gix::ObjectId;

use crate::finding::Origin;
use crate::messages::{human_bytes, plural};
use crate::scan::{Collector, Scanner};
use emit::Pending;
use read::Reading;

#[derive(Debug, Clone, Default)]
pub struct GitOptions {
    /// `BASE..HEAD`: only what those commits added.
    pub range: Option<String>,
    /// A range without commits is not an error.
    pub allow_empty_range: bool,
    /// Also every unreachable object in the object database.
    pub all_objects: bool,
    /// Incremental state file.
    pub state: Option<PathBuf>,
    /// 0: one per CPU.
    pub threads: usize,
    /// Blobs stored as deltas are rebuilt whole in memory (base, delta and result): bigger ones
    /// are not scanned and are reported (exit 2). `None`: [`DEFAULT_MAX_DELTA_BLOB`].
    pub max_delta_blob: Option<u64>,
}

/// The default cap on a blob rebuilt from deltas: 128 MiB, which costs up to about three times
/// that while it is rebuilt. Blobs stored whole are streamed whatever their size.
pub const DEFAULT_MAX_DELTA_BLOB: u64 = 128 << 20;

/// Opens the repository at `path` (a work tree, any directory inside one, or a bare repository).
pub fn open(path: &Path) -> anyhow::Result<gix::Repository> {
    let repo = gix::discover(path)
        .with_context(|| format!("{} is not in a git repository", path.display()))?;
    Ok(repo)
}

pub fn scan(
    scanner: &Scanner,
    path: &Path,
    options: &GitOptions,
    collector: &Collector,
) -> anyhow::Result<Completeness> {
    let repo = open(path)?;
    let run = Run {
        scanner,
        errors: AtomicU64::new(0),
        collector,
        label: path.display().to_string(),
        threads: match options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        },
        pending: Mutex::new(Vec::new()),
        max_delta_blob: options.max_delta_blob.unwrap_or(DEFAULT_MAX_DELTA_BLOB),
    };
    if let Some(shallow) = repo.shallow_commits()? {
        scanner.messages.note(format_args!(
            "{} is a shallow clone: history behind {} is not in it and is not scanned \
             (`git fetch --unshallow` to scan everything)",
            run.label,
            plural(shallow.len(), "boundary commit"),
        ));
    }
    match &options.range {
        Some(spec) => range::scan(&run, repo, spec, options.allow_empty_range)?,
        None => sweep::sweep(&run, repo, options)?,
    }
    run.flush();
    Ok(if run.complete() {
        Completeness::Complete
    } else {
        Completeness::Incomplete
    })
}

/// Whether one [`scan`] read everything it meant to. Counted per run, not from the shared
/// [`Messages`](crate::messages::Messages): runs on other repositories (an org sweep scans
/// several at once) report their errors there too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    Complete,
    Incomplete,
}

/// What every part of one `keysweep git` run shares.
struct Run<'a> {
    scanner: &'a Scanner,
    /// Errors this run reported (see [`Completeness`]).
    errors: AtomicU64,
    collector: &'a Collector,
    /// The repository as the user named it (`origin.repo`).
    label: String,
    threads: usize,
    /// Attributed blob findings, held back until [`Run::flush`] keeps one per secret and path.
    pending: Mutex<Vec<Pending>>,
    max_delta_blob: u64,
}

impl Run<'_> {
    /// How this run reads blobs.
    fn reader(&self) -> read::ReadWith<'_> {
        read::ReadWith {
            scanner: self.scanner,
            errors: &self.errors,
            threads: self.threads,
            max_delta_blob: self.max_delta_blob,
        }
    }

    fn error(&self, message: String) {
        self.errors.fetch_add(1, Relaxed);
        self.scanner.messages.error(message);
    }

    fn complete(&self) -> bool {
        self.errors.load(Relaxed) == 0
    }

    fn base_origin(&self, source: &str) -> Origin {
        Origin {
            repo: Some(self.label.clone()),
            ..Origin::new(source)
        }
    }

    fn note_submodules(&self, submodules: &BTreeMap<String, ObjectId>) {
        if submodules.is_empty() {
            return;
        }
        const SHOWN: usize = 5;
        let names: Vec<&str> = submodules.keys().take(SHOWN).map(String::as_str).collect();
        let more = submodules.len().saturating_sub(SHOWN);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        self.scanner.messages.note(format_args!(
            "{} not followed ({}{more}): scan each submodule's repository on its own",
            plural(submodules.len(), "submodule path"),
            names.join(", ")
        ));
    }

    /// The closing numbers; `blobs read` is what an unchanged repository keeps at zero with a
    /// state file, and what the benchmark checks against git's own count. `reachable` leaves out
    /// blobs an earlier run scanned; `unreachable` counts blobs read with their packs that no ref
    /// reaches.
    fn note_counts(&self, commits: usize, reachable: usize, reading: &Reading, unreachable: usize) {
        let bytes = self.scanner.stats.bytes.load(Relaxed);
        self.scanner.messages.note(format_args!(
            "git: {} walked, {}, {} read ({} text scanned, {} streamed, {unreachable} unreachable)",
            plural(commits, "commit"),
            plural(reachable, "reachable blob"),
            plural(reading.blobs_read, "blob"),
            human_bytes(bytes),
            reading.streamed,
        ));
    }
}
