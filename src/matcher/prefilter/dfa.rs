//! The portable prefilter: an Aho-Corasick automaton compiled to a dense DFA over byte classes.
//! Used where the SIMD kernels cannot run. Two things make it faster than a general-purpose DFA
//! search on this workload:
//! - Case folding is free: the byte → class map sends `A` and `a` to the same class.
//! - A DFA walk is bound by the latency of its table loads (each step needs the previous
//!   state), not by throughput. The buffer is cut into [`LANES`] segments walked in lockstep,
//!   so the CPU overlaps independent loads. Segments overlap by the longest keyword minus one
//!   byte, and each hit is reported by the one lane whose segment holds its last byte.

use std::collections::VecDeque;

use super::Hit;

/// Independent walks interleaved in the hot loop.
const LANES: usize = 4;
/// Below this many bytes per lane, one walk is cheaper than setting up four.
const MIN_LANE: usize = 256;

pub struct KeywordDfa {
    /// Byte → class; case-folded, so the automaton only ever sees lowercase.
    classes: [u16; 256],
    stride_shift: u32,
    /// Premultiplied: `trans[state + class]` is the next premultiplied state.
    trans: Vec<u32>,
    /// States at or above this (premultiplied) id end at least one keyword.
    match_min: u32,
    /// For each matching state (indexed from `match_min`): the keywords ending there.
    outputs: Vec<Vec<usize>>,
    lengths: Vec<usize>,
    max_len: usize,
}

/// Per-lane hit buffers, reused between calls.
#[derive(Default)]
pub struct DfaScratch {
    lanes: [Vec<(u32, usize)>; LANES],
}

impl KeywordDfa {
    /// Builds the automaton. Keywords are matched ASCII case-insensitively; empty keywords
    /// are ignored.
    pub fn new(keywords: &[impl AsRef<[u8]>]) -> Self {
        let lowered: Vec<Vec<u8>> = keywords
            .iter()
            .map(|k| k.as_ref().to_ascii_lowercase())
            .collect();
        let lengths: Vec<usize> = lowered.iter().map(Vec::len).collect();

        let (classes, count) = byte_classes(&lowered);
        let stride = count.next_power_of_two();
        let (delta, mut out) = aho_corasick_delta(&lowered, &classes, stride);
        let n = delta.len();

        // Renumber so matching states come last: one comparison tells "a keyword ends here".
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&s| (!out[s].is_empty(), s != 0));
        let mut new_id = vec![0usize; n];
        for (new, &old) in order.iter().enumerate() {
            new_id[old] = new;
        }
        let shift = stride.trailing_zeros();
        let mut trans = vec![0u32; n * stride];
        for (old, row) in delta.iter().enumerate() {
            let base = new_id[old] * stride;
            for (c, &t) in row.iter().enumerate() {
                trans[base + c] = (new_id[t] << shift) as u32;
            }
        }
        let first_match = order.iter().position(|&s| !out[s].is_empty()).unwrap_or(n);
        let outputs = order[first_match..]
            .iter()
            .map(|&s| std::mem::take(&mut out[s]))
            .collect();
        KeywordDfa {
            classes,
            stride_shift: shift,
            trans,
            match_min: (first_match << shift) as u32,
            outputs,
            max_len: lengths.iter().copied().max().unwrap_or(0),
            lengths,
        }
    }

    /// Calls `hit` for every keyword occurrence (overlapping ones included), in order of end.
    pub fn for_each(&self, hay: &[u8], scratch: &mut DfaScratch, mut hit: impl FnMut(Hit)) {
        for lane in &mut scratch.lanes {
            lane.clear();
        }
        if self.outputs.is_empty() {
            return;
        }
        let segment = hay.len() / LANES;
        if segment < MIN_LANE.max(self.max_len) {
            self.walk(hay, 0, 0, &mut scratch.lanes[0]);
        } else {
            self.walk_lanes(hay, segment, &mut scratch.lanes);
        }
        for lane in &scratch.lanes {
            for &(state, end) in lane {
                let index = ((state - self.match_min) >> self.stride_shift) as usize;
                for &k in &self.outputs[index] {
                    hit(Hit {
                        end,
                        start: end - self.lengths[k],
                        keyword: k,
                    });
                }
            }
        }
    }

    /// One walk over `hay[from..]`, recording hits whose last byte is at or after `report`.
    fn walk(&self, hay: &[u8], from: usize, report: usize, hits: &mut Vec<(u32, usize)>) {
        let mut s = 0u32;
        for (i, &b) in hay.iter().enumerate().skip(from) {
            s = self.trans[(s + u32::from(self.classes[b as usize])) as usize];
            if s >= self.match_min && i >= report {
                hits.push((s, i + 1));
            }
        }
    }

    fn walk_lanes(&self, hay: &[u8], segment: usize, hits: &mut [Vec<(u32, usize)>; LANES]) {
        let overlap = self.max_len.saturating_sub(1);
        // Lane k reports hits ending in [k * segment, (k + 1) * segment) (the last lane: to
        // the end) and starts `overlap` bytes early so keywords across the cut are whole.
        let starts: [usize; LANES] = std::array::from_fn(|k| (k * segment).saturating_sub(overlap));
        let ends: [usize; LANES] = std::array::from_fn(|k| {
            if k + 1 == LANES {
                hay.len()
            } else {
                (k + 1) * segment
            }
        });
        let steps = (0..LANES).map(|k| ends[k] - starts[k]).min().unwrap_or(0);
        let (t, c, mm) = (&self.trans, &self.classes, self.match_min);
        let mut s = [0u32; LANES];
        let [l0, l1, l2, l3]: [&[u8]; LANES] =
            std::array::from_fn(|k| &hay[starts[k]..starts[k] + steps]);
        let lockstep = l0.iter().zip(l1).zip(l2).zip(l3).enumerate();
        for (i, (((&b0, &b1), &b2), &b3)) in lockstep {
            // Four independent dependency chains: the point of the lanes. Written out, because
            // the generic loop measured 20-25% slower.
            s[0] = t[(s[0] + u32::from(c[b0 as usize])) as usize];
            s[1] = t[(s[1] + u32::from(c[b1 as usize])) as usize];
            s[2] = t[(s[2] + u32::from(c[b2 as usize])) as usize];
            s[3] = t[(s[3] + u32::from(c[b3 as usize])) as usize];
            if (s[0] >= mm) | (s[1] >= mm) | (s[2] >= mm) | (s[3] >= mm) {
                for k in 0..LANES {
                    let at = starts[k] + i;
                    if s[k] >= mm && at >= k * segment {
                        hits[k].push((s[k], at + 1));
                    }
                }
            }
        }
        // Each lane finishes its own tail from where the lockstep stopped.
        for k in 0..LANES {
            let mut state = s[k];
            for at in starts[k] + steps..ends[k] {
                state = t[(state + u32::from(c[hay[at] as usize])) as usize];
                if state >= mm && at >= k * segment {
                    hits[k].push((state, at + 1));
                }
            }
        }
    }
}

