//! The AVX2 prefilter kernel (x86-64-v3: every x86-64 CPU since 2013-2015, AMD EPYC runners
//! included): a hashed filter on 3-byte windows with a signature of the bytes around them,
//! looked up with `vpgatherdd`, one lookup per two positions.
//!
//! The bucket filter ([`super::buckets`]) asks, per position, whether each of 4 bytes is in its
//! bucket's set. AVX2's `vpshufb` looks up 16 entries at a time, so a whole-byte lookup costs 4
//! shuffles per group of 8 buckets, and the 24 buckets it could afford flagged one position in 8
//! of real source with the 840-keyword pack (every combination of the bytes of ~30 anchors a
//! bucket holds passes): slower than the DFA. Here windows are looked up whole instead: the
//! 3 bytes of a window, case folded by clearing bit 5, hash (one `vpmaddwd`) to an entry of a
//! 65,536-entry table of 32-bit words (256 KiB), gathered 8 at a time.
//!
//! The gathers are the cost: with a window at every position (4 gathers per 32 bytes) the pass
//! kept `keysweep dir` at 1.5–1.8× ripgrep's time on 1 GiB of real source, where 8 keywords in
//! the same kernel ran at 1.3× and a build with half the gathers at 1.3×. So windows are
//! looked up at odd positions only, and a word answers for two anchor starts, in four 8-bit
//! fields, each a bit per class (3 bits) of one byte:
//! - *S*, an anchor starting at the window: the class of its 4th byte, and of the byte after
//!   it (of the keyword's next byte, or what may follow the keyword, [`super::Follow`]);
//! - *P*, an anchor starting one byte before: the class of that byte, and of the byte after
//!   the anchor (the window's 4th). Every 4-byte anchor is entered under its first 3 bytes (S)
//!   and under its last 3 (P); a 3-byte one under its bytes (S, the "4th byte" being one that
//!   may follow it), and under its last 2 bytes and each byte that may follow it (P: crates.io's
//!   `cio` only before a letter or digit, 36 entries; a keyword its rules say nothing after,
//!   128). That is why the prefilter takes [`super::Follow`] sets: they are what let a 3-byte
//!   keyword be looked up from the position after it.
//!
//! A bit is tested by shifting it to bit 31 (`vpsllvd`), where `vmovmskps` collects 8 lanes'
//! results in one instruction. The table holds about twice the entries of one lookup per
//! position and tests 3-bit classes where that tested 4, so more positions go to the exact check
//! ([`super::exact`]): on git's C sources 2.0 per KiB (0.8 before; with 32,768 entries 5.2),
//! cheaper than the two gathers saved (README, Performance).
//!
//! Anchors of 1 or 2 bytes are compared directly, one `vpcmpeqb` per byte: ~8 instructions per
//! step for one anchor. The built-in pack has none: Azure's `Q~` is keyed with the digit before
//! it (`0Q~` … `9Q~`), 10 keywords instead.
//!
//! The hash multiplier is chosen at build time, among a few fixed candidates, as the one that
//! lets through the least of the code 4-gram list ([`super::buckets::code_grams`]): common words
//! colliding with an anchor's entry (`mmit` of "commit") were once a fifth of all flags.

use std::arch::x86_64::*;

use super::exact::KeywordRef;
use super::Follow;

/// Bits of the table index: 256 KiB, half of an AMD Zen 3 core's L2. Flags per KiB of git's
/// C sources: 2<sup>15</sup> entries 5.2 (half of them collisions of common trigrams with an
/// anchor's entry), 2<sup>16</sup> 2.0.
const TABLE_BITS: u32 = 16;
/// Anchors of 1 or 2 bytes compared directly; more and the filter is not worth it.
const MAX_SHORT: usize = 8;
/// How far a byte is shifted before its low 3 bits are its class: bits 0–2 for the bytes
/// after a window's first 3, bits 1–3 for the byte before it. On git's C sources these flag
/// 2.0 positions per KiB, bits 0–2 everywhere 2.6, bits 1–3 everywhere 2.9, bits 2–4 4.1 (bit
/// 5, the case bit, must stay out anyway).
const CLASS_SHIFT: u32 = 0;
const BEFORE_SHIFT: u32 = 1;

