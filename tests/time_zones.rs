//! Calendars that follow the recipient: `on CALENDAR in actor.time_zone` reads the
//! calendar's hours where the person is, else in the journey's `time zone`, else in
//! the calendar's own; across both daylight-saving changes in two zones.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use journeyc::ir;
use journeyc::runtime::clock::ManualClock;
use journeyc::runtime::engine::{Engine, Start};
use journeyc::runtime::interp::{run, Effect};
use journeyc::runtime::session::SessionState;
use journeyc::runtime::sqlite::SqliteStore;
use journeyc::runtime::Value;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A journey whose step 1 starts a timer at `due`, in business hours read in `zone`.
fn source(journey_zone: &str, zone: &str) -> String {
    format!(
        r#"
journey Follow {{
  trigger api
  {journey_zone}
  var due: DateTime

  step One {{
    on enter {{
      start timer "call" at due on Nine in {zone} {{
        set due = NOW()
      }}
    }}
    page Home {{
      heading "Hi"
    }}
  }}

  calendar Nine {{
    time zone "UTC"
    open mon-fri 09:00-17:00
  }}
}}
"#
    )
}

fn journey(source: &str) -> ir::Journey {
    let (_, modules, diags) = journeyc::check_source("follow.journey", source);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    modules
        .into_iter()
        .flat_map(|(_, m)| m.journeys)
        .next()
        .unwrap()
}

/// When the timer is due for a person in `actor_zone` (none: `None`), and the log.
fn due(j: &ir::Journey, actor_zone: Option<&str>, wanted: &str) -> (DateTime<Utc>, Vec<String>) {
    let now = at("2026-01-05T10:00:00Z");
    let mut s = SessionState::new("s1".into(), j, "api", now);
    if let Some(z) = actor_zone {
        s.actor.insert("time_zone".into(), Value::Text(z.into()));
    }
    s.vars[0] = Value::DateTime(at(wanted));
    let effects = run(j, &mut s, &j.steps[0].on_enter, now);
    let due = effects
        .iter()
        .find_map(|e| match e {
            Effect::StartTimer { due, .. } => Some(*due),
            _ => None,
        })
        .expect("a timer");
    let logs = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Log(l) => Some(l.clone()),
            _ => None,
        })
        .collect();
    (due, logs)
}

#[test]
fn business_hours_follow_the_actor_across_both_daylight_saving_changes_in_two_zones() {
    let j = journey(&source("", "actor.time_zone"));
    // Saturday noon UTC; the calendar opens on Monday at 09:00 where the person is.
    let cases = [
        // New York springs forward on 8 March: Monday is EDT, UTC-4.
        (
            "America/New_York",
            "2026-03-07T12:00:00Z",
            "2026-03-09T13:00:00Z",
        ),
        // ... and falls back on 1 November: Monday is EST, UTC-5.
        (
            "America/New_York",
            "2026-10-31T12:00:00Z",
            "2026-11-02T14:00:00Z",
        ),
        // Paris springs forward on 29 March: Monday is CEST, UTC+2.
        (
            "Europe/Paris",
            "2026-03-28T12:00:00Z",
            "2026-03-30T07:00:00Z",
        ),
        // ... and falls back on 25 October: Monday is CET, UTC+1.
        (
            "Europe/Paris",
            "2026-10-24T12:00:00Z",
            "2026-10-26T08:00:00Z",
        ),
    ];
    for (zone, wanted, expected) in cases {
        assert_eq!(
            due(&j, Some(zone), wanted).0,
            at(expected),
            "{zone} {wanted}"
        );
    }
    // Inside the person's hours the time stands: Monday 08:30 in Paris is 07:30 UTC
    // in winter, closed; 10:30 Paris (09:30 UTC) is open.
    assert_eq!(
        due(&j, Some("Europe/Paris"), "2026-01-05T09:30:00Z").0,
        at("2026-01-05T09:30:00Z")
    );
    assert_eq!(
        due(&j, Some("Europe/Paris"), "2026-01-05T07:30:00Z").0,
        at("2026-01-05T08:00:00Z")
    );
}

#[test]
fn without_the_actors_zone_the_journeys_then_the_calendars_own() {
    let paris = journey(&source("time zone \"Europe/Paris\"", "actor.time_zone"));
    let plain = journey(&source("", "actor.time_zone"));
    let saturday = "2026-03-28T12:00:00Z";
    // No zone on the actor: the journey's.
    assert_eq!(due(&paris, None, saturday).0, at("2026-03-30T07:00:00Z"));
    // The actor's wins over the journey's.
    assert_eq!(
        due(&paris, Some("America/New_York"), saturday).0,
        at("2026-03-30T13:00:00Z")
    );
    // Neither: the calendar's own, UTC.
    assert_eq!(due(&plain, None, saturday).0, at("2026-03-30T09:00:00Z"));
    // A name that is no zone is logged and falls back, and the timer still starts.
    let (when, logs) = due(&paris, Some("Mars/Olympus"), saturday);
    assert_eq!(when, at("2026-03-30T07:00:00Z"));
    assert!(
        logs.iter()
            .any(|l| l.contains("`Mars/Olympus` is not a time zone")),
        "{logs:?}"
    );
    // A fixed zone works like any other Text.
    let fixed = journey(&source("", "\"America/Los_Angeles\""));
    assert_eq!(due(&fixed, None, saturday).0, at("2026-03-30T16:00:00Z"));
}

#[test]
fn the_api_trigger_gives_the_actor_a_zone_that_its_timers_follow() {
    let j = journey(&source("", "actor.time_zone"));
    let clock = ManualClock::new(at("2026-03-02T15:00:00Z"));
    let e = Engine::new(
        vec![j],
        Box::new(SqliteStore::in_memory().unwrap()),
        Arc::new(clock),
    );
    let started = e
        .start_queued(
            "Follow",
            Start::Api {
                phone: "+14155550100".into(),
                actor: vec![("time_zone".into(), Value::Text("Europe/Paris".into()))],
                vars: vec![("due".into(), Value::DateTime(at("2026-03-28T12:00:00Z")))],
            },
            "s1".into(),
            b"s1",
            None,
        )
        .unwrap()
        .wait()
        .unwrap();
    let timers = e.store().session_timers(&started.session.id).unwrap();
    assert_eq!(timers.len(), 1);
    assert_eq!(timers[0].due, at("2026-03-30T07:00:00Z"));
}

#[test]
fn the_checker_takes_a_text_zone_and_knows_fixed_ones() {
    let codes = |src: &str| -> Vec<&'static str> {
        let (_, _, diags) = journeyc::check_source("z.journey", src);
        diags.iter().map(|d| d.code.id).collect()
    };
    assert_eq!(codes(&source("", "actor.time_zone")), Vec::<&str>::new());
    assert_eq!(codes(&source("", "\"Europe/Pariss\"")), ["J0403"]);
    assert_eq!(codes(&source("", "5")), ["J0208"]);
    assert_eq!(
        codes(&source("time zone \"Mars/Olympus\"", "actor.time_zone")),
        ["J0403"]
    );
    assert_eq!(
        codes(&source(
            "time zone \"UTC\"\n  time zone \"UTC\"",
            "actor.time_zone"
        )),
        ["J0109"]
    );
}
