//! The AVX2 kernel of the bucket prefilter (x86-64-v3: every x86-64 CPU since 2013-2015, AMD EPYC
//! runners included): which of 32 positions could start an anchor of which bucket, per step.
//!
//! The AVX-512 kernel looks each byte up in 64-entry tables (`vpermb`); AVX2's `vpshufb` has 16
//! entries. Teddy looks the two nibbles of a byte up separately and ANDs them, which accepts every
//! combination of nibbles and, with hundreds of anchors, flags a position every ~20 bytes of code
//! (measured: slower than the DFA). Here a byte is looked up whole instead:
//! - case is folded by setting bit 5 (`| 0x20`), which leaves 64 ASCII values (high nibble 2, 3,
//!   6 or 7) and aliases a few pairs (`\r` and `-`, `_` and DEL, ...): the aliases can only flag
//!   more positions, never fewer, and the exact check sorts them out;
//! - a 64-entry lookup is four 16-entry ones on `v - 0x20`, `v - 0x30`, `v - 0x60`, `v - 0x70`
//!   (saturating): `vpshufb` gives 0 for an index with bit 7 set, so for a byte with high nibble
//!   `h` exactly the tables at or below `h` answer, and the tables hold the XOR of consecutive
//!   rows of the real one, so XOR-ing the answers gives the byte's row. Non-ASCII bytes get 0
//!   from every table.
//!
//! That is 4 lookups and 3 XORs per group of 8 buckets and anchor position, against one lookup
//! for AVX-512, so this kernel uses fewer buckets ([`NARROW_GROUPS`] groups).
//!
//! Measured on the 542-keyword pack (`scripts/bench-dir --real`, AMD EPYC): 2.3 s of user time
//! against the DFA's 1.0 s, so it is not chosen automatically (`KEYSWEEP_PREFILTER=avx2` runs it).
//! 24 buckets for ~300 anchors flag far more positions than AVX-512's 48, and each flag costs an
//! exact check; making it pay needs fewer flags (more buckets or longer anchors), not a cheaper
//! lookup.

use std::arch::x86_64::*;

use super::buckets::{Buckets, ANCHOR, NARROW_GROUPS};

/// High nibbles whose rows the tables hold, in the order their lookups apply (see the module
/// documentation): the first row is looked up for every folded ASCII byte, each next one only for
/// bytes at or above it.
const ROWS: [u8; 4] = [0x20, 0x30, 0x60, 0x70];

pub struct Avx2Tables {
    /// Per group, anchor position and row: 16 bytes of bucket bits, XOR-chained, twice (one
    /// per 128-bit lane, so `vpshufb` takes the table straight from memory).
    rows: [[[[u8; 32]; 4]; ANCHOR]; NARROW_GROUPS],
    /// Per group and anchor position: the buckets that accept any byte there (short anchors).
    any: [[u8; ANCHOR]; NARROW_GROUPS],
}

impl Avx2Tables {
    pub fn new(b: &Buckets) -> Self {
        let (folded, any) = *b.folded();
        let mut rows = [[[[0u8; 32]; 4]; ANCHOR]; NARROW_GROUPS];
        for (g, j) in (0..NARROW_GROUPS).flat_map(|g| (0..ANCHOR).map(move |j| (g, j))) {
            for (r, &row) in ROWS.iter().enumerate() {
                let from = usize::from(row);
                rows[g][j][r][..16].copy_from_slice(&folded[g][j][from..from + 16]);
            }
        }
        for position in rows.iter_mut().flatten() {
            for r in (1..ROWS.len()).rev() {
                let below = position[r - 1];
                for (x, b) in position[r].iter_mut().zip(below) {
                    *x ^= b;
                }
            }
            for row in position.iter_mut() {
                row.copy_within(..16, 16);
            }
        }
        Avx2Tables { rows, any }
    }
}

pub const STEP: usize = 32;
/// Bytes a step reads past its own 32: the rest of the anchors starting at its last positions.
pub const AHEAD: usize = ANCHOR - 1;

/// Flags, in order, each position of `hay` where some bucket's anchors could start, with the
/// bucket bits: `flag(position, bits)`.
///
/// # Safety
/// Only for CPUs with AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn scan_avx2(t: &Avx2Tables, hay: &[u8], mut flag: impl FnMut(usize, u64)) {
    super::in_steps(hay, STEP, AHEAD, |buf, steps| {
        // SAFETY: the features are the caller's promise, the bounds `in_steps`'s.
        unsafe { run(t, buf, steps, &mut flag) }
    });
}

/// `steps` steps of 32 positions from `buf` (`in_steps` checked that it holds the bytes this
/// reads); `buf` starts at haystack position `base`, and flags at or past `limit` are dropped.
#[target_feature(enable = "avx2")]
unsafe fn run(t: &Avx2Tables, buf: &[u8], steps: super::Steps, flag: &mut impl FnMut(usize, u64)) {
    let p = buf.as_ptr();
    let zero = _mm256_setzero_si256();
    for s in 0..steps.count {
        let at = s * STEP;
        let mut m = [_mm256_set1_epi8(-1); NARROW_GROUPS];
        for j in 0..ANCHOR {
            let idx = indices(_mm256_loadu_si256(p.add(at + j).cast()));
            for (g, mg) in m.iter_mut().enumerate() {
                *mg = _mm256_and_si256(*mg, lookup(&t.rows[g][j], &idx, t.any[g][j]));
            }
        }
        let mut all = zero;
        for &mg in &m {
            all = _mm256_or_si256(all, mg);
        }
        let any = !(_mm256_movemask_epi8(_mm256_cmpeq_epi8(all, zero)) as u32);
        if any == 0 {
            continue;
        }
        let mut bytes = [[0u8; STEP]; NARROW_GROUPS];
        for (b, &mg) in bytes.iter_mut().zip(&m) {
            _mm256_storeu_si256(b.as_mut_ptr().cast(), mg);
        }
        super::report(u64::from(any), &bytes, (steps, s), flag);
    }
}

/// The four lookup indices of 32 haystack bytes (see the module documentation).
#[inline]
#[target_feature(enable = "avx2")]
fn indices(raw: __m256i) -> [__m256i; 4] {
    let v = _mm256_or_si256(raw, _mm256_set1_epi8(0x20));
    [
        _mm256_subs_epi8(v, _mm256_set1_epi8(ROWS[0] as i8)),
        _mm256_subs_epi8(v, _mm256_set1_epi8(ROWS[1] as i8)),
        _mm256_subs_epi8(v, _mm256_set1_epi8(ROWS[2] as i8)),
        _mm256_subs_epi8(v, _mm256_set1_epi8(ROWS[3] as i8)),
    ]
}

/// One group's bucket bits at one anchor position for the bytes behind `idx`.
#[inline]
#[target_feature(enable = "avx2")]
fn lookup(rows: &[[u8; 32]; 4], idx: &[__m256i; 4], any: u8) -> __m256i {
    // SAFETY: each row is 32 bytes.
    let row = |r: usize| unsafe { _mm256_loadu_si256(rows[r].as_ptr().cast()) };
    let a = _mm256_xor_si256(
        _mm256_shuffle_epi8(row(0), idx[0]),
        _mm256_shuffle_epi8(row(1), idx[1]),
    );
    let b = _mm256_xor_si256(
        _mm256_shuffle_epi8(row(2), idx[2]),
        _mm256_shuffle_epi8(row(3), idx[3]),
    );
    _mm256_or_si256(_mm256_xor_si256(a, b), _mm256_set1_epi8(any as i8))
}
