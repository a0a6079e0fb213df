//! The unique trees and blobs under a set of root trees (the trees of a history's commits), each
//! visited once however many commits, branches and paths share it.

use std::collections::BTreeMap;

use gix::hashtable::{HashMap, HashSet};
use gix::objs::tree::EntryKind;
use gix::objs::{Find, Kind};
use gix::ObjectId;

use super::read::TreeCache;

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
    let mut walk = TreeWalk {
        hash: repo.object_hash(),
        known_trees,
        known_blobs,
        out: Contents {
            graph: graph.then(TreeGraph::default),
            ..Contents::default()
        },
        stack: Vec::new(),
    };
    let mut buf = Vec::new();
    for root in roots {
        if known_trees.contains(&root) || !walk.out.trees.insert(root) {
            continue;
        }
        walk.stack.push((root, String::new()));
        while let Some((id, path)) = walk.stack.pop() {
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
            walk.enter(&id, &path, data, error);
            walk.bound_graph();
        }
    }
    walk.finish()
}

/// One [`walk_trees`]: what it found so far and the trees still to enter.
struct TreeWalk<'k> {
    hash: gix::hash::Kind,
    known_trees: &'k HashSet<ObjectId>,
    known_blobs: &'k HashSet<ObjectId>,
    out: Contents,
    /// Trees to enter, with their path. Paths are kept only to name submodules; a tree is
    /// entered at the first path it is seen at.
    stack: Vec<(ObjectId, String)>,
}

impl TreeWalk<'_> {
    /// Records the entries of tree `id` (raw object `data`), seen at `path`.
    fn enter(&mut self, id: &ObjectId, path: &str, data: &[u8], error: &mut dyn FnMut(String)) {
        let here = self.out.graph.as_mut().map(|g| g.tree(id));
        for entry in gix::objs::TreeRefIter::from_bytes(data, self.hash) {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    error(format!("git: cannot decode tree {id}: {e:#}"));
                    break;
                }
            };
            match entry.mode.kind() {
                EntryKind::Tree => {
                    if let (Some(g), Some(here)) = (self.out.graph.as_mut(), here) {
                        let sub = g.tree(entry.oid);
                        g.tree_edges.push((sub, here));
                    }
                    if !self.known_trees.contains(entry.oid)
                        && self.out.trees.insert(entry.oid.to_owned())
                    {
                        self.stack
                            .push((entry.oid.to_owned(), join(path, entry.filename)));
                    }
                }
                EntryKind::Blob | EntryKind::BlobExecutable | EntryKind::Link => {
                    if let (Some(g), Some(here)) = (self.out.graph.as_mut(), here) {
                        // The graph's index doubles as the set of blobs (one hash lookup
                        // per entry instead of two: this loop sees every entry of history).
                        let blob = g.blob(entry.oid);
                        g.blob_edges.push((blob, here));
                    } else if !self.known_blobs.contains(entry.oid) {
                        self.out.blobs.insert(entry.oid.to_owned());
                    }
                }
                EntryKind::Commit => {
                    self.out
                        .submodules
                        .entry(join(path, entry.filename))
                        .or_insert_with(|| entry.oid.to_owned());
                }
            }
        }
    }

    /// Drops the graph once it outgrows its budget, keeping the blobs it indexed.
    fn bound_graph(&mut self) {
        if self
            .out
            .graph
            .as_ref()
            .is_some_and(|g| g.edges() > GRAPH_MAX_EDGES)
        {
            if let Some(g) = self.out.graph.take() {
                let known = self.known_blobs;
                let new = g.blob_index.into_keys().filter(|b| !known.contains(b));
                self.out.blobs.extend(new);
            }
        }
    }

    fn finish(mut self) -> Contents {
        if let Some(g) = &self.out.graph {
            let new = g
                .blob_index
                .keys()
                .filter(|b| !self.known_blobs.contains(*b));
            self.out.blobs.extend(new.copied());
        }
        self.out
    }
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

fn join(dir: &str, name: &gix::bstr::BStr) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}
