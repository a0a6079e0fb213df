//! Embeds every `rules/*.toml` into the binary so a user needs nothing beside it, and names the
//! commit it was built from (`keysweep --version`).
use std::{env, fs, path::Path, process::Command};

fn main() {
    commit();
    // Read at run time, not with env!(): worktrees sharing a CARGO_TARGET_DIR share this
    // compiled script, and a baked-in path would embed another checkout's rules.
    let manifest_dir = env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest_dir).join("rules");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("rules/ directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = String::from("pub const BUILTIN_RULE_FILES: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().unwrap().to_string_lossy();
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            f.display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").unwrap()).join("builtin_rules.rs");
    fs::write(dest, out).expect("write builtin_rules.rs");
}

/// `KEYSWEEP_COMMIT` for the crate: set by the caller (a release build from a source archive),
/// else the checkout's HEAD, else `unknown` (a packaged crate has no git directory).
fn commit() {
    println!("cargo:rerun-if-env-changed=KEYSWEEP_COMMIT");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(env::var("CARGO_MANIFEST_DIR").unwrap())
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
    };
    let commit = env::var("KEYSWEEP_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    // A new commit changes HEAD or the branch it points at: rerun then, and only then.
    // Only files that exist: cargo treats a missing one as always changed and would rebuild
    // the crate on every command (a checkout without `packed-refs` recompiled keysweep between
    // CI's test build and its test run: 106 s). A branch that gets packed deletes its loose
    // ref, which is watched.
    let mut paths = vec!["HEAD".to_string(), "packed-refs".to_string()];
    paths.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for path in paths {
        if let Some(p) = git(&["rev-parse", "--git-path", &path]).map(|p| absolute(&p)) {
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    println!("cargo:rustc-env=KEYSWEEP_COMMIT={commit}");
}

fn absolute(p: &str) -> std::path::PathBuf {
    Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join(p)
}
