//! Configuration that catches mistakes, and rules brought from gitleaks: unknown rule ids are
//! errors with a suggestion, a root's `keysweep.baseline` is used without flags, keysweep's
//! revocation journal is never scanned, and gitleaks-style rule files load and convert.

use crate::harness::fakes::Fakes;
use crate::harness::{keysweep, keysweep_cmd, repo_path, write};

#[test]
fn a_misspelt_disabled_rule_is_an_error_naming_the_nearest_id() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "keysweep.toml",
        "[rules]\ndisable = ['keyservice.secret-lve']\n",
    );
    write(dir.path(), "a.txt", "nothing\n");
    let run = keysweep(dir.path(), &["dir", "."]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains(
            "[rules] disable names an unknown rule \"keyservice.secret-lve\"; did you mean \
             \"keyservice.secret-live\"?"
        ),
        "{}",
        run.stderr
    );
    // The correct id disables the rule: the key is no longer reported.
    write(
        dir.path(),
        "keysweep.toml",
        "[rules]\ndisable = ['keyservice.secret-live']\n",
    );
    write(
        dir.path(),
        "b.env",
        format!("K={}\n", Fakes::new(40).sk_live()),
    );
    let run = keysweep(dir.path(), &["dir", ".", "--format", "jsonl"]);
    assert_eq!(run.code, 0, "{}", run.all());
}

#[test]
fn a_baseline_in_the_scanned_root_is_used_without_flags() {
    let dir = tempfile::tempdir().unwrap();
    let key = Fakes::new(41).sk_live();
    write(dir.path(), "app/.env", format!("KEY={key}\n"));
    let create = keysweep(dir.path(), &["baseline", "create", "."]);
    assert_eq!(create.code, 0, "{}", create.all());
    assert!(dir.path().join("keysweep.baseline").is_file());
    let run = keysweep(dir.path(), &["dir", ".", "--format", "jsonl"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.jsonl().is_empty());
    // A scan of another root does not pick this one's baseline.
    let other = keysweep(dir.path(), &["dir", "app", "--format", "jsonl"]);
    assert_eq!(other.jsonl().len(), 1, "{}", other.all());
}

#[test]
fn the_revocation_journal_is_never_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let key = Fakes::new(42).sk_live();
    // A journal holding what would match (here a raw key, the worst case of a hand-edited or
    // foreign journal): keysweep's own record, not the user's data.
    write(
        dir.path(),
        ".keysweep/revocations.jsonl",
        format!("{{\"k\":\"{key}\"}}\n"),
    );
    write(dir.path(), "custom/journal.jsonl", format!("{key}\n"));
    let run = keysweep(dir.path(), &["dir", ".", "--format", "jsonl"]);
    let paths: Vec<_> = run.jsonl().iter().map(|f| f["path"].clone()).collect();
    assert_eq!(paths, ["custom/journal.jsonl"], "{}", run.all());
    // A journal named in the configuration is skipped too.
    write(
        dir.path(),
        "keysweep.toml",
        "[revoke]\njournal = 'custom/journal.jsonl'\n",
    );
    let run = keysweep(dir.path(), &["dir", ".", "--format", "jsonl"]);
    let paths: Vec<_> = run.jsonl().iter().map(|f| f["path"].clone()).collect();
    assert_eq!(paths, [".keysweep/revocations.jsonl"], "{}", run.all());
}

#[test]
fn gitleaks_rules_load_with_a_report_of_what_was_not_carried_over() {
    let dir = tempfile::tempdir().unwrap();
    let rules = repo_path("fixtures/gitleaks/team.gitleaks.toml");
    let token = format!("adt_{}", "k3x9q2m7w4r8t1y6u5i0p3a2");
    write(
        dir.path(),
        "deploy.cfg",
        format!("ACME_DEPLOY = \"{token}\"\n"),
    );
    write(dir.path(), "app/.env", "acme-ask_Zx81Qw72Er63Ty54Ui45\n");
    let run = keysweep_cmd(dir.path())
        .args([
            "dir",
            ".",
            "--format",
            "jsonl",
            "--no-builtin-rules",
            "--rules",
        ])
        .arg(&rules)
        .run();
    assert_eq!(run.code, 1, "{}", run.all());
    let found: Vec<_> = run
        .jsonl()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["redacted"].clone(),
            )
        })
        .collect();
    // The secret group is what is reported (and hashed), not the whole match.
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, "acme-session");
    assert_eq!(found[0].1, "ask_Zx81…(24)");
    assert_eq!(found[1].0, "acme-deploy-token");
    assert!(!run.all().contains(&token));
    for expected in [
        "[extend] is ignored",
        "global allowlist: `paths` is ignored",
        "rule \"acme-deploy-token\": `tags` is ignored",
        "rule \"acme-session\": `path` is ignored: the rule applies to every file",
        "rule \"acme-session\" allowlist: regexes with regexTarget \"line\" are ignored",
        "rule \"acme-path-only\" skipped: no `regex`",
        "rule \"acme-no-keyword\" skipped: no `keywords`",
        "2 imported rules without examples, loaded untested",
    ] {
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
    }
}

#[test]
fn rules_convert_writes_keysweep_rules_that_load_alike() {
    let dir = tempfile::tempdir().unwrap();
    let rules = repo_path("fixtures/gitleaks/team.gitleaks.toml");
    let run = keysweep_cmd(dir.path())
        .args(["rules", "convert"])
        .arg(&rules)
        .args(["-o", "converted.toml"])
        .run();
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("2 rules written to converted.toml"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("`path` is ignored"), "{}", run.stderr);
    let text = std::fs::read_to_string(dir.path().join("converted.toml")).unwrap();
    assert!(
        text.contains("[[rule]]\nid = \"acme-deploy-token\""),
        "{text}"
    );
    assert!(text.contains("(?P<secret>adt_"), "{text}");
    assert!(text.contains("min_entropy = 3.0"), "{text}");
    assert!(text.contains("stopwords = [\"example\"]"), "{text}");
    // The converted file is a keysweep rule file: it loads as one.
    let list = keysweep(
        dir.path(),
        &[
            "rules",
            "list",
            "--no-builtin-rules",
            "--rules",
            "converted.toml",
        ],
    );
    assert_eq!(list.code, 0, "{}", list.all());
    assert!(list.stdout.contains("acme-session"), "{}", list.stdout);
    // A file that is not gitleaks-style is refused with the reason.
    write(dir.path(), "plain.toml", "[[rule]]\n");
    let run = keysweep(dir.path(), &["rules", "convert", "plain.toml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("plain.toml has no [[rules]] table: not a gitleaks-style"),
        "{}",
        run.stderr
    );
}
