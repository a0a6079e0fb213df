//! Revocation end to end: the real binary against the reference key service
//! (`tests/support/key_service.rs`), which records every request it receives.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::harness::git::{git, git_init};
use crate::harness::report::{jsonl, jsonl_file};
use crate::harness::{eventually, keysweep_cmd, write, Run};
use crate::support::key_service::{
    Fault, IssuedKey, KeyKind, KeyService, RecordedRequest, REVOKE_PATH,
};
use crate::support::{
    revoke_config, start_key_service, REVOKE_TOKEN as TOKEN, REVOKE_TOKEN_ENV as TOKEN_ENV,
};

/// `keysweep ARGS` in `dir`, with `token` as the revocation token if given.
fn keysweep(dir: &Path, args: &[&str], token: Option<&str>) -> Run {
    let cmd = keysweep_cmd(dir).args(args);
    match token {
        Some(t) => cmd.env(TOKEN_ENV, t),
        None => cmd,
    }
    .run()
}

/// A project directory whose keysweep.toml points at `service` (built-in rules, as users run
/// them), with fast retries; `extra` lines go into `[revoke]`.
fn project(service: &KeyService, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "keysweep.toml", revoke_config(service, extra));
    dir
}

/// A running service, keys it issued written into `src/` of a project whose keysweep.toml
/// points at it (with `revoke_config` added to `[revoke]`).
struct Leak {
    service: KeyService,
    keys: Vec<IssuedKey>,
    project: tempfile::TempDir,
}

impl Leak {
    fn new(kinds: &[KeyKind], revoke_config: &str) -> Leak {
        let service = start_key_service();
        let keys: Vec<IssuedKey> = kinds.iter().map(|&k| service.issue(k)).collect();
        let project = project(&service, revoke_config);
        leak(project.path(), &keys);
        Leak {
            service,
            keys,
            project,
        }
    }

    fn dir(&self) -> &Path {
        self.project.path()
    }
}

/// One file per key, each key on a line of its own.
fn leak(dir: &Path, keys: &[IssuedKey]) {
    for (i, k) in keys.iter().enumerate() {
        write(
            dir,
            &format!("src/leak{i}.env"),
            format!("KEY={}\n", k.bearer()),
        );
    }
}

/// `keysweep dir PATH --revoke --format jsonl` with the project's keysweep.toml.
fn scan_and_revoke(dir: &Path, path: &str, token: Option<&str>) -> Run {
    let args = [
        "dir",
        path,
        "-c",
        "keysweep.toml",
        "--revoke",
        "--format",
        "jsonl",
    ];
    keysweep(dir, &args, token)
}

/// The requests keysweep made (the tests' own key checks go to /v1/me without its user agent).
fn sent_by_keysweep(service: &KeyService) -> Vec<RecordedRequest> {
    service
        .requests()
        .into_iter()
        .filter(|r| {
            r.header("user-agent")
                .is_some_and(|ua| ua.starts_with("keysweep/"))
        })
        .collect()
}

fn body(r: &RecordedRequest) -> Value {
    serde_json::from_str(&r.body).unwrap()
}

/// Asserts that no part of any key beyond what a redacted form shows (its prefix and four
/// characters) occurs in `text`.
fn assert_no_key(what: &str, text: &str, keys: &[IssuedKey]) {
    for k in keys {
        let prefix = ["sk_live_", "rk_live_", "msk_"]
            .into_iter()
            .find(|p| k.key.starts_with(p))
            .unwrap_or_default();
        let hidden = &k.key[prefix.len() + 4..];
        assert!(!text.contains(hidden), "{what} contains a raw {prefix} key");
    }
}

fn default_journal(dir: &Path) -> PathBuf {
    dir.join(".keysweep/revocations.jsonl")
}

