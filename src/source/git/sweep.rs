//! A sweep: the whole history, or with a state file what is new since the last run. A whole
//! history reads every stored blob whole-pack first and asks what is reachable after; an
//! incremental run walks to what is new and reads exactly that.

use std::path::Path;

use gix::hashtable::HashSet;
use gix::objs::{FindHeader, Kind};
use gix::ObjectId;

use super::history::{self, History};
use super::read::{self, BlobHit, Reading};
use super::state::{self, State};
use super::tips::{self, Tips};
use super::trees::{self, Contents, WalkOptions};
use super::{GitOptions, Run};
use crate::messages::{plural, Messages};
use crate::scan::Scratch;

pub(super) fn sweep(
    run: &Run<'_>,
    repo: gix::Repository,
    options: &GitOptions,
) -> anyhow::Result<()> {
    let scanner = run.scanner;
    let state_file = options.state.as_deref().map(|path| StateFile {
        path,
        key: state::Key {
            digest: scanner.rules.digest(),
            identity: state::identity(&repo),
            hash: repo.object_hash(),
        },
    });
    let known = state_file.as_ref().and_then(|f| f.load(&scanner.messages));
    let tips = tips::tips(&repo, &mut |m| run.error(m))?;
    if let (Some(file), Some(known)) = (&state_file, &known) {
        if !options.all_objects && known.targets == tips.targets {
            scanner.messages.note(format_args!(
                "git: no ref changed since the run recorded in {}: 0 blobs read",
                file.path.display()
            ));
            return Ok(());
        }
    }
    let (history, swept) = read_history(run, repo, &tips, known.as_ref(), options.all_objects)?;
    run.note_counts(
        history.len(),
        swept.reachable,
        &swept.reading,
        swept.unreachable,
    );
    if let Some(file) = &state_file {
        let complete = run.complete();
        // The findings are already collected: a state that cannot be written costs the next
        // run a rescan, never this run's report, so it is an error beside the report.
        if let Err(e) = file.save(known, &history, tips, swept, complete) {
            run.error(format!("{e:#}"));
        }
    }
    Ok(())
}

/// Walks the commits from `tips` and reads the blobs they hold, as far as `known` does not
/// cover them already; with nothing known, the whole object store is read.
fn read_history(
    run: &Run<'_>,
    repo: gix::Repository,
    tips: &Tips,
    known: Option<&State>,
    all_objects: bool,
) -> anyhow::Result<(History, Swept)> {
    let sync = repo.into_sync();
    let repo = sync.to_thread_local();
    let mut error = |m: String| run.error(m);
    std::thread::scope(|s| {
        // A whole history reads every stored blob, which needs nothing from the commit walk
        // below: start it now, so that walking commits overlaps with decoding packs.
        let store = known
            .is_none()
            .then(|| s.spawn(|| read::scan_store(&run.reader(), &sync)));
        let empty = State::default();
        let known = known.unwrap_or(&empty);
        let start = Start::new(&repo, tips, all_objects, &mut error)?;
        let history = walk_new_commits(run, &repo, &start.commits, &tips.tags, known, &mut error)?;
        let roots: Vec<ObjectId> = history
            .commits
            .iter()
            .map(|c| c.tree)
            .chain(tips.trees.iter().copied())
            .collect();
        let swept = match store {
            Some(store) => {
                let stored = store
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
                let (stored, contents) = walk_with_cache(run, &repo, roots, stored, &mut error);
                run.sweep_all(&sync, &history, stored, contents, start.blobs, all_objects)?
            }
            None => run.sweep_new(&sync, &history, roots, known, start.blobs)?,
        };
        Ok((history, swept))
    })
}

/// The `--state` file of a run, and what a state must match to be used by it.
struct StateFile<'a> {
    path: &'a Path,
    key: state::Key,
}

impl StateFile<'_> {
    /// The recorded state, if there is one this run can use; one it cannot use costs a full
    /// scan, never a missed blob, so it is a note, not an error.
    fn load(&self, messages: &Messages) -> Option<State> {
        match State::load(self.path, &self.key) {
            Ok(s) => s,
            Err(e) => {
                messages.note(format_args!(
                    "state file {} not used: {e:#}; scanning everything",
                    self.path.display()
                ));
                None
            }
        }
    }

    /// Records what this run covered on top of what `known` held.
    fn save(
        &self,
        known: Option<State>,
        history: &History,
        tips: Tips,
        swept: Swept,
        complete: bool,
    ) -> anyhow::Result<()> {
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
        next.save(self.path, &self.key)
    }
}

/// Where a sweep starts: the commits of the tips, and blobs named directly.
struct Start {
    commits: Vec<ObjectId>,
    blobs: Vec<ObjectId>,
}

impl Start {
    fn new(
        repo: &gix::Repository,
        tips: &Tips,
        all_objects: bool,
        error: &mut dyn FnMut(String),
    ) -> anyhow::Result<Start> {
        let mut commits = tips.commits.clone();
        let mut blobs: Vec<ObjectId> = tips.blobs.clone();
        if all_objects {
            for (id, kind) in read::all_objects(repo, error)? {
                match kind {
                    // Dangling commits (amended, rebased away, dropped stashes) are walked like
                    // tips, so the blobs they hold are attributed too.
                    Kind::Commit => commits.push(id),
                    Kind::Blob => blobs.push(id),
                    Kind::Tree | Kind::Tag => {}
                }
            }
            commits.sort_unstable();
            commits.dedup();
        }
        Ok(Start { commits, blobs })
    }
}

