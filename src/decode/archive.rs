//! Containers opened member by member, streamed, under [`Limits`]: nothing is ever extracted
//! to disk, member names are only data (a `../../etc/passwd` is a name to print), and every
//! limit that cuts a scan is handed to the [`Sink`] to report.
//!
//! Compression layers (gzip, bzip2, xz, zstd) are transparent: `configs.tar.gz` yields
//! `app/.env`, `app.env.gz` yields its content under no member name. Archives (zip, tar) add
//! their member's name; nested ones join names with `!` (`inner.zip!config/.env`).

use std::cell::Cell;
use std::fmt;
use std::io::{self, Cursor, Read, Seek};
use std::rc::Rc;

use super::{sniff, Cut, Kind, Limits, SNIFF_LEN};

/// What the walk hands out.
pub trait Sink {
    /// A member that is no container: scan it. `member` is empty for the content of a
    /// compressed file that is not an archive.
    fn leaf(&mut self, member: &str, content: &mut dyn Read) -> io::Result<()>;
    /// A member or a whole archive that could not be read, or a limit that cut the scan.
    fn problem(&mut self, member: &str, what: &dyn fmt::Display);
}

/// Decompression bytes counted over a whole top-level archive.
pub struct Walker<'a> {
    limits: &'a Limits,
    total: Rc<Cell<u64>>,
    members: u64,
    /// The limit a [`Limited`] reader hit: it ends its stream there (so what came before is
    /// scanned) and leaves the reason here for the member's report.
    cut: Rc<Cell<Option<Cut>>>,
    /// A whole-archive limit was reached: no further member is opened.
    stopped: bool,
    sink: &'a mut dyn Sink,
}

/// A ratio check waits for this much output: small members compress absurdly well honestly.
const RATIO_GRACE: u64 = 1 << 20;
/// The largest window a zstd frame may ask for (memory, not output).
const ZSTD_WINDOW: u64 = 64 << 20;
/// The largest dictionary an xz block may ask for, in KiB.
const XZ_MEMORY_KB: u32 = 128 << 10;

impl<'a> Walker<'a> {
    pub fn new(limits: &'a Limits, sink: &'a mut dyn Sink) -> Self {
        Walker {
            limits,
            total: Rc::new(Cell::new(0)),
            members: 0,
            cut: Rc::new(Cell::new(None)),
            stopped: false,
            sink,
        }
    }

    /// A container already recognised, read as a stream (a zip is first held in memory, up
    /// to [`Limits::max_in_memory`]).
    pub fn stream(&mut self, kind: Kind, input: &mut dyn Read, member: &str, depth: u32) {
        if !self.enter(member, depth) {
            return;
        }
        let result = match kind {
            Kind::Zip => self.zip_from_stream(input, member, depth),
            Kind::Tar => self.tar(input, member, depth),
            _ => self.compressed(kind, input, member, depth),
        };
        if let Err(e) = result {
            self.report(member, kind, &e);
        }
    }

    /// A zip with random access (a file, or a blob already in memory).
    pub fn zip<R: Read + Seek>(&mut self, input: R, member: &str, depth: u32) {
        if !self.enter(member, depth) {
            return;
        }
        if let Err(e) = self.zip_members(input, member, depth) {
            self.report(member, Kind::Zip, &e);
        }
    }

    /// False when a container at `depth` may not be opened (reported).
    fn enter(&mut self, member: &str, depth: u32) -> bool {
        if depth >= self.limits.max_depth {
            self.sink
                .problem(member, &Cut::Depth(self.limits.max_depth));
            return false;
        }
        self.count_member(member)
    }

    fn report(&mut self, member: &str, kind: Kind, e: &io::Error) {
        if let Some(cut) = self.cut.take() {
            return self.sink.problem(member, &cut);
        }
        match Cut::from_io(e) {
            Some(cut) => self.sink.problem(member, cut),
            None => self
                .sink
                .problem(member, &format_args!("unreadable {kind}: {e}")),
        }
    }

