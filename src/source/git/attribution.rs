//! Where a leaked blob came from: the commits that introduced it and at which paths. A second,
//! cheap pass that runs only when blobs matched, and only looks for those blobs.
//!
//! "Introduced" means the commit has the blob at a path where none of its parents has it. The
//! first introduction (oldest committer time, then commit id, then path: a total order, so the
//! answer does not depend on the number of threads) is where the finding is reported; the
//! others are counted and listed.

use std::borrow::Cow;
use std::sync::Mutex;

use gix::hashtable::{HashMap, HashSet};
use gix::objs::Find;
use gix::ObjectId;

use super::diff::{Introductions, Look};
use super::history::{CommitNode, History};
use super::parallel::{in_runs, into_inner, lock};
use super::read::tree_reader;
use crate::finding::{Origin, Place};
use crate::scan::Phase;

/// At most this many other places are listed on a finding; the rest are only counted.
const LISTED_PLACES: usize = 16;

/// The delta-base cache of each diffing thread (see [`tree_reader`]): smaller than the walk's,
/// as the history, the tree graph and the matched blobs are held beside it.
const DIFF_CACHE_BYTES: usize = 32 << 20;

/// One commit that introduced a blob at a path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Intro {
    pub time: i64,
    pub commit: ObjectId,
    pub path: String,
    pub blob: ObjectId,
    /// The parents' versions of the file at that path (none: a new file).
    pub before: Vec<ObjectId>,
}

/// What the tree graph of a whole history tells attribution about some blobs (see
/// [`super::graph`]): which trees and commits can have anything to do with them.
#[derive(Debug, Default)]
pub struct Narrowing {
    /// The trees that hold one of the blobs at some depth: no other tree is read, which turns a
    /// diff of the whole history into a look at a few paths.
    pub trees: HashSet<ObjectId>,
    /// The only commits that can have introduced one of the blobs, when that was worked out:
    /// no other commit is diffed.
    pub commits: Option<HashSet<ObjectId>>,
}

/// Every introduction of one of `blobs` by a commit of `history`, grouped by blob, oldest first.
/// Commits are diffed against their parents even where the parents lie outside `history`.
pub fn introductions(
    repo: &gix::ThreadSafeRepository,
    history: &History,
    blobs: &HashSet<ObjectId>,
    narrow: Option<&Narrowing>,
    threads: usize,
    phase: &Phase,
    error: &(dyn Fn(String) + Sync),
) -> HashMap<ObjectId, Vec<Intro>> {
    let mut all = Vec::new();
    if !blobs.is_empty() && !history.is_empty() {
        let want = |id: &gix::oid| blobs.contains(id);
        let enter = |id: &gix::oid| narrow.is_none_or(|n| n.trees.contains(id));
        let commits: Cow<'_, [CommitNode]> = match narrow.and_then(|n| n.commits.as_ref()) {
            Some(only) => (history.commits.iter())
                .filter(|c| only.contains(&c.id))
                .cloned()
                .collect(),
            None => Cow::Borrowed(&history.commits),
        };
        let _phase = phase.begin("git: attribution", "commits", commits.len() as u64);
        all = for_each_commit(
            repo,
            history,
            &commits,
            threads,
            &Look {
                want: &want,
                enter: &enter,
            },
            phase,
            error,
        );
    }
    group(all)
}

/// Every blob each commit of `history` introduced (ranges: what the commits added).
pub fn all_introductions(
    repo: &gix::ThreadSafeRepository,
    history: &History,
    threads: usize,
    phase: &Phase,
    error: &(dyn Fn(String) + Sync),
) -> Vec<Intro> {
    let all = |_: &gix::oid| true;
    let _phase = phase.begin("git: diffing commits", "commits", history.len() as u64);
    for_each_commit(
        repo,
        history,
        &history.commits,
        threads,
        &Look {
            want: &all,
            enter: &all,
        },
        phase,
        error,
    )
}

pub fn group(intros: Vec<Intro>) -> HashMap<ObjectId, Vec<Intro>> {
    let mut by_blob: HashMap<ObjectId, Vec<Intro>> = HashMap::default();
    for i in intros {
        by_blob.entry(i.blob).or_default().push(i);
    }
    for list in by_blob.values_mut() {
        list.sort_unstable();
        list.dedup();
    }
    by_blob
}

/// Diffs each of `commits` (of `history`) against its parents.
fn for_each_commit(
    repo: &gix::ThreadSafeRepository,
    history: &History,
    commits: &[CommitNode],
    threads: usize,
    look: &Look<'_>,
    phase: &Phase,
    error: &(dyn Fn(String) + Sync),
) -> Vec<Intro> {
    let threads = threads.clamp(1, commits.len().max(1));
    let run = (commits.len() / (threads * 8)).clamp(16, 1024);
    let out = Mutex::new(Vec::new());
    in_runs(
        commits,
        threads,
        run,
        || CommitDiffer::new(tree_reader(repo.to_thread_local(), DIFF_CACHE_BYTES)),
        |differ, commit| {
            differ.diff(history, commit, look, error);
            phase.advance(1);
        },
        |mut differ| lock(&out).append(&mut differ.intros),
    );
    into_inner(out)
}

