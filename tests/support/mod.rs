//! The services keysweep talks to, faked on 127.0.0.1: GitHub's REST API and a key service
//! with a revoke endpoint.

pub mod fake_github;
pub mod key_service;
pub mod serve_harness;

use key_service::KeyService;

/// The key service's admin token: what `--revoke` authenticates with (never a GitHub token).
pub const REVOKE_TOKEN: &str = "kst_test_admin_token_4f9a2c";
/// Where keysweep reads the revocation token from.
pub const REVOKE_TOKEN_ENV: &str = "KEYSWEEP_REVOKE_TOKEN";

/// A key service on a random port of 127.0.0.1 that accepts [`REVOKE_TOKEN`].
pub fn start_key_service() -> KeyService {
    KeyService::start(REVOKE_TOKEN, 0).expect("start the key service on 127.0.0.1")
}

/// A keysweep.toml whose `[revoke]` section points at `service`, with retries fast enough for
/// tests; `extra` lines go into the section.
pub fn revoke_config(service: &KeyService, extra: &str) -> String {
    format!(
        "[revoke]\nendpoint = {:?}\nbackoff = 0.02\n{extra}\n",
        service.revoke_url()
    )
}
