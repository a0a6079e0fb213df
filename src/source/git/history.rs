//! What a repository holds: the tips (refs, HEAD, every stash entry), the commits they reach and
//! the unique trees and blobs of those commits, each object visited once however many commits,
//! branches and paths share it.

use std::collections::BTreeMap;

// Object ids are hashes already: gix's tables use their bytes as the hash instead of SipHash,
// which matters on the millions of lookups a history walk makes.
use gix::hashtable::{HashMap, HashSet};
use gix::objs::tree::EntryKind;
use gix::objs::{Find, FindHeader, Kind};
use gix::ObjectId;

use super::read::TreeCache;

/// Where history starts. Every list is sorted and free of repeats.
#[derive(Debug, Default)]
pub struct Tips {
    pub commits: Vec<ObjectId>,
    /// Annotated tag objects: their messages are scanned too.
    pub tags: Vec<ObjectId>,
    /// Refs that name a tree or a blob directly (rare, but `git tag` allows it).
    pub trees: Vec<ObjectId>,
    pub blobs: Vec<ObjectId>,
    /// What every ref, HEAD and stash entry points at before peeling. If this is unchanged, so is
    /// everything reachable: the incremental state compares it.
    pub targets: Vec<ObjectId>,
}

/// Reads every tip. A ref that cannot be read or peeled is reported through `error` and skipped:
/// the rest of history is still worth scanning.
pub fn tips(repo: &gix::Repository, error: &mut dyn FnMut(String)) -> anyhow::Result<Tips> {
    let mut targets: Vec<(ObjectId, String)> = Vec::new();
    let platform = repo.references()?;
    for reference in platform.all()? {
        match reference {
            Ok(r) => {
                if let Some(id) = r.target().try_id() {
                    targets.push((id.to_owned(), r.name().as_bstr().to_string()));
                }
            }
            Err(e) => error(format!("git: cannot read a reference: {e:#}")),
        }
    }
    // A detached HEAD is on no branch; stash entries older than the newest live only in the
    // stash reflog. Both hold commits that no ref names.
    if let Ok(id) = repo.head_id() {
        targets.push((id.detach(), "HEAD".into()));
    }
    if let Ok(Some(stash)) = repo.try_find_reference("refs/stash") {
        let mut log = stash.log_iter();
        match log.all() {
            Ok(Some(lines)) => {
                for line in lines {
                    match line.map(|l| l.new_oid()) {
                        Ok(id) => targets.push((id, "stash".into())),
                        Err(e) => error(format!("git: cannot read the stash reflog: {e:#}")),
                    }
                }
            }
            Ok(None) => {}
            Err(e) => error(format!("git: cannot read the stash reflog: {e}")),
        }
    }

    let mut tips = Tips::default();
    let mut buf = Vec::new();
    let mut peeled = HashSet::default();
    for (id, name) in &targets {
        tips.targets.push(*id);
        let mut id = *id;
        // Tags can point at tags; a cycle is impossible (ids are hashes of content) but a
        // corrupt repository deserves a bound anyway.
        for _ in 0..32 {
            if !peeled.insert(id) {
                break;
            }
            match repo.objects.try_header(&id) {
                Ok(Some(h)) => match h.kind {
                    Kind::Commit => tips.commits.push(id),
                    Kind::Tree => tips.trees.push(id),
                    Kind::Blob => tips.blobs.push(id),
                    Kind::Tag => {
                        tips.tags.push(id);
                        match repo.objects.try_find(&id, &mut buf) {
                            Ok(Some(data)) => {
                                match gix::objs::TagRefIter::from_bytes(data.data, data.object_hash)
                                    .target_id()
                                {
                                    Ok(target) => {
                                        id = target;
                                        continue;
                                    }
                                    Err(e) => error(format!("git: tag {id} ({name}): {e:#}")),
                                }
                            }
                            Ok(None) => error(format!("git: tag {id} ({name}) is missing")),
                            Err(e) => error(format!("git: cannot read tag {id} ({name}): {e:#}")),
                        }
                    }
                },
                Ok(None) => error(format!(
                    "git: {name} points at {id}, which is not in the object database"
                )),
                Err(e) => error(format!("git: cannot read {id} ({name}): {e:#}")),
            }
            break;
        }
    }
    for list in [
        &mut tips.commits,
        &mut tips.tags,
        &mut tips.trees,
        &mut tips.blobs,
        &mut tips.targets,
    ] {
        list.sort_unstable();
        list.dedup();
    }
    Ok(tips)
}

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
}

