//! Which tree holds which subtree or matched blob, under which entry name: what the tree walk of a
//! whole history records so that attribution reads a few commits instead of diffing them all.
//!
//! A commit introduced a blob where its tree holds the blob at a path none of its parents' trees
//! holds it at. With the entry names on the edges, the (path, blob) pairs under every tree that
//! holds a matched blob can be worked out from the graph alone, bottom up, each tree once; the
//! commits that introduced something are then those whose pairs are not all in a parent's. On
//! git/git, a key file present since 2014 made every commit's tree a holder: diffing them all
//! was 7.6 of 19 s; now three commits are diffed, and attribution takes under 0.4 s.

use std::collections::HashMap as StdHashMap;

use gix::hashtable::{HashMap, HashSet};
use gix::ObjectId;

use super::attribution::Narrowing;
use super::history::History;

/// `child` (a subtree or a blob) is the entry `name` of tree `holder`. Numbers: trees as the walk
/// met them, blobs and names in their own tables. Ordered by child first, as
/// [`TreeGraph::holders`] searches the edges sorted that way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub child: u32,
    pub holder: u32,
    pub name: u32,
}

/// Containment edges between the unique trees of a history and the blobs asked for, as small
/// integers. Only the blobs asked for (those that matched) get edges: every blob edge of git/git's
/// history is 56 million edges, its tree edges 3 million.
#[derive(Debug, Default)]
pub struct TreeGraph {
    pub(super) tree_ids: Vec<ObjectId>,
    pub(super) blob_index: HashMap<ObjectId, u32>,
    pub(super) blob_edges: Vec<Edge>,
    pub(super) tree_edges: Vec<Edge>,
}

/// Beyond this many (path, blob) pairs in all (8 bytes each, and as many numbered paths at most)
/// the commits are not narrowed down and attribution diffs every commit whose tree holds a
/// matched blob: a blob at thousands of paths of thousands of tree versions is possible, and
/// memory stays bounded.
const MAX_PAIRS: usize = 4 << 20;

/// Entry names as numbers, for the walk to put on its edges.
#[derive(Debug, Default)]
pub struct Names(StdHashMap<Box<[u8]>, u32>);

impl Names {
    pub fn number(&mut self, name: &[u8]) -> u32 {
        if let Some(&n) = self.0.get(name) {
            return n;
        }
        let n = self.0.len() as u32;
        self.0.insert(name.into(), n);
        n
    }
}

impl TreeGraph {
    pub(super) fn blob(&mut self, id: &gix::oid) -> u32 {
        let next = self.blob_index.len() as u32;
        *self.blob_index.entry(id.to_owned()).or_insert(next)
    }

    /// What attribution must read to find where `blobs` were introduced in `history`.
    pub fn narrow(&self, history: &History, blobs: &HashSet<ObjectId>) -> Narrowing {
        let wanted = self.wanted(blobs);
        let held = self.holders(&wanted);
        let commits =
            Pairs::under(self, &wanted, &held, MAX_PAIRS).map(|p| p.introducing(self, history));
        Narrowing {
            trees: self.ids_of(&held),
            commits,
        }
    }

    fn wanted(&self, blobs: &HashSet<ObjectId>) -> Vec<bool> {
        let mut wanted = vec![false; self.blob_index.len()];
        for b in blobs {
            if let Some(&i) = self.blob_index.get(b) {
                wanted[i as usize] = true;
            }
        }
        wanted
    }

    /// Which trees hold a wanted blob at any depth.
    fn holders(&self, wanted: &[bool]) -> Vec<bool> {
        let mut marked = vec![false; self.tree_ids.len()];
        let mut queue: Vec<u32> = Vec::new();
        for e in self.blob_edges.iter().filter(|e| wanted[e.child as usize]) {
            if !marked[e.holder as usize] {
                marked[e.holder as usize] = true;
                queue.push(e.holder);
            }
        }
        let mut up = self.tree_edges.clone();
        up.sort_unstable();
        while let Some(t) = queue.pop() {
            let from = up.partition_point(|e| e.child < t);
            for e in up[from..].iter().take_while(|e| e.child == t) {
                if !marked[e.holder as usize] {
                    marked[e.holder as usize] = true;
                    queue.push(e.holder);
                }
            }
        }
        marked
    }

