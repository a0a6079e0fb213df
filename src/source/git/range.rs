//! `--range BASE..HEAD`: only what the commits reachable from HEAD and not from BASE added,
//! as a pull request check needs. A secret that was already in BASE is not reported again.
//!
//! Fails closed: anything that would make the answer partial (an unknown or absent revision, a
//! shallow clone cut inside the range, an unreadable commit, an empty range nobody asked for) is
//! an error with what to do about it, never a quiet pass.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use gix::hashtable::HashSet;
use gix::objs::{FindHeader, Kind};
use gix::ObjectId;

use super::attribution::{self, CommitInfoCache, Intro};
use super::history::{self, History};
use super::parallel::{into_inner, lock};
use super::read::{self, BlobHit};
use super::{added_lines, trees, Run};
use crate::scan::{Phase, Scratch};

const FETCH_HINT: &str = "fetch the missing history (`git fetch --unshallow`, or `git fetch \
    origin <branch or commit>`); in GitHub Actions check out with `fetch-depth: 0`";

pub(super) fn scan(
    run: &Run<'_>,
    repo: gix::Repository,
    spec: &str,
    allow_empty: bool,
) -> anyhow::Result<()> {
    let range = Range::resolve(&repo, spec)?;
    let history = range.walk(run, &repo)?;
    if history.is_empty() {
        if allow_empty {
            run.scanner.messages.note(format_args!(
                "--range {spec} holds no commits: nothing to scan"
            ));
            return Ok(());
        }
        let (base_spec, head_spec) = (range.base_spec, range.head_spec);
        anyhow::bail!(
            "--range {spec} holds no commits ({head_spec} is already reachable from {base_spec}): \
             check the order (BASE..HEAD) and that {head_spec} is the commit you meant, or pass \
             --allow-empty-range if an empty range is expected"
        );
    }
    let sync = repo.into_sync();
    let intros = range.new_introductions(run, &sync, &history)?;
    let wanted: HashSet<ObjectId> = intros.iter().map(|i| i.blob).collect();
    let reachable = wanted.len();
    let mut reading = read::scan_blobs(&run.reader(), &sync, wanted)?;
    let hits = std::mem::take(&mut reading.hits);
    emit_added(run, &sync.to_thread_local(), hits, intros);
    run.note_counts(history.len(), reachable, &reading, 0);
    Ok(())
}

/// `BASE..HEAD` as given and as resolved.
struct Range<'s> {
    spec: &'s str,
    base_spec: &'s str,
    head_spec: &'s str,
    base: ObjectId,
    head: ObjectId,
}

