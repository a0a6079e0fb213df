//! What a source is doing while it scans no bytes (a history's tree walk, attribution), for the
//! progress line: without it the line, which counts scanned bytes, stands still through such
//! phases and looks hung.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// The current phase of a source, if it named one: a name, a unit and a counter that moves.
#[derive(Debug, Default)]
pub struct Phase {
    current: Mutex<Option<Named>>,
    done: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
struct Named {
    name: &'static str,
    unit: &'static str,
    /// 0: not known in advance.
    total: u64,
}

impl Phase {
    /// Starts phase `name`, counting `unit`s up to `total` (0: unknown); it lasts as long as the
    /// returned guard.
    pub fn begin(&self, name: &'static str, unit: &'static str, total: u64) -> PhaseGuard<'_> {
        self.done.store(0, Relaxed);
        *self.lock() = Some(Named { name, unit, total });
        PhaseGuard(self)
    }

    /// Counts `n` more units done in the current phase.
    pub fn advance(&self, n: u64) {
        self.done.fetch_add(n, Relaxed);
    }

    /// `line` with the current phase appended, if there is one.
    pub fn status(&self, line: String) -> String {
        let Some(Named { name, unit, total }) = *self.lock() else {
            return line;
        };
        let done = self.done.load(Relaxed);
        if total > 0 {
            format!("{line}; {name}: {done} of {total} {unit}")
        } else {
            format!("{line}; {name}: {done} {unit}")
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Named>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Ends its phase when dropped.
pub struct PhaseGuard<'a>(&'a Phase);

impl Drop for PhaseGuard<'_> {
    fn drop(&mut self) {
        *self.0.lock() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_phase_and_its_count_only_while_it_lasts() {
        let phase = Phase::default();
        assert_eq!(phase.status("scanning".into()), "scanning");
        {
            let _walk = phase.begin("git: tree walk", "trees", 0);
            phase.advance(40);
            phase.advance(2);
            assert_eq!(
                phase.status("scanning".into()),
                "scanning; git: tree walk: 42 trees"
            );
        }
        assert_eq!(phase.status("scanning".into()), "scanning");
        let _attribution = phase.begin("git: attribution", "commits", 100);
        phase.advance(7);
        assert_eq!(
            phase.status("scanning".into()),
            "scanning; git: attribution: 7 of 100 commits"
        );
    }
}
