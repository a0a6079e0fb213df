//! Anchors and buckets: how the SIMD prefilter sees the keyword set.
//!
//! Every keyword gets one *anchor*: its rarest [`ANCHOR`]-byte substring (the whole keyword when
//! it is shorter). Anchors are grouped into [`BUCKETS`] buckets; a bucket holds, per anchor
//! position, the set of bytes any of its anchors has there. The SIMD pass asks, for every
//! haystack position and every bucket at once, "could an anchor of this bucket start here?"
//! (one table lookup per position and group of 8 buckets), and only the positions it flags are
//! checked exactly ([`super::exact`]).
//!
//! How well that filters depends on which anchors share a bucket: `gho_` and `ghp_` together
//! cost almost nothing, `gho_` and `xoxb` together accept `ghob` and `xoxo` too. Buckets are
//! built by agglomerative clustering that always merges the pair adding the least expected
//! pass rate on source code, estimated with a byte-bigram model of code
//! (`code-bigrams.bin`, made by `scripts/gen-bigrams`). Anchors are chosen with the same model.

use std::collections::hash_map::{Entry, HashMap};
use std::sync::OnceLock;

use super::exact::{Exact, KeywordRef};

/// Bytes per anchor: the SIMD pass looks at this many consecutive bytes per position.
pub const ANCHOR: usize = 4;
/// Buckets per group: one byte of bucket bits per position.
pub const GROUP: usize = 8;
/// Groups of buckets for the AVX-512 kernel (one SIMD lookup per group and anchor position); the
/// NEON kernel, whose lookups cost more, uses `NARROW_GROUPS`. More groups cost lookups, fewer
/// cost exact checks of flagged positions (measured with the 160-rule pack, when each check
/// compared the flag with every anchor of its buckets). `cargo bench --bench prefilter` on code, prefilter with exact checks:
/// 4 groups 6.0–6.4 GiB/s (3.5 flags per KiB), 5: 6.8 (2.4), 6: 7.2–7.3 (1.3), 7: 7.5 (1.1),
/// 8: 6.7 (1.0). Six keep every table in a register.
#[cfg(target_arch = "x86_64")]
pub const GROUPS: usize = 6;
#[cfg(target_arch = "x86_64")]
pub const BUCKETS: usize = GROUP * GROUPS;
/// Groups for the NEON kernel, without whole-byte 64-entry lookups: each group costs 4
/// instructions per anchor position and 16 bytes.
#[cfg(target_arch = "aarch64")]
pub const NARROW_GROUPS: usize = 3;
/// Above this many distinct anchors the quadratic clustering is not worth its start-up time and
/// the DFA is used instead (the built-in pack has about 220).
pub const MAX_ANCHORS: usize = 1024;

/// A byte set over folded ASCII (bit `b` = byte `b`); `ANY` accepts every byte.
type Set = u128;
const ANY: Set = u128::MAX;

/// ASCII lowercase; every non-ASCII byte maps to 0x7f (the model's "other" byte).
fn fold(b: u8) -> u8 {
    if b >= 0x80 {
        0x7f
    } else {
        b.to_ascii_lowercase()
    }
}

/// -log2 probabilities, quantised by 8, of folded bytes (128) and of each byte given the one
/// before it (128 × 128).
static MODEL_BYTES: &[u8; 128 + 128 * 128] = include_bytes!("code-bigrams.bin");

/// Words of a bitset over the listed 4-grams that matter to one keyword set (see [`Relevant`]).
const GRAM_WORDS: usize = 16;
type GramSet = [u64; GRAM_WORDS];

struct Model {
    first: [f32; 128],
    next: Vec<[f32; 128]>,
    /// The 4-gram list: bytes → index.
    gram_index: HashMap<[u8; 4], usize>,
    /// Each listed 4-gram and how much more often it occurs than the bigram model says (0 if
    /// less).
    grams: Vec<([u8; 4], f32)>,
    /// Probability of the least frequent listed 4-gram: every unlisted one is rarer.
    floor: f32,
    /// Each listed 4-gram and its probability.
    listed: Vec<([u8; 4], f32)>,
    /// The 5-gram list by what the AVX2 kernel tests of a window: an anchor and the class
    /// ([`class`]) of the byte after it → the summed probability of the listed ones.
    fives: HashMap<[u8; 5], f32>,
    /// Per byte, the bigram model's probability of each class of the byte after it.
    next_class: Vec<[f32; 16]>,
    /// Probability of the least frequent listed 5-gram.
    floor5: f32,
}

fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let p = |q: u8| (-(f32::from(q)) / 8.0).exp2();
        let mut first = [0f32; 128];
        for (x, f) in first.iter_mut().enumerate() {
            *f = p(MODEL_BYTES[x]);
        }
        let next = (0..128)
            .map(|a| {
                let mut row = [0f32; 128];
                for (b, r) in row.iter_mut().enumerate() {
                    *r = p(MODEL_BYTES[128 + a * 128 + b]);
                }
                row
            })
            .collect();
        let mut model = Model {
            first,
            next,
            gram_index: Default::default(),
            grams: Vec::new(),
            floor: p(FOURGRAMS[FOURGRAMS.len() - 1]),
            listed: Vec::new(),
            fives: HashMap::new(),
            next_class: Vec::new(),
            floor5: p(FIVEGRAMS[FIVEGRAMS.len() - 1]),
        };
        for g in FIVEGRAMS.chunks_exact(6) {
            *model
                .fives
                .entry([g[0], g[1], g[2], g[3], class(g[4])])
                .or_default() += p(g[5]);
        }
        model.next_class = (model.next.iter())
            .map(|row| {
                let mut by = [0f32; 16];
                for (b, &q) in row.iter().enumerate() {
                    by[usize::from(class(b as u8))] += q;
                }
                by
            })
            .collect();
        for (i, g) in FOURGRAMS.chunks_exact(5).enumerate() {
            let bytes = [g[0], g[1], g[2], g[3]];
            let markov = markov_rate(&model, &bytes.map(|b| 1u128 << b));
            model.grams.push((bytes, (p(g[4]) - markov).max(0.0)));
            model.listed.push((bytes, p(g[4])));
            model.gram_index.insert(bytes, i);
        }
        model
    })
}

/// The most frequent 4-grams of code (lowercase) and the probability of each at a position.
#[cfg(target_arch = "x86_64")]
pub fn code_grams() -> &'static [([u8; 4], f32)] {
    &model().listed
}

fn bits(set: Set) -> impl Iterator<Item = usize> {
    let mut s = set;
    std::iter::from_fn(move || {
        (s != 0).then(|| {
            let b = s.trailing_zeros() as usize;
            s &= s - 1;
            b
        })
    })
}

/// The most frequent 4-grams of code and their -log2 probability ×8; anything rarer is below the
/// last one's.
static FOURGRAMS: &[u8; 4096 * 5] = include_bytes!("code-4grams.bin");

/// The most frequent 5-grams of code, in the same form: what the AVX2 kernel tests is an anchor
/// and the byte after it, and the 4-gram list cannot tell `ranc`+`h` (rancher's first window, in
/// every "branch": 783,312 times in the 1 GiB benchmark tree) from `nche`+`r` (257 times).
static FIVEGRAMS: &[u8; FIVES * 6] = include_bytes!("code-5grams.bin");
const FIVES: usize = 16384;

/// The class of the byte after an anchor, as the anchor chooser rates it: its low 4 bits, so an
/// anchor is rated with every byte of its next byte's class (`rabbitmq`'s `bitm`+`q` passes
/// every "bitmap"). The AVX2 kernel now tests the low 3 bits ([`super::avx2`]), which this
/// refines: its rates are a lower bound there.
pub(super) fn class(b: u8) -> u8 {
    b & 15
}

/// How often an anchor (`rate`) is followed in code by a byte of the class of `next`, as the
/// AVX2 kernel tests it: the listed 5-grams of that class, and the bigram model's estimate for
/// the rest, which cannot exceed the list's least frequent entry.
fn window_rate(anchor: &[u8], next: u8, rate: f32) -> f32 {
    let m = model();
    let last = usize::from(fold(anchor[anchor.len() - 1]) & 0x7f);
    let estimate = (rate * m.next_class[last][usize::from(class(next))]).min(m.floor5);
    let key: Option<[u8; 5]> = <[u8; 4]>::try_from(anchor).ok().map(|a| {
        let a = a.map(fold);
        [a[0], a[1], a[2], a[3], class(fold(next))]
    });
    estimate + key.and_then(|k| m.fives.get(&k)).copied().unwrap_or(0.0)
}

