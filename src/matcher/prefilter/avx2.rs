//! The AVX2 prefilter kernel (x86-64-v3: every x86-64 CPU since 2013-2015, AMD EPYC runners
//! included): a hashed filter on 3-byte prefixes with a signature of the next two bytes, looked
//! up with `vpgatherdd`, 32 positions per step.
//!
//! The bucket filter ([`super::buckets`]) asks, per position, whether each of 4 bytes is in its
//! bucket's set. AVX2's `vpshufb` looks up 16 entries at a time, so a whole-byte lookup costs 4
//! shuffles per group of 8 buckets, and the 24 buckets it could afford flagged one position in 8
//! of real source with the 840-keyword pack (every combination of the bytes of ~30 anchors a
//! bucket holds passes): slower than the DFA. Here each position is looked up whole instead:
//! - the first 3 bytes of its window, case folded by clearing bit 5, hash (one `vpmaddwd`) to an
//!   entry of a 32,768-entry table of 32-bit words (128 KiB), gathered 8 at a time;
//! - bit `31 - (b & 15)` of that word, for the 4th byte `b`, and bit `15 - (c & 15)`, for the
//!   5th byte `c`, say whether some anchor has that 3-byte prefix and a 4th byte and a following
//!   keyword byte in those classes (3-byte anchors, and anchors that end their keyword, set every
//!   bit of the half they leave open). Counted from the top, a bit is tested by shifting it to
//!   bit 31 (`vpsllvd`), where `vmovmskps` collects the 8 lanes' results in one instruction.
//!
//! The filter decides the speed twice: through the SIMD pass and through the flags it hands to the
//! exact check ([`super::exact`]), each of which costs a few dozen cycles. On 256 MiB of real
//! source (git's releases) the earlier version (a 5-bit class of the 4th byte only, 8192
//! entries) flagged 8.4 positions per KiB, mostly of two kinds:
//! - common words colliding with an anchor's entry (`mmit` of "commit" alone was 18% of all
//!   flags), so the table is larger and the hash multiplier is chosen at build time, among a few
//!   fixed candidates, as the one that lets through the least of the code 4-gram list
//!   ([`super::buckets::code_grams`]);
//! - anchors that are common words (`hook`, `rail`, `witc` of twitch in "switch"): anchors are
//!   now chosen together with the byte after them ([`super::buckets::Lookahead`]) and that byte
//!   is tested, and rated by the 5-gram list ([`super::buckets`]): rancher's anchor is no longer
//!   `ranc`, which is in every "branch".
//!
//! Now 0.85 positions per KiB of real source are flagged (`cargo bench --bench prefilter`).
//!
//! Anchors of 1 or 2 bytes are compared directly, one `vpcmpeqb` per byte: ~8 instructions per
//! step for one anchor. The built-in pack has none: Azure's `Q~` is keyed with the digit before
//! it (`0Q~` … `9Q~`), 10 table entries instead (`cargo bench --bench prefilter`: +3–10%).

use std::arch::x86_64::*;

use super::buckets::class;
use super::exact::KeywordRef;

/// Bits of the table index. On 256 MiB of git's sources 14 bits flagged 2.0 positions per KiB
/// and 15 bits 1.6, with the gathers no slower within the noise of the benchmark.
const TABLE_BITS: u32 = 15;
/// Anchors of 1 or 2 bytes compared directly; more and the filter is not worth it.
const MAX_SHORT: usize = 8;
/// Every class of the 5th byte: the low half of a table word.
const NEXT_ANY: u32 = 0x0000_ffff;
/// Every class of the 4th byte: the high half.
const FOURTH_ANY: u32 = 0xffff_0000;

/// The bit of a table word for a class of the 4th byte.
fn fourth_bit(b: u8) -> u32 {
    1 << (31 - class(b))
}

/// The bits of a table word for the classes of the 5th byte (bit `c` of `classes` for class `c`).
fn next_bits(classes: u16) -> u32 {
    u32::from(classes.reverse_bits())
}

pub struct Avx2Tables {
    /// Hash of a folded 3-byte prefix → which classes of 4th and 5th bytes follow it.
    table: Box<[u32; 1 << TABLE_BITS]>,
    /// The multiplier of [`index`].
    hash: u32,
    /// Anchors of 1 or 2 bytes, folded; a 1-byte anchor's second byte is `None`.
    short: Vec<(u8, Option<u8>)>,
}

/// An anchor and what may follow it in its keywords: bit `c & 15` for each byte `c` that
/// follows it in some keyword, or every bit when one of its keywords ends with it.
pub struct Anchor<'a> {
    pub bytes: &'a [u8],
    pub next: u16,
}

