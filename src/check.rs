//! `keysweep rules check`: every rule proves itself on its own examples. All failures are
//! collected and reported at once, so a rule author fixes a file in one round.

use std::collections::HashMap;

use crate::matcher::{Matcher, Scratch};
use crate::rules::lint::delimiter_before_secret;
use crate::rules::{compile_rule, RuleSet, RuleSpec};

/// Rules need at least this many examples of each kind: one proves little about a regex.
pub const MIN_EXAMPLES: usize = 3;

#[derive(Debug, Default)]
pub struct CheckReport {
    pub rules: usize,
    pub examples: usize,
    pub failures: Vec<String>,
}

pub fn check(specs: Vec<(String, RuleSpec)>) -> CheckReport {
    let mut report = CheckReport {
        rules: specs.len(),
        ..Default::default()
    };
    check_specs(&specs, &mut report.failures);
    if !report.failures.is_empty() {
        return report;
    }
    // Examples run against the whole set, as in a real scan, so `supersedes` takes effect.
    match RuleSet::compile(specs) {
        Ok(set) => check_examples(&set, &mut report),
        Err(e) => report
            .failures
            .push(format!("rules do not compile together: {e}")),
    }
    report
}

/// What can be told of each rule on its own: ids, regex, lint, fields, example counts.
fn check_specs(specs: &[(String, RuleSpec)], failures: &mut Vec<String>) {
    let mut first_seen: HashMap<&str, &str> = HashMap::new();
    for (origin, spec) in specs {
        if let Some(prev) = first_seen.insert(&spec.id, origin) {
            failures.push(format!("{}: duplicate id (also in {prev})", spec.id));
        }
    }
    let ids: Vec<String> = specs.iter().map(|(_, s)| s.id.clone()).collect();
    for (origin, spec) in specs {
        match compile_rule(origin.clone(), spec.clone(), &ids) {
            Err(e) => failures.push(e.to_string()),
            Ok(rule) => match rule.compile_now() {
                Err(e) => failures.push(format!("{}: {e}", spec.id)),
                Ok(()) => lint(spec, failures),
            },
        }
        for sup in spec.supersedes.iter().filter(|s| !ids.contains(s)) {
            failures.push(format!("{}: supersedes unknown rule {sup}", spec.id));
        }
        if spec.confidence.is_none() {
            failures.push(format!(
                "{}: needs a confidence (high, medium or low)",
                spec.id
            ));
        }
        if spec.examples.len() < MIN_EXAMPLES || spec.negative_examples.len() < MIN_EXAMPLES {
            failures.push(format!(
                "{}: needs at least {MIN_EXAMPLES} examples and {MIN_EXAMPLES} negative examples",
                spec.id
            ));
        }
    }
}

/// Every example found and every negative example not, by the whole set; the first example of
/// each rule also written twice side by side (adjacent keys are each found).
fn check_examples(set: &RuleSet, report: &mut CheckReport) {
    let mut run = Run {
        set,
        matcher: Matcher::new(set),
        scratch: Scratch::default(),
        found: Vec::new(),
    };
    for (index, rule) in set.rules().iter().enumerate() {
        let mut adjacent_tried = false;
        for (example, positive) in rule
            .spec
            .examples
            .iter()
            .map(|e| (e, true))
            .chain(rule.spec.negative_examples.iter().map(|e| (e, false)))
        {
            report.examples += 1;
            let secrets = run.secrets(index, example.as_bytes());
            if positive && secrets.is_empty() {
                report.failures.push(format!(
                    "{}: example does not match: {example:?}",
                    rule.id()
                ));
            } else if !positive && !secrets.is_empty() {
                report.failures.push(format!(
                    "{}: negative example matches: {example:?}",
                    rule.id()
                ));
            } else if positive && !adjacent_tried {
                adjacent_tried = true;
                if let Some(f) = run.adjacent_failure(index, &secrets[0]) {
                    report.failures.push(format!("{}: {f}", rule.id()));
                }
            }
        }
    }
}

/// The matcher over the whole set, with its buffers.
struct Run<'a> {
    set: &'a RuleSet,
    matcher: Matcher,
    scratch: Scratch,
    found: Vec<crate::matcher::Match>,
}

