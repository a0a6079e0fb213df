//! Binary or text, by a measure one stray byte cannot flip.
//!
//! git and ripgrep call a file binary when its first 8 KiB hold a NUL; one NUL in a text file
//! then hides every key in it. Here a blob is binary only when NULs or other control bytes are
//! a real share of its head. And binary blobs are still searched for keys with a literal type
//! prefix (the scanner keeps only those): a key in a core dump or a compiled asset is still a
//! key.

/// Leading bytes looked at.
pub const PROBE: usize = 8 << 10;

/// True when `bytes` (the head of a blob) looks like binary data: it holds NULs, and more than
/// one per 256 bytes (beyond the first) or more than a tenth control bytes. Without any NUL it
/// is text: the common case costs one SIMD search, and binary formats without a NUL in 8 KiB
/// are vanishingly rare (random bytes: a chance of e^-32).
pub fn is_binary(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(PROBE)];
    if memchr::memchr(0, head).is_none() {
        return false;
    }
    let nuls = memchr::memchr_iter(0, head).count();
    nuls > 1 + head.len() / 256 || controls(head) * 10 > head.len()
}

/// Control bytes other than NUL (counted on its own) and the whitespace and escapes text uses.
fn controls(head: &[u8]) -> usize {
    head.iter()
        .filter(|&&b| {
            (b < 0x20 && !matches!(b, 0 | b'\t' | b'\n' | b'\r' | 0x0c | 0x1b)) || b == 0x7f
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stray_nul_keeps_text_text() {
        let mut text = b"key = sk_live_4eC39HqLyjWDarjtT1zdp7dc\n".repeat(4);
        text.insert(20, 0);
        assert!(!is_binary(&text));
        assert!(!is_binary(b"short\0"));
    }

    #[test]
    fn machine_code_and_utf16_are_binary() {
        let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0\x01\0\0\0".to_vec();
        elf.extend((0..2000u32).flat_map(|i| i.to_le_bytes()));
        assert!(is_binary(&elf));
        let utf16: Vec<u8> = "key = value\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert!(is_binary(&utf16));
        assert!(!is_binary(
            "naïve ✓ text\twith tabs\r\n\x1b[1mbold\x1b[0m".as_bytes()
        ));
    }
}
