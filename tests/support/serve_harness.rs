//! Drives `keysweep serve` over real sockets: the process, raw HTTP/1.1 requests, webhook
//! HMAC signatures, and GitHub's partner-program signing keys (served by [`Meta`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

pub const WEBHOOK_SECRET: &str = "whsec-test-3b1f9e";

/// A running `keysweep serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
}

pub fn drain(
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
    pub fn start(project: &Path, extra: &[&str]) -> Server {
        let mut child = crate::harness::keysweep_cmd(project)
            .into_command()
            .args(["serve", "--listen", "127.0.0.1:0", "--state-dir", "state"])
            .args(extra)
            .env(super::REVOKE_TOKEN_ENV, super::REVOKE_TOKEN)
            .env("KEYSWEEP_WEBHOOK_SECRET", WEBHOOK_SECRET)
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

    pub fn output(&self) -> String {
        format!(
            "{}\n{}",
            self.stdout.lock().unwrap(),
            self.stderr.lock().unwrap()
        )
    }

    pub fn post(&self, path: &str, headers: &[(&str, String)], body: &[u8]) -> Reply {
        http(&self.addr, "POST", path, headers, body)
    }

    pub fn get(&self, path: &str) -> Reply {
        http(&self.addr, "GET", path, &[], b"")
    }

    /// SIGTERM, then the exit status.
    pub fn stop(mut self) -> (Option<i32>, String) {
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
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// One HTTP/1.1 request on its own connection, read to the end.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Reply {
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

pub fn read_reply(mut s: TcpStream) -> Reply {
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

pub fn dechunk(mut body: &str) -> String {
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

pub fn hmac_header(body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, WEBHOOK_SECRET.as_bytes());
    format!(
        "sha256={}",
        hex::encode(ring::hmac::sign(&key, body).as_ref())
    )
}

pub fn webhook(
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
pub struct Meta {
    pub url: String,
    keys: Arc<Mutex<Vec<(String, String)>>>,
    fetches: Arc<Mutex<u32>>,
    _runtime: tokio::runtime::Runtime,
}

impl Meta {
    pub fn start() -> Meta {
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

    pub fn publish(&self, id: &str, key: &EcdsaKeyPair) {
        self.keys.lock().unwrap().push((id.to_string(), pem(key)));
    }

    pub fn fetches(&self) -> u32 {
        *self.fetches.lock().unwrap()
    }
}

pub fn key_pair() -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap()
}

/// The PEM SubjectPublicKeyInfo GitHub publishes: the P-256 SPKI header, then the point.
pub fn pem(key: &EcdsaKeyPair) -> String {
    let mut der = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
    der.extend_from_slice(key.public_key().as_ref());
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
}

pub fn alert(server: &Server, id: &str, key: &EcdsaKeyPair, body: &[u8]) -> Reply {
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

pub fn alert_body(tokens: &[&str]) -> Vec<u8> {
    let items: Vec<Value> = tokens.iter().map(|t| json!({"token": t, "type": "acme_live_key", "url": "https://github.com/o/r/blob/abc/x.txt", "source": "content"})).collect();
    serde_json::to_vec(&items).unwrap()
}

/// Every file under `dir`, concatenated (the state dir and the journal).
pub fn all_files(dir: &Path) -> String {
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

pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Peak resident memory of a process (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A project whose keysweep.toml revokes at `revoke_url` (fast retries) and reaches GitHub,
/// for the partner signing keys and the compare API, at `api_url`.
pub fn project(revoke_url: &str, api_url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[revoke]\nendpoint = {revoke_url:?}\nbackoff = 0.02\nmax_attempts = 2\n\n\
         [serve]\ngithub_api_url = {api_url:?}\n"
    );
    std::fs::write(dir.path().join("keysweep.toml"), config).unwrap();
    dir
}