impl<'a> Anchor<'a> {
    /// Each distinct anchor (as [`super::buckets::anchors`] gives them) with the classes of the
    /// bytes that follow it in its keywords (`lowered`).
    pub fn all(distinct: &'a [(Vec<u8>, Vec<KeywordRef>)], lowered: &[Vec<u8>]) -> Vec<Self> {
        distinct
            .iter()
            .map(|(bytes, refs)| {
                let next = refs.iter().fold(0u16, |set, &(k, offset)| {
                    let after = lowered[k as usize].get(offset as usize + bytes.len());
                    set | after.map_or(u16::MAX, |&b| 1 << class(b))
                });
                Anchor { bytes, next }
            })
            .collect()
    }
}

/// Bit 5 cleared: how the kernel folds case (and aliases a few non-letters, which the exact
/// check sorts out). Clearing it lets one AND with [`PREFIX`] both fold a window's first 3 bytes
/// and drop its 4th.
const FOLD: u8 = !0x20;
/// A window's hashed prefix: its first 3 bytes, folded.
const PREFIX: u32 = u32::from_le_bytes([FOLD, FOLD, FOLD, 0]);

fn fold(b: u8) -> u8 {
    b & FOLD
}

/// Where the index starts in [`index`]'s sum: its middle bits are the ones all three bytes reach
/// (the top ones hardly depend on the first byte: 52 flags per KiB instead of 1.6).
const MID: u32 = 8;

/// `vpmaddwd` of the folded prefix with `hash`: each 16-bit half times the same half of `hash`,
/// signed, summed; then [`TABLE_BITS`] bits from [`MID`]. One instruction where a 32-bit multiply
/// (`vpmulld`) is two on Intel.
fn index(prefix: [u8; 3], hash: u32) -> usize {
    let (lo, hi) = (
        i16::from_le_bytes([fold(prefix[0]), fold(prefix[1])]),
        i16::from_le_bytes([fold(prefix[2]), 0]),
    );
    let sum = i32::from(lo) * i32::from(hash as u16 as i16)
        + i32::from(hi) * i32::from((hash >> 16) as u16 as i16);
    ((sum as u32 >> MID) & ((1 << TABLE_BITS) - 1)) as usize
}

