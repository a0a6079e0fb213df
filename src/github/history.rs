//! A mirror scanned by the git engine ([`crate::source::git`]), its findings named as GitHub
//! findings: the repository's full name and a link to the line on GitHub.

use std::path::Path;

use crate::finding::uri_path;
use crate::finding::Finding;
use crate::scan::{Collector, Scanner};
use crate::source::git::{self, Completeness, GitOptions};

/// What to scan in a mirror.
pub enum Scope<'a> {
    /// Everything not recorded in the state file (all of it without one), and update the state.
    Incremental(Option<&'a Path>),
    /// Only what `head` adds over `base`.
    Range { base: &'a str, head: &'a str },
}

/// How findings from one repository are named.
pub struct RepoName<'a> {
    pub full_name: &'a str,
    /// `https://github.com/OWNER/NAME`.
    pub html_url: Option<&'a str>,
}

/// Scans `mirror` and hands each finding, renamed, to `emit`.
pub fn scan(
    scanner: &Scanner,
    mirror: &Path,
    scope: Scope<'_>,
    repo: &RepoName<'_>,
    threads: usize,
    emit: &mut dyn FnMut(Finding),
) -> anyhow::Result<Completeness> {
    let options = match scope {
        Scope::Incremental(state) => GitOptions {
            state: state.map(Path::to_path_buf),
            threads,
            ..Default::default()
        },
        Scope::Range { base, head } => GitOptions {
            range: Some(format!("{base}..{head}")),
            threads,
            ..Default::default()
        },
    };
    // The engine labels findings with the mirror's path; a collector of its own lets this
    // repository's findings be renamed before anyone else sees them.
    let local = Collector::default();
    let completeness = git::scan(scanner, mirror, &options, &local)?;
    for mut f in local.into_sorted() {
        name_finding(&mut f, repo);
        emit(f);
    }
    Ok(completeness)
}

fn name_finding(f: &mut Finding, repo: &RepoName<'_>) {
    f.origin.repo = Some(repo.full_name.to_string());
    let Some(html) = repo.html_url else {
        return;
    };
    let html = html.trim_end_matches('/');
    f.origin.url = match (&f.origin.commit, &f.origin.path) {
        (Some(commit), Some(path)) if f.origin.source == "git" => Some(format!(
            "{html}/blob/{commit}/{}#L{}",
            uri_path(path),
            f.line
        )),
        (Some(commit), _) => Some(format!("{html}/commit/{commit}")),
        _ => Some(html.to_string()),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Origin;

    #[test]
    fn blob_and_commit_links() {
        let mut f: Finding = serde_json::from_value(serde_json::json!({
            "rule": "r", "description": "d", "severity": "high", "secret_sha256": "0",
            "fingerprint": "0", "redacted": "x", "revocable": false, "line": 7, "column": 1,
            "source": "git", "path": "conf/a b.env", "commit": "abc"
        }))
        .unwrap();
        let repo = RepoName {
            full_name: "acme/api",
            html_url: Some("https://github.com/acme/api"),
        };
        name_finding(&mut f, &repo);
        assert_eq!(f.origin.repo.as_deref(), Some("acme/api"));
        assert_eq!(
            f.origin.url.as_deref(),
            Some("https://github.com/acme/api/blob/abc/conf/a%20b.env#L7")
        );
        f.origin = Origin {
            commit: Some("abc".into()),
            ..Origin::new("commit-message")
        };
        name_finding(&mut f, &repo);
        assert_eq!(
            f.origin.url.as_deref(),
            Some("https://github.com/acme/api/commit/abc")
        );
    }
}
