//! What names mean: a journey's variables, and the notifications and calendars it
//! refers to, found in the journey, the file or an import.

use std::collections::HashMap;

use super::cx::Cx;
use super::exports::Exports;
use super::report::suggestion;
use crate::diagnostic::*;
use crate::ir;
use crate::syntax::ast;
use crate::types::{Func, Type};

/// What names mean inside one journey (or, for file-level notifications, none).
pub(super) struct Scope {
    pub(super) in_journey: bool,
    pub(super) vars: Vec<(String, Type, Span)>,
    pub(super) var_index: HashMap<String, usize>,
    /// Where the journey link is first used, for the "no web flow" check.
    pub(super) journey_link_used: Option<Span>,
    /// Notifications and calendars referenced so far, by qualified name.
    pub(super) notif_index: HashMap<String, usize>,
    pub(super) notifications: Vec<ir::Notification>,
    pub(super) local_notifications: HashMap<String, (ir::Notification, bool)>,
    pub(super) cal_index: HashMap<String, usize>,
    pub(super) calendars: Vec<ir::Calendar>,
    pub(super) local_calendars: HashMap<String, ir::Calendar>,
    pub(super) sms_sends: Vec<Span>,
    pub(super) timer_starts: Vec<(String, Span)>,
    pub(super) timer_stops: Vec<(String, Span)>,
    pub(super) steps: HashMap<String, usize>,
    /// Page name to (step, page).
    pub(super) pages: HashMap<String, (usize, usize)>,
    /// The step whose pages and `on enter` are being checked, if any.
    pub(super) current_step: Option<usize>,
    /// A `go to` named a page or step that does not exist.
    pub(super) unresolved_navigation: bool,
}

impl Scope {
    pub(super) fn global() -> Scope {
        Scope {
            in_journey: false,
            vars: Vec::new(),
            var_index: HashMap::new(),
            journey_link_used: None,
            notif_index: HashMap::new(),
            notifications: Vec::new(),
            local_notifications: HashMap::new(),
            cal_index: HashMap::new(),
            calendars: Vec::new(),
            local_calendars: HashMap::new(),
            sms_sends: Vec::new(),
            timer_starts: Vec::new(),
            timer_stops: Vec::new(),
            steps: HashMap::new(),
            pages: HashMap::new(),
            current_step: None,
            unresolved_navigation: false,
        }
    }
}

pub(super) fn join(path: &[ast::Ident]) -> String {
    path.iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(".")
}

pub(super) fn path_span(path: &[ast::Ident]) -> Span {
    path[0].span.to(path[path.len() - 1].span)
}

