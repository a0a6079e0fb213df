//! The keyword prefilter: every rule keyword, ASCII case-insensitively, in one pass.
//!
//! This pass touches every byte scanned, so it decides keysweep's speed. Three backends find the
//! same hits (the tests hold each to the aho-corasick crate as an oracle):
//! - [`Backend::Avx512Vbmi`]: a Teddy-style SIMD filter over 48 buckets of keyword anchors
//!   ([`buckets`], [`simd`]), then an exact check of the few flagged positions;
//! - [`Backend::Dfa`]: an interleaved Aho-Corasick DFA ([`dfa`]), for CPUs without AVX-512 VBMI,
//!   other architectures and keyword sets the bucket filter does not take.
//!
//! The best backend the CPU supports is picked at start-up. `KEYSWEEP_PREFILTER=dfa|avx512`
//! forces one (for benchmarks and for ruling the prefilter out when chasing a bug); a backend the
//! CPU lacks falls back to the best available.

// The bucket filter exists for the SIMD kernel, which is x86-64 only.
#[cfg(target_arch = "x86_64")]
mod buckets;
mod dfa;
#[cfg(target_arch = "x86_64")]
mod simd;

use self::dfa::{DfaScratch, KeywordDfa};

/// A keyword occurrence: keyword index and byte span in the haystack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    pub end: usize,
    pub start: usize,
    pub keyword: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Dfa,
    Avx512Vbmi,
}

