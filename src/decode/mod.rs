//! The decoding layer in front of the matcher: archives and compressed files opened member by
//! member ([`archive`]), credentials carried base64-, hex- or percent-encoded found and decoded
//! ([`encoded`]), and the binary-or-text decision ([`binary`]).
//!
//! Pure: bytes in, readable pieces and their names out, under [`Limits`]. It knows nothing of
//! rules or findings; `scan` drives it and scans what it yields.

pub mod archive;
pub mod binary;
pub mod encoded;

use std::fmt;

use serde::Deserialize;

/// A container format, recognised by its magic bytes (never by the file name: a renamed
/// archive is still opened, and a `.zip` that is not one costs nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Zip,
    Tar,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

/// Bytes [`sniff`] needs to see a tar header's `ustar` magic.
pub const SNIFF_LEN: usize = 512;

/// The container format `head` (the first bytes of a blob, ideally [`SNIFF_LEN`]) starts.
pub fn sniff(head: &[u8]) -> Option<Kind> {
    // One branch on the first byte keeps the common case (text) to a single compare.
    match head.first()? {
        b'P' if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") => {
            Some(Kind::Zip)
        }
        0x1f if head.starts_with(&[0x1f, 0x8b, 0x08]) => Some(Kind::Gzip),
        b'B' if head.len() >= 10
            && head.starts_with(b"BZh")
            && (b'1'..=b'9').contains(&head[3])
            && head[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59] =>
        {
            Some(Kind::Bzip2)
        }
        0xfd if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) => Some(Kind::Xz),
        0x28 if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) => Some(Kind::Zstd),
        _ if head.len() >= 262 && &head[257..262] == b"ustar" => Some(Kind::Tar),
        _ => None,
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Zip => "zip",
            Kind::Tar => "tar",
            Kind::Gzip => "gzip",
            Kind::Bzip2 => "bzip2",
            Kind::Xz => "xz",
            Kind::Zstd => "zstd",
        })
    }
}

/// The `[archives]` section of `keysweep.toml`: what a hostile archive may cost.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Open archives and compressed files at all (`false`: count them as binary).
    pub enabled: bool,
    /// Decode base64, hex and percent-encoded credentials.
    pub decode: bool,
    /// Containers inside containers (a `.tar.gz` is two levels).
    pub max_depth: u32,
    /// Decompressed bytes scanned of one member.
    pub max_member_size: u64,
    /// Decompressed bytes scanned of one top-level archive, all members and levels together.
    pub max_total_size: u64,
    /// Decompressed bytes per compressed byte, checked once a member passes 1 MiB.
    pub max_ratio: u64,
    /// Members (and compressed layers) of one top-level archive.
    pub max_members: u64,
    /// A zip read from a stream (stdin, a git blob, a zip inside another archive) needs random
    /// access and is held in memory: up to this size.
    pub max_in_memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            enabled: true,
            decode: true,
            max_depth: 5,
            max_member_size: 256 << 20,
            max_total_size: 1 << 30,
            max_ratio: 200,
            max_members: 100_000,
            max_in_memory: 64 << 20,
        }
    }
}

/// Why a scan of an archive stopped short: each is reported (the run is incomplete, exit 2)
/// with the setting that would let it through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Cut {
    #[error("nested deeper than {0} levels (archives.max_depth)")]
    Depth(u32),
    #[error(
        "member larger than {0} bytes decompressed, rest not scanned (archives.max_member_size)"
    )]
    MemberSize(u64),
    #[error(
        "archive larger than {0} bytes decompressed, rest not scanned (archives.max_total_size)"
    )]
    TotalSize(u64),
    #[error("compression ratio above {0}:1, a likely decompression bomb; rest not scanned (archives.max_ratio)")]
    Ratio(u64),
    #[error("more than {0} members, rest not scanned (archives.max_members)")]
    Members(u64),
    #[error("zip of more than {0} bytes in a stream cannot be opened in memory (archives.max_in_memory)")]
    InMemory(u64),
}

impl Cut {
    /// The cut carried through an `io::Error` by a limited reader, if that is what `e` is.
    pub fn from_io(e: &std::io::Error) -> Option<&Cut> {
        e.get_ref()?.downcast_ref::<Cut>()
    }
}
