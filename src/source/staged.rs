//! Staged changes (`keysweep staged`, the pre-commit hook): what the next commit would add. Only
//! lines the index adds relative to HEAD are reported, so a key committed long ago (and perhaps
//! baselined) does not block every later commit to the same file; line numbers are those of the
//! staged file. A repository without commits yet compares against an empty tree.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::Context;
use gix::bstr::{BStr, BString, ByteSlice};
use gix::objs::tree::EntryKind;
use gix::objs::{Find, Kind};
use gix::ObjectId;

use super::git::added_lines;
use crate::finding::Origin;
use crate::messages::count;
use crate::scan::{Collector, Scanner, Scratch};

pub fn scan(scanner: &Scanner, path: &Path, collector: &Collector) -> anyhow::Result<()> {
    let repo = super::git::open(path)?;
    anyhow::ensure!(
        repo.workdir().is_some(),
        "{} is a bare repository: nothing can be staged there",
        path.display()
    );
    let index = load_index(&repo)?;
    let head = HeadTree::read(&repo)?;
    let mut files = StagedFiles {
        scanner,
        collector,
        repo: &repo,
        head: &head,
        scratch: Scratch::default(),
        new_buf: Vec::new(),
        old_buf: Vec::new(),
    };
    let mut conflicted = 0usize;
    for entry in index.entries() {
        if entry.stage() != gix::index::entry::Stage::Unconflicted {
            conflicted += 1;
            continue;
        }
        if holds_content(entry) {
            files.scan(entry.path(&index), &entry.id);
        }
    }
    if conflicted > 0 {
        scanner.messages.note(format_args!(
            "{} not scanned: resolve and stage them first",
            count(
                conflicted,
                "conflicted index entry",
                "conflicted index entries"
            )
        ));
    }
    Ok(())
}

/// Whether an index entry is a file with staged content. `git add -N` records a path with no
/// content yet; submodules and sparse directories are not files of this repository.
fn holds_content(entry: &gix::index::Entry) -> bool {
    !entry
        .flags
        .contains(gix::index::entry::Flags::INTENT_TO_ADD)
        && matches!(
            entry.mode,
            gix::index::entry::Mode::FILE
                | gix::index::entry::Mode::FILE_EXECUTABLE
                | gix::index::entry::Mode::SYMLINK
        )
}

/// Scans staged files for what they add to HEAD's versions.
struct StagedFiles<'a> {
    scanner: &'a Scanner,
    collector: &'a Collector,
    repo: &'a gix::Repository,
    head: &'a HeadTree,
    scratch: Scratch,
    new_buf: Vec<u8>,
    old_buf: Vec<u8>,
}

impl StagedFiles<'_> {
    /// Scans the staged content `id` at path `rela`, reporting what is on lines it adds.
    fn scan(&mut self, rela: &BStr, id: &ObjectId) {
        let head = self.head;
        let old = head.paths.get(rela);
        if old == Some(id) {
            return;
        }
        // The same content moved or copied from elsewhere adds nothing new (git's rename
        // detection shows such a file without added lines too).
        if old.is_none() && head.blobs.contains(id) {
            return;
        }
        let scanner = self.scanner;
        let shown = rela.to_str_lossy().into_owned();
        if scanner.suppress.path_allowed(&shown) {
            return;
        }
        let new = match read_blob(self.repo, id, &mut self.new_buf) {
            Ok(data) => data,
            Err(e) => {
                scanner
                    .messages
                    .error(format_args!("staged {shown}: {e:#}"));
                return;
            }
        };
        let added = old.and_then(
            |old_id| match read_blob(self.repo, old_id, &mut self.old_buf) {
                Ok(old) => Some(added_lines(old, new)),
                Err(e) => {
                    // Without the old side every line counts as added: over-reporting beats a
                    // silent pass in a commit gate.
                    scanner
                        .messages
                        .error(format_args!("staged {shown}: HEAD version: {e:#}"));
                    None
                }
            },
        );
        let origin = Origin::with_path("staged", shown);
        let collector = self.collector;
        scanner.scan_bytes(new, &origin, &mut self.scratch, &mut |f| {
            let line = usize::try_from(f.line).unwrap_or(usize::MAX);
            let is_added = added
                .as_ref()
                .is_none_or(|a| a.get(line.wrapping_sub(1)).copied().unwrap_or(false));
            if is_added {
                collector.push(f);
            }
        });
    }
}

