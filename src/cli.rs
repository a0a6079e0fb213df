//! Every flag, defined once with its help. No I/O here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::ci::Mode as CiMode;
pub use crate::github::repos::Visibility;
pub use crate::output::ColorChoice;
pub use crate::report::Format;

#[derive(Debug, Parser)]
#[command(
    name = "keysweep",
    version,
    about = "Find leaked API keys in files, git history and GitHub, and revoke them by hash",
    after_help = "Exit status: 0 no findings, 1 findings, 2 error or incomplete scan."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan files and directories (default: the current directory).
    Dir(DirArgs),
    /// Scan standard input (also `keysweep -`).
    Stdin(ScanArgs),
    /// Scan git history: every blob of every branch, tag, remote and stash, once, and commit
    /// messages; findings name the commit that introduced them.
    Git(GitArgs),
    /// Scan what the next commit would add (staged lines only); exit 1 blocks the commit.
    Staged(StagedArgs),
    /// Install a git pre-commit hook that runs `keysweep staged`.
    InstallHook(InstallHookArgs),
    /// CI: scan exactly what the triggering GitHub event added (push, pull request, merge
    /// queue; full history on schedules), deepening a shallow checkout as needed; writes SARIF,
    /// workflow annotations, the job summary and step outputs.
    Ci(CiArgs),
    /// List or check detection rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Manage baselines: fingerprints of accepted findings that later scans hide.
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// Revoke the keys of a keysweep JSON or JSONL report by hash (see docs/revocation.md).
    Revoke(RevokeCommand),
    /// Sweep GitHub organisations, users and repositories, or watch GitHub events.
    #[command(subcommand)]
    Github(GithubCommand),
    /// Work with reports (merge the outputs of sharded sweeps).
    #[command(subcommand)]
    Report(ReportCommand),
    /// Receive GitHub webhooks and secret-scanning partner alerts over HTTP and revoke the keys
    /// they carry, by hash, within seconds (see docs/serve.md).
    Serve(ServeArgs),
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
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Args)]
pub struct StagedArgs {
    /// Repository work tree (default: the current directory).
    #[arg(default_value = ".")]
    pub repo: PathBuf,
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
    /// Scanning threads (default: number of CPUs).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 0)]
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
    List {
        #[command(flatten)]
        rules: RuleArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run every rule's examples and negative examples; exit 1 on any failure.
    Check {
        /// Rule file or directory to check (default: the built-in rules).
        path: Option<PathBuf>,
    },
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
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Scan PATHS (or read a JSON/JSONL report) and write the fingerprints of what is found.
    Create {
        /// Files or directories to scan.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        /// Take findings from this keysweep JSON or JSONL report instead of scanning.
        #[arg(long, value_name = "REPORT")]
        from: Option<PathBuf>,
        /// Where to write the baseline.
        #[arg(short, long, value_name = "FILE", default_value = "keysweep.baseline")]
        output: PathBuf,
        #[command(flatten)]
        walk: WalkArgs,
        #[command(flatten)]
        rules: RuleArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum GithubCommand {
    /// Sweep every repository of an organisation: full history, incremental between runs.
    Org {
        /// Organisation login.
        name: String,
        #[command(flatten)]
        sweep: SweepArgs,
    },
    /// Sweep a user's repositories (with the user's own token, private ones too).
    User {
        /// User login.
        name: String,
        #[command(flatten)]
        sweep: SweepArgs,
    },
    /// Sweep one repository.
    Repo {
        /// OWNER/NAME.
        full_name: String,
        #[command(flatten)]
        sweep: SweepArgs,
    },
    /// Poll the GitHub Events API and scan what each new event brings (pushes, issues,
    /// comments, pull requests, releases, wiki edits, repositories made public).
    Events(EventsArgs),
}

/// How to reach GitHub.
#[derive(Debug, Args, Clone)]
pub struct ApiArgs {
    /// GitHub REST API base URL (GitHub Enterprise Server: https://HOST/api/v3).
    #[arg(
        long,
        value_name = "URL",
        env = "GITHUB_API_URL",
        default_value = "https://api.github.com"
    )]
    pub api_url: String,
    /// Environment variable holding the GitHub token. Without a token only public data is
    /// visible and GitHub allows 60 requests an hour.
    #[arg(long, value_name = "NAME", default_value = "GITHUB_TOKEN")]
    pub token_env: String,
    /// Where bare mirrors, per-repository scan state and the events position are kept.
    #[arg(long, value_name = "DIR", default_value = ".keysweep/github")]
    pub cache: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct SweepArgs {
    /// Only repositories matching GLOB: matched against NAME, or against OWNER/NAME when the
    /// glob contains a slash (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Skip repositories matching GLOB (same matching as --include; repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Also sweep forks.
    #[arg(long)]
    pub include_forks: bool,
    /// Also sweep archived repositories.
    #[arg(long)]
    pub include_archived: bool,
    /// Only repositories of this visibility.
    #[arg(long, value_enum, default_value_t = Visibility::All)]
    pub visibility: Visibility,
    /// Take only shard K of N (1-based): a stable split by hash of the repository name, so N
    /// parallel jobs cover every repository exactly once with no coordinator.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::github::repos::Shard>,
    /// Repositories fetched and scanned at the same time.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub parallel_repos: usize,
    /// Fetch every repository, even those GitHub reports as not pushed to since the last
    /// complete sweep.
    #[arg(long)]
    pub fetch_all: bool,
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Args, Clone)]
#[command(group(clap::ArgGroup::new("feed").args(["org", "repo", "user"])))]
pub struct EventsArgs {
    /// Events of an organisation (with a member's token, private repositories' too).
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// Events of one repository.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
    /// Events a user performed.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Where the last handled event id and the ETag are kept, so a restart neither misses nor
    /// repeats events [default: under --cache, one file per feed].
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Keep polling, as often as GitHub's X-Poll-Interval allows; without it, one pass.
    #[arg(long)]
    pub watch: bool,
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub scan: ScanArgs,
}

impl SweepArgs {
    /// The sweep these flags ask for; the report is [`ScanArgs::report`].
    pub fn options(&self) -> crate::github::sweep::SweepOptions {
        crate::github::sweep::SweepOptions {
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            include_forks: self.include_forks,
            include_archived: self.include_archived,
            visibility: self.visibility,
            shard: self.shard,
            parallel_repos: self.parallel_repos,
            fetch_all: self.fetch_all,
            cache: self.api.cache.clone(),
            threads: self.scan.threads,
            quiet: self.scan.quiet,
        }
    }
}

impl EventsArgs {
    /// The feed and polling these flags ask for; fails on a malformed name.
    pub fn options(&self) -> anyhow::Result<crate::github::events::EventsOptions> {
        use crate::github::feed::Feed;
        let feed = match (&self.org, &self.repo, &self.user) {
            (Some(org), _, _) => Feed::org(org)?,
            (_, Some(repo), _) => Feed::repo(repo)?,
            (_, _, Some(user)) => Feed::user(user)?,
            _ => Feed::Public,
        };
        Ok(crate::github::events::EventsOptions {
            feed,
            state: self.state.clone(),
            watch: self.watch,
            cache: self.api.cache.clone(),
            quiet: self.scan.quiet,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Join keysweep reports (JSON Lines or JSON, or SARIF), e.g. the outputs of a sharded
    /// sweep, into one, de-duplicated by fingerprint. Exits 1 when the result has findings.
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

    #[test]
    fn github_sweep_flags_parse_and_feeds_are_exclusive() {
        let cli = Cli::try_parse_from([
            "keysweep",
            "github",
            "org",
            "acme",
            "--shard",
            "2/4",
            "--exclude",
            "*-old",
            "--api-url",
            "http://127.0.0.1:1",
        ])
        .unwrap();
        let Command::Github(GithubCommand::Org { name, sweep }) = cli.command else {
            panic!("not github org")
        };
        assert_eq!(name, "acme");
        assert_eq!(sweep.shard.map(|s| (s.index, s.count)), Some((2, 4)));
        assert_eq!(sweep.exclude, vec!["*-old".to_string()]);
        let err =
            Cli::try_parse_from(["keysweep", "github", "org", "a", "--shard", "5/4"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(
            err.to_string()
                .contains(r#""5/4" is not K/N with 1 <= K <= N (e.g. 2/4)"#),
            "{err}"
        );
        let err =
            Cli::try_parse_from(["keysweep", "github", "events", "--org", "a", "--user", "b"])
                .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn github_flags_become_library_options() {
        let cli = Cli::try_parse_from([
            "keysweep",
            "github",
            "repo",
            "acme/api",
            "--include-forks",
            "--parallel-repos",
            "2",
            "-j",
            "3",
            "--cache",
            "c",
            "--quiet",
        ])
        .unwrap();
        let Command::Github(GithubCommand::Repo { sweep, .. }) = cli.command else {
            panic!("not github repo")
        };
        let o = sweep.options();
        assert!(o.include_forks && !o.include_archived && !o.fetch_all && o.quiet);
        assert_eq!((o.parallel_repos, o.threads), (2, 3));
        assert_eq!(o.cache, PathBuf::from("c"));

        let events = |args: &[&str]| {
            let cli =
                Cli::try_parse_from(["keysweep", "github", "events"].iter().chain(args)).unwrap();
            let Command::Github(GithubCommand::Events(e)) = cli.command else {
                panic!("not github events")
            };
            e.options()
        };
        let o = events(&["--repo", "acme/api", "--watch", "--state", "s.json"]).unwrap();
        assert_eq!(o.feed, crate::github::feed::Feed::Repo("acme/api".into()));
        assert!(o.watch && !o.quiet);
        assert_eq!(o.state, Some(PathBuf::from("s.json")));
        assert_eq!(o.cache, PathBuf::from(".keysweep/github"));
        assert_eq!(events(&[]).unwrap().feed, crate::github::feed::Feed::Public);
        assert_eq!(
            events(&["--user", "a/b"]).unwrap_err().to_string(),
            r#""a/b" is not a user name"#
        );
    }

    #[test]
    fn serve_reuses_the_rule_and_revocation_flags() {
        let cli = Cli::try_parse_from([
            "keysweep",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--revoke",
            "--journal",
            "j.jsonl",
            "--config",
            "k.toml",
        ])
        .unwrap();
        let Command::Serve(s) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(s.listen, "127.0.0.1:0");
        let p = s.pipeline();
        assert_eq!(p.rules.config, Some(PathBuf::from("k.toml")));
        let revoke = p.revoke.expect("revocation asked for");
        assert_eq!(revoke.journal, Some(PathBuf::from("j.jsonl")));
        assert!(!revoke.dry_run && p.quiet);
        let cli = Cli::try_parse_from(["keysweep", "serve"]).unwrap();
        let Command::Serve(s) = cli.command else {
            panic!("not serve")
        };
        assert!(s.pipeline().revoke.is_none());
    }
}