/// The bits of a word's four fields, from the top: S's 4th byte, S's byte after the anchor,
/// P's byte before the window, P's byte after the anchor (the window's 4th byte).
#[derive(Clone, Copy)]
enum Field {
    Fourth = 0,
    After = 1,
    Before = 2,
    Next = 3,
}

/// The bit of `field` for byte `b`'s class.
fn bit(field: Field, b: u8) -> u32 {
    let shift = match field {
        Field::Before => BEFORE_SHIFT,
        _ => CLASS_SHIFT,
    };
    1 << (31 - 8 * field as u32 - u32::from((b >> shift) & 7))
}

/// Every bit of `field`.
fn all(field: Field) -> u32 {
    0xff00_0000 >> (8 * field as u32)
}

/// The bits of `field` for each of `bytes`.
fn bits(field: Field, bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |set, &z| set | bit(field, z))
}

pub struct Avx2Tables {
    /// Hash of a folded 3-byte window → which anchors could start at it or before it.
    table: Box<[u32; 1 << TABLE_BITS]>,
    /// The multiplier of [`index`].
    hash: u32,
    /// Anchors of 1 or 2 bytes, folded; a 1-byte anchor's second byte is `None`.
    short: Vec<(u8, Option<u8>)>,
}

/// An anchor and the bytes that may follow it in its keywords' hits, folded as the kernel
/// folds them (bit 5 cleared), each once.
pub struct Anchor<'a> {
    pub bytes: &'a [u8],
    pub after: Vec<u8>,
}

impl<'a> Anchor<'a> {
    /// Each distinct anchor (as [`super::buckets::anchors`] gives them) with the bytes that
    /// follow it in its keywords (`lowered`), or that may follow them (`follow`) when it ends one.
    pub fn all(
        distinct: &'a [(Vec<u8>, Vec<KeywordRef>)],
        lowered: &[Vec<u8>],
        follow: &[Option<Follow>],
    ) -> Vec<Self> {
        distinct
            .iter()
            .map(|(bytes, refs)| {
                let after = refs.iter().fold(Follow::NONE, |set, &(k, offset)| {
                    let next = lowered[k as usize].get(offset as usize + bytes.len());
                    set.union(match next {
                        Some(&b) => Follow::byte(b),
                        None => follow
                            .get(k as usize)
                            .copied()
                            .flatten()
                            .unwrap_or(Follow::ANY),
                    })
                });
                Anchor {
                    bytes,
                    after: after.folded(),
                }
            })
            .collect()
    }
}

/// Bit 5 cleared: how the kernel folds case (and aliases a few non-letters, which the exact
/// check sorts out). Clearing it lets one AND with [`PREFIX`] both fold a window's first 3 bytes
/// and drop its 4th.
const FOLD: u8 = !0x20;
/// A window's hashed bytes: its first 3, folded.
const PREFIX: u32 = u32::from_le_bytes([FOLD, FOLD, FOLD, 0]);

fn fold(b: u8) -> u8 {
    b & FOLD
}

/// Where the index starts in [`index`]'s sum: its middle bits are the ones all three bytes reach
/// (the top ones hardly depend on the first byte: 52 flags per KiB instead of 1.6).
const MID: u32 = 8;

/// `vpmaddwd` of the folded window with `hash`: each 16-bit half times the same half of `hash`,
/// signed, summed; then [`TABLE_BITS`] bits from [`MID`]. One instruction where a 32-bit multiply
/// (`vpmulld`) is two on Intel.
fn index(window: [u8; 3], hash: u32) -> usize {
    let (lo, hi) = (
        i16::from_le_bytes([fold(window[0]), fold(window[1])]),
        i16::from_le_bytes([fold(window[2]), 0]),
    );
    let sum = i32::from(lo) * i32::from(hash as u16 as i16)
        + i32::from(hi) * i32::from((hash >> 16) as u16 as i16);
    ((sum as u32 >> MID) & ((1 << TABLE_BITS) - 1)) as usize
}

