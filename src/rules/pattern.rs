//! Where a capture group sits in a rule's regex source, read from regex-syntax's syntax tree
//! (which knows escapes, classes, flags and look-arounds) rather than by counting parentheses.

use std::ops::Range;

use regex_syntax::ast::{self, Ast, GroupKind};

/// Capture group `n` (1-based, in order of opening parentheses, as the regex crate numbers
/// them) of `pattern`: the byte range of the whole group and of its body. `None` for group 0,
/// a group the pattern does not have, or a pattern that does not parse.
pub fn capture_group(pattern: &str, n: u32) -> Option<(Range<usize>, Range<usize>)> {
    let ast = ast::parse::Parser::new().parse(pattern).ok()?;
    find(&ast, n)
}

fn find(ast: &Ast, n: u32) -> Option<(Range<usize>, Range<usize>)> {
    match ast {
        Ast::Group(g) => {
            let index = match &g.kind {
                GroupKind::CaptureIndex(i) => Some(*i),
                GroupKind::CaptureName { name, .. } => Some(name.index),
                GroupKind::NonCapturing(_) => None,
            };
            if index == Some(n) {
                let body = g.ast.span();
                return Some((
                    g.span.start.offset..g.span.end.offset,
                    body.start.offset..body.end.offset,
                ));
            }
            find(&g.ast, n)
        }
        Ast::Repetition(r) => find(&r.ast, n),
        Ast::Concat(c) => c.asts.iter().find_map(|a| find(a, n)),
        Ast::Alternation(a) => a.asts.iter().find_map(|a| find(a, n)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_found_past_escapes_classes_and_non_capturing_groups() {
        let p = r"(?i)\((?:b)[(](c)(?P<x>d(e))";
        let body = |n| capture_group(p, n).map(|(_, b)| &p[b]);
        assert_eq!(body(1), Some("c"));
        assert_eq!(body(2), Some("d(e)"));
        assert_eq!(body(3), Some("e"));
        assert_eq!(body(4), None);
        assert_eq!(body(0), None);
        assert_eq!(capture_group(p, 2).map(|(w, _)| &p[w]), Some("(?P<x>d(e))"));
        assert_eq!(capture_group("(unclosed", 1), None);
    }
}
