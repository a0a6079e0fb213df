//! The one owner of what keysweep tells a person on stderr: errors, warnings, notes, status
//! lines and the progress line (after ripgrep's `crates/core/messages.rs`).
//!
//! Every message goes through a [`Messages`] handle, so lines from parallel threads never
//! interleave, a progress line is cleared before a message is printed over it, and an error is
//! counted: [`Messages::incomplete`] is what turns a run's exit code into 2. A long-running
//! server gives each job its own handle (or a capturing one) and reads the count per job.
//!
//! Nothing printed here may carry a raw secret or token: callers pass redacted forms.

use std::fmt::Display;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Serialises every handle that writes to the process's stderr.
static STDERR: Mutex<()> = Mutex::new(());

/// A cheap, cloneable, thread-safe handle; clones share their counts and destination.
#[derive(Clone)]
pub struct Messages {
    inner: Arc<Inner>,
}

struct Inner {
    errors: AtomicU64,
    warnings: AtomicU64,
    /// A progress line is on screen (stderr only): clear it before the next line.
    progress_shown: AtomicBool,
    sink: Sink,
}

enum Sink {
    Stderr,
    /// Lines kept in memory: unit tests, and jobs whose messages go elsewhere.
    Buffer(Mutex<Vec<u8>>),
}

impl Default for Messages {
    fn default() -> Self {
        Messages::stderr()
    }
}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messages")
            .field("errors", &self.errors())
            .field("warnings", &self.inner.warnings.load(Relaxed))
            .finish()
    }
}

impl Messages {
    /// Messages to the process's stderr.
    pub fn stderr() -> Messages {
        Messages::with(Sink::Stderr)
    }

    /// Messages kept in memory; read them with [`Messages::captured`].
    pub fn capture() -> Messages {
        Messages::with(Sink::Buffer(Mutex::new(Vec::new())))
    }

    fn with(sink: Sink) -> Messages {
        Messages {
            inner: Arc::new(Inner {
                errors: AtomicU64::new(0),
                warnings: AtomicU64::new(0),
                progress_shown: AtomicBool::new(false),
                sink,
            }),
        }
    }

    /// Something could not be scanned or done: printed at once, and the run is incomplete.
    pub fn error(&self, message: impl Display) {
        self.inner.errors.fetch_add(1, Relaxed);
        self.line(format_args!("keysweep: error: {message}"));
    }

    /// Something the user should act on that does not make results incomplete.
    pub fn warn(&self, message: impl Display) {
        self.inner.warnings.fetch_add(1, Relaxed);
        self.line(format_args!("keysweep: warning: {message}"));
    }

    /// Something the user should know (a limit applied, a fallback taken).
    pub fn note(&self, message: impl Display) {
        self.line(format_args!("keysweep: note: {message}"));
    }

    /// A status line: what was done (`wrote 3 fingerprints to …`, the closing summary).
    pub fn status(&self, message: impl Display) {
        self.line(format_args!("keysweep: {message}"));
    }

    /// A line exactly as given (per-item check results such as `FAIL …`).
    pub fn plain(&self, message: impl Display) {
        self.line(format_args!("{message}"));
    }

    /// Errors reported so far.
    pub fn errors(&self) -> u64 {
        self.inner.errors.load(Relaxed)
    }

    /// Warnings reported so far.
    pub fn warnings(&self) -> u64 {
        self.inner.warnings.load(Relaxed)
    }

    /// True once any error was reported: results are then a lower bound (exit 2).
    pub fn incomplete(&self) -> bool {
        self.errors() > 0
    }

    /// What a capturing handle holds (empty for stderr).
    pub fn captured(&self) -> String {
        match &self.inner.sink {
            Sink::Stderr => String::new(),
            Sink::Buffer(b) => String::from_utf8_lossy(&lock(b)).into_owned(),
        }
    }

    /// Replaces the progress line (stderr on a terminal only; see [`Progress`]).
    pub fn progress(&self, line: impl Display) {
        if let Sink::Stderr = self.inner.sink {
            let _guard = lock(&STDERR);
            let _ = write!(io::stderr().lock(), "\r\x1b[2K{line}");
            self.inner.progress_shown.store(true, Relaxed);
        }
    }

    /// Removes the progress line, if one is shown.
    pub fn clear_progress(&self) {
        if let Sink::Stderr = self.inner.sink {
            let _guard = lock(&STDERR);
            self.clear_progress_locked(&mut io::stderr().lock());
        }
    }

    fn clear_progress_locked(&self, err: &mut dyn Write) {
        if self.inner.progress_shown.swap(false, Relaxed) {
            let _ = write!(err, "\r\x1b[2K");
        }
    }

