//! Calls to the function library: the function, its arity and its argument types.

use super::cx::Cx;
use super::expr::{any, lit};
use super::scope::Scope;
use crate::diagnostic::*;
use crate::ir;
use crate::syntax::ast;
use crate::types::{Func, Returns, Type};

impl Cx<'_> {
    pub(super) fn call(
        &mut self,
        name: &ast::Ident,
        args: &[ast::Expr],
        span: Span,
        scope: &mut Scope,
    ) -> ir::Expr {
        let Some(func) = Func::from_name(&name.name) else {
            let names: Vec<&str> = Func::ALL.iter().map(|f| f.name()).collect();
            // Function names are upper case; the name is matched against them as such.
            let key = name.name.to_uppercase();
            let what = ("function", "no function with this name");
            self.unknown_of(UNKNOWN_FUNCTION, name, what, &names, &key);
            for a in args {
                self.expr(a, None, scope);
            }
            return any();
        };
        let sig = func.signature();
        let (min, max) = (sig.params.len() - sig.optional, sig.params.len());
        let shape = format!(
            "{}({})",
            func.name(),
            sig.params
                .iter()
                .enumerate()
                .map(|(i, p)| if i >= min {
                    format!("[{}]", p.name)
                } else {
                    p.name.to_string()
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        if args.len() < min || args.len() > max {
            let expected = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            let d = self
                .diag(
                    ARITY,
                    span,
                    format!(
                        "`{}` takes {expected} argument{}, but {} were given",
                        func.name(),
                        if max == 1 { "" } else { "s" },
                        args.len()
                    ),
                    format!(
                        "{} argument{} here",
                        args.len(),
                        if args.len() == 1 { "" } else { "s" }
                    ),
                )
                .with_help(format!("call it as `{shape}`: {}", sig.doc));
            self.push(d);
        }
        let mut typed = Vec::new();
        for (i, a) in args.iter().enumerate() {
            let param = sig.params.get(i);
            let hint = param.and_then(|p| {
                (p.accepts.len() == 1 && p.accepts[0] != Type::Any).then_some(p.accepts[0])
            });
            let x = self.expr(a, hint, scope);
            if let (Some(p), ast::ExprKind::Text(s)) = (param, &a.kind) {
                if p.name == "time_zone" && !s.has_interpolation() {
                    self.time_zone(s);
                }
            }
            if let Some(p) = param {
                let ok = p.accepts.iter().any(|t| t.accepts(x.ty));
                if !ok {
                    let wanted = p
                        .accepts
                        .iter()
                        .map(|t| t.name())
                        .collect::<Vec<_>>()
                        .join(" or ");
                    let mut d = self
                        .diag(
                            ARGUMENT_TYPE,
                            a.span,
                            format!(
                                "`{}` expects {wanted} for `{}`, not {}",
                                func.name(),
                                p.name,
                                x.ty
                            ),
                            format!("this is {}", x.ty),
                        )
                        .with_label(name.span, format!("in this call to `{shape}`"));
                    d = match (p.accepts, x.ty) {
                        ([Type::Phone], Type::Text) => {
                            d.with_help("convert the text first with `PHONE(...)`")
                        }
                        _ => d.with_help(format!("pass a {wanted}")),
                    };
                    self.push(d);
                }
            }
            typed.push(x);
        }
        let ty = match sig.returns {
            Returns::Fixed(t) => t,
            Returns::SameAsArg(i) => {
                let t = typed.get(i).map_or(Type::Any, |x| x.ty);
                let other = typed.get(i + 1).map_or(Type::Any, |x| x.ty);
                if t == Type::Null {
                    other
                } else if other != Type::Null
                    && other != Type::Any
                    && t != Type::Any
                    && !t.accepts(other)
                    && !other.accepts(t)
                {
                    let d = self
                        .diag(
                            ARGUMENT_TYPE,
                            args[i + 1].span,
                            format!(
                                "the two results of `{}` differ: {t} and {other}",
                                func.name()
                            ),
                            format!("this is {other}"),
                        )
                        .with_label(args[i].span, format!("this is {t}"))
                        .with_help("give both results the same type");
                    self.push(d);
                    Type::Any
                } else {
                    t
                }
            }
        };
        lit(ty, ir::ExprKind::Call(func, typed))
    }
}
