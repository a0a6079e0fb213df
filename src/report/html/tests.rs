use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::finding::Origin;

pub(super) fn finding(rule: &str) -> Finding {
    Finding {
        rule: rule.to_string(),
        description: "A test key".into(),
        severity: Severity::High,
        secret_sha256: "ab".repeat(32),
        fingerprint: "f".into(),
        redacted: "sk_live_Ab…(43)".into(),
        secret: None,
        key_prefix: None,
        key_id: None,
        revocable: true,
        line: 3,
        column: 7,
        snippet: "KEY=sk_live_Ab…(43)".into(),
        origin: Origin::with_path("dir", "app/.env"),
        revocation: None,
    }
}

fn page(findings: &[Finding], summary: &Summary) -> String {
    let mut out = Vec::new();
    // 2024-06-01.
    let now = UNIX_EPOCH + Duration::from_secs(19_875 * 86_400);
    write_at(findings, summary, &mut out, now).unwrap();
    String::from_utf8(out).unwrap()
}

/// The JSON the page's script reads.
fn data(page: &str) -> serde_json::Value {
    let start = page.find("id=\"ks-data\">").unwrap() + "id=\"ks-data\">".len();
    let end = start + page[start..].find("</script>").unwrap();
    serde_json::from_str(&page[start..end]).unwrap()
}

#[test]
fn hostile_names_are_text_everywhere_in_the_page() {
    let mut f = finding("evil.<b>rule</b>");
    f.origin.path = Some("x/</script><img src=x onerror=alert(1)>\u{202e}.env".into());
    f.origin.repo = Some("acme/<svg onload=alert(2)>".into());
    f.origin.url = Some("javascript:alert(3)".into());
    f.origin.date = Some("2024-05-30T10:00:00+02:00".into());
    f.origin.commit = Some("c".repeat(40));
    let summary = Summary {
        findings: 1,
        ..Summary::default()
    };
    let page = page(&[f], &summary);
    // The only script and markup are the page's own.
    assert_eq!(page.matches("<script").count(), 2, "{page}");
    assert!(!page.contains("<img") && !page.contains("<svg onload") && !page.contains("<b>"));
    assert!(
        page.contains("evil.&lt;b&gt;rule&lt;/b&gt;"),
        "chart labels are escaped"
    );
    assert!(page.contains("acme/&lt;svg onload=alert(2)&gt;"));
    assert!(!page.contains("javascript:"), "only web links become links");
    let row = &data(&page)["rows"][0];
    assert_eq!(
        row["path"],
        "x/</script><img src=x onerror=alert(1)>\\u{202e}.env"
    );
    assert_eq!(row["url"], serde_json::Value::Null);
    assert_eq!(row["age"], "under a week");
}

#[test]
fn the_page_is_self_contained() {
    let page = page(
        &[finding("a.key")],
        &Summary {
            findings: 1,
            ..Summary::default()
        },
    );
    for external in ["src=", "<link", "@import", "url(", "//fonts.", "cdn"] {
        assert!(!page.contains(external), "{external} in the page");
    }
    assert!(
        page.contains("default-src 'none'"),
        "the page forbids loading anything"
    );
    assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
}

#[test]
fn charts_count_every_finding_and_the_table_is_bounded() {
    let mut findings: Vec<Finding> = (0..TABLE_ROWS_MAX + 5).map(|_| finding("a.key")).collect();
    findings[TABLE_ROWS_MAX + 4].severity = Severity::Low;
    findings[TABLE_ROWS_MAX + 4].rule = "z.low".into();
    let total = findings.len() as u64;
    let page = page(
        &findings,
        &Summary {
            findings: total,
            ..Summary::default()
        },
    );
    let data = data(&page);
    assert_eq!(data["rows"].as_array().unwrap().len(), TABLE_ROWS_MAX);
    assert_eq!(data["total"], total);
    assert!(page.contains("id=\"truncated\""));
    // The low finding is past the cut (highest severity first) but still counted.
    assert!(page.contains(&format!("<title>a.key: {}</title>", TABLE_ROWS_MAX + 4)));
    assert!(page.contains("<title>z.low: 1</title>"));
    assert!(page.contains("<title>low: 1</title>"));
}

#[test]
fn revocation_outcomes_and_the_tally_are_shown() {
    let mut f = finding("a.key");
    f.revocation = Some("revoked".into());
    let summary = Summary {
        findings: 1,
        revocation: Some(crate::revoke::Tally {
            keys: 1,
            revoked: 1,
            ..Default::default()
        }),
        ..Summary::default()
    };
    let page = page(&[f], &summary);
    assert!(page.contains("id=\"revocation\""));
    let data = data(&page);
    assert_eq!(data["revocation"], true);
    assert_eq!(data["rows"][0]["rev"], "revoked");
}

#[test]
fn values_are_redacted_unless_secrets_were_asked_for() {
    let mut f = finding("a.key");
    let page_redacted = page(std::slice::from_ref(&f), &Summary::default());
    assert_eq!(data(&page_redacted)["rows"][0]["value"], "sk_live_Ab…(43)");
    f.secret = Some("sk_live_AbCdEf".into());
    let page_shown = page(&[f], &Summary::default());
    assert_eq!(data(&page_shown)["rows"][0]["value"], "sk_live_AbCdEf");
}

#[test]
fn rows_carry_the_link_archive_member_and_encoding() {
    let mut f = finding("a.key");
    f.origin.path = Some("dist/app.zip".into());
    f.origin.member = Some("inner.tar!config/.env".into());
    f.origin.encoding = Some("base64".into());
    f.origin.url = Some("https://github.com/acme/app/blob/0123abc/dist/app.zip#L3".into());
    let data = data(&page(&[f], &Summary::default()));
    let row = &data["rows"][0];
    assert_eq!(row["member"], "inner.tar!config/.env");
    assert_eq!(row["enc"], "base64");
    assert_eq!(
        row["url"],
        "https://github.com/acme/app/blob/0123abc/dist/app.zip#L3"
    );
    assert_eq!(
        (row["line"].as_u64(), row["col"].as_u64()),
        (Some(3), Some(7))
    );
}