/// The multipliers tried: each word's 16-bit halves multiply the window's halves ([`index`]).
const HASHES: [u32; 16] = [
    0x9E37_79B1,
    0x85EB_CA77,
    0xC2B2_AE3D,
    0x27D4_EB2F,
    0x1656_67B1,
    0xCC9E_2D51,
    0x1B87_3593,
    0xE654_6B65,
    0x85EB_CA6B,
    0x9E37_79B9,
    0x7FEB_352D,
    0x846C_A68B,
    0xED5A_D4BB,
    0xAC4C_1B51,
    0x3197_8F45,
    0xB529_7A4D,
];

impl Avx2Tables {
    /// `None` when more than [`MAX_SHORT`] anchors are shorter than 3 bytes.
    pub fn new(anchors: &[Anchor]) -> Option<Self> {
        let short: Vec<(u8, Option<u8>)> = anchors
            .iter()
            .filter(|a| matches!(a.bytes.len(), 1 | 2))
            .map(|a| (fold(a.bytes[0]), a.bytes.get(1).map(|&b| fold(b))))
            .collect();
        if short.len() > MAX_SHORT {
            return None;
        }
        // One table, its entries cleared between candidates: a fresh 256 KiB table per
        // candidate made the build a third of keysweep's start-up.
        let grams = super::buckets::code_grams();
        let mut table = Box::new([0u32; 1 << TABLE_BITS]);
        let mut touched = Vec::new();
        let (_, hash) = HASHES
            .iter()
            .map(|&hash| {
                Self::fill(&mut table, anchors, hash, &mut touched);
                let leak = Self::leak(&table, hash, grams);
                touched.drain(..).for_each(|i| table[i] = 0);
                (leak, hash)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))?;
        Self::fill(&mut table, anchors, hash, &mut touched);
        Some(Avx2Tables { table, hash, short })
    }

    /// Enters every anchor in `table` (all zero), noting each entry it sets in `touched`.
    fn fill(
        table: &mut [u32; 1 << TABLE_BITS],
        anchors: &[Anchor],
        hash: u32,
        touched: &mut Vec<usize>,
    ) {
        use Field::*;
        let mut set = |window: [u8; 3], bits: u32| {
            let i = index(window, hash);
            touched.push(i);
            table[i] |= bits;
        };
        for a in anchors {
            let after = &a.after;
            match *a.bytes {
                [a0, a1, a2, a3] => {
                    set([a0, a1, a2], bit(Fourth, a3) | bits(After, after));
                    set([a1, a2, a3], bit(Before, a0) | bits(Next, after));
                }
                [a0, a1, a2] => {
                    set([a0, a1, a2], bits(Fourth, after) | all(After));
                    for &z in after {
                        set([a1, a2, z], bit(Before, a0) | all(Next));
                    }
                }
                _ => {}
            }
        }
    }

    /// How much of common code passes the filter: the summed rate of the listed code 4-grams
    /// whose entry lets them through, at half the positions as an anchor's start (S), at the
    /// other half as the byte before a window (P), each weighted by how much of the classes of
    /// the byte after passes.
    fn leak(table: &[u32; 1 << TABLE_BITS], hash: u32, grams: &[([u8; 4], f32)]) -> f32 {
        use Field::*;
        let share = |word: u32, field: Field| (word & all(field)).count_ones() as f32 / 8.0;
        grams
            .iter()
            .map(|&(g, rate)| {
                let s = table[index([g[0], g[1], g[2]], hash)];
                let p = table[index([g[1], g[2], g[3]], hash)];
                let start = if s & bit(Fourth, g[3]) == 0 {
                    0.0
                } else {
                    share(s, After)
                };
                let before = if p & bit(Before, g[0]) == 0 {
                    0.0
                } else {
                    share(p, Next)
                };
                rate * (start + before) / 2.0
            })
            .sum()
    }

