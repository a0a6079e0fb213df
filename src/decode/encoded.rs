//! Credentials carried encoded: base64 (standard and url-safe), hex and percent-encoding, in
//! the places they are used for that: Kubernetes `Secret` `data:` values, Docker
//! `auths.*.auth`, `.npmrc` `_auth`/`_password`, `Authorization: Basic …`, and any long
//! encoded value under a credential-like name.
//!
//! Cheap by construction: the scanner's keyword prefilter, in the pass it makes anyway, finds
//! the words that open credential-like names ([`TRIGGERS`]); only what follows one is read, only
//! a value after one is decoded, and only a decoding that yields text is handed on. Secret
//! manifests (`kind: Secret`) are recognised at a `Secret` the prefilter found before their
//! values are read. Text without any of those words costs nothing here.

use std::ops::Range;
use std::sync::LazyLock;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use regex::bytes::Regex;

/// How a value was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Base64,
    Base64Url,
    Hex,
    Percent,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Base64 => "base64",
            Encoding::Base64Url => "base64url",
            Encoding::Hex => "hex",
            Encoding::Percent => "percent",
        }
    }
}

/// An encoded run and what it decodes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The encoded run in the scanned bytes.
    pub range: Range<usize>,
    pub encoding: Encoding,
    pub bytes: Vec<u8>,
}

/// Layers of encoding followed (a Docker config inside a Kubernetes Secret is two).
pub const MAX_DEPTH: u32 = 2;
/// Encoded values shorter than this under a generic credential name are left alone.
const MIN_GENERIC: usize = 16;
/// Decoded values shorter than this cannot hold a key.
const MIN_DECODED: usize = 8;

/// The words that open a credential-like name, lowercased: the scanner's keyword prefilter
/// looks for them (ASCII case-insensitively) in the same pass as the rules' keywords, so text
/// without any costs nothing here, and [`find`] reads only what follows each occurrence.
pub const TRIGGERS: &[&str] = &[
    "auth",
    "secret",
    "token",
    "passw",
    "pwd",
    "credential",
    "apikey",
    "api_key",
    "api-key",
    "_key",
];

/// The spellings of [`TRIGGERS`] that open a name: the way people write them in lower, upper
/// and camel case (`sEcReT` is not a name).
const NAMES: &[&[u8]] = &[
    b"auth",
    b"Auth",
    b"AUTH",
    b"secret",
    b"Secret",
    b"SECRET",
    b"token",
    b"Token",
    b"TOKEN",
    b"passw",
    b"Passw",
    b"PASSW",
    b"pwd",
    b"PWD",
    b"credential",
    b"Credential",
    b"CREDENTIAL",
    b"apikey",
    b"apiKey",
    b"ApiKey",
    b"APIKEY",
    b"api_key",
    b"API_KEY",
    b"api-key",
    b"Api-Key",
    b"_key",
    b"_KEY",
];

/// A value in a Secret manifest: `  NAME: value` (YAML) or `"NAME": "value"` (JSON).
static MANIFEST_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?m)(?:^[ \t]+[\w.-]+:[ \t]+["']?|"[\w.-]+"[ \t]*:[ \t]*")([A-Za-z0-9+/]{8,}={0,2})"#,
    )
    .expect("manifest regex")
});

/// Every encoded credential in `bytes` that decodes to text, in order of position. `names`
/// are the places of the [`TRIGGERS`] words in `bytes` (in any case and order, overlapping
/// ones included): a credential-like name starts at one of them.
pub fn find(bytes: &[u8], names: &[Range<usize>], out: &mut Vec<Decoded>) {
    let mut manifest = false;
    for name in names {
        let word = &bytes[name.clone()];
        if !NAMES.contains(&word) {
            continue;
        }
        manifest = manifest || (word == b"Secret" && is_manifest_kind(&bytes[..name.start]));
        if let Some((value, basic)) = named_value(bytes, name.end) {
            if value.len() >= MIN_GENERIC || basic {
                push(bytes, value, out);
            }
        }
    }
    if manifest {
        for c in MANIFEST_VALUE.captures_iter(bytes) {
            if let Some(v) = c.get(1) {
                push(bytes, v.range(), out);
            }
        }
    }
    out.sort_by_key(|d| d.range.start);
    out.dedup_by_key(|d| d.range.start);
}

