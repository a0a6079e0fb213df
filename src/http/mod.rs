//! The one HTTP client stack, for the GitHub API, revocation and what comes next (webhook
//! replies, notifications): one reqwest (0.13, the one gix's https transport needs), blocking,
//! because every caller is synchronous (the GitHub sweeps, gix, the revocation pool of std
//! threads). What every caller shares lives here: the [`Token`], the loopback rule, how a
//! transport error is described, the [`RetryPolicy`] and the client settings.
//!
//! It knows nothing of what a request means: status codes are the callers' to interpret.

mod retry;

use std::error::Error as _;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::Context;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Url;

pub use retry::{retry_after, GiveUp, Retry, RetryPolicy};

pub const USER_AGENT: &str = concat!("keysweep/", env!("CARGO_PKG_VERSION"));

/// A bearer token. Neither `Debug` nor any error shows its value, and it has no `Display`, so
/// it cannot reach a message by accident; [`Token::expose`] is the one deliberate way out.
#[derive(Clone)]
pub struct Token {
    value: String,
    /// Checked once at construction, so a bad value is one clear error naming the variable
    /// rather than a request-building error on every request.
    bearer: HeaderValue,
}

/// Why an environment variable gave no token. Each names the variable, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("${0} is not set")]
    Missing(String),
    #[error("${0} is empty")]
    Empty(String),
    #[error("${0} does not hold a valid token")]
    NotUnicode(String),
    #[error("${0} holds characters that cannot go in an HTTP header (a newline?)")]
    NotHeader(String),
}

impl Token {
    /// The token in the environment variable `var`, trimmed (a trailing newline from
    /// `$(cat file)` is common and never part of a token).
    pub fn from_env(var: &str) -> Result<Token, TokenError> {
        match std::env::var(var) {
            Ok(value) => Token::parse(var, &value),
            Err(std::env::VarError::NotPresent) => Err(TokenError::Missing(var.to_string())),
            Err(std::env::VarError::NotUnicode(_)) => Err(TokenError::NotUnicode(var.to_string())),
        }
    }

    /// `value` as the token of `var` (named in the error).
    pub fn parse(var: &str, value: &str) -> Result<Token, TokenError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(TokenError::Empty(var.to_string()));
        }
        let mut bearer = HeaderValue::from_str(&format!("Bearer {value}"))
            .map_err(|_| TokenError::NotHeader(var.to_string()))?;
        bearer.set_sensitive(true);
        Ok(Token {
            value: value.to_string(),
            bearer,
        })
    }

    /// `Authorization: Bearer …`, marked sensitive so that reqwest's own `Debug` hides it too.
    pub fn authorization(&self) -> HeaderValue {
        self.bearer.clone()
    }

    /// The raw value, for the one place that needs it outside a header (git credentials).
    pub fn expose(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// Text derived from a server's response (an error `message`), made fit to print: `secrets`
/// (the token sent) and anything secret-shaped (a run of 20 or more token characters with
/// letters and digits) replaced by `[redacted]`, control characters by spaces, cut to 200
/// characters. A server or proxy that echoes the request must not put the token on stderr.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        text = text.replace(s, "[redacted]");
    }
    let token_char = |c: char| c.is_ascii_alphanumeric() || "-_+/=.~".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find(token_char) {
        out.push_str(&rest[..start]);
        let run = &rest[start..];
        let end = run.find(|c: char| !token_char(c)).unwrap_or(run.len());
        let word = &run[..end];
        let shaped = word.len() >= 20
            && word.chars().any(|c| c.is_ascii_alphabetic())
            && word.chars().any(|c| c.is_ascii_digit());
        out.push_str(if shaped { "[redacted]" } else { word });
        rest = &run[end..];
    }
    out.push_str(rest);
    let mut cut: String = out
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    if out.chars().count() > 200 {
        cut.push('…');
    }
    cut.trim().to_string()
}

