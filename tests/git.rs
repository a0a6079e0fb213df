//! `keysweep git`, `keysweep staged` and `keysweep install-hook` against real repositories built
//! with the git CLI in temporary directories. Each test uses its own one-rule file, so the
//! built-in rule pack can change without touching these.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::fakes::{Fakes, BASE62};
use crate::harness::git::{file_url, git_cmd, git_dated, shallow_clone, AUTHOR, EMAIL};
use crate::harness::report::sha as secret_sha;
use crate::harness::{keysweep, write, Run};

pub(crate) const RULE: &str = r#"
[[rule]]
id = "test.key"
description = "test key"
regex = '''\b(tk_[A-Za-z0-9]{24})\b'''
keywords = ["tk_"]
"#;

/// Distinct format-valid test keys (random-looking, so no placeholder filter drops them).
pub(crate) fn key(n: u32) -> String {
    format!("tk_{}", Fakes::new(u64::from(n)).body(24, BASE62))
}

/// A scratch repository plus a rule file beside it.
struct Repo {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    rules: PathBuf,
    /// Commit dates advance one day per commit, so "first" is unambiguous.
    day: u32,
}

impl Repo {
    fn new() -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo");
        std::fs::create_dir_all(&dir).unwrap();
        let rules = write(tmp.path(), "rules.toml", RULE);
        let repo = Repo {
            _tmp: tmp,
            dir,
            rules,
            day: 1,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    fn path(&self) -> &Path {
        &self.dir
    }

    fn git(&self, args: &[&str]) -> String {
        git_at(&self.dir, args, self.day)
    }

    /// Writes files (content `None` deletes) and commits them; returns the commit id.
    fn commit(&mut self, files: &[(&str, Option<&str>)], message: &str) -> String {
        for (rel, content) in files {
            match content {
                Some(c) => {
                    write(&self.dir, rel, c);
                }
                None => std::fs::remove_file(self.dir.join(rel)).unwrap(),
            }
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.day += 1;
        self.git(&["rev-parse", "HEAD"])
    }

    /// `keysweep <args> --no-builtin-rules --rules RULES` in the repository.
    fn keysweep(&self, args: &[&str]) -> Run {
        self.keysweep_in(&self.dir, args)
    }

    fn keysweep_in(&self, dir: &Path, args: &[&str]) -> Run {
        let rules = self.rules.to_str().unwrap();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--no-builtin-rules", "--rules", rules]);
        keysweep(dir, &all)
    }
}

fn git_at(dir: &Path, args: &[&str], day: u32) -> String {
    git_dated(
        dir,
        args,
        &format!("2026-01-{:02}T12:00:00Z", day.clamp(1, 28)),
    )
}

/// The counters of the closing note: (reachable blobs, blobs read, streamed).
fn counts(run: &Run) -> (u64, u64, u64) {
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("blobs read") || l.contains("blob read"))
        .unwrap_or_else(|| panic!("no counts in: {}", run.stderr));
    let number_before = |word: &str| -> u64 {
        let i = line
            .find(word)
            .unwrap_or_else(|| panic!("{word} in {line}"));
        line[..i]
            .split(|c: char| !c.is_ascii_digit())
            .rfind(|s| !s.is_empty())
            .unwrap()
            .parse()
            .unwrap()
    };
    (
        number_before(" reachable blob"),
        number_before(" blob"),
        number_before(" streamed"),
    )
}

fn findings(run: &Run) -> Vec<Value> {
    run.jsonl()
}

/// A finding's other places, as (commit, path).
fn also(finding: &Value) -> Vec<(&str, &str)> {
    finding["also"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["commit"].as_str().unwrap(), p["path"].as_str().unwrap()))
        .collect()
}

