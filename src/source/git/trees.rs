//! The unique trees and blobs under a set of root trees (the trees of a history's commits), each
//! visited once however many commits, branches and paths share it.

use std::collections::BTreeMap;

use std::sync::Mutex;

use gix::hashtable::{HashMap, HashSet};
use gix::objs::tree::EntryKind;
use gix::objs::{Find, Kind};
use gix::ObjectId;

use super::graph::{Edge, Names, TreeGraph};
use super::parallel::{in_runs, into_inner, lock};
use super::read::{tree_reader, PackOrder, TreeCache};
use crate::scan::Phase;

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

/// Beyond this many edges (12 bytes each) the graph is dropped and attribution reads every
/// changed tree instead: slower, but memory stays bounded on huge histories.
const GRAPH_MAX_EDGES: usize = 16 << 20;

/// The delta-base cache of each walking thread (see [`tree_reader`]). Bigger saves more CPU on
/// deep histories (64 MiB: a third of the walk on git/git) but counts twice in peak memory.
const WALK_CACHE_BYTES: usize = 48 << 20;

/// Which blobs a tree walk records in its [`TreeGraph`].
pub type GraphBlobs<'a> = &'a (dyn Fn(&gix::oid) -> bool + Sync);

/// What a tree walk skips, records and reuses.
pub struct WalkOptions<'a> {
    /// Not entered: everything under them was scanned before.
    pub known_trees: &'a HashSet<ObjectId>,
    /// Not collected.
    pub known_blobs: &'a HashSet<ObjectId>,
    /// Record which tree holds which subtree, and which of the blobs this selects.
    pub graph: Option<GraphBlobs<'a>>,
    /// Trees decoded already.
    pub cache: Option<&'a TreeCache>,
    pub threads: usize,
    /// Counts the trees entered, for the progress line.
    pub phase: &'a Phase,
}

/// Visits every tree under `roots` once (trees shared between commits are entered once) and
/// collects the blobs not known. One level of depth at a time, each level shared out to the
/// threads: on git/git the walk reads 2.4 GiB of trees, most of them rebuilt from deltas, which
/// one thread took a third of the whole run for. Each level is read in pack order, where a
/// delta's base comes before it: in the order met (by commit time) the walk of git/git took 7 s
/// of CPU more (of 24 s for the whole run), rebuilding bases the delta cache had dropped.
pub fn walk_trees(
    repo: &gix::Repository,
    roots: impl IntoIterator<Item = ObjectId>,
    with: &WalkOptions<'_>,
    error: &mut dyn FnMut(String),
) -> Contents {
    let _phase = with.phase.begin("git: tree walk", "trees", 0);
    let ids = Mutex::new(TreeIds::default());
    let mut level: Vec<(ObjectId, u32, String)> = Vec::new();
    for root in roots {
        if !with.known_trees.contains(&root) {
            if let (n, true) = lock(&ids).get_or_insert(&root) {
                level.push((root, n, String::new()));
            }
        }
    }
    let threads = with.threads.max(1);
    let handles = Mutex::new(
        (0..threads)
            .map(|_| tree_reader(repo.clone(), WALK_CACHE_BYTES))
            .collect::<Vec<_>>(),
    );
    let mut out = Contents::default();
    let mut edges = Edges::default();
    let order = PackOrder::new(repo);
    while !level.is_empty() {
        // Trees the pack traversal kept are not read from the pack: only the others are worth
        // an index lookup (a binary search per pack index, on this thread).
        level.sort_by_cached_key(|(id, ..)| match with.cache.and_then(|c| c.get(id)) {
            Some(_) => (0, 0),
            None => order.key(id),
        });
        let parts = Mutex::new(Vec::new());
        in_runs(
            &level,
            threads.min(level.len()),
            (level.len() / (threads * 16)).clamp(1, 256),
            // A `gix::Repository` is not `Sync`: each thread takes a handle made before.
            || Level::new(lock(&handles).pop().expect("one handle per thread")),
            |part, item| part.enter(item, with, &ids),
            |mut part| {
                let repo = part.repo.take();
                lock(&handles).extend(repo);
                lock(&parts).push(part);
            },
        );
        level = Vec::new();
        for part in into_inner(parts) {
            part.errors.into_iter().for_each(&mut *error);
            out.blobs.extend(part.blobs);
            for (path, id) in part.submodules {
                out.submodules.entry(path).or_insert(id);
            }
            edges.trees.extend(part.tree_edges);
            edges.blobs.extend(part.blob_edges);
            level.extend(part.next);
        }
    }
    let ids = into_inner(ids);
    out.trees = ids.index.keys().copied().collect();
    if with.graph.is_some() {
        out.graph = edges.into_graph(ids);
    }
    out
}

