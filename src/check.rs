//! `keysweep rules check`: every rule proves itself on its own examples. All failures are
//! collected and reported at once, so a rule author fixes a file in one round.

use std::collections::HashMap;

use crate::matcher::{Matcher, Scratch};
use crate::rules::{compile_rule, RuleSet, RuleSpec};

/// Rules need at least this many examples of each kind: one proves little about a regex.
pub const MIN_EXAMPLES: usize = 2;

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
    let mut first_seen: HashMap<&str, &str> = HashMap::new();
    for (origin, spec) in &specs {
        if let Some(prev) = first_seen.insert(&spec.id, origin) {
            report
                .failures
                .push(format!("{}: duplicate id (also in {prev})", spec.id));
        }
    }
    let ids: Vec<String> = specs.iter().map(|(_, s)| s.id.clone()).collect();
    for (origin, spec) in &specs {
        match compile_rule(origin.clone(), spec.clone(), &ids) {
            Err(e) => report.failures.push(e.to_string()),
            Ok(rule) => {
                if let Err(e) = rule.compile_now() {
                    report.failures.push(format!("{}: regex: {e}", spec.id));
                }
            }
        }
        for sup in spec.supersedes.iter().filter(|s| !ids.contains(s)) {
            report
                .failures
                .push(format!("{}: supersedes unknown rule {sup}", spec.id));
        }
        if spec.examples.len() < MIN_EXAMPLES || spec.negative_examples.len() < MIN_EXAMPLES {
            report.failures.push(format!(
                "{}: needs at least {MIN_EXAMPLES} examples and {MIN_EXAMPLES} negative examples",
                spec.id
            ));
        }
    }
    if !report.failures.is_empty() {
        return report;
    }
    // Examples run against the whole set, as in a real scan, so `supersedes` takes effect.
    let set = match RuleSet::compile(specs) {
        Ok(s) => s,
        Err(e) => {
            report
                .failures
                .push(format!("rules do not compile together: {e}"));
            return report;
        }
    };
    let matcher = Matcher::new(&set);
    let mut scratch = Scratch::default();
    let mut found = Vec::new();
    for (index, rule) in set.rules().iter().enumerate() {
        for (example, positive) in rule
            .spec
            .examples
            .iter()
            .map(|e| (e, true))
            .chain(rule.spec.negative_examples.iter().map(|e| (e, false)))
        {
            report.examples += 1;
            found.clear();
            matcher.find(&set, example.as_bytes(), &mut scratch, &mut found);
            let hit = found
                .iter()
                .any(|m| m.rule == index && !m.secret.is_empty());
            if positive && !hit {
                report.failures.push(format!(
                    "{}: example does not match: {example:?}",
                    rule.id()
                ));
            } else if !positive && hit {
                report.failures.push(format!(
                    "{}: negative example matches: {example:?}",
                    rule.id()
                ));
            }
        }
    }
    report
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
examples = ["tk_Q3EGRXTWZPLKJH7Mab9f", "nothing here"]
negative_examples = ["tk_short", "tk_Z3EGRXTWZPLKJH7Mab9f"]
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
        assert!(check(specs).failures[0].contains("at least 2"));
    }

    #[test]
    fn a_built_in_rule_whose_regex_does_not_compile_is_reported() {
        // Built-in rules compile on first use in a scan; `rules check` must still compile them.
        let specs = parse_file(
            "builtin:broken.toml",
            "[[rule]]\nid='a'\ndescription='d'\nregex='tk_(['\nkeywords=['tk_']\n\
             examples=['tk_1', 'tk_2']\nnegative_examples=['x', 'y']\n",
        )
        .unwrap();
        let failures = check(specs).failures;
        assert!(
            failures.iter().any(|f| f.starts_with("a: regex:")),
            "{failures:?}"
        );
    }
}
