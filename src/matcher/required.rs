//! What every match of a rule's regex needs, so that a keyword hit that cannot be part of one
//! costs no regex search. This matters for rules whose keywords are common in code:
//! - a byte every match contains: a window without it is not searched, at the cost of one
//!   `memchr` (`https://` of the URL-password rule opens a window at every link, and few of
//!   those hold the `@` its matches need);
//! - a word boundary right before the keyword: a hit inside a word opens no window. crates.io's
//!   `cio` is in "precious" and "opciones", SendGrid's `SG.` in every `msg.`, WooCommerce's
//!   `cs_` in `ucs_char_t`: on 1 GiB of real source (git's releases), ~40,000 of the ~110,000
//!   keyword hits.

use regex_syntax::hir::{Class, Hir, HirKind, Look};
use regex_syntax::ParserBuilder;

use super::prefilter::Follow;

/// What every match of a rule's regex needs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Required {
    /// A byte every match holds (the rarest-looking, if several).
    pub byte: Option<u8>,
    /// The text (lowercased) every match starts with, right after a word boundary: empty when
    /// the pattern does not start with `\b` and a literal.
    bounded: Vec<u8>,
    /// The bytes the first thing after `bounded` can start with, if known (see [`Follow`]).
    next: Option<Bytes>,
}

impl Required {
    /// Parsed as `rules::build_regex` compiles it (no Unicode, any bytes); a pattern that does
    /// not parse needs nothing (its windows are all searched, as before).
    pub fn of(pattern: &str) -> Required {
        let Ok(hir) = ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
        else {
            return Required::default();
        };
        let (bounded, next) = bounded_prefix(&hir);
        Required {
            byte: rarest(required(&hir)),
            bounded,
            next,
        }
    }

    /// The bytes that can follow a hit of `keyword` (lowercased) in a match, when every match
    /// starts with it after a word boundary and what comes next is known: the literal's next
    /// byte, or the first bytes of the class after it. Letters in both cases: the prefilter
    /// folds case.
    pub fn follow(&self, keyword: &[u8]) -> Option<Follow> {
        if !self.boundary_before(keyword) {
            return None;
        }
        let set = match self.bounded.get(keyword.len()) {
            Some(&b) => with(NONE, b),
            None => self.next?,
        };
        Some(Follow::of(set))
    }

    /// Whether a hit of `keyword` (lowercased) can be part of a match only where a word
    /// boundary is right before it: every match starts with the keyword after one.
    pub fn boundary_before(&self, keyword: &[u8]) -> bool {
        !keyword.is_empty() && self.bounded.starts_with(keyword)
    }
}

/// Whether `at` may be at a word boundary (`\b` without Unicode): the bytes either side differ
/// in being word bytes. The start of a haystack may be one: the byte before is not known.
pub fn maybe_boundary(hay: &[u8], at: usize) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match (at.checked_sub(1).map(|i| hay[i]), hay.get(at)) {
        (Some(before), Some(&b)) => word(before) != word(b),
        _ => true,
    }
}

/// The lowercased literal a match starts with right after `\b`, if the pattern starts so
/// (groups are looked through, `(?i)` letters are classes of their two cases), and the bytes
/// the part after it can start with, if that is a class or a repetition of one at least once.
fn bounded_prefix(hir: &Hir) -> (Vec<u8>, Option<Bytes>) {
    let mut atoms = Vec::new();
    flatten(hir, &mut atoms);
    let Some((first, rest)) = atoms.split_first() else {
        return (Vec::new(), None);
    };
    if !matches!(first.kind(), HirKind::Look(Look::WordAscii)) {
        return (Vec::new(), None);
    }
    let mut prefix = Vec::new();
    for atom in rest {
        match atom.kind() {
            HirKind::Literal(lit) => prefix.extend(lit.0.iter().map(u8::to_ascii_lowercase)),
            HirKind::Class(Class::Bytes(c)) => match one_letter(c.ranges()) {
                Some(b) => prefix.push(b),
                None => return (prefix, Some(class_bytes(c.ranges()))),
            },
            HirKind::Repetition(r) if r.min >= 1 => {
                return (prefix, starts(&r.sub));
            }
            _ => break,
        }
    }
    (prefix, None)
}

/// The bytes a match of `hir` can start with, for a class or a literal (groups looked through).
fn starts(hir: &Hir) -> Option<Bytes> {
    match hir.kind() {
        HirKind::Class(Class::Bytes(c)) => Some(class_bytes(c.ranges())),
        HirKind::Literal(lit) => lit.0.first().map(|&b| with(NONE, b)),
        HirKind::Capture(c) => starts(&c.sub),
        _ => None,
    }
}

