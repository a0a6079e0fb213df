//! The scan pipeline shared by every source: bytes and their [`Origin`] in, [`Finding`]s out.
//!
//! Sources enumerate blobs and call [`Scanner::scan_bytes`] or [`Scanner::scan_reader`] from
//! their own threads; findings go to one [`Collector`]. Everything a thread reuses between
//! blobs lives in [`Scratch`], so the hot path does not allocate per blob.

mod decoded;

use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::decode::{self, binary::is_binary, Limits};
use crate::finding::{fingerprint, redact, secret_sha256, Finding, Origin};
use crate::matcher::{self, Match, Matcher};
use crate::messages::Messages;
use crate::rules::RuleSet;
use crate::suppress::Suppressor;
use locate::{chars, Locator};

mod locate;
mod phase;

pub use phase::{Phase, PhaseGuard};

/// Inputs larger than this are read in chunks; memory per thread stays near this size whatever
/// the file size. Small enough that the buffer a chunk is read into stays in the CPU's caches:
/// with 8 MiB chunks a 600 KiB file was copied from the page cache into lines of the buffer long
/// evicted, and the kernel's copy (`_copy_to_iter`) took twice ripgrep's CPU for the same bytes
/// (ripgrep reads 64 KiB at a time). On the 1 GiB real-source tree (`scripts/bench-dir --real`,
/// 2-core AMD EPYC Zen 3, 8 alternating rounds): 8 MiB 1.56× ripgrep's time (system CPU 1.64 s),
/// 512 KiB 1.30× (1.07 s), 256 KiB 1.34× (1.09 s, but a quarter of a large file's bytes scanned
/// twice for [`CHUNK_OVERLAP`]).
pub const CHUNK_SIZE: usize = 512 << 10;
/// Bytes carried from one chunk to the next. A match must be shorter than this to be found
/// across a boundary; the longest built-in secrets (PEM blocks) are a few KiB.
pub const CHUNK_OVERLAP: usize = 64 << 10;
/// Extra bytes carried before the overlap so regexes still see what precedes a match there.
const CHUNK_CONTEXT: usize = 4 << 10;
/// Snippets longer than this are cut around the secret.
const SNIPPET_MAX: usize = 160;

#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Keep raw secrets in findings (`--show-secrets`).
    pub show_secrets: bool,
    /// Archives and encoded values: what is opened and decoded, and its limits.
    pub archives: Limits,
}

/// Counters shared by all scanning threads.
#[derive(Debug, Default)]
pub struct Stats {
    /// Text scanned, by what it was (see [`Unit`]).
    pub files: AtomicU64,
    pub blobs: AtomicU64,
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    pub binary_skipped: AtomicU64,
    pub suppressed: AtomicU64,
}

/// A snapshot of [`Stats`] and the error count: what a summary is made from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub files: u64,
    pub blobs: u64,
    pub messages: u64,
    pub bytes: u64,
    pub binary_skipped: u64,
    pub suppressed: u64,
    pub errors: u64,
    pub elapsed_ms: u64,
}

/// What a scanned piece of text was, for the summary's words: files on disk (and stdin,
/// patches, texts), git blobs of a history, or commit and tag messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    File,
    Blob,
    Message,
}

impl Unit {
    /// By the origin's source: sources name what they scan there.
    pub fn of(origin: &Origin) -> Unit {
        match origin.source.as_str() {
            "git" => Unit::Blob,
            "commit-message" | "tag-message" => Unit::Message,
            _ => Unit::File,
        }
    }
}

/// Per-thread buffers.
#[derive(Default)]
pub struct Scratch {
    matcher: matcher::Scratch,
    matches: Vec<Match>,
    /// Read buffers for files and chunks, one per level being read (a file, then a member of
    /// the archive it is), kept for the next stream up to [`KEPT_BUFFERS`]. A member read into
    /// a fresh buffer each time cost a growth to its size, zeroed and page-faulted: about half
    /// of the 4.7% of CPU a scan of git's release trees spent on one small zip (7 KiB that
    /// decompress to 1.4 MiB), in a profile.
    bufs: Vec<Vec<u8>>,
}

