//! SARIF 2.1.0 for GitHub code scanning, through serde-sarif.
//!
//! One result per secret (fingerprint): its first occurrence is the location, the others are
//! related locations, so a key copied into fifty files is one alert, not fifty. GitHub caps a
//! run at 25,000 results and a result at 1,000 related locations; both caps are applied here
//! and what was cut is said in the run's properties rather than silently dropped.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_sarif::sarif::{
    ArtifactContent, ArtifactLocation, Location, Message, MultiformatMessageString,
    PhysicalLocation, PropertyBag, Region, ReportingConfiguration, ReportingDescriptor,
    Result as SarifResult, ResultLevel, Run, Sarif, Tool, ToolComponent,
};

use crate::finding::{uri_path, Finding};
use crate::rules::{RuleSet, Severity};

pub const MAX_RESULTS: usize = 25_000;
pub const MAX_RELATED: usize = 1_000;
const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub fn write(findings: &[Finding], rules: &RuleSet, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &build(findings, rules))?;
    writeln!(out)
}

pub fn build(findings: &[Finding], rules: &RuleSet) -> Sarif {
    let groups = group_by_secret(findings);
    let mut descriptors: Vec<ReportingDescriptor> = Vec::new();
    let mut rule_index: BTreeMap<&str, i64> = BTreeMap::new();
    let mut results = Vec::new();
    for group in groups.iter().take(MAX_RESULTS) {
        let first = group[0];
        let index = *rule_index.entry(&first.rule).or_insert_with(|| {
            descriptors.push(descriptor(first, rules));
            descriptors.len() as i64 - 1
        });
        results.push(result(group, index));
    }
    let mut run_props = BTreeMap::new();
    if groups.len() > MAX_RESULTS {
        run_props.insert(
            "truncated_results".into(),
            ((groups.len() - MAX_RESULTS) as u64).into(),
        );
    }
    let driver = ToolComponent::builder()
        .name("keysweep")
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .information_uri("https://github.com/keysweep/keysweep")
        .rules(descriptors)
        .build();
    let mut run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .build();
    run.properties = (!run_props.is_empty()).then(|| PropertyBag {
        additional_properties: run_props,
        ..Default::default()
    });
    Sarif::builder()
        .schema(SCHEMA)
        .version(serde_json::Value::from("2.1.0"))
        .runs(vec![run])
        .build()
}

/// Occurrences grouped by fingerprint (one SARIF result per secret), in first-seen order:
/// findings arrive sorted.
fn group_by_secret(findings: &[Finding]) -> Vec<Vec<&Finding>> {
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut groups: Vec<Vec<&Finding>> = Vec::new();
    for f in findings {
        let i = *index.entry(&f.fingerprint).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[i].push(f);
    }
    groups
}

/// One secret's result: its first occurrence as the location, the others as related
/// locations (capped), hash and redacted form as properties.
fn result(group: &[&Finding], rule_index: i64) -> SarifResult {
    let first = group[0];
    let related: Vec<Location> = group[1..]
        .iter()
        .take(MAX_RELATED)
        .enumerate()
        .map(|(i, f)| Location {
            id: Some(i as i64 + 1),
            message: Some(text_message(match &f.origin.member {
                Some(m) => format!("Same secret ({}) in archive member {m}", f.redacted),
                None => format!("Same secret ({})", f.redacted),
            })),
            ..location(f)
        })
        .collect();
    let mut message = format!(
        "{} found: {} (sha256 {})",
        first.description, first.redacted, first.secret_sha256
    );
    // The URI names the archive (what code scanning can open); the message names the member.
    if let Some(member) = &first.origin.member {
        message.push_str(&format!(" in archive member {member}"));
    }
    if let Some(encoding) = &first.origin.encoding {
        message.push_str(&format!(" ({encoding}-encoded)"));
    }
    if group.len() > 1 {
        message.push_str(&format!("; {} more occurrence(s)", group.len() - 1));
    }
    let mut result = SarifResult::builder()
        .rule_id(first.rule.clone())
        .rule_index(rule_index)
        .level(level(first.severity))
        .message(text_message(message))
        .locations(vec![location(first)])
        .partial_fingerprints(BTreeMap::from([(
            "keysweep/fingerprint/v1".to_string(),
            first.fingerprint.clone(),
        )]))
        .properties(PropertyBag {
            additional_properties: properties(first, group.len()),
            ..Default::default()
        })
        .build();
    result.related_locations = (!related.is_empty()).then_some(related);
    result
}

