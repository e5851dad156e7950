//! Mutation tests over the examples: truncations, deletions, insertions and byte flips
//! never panic, and every span lies inside the file on a character boundary.

use journeyc::{check_source, Diagnostic};
use proptest::prelude::*;

const EXAMPLES: &[&str] = &[
    include_str!("../examples/texting_journey_links.journey"),
    include_str!("../examples/call_deflection.journey"),
    include_str!("../examples/appointment_reminder.journey"),
    include_str!("../std/calendars.journey"),
];

fn assert_spans_valid(text: &str, diags: &[Diagnostic]) {
    for d in diags {
        for label in std::iter::once(&d.primary).chain(&d.secondary) {
            let (s, e) = (label.span.start, label.span.end);
            assert!(
                s <= e && e <= text.len(),
                "{}: span {s}..{e} outside a file of {} bytes",
                d.code.id,
                text.len()
            );
            assert!(
                text.is_char_boundary(s) && text.is_char_boundary(e),
                "{}: span {s}..{e} splits a character",
                d.code.id
            );
        }
        assert!(!d.message.is_empty());
        assert!(
            !d.message.contains("Rule::") && !d.message.contains("expected_"),
            "a grammar rule name leaked: {}",
            d.message
        );
    }
}

fn check(text: &str) {
    let (files, _, diags) = check_source("mutant.journey", text);
    // Only the root file (and embedded std modules) can carry diagnostics here.
    for d in &diags {
        let file = &files[d.file.0 as usize];
        assert_spans_valid(&file.text, std::slice::from_ref(d));
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Delete(usize, usize),
    Flip(usize, u8),
    Insert(usize, &'static str),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let snippets = prop::sample::select(vec![
        "{", "}", "\"", "{{", "}}", "\n", "(", ")", "//", "\\", "é", "😀", "if", "else", "page",
        "0", ".", ",",
    ]);
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
        (any::<usize>(), snippets).prop_map(|(a, s)| Mutation::Insert(a, s)),
        (any::<usize>(), 1usize..200).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len().max(1);
    match *m {
        Mutation::Truncate(at) => bytes.truncate(at % len),
        Mutation::Delete(at, n) => {
            let at = at % len;
            let end = (at + n).min(bytes.len());
            bytes.drain(at.min(end)..end);
        }
        Mutation::Flip(at, b) => {
            if !bytes.is_empty() {
                let at = at % bytes.len();
                bytes[at] = b;
            }
        }
        Mutation::Insert(at, s) => {
            let at = at % len;
            let at = at.min(bytes.len());
            bytes.splice(at..at, s.bytes());
        }
        Mutation::Duplicate(at, n) => {
            let at = (at % len).min(bytes.len());
            let end = (at + n).min(bytes.len());
            let chunk = bytes[at..end].to_vec();
            bytes.splice(at..at, chunk);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_examples_never_panic(example in 0..EXAMPLES.len(), mutations in prop::collection::vec(mutation(), 1..5)) {
        let mut bytes = EXAMPLES[example].as_bytes().to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        check(&text);
    }
}

#[test]
fn deep_nesting_is_refused_with_a_diagnostic() {
    for open in ["(", "[", "{"] {
        let text = format!(
            "journey J {{\n  var x: Number = {}1\n}}\n",
            open.repeat(100_000)
        );
        let (_, _, diags) = check_source("deep.journey", &text);
        assert!(
            diags.iter().any(|d| d.code.id == "J0005"),
            "{open}: {diags:?}"
        );
        assert_spans_valid(&text, &diags);
    }
}

#[test]
fn long_flat_expressions_are_refused_with_a_diagnostic() {
    let sum = vec!["1"; 3000].join(" + ");
    let cases = [
        format!("journey J {{\n  var n: Number = {sum}\n}}\n"),
        format!("journey J {{\n  var b: Boolean = {}true\n}}\n", "NOT ".repeat(3000)),
        format!("journey J {{\n  var n: Number = {}1\n}}\n", "-".repeat(3000)),
        format!("journey J {{\n  step S {{\n    page P {{\n      heading \"{{{{ {}1{} }}}}\"\n    }}\n  }}\n}}\n", "(".repeat(100_000), ")".repeat(100_000)),
    ];
    for text in &cases {
        let (_, _, diags) = check_source("long.journey", text);
        assert!(
            diags.iter().any(|d| d.code.id == "J0005"),
            "{:?}",
            diags.iter().map(|d| d.code.id).collect::<Vec<_>>()
        );
        assert_spans_valid(text, &diags);
    }
}

#[test]
fn nesting_within_the_limit_is_fine() {
    let text = format!(
        "journey J {{\n  var x: Number = {}1{}\n  trigger link \"s\"\n  step S {{\n    page P {{\n      heading \"{{{{ x }}}}\"\n    }}\n  }}\n}}\n",
        "(".repeat(40),
        ")".repeat(40)
    );
    let (_, _, diags) = check_source("ok.journey", &text);
    assert!(diags.is_empty(), "{diags:?}");
}

#[test]
fn huge_inputs_give_diagnostics_not_hangs() {
    let long_line = format!("journey J {{\n  {}\n}}\n", "a".repeat(1 << 20));
    let (_, _, diags) = check_source("long.journey", &long_line);
    assert!(diags.iter().any(|d| d.code.id == "J0001"));
    assert_spans_valid(&long_line, &diags);

    let many_bad_lines = "?\n".repeat(50_000);
    let (_, _, diags) = check_source("bad.journey", &many_bad_lines);
    assert_eq!(
        diags.iter().filter(|d| d.code.id == "J0001").count(),
        50_000
    );

    let unclosed = "journey J {\n".repeat(5_000);
    let (_, _, diags) = check_source("unclosed.journey", &unclosed);
    assert!(!diags.is_empty());
    assert_spans_valid(&unclosed, &diags);

    let quotes = "\"".repeat(100_000);
    let (_, _, diags) = check_source("quotes.journey", &quotes);
    assert!(!diags.is_empty());
}
