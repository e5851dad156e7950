//! Building the checker's diagnostics: the one wording of a suggestion, and the one
//! check and message for something given twice.

use std::collections::hash_map::{Entry, HashMap};
use std::fmt::Display;
use std::hash::Hash;

use super::cx::Cx;
use crate::diagnostic::*;
use crate::syntax::ast;

/// "did you mean `…`?" for a guess at what a name that matches nothing meant (usually
/// from `did_you_mean`). Every suggestion of the checker is worded here.
pub(super) fn suggestion(guess: Option<impl Display>) -> Option<String> {
    guess.map(|g| format!("did you mean `{g}`?"))
}

/// A second occurrence of something allowed once, labelled with where it first was.
/// Every duplicate that points back at the first is built here.
pub(super) fn twice(
    file: FileId,
    message: String,
    again: (Span, impl Into<String>),
    first: (Span, &str),
    help: impl Into<String>,
) -> Diagnostic {
    Diagnostic::new(DUPLICATE, file, again.0, message, again.1)
        .with_label(first.0, first.1)
        .with_help(help)
}

/// Records that `key` is at `at` unless it was seen before; returns where it was first.
pub(super) fn seen_before<K: Hash + Eq>(
    seen: &mut HashMap<K, Span>,
    key: K,
    at: Span,
) -> Option<Span> {
    match seen.entry(key) {
        Entry::Occupied(first) => Some(*first.get()),
        Entry::Vacant(place) => {
            place.insert(at);
            None
        }
    }
}

impl Cx<'_> {
    pub(super) fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub(super) fn diag(
        &self,
        code: Code,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::new(code, self.file, span, message, label)
    }

    /// Whether a line inside `span` could not be read: checks that would only echo
    /// that mistake (an empty block, an unreachable page) stay quiet then.
    pub(super) fn syntax_errors_within(&self, span: Span) -> bool {
        self.diags.iter().any(|d| {
            matches!(d.code.id, "J0001" | "J0004")
                && d.file == self.file
                && span.start <= d.primary.span.start
                && d.primary.span.end <= span.end
        })
    }

    /// Whether `id` is the first `kind` of its name in `seen`; reports it when not.
    pub(super) fn first_definition<'k>(
        &mut self,
        seen: &mut HashMap<(&'k str, String), Span>,
        kind: &'k str,
        id: &ast::Ident,
    ) -> bool {
        let Some(first) = seen_before(seen, (kind, id.name.clone()), id.span) else {
            return true;
        };
        self.defined_twice(kind, id, first);
        false
    }

    /// Whether the setting `key` (shown to people as `shown`) is the first in `settings`;
    /// reports it when not.
    pub(super) fn first_setting(
        &mut self,
        settings: &mut HashMap<String, Span>,
        key: String,
        shown: &str,
        span: Span,
    ) -> bool {
        let Some(first) = seen_before(settings, key, span) else {
            return true;
        };
        self.set_twice(shown, span, first);
        false
    }

    /// Reports `id`, which is no `kind` of `names`: `what` is that kind and the label.
    /// Suggests the closest of `names` to `key`, or lists them all.
    pub(super) fn unknown_of(
        &mut self,
        code: Code,
        id: &ast::Ident,
        what: (&str, &str),
        names: &[&str],
        key: &str,
    ) {
        let (kind, label) = what;
        let help = suggestion(did_you_mean(key, names.iter().copied()))
            .unwrap_or_else(|| format!("the {kind}s are {}", names.join(", ")));
        let d = self
            .diag(
                code,
                id.span,
                format!("unknown {kind} `{}`", id.name),
                label,
            )
            .with_help(help);
        self.push(d);
    }

    pub(super) fn defined_twice(&mut self, kind: &str, id: &ast::Ident, first: Span) {
        let d = twice(
            self.file,
            format!("the {kind} `{}` is defined twice", id.name),
            (id.span, format!("second definition of `{}`", id.name)),
            (first, "first defined here"),
            format!("rename one of them, or remove the second {kind}"),
        );
        self.push(d);
    }

    pub(super) fn set_twice(&mut self, what: &str, span: Span, first: Span) {
        let d = twice(
            self.file,
            format!("`{what}` is set twice"),
            (span, "set again here"),
            (first, "first set here"),
            "keep one of them",
        );
        self.push(d);
    }
}
