//! `scripts/bench-serve`: bounded load on `keysweep serve` over loopback, against the reference
//! key service. Ignored tests: run them with the script, not with the suite.

use std::time::{Duration, Instant};

use crate::harness::write;
use crate::serve::{delivery_payload, setup};
use crate::support::key_service::{IssuedKey, KeyKind};
use crate::support::serve_harness::{
    alert, alert_body, hmac_header, peak_rss_kib, percentile, wait_until, webhook, Server,
};

/// `scripts/bench-serve`: partner alerts of `KEYSWEEP_BENCH_BATCH` tokens (default 100), sent
/// by 4 clients until `KEYSWEEP_BENCH_TOKENS` (default 2000) fresh keys are revoked, each alert
/// answered only after its keys are revoked. Loopback only; prints throughput, latency from
/// receipt to answer (= revocation done), and peak RSS.
#[test]
#[ignore]
fn measure_partner_throughput() {
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (batch, total) = (
        env("KEYSWEEP_BENCH_BATCH", 100),
        env("KEYSWEEP_BENCH_TOKENS", 2000),
    );
    let (service, _meta, key, dir) = setup();
    let mut config = std::fs::read_to_string(dir.path().join("keysweep.toml")).unwrap();
    config = config.replace("[revoke]\n", "[revoke]\nconcurrency = 16\n");
    write(dir.path(), "keysweep.toml", config);
    // KEYSWEEP_BENCH_JOURNAL puts the journal elsewhere (a tmpfs shows what fsync costs).
    let journal = std::env::var("KEYSWEEP_BENCH_JOURNAL").unwrap_or("journal.jsonl".into());
    let server = Server::start(dir.path(), &["--revoke", "--journal", &journal]);
    wait_until("signing keys", || server.get("/readyz").status == 200);
    let keys: Vec<String> = (0..total)
        .map(|_| service.issue(KeyKind::SecretLive).key)
        .collect();
    let bodies: Vec<Vec<u8>> = keys
        .chunks(batch)
        .map(|c| alert_body(&c.iter().map(String::as_str).collect::<Vec<_>>()))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let latencies = std::sync::Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let t = Instant::now();
                let reply = alert(&server, "key-1", &key, body);
                assert_eq!(reply.status, 200, "{}", reply.body);
                latencies.lock().unwrap().push(t.elapsed());
            });
        }
    });
    let elapsed = started.elapsed();
    let mut l = latencies.into_inner().unwrap();
    l.sort();
    let counts: Vec<u32> = keys
        .iter()
        .map(|k| {
            service.revocations(&IssuedKey {
                key: k.to_string(),
                key_id: None,
            })
        })
        .collect();
    assert!(counts.iter().all(|&n| n <= 1), "a key revoked twice");
    let missed: Vec<&String> = keys
        .iter()
        .zip(&counts)
        .filter(|(_, &n)| n == 0)
        .map(|(k, _)| k)
        .collect();
    if let Ok(path) = std::env::var("KEYSWEEP_BENCH_MISSED") {
        std::fs::write(
            path,
            missed.iter().map(|k| format!("{k}\n")).collect::<String>(),
        )
        .unwrap();
    }
    println!("keys not matched by the rules (not sent): {}", missed.len());
    println!(
        "partner alerts: {total} tokens in batches of {batch}: {:.2} s, {:.0} tokens/s; per alert p50 {:?}, p99 {:?}; peak RSS {} MiB",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        percentile(&l, 0.5),
        percentile(&l, 0.99),
        peak_rss_kib(server.child.id()) / 1024
    );
}

/// `scripts/bench-serve`, second half: signed issue comments, each with a fresh key, delivered
/// at a fixed rate (`KEYSWEEP_BENCH_RATE`, default 100/s, for 3 s); each answer comes after the
/// key is revoked, so its latency is receipt to revocation.
#[test]
#[ignore]
fn measure_webhook_latency() {
    let rate = std::env::var("KEYSWEEP_BENCH_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100u64);
    let (service, _meta, _key, dir) = setup();
    let journal = std::env::var("KEYSWEEP_BENCH_JOURNAL").unwrap_or("journal.jsonl".into());
    let server = Server::start(dir.path(), &["--revoke", "--journal", &journal]);
    let total = rate * 3;
    let bodies: Vec<Vec<u8>> = (0..total)
        .map(|_| {
            let key = service.issue(KeyKind::SecretLive).key;
            delivery_payload(
                "issue_comment",
                "acme/app",
                &[("BODY", &format!("key: {key}"))],
            )
        })
        .collect();
    let latencies = std::sync::Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for (i, body) in bodies.iter().enumerate() {
            let due = started + Duration::from_micros(i as u64 * 1_000_000 / rate);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            let (server, latencies) = (&server, &latencies);
            s.spawn(move || {
                let t = Instant::now();
                let reply = webhook(
                    server,
                    "issue_comment",
                    &format!("b-{i}"),
                    body,
                    Some(hmac_header(body)),
                );
                assert_eq!(reply.status, 200, "{}", reply.body);
                latencies.lock().unwrap().push(t.elapsed());
            });
        }
    });
    let mut l = latencies.into_inner().unwrap();
    l.sort();
    println!(
        "webhooks: {total} issue comments at {rate}/s: receipt to revocation p50 {:?}, p99 {:?}; peak RSS {} MiB",
        percentile(&l, 0.5),
        percentile(&l, 0.99),
        peak_rss_kib(server.child.id()) / 1024
    );
}