/// Read buffers a thread keeps: the top level and one level of archive members.
const KEPT_BUFFERS: usize = 2;

impl Scratch {
    fn take_buf(&mut self) -> Vec<u8> {
        self.bufs.pop().unwrap_or_default()
    }

    fn keep_buf(&mut self, buf: Vec<u8>) {
        if self.bufs.len() < KEPT_BUFFERS {
            self.bufs.push(buf);
        }
    }
}

pub struct Scanner {
    pub rules: RuleSet,
    matcher: Matcher,
    pub suppress: Suppressor,
    pub options: ScanOptions,
    pub stats: Stats,
    /// Where sources report what they could not scan (which makes the run incomplete).
    pub messages: Messages,
    /// What a source is doing between scanned bytes, for the progress line.
    pub phase: Phase,
    started: Instant,
}

/// What happened to one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scanned {
    Text,
    Binary,
}

impl Scanner {
    pub fn new(
        rules: RuleSet,
        suppress: Suppressor,
        options: ScanOptions,
        messages: Messages,
    ) -> anyhow::Result<Self> {
        // The words that open credential-like names are searched in the keyword pass, so
        // the decoding layer costs nothing on text without them.
        let triggers = match options.archives.decode {
            true => decode::encoded::TRIGGERS,
            false => &[],
        };
        let matcher = Matcher::with_triggers(&rules, triggers);
        Ok(Scanner {
            rules,
            matcher,
            suppress,
            options,
            stats: Stats::default(),
            messages,
            phase: Phase::default(),
            started: Instant::now(),
        })
    }

    /// The counters so far, and the errors reported through [`Scanner::messages`].
    pub fn counts(&self) -> Counts {
        Counts {
            files: self.stats.files.load(Relaxed),
            blobs: self.stats.blobs.load(Relaxed),
            messages: self.stats.messages.load(Relaxed),
            bytes: self.stats.bytes.load(Relaxed),
            binary_skipped: self.stats.binary_skipped.load(Relaxed),
            suppressed: self.stats.suppressed.load(Relaxed),
            errors: self.messages.errors(),
            elapsed_ms: self.started.elapsed().as_millis() as u64,
        }
    }

    /// Scans a blob held in memory.
    pub fn scan_bytes(
        &self,
        bytes: &[u8],
        origin: &Origin,
        scratch: &mut Scratch,
        emit: &mut dyn FnMut(Finding),
    ) -> Scanned {
        if let Some(kind) = self.archive_kind(bytes) {
            return self.unpack_bytes(kind, bytes, origin, scratch, emit);
        }
        let binary = is_binary(bytes);
        self.count_blob(binary, bytes.len(), origin);
        let view = Chunk {
            bytes,
            accept: 0..bytes.len(),
            line: 1,
            column: 0,
            binary,
            depth: 0,
        };
        self.scan_chunk(&view, origin, scratch, emit);
        scanned(binary)
    }

    /// Scans a file: as [`Scanner::scan_reader`], with random access for a zip.
    pub fn scan_file(
        &self,
        file: &File,
        origin: &Origin,
        scratch: &mut Scratch,
        emit: &mut dyn FnMut(Finding),
    ) -> io::Result<Scanned> {
        let mut buf = scratch.take_buf();
        let mut reader = file;
        let result =
            self.scan_reader_with(&mut reader, Some(file), origin, scratch, &mut buf, emit);
        scratch.keep_buf(buf);
        result
    }

