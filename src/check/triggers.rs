//! How sessions start and what they answer: triggers, and the keywords of reply
//! handlers.

use std::collections::HashMap;

use super::actions::Place;
use super::cx::Cx;
use super::report::{seen_before, twice};
use super::scope::Scope;
use crate::diagnostic::*;
use crate::ir;
use crate::syntax::ast;

impl Cx<'_> {
    pub(super) fn trigger(
        &mut self,
        t: &ast::Trigger,
        scope: &mut Scope,
        settings: &mut HashMap<String, Span>,
    ) -> Option<ir::Trigger> {
        let actions = |cx: &mut Cx, scope: &mut Scope, place| {
            t.actions
                .as_ref()
                .map(|a| cx.actions(a, scope, place))
                .unwrap_or_default()
        };
        Some(match &t.kind {
            ast::TriggerKind::Link(slug) => {
                if t.actions.is_some() {
                    let d = self
                        .diag(
                            MISPLACED,
                            t.span,
                            "a starting link takes no actions",
                            "actions here would never run",
                        )
                        .with_help("put them in `on session started { ... }`");
                    self.push(d);
                    actions(self, scope, Place::Other);
                }
                let value = self.constant(slug, "a starting-link slug")?;
                let ok = !value.is_empty()
                    && value.len() <= 64
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !ok {
                    let d = self
                        .diag(INVALID_SLUG, slug.span, format!("`{value}` cannot be a starting-link slug"), "slugs use letters, digits, `-` and `_`")
                        .with_help("use a short name such as \"start\" or \"book-now\" (at most 64 characters)");
                    self.push(d);
                    return None;
                }
                let shown = format!("trigger link \"{value}\"");
                if !self.first_setting(settings, format!("link {value}"), &shown, t.span) {
                    return None;
                }
                ir::Trigger::Link { slug: value }
            }
            ast::TriggerKind::Sms(to) => {
                let to = self.phone_literal(to, "a phone number");
                let actions = actions(self, scope, Place::Other);
                ir::Trigger::Sms { to: to?, actions }
            }
            ast::TriggerKind::Call(to) => {
                let to = self.phone_literal(to, "a phone number");
                let actions = actions(self, scope, Place::Call);
                ir::Trigger::Call { to: to?, actions }
            }
            ast::TriggerKind::Api => {
                if !self.first_setting(settings, "trigger api".into(), "trigger api", t.span) {
                    return None;
                }
                ir::Trigger::Api {
                    actions: actions(self, scope, Place::Other),
                }
            }
            ast::TriggerKind::Schedule { cron, zone } => {
                let cron = self.cron(cron);
                let zone = self.time_zone(zone);
                let actions = actions(self, scope, Place::Other);
                ir::Trigger::Schedule {
                    cron: cron?,
                    time_zone: zone?,
                    actions,
                }
            }
        })
    }

    /// The keywords of one `on reply` handler, upper-cased; each keyword, and the
    /// handler of any reply, is recorded in `settings` to find a second handler.
    pub(super) fn reply_keywords(
        &mut self,
        keywords: &[ast::StrLit],
        span: Span,
        settings: &mut HashMap<String, Span>,
    ) -> Vec<String> {
        let mut normalized = Vec::new();
        for k in keywords {
            let Some(value) = self.constant(k, "a reply keyword") else {
                continue;
            };
            let value = value.trim().to_uppercase();
            if value.is_empty() {
                let d = self
                    .diag(MISPLACED, k.span, "empty reply keyword", "no reply can match this")
                    .with_help("write the word a person replies with, e.g. \"YES\"; `on reply { ... }` alone matches any reply");
                self.push(d);
                continue;
            }
            if let Some(first) = seen_before(settings, format!("reply {value}"), k.span) {
                let d = twice(
                    self.file,
                    format!("reply `{value}` is handled twice"),
                    (k.span, "this handler never runs for it"),
                    (first, "handled first here"),
                    "keep the keyword in one `on reply` handler",
                );
                self.push(d);
                continue;
            }
            normalized.push(value);
        }
        if keywords.is_empty() {
            // Each catch-all is reported against the one just before it.
            if let Some(first) = settings.insert("reply *".to_string(), span) {
                let d = twice(
                    self.file,
                    "two `on reply` handlers match any reply".into(),
                    (span, "this handler never runs"),
                    (first, "this one matches every reply first"),
                    "merge the two handlers",
                );
                self.push(d);
            }
        }
        normalized
    }
}