/// The paths (repository-relative, `/`-separated) whose staged content differs from HEAD's:
/// what a commit made now would change.
pub fn changed_paths(path: &Path) -> anyhow::Result<HashSet<BString>> {
    let repo = super::git::open(path)?;
    let index = load_index(&repo)?;
    let head = HeadTree::read(&repo)?;
    Ok(index
        .entries()
        .iter()
        .filter(|e| holds_content(e))
        .map(|e| (e.path(&index), e.id))
        .filter(|(p, id)| head.paths.get(*p) != Some(id))
        .map(|(p, _)| p.to_owned())
        .collect())
}

/// The index a commit would be made from. Git runs hooks of `git commit -a` and
/// `git commit <paths>` with a temporary index named in `GIT_INDEX_FILE`.
fn load_index(repo: &gix::Repository) -> anyhow::Result<gix::index::File> {
    if let Some(path) = std::env::var_os("GIT_INDEX_FILE").filter(|p| !p.is_empty()) {
        let path = Path::new(&path);
        let path = match repo.workdir() {
            Some(wd) if path.is_relative() => wd.join(path),
            _ => path.to_path_buf(),
        };
        return gix::index::File::at(
            &path,
            repo.object_hash(),
            false,
            gix::index::decode::Options::default(),
        )
        .with_context(|| format!("cannot read the index {}", path.display()));
    }
    let index = repo.index_or_empty().context("cannot read the index")?;
    Ok(gix::index::File::clone(&index))
}

/// HEAD's files by path, and the set of their contents.
struct HeadTree {
    paths: HashMap<BString, ObjectId>,
    blobs: HashSet<ObjectId>,
}

impl HeadTree {
    fn read(repo: &gix::Repository) -> anyhow::Result<HeadTree> {
        let mut head = HeadTree {
            paths: HashMap::new(),
            blobs: HashSet::new(),
        };
        // No commit yet: everything staged is new.
        let Ok(tree) = repo.head_tree_id() else {
            return Ok(head);
        };
        let mut stack = vec![(tree.detach(), BString::default())];
        let mut buf = Vec::new();
        while let Some((id, dir)) = stack.pop() {
            let data = repo
                .objects
                .try_find(&id, &mut buf)
                .with_context(|| format!("cannot read HEAD tree {id}"))?
                .filter(|d| d.kind == Kind::Tree)
                .with_context(|| format!("HEAD tree {id} is missing"))?;
            for entry in gix::objs::TreeRefIter::from_bytes(data.data, data.object_hash) {
                let entry = entry.with_context(|| format!("cannot decode HEAD tree {id}"))?;
                let mut path = dir.clone();
                if !path.is_empty() {
                    path.push(b'/');
                }
                path.extend_from_slice(entry.filename);
                match entry.mode.kind() {
                    EntryKind::Tree => stack.push((entry.oid.to_owned(), path)),
                    EntryKind::Blob | EntryKind::BlobExecutable | EntryKind::Link => {
                        head.blobs.insert(entry.oid.to_owned());
                        head.paths.insert(path, entry.oid.to_owned());
                    }
                    EntryKind::Commit => {}
                }
            }
        }
        Ok(head)
    }
}

fn read_blob<'a>(
    repo: &gix::Repository,
    id: &ObjectId,
    buf: &'a mut Vec<u8>,
) -> anyhow::Result<&'a [u8]> {
    match repo.objects.try_find(id, buf)? {
        Some(d) if d.kind == Kind::Blob => Ok(d.data),
        Some(d) => anyhow::bail!("{id} is a {}, not a blob", d.kind),
        None => anyhow::bail!("blob {id} is missing"),
    }
}