    fn count_blob(&self, binary: bool, len: usize, origin: &Origin) {
        // The counters are shared by every thread: no atomic add that adds nothing.
        if binary {
            self.stats.binary_skipped.fetch_add(1, Relaxed);
        } else {
            let counter = match Unit::of(origin) {
                Unit::File => &self.stats.files,
                Unit::Blob => &self.stats.blobs,
                Unit::Message => &self.stats.messages,
            };
            counter.fetch_add(1, Relaxed);
            if len > 0 {
                self.stats.bytes.fetch_add(len as u64, Relaxed);
            }
        }
    }

    /// Scans a stream in overlapping chunks of [`CHUNK_SIZE`], so memory stays bounded and a key
    /// that straddles a chunk boundary is still found, once.
    pub fn scan_reader(
        &self,
        reader: &mut dyn Read,
        origin: &Origin,
        scratch: &mut Scratch,
        emit: &mut dyn FnMut(Finding),
    ) -> io::Result<Scanned> {
        let mut buf = scratch.take_buf();
        let result = self.scan_reader_with(reader, None, origin, scratch, &mut buf, emit);
        scratch.keep_buf(buf);
        result
    }

    fn scan_reader_with(
        &self,
        reader: &mut dyn Read,
        file: Option<&File>,
        origin: &Origin,
        scratch: &mut Scratch,
        buf: &mut Vec<u8>,
        emit: &mut dyn FnMut(Finding),
    ) -> io::Result<Scanned> {
        // `buf` only grows and stays initialised; `filled` is how much of it holds this
        // stream. Reading into it needs no zeroing and no size probes (std's `read_to_end` on
        // a file costs an fstat and an lseek per file: 54,000 syscalls on the 27,000-file
        // benchmark tree).
        let mut filled = 0;
        let (mut line, mut column) = (1u64, 0u64);
        let mut accept_from = 0;
        let mut first = true;
        let mut binary = false;
        loop {
            let carried = filled;
            let eof;
            (filled, eof) = fill(reader, buf, filled, CHUNK_SIZE)?;
            let data = &buf[..filled];
            if first {
                if let Some(kind) = self.archive_kind(data) {
                    return Ok(self.unpack_stream(kind, data, reader, file, origin, scratch, emit));
                }
                binary = is_binary(data);
                self.count_blob(binary, 0, origin);
                first = false;
            }
            if !binary {
                self.stats
                    .bytes
                    .fetch_add((filled - carried) as u64, Relaxed);
            }
            let limit = if eof { filled } else { filled - CHUNK_OVERLAP };
            let view = Chunk {
                bytes: data,
                accept: accept_from..limit,
                line,
                column,
                binary,
                depth: 0,
            };
            self.scan_chunk(&view, origin, scratch, emit);
            if eof {
                return Ok(scanned(binary));
            }
            let carry_from = limit.saturating_sub(CHUNK_CONTEXT);
            (line, column) = advance(line, column, &buf[..carry_from]);
            buf.copy_within(carry_from..filled, 0);
            filled -= carry_from;
            accept_from = limit - carry_from;
        }
    }

    fn scan_chunk(
        &self,
        chunk: &Chunk<'_>,
        origin: &Origin,
        scratch: &mut Scratch,
        emit: &mut dyn FnMut(Finding),
    ) {
        let Scratch {
            matcher: mscratch,
            matches,
            ..
        } = scratch;
        matches.clear();
        self.matcher
            .find(&self.rules, chunk.bytes, mscratch, matches);
        let redactions = mscratch.redactions();
        matches.retain(|m| chunk.accept.contains(&m.secret.start));
        if chunk.binary {
            // Binary data: only keys that name their type by a literal prefix, not the
            // generic rules random bytes would trip.
            matches.retain(|m| {
                self.rules
                    .get(m.rule)
                    .prefix_of(&chunk.bytes[m.secret.clone()])
                    .is_some()
            });
        }
        if !matches.is_empty() {
            self.emit_matches(chunk, origin, matches, redactions, emit);
        }
        if !chunk.binary
            && self.options.archives.decode
            && chunk.depth < decode::encoded::MAX_DEPTH
            && !scratch.matcher.triggers().is_empty()
        {
            self.scan_encoded(chunk, origin, scratch, emit);
        }
    }

