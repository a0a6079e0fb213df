//! `keysweep ci`: decide what a CI run must scan from the GitHub event that triggered it, make
//! sure the checkout holds that history, and never pass because it scanned nothing.
//!
//! Planning ([`plan`]) is a pure function of the event name and payload. Resolution
//! ([`resolve`]) talks to the checkout: it deepens a shallow clone until the range is complete,
//! or fails closed with what to do. Fetching uses the git CLI on purpose: `actions/checkout`
//! guarantees it, along with the remote's URL and credentials it configured.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::finding::Finding;
use crate::report::{github, Summary};

const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// What the event asks to be scanned, before looking at the checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// Commits reachable from `head` and not from `base`.
    Range {
        base: String,
        head: String,
        why: String,
        /// For a force push: the default branch, whose missing commits bound what was pushed
        /// when `base` is gone.
        fallback: Option<String>,
    },
    /// Commits reachable from `head` that are not on the default branch (a new branch's push).
    NotOnBranch {
        branch: String,
        head: String,
        why: String,
    },
    /// The whole history.
    Full { why: String },
    /// Nothing can have been added (a branch deletion).
    Nothing { why: String },
}

/// What will be scanned, once the checkout is known to hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// A `BASE..HEAD` range for the git engine.
    Range {
        range: String,
        why: String,
    },
    Full {
        why: String,
    },
    Nothing {
        why: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CiError {
    #[error("GITHUB_EVENT_NAME is not set: run keysweep ci inside GitHub Actions, or pass --event-name and --event-path")]
    NoEvent,
    #[error("cannot read the event payload {path}: {message}")]
    Payload { path: PathBuf, message: String },
    #[error("{event} event payload has no {field}")]
    MissingField { event: String, field: &'static str },
    #[error("{what} ({rev}) is not in this checkout even after deepening the history: {hint}")]
    Unreachable {
        what: &'static str,
        rev: String,
        hint: String,
    },
    #[error("git {args}: {message}")]
    Git { args: String, message: String },
}

/// Reads the event the runner describes in `GITHUB_EVENT_NAME` / `GITHUB_EVENT_PATH`.
pub fn read_event(name: Option<String>, path: Option<PathBuf>) -> Result<(String, Value), CiError> {
    let name = name
        .or_else(|| std::env::var("GITHUB_EVENT_NAME").ok())
        .filter(|n| !n.is_empty())
        .ok_or(CiError::NoEvent)?;
    let path = path.or_else(|| std::env::var_os("GITHUB_EVENT_PATH").map(PathBuf::from));
    let payload = match path {
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| CiError::Payload {
                path: path.clone(),
                message: e.to_string(),
            })?;
            serde_json::from_str(&text).map_err(|e| CiError::Payload {
                path,
                message: e.to_string(),
            })?
        }
        // schedule and workflow_dispatch need no payload; the others fail on a missing field.
        None => Value::Null,
    };
    Ok((name, payload))
}

/// Reads required string fields of one event's payload, naming the field when it is missing.
struct Fields<'a> {
    event: &'a str,
    payload: &'a Value,
}

impl Fields<'_> {
    fn get(&self, ptr: &str, name: &'static str) -> Result<String, CiError> {
        self.payload
            .pointer(ptr)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or(CiError::MissingField {
                event: self.event.to_string(),
                field: name,
            })
    }

    fn flag(&self, ptr: &str) -> bool {
        self.payload.pointer(ptr).and_then(Value::as_bool) == Some(true)
    }
}

