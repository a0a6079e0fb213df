//! Hostile and unlucky inputs (issue 12): a scan never loses a finding, leaks a secret, hangs or
//! exhausts memory because of what a repository, a server or a configuration holds. Each test
//! is the regression test of one item; `docs/security.md` maps them to the guarantees.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::harness::fakes::{Fakes, BASE62};
use crate::harness::git::{commit_file, git_init};
use crate::harness::report::{hashes, sha};
use crate::harness::{keysweep, write};
use crate::support::fake_github::{FakeGithub, TOKEN};
use crate::support::key_service::KeyKind;
use crate::support::{revoke_config, start_key_service, REVOKE_TOKEN, REVOKE_TOKEN_ENV};

/// One rule of our own, so the built-in pack can change without touching these tests.
const RULE: &str = r#"
[[rule]]
id = "test.key"
description = "test key"
regex = '''\b(tk_[A-Za-z0-9]{24})\b'''
keywords = ["tk_"]
"#;

fn key(n: u64) -> String {
    format!("tk_{}", Fakes::new(n).body(24, BASE62))
}

/// A temporary directory with the rule file in it.
struct Scratch {
    tmp: tempfile::TempDir,
    rules: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let tmp = tempfile::tempdir().unwrap();
        let rules = write(tmp.path(), "rules.toml", RULE);
        Scratch { tmp, rules }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn rules(&self) -> &str {
        self.rules.to_str().unwrap()
    }
}

fn sarif_secrets(path: &Path) -> Vec<String> {
    let sarif: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["partialFingerprints"].to_string())
        .collect()
}

