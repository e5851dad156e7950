//! The web flow as the runtime's own API, without HTTP: what `journeyc run`, `journeyc
//! test` and the preview all call. Opening a starting link, the render model of the
//! page a session shows, and every outcome of pressing a button.

use std::collections::HashMap;
use std::sync::Arc;

use journeyc::ir::InputKind;
use journeyc::runtime::clock::ManualClock;
use journeyc::runtime::engine::Engine;
use journeyc::runtime::session::SessionState;
use journeyc::runtime::sqlite::SqliteStore;
use journeyc::runtime::store::StoreError;
use journeyc::runtime::web::{Part, Press, Submitted, View};
use journeyc::runtime::Value;

const FLOW: &str = r#"
journey Signup {
  trigger link "signup"

  var name: Text
  var age: Number
  var color: Text
  var note: Text

  step Details {
    page About {
      heading "About you, {{ name }}"
      text "We ask twice a year."
      link "Our terms" to "https://example.com/terms"
      link "Not a link" to "javascript:alert(1)"
      input name: text "Your name" required
      input age: number "Your age" validate age >= 18 else "You must be 18 or over."
      input color: radio "Favourite colour" options ["red", "blue"]
      button "Next" {
        set note = "pressed"
      }
      button "Leave" {
        end session
      }
    }
    page Last {
      heading "Almost done"
      button "Again" {
        set note = "again"
      }
      button "Elsewhere" {
        go to step Done
      }
    }
  }

  step Done {
    on enter {
      set note = "done"
    }
  }
}
"#;

fn engine(source: &str) -> Engine {
    let (_, modules, diags) = journeyc::check_source("web.journey", source);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let journeys = modules.into_iter().flat_map(|(_, m)| m.journeys).collect();
    let clock = ManualClock::new("2026-03-02T15:00:00Z".parse().unwrap());
    Engine::new(
        journeys,
        Box::new(SqliteStore::in_memory().unwrap()),
        Arc::new(clock),
    )
}

fn open(e: &Engine, id: &str) -> SessionState {
    e.open_link("signup", id.to_string(), id.as_bytes(), None)
        .unwrap()
        .wait()
        .unwrap()
        .session
}

fn session(e: &Engine, id: &str) -> SessionState {
    e.session(id).unwrap().unwrap()
}

fn press(page: (usize, usize), button: usize, fields: &[(&str, &str)]) -> Press {
    Press {
        page: Some(page),
        button: Some(button),
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
    }
}

fn submit(e: &Engine, id: &str, p: Press) -> Submitted {
    let state = session(e, id);
    e.submit(&state, p).unwrap().wait().unwrap()
}

#[test]
fn a_starting_link_opens_a_session_and_an_unknown_one_is_not_found() {
    let e = engine(FLOW);
    let s = open(&e, "s1");
    assert_eq!(s.step, 0);
    let View::Page(page) = e.view(&s, false).unwrap() else {
        panic!("a page");
    };
    assert_eq!((page.step, page.page), (0, 0));
    assert!(matches!(
        e.open_link("nope", "s2".into(), b"s2", None),
        Err(StoreError::NotFound(_))
    ));
    assert!(e.session("s2").unwrap().is_none());
}

#[test]
fn the_render_model_has_every_control_evaluated_and_unsafe_links_as_text() {
    let e = engine(FLOW);
    open(&e, "s1");
    let View::Page(page) = e.view(&session(&e, "s1"), false).unwrap() else {
        panic!("a page");
    };
    assert_eq!((page.step, page.page), (0, 0));
    assert_eq!(page.title, "About you, ");
    assert!(page.form);
    assert_eq!(
        page.parts[..4],
        [
            Part::Heading {
                text: "About you, ".into(),
                main: true
            },
            Part::Text("We ask twice a year.".into()),
            Part::Link {
                label: "Our terms".into(),
                url: Some("https://example.com/terms".into())
            },
            Part::Link {
                label: "Not a link".into(),
                url: None
            },
        ]
    );
    let Part::Input(radio) = &page.parts[6] else {
        panic!("{:?}", page.parts[6]);
    };
    assert_eq!(radio.kind, InputKind::Radio);
    assert_eq!(radio.options, ["red", "blue"]);
    assert_eq!(radio.error, None);
    assert_eq!(
        page.parts[7],
        Part::Button {
            index: 7,
            label: "Next".into()
        }
    );
}

