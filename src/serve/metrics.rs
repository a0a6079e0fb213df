//! `GET /metrics` in the Prometheus text exposition format, written by hand: a few counters,
//! one gauge and two histograms do not justify a metrics crate and its registry.
//!
//! Label values come from closed sets (event names keysweep knows, outcome words), never from
//! request data, so a sender cannot grow the label space or smuggle text into it.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency buckets: from a text scan (sub-millisecond) to a
/// revocation that waited out retries (tens of seconds).
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

/// A latency histogram with fixed buckets; sums kept in microseconds so they stay atomic.
#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    over: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        match BUCKETS.iter().position(|&b| secs <= b) {
            Some(i) => self.counts[i].fetch_add(1, Relaxed),
            None => self.over.fetch_add(1, Relaxed),
        };
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            cumulative += count.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.over.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
    }
}

/// Counters keyed by their label values, in a stable order for the output.
#[derive(Default)]
struct Family(Mutex<BTreeMap<Vec<&'static str>, u64>>);

impl Family {
    fn add(&self, labels: &[&'static str], n: u64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(labels.to_vec()).or_default() += n;
    }

    fn render(&self, out: &mut String, name: &str, help: &str, keys: &[&str]) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (values, n) in map.iter() {
            let labels: Vec<String> = keys
                .iter()
                .zip(values)
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            let _ = writeln!(out, "{name}{{{}}} {n}", labels.join(","));
        }
    }
}

/// Everything `/metrics` reports.
#[derive(Default)]
pub struct Metrics {
    deliveries: Family,
    partner_tokens: Family,
    signature_failures: Family,
    revocations: Family,
    pub queue_depth: AtomicU64,
    pub scan_seconds: Histogram,
    pub revocation_seconds: Histogram,
}

impl Metrics {
    /// A webhook delivery: `event` must be a name from a closed list (see `webhook::event_label`).
    pub fn delivery(&self, event: &'static str, outcome: &'static str) {
        self.deliveries.add(&[event, outcome], 1);
    }

    /// Partner-alert tokens by what became of them (`revoked`, `unknown_key`, `no_rule`, …).
    pub fn partner_tokens(&self, outcome: &'static str, n: u64) {
        self.partner_tokens.add(&[outcome], n);
    }

    /// A request refused because its signature was missing or wrong (`webhook`, `partner`).
    pub fn signature_failure(&self, endpoint: &'static str) {
        self.signature_failures.add(&[endpoint], 1);
    }

    /// Keys by revocation outcome (`revoked`, `already_revoked`, `unknown_key`, `failed`).
    pub fn revocation(&self, outcome: &'static str) {
        self.revocations.add(&[outcome], 1);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        self.deliveries.render(
            &mut out,
            "keysweep_webhook_deliveries_total",
            "Webhook deliveries by event and outcome.",
            &["event", "outcome"],
        );
        self.partner_tokens.render(
            &mut out,
            "keysweep_partner_tokens_total",
            "Secret-scanning partner tokens by outcome.",
            &["outcome"],
        );
        self.signature_failures.render(
            &mut out,
            "keysweep_signature_failures_total",
            "Requests refused for a missing or wrong signature.",
            &["endpoint"],
        );
        self.revocations.render(
            &mut out,
            "keysweep_revocations_total",
            "Keys sent for revocation, by outcome.",
            &["outcome"],
        );
        let depth = self.queue_depth.load(Relaxed);
        let _ = writeln!(
            out,
            "# HELP keysweep_queue_depth Work items on disk waiting for the worker.\n\
             # TYPE keysweep_queue_depth gauge\nkeysweep_queue_depth {depth}"
        );
        self.scan_seconds.render(
            &mut out,
            "keysweep_scan_seconds",
            "Time to scan one delivery or alert.",
        );
        self.revocation_seconds.render(
            &mut out,
            "keysweep_revocation_seconds",
            "Time to revoke the keys of one delivery or alert.",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_the_text_format() {
        let m = Metrics::default();
        m.delivery("issue_comment", "scanned");
        m.delivery("issue_comment", "scanned");
        m.delivery("ping", "ok");
        m.signature_failure("webhook");
        m.revocation("revoked");
        m.scan_seconds.observe(Duration::from_micros(300));
        m.scan_seconds.observe(Duration::from_secs(60));
        let text = m.render();
        for line in [
            "keysweep_webhook_deliveries_total{event=\"issue_comment\",outcome=\"scanned\"} 2",
            "keysweep_webhook_deliveries_total{event=\"ping\",outcome=\"ok\"} 1",
            "keysweep_signature_failures_total{endpoint=\"webhook\"} 1",
            "keysweep_revocations_total{outcome=\"revoked\"} 1",
            "keysweep_queue_depth 0",
            "keysweep_scan_seconds_bucket{le=\"0.001\"} 1",
            "keysweep_scan_seconds_bucket{le=\"30\"} 1",
            "keysweep_scan_seconds_bucket{le=\"+Inf\"} 2",
            "keysweep_scan_seconds_count 2",
            "# TYPE keysweep_revocation_seconds histogram",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }
}
