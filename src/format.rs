//! `journeyc fmt`: one canonical layout for `.journey` files. Statements are lines and
//! blocks are braces, so the layout is the lines': each indented two spaces per open
//! block, spaces between words one, trailing spaces none, blank lines at most one and
//! never just inside a block's braces, and one newline at the end. Strings and
//! comments are kept as written; what a line says is never rewritten, so the checked
//! IR of a file is the same before and after, and formatting twice changes nothing.
//!
//! A file with syntax errors is not formatted: where its blocks end is not known.

use crate::diagnostic::{Diagnostic, FileId};
use crate::syntax;

/// Spaces per level of nesting.
const INDENT: &str = "  ";

/// `text` in the canonical layout, or the syntax errors that stop it.
pub fn format(text: &str) -> Result<String, Vec<Diagnostic>> {
    let (_, diagnostics) = syntax::parse(FileId(0), text);
    let errors: Vec<Diagnostic> = diagnostics.into_iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(layout(text))
}

/// The layout of `text`, which parses: indentation by brace depth, words spaced once,
/// blank lines collapsed.
fn layout(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut depth: usize = 0;
    // A blank line waits until the next line says whether it may stay.
    let mut blank_pending = false;
    let mut after_open = true;
    for raw in text.lines() {
        let line = spaced(raw.trim_start_matches('\u{FEFF}').trim());
        if line.is_empty() {
            blank_pending = !after_open;
            continue;
        }
        let (opens, closes_first, net) = braces(&line);
        let level = if closes_first {
            depth.saturating_sub(1)
        } else {
            depth
        };
        if blank_pending && !line.starts_with('}') {
            out.push('\n');
        }
        blank_pending = false;
        for _ in 0..level {
            out.push_str(INDENT);
        }
        out.push_str(&line);
        out.push('\n');
        depth = (depth as isize + net).max(0) as usize;
        after_open = opens;
    }
    out
}

/// What a line does to the nesting: whether it ends by opening a block, whether it
/// starts by closing one, and the net change, counting braces outside strings and
/// comments only.
fn braces(line: &str) -> (bool, bool, isize) {
    let mut net = 0;
    let mut last = None;
    for (c, code) in chars(line) {
        if !code {
            continue;
        }
        match c {
            '{' => net += 1,
            '}' => net -= 1,
            _ => {}
        }
        if !c.is_whitespace() {
            last = Some(c);
        }
    }
    (last == Some('{'), line.starts_with('}'), net)
}

/// `line` (trimmed) with each run of spaces and tabs in its code made one space; a
/// trailing comment keeps the space before it as written (comments may be aligned),
/// at least one.
fn spaced(line: &str) -> String {
    let (code, comment) = match comment_start(line) {
        Some(at) => line.split_at(at),
        None => (line, ""),
    };
    let mut out = String::with_capacity(line.len());
    let mut gap = false;
    for (c, is_code) in chars(code) {
        if is_code && (c == ' ' || c == '\t') {
            gap = !out.is_empty();
            continue;
        }
        if gap {
            out.push(' ');
            gap = false;
        }
        out.push(c);
    }
    // A block's `{` at the end of its line, and a `}` that starts one before `else`,
    // stand apart: `page P {`, `} else {`.
    if out.len() > 1 && out.ends_with('{') && !out[..out.len() - 1].ends_with(' ') {
        out.insert(out.len() - 1, ' ');
    }
    if out.len() > 1 && out.starts_with('}') && !out[1..].starts_with([' ', '}']) {
        out.insert(1, ' ');
    }
    if !comment.is_empty() {
        if !out.is_empty() {
            let before = code.len() - code.trim_end().len();
            let spaces = code[code.len() - before..].replace('\t', " ");
            out.push_str(if spaces.is_empty() { " " } else { &spaces });
        }
        out.push_str(comment);
    }
    out
}

/// Where a line's comment starts, if it has one outside a string: `chars` marks the
/// first `/` of `//` as code and the second as not.
fn comment_start(line: &str) -> Option<usize> {
    let mut at = 0;
    let mut slash_at = None;
    for (c, code) in chars(line) {
        if c == '/' && !code {
            if let Some(p) = slash_at {
                return Some(p);
            }
        }
        slash_at = (code && c == '/').then_some(at);
        at += c.len_utf8();
    }
    None
}

/// The characters of `line`, each with whether it is code (not inside a string nor a
/// comment). A string's quotes are its own; `\"` inside one does not end it.
fn chars(line: &str) -> impl Iterator<Item = (char, bool)> + '_ {
    let mut in_string = false;
    let mut escaped = false;
    let mut in_comment = false;
    let mut prev_slash = false;
    line.chars().map(move |c| {
        if in_comment {
            return (c, false);
        }
        if in_string {
            let ends = c == '"' && !escaped;
            escaped = c == '\\' && !escaped;
            if ends {
                in_string = false;
            }
            return (c, false);
        }
        match c {
            '"' => {
                in_string = true;
                prev_slash = false;
                (c, false)
            }
            '/' if prev_slash => {
                in_comment = true;
                (c, false)
            }
            '/' => {
                prev_slash = true;
                (c, true)
            }
            _ => {
                prev_slash = false;
                (c, true)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSY: &str = "\n\n// A journey.\njourney   Hello{\n\n\n    trigger link \"hi  there\"   // the link\n  step Start {\n\n  page Welcome {\n\t\theading \"A  {{ x }}  b\"\n\n\n    button \"Go\" {\n  end   session\n }\n\n  }\n}\n}";

    const TIDY: &str = "// A journey.\njourney Hello {\n  trigger link \"hi  there\"   // the link\n  step Start {\n    page Welcome {\n      heading \"A  {{ x }}  b\"\n\n      button \"Go\" {\n        end session\n      }\n    }\n  }\n}\n";

    #[test]
    fn layout_indents_by_depth_spaces_words_once_and_keeps_strings_and_comments() {
        assert_eq!(format(MESSY).unwrap(), TIDY);
    }

    #[test]
    fn formatting_twice_changes_nothing() {
        let once = format(MESSY).unwrap();
        assert_eq!(format(&once).unwrap(), once);
    }

    #[test]
    fn braces_in_strings_and_comments_do_not_nest() {
        let text =
            "journey J {\ntrigger link \"a{b\" // }\nstep S {\npage P {\nheading \"}\"\n}\n}\n}\n";
        assert_eq!(
            format(text).unwrap(),
            "journey J {\n  trigger link \"a{b\" // }\n  step S {\n    page P {\n      heading \"}\"\n    }\n  }\n}\n"
        );
    }

    #[test]
    fn a_block_brace_stands_apart() {
        let text = "journey J{\n  step S{\n    on enter{\n      if true{\n        end session\n      }else{\n        end session\n      }\n    }\n    page P {\n      heading \"x\"\n    }\n  }\n}\n";
        let tidy = format(text).unwrap();
        assert!(tidy.contains("journey J {\n"), "{tidy}");
        assert!(tidy.contains("      } else {\n"), "{tidy}");
        assert!(tidy.contains("    on enter {\n"), "{tidy}");
    }

    #[test]
    fn a_file_with_syntax_errors_is_not_formatted() {
        let errors = format("journey J {\n  step S {\n    nonsense here\n  }\n}\n").unwrap_err();
        assert!(!errors.is_empty());
    }
}