/// Walks every commit reachable from `tips` and not from `hidden`, calling `visit` with each
/// commit's node and raw object (for its message). Unreadable commits go to `error` and the walk
/// goes on with the rest. In a shallow clone the walk stops at the boundary instead of failing on
/// the missing parents.
pub fn walk_commits(
    repo: &gix::Repository,
    tips: &[ObjectId],
    hidden: &[ObjectId],
    error: &mut dyn FnMut(String),
    visit: &mut dyn FnMut(&CommitNode, &[u8]),
) -> anyhow::Result<History> {
    let shallow: Vec<ObjectId> = match repo.shallow_commits()? {
        Some(commits) => {
            let mut v: Vec<ObjectId> = commits.iter().copied().collect();
            v.sort_unstable();
            v
        }
        None => Vec::new(),
    };
    let mut history = History::default();
    // The traversal asks whether to enter each commit as it is queued; a shallow commit's parents
    // are absent, so they are refused when they come up (the same trick gix's own walk uses).
    let mut cut_off: Vec<ObjectId> = Vec::new();
    let mut boundary: Vec<ObjectId> = Vec::new();
    let mut buf = Vec::new();
    let objects = &repo.objects;
    let predicate = |id: &gix::oid| {
        if let Ok(i) = cut_off.binary_search_by(|c| c.as_ref().cmp(id)) {
            cut_off.remove(i);
            return false;
        }
        if shallow.binary_search_by(|c| c.as_ref().cmp(id)).is_ok() {
            if let Ok(Some(data)) = objects.try_find(id, &mut buf) {
                cut_off.extend(
                    gix::objs::CommitRefIter::from_bytes(data.data, data.object_hash).parent_ids(),
                );
                cut_off.sort_unstable();
            }
            boundary.push(id.to_owned());
        }
        true
    };
    let mut walk =
        gix::traverse::commit::Simple::filtered(tips.iter().copied(), objects, predicate)
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
        let start = history.parents.len() as u32;
        history.parents.extend(info.parent_ids.iter().copied());
        let node = CommitNode {
            id: info.id,
            tree: commit.tree(),
            time: commit.committer().map(|s| s.seconds()).unwrap_or(0),
            parents: (start, info.parent_ids.len() as u32),
        };
        visit(&node, data);
        history.index.insert(node.id, history.commits.len() as u32);
        history.commits.push(node);
    }
    drop(walk);
    boundary.sort_unstable();
    boundary.dedup();
    history.shallow_boundary = boundary;
    Ok(history)
}

/// Blobs and trees found under some root trees, minus what was already known.
#[derive(Debug, Default)]
pub struct Contents {
    /// Reachable blobs not in the known set: still to be scanned.
    pub blobs: HashSet<ObjectId>,
    /// Every tree visited: all of their blobs are in `blobs` or were known.
    pub trees: HashSet<ObjectId>,
    /// Which tree holds which blob or subtree, when asked for and small enough.
    pub graph: Option<TreeGraph>,
    /// Gitlinks (submodule commits) by the first path they were seen at.
    pub submodules: BTreeMap<String, ObjectId>,
}

/// Containment edges between the unique trees and blobs of a history, as small integers. Lets
/// attribution learn which trees hold a leaked blob (at any depth) after the fact, so the tree
/// walk can run while blobs are still being scanned.
#[derive(Debug, Default)]
pub struct TreeGraph {
    tree_ids: Vec<ObjectId>,
    tree_index: HashMap<ObjectId, u32>,
    blob_index: HashMap<ObjectId, u32>,
    /// (blob, tree holding it)
    blob_edges: Vec<(u32, u32)>,
    /// (subtree, tree holding it)
    tree_edges: Vec<(u32, u32)>,
}

/// Beyond this many edges (8 bytes each) the graph is dropped and attribution reads every changed
/// tree instead: slower, but memory stays bounded on huge histories.
const GRAPH_MAX_EDGES: usize = 16 << 20;

impl TreeGraph {
    fn tree(&mut self, id: &gix::oid) -> u32 {
        if let Some(&i) = self.tree_index.get(id) {
            return i;
        }
        let i = self.tree_ids.len() as u32;
        self.tree_ids.push(id.to_owned());
        self.tree_index.insert(id.to_owned(), i);
        i
    }

    fn blob(&mut self, id: &gix::oid) -> u32 {
        let next = self.blob_index.len() as u32;
        *self.blob_index.entry(id.to_owned()).or_insert(next)
    }

    fn edges(&self) -> usize {
        self.blob_edges.len() + self.tree_edges.len()
    }

