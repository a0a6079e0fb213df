// Standalone check of the NEON prefilter under qemu-aarch64: every hit equal to the DFA's
// (the DFA is held to aho-corasick by the crate's tests on x86-64).
#[path = "@PREFILTER@"]
#[allow(dead_code)]
mod prefilter;
use prefilter::{Backend, Prefilter, PrefilterScratch};

fn rng(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9E3779B97F4A7C15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
    z ^ (z >> 31)
}

fn hits(p: &Prefilter, hay: &[u8]) -> Vec<prefilter::Hit> {
    let mut v = Vec::new();
    p.for_each(hay, &mut PrefilterScratch::default(), |h| v.push(h));
    v.sort();
    v
}

fn main() {
    let text = std::fs::read_to_string("@KEYWORDS@").unwrap();
    let keywords: Vec<&str> = text.lines().collect();
    let neon = Prefilter::with_backend(&keywords, Backend::Neon).expect("neon backend");
    let dfa = Prefilter::with_backend(&keywords, Backend::Dfa).unwrap();
    assert_eq!(Prefilter::with_backend(&keywords, Backend::Neon).unwrap().backend(), Backend::Neon);
    let alphabet = b"\r\n\t-^~_\x7f@`[{ aZ09\xc3\xa9\xff";
    let mut seed = 3u64;
    let (mut cases, mut found) = (0, 0);
    for len in 0..=200usize {
        let k = keywords[(rng(&mut seed) % keywords.len() as u64) as usize].as_bytes();
        for at in 0..=len.saturating_sub(k.len()) {
            let mut hay: Vec<u8> = (0..len)
                .map(|_| alphabet[(rng(&mut seed) % alphabet.len() as u64) as usize])
                .collect();
            if k.len() <= len {
                hay[at..at + k.len()].copy_from_slice(k);
            }
            let want = hits(&dfa, &hay);
            assert_eq!(hits(&neon, &hay), want, "len {len}, {k:?} at {at}");
            cases += 1;
            found += want.len();
        }
    }
    // Keyword soup in random case: frequent hits across steps.
    let mut hay = Vec::new();
    while hay.len() < 300_000 {
        let k = keywords[(rng(&mut seed) % keywords.len() as u64) as usize].as_bytes();
        let from = (rng(&mut seed) % k.len() as u64) as usize;
        for &b in &k[from..] {
            hay.push(if rng(&mut seed) % 2 == 0 { b.to_ascii_uppercase() } else { b });
        }
        hay.push(b" ._-\n"[(rng(&mut seed) % 5) as usize]);
    }
    let want = hits(&dfa, &hay);
    assert_eq!(hits(&neon, &hay), want, "soup");
    println!("neon == dfa on {cases} planted texts ({found} hits) and a 300 kB soup ({} hits)", want.len());
}