    fn ids_of(&self, marked: &[bool]) -> HashSet<ObjectId> {
        self.tree_ids
            .iter()
            .zip(marked)
            .filter(|(_, m)| **m)
            .map(|(id, _)| *id)
            .collect()
    }
}

/// The (path below the tree, blob) pairs of the wanted blobs under each holding tree, sorted.
/// A path is a number: `(first name, rest of the path)` numbered as met, the rest of a blob
/// entry's own name being [`Pairs::END`].
#[derive(Default)]
struct Pairs {
    /// Per tree number, its range of `all` (empty for trees holding nothing wanted).
    of: Vec<(u32, u32)>,
    all: Vec<(u32, u32)>,
    paths: StdHashMap<(u32, u32), u32>,
}

impl Pairs {
    const END: u32 = u32::MAX;

    /// The pairs under every tree `held` marks, children before the trees holding them; `None`
    /// past `max` pairs.
    fn under(graph: &TreeGraph, wanted: &[bool], held: &[bool], max: usize) -> Option<Pairs> {
        let by_holder = |edges: &[Edge], keep: &dyn Fn(&Edge) -> bool| {
            let mut v: Vec<Edge> = edges.iter().filter(|e| keep(e)).copied().collect();
            v.sort_unstable_by_key(|e| (e.holder, e.child, e.name));
            v
        };
        let subtrees = by_holder(&graph.tree_edges, &|e| {
            held[e.child as usize] && held[e.holder as usize]
        });
        let blobs = by_holder(&graph.blob_edges, &|e| wanted[e.child as usize]);
        let of = |edges: &'_ [Edge], t: u32| -> std::ops::Range<usize> {
            let from = edges.partition_point(|e| e.holder < t);
            from..from + edges[from..].iter().take_while(|e| e.holder == t).count()
        };
        let mut pairs = Pairs {
            of: vec![(0, 0); held.len()],
            ..Pairs::default()
        };
        // 0: not yet, 1: its children are being done, 2: done.
        let mut state = vec![0u8; held.len()];
        let mut stack: Vec<u32> = Vec::new();
        for start in (0..held.len() as u32).filter(|&t| held[t as usize]) {
            stack.push(start);
            while let Some(&t) = stack.last() {
                let children = &subtrees[of(&subtrees, t)];
                match state[t as usize] {
                    0 => {
                        state[t as usize] = 1;
                        let todo = children.iter().filter(|e| state[e.child as usize] == 0);
                        stack.extend(todo.map(|e| e.child));
                    }
                    1 => {
                        stack.pop();
                        state[t as usize] = 2;
                        if !pairs.settle(t, &blobs[of(&blobs, t)], children, max) {
                            return None;
                        }
                    }
                    _ => {
                        stack.pop();
                    }
                }
            }
        }
        Some(pairs)
    }

    /// Works out tree `t`'s pairs from its own wanted `blobs` and its `children`'s pairs (done
    /// already); false past `max` pairs in all.
    fn settle(&mut self, t: u32, blobs: &[Edge], children: &[Edge], max: usize) -> bool {
        let mut mine: Vec<(u32, u32)> = Vec::new();
        for e in blobs {
            mine.push((self.path(e.name, Self::END), e.child));
        }
        for e in children {
            let (start, len) = self.of[e.child as usize];
            for i in start..start + len {
                let (rest, blob) = self.all[i as usize];
                mine.push((self.path(e.name, rest), blob));
            }
            if self.all.len() + mine.len() > max {
                return false;
            }
        }
        mine.sort_unstable();
        mine.dedup();
        self.of[t as usize] = (self.all.len() as u32, mine.len() as u32);
        self.all.extend_from_slice(&mine);
        true
    }

    fn path(&mut self, name: u32, rest: u32) -> u32 {
        let next = self.paths.len() as u32;
        *self.paths.entry((name, rest)).or_insert(next)
    }

    fn get(&self, tree: u32) -> &[(u32, u32)] {
        let (start, len) = self.of[tree as usize];
        &self.all[start as usize..(start + len) as usize]
    }

    /// The commits of `history` whose tree holds a pair no parent's tree holds; a commit with a
    /// parent outside the walk is kept too (its parent's tree is not in the graph): the diff
    /// decides for it.
    fn introducing(&self, graph: &TreeGraph, history: &History) -> HashSet<ObjectId> {
        let index: HashMap<ObjectId, u32> = graph
            .tree_ids
            .iter()
            .enumerate()
            .filter(|(n, _)| self.of[*n].1 > 0)
            .map(|(n, id)| (*id, n as u32))
            .collect();
        let pairs_of = |tree: &ObjectId| index.get(tree).map_or(&[][..], |&n| self.get(n));
        let mut out = HashSet::default();
        for commit in &history.commits {
            let own = pairs_of(&commit.tree);
            if own.is_empty() {
                continue;
            }
            let parents: Option<Vec<&[(u32, u32)]>> = history
                .parents(commit)
                .iter()
                .map(|p| history.get(p).map(|node| pairs_of(&node.tree)))
                .collect();
            let new = match parents {
                None => true,
                Some(theirs) => own
                    .iter()
                    .any(|pair| !theirs.iter().any(|t| t.binary_search(pair).is_ok())),
            };
            if new {
                out.insert(commit.id);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[n; 20])
    }

    /// Trees 0 (root) ⊃ 1 (as "a" and as "b") ⊃ blob 0 (as "k"); tree 2 holds blob 1 as "k",
    /// tree 3 nothing wanted.
    fn graph() -> TreeGraph {
        let mut g = TreeGraph {
            tree_ids: (0..4).map(id).collect(),
            ..TreeGraph::default()
        };
        let (b0, b1) = (g.blob(&id(100)), g.blob(&id(101)));
        let edge = |child, holder, name| Edge {
            child,
            holder,
            name,
        };
        g.blob_edges = vec![edge(b0, 1, 7), edge(b1, 2, 7)];
        g.tree_edges = vec![edge(1, 0, 1), edge(1, 0, 2), edge(3, 0, 3), edge(2, 3, 4)];
        g
    }

    #[test]
    fn pairs_name_every_path_a_wanted_blob_is_at() {
        let g = graph();
        let wanted = g.wanted(&[id(100)].into_iter().collect());
        let held = g.holders(&wanted);
        assert_eq!(held, vec![true, true, false, false]);
        let pairs = Pairs::under(&g, &wanted, &held, MAX_PAIRS).unwrap();
        // Tree 1: "k" → blob 0. Root: "a/k" and "b/k" → blob 0, two distinct paths.
        assert_eq!(pairs.get(1).len(), 1);
        let root = pairs.get(0);
        assert_eq!(root.len(), 2);
        assert!(root.iter().all(|&(_, b)| b == 0));
        assert_ne!(root[0].0, root[1].0);
        assert!(pairs.get(2).is_empty() && pairs.get(3).is_empty());
        // Both blobs wanted: tree 3 holds blob 1 at "k" below its entry 4, the root below "3/4".
        let wanted = g.wanted(&[id(100), id(101)].into_iter().collect());
        let held = g.holders(&wanted);
        let pairs = Pairs::under(&g, &wanted, &held, MAX_PAIRS).unwrap();
        assert_eq!(pairs.get(0).len(), 3);
        assert_eq!(pairs.get(3).len(), 1);
        // Six pairs in all: past a budget there is no narrowing down (attribution then diffs
        // every commit whose tree holds a wanted blob).
        assert!(Pairs::under(&g, &wanted, &held, 5).is_none());
        assert!(Pairs::under(&g, &wanted, &held, 6).is_some());
    }
}
