//! The AVX2 prefilter kernel (x86-64-v3: every x86-64 CPU since 2013-2015, AMD EPYC runners
//! included): a hashed filter on 3-byte prefixes with a 32-bit signature of the 4th byte, looked
//! up with `vpgatherdd`, 32 positions per step.
//!
//! The bucket filter ([`super::buckets`]) asks, per position, whether each of 4 bytes is in its
//! bucket's set. AVX2's `vpshufb` looks up 16 entries at a time, so a whole-byte lookup costs 4
//! shuffles per group of 8 buckets, and the 24 buckets it could afford flagged one position in 8
//! of real source with the 840-keyword pack (every combination of the bytes of ~30 anchors a
//! bucket holds passes): slower than the DFA. Here each position is looked up whole instead:
//! - the first 3 bytes of its window, case folded by setting bit 5, hash (one multiply) to an
//!   entry of a 8192-entry table of 32-bit words (32 KiB), gathered 8 at a time;
//! - bit `b & 31` of that word, for the 4th byte `b`, says whether some anchor has that 3-byte
//!   prefix and a 4th byte in that class (3-byte anchors set every bit).
//!
//! A position passes for about 1 % of real source windows; each flag is then checked exactly
//! ([`super::exact`]). Anchors of 1 or 2 bytes (the pack has one) are compared directly, one
//! `vpcmpeqb` per byte.

use std::arch::x86_64::*;

/// Bits of the table index.
const TABLE_BITS: u32 = 13;
/// Anchors of 1 or 2 bytes compared directly; more and the filter is not worth it.
const MAX_SHORT: usize = 8;

pub struct Avx2Tables {
    /// Hash of a folded 3-byte prefix → which 4th bytes (low 5 bits) an anchor has after it.
    table: Box<[u32; 1 << TABLE_BITS]>,
    /// Anchors of 1 or 2 bytes, folded; a 1-byte anchor's second byte is `None`.
    short: Vec<(u8, Option<u8>)>,
}

/// Bit 5 set: how the kernel folds case (and aliases a few non-letters, which the exact check
/// sorts out).
fn fold(b: u8) -> u8 {
    b | 0x20
}

fn index(prefix: [u8; 3]) -> usize {
    let w = u32::from_le_bytes([fold(prefix[0]), fold(prefix[1]), fold(prefix[2]), 0]);
    (w.wrapping_mul(HASH) >> (32 - TABLE_BITS)) as usize
}

const HASH: u32 = 0x9E37_79B1;

impl Avx2Tables {
    /// `None` when more than [`MAX_SHORT`] anchors are shorter than 3 bytes.
    pub fn new(anchors: &[Vec<u8>]) -> Option<Self> {
        let mut table = Box::new([0u32; 1 << TABLE_BITS]);
        let mut short = Vec::new();
        for a in anchors {
            match a.len() {
                0 => {}
                1 | 2 => short.push((fold(a[0]), a.get(1).map(|&b| fold(b)))),
                3 => table[index([a[0], a[1], a[2]])] = u32::MAX,
                _ => table[index([a[0], a[1], a[2]])] |= 1 << (a[3] & 31),
            }
        }
        (short.len() <= MAX_SHORT).then_some(Avx2Tables { table, short })
    }
}

pub const STEP: usize = 32;
/// Bytes a step reads past its own 32: the rest of the windows starting at its last positions.
pub const AHEAD: usize = 3;

/// Flags, in order, each position of `hay` where an anchor could start: `flag(position)`.
///
/// # Safety
/// Only for CPUs with AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn scan_avx2(t: &Avx2Tables, hay: &[u8], mut flag: impl FnMut(usize)) {
    super::in_steps(hay, STEP, AHEAD, |buf, steps| {
        // SAFETY: the features are the caller's promise, the bounds `in_steps`'s.
        unsafe { run(t, buf, steps, &mut flag) }
    });
}

/// `steps` steps of 32 positions from `buf` (`in_steps` checked that it holds the bytes this
/// reads); `buf` starts at haystack position `base`, and flags at or past `limit` are dropped.
#[target_feature(enable = "avx2")]
unsafe fn run(t: &Avx2Tables, buf: &[u8], steps: super::Steps, flag: &mut impl FnMut(usize)) {
    let p = buf.as_ptr();
    let base = t.table.as_ptr().cast::<i32>();
    let bit5 = _mm256_set1_epi8(0x20);
    let prefix = _mm256_set1_epi32(0x00ff_ffff);
    let hash = _mm256_set1_epi32(HASH as i32);
    let low5 = _mm256_set1_epi32(31);
    let one = _mm256_set1_epi32(1);
    let short: Vec<(__m256i, Option<__m256i>)> = t
        .short
        .iter()
        .map(|&(a, b)| {
            let b = b.map(|b| _mm256_set1_epi8(b as i8));
            (_mm256_set1_epi8(a as i8), b)
        })
        .collect();
    for s in 0..steps.count {
        let at = p.add(s * STEP);
        // Window `r + 4k` is lane `k` of the load at `r`: four loads cover 32 windows.
        let raw: [__m256i; 4] = std::array::from_fn(|r| _mm256_loadu_si256(at.add(r).cast()));
        let mut flags = _mm256_setzero_si256();
        for (r, &v) in raw.iter().enumerate() {
            let key = _mm256_and_si256(_mm256_or_si256(v, bit5), prefix);
            let idx =
                _mm256_srli_epi32::<{ 32 - TABLE_BITS as i32 }>(_mm256_mullo_epi32(key, hash));
            let word = _mm256_i32gather_epi32::<4>(base, idx);
            let class = _mm256_and_si256(_mm256_srli_epi32::<24>(v), low5);
            let hit = _mm256_and_si256(_mm256_srlv_epi32(word, class), one);
            // To the top bit of byte `r` of the lane: the byte of window `r + 4k` in `flags`.
            let hit = _mm256_sllv_epi32(hit, _mm256_set1_epi32(8 * r as i32 + 7));
            flags = _mm256_or_si256(flags, hit);
        }
        for &(a, b) in &short {
            let v0 = _mm256_or_si256(raw[0], bit5);
            let mut m = _mm256_cmpeq_epi8(v0, a);
            if let Some(b) = b {
                let v1 = _mm256_or_si256(raw[1], bit5);
                m = _mm256_and_si256(m, _mm256_cmpeq_epi8(v1, b));
            }
            flags = _mm256_or_si256(flags, m);
        }
        let any = _mm256_movemask_epi8(flags) as u32;
        if any != 0 {
            super::report::<1>(u64::from(any), STEP, (steps, s), flag);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_holds_every_anchor_in_both_cases() {
        let anchors = [b"ghp_".to_vec(), b"cs_".to_vec(), b"q~".to_vec()];
        let t = Avx2Tables::new(&anchors).unwrap();
        let passes = |w: &[u8; 4]| t.table[index([w[0], w[1], w[2]])] & (1 << (w[3] & 31)) != 0;
        for w in [b"ghp_", b"GHP_", b"gHp_", b"cs_x", b"CS_9"] {
            assert!(passes(w), "{w:?}");
        }
        assert_eq!(t.short, vec![(b'q', Some(b'~'))]);
        let many: Vec<Vec<u8>> = (0..=MAX_SHORT as u8).map(|i| vec![b'a' + i]).collect();
        assert!(Avx2Tables::new(&many).is_none());
    }
}
