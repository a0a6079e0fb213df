//! The rule pack's evaluation harness (issue 13): for every built-in rule, fresh format-valid
//! fakes derived from its own examples are planted in many file contexts, beside decoys of each
//! negative class; one `keysweep dir` run over the whole tree must find every fake (recall 1.0)
//! and no decoy (0 false positives) per rule. `scripts/eval-rules` runs it and prints the table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use keysweep::matcher::{Matcher, Scratch};
use keysweep::rules::{Checksum, Rule, RuleSet};

use crate::harness::fakes::Fakes;
use crate::harness::report::sha;
use crate::harness::{keysweep, write};

/// Filler that looks like code and holds no keyword of any rule.
const FILLER: &str = "let total = items.iter().map(|i| i.count).sum::<usize>(); ";

/// A planted case: the file's text and, for a positive, the secret it must yield.
struct Case {
    name: String,
    text: String,
    secret: Option<String>,
}

/// Finds what `rule` (index `r`) reports in `hay`, through the library's matcher.
struct Probe {
    set: RuleSet,
    matcher: Matcher,
    scratch: Scratch,
}

impl Probe {
    fn secrets(&mut self, r: usize, hay: &str) -> Vec<String> {
        let mut found = Vec::new();
        self.matcher
            .find(&self.set, hay.as_bytes(), &mut self.scratch, &mut found);
        found
            .iter()
            .filter(|m| m.rule == r)
            .map(|m| String::from_utf8_lossy(&hay.as_bytes()[m.secret.clone()]).into_owned())
            .collect()
    }
}

/// A fresh fake of `secret`: every character after the rule's literal prefix is redrawn from
/// its own class (digit, hex letter, letter of the same case), so the length and alphabet stay
/// those of the documented example. Formats with inner structure or a checksum reject most
/// redraws; after a few tries the example's own secret is used.
fn fresh(rng: &mut Fakes, probe: &mut Probe, r: usize, example: &str, secret: &str) -> String {
    let rule: &Rule = probe.set.get(r);
    let keep = rule.prefix_of(secret.as_bytes()).map_or(0, |p| p.len());
    let hex = secret[keep..]
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b.to_ascii_lowercase()));
    for _ in 0..8 {
        let body: String = secret[keep..]
            .chars()
            .map(|c| redraw(rng, c, hex))
            .collect();
        let candidate = format!("{}{body}", &secret[..keep]);
        if probe.secrets(r, &example.replacen(secret, &candidate, 1)) == [candidate.clone()] {
            return candidate;
        }
    }
    secret.to_string()
}

fn redraw(rng: &mut Fakes, c: char, hex: bool) -> char {
    let pick = |rng: &mut Fakes, set: &[u8]| rng.body(1, set).chars().next().unwrap();
    match c {
        '0'..='9' => pick(rng, b"0123456789"),
        'a'..='f' if hex => pick(rng, b"abcdef"),
        'A'..='F' if hex => pick(rng, b"ABCDEF"),
        'a'..='z' => pick(rng, b"abcdefghijklmnopqrstuvwxyz"),
        'A'..='Z' => pick(rng, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        _ => c,
    }
}

/// File contexts for a secret that stands alone (a prefixed format).
fn bare_contexts(s: &str) -> Vec<(&'static str, String)> {
    let long = FILLER.repeat(80);
    vec![
        ("source", format!("const API_KEY = \"{s}\";\n")),
        ("dotenv", format!("SERVICE_TOKEN={s}\n")),
        ("yaml", format!("auth:\n  token: {s}\n")),
        ("json", format!("{{\"token\": \"{s}\", \"n\": 1}}\n")),
        (
            "url",
            format!("GET https://api.acme.test/v1/items?token={s}&page=2\n"),
        ),
        (
            "curl",
            format!("curl -H \"Authorization: Bearer {s}\" https://api.acme.test/\n"),
        ),
        ("markdown", format!("Set the token to `{s}` and run.\n")),
        ("minified", format!("var a=1,b=\"{s}\",c=[2,3];{long}\n")),
        ("crlf", format!("[auth]\r\ntoken = {s}\r\nuser = ci\r\n")),
        ("long-line", format!("{long} {s} {long}\n")),
    ]
}

/// File contexts for a secret that needs its example's context (a keyword, a URL scheme).
fn line_contexts(e: &str) -> Vec<(&'static str, String)> {
    let long = FILLER.repeat(80);
    let indented: String = e.lines().map(|l| format!("    {l}\n")).collect();
    vec![
        ("as-written", format!("{e}\n")),
        ("crlf", format!("{}\r\n", e.replace('\n', "\r\n"))),
        ("markdown", format!("# Setup\n\n```\n{e}\n```\n")),
        ("indented", indented),
        ("after-long-line", format!("{long}\n{e}\n")),
        ("between-lines", format!("# config\n{e}\n# end\n")),
    ]
}

/// Decoys of each negative class, for a secret `s` whose literal prefix is `p`.
fn decoys(p: &str, s: &str, example: &str) -> Vec<(&'static str, String)> {
    let body = &s[p.len()..];
    // Below any documented minimum: key formats carry at least 16 random characters, and
    // passwords in URIs at least 6.
    let truncated: String = body.chars().take(5.min(body.len() / 2)).collect();
    let placeholder = format!("{p}{}", "x".repeat(body.len()));
    let docs: String = format!("{p}{}EXAMPLE", &body[..body.len().saturating_sub(7)]);
    let mut out = vec![
        ("placeholder", example.replacen(s, &placeholder, 1)),
        (
            "template",
            example.replacen(s, &format!("{p}${{TOKEN}}"), 1),
        ),
        (
            "truncated",
            example.replacen(s, &format!("{p}{truncated}"), 1),
        ),
        ("docs-example", example.replacen(s, &docs, 1)),
    ];
    // A secret of several tokens (comma-joined macaroons) still holds a whole token after
    // its first one is glued to a word.
    let one_token = !s.contains(|c: char| c == ',' || c.is_ascii_whitespace());
    if one_token && p.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        out.push(("in-longer-word", format!("x = task{s}\n")));
    }
    let lower = body.to_ascii_lowercase();
    let upper = body.to_ascii_uppercase();
    if body == upper && body != lower {
        out.push((
            "wrong-alphabet",
            example.replacen(s, &format!("{p}{lower}"), 1),
        ));
    } else if body == lower && body != upper && body.bytes().all(|b| b.is_ascii_hexdigit()) {
        out.push((
            "wrong-alphabet",
            example.replacen(s, &format!("{p}{upper}"), 1),
        ));
    }
    out
}