#[test]
fn an_unwritable_state_file_is_an_error_beside_a_written_report() {
    let s = Scratch::new();
    let repo = s.path().join("repo");
    git_init(&repo);
    commit_file(&repo, "a.env", &format!("K={}\n", key(1)), "one");
    // The state's directory is a regular file: nothing can be created under it.
    write(s.path(), "blocker", "x");
    let state = s.path().join("blocker/state");
    let report = s.path().join("x.sarif");
    let run = keysweep(
        &repo,
        &[
            "git",
            ".",
            "--no-builtin-rules",
            "--rules",
            s.rules(),
            "--state",
            state.to_str().unwrap(),
            "-f",
            "sarif",
            "-o",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("cannot write state file") && run.stderr.contains("blocker/state"),
        "{}",
        run.stderr
    );
    assert_eq!(sarif_secrets(&report).len(), 1, "{}", run.stderr);
}

/// A rule whose regex consumes the delimiters around the key, as many real-world rules do.
const GREEDY_RULE: &str = r#"
[[rule]]
id = "test.greedy"
description = "test key with delimiters"
regex = '''(?:^|[^A-Za-z0-9_])(tk_[A-Za-z0-9]{24})(?:[^A-Za-z0-9_]|$)'''
keywords = ["tk_"]
[rule.allowlist]
stopwords = ["zz9"]
"#;

#[test]
fn adjacent_keys_are_all_found_and_no_secret_on_a_snippet_line_is_raw() {
    let s = Scratch::new();
    let rules = write(s.path(), "greedy.toml", GREEDY_RULE);
    let (a, b) = (key(2), key(3));
    // The stopword keeps this one from being reported; it is still a secret on the line.
    let doubted = format!("tk_ZZ9{}", &key(4)[6..]);
    write(
        s.path(),
        "scan/keys.env",
        format!("KEYS=\"{a} {b}\",{doubted},{a}\n"),
    );
    let run = keysweep(
        s.path(),
        &[
            "dir",
            "scan",
            "--no-builtin-rules",
            "--rules",
            rules.to_str().unwrap(),
            "-f",
            "jsonl",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    let findings = run.jsonl();
    let mut found: Vec<&str> = findings
        .iter()
        .map(|f| f["secret_sha256"].as_str().unwrap())
        .collect();
    found.sort_unstable();
    found.dedup();
    let mut want = vec![sha(&a), sha(&b)];
    want.sort_unstable();
    assert_eq!(found, want, "{}", run.stdout);
    for secret in [&a, &b, &doubted] {
        assert!(!run.all().contains(secret.as_str()), "{}", run.all());
    }
}

#[test]
fn many_keys_on_one_line_are_each_found_at_their_column() {
    let s = Scratch::new();
    let keys: Vec<String> = (0..3000).map(|i| key(1000 + i)).collect();
    write(s.path(), "scan/min.js", format!("x={}\n", keys.join(";")));
    let run = keysweep(
        s.path(),
        &[
            "dir",
            "scan",
            "--no-builtin-rules",
            "--rules",
            s.rules(),
            "-f",
            "jsonl",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = run.jsonl();
    assert_eq!(findings.len(), keys.len());
    for (i, f) in findings.iter().enumerate() {
        assert_eq!(f["secret_sha256"], sha(&keys[i]).as_str());
        assert_eq!(f["line"], 1);
        assert_eq!(f["column"], (3 + i * (keys[0].len() + 1)) as u64);
        let snippet = f["snippet"].as_str().unwrap();
        assert!(!snippet.contains(&keys[i]), "{snippet}");
    }
}

/// `keysweep github ARGS --api-url URL` with the fake token; the token must not show.
fn github(dir: &Path, url: &str, args: &[&str]) -> crate::harness::Run {
    let run = crate::harness::keysweep_cmd(dir)
        .arg("github")
        .args(args)
        .args(["--api-url", url, "--cache", "cache", "--format", "jsonl"])
        .env("GITHUB_TOKEN", TOKEN)
        .run();
    assert!(!run.all().contains(TOKEN), "{}", run.all());
    run
}

/// An issue event whose body GitHub trimmed: keysweep fetches it from `url`.
fn trimmed_issue(api: &str, id: u64, number: u64) -> Value {
    json!({
        "id": id.to_string(),
        "type": "IssuesEvent",
        "actor": {"login": "mallory"},
        "repo": {"name": "acme/api"},
        "payload": {"action": "opened", "issue": {
            "url": format!("{api}/repos/acme/api/issues/{number}"),
            "number": number,
            "title": "t"
        }}
    })
}

fn issue_object(number: u64, body: &str) -> Value {
    json!({"number": number, "title": "t", "body": body,
           "html_url": format!("https://github.com/acme/api/issues/{number}")})
}

#[test]
fn a_failed_event_is_tried_again_on_the_next_pass_and_later_events_are_not_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let gh = FakeGithub::start();
    let mut k = Fakes::new(12_04);
    let (late, fine) = (k.sk_live(), k.sk_live());
    {
        let mut w = gh.world();
        w.events.push(trimmed_issue(&gh.url, 101, 1));
        w.events.push(trimmed_issue(&gh.url, 102, 2));
        w.objects
            .insert("/repos/acme/api/issues/2".into(), issue_object(2, &fine));
    }
    let state = dir.path().join("events.json");
    let state_arg = state.to_str().unwrap();
    let events = |d: &Path| {
        github(
            d,
            &gh.url,
            &["events", "--repo", "acme/api", "--state", state_arg],
        )
    };
    let first = events(dir.path());
    assert_eq!(first.code, 2, "{}", first.all());
    assert!(first.stderr.contains("event 101"), "{}", first.stderr);
    assert!(first.stderr.contains("tried again"), "{}", first.stderr);
    assert_eq!(hashes(&first.jsonl()), [sha(&fine)].into());

    // Still failing: reported again, never silently passed.
    let second = events(dir.path());
    assert_eq!(second.code, 2, "{}", second.all());
    assert!(second.stderr.contains("attempt 2 of"), "{}", second.stderr);
    assert!(second.jsonl().is_empty(), "{}", second.stdout);

    // The text can be read now: its key is found, and event 102 is not reported twice.
    gh.world()
        .objects
        .insert("/repos/acme/api/issues/1".into(), issue_object(1, &late));
    let third = events(dir.path());
    assert_eq!(third.code, 1, "{}", third.all());
    assert_eq!(hashes(&third.jsonl()), [sha(&late)].into());
    let fourth = events(dir.path());
    assert_eq!(fourth.code, 0, "{}", fourth.all());
    assert!(!std::fs::read_to_string(&state).unwrap().contains(&late));
}

#[test]
fn an_event_without_an_id_is_skipped_and_reported_and_the_rest_of_its_page_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let gh = FakeGithub::start();
    let key = Fakes::new(12_18).sk_live();
    {
        let mut w = gh.world();
        let mut broken = trimmed_issue(&gh.url, 1, 1);
        broken.as_object_mut().unwrap().remove("id");
        w.events.push(broken);
        let mut good = trimmed_issue(&gh.url, 2, 2);
        good["payload"]["issue"]["body"] = json!(key);
        w.events.push(good);
    }
    let run = github(dir.path(), &gh.url, &["events", "--repo", "acme/api"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("missing field `id`") && run.stderr.contains("skipped"),
        "{}",
        run.stderr
    );
    assert_eq!(hashes(&run.jsonl()), [sha(&key)].into());
}

/// A one-thread HTTP server on 127.0.0.1 answering every request with
/// `respond(base, request target)` (a whole HTTP response); counts the requests it answers.
/// How a [`canned_server`] answers: `(base URL, request target) → whole HTTP response`.
type Respond = fn(&str, &str) -> String;

fn canned_server(respond: Respond) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let (b, c) = (base.clone(), count.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let target = request.split(' ').nth(1).unwrap_or("/").to_string();
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let _ = std::io::Read::read_exact(&mut reader, &mut vec![0; length]);
            c.fetch_add(1, Ordering::SeqCst);
            let _ = stream.write_all(respond(&b, &target).as_bytes());
        }
    });
    (base, count)
}

/// A 200 list page of nothing whose `Link: rel="next"` is `next`.
fn empty_page(next: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\
         x-ratelimit-remaining: 4999\r\nlink: <{next}>; rel=\"next\"\r\n\
         connection: close\r\n\r\n[]"
    )
}

