//! The pages of a web flow: their controls, and inputs bound to variables.

use std::collections::HashMap;

use super::actions::Place;
use super::cx::Cx;
use super::report::twice;
use super::scope::Scope;
use crate::diagnostic::*;
use crate::ir;
use crate::syntax::ast;
use crate::types::Type;

impl Cx<'_> {
    pub(super) fn page(&mut self, p: &ast::Page, scope: &mut Scope) -> ir::Page {
        let mut controls = Vec::new();
        let mut bound: HashMap<usize, Span> = HashMap::new();
        for c in &p.controls {
            controls.push(match c {
                ast::Control::Heading(s, _) => ir::Control::Heading {
                    text: self.template(s, scope),
                },
                ast::Control::Text(s, _) => ir::Control::Text {
                    text: self.template(s, scope),
                },
                ast::Control::Link { label, url, .. } => {
                    let label = self.template(label, scope);
                    ir::Control::Link {
                        label,
                        url: self.expr_expect(url, Type::Text, scope, ASSIGN_TYPE, "a link"),
                    }
                }
                ast::Control::Button { label, actions, .. } => {
                    let label = self.template(label, scope);
                    ir::Control::Button {
                        label,
                        actions: self.actions(actions, scope, Place::Other),
                    }
                }
                ast::Control::Input(input) => match self.input(input, scope, &mut bound) {
                    Some(i) => ir::Control::Input(i),
                    None => continue,
                },
            });
        }
        ir::Page {
            name: p.name.name.clone(),
            controls,
        }
    }

    fn input(
        &mut self,
        input: &ast::Input,
        scope: &mut Scope,
        bound: &mut HashMap<usize, Span>,
    ) -> Option<ir::Input> {
        let kind = ir::InputKind::ALL
            .iter()
            .find(|(n, _, _)| *n == input.kind.name)
            .copied();
        let Some((_, kind, kind_ty)) = kind else {
            let names: Vec<&str> = ir::InputKind::ALL.iter().map(|(n, _, _)| *n).collect();
            let what = ("input kind", "not an input kind");
            self.unknown_of(UNKNOWN_TYPE, &input.kind, what, &names, &input.kind.name);
            return None;
        };
        if ["actor", "session", "journey_link"].contains(&input.var.name.as_str()) {
            let d = self
                .diag(READ_ONLY, input.var.span, format!("an input cannot fill `{}`", input.var.name), "built-in, not a variable")
                .with_help(format!("bind the input to a variable of the journey, e.g. `var answer: {kind_ty}`, and copy it with `set`"));
            self.push(d);
            return None;
        }
        let Some(&var) = scope.var_index.get(&input.var.name) else {
            self.unknown_variable(&input.var, scope, Some(kind_ty));
            return None;
        };
        if let Some(first) = bound.insert(var, input.var.span) {
            let d = twice(
                self.file,
                format!("`{}` has two inputs on this page", input.var.name),
                (input.var.span, "bound again here"),
                (first, "first bound here"),
                "bind each input to its own variable",
            );
            self.push(d);
        }
        let var_ty = scope.vars[var].1;
        if var_ty != Type::Any && var_ty != kind_ty {
            let good = ir::InputKind::ALL
                .iter()
                .find(|(_, _, t)| *t == var_ty)
                .map(|(n, _, _)| *n);
            let d = self
                .diag(
                    INPUT_TYPE,
                    input.kind.span,
                    format!(
                        "a `{}` input cannot fill `{}`, which is {var_ty}",
                        input.kind.name, input.var.name
                    ),
                    format!("this input gives a {kind_ty}"),
                )
                .with_label(
                    scope.vars[var].2,
                    format!("`{}` is declared as {var_ty} here", input.var.name),
                )
                .with_help(match good {
                    Some(g) => format!(
                        "use a `{g}` input, or declare `{}` as {kind_ty}",
                        input.var.name
                    ),
                    None => format!("declare `{}` as {kind_ty}", input.var.name),
                });
            self.push(d);
        }
        let options = input
            .options
            .as_ref()
            .map(|o| self.expr_expect(o, Type::List, scope, ASSIGN_TYPE, "options"));
        if let (Some(o), true) = (&input.options, !kind.takes_options()) {
            let d = self
                .diag(
                    MISPLACED,
                    o.span,
                    format!("a `{}` input takes no options", input.kind.name),
                    "these options would be ignored",
                )
                .with_help(
                    "use a `choice` or `radio` input to let people pick from a list, or remove the options",
                );
            self.push(d);
        }
        let placeholder = input
            .placeholder
            .as_ref()
            .and_then(|p| self.constant(p, "a placeholder"));
        if kind.takes_options() && options.is_none() {
            let d = self
                .diag(
                    MISPLACED,
                    input.span,
                    format!("a `{}` input needs options", input.kind.name),
                    "no `options [...]` here",
                )
                .with_help("add the choices, e.g. `options [\"Morning\", \"Afternoon\"]`");
            self.push(d);
        }
        let validate = input.validate.as_ref().map(|(cond, message)| {
            let condition =
                self.expr_expect(cond, Type::Boolean, scope, CONDITION_TYPE, "a validation");
            ir::Validation {
                condition,
                message: self
                    .constant(message, "a validation message")
                    .unwrap_or_default(),
            }
        });
        Some(ir::Input {
            var,
            kind,
            label: self.template(&input.label, scope),
            required: input.required,
            placeholder,
            options,
            validate,
        })
    }
}