/// `s` damaged the way its validator must notice: the last character of a CRC or Bech32
/// checksum changed (within its alphabet's class), a macaroon's last character dropped (its
/// signature is short), a JWT header's fifth character or a Sentry token's eleventh dropped
/// (the header or facts no longer decode to JSON). The regex still matches each of them.
fn corrupt(checksum: Checksum, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    match checksum {
        Checksum::GithubCrc32 | Checksum::Bech32 => {
            let last = chars.last_mut().unwrap();
            *last = match *last {
                '0' => '2',
                c if c.is_ascii_digit() => '0',
                'Q' => 'P',
                'q' => 'p',
                c if c.is_ascii_uppercase() => 'Q',
                _ => 'q',
            };
        }
        Checksum::PypiMacaroon => {
            chars.pop();
        }
        // Right after `sntrys_eyJ`: the facts no longer decode to JSON.
        Checksum::SentryOrgToken => {
            chars.remove(10);
        }
        Checksum::Jwt => {
            chars.remove(4);
        }
    }
    chars.into_iter().collect()
}

/// Every case for rule `r`: positives in every context from each example, decoys from the first.
fn cases(rng: &mut Fakes, probe: &mut Probe, r: usize) -> Vec<Case> {
    let mut out = Vec::new();
    let examples = probe.set.get(r).spec.examples.clone();
    for (i, example) in examples.iter().enumerate() {
        let Some(secret) = probe.secrets(r, example).into_iter().next() else {
            continue;
        };
        let s = fresh(rng, probe, r, example, &secret);
        let e = example.replacen(&secret, &s, 1);
        let standalone = probe.secrets(r, &s) == [s.clone()];
        let contexts = if standalone {
            bare_contexts(&s)
        } else {
            line_contexts(&e)
        };
        for (ctx, text) in contexts {
            out.push(Case {
                name: format!("e{i}-{ctx}"),
                text,
                secret: Some(s.clone()),
            });
        }
        if i == 0 {
            let p = probe
                .set
                .get(r)
                .prefix_of(s.as_bytes())
                .map_or(0, |p| p.len());
            let mut decoys = decoys(&s[..p], &s, &e);
            if let Some(checksum) = probe.set.get(r).spec.checksum {
                let bad = e.replacen(&s, &corrupt(checksum, &s), 1);
                decoys.push(("bad-checksum", bad));
            }
            for (class, text) in decoys {
                out.push(Case {
                    name: format!("decoy-{class}"),
                    text,
                    secret: None,
                });
            }
        }
    }
    out
}

#[derive(Default)]
struct Score {
    planted: usize,
    found: usize,
    decoys: usize,
    false_positives: Vec<String>,
    missed: Vec<String>,
}

