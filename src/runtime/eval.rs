//! Evaluates typed IR expressions, with the semantics of the domain reference:
//! reading a field of null gives null; values of different types are never equal;
//! `AND` and `OR` short-circuit; null counts as false in a condition.

use std::collections::BTreeMap;
use std::fmt;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;

use super::time::{date_in, local_to_utc};
use super::value::Value;
use crate::ir::{BinOp, Expr, ExprKind, UnOp};
use crate::literals;
use crate::types::Func;

/// What an expression can read: the session's state and the time.
pub trait Env {
    fn var(&self, index: usize) -> Value;
    fn actor(&self, field: &str) -> Value;
    fn session(&self, field: &str) -> Value;
    fn journey_link(&self) -> Value;
    fn now(&self) -> DateTime<Utc>;
}

/// Why an expression could not be evaluated; the action that needed it fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError(pub String);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EvalError {}

fn fail<T>(message: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError(message.into()))
}

pub fn eval(expr: &Expr, env: &dyn Env) -> Result<Value, EvalError> {
    Ok(match &expr.kind {
        ExprKind::Text(s) => Value::Text(s.clone()),
        ExprKind::Number(n) => Value::Number(*n),
        ExprKind::Bool(b) => Value::Boolean(*b),
        ExprKind::Null => Value::Null,
        ExprKind::Phone(p) => Value::Phone(p.clone()),
        ExprKind::Email(e) => Value::Email(e.clone()),
        ExprKind::Duration(secs) => Value::Duration(i64::try_from(*secs).unwrap_or(i64::MAX)),
        ExprKind::List(items) => Value::List(
            items
                .iter()
                .map(|i| eval(i, env))
                .collect::<Result<_, _>>()?,
        ),
        ExprKind::Object(fields) => {
            let mut out = BTreeMap::new();
            for (name, value) in fields {
                out.insert(name.clone(), eval(value, env)?);
            }
            Value::Object(out)
        }
        ExprKind::Var(i) => env.var(*i),
        ExprKind::Actor(field) => env.actor(field),
        ExprKind::Session(field) => env.session(field),
        ExprKind::JourneyLink => env.journey_link(),
        ExprKind::Field(base, name) => match eval(base, env)? {
            Value::Object(mut fields) => fields.remove(name).unwrap_or(Value::Null),
            _ => Value::Null,
        },
        ExprKind::Template(parts) => {
            let mut out = String::new();
            for p in parts {
                out.push_str(&eval(p, env)?.display());
            }
            Value::Text(out)
        }
        ExprKind::Unary(UnOp::Not, x) => Value::Boolean(!eval(x, env)?.is_true()),
        ExprKind::Unary(UnOp::Neg, x) => match eval(x, env)? {
            Value::Number(n) => Value::Number(-n),
            Value::Duration(d) => Value::Duration(d.saturating_neg()),
            _ => Value::Null,
        },
        ExprKind::Binary(BinOp::And, l, r) => {
            Value::Boolean(eval(l, env)?.is_true() && eval(r, env)?.is_true())
        }
        ExprKind::Binary(BinOp::Or, l, r) => {
            Value::Boolean(eval(l, env)?.is_true() || eval(r, env)?.is_true())
        }
        ExprKind::Binary(op, l, r) => binary(*op, eval(l, env)?, eval(r, env)?)?,
        ExprKind::Call(f, args) => {
            // `IF` evaluates only the branch it returns.
            if *f == Func::If {
                let chosen = if eval(&args[0], env)?.is_true() {
                    &args[1]
                } else {
                    &args[2]
                };
                return eval(chosen, env);
            }
            let values = args
                .iter()
                .map(|a| eval(a, env))
                .collect::<Result<Vec<_>, _>>()?;
            call(*f, values, env)?
        }
    })
}

