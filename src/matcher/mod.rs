//! Bytes in, matches out. Knows nothing of where the bytes came from.
//!
//! One pass of the keyword automaton ([`prefilter`]) finds every keyword of every rule; only
//! rules whose keywords occur are evaluated, and only in a window around each hit, so the cost
//! on ordinary text is one prefilter pass (ripgrep and Nosey Parker make the same bet).
//! Surviving regex matches then pass the entropy, placeholder, checksum and allowlist filters
//! in [`filter`].

pub mod filter;
pub mod prefilter;
#[cfg(test)]
mod proptests;
mod required;

use std::ops::Range;
use std::sync::OnceLock;

use self::prefilter::{Follow, Prefilter, PrefilterScratch};
use self::required::Required;
use crate::rules::{Rule, RuleSet};

/// How far a window may be widened to reach a line boundary. Keeps a minified one-line file
/// from turning every window into the whole file.
const MAX_LINE_WIDEN: usize = 4096;

/// One confirmed match in a haystack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Index of the rule in the [`RuleSet`].
    pub rule: usize,
    /// The whole regex match.
    pub span: Range<usize>,
    /// The secret inside it.
    pub secret: Range<usize>,
    /// The public identifier paired with the secret, when the rule captures one.
    pub key_id: Option<Range<usize>>,
}

/// The compiled prefilter over a rule set. Immutable and shared by all threads; per-thread
/// state lives in [`Scratch`].
pub struct Matcher {
    keywords: Prefilter,
    /// Keyword pattern index → the rules that listed it (keywords shared by rules are searched once).
    keyword_rules: Vec<Vec<usize>>,
    /// Keyword pattern index → whether it is one of the extra trigger words (see
    /// [`Matcher::with_triggers`]).
    keyword_triggers: Vec<bool>,
    /// Keyword pattern index → the keyword, lowercased.
    lowered: Vec<Vec<u8>>,
    /// Rule index → what every match of its regex needs ([`required`]), worked out on the
    /// rule's first hit (as its regex is compiled on first use).
    required: Vec<OnceLock<Required>>,
    rule_count: usize,
}

/// Per-thread reusable buffers, so the hot path does not allocate per blob.
#[derive(Default)]
pub struct Scratch {
    prefilter: PrefilterScratch,
    /// Rule index → its window being widened; only the rules in `opened` are `Some`.
    open: Vec<Option<Range<usize>>>,
    opened: Vec<usize>,
    triggers: Vec<Range<usize>>,
    windows: Vec<(usize, Range<usize>)>,
    locs: Vec<Option<regex::bytes::CaptureLocations>>,
    /// Every secret a rule's regex matched in the last haystack, filtered or not (see
    /// [`Scratch::redactions`]).
    candidates: Vec<(usize, Range<usize>)>,
}

impl Scratch {
    /// What must never appear raw next to a finding: the secret of every regex match of the
    /// last [`Matcher::find`], reported or not (a placeholder, a key the entropy filter
    /// doubted, one outside the part of a chunk that reports), as disjoint ranges sorted by
    /// position, each with the rule of its first match (for its redacted form).
    pub fn redactions(&self) -> &[(usize, Range<usize>)] {
        &self.candidates
    }

    /// Where the trigger words occurred in the last haystack (ASCII case-insensitively,
    /// overlapping ones included, in order of end).
    pub fn triggers(&self) -> &[Range<usize>] {
        &self.triggers
    }
}

impl Matcher {
    pub fn new(rules: &RuleSet) -> Self {
        Self::with_triggers(rules, &[])
    }

    /// A matcher that also reports where each of `triggers` occurs ([`Scratch::triggers`]),
    /// found in the same prefilter pass as the rules' keywords: how the decoding layer learns
    /// where credential-like names are without a pass of its own.
    pub fn with_triggers(rules: &RuleSet, triggers: &[&str]) -> Self {
        let mut keywords: Vec<Vec<u8>> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        let mut keyword_triggers: Vec<bool> = Vec::new();
        let mut index = |k: &str| {
            let k = k.to_ascii_lowercase().into_bytes();
            keywords.iter().position(|x| *x == k).unwrap_or_else(|| {
                keywords.push(k);
                keyword_rules.push(Vec::new());
                keyword_triggers.push(false);
                keywords.len() - 1
            })
        };
        let mut uses = Vec::new();
        for (i, rule) in rules.rules().iter().enumerate() {
            uses.extend(rule.spec.keywords.iter().map(|k| (index(k), Some(i))));
        }
        uses.extend(triggers.iter().map(|t| (index(t), None)));
        for (p, rule) in uses {
            match rule {
                Some(i) if !keyword_rules[p].contains(&i) => keyword_rules[p].push(i),
                Some(_) => {}
                None => keyword_triggers[p] = true,
            }
        }
        let required: Vec<OnceLock<Required>> = (0..rules.len()).map(|_| OnceLock::new()).collect();
        let follow: Vec<Option<Follow>> = (0..keywords.len())
            .map(|k| match keyword_triggers[k] {
                // A trigger word's hits are reported whatever follows them.
                true => None,
                false => keyword_follow(rules, &required, &keywords[k], &keyword_rules[k]),
            })
            .collect();
        Matcher {
            keywords: Prefilter::following(&keywords, &follow),
            lowered: keywords,
            keyword_rules,
            keyword_triggers,
            required,
            rule_count: rules.len(),
        }
    }

