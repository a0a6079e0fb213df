//! Work shared out to threads in runs of consecutive items, and the locks their results meet in.
//! Rayon is not used (architecture): the git engine runs its own threads.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

/// Hands `items` out to `threads` threads in runs of `run` consecutive items, in order. Each
/// thread makes its own state with `start`, feeds it every item of the runs it takes with `each`,
/// and hands it to `finish` when no run is left. Runs, not single items, because neighbours
/// share caches (delta bases along pack order, trees along the commit walk); runs, not one
/// slice per thread, so that a thread held up by a few expensive items does not hold up the rest.
pub fn in_runs<T: Sync, S>(
    items: &[T],
    threads: usize,
    run: usize,
    start: impl Fn() -> S + Sync,
    each: impl Fn(&mut S, &T) + Sync,
    finish: impl Fn(S) + Sync,
) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut state = start();
                loop {
                    let first = next.fetch_add(run, Relaxed);
                    if first >= items.len() {
                        break;
                    }
                    for item in &items[first..(first + run).min(items.len())] {
                        each(&mut state, item);
                    }
                }
                finish(state);
            });
        }
    });
}

/// A poisoned lock only means another thread panicked, and that panic is re-raised when the
/// scope joins it: the data is still worth reporting up to then.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn into_inner<T>(m: Mutex<T>) -> T {
    m.into_inner().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_handed_out_once() {
        let items: Vec<usize> = (0..1000).collect();
        let seen = Mutex::new(Vec::new());
        in_runs(
            &items,
            3,
            7,
            Vec::new,
            |mine: &mut Vec<usize>, &i| mine.push(i),
            |mine| lock(&seen).extend(mine),
        );
        let mut seen = into_inner(seen);
        seen.sort_unstable();
        assert_eq!(seen, items);
    }
}
