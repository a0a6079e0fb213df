//! Git history (`keysweep git`): every blob reachable from every ref, stash entry and HEAD,
//! scanned exactly once however many commits, branches and paths hold it, plus commit and tag
//! messages. Findings are then attributed to the commit that first introduced the blob.
//!
//! A whole history is read in the order that is cheapest for the object store, not for the
//! history (README, performance): every pack is decoded whole by gix's delta-tree traversal, on
//! every core, scanning each blob as it comes out, while the commits are walked; the trees the
//! traversal decoded then give what is reachable, and only for blobs that matched is the commit
//! graph diffed to find where they came from. Ranges and incremental runs, which want few blobs,
//! walk first and look those blobs up.

mod attribution;
mod diff;
mod history;
mod range;
mod read;
mod state;
mod stream;

pub(crate) use diff::added_lines;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Mutex;

use anyhow::Context;
use gix::hashtable::{HashMap, HashSet};
use gix::objs::{FindHeader, Kind};
use gix::ObjectId;

use crate::finding::{Finding, Origin};
use crate::messages::human_bytes;
use crate::scan::{Collector, Scanner, Scratch};
use attribution::{CommitInfoCache, Intro};
use read::BlobHit;
use state::State;

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
}

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
) -> anyhow::Result<()> {
    let repo = open(path)?;
    let run = Run {
        scanner,
        collector,
        label: path.display().to_string(),
        threads: match options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        },
        pending: Mutex::new(Vec::new()),
    };
    if let Some(shallow) = repo.shallow_commits()? {
        scanner.messages.note(format_args!(
            "{} is a shallow clone: history behind {} boundary commit{} is not in it and is not \
             scanned (`git fetch --unshallow` to scan everything)",
            run.label,
            shallow.len(),
            if shallow.len() == 1 { "" } else { "s" }
        ));
    }
    match &options.range {
        Some(spec) => range::scan(&run, repo, spec, options.allow_empty_range)?,
        None => sweep(&run, repo, options)?,
    }
    run.flush();
    Ok(())
}

/// What every part of one `keysweep git` run shares.
struct Run<'a> {
    scanner: &'a Scanner,
    collector: &'a Collector,
    /// The repository as the user named it (`origin.repo`).
    label: String,
    threads: usize,
    /// Attributed blob findings, held back until [`Run::flush`] keeps one per secret and path.
    pending: Mutex<Vec<Pending>>,
}

/// A finding and when its first place was introduced.
struct Pending {
    first: Option<(i64, ObjectId)>,
    finding: Finding,
}

