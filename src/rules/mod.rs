//! Rules as data: the TOML syntax, compilation into a [`RuleSet`], and the built-in pack.
//!
//! The format is documented for users in `docs/rules.md`; keep the two in step.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use std::sync::OnceLock;

use regex::bytes::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

pub mod checksum;
pub mod lint;
pub mod pattern;

pub use checksum::Checksum;

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// Bytes searched on each side of a keyword hit when a rule does not say.
pub const DEFAULT_WINDOW: usize = 1024;

/// Why a rule set could not be built. Callers branch on it only to pick the message; the variants
/// keep file and rule names so a user can find the culprit among many files.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("cannot read rule file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("rule file {file}: {message}")]
    Parse { file: String, message: String },
    #[error("rule {id} ({file}): {message}")]
    Invalid {
        id: String,
        file: String,
        message: String,
    },
    #[error("rule id {id} is defined twice ({first} and {second})")]
    Duplicate {
        id: String,
        first: String,
        second: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    #[default]
    High,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        })
    }
}

/// How sure a match of the rule is to be a live secret: `high` for a distinctive prefix or a
/// checksum, `medium` for a short prefix or a keyword-anchored blob, `low` for generic shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        })
    }
}

/// A file of rules, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleSpec>,
}

/// One rule, as written. See `docs/rules.md`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    pub description: String,
    pub regex: String,
    pub keywords: Vec<String>,
    #[serde(default)]
    pub min_entropy: Option<f64>,
    #[serde(default)]
    pub severity: Severity,
    /// Optional for user rules (treated as medium); `rules check` requires it.
    #[serde(default)]
    pub confidence: Option<Confidence>,
    #[serde(default)]
    pub revocable: bool,
    #[serde(default)]
    pub checksum: Option<Checksum>,
    #[serde(default)]
    pub window: Option<usize>,
    #[serde(default)]
    pub supersedes: Vec<String>,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    pub examples: Vec<String>,
    #[serde(default)]
    pub negative_examples: Vec<String>,
    #[serde(default)]
    pub allowlist: Option<AllowlistSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistSpec {
    #[serde(default)]
    pub regexes: Vec<String>,
    #[serde(default)]
    pub stopwords: Vec<String>,
    /// Regexes over the whole match, for context around the secret (a URL's host).
    #[serde(default)]
    pub match_regexes: Vec<String>,
}

/// A compiled rule. Indices into the owning [`RuleSet`] identify rules on hot paths.
#[derive(Debug)]
pub struct Rule {
    pub spec: RuleSpec,
    /// Which file the rule came from (`builtin:aws.toml` or a path), for messages.
    pub origin: String,
    /// The regex and its groups, and the allowlist's regexes. Built-in rules compile on first
    /// use: a scan meets few of the pack's rules, and compiling all 160 regexes up front took
    /// 12 ms of every run (a pre-commit hook's whole budget); the allowlists' regexes, compiled
    /// at load, were still a fifth of the startup with 456 rules (24 of 120 million
    /// instructions, `valgrind --tool=callgrind`). Their compilation is tested; user rules
    /// compile at load, so a bad one fails before the scan.
    compiled: OnceLock<Compiled>,
    pub window: usize,
    pub allow_stopwords: Vec<Vec<u8>>,
    /// Indices of the rules this one supersedes.
    pub supersedes: Vec<usize>,
    /// Literal prefixes a secret of this rule may start with: its keywords, and for a
    /// composite rule (a pair) also the keywords of the rules it supersedes, since its secret
    /// is one of their secrets.
    pub prefixes: Vec<String>,
}

#[derive(Debug)]
struct Compiled {
    regex: Regex,
    secret_group: usize,
    key_id_group: Option<usize>,
    allow_regexes: Vec<Regex>,
    allow_match_regexes: Vec<Regex>,
}

