//! What a push added, as GitHub's compare API (`/repos/{repo}/compare/{base}...{head}`) shows
//! it: the added lines of each file's patch and the new commits' messages. The response is cut
//! for large pushes, and [`Compare::truncated`] says when, so the caller can scan the range in a
//! mirror instead.

use serde::Deserialize;

use super::patch;
use crate::finding::{Finding, Origin};
use crate::scan::{Scanner, Scratch};

/// GitHub's compare API lists at most this many files; a longer list is cut.
const MAX_FILES: usize = 300;

/// The parts of GitHub's compare response used here.
#[derive(Debug, Deserialize)]
pub struct Compare {
    #[serde(default)]
    total_commits: usize,
    #[serde(default)]
    commits: Vec<CompareCommit>,
    #[serde(default)]
    files: Option<Vec<CompareFile>>,
}

#[derive(Debug, Deserialize)]
struct CompareCommit {
    sha: String,
    #[serde(default)]
    html_url: Option<String>,
    commit: CommitDetail,
}

#[derive(Debug, Deserialize)]
struct CommitDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    author: Option<Person>,
}

#[derive(Debug, Deserialize)]
struct Person {
    name: Option<String>,
    email: Option<String>,
    date: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CompareFile {
    filename: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    additions: u64,
    #[serde(default)]
    patch: Option<String>,
    #[serde(default)]
    blob_url: Option<String>,
}

impl Compare {
    /// Why this response does not show everything the push added, if it does not. GitHub cuts
    /// the file list at 300, leaves out the patch of a large file, and lists at most 250
    /// commits.
    pub fn truncated(&self) -> Option<String> {
        let files = self.files.as_deref().unwrap_or_default();
        if self.files.is_none() && self.total_commits > 0 {
            return Some("the compare response has no file list".into());
        }
        if files.len() >= MAX_FILES {
            return Some(format!("the compare API lists only {} files", files.len()));
        }
        if let Some(f) = files
            .iter()
            .find(|f| f.patch.is_none() && f.additions > 0 && f.status != "removed")
        {
            return Some(format!(
                "the compare API left out the patch of {}",
                f.filename
            ));
        }
        if self.commits.len() < self.total_commits {
            return Some(format!(
                "the compare API lists {} of {} commits",
                self.commits.len(),
                self.total_commits
            ));
        }
        None
    }

    /// Scans the added lines of every file (findings link to their line in the blob at `head`)
    /// and every commit message.
    pub fn scan(
        &self,
        scanner: &Scanner,
        scratch: &mut Scratch,
        head: &str,
        emit: &mut dyn FnMut(Finding),
    ) {
        for file in self.files.iter().flatten() {
            let Some(text) = file.patch.as_deref().and_then(patch::added_lines) else {
                continue;
            };
            let origin = Origin {
                path: Some(file.filename.clone()),
                commit: Some(head.to_string()),
                ..Origin::new("github")
            };
            let blob_url = file.blob_url.as_deref();
            scanner.scan_bytes(&text, &origin, scratch, &mut |mut f| {
                f.origin.url = blob_url.map(|u| format!("{u}#L{}", f.line));
                emit(f)
            });
        }
        for c in &self.commits {
            let author = c.commit.author.as_ref();
            let origin = Origin {
                commit: Some(c.sha.clone()),
                author: author.and_then(|a| a.name.clone()),
                email: author.and_then(|a| a.email.clone()),
                date: author.and_then(|a| a.date.clone()),
                url: c.html_url.clone(),
                ..Origin::new("commit-message")
            };
            scanner.scan_bytes(c.commit.message.as_bytes(), &origin, scratch, emit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, additions: u64, patch: Option<&str>) -> CompareFile {
        CompareFile {
            filename: name.into(),
            status: "modified".into(),
            additions,
            patch: patch.map(str::to_string),
            blob_url: None,
        }
    }

    #[test]
    fn truncated_compare_responses_are_recognised() {
        let complete = Compare {
            total_commits: 0,
            commits: vec![],
            files: Some(vec![
                file("a", 1, Some("@@ -0,0 +1 @@\n+x")),
                file("logo.png", 0, None),
            ]),
        };
        assert_eq!(complete.truncated(), None);
        let big_file = Compare {
            files: Some(vec![file("huge.sql", 90_000, None)]),
            ..complete
        };
        assert_eq!(
            big_file.truncated().as_deref(),
            Some("the compare API left out the patch of huge.sql")
        );
        let many = Compare {
            total_commits: 0,
            commits: vec![],
            files: Some(
                (0..300)
                    .map(|i| file(&format!("f{i}"), 1, Some("@@ -1 +1 @@\n+x")))
                    .collect(),
            ),
        };
        assert_eq!(
            many.truncated().as_deref(),
            Some("the compare API lists only 300 files")
        );
        let commits = Compare {
            total_commits: 300,
            commits: vec![],
            files: Some(vec![]),
        };
        assert_eq!(
            commits.truncated().as_deref(),
            Some("the compare API lists 0 of 300 commits")
        );
        let no_files = Compare {
            total_commits: 1,
            commits: vec![],
            files: None,
        };
        assert_eq!(
            no_files.truncated().as_deref(),
            Some("the compare response has no file list")
        );
    }
}
