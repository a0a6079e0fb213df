//! A GitHub events feed (the Events API): which feed, its events, and one poll of it.
//!
//! Polling follows GitHub's rules: `If-None-Match` with the last ETag (a 304 costs no rate
//! limit), and the caller waits `X-Poll-Interval` between polls. The feed holds the last 300
//! events (30 days); when the newest known event is no longer in it, events were missed, which
//! [`Batch::gap`] says.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;

use super::client::{ApiError, Client, Pages, Reply, MAX_PAGES};
use super::repos;
use super::state::EventsState;

/// Which events feed to poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// An organisation's events. `member`: the token's user, whose dashboard feed
    /// (`/users/{member}/events/orgs/{org}`) includes private repositories; the public feed
    /// (`/orgs/{org}/events`) has only public ones.
    Org {
        org: String,
        member: Option<String>,
    },
    Repo(String),
    User(String),
    Public,
}

impl Feed {
    /// An organisation's feed, read without a member until [`super::events::run`] learns whose
    /// token it has.
    pub fn org(name: &str) -> anyhow::Result<Feed> {
        anyhow::ensure!(
            repos::valid_name(name),
            "{name:?} is not an organisation name"
        );
        Ok(Feed::Org {
            org: name.to_string(),
            member: None,
        })
    }

    pub fn repo(full_name: &str) -> anyhow::Result<Feed> {
        repos::split_full_name(full_name)?;
        Ok(Feed::Repo(full_name.to_string()))
    }

    pub fn user(name: &str) -> anyhow::Result<Feed> {
        anyhow::ensure!(repos::valid_name(name), "{name:?} is not a user name");
        Ok(Feed::User(name.to_string()))
    }

    /// The feed's name in state files: `orgs/acme`, `repos/acme/api`, `users/bob`, `public`.
    pub fn label(&self) -> String {
        match self {
            Feed::Org { org, .. } => format!("orgs/{org}"),
            Feed::Repo(r) => format!("repos/{r}"),
            Feed::User(u) => format!("users/{u}"),
            Feed::Public => "public".into(),
        }
    }

    fn path(&self) -> String {
        match self {
            Feed::Public => "/events".into(),
            Feed::Org {
                org,
                member: Some(user),
            } => format!("/users/{user}/events/orgs/{org}"),
            other => format!("/{}/events", other.label()),
        }
    }
}

/// One event, leniently: GitHub has trimmed payloads before (PushEvent lost its commit list,
/// PullRequestEvent its body), so the payload stays untyped and every field is optional.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    /// The Events API type: `PushEvent`, `IssuesEvent`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    actor: Option<Login>,
    #[serde(default)]
    repo: Option<EventRepo>,
    #[serde(default)]
    pub payload: Value,
}

#[derive(Debug, Clone, Deserialize)]
struct Login {
    login: String,
}

#[derive(Debug, Clone, Deserialize)]
struct EventRepo {
    name: String,
}

impl Event {
    /// `OWNER/NAME` of the repository the event happened in, as GitHub wrote it (unchecked).
    pub fn repo(&self) -> Option<&str> {
        self.repo.as_ref().map(|r| r.name.as_str())
    }

    pub fn actor(&self) -> Option<&str> {
        self.actor.as_ref().map(|a| a.login.as_str())
    }
}

/// The new events of one poll, oldest first.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<Event>,
    pub etag: Option<String>,
    pub poll_interval: Option<u64>,
    /// The last known event was not found: events between it and the oldest here are lost.
    pub gap: bool,
    /// Events that could not be read (no id, wrong shape): why, for the error each one is.
    pub skipped: Vec<String>,
}

/// The events of one page. One malformed event (no `id`, a field of the wrong type) is
/// skipped and said, not a reason to lose the page's other events.
fn events_of(page: &Reply, url: &str, skipped: &mut Vec<String>) -> Result<Vec<Event>, ApiError> {
    let values: Vec<Value> = page.json(url)?;
    let mut events = Vec::with_capacity(values.len());
    for (i, value) in values.into_iter().enumerate() {
        match Event::deserialize(value) {
            Ok(e) => events.push(e),
            // Up to the first colon, serde's message names what is wrong, not the value:
            // nothing of the event (which may hold a secret) is echoed.
            Err(e) => {
                let e = e.to_string();
                let why = e.split(": ").next().unwrap_or("malformed");
                skipped.push(format!("event {} of page {url}: {why}", i + 1))
            }
        }
    }
    Ok(events)
}

