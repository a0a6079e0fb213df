//! Which blobs a commit introduced: entries whose path and content no parent has. Both
//! attribution (which commit first added a leaked blob, and where) and ranges (what a pull request
//! added) are this question.

use std::cmp::Ordering;
use std::iter::Peekable;

use anyhow::Context;
use gix::objs::tree::EntryRef;
use gix::objs::{Find, Kind, TreeRefIter};
use gix::{oid, ObjectId};

/// Buffers for one tree level and its parents' trees at the same path, reused between commits.
#[derive(Default)]
struct Level {
    own: Vec<u8>,
    parents: Vec<Vec<u8>>,
}

/// Reusable state for computing introductions, one per thread.
#[derive(Default)]
pub struct Introductions {
    levels: Vec<Level>,
    path: Vec<u8>,
}

impl Introductions {
    /// Calls `emit(path, blob, before)` for every blob under `tree` that is not at the same path
    /// in any of `parent_trees` (a commit without parents introduced everything) and that
    /// `look.want`s; `before` holds the parents' blobs at that path, if any.
    /// Subtrees equal to a parent's are skipped whole, as git's own diff does, so the cost follows
    /// the size of the change, not of the tree; so are subtrees `look.enter` refuses (those that
    /// cannot hold a wanted blob). Submodule commits are not blobs and are not reported.
    pub fn of_tree(
        &mut self,
        repo: &gix::Repository,
        tree: &oid,
        parent_trees: &[ObjectId],
        look: &Look<'_>,
        emit: &mut Emit<'_>,
    ) -> anyhow::Result<()> {
        if parent_trees.iter().any(|p| p.as_ref() == tree) {
            return Ok(());
        }
        self.path.clear();
        // Git limits trees to a few thousand levels; a generous start avoids growing mid-walk.
        if self.levels.len() < 64 {
            self.levels.resize_with(64, Level::default);
        }
        diff(
            repo,
            &mut self.levels,
            tree,
            parent_trees,
            &mut self.path,
            look,
            emit,
        )
    }
}

/// Receives each introduced blob: its path, its id, and the parents' blobs at that path.
pub type Emit<'a> = dyn FnMut(&[u8], ObjectId, &[ObjectId]) + 'a;

/// What a diff looks for: which blobs to report and which subtrees can hold them.
pub struct Look<'a> {
    pub want: &'a (dyn Fn(&oid) -> bool + Sync),
    pub enter: &'a (dyn Fn(&oid) -> bool + Sync),
}

fn diff(
    repo: &gix::Repository,
    levels: &mut [Level],
    tree: &oid,
    parent_trees: &[ObjectId],
    path: &mut Vec<u8>,
    look: &Look<'_>,
    emit: &mut Emit<'_>,
) -> anyhow::Result<()> {
    let Some((level, deeper)) = levels.split_first_mut() else {
        let mut more: Vec<Level> = std::iter::repeat_with(Level::default).take(64).collect();
        return diff(repo, &mut more, tree, parent_trees, path, look, emit);
    };
    let Level { own, parents } = level;
    let own = read_tree(repo, tree, own)?;
    if parents.len() < parent_trees.len() {
        parents.resize_with(parent_trees.len(), Vec::new);
    }
    let mut theirs = Vec::with_capacity(parent_trees.len());
    for (id, buf) in parent_trees.iter().zip(parents.iter_mut()) {
        theirs.push(
            TreeRefIter::from_bytes(read_tree(repo, id, buf)?, repo.object_hash()).peekable(),
        );
    }
    // Same path in the parents: subtrees to compare with, or earlier versions of a file.
    let mut theirs_at_path: Vec<ObjectId> = Vec::new();
    for entry in TreeRefIter::from_bytes(own, repo.object_hash()) {
        let entry = entry.with_context(|| format!("cannot decode tree {tree}"))?;
        if entry.mode.is_commit() {
            continue;
        }
        let is_tree = entry.mode.is_tree();
        let unchanged = same_path_in_parents(&mut theirs, &entry, &mut theirs_at_path)?;
        if unchanged || (is_tree && !(look.enter)(entry.oid)) {
            continue;
        }
        let len = path.len();
        path.extend_from_slice(entry.filename);
        if is_tree {
            path.push(b'/');
            diff(repo, deeper, entry.oid, &theirs_at_path, path, look, emit)?;
        } else if (look.want)(entry.oid) {
            emit(path, entry.oid.to_owned(), &theirs_at_path);
        }
        path.truncate(len);
    }
    Ok(())
}

