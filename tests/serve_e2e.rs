//! Issue 11's "done when", in one run of `keysweep serve --revoke`: the fake GitHub (compare
//! API, repository objects, a repository to fetch, the partner signing keys) and the reference
//! key service; a push scanned through the compare API, a push whose compare is cut short
//! (scanned from the fetched mirror), an issue comment and a partner alert, each key revoked
//! once by hash; forged requests refused; a redelivery ignored.

use std::path::Path;

use serde_json::json;

use crate::harness::fakes::Fakes;
use crate::harness::git::{commit_file, file_url, git, git_init};
use crate::serve::delivery_payload;
use crate::support::fake_github::{fixture, FakeGithub};
use crate::support::key_service::{IssuedKey, KeyKind, KeyService, REVOKE_PATH};
use crate::support::serve_harness::{
    alert, alert_body, all_files, hmac_header, key_pair, pem, project, wait_until, webhook, Server,
};
use crate::support::start_key_service;

/// `acme/app` as a bare repository on disk with a working clone, listed by the fake GitHub.
struct Repo {
    work: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Repo {
    fn new(github: &FakeGithub) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let (bare, work) = (dir.path().join("app.git"), dir.path().join("app"));
        std::fs::create_dir_all(&bare).unwrap();
        git(&bare, &["init", "-q", "--bare", "-b", "main"]);
        git_init(&work);
        git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
        github.world().repos.push(fixture(
            "repo.json",
            &[
                ("OWNER", "acme"),
                ("NAME", "app"),
                ("API", &github.url),
                ("CLONE_URL", &file_url(&bare)),
                ("PUSHED_AT", "2026-01-01T00:00:00Z"),
            ],
        ));
        Repo { work, _dir: dir }
    }

    fn commit(&self, rel: &str, content: &str) -> String {
        let sha = commit_file(&self.work, rel, content, "change");
        git(
            &self.work,
            &["push", "-q", "origin", "HEAD:refs/heads/main"],
        );
        sha
    }
}

fn push_payload(before: &str, after: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ref": "refs/heads/main", "before": before, "after": after,
        "repository": {"full_name": "acme/app"},
        "head_commit": {"message": "change"},
    }))
    .unwrap()
}

fn sent(service: &KeyService) -> usize {
    let all = service.requests();
    all.iter().filter(|r| r.path == REVOKE_PATH).count()
}

