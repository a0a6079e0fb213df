//! Directory trees: a parallel walk (the `ignore` crate, as in ripgrep), one scratch per thread.

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};

use ignore::{WalkBuilder, WalkState};

use crate::finding::Origin;
use crate::scan::{Collector, Scanner, Scratch};

#[derive(Debug, Clone, Default)]
pub struct DirOptions {
    /// Scan files that `.gitignore`, `.ignore` and `.keysweepignore` exclude.
    pub no_ignore: bool,
    /// Follow symbolic links (loops are detected and reported, not followed).
    pub follow: bool,
    /// Walker threads; 0 picks from the number of CPUs.
    pub threads: usize,
    /// Files never scanned wherever they are (keysweep's own revocation journal).
    pub skip: Vec<PathBuf>,
}

pub fn scan(scanner: &Scanner, roots: &[PathBuf], options: &DirOptions, collector: &Collector) {
    // A pipe named on the command line (`<(cmd)`, `/dev/stdin`, a FIFO) is no directory
    // entry the walker would read: it is read here, as a stream in bounded chunks.
    let (streams, roots): (Vec<&PathBuf>, Vec<&PathBuf>) = roots.iter().partition(|r| is_stream(r));
    for stream in streams {
        scan_file(scanner, stream, &mut Scratch::default(), collector);
    }
    let Some((first, rest)) = roots.split_first() else {
        return;
    };
    let mut builder = WalkBuilder::new(first);
    for root in rest {
        builder.add(root);
    }
    let filters = !options.no_ignore;
    let skip = Skip::new(&options.skip);
    builder
        // Secrets love dotfiles (.env, .npmrc, .aws/credentials): hidden files are scanned.
        .hidden(false)
        .ignore(filters)
        .git_ignore(filters)
        .git_global(filters)
        .git_exclude(filters)
        .parents(filters)
        .follow_links(options.follow)
        .threads(options.threads)
        // Object stores are compressed; history is the `git` command's job.
        .filter_entry(move |e| e.file_name() != ".git" && !skip.matches(e.path()));
    if filters {
        builder.add_custom_ignore_filename(".keysweepignore");
    }
    builder.build_parallel().run(|| {
        let mut scratch = Scratch::default();
        let collector = collector.clone();
        Box::new(move |entry| {
            match entry {
                Ok(entry) if entry.file_type().is_some_and(|t| t.is_file()) => {
                    scan_file(scanner, entry.path(), &mut scratch, &collector)
                }
                Ok(_) => {}
                Err(err) if is_loop(&err) => scanner
                    .messages
                    .note(format_args!("{err}: not followed again")),
                Err(err) => scanner.messages.error(err),
            }
            WalkState::Continue
        })
    });
}

fn scan_file(scanner: &Scanner, path: &Path, scratch: &mut Scratch, collector: &Collector) {
    // The check's UTF-8 validation of every path showed in profiles of the 1 GiB tree.
    if scanner.suppress.allows_paths() && scanner.suppress.path_allowed(&display_path(path)) {
        return;
    }
    let origin = Origin::with_path_bytes("dir", &display_bytes(path));
    let mut emit = |f| collector.push(f);
    // Every file goes through the streaming reader: small ones end in one chunk, and nothing
    // needs the file's size first (one syscall less per file).
    let result =
        File::open(path).and_then(|file| scanner.scan_file(&file, &origin, scratch, &mut emit));
    if let Err(e) = result {
        scanner
            .messages
            .error(format_args!("{}: {e}", path.display()));
    }
}

/// A FIFO or character device (after following symbolic links, as `/dev/stdin` and
/// `/dev/fd/63` are): something to read as a stream, not to walk.
#[cfg(unix)]
fn is_stream(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| {
        let t = m.file_type();
        t.is_fifo() || t.is_char_device()
    })
}

#[cfg(not(unix))]
fn is_stream(_: &Path) -> bool {
    false
}

/// [`display_path`]'s bytes, exact even when they are not UTF-8.
#[cfg(unix)]
fn display_bytes(path: &Path) -> Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    let b = path.as_os_str().as_bytes();
    Cow::Borrowed(b.strip_prefix(b"./").unwrap_or(b))
}

#[cfg(not(unix))]
fn display_bytes(path: &Path) -> Cow<'_, [u8]> {
    Cow::Owned(display_path(path).into_owned().into_bytes())
}

/// Files to leave out, compared as canonical paths; only entries whose name matches pay for
/// the `canonicalize` (a walk of a million files stays a walk of names).
#[derive(Clone)]
struct Skip {
    files: Vec<PathBuf>,
}

impl Skip {
    fn new(paths: &[PathBuf]) -> Skip {
        let files = paths.iter().filter_map(|p| p.canonicalize().ok()).collect();
        Skip { files }
    }

    fn matches(&self, path: &Path) -> bool {
        self.files.iter().any(|f| {
            f.file_name() == path.file_name() && path.canonicalize().is_ok_and(|p| p == *f)
        })
    }
}

/// Paths as the user typed their roots, minus a leading `./` (borrowed when UTF-8: no
/// allocation per file).
fn display_path(path: &Path) -> Cow<'_, str> {
    match path.to_string_lossy() {
        Cow::Borrowed(s) => Cow::Borrowed(s.strip_prefix("./").unwrap_or(s)),
        Cow::Owned(s) => Cow::Owned(s.strip_prefix("./").unwrap_or(&s).to_string()),
    }
}

fn is_loop(err: &ignore::Error) -> bool {
    match err {
        ignore::Error::Loop { .. } => true,
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => is_loop(err),
        ignore::Error::Partial(errs) => !errs.is_empty() && errs.iter().all(is_loop),
        _ => false,
    }
}
