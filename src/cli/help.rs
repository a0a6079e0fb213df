//! What `--help` and `--version` say beyond the flags: each command's examples, the real
//! default of `-j`, and the build (commit, prefilter backend) a bug report needs.

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches};

use super::Cli;

pub const TOP: &str = "\
Examples:
  keysweep dir                       scan the current directory
  keysweep git --format sarif -o keysweep.sarif
  keysweep github org acme --shard 1/4 --format jsonl -o shard1.jsonl
  keysweep completions bash > /etc/bash_completion.d/keysweep

Exit status: 0 no findings, 1 findings, 2 error or incomplete scan.";

pub const DIR: &str = "\
Examples:
  keysweep dir                       the current directory (keysweep.toml and keysweep.baseline
                                     in it apply)
  keysweep dir src config/.env --format jsonl -o findings.jsonl
  keysweep dir . --no-ignore --baseline accepted.baseline";

pub const STDIN: &str = "\
Examples:
  kubectl get secret app -o yaml | keysweep -
  curl -s https://example.com/app.js | keysweep stdin --format json";

pub const GIT: &str = "\
Examples:
  keysweep git                       every blob of the repository's history, once
  keysweep git --range origin/main..HEAD
  keysweep git /srv/mirror.git --state .keysweep/git.state --format jsonl";

pub const STAGED: &str = "\
Examples:
  keysweep staged                    what `git commit` would add
  keysweep staged --baseline keysweep.baseline";

pub const INSTALL_HOOK: &str = "\
Examples:
  keysweep install-hook
  keysweep install-hook --force -- --baseline keysweep.baseline";

pub const CI: &str = "\
Examples:
  keysweep ci                        in a GitHub Actions step
  keysweep ci --mode full --sarif keysweep.sarif";

pub const RULES: &str = "\
Examples:
  keysweep rules list --format json
  keysweep rules check my-rules/
  keysweep rules convert .gitleaks.toml -o keysweep-rules.toml
  keysweep rules export --github-partner > partner-token-types.json";

pub const BASELINE: &str = "\
Examples:
  keysweep baseline create .         accept every current finding (writes keysweep.baseline)
  keysweep baseline create --from findings.jsonl -o accepted.baseline";

pub const REVOKE: &str = "\
Examples:
  keysweep revoke --print-egress
  keysweep revoke --from findings.jsonl --dry-run
  KEYSWEEP_REVOKE_TOKEN=... keysweep revoke --from findings.jsonl";

pub const GITHUB: &str = "\
Examples:
  keysweep github org acme --format jsonl -o acme.jsonl
  keysweep github repo acme/api --revoke
  keysweep github events --org acme --watch";

pub const GITHUB_ORG: &str = "\
Examples:
  keysweep github org acme --format jsonl -o acme.jsonl
  keysweep github org acme --shard 2/4 --exclude '*-archive' --format jsonl -o shard2.jsonl
  GITHUB_TOKEN=... keysweep github org acme --visibility private --revoke";

pub const GITHUB_USER: &str = "\
Examples:
  keysweep github user octocat --include-forks";

pub const GITHUB_REPO: &str = "\
Examples:
  keysweep github repo acme/api
  keysweep github repo acme/api --fetch-all --format sarif -o api.sarif";

pub const GITHUB_EVENTS: &str = "\
Examples:
  keysweep github events --org acme --watch --revoke
  keysweep github events --repo acme/api --format jsonl";

pub const REPORT: &str = "\
Examples:
  keysweep report merge shard*.jsonl -o all.jsonl
  keysweep report merge shard*.sarif --format sarif -o all.sarif";

pub const SERVE: &str = "\
Examples:
  keysweep serve --listen 0.0.0.0:8080 --revoke
  keysweep serve --listen 127.0.0.1:0 --revoke --dry-run";

pub const COMPLETIONS: &str = "\
Examples:
  keysweep completions bash > ~/.local/share/bash-completion/completions/keysweep
  keysweep completions zsh > ~/.zfunc/_keysweep
  keysweep completions fish > ~/.config/fish/completions/keysweep.fish";

pub const MAN: &str = "\
Examples:
  keysweep man | man -l -
  keysweep man --dir share/man/man1  one page per command (keysweep.1, keysweep-dir.1, …)";

/// `-j`'s help, with the number of CPUs of this machine as its default.
pub fn threads() -> String {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "Scanning threads [default: {cpus}, the number of CPUs; a GitHub sweep shares them among \
         the repositories it sweeps at once]"
    )
}

/// The commit keysweep was built from (`build.rs`), or `unknown` outside a git checkout.
pub const COMMIT: &str = env!("KEYSWEEP_COMMIT");

/// `0.1.0 (commit 1a2b3c4d5e6f, prefilter avx512)`: the prefilter backend is the one this
/// machine uses for the built-in rules, since it decides how fast a scan runs here.
pub fn version() -> String {
    let backend = crate::rules::RuleSet::builtin()
        .map(|rules| crate::matcher::prefilter::Prefilter::new(&rules.keywords()))
        .map_or("unknown", |p| p.backend().name());
    format!(
        "{} (commit {COMMIT}, prefilter {backend})",
        env!("CARGO_PKG_VERSION")
    )
}

/// The clap command with [`version`] as its version.
pub fn versioned() -> clap::Command {
    // Leaked once per process: clap takes a `&'static str` without its `string` feature.
    Cli::command().version(&*Box::leak(version().into_boxed_str()))
}

/// Parses a command line, exiting as clap does on `--help` or an error. The prefilter is
/// built for `--version` only: other runs should not pay for it.
pub fn parse(args: Vec<OsString>) -> Cli {
    let wants_version = args.iter().skip(1).any(|a| a == "--version" || a == "-V");
    let command = match wants_version {
        true => versioned(),
        false => Cli::command(),
    };
    let matches = command.get_matches_from(args);
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}