impl Cx<'_> {
    /// Finds a notification by reference, adding it to the journey's table.
    pub(super) fn notification_ref(
        &mut self,
        path: &[ast::Ident],
        scope: &mut Scope,
        at: Span,
    ) -> Option<usize> {
        let qualified = join(path);
        if let Some(i) = scope.notif_index.get(&qualified) {
            return Some(*i);
        }
        let (n, has_link) = self.find_item(
            path,
            &scope.local_notifications,
            |e| &e.notifications,
            UNKNOWN_NOTIFICATION,
            "notification",
        )?;
        if has_link {
            scope.journey_link_used.get_or_insert(at);
        }
        let index = scope.notifications.len();
        scope.notifications.push(ir::Notification {
            name: qualified.clone(),
            ..n
        });
        scope.notif_index.insert(qualified, index);
        Some(index)
    }

    pub(super) fn calendar_ref(&mut self, path: &[ast::Ident], scope: &mut Scope) -> Option<usize> {
        let qualified = join(path);
        if let Some(i) = scope.cal_index.get(&qualified) {
            return Some(*i);
        }
        let cal = self.find_item(
            path,
            &scope.local_calendars,
            |e| &e.calendars,
            UNKNOWN_CALENDAR,
            "calendar",
        )?;
        let index = scope.calendars.len();
        scope.calendars.push(ir::Calendar {
            name: qualified.clone(),
            ..cal
        });
        scope.cal_index.insert(qualified, index);
        Some(index)
    }

    /// Finds the notification or calendar that `path` names: `Name` in the journey's
    /// `local` table, then in the file's `table`; `module.Name` in an import's `table`.
    /// Reports it when there is none.
    fn find_item<T: Clone>(
        &mut self,
        path: &[ast::Ident],
        local: &HashMap<String, T>,
        table: impl Fn(&Exports) -> &HashMap<String, T>,
        code: Code,
        kind: &str,
    ) -> Option<T> {
        let name = &path[path.len() - 1].name;
        if path.len() == 1 {
            if let Some(v) = local.get(name).or_else(|| table(&self.local).get(name)) {
                return Some(v.clone());
            }
            let candidates: Vec<String> = local
                .keys()
                .chain(table(&self.local).keys())
                .cloned()
                .collect();
            self.unknown_item(code, kind, path, name, &candidates, None);
            return None;
        }
        let module = join(&path[..path.len() - 1]);
        let imports = self.imports;
        match imports.get(&module) {
            None => {
                self.not_imported(path, &module);
                None
            }
            // The failed import was reported already.
            Some(e) if e.failed => None,
            Some(e) => {
                if let Some(v) = table(e).get(name) {
                    return Some(v.clone());
                }
                let candidates: Vec<String> = table(e).keys().cloned().collect();
                self.unknown_item(code, kind, path, name, &candidates, Some(&module));
                None
            }
        }
    }

    /// Reports a notification or calendar that `path` names but nothing defines.
    fn unknown_item(
        &mut self,
        code: Code,
        kind: &str,
        path: &[ast::Ident],
        name: &str,
        candidates: &[String],
        module: Option<&str>,
    ) {
        let span = path_span(path);
        let place = module.map(|m| format!(" in `{m}`")).unwrap_or_default();
        let d = self.diag(
            code,
            span,
            format!("unknown {kind} `{name}`{place}"),
            format!("no {kind} named `{name}`{place}"),
        );
        let prefix = module.map(|m| format!("{m}.")).unwrap_or_default();
        let guess = did_you_mean(name, candidates.iter().map(String::as_str));
        let help = suggestion(guess.map(|s| format!("{prefix}{s}"))).unwrap_or_else(|| {
            if candidates.is_empty() {
                format!("define it with `{kind} {name} ...`, or import a module that has one")
            } else {
                let mut c: Vec<&str> = candidates.iter().map(String::as_str).collect();
                c.sort_unstable();
                format!("the {kind}s here are: {}", c.join(", "))
            }
        });
        self.push(d.with_help(help));
    }

    fn not_imported(&mut self, path: &[ast::Ident], module: &str) {
        // A misspelt import was reported where it stands (`import std.calendar`): the
        // uses of the module it meant are that one mistake, not more.
        let failed = self
            .imports
            .iter()
            .filter(|(_, e)| e.failed)
            .map(|(name, _)| name.as_str());
        if did_you_mean(module, failed).is_some() {
            return;
        }
        let span = path_span(&path[..path.len() - 1]);
        let d = self
            .diag(
                UNKNOWN_IMPORT,
                span,
                format!("module `{module}` is not imported"),
                "not imported in this file",
            )
            .with_help(format!("add `import {module}` at the top of the file"));
        self.push(d);
    }

    /// Declares a journey variable; `names` holds the journey's names so far, to find a
    /// second definition.
    pub(super) fn declare_var(
        &mut self,
        v: &ast::VarDecl,
        scope: &mut Scope,
        names: &mut HashMap<(&str, String), Span>,
    ) {
        // Operator words are matched in any case; `true`, `false`, `null` exactly.
        let name = v.name.name.as_str();
        if ["and", "or", "not"]
            .iter()
            .any(|k| name.eq_ignore_ascii_case(k))
            || ["true", "false", "null"].contains(&name)
        {
            let d = self
                .diag(
                    MISPLACED,
                    v.name.span,
                    format!("`{}` is a reserved word", v.name.name),
                    "cannot name a variable",
                )
                .with_help(format!(
                    "choose another name, e.g. `{}_value`",
                    v.name.name.to_lowercase()
                ));
            self.push(d);
            return;
        }
        if ["actor", "session", "journey_link"].contains(&name) {
            let d = self
                .diag(
                    DUPLICATE,
                    v.name.span,
                    format!("`{}` is a built-in name", v.name.name),
                    "this would hide the built-in",
                )
                .with_help("choose another name for the variable");
            self.push(d);
            return;
        }
        if !self.first_definition(names, "variable", &v.name) {
            return;
        }
        let ty = Type::from_name(&v.ty.name).unwrap_or_else(|| {
            let names: Vec<&str> = Type::NAMED.iter().map(|t| t.name()).collect();
            self.unknown_of(
                UNKNOWN_TYPE,
                &v.ty,
                ("type", "not a type"),
                &names,
                &v.ty.name,
            );
            Type::Any
        });
        scope
            .var_index
            .insert(v.name.name.clone(), scope.vars.len());
        scope.vars.push((v.name.name.clone(), ty, v.name.span));
    }

    pub(super) fn var_ref(&mut self, id: &ast::Ident, scope: &Scope) -> Option<usize> {
        if let Some(i) = scope.var_index.get(&id.name) {
            return Some(*i);
        }
        self.unknown_variable(id, scope, None);
        None
    }

    /// `ty`: the type the context wants, to suggest the right declaration.
    pub(super) fn unknown_variable(&mut self, id: &ast::Ident, scope: &Scope, ty: Option<Type>) {
        let d = self.diag(
            UNKNOWN_VARIABLE,
            id.span,
            format!("unknown variable `{}`", id.name),
            if scope.in_journey {
                "not declared in this journey"
            } else {
                "not a name a notification outside a journey can use"
            },
        );
        let mut names: Vec<&str> = scope.vars.iter().map(|v| v.0.as_str()).collect();
        names.extend(["actor", "session", "journey_link"]);
        let help = if let Some(f) = Func::from_name(&id.name) {
            format!(
                "`{}` is a function: call it as `{}(...)`",
                f.name(),
                f.name()
            )
        } else if let Some(s) = suggestion(did_you_mean(&id.name, names.iter().copied())) {
            s
        } else if scope.in_journey {
            format!(
                "declare it in the journey: `var {}: {}`",
                id.name,
                ty.unwrap_or(Type::Text)
            )
        } else {
            "a notification outside a journey can only use `actor`, `session` and `journey_link`"
                .into()
        };
        self.push(d.with_help(help));
    }

    pub(super) fn unknown_field(&mut self, of: &str, field: &ast::Ident, fields: &[(&str, Type)]) {
        let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        let guess = did_you_mean(&field.name, names.iter().copied());
        let help = suggestion(guess.map(|s| format!("{of}.{s}")))
            .unwrap_or_else(|| format!("the fields of `{of}` are {}", names.join(", ")));
        let d = self
            .diag(
                UNKNOWN_FIELD,
                field.span,
                format!("`{of}` has no field `{}`", field.name),
                format!("not a field of `{of}`"),
            )
            .with_help(help);
        self.push(d);
    }
}
