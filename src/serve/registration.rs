//! What to send GitHub when registering for the secret scanning partner program: one token
//! type per revocable rule, with the regular expression of the token itself, derived from the
//! rule (its `secret` group), so the alerts GitHub sends are the ones keysweep confirms.

use serde::Serialize;

use crate::rules::{Rule, RuleSet};

/// One token type for the registration form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenType {
    /// The name GitHub sends back as `type`: the rule id in upper snake case.
    #[serde(rename = "type")]
    pub name: String,
    /// The token alone: the rule's `secret` group (the whole regex when it has none).
    pub regex: String,
    pub rule: String,
    pub description: String,
}

/// The token types of the revocable rules of `rules` (the keys an issuer can revoke, which is
/// what an alert is for), in rule order.
pub fn token_types(rules: &RuleSet) -> Vec<TokenType> {
    rules
        .rules()
        .iter()
        .filter(|r| r.spec.revocable)
        .map(token_type)
        .collect()
}

fn token_type(rule: &Rule) -> TokenType {
    let pattern = &rule.spec.regex;
    TokenType {
        name: type_name(rule.id()),
        regex: secret_pattern(pattern, rule.secret_group()).unwrap_or(pattern.clone()),
        rule: rule.id().to_string(),
        description: rule.spec.description.clone(),
    }
}

/// `keyservice.secret-live` → `KEYSERVICE_SECRET_LIVE`.
fn type_name(id: &str) -> String {
    id.chars()
        .map(|c| match c.is_ascii_alphanumeric() {
            true => c.to_ascii_uppercase(),
            false => '_',
        })
        .collect()
}

/// The text of capture group `group` (1-based, in order of opening parentheses) of `pattern`,
/// without its parentheses and name; `None` for group 0 or when it cannot be found.
fn secret_pattern(pattern: &str, group: usize) -> Option<String> {
    let (_, body) = crate::rules::pattern::capture_group(pattern, u32::try_from(group).ok()?)?;
    Some(pattern[body].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_pattern_is_the_secret_group() {
        let p = r"\b(?P<secret>sk_live_[A-Za-z0-9_-]{16,250})(?:[^A-Za-z0-9_-]|$)";
        assert_eq!(
            secret_pattern(p, 1).as_deref(),
            Some("sk_live_[A-Za-z0-9_-]{16,250}")
        );
        let p = r"(?:^|[^(\w])(AKIA[0-9A-Z]{16})\(x\)";
        assert_eq!(secret_pattern(p, 1).as_deref(), Some("AKIA[0-9A-Z]{16}"));
        let p = r"(?i)key=(?<secret>(?:ab|cd)[\]()]{4}(x))";
        assert_eq!(
            secret_pattern(p, 1).as_deref(),
            Some(r"(?:ab|cd)[\]()]{4}(x)")
        );
        assert_eq!(secret_pattern(p, 2).as_deref(), Some("x"));
        assert_eq!(secret_pattern(p, 0), None);
        assert_eq!(secret_pattern("abc", 1), None);
    }

    #[test]
    fn built_in_revocable_rules_become_token_types_whose_regex_matches_their_examples() {
        let rules = RuleSet::builtin().unwrap();
        let types = token_types(&rules);
        let live = types
            .iter()
            .find(|t| t.rule == "keyservice.secret-live")
            .unwrap();
        assert_eq!(live.name, "KEYSERVICE_SECRET_LIVE");
        assert_eq!(live.regex, "sk_live_[A-Za-z0-9_-]{16,250}");
        assert!(types.len() < rules.len(), "only revocable rules");
        for t in &types {
            let rule = rules.find(&t.rule).unwrap();
            assert!(rule.spec.revocable);
            let whole = regex::bytes::Regex::new(&format!("^(?:{})$", t.regex)).unwrap();
            for example in &rule.spec.examples {
                let found = rule.regex().captures(example.as_bytes()).unwrap();
                let secret = found.get(rule.secret_group()).unwrap().as_bytes();
                assert!(whole.is_match(secret), "{}: {}", t.rule, t.regex);
            }
        }
    }
}