/// A key committed and deleted again lives on in history: `keysweep git --revoke` finds it
/// there, revokes it once, and tells the service which commit introduced it.
#[test]
fn a_key_deleted_from_the_tree_is_found_in_history_and_revoked() {
    let service = start_key_service();
    let live = service.issue(KeyKind::SecretLive);
    let repo = project(&service, "");
    let dir = repo.path();
    git_init(dir);
    write(dir, "app.env", format!("STRIPE_SECRET_KEY={}\n", live.key));
    git(dir, &["add", "app.env"]);
    git(dir, &["commit", "-q", "-m", "add config"]);
    let added = git(dir, &["rev-parse", "HEAD"]);
    std::fs::remove_file(dir.join("app.env")).unwrap();
    git(dir, &["commit", "-q", "-a", "-m", "remove the key"]);

    let run = keysweep(
        dir,
        &["git", ".", "--revoke", "--format", "jsonl"],
        Some(TOKEN),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = jsonl(&run.stdout);
    assert_eq!(findings.len(), 1, "{}", run.stdout);
    assert_eq!(findings[0]["revocation"], "revoked");
    assert!(!service.accepts(&live), "the key still works");
    let sent = sent_by_keysweep(&service);
    assert_eq!(sent.len(), 1);
    let b = body(&sent[0]);
    assert_eq!(b["key_hash"], live.sha256().as_str());
    assert_eq!(b["found_at"]["source"], "git");
    assert_eq!(b["found_at"]["commit"], added.as_str());
    assert_eq!(b["found_at"]["path"], "app.env");
    assert_no_key("the request", &sent[0].raw(), std::slice::from_ref(&live));
    assert_no_key(
        "the output",
        &format!("{}{}", run.stdout, run.stderr),
        std::slice::from_ref(&live),
    );
}

#[test]
fn a_key_committed_to_a_repo_is_found_revoked_once_and_then_rejected() {
    let service = start_key_service();
    let live = service.issue(KeyKind::SecretLive);
    let pair = service.issue(KeyKind::Pair);
    let repo = project(&service, "concurrency = 2");
    let dir = repo.path();
    // The same live key in four places, the pair in a Bearer header.
    for name in [
        "config/app.env",
        "config/staging.env",
        "deploy/ci.yml",
        "README.md",
    ] {
        write(dir, name, format!("STRIPE_SECRET_KEY={}\n", live.key));
    }
    write(
        dir,
        "deploy/call.sh",
        format!(
            "curl -H 'Authorization: Bearer {}' https://keys.internal\n",
            pair.bearer()
        ),
    );
    git_init(dir);
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "add config"]);
    assert!(service.accepts(&live) && service.accepts(&pair));

    let run = scan_and_revoke(dir, ".", Some(TOKEN));
    assert_eq!(run.code, 1, "findings, no failure: {}", run.stderr);

    let findings = jsonl(&run.stdout);
    assert_eq!(findings.len(), 5, "{}", run.stdout);
    for f in &findings {
        assert_eq!(f["revocation"], "revoked", "{f}");
    }
    assert!(
        run.stderr
            .contains("revocation: 2 revoked, 0 already revoked, 0 unknown, 0 failed"),
        "{}",
        run.stderr
    );
    assert!(!service.accepts(&live), "the live key still works");
    assert!(!service.accepts(&pair), "the pair still works");
    assert_eq!(
        (service.revocations(&live), service.revocations(&pair)),
        (1, 1)
    );

    // One request per key, exactly as the contract says.
    let sent = sent_by_keysweep(&service);
    assert_eq!(sent.len(), 2, "{sent:#?}");
    for r in &sent {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", REVOKE_PATH));
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        let b = body(r);
        assert_eq!(r.header("idempotency-key"), b["key_hash"].as_str());
        assert_eq!(
            (&b["hash_alg"], &b["reason"]),
            (&"sha256".into(), &"leaked".into())
        );
    }
    let by_prefix = |p: &str| {
        sent.iter()
            .map(body)
            .find(|b| b["key_prefix"] == p)
            .unwrap()
    };
    let live_body = by_prefix("sk_live_");
    assert_eq!(live_body["key_hash"], live.sha256().as_str());
    assert_eq!(live_body["rule"], "keyservice.secret-live");
    assert!(live_body.get("key_id").is_none());
    assert_eq!(live_body["found_at"]["source"], "dir");
    assert_eq!(live_body["found_at"]["line"], 1);
    let pair_body = by_prefix("msk_");
    assert_eq!(pair_body["key_hash"], pair.sha256().as_str());
    assert_eq!(pair_body["key_id"].as_str(), pair.key_id.as_deref());
    assert_eq!(pair_body["rule"], "keyservice.bearer-pair");
    assert_eq!(pair_body["found_at"]["path"], "deploy/call.sh");

    let keys = [live, pair];
    for r in &sent {
        assert_no_key("a request", &r.raw(), &keys);
    }
    assert_no_key("the output", &run.all(), &keys);
    let journal = std::fs::read_to_string(default_journal(dir)).unwrap();
    assert_no_key("the journal", &journal, &keys);
    assert_eq!(
        journal.lines().count(),
        4,
        "an intent and an outcome per key:\n{journal}"
    );
}