/// Advances each parent tree (sorted as git sorts, like `entry`'s own) to `entry`'s path.
/// Returns whether some parent has the very same object there; otherwise `at_path` receives the
/// parents' other versions of it (submodules aside).
fn same_path_in_parents(
    theirs: &mut [Peekable<TreeRefIter<'_>>],
    entry: &EntryRef<'_>,
    at_path: &mut Vec<ObjectId>,
) -> anyhow::Result<bool> {
    at_path.clear();
    let mut unchanged = false;
    for parent in theirs.iter_mut() {
        while let Some(next) = parent.peek() {
            let theirs = match next {
                Ok(e) => e,
                Err(_) => {
                    let err = parent.next().and_then(Result::err);
                    return Err(anyhow::anyhow!("cannot decode a parent tree: {err:?}"));
                }
            };
            match git_order(theirs, entry) {
                Ordering::Less => {
                    parent.next();
                }
                Ordering::Equal => {
                    if theirs.oid == entry.oid {
                        unchanged = true;
                    } else if !theirs.mode.is_commit() {
                        at_path.push(theirs.oid.to_owned());
                    }
                    break;
                }
                Ordering::Greater => break,
            }
        }
    }
    Ok(unchanged)
}

fn read_tree<'a>(
    repo: &gix::Repository,
    id: &oid,
    buf: &'a mut Vec<u8>,
) -> anyhow::Result<&'a [u8]> {
    match repo.objects.try_find(id, buf) {
        Ok(Some(data)) if data.kind == Kind::Tree => Ok(data.data),
        Ok(Some(data)) => anyhow::bail!("{id} should be a tree but is a {}", data.kind),
        Ok(None) => anyhow::bail!("tree {id} is missing"),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read tree {id}"))),
    }
}

/// Git sorts tree entries by name, with a directory compared as if its name ended in `/`.
fn git_order(a: &EntryRef<'_>, b: &EntryRef<'_>) -> Ordering {
    let (an, bn) = (a.filename.as_ref() as &[u8], b.filename.as_ref() as &[u8]);
    let common = an.len().min(bn.len());
    an[..common].cmp(&bn[..common]).then_with(|| {
        let end = |name: &[u8], tree: bool| {
            name.get(common)
                .copied()
                .or(if tree { Some(b'/') } else { None })
        };
        end(an, a.mode.is_tree()).cmp(&end(bn, b.mode.is_tree()))
    })
}

/// For each line of `new` (0-based), whether a diff from `old` adds it (histogram diff, as git's
/// `diff.algorithm=histogram`).
pub fn added_lines(old: &[u8], new: &[u8]) -> Vec<bool> {
    let input = imara_diff::InternedInput::new(old, new);
    let diff = imara_diff::Diff::compute(imara_diff::Algorithm::Histogram, &input);
    (0..input.after.len() as u32)
        .map(|i| diff.is_added(i))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::added_lines;

    #[test]
    fn only_new_and_changed_lines_are_added() {
        let old = b"a\nb\nc\n";
        let new = b"a\nx\nb\nc changed\n";
        assert_eq!(added_lines(old, new), vec![false, true, false, true]);
        assert_eq!(added_lines(b"", b"k\n"), vec![true]);
    }
}
