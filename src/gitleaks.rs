//! Importing rule files in gitleaks' format (`[[rules]]` with `id`, `regex`, `secretGroup`,
//! `entropy`, `keywords`, `path`, `allowlists`), so a team can bring its custom rules along:
//! `--rules .gitleaks.toml` loads them, `keysweep rules convert` writes them as keysweep TOML.
//!
//! What keysweep cannot honour is never dropped silently: each such field is listed in
//! [`Import::unsupported`], and a rule that cannot work at all (no regex, no keyword to
//! prefilter on, a regex keysweep's engine refuses) is skipped with the reason.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use toml::{Table, Value};

use crate::messages::{plural, Messages};
use crate::rules::{self, AllowlistSpec, RuleSpec, Severity};

/// The rules of one gitleaks-style file, and what of it keysweep could not use.
#[derive(Debug, Default)]
pub struct Import {
    pub rules: Vec<RuleSpec>,
    /// One entry per field or rule not carried over: `rule "x": path (…)`.
    pub unsupported: Vec<String>,
}

impl Import {
    /// Ids of imported rules without examples: `rules check` has nothing to test them with.
    pub fn without_examples(&self) -> Vec<&str> {
        let ids = self.rules.iter().filter(|r| r.examples.is_empty());
        ids.map(|r| r.id.as_str()).collect()
    }

    /// Warns about everything not carried over and about rules without examples.
    pub fn warn(&self, file: &Path, messages: &Messages) {
        let file = file.display();
        for what in &self.unsupported {
            messages.warn(format_args!("{file}: gitleaks import: {what}"));
        }
        let untested = self.without_examples();
        if !untested.is_empty() {
            messages.warn(format_args!(
                "{file}: {} without examples, loaded untested (add `examples` and run `keysweep \
                 rules check`): {}",
                plural(untested.len(), "imported rule"),
                untested.join(", ")
            ));
        }
    }
}

/// The import of `path` when it is a gitleaks-style file (a top-level `[[rules]]`), else
/// `None` (a keysweep rule file or a directory, for the rule loader).
pub fn read_if_gitleaks(path: &Path) -> anyhow::Result<Option<Import>> {
    if !path.is_file() {
        return Ok(None);
    }
    // The same bounded read as every control file (the keysweep loader reads it the same way).
    let text = crate::control::read_to_string(path, crate::control::CONTROL_FILE_MAX)
        .with_context(|| format!("cannot read rule file {}", path.display()))?;
    let table: Table = match toml::from_str(&text) {
        Ok(t) => t,
        // Not ours to report: the keysweep loader names the syntax error.
        Err(_) => return Ok(None),
    };
    if !table.contains_key("rules") {
        return Ok(None);
    }
    import(&table)
        .map(Some)
        .with_context(|| format!("rule file {}", path.display()))
}

/// Converts a parsed gitleaks configuration.
pub fn import(table: &Table) -> anyhow::Result<Import> {
    let mut out = Import::default();
    for (key, value) in table {
        match key.as_str() {
            "rules" => {}
            "title" | "description" => {}
            "extend" => out.unsupported.push(
                "[extend] is ignored: keysweep's own built-in rules are in force unless \
                 --no-builtin-rules"
                    .into(),
            ),
            "allowlist" | "allowlists" => global_allowlists(value, &mut out),
            other => out
                .unsupported
                .push(format!("top-level `{other}` is ignored")),
        }
    }
    let rules = table["rules"]
        .as_array()
        .context("`rules` must be an array of tables ([[rules]])")?;
    let global = global_allow(table);
    for (i, rule) in rules.iter().enumerate() {
        let rule = rule
            .as_table()
            .with_context(|| format!("[[rules]] entry {} is not a table", i + 1))?;
        if let Some(mut spec) = import_rule(rule, &mut out.unsupported)? {
            merge_allow(&mut spec, &global);
            out.rules.push(spec);
        }
    }
    check_target_rules(table)?;
    Ok(out)
}

fn string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(string).collect())
        .unwrap_or_default()
}