#[test]
fn a_secret_added_then_deleted_is_found_and_attributed_to_the_adding_commit() {
    let mut r = Repo::new();
    r.commit(&[("README", Some("hello\n"))], "start");
    let added = r.commit(
        &[(
            "config/app.env",
            Some(&format!("# settings\nAPI_KEY={}\n", key(1))),
        )],
        "add config",
    );
    r.commit(&[("config/app.env", None)], "remove the key again");
    r.commit(&[("README", Some("hello again\n"))], "later work");

    // Loose objects first, then the same history packed (read by whole-pack decoding).
    for packed in [false, true] {
        if packed {
            r.git(&["gc", "-q"]);
        }
        let run = r.keysweep(&["git", ".", "-f", "jsonl"]);
        assert_eq!(run.code, 1, "{}", run.all());
        let f = findings(&run);
        assert_eq!(f.len(), 1, "packed {packed}: {}", run.stdout);
        assert_eq!(f[0]["secret_sha256"], secret_sha(&key(1)));
        assert_eq!(f[0]["commit"], added.as_str());
        assert_eq!(f[0]["path"], "config/app.env");
        assert_eq!(f[0]["line"], 2);
        assert_eq!(f[0]["author"], AUTHOR);
        assert_eq!(f[0]["email"], EMAIL);
        assert_eq!(f[0]["date"], "2026-01-02T12:00:00+00:00");
        assert!(f[0].get("other_places").is_none());
        assert!(!run.stdout.contains(&key(1)), "raw secret in the report");
    }
}

#[test]
fn a_key_kept_through_later_edits_is_one_finding_and_a_copied_directory_is_another_place() {
    let mut r = Repo::new();
    let first = r.commit(
        &[("svc/conf/keys.txt", Some(&format!("k={}\n", key(4))))],
        "add",
    );
    // Later versions of the file keep the key: one leak, reported where it appeared.
    r.commit(
        &[(
            "svc/conf/keys.txt",
            Some(&format!("k={}\nmore=1\n", key(4))),
        )],
        "edit",
    );
    // The first version's directory copied elsewhere: the same trees and blob at a new path.
    r.commit(
        &[("svc/conf/keys.txt", Some(&format!("k={}\n", key(4))))],
        "revert",
    );
    std::fs::create_dir_all(r.path().join("old")).unwrap();
    let copy = r.commit(
        &[("old/svc/conf/keys.txt", Some(&format!("k={}\n", key(4))))],
        "copy",
    );
    r.git(&["gc", "-q"]);
    let run = r.keysweep(&["git", ".", "-f", "jsonl"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let f = findings(&run);
    assert_eq!(f.len(), 1, "{}", run.stdout);
    assert_eq!(f[0]["commit"], first.as_str());
    assert_eq!(f[0]["path"], "svc/conf/keys.txt");
    let also = also(&f[0]);
    assert!(
        also.contains(&(copy.as_str(), "old/svc/conf/keys.txt")),
        "{also:?}"
    );
}

/// A whole-history scan diffs only the commits whose tree holds the leaked blob at a path no
/// parent holds it at (worked out from the tree graph): every such place must still be listed,
/// and no merge that only brings an existing place together.
#[test]
fn every_commit_that_put_a_key_at_a_new_path_is_listed_and_merges_are_not() {
    let mut r = Repo::new();
    let content = format!("k={}\n", key(7));
    r.commit(&[("README", Some("base\n"))], "base");
    let added = r.commit(&[("svc/keys.txt", Some(&content))], "add");
    r.git(&["checkout", "-q", "-b", "side"]);
    let copied = r.commit(&[("lib/keys.txt", Some(&content))], "copy on a branch");
    r.git(&["checkout", "-q", "main"]);
    r.commit(&[("README", Some("two\n"))], "unrelated");
    r.commit(&[("svc/keys.txt", None)], "delete");
    r.git(&["merge", "-q", "--no-ff", "-m", "merge side", "side"]);
    r.day += 1;
    let restored = r.commit(&[("svc/keys.txt", Some(&content))], "restore");
    r.git(&["mv", "lib/keys.txt", "moved.txt"]);
    let moved = r.commit(&[], "move");
    r.commit(&[("README", Some("three\n"))], "later");
    for threads in ["1", "2"] {
        let run = r.keysweep(&["git", ".", "-f", "jsonl", "-j", threads]);
        assert_eq!(run.code, 1, "{}", run.all());
        let f = findings(&run);
        assert_eq!(f.len(), 1, "{}", run.stdout);
        assert_eq!(f[0]["commit"], added.as_str());
        assert_eq!(f[0]["path"], "svc/keys.txt");
        let also = also(&f[0]);
        let expected = [
            (copied.as_str(), "lib/keys.txt"),
            (restored.as_str(), "svc/keys.txt"),
            (moved.as_str(), "moved.txt"),
        ];
        assert_eq!(also, expected, "-j {threads}");
        assert_eq!(f[0]["other_places"], 3);
    }
}

#[test]
fn unreachable_objects_are_reported_only_with_all_objects() {
    let mut r = Repo::new();
    r.commit(&[("a.txt", Some("clean\n"))], "one");
    // Amending away a key leaves the old commit dangling: no ref reaches it.
    let dangling = r.commit(&[("b.txt", Some(&format!("{}\n", key(5))))], "two");
    write(r.path(), "b.txt", "gone\n");
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "--amend", "-m", "two, without the key"]);
    // A blob written but never committed.
    write(r.path(), "loose.txt", format!("{}\n", key(6)));
    let loose = r.git(&["hash-object", "-w", "loose.txt"]);
    std::fs::remove_file(r.path().join("loose.txt")).unwrap();

    let default = r.keysweep(&["git", ".", "-f", "jsonl"]);
    assert_eq!(default.code, 0, "{}", default.all());
    assert!(
        default.stderr.contains("no ref reaches"),
        "{}",
        default.stderr
    );

    let all = r.keysweep(&["git", ".", "--all-objects", "-f", "jsonl"]);
    assert_eq!(all.code, 1, "{}", all.all());
    let f = findings(&all);
    assert_eq!(f.len(), 2, "{}", all.stdout);
    let amended = f
        .iter()
        .find(|x| x["secret_sha256"] == secret_sha(&key(5)))
        .unwrap();
    assert_eq!(amended["commit"], dangling.as_str());
    assert_eq!(amended["path"], "b.txt");
    let unplaced = f
        .iter()
        .find(|x| x["secret_sha256"] == secret_sha(&key(6)))
        .unwrap();
    assert_eq!(unplaced["blob"], loose.as_str());
    assert!(unplaced.get("commit").is_none());
}