fn properties(first: &Finding, occurrences: usize) -> BTreeMap<String, serde_json::Value> {
    let mut props = BTreeMap::new();
    props.insert("secret_sha256".into(), first.secret_sha256.clone().into());
    props.insert("redacted".into(), first.redacted.clone().into());
    props.insert("occurrences".into(), (occurrences as u64).into());
    if let Some(id) = &first.key_id {
        props.insert("key_id".into(), id.clone().into());
    }
    if let Some(url) = &first.origin.url {
        props.insert("url".into(), url.clone().into());
    }
    if let Some(member) = &first.origin.member {
        props.insert("member".into(), member.clone().into());
    }
    if let Some(encoding) = &first.origin.encoding {
        props.insert("encoding".into(), encoding.clone().into());
    }
    if let Some(r) = &first.revocation {
        props.insert("revocation".into(), r.clone().into());
    }
    props
}

fn descriptor(f: &Finding, rules: &RuleSet) -> ReportingDescriptor {
    let rule = rules.find(&f.rule);
    let refs = rule.map(|r| r.spec.references.clone()).unwrap_or_default();
    let revocable = rule.is_some_and(|r| r.spec.revocable);
    let mut help = format!(
        "{} was found in the scanned content. Treat it as compromised: revoke or rotate it at \
         the issuer{}, then remove it from the code and its history. Accept a false positive \
         with `keysweep:allow` on the line, or add its fingerprint to a baseline.",
        f.description,
        if revocable {
            " (keysweep can do this by hash with --revoke)"
        } else {
            ""
        }
    );
    for r in &refs {
        help.push_str(&format!("\nReference: {r}"));
    }
    let mut props = BTreeMap::new();
    props.insert(
        "security-severity".to_string(),
        match f.severity {
            Severity::High => "8.0",
            Severity::Medium => "5.0",
            Severity::Low => "2.0",
        }
        .into(),
    );
    let mut d = ReportingDescriptor::builder()
        .id(f.rule.clone())
        .name(f.rule.replace(['.', '-'], "_"))
        .short_description(plain(&f.description))
        .full_description(plain(&f.description))
        .help(plain(&help))
        .default_configuration(ReportingConfiguration {
            level: Some(serde_json::to_value(level(f.severity)).unwrap_or_default()),
            ..Default::default()
        })
        .properties(PropertyBag {
            tags: Some(vec!["security".into(), "secret".into()]),
            additional_properties: props,
        })
        .build();
    d.help_uri = refs.first().cloned();
    d
}

fn location(f: &Finding) -> Location {
    Location {
        physical_location: Some(PhysicalLocation {
            artifact_location: Some(ArtifactLocation {
                uri: Some(uri(f)),
                ..Default::default()
            }),
            region: Some(Region {
                start_line: Some(f.line as i64),
                start_column: Some(f.column as i64),
                snippet: (!f.snippet.is_empty()).then(|| ArtifactContent {
                    text: Some(f.snippet.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Relative URIs, as GitHub code scanning resolves them against the repository root.
/// Findings from other GitHub repositories (an org sweep, events: they carry `repo` and an
/// html `url`) are named `OWNER/NAME/path`, so the same path in two repositories stays two
/// places.
fn uri(f: &Finding) -> String {
    if let (Some(repo), Some(_)) = (&f.origin.repo, &f.origin.url) {
        let path = f.origin.path.as_deref().unwrap_or(&f.origin.source);
        return uri_path(&format!("{repo}/{path}"));
    }
    let path = f.origin.path.as_deref().unwrap_or(&f.origin.source);
    let path = path.strip_prefix("./").unwrap_or(path);
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| {
            std::path::Path::new(path)
                .strip_prefix(cwd)
                .ok()
                .map(|p| p.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| path.to_string());
    if relative.starts_with('/') {
        format!("file://{}", uri_path(&relative))
    } else {
        uri_path(&relative)
    }
}

fn level(s: Severity) -> ResultLevel {
    match s {
        Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low => ResultLevel::Note,
    }
}

fn plain(text: &str) -> MultiformatMessageString {
    MultiformatMessageString::builder().text(text).build()
}

fn text_message(text: String) -> Message {
    Message {
        text: Some(text),
        ..Default::default()
    }
}
