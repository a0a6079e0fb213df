//! The scanner over what the decoding layer yields: archive members (each scanned as a file
//! of its own, named `outer!member`) and decoded values (scanned with the same rules, reported
//! at the encoded run's line and column).

use std::fmt;
use std::fs::File;
use std::io::{self, Cursor, Read};

use super::locate::Locator;
use super::{Chunk, Scanned, Scanner, Scratch};
use crate::decode::archive::{Sink, Walker};
use crate::decode::{encoded, Kind};
use crate::finding::{Finding, Origin};

impl Scanner {
    /// The container `head` (a blob's first bytes) starts, when archives are opened.
    pub(super) fn archive_kind(&self, head: &[u8]) -> Option<Kind> {
        match self.options.archives.enabled {
            true => crate::decode::sniff(head),
            false => None,
        }
    }

    /// A container held in memory (a git blob): a zip is read in place.
    pub(super) fn unpack_bytes(
        &self,
        kind: Kind,
        bytes: &[u8],
        origin: &Origin,
        scratch: &mut Scratch,
        emit: &mut dyn FnMut(Finding),
    ) -> Scanned {
        self.walk(origin, scratch, emit, |walker, member| match kind {
            Kind::Zip => walker.zip(Cursor::new(bytes), member, 0),
            _ => walker.stream(kind, &mut &bytes[..], member, 0),
        })
    }

    /// A container met in a stream whose first `head` bytes were already read: a zip in a
    /// file is read from the file, anything else streams on.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn unpack_stream(
        &self,
        kind: Kind,
        head: &[u8],
        rest: &mut dyn Read,
        file: Option<&File>,
        origin: &Origin,
        scratch: &mut Scratch,
        emit: &mut dyn FnMut(Finding),
    ) -> Scanned {
        self.walk(origin, scratch, emit, |walker, member| match (kind, file) {
            (Kind::Zip, Some(file)) => walker.zip(file, member, 0),
            _ => walker.stream(kind, &mut Cursor::new(head).chain(rest), member, 0),
        })
    }

    /// One top-level container: its members scanned, its problems reported.
    fn walk(
        &self,
        origin: &Origin,
        scratch: &mut Scratch,
        emit: &mut dyn FnMut(Finding),
        open: impl FnOnce(&mut Walker<'_>, &str),
    ) -> Scanned {
        let mut sink = Members::new(self, origin, scratch, emit);
        let mut walker = Walker::new(&self.options.archives, &mut sink);
        open(&mut walker, &origin.member.clone().unwrap_or_default());
        Scanned::Text
    }

    /// Encoded credentials in a text chunk, decoded and scanned with the same rules; findings
    /// sit at the encoded run and say how it was encoded. Reads only after the trigger words
    /// the chunk's keyword pass found (decoding a value reuses the scratch).
    pub(super) fn scan_encoded(
        &self,
        chunk: &Chunk<'_>,
        origin: &Origin,
        scratch: &mut Scratch,
        emit: &mut dyn FnMut(Finding),
    ) {
        let mut found = Vec::new();
        encoded::find(chunk.bytes, scratch.matcher.triggers(), &mut found);
        // In order of position, so the locator counts lines once: linear in the runs found.
        found.sort_by_key(|d| d.range.start);
        let mut locator = Locator::new(chunk.bytes, chunk.line, chunk.column);
        for d in found {
            if !chunk.accept.contains(&d.range.start) {
                continue;
            }
            let place = locator.place(d.range.start, d.range.clone());
            if place.allowed {
                continue;
            }
            let (line, column) = (place.line, place.column);
            let mut inner = origin.clone();
            inner.encoding = Some(match &origin.encoding {
                Some(outer) => format!("{outer},{}", d.encoding.name()),
                None => d.encoding.name().to_string(),
            });
            let view = Chunk {
                bytes: &d.bytes,
                accept: 0..d.bytes.len(),
                line: 1,
                column: 0,
                binary: false,
                depth: chunk.depth + 1,
            };
            self.scan_chunk(&view, &inner, scratch, &mut |mut f| {
                (f.line, f.column) = (line, column);
                emit(f)
            });
        }
    }
}

/// Scans each member the walk hands out; reports what it could not.
struct Members<'s> {
    scanner: &'s Scanner,
    origin: &'s Origin,
    scratch: &'s mut Scratch,
    emit: &'s mut dyn FnMut(Finding),
}

impl<'s> Members<'s> {
    fn new(
        scanner: &'s Scanner,
        origin: &'s Origin,
        scratch: &'s mut Scratch,
        emit: &'s mut dyn FnMut(Finding),
    ) -> Self {
        Members {
            scanner,
            origin,
            scratch,
            emit,
        }
    }

    fn shown(&self, member: &str) -> String {
        let outer = self.origin.path.as_deref().unwrap_or(&self.origin.source);
        match member.is_empty() {
            true => outer.to_string(),
            false => format!("{outer}!{member}"),
        }
    }
}

impl Sink for Members<'_> {
    fn leaf(&mut self, member: &str, content: &mut dyn Read) -> io::Result<()> {
        if !member.is_empty() && self.scanner.suppress.path_allowed(&self.shown(member)) {
            return Ok(());
        }
        let mut origin = self.origin.clone();
        origin.member = (!member.is_empty()).then(|| member.to_string());
        self.scanner
            .scan_reader(content, &origin, self.scratch, self.emit)
            .map(|_| ())
    }

    fn problem(&mut self, member: &str, what: &dyn fmt::Display) {
        let place = match &self.origin.commit {
            Some(c) => format!("{} (commit {})", self.shown(member), &c[..c.len().min(12)]),
            None => self.shown(member),
        };
        self.scanner.messages.error(format_args!("{place}: {what}"));
    }
}