#[test]
fn the_raw_key_is_in_no_report_format_log_line_or_journal() {
    let kinds = [KeyKind::SecretLive, KeyKind::Pair, KeyKind::RestrictedLive];
    let Leak {
        service,
        keys,
        project,
    } = Leak::new(&kinds, "");
    let dir = project.path();
    for format in ["text", "json", "jsonl", "sarif"] {
        let report = format!("report.{format}");
        let journal = format!("journal-{format}.jsonl");
        let run = keysweep(
            dir,
            &[
                "dir",
                "src",
                "-c",
                "keysweep.toml",
                "--revoke",
                "--format",
                format,
                "-o",
                &report,
                "--journal",
                &journal,
            ],
            Some(TOKEN),
        );
        assert_eq!(run.code, 1, "{format}: {}", run.stderr);
        let text = std::fs::read_to_string(dir.join(&report)).unwrap();
        // Later formats meet keys an earlier one revoked: the service replays its answer to the
        // same Idempotency-Key, so every format reports them revoked.
        assert!(
            text.matches("revoked").count() >= 3,
            "{format} report lacks outcomes:\n{text}"
        );
        for k in &keys {
            assert!(
                text.contains(&k.sha256()[..16]),
                "{format} report lacks a hash"
            );
        }
        assert_no_key(&format!("the {format} report"), &text, &keys);
        assert_no_key(&format!("the {format} run's output"), &run.all(), &keys);
        assert_no_key(
            &format!("the {format} journal"),
            &std::fs::read_to_string(dir.join(&journal)).unwrap(),
            &keys,
        );
    }
    for r in sent_by_keysweep(&service) {
        assert_no_key("a request", &r.raw(), &keys);
    }
    for k in &keys {
        assert_eq!(service.revocations(k), 1);
    }
}

#[test]
fn retries_under_429_5xx_timeouts_and_drops_end_with_one_revocation_per_key() {
    let kinds = [KeyKind::SecretLive, KeyKind::Pair, KeyKind::RestrictedLive];
    let config = "concurrency = 3\nmax_attempts = 12\ntimeout = 1";
    let Leak {
        service,
        keys,
        project,
    } = Leak::new(&[kinds, kinds].concat(), config);
    let faults = [
        (Fault::RateLimited { retry_after: 1 }, 2),
        (Fault::Status { status: 500 }, 2),
        (Fault::Status { status: 503 }, 1),
        (Fault::DropBefore, 2),
        (Fault::DropAfter, 2),
        (Fault::SlowBefore { millis: 1500 }, 1),
    ];
    let injected: usize = faults.iter().map(|(_, n)| n).sum();
    for (fault, times) in faults {
        service.inject(fault, times);
    }

    let run = scan_and_revoke(project.path(), ".", Some(TOKEN));
    assert_eq!(run.code, 1, "{}", run.stderr);
    for f in jsonl(&run.stdout) {
        assert_eq!(f["revocation"], "revoked", "{f}");
    }
    assert_eq!(service.faults_left(), 0, "every fault was met");
    for k in &keys {
        assert_eq!(service.revocations(k), 1);
        assert!(!service.accepts(k));
    }
    // Each fault costs exactly one retry and nothing is sent after a success: one request per
    // key, plus one per fault.
    assert_eq!(sent_by_keysweep(&service).len(), keys.len() + injected);
    // After a 429 the same key waits out Retry-After.
    let attempts = service.attempts();
    for (i, a) in attempts.iter().enumerate() {
        if matches!(a.fault, Some(Fault::RateLimited { .. })) {
            let next = attempts[i + 1..]
                .iter()
                .find(|b| b.key_hash == a.key_hash)
                .expect("a retry");
            let waited = next.at - a.at;
            assert!(
                waited >= Duration::from_millis(950),
                "retried after {waited:?}"
            );
        }
    }
}

