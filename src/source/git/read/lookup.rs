//! Blobs read one object at a time, in the order the store lays them out, on several threads:
//! loose objects, alternates, a few new blobs, or what a pack traversal gave up on.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use gix::objs::{Find, FindHeader, Kind};
use gix::ObjectId;

use super::stream::Streams;
use super::{BlobHit, ReadWith, Reading};
use crate::finding::Origin;
use crate::messages::human_bytes;
use crate::scan::{Scanner, Scratch};

/// Blobs stored whole and larger than this are inflated as a stream, in the scanner's chunks,
/// instead of whole into memory (the scanner's chunk size until it shrank to 512 KiB; history
/// scans are measured with this).
const STREAM_OVER: u64 = 8 << 20;
use crate::source::git::parallel::{in_runs, into_inner, lock};

/// Runs of this many ids are handed to threads: long enough to keep the delta cache warm along
/// pack order, short enough that a thread stuck on a few huge blobs does not hold up the others.
fn run_length(ids: usize, threads: usize) -> usize {
    (ids / (threads * 16)).clamp(64, 8192)
}

/// What to do with an object that is not a blob.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kinds {
    /// Report it: it was expected to be a blob.
    BlobsOnly,
    /// Skip it quietly (listing every loose object yields commits and trees too).
    SkipOthers,
}

/// Reads and scans `ids` one object at a time, on `threads` threads.
pub(super) fn object_by_object(
    with: &ReadWith<'_>,
    repo: &gix::ThreadSafeRepository,
    ids: &[ObjectId],
    kinds: Kinds,
    reading: &mut Reading,
) {
    if ids.is_empty() {
        return;
    }
    let threads = with.threads.clamp(1, ids.len().max(1));
    let run = run_length(ids.len(), threads);
    let (read, streamed) = (AtomicU64::new(0), AtomicU64::new(0));
    let results = Mutex::new(Vec::new());
    in_runs(
        ids,
        threads,
        run,
        || BlobReader::new(with, repo.to_thread_local(), kinds),
        |reader, id| reader.scan(id),
        |reader| {
            read.fetch_add(reader.read, Relaxed);
            streamed.fetch_add(reader.streamed, Relaxed);
            lock(&results).push((reader.hits, reader.done, reader.failed));
        },
    );
    for (hits, done, failed) in into_inner(results) {
        reading.hits.extend(hits);
        reading.done.extend(done);
        reading.failed.extend(failed);
    }
    reading.blobs_read += read.into_inner();
    reading.streamed += streamed.into_inner();
}

/// One thread's reading state.
struct BlobReader<'a> {
    scanner: &'a Scanner,
    errors: &'a std::sync::atomic::AtomicU64,
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
    max_delta_blob: u64,
}

impl<'a> BlobReader<'a> {
    fn new(with: &ReadWith<'a>, repo: gix::Repository, kinds: Kinds) -> Self {
        BlobReader {
            scanner: with.scanner,
            errors: with.errors,
            max_delta_blob: with.max_delta_blob,
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
        let before = self.hits.len();
        match self.try_scan(id) {
            Ok(true) => self.done.push(*id),
            Ok(false) => {}
            Err(message) => {
                // What a corrupt object seemed to hold is not what history holds under its id.
                self.hits.truncate(before);
                let what = match self.kinds {
                    Kinds::BlobsOnly => "blob",
                    Kinds::SkipOthers => "object",
                };
                self.errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
        // Big blobs are streamed when stored whole; one stored as a delta is rebuilt whole.
        if header.size > STREAM_OVER.min(self.max_delta_blob) {
            match streams.open(id) {
                Ok(Some(stream)) => {
                    self.streamed += 1;
                    let mut stream = Verified::new(stream, id, header.size);
                    scanner
                        .scan_reader(&mut stream, origin, scratch, &mut emit)
                        .map_err(|e| e.to_string())?;
                    return stream.finish().map(|_| true);
                }
                Ok(None) => {}
                Err(e) => return Err(e.to_string()),
            }
            if header.size > self.max_delta_blob {
                return Err(format!(
                    "{} stored as a delta is over the {} limit on rebuilding one in memory \
                     (--max-delta-blob): not scanned",
                    human_bytes(header.size),
                    human_bytes(self.max_delta_blob)
                ));
            }
        }
        match repo.objects.try_find(id, buf) {
            Ok(Some(data)) => {
                verify(
                    id,
                    gix::objs::compute_hash(id.kind(), Kind::Blob, data.data),
                )?;
                scanner.scan_bytes(data.data, origin, scratch, &mut emit);
                Ok(true)
            }
            Ok(None) => Err("missing from the object database".into()),
            Err(e) => Err(format!("{e:#}")),
        }
    }
}

/// Objects read one by one are hashed and checked against their id: git's object store does not
/// check on read, and a loose object is a plain file anyone can overwrite. (The pack traversal
/// does not re-hash: that would cost more than decoding, and packs carry checksums of their own.)
fn verify<E: std::fmt::Display>(id: &ObjectId, actual: Result<ObjectId, E>) -> Result<(), String> {
    match actual {
        Ok(actual) if actual == *id => Ok(()),
        Ok(actual) => Err(format!(
            "content does not match its id (it hashes to {actual}): the object is corrupt, \
             not scanned"
        )),
        Err(e) => Err(format!("cannot hash its content: {e}")),
    }
}

/// A blob's stream, hashed as it is read; [`Verified::finish`] reads what the scanner left
/// (a binary blob is judged on its first chunk) and checks the id.
struct Verified<R> {
    inner: R,
    id: ObjectId,
    hasher: gix::hash::Hasher,
}

impl<R: Read> Verified<R> {
    fn new(inner: R, id: &ObjectId, size: u64) -> Self {
        let mut hasher = gix::hash::hasher(id.kind());
        hasher.update(&gix::objs::encode::loose_header(Kind::Blob, size));
        Verified {
            inner,
            id: *id,
            hasher,
        }
    }

    fn finish(mut self) -> Result<(), String> {
        std::io::copy(&mut self, &mut std::io::sink()).map_err(|e| e.to_string())?;
        verify(&self.id, self.hasher.try_finalize())
    }
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
