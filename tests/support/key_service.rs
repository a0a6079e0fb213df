//! A reference key service, real HTTP on 127.0.0.1 at a random port: it issues keys in the
//! formats of KEY-FORMATS.md, stores only their SHA-256 (and, for pairs, the 12-character
//! public `keyPrefix` of the key id), validates keys (revoked ones fail), implements the revoke
//! endpoint of docs/revocation.md, and injects faults on command. It records every request it
//! receives, raw, so tests can prove what keysweep did and did not send.
//!
//! Shared by the integration tests (`tests/support/mod.rs`) and `cargo run --example key_service`
//! (included with `#[path]`); each uses part of it.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

pub const REVOKE_PATH: &str = "/v1/revocations";
const BODY_LIMIT: usize = 1 << 20;

/// Kinds of key the service issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum KeyKind {
    #[serde(rename = "sk_live_")]
    SecretLive,
    #[serde(rename = "sk_test_")]
    SecretTest,
    #[serde(rename = "rk_live_")]
    RestrictedLive,
    /// A public `mk_live_` key id with its `msk_` secret.
    #[serde(rename = "pair")]
    Pair,
}

impl KeyKind {
    fn prefix(self) -> &'static str {
        match self {
            KeyKind::SecretLive => "sk_live_",
            KeyKind::SecretTest => "sk_test_",
            KeyKind::RestrictedLive => "rk_live_",
            KeyKind::Pair => "msk_",
        }
    }
}

/// A key as shown to its owner, once.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    /// The secret: what must be revoked.
    pub key: String,
    /// The public key id of a pair.
    pub key_id: Option<String>,
}

impl IssuedKey {
    pub fn sha256(&self) -> String {
        sha256_hex(&self.key)
    }

    /// How a client presents it: `Bearer <key>` or `Bearer <key id>:<secret>`.
    pub fn bearer(&self) -> String {
        match &self.key_id {
            Some(id) => format!("{id}:{}", self.key),
            None => self.key.clone(),
        }
    }
}

/// A fault applied to the next revoke request (in arrival order).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// 429 with `Retry-After: <seconds>`.
    RateLimited { retry_after: u64 },
    /// This status (500, 503…) without doing anything.
    Status { status: u16 },
    /// 401 whatever the token.
    Unauthorized,
    /// Wait, then handle the request normally.
    SlowBefore { millis: u64 },
    /// Handle the request (the key is revoked), then wait before answering.
    SlowAfter { millis: u64 },
    /// Close the connection without handling the request.
    DropBefore,
    /// Handle the request (the key is revoked), then close the connection without answering:
    /// the client cannot know it worked.
    DropAfter,
}

/// A request as the service received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Everything the request carried, for "is the key anywhere in it" searches.
    pub fn raw(&self) -> String {
        let mut s = format!("{} {}\n", self.method, self.path);
        for (n, v) in &self.headers {
            s.push_str(&format!("{n}: {v}\n"));
        }
        s.push_str(&self.body);
        s
    }
}

/// One revoke request and what became of it.
#[derive(Debug, Clone)]
pub struct RevokeAttempt {
    pub at: Instant,
    pub key_hash: String,
    pub fault: Option<Fault>,
    /// The status answered, `None` when the connection was dropped instead.
    pub status: Option<u16>,
}

#[derive(Debug)]
struct StoredKey {
    prefix: &'static str,
    /// The first 12 characters of a pair's key id, the only part of it the service keeps.
    key_id_prefix: Option<String>,
    revoked: bool,
    /// Times the key went from live to revoked. A correct client can never make this exceed 1,
    /// and a key counted 0 was not revoked.
    revocations: u32,
}

#[derive(Default)]
struct Inner {
    keys: HashMap<String, StoredKey>,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
    attempts: Vec<RevokeAttempt>,
    /// Idempotency-Key → the answer first given, replayed to retries.
    replays: HashMap<String, (u16, Value)>,
}

