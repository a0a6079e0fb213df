//! Repositories built with the git CLI, with a fixed identity and dates so commit ids and
//! attributions are reproducible.

use std::path::Path;

use super::{command, Cmd};

pub const AUTHOR: &str = "Test Author";
pub const EMAIL: &str = "author@example.test";
/// The date of every commit unless a test sets its own ([`git_dated`]).
pub const DATE: &str = "2026-01-02T03:04:05Z";

/// git in `dir` with the test identity and commit dates `date`, in the cleaned environment.
pub fn git_cmd(dir: &Path, date: &str) -> Cmd {
    command("git", dir).envs([
        ("GIT_AUTHOR_NAME", AUTHOR),
        ("GIT_AUTHOR_EMAIL", EMAIL),
        ("GIT_COMMITTER_NAME", AUTHOR),
        ("GIT_COMMITTER_EMAIL", EMAIL),
        ("GIT_AUTHOR_DATE", date),
        ("GIT_COMMITTER_DATE", date),
    ])
}

/// Runs git in `dir`; panics on failure; returns its trimmed standard output.
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_dated(dir, args, DATE)
}

/// [`git`] with commits dated `date` (tests that need an order of commits give each its own).
pub fn git_dated(dir: &Path, args: &[&str], date: &str) -> String {
    let run = git_cmd(dir, date).args(args).run();
    assert_eq!(run.code, 0, "git {args:?} failed: {}", run.stderr);
    run.stdout.trim().to_string()
}

/// A fresh repository with `main` as its initial branch.
pub fn git_init(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
}

/// Writes `rel` and commits everything; returns the new commit id.
pub fn commit_file(dir: &Path, rel: &str, content: &str, message: &str) -> String {
    super::write(dir, rel, content);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// The URL git clones a local repository from as it would a remote one (not by hard links).
pub fn file_url(repo: &Path) -> String {
    format!("file://{}", repo.display())
}

/// A depth-1 single-branch clone of `branch` from `url` into `dest` (relative to `parent`), as
/// actions/checkout makes it.
pub fn shallow_clone(parent: &Path, url: &str, branch: &str, dest: &str) {
    git(
        parent,
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--single-branch",
            "--branch",
            branch,
            url,
            dest,
        ],
    );
}
