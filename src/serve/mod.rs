//! `keysweep serve`: a long-running HTTP receiver that brings a leak to revocation in seconds.
//! GitHub webhooks (`webhook`, HMAC-signed) and secret-scanning partner alerts (`partner`,
//! ECDSA-signed) go through the same pipeline as a scan: rules, then revocation by hash with the
//! journal the CLI uses. Health and Prometheus metrics for whoever runs it. See docs/serve.md.
//!
//! Blocking work (scanning, revocation, fsync, the GitHub client) runs on tokio's blocking
//! pool; the async workers only move bytes.

pub mod deliveries;
pub mod metrics;
pub mod notify;
pub mod partner;
pub mod queue;
pub mod registration;
pub mod revoking;
pub mod signing;
pub mod webhook;
pub mod work;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ring::hmac;

use crate::github::client::Client;
use crate::http::{Token, TokenError};
use crate::messages::Messages;
use crate::pipeline::{self, Outcome, Pipeline};
use deliveries::Deliveries;
use metrics::Metrics;
use queue::Queue;
use revoking::Revoker;
use signing::SigningKeys;

/// GitHub sends at most 25 MB per webhook delivery.
pub const BODY_LIMIT: usize = 25 << 20;
/// A request (body read and work) that takes longer is answered 503; GitHub gives up at 10 s.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Webhook deliveries remembered for de-duplication (GitHub redelivers within days).
pub const DELIVERIES_KEPT: usize = 10_000;
/// Repository work items on disk at most; beyond, deliveries are answered 503 + Retry-After.
pub const QUEUE_BOUND: usize = 1_000;

/// What `keysweep serve` runs with.
#[derive(Debug, Clone)]
pub struct Options {
    /// `HOST:PORT`; port 0 picks a free one (the bound address is printed).
    pub listen: String,
    /// Where deliveries and queued work are kept.
    pub state_dir: PathBuf,
    /// Rules, configuration and revocation, as for a scan.
    pub pipeline: pipeline::Options,
}

/// What every handler shares.
pub struct Shared {
    pub pipeline: Arc<Pipeline>,
    pub revoker: Revoker,
    pub keys: SigningKeys,
    pub deliveries: Deliveries,
    pub queue: Queue,
    pub client: Arc<Client>,
    pub metrics: Arc<Metrics>,
    pub messages: Messages,
    /// `None` when the secret's variable was unset at start: every webhook is refused.
    pub webhook_key: Option<hmac::Key>,
    pub webhook_secret_env: String,
    pub state_dir: PathBuf,
    /// `[notify]`, when configured.
    pub notifier: Option<notify::Notifier>,
}

