//! `keysweep install-hook`: a git pre-commit hook that runs `keysweep staged`, so a commit that
//! adds a key is refused before it exists. A hook keysweep did not write is never replaced
//! without `--force` (and even then it is kept beside the new one).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use gix::bstr::BString;

/// Written into every hook keysweep installs: how a later install recognises its own hook.
const MARKER: &str = "# keysweep pre-commit hook";

/// Installs the hook for the repository at `repo_path`; `staged_args` are passed on to
/// `keysweep staged`. Returns where the hook was written and where a replaced foreign hook was
/// kept, if any.
pub fn install(
    repo_path: &Path,
    force: bool,
    staged_args: &[String],
) -> anyhow::Result<(PathBuf, Option<PathBuf>)> {
    let repo = crate::source::git::open(repo_path)?;
    let dir = hooks_dir(&repo)?;
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Linked work trees reach the common directory through `..`: show where the hook really is.
    let dir = fs::canonicalize(&dir).unwrap_or(dir);
    let hook = dir.join("pre-commit");
    let mut backup = None;
    match fs::read(&hook) {
        Ok(existing) if !contains(&existing, MARKER.as_bytes()) => {
            anyhow::ensure!(
                force,
                "{} exists and was not written by keysweep: pass --force to replace it (it is kept \
                 as pre-commit.keysweep-backup), or call `keysweep staged` from it",
                hook.display()
            );
            let kept = dir.join("pre-commit.keysweep-backup");
            fs::copy(&hook, &kept)
                .with_context(|| format!("cannot keep the old hook as {}", kept.display()))?;
            backup = Some(kept);
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", hook.display())),
    }
    let exe = std::env::current_exe().context("cannot tell where keysweep is installed")?;
    let script = script(&exe, staged_args);
    let tmp = dir.join(".pre-commit.keysweep-tmp");
    fs::write(&tmp, script).with_context(|| format!("cannot write {}", tmp.display()))?;
    make_executable(&tmp)?;
    fs::rename(&tmp, &hook).with_context(|| format!("cannot write {}", hook.display()))?;
    Ok((hook, backup))
}

/// Git runs hooks from `core.hooksPath` when set (relative to the work tree), else from
/// `hooks/` in the common git directory (shared by all linked work trees).
fn hooks_dir(repo: &gix::Repository) -> anyhow::Result<PathBuf> {
    let configured = repo
        .config_snapshot()
        .trusted_path("core.hooksPath")
        .context("cannot read core.hooksPath")?;
    Ok(match configured {
        Some(p) if p.is_relative() => repo.workdir().unwrap_or_else(|| repo.git_dir()).join(p),
        Some(p) => p,
        None => repo.common_dir().join("hooks"),
    })
}

/// The hook runs this keysweep binary when it is still there, else whatever `keysweep` is on
/// PATH (the binary may have been moved or reinstalled).
fn script(exe: &Path, staged_args: &[String]) -> String {
    let args: String = staged_args
        .iter()
        .map(|a| format!(" {}", quote(a)))
        .collect();
    format!(
        "#!/bin/sh\n\
         {MARKER}: refuses commits that add API keys.\n\
         # Written by `keysweep install-hook`; run it again to update, delete this file to remove.\n\
         # Findings: remove the key (and rotate it), or mark the line `keysweep:allow`.\n\
         keysweep={}\n\
         [ -x \"$keysweep\" ] || keysweep=keysweep\n\
         exec \"$keysweep\" staged{args}\n",
        quote(&exe.to_string_lossy())
    )
}

/// Whether every one of `files` (as named on the command line, relative to the current
/// directory) is among `changed` (repository-relative paths of the repository at `repo`): the
/// pre-commit framework's file list on a commit. No files at all counts as a commit's list.
pub fn only_changed(
    repo: &Path,
    files: &[PathBuf],
    changed: &HashSet<BString>,
) -> anyhow::Result<bool> {
    let root = fs::canonicalize(repo)
        .with_context(|| format!("cannot resolve the repository path {}", repo.display()))?;
    Ok(files
        .iter()
        .all(|f| relative_to(&root, f).is_some_and(|rel| changed.contains(rel.as_bytes()))))
}

/// `file` relative to `root`, `/`-separated; None when it is not inside `root`. The directory
/// is resolved, not the file: a staged symlink is named by its own path.
fn relative_to(root: &Path, file: &Path) -> Option<String> {
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let abs = fs::canonicalize(parent).ok()?.join(file.file_name()?);
    let rel = abs.strip_prefix(root).ok()?;
    let parts: Vec<_> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

/// POSIX shell single quoting.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

#[cfg(unix)]
fn make_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_compares_repository_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        for f in ["a.txt", "sub/b.txt", "c.txt"] {
            fs::write(dir.path().join(f), "x").unwrap();
        }
        let changed: HashSet<BString> = ["a.txt", "sub/b.txt"].map(BString::from).into();
        let named =
            |names: &[&str]| -> Vec<PathBuf> { names.iter().map(|n| dir.path().join(n)).collect() };
        let root = dir.path();
        assert!(only_changed(root, &named(&["a.txt", "sub/b.txt"]), &changed).unwrap());
        assert!(only_changed(root, &named(&["sub/b.txt"]), &changed).unwrap());
        assert!(only_changed(root, &[], &changed).unwrap());
        // --all-files: an unchanged file is named too.
        assert!(!only_changed(root, &named(&["a.txt", "c.txt"]), &changed).unwrap());
        // `sub/../a.txt` is a.txt; a file outside the repository is never a commit's.
        assert!(only_changed(root, &named(&["sub/../a.txt"]), &changed).unwrap());
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("a.txt"), "x").unwrap();
        assert!(!only_changed(root, &[outside.path().join("a.txt")], &changed).unwrap());
    }

    #[test]
    fn script_quotes_paths_and_arguments() {
        let s = script(
            Path::new("/opt/it's/keysweep"),
            &["--baseline".into(), "a b".into()],
        );
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.contains(MARKER));
        assert!(s.contains(r"keysweep='/opt/it'\''s/keysweep'"), "{s}");
        assert!(
            s.contains(r#"exec "$keysweep" staged '--baseline' 'a b'"#),
            "{s}"
        );
    }
}
