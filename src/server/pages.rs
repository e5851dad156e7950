//! The web pages of a journey: HTML rendered on the server, readable on a phone and
//! usable without JavaScript, and the server-side validation of what a form sends.
//!
//! Every value reaches the HTML through maud, which escapes by construction; nothing
//! here writes markup from strings.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::check::literals::{is_email, parse_phone};
use crate::ir::{self, Control, InputKind};
use crate::runtime::session::SessionState;
use crate::runtime::{eval, Value};

/// Longest value accepted for one field, in bytes.
pub const MAX_FIELD: usize = 4096;

/// What a person typed into a page's form, by field name, and the messages for the
/// fields that were not accepted.
#[derive(Default)]
pub struct Entered {
    pub values: HashMap<String, String>,
    pub errors: HashMap<String, String>,
}

/// Everything needed to draw a page.
pub struct PageView<'a> {
    pub journey: &'a ir::Journey,
    pub state: &'a SessionState,
    pub step: usize,
    pub page: usize,
    /// Where the form posts to.
    pub action: &'a str,
    pub csrf: &'a str,
    pub entered: Option<&'a Entered>,
    pub now: DateTime<Utc>,
}

const STYLE: &str = "\
*{box-sizing:border-box}\
body{font:17px/1.5 system-ui,-apple-system,sans-serif;margin:0;background:#f5f5f7;color:#1d1d1f}\
main{max-width:32rem;margin:0 auto;padding:1.5rem 1rem}\
h1{font-size:1.6rem;line-height:1.2;margin:.5rem 0 1rem}h2{font-size:1.25rem}\
label{display:block;font-weight:600;margin:1rem 0 .25rem}\
input,select{width:100%;font:inherit;padding:.6rem .7rem;border:1px solid #8e8e93;border-radius:.5rem;background:#fff}\
input[type=checkbox]{width:auto;margin-right:.5rem}\
.check{display:flex;align-items:center;font-weight:600;margin:1rem 0}\
fieldset.radio{border:0;padding:0;margin:0}legend{font-weight:600;margin-top:1rem}\
[aria-invalid=true]{border-color:#c00;border-width:2px}\
.error{color:#c00;margin:.25rem 0 0;font-size:.95rem}\
button{display:block;width:100%;font:inherit;font-weight:600;margin:1.25rem 0 0;padding:.8rem;border:0;border-radius:.6rem;background:#0a58ca;color:#fff}\
button:focus,input:focus,select:focus{outline:3px solid #f0ad4e;outline-offset:1px}\
a{color:#0a58ca}";

/// A whole HTML document around `body`.
pub fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    }
}

/// A page with only a heading and a sentence: not found, expired, errors.
pub fn notice(title: &str, text: &str) -> Markup {
    document(title, html! { h1 { (title) } p { (text) } })
}

/// The form field name of an input: its variable's name.
pub fn field_name(journey: &ir::Journey, input: &ir::Input) -> String {
    journey.vars[input.var].name.clone()
}

fn text_of(expr: &ir::Expr, view: &PageView<'_>) -> String {
    eval(expr, &view.state.env(view.now))
        .map(|v| v.display())
        .unwrap_or_default()
}

/// What to put in a field: what was typed, else the variable's current value.
fn shown_value(view: &PageView<'_>, input: &ir::Input, name: &str) -> String {
    if let Some(entered) = view.entered {
        return entered.values.get(name).cloned().unwrap_or_default();
    }
    match &view.state.vars[input.var] {
        Value::Null => String::new(),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        Value::DateTime(t) => t.format("%Y-%m-%dT%H:%M").to_string(),
        Value::Number(n) => crate::runtime::value::format_number(*n),
        other => other.display(),
    }
}

fn autocomplete(kind: InputKind, name: &str) -> &'static str {
    match kind {
        InputKind::Phone => "tel",
        InputKind::Email => "email",
        _ if name.contains("first_name") => "given-name",
        _ if name.contains("last_name") => "family-name",
        _ if name.contains("name") => "name",
        _ => "off",
    }
}