struct Shared {
    token: String,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Closes the connection a request came on, from inside its handler.
#[derive(Clone)]
struct ConnectionKill(Arc<Notify>);

pub struct KeyService {
    addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl KeyService {
    /// Starts the service on 127.0.0.1 at a random port (or `port`) with its own runtime; the
    /// admin `token` authorises revocations and key issuing.
    pub fn start(token: &str, port: u16) -> std::io::Result<KeyService> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let shared = Arc::new(Shared {
            token: token.to_string(),
            inner: Mutex::default(),
        });
        let listener = runtime.block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))?;
        let addr = listener.local_addr()?;
        let router = Router::new()
            .route("/v1/keys", post(issue_handler))
            .route("/v1/me", get(me_handler))
            .route("/v1/faults", post(fault_handler))
            .route(REVOKE_PATH, post(revoke_handler))
            .layer(middleware::from_fn_with_state(shared.clone(), record))
            .with_state(shared.clone());
        runtime.spawn(serve(listener, router));
        Ok(KeyService {
            addr,
            shared,
            runtime: Some(runtime),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn revoke_url(&self) -> String {
        format!("{}{REVOKE_PATH}", self.url())
    }

    pub fn issue(&self, kind: KeyKind) -> IssuedKey {
        self.shared.lock().issue(kind)
    }

    /// Applies `fault` to the next `times` revoke requests, after those already queued.
    pub fn inject(&self, fault: Fault, times: usize) {
        let mut inner = self.shared.lock();
        inner.faults.extend(std::iter::repeat_n(fault, times));
    }

    pub fn faults_left(&self) -> usize {
        self.shared.lock().faults.len()
    }

    /// Revokes a key the way an owner would in a dashboard, not through the endpoint.
    pub fn revoke_out_of_band(&self, key: &IssuedKey) {
        if let Some(k) = self.shared.lock().keys.get_mut(&key.sha256()) {
            k.revoked = true;
            k.revocations += 1;
        }
    }

    /// Validates the key over HTTP, as a client of the service would.
    pub fn accepts(&self, key: &IssuedKey) -> bool {
        let url = format!("{}/v1/me", self.url());
        let bearer = key.bearer();
        let runtime = self.runtime.as_ref().expect("running");
        // keysweep's reqwest is built without a default TLS provider.
        keysweep::http::install_crypto_provider();
        runtime.block_on(async move {
            let response = reqwest::Client::new()
                .get(url)
                .bearer_auth(bearer)
                .send()
                .await
                .expect("GET /v1/me");
            response.status() == StatusCode::OK
        })
    }

    pub fn revocations(&self, key: &IssuedKey) -> u32 {
        self.shared
            .lock()
            .keys
            .get(&key.sha256())
            .map_or(0, |k| k.revocations)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    pub fn attempts(&self) -> Vec<RevokeAttempt> {
        self.shared.lock().attempts.clone()
    }
}

impl Drop for KeyService {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn random_body(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("system randomness");
    URL_SAFE_NO_PAD.encode(buf)
}

/// A fresh admin token, for the example.
pub fn random_token() -> String {
    format!("kst_{}", random_body(24))
}

impl Inner {
    /// `prefix + base64url(32 random bytes)`: a 43-character body (KEY-FORMATS.md). Pairs get
    /// a 24-character key id.
    fn issue(&mut self, kind: KeyKind) -> IssuedKey {
        let key = format!("{}{}", kind.prefix(), random_body(32));
        let key_id = (kind == KeyKind::Pair).then(|| format!("mk_live_{}", random_body(18)));
        self.keys.insert(
            sha256_hex(&key),
            StoredKey {
                prefix: kind.prefix(),
                key_id_prefix: key_id.as_ref().map(|id| id[..12].to_string()),
                revoked: false,
                revocations: 0,
            },
        );
        IssuedKey { key, key_id }
    }

    /// The stored key a credential names, if it is valid: known, matching id, not revoked.
    fn validate(&self, key_id: Option<&str>, secret: &str) -> Result<&StoredKey, &'static str> {
        let stored = self.keys.get(&sha256_hex(secret)).ok_or("invalid_key")?;
        match (&stored.key_id_prefix, key_id) {
            (Some(p), Some(id)) if id.starts_with(p.as_str()) => {}
            (None, None) => {}
            _ => return Err("invalid_key"),
        }
        if stored.revoked {
            return Err("revoked_key");
        }
        Ok(stored)
    }

    /// The revoke endpoint once faults are out of the way: (status, body, replayed).
    fn revoke(&mut self, token: &str, headers: &HeaderMap, body: &[u8]) -> (u16, Value, bool) {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if bearer != Some(token) {
            return (401, json!({"error": "invalid_token"}), false);
        }
        let json_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json_type {
            return (415, json!({"error": "content_type_must_be_json"}), false);
        }
        let request = match parse_revoke_request(body) {
            Ok(r) => r,
            Err(e) => return (400, json!({"error": "invalid_request", "detail": e}), false),
        };
        let idempotency_key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
        if idempotency_key != Some(request.key_hash.as_str()) {
            let detail = "Idempotency-Key must be the key_hash";
            return (
                400,
                json!({"error": "invalid_request", "detail": detail}),
                false,
            );
        }
        if let Some((status, body)) = self.replays.get(&request.key_hash) {
            return (*status, body.clone(), true);
        }
        let Some(stored) = self.keys.get_mut(&request.key_hash) else {
            return (404, json!({"error": "unknown_key"}), false);
        };
        if stored.prefix != request.key_prefix {
            return (422, json!({"error": "key_prefix_mismatch"}), false);
        }
        if let (Some(p), Some(id)) = (&stored.key_id_prefix, &request.key_id) {
            if !id.starts_with(p.as_str()) {
                return (422, json!({"error": "key_id_mismatch"}), false);
            }
        }
        if stored.revoked {
            return (409, json!({"error": "already_revoked"}), false);
        }
        stored.revoked = true;
        stored.revocations += 1;
        let answer = json!({"revoked": true, "key_hash": request.key_hash});
        self.replays
            .insert(request.key_hash.clone(), (200, answer.clone()));
        (200, answer, false)
    }
}

/// The contract's body, strictly: unknown fields are rejected, so a client that sends more
/// than the contract (a key, say) fails loudly here.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeRequest {
    key_hash: String,
    hash_alg: String,
    key_prefix: String,
    #[serde(default)]
    key_id: Option<String>,
    rule: String,
    reason: String,
    found_at: FoundAt,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FoundAt {
    source: String,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    commit: Option<String>,
    #[serde(default)]
    path: Option<String>,
    line: u64,
    #[serde(default)]
    url: Option<String>,
}

fn parse_revoke_request(body: &[u8]) -> Result<RevokeRequest, String> {
    let r: RevokeRequest = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let hex64 = r.key_hash.len() == 64
        && r.key_hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex64 {
        return Err("key_hash must be 64 lowercase hex digits".into());
    }
    if r.hash_alg != "sha256" {
        return Err("hash_alg must be sha256".into());
    }
    if r.reason.is_empty() || r.rule.is_empty() || r.found_at.source.is_empty() {
        return Err("reason, rule and found_at.source are required".into());
    }
    Ok(r)
}

/// Accepts connections itself (rather than `axum::serve`) so a handler can drop its
/// connection without answering, as a crashed proxy or a reset would.
async fn serve(listener: tokio::net::TcpListener, router: Router) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let kill = Arc::new(Notify::new());
        let service = hyper_util::service::TowerToHyperService::new(
            router
                .clone()
                .layer(Extension(ConnectionKill(kill.clone()))),
        );
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let connection =
                hyper::server::conn::http1::Builder::new().serve_connection(io, service);
            tokio::select! {
                _ = connection => {}
                _ = kill.notified() => {}
            }
        });
    }
}

