//! Runs the reference key service on 127.0.0.1 so you can try keysweep's revocation locally:
//!
//! ```sh
//! cargo run --example key_service            # random port; or: -- --port 8787
//! ```
//!
//! It prints its URL, an admin token, freshly issued keys, and the commands to find and revoke
//! them. Keys and revocations live in memory only: stop it with Ctrl-C and they are gone.

#[path = "../tests/support/key_service.rs"]
mod key_service;

use key_service::{random_token, KeyKind, KeyService};

fn main() -> std::io::Result<()> {
    let mut port = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(p)) => {
                port = p
                    .parse()
                    .map_err(|_| std::io::Error::other("--port takes a number"))?
            }
            _ => {
                eprintln!("usage: key_service [--port N]");
                std::process::exit(2);
            }
        }
    }
    let token = random_token();
    let service = KeyService::start(&token, port)?;
    let live = service.issue(KeyKind::SecretLive);
    let pair = service.issue(KeyKind::Pair);
    let url = service.url();
    let id = pair.key_id.as_deref().unwrap_or_default();
    println!(
        r#"reference key service listening on {url}
  POST {revoke}   revoke by hash (admin token)
  GET  {url}/v1/me            validate a key: Authorization: Bearer <key>
  POST {url}/v1/keys          issue a key (admin token): {{"type": "sk_live_" | "pair"}}
  POST {url}/v1/faults        queue faults (admin token): {{"kind": "rate_limited", "retry_after": 2, "times": 3}}
                              kinds: rate_limited, status {{"status": 503}}, unauthorized,
                              slow_before / slow_after {{"millis": 5000}}, drop_before, drop_after

admin token: {token}
issued (shown once):
  {live_key}
  {id}:{pair_key}

Try the whole flow in another shell:
  mkdir -p /tmp/leak && cd /tmp/leak
  printf 'STRIPE_KEY={live_key}\nAuthorization: Bearer {id}:{pair_key}\n' > config.env
  printf '[revoke]\nendpoint = "{revoke}"\n' > keysweep.toml
  curl -s {url}/v1/me -H 'Authorization: Bearer {live_key}'     # 200: the key works
  keysweep dir . --revoke --dry-run                  # what would be sent: hashes only
  KEYSWEEP_REVOKE_TOKEN={token} keysweep dir . --revoke
  curl -s {url}/v1/me -H 'Authorization: Bearer {live_key}'     # 401: revoked
(Ctrl-C to stop)"#,
        revoke = service.revoke_url(),
        live_key = live.key,
        pair_key = pair.key,
    );
    loop {
        std::thread::park();
    }
}