    /// Every tree holding one of `blobs` at any depth.
    pub fn holders(&self, blobs: &HashSet<ObjectId>) -> HashSet<ObjectId> {
        let mut wanted = vec![false; self.blob_index.len()];
        for b in blobs {
            if let Some(&i) = self.blob_index.get(b) {
                wanted[i as usize] = true;
            }
        }
        let mut marked = vec![false; self.tree_ids.len()];
        let mut queue: Vec<u32> = Vec::new();
        for &(b, t) in &self.blob_edges {
            if wanted[b as usize] && !marked[t as usize] {
                marked[t as usize] = true;
                queue.push(t);
            }
        }
        let mut up = self.tree_edges.clone();
        up.sort_unstable();
        while let Some(t) = queue.pop() {
            let from = up.partition_point(|&(child, _)| child < t);
            for &(_, parent) in up[from..].iter().take_while(|&&(child, _)| child == t) {
                if !marked[parent as usize] {
                    marked[parent as usize] = true;
                    queue.push(parent);
                }
            }
        }
        self.tree_ids
            .iter()
            .zip(marked)
            .filter(|(_, m)| *m)
            .map(|(id, _)| *id)
            .collect()
    }
}

/// Visits every tree under `roots` once (trees shared between commits are entered once) and
/// collects the blobs not in `known_blobs`. Trees in `known_trees` are not entered: everything
/// under them was scanned before. With `graph`, also records which tree holds what.
pub fn walk_trees(
    repo: &gix::Repository,
    roots: impl IntoIterator<Item = ObjectId>,
    known_trees: &HashSet<ObjectId>,
    known_blobs: &HashSet<ObjectId>,
    graph: bool,
    cache: Option<&TreeCache>,
    error: &mut dyn FnMut(String),
) -> Contents {
    let mut out = Contents {
        graph: graph.then(TreeGraph::default),
        ..Contents::default()
    };
    // Paths are kept only to name submodules; a tree is entered at the first path it is seen at.
    let mut stack: Vec<(ObjectId, String)> = Vec::new();
    let mut buf = Vec::new();
    for root in roots {
        if known_trees.contains(&root) || !out.trees.insert(root) {
            continue;
        }
        stack.push((root, String::new()));
        while let Some((id, path)) = stack.pop() {
            let data = match cache.and_then(|c| c.get(&id)) {
                Some(data) => data,
                None => match read_tree(repo, &id, &mut buf) {
                    Ok(data) => data,
                    Err(message) => {
                        error(message);
                        continue;
                    }
                },
            };
            let here = out.graph.as_mut().map(|g| g.tree(&id));
            for entry in gix::objs::TreeRefIter::from_bytes(data, repo.object_hash()) {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        error(format!("git: cannot decode tree {id}: {e:#}"));
                        break;
                    }
                };
                match entry.mode.kind() {
                    EntryKind::Tree => {
                        if let (Some(g), Some(here)) = (out.graph.as_mut(), here) {
                            let sub = g.tree(entry.oid);
                            g.tree_edges.push((sub, here));
                        }
                        if !known_trees.contains(entry.oid)
                            && out.trees.insert(entry.oid.to_owned())
                        {
                            stack.push((entry.oid.to_owned(), join(&path, entry.filename)));
                        }
                    }
                    EntryKind::Blob | EntryKind::BlobExecutable | EntryKind::Link => {
                        if let (Some(g), Some(here)) = (out.graph.as_mut(), here) {
                            // The graph's index doubles as the set of blobs (one hash lookup
                            // per entry instead of two: this loop sees every entry of history).
                            let blob = g.blob(entry.oid);
                            g.blob_edges.push((blob, here));
                        } else if !known_blobs.contains(entry.oid) {
                            out.blobs.insert(entry.oid.to_owned());
                        }
                    }
                    EntryKind::Commit => {
                        out.submodules
                            .entry(join(&path, entry.filename))
                            .or_insert_with(|| entry.oid.to_owned());
                    }
                }
            }
            if out
                .graph
                .as_ref()
                .is_some_and(|g| g.edges() > GRAPH_MAX_EDGES)
            {
                if let Some(g) = out.graph.take() {
                    let new = g
                        .blob_index
                        .into_keys()
                        .filter(|b| !known_blobs.contains(b));
                    out.blobs.extend(new);
                }
            }
        }
    }
    if let Some(g) = &out.graph {
        let new = g.blob_index.keys().filter(|b| !known_blobs.contains(*b));
        out.blobs.extend(new.copied());
    }
    out
}

fn read_tree<'a>(
    repo: &gix::Repository,
    id: &ObjectId,
    buf: &'a mut Vec<u8>,
) -> Result<&'a [u8], String> {
    match repo.objects.try_find(id, buf) {
        Ok(Some(d)) if d.kind == Kind::Tree => Ok(d.data),
        Ok(Some(d)) => Err(format!("git: {id} should be a tree but is a {}", d.kind)),
        Ok(None) => Err(format!("git: tree {id} is missing")),
        Err(e) => Err(format!("git: cannot read tree {id}: {e:#}")),
    }
}

pub fn join(dir: &str, name: &gix::bstr::BStr) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}