#[test]
fn next_links_that_loop_or_leave_the_api_host_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(Respond, &str); 3] = [
        (
            |base, target| empty_page(&format!("{base}{target}")),
            "was read already",
        ),
        (
            |base, target| match target.ends_with("page=2") {
                true => empty_page(&format!("{base}/orgs/acme/repos?page=3")),
                false => empty_page(&format!("{base}/orgs/acme/repos?page=2")),
            },
            "was read already",
        ),
        (
            |_, _| empty_page("http://elsewhere.invalid/orgs/acme/repos?page=2"),
            "another host (elsewhere.invalid)",
        ),
    ];
    for (respond, why) in cases {
        let (url, count) = canned_server(respond);
        let run = github(dir.path(), &url, &["org", "acme"]);
        assert_eq!(run.code, 2, "{}", run.all());
        assert!(run.stderr.contains(why), "{}", run.stderr);
        assert!(
            count.load(Ordering::SeqCst) <= 4,
            "{}",
            count.load(Ordering::SeqCst)
        );
    }
}

#[test]
fn a_key_service_error_body_echoing_the_token_never_reaches_output_or_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let key = Fakes::new(12_08).sk_live();
    let (url, count) = canned_server(|_, _| {
        let body = format!(
            "{{\"error\":\"bad request\",\"echo\":\"Authorization: Bearer {REVOKE_TOKEN}\",\
             \"hint\":\"sk_live_Q3EGRXTWZPLKJH7Mab12cd34ef56gh78ij90kl12mn\"}}"
        );
        format!(
            "HTTP/1.1 422 Unprocessable Entity\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    });
    write(
        dir.path(),
        "keysweep.toml",
        format!("[revoke]\nendpoint = \"{url}/v1/revoke\"\nbackoff = 0.02\n"),
    );
    write(dir.path(), "src/app.env", format!("PAYMENTS_KEY={key}\n"));
    let journal = dir.path().join("journal.jsonl");
    let run = crate::harness::keysweep_cmd(dir.path())
        .args(["dir", "src", "-c", "keysweep.toml", "--revoke", "--journal"])
        .arg(&journal)
        .args(["--format", "jsonl"])
        .env(REVOKE_TOKEN_ENV, REVOKE_TOKEN)
        .run();
    assert!(count.load(Ordering::SeqCst) >= 1, "{}", run.all());
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.all().contains("HTTP 422"), "{}", run.all());
    let journal = std::fs::read_to_string(&journal).unwrap_or_default();
    for text in [run.all(), journal] {
        assert!(!text.contains(REVOKE_TOKEN), "{text}");
        assert!(!text.contains("Q3EGRXTWZPLKJH7Mab12"), "{text}");
        assert!(!text.contains(&key), "{text}");
    }
}

#[test]
fn pipes_named_on_the_command_line_are_read_as_streams() {
    let s = Scratch::new();
    let (piped, fifo_key) = (key(30), key(31));
    let run = crate::harness::keysweep_cmd(s.path())
        .args([
            "dir",
            "/dev/stdin",
            "--no-builtin-rules",
            "--rules",
            s.rules(),
            "-f",
            "jsonl",
        ])
        .stdin(format!("K={piped}\n").as_bytes())
        .run();
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(hashes(&run.jsonl()), [sha(&piped)].into());

    let fifo = s.path().join("fifo");
    let made = crate::harness::command("mkfifo", s.path()).arg(&fifo).run();
    assert_eq!(made.code, 0, "{}", made.stderr);
    let (path, content) = (fifo.clone(), format!("K={fifo_key}\n"));
    // Opening a FIFO for writing waits for its reader: keysweep.
    let writer = std::thread::spawn(move || std::fs::write(path, content));
    let run = keysweep(
        s.path(),
        &[
            "dir",
            "fifo",
            "--no-builtin-rules",
            "--rules",
            s.rules(),
            "-f",
            "jsonl",
        ],
    );
    writer.join().unwrap().unwrap();
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(hashes(&run.jsonl()), [sha(&fifo_key)].into());
}

#[test]
fn revoke_from_a_show_secrets_report_passes_no_raw_secret_on() {
    let dir = tempfile::tempdir().unwrap();
    let service = start_key_service();
    let issued = service.issue(KeyKind::SecretLive);
    write(dir.path(), "keysweep.toml", revoke_config(&service, ""));
    write(
        dir.path(),
        "src/app.env",
        format!("A=1 KEY={} B=2\n", issued.key),
    );
    let scan = keysweep(
        dir.path(),
        &[
            "dir",
            "src",
            "-c",
            "keysweep.toml",
            "--show-secrets",
            "-f",
            "jsonl",
            "-o",
            "r.jsonl",
        ],
    );
    assert_eq!(scan.code, 1, "{}", scan.all());
    for format in ["jsonl", "text", "sarif"] {
        let run = crate::harness::keysweep_cmd(dir.path())
            .args([
                "revoke",
                "--from",
                "r.jsonl",
                "--dry-run",
                "--format",
                format,
            ])
            .env(REVOKE_TOKEN_ENV, REVOKE_TOKEN)
            .run();
        assert_eq!(run.code, 0, "{}", run.all());
        assert!(
            run.all().contains(&issued.sha256()[..12]) || format != "jsonl",
            "{}",
            run.all()
        );
        assert!(!run.all().contains(&issued.key), "{format}: {}", run.all());
    }
}

#[test]
fn control_characters_from_scanned_content_are_escaped_and_odd_paths_kept_exactly() {
    use std::os::unix::ffi::OsStrExt;
    let s = Scratch::new();
    let (k1, k2) = (key(40), key(41));
    let scan = s.path().join("scan");
    std::fs::create_dir_all(&scan).unwrap();
    let evil = scan.join("evil\x1b[2J\u{202e}vne.txt");
    std::fs::write(&evil, format!("K={k1} \x1b]0;pwned\x07\r\n")).unwrap();
    let odd = scan.join(std::ffi::OsStr::from_bytes(b"odd\xff.env"));
    std::fs::write(&odd, format!("K={k2}\n")).unwrap();
    let args = ["dir", "scan", "--no-builtin-rules", "--rules", s.rules()];
    let text = keysweep(s.path(), &[&args[..], &["--color", "never"][..]].concat());
    assert_eq!(text.code, 1, "{}", text.all());
    for c in ['\x1b', '\x07', '\r', '\u{202e}'] {
        assert!(!text.all().contains(c), "{c:?} in {}", text.all());
    }
    assert!(
        text.stdout.contains("evil\\x1b[2J\\u{202e}vne.txt"),
        "{}",
        text.stdout
    );

    let json = keysweep(s.path(), &[&args[..], &["-f", "jsonl"][..]].concat());
    let f = json.jsonl();
    let odd_finding = f
        .iter()
        .find(|f| f["secret_sha256"] == sha(&k2).as_str())
        .unwrap();
    let bytes: Vec<u8> = odd_finding["path_bytes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    assert_eq!(bytes, b"scan/odd\xff.env");
}

#[test]
fn control_files_that_are_devices_fifos_or_huge_are_refused_with_their_path() {
    let s = Scratch::new();
    write(s.path(), "scan/a.txt", "nothing\n");
    let big = s.path().join("big.toml");
    std::fs::write(&big, vec![b'#'; (32 << 20) + 1]).unwrap();
    let big = big.to_str().unwrap();
    let cases: [(&[&str], &str, &str); 4] = [
        (&["--rules", "/dev/zero"], "/dev/zero", "not a regular file"),
        (
            &["--baseline", "/dev/zero"],
            "/dev/zero",
            "not a regular file",
        ),
        (
            &["--config", "/dev/zero"],
            "/dev/zero",
            "not a regular file",
        ),
        (&["--rules", big], big, "larger than 32 MiB"),
    ];
    for (flags, path, why) in cases {
        let run = keysweep(s.path(), &[&["dir", "scan"][..], flags].concat());
        assert_eq!(run.code, 2, "{flags:?}: {}", run.all());
        assert!(
            run.stderr.contains(path) && run.stderr.contains(why),
            "{flags:?}: {}",
            run.stderr
        );
    }
    // A keysweep.toml in the scanned root that links to a device.
    std::os::unix::fs::symlink("/dev/zero", s.path().join("scan/keysweep.toml")).unwrap();
    let run = keysweep(s.path(), &["dir", "scan"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("keysweep.toml") && run.stderr.contains("not a regular file"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_state_file_from_another_repository_is_not_trusted() {
    let s = Scratch::new();
    let mirror = s.path().join("mirror");
    git_init(&mirror);
    let leaked = key(60);
    commit_file(&mirror, "a.env", &format!("K={leaked}\n"), "one");
    let state = s.path().join("copied.state");
    let state = state.to_str().unwrap();
    let args = |repo: &str| {
        let rules = s.rules().to_string();
        vec![
            "git".to_string(),
            repo.to_string(),
            "--no-builtin-rules".into(),
            "--rules".into(),
            rules,
            "--state".into(),
            state.to_string(),
            "-f".into(),
            "jsonl".into(),
        ]
    };
    let first = keysweep(
        s.path(),
        &args("mirror")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(first.code, 1, "{}", first.all());
    // A clone has the same refs and objects: the mirror's state would say "nothing new".
    let clone = crate::harness::command("git", s.path())
        .args(["clone", "-q", "mirror", "clone"])
        .run();
    assert_eq!(clone.code, 0, "{}", clone.stderr);
    let run = keysweep(
        s.path(),
        &args("clone").iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("written for another repository"),
        "{}",
        run.stderr
    );
    assert_eq!(hashes(&run.jsonl()), [sha(&leaked)].into());
}
