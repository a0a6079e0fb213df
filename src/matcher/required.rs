//! A byte that every match of a rule's regex contains: a window without it cannot hold a match,
//! so it is not searched. A window costs one `memchr` instead of a regex search then; this
//! matters for rules whose keywords are common in code (`https://` of the URL-password rule
//! opens a window at every link, and few of those hold the `@` its matches need).

use regex_syntax::hir::{Class, Hir, HirKind};
use regex_syntax::ParserBuilder;

/// 256 bits: one per byte value.
type Bytes = [u64; 4];

const NONE: Bytes = [0; 4];

/// The rarest-looking byte every match of `pattern` holds, if there is one. Parsed as
/// `rules::build_regex` compiles it (no Unicode, any bytes); a pattern that does not parse
/// gets no byte (its windows are all searched, as before).
pub fn required_byte(pattern: &str) -> Option<u8> {
    let hir = ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?;
    let set = required(&hir);
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
}