impl Compiled {
    /// Fails with what did not compile and why (`allowlist regex: …`).
    fn new(spec: &RuleSpec) -> Result<Compiled, String> {
        let all = |what: &str, patterns: &[String]| {
            patterns
                .iter()
                .map(|r| build_regex(r).map_err(|e| format!("{what}: {e}")))
                .collect::<Result<Vec<_>, _>>()
        };
        let regex = build_regex(&spec.regex).map_err(|e| format!("regex: {e}"))?;
        let allow = spec.allowlist.as_ref();
        let allow_regexes = all("allowlist regex", allow.map_or(&[], |a| &a.regexes))?;
        let allow_match_regexes = all(
            "allowlist match regex",
            allow.map_or(&[], |a| &a.match_regexes),
        )?;
        let secret_group = match regex.capture_names().position(|n| n == Some("secret")) {
            Some(i) => i,
            None if regex.captures_len() > 1 => 1,
            None => 0,
        };
        let key_id_group = regex.capture_names().position(|n| n == Some("key_id"));
        Ok(Compiled {
            regex,
            secret_group,
            key_id_group,
            allow_regexes,
            allow_match_regexes,
        })
    }
}

impl Rule {
    pub fn id(&self) -> &str {
        &self.spec.id
    }

    fn compiled(&self) -> &Compiled {
        self.compiled.get_or_init(|| {
            Compiled::new(&self.spec)
                .expect("built-in rule regexes compile (every rule's examples are tested)")
        })
    }

    /// Compiles the regexes now if they are not yet: how `rules check` reports a built-in rule
    /// whose regex does not compile instead of failing on first use.
    pub fn compile_now(&self) -> Result<(), String> {
        if self.compiled.get().is_none() {
            let _ = self.compiled.set(Compiled::new(&self.spec)?);
        }
        Ok(())
    }

    pub fn regex(&self) -> &Regex {
        &self.compiled().regex
    }

    /// The allowlist's regexes over the secret.
    pub fn allow_regexes(&self) -> &[Regex] {
        &self.compiled().allow_regexes
    }

    /// The allowlist's regexes over the whole match.
    pub fn allow_match_regexes(&self) -> &[Regex] {
        &self.compiled().allow_match_regexes
    }

    /// The capture group of the secret: `secret` if named, else the first group, else the match.
    pub fn secret_group(&self) -> usize {
        self.compiled().secret_group
    }

    /// The capture group of the public key id paired with the secret, if the rule has one.
    pub fn key_id_group(&self) -> Option<usize> {
        self.compiled().key_id_group
    }

    /// The literal prefix that opens the secret (`sk_live_`, `msk_`), if the secret starts with
    /// one of the rule's keywords. Reports keep it visible and revocation sends it, because a
    /// prefix names the key type without revealing anything of the random part.
    pub fn prefix_of<'s>(&self, secret: &'s [u8]) -> Option<&'s [u8]> {
        self.prefixes
            .iter()
            .filter(|k| {
                secret.len() > k.len() && secret[..k.len()].eq_ignore_ascii_case(k.as_bytes())
            })
            .map(|k| &secret[..k.len()])
            .max_by_key(|p| p.len())
    }
}

/// Every rule in force for a scan, compiled, with unique ids.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

/// How built-in rules' origins begin (`builtin:aws.toml`).
const BUILTIN_ORIGIN: &str = "builtin:";

/// Where a rule set comes from: the built-in pack, extra files and directories, inline rules
/// from a config file, minus disabled ids.
#[derive(Debug, Default, Clone)]
pub struct RuleSources {
    pub builtin: bool,
    pub paths: Vec<PathBuf>,
    pub inline: Vec<(String, RuleSpec)>,
    pub disabled: Vec<String>,
}

impl RuleSet {
    /// The built-in pack alone.
    pub fn builtin() -> Result<Self, RuleError> {
        Self::load(&RuleSources {
            builtin: true,
            ..Default::default()
        })
    }

    pub fn load(sources: &RuleSources) -> Result<Self, RuleError> {
        let mut specs = Vec::new();
        if sources.builtin {
            specs = builtin_specs()?;
        }
        for path in &sources.paths {
            specs.extend(read_rule_path(path)?);
        }
        specs.extend(sources.inline.iter().cloned());
        let disabled: HashSet<&str> = sources.disabled.iter().map(String::as_str).collect();
        specs.retain(|(_, s)| !disabled.contains(s.id.as_str()));
        Self::compile(specs)
    }

