//! The keyword prefilter: every rule keyword, ASCII case-insensitively, in one pass.
//!
//! This pass touches every byte scanned, so it decides keysweep's speed. Four backends find the
//! same hits (the tests hold each to the aho-corasick crate as an oracle):
//! - [`Backend::Avx512Vbmi`]: a Teddy-style SIMD filter over 48 buckets of 4-byte keyword anchors
//!   ([`buckets`], [`simd`]);
//! - [`Backend::Avx2`] (x86-64-v3): a hashed filter on the 3-byte window at every other
//!   position, with a signature of the bytes around it, looked up with gathers ([`avx2`]);
//! - [`Backend::Neon`] (aarch64): the bucket filter over 24 buckets, with whole-byte lookups
//!   built from 32-entry ones ([`neon`]);
//! - [`Backend::Dfa`]: an interleaved Aho-Corasick DFA ([`dfa`]), for other CPUs and keyword sets
//!   the SIMD filters do not take.
//!
//! The SIMD backends hand each flagged position to one exact check ([`exact`]): a hash lookup of
//! the anchors starting there, then a comparison of their keywords. Every backend then drops a
//! hit its keyword's [`Follow`] set does not admit.
//!
//! The best backend the CPU supports for the keyword set ([`Backend::auto`]) is picked at
//! start-up: the bucket filter for sets up to [`MAX_AUTO_BUCKET_KEYWORDS`], the AVX2 hashed
//! filter above (the whole built-in pack), the DFA where neither runs.
//! `KEYSWEEP_PREFILTER=dfa|avx2|neon|avx512` forces one (for benchmarks and for ruling the
//! prefilter out when chasing a bug); a backend the CPU lacks falls back to the automatic choice.
//! NEON is only used when forced: it has only been run under qemu.

#[cfg(target_arch = "x86_64")]
mod avx2;
// The bucket filter exists for the SIMD kernels.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod buckets;
mod dfa;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod exact;
#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "x86_64")]
mod simd;

use self::dfa::{DfaScratch, KeywordDfa};

/// The bytes that may follow a keyword in a hit: a hit followed by another byte, or by the end
/// of the haystack, cannot start a match of any rule that uses the keyword, and is not reported.
/// This lets the AVX2 kernel look a 3-byte keyword up with the byte after it ([`avx2`]), and
/// spares the matcher hits no match can start at (crates.io's `cio` before `_` or a space; one
/// inside a word, as in "precious", is the word-boundary check's, `matcher::required`). Every
/// backend applies it the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Follow([u64; 4]);

impl Follow {
    pub const NONE: Follow = Follow([0; 4]);
    pub const ANY: Follow = Follow([u64::MAX; 4]);

    /// One byte, in both cases if a letter.
    pub fn byte(b: u8) -> Follow {
        let mut set = [0u64; 4];
        set[usize::from(b / 64)] |= 1 << (b % 64);
        Follow::of(set)
    }

    /// The distinct bytes of the set with bit 5 cleared: as the AVX2 kernel folds case.
    #[cfg(target_arch = "x86_64")]
    pub(super) fn folded(&self) -> Vec<u8> {
        let mut out: Vec<u8> = (0..=255u8)
            .filter(|&b| self.contains(b))
            .map(|b| b & !0x20)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Of a set of bytes (bit `b` for byte `b`), closed under ASCII case.
    pub fn of(bytes: [u64; 4]) -> Follow {
        let mut set = Follow(bytes);
        for b in (b'A'..=b'Z').chain(b'a'..=b'z') {
            if set.contains(b) {
                set.0[usize::from(b ^ 0x20) / 64] |= 1 << ((b ^ 0x20) % 64);
            }
        }
        set
    }

    pub fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b / 64)] & (1 << (b % 64)) != 0
    }

    /// Of two keyword uses: what either allows.
    pub fn union(self, other: Follow) -> Follow {
        Follow(std::array::from_fn(|i| self.0[i] | other.0[i]))
    }

    /// Whether a hit ending at `end` is followed by one of the bytes.
    fn admits(follow: Option<&Follow>, hay: &[u8], end: usize) -> bool {
        follow.is_none_or(|f| hay.get(end).is_some_and(|&b| f.contains(b)))
    }
}

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
    Avx2,
    Neon,
}

impl Backend {
    /// What `Prefilter::new` picks from for `keywords` keywords, fastest first: the bucket
    /// filter loses selectivity as its buckets fill, the hashed filter does not.
    pub fn auto(keywords: usize) -> [Backend; 2] {
        if keywords <= MAX_AUTO_BUCKET_KEYWORDS {
            [Backend::Avx512Vbmi, Backend::Dfa]
        } else {
            [Backend::Avx2, Backend::Dfa]
        }
    }

