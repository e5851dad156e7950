//! Parsing a file again after an edit, reusing what the edit left alone, for the
//! language server.
//!
//! The text is cut into pieces at line starts: each top-level item that starts at the
//! margin, and inside a journey whose first line is `journey NAME {` and whose last is a
//! `}` at the margin, each of the journey's items. A piece is parsed alone (a journey's
//! items with the grammar's `journey_part`), and what it gave is kept by its text, with
//! offsets from the piece's start. Parsing again parses only the pieces whose text is
//! new, and moves the others' trees and diagnostics to where the pieces now stand.
//!
//! Invariant: `Pieces::parse` gives exactly what `syntax::parse` gives for the same text.
//! Strings and comments end at their line, so a piece read alone reads as it does in
//! the whole text unless something in it runs past its end: a block left open (closed
//! by the end of the piece, and reported as such) or a bad line whose `{ ... }` finds
//! no `}` in the piece (matched again in the whole text to see). In either case, and
//! when the text has no such simple shape, the whole text is parsed as `syntax::parse`
//! does it. The one reading that differs is pest's call limit, which bounds each piece
//! rather than the whole: a file too complex to parse whole may be read in pieces.

use std::collections::HashMap;
use std::ops::Range;

use super::ast::{self, Item, JourneyItem};
use super::braces;
use super::grammar::{pest_parse, too_deep, Rule};
use super::lower::Lowerer;
use super::shift::Shift;
use super::{parse_here, MAX_FILE_BYTES, PARSE_STACK_BYTES};
use crate::diagnostic::{Diagnostic, FileId, Span, UNCLOSED_BLOCK};

/// What a piece is read as: top-level items, or a journey's items.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Level {
    File,
    Journey,
}

/// What one piece gave when parsed alone, with offsets from its start.
struct Parsed {
    items: Vec<Item>,
    journey_items: Vec<JourneyItem>,
    diagnostics: Vec<Diagnostic>,
    /// Bad lines that hold a `{`: their `{ ... }` may read further in the whole text.
    risky: Vec<(usize, usize)>,
}

/// How a text is cut: top-level pieces, and journeys cut into their items.
#[derive(Debug, PartialEq)]
enum Top {
    /// Read alone as top-level items.
    Items(Range<usize>),
    /// `journey NAME {` and the rest of its line, its items in pieces, and the `}` at
    /// `close` that ends it.
    Journey {
        start: usize,
        name: Span,
        body: Vec<Range<usize>>,
        close: usize,
    },
}

/// The pieces of the last text parsed, by level and text. `None` is a piece that
/// cannot be read alone.
#[derive(Default)]
pub struct Pieces {
    files: HashMap<String, Option<Parsed>>,
    journeys: HashMap<String, Option<Parsed>>,
    whole: bool,
}

impl Pieces {
    /// Whether the last text was parsed whole, not in pieces.
    pub fn parsed_whole(&self) -> bool {
        self.whole
    }

