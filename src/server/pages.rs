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
.error-summary{border:3px solid #c00;border-radius:.5rem;background:#fff;padding:.75rem 1rem;margin:0 0 1.5rem}\
.error-summary h2{margin:0 0 .5rem;font-size:1.2rem}.error-summary ul{margin:0;padding-left:1.25rem}\
.error-summary a{color:#c00;font-weight:600}\
button{display:block;width:100%;font:inherit;font-weight:600;margin:1.25rem 0 0;padding:.8rem;border:0;border-radius:.6rem;background:#0a58ca;color:#fff}\
:focus-visible{outline:3px solid #1d1d1f;outline-offset:2px}\
input:focus-visible,select:focus-visible{border-color:#1d1d1f}\
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

/// The fields of a page whose values were not accepted: the id each message belongs
/// to (a radio group's first option) and the message.
fn errors(model: &PageModel) -> Vec<(String, &str)> {
    model
        .parts
        .iter()
        .filter_map(|part| match part {
            Part::Input(f) => f.error.as_deref().map(|e| {
                let id = match f.kind {
                    InputKind::Radio => format!("f{}-0", f.index),
                    _ => format!("f{}", f.index),
                };
                (id, e)
            }),
            _ => None,
        })
        .collect()
}

/// GOV.UK's error summary: what needs fixing, at the top of the page, each message a
/// link to its field. `role="alert"` has screen readers say it as the page loads.
fn error_summary(errors: &[(String, &str)]) -> Markup {
    html! {
        div.error-summary role="alert" aria-labelledby="error-summary-title" tabindex="-1" {
            h2 id="error-summary-title" { "There is a problem" }
            ul {
                @for (id, message) in errors {
                    li { a href=(format!("#{id}")) { (message) } }
                }
            }
        }
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
    let errors = errors(model);
    let body = if model.form {
        html! {
            @if !errors.is_empty() { (error_summary(&errors)) }
            form method="post" action=(action) novalidate {
                input type="hidden" name="_csrf" value=(csrf);
                input type="hidden" name="_page" value=(format!("{}.{}", model.step, model.page));
                (controls)
            }
        }
    } else {
        controls
    };
    if errors.is_empty() {
        document(&model.title, body)
    } else {
        document(&format!("Error: {}", model.title), body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The colour of a `#rrggbb` (or `#rgb`) written right after `key` in `rule`.
    fn colour_after(rule: &str, key: &str) -> [u8; 3] {
        let at = rule
            .find(key)
            .unwrap_or_else(|| panic!("no {key} in {rule}"));
        let hex: String = rule[at + key.len()..]
            .split_once('#')
            .unwrap_or_else(|| panic!("no colour after {key} in {rule}"))
            .1
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        let hex = match hex.len() {
            3 => hex.chars().flat_map(|c| [c, c]).collect(),
            6 => hex,
            _ => panic!("{hex:?} is not a colour"),
        };
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
        [byte(0), byte(2), byte(4)]
    }

    /// The declarations of the first rule whose selector is exactly `selector`
    /// (after any comment before it).
    fn rule<'a>(css: &'a str, selector: &str) -> &'a str {
        css.split('}')
            .filter_map(|r| r.split_once('{'))
            .find(|(s, _)| s.rsplit("*/").next().unwrap_or(s).trim() == selector)
            .unwrap_or_else(|| panic!("no rule for {selector}"))
            .1
    }

    /// WCAG 2.2's relative luminance and contrast ratio.
    fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
        let luminance = |c: [u8; 3]| {
            let lin = |v: u8| {
                let v = f64::from(v) / 255.0;
                if v <= 0.04045 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
        };
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    #[test]
    fn contrast_is_computed_as_wcag_says() {
        assert!((contrast([0, 0, 0], [255, 255, 255]) - 21.0).abs() < 1e-9);
        // The old ring, amber on the page: about 1.8:1.
        let old = contrast([0xf0, 0xad, 0x4e], [0xf5, 0xf5, 0xf7]);
        assert!((1.7..1.9).contains(&old), "{old}");
    }

    #[test]
    fn the_focus_ring_has_3_to_1_against_the_page_and_the_fields() {
        let css = STYLE;
        let ring = colour_after(rule(css, ":focus-visible"), "outline:");
        let page = colour_after(rule(css, "body"), "background:");
        let field = colour_after(rule(css, "input,select"), "background:");
        for (what, background) in [("page", page), ("field", field)] {
            let ratio = contrast(ring, background);
            assert!(
                ratio >= 3.0,
                "the focus ring {ring:?} has {ratio:.2}:1 against the {what} {background:?}"
            );
        }
        // The ring is drawn outside the control with a gap (`outline-offset`), so it
        // lies on the page, whatever the control's own colour.
        assert!(rule(css, ":focus-visible").contains("outline-offset:2px"));
    }

    #[test]
    fn the_studio_focus_ring_has_3_to_1_against_everything_it_is_drawn_on() {
        let css = include_str!("studio/studio.css");
        let ring = colour_after(rule(css, ":focus-visible"), "outline:");
        assert!(rule(css, ":focus-visible").contains("outline-offset: 2px"));
        for selector in [
            "body",
            ".panel",
            "#conversation",
            ".bubble",
            "button.session[aria-pressed=\"true\"]",
        ] {
            let background = colour_after(rule(css, selector), "background:");
            let ratio = contrast(ring, background);
            assert!(
                ratio >= 3.0,
                "the focus ring {ring:?} has {ratio:.2}:1 on {selector} {background:?}"
            );
        }
        // A link in a text the phone sent sits on blue: there the ring is white.
        let ring = colour_after(rule(css, ".bubble.out :focus-visible"), "outline-color:");
        let blue = colour_after(rule(css, ".bubble.out"), "background:");
        assert!(contrast(ring, blue) >= 3.0);
    }

    fn field(index: usize, kind: InputKind, error: Option<&str>) -> Field {
        Field {
            index,
            name: format!("v{index}"),
            kind,
            label: format!("Field {index}"),
            placeholder: None,
            required: true,
            value: "<b>typed</b>".into(),
            options: vec!["a".into(), "b".into()],
            error: error.map(str::to_string),
        }
    }

    fn model(fields: Vec<Field>) -> PageModel {
        let mut parts = vec![Part::Heading {
            text: "Where can we text you?".into(),
            main: true,
        }];
        parts.extend(fields.into_iter().map(Part::Input));
        parts.push(Part::Button {
            index: 9,
            label: "Next".into(),
        });
        PageModel {
            step: 0,
            page: 0,
            title: "Where can we text you?".into(),
            form: true,
            parts,
        }
    }

    #[test]
    fn a_page_with_errors_starts_with_a_summary_linking_to_each_field() {
        let html = page(
            &model(vec![
                field(
                    1,
                    InputKind::Phone,
                    Some("Enter a phone number <we> can text."),
                ),
                field(2, InputKind::Text, None),
                field(3, InputKind::Radio, Some("Choose one.")),
            ]),
            "/j/t",
            "c",
        )
        .into_string();
        assert!(
            html.contains("<title>Error: Where can we text you?</title>"),
            "{html}"
        );
        let summary = &html[html.find("class=\"error-summary\"").expect("a summary")..];
        let summary = &summary[..summary.find("</div>").unwrap()];
        assert!(summary.contains("role=\"alert\""), "{summary}");
        assert!(
            summary.contains("<a href=\"#f1\">Enter a phone number &lt;we&gt; can text.</a>"),
            "the message links to the field, escaped: {summary}"
        );
        assert!(
            summary.contains("<a href=\"#f3-0\">Choose one.</a>"),
            "{summary}"
        );
        assert!(!summary.contains("#f2"), "a valid field is not listed");
        // The summary comes before the form, and each link's target exists.
        assert!(html.find("error-summary").unwrap() < html.find("<form").unwrap());
        for id in ["f1", "f3-0"] {
            assert!(html.contains(&format!("id=\"{id}\"")), "no #{id} in {html}");
        }
    }

    #[test]
    fn a_page_without_errors_has_no_summary_and_its_own_title() {
        let html = page(&model(vec![field(1, InputKind::Phone, None)]), "/j/t", "c").into_string();
        assert!(
            html.contains("<title>Where can we text you?</title>"),
            "{html}"
        );
        assert!(!html.contains("class=\"error-summary\""), "{html}");
    }
}
