//! The one diagnostic type every phase reports with, and the registry of stable codes.
//!
//! A diagnostic knows its file and byte spans but never renders itself for a terminal:
//! the binary does that through miette. Codes never change meaning once published.

use std::fmt;

use serde::Serialize;

/// A source file known to a compilation, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FileId(pub u32);

/// A half-open byte range in one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A registered diagnostic code: `J` and four digits, with a short title.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
}

macro_rules! codes {
    ($($name:ident = $id:literal, $sev:ident, $title:literal;)*) => {
        $(pub const $name: Code = Code { id: $id, title: $title, severity: Severity::$sev };)*
        /// Every code, in numeric order.
        pub const ALL_CODES: &[Code] = &[$($name),*];
    };
}

codes! {
    // Syntax.
    INVALID_LINE = "J0001", Error, "a line the grammar does not understand";
    UNCLOSED_BLOCK = "J0002", Error, "a `{` that is never closed";
    STRAY_CLOSE = "J0003", Error, "a `}` that closes nothing";
    UNTERMINATED_STRING = "J0004", Error, "a string with no closing quote";
    TOO_COMPLEX = "J0005", Error, "input too large or too deeply nested";
    BAD_INTERPOLATION = "J0006", Error, "an invalid `{{ }}` interpolation";
    INVALID_ESCAPE = "J0007", Error, "an unknown escape in a string";
    NOT_UTF8 = "J0008", Error, "a file that is not UTF-8 text";
    // Names.
    UNKNOWN_VARIABLE = "J0101", Error, "unknown variable";
    UNKNOWN_PAGE = "J0102", Error, "unknown page";
    UNKNOWN_STEP = "J0103", Error, "unknown step";
    UNKNOWN_NOTIFICATION = "J0104", Error, "unknown notification";
    UNKNOWN_CALENDAR = "J0105", Error, "unknown calendar";
    UNKNOWN_TIMER = "J0106", Warning, "stop timer with a key no start timer uses";
    UNKNOWN_FUNCTION = "J0107", Error, "unknown function";
    UNKNOWN_IMPORT = "J0108", Error, "unknown or missing import";
    DUPLICATE = "J0109", Error, "duplicate definition";
    DUPLICATE_TIMER = "J0110", Error, "the same timer started twice in a row";
    UNKNOWN_FIELD = "J0111", Error, "unknown field";
    UNKNOWN_TYPE = "J0112", Error, "unknown type or input kind";
    // Types.
    TYPE_MISMATCH = "J0201", Error, "operands of the wrong type";
    ARITY = "J0202", Error, "wrong number of arguments";
    ARGUMENT_TYPE = "J0203", Error, "argument of the wrong type";
    ASSIGN_TYPE = "J0204", Error, "value of the wrong type for its variable";
    CONDITION_TYPE = "J0205", Error, "condition that is not a Boolean";
    READ_ONLY = "J0206", Error, "assignment to a read-only value";
    INPUT_TYPE = "J0207", Error, "input kind that does not fit its variable";
    TIMER_TIME_TYPE = "J0208", Error, "timer time of the wrong type";
    INTERPOLATION_HERE = "J0209", Error, "interpolation where a constant is required";
    // Flow and structure.
    ACTOR_NOT_INITIALIZED = "J0301", Error, "SMS sent where the actor may not be initialised";
    JOURNEY_LINK_NO_WEB_FLOW = "J0302", Error, "journey link used while step 1 has no web flow";
    NO_SENDER = "J0303", Error, "SMS sent but no sender number is configured";
    UNREACHABLE_PAGE = "J0304", Warning, "unreachable page";
    UNREACHABLE_STEP = "J0305", Warning, "unreachable step";
    DEAD_END_PAGE = "J0306", Warning, "a page from which no action leads anywhere";
    SAY_OUTSIDE_CALL = "J0307", Error, "`say` outside a call trigger";
    NO_STEPS = "J0308", Error, "a journey without steps";
    MISPLACED = "J0309", Error, "a construct in the wrong place";
    // Literals and settings.
    INVALID_PHONE = "J0401", Error, "invalid phone number";
    INVALID_CRON = "J0402", Error, "invalid cron expression";
    UNKNOWN_TIME_ZONE = "J0403", Error, "unknown time zone";
    INVALID_DURATION = "J0404", Error, "invalid or zero duration";
    CRON_NUMERIC_DAY = "J0405", Warning, "numeric day of week in cron";
    AMBIGUOUS_MONTH = "J0406", Warning, "`M` used as a duration unit";
    LONG_SMS = "J0407", Warning, "SMS text that splits into many segments";
    INVALID_CALENDAR = "J0408", Error, "invalid day, time or date in a calendar";
    EXPIRY_RANGE = "J0409", Error, "session expiry out of range";
    INVALID_SLUG = "J0410", Error, "invalid starting-link slug";
    SMS_TOO_LONG = "J0411", Error, "SMS text longer than 1,600 characters";
    // Tests.
    TEST_UNKNOWN = "J0501", Error, "a test names something its journeys do not have";
    TEST_STEP = "J0502", Error, "a test step that cannot run as written";
}

