//! `keysweep serve` end to end: the real binary on 127.0.0.1, fed signed webhooks and signed
//! partner alerts over real sockets, revoking at the reference key service
//! (`tests/support/key_service.rs`), with GitHub's partner signing keys served by a small fake.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ring::signature::EcdsaKeyPair;
use serde_json::{json, Value};

use crate::harness::fakes::Fakes;
use crate::harness::fixture;
use crate::support::fake_github::FakeGithub;
use crate::support::key_service::{IssuedKey, KeyKind, KeyService};
use crate::support::serve_harness::{
    alert, alert_body, all_files, hmac_header, key_pair, pem, project, read_reply, wait_until,
    webhook, Meta, Server,
};
use crate::support::start_key_service;

pub fn setup() -> (KeyService, Meta, EcdsaKeyPair, tempfile::TempDir) {
    let service = start_key_service();
    let meta = Meta::start();
    let key = key_pair();
    meta.publish("key-1", &key);
    let dir = project(&service.revoke_url(), &meta.url);
    (service, meta, key, dir)
}

#[test]
fn serve_prints_its_address_answers_health_and_stops_on_sigterm() {
    let (_service, meta, _key, dir) = setup();
    let server = Server::start(dir.path(), &[]);
    assert!(
        server.addr.starts_with("127.0.0.1:") && !server.addr.ends_with(":0"),
        "{}",
        server.addr
    );
    assert_eq!(server.get("/healthz").status, 200);
    wait_until("signing keys", || server.get("/readyz").status == 200);
    let ready = server.get("/readyz").json();
    assert_eq!(
        ready,
        json!({"state_dir_writable": true, "signing_keys_loaded": true})
    );
    assert_eq!(meta.fetches(), 1);
    let metrics = server.get("/metrics");
    assert!(
        metrics.body.lines().any(|l| l == "keysweep_queue_depth 0"),
        "{}",
        metrics.body
    );
    assert_eq!(server.get("/nothing-here").status, 404);
    let (code, output) = server.stop();
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output.contains("keysweep: stopped: requests in flight finished, 0 queued item(s) kept"),
        "{output}"
    );
}

