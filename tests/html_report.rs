//! The HTML report (`--format html`) as a reader sees it: rendered by headless Chromium
//! (Debian's `chromium`), with the page's own script run, and the resulting DOM checked: the
//! rows the script built, the chart labels, sorting and filtering from the address's
//! fragment, revocation outcomes, and hostile names shown as text.
//!
//! Without Chromium the test skips with a printed reason, unless `KEYSWEEP_REQUIRE_CHROMIUM=1`
//! (set by `.ci/run`), where a missing browser fails it: CI must never pass it unrendered.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::harness::fakes::Fakes;
use crate::harness::git::{git, git_dated, git_init};
use crate::harness::report::jsonl;
use crate::harness::{command, keysweep_cmd, write};
use crate::support::key_service::KeyKind;
use crate::support::{revoke_config, start_key_service, REVOKE_TOKEN, REVOKE_TOKEN_ENV};

/// The browser, or `None` (with the reason printed) when the test may skip.
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        });
    if found.is_none() {
        assert!(
            std::env::var("KEYSWEEP_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "KEYSWEEP_REQUIRE_CHROMIUM=1 but no chromium on PATH: install Debian's `chromium`"
        );
        println!("skipped: no chromium on PATH (apt-get install chromium) to render the report");
    }
    found
}

/// The DOM of `page` (with `fragment` after `#`) once its scripts ran, as Chromium serialises it.
fn rendered(browser: &Path, page: &Path, fragment: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}#{fragment}", page.display());
    let run = command("timeout", page.parent().unwrap())
        .arg("120")
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", &url])
        // Chromium also writes crash-report and dconf state under $HOME: keep the harness's
        // shared HOME empty (the harness test checks it).
        .env("HOME", profile.path())
        .run();
    assert_eq!(run.code, 0, "chromium failed: {}", run.stderr);
    assert!(
        run.stdout.contains("</html>"),
        "no DOM from chromium: {}",
        run.stderr
    );
    run.stdout
}

/// The table rows the page's script built: each row's cells' text, tags stripped.
fn rows(dom: &str) -> Vec<Vec<String>> {
    let body = &dom[dom.find("<tbody>").expect("a table body")..];
    let body = &body[..body.find("</tbody>").unwrap()];
    body.split("<tr class=\"finding\"")
        .skip(1)
        .map(|tr| tr.split("<td").skip(1).map(text).collect())
        .collect()
}