fn options_of(input: &ir::Input, view: &PageView<'_>) -> Vec<String> {
    let Some(expr) = &input.options else {
        return Vec::new();
    };
    match eval(expr, &view.state.env(view.now)) {
        Ok(Value::List(items)) => items.iter().map(Value::display).collect(),
        _ => Vec::new(),
    }
}

/// Only these schemes become clickable links; anything else is shown as text.
fn safe_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    ["https://", "http://", "tel:", "sms:", "mailto:", "/"]
        .iter()
        .any(|p| lower.starts_with(p))
        && !lower.starts_with("//")
}

fn input_markup(view: &PageView<'_>, index: usize, input: &ir::Input) -> Markup {
    let name = field_name(view.journey, input);
    let id = format!("f{index}");
    let label = text_of(&input.label, view);
    let value = shown_value(view, input, &name);
    let error = view.entered.and_then(|e| e.errors.get(&name));
    let error_id = format!("{id}-error");
    let invalid = error.map(|_| "true");
    let described = error.map(|_| error_id.as_str());
    let (ty, mode) = match input.kind {
        InputKind::Text | InputKind::Choice | InputKind::Checkbox | InputKind::Radio => {
            ("text", None)
        }
        InputKind::Phone => ("tel", Some("tel")),
        InputKind::Email => ("email", Some("email")),
        InputKind::Number => ("text", Some("decimal")),
        InputKind::Date => ("date", None),
        InputKind::Datetime => ("datetime-local", None),
    };
    let error_markup = html! {
        @if let Some(e) = error { p.error id=(error_id) { (e) } }
    };
    match input.kind {
        InputKind::Checkbox => {
            let checked = value == "true" || value == "on";
            html! {
                label.check for=(id) {
                    input type="checkbox" id=(id) name=(name) value="on" checked[checked]
                        aria-invalid=[invalid] aria-describedby=[described];
                    (label)
                }
                (error_markup)
            }
        }
        InputKind::Radio => {
            let options = options_of(input, view);
            // A fieldset whose legend is the label: screen readers say the question
            // with each option.
            html! {
                fieldset.radio aria-invalid=[invalid] aria-describedby=[described] {
                    legend { (label) }
                    @for (i, o) in options.iter().enumerate() {
                        @let option_id = format!("{id}-{i}");
                        label.check for=(option_id) {
                            input type="radio" id=(option_id) name=(name) value=(o)
                                checked[*o == value] required[input.required];
                            (o)
                        }
                    }
                }
                (error_markup)
            }
        }
        InputKind::Choice => {
            let options = options_of(input, view);
            html! {
                label for=(id) { (label) }
                select id=(id) name=(name) required[input.required]
                    aria-invalid=[invalid] aria-describedby=[described] {
                    option value="" { "Choose…" }
                    @for o in &options {
                        option value=(o) selected[*o == value] { (o) }
                    }
                }
                (error_markup)
            }
        }
        _ => html! {
            label for=(id) { (label) }
            input type=(ty) id=(id) name=(name) value=(value) inputmode=[mode]
                autocomplete=(autocomplete(input.kind, &name))
                placeholder=[input.placeholder.as_deref()]
                required[input.required] maxlength=(MAX_FIELD)
                aria-invalid=[invalid] aria-describedby=[described];
            (error_markup)
        },
    }
}

