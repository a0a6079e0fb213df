use std::process::ExitCode;

use keysweep::messages::Messages;
use keysweep::pipeline::EXIT_ERROR;

fn main() -> ExitCode {
    tune_allocator();
    // `keysweep -` reads standard input, like most Unix filters.
    let mut args: Vec<_> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "-") {
        args[1] = "stdin".into();
    }
    let messages = Messages::stderr();
    match keysweep::cmd::run(keysweep::cli::parse(args), &messages) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(err) => {
            messages.error(format_args!("{err:#}"));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// glibc raises its mmap threshold each time a large mmapped block is freed (up to 32 MiB), after
/// which the decoded objects of a history scan come from the heap arenas and their freed space is
/// kept: on git/git that was ~50 MiB of peak RSS (524 MiB with the default, 471 MiB with a fixed
/// 1 MiB threshold; `/usr/bin/time` of `keysweep git`, README Performance). A fixed threshold
/// keeps big buffers mmapped and returned on free. musl and other platforms return memory on
/// their own.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