    fn emit_matches(
        &self,
        chunk: &Chunk<'_>,
        origin: &Origin,
        matches: &[Match],
        redactions: &[(usize, Range<usize>)],
        emit: &mut dyn FnMut(Finding),
    ) {
        let bytes = chunk.bytes;
        let mut locator = Locator::new(bytes, chunk.line, chunk.column);
        for m in matches.iter() {
            let place = locator.place(m.span.start, m.secret.clone());
            if place.allowed {
                self.stats.suppressed.fetch_add(1, Relaxed);
                continue;
            }
            let secret = &bytes[m.secret.clone()];
            let rule = self.rules.get(m.rule);
            let fp = fingerprint(rule.id(), secret);
            if self.suppress.secret_allowed(secret) || self.suppress.baselined(&fp) {
                self.stats.suppressed.fetch_add(1, Relaxed);
                continue;
            }
            let prefix = rule.prefix_of(secret);
            emit(Finding {
                rule: rule.id().to_string(),
                description: rule.spec.description.clone(),
                severity: rule.spec.severity,
                secret_sha256: secret_sha256(secret),
                fingerprint: fp,
                redacted: redact(secret, prefix),
                secret: self
                    .options
                    .show_secrets
                    .then(|| String::from_utf8_lossy(secret).into_owned()),
                key_prefix: prefix.map(|p| String::from_utf8_lossy(p).into_owned()),
                key_id: m
                    .key_id
                    .clone()
                    .map(|r| String::from_utf8_lossy(&bytes[r]).into_owned()),
                revocable: rule.spec.revocable,
                line: place.line,
                column: place.column,
                snippet: match chunk.binary {
                    true => String::new(),
                    false => self.snippet(bytes, place.line_range, m.secret.clone(), redactions),
                },
                origin: origin.clone(),
                revocation: None,
            });
        }
    }

    /// The line(s) holding the secret, cut to [`SNIPPET_MAX`] around it, with every regex match
    /// of every rule in that range replaced by its redacted form: not only this finding's (another
    /// key on the line, reported or not, must not leak through this one's snippet).
    fn snippet(
        &self,
        bytes: &[u8],
        line: Range<usize>,
        secret: Range<usize>,
        redactions: &[(usize, Range<usize>)],
    ) -> String {
        let margin = SNIPPET_MAX / 2;
        let lo = line.start.max(secret.start.saturating_sub(margin));
        let hi = line.end.min(secret.end + margin).max(lo);
        let mut out = Vec::with_capacity(hi - lo + 16);
        let mut at = lo;
        for (rule, r) in locate::touching(redactions, lo..hi) {
            out.extend_from_slice(&bytes[at..r.start.max(at)]);
            let raw = &bytes[r.clone()];
            if self.options.show_secrets {
                out.extend_from_slice(&bytes[r.start.max(at)..r.end]);
            } else {
                let prefix = self.rules.get(*rule).prefix_of(raw);
                out.extend_from_slice(redact(raw, prefix).as_bytes());
            }
            at = r.end;
        }
        if at < hi {
            out.extend_from_slice(&bytes[at..hi]);
        }
        let text = String::from_utf8_lossy(&out);
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ⏎ ")
    }
}

/// A buffer and which match starts it may report, with the position of its first byte.
struct Chunk<'a> {
    bytes: &'a [u8],
    accept: Range<usize>,
    /// 1-based line of `bytes[0]`.
    line: u64,
    /// Characters between the start of that line and `bytes[0]`.
    column: u64,
    /// Binary data: prefixed keys only, no snippet, nothing decoded.
    binary: bool,
    /// Layers of encoding these bytes were decoded from.
    depth: u32,
}

fn scanned(binary: bool) -> Scanned {
    match binary {
        true => Scanned::Binary,
        false => Scanned::Text,
    }
}