/// Records every request, raw, before any handler sees it.
async fn record(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let headers = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    shared.lock().requests.push(RecordedRequest {
        at: Instant::now(),
        method: parts.method.to_string(),
        path: parts.uri.to_string(),
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    });
    next.run(Request::from_parts(parts, bytes.into())).await
}

async fn revoke_handler(
    State(shared): State<Arc<Shared>>,
    Extension(kill): Extension<ConnectionKill>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key_hash = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["key_hash"].as_str().map(str::to_string))
        .unwrap_or_default();
    let fault = shared.lock().faults.pop_front();
    let log = |status: Option<u16>| {
        shared.lock().attempts.push(RevokeAttempt {
            at: Instant::now(),
            key_hash: key_hash.clone(),
            fault: fault.clone(),
            status,
        });
    };
    match &fault {
        Some(Fault::RateLimited { retry_after }) => {
            log(Some(429));
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({"error": "rate_limited"})),
            )
                .into_response();
            let h = r.headers_mut();
            h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            h.insert("x-ratelimit-remaining", HeaderValue::from(0));
            return r;
        }
        Some(Fault::Status { status }) => {
            log(Some(*status));
            let code = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (code, Json(json!({"error": "injected"}))).into_response();
        }
        Some(Fault::Unauthorized) => {
            log(Some(401));
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": "invalid_token"})),
            )
                .into_response();
        }
        Some(Fault::SlowBefore { millis }) => {
            tokio::time::sleep(Duration::from_millis(*millis)).await
        }
        Some(Fault::DropBefore) => {
            log(None);
            return hang_up(&kill).await;
        }
        _ => {}
    }
    let (status, answer, replayed) = shared.lock().revoke(&shared.token, &headers, &body);
    match &fault {
        Some(Fault::SlowAfter { millis }) => {
            tokio::time::sleep(Duration::from_millis(*millis)).await
        }
        Some(Fault::DropAfter) => {
            log(None);
            return hang_up(&kill).await;
        }
        _ => {}
    }
    log(Some(status));
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (code, Json(answer)).into_response();
    if replayed {
        r.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    r
}

