//! The incremental state (`--state FILE`): what earlier runs scanned, so the next run reads only
//! what is new. Object ids are content hashes, so "scanned blob X" stays true forever; the state
//! is only invalidated when the rules (or keysweep) change, which can change what a blob yields.
//!
//! Layout (little-endian), sorted ids so equal states are equal files:
//! `KEYSWEEP-STATE\n`, version `u8`, hash length `u8`, rules digest (32 bytes), repository
//! identity (32 bytes, see [`identity`]), four `u64` counts (ref targets, commits, trees,
//! blobs), the ids, then SHA-256 of all that. A file that fails any check (a state copied from
//! another repository among them) is ignored with a note: the cost is one full rescan, never a
//! missed blob.

use std::fs;
use std::path::Path;

use anyhow::Context;
use gix::hashtable::HashSet;
use gix::ObjectId;
use sha2::{Digest, Sha256};

const MAGIC: &[u8] = b"KEYSWEEP-STATE\n";
const VERSION: u8 = 2;

#[derive(Debug, Default)]
pub struct State {
    /// What every ref pointed at when the state was written (see `history::Tips::targets`).
    pub targets: Vec<ObjectId>,
    /// Commits whose messages were scanned.
    pub commits: HashSet<ObjectId>,
    /// Trees all of whose blobs were scanned.
    pub trees: HashSet<ObjectId>,
    pub blobs: HashSet<ObjectId>,
}

/// Which repository a state describes: its object store's canonical path. A state copied from
/// a mirror or a clone vouches for objects this repository may never have had scanned.
pub fn identity(repo: &gix::Repository) -> [u8; 32] {
    let store = repo.common_dir();
    let store = store.canonicalize().unwrap_or_else(|_| store.to_path_buf());
    Sha256::digest(store.as_os_str().as_encoded_bytes()).into()
}

/// What a state must match to be used: the rules, the repository and its object hash.
pub struct Key {
    pub digest: [u8; 32],
    pub identity: [u8; 32],
    pub hash: gix::hash::Kind,
}

impl State {
    /// Reads the state at `path`. `Ok(None)` when there is none yet; `Err` (with the reason) when
    /// the file exists but cannot be used (another repository's hash, other rules, damage).
    pub fn load(path: &Path, key: &Key) -> anyhow::Result<Option<State>> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        parse(&bytes, key).map(Some)
    }

    /// Writes the state durably: a crash at any moment leaves the old state or the new one.
    pub fn save(&self, path: &Path, key: &Key) -> anyhow::Result<()> {
        let bytes = self.encode(key);
        crate::atomic::write(path, &bytes)
            .with_context(|| format!("cannot write state file {}", path.display()))
    }

    fn encode(&self, key: &Key) -> Vec<u8> {
        let hash = key.hash;
        let sorted = |set: &HashSet<ObjectId>| {
            let mut v: Vec<ObjectId> = set.iter().copied().collect();
            v.sort_unstable();
            v
        };
        let lists = [
            self.targets.clone(),
            sorted(&self.commits),
            sorted(&self.trees),
            sorted(&self.blobs),
        ];
        let total: usize = lists.iter().map(Vec::len).sum();
        let mut out =
            Vec::with_capacity(MAGIC.len() + 2 + 64 + 32 + total * hash.len_in_bytes() + 32);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(hash.len_in_bytes() as u8);
        out.extend_from_slice(&key.digest);
        out.extend_from_slice(&key.identity);
        for list in &lists {
            out.extend_from_slice(&(list.len() as u64).to_le_bytes());
        }
        for list in &lists {
            for id in list {
                out.extend_from_slice(id.as_bytes());
            }
        }
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }
}

fn parse(bytes: &[u8], key: &Key) -> anyhow::Result<State> {
    let (body, sum) = bytes
        .split_last_chunk::<32>()
        .context("the file is truncated")?;
    anyhow::ensure!(
        Sha256::digest(body).as_slice() == sum,
        "the file is damaged (checksum mismatch)"
    );
    let rest = body
        .strip_prefix(MAGIC)
        .context("not a keysweep state file")?;
    let (&[version, id_len], rest) = rest
        .split_first_chunk::<2>()
        .context("the file is truncated")?;
    anyhow::ensure!(
        version == VERSION,
        "state format {version} is not supported"
    );
    let len = key.hash.len_in_bytes();
    anyhow::ensure!(
        id_len as usize == len,
        "it was written for a repository with another object hash"
    );
    let (stored, rest) = rest
        .split_first_chunk::<32>()
        .context("the file is truncated")?;
    anyhow::ensure!(
        *stored == key.digest,
        "it was written with other rules or another keysweep version"
    );
    let (repo, rest) = rest
        .split_first_chunk::<32>()
        .context("the file is truncated")?;
    anyhow::ensure!(
        *repo == key.identity,
        "it was written for another repository"
    );
    let mut counts = [0usize; 4];
    let mut rest = rest;
    for c in &mut counts {
        let (n, r) = rest
            .split_first_chunk::<8>()
            .context("the file is truncated")?;
        *c = usize::try_from(u64::from_le_bytes(*n)).context("count out of range")?;
        rest = r;
    }
    let total = counts.iter().try_fold(0usize, |a, &c| a.checked_add(c));
    anyhow::ensure!(
        total.and_then(|t| t.checked_mul(len)) == Some(rest.len()),
        "the file is truncated"
    );
    let mut ids = rest.chunks_exact(len).map(ObjectId::from_bytes_or_panic);
    let mut take = |n: usize| ids.by_ref().take(n).collect::<Vec<_>>();
    let targets = take(counts[0]);
    let commits = take(counts[1]).into_iter().collect();
    let trees = take(counts[2]).into_iter().collect();
    let blobs = take(counts[3]).into_iter().collect();
    Ok(State {
        targets,
        commits,
        trees,
        blobs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[n; 20])
    }

    #[test]
    fn round_trips_and_rejects_damage_and_other_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let key = |digest: u8, identity: u8| Key {
            digest: [digest; 32],
            identity: [identity; 32],
            hash: gix::hash::Kind::Sha1,
        };
        let state = State {
            targets: vec![id(1)],
            commits: [id(2)].into_iter().collect(),
            trees: [id(3), id(4)].into_iter().collect(),
            blobs: [id(5)].into_iter().collect(),
        };
        state.save(&path, &key(7, 1)).unwrap();
        let back = State::load(&path, &key(7, 1)).unwrap().unwrap();
        assert_eq!(back.targets, state.targets);
        assert_eq!(back.commits, state.commits);
        assert_eq!(back.trees, state.trees);
        assert_eq!(back.blobs, state.blobs);
        let refused = |key: Key| State::load(&path, &key).unwrap_err().to_string();
        assert_eq!(
            refused(key(8, 1)),
            "it was written with other rules or another keysweep version"
        );
        assert_eq!(refused(key(7, 2)), "it was written for another repository");

        let mut bytes = fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert_eq!(
            refused(key(7, 1)),
            "the file is damaged (checksum mismatch)"
        );
        fs::write(&path, &bytes[..10]).unwrap();
        assert_eq!(refused(key(7, 1)), "the file is truncated");
        assert!(State::load(&dir.path().join("none"), &key(7, 1))
            .unwrap()
            .is_none());
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