/// Every tree met, numbered in the order met, and the names of the graph's edges.
#[derive(Default)]
struct TreeIds {
    index: HashMap<ObjectId, u32>,
    ids: Vec<ObjectId>,
    names: Names,
}

impl TreeIds {
    /// The tree's number, and whether it is new.
    fn get_or_insert(&mut self, id: &gix::oid) -> (u32, bool) {
        if let Some(&n) = self.index.get(id) {
            return (n, false);
        }
        let n = self.ids.len() as u32;
        self.ids.push(id.to_owned());
        self.index.insert(id.to_owned(), n);
        (n, true)
    }
}

#[derive(Default)]
struct Edges {
    trees: Vec<Edge>,
    /// The blob's id, the tree holding it, the entry's name.
    blobs: Vec<(ObjectId, u32, u32)>,
}

impl Edges {
    /// The graph, unless it outgrew its budget.
    fn into_graph(self, ids: TreeIds) -> Option<TreeGraph> {
        if self.trees.len() + self.blobs.len() > GRAPH_MAX_EDGES {
            return None;
        }
        let mut g = TreeGraph {
            tree_ids: ids.ids,
            tree_edges: self.trees,
            ..TreeGraph::default()
        };
        for (blob, holder, name) in self.blobs {
            let child = g.blob(&blob);
            g.blob_edges.push(Edge {
                child,
                holder,
                name,
            });
        }
        Some(g)
    }
}

/// One thread's share of one level of the walk.
struct Level {
    repo: Option<gix::Repository>,
    buf: Vec<u8>,
    blobs: HashSet<ObjectId>,
    submodules: BTreeMap<String, ObjectId>,
    tree_edges: Vec<Edge>,
    blob_edges: Vec<(ObjectId, u32, u32)>,
    /// New trees for the next level, with their number and path.
    next: Vec<(ObjectId, u32, String)>,
    errors: Vec<String>,
}

impl Level {
    fn new(repo: gix::Repository) -> Self {
        Level {
            repo: Some(repo),
            buf: Vec::new(),
            blobs: HashSet::default(),
            submodules: BTreeMap::new(),
            tree_edges: Vec::new(),
            blob_edges: Vec::new(),
            next: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Records the entries of tree `id` (number `here`), seen at `path`. Paths are kept only
    /// to name submodules; a tree is entered at the first path it is seen at.
    fn enter(
        &mut self,
        (id, here, path): &(ObjectId, u32, String),
        with: &WalkOptions<'_>,
        ids: &Mutex<TreeIds>,
    ) {
        let Some(repo) = self.repo.as_ref() else {
            return;
        };
        with.phase.advance(1);
        let data = match with.cache.and_then(|c| c.get(id)) {
            Some(data) => data,
            None => match read_tree(repo, id, &mut self.buf) {
                Ok(data) => data,
                Err(message) => {
                    self.errors.push(message);
                    return;
                }
            },
        };
        let here = *here;
        for entry in gix::objs::TreeRefIter::from_bytes(data, repo.object_hash()) {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.errors
                        .push(format!("git: cannot decode tree {id}: {e:#}"));
                    break;
                }
            };
            match entry.mode.kind() {
                EntryKind::Tree => {
                    if with.known_trees.contains(entry.oid) {
                        continue;
                    }
                    let mut ids = lock(ids);
                    let (sub, new) = ids.get_or_insert(entry.oid);
                    if with.graph.is_some() {
                        self.tree_edges.push(Edge {
                            child: sub,
                            holder: here,
                            name: ids.names.number(entry.filename),
                        });
                    }
                    drop(ids);
                    if new {
                        let at = join(path, entry.filename);
                        self.next.push((entry.oid.to_owned(), sub, at));
                    }
                }
                EntryKind::Blob | EntryKind::BlobExecutable | EntryKind::Link => {
                    if with.graph.is_some_and(|wanted| wanted(entry.oid)) {
                        let name = lock(ids).names.number(entry.filename);
                        self.blob_edges.push((entry.oid.to_owned(), here, name));
                    }
                    if !with.known_blobs.contains(entry.oid) {
                        self.blobs.insert(entry.oid.to_owned());
                    }
                }
                EntryKind::Commit => {
                    self.submodules
                        .entry(join(path, entry.filename))
                        .or_insert_with(|| entry.oid.to_owned());
                }
            }
        }
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