/// Reads until `buf` holds `target` bytes or the stream ends; true at end of stream.
/// Reads into `buf[filled..]` until `target` bytes are held or the stream ends; returns the new
/// fill and whether the stream ended. Grows `buf` (zeroing only the growth) when it is full.
fn fill(
    reader: &mut dyn Read,
    buf: &mut Vec<u8>,
    mut filled: usize,
    target: usize,
) -> io::Result<(usize, bool)> {
    const FIRST: usize = 64 << 10;
    while filled < target {
        if filled == buf.len() {
            let grown = (buf.len() * 2).clamp(FIRST, target.max(FIRST));
            buf.resize(grown, 0);
        }
        let end = buf.len().min(target);
        match reader.read(&mut buf[filled..end]) {
            Ok(0) => return Ok((filled, true)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((filled, false))
}

fn advance(line: u64, column: u64, passed: &[u8]) -> (u64, u64) {
    let newlines = memchr::memchr_iter(b'\n', passed).count() as u64;
    match memchr::memrchr(b'\n', passed) {
        Some(i) => (line + newlines, chars(&passed[i + 1..])),
        None => (line, column + chars(passed)),
    }
}

/// Gathers findings from every thread; sorts and de-duplicates at the end so output is
/// deterministic whatever the thread count.
#[derive(Default, Clone)]
pub struct Collector {
    findings: Arc<Mutex<Vec<Finding>>>,
}

impl Collector {
    pub fn push(&self, f: Finding) {
        self.findings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(f);
    }

    pub fn len(&self) -> usize {
        self.findings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn into_sorted(self) -> Vec<Finding> {
        let mut v = std::mem::take(&mut *self.findings.lock().unwrap_or_else(|e| e.into_inner()));
        sort_findings(&mut v);
        v
    }
}

/// Sorts by place, then rule, and drops exact repeats (the same file reached twice through
/// followed symlinks or overlapping arguments).
pub fn sort_findings(v: &mut Vec<Finding>) {
    let key = |f: &Finding| {
        (
            f.origin.repo.clone(),
            f.origin.path.clone(),
            f.origin.member.clone(),
            f.origin.commit.clone(),
            f.line,
            f.column,
            f.rule.clone(),
        )
    };
    v.sort_by_key(key);
    v.dedup_by(|b, a| key(a) == key(b) && a.fingerprint == b.fingerprint);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parse_file;

    const RULE: &str = r#"
[[rule]]
id = "t.key"
description = "test key"
regex = '''\b(tk_[A-Za-z0-9]{24})\b'''
keywords = ["tk_"]
"#;
    const KEY: &str = "tk_Q3EGRXTWZPLKJH7Mab9fK2Lm";

    fn scanner() -> Scanner {
        let rules = RuleSet::compile(parse_file("t", RULE).unwrap()).unwrap();
        Scanner::new(
            rules,
            Suppressor::default(),
            ScanOptions::default(),
            Messages::capture(),
        )
        .unwrap()
    }

    fn scan(s: &Scanner, data: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut r = io::Cursor::new(data);
        s.scan_reader(
            &mut r,
            &Origin::new("t"),
            &mut Scratch::default(),
            &mut |f| out.push(f),
        )
        .unwrap();
        out
    }

    #[test]
    fn line_and_column_are_one_based_characters() {
        let f = scan(&scanner(), format!("a\n  é = \"{KEY}\"\n").as_bytes());
        assert_eq!((f[0].line, f[0].column), (2, 8));
        assert_eq!(f[0].snippet, "é = \"tk_Q3EG…(27)\"");
    }

    #[test]
    fn keys_at_every_offset_around_a_chunk_boundary_are_found_once() {
        let s = scanner();
        for shift in [
            0usize,
            1,
            13,
            KEY.len() - 1,
            KEY.len(),
            CHUNK_OVERLAP,
            CHUNK_OVERLAP + 5,
        ] {
            let start = CHUNK_SIZE - CHUNK_OVERLAP - shift;
            let mut data = Vec::with_capacity(CHUNK_SIZE * 2);
            // Lines of 99 chars + newline, so the expected line number is computable.
            while data.len() < start {
                data.extend_from_slice(&[b'y'; 99]);
                data.push(b'\n');
            }
            data.truncate(start);
            data.push(b' ');
            data.extend_from_slice(KEY.as_bytes());
            data.extend_from_slice(b" tail\n");
            data.extend(std::iter::repeat_n(b'z', CHUNK_SIZE));
            let f = scan(&s, &data);
            assert_eq!(f.len(), 1, "shift {shift}: {f:?}");
            assert_eq!(f[0].line as usize, start / 100 + 1, "shift {shift}");
            assert_eq!(f[0].column as usize, start % 100 + 2, "shift {shift}");
        }
    }

    /// Hands out at most 7 bytes per read, as a pipe or a slow disk may.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(out.len()).min(7);
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_reused_buffer_never_shows_the_previous_stream() {
        // The scratch buffer keeps its size between streams; a short stream after a long one
        // must see only its own bytes, however the reads are cut.
        let s = scanner();
        let mut scratch = Scratch::default();
        let mut scan_with = |data: &[u8]| {
            let mut out = Vec::new();
            s.scan_reader(
                &mut Trickle(data),
                &Origin::new("t"),
                &mut scratch,
                &mut |f| out.push(f),
            )
            .unwrap();
            out
        };
        let mut long = vec![b'x'; 200_000];
        long.extend_from_slice(format!("\n{KEY}\n").as_bytes());
        assert_eq!(scan_with(&long).len(), 1);
        assert!(scan_with(b"short and clean\n").is_empty());
        let f = scan_with(format!("a\nb {KEY}\n").as_bytes());
        assert_eq!((f.len(), f[0].line, f[0].column), (1, 2, 3));
    }

    #[test]
    fn binary_is_counted_and_searched_for_prefixed_keys_only() {
        const GENERIC: &str = r#"
[[rule]]
id = "t.generic"
description = "generic"
regex = '''secret=([A-Za-z0-9]{24})'''
keywords = ["secret="]
"#;
        let rules = format!("{RULE}{GENERIC}");
        let rules = RuleSet::compile(parse_file("t", &rules).unwrap()).unwrap();
        let s = Scanner::new(
            rules,
            Suppressor::default(),
            ScanOptions::default(),
            Messages::capture(),
        )
        .unwrap();
        let mut data: Vec<u8> = (0..2048u32).flat_map(|i| i.to_le_bytes()).collect();
        data.extend_from_slice(format!("\0{KEY}\0secret=Q3EGRXTWZPLKJH7Mab9fK2Lm\0").as_bytes());
        let f = scan(&s, &data);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].rule.as_str(), f[0].snippet.as_str()), ("t.key", ""));
        assert_eq!(s.stats.binary_skipped.load(Relaxed), 1);
        // One stray NUL does not make text binary.
        let f = scan(&s, b"a\0b\nsecret=Q3EGRXTWZPLKJH7Mab9fK2Lm\n");
        assert_eq!((f.len(), f[0].line), (1, 2));
    }

    #[test]
    fn inline_allow_and_other_secrets_on_the_line_stay_redacted() {
        let s = scanner();
        assert!(scan(&s, format!("k = {KEY} # keysweep:allow\n").as_bytes()).is_empty());
        let other = "tk_ZZ9fK2LmQ3EGRXTWZPLKJH7M";
        let f = scan(&s, format!("a={KEY} b={other}\n").as_bytes());
        assert_eq!(f.len(), 2);
        for x in &f {
            assert!(
                !x.snippet.contains(KEY) && !x.snippet.contains(other),
                "{}",
                x.snippet
            );
        }
    }
}