    /// Every backend, for tests and benchmarks.
    pub const ALL: [Backend; 4] = [
        Backend::Avx512Vbmi,
        Backend::Avx2,
        Backend::Neon,
        Backend::Dfa,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Dfa => "dfa",
            Backend::Avx512Vbmi => "avx512",
            Backend::Avx2 => "avx2",
            Backend::Neon => "neon",
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
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "aarch64")]
            Backend::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

enum Engine {
    Dfa(Box<KeywordDfa>),
    #[cfg(target_arch = "x86_64")]
    Vbmi(buckets::Buckets, Box<simd::VbmiTables>),
    #[cfg(target_arch = "x86_64")]
    Avx2(exact::Exact, Box<avx2::Avx2Tables>),
    #[cfg(target_arch = "aarch64")]
    Neon(buckets::Buckets, Box<neon::NeonTables>),
}

pub struct Prefilter {
    engine: Engine,
    /// Per keyword, the bytes that may follow its hits (`None`: any, or the end).
    follow: Vec<Option<Follow>>,
}

/// Per-thread buffers, reused between calls.
#[derive(Default)]
pub struct PrefilterScratch {
    dfa: DfaScratch,
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    hits: Vec<Hit>,
}

/// Above this many keywords the automatic choice is the AVX2 hashed filter (or the DFA without
/// AVX2), even where AVX-512 VBMI runs: the bucket filter flags more positions as buckets fill.
/// On the 1 GiB real-source tree (`scripts/bench-dir --real`, AMD EPYC) the 840-keyword pack
/// took 1.07 s with AVX-512 against 0.80 s with the DFA, where the 554-keyword pack took 0.69 s
/// against 0.71 s; `cargo bench --bench prefilter` with the 851-keyword pack puts the AVX2
/// filter ahead of both (README, Performance).
pub const MAX_AUTO_BUCKET_KEYWORDS: usize = 600;

impl Prefilter {
    /// The fastest backend this CPU supports (or the one `KEYSWEEP_PREFILTER` names).
    pub fn new(keywords: &[impl AsRef<[u8]>]) -> Self {
        Self::following(keywords, &[])
    }

    /// As [`Prefilter::new`], with what may follow each keyword's hits (`follow[k]` for keyword
    /// `k`; missing or `None`: anything).
    pub fn following(keywords: &[impl AsRef<[u8]>], follow: &[Option<Follow>]) -> Self {
        let forced = std::env::var("KEYSWEEP_PREFILTER").ok();
        let forced = Backend::ALL
            .into_iter()
            .find(|b| forced.as_deref() == Some(b.name()));
        let auto = Backend::auto(keywords.len());
        forced
            .into_iter()
            .chain(auto)
            .find_map(|b| Self::with_backend(keywords, follow, b))
            .expect("the DFA backend takes any keyword set")
    }

    /// This backend, if the CPU supports it and it takes the keyword set.
    pub fn with_backend(
        keywords: &[impl AsRef<[u8]>],
        follow: &[Option<Follow>],
        backend: Backend,
    ) -> Option<Self> {
        if !backend.supported() {
            return None;
        }
        let follow: Vec<Option<Follow>> = (0..keywords.len())
            .map(|k| follow.get(k).copied().flatten())
            .collect();
        let engine = match backend {
            Backend::Dfa => Engine::Dfa(Box::new(KeywordDfa::new(keywords))),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512Vbmi => {
                let b = buckets::Buckets::new(keywords, buckets::BUCKETS)?;
                let t = Box::new(simd::VbmiTables::new(&b)?);
                Engine::Vbmi(b, t)
            }
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => {
                let (distinct, lowered) = buckets::anchors(keywords, buckets::Lookahead::NextByte)?;
                let t = Box::new(avx2::Avx2Tables::new(&avx2::Anchor::all(
                    &distinct, &lowered, &follow,
                ))?);
                Engine::Avx2(exact::Exact::new(&distinct, &lowered), t)
            }
            #[cfg(target_arch = "aarch64")]
            Backend::Neon => {
                let b = buckets::Buckets::new(keywords, narrow_buckets())?;
                let t = Box::new(neon::NeonTables::new(&b));
                Engine::Neon(b, t)
            }
            #[allow(unreachable_patterns)]
            _ => return None,
        };
        Some(Prefilter { engine, follow })
    }

    /// Per keyword, what may follow its hits.
    pub fn follow(&self) -> &[Option<Follow>] {
        &self.follow
    }

