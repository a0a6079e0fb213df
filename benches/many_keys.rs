//! Cost per key when one file holds many keys (issue 12, item 11): it must stay flat as the
//! count grows, on one long line (a minified bundle) and one key per line.
//!
//!     cargo bench --bench many_keys [-- MAX_KEYS]
//!
//! Scans, single-threaded, files of 4k, 16k, 64k … MAX_KEYS (default 256k) built-in-format
//! keys through the real `Scanner` (matcher, line and column, snippets, redaction) and prints
//! the time per key; a quadratic step shows as a per-key time that grows with the count.
use std::time::Instant;

use keysweep::finding::Origin;
use keysweep::messages::Messages;
use keysweep::rules::{parse_file, RuleSet};
use keysweep::scan::{ScanOptions, Scanner, Scratch};
use keysweep::suppress::{AllowlistConfig, Suppressor};

const RULE: &str = r#"
[[rule]]
id = "bench.key"
description = "bench key"
regex = '''(?:^|[^A-Za-z0-9_])(tk_[A-Za-z0-9]{24})(?:[^A-Za-z0-9_]|$)'''
keywords = ["tk_"]
"#;

/// Distinct random-looking keys (splitmix64).
fn keys(n: usize) -> Vec<String> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            let body: String = (0..24)
                .map(|_| {
                    state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let mut z = state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    ALPHABET[((z ^ (z >> 31)) % 62) as usize] as char
                })
                .collect();
            format!("tk_{body}")
        })
        .collect()
}

fn main() {
    let max: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(256 << 10);
    let rules = RuleSet::compile(parse_file("bench", RULE).unwrap()).unwrap();
    let suppress = Suppressor::new(&AllowlistConfig::default(), None).unwrap();
    let scanner = Scanner::new(rules, suppress, ScanOptions::default(), Messages::capture())
        .expect("scanner");
    println!("{:>8} {:>14} {:>14}", "keys", "one line", "line per key");
    let mut n = 4 << 10;
    while n <= max {
        let keys = keys(n);
        let mut row = format!("{n:>8}");
        for separator in [",", "\n"] {
            let text = keys.join(separator);
            let mut found = 0usize;
            let start = Instant::now();
            scanner.scan_bytes(
                text.as_bytes(),
                &Origin::new("bench"),
                &mut Scratch::default(),
                &mut |_| found += 1,
            );
            let per_key = start.elapsed().as_nanos() as f64 / n as f64;
            assert_eq!(found, n, "every key is found");
            row.push_str(&format!(" {:>11.0} ns", per_key));
        }
        println!("{row}");
        n *= 4;
    }
}