pub fn plan(event: &str, payload: &Value) -> Result<Want, CiError> {
    let fields = Fields { event, payload };
    match event {
        "push" => plan_push(&fields),
        "pull_request" | "pull_request_target" => Ok(Want::Range {
            base: fields.get("/pull_request/base/sha", "pull_request.base.sha")?,
            head: fields.get("/pull_request/head/sha", "pull_request.head.sha")?,
            fallback: None,
            why: format!(
                "pull request #{}",
                payload
                    .pointer("/pull_request/number")
                    .or_else(|| payload.pointer("/number"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
            ),
        }),
        "merge_group" => Ok(Want::Range {
            base: fields.get("/merge_group/base_sha", "merge_group.base_sha")?,
            head: fields.get("/merge_group/head_sha", "merge_group.head_sha")?,
            why: "merge queue".into(),
            fallback: None,
        }),
        "schedule" | "workflow_dispatch" => Ok(Want::Full {
            why: format!("{event}: full history"),
        }),
        other => Ok(Want::Full {
            why: format!("{other}: no range in this event, scanning the full history"),
        }),
    }
}

fn plan_push(fields: &Fields) -> Result<Want, CiError> {
    if fields.flag("/deleted") {
        return Ok(Want::Nothing {
            why: "push deleted a ref: no commits were added".into(),
        });
    }
    let after = fields.get("/after", "after")?;
    let before = fields.get("/before", "before")?;
    let default_branch = || fields.get("/repository/default_branch", "repository.default_branch");
    if before != ZERO_SHA {
        let forced = fields.flag("/forced");
        return Ok(Want::Range {
            base: before,
            head: after,
            why: if forced { "force push" } else { "push" }.into(),
            // A force push may have rewritten the old tip away: fall back to the default branch.
            fallback: if forced {
                Some(default_branch()?)
            } else {
                None
            },
        });
    }
    let default = default_branch()?;
    let pushed = fields.get("/ref", "ref")?;
    if pushed == format!("refs/heads/{default}") || pushed.starts_with("refs/tags/") {
        Ok(Want::Full {
            why: format!("first push of {pushed}"),
        })
    } else {
        Ok(Want::NotOnBranch {
            branch: default,
            head: after,
            why: format!("first push of {pushed}"),
        })
    }
}

/// The checkout, through the git CLI.
pub struct Checkout {
    pub dir: PathBuf,
    /// Try to deepen a shallow clone (off: fail at once with the hint).
    pub deepen: bool,
    /// Messages for the user (what was fetched, and why).
    pub notes: Vec<String>,
}

impl Checkout {
    pub fn new(dir: &Path, deepen: bool) -> Self {
        Checkout {
            dir: dir.to_path_buf(),
            deepen,
            notes: Vec::new(),
        }
    }

    fn git(&self, args: &[&str]) -> Result<String, CiError> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .output()
            .map_err(|e| CiError::Git {
                args: args.join(" "),
                message: e.to_string(),
            })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(CiError::Git {
                args: args.join(" "),
                message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }

    fn has_commit(&self, rev: &str) -> bool {
        self.git(&["cat-file", "-e", &format!("{rev}^{{commit}}")])
            .is_ok()
    }

    fn is_shallow(&self) -> bool {
        self.git(&["rev-parse", "--is-shallow-repository"])
            .is_ok_and(|s| s == "true")
    }

    /// True when the history between the two is complete: a merge base exists and both
    /// commits are present.
    fn connected(&self, base: &str, head: &str) -> bool {
        self.has_commit(base)
            && self.has_commit(head)
            && self.git(&["merge-base", base, head]).is_ok()
    }

    /// Fetches what is missing, deepening step by step, until `connected` holds; fails closed.
    fn complete(&mut self, base: &str, head: &str, what: &'static str) -> Result<(), CiError> {
        if self.connected(base, head) {
            return Ok(());
        }
        if self.deepen {
            // A shallow clone is deepened step by step; a complete one can only lack commits
            // the remote has and the checkout did not fetch, so one plain fetch is tried.
            let steps: &[Option<&str>] = if self.is_shallow() {
                &[
                    Some("--deepen=50"),
                    Some("--deepen=500"),
                    Some("--unshallow"),
                ]
            } else {
                &[None]
            };
            for step in steps {
                // One fetch per commit: a fetch is all or nothing, and a base that is gone must
                // not keep the head's history from being deepened.
                for rev in [head, base].into_iter().filter(|r| looks_like_sha(r)) {
                    let mut args = vec!["fetch", "--no-tags", "--quiet"];
                    args.extend(step.iter());
                    args.extend(["origin", rev]);
                    // A failed step is not the end: a later one (or unshallow) may succeed.
                    match self.git(&args) {
                        Ok(_) => self
                            .notes
                            .push(format!("fetched history: git {}", args.join(" "))),
                        Err(e) => self.notes.push(e.to_string()),
                    }
                }
                if self.connected(base, head) {
                    return Ok(());
                }
            }
        }
        let shallow = self.is_shallow();
        Err(CiError::Unreachable {
            what,
            rev: base.to_string(),
            hint: if shallow {
                "the checkout is shallow; use `fetch-depth: 0` in actions/checkout, or let keysweep deepen it (it needs a remote named origin)".into()
            } else {
                "the commit is gone from the remote (deleted or force-pushed away); scan the full history with `mode: full`".into()
            },
        })
    }
}

fn looks_like_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Turns what the event wants into what will be scanned, fetching history as needed.
pub fn resolve(want: Want, checkout: &mut Checkout) -> Result<Plan, CiError> {
    match want {
        Want::Nothing { why } => Ok(Plan::Nothing { why }),
        Want::Full { why } => resolve_full(why, checkout),
        Want::Range {
            base,
            head,
            why,
            fallback,
        } => match (checkout.complete(&base, &head, "the range base"), fallback) {
            (Ok(()), _) => Ok(Plan::Range {
                range: format!("{base}..{head}"),
                why,
            }),
            // A force push can leave `before` unreachable; what the push added is still
            // bounded by the commits that are not on the default branch.
            (Err(CiError::Unreachable { .. }), Some(branch)) => {
                checkout.notes.push(format!(
                    "{why}: the old tip {base} is gone; scanning the commits not on {branch}"
                ));
                resolve(Want::NotOnBranch { branch, head, why }, checkout)
            }
            (Err(e), _) => Err(e),
        },
        Want::NotOnBranch { branch, head, why } => resolve_not_on(&branch, head, why, checkout),
    }
}

fn resolve_full(why: String, checkout: &mut Checkout) -> Result<Plan, CiError> {
    if checkout.is_shallow() && checkout.deepen {
        checkout.git(&["fetch", "--no-tags", "--quiet", "--unshallow", "origin"])?;
        checkout
            .notes
            .push("unshallowed the checkout for a full-history scan".into());
    }
    if checkout.is_shallow() {
        return Err(CiError::Unreachable {
            what: "full history",
            rev: "HEAD".into(),
            hint: "the checkout is shallow; use `fetch-depth: 0` in actions/checkout".into(),
        });
    }
    Ok(Plan::Full { why })
}

/// The commits reachable from `head` but not from the default branch.
fn resolve_not_on(
    branch: &str,
    head: String,
    why: String,
    checkout: &mut Checkout,
) -> Result<Plan, CiError> {
    let remote_ref = format!("refs/remotes/origin/{branch}");
    if !checkout.has_commit(&remote_ref) && checkout.deepen {
        let spec = format!("+refs/heads/{branch}:{remote_ref}");
        // Best effort: whether it worked is checked just below.
        let _ = checkout.git(&[
            "fetch",
            "--no-tags",
            "--quiet",
            "--depth=50",
            "origin",
            &spec,
        ]);
    }
    if !checkout.has_commit(&remote_ref) {
        return Err(CiError::Unreachable {
            what: "the default branch",
            rev: remote_ref,
            hint: format!("fetch it (`git fetch origin {branch}`) or use `fetch-depth: 0`"),
        });
    }
    let base = checkout.git(&["rev-parse", &remote_ref])?;
    checkout.complete(&base, &head, "the default branch")?;
    Ok(Plan::Range {
        range: format!("{base}..{head}"),
        why,
    })
}

/// What `keysweep ci` scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// The range the event names (the full history for schedules and manual runs).
    Auto,
    /// Like auto, but an event without a range is an error.
    Range,
    /// The whole history.
    Full,
    /// The working tree only.
    Dir,
}

/// What `mode` asks for, given the triggering event (read from the arguments, else from
/// `GITHUB_EVENT_NAME`/`GITHUB_EVENT_PATH`). `None`: the working tree only.
pub fn want(
    mode: Mode,
    event_name: Option<String>,
    event_path: Option<PathBuf>,
) -> anyhow::Result<Option<Want>> {
    let (event, payload) = match mode {
        Mode::Dir => return Ok(None),
        Mode::Full => {
            return Ok(Some(Want::Full {
                why: "mode full".into(),
            }))
        }
        Mode::Auto | Mode::Range => read_event(event_name, event_path)?,
    };
    let want = plan(&event, &payload)?;
    if mode == Mode::Range {
        if let Want::Full { why } | Want::Nothing { why } = &want {
            anyhow::bail!(
                "mode range: the {event} event names no commit range ({why}); use mode auto or full"
            );
        }
    }
    Ok(Some(want))
}

/// The checkout to scan: `GITHUB_WORKSPACE` when set, else the current directory.
pub fn workspace(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| env_file("GITHUB_WORKSPACE"))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Publishes a finished scan to the GitHub Actions runner: workflow annotations (inside
/// Actions only), the job summary and the step outputs, each where the runner asks for it.
pub fn publish(
    findings: &[Finding],
    summary: &Summary,
    scope: &str,
    sarif: Option<&Path>,
) -> anyhow::Result<()> {
    let in_actions = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    if in_actions {
        github::write_annotations(findings, &mut std::io::stdout().lock())?;
    }
    if let Some(path) = env_file("GITHUB_STEP_SUMMARY") {
        let links = github::LinkBase::from_env();
        let md = github::summary_markdown(findings, summary, scope, links.as_ref());
        append(&path, &md)?;
    }
    if let Some(path) = env_file("GITHUB_OUTPUT") {
        let sarif = sarif.map(|p| p.display().to_string()).unwrap_or_default();
        append(
            &path,
            &format!("findings={}\nsarif-file={sarif}\n", findings.len()),
        )?;
    }
    Ok(())
}

/// `0123456789ab..ba9876543210`: a range as a log line shows it.
pub fn short_range(range: &str) -> String {
    range
        .split("..")
        .map(|r| &r[..r.len().min(12)])
        .collect::<Vec<_>>()
        .join("..")
}

fn env_file(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Appends to a runner file (`GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`): other steps write there too.
fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn push_events() {
        let p = json!({"before": "a".repeat(40), "after": "b".repeat(40), "forced": false,
                       "ref": "refs/heads/main", "repository": {"default_branch": "main"}});
        assert!(matches!(plan("push", &p).unwrap(), Want::Range { why, .. } if why == "push"));
        let first = json!({"before": ZERO_SHA, "after": "b".repeat(40), "created": true,
                           "ref": "refs/heads/feature", "repository": {"default_branch": "main"}});
        assert!(
            matches!(plan("push", &first).unwrap(), Want::NotOnBranch { branch, .. } if branch == "main")
        );
        let first_main = json!({"before": ZERO_SHA, "after": "b".repeat(40),
                                "ref": "refs/heads/main", "repository": {"default_branch": "main"}});
        assert!(matches!(
            plan("push", &first_main).unwrap(),
            Want::Full { .. }
        ));
        let deleted = json!({"before": "a".repeat(40), "after": ZERO_SHA, "deleted": true});
        assert!(matches!(
            plan("push", &deleted).unwrap(),
            Want::Nothing { .. }
        ));
    }

    #[test]
    fn missing_fields_fail_closed() {
        let err = plan(
            "pull_request",
            &json!({"pull_request": {"head": {"sha": "x"}}}),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "pull_request event payload has no pull_request.base.sha"
        );
        assert_eq!(
            plan("push", &Value::Null).unwrap_err().to_string(),
            "push event payload has no after"
        );
        assert!(matches!(
            plan("schedule", &Value::Null).unwrap(),
            Want::Full { .. }
        ));
    }
}
