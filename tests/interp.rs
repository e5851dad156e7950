//! The interpreter on the examples' journeys: actions run in order against a session,
//! and what must be kept durably comes back as effects.

use chrono::{DateTime, Utc};
use journeyc::ir::{self, Control};
use journeyc::runtime::interp::{run, Effect};
use journeyc::runtime::session::{SessionState, Status};
use journeyc::runtime::Value;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn journey(file: &str, source: Option<&str>, name: &str) -> ir::Journey {
    let text = match source {
        Some(s) => s.to_string(),
        None => std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples")
                .join(file),
        )
        .unwrap(),
    };
    let (_, modules, diags) = journeyc::check_source(file, &text);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    modules
        .into_iter()
        .flat_map(|(_, m)| m.journeys)
        .find(|j| j.name == name)
        .expect("the journey")
}

fn button<'a>(j: &'a ir::Journey, step: usize, page: usize, label: &str) -> &'a [ir::Action] {
    j.steps[step].pages[page]
        .controls
        .iter()
        .find_map(|c| match c {
            Control::Button { label: l, actions } if matches!(&l.kind, ir::ExprKind::Text(t) if t == label) => Some(actions.as_slice()),
            _ => None,
        })
        .expect("the button")
}

fn var(j: &ir::Journey, name: &str) -> usize {
    j.vars.iter().position(|v| v.name == name).unwrap()
}

/// The bodies of the SMS among some effects, in order.
fn sms_bodies(effects: &[Effect]) -> Vec<&str> {
    effects
        .iter()
        .filter_map(|e| {
            if let Effect::Sms { body, .. } = e {
                Some(body.as_str())
            } else {
                None
            }
        })
        .collect()
}

const LINK: &str = "https://journeys.example/j/tok";

fn seed_session(j: &ir::Journey, now: DateTime<Utc>) -> SessionState {
    let mut s = SessionState::new("s1".into(), j, "link", now);
    s.journey_link = Some(LINK.into());
    s.vars[var(j, "phone_input")] = Value::Phone("+14158675309".into());
    s
}

#[test]
fn the_seed_scenario_texts_a_journey_link_and_sets_a_reminder_in_business_hours() {
    let j = journey("texting_journey_links.journey", None, "TextingJourneyLinks");
    // Wednesday 10:00 in New York.
    let now = at("2026-03-04T15:00:00Z");
    let mut s = seed_session(&j, now);
    let effects = run(&j, &mut s, button(&j, 0, 0, "Text me a link"), now);
    assert_eq!(
        s.actor.get("phone"),
        Some(&Value::Phone("+14158675309".into()))
    );
    assert!(s.actor_initialized);
    assert_eq!((s.step, s.page), (0, Some(1)), "on to AskName");
    assert_eq!(effects.len(), 2, "{effects:?}");
    assert_eq!(
        effects[0],
        Effect::Sms {
            to: "+14158675309".into(),
            from: "+15005550006".into(),
            body: format!("Thanks! Continue any time here: {LINK}")
        }
    );
    let Effect::StartTimer {
        key,
        due,
        step,
        actions,
        ..
    } = &effects[1]
    else {
        panic!("a timer")
    };
    assert_eq!(
        (key.as_str(), *due, *step),
        ("nudge", at("2026-03-05T15:00:00Z"), 0),
        "a day later, inside business hours"
    );

    // The reminder fires: the text, then the journey link alone.
    let fired = run(&j, &mut s, actions, *due);
    let bodies = sms_bodies(&fired);
    assert_eq!(bodies, ["Still there? Your request is waiting.", LINK]);
}

#[test]
fn a_reminder_due_on_saturday_moves_to_monday_morning_after_the_clocks_change() {
    let j = journey("texting_journey_links.journey", None, "TextingJourneyLinks");
    // Friday 17:30 EST; a day later is Saturday; clocks go forward on Sunday.
    let now = at("2026-03-06T22:30:00Z");
    let mut s = seed_session(&j, now);
    let effects = run(&j, &mut s, button(&j, 0, 0, "Text me a link"), now);
    let due = effects.iter().find_map(|e| {
        if let Effect::StartTimer { due, .. } = e {
            Some(*due)
        } else {
            None
        }
    });
    assert_eq!(due, Some(at("2026-03-09T13:00:00Z")), "Monday 09:00 EDT");
}

#[test]
fn going_to_a_later_step_leaves_the_earlier_ones() {
    let j = journey("texting_journey_links.journey", None, "TextingJourneyLinks");
    let now = at("2026-03-04T15:00:00Z");
    let mut s = seed_session(&j, now);
    run(&j, &mut s, button(&j, 0, 0, "Text me a link"), now);
    s.vars[var(&j, "full_name")] = Value::Text("Ada".into());
    let effects = run(&j, &mut s, button(&j, 0, 1, "Finish"), now);
    assert_eq!(
        effects,
        [
            Effect::StopTimer {
                key: "nudge".into()
            },
            Effect::LeftSteps { before: 1 }
        ]
    );
    assert_eq!((s.step, s.page), (1, Some(0)));
}

