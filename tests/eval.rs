//! Expression evaluation, as a table: each row is an expression as a user writes it,
//! checked by the real checker, evaluated against a fixed session, and compared with
//! the value it must give. Covers null, types, short-circuits and every function.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use journeyc::ir::{Control, ExprKind};
use journeyc::runtime::{eval, Env, Value};
use journeyc::types::Func;

struct Session;

fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

const VARS: &str = "name: Text, n: Number, nothing: Text, when: DateTime, day: Date, obj: Object, items: List, flag: Boolean, mobile: Phone, wait: Duration";

impl Env for Session {
    fn var(&self, index: usize) -> Value {
        let mut obj = BTreeMap::new();
        obj.insert("a".to_string(), Value::Number(1.0));
        obj.insert(
            "b".to_string(),
            Value::Object(BTreeMap::from([("c".to_string(), Value::Text("x".into()))])),
        );
        match index {
            0 => Value::Text("Ada".into()),
            1 => Value::Number(3.0),
            2 => Value::Null,
            3 => Value::DateTime(instant("2026-03-07T14:00:00Z")),
            4 => Value::Date(date("2026-03-07")),
            5 => Value::Object(obj),
            6 => Value::List(vec![Value::Number(1.0), Value::Text("two".into())]),
            7 => Value::Boolean(true),
            8 => Value::Phone("+14158675309".into()),
            _ => Value::Duration(5_400),
        }
    }
    fn actor(&self, field: &str) -> Value {
        match field {
            "phone" => Value::Phone("+14158675309".into()),
            "first_name" => Value::Text("Ada".into()),
            "time_zone" => Value::Text("America/New_York".into()),
            _ => Value::Null,
        }
    }
    fn session(&self, field: &str) -> Value {
        match field {
            "id" => Value::Text("s1".into()),
            "message" => Value::Text(" yes ".into()),
            _ => Value::Null,
        }
    }
    fn journey_link(&self) -> Value {
        Value::Text("https://example.test/j/tok".into())
    }
    fn now(&self) -> DateTime<Utc> {
        instant("2026-03-07T14:30:00Z")
    }
}

