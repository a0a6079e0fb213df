//! The secret-scanning partner program's signatures: GitHub signs each alert's raw body with
//! ECDSA P-256/SHA-256 and names the key in `Github-Public-Key-Identifier`; the keys are
//! published at `{api}/meta/public_keys/secret_scanning` as PEM SubjectPublicKeyInfo.
//!
//! The keys are cached. An identifier not in the cache (GitHub rotated its key) triggers one
//! refetch, at most once a minute, so forged identifiers cannot make keysweep hammer GitHub.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use serde::Deserialize;

use crate::github::client::Client;

pub const KEYS_PATH: &str = "/meta/public_keys/secret_scanning";
/// Unknown identifiers refetch the keys at most this often.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// DER of a P-256 SubjectPublicKeyInfo up to the key: SEQUENCE { SEQUENCE { id-ecPublicKey,
/// prime256v1 }, BIT STRING (0 unused bits) … }. What follows is the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Why an alert's signature was not accepted. The messages are what the sender reads in the
/// 401 body: they name what is wrong, never what a valid signature would be.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Rejected {
    #[error("missing Github-Public-Key-Identifier or Github-Public-Key-Signature header")]
    Missing,
    #[error("unknown signing key identifier")]
    UnknownKey,
    #[error("the signature is not base64")]
    Encoding,
    #[error("the signature does not match the body")]
    Mismatch,
}

#[derive(Deserialize)]
struct Published {
    public_keys: Vec<PublishedKey>,
}

#[derive(Deserialize)]
struct PublishedKey {
    key_identifier: String,
    key: String,
}

/// The uncompressed P-256 point of a PEM SubjectPublicKeyInfo; any other key type is refused.
pub fn p256_point(pem: &str) -> anyhow::Result<Vec<u8>> {
    let b64: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| anyhow::anyhow!("the key is not PEM: {e}"))?;
    match der.strip_prefix(&P256_SPKI_PREFIX[..]) {
        Some(point) if point.len() == 65 && point[0] == 4 => Ok(point.to_vec()),
        _ => anyhow::bail!("the key is not an uncompressed ECDSA P-256 public key"),
    }
}

/// Checks a base64 DER ECDSA signature of `body` against an uncompressed P-256 point.
pub fn verify(point: &[u8], signature_b64: &str, body: &[u8]) -> Result<(), Rejected> {
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature_b64.trim())
        .map_err(|_| Rejected::Encoding)?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
        .verify(body, &signature)
        .map_err(|_| Rejected::Mismatch)
}

/// GitHub's partner-program signing keys, fetched through the GitHub client.
pub struct SigningKeys {
    client: Arc<Client>,
    keys: RwLock<HashMap<String, Vec<u8>>>,
    /// When an unknown identifier last caused a fetch.
    last_refetch: Mutex<Option<Instant>>,
    /// Fetches so far (for `/readyz` and tests of the refetch limit).
    fetches: std::sync::atomic::AtomicU64,
}

impl SigningKeys {
    pub fn new(client: Arc<Client>) -> SigningKeys {
        SigningKeys {
            client,
            keys: RwLock::default(),
            last_refetch: Mutex::new(None),
            fetches: Default::default(),
        }
    }

    pub fn loaded(&self) -> bool {
        !self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Replaces the cache with what GitHub publishes now. Blocking: call from a blocking thread.
    /// A key that does not parse is skipped (GitHub may publish new key types first); none
    /// parsing at all is an error.
    pub fn fetch(&self) -> anyhow::Result<usize> {
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let published: Published = self.client.get_json(KEYS_PATH)?;
        let keys: HashMap<String, Vec<u8>> = published
            .public_keys
            .iter()
            .filter_map(|k| Some((k.key_identifier.clone(), p256_point(&k.key).ok()?)))
            .collect();
        anyhow::ensure!(
            !keys.is_empty(),
            "{} lists no ECDSA P-256 key",
            self.client.url(KEYS_PATH)
        );
        let n = keys.len();
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
        Ok(n)
    }

    fn point(&self, identifier: &str) -> Option<Vec<u8>> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.get(identifier).cloned()
    }

    /// Claims the right to refetch for an unknown identifier: true at most once a minute.
    fn may_refetch(&self) -> bool {
        let mut last = self.last_refetch.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < REFETCH_INTERVAL) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// Verifies an alert. Blocking (it may refetch the keys): call from a blocking thread.
    pub fn check(
        &self,
        identifier: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), Rejected> {
        let (Some(identifier), Some(signature)) = (identifier, signature) else {
            return Err(Rejected::Missing);
        };
        let point = match self.point(identifier) {
            Some(point) => point,
            None if self.may_refetch() => {
                // A failed refetch leaves the old keys: the alert is refused, and GitHub
                // retries it.
                let _ = self.fetch();
                self.point(identifier).ok_or(Rejected::UnknownKey)?
            }
            None => return Err(Rejected::UnknownKey),
        };
        verify(&point, signature, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

    fn pair() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap()
    }

    fn pem(pair: &EcdsaKeyPair) -> String {
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(pair.public_key().as_ref());
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
    }

    fn sign(pair: &EcdsaKeyPair, body: &[u8]) -> String {
        let sig = pair.sign(&SystemRandom::new(), body).unwrap();
        base64::engine::general_purpose::STANDARD.encode(sig.as_ref())
    }

    #[test]
    fn a_signature_verifies_only_for_its_body_and_key() {
        let (key, other) = (pair(), pair());
        let point = p256_point(&pem(&key)).unwrap();
        let body = br#"[{"token":"x","type":"t","url":"u","source":"content"}]"#;
        assert_eq!(verify(&point, &sign(&key, body), body), Ok(()));
        assert_eq!(
            verify(&point, &sign(&key, body), b"[]"),
            Err(Rejected::Mismatch)
        );
        assert_eq!(
            verify(&point, &sign(&other, body), body),
            Err(Rejected::Mismatch)
        );
        assert_eq!(verify(&point, "%%%", body), Err(Rejected::Encoding));
    }

    #[test]
    fn keys_other_than_p256_are_refused() {
        let der = base64::engine::general_purpose::STANDARD.encode([0x30, 0x03, 0x02, 0x01, 0x00]);
        let err = p256_point(&format!(
            "-----BEGIN PUBLIC KEY-----\n{der}\n-----END PUBLIC KEY-----"
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the key is not an uncompressed ECDSA P-256 public key"
        );
        assert!(p256_point("not pem at all!").is_err());
    }
}
