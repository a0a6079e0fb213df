//! A fake GitHub REST API on 127.0.0.1 for the github tests: repository lists with `Link`
//! pagination, events with ETag/304 and `X-Poll-Interval`, compare responses, any extra object
//! a test registers, and injected rate limits. It logs every request so tests can count API
//! calls and check headers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Value};

/// The token the tests put in `GITHUB_TOKEN`.
pub const TOKEN: &str = "test-token-not-a-real-secret";

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub path: String,
    pub query: String,
    pub if_none_match: Option<String>,
    pub authorized: bool,
    pub status: u16,
    pub at: Instant,
}

/// Everything the fake GitHub knows; tests change it between runs.
#[derive(Debug, Default)]
pub struct World {
    /// Repository objects as GitHub returns them.
    pub repos: Vec<Value>,
    /// Events, oldest first (served newest first, as GitHub does).
    pub events: Vec<Value>,
    /// Compare responses by `OWNER/NAME/BASE...HEAD`.
    pub compares: HashMap<String, Value>,
    /// Any other GET path → JSON body (e.g. a pull request whose body the event trimmed).
    pub objects: HashMap<String, Value>,
    /// Largest page served, whatever `per_page` asks (GitHub's is 100; tests use less to get
    /// several pages out of few items).
    pub page_cap: usize,
    pub poll_interval: u64,
    /// The next N requests get the primary rate limit (403, remaining 0, reset in 2 s).
    pub primary_limits: u32,
    /// The next N requests get a secondary rate limit (403 with Retry-After: 1).
    pub secondary_limits: u32,
    /// Whose token `TOKEN` is (`GET /user`); `None`: a token with no user (an app's).
    pub login: Option<String>,
    pub log: Vec<Logged>,
}

pub struct FakeGithub {
    pub url: String,
    world: Arc<Mutex<World>>,
}

impl FakeGithub {
    pub fn start() -> FakeGithub {
        let world = Arc::new(Mutex::new(World {
            page_cap: 100,
            poll_interval: 60,
            ..Default::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let app = Router::new().fallback(handle).with_state(Shared {
            world: world.clone(),
            base: url.clone(),
        });
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                axum::serve(listener, app).await.expect("serve");
            });
        });
        FakeGithub { url, world }
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Requests so far, then forgets them.
    pub fn take_log(&self) -> Vec<Logged> {
        std::mem::take(&mut self.world().log)
    }
}

#[derive(Clone)]
struct Shared {
    world: Arc<Mutex<World>>,
    base: String,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn handle(State(shared): State<Shared>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let headers = request.headers().clone();
    let mut world = shared.world.lock().unwrap_or_else(|e| e.into_inner());
    let response = respond(&mut world, &shared.base, &path, &query, &headers);
    world.log.push(Logged {
        path,
        query,
        if_none_match: headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        authorized: headers
            .get("authorization")
            .is_some_and(|v| v.as_bytes() == format!("Bearer {TOKEN}").as_bytes()),
        status: response.status().as_u16(),
        at: Instant::now(),
    });
    response
}

fn respond(
    world: &mut World,
    base: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
) -> Response {
    if world.primary_limits > 0 {
        world.primary_limits -= 1;
        return reply(
            StatusCode::FORBIDDEN,
            &json!({"message": "API rate limit exceeded for user."}),
            &[
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", (now() + 2).to_string()),
            ],
        );
    }
    if world.secondary_limits > 0 {
        world.secondary_limits -= 1;
        return reply(
            StatusCode::FORBIDDEN,
            &json!({"message": "You have exceeded a secondary rate limit."}),
            &[("retry-after", "1".into())],
        );
    }
    let params: HashMap<&str, &str> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["orgs", owner, "repos"] | ["users", owner, "repos"] => {
            page(world, base, path, &params, owned_by(world, owner), None)
        }
        ["user", "repos"] => {
            let login = world.login.clone().unwrap_or_default();
            page(world, base, path, &params, owned_by(world, &login), None)
        }
        ["user"] => match &world.login {
            Some(login) => reply(StatusCode::OK, &json!({ "login": login }), &[]),
            None => not_found(),
        },
        ["repos", owner, name] => {
            let full = format!("{owner}/{name}");
            match world.repos.iter().find(|r| r["full_name"] == full.as_str()) {
                Some(r) => reply(StatusCode::OK, r, &[]),
                None => not_found(),
            }
        }
        ["repos", owner, name, "compare", spec] => {
            match world.compares.get(&format!("{owner}/{name}/{spec}")) {
                Some(c) => reply(StatusCode::OK, c, &[]),
                None => not_found(),
            }
        }
        ["events"] => events(world, base, path, &params, headers, |_| true),
        ["orgs", org, "events"] | ["users", _, "events", "orgs", org] => {
            let prefix = format!("{org}/");
            events(world, base, path, &params, headers, |e| {
                e["repo"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(&prefix))
            })
        }
        ["repos", owner, name, "events"] => {
            let full = format!("{owner}/{name}");
            events(world, base, path, &params, headers, |e| {
                e["repo"]["name"] == full.as_str()
            })
        }
        ["users", user, "events"] => {
            let user = user.to_string();
            events(world, base, path, &params, headers, |e| {
                e["actor"]["login"] == user.as_str()
            })
        }
        _ => match world.objects.get(path) {
            Some(v) => reply(StatusCode::OK, v, &[]),
            None => not_found(),
        },
    }
}