/// The text of a cell's markup (`class="x">a<b>c</b></td>` → `ac`).
fn text(cell: &str) -> String {
    let inner = &cell[cell.find('>').unwrap() + 1..];
    let inner = &inner[..inner.find("</td>").unwrap_or(inner.len())];
    let mut out = String::new();
    let mut in_tag = false;
    for c in inner.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn zip_of(name: &str, content: &str) -> Vec<u8> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    w.start_file(name, zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(content.as_bytes()).unwrap();
    w.finish().unwrap();
    out.into_inner()
}

const HOSTILE: &str = "x<img src=x onerror=alert(1)>.env";

#[test]
fn the_report_renders_its_rows_charts_sorting_filtering_and_revocations_in_chromium() {
    let Some(browser) = chromium() else { return };
    let service = start_key_service();
    let live = service.issue(KeyKind::SecretLive);
    let mut fakes = Fakes::new(15);
    let (msk, ghp, zipped) = (fakes.msk(), fakes.ghp(), fakes.msk());
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    git_init(dir);
    write(dir, "keysweep.toml", revoke_config(&service, ""));
    write(dir, "deploy/old.env", format!("GITHUB_TOKEN={ghp}\n"));
    git_dated(dir, &["add", "-A"], "2015-03-04T05:06:07Z");
    git_dated(dir, &["commit", "-q", "-m", "old"], "2015-03-04T05:06:07Z");
    write(dir, "app/.env", format!("STRIPE={}\n", live.key));
    write(dir, HOSTILE, format!("k = {msk}\n"));
    write(
        dir,
        "bundle.zip",
        zip_of("config/.env", &format!("K={zipped}\n")),
    );
    git(dir, &["add", "-A"]);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    git_dated(
        dir,
        &["commit", "-q", "-m", "new"],
        &format!("@{now} +0000"),
    );

    let listed = keysweep_cmd(dir)
        .args(["git", ".", "--format", "jsonl"])
        .run();
    let findings = jsonl(&listed.stdout);
    assert_eq!(findings.len(), 4, "{}", listed.all());
    let run = keysweep_cmd(dir)
        .args([
            "git",
            ".",
            "-c",
            "keysweep.toml",
            "--revoke",
            "--format",
            "html",
        ])
        .args(["-o", "report.html"])
        .env(REVOKE_TOKEN_ENV, REVOKE_TOKEN)
        .run();
    assert_eq!(run.code, 1, "{}", run.all());
    // A history's blobs are not files (issue 15 item 12), in the log and in the page.
    assert!(
        run.stderr.contains(" blobs") && !run.stderr.contains(" files"),
        "{}",
        run.stderr
    );
    let page = dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    for key in [&live.key, &msk, &ghp, &zipped] {
        assert!(!html.contains(key.as_str()) && !run.all().contains(key.as_str()));
    }

    let dom = rendered(&browser, &page, "");
    assert_first_view(&dom, &findings);
    let by_place = rows(&rendered(&browser, &page, "sort=loc&dir=asc"));
    let places: Vec<&str> = by_place.iter().map(|r| r[2].as_str()).collect();
    assert!(places[0].starts_with("app/.env:1:8"), "{places:?}");
    assert!(
        places[1].starts_with("bundle.zip!config/.env:1:3"),
        "{places:?}"
    );
    assert_eq!(by_place[1][7], "archive member config/.env");
    assert!(places[2].starts_with("deploy/old.env:1:14"), "{places:?}");
    assert!(
        places[3].starts_with(&format!("{HOSTILE}:1:5")),
        "{places:?}"
    );
    let filtered = rendered(&browser, &page, "q=DEPLOY/");
    assert!(filtered.contains("Showing 1 of 4 findings"), "{filtered}");
    assert_eq!(rows(&filtered).len(), 1);
    assert!(rows(&filtered)[0][2].starts_with("deploy/old.env"));
}

/// The default view: every finding a row, highest severity first, each with its hash,
/// revocation outcome, commit age; the charts labelled; the hostile name text, not markup.
fn assert_first_view(dom: &str, findings: &[Value]) {
    let rows = rows(dom);
    assert_eq!(rows.len(), findings.len(), "{dom}");
    assert!(dom.contains("Showing 4 of 4 findings"));
    assert!(
        dom.contains(r#"data-col="sev" aria-sort="descending""#),
        "{dom}"
    );
    for f in findings {
        let sha = f["secret_sha256"].as_str().unwrap();
        let row = rows
            .iter()
            .find(|r| r[6].starts_with(&sha[..16]))
            .unwrap_or_else(|| panic!("no row for {f}"));
        assert_eq!(row[1], f["rule"].as_str().unwrap());
        assert_eq!(row[5], f["redacted"].as_str().unwrap());
        assert!(dom.contains(&format!(">{}</text>", f["rule"].as_str().unwrap())));
    }
    let live = rows.iter().find(|r| r[2].starts_with("app/.env")).unwrap();
    assert_eq!(live[8], "revoked", "{live:?}");
    assert!(live[4].contains("(under a week)"), "{live:?}");
    let old = rows.iter().find(|r| r[2].starts_with("deploy/")).unwrap();
    assert!(old[4].contains("2015-03-04 (over 2 years)"), "{old:?}");
    assert!(dom.contains("id=\"revocation\""));
    assert!(dom.contains("<dt>Scanned</dt><dd>"), "{dom}");
    assert!(
        !dom.contains(" files</dd>"),
        "a history's blobs named files"
    );
    for label in [
        "By rule",
        "By severity",
        "By repository",
        ">over 2 years</text>",
    ] {
        assert!(dom.contains(label), "{label} missing");
    }
    assert!(!dom.contains("<img"), "a file name became markup");
    assert!(dom.contains("x&lt;img src=x onerror=alert(1)&gt;.env"));
}