    /// The keywords the prefilter searches (lowercased) and what may follow each: for the
    /// prefilter benchmark, which builds every backend from them.
    #[doc(hidden)]
    pub fn prefilter_keywords(&self) -> (&[Vec<u8>], &[Option<Follow>]) {
        (&self.lowered, self.keywords.follow())
    }

    /// Appends to `out` every match of `rules` in `hay`, sorted by position. `rules` must be the
    /// set this matcher was built from.
    pub fn find(&self, rules: &RuleSet, hay: &[u8], scratch: &mut Scratch, out: &mut Vec<Match>) {
        let first = out.len();
        // `open` is all `None` between calls (the windows are taken out below); only its size
        // is set here, so a small file costs no pass over every rule.
        scratch.open.resize(self.rule_count, None);
        scratch.windows.clear();
        scratch.candidates.clear();
        scratch.triggers.clear();
        if scratch.locs.len() != self.rule_count {
            scratch.locs = (0..self.rule_count).map(|_| None).collect();
        }

        // Hits arrive in order of their end; windows of the same rule that touch are merged
        // so overlapping windows are searched once.
        let Scratch {
            prefilter,
            open,
            opened,
            windows,
            triggers,
            ..
        } = scratch;
        self.keywords.for_each(hay, prefilter, |hit| {
            if self.keyword_triggers[hit.keyword] {
                triggers.push(hit.start..hit.end);
            }
            let boundary = required::maybe_boundary(hay, hit.start);
            for &r in &self.keyword_rules[hit.keyword] {
                if !boundary
                    && self
                        .required(rules, r)
                        .boundary_before(&self.lowered[hit.keyword])
                {
                    continue;
                }
                let w = rules.get(r).window;
                let lo = hit.start.saturating_sub(w);
                let hi = (hit.end + w).min(hay.len());
                match &mut open[r] {
                    Some(open) if lo <= open.end => open.end = open.end.max(hi),
                    slot => match slot.replace(lo..hi) {
                        Some(done) => windows.push((r, done)),
                        None => opened.push(r),
                    },
                }
            }
        });
        for r in scratch.opened.drain(..) {
            if let Some(w) = scratch.open[r].take() {
                scratch.windows.push((r, w));
            }
        }
        if scratch.windows.is_empty() {
            return;
        }

        for (r, window) in scratch.windows.drain(..) {
            let rule = rules.get(r);
            let window = widen_to_lines(hay, window);
            let required = self.required(rules, r).byte;
            if required.is_some_and(|b| memchr::memchr(b, &hay[window.clone()]).is_none()) {
                continue;
            }
            let locs = scratch.locs[r].get_or_insert_with(|| rule.regex().capture_locations());
            confirm(rule, r, hay, window, locs, out, &mut scratch.candidates);
        }
        merge_candidates(&mut scratch.candidates);

        let mut tail = out.split_off(first);
        tail.sort_by_key(|m| (m.secret.start, m.rule));
        tail.dedup_by(|b, a| a.rule == b.rule && a.secret == b.secret);
        drop_superseded(rules, &mut tail);
        out.extend(tail);
    }

    fn required(&self, rules: &RuleSet, r: usize) -> &Required {
        required_of(&self.required, rules, r)
    }
}

/// What every match of rule `r` needs, worked out on first use.
fn required_of<'a>(cells: &'a [OnceLock<Required>], rules: &RuleSet, r: usize) -> &'a Required {
    cells[r].get_or_init(|| Required::of(&rules.get(r).spec.regex))
}