/// Event ids grow; compare them as numbers (as strings of different lengths they would not).
fn newer(id: &str, than: &str) -> bool {
    match (id.parse::<u64>(), than.parse::<u64>()) {
        (Ok(a), Ok(b)) => a > b,
        _ => (id.len(), id) > (than.len(), than),
    }
}

fn by_id(a: &Event, b: &Event) -> Ordering {
    if newer(&a.id, &b.id) {
        Ordering::Greater
    } else if newer(&b.id, &a.id) {
        Ordering::Less
    } else {
        Ordering::Equal
    }
}

/// Fetches the events newer than `state`'s, following pages until the known event shows up.
pub fn poll(client: &Client, feed: &Feed, state: &EventsState) -> Result<Batch, ApiError> {
    let first = client.url(&format!("{}?per_page=100", feed.path()));
    let reply = client.send(&first, state.etag.as_deref())?;
    let mut batch = Batch {
        etag: reply.etag.clone().or_else(|| state.etag.clone()),
        poll_interval: reply.poll_interval,
        ..Default::default()
    };
    if reply.not_modified() {
        return Ok(batch);
    }
    let last = state.last_event_id.as_deref();
    let reached = read_pages(
        client,
        reply,
        first,
        last,
        &mut batch.events,
        &mut batch.skipped,
    )?;
    batch.gap = last.is_some() && !reached;
    batch.events.sort_by(by_id);
    Ok(batch)
}

/// Collects the events newer than `last` from `page` and the pages after it, stopping at the
/// page where `last` shows up; says whether it did.
fn read_pages(
    client: &Client,
    mut page: Reply,
    mut url: String,
    last: Option<&str>,
    events: &mut Vec<Event>,
    skipped: &mut Vec<String>,
) -> Result<bool, ApiError> {
    let mut seen = HashSet::new();
    let mut reached = false;
    let mut pages = Pages::new(&url, MAX_PAGES);
    loop {
        for e in events_of(&page, &url, skipped)? {
            if last.is_some_and(|l| !newer(&e.id, l)) {
                reached = true;
                continue;
            }
            // Pages shift while new events arrive: the same event can show up twice.
            if seen.insert(e.id.clone()) {
                events.push(e);
            }
        }
        match page.next.take() {
            Some(next) if !reached => {
                pages.follow(&url, &next)?;
                page = client.send(&next, None)?;
                url = next;
            }
            _ => return Ok(reached),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_compare_as_numbers() {
        assert!(newer("10000000000", "9999999999"));
        assert!(!newer("42", "42"));
        assert!(!newer("41", "42"));
    }

    #[test]
    fn feeds_name_their_endpoints() {
        let org = |member: Option<&str>| Feed::Org {
            org: "acme".into(),
            member: member.map(str::to_string),
        };
        assert_eq!(org(None).path(), "/orgs/acme/events");
        assert_eq!(org(Some("bob")).path(), "/users/bob/events/orgs/acme");
        assert_eq!(org(Some("bob")).label(), "orgs/acme");
        assert_eq!(
            Feed::Repo("acme/api".into()).path(),
            "/repos/acme/api/events"
        );
        assert_eq!(Feed::Public.path(), "/events");
    }

    #[test]
    fn feed_names_are_checked() {
        assert_eq!(Feed::org("acme").unwrap().label(), "orgs/acme");
        assert_eq!(
            Feed::org("a/b").unwrap_err().to_string(),
            r#""a/b" is not an organisation name"#
        );
        assert_eq!(
            Feed::user("..").unwrap_err().to_string(),
            r#"".." is not a user name"#
        );
        assert_eq!(
            Feed::repo("acme").unwrap_err().to_string(),
            r#""acme" is not a repository name of the form OWNER/NAME"#
        );
    }
}