impl Backend {
    pub const ALL: [Backend; 2] = [Backend::Avx512Vbmi, Backend::Dfa];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Dfa => "dfa",
            Backend::Avx512Vbmi => "avx512",
        }
    }

    /// Whether this CPU can run the backend.
    pub fn supported(self) -> bool {
        match self {
            Backend::Dfa => true,
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512Vbmi => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vbmi")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

enum Engine {
    Dfa(Box<KeywordDfa>),
    #[cfg(target_arch = "x86_64")]
    Vbmi(buckets::Buckets, Box<simd::VbmiTables>),
}

pub struct Prefilter {
    engine: Engine,
}

/// Per-thread buffers, reused between calls.
#[derive(Default)]
pub struct PrefilterScratch {
    dfa: DfaScratch,
    #[cfg(target_arch = "x86_64")]
    hits: Vec<Hit>,
}

impl Prefilter {
    /// The fastest backend this CPU supports (or the one `KEYSWEEP_PREFILTER` names).
    pub fn new(keywords: &[impl AsRef<[u8]>]) -> Self {
        let forced = std::env::var("KEYSWEEP_PREFILTER").ok();
        let forced = Backend::ALL
            .into_iter()
            .find(|b| forced.as_deref() == Some(b.name()));
        forced
            .into_iter()
            .chain(Backend::ALL)
            .find_map(|b| Self::with_backend(keywords, b))
            .expect("the DFA backend takes any keyword set")
    }

    /// This backend, if the CPU supports it and it takes the keyword set.
    pub fn with_backend(keywords: &[impl AsRef<[u8]>], backend: Backend) -> Option<Self> {
        if !backend.supported() {
            return None;
        }
        let engine = match backend {
            Backend::Dfa => Engine::Dfa(Box::new(KeywordDfa::new(keywords))),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512Vbmi => {
                let b = buckets::Buckets::new(keywords)?;
                let t = Box::new(simd::VbmiTables::new(&b)?);
                Engine::Vbmi(b, t)
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => return None,
        };
        Some(Prefilter { engine })
    }

    pub fn backend(&self) -> Backend {
        match self.engine {
            Engine::Dfa(_) => Backend::Dfa,
            #[cfg(target_arch = "x86_64")]
            Engine::Vbmi(..) => Backend::Avx512Vbmi,
        }
    }

    /// How many positions the SIMD pass flags for an exact check (0 for the DFA), without
    /// checking them: for the prefilter benchmark.
    #[doc(hidden)]
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
    pub fn flagged(&self, hay: &[u8]) -> u64 {
        match &self.engine {
            Engine::Dfa(_) => 0,
            #[cfg(target_arch = "x86_64")]
            Engine::Vbmi(_, t) => {
                let mut n = 0;
                // SAFETY: as in `for_each`.
                unsafe { simd::scan_vbmi(t, hay, |_, _| n += 1) };
                n
            }
        }
    }

    /// Calls `hit` for every keyword occurrence (overlapping ones included), in order of end.
    pub fn for_each(&self, hay: &[u8], scratch: &mut PrefilterScratch, hit: impl FnMut(Hit)) {
        match &self.engine {
            Engine::Dfa(dfa) => dfa.for_each(hay, &mut scratch.dfa, hit),
            #[cfg(target_arch = "x86_64")]
            Engine::Vbmi(b, t) => {
                // SAFETY: the engine exists only if `Backend::supported` said the CPU has the
                // features (`with_backend`).
                unsafe { simd::scan_vbmi(t, hay, verifier(b, hay, &mut scratch.hits)) };
                // Flags come in order of anchor position; keywords put their anchors at
                // different offsets, so order by end as the DFA does.
                scratch.hits.sort_unstable();
                scratch.hits.drain(..).for_each(hit);
            }
        }
    }
}

/// What the SIMD kernels call for a flagged position: the exact check, collecting hits.
#[cfg(target_arch = "x86_64")]
fn verifier<'a>(
    b: &'a buckets::Buckets,
    hay: &'a [u8],
    found: &'a mut Vec<Hit>,
) -> impl FnMut(usize, u64) + 'a {
    move |at, bits| {
        b.verify(hay, at, bits, |keyword, start, end| {
            found.push(Hit {
                end,
                start,
                keyword,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::{AhoCorasick, MatchKind};

    /// splitmix64, so the test data is the same on every run.
    fn rng(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = *seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }

    fn oracle(keywords: &[&str], hay: &[u8]) -> Vec<Hit> {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(keywords)
            .unwrap();
        let mut v: Vec<Hit> = ac
            .find_overlapping_iter(hay)
            .map(|m| Hit {
                end: m.end(),
                start: m.start(),
                keyword: m.pattern().as_usize(),
            })
            .collect();
        v.sort();
        v
    }

    /// Every backend this machine runs, each checked for hits in order of end.
    fn each_backend(keywords: &[&str], hay: &[u8]) -> Vec<(Backend, Vec<Hit>)> {
        let mut out = Vec::new();
        for backend in Backend::ALL {
            let Some(p) = Prefilter::with_backend(keywords, backend) else {
                continue;
            };
            let mut v = Vec::new();
            p.for_each(hay, &mut PrefilterScratch::default(), |h| v.push(h));
            let mut sorted = v.clone();
            sorted.sort();
            assert_eq!(
                v.iter().map(|h| h.end).collect::<Vec<_>>(),
                sorted.iter().map(|h| h.end).collect::<Vec<_>>(),
                "{backend:?}: hits must come in order of end"
            );
            out.push((backend, sorted));
        }
        out
    }

    fn assert_agrees(keywords: &[&str], hay: &[u8], what: &str) -> usize {
        let want = oracle(keywords, hay);
        for (backend, got) in each_backend(keywords, hay) {
            assert_eq!(got, want, "{backend:?} on {what}");
        }
        want.len()
    }

    #[test]
    fn every_backend_runs_where_the_cpu_has_it() {
        let keywords = ["sk_live_", "ghp_"];
        let n = each_backend(&keywords, b"").len();
        let expected = Backend::ALL.iter().filter(|b| b.supported()).count();
        assert_eq!(n, expected);
        assert_eq!(
            Prefilter::new(&keywords).backend(),
            Backend::ALL.into_iter().find(|b| b.supported()).unwrap()
        );
    }

    #[test]
    fn agrees_with_aho_corasick_on_random_text_of_every_size() {
        let keywords = [
            "sk_live_",
            "sk_",
            "k_l",
            "ghp_",
            "AKIA",
            "x",
            "-----begin",
            "msk_",
            "mk_live_",
            "q~",
        ];
        let alphabet = b"skSK_livemghpAKIAxq~-begn \n0123\xc3\xa9\xff";
        let mut seed = 7u64;
        let mut lens: Vec<usize> = (0..200).collect();
        lens.extend([4096 * 4 - 1, 4096 * 4, 4096 * 4 + 3, 70_001]);
        for len in lens {
            let hay: Vec<u8> = (0..len)
                .map(|_| alphabet[(rng(&mut seed) % alphabet.len() as u64) as usize])
                .collect();
            assert_agrees(&keywords, &hay, &format!("len {len}"));
        }
    }

    #[test]
    fn agrees_with_aho_corasick_with_the_built_in_keywords() {
        // The real keyword set (more anchors than buckets, so clustering is exercised), on text
        // made of pieces of the keywords themselves, in random case, so hits are frequent.
        let keywords = crate::rules::RuleSet::builtin().unwrap().keywords();
        let keywords: Vec<&str> = keywords.iter().map(String::as_str).collect();
        let mut seed = 11u64;
        let mut hay = Vec::new();
        while hay.len() < 300_000 {
            let k = keywords[(rng(&mut seed) % keywords.len() as u64) as usize].as_bytes();
            let from = (rng(&mut seed) % k.len() as u64) as usize;
            for &b in &k[from..] {
                let upper = rng(&mut seed).is_multiple_of(2);
                hay.push(if upper { b.to_ascii_uppercase() } else { b });
            }
            hay.push(b" ._-\n"[(rng(&mut seed) % 5) as usize]);
        }
        let hits = assert_agrees(&keywords, &hay, "keyword soup");
        assert!(
            hits > 5_000,
            "the text must exercise the filter: {hits} hits"
        );
    }

    #[test]
    fn keywords_across_lane_and_step_boundaries_are_found_once() {
        let keywords = ["sk_live_", "whsec_"];
        for shift in 0..70 {
            let mut hay = vec![b'.'; 4 * 8192];
            for k in 1..4 {
                let at = k * 8192 - shift;
                hay[at..at + 8].copy_from_slice(b"SK_LIVE_");
            }
            let end = hay.len() - 8 - shift % 8;
            hay[end..end + 6].copy_from_slice(b"whsec_");
            assert_eq!(assert_agrees(&keywords, &hay, &format!("shift {shift}")), 4);
        }
    }

    #[test]
    fn no_keywords_no_hits() {
        let empty: [&str; 0] = [];
        assert_eq!(assert_agrees(&empty, b"anything", "empty set"), 0);
    }

    #[test]
    fn non_ascii_keywords_fall_back_to_the_dfa() {
        let keywords = ["clé_", "sk_live_"];
        assert_eq!(Prefilter::new(&keywords).backend(), Backend::Dfa);
        assert_eq!(
            assert_agrees(&keywords, "x clé_ sk_live_".as_bytes(), "utf-8"),
            2
        );
    }
}