#[test]
fn the_same_blob_on_two_branches_is_scanned_once_and_reported_once_with_both_places() {
    let mut r = Repo::new();
    r.commit(&[("README", Some("base\n"))], "base");
    let content = format!("token = \"{}\"\n", key(2));
    r.git(&["checkout", "-q", "-b", "feature-a"]);
    let first = r.commit(&[("a/creds.txt", Some(&content))], "a");
    r.git(&["checkout", "-q", "main"]);
    r.git(&["checkout", "-q", "-b", "feature-b"]);
    let second = r.commit(&[("b/copy.txt", Some(&content))], "b");

    let run = r.keysweep(&["git", ".", "-f", "jsonl"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let f = findings(&run);
    assert_eq!(f.len(), 1, "{}", run.stdout);
    assert_eq!(f[0]["commit"], first.as_str());
    assert_eq!(f[0]["path"], "a/creds.txt");
    assert_eq!(f[0]["other_places"], 1);
    assert_eq!(f[0]["also"][0]["commit"], second.as_str());
    assert_eq!(f[0]["also"][0]["path"], "b/copy.txt");

    // Three distinct blobs exist (README, the shared credentials file): each read once.
    let unique_blobs = r
        .git(&["rev-list", "--all", "--objects", "--no-object-names"])
        .lines()
        .filter(|id| r.git(&["cat-file", "-t", id]) == "blob")
        .count() as u64;
    assert_eq!(unique_blobs, 2);
    let (reachable, read, _) = counts(&run);
    assert_eq!(
        (reachable, read),
        (unique_blobs, unique_blobs),
        "{}",
        run.stderr
    );
}

#[test]
fn a_secret_in_a_commit_message_is_found() {
    let mut r = Repo::new();
    let c = r.commit(
        &[("README", Some("x\n"))],
        &format!("fix login\n\nused {} while debugging", key(3)),
    );
    let run = r.keysweep(&["git", ".", "-f", "jsonl"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let f = findings(&run);
    assert_eq!(f.len(), 1, "{}", run.stdout);
    assert_eq!(f[0]["source"], "commit-message");
    assert_eq!(f[0]["commit"], c.as_str());
    assert_eq!(f[0]["line"], 3);
    assert_eq!(f[0]["author"], AUTHOR);
}

#[test]
fn findings_are_identical_whatever_the_number_of_threads() {
    let mut r = Repo::new();
    for i in 0..12u32 {
        r.commit(
            &[(
                &format!("d{}/f{i}.txt", i % 3),
                Some(&format!("k={}\n", key(100 + i))),
            )],
            &format!("c{i}"),
        );
    }
    r.git(&["checkout", "-q", "-b", "side", "HEAD~5"]);
    r.commit(&[("d0/f0.txt", Some(&format!("k={}\n", key(105))))], "copy");
    let one = r.keysweep(&["git", ".", "-f", "json", "-j", "1"]);
    let four = r.keysweep(&["git", ".", "-f", "json", "-j", "4"]);
    let strip = |run: &Run| -> Value {
        let mut v: Value = serde_json::from_str(&run.stdout).unwrap();
        v["summary"]["elapsed_ms"] = Value::Null;
        v
    };
    assert_eq!(strip(&one), strip(&four));
    assert_eq!(strip(&one)["findings"].as_array().unwrap().len(), 12);
}

#[test]
fn a_range_reports_only_what_its_commits_added() {
    let mut r = Repo::new();
    let old = key(10);
    let base = r.commit(&[("app.cfg", Some(&format!("old = {old}\n")))], "base");
    r.git(&["checkout", "-q", "-b", "pr"]);
    // The PR edits the file holding the old key, copies it unchanged, and adds a new key.
    r.commit(
        &[
            (
                "app.cfg",
                Some(&format!("old = {old}\nnew = {}\n", key(11))),
            ),
            ("copy.cfg", Some(&format!("old = {old}\n"))),
        ],
        "pr work",
    );
    let head = r.commit(&[("notes.txt", Some("no secrets\n"))], "more");

    let range = format!("{base}..{head}");
    let run = r.keysweep(&["git", ".", "--range", &range, "-f", "jsonl"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let f = findings(&run);
    assert_eq!(f.len(), 1, "{}", run.stdout);
    assert_eq!(f[0]["secret_sha256"], secret_sha(&key(11)));
    assert_eq!(f[0]["path"], "app.cfg");
    assert_eq!(f[0]["line"], 2);

    // The same range by name, and a range with nothing new, pass.
    let clean = r.keysweep(&["git", ".", "--range", "HEAD~1..HEAD", "-f", "jsonl"]);
    assert_eq!(clean.code, 0, "{}", clean.all());
    // The full history still has both keys.
    assert_eq!(findings(&r.keysweep(&["git", ".", "-f", "jsonl"])).len(), 2);
}

#[test]
fn a_range_with_a_missing_base_or_an_unexpected_empty_range_fails_closed() {
    let mut r = Repo::new();
    let first = r.commit(&[("a", Some("1\n"))], "one");
    r.commit(&[("a", Some("2\n"))], "two");
    r.commit(&[("a", Some(&format!("{}\n", key(20))))], "three");

    let unknown = r.keysweep(&["git", ".", "--range", "no-such-branch..HEAD"]);
    assert_eq!(unknown.code, 2, "{}", unknown.all());
    assert!(
        unknown.stderr.contains("unknown base revision"),
        "{}",
        unknown.stderr
    );
    assert!(unknown.stderr.contains("fetch"), "{}", unknown.stderr);

    let absent = "0123456789abcdef0123456789abcdef01234567";
    let run = r.keysweep(&["git", ".", "--range", &format!("{absent}..HEAD")]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("fetch"), "{}", run.stderr);

    let empty = r.keysweep(&["git", ".", "--range", "HEAD..HEAD~1"]);
    assert_eq!(empty.code, 2, "{}", empty.all());
    assert!(
        empty.stderr.contains("holds no commits"),
        "{}",
        empty.stderr
    );
    let allowed = r.keysweep(&["git", ".", "--range", "HEAD..HEAD~1", "--allow-empty-range"]);
    assert_eq!(allowed.code, 0, "{}", allowed.all());

    // A depth-1 clone has HEAD but not the base: fail with the fetch-depth hint, never pass.
    let shallow = r.path().parent().unwrap().join("shallow");
    shallow_clone(
        r.path().parent().unwrap(),
        &file_url(r.path()),
        "main",
        shallow.to_str().unwrap(),
    );
    let run = r.keysweep_in(
        &shallow,
        &["git", ".", "--range", &format!("{first}..HEAD")],
    );
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("fetch-depth: 0"), "{}", run.stderr);
    // Its full history scan works and says it is shallow.
    let full = r.keysweep_in(&shallow, &["git", ".", "-f", "jsonl"]);
    assert_eq!(full.code, 1, "{}", full.all());
    assert!(full.stderr.contains("shallow clone"), "{}", full.stderr);
}

#[test]
fn incremental_runs_read_only_what_is_new() {
    let mut r = Repo::new();
    r.commit(&[("a.txt", Some(&format!("{}\n", key(30))))], "one");
    r.commit(&[("b.txt", Some("plain\n"))], "two");
    let state = r.path().parent().unwrap().join("ks.state");
    let state_arg = state.to_str().unwrap();

    let first = r.keysweep(&["git", ".", "--state", state_arg, "-f", "jsonl"]);
    assert_eq!(first.code, 1, "{}", first.all());
    assert_eq!(counts(&first).1, 2, "{}", first.stderr);

    let second = r.keysweep(&["git", ".", "--state", state_arg, "-f", "jsonl"]);
    assert_eq!(second.code, 0, "{}", second.all());
    assert!(second.stderr.contains("0 blobs read"), "{}", second.stderr);
    assert!(findings(&second).is_empty());

    // A new commit with one new blob: exactly that blob is read, and only its key reported.
    r.commit(&[("c.txt", Some(&format!("{}\n", key(31))))], "three");
    let third = r.keysweep(&["git", ".", "--state", state_arg, "-f", "jsonl"]);
    assert_eq!(third.code, 1, "{}", third.all());
    assert_eq!(counts(&third).1, 1, "{}", third.stderr);
    let f = findings(&third);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["secret_sha256"], secret_sha(&key(31)));

    // No temporary file is left beside the state; a damaged state means a full rescan.
    let dir = state.parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let mut bytes = std::fs::read(&state).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&state, bytes).unwrap();
    let damaged = r.keysweep(&["git", ".", "--state", state_arg, "-f", "jsonl"]);
    assert!(damaged.stderr.contains("not used"), "{}", damaged.stderr);
    assert_eq!(counts(&damaged).1, 3, "{}", damaged.stderr);
    assert_eq!(findings(&damaged).len(), 2);
}

#[test]
fn staged_scan_reports_added_lines_with_their_line_numbers() {
    let mut r = Repo::new();
    // No commit yet: everything staged is new.
    write(r.path(), "first.env", format!("A=1\nKEY={}\n", key(40)));
    r.git(&["add", "first.env"]);
    let run = r.keysweep(&["staged", "-f", "jsonl"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let f = findings(&run);
    assert_eq!(f.len(), 1, "{}", run.stdout);
    assert_eq!(
        (f[0]["path"].as_str(), f[0]["line"].as_u64()),
        (Some("first.env"), Some(2))
    );
    assert_eq!(f[0]["source"], "staged");

    r.commit(&[], "accept the first key");
    // An old key stays where it is; two lines go in above it and a new key below.
    write(
        r.path(),
        "first.env",
        format!(
            "# header\n# more\nA=1\nKEY={}\nNEW={}\nOK={} # keysweep:allow\n",
            key(40),
            key(41),
            key(42)
        ),
    );
    // Unstaged changes are not what the commit will hold.
    write(r.path(), "unstaged.env", format!("U={}\n", key(43)));
    r.git(&["add", "first.env"]);
    let run = r.keysweep(&["staged", "-f", "jsonl"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let f = findings(&run);
    assert_eq!(f.len(), 1, "{}", run.stdout);
    assert_eq!(f[0]["secret_sha256"], secret_sha(&key(41)));
    assert_eq!(f[0]["line"], 5);

    // A baseline accepts it; nothing staged that is new: exit 0.
    let baseline = write(
        r.path().parent().unwrap(),
        "baseline",
        format!("{}\n", f[0]["fingerprint"].as_str().unwrap()),
    );
    let run = r.keysweep(&["staged", "--baseline", baseline.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.all());
}

/// `.pre-commit-hooks.yaml` runs `keysweep staged --files FILE...`: on a commit (the files it
/// changes) only the staged lines count; `pre-commit run --all-files` names every file, and a
/// key committed with `--no-verify` is found.
#[test]
fn pre_commit_files_scan_whole_files_unless_they_are_the_commits() {
    let mut r = Repo::new();
    let old = format!("OLD={}\n", key(50));
    r.commit(
        &[
            ("old.env", Some(old.as_str())),
            ("clean.txt", Some("nothing here\n")),
        ],
        "committed with --no-verify",
    );
    write(r.path(), "new.env", format!("A=1\nNEW={}\n", key(51)));
    write(r.path(), "old.env", format!("OLD={}\nMORE=1\n", key(50)));
    r.git(&["add", "new.env", "old.env"]);

    // A commit's file list: the staged lines only, so the old key does not block it.
    let commit = r.keysweep(&["staged", "-f", "jsonl", "--files", "new.env", "old.env"]);
    assert_eq!(commit.code, 1, "{}", commit.all());
    let f = findings(&commit);
    assert_eq!(f.len(), 1, "{}", commit.stdout);
    assert_eq!(f[0]["secret_sha256"], secret_sha(&key(51)));

    // --all-files: every file whole, the committed key included.
    let all = r.keysweep(&[
        "staged",
        "-f",
        "jsonl",
        "--files",
        "clean.txt",
        "new.env",
        "old.env",
    ]);
    assert_eq!(all.code, 1, "{}", all.all());
    let mut shas: Vec<_> = findings(&all)
        .iter()
        .map(|f| f["secret_sha256"].as_str().unwrap().to_string())
        .collect();
    shas.sort();
    let mut want = vec![secret_sha(&key(50)), secret_sha(&key(51))];
    want.sort();
    assert_eq!(shas, want, "{}", all.stdout);

    // --files with only the committed file: found though nothing about it is staged.
    r.git(&["reset", "-q"]);
    let one = r.keysweep(&["staged", "-f", "jsonl", "--files", "old.env"]);
    assert_eq!(one.code, 1, "{}", one.all());
    assert_eq!(findings(&one)[0]["secret_sha256"], secret_sha(&key(50)));
    let clean = r.keysweep(&["staged", "--files", "clean.txt"]);
    assert_eq!(clean.code, 0, "{}", clean.all());
    for run in [&commit, &all, &one, &clean] {
        for n in [50, 51] {
            assert!(!run.all().contains(&key(n)), "raw key in output");
        }
    }
}

#[test]
fn the_installed_hook_blocks_a_commit_that_adds_a_key() {
    let mut r = Repo::new();
    r.commit(&[("README", Some("hi\n"))], "start");
    let rules = r.rules.to_str().unwrap().to_string();
    let install = keysweep(
        r.path(),
        &[
            "install-hook",
            "--",
            "--no-builtin-rules",
            "--rules",
            &rules,
        ],
    );
    assert_eq!(install.code, 0, "{}", install.all());
    let hook = r.path().join(".git/hooks/pre-commit");
    assert!(hook.is_file());

    write(r.path(), "leak.py", format!("KEY = '{}'\n", key(50)));
    r.git(&["add", "leak.py"]);
    let before = r.git(&["rev-parse", "HEAD"]);
    // Not `r.git`, which fails the test when git does: here git must fail.
    let commit = git_cmd(r.path(), "2026-02-01T00:00:00Z")
        .args(["commit", "-q", "-m", "leak"])
        .run();
    assert_ne!(commit.code, 0, "the commit went through");
    // Git sends a hook's standard output to standard error.
    let stderr = &commit.stderr;
    assert!(stderr.contains("commit blocked"), "{stderr}");
    assert!(stderr.contains("leak.py:1"), "{stderr}");
    assert_eq!(r.git(&["rev-parse", "HEAD"]), before);

    // Without the key the same commit passes through the hook.
    write(r.path(), "leak.py", "KEY = os.environ['KEY']\n");
    r.git(&["add", "leak.py"]);
    r.git(&["commit", "-q", "-m", "clean"]);
    assert_ne!(r.git(&["rev-parse", "HEAD"]), before);

    // A hook keysweep did not write is left alone unless --force, and then kept.
    std::fs::write(&hook, "#!/bin/sh\necho mine\n").unwrap();
    let refused = keysweep(r.path(), &["install-hook"]);
    assert_eq!(refused.code, 2, "{}", refused.all());
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    let forced = keysweep(r.path(), &["install-hook", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.all());
    assert!(std::fs::read_to_string(&hook).unwrap().contains("keysweep"));
    let kept = r.path().join(".git/hooks/pre-commit.keysweep-backup");
    assert_eq!(
        std::fs::read_to_string(kept).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
}

#[test]
fn a_corrupt_object_is_reported_and_the_rest_is_still_scanned() {
    let mut r = Repo::new();
    r.commit(
        &[
            ("good.txt", Some(&format!("{}\n", key(60)))),
            ("bad.txt", Some(&format!("{}\n", key(61)))),
        ],
        "two keys",
    );
    let bad = r.git(&["rev-parse", "HEAD:bad.txt"]);
    let object = r
        .path()
        .join(".git/objects")
        .join(&bad[..2])
        .join(&bad[2..]);
    // Loose objects are written read-only.
    std::fs::set_permissions(&object, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(&object, b"this is not zlib data at all").unwrap();

    let run = r.keysweep(&["git", ".", "-f", "jsonl"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains(&bad), "{}", run.stderr);
    let f = findings(&run);
    assert_eq!(f.len(), 1, "{}", run.stdout);
    assert_eq!(f[0]["secret_sha256"], secret_sha(&key(60)));
}

#[test]
fn huge_blobs_are_streamed_loose_and_packed() {
    let mut r = Repo::new();
    // Over the 8 MiB chunk size, key at the very end.
    let mut big = "x".repeat(99);
    big.push('\n');
    let mut content = big.repeat(100_000);
    content.push_str(&format!("END={}\n", key(70)));
    r.commit(&[("big.log", Some(&content))], "big");

    let loose = r.keysweep(&["git", ".", "-f", "jsonl"]);
    assert_eq!(loose.code, 1, "{}", loose.all());
    assert_eq!(findings(&loose)[0]["line"], 100_001);
    assert_eq!(counts(&loose).2, 1, "{}", loose.stderr);

    r.git(&["gc", "-q"]);
    let packed = r.keysweep(&["git", ".", "-f", "jsonl"]);
    assert_eq!(packed.code, 1, "{}", packed.all());
    assert_eq!(findings(&packed)[0]["line"], 100_001);
}

#[test]
fn bare_repositories_work_and_submodules_are_reported_not_followed() {
    let mut r = Repo::new();
    r.commit(&[("k.txt", Some(&format!("{}\n", key(80))))], "key");
    let sub_id = r.git(&["rev-parse", "HEAD"]);
    // A gitlink entry, as `git submodule add` records it.
    r.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{sub_id},vendor/lib"),
    ]);
    r.git(&["commit", "-q", "-m", "submodule"]);
    let bare = r.path().parent().unwrap().join("bare.git");
    git_at(
        r.path().parent().unwrap(),
        &[
            "clone",
            "-q",
            "--bare",
            r.path().to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
        1,
    );
    let run = r.keysweep_in(
        r.path().parent().unwrap(),
        &["git", "bare.git", "-f", "jsonl"],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(findings(&run).len(), 1);
    assert!(run.stderr.contains("vendor/lib"), "{}", run.stderr);
    assert!(run.stderr.contains("not followed"), "{}", run.stderr);
}

#[test]
fn every_stash_entry_and_annotated_tag_messages_are_scanned() {
    let mut r = Repo::new();
    r.commit(&[("app.cfg", Some("clean\n"))], "start");
    // Two stashes: the older one is reachable only through the stash reflog.
    write(r.path(), "app.cfg", format!("k={}\n", key(90)));
    r.git(&["stash", "-q"]);
    write(r.path(), "app.cfg", format!("k={}\n", key(91)));
    r.git(&["stash", "-q"]);
    r.git(&[
        "tag",
        "-a",
        "v1",
        "-m",
        &format!("release, token {}", key(92)),
    ]);

    let run = r.keysweep(&["git", ".", "-f", "jsonl"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let f = findings(&run);
    let found: Vec<&str> = f
        .iter()
        .map(|x| x["secret_sha256"].as_str().unwrap())
        .collect();
    for k in [key(90), key(91), key(92)] {
        assert!(found.contains(&secret_sha(&k).as_str()), "{}", run.stdout);
    }
    let tag = f.iter().find(|x| x["source"] == "tag-message").unwrap();
    assert_eq!(tag["path"], "refs/tags/v1");
}
