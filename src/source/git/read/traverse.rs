//! Whole packs decoded by gix's delta-tree traversal, every wanted blob scanned as it comes out,
//! and the trees met on the way kept for the tree walk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

use gix::hashtable::{HashMap, HashSet};
use gix::objs::Kind;
use gix::odb::pack;
use gix::ObjectId;

use super::{pack_indices, BlobHit, ReadWith, Reading};
use crate::finding::Origin;
use crate::scan::{Scanner, Scratch};

/// Trees the pack traversal decoded anyway, kept (up to a budget) so the tree walk does not
/// decode them a second time: on rust-lang/cargo that second decoding was about a fifth of the
/// CPU time of a whole-history scan.
#[derive(Debug, Default)]
pub struct TreeCache {
    arenas: Vec<Vec<u8>>,
    index: HashMap<ObjectId, (u32, u32, u32)>,
}

impl TreeCache {
    /// The raw tree object, if cached.
    pub fn get(&self, id: &gix::oid) -> Option<&[u8]> {
        let &(arena, start, len) = self.index.get(id)?;
        self.arenas
            .get(arena as usize)?
            .get(start as usize..(start + len) as usize)
    }

    fn add(&mut self, kept: KeptTrees) {
        let n = self.arenas.len() as u32;
        for (id, start, len) in kept.ids {
            self.index.insert(id, (n, start, len));
        }
        self.arenas.push(kept.arena);
    }
}

/// At most this many bytes of trees are cached; further trees are decoded again by the walk.
pub(super) const TREE_CACHE_BYTES: usize = 128 << 20;
/// Mapped packs plus kept trees stay under this (see `tree_cache_budget`).
pub(super) const PACKS_AND_TREES_BYTES: usize = 256 << 20;

/// The traversal holds every decoded object of a delta chain in memory: an object larger than
/// this stops it (the pack is then finished object by object, where such blobs are streamed).
const TRAVERSE_OBJECT_LIMIT: usize = 64 << 20;
/// The traversal indexes every entry of a pack (~100 bytes each): bigger packs are read object
/// by object so memory stays bounded.
const TRAVERSE_MAX_OBJECTS: u32 = 2_000_000;
/// Decoding a whole pack pays off when at least this share of its objects is wanted.
const TRAVERSE_MIN_SHARE: u64 = 8;

/// Which blobs of a pack to scan.
#[derive(Clone, Copy)]
enum Select<'a> {
    Only(&'a HashSet<ObjectId>),
    /// All but these (already scanned from another pack).
    AllBut(&'a HashSet<ObjectId>),
}

impl Select<'_> {
    fn wants(&self, id: &ObjectId) -> bool {
        match self {
            Select::Only(set) => set.contains(id),
            Select::AllBut(set) => !set.contains(id),
        }
    }
}