    /// Compiles specs (each with the name of its file) into a set; fails on the first bad rule.
    /// `rules check` uses [`compile_rule`] directly to collect every failure instead.
    pub fn compile(specs: Vec<(String, RuleSpec)>) -> Result<Self, RuleError> {
        let mut seen: std::collections::HashMap<String, String> = Default::default();
        for (origin, spec) in &specs {
            if let Some(first) = seen.insert(spec.id.clone(), origin.clone()) {
                return Err(RuleError::Duplicate {
                    id: spec.id.clone(),
                    first,
                    second: origin.clone(),
                });
            }
        }
        let ids: Vec<String> = specs.iter().map(|(_, s)| s.id.clone()).collect();
        let mut rules = specs
            .into_iter()
            .map(|(origin, spec)| compile_rule(origin, spec, &ids))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..rules.len() {
            let inherited: Vec<String> = rules[i]
                .supersedes
                .iter()
                .flat_map(|&j| rules[j].spec.keywords.clone())
                .collect();
            rules[i].prefixes.extend(inherited);
        }
        Ok(RuleSet { rules })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn get(&self, index: usize) -> &Rule {
        &self.rules[index]
    }

    /// Every rule's keywords, lowercased (matching is ASCII case-insensitive), sorted, once each.
    pub fn keywords(&self) -> Vec<String> {
        let mut keywords: Vec<String> = self
            .rules
            .iter()
            .flat_map(|r| r.spec.keywords.iter().map(|k| k.to_ascii_lowercase()))
            .collect();
        keywords.sort();
        keywords.dedup();
        keywords
    }

    /// Identifies what a scan with these rules would find in a blob: keysweep's version (a new
    /// version may find more in the same bytes) and every rule in force. Incremental state
    /// (git `--state`, GitHub sweep records) is valid only under the same digest.
    pub fn digest(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        for rule in &self.rules {
            h.update([0]);
            h.update(format!("{:?}", rule.spec).as_bytes());
        }
        h.finalize().into()
    }

    pub fn find(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id() == id)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// The built-in pack's rules, each with the name of its file (`builtin:aws.toml`), in the
/// order of the files.
///
/// Parsing the pack's 500 KB of TOML was 40% of a run's startup (48 of 120 million
/// instructions, callgrind), so the files after the first half of the bytes are parsed on a
/// second thread: with two cores, a run over one file took 21.2 ms instead of 27.3 (medians).
pub fn builtin_specs() -> Result<Vec<(String, RuleSpec)>, RuleError> {
    let parse = |files: &[(&str, &str)]| -> Result<Vec<_>, RuleError> {
        let mut specs = Vec::new();
        for (name, text) in files {
            specs.extend(parse_file(&format!("{BUILTIN_ORIGIN}{name}"), text)?);
        }
        Ok(specs)
    };
    let total: usize = BUILTIN_RULE_FILES.iter().map(|(_, t)| t.len()).sum();
    let mut bytes = 0;
    let half = BUILTIN_RULE_FILES
        .iter()
        .position(|(_, t)| {
            bytes += t.len();
            bytes * 2 >= total
        })
        .map_or(0, |i| i + 1);
    let (first, second) = BUILTIN_RULE_FILES.split_at(half);
    std::thread::scope(|s| {
        let other = s.spawn(|| parse(second));
        let mut specs = parse(first)?;
        specs.extend(other.join().expect("parsing a rule file does not panic")?);
        Ok(specs)
    })
}

/// Parses one rule file's text; `origin` names it in errors.
pub fn parse_file(origin: &str, text: &str) -> Result<Vec<(String, RuleSpec)>, RuleError> {
    let file: RuleFile = toml::from_str(text).map_err(|e| RuleError::Parse {
        file: origin.to_string(),
        message: e.to_string(),
    })?;
    Ok(file
        .rules
        .into_iter()
        .map(|r| (origin.to_string(), r))
        .collect())
}

/// Reads a rule file, or every `*.toml` in a directory (sorted, so load order is stable).
pub fn read_rule_path(path: &Path) -> Result<Vec<(String, RuleSpec)>, RuleError> {
    let read_err = |source| RuleError::Read {
        path: path.to_path_buf(),
        source,
    };
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(read_err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut specs = Vec::new();
    for file in files {
        let text = crate::control::read_to_string(&file, crate::control::CONTROL_FILE_MAX)
            .map_err(|source| RuleError::Read {
                path: file.clone(),
                source,
            })?;
        specs.extend(parse_file(&file.display().to_string(), &text)?);
    }
    Ok(specs)
}

/// Compiles one rule. `all_ids` resolves `supersedes` to indices (the order of `all_ids`).
pub fn compile_rule(origin: String, spec: RuleSpec, all_ids: &[String]) -> Result<Rule, RuleError> {
    let invalid = |message: String| RuleError::Invalid {
        id: spec.id.clone(),
        file: origin.clone(),
        message,
    };
    if spec.keywords.is_empty() || spec.keywords.iter().any(|k| k.is_empty()) {
        return Err(invalid(
            "keywords must list at least one non-empty literal".into(),
        ));
    }
    let compiled = OnceLock::new();
    if !origin.starts_with(BUILTIN_ORIGIN) {
        bounded_repetitions(&spec.regex).map_err(|e| invalid(format!("regex: {e}")))?;
        compiled
            .set(Compiled::new(&spec).map_err(invalid)?)
            .expect("a new cell is empty");
    }
    let allow_stopwords = spec.allowlist.as_ref().map_or(Vec::new(), |allow| {
        allow
            .stopwords
            .iter()
            .map(|w| w.to_ascii_lowercase().into_bytes())
            .collect()
    });
    // A superseded rule that is not loaded (disabled in config) has nothing to supersede;
    // misspelt ids are caught by `rules check`, which sees every rule file whole.
    let supersedes = spec
        .supersedes
        .iter()
        .filter_map(|id| all_ids.iter().position(|x| x == id))
        .collect();
    if let Some(e) = spec.min_entropy {
        if !(0.0..=8.0).contains(&e) {
            return Err(invalid(format!("min_entropy {e} is outside 0..=8 bits")));
        }
    }
    Ok(Rule {
        window: spec.window.unwrap_or(DEFAULT_WINDOW),
        prefixes: spec.keywords.clone(),
        spec,
        origin,
        compiled,
        allow_stopwords,
        supersedes,
    })
}

/// The largest counted repetition one rule may use, and the most all of them may add up to. A
/// user rule like `[a-z]{1,65535}[0-9]{1,65535}` stays under the regex size limit but is
/// beyond what the lazy DFA can cache, so every window falls back to a slow engine: minutes
/// on 100 KB. Keys are at most a few KiB (the longest built-in bound is 2000).
const MAX_REPEAT: u64 = 4096;
const MAX_REPEAT_SUM: u64 = 16_384;

/// Refuses counted repetitions (`{n}`, `{n,}`, `{n,m}`) beyond [`MAX_REPEAT`] or adding up to
/// more than [`MAX_REPEAT_SUM`]; escapes and character classes are skipped.
fn bounded_repetitions(pattern: &str) -> Result<(), String> {
    let b = pattern.as_bytes();
    let (mut i, mut sum) = (0, 0u64);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'[' => i = class_end(b, i),
            b'{' => {
                let end = b[i..].iter().position(|&c| c == b'}').map(|e| i + e);
                let counts = end.map(|e| &pattern[i + 1..e]).filter(|c| {
                    !c.is_empty() && c.bytes().all(|x| x.is_ascii_digit() || x == b',')
                });
                if let (Some(end), Some(counts)) = (end, counts) {
                    let n = counts
                        .split(',')
                        .filter_map(|x| x.parse::<u64>().ok())
                        .max()
                        .unwrap_or(0);
                    if n > MAX_REPEAT {
                        return Err(format!(
                            "counted repetition {{{counts}}} is over {MAX_REPEAT}: no key is that \
                             long, and such a rule makes every scan crawl; bound it"
                        ));
                    }
                    sum += n;
                    i = end;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    if sum > MAX_REPEAT_SUM {
        return Err(format!(
            "counted repetitions add up to {sum}, over {MAX_REPEAT_SUM}: bound them"
        ));
    }
    Ok(())
}

/// The index after the character class opening at `start` (`[]a]` and `[^]a]` hold a `]`).
fn class_end(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    if b.get(i) == Some(&b'^') {
        i += 1;
    }
    if b.get(i) == Some(&b']') {
        i += 1;
    }
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'[' if b.get(i + 1) == Some(&b':') => i += 2,
            b']' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// ASCII semantics: inputs are bytes of any encoding, and Unicode classes would make every
/// `\w` and `\b` many times slower for no gain on key formats, which are ASCII.
pub fn build_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(32 << 20)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: &str, regex: &str) -> (String, RuleSpec) {
        let text = format!(
            "[[rule]]\nid = {id:?}\ndescription = \"d\"\nregex = '''{regex}'''\nkeywords = [\"k_\"]\n"
        );
        parse_file("t", &text).unwrap().remove(0)
    }

    /// The message loading `specs` fails with.
    fn load_error(specs: Vec<(String, RuleSpec)>) -> String {
        RuleSet::compile(specs).unwrap_err().to_string()
    }

    #[test]
    fn huge_counted_repetitions_are_refused_at_load() {
        let err = load_error(vec![spec("a", r"k_[a-z]{1,65535}[0-9]{1,65535}")]);
        assert!(
            err.contains("counted repetition {1,65535} is over 4096"),
            "{err}"
        );
        let err = RuleSet::compile(vec![spec(
            "a",
            r"k_[a-z]{4000}[0-9]{4000}[a-z]{4000}[0-9]{4000}[a-z]{4000}",
        )])
        .unwrap_err()
        .to_string();
        assert!(err.contains("add up to 20000, over"), "{err}");
        assert!(
            RuleSet::compile(vec![spec("a", r"k_[{]{9999}x[a-z\]{]{20,2000}")])
                .unwrap_err()
                .to_string()
                .contains("{9999}")
        );
        assert!(RuleSet::compile(vec![spec("a", r"k_[a-z{99999}]{20,2000}\{99999}")]).is_ok());
    }

    #[test]
    fn a_user_rule_with_a_bad_allowlist_regex_fails_at_load_a_built_in_one_in_rules_check() {
        let with_allowlist = |origin: &str, allow: &str| {
            let (_, mut s) = spec("a", "k_[a-z]+");
            s.allowlist = Some(AllowlistSpec {
                regexes: vec![allow.into()],
                stopwords: vec![],
                match_regexes: vec![],
            });
            (origin.to_string(), s)
        };
        let err = load_error(vec![with_allowlist("user.toml", "(unclosed")]);
        assert!(
            err.starts_with("rule a (user.toml): allowlist regex: regex parse error"),
            "{err}"
        );
        // Built-in rules compile their regexes on first use; `rules check` compiles them now.
        let set = RuleSet::compile(vec![with_allowlist(
            &format!("{BUILTIN_ORIGIN}x.toml"),
            "(x",
        )])
        .unwrap();
        let err = set.get(0).compile_now().unwrap_err();
        assert!(
            err.starts_with("allowlist regex: regex parse error"),
            "{err}"
        );
        let set = RuleSet::compile(vec![with_allowlist("user.toml", "^k_example")]).unwrap();
        assert!(set.get(0).allow_regexes()[0].is_match(b"k_example"));
    }

    #[test]
    fn secret_group_prefers_name_then_first_capture() {
        let named = RuleSet::compile(vec![spec("a", r"(x)(?P<secret>k_\w+)")]).unwrap();
        assert_eq!(named.get(0).secret_group(), 2);
        let first = RuleSet::compile(vec![spec("a", r"(k_\w+)")]).unwrap();
        assert_eq!(first.get(0).secret_group(), 1);
        let whole = RuleSet::compile(vec![spec("a", r"k_\w+")]).unwrap();
        assert_eq!(whole.get(0).secret_group(), 0);
    }

    #[test]
    fn duplicate_ids_and_unknown_fields_are_errors() {
        let err = RuleSet::compile(vec![spec("a", "k_"), spec("a", "k_")]).unwrap_err();
        assert!(matches!(err, RuleError::Duplicate { .. }), "{err}");
        let err = parse_file(
            "t",
            "[[rule]]\nid='a'\ndescription='d'\nregex='k'\nkeywords=['k']\nbogus=1\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }

    #[test]
    fn superseding_an_unloaded_rule_is_harmless_and_pairs_inherit_prefixes() {
        let (o, mut pair) = spec("pair", "k_");
        pair.supersedes = vec!["secret".into(), "disabled".into()];
        let (o2, mut part) = spec("secret", "k_");
        part.keywords = vec!["msk_".into()];
        let set = RuleSet::compile(vec![(o, pair), (o2, part)]).unwrap();
        assert_eq!(set.get(0).supersedes, vec![1]);
        assert_eq!(set.get(0).prefix_of(b"msk_abc"), Some(&b"msk_"[..]));
    }

    #[test]
    fn prefix_is_the_longest_leading_keyword() {
        let (o, mut s) = spec("a", "k_");
        s.keywords = vec!["sk_".into(), "sk_live_".into()];
        let set = RuleSet::compile(vec![(o, s)]).unwrap();
        assert_eq!(set.get(0).prefix_of(b"sk_live_abc"), Some(&b"sk_live_"[..]));
        assert_eq!(set.get(0).prefix_of(b"zz"), None);
    }
}
