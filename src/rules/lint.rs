//! Static checks of a rule's regex that examples cannot prove.
//!
//! Adjacent keys (`A,B`, `"A B"`) are each found only if no rule consumes the byte before its
//! secret: the regex crate resumes after the previous match, so a rule that eats the delimiter
//! in front of its secret (`(?:^|[^A-Za-z0-9])(?P<secret>…)`) cannot start a second match on a
//! delimiter the first match already consumed as its tail. Boundaries must be zero-width
//! (`\b`, `\b{start-half}`).

use regex_syntax::hir::{Hir, HirKind};

use super::build_regex;

/// Bytes that separate two keys written next to each other.
const DELIMITERS: &[u8] = b" \t\r\n,;:=\"'`|/+-()[]{}<>&?!#*~^%$@.\\";

/// The capture group that holds the secret, by the rule engine's convention: `secret` if named,
/// else the first group, else the whole match (0).
fn secret_index(pattern: &str) -> Result<u32, String> {
    let re = build_regex(pattern).map_err(|e| e.to_string())?;
    Ok(match re.capture_names().position(|n| n == Some("secret")) {
        Some(i) => i as u32,
        None if re.captures_len() > 1 => 1,
        None => 0,
    })
}

/// A delimiter the rule's regex can consume directly before the secret, if there is one.
pub fn delimiter_before_secret(pattern: &str) -> Result<Option<char>, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())?;
    let index = secret_index(pattern)?;
    if index == 0 {
        return Ok(None);
    }
    let mut prefix = Vec::new();
    if !prefix_of_group(&hir, index, &mut prefix) {
        return Ok(None);
    }
    let prefix = Hir::concat(prefix);
    let whole = build_regex(&format!("^(?:{prefix})$")).map_err(|e| e.to_string())?;
    Ok(DELIMITERS
        .iter()
        .find(|&&b| whole.is_match(&[b]))
        .map(|&b| b as char))
}

/// Collects into `acc` what the regex matches before group `index` on the path to it. False
/// when the group sits under a repetition, where "before" has no single answer.
fn prefix_of_group(h: &Hir, index: u32, acc: &mut Vec<Hir>) -> bool {
    match h.kind() {
        HirKind::Capture(c) if c.index == index => true,
        HirKind::Capture(c) => prefix_of_group(&c.sub, index, acc),
        HirKind::Concat(items) => match items.iter().position(|it| contains(it, index)) {
            Some(j) => {
                acc.extend(items[..j].iter().cloned());
                prefix_of_group(&items[j], index, acc)
            }
            None => false,
        },
        HirKind::Alternation(alts) => alts
            .iter()
            .find(|a| contains(a, index))
            .is_some_and(|a| prefix_of_group(a, index, acc)),
        _ => false,
    }
}

fn contains(h: &Hir, index: u32) -> bool {
    match h.kind() {
        HirKind::Capture(c) => c.index == index || contains(&c.sub, index),
        HirKind::Concat(items) | HirKind::Alternation(items) => {
            items.iter().any(|i| contains(i, index))
        }
        HirKind::Repetition(r) => contains(&r.sub, index),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consumed_delimiter_before_the_secret_is_found() {
        let bad = r"(?:^|[^A-Za-z0-9])(AIza[A-Za-z0-9_-]{35})";
        assert_eq!(delimiter_before_secret(bad).unwrap(), Some(' '));
        let optional_quote = r#"["']?(?P<secret>ghp_[A-Za-z0-9]{36})"#;
        assert_eq!(delimiter_before_secret(optional_quote).unwrap(), Some('"'));
    }

    #[test]
    fn zero_width_boundaries_and_keyword_context_pass() {
        for good in [
            r"\b(AIza[A-Za-z0-9_-]{35})",
            r"\b{start-half}(?P<secret>AKIA[A-Z0-9]{16})\b",
            r#"(?i:api_key)\s*[:=]\s*["']?(?P<secret>[a-f0-9]{32})"#,
            r"xoxb-[0-9]+",
            r"(?:(?P<secret>tk_[a-z]{8})\s)+",
        ] {
            assert_eq!(delimiter_before_secret(good).unwrap(), None, "{good}");
        }
    }
}
