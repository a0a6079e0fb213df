//! `keysweep ci` end to end: recorded GitHub event payloads (fixtures/events) over real
//! repositories cloned the way actions/checkout clones them (shallow, from a remote), checking
//! the range scanned, the findings, annotations, job summary, step outputs and exit code.

use std::collections::BTreeSet;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::fakes::Fakes;
use crate::harness::git::{commit_file, file_url, git, git_init, shallow_clone};
use crate::harness::report::{hashes, jsonl_file, sha};
use crate::harness::{command, fixture, keysweep_cmd, repo_path, Run, BIN};

/// A remote with history, and the secrets planted in it.
struct Remote {
    tmp: tempfile::TempDir,
    /// c0 README, c1 adds old.txt (old key), c2 adds app.py (new key), c3 docs: on main.
    c: Vec<String>,
    old_key: String,
    new_key: String,
}

impl Remote {
    fn new(seed: u64) -> Remote {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("remote");
        git_init(&dir);
        let mut k = Fakes::new(seed);
        let (old_key, new_key) = (k.sk_live(), k.msk());
        let c = vec![
            commit_file(&dir, "README.md", "# app\n", "c0"),
            commit_file(&dir, "old.txt", &format!("key = {old_key}\n"), "c1"),
            commit_file(&dir, "app.py", &format!("SECRET = '{new_key}'\n"), "c2"),
            commit_file(&dir, "docs.md", "docs\n", "c3"),
        ];
        Remote {
            tmp,
            c,
            old_key,
            new_key,
        }
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("remote")
    }

    fn url(&self) -> String {
        file_url(&self.dir())
    }

    /// A depth-1 clone of `branch`, as actions/checkout makes it.
    fn checkout(&self, branch: &str) -> PathBuf {
        let dir = self.tmp.path().join(format!("checkout-{branch}"));
        shallow_clone(self.tmp.path(), &self.url(), branch, dir.to_str().unwrap());
        dir
    }
}

/// A `keysweep ci` run and the files it wrote for the runner.
struct CiRun {
    run: Run,
    findings: Vec<Value>,
    outputs: String,
    summary: String,
    sarif: Option<Value>,
}

impl Deref for CiRun {
    type Target = Run;

    fn deref(&self) -> &Run {
        &self.run
    }
}

fn payload(name: &str, vars: &[(&str, &str)]) -> String {
    fixture(&format!("events/{name}"), vars)
}

fn run_ci(checkout: &Path, event: &str, payload: &str, extra: &[&str]) -> CiRun {
    let work = tempfile::tempdir().unwrap();
    let event_path = work.path().join("event.json");
    std::fs::write(&event_path, payload).unwrap();
    let (outputs, summary) = (work.path().join("out"), work.path().join("summary.md"));
    let report = work.path().join("report.jsonl");
    let sarif = work.path().join("ks.sarif");
    let run = keysweep_cmd(work.path())
        .args([
            "ci",
            "--sarif",
            sarif.to_str().unwrap(),
            "--format",
            "jsonl",
            "-o",
        ])
        .arg(&report)
        .args(extra)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", event)
        .env("GITHUB_EVENT_PATH", &event_path)
        .env("GITHUB_WORKSPACE", checkout)
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_REPOSITORY", "acme/app")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_SHA", "f".repeat(40))
        .run();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    CiRun {
        run,
        findings: jsonl_file(&report),
        outputs: read(&outputs),
        summary: read(&summary),
        sarif: std::fs::read_to_string(&sarif)
            .ok()
            .map(|t| serde_json::from_str(&t).unwrap()),
    }
}