#[test]
fn invalid_fields_come_back_with_their_messages_and_nothing_is_kept() {
    let e = engine(FLOW);
    open(&e, "s1");
    let before = session(&e, "s1");
    let out = submit(
        &e,
        "s1",
        press((0, 0), 7, &[("age", "12"), ("color", "green")]),
    );
    let Submitted::Invalid(page) = out else {
        panic!("{out:?}");
    };
    let errors: HashMap<String, (String, Option<String>)> = page
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Input(f) => Some((f.name.clone(), (f.value.clone(), f.error.clone()))),
            _ => None,
        })
        .collect();
    assert_eq!(
        errors["name"],
        ("".into(), Some("This is required.".into()))
    );
    assert_eq!(
        errors["color"],
        ("green".into(), Some("Choose one of the options.".into()))
    );
    // The condition is checked only once every field reads: age 12 waits.
    assert_eq!(errors["age"], ("12".into(), None));
    let after = session(&e, "s1");
    assert_eq!(after.revision, before.revision);
    let out = submit(
        &e,
        "s1",
        press((0, 0), 7, &[("name", "Ada"), ("age", "12")]),
    );
    let Submitted::Invalid(page) = out else {
        panic!("{out:?}");
    };
    assert!(page.parts.iter().any(|p| matches!(p,
        Part::Input(f) if f.name == "age" && f.error.as_deref() == Some("You must be 18 or over."))));
}

#[test]
fn a_button_without_go_to_moves_on_and_on_the_last_page_stays() {
    let e = engine(FLOW);
    open(&e, "s1");
    let out = submit(
        &e,
        "s1",
        press(
            (0, 0),
            7,
            &[("name", "Ada"), ("age", "36"), ("color", "blue")],
        ),
    );
    assert_eq!(
        out,
        Submitted::Moved {
            step: 0,
            page: Some(1)
        }
    );
    let s = session(&e, "s1");
    assert_eq!(s.vars[0], Value::Text("Ada".into()));
    assert_eq!(s.vars[1], Value::Number(36.0));
    assert_eq!(s.vars[3], Value::Text("pressed".into()));
    assert_eq!(
        submit(&e, "s1", press((0, 1), 1, &[])),
        Submitted::Stayed { step: 0, page: 1 }
    );
    assert_eq!(session(&e, "s1").vars[3], Value::Text("again".into()));
    // A form from the page the session has left changes nothing.
    let revision = session(&e, "s1").revision;
    assert_eq!(
        submit(&e, "s1", press((0, 0), 7, &[("name", "Bob")])),
        Submitted::Stale
    );
    assert_eq!(session(&e, "s1").revision, revision);
    assert_eq!(
        submit(&e, "s1", press((0, 1), 2, &[])),
        Submitted::Moved {
            step: 1,
            page: None
        }
    );
    assert_eq!(session(&e, "s1").vars[3], Value::Text("done".into()));
    assert_eq!(e.view(&session(&e, "s1"), false).unwrap(), View::Nothing);
}

#[test]
fn a_press_that_names_no_button_keeps_nothing_and_one_that_ends_says_so() {
    let e = engine(FLOW);
    open(&e, "s1");
    // Index 0 is the heading, not a button; 99 is nothing at all.
    for index in [0, 99] {
        assert_eq!(
            submit(&e, "s1", press((0, 0), index, &[("name", "Ada")])),
            Submitted::NoButton
        );
    }
    // Enter in a field names no button: the page's first one is meant.
    let mut enter = press((0, 0), 0, &[("name", "Ada")]);
    enter.button = None;
    assert_eq!(
        submit(&e, "s1", enter),
        Submitted::Moved {
            step: 0,
            page: Some(1)
        }
    );
    open(&e, "s2");
    assert_eq!(
        submit(&e, "s2", press((0, 0), 8, &[("name", "Ada")])),
        Submitted::Ended
    );
    assert!(!session(&e, "s2").is_active(e.now()));
}

