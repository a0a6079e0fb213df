//! Standard input as one stream, scanned in chunks like a large file.

use std::io;

use crate::finding::Origin;
use crate::scan::{Collector, Scanner, Scratch};

pub fn scan(scanner: &Scanner, collector: &Collector) {
    let mut scratch = Scratch::default();
    let origin = Origin::new("stdin");
    let mut input = io::stdin().lock();
    if let Err(e) = scanner.scan_reader(&mut input, &origin, &mut scratch, &mut |f| {
        collector.push(f)
    }) {
        scanner.messages.error(format_args!("stdin: {e}"));
    }
}