fn binary(op: BinOp, a: Value, b: Value) -> Result<Value, EvalError> {
    use Value::*;
    let value = match (op, a, b) {
        // Values of different types are never equal; null equals only null.
        (BinOp::Eq, a, b) => Boolean(a == b),
        (BinOp::Ne, a, b) => Boolean(a != b),
        (BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge, a, b) => {
            let ordering = match (&a, &b) {
                (Number(x), Number(y)) => x.partial_cmp(y),
                (Text(x), Text(y)) => Some(x.cmp(y)),
                (Date(x), Date(y)) => Some(x.cmp(y)),
                (DateTime(x), DateTime(y)) => Some(x.cmp(y)),
                (Duration(x), Duration(y)) => Some(x.cmp(y)),
                _ => None,
            };
            Boolean(ordering.is_some_and(|o| match op {
                BinOp::Lt => o.is_lt(),
                BinOp::Le => o.is_le(),
                BinOp::Gt => o.is_gt(),
                _ => o.is_ge(),
            }))
        }
        (_, Null, _) | (_, _, Null) => Null,
        (BinOp::Add, Number(x), Number(y)) => Number(x + y),
        (BinOp::Add, a @ (Text(_) | Phone(_) | Email(_)), b @ (Text(_) | Phone(_) | Email(_))) => {
            Text(a.display() + &b.display())
        }
        (BinOp::Add, DateTime(t), Duration(d)) | (BinOp::Add, Duration(d), DateTime(t)) => {
            DateTime(shift(t, d)?)
        }
        (BinOp::Add, Date(t), Duration(d)) | (BinOp::Add, Duration(d), Date(t)) => {
            Date(shift_date(t, d)?)
        }
        (BinOp::Add, Duration(x), Duration(y)) => Duration(x.saturating_add(y)),
        (BinOp::Sub, Number(x), Number(y)) => Number(x - y),
        (BinOp::Sub, DateTime(t), Duration(d)) => DateTime(shift(t, d.saturating_neg())?),
        (BinOp::Sub, Date(t), Duration(d)) => Date(shift_date(t, d.saturating_neg())?),
        (BinOp::Sub, DateTime(x), DateTime(y)) => Duration((x - y).num_seconds()),
        (BinOp::Sub, Duration(x), Duration(y)) => Duration(x.saturating_sub(y)),
        (BinOp::Mul, Number(x), Number(y)) => Number(x * y),
        (BinOp::Mul, Duration(d), Number(n)) | (BinOp::Mul, Number(n), Duration(d)) => {
            Duration(scale(d, n)?)
        }
        (BinOp::Div, _, Number(0.0)) => return fail("division by zero"),
        (BinOp::Div, Number(x), Number(y)) => Number(x / y),
        (BinOp::Div, Duration(d), Number(n)) => Duration(scale(d, 1.0 / n)?),
        (BinOp::Rem, _, Number(0.0)) => return fail("remainder of a division by zero"),
        (BinOp::Rem, Number(x), Number(y)) => Number(x % y),
        (op, a, b) => {
            return fail(format!(
                "`{}` cannot combine {} and {}",
                op.symbol(),
                a.ty(),
                b.ty()
            ))
        }
    };
    // An infinite or undefined number could not be kept: JSON has no such numbers.
    match value {
        Number(n) if !n.is_finite() => fail(format!(
            "`{}` gives a number too large to keep",
            op.symbol()
        )),
        v => Ok(v),
    }
}

fn shift(t: DateTime<Utc>, secs: i64) -> Result<DateTime<Utc>, EvalError> {
    Duration::try_seconds(secs)
        .and_then(|d| t.checked_add_signed(d))
        .map_or_else(|| fail("date out of range"), Ok)
}

/// Dates move by whole days; a part of a day is dropped.
fn shift_date(d: chrono::NaiveDate, secs: i64) -> Result<chrono::NaiveDate, EvalError> {
    Duration::try_days(secs / 86_400)
        .and_then(|days| d.checked_add_signed(days))
        .map_or_else(|| fail("date out of range"), Ok)
}

fn scale(secs: i64, by: f64) -> Result<i64, EvalError> {
    let scaled = (secs as f64 * by).round();
    if scaled.is_finite() && scaled.abs() < 1e15 {
        Ok(scaled as i64)
    } else {
        fail("duration out of range")
    }
}