/// How often `anchor` occurs in code: the 4-gram list's count if it is there (a bigram model
/// cannot tell common words such as `ault` in default or `_key` from rare strings), else the
/// bigram model's estimate, which cannot exceed the list's least frequent entry.
fn anchor_rate(anchor: &[u8]) -> f32 {
    let m = model();
    let markov = markov_rate(m, &sets_of(anchor));
    let folded: Option<[u8; 4]> = anchor.try_into().ok().map(|a: [u8; 4]| a.map(fold));
    match folded.and_then(|a| m.gram_index.get(&a)) {
        Some(&i) => markov + m.grams[i].1,
        None if anchor.len() == ANCHOR => markov.min(m.floor),
        None => markov,
    }
}

/// The listed 4-grams that some cluster of this keyword set could accept (each byte in some
/// anchor's set at its position), the most underestimated first, at most `64 * GRAM_WORDS`: a
/// few hundred for the built-in pack, so clusters carry small bitsets.
struct Relevant {
    excess: Vec<f32>,
    /// Per anchor position and byte: the relevant 4-grams with that byte there.
    with: Vec<[GramSet; 128]>,
}

impl Relevant {
    fn new(anchors: &[Vec<u8>]) -> Relevant {
        let m = model();
        let mut used = [0 as Set; ANCHOR];
        for a in anchors {
            for (j, s) in sets_of(a).iter().enumerate() {
                used[j] |= s;
            }
        }
        let mut grams: Vec<&([u8; 4], f32)> = m
            .grams
            .iter()
            .filter(|(g, excess)| {
                *excess > 0.0 && g.iter().zip(&used).all(|(&b, &u)| u & (1u128 << b) != 0)
            })
            .collect();
        grams.sort_by(|a, b| b.1.total_cmp(&a.1));
        grams.truncate(64 * GRAM_WORDS);
        let mut with = vec![[[0u64; GRAM_WORDS]; 128]; ANCHOR];
        for (i, (g, _)) in grams.iter().enumerate() {
            for (j, &b) in g.iter().enumerate() {
                with[j][usize::from(b)][i / 64] |= 1 << (i % 64);
            }
        }
        Relevant {
            excess: grams.iter().map(|g| g.1).collect(),
            with,
        }
    }
}

/// A cluster's byte sets and, per position, the relevant 4-grams whose byte there is in the set.
#[derive(Clone)]
struct Profile {
    sets: [Set; ANCHOR],
    grams: [GramSet; ANCHOR],
}

impl Profile {
    fn of(anchor: &[u8], r: &Relevant) -> Profile {
        let sets = sets_of(anchor);
        let grams = std::array::from_fn(|j| match anchor.get(j) {
            Some(&b) => r.with[j][usize::from(fold(b))],
            None => [u64::MAX; GRAM_WORDS],
        });
        Profile { sets, grams }
    }

    fn union(&self, other: &Profile) -> Profile {
        Profile {
            sets: std::array::from_fn(|j| self.sets[j] | other.sets[j]),
            grams: std::array::from_fn(|j| {
                std::array::from_fn(|w| self.grams[j][w] | other.grams[j][w])
            }),
        }
    }

    /// Expected fraction of code positions the cluster flags: the bigram estimate plus what it
    /// misses on the 4-grams the cluster accepts.
    fn rate(&self, r: &Relevant) -> f32 {
        self.union_rate(self, r)
    }

    /// [`Profile::rate`] of the union of two clusters, without building it (this runs tens of
    /// thousands of times while clustering).
    fn union_rate(&self, other: &Profile, r: &Relevant) -> f32 {
        let (a, b) = (&self.grams, &other.grams);
        let mut excess = 0.0;
        for w in 0..GRAM_WORDS {
            let mut x = (a[0][w] | b[0][w])
                & (a[1][w] | b[1][w])
                & (a[2][w] | b[2][w])
                & (a[3][w] | b[3][w]);
            while x != 0 {
                excess += r
                    .excess
                    .get(w * 64 + x.trailing_zeros() as usize)
                    .unwrap_or(&0.0);
                x &= x - 1;
            }
        }
        let sets = std::array::from_fn(|j| self.sets[j] | other.sets[j]);
        markov_rate(model(), &sets) + excess
    }
}

