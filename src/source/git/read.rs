//! Reading blobs fast. Two ways, measured on rust-lang/cargo (README, performance):
//!
//! - **Whole packs** (most of a history): gix's delta-tree traversal decodes every object of a
//!   pack exactly once, each delta applied to its already decoded base, on every core. Blobs we
//!   want are scanned as they come out. 1.6 GiB of cargo's blobs decode in ~0.8 s this way,
//!   against ~3.5 s looking each blob up, because lookups re-resolve delta chains whose bases
//!   fell out of the cache.
//! - **Object by object** (loose objects, alternates, a few new blobs, or a pack the traversal
//!   gave up on): in the order the store lays them out, each thread working through runs of
//!   that order with its own repository handle and pack cache; huge blobs stored whole are
//!   streamed.

mod lookup;
mod stream;
mod traverse;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;

use gix::hashtable::HashSet;
use gix::objs::{FindHeader, Kind};
use gix::odb::store::iter::Ordering as StoreOrdering;
use gix::ObjectId;

use crate::finding::Finding;
use crate::scan::Scanner;
use lookup::{object_by_object, Kinds};
pub use traverse::TreeCache;
use traverse::{traverse_packs, Packs, PACKS_AND_TREES_BYTES, TREE_CACHE_BYTES};

/// A finding in a blob, before attribution says where the blob lives.
#[derive(Debug)]
pub struct BlobHit {
    pub blob: ObjectId,
    pub finding: Finding,
}

/// What reading a set of blobs produced.
#[derive(Debug, Default)]
pub struct Reading {
    pub hits: Vec<BlobHit>,
    /// Blobs read and scanned (binary ones included).
    pub done: Vec<ObjectId>,
    /// Blobs that could not be read (already reported): they must not be recorded as scanned.
    pub failed: Vec<ObjectId>,
    pub blobs_read: u64,
    pub streamed: u64,
    /// Trees decoded along the way (whole-store scans only).
    pub trees: TreeCache,
}

impl Reading {
    /// Adds what a later reading produced (its trees are not kept).
    pub fn absorb(&mut self, later: Reading) {
        self.hits.extend(later.hits);
        self.done.extend(later.done);
        self.failed.extend(later.failed);
        self.blobs_read += later.blobs_read;
        self.streamed += later.streamed;
    }
}

/// How blobs are read: by which scanner, on how many threads, within which limits.
pub struct ReadWith<'a> {
    pub scanner: &'a Scanner,
    /// The run's error count, beside the shared messages.
    pub errors: &'a std::sync::atomic::AtomicU64,
    pub threads: usize,
    /// See [`super::GitOptions::max_delta_blob`].
    pub max_delta_blob: u64,
}

/// Reads and scans every blob in `wanted` once.
pub fn scan_blobs(
    with: &ReadWith<'_>,
    repo: &gix::ThreadSafeRepository,
    mut wanted: HashSet<ObjectId>,
) -> anyhow::Result<Reading> {
    let local = repo.to_thread_local();
    let mut reading = Reading::default();
    traverse_packs(with, &local, Packs::Wanted(&mut wanted), None, &mut reading);
    if !wanted.is_empty() {
        let order = pack_order(&local, wanted)?;
        object_by_object(with, repo, &order, Kinds::BlobsOnly, &mut reading);
    }
    Ok(reading)
}

/// Reads and scans every blob stored in the repository's own packs and loose objects, each
/// once, whether reachable or not: for a whole history that is cheaper than asking which are
/// reachable first (a pack decodes fastest whole). The caller drops what is unreachable.
/// Blobs in packs too big to traverse, or in alternate object directories, are left out: the
/// caller reads those reachable ones with [`scan_blobs`].
pub fn scan_store(
    with: &ReadWith<'_>,
    repo: &gix::ThreadSafeRepository,
) -> anyhow::Result<Reading> {
    let local = repo.to_thread_local();
    let objects_dir = local.objects.store_ref().path().to_path_buf();
    let mut reading = Reading::default();
    let mut done: HashSet<ObjectId> = HashSet::default();
    let tree_budget = AtomicUsize::new(tree_cache_budget(&objects_dir));
    traverse_packs(
        with,
        &local,
        Packs::All(&mut done),
        Some(&tree_budget),
        &mut reading,
    );
    let loose: Vec<ObjectId> = gix::odb::loose::Store::at(&objects_dir, local.object_hash())
        .iter()
        .filter_map(Result::ok)
        .filter(|id| !done.contains(id))
        .collect();
    object_by_object(with, repo, &loose, Kinds::SkipOthers, &mut reading);
    Ok(reading)
}