impl Run<'_> {
    fn error(&self, message: String) {
        self.scanner.messages.error(message);
    }

    fn base_origin(&self, source: &str) -> Origin {
        Origin {
            repo: Some(self.label.clone()),
            ..Origin::new(source)
        }
    }

    /// Scans a commit's message (subject and body, line 1 = subject).
    fn scan_commit_message(&self, id: &ObjectId, data: &[u8], scratch: &mut Scratch) {
        let Ok(commit) = gix::objs::CommitRef::from_bytes(data, id.kind()) else {
            return;
        };
        let found = self.scan_text(commit.message, scratch);
        if found.is_empty() {
            return;
        }
        let info = attribution::commit_info(&commit);
        for mut f in found {
            f.origin = Origin {
                commit: Some(id.to_string()),
                author: info.as_ref().map(|i| i.author.clone()),
                email: info.as_ref().map(|i| i.email.clone()),
                date: info.as_ref().map(|i| i.date.clone()),
                ..self.base_origin("commit-message")
            };
            self.collector.push(f);
        }
    }

    fn scan_tag_message(&self, repo: &gix::Repository, id: &ObjectId, scratch: &mut Scratch) {
        let mut buf = Vec::new();
        let data = match gix::objs::Find::try_find(&repo.objects, id, &mut buf) {
            Ok(Some(d)) => d,
            Ok(None) => return self.error(format!("git: tag {id} is missing")),
            Err(e) => return self.error(format!("git: cannot read tag {id}: {e:#}")),
        };
        let Ok(tag) = gix::objs::TagRef::from_bytes(data.data, data.object_hash) else {
            return self.error(format!("git: cannot decode tag {id}"));
        };
        for mut f in self.scan_text(tag.message, scratch) {
            f.origin = Origin {
                commit: Some(id.to_string()),
                path: Some(format!("refs/tags/{}", tag.name)),
                ..self.base_origin("tag-message")
            };
            self.collector.push(f);
        }
    }

    fn scan_text(&self, text: &[u8], scratch: &mut Scratch) -> Vec<Finding> {
        let mut found = Vec::new();
        self.scanner
            .scan_bytes(text, &Origin::new("git"), scratch, &mut |f| found.push(f));
        found
    }

    /// Attributes each hit to the first place its blob was introduced and hands it on. Blobs no
    /// commit introduced (unreachable objects, refs naming a blob) keep only their blob id.
    fn emit(
        &self,
        repo: &gix::Repository,
        hits: Vec<BlobHit>,
        places: &HashMap<ObjectId, Vec<Intro>>,
    ) {
        let mut commits = CommitInfoCache::default();
        for hit in hits {
            let all: Vec<&Intro> = places.get(&hit.blob).into_iter().flatten().collect();
            self.emit_hit(repo, hit, &all, &mut commits);
        }
    }

    /// Hands on one hit, reported at the first of `places` (oldest first) whose path the
    /// allowlist does not exempt.
    fn emit_hit(
        &self,
        repo: &gix::Repository,
        hit: BlobHit,
        places: &[&Intro],
        commits: &mut CommitInfoCache,
    ) {
        let BlobHit { blob, mut finding } = hit;
        let mut origin = Origin {
            blob: Some(blob.to_string()),
            ..self.base_origin("git")
        };
        let shown: Vec<&Intro> = places
            .iter()
            .filter(|p| !self.scanner.suppress.path_allowed(&p.path))
            .copied()
            .collect();
        if shown.is_empty() && !places.is_empty() {
            self.scanner.stats.suppressed.fetch_add(1, Relaxed);
            return;
        }
        attribution::attribute(repo, &shown, &mut origin, commits);
        finding.origin = origin;
        let first = shown.first().map(|i| (i.time, i.commit));
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Pending { first, finding });
    }

    /// Hands on the held-back findings, one per secret and path: a key stays in every later
    /// version of the file it was added to, and each version is a new blob, but it is one leak,
    /// reported where it first appeared. (The same secret at another path is another finding.)
    fn flush(&self) {
        let mut pending =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        // Places first (oldest first, unplaced last), then position: the earliest wins.
        pending.sort_by(|a, b| {
            let place = |p: &Pending| (p.first.is_none(), p.first);
            place(a).cmp(&place(b)).then_with(|| {
                (a.finding.line, a.finding.column).cmp(&(b.finding.line, b.finding.column))
            })
        });
        let mut seen = std::collections::HashSet::new();
        for Pending { finding, .. } in pending {
            let at = finding
                .origin
                .path
                .clone()
                .or_else(|| finding.origin.blob.clone());
            if seen.insert((finding.rule.clone(), finding.fingerprint.clone(), at)) {
                self.collector.push(finding);
            }
        }
    }

    /// Reads, scans and attributes `wanted` blobs; `history` holds the commits that may have
    /// introduced them.
    fn scan_blobs(
        &self,
        repo: gix::Repository,
        wanted: HashSet<ObjectId>,
        history: &history::History,
    ) -> anyhow::Result<read::Reading> {
        let sync = repo.into_sync();
        let mut reading = read::scan_blobs(self.scanner, &sync, wanted, self.threads)?;
        let matched: HashSet<ObjectId> = reading.hits.iter().map(|h| h.blob).collect();
        let places =
            attribution::introductions(&sync, history, &matched, None, self.threads, &|m| {
                self.error(m)
            });
        let hits = std::mem::take(&mut reading.hits);
        self.emit(&sync.to_thread_local(), hits, &places);
        Ok(reading)
    }

    fn note_submodules(&self, submodules: &std::collections::BTreeMap<String, ObjectId>) {
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
            "{} submodule path{} not followed ({}{more}): scan each submodule's repository on its own",
            submodules.len(),
            if submodules.len() == 1 { "" } else { "s" },
            names.join(", ")
        ));
    }

    /// The closing numbers; `blobs read` is what an unchanged repository keeps at zero with a
    /// state file, and what the benchmark checks against git's own count.
    fn note_counts(&self, commits: usize, swept: &Swept) {
        let r = &swept.reading;
        let unreachable = swept.unreachable;
        let bytes = self.scanner.stats.bytes.load(Relaxed);
        self.scanner.messages.note(format_args!(
            "git: {commits} commit{} walked, {} reachable blob{}, {} blob{} read ({} text scanned, \
             {} streamed, {unreachable} unreachable)",
            if commits == 1 { "" } else { "s" },
            swept.reachable,
            if swept.reachable == 1 { "" } else { "s" },
            r.blobs_read,
            if r.blobs_read == 1 { "" } else { "s" },
            human_bytes(bytes),
            r.streamed,
        ));
    }
}