/// The multipliers tried: each word's 16-bit halves multiply the prefix's halves ([`index`]).
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
        let grams = super::buckets::code_grams();
        let (_, hash, table) = HASHES
            .iter()
            .map(|&hash| {
                let table = Self::fill(anchors, hash);
                (Self::leak(&table, hash, grams), hash, table)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))?;
        Some(Avx2Tables { table, hash, short })
    }

    fn fill(anchors: &[Anchor], hash: u32) -> Box<[u32; 1 << TABLE_BITS]> {
        let mut table = Box::new([0u32; 1 << TABLE_BITS]);
        for a in anchors {
            let b = a.bytes;
            if b.len() < 3 {
                continue;
            }
            let fourth = b.get(3).map_or(FOURTH_ANY, |&c| fourth_bit(c));
            let next = if b.len() >= 4 {
                next_bits(a.next)
            } else {
                NEXT_ANY
            };
            table[index([b[0], b[1], b[2]], hash)] |= fourth | next;
        }
        table
    }

    /// How much of common code passes the filter: the summed rate of the listed code 4-grams
    /// whose entry lets them through, each weighted by how much of the 5th byte's classes passes.
    fn leak(table: &[u32; 1 << TABLE_BITS], hash: u32, grams: &[([u8; 4], f32)]) -> f32 {
        grams
            .iter()
            .map(|&(g, rate)| {
                let word = table[index([g[0], g[1], g[2]], hash)];
                if word & fourth_bit(g[3]) == 0 {
                    return 0.0;
                }
                rate * (word & NEXT_ANY).count_ones() as f32 / 16.0
            })
            .sum()
    }

    /// Whether a window of at least 5 bytes passes (the kernel's test, for tests).
    #[cfg(test)]
    fn passes(&self, w: &[u8]) -> bool {
        let word = self.table[index([w[0], w[1], w[2]], self.hash)];
        word & fourth_bit(w[3]) != 0 && word & next_bits(1 << class(w[4])) != 0
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
    // One AND both folds case and drops the 4th byte from the hashed prefix.
    let prefix = _mm256_set1_epi32(PREFIX as i32);
    let hash = _mm256_set1_epi32(t.hash as i32);
    let entries = _mm256_set1_epi32((1 << TABLE_BITS) - 1);
    let low4 = _mm256_set1_epi32(15);
    let upper = _mm256_set1_epi32(16);
    let fold8 = _mm256_set1_epi8(FOLD as i8);
    let short: [[__m256i; 3]; SHORT] = short_vectors(&t.short);
    // (step, the 4 gathers' lane bits a byte each, the short anchors' position bits)
    let mut found = [(0u32, 0u32, 0u32); BLOCK];
    let mut first = 0;
    while first < steps.count {
        let last = steps.count.min(first + BLOCK);
        let mut n = 0;
        for s in first..last {
            let at = p.add(s * STEP);
            // Window `r + 4k` is lane `k` of the load at `r`; its 4th byte is the top byte of that
            // lane, its 5th the top byte of lane `k` of the load at `r + 1`: five loads cover 32
            // windows, and each top byte's class serves two of them.
            let raw: [__m256i; 5] = std::array::from_fn(|r| _mm256_loadu_si256(at.add(r).cast()));
            let class: [__m256i; 5] =
                std::array::from_fn(|r| _mm256_and_si256(_mm256_srli_epi32::<24>(raw[r]), low4));
            // Byte `k` of `lanes`, bit `j`: window `r + 4j` passes.
            let lanes = (0..4).fold(0u32, |lanes, r| {
                let key = _mm256_and_si256(raw[r], prefix);
                let idx = _mm256_and_si256(
                    _mm256_srli_epi32::<{ MID as i32 }>(_mm256_madd_epi16(key, hash)),
                    entries,
                );
                let word = _mm256_i32gather_epi32::<4>(base, idx);
                let both = _mm256_and_si256(
                    _mm256_sllv_epi32(word, class[r]),
                    _mm256_sllv_epi32(word, _mm256_or_si256(class[r + 1], upper)),
                );
                lanes | (_mm256_movemask_ps(_mm256_castsi256_ps(both)) as u32) << (8 * r)
            });
            let mut hits = _mm256_setzero_si256();
            if SHORT > 0 {
                let v0 = _mm256_and_si256(raw[0], fold8);
                let v1 = _mm256_and_si256(raw[1], fold8);
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

/// Flags the positions of the steps a block noted, in order: each step's 4 gathers' lane bits
/// are spread to the positions of their windows.
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

    fn anchor(bytes: &[u8], next: u16) -> Anchor<'_> {
        Anchor { bytes, next }
    }

    /// Distinct anchors with their keywords, and the lowered keywords.
    type Pack = (Vec<(Vec<u8>, Vec<KeywordRef>)>, Vec<Vec<u8>>);

    /// The built-in pack's anchors and keywords, as the backend gets them.
    fn pack() -> Pack {
        let keywords = crate::rules::RuleSet::builtin().unwrap().keywords();
        super::super::buckets::anchors(&keywords, super::super::buckets::Lookahead::NextByte)
            .unwrap()
    }

    #[test]
    fn table_holds_every_anchor_in_both_cases() {
        let any = u16::MAX;
        let anchors = [
            anchor(b"ghp_", any),
            anchor(b"ranc", 1 << class(b'h')),
            anchor(b"cs_", any),
            anchor(b"q~", any),
        ];
        let t = Avx2Tables::new(&anchors).unwrap();
        for w in [
            b"ghp_x", b"GHP_9", b"gHp_.", b"cs_xy", b"CS_9-", b"rancH", b"RANCh",
        ] {
            assert!(t.passes(w), "{w:?}");
        }
        assert_eq!(t.short, vec![(fold(b'q'), Some(fold(b'~')))]);
        let many: Vec<Vec<u8>> = (0..=MAX_SHORT as u8).map(|i| vec![b'a' + i]).collect();
        let many: Vec<Anchor> = many.iter().map(|a| anchor(a, any)).collect();
        assert!(Avx2Tables::new(&many).is_none());
    }

    #[test]
    fn the_byte_after_an_anchor_rules_out_common_words() {
        // Only a 5th byte in a class the keyword allows there passes (`h` for rancher's `ranc`).
        let t = Avx2Tables::new(&[anchor(b"ranc", 1 << class(b'h'))]).unwrap();
        assert!(t.passes(b"ranch"));
        assert!(!t.passes(b"rance"), "rance: 5th byte e");
        assert!(!t.passes(b"ranco"), "ranco: 5th byte o");
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
            let padded = [hay.as_slice(), &[0; 4]].concat();
            let want: Vec<usize> = (0..len)
                .filter(|&p| {
                    let w = &padded[p..];
                    t.passes(w)
                        || t.short
                            .iter()
                            .any(|&(a, b)| fold(w[0]) == a && b.is_none_or(|b| fold(w[1]) == b))
                })
                .collect();
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
        kernel_agrees_with_the_table(&Anchor::all(&distinct, &lowered), &lowered);
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
            let anchors: Vec<Anchor> = keywords.iter().map(|k| anchor(k, u16::MAX)).collect();
            kernel_agrees_with_the_table(&anchors, &keywords);
        }
    }

    #[test]
    fn the_multiplier_is_chosen_to_let_the_least_common_code_through() {
        let (distinct, lowered) = pack();
        let anchors = Anchor::all(&distinct, &lowered);
        let t = Avx2Tables::new(&anchors).unwrap();
        let grams = super::super::buckets::code_grams();
        let chosen = Avx2Tables::leak(&t.table, t.hash, grams);
        for &h in &HASHES {
            assert!(chosen <= Avx2Tables::leak(&Avx2Tables::fill(&anchors, h), h, grams));
        }
    }
}
