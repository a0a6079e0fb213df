//! The scanner as a user drives it: `keysweep dir`, `stdin`, reports, suppression, exit codes.

use std::path::Path;

use serde_json::Value;

use crate::harness::fakes::Fakes;
use crate::harness::{keysweep, keysweep_cmd, repo_path, write, Run};

fn jsonl(dir: &Path, extra: &[&str]) -> (Run, Vec<Value>) {
    let mut args = vec!["dir", ".", "--format", "jsonl"];
    args.extend_from_slice(extra);
    let run = keysweep(dir, &args);
    let v = run.jsonl();
    (run, v)
}

fn rules_of(findings: &[Value]) -> Vec<String> {
    findings
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn finds_key_service_keys_with_position_and_stable_fields() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Fakes::new(1);
    let sk = k.sk_live();
    write(
        dir.path(),
        "app/settings.py",
        format!("# config\nDEBUG = True\n    STRIPE = \"{sk}\"\n"),
    );
    let (run, f) = jsonl(dir.path(), &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(f.len(), 1, "{f:?}");
    let f = &f[0];
    assert_eq!(f["rule"], "keyservice.secret-live");
    assert_eq!(f["path"], "app/settings.py");
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(3), Some(15))
    );
    assert_eq!(f["source"], "dir");
    let sha = keysweep::finding::secret_sha256(sk.as_bytes());
    assert_eq!(f["secret_sha256"], sha.as_str());
    assert_eq!(
        f["fingerprint"],
        keysweep::finding::fingerprint("keyservice.secret-live", sk.as_bytes()).as_str()
    );
    assert_eq!(f["redacted"], format!("{}…(51)", &sk[..12]).as_str());
    assert_eq!(f["key_prefix"], "sk_live_");
    assert_eq!(f["revocable"], true);
}

#[test]
fn exit_codes_clean_findings_and_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", "nothing to see\n");
    assert_eq!(keysweep(dir.path(), &["dir", "."]).code, 0);

    let mut k = Fakes::new(2);
    write(dir.path(), "b.env", format!("KEY={}\n", k.msk()));
    assert_eq!(keysweep(dir.path(), &["dir", "."]).code, 1);

    // A root that cannot be read makes the scan incomplete (2), and the rest is still scanned.
    let run = keysweep(
        dir.path(),
        &["dir", ".", "does-not-exist", "--format", "jsonl"],
    );
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("does-not-exist"), "{}", run.stderr);
    assert_eq!(run.jsonl().len(), 1);
    assert!(run.stderr.contains("INCOMPLETE"), "{}", run.stderr);
}

#[test]
fn broken_symlink_followed_is_reported_and_loops_terminate() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Fakes::new(3);
    write(dir.path(), "real/key.txt", format!("k = {}\n", k.sk_live()));
    std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("real/loop")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("missing"), dir.path().join("dangling")).unwrap();
    // Not following: links are skipped, the key is found once.
    let (run, f) = jsonl(dir.path(), &[]);
    assert_eq!((run.code, f.len()), (1, 1), "{}", run.all());
    // Following: the loop is noted and not followed again; the dangling link is an error.
    let (run, f) = jsonl(dir.path(), &["--follow"]);
    assert_eq!(f.len(), 1, "{}", run.all());
    assert!(run.stderr.contains("loop"), "{}", run.stderr);
    assert!(run.stderr.contains("dangling"), "{}", run.stderr);
    assert_eq!(run.code, 2);
}