    pub fn backend(&self) -> Backend {
        match self.engine {
            Engine::Dfa(_) => Backend::Dfa,
            #[cfg(target_arch = "x86_64")]
            Engine::Vbmi(..) => Backend::Avx512Vbmi,
            #[cfg(target_arch = "x86_64")]
            Engine::Avx2(..) => Backend::Avx2,
            #[cfg(target_arch = "aarch64")]
            Engine::Neon(..) => Backend::Neon,
        }
    }

    /// The exact check of flagged positions, for the SIMD backends.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn exact(&self) -> Option<&exact::Exact> {
        match &self.engine {
            Engine::Dfa(_) => None,
            #[cfg(target_arch = "x86_64")]
            Engine::Vbmi(b, _) => Some(b.exact()),
            #[cfg(target_arch = "x86_64")]
            Engine::Avx2(e, _) => Some(e),
            #[cfg(target_arch = "aarch64")]
            Engine::Neon(b, _) => Some(b.exact()),
        }
    }

    /// Calls `flag(position)` for each position the SIMD pass flags (none for the DFA).
    #[cfg_attr(
        not(any(target_arch = "x86_64", target_arch = "aarch64")),
        allow(unused_variables)
    )]
    fn scan_simd(&self, hay: &[u8], flag: impl FnMut(usize)) {
        // SAFETY (every arm): the engine exists only if `Backend::supported` said the CPU has the
        // kernel's features (`with_backend`).
        match &self.engine {
            Engine::Dfa(_) => {}
            #[cfg(target_arch = "x86_64")]
            Engine::Vbmi(_, t) => unsafe { simd::scan_vbmi(t, hay, flag) },
            #[cfg(target_arch = "x86_64")]
            Engine::Avx2(_, t) => unsafe { avx2::scan_avx2(t, hay, flag) },
            #[cfg(target_arch = "aarch64")]
            Engine::Neon(_, t) => unsafe { neon::scan_neon(t, hay, flag) },
        }
    }

    /// How many positions the SIMD pass flags for an exact check (0 for the DFA), without
    /// checking them: for the prefilter benchmark.
    #[doc(hidden)]
    pub fn flagged(&self, hay: &[u8]) -> u64 {
        let mut n = 0;
        self.scan_simd(hay, |_| n += 1);
        n
    }

    /// Calls `hit` for every keyword occurrence (overlapping ones included) followed by a byte
    /// its [`Follow`] admits, in order of end.
    pub fn for_each(&self, hay: &[u8], scratch: &mut PrefilterScratch, mut hit: impl FnMut(Hit)) {
        let admitted = |h: Hit| {
            if Follow::admits(self.follow[h.keyword].as_ref(), hay, h.end) {
                hit(h)
            }
        };
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        if let Some(e) = self.exact() {
            self.scan_simd(hay, verifier(e, hay, &mut scratch.hits));
            // Flags come in order of anchor position; keywords put their anchors at different
            // offsets, so order by end as the DFA does.
            scratch.hits.sort_unstable();
            scratch.hits.drain(..).for_each(admitted);
            return;
        }
        if let Engine::Dfa(dfa) = &self.engine {
            dfa.for_each(hay, &mut scratch.dfa, admitted);
        }
    }
}

/// A run of SIMD steps over a buffer (see [`in_steps`]).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[derive(Clone, Copy)]
struct Steps {
    /// How many (at least 1).
    count: usize,
    /// The haystack position of the buffer's first byte.
    base: usize,
    /// The haystack's length: positions from here on (zero padding) are not flagged.
    limit: usize,
}

/// Runs a SIMD kernel over `hay` in steps of `step` bytes, each of which also reads the `ahead`
/// bytes after it: `run(buf, steps)` runs `steps.count` steps from the start of `buf`, which
/// holds at least `count * step + ahead` bytes (the kernels read that much unchecked). The steps
/// that would read past the end run over a zero-padded copy of the rest.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn in_steps(hay: &[u8], step: usize, ahead: usize, mut run: impl FnMut(&[u8], Steps)) {
    const PADDED: usize = 256;
    let mut checked = |buf: &[u8], count: usize, base: usize| {
        // A haystack under one step used to have a step's bytes loaded anyway: out of bounds,
        // and a crash (SIGSEGV) for an empty one in unoptimised builds.
        if count > 0 {
            assert!(
                count * step + ahead <= buf.len(),
                "a SIMD pass would overrun"
            );
            let limit = hay.len();
            run(buf, Steps { count, base, limit });
        }
    };
    let full = hay.len().saturating_sub(ahead) / step;
    checked(hay, full, 0);
    let done = full * step;
    if done < hay.len() {
        let mut tail = [0u8; PADDED];
        let rest = &hay[done..];
        tail[..rest.len()].copy_from_slice(rest);
        checked(&tail, rest.len().div_ceil(step), done);
    }
}