#[test]
fn a_rejected_token_stops_all_revocations_with_a_clear_message() {
    let Leak {
        service,
        keys,
        project,
    } = Leak::new(&[KeyKind::SecretLive; 8], "concurrency = 2");
    let wrong = "kst_wrong_token_0000";
    let run = scan_and_revoke(project.path(), ".", Some(wrong));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("rejected the revocation token (HTTP 401)")
            && run.stderr.contains("$KEYSWEEP_REVOKE_TOKEN"),
        "{}",
        run.stderr
    );
    assert!(!run.all().contains(wrong), "the token was printed");
    let sent = sent_by_keysweep(&service).len();
    assert!(
        (1..=2).contains(&sent),
        "{sent} requests: at most one per worker may meet the 401"
    );
    let findings = jsonl(&run.stdout);
    assert_eq!(findings.len(), 8);
    let not_sent = findings
        .iter()
        .filter(|f| {
            f["revocation"]
                .as_str()
                .is_some_and(|r| r.starts_with("failed: not sent"))
        })
        .count();
    assert_eq!(not_sent, 8 - sent, "{}", run.stdout);
    for k in &keys {
        assert!(service.accepts(k));
    }
}

#[test]
fn an_intent_without_outcome_is_retried_and_a_final_outcome_is_skipped() {
    let leak = Leak::new(&[KeyKind::SecretLive; 3], "");
    let (service, dir) = (&leak.service, leak.dir());
    let [interrupted, settled, fresh] = &leak.keys[..] else {
        unreachable!()
    };
    let endpoint = service.revoke_url();
    let record = |event: &str, k: &IssuedKey, outcome: Option<&str>| {
        let mut r = serde_json::json!({
            "event": event, "at": "2025-01-01T00:00:00.000Z", "endpoint": endpoint,
            "key_hash": k.sha256(),
        });
        if let Some(o) = outcome {
            r["outcome"] = o.into();
        }
        r.to_string()
    };
    // A run died after writing the intent for `interrupted`; `settled` was done before that
    // (the service is not told, so a request for it would revoke it now: none must be sent).
    let earlier = [
        record("intent", settled, None),
        record("outcome", settled, Some("revoked")),
        record("intent", interrupted, None),
    ];
    write(
        dir,
        ".keysweep/revocations.jsonl",
        format!("{}\n", earlier.join("\n")),
    );

    let run = scan_and_revoke(dir, "src", Some(TOKEN));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("resuming 1 revocation interrupted in an earlier run"),
        "{}",
        run.stderr
    );
    for f in jsonl(&run.stdout) {
        assert_eq!(f["revocation"], "revoked", "{f}");
    }
    let hashes: Vec<String> = sent_by_keysweep(service)
        .iter()
        .map(|r| body(r)["key_hash"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hashes.len(), 2, "{hashes:?}");
    assert!(hashes.contains(&interrupted.sha256()) && hashes.contains(&fresh.sha256()));
    assert!(
        service.accepts(settled),
        "a key settled in the journal was sent again"
    );
    assert!(!service.accepts(interrupted) && !service.accepts(fresh));
    let outcomes = jsonl_file(&default_journal(dir))
        .into_iter()
        .filter(|r| r["event"] == "outcome" && r["key_hash"] == interrupted.sha256().as_str())
        .count();
    assert_eq!(outcomes, 1);
}

#[test]
fn a_run_killed_while_the_service_answers_completes_on_rerun_without_a_second_revocation() {
    let leak = Leak::new(&[KeyKind::Pair], "");
    let (service, key, dir) = (&leak.service, &leak.keys[0], leak.dir());
    // The service revokes the key, then sits on its answer.
    service.inject(Fault::SlowAfter { millis: 60_000 }, 1);
    let process = keysweep_cmd(dir)
        .args(["dir", ".", "--revoke", "--format", "jsonl"])
        .env(TOKEN_ENV, TOKEN)
        .spawn();
    assert!(
        eventually(Duration::from_secs(30), || service.revocations(key) == 1),
        "timed out waiting for the service to revoke the key"
    );
    process.kill();
    let journal = jsonl_file(&default_journal(dir));
    let events: Vec<&str> = journal
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["intent"],
        "the intent was durable before the request left"
    );

    let run = scan_and_revoke(dir, ".", Some(TOKEN));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("resuming 1 revocation"),
        "{}",
        run.stderr
    );
    // The retry carries the same Idempotency-Key: the service replays its answer.
    assert_eq!(jsonl(&run.stdout)[0]["revocation"], "revoked");
    assert_eq!(service.revocations(key), 1);
    assert!(!service.accepts(key));
    let events: Vec<String> = jsonl_file(&default_journal(dir))
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["event"].as_str().unwrap(),
                r["outcome"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(events, ["intent:", "intent:", "outcome:revoked"]);
    assert_no_key(
        "the journal",
        &std::fs::read_to_string(default_journal(dir)).unwrap(),
        std::slice::from_ref(key),
    );
}