#[test]
fn push_scans_exactly_the_pushed_commits_and_reports_everywhere() {
    let r = Remote::new(1);
    let checkout = r.checkout("main");
    let p = payload("push.json", &[("BEFORE", &r.c[1]), ("AFTER", &r.c[3])]);
    let run = run_ci(&checkout, "push", &p, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    // The key added before the range is not reported again; the one the push added is,
    // attributed to the commit that added it.
    assert_eq!(hashes(&run.findings), [sha(&r.new_key)].into());
    assert_eq!(run.findings[0]["path"], "app.py");
    assert_eq!(run.findings[0]["commit"], r.c[2].as_str());
    assert!(
        run.stdout
            .contains("::error file=app.py,line=1,col=11,title=keysweep keyservice.msk-secret::"),
        "{}",
        run.stdout
    );
    assert!(
        run.summary.contains("1 leaked secret found"),
        "{}",
        run.summary
    );
    assert!(
        run.summary
            .contains(&format!("push, commits {}", &r.c[1][..12])),
        "{}",
        run.summary
    );
    assert!(run.summary.contains(&format!(
        "https://github.com/acme/app/blob/{}/app.py#L1",
        r.c[2]
    )));
    assert!(run.outputs.contains("findings=1\n"), "{}", run.outputs);
    assert!(run.outputs.contains("sarif-file="));
    let sarif = run.sarif.as_ref().unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 1);
    // The history was deepened to reach `before`; that is said.
    assert!(run.stderr.contains("fetched history"), "{}", run.stderr);
    for text in [&run.stdout, &run.stderr, &run.summary, &run.outputs] {
        assert!(!text.contains(&r.new_key), "raw key in CI output");
    }
}

#[test]
fn first_push_of_a_branch_scans_what_is_not_on_the_default_branch() {
    let r = Remote::new(2);
    git(&r.dir(), &["checkout", "-q", "-b", "feature"]);
    let mut k = Fakes::new(20);
    let feature_key = k.sk_live();
    let head = commit_file(
        &r.dir(),
        "feature.rs",
        &format!("let k = \"{feature_key}\";\n"),
        "feature",
    );
    let checkout = r.checkout("feature");
    let p = payload(
        "push-first.json",
        &[("BRANCH", "feature"), ("AFTER", &head)],
    );
    let run = run_ci(&checkout, "push", &p, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        hashes(&run.findings),
        [sha(&feature_key)].into(),
        "main's keys are not this push's"
    );
}