impl<'s> Range<'s> {
    fn resolve(repo: &gix::Repository, spec: &'s str) -> anyhow::Result<Range<'s>> {
        let (base_spec, head_spec) = split(spec)?;
        Ok(Range {
            spec,
            base_spec,
            head_spec,
            base: resolve(repo, base_spec, "base")?,
            head: resolve(repo, head_spec, "head")?,
        })
    }

    /// The commits of the range, their messages scanned on the way. Fails if any commit could
    /// not be read or the history is cut short by a shallow clone: the range would be partial.
    fn walk(&self, run: &Run<'_>, repo: &gix::Repository) -> anyhow::Result<History> {
        let spec = self.spec;
        let mut walk_errors = Vec::new();
        let mut scratch = Scratch::default();
        // Messages are scanned during the walk; if the walk then fails, nothing is reported at all.
        let history = history::walk_commits(
            repo,
            &[self.head],
            &[self.base],
            &run.scanner.phase,
            &mut |e| walk_errors.push(e),
            &mut |node, data| run.scan_commit_message(&node.id, data, &mut scratch),
        );
        let history = match history {
            Ok(h) if walk_errors.is_empty() => h,
            failed => {
                let why = match failed {
                    Ok(_) => walk_errors.join("; "),
                    Err(e) => format!("{e:#}"),
                };
                anyhow::bail!(
                    "--range {spec}: cannot walk the range: {why}. If this is a shallow or partial clone, {FETCH_HINT}"
                )
            }
        };
        if let Some(cut) = history.shallow_boundary.first() {
            anyhow::bail!(
                "--range {spec}: the range reaches the shallow boundary of this clone (commit {cut}) \
                 before reaching {}, so what the range added cannot be told apart from what \
                 was there before: {FETCH_HINT}",
                self.base_spec
            );
        }
        Ok(history)
    }

    /// Every introduction of a blob by a commit of the range, minus blobs the base already had
    /// (a file moved or reverted to an old version adds nothing). Fails when the comparison
    /// could not read everything it needed.
    fn new_introductions(
        &self,
        run: &Run<'_>,
        sync: &gix::ThreadSafeRepository,
        history: &History,
    ) -> anyhow::Result<Vec<Intro>> {
        let failures = Mutex::new(Vec::new());
        let report = |e: String| lock(&failures).push(e);
        let phase = &run.scanner.phase;
        let intros = attribution::all_introductions(sync, history, run.threads, phase, &report);
        let before = base_blobs(&sync.to_thread_local(), history, phase, &report);
        let failures = into_inner(failures);
        if !failures.is_empty() {
            anyhow::bail!(
                "--range {}: cannot compare the range with its base: {}. If this is a shallow or \
                 partial clone, {FETCH_HINT}",
                self.spec,
                failures.join("; ")
            );
        }
        Ok(intros
            .into_iter()
            .filter(|i| !before.contains(&i.blob))
            .collect())
    }
}

/// What the base side already had: every blob under the trees of the commits the range starts
/// from (the parents of its commits that are not in it).
fn base_blobs(
    repo: &gix::Repository,
    history: &History,
    phase: &Phase,
    report: &dyn Fn(String),
) -> HashSet<ObjectId> {
    let start_points: BTreeSet<ObjectId> = history
        .commits
        .iter()
        .flat_map(|c| history.parents(c).iter())
        .filter(|p| history.get(p).is_none())
        .copied()
        .collect();
    let mut before_trees = Vec::new();
    let mut buf = Vec::new();
    for p in &start_points {
        match gix::objs::Find::try_find(&repo.objects, p, &mut buf) {
            Ok(Some(data)) => {
                match gix::objs::CommitRefIter::from_bytes(data.data, data.object_hash).tree_id() {
                    Ok(tree) => before_trees.push(tree),
                    Err(e) => report(format!("commit {p}: {e:#}")),
                }
            }
            _ => report(format!("commit {p} is missing")),
        }
    }
    let none = HashSet::default();
    let with = trees::WalkOptions {
        known_trees: &none,
        known_blobs: &none,
        graph: None,
        cache: None,
        threads: 1,
        phase,
    };
    trees::walk_trees(repo, before_trees, &with, &mut |e| report(e)).blobs
}

/// Hands on each hit at the introductions (of `intros`) that added its line: a key already in
/// the file before the range stays in every later version of that file, and is not news.
fn emit_added(run: &Run<'_>, repo: &gix::Repository, hits: Vec<BlobHit>, intros: Vec<Intro>) {
    let matched: HashSet<ObjectId> = hits.iter().map(|h| h.blob).collect();
    let places = attribution::group(
        intros
            .into_iter()
            .filter(|i| matched.contains(&i.blob))
            .collect(),
    );
    let mut lines = AddedLines::default();
    let mut commits = CommitInfoCache::default();
    for hit in hits {
        let line = usize::try_from(hit.finding.line).unwrap_or(usize::MAX);
        let added: Vec<&Intro> = places
            .get(&hit.blob)
            .into_iter()
            .flatten()
            .filter(|i| lines.adds(repo, i, line))
            .collect();
        if added.is_empty() {
            continue;
        }
        run.emit_hit(repo, hit, &added, &mut commits);
    }
}

/// Files bigger than this are not diffed: every line of them counts as added (reporting too
/// much beats missing a key in a CI gate).
const DIFF_LIMIT: u64 = 64 << 20;

/// Which lines each introduction added, computed once per introduction that needs it.
#[derive(Default)]
struct AddedLines {
    cache: HashMap<(ObjectId, Vec<ObjectId>), Option<Vec<bool>>>,
}

impl AddedLines {
    /// Whether `intro` added 1-based `line` of its blob: it did unless every parent version of
    /// the file already had that line (git's combined diff for merges).
    fn adds(&mut self, repo: &gix::Repository, intro: &Intro, line: usize) -> bool {
        if intro.before.is_empty() {
            return true;
        }
        let added = self
            .cache
            .entry((intro.blob, intro.before.clone()))
            .or_insert_with(|| added_vs_all(repo, &intro.blob, &intro.before));
        match added {
            Some(a) => a.get(line.wrapping_sub(1)).copied().unwrap_or(true),
            None => true,
        }
    }
}

/// Lines of `new` that no version in `before` has; `None` when a side cannot be diffed (too big
/// or unreadable), meaning all.
fn added_vs_all(repo: &gix::Repository, new: &ObjectId, before: &[ObjectId]) -> Option<Vec<bool>> {
    let mut new_buf = Vec::new();
    let new = small_blob(repo, new, &mut new_buf)?;
    let mut added: Option<Vec<bool>> = None;
    let mut old_buf = Vec::new();
    for old in before {
        let old = small_blob(repo, old, &mut old_buf)?;
        let vs = added_lines(old, new);
        added = Some(match added {
            None => vs,
            Some(a) => a.iter().zip(vs).map(|(x, y)| *x && y).collect(),
        });
    }
    added
}

fn small_blob<'a>(repo: &gix::Repository, id: &ObjectId, buf: &'a mut Vec<u8>) -> Option<&'a [u8]> {
    let header = repo.objects.try_header(id).ok()??;
    if header.kind != Kind::Blob || header.size > DIFF_LIMIT {
        return None;
    }
    let data = gix::objs::Find::try_find(&repo.objects, id, buf).ok()??;
    Some(data.data)
}