#[test]
fn pushes_a_comment_and_a_partner_alert_are_each_revoked_once_by_hash() {
    let (service, github) = (start_key_service(), FakeGithub::start());
    let signing = key_pair();
    github.world().objects.insert(
        "/meta/public_keys/secret_scanning".into(),
        json!({"public_keys": [{"key_identifier": "k", "key": pem(&signing), "is_current": true}]}),
    );
    let dir = project(&service.revoke_url(), &github.url);
    let repo = Repo::new(&github);
    let [pushed, cut, commented, alerted] = [(); 4].map(|()| service.issue(KeyKind::SecretLive));
    let base = repo.commit("README.md", "hello\n");

    // 1. A push the compare API describes whole.
    let head = repo.commit("config.env", &format!("KEY={}\n", pushed.key));
    let mut fakes = Fakes::new(31);
    let vars = [("API", github.url.as_str()), ("REPO", "acme/app")];
    let (removed, context) = (fakes.sk_live(), fakes.sk_live());
    let compare = fixture(
        "compare.json",
        &[
            vars[0],
            vars[1],
            ("BEFORE", &base),
            ("HEAD", &head),
            ("MESSAGE_KEY", "none"),
            ("REMOVED_KEY", &removed),
            ("ADDED_KEY", &pushed.key),
            ("CONTEXT_KEY", &context),
        ],
    );
    github
        .world()
        .compares
        .insert(format!("acme/app/{base}...{head}"), compare);
    // 2. A push whose compare leaves out the patch: scanned from the fetched repository.
    let rows: String = (0..500).map(|i| format!("row {i}\n")).collect();
    let dump = format!("{rows}api_key={}\n", cut.key);
    let cut_head = repo.commit("data/dump.sql", &dump);
    let truncated = fixture(
        "compare-truncated.json",
        &[
            vars[0],
            vars[1],
            ("BEFORE", &head),
            ("HEAD", &cut_head),
            ("PATH", "data/dump.sql"),
        ],
    );
    github
        .world()
        .compares
        .insert(format!("acme/app/{head}...{cut_head}"), truncated);

    let server = Server::start(dir.path(), &["--revoke"]);
    for (id, body) in [
        ("p-1", push_payload(&base, &head)),
        ("p-2", push_payload(&head, &cut_head)),
    ] {
        let reply = webhook(&server, "push", id, &body, Some(hmac_header(&body)));
        assert_eq!((reply.status, reply.body.as_str()), (202, "queued\n"));
    }
    // 3. An issue comment: scanned inline, revoked before the answer.
    let comment = delivery_payload(
        "issue_comment",
        "acme/app",
        &[("BODY", &format!("use {}", commented.key))],
    );
    let reply = webhook(
        &server,
        "issue_comment",
        "c-1",
        &comment,
        Some(hmac_header(&comment)),
    );
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "scanned: 1 finding(s)\n")
    );
    assert_eq!(service.revocations(&commented), 1);
    // 4. A partner alert: revoked and labelled before the answer.
    let reply = alert(&server, "k", &signing, &alert_body(&[&alerted.key]));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!([{"token_hash": alerted.sha256(), "token_type": "acme_live_key", "label": "true_positive"}])
    );
    wait_until("both pushes revoked", || {
        service.revocations(&pushed) == 1 && service.revocations(&cut) == 1
    });
    assert_forgeries_and_redeliveries_do_nothing(&server, &signing, &alerted, &comment);
    let (code, output) = server.stop();
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output.contains("left out the patch of data/dump.sql"),
        "{output}"
    );
    let keys = [&pushed, &cut, &commented, &alerted];
    for k in keys {
        assert_eq!(service.revocations(k), 1);
        assert!(!service.accepts(k));
        assert!(
            output.contains(&format!("sha256:{}", k.sha256())),
            "{output}"
        );
    }
    assert_eq!(sent(&service), 4, "one request per key, no repeat");
    assert_no_raw_key(dir.path(), &output, &keys);
}

/// A forged webhook and a forged alert are refused 401 and cause nothing; a redelivered comment
/// is recognised and not acted on.
fn assert_forgeries_and_redeliveries_do_nothing(
    server: &Server,
    signing: &ring::signature::EcdsaKeyPair,
    alerted: &IssuedKey,
    comment: &[u8],
) {
    let before = server.get("/metrics").body;
    let forged = webhook(
        server,
        "issue_comment",
        "c-9",
        comment,
        Some(hmac_header(b"x")),
    );
    assert_eq!(forged.status, 401);
    let forged = alert(server, "k", &key_pair(), &alert_body(&[&alerted.key]));
    assert_eq!(forged.status, 401);
    let _ = signing;
    let again = webhook(
        server,
        "issue_comment",
        "c-1",
        comment,
        Some(hmac_header(comment)),
    );
    assert_eq!(again.body, "duplicate delivery: already handled\n");
    let after = server.get("/metrics").body;
    assert!(
        after.contains("keysweep_signature_failures_total{endpoint=\"webhook\"} 1")
            && after.contains("keysweep_signature_failures_total{endpoint=\"partner\"} 1"),
        "{before}\n---\n{after}"
    );
}

fn assert_no_raw_key(state: &Path, output: &str, keys: &[&IssuedKey]) {
    let at_rest = all_files(state);
    for k in keys {
        assert!(!output.contains(&k.key), "raw key in output:\n{output}");
        assert!(!at_rest.contains(&k.key), "raw key at rest in the project");
    }
}