/// Expected fraction of code positions where some string of `sets` starts (first-order Markov).
fn markov_rate(m: &Model, sets: &[Set; ANCHOR]) -> f32 {
    // Probabilities of the strings so far, by their last byte, for the bytes of the last set.
    let (mut last, mut v) = ([0u8; 128], [0f32; 128]);
    let mut n = 0;
    for x in bits(sets[0]) {
        (last[n], v[n]) = (x as u8, m.first[x]);
        n += 1;
    }
    for &set in &sets[1..] {
        if set == ANY {
            break;
        }
        let (mut last2, mut w) = ([0u8; 128], [0f32; 128]);
        let mut k = 0;
        for y in bits(set) {
            let p: f32 = (0..n).map(|i| v[i] * m.next[usize::from(last[i])][y]).sum();
            (last2[k], w[k]) = (y as u8, p);
            k += 1;
        }
        (last, v, n) = (last2, w, k);
    }
    v[..n].iter().sum()
}

pub struct Buckets {
    /// Per bucket, per anchor position, the accepted (folded) bytes.
    pub sets: Vec<[Set; ANCHOR]>,
    /// The exact check of flagged positions.
    exact: Exact,
    /// Per bucket, its anchors (for the tests of the clustering).
    #[cfg(test)]
    members: Vec<Vec<Vec<u8>>>,
}

impl Buckets {
    /// At most `count` buckets (a multiple of [`GROUP`]). `None` when the keywords do not suit
    /// the SIMD pass (see [`anchors`]) or hold more distinct anchors than [`MAX_ANCHORS`].
    pub fn new(keywords: &[impl AsRef<[u8]>], count: usize) -> Option<Buckets> {
        let (distinct, lowered) = anchors(keywords, Lookahead::No)?;
        if distinct.len() > MAX_ANCHORS {
            return None;
        }
        let anchor_bytes: Vec<Vec<u8>> = distinct.iter().map(|(b, _)| b.clone()).collect();
        let relevant = Relevant::new(&anchor_bytes);
        let singles: Vec<Profile> = anchor_bytes
            .iter()
            .map(|b| Profile::of(b, &relevant))
            .collect();
        let (sets, _clusters) = cluster(singles, &relevant, count);
        Some(Buckets {
            sets,
            exact: Exact::new(&distinct, &lowered),
            #[cfg(test)]
            members: _clusters
                .iter()
                .map(|c| c.iter().map(|&a| anchor_bytes[a].clone()).collect())
                .collect(),
        })
    }

    /// The exact check of the positions the buckets flag.
    pub fn exact(&self) -> &Exact {
        &self.exact
    }

    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether raw byte `x` passes bucket `b` at anchor position `j`.
    pub fn accepts(&self, b: usize, j: usize, x: u8) -> bool {
        let set = self.sets[b][j];
        set == ANY || (x < 0x80 && set & (1u128 << fold(x)) != 0)
    }

    /// Whether bucket `b` accepts every byte at anchor position `j` (its anchors are shorter).
    pub fn accepts_any(&self, b: usize, j: usize) -> bool {
        self.sets[b][j] == ANY
    }

    /// For the NEON kernel, which folds case by setting bit 5 of every byte: per group of
    /// `NARROW_GROUPS` and anchor position, the bucket bits for each folded ASCII byte (the
    /// buckets that accept it or the byte that folds to it), and the bits of the buckets that
    /// accept any byte there.
    #[cfg(target_arch = "aarch64")]
    #[allow(clippy::type_complexity)]
    pub fn folded(
        &self,
    ) -> Box<(
        [[[u8; 128]; ANCHOR]; NARROW_GROUPS],
        [[u8; ANCHOR]; NARROW_GROUPS],
    )> {
        let mut out = Box::new((
            [[[0u8; 128]; ANCHOR]; NARROW_GROUPS],
            [[0u8; ANCHOR]; NARROW_GROUPS],
        ));
        for bucket in 0..self.len() {
            let (g, bit) = (bucket / GROUP, 1u8 << (bucket % GROUP));
            for j in 0..ANCHOR {
                if self.accepts_any(bucket, j) {
                    out.1[g][j] |= bit;
                }
                for y in (0..128u8).filter(|y| y & 0x20 != 0) {
                    if self.accepts(bucket, j, y) || self.accepts(bucket, j, y & !0x20) {
                        out.0[g][j][usize::from(y)] |= bit;
                    }
                }
            }
        }
        out
    }