#[test]
fn no_raw_secret_in_any_output_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Fakes::new(4);
    let (sk, msk, id, gh) = (k.sk_live(), k.msk(), k.mk_live(), k.ghp());
    write(
        dir.path(),
        "src/client.rs",
        format!(
            "let a = \"{sk}\"; let b = \"{gh}\";\nlet auth = \"Bearer {id}:{msk}\";\nlet again = \"{sk}\";\n"
        ),
    );
    let raws = [&sk, &msk, &gh];
    for format in ["text", "json", "jsonl", "sarif"] {
        let run = keysweep(
            dir.path(),
            &["dir", ".", "--format", format, "--color", "always"],
        );
        assert_eq!(run.code, 1, "{format}: {}", run.all());
        for raw in raws {
            assert!(!run.all().contains(raw.as_str()), "{format} leaked {raw}");
        }
        let out = dir.path().join(format!("report.{format}"));
        let run = keysweep(
            dir.path(),
            &[
                "dir",
                "src",
                "--format",
                format,
                "-o",
                out.to_str().unwrap(),
            ],
        );
        let file = std::fs::read_to_string(&out).unwrap();
        for raw in raws {
            assert!(!file.contains(raw.as_str()) && !run.all().contains(raw.as_str()));
        }
    }
    let run = keysweep(
        dir.path(),
        &["dir", "src", "--format", "jsonl", "--show-secrets"],
    );
    for raw in raws {
        assert!(
            run.stdout.contains(raw.as_str()),
            "--show-secrets must show {raw}"
        );
    }
}

#[test]
fn bearer_pair_is_one_finding_naming_both_parts() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Fakes::new(5);
    let (id, msk) = (k.mk_live(), k.msk());
    write(
        dir.path(),
        "call.sh",
        format!("curl -H 'Authorization: Bearer {id}:{msk}' https://api.example.test/v1\n"),
    );
    let (_, f) = jsonl(dir.path(), &[]);
    assert_eq!(rules_of(&f), vec!["keyservice.bearer-pair"], "{f:?}");
    assert_eq!(f[0]["key_id"], id.as_str());
    assert_eq!(f[0]["key_prefix"], "msk_");
    assert_eq!(
        f[0]["secret_sha256"],
        keysweep::finding::secret_sha256(msk.as_bytes()).as_str()
    );
}

#[test]
fn placeholders_and_traps_are_not_findings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo_path("fixtures/traps.txt"),
        dir.path().join("traps.txt"),
    )
    .unwrap();
    let (run, f) = jsonl(dir.path(), &[]);
    assert_eq!((run.code, f.len()), (0, 0), "{f:#?}");
}

