//! Bare mirrors of GitHub repositories in the cache: cloned once, then fetched, with gix (the
//! git engine reads them with the same library).
//!
//! Branches and tags are mirrored as they are on GitHub (`+refs/heads/*:refs/heads/*`, same for
//! tags). Branches deleted on GitHub are kept in the mirror: their history was public while it
//! existed, and keeping it costs nothing once scanned.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use gix::credentials::helper::Action;
use gix::credentials::protocol::Outcome;
use gix::remote::Direction;

use super::client::Token;

const REFSPECS: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

/// What a sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synced {
    /// First clone.
    Cloned,
    /// New objects arrived.
    Updated,
    /// The remote had nothing new.
    Unchanged,
    /// The remote has no branches or tags at all (a repository created empty).
    Empty,
}

/// Who may receive the token: the hosts of the GitHub instance the API belongs to. A clone URL
/// pointing anywhere else (a fork network on another host, a misconfigured Enterprise) gets no
/// credentials.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub token: Option<Token>,
    pub hosts: Vec<String>,
}

/// Clones `url` into a bare mirror at `path`, or fetches into the one already there.
pub fn sync(path: &Path, url: &str, credentials: &Credentials) -> anyhow::Result<Synced> {
    if path.join("HEAD").is_file() {
        let repo = gix::open(path)
            .with_context(|| format!("cannot open the mirror at {}", path.display()))?;
        return fetch(&repo, url, credentials);
    }
    // Clone into a temporary sibling and rename it into place: a clone interrupted half-way
    // never looks like a mirror to the next run.
    let parent = path
        .parent()
        .context("mirror path has no parent directory")?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let tmp = parent.join(format!(
        ".{}.clone-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| {
        let repo = gix::init_bare(&tmp)
            .with_context(|| format!("cannot create a bare repository at {}", tmp.display()))?;
        let synced = fetch(&repo, url, credentials)?;
        drop(repo);
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot move the new mirror to {}", path.display()))?;
        Ok(match synced {
            Synced::Empty => Synced::Empty,
            _ => Synced::Cloned,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn fetch(repo: &gix::Repository, url: &str, credentials: &Credentials) -> anyhow::Result<Synced> {
    // An anonymous remote built from the URL GitHub gives today: nothing is written to the
    // mirror's config, so a renamed or transferred repository just works.
    let remote = repo
        .remote_at(url)
        .context("bad clone URL")?
        .with_fetch_tags(gix::remote::fetch::Tags::None)
        .with_refspecs(REFSPECS, Direction::Fetch)
        .context("bad refspec")?;
    let mut connection = remote
        .connect(Direction::Fetch)
        .with_context(|| format!("cannot connect to {}", redact_url(url)))?;
    let token = credentials.token.clone();
    let hosts = credentials.hosts.clone();
    connection.set_credentials(move |action| match action {
        Action::Get(ctx) => {
            let host = ctx.host.clone().unwrap_or_default();
            let host = host.split(':').next().unwrap_or_default();
            let allowed = ctx.protocol.as_deref() == Some("https")
                && hosts.iter().any(|h| h.eq_ignore_ascii_case(host));
            match (&token, allowed) {
                (Some(token), true) => Ok(Some(Outcome {
                    identity: gix::sec::identity::Account {
                        // GitHub accepts any user name with a token as the password.
                        username: "x-access-token".into(),
                        password: token.expose().to_string(),
                        oauth_refresh_token: None,
                    },
                    next: ctx.into(),
                })),
                // No credentials at all rather than a prompt: a sweep runs unattended.
                _ => Ok(None),
            }
        }
        Action::Store(_) | Action::Erase(_) => Ok(None),
    });
    let interrupt = AtomicBool::new(false);
    let prepared = connection
        .prepare_fetch(gix::progress::Discard, Default::default())
        .with_context(|| format!("cannot list the refs of {}", redact_url(url)))?;
    if prepared.ref_map().remote_refs.is_empty() {
        return Ok(Synced::Empty);
    }
    let outcome = prepared
        .receive(gix::progress::Discard, &interrupt)
        .with_context(|| format!("cannot fetch {}", redact_url(url)))?;
    Ok(match outcome.status {
        gix::remote::fetch::Status::NoPackReceived { .. } => Synced::Unchanged,
        gix::remote::fetch::Status::Change { .. } => Synced::Updated,
    })
}

/// Whether the mirror at `mirror` holds the object `id` (hex); a mirror that cannot be opened
/// holds nothing.
pub fn has_commit(mirror: &Path, id: &str) -> bool {
    let Ok(repo) = gix::open(mirror) else {
        return false;
    };
    let Ok(oid) = gix::ObjectId::from_hex(id.as_bytes()) else {
        return false;
    };
    repo.has_object(oid)
}

/// A URL with any user information removed, for messages (GitHub clone URLs carry none, but a
/// user-supplied Enterprise URL might).
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme && !url[scheme + 3..at].contains('/') => {
            format!("{}://{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_information_is_removed_from_urls_in_messages() {
        assert_eq!(
            redact_url("https://x-access-token:ghp_abc@github.com/acme/api.git"),
            "https://github.com/acme/api.git"
        );
        assert_eq!(
            redact_url("https://github.com/acme/a@b.git"),
            "https://github.com/acme/a@b.git"
        );
        assert_eq!(redact_url("file:///tmp/x.git"), "file:///tmp/x.git");
    }
}
