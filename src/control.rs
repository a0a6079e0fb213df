//! Bounded reads of the files that steer a run (`--config`/`keysweep.toml`, `--rules`,
//! `--baseline`, reports read back): a path that names a device, a FIFO or a huge file (a
//! hostile repository's `keysweep.toml` symlinked to `/dev/zero`) must cost a clear error,
//! not all the memory of the machine. The one helper every such read goes through.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Far above any real configuration, rule pack or baseline (a baseline line is 65 bytes).
pub const CONTROL_FILE_MAX: u64 = 32 << 20;
/// Reports read back (`revoke --from`, `report merge`) may be larger.
pub const REPORT_FILE_MAX: u64 = 1 << 30;

/// The whole of the regular file at `path` (symbolic links followed), if it holds at most
/// `max` bytes; otherwise an `InvalidData`/`InvalidInput` error saying why (the caller's
/// context names the file).
pub fn read(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    // Checked before opening: opening a FIFO would wait for a writer.
    regular(&std::fs::metadata(path)?)?;
    let file = File::open(path)?;
    regular(&file.metadata()?)?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {} MiB: refused", max >> 20),
        ));
    }
    Ok(bytes)
}

/// [`read`], as UTF-8 text.
pub fn read_to_string(path: &Path, max: u64) -> io::Result<String> {
    String::from_utf8(read(path, max)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

fn regular(meta: &std::fs::Metadata) -> io::Result<()> {
    if meta.is_file() {
        return Ok(());
    }
    let what = if meta.is_dir() {
        "a directory"
    } else {
        "not a regular file (a device, FIFO or socket)"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what}: refused"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_oversized_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(Path::new("/dev/zero"), 10).unwrap_err().to_string();
        assert_eq!(
            err,
            "not a regular file (a device, FIFO or socket): refused"
        );
        let err = read(dir.path(), 10).unwrap_err().to_string();
        assert_eq!(err, "a directory: refused");
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; (2 << 20) + 1]).unwrap();
        let err = read(&big, 2 << 20).unwrap_err().to_string();
        assert_eq!(err, "larger than 2 MiB: refused");
        assert_eq!(read(&big, 3 << 20).unwrap().len(), (2 << 20) + 1);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(read(&link, 10).is_err());
    }
}
