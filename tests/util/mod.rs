//! Shared by the integration tests: run the real binary, make format-valid fake keys.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_keysweep");

/// The result of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Everything the user saw.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    pub fn jsonl(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

pub fn keysweep(dir: &Path, args: &[&str]) -> Run {
    keysweep_stdin(dir, args, None)
}

pub fn keysweep_stdin(dir: &Path, args: &[&str], input: Option<&[u8]>) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run keysweep");
    if let Some(data) = input {
        let mut stdin = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || stdin.write_all(&data));
    }
    Run::from(child.wait_with_output().expect("wait keysweep"))
}

pub fn write(dir: &Path, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, content).unwrap();
    p
}

/// Deterministic pseudo-random bodies (splitmix64): keys that look random and pass the
/// entropy and placeholder filters, but were never issued by anyone.
pub struct Fakes(u64);

pub const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl Fakes {
    pub fn new(seed: u64) -> Self {
        Fakes(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }

    /// A body over `alphabet` with no placeholder-looking runs and no words the placeholder
    /// filter rejects, so every generated key is a true positive.
    pub fn body(&mut self, len: usize, alphabet: &[u8]) -> String {
        loop {
            let s: String = (0..len)
                .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
                .collect();
            if !keysweep::matcher::filter::is_placeholder(s.as_bytes()) {
                return s;
            }
        }
    }

    /// Key-service live secret: `sk_live_` + base64url(32 bytes) = 43 characters.
    pub fn sk_live(&mut self) -> String {
        format!("sk_live_{}", self.body(43, BASE64URL))
    }

    pub fn msk(&mut self) -> String {
        format!("msk_{}", self.body(40, BASE64URL))
    }

    pub fn mk_live(&mut self) -> String {
        format!("mk_live_{}", self.body(24, BASE62))
    }

    /// A GitHub classic token with a valid CRC-32 checksum.
    pub fn ghp(&mut self) -> String {
        let random = self.body(30, BASE62);
        let check = keysweep::matcher::filter::base62_fixed(crc32fast::hash(random.as_bytes()), 6);
        format!("ghp_{random}{}", String::from_utf8(check).unwrap())
    }
}

/// Runs git in `dir` with a fixed identity and no user/system config; panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_dated(dir, args, "2026-01-02T03:04:05Z")
}

/// [`git`] with commits dated `date` (tests that need an order of commits give each its own).
pub fn git_dated(dir: &Path, args: &[&str], date: &str) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.test")
        .env("GIT_COMMITTER_NAME", "Test Author")
        .env("GIT_COMMITTER_EMAIL", "author@example.test")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A fresh repository with `main` as its initial branch.
pub fn git_init(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
}

/// Writes `rel` and commits it; returns the new commit id.
pub fn commit_file(dir: &Path, rel: &str, content: &str, message: &str) -> String {
    write(dir, rel, content);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// A depth-1 single-branch clone of `branch` from `url` into `dest`, as actions/checkout makes.
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
