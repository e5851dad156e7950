//! Where a missing `}` belongs. Braces pair with the nearest `{`, so a block left open
//! inside a journey is only noticed at the end of the file, and the lines after the
//! gap are read as belonging to the wrong block. People indent, though: a line indented
//! no deeper than the line that opened a block (other than the `}` that closes it) is
//! outside that block. `repair` finds the blocks the indentation says were left open
//! and writes their `}` into a copy of the text, replacing only spaces and line breaks,
//! so every offset stays the same and the copy can be parsed in place of the original.
//! It reads only the text: no names, no grammar.

/// A `}` written into the repaired text. `repair` returns them in text order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Missing {
    /// Where the `}` stands in the repaired text.
    pub at: usize,
    /// The first character of the line the `}` was missing before.
    pub before: usize,
    /// That line's number, from 1, in the original text.
    pub line: usize,
}

/// One line of the text, as far as braces and indentation go.
pub(super) struct Line {
    pub start: usize,
    /// The offset of the line break, or the end of the text.
    pub end: usize,
    /// Leading spaces and tabs.
    pub indent: usize,
    /// The end of the code, without a trailing comment or white space.
    pub code_end: usize,
    pub comment: bool,
    /// Offsets of the braces outside strings and comments.
    pub braces: Vec<usize>,
}

impl Line {
    pub(super) fn is_code(&self) -> bool {
        self.code_end > self.start + self.indent
    }
}

/// A copy of `text` with the `}` that the indentation says are missing, and where they
/// were written; `None` when the indentation gives no clear answer (the braces would
/// still not pair up, or there is no space or line break to write a `}` over).
pub(super) fn repair(text: &str) -> Option<(String, Vec<Missing>)> {
    let lines = lines(text);
    // Open blocks: the indentation of the line that opened each.
    let mut open: Vec<usize> = Vec::new();
    // Lines before which `}` are missing, and how many.
    let mut gaps: Vec<(usize, usize)> = Vec::new();
    for (k, line) in lines.iter().enumerate() {
        if !line.is_code() {
            continue;
        }
        let closes = text.as_bytes()[line.start + line.indent] == b'}';
        let mut missing = 0;
        while let Some(&indent) = open.last() {
            if indent > line.indent || (indent == line.indent && !closes) {
                open.pop();
                missing += 1;
            } else {
                break;
            }
        }
        if missing > 0 {
            gaps.push((k, missing));
        }
        for &b in &line.braces {
            if text.as_bytes()[b] == b'{' {
                open.push(line.indent);
            } else if open.pop().is_none() {
                // A `}` that closes nothing: the indentation is not to be trusted.
                return None;
            }
        }
    }
    if gaps.is_empty() {
        return None;
    }
    let mut bytes = text.as_bytes().to_vec();
    let mut missing = Vec::new();
    for (k, n) in gaps {
        let (at, newline) = site(text, &lines, k, n)?;
        for i in 0..n {
            bytes[at + i] = b'}';
            missing.push(Missing {
                at: at + i,
                before: lines[k].start + lines[k].indent,
                line: k + 1,
            });
        }
        if newline {
            bytes[at + n] = b'\n';
        }
    }
    missing.sort_by_key(|m| m.at);
    // Only ASCII spaces and line breaks were replaced by ASCII.
    let repaired = String::from_utf8(bytes).ok()?;
    Some((repaired, missing))
}

/// Where `n` braces missing before line `k` can be written over spaces or line breaks
/// without touching code or falling into a comment, and whether a line break follows
/// them there.
fn site(text: &str, lines: &[Line], k: usize, n: usize) -> Option<(usize, bool)> {
    let bytes = text.as_bytes();
    let line = &lines[k];
    let last_code = (0..k).rev().find(|&j| lines[j].is_code())?;
    // On a blank or comment-only line in between, over its indentation.
    if let Some(j) = (last_code + 1..k).find(|&j| lines[j].indent >= n) {
        return Some((lines[j].start, false));
    }
    // On a line of their own, over the indentation of line `k`.
    if line.indent > n {
        return Some((line.start, true));
    }
    // After the last code line, over the spaces that follow its code.
    let last = &lines[last_code];
    if last.end - last.code_end >= n
        && bytes[last.code_end..last.code_end + n]
            .iter()
            .all(|b| matches!(b, b' ' | b'\t'))
    {
        return Some((last.code_end, false));
    }
    // At the end of the line before, over its line break and line `k`'s indentation.
    let before = &lines[k - 1];
    if line.indent >= n && bytes.get(line.start - 1) == Some(&b'\n') && !before.comment {
        return Some((line.start - 1, true));
    }
    // Before a `}`, over the line break before it and its indentation: `}` ends a
    // statement as a line break does.
    let closes = bytes.get(line.start + line.indent) == Some(&b'}');
    if closes
        && line.indent + 1 >= n
        && bytes.get(line.start - 1) == Some(&b'\n')
        && !before.comment
    {
        return Some((line.start - 1, false));
    }
    // At the end of the line before an empty line in between, over its line break.
    if let Some(found) = (last_code + 1..k)
        .find(|&j| n == 1 && lines[j].start == lines[j].end && !lines[j - 1].comment)
        .map(|j| (lines[j - 1].end, false))
        .filter(|&(at, _)| bytes.get(at) == Some(&b'\n'))
    {
        return Some(found);
    }
    // After the last code line, over the spaces after its code and its line break,
    // when only comments at the margin stand in between: a comment then follows the
    // `}`, as it may.
    let at = (last.end + 1).checked_sub(n)?;
    (at >= last.code_end
        && !last.comment
        && bytes.get(last.end) == Some(&b'\n')
        && bytes[at..last.end]
            .iter()
            .all(|b| matches!(b, b' ' | b'\t')))
    .then_some((at, false))
}