    /// Every (folded) byte some anchor holds.
    #[cfg(target_arch = "x86_64")]
    pub fn anchor_bytes(&self) -> u128 {
        self.sets
            .iter()
            .flatten()
            .filter(|&&s| s != ANY)
            .fold(0, |a, &s| a | s)
    }
}

/// Each distinct anchor (lowercased) with the keywords it stands for, and every keyword
/// lowercased. `None` when the keywords do not suit the SIMD kernels: none at all, or non-ASCII
/// bytes.
#[allow(clippy::type_complexity)]
pub fn anchors(
    keywords: &[impl AsRef<[u8]>],
    lookahead: Lookahead,
) -> Option<(Vec<(Vec<u8>, Vec<KeywordRef>)>, Vec<Vec<u8>>)> {
    let lowered: Vec<Vec<u8>> = keywords
        .iter()
        .map(|k| k.as_ref().to_ascii_lowercase())
        .collect();
    if lowered.iter().all(|k| k.is_empty()) || lowered.iter().flatten().any(|&b| b >= 0x80) {
        return None;
    }
    let mut distinct: Vec<(Vec<u8>, Vec<KeywordRef>)> = Vec::new();
    // Anchor → its place in `distinct` (a scan of `distinct` per keyword was a quarter of the
    // prefilter's build with 860 keywords).
    let mut place: HashMap<Vec<u8>, usize> = HashMap::new();
    for (i, k) in lowered.iter().enumerate() {
        if k.is_empty() {
            continue;
        }
        let (offset, bytes) = choose_anchor(k, lookahead);
        let entry = (i as u32, offset as u32);
        match place.entry(bytes) {
            Entry::Occupied(at) => distinct[*at.get()].1.push(entry),
            Entry::Vacant(slot) => {
                distinct.push((slot.key().clone(), vec![entry]));
                slot.insert(distinct.len() - 1);
            }
        }
    }
    Some((distinct, lowered))
}

fn sets_of(anchor: &[u8]) -> [Set; ANCHOR] {
    std::array::from_fn(|j| anchor.get(j).map_or(ANY, |&b| 1u128 << fold(b)))
}

/// Whether the filter also tests the byte after an anchor (the AVX2 kernel does), so that
/// anchors are chosen for how rare they are together with it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lookahead {
    No,
    NextByte,
}

/// The keyword's least likely window of [`ANCHOR`] bytes (with the byte after it, under
/// [`Lookahead::NextByte`]; the first of equals), or the whole keyword when it is no longer
/// than that.
fn choose_anchor(k: &[u8], lookahead: Lookahead) -> (usize, Vec<u8>) {
    if k.len() <= ANCHOR {
        return (0, k.to_vec());
    }
    let mut best = (f32::INFINITY, 0);
    for o in 0..=k.len() - ANCHOR {
        let rate = anchor_rate(&k[o..o + ANCHOR]);
        let p = match (lookahead, k.get(o + ANCHOR)) {
            (Lookahead::NextByte, Some(&b)) => window_rate(&k[o..o + ANCHOR], b, rate),
            _ => rate,
        };
        if p < best.0 {
            best = (p, o);
        }
    }
    (best.1, k[best.1..best.1 + ANCHOR].to_vec())
}

