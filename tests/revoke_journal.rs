//! The revocation journal under hostile or unlucky conditions (issue 12): a device in its
//! place, damaged lines, two runs on it at once. The real binary against the reference key
//! service.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::harness::{eventually, keysweep_cmd, write, Run};
use crate::support::key_service::{Fault, IssuedKey, KeyKind, KeyService, REVOKE_PATH};
use crate::support::{revoke_config, start_key_service, REVOKE_TOKEN, REVOKE_TOKEN_ENV};

/// A service, `n` keys it issued, each in `src/` of a project pointing at it.
fn leak(n: usize) -> (KeyService, Vec<IssuedKey>, tempfile::TempDir) {
    let service = start_key_service();
    let keys: Vec<IssuedKey> = (0..n).map(|_| service.issue(KeyKind::SecretLive)).collect();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "keysweep.toml", revoke_config(&service, ""));
    for (i, k) in keys.iter().enumerate() {
        write(
            dir.path(),
            &format!("src/k{i}.env"),
            format!("KEY={}\n", k.key),
        );
    }
    (service, keys, dir)
}

fn revoke(dir: &Path, extra: &[&str]) -> Run {
    keysweep_cmd(dir)
        .args(["dir", "src", "-c", "keysweep.toml", "--revoke"])
        .args(extra)
        .env(REVOKE_TOKEN_ENV, REVOKE_TOKEN)
        .run()
}

fn sent(service: &KeyService) -> usize {
    service
        .requests()
        .iter()
        .filter(|r| r.path == REVOKE_PATH)
        .count()
}

#[test]
fn a_device_as_the_journal_is_refused_before_anything_is_sent() {
    let (service, keys, dir) = leak(1);
    for (journal, mode) in [
        ("/dev/full", "--revoke"),
        ("/dev/zero", "--revoke"),
        ("/dev/zero", "--dry-run"),
    ] {
        let run = keysweep_cmd(dir.path())
            .args([
                "dir",
                "src",
                "-c",
                "keysweep.toml",
                mode,
                "--journal",
                journal,
            ])
            .env(REVOKE_TOKEN_ENV, REVOKE_TOKEN)
            .run();
        assert_eq!(run.code, 2, "{mode} {journal}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "the journal {journal} is not a regular file; give --journal a path to a file"
            )),
            "{}",
            run.stderr
        );
    }
    assert_eq!(sent(&service), 0);
    assert!(service.accepts(&keys[0]));
}

#[test]
fn a_damaged_journal_line_is_reported_and_the_rest_still_counts() {
    let (service, keys, dir) = leak(2);
    let first = revoke(dir.path(), &[]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    assert_eq!(sent(&service), 2);
    let path = dir.path().join(".keysweep/revocations.jsonl");
    let mut journal = std::fs::read(&path).unwrap();
    // Bytes that are not UTF-8 on a line of their own, between the records.
    let second_line = journal.iter().position(|&b| b == b'\n').unwrap() + 1;
    journal.splice(
        second_line..second_line,
        b"{\"event\": \"\xff\xfe\"}\n".to_vec(),
    );
    std::fs::write(&path, journal).unwrap();
    let again = revoke(dir.path(), &[]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("revocations.jsonl:2: skipping a damaged line: it is not UTF-8"),
        "{}",
        again.stderr
    );
    assert!(
        again.all().contains("2 settled earlier (journal)"),
        "{}",
        again.all()
    );
    assert_eq!(sent(&service), 2, "nothing sent twice");
    assert!(keys.iter().all(|k| service.revocations(k) == 1));
}

#[test]
fn two_runs_on_one_journal_at_once_send_each_key_once() {
    let (service, keys, dir) = leak(3);
    // The first run's first request is answered slowly: it holds the journal meanwhile.
    service.inject(Fault::SlowAfter { millis: 1_500 }, 1);
    let mut first = keysweep_cmd(dir.path())
        .args(["dir", "src", "-c", "keysweep.toml", "--revoke"])
        .env(REVOKE_TOKEN_ENV, REVOKE_TOKEN)
        .into_command();
    let first = first
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(eventually(Duration::from_secs(30), || sent(&service) >= 1));
    let second = revoke(dir.path(), &[]);
    let first = first.wait_with_output().unwrap();
    let first_err = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(1), "{first_err}");
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(
        second.stderr.contains(
            "revocations.jsonl is in use by another keysweep run; waiting up to 30s for it"
        ),
        "{}",
        second.stderr
    );
    assert!(
        second.all().contains("3 settled earlier (journal)"),
        "{}",
        second.all()
    );
    assert_eq!(sent(&service), 3, "each key sent once across both runs");
    assert!(keys.iter().all(|k| service.revocations(k) == 1));
}
