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

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

use gix::hashtable::{HashMap, HashSet};
use gix::objs::{Find, FindHeader, Kind};
use gix::odb::pack;
use gix::odb::store::iter::Ordering as StoreOrdering;
use gix::ObjectId;

use super::stream::Streams;
use crate::finding::{Finding, Origin};
use crate::scan::{Scanner, Scratch, CHUNK_SIZE};

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
const TREE_CACHE_BYTES: usize = 128 << 20;

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

/// Reads and scans every blob in `wanted` once, on `threads` threads.
pub fn scan_blobs(
    scanner: &Scanner,
    repo: &gix::ThreadSafeRepository,
    mut wanted: HashSet<ObjectId>,
    threads: usize,
) -> anyhow::Result<Reading> {
    let local = repo.to_thread_local();
    let mut reading = Reading::default();
    traverse_packs(
        scanner,
        &local,
        threads,
        Packs::Wanted(&mut wanted),
        None,
        &mut reading,
    );
    if !wanted.is_empty() {
        let order = pack_order(&local, wanted)?;
        object_by_object(
            scanner,
            repo,
            &order,
            threads,
            Kinds::BlobsOnly,
            &mut reading,
        );
    }
    Ok(reading)
}

/// Reads and scans every blob stored in the repository's own packs and loose objects, each
/// once, whether reachable or not: for a whole history that is cheaper than asking which are
/// reachable first (a pack decodes fastest whole). The caller drops what is unreachable.
/// Blobs in packs too big to traverse, or in alternate object directories, are left out: the
/// caller reads those reachable ones with [`scan_blobs`].
pub fn scan_store(
    scanner: &Scanner,
    repo: &gix::ThreadSafeRepository,
    threads: usize,
) -> anyhow::Result<Reading> {
    let local = repo.to_thread_local();
    let objects_dir = local.objects.store_ref().path().to_path_buf();
    let mut reading = Reading::default();
    let mut done: HashSet<ObjectId> = HashSet::default();
    let tree_budget = AtomicUsize::new(TREE_CACHE_BYTES);
    traverse_packs(
        scanner,
        &local,
        threads,
        Packs::All(&mut done),
        Some(&tree_budget),
        &mut reading,
    );
    let loose: Vec<ObjectId> = gix::odb::loose::Store::at(&objects_dir, local.object_hash())
        .iter()
        .filter_map(Result::ok)
        .filter(|id| !done.contains(id))
        .collect();
    object_by_object(
        scanner,
        repo,
        &loose,
        threads,
        Kinds::SkipOthers,
        &mut reading,
    );
    Ok(reading)
}