fn zone(value: Option<&Value>) -> Result<Tz, EvalError> {
    match value {
        None | Some(Value::Null) => Ok(Tz::UTC),
        Some(Value::Text(name)) => literals::parse_time_zone(name)
            .map_or_else(|| fail(format!("unknown time zone `{name}`")), Ok),
        Some(other) => fail(format!("a time zone is a Text, not {}", other.ty())),
    }
}

fn call(f: Func, args: Vec<Value>, env: &dyn Env) -> Result<Value, EvalError> {
    use Value::*;
    let mut args = args.into_iter();
    let a = args.next();
    let b = args.next();
    let c = args.next();
    Ok(match (f, a) {
        (Func::Now, _) => DateTime(env.now()),
        (Func::Today, a) => Date(date_in(zone(a.as_ref())?, env.now())),
        (Func::Isempty, a) => Boolean(a.is_none_or(|v| v.is_empty())),
        // Every other function gives null for a null first argument.
        (_, None | Some(Null)) => Null,
        (Func::Uppercase, Some(v)) => Text(v.display().to_uppercase()),
        (Func::Lowercase, Some(v)) => Text(v.display().to_lowercase()),
        (Func::Trim, Some(v)) => Text(v.display().trim().to_string()),
        (Func::Length, Some(List(items))) => Number(items.len() as f64),
        (Func::Length, Some(v)) => Number(v.display().chars().count() as f64),
        (Func::Contains, Some(List(items))) => {
            Boolean(b.is_some_and(|needle| items.contains(&needle)))
        }
        (Func::Contains, Some(v)) => Boolean(b.is_some_and(|needle| {
            !needle.display().is_empty() && v.display().contains(&needle.display())
        })),
        (Func::Isphone, Some(v)) => Boolean(literals::parse_phone(&v.display()).is_some()),
        (Func::Isemail, Some(v)) => Boolean(literals::is_email(v.display().trim())),
        (Func::Phone, Some(v)) => literals::parse_phone(&v.display()).map_or(Null, Phone),
        // Digits as people type them: spaces around, commas between thousands. `inf`
        // and `NaN`, which Rust would read, are not numbers here.
        (Func::Number, Some(v)) => v
            .display()
            .trim()
            .replace(',', "")
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map_or(Null, Number),
        (Func::FormatPhone, Some(v)) => Text(format_phone(&v.display())),
        (Func::AddToDatetime, Some(t)) => binary(BinOp::Add, t, b.unwrap_or(Null))?,
        (Func::FormatDatetime, Some(DateTime(t))) => {
            let pattern = b.map(|p| p.display()).unwrap_or_default();
            let items: Vec<Item> = StrftimeItems::new(&pattern).collect();
            if items.iter().any(|i| matches!(i, Item::Error)) {
                return fail(format!("`{pattern}` is not a valid date format"));
            }
            Text(
                t.with_timezone(&zone(c.as_ref())?)
                    .format_with_items(items.into_iter())
                    .to_string(),
            )
        }
        (Func::ToDate, Some(DateTime(t))) => Date(date_in(zone(b.as_ref())?, t)),
        (Func::AtTime, Some(Date(d))) => {
            let time = b.map(|t| t.display()).unwrap_or_default();
            let Some(minutes) = literals::parse_clock(&time).filter(|m| *m < 24 * 60) else {
                return fail(format!("`{time}` is not a time of day (HH:MM)"));
            };
            let naive =
                NaiveTime::from_hms_opt(u32::from(minutes / 60), u32::from(minutes % 60), 0)
                    .expect("a valid clock time");
            DateTime(local_to_utc(zone(c.as_ref())?, d, naive))
        }
        (f, Some(v)) => return fail(format!("`{}` cannot take {}", f.name(), v.ty())),
    })
}

/// A phone number as people write it: national form for North American numbers,
/// international form otherwise.
fn format_phone(e164: &str) -> String {
    match phonenumber::parse(None, e164) {
        Ok(n) => {
            let mode = if n.code().value() == 1 {
                phonenumber::Mode::National
            } else {
                phonenumber::Mode::International
            };
            n.format().mode(mode).to_string()
        }
        Err(_) => e164.to_string(),
    }
}
