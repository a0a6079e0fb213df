//! Offline validators a rule names with `checksum = "…"`: formats whose issuer puts a checksum
//! or a decodable structure in the token, so a regex match that fails it is a typo, a truncated
//! copy or a made-up string, never a live key. A failing validator drops the match (no finding,
//! not a lower confidence): every validator here checks only what the issuer documents, so a
//! real token always passes. `docs/rules.md` lists them for rule authors.

use base64::alphabet;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde::{Deserialize, Serialize};

/// The validators, by the name rules use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Checksum {
    /// GitHub's (and npm's) token format: 30 base62 characters, then their CRC-32 in 6 base62.
    #[serde(rename = "github-crc32")]
    GithubCrc32,
    /// A PyPI API token: `pypi-` and a version-2 macaroon in unpadded base64url whose location
    /// is `pypi.org` or `test.pypi.org`, ending in a 32-byte signature.
    #[serde(rename = "pypi-macaroon")]
    PypiMacaroon,
    /// A JSON Web Token (RFC 7519, JWS compact form): three base64url parts, the header a JSON
    /// object naming its `alg`, the payload a JSON object.
    #[serde(rename = "jwt")]
    Jwt,
    /// A Bech32 string (BIP 173, as age uses it: no length limit) whose checksum holds.
    #[serde(rename = "bech32")]
    Bech32,
    /// A Sentry organization token: `sntrys_`, base64 of a JSON object of facts with `iat`,
    /// `_`, and 32 random bytes in unpadded base64.
    #[serde(rename = "sentry-org-token")]
    SentryOrgToken,
}