    /// Parses `text` as `syntax::parse` does, parsing only the pieces not seen in the
    /// last text.
    pub fn parse(&mut self, file: FileId, text: &str) -> (ast::File, Vec<Diagnostic>) {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("journeyc-parse".into())
                .stack_size(PARSE_STACK_BYTES)
                .spawn_scoped(scope, || self.parse_here(file, text))
                .expect("a parser thread can be started")
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn parse_here(&mut self, file: FileId, text: &str) -> (ast::File, Vec<Diagnostic>) {
        // Refusals are made on the whole text, as `syntax::parse` makes them.
        self.whole = true;
        if text.len() > MAX_FILE_BYTES || too_deep(text).is_some() {
            return parse_here(file, text);
        }
        let tops = cut(text);
        let mut files = HashMap::new();
        let mut journeys = HashMap::new();
        for top in &tops {
            match top {
                Top::Items(r) => keep(&mut self.files, &mut files, Level::File, &text[r.clone()]),
                Top::Journey { body, .. } => {
                    for r in body {
                        keep(
                            &mut self.journeys,
                            &mut journeys,
                            Level::Journey,
                            &text[r.clone()],
                        );
                    }
                }
            }
        }
        // What the last text had and this one has not is dropped.
        self.files = files;
        self.journeys = journeys;
        match self.assemble(file, text, &tops) {
            Some(parsed) => {
                self.whole = false;
                parsed
            }
            None => parse_here(file, text),
        }
    }

    /// The tree and diagnostics of the whole text from its pieces; `None` when a piece
    /// may read differently in the whole text.
    fn assemble(
        &self,
        file: FileId,
        text: &str,
        tops: &[Top],
    ) -> Option<(ast::File, Vec<Diagnostic>)> {
        let mut items = Vec::new();
        let mut diagnostics = Vec::new();
        let take = |parsed: &Parsed, at: usize, diagnostics: &mut Vec<Diagnostic>| {
            let alike = parsed
                .risky
                .iter()
                .all(|&(s, e)| reads_alike(text, at + s, e - s));
            diagnostics.extend(parsed.diagnostics.iter().map(|d| {
                let mut d = d.clone();
                d.shift(at);
                d.file = file;
                d
            }));
            alike
        };
        for top in tops {
            match top {
                Top::Items(r) => {
                    let parsed = self.files.get(&text[r.clone()])?.as_ref()?;
                    if !take(parsed, r.start, &mut diagnostics) {
                        return None;
                    }
                    items.extend(parsed.items.iter().map(|i| {
                        let mut i = i.clone();
                        i.shift(r.start);
                        i
                    }));
                }
                Top::Journey {
                    start,
                    name,
                    body,
                    close,
                } => {
                    let mut journey_items = Vec::new();
                    for r in body {
                        let parsed = self.journeys.get(&text[r.clone()])?.as_ref()?;
                        if !take(parsed, r.start, &mut diagnostics) {
                            return None;
                        }
                        journey_items.extend(parsed.journey_items.iter().map(|i| {
                            let mut i = i.clone();
                            i.shift(r.start);
                            i
                        }));
                    }
                    items.push(Item::Journey(ast::Journey {
                        name: ast::Ident {
                            name: text[name.start..name.end].to_string(),
                            span: *name,
                        },
                        items: journey_items,
                        span: Span::new(*start, close + 1),
                    }));
                }
            }
        }
        Some((ast::File { items }, diagnostics))
    }
}

/// Puts what `piece` gave into `new`: moved from `old` when it was parsed before,
/// else parsed now.
fn keep(
    old: &mut HashMap<String, Option<Parsed>>,
    new: &mut HashMap<String, Option<Parsed>>,
    level: Level,
    piece: &str,
) {
    if new.contains_key(piece) {
        return;
    }
    let (key, parsed) = old
        .remove_entry(piece)
        .unwrap_or_else(|| (piece.to_string(), alone(level, piece)));
    new.insert(key, parsed);
}

/// A piece parsed alone; `None` when it does not read as a whole (pest stopped, or a
/// block in it is left open, so it would read on in the whole text).
fn alone(level: Level, piece: &str) -> Option<Parsed> {
    let rule = match level {
        Level::File => Rule::file,
        Level::Journey => Rule::journey_part,
    };
    let pair = pest_parse(rule, piece).ok()?.next()?;
    let mut lowerer = Lowerer::new(FileId(0), piece, &[]);
    let (items, journey_items) = match level {
        Level::File => (lowerer.file(pair).items, Vec::new()),
        Level::Journey => (Vec::new(), lowerer.journey_part(pair)),
    };
    if lowerer.diagnostics.iter().any(|d| d.code == UNCLOSED_BLOCK) {
        return None;
    }
    let risky = lowerer
        .bad_lines
        .iter()
        .copied()
        .filter(|&(s, e)| piece[s..e].contains('{'))
        .collect();
    Some(Parsed {
        items,
        journey_items,
        diagnostics: lowerer.diagnostics,
        risky,
    })
}

/// Whether the bad line at `at`, `len` bytes long when its piece was read alone, is
/// as long in the whole text: its `{ ... }` groups end where they did.
fn reads_alike(text: &str, at: usize, len: usize) -> bool {
    pest_parse(Rule::bad_line, &text[at..])
        .ok()
        .and_then(|mut pairs| pairs.next())
        .is_some_and(|p| p.as_str().len() == len)
}

/// Cuts `text` into pieces. Top-level pieces start at lines that begin, at the margin
/// and outside any brace, with a letter; a journey is cut into its items when its first
/// line is `journey NAME {` alone and its last code line is a `}` at the margin that
/// closes it. Braces are counted outside strings and comments; the count only chooses
/// the cuts, and reading each piece alone tells whether a cut was right.
fn cut(text: &str) -> Vec<Top> {
    let bytes = text.as_bytes();
    let lines = braces::lines(text);
    let mut depth = 0i64;
    let mut before = Vec::with_capacity(lines.len());
    for line in &lines {
        before.push(depth);
        for &b in &line.braces {
            depth += if bytes[b] == b'{' { 1 } else { -1 };
        }
    }
    let starts_word = |line: &braces::Line| {
        bytes
            .get(line.start + line.indent)
            .is_some_and(u8::is_ascii_alphabetic)
    };
    let mut firsts: Vec<usize> = (1..lines.len())
        .filter(|&k| before[k] == 0 && lines[k].indent == 0 && starts_word(&lines[k]))
        .collect();
    firsts.insert(0, 0);
    firsts.push(lines.len());
    let start_of = |k: usize| lines.get(k).map_or(text.len(), |l| l.start);
    let mut tops = Vec::new();
    for pair in firsts.windows(2) {
        let (first, end) = (pair[0], pair[1]);
        let range = start_of(first)..start_of(end);
        if range.is_empty() {
            continue;
        }
        let framed = header(&text[lines[first].start..lines[first].end]).and_then(|name| {
            let close = (first + 1..end).rev().find(|&k| lines[k].is_code())?;
            let c = &lines[close];
            let closes = c.indent == 0
                && c.braces == [c.start]
                && &text[c.start..c.code_end] == "}"
                && before[close] == 1;
            if !closes {
                return None;
            }
            let mut cuts: Vec<usize> = (first + 2..close)
                .filter(|&k| before[k] == 1 && starts_word(&lines[k]))
                .collect();
            cuts.insert(0, first + 1);
            cuts.push(close);
            let body = cuts
                .windows(2)
                .map(|w| start_of(w[0])..start_of(w[1]))
                .collect();
            let at = lines[first].start;
            Some(Top::Journey {
                start: at,
                name: Span::new(at + name.start, at + name.end),
                body,
                close: c.start,
            })
        });
        tops.push(framed.unwrap_or(Top::Items(range)));
    }
    tops
}

/// The name's place in a line that is `journey NAME {` and nothing else (spaces, tabs
/// and a carriage return aside).
fn header(line: &str) -> Option<Range<usize>> {
    let rest = line.strip_prefix("journey")?;
    let name_at = line.len() - rest.trim_start_matches([' ', '\t']).len();
    if name_at == "journey".len() {
        return None;
    }
    let name_len = line[name_at..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(line.len() - name_at);
    let first = line.as_bytes().get(name_at)?;
    if !(first.is_ascii_alphabetic() || *first == b'_') {
        return None;
    }
    let after = line[name_at + name_len..].trim_matches([' ', '\t', '\r']);
    (after == "{").then_some(name_at..name_at + name_len)
}

#[cfg(test)]
mod tests {
    //! How texts are cut. Parsing is tested in `tests/pieces.rs`, in a process of its
    //! own: a unit test here lowers pest's process-wide call limit for a moment.
    use super::*;

    #[test]
    fn a_journey_is_cut_into_its_items() {
        let text = "import std.calendars\n\njourney J {\n  trigger link \"j\"\n  step S {\n    page P {\n      heading \"x\"\n    }\n  }\n}\n// end\n";
        let tops = cut(text);
        assert_eq!(tops.len(), 2, "{tops:?}");
        assert_eq!(tops[0], Top::Items(0..22));
        let Top::Journey {
            name, body, close, ..
        } = &tops[1]
        else {
            panic!("{tops:?}")
        };
        assert_eq!(&text[name.start..name.end], "J");
        assert_eq!(&text[*close..], "}\n// end\n");
        let body: Vec<&str> = body.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(
            body,
            [
                "  trigger link \"j\"\n",
                "  step S {\n    page P {\n      heading \"x\"\n    }\n  }\n"
            ]
        );
    }

    #[test]
    fn journeys_without_the_simple_shape_are_one_piece() {
        for text in [
            "journey J { // j\n  trigger api\n}\n",
            "journey J {\n  trigger api\n} trigger api\n",
            "journey J {\n  trigger api\n  }\n",
            "journey J {\n  step S {\n  trigger api\n}\n",
        ] {
            assert_eq!(cut(text), [Top::Items(0..text.len())], "{text}");
        }
    }

    #[test]
    fn headers() {
        assert_eq!(header("journey Abc {"), Some(8..11));
        assert_eq!(header("journey\tA_1  {  "), Some(8..11));
        assert_eq!(header("journeyA {"), None);
        assert_eq!(header("journey A { trigger api"), None);
        assert_eq!(header("journey 1A {"), None);
        assert_eq!(header("journey A"), None);
        assert_eq!(header("journey A {\r"), Some(8..9));
    }
}
