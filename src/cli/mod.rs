//! Every flag, defined once with its help. No I/O here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod github;
mod help;

pub use github::{ApiArgs, EventsArgs, GithubCommand, RepoSweepArgs, SelectArgs, SweepArgs};
pub use help::{parse, version, versioned};

pub use crate::ci::Mode as CiMode;
pub use crate::github::repos::Visibility;
pub use crate::output::ColorChoice;
pub use crate::report::Format;

#[derive(Debug, Parser)]
#[command(
    name = "keysweep",
    version,
    about = "Find leaked API keys in files, git history and GitHub, and revoke them by hash",
    after_help = help::TOP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan files and directories (default: the current directory).
    #[command(after_help = help::DIR)]
    Dir(DirArgs),
    /// Scan standard input (also `keysweep -`).
    #[command(after_help = help::STDIN)]
    Stdin(ScanArgs),
    /// Scan git history: every blob of every branch, tag, remote and stash, once, and commit
    /// messages; findings name the commit that introduced them.
    #[command(after_help = help::GIT)]
    Git(GitArgs),
    /// Scan what the next commit would add (staged lines only); exit 1 blocks the commit.
    #[command(after_help = help::STAGED)]
    Staged(StagedArgs),
    /// Install a git pre-commit hook that runs `keysweep staged`.
    #[command(after_help = help::INSTALL_HOOK)]
    InstallHook(InstallHookArgs),
    /// CI: scan exactly what the triggering GitHub event added (push, pull request, merge
    /// queue; full history on schedules), deepening a shallow checkout as needed; writes SARIF,
    /// workflow annotations, the job summary and step outputs.
    #[command(after_help = help::CI)]
    Ci(CiArgs),
    /// List, check or convert detection rules.
    #[command(subcommand, after_help = help::RULES)]
    Rules(RulesCommand),
    /// Manage baselines: fingerprints of accepted findings that later scans hide.
    #[command(subcommand, after_help = help::BASELINE)]
    Baseline(BaselineCommand),
    /// Revoke the keys of a keysweep JSON or JSONL report by hash (see docs/revocation.md).
    #[command(after_help = help::REVOKE)]
    Revoke(RevokeCommand),
    /// Sweep GitHub organisations, users and repositories, or watch GitHub events.
    #[command(subcommand, after_help = help::GITHUB)]
    Github(GithubCommand),
    /// Work with reports (merge the outputs of sharded sweeps).
    #[command(subcommand, after_help = help::REPORT)]
    Report(ReportCommand),
    /// Receive GitHub webhooks and secret-scanning partner alerts over HTTP and revoke the keys
    /// they carry, by hash, within seconds (see docs/serve.md).
    #[command(after_help = help::SERVE)]
    Serve(ServeArgs),
    /// Print a shell completion script.
    #[command(after_help = help::COMPLETIONS)]
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write one page per command into a directory.
    #[command(after_help = help::MAN)]
    Man {
        /// Write keysweep.1 and a page per command (keysweep-dir.1, …) into DIR.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct DirArgs {
    /// Files or directories to scan.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub walk: WalkArgs,
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Args)]
pub struct GitArgs {
    /// Repository: a work tree, a directory inside one, or a bare repository.
    #[arg(default_value = ".")]
    pub repo: PathBuf,
    /// Scan only what the commits in BASE..HEAD added (CI: a pull request's commits). A missing
    /// or unknown BASE or HEAD, or a shallow clone cut inside the range, is an error (exit 2).
    #[arg(long, value_name = "BASE..HEAD")]
    pub range: Option<String>,
    /// With --range: a range without commits is not an error.
    #[arg(long, requires = "range")]
    pub allow_empty_range: bool,
    /// Also scan unreachable objects (dangling commits and blobs) in the object database.
    #[arg(long, conflicts_with = "range")]
    pub all_objects: bool,
    /// Record what was scanned in FILE; later runs read and report only what is new since.
    #[arg(long, value_name = "FILE", conflicts_with = "range")]
    pub state: Option<PathBuf>,
    /// A blob stored as a delta is rebuilt whole in memory (up to about three times its size
    /// while it is rebuilt): bigger ones are not scanned and are reported (exit 2). Bytes, or
    /// with a K, M or G suffix (binary). Blobs stored whole are streamed whatever their size.
    /// [default: 128M]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_delta_blob: Option<u64>,
    #[command(flatten)]
    pub scan: ScanArgs,
}