impl Run<'_> {
    /// The secrets rule `index` finds in `hay`, in order.
    fn secrets(&mut self, index: usize, hay: &[u8]) -> Vec<Vec<u8>> {
        self.found.clear();
        self.matcher
            .find(self.set, hay, &mut self.scratch, &mut self.found);
        self.found
            .iter()
            .filter(|m| m.rule == index && !m.secret.is_empty())
            .map(|m| hay[m.secret.clone()].to_vec())
            .collect()
    }

    /// A secret that the rule finds standing alone must be found twice when written twice
    /// side by side (`A,B`, `A B`, `"A","B"`): a rule that eats a neighbour's delimiter loses
    /// the second key. Rules whose secret needs context (a keyword, a URL) are not tested.
    fn adjacent_failure(&mut self, index: usize, secret: &[u8]) -> Option<String> {
        if self.secrets(index, secret).len() != 1 {
            return None;
        }
        let s = String::from_utf8_lossy(secret);
        for hay in [
            format!("{s},{s}"),
            format!("{s} {s}"),
            format!("\"{s}\",\"{s}\""),
            format!("K={s};{s}\n"),
        ] {
            let found = self.secrets(index, hay.as_bytes());
            // A format whose alphabet spans the separator (Fly.io's comma-joined macaroons)
            // reads both as one token: nothing is lost.
            let spans_both = found.iter().any(|f| f.len() >= 2 * secret.len());
            let n = found.len();
            if n != 2 && !spans_both {
                return Some(format!(
                    "finds {n} of 2 adjacent keys in {:?}",
                    hay.replace(&*s, "<secret>")
                ));
            }
        }
        None
    }
}

/// Structural checks a rule's examples cannot prove (see `rules::lint`).
fn lint(spec: &RuleSpec, failures: &mut Vec<String>) {
    match delimiter_before_secret(&spec.regex) {
        Ok(None) => {}
        Ok(Some(d)) => failures.push(format!(
            "{}: the regex can consume {d:?} right before the secret, so the second of two \
             adjacent keys is missed; use a zero-width boundary (\\b, \\b{{start-half}})",
            spec.id
        )),
        Err(e) => failures.push(format!("{}: regex: {e}", spec.id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parse_file;

    #[test]
    fn reports_every_failure_at_once() {
        let specs = parse_file(
            "t",
            r#"
[[rule]]
id = "a"
description = "d"
regex = '''\b(tk_[a-zA-Z0-9]{20})\b'''
keywords = ["tk_"]
confidence = "high"
examples = ["tk_Q3EGRXTWZPLKJH7Mab9f", "nothing here", "tk_R4FHSYUXAQMLKI8Nbc0g"]
negative_examples = ["tk_short", "tk_Z3EGRXTWZPLKJH7Mab9f", "tk_"]
"#,
        )
        .unwrap();
        let r = check(specs);
        assert_eq!(r.failures.len(), 2, "{:?}", r.failures);
        assert!(r.failures[0].contains("does not match"));
        assert!(r.failures[1].contains("negative example matches"));
    }

    #[test]
    fn too_few_examples_fail() {
        let specs = parse_file(
            "t",
            "[[rule]]\nid='a'\ndescription='d'\nregex='tk_'\nkeywords=['tk_']\nexamples=['tk_']\n",
        )
        .unwrap();
        let failures = check(specs).failures;
        assert!(
            failures.iter().any(|f| f.contains("at least 3")),
            "{failures:?}"
        );
        assert!(
            failures.iter().any(|f| f.contains("needs a confidence")),
            "{failures:?}"
        );
    }

    #[test]
    fn a_built_in_rule_whose_regex_does_not_compile_is_reported() {
        // Built-in rules compile on first use in a scan; `rules check` must still compile them.
        let specs = parse_file(
            "builtin:broken.toml",
            "[[rule]]\nid='a'\ndescription='d'\nregex='tk_(['\nkeywords=['tk_']\n\
             confidence='low'\nexamples=['tk_1', 'tk_2', 'tk_3']\nnegative_examples=['x', 'y', 'z']\n",
        )
        .unwrap();
        let failures = check(specs).failures;
        assert!(
            failures.iter().any(|f| f.starts_with("a: regex:")),
            "{failures:?}"
        );
    }

    #[test]
    fn a_rule_that_loses_the_second_of_two_adjacent_keys_fails() {
        let rule = |regex: &str| {
            let text = format!(
                "[[rule]]\nid='a'\ndescription='d'\nregex='''{regex}'''\nkeywords=['tk_']\n\
                 confidence='high'\nexamples=['tk_Q3EGRXTWZPLKJH7Mab9f', \
                 'k tk_R4FHSYUXAQMLKI8Nbc0g', 'k tk_S5GITZVYBRNMLJ9Ocd1h']\n\
                 negative_examples=['x', 'y', 'z']\n"
            );
            check(parse_file("t", &text).unwrap()).failures
        };
        let failures = rule(r"(?:^|[^A-Za-z0-9])(tk_[A-Za-z0-9]{20})");
        assert!(
            failures
                .iter()
                .any(|f| f.contains("can consume ' ' right before the secret")),
            "{failures:?}"
        );
        let failures = rule(r"\b(tk_[A-Za-z0-9]{20})(?:\s|$)");
        assert!(
            failures
                .iter()
                .any(|f| f.contains("finds 1 of 2 adjacent keys")),
            "{failures:?}"
        );
        assert_eq!(rule(r"\b(tk_[A-Za-z0-9]{20})\b"), Vec::<String>::new());
    }
}