#[test]
fn many_presses_of_one_page_at_once_keep_exactly_one() {
    let e = engine(FLOW);
    open(&e, "s1");
    let state = session(&e, "s1");
    let outcomes: Vec<Submitted> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (e, state) = (e.clone(), state.clone());
                scope.spawn(move || {
                    let name = format!("n{i}");
                    let p = press((0, 0), 7, &[("name", name.as_str())]);
                    e.submit(&state, p).unwrap().wait().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Every press read the first page; only one can move the session on from it.
    let moved = outcomes
        .iter()
        .filter(|o| matches!(o, Submitted::Moved { .. }))
        .count();
    let stale = outcomes.iter().filter(|o| **o == Submitted::Stale).count();
    assert_eq!((moved, stale), (1, 15), "{outcomes:?}");
    let s = session(&e, "s1");
    assert_eq!(s.page, Some(1));
    assert_eq!(s.vars[3], Value::Text("pressed".into()));
}

const AGAIN: &str = r#"
journey Again {
  trigger link "signup"
  var n: Number = 0

  step Only {
    on enter {
      set n = n + 1
    }
    page Home {
      heading "Home"
      button "Again" {
        go to step Only
      }
      button "Stay" {
        set n = n + 100
      }
    }
  }
}
"#;

#[test]
fn a_go_to_back_to_the_same_page_is_a_move_and_a_press_after_the_end_says_ended() {
    let e = engine(AGAIN);
    open(&e, "s1");
    // The button said where to go, even though it is where the session was.
    assert_eq!(
        submit(&e, "s1", press((0, 0), 1, &[])),
        Submitted::Moved {
            step: 0,
            page: Some(0)
        }
    );
    assert_eq!(session(&e, "s1").vars[0], Value::Number(2.0));
    assert_eq!(
        submit(&e, "s1", press((0, 0), 2, &[])),
        Submitted::Stayed { step: 0, page: 0 }
    );
    // Read, then ended by another event before the press: the press says so.
    let read = session(&e, "s1");
    let mut ended = read.clone();
    ended.status = journeyc::runtime::session::Status::Ended;
    e.store().apply(&mut ended, &[], e.now()).unwrap();
    assert_eq!(
        e.submit(&read, press((0, 0), 2, &[]))
            .unwrap()
            .wait()
            .unwrap(),
        Submitted::Ended
    );
    assert_eq!(session(&e, "s1").vars[0], Value::Number(102.0));
}

#[test]
fn a_detailed_log_says_what_each_change_did_and_an_ordinary_one_does_not() {
    let source = r#"
journey Seed {
  sms from "+15005550006"
  trigger link "signup"
  var phone: Phone

  step Ask {
    page Number {
      input phone: phone "Mobile" required
      button "Text me" {
        set actor.phone = phone
        initialize actor
        send sms Link
        start timer "nudge" after 1d {
          send sms Link
        }
        stop timer "other"
      }
    }
    page Thanks {
      heading "Thanks"
    }
  }

  notification Link sms {
    text "Here: {{ journey_link }}"
  }
}
"#;
    let walk = |detailed: bool| {
        let e = engine(source);
        e.set_detailed_log(detailed);
        e.set_links(Arc::new(|id: &str| {
            journeyc::runtime::engine::JourneyLink {
                url: format!("https://x.test/j/{}", "t".repeat(20) + id),
                token_hash: id.as_bytes().to_vec(),
            }
        }));
        let id = open(&e, "s1").id;
        let state = session(&e, "s1");
        e.note_shown(&state, (0, 0)).unwrap();
        let outcome = submit(
            &e,
            &id,
            press(
                (0, 0),
                1,
                &[("phone", "+14155550100"), ("evil", "x\nnow at step Fake")],
            ),
        );
        assert!(matches!(outcome, Submitted::Moved { .. }), "{outcome:?}");
        e.events(&id)
            .unwrap()
            .into_iter()
            .map(|(_, line)| line)
            .collect::<Vec<_>>()
    };
    let detailed = walk(true);
    for wanted in [
        "now at step Ask",
        "page Number shown",
        "button \"Text me\" pressed on page Number with phone = \"+14155550100\"",
        "SMS to +14155550100: Here: https://x.test/j/[redacted]",
        "timer `nudge` started, due 2026-03-03T15:00:00+00:00",
        "timer `other` stopped",
        "now at step Ask, page Thanks",
    ] {
        assert!(
            detailed.iter().any(|l| l == wanted),
            "{wanted} in {detailed:#?}"
        );
    }
    assert!(
        !detailed.iter().any(|l| l.contains("tttttttttttttttt")),
        "no live journey link in the log: {detailed:#?}"
    );
    // A field the page does not have is not logged, nor can a value forge a line.
    assert!(
        !detailed
            .iter()
            .any(|l| l.contains("evil") || l.contains("Fake")),
        "{detailed:#?}"
    );
    // The press comes before what it did.
    let at = |s: &str| detailed.iter().position(|l| l.starts_with(s)).unwrap();
    assert!(at("button") < at("SMS to") && at("SMS to") < at("now at step Ask, page"));
    let plain = walk(false);
    assert!(
        !plain
            .iter()
            .any(|l| l.starts_with("button") || l.starts_with("SMS to") || l.contains("shown")),
        "{plain:#?}"
    );
}
