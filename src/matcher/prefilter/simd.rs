//! The x86-64 kernel of the bucket prefilter (AVX-512 VBMI): which of 64 positions could start an
//! anchor of which bucket, per step.
//!
//! It is Teddy (Hyperscan, the aho-corasick crate) reworked for hundreds of keywords:
//! - 48 buckets in 6 groups of 8 instead of 8 or 16, chosen by clustering ([`super::buckets`]);
//! - each byte is first mapped to its *class* (one per distinct anchor byte, case folded, and 0
//!   for every other byte) with a 128-entry `vpermi2b` lookup; then, per anchor position and
//!   group, a 64-entry `vpermb` lookup gives the group's buckets that accept that class there.
//!   Teddy's `pshufb` looks up the two nibbles of a byte separately and accepts every
//!   combination of them, which with hundreds of anchors flags a position every ~20 bytes of
//!   code (measured); whole-byte classes flag one every ~450 bytes.
//!
//! The AND of the 4 positions' lookups at `hay[i + j]` gives, for each `i`, the buckets whose
//! every position accepts the haystack. All 26 tables stay in registers.
//!
//! CPUs without VBMI use the AVX2 kernel ([`super::avx2`]), which looks bytes up in 16-entry
//! pieces.

use std::arch::x86_64::*;

use super::buckets::{Buckets, ANCHOR, GROUP, GROUPS};

pub struct VbmiTables {
    /// Byte (0..127) → class.
    class: [u8; 128],
    /// Per group and anchor position: class → the group's bucket bits.
    buckets: [[[u8; 64]; ANCHOR]; GROUPS],
}

impl VbmiTables {
    /// `None` when the anchors hold more distinct bytes than 63 classes can name.
    pub fn new(b: &Buckets) -> Option<Self> {
        let used = b.anchor_bytes();
        if used.count_ones() > 63 {
            return None;
        }
        let mut class = [0u8; 128];
        let mut next = 1u8;
        for x in 0..128u8 {
            if used & (1u128 << x) != 0 {
                class[usize::from(x)] = next;
                next += 1;
            }
        }
        for x in b'A'..=b'Z' {
            class[usize::from(x)] = class[usize::from(x.to_ascii_lowercase())];
        }
        // A class is one anchor byte (both cases), so every bucket accepts all of a class's bytes
        // or none. Class 0 holds the bytes in no anchor, ASCII or not (the kernel masks non-ASCII
        // bytes to it): it passes only where a bucket accepts any byte.
        let mut buckets = [[[0u8; 64]; ANCHOR]; GROUPS];
        for bucket in 0..b.len() {
            let (g, bit) = (bucket / GROUP, 1u8 << (bucket % GROUP));
            for (j, table) in buckets[g].iter_mut().enumerate() {
                for x in 0..128u8 {
                    if b.accepts(bucket, j, x) {
                        table[usize::from(class[usize::from(x)])] |= bit;
                    }
                }
                if b.accepts_any(bucket, j) {
                    table[0] |= bit;
                }
            }
        }
        Some(VbmiTables { class, buckets })
    }
}

const STEP: usize = 64;

/// Calls `flag(position)` for every position of `hay` some bucket accepts, in order.
///
/// # Safety
/// The CPU must support AVX-512 F, BW and VBMI.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
pub unsafe fn scan_vbmi(t: &VbmiTables, hay: &[u8], mut flag: impl FnMut(usize)) {
    // Each step also reads the next step's 64 bytes (its first 3 complete the anchors of the
    // step's last positions).
    super::in_steps(hay, STEP, STEP, |buf, steps| {
        // SAFETY: the features are the caller's promise, the bounds `in_steps`'s.
        unsafe { run(t, buf, steps, &mut flag) }
    });
}

/// `steps` steps from the start of `buf` (see [`super::in_steps`]: it holds the
/// `(steps + 1) * STEP` bytes this reads), which is haystack position `base`. Flags at or past
/// `limit` are dropped.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
unsafe fn run(t: &VbmiTables, buf: &[u8], steps: super::Steps, flag: &mut impl FnMut(usize)) {
    let p = buf.as_ptr();
    let class_lo = _mm512_loadu_si512(t.class.as_ptr().cast());
    let class_hi = _mm512_loadu_si512(t.class.as_ptr().add(64).cast());
    let tables: [[__m512i; ANCHOR]; GROUPS] = std::array::from_fn(|g| {
        std::array::from_fn(|j| _mm512_loadu_si512(t.buckets[g][j].as_ptr().cast()))
    });
    let classes = |at: *const u8| {
        let v = _mm512_loadu_si512(at.cast());
        // Non-ASCII bytes would index with their low 7 bits: make them class 0.
        let ascii = !_mm512_movepi8_mask(v);
        _mm512_maskz_permutex2var_epi8(ascii, class_lo, v, class_hi)
    };
    let mut cur = classes(p);
    for s in 0..steps.count {
        let next = classes(p.add((s + 1) * STEP));
        // The classes of bytes 1, 2 and 3 further on: `cur` shifted across its 128-bit lanes,
        // its top filled from `next` (one lane move, then byte shifts within lanes). Cheaper
        // than three more loads and class lookups.
        let ahead16 = _mm512_alignr_epi32::<4>(next, cur);
        let c = [
            cur,
            _mm512_alignr_epi8::<1>(ahead16, cur),
            _mm512_alignr_epi8::<2>(ahead16, cur),
            _mm512_alignr_epi8::<3>(ahead16, cur),
        ];
        cur = next;
        let mut any: u64 = 0;
        for &[t0, t1, t2, t3] in &tables {
            let m0 = _mm512_permutexvar_epi8(c[0], t0);
            let m1 = _mm512_permutexvar_epi8(c[1], t1);
            let m2 = _mm512_permutexvar_epi8(c[2], t2);
            let m3 = _mm512_permutexvar_epi8(c[3], t3);
            // 0x80: a AND b AND c.
            let m = _mm512_and_si512(_mm512_ternarylogic_epi32::<0x80>(m0, m1, m2), m3);
            any |= _mm512_test_epi8_mask(m, m);
        }
        super::report::<1>(any, STEP, (steps, s), flag);
    }
}
