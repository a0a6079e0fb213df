//! Format-valid fake keys: random-looking, passing the entropy and placeholder filters, and
//! never issued by anyone.

pub const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Deterministic pseudo-random bodies (splitmix64), so a failing test fails the same way again.
pub struct Fakes(u64);

impl Fakes {
    pub fn new(seed: u64) -> Self {
        Fakes(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }

    /// A body over `alphabet` with no placeholder-looking runs and no words the placeholder
    /// filter rejects, so every generated key is a true positive.
    pub fn body(&mut self, len: usize, alphabet: &[u8]) -> String {
        loop {
            let s: String = (0..len)
                .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
                .collect();
            if !keysweep::matcher::filter::is_placeholder(s.as_bytes()) {
                return s;
            }
        }
    }

    /// Key-service live secret: `sk_live_` + base64url(32 bytes) = 43 characters.
    pub fn sk_live(&mut self) -> String {
        format!("sk_live_{}", self.body(43, BASE64URL))
    }

    pub fn msk(&mut self) -> String {
        format!("msk_{}", self.body(40, BASE64URL))
    }

    pub fn mk_live(&mut self) -> String {
        format!("mk_live_{}", self.body(24, BASE62))
    }

    /// A GitHub classic token with a valid CRC-32 checksum.
    pub fn ghp(&mut self) -> String {
        let random = self.body(30, BASE62);
        let check = keysweep::rules::checksum::base62_fixed(crc32fast::hash(random.as_bytes()), 6);
        format!("ghp_{random}{}", String::from_utf8(check).unwrap())
    }
}
