//! keysweep's integration tests, as one test binary: each suite is a module, so the crate and
//! its dependencies are linked once rather than once per file (`autotests = false` in
//! Cargo.toml). Run one suite with `cargo test --test integration cli::`.

mod harness;
mod support;

mod action;
mod archives;
mod ci;
mod ci_history;
mod cli;
mod config;
mod git;
mod git_objects;
mod github;
mod hostile;
mod html_report;
mod revoke;
mod revoke_journal;
mod rules_eval;
mod serve;
mod serve_bench;
mod serve_e2e;

/// With `autotests = false`, a file in tests/ that no `mod` line above names is never compiled,
/// and its tests would silently not run.
#[test]
fn every_file_in_tests_is_a_module_of_this_binary() {
    let root = include_str!("integration.rs");
    let dir = harness::repo_path("tests");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let is_module = if path.is_dir() {
            path.join("mod.rs").is_file()
        } else {
            path.extension().is_some_and(|e| e == "rs") && name != "integration"
        };
        if is_module {
            assert!(
                root.contains(&format!("\nmod {name};\n")),
                "tests/{name} is not declared in tests/integration.rs: its tests never run"
            );
        }
    }
}