#[test]
fn discussions_and_their_comments_are_scanned_inline_and_revoked() {
    let (service, github) = (start_key_service(), FakeGithub::start());
    let dir = project(&service.revoke_url(), &github.url);
    let server = Server::start(dir.path(), &["--revoke"]);
    let ready = server.get("/readyz").json();
    assert_eq!(ready["journal_writable"], true, "{ready}");
    let (in_title, in_comment) = (
        service.issue(KeyKind::SecretLive),
        service.issue(KeyKind::SecretLive),
    );
    let repository = json!({"full_name": "acme/app"});
    let discussion = serde_json::to_vec(&json!({
        "action": "created", "repository": repository,
        "discussion": {"number": 5, "title": format!("why does {} fail", in_title.key),
                       "body": "see title", "html_url": "https://github.com/acme/app/discussions/5"},
    }))
    .unwrap();
    let comment = serde_json::to_vec(&json!({
        "action": "created", "repository": repository, "discussion": {"number": 5},
        "comment": {"id": 77, "body": format!("try KEY={}", in_comment.key)},
    }))
    .unwrap();
    for (event, id, body) in [
        ("discussion", "d-1", &discussion),
        ("discussion_comment", "d-2", &comment),
    ] {
        let reply = webhook(&server, event, id, body, Some(hmac_header(body)));
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, "scanned: 1 finding(s)\n"),
            "{event}"
        );
    }
    assert_eq!(service.revocations(&in_title), 1);
    assert_eq!(service.revocations(&in_comment), 1);
    let metrics = server.get("/metrics").body;
    assert!(
        metrics.contains(
            "keysweep_webhook_deliveries_total{event=\"discussion_comment\",outcome=\"scanned\"} 1"
        ),
        "{metrics}"
    );
    let (_, output) = server.stop();
    assert!(
        output.contains("webhook discussion_comment acme/app (d-2): revoked: sk_live_"),
        "{output}"
    );
}

/// A webhook receiver on 127.0.0.1 that answers its first request 503 and the others 204, and
/// keeps every body.
fn receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let mut bodies = kept.lock().unwrap();
            bodies.push(String::from_utf8(body).unwrap());
            let status = if bodies.len() == 1 {
                "503 Busy"
            } else {
                "204 No Content"
            };
            let reply =
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    (url, bodies)
}

#[test]
fn each_confirmed_finding_is_notified_with_retries_and_without_the_key() {
    let (service, github) = (start_key_service(), FakeGithub::start());
    let dir = project(&service.revoke_url(), &github.url);
    let (url, bodies) = receiver();
    let config = dir.path().join("keysweep.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("\n[notify]\nurl = {url:?}\nbackoff = 0.01\n"));
    std::fs::write(&config, text).unwrap();
    let server = Server::start(dir.path(), &["--revoke"]);
    let leaked = service.issue(KeyKind::SecretLive);
    let body = delivery_payload(
        "issue_comment",
        "acme/app",
        &[("BODY", &format!("KEY={}", leaked.key))],
    );
    let reply = webhook(
        &server,
        "issue_comment",
        "n-1",
        &body,
        Some(hmac_header(&body)),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    wait_until("the notification", || bodies.lock().unwrap().len() == 2);
    let sent = bodies.lock().unwrap().clone();
    assert_eq!(sent[0], sent[1], "the retry sends the same message");
    let message: serde_json::Value = serde_json::from_str(&sent[1]).unwrap();
    assert_eq!(message["rule"], "keyservice.secret-live");
    assert_eq!(message["sha256"], leaked.sha256().as_str());
    assert_eq!(message["repository"], "acme/app");
    assert_eq!(message["revocation"], "revoked");
    let redacted = message["redacted"].as_str().unwrap();
    assert!(
        redacted.starts_with("sk_live_") && redacted.contains('…'),
        "{redacted}"
    );
    let text = message["text"].as_str().unwrap();
    assert!(
        text.starts_with("keysweep: keyservice.secret-live key sk_live_")
            && text.contains(&format!("(sha256:{})", leaked.sha256()))
            && text.ends_with("; revocation: revoked"),
        "{text}"
    );
    assert!(
        !sent[1].contains(&leaked.key),
        "raw key in the notification"
    );
    let (_, output) = server.stop();
    assert!(!output.contains("notify: not delivered"), "{output}");
}