#[test]
fn dry_run_sends_nothing_needs_no_token_and_prints_hashes_only() {
    let leak = Leak::new(&[KeyKind::SecretLive, KeyKind::Pair], "");
    let (service, keys, dir) = (&leak.service, &leak.keys, leak.dir());
    let run = keysweep(dir, &["dir", ".", "--dry-run", "--format", "jsonl"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    for k in keys {
        assert!(
            run.stderr
                .contains(&format!("Idempotency-Key: {}", k.sha256())),
            "{}",
            run.stderr
        );
    }
    assert!(
        run.stderr.contains("\"key_id\":\"mk_live_"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("egress: 127.0.0.1:"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("revocation (dry run): 2 keys would be sent, nothing sent"),
        "{}",
        run.stderr
    );
    for f in jsonl(&run.stdout) {
        assert!(f.get("revocation").is_none(), "{f}");
    }
    assert_no_key("dry-run output", &run.all(), keys);
    assert!(service.requests().is_empty(), "a dry run sent something");
    assert!(!dir.join(".keysweep").exists(), "a dry run wrote a journal");
    assert!(keys.iter().all(|k| service.accepts(k)));
}

#[test]
fn revoke_from_a_report_revokes_each_key_once_and_a_rerun_sends_nothing() {
    let leak = Leak::new(&[KeyKind::SecretLive, KeyKind::Pair], "");
    let (service, keys, dir) = (&leak.service, &leak.keys, leak.dir());
    // The same key twice more, in one more file: still one request.
    write(dir, "src/copy.env", format!("A={0}\nB={0}\n", keys[0].key));
    let scan = keysweep(
        dir,
        &[
            "dir",
            "src",
            "-c",
            "keysweep.toml",
            "--format",
            "jsonl",
            "-o",
            "report.jsonl",
        ],
        None,
    );
    assert_eq!(scan.code, 1, "{}", scan.stderr);

    let dry = keysweep(
        dir,
        &["revoke", "--from", "report.jsonl", "--dry-run"],
        None,
    );
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(
        dry.stdout
            .lines()
            .filter(|l| l.starts_with("POST "))
            .count(),
        2,
        "{}",
        dry.stdout
    );
    assert!(service.requests().is_empty());

    let run = keysweep(dir, &["revoke", "--from", "report.jsonl"], Some(TOKEN));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout
            .lines()
            .filter(|l| l.starts_with("revoked "))
            .count(),
        2,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("revocation: 2 revoked"),
        "{}",
        run.stdout
    );
    assert_eq!(sent_by_keysweep(service).len(), 2);
    assert!(keys.iter().all(|k| !service.accepts(k)));

    let again = keysweep(
        dir,
        &["revoke", "--from", "report.jsonl", "--format", "jsonl"],
        Some(TOKEN),
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        sent_by_keysweep(service).len(),
        2,
        "the rerun sent requests"
    );
    let findings = jsonl(&again.stdout);
    assert_eq!(findings.len(), 4);
    assert!(
        findings.iter().all(|f| f["revocation"] == "revoked"),
        "{}",
        again.stdout
    );
    assert!(
        again.stderr.contains("2 settled earlier (journal)"),
        "{}",
        again.stderr
    );
}

#[test]
fn only_revocable_findings_with_an_owned_prefix_are_sent() {
    let leak = Leak::new(
        &[KeyKind::SecretLive, KeyKind::Pair],
        "prefixes = [\"sk_live_\"]",
    );
    let (service, pair, dir) = (&leak.service, &leak.keys[1], leak.dir());
    write(
        dir,
        "src/web.js",
        "const stripe = Stripe('pk_live_0Tq3XrFz8cB1mKpL6wYvE2dN');\n",
    );
    let run = scan_and_revoke(dir, "src", Some(TOKEN));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("1 revoked") && run.stderr.contains("1 revocable finding not owned"),
        "{}",
        run.stderr
    );
    let sent = sent_by_keysweep(service);
    assert_eq!(sent.len(), 1);
    assert_eq!(body(&sent[0])["key_prefix"], "sk_live_");
    assert!(service.accepts(pair));
    let findings = jsonl(&run.stdout);
    let outcome = |rule: &str| {
        findings
            .iter()
            .find(|f| f["rule"] == rule)
            .map(|f| f["revocation"].clone())
    };
    assert_eq!(outcome("keyservice.publishable"), Some(Value::Null));
    assert_eq!(outcome("keyservice.bearer-pair"), Some(Value::Null));
}

#[test]
fn already_revoked_and_unknown_keys_are_outcomes_not_failures() {
    let leak = Leak::new(&[KeyKind::SecretLive], "");
    let (service, gone) = (&leak.service, &leak.keys[0]);
    service.revoke_out_of_band(gone);
    // Well-formed, but this service never issued it.
    let stranger = IssuedKey {
        key: "sk_live_Zq8Xw2Lp5Rt9Vb3Nm7Kc1Hd4Gf6Js0Ya_-QeWuIoPxTz".into(),
        key_id: None,
    };
    write(leak.dir(), "src/stranger.env", &stranger.key);
    let run = scan_and_revoke(leak.dir(), "src", Some(TOKEN));
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = jsonl(&run.stdout);
    let outcome = |k: &IssuedKey| {
        findings
            .iter()
            .find(|f| f["secret_sha256"] == k.sha256().as_str())
            .unwrap()["revocation"]
            .clone()
    };
    assert_eq!(outcome(gone), "already_revoked");
    assert_eq!(outcome(&stranger), "unknown_key");
    assert_eq!(sent_by_keysweep(service).len(), 2, "neither is retried");
    assert!(
        run.stderr
            .contains("0 revoked, 1 already revoked, 1 unknown, 0 failed"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_service_that_keeps_failing_fails_the_run_and_the_next_run_retries() {
    let leak = Leak::new(&[KeyKind::SecretLive], "max_attempts = 3");
    let (service, key, dir) = (&leak.service, &leak.keys[0], leak.dir());
    service.inject(Fault::Status { status: 503 }, 3);
    let run = scan_and_revoke(dir, "src", Some(TOKEN));
    assert_eq!(
        run.code, 2,
        "a failed revocation must fail the run: {}",
        run.stderr
    );
    let f = &jsonl(&run.stdout)[0];
    assert_eq!(
        f["revocation"],
        "failed: HTTP 503 Service Unavailable (gave up after 3 attempts)"
    );
    assert!(run.stderr.contains("1 failed"), "{}", run.stderr);
    assert!(service.accepts(key));

    let rerun = scan_and_revoke(dir, "src", Some(TOKEN));
    assert_eq!(rerun.code, 1, "{}", rerun.stderr);
    assert_eq!(jsonl(&rerun.stdout)[0]["revocation"], "revoked");
    assert!(!service.accepts(key));
}

#[test]
fn print_egress_names_the_one_host_and_every_field_sent() {
    let service = start_key_service();
    let repo = project(&service, "");
    let run = keysweep(repo.path(), &["revoke", "--print-egress"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let host = service.url().trim_start_matches("http://").to_string();
    assert!(
        run.stdout.contains(&format!("hosts contacted: {host}\n")),
        "{}",
        run.stdout
    );
    for field in [
        "key_hash",
        "hash_alg",
        "key_prefix",
        "key_id",
        "rule",
        "reason",
        "found_at",
        "Idempotency-Key",
        "$KEYSWEEP_REVOKE_TOKEN",
    ] {
        assert!(
            run.stdout.contains(field),
            "{field} missing:\n{}",
            run.stdout
        );
    }
    // The default prefixes: the keywords of every revocable rule in force.
    assert!(
        run.stdout
            .contains("with prefix mk_live_, msk_, rk_live_, rk_test_, sk_live_, sk_test_"),
        "{}",
        run.stdout
    );
    assert!(service.requests().is_empty());
}

#[test]
fn revocation_problems_are_reported_before_scanning() {
    let leak = Leak::new(&[KeyKind::SecretLive], "");
    let missing = keysweep(leak.dir(), &["dir", ".", "--revoke"], None);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("$KEYSWEEP_REVOKE_TOKEN is not set"),
        "{}",
        missing.stderr
    );
    assert!(
        missing.stdout.is_empty(),
        "scanned anyway: {}",
        missing.stdout
    );

    for (config, expected) in [
        (
            Some("[revoke]\nendpoint = \"http://keys.example.com/v1/revocations\"\n"),
            "https is required except to loopback",
        ),
        (None, "revocation needs an endpoint"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        if let Some(c) = config {
            write(dir.path(), "keysweep.toml", c);
        }
        let args = ["dir", ".", "--revoke"];
        let run = keysweep(dir.path(), &args, Some(TOKEN));
        assert_eq!(run.code, 2);
        assert!(run.stderr.contains(expected), "{}", run.stderr);
    }
    assert!(leak.service.requests().is_empty());
}
