//! `keysweep github …` against a fake GitHub on 127.0.0.1 whose repositories are bare git
//! repositories in a temp directory (file:// clone URLs): sweeps, shards, merges, events.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::fakes::Fakes;
use crate::harness::git::{commit_file, file_url, git, git_init};
use crate::harness::report::{find, hashes, jsonl_file, sha};
use crate::harness::{eventually, keysweep_cmd, Background, Run};
use crate::support::fake_github::{self, fixture, FakeGithub, TOKEN};
use crate::support::key_service::KeyKind;
use crate::support::{revoke_config, start_key_service, REVOKE_TOKEN, REVOKE_TOKEN_ENV};

/// Runs keysweep with the fake token in `GITHUB_TOKEN`; the token must not show in its output.
fn ks(dir: &Path, args: &[&str]) -> Run {
    let run = keysweep_cmd(dir)
        .args(args)
        .env("GITHUB_TOKEN", TOKEN)
        .run();
    assert!(
        !run.all().contains(TOKEN),
        "the token leaked into output:\n{}",
        run.all()
    );
    run
}

/// A GitHub organisation made of bare repositories on disk, served by the fake API.
struct Org {
    tmp: tempfile::TempDir,
    gh: FakeGithub,
    name: String,
    pushes: std::cell::Cell<u32>,
}

