//! `action.yml` and the shipped workflows are well-formed: every input referenced exists,
//! outputs point at real steps, scripts exist and parse, examples pass only declared inputs.

use std::collections::BTreeSet;
use std::path::Path;

use serde_norway::Value;

use crate::harness::{command, repo_path};

fn yaml(rel: &str) -> (String, Value) {
    let text = std::fs::read_to_string(repo_path(rel)).unwrap();
    let value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
    (text, value)
}

/// Every `${{ <prefix>.NAME }}` in `text`.
fn references(text: &str, prefix: &str) -> BTreeSet<String> {
    let needle = format!("{prefix}.");
    let mut out = BTreeSet::new();
    for expr in text.split("${{").skip(1) {
        let expr = expr.split("}}").next().unwrap_or("");
        for (i, _) in expr.match_indices(&needle) {
            let name: String = expr[i + needle.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

fn declared_inputs(action: &Value) -> BTreeSet<String> {
    action["inputs"]
        .as_mapping()
        .expect("inputs")
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn action_yml_is_consistent() {
    let (text, action) = yaml("action.yml");
    assert_eq!(action["runs"]["using"], "composite");
    let inputs = declared_inputs(&action);
    for want in [
        "args",
        "mode",
        "config",
        "sarif",
        "fail-on-findings",
        "revoke",
        "version",
    ] {
        assert!(inputs.contains(want), "input {want} missing");
    }
    for used in references(&text, "inputs") {
        assert!(
            inputs.contains(&used),
            "action.yml uses undeclared input {used}"
        );
    }
    let steps = action["runs"]["steps"].as_sequence().unwrap();
    let ids: BTreeSet<String> = steps
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect();
    for step in steps {
        let name = step["name"].as_str().unwrap_or("?");
        assert!(
            step.get("run").is_some() != step.get("uses").is_some(),
            "step {name}: exactly one of run/uses"
        );
        if let Some(run) = step["run"].as_str() {
            assert!(
                step["shell"].as_str().is_some(),
                "step {name}: run needs a shell"
            );
            for script in run
                .split_whitespace()
                .filter_map(|w| w.trim_matches('"').strip_prefix("$GITHUB_ACTION_PATH/"))
            {
                let path = repo_path(script);
                assert!(path.is_file(), "step {name} runs missing {script}");
                let check = command("bash", &repo_path(".")).arg("-n").arg(&path).run();
                assert_eq!(
                    check.code, 0,
                    "{script} has a syntax error: {}",
                    check.stderr
                );
            }
        }
    }
    for used in references(&text, "steps") {
        assert!(ids.contains(&used), "reference to unknown step id {used}");
    }
    for (name, output) in action["outputs"].as_mapping().unwrap() {
        let value = output["value"].as_str().unwrap();
        assert!(
            value.contains("steps."),
            "output {name:?} must come from a step"
        );
    }
}

#[test]
fn workflows_parse_and_use_only_declared_inputs() {
    let (_, action) = yaml("action.yml");
    let inputs = declared_inputs(&action);
    let mut files: Vec<String> = std::fs::read_dir(repo_path("examples/workflows"))
        .unwrap()
        .map(|e| {
            format!(
                "examples/workflows/{}",
                e.unwrap().file_name().to_string_lossy()
            )
        })
        .collect();
    files.push(".github/workflows/ci.yml".into());
    files.push(".github/workflows/release.yml".into());
    let mut uses_action = 0;
    for rel in &files {
        let (_, wf) = yaml(rel);
        let Some(jobs) = wf["jobs"].as_mapping() else {
            continue; // pre-commit config, not a workflow
        };
        for (_, job) in jobs {
            for step in job["steps"].as_sequence().unwrap() {
                let uses = step["uses"].as_str().unwrap_or("");
                if uses == "./" || uses.starts_with("keysweep/keysweep") {
                    uses_action += 1;
                    if let Some(with) = step["with"].as_mapping() {
                        for k in with.keys() {
                            let k = k.as_str().unwrap();
                            assert!(inputs.contains(k), "{rel}: unknown action input {k}");
                        }
                    }
                }
            }
        }
    }
    assert!(
        uses_action >= 3,
        "the action is used by the examples and by this repo's CI"
    );
}

/// A release server on 127.0.0.1: `GET /TAG/NAME` answers the bytes stored under that path,
/// anything else 404. It stops when dropped.
struct FakeRelease {
    addr: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeRelease {
    fn start(files: Vec<(String, Vec<u8>)>) -> FakeRelease {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let files: std::collections::HashMap<_, _> = files.into_iter().collect();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                let _ = reader.read_line(&mut request);
                // Headers up to the blank line; their content does not matter.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request.split_whitespace().nth(1).unwrap_or("");
                let (status, body) = match files.get(path.trim_start_matches('/')) {
                    Some(b) => ("200 OK", b.clone()),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        FakeRelease {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FakeRelease {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const FAKE_VERSION: &str = "v9.9.9";
const LINUX_X86: &str = "x86_64-unknown-linux-musl";

/// A release archive as release.yml lays it out: `keysweep-TAG-TARGET/keysweep` (a stand-in
/// script that prints a version) beside the licences.
fn fake_archive(work: &Path, target: &str) -> (String, Vec<u8>) {
    let name = format!("keysweep-{FAKE_VERSION}-{target}");
    let dir = work.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("keysweep");
    std::fs::write(&exe, "#!/bin/sh\necho 'keysweep 9.9.9 (fake release)'\n").unwrap();
    std::fs::set_permissions(&exe, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("LICENSE-MIT"), "MIT\n").unwrap();
    let archive = format!("{name}.tar.gz");
    let tar = command("tar", work).args(["-czf", &archive, &name]).run();
    assert_eq!(tar.code, 0, "{}", tar.stderr);
    (archive.clone(), std::fs::read(work.join(&archive)).unwrap())
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

struct Install {
    run: crate::harness::Run,
    outputs: String,
    bin_dir: std::path::PathBuf,
}

/// Runs `scripts/action-install.sh MODE` as the action does, against `server`.
fn action_install(work: &Path, mode: &str, server: &FakeRelease, env: &[(&str, &str)]) -> Install {
    let bin_dir = work.join("bin");
    let outputs = work.join("github-output");
    let _ = std::fs::remove_file(&outputs);
    let run = command("bash", work)
        .arg(repo_path("scripts/action-install.sh"))
        .arg(mode)
        .env("GITHUB_ACTION_PATH", repo_path("."))
        .env("GITHUB_OUTPUT", &outputs)
        .env("KEYSWEEP_BIN_DIR", &bin_dir)
        .env("KEYSWEEP_RELEASE_URL", server.url())
        .envs(env.iter().copied())
        .run();
    Install {
        outputs: std::fs::read_to_string(&outputs).unwrap_or_default(),
        run,
        bin_dir,
    }
}

fn release_with_sums(work: &Path, sums: impl FnOnce(&str, &str) -> String) -> FakeRelease {
    let (archive, bytes) = fake_archive(work, LINUX_X86);
    let listing = sums(&archive, &sha256_hex(&bytes));
    FakeRelease::start(vec![
        (format!("{FAKE_VERSION}/{archive}"), bytes),
        (format!("{FAKE_VERSION}/SHA256SUMS"), listing.into_bytes()),
    ])
}

#[test]
fn install_verifies_the_release_archive_and_caches_the_binary() {
    let work = tempfile::tempdir().unwrap();
    let server = release_with_sums(work.path(), |name, sum| format!("{sum}  {name}\n"));
    let env = [
        ("INPUT_VERSION", FAKE_VERSION),
        ("KEYSWEEP_PLATFORM", "Linux-x86_64"),
    ];
    let resolved = action_install(work.path(), "resolve", &server, &env);
    assert_eq!(resolved.run.code, 0, "{}", resolved.run.all());
    assert!(
        resolved
            .outputs
            .contains(&format!("cache-key=keysweep-{FAKE_VERSION}-{LINUX_X86}\n")),
        "{}",
        resolved.outputs
    );
    assert!(resolved.outputs.contains("source=release\n"));

    let first = action_install(work.path(), "install", &server, &env);
    assert_eq!(first.run.code, 0, "{}", first.run.all());
    assert!(
        first
            .run
            .stdout
            .contains("installed release v9.9.9 for x86_64-unknown-linux-musl (SHA-256 verified)"),
        "{}",
        first.run.all()
    );
    let bin = first.bin_dir.join("keysweep");
    assert!(first.outputs.contains(&format!("bin={}\n", bin.display())));
    let version = command(&bin, work.path()).arg("--version").run();
    assert_eq!(version.stdout.trim(), "keysweep 9.9.9 (fake release)");

    // The restored cache: no download (the server is gone).
    drop(server);
    let dead = FakeRelease::start(vec![]);
    let again = action_install(work.path(), "install", &dead, &env);
    assert_eq!(again.run.code, 0, "{}", again.run.all());
    assert!(again.run.stdout.contains("using cached keysweep 9.9.9"));
}

#[test]
fn install_refuses_a_wrong_checksum_and_installs_nothing() {
    let work = tempfile::tempdir().unwrap();
    let server = release_with_sums(work.path(), |name, sum| {
        let flipped = if sum.starts_with('0') { "1" } else { "0" };
        format!("{flipped}{}  {name}\n", &sum[1..])
    });
    let env = [
        ("INPUT_VERSION", FAKE_VERSION),
        ("KEYSWEEP_PLATFORM", "Linux-x86_64"),
    ];
    let run = action_install(work.path(), "install", &server, &env);
    assert_eq!(run.run.code, 2, "{}", run.run.all());
    assert!(
        run.run.stdout.contains(&format!(
            "::error title=keysweep install::checksum mismatch for keysweep-{FAKE_VERSION}-{LINUX_X86}.tar.gz"
        )),
        "{}",
        run.run.all()
    );
    assert!(!run.bin_dir.join("keysweep").exists());
    assert!(!run.outputs.contains("bin="));
}

/// Runs the script in `mode` for `version` on `platform`; it must fail (exit 2) saying `error`
/// as a workflow error annotation.
fn install_fails(work: &Path, server: &FakeRelease, mode: &str, run: (&str, &str), error: &str) {
    let (version, platform) = run;
    let env = [("INPUT_VERSION", version), ("KEYSWEEP_PLATFORM", platform)];
    let out = action_install(work, mode, server, &env);
    assert_eq!(out.run.code, 2, "{}", out.run.all());
    assert!(
        out.run
            .stdout
            .contains(&format!("::error title=keysweep install::{error}")),
        "{}",
        out.run.all()
    );
    assert!(!out.outputs.contains("bin="));
}

#[test]
fn install_names_a_missing_asset_or_release_and_an_unknown_platform() {
    let work = tempfile::tempdir().unwrap();
    let server = release_with_sums(work.path(), |name, sum| format!("{sum}  {name}\n"));
    // The release has no aarch64 archive.
    install_fails(
        work.path(),
        &server,
        "install",
        (FAKE_VERSION, "Linux-aarch64"),
        &format!(
            "keysweep {FAKE_VERSION} has no keysweep-{FAKE_VERSION}-aarch64-unknown-linux-musl.tar.gz"
        ),
    );
    // A version that was never released.
    install_fails(
        work.path(),
        &server,
        "install",
        ("v9.9.8", "Linux-x86_64"),
        "cannot download SHA256SUMS of keysweep v9.9.8",
    );
    // A platform no release covers: said at resolve time, before any cache or download.
    for mode in ["resolve", "install"] {
        install_fails(
            work.path(),
            &server,
            mode,
            (FAKE_VERSION, "SunOS-sparc64"),
            "no keysweep release binary for SunOS-sparc64",
        );
    }
    assert!(!work.path().join("bin/keysweep").exists());
}

/// The action's own ref picks the release: a full tag, or a major tag at a release commit
/// (whose Cargo.toml names the version); a branch is built from source, keyed by its source.
#[test]
fn resolve_keys_the_cache_by_the_resolved_version() {
    let work = tempfile::tempdir().unwrap();
    let server = FakeRelease::start(vec![]);
    let version = crate_version();
    let major = format!("v{}", version.split('.').next().unwrap());
    let key = |env: &[(&str, &str)]| {
        let mut all = vec![("KEYSWEEP_PLATFORM", "Darwin-arm64")];
        all.extend_from_slice(env);
        let r = action_install(work.path(), "resolve", &server, &all);
        assert_eq!(r.run.code, 0, "{}", r.run.all());
        r.outputs
            .lines()
            .find_map(|l| l.strip_prefix("cache-key="))
            .unwrap()
            .to_string()
    };
    let release_key = format!("keysweep-v{version}-aarch64-apple-darwin");
    let full = format!("v{version}");
    assert_eq!(key(&[("ACTION_REF", major.as_str())]), release_key);
    assert_eq!(key(&[("ACTION_REF", full.as_str())]), release_key);
    assert_eq!(
        key(&[("ACTION_REF", "main"), ("INPUT_VERSION", "2.0.1")]),
        "keysweep-v2.0.1-aarch64-apple-darwin"
    );
    let branch = key(&[("ACTION_REF", "main")]);
    assert!(branch.starts_with("keysweep-src-"), "{branch}");
    assert_eq!(branch, key(&[("ACTION_REF", "feature/x")]));
    // A major tag that is not this source's release line is not taken for one.
    assert!(key(&[("ACTION_REF", "v99")]).starts_with("keysweep-src-"));
}

fn crate_version() -> String {
    let cargo = std::fs::read_to_string(repo_path("Cargo.toml")).unwrap();
    cargo
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap()
        .to_string()
}

/// The hooks hand pre-commit's file names to `staged --files`; the image, the README's snippets
/// and the examples name this version, so a release tag shows working, versioned names.
#[test]
fn hooks_and_docs_name_this_release() {
    let version = crate_version();
    let (_, hooks) = yaml(".pre-commit-hooks.yaml");
    let hooks = hooks.as_sequence().unwrap();
    let ids: Vec<&str> = hooks.iter().map(|h| h["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["keysweep-system", "keysweep-docker", "keysweep"]);
    for hook in hooks {
        let entry = hook["entry"].as_str().unwrap();
        assert!(entry.ends_with("staged --files"), "{entry}");
        assert_eq!(hook["pass_filenames"], true, "{entry}");
    }
    assert_eq!(
        hooks[1]["entry"].as_str().unwrap(),
        format!("ghcr.io/keysweep/keysweep:{version} staged --files")
    );
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    for want in [
        format!("rev: v{version}"),
        format!("uses: keysweep/keysweep@v{version}"),
        format!("ghcr.io/keysweep/keysweep:{version}"),
    ] {
        assert!(readme.contains(&want), "README lacks {want}");
    }
    for rel in [
        "examples/workflows/pr-check.yml",
        "examples/workflows/nightly-sweep.yml",
    ] {
        let text = std::fs::read_to_string(repo_path(rel)).unwrap();
        assert!(
            text.contains(&format!("keysweep/keysweep@v{version}")),
            "{rel} does not pin v{version}"
        );
    }
}
