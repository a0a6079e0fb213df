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

/// [`visible`], then made inert as HTML text or a quoted attribute value: `&`, `<`, `>`, `"`
/// and `'` written as character references. For every piece of scanned or user-controlled
/// text the HTML report puts in its markup.
pub fn html(s: &str) -> Cow<'_, str> {
    let shown = visible(s);
    if !shown.contains(['&', '<', '>', '"', '\'']) {
        return shown;
    }
    Cow::Owned(substitute(&shown, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&#39;"),
        _ => None,
    }))
}

/// JSON text made safe inside an HTML `<script>` element: `<`, `>` and `&` (which JSON has
/// only inside strings) written as `\u003c`, `\u003e`, `\u0026`, so no value can close the
/// element (`</script>`) or open a comment; `JSON.parse` reads the same data back.
pub fn script_json(json: &str) -> String {
    substitute(json, |c| match c {
        '<' => Some("\\u003c"),
        '>' => Some("\\u003e"),
        '&' => Some("\\u0026"),
        _ => None,
    })
}

/// `s` with each character `with` maps to a replacement replaced.
fn substitute(s: &str, with: impl Fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match with(c) {
            Some(replacement) => out.push_str(replacement),
            None => out.push(c),
        }
    }
    out
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

    #[test]
    fn html_text_cannot_open_markup_or_leave_an_attribute() {
        assert_eq!(html("a/b.rs"), "a/b.rs");
        assert_eq!(
            html("<img src=x onerror='a()'>&\"x\""),
            "&lt;img src=x onerror=&#39;a()&#39;&gt;&amp;&quot;x&quot;"
        );
        // Controls are made visible first, then the result is HTML-escaped.
        assert_eq!(html("<\x1b\u{202e}"), "&lt;\\x1b\\u{202e}");
    }

    #[test]
    fn json_in_a_script_element_cannot_close_it_and_parses_to_the_same_value() {
        let value = serde_json::json!({"path": "</script><script>alert(1)</script>&<!--"});
        let safe = script_json(&value.to_string());
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }
}
