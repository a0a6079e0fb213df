//! Where each match of a chunk sits (line, column, the bounds of its line) and which bytes its
//! snippet shows, in time linear in the chunk and the number of matches: every question is
//! asked in increasing position order and answered from the previous answer, never by scanning
//! back to the start of the chunk or of a long line (16,000 keys on one minified line used to
//! cost each key a scan of the whole line).

use std::ops::Range;

use crate::suppress::inline_allowed;

/// Answers for positions visited in increasing order within one chunk.
pub(super) struct Locator<'a> {
    bytes: &'a [u8],
    /// Position counted to, its 1-based line, the start of that line and the characters
    /// between that start and `pos` (plus the chunk's starting column on its first line).
    pos: usize,
    line: u64,
    line_start: usize,
    column: u64,
    /// The first newline (or the chunk's end) at or after `end_from`, with no newline between.
    end_from: usize,
    line_end: usize,
    /// The last line asked about `keysweep:allow`, and the answer.
    allowed: Option<(Range<usize>, bool)>,
}

/// Where one secret sits.
pub(super) struct Place {
    pub line: u64,
    /// 1-based, in characters.
    pub column: u64,
    /// The line holding the secret (from the line where its match starts).
    pub line_range: Range<usize>,
    pub allowed: bool,
}

impl<'a> Locator<'a> {
    pub fn new(bytes: &'a [u8], line: u64, column: u64) -> Locator<'a> {
        Locator {
            bytes,
            pos: 0,
            line,
            line_start: 0,
            column,
            end_from: usize::MAX,
            line_end: 0,
            allowed: None,
        }
    }

    /// The place of a secret at `secret` in a match starting at `span_start`; secrets come in
    /// increasing order of their start.
    pub fn place(&mut self, span_start: usize, secret: Range<usize>) -> Place {
        self.advance(secret.start.max(self.pos));
        let span_line_start = self.line_start_of(span_start.min(secret.start));
        let line_end = self.line_end(secret.end);
        let lines = span_line_start..line_end;
        let allowed = match &self.allowed {
            Some((r, a)) if *r == lines => *a,
            _ => {
                let a = inline_allowed(&self.bytes[lines.clone()]);
                self.allowed = Some((lines.clone(), a));
                a
            }
        };
        Place {
            line: self.line,
            column: self.column + 1,
            line_range: self.line_start..line_end,
            allowed,
        }
    }

    fn advance(&mut self, to: usize) {
        let passed = &self.bytes[self.pos..to];
        match memchr::memrchr(b'\n', passed) {
            Some(i) => {
                self.line += memchr::memchr_iter(b'\n', passed).count() as u64;
                self.line_start = self.pos + i + 1;
                self.column = chars(&self.bytes[self.line_start..to]);
            }
            None => self.column += chars(passed),
        }
        self.pos = to;
    }

    /// The start of the line holding `at` (at most `pos`).
    fn line_start_of(&self, at: usize) -> usize {
        match memchr::memrchr(b'\n', &self.bytes[at..self.pos]) {
            None => self.line_start,
            Some(_) => memchr::memrchr(b'\n', &self.bytes[..at]).map_or(0, |i| i + 1),
        }
    }

    /// The end of the line holding `from`.
    fn line_end(&mut self, from: usize) -> usize {
        if !(self.end_from <= from && from <= self.line_end) {
            self.line_end =
                memchr::memchr(b'\n', &self.bytes[from..]).map_or(self.bytes.len(), |i| from + i);
            self.end_from = from;
        }
        self.line_end
    }
}

/// Characters in UTF-8 bytes (invalid bytes count one each): columns are in characters, as
/// editors show them.
pub(super) fn chars(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count() as u64
}

/// The redactions (disjoint, sorted) that touch `window`.
pub(super) fn touching(
    redactions: &[(usize, Range<usize>)],
    window: Range<usize>,
) -> &[(usize, Range<usize>)] {
    let from = redactions.partition_point(|(_, r)| r.end <= window.start);
    let to = from + redactions[from..].partition_point(|(_, r)| r.start < window.end);
    &redactions[from..to]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_match_a_scan_from_the_start() {
        let text = b"ab\ncd key1 e key2\n\xc3\xa9 key3\nkey4";
        let mut loc = Locator::new(text, 10, 5);
        let at = |s: &str| {
            let i = memchr::memmem::find(text, s.as_bytes()).unwrap();
            i..i + s.len()
        };
        let p = loc.place(at("key1").start, at("key1"));
        assert_eq!((p.line, p.column, p.line_range), (11, 4, 3..17));
        let p = loc.place(at("key2").start, at("key2"));
        assert_eq!((p.line, p.column, p.line_range), (11, 11, 3..17));
        // A match that starts on an earlier line: the snippet is still the secret's line.
        let p = loc.place(at("cd").start, at("key3"));
        assert_eq!((p.line, p.column, p.line_range), (12, 3, 18..25));
        let p = loc.place(at("key4").start, at("key4"));
        assert_eq!((p.line, p.column, p.line_range), (13, 1, 26..30));
        assert!(!p.allowed);
        let first = Locator::new(b"key", 1, 5).place(0, 0..3);
        assert_eq!(first.column, 6);
    }

    #[test]
    fn touching_finds_exactly_the_overlapping_redactions() {
        let r = vec![(0, 0..2), (1, 5..9), (0, 12..20)];
        assert_eq!(touching(&r, 2..5), &[][..]);
        assert_eq!(touching(&r, 8..13), &r[1..3]);
        assert_eq!(touching(&r, 0..100), &r[..]);
    }
}