#[test]
fn binary_invalid_utf8_and_huge_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Fakes::new(6);
    let bin_key = k.sk_live();
    let mut bin = b"\x7fELF\0\0\0".to_vec();
    bin.extend_from_slice(bin_key.as_bytes());
    write(dir.path(), "tool.bin", bin);
    let latin1 = k.msk();
    let mut bad = b"caf\xe9 \xff\xfe ".to_vec();
    bad.extend_from_slice(format!("secret={latin1}\n").as_bytes());
    write(dir.path(), "latin1.txt", bad);
    // A file of 3 chunks with a key straddling the first chunk boundary.
    let huge_key = k.sk_live();
    let chunk = keysweep::scan::CHUNK_SIZE;
    let line = "x".repeat(63) + "\n";
    let mut huge = line.repeat((chunk - 20) / 64).into_bytes();
    let start = huge.len();
    huge.extend_from_slice(format!("{huge_key}\n").as_bytes());
    while huge.len() < 3 * chunk {
        huge.extend_from_slice(line.as_bytes());
    }
    write(dir.path(), "huge.log", &huge);

    let run = keysweep(dir.path(), &["dir", ".", "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let f = doc["findings"].as_array().unwrap();
    let paths: Vec<_> = f.iter().map(|f| f["path"].as_str().unwrap()).collect();
    // The binary file is searched too, for prefixed keys (issue 12 item 7).
    assert_eq!(paths, vec!["huge.log", "latin1.txt", "tool.bin"], "{f:#?}");
    assert_eq!(f[2]["snippet"], Value::Null, "no snippet from binary data");
    assert_eq!(f[0]["line"].as_u64(), Some((start / 64 + 1) as u64));
    assert_eq!(
        f[0]["secret_sha256"],
        keysweep::finding::secret_sha256(huge_key.as_bytes()).as_str()
    );
    // "caf\xe9 \xff\xfe " is 8 characters (invalid bytes count one each), then "secret=".
    assert_eq!(f[1]["column"].as_u64(), Some(16));
    let s = &doc["summary"];
    assert_eq!(s["binary_skipped"], 1);
    assert_eq!(s["files"], 2);
    assert!(s["bytes"].as_u64().unwrap() >= 3 * chunk as u64);
}

#[test]
fn gitignore_is_honoured_and_hidden_files_are_scanned() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let mut k = Fakes::new(7);
    write(dir.path(), ".gitignore", "build/\n");
    write(dir.path(), "build/out.js", format!("k='{}'\n", k.sk_live()));
    write(dir.path(), ".env", format!("KEY={}\n", k.sk_live()));
    write(dir.path(), ".git/config", format!("k={}\n", k.sk_live()));
    let (_, f) = jsonl(dir.path(), &[]);
    let paths: Vec<_> = f.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, vec![".env"]);
    let (_, f) = jsonl(dir.path(), &["--no-ignore"]);
    let paths: Vec<_> = f.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, vec![".env", "build/out.js"]);
    // .keysweepignore excludes paths from keysweep only (git still tracks them).
    write(dir.path(), ".keysweepignore", ".env\n");
    let (_, f) = jsonl(dir.path(), &[]);
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn stdin_by_name_and_by_dash() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Fakes::new(8);
    let input = format!("line one\nexport KEY={}\n", k.sk_live());
    for cmd in ["stdin", "-"] {
        let run = keysweep_cmd(dir.path())
            .args([cmd, "--format", "jsonl"])
            .stdin(input.as_bytes())
            .run();
        assert_eq!(run.code, 1, "{}", run.all());
        let f = run.jsonl();
        assert_eq!(f[0]["source"], "stdin");
        assert_eq!(f[0]["line"], 2);
        assert!(f[0].get("path").is_none());
    }
    let run = keysweep_cmd(dir.path()).arg("-").stdin(b"clean\n").run();
    assert_eq!(run.code, 0);
}

#[test]
fn inline_allow_baseline_and_config_suppress() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Fakes::new(9);
    write(
        dir.path(),
        "a.py",
        format!("A = '{}'  # keysweep:allow\n", k.sk_live()),
    );
    write(dir.path(), "b.py", format!("B = '{}'\n", k.sk_live()));
    let (run, f) = jsonl(dir.path(), &[]);
    assert_eq!(rules_of(&f).len(), 1, "{}", run.all());
    assert!(run.stderr.contains("1 suppressed"), "{}", run.stderr);

    // Baseline: accept what is there now, then only new findings are reported.
    let run = keysweep(
        dir.path(),
        &["baseline", "create", ".", "-o", "ks.baseline"],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    let baseline = std::fs::read_to_string(dir.path().join("ks.baseline")).unwrap();
    assert_eq!(baseline.lines().filter(|l| !l.starts_with('#')).count(), 1);
    assert!(!baseline.contains("b.py"), "no paths in a baseline");
    assert_eq!(
        keysweep(dir.path(), &["dir", ".", "--baseline", "ks.baseline"]).code,
        0
    );
    let new_key = k.msk();
    write(dir.path(), "c.py", format!("C = '{new_key}'\n"));
    let (_, f) = jsonl(dir.path(), &["--baseline", "ks.baseline"]);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["path"], "c.py");

    // Config in the scanned root: path globs, secret regexes, disabled rules.
    write(
        dir.path(),
        "keysweep.toml",
        "baseline = 'ks.baseline'\n[allowlist]\npaths = ['c.py']\n",
    );
    assert_eq!(keysweep(dir.path(), &["dir", "."]).code, 0);
    write(
        dir.path(),
        "keysweep.toml",
        "[rules]\ndisable = ['keyservice.msk-secret']\n[allowlist]\nregexes = ['^sk_live_']\n",
    );
    assert_eq!(keysweep(dir.path(), &["dir", "."]).code, 0);
    // A broken config is an error, not a silent default.
    write(dir.path(), "keysweep.toml", "[allowlist]\npathz = []\n");
    let run = keysweep(dir.path(), &["dir", "."]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("keysweep.toml"), "{}", run.stderr);
}