    /// Whether the kernel flags position `p` of `padded` (a haystack and [`AHEAD`] zero bytes).
    #[cfg(test)]
    fn flags(&self, padded: &[u8], p: usize) -> bool {
        use Field::*;
        let short = self
            .short
            .iter()
            .any(|&(a, b)| fold(padded[p]) == a && b.is_none_or(|b| fold(padded[p + 1]) == b));
        let w =
            |at: usize| self.table[index([padded[at], padded[at + 1], padded[at + 2]], self.hash)];
        short
            || if p % 2 == 1 {
                let word = w(p);
                word & bit(Fourth, padded[p + 3]) != 0 && word & bit(After, padded[p + 4]) != 0
            } else {
                let word = w(p + 1);
                word & bit(Before, padded[p]) != 0 && word & bit(Next, padded[p + 4]) != 0
            }
    }
}

pub const STEP: usize = 32;
/// Bytes a step reads past its own 32: the rest of the windows starting at its last positions.
pub const AHEAD: usize = 4;
/// Steps run between two reports of what they flagged: reporting calls the exact check, and a
/// call inside the loop made the compiler keep the loop's constants on the stack (8 more loads
/// per step, on the load ports the gathers need).
const BLOCK: usize = 64;

/// Flags, in order, each position of `hay` where an anchor could start: `flag(position)`.
///
/// # Safety
/// Only for CPUs with AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn scan_avx2(t: &Avx2Tables, hay: &[u8], mut flag: impl FnMut(usize)) {
    // The short anchors' loop is unrolled for their exact number: run over a slice of them, it
    // took a fifth of the pass (branches, and loop constants kept on the stack).
    super::in_steps(hay, STEP, AHEAD, |buf, steps| {
        // SAFETY: the features are the caller's promise, the bounds `in_steps`'s.
        unsafe {
            match t.short.len() {
                0 => run::<0>(t, buf, steps, &mut flag),
                1 => run::<1>(t, buf, steps, &mut flag),
                2 => run::<2>(t, buf, steps, &mut flag),
                3 | 4 => run::<4>(t, buf, steps, &mut flag),
                _ => run::<MAX_SHORT>(t, buf, steps, &mut flag),
            }
        }
    });
}