/// Checks `source` as an expression in a journey with the variables in `VARS`, then
/// evaluates it against `Session`.
fn run(source: &str) -> Result<Value, String> {
    let vars: String = VARS.split(", ").map(|v| format!("  var {v}\n")).collect();
    let text = format!("journey T {{\n  trigger api\n{vars}  step S {{\n    page P {{\n      text \"{{{{ {source} }}}}\"\n    }}\n  }}\n}}\n");
    let (_, modules, diags) = journeyc::check_source("t.journey", &text);
    assert!(
        diags.is_empty(),
        "`{source}` does not check: {:?}",
        diags.iter().map(|d| &d.message).collect::<Vec<_>>()
    );
    let Control::Text { text } = &modules[0].1.journeys[0].steps[0].pages[0].controls[0] else {
        unreachable!()
    };
    let ExprKind::Template(parts) = &text.kind else {
        panic!("an interpolation")
    };
    eval(&parts[0], &Session).map_err(|e| e.0)
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn num(n: f64) -> Value {
    Value::Number(n)
}

fn yes(b: bool) -> Value {
    Value::Boolean(b)
}

#[test]
fn literals_variables_and_built_ins() {
    let cases = [
        ("42", num(42.0)),
        ("\"hi\"", text("hi")),
        ("true", yes(true)),
        ("null", Value::Null),
        ("90m", Value::Duration(5_400)),
        ("[1, \"two\"]", Value::List(vec![num(1.0), text("two")])),
        ("name", text("Ada")),
        ("actor.first_name", text("Ada")),
        ("actor.email", Value::Null),
        ("session.id", text("s1")),
        ("journey_link", text("https://example.test/j/tok")),
        ("obj.a", num(1.0)),
        ("obj.b.c", text("x")),
        ("obj.missing", Value::Null),
        ("obj.missing.deeper", Value::Null),
        ("nothing", Value::Null),
    ];
    for (source, expected) in cases {
        assert_eq!(run(source), Ok(expected), "{source}");
    }
}

#[test]
fn null_types_and_equality() {
    let cases = [
        ("nothing = null", yes(true)),
        ("name = null", yes(false)),
        ("nothing != null", yes(false)),
        ("name = \"Ada\"", yes(true)),
        ("name = \"ada\"", yes(false)),
        ("mobile = actor.phone", yes(true)),
        ("mobile = \"+14158675309\"", yes(true)),
        ("n + 1", num(4.0)),
        ("nothing + \"x\"", Value::Null),
        ("n > 2", yes(true)),
        ("nothing > \"a\"", yes(false)),
        ("nothing < \"a\"", yes(false)),
        ("NOT nothing = null", yes(false)),
        ("name + \" Lovelace\"", text("Ada Lovelace")),
        ("\"call \" + mobile", text("call +14158675309")),
        ("7 % 4", num(3.0)),
        ("-n", num(-3.0)),
        ("2 * 30m", Value::Duration(3_600)),
        ("wait / 2", Value::Duration(2_700)),
        (
            "when + 1d",
            Value::DateTime(instant("2026-03-08T14:00:00Z")),
        ),
        (
            "when - 30m",
            Value::DateTime(instant("2026-03-07T13:30:00Z")),
        ),
        ("NOW() - when", Value::Duration(1_800)),
        ("day + 2d", Value::Date(date("2026-03-09"))),
        ("1d + day", Value::Date(date("2026-03-08"))),
        ("day - 1d", Value::Date(date("2026-03-06"))),
        ("when < NOW()", yes(true)),
    ];
    for (source, expected) in cases {
        assert_eq!(run(source), Ok(expected), "{source}");
    }
}

#[test]
fn and_or_short_circuit() {
    assert_eq!(run("false AND 1 / 0 = 1"), Ok(yes(false)));
    assert_eq!(run("true OR 1 / 0 = 1"), Ok(yes(true)));
    assert_eq!(
        run("true AND 1 / 0 = 1"),
        Err("division by zero".to_string())
    );
    assert_eq!(run("flag AND n > 2"), Ok(yes(true)));
    assert_eq!(run("nothing = \"x\" OR flag"), Ok(yes(true)));
    assert_eq!(
        run("IF(flag, \"safe\", FORMAT_DATETIME(when, \"%Q\"))"),
        Ok(text("safe")),
        "IF evaluates only its chosen branch"
    );
}

#[test]
fn every_function() {
    let cases: Vec<(&str, Result<Value, String>)> = vec![
        ("UPPERCASE(name)", Ok(text("ADA"))),
        ("uppercase(name)", Ok(text("ADA"))),
        ("UPPERCASE(nothing)", Ok(Value::Null)),
        ("LOWERCASE(\"HeLLo\")", Ok(text("hello"))),
        ("TRIM(session.message)", Ok(text("yes"))),
        ("UPPERCASE(TRIM(session.message)) = \"YES\"", Ok(yes(true))),
        ("LENGTH(\"héllo\")", Ok(num(5.0))),
        ("LENGTH(items)", Ok(num(2.0))),
        ("LENGTH(nothing)", Ok(Value::Null)),
        ("CONTAINS(\"reply YES please\", \"YES\")", Ok(yes(true))),
        ("CONTAINS(\"reply yes\", \"YES\")", Ok(yes(false))),
        ("CONTAINS(items, \"two\")", Ok(yes(true))),
        ("CONTAINS(items, 2)", Ok(yes(false))),
        ("IF(n > 2, \"big\", \"small\")", Ok(text("big"))),
        ("IF(nothing = \"x\", \"x\", \"not x\")", Ok(text("not x"))),
        ("IF(flag, \"safe\", UPPERCASE(nothing))", Ok(text("safe"))),
        ("ISEMPTY(nothing)", Ok(yes(true))),
        ("ISEMPTY(\"  \")", Ok(yes(true))),
        ("ISEMPTY(items)", Ok(yes(false))),
        ("ISEMPTY(name)", Ok(yes(false))),
        ("ISPHONE(\"(415) 867-5309\")", Ok(yes(true))),
        ("ISPHONE(\"12\")", Ok(yes(false))),
        ("ISEMAIL(\"ada@example.com\")", Ok(yes(true))),
        ("ISEMAIL(\"ada@\")", Ok(yes(false))),
        (
            "PHONE(\"415 867 5309\")",
            Ok(Value::Phone("+14158675309".into())),
        ),
        ("PHONE(\"nope\")", Ok(Value::Null)),
        ("NUMBER(\" 4 \")", Ok(Value::Number(4.0))),
        ("NUMBER(\"1,200.5\")", Ok(Value::Number(1200.5))),
        ("NUMBER(\"five\")", Ok(Value::Null)),
        ("NUMBER(\"inf\")", Ok(Value::Null)),
        ("NUMBER(\"\")", Ok(Value::Null)),
        ("FORMAT_PHONE(mobile)", Ok(text("(415) 867-5309"))),
        (
            "FORMAT_PHONE(PHONE(\"+44 20 7946 0958\"))",
            Ok(text("+44 20 7946 0958")),
        ),
        (
            "NOW()",
            Ok(Value::DateTime(instant("2026-03-07T14:30:00Z"))),
        ),
        ("TODAY()", Ok(Value::Date(date("2026-03-07")))),
        (
            "TODAY(\"Pacific/Kiritimati\")",
            Ok(Value::Date(date("2026-03-08"))),
        ),
        (
            "TODAY(actor.time_zone)",
            Ok(Value::Date(date("2026-03-07"))),
        ),
        ("TODAY(name)", Err("unknown time zone `Ada`".to_string())),
        (
            "ADD_TO_DATETIME(when, 2h)",
            Ok(Value::DateTime(instant("2026-03-07T16:00:00Z"))),
        ),
        (
            "FORMAT_DATETIME(when, \"%Y-%m-%d %H:%M\")",
            Ok(text("2026-03-07 14:00")),
        ),
        (
            "FORMAT_DATETIME(when, \"%H:%M %Z\", actor.time_zone)",
            Ok(text("09:00 EST")),
        ),
        (
            "FORMAT_DATETIME(when, \"%Q\")",
            Err("`%Q` is not a valid date format".to_string()),
        ),
        (
            "TO_DATE(when, \"Asia/Tokyo\")",
            Ok(Value::Date(date("2026-03-07"))),
        ),
        (
            "TO_DATE(NOW() + 10h, \"Asia/Tokyo\")",
            Ok(Value::Date(date("2026-03-08"))),
        ),
        (
            "AT_TIME(day, \"09:00\", \"America/New_York\")",
            Ok(Value::DateTime(instant("2026-03-07T14:00:00Z"))),
        ),
        // The day after: clocks go forward at 02:00, so 09:00 is EDT, an hour earlier in UTC.
        (
            "AT_TIME(day + 1d, \"09:00\", \"America/New_York\")",
            Ok(Value::DateTime(instant("2026-03-08T13:00:00Z"))),
        ),
        (
            "AT_TIME(day + 1d, \"02:30\", \"America/New_York\")",
            Ok(Value::DateTime(instant("2026-03-08T07:30:00Z"))),
        ),
        (
            "AT_TIME(day, \"25:00\", \"UTC\")",
            Err("`25:00` is not a time of day (HH:MM)".to_string()),
        ),
    ];
    let mut covered: Vec<Func> = Vec::new();
    for (source, expected) in cases {
        assert_eq!(run(source), expected, "{source}");
        covered.extend(
            Func::ALL
                .iter()
                .filter(|f| source.to_uppercase().contains(&format!("{}(", f.name()))),
        );
    }
    for f in Func::ALL {
        assert!(covered.contains(&f), "no case for {}", f.name());
    }
}

#[test]
fn templates_show_values_as_text() {
    let cases = [
        (
            "\"Hi {{ name }}, n={{ n }}, half={{ n / 2 }}\"",
            "Hi Ada, n=3, half=1.5",
        ),
        ("\"[{{ nothing }}]\"", "[]"),
        (
            "\"{{ flag }} {{ day }} {{ when }}\"",
            "true 2026-03-07 2026-03-07T14:00:00Z",
        ),
        ("\"{{ wait }} {{ items }}\"", "1h 30m 1, two"),
        ("\"{{ obj.b }}\"", "{\"c\":\"x\"}"),
    ];
    for (source, expected) in cases {
        assert_eq!(run(source), Ok(text(expected)), "{source}");
    }
}

#[test]
fn runtime_errors_name_their_cause() {
    assert_eq!(run("n / 0"), Err("division by zero".to_string()));
    assert_eq!(
        run("n % 0"),
        Err("remainder of a division by zero".to_string())
    );
}