/// One `[[rules]]` entry, or `None` (with the reason recorded) when it cannot work here.
fn import_rule(rule: &Table, unsupported: &mut Vec<String>) -> anyhow::Result<Option<RuleSpec>> {
    let id = rule
        .get("id")
        .and_then(string)
        .context("a [[rules]] entry has no `id`")?;
    let mut skip = |why: &str| {
        unsupported.push(format!("rule {id:?} skipped: {why}"));
        Ok(None)
    };
    let Some(regex) = rule.get("regex").and_then(string) else {
        return skip("no `regex` (path-only rules are not supported)");
    };
    let keywords = strings(rule.get("keywords"));
    if keywords.is_empty() {
        return skip("no `keywords`: keysweep needs a literal to find candidates fast");
    }
    let group = rule
        .get("secretGroup")
        .and_then(Value::as_integer)
        .unwrap_or(0);
    let Ok(group) = usize::try_from(group) else {
        return skip("`secretGroup` is negative");
    };
    let named = match group {
        0 => Some(regex.clone()),
        n => name_secret_group(&regex, n),
    };
    // A regex that does not parse has no groups either: its compile error is the reason given.
    if let Err(e) = rules::build_regex(named.as_deref().unwrap_or(&regex)) {
        let first = e.to_string().lines().last().unwrap_or_default().to_string();
        return skip(&format!("its regex does not compile here: {first}"));
    }
    let Some(regex) = named else {
        return skip(&format!(
            "`secretGroup` {group} is not a group of its regex"
        ));
    };
    let mut spec = RuleSpec {
        description: rule
            .get("description")
            .and_then(string)
            .unwrap_or_else(|| id.clone()),
        id: id.clone(),
        regex,
        keywords,
        min_entropy: rule.get("entropy").and_then(number),
        severity: Severity::default(),
        // Not stated by a gitleaks rule; `rules check` asks for one on conversion.
        confidence: None,
        revocable: false,
        checksum: None,
        window: None,
        supersedes: Vec::new(),
        references: Vec::new(),
        examples: Vec::new(),
        negative_examples: Vec::new(),
        allowlist: None,
    };
    for (key, value) in rule {
        match key.as_str() {
            "id" | "description" | "regex" | "keywords" | "secretGroup" | "entropy" => {}
            "allowlist" | "allowlists" => rule_allowlists(&mut spec, value, unsupported),
            "path" => unsupported.push(format!(
                "rule {id:?}: `path` is ignored: the rule applies to every file (restrict \
                 paths with [allowlist] paths in keysweep.toml)"
            )),
            other => unsupported.push(format!("rule {id:?}: `{other}` is ignored")),
        }
    }
    Ok(Some(spec))
}

fn number(v: &Value) -> Option<f64> {
    v.as_float().or_else(|| v.as_integer().map(|i| i as f64))
}

/// The regex with capture group `n` (counting from 1, as gitleaks does) named `secret`.
pub fn name_secret_group(regex: &str, n: usize) -> Option<String> {
    let (whole, body) = rules::pattern::capture_group(regex, u32::try_from(n).ok()?)?;
    Some(format!(
        "{}(?P<secret>{}",
        &regex[..whole.start],
        &regex[body.start..]
    ))
}

/// An allowlist as gitleaks writes it, sorted into what keysweep can apply.
#[derive(Debug, Default, Clone)]
struct Allow {
    secret_regexes: Vec<String>,
    match_regexes: Vec<String>,
    stopwords: Vec<String>,
}

/// Reads one allowlist table; `whose` names it in the unsupported list.
fn read_allow(table: &Table, whose: &str, unsupported: &mut Vec<String>) -> Allow {
    let mut allow = Allow::default();
    let target = table
        .get("regexTarget")
        .and_then(Value::as_str)
        .unwrap_or("secret");
    for (key, value) in table {
        match key.as_str() {
            "regexes" => match target {
                "secret" => allow.secret_regexes.extend(strings(Some(value))),
                "match" => allow.match_regexes.extend(strings(Some(value))),
                other => unsupported.push(format!(
                    "{whose}: regexes with regexTarget {other:?} are ignored (keysweep allowlists \
                     match the secret or the whole match)"
                )),
            },
            "stopwords" => allow.stopwords.extend(strings(Some(value))),
            "regexTarget" | "description" | "targetRules" => {}
            "paths" => unsupported.push(format!(
                "{whose}: `paths` is ignored (put path globs under [allowlist] paths in \
                 keysweep.toml)"
            )),
            other => unsupported.push(format!("{whose}: `{other}` is ignored")),
        }
    }
    allow
}

/// Tables of an `allowlist` (one table) or `allowlists` (an array of tables) value.
fn tables(value: &Value) -> Vec<&Table> {
    match value {
        Value::Table(t) => vec![t],
        Value::Array(a) => a.iter().filter_map(Value::as_table).collect(),
        _ => Vec::new(),
    }
}

fn rule_allowlists(spec: &mut RuleSpec, value: &Value, unsupported: &mut Vec<String>) {
    let whose = format!("rule {:?} allowlist", spec.id);
    for table in tables(value) {
        let allow = read_allow(table, &whose, unsupported);
        add_allow(spec, &allow);
    }
}

