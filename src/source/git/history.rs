//! The commits a repository's tips reach, walked once, with their trees, times and parents.

// Object ids are hashes already: gix's tables use their bytes as the hash instead of SipHash,
// which matters on the millions of lookups a history walk makes.
use gix::hashtable::HashMap;
use gix::objs::Find;
use gix::ObjectId;

use crate::scan::Phase;

/// One commit of the walk.
#[derive(Debug, Clone)]
pub struct CommitNode {
    pub id: ObjectId,
    pub tree: ObjectId,
    /// Committer time, seconds since the epoch: orders "first introduced".
    pub time: i64,
    parents: (u32, u32),
}

/// The commits a walk reached, with their parents (which may lie outside the walk: the base of
/// a range, or commits an earlier incremental run already covered).
#[derive(Debug, Default)]
pub struct History {
    pub commits: Vec<CommitNode>,
    parents: Vec<ObjectId>,
    index: HashMap<ObjectId, u32>,
    /// Commits whose parents are cut off by a shallow clone.
    pub shallow_boundary: Vec<ObjectId>,
}

impl History {
    pub fn parents(&self, commit: &CommitNode) -> &[ObjectId] {
        let (start, len) = commit.parents;
        &self.parents[start as usize..(start + len) as usize]
    }

    pub fn get(&self, id: &gix::oid) -> Option<&CommitNode> {
        self.index.get(id).map(|&i| &self.commits[i as usize])
    }

    pub fn len(&self) -> usize {
        self.commits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.commits.is_empty()
    }

    /// The node of a walked commit; its parents are stored here already, the node itself is
    /// added by [`History::push`].
    fn node(
        &mut self,
        info: &gix::traverse::commit::Info,
        commit: &gix::objs::CommitRef<'_>,
    ) -> CommitNode {
        let start = self.parents.len() as u32;
        self.parents.extend(info.parent_ids.iter().copied());
        CommitNode {
            id: info.id,
            tree: commit.tree(),
            time: commit.committer().map(|s| s.seconds()).unwrap_or(0),
            parents: (start, info.parent_ids.len() as u32),
        }
    }

    fn push(&mut self, node: CommitNode) {
        self.index.insert(node.id, self.commits.len() as u32);
        self.commits.push(node);
    }
}

/// Walks every commit reachable from `tips` and not from `hidden`, calling `visit` with each
/// commit's node and raw object (for its message). Unreadable commits go to `error` and the walk
/// goes on with the rest. In a shallow clone the walk stops at the boundary instead of failing on
/// the missing parents.
pub fn walk_commits(
    repo: &gix::Repository,
    tips: &[ObjectId],
    hidden: &[ObjectId],
    phase: &Phase,
    error: &mut dyn FnMut(String),
    visit: &mut dyn FnMut(&CommitNode, &[u8]),
) -> anyhow::Result<History> {
    let _phase = phase.begin("git: commit walk", "commits", 0);
    let mut cut = ShallowCut::new(repo)?;
    let mut history = History::default();
    let objects = &repo.objects;
    let mut walk =
        gix::traverse::commit::Simple::filtered(tips.iter().copied(), objects, |id: &gix::oid| {
            cut.admits(objects, id)
        })
        .hide(hidden.iter().copied())?;
    loop {
        let info = match walk.next() {
            None => break,
            Some(Ok(info)) => info,
            Some(Err(e)) => {
                error(format!("git: commit walk: {e:#}"));
                continue;
            }
        };
        let data = walk.commit_data();
        let commit = match gix::objs::CommitRef::from_bytes(data, repo.object_hash()) {
            Ok(c) => c,
            Err(e) => {
                error(format!("git: cannot decode commit {}: {e:#}", info.id));
                continue;
            }
        };
        let node = history.node(&info, &commit);
        visit(&node, data);
        history.push(node);
        phase.advance(1);
    }
    drop(walk);
    history.shallow_boundary = cut.into_boundary();
    Ok(history)
}

/// Where a shallow clone's history ends. The traversal asks whether to enter each commit as it
/// is queued; a shallow commit's parents are absent, so they are refused when they come up (the
/// same trick gix's own walk uses).
struct ShallowCut {
    /// The clone's shallow commits, sorted.
    shallow: Vec<ObjectId>,
    /// Parents of the shallow commits met so far, sorted: refused once each.
    cut_off: Vec<ObjectId>,
    /// The shallow commits the walk reached.
    boundary: Vec<ObjectId>,
    buf: Vec<u8>,
}

impl ShallowCut {
    fn new(repo: &gix::Repository) -> anyhow::Result<ShallowCut> {
        let shallow: Vec<ObjectId> = match repo.shallow_commits()? {
            Some(commits) => {
                let mut v: Vec<ObjectId> = commits.iter().copied().collect();
                v.sort_unstable();
                v
            }
            None => Vec::new(),
        };
        Ok(ShallowCut {
            shallow,
            cut_off: Vec::new(),
            boundary: Vec::new(),
            buf: Vec::new(),
        })
    }

    /// Whether the walk may enter commit `id`.
    fn admits(&mut self, objects: &gix::OdbHandle, id: &gix::oid) -> bool {
        if let Ok(i) = self.cut_off.binary_search_by(|c| c.as_ref().cmp(id)) {
            self.cut_off.remove(i);
            return false;
        }
        if self
            .shallow
            .binary_search_by(|c| c.as_ref().cmp(id))
            .is_ok()
        {
            if let Ok(Some(data)) = objects.try_find(id, &mut self.buf) {
                self.cut_off.extend(
                    gix::objs::CommitRefIter::from_bytes(data.data, data.object_hash).parent_ids(),
                );
                self.cut_off.sort_unstable();
            }
            self.boundary.push(id.to_owned());
        }
        true
    }

    /// The shallow commits the walk reached, sorted, each once.
    fn into_boundary(mut self) -> Vec<ObjectId> {
        self.boundary.sort_unstable();
        self.boundary.dedup();
        self.boundary
    }
}
