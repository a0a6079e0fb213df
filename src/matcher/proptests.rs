//! The matcher against a reference that knows where the keys were planted: random filler,
//! keys at random places, adjacent keys sharing one delimiter (which a rule that consumes its
//! delimiters must not lose), keys at the very start and end.

use proptest::prelude::*;

use super::{Matcher, Scratch};
use crate::rules::{parse_file, RuleSet};

/// A rule that consumes the delimiter on both sides, as many real-world rules do.
const RULE: &str = r#"
[[rule]]
id = "t"
description = "d"
regex = '''(?:^|[^A-Za-z0-9_])(tk_[A-Za-z0-9]{24})(?:[^A-Za-z0-9_]|$)'''
keywords = ["tk_"]
"#;

/// One planted key: what comes before it (a delimiter, or a delimiter, filler and a
/// delimiter) and its body.
fn piece() -> impl Strategy<Value = (String, String)> {
    let delimiter = prop::sample::select(vec![" ", ",", ";", "\n", "\"", "=", "'"]);
    // Filler never holds `t`, so it never starts a key of its own.
    let filler = prop::option::of(("[a-su-z ,;=\n]{1,40}", delimiter.clone()));
    (delimiter, filler, "[A-Za-z0-9]{24}").prop_map(|(d, f, body)| {
        let before = match f {
            Some((f, d2)) => format!("{d}{f}{d2}"),
            None => d.to_string(),
        };
        (before, format!("tk_{body}"))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_planted_key_is_found_once_in_order(
        pieces in prop::collection::vec(piece(), 0..40),
        lead in any::<bool>(),
    ) {
        let rules = RuleSet::compile(parse_file("t", RULE).unwrap()).unwrap();
        let mut hay = String::new();
        let mut want = Vec::new();
        for (i, (before, key)) in pieces.iter().enumerate() {
            // Optionally the first key at the very start of the haystack (`^`).
            if !(i == 0 && lead) {
                hay.push_str(before);
            }
            hay.push_str(key);
            // The filter the matcher applies to every secret of this length.
            if !super::filter::is_placeholder(key.as_bytes()) {
                want.push(key.clone());
            }
        }
        let mut found = Vec::new();
        Matcher::new(&rules).find(&rules, hay.as_bytes(), &mut Scratch::default(), &mut found);
        let got: Vec<String> = found
            .iter()
            .map(|m| hay[m.secret.clone()].to_string())
            .collect();
        prop_assert_eq!(got, want);
    }
}