fn add_allow(spec: &mut RuleSpec, allow: &Allow) {
    if allow.secret_regexes.is_empty()
        && allow.match_regexes.is_empty()
        && allow.stopwords.is_empty()
    {
        return;
    }
    let a = spec.allowlist.get_or_insert_with(AllowlistSpec::default);
    a.regexes.extend(allow.secret_regexes.iter().cloned());
    a.match_regexes.extend(allow.match_regexes.iter().cloned());
    a.stopwords.extend(allow.stopwords.iter().cloned());
}

/// The global allowlists apply to every imported rule (or to those `targetRules` names).
fn global_allow(table: &Table) -> Vec<(Vec<String>, Allow)> {
    let mut ignored = Vec::new();
    let lists = ["allowlist", "allowlists"].into_iter();
    let lists = lists.filter_map(|k| table.get(k)).flat_map(tables);
    lists
        .map(|t| {
            let targets = strings(t.get("targetRules"));
            (targets, read_allow(t, "", &mut ignored))
        })
        .collect()
}

fn global_allowlists(value: &Value, out: &mut Import) {
    for table in tables(value) {
        read_allow(table, "global allowlist", &mut out.unsupported);
    }
}

fn merge_allow(spec: &mut RuleSpec, global: &[(Vec<String>, Allow)]) {
    for (targets, allow) in global {
        if targets.is_empty() || targets.contains(&spec.id) {
            add_allow(spec, allow);
        }
    }
}

/// A `targetRules` id that names no rule of the file is an error with the nearest id: the
/// allowlist would otherwise silently apply to nothing.
fn check_target_rules(table: &Table) -> anyhow::Result<()> {
    let ids: Vec<String> = strings_of_rules(table);
    for (targets, _) in global_allow(table) {
        for t in targets {
            if !ids.contains(&t) {
                anyhow::bail!(
                    "allowlist targetRules names an unknown rule {t:?}{}",
                    crate::messages::did_you_mean(&t, &ids)
                );
            }
        }
    }
    Ok(())
}

fn strings_of_rules(table: &Table) -> Vec<String> {
    let rules = table.get("rules").and_then(Value::as_array);
    let rules = rules.into_iter().flatten().filter_map(Value::as_table);
    rules.filter_map(|r| r.get("id").and_then(string)).collect()
}

/// A keysweep rule file (`[[rule]]` tables, `docs/rules.md`) holding `rules`.
pub fn to_keysweep_toml(rules: &[RuleSpec]) -> anyhow::Result<String> {
    #[derive(Serialize)]
    struct File<'a> {
        rule: Vec<Out<'a>>,
    }
    #[derive(Serialize)]
    struct Out<'a> {
        id: &'a str,
        description: &'a str,
        regex: &'a str,
        keywords: &'a [String],
        #[serde(skip_serializing_if = "Option::is_none")]
        min_entropy: Option<f64>,
        severity: Severity,
        #[serde(skip_serializing_if = "Option::is_none")]
        allowlist: Option<OutAllow<'a>>,
    }
    #[derive(Serialize)]
    struct OutAllow<'a> {
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        regexes: &'a [String],
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        stopwords: &'a [String],
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        match_regexes: &'a [String],
    }
    let rule = rules
        .iter()
        .map(|r| Out {
            id: &r.id,
            description: &r.description,
            regex: &r.regex,
            keywords: &r.keywords,
            min_entropy: r.min_entropy,
            severity: r.severity,
            allowlist: r.allowlist.as_ref().map(|a| OutAllow {
                regexes: &a.regexes,
                stopwords: &a.stopwords,
                match_regexes: &a.match_regexes,
            }),
        })
        .collect();
    let body = toml::to_string(&File { rule })?;
    Ok(format!(
        "# Converted from a gitleaks-style configuration by `keysweep rules convert`.\n\
         # Add `examples` to each rule and run `keysweep rules check`.\n\n{body}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_group_is_named_whatever_groups_precede_it() {
        assert_eq!(
            name_secret_group(r"(?i)(a)(?:b)[(](c)", 2).as_deref(),
            Some(r"(?i)(a)(?:b)[(](?P<secret>c)")
        );
        assert_eq!(
            name_secret_group(r"\((?P<x>k)", 1).as_deref(),
            Some(r"\((?P<secret>k)")
        );
        assert_eq!(name_secret_group(r"(a)", 2), None);
    }

    #[test]
    fn unknown_target_rules_are_errors_with_a_suggestion() {
        let table: Table = toml::from_str(
            "[[rules]]\nid = 'acme-token'\nregex = 'at_[0-9]+'\nkeywords = ['at_']\n\
             [[allowlists]]\ntargetRules = ['acme-tokn']\nstopwords = ['x']\n",
        )
        .unwrap();
        let err = import(&table).unwrap_err().to_string();
        assert_eq!(
            err,
            "allowlist targetRules names an unknown rule \"acme-tokn\"; did you mean \
             \"acme-token\"?"
        );
    }
}
