//! Checks one file's items to IR: the names the file defines, and each journey's
//! declarations, settings and whole-journey checks.

use std::collections::HashMap;
use std::sync::Arc;

use super::actions::Place;
use super::cx::Cx;
use super::exports::Exports;
use super::flow;
use super::scope::Scope;
use crate::diagnostic::*;
use crate::ir;
use crate::syntax::ast::{self, ExprKind as E};

pub(super) fn check_module(
    file: FileId,
    name: &str,
    tree: &ast::File,
    imports: &HashMap<String, Arc<Exports>>,
    diags: &mut Vec<Diagnostic>,
) -> (ir::Module, Exports) {
    let mut cx = Cx {
        file,
        diags,
        imports,
        local: Exports::default(),
    };
    let mut module = ir::Module {
        name: name.to_string(),
        ..Default::default()
    };
    let mut names: HashMap<(&str, String), Span> = HashMap::new();
    let mut first_definition = |cx: &mut Cx, kind: &'static str, id: &ast::Ident| {
        cx.first_definition(&mut names, kind, id)
    };
    // Calendars and notifications first: journeys may use them wherever they stand.
    for item in &tree.items {
        match item {
            ast::Item::Calendar(c) if first_definition(&mut cx, "calendar", &c.name) => {
                let cal = cx.calendar(c);
                cx.local.calendars.insert(c.name.name.clone(), cal.clone());
                module.calendars.push(cal);
            }
            ast::Item::Notification(n) if first_definition(&mut cx, "notification", &n.name) => {
                let mut scope = Scope::global();
                let built = cx.notification(n, &mut scope, &n.name.name);
                cx.local.notifications.insert(
                    n.name.name.clone(),
                    (built.clone(), scope.journey_link_used.is_some()),
                );
                module.notifications.push(built);
            }
            _ => {}
        }
    }
    for item in &tree.items {
        if let ast::Item::Journey(j) = item {
            if first_definition(&mut cx, "journey", &j.name) {
                module.journeys.push(cx.journey(j));
            }
        }
    }
    // Tests run with this file's journeys and those of the files it imports.
    let mut journeys: Vec<&ir::Journey> = module.journeys.iter().collect();
    let mut imported: Vec<&Arc<Exports>> = imports.values().collect();
    imported.sort_by_key(|e| e.journeys.first().map(|j| j.name.clone()));
    journeys.extend(imported.iter().flat_map(|e| &e.journeys));
    module.tests = cx.tests(tree, &journeys);
    let mut exports = std::mem::take(&mut cx.local);
    exports.journeys = module.journeys.clone();
    (module, exports)
}

