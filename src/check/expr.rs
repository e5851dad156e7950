//! Expressions: literals, templates, operators and paths, each given a type.

use std::collections::HashMap;

use super::cx::Cx;
use super::scope::Scope;
use crate::diagnostic::*;
use crate::ir;
use crate::literals;
use crate::syntax::ast::{self, ExprKind as E, TemplatePart};
use crate::types::{Type, ACTOR_FIELDS, SESSION_FIELDS};

pub(super) fn lit(ty: Type, kind: ir::ExprKind) -> ir::Expr {
    ir::Expr { ty, kind }
}

pub(super) fn any() -> ir::Expr {
    lit(Type::Any, ir::ExprKind::Null)
}

impl Cx<'_> {
    pub(super) fn template(&mut self, s: &ast::StrLit, scope: &mut Scope) -> ir::Expr {
        if !s.has_interpolation() {
            return lit(Type::Text, ir::ExprKind::Text(s.value.clone()));
        }
        let parts = s
            .parts
            .iter()
            .map(|p| match p {
                TemplatePart::Text(t) => lit(Type::Text, ir::ExprKind::Text(t.clone())),
                TemplatePart::Expr(e) => self.expr(e, None, scope),
            })
            .collect();
        lit(Type::Text, ir::ExprKind::Template(parts))
    }

    /// Checks an expression that must have type `want`; `what` names the place.
    pub(super) fn expr_expect(
        &mut self,
        e: &ast::Expr,
        want: Type,
        scope: &mut Scope,
        code: Code,
        what: &str,
    ) -> ir::Expr {
        let out = self.expr(e, Some(want), scope);
        if !want.accepts(out.ty) {
            let mut d = self.diag(
                code,
                e.span,
                format!("{what} takes {} {want}, not {}", article(want), out.ty),
                format!("this is {}", out.ty),
            );
            d = match (want, out.ty) {
                (Type::Phone, Type::Text) => d.with_help("convert it with `PHONE(...)`, or fill the variable from a `phone` input"),
                (Type::Duration, Type::Number) => d.with_help("add a unit: `30m`, `24h` or `2d`"),
                (Type::Boolean, _) => d.with_help("compare it with something, e.g. `value = \"YES\"`, or use `NOT ISEMPTY(value)`"),
                (Type::DateTime, Type::Duration) => d.with_help("use `after` for a duration, or `at NOW() + ...` for an instant"),
                (Type::Duration, Type::DateTime) => d.with_help("use `at` for an instant"),
                _ => d.with_help(format!("give it {} {want} value", article(want))),
            };
            self.push(d);
        }
        out
    }

    pub(super) fn expr(
        &mut self,
        e: &ast::Expr,
        want: Option<Type>,
        scope: &mut Scope,
    ) -> ir::Expr {
        match &e.kind {
            E::Number(n) => lit(Type::Number, ir::ExprKind::Number(*n)),
            E::Bool(b) => lit(Type::Boolean, ir::ExprKind::Bool(*b)),
            E::Null => lit(Type::Null, ir::ExprKind::Null),
            E::Text(s) => {
                // A constant text where a Phone or Email is wanted is a literal of that type.
                if !s.has_interpolation() {
                    match want {
                        Some(Type::Phone) => {
                            return match self.phone_literal(s, "a phone number") {
                                Some(p) => lit(Type::Phone, ir::ExprKind::Phone(p)),
                                None => any(),
                            }
                        }
                        Some(Type::Email) => {
                            if literals::is_email(&s.value) {
                                return lit(Type::Email, ir::ExprKind::Email(s.value.clone()));
                            }
                            let d = self
                                .diag(
                                    ASSIGN_TYPE,
                                    s.span,
                                    format!("`{}` is not a valid email address", s.value),
                                    "not an email address",
                                )
                                .with_help("write an address such as \"jane@example.com\"");
                            self.push(d);
                            return any();
                        }
                        _ => {}
                    }
                }
                self.template(s, scope)
            }
            E::Duration { value, unit } => match self.duration_literal(*value, unit, e.span) {
                Some(secs) => lit(Type::Duration, ir::ExprKind::Duration(secs)),
                None => lit(Type::Duration, ir::ExprKind::Null),
            },
            E::List(items) => lit(
                Type::List,
                ir::ExprKind::List(items.iter().map(|i| self.expr(i, None, scope)).collect()),
            ),
            E::Object(fields) => {
                let mut seen: HashMap<&str, Span> = HashMap::new();
                let mut out = Vec::new();
                for (name, value) in fields {
                    if let Some(first) = seen.insert(&name.name, name.span) {
                        self.defined_twice("field", name, first);
                    }
                    out.push((name.name.clone(), self.expr(value, None, scope)));
                }
                lit(Type::Object, ir::ExprKind::Object(out))
            }
            E::Path(path) => self.path(path, scope),
            E::Field(base, field) => {
                let base = self.expr(base, None, scope);
                self.field_of(base, field)
            }
            E::Call(name, args) => self.call(name, args, e.span, scope),
            E::Unary(op, x) => {
                let want = if *op == ast::UnOp::Not {
                    Type::Boolean
                } else {
                    Type::Number
                };
                let inner = self.expr(x, Some(want), scope);
                let ok =
                    want.accepts(inner.ty) || (*op == ast::UnOp::Neg && inner.ty == Type::Duration);
                if !ok {
                    let sym = if *op == ast::UnOp::Not { "NOT" } else { "-" };
                    let d = self
                        .diag(
                            TYPE_MISMATCH,
                            e.span,
                            format!("`{sym}` cannot be applied to {}", inner.ty),
                            format!("this is {}", inner.ty),
                        )
                        .with_help(format!("`{sym}` takes a {want}"));
                    self.push(d);
                }
                let ty = if ok { inner.ty } else { Type::Any };
                lit(
                    if ty == Type::Null { want } else { ty },
                    ir::ExprKind::Unary(
                        match op {
                            ast::UnOp::Not => ir::UnOp::Not,
                            ast::UnOp::Neg => ir::UnOp::Neg,
                        },
                        Box::new(inner),
                    ),
                )
            }
            E::Binary(op, l, r) => {
                let left = self.expr(l, None, scope);
                // A text literal compared with a Phone reads as a phone literal (only in a
                // comparison: `"call " + mobile` joins texts).
                let compares = matches!(op, ast::BinOp::Eq | ast::BinOp::Ne);
                let hint = match left.ty {
                    Type::Phone | Type::Email if compares => Some(left.ty),
                    _ => None,
                };
                let right = self.expr(r, hint, scope);
                // And a text literal on the left of a Phone or Email reads the same way.
                let left = match (&left.kind, right.ty) {
                    (ir::ExprKind::Text(_), Type::Phone | Type::Email) if compares => {
                        self.expr(l, Some(right.ty), scope)
                    }
                    _ => left,
                };
                let ty = self.binary(*op, &left, &right, l.span, r.span, e.span);
                lit(
                    ty,
                    ir::ExprKind::Binary(bin_op(*op), Box::new(left), Box::new(right)),
                )
            }
        }
    }

    fn binary(
        &mut self,
        op: ast::BinOp,
        left: &ir::Expr,
        right: &ir::Expr,
        ls: Span,
        rs: Span,
        whole: Span,
    ) -> Type {
        use ast::BinOp::*;
        use Type::*;
        let (a, b) = (left.ty, right.ty);
        if a == Any || b == Any {
            return match op {
                Or | And | Eq | Ne | Lt | Le | Gt | Ge => Boolean,
                _ => Any,
            };
        }
        let result = match op {
            Or | And => {
                (matches!(a, Boolean | Null) && matches!(b, Boolean | Null)).then_some(Boolean)
            }
            Eq | Ne => (a == b || a == Null || b == Null).then_some(Boolean),
            Lt | Le | Gt | Ge => (a == b
                && matches!(a, Number | Text | Date | DateTime | Duration))
            .then_some(Boolean),
            Add => match (a, b) {
                (Number, Number) => Some(Number),
                (Text | Phone | Email, Text | Phone | Email) => Some(Text),
                (DateTime, Duration) | (Duration, DateTime) => Some(DateTime),
                (Duration, Date) => Some(Date),
                (Date, Duration) => Some(Date),
                (Duration, Duration) => Some(Duration),
                _ => None,
            },
            Sub => match (a, b) {
                (Number, Number) => Some(Number),
                (DateTime, Duration) => Some(DateTime),
                (Date, Duration) => Some(Date),
                (DateTime, DateTime) | (Duration, Duration) => Some(Duration),
                _ => None,
            },
            Mul => match (a, b) {
                (Number, Number) => Some(Number),
                (Duration, Number) | (Number, Duration) => Some(Duration),
                _ => None,
            },
            Div => match (a, b) {
                (Number, Number) => Some(Number),
                (Duration, Number) => Some(Duration),
                _ => None,
            },
            Rem => (a == Number && b == Number).then_some(Number),
        };
        if let Some(t) = result {
            return t;
        }
        // One spelling of each operator: the IR's.
        let sym = bin_op(op).symbol();
        let (message, help) = match op {
            Eq | Ne => (
                format!(
                    "comparing {a} with {b} is always {}",
                    if op == Eq { "false" } else { "true" }
                ),
                match (a, b) {
                    (Phone, Text) | (Text, Phone) => {
                        "convert the text with `PHONE(...)`, or write the number as a literal"
                            .to_string()
                    }
                    _ => "values of different types are never equal: compare values of one type"
                        .to_string(),
                },
            ),
            Or | And => (
                format!("`{sym}` needs Booleans, not {a} and {b}"),
                "compare the values first, e.g. `answer = \"YES\"`".to_string(),
            ),
            _ => (
                format!("`{sym}` cannot combine {a} and {b}"),
                format!("`{sym}` works on {}", op_domain(op)),
            ),
        };
        let d = self
            .diag(TYPE_MISMATCH, whole, message, format!("{a} {sym} {b}"))
            .with_label(ls, format!("this is {a}"))
            .with_label(rs, format!("this is {b}"))
            .with_help(help);
        self.push(d);
        Any
    }

    fn path(&mut self, path: &[ast::Ident], scope: &mut Scope) -> ir::Expr {
        let head = &path[0];
        let (mut base, rest) = match head.name.as_str() {
            "actor" | "session" => {
                let (fields, of) = if head.name == "actor" {
                    (ACTOR_FIELDS, "actor")
                } else {
                    (SESSION_FIELDS, "session")
                };
                let Some(field) = path.get(1) else {
                    let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
                    let d = self
                        .diag(
                            UNKNOWN_FIELD,
                            head.span,
                            format!("`{of}` is not a value by itself"),
                            "use one of its fields",
                        )
                        .with_help(format!(
                            "write `{of}.{}`; its fields are {}",
                            names[0],
                            names.join(", ")
                        ));
                    self.push(d);
                    return any();
                };
                match fields.iter().find(|(n, _)| *n == field.name) {
                    Some((n, t)) => {
                        let kind = if of == "actor" {
                            ir::ExprKind::Actor(n.to_string())
                        } else {
                            ir::ExprKind::Session(n.to_string())
                        };
                        (lit(*t, kind), &path[2..])
                    }
                    None => {
                        self.unknown_field(of, field, fields);
                        return any();
                    }
                }
            }
            "journey_link" => {
                scope.journey_link_used.get_or_insert(head.span);
                (lit(Type::Text, ir::ExprKind::JourneyLink), &path[1..])
            }
            _ => match scope.var_index.get(&head.name) {
                Some(&i) => (lit(scope.vars[i].1, ir::ExprKind::Var(i)), &path[1..]),
                None => {
                    self.unknown_variable(head, scope, None);
                    return any();
                }
            },
        };
        for field in rest {
            base = self.field_of(base, field);
        }
        base
    }

    pub(super) fn field_of(&mut self, base: ir::Expr, field: &ast::Ident) -> ir::Expr {
        if !matches!(base.ty, Type::Object | Type::Any | Type::Null) {
            let d = self
                .diag(
                    UNKNOWN_FIELD,
                    field.span,
                    format!("a {} has no fields", base.ty),
                    format!("`.{}` on a {}", field.name, base.ty),
                )
                .with_help("only Object values have fields");
            self.push(d);
            return any();
        }
        lit(
            Type::Any,
            ir::ExprKind::Field(Box::new(base), field.name.clone()),
        )
    }
}

