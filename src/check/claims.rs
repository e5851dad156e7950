//! What must be unique across every root file of one compilation: journey names,
//! starting-link slugs, the numbers SMS and call triggers answer, and `trigger api`
//! per journey name. One `journeyc run` serves all of them side by side, so a second
//! claim would make a link, a text or an API call reach one journey at random.
//!
//! Duplicates inside one journey (a slug given twice, two `trigger api`) and journey
//! names repeated inside one file are the journey checker's to report; this module
//! compares only what different journeys claim.

use std::collections::HashMap;

use crate::diagnostic::*;
use crate::literals;
use crate::syntax::ast;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Journey,
    Link,
    Sms,
    Call,
    Api,
}

/// One thing a journey claims, where it says so.
#[derive(Clone, Debug)]
pub(super) struct Claim {
    kind: Kind,
    /// The journey name, slug or E.164 number.
    key: String,
    /// The claiming journey's place in its file, to tell journeys apart.
    journey: usize,
    span: Span,
}

/// The claims of one file's journeys, in source order. Journeys named twice in the
/// file count once: the checker reports the second and builds only the first.
pub(super) fn of_file(tree: &ast::File) -> Vec<Claim> {
    let mut claims = Vec::new();
    let mut names = HashMap::new();
    for (index, journey) in tree.items.iter().enumerate() {
        let ast::Item::Journey(j) = journey else {
            continue;
        };
        if names.insert(j.name.name.as_str(), ()).is_some() {
            continue;
        }
        let claim = |kind, key: String, span| Claim {
            kind,
            key,
            journey: index,
            span,
        };
        claims.push(claim(Kind::Journey, j.name.name.clone(), j.name.span));
        for item in &j.items {
            let ast::JourneyItem::Trigger(t) = item else {
                continue;
            };
            let constant = |s: &ast::StrLit| (!s.has_interpolation()).then(|| s.value.clone());
            match &t.kind {
                ast::TriggerKind::Link(slug) => {
                    if let Some(value) = constant(slug) {
                        claims.push(claim(Kind::Link, value, slug.span));
                    }
                }
                ast::TriggerKind::Sms(to) | ast::TriggerKind::Call(to) => {
                    let kind = match t.kind {
                        ast::TriggerKind::Sms(_) => Kind::Sms,
                        _ => Kind::Call,
                    };
                    // A number that does not parse is reported by the journey checker.
                    if let Some(number) = constant(to).and_then(|v| literals::parse_phone(&v)) {
                        claims.push(claim(kind, number, to.span));
                    }
                }
                ast::TriggerKind::Api => {
                    claims.push(claim(Kind::Api, j.name.name.clone(), t.span));
                }
                ast::TriggerKind::Schedule { .. } => {}
            }
        }
    }
    claims
}

/// Every claim made so far in one compilation, and the diagnostics for second claims.
#[derive(Default)]
pub(super) struct Claims {
    first: HashMap<(Kind, String), (FileId, usize, Span)>,
}

impl Claims {
    /// Records one file's claims; returns an error for each that another journey made
    /// first, labelled at both places.
    pub(super) fn add(&mut self, file: FileId, claims: Vec<Claim>) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        for c in claims {
            let entry = self.first.entry((c.kind, c.key.clone()));
            let std::collections::hash_map::Entry::Occupied(first) = entry else {
                entry.or_insert((file, c.journey, c.span));
                continue;
            };
            let (first_file, first_journey, first_span) = *first.get();
            if (first_file, first_journey) == (file, c.journey) {
                continue;
            }
            // Journey names repeated within one file are reported by the journey checker.
            if c.kind == Kind::Journey && first_file == file {
                continue;
            }
            diags.push(duplicate(&c, file).with_label_in(
                first_file,
                first_span,
                first_label(c.kind),
            ));
        }
        diags
    }
}

fn duplicate(c: &Claim, file: FileId) -> Diagnostic {
    let key = &c.key;
    let (message, label, help) = match c.kind {
        Kind::Journey => (
            format!("the journey `{key}` is defined twice"),
            format!("second definition of `{key}`"),
            "journeys served together need different names: rename one of them".to_string(),
        ),
        Kind::Link => (
            format!("the starting link \"{key}\" belongs to two journeys"),
            "claimed again here".to_string(),
            format!("`/start/{key}` can start only one journey: give one of them another slug"),
        ),
        Kind::Sms => (
            format!("texts to {key} would start two journeys"),
            "claimed again here".to_string(),
            "an inbound text reaches one journey: give one of them another number".to_string(),
        ),
        Kind::Call => (
            format!("calls to {key} would start two journeys"),
            "claimed again here".to_string(),
            "an inbound call reaches one journey: give one of them another number".to_string(),
        ),
        Kind::Api => (
            format!("two journeys named `{key}` take `trigger api`"),
            "claimed again here".to_string(),
            format!("`POST /api/v1/journeys/{key}/sessions` can start only one journey: rename one of them"),
        ),
    };
    Diagnostic::new(DUPLICATE, file, c.span, message, label).with_help(help)
}

fn first_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Journey => "first defined here",
        _ => "first claimed here",
    }
}
