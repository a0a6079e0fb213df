//! The added lines of a unified-diff hunk list (the `patch` of a compare API file), laid out at
//! their line numbers in the new file.
//!
//! Only added lines are scanned (a key that was already there is not news), but findings must
//! name the real line. Placing each added line at its own line number, with empty lines
//! elsewhere, gives both with the ordinary scanner: line numbers come out right, consecutive
//! added lines stay together (a multi-line PEM block is still one match), and context or removed
//! lines are never seen.

/// Returns the sparse new-file text, or `None` when the text is not a patch (no hunk header).
pub fn added_lines(patch: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(patch.len());
    let mut lines_in_out: u64 = 0;
    let mut new_line: Option<u64> = None;
    for raw in patch.split_inclusive('\n') {
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        if line.starts_with("@@") {
            new_line = Some(hunk_new_start(line)?);
            continue;
        }
        let Some(at) = new_line.as_mut() else {
            continue;
        };
        match line.as_bytes().first() {
            Some(b'+') => {
                // Line n of the new file goes after n-1 newlines.
                while lines_in_out + 1 < *at {
                    out.push(b'\n');
                    lines_in_out += 1;
                }
                out.extend_from_slice(&line.as_bytes()[1..]);
                out.push(b'\n');
                lines_in_out += 1;
                *at += 1;
            }
            Some(b'-') | Some(b'\\') => {}
            // Context (a space, or an empty line where a trailing space was trimmed).
            _ => *at += 1,
        }
    }
    new_line.map(|_| out)
}

/// `c` of `@@ -a,b +c,d @@ …` (also `+c` without a count).
fn hunk_new_start(header: &str) -> Option<u64> {
    let plus = header.split_whitespace().find(|w| w.starts_with('+'))?;
    let start = plus[1..].split(',').next()?;
    start.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(bytes: &[u8]) -> Vec<String> {
        String::from_utf8(bytes.to_vec())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn added_lines_land_on_their_new_line_numbers() {
        let patch = "@@ -1,3 +1,4 @@\n keep\n-old\n+new one\n+new two\n tail\n@@ -40,2 +41,3 @@ fn x()\n ctx\n+added at 42\n ctx\n\\ No newline at end of file";
        let out = added_lines(patch).unwrap();
        let l = lines(&out);
        assert_eq!(l[1], "new one");
        assert_eq!(l[2], "new two");
        assert_eq!(l[41], "added at 42");
        assert_eq!(l.len(), 42);
        // Context and removed lines are never part of what is scanned.
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("keep") && !text.contains("old") && !text.contains("ctx"));
    }

    #[test]
    fn new_file_and_single_line_hunks() {
        let out = added_lines("@@ -0,0 +1 @@\n+only line").unwrap();
        assert_eq!(lines(&out), vec!["only line"]);
        let out = added_lines("@@ -5 +5 @@\n-a\n+b\n").unwrap();
        assert_eq!(lines(&out)[4], "b");
    }

    #[test]
    fn text_without_hunks_is_not_a_patch() {
        assert_eq!(added_lines("+looks added but no header"), None);
        assert_eq!(added_lines("@@ garbage @@\n+x"), None);
    }
}