/// Walks the commits from `tips` that `known` does not cover, scanning their messages and those
/// of new `tags` on the way.
fn walk_new_commits(
    run: &Run<'_>,
    repo: &gix::Repository,
    tips: &[ObjectId],
    tags: &[ObjectId],
    known: &State,
    error: &mut dyn FnMut(String),
) -> anyhow::Result<History> {
    // Commits reachable from the tips of the last run were covered by it: the walk stops there.
    let hidden: Vec<ObjectId> = known
        .targets
        .iter()
        .filter(|id| matches!(repo.objects.try_header(id), Ok(Some(h)) if h.kind == Kind::Commit))
        .copied()
        .collect();
    let mut scratch = Scratch::default();
    let phase = &run.scanner.phase;
    let history = history::walk_commits(repo, tips, &hidden, phase, error, &mut |node, data| {
        if !known.commits.contains(&node.id) {
            run.scan_commit_message(&node.id, data, &mut scratch);
        }
    })?;
    for tag in tags {
        if !known.commits.contains(tag) {
            run.scan_tag_message(repo, tag, &mut scratch);
        }
    }
    Ok(history)
}

/// The tree walk of a whole history, reusing the trees the store scan decoded already; they are
/// dropped as soon as the walk is done. The blobs that matched are known by now: the walk's
/// graph records where those are, and only those.
fn walk_with_cache(
    run: &Run<'_>,
    repo: &gix::Repository,
    roots: Vec<ObjectId>,
    mut stored: Reading,
    error: &mut dyn FnMut(String),
) -> (Reading, Contents) {
    let trees = std::mem::take(&mut stored.trees);
    let none = HashSet::default();
    let matched: HashSet<ObjectId> = stored.hits.iter().map(|h| h.blob).collect();
    let wanted = |id: &gix::oid| matched.contains(id);
    let with = WalkOptions {
        known_trees: &none,
        known_blobs: &none,
        graph: Some(&wanted),
        cache: Some(&trees),
        threads: run.threads,
        phase: &run.scanner.phase,
    };
    let contents = trees::walk_trees(repo, roots, &with, error);
    (stored, contents)
}

/// What a sweep read, for the closing note and the state file.
struct Swept {
    reading: Reading,
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
        history: &History,
        roots: Vec<ObjectId>,
        known: &State,
        extra_blobs: Vec<ObjectId>,
    ) -> anyhow::Result<Swept> {
        let repo = sync.to_thread_local();
        let with = WalkOptions {
            known_trees: &known.trees,
            known_blobs: &known.blobs,
            graph: None,
            cache: None,
            threads: self.threads,
            phase: &self.scanner.phase,
        };
        let contents = trees::walk_trees(&repo, roots, &with, &mut |m| self.error(m));
        self.note_submodules(&contents.submodules);
        let mut wanted = contents.blobs;
        wanted.extend(
            extra_blobs
                .into_iter()
                .filter(|id| !known.blobs.contains(id)),
        );
        let reachable = wanted.len();
        let mut reading = read::scan_blobs(&self.reader(), sync, wanted)?;
        let hits = std::mem::take(&mut reading.hits);
        self.attribute_and_emit(sync, history, hits, None);
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
        history: &History,
        mut reading: Reading,
        mut contents: Contents,
        extra_blobs: Vec<ObjectId>,
        keep_unreachable: bool,
    ) -> anyhow::Result<Swept> {
        self.note_submodules(&contents.submodules);
        contents.blobs.extend(extra_blobs);
        let scanned: HashSet<ObjectId> = reading.done.iter().copied().collect();
        let later = self.read_missed(sync, &reading, &scanned, &contents.blobs)?;
        if !keep_unreachable {
            self.drop_unreachable(&mut reading.hits, &contents.blobs);
        }
        // The graph knows where the blobs that matched in the store scan are; a blob read only
        // now (alternates, a pack the traversal gave up on) that matched is not in it.
        let graph = contents.graph.as_ref().filter(|_| later.hits.is_empty());
        reading.absorb(later);
        let hits = std::mem::take(&mut reading.hits);
        self.attribute_and_emit(sync, history, hits, graph);
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

    /// Reads the `reachable` blobs the store scan did not cover (alternate object directories,
    /// packs too big to decode whole, unreadable entries) one by one. Those it `failed` to read
    /// were reported already: they are not read (and reported) a second time.
    fn read_missed(
        &self,
        sync: &gix::ThreadSafeRepository,
        stored: &Reading,
        scanned: &HashSet<ObjectId>,
        reachable: &HashSet<ObjectId>,
    ) -> anyhow::Result<Reading> {
        let failed: HashSet<ObjectId> = stored.failed.iter().copied().collect();
        let rest: HashSet<ObjectId> = reachable
            .iter()
            .filter(|id| !scanned.contains(*id) && !failed.contains(*id))
            .copied()
            .collect();
        read::scan_blobs(&self.reader(), sync, rest)
    }

    /// Drops the hits in blobs no ref reaches (`--all-objects` keeps them), saying how many.
    fn drop_unreachable(&self, hits: &mut Vec<BlobHit>, reachable: &HashSet<ObjectId>) {
        let before = hits.len();
        hits.retain(|h| reachable.contains(&h.blob));
        let dropped = before - hits.len();
        if dropped > 0 {
            self.scanner.messages.note(format_args!(
                "{} in objects no ref reaches not reported (--all-objects reports them)",
                plural(dropped, "finding")
            ));
        }
    }
}
