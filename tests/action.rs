//! `action.yml` and the shipped workflows are well-formed: every input referenced exists,
//! outputs point at real steps, scripts exist and parse, examples pass only declared inputs.

use std::collections::BTreeSet;

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