fn owned_by(world: &World, owner: &str) -> Vec<Value> {
    world
        .repos
        .iter()
        .filter(|r| r["owner"]["login"].as_str() == Some(owner))
        .cloned()
        .collect()
}

fn events(
    world: &World,
    base: &str,
    path: &str,
    params: &HashMap<&str, &str>,
    headers: &HeaderMap,
    keep: impl Fn(&Value) -> bool,
) -> Response {
    let newest_first: Vec<Value> = world
        .events
        .iter()
        .rev()
        .filter(|e| keep(e))
        .cloned()
        .collect();
    // The ETag names the feed's content, like GitHub's: unchanged feed, same tag.
    let ids: Vec<&str> = newest_first
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    let etag = format!("\"{:x}\"", fnv(ids.join(",").as_bytes()));
    let poll = world.poll_interval.to_string();
    let first_page = params.get("page").is_none_or(|p| *p == "1");
    if first_page
        && headers
            .get("if-none-match")
            .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        let mut r = reply(
            StatusCode::NOT_MODIFIED,
            &Value::Null,
            &[("x-poll-interval", poll)],
        );
        *r.body_mut() = Body::empty();
        return r;
    }
    page(
        world,
        base,
        path,
        params,
        newest_first,
        Some(vec![("etag", etag), ("x-poll-interval", poll)]),
    )
}

fn page(
    world: &World,
    base: &str,
    path: &str,
    params: &HashMap<&str, &str>,
    items: Vec<Value>,
    extra: Option<Vec<(&'static str, String)>>,
) -> Response {
    let per_page = params
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30usize)
        .min(world.page_cap)
        .max(1);
    let page: usize = params
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let pages = items.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let link =
        |p: usize, rel: &str| format!("<{base}{path}?per_page={per_page}&page={p}>; rel=\"{rel}\"");
    let mut links = Vec::new();
    if page > 1 {
        links.push(link(page - 1, "prev"));
    }
    if page < pages {
        links.push(link(page + 1, "next"));
        links.push(link(pages, "last"));
    }
    let mut headers = extra.unwrap_or_default();
    if !links.is_empty() {
        headers.push(("link", links.join(", ")));
    }
    reply(StatusCode::OK, &Value::Array(slice), &headers)
}

fn reply(status: StatusCode, body: &Value, headers: &[(&'static str, String)]) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if !headers.iter().any(|(k, _)| *k == "x-ratelimit-remaining") {
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("4999"));
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&(now() + 3600).to_string()).expect("header"),
        );
    }
    for (k, v) in headers {
        h.insert(*k, HeaderValue::from_str(v).expect("header"));
    }
    r
}

fn not_found() -> Response {
    reply(StatusCode::NOT_FOUND, &json!({"message": "Not Found"}), &[])
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// A fixture file under `fixtures/github/` with `{{NAME}}` placeholders filled in, parsed.
pub fn fixture(name: &str, vars: &[(&str, &str)]) -> Value {
    let text = crate::harness::fixture(&format!("github/{name}"), vars);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"))
}
