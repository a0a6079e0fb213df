//! Huge blobs as streams. gix hands out whole objects; a blob of gigabytes would then cost
//! gigabytes of memory per thread. Git stores big blobs whole (`core.bigFileThreshold`: never as
//! deltas), as a loose zlib file or a zlib stream inside a pack, so both can be inflated
//! piecewise. A deltified blob needs its base in memory anyway and is read whole by the caller.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;

use gix::odb::pack;
use gix::zlib::Decompress;
use gix::ObjectId;

use super::pack_indices;

/// Per-thread access to the packs and loose objects of one object directory, opened lazily.
pub struct Streams {
    objects_dir: PathBuf,
    hash: gix::hash::Kind,
    packs: Option<Vec<Pack>>,
}

struct Pack {
    index: pack::index::File,
    data_path: PathBuf,
    data: Option<pack::data::File>,
}

impl Streams {
    pub fn new(repo: &gix::Repository) -> Self {
        Streams {
            objects_dir: repo.objects.store_ref().path().to_path_buf(),
            hash: repo.object_hash(),
            packs: None,
        }
    }

    /// The blob's content as a stream, or `None` when it is not stored whole (a delta, or in an
    /// alternate object directory): the caller then reads it whole.
    pub fn open(&mut self, id: &ObjectId) -> io::Result<Option<Box<dyn Read + '_>>> {
        let hex = id.to_hex().to_string();
        let loose = self.objects_dir.join(&hex[..2]).join(&hex[2..]);
        match File::open(&loose) {
            Ok(file) => return loose_blob(file).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let hash = self.hash;
        let objects_dir = self.objects_dir.clone();
        let packs = self
            .packs
            .get_or_insert_with(|| load_indices(&objects_dir, hash));
        for p in packs.iter_mut() {
            let Some(entry_index) = p.index.lookup(id) else {
                continue;
            };
            let offset = p.index.pack_offset_at_index(entry_index);
            if p.data.is_none() {
                p.data = Some(pack::data::File::at(&p.data_path, hash).map_err(io::Error::other)?);
            }
            let Some(data) = p.data.as_ref() else {
                continue;
            };
            let entry = data.entry(offset).map_err(io::Error::other)?;
            if !matches!(entry.header, pack::data::entry::Header::Blob) {
                return Ok(None);
            }
            let compressed = data
                .entry_slice(entry.data_offset..data.pack_end() as u64)
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "pack entry out of bounds")
                })?;
            return Ok(Some(Box::new(Inflate::new(
                compressed,
                entry.decompressed_size,
            ))));
        }
        Ok(None)
    }
}

fn load_indices(objects_dir: &std::path::Path, hash: gix::hash::Kind) -> Vec<Pack> {
    pack_indices(objects_dir)
        .into_iter()
        .filter_map(|path| {
            let index = pack::index::File::at(&path, hash).ok()?;
            Some(Pack {
                index,
                data_path: path.with_extension("pack"),
                data: None,
            })
        })
        .collect()
}

/// A loose object is one zlib stream of `<kind> <size>\0<content>`.
fn loose_blob(file: File) -> io::Result<Box<dyn Read>> {
    let mut inflate = Inflate::new(BufReader::new(file), u64::MAX);
    let mut header = Vec::with_capacity(32);
    let mut byte = [0u8; 1];
    loop {
        if inflate.read(&mut byte)? == 0 || header.len() > 64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "loose object header is malformed",
            ));
        }
        if byte[0] == 0 {
            break;
        }
        header.push(byte[0]);
    }
    let size = header
        .strip_prefix(b"blob ")
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a loose blob"))?;
    inflate.remaining = size;
    Ok(Box::new(inflate))
}

/// Inflates a zlib stream, yielding exactly `remaining` bytes: a stream that ends early is an
/// error (a truncated object), and whatever follows the stream (the next pack entry) is not read.
struct Inflate<R> {
    input: R,
    state: Decompress,
    remaining: u64,
}

impl<R: BufRead> Inflate<R> {
    fn new(input: R, size: u64) -> Self {
        Inflate {
            input,
            state: Decompress::new(),
            remaining: size,
        }
    }
}

impl<R: BufRead> Read for Inflate<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n =
            gix::zlib::stream::inflate::read(&mut self.input, &mut self.state, &mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "object data ends before its stated size",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}