/// One thread's diffing state, reused from commit to commit.
struct CommitDiffer {
    repo: gix::Repository,
    diff: Introductions,
    /// Trees of parents outside the walk, read once each.
    outside: HashMap<ObjectId, Option<ObjectId>>,
    buf: Vec<u8>,
    parent_trees: Vec<ObjectId>,
    intros: Vec<Intro>,
}

impl CommitDiffer {
    fn new(repo: gix::Repository) -> Self {
        CommitDiffer {
            repo,
            diff: Introductions::default(),
            outside: HashMap::default(),
            buf: Vec::new(),
            parent_trees: Vec::new(),
            intros: Vec::new(),
        }
    }

    /// Records what `commit` introduced that `look` is after.
    fn diff(
        &mut self,
        history: &History,
        commit: &CommitNode,
        look: &Look<'_>,
        error: &(dyn Fn(String) + Sync),
    ) {
        if !(look.enter)(&commit.tree) {
            return;
        }
        self.parent_trees.clear();
        for p in history.parents(commit) {
            let tree = match history.get(p) {
                Some(node) => Some(node.tree),
                // Outside the walk (a range's base, a shallow cut): read it.
                None => *self
                    .outside
                    .entry(*p)
                    .or_insert_with(|| tree_of(&self.repo, p, &mut self.buf)),
            };
            self.parent_trees.extend(tree);
        }
        let intros = &mut self.intros;
        let result = self.diff.of_tree(
            &self.repo,
            &commit.tree,
            &self.parent_trees,
            look,
            &mut |path, blob, before| {
                intros.push(Intro {
                    time: commit.time,
                    commit: commit.id,
                    path: String::from_utf8_lossy(path).into_owned(),
                    blob,
                    before: before.to_vec(),
                })
            },
        );
        if let Err(e) = result {
            error(format!("git: commit {}: {e:#}", commit.id));
        }
    }
}

/// The tree of a commit outside the walk, or `None` when it is absent (beyond a shallow
/// boundary): the child is then compared as if it had no such parent.
fn tree_of(repo: &gix::Repository, id: &ObjectId, buf: &mut Vec<u8>) -> Option<ObjectId> {
    let data = repo.objects.try_find(id, buf).ok()??;
    gix::objs::CommitRefIter::from_bytes(data.data, data.object_hash)
        .tree_id()
        .ok()
}

/// Fills `origin` with the first of `places` (commit, author, date, path) and lists the others.
/// `places` is sorted, oldest first.
pub fn attribute(
    repo: &gix::Repository,
    places: &[&Intro],
    origin: &mut Origin,
    commits: &mut CommitInfoCache,
) {
    let Some((first, rest)) = places.split_first() else {
        return;
    };
    origin.path = Some(first.path.clone());
    origin.commit = Some(first.commit.to_string());
    if let Some(info) = commits.get(repo, &first.commit) {
        origin.author = Some(info.author.clone());
        origin.email = Some(info.email.clone());
        origin.date = Some(info.date.clone());
    }
    origin.other_places = rest.len() as u64;
    origin.also = rest
        .iter()
        .take(LISTED_PLACES)
        .map(|i| Place {
            commit: i.commit.to_string(),
            path: i.path.clone(),
        })
        .collect();
}

/// Author, email and author date of a commit, as reports show them.
#[derive(Debug, Clone)]
pub struct CommitInfo {
    pub author: String,
    pub email: String,
    pub date: String,
}

/// Commit metadata read on demand, once per commit.
#[derive(Default)]
pub struct CommitInfoCache {
    cache: HashMap<ObjectId, Option<CommitInfo>>,
    buf: Vec<u8>,
}

impl CommitInfoCache {
    pub fn get(&mut self, repo: &gix::Repository, id: &ObjectId) -> Option<&CommitInfo> {
        let buf = &mut self.buf;
        self.cache
            .entry(*id)
            .or_insert_with(|| {
                let data = repo.objects.try_find(id, buf).ok()??;
                let commit = gix::objs::CommitRef::from_bytes(data.data, data.object_hash).ok()?;
                commit_info(&commit)
            })
            .as_ref()
    }
}

pub fn commit_info(commit: &gix::objs::CommitRef<'_>) -> Option<CommitInfo> {
    let author = commit.author().ok()?.trim();
    Some(CommitInfo {
        author: author.name.to_string(),
        email: author.email.to_string(),
        date: author
            .time()
            .map(|t| t.format_or_unix(gix::date::time::format::ISO8601_STRICT))
            .unwrap_or_default(),
    })
}
