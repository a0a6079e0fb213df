//! Which repositories a sweep covers: listing an organisation, a user or one repository, the
//! user's filters, and the stable shard split.

use std::str::FromStr;

use anyhow::Context;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::client::{ApiError, Client};

/// Which repositories of a listing a GitHub sweep takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Visibility {
    All,
    Public,
    Private,
    Internal,
}

/// The fields of GitHub's repository object a sweep uses. Everything optional that GitHub may
/// leave out is defaulted, so a trimmed Enterprise response still parses.
#[derive(Debug, Clone, Deserialize)]
pub struct Repo {
    pub full_name: String,
    #[serde(default)]
    pub clone_url: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub fork: bool,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub visibility: Option<String>,
    /// Changes on every push to any branch or tag: what lets a rerun skip untouched repos.
    #[serde(default)]
    pub pushed_at: Option<String>,
}

impl Repo {
    fn visibility(&self) -> &str {
        match self.visibility.as_deref() {
            Some(v) => v,
            None if self.private => "private",
            None => "public",
        }
    }

    /// `(owner, name)`, checked to be plain GitHub names: both become directory names in the
    /// cache, so anything else (`..`, a slash) is refused rather than trusted.
    pub fn owner_and_name(&self) -> anyhow::Result<(&str, &str)> {
        split_full_name(&self.full_name)
    }

    /// The URL to clone or fetch the repository from.
    pub fn fetch_url(&self) -> anyhow::Result<&str> {
        self.clone_url
            .as_deref()
            .context("GitHub gave no clone URL")
    }
}

/// What a sweep lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Org(String),
    User(String),
    Repo(String),
}

impl Target {
    pub fn new_org(name: &str) -> anyhow::Result<Target> {
        anyhow::ensure!(
            valid_name(name),
            "{name:?} is not a GitHub organisation name"
        );
        Ok(Target::Org(name.to_string()))
    }

    pub fn new_user(name: &str) -> anyhow::Result<Target> {
        anyhow::ensure!(valid_name(name), "{name:?} is not a GitHub user name");
        Ok(Target::User(name.to_string()))
    }

    pub fn new_repo(full_name: &str) -> anyhow::Result<Target> {
        split_full_name(full_name)?;
        Ok(Target::Repo(full_name.to_string()))
    }

    pub fn label(&self) -> &str {
        match self {
            Target::Org(n) | Target::User(n) | Target::Repo(n) => n,
        }
    }
}

/// Lists the target's repositories, sorted by full name so every run and every shard sees
/// the same order.
pub fn list(client: &Client, target: &Target) -> Result<Vec<Repo>, ApiError> {
    let mut repos = Vec::new();
    match target {
        Target::Org(org) => client.get_pages(
            &format!("/orgs/{org}/repos?type=all&per_page=100"),
            |page: Vec<Repo>| repos.extend(page),
        )?,
        Target::User(user) => {
            // Another user's private repositories are never listed; the token owner's own are,
            // but only through /user/repos.
            let path = if is_token_owner(client, user)? {
                "/user/repos?affiliation=owner&per_page=100".to_string()
            } else {
                format!("/users/{user}/repos?type=owner&per_page=100")
            };
            client.get_pages(&path, |page: Vec<Repo>| repos.extend(page))?
        }
        Target::Repo(full_name) => repos.push(client.get_json(&format!("/repos/{full_name}"))?),
    }
    repos.sort_by(|a, b| a.full_name.cmp(&b.full_name));
    repos.dedup_by(|a, b| a.full_name == b.full_name);
    Ok(repos)
}

fn is_token_owner(client: &Client, user: &str) -> Result<bool, ApiError> {
    Ok(token_login(client)?.is_some_and(|login| login.eq_ignore_ascii_case(user)))
}

/// The login of the user the token belongs to; `None` without a token or for a token that
/// has no user (a GitHub App installation token).
pub fn token_login(client: &Client) -> Result<Option<String>, ApiError> {
    #[derive(Deserialize)]
    struct Me {
        login: String,
    }
    if client.token().is_none() {
        return Ok(None);
    }
    match client.get_json::<Me>("/user") {
        Ok(me) => Ok(Some(me.login)),
        Err(ApiError::Forbidden { .. } | ApiError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The user's choice of repositories. Forks and archived repositories are out unless asked
/// for: forks mostly repeat their parent's history, archived ones cannot change.
#[derive(Debug)]
pub struct Filter {
    include: Option<(GlobSet, GlobSet)>,
    exclude: (GlobSet, GlobSet),
    pub forks: bool,
    pub archived: bool,
    pub visibility: Visibility,
}

impl Filter {
    /// Globs with a `/` match `OWNER/NAME`, others match the name alone; case-insensitive like
    /// GitHub's names.
    pub fn new(
        include: &[String],
        exclude: &[String],
        forks: bool,
        archived: bool,
        visibility: Visibility,
    ) -> anyhow::Result<Filter> {
        Ok(Filter {
            include: if include.is_empty() {
                None
            } else {
                Some(glob_sets(include)?)
            },
            exclude: glob_sets(exclude)?,
            forks,
            archived,
            visibility,
        })
    }

    /// `None` when the repository is in, otherwise why it is out.
    pub fn reject(&self, repo: &Repo) -> Option<&'static str> {
        let name = repo.full_name.rsplit('/').next().unwrap_or(&repo.full_name);
        let matches = |(by_full, by_name): &(GlobSet, GlobSet)| {
            by_full.is_match(&repo.full_name) || by_name.is_match(name)
        };
        if repo.disabled {
            return Some("disabled");
        }
        if repo.fork && !self.forks {
            return Some("fork");
        }
        if repo.archived && !self.archived {
            return Some("archived");
        }
        let wanted = match self.visibility {
            Visibility::All => true,
            Visibility::Public => repo.visibility() == "public",
            Visibility::Private => repo.visibility() == "private",
            Visibility::Internal => repo.visibility() == "internal",
        };
        if !wanted {
            return Some("visibility");
        }
        if self.include.as_ref().is_some_and(|set| !matches(set)) {
            return Some("not included");
        }
        if matches(&self.exclude) {
            return Some("excluded");
        }
        None
    }
}

fn glob_sets(globs: &[String]) -> anyhow::Result<(GlobSet, GlobSet)> {
    let mut full = GlobSetBuilder::new();
    let mut name = GlobSetBuilder::new();
    for g in globs {
        let glob = GlobBuilder::new(g)
            .case_insensitive(true)
            .literal_separator(true)
            .build()
            .map_err(|e| anyhow::anyhow!("bad repository glob {g:?}: {e}"))?;
        if g.contains('/') {
            full.add(glob);
        } else {
            name.add(glob);
        }
    }
    Ok((full.build()?, name.build()?))
}

/// Shard `index` of `count` (1-based, as `--shard 2/4` is written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not K/N with 1 <= K <= N (e.g. 2/4)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    pub fn takes(&self, full_name: &str) -> bool {
        shard_of(full_name, self.count) == self.index
    }
}

