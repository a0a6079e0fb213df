//! What a PEM private key is, for people: its type and a fingerprint of its public part, so a
//! finding reads `RSA PRIVATE KEY SHA256:…` instead of `-----…(1703)`, and the fingerprint can
//! be matched against `ssh-keygen -lf key.pub` or a server's authorized keys without ever
//! touching the private key again.
//!
//! The public fingerprint is the OpenSSH one (SHA-256 of the public key blob, base64) when the
//! public key is cheap to get: OpenSSH keys carry it in clear, and RSA keys (PKCS#1 or PKCS#8)
//! hold the modulus and exponent. Other keys (EC, encrypted, malformed) get the SHA-256 of the
//! DER body instead, labelled `der-sha256:` so no one takes it for a public fingerprint.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

/// `RSA PRIVATE KEY SHA256:…` for a PEM block (`secret` starts with `-----BEGIN `), else None.
pub fn describe(secret: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(secret).ok()?;
    let rest = text.strip_prefix("-----BEGIN ")?;
    let end = rest.find("-----")?;
    let kind = &rest[..end];
    if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_uppercase() || b == b' ') {
        return None;
    }
    let body = &rest[end + 5..];
    let body = &body[..body.find("-----END").unwrap_or(body.len())];
    let Some(der) = decode_body(body) else {
        return Some(kind.to_string());
    };
    Some(match public_fingerprint(&der) {
        Some((algorithm, fp)) if kind == "OPENSSH PRIVATE KEY" => {
            format!("{kind} {algorithm} {fp}")
        }
        Some((_, fp)) => format!("{kind} {fp}"),
        None => format!(
            "{kind} der-sha256:{}",
            &hex::encode(Sha256::digest(&der))[..16]
        ),
    })
}

/// The base64 body as bytes: line breaks real or escaped (`\n` inside JSON strings), quotes and
/// commas of code around it, and RFC 1421 headers (`Proc-Type: …`) left out.
fn decode_body(body: &str) -> Option<Vec<u8>> {
    let unescaped = body.replace("\\r", "\n").replace("\\n", "\n");
    let b64: String = unescaped
        .lines()
        .map(|l| l.trim_matches(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ','))
        .filter(|l| !l.contains(':'))
        .collect();
    STANDARD
        .decode(b64.trim_end_matches('=').to_string() + pad(&b64))
        .ok()
}

fn pad(b64: &str) -> &'static str {
    match b64.trim_end_matches('=').len() % 4 {
        2 => "==",
        3 => "=",
        _ => "",
    }
}

/// The OpenSSH public key algorithm and `SHA256:…` fingerprint, if derivable.
fn public_fingerprint(der: &[u8]) -> Option<(String, String)> {
    let blob = openssh_public_blob(der).or_else(|| rsa_public_blob(der))?;
    let algorithm = ssh_string(&blob)?.0;
    let algorithm = String::from_utf8_lossy(algorithm).into_owned();
    let fp = format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(&blob)));
    Some((algorithm, fp))
}

/// `openssh-key-v1`: magic, cipher, kdf, kdf options, key count, then the public key in clear.
fn openssh_public_blob(data: &[u8]) -> Option<Vec<u8>> {
    let mut rest = data.strip_prefix(b"openssh-key-v1\0")?;
    for _ in 0..3 {
        rest = ssh_string(rest)?.1;
    }
    let rest = rest.get(4..)?;
    Some(ssh_string(rest)?.0.to_vec())
}

/// A length-prefixed SSH string and what follows it.
fn ssh_string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(data.get(..4)?.try_into().ok()?) as usize;
    let rest = &data[4..];
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// `ssh-rsa` wire form of an RSA private key's public half (PKCS#1, or PKCS#8 wrapping it).
fn rsa_public_blob(der: &[u8]) -> Option<Vec<u8>> {
    let (tag, seq, _) = tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, _version, rest) = tlv(seq)?;
    if tag != 0x02 {
        return None;
    }
    let (tag, second, after) = tlv(rest)?;
    match tag {
        // PKCS#1: version, modulus, public exponent, …
        0x02 => {
            let (tag, e, _) = tlv(after)?;
            (tag == 0x02).then(|| ssh_rsa(e, second))
        }
        // PKCS#8: version, AlgorithmIdentifier (rsaEncryption), OCTET STRING of PKCS#1.
        0x30 => {
            const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
            let (tag, oid, _) = tlv(second)?;
            if tag != 0x06 || oid != RSA_ENCRYPTION {
                return None;
            }
            let (tag, inner, _) = tlv(after)?;
            (tag == 0x04).then(|| rsa_public_blob(inner))?
        }
        _ => None,
    }
}