/// `steps` steps of 32 positions from `buf` (`in_steps` checked that it holds the bytes this
/// reads); `buf` starts at haystack position `base`, and flags at or past `limit` are dropped.
/// `SHORT` is at least the number of short anchors; past it the vectors never match.
#[target_feature(enable = "avx2")]
unsafe fn run<const SHORT: usize>(
    t: &Avx2Tables,
    buf: &[u8],
    steps: super::Steps,
    flag: &mut impl FnMut(usize),
) {
    let p = buf.as_ptr();
    let base = t.table.as_ptr().cast::<i32>();
    // One AND both folds case and drops the 4th byte from the hashed window.
    let prefix = _mm256_set1_epi32(PREFIX as i32);
    let hash = _mm256_set1_epi32(t.hash as i32);
    let entries = _mm256_set1_epi32((1 << TABLE_BITS) - 1);
    let low3 = _mm256_set1_epi32(7);
    // What moves each field's bits to the top (see `bit`).
    let [to_after, to_before, to_next] = [8, 16, 24].map(|n| _mm256_set1_epi32(n));
    let fold8 = _mm256_set1_epi8(FOLD as i8);
    let short: [[__m256i; 3]; SHORT] = short_vectors(&t.short);
    // (step, the 4 kinds of positions' lane bits a byte each, the short anchors' position bits)
    let mut found = [(0u32, 0u32, 0u32); BLOCK];
    let mut first = 0;
    while first < steps.count {
        let last = steps.count.min(first + BLOCK);
        let mut n = 0;
        for s in first..last {
            let at = p.add(s * STEP);
            // Lane `k` of the load at `r` holds bytes `r + 4k ..= r + 4k + 3`. The windows are
            // at `1 + 4k` and `3 + 4k` (the loads at 1 and 3); the bytes before them are bytes 0
            // and 2 of the load at 0, the bytes after their anchors bytes 1 and 3 of the load at 4.
            let [l0, l1, l3, l4] = [0, 1, 3, 4].map(|r| _mm256_loadu_si256(at.add(r).cast()));
            // A byte's class at byte `k` of each lane of `v`: its 3 bits at the bottom.
            const C: i32 = CLASS_SHIFT as i32;
            const B: i32 = BEFORE_SHIFT as i32;
            let class = |shifted: __m256i| _mm256_and_si256(shifted, low3);
            // Per window: its bytes, and the classes of its 4th byte, of the byte after that,
            // and of the byte before it.
            let windows = [
                (
                    l1,
                    class(_mm256_srli_epi32::<{ 24 + C }>(l1)),
                    class(_mm256_srli_epi32::<{ 8 + C }>(l4)),
                    class(_mm256_srli_epi32::<B>(l0)),
                ),
                (
                    l3,
                    class(_mm256_srli_epi32::<{ 24 + C }>(l3)),
                    class(_mm256_srli_epi32::<{ 24 + C }>(l4)),
                    class(_mm256_srli_epi32::<{ 16 + B }>(l0)),
                ),
            ];
            // Byte 0 of `lanes`: positions 4k (before window 1 + 4k), byte 1: 1 + 4k, byte 2:
            // 2 + 4k, byte 3: 3 + 4k.
            let mut lanes = 0u32;
            for (w, (raw, fourth, after, before)) in windows.into_iter().enumerate() {
                let key = _mm256_and_si256(raw, prefix);
                let idx = _mm256_and_si256(
                    _mm256_srli_epi32::<{ MID as i32 }>(_mm256_madd_epi16(key, hash)),
                    entries,
                );
                let word = _mm256_i32gather_epi32::<4>(base, idx);
                let test = |count: __m256i| _mm256_sllv_epi32(word, count);
                let start = _mm256_and_si256(test(fourth), test(_mm256_or_si256(after, to_after)));
                let behind = _mm256_and_si256(
                    test(_mm256_or_si256(before, to_before)),
                    test(_mm256_or_si256(fourth, to_next)),
                );
                let mask = |v: __m256i| _mm256_movemask_ps(_mm256_castsi256_ps(v)) as u32;
                lanes |= (mask(behind) | mask(start) << 8) << (16 * w);
            }
            let mut hits = _mm256_setzero_si256();
            if SHORT > 0 {
                let v0 = _mm256_and_si256(l0, fold8);
                let v1 = _mm256_and_si256(l1, fold8);
                for [a, b, any_second] in &short {
                    let second = _mm256_or_si256(_mm256_cmpeq_epi8(v1, *b), *any_second);
                    hits =
                        _mm256_or_si256(hits, _mm256_and_si256(_mm256_cmpeq_epi8(v0, *a), second));
                }
            }
            let hits = _mm256_movemask_epi8(hits) as u32;
            found[n] = (s as u32, lanes, hits);
            n += usize::from(lanes | hits != 0);
        }
        report(&found[..n], steps, flag);
        first = last;
    }
}

/// Per anchor of 1 or 2 bytes: its first byte, its second, and all ones for a 1-byte anchor
/// (whose second byte is anything), each in every byte of a vector. The `N - short.len()`
/// vectors past them hold bit 5, which no folded byte has: they match nothing.
#[target_feature(enable = "avx2")]
fn short_vectors<const N: usize>(short: &[(u8, Option<u8>)]) -> [[__m256i; 3]; N] {
    let never = _mm256_set1_epi8(!FOLD as i8);
    let mut v = [[never, never, _mm256_setzero_si256()]; N];
    for (v, &(a, b)) in v.iter_mut().zip(short) {
        let any_second = _mm256_set1_epi8(if b.is_none() { -1 } else { 0 });
        *v = [
            _mm256_set1_epi8(a as i8),
            _mm256_set1_epi8(b.unwrap_or(0) as i8),
            any_second,
        ];
    }
    v
}