fn article(t: Type) -> &'static str {
    if matches!(t, Type::Email | Type::Object | Type::Any) {
        "an"
    } else {
        "a"
    }
}

/// The IR's twin of a syntax operator.
fn bin_op(op: ast::BinOp) -> ir::BinOp {
    use ast::BinOp as A;
    use ir::BinOp as I;
    match op {
        A::Or => I::Or,
        A::And => I::And,
        A::Eq => I::Eq,
        A::Ne => I::Ne,
        A::Lt => I::Lt,
        A::Le => I::Le,
        A::Gt => I::Gt,
        A::Ge => I::Ge,
        A::Add => I::Add,
        A::Sub => I::Sub,
        A::Mul => I::Mul,
        A::Div => I::Div,
        A::Rem => I::Rem,
    }
}

fn op_domain(op: ast::BinOp) -> &'static str {
    use ast::BinOp::*;
    match op {
        Add => "Numbers, Texts (joining them), and a DateTime or Date with a Duration",
        Sub => "Numbers, and DateTimes, Dates and Durations",
        Mul | Div => "Numbers, and a Duration with a Number",
        Rem => "Numbers",
        Lt | Le | Gt | Ge => "two Numbers, Texts, Dates, DateTimes or Durations",
        _ => "Booleans",
    }
}