/// DER INTEGER contents are already SSH mpints (big-endian, minimal, a 0 byte before a set
/// high bit).
fn ssh_rsa(e: &[u8], n: &[u8]) -> Vec<u8> {
    let mut blob = Vec::new();
    for part in [&b"ssh-rsa"[..], e, n] {
        blob.extend_from_slice(&(part.len() as u32).to_be_bytes());
        blob.extend_from_slice(part);
    }
    blob
}

/// One DER tag-length-value: the tag, the contents, and the bytes after it.
fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 0x80 {
            out.push(content.len() as u8);
        } else {
            out.push(0x82);
            out.extend_from_slice(&(content.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(content);
        out
    }

    /// A structurally valid PKCS#1 key with an obviously fake modulus.
    fn pkcs1(n: &[u8]) -> Vec<u8> {
        let mut body = der(0x02, &[0]);
        body.extend(der(0x02, n));
        body.extend(der(0x02, &[1, 0, 1]));
        body.extend(der(0x02, &[7; 64]));
        der(0x30, &body)
    }

    fn pem(kind: &str, der: &[u8], newline: &str) -> String {
        let b64 = STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {kind}-----{newline}{}{newline}-----END {kind}-----",
            lines.join(newline)
        )
    }

    #[test]
    fn rsa_keys_show_the_openssh_fingerprint_of_their_public_half() {
        let n: Vec<u8> = std::iter::once(0)
            .chain((0..128).map(|i| 0x80 | i as u8))
            .collect();
        let key = pkcs1(&n);
        let expected = format!(
            "RSA PRIVATE KEY SHA256:{}",
            STANDARD_NO_PAD.encode(Sha256::digest(ssh_rsa(&[1, 0, 1], &n)))
        );
        assert_eq!(
            describe(pem("RSA PRIVATE KEY", &key, "\n").as_bytes()),
            Some(expected.clone())
        );
        // The same key escaped inside a JSON string has the same fingerprint.
        let escaped = pem("RSA PRIVATE KEY", &key, "\\n");
        assert_eq!(describe(escaped.as_bytes()), Some(expected.clone()));
        // PKCS#8 wrapping the same key: the same public half.
        let mut p8 = der(0x02, &[0]);
        let oid = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
        let mut alg = der(0x06, &oid);
        alg.extend(der(0x05, &[]));
        p8.extend(der(0x30, &alg));
        p8.extend(der(0x04, &key));
        let p8 = der(0x30, &p8);
        let described = describe(pem("PRIVATE KEY", &p8, "\r\n").as_bytes()).unwrap();
        assert_eq!(
            described,
            expected.replace("RSA PRIVATE KEY", "PRIVATE KEY")
        );
    }

    #[test]
    fn other_keys_say_their_type_and_a_labelled_body_hash() {
        let body = der(0x30, &[0x02, 0x01, 0x01, 0x04, 0x03, 9, 9, 9]);
        let d = describe(pem("EC PRIVATE KEY", &body, "\n").as_bytes()).unwrap();
        let hash = hex::encode(Sha256::digest(&body));
        assert_eq!(d, format!("EC PRIVATE KEY der-sha256:{}", &hash[..16]));
        assert_eq!(
            describe(b"-----BEGIN RSA PRIVATE KEY-----\n!!!\n-----END RSA PRIVATE KEY-----"),
            Some("RSA PRIVATE KEY".into())
        );
        assert_eq!(describe(b"sk_live_abc"), None);
    }
}