/// `BASE..HEAD`; both sides required (an implicit HEAD would hide a typo in CI scripts).
fn split(spec: &str) -> anyhow::Result<(&str, &str)> {
    if spec.contains("...") {
        anyhow::bail!(
            "--range {spec}: use BASE..HEAD (two dots): the commits HEAD has and BASE has not"
        );
    }
    match spec.split_once("..") {
        Some((base, head)) if !base.is_empty() && !head.is_empty() => Ok((base, head)),
        _ => anyhow::bail!("--range {spec}: expected BASE..HEAD, e.g. origin/main..HEAD"),
    }
}

/// A revision that must exist here as a commit.
fn resolve(repo: &gix::Repository, spec: &str, side: &str) -> anyhow::Result<ObjectId> {
    let id = match repo.rev_parse_single(spec) {
        Ok(id) => id.detach(),
        Err(e) => anyhow::bail!("--range: unknown {side} revision `{spec}` ({e}): {FETCH_HINT}"),
    };
    let mut id = id;
    // Peel annotated tags; everything else must be a commit.
    for _ in 0..32 {
        match repo.objects.try_header(&id) {
            Ok(Some(h)) if h.kind == Kind::Commit => return Ok(id),
            Ok(Some(h)) if h.kind == Kind::Tag => {
                let tag = repo.find_object(id)?.try_into_tag()?;
                id = tag.target_id()?.detach();
            }
            Ok(Some(h)) => anyhow::bail!("--range: {side} `{spec}` is a {}, not a commit", h.kind),
            Ok(None) => anyhow::bail!(
                "--range: {side} commit `{spec}` ({id}) is not in this repository: {FETCH_HINT}"
            ),
            Err(e) => anyhow::bail!("--range: cannot read {side} `{spec}` ({id}): {e:#}"),
        }
    }
    anyhow::bail!("--range: {side} `{spec}`: too many nested tags")
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn ranges_need_two_dots_and_both_ends() {
        assert_eq!(split("a..b").unwrap(), ("a", "b"));
        assert_eq!(split("origin/main..HEAD").unwrap(), ("origin/main", "HEAD"));
        let error = |spec| split(spec).unwrap_err().to_string();
        assert_eq!(
            error("a...b"),
            "--range a...b: use BASE..HEAD (two dots): the commits HEAD has and BASE has not"
        );
        for bad in ["a..", "..b", "a", ""] {
            assert_eq!(
                error(bad),
                format!("--range {bad}: expected BASE..HEAD, e.g. origin/main..HEAD"),
            );
        }
    }
}
