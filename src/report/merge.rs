//! `keysweep report merge`: one report from many (the shards of a sweep), de-duplicated by
//! fingerprint.
//!
//! keysweep JSON/JSONL inputs are read back into findings, so the merged result can be written
//! in any format; SARIF inputs are merged as SARIF (a SARIF result has lost what a finding
//! needs), one result per fingerprint with every other place as a related location, exactly
//! like a single run's SARIF.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use anyhow::Context;
use serde_json::{json, Value};

use super::json::{read_findings, Document};
use super::sarif::{MAX_RELATED, MAX_RESULTS};
use crate::finding::Finding;
use crate::report::Summary;
use crate::scan::sort_findings;

const FINGERPRINT_KEY: &str = "keysweep/fingerprint/v1";

/// What the inputs held.
pub enum Merged {
    Findings {
        findings: Vec<Finding>,
        /// Some input (a JSON document) said its scan was incomplete.
        incomplete: bool,
    },
    Sarif {
        sarif: Value,
        results: usize,
    },
}

pub fn merge_files(inputs: &[PathBuf]) -> anyhow::Result<Merged> {
    let mut texts = Vec::with_capacity(inputs.len());
    for path in inputs {
        let text = crate::control::read_to_string(path, crate::control::REPORT_FILE_MAX)
            .with_context(|| format!("cannot read report {}", path.display()))?;
        texts.push((path.as_path(), text));
    }
    let sarif: Vec<bool> = texts.iter().map(|(_, t)| is_sarif(t)).collect();
    if sarif.iter().all(|&s| s) {
        let docs = texts
            .iter()
            .map(|(p, t)| {
                serde_json::from_str(t).with_context(|| format!("{} is not JSON", p.display()))
            })
            .collect::<anyhow::Result<Vec<Value>>>()?;
        let (sarif, results) = merge_sarif(&docs)?;
        return Ok(Merged::Sarif { sarif, results });
    }
    if let Some(i) = sarif.iter().position(|&s| s) {
        anyhow::bail!(
            "{} is SARIF but other inputs are not: merge SARIF with SARIF, or the JSONL outputs \
             with each other",
            inputs[i].display()
        );
    }
    let mut findings = Vec::new();
    let mut incomplete = false;
    for (path, text) in &texts {
        incomplete |= document_incomplete(text);
        findings.extend(
            read_findings(text)
                .with_context(|| format!("cannot read findings from {}", path.display()))?,
        );
    }
    sort_findings(&mut findings);
    Ok(Merged::Findings {
        findings,
        incomplete,
    })
}

fn is_sarif(text: &str) -> bool {
    let head = text.trim_start();
    head.starts_with('{')
        && serde_json::from_str::<Value>(head)
            .ok()
            .is_some_and(|v| v.get("runs").is_some_and(Value::is_array))
}

fn document_incomplete(text: &str) -> bool {
    serde_json::from_str::<Document>(text.trim_start())
        .map(|d| d.summary.incomplete)
        .unwrap_or(false)
}

/// The summary a merged findings report closes with: only what the inputs can tell.
pub fn summary(findings: &[Finding], rules: usize, incomplete: bool) -> Summary {
    Summary {
        findings: findings.len() as u64,
        rules: rules as u64,
        incomplete,
        ..Default::default()
    }
}

/// SARIF runs merged so far: the first driver, rule descriptors once by id, results once by
/// keysweep fingerprint.
#[derive(Default)]
struct SarifMerge {
    driver: Option<Value>,
    rules: Vec<Value>,
    rule_ids: HashSet<String>,
    results: Vec<Value>,
    by_fingerprint: HashMap<String, usize>,
    truncated: u64,
}

impl SarifMerge {
    fn add_run(&mut self, run: &Value) {
        let run_driver = run.pointer("/tool/driver").cloned().unwrap_or(json!({}));
        for rule in array(&run_driver, "rules") {
            if let Some(id) = rule.get("id").and_then(Value::as_str) {
                if self.rule_ids.insert(id.to_string()) {
                    self.rules.push(rule.clone());
                }
            }
        }
        self.driver.get_or_insert(run_driver);
        self.truncated += run
            .pointer("/properties/truncated_results")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        for result in array(run, "results") {
            let key = result
                .pointer(&format!(
                    "/partialFingerprints/{}",
                    FINGERPRINT_KEY.replace('/', "~1")
                ))
                .and_then(Value::as_str)
                .map(str::to_string)
                // Not from keysweep: only an identical result is a duplicate.
                .unwrap_or_else(|| result.to_string());
            match self.by_fingerprint.get(&key) {
                Some(&i) => absorb(&mut self.results[i], result),
                None => {
                    self.by_fingerprint.insert(key, self.results.len());
                    self.results.push(result.clone());
                }
            }
        }
    }
}