/// Whether a plain-http URL stays on this machine: `localhost` (any case), 127.0.0.0/8 or ::1.
/// An IPv4-mapped address (`::ffff:127.0.0.1`) is not counted: it errs towards requiring https.
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A transport error as a user reads it: what failed, then its causes ("error sending request"
/// alone says nothing). reqwest's own `Display` is left out, as it holds the URL, and a URL in
/// a cause loses its query: both may carry a credential. Headers and bodies never appear.
pub fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_builder() {
        "cannot build the request"
    } else if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else if err.is_redirect() {
        "too many redirects"
    } else if err.is_body() || err.is_decode() {
        "cannot read the response"
    } else {
        "request failed"
    };
    let mut causes: Vec<String> = Vec::new();
    let mut source = err.source();
    while let Some(cause) = source {
        if cause.downcast_ref::<reqwest::Error>().is_none() {
            let text = without_queries(&cause.to_string());
            if !causes.contains(&text) {
                causes.push(text);
            }
        }
        source = cause.source();
    }
    if causes.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {}", causes.join(": "))
    }
}

/// `text` with the query and fragment of every http(s) URL in it cut off.
fn without_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("http://").or_else(|| rest.find("https://")) {
        let (before, url) = rest.split_at(start);
        out.push_str(before);
        let end = url
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | ','))
            .unwrap_or(url.len());
        let (url, after) = url.split_at(end);
        out.push_str(&url[..url.find(['?', '#']).unwrap_or(url.len())]);
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Which proxy a client goes through.
#[derive(Debug, Clone)]
pub enum Proxy {
    /// `HTTPS_PROXY` and friends, as most tools do.
    FromEnvironment,
    /// None, whatever the environment says.
    Direct,
    /// Only this one, whatever the environment says.
    Only(Url),
}

/// The settings of a client. Callers state what differs; the rest (user agent, TLS provider,
/// no redirects) is shared.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Per request, connection and body included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Redirects followed; 0 returns the 3xx itself, for callers that must not be sent to a
    /// host nobody named.
    pub redirects: usize,
    pub proxy: Proxy,
    /// Sent with every request.
    pub headers: HeaderMap,
}

impl ClientOptions {
    pub fn new(timeout: Duration, connect_timeout: Duration) -> ClientOptions {
        ClientOptions {
            timeout,
            connect_timeout,
            redirects: 0,
            proxy: Proxy::FromEnvironment,
            headers: HeaderMap::new(),
        }
    }

    pub fn build(self) -> anyhow::Result<reqwest::blocking::Client> {
        install_crypto_provider();
        let redirect = match self.redirects {
            0 => reqwest::redirect::Policy::none(),
            n => reqwest::redirect::Policy::limited(n),
        };
        let mut builder = reqwest::blocking::Client::builder()
            .user_agent(USER_AGENT)
            .default_headers(self.headers)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .redirect(redirect);
        builder = match self.proxy {
            Proxy::FromEnvironment => builder,
            Proxy::Direct => builder.no_proxy(),
            Proxy::Only(url) => builder
                .no_proxy()
                .proxy(reqwest::Proxy::all(url).context("invalid proxy URL")?),
        };
        builder.build().context("cannot build the HTTP client")
    }
}

