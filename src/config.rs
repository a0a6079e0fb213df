//! `keysweep.toml`: found in the scanned root, or named with `--config FILE`; merged with flags.
//!
//! ```toml
//! baseline = "keysweep.baseline"     # fingerprints to hide
//! [rules]
//! builtin = true                     # the embedded pack (default true)
//! paths = ["ci/rules"]               # more rule files or directories, relative to this file
//! disable = ["keyservice.publishable"]
//! [allowlist]
//! paths = ["fixtures/**"]            # globs over reported paths
//! regexes = ['''^sk_test_''']        # over secrets
//! stopwords = ["fake"]
//! [[rule]]                           # inline rules, same syntax as rules/*.toml
//! [revoke]                           # see docs/revocation.md
//! endpoint = "https://keys.example.com/v1/revocations"
//! [archives]                         # limits for archives and encoded values, see
//! max_total_size = 1073741824        #   docs/archives.md
//! [serve]                            # `keysweep serve`, see docs/serve.md
//! webhook_secret_env = "KEYSWEEP_WEBHOOK_SECRET"
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::messages::Messages;
use crate::revoke::{self, RevokeConfig};
use crate::rules::{self, RuleSet, RuleSources, RuleSpec};
use crate::suppress::{AllowlistConfig, BASELINE_FILE_NAME};

pub const FILE_NAME: &str = "keysweep.toml";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub baseline: Option<PathBuf>,
    #[serde(default)]
    pub rules: RulesConfig,
    #[serde(default)]
    pub allowlist: AllowlistConfig,
    #[serde(default, rename = "rule")]
    pub inline_rules: Vec<RuleSpec>,
    #[serde(default)]
    pub revoke: Option<RevokeConfig>,
    #[serde(default)]
    pub serve: ServeConfig,
    /// `[notify]`: see `serve::notify`.
    #[serde(default)]
    pub notify: Option<NotifyConfig>,
    #[serde(default)]
    pub archives: crate::decode::Limits,
    /// Directory of the file, against which relative paths in it resolve.
    #[serde(skip)]
    pub dir: PathBuf,
    /// The file this came from, if any.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    #[serde(default = "yes")]
    pub builtin: bool,
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    #[serde(default)]
    pub disable: Vec<String>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            builtin: true,
            paths: Vec::new(),
            disable: Vec::new(),
        }
    }
}

/// The `[notify]` section of `keysweep serve` (`serve::notify`): where to post each confirmed
/// finding, and how hard to try.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    pub url_env: Option<String>,
    pub url: Option<String>,
    pub max_attempts: u32,
    pub backoff: f64,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            url_env: None,
            url: None,
            max_attempts: 4,
            backoff: 1.0,
        }
    }
}

/// The `[serve]` section: what `keysweep serve` needs beyond `[revoke]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// The environment variable holding the webhook HMAC secret. Never the secret itself: a
    /// config file is read by more people than the process environment.
    pub webhook_secret_env: String,
    /// The GitHub API: the compare API, clones, and the partner program's signing keys.
    pub github_api_url: String,
}

pub const DEFAULT_WEBHOOK_SECRET_ENV: &str = "KEYSWEEP_WEBHOOK_SECRET";

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            webhook_secret_env: DEFAULT_WEBHOOK_SECRET_ENV.to_string(),
            github_api_url: "https://api.github.com".to_string(),
        }
    }
}

fn yes() -> bool {
    true
}

impl Config {
    /// `explicit` if given (it must exist); else `keysweep.toml` in `root` if there is one;
    /// else defaults. A configuration naming no baseline takes `keysweep.baseline` from `root`
    /// when there is one, as `.gitleaksignore` is picked up: accepted findings stay accepted
    /// without a flag on every command line.
    pub fn discover(explicit: Option<&Path>, root: Option<&Path>) -> anyhow::Result<Config> {
        let root_dir = root.map(|root| {
            if root.is_dir() {
                root
            } else {
                root.parent().unwrap_or(Path::new("."))
            }
        });
        // Anything named keysweep.toml counts (a symbolic link to a device, a FIFO): it is read,
        // or refused with the reason, never silently taken for no configuration.
        let found = root_dir
            .map(|dir| dir.join(FILE_NAME))
            .filter(|candidate| candidate.symlink_metadata().is_ok());
        let mut config = match (explicit, found) {
            (Some(path), _) => Self::read(path)?,
            (None, Some(candidate)) => Self::read(&candidate)?,
            _ => Config {
                dir: PathBuf::from("."),
                ..Default::default()
            },
        };
        if let (None, Some(dir)) = (&config.baseline, root_dir) {
            let candidate = dir.join(BASELINE_FILE_NAME);
            if candidate.is_file() {
                config.baseline = Some(std::path::absolute(&candidate)?);
            }
        }
        Ok(config)
    }

    pub fn read(path: &Path) -> anyhow::Result<Config> {
        let text = crate::control::read_to_string(path, crate::control::CONTROL_FILE_MAX)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        let mut config: Config =
            toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()))?;
        config.dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        config.path = Some(path.to_path_buf());
        Ok(config)
    }

    /// The file as messages name it: its path, or the name it would have.
    pub fn file_name(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| FILE_NAME.to_string(), |p| p.display().to_string())
    }

    /// The `[revoke]` section (defaults if absent) and where it was read, as revocation takes it.
    pub fn revoke_section(&self) -> revoke::Section {
        revoke::Section {
            config: self.revoke.clone().unwrap_or_default(),
            dir: self.dir.clone(),
            file: self.file_name(),
        }
    }

    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }

    /// Where the rules come from once flags are merged in: flags add rule paths and can turn
    /// the built-in pack off, never on against the config.
    pub fn rule_sources(&self, extra: &[PathBuf], no_builtin: bool) -> RuleSources {
        let origin = self.file_name();
        RuleSources {
            builtin: self.rules.builtin && !no_builtin,
            paths: self
                .rules
                .paths
                .iter()
                .map(|p| self.resolve(p))
                .chain(extra.iter().cloned())
                .collect(),
            inline: self
                .inline_rules
                .iter()
                .map(|r| (origin.clone(), r.clone()))
                .collect(),
            disabled: self.rules.disable.clone(),
        }
    }
}