/// The value of the credential-like name whose first word ends at `at`, and whether it came
/// after `Basic `: the rest of the name (`[\w.-]*`, any non-ASCII byte counted as a word
/// character), an optional quote, `:` or `=` between blanks, an optional quote and `Basic `,
/// then a run of at least 8 base64, hex or percent characters and up to two `=`.
fn named_value(bytes: &[u8], mut at: usize) -> Option<(Range<usize>, bool)> {
    let is = |at: usize, f: fn(u8) -> bool| bytes.get(at).is_some_and(|&b| f(b));
    let skip = |mut at: usize, f: fn(u8) -> bool| {
        while is(at, f) {
            at += 1;
        }
        at
    };
    let quote = |b: u8| b == b'"' || b == b'\'';
    let blank = |b: u8| b == b' ' || b == b'\t';
    at = skip(at, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-') || b >= 0x80
    });
    at += usize::from(is(at, quote));
    at = skip(at, blank);
    if !is(at, |b| b == b':' || b == b'=') {
        return None;
    }
    at = skip(at + 1, blank);
    at += usize::from(is(at, quote));
    let after_basic = bytes
        .get(at..at + 5)
        .filter(|w| (*w == b"Basic" || *w == b"basic") && is(at + 5, blank))
        .map(|_| skip(at + 5, blank));
    let basic = after_basic.is_some();
    let start = after_basic.unwrap_or(at);
    let end = skip(start, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'%' | b'-')
    });
    if end - start < 8 {
        return None;
    }
    let padding = bytes[end..]
        .iter()
        .take(2)
        .take_while(|&&b| b == b'=')
        .count();
    Some((start..end + padding, basic))
}

/// Whether `before` (the bytes before a `Secret`) ends in a manifest's kind: `kind: Secret`
/// (YAML) or `"kind": "Secret"` (JSON).
fn is_manifest_kind(before: &[u8]) -> bool {
    [&b"kind: "[..], b"\"kind\": \"", b"\"kind\":\""]
        .iter()
        .any(|k| before.ends_with(k))
}

fn push(bytes: &[u8], range: Range<usize>, out: &mut Vec<Decoded>) {
    if let Some((encoding, decoded)) = decode(&bytes[range.clone()]) {
        out.push(Decoded {
            range,
            encoding,
            bytes: decoded,
        });
    }
}

/// The first decoding of `value` that yields text: percent (if it has escapes), hex (if it is
/// all hex digits), then base64 in either alphabet.
pub fn decode(value: &[u8]) -> Option<(Encoding, Vec<u8>)> {
    if value.contains(&b'%') {
        return percent(value)
            .filter(|d| is_text(d))
            .map(|d| (Encoding::Percent, d));
    }
    if value.len().is_multiple_of(2) && value.iter().all(u8::is_ascii_hexdigit) {
        if let Some(d) = hex::decode(value).ok().filter(|d| is_text(d)) {
            return Some((Encoding::Hex, d));
        }
    }
    let url = value.iter().any(|b| matches!(b, b'-' | b'_'));
    let (engine, encoding) = match url {
        true => (&URL_SAFE, Encoding::Base64Url),
        false => (&STANDARD, Encoding::Base64),
    };
    engine
        .decode(value)
        .ok()
        .filter(|d| is_text(d))
        .map(|d| (encoding, d))
}

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
static STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
static URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