/// The page: its controls inside one form that posts back to the journey link.
pub fn page(view: &PageView<'_>) -> Markup {
    let page = &view.journey.steps[view.step].pages[view.page];
    let first_heading = page
        .controls
        .iter()
        .position(|c| matches!(c, Control::Heading { .. }));
    let title = page
        .controls
        .iter()
        .find_map(|c| match c {
            Control::Heading { text } => Some(text_of(text, view)),
            _ => None,
        })
        .unwrap_or_else(|| view.journey.name.clone());
    let has_form = page
        .controls
        .iter()
        .any(|c| matches!(c, Control::Button { .. } | Control::Input(_)));
    let controls = html! {
        @for (i, control) in page.controls.iter().enumerate() {
            @match control {
                Control::Heading { text } => {
                    @if Some(i) == first_heading { h1 { (text_of(text, view)) } }
                    @else { h2 { (text_of(text, view)) } }
                }
                Control::Text { text } => p { (text_of(text, view)) },
                Control::Link { label, url } => {
                    @let url = text_of(url, view);
                    @if safe_url(&url) {
                        p { a href=(url) rel="noopener noreferrer" { (text_of(label, view)) } }
                    } @else {
                        p { (text_of(label, view)) }
                    }
                }
                Control::Button { label, .. } => {
                    button type="submit" name="_button" value=(i) { (text_of(label, view)) }
                }
                Control::Input(input) => (input_markup(view, i, input)),
            }
        }
    };
    let body = if has_form {
        html! {
            form method="post" action=(view.action) novalidate {
                input type="hidden" name="_csrf" value=(view.csrf);
                input type="hidden" name="_page" value=(format!("{}.{}", view.step, view.page));
                (controls)
            }
        }
    } else {
        controls
    };
    document(&title, body)
}

/// Reads one input's field as a person filled it in. `Ok(None)` is an empty field.
fn read_field(
    kind: InputKind,
    raw: Option<&str>,
    time_zone: Option<&str>,
) -> Result<Value, String> {
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
            // A person types their own local time; without a known zone, UTC.
            let zone: chrono_tz::Tz = time_zone
                .and_then(|z| z.parse().ok())
                .unwrap_or(chrono_tz::UTC);
            Ok(Value::DateTime(crate::runtime::time::local_to_utc(
                zone,
                local.date(),
                local.time(),
            )))
        }
        InputKind::Checkbox => unreachable!("handled above"),
    }
}

/// Validates every input of a page against what the form sent. On success returns
/// the values to store, by variable index; otherwise what was entered, with messages.
pub fn validate(
    journey: &ir::Journey,
    state: &SessionState,
    step: usize,
    page: usize,
    form: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Result<Vec<(usize, Value)>, Entered> {
    let mut entered = Entered::default();
    let mut values = Vec::new();
    let time_zone = match state.actor.get("time_zone") {
        Some(Value::Text(z)) => Some(z.as_str()),
        _ => None,
    };
    let inputs = journey.steps[step].pages[page]
        .controls
        .iter()
        .filter_map(|c| match c {
            Control::Input(i) => Some(i),
            _ => None,
        });
    for input in inputs {
        let name = field_name(journey, input);
        let raw = form.get(&name).map(String::as_str);
        entered.values.insert(
            name.clone(),
            raw.unwrap_or("").chars().take(MAX_FIELD).collect(),
        );
        let value = match read_field(input.kind, raw, time_zone) {
            Ok(v) => v,
            Err(message) => {
                entered.errors.insert(name, message);
                continue;
            }
        };
        if input.required && value.is_empty() {
            entered.errors.insert(name, "This is required.".into());
            continue;
        }
        if input.kind.takes_options() && !value.is_empty() {
            let view_state = state.env(now);
            let allowed = input
                .options
                .as_ref()
                .and_then(|o| eval(o, &view_state).ok())
                .map(|o| match o {
                    Value::List(items) => items.contains(&value),
                    _ => false,
                })
                .unwrap_or(false);
            if !allowed {
                entered
                    .errors
                    .insert(name, "Choose one of the options.".into());
                continue;
            }
        }
        values.push((input.var, value));
    }
    if !entered.errors.is_empty() {
        return Err(entered);
    }
    // Conditions see every value typed on the page, so one field can refer to another.
    let mut trial = state.clone();
    for (var, value) in &values {
        trial.vars[*var] = value.clone();
    }
    for c in &journey.steps[step].pages[page].controls {
        let Control::Input(input) = c else { continue };
        let Some(v) = &input.validate else { continue };
        // An empty optional field is not validated: there is nothing to check.
        if !input.required && trial.vars[input.var].is_empty() {
            continue;
        }
        if !matches!(
            eval(&v.condition, &trial.env(now)),
            Ok(Value::Boolean(true))
        ) {
            entered
                .errors
                .insert(field_name(journey, input), v.message.clone());
        }
    }
    if entered.errors.is_empty() {
        Ok(values)
    } else {
        Err(entered)
    }
}