#[test]
fn extra_rules_and_rules_commands() {
    let dir = tempfile::tempdir().unwrap();
    let rule = r#"
[[rule]]
id = "acme.token"
description = "ACME internal token"
regex = '''\b(acme_[a-z0-9]{20})\b'''
keywords = ["acme_"]
min_entropy = 3.0
confidence = "high"
examples = ["t = acme_q3egrxtwzplkjh7mab9f", "ACME=acme_9fk2lmq8px4vr7ty1wz3", "acme_r4fhsyuxaqmlki8nbc0g"]
negative_examples = ["acme_short", "acme_aaaaaaaaaaaaaaaaaaaa", "task_acme_q3egrxtwzplkjh7mab9f"]
"#;
    write(dir.path(), "rules/acme.toml", rule);
    write(dir.path(), "src/x.txt", "token acme_q3egrxtwzplkjh7mab9f\n");
    let run = keysweep(
        dir.path(),
        &[
            "dir",
            "src",
            "--format",
            "jsonl",
            "--rules",
            "rules",
            "--no-builtin-rules",
        ],
    );
    assert_eq!(rules_of(&run.jsonl()), vec!["acme.token"]);

    let run = keysweep(dir.path(), &["rules", "check", "rules"]);
    assert_eq!(run.code, 0, "{}", run.all());
    write(
        dir.path(),
        "bad/r.toml",
        rule.replace("acme_short", "acme_q3egrxtwzplkjh7mab9f"),
    );
    let run = keysweep(dir.path(), &["rules", "check", "bad"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("negative example matches"),
        "{}",
        run.stderr
    );

    let run = keysweep(dir.path(), &["rules", "check"]);
    assert_eq!(
        run.code,
        0,
        "built-in rules must pass their own check:\n{}",
        run.all()
    );
    let run = keysweep(dir.path(), &["rules", "list", "--json"]);
    let alias: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    let run = keysweep(dir.path(), &["rules", "list", "--format", "json"]);
    let list: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(list, alias);
    assert!(list
        .iter()
        .all(|r| ["high", "medium", "low"].contains(&r["confidence"].as_str().unwrap())));
    assert!(list.len() >= 70, "{} rules", list.len());
    assert!(list
        .iter()
        .any(|r| r["id"] == "keyservice.msk-secret" && r["revocable"] == true));
    assert!(list.iter().any(|r| r["id"] == "keyservice.publishable"
        && r["revocable"] == false
        && r["severity"] == "low"));
}

#[test]
fn sarif_is_valid_for_code_scanning() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Fakes::new(10);
    let sk = k.sk_live();
    write(dir.path(), "a/one.js", format!("const k = '{sk}';\n"));
    write(
        dir.path(),
        "b/two file.js",
        format!("\n\nconst k = '{sk}';\n"),
    );
    write(dir.path(), "c.yml", format!("token: {}\n", k.ghp()));
    let run = keysweep(dir.path(), &["dir", ".", "--format", "sarif"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let s: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(s["version"], "2.1.0");
    assert!(s["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run0 = &s["runs"][0];
    assert_eq!(run0["tool"]["driver"]["name"], "keysweep");
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run0["results"].as_array().unwrap();
    // The same secret in two files is one result with a related location.
    assert_eq!(results.len(), 2, "{results:#?}");
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
        assert!(!rules[idx]["help"]["text"].as_str().unwrap().is_empty());
        assert!(rules[idx]["shortDescription"]["text"].is_string());
        assert!(matches!(
            r["level"].as_str(),
            Some("error" | "warning" | "note")
        ));
        assert_eq!(
            r["partialFingerprints"]["keysweep/fingerprint/v1"]
                .as_str()
                .unwrap()
                .len(),
            64
        );
        let loc = &r["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(!uri.starts_with('/') && !uri.starts_with("./"), "{uri}");
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(loc["region"]["startColumn"].as_u64().unwrap() >= 1);
        assert!(r["message"]["text"].as_str().unwrap().contains('…'));
    }
    let sk_result = results
        .iter()
        .find(|r| r["ruleId"] == "keyservice.secret-live")
        .unwrap();
    assert_eq!(
        sk_result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "a/one.js"
    );
    let related = sk_result["relatedLocations"].as_array().unwrap();
    assert_eq!(related.len(), 1);
    assert_eq!(
        related[0]["physicalLocation"]["artifactLocation"]["uri"],
        "b/two%20file.js"
    );
    assert_eq!(related[0]["physicalLocation"]["region"]["startLine"], 3);
}

#[test]
fn text_report_colour_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let mut k = Fakes::new(11);
    write(dir.path(), "k.txt", format!("{}\n", k.sk_live()));
    let plain = keysweep(dir.path(), &["dir", "."]);
    assert!(
        !plain.stdout.contains('\x1b'),
        "no colour when not a terminal"
    );
    assert!(
        plain.stdout.contains("keyservice.secret-live  k.txt:1:1"),
        "{}",
        plain.stdout
    );
    assert!(
        plain
            .stdout
            .contains("1 finding (1 high, 0 medium, 0 low) in 1 file"),
        "{}",
        plain.stdout
    );
    let color = keysweep(dir.path(), &["dir", ".", "--color", "always"]);
    assert!(color.stdout.contains("\x1b[1;31m"));
}

#[test]
fn version_names_the_commit_and_the_prefilter_backend() {
    let dir = tempfile::tempdir().unwrap();
    let run = keysweep(dir.path(), &["--version"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let commit = env!("KEYSWEEP_COMMIT");
    let expected = format!(
        "keysweep {} (commit {commit}, prefilter ",
        env!("CARGO_PKG_VERSION")
    );
    assert!(run.stdout.starts_with(&expected), "{}", run.stdout);
    // The whole pack is above 600 keywords: the AVX2 hashed filter where the CPU has AVX2.
    #[cfg(target_arch = "x86_64")]
    let automatic = if std::arch::is_x86_feature_detected!("avx2") {
        "avx2"
    } else {
        "dfa"
    };
    #[cfg(not(target_arch = "x86_64"))]
    let automatic = "dfa";
    assert!(
        run.stdout.ends_with(&format!("prefilter {automatic})\n")),
        "{}",
        run.stdout
    );
    // Forcing the portable backend is what --version then names.
    let forced = keysweep_cmd(dir.path())
        .env("KEYSWEEP_PREFILTER", "dfa")
        .arg("-V")
        .run();
    assert!(
        forced.stdout.ends_with("prefilter dfa)\n"),
        "{}",
        forced.stdout
    );
}

#[test]
fn help_has_examples_and_the_real_thread_default() {
    let dir = tempfile::tempdir().unwrap();
    // Every command, leaves of a family included, shows examples.
    let mut commands = vec![vec![]];
    let mut i = 0;
    while i < commands.len() {
        let mut args = commands[i].clone();
        args.push("--help".to_string());
        let run = keysweep(
            dir.path(),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert_eq!(run.code, 0, "{args:?}: {}", run.all());
        assert!(
            run.stdout.contains("\nExamples:\n  "),
            "{args:?}: {}",
            run.stdout
        );
        assert!(
            run.stdout.contains(" keysweep "),
            "{args:?}: {}",
            run.stdout
        );
        let parent = commands[i].clone();
        commands.extend(subcommands(&run.stdout).into_iter().map(|s| {
            let mut c = parent.clone();
            c.push(s);
            c
        }));
        i += 1;
    }
    assert!(commands.len() > 20, "{commands:?}");
    let cpus = std::thread::available_parallelism().unwrap().get();
    let help = keysweep(dir.path(), &["dir", "--help"]).stdout;
    assert!(
        help.contains(&format!("[default: {cpus}, the number of CPUs")),
        "{help}"
    );
    assert!(!help.contains("[default: 0]"), "{help}");
}

#[test]
fn completions_and_manual_pages_are_generated_from_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let bash = keysweep(dir.path(), &["completions", "bash"]);
    assert_eq!(bash.code, 0, "{}", bash.all());
    assert!(
        bash.stdout.contains("complete -F _keysweep"),
        "{}",
        bash.stdout
    );
    assert!(bash.stdout.contains("--no-builtin-rules"));
    let zsh = keysweep(dir.path(), &["completions", "zsh"]);
    assert!(
        zsh.stdout.starts_with("#compdef keysweep"),
        "{}",
        zsh.stdout
    );
    let bad = keysweep(dir.path(), &["completions", "tcsh"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("invalid value 'tcsh'"),
        "{}",
        bad.stderr
    );

    let man = keysweep(dir.path(), &["man"]);
    assert!(man.stdout.contains(".TH keysweep 1"), "{}", man.stdout);
    let run = keysweep(dir.path(), &["man", "--dir", "share/man1"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let page =
        std::fs::read_to_string(dir.path().join("share/man1/keysweep-github-repo.1")).unwrap();
    assert!(
        page.contains(".TH keysweep\\-github\\-repo 1") || page.contains("keysweep-github-repo"),
        "{page}"
    );
    assert!(page.contains("fetch\\-all"), "{page}");
    // A single repository's page offers no repository selection.
    assert!(!page.contains("shard"), "{page}");
    assert!(dir.path().join("share/man1/keysweep-dir.1").is_file());
    assert!(
        run.stderr.contains("manual pages written to share/man1"),
        "{}",
        run.stderr
    );
}

/// The subcommands a `--help` lists (its `Commands:` section), `help` left out.
fn subcommands(help: &str) -> Vec<String> {
    let Some(start) = help.find("Commands:\n") else {
        return Vec::new();
    };
    help[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn private_keys_show_their_type_and_the_fingerprint_ssh_keygen_prints() {
    let dir = tempfile::tempdir().unwrap();
    let keygen = |args: &[&str]| {
        let out = std::process::Command::new("ssh-keygen")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("ssh-keygen (openssh-client) runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    keygen(&[
        "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-C", "", "-f", "id_rsa",
    ]);
    keygen(&[
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        "",
        "-f",
        "id_ed25519",
    ]);
    let fingerprint = |pubkey: &str| {
        let line = keygen(&["-l", "-E", "sha256", "-f", pubkey]);
        line.split_whitespace().nth(1).unwrap().to_string()
    };
    let (rsa, ed) = (fingerprint("id_rsa.pub"), fingerprint("id_ed25519.pub"));
    let run = keysweep(dir.path(), &["dir", ".", "--format", "jsonl"]);
    let findings = run.jsonl();
    let redacted = |rule: &str| {
        let f = findings.iter().find(|f| f["rule"] == rule).expect(rule);
        f["redacted"].as_str().unwrap().to_string()
    };
    let r = redacted("pem.rsa-private-key");
    assert!(
        r.starts_with(&format!("RSA PRIVATE KEY {rsa} (")),
        "{r} vs {rsa}"
    );
    let r = redacted("pem.openssh-private-key");
    assert!(
        r.starts_with(&format!("OPENSSH PRIVATE KEY ssh-ed25519 {ed} (")),
        "{r} vs {ed}"
    );
    let text = keysweep(dir.path(), &["dir", "."]);
    assert!(text.stdout.contains(&rsa), "{}", text.stdout);
    assert!(!text.stdout.contains("-----…"), "{}", text.stdout);
}