/// Which blobs the pack traversals are for.
enum Packs<'a> {
    /// These (scanned ones are removed); packs holding few of them are left to lookups.
    Wanted(&'a mut HashSet<ObjectId>),
    /// Every blob, each once (scanned ones are added, so a later pack skips its copies).
    All(&'a mut HashSet<ObjectId>),
}

fn traverse_packs(
    scanner: &Scanner,
    repo: &gix::Repository,
    threads: usize,
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
        let scanned = traverse_pack(
            scanner,
            &index,
            &data,
            select,
            tree_budget,
            threads,
            reading,
        );
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

/// Pack index and data files of the object directory, oldest first (git lists the newest
/// first, but order only matters for which copy of a duplicated object is read).
fn packs(objects_dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut out: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(objects_dir.join("pack"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "idx"))
        .map(|p| {
            let data = p.with_extension("pack");
            (p, data)
        })
        .filter(|(_, data)| data.is_file())
        .collect();
    out.sort();
    out
}

/// Decodes a whole pack with gix's delta-tree traversal and scans the wanted blobs in it.
/// Returns the blobs scanned; if the traversal stops early (an object over the size limit, a
/// damaged entry) the others are simply not in the list and are read object by object.
fn traverse_pack(
    scanner: &Scanner,
    index: &pack::index::File,
    data: &pack::data::File,
    select: Select<'_>,
    tree_budget: Option<&AtomicUsize>,
    threads: usize,
    reading: &mut Reading,
) -> Vec<ObjectId> {
    let sink = Mutex::new(PackSink::default());
    let state = PackScan {
        scanner,
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
            thread_limit: Some(threads.max(1)),
            // Object ids are checked by reachability, not re-hashed: hashing every object would
            // cost more than decoding it. Damage still surfaces as a decode error.
            check: pack::index::traverse::SafetyCheck::SkipFileAndObjectChecksumVerificationAndNoAbortOnDecodeError,
            alloc_limit_bytes: Some(TRAVERSE_OBJECT_LIMIT),
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

/// Runs of this many ids are handed to threads: long enough to keep the delta cache warm along
/// pack order, short enough that a thread stuck on a few huge blobs does not hold up the others.
fn run_length(ids: usize, threads: usize) -> usize {
    (ids / (threads * 16)).clamp(64, 8192)
}

/// What to do with an object that is not a blob.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kinds {
    /// Report it: it was expected to be a blob.
    BlobsOnly,
    /// Skip it quietly (listing every loose object yields commits and trees too).
    SkipOthers,
}

/// Reads and scans `ids` one object at a time, on `threads` threads.
fn object_by_object(
    scanner: &Scanner,
    repo: &gix::ThreadSafeRepository,
    ids: &[ObjectId],
    threads: usize,
    kinds: Kinds,
    reading: &mut Reading,
) {
    if ids.is_empty() {
        return;
    }
    let threads = threads.clamp(1, ids.len().max(1));
    let run = run_length(ids.len(), threads);
    let next = AtomicUsize::new(0);
    let (read, streamed) = (AtomicU64::new(0), AtomicU64::new(0));
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut reader = BlobReader::new(scanner, repo.to_thread_local(), kinds);
                loop {
                    let start = next.fetch_add(run, Relaxed);
                    if start >= ids.len() {
                        break;
                    }
                    for id in &ids[start..(start + run).min(ids.len())] {
                        reader.scan(id);
                    }
                }
                read.fetch_add(reader.read, Relaxed);
                streamed.fetch_add(reader.streamed, Relaxed);
                lock(&results).push((reader.hits, reader.done, reader.failed));
            });
        }
    });
    for (hits, done, failed) in into_inner(results) {
        reading.hits.extend(hits);
        reading.done.extend(done);
        reading.failed.extend(failed);
    }
    reading.blobs_read += read.into_inner();
    reading.streamed += streamed.into_inner();
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn into_inner<T>(m: Mutex<T>) -> T {
    m.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// One thread's reading state.
struct BlobReader<'a> {
    scanner: &'a Scanner,
    repo: gix::Repository,
    streams: Streams,
    scratch: Scratch,
    buf: Vec<u8>,
    origin: Origin,
    hits: Vec<BlobHit>,
    done: Vec<ObjectId>,
    failed: Vec<ObjectId>,
    read: u64,
    streamed: u64,
    kinds: Kinds,
}

impl<'a> BlobReader<'a> {
    fn new(scanner: &'a Scanner, repo: gix::Repository, kinds: Kinds) -> Self {
        BlobReader {
            scanner,
            streams: Streams::new(&repo),
            repo,
            scratch: Scratch::default(),
            buf: Vec::new(),
            origin: Origin::new("git"),
            hits: Vec::new(),
            done: Vec::new(),
            failed: Vec::new(),
            read: 0,
            streamed: 0,
            kinds,
        }
    }

    fn scan(&mut self, id: &ObjectId) {
        match self.try_scan(id) {
            Ok(true) => self.done.push(*id),
            Ok(false) => {}
            Err(message) => {
                let what = match self.kinds {
                    Kinds::BlobsOnly => "blob",
                    Kinds::SkipOthers => "object",
                };
                self.scanner
                    .messages
                    .error(format_args!("git: {what} {id}: {message}"));
                self.failed.push(*id);
            }
        }
    }

    /// Ok(false): not a blob, skipped as asked.
    fn try_scan(&mut self, id: &ObjectId) -> Result<bool, String> {
        let header = match self.repo.objects.try_header(id) {
            Ok(Some(h)) => h,
            Ok(None) => return Err("missing from the object database".into()),
            Err(e) => return Err(format!("{e:#}")),
        };
        if header.kind != Kind::Blob {
            return match self.kinds {
                Kinds::SkipOthers => Ok(false),
                Kinds::BlobsOnly => Err(format!("expected a blob, found a {}", header.kind)),
            };
        }
        self.read += 1;
        let Self {
            scanner,
            repo,
            streams,
            scratch,
            buf,
            origin,
            hits,
            ..
        } = self;
        let mut emit = |finding| hits.push(BlobHit { blob: *id, finding });
        if header.size > CHUNK_SIZE as u64 {
            match streams.open(id) {
                Ok(Some(mut stream)) => {
                    self.streamed += 1;
                    return scanner
                        .scan_reader(&mut stream, origin, scratch, &mut emit)
                        .map(|_| true)
                        .map_err(|e| e.to_string());
                }
                Ok(None) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        match repo.objects.try_find(id, buf) {
            Ok(Some(data)) => {
                scanner.scan_bytes(data.data, origin, scratch, &mut emit);
                Ok(true)
            }
            Ok(None) => Err("missing from the object database".into()),
            Err(e) => Err(format!("{e:#}")),
        }
    }
}
