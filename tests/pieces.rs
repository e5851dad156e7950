//! Parsing in pieces (`syntax::pieces`, what the language server does after each edit)
//! gives exactly what parsing the whole text gives, and so does checking what it gave:
//! the same tree, and the same diagnostics (codes, messages, spans, order), over random
//! edits of the examples, `std/` and the UI tests, each edit parsed with the pieces kept
//! from the one before. Texts that read past a cut are parsed whole, and read the same.

use std::sync::LazyLock;

use journeyc::syntax::{self, pieces::Pieces};
use journeyc::{Compiler, Diagnostic, FileId};
use proptest::prelude::*;

#[path = "support/corpus.rs"]
mod corpus;

use corpus::Files;

/// Every `.journey` file of the folders, by path, with its text.
static FILES: LazyLock<Vec<(String, String)>> = LazyLock::new(files);

fn files() -> Vec<(String, String)> {
    let out: Vec<(String, String)> = corpus::journey_files()
        .into_iter()
        .map(|(path, text)| (path.display().to_string(), text))
        .collect();
    assert!(out.len() > 50, "enough files: {}", out.len());
    out
}

/// The diagnostics of checking `name`, parsed by `parsed` or else by the checker.
fn checked(
    name: &str,
    text: &str,
    parsed: Option<(syntax::ast::File, Vec<Diagnostic>)>,
) -> Vec<Diagnostic> {
    let mut c = Compiler::new(Files);
    let id = match parsed {
        Some(parsed) => c.check_parsed(name, text, parsed),
        None => c.check_file(name, text),
    };
    let (_, _, diagnostics) = c.into_parts();
    diagnostics.into_iter().filter(|d| d.file == id).collect()
}

/// Parses `text` with `pieces` and whole, and checks it both ways: the same answers.
fn same(pieces: &mut Pieces, name: &str, text: &str) {
    let incremental = pieces.parse(FileId(0), text);
    let whole = syntax::parse(FileId(0), text);
    assert_eq!(incremental, whole, "{name}, parsed in pieces:\n{text}");
    assert_eq!(
        checked(name, text, Some(incremental)),
        checked(name, text, None),
        "{name}, checked:\n{text}"
    );
}

#[test]
fn every_file_reads_the_same_in_pieces() {
    let mut whole = 0;
    for (name, text) in FILES.iter() {
        let mut pieces = Pieces::default();
        same(&mut pieces, name, text);
        whole += usize::from(pieces.parsed_whole());
        // Again, every piece kept.
        same(&mut pieces, name, text);
    }
    // Only the files with a block left open, or a journey cut where it cannot be read
    // in pieces, are parsed whole.
    assert!(whole < 20, "{whole} files parsed whole");
}

/// Texts that read past a cut, or have no shape to cut by: parsed whole, and the same.
#[test]
fn what_reads_past_a_cut_is_parsed_whole() {
    let cases = [
        // A step left open: the journey's `}` closes it.
        "journey J {\n  step S {\n    page P {\n      heading \"x\"\n    }\n  trigger api\n}\n",
        // A journey left open before the next one.
        "journey J {\n  trigger api\n\njourney K {\n  trigger api\n}\n",
        // A quote left open hides the `{` from the cut, not from the grammar: the bad
        // line's `{ ... }` reads on to the journey's `}`.
        "journey J {\n  bogus \"{\n  trigger api\n  step S {\n  }\n}\n",
        // The same `{` in a comment.
        "journey J {\n  bogus // {\n  trigger api\n  step S {\n  }\n}\n",
        "bogus \"{\njourney J {\n}\n}\n",
    ];
    for text in cases {
        let mut pieces = Pieces::default();
        same(&mut pieces, "case.journey", text);
        assert!(pieces.parsed_whole(), "parsed whole: {text}");
    }
    // A `}` too many in a journey: the cut sees no journey, and reads it as one piece.
    let text = "journey J {\n  step S {\n  }\n  }\n  trigger api\n}\n";
    same(&mut Pieces::default(), "case.journey", text);
    // Cut and read in pieces: journeys, a calendar, a test, a bad line with its group.
    let text = "import std.calendars\n\ncalendar C {\n  time zone \"UTC\"\n}\njourney J {\n  trigger api\n  bogus { x }\n  step S {\n    page P {\n      heading \"x\"\n    }\n  }\n}\n// the end\ntest \"t\" {\n  wait 1d\n}\n";
    let mut pieces = Pieces::default();
    same(&mut pieces, "case.journey", text);
    assert!(!pieces.parsed_whole());
    // The same with Windows line breaks.
    let text = text.replace('\n', "\r\n");
    same(&mut pieces, "case.journey", &text);
    assert!(!pieces.parsed_whole());
}

#[test]
fn kept_pieces_move_with_an_edit() {
    let text = "journey J {\n  trigger link \"j\"\n  step S {\n    page P {\n      heading \"x\"\n      bogus\n    }\n  }\n}\n";
    let mut pieces = Pieces::default();
    same(&mut pieces, "move.journey", text);
    let edited = text.replace("\"j\"", "\"jj\"");
    same(&mut pieces, "move.journey", &edited);
    assert!(!pieces.parsed_whole());
    let (_, diags) = pieces.parse(FileId(0), &edited);
    let at = diags[0].primary.span;
    assert_eq!(&edited[at.start..at.end], "bogus");
}

/// An edit: bytes `at..at + len` (moved back to character boundaries) replaced.
#[derive(Clone, Debug)]
struct Edit {
    at: prop::sample::Index,
    /// At the start of the line `at` falls in, where items begin.
    line_start: bool,
    len: usize,
    new: &'static str,
}

fn edit() -> impl Strategy<Value = Edit> {
    let new = prop::sample::select(vec![
        "",
        "x",
        " ",
        "\n",
        "{",
        "}",
        "\"",
        "{{",
        "}}",
        "//",
        "\\",
        "é",
        "}\n",
        "\n}\n",
        "step T {\n",
        "  page Q {\n",
        "journey K {\n",
        "import std.calendars\n",
        "  trigger api\n",
        "heading \"{{ x }}\"\n",
        "bogus {\n",
        "test \"t\" {\n",
        "calendar C {\n",
        "    button \"b\" {\n      go to page P\n    }\n",
    ]);
    (any::<prop::sample::Index>(), any::<bool>(), 0usize..12, new).prop_map(
        |(at, line_start, len, new)| Edit {
            at,
            line_start,
            len,
            new,
        },
    )
}

fn apply(text: &mut String, e: &Edit) {
    let mut start = e.at.index(text.len() + 1);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    if e.line_start {
        start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    }
    let mut end = (start + e.len).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.replace_range(start..end, e.new);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A file edited a few times, as in an editor: after each edit, parsing in pieces
    /// (with what the last edit kept) and checking what it gave equal the whole.
    #[test]
    fn edits_read_the_same_in_pieces(
        file in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..5),
    ) {
        let (name, text) = &FILES[file.index(FILES.len())];
        let mut text = text.clone();
        let mut pieces = Pieces::default();
        pieces.parse(FileId(0), &text);
        for e in &edits {
            apply(&mut text, e);
            same(&mut pieces, name, &text);
        }
    }
}