/// What may follow a hit of `keyword` in a match of any of the rules that use it (`uses`), for
/// keywords shorter than the prefilter's 4-byte anchors: the AVX2 kernel looks those up with
/// the byte after them. Longer ones are left alone: working it out parses the rule's regex,
/// which start-up otherwise puts off until the rule's first hit.
fn keyword_follow(
    rules: &RuleSet,
    required: &[OnceLock<Required>],
    keyword: &[u8],
    uses: &[usize],
) -> Option<Follow> {
    if keyword.len() >= 4 {
        return None;
    }
    let mut uses = uses
        .iter()
        .map(|&r| required_of(required, rules, r).follow(keyword));
    let first = uses.next()??;
    uses.try_fold(first, |set, f| Some(set.union(f?)))
}

/// Widens a window to whole lines, so a regex never starts or ends inside a token at an
/// arbitrary cut (which could truncate a key or make `\b` match mid-word).
fn widen_to_lines(hay: &[u8], w: Range<usize>) -> Range<usize> {
    let lo_floor = w.start.saturating_sub(MAX_LINE_WIDEN);
    let start = match memchr::memrchr(b'\n', &hay[lo_floor..w.start]) {
        Some(i) => lo_floor + i + 1,
        None => lo_floor,
    };
    let hi_ceil = (w.end + MAX_LINE_WIDEN).min(hay.len());
    let end = match memchr::memchr(b'\n', &hay[w.end..hi_ceil]) {
        Some(i) => w.end + i,
        None => hi_ceil,
    };
    start..end
}

/// Runs the rule's regex over the window and keeps the matches that pass every filter.
/// The haystack is cut at the window's end but searched from its start with `captures_read_at`,
/// so `\b` and `^` still see the byte before the window.
fn confirm(
    rule: &Rule,
    index: usize,
    hay: &[u8],
    window: Range<usize>,
    locs: &mut regex::bytes::CaptureLocations,
    out: &mut Vec<Match>,
    candidates: &mut Vec<(usize, Range<usize>)>,
) {
    let hay = &hay[..window.end];
    let mut at = window.start;
    while at <= hay.len() {
        let Some(m) = rule.regex().captures_read_at(locs, hay, at) else {
            break;
        };
        let secret = locs.get(rule.secret_group()).filter(|(s, e)| s < e);
        // The next search starts where the secret ends, not where the whole match does: a
        // delimiter the regex consumed after one key (`AKIA… AKIA…`, `AIza…,AIza…`) is also
        // the one before the next key, which must not be lost with it.
        at = match secret {
            Some((_, e)) => e,
            _ if m.end() > m.start() => m.end(),
            _ => m.end() + 1,
        };
        let Some((s, e)) = secret else {
            continue;
        };
        candidates.push((index, s..e));
        if !filter::accept(rule, &hay[s..e], &hay[m.start()..m.end()]) {
            continue;
        }
        out.push(Match {
            rule: index,
            span: m.start()..m.end(),
            secret: s..e,
            key_id: rule
                .key_id_group()
                .and_then(|g| locs.get(g))
                .map(|(a, b)| a..b),
        });
    }
}

/// Sorts the candidates by position and merges overlapping ones, so that a snippet finds the
/// ones it shows by binary search.
fn merge_candidates(candidates: &mut Vec<(usize, Range<usize>)>) {
    candidates.sort_unstable_by_key(|(r, c)| (c.start, std::cmp::Reverse(c.end), *r));
    let mut merged: Vec<(usize, Range<usize>)> = Vec::with_capacity(candidates.len());
    for (r, c) in candidates.drain(..) {
        match merged.last_mut() {
            Some((_, last)) if c.start < last.end => last.end = last.end.max(c.end),
            _ => merged.push((r, c)),
        }
    }
    *candidates = merged;
}

