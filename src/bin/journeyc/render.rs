//! Terminal and JSON rendering of diagnostics. Only the binary renders.

use std::fmt;

use journeyc::diagnostic::Label;
use journeyc::{Diagnostic, Severity, SourceFile};
use miette::{GraphicalReportHandler, GraphicalTheme, NamedSource};
use serde_json::json;

pub struct Renderer {
    handler: GraphicalReportHandler,
}

impl Renderer {
    pub fn new(color: bool) -> Renderer {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        Renderer {
            handler: GraphicalReportHandler::new_themed(theme)
                .with_width(100)
                .with_links(false),
        }
    }

    /// Renders `d`, whose file is one of `sources`; labels in other files follow as
    /// snippets of their own.
    pub fn render(&self, d: &Diagnostic, sources: &[SourceFile]) -> String {
        let source = &sources[d.file.0 as usize];
        let related = d
            .elsewhere
            .iter()
            .map(|(file, label)| Elsewhere {
                label: label.clone(),
                source: named(&sources[file.0 as usize]),
            })
            .collect();
        let report = miette::Report::new(WithElsewhere {
            d: d.clone(),
            related,
        })
        .with_source_code(named(source));
        let mut out = String::new();
        if self
            .handler
            .render_report(&mut out, report.as_ref())
            .is_err()
        {
            out = format!("{}: {} [{}]\n", d.code.id, d.message, source.name);
        }
        out
    }
}

fn named(source: &SourceFile) -> NamedSource<String> {
    NamedSource::new(&source.name, source.text.to_string())
}

/// A diagnostic with its labels in other files, each shown with its own file.
#[derive(Debug)]
struct WithElsewhere {
    d: Diagnostic,
    related: Vec<Elsewhere>,
}

impl fmt::Display for WithElsewhere {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.d.fmt(f)
    }
}

impl std::error::Error for WithElsewhere {}

impl miette::Diagnostic for WithElsewhere {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.d.code()
    }

    fn severity(&self) -> Option<miette::Severity> {
        miette::Diagnostic::severity(&self.d)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.d.help()
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.d.labels()
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}

/// One label in another file, rendered as an advice with that file's snippet.
#[derive(Debug)]
struct Elsewhere {
    label: Label,
    source: NamedSource<String>,
}

impl fmt::Display for Elsewhere {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {}", self.label.message, self.source.name())
    }
}

impl std::error::Error for Elsewhere {}

impl miette::Diagnostic for Elsewhere {
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Advice)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = self.label.span;
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(
                Some(self.label.message.clone()),
                (span.start, span.len()),
            ),
        )))
    }
}

/// The last line of human output.
pub fn summary(errors: usize, warnings: usize, files: usize, color: bool) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let (head, paint) = if errors > 0 {
        ("error", "\x1b[1;31m")
    } else if warnings > 0 {
        ("warning", "\x1b[1;33m")
    } else {
        ("ok", "\x1b[1;32m")
    };
    let head = if color {
        format!("{paint}{head}\x1b[0m")
    } else {
        head.to_string()
    };
    format!(
        "{head}: {}, {} in {}\n",
        plural(errors, "error"),
        plural(warnings, "warning"),
        plural(files, "file")
    )
}

/// 0-based line, and columns counted in chars (1-based later) and UTF-16 units.
pub struct Position {
    pub line: usize,
    pub column_chars: usize,
    pub column_utf16: usize,
}

pub fn position(text: &str, offset: usize) -> Position {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_text = &before[line_start..];
    Position {
        line: before.matches('\n').count(),
        column_chars: line_text.chars().count(),
        column_utf16: line_text.encode_utf16().count(),
    }
}

/// One diagnostic as a JSON object, like rustc's `--error-format=json`. Fields are
/// only ever added, never renamed or removed.
pub fn json(d: &Diagnostic, sources: &[SourceFile], plain: &Renderer) -> String {
    let source = &sources[d.file.0 as usize];
    let span_json = |start: usize, end: usize| json!({ "start": start, "end": end });
    let (s, e) = (
        position(&source.text, d.primary.span.start),
        position(&source.text, d.primary.span.end),
    );
    let mut labels = vec![
        json!({ "span": span_json(d.primary.span.start, d.primary.span.end), "message": d.primary.message, "primary": true }),
    ];
    labels.extend(d.secondary.iter().map(|l| json!({ "span": span_json(l.span.start, l.span.end), "message": l.message, "primary": false })));
    // A label in another file says which; labels without `file` are in the diagnostic's.
    labels.extend(d.elsewhere.iter().map(|(file, l)| json!({ "file": sources[file.0 as usize].name, "span": span_json(l.span.start, l.span.end), "message": l.message, "primary": false })));
    let value = json!({
        "code": d.code.id,
        "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
        "message": d.message,
        "file": source.name,
        "span": span_json(d.primary.span.start, d.primary.span.end),
        "line": s.line + 1,
        "column": s.column_chars + 1,
        "end_line": e.line + 1,
        "end_column": e.column_chars + 1,
        "range": {
            "start": { "line": s.line, "character": s.column_utf16 },
            "end": { "line": e.line, "character": e.column_utf16 },
        },
        "labels": labels,
        "notes": d.notes,
        "help": d.help,
        "rendered": plain.render(d, sources),
    });
    value.to_string()
}

/// The section of docs/diagnostics.md for one code: from its `## J0xxx` heading to the next.
pub fn doc_section<'a>(doc: &'a str, id: &str) -> Option<&'a str> {
    let heading = format!("## {id}");
    let start = doc
        .match_indices(&heading)
        .map(|(i, _)| i)
        .find(|&i| i == 0 || doc.as_bytes()[i - 1] == b'\n')?;
    let rest = &doc[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 4);
    Some(&rest[..end])
}