/// Pack files are mapped whole and the traversal reads them through, so they count in the
/// process's resident memory; the trees kept beside them get what is left of
/// [`PACKS_AND_TREES_BYTES`], at most [`TREE_CACHE_BYTES`]. rust-lang/cargo (75 MB of packs,
/// 83 MiB of trees) keeps every tree; git/git (303 MiB of packs, 2.4 GiB of trees) keeps none:
/// 128 MiB would hold a twentieth of its trees and save a twentieth of the tree walk, for a
/// peak of ~620 MiB instead of ~490.
fn tree_cache_budget(objects_dir: &Path) -> usize {
    let packs: u64 = pack_indices(objects_dir)
        .iter()
        .filter_map(|idx| std::fs::metadata(idx.with_extension("pack")).ok())
        .map(|m| m.len())
        .sum();
    let left = PACKS_AND_TREES_BYTES.saturating_sub(usize::try_from(packs).unwrap_or(usize::MAX));
    left.min(TREE_CACHE_BYTES)
}

/// A repository handle for reading many trees by id (the tree walk, attribution), with a
/// delta-base cache of `cache_bytes` instead of gix's default of 64 entries. Such readers take
/// the versions of one directory along the history one after another, and on a history like
/// git/git's (2.4 GiB of trees, mostly deep delta chains) 64 entries keep too few bases: with 32
/// or 64 MiB per thread a whole scan took 24.9 or 21.7 s of CPU instead of 29.6 (README).
pub fn tree_reader(mut repo: gix::Repository, cache_bytes: usize) -> gix::Repository {
    repo.objects.set_pack_cache(move || {
        Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(
            cache_bytes,
        ))
    });
    repo
}

/// Every object id of the store (duplicates included), packs by ascending offset, then loose
/// objects: reading in this order lets consecutive reads share delta bases in the pack cache.
fn store_order(repo: &gix::Repository) -> anyhow::Result<gix::odb::store::iter::AllObjects> {
    Ok(repo
        .objects
        .store_ref()
        .iter()?
        .with_ordering(StoreOrdering::PackAscendingOffsetThenLooseLexicographical))
}

/// Orders `wanted` as the object store lays them out: packs by ascending offset, then loose
/// objects. Ids the store does not list (missing objects) go last, so that reading them reports
/// them like any other unreadable object.
pub fn pack_order(
    repo: &gix::Repository,
    mut wanted: HashSet<ObjectId>,
) -> anyhow::Result<Vec<ObjectId>> {
    let mut order = Vec::with_capacity(wanted.len());
    if !wanted.is_empty() {
        for id in store_order(repo)? {
            // An unreadable index entry is not fatal here: its object, if wanted, is read (and
            // its failure reported) from the leftovers below.
            let Ok(id) = id else { continue };
            if wanted.remove(&id) {
                order.push(id);
                if wanted.is_empty() {
                    break;
                }
            }
        }
    }
    let mut rest: Vec<ObjectId> = wanted.into_iter().collect();
    rest.sort_unstable();
    order.extend(rest);
    Ok(order)
}

/// Every object id in the store with its kind, in pack order, each once (`--all-objects`).
pub fn all_objects(
    repo: &gix::Repository,
    error: &mut dyn FnMut(String),
) -> anyhow::Result<Vec<(ObjectId, Kind)>> {
    let mut seen = HashSet::default();
    let mut out = Vec::new();
    for id in store_order(repo)? {
        let id = match id {
            Ok(id) => id,
            Err(e) => {
                error(format!("git: cannot list objects: {e:#}"));
                continue;
            }
        };
        if !seen.insert(id) {
            continue;
        }
        match repo.objects.try_header(&id) {
            Ok(Some(h)) => out.push((id, h.kind)),
            Ok(None) => error(format!("git: object {id} is listed but missing")),
            Err(e) => error(format!("git: cannot read object {id}: {e:#}")),
        }
    }
    Ok(out)
}

/// Where objects lie in the repository's own packs: reading trees in that order lets each find
/// its delta base (always earlier in its pack) in the delta cache, still warm.
pub struct PackOrder(Vec<gix::odb::pack::index::File>);

impl PackOrder {
    pub fn new(repo: &gix::Repository) -> PackOrder {
        let dir = repo.objects.store_ref().path();
        PackOrder(
            pack_indices(dir)
                .iter()
                .filter_map(|p| gix::odb::pack::index::File::at(p, repo.object_hash()).ok())
                .collect(),
        )
    }

    /// (pack number, offset in it); objects in no pack last.
    pub fn key(&self, id: &gix::oid) -> (usize, u64) {
        self.0
            .iter()
            .enumerate()
            .find_map(|(n, idx)| idx.lookup(id).map(|i| (n, idx.pack_offset_at_index(i))))
            .unwrap_or((usize::MAX, 0))
    }
}

/// The pack index files of an object directory, in name order: any fixed order does, as order
/// only decides which copy of an object stored twice is read.
fn pack_indices(objects_dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(objects_dir.join("pack"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "idx"))
        .collect();
    out.sort();
    out
}