/// The array under `key`, or nothing.
fn array<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Merges SARIF logs: rule descriptors by id, results by keysweep fingerprint. Returns the log
/// and its number of results.
pub fn merge_sarif(docs: &[Value]) -> anyhow::Result<(Value, usize)> {
    let mut acc = SarifMerge::default();
    for doc in docs {
        let runs = doc
            .get("runs")
            .and_then(Value::as_array)
            .context("SARIF log without runs")?;
        for run in runs {
            acc.add_run(run);
        }
    }
    let SarifMerge {
        driver,
        rules,
        mut results,
        mut truncated,
        ..
    } = acc;
    if results.len() > MAX_RESULTS {
        truncated += (results.len() - MAX_RESULTS) as u64;
        results.truncate(MAX_RESULTS);
    }
    for r in &mut results {
        let index = r
            .get("ruleId")
            .and_then(Value::as_str)
            .and_then(|id| rules.iter().position(|d| d["id"] == id));
        if let (Some(obj), Some(i)) = (r.as_object_mut(), index) {
            obj.insert("ruleIndex".into(), json!(i));
        }
    }
    let mut driver = driver.unwrap_or_else(|| json!({"name": "keysweep"}));
    driver["rules"] = Value::Array(rules);
    let count = results.len();
    let mut run = json!({"tool": {"driver": driver}, "results": results});
    if truncated > 0 {
        run["properties"] = json!({"truncated_results": truncated});
    }
    let schema = docs
        .first()
        .and_then(|d| d.get("$schema").cloned())
        .unwrap_or(json!("https://json.schemastore.org/sarif-2.1.0.json"));
    Ok((
        json!({"$schema": schema, "version": "2.1.0", "runs": [run]}),
        count,
    ))
}

/// Adds `other`'s places to `into` as related locations (each place once, GitHub's cap
/// applied) and adds up the occurrence counts.
fn absorb(into: &mut Value, other: &Value) {
    let place = |l: &Value| l.get("physicalLocation").map(Value::to_string);
    let mut seen: HashSet<String> = into
        .get("locations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(
            into.get("relatedLocations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        )
        .filter_map(place)
        .collect();
    let mut related: Vec<Value> = into
        .get("relatedLocations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let incoming = other
        .get("locations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(
            other
                .get("relatedLocations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
    for loc in incoming {
        if related.len() >= MAX_RELATED {
            break;
        }
        if place(loc).is_some_and(|p| seen.insert(p)) {
            let mut loc = loc.clone();
            if let Some(obj) = loc.as_object_mut() {
                obj.insert("id".into(), json!(related.len() + 1));
                obj.entry("message")
                    .or_insert_with(|| json!({"text": "Same secret"}));
            }
            related.push(loc);
        }
    }
    let occurrences = |v: &Value| v.pointer("/properties/occurrences").and_then(Value::as_u64);
    if let (Some(a), Some(b)) = (occurrences(into), occurrences(other)) {
        into["properties"]["occurrences"] = json!(a + b);
    }
    if let Some(obj) = into.as_object_mut() {
        obj.insert("relatedLocations".into(), Value::Array(related));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(fp: &str, uri: &str, occurrences: u64) -> Value {
        json!({
            "ruleId": "r.one",
            "ruleIndex": 0,
            "message": {"text": "x"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}],
            "partialFingerprints": {FINGERPRINT_KEY: fp},
            "properties": {"occurrences": occurrences}
        })
    }

    fn log(rules: &[&str], results: Vec<Value>) -> Value {
        let rules: Vec<Value> = rules.iter().map(|id| json!({"id": id})).collect();
        json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "keysweep", "rules": rules}}, "results": results}]})
    }

    #[test]
    fn sarif_results_merge_by_fingerprint_with_every_place_once() {
        let a = log(&["r.one"], vec![result("f1", "a/x.py", 1)]);
        let mut two = result("f2", "b/y.py", 1);
        two["ruleId"] = json!("r.two");
        let b = log(
            &["r.two", "r.one"],
            vec![two, result("f1", "b/z.py", 2), result("f1", "a/x.py", 1)],
        );
        let (merged, n) = merge_sarif(&[a, b]).unwrap();
        assert_eq!(n, 2);
        let results = merged["runs"][0]["results"].as_array().unwrap();
        let f1 = &results[0];
        assert_eq!(f1["properties"]["occurrences"], 4);
        let related = f1["relatedLocations"].as_array().unwrap();
        // b/z.py once; a/x.py is already the primary location.
        assert_eq!(related.len(), 1, "{related:?}");
        assert_eq!(
            related[0]["physicalLocation"]["artifactLocation"]["uri"],
            "b/z.py"
        );
        // Rule indexes point into the merged rule list.
        let rules = merged["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap();
        for r in results {
            let i = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[i]["id"], r["ruleId"]);
        }
    }
}
