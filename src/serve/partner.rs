//! `POST /github/secret-scanning`: alerts from GitHub's secret scanning partner program, a JSON
//! array of `{token, type, url, source}` signed with GitHub's ECDSA key (see `signing`).
//!
//! Each token is hashed at once and run through the rules, so the rule, the pair and the
//! revocable flag are known exactly as for a scan; revocable keys are revoked by hash. The
//! answer labels each token GitHub may learn from: `true_positive` when the key service revoked
//! it (now or before), `false_positive` when it does not know the hash. Tokens no rule matches,
//! or that were not sent (no `--revoke`, not revocable), get no label: keysweep does not know.
//! If a revocation failed, the answer is 503, so GitHub delivers the alert again; what was
//! settled is not sent twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::finding::{secret_sha256, Finding, Origin};
use crate::revoke::KeyOutcome;
use crate::scan::Scratch;

use super::{header, reply, Shared};

#[derive(Deserialize)]
struct Alert {
    token: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    url: Option<String>,
}

/// One entry of the answer: GitHub's feedback format.
#[derive(Debug, Serialize, PartialEq)]
pub struct Label {
    pub token_hash: String,
    pub token_type: String,
    pub label: &'static str,
}

/// What became of the tokens of one alert.
struct Handled {
    labels: Vec<Label>,
    failed: usize,
}

pub async fn receive(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let identifier = header(&headers, "github-public-key-identifier");
    let signature = header(&headers, "github-public-key-signature");
    let work = shared.clone();
    let handled = tokio::task::spawn_blocking(move || {
        if let Err(why) = work
            .keys
            .check(identifier.as_deref(), signature.as_deref(), &body)
        {
            work.metrics.signature_failure("partner");
            return Err((StatusCode::UNAUTHORIZED, why.to_string()));
        }
        // serde's message would quote the offending value, which may be a token: only the
        // position is reported.
        let alerts: Vec<Alert> = serde_json::from_slice(&body).map_err(|e| {
            let msg = format!(
                "malformed alert: not a JSON array of {{token, type, url}} (line {}, column {})",
                e.line(),
                e.column()
            );
            (StatusCode::BAD_REQUEST, msg)
        })?;
        handle(&work, alerts).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
    })
    .await;
    match handled {
        Ok(Ok(h)) if h.failed > 0 => {
            let msg = format!(
                "revocation failed for {} token(s); deliver again later",
                h.failed
            );
            let mut r = reply(StatusCode::SERVICE_UNAVAILABLE, &msg);
            r.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("60"));
            r
        }
        Ok(Ok(h)) => (StatusCode::OK, axum::Json(h.labels)).into_response(),
        Ok(Err((status, msg))) => reply(status, &msg),
        Err(e) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("alert handling failed: {e}"),
        ),
    }
}

/// Hashes, scans and revokes the tokens of one verified alert. Blocking.
fn handle(shared: &Shared, alerts: Vec<Alert>) -> anyhow::Result<Handled> {
    let started = Instant::now();
    let scanner = &shared.pipeline.scanner;
    let mut scratch = Scratch::default();
    let mut findings: Vec<Finding> = Vec::new();
    // Per token: its hash, its type, and the hashes of the secrets the rules found in it.
    let mut tokens: Vec<(String, String, Vec<String>)> = Vec::with_capacity(alerts.len());
    for alert in alerts {
        let token_hash = secret_sha256(alert.token.as_bytes());
        let mut origin = Origin::new("github-partner");
        origin.url = alert.url;
        let mut found = Vec::new();
        scanner.scan_bytes(alert.token.as_bytes(), &origin, &mut scratch, &mut |f| {
            found.push(f.secret_sha256.clone());
            findings.push(f);
        });
        drop(alert.token);
        tokens.push((token_hash, alert.kind, found));
    }
    shared.metrics.scan_seconds.observe(started.elapsed());
    let outcomes = shared.revoker.revoke(&mut findings, "partner alert")?;
    if let Some(notifier) = &shared.notifier {
        notifier.findings(&findings, "partner alert");
    }
    Ok(label(tokens, &outcomes, shared))
}

fn label(
    tokens: Vec<(String, String, Vec<String>)>,
    outcomes: &HashMap<String, KeyOutcome>,
    shared: &Shared,
) -> Handled {
    let mut handled = Handled {
        labels: Vec::new(),
        failed: 0,
    };
    for (token_hash, token_type, found) in tokens {
        let known: Vec<&KeyOutcome> = found.iter().filter_map(|h| outcomes.get(h)).collect();
        let (label, outcome) = if found.is_empty() {
            (None, "no_rule")
        } else if known.iter().any(|o| matches!(o, KeyOutcome::Failed(_))) {
            handled.failed += 1;
            (None, "failed")
        } else if known
            .iter()
            .any(|o| matches!(o, KeyOutcome::Revoked | KeyOutcome::AlreadyRevoked))
        {
            (Some("true_positive"), "true_positive")
        } else if !known.is_empty() {
            (Some("false_positive"), "false_positive")
        } else {
            (None, "not_sent")
        };
        shared.metrics.partner_tokens(outcome, 1);
        if let Some(label) = label {
            handled.labels.push(Label {
                token_hash,
                token_type,
                label,
            });
        }
    }
    handled
}