/// Runs the server until SIGTERM or Ctrl-C, then lets requests in flight finish.
pub fn run(options: &Options, messages: &Messages) -> anyhow::Result<Outcome> {
    let shared = Arc::new(prepare(options, messages)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the server runtime")?;
    runtime.block_on(serve(options, shared.clone()))?;
    Ok(Outcome {
        incomplete: messages.incomplete(),
        ..Outcome::default()
    })
}

/// Everything that can fail before the port opens: configuration, rules, revocation settings
/// and token, the state directory.
fn prepare(options: &Options, messages: &Messages) -> anyhow::Result<Shared> {
    let pipeline = Arc::new(Pipeline::build(&options.pipeline, messages.clone())?);
    let serve = pipeline.config.serve.clone();
    let metrics = Arc::new(Metrics::default());
    std::fs::create_dir_all(&options.state_dir).with_context(|| {
        format!(
            "cannot create the state directory {}",
            options.state_dir.display()
        )
    })?;
    let deliveries_path = options.state_dir.join("deliveries");
    let deliveries = Deliveries::open(&deliveries_path, DELIVERIES_KEPT)
        .with_context(|| format!("cannot open {}", deliveries_path.display()))?;
    let queue_dir = options.state_dir.join("queue");
    let queue = Queue::open(&queue_dir, QUEUE_BOUND)
        .with_context(|| format!("cannot open the work queue {}", queue_dir.display()))?;
    metrics
        .queue_depth
        .store(queue.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let webhook_key = match std::env::var(&serve.webhook_secret_env) {
        Ok(secret) if !secret.is_empty() => {
            Some(hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()))
        }
        _ => {
            messages.warn(format_args!(
                "${} is not set: every webhook delivery will be refused (401)",
                serve.webhook_secret_env
            ));
            None
        }
    };
    // Unset or empty: public data only, which is all the partner signing keys need.
    let token = match Token::from_env("GITHUB_TOKEN") {
        Ok(token) => Some(token),
        Err(TokenError::Missing(_) | TokenError::Empty(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let client =
        Client::new(&serve.github_api_url, token, messages).context("[serve] github_api_url")?;
    let client = Arc::new(client);
    let notifier = match &pipeline.config.notify {
        Some(config) => Some(notify::Notifier::start(config, messages)?),
        None => None,
    };
    Ok(Shared {
        notifier,
        revoker: Revoker::new(pipeline.clone(), metrics.clone(), messages.clone()),
        pipeline,
        keys: SigningKeys::new(client.clone()),
        client,
        deliveries,
        queue,
        metrics,
        messages: messages.clone(),
        webhook_key,
        webhook_secret_env: serve.webhook_secret_env,
        state_dir: options.state_dir.clone(),
    })
}

async fn serve(options: &Options, shared: Arc<Shared>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let address = listener.local_addr()?;
    let loader = shared.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = loader.keys.fetch() {
            loader.messages.warn(format_args!(
                "partner-alert signing keys not loaded yet ({e:#}); the first alert retries"
            ));
        }
    });
    shared
        .messages
        .status(format_args!("listening on http://{address}"));
    let s = shared.clone();
    let worker = std::thread::spawn(move || work::worker(s));
    let app = router(shared.clone());
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    // The item in hand is finished; the rest stays on disk for the next start.
    shared.queue.close();
    let _ = tokio::task::spawn_blocking(move || worker.join()).await;
    served.context("the server failed")?;
    shared.messages.status(format_args!(
        "stopped: requests in flight finished, {} queued item(s) kept",
        shared.queue.len()
    ));
    Ok(())
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { reply(StatusCode::OK, "ok") }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/github/webhook", post(webhook::receive))
        .route("/github/secret-scanning", post(partner::receive))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(guard))
        .with_state(shared)
}

/// Refuses a declared body over the limit before reading any of it (the body extractor alone
/// would read up to the limit first), and bounds a request's whole life, body read included,
/// so a slow sender cannot hold a worker.
async fn guard(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body over the 25 MB GitHub sends at most",
        );
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => reply(StatusCode::SERVICE_UNAVAILABLE, "request timed out"),
    }
}

/// Ready when work can be made durable (the state directory, and the revocation journal when
/// revoking) and partner alerts can be verified.
async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let s = shared.clone();
    let writable = tokio::task::spawn_blocking(move || {
        let probe = s.state_dir.join(".ready-probe");
        let ok = std::fs::write(&probe, b"").is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    })
    .await
    .unwrap_or(false);
    let keys = shared.keys.loaded();
    let mut body = serde_json::json!({"state_dir_writable": writable, "signing_keys_loaded": keys});
    let journal = shared.pipeline.journal_health();
    if let Some(health) = &journal {
        body["journal_writable"] = health.is_ok().into();
    }
    let ready = writable && keys && journal.is_none_or(|h| h.is_ok());
    let status = match ready {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics_text(State(shared): State<Arc<Shared>>) -> Response {
    (
        [("content-type", "text/plain; version=0.0.4")],
        shared.metrics.render(),
    )
        .into_response()
}

/// A plain-text answer (empty for 204).
pub fn reply(status: StatusCode, message: &str) -> Response {
    if message.is_empty() {
        return status.into_response();
    }
    (status, format!("{message}\n")).into_response()
}

/// A header as text, if present and printable.
pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_string)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
