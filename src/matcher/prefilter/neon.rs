//! The aarch64 kernel of the bucket prefilter (NEON, which every aarch64 CPU has: Apple Silicon,
//! Graviton, Ampere): which of 16 positions could start an anchor of which bucket, per step.
//!
//! Like the AVX2 kernel it folds case by setting bit 5, which leaves 64 ASCII values: 32 with high
//! nibble 2 or 3 and 32 with 6 or 7. `tbl` looks up to 64 bytes up at once and gives 0 for an
//! index past the table, so a byte's row is two 32-entry lookups, on `v - 0x20` and on
//! `v - 0x60` (wrapping), OR-ed: at most one of them is in range, neither for non-ASCII bytes.

use std::arch::aarch64::*;

use super::buckets::{Buckets, ANCHOR, NARROW_GROUPS};

/// First folded byte of each half of the table.
const HALVES: [u8; 2] = [0x20, 0x60];

pub struct NeonTables {
    /// Per group, anchor position and half: the bucket bits of 32 folded bytes.
    halves: [[[[u8; 32]; 2]; ANCHOR]; NARROW_GROUPS],
    /// Per group and anchor position: the buckets that accept any byte there (short anchors).
    any: [[u8; ANCHOR]; NARROW_GROUPS],
}

impl NeonTables {
    pub fn new(b: &Buckets) -> Self {
        let (folded, any) = *b.folded();
        let halves = std::array::from_fn(|g| {
            std::array::from_fn(|j| {
                HALVES.map(|first| {
                    let from = usize::from(first);
                    folded[g][j][from..from + 32].try_into().unwrap()
                })
            })
        });
        NeonTables { halves, any }
    }
}

pub const STEP: usize = 16;
/// Bytes a step reads past its own 16: the rest of the anchors starting at its last positions.
pub const AHEAD: usize = ANCHOR - 1;

/// For each position of `hay`, in order, that could start an anchor: `flag(position)`.
///
/// # Safety
/// NEON is required (every aarch64 CPU that runs Rust's std has it).
#[target_feature(enable = "neon")]
pub unsafe fn scan_neon(t: &NeonTables, hay: &[u8], mut flag: impl FnMut(usize)) {
    super::in_steps(hay, STEP, AHEAD, |buf, steps| {
        // SAFETY: the features are the caller's promise, the bounds `in_steps`'s.
        unsafe { run(t, buf, steps, &mut flag) }
    });
}

/// `steps` steps of 16 positions over `buf`, whose length `in_steps` checked; position 0 of
/// `buf` is `base` in the haystack, and nothing at or past `limit` is flagged.
#[target_feature(enable = "neon")]
unsafe fn run(t: &NeonTables, buf: &[u8], steps: super::Steps, flag: &mut impl FnMut(usize)) {
    let p = buf.as_ptr();
    let tables: [[[uint8x16x2_t; 2]; ANCHOR]; NARROW_GROUPS] = std::array::from_fn(|g| {
        std::array::from_fn(|j| {
            // SAFETY: each half is 32 bytes.
            std::array::from_fn(|h| unsafe { vld1q_u8_x2(t.halves[g][j][h].as_ptr()) })
        })
    });
    for s in 0..steps.count {
        let at = s * STEP;
        let mut m = [vdupq_n_u8(0xff); NARROW_GROUPS];
        for j in 0..ANCHOR {
            let v = vorrq_u8(vld1q_u8(p.add(at + j)), vdupq_n_u8(0x20));
            let lo = vsubq_u8(v, vdupq_n_u8(HALVES[0]));
            let hi = vsubq_u8(v, vdupq_n_u8(HALVES[1]));
            for (g, mg) in m.iter_mut().enumerate() {
                let [tl, th] = tables[g][j];
                let hit = vorrq_u8(vqtbl2q_u8(tl, lo), vqtbl2q_u8(th, hi));
                let hit = vorrq_u8(hit, vdupq_n_u8(t.any[g][j]));
                *mg = vandq_u8(*mg, hit);
            }
        }
        let mut all = vdupq_n_u8(0);
        for &mg in &m {
            all = vorrq_u8(all, mg);
        }
        // A nibble per byte, set where any bucket accepts the position (NEON has no movemask).
        let nonzero = vreinterpretq_u16_u8(vtstq_u8(all, all));
        let any = vget_lane_u64::<0>(vreinterpret_u64_u8(vshrn_n_u16::<4>(nonzero)));
        super::report::<4>(any, STEP, (steps, s), flag);
    }
}