    /// False once a whole-archive limit is reached (reported the first time).
    fn count_member(&mut self, member: &str) -> bool {
        if self.stopped {
            return false;
        }
        self.members += 1;
        if self.members > self.limits.max_members {
            self.stopped = true;
            self.sink
                .problem(member, &Cut::Members(self.limits.max_members));
            return false;
        }
        true
    }

    fn zip_from_stream(
        &mut self,
        input: &mut dyn Read,
        member: &str,
        depth: u32,
    ) -> io::Result<()> {
        let cap = self.limits.max_in_memory;
        let mut held = Vec::new();
        input.take(cap.saturating_add(1)).read_to_end(&mut held)?;
        if held.len() as u64 > cap {
            return Err(io::Error::other(Cut::InMemory(cap)));
        }
        self.members -= 1; // `zip` counts this container again
        self.zip(Cursor::new(held), member, depth);
        Ok(())
    }

    fn zip_members<R: Read + Seek>(
        &mut self,
        input: R,
        member: &str,
        depth: u32,
    ) -> io::Result<()> {
        let mut archive = zip::ZipArchive::new(input).map_err(io::Error::other)?;
        for i in 0..archive.len() {
            if self.stopped {
                break;
            }
            let shown_name = archive
                .name_for_index(i)
                .and_then(Result::ok)
                .map(|n| shown(n.as_bytes()))
                .unwrap_or_default();
            let mut entry = match archive.by_index(i) {
                Ok(entry) => entry,
                Err(e) => {
                    let name = join(member, &shown_name);
                    self.sink
                        .problem(&name, &format_args!("unreadable zip member: {e}"));
                    continue;
                }
            };
            if entry.is_dir() {
                continue;
            }
            let name = join(member, &shown(entry.name_raw()));
            if !self.count_member(&name) {
                return Ok(());
            }
            let ratio = Ratio::Known(entry.compressed_size());
            let limited = &mut self.limited(&mut entry, ratio);
            self.content(limited, &name, depth + 1);
        }
        Ok(())
    }

    fn tar(&mut self, input: &mut dyn Read, member: &str, depth: u32) -> io::Result<()> {
        let mut archive = tar::Archive::new(input);
        for entry in archive.entries()? {
            if self.stopped {
                break;
            }
            let mut entry = entry?;
            if !matches!(
                entry.header().entry_type(),
                tar::EntryType::Regular | tar::EntryType::Continuous
            ) {
                continue;
            }
            let name = join(member, &shown(&entry.path_bytes()));
            if !self.count_member(&name) {
                return Ok(());
            }
            // Tar stores, it does not compress: the layer around it counted these bytes.
            let limited = &mut Limited {
                inner: &mut entry,
                read: 0,
                cap: self.limits.max_member_size,
                ratio: None,
                total: None,
                cut: self.cut.clone(),
            };
            self.content(limited, &name, depth + 1);
        }
        Ok(())
    }

