//! The `github` command family's flags: sweeps (`org`, `user`, `repo`) and the events poller,
//! and their conversion into the `github` library's options.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::ScanArgs;
use crate::github::repos::Visibility;

#[derive(Debug, Subcommand)]
pub enum GithubCommand {
    /// Sweep every repository of an organisation: full history, incremental between runs.
    #[command(after_help = super::help::GITHUB_ORG)]
    Org {
        /// Organisation login.
        name: String,
        #[command(flatten)]
        sweep: SweepArgs,
    },
    /// Sweep a user's repositories (with the user's own token, private ones too).
    #[command(after_help = super::help::GITHUB_USER)]
    User {
        /// User login.
        name: String,
        #[command(flatten)]
        sweep: SweepArgs,
    },
    /// Sweep one repository.
    #[command(after_help = super::help::GITHUB_REPO)]
    Repo {
        /// OWNER/NAME.
        full_name: String,
        #[command(flatten)]
        sweep: RepoSweepArgs,
    },
    /// Poll the GitHub Events API and scan what each new event brings (pushes, issues,
    /// comments, pull requests, releases, wiki edits, repositories made public).
    #[command(after_help = super::help::GITHUB_EVENTS)]
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

/// An organisation's or user's sweep: which repositories, then how each is swept.
#[derive(Debug, Args, Clone)]
pub struct SweepArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub sweep: RepoSweepArgs,
}

/// Which of many repositories a sweep takes: flags that mean nothing for one repository.
#[derive(Debug, Args, Clone)]
pub struct SelectArgs {
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
}

impl Default for SelectArgs {
    /// One named repository: nothing filtered out, nothing to run in parallel.
    fn default() -> Self {
        SelectArgs {
            include: Vec::new(),
            exclude: Vec::new(),
            include_forks: true,
            include_archived: true,
            visibility: Visibility::All,
            shard: None,
            parallel_repos: 1,
        }
    }
}

/// How each repository is swept: every `github` sweep's flags.
#[derive(Debug, Args, Clone)]
pub struct RepoSweepArgs {
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
        self.sweep.options(&self.select)
    }
}

impl RepoSweepArgs {
    /// The sweep of the repositories `select` picks.
    pub fn options(&self, select: &SelectArgs) -> crate::github::sweep::SweepOptions {
        crate::github::sweep::SweepOptions {
            include: select.include.clone(),
            exclude: select.exclude.clone(),
            include_forks: select.include_forks,
            include_archived: select.include_archived,
            visibility: select.visibility,
            shard: select.shard,
            parallel_repos: select.parallel_repos,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

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
        assert_eq!(sweep.select.shard.map(|s| (s.index, s.count)), Some((2, 4)));
        assert_eq!(sweep.select.exclude, vec!["*-old".to_string()]);
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
            "keysweep", "github", "repo", "acme/api", "-j", "3", "--cache", "c", "--quiet",
        ])
        .unwrap();
        let Command::Github(GithubCommand::Repo { sweep, .. }) = cli.command else {
            panic!("not github repo")
        };
        // One named repository is swept whatever it is (fork, archived), alone.
        let o = sweep.options(&SelectArgs::default());
        assert!(o.include_forks && o.include_archived && !o.fetch_all && o.quiet);
        assert_eq!((o.parallel_repos, o.threads), (1, 3));
        for flag in [
            "--shard=1/2",
            "--include=x",
            "--parallel-repos=2",
            "--include-forks",
        ] {
            let err = Cli::try_parse_from(["keysweep", "github", "repo", "a/b", flag]).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::UnknownArgument,
                "{flag}"
            );
        }
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
}
