//! Blob findings on their way out: attributed to where their blob was introduced, then held
//! back so that one leak is reported once, where it first appeared.

use std::sync::atomic::Ordering::Relaxed;

use gix::hashtable::{HashMap, HashSet};
use gix::ObjectId;

use super::attribution::{self, CommitInfoCache, Intro};
use super::graph::TreeGraph;
use super::history::History;
use super::parallel::lock;
use super::read::BlobHit;
use super::Run;
use crate::finding::{Finding, Origin};

/// A finding and when its first place was introduced.
pub(super) struct Pending {
    first: Option<(i64, ObjectId)>,
    finding: Finding,
}

impl Run<'_> {
    /// Finds where the blobs of `hits` were introduced in `history` and hands the hits on.
    /// `graph`, when the tree walk kept it, narrows attribution to the trees holding them and
    /// the commits that can have introduced them.
    pub(super) fn attribute_and_emit(
        &self,
        sync: &gix::ThreadSafeRepository,
        history: &History,
        hits: Vec<BlobHit>,
        graph: Option<&TreeGraph>,
    ) {
        let blobs: HashSet<ObjectId> = hits.iter().map(|h| h.blob).collect();
        let narrow = graph
            .filter(|_| !blobs.is_empty())
            .map(|g| g.narrow(history, &blobs));
        let places = attribution::introductions(
            sync,
            history,
            &blobs,
            narrow.as_ref(),
            self.threads,
            &self.scanner.phase,
            &|m| self.error(m),
        );
        self.emit(&sync.to_thread_local(), hits, &places);
    }

    /// Attributes each hit to the first place its blob was introduced and hands it on. Blobs no
    /// commit introduced (unreachable objects, refs naming a blob) keep only their blob id.
    fn emit(
        &self,
        repo: &gix::Repository,
        hits: Vec<BlobHit>,
        places: &HashMap<ObjectId, Vec<Intro>>,
    ) {
        let mut commits = CommitInfoCache::default();
        for hit in hits {
            let all: Vec<&Intro> = places.get(&hit.blob).into_iter().flatten().collect();
            self.emit_hit(repo, hit, &all, &mut commits);
        }
    }

    /// Hands on one hit, reported at the first of `places` (oldest first) whose path the
    /// allowlist does not exempt.
    pub(super) fn emit_hit(
        &self,
        repo: &gix::Repository,
        hit: BlobHit,
        places: &[&Intro],
        commits: &mut CommitInfoCache,
    ) {
        let BlobHit { blob, mut finding } = hit;
        let mut origin = Origin {
            blob: Some(blob.to_string()),
            // Where in the blob, which the scan knew: an archive member, an encoding.
            member: finding.origin.member.take(),
            encoding: finding.origin.encoding.take(),
            ..self.base_origin("git")
        };
        let shown: Vec<&Intro> = places
            .iter()
            .filter(|p| !self.scanner.suppress.path_allowed(&p.path))
            .copied()
            .collect();
        if shown.is_empty() && !places.is_empty() {
            self.scanner.stats.suppressed.fetch_add(1, Relaxed);
            return;
        }
        attribution::attribute(repo, &shown, &mut origin, commits);
        finding.origin = origin;
        let first = shown.first().map(|i| (i.time, i.commit));
        lock(&self.pending).push(Pending { first, finding });
    }

    /// Hands on the held-back findings, one per secret and path: a key stays in every later
    /// version of the file it was added to, and each version is a new blob, but it is one leak,
    /// reported where it first appeared. (The same secret at another path is another finding.)
    pub(super) fn flush(&self) {
        let mut pending = std::mem::take(&mut *lock(&self.pending));
        // Places first (oldest first, unplaced last), then position: the earliest wins.
        pending.sort_by(|a, b| {
            let place = |p: &Pending| (p.first.is_none(), p.first);
            place(a).cmp(&place(b)).then_with(|| {
                (a.finding.line, a.finding.column).cmp(&(b.finding.line, b.finding.column))
            })
        });
        let mut seen = std::collections::HashSet::new();
        for Pending { finding, .. } in pending {
            let at = finding
                .origin
                .path
                .clone()
                .or_else(|| finding.origin.blob.clone());
            if seen.insert((finding.rule.clone(), finding.fingerprint.clone(), at)) {
                self.collector.push(finding);
            }
        }
    }
}
