//! `keysweep git` on object stores that are damaged or hold objects too big to rebuild: what
//! could not be scanned is named, the run exits 2, and everything else is still reported.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::git::{key, RULE};
use crate::harness::git::{commit_file, git, git_init};
use crate::harness::report::sha as secret_sha;
use crate::harness::{keysweep, write, Run};

/// A repository with the one-rule file beside it.
fn repo() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("repo");
    git_init(&dir);
    let rules = write(tmp.path(), "rules.toml", RULE);
    (tmp, dir, rules)
}

fn scan(dir: &Path, rules: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["git", ".", "-f", "jsonl", "--no-builtin-rules", "--rules"];
    args.push(rules.to_str().unwrap());
    args.extend(extra);
    keysweep(dir, &args)
}

/// The SHA-256 of every secret reported.
fn shas(run: &Run) -> Vec<String> {
    run.jsonl()
        .iter()
        .map(|f| f["secret_sha256"].as_str().unwrap().to_string())
        .collect()
}

fn loose_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(".git/objects").join(&id[..2]).join(&id[2..])
}

#[test]
fn a_loose_object_whose_content_does_not_match_its_id_is_reported_as_corrupt() {
    let (_tmp, dir, rules) = repo();
    commit_file(&dir, "notes.txt", "nothing to see here\n", "start");
    let victim = git(&dir, &["rev-parse", "HEAD:notes.txt"]);
    // A well-formed loose object of other content, put in the victim's place: it inflates and
    // parses fine, only its hash gives it away.
    let planted = format!("k={}\n", key(200));
    let other = write(&dir, "other.txt", &planted);
    let other_id = git(&dir, &["hash-object", "-w", other.to_str().unwrap()]);
    std::fs::remove_file(other).unwrap();
    let target = loose_path(&dir, &victim);
    std::fs::set_permissions(&target, PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::rename(loose_path(&dir, &other_id), &target).unwrap();

    let run = scan(&dir, &rules, &[]);
    assert_eq!(run.code, 2, "{}", run.all());
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains(&victim))
        .unwrap_or_else(|| panic!("{victim} not named: {}", run.stderr));
    assert!(line.contains("does not match its id"), "{line}");
    assert!(line.contains(&other_id), "{line}");
    assert!(run.jsonl().is_empty(), "{}", run.stdout);
    assert!(!run.all().contains(&key(200)), "{}", run.all());
}

#[test]
fn a_blob_stored_as_a_delta_over_the_limit_is_named_and_the_rest_still_scanned() {
    let (_tmp, dir, rules) = repo();
    // Two versions of a 2 MiB file; packed, git stores one of them as a delta of the other.
    let lines: String = (0..80_000)
        .map(|i| format!("line {i:08} of the log\n"))
        .collect();
    commit_file(&dir, "big.log", &lines, "v1");
    commit_file(&dir, "big.log", &format!("{lines}END={}\n", key(201)), "v2");
    commit_file(&dir, "small.txt", &format!("k={}\n", key(202)), "small");
    git(&dir, &["gc", "-q"]);

    let capped = scan(&dir, &rules, &["--max-delta-blob", "1M"]);
    assert_eq!(capped.code, 2, "{}", capped.all());
    let refused: Vec<&str> = capped
        .stderr
        .lines()
        .filter(|l| l.contains("over the 1.0 MiB limit"))
        .collect();
    assert_eq!(refused.len(), 1, "{}", capped.stderr);
    assert!(refused[0].contains("stored as a delta"), "{}", refused[0]);
    assert!(refused[0].contains("--max-delta-blob"), "{}", refused[0]);
    // The small file's key is still reported.
    assert!(
        shas(&capped).contains(&secret_sha(&key(202))),
        "{}",
        capped.stdout
    );

    // Within the default limit both versions are rebuilt and scanned.
    let whole = scan(&dir, &rules, &[]);
    assert_eq!(whole.code, 1, "{}", whole.all());
    let found = shas(&whole);
    assert!(found.contains(&secret_sha(&key(201))), "{}", whole.stdout);
    assert!(found.contains(&secret_sha(&key(202))), "{}", whole.stdout);
}
