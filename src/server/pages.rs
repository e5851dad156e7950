//! The web pages of a journey as HTML: the runtime's render model (`runtime::web`)
//! drawn with maud, readable on a phone and usable without JavaScript.
//!
//! Every value reaches the HTML through maud, which escapes by construction; nothing
//! here writes markup from strings.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::ir::InputKind;
use crate::runtime::input::MAX_FIELD;
use crate::runtime::web::{Field, PageModel, Part};

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

fn input_markup(field: &Field) -> Markup {
    let Field {
        index,
        name,
        kind,
        label,
        value,
        required,
        ..
    } = field;
    let id = format!("f{index}");
    let error_id = format!("{id}-error");
    let invalid = field.error.as_ref().map(|_| "true");
    let described = field.error.as_ref().map(|_| error_id.as_str());
    let (ty, mode) = match kind {
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
        @if let Some(e) = &field.error { p.error id=(error_id) { (e) } }
    };
    match kind {
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
            // A fieldset whose legend is the label: screen readers say the question
            // with each option.
            html! {
                fieldset.radio aria-invalid=[invalid] aria-describedby=[described] {
                    legend { (label) }
                    @for (i, o) in field.options.iter().enumerate() {
                        @let option_id = format!("{id}-{i}");
                        label.check for=(option_id) {
                            input type="radio" id=(option_id) name=(name) value=(o)
                                checked[o == value] required[*required];
                            (o)
                        }
                    }
                }
                (error_markup)
            }
        }
        InputKind::Choice => html! {
            label for=(id) { (label) }
            select id=(id) name=(name) required[*required]
                aria-invalid=[invalid] aria-describedby=[described] {
                option value="" { "Choose…" }
                @for o in &field.options {
                    option value=(o) selected[o == value] { (o) }
                }
            }
            (error_markup)
        },
        _ => html! {
            label for=(id) { (label) }
            input type=(ty) id=(id) name=(name) value=(value) inputmode=[mode]
                autocomplete=(autocomplete(*kind, name))
                placeholder=[field.placeholder.as_deref()]
                required[*required] maxlength=(MAX_FIELD)
                aria-invalid=[invalid] aria-describedby=[described];
            (error_markup)
        },
    }
}

/// The page: its controls inside one form that posts to `action`, with the session's
/// CSRF token and the page it was shown for.
pub fn page(model: &PageModel, action: &str, csrf: &str) -> Markup {
    let controls = html! {
        @for part in &model.parts {
            @match part {
                Part::Heading { text, main: true } => h1 { (text) },
                Part::Heading { text, main: false } => h2 { (text) },
                Part::Text(text) => p { (text) },
                Part::Link { label, url: Some(url) } => {
                    p { a href=(url) rel="noopener noreferrer" { (label) } }
                }
                Part::Link { label, url: None } => p { (label) },
                Part::Button { index, label } => {
                    button type="submit" name="_button" value=(index) { (label) }
                }
                Part::Input(field) => (input_markup(field)),
            }
        }
    };
    let body = if model.form {
        html! {
            form method="post" action=(action) novalidate {
                input type="hidden" name="_csrf" value=(csrf);
                input type="hidden" name="_page" value=(format!("{}.{}", model.step, model.page));
                (controls)
            }
        }
    } else {
        controls
    };
    document(&model.title, body)
}