    fn line(&self, line: std::fmt::Arguments<'_>) {
        // Messages quote paths, names and server text: nothing in them may drive the terminal.
        let line = line.to_string();
        let line = crate::escape::visible_lines(&line);
        match &self.inner.sink {
            Sink::Stderr => {
                let _guard = lock(&STDERR);
                let mut err = io::stderr().lock();
                self.clear_progress_locked(&mut err);
                let _ = writeln!(err, "{line}");
            }
            Sink::Buffer(b) => {
                let _ = writeln!(lock(b), "{line}");
            }
        }
    }
}

/// A `Write` for code that reports line by line into a writer (revocation's per-key lines):
/// each complete line goes out through [`Messages::plain`], so it is serialised with every
/// other message and clears a progress line like they do. A trailing partial line is sent
/// when the writer is flushed or dropped.
pub struct Lines {
    messages: Messages,
    pending: Vec<u8>,
}

impl Messages {
    /// A writer whose lines become messages (see [`Lines`]).
    pub fn lines(&self) -> Lines {
        Lines {
            messages: self.clone(),
            pending: Vec::new(),
        }
    }
}

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = memchr::memchr(b'\n', &self.pending) {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.messages
                .plain(String::from_utf8_lossy(&line[..line.len() - 1]));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.messages.plain(String::from_utf8_lossy(&line));
        }
        Ok(())
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Progress while work runs, unless quiet: on a terminal a line refreshed in place after the
/// first second (so short runs stay silent); without one (CI logs) a plain status line every
/// [`LOG_EVERY`], so a long job shows it is alive without flooding the log.
pub struct Progress<'a> {
    messages: &'a Messages,
    mode: Mode,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Off,
    Terminal,
    /// A status line each period.
    Log(Duration),
}

/// How often a log without a terminal gets a progress line.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

impl<'a> Progress<'a> {
    pub fn new(messages: &'a Messages, quiet: bool) -> Progress<'a> {
        let mode = match (quiet, &messages.inner.sink) {
            (true, _) | (false, Sink::Buffer(_)) => Mode::Off,
            (false, Sink::Stderr) if io::stderr().is_terminal() => Mode::Terminal,
            (false, Sink::Stderr) => Mode::Log(LOG_EVERY),
        };
        Progress { messages, mode }
    }

    /// Status lines every `every`, whatever the sink (tests, and jobs whose output is a log).
    pub fn logging(messages: &'a Messages, every: Duration) -> Progress<'a> {
        let mode = Mode::Log(every);
        Progress { messages, mode }
    }

    /// Runs `work`, showing `status()` as the mode says.
    pub fn run<T>(&self, status: impl Fn() -> String + Sync, work: impl FnOnce() -> T) -> T {
        match self.mode {
            Mode::Off => work(),
            Mode::Terminal => self.run_in_place(status, work),
            Mode::Log(every) => self.run_logged(every, status, work),
        }
    }

    fn run_logged<T>(
        &self,
        every: Duration,
        status: impl Fn() -> String + Sync,
        work: impl FnOnce() -> T,
    ) -> T {
        let (finished, wake) = (Mutex::new(false), std::sync::Condvar::new());
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut done = lock(&finished);
                // Checked before each wait: work that ends before this thread first takes the
                // lock has already sent its wake-up, and waiting then would hold the process
                // for a whole period (every short `keysweep -` in a pipe took 10 s).
                while !*done {
                    let (d, timeout) = wake
                        .wait_timeout(done, every)
                        .unwrap_or_else(|e| e.into_inner());
                    done = d;
                    if !*done && timeout.timed_out() {
                        self.messages.status(status());
                    }
                }
            });
            let result = work();
            *lock(&finished) = true;
            wake.notify_all();
            result
        })
    }

    /// The terminal line: `status()` every 300 ms once a second has passed.
    fn run_in_place<T>(&self, status: impl Fn() -> String + Sync, work: impl FnOnce() -> T) -> T {
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let tick = Duration::from_millis(100);
                let mut waited = Duration::ZERO;
                while !done.load(Relaxed) {
                    std::thread::sleep(tick);
                    waited += tick;
                    if waited >= Duration::from_secs(1) && waited.as_millis().is_multiple_of(300) {
                        self.messages.progress(status());
                    }
                }
                self.messages.clear_progress();
            });
            let result = work();
            done.store(true, Relaxed);
            result
        })
    }
}

/// `; did you mean "aws.access-key"?` for the nearest of `known` within a few edits, else "".
pub fn did_you_mean(word: &str, known: &[String]) -> String {
    let limit = (word.chars().count() / 3).max(2);
    known
        .iter()
        .map(|k| (edit_distance(word, k), k))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| format!("; did you mean {k:?}?"))
        .unwrap_or_default()
}

