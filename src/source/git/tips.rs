//! Where history starts: every ref, HEAD and stash entry, peeled through annotated tags.

use gix::hashtable::HashSet;
use gix::objs::{Find, FindHeader, Kind};
use gix::ObjectId;

/// Where history starts. Every list is sorted and free of repeats.
#[derive(Debug, Default)]
pub struct Tips {
    pub commits: Vec<ObjectId>,
    /// Annotated tag objects: their messages are scanned too.
    pub tags: Vec<ObjectId>,
    /// Refs that name a tree or a blob directly (rare, but `git tag` allows it).
    pub trees: Vec<ObjectId>,
    pub blobs: Vec<ObjectId>,
    /// What every ref, HEAD and stash entry points at before peeling. If this is unchanged, so is
    /// everything reachable: the incremental state compares it.
    pub targets: Vec<ObjectId>,
}

/// Reads every tip. A ref that cannot be read or peeled is reported through `error` and skipped:
/// the rest of history is still worth scanning.
pub fn tips(repo: &gix::Repository, error: &mut dyn FnMut(String)) -> anyhow::Result<Tips> {
    let targets = ref_targets(repo, error)?;
    let mut tips = Tips::default();
    let mut buf = Vec::new();
    let mut peeled = HashSet::default();
    for (id, name) in &targets {
        tips.targets.push(*id);
        tips.peel(repo, *id, name, &mut peeled, &mut buf, error);
    }
    for list in [
        &mut tips.commits,
        &mut tips.tags,
        &mut tips.trees,
        &mut tips.blobs,
        &mut tips.targets,
    ] {
        list.sort_unstable();
        list.dedup();
    }
    Ok(tips)
}

/// What every ref, HEAD and stash entry points at, each with a name for messages.
fn ref_targets(
    repo: &gix::Repository,
    error: &mut dyn FnMut(String),
) -> anyhow::Result<Vec<(ObjectId, String)>> {
    let mut targets: Vec<(ObjectId, String)> = Vec::new();
    let platform = repo.references()?;
    for reference in platform.all()? {
        match reference {
            Ok(r) => {
                if let Some(id) = r.target().try_id() {
                    targets.push((id.to_owned(), r.name().as_bstr().to_string()));
                }
            }
            Err(e) => error(format!("git: cannot read a reference: {e:#}")),
        }
    }
    // A detached HEAD is on no branch; stash entries older than the newest live only in the
    // stash reflog. Both hold commits that no ref names.
    if let Ok(id) = repo.head_id() {
        targets.push((id.detach(), "HEAD".into()));
    }
    stash_entries(repo, &mut targets, error);
    Ok(targets)
}

fn stash_entries(
    repo: &gix::Repository,
    targets: &mut Vec<(ObjectId, String)>,
    error: &mut dyn FnMut(String),
) {
    let Ok(Some(stash)) = repo.try_find_reference("refs/stash") else {
        return;
    };
    let mut log = stash.log_iter();
    match log.all() {
        Ok(Some(lines)) => {
            for line in lines {
                match line.map(|l| l.new_oid()) {
                    Ok(id) => targets.push((id, "stash".into())),
                    Err(e) => error(format!("git: cannot read the stash reflog: {e:#}")),
                }
            }
        }
        Ok(None) => {}
        Err(e) => error(format!("git: cannot read the stash reflog: {e}")),
    }
}

impl Tips {
    /// Records `id`, which `name` points at, and whatever the tags on the way point at.
    /// Objects already `peeled` (another ref reached them) are not followed again.
    fn peel(
        &mut self,
        repo: &gix::Repository,
        mut id: ObjectId,
        name: &str,
        peeled: &mut HashSet<ObjectId>,
        buf: &mut Vec<u8>,
        error: &mut dyn FnMut(String),
    ) {
        // Tags can point at tags; a cycle is impossible (ids are hashes of content) but a
        // corrupt repository deserves a bound anyway.
        for _ in 0..32 {
            if !peeled.insert(id) {
                return;
            }
            match repo.objects.try_header(&id) {
                Ok(Some(h)) => match h.kind {
                    Kind::Commit => self.commits.push(id),
                    Kind::Tree => self.trees.push(id),
                    Kind::Blob => self.blobs.push(id),
                    Kind::Tag => {
                        self.tags.push(id);
                        match tag_target(repo, &id, name, buf) {
                            Ok(target) => {
                                id = target;
                                continue;
                            }
                            Err(message) => error(message),
                        }
                    }
                },
                Ok(None) => error(format!(
                    "git: {name} points at {id}, which is not in the object database"
                )),
                Err(e) => error(format!("git: cannot read {id} ({name}): {e:#}")),
            }
            return;
        }
    }
}

/// What the annotated tag `id` (reached from `name`) points at.
fn tag_target(
    repo: &gix::Repository,
    id: &ObjectId,
    name: &str,
    buf: &mut Vec<u8>,
) -> Result<ObjectId, String> {
    match repo.objects.try_find(id, buf) {
        Ok(Some(data)) => gix::objs::TagRefIter::from_bytes(data.data, data.object_hash)
            .target_id()
            .map_err(|e| format!("git: tag {id} ({name}): {e:#}")),
        Ok(None) => Err(format!("git: tag {id} ({name}) is missing")),
        Err(e) => Err(format!("git: cannot read tag {id} ({name}): {e:#}")),
    }
}