/// `4096`, `64K`, `128M`, `2G`: a size in bytes, suffixes binary.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 10),
        Some((i, 'm' | 'M')) => (&t[..i], 20),
        Some((i, 'g' | 'G')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size (bytes, or with a K, M or G suffix)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

#[derive(Debug, Args)]
pub struct StagedArgs {
    /// Repository work tree (default: the current directory).
    #[arg(default_value = ".")]
    pub repo: PathBuf,
    /// The files the pre-commit framework names (its hooks end with `--files`). While they are
    /// exactly what the commit changes, only the staged lines are scanned; any other file
    /// (`pre-commit run --all-files`, `--files`) is scanned whole.
    #[arg(long, num_args = 0.., value_name = "FILE")]
    pub files: Option<Vec<PathBuf>>,
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Args)]
pub struct CiArgs {
    /// auto: the range the event names; range: like auto, but an event without a range is an
    /// error; full: the whole history; dir: the working tree only.
    #[arg(long, value_enum, default_value_t = CiMode::Auto)]
    pub mode: CiMode,
    /// Also write a SARIF report to FILE (for github/codeql-action/upload-sarif).
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,
    /// The repository checkout (default: $GITHUB_WORKSPACE, else the current directory).
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// The event name (default: $GITHUB_EVENT_NAME).
    #[arg(long, value_name = "NAME")]
    pub event_name: Option<String>,
    /// The event payload (default: $GITHUB_EVENT_PATH).
    #[arg(long, value_name = "FILE")]
    pub event_path: Option<PathBuf>,
    /// Never fetch: fail if a shallow checkout lacks the range's history.
    #[arg(long)]
    pub no_deepen: bool,
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Args)]
pub struct InstallHookArgs {
    /// Repository work tree (default: the current directory).
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Replace a pre-commit hook keysweep did not write (it is kept as a backup).
    #[arg(long)]
    pub force: bool,
    /// Arguments for `keysweep staged` in the hook, after `--` (e.g. `-- --baseline FILE`).
    #[arg(last = true, value_name = "STAGED_ARGS")]
    pub staged_args: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct WalkArgs {
    /// Also scan files excluded by .gitignore, .ignore and .keysweepignore.
    #[arg(long)]
    pub no_ignore: bool,
    /// Follow symbolic links (loops are detected and not followed again).
    #[arg(short = 'L', long)]
    pub follow: bool,
}

/// Flags every scan command shares.
#[derive(Debug, Args, Clone)]
pub struct ScanArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Include raw secrets in the output. Off by default: reports carry a redacted form and
    /// the SHA-256 only.
    #[arg(long)]
    pub show_secrets: bool,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Hide findings whose fingerprint is listed in FILE.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    #[arg(
        short = 'j',
        long,
        value_name = "N",
        default_value_t = 0,
        hide_default_value = true,
        help = help::threads()
    )]
    pub threads: usize,
    /// When to colour text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// No summary line and no progress line.
    #[arg(short, long)]
    pub quiet: bool,
    /// Revoke leaked keys by hash at the key service of `[revoke]` in keysweep.toml: only
    /// findings of revocable rules whose prefix that service owns, each key once.
    #[arg(long, help_heading = "Revocation")]
    pub revoke: bool,
    #[command(flatten)]
    pub revocation: RevokeArgs,
}

/// Revocation flags shared by `--revoke` scans and `keysweep revoke`.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Revocation")]
pub struct RevokeArgs {
    /// Print exactly what revocation would send (hashes, never keys) and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Revocation journal [default: .keysweep/revocations.jsonl beside keysweep.toml].
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Revocation requests in flight at once [default: `[revoke] concurrency`, 4].
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
}

