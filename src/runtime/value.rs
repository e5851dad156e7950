//! Runtime values, one per type of the expression language.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::types::Type;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value")]
pub enum Value {
    Null,
    Text(String),
    Number(f64),
    Boolean(bool),
    /// E.164.
    Phone(String),
    Email(String),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    /// Seconds; negative when an earlier instant is subtracted from a later one.
    Duration(i64),
    List(Vec<Value>),
    Object(BTreeMap<String, Value>),
}

impl Value {
    pub fn ty(&self) -> Type {
        match self {
            Value::Null => Type::Null,
            Value::Text(_) => Type::Text,
            Value::Number(_) => Type::Number,
            Value::Boolean(_) => Type::Boolean,
            Value::Phone(_) => Type::Phone,
            Value::Email(_) => Type::Email,
            Value::Date(_) => Type::Date,
            Value::DateTime(_) => Type::DateTime,
            Value::Duration(_) => Type::Duration,
            Value::List(_) => Type::List,
            Value::Object(_) => Type::Object,
        }
    }

    /// Truth in a condition: only `true` is true; `null` counts as false.
    pub fn is_true(&self) -> bool {
        matches!(self, Value::Boolean(true))
    }

    /// Empty in the sense of `ISEMPTY`: null, empty text, an empty list or object.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Text(s) | Value::Phone(s) | Value::Email(s) => s.trim().is_empty(),
            Value::List(l) => l.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        }
    }

    /// The text a value shows as inside `{{ }}`: null shows as nothing.
    pub fn display(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Text(s) | Value::Phone(s) | Value::Email(s) => s.clone(),
            Value::Number(n) => format_number(*n),
            Value::Boolean(b) => b.to_string(),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::DateTime(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            Value::Duration(secs) => format_duration(*secs),
            Value::List(items) => items
                .iter()
                .map(Value::display)
                .collect::<Vec<_>>()
                .join(", "),
            Value::Object(_) => serde_json::to_string(&self.to_json()).unwrap_or_default(),
        }
    }

    /// Plain JSON, as an API caller would write it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Number(n) => serde_json::Number::from_f64(*n)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Boolean(b) => serde_json::Value::Bool(*b),
            Value::Duration(secs) => serde_json::Value::from(*secs),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Object(o) => {
                serde_json::Value::Object(o.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            other => serde_json::Value::String(other.display()),
        }
    }
}

/// Whole numbers print without a fraction: `3`, not `3.0`.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// `1d 2h 5m`, largest units first; seconds only when there are some.
pub fn format_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    if secs < 0 {
        out.push('-');
    }
    let mut rest = secs.unsigned_abs();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= size {
            if out.len() > usize::from(secs < 0) {
                out.push(' ');
            }
            let _ = write!(out, "{}{unit}", rest / size);
            rest %= size;
        }
    }
    out
}