fn percent(value: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(value[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Decoded bytes worth scanning: long enough, and printable text (random bytes that happen to
/// be valid base64 are not).
fn is_text(d: &[u8]) -> bool {
    d.len() >= MIN_DECODED
        && d.iter()
            .all(|&b| matches!(b, b'\t' | b'\n' | b'\r' | 0x20..=0x7e) || b >= 0x80)
        && std::str::from_utf8(d).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};

    const KEY: &str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";

    /// Where the trigger words occur, as the scanner's prefilter reports them.
    fn names(bytes: &[u8]) -> Vec<Range<usize>> {
        (0..bytes.len())
            .flat_map(|at| {
                TRIGGERS.iter().filter_map(move |t| {
                    let end = at + t.len();
                    let word = bytes.get(at..end)?;
                    word.eq_ignore_ascii_case(t.as_bytes()).then_some(at..end)
                })
            })
            .collect()
    }

    fn found(text: &str) -> Vec<(String, &'static str, String)> {
        let mut out = Vec::new();
        find(text.as_bytes(), &names(text.as_bytes()), &mut out);
        out.into_iter()
            .map(|d| {
                (
                    text[d.range].to_string(),
                    d.encoding.name(),
                    String::from_utf8(d.bytes).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn each_credential_context_is_decoded() {
        let b = B64.encode(KEY);
        let user = B64.encode(format!("deploy:{KEY}"));
        let cases = [
            format!("apiVersion: v1\nkind: Secret\ndata:\n  STRIPE: {b}\n"),
            format!(r#"{{"auths":{{"registry.example.com":{{"auth":"{user}"}}}}}}"#),
            format!("//registry.example.com/:_auth={user}\n"),
            format!("//registry.example.com/:_password={b}\n"),
            format!("curl -H 'Authorization: Basic {user}' https://x\n"),
            format!("STRIPE_SECRET = \"{b}\"\n"),
        ];
        for text in &cases {
            let f = found(text);
            assert_eq!(f.len(), 1, "{text}: {f:?}");
            assert!(f[0].2.contains(KEY), "{text}: {f:?}");
            assert!(text.contains(&f[0].0));
        }
    }

    #[test]
    fn url_safe_hex_and_percent_values_are_decoded() {
        let url = URL_SAFE_NO_PAD.encode(format!("{KEY}??>>"));
        assert_eq!(found(&format!("token={url}\n"))[0].1, "base64url");
        let f = found(&format!("api_key: {}\n", hex::encode(KEY)));
        assert_eq!((f[0].1, f[0].2.as_str()), ("hex", KEY));
        let f = found("password=sk%5Flive%5F4eC39HqLyjWDarjtT1zdp7dc\n");
        assert_eq!((f[0].1, f[0].2.as_str()), ("percent", KEY));
    }

    #[test]
    fn code_and_random_bytes_are_not_decoded() {
        for text in [
            "let token_stream = proc_macro2_TokenStream_from_iter;\n",
            "secret: aGVsbG8\n",
            // Valid base64 of random bytes: not text, nothing to scan.
            "auth = \"3q2+7wABAgMEBQYHCAkKCwwNDg8Q\"\n",
            // Manifest values outside a Secret are left alone.
            "kind: ConfigMap\ndata:\n  NAME: c2tfbGl2ZV80ZUMzOUhxTHlq\n",
        ] {
            assert!(found(text).is_empty(), "{text}");
        }
    }

    /// The regex the reader after each name replaced: every value it finds, the reader finds.
    fn regex_values(text: &[u8]) -> Vec<Range<usize>> {
        // Compiled once: the test calls this 20,000 times (10 s when compiled per call).
        static NAMED: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
        let named = NAMED.get_or_init(|| {
            let names: Vec<String> = NAMES
                .iter()
                .map(|n| regex::escape(std::str::from_utf8(n).unwrap()))
                .collect();
            Regex::new(&format!(
                r#"(?:{})[\w.-]*["']?[ \t]*[:=][ \t]*["']?(?:[Bb]asic[ \t]+)?([A-Za-z0-9+/_%-]{{8,}}={{0,2}})"#,
                names.join("|")
            ))
            .unwrap()
        });
        named
            .captures_iter(text)
            .filter_map(|c| c.get(1).map(|v| v.range()))
            .collect()
    }

    #[test]
    fn the_name_reader_finds_every_value_the_regex_found() {
        // Fragments that exercise each step: names in each case, word runs (ASCII and not),
        // quotes, blanks, separators, `Basic`, value characters, padding, and breaks.
        const PARTS: &[&str] = &[
            "auth",
            "Token",
            "SECRET",
            "passwd",
            "pwd",
            "apiKey",
            "API_KEY",
            "_key",
            "Api-Key",
            "credential",
            "sEcReT",
            "é",
            "_x",
            ".",
            "-",
            "\"",
            "'",
            " ",
            "\t",
            ":",
            "=",
            "==",
            "Basic ",
            "basic\t",
            "QUJD",
            "c2tf",
            "%5F",
            "+/",
            "a1",
            "\n",
            ",",
            "(",
            "xyz",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..20_000 {
            let text: String = (0..next(24)).map(|_| PARTS[next(PARTS.len())]).collect();
            let bytes = text.as_bytes();
            let read: Vec<Range<usize>> = names(bytes)
                .into_iter()
                .filter(|n| NAMES.contains(&&bytes[n.clone()]))
                .filter_map(|n| named_value(bytes, n.end).map(|(v, _)| v))
                .collect();
            for v in regex_values(bytes) {
                assert!(read.contains(&v), "{text:?}: {v:?} not in {read:?}");
            }
        }
    }

    #[test]
    fn text_without_names_is_not_read() {
        let b = B64.encode(KEY);
        let text = format!("apiVersion: v1\nkind: Secret\ndata:\n  STRIPE: {b}\n");
        let mut out = Vec::new();
        find(text.as_bytes(), &[], &mut out);
        assert!(out.is_empty());
    }
}