#[derive(Debug, Args)]
pub struct RevokeCommand {
    /// The keysweep JSON or JSON Lines report whose keys to revoke.
    #[arg(long, value_name = "REPORT", required_unless_present = "print_egress")]
    pub from: Option<PathBuf>,
    /// List every host revocation would contact and exactly which fields it sends, then exit
    /// without sending anything.
    #[arg(long)]
    pub print_egress: bool,
    /// Output: text prints one line per key; the others print the report's findings with their
    /// `revocation` outcome.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// No per-key lines and no summary line.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub options: RevokeArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List the rules in force.
    #[command(after_help = help::RULES)]
    List {
        #[command(flatten)]
        rules: RuleArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
        /// Same as `--format json`.
        #[arg(long, hide = true)]
        json: bool,
    },
    /// Export the rules in force for registration elsewhere.
    #[command(after_help = help::RULES)]
    Export {
        #[command(flatten)]
        rules: RuleArgs,
        /// For GitHub's secret scanning partner program: one token type per revocable rule
        /// (name, and the regex of the token itself), as JSON.
        #[arg(long, required = true)]
        github_partner: bool,
    },
    /// Run every rule's examples and negative examples; exit 1 on any failure.
    #[command(after_help = help::RULES)]
    Check {
        /// Rule file or directory to check (default: the built-in rules).
        path: Option<PathBuf>,
    },
    /// Convert a gitleaks-style configuration (`[[rules]]`) into a keysweep rule file; what
    /// cannot be carried over is listed on stderr.
    #[command(after_help = help::RULES)]
    Convert {
        /// The gitleaks-style TOML file (e.g. .gitleaks.toml).
        file: PathBuf,
        /// Write the keysweep rule file to FILE instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// How `rules list` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

/// Which rules and configuration: shared by every command that loads rules.
#[derive(Debug, Args, Clone)]
pub struct RuleArgs {
    /// Extra rule file or directory of *.toml rule files (repeatable).
    #[arg(long, value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Do not load the built-in rules.
    #[arg(long)]
    pub no_builtin_rules: bool,
    /// Configuration file (default: keysweep.toml in the scanned root, if any).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl RuleArgs {
    pub fn options(&self) -> crate::pipeline::RuleOptions {
        crate::pipeline::RuleOptions {
            config: self.config.clone(),
            paths: self.rules.clone(),
            no_builtin: self.no_builtin_rules,
        }
    }
}

impl RevokeArgs {
    pub fn options(&self) -> crate::revoke::Options {
        crate::revoke::Options {
            dry_run: self.dry_run,
            journal: self.journal.clone(),
            concurrency: self.concurrency,
        }
    }
}

impl ScanArgs {
    /// The pipeline these flags ask for; `keysweep.toml` is looked for in `root`.
    pub fn pipeline(&self, root: Option<&std::path::Path>) -> crate::pipeline::Options {
        crate::pipeline::Options {
            rules: self.rules.options(),
            root: root.map(Into::into),
            baseline: self.baseline.clone(),
            show_secrets: self.show_secrets,
            revoke: (self.revoke || self.revocation.dry_run).then(|| self.revocation.options()),
            quiet: self.quiet,
            no_baseline: false,
        }
    }

    /// Where and how the report goes.
    pub fn report(&self) -> crate::pipeline::ReportSpec {
        crate::pipeline::ReportSpec {
            format: self.format,
            output: self.output.clone(),
            color: self.color,
            quiet: self.quiet,
        }
    }
}

impl WalkArgs {
    pub fn options(&self, threads: usize) -> crate::source::dir::DirOptions {
        crate::source::dir::DirOptions {
            no_ignore: self.no_ignore,
            follow: self.follow,
            threads,
            skip: Vec::new(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Scan PATHS (or read a JSON/JSONL report) and write the fingerprints of what is found.
    #[command(after_help = help::BASELINE)]
    Create {
        /// Files or directories to scan.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        /// Take findings from this keysweep JSON or JSONL report instead of scanning.
        #[arg(long, value_name = "REPORT")]
        from: Option<PathBuf>,
        /// Where to write the baseline.
        #[arg(short, long, value_name = "FILE", default_value = crate::suppress::BASELINE_FILE_NAME)]
        output: PathBuf,
        #[command(flatten)]
        walk: WalkArgs,
        #[command(flatten)]
        rules: RuleArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Join keysweep reports (JSON Lines or JSON, or SARIF), e.g. the outputs of a sharded
    /// sweep, into one, de-duplicated by fingerprint. Exits 1 when the result has findings.
    #[command(after_help = help::REPORT)]
    Merge {
        /// Reports to merge: all keysweep JSON/JSONL, or all SARIF.
        #[arg(required = true, value_name = "REPORT")]
        inputs: Vec<PathBuf>,
        /// Output format (SARIF inputs merge into SARIF only).
        #[arg(short, long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// Write the merged report to FILE instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Rules, for the rule descriptions of a SARIF output.
        #[command(flatten)]
        rules: RuleArgs,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port. The address bound is printed at start.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Where handled webhook deliveries are remembered.
    #[arg(long, value_name = "DIR", default_value = ".keysweep/serve")]
    pub state_dir: PathBuf,
    /// Revoke the keys that arrive, by hash, at the key service of `[revoke]` in keysweep.toml
    /// (found in the current directory, or named with --config).
    #[arg(long, help_heading = "Revocation")]
    pub revoke: bool,
    #[command(flatten)]
    pub revocation: RevokeArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
}

impl ServeArgs {
    /// The pipeline the server scans and revokes with; keysweep.toml is looked for in the
    /// current directory.
    pub fn pipeline(&self) -> crate::pipeline::Options {
        crate::pipeline::Options {
            rules: self.rules.options(),
            root: Some(PathBuf::from(".")),
            // A dry run prints its plan; a real run logs each key through `messages` instead.
            quiet: !self.revocation.dry_run,
            revoke: (self.revoke || self.revocation.dry_run).then(|| self.revocation.options()),
            ..crate::pipeline::Options::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes_take_binary_suffixes_and_refuse_the_rest() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("128m"), Ok(128 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert!(parse_size("12MB").unwrap_err().contains("not a size"));
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999G")
            .unwrap_err()
            .contains("too large"));
    }

    /// Why clap refuses a command line, and what it tells the user.
    fn refused(args: &[&str]) -> (clap::error::ErrorKind, String) {
        match Cli::try_parse_from(args) {
            Ok(_) => panic!("{args:?} was accepted"),
            Err(e) => (e.kind(), e.to_string()),
        }
    }

    #[test]
    fn dir_defaults_to_current_directory_and_text() {
        let cli = Cli::try_parse_from(["keysweep", "dir"]).unwrap();
        let Command::Dir(d) = cli.command else {
            panic!("not dir")
        };
        assert_eq!(d.paths, vec![PathBuf::from(".")]);
        assert_eq!(d.scan.format, Format::Text);
        assert!(!d.scan.show_secrets);
        assert!(!d.scan.revoke && !d.scan.revocation.dry_run);
    }

    #[test]
    fn revoke_needs_a_report_unless_printing_the_egress_manifest() {
        let (kind, message) = refused(&["keysweep", "revoke"]);
        assert_eq!(kind, ErrorKind::MissingRequiredArgument, "{message}");
        assert!(
            message.contains("required arguments were not provided:\n  --from <REPORT>"),
            "{message}"
        );
        let cli = Cli::try_parse_from(["keysweep", "revoke", "--print-egress"]).unwrap();
        let Command::Revoke(r) = cli.command else {
            panic!("not revoke")
        };
        assert!(r.print_egress && r.from.is_none());
        let cli = Cli::try_parse_from([
            "keysweep",
            "revoke",
            "--from",
            "r.jsonl",
            "--dry-run",
            "--concurrency",
            "8",
        ])
        .unwrap();
        let Command::Revoke(r) = cli.command else {
            panic!("not revoke")
        };
        assert!(r.options.dry_run);
        assert_eq!(r.options.concurrency, Some(8));
    }

    #[test]
    fn git_flags_that_cannot_go_together_are_refused() {
        let (kind, message) = refused(&["keysweep", "git", "--range", "a..b", "--state", "s"]);
        assert_eq!(kind, ErrorKind::ArgumentConflict, "{message}");
        assert!(
            message.contains("'--range <BASE..HEAD>' cannot be used with '--state <FILE>'"),
            "{message}"
        );
        let (kind, message) = refused(&["keysweep", "git", "--allow-empty-range"]);
        assert_eq!(kind, ErrorKind::MissingRequiredArgument, "{message}");
        assert!(
            message.contains("required arguments were not provided:\n  --range <BASE..HEAD>"),
            "{message}"
        );
        let cli =
            Cli::try_parse_from(["keysweep", "install-hook", "--", "--baseline", "b"]).unwrap();
        let Command::InstallHook(h) = cli.command else {
            panic!("not install-hook")
        };
        assert_eq!(h.staged_args, ["--baseline", "b"]);
    }
}