    fn compressed(
        &mut self,
        kind: Kind,
        input: &mut dyn Read,
        member: &str,
        depth: u32,
    ) -> io::Result<()> {
        let consumed = Rc::new(Cell::new(0));
        let counted = Counted {
            inner: input,
            consumed: consumed.clone(),
        };
        let mut decoder: Box<dyn Read + '_> = match kind {
            Kind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(counted)),
            Kind::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(counted)),
            Kind::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(
                counted,
                true,
                XZ_MEMORY_KB,
            )),
            Kind::Zstd => Box::new(
                ruzstd::decoding::StreamingDecoder::new_with_max_window_size(counted, ZSTD_WINDOW)
                    .map_err(io::Error::other)?,
            ),
            Kind::Zip | Kind::Tar => unreachable!("containers are not compression layers"),
        };
        let limited = &mut self.limited(&mut decoder, Ratio::Counted(consumed));
        self.content(limited, member, depth + 1);
        Ok(())
    }

    fn limited<'r>(&self, inner: &'r mut dyn Read, ratio: Ratio) -> Limited<'r> {
        Limited {
            inner,
            read: 0,
            cap: self.limits.max_member_size,
            ratio: Some((ratio, self.limits.max_ratio)),
            total: Some((self.total.clone(), self.limits.max_total_size)),
            cut: self.cut.clone(),
        }
    }

    /// A member's content: another container (opened in turn) or a leaf for the sink.
    fn content(&mut self, content: &mut dyn Read, member: &str, depth: u32) {
        let mut head = Vec::with_capacity(SNIFF_LEN);
        if let Err(e) = content.take(SNIFF_LEN as u64).read_to_end(&mut head) {
            return self.member_error(member, &e);
        }
        let kind = sniff(&head);
        let mut rest = Cursor::new(head).chain(content);
        let result = match kind {
            Some(kind) => {
                self.stream(kind, &mut rest, member, depth);
                Ok(())
            }
            None => self.sink.leaf(member, &mut rest),
        };
        if let Some(cut) = self.cut.take() {
            // The truncation the cut caused is no second problem.
            self.stopped |= matches!(cut, Cut::TotalSize(_));
            return self.sink.problem(member, &cut);
        }
        if let Err(e) = result {
            self.member_error(member, &e);
        }
    }

    fn member_error(&mut self, member: &str, e: &io::Error) {
        if let Some(cut) = self.cut.take() {
            self.stopped |= matches!(cut, Cut::TotalSize(_));
            return self.sink.problem(member, &cut);
        }
        self.sink
            .problem(member, &format_args!("unreadable member: {e}"));
    }
}

/// `outer!inner`, or `inner` at the top.
fn join(outer: &str, inner: &str) -> String {
    if outer.is_empty() {
        inner.to_string()
    } else {
        format!("{outer}!{inner}")
    }
}

/// A member name as data: lossy UTF-8, control characters escaped (a name must not drive a
/// terminal).
fn shown(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .chars()
        .flat_map(|c| match c.is_control() {
            true => c.escape_default().collect::<Vec<_>>(),
            false => vec![c],
        })
        .collect()
}

/// Counts the compressed bytes a decoder has consumed.
struct Counted<'r> {
    inner: &'r mut dyn Read,
    consumed: Rc<Cell<u64>>,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.set(self.consumed.get() + n as u64);
        Ok(n)
    }
}

enum Ratio {
    Known(u64),
    Counted(Rc<Cell<u64>>),
}

/// Decompressed output under the member, total and ratio limits: past one, reads fail with
/// the [`Cut`] (what was read before it has been scanned).
struct Limited<'r> {
    inner: &'r mut dyn Read,
    read: u64,
    cap: u64,
    ratio: Option<(Ratio, u64)>,
    total: Option<(Rc<Cell<u64>>, u64)>,
    cut: Rc<Cell<Option<Cut>>>,
}

impl Limited<'_> {
    fn check(&self) -> Result<(), Cut> {
        if self.read > self.cap {
            return Err(Cut::MemberSize(self.cap));
        }
        if let Some((total, cap)) = &self.total {
            if total.get() > *cap {
                return Err(Cut::TotalSize(*cap));
            }
        }
        if let Some((ratio, max)) = &self.ratio {
            let compressed = match ratio {
                Ratio::Known(n) => *n,
                Ratio::Counted(c) => c.get(),
            };
            if self.read > RATIO_GRACE && self.read > compressed.max(1).saturating_mul(*max) {
                return Err(Cut::Ratio(*max));
            }
        }
        Ok(())
    }
}

impl Read for Limited<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Err(cut) = self.check() {
            if self.cut.get().is_none() {
                self.cut.set(Some(cut));
            }
            return Ok(0);
        }
        // Never more than one byte past the cap: the next read sees the cut.
        let room = (self.cap + 1 - self.read.min(self.cap + 1)).min(buf.len() as u64) as usize;
        let n = self.inner.read(&mut buf[..room])?;
        self.read += n as u64;
        if let Some((total, _)) = &self.total {
            total.set(total.get() + n as u64);
        }
        Ok(n)
    }
}
