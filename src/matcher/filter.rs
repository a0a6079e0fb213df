//! Filters a regex match must pass to count as a secret. The semantics are the ones written
//! in `docs/rules.md`; rule authors rely on them when they pick their negative examples.

use crate::rules::Rule;

/// Secrets longer than this are structured blobs (PEM, certificates) where runs such as
/// `AAAAAA` are legitimate DER encoding, not placeholders.
const PLACEHOLDER_MAX_LEN: usize = 256;

/// Substrings that mark a placeholder, compared ASCII case-insensitively.
const PLACEHOLDER_WORDS: &[&[u8]] = &[
    b"xxxx",
    b"****",
    b"your",
    b"example",
    b"placeholder",
    b"redacted",
    b"changeme",
    b"dummy",
    b"sample",
    b"insert",
    b"replace",
];

/// A run this long of one character, or of consecutive ascending characters, is typed by a
/// person, not drawn from a random source (probability ~1e-7 in a 40-character random key).
const RUN: usize = 6;

/// `whole` is the entire regex match, `secret` the part of it that is the secret.
pub fn accept(rule: &Rule, secret: &[u8], whole: &[u8]) -> bool {
    if let Some(min) = rule.spec.min_entropy {
        if shannon_entropy(secret) < min {
            return false;
        }
    }
    if secret.len() <= PLACEHOLDER_MAX_LEN && is_placeholder(secret) {
        return false;
    }
    if let Some(checksum) = rule.spec.checksum {
        if !checksum.valid(secret) {
            return false;
        }
    }
    if rule.allow_regexes().iter().any(|r| r.is_match(secret))
        || rule.allow_match_regexes().iter().any(|r| r.is_match(whole))
    {
        return false;
    }
    !rule
        .allow_stopwords
        .iter()
        .any(|w| contains_ignore_case(secret, w))
}

/// Shannon entropy in bits per byte.
pub fn shannon_entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

pub fn is_placeholder(secret: &[u8]) -> bool {
    if PLACEHOLDER_WORDS
        .iter()
        .any(|w| contains_typed_word(secret, w))
    {
        return true;
    }
    let (mut same, mut ascending) = (1, 1);
    for pair in secret.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        same = if a == b { same + 1 } else { 1 };
        ascending = if a.is_ascii_alphanumeric() && b == a.wrapping_add(1) {
            ascending + 1
        } else {
            1
        };
        if same >= RUN || ascending >= RUN {
            return true;
        }
    }
    false
}

/// True when `hay` holds `lower_word` as a person types it: lowercase, UPPERCASE or
/// Capitalized. A random body holds mixed-case runs like `yxxX` or `YoUr` far more often
/// (about 1 key in 12,000 with any-case matching) and those are real keys, not placeholders.
fn contains_typed_word(hay: &[u8], lower_word: &[u8]) -> bool {
    hay.windows(lower_word.len()).any(|w| {
        w == lower_word
            || w.iter()
                .zip(lower_word)
                .all(|(a, b)| *a == b.to_ascii_uppercase())
            || (w[0] == lower_word[0].to_ascii_uppercase() && w[1..] == lower_word[1..])
    })
}

fn contains_ignore_case(hay: &[u8], lower_needle: &[u8]) -> bool {
    lower_needle.is_empty()
        || hay
            .windows(lower_needle.len())
            .any(|w| w.eq_ignore_ascii_case(lower_needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_separates_random_from_typed() {
        assert!(shannon_entropy(b"sk_live_kWZnwWKFOPzPEQZI8zBr18bV") > 4.0);
        assert!(shannon_entropy(b"aaaaaaaa") < 0.01);
        assert_eq!(shannon_entropy(b""), 0.0);
    }

    #[test]
    fn placeholders_are_recognised() {
        for p in [
            &b"sk_live_xxxxxxxxxxxxxxxxxxxxxxxx"[..],
            b"sk_live_YOUR_KEY_HERE_1234",
            b"msk_abcdefghijklmnop",
            b"msk_Q9Q9Q1234567zz",
            b"msk_Z00000000000",
            b"sk_live_EXAMPLEKEY8h2k",
        ] {
            assert!(is_placeholder(p), "{}", String::from_utf8_lossy(p));
        }
        assert!(!is_placeholder(b"sk_live_kWZnwWKFOPzPEQZI8zBr18bV"));
        // Random bodies with mixed-case runs of a placeholder word are real keys.
        assert!(!is_placeholder(
            b"sk_live_GmgaqaQlQXIfZE1ITmkKAMtGx_5tboJ7yxxXXbOkVMY"
        ));
        assert!(!is_placeholder(b"msk_9fK2LmQ8YoUrTtY1wZ3Qa"));
        assert!(is_placeholder(b"msk_Your_Key_Goes_Here_1"));
    }
}