#[test]
fn every_rule_finds_its_generated_fakes_and_no_decoy() {
    let set = RuleSet::builtin().unwrap();
    let matcher = Matcher::new(&set);
    let mut probe = Probe {
        set,
        matcher,
        scratch: Scratch::default(),
    };
    let mut rng = Fakes::new(13);
    let dir = tempfile::tempdir().unwrap();
    let mut planted: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    for r in 0..probe.set.len() {
        let id = probe.set.get(r).id().to_string();
        for case in cases(&mut rng, &mut probe, r) {
            let rel = format!("{id}/{}.txt", case.name);
            write(dir.path(), &rel, &case.text);
            planted.insert(rel, (id.clone(), case.secret));
        }
    }
    let run = keysweep(dir.path(), &["dir", ".", "--format", "jsonl"]);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    let scores = score(dir.path(), &planted, &run.jsonl());
    let table = table(&scores);
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("eval-rules.txt");
    std::fs::write(&path, &table).unwrap();
    println!("{table}");
    let failing: Vec<String> = scores
        .iter()
        .filter(|(_, s)| s.found < s.planted || !s.false_positives.is_empty() || s.planted == 0)
        .map(|(id, s)| {
            format!(
                "{id}: recall {}/{}, missed {:?}, false positives {:?}",
                s.found, s.planted, s.missed, s.false_positives
            )
        })
        .collect();
    assert!(
        failing.is_empty(),
        "{} rules fail:\n{}",
        failing.len(),
        failing.join("\n")
    );
}

/// Per rule: planted positives found (by the rule, by the secret's hash) and decoys reported.
fn score(
    root: &Path,
    planted: &BTreeMap<String, (String, Option<String>)>,
    findings: &[serde_json::Value],
) -> BTreeMap<String, Score> {
    // (file, rule) -> hashes reported there: a lookup per planted file, not a pass over all hits.
    let mut hits: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for f in findings {
        let path = Path::new(f["path"].as_str().unwrap());
        let rel = path.strip_prefix(root).unwrap_or(path);
        let rel = rel.strip_prefix(".").unwrap_or(rel);
        let key = (
            rel.to_string_lossy().into_owned(),
            f["rule"].as_str().unwrap().to_string(),
        );
        let hash = f["secret_sha256"].as_str().unwrap().to_string();
        hits.entry(key).or_default().insert(hash);
    }
    let mut scores: BTreeMap<String, Score> = BTreeMap::new();
    for (rel, (id, secret)) in planted {
        let s = scores.entry(id.clone()).or_default();
        let reported = hits.get(&(rel.clone(), id.clone()));
        match secret {
            Some(secret) => {
                s.planted += 1;
                if reported.is_some_and(|hashes| hashes.contains(&sha(secret))) {
                    s.found += 1;
                } else {
                    s.missed.push(rel.clone());
                }
            }
            None => {
                s.decoys += 1;
                if reported.is_some() {
                    s.false_positives.push(rel.clone());
                }
            }
        }
    }
    scores
}

fn table(scores: &BTreeMap<String, Score>) -> String {
    let mut out = format!(
        "{:<44} {:>7} {:>7} {:>6}\n",
        "rule", "recall", "planted", "FP"
    );
    let (mut planted, mut found, mut decoys, mut fps) = (0, 0, 0, 0);
    for (id, s) in scores {
        let recall = s.found as f64 / s.planted.max(1) as f64;
        out += &format!(
            "{id:<44} {recall:>7.3} {:>7} {:>3}/{:<3}\n",
            s.planted,
            s.false_positives.len(),
            s.decoys
        );
        planted += s.planted;
        found += s.found;
        decoys += s.decoys;
        fps += s.false_positives.len();
    }
    out += &format!(
        "{} rules: {found}/{planted} fakes found, {fps}/{decoys} decoys reported\n",
        scores.len()
    );
    out
}

/// Issue 12 item 2: rules that consumed the delimiter before their secret found only the first
/// of two keys written side by side.
#[test]
fn adjacent_keys_are_each_found() {
    let mut rng = Fakes::new(12);
    const UPPER32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const B64URL: &[u8] = crate::harness::fakes::BASE64URL;
    let aws = || format!("AKIA{}", Fakes::new(1).body(16, UPPER32));
    let (a1, a2) = (aws(), format!("ASIA{}", rng.body(16, UPPER32)));
    let (g1, g2) = (
        format!("AIza{}", rng.body(35, B64URL)),
        format!("AIza{}", rng.body(35, B64URL)),
    );
    let (t1, t2) = (
        format!("SK{}", rng.body(32, b"0123456789abcdef")),
        format!("SK{}", rng.body(32, b"0123456789abcdef")),
    );
    let (o1, o2) = (
        format!("00{}", rng.body(40, B64URL)),
        format!("00{}", rng.body(40, B64URL)),
    );
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "keys.txt",
        format!(
            "GOOGLE_KEYS={g1},{g2}\nids = \"{a1} {a2}\"\n\
             TWILIO_API_KEYS={t1};{t2}\nOKTA_TOKENS={o1} {o2}\n"
        ),
    );
    let run = keysweep(dir.path(), &["dir", ".", "--format", "jsonl"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let found = crate::harness::report::hashes(&run.jsonl());
    for key in [&a1, &a2, &g1, &g2, &t1, &t2, &o1, &o2] {
        assert!(found.contains(&sha(key)), "missed {}…", &key[..6]);
    }
}