/// Looks a code up by its id, case-insensitively (`j0101` works too).
pub fn code_by_id(id: &str) -> Option<Code> {
    ALL_CODES
        .iter()
        .copied()
        .find(|c| c.id.eq_ignore_ascii_case(id))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One finding about the user's code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub file: FileId,
    /// Lowercase, no final period; code in backticks.
    pub message: String,
    /// Makes sense on its own: an editor may show only this.
    pub primary: Label,
    pub secondary: Vec<Label>,
    /// Labels in other files of the compilation, such as a journey's first definition
    /// in another file.
    pub elsewhere: Vec<(FileId, Label)>,
    pub notes: Vec<String>,
    /// The only place a fix is suggested.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(
        code: Code,
        file: FileId,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code,
            severity: code.severity,
            file,
            message: message.into(),
            primary: Label {
                span,
                message: label.into(),
            },
            secondary: Vec::new(),
            elsewhere: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// A label in `file`; the same as `with_label` when that is this diagnostic's file.
    pub fn with_label_in(self, file: FileId, span: Span, message: impl Into<String>) -> Self {
        if file == self.file {
            return self.with_label(span, message);
        }
        let mut d = self;
        d.elsewhere.push((
            file,
            Label {
                span,
                message: message.into(),
            },
        ));
        d
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code.id))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        // miette shows one help block: the fix first, then the notes that explain it.
        let notes = self.notes.iter().map(|n| format!("note: {n}"));
        let lines: Vec<String> = self.help.iter().cloned().chain(notes).collect();
        if lines.is_empty() {
            None
        } else {
            Some(Box::new(lines.join("\n")))
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let primary = std::iter::once(miette::LabeledSpan::new_primary_with_span(
            Some(self.primary.message.clone()),
            (self.primary.span.start, self.primary.span.len()),
        ));
        let secondary = self.secondary.iter().map(|l| {
            miette::LabeledSpan::new_with_span(
                Some(l.message.clone()),
                (l.span.start, l.span.len()),
            )
        });
        Some(Box::new(primary.chain(secondary)))
    }
}

/// The closest of `candidates` to `name`, if close enough to suggest.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count().max(name.chars().count()) / 3).max(1))
        // Ties go to the first name in order, so a suggestion never depends on the
        // order the candidates came in (they often come from a hash map).
        .min_by(|(d1, c1), (d2, c2)| d1.cmp(d2).then_with(|| c1.cmp(c2)))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn a_tie_is_broken_by_name_whatever_the_order() {
        let names = ["BusinessHoursNY", "BusinessHoursLA"];
        let reversed = ["BusinessHoursLA", "BusinessHoursNY"];
        assert_eq!(did_you_mean("BusinesHours", names), Some("BusinessHoursLA"));
        assert_eq!(
            did_you_mean("BusinesHours", reversed),
            Some("BusinessHoursLA")
        );
        assert_eq!(did_you_mean("Nothing", names), None);
    }
}