fn class_bytes(ranges: &[regex_syntax::hir::ClassBytesRange]) -> Bytes {
    ranges
        .iter()
        .flat_map(|r| r.start()..=r.end())
        .fold(NONE, with)
}

/// A sequence's parts, with groups and nested sequences opened up.
fn flatten<'h>(hir: &'h Hir, atoms: &mut Vec<&'h Hir>) {
    match hir.kind() {
        HirKind::Concat(parts) => parts.iter().for_each(|p| flatten(p, atoms)),
        HirKind::Capture(c) => flatten(&c.sub, atoms),
        _ => atoms.push(hir),
    }
}

/// The byte a class stands for, lowercased, when it is one byte or one letter in both cases.
fn one_letter(ranges: &[regex_syntax::hir::ClassBytesRange]) -> Option<u8> {
    let bytes: Vec<u8> = ranges
        .iter()
        .flat_map(|r| r.start()..=r.end())
        .take(3)
        .collect();
    match bytes[..] {
        [b] => Some(b.to_ascii_lowercase()),
        [a, b] if a.is_ascii_uppercase() && b == a.to_ascii_lowercase() => Some(b),
        _ => None,
    }
}

/// 256 bits: one per byte value.
type Bytes = [u64; 4];

const NONE: Bytes = [0; 4];

/// The rarest-looking byte of `set`, if it has one.
fn rarest(set: Bytes) -> Option<u8> {
    (0..=255u8)
        .filter(|&b| set[usize::from(b / 64)] & (1 << (b % 64)) != 0)
        .min_by_key(|&b| rarity(b))
}

/// The bytes every match of `hir` contains: a sequence needs what any part needs, an
/// alternation only what every branch needs, an optional part nothing.
fn required(hir: &Hir) -> Bytes {
    match hir.kind() {
        HirKind::Literal(lit) => lit.0.iter().fold(NONE, |set, &b| with(set, b)),
        HirKind::Class(Class::Bytes(c)) => match c.ranges() {
            [r] if r.start() == r.end() => with(NONE, r.start()),
            _ => NONE,
        },
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub),
        HirKind::Capture(c) => required(&c.sub),
        HirKind::Concat(parts) => parts
            .iter()
            .map(required)
            .fold(NONE, |a, b| std::array::from_fn(|i| a[i] | b[i])),
        HirKind::Alternation(branches) => {
            let mut sets = branches.iter().map(required);
            let first = sets.next().unwrap_or(NONE);
            sets.fold(first, |a, b| std::array::from_fn(|i| a[i] & b[i]))
        }
        _ => NONE,
    }
}

fn with(mut set: Bytes, b: u8) -> Bytes {
    set[usize::from(b / 64)] |= 1 << (b % 64);
    set
}