#[test]
fn webhooks_need_the_signature_and_a_redelivery_acts_once() {
    let (_service, _meta, _key, dir) = setup();
    let server = Server::start(dir.path(), &[]);
    let body = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let unsigned = webhook(&server, "ping", "d-1", body, None);
    assert_eq!(unsigned.status, 401);
    assert_eq!(
        unsigned.body,
        "missing or wrong X-Hub-Signature-256 (HMAC-SHA256 of the body with the webhook secret)\n"
    );
    let wrong = webhook(
        &server,
        "ping",
        "d-1",
        body,
        Some(hmac_header(b"another body")),
    );
    assert_eq!(wrong.status, 401);
    // Not parsed before the signature: malformed JSON with a bad signature is still a 401.
    assert_eq!(
        webhook(
            &server,
            "ping",
            "d-1",
            b"{not json",
            Some("sha256=00".into())
        )
        .status,
        401
    );
    let ok = webhook(&server, "ping", "d-1", body, Some(hmac_header(body)));
    assert_eq!((ok.status, ok.body.as_str()), (200, "pong\n"));
    let again = webhook(&server, "ping", "d-1", body, Some(hmac_header(body)));
    assert_eq!(
        (again.status, again.body.as_str()),
        (200, "duplicate delivery: already handled\n")
    );
    let other = webhook(&server, "star", "d-2", b"{}", Some(hmac_header(b"{}")));
    assert_eq!(other.status, 204);
    let missing_id = webhook(
        &server,
        "ping",
        "not a guid!",
        body,
        Some(hmac_header(body)),
    );
    assert_eq!(
        (missing_id.status, missing_id.body.as_str()),
        (400, "missing or invalid X-GitHub-Delivery\n")
    );
    let metrics = server.get("/metrics").body;
    for line in [
        "keysweep_signature_failures_total{endpoint=\"webhook\"} 3",
        "keysweep_webhook_deliveries_total{event=\"ping\",outcome=\"ok\"} 1",
        "keysweep_webhook_deliveries_total{event=\"ping\",outcome=\"duplicate\"} 1",
        "keysweep_webhook_deliveries_total{event=\"other\",outcome=\"ignored\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }
    drop(server);
    // The delivery is remembered across a restart.
    let server = Server::start(dir.path(), &[]);
    let after = webhook(&server, "ping", "d-1", body, Some(hmac_header(body)));
    assert_eq!(after.body, "duplicate delivery: already handled\n");
}

#[test]
fn partner_alerts_revoke_by_hash_once_and_are_labelled() {
    let (service, _meta, key, dir) = setup();
    let server = Server::start(dir.path(), &["--revoke"]);
    let leaked = service.issue(KeyKind::SecretLive);
    let unknown = IssuedKey {
        key: Fakes::new(7).sk_live(),
        key_id: None,
    };
    let body = alert_body(&[&leaked.key, &unknown.key, "not-a-key-of-ours"]);
    let reply = alert(&server, "key-1", &key, &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!([
            {"token_hash": leaked.sha256(), "token_type": "acme_live_key", "label": "true_positive"},
            {"token_hash": unknown.sha256(), "token_type": "acme_live_key", "label": "false_positive"},
        ])
    );
    assert!(!service.accepts(&leaked));
    // GitHub sends the same token again (another repository): labelled, not sent twice.
    let again = alert(&server, "key-1", &key, &alert_body(&[&leaked.key]));
    assert_eq!(again.json()[0]["label"], "true_positive");
    assert_eq!(service.revocations(&leaked), 1);
    let sent: Vec<_> = service
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/revocations")
        .collect();
    assert_eq!(sent.len(), 2, "one request per distinct key");
    assert!(sent.iter().all(|r| !r.raw().contains(&leaked.key)));
    let metrics = server.get("/metrics").body;
    assert!(
        metrics.contains("keysweep_revocations_total{outcome=\"revoked\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("keysweep_partner_tokens_total{outcome=\"no_rule\"} 1"),
        "{metrics}"
    );
    // No raw key in the output, the state directory or the journal.
    let (_, output) = server.stop();
    let at_rest = all_files(dir.path());
    assert!(
        at_rest.contains(&leaked.sha256()),
        "the journal holds the hash"
    );
    for k in [&leaked.key, &unknown.key] {
        assert!(!output.contains(k.as_str()), "raw key in output:\n{output}");
        assert!(!at_rest.contains(k.as_str()), "raw key on disk");
    }
    assert!(
        output.contains(&format!("sha256:{}", leaked.sha256())),
        "{output}"
    );
}

#[test]
fn partner_alerts_need_a_valid_signature_and_rotation_refetches_once() {
    let (service, meta, key, dir) = setup();
    let server = Server::start(dir.path(), &["--revoke"]);
    wait_until("signing keys", || server.get("/readyz").status == 200);
    let leaked = service.issue(KeyKind::SecretLive);
    let body = alert_body(&[&leaked.key]);
    let forged = alert(&server, "key-1", &key_pair(), &body);
    assert_eq!(
        (forged.status, forged.body.as_str()),
        (401, "the signature does not match the body\n")
    );
    let unsigned = server.post("/github/secret-scanning", &[], &body);
    assert_eq!(unsigned.status, 401);
    assert_eq!(
        unsigned.body,
        "missing Github-Public-Key-Identifier or Github-Public-Key-Signature header\n"
    );
    assert_eq!(
        service.revocations(&leaked),
        0,
        "nothing sent for an unverified alert"
    );
    // GitHub rotates its key: the unknown identifier refetches the list once.
    let rotated = key_pair();
    meta.publish("key-2", &rotated);
    let reply = alert(&server, "key-2", &rotated, &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(meta.fetches(), 2);
    // A made-up identifier within the minute does not make keysweep fetch again.
    let made_up = alert(&server, "key-3", &rotated, &body);
    assert_eq!(
        (made_up.status, made_up.body.as_str()),
        (401, "unknown signing key identifier\n")
    );
    assert_eq!(meta.fetches(), 2);
    let bad_json = alert(
        &server,
        "key-1",
        &key,
        format!("[{{\"token\": \"{}\"", leaked.key).as_bytes(),
    );
    assert_eq!(bad_json.status, 400);
    assert!(
        bad_json
            .body
            .starts_with("malformed alert: not a JSON array of {token, type, url}"),
        "{}",
        bad_json.body
    );
    assert!(!bad_json.body.contains(&leaked.key));
    let metrics = server.get("/metrics").body;
    assert!(
        metrics.contains("keysweep_signature_failures_total{endpoint=\"partner\"} 3"),
        "{metrics}"
    );
}

#[test]
fn bodies_over_25_mb_are_refused_unread() {
    let (_service, _meta, _key, dir) = setup();
    let server = Server::start(dir.path(), &[]);
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /github/secret-scanning HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n[",
        26 << 20
    );
    s.write_all(head.as_bytes()).unwrap();
    let reply = read_reply(s);
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(
        reply.body,
        "request body over the 25 MB GitHub sends at most\n"
    );
}

/// A webhook payload as GitHub sends it: the event fixture's payload plus the repository.
pub fn delivery_payload(event: &str, repo: &str, vars: &[(&str, &str)]) -> Vec<u8> {
    let mut all = vec![
        ("ID", "1"),
        ("ACTOR", "dana"),
        ("REPO", repo),
        ("API", "http://unused"),
    ];
    all.extend_from_slice(vars);
    let event: Value =
        serde_json::from_str(&fixture(&format!("github/events/{event}.json"), &all)).unwrap();
    let mut payload = event["payload"].clone();
    payload["repository"] = json!({"full_name": repo});
    serde_json::to_vec(&payload).unwrap()
}

#[test]
fn a_signed_issue_comment_with_a_key_is_revoked_once_by_hash() {
    let (service, _meta, _key, dir) = setup();
    let server = Server::start(dir.path(), &["--revoke"]);
    let leaked = service.issue(KeyKind::SecretLive);
    let body = delivery_payload(
        "issue_comment",
        "acme/app",
        &[("BODY", &format!("try this: STRIPE_KEY={}", leaked.key))],
    );
    let started = Instant::now();
    let reply = webhook(
        &server,
        "issue_comment",
        "c-1",
        &body,
        Some(hmac_header(&body)),
    );
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "scanned: 1 finding(s)\n")
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!service.accepts(&leaked));
    assert_eq!(service.revocations(&leaked), 1);
    // A redelivery is not acted on; a new delivery with the same key is not sent again.
    let again = webhook(
        &server,
        "issue_comment",
        "c-1",
        &body,
        Some(hmac_header(&body)),
    );
    assert_eq!(again.body, "duplicate delivery: already handled\n");
    let edited = webhook(
        &server,
        "issue_comment",
        "c-2",
        &body,
        Some(hmac_header(&body)),
    );
    assert_eq!(edited.status, 200);
    let sent = service
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/revocations");
    assert_eq!(sent.count(), 1);
    let bad = webhook(
        &server,
        "issue_comment",
        "c-3",
        b"{\"x\": ",
        Some(hmac_header(b"{\"x\": ")),
    );
    assert_eq!(
        (bad.status, bad.body.as_str()),
        (400, "malformed payload (line 1, column 6)\n")
    );
    let odd = br#"{"action": "created", "repository": {"full_name": "../../etc"}}"#;
    let odd = webhook(&server, "issue_comment", "c-4", odd, Some(hmac_header(odd)));
    assert_eq!(odd.body, "payload without a valid repository.full_name\n");
    let (_, output) = server.stop();
    assert!(output.contains("revoked: sk_live_"), "{output}");
    assert!(
        output.contains(&format!("sha256:{}", leaked.sha256())),
        "{output}"
    );
    assert!(!output.contains(&leaked.key) && !all_files(dir.path()).contains(&leaked.key));
}

#[test]
fn a_queued_push_survives_kill_9_and_is_revoked_exactly_once() {
    let service = start_key_service();
    let github = FakeGithub::start();
    let signing = key_pair();
    github.world().objects.insert(
        "/meta/public_keys/secret_scanning".into(),
        json!({"public_keys": [{"key_identifier": "k", "key": pem(&signing), "is_current": true}]}),
    );
    let dir = project(&service.revoke_url(), &github.url);
    let leaked = service.issue(KeyKind::SecretLive);
    let (before, head) = ("a".repeat(40), "b".repeat(40));
    let push = serde_json::to_vec(&json!({
        "ref": "refs/heads/main", "before": before, "after": head,
        "repository": {"full_name": "acme/app"},
        "head_commit": {"message": format!("oops {}", leaked.key)},
    }))
    .unwrap();
    // GitHub does not know the compare yet: the worker fails and waits to retry.
    let server = Server::start(dir.path(), &["--revoke"]);
    let reply = webhook(&server, "push", "p-1", &push, Some(hmac_header(&push)));
    assert_eq!((reply.status, reply.body.as_str()), (202, "queued\n"));
    let queue = dir.path().join("state/queue");
    assert_eq!(std::fs::read_dir(&queue).unwrap().count(), 1);
    wait_until("a failed try", || server.output().contains("acme/app"));
    drop(server); // SIGKILL
    assert!(
        !all_files(dir.path()).contains(&leaked.key),
        "the queue holds no payload text"
    );
    let mut fakes = Fakes::new(11);
    let (removed, context) = (fakes.sk_live(), fakes.sk_live());
    let compare: Value = serde_json::from_str(&fixture(
        "github/compare.json",
        &[
            ("API", &github.url),
            ("REPO", "acme/app"),
            ("BEFORE", &before),
            ("HEAD", &head),
            ("MESSAGE_KEY", "none"),
            ("REMOVED_KEY", &removed),
            ("ADDED_KEY", &leaked.key),
            ("CONTEXT_KEY", &context),
        ],
    ))
    .unwrap();
    github
        .world()
        .compares
        .insert(format!("acme/app/{before}...{head}"), compare);
    let server = Server::start(dir.path(), &["--revoke"]);
    wait_until("the revocation", || service.revocations(&leaked) == 1);
    wait_until("the queue to empty", || {
        std::fs::read_dir(&queue).unwrap().count() == 0
    });
    let (code, output) = server.stop();
    assert_eq!(code, Some(0), "{output}");
    let server = Server::start(dir.path(), &["--revoke"]);
    let redelivered = webhook(&server, "push", "p-1", &push, Some(hmac_header(&push)));
    assert_eq!(redelivered.body, "duplicate delivery: already handled\n");
    drop(server);
    assert_eq!(service.revocations(&leaked), 1);
    let sent = service
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/revocations");
    assert_eq!(sent.count(), 1, "revoked exactly once");
    assert!(!all_files(dir.path()).contains(&leaked.key));
}
