//! `keysweep serve` end to end: the real binary on 127.0.0.1, fed signed webhooks and signed
//! partner alerts over real sockets, revoking at the reference key service
//! (`tests/support/key_service.rs`), with GitHub's partner signing keys served by a small fake.

#[path = "support/key_service.rs"]
mod key_service;
mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use key_service::{IssuedKey, KeyKind, KeyService};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

const TOKEN: &str = "kst_test_admin_token_4f9a2c";
const WEBHOOK_SECRET: &str = "whsec-test-3b1f9e";

/// A running `keysweep serve`, killed when dropped.
struct Server {
    child: Child,
    addr: String,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
}

fn drain(
    stream: impl Read + Send + 'static,
    into: Arc<Mutex<String>>,
    tx: Option<std::sync::mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let (Some(tx), Some(addr)) =
                (&tx, line.strip_prefix("keysweep: listening on http://"))
            {
                let _ = tx.send(addr.to_string());
            }
            into.lock().unwrap().push_str(&format!("{line}\n"));
        }
    });
}

impl Server {
    fn start(project: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(util::BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--state-dir", "state"])
            .args(extra)
            .current_dir(project)
            .env("KEYSWEEP_REVOKE_TOKEN", TOKEN)
            .env("KEYSWEEP_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env_remove("GITHUB_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start keysweep serve");
        let (stderr, stdout) = (Arc::default(), Arc::default());
        let (tx, rx) = std::sync::mpsc::channel();
        drain(child.stderr.take().unwrap(), Arc::clone(&stderr), Some(tx));
        drain(child.stdout.take().unwrap(), Arc::clone(&stdout), None);
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no address printed: {}", stderr.lock().unwrap()));
        Server {
            child,
            addr,
            stderr,
            stdout,
        }
    }

    fn output(&self) -> String {
        format!(
            "{}\n{}",
            self.stdout.lock().unwrap(),
            self.stderr.lock().unwrap()
        )
    }

    fn post(&self, path: &str, headers: &[(&str, String)], body: &[u8]) -> Reply {
        http(&self.addr, "POST", path, headers, body)
    }

    fn get(&self, path: &str) -> Reply {
        http(&self.addr, "GET", path, &[], b"")
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        let status = self.child.wait().expect("wait");
        std::thread::sleep(Duration::from_millis(100));
        (status.code(), self.output())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// One HTTP/1.1 request on its own connection, read to the end.
fn http(addr: &str, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("send head");
    let _ = s.write_all(body);
    read_reply(s)
}

fn read_reply(mut s: TcpStream) -> Reply {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Reply {
        status,
        body: if chunked {
            dechunk(body)
        } else {
            body.to_string()
        },
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn hmac_header(body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, WEBHOOK_SECRET.as_bytes());
    format!(
        "sha256={}",
        hex::encode(ring::hmac::sign(&key, body).as_ref())
    )
}

fn webhook(
    server: &Server,
    event: &str,
    delivery: &str,
    body: &[u8],
    signature: Option<String>,
) -> Reply {
    let mut headers = vec![
        ("X-GitHub-Event", event.to_string()),
        ("X-GitHub-Delivery", delivery.to_string()),
        ("Content-Type", "application/json".to_string()),
    ];
    if let Some(sig) = signature {
        headers.push(("X-Hub-Signature-256", sig));
    }
    server.post("/github/webhook", &headers, body)
}

/// GitHub's partner-program signing keys, served at `/meta/public_keys/secret_scanning`.
struct Meta {
    url: String,
    keys: Arc<Mutex<Vec<(String, String)>>>,
    fetches: Arc<Mutex<u32>>,
    _runtime: tokio::runtime::Runtime,
}

impl Meta {
    fn start() -> Meta {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let keys: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let fetches: Arc<Mutex<u32>> = Arc::default();
        let (k, f) = (keys.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/meta/public_keys/secret_scanning",
            axum::routing::get(move || {
                let (k, f) = (k.clone(), f.clone());
                async move {
                    *f.lock().unwrap() += 1;
                    let list: Vec<Value> = k.lock().unwrap().iter().map(|(id, pem)| json!({"key_identifier": id, "key": pem, "is_current": true})).collect();
                    axum::Json(json!({"public_keys": list}))
                }
            }),
        );
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(async move { axum::serve(listener, app).await });
        Meta {
            url,
            keys,
            fetches,
            _runtime: runtime,
        }
    }

    fn publish(&self, id: &str, key: &EcdsaKeyPair) {
        self.keys.lock().unwrap().push((id.to_string(), pem(key)));
    }

    fn fetches(&self) -> u32 {
        *self.fetches.lock().unwrap()
    }
}

fn key_pair() -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap()
}

/// The PEM SubjectPublicKeyInfo GitHub publishes: the P-256 SPKI header, then the point.
fn pem(key: &EcdsaKeyPair) -> String {
    let mut der = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
    der.extend_from_slice(key.public_key().as_ref());
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
}

fn alert(server: &Server, id: &str, key: &EcdsaKeyPair, body: &[u8]) -> Reply {
    let sig = key.sign(&SystemRandom::new(), body).unwrap();
    let headers = [
        ("Github-Public-Key-Identifier", id.to_string()),
        (
            "Github-Public-Key-Signature",
            base64::engine::general_purpose::STANDARD.encode(sig.as_ref()),
        ),
        ("Content-Type", "application/json".to_string()),
    ];
    server.post("/github/secret-scanning", &headers, body)
}

fn alert_body(tokens: &[&str]) -> Vec<u8> {
    let items: Vec<Value> = tokens.iter().map(|t| json!({"token": t, "type": "acme_live_key", "url": "https://github.com/o/r/blob/abc/x.txt", "source": "content"})).collect();
    serde_json::to_vec(&items).unwrap()
}

/// A project whose keysweep.toml points at the key service and the fake meta endpoint.
fn project(service: &KeyService, meta: &Meta) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[revoke]\nendpoint = {:?}\nbackoff = 0.02\nmax_attempts = 2\n\n[serve]\ngithub_api_url = {:?}\n",
        service.revoke_url(),
        meta.url
    );
    util::write(dir.path(), "keysweep.toml", config);
    dir
}

/// Every file under `dir`, concatenated (the state dir and the journal).
fn all_files(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.push_str(&all_files(&p));
        } else {
            out.push_str(&String::from_utf8_lossy(
                &std::fs::read(&p).unwrap_or_default(),
            ));
        }
    }
    out
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn setup() -> (KeyService, Meta, EcdsaKeyPair, tempfile::TempDir) {
    let service = KeyService::start(TOKEN, 0).unwrap();
    let meta = Meta::start();
    let key = key_pair();
    meta.publish("key-1", &key);
    let dir = project(&service, &meta);
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
        output.contains("keysweep: stopped: requests in flight finished"),
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
        key: util::Fakes::new(7).sk_live(),
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