/// Flags the positions of the steps a block noted, in order: lane `k` of byte `r` of a step's
/// lane bits is position `4k + r`.
fn report(found: &[(u32, u32, u32)], steps: super::Steps, flag: &mut impl FnMut(usize)) {
    for &(s, lanes, hits) in found {
        let any = (0..4).fold(hits, |any, r| {
            any | SPREAD[(lanes >> (8 * r)) as u8 as usize] << r
        });
        super::report::<1>(u64::from(any), STEP, (steps, s as usize), flag);
    }
}

/// Bit `k` of the index at bit `4k`: lane `k` of a window's pass to position `4k` of a step.
static SPREAD: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut k = 0;
        while k < 8 {
            t[i] |= ((i as u32 >> k) & 1) << (4 * k);
            k += 1;
        }
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(bytes: &[u8], after: Follow) -> Anchor<'_> {
        Anchor {
            bytes,
            after: after.folded(),
        }
    }

    /// Distinct anchors with their keywords, and the lowered keywords.
    type Pack = (Vec<(Vec<u8>, Vec<KeywordRef>)>, Vec<Vec<u8>>);

    /// The built-in pack's anchors and keywords, as the backend gets them.
    fn pack() -> Pack {
        let keywords = crate::rules::RuleSet::builtin().unwrap().keywords();
        super::super::buckets::anchors(&keywords, super::super::buckets::Lookahead::NextByte)
            .unwrap()
    }

    /// Whether the table passes `text` at `p`.
    fn flags_at(t: &Avx2Tables, text: &[u8], p: usize) -> bool {
        t.flags(&[text, &[0; AHEAD]].concat(), p)
    }

    fn alnum() -> Follow {
        let mut set = Follow::NONE;
        for b in (b'0'..=b'9').chain(b'a'..=b'z') {
            set = set.union(Follow::byte(b));
        }
        set
    }

    #[test]
    fn table_holds_every_anchor_in_both_cases_at_both_parities() {
        let anchors = [
            anchor(b"ghp_", Follow::ANY),
            anchor(b"ranc", Follow::byte(b'h')),
            anchor(b"cs_", Follow::ANY),
            anchor(b"cio", alnum()),
            anchor(b"q~", Follow::ANY),
        ];
        let t = Avx2Tables::new(&anchors).unwrap();
        for w in [
            &b"ghp_x"[..],
            b"GHP_9",
            b"gHp_.",
            b"cs_xy",
            b"CS_9-",
            b"cs_",
            b"rancH",
            b"RANCh",
            b"cioA",
            b"CIO7",
        ] {
            for lead in [&b" "[..], b"  "] {
                let text = [lead, w].concat();
                assert!(
                    flags_at(&t, &text, lead.len()),
                    "{:?}",
                    String::from_utf8_lossy(&text)
                );
            }
        }
        assert_eq!(t.short, vec![(fold(b'q'), Some(fold(b'~')))]);
        let many: Vec<Vec<u8>> = (0..=MAX_SHORT as u8).map(|i| vec![b'a' + i]).collect();
        let many: Vec<Anchor> = many.iter().map(|a| anchor(a, Follow::ANY)).collect();
        assert!(Avx2Tables::new(&many).is_none());
    }

    #[test]
    fn a_short_keyword_is_flagged_only_before_a_byte_that_may_follow_it() {
        // A keyword of 3 bytes followed only by `0` or `1`: where its window starts one byte
        // before it (even positions) the byte after it is looked up whole, where the window
        // starts with it (odd positions) by its class (low 3 bits), so `_` and `.` (classes 7
        // and 6) are out but a space is not (class 0, as `0`'s).
        let t = Avx2Tables::new(&[anchor(b"cio", Follow::byte(b'0').union(Follow::byte(b'1')))])
            .unwrap();
        for (text, at) in [(&b" cio1"[..], 1), (b"  CIO0", 2), (b" cio x", 1)] {
            assert!(
                flags_at(&t, text, at),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
        let out = [
            (&b" cio_x"[..], 1),
            (b" CIO.x", 1),
            (b"  cio x", 2),
            (b"cioz", 0),
            (b"  cio", 2),
        ];
        for (text, at) in out {
            assert!(
                !flags_at(&t, text, at),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn the_bytes_around_an_anchor_rule_out_common_words() {
        // Only a byte after it in a class the keyword allows there passes (`h` for rancher's
        // `ranc`), whichever position the anchor starts at; where the window starts one byte
        // after it, its first byte is tested by class.
        let t = Avx2Tables::new(&[anchor(b"ranc", Follow::byte(b'h'))]).unwrap();
        assert!(flags_at(&t, b" ranch", 1) && flags_at(&t, b"ranch", 0));
        for (text, at) in [
            (&b" rance"[..], 1),
            (b" ranco", 1),
            (b"rance", 0),
            (b"xanch", 0),
        ] {
            assert!(
                !flags_at(&t, text, at),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    /// Runs the kernel over random text made of the anchors' own bytes, with `keywords` planted,
    /// so that windows pass at every offset of a step, and compares with the table's verdicts.
    fn kernel_agrees_with_the_table(anchors: &[Anchor], keywords: &[Vec<u8>]) {
        let t = Avx2Tables::new(anchors).unwrap();
        let alphabet: Vec<u8> = anchors.iter().flat_map(|a| a.bytes.to_vec()).collect();
        let mut seed = 7u64;
        let mut rng = || super::super::tests::rng(&mut seed);
        for len in (0..200).chain([4099]) {
            let mut hay: Vec<u8> = (0..len)
                .map(|_| alphabet[rng() as usize % alphabet.len()])
                .collect();
            for _ in 0..len / 16 {
                let a = &keywords[rng() as usize % keywords.len()];
                let at = rng() as usize % len;
                let end = (at + a.len()).min(len);
                hay[at..end].copy_from_slice(&a[..end - at]);
            }
            let want: Vec<usize> = (0..len).filter(|&p| flags_at(&t, &hay, p)).collect();
            let mut got = Vec::new();
            // SAFETY: the callers checked for AVX2.
            unsafe { scan_avx2(&t, &hay, |p| got.push(p)) };
            assert_eq!(got, want, "len {len}, {} short anchors", t.short.len());
            assert!(len < 4099 || got.len() > 100, "the text should pass often");
        }
    }

    #[test]
    fn the_kernel_flags_exactly_the_positions_the_table_passes() {
        if !is_x86_feature_detected!("avx2") {
            return;
        }
        let (distinct, lowered) = pack();
        kernel_agrees_with_the_table(&Anchor::all(&distinct, &lowered, &[]), &lowered);
    }

    #[test]
    fn the_kernel_is_exact_for_every_number_of_short_anchors() {
        // The kernel is specialised by their number and pads the rest with vectors that must
        // match nothing: a space folds to 0, the padding's byte must not be taken for it.
        if !is_x86_feature_detected!("avx2") {
            return;
        }
        let short: [&[u8]; MAX_SHORT] = [b"q~", b"x", b" a", b"%$", b"z", b"\0", b"@", b"~~"];
        let long: [&[u8]; 4] = [b"ghp_", b"xoxb", b"sk_", b"ranc"];
        for n in 0..=MAX_SHORT {
            let keywords: Vec<Vec<u8>> =
                long.iter().chain(&short[..n]).map(|k| k.to_vec()).collect();
            let anchors: Vec<Anchor> = keywords.iter().map(|k| anchor(k, Follow::ANY)).collect();
            kernel_agrees_with_the_table(&anchors, &keywords);
        }
    }

    #[test]
    fn the_multiplier_is_chosen_to_let_the_least_common_code_through() {
        let (distinct, lowered) = pack();
        let anchors = Anchor::all(&distinct, &lowered, &[]);
        let t = Avx2Tables::new(&anchors).unwrap();
        let grams = super::super::buckets::code_grams();
        let chosen = Avx2Tables::leak(&t.table, t.hash, grams);
        for &h in &HASHES {
            let mut table = Box::new([0u32; 1 << TABLE_BITS]);
            Avx2Tables::fill(&mut table, &anchors, h, &mut Vec::new());
            assert!(chosen <= Avx2Tables::leak(&table, h, grams));
        }
    }
}
