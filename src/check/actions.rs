//! Action lists, each action checked for where it may run, and `stop timer` keys that
//! no `start timer` uses.

use std::collections::HashMap;

use super::cx::Cx;
use super::report::suggestion;
use super::scope::{join, path_span, Scope};
use crate::diagnostic::*;
use crate::ir;
use crate::syntax::ast;
use crate::types::{Type, ACTOR_FIELDS};

/// Where an action list runs, for the actions that only fit some places.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    Call,
    Other,
}

impl Cx<'_> {
    pub(super) fn actions(
        &mut self,
        a: &ast::Actions,
        scope: &mut Scope,
        place: Place,
    ) -> Vec<ir::Action> {
        a.actions
            .iter()
            .filter_map(|x| self.action(x, scope, place))
            .collect()
    }

    fn action(&mut self, a: &ast::Action, scope: &mut Scope, place: Place) -> Option<ir::Action> {
        Some(match &a.kind {
            ast::ActionKind::Set { target, value } => {
                let (place_ir, ty, what) = self.target(target, scope)?;
                let value = self.expr_expect(value, ty, scope, ASSIGN_TYPE, &what);
                ir::Action::Set {
                    target: place_ir,
                    value,
                }
            }
            ast::ActionKind::InitializeActor => ir::Action::InitializeActor,
            ast::ActionKind::SendSms(path) => {
                scope.sms_sends.push(a.span);
                ir::Action::SendSms {
                    notification: self.notification_ref(path, scope, a.span)?,
                }
            }
            ast::ActionKind::StartTimer(t) => {
                // Check all of the timer even when a part is wrong, then drop it.
                let key = self.constant(&t.key, "a timer key");
                if let Some(key) = &key {
                    scope.timer_starts.push((key.clone(), t.key.span));
                }
                let time = match &t.when {
                    ast::TimerWhen::After(e) => ir::TimerTime::After {
                        duration: self.expr_expect(
                            e,
                            Type::Duration,
                            scope,
                            TIMER_TIME_TYPE,
                            "`after`",
                        ),
                    },
                    ast::TimerWhen::At(e) => ir::TimerTime::At {
                        datetime: self.expr_expect(
                            e,
                            Type::DateTime,
                            scope,
                            TIMER_TIME_TYPE,
                            "`at`",
                        ),
                    },
                };
                let calendar = t.calendar.as_ref().map(|c| {
                    let zone = c.zone.as_ref().map(|z| self.calendar_zone(z, scope));
                    (self.calendar_ref(&c.path, scope), zone, c.unavailable)
                });
                // A timer fires after the call has ended, so its actions cannot `say`.
                let actions = self.actions(&t.actions, scope, Place::Other);
                let calendar = match calendar {
                    Some((Some(calendar), zone, if_unavailable)) => Some(ir::TimerCalendar {
                        calendar,
                        zone,
                        if_unavailable: match if_unavailable {
                            ast::Unavailable::Skip => ir::Unavailable::Skip,
                            ast::Unavailable::Next => ir::Unavailable::Next,
                            ast::Unavailable::Previous => ir::Unavailable::Previous,
                            ast::Unavailable::Anyway => ir::Unavailable::Anyway,
                        },
                    }),
                    Some((None, _, _)) => return None,
                    None => None,
                };
                ir::Action::StartTimer {
                    key: key?,
                    time,
                    calendar,
                    skip_if_missed: t.skip_if_missed,
                    actions,
                }
            }
            ast::ActionKind::StopTimer(key) => {
                let key = self.constant(key, "a timer key")?;
                if let ast::ActionKind::StopTimer(k) = &a.kind {
                    scope.timer_stops.push((key.clone(), k.span));
                }
                ir::Action::StopTimer { key }
            }
            ast::ActionKind::GoToPage(id) => match scope.pages.get(&id.name) {
                Some(&(step, page)) => {
                    if scope.current_step.is_some_and(|cur| cur != step) {
                        let step_name = scope
                            .steps
                            .iter()
                            .find(|(_, i)| **i == step)
                            .map(|(n, _)| n.clone())
                            .unwrap_or_default();
                        let d = self
                            .diag(UNKNOWN_PAGE, id.span, format!("page `{}` is in step `{step_name}`, not in this step", id.name), "not a page of this step")
                            .with_note("`go to page` moves within a step's web flow; steps change only with `go to step`")
                            .with_help(format!("write `go to step {step_name}` to open that step's first page"));
                        self.push(d);
                        scope.unresolved_navigation = true;
                        return None;
                    }
                    ir::Action::GoToPage { step, page }
                }
                None => {
                    let is_step = scope.steps.contains_key(&id.name);
                    self.unknown_target(
                        UNKNOWN_PAGE,
                        ("page", "step"),
                        id,
                        scope.pages.keys(),
                        is_step,
                    );
                    scope.unresolved_navigation = true;
                    return None;
                }
            },
            ast::ActionKind::GoToStep(id) => match scope.steps.get(&id.name) {
                Some(&step) => ir::Action::GoToStep { step },
                None => {
                    let is_page = scope.pages.contains_key(&id.name);
                    self.unknown_target(
                        UNKNOWN_STEP,
                        ("step", "page"),
                        id,
                        scope.steps.keys(),
                        is_page,
                    );
                    scope.unresolved_navigation = true;
                    return None;
                }
            },
            ast::ActionKind::If {
                branches,
                otherwise,
            } => {
                let branches = branches
                    .iter()
                    .map(|(cond, actions)| {
                        let cond = self.expr_expect(
                            cond,
                            Type::Boolean,
                            scope,
                            CONDITION_TYPE,
                            "an `if` condition",
                        );
                        (cond, self.actions(actions, scope, place))
                    })
                    .collect();
                let otherwise = otherwise
                    .as_ref()
                    .map(|o| self.actions(o, scope, place))
                    .unwrap_or_default();
                ir::Action::If {
                    branches,
                    otherwise,
                }
            }
            ast::ActionKind::EndSession => ir::Action::EndSession,
            ast::ActionKind::ExtendSession(e) => ir::Action::ExtendSession {
                by: self.expr_expect(e, Type::Duration, scope, ASSIGN_TYPE, "`extend session by`"),
            },
            ast::ActionKind::Say(s) => {
                if place != Place::Call {
                    let d = self
                        .diag(SAY_OUTSIDE_CALL, a.span, "`say` only works while answering a call", "there is no call to speak on here")
                        .with_help("use `say` inside `trigger call to \"...\" { ... }`; to reach a person here, `send sms` instead");
                    self.push(d);
                    return None;
                }
                ir::Action::Say {
                    text: self.template(s, scope),
                }
            }
        })
    }

    /// Resolves the target of `set`: where it writes, its type, and how to name it.
    fn target(&mut self, path: &[ast::Ident], scope: &Scope) -> Option<(ir::Place, Type, String)> {
        let shown = join(path);
        match path[0].name.as_str() {
            "actor" if path.len() == 1 => {
                let d = self
                    .diag(READ_ONLY, path[0].span, "`actor` cannot be set as a whole", "set one of its fields")
                    .with_help("set a field, e.g. `set actor.phone = phone_input`, then `initialize actor`");
                self.push(d);
                None
            }
            "actor" if path.len() == 2 => {
                let field = &path[1];
                match ACTOR_FIELDS.iter().find(|(n, _)| *n == field.name) {
                    Some((n, t)) => {
                        Some((ir::Place::Actor(n.to_string()), *t, format!("`{shown}`")))
                    }
                    None => {
                        self.unknown_field("actor", field, ACTOR_FIELDS);
                        None
                    }
                }
            }
            "session" | "journey_link" => {
                let d = self
                    .diag(
                        READ_ONLY,
                        path_span(path),
                        format!("`{shown}` cannot be changed"),
                        "read-only",
                    )
                    .with_help("store the value you need in a variable of the journey instead");
                self.push(d);
                None
            }
            _ if path.len() == 1 => {
                let i = self.var_ref(&path[0], scope)?;
                Some((ir::Place::Var(i), scope.vars[i].1, format!("`{shown}`")))
            }
            _ => {
                let d = self
                    .diag(
                        READ_ONLY,
                        path_span(path),
                        format!("cannot set the field `{shown}`"),
                        "only variables and actor fields can be set",
                    )
                    .with_help(if path[0].name == "actor" {
                        "the actor's fields hold single values; set one of them, e.g. `set actor.first_name = name`".to_string()
                    } else {
                        format!("set the whole variable, e.g. `set {} = {{ ... }}`", path[0].name)
                    });
                self.push(d);
                None
            }
        }
    }

    /// `go to page` or `go to step` naming nothing; `kinds` is what was asked for and the
    /// other kind, which the name may be instead.
    fn unknown_target<'n>(
        &mut self,
        code: Code,
        kinds: (&str, &str),
        id: &ast::Ident,
        names: impl Iterator<Item = &'n String>,
        is_other: bool,
    ) {
        let (kind, other) = kinds;
        let mut d = self.diag(
            code,
            id.span,
            format!("unknown {kind} `{}`", id.name),
            format!("no {kind} with this name in the journey"),
        );
        d.help = suggestion(did_you_mean(&id.name, names.map(String::as_str))).or_else(|| {
            is_other.then(|| {
                format!(
                    "`{}` is a {other}: write `go to {other} {}`",
                    id.name, id.name
                )
            })
        });
        self.push(d);
    }

    /// Warns about `stop timer` keys that no `start timer` of the journey uses.
    pub(super) fn stops_of_unknown_timers(&mut self, scope: &Scope) {
        let started: HashMap<&str, Span> = scope
            .timer_starts
            .iter()
            .map(|(k, s)| (k.as_str(), *s))
            .collect();
        for (key, span) in &scope.timer_stops {
            if started.contains_key(key.as_str()) {
                continue;
            }
            let guess = did_you_mean(key, started.keys().copied());
            let help = suggestion(guess.map(|s| format!("\"{s}\""))).unwrap_or_else(|| {
                "check the key against your `start timer` actions, or remove this action".into()
            });
            let d = self
                .diag(
                    UNKNOWN_TIMER,
                    *span,
                    format!("no timer `{key}` is ever started"),
                    "this stops nothing",
                )
                .with_help(help);
            self.push(d);
        }
    }
}

impl Cx<'_> {
    /// The zone of `on CALENDAR in ZONE`: a Text expression, such as `actor.time_zone`.
    /// A zone written as fixed text must be a time zone the runtime knows.
    fn calendar_zone(&mut self, e: &ast::Expr, scope: &mut Scope) -> ir::Expr {
        if let ast::ExprKind::Text(s) = &e.kind {
            if !s.has_interpolation() {
                self.time_zone(s);
            }
        }
        self.expr_expect(e, Type::Text, scope, TIMER_TIME_TYPE, "`in`")
    }
}