/// Which blobs the pack traversals are for.
pub(super) enum Packs<'a> {
    /// These (scanned ones are removed); packs holding few of them are left to lookups.
    Wanted(&'a mut HashSet<ObjectId>),
    /// Every blob, each once (scanned ones are added, so a later pack skips its copies).
    All(&'a mut HashSet<ObjectId>),
}

pub(super) fn traverse_packs(
    with: &ReadWith<'_>,
    repo: &gix::Repository,
    mut packs_for: Packs<'_>,
    tree_budget: Option<&AtomicUsize>,
    reading: &mut Reading,
) {
    for (index_path, data_path) in packs(repo.objects.store_ref().path()) {
        if matches!(&packs_for, Packs::Wanted(w) if w.is_empty()) {
            break;
        }
        let Some((index, data)) = open_pack(repo, &index_path, &data_path) else {
            continue;
        };
        let select = match &packs_for {
            Packs::Wanted(w)
                if (w.len() as u64) * TRAVERSE_MIN_SHARE < u64::from(index.num_objects()) =>
            {
                continue
            }
            Packs::Wanted(w) => Select::Only(w),
            Packs::All(done) => Select::AllBut(done),
        };
        let scanned = traverse_pack(with, &index, &data, select, tree_budget, reading);
        match &mut packs_for {
            Packs::Wanted(w) => scanned.iter().for_each(|id| {
                w.remove(id);
            }),
            Packs::All(done) => done.extend(scanned.iter().copied()),
        }
        reading.done.extend(scanned);
    }
}

fn open_pack(
    repo: &gix::Repository,
    index_path: &Path,
    data_path: &Path,
) -> Option<(pack::index::File, pack::data::File)> {
    let index = pack::index::File::at(index_path, repo.object_hash()).ok()?;
    if index.num_objects() > TRAVERSE_MAX_OBJECTS {
        return None;
    }
    let data = pack::data::File::at(data_path, repo.object_hash()).ok()?;
    Some((index, data))
}

/// Pack index and data files of the object directory; an index without its data is skipped.
fn packs(objects_dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    pack_indices(objects_dir)
        .into_iter()
        .map(|p| {
            let data = p.with_extension("pack");
            (p, data)
        })
        .filter(|(_, data)| data.is_file())
        .collect()
}

/// Decodes a whole pack with gix's delta-tree traversal and scans the wanted blobs in it.
/// Returns the blobs scanned; if the traversal stops early (an object over the size limit, a
/// damaged entry) the others are simply not in the list and are read object by object.
fn traverse_pack(
    with: &ReadWith<'_>,
    index: &pack::index::File,
    data: &pack::data::File,
    select: Select<'_>,
    tree_budget: Option<&AtomicUsize>,
    reading: &mut Reading,
) -> Vec<ObjectId> {
    let sink = Mutex::new(PackSink::default());
    let state = PackScan {
        scanner: with.scanner,
        select,
        tree_budget,
        arena: Vec::new(),
        trees: Vec::new(),
        sink: &sink,
        scratch: Scratch::default(),
        origin: Origin::new("git"),
        hits: Vec::new(),
        done: Vec::new(),
    };
    let mut state = state;
    let processor = move |kind: Kind,
                          bytes: &[u8],
                          entry: &pack::index::Entry,
                          _: &dyn gix::progress::Progress| {
        match kind {
            Kind::Blob if state.select.wants(&entry.oid) => state.scan(entry.oid, bytes),
            Kind::Tree => state.keep_tree(entry.oid, bytes),
            _ => {}
        }
        Ok(())
    };
    // Result ignored on purpose: whatever was scanned before a failure is in the sink, and the
    // rest falls through to object-by-object reading, which reports each unreadable object.
    let _ = index.traverse(
        data,
        &mut gix::progress::Discard,
        &AtomicBool::new(false),
        processor,
        pack::index::traverse::Options {
            traversal: pack::index::traverse::Algorithm::DeltaTreeLookup,
            thread_limit: Some(with.threads.max(1)),
            // Object ids are checked by reachability, not re-hashed: hashing every object would
            // cost more than decoding it. Damage still surfaces as a decode error.
            check: pack::index::traverse::SafetyCheck::SkipFileAndObjectChecksumVerificationAndNoAbortOnDecodeError,
            // Over the delta limit too: such an object stops the traversal and is then read
            // (streamed when stored whole, refused when a delta) object by object.
            alloc_limit_bytes: Some(
                TRAVERSE_OBJECT_LIMIT.min(usize::try_from(with.max_delta_blob).unwrap_or(usize::MAX)),
            ),
            make_pack_lookup_cache: || pack::cache::Never,
        },
    );
    let PackSink { hits, done, trees } = sink.into_inner().unwrap_or_else(|e| e.into_inner());
    for kept in trees {
        reading.trees.add(kept);
    }
    reading.hits.extend(hits);
    reading.blobs_read += done.len() as u64;
    done
}

#[derive(Default)]
struct PackSink {
    hits: Vec<BlobHit>,
    done: Vec<ObjectId>,
    trees: Vec<KeptTrees>,
}

/// One thread's kept trees: their bytes back to back, and (id, start, length) of each.
struct KeptTrees {
    arena: Vec<u8>,
    ids: Vec<(ObjectId, u32, u32)>,
}

/// One traversal thread's scanning state. The traversal clones its processor once per thread:
/// a clone starts with fresh buffers and hands its results to the shared sink when dropped.
struct PackScan<'a> {
    scanner: &'a Scanner,
    select: Select<'a>,
    /// Bytes of trees still to be kept, shared by all threads; `None`: keep none.
    tree_budget: Option<&'a AtomicUsize>,
    arena: Vec<u8>,
    trees: Vec<(ObjectId, u32, u32)>,
    sink: &'a Mutex<PackSink>,
    scratch: Scratch,
    origin: Origin,
    hits: Vec<BlobHit>,
    done: Vec<ObjectId>,
}

impl PackScan<'_> {
    fn scan(&mut self, blob: ObjectId, bytes: &[u8]) {
        let hits = &mut self.hits;
        self.scanner
            .scan_bytes(bytes, &self.origin, &mut self.scratch, &mut |finding| {
                hits.push(BlobHit { blob, finding })
            });
        self.done.push(blob);
    }

    fn keep_tree(&mut self, id: ObjectId, bytes: &[u8]) {
        let Some(budget) = self.tree_budget else {
            return;
        };
        let taken = budget.fetch_update(Relaxed, Relaxed, |left| left.checked_sub(bytes.len()));
        if taken.is_err() || self.arena.len() + bytes.len() > u32::MAX as usize {
            return;
        }
        self.trees
            .push((id, self.arena.len() as u32, bytes.len() as u32));
        self.arena.extend_from_slice(bytes);
    }
}

impl Clone for PackScan<'_> {
    fn clone(&self) -> Self {
        PackScan {
            scanner: self.scanner,
            select: self.select,
            tree_budget: self.tree_budget,
            arena: Vec::new(),
            trees: Vec::new(),
            sink: self.sink,
            scratch: Scratch::default(),
            origin: self.origin.clone(),
            hits: Vec::new(),
            done: Vec::new(),
        }
    }
}

impl Drop for PackScan<'_> {
    fn drop(&mut self) {
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        sink.hits.append(&mut self.hits);
        sink.done.append(&mut self.done);
        if !self.trees.is_empty() {
            sink.trees.push(KeptTrees {
                arena: std::mem::take(&mut self.arena),
                ids: std::mem::take(&mut self.trees),
            });
        }
    }
}
