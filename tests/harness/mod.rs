//! The one way the integration suites drive keysweep and the tools around it (git, bash): each
//! command starts from an empty environment, so a developer's `GITHUB_TOKEN`,
//! `KEYSWEEP_REVOKE_TOKEN`, `GIT_DIR`, `NO_COLOR`, proxy settings or git config cannot change
//! what a test sees; a test adds what it needs with [`Cmd::env`]. Shaped after ripgrep's
//! `tests/util.rs`: a command builder, the captured run, and file helpers.

pub mod fakes;
pub mod git;
pub mod report;

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_keysweep");

/// A file of this repository (fixtures, scripts, action.yml).
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The HOME of every command: empty and read-only, so no test reads a developer's dotfiles
/// and no run can leave state there for another test to find. Under Cargo's scratch directory
/// for integration tests, so nothing is left in the system's temp directory.
fn home() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("home");
        std::fs::create_dir_all(&home).expect("create the test HOME");
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o555))
            .expect("make the test HOME read-only");
        home
    })
}

/// A command to run in a cleaned environment: PATH (to find git and bash), an empty HOME,
/// `LANG=C` (messages tests match are English), and no system git config.
pub struct Cmd {
    cmd: Command,
    input: Option<Vec<u8>>,
}

/// `program` with the cleaned environment, run in `dir`.
pub fn command(program: impl AsRef<OsStr>, dir: &Path) -> Cmd {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        )
        .env("HOME", home())
        .env("LANG", "C")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .current_dir(dir);
    Cmd { cmd, input: None }
}

/// The keysweep binary under test, run in `dir`.
pub fn keysweep_cmd(dir: &Path) -> Cmd {
    command(BIN, dir)
}

/// `keysweep ARGS` in `dir`, nothing on standard input.
pub fn keysweep(dir: &Path, args: &[&str]) -> Run {
    keysweep_cmd(dir).args(args).run()
}

impl Cmd {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Cmd {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Cmd {
        self.cmd.env(key, value);
        self
    }

    pub fn envs<'a>(mut self, vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Cmd {
        self.cmd.envs(vars);
        self
    }

    /// Bytes for standard input (otherwise it is /dev/null).
    pub fn stdin(mut self, input: &[u8]) -> Cmd {
        self.input = Some(input.to_vec());
        self
    }

    /// Runs to completion and captures what the user would have seen.
    pub fn run(mut self) -> Run {
        let stdin = if self.input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        let mut child = self
            .cmd
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("run {:?}: {e}", self.cmd.get_program()));
        // A writer thread: a child that fills its stdout pipe before reading all its input
        // would otherwise deadlock with us.
        let writer = self.input.take().map(|data| {
            let mut stdin = child.stdin.take().expect("piped stdin");
            std::thread::spawn(move || stdin.write_all(&data))
        });
        let out = child.wait_with_output().expect("wait for the command");
        if let Some(w) = writer {
            // The child may exit without reading everything (a broken pipe): not our failure.
            let _ = w.join();
        }
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The command as built, for a caller that drives the process itself (a server whose
    /// output is read while it runs).
    pub fn into_command(self) -> Command {
        self.cmd
    }

    /// Starts it in the background, output discarded; killed when the handle is dropped.
    pub fn spawn(mut self) -> Background {
        let child = self
            .cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {:?}: {e}", self.cmd.get_program()));
        Background(child)
    }
}

/// A process started with [`Cmd::spawn`]: SIGKILLed and reaped when dropped, so a failing test
/// leaves no process behind.
pub struct Background(Child);

impl Background {
    /// SIGKILL now: no destructor, no flush, nothing after this point runs in the child.
    pub fn kill(mut self) {
        self.0.kill().expect("kill");
        self.0.wait().expect("reap");
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The result of one run.
pub struct Run {
    /// The exit code; -1 when a signal ended the process.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Everything the user saw.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Standard output as JSON Lines.
    pub fn jsonl(&self) -> Vec<serde_json::Value> {
        report::jsonl(&self.stdout)
    }
}

/// Writes `content` to `rel` under `dir`, creating directories; returns the path.
pub fn write(dir: &Path, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("a file in a directory")).unwrap();
    std::fs::write(&p, content).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    p
}

/// A file under `fixtures/` with every `{{NAME}}` replaced by its value, escaped as inside a
/// JSON string (the fixtures are JSON); a placeholder left unfilled fails the test.
pub fn fixture(rel: &str, vars: &[(&str, &str)]) -> String {
    let path = repo_path("fixtures").join(rel);
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (k, v) in vars {
        let escaped = serde_json::to_string(v).expect("escape");
        text = text.replace(&format!("{{{{{k}}}}}"), &escaped[1..escaped.len() - 1]);
    }
    assert!(
        !text.contains("{{"),
        "{rel}: unfilled placeholder in {text}"
    );
    text
}

/// Polls `done` every 20 ms until it holds or `timeout` passes; says which.
pub fn eventually(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The isolation every suite relies on: whatever the developer's shell exports, a command sees
/// exactly the harness's variables and the ones its test adds.
#[test]
fn commands_see_only_the_cleaned_environment_and_what_the_test_adds() {
    let dir = tempfile::tempdir().unwrap();
    let run = command("env", dir.path()).env("GITHUB_TOKEN", "t").run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut names: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.split_once('=').map(|(name, _)| name))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "GITHUB_TOKEN",
            "GIT_CONFIG_NOSYSTEM",
            "HOME",
            "LANG",
            "PATH"
        ],
        "{}",
        run.stdout
    );
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("home");
    let home_line = format!("HOME={}", home.display());
    assert!(run.stdout.lines().any(|l| l == home_line), "{}", run.stdout);
    assert_eq!(
        std::fs::read_dir(home).unwrap().count(),
        0,
        "HOME is not empty"
    );
}