impl Config {
    /// The rule set this configuration and the flags name. Rule files in gitleaks' format are
    /// imported (what they use that keysweep cannot honour is reported as a warning); a
    /// disabled id that names no rule is an error with the nearest id, since a misspelt
    /// `disable` silently keeps the noisy rule on.
    pub fn load_rules(
        &self,
        extra: &[PathBuf],
        no_builtin: bool,
        messages: &Messages,
    ) -> anyhow::Result<RuleSet> {
        let mut sources = self.rule_sources(extra, no_builtin);
        let mut native = Vec::new();
        for path in std::mem::take(&mut sources.paths) {
            match crate::gitleaks::read_if_gitleaks(&path)? {
                Some(import) => {
                    import.warn(&path, messages);
                    let origin = path.display().to_string();
                    sources
                        .inline
                        .extend(import.rules.into_iter().map(|r| (origin.clone(), r)));
                }
                None => native.push(path),
            }
        }
        sources.paths = native;
        check_disabled(&sources, &self.file_name())?;
        Ok(RuleSet::load(&sources)?)
    }

    /// Where revocation keeps its journal: `flag`, else `[revoke] journal`, else the default
    /// beside this file. Scans skip it: it is keysweep's own record, not the user's data.
    pub fn journal(&self, flag: Option<&Path>) -> PathBuf {
        let configured = self.revoke.as_ref().and_then(|r| r.journal.as_deref());
        match (flag, configured) {
            (Some(p), _) => p.to_path_buf(),
            (None, Some(p)) => self.resolve(p),
            (None, None) => self.resolve(revoke::DEFAULT_JOURNAL.as_ref()),
        }
    }
}

/// Every id in `sources.disabled` must name a rule of the built-in pack or of the loaded
/// sources (the pack counts even when it is off: a shared config may disable a built-in rule
/// for runs that use it).
fn check_disabled(sources: &RuleSources, file: &str) -> anyhow::Result<()> {
    if sources.disabled.is_empty() {
        return Ok(());
    }
    let mut known: Vec<String> = rules::builtin_specs()?
        .into_iter()
        .map(|(_, s)| s.id)
        .collect();
    for path in &sources.paths {
        known.extend(rules::read_rule_path(path)?.into_iter().map(|(_, s)| s.id));
    }
    known.extend(sources.inline.iter().map(|(_, s)| s.id.clone()));
    for id in &sources.disabled {
        if !known.contains(id) {
            anyhow::bail!(
                "{file}: [rules] disable names an unknown rule {id:?}{}",
                crate::messages::did_you_mean(id, &known)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovered_in_root_and_paths_resolve_against_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            "baseline = 'b.txt'\n[rules]\npaths = ['r']\ndisable = ['x']\n[allowlist]\npaths = ['fixtures/**']\n",
        )
        .unwrap();
        let c = Config::discover(None, Some(dir.path())).unwrap();
        assert_eq!(
            c.resolve(c.baseline.as_ref().unwrap()),
            dir.path().join("b.txt")
        );
        let s = c.rule_sources(&[], false);
        assert_eq!(s.paths, vec![dir.path().join("r")]);
        assert!(s.builtin);
        assert_eq!(s.disabled, vec!["x".to_string()]);
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.toml");
        std::fs::write(&p, "[allowlist]\npath = ['x']\n").unwrap();
        let err = format!("{:#}", Config::read(&p).unwrap_err());
        assert!(err.contains("k.toml") && err.contains("path"), "{err}");
        std::fs::write(&p, "[revoke]\nendpiont = 'https://k.example/r'\n").unwrap();
        let err = format!("{:#}", Config::read(&p).unwrap_err());
        assert!(err.contains("k.toml") && err.contains("endpiont"), "{err}");
    }

    #[test]
    fn the_revoke_section_resolves_against_the_file_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        std::fs::write(&p, "[revoke]\nendpoint = 'https://k.example/r'\n").unwrap();
        let s = Config::read(&p).unwrap().revoke_section();
        assert_eq!(s.config.endpoint.as_deref(), Some("https://k.example/r"));
        assert_eq!(
            (s.dir.as_path(), s.file),
            (dir.path(), p.display().to_string())
        );
        let none = Config::discover(None, None).unwrap().revoke_section();
        assert_eq!(
            (none.file.as_str(), none.config.max_attempts),
            (FILE_NAME, 5)
        );
    }

    #[test]
    fn serve_section_has_defaults_and_rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        std::fs::write(&p, "[serve]\ngithub_api_url = 'http://127.0.0.1:9'\n").unwrap();
        let c = Config::read(&p).unwrap();
        assert_eq!(c.serve.github_api_url, "http://127.0.0.1:9");
        assert_eq!(c.serve.webhook_secret_env, DEFAULT_WEBHOOK_SECRET_ENV);
        std::fs::write(&p, "[serve]\nwebhook_secret = 'x'\n").unwrap();
        let err = format!("{:#}", Config::read(&p).unwrap_err());
        assert!(err.contains("webhook_secret"), "{err}");
    }
}