const STRICT: &str = "journey Strict {\n  sms from \"+15005550006\"\n  trigger link \"s\"\n  var typed: Text\n  step One {\n    page Ask {\n      input typed: text \"Mobile\"\n      button \"Go\" {\n        set actor.phone = PHONE(typed)\n        initialize actor\n        send sms Hi\n        go to page Done\n      }\n    }\n    page Done {\n      heading \"Done\"\n      button \"Again\" {\n        end session\n        send sms Hi\n      }\n    }\n  }\n  notification Hi sms {\n    text \"Hi\"\n  }\n}\n";

#[test]
fn a_failing_action_stops_its_chain_and_says_why() {
    let j = journey("strict.journey", Some(STRICT), "Strict");
    let now = at("2026-03-04T15:00:00Z");
    let mut s = SessionState::new("s2".into(), &j, "link", now);
    s.vars[0] = Value::Text("not a number".into());
    let effects = run(&j, &mut s, button(&j, 0, 0, "Go"), now);
    assert_eq!(
        effects,
        [Effect::Log(
            "action failed: cannot initialize the actor: `actor.phone` is not set".into()
        )]
    );
    assert_eq!(s.page, None, "the `go to` after the failure did not run");
    assert!(!s.actor_initialized);

    s.vars[0] = Value::Text("(415) 867-5309".into());
    let effects = run(&j, &mut s, button(&j, 0, 0, "Go"), now);
    assert!(
        matches!(&effects[..], [Effect::Sms { to, .. }] if to == "+14158675309"),
        "{effects:?}"
    );
    assert_eq!(s.page, Some(1));
}

#[test]
fn an_ended_session_runs_nothing_more() {
    let j = journey("strict.journey", Some(STRICT), "Strict");
    let now = at("2026-03-04T15:00:00Z");
    let mut s = SessionState::new("s3".into(), &j, "link", now);
    s.actor
        .insert("phone".into(), Value::Phone("+14158675309".into()));
    s.actor_initialized = true;
    let effects = run(&j, &mut s, button(&j, 0, 1, "Again"), now);
    assert_eq!(effects, [Effect::Log("session ended".into())]);
    assert_eq!(s.status, Status::Ended);
    assert!(!s.is_active(now));
}

#[test]
fn call_deflection_speaks_and_texts_a_link() {
    let j = journey("call_deflection.journey", None, "CallDeflection");
    let now = at("2026-03-04T15:00:00Z");
    let mut s = SessionState::new("s4".into(), &j, "call", now);
    s.journey_link = Some(LINK.into());
    // The call trigger initialises the actor from the caller's number.
    s.actor
        .insert("phone".into(), Value::Phone("+14158675309".into()));
    s.actor_initialized = true;
    let ir::Trigger::Call { actions, .. } = &j.triggers[0] else {
        panic!("a call trigger")
    };
    let effects = run(&j, &mut s, actions, now);
    assert!(
        matches!(&effects[0], Effect::Say(text) if text.starts_with("Thanks for calling Acme"))
    );
    let bodies = sms_bodies(&effects);
    assert_eq!(
        bodies,
        ["Thanks for calling Acme. Book a call back here:", LINK]
    );
}

#[test]
fn defaults_and_expiry() {
    let j = journey("appointment_reminder.journey", None, "AppointmentReminder");
    let now = at("2026-03-04T15:00:00Z");
    let s = SessionState::new("s5".into(), &j, "api", now);
    assert_eq!(s.vars[var(&j, "clinic")], Value::Text("Acme Dental".into()));
    assert_eq!(s.vars[var(&j, "confirmed")], Value::Boolean(false));
    assert_eq!(s.vars[var(&j, "appointment_at")], Value::Null);
    assert_eq!(
        s.expires_at,
        at("2026-05-03T15:00:00Z"),
        "expires after 60d"
    );
    assert!(s.is_active(at("2026-05-03T14:59:59Z")));
    assert!(!s.is_active(at("2026-05-03T15:00:00Z")));
}

#[test]
fn the_appointment_reminder_is_at_nine_the_day_before_in_the_actors_zone() {
    let j = journey("appointment_reminder.journey", None, "AppointmentReminder");
    let now = at("2026-03-04T15:00:00Z");
    let mut s = SessionState::new("s6".into(), &j, "api", now);
    s.actor
        .insert("phone".into(), Value::Phone("+14158675309".into()));
    s.actor.insert(
        "time_zone".into(),
        Value::Text("America/Los_Angeles".into()),
    );
    s.actor_initialized = true;
    // Tuesday 10 March, 14:30 in Los Angeles (PDT since Sunday).
    s.vars[var(&j, "appointment_at")] = Value::DateTime(at("2026-03-10T21:30:00Z"));
    let effects = run(&j, &mut s, &j.on_started, now);
    assert!(
        matches!(&effects[0], Effect::Sms { body, .. } if body.contains("Mar 10 at 2:30 PM")),
        "{effects:?}"
    );
    let Effect::StartTimer {
        due,
        skip_if_missed,
        ..
    } = &effects[1]
    else {
        panic!("a timer")
    };
    assert_eq!(*due, at("2026-03-09T16:00:00Z"), "Monday 09:00 PDT");
    assert!(skip_if_missed);
}
