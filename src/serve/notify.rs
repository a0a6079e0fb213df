//! `[notify]`: one JSON message per confirmed finding to a webhook (Slack-compatible `text`,
//! plus structured fields), from a thread of its own so that a slow or failing receiver never
//! delays an answer to GitHub. Retried with the policy every client uses
//! ([`crate::http::retry`]); the message carries the redacted form and the hash, never the key.
//!
//! ```toml
//! [notify]
//! url_env = "KEYSWEEP_NOTIFY_URL"   # the variable holding the URL (a Slack URL is a secret)
//! # url = "https://alerts.internal.example/keysweep"   # or the URL itself, if it is not
//! max_attempts = 4
//! backoff = 1.0                     # seconds, doubled per failure, with jitter
//! ```

use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::config::NotifyConfig;
use crate::finding::Finding;
use crate::http::{describe, retry_after, ClientOptions, GiveUp, RetryPolicy};
use crate::messages::Messages;

/// Messages waiting to be sent at most; beyond, new ones are dropped with a warning.
const BACKLOG: usize = 1_000;

/// What is posted for one finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub text: String,
    pub rule: String,
    pub redacted: String,
    pub sha256: String,
    pub repository: Option<String>,
    pub url: Option<String>,
    /// The revocation outcome (`revoked`, `failed: …`), `None` when not revoking.
    pub revocation: Option<String>,
}

impl Message {
    pub fn of(f: &Finding, context: &str) -> Message {
        let place = f.origin.url.as_deref().or(f.origin.repo.as_deref());
        let text = format!(
            "keysweep: {} key {} (sha256:{}) {}{}; revocation: {}",
            f.rule,
            f.redacted,
            f.secret_sha256,
            context,
            place.map(|p| format!(" at {p}")).unwrap_or_default(),
            f.revocation.as_deref().unwrap_or("not requested"),
        );
        Message {
            text,
            rule: f.rule.clone(),
            redacted: f.redacted.clone(),
            sha256: f.secret_sha256.clone(),
            repository: f.origin.repo.clone(),
            url: f.origin.url.clone(),
            revocation: f.revocation.clone(),
        }
    }
}

/// The sending side: cheap, never blocks.
pub struct Notifier {
    queue: SyncSender<Message>,
    messages: Messages,
}

impl Notifier {
    /// Checks the configuration, builds the client and starts the sending thread.
    pub fn start(config: &NotifyConfig, messages: &Messages) -> anyhow::Result<Notifier> {
        let url = match (&config.url, &config.url_env) {
            (Some(url), None) => url.clone(),
            (None, Some(var)) => std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .with_context(|| format!("[notify] url_env: ${var} is not set"))?,
            _ => anyhow::bail!("[notify] needs one of url or url_env"),
        };
        let url = reqwest::Url::parse(&url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .context("[notify] the URL is not an http(s) URL")?;
        let client = ClientOptions::new(Duration::from_secs(10), Duration::from_secs(5)).build()?;
        let policy = RetryPolicy {
            max_attempts: config.max_attempts.max(1),
            base: Duration::from_secs_f64(config.backoff.clamp(0.0, 60.0)),
            backoff_cap: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            max_total_wait: Duration::from_secs(120),
        };
        let (queue, rx) = mpsc::sync_channel::<Message>(BACKLOG);
        let m = messages.clone();
        std::thread::spawn(move || {
            for message in rx {
                if let Err(e) = post(&client, &url, &policy, &message) {
                    m.warn(format_args!(
                        "notify: not delivered for sha256:{}: {e}",
                        message.sha256
                    ));
                }
            }
        });
        Ok(Notifier {
            queue,
            messages: messages.clone(),
        })
    }

    /// Queues one message per distinct key of `findings`.
    pub fn findings(&self, findings: &[Finding], context: &str) {
        let mut seen = std::collections::HashSet::new();
        for f in findings.iter().filter(|f| seen.insert(&f.secret_sha256)) {
            if let Err(TrySendError::Full(m)) = self.queue.try_send(Message::of(f, context)) {
                self.messages.warn(format_args!(
                    "notify: {BACKLOG} messages waiting; dropped the one for sha256:{}",
                    m.sha256
                ));
            }
        }
    }
}

/// Posts `message`, retrying transport errors, 429 and 5xx as the policy allows. The
/// receiver's answer body is never read into a message.
fn post(
    client: &reqwest::blocking::Client,
    url: &reqwest::Url,
    policy: &RetryPolicy,
    message: &Message,
) -> Result<(), String> {
    let mut retry = policy.start();
    loop {
        let (problem, asked) = match client.post(url.clone()).json(message).send() {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => {
                let status = r.status();
                if !(status.as_u16() == 429 || status.is_server_error()) {
                    return Err(format!("the receiver answered HTTP {}", status.as_u16()));
                }
                let asked = retry_after(r.headers(), SystemTime::now());
                (format!("HTTP {}", status.as_u16()), asked)
            }
            Err(e) => (describe(&e), None),
        };
        match retry.failed(asked) {
            Ok(wait) => std::thread::sleep(wait),
            Err(why) => {
                let why = match why {
                    GiveUp::Attempts(n) => format!("after {n} attempts"),
                    GiveUp::WaitTooLong(d) => format!("asked to wait {}s", d.as_secs()),
                    GiveUp::TotalWait(d) => format!("after waiting {}s", d.as_secs()),
                };
                return Err(format!("{problem}; gave up {why}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Origin;

    #[test]
    fn a_message_carries_the_redacted_form_and_hash_only() {
        let origin = Origin {
            repo: Some("acme/app".into()),
            url: Some("https://github.com/acme/app/issues/1#c".into()),
            ..Origin::new("github")
        };
        let f = Finding {
            rule: "keyservice.secret-live".into(),
            description: "d".into(),
            severity: crate::rules::Severity::High,
            secret_sha256: "ab12".into(),
            fingerprint: "fp".into(),
            redacted: "sk_live_abcd…(43)".into(),
            secret: None,
            key_prefix: Some("sk_live_".into()),
            key_id: None,
            revocable: true,
            line: 1,
            column: 1,
            snippet: String::new(),
            origin,
            revocation: Some("revoked".into()),
        };
        let m = Message::of(&f, "webhook issue_comment");
        assert_eq!(
            m.text,
            "keysweep: keyservice.secret-live key sk_live_abcd…(43) (sha256:ab12) webhook \
             issue_comment at https://github.com/acme/app/issues/1#c; revocation: revoked"
        );
        assert_eq!(m.repository.as_deref(), Some("acme/app"));
        assert_eq!(m.revocation.as_deref(), Some("revoked"));
    }
}