/// reqwest is built without a default crypto provider (see Cargo.toml); rustls needs one chosen
/// once per process before any TLS client exists, gix's included.
pub fn install_crypto_provider() {
    // An error means one is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    #[test]
    fn the_token_never_shows_in_debug_and_errors_name_the_variable() {
        let t = Token::parse("MY_TOKEN", " s3cr3t-token\n").unwrap();
        assert_eq!(format!("{t:?}"), "Token(***)");
        assert_eq!(t.expose(), "s3cr3t-token");
        assert!(t.authorization().is_sensitive());
        assert_eq!(t.authorization(), "Bearer s3cr3t-token");
        let err = |value| Token::parse("MY_TOKEN", value).unwrap_err().to_string();
        assert_eq!(err("  \n"), "$MY_TOKEN is empty");
        assert_eq!(
            err("abc\ndef"),
            "$MY_TOKEN holds characters that cannot go in an HTTP header (a newline?)"
        );
        assert!(!err("s3cr3t\u{7f}x").contains("s3cr3t"));
        let unset = "KEYSWEEP_TEST_SURELY_UNSET_VARIABLE";
        assert_eq!(
            Token::from_env(unset).unwrap_err().to_string(),
            format!("${unset} is not set")
        );
    }

    #[test]
    fn loopback_is_localhost_in_any_case_127_slash_8_and_ipv6_one() {
        let url = |s: &str| Url::parse(s).unwrap();
        for yes in [
            "http://localhost/",
            "http://LOCALHOST:1/revoke",
            "https://LocalHost/",
            "http://127.0.0.1:8080/",
            "http://127.8.9.10/",
            "http://[::1]:9/",
        ] {
            assert!(is_loopback(&url(yes)), "{yes}");
        }
        for no in [
            "http://localhost.evil.com/",
            "http://10.0.0.1/",
            "http://128.0.0.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::2]/",
            "file:///etc/passwd",
        ] {
            assert!(!is_loopback(&url(no)), "{no}");
        }
    }

    #[test]
    fn urls_in_error_text_lose_their_queries() {
        assert_eq!(
            without_queries("error for url (https://h.example/p?token=abc#frag) at x"),
            "error for url (https://h.example/p) at x"
        );
        assert_eq!(
            without_queries("a http://h/?q=1 b https://g/x?y c"),
            "a http://h/ b https://g/x c"
        );
        assert_eq!(without_queries("no url? fine"), "no url? fine");
    }

    fn client(timeout_ms: u64) -> reqwest::blocking::Client {
        let t = Duration::from_millis(timeout_ms);
        ClientOptions::new(t, t).build().unwrap()
    }

    #[test]
    fn a_refused_connection_is_described_with_its_cause_and_without_the_query() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/revoke?token=s3cr3t");
        let err = client(2000).get(&url).send().unwrap_err();
        let text = describe(&err);
        assert!(text.starts_with("cannot connect: "), "{text}");
        assert!(text.to_lowercase().contains("refused"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }

    #[test]
    fn a_server_that_never_answers_is_a_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/slow", listener.local_addr().unwrap());
        let hold = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            // Read until the client gives up and closes.
            let mut buf = [0u8; 1024];
            while conn.read(&mut buf).is_ok_and(|n| n > 0) {}
        });
        let err = client(200).get(&url).send().unwrap_err();
        assert!(
            describe(&err).starts_with("timed out"),
            "{}",
            describe(&err)
        );
        drop(err);
        hold.join().unwrap();
    }

    #[test]
    fn a_redirect_comes_back_unfollowed_unless_asked() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/here", listener.local_addr().unwrap());
        let serve = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).unwrap();
            let request = String::from_utf8_lossy(&buf[..n]).to_string();
            use std::io::Write;
            conn.write_all(
                b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere.example/\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .unwrap();
            request
        });
        let response = client(2000).get(&url).send().unwrap();
        assert_eq!(response.status(), 302);
        let request = serve.join().unwrap().to_lowercase();
        assert!(
            request.contains(&format!("user-agent: {}", USER_AGENT.to_lowercase())),
            "{request}"
        );
    }

    #[test]
    fn scrub_removes_tokens_and_secret_shaped_runs() {
        let said = "Bad credentials for Bearer test-token-x: sk_live_Q3EGRXTWZPLKJH7Mab12 \x1b[2J";
        assert_eq!(
            scrub(said, &["test-token-x"]),
            "Bad credentials for Bearer [redacted]: [redacted]  [2J"
        );
        assert_eq!(scrub("Not Found", &[]), "Not Found");
        let cut = scrub(&"a ".repeat(300), &[]);
        assert!(cut.ends_with('…') && cut.chars().count() <= 201, "{cut}");
    }
}
