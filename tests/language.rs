//! The rules of docs/language.md sections 10 to 14 (steps, pages and controls, actions,
//! timers, navigation) that no other test holds to, one test per rule: run through the
//! engine on a manual clock and a real SQLite file, through the real server when the
//! rule is about pages, or through the checker when it is one of the checker's.

mod support;

use chrono::Duration;
use journeyc::ir;
use journeyc::runtime::clock::{Clock, ManualClock};
use journeyc::runtime::engine::{Engine, Start};
use journeyc::runtime::session::{SessionState, Status};
use journeyc::runtime::Value;
use support::engine::*;
use support::{serve_source, start, FakeTwilio, Page};

/// Our Twilio number, which every journey here texts from and is texted and called on.
const OURS: &str = "+15005550006";

/// Wednesday 4 March 2026, 10:00 in New York.
fn clock() -> ManualClock {
    ManualClock::new(at("2026-03-04T15:00:00Z"))
}

/// The diagnostic codes of a source, in the order the checker gives them.
fn codes(source: &str) -> Vec<&'static str> {
    let (_, _, diags) = journeyc::check_source("rule.journey", source);
    diags.iter().map(|d| d.code.id).collect()
}

/// The ```journey example in section `section` of docs/language.md that defines
/// `journey {name}`.
fn doc_example(section: u32, name: &str) -> String {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/language.md")).unwrap();
    let heading = format!("\n## {section}. ");
    let start = doc.find(&heading).expect("the section") + heading.len();
    let end = doc[start..].find("\n## ").map_or(doc.len(), |i| start + i);
    doc[start..end]
        .split("```journey\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap())
        .find(|block| block.contains(&format!("journey {name} {{")))
        .unwrap_or_else(|| panic!("section {section} of docs/language.md has no `journey {name}`"))
        .to_string()
}

fn state(e: &Engine, id: &str) -> SessionState {
    e.store().session(id).unwrap().unwrap()
}

/// The session's journey, in the version it runs.
fn journey_of(e: &Engine, id: &str) -> ir::Journey {
    e.journey_of(&state(e, id)).unwrap().clone()
}

fn var(j: &ir::Journey, name: &str) -> usize {
    j.vars
        .iter()
        .position(|v| v.name == name)
        .unwrap_or_else(|| panic!("no variable `{name}`"))
}

/// The value of the session's variable `name`.
fn value(e: &Engine, id: &str, name: &str) -> Value {
    let j = journey_of(e, id);
    state(e, id).vars[var(&j, name)].clone()
}

fn trace(e: &Engine, id: &str) -> String {
    text_var(&state(e, id), &journey_of(e, id), "trace")
}

fn step_name(e: &Engine, id: &str) -> String {
    journey_of(e, id).steps[state(e, id).step].name.clone()
}

/// A session of the engine's only journey, started by its starting link.
fn by_link(e: &Engine, id: &str) {
    let name = e.journeys()[0].name.clone();
    e.start(
        &name,
        Start::Link,
        id.into(),
        id.as_bytes(),
        Some(LINK.into()),
    )
    .unwrap();
}

/// A session of the engine's only journey, started by its API trigger for `phone`.
fn by_api(e: &Engine, id: &str, phone: &str) {
    let name = e.journeys()[0].name.clone();
    let api = Start::Api {
        phone: phone.into(),
        actor: vec![],
        vars: vec![],
    };
    e.start(&name, api, id.into(), id.as_bytes(), Some(LINK.into()))
        .unwrap();
}

/// Presses the button `label` on the page the session is on, with what its inputs were
/// given (by variable name), as a person submitting the page's form would.
fn press(e: &Engine, id: &str, label: &str, inputs: &[(&str, Value)]) {
    let s = state(e, id);
    let j = journey_of(e, id);
    let (step, page) = (s.step, s.page.unwrap_or(0));
    let on = &j.steps[step].pages[page];
    let actions = on
        .controls
        .iter()
        .find_map(|c| match c {
            ir::Control::Button { label: l, actions }
                if matches!(&l.kind, ir::ExprKind::Text(t) if t == label) =>
            {
                Some(actions.clone())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no button `{label}` on page `{}`", on.name));
    let inputs: Vec<(usize, Value)> = inputs
        .iter()
        .map(|(name, v)| (var(&j, name), v.clone()))
        .collect();
    e.press_queued(id, Some((step, page)), &inputs, &actions)
        .unwrap()
        .wait()
        .unwrap();
}

/// The bodies of the texts a session queued, in order, whatever became of them.
fn texts_of(e: &Engine, id: &str) -> Vec<String> {
    e.store()
        .outbox(Some(id))
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect()
}

fn phone(p: &str) -> Value {
    Value::Phone(p.into())
}

// ---------------------------------------------------------------- 10. Steps

const STARTS: &str = r#"
journey Starts {
  sms from "+15005550006"
  trigger link "starts"
  trigger api
  trigger sms to "+15005550006"
  trigger call to "+15005550006" {
    say "Hello"
  }
  trigger schedule "0 0 9 * * *" in "UTC" {
    set ran = true
  }
  var ran: Boolean = false

  step Zeta {
    page Welcome {
      heading "Welcome"
      button "On" {
        go to step Alpha
      }
    }
  }

  step Alpha {
    page Later {
      heading "Later"
    }
  }
}
"#;

/// The id of the session the schedule trigger of `STARTS` starts at 09:00 UTC on 5 March.
fn schedule_session(e: &Engine) -> String {
    let j = &e.journeys()[0];
    let index = j
        .triggers
        .iter()
        .position(|t| matches!(t, ir::Trigger::Schedule { .. }))
        .unwrap();
    format!(
        "{}-schedule-{index}-{}",
        j.name,
        at("2026-03-05T09:00:00Z").timestamp()
    )
}

#[test]
fn every_trigger_starts_its_session_in_the_first_step_written_on_its_first_page() {
    // language.md §10, §14: every session starts in the first step written, on its first page.
    let clock = clock();
    let e = engine(STARTS, &temp_db("lang-starts"), &clock);
    by_link(&e, "link");
    by_api(&e, "api", "+14155550101");
    e.inbound_sms(OURS, "+14155550102", "hi", new_id("sms"))
        .unwrap();
    e.inbound_call(OURS, Some("+14155550103"), new_id("call"))
        .unwrap();
    e.advance(&clock, Duration::hours(20)).unwrap();
    let scheduled = schedule_session(&e);
    for id in ["link", "api", "sms", "call", scheduled.as_str()] {
        let s = state(&e, id);
        assert_eq!(
            (step_name(&e, id), s.page.unwrap_or(0)),
            ("Zeta".to_string(), 0),
            "{id}"
        );
        assert_eq!(page_name(&e, id), "Welcome", "{id}");
    }
    assert_eq!(value(&e, &scheduled, "ran"), Value::Boolean(true));
}

const ENTER_ORDER: &str = r#"
journey Order {
  sms from "+15005550006"
  trigger sms to "+15005550006" {
    set trace = trace + "t"
  }
  trigger call to "+15005550006" {
    set trace = trace + "t"
    say "Hello"
  }
  trigger schedule "0 0 9 * * *" in "UTC" {
    set trace = trace + "t"
  }
  var trace: Text = ""

  on session started {
    set trace = trace + "s"
  }

  step One {
    on enter {
      set trace = trace + "e"
    }
    page P {
      heading "P"
    }
  }
}
"#;

#[test]
fn step_1s_on_enter_runs_after_session_started_and_the_trigger_for_texts_calls_and_schedules() {
    // language.md §10: step 1's `on enter` runs after `on session started` and the trigger.
    // (Links and the API: tests/engine.rs.)
    let clock = clock();
    let e = engine(ENTER_ORDER, &temp_db("lang-enter-order"), &clock);
    e.inbound_sms(OURS, "+14155550111", "hi", new_id("sms"))
        .unwrap();
    e.inbound_call(OURS, Some("+14155550112"), new_id("call"))
        .unwrap();
    e.advance(&clock, Duration::hours(20)).unwrap();
    let j = &e.journeys()[0];
    let scheduled = format!(
        "Order-schedule-2-{}",
        at("2026-03-05T09:00:00Z").timestamp()
    );
    assert!(matches!(j.triggers[2], ir::Trigger::Schedule { .. }));
    for id in ["sms", "call", scheduled.as_str()] {
        assert_eq!(trace(&e, id), "ste", "{id}");
    }
}

const VISITS: &str = r#"
journey Visits {
  trigger link "visits"
  var ones: Number = 0
  var twos: Number = 0

  step One {
    on enter {
      set ones = ones + 1
    }
    page Home {
      heading "Home"
      button "Away" {
        go to step Two
      }
    }
  }

  step Two {
    on enter {
      set twos = twos + 1
    }
    page There {
      heading "There"
      button "Back" {
        go to step One
      }
    }
  }
}
"#;

#[test]
fn on_enter_runs_each_time_the_session_arrives_at_its_step() {
    // language.md §10: `on enter` runs each time the session arrives at the step.
    let clock = clock();
    let e = engine(VISITS, &temp_db("lang-visits"), &clock);
    by_link(&e, "v");
    press(&e, "v", "Away", &[]);
    press(&e, "v", "Back", &[]);
    press(&e, "v", "Away", &[]);
    assert_eq!(
        value(&e, "v", "ones"),
        Value::Number(2.0),
        "at start, then back"
    );
    assert_eq!(value(&e, "v", "twos"), Value::Number(2.0));
    assert_eq!(step_name(&e, "v"), "Two");
}

const TWO_ON_ENTERS: &str = r#"
journey Blocks {
  trigger link "blocks"
  var trace: Text = ""

  step One {
    on enter {
      set trace = trace + "a"
    }
    on enter {
      set trace = trace + "b"
    }
    page First {
      heading "First"
      button "On" {
        go to step Two
      }
    }
  }

  step Two {
    on enter {
      set trace = trace + "c"
    }
    on enter {
      set trace = trace + "d"
    }
    on enter {
      set trace = trace + "e"
    }
    page Second {
      heading "Second"
    }
  }
}
"#;

#[test]
fn several_on_enter_blocks_run_in_the_order_written() {
    // language.md §10: several `on enter` blocks run in the order written.
    let clock = clock();
    let e = engine(TWO_ON_ENTERS, &temp_db("lang-on-enters"), &clock);
    by_link(&e, "b");
    assert_eq!(trace(&e, "b"), "ab");
    press(&e, "b", "On", &[]);
    assert_eq!(trace(&e, "b"), "abcde");
}

#[test]
fn a_step_without_pages_runs_its_on_enter_as_in_the_two_steps_example() {
    // language.md §10: a step other than step 1 may have no pages (the TwoSteps example).
    let source = doc_example(10, "TwoSteps");
    assert_eq!(codes(&source), Vec::<&str>::new());
    let clock = clock();
    let e = engine(&source, &temp_db("lang-two-steps"), &clock);
    e.inbound_sms(OURS, "+14155550121", "hi", new_id("t"))
        .unwrap();
    press(&e, "t", "Send", &[("rating", Value::Number(4.0))]);
    let s = state(&e, "t");
    assert_eq!((step_name(&e, "t"), s.page), ("Done".to_string(), None));
    assert_eq!(texts_of(&e, "t"), ["Thanks for rating us 4 out of 5."]);
    assert_eq!(s.status, Status::Ended);
}

const LAST_PAGE: &str = r#"
journey Stay {
  trigger link "stay"
  var entered: Boolean = false
  var pressed: Number = 0

  step One {
    page First {
      heading "First"
      button "Next" {
        set pressed = pressed + 1
      }
    }
    page Last {
      heading "Last"
      button "Done" {
        set pressed = pressed + 1
      }
    }
  }

  step Two {
    on enter {
      set entered = true
    }
    page Second {
      heading "Second"
    }
  }
}
"#;

#[test]
fn finishing_the_last_page_of_a_step_does_not_move_on_to_the_next_step() {
    // language.md §10, §14: steps change only by `go to step`, not by finishing the last page.
    let clock = clock();
    let e = engine(LAST_PAGE, &temp_db("lang-last-page"), &clock);
    by_link(&e, "s");
    press(&e, "s", "Next", &[]);
    assert_eq!(page_name(&e, "s"), "Last");
    press(&e, "s", "Done", &[]);
    press(&e, "s", "Done", &[]);
    assert_eq!(value(&e, "s", "pressed"), Value::Number(3.0));
    assert_eq!(
        (step_name(&e, "s"), page_name(&e, "s")),
        ("One".to_string(), "Last".to_string())
    );
    assert_eq!(value(&e, "s", "entered"), Value::Boolean(false));
}

const LEAVING: &str = r#"
journey Leaving {
  sms from "+15005550006"
  trigger api

  step One {
    page Ask {
      heading "Ask"
      button "Remind me" {
        start timer "nudge" after 1h {
          send sms Nudge
        }
      }
    }
    page Wait {
      heading "Wait"
      button "Go on" {
        go to step Two
      }
    }
  }

  step Two {
    on enter {
      start timer "later" after 2h {
        send sms Later
      }
    }
    page Done {
      heading "Done"
    }
  }

  notification Nudge sms {
    text "nudge"
  }
  notification Later sms {
    text "later"
  }
}
"#;

#[test]
fn moving_on_to_a_later_step_cancels_the_reminders_set_in_earlier_steps() {
    // language.md §10: moving on to a later step cancels the reminders set in earlier steps.
    let clock = clock();
    let e = engine(LEAVING, &temp_db("lang-leaving"), &clock);
    by_api(&e, "moves", "+14155550131");
    by_api(&e, "stays", "+14155550132");
    for id in ["moves", "stays"] {
        press(&e, id, "Remind me", &[]);
    }
    press(&e, "moves", "Go on", &[]);
    assert_eq!(step_name(&e, "moves"), "Two");
    e.advance(&clock, Duration::hours(3)).unwrap();
    assert_eq!(
        texts_of(&e, "moves"),
        ["later"],
        "step One's reminder is gone"
    );
    assert_eq!(
        texts_of(&e, "stays"),
        ["nudge"],
        "it fires where it was set"
    );
}

// ---------------------------------------------------------------- 11. Pages and controls

const CONTROLS: &str = r#"
journey Controls {
  trigger link "controls"
  var name: Text = "Ada"
  var count: Number = 3
  var note: Text

  step One {
    page Show {
      text "Before the heading"
      heading "Hello {{ name }}"
      link "Read our terms" to "https://example.com/terms"
      input note: text "A note" placeholder "Jane Doe"
      text "You have {{ count }} items"
      heading "Second heading"
      button "Next" {
        go to page Done
      }
    }
    page Done {
      heading "Done"
    }
  }
}
"#;

/// Serves `source` (its starting link `slug`) and opens a new session's first page.
async fn first_page(source: &str, slug: &str, dir: &str) -> (support::Server, String, Page) {
    let twilio = FakeTwilio::start().await;
    let server = serve_source(source, dir, &twilio, true);
    let link = start(&server, slug).await;
    let page = Page::open(&link).await;
    assert_eq!(page.status, 200, "{}", page.html);
    (server, link, page)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pages_controls_are_shown_from_top_to_bottom() {
    // language.md §11: a page holds controls, shown from top to bottom.
    let (_server, _, page) = first_page(CONTROLS, "controls", "lang-controls-order").await;
    // The body only: the first heading is the document's title too.
    let body = &page.html[page.html.find("<main>").expect("a main")..];
    let positions: Vec<usize> = [
        "Before the heading",
        "Hello Ada",
        "Read our terms",
        "A note",
        "You have 3 items",
        "Second heading",
        ">Next<",
    ]
    .iter()
    .map(|t| {
        body.find(t)
            .unwrap_or_else(|| panic!("`{t}` not shown: {body}"))
    })
    .collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headings_and_texts_show_their_interpolated_values() {
    // language.md §11: heading and text allow `{{ }}`.
    let (_server, _, page) = first_page(CONTROLS, "controls", "lang-controls-text").await;
    assert_eq!(page.h1(), "Hello Ada");
    assert!(
        page.html.contains("<h2>Second heading</h2>"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("<p>You have 3 items</p>"),
        "{}",
        page.html
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_control_links_to_its_web_address() {
    // language.md §11: `link "Label" to URL` is a link to a web address.
    let (_server, _, page) = first_page(CONTROLS, "controls", "lang-controls-link").await;
    assert!(
        page.html.contains(
            r#"<a href="https://example.com/terms" rel="noopener noreferrer">Read our terms</a>"#
        ),
        "{}",
        page.html
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placeholder_is_shown_in_the_empty_field() {
    // language.md §11: a placeholder is example text shown in an empty field.
    let (_server, _, page) = first_page(CONTROLS, "controls", "lang-placeholder").await;
    assert!(
        page.html.contains(r#"name="note" value="" "#)
            && page.html.contains(r#"placeholder="Jane Doe""#),
        "{}",
        page.html
    );
}

const REQUIRED: &str = r#"
journey Required {
  trigger link "required"
  var full_name: Text
  var presses: Number = 0

  step One {
    page Ask {
      heading "Your name"
      input full_name: text "Your name" required
      button "Next" {
        set presses = presses + 1
        go to page Done
      }
    }
    page Done {
      heading "Thanks, {{ full_name }} ({{ presses }})"
    }
  }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_input_must_be_filled_in() {
    // language.md §11: `required`: the person must fill it in.
    let (_server, link, page) = first_page(REQUIRED, "required", "lang-required").await;
    for empty in ["", "   "] {
        let (status, _, html) = page.submit(&[("full_name", empty)]).await;
        assert_eq!(status, 422, "{empty:?}: {html}");
        assert!(html.contains("This is required."), "{html}");
    }
    assert_eq!(
        Page::open(&link).await.h1(),
        "Your name",
        "still on the page"
    );
    let (status, _, _) = page.submit(&[("full_name", "Ada")]).await;
    assert_eq!(status, 303);
    assert_eq!(
        Page::open(&link).await.h1(),
        "Thanks, Ada (1)",
        "the button ran once"
    );
}

const AGREE: &str = r#"
journey Agree {
  trigger link "agree"
  var agree: Boolean = false

  step One {
    page Ask {
      heading "Terms"
      input agree: checkbox "I agree to be texted about my booking" required
      button "Book" {
        go to page Done
      }
    }
    page Done {
      heading "Booked"
    }
  }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_checkbox_must_be_ticked() {
    // language.md §11: `required`: the person must fill it in (SignUp's `agree` checkbox).
    let (_server, link, page) = first_page(AGREE, "agree", "lang-required-checkbox").await;
    let (status, _, html) = page.submit(&[]).await;
    assert_eq!(status, 422, "{html}");
    assert_eq!(Page::open(&link).await.h1(), "Terms");
    let (status, _, _) = page.submit(&[("agree", "on")]).await;
    assert_eq!(status, 303);
    assert_eq!(Page::open(&link).await.h1(), "Booked");
}

const VALIDATE: &str = r#"
journey Party {
  trigger link "party"
  var party_size: Number = 50

  step One {
    page Ask {
      heading "How many?"
      input party_size: number "How many people?" required validate party_size >= 1 AND party_size <= 12 else "We seat 1 to 12 people"
      button "Book" {
        go to page Done
      }
    }
    page Done {
      heading "A table for {{ party_size }}"
    }
  }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validated_input_is_accepted_only_when_its_condition_holds_for_the_value_typed() {
    // language.md §11: `validate` accepts a value typed only when true, else shows the message.
    let (_server, link, page) = first_page(VALIDATE, "party", "lang-validate").await;
    // The variable holds 50 before: only the value typed can pass.
    let (status, _, html) = page.submit(&[("party_size", "20")]).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("We seat 1 to 12 people"), "{html}");
    assert_eq!(Page::open(&link).await.h1(), "How many?");
    let (status, _, html) = page.submit(&[("party_size", "4")]).await;
    assert_eq!(status, 303, "{html}");
    assert_eq!(Page::open(&link).await.h1(), "A table for 4");
}

const CHOICE: &str = r#"
journey Seating {
  trigger link "seating"
  var seating: Text

  step One {
    page Ask {
      heading "Seating"
      input seating: choice "Where would you like to sit?" options ["Inside", "Terrace"]
      button "Next" {
        go to page Done
      }
    }
    page Done {
      heading "Sitting: {{ seating }}"
    }
  }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_choice_input_is_picked_from_a_list_of_its_options() {
    // language.md §11: a `choice` input is one of its options, picked from a list.
    let (_server, link, page) = first_page(CHOICE, "seating", "lang-choice").await;
    assert!(page.html.contains("<select"), "{}", page.html);
    for option in ["Inside", "Terrace"] {
        assert!(
            page.html
                .contains(&format!(r#"<option value="{option}">{option}</option>"#)),
            "{}",
            page.html
        );
    }
    let (status, _, html) = page.submit(&[("seating", "Roof")]).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("Choose one of the options."), "{html}");
    let (status, _, _) = page.submit(&[("seating", "Terrace")]).await;
    assert_eq!(status, 303);
    assert_eq!(Page::open(&link).await.h1(), "Sitting: Terrace");
}

/// A journey whose one page has `input` (a line, with `{var}` for the variable's
/// declaration), to check.
fn with_input(vars: &str, input: &str) -> String {
    format!(
        "journey K {{\n  trigger link \"k\"\n  {vars}\n  step One {{\n    page P {{\n      {input}\n      button \"Go\" {{\n        go to page Q\n      }}\n    }}\n    page Q {{\n      heading \"Done\"\n    }}\n  }}\n}}\n"
    )
}

#[test]
fn a_placeholder_must_be_fixed_text() {
    // language.md §11: a placeholder is fixed text: `{{ }}` is J0209.
    let fixed = with_input("var v: Text", r#"input v: text "V" placeholder "Jane""#);
    assert_eq!(codes(&fixed), Vec::<&str>::new());
    let templated = with_input("var v: Text", r#"input v: text "V" placeholder "{{ v }}""#);
    assert_eq!(codes(&templated), ["J0209"]);
}

#[test]
fn a_validate_message_must_be_fixed_text() {
    // language.md §11: a `validate` message is fixed text (J0209).
    let templated = with_input(
        "var v: Text",
        r#"input v: text "V" validate LENGTH(v) > 1 else "Too short: {{ v }}""#,
    );
    assert_eq!(codes(&templated), ["J0209"]);
}

#[test]
fn options_are_taken_only_by_choice_and_radio_inputs() {
    // language.md §11: only `choice` (and `radio`) inputs take `options` (J0309).
    for kind in ["choice", "radio"] {
        let source = with_input(
            "var v: Text",
            &format!(r#"input v: {kind} "V" options ["a", "b"]"#),
        );
        assert_eq!(codes(&source), Vec::<&str>::new(), "{kind}");
    }
    let source = with_input("var v: Text", r#"input v: text "V" options ["a", "b"]"#);
    assert_eq!(codes(&source), ["J0309"]);
}

#[test]
fn an_input_cannot_fill_actor_session_or_journey_link() {
    // language.md §11: an input cannot fill `actor`, `session` or `journey_link` (J0206).
    for name in ["actor", "session", "journey_link"] {
        let source = with_input("", &format!(r#"input {name}: text "V""#));
        assert!(
            codes(&source).contains(&"J0206"),
            "{name}: {:?}",
            codes(&source)
        );
    }
}

#[test]
fn each_input_kind_fits_only_its_variable_type() {
    // language.md §11: an input's kind must fit its variable's type, as the table says (J0207).
    let table = [
        ("text", "Text"),
        ("phone", "Phone"),
        ("email", "Email"),
        ("number", "Number"),
        ("date", "Date"),
        ("datetime", "DateTime"),
        ("choice", "Text"),
        ("checkbox", "Boolean"),
        ("radio", "Text"),
    ];
    for (kind, ty) in table {
        let options = if matches!(kind, "choice" | "radio") {
            r#" options ["a", "b"]"#
        } else {
            ""
        };
        let input = format!(r#"input v: {kind} "V"{options}"#);
        let fits = with_input(&format!("var v: {ty}"), &input);
        assert_eq!(codes(&fits), Vec::<&str>::new(), "{kind} with {ty}");
        let wrong = if ty == "Boolean" { "Number" } else { "Boolean" };
        let misfit = with_input(&format!("var v: {wrong}"), &input);
        assert!(
            codes(&misfit).contains(&"J0207"),
            "{kind} with {wrong}: {:?}",
            codes(&misfit)
        );
    }
}

// ---------------------------------------------------------------- 12. Actions

const IN_ORDER: &str = r#"
journey InOrder {
  sms from "+15005550006"
  trigger api
  var trace: Text = ""

  step One {
    page P {
      heading "P"
      button "Go" {
        set trace = trace + "1"
        send sms First
        set trace = trace + "2"
        send sms Second
        set trace = trace + "3"
      }
    }
  }

  notification First sms {
    text "first after {{ trace }}"
  }
  notification Second sms {
    text "second after {{ trace }}"
  }
}
"#;

#[test]
fn a_blocks_actions_run_in_order() {
    // language.md §12: a block's actions run in order.
    let clock = clock();
    let e = engine(IN_ORDER, &temp_db("lang-in-order"), &clock);
    by_api(&e, "o", "+14155550141");
    press(&e, "o", "Go", &[]);
    assert_eq!(trace(&e, "o"), "123");
    assert_eq!(texts_of(&e, "o"), ["first after 1", "second after 12"]);
}

const SETS: &str = r#"
journey Sets {
  sms from "+15005550006"
  trigger link "sets"
  var visits: Number = 1
  var contact: Email

  step One {
    page P {
      heading "P"
      button "Go" {
        set visits = visits + 1
        set actor.first_name = "Ada"
        set contact = "ada@example.com"
        set actor.phone = "+14155550151"
        initialize actor
        send sms Hello
      }
    }
  }

  notification Hello sms {
    text "Hello {{ actor.first_name }}, visit {{ visits }}, {{ contact }}"
  }
}
"#;

#[test]
fn set_stores_a_value_in_a_variable_or_an_actor_field() {
    // language.md §12: `set` stores a value in a variable or an actor field.
    let clock = clock();
    let e = engine(SETS, &temp_db("lang-set"), &clock);
    by_link(&e, "s");
    press(&e, "s", "Go", &[]);
    assert_eq!(value(&e, "s", "visits"), Value::Number(2.0));
    assert_eq!(
        state(&e, "s").actor.get("first_name"),
        Some(&Value::Text("Ada".into()))
    );
    assert_eq!(texts_of(&e, "s"), ["Hello Ada, visit 2, ada@example.com"]);
}

#[test]
fn quoted_text_is_read_as_a_phone_number_or_email_address_where_one_is_expected() {
    // language.md §12: quoted text is read as a phone number or email where one is expected.
    assert_eq!(codes(SETS), Vec::<&str>::new());
    let clock = clock();
    let e = engine(SETS, &temp_db("lang-set-literals"), &clock);
    by_link(&e, "s");
    press(&e, "s", "Go", &[]);
    let s = state(&e, "s");
    assert_eq!(s.actor.get("phone"), Some(&phone("+14155550151")));
    assert_eq!(
        value(&e, "s", "contact"),
        Value::Email("ada@example.com".into())
    );
    let sent = e.store().outbox(Some("s")).unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "+14155550151");
}

/// A journey whose page sets the actor's phone from an input and initialises it;
/// replies and calls say where they arrived. `{policy}` is its existing-session setting.
fn owner(policy: &str) -> String {
    format!(
        r#"
journey Owner {{
  sms from "+15005550006"
  trigger link "owner"
  trigger api
  trigger call to "+15005550006" {{
    set calls = calls + 1
    say "Hello"
  }}
  {policy}
  var mobile: Phone
  var got: Text = ""
  var calls: Number = 0
  var initialised: Boolean = false

  on reply {{
    set got = session.message
  }}

  step One {{
    page Ask {{
      input mobile: phone "Mobile" required
      button "Text me" {{
        set actor.phone = mobile
        initialize actor
        set initialised = true
        send sms Hi
      }}
    }}
    page Done {{
      heading "Done"
    }}
  }}

  notification Hi sms {{
    text "Hi from {{{{ session.id }}}}"
  }}
}}
"#
    )
}

#[test]
fn after_initialize_actor_texts_and_calls_from_that_number_come_to_the_session() {
    // language.md §12: after `initialize actor`, texts and calls from the number come here.
    let clock = clock();
    let e = engine(&owner(""), &temp_db("lang-initialize"), &clock);
    let me = "+14155550161";
    by_link(&e, "web");
    press(&e, "web", "Text me", &[("mobile", phone(me))]);
    assert_eq!(texts_of(&e, "web"), ["Hi from web"]);
    e.inbound_sms(OURS, me, "hello", new_id("new-by-text"))
        .unwrap();
    e.inbound_call(OURS, Some(me), new_id("new-by-call"))
        .unwrap();
    assert_eq!(value(&e, "web", "got"), Value::Text("hello".into()));
    assert_eq!(value(&e, "web", "calls"), Value::Number(1.0));
    for id in ["new-by-text", "new-by-call"] {
        assert!(e.store().session(id).unwrap().is_none(), "{id} started");
    }
}

/// Where a text from `phone` arrives among the `Owner` sessions `ids`: the one whose
/// reply handler saw it.
fn replied_to(e: &Engine, ids: &[&str], phone: &str) -> Vec<String> {
    e.inbound_sms(OURS, phone, "where", new_id("new-by-text"))
        .unwrap();
    ids.iter()
        .filter(|id| value(e, id, "got") == Value::Text("where".into()))
        .map(|id| id.to_string())
        .collect()
}

#[test]
fn two_sessions_holding_one_number_hear_from_it_in_the_one_that_started_last() {
    // language.md §12: `on existing session` is for starts; after `initialize actor`,
    // texts from a number two active sessions hold go to the one that started last.
    for policy in ["replace", "keep", "reject"] {
        for (name, web_first) in [("web-first", true), ("api-first", false)] {
            let clock = clock();
            let e = engine(
                &owner(&format!("on existing session {policy}")),
                &temp_db(&format!("lang-holders-{policy}-{name}")),
                &clock,
            );
            let me = "+14155550171";
            if web_first {
                by_link(&e, "web");
                by_api(&e, "api", me);
            } else {
                by_api(&e, "api", me);
                by_link(&e, "web");
            }
            press(&e, "web", "Text me", &[("mobile", phone(me))]);
            assert!(state(&e, "web").actor_initialized, "{policy} {name}");
            let last = if web_first { "api" } else { "web" };
            assert_eq!(
                replied_to(&e, &["web", "api"], me),
                [last],
                "{policy} {name}"
            );
        }
    }
}

const GO_ON: &str = r#"
journey GoOn {
  trigger link "go-on"
  var after_page: Boolean = false
  var after_step: Boolean = false

  step One {
    page First {
      heading "First"
      button "Jump" {
        go to page Third
        set after_page = true
      }
    }
    page Second {
      heading "Second"
    }
    page Third {
      heading "Third"
      button "On" {
        go to step Two
        set after_step = true
      }
    }
  }

  step Two {
    page Last {
      heading "Last"
    }
  }
}
"#;

#[test]
fn a_go_to_does_not_stop_its_block() {
    // language.md §12: a `go to` does not stop the block: actions after it still run.
    let clock = clock();
    let e = engine(GO_ON, &temp_db("lang-go-on"), &clock);
    by_link(&e, "g");
    press(&e, "g", "Jump", &[]);
    assert_eq!(page_name(&e, "g"), "Third");
    assert_eq!(value(&e, "g", "after_page"), Value::Boolean(true));
    press(&e, "g", "On", &[]);
    assert_eq!(page_name(&e, "g"), "Last");
    assert_eq!(value(&e, "g", "after_step"), Value::Boolean(true));
}

const BRANCHES: &str = r#"
journey Branches {
  trigger link "branches"
  var n: Number = 0
  var chose: Text = ""

  step One {
    page Ask {
      input n: number "N" required
      button "Go" {
        if n > 8 {
          set chose = "big"
        } else if n = 1 {
          set chose = "one"
        } else if n >= 1 {
          set chose = "some"
        } else {
          set chose = "none"
        }
        if n = 5 {
          set chose = chose + " and five"
        }
      }
    }
  }
}
"#;

#[test]
fn if_runs_the_first_block_whose_condition_is_true_or_else_the_else_block() {
    // language.md §12: `if` runs the first block whose condition is true, or `else`.
    let clock = clock();
    let e = engine(BRANCHES, &temp_db("lang-if"), &clock);
    for (i, (n, chose)) in [
        (9.0, "big"),
        (1.0, "one"),
        (2.0, "some"),
        (0.0, "none"),
        (5.0, "some and five"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("if{i}");
        by_link(&e, &id);
        press(&e, &id, "Go", &[("n", Value::Number(n))]);
        assert_eq!(
            value(&e, &id, "chose"),
            Value::Text(chose.into()),
            "n = {n}"
        );
    }
}

const ENDING: &str = r#"
journey Ending {
  trigger link "ending"

  step One {
    page Ask {
      heading "Ask"
      button "Stop" {
        end session
      }
    }
    page Never {
      heading "Never"
    }
  }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_end_session_the_journey_link_shows_an_expired_page() {
    // language.md §12: after `end session`, the journey link shows an "expired" page.
    let (_server, link, page) = first_page(ENDING, "ending", "lang-end-session").await;
    let (status, _, _) = page.submit(&[]).await;
    assert_eq!(status, 303);
    let after = Page::open(&link).await;
    assert_eq!(after.status, 410, "{}", after.html);
    assert_eq!(after.h1(), "This link has expired");
    let (status, _, _) = page.submit(&[]).await;
    assert_eq!(status, 410, "its form is gone too");
}

const EXTEND: &str = r#"
journey Extend {
  trigger link "extend"
  expires after 7d

  step One {
    page P {
      heading "P"
      button "More time" {
        extend session by 7d
      }
    }
  }
}
"#;

#[test]
fn extend_session_by_pushes_the_expiry_back_by_its_duration() {
    // language.md §12: `extend session by` pushes the session's expiry back by a duration.
    let clock = clock();
    let e = engine(EXTEND, &temp_db("lang-extend"), &clock);
    by_link(&e, "x");
    by_link(&e, "control");
    let before = state(&e, "x").expires_at;
    assert_eq!(before, clock.now() + Duration::days(7));
    press(&e, "x", "More time", &[]);
    assert_eq!(state(&e, "x").expires_at, before + Duration::days(7));
    e.advance(&clock, Duration::days(10)).unwrap();
    assert_eq!(state(&e, "x").status, Status::Active);
    assert_eq!(state(&e, "control").status, Status::Expired);
    e.advance(&clock, Duration::days(5)).unwrap();
    assert_eq!(state(&e, "x").status, Status::Expired);
}

#[test]
fn the_actions_example_orders_in_bulk_by_express_or_plainly_and_cancels() {
    // language.md §12: the complete example with most actions, run along each path.
    let source = doc_example(12, "Actions");
    let clock = clock();
    let e = engine(&source, &temp_db("lang-actions-example"), &clock);
    let order = |id: &str, mobile: &str, quantity: f64, express: bool| {
        by_link(&e, id);
        press(
            &e,
            id,
            "Order",
            &[
                ("quantity", Value::Number(quantity)),
                ("express", Value::Boolean(express)),
                ("mobile", phone(mobile)),
            ],
        );
    };
    order("bulk", "+14155550201", 12.0, true);
    assert_eq!(
        (step_name(&e, "bulk"), page_name(&e, "bulk")),
        ("BulkOrder".into(), "Bulk".into())
    );
    assert_eq!(
        texts_of(&e, "bulk"),
        ["Thanks! We'll call you about your order of 12."]
    );

    order("express", "+14155550202", 2.0, true);
    assert_eq!(page_name(&e, "express"), "Done");
    assert_eq!(
        texts_of(&e, "express"),
        ["Express order received: 2 item(s)."]
    );
    let s = state(&e, "express");
    assert_eq!(s.expires_at, s.started_at + Duration::days(30 + 14));

    order("plain", "+14155550203", 3.0, false);
    assert_eq!(page_name(&e, "plain"), "Done");
    assert_eq!(
        texts_of(&e, "plain"),
        [format!("Order received: 3 item(s). Details: {LINK}")]
    );
    press(&e, "plain", "Cancel my order", &[]);
    assert_eq!(texts_of(&e, "plain")[1], "Your order is cancelled.");
    assert_eq!(state(&e, "plain").status, Status::Ended);
}

// ---------------------------------------------------------------- 13. Timers

const AFTER: &str = r#"
journey After {
  trigger api
  var fired: Number = 0

  on session started {
    start timer "t" after 90m {
      set fired = fired + 1
    }
  }

  step One {
    page P {
      heading "P"
    }
  }
}
"#;

#[test]
fn a_timer_after_a_duration_fires_that_long_after_it_starts_and_once() {
    // language.md §13: `after DURATION` fires that long after the timer starts, once.
    let clock = clock();
    let e = engine(AFTER, &temp_db("lang-after"), &clock);
    by_api(&e, "a", "+14155550211");
    e.advance(&clock, Duration::minutes(89)).unwrap();
    assert_eq!(value(&e, "a", "fired"), Value::Number(0.0));
    e.advance(&clock, Duration::minutes(1)).unwrap();
    assert_eq!(value(&e, "a", "fired"), Value::Number(1.0), "at 90 minutes");
    e.advance(&clock, Duration::days(3)).unwrap();
    assert_eq!(
        value(&e, "a", "fired"),
        Value::Number(1.0),
        "and never again"
    );
}

const POLICIES: &str = r#"
import std.calendars

journey Policies {
  trigger api

  on session started {
    start timer "default" after 10h on std.calendars.BusinessHoursNY {
      set trace = trace + "d"
    }
    start timer "next" after 10h on std.calendars.BusinessHoursNY if unavailable next {
      set trace = trace + "n"
    }
    start timer "previous" after 10h on std.calendars.BusinessHoursNY if unavailable previous {
      set trace = trace + "p"
    }
    start timer "skip" after 10h on std.calendars.BusinessHoursNY if unavailable skip {
      set trace = trace + "s"
    }
    start timer "anyway" after 10h on std.calendars.BusinessHoursNY if unavailable anyway {
      set trace = trace + "a"
    }
    start timer "open" after 1h on std.calendars.BusinessHoursNY if unavailable skip {
      set trace = trace + "o"
    }
  }

  var trace: Text = ""

  step One {
    page P {
      heading "P"
    }
  }
}
"#;

#[test]
fn if_unavailable_says_when_a_timer_due_while_its_calendar_is_closed_fires() {
    // language.md §13: `on CALENDAR if unavailable next|previous|skip|anyway`; `next` by default.
    let clock = clock();
    let e = engine(POLICIES, &temp_db("lang-policies"), &clock);
    by_api(&e, "p", "+14155550221");
    // Ten hours after Wednesday 10:00 is 20:00, after business hours (09:00-17:00).
    let mut due: Vec<(String, String)> = e
        .store()
        .session_timers("p")
        .unwrap()
        .into_iter()
        .map(|t| (t.key, t.due.to_rfc3339()))
        .collect();
    due.sort();
    assert_eq!(
        due,
        [
            ("anyway", "2026-03-05T01:00:00+00:00"),
            ("default", "2026-03-05T14:00:00+00:00"),
            ("next", "2026-03-05T14:00:00+00:00"),
            ("open", "2026-03-04T16:00:00+00:00"),
            ("previous", "2026-03-04T21:59:00+00:00"),
        ]
        .map(|(k, d)| (k.to_string(), d.to_string()))
    );
    assert!(log(e.store(), "p")
        .iter()
        .any(|l| l.starts_with("timer `skip` skipped")));
    e.advance(&clock, Duration::days(2)).unwrap();
    // Each at its time (`default` and `next` at the same one), `skip` never.
    let fired = trace(&e, "p");
    let mut last_two: Vec<char> = fired.chars().skip(3).collect();
    last_two.sort();
    assert_eq!((&fired[..3], last_two), ("opa", vec!['d', 'n']), "{fired}");
}

const RESTART: &str = r#"
journey Restart {
  sms from "+15005550006"
  trigger api
  var presses: Number = 0

  step One {
    page P {
      heading "P"
      button "Remind me" {
        set presses = presses + 1
        start timer "nudge" after 1h {
          send sms Nudge
        }
      }
    }
  }

  notification Nudge sms {
    text "nudge after {{ presses }} presses"
  }
}
"#;

#[test]
fn starting_a_timer_whose_key_is_running_replaces_it() {
    // language.md §13: starting a key that is already running replaces that timer.
    let clock = clock();
    let e = engine(RESTART, &temp_db("lang-restart"), &clock);
    by_api(&e, "r", "+14155550231");
    press(&e, "r", "Remind me", &[]);
    clock.advance(Duration::minutes(30));
    press(&e, "r", "Remind me", &[]);
    let timers = e.store().session_timers("r").unwrap();
    assert_eq!(timers.len(), 1, "{timers:?}");
    assert_eq!(timers[0].due, at("2026-03-04T16:30:00Z"));
    e.advance(&clock, Duration::minutes(45)).unwrap();
    assert!(
        texts_of(&e, "r").is_empty(),
        "not at the first start's time"
    );
    e.advance(&clock, Duration::days(1)).unwrap();
    assert_eq!(texts_of(&e, "r"), ["nudge after 2 presses"]);
}

#[test]
fn the_same_timer_key_may_be_started_from_two_buttons() {
    // language.md §13: the same key may be started from several places, such as two buttons.
    let source = r#"
journey Two {
  sms from "+15005550006"
  trigger api
  step One {
    page P {
      heading "P"
      button "Soon" {
        start timer "nudge" after 1h {
          send sms Nudge
        }
      }
      button "Later" {
        start timer "nudge" after 1d {
          send sms Nudge
        }
      }
    }
  }
  notification Nudge sms {
    text "nudge"
  }
}
"#;
    assert_eq!(codes(source), Vec::<&str>::new());
}

#[test]
fn a_timers_own_actions_are_a_separate_list() {
    // language.md §13: a timer's own actions are a separate list for J0110.
    let source = r#"
journey Again {
  sms from "+15005550006"
  trigger api
  on session started {
    start timer "nudge" after 1d {
      send sms Nudge
      start timer "nudge" after 1d {
        send sms Nudge
      }
    }
  }
  step One {
    page P {
      heading "P"
    }
  }
  notification Nudge sms {
    text "nudge"
  }
}
"#;
    assert_eq!(codes(source), Vec::<&str>::new());
    assert_eq!(
        codes(&source.replace(
            "      send sms Nudge\n      start",
            "      start timer \"nudge\" after 2d {\n        send sms Nudge\n      }\n      start"
        )),
        ["J0110"],
        "twice in the timer's own list is refused"
    );
}

const STOPS: &str = r#"
journey Stops {
  sms from "+15005550006"
  trigger api
  var after: Boolean = false

  on session started {
    start timer "nudge" after 1d {
      send sms Nudge
    }
  }

  on reply "HALT" {
    stop timer "nudge"
  }

  on reply "AGAIN" {
    stop timer "nudge"
    set after = true
  }

  step One {
    page P {
      heading "P"
    }
  }

  notification Nudge sms {
    text "nudge"
  }
}
"#;

#[test]
fn stop_timer_cancels_the_timer_with_its_key() {
    // language.md §13: `stop timer "key"` cancels the timer with that key.
    let clock = clock();
    let e = engine(STOPS, &temp_db("lang-stop"), &clock);
    let (stopped, kept) = ("+14155550241", "+14155550242");
    by_api(&e, "stopped", stopped);
    by_api(&e, "kept", kept);
    e.inbound_sms(OURS, stopped, "halt", new_id("x")).unwrap();
    assert!(e.store().session_timers("stopped").unwrap().is_empty());
    e.advance(&clock, Duration::days(2)).unwrap();
    assert!(texts_of(&e, "stopped").is_empty());
    assert_eq!(texts_of(&e, "kept"), ["nudge"]);
}

#[test]
fn stopping_a_key_with_no_running_timer_is_not_an_error() {
    // language.md §13: at run time, stopping a key with no running timer is not an error.
    let clock = clock();
    let e = engine(STOPS, &temp_db("lang-stop-none"), &clock);
    let me = "+14155550251";
    by_api(&e, "s", me);
    e.inbound_sms(OURS, me, "halt", new_id("x")).unwrap();
    e.inbound_sms(OURS, me, "again", new_id("x")).unwrap();
    assert_eq!(value(&e, "s", "after"), Value::Boolean(true));
    let log = log(e.store(), "s");
    assert!(
        !log.iter().any(|l| l.starts_with("action failed")),
        "{log:?}"
    );
}

const LATER_VIEW: &str = r#"
journey LaterView {
  sms from "+15005550006"
  trigger api
  var confirmed: Boolean = false
  var visits: Number = 0

  on session started {
    start timer "check" after 1d {
      if NOT confirmed {
        send sms PleaseConfirm
      }
    }
  }

  on reply "YES" {
    set confirmed = true
  }

  on reply "VISIT" {
    set visits = visits + 1
  }

  step One {
    page P {
      heading "P"
    }
  }

  notification PleaseConfirm sms {
    text "Please confirm ({{ visits }} visits)"
  }
}
"#;

#[test]
fn timer_actions_see_the_session_as_it_is_when_the_timer_fires() {
    // language.md §13: timer actions see the session as it is when the timer fires.
    let clock = clock();
    let e = engine(LATER_VIEW, &temp_db("lang-later-view"), &clock);
    let (yes, visiting) = ("+14155550261", "+14155550262");
    by_api(&e, "yes", yes);
    by_api(&e, "visiting", visiting);
    e.inbound_sms(OURS, yes, "yes", new_id("x")).unwrap();
    e.inbound_sms(OURS, visiting, "visit", new_id("x")).unwrap();
    e.inbound_sms(OURS, visiting, "visit", new_id("x")).unwrap();
    e.advance(&clock, Duration::days(2)).unwrap();
    assert!(texts_of(&e, "yes").is_empty(), "{:?}", texts_of(&e, "yes"));
    assert_eq!(texts_of(&e, "visiting"), ["Please confirm (2 visits)"]);
}

// ---------------------------------------------------------------- 14. Navigation

const PATHS: &str = r#"
journey Paths {
  trigger link "paths"
  var skip: Boolean = false

  step One {
    page Ask {
      input skip: checkbox "Skip the middle"
      button "Next" {
        if skip {
          go to page Done
        }
      }
    }
    page Middle {
      heading "Middle"
      button "On" {
        go to page Done
      }
    }
    page Done {
      heading "Done"
    }
  }
}
"#;

#[test]
fn a_button_moves_on_to_the_next_page_only_on_the_paths_without_a_go_to() {
    // language.md §14: moving on to the next page is decided path by path.
    let clock = clock();
    let e = engine(PATHS, &temp_db("lang-paths"), &clock);
    by_link(&e, "skips");
    press(&e, "skips", "Next", &[("skip", Value::Boolean(true))]);
    assert_eq!(page_name(&e, "skips"), "Done");
    by_link(&e, "walks");
    press(&e, "walks", "Next", &[("skip", Value::Boolean(false))]);
    assert_eq!(page_name(&e, "walks"), "Middle");
}

const ALWAYS: &str = r#"
journey Always {
  trigger link "always"
  var stop: Boolean = false

  step One {
    page First {
      input stop: checkbox "Stop here"
      button "Go" {
        if stop {
          end session
        } else {
          go to page Third
        }
      }
    }
    page Second {
      heading "Second"
    }
    page Third {
      heading "Third"
    }
  }
}
"#;

#[test]
fn a_button_that_goes_somewhere_or_ends_on_every_path_never_leads_to_the_next_page() {
    // language.md §14: a button ending in `go to` or `end session` on every path never moves on.
    let clock = clock();
    let e = engine(ALWAYS, &temp_db("lang-always"), &clock);
    by_link(&e, "goes");
    press(&e, "goes", "Go", &[("stop", Value::Boolean(false))]);
    assert_eq!(page_name(&e, "goes"), "Third");
    by_link(&e, "ends");
    press(&e, "ends", "Go", &[("stop", Value::Boolean(true))]);
    let s = state(&e, "ends");
    assert_eq!(s.status, Status::Ended);
    assert_eq!(page_name(&e, "ends"), "First", "not on to `Second`");
}

const ACROSS: &str = r#"
journey Across {
  sms from "+15005550006"
  trigger link "across"

  step One {
    on enter {
      go to page Elsewhere
    }
    page Here {
      heading "Here"
      button "Jump" {
        go to page Elsewhere
        start timer "t" after 1d {
          go to page Elsewhere
        }
      }
    }
  }

  step Two {
    page Elsewhere {
      heading "Elsewhere"
    }
  }
}
"#;

#[test]
fn inside_a_step_go_to_page_must_name_a_page_of_that_step() {
    // language.md §14 (and §12): inside a step, `go to page` names a page of that step (J0102).
    assert_eq!(codes(ACROSS), ["J0102", "J0102", "J0102"]);
}

const ANY_PAGE: &str = r#"
journey AnyPage {
  sms from "+15005550006"
  trigger api

  on session started {
    start timer "t" after 1d {
      go to page Later
    }
  }

  on reply "JUMP" {
    go to page Later
  }

  step One {
    page Here {
      heading "Here"
    }
  }

  step Two {
    page Later {
      heading "Later"
    }
  }
}
"#;

#[test]
fn outside_steps_go_to_page_may_name_any_page() {
    // language.md §14: outside steps, `go to page` may name any page of the journey.
    assert_eq!(codes(ANY_PAGE), Vec::<&str>::new());
    let clock = clock();
    let e = engine(ANY_PAGE, &temp_db("lang-any-page"), &clock);
    let (jumps, waits) = ("+14155550271", "+14155550272");
    by_api(&e, "jumps", jumps);
    by_api(&e, "waits", waits);
    e.inbound_sms(OURS, jumps, "jump", new_id("x")).unwrap();
    assert_eq!(
        (step_name(&e, "jumps"), page_name(&e, "jumps")),
        ("Two".into(), "Later".into())
    );
    assert_eq!(page_name(&e, "waits"), "Here");
    e.advance(&clock, Duration::days(2)).unwrap();
    assert_eq!(
        (step_name(&e, "waits"), page_name(&e, "waits")),
        ("Two".into(), "Later".into())
    );
}

const ARRIVE: &str = r#"
journey Arrive {
  sms from "+15005550006"
  trigger api
  var entered: Boolean = false

  on reply "JUMP" {
    go to page Later
  }

  step One {
    page Here {
      heading "Here"
    }
  }

  step Two {
    on enter {
      set entered = true
    }
    page Later {
      heading "Later"
    }
  }
}
"#;

#[test]
fn a_go_to_page_into_another_step_does_not_run_its_on_enter() {
    // language.md §10: only `go to step` (and the start, for step 1) runs `on enter`; a
    // `go to page` from `on reply` shows the page of another step without it.
    let clock = clock();
    let e = engine(ARRIVE, &temp_db("lang-arrive"), &clock);
    let me = "+14155550281";
    by_api(&e, "a", me);
    e.inbound_sms(OURS, me, "jump", new_id("x")).unwrap();
    assert_eq!(step_name(&e, "a"), "Two");
    assert_eq!(value(&e, "a", "entered"), Value::Boolean(false));
}

const STEP_START: &str = r#"
journey StepStart {
  trigger link "step-start"
  var entered: Number = 0

  step One {
    page Home {
      heading "Home"
      button "On" {
        go to step Two
      }
    }
  }

  step Two {
    on enter {
      set entered = entered + 1
    }
    page First {
      heading "First"
      button "Next" {
        set entered = entered
      }
    }
    page Second {
      heading "Second"
      button "Over" {
        go to step Two
      }
    }
  }
}
"#;

#[test]
fn go_to_step_runs_its_on_enter_and_starts_its_web_flow_at_its_first_page() {
    // language.md §14: `go to step` runs its `on enter` and opens its first page.
    let clock = clock();
    let e = engine(STEP_START, &temp_db("lang-step-start"), &clock);
    by_link(&e, "s");
    press(&e, "s", "On", &[]);
    assert_eq!(page_name(&e, "s"), "First");
    assert_eq!(value(&e, "s", "entered"), Value::Number(1.0));
    press(&e, "s", "Next", &[]);
    assert_eq!(page_name(&e, "s"), "Second");
    // Again from its own second page: back to its first.
    press(&e, "s", "Over", &[]);
    assert_eq!(page_name(&e, "s"), "First");
    assert_eq!(value(&e, "s", "entered"), Value::Number(2.0));
}

const FIRST_PAGE: &str = r#"
journey Landing {
  trigger link "landing"
  journey link opens first page

  step One {
    page Welcome {
      heading "Welcome"
      button "Next" {
        go to page Second
      }
    }
    page Second {
      heading "Second"
    }
  }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_journey_link_opens_first_page_a_journey_link_opens_step_1s_first_page() {
    // language.md §14: with `journey link opens first page`, a link opens step 1's first page.
    let (server, link, page) = first_page(FIRST_PAGE, "landing", "lang-first-page").await;
    let (status, location, _) = page.submit(&[]).await;
    assert_eq!(status, 303);
    let within = Page::open(&server.url(&location.unwrap())).await;
    assert_eq!(within.h1(), "Second", "within the flow, the page reached");
    assert_eq!(Page::open(&link).await.h1(), "Welcome", "the link itself");
}

#[test]
fn the_survey_example_leads_from_first_to_second_and_on_to_finished() {
    // language.md §14: the Survey example: `Next` leads to `Second`, both buttons to `Finished`.
    let source = doc_example(14, "Survey");
    assert_eq!(codes(&source), Vec::<&str>::new());
    let clock = clock();
    let e = engine(&source, &temp_db("lang-survey"), &clock);
    for (id, button) in [("skips", "Skip"), ("sends", "Send")] {
        by_link(&e, id);
        press(&e, id, "Next", &[("likes_us", Value::Boolean(true))]);
        assert_eq!(page_name(&e, id), "Second");
        press(&e, id, button, &[("comment", Value::Text("fine".into()))]);
        assert_eq!(
            (step_name(&e, id), page_name(&e, id)),
            ("Finished".into(), "Thanks".into())
        );
    }
}

const HIDDEN_WARNINGS: &str = r#"
journey Hidden {
  sms from "+15005550006"
  trigger link "hidden"
  var note: Text

  step One {
    page First {
      heading "First"
      button "Go" {
        send sms Hi
        MISTAKE
      }
    }
    page Orphan {
      heading "Orphan"
    }
  }

  step Lost {
    page Nowhere {
      input note: text "Note"
    }
  }

  step Never {
    page Unseen {
      heading "Unseen"
    }
  }

  notification Hi sms {
    text "hi"
  }
}
"#;

#[test]
fn flow_warnings_are_left_out_for_a_journey_with_an_unreadable_line_or_a_rejected_go_to() {
    // language.md §14: flow warnings and J0301 are left out after J0001, J0102 or J0103.
    let fine = HIDDEN_WARNINGS.replace("        MISTAKE\n", "        go to step Lost\n");
    let mut reported = codes(&fine);
    reported.sort();
    assert_eq!(
        reported,
        ["J0301", "J0304", "J0305", "J0306"],
        "the warnings, without a mistake"
    );
    for (mistake, code) in [
        ("this is not a line", "J0001"),
        ("go to page Nowher", "J0102"),
        ("go to step Los", "J0103"),
    ] {
        let source = HIDDEN_WARNINGS.replace("MISTAKE", mistake);
        assert_eq!(codes(&source), [code], "{mistake}");
    }
}

const ENTER_AT_ONCE: &str = r#"
journey EnterAtOnce {
  trigger link "at-once"
  var n: Number = 0

  step One {
    page Home {
      heading "Home"
      button "On" {
        go to step Two
        set n = n * 10
      }
    }
  }

  step Two {
    on enter {
      set n = n + 1
    }
    page There {
      heading "There"
    }
  }
}
"#;

#[test]
fn go_to_step_runs_its_on_enter_at_once_before_the_actions_after_it() {
    // language.md §12: `go to step` runs the step's `on enter` at once; the actions
    // after the `go to` run after it.
    let clock = clock();
    let e = engine(ENTER_AT_ONCE, &temp_db("lang-enter-at-once"), &clock);
    by_link(&e, "s");
    press(&e, "s", "On", &[]);
    assert_eq!(page_name(&e, "s"), "There");
    // (0 + 1) * 10: entered first, then multiplied; the other order would give 1.
    assert_eq!(value(&e, "s", "n"), Value::Number(10.0));
}