/// Lower is rarer in source code: punctuation few languages use, then capitals and digits,
/// then the rest (lowercase letters, `_`, `-`, `.`, `/`, `:`, `=`, blanks and quotes).
fn rarity(b: u8) -> u8 {
    match b {
        b'@' | b'~' | b'^' | b'|' | b'!' | b'%' | b'&' | b'$' | b'#' | b'?' | b'`' => 0,
        b'A'..=b'Z' => 1,
        b'0'..=b'9' => 2,
        b'+' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'*' | b'\\' => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn required_byte(pattern: &str) -> Option<u8> {
        Required::of(pattern).byte
    }

    #[test]
    fn a_byte_every_match_needs_is_found() {
        let url = r"(?i:\b(?:jdbc:)?(?:https?|ftp):(?:\\?/){2})[a-z0-9._~%-]{0,64}:(?P<secret>[a-z0-9._-]{6,128})@[a-z0-9][a-z0-9.-]*";
        assert_eq!(required_byte(url), Some(b'@'));
        assert_eq!(required_byte(r"\b(AKIA[0-9A-Z]{16})\b"), Some(b'A'));
        assert_eq!(required_byte(r"(?:x@y|z@w)_[a-z]+"), Some(b'@'));
    }

    #[test]
    fn optional_and_alternative_bytes_are_not_required() {
        for pattern in [
            r"(?:x@y|zw)[a-z]+",
            r"[a-z]+@?",
            r"(?:@[a-z])*",
            r"[@#][a-z]{4}",
            r"(?i)key",
            // Does not parse here: no byte, every window searched.
            r"(?P<a>x)(?P<a>y)",
        ] {
            assert_eq!(required_byte(pattern), None, "{pattern}");
        }
    }

    #[test]
    fn a_keyword_every_match_starts_with_after_a_word_boundary_is_found() {
        let cratesio = Required::of(r"\b(?P<secret>cio[A-Za-z0-9]{32})(?:[^A-Za-z0-9_+/=]|$)");
        assert!(cratesio.boundary_before(b"cio"));
        let sendgrid = Required::of(r"\b(?P<secret>SG\.[A-Za-z0-9_-]{22})");
        assert!(sendgrid.boundary_before(b"sg."));
        assert!(sendgrid.boundary_before(b"sg"));
        // (?i) letters are classes of both cases; the boundary may be inside the group.
        assert!(Required::of(r"(?i)(?P<s>\bxoxb-[0-9]+)").boundary_before(b"xoxb-"));
    }

    #[test]
    fn no_boundary_is_assumed_where_a_match_need_not_start_at_the_keyword() {
        for (pattern, keyword) in [
            // Other text before the keyword, or an optional or alternative start.
            (r"\bkey=(?P<s>cio[a-z]{8})", &b"cio"[..]),
            (r"(?:\b|_)cio[a-z]{8}", b"cio"),
            (r"\b(?:cio|pio)[a-z]{8}", b"cio"),
            (r"\b[cp]io[a-z]{8}", b"cio"),
            (r"cio[a-z]{8}\b", b"cio"),
            // The keyword is longer than the literal after the boundary, or a context word.
            (r"\bsk_[a-z]+", b"sk_live"),
            (r"\bAPI-[A-Z0-9]{25}", b"octopus"),
            (r"\b[A-Z0-9]{25}", b"octopus"),
            (r"(?P<a>x)(?P<a>y)", b"x"),
        ] {
            assert!(!Required::of(pattern).boundary_before(keyword), "{pattern}");
        }
    }

    #[test]
    fn what_may_follow_a_keyword_is_the_next_literal_byte_or_class() {
        let follows = |pattern: &str, keyword: &[u8], bytes: &[u8]| {
            let f = Required::of(pattern).follow(keyword).expect(pattern);
            (0..=255u8)
                .filter(|&b| f.contains(b))
                .eq(bytes.iter().copied())
        };
        let alnum: Vec<u8> = (b'0'..=b'9')
            .chain(b'A'..=b'Z')
            .chain(b'a'..=b'z')
            .collect();
        let cratesio = r"\b(?P<secret>cio[A-Za-z0-9]{32})(?:[^A-Za-z0-9_+/=]|$)";
        assert!(follows(cratesio, b"cio", &alnum));
        let sendgrid = r"\b(?P<secret>SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})";
        assert!(follows(sendgrid, b"sg", b"."));
        let mut token: Vec<u8> = alnum.iter().copied().chain(*b"-_").collect();
        token.sort();
        assert!(follows(sendgrid, b"sg.", &token));
        // Letters in both cases: the prefilter folds case.
        assert!(follows(r"\bxoxb-[0-9]+", b"xox", b"Bb"));
        assert!(follows(r"(?i)\bhf_[a-z]{34}", b"hf_", &alnum[10..]));
    }

    #[test]
    fn nothing_is_assumed_to_follow_where_a_match_may_end_or_branch_after_the_keyword() {
        for pattern in [
            r"\bcio[a-z]*",
            r"\bcio(?:[a-z]+|_x)",
            r"\bcio\b",
            r"\bcio",
            r"key=cio[a-z]+",
            r"\b(?:cio|pio)[a-z]+",
        ] {
            assert_eq!(Required::of(pattern).follow(b"cio"), None, "{pattern}");
        }
    }

    #[test]
    fn a_boundary_may_be_where_word_and_non_word_bytes_meet_or_unknown() {
        let hay = b"precious cio,xcio_cio";
        assert!(!maybe_boundary(hay, 5), "inside `precious`");
        assert!(maybe_boundary(hay, 9), "after a space");
        assert!(!maybe_boundary(hay, 14), "after x");
        assert!(!maybe_boundary(hay, 18), "after _");
        assert!(
            maybe_boundary(hay, 0),
            "the byte before the haystack is not known"
        );
        assert!(
            maybe_boundary("écio".as_bytes(), 2),
            "a UTF-8 byte is not an ASCII word byte"
        );
    }
}