/// The 1-based shard of a repository: a hash of its lower-cased full name, so the split
/// depends on nothing but the name and N. Every job of a matrix computes the same split with no
/// coordinator, and a repository only moves when it is renamed.
pub fn shard_of(full_name: &str, count: u32) -> u32 {
    let digest = Sha256::digest(full_name.to_ascii_lowercase().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32 + 1
}

/// GitHub owner and repository names: ASCII letters, digits, `-`, `_`, `.`; never `.`/`..`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

pub fn split_full_name(full_name: &str) -> anyhow::Result<(&str, &str)> {
    match full_name.split_once('/') {
        Some((owner, name)) if valid_name(owner) && valid_name(name) => Ok((owner, name)),
        _ => anyhow::bail!("{full_name:?} is not a repository name of the form OWNER/NAME"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(full_name: &str) -> Repo {
        Repo {
            full_name: full_name.into(),
            clone_url: None,
            html_url: None,
            fork: false,
            archived: false,
            disabled: false,
            private: false,
            visibility: None,
            pushed_at: None,
        }
    }

    #[test]
    fn shards_partition_names_and_are_stable() {
        let names: Vec<String> = (0..500).map(|i| format!("acme/repo-{i}")).collect();
        for n in 1..=7 {
            let mut sizes = vec![0; n as usize];
            for name in &names {
                let owners: Vec<u32> = (1..=n)
                    .filter(|&k| Shard { index: k, count: n }.takes(name))
                    .collect();
                assert_eq!(owners.len(), 1, "{name} in shards {owners:?} of {n}");
                sizes[owners[0] as usize - 1] += 1;
            }
            // A hash split is not exact, but no shard should be starved or doubled.
            let even = names.len() / n as usize;
            assert!(
                sizes.iter().all(|&s| s > even / 2 && s < even * 2),
                "{n}: {sizes:?}"
            );
        }
        // Pinned: changing the hash would silently reshuffle every user's matrix.
        assert_eq!(shard_of("acme/api", 4), shard_of("ACME/Api", 4));
        assert_eq!(shard_of("acme/api", 1), 1);
    }

    #[test]
    fn shard_syntax() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "x", "1/x"] {
            assert_eq!(
                bad.parse::<Shard>(),
                Err(format!("{bad:?} is not K/N with 1 <= K <= N (e.g. 2/4)"))
            );
        }
    }

    #[test]
    fn filters_forks_archived_visibility_and_globs() {
        let f = Filter::new(
            &["api-*".into(), "acme/web".into()],
            &["*-legacy".into()],
            false,
            false,
            Visibility::All,
        )
        .unwrap();
        assert_eq!(f.reject(&repo("acme/api-core")), None);
        assert_eq!(f.reject(&repo("acme/WEB")), None);
        assert_eq!(f.reject(&repo("acme/api-legacy")), Some("excluded"));
        assert_eq!(f.reject(&repo("acme/tools")), Some("not included"));
        // `api-*` must not reach across the owner separator.
        assert_eq!(f.reject(&repo("api-x/tools")), Some("not included"));
        let fork = Repo {
            fork: true,
            ..repo("acme/api-fork")
        };
        assert_eq!(f.reject(&fork), Some("fork"));
        let archived = Repo {
            archived: true,
            ..repo("acme/api-old")
        };
        assert_eq!(f.reject(&archived), Some("archived"));

        let private_only = Filter::new(&[], &[], true, true, Visibility::Private).unwrap();
        let private = Repo {
            private: true,
            ..repo("acme/secret")
        };
        assert_eq!(private_only.reject(&private), None);
        assert_eq!(private_only.reject(&repo("acme/open")), Some("visibility"));
        let internal = Repo {
            visibility: Some("internal".into()),
            ..repo("acme/inner")
        };
        assert_eq!(private_only.reject(&internal), Some("visibility"));
    }

    #[test]
    fn names_that_would_escape_the_cache_are_refused() {
        assert_eq!(split_full_name("acme/api.js").unwrap(), ("acme", "api.js"));
        for bad in [
            "acme/..", "../x", "acme/a/b", "acme", "acme/", "/x", "a c/x",
        ] {
            assert_eq!(
                split_full_name(bad).unwrap_err().to_string(),
                format!("{bad:?} is not a repository name of the form OWNER/NAME")
            );
        }
    }
}