async fn hang_up(kill: &ConnectionKill) -> Response {
    kill.0.notify_one();
    std::future::pending().await
}

fn admin(shared: &Shared, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        == Some(shared.token.as_str())
}

#[derive(Deserialize)]
struct IssueRequest {
    #[serde(rename = "type")]
    kind: KeyKind,
}

/// `POST /v1/keys {"type": "sk_live_" | "sk_test_" | "rk_live_" | "pair"}` (admin token).
async fn issue_handler(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(request): Json<IssueRequest>,
) -> Response {
    if !admin(&shared, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let key = shared.lock().issue(request.kind);
    let body = json!({"key": key.key, "key_id": key.key_id, "key_sha256": key.sha256()});
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `POST /v1/faults {"kind": "rate_limited", "retry_after": 2, "times": 3}` (admin token).
async fn fault_handler(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(mut request): Json<Value>,
) -> Response {
    if !admin(&shared, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let times = request
        .as_object_mut()
        .and_then(|o| o.remove("times"))
        .and_then(|t| t.as_u64())
        .unwrap_or(1);
    match serde_json::from_value::<Fault>(request) {
        Ok(fault) => {
            let mut inner = shared.lock();
            for _ in 0..times {
                inner.faults.push_back(fault.clone());
            }
            (
                StatusCode::CREATED,
                Json(json!({"queued": inner.faults.len()})),
            )
                .into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

/// `GET /v1/me` with `Authorization: Bearer <key>` (or `<key id>:<secret>`), or `X-API-Key` and
/// `X-API-Secret`: 200 for a valid key, 401 for an unknown or revoked one.
async fn me_handler(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (key_id, secret) = match (get("x-api-key"), get("x-api-secret")) {
        (Some(id), Some(secret)) => (Some(id), secret),
        _ => match get("authorization").and_then(|v| v.strip_prefix("Bearer ")) {
            Some(b) => match b.split_once(':') {
                Some((id, secret)) => (Some(id), secret),
                None => (None, b),
            },
            None => {
                return (StatusCode::UNAUTHORIZED, Json(json!({"error": "no_key"}))).into_response()
            }
        },
    };
    let inner = shared.lock();
    match inner.validate(key_id, secret) {
        Ok(stored) => {
            let display = format!(
                "{}...",
                &secret[..(stored.prefix.len() + 8).min(secret.len())]
            );
            (
                StatusCode::OK,
                Json(json!({"key_prefix": stored.prefix, "display_id": display})),
            )
                .into_response()
        }
        Err(e) => (StatusCode::UNAUTHORIZED, Json(json!({"error": e}))).into_response(),
    }
}