#[test]
fn force_push_whose_old_tip_is_gone_falls_back_to_the_branch_commits() {
    let r = Remote::new(3);
    git(&r.dir(), &["checkout", "-q", "-b", "feature"]);
    let mut k = Fakes::new(30);
    let feature_key = k.msk();
    let head = commit_file(&r.dir(), "f.txt", &format!("{feature_key}\n"), "rewritten");
    let checkout = r.checkout("feature");
    let gone = "1234567890abcdef1234567890abcdef12345678";
    let p = payload(
        "push-force.json",
        &[("BRANCH", "feature"), ("BEFORE", gone), ("AFTER", &head)],
    );
    let run = run_ci(&checkout, "push", &p, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(hashes(&run.findings), [sha(&feature_key)].into());
    assert!(run.stderr.contains("is gone"), "{}", run.stderr);
}

#[test]
fn deleting_a_branch_scans_nothing_and_says_so() {
    let r = Remote::new(4);
    let checkout = r.checkout("main");
    let p = payload("push-delete.json", &[("BEFORE", &r.c[3])]);
    let run = run_ci(&checkout, "push", &p, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.summary.contains("no leaked secrets")
            && run.summary.contains("nothing (push deleted a ref"),
        "{}",
        run.summary
    );
}

#[test]
fn pull_request_from_a_fork_scans_its_commits_from_the_merge_checkout() {
    let r = Remote::new(5);
    // The fork's commit, published by GitHub as refs/pull/7/head, and the merge ref
    // actions/checkout checks out for pull_request events.
    git(&r.dir(), &["checkout", "-q", "-b", "fork-work"]);
    let mut k = Fakes::new(50);
    let fork_key = k.sk_live();
    let head = commit_file(
        &r.dir(),
        "contrib.js",
        &format!("const k = '{fork_key}';\n"),
        "contrib",
    );
    git(&r.dir(), &["checkout", "-q", "main"]);
    git(
        &r.dir(),
        &["merge", "-q", "--no-ff", "-m", "Merge 7", "fork-work"],
    );
    let merge = git(&r.dir(), &["rev-parse", "HEAD"]);
    git(&r.dir(), &["update-ref", "refs/pull/7/head", &head]);
    git(&r.dir(), &["update-ref", "refs/pull/7/merge", &merge]);
    git(&r.dir(), &["reset", "-q", "--hard", &r.c[3]]);
    git(&r.dir(), &["branch", "-q", "-D", "fork-work"]);

    let checkout = r.tmp.path().join("pr-checkout");
    git_init(&checkout);
    git(&checkout, &["remote", "add", "origin", &r.url()]);
    git(
        &checkout,
        &[
            "fetch",
            "-q",
            "--depth=1",
            "origin",
            "+refs/pull/7/merge:refs/remotes/pull/7/merge",
        ],
    );
    git(&checkout, &["checkout", "-q", "refs/remotes/pull/7/merge"]);

    let p = payload(
        "pull_request.json",
        &[
            ("BRANCH", "fork-work"),
            ("HEAD", &head),
            ("BASE", &r.c[3]),
            ("HEAD_REPO", "someone/app"),
            ("FORK", "true"),
            ("MERGE", &merge),
        ],
    );
    let run = run_ci(&checkout, "pull_request", &p, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(hashes(&run.findings), [sha(&fork_key)].into());
    assert!(run.summary.contains("pull request #7"), "{}", run.summary);
}

#[test]
fn merge_group_scans_base_to_head() {
    let r = Remote::new(6);
    let checkout = r.checkout("main");
    let p = payload("merge_group.json", &[("BASE", &r.c[1]), ("HEAD", &r.c[3])]);
    let run = run_ci(&checkout, "merge_group", &p, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(hashes(&run.findings), [sha(&r.new_key)].into());
}

#[test]
fn schedule_scans_the_full_history_of_a_shallow_checkout() {
    let r = Remote::new(7);
    // A key added and deleted again is still in history.
    let mut k = Fakes::new(70);
    let deleted_key = k.sk_live();
    commit_file(&r.dir(), "tmp.env", &format!("K={deleted_key}\n"), "oops");
    git(&r.dir(), &["rm", "-q", "tmp.env"]);
    git(&r.dir(), &["commit", "-q", "-m", "remove"]);
    let checkout = r.checkout("main");
    let run = run_ci(&checkout, "schedule", &payload("schedule.json", &[]), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let want: BTreeSet<String> = [sha(&r.old_key), sha(&r.new_key), sha(&deleted_key)].into();
    assert_eq!(hashes(&run.findings), want);
    assert!(
        run.summary.contains("the full history (schedule"),
        "{}",
        run.summary
    );
}

#[test]
fn shallow_checkout_without_deepening_fails_closed() {
    let r = Remote::new(8);
    let checkout = r.checkout("main");
    let p = payload("push.json", &[("BEFORE", &r.c[1]), ("AFTER", &r.c[3])]);
    let run = run_ci(&checkout, "push", &p, &["--no-deepen"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("fetch-depth: 0"), "{}", run.stderr);
    assert!(run.findings.is_empty());

    // A base that exists nowhere fails closed too, even with deepening.
    let gone = "abcdefabcdefabcdefabcdefabcdefabcdefabcd";
    let p = payload(
        "pull_request.json",
        &[
            ("BRANCH", "x"),
            ("HEAD", &r.c[3]),
            ("BASE", gone),
            ("HEAD_REPO", "acme/app"),
            ("FORK", "false"),
            ("MERGE", &r.c[3]),
        ],
    );
    let run = run_ci(&checkout, "pull_request", &p, &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("not in this checkout"),
        "{}",
        run.stderr
    );
}

#[test]
fn mode_range_refuses_events_without_a_range() {
    let r = Remote::new(9);
    let checkout = r.checkout("main");
    let run = run_ci(
        &checkout,
        "schedule",
        &payload("schedule.json", &[]),
        &["--mode", "range"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("names no commit range"),
        "{}",
        run.stderr
    );
}

/// The action's run step, with INPUT_* and GITHUB_* set as the runner sets them.
#[test]
fn action_run_script_sets_outputs_and_fails_closed() {
    let r = Remote::new(10);
    let checkout = r.checkout("main");
    let work = tempfile::tempdir().unwrap();
    let event = work.path().join("event.json");
    std::fs::write(
        &event,
        payload("push.json", &[("BEFORE", &r.c[1]), ("AFTER", &r.c[3])]),
    )
    .unwrap();
    let script = repo_path("scripts/action-run.sh");
    let run = |fail_on_findings: &str, args: &str| {
        let outputs = work
            .path()
            .join(format!("out-{fail_on_findings}-{}", args.len()));
        let run = command("bash", work.path())
            .arg(&script)
            .env("INPUT_MODE", "auto")
            .env("INPUT_ARGS", args)
            .env("INPUT_CONFIG", "")
            .env("INPUT_SARIF", "keysweep.sarif")
            .env("INPUT_FAIL_ON_FINDINGS", fail_on_findings)
            .env("INPUT_REVOKE", "false")
            .env("KEYSWEEP_BIN", BIN)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", "push")
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_WORKSPACE", &checkout)
            .env("GITHUB_OUTPUT", &outputs)
            .run();
        (
            run.code,
            std::fs::read_to_string(&outputs).unwrap_or_default(),
            run.stdout,
        )
    };
    let (code, outputs, stdout) = run("true", "");
    assert_eq!(code, 1, "{stdout}");
    assert!(
        outputs.contains("findings=1\n") && outputs.contains("exit-code=1\n"),
        "{outputs}"
    );
    assert!(outputs.contains("sarif-file=keysweep.sarif\n"), "{outputs}");
    assert!(
        checkout.join("keysweep.sarif").is_file(),
        "SARIF written in the workspace"
    );
    assert!(stdout.contains("::error file=app.py"), "{stdout}");

    let (code, outputs, _) = run("false", "");
    assert_eq!(code, 0, "fail-on-findings: false lets findings pass");
    assert!(outputs.contains("exit-code=1\n"));

    // An incomplete scan fails whatever fail-on-findings says.
    let (code, outputs, stdout) = run("false", "--mode range --event-name schedule");
    assert_eq!(code, 2, "{stdout}");
    assert!(outputs.contains("exit-code=2\n"), "{outputs}");
    assert!(stdout.contains("::error title=keysweep::"), "{stdout}");
}

/// The action's install step: a cached binary is used as is and named in the step outputs.
#[test]
fn action_install_script_uses_the_cached_binary() {
    let work = tempfile::tempdir().unwrap();
    let bin_dir = work.path().join("keysweep-bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    // Copied by cp, not std::fs::copy: while this process holds the copy open for writing, a
    // child another test forks inherits that descriptor until it execs, and running the copy
    // meanwhile fails with ETXTBSY ("Text file busy").
    let cp = command("cp", work.path())
        .arg(BIN)
        .arg(bin_dir.join("keysweep"))
        .run();
    assert_eq!(cp.code, 0, "{}", cp.stderr);
    let outputs = work.path().join("out");
    let script = repo_path("scripts/action-install.sh");
    let run = command("bash", work.path())
        .arg(&script)
        .env("KEYSWEEP_BIN_DIR", &bin_dir)
        .env("GITHUB_OUTPUT", &outputs)
        .env("INPUT_VERSION", "")
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("using cached keysweep"),
        "{}",
        run.stdout
    );
    let written = std::fs::read_to_string(&outputs).unwrap();
    assert_eq!(written, format!("bin={}/keysweep\n", bin_dir.display()));
}