/// The whole history (or, with a state file, what is new since the last run).
fn sweep(run: &Run<'_>, repo: gix::Repository, options: &GitOptions) -> anyhow::Result<()> {
    let scanner = run.scanner;
    let hash = repo.object_hash();
    let digest = scanner.rules.digest();
    let errors_before = scanner.messages.errors();
    let known = match &options.state {
        Some(path) => match State::load(path, &digest, hash) {
            Ok(s) => s,
            Err(e) => {
                scanner.messages.note(format_args!(
                    "state file {} not used: {e:#}; scanning everything",
                    path.display()
                ));
                None
            }
        },
        None => None,
    };
    let mut error = |m: String| run.error(m);
    let tips = history::tips(&repo, &mut error)?;
    if let (Some(path), Some(known)) = (&options.state, &known) {
        if !options.all_objects && known.targets == tips.targets {
            scanner.messages.note(format_args!(
                "git: no ref changed since the run recorded in {}: 0 blobs read",
                path.display()
            ));
            return Ok(());
        }
    }
    let sync = repo.into_sync();
    let repo = sync.to_thread_local();
    std::thread::scope(|s| -> anyhow::Result<()> {
        // A whole history reads every stored blob, which needs nothing from the commit walk
        // below: start it now, so that walking commits overlaps with decoding packs.
        let store = known
            .is_none()
            .then(|| s.spawn(|| read::scan_store(scanner, &sync, run.threads)));
        let empty = State::default();
        let known_state = known.as_ref().unwrap_or(&empty);

        let mut commit_tips = tips.commits.clone();
        let mut extra_blobs: Vec<ObjectId> = tips.blobs.clone();
        if options.all_objects {
            for (id, kind) in read::all_objects(&repo, &mut error)? {
                match kind {
                    // Dangling commits (amended, rebased away, dropped stashes) are walked like
                    // tips, so the blobs they hold are attributed too.
                    Kind::Commit => commit_tips.push(id),
                    Kind::Blob => extra_blobs.push(id),
                    Kind::Tree | Kind::Tag => {}
                }
            }
            commit_tips.sort_unstable();
            commit_tips.dedup();
        }
        // Commits reachable from the tips of the last run were covered by it: the walk stops there.
        let hidden: Vec<ObjectId> = known_state
            .targets
            .iter()
            .filter(
                |id| matches!(repo.objects.try_header(id), Ok(Some(h)) if h.kind == Kind::Commit),
            )
            .copied()
            .collect();
        let mut scratch = Scratch::default();
        let history = history::walk_commits(
            &repo,
            &commit_tips,
            &hidden,
            &mut error,
            &mut |node, data| {
                if !known_state.commits.contains(&node.id) {
                    run.scan_commit_message(&node.id, data, &mut scratch);
                }
            },
        )?;
        for tag in &tips.tags {
            if !known_state.commits.contains(tag) {
                run.scan_tag_message(&repo, tag, &mut scratch);
            }
        }
        let roots: Vec<ObjectId> = history
            .commits
            .iter()
            .map(|c| c.tree)
            .chain(tips.trees.iter().copied())
            .collect();
        let swept = match store {
            Some(store) => {
                let mut stored = store
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
                // The store scan decoded the trees already: the walk reuses them.
                let trees = std::mem::take(&mut stored.trees);
                let none = HashSet::default();
                let contents =
                    history::walk_trees(&repo, roots, &none, &none, true, Some(&trees), &mut error);
                drop(trees);
                run.sweep_all(
                    &sync,
                    &history,
                    stored,
                    contents,
                    extra_blobs,
                    options.all_objects,
                )?
            }
            None => run.sweep_new(&sync, &history, roots, known_state, extra_blobs)?,
        };
        run.note_counts(history.len(), &swept);

        if let Some(path) = &options.state {
            let complete = scanner.messages.errors() == errors_before;
            let mut next = known.unwrap_or_default();
            next.commits.extend(
                history
                    .commits
                    .iter()
                    .map(|c| c.id)
                    .chain(tips.tags.iter().copied()),
            );
            next.blobs.extend(swept.reading.done.iter().copied());
            // Trees and tips vouch for everything below them: recorded only when nothing failed,
            // so that the next run walks to whatever could not be read and retries it.
            if complete {
                next.trees.extend(swept.trees);
                next.targets = tips.targets;
            }
            next.save(path, &digest, hash)?;
        }
        Ok(())
    })
}