/// Levenshtein distance over characters (two rows).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            row[j + 1] = substitute.min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

/// `1.5 GiB`: a byte count for people (binary units).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Anything countable: the integer types counts come in.
pub trait Count: Copy {
    fn get(self) -> u64;
}

macro_rules! count_impl {
    ($($t:ty),*) => {$(impl Count for $t { fn get(self) -> u64 { self as u64 } })*};
}
count_impl!(u32, u64, usize);

/// `1 file`, `2 files`: the count and the noun, regular plural.
pub fn plural(n: impl Count, noun: &str) -> String {
    let n = n.get();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The count and the noun, for nouns whose plural is not `+s` (`1 entry`, `2 entries`).
pub fn count(n: impl Count, one: &str, many: &str) -> String {
    let n = n.get();
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_terminal_progress_is_a_plain_line_each_period() {
        let messages = Messages::capture();
        let progress = Progress::logging(&messages, Duration::from_millis(20));
        let n = std::sync::atomic::AtomicU64::new(0);
        let status = || format!("scanning: {} files", n.fetch_add(1, Relaxed));
        progress.run(status, || std::thread::sleep(Duration::from_millis(200)));
        let captured = messages.captured();
        assert!(
            captured.starts_with("keysweep: scanning: 0 files\n"),
            "{captured}"
        );
        assert!(!captured.contains('\r'), "{captured}");
        // Nothing after the work ended: the last line is not repeated once done.
        let lines = captured.lines().count();
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(messages.captured().lines().count(), lines);
    }

    #[test]
    fn work_that_ends_at_once_is_not_held_for_a_period() {
        // The lost wake-up: work done before the logging thread first waits must not leave it
        // waiting out its period (a 6-byte `keysweep -` took 10 s).
        let messages = Messages::capture();
        let progress = Progress::logging(&messages, Duration::from_secs(30));
        for _ in 0..50 {
            let started = std::time::Instant::now();
            progress.run(|| "scanning".to_string(), || ());
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "held by the progress thread"
            );
        }
        assert_eq!(messages.captured(), "");
    }

    #[test]
    fn suggestions_name_the_nearest_id_only_when_it_is_near() {
        let known = ["aws.access-key".to_string(), "github.pat".to_string()];
        assert_eq!(
            did_you_mean("aws.acces-key", &known),
            "; did you mean \"aws.access-key\"?"
        );
        assert_eq!(did_you_mean("slack.bot", &known), "");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn errors_are_counted_and_make_the_run_incomplete() {
        let m = Messages::capture();
        m.note("a limit applied");
        m.warn("check this");
        assert!(!m.incomplete());
        let clone = m.clone();
        std::thread::spawn(move || clone.error("x: unreadable"))
            .join()
            .unwrap();
        assert!(m.incomplete());
        assert_eq!((m.errors(), m.warnings()), (1, 1));
        assert_eq!(
            m.captured(),
            "keysweep: note: a limit applied\nkeysweep: warning: check this\n\
             keysweep: error: x: unreadable\n"
        );
    }

    #[test]
    fn lines_from_many_threads_never_interleave() {
        let m = Messages::capture();
        std::thread::scope(|s| {
            for t in 0..8 {
                let m = &m;
                s.spawn(move || {
                    for i in 0..200 {
                        m.status(format_args!("thread {t} line {i} {}", "x".repeat(50)));
                    }
                });
            }
        });
        let text = m.captured();
        assert_eq!(text.lines().count(), 1600);
        assert!(text
            .lines()
            .all(|l| l.starts_with("keysweep: thread ") && l.ends_with(&"x".repeat(50))));
    }

    #[test]
    fn a_lines_writer_turns_each_line_into_one_message() {
        let m = Messages::capture();
        {
            let mut w = m.lines();
            write!(w, "keysweep: revoked sk_live_ab").unwrap();
            writeln!(w, "cd…(40)").unwrap();
            write!(w, "a\nb\npartial").unwrap();
        }
        assert_eq!(
            m.captured(),
            "keysweep: revoked sk_live_abcd…(40)\na\nb\npartial\n"
        );
    }

    #[test]
    fn plurals() {
        assert_eq!(plural(1u64, "file"), "1 file");
        assert_eq!(plural(0usize, "file"), "0 files");
        assert_eq!(plural(3u32, "finding"), "3 findings");
        assert_eq!(count(1u64, "entry", "entries"), "1 entry");
        assert_eq!(count(2u64, "entry", "entries"), "2 entries");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
    }
}