impl Checksum {
    pub fn valid(self, secret: &[u8]) -> bool {
        match self {
            Checksum::GithubCrc32 => github_crc32_valid(secret),
            Checksum::PypiMacaroon => pypi_macaroon_valid(secret),
            Checksum::Jwt => jwt_valid(secret),
            Checksum::Bech32 => bech32_valid(secret),
            Checksum::SentryOrgToken => sentry_org_token_valid(secret),
        }
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// GitHub's token format (also npm's): after the last `_`, 30 random base62 characters and the
/// CRC-32 of those 30 in 6 base62 digits.
/// <https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/>,
/// <https://github.blog/security/announcing-npms-new-access-token-format>
pub fn github_crc32_valid(secret: &[u8]) -> bool {
    let body = match secret.iter().rposition(|&b| b == b'_') {
        Some(i) => &secret[i + 1..],
        None => secret,
    };
    if body.len() != 36 || !body.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (random, check) = body.split_at(30);
    base62_fixed(crc32fast::hash(random), 6) == check
}

/// `value` in base62, left-padded with `0` to `width` digits.
pub fn base62_fixed(mut value: u32, width: usize) -> Vec<u8> {
    let mut digits = vec![b'0'; width];
    for d in digits.iter_mut().rev() {
        *d = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits
}

/// Field types of the version-2 binary macaroon format (libmacaroons' `MACAROON_V2`, which
/// pymacaroons and so PyPI's Warehouse write).
const EOS: u8 = 0;
const LOCATION: u8 = 1;
const IDENTIFIER: u8 = 2;
const VID: u8 = 4;
const SIGNATURE: u8 = 6;

/// `pypi-` + unpadded base64url of a V2 macaroon: version byte 2; the header (location
/// `pypi.org` or `test.pypi.org`, a non-empty identifier, end of section); caveats, each an
/// optional location, an identifier and an optional verification id, then end of section;
/// the end of the caveat list; a 32-byte HMAC-SHA256 signature; nothing after it.
/// <https://pypi.org/help/#apitoken>, <https://github.com/rescrv/libmacaroons> (format V2).
pub fn pypi_macaroon_valid(secret: &[u8]) -> bool {
    let Some(body) = secret.strip_prefix(b"pypi-") else {
        return false;
    };
    let Ok(raw) = URL_SAFE_NO_PAD.decode(body) else {
        return false;
    };
    let mut r = Fields { raw: &raw, at: 0 };
    if r.byte() != Some(2) {
        return false;
    }
    match r.field() {
        Some((LOCATION, b"pypi.org" | b"test.pypi.org")) => {}
        _ => return false,
    }
    if !matches!(r.field(), Some((IDENTIFIER, id)) if !id.is_empty()) || r.byte() != Some(EOS) {
        return false;
    }
    while r.peek() != Some(EOS) {
        if !r.caveat() {
            return false;
        }
    }
    r.byte();
    matches!(r.field(), Some((SIGNATURE, sig)) if sig.len() == 32) && r.at == raw.len()
}

/// A reader over a macaroon's fields: a type byte, a varint length, the data.
struct Fields<'a> {
    raw: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn peek(&self) -> Option<u8> {
        self.raw.get(self.at).copied()
    }

    fn byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn varint(&mut self) -> Option<usize> {
        let mut value = 0usize;
        for shift in (0..35).step_by(7) {
            let b = self.byte()?;
            value |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn field(&mut self) -> Option<(u8, &'a [u8])> {
        let kind = self.byte()?;
        let len = self.varint()?;
        let data = self.raw.get(self.at..self.at.checked_add(len)?)?;
        self.at += len;
        Some((kind, data))
    }

    /// `[location] identifier [vid] EOS`.
    fn caveat(&mut self) -> bool {
        let mut kind = self.field().map(|f| f.0);
        if kind == Some(LOCATION) {
            kind = self.field().map(|f| f.0);
        }
        if kind != Some(IDENTIFIER) {
            return false;
        }
        if self.peek() == Some(VID) && self.field().is_none() {
            return false;
        }
        self.byte() == Some(EOS)
    }
}

/// RFC 7519 / RFC 7515 compact serialization: `header.payload.signature`, each unpadded
/// base64url; the header a JSON object with a string `alg` (RFC 7515 §4.1.1: required), the
/// payload a JSON object of claims. The signature is only checked to be base64url.
pub fn jwt_valid(secret: &[u8]) -> bool {
    let mut parts = secret.split(|&b| b == b'.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let object = |part: &[u8]| {
        URL_SAFE_NO_PAD
            .decode(part)
            .ok()
            .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
            .filter(serde_json::Value::is_object)
    };
    let Some(header) = object(header) else {
        return false;
    };
    header.get("alg").is_some_and(serde_json::Value::is_string)
        && object(payload).is_some()
        && URL_SAFE_NO_PAD.decode(signature).is_ok()
}

/// Standard base64, padded or not (Sentry's facts keep Python's `b64encode` padding).
const STANDARD_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `sntrys_` + base64(JSON facts: `iat`, `url`, `region_url`, `org`) + `_` + unpadded base64 of
/// 32 random bytes (Sentry RFC 0091, "Token Format").
/// <https://github.com/getsentry/rfcs/blob/main/text/0091-ci-upload-tokens.md>
pub fn sentry_org_token_valid(secret: &[u8]) -> bool {
    let Some(rest) = secret.strip_prefix(b"sntrys_") else {
        return false;
    };
    let Some(split) = rest.iter().rposition(|&b| b == b'_') else {
        return false;
    };
    let facts = STANDARD_ANY_PAD
        .decode(&rest[..split])
        .ok()
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok());
    facts.is_some_and(|f| f.get("iat").is_some())
        && STANDARD_NO_PAD
            .decode(&rest[split + 1..])
            .is_ok_and(|random| random.len() == 32)
}

const BECH32: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// BIP 173: `hrp 1 data`, all one case, the last 6 data characters a checksum over the
/// lowercase human-readable part and the data (polymod constant 1). age uses it without
/// BIP 173's 90-character limit. <https://github.com/bitcoin/bips/blob/master/bip-0173.mediawiki>,
/// <https://github.com/C2SP/C2SP/blob/main/age.md>
pub fn bech32_valid(secret: &[u8]) -> bool {
    let Some(sep) = secret.iter().rposition(|&b| b == b'1') else {
        return false;
    };
    let has_lower = secret.iter().any(u8::is_ascii_lowercase);
    let has_upper = secret.iter().any(u8::is_ascii_uppercase);
    if sep == 0 || secret.len() - sep < 7 || (has_lower && has_upper) {
        return false;
    }
    let lower = secret.to_ascii_lowercase();
    let (hrp, data) = (&lower[..sep], &lower[sep + 1..]);
    let mut values: Vec<u8> = hrp.iter().map(|b| b >> 5).collect();
    values.push(0);
    values.extend(hrp.iter().map(|b| b & 31));
    for c in data {
        match BECH32.iter().position(|b| b == c) {
            Some(v) => values.push(v as u8),
            None => return false,
        }
    }
    bech32_polymod(&values) == 1
}

fn bech32_polymod(values: &[u8]) -> u32 {
    const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let mut chk: u32 = 1;
    for &v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bytes, so a failure repeats.
    fn bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33) as u8
            })
            .collect()
    }

    /// Every single-character substitution within `alphabet` at a few positions must fail.
    fn corruptions_fail(valid: &[u8], from: usize, alphabet: &[u8], check: fn(&[u8]) -> bool) {
        for at in [from, (from + valid.len()) / 2, valid.len() - 1] {
            let mut bad = valid.to_vec();
            bad[at] = *alphabet.iter().find(|&&c| c != valid[at]).unwrap();
            assert!(!check(&bad), "{}", String::from_utf8_lossy(&bad));
        }
    }

    fn github_like(prefix: &str, seed: u64) -> Vec<u8> {
        let random: Vec<u8> = bytes(seed, 30)
            .iter()
            .map(|b| BASE62[*b as usize % 62])
            .collect();
        [
            prefix.as_bytes(),
            &random,
            &base62_fixed(crc32fast::hash(&random), 6),
        ]
        .concat()
    }

    #[test]
    fn github_and_npm_checksums() {
        for (i, prefix) in ["ghp_", "ghs_", "npm_"].iter().enumerate() {
            let token = github_like(prefix, i as u64);
            assert!(Checksum::GithubCrc32.valid(&token));
            corruptions_fail(&token, 4, BASE62, github_crc32_valid);
        }
        assert!(!github_crc32_valid(b"ghp_short"));
        assert!(!github_crc32_valid(&github_like("npm_", 9)[..39]));
    }

    fn field(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
        out.push(kind);
        let mut len = data.len();
        while len >= 0x80 {
            out.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(data);
    }

    /// A V2 macaroon as Warehouse mints one, with `caveats` first-party caveats.
    fn macaroon(location: &[u8], caveats: &[&[u8]], seed: u64) -> Vec<u8> {
        let mut raw = vec![2];
        field(&mut raw, LOCATION, location);
        field(&mut raw, IDENTIFIER, &bytes(seed, 36));
        raw.push(EOS);
        for c in caveats {
            field(&mut raw, IDENTIFIER, c);
            raw.push(EOS);
        }
        raw.push(EOS);
        field(&mut raw, SIGNATURE, &bytes(seed + 1, 32));
        raw
    }

    fn pypi(raw: &[u8]) -> Vec<u8> {
        format!("pypi-{}", URL_SAFE_NO_PAD.encode(raw)).into_bytes()
    }

    #[test]
    fn pypi_macaroons() {
        let caveat: &[u8] = br#"{"version": 1, "permissions": {"projects": ["acme-tools"]}}"#;
        let long = vec![b'x'; 300];
        for raw in [
            macaroon(b"pypi.org", &[], 1),
            macaroon(b"pypi.org", &[caveat], 2),
            macaroon(b"test.pypi.org", &[caveat, &long], 3),
        ] {
            assert!(Checksum::PypiMacaroon.valid(&pypi(&raw)));
            // Truncated anywhere, with bytes appended, or another location: not a token.
            assert!(!pypi_macaroon_valid(&pypi(&raw[..raw.len() - 1])));
            assert!(!pypi_macaroon_valid(&pypi(&raw[..raw.len() / 2])));
            assert!(!pypi_macaroon_valid(&pypi(&[&raw[..], b"\0"].concat())));
        }
        assert!(!pypi_macaroon_valid(&pypi(&macaroon(b"evil.org", &[], 4))));
        let mut no_sig = macaroon(b"pypi.org", &[], 5);
        no_sig.truncate(no_sig.len() - 34);
        field(&mut no_sig, SIGNATURE, &bytes(6, 16));
        assert!(!pypi_macaroon_valid(&pypi(&no_sig)));
        // The documented prefix with a random body (what a regex alone accepts).
        let random: Vec<u8> = bytes(7, 120)
            .iter()
            .map(|b| BASE62[*b as usize % 62])
            .collect();
        assert!(!pypi_macaroon_valid(
            &[&b"pypi-AgEIcHlwaS5vcmc"[..], &random].concat()
        ));
        assert!(!pypi_macaroon_valid(b"pypi-!!!"));
    }

    fn jwt(header: &str, payload: &str, seed: u64) -> Vec<u8> {
        let enc = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        format!(
            "{}.{}.{}",
            enc(header.as_bytes()),
            enc(payload.as_bytes()),
            enc(&bytes(seed, 32))
        )
        .into_bytes()
    }

    #[test]
    fn jwt_structure() {
        let claims = r#"{"sub":"svc-build","iat":1767225600}"#;
        for (i, header) in [
            r#"{"alg":"HS256","typ":"JWT"}"#,
            r#"{"kid":"k1","alg":"RS256"}"#,
        ]
        .iter()
        .enumerate()
        {
            let token = jwt(header, claims, i as u64);
            assert!(
                Checksum::Jwt.valid(&token),
                "{}",
                String::from_utf8_lossy(&token)
            );
            assert!(!jwt_valid(
                &token[..token.iter().rposition(|&b| b == b'.').unwrap()]
            ));
            assert!(!jwt_valid(&[&token[..], b".e30"].concat()));
        }
        assert!(!jwt_valid(&jwt(r#"{"typ":"JWT"}"#, claims, 3)), "no alg");
        assert!(
            !jwt_valid(&jwt(r#"{"alg":5}"#, claims, 4)),
            "alg not a string"
        );
        assert!(
            !jwt_valid(&jwt(r#"{"alg":"HS256"}"#, "[1,2]", 5)),
            "claims not an object"
        );
        assert!(
            !jwt_valid(&jwt(r#"{"alg":"HS256""#, claims, 6)),
            "header not JSON"
        );
        // A header's first characters glued to random base64url.
        assert!(!jwt_valid(
            b"eyJhbGciOiJIUzI1NiJ9.eyJodPptT0Rk.c2lnbmF0dXJl"
        ));
    }

    fn sentry(facts: &str, seed: u64) -> Vec<u8> {
        let facts = base64::engine::general_purpose::STANDARD.encode(facts);
        format!("sntrys_{facts}_{}", STANDARD_NO_PAD.encode(bytes(seed, 32))).into_bytes()
    }

    #[test]
    fn sentry_org_tokens() {
        let facts = r#"{"iat":1767225600.5,"url":"https://sentry.io","region_url":"https://us.sentry.io","org":"acme"}"#;
        let token = sentry(facts, 1);
        assert!(Checksum::SentryOrgToken.valid(&token));
        assert!(
            !sentry_org_token_valid(&token[..token.len() - 1]),
            "short secret"
        );
        assert!(!sentry_org_token_valid(&sentry(
            r#"{"url":"https://sentry.io"}"#,
            2
        )));
        let mut glued = token.clone();
        glued.remove(12);
        assert!(!sentry_org_token_valid(&glued), "facts no longer JSON");
        assert!(!sentry_org_token_valid(
            b"sntrys_eyJpYXQiO6v5xY5jxWvbnhDWJ8_abc"
        ));
    }

    /// BIP 173 encoding of `data` (5-bit values) under `hrp`, for the round trip.
    fn bech32(hrp: &str, data: &[u8]) -> Vec<u8> {
        let mut values: Vec<u8> = hrp.bytes().map(|b| b >> 5).collect();
        values.push(0);
        values.extend(hrp.bytes().map(|b| b & 31));
        values.extend_from_slice(data);
        values.extend_from_slice(&[0; 6]);
        let m = bech32_polymod(&values) ^ 1;
        let check = (0..6).map(|i| ((m >> (5 * (5 - i))) & 31) as u8);
        let chars = data
            .iter()
            .copied()
            .chain(check)
            .map(|v| BECH32[v as usize]);
        [hrp.as_bytes(), b"1"]
            .concat()
            .into_iter()
            .chain(chars)
            .collect()
    }

    #[test]
    fn bech32_checksums() {
        let data: Vec<u8> = bytes(11, 52).iter().map(|b| b & 31).collect();
        let lower = bech32("age-secret-key-", &data);
        let upper = lower.to_ascii_uppercase();
        for key in [&lower, &upper] {
            assert!(
                Checksum::Bech32.valid(key),
                "{}",
                String::from_utf8_lossy(key)
            );
        }
        corruptions_fail(
            &upper,
            17,
            b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
            bech32_valid,
        );
        let mut mixed = upper.clone();
        let letter = (17..mixed.len())
            .find(|&i| mixed[i].is_ascii_alphabetic())
            .unwrap();
        mixed[letter] = mixed[letter].to_ascii_lowercase();
        assert!(!bech32_valid(&mixed), "mixed case");
        assert!(!bech32_valid(&upper[..upper.len() - 1]));
        assert!(!bech32_valid(b"AGE-SECRET-KEY-1"));
        // BIP 173's own valid test string.
        assert!(bech32_valid(b"A12UEL5L"));
    }
}