/// What a sweep read, for the closing note and the state file.
struct Swept {
    reading: read::Reading,
    /// Every tree visited.
    trees: HashSet<ObjectId>,
    /// Reachable blobs (not counting those an earlier run scanned).
    reachable: usize,
    /// Blobs read with their packs that no ref reaches.
    unreachable: usize,
}

impl Run<'_> {
    /// After an earlier run: walk to what is new, read exactly that.
    fn sweep_new(
        &self,
        sync: &gix::ThreadSafeRepository,
        history: &history::History,
        roots: Vec<ObjectId>,
        known: &State,
        extra_blobs: Vec<ObjectId>,
    ) -> anyhow::Result<Swept> {
        let repo = sync.to_thread_local();
        let mut error = |m: String| self.error(m);
        let contents = history::walk_trees(
            &repo,
            roots,
            &known.trees,
            &known.blobs,
            false,
            None,
            &mut error,
        );
        self.note_submodules(&contents.submodules);
        let mut wanted = contents.blobs;
        wanted.extend(
            extra_blobs
                .into_iter()
                .filter(|id| !known.blobs.contains(id)),
        );
        let reachable = wanted.len();
        let reading = self.scan_blobs(repo, wanted, history)?;
        Ok(Swept {
            reading,
            trees: contents.trees,
            reachable,
            unreachable: 0,
        })
    }

    /// The whole history: `reading` holds every blob of the object store, read at the speed of
    /// whole-pack decoding; the tree walk (`contents`) says what is reachable. Findings in
    /// unreachable blobs are dropped (unless asked for); reachable blobs the store scan did not
    /// cover are read now; the tree graph tells attribution which trees hold a matching blob.
    fn sweep_all(
        &self,
        sync: &gix::ThreadSafeRepository,
        history: &history::History,
        mut reading: read::Reading,
        mut contents: history::Contents,
        extra_blobs: Vec<ObjectId>,
        keep_unreachable: bool,
    ) -> anyhow::Result<Swept> {
        self.note_submodules(&contents.submodules);
        contents.blobs.extend(extra_blobs);
        let scanned: HashSet<ObjectId> = reading.done.iter().copied().collect();
        let failed: HashSet<ObjectId> = reading.failed.iter().copied().collect();
        // Reachable blobs the store scan did not cover (alternate object directories, packs too
        // big to decode whole, unreadable entries) are read one by one; unreadable ones are
        // reported there, once.
        let rest: HashSet<ObjectId> = contents
            .blobs
            .iter()
            .filter(|id| !scanned.contains(*id) && !failed.contains(*id))
            .copied()
            .collect();
        let later = read::scan_blobs(self.scanner, sync, rest, self.threads)?;
        let mut hits = std::mem::take(&mut reading.hits);
        if !keep_unreachable {
            let before = hits.len();
            hits.retain(|h| contents.blobs.contains(&h.blob));
            let dropped = before - hits.len();
            if dropped > 0 {
                self.scanner.messages.note(format_args!(
                    "{dropped} finding{} in objects no ref reaches not reported (--all-objects \
                     reports them)",
                    if dropped == 1 { "" } else { "s" }
                ));
            }
        }
        hits.extend(later.hits);
        reading.done.extend(later.done);
        reading.failed.extend(later.failed);
        reading.blobs_read += later.blobs_read;
        reading.streamed += later.streamed;
        let blobs: HashSet<ObjectId> = hits.iter().map(|h| h.blob).collect();
        let holders = contents
            .graph
            .as_ref()
            .filter(|_| !blobs.is_empty())
            .map(|g| g.holders(&blobs));
        let places = attribution::introductions(
            sync,
            history,
            &blobs,
            holders.as_ref(),
            self.threads,
            &|m| self.error(m),
        );
        self.emit(&sync.to_thread_local(), hits, &places);
        let unreachable = scanned
            .iter()
            .filter(|id| !contents.blobs.contains(*id))
            .count();
        Ok(Swept {
            reading,
            trees: contents.trees,
            reachable: contents.blobs.len(),
            unreachable,
        })
    }
}
