//! The exact check of a position the SIMD pass flags: which anchors start there, by hash lookup,
//! then which of their keywords occur.
//!
//! The SIMD filter accepts a position when each of its 4 bytes is in the bucket's set for that
//! place, so it also lets through combinations no anchor has; with the whole pack (~800 anchors
//! in 24 to 48 buckets) most flags are such. Comparing a flag with every anchor of its buckets
//! cost 20 to 40 comparisons and their branch mispredictions per flag, and made the SIMD
//! backends slower than the DFA. Here a flag costs one bitset test per anchor length present
//! (a 64 Kibit set indexed by a hash of the case-folded word: about one anchor in 80 false
//! alarms), and only the rare flags that pass probe the table of anchors.

use std::ops::Range;

/// (keyword, offset of the anchor inside it)
pub type KeywordRef = (u32, u32);

/// Bits of the hash that index [`Exact::filter`].
const FILTER_BITS: u32 = 16;

#[derive(Clone, Copy)]
struct Slot {
    /// The anchor's folded bytes, little-endian, zero past its length.
    key: u32,
    /// Its index in `Exact::anchors`, or `u32::MAX` for a free slot.
    anchor: u32,
}

const FREE: u32 = u32::MAX;

pub struct Exact {
    /// The anchor lengths present, longest first, each with the mask of its bytes in a word.
    lengths: Vec<(u32, u32)>,
    /// Bit `h >> (32 - FILTER_BITS)` is set for the hash `h` of every anchor.
    filter: Box<[u64]>,
    /// Open addressing with linear probing, indexed by the hash's low bits.
    slots: Box<[Slot]>,
    /// Per anchor: its length and its range of `refs`.
    anchors: Vec<(u32, Range<usize>)>,
    refs: Vec<KeywordRef>,
    /// Lowercased keywords and their case masks (0x20 at letters).
    keywords: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Exact {
    /// `anchors`: each distinct (lowercased, 1 to 4 bytes) anchor with the keywords it stands
    /// for; `lowered`: every keyword, lowercased.
    pub fn new(anchors: &[(Vec<u8>, Vec<KeywordRef>)], lowered: &[Vec<u8>]) -> Exact {
        let size = (anchors.len() * 4).next_power_of_two().max(16);
        let mut exact = Exact {
            lengths: Vec::new(),
            filter: vec![0u64; (1 << FILTER_BITS) / 64].into_boxed_slice(),
            slots: vec![
                Slot {
                    key: 0,
                    anchor: FREE
                };
                size
            ]
            .into_boxed_slice(),
            anchors: Vec::new(),
            refs: Vec::new(),
            keywords: lowered
                .iter()
                .map(|k| {
                    let case = k
                        .iter()
                        .map(|b| if b.is_ascii_lowercase() { 0x20 } else { 0 });
                    (k.clone(), case.collect())
                })
                .collect(),
        };
        for (bytes, keywords) in anchors {
            let len = bytes.len() as u32;
            let mut word = [0u8; 4];
            word[..bytes.len()].copy_from_slice(bytes);
            let key = u32::from_le_bytes(word);
            let from = exact.refs.len();
            exact.refs.extend_from_slice(keywords);
            exact.anchors.push((len, from..exact.refs.len()));
            let h = hash(key, len);
            exact.filter[(h >> (32 - FILTER_BITS)) as usize / 64] |=
                1 << ((h >> (32 - FILTER_BITS)) % 64);
            let mut i = h as usize & (size - 1);
            while exact.slots[i].anchor != FREE {
                i = (i + 1) & (size - 1);
            }
            exact.slots[i] = Slot {
                key,
                anchor: exact.anchors.len() as u32 - 1,
            };
            if !exact.lengths.iter().any(|&(l, _)| l == len) {
                exact.lengths.push((len, u32::MAX >> (32 - 8 * len)));
            }
        }
        exact
            .lengths
            .sort_by_key(|&(len, _)| std::cmp::Reverse(len));
        exact
    }

    /// Every keyword whose anchor starts at `at` and which occurs in full:
    /// `hit(keyword, start, end)`.
    #[inline]
    pub fn verify(&self, hay: &[u8], at: usize, mut hit: impl FnMut(usize, usize, usize)) {
        let word = fold(match hay.get(at..at + 4) {
            Some(w) => u32::from_le_bytes([w[0], w[1], w[2], w[3]]),
            None => read_u32_padded(hay, at),
        });
        for &(len, mask) in &self.lengths {
            let key = word & mask;
            let h = hash(key, len);
            let f = h >> (32 - FILTER_BITS);
            if self.filter[f as usize / 64] & (1 << (f % 64)) == 0 {
                continue;
            }
            let size = self.slots.len();
            let mut i = h as usize & (size - 1);
            loop {
                let slot = self.slots[i];
                if slot.anchor == FREE {
                    break;
                }
                let (alen, ref refs) = self.anchors[slot.anchor as usize];
                if slot.key == key && alen == len {
                    self.keywords_at(hay, at, &self.refs[refs.clone()], &mut hit);
                    break;
                }
                i = (i + 1) & (size - 1);
            }
        }
    }

    /// The keywords of one anchor found at `at` that occur in full around it.
    fn keywords_at(
        &self,
        hay: &[u8],
        at: usize,
        refs: &[KeywordRef],
        hit: &mut impl FnMut(usize, usize, usize),
    ) {
        for &(k, offset) in refs {
            let (k, offset) = (k as usize, offset as usize);
            let Some(start) = at.checked_sub(offset) else {
                continue;
            };
            let (lower, case) = &self.keywords[k];
            let end = start + lower.len();
            if end <= hay.len()
                && hay[start..end]
                    .iter()
                    .zip(lower.iter().zip(case))
                    .all(|(&h, (&l, &c))| h | c == l)
            {
                hit(k, start, end);
            }
        }
    }
}

/// Multiplicative hash of an anchor word and its length (the length keeps `ab` apart from a
/// 4-byte anchor `ab\0\0`).
#[inline]
fn hash(key: u32, len: u32) -> u32 {
    (key ^ (len << 29)).wrapping_mul(0x9E37_79B1)
}

/// ASCII lowercase of the four bytes of a word; other bytes unchanged (no anchor holds an
/// upper-case or non-ASCII byte, so those never match anyway).
#[inline]
fn fold(w: u32) -> u32 {
    let t = w & 0x7f7f_7f7f;
    // Bit 7 of each byte: at least `A`, above `Z`; both below 0x80, so no carry crosses bytes.
    let upper = t.wrapping_add(0x3f3f_3f3f) & !t.wrapping_add(0x2525_2525) & !w & 0x8080_8080;
    w | (upper >> 2)
}

fn read_u32_padded(hay: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    let n = hay.len().saturating_sub(at).min(4);
    w[..n].copy_from_slice(&hay[at..at + n]);
    u32::from_le_bytes(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_lowers_ascii_letters_only() {
        for b in 0..=255u8 {
            let w = u32::from_le_bytes([b, b'Q', b, 0xC1]);
            let want =
                u32::from_le_bytes([b.to_ascii_lowercase(), b'q', b.to_ascii_lowercase(), 0xC1]);
            assert_eq!(fold(w), want, "byte {b:#x}");
        }
    }

    #[test]
    fn verify_checks_case_insensitively_and_at_the_edges() {
        let lowered = vec![b"sk_live_".to_vec(), b"q~".to_vec(), b"ab".to_vec()];
        let anchors = vec![
            (b"live".to_vec(), vec![(0, 3)]),
            (b"q~".to_vec(), vec![(1, 0)]),
            (b"ab".to_vec(), vec![(2, 0)]),
        ];
        let e = Exact::new(&anchors, &lowered);
        let mut got = Vec::new();
        let hay = b"xSK_Live_ q~ ab\0\0";
        for at in 0..hay.len() {
            e.verify(hay, at, |k, s, e| got.push((k, s, e)));
        }
        assert_eq!(got, vec![(0, 1, 9), (1, 10, 12), (2, 13, 15)]);
        got.clear();
        for at in 0..7 {
            e.verify(b"sk_live", at, |k, s, e| got.push((k, s, e)));
        }
        assert!(got.is_empty(), "a keyword cut by the end is not a hit");
    }
}