/// The lines of `text`, read for braces outside strings and comments. Strings end at
/// the end of their line, as in the grammar; `{{ }}` inside a string may hold strings.
pub(super) fn lines(text: &str) -> Vec<Line> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    while start <= bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| start + i);
        out.push(read_line(bytes, start, end));
        start = end + 1;
    }
    out
}

fn read_line(bytes: &[u8], start: usize, end: usize) -> Line {
    #[derive(PartialEq)]
    enum Mode {
        Code,
        Text,
        Interpolation,
    }
    let indent = bytes[start..end]
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    let mut modes = vec![Mode::Code];
    let (mut braces, mut comment, mut code_end) = (Vec::new(), false, end);
    let mut i = start;
    while i < end {
        let (b, next) = (bytes[i], bytes.get(i + 1).copied());
        match modes.last().unwrap_or(&Mode::Code) {
            Mode::Text => match (b, next) {
                (b'\\', _) => i += 1,
                (b'"', _) => {
                    modes.pop();
                }
                (b'{', Some(b'{')) => {
                    modes.push(Mode::Interpolation);
                    i += 1;
                }
                _ => {}
            },
            mode => match (b, next) {
                (b'"', _) => modes.push(Mode::Text),
                (b'}', Some(b'}')) if *mode == Mode::Interpolation => {
                    modes.pop();
                    i += 1;
                }
                (b'/', Some(b'/')) if *mode == Mode::Code => {
                    comment = true;
                    code_end = i;
                    break;
                }
                (b'{' | b'}', _) if *mode == Mode::Code => braces.push(i),
                _ => {}
            },
        }
        if modes.is_empty() {
            modes.push(Mode::Code);
        }
        i += 1;
    }
    while code_end > start && bytes[code_end - 1].is_ascii_whitespace() {
        code_end -= 1;
    }
    Line {
        start,
        end,
        indent,
        code_end: code_end.max(start + indent.min(end - start)),
        comment,
        braces,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repaired text, with `}` written where the indentation says they are missing.
    fn repaired(text: &str) -> Option<String> {
        repair(text).map(|(t, _)| t)
    }

    #[test]
    fn a_page_left_open_is_closed_before_the_next_page() {
        let text = "journey J {\n  step S {\n    page A {\n      heading \"a\"\n\n    page B {\n      heading \"b\"\n    }\n  }\n}\n";
        let (fixed, missing) = repair(text).unwrap();
        assert_eq!(fixed, text.replacen("\n    page B", "\n}\n  page B", 1));
        assert_eq!(missing.len(), 1);
        assert_eq!(&text[missing[0].before..missing[0].before + 6], "page B");
    }

    #[test]
    fn a_close_too_far_left_closes_the_inner_block_first() {
        let text = "journey J {\n  step S {\n    page A {\n      heading \"a\"\n  }\n}\n";
        assert_eq!(
            repaired(text).unwrap(),
            "journey J {\n  step S {\n    page A {\n      heading \"a\"\n}\n}\n}\n"
        );
    }

    #[test]
    fn braces_in_strings_comments_and_interpolations_do_not_count() {
        let text =
            "journey J { // {\n  step S {\n    page A {\n      heading \"{ {{ \"}\" }}\"\n  }\n}\n";
        assert!(repaired(text).is_some());
    }

    #[test]
    fn closed_blocks_and_flat_indentation_are_left_alone() {
        let closed = "journey J {\n  step S {\n    page A {\n      heading \"a\"\n    }\n  }\n}\n";
        assert_eq!(repaired(closed), None);
        let flat = "journey J {\nstep S {\npage A {\nheading \"a\"\n}\n}\n";
        assert_eq!(repaired(flat), None);
    }

    #[test]
    fn a_close_at_the_margin_is_joined_to_the_line_before() {
        let text = "journey J {\n  calendar C {\n    time zone \"UTC\"\n}\n";
        assert_eq!(
            repaired(text).unwrap(),
            "journey J {\n  calendar C {\n    time zone \"UTC\"}}\n"
        );
    }

    #[test]
    fn a_top_level_block_left_open_is_closed_before_the_next() {
        let text = "journey J {\n  step S {\n  } // s\njourney K {\n}\n";
        assert_eq!(
            repaired(text).unwrap(),
            "journey J {\n  step S {\n  }}// s\njourney K {\n}\n"
        );
        let text = "journey J {\n  step S {\n  }// s\njourney K {\n}\n";
        assert_eq!(repaired(text), None, "no space to write over");
        let text = "journey J {\n  step S {\n  }\n\n// K\njourney K {\n}\n";
        assert_eq!(
            repaired(text).unwrap(),
            "journey J {\n  step S {\n  }}\n// K\njourney K {\n}\n"
        );
        let text = "journey J {\n  step S {\n  }\n\njourney K {\n}\n";
        assert_eq!(
            repaired(text).unwrap(),
            "journey J {\n  step S {\n  }}\njourney K {\n}\n"
        );
        // Only a comment at the margin between: the `}` takes the line break before it.
        let text = "journey J {\n  step S {\n  }\n// K\njourney K {\n}\n";
        assert_eq!(
            repaired(text).unwrap(),
            "journey J {\n  step S {\n  }}// K\njourney K {\n}\n"
        );
        let text = "journey J {\n  step S {\n    page P {\n    } \n// K\n// more\njourney K {\n}\n";
        assert_eq!(
            repaired(text).unwrap(),
            "journey J {\n  step S {\n    page P {\n    }}}// K\n// more\njourney K {\n}\n"
        );
    }
}