/// Calls `flag` for every position of step `s` (of `step` bytes) of `steps` that is flagged in
/// `any` and lies before the limit, in order. Position `k` of the step is flagged by bits
/// `W * k..W * (k + 1)` (the NEON kernel makes a nibble of each byte, the others a bit).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline]
fn report<const W: u32>(
    mut any: u64,
    step: usize,
    (steps, s): (Steps, usize),
    flag: &mut impl FnMut(usize),
) {
    let pos = steps.base + s * step;
    while any != 0 {
        let k = (any.trailing_zeros() / W) as usize;
        any &= !((u64::MAX >> (64 - W)) << (W as usize * k));
        if pos + k >= steps.limit {
            break;
        }
        flag(pos + k);
    }
}

/// The NEON kernel's bucket count.
#[cfg(target_arch = "aarch64")]
fn narrow_buckets() -> usize {
    buckets::GROUP * buckets::NARROW_GROUPS
}

/// What the SIMD kernels call for a flagged position: the exact check, collecting hits.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn verifier<'a>(
    e: &'a exact::Exact,
    hay: &'a [u8],
    found: &'a mut Vec<Hit>,
) -> impl FnMut(usize) + 'a {
    move |at| {
        e.verify(hay, at, |keyword, start, end| {
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

    /// splitmix64, so the test data is the same on every run (the kernels' tests use it too).
    pub(super) fn rng(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = *seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }

    fn oracle(keywords: &[&str], hay: &[u8]) -> Vec<Hit> {
        oracle_following(keywords, &[], hay)
    }

    /// Aho-corasick's hits, less those followed by a byte their keyword's [`Follow`] does not
    /// admit, or by the end.
    fn oracle_following(keywords: &[&str], follow: &[Option<Follow>], hay: &[u8]) -> Vec<Hit> {
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
            .filter(|h| match follow.get(h.keyword).copied().flatten() {
                Some(f) => hay.get(h.end).is_some_and(|&b| f.contains(b)),
                None => true,
            })
            .collect();
        v.sort();
        v
    }

    fn each_backend(keywords: &[&str], hay: &[u8]) -> Vec<(Backend, Vec<Hit>)> {
        each_backend_following(keywords, &[], hay)
    }

    /// Every backend this machine runs, each checked for hits in order of end.
    fn each_backend_following(
        keywords: &[&str],
        follow: &[Option<Follow>],
        hay: &[u8],
    ) -> Vec<(Backend, Vec<Hit>)> {
        let mut out = Vec::new();
        for backend in Backend::ALL {
            let Some(p) = Prefilter::with_backend(keywords, follow, backend) else {
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
            Backend::auto(2)
                .into_iter()
                .find(|b| b.supported())
                .unwrap()
        );
    }

    #[test]
    fn a_large_keyword_set_is_given_the_hashed_filter_or_the_dfa_unless_forced() {
        let keywords: Vec<String> = (0..=MAX_AUTO_BUCKET_KEYWORDS)
            .map(|i| format!("kw{i:04}_"))
            .collect();
        if std::env::var_os("KEYSWEEP_PREFILTER").is_some() {
            return; // a forced backend wins whatever the size
        }
        let large = if Backend::Avx2.supported() {
            Backend::Avx2
        } else {
            Backend::Dfa
        };
        assert_eq!(Prefilter::new(&keywords).backend(), large);
        assert_eq!(
            Prefilter::new(&keywords[..8]).backend(),
            Backend::auto(8)
                .into_iter()
                .find(|b| b.supported())
                .unwrap()
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
    fn every_backend_finds_a_keyword_at_every_offset_of_every_size() {
        // The pack's keywords, each planted at every offset of random texts of every size up to
        // three AVX-512 steps, over an alphabet of the bytes the AVX2 and NEON kernels fold
        // together (`\r` and `-`, `^` and `~`, `_` and DEL, `@` and `` ` ``) and non-ASCII ones.
        let keywords = crate::rules::RuleSet::builtin().unwrap().keywords();
        let keywords: Vec<&str> = keywords.iter().map(String::as_str).collect();
        let alphabet = b"\r\n\t-^~_\x7f@`[{ aZ09\xc3\xa9\xff";
        let backends: Vec<Prefilter> = Backend::ALL
            .into_iter()
            .filter_map(|b| Prefilter::with_backend(&keywords, &[], b))
            .collect();
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&keywords)
            .unwrap();
        let mut scratch = PrefilterScratch::default();
        let mut seed = 3u64;
        for len in 0..=3 * 64 + 5usize {
            let k = keywords[(rng(&mut seed) % keywords.len() as u64) as usize].as_bytes();
            for at in 0..=len.saturating_sub(k.len()) {
                let mut hay: Vec<u8> = (0..len)
                    .map(|_| alphabet[(rng(&mut seed) % alphabet.len() as u64) as usize])
                    .collect();
                if k.len() <= len {
                    hay[at..at + k.len()].copy_from_slice(k);
                }
                let mut want: Vec<Hit> = ac
                    .find_overlapping_iter(&hay)
                    .map(|m| Hit {
                        end: m.end(),
                        start: m.start(),
                        keyword: m.pattern().as_usize(),
                    })
                    .collect();
                want.sort();
                for p in &backends {
                    let mut got = Vec::new();
                    p.for_each(&hay, &mut scratch, |h| got.push(h));
                    got.sort();
                    assert_eq!(got, want, "{:?}: len {len}, {k:?} at {at}", p.backend());
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Random keyword sets (1 to 9 bytes, over an alphabet small enough that keywords
        /// overlap, share prefixes and anchors, and alias under the kernels' case folding) on
        /// random text holding pieces of them: every backend finds what aho-corasick finds.
        #[test]
        fn every_backend_agrees_with_aho_corasick_on_random_keyword_sets(
            keywords in proptest::collection::vec("[abAB_~\\x7f\\-\\r0]{1,9}", 1..40),
            pieces in proptest::collection::vec((0usize..40, 0usize..9, "[aB_ \\x7f\\r-]{0,5}"), 0..200),
        ) {
            let keywords: Vec<&str> = keywords.iter().map(String::as_str).collect();
            let mut hay = Vec::new();
            for (k, from, filler) in &pieces {
                let k = keywords[k % keywords.len()].as_bytes();
                hay.extend_from_slice(&k[(*from).min(k.len())..]);
                hay.extend_from_slice(filler.as_bytes());
            }
            let want = oracle(&keywords, &hay);
            for (backend, got) in each_backend(&keywords, &hay) {
                proptest::prop_assert_eq!(&got, &want, "{:?}", backend);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        /// The same with what may follow each keyword: 3-byte keywords (which the AVX2 kernel
        /// looks up with the byte after them) and others, each with a random set of the text's
        /// bytes or none; every backend drops exactly the hits the set does not admit.
        #[test]
        fn every_backend_applies_what_may_follow_a_keyword(
            keywords in proptest::collection::vec("[abAB_~\\-0]{2,5}", 1..20),
            follow in proptest::collection::vec(proptest::option::of(0u32..1 << 9), 20),
            pieces in proptest::collection::vec((0usize..20, 0usize..5, "[aBb_ ~\\-0z]{0,3}"), 0..200),
        ) {
            let keywords: Vec<&str> = keywords.iter().map(String::as_str).collect();
            let alphabet = b"aBb_ ~-0z";
            let follow: Vec<Option<Follow>> = follow
                .iter()
                .map(|set| {
                    set.map(|bits| {
                        (0..alphabet.len())
                            .filter(|i| bits & (1 << i) != 0)
                            .fold(Follow::NONE, |f, i| f.union(Follow::byte(alphabet[i])))
                    })
                })
                .collect();
            let mut hay = Vec::new();
            for (k, from, filler) in &pieces {
                let k = keywords[k % keywords.len()].as_bytes();
                hay.extend_from_slice(&k[(*from).min(k.len())..]);
                hay.extend_from_slice(filler.as_bytes());
            }
            let want = oracle_following(&keywords, &follow, &hay);
            for (backend, got) in each_backend_following(&keywords, &follow, &hay) {
                proptest::prop_assert_eq!(&got, &want, "{:?}", backend);
            }
        }
    }

    #[test]
    fn a_hit_is_dropped_when_its_keyword_may_not_be_followed_by_the_next_byte() {
        let digits = (b'0'..=b'9').fold(Follow::NONE, |f, b| f.union(Follow::byte(b)));
        let keywords = ["cio", "ghp_"];
        let follow = [Some(digits), None];
        let hay = b"cio7 precious cio_ CIO9 cio ghp_ cio";
        for (backend, got) in each_backend_following(&keywords, &follow, hay) {
            let starts: Vec<usize> = got.iter().map(|h| h.start).collect();
            assert_eq!(starts, vec![0, 19, 28], "{backend:?}");
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