/// Greedy agglomerative clustering down to `count` clusters: repeatedly merge the pair whose
/// union adds the least expected pass rate. The pair costs live in a matrix and each row caches
/// its minimum, so a merge costs one row of pass-rate estimates (about 65,000 estimates in all
/// for the built-in pack's ~220 anchors, a few milliseconds).
fn cluster(
    singles: Vec<Profile>,
    r: &Relevant,
    count: usize,
) -> (Vec<[Set; ANCHOR]>, Vec<Vec<usize>>) {
    let n = singles.len();
    let mut profiles = singles;
    let mut members: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    let mut alive = vec![true; n];
    let mut rate: Vec<f32> = profiles.iter().map(|p| p.rate(r)).collect();
    // cost[i * n + j], i != j: what merging i and j adds.
    let mut cost = vec![f32::INFINITY; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let d = profiles[i].union_rate(&profiles[j], r) - rate[i] - rate[j];
            cost[i * n + j] = d;
            cost[j * n + i] = d;
        }
    }
    let row_min = |cost: &[f32], alive: &[bool], i: usize| {
        (0..n)
            .filter(|&j| j != i && alive[j])
            .map(|j| (cost[i * n + j], j))
            .min_by(|a, b| a.0.total_cmp(&b.0))
    };
    let mut best: Vec<Option<(f32, usize)>> = (0..n).map(|i| row_min(&cost, &alive, i)).collect();
    let mut alive_count = n;
    while alive_count > count {
        let Some((_, i, j)) = (0..n)
            .filter(|&i| alive[i])
            .filter_map(|i| best[i].map(|(d, j)| (d, i, j)))
            .min_by(|a, b| a.0.total_cmp(&b.0))
        else {
            break;
        };
        profiles[i] = profiles[i].union(&profiles[j]);
        rate[i] = profiles[i].rate(r);
        let moved = std::mem::take(&mut members[j]);
        members[i].extend(moved);
        alive[j] = false;
        best[j] = None;
        alive_count -= 1;
        for k in (0..n).filter(|&k| alive[k] && k != i) {
            let d = profiles[i].union_rate(&profiles[k], r) - rate[i] - rate[k];
            cost[i * n + k] = d;
            cost[k * n + i] = d;
        }
        for k in (0..n).filter(|&k| alive[k]) {
            let stale = k == i || matches!(best[k], Some((_, p)) if p == i || p == j);
            if stale {
                best[k] = row_min(&cost, &alive, k);
            } else if let Some((d, _)) = best[k] {
                if cost[k * n + i] < d {
                    best[k] = Some((cost[k * n + i], i));
                }
            }
        }
    }
    let keep: Vec<usize> = (0..n).filter(|&i| alive[i]).collect();
    (
        keep.iter().map(|&i| profiles[i].sets).collect(),
        keep.iter()
            .map(|&i| std::mem::take(&mut members[i]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX-512 kernel's bucket count (these tests also run where that kernel does not).
    const BUCKETS: usize = 48;

    #[test]
    fn anchors_avoid_common_text() {
        // `_key` and `secr` are everywhere in code; the window around `access` is not.
        let (o, a) = choose_anchor(b"secret_access_key", Lookahead::No);
        assert!(
            !a.starts_with(b"secr") && !a.ends_with(b"_key"),
            "{o} {a:?}"
        );
        // A bigram model alone rates `ault` rare; the 4-gram list knows "default".
        let (o, a) = choose_anchor(b"vault_token", Lookahead::No);
        assert_ne!(a, b"ault", "{o}");
    }

    #[test]
    fn the_byte_after_an_anchor_counts_when_the_kernel_tests_it() {
        // `ranc`+`h` is in every "branch"; rancher's rare window is `nche`+`r`. Without the
        // byte after it, the chooser is free to take `ranc`.
        let (o, a) = choose_anchor(b"rancher", Lookahead::NextByte);
        assert_eq!((o, a.as_slice()), (2, &b"nche"[..]));
        // The kernel tests that byte's class (its low 4 bits): `bitm`+`q` of rabbitmq passes
        // every "bitmap" (`a` is `q`'s class), 7% of all flags on git's sources when chosen.
        let (o, a) = choose_anchor(b"rabbitmq_default_pass", Lookahead::NextByte);
        assert_ne!(a, b"bitm", "{o}");
        assert_eq!(class(b'q'), class(b'a'));
    }

    #[test]
    fn similar_anchors_share_buckets() {
        // With the built-in pack's ~220 anchors in 48 buckets, families that differ in one byte
        // cost almost nothing together and must not be spread over several buckets.
        let keywords = crate::rules::RuleSet::builtin().unwrap().keywords();
        let b = Buckets::new(&keywords, BUCKETS).unwrap();
        assert_eq!(b.len(), BUCKETS);
        for family in [
            &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"][..],
            &["xoxb", "xoxp", "xoxa"],
        ] {
            let holding: Vec<usize> = (0..b.len())
                .filter(|&i| {
                    b.members[i]
                        .iter()
                        .any(|a| family.iter().any(|f| f.as_bytes() == a))
                })
                .collect();
            assert_eq!(holding.len(), 1, "{family:?} are in buckets {holding:?}");
        }
    }
}
