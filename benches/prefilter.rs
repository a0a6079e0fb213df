//! Throughput of the keyword prefilter, per backend, on real text.
//!
//!     cargo bench --bench prefilter [-- DIR [MIB]]
//!
//! Reads up to MIB (default 256) MiB of text files under DIR (default: the local cargo registry
//! sources), then runs every backend this CPU supports over it with the built-in pack's keywords
//! (and what may follow each, as the matcher builds them),
//! single-threaded, best of 5, and checks that all backends report the same hits.
use std::path::{Path, PathBuf};
use std::time::Instant;

use keysweep::matcher::prefilter::{Backend, Prefilter, PrefilterScratch};
use keysweep::matcher::Matcher;
use keysweep::rules::RuleSet;

fn collect(dir: &Path, limit: usize, out: &mut Vec<Vec<u8>>, total: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if *total >= limit {
            return;
        }
        if p.is_dir() {
            collect(&p, limit, out, total);
        } else if let Ok(b) = std::fs::read(&p) {
            if !b[..b.len().min(8000)].contains(&0) {
                *total += b.len();
                out.push(b);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let dir = args.first().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo/registry/src")
    });
    let mib: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(256);
    let (mut files, mut total) = (Vec::new(), 0);
    collect(&dir, mib << 20, &mut files, &mut total);
    assert!(total > 0, "no text under {}", dir.display());

    let rules = RuleSet::builtin().expect("built-in rules");
    let matcher = Matcher::new(&rules);
    let (keywords, follow) = matcher.prefilter_keywords();
    println!(
        "{} files, {:.1} MiB from {}; {} keywords",
        files.len(),
        total as f64 / (1 << 20) as f64,
        dir.display(),
        keywords.len()
    );

    let mut reference: Option<u64> = None;
    for backend in Backend::ALL {
        let start = Instant::now();
        let Some(p) = Prefilter::with_backend(keywords, follow, backend) else {
            println!("{:>7}: not supported here", backend.name());
            continue;
        };
        let build = start.elapsed();
        let mut scratch = PrefilterScratch::default();
        let mut best = f64::INFINITY;
        let mut hits = 0u64;
        let mut buf = Vec::new();
        for _ in 0..5 {
            hits = 0;
            let mut took = 0.0;
            for f in &files {
                // As the scanner does: the file was just read into a reused buffer, so it is
                // in cache. Only the prefilter pass is timed.
                buf.clear();
                buf.extend_from_slice(f);
                let t = Instant::now();
                p.for_each(&buf, &mut scratch, |_| hits += 1);
                took += t.elapsed().as_secs_f64();
            }
            best = best.min(took);
        }
        println!(
            "{:>7}: {:7.0} MiB/s  {hits} hits  (built in {:.1} ms)",
            backend.name(),
            total as f64 / (1 << 20) as f64 / best,
            build.as_secs_f64() * 1e3
        );
        let (mut n, mut took) = (0, 0.0);
        for f in &files {
            buf.clear();
            buf.extend_from_slice(f);
            let t = Instant::now();
            n += p.flagged(&buf);
            took += t.elapsed().as_secs_f64();
        }
        if n > 0 {
            println!(
                "{:>7}  SIMD pass alone: {:7.0} MiB/s, {:.2} positions flagged per KiB",
                "",
                total as f64 / (1 << 20) as f64 / took,
                n as f64 / (total as f64 / 1024.0)
            );
        }
        assert_eq!(*reference.get_or_insert(hits), hits, "backends disagree");
    }
}