impl Org {
    fn new(name: &str) -> Org {
        Org {
            tmp: tempfile::tempdir().unwrap(),
            gh: FakeGithub::start(),
            name: name.to_string(),
            pushes: std::cell::Cell::new(0),
        }
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn bare(&self, repo: &str) -> PathBuf {
        self.dir()
            .join("remotes")
            .join(&self.name)
            .join(format!("{repo}.git"))
    }

    fn work(&self, repo: &str) -> PathBuf {
        self.dir().join("work").join(&self.name).join(repo)
    }

    /// Creates the repository (bare remote, working clone) and lists it in the fake API.
    fn add_repo(&self, repo: &str) -> PathBuf {
        let bare = self.bare(repo);
        std::fs::create_dir_all(&bare).unwrap();
        git(&bare, &["init", "-q", "--bare", "-b", "main"]);
        git_init(&self.work(repo));
        git(
            &self.work(repo),
            &["remote", "add", "origin", bare.to_str().unwrap()],
        );
        let clone_url = file_url(&bare);
        let value = fixture(
            "repo.json",
            &[
                ("OWNER", &self.name),
                ("NAME", repo),
                ("API", &self.gh.url),
                ("CLONE_URL", &clone_url),
                ("PUSHED_AT", "2026-01-01T00:00:00Z"),
            ],
        );
        self.gh.world().repos.push(value);
        bare
    }

    /// Commits a file in the working clone and pushes it; GitHub's `pushed_at` moves.
    fn commit(&self, repo: &str, rel: &str, content: &str, message: &str) -> String {
        self.commit_on(repo, "main", rel, content, message)
    }

    fn commit_on(
        &self,
        repo: &str,
        branch: &str,
        rel: &str,
        content: &str,
        message: &str,
    ) -> String {
        let work = self.work(repo);
        let current = git(&work, &["symbolic-ref", "--short", "HEAD"]);
        if current != branch {
            let exists = git(&work, &["branch", "--list", branch]);
            if exists.is_empty() {
                git(&work, &["checkout", "-q", "-b", branch]);
            } else {
                git(&work, &["checkout", "-q", branch]);
            }
        }
        let sha = commit_file(&work, rel, content, message);
        git(
            &work,
            &["push", "-q", "origin", &format!("HEAD:refs/heads/{branch}")],
        );
        self.touch(repo);
        sha
    }

    fn remove(&self, repo: &str, rel: &str, message: &str) -> String {
        let work = self.work(repo);
        git(&work, &["rm", "-q", rel]);
        git(&work, &["commit", "-q", "-m", message]);
        git(&work, &["push", "-q", "origin", "HEAD"]);
        self.touch(repo);
        git(&work, &["rev-parse", "HEAD"])
    }

    /// Moves the repository's `pushed_at`, as a push does on GitHub.
    fn touch(&self, repo: &str) {
        let n = self.pushes.get() + 1;
        self.pushes.set(n);
        let full = format!("{}/{repo}", self.name);
        let mut world = self.gh.world();
        if let Some(r) = world
            .repos
            .iter_mut()
            .find(|r| r["full_name"] == full.as_str())
        {
            r["pushed_at"] = json!(format!(
                "2026-03-01T{:02}:{:02}:{:02}Z",
                n / 3600,
                n / 60 % 60,
                n % 60
            ));
        }
    }

    /// The repository's wiki: a git repository of its own beside it (`NAME.wiki.git`), not
    /// listed by the API.
    fn add_wiki_page(&self, repo: &str, page: &str, content: &str) {
        let wiki = format!("{repo}.wiki");
        let bare = self.bare(&wiki);
        if !bare.exists() {
            std::fs::create_dir_all(&bare).unwrap();
            git(&bare, &["init", "-q", "--bare", "-b", "main"]);
            git_init(&self.work(&wiki));
            git(
                &self.work(&wiki),
                &["remote", "add", "origin", bare.to_str().unwrap()],
            );
        }
        let work = self.work(&wiki);
        commit_file(&work, &format!("{page}.md"), content, "wiki edit");
        git(&work, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
    }

    fn set(&self, repo: &str, field: &str, value: Value) {
        let full = format!("{}/{repo}", self.name);
        let mut world = self.gh.world();
        let r = world
            .repos
            .iter_mut()
            .find(|r| r["full_name"] == full.as_str())
            .expect("repo");
        r[field] = value;
    }

    fn sweep(&self, extra: &[&str]) -> Run {
        self.github(&["org", &self.name], extra)
    }

    fn events(&self, extra: &[&str]) -> Run {
        self.github(&["events", "--org", &self.name], extra)
    }

    /// `keysweep github COMMAND… EXTRA…` against this org's fake API; `--cache cache` and
    /// `--format jsonl` unless EXTRA says otherwise.
    fn github(&self, command: &[&str], extra: &[&str]) -> Run {
        let mut args = vec!["github"];
        args.extend_from_slice(command);
        args.extend_from_slice(&["--api-url", &self.gh.url]);
        for (flag, default) in [("--cache", "cache"), ("--format", "jsonl")] {
            if !extra.contains(&flag) {
                args.extend_from_slice(&[flag, default]);
            }
        }
        args.extend_from_slice(extra);
        ks(self.dir(), &args)
    }

    /// Adds an event from a fixture, with the usual fields filled.
    fn event(&self, file: &str, id: u64, repo: &str, vars: &[(&str, &str)]) {
        let id = id.to_string();
        let full = format!("{}/{repo}", self.name);
        let mut all = vec![
            ("ID", id.as_str()),
            ("REPO", full.as_str()),
            ("ACTOR", "mallory"),
            ("API", self.gh.url.as_str()),
        ];
        all.extend_from_slice(vars);
        let value = fixture(&format!("events/{file}"), &all);
        self.gh.world().events.push(value);
    }

    /// A push to `api` from `before` to `head`, and GitHub's compare response for it if given.
    fn push_event(&self, id: u64, branch: &str, before: &str, head: &str, compare: Option<Value>) {
        if let Some(c) = compare {
            self.gh
                .world()
                .compares
                .insert(format!("{}/api/{before}...{head}", self.name), c);
        }
        self.event(
            "push.json",
            id,
            "api",
            &[("BRANCH", branch), ("BEFORE", before), ("HEAD", head)],
        );
    }

    /// An issue opened in `api` with `body`, as event `id` (issue number = id).
    fn issue_opened(&self, id: u64, body: &str) {
        let number = id.to_string();
        self.event(
            "issues.json",
            id,
            "api",
            &[("BODY", body), ("ACTION", "opened"), ("NUMBER", &number)],
        );
    }
}

/// A running `github events --watch` writing JSON Lines to a file; killed when dropped.
struct Watcher {
    _process: Background,
    out: PathBuf,
}

impl Watcher {
    /// The findings written so far, once there are `n` of them (or after 20 s).
    fn wait_for(&self, n: usize) -> Vec<Value> {
        eventually(Duration::from_secs(20), || jsonl_file(&self.out).len() >= n);
        jsonl_file(&self.out)
    }
}

impl Org {
    fn watch(&self, extra: &[&str], env: &[(&str, &str)]) -> Watcher {
        let out = self.dir().join("watch.jsonl");
        let mut args = vec![
            "github",
            "events",
            "--org",
            &self.name,
            "--watch",
            "--api-url",
            &self.gh.url,
            "--cache",
            "cache",
            "--format",
            "jsonl",
            "-o",
        ];
        let out_arg = out.to_str().unwrap().to_string();
        args.push(&out_arg);
        args.extend_from_slice(extra);
        let process = keysweep_cmd(self.dir())
            .args(&args)
            .env("GITHUB_TOKEN", TOKEN)
            .envs(env.iter().copied())
            .spawn();
        Watcher {
            _process: process,
            out,
        }
    }
}

/// The org of the "done when": a key in a current file, a key only in deleted history, a
/// fork and an archived repository (left out by default), more repositories than one page.
fn acme(k: &mut Fakes) -> (Org, String, String, String) {
    let org = Org::new("acme");
    org.gh.world().page_cap = 2;
    let (current, deleted, forked) = (k.sk_live(), k.msk(), k.sk_live());
    org.add_repo("api");
    org.commit("api", "README.md", "# api\n", "init");
    org.commit(
        "api",
        "config/prod.env",
        &format!("DEBUG=0\nPAYMENTS_KEY={current}\n"),
        "prod config",
    );
    org.add_repo("billing");
    org.commit("billing", "notes.txt", "nothing here\n", "init");
    org.commit(
        "billing",
        "tmp/creds.txt",
        &format!("msk = {deleted}\n"),
        "debugging",
    );
    org.remove("billing", "tmp/creds.txt", "remove creds");
    org.add_repo("docs");
    org.commit("docs", "index.md", "docs\n", "init");
    org.add_repo("api-fork");
    org.commit("api-fork", "k.env", &format!("K={forked}\n"), "fork");
    org.set("api-fork", "fork", json!(true));
    org.add_repo("legacy");
    org.commit("legacy", "k.env", &format!("K={forked}\n"), "old");
    org.set("legacy", "archived", json!(true));
    (org, current, deleted, forked)
}

#[test]
fn org_sweep_and_events_find_keys_in_current_files_deleted_history_and_pushes() {
    let mut k = Fakes::new(501);
    let (org, current, deleted, forked) = acme(&mut k);
    let run = org.sweep(&[]);
    assert_eq!(run.code, 1, "{}", run.all());
    let f = run.jsonl();
    assert_eq!(hashes(&f), [sha(&current), sha(&deleted)].into(), "{f:#?}");
    assert!(!hashes(&f).contains(&sha(&forked)), "fork/archived swept");

    let cur = find(&f, &current);
    assert_eq!(cur["repo"], "acme/api");
    assert_eq!(cur["path"], "config/prod.env");
    assert_eq!(cur["line"], 2);
    let commit = cur["commit"].as_str().unwrap();
    assert_eq!(
        cur["url"],
        format!("https://github.com/acme/api/blob/{commit}/config/prod.env#L2").as_str()
    );
    let del = find(&f, &deleted);
    assert_eq!(del["repo"], "acme/billing");
    assert_eq!(del["path"], "tmp/creds.txt");
    assert!(
        run.stderr.contains("5 repositories listed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("1 archived") && run.stderr.contains("1 fork"),
        "{}",
        run.stderr
    );

    // Every list page was followed, each with the token.
    let log = org.gh.take_log();
    let pages: Vec<_> = log
        .iter()
        .filter(|l| l.path == "/orgs/acme/repos")
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(log.iter().all(|l| l.authorized), "{log:?}");

    // With forks and archived repositories asked for, the third key is found in both.
    let run = org.sweep(&["--include-forks", "--include-archived", "--fetch-all"]);
    let f = run.jsonl();
    let repos: BTreeSet<_> = f
        .iter()
        .filter(|x| x["secret_sha256"] == sha(&forked).as_str())
        .map(|x| x["repo"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        repos,
        ["acme/api-fork".to_string(), "acme/legacy".into()].into()
    );

    // Then a push lands: the events poller finds its key minutes later, with who pushed it.
    let pushed = k.sk_live();
    let before = org.commit("api", "notes.md", "notes\n", "notes");
    let head = org.commit(
        "api",
        "ci/deploy.env",
        &format!("TOKEN={pushed}\n"),
        "deploy",
    );
    let patch = format!("@@ -0,0 +1 @@\n+TOKEN={pushed}");
    let compare = json!({
        "total_commits": 1,
        "commits": [{"sha": head, "commit": {"message": "deploy"}}],
        "files": [{"filename": "ci/deploy.env", "status": "added", "additions": 1, "patch": patch,
                   "blob_url": format!("https://github.com/acme/api/blob/{head}/ci/deploy.env")}]
    });
    org.push_event(77, "main", &before, &head, Some(compare));
    let run = org.events(&[]);
    assert_eq!(run.code, 1, "{}", run.all());
    let p = find(&run.jsonl(), &pushed).clone();
    assert_eq!(
        (p["path"].as_str(), p["line"].as_u64()),
        (Some("ci/deploy.env"), Some(1))
    );
    assert_eq!(
        (p["event_id"].as_str(), p["actor"].as_str()),
        (Some("77"), Some("mallory"))
    );
}

#[test]
fn rerun_is_incremental_skips_untouched_repos_and_reports_only_new_keys() {
    let mut k = Fakes::new(502);
    let (org, current, deleted, _) = acme(&mut k);
    let first = org.sweep(&[]);
    assert_eq!(
        hashes(&first.jsonl()),
        [sha(&current), sha(&deleted)].into()
    );
    org.gh.take_log();

    // Nothing pushed: the listing only, no fetch, nothing reported again.
    let second = org.sweep(&[]);
    assert_eq!(second.code, 0, "{}", second.all());
    assert!(second.jsonl().is_empty(), "{}", second.stdout);
    assert!(
        second.stderr.contains("0 scanned, 3 unchanged"),
        "{}",
        second.stderr
    );
    let log = org.gh.take_log();
    assert!(log.iter().all(|l| l.path == "/orgs/acme/repos"), "{log:?}");

    // A push to one repository: only it is fetched, only the new key is reported.
    let new = k.sk_live();
    org.commit(
        "docs",
        "deploy.sh",
        &format!("export KEY={new}\n"),
        "deploy",
    );
    let third = org.sweep(&[]);
    assert_eq!(third.code, 1, "{}", third.all());
    assert_eq!(
        hashes(&third.jsonl()),
        [sha(&new)].into(),
        "{}",
        third.stdout
    );
    assert!(
        third.stderr.contains("1 scanned, 2 unchanged"),
        "{}",
        third.stderr
    );

    // --fetch-all fetches everything; the git engine's state still reads nothing old.
    let fourth = org.sweep(&["--fetch-all"]);
    assert_eq!(fourth.code, 0, "{}", fourth.all());
    assert!(fourth.jsonl().is_empty(), "{}", fourth.stdout);
}

#[test]
fn a_failing_repository_is_reported_and_the_sweep_goes_on() {
    let mut k = Fakes::new(503);
    let org = Org::new("acme");
    let key = k.sk_live();
    org.add_repo("good");
    org.commit("good", "a.env", &format!("K={key}\n"), "k");
    org.add_repo("gone");
    org.set(
        "gone",
        "clone_url",
        json!(file_url(&org.dir().join("nowhere.git"))),
    );
    org.add_repo("empty");
    let run = org.sweep(&[]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert_eq!(hashes(&run.jsonl()), [sha(&key)].into());
    assert!(run.stderr.contains("acme/gone"), "{}", run.stderr);
    assert!(
        run.stderr.contains("acme/empty: empty repository"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("INCOMPLETE"), "{}", run.stderr);

    // The failed repository is not recorded as swept: it is tried again next time.
    let again = org.sweep(&[]);
    assert!(again.stderr.contains("acme/gone"), "{}", again.stderr);
    assert!(
        again.stderr.contains("0 scanned, 2 unchanged"),
        "{}",
        again.stderr
    );
}

#[test]
fn user_and_single_repository_targets() {
    let mut k = Fakes::new(514);
    let bob = Org::new("bob");
    let (one, two) = (k.sk_live(), k.sk_live());
    bob.add_repo("one");
    bob.commit("one", "a.env", &format!("K={one}\n"), "k");
    bob.add_repo("two");
    bob.commit("two", "a.env", &format!("K={two}\n"), "k");
    // A fork named explicitly is swept: filters apply to listings only.
    bob.set("two", "fork", json!(true));

    let run = bob.github(&["user", "bob"], &["--include-forks"]);
    assert_eq!(
        hashes(&run.jsonl()),
        [sha(&one), sha(&two)].into(),
        "{}",
        run.all()
    );
    let log = bob.gh.take_log();
    assert!(log.iter().any(|l| l.path == "/users/bob/repos"), "{log:?}");

    // With bob's own token, his repositories come from /user/repos (private ones too).
    bob.gh.world().login = Some("bob".into());
    let run = bob.github(&["user", "bob"], &["--fetch-all", "--cache", "other"]);
    assert_eq!(hashes(&run.jsonl()), [sha(&one)].into(), "{}", run.all());
    let log = bob.gh.take_log();
    assert!(log.iter().any(|l| l.path == "/user/repos"), "{log:?}");

    let run = bob.github(&["repo", "bob/two"], &["--cache", "third"]);
    assert_eq!(hashes(&run.jsonl()), [sha(&two)].into(), "{}", run.all());
    let bad = bob.github(&["repo", "bob/../x"], &[]);
    assert_eq!(bad.code, 2);
}

#[test]
fn shards_cover_every_repository_exactly_once_and_merge_back() {
    let mut k = Fakes::new(504);
    let org = Org::new("acme");
    let mut keys = BTreeSet::new();
    for i in 0..9 {
        let name = format!("svc-{i}");
        let key = k.sk_live();
        org.add_repo(&name);
        org.commit(&name, "k.env", &format!("K={key}\n"), "k");
        keys.insert(sha(&key));
    }
    let mut seen: Vec<String> = Vec::new();
    let mut outputs = Vec::new();
    for shard in 1..=3 {
        let out = format!("shard-{shard}.jsonl");
        // Separate caches, as separate machines would have.
        let cache = format!("cache-{shard}");
        let spec = format!("{shard}/3");
        let run = org.sweep(&["--cache", &cache, "--shard", &spec, "-o", &out]);
        assert!(run.code <= 1, "{}", run.all());
        for v in jsonl_file(&org.dir().join(&out)) {
            seen.push(v["repo"].as_str().unwrap().to_string());
        }
        outputs.push(out);
    }
    seen.sort();
    let expected: Vec<String> = (0..9).map(|i| format!("acme/svc-{i}")).collect();
    assert_eq!(seen, expected, "each repository in exactly one shard");

    // Merging the shards (one of them twice) gives every key once.
    let mut args = vec!["report", "merge"];
    args.extend(outputs.iter().map(String::as_str));
    args.push(&outputs[0]);
    let merged = ks(org.dir(), &args);
    assert_eq!(merged.code, 1, "{}", merged.all());
    assert_eq!(merged.jsonl().len(), 9);
    assert_eq!(hashes(&merged.jsonl()), keys);
}

#[test]
fn sarif_outputs_of_shards_merge_into_one_result_per_secret() {
    let mut k = Fakes::new(505);
    let org = Org::new("acme");
    let shared = k.sk_live();
    for name in ["a", "b", "c", "d"] {
        org.add_repo(name);
        org.commit(name, "k.env", &format!("K={shared}\n"), "k");
    }
    let mut outs = Vec::new();
    for shard in 1..=2 {
        let out = format!("s{shard}.sarif");
        let spec = format!("{shard}/2");
        org.sweep(&[
            "--shard",
            &spec,
            "--format",
            "sarif",
            "-o",
            &out,
            "--fetch-all",
        ]);
        outs.push(out);
    }
    let run = ks(
        org.dir(),
        &["report", "merge", &outs[0], &outs[1], "--format", "sarif"],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    let sarif: Value = serde_json::from_str(&run.stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{results:#?}");
    assert_eq!(results[0]["properties"]["occurrences"], 4);
    let mut places: Vec<&str> = vec![results[0]["locations"][0]["physicalLocation"]
        ["artifactLocation"]["uri"]
        .as_str()
        .unwrap()];
    for l in results[0]["relatedLocations"].as_array().unwrap() {
        places.push(
            l["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap(),
        );
    }
    places.sort();
    assert_eq!(
        places,
        [
            "acme/a/k.env",
            "acme/b/k.env",
            "acme/c/k.env",
            "acme/d/k.env"
        ]
    );
    // SARIF cannot become JSONL.
    let bad = ks(
        org.dir(),
        &["report", "merge", &outs[0], "--format", "jsonl"],
    );
    assert_eq!(bad.code, 2, "{}", bad.all());
}

#[test]
fn rate_limits_are_waited_out_and_said() {
    let mut k = Fakes::new(506);
    let org = Org::new("acme");
    let key = k.sk_live();
    org.add_repo("api");
    org.commit("api", "k.env", &format!("K={key}\n"), "k");
    org.gh.world().primary_limits = 1;
    let started = Instant::now();
    let run = org.sweep(&[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(hashes(&run.jsonl()), [sha(&key)].into());
    assert!(started.elapsed() >= Duration::from_secs(2), "did not wait");
    assert!(
        run.stderr.contains("rate limit") && run.stderr.contains("waiting"),
        "{}",
        run.stderr
    );
    let log = org.gh.take_log();
    assert_eq!(log[0].status, 403);
    assert_eq!(log[1].path, "/orgs/acme/repos");
    assert_eq!(log[1].status, 200);

    // A secondary limit names its pause with Retry-After.
    org.gh.world().secondary_limits = 2;
    let run = org.events(&[]);
    assert!(run.code <= 1, "{}", run.all());
    assert_eq!(
        run.stderr.matches("waiting 1s").count(),
        2,
        "{}",
        run.stderr
    );
}

/// The keys each event type carries, and the event that carries them.
struct Planted {
    key: String,
    event: u64,
}

#[test]
fn every_text_event_type_is_scanned_with_event_actor_repo_and_url() {
    let mut k = Fakes::new(507);
    let org = Org::new("acme");
    org.add_repo("api");
    let mut planted: Vec<(&str, Planted)> = Vec::new();
    let mut id = 1000;
    for (file, var) in [
        ("issues.json", "BODY"),
        ("issue_comment.json", "BODY"),
        ("pull_request_review.json", "BODY"),
        ("pull_request_review_comment.json", "BODY"),
        ("commit_comment.json", "BODY"),
        ("release.json", "BODY"),
        ("gollum.json", "TITLE"),
    ] {
        id += 1;
        let key = k.sk_live();
        let body = format!("Here is what I used:\n\n    token={key}\n\nthanks");
        org.event(
            file,
            id,
            "api",
            &[(var, &body), ("ACTION", "opened"), ("NUMBER", "12")],
        );
        planted.push((file, Planted { key, event: id }));
    }
    // The pull request event comes without its body (as on github.com since October 2025):
    // keysweep fetches the pull request.
    id += 1;
    let pr_key = k.sk_live();
    org.event("pull_request.json", id, "api", &[]);
    let pull = fixture(
        "events/pull.json",
        &[
            ("REPO", "acme/api"),
            ("API", &org.gh.url),
            ("BODY", &format!("key {pr_key}")),
        ],
    );
    org.gh
        .world()
        .objects
        .insert("/repos/acme/api/pulls/7".into(), pull);
    planted.push((
        "pull_request.json",
        Planted {
            key: pr_key,
            event: id,
        },
    ));
    // Closing an issue repeats its text: not scanned again.
    id += 1;
    let closed = k.sk_live();
    org.event(
        "issues.json",
        id,
        "api",
        &[("BODY", &closed), ("ACTION", "closed"), ("NUMBER", "13")],
    );

    let wiki_key = k.msk();
    org.add_wiki_page(
        "api",
        "Deploying",
        &format!("Run deploy with KEY={wiki_key}\n"),
    );

    let run = org.events(&[]);
    let f = run.jsonl();
    assert!(!hashes(&f).contains(&sha(&closed)));
    for (file, p) in &planted {
        let x = find(&f, &p.key);
        assert_eq!(x["event_id"], p.event.to_string().as_str(), "{file}");
        assert_eq!(x["actor"], "mallory", "{file}");
        assert_eq!(x["repo"], "acme/api", "{file}");
        assert!(
            x["url"]
                .as_str()
                .unwrap()
                .starts_with("https://github.com/acme/api/"),
            "{file}: {x}"
        );
        assert_eq!(x["source"], "github", "{file}");
    }
    let issue = find(&f, &planted[0].1.key);
    assert_eq!(issue["path"], "issues/12");
    assert_eq!(issue["line"], 3);
    let pr = find(&f, &planted[7].1.key);
    assert_eq!(pr["url"], "https://github.com/acme/api/pull/7");
    // The wiki page's content is not in the event: it comes from the wiki's git repository.
    let w = find(&f, &wiki_key);
    assert_eq!(w["url"], "https://github.com/acme/api/wiki/Deploying");
    assert_eq!(w["path"], "Deploying.md");
    assert_eq!(w["event_id"], planted[6].1.event.to_string().as_str());
    assert_eq!(run.code, 1, "{}", run.all());
}

#[test]
fn push_event_scans_only_added_lines_of_the_compare_patch() {
    let mut k = Fakes::new(508);
    let org = Org::new("acme");
    org.add_repo("api");
    let (added, removed, context, message) = (k.sk_live(), k.sk_live(), k.sk_live(), k.msk());
    let (before, head) = ("1".repeat(40), "2".repeat(40));
    let vars = [
        ("REPO", "acme/api"),
        ("API", org.gh.url.as_str()),
        ("BEFORE", before.as_str()),
        ("HEAD", head.as_str()),
        ("ADDED_KEY", added.as_str()),
        ("REMOVED_KEY", removed.as_str()),
        ("CONTEXT_KEY", context.as_str()),
        ("MESSAGE_KEY", message.as_str()),
    ];
    let compare = fixture("compare.json", &vars);
    org.push_event(2001, "main", &before, &head, Some(compare));
    let run = org.events(&[]);
    assert_eq!(run.code, 1, "{}", run.all());
    let f = run.jsonl();
    assert_eq!(hashes(&f), [sha(&added), sha(&message)].into(), "{f:#?}");
    let a = find(&f, &added);
    assert_eq!(
        (a["path"].as_str(), a["line"].as_u64(), a["column"].as_u64()),
        (Some("config/payments.yml"), Some(3), Some(13))
    );
    assert_eq!(a["commit"], head.as_str());
    assert_eq!(
        a["url"],
        format!("https://github.com/acme/api/blob/{head}/config/payments.yml#L3").as_str()
    );
    assert_eq!(a["event_id"], "2001");
    let m = find(&f, &message);
    assert_eq!(m["source"], "commit-message");
    assert_eq!(m["line"], 3);
    assert_eq!(m["author"], "Dana Dev");
}

#[test]
fn truncated_compare_and_new_branches_fall_back_to_the_mirror() {
    let mut k = Fakes::new(509);
    let org = Org::new("acme");
    org.add_repo("api");
    let old = k.sk_live();
    let before = org.commit("api", "old.env", &format!("K={old}\n"), "old key");
    // A push whose compare response leaves out the patch of a large file.
    let big = k.sk_live();
    let dump: String =
        (0..2000).map(|i| format!("row {i}\n")).collect::<String>() + &format!("api_key={big}\n");
    let head = org.commit("api", "data/dump.sql", &dump, "dump");
    let compare = fixture(
        "compare-truncated.json",
        &[
            ("REPO", "acme/api"),
            ("API", &org.gh.url),
            ("BEFORE", &before),
            ("HEAD", &head),
            ("PATH", "data/dump.sql"),
        ],
    );
    org.push_event(3001, "main", &before, &head, Some(compare));
    // A new branch: nothing to compare with.
    let branch_key = k.msk();
    let branch_head = org.commit_on(
        "api",
        "feature",
        "f.env",
        &format!("M={branch_key}\n"),
        "feature",
    );
    let zero = "0".repeat(40);
    org.push_event(3002, "feature", &zero, &branch_head, None);

    let run = org.events(&[]);
    assert_eq!(run.code, 1, "{}", run.all());
    let f = run.jsonl();
    let b = find(&f, &big);
    assert_eq!(
        (b["path"].as_str(), b["line"].as_u64()),
        (Some("data/dump.sql"), Some(2001))
    );
    assert_eq!(b["event_id"], "3001");
    assert_eq!(b["commit"], head.as_str());
    assert!(
        run.stderr.contains("left out the patch of data/dump.sql"),
        "{}",
        run.stderr
    );
    let n = find(&f, &branch_key);
    assert_eq!(n["event_id"], "3002");
    assert_eq!(n["repo"], "acme/api");
    // The range scan does not re-report what was there before the push; the new-branch scan
    // (incremental, first time on this mirror) may, which is a repeat, never a miss.
    assert!(f
        .iter()
        .filter(|x| x["event_id"] == "3001")
        .all(|x| x["secret_sha256"] != sha(&old).as_str()));
}

#[test]
fn public_and_create_events_sweep_the_repository() {
    let mut k = Fakes::new(510);
    let org = Org::new("acme");
    org.add_repo("secret-project");
    let hidden = k.sk_live();
    org.commit("secret-project", "a.env", &format!("K={hidden}\n"), "k");
    org.add_repo("newborn");
    let fresh = k.msk();
    org.commit("newborn", "b.env", &format!("M={fresh}\n"), "k");
    org.event("public.json", 4001, "secret-project", &[]);
    org.event(
        "create.json",
        4002,
        "newborn",
        &[("REF", ""), ("REF_TYPE", "repository")],
    );
    let run = org.events(&[]);
    assert_eq!(run.code, 1, "{}", run.all());
    let f = run.jsonl();
    assert_eq!(find(&f, &hidden)["event_id"], "4001");
    assert_eq!(find(&f, &fresh)["event_id"], "4002");

    // Made public again later (or polled twice): a full sweep reports the history again,
    // because who can see it changed.
    let tag_key = k.sk_live();
    org.commit_on(
        "newborn",
        "release",
        "c.env",
        &format!("T={tag_key}\n"),
        "release branch",
    );
    org.event("public.json", 4003, "secret-project", &[]);
    org.event(
        "create.json",
        4004,
        "newborn",
        &[("REF", "release"), ("REF_TYPE", "branch")],
    );
    let run = org.events(&[]);
    let f = run.jsonl();
    assert_eq!(find(&f, &hidden)["event_id"], "4003");
    assert_eq!(find(&f, &tag_key)["event_id"], "4004");
    // The branch scan is incremental: the key from the first CreateEvent is not repeated.
    assert!(!hashes(&f).contains(&sha(&fresh)), "{f:#?}");
}

#[test]
fn event_polling_across_restarts_neither_misses_nor_repeats() {
    let mut k = Fakes::new(511);
    let org = Org::new("acme");
    org.add_repo("api");
    org.gh.world().page_cap = 2;
    // A member's token: the org feed is read through the member's dashboard, which also holds
    // private repositories' events.
    org.gh.world().login = Some("dana".into());
    let mut keys = Vec::new();
    for id in 101..=105 {
        let key = k.sk_live();
        org.issue_opened(id, &key);
        keys.push(key);
    }
    let state = org.dir().join("events.state");
    let state_arg = state.to_str().unwrap().to_string();
    let first = org.events(&["--state", &state_arg]);
    assert_eq!(
        hashes(&first.jsonl()),
        keys.iter().map(|k| sha(k)).collect()
    );
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["last_event_id"], "105");
    assert_eq!(saved["feed"], "orgs/acme");
    org.gh.take_log();

    // Three new events, more than a page (2 here) before the last one seen: all, and only them.
    let mut later = Vec::new();
    for id in 106..=108 {
        let key = k.sk_live();
        org.issue_opened(id, &key);
        later.push(key);
    }
    let second = org.events(&["--state", &state_arg]);
    assert_eq!(
        hashes(&second.jsonl()),
        later.iter().map(|k| sha(k)).collect()
    );
    let log = org.gh.take_log();
    assert_eq!(log[0].path, "/user");
    let polls: Vec<_> = log[1..].iter().collect();
    assert!(
        polls
            .iter()
            .all(|l| l.path == "/users/dana/events/orgs/acme"),
        "{log:?}"
    );
    assert!(polls[0].if_none_match.is_some(), "{log:?}");
    assert_eq!(polls[0].status, 200);
    // Pages are followed until event 105 shows up (page 2), not further.
    assert_eq!(polls.len(), 2, "{log:?}");

    // Nothing new: one conditional request, answered 304, nothing reported.
    let third = org.events(&["--state", &state_arg]);
    assert_eq!(third.code, 0, "{}", third.all());
    assert!(third.jsonl().is_empty());
    let log = org.gh.take_log();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[1].status, 304);

    // A state file is tied to its feed.
    let other = ks(
        org.dir(),
        &[
            "github",
            "events",
            "--user",
            "bob",
            "--api-url",
            &org.gh.url,
            "--state",
            &state_arg,
        ],
    );
    assert_eq!(other.code, 2);
    assert!(other.stderr.contains("orgs/acme"), "{}", other.stderr);
}

#[test]
fn a_feed_that_no_longer_reaches_the_last_event_is_reported_as_a_gap() {
    let mut k = Fakes::new(512);
    let org = Org::new("acme");
    org.add_repo("api");
    let state = org.dir().join("s.json");
    std::fs::write(
        &state,
        r#"{"feed":"orgs/acme","last_event_id":"50","etag":null}"#,
    )
    .unwrap();
    let key = k.sk_live();
    org.issue_opened(900, &key);
    let run = org.events(&["--state", state.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("missed"), "{}", run.stderr);
    assert_eq!(hashes(&run.jsonl()), [sha(&key)].into());
}

#[test]
fn watch_obeys_the_poll_interval_and_streams_findings() {
    let mut k = Fakes::new(513);
    let org = Org::new("acme");
    org.add_repo("api");
    org.gh.world().poll_interval = 1;
    let first = k.sk_live();
    org.issue_opened(1, &first);
    let watcher = org.watch(&[], &[]);
    assert_eq!(watcher.wait_for(1).len(), 1);
    let second = k.sk_live();
    org.issue_opened(2, &second);
    let lines = watcher.wait_for(2);
    drop(watcher);
    assert_eq!(lines.len(), 2);
    assert_eq!(hashes(&lines), [sha(&first), sha(&second)].into());
    let log = org.gh.take_log();
    let polls: Vec<&fake_github::Logged> = log
        .iter()
        .filter(|l| l.path == "/orgs/acme/events")
        .collect();
    assert!(polls.len() >= 2, "{log:?}");
    for pair in polls.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(950),
            "polled too fast: {polls:?}"
        );
    }
    assert!(polls[1..].iter().all(|p| p.if_none_match.is_some()));
}

#[test]
fn watch_revokes_leaked_keys_by_hash_as_events_arrive() {
    let service = start_key_service();
    let key = service.issue(KeyKind::SecretLive);
    let org = Org::new("acme");
    org.add_repo("api");
    org.gh.world().poll_interval = 1;
    std::fs::write(org.dir().join("keysweep.toml"), revoke_config(&service, "")).unwrap();
    org.issue_opened(1, &format!("prod is down, try with {}", key.key));
    let watcher = org.watch(&["--revoke"], &[(REVOKE_TOKEN_ENV, REVOKE_TOKEN)]);
    let found = watcher.wait_for(1);
    drop(watcher);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["revocation"], "revoked");
    assert_eq!(found[0]["event_id"], "1");
    assert_eq!(service.revocations(&key), 1);
    // What left keysweep holds the hash, never the key.
    let sent: String = service.requests().iter().map(|r| r.raw()).collect();
    assert!(sent.contains(&key.sha256()) && !sent.contains(&key.key));
    assert!(!service.accepts(&key), "the leaked key still works");
    let written = std::fs::read_to_string(org.dir().join("watch.jsonl")).unwrap();
    assert!(!written.contains(&key.key));
}

/// The measurement behind the cost figures in docs/github.md: an incremental rerun over an org
/// of 200 repositories. `cargo test --test integration -- --ignored --nocapture measure`.
#[test]
#[ignore]
fn measure_incremental_rerun_of_200_repositories() {
    let mut k = Fakes::new(599);
    let org = Org::new("acme");
    for i in 0..200 {
        let name = format!("repo-{i:03}");
        org.add_repo(&name);
        org.commit(&name, "README.md", &format!("# {name}\n"), "init");
        org.commit(
            &name,
            "src/lib.rs",
            &format!("// {i}\npub fn f() {{}}\n"),
            "code",
        );
        if i % 20 == 0 {
            org.commit(&name, "k.env", &format!("K={}\n", k.sk_live()), "key");
        }
    }
    let time = |args: &[&str]| {
        org.gh.take_log();
        let t = Instant::now();
        let run = org.sweep(args);
        let secs = t.elapsed().as_secs_f64();
        let calls = org.gh.take_log().len();
        (run, secs, calls)
    };
    let (run, secs, calls) = time(&[]);
    assert_eq!(run.jsonl().len(), 10, "{}", run.stderr);
    println!("first sweep: {calls} API calls, {secs:.2} s");
    let (run, secs, calls) = time(&[]);
    assert!(run.jsonl().is_empty());
    println!("incremental rerun, nothing pushed: {calls} API calls, {secs:.2} s");
    for i in (0..200).step_by(10) {
        let name = format!("repo-{i:03}");
        org.commit(&name, "CHANGELOG.md", "changes\n", "more");
    }
    let (_, secs, calls) = time(&[]);
    println!("incremental rerun, 20 repositories pushed: {calls} API calls, {secs:.2} s");
    let (_, secs, calls) = time(&["--fetch-all"]);
    println!(
        "incremental rerun with --fetch-all (every mirror fetched): {calls} API calls, {secs:.2} s"
    );
}
