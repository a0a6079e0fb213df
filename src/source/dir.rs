//! Directory trees: a parallel walk (the `ignore` crate, as in ripgrep), one scratch per thread.

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
}

pub fn scan(scanner: &Scanner, roots: &[PathBuf], options: &DirOptions, collector: &Collector) {
    let Some((first, rest)) = roots.split_first() else {
        return;
    };
    let mut builder = WalkBuilder::new(first);
    for root in rest {
        builder.add(root);
    }
    let filters = !options.no_ignore;
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
        .filter_entry(|e| e.file_name() != ".git");
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
    let shown = display_path(path);
    if scanner.suppress.path_allowed(&shown) {
        return;
    }
    let origin = Origin::with_path("dir", shown);
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

/// Paths as the user typed their roots, minus a leading `./`.
fn display_path(path: &Path) -> String {
    let s = path.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).to_string()
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
