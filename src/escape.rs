//! Text from scanned content (file names, snippets, commit authors, event fields) made safe to
//! show a person: control characters and bidirectional overrides would let a hostile
//! repository move the cursor, clear or rewrite a CI log, or make a line read differently
//! from what it holds. The one place every human-facing output (text report, messages,
//! GitHub annotations, and the HTML report) escapes through.

use std::borrow::Cow;
use std::fmt::Write;

/// Characters never shown as they are: C0 and C1 controls (ESC, CR, BEL, …), DEL, and the
/// Unicode bidirectional controls (the "Trojan Source" characters). Tab is harmless.
pub fn hostile(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every [`hostile`] character written as an escape: `\x1b`, `\n`, `\u{202e}`.
pub fn visible(s: &str) -> Cow<'_, str> {
    escape(s, hostile)
}

/// [`visible`], but line breaks kept: for messages that span lines on purpose.
pub fn visible_lines(s: &str) -> Cow<'_, str> {
    escape(s, |c| c != '\n' && hostile(c))
}

fn escape(s: &str, bad: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            _ if !bad(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            _ => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_escaped_and_the_rest_kept() {
        assert_eq!(visible("plain é\ttab"), "plain é\ttab");
        assert_eq!(
            visible("a\x1b[2Jb\rc\nd\u{202e}e\u{9b}f\u{7f}"),
            "a\\x1b[2Jb\\rc\\nd\\u{202e}e\\u{9b}f\\x7f"
        );
        assert_eq!(visible_lines("one\ntwo\x1b"), "one\ntwo\\x1b");
    }
}