/// Drops matches of a superseded rule whose secret lies inside a superseding match, so a pair
/// found together is one finding rather than three.
fn drop_superseded(rules: &RuleSet, found: &mut Vec<Match>) {
    if found.len() < 2
        || !found
            .iter()
            .any(|m| !rules.get(m.rule).supersedes.is_empty())
    {
        return;
    }
    // Sorted by start, with the furthest end so far: a match looks only at the composites
    // that start before it and still reach it, not at every composite of the haystack.
    let mut composites: Vec<(Range<usize>, &[usize])> = found
        .iter()
        .filter(|m| !rules.get(m.rule).supersedes.is_empty())
        .map(|m| (m.span.clone(), rules.get(m.rule).supersedes.as_slice()))
        .collect();
    composites.sort_unstable_by_key(|(span, _)| span.start);
    let mut reach = Vec::with_capacity(composites.len());
    let mut furthest = 0;
    for (span, _) in &composites {
        furthest = furthest.max(span.end);
        reach.push(furthest);
    }
    found.retain(|m| {
        let upto = composites.partition_point(|(span, _)| span.start <= m.secret.start);
        let from = reach[..upto].partition_point(|&end| end < m.secret.end);
        !composites[from..upto].iter().any(|(span, sup)| {
            sup.contains(&m.rule) && span.start <= m.secret.start && m.secret.end <= span.end
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parse_file;

    fn set(toml: &str) -> RuleSet {
        RuleSet::compile(parse_file("t", toml).unwrap()).unwrap()
    }

    fn secrets(rules: &RuleSet, hay: &[u8]) -> Vec<(String, String)> {
        let m = Matcher::new(rules);
        let mut out = Vec::new();
        m.find(rules, hay, &mut Scratch::default(), &mut out);
        out.iter()
            .map(|x| {
                (
                    rules.get(x.rule).id().to_string(),
                    String::from_utf8_lossy(&hay[x.secret.clone()]).into_owned(),
                )
            })
            .collect()
    }

    const PAIR: &str = r#"
[[rule]]
id = "id"
description = "public id"
regex = '''\b(mk_live_[A-Za-z0-9]{16,64})\b'''
keywords = ["mk_live_"]
[[rule]]
id = "secret"
description = "secret"
regex = '''\b(msk_[A-Za-z0-9]{16,64})\b'''
keywords = ["msk_"]
[[rule]]
id = "pair"
description = "pair"
regex = '''(?P<key_id>mk_live_[A-Za-z0-9]{16,64}):(?P<secret>msk_[A-Za-z0-9]{16,64})'''
keywords = ["msk_"]
supersedes = ["id", "secret"]
"#;

    #[test]
    fn keyword_is_case_insensitive_but_regex_decides() {
        let rules = set(
            "[[rule]]\nid='a'\ndescription='d'\nregex='''\\b(AKIA[0-9A-Z]{16})\\b'''\nkeywords=['akia']\n",
        );
        assert_eq!(
            secrets(&rules, b"x = AKIAQ3EGRXTWZPLKJH7M\n"),
            vec![("a".into(), "AKIAQ3EGRXTWZPLKJH7M".into())]
        );
        assert!(secrets(&rules, b"x = akiaq3egrxtwzplkjh7m\n").is_empty());
    }

    #[test]
    fn a_pair_is_one_finding_and_parts_alone_still_match() {
        let rules = set(PAIR);
        let hay = b"Authorization: Bearer mk_live_Q3EGRXTWZPLKJH7Mab:msk_9fK2LmQ8pX4vR7tY1wZ3\n";
        assert_eq!(
            secrets(&rules, hay),
            vec![("pair".into(), "msk_9fK2LmQ8pX4vR7tY1wZ3".into())]
        );
        let alone = b"a = mk_live_Q3EGRXTWZPLKJH7Mab\nb = msk_9fK2LmQ8pX4vR7tY1wZ3\n";
        let got = secrets(&rules, alone);
        assert_eq!(got.len(), 2, "{got:?}");
    }

    #[test]
    fn prefix_inside_a_longer_word_does_not_match() {
        let rules = set(PAIR);
        assert!(secrets(
            &rules,
            b"aws_msk_9fK2LmQ8pX4vR7tY1wZ3 desk_msk_9fK2LmQ8pX4vR7tY1wZ3"
        )
        .is_empty());
    }

    #[test]
    fn window_edges_do_not_create_word_boundaries() {
        // The keyword hit is far into a long word; the window starts mid-word but the regex must
        // still see the preceding bytes, so `\b` does not match there.
        let rules = set(
            "[[rule]]\nid='a'\ndescription='d'\nregex='''\\b(sk_[a-z0-9]{20})\\b'''\nkeywords=['sk_']\nwindow=4\n",
        );
        let mut hay = vec![b'a'; 10_000];
        hay.extend_from_slice(b"task_abcde1fghij2klmno3pqrs");
        assert!(secrets(&rules, &hay).is_empty());
    }

    #[test]
    fn matches_in_invalid_utf8_and_many_hits_are_all_found() {
        let rules = set(PAIR);
        let mut hay = Vec::new();
        for i in 0..100 {
            hay.extend_from_slice(b"\xff\xfe garbage \x80 ");
            hay.extend_from_slice(format!("msk_{i:04}Lq7Zp2Xw9Rt5Vb3N\n").as_bytes());
        }
        assert_eq!(secrets(&rules, &hay).len(), 100);
    }
}
