//! Values from outside: what a person types into a page's field, and the JSON of the
//! API trigger (and of any other front end). One place turns text and JSON into
//! runtime values, with the value rules of `literals`, so a phone number or a date
//! means the same wherever it comes from.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value as Json;

use super::Value;
use crate::ir::InputKind;
use crate::literals::{is_email, parse_phone, parse_time_zone};
use crate::types::Type;

/// Longest value accepted for one field, in bytes.
pub const MAX_FIELD: usize = 4096;

/// The actor's fields that may be given from outside, besides `phone`.
pub const ACTOR_FIELDS: [&str; 4] = ["email", "first_name", "last_name", "time_zone"];

/// Reads one input's field as a person filled it in: `Null` for an empty field, or a
/// message for the person saying what to type. A date and time is read in `zone`, the
/// person's own, or UTC when it is not known.
pub fn from_field(kind: InputKind, raw: Option<&str>, zone: Option<&str>) -> Result<Value, String> {
    let text = raw.unwrap_or("").trim();
    if kind == InputKind::Checkbox {
        return Ok(Value::Boolean(matches!(text, "on" | "true" | "1" | "yes")));
    }
    if text.is_empty() {
        return Ok(Value::Null);
    }
    if text.len() > MAX_FIELD {
        return Err(format!("Please keep this under {MAX_FIELD} characters."));
    }
    match kind {
        InputKind::Text | InputKind::Choice | InputKind::Radio => Ok(Value::Text(text.to_string())),
        InputKind::Phone => parse_phone(text)
            .map(Value::Phone)
            .ok_or_else(|| "Enter a phone number we can text, like (415) 555-0123.".to_string()),
        InputKind::Email => {
            if is_email(text) {
                Ok(Value::Email(text.to_string()))
            } else {
                Err("Enter an email address, like name@example.com.".into())
            }
        }
        InputKind::Number => text
            .replace(',', "")
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Value::Number)
            .ok_or_else(|| "Enter a number, like 12 or 3.5.".to_string()),
        InputKind::Date => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Value::Date)
            .map_err(|_| "Enter a date, like 2026-03-31.".to_string()),
        InputKind::Datetime => {
            let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
                .map_err(|_| "Enter a date and time, like 2026-03-31 14:30.".to_string())?;
            let zone = zone.and_then(parse_time_zone).unwrap_or(chrono_tz::UTC);
            Ok(Value::DateTime(super::time::local_to_utc(
                zone,
                local.date(),
                local.time(),
            )))
        }
        InputKind::Checkbox => unreachable!("handled above"),
    }
}

/// What a field shows for a value the session holds: the text `from_field` reads back
/// as the same value.
pub fn to_field(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        Value::DateTime(t) => t.format("%Y-%m-%dT%H:%M").to_string(),
        Value::Number(n) => super::value::format_number(*n),
        other => other.display(),
    }
}

/// A phone number from outside (an API's `actor.phone`, a webhook's `From`), in E.164.
pub fn phone(text: &str) -> Option<String> {
    parse_phone(text)
}

/// Converts JSON to a value of a variable's type; the message says what was expected.
pub fn from_json(ty: &Type, v: &Json) -> Result<Value, String> {
    Ok(match (ty, v) {
        (_, Json::Null) => Value::Null,
        (Type::Text, Json::String(s)) => Value::Text(s.clone()),
        (Type::Number, Json::Number(n)) => Value::Number(n.as_f64().ok_or("not a finite number")?),
        (Type::Boolean, Json::Bool(b)) => Value::Boolean(*b),
        (Type::Phone, Json::String(s)) => {
            Value::Phone(parse_phone(s).ok_or_else(|| format!("`{s}` is not a phone number"))?)
        }
        (Type::Email, Json::String(s)) if is_email(s) => Value::Email(s.clone()),
        (Type::Date, Json::String(s)) => Value::Date(
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD)"))?,
        ),
        (Type::DateTime, Json::String(s)) => Value::DateTime(
            DateTime::parse_from_rfc3339(s)
                .map_err(|_| format!("`{s}` is not an RFC 3339 date-time"))?
                .with_timezone(&Utc),
        ),
        (Type::Duration, Json::Number(n)) => {
            Value::Duration(n.as_i64().ok_or("a duration is whole seconds")?)
        }
        (Type::List, Json::Array(items)) => Value::List(items.iter().map(by_shape).collect()),
        (Type::Object, Json::Object(_)) => by_shape(v),
        (ty, _) => return Err(format!("expected {ty}")),
    })
}