impl Cx<'_> {
    fn journey(&mut self, j: &ast::Journey) -> ir::Journey {
        let mut scope = Scope::global();
        scope.in_journey = true;
        let mut out = ir::Journey {
            name: j.name.name.clone(),
            sms_from: None,
            expires_after_secs: ir::DEFAULT_EXPIRY_SECS,
            link_lands_on: ir::LandsOn::LastPage,
            existing_session: ir::Policy::Replace,
            on_new_version: ir::OnNewVersion::Keep,
            help_text: None,
            time_zone: None,
            triggers: vec![],
            on_started: vec![],
            reply_handlers: vec![],
            vars: vec![],
            steps: vec![],
            notifications: vec![],
            calendars: vec![],
        };
        let mut settings: HashMap<String, Span> = HashMap::new();
        let mut local_names: HashMap<(&str, String), Span> = HashMap::new();

        // Pass 1: declarations, so that uses may come before definitions.
        for item in &j.items {
            match item {
                ast::JourneyItem::Var(v) => self.declare_var(v, &mut scope, &mut local_names),
                ast::JourneyItem::Step(s) => {
                    // A second step of one name is reported, yet checked like any other.
                    self.first_definition(&mut local_names, "step", &s.name);
                    let si = out.steps.len();
                    scope.steps.entry(s.name.name.clone()).or_insert(si);
                    for (pi, p) in s.pages.iter().enumerate() {
                        if !self.first_definition(&mut local_names, "page", &p.name) {
                            continue;
                        }
                        scope.pages.insert(p.name.name.clone(), (si, pi));
                    }
                    out.steps.push(ir::Step {
                        name: s.name.name.clone(),
                        on_enter: vec![],
                        pages: vec![],
                    });
                }
                ast::JourneyItem::Calendar(c) => {
                    if !self.first_definition(&mut local_names, "calendar", &c.name) {
                        continue;
                    }
                    let cal = self.calendar(c);
                    scope.local_calendars.insert(c.name.name.clone(), cal);
                }
                _ => {}
            }
        }
        // Variable defaults, after every variable is known.
        for item in &j.items {
            if let ast::JourneyItem::Var(v) = item {
                let Some(&index) = scope.var_index.get(&v.name.name) else {
                    continue;
                };
                if scope.vars[index].2 != v.name.span {
                    continue;
                }
                let ty = scope.vars[index].1;
                let default = v.default.as_ref().map(|e| {
                    self.expr_expect(
                        e,
                        ty,
                        &mut scope,
                        ASSIGN_TYPE,
                        &format!("`{}`", v.name.name),
                    )
                });
                out.vars.push(ir::Var {
                    name: v.name.name.clone(),
                    ty,
                    default,
                });
            }
        }
        // Notifications, which actions refer to.
        for item in &j.items {
            if let ast::JourneyItem::Notification(n) = item {
                if !self.first_definition(&mut local_names, "notification", &n.name) {
                    continue;
                }
                let before = scope.journey_link_used;
                scope.journey_link_used = None;
                let built = self.notification(n, &mut scope, &n.name.name);
                let has_link = scope.journey_link_used.is_some();
                scope.journey_link_used = before;
                scope
                    .local_notifications
                    .insert(n.name.name.clone(), (built, has_link));
            }
        }

        // Pass 2: settings, triggers, handlers and steps.
        let mut step_index = 0;
        for item in &j.items {
            let mut once = |cx: &mut Cx, key: &str, span: Span| {
                cx.first_setting(&mut settings, key.to_string(), key, span)
            };
            match item {
                ast::JourneyItem::SmsFrom(s, span) => {
                    if once(self, "sms from", *span) {
                        out.sms_from = self.phone_literal(s, "a sender number");
                    }
                }
                ast::JourneyItem::Expires(e, span) => {
                    if once(self, "expires after", *span) {
                        if let E::Duration { value, unit } = &e.kind {
                            if let Some(secs) = self.duration_literal(*value, unit, e.span) {
                                if secs > ir::MAX_EXPIRY_SECS {
                                    let d = self
                                        .diag(EXPIRY_RANGE, e.span, "sessions can last at most 90 days", "longer than 90 days")
                                        .with_help("use `expires after 90d` or less, and `extend session by ...` where a session needs more time");
                                    self.push(d);
                                } else {
                                    out.expires_after_secs = secs;
                                }
                            }
                        }
                    }
                }
                ast::JourneyItem::LinkLands(v, span) => {
                    if once(self, "journey link opens", *span) {
                        out.link_lands_on = match v {
                            ast::LandsOn::LastPage => ir::LandsOn::LastPage,
                            ast::LandsOn::FirstPage => ir::LandsOn::FirstPage,
                        };
                    }
                }
                ast::JourneyItem::ExistingSession(v, span) => {
                    if once(self, "on existing session", *span) {
                        out.existing_session = match v {
                            ast::Policy::Keep => ir::Policy::Keep,
                            ast::Policy::Replace => ir::Policy::Replace,
                            ast::Policy::Reject => ir::Policy::Reject,
                        };
                    }
                }
                ast::JourneyItem::NewVersion(upgrade, span) => {
                    if once(self, "on new version", *span) {
                        out.on_new_version = if *upgrade {
                            ir::OnNewVersion::Upgrade
                        } else {
                            ir::OnNewVersion::Keep
                        };
                    }
                }
                ast::JourneyItem::TimeZone(s, span) => {
                    if once(self, "time zone", *span) {
                        out.time_zone = self.time_zone(s);
                    }
                }
                ast::JourneyItem::Help(s, span) => {
                    if once(self, "help", *span) {
                        out.help_text = self.constant(s, "help text");
                    }
                }
                ast::JourneyItem::Trigger(t) => {
                    if let Some(trigger) = self.trigger(t, &mut scope, &mut settings) {
                        out.triggers.push(trigger);
                    }
                }
                ast::JourneyItem::OnStarted(a, span) => {
                    if once(self, "on session started", *span) {
                        out.on_started = self.actions(a, &mut scope, Place::Other);
                    }
                }
                ast::JourneyItem::OnReply {
                    keywords,
                    actions,
                    span,
                } => {
                    let keywords = self.reply_keywords(keywords, *span, &mut settings);
                    let actions = self.actions(actions, &mut scope, Place::Other);
                    out.reply_handlers
                        .push(ir::ReplyHandler { keywords, actions });
                }
                ast::JourneyItem::Step(s) => {
                    let mut on_enter = Vec::new();
                    scope.current_step = Some(step_index);
                    for a in &s.on_enter {
                        on_enter.extend(self.actions(a, &mut scope, Place::Other));
                    }
                    let pages = s.pages.iter().map(|p| self.page(p, &mut scope)).collect();
                    scope.current_step = None;
                    out.steps[step_index] = ir::Step {
                        name: s.name.name.clone(),
                        on_enter,
                        pages,
                    };
                    step_index += 1;
                }
                ast::JourneyItem::Var(_)
                | ast::JourneyItem::Notification(_)
                | ast::JourneyItem::Calendar(_) => {}
            }
        }

        if out.steps.is_empty() {
            let d = self
                .diag(
                    NO_STEPS,
                    j.name.span,
                    format!("journey `{}` has no steps", j.name.name),
                    "a journey needs at least one step",
                )
                .with_help("add `step Start { page Welcome { heading \"Welcome\" } }`");
            self.push(d);
        }
        if let (Some(used), false) = (scope.journey_link_used, out.steps.is_empty()) {
            let first_has_pages = out.steps.first().is_some_and(|s| !s.pages.is_empty());
            if !first_has_pages {
                let mut d = self
                    .diag(
                        JOURNEY_LINK_NO_WEB_FLOW,
                        used,
                        "journey link used, but step 1 has no web flow",
                        "this journey link would have no page to open",
                    )
                    .with_help(
                        "give the first step a page: a journey link opens step 1's web flow",
                    );
                if let Some(ast::JourneyItem::Step(s)) = j
                    .items
                    .iter()
                    .find(|i| matches!(i, ast::JourneyItem::Step(_)))
                {
                    d = d.with_label(s.name.span, "step 1 has no pages");
                }
                self.push(d);
            }
        }
        if out.sms_from.is_none() && !settings.contains_key("sms from") {
            if let Some(first) = scope.sms_sends.first().copied() {
                let mut d = self
                    .diag(
                        NO_SENDER,
                        first,
                        "SMS sent, but the journey has no sender number",
                        "this sends an SMS",
                    )
                    .with_label(j.name.span, "no `sms from` in this journey")
                    .with_help("add `sms from \"+1...\"` to the journey with your Twilio number");
                if scope.sms_sends.len() > 1 {
                    d = d.with_note(format!(
                        "the journey sends SMS in {} places",
                        scope.sms_sends.len()
                    ));
                }
                self.push(d);
            }
        }
        self.stops_of_unknown_timers(&scope);
        // After a syntax error or a `go to` that names nothing, the graph is incomplete:
        // its findings would only echo that mistake.
        let quiet = scope.unresolved_navigation || self.syntax_errors_within(j.span);
        flow::analyze(self, j, &scope.steps, &scope.pages, quiet);
        flow::duplicate_timers(self, j);
        out.notifications = std::mem::take(&mut scope.notifications);
        out.calendars = std::mem::take(&mut scope.calendars);
        out
    }
}