/// Byte classes: one per distinct (lowercased) keyword byte, 0 for everything else; upper
/// case letters share their lower case class. Returns the table and the number of classes.
fn byte_classes(lowered: &[Vec<u8>]) -> ([u16; 256], usize) {
    let mut classes = [0u16; 256];
    let mut count = 1usize;
    for k in lowered {
        for &b in k {
            if classes[b as usize] == 0 {
                classes[b as usize] = count as u16;
                count += 1;
            }
        }
    }
    for b in b'A'..=b'Z' {
        classes[b as usize] = classes[b.to_ascii_lowercase() as usize];
    }
    (classes, count)
}

/// The full transition table of the Aho-Corasick automaton over byte classes (a trie with goto
/// edges, then failure links in breadth-first order), and each state's keywords.
fn aho_corasick_delta(
    lowered: &[Vec<u8>],
    classes: &[u16; 256],
    stride: usize,
) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let mut goto: Vec<Vec<Option<usize>>> = vec![vec![None; stride]];
    let mut out: Vec<Vec<usize>> = vec![Vec::new()];
    for (i, k) in lowered.iter().enumerate() {
        if k.is_empty() {
            continue;
        }
        let mut s = 0;
        for &b in k {
            let c = classes[b as usize] as usize;
            s = match goto[s][c] {
                Some(n) => n,
                None => {
                    goto.push(vec![None; stride]);
                    out.push(Vec::new());
                    let n = goto.len() - 1;
                    goto[s][c] = Some(n);
                    n
                }
            };
        }
        out[s].push(i);
    }
    let n = goto.len();
    let mut fail = vec![0usize; n];
    let mut delta = vec![vec![0usize; stride]; n];
    let mut queue = VecDeque::new();
    for c in 0..stride {
        if let Some(s) = goto[0][c] {
            delta[0][c] = s;
            queue.push_back(s);
        }
    }
    while let Some(s) = queue.pop_front() {
        let inherited = out[fail[s]].clone();
        out[s].extend(inherited);
        for c in 0..stride {
            match goto[s][c] {
                Some(t) => {
                    fail[t] = delta[fail[s]][c];
                    delta[s][c] = t;
                    queue.push_back(t);
                }
                None => delta[s][c] = delta[fail[s]][c],
            }
        }
    }
    (delta, out)
}