/// A JSON value as a runtime value, by its own shape.
pub fn by_shape(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) => Value::List(items.iter().map(by_shape).collect()),
        Json::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), by_shape(v)))
                .collect(),
        ),
    }
}

/// Why an actor field from outside was not taken.
#[derive(Debug, PartialEq)]
pub enum ActorFieldError {
    /// The actor has no such field.
    Unknown,
    /// The field exists; the value is not one it can hold.
    Invalid,
}

/// One of the actor's fields (other than `phone`) from JSON: an email address, a name,
/// or an IANA time zone.
pub fn actor_field(field: &str, v: &Json) -> Result<Value, ActorFieldError> {
    if !ACTOR_FIELDS.contains(&field) {
        return Err(ActorFieldError::Unknown);
    }
    match (field, v) {
        (_, Json::Null) => Ok(Value::Null),
        ("email", Json::String(s)) if is_email(s) => Ok(Value::Email(s.clone())),
        ("first_name" | "last_name", Json::String(s)) => Ok(Value::Text(s.clone())),
        ("time_zone", Json::String(s)) if parse_time_zone(s).is_some() => {
            Ok(Value::Text(s.clone()))
        }
        _ => Err(ActorFieldError::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_shown_in_a_field_reads_back_as_itself() {
        let cases = [
            (InputKind::Number, Value::Number(3.5)),
            (InputKind::Number, Value::Number(12.0)),
            (InputKind::Phone, Value::Phone("+14155550123".into())),
            (InputKind::Email, Value::Email("a@example.com".into())),
            (
                InputKind::Date,
                Value::Date(NaiveDate::from_ymd_opt(2026, 3, 31).unwrap()),
            ),
            (InputKind::Text, Value::Text("hello".into())),
        ];
        for (kind, value) in cases {
            let shown = to_field(&value);
            assert_eq!(from_field(kind, Some(&shown), None), Ok(value), "{shown}");
        }
    }

    #[test]
    fn a_local_time_is_read_in_the_persons_zone() {
        let read = |zone| from_field(InputKind::Datetime, Some("2026-07-01T09:00"), zone);
        let utc = |s: &str| Value::DateTime(s.parse::<DateTime<Utc>>().unwrap());
        assert_eq!(read(None), Ok(utc("2026-07-01T09:00:00Z")));
        assert_eq!(
            read(Some("America/New_York")),
            Ok(utc("2026-07-01T13:00:00Z"))
        );
        // A zone that is not one reads as UTC, like no zone.
        assert_eq!(read(Some("Mars/Olympus")), Ok(utc("2026-07-01T09:00:00Z")));
    }

    #[test]
    fn actor_fields_from_json_follow_the_value_rules() {
        let s = |t: &str| Json::String(t.into());
        assert_eq!(
            actor_field("time_zone", &s("Europe/Paris")),
            Ok(Value::Text("Europe/Paris".into()))
        );
        assert_eq!(
            actor_field("time_zone", &s("Paris")),
            Err(ActorFieldError::Invalid)
        );
        assert_eq!(
            actor_field("email", &s("not-an-email")),
            Err(ActorFieldError::Invalid)
        );
        assert_eq!(
            actor_field("nickname", &s("Al")),
            Err(ActorFieldError::Unknown)
        );
        assert_eq!(actor_field("first_name", &Json::Null), Ok(Value::Null));
    }
}
