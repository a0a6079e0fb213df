//! Credentials carried encoded: base64 (standard and url-safe), hex and percent-encoding, in
//! the places they are used for that: Kubernetes `Secret` `data:` values, Docker
//! `auths.*.auth`, `.npmrc` `_auth`/`_password`, `Authorization: Basic …`, and any long
//! encoded value under a credential-like name.
//!
//! Cheap by construction: one regex whose prefix is a set of case-sensitive literals (SIMD
//! multi-literal search in the regex crate) finds credential-like names; only the value after
//! one is decoded, and only a decoding that yields text is handed on. Secret manifests
//! (`kind: Secret`) are recognised by one substring search before their values are read.

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

/// A credential-like name, its separator, and the value. The literals come first and are
/// case-sensitive (in three spellings) so the regex crate searches for them with its SIMD
/// prefilter; the rest of the name is matched after.
static NAMED: LazyLock<Regex> = LazyLock::new(|| {
    let names = [
        "auth",
        "Auth",
        "AUTH",
        "secret",
        "Secret",
        "SECRET",
        "token",
        "Token",
        "TOKEN",
        "passw",
        "Passw",
        "PASSW",
        "pwd",
        "PWD",
        "credential",
        "Credential",
        "CREDENTIAL",
        "apikey",
        "apiKey",
        "ApiKey",
        "APIKEY",
        "api_key",
        "API_KEY",
        "api-key",
        "Api-Key",
        "_key",
        "_KEY",
    ];
    Regex::new(&format!(
        r#"(?:{})[\w.-]*["']?[ \t]*[:=][ \t]*["']?(?:[Bb]asic[ \t]+)?([A-Za-z0-9+/_%-]{{8,}}={{0,2}})"#,
        names.join("|")
    ))
    .expect("encoded-name regex")
});

/// A value in a Secret manifest: `  NAME: value` (YAML) or `"NAME": "value"` (JSON).
static MANIFEST_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?m)(?:^[ \t]+[\w.-]+:[ \t]+["']?|"[\w.-]+"[ \t]*:[ \t]*")([A-Za-z0-9+/]{8,}={0,2})"#,
    )
    .expect("manifest regex")
});

/// Every encoded credential in `bytes` that decodes to text, in order of position.
pub fn find(bytes: &[u8], out: &mut Vec<Decoded>) {
    for c in NAMED.captures_iter(bytes) {
        let (Some(name), Some(v)) = (c.get(0), c.get(1)) else {
            continue;
        };
        let basic = name.as_bytes()[..v.start() - name.start()]
            .windows(6)
            .any(|w| w.eq_ignore_ascii_case(b"basic "));
        if v.len() >= MIN_GENERIC || basic {
            push(bytes, v.range(), out);
        }
    }
    if is_secret_manifest(bytes) {
        for c in MANIFEST_VALUE.captures_iter(bytes) {
            if let Some(v) = c.get(1) {
                push(bytes, v.range(), out);
            }
        }
    }
    out.sort_by_key(|d| d.range.start);
    out.dedup_by_key(|d| d.range.start);
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

/// One search for `Secret` in the common case (none); the manifest forms only after a hit.
fn is_secret_manifest(bytes: &[u8]) -> bool {
    let finder = |needle: &[u8]| memchr::memmem::find(bytes, needle).is_some();
    finder(b"Secret")
        && (finder(b"kind: Secret")
            || finder(b"\"kind\": \"Secret\"")
            || finder(b"\"kind\":\"Secret\""))
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

    fn found(text: &str) -> Vec<(String, &'static str, String)> {
        let mut out = Vec::new();
        find(text.as_bytes(), &mut out);
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
}
