//! The engine on a manual clock and a real SQLite file: the seed scenario up to the
//! outbox, reminders across daylight-saving changes, restarts that lose and duplicate
//! nothing, don't-run-if-missed, existing-session policies and expiry.

mod support;

use std::path::Path;
use std::sync::Arc;

use chrono::Duration;
use journeyc::ir::{self, Control};
use journeyc::runtime::clock::{Clock, ManualClock};
use journeyc::runtime::engine::{Engine, Start};
use journeyc::runtime::sqlite::SqliteStore;
use journeyc::runtime::store::{MessageStatus, Store};
use journeyc::runtime::Value;
use support::engine::*;

fn example(file: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(file),
    )
    .unwrap()
}

fn button(j: &ir::Journey, step: usize, page: usize) -> Vec<ir::Action> {
    j.steps[step].pages[page]
        .controls
        .iter()
        .find_map(|c| {
            if let Control::Button { actions, .. } = c {
                Some(actions.clone())
            } else {
                None
            }
        })
        .expect("a button")
}

#[test]
fn the_seed_scenario_survives_a_restart_and_its_reminder_fires_once() {
    let db = temp_db("seed");
    let source = example("texting_journey_links.journey");
    // Wednesday 10:00 in New York.
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let e = engine(&source, &db, &clock);
    let started = e
        .start(
            "TextingJourneyLinks",
            Start::Link,
            "s1".into(),
            b"tok",
            Some(LINK.into()),
        )
        .unwrap();
    assert!(!started.existing);
    let j = e.journey("TextingJourneyLinks").unwrap().clone();
    let phone_input = j.vars.iter().position(|v| v.name == "phone_input").unwrap();
    e.run(
        "s1",
        &[(phone_input, Value::Phone("+14158675309".into()))],
        &button(&j, 0, 0),
    )
    .unwrap();
    assert_eq!(
        bodies(e.store()),
        [format!("Thanks! Continue any time here: {LINK}")]
    );
    assert_eq!(
        e.store().next_timer_due().unwrap(),
        Some(at("2026-03-05T15:00:00Z"))
    );
    drop(e);

    // A real restart: a new engine on the same file, after the reminder came due.
    clock.advance(Duration::days(1) + Duration::hours(1));
    let e = engine(&source, &db, &clock);
    assert_eq!(
        e.store().session_by_token(b"tok").unwrap().map(|s| s.id),
        Some("s1".into()),
        "the journey link still finds it"
    );
    assert_eq!(
        e.fire_due(Some(clock.now())).unwrap(),
        1,
        "fires once on start"
    );
    assert_eq!(e.fire_due(Some(clock.now())).unwrap(), 0, "and never again");
    assert_eq!(
        bodies(e.store())[1..],
        [
            "Still there? Your request is waiting.".to_string(),
            LINK.to_string()
        ]
    );
    let log = log(e.store(), "s1");
    assert!(log.contains(&"timer `nudge` fired".to_string()), "{log:?}");
}

const DAILY: &str = "journey Daily {\n  sms from \"+15005550006\"\n  trigger api\n  on session started {\n    start timer \"nine\" at AT_TIME(TODAY(\"America/New_York\") + 1d, \"09:00\", \"America/New_York\") {\n      send sms Morning\n    }\n  }\n  step S {\n    page P {\n      heading \"x\"\n    }\n  }\n  notification Morning sms {\n    text \"Good morning\"\n  }\n}\n";

#[test]
fn a_reminder_at_nine_in_new_york_across_both_daylight_saving_changes() {
    for (start, expected) in [
        // Saturday 7 March; clocks go forward on Sunday: 09:00 EDT is 13:00Z.
        ("2026-03-07T17:00:00Z", "2026-03-08T13:00:00Z"),
        // Saturday 31 October; clocks go back on Sunday: 09:00 EST is 14:00Z.
        ("2026-10-31T16:00:00Z", "2026-11-01T14:00:00Z"),
    ] {
        let clock = ManualClock::new(at(start));
        let e = engine(DAILY, &temp_db(&format!("daily-{start}")), &clock);
        e.start(
            "Daily",
            Start::Api {
                phone: "+14158675309".into(),
                actor: vec![],
                vars: vec![],
            },
            "d1".into(),
            b"d1",
            None,
        )
        .unwrap();
        assert_eq!(e.advance(&clock, Duration::days(2)).unwrap(), 1);
        let fired_at = e
            .store()
            .events("d1")
            .unwrap()
            .into_iter()
            .find(|(_, t)| t == "timer `nine` fired")
            .map(|(when, _)| when);
        assert_eq!(fired_at, Some(at(expected)), "from {start}");
        assert_eq!(bodies(e.store()), ["Good morning"]);
    }
}

#[test]
fn dont_run_if_missed_skips_only_what_came_due_while_down() {
    let source = example("appointment_reminder.journey");
    let db = temp_db("missed");
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let e = engine(&source, &db, &clock);
    let vars = vec![(
        "appointment_at".to_string(),
        Value::DateTime(at("2026-03-10T21:30:00Z")),
    )];
    e.start(
        "AppointmentReminder",
        Start::Api {
            phone: "+14158675309".into(),
            actor: vec![],
            vars,
        },
        "a1".into(),
        b"a1",
        None,
    )
    .unwrap();
    let due = e.store().next_timer_due().unwrap().unwrap();
    drop(e);
    // Down from before the reminder until after it.
    clock.advance(due - clock.now() + Duration::hours(3));
    let e = engine(&source, &db, &clock);
    assert_eq!(e.fire_due(Some(clock.now())).unwrap(), 0);
    let log = log(e.store(), "a1");
    assert!(
        log.contains(&"timer `reminder` skipped: missed while the runtime was down".to_string()),
        "{log:?}"
    );
    assert_eq!(e.store().next_timer_due().unwrap(), None);
}

fn policy_journey(policy: &str) -> String {
    format!("journey P {{\n  sms from \"+15005550006\"\n  trigger api\n  on existing session {policy}\n  on session started {{\n    start timer \"t\" after 1h {{\n      send sms Hi\n    }}\n  }}\n  step S {{\n    page P {{\n      heading \"x\"\n    }}\n  }}\n  notification Hi sms {{\n    text \"Hi\"\n  }}\n}}\n")
}

fn api(e: &Engine, id: &str) -> Result<bool, String> {
    e.start(
        "P",
        Start::Api {
            phone: "+14158675309".into(),
            actor: vec![],
            vars: vec![],
        },
        id.into(),
        id.as_bytes(),
        None,
    )
    .map(|s| s.existing)
    .map_err(|e| e.to_string())
}

#[test]
fn existing_session_policies() {
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let keep = engine(&policy_journey("keep"), &temp_db("keep"), &clock);
    assert_eq!(api(&keep, "k1"), Ok(false));
    assert_eq!(api(&keep, "k2"), Ok(true), "the first session is kept");
    assert!(keep.store().session("k2").unwrap().is_none());

    let reject = engine(&policy_journey("reject"), &temp_db("reject"), &clock);
    assert_eq!(api(&reject, "r1"), Ok(false));
    assert_eq!(
        api(&reject, "r2"),
        Err("+14158675309 already has an active session of `P`".into())
    );

    let replace = engine(&policy_journey("replace"), &temp_db("replace"), &clock);
    assert_eq!(api(&replace, "p1"), Ok(false));
    assert_eq!(api(&replace, "p2"), Ok(false));
    assert_eq!(
        replace.store().session("p1").unwrap().unwrap().status,
        journeyc::runtime::session::Status::Ended
    );
    assert_eq!(
        replace
            .store()
            .due_timers(at("2030-01-01T00:00:00Z"), 10)
            .unwrap()
            .len(),
        1,
        "the replaced session's timer is cancelled"
    );
    assert_eq!(replace.advance(&clock, Duration::hours(2)).unwrap(), 1);
    assert_eq!(bodies(replace.store()), ["Hi"]);
}

#[test]
fn timers_of_an_expired_session_do_not_fire() {
    let source = "journey X {\n  sms from \"+15005550006\"\n  trigger api\n  expires after 1h\n  on session started {\n    start timer \"late\" after 2h {\n      send sms Hi\n    }\n  }\n  step S {\n    page P {\n      heading \"x\"\n    }\n  }\n  notification Hi sms {\n    text \"Hi\"\n  }\n}\n";
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let e = engine(source, &temp_db("expired"), &clock);
    e.start(
        "X",
        Start::Api {
            phone: "+14158675309".into(),
            actor: vec![],
            vars: vec![],
        },
        "x1".into(),
        b"x1",
        None,
    )
    .unwrap();
    assert_eq!(e.advance(&clock, Duration::hours(3)).unwrap(), 0);
    assert!(bodies(e.store()).is_empty());
    // At its expiry time the session was marked expired and its timer cancelled.
    let log = log(e.store(), "x1");
    assert!(log.contains(&"session expired".to_string()), "{log:?}");
    assert_eq!(
        e.store().session("x1").unwrap().unwrap().status,
        journeyc::runtime::session::Status::Expired
    );
    assert_eq!(e.store().next_timer_due().unwrap(), None, "nothing pending");
    assert_eq!(e.store().next_expiry().unwrap(), None);
    assert_eq!(
        e.run("x1", &[], &[]).err().map(|e| e.to_string()),
        Some("session `x1` has ended".into())
    );
}

#[test]
fn an_sms_trigger_initialises_the_actor_and_keeps_the_message() {
    let source = example("texting_journey_links.journey");
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let e = engine(&source, &temp_db("sms"), &clock);
    let started = e
        .start(
            "TextingJourneyLinksBySms",
            Start::Sms {
                from: "+14158675309".into(),
                body: "hi".into(),
            },
            "m1".into(),
            b"m1",
            Some(LINK.into()),
        )
        .unwrap();
    assert!(started.session.actor_initialized);
    assert_eq!(started.session.message.as_deref(), Some("hi"));
    assert_eq!(bodies(e.store()), ["Pick up where you left off:", LINK]);
}

const WEEKDAYS: &str = "journey Digest {\n  trigger schedule \"30 8 * * MON-FRI\" in \"America/New_York\" {\n    set count = 1\n  }\n  var count: Number = 0\n  step S {\n    page P {\n      heading \"x\"\n    }\n  }\n}\n";

fn schedule_runs(store: &dyn Store, ids: &[String]) -> Vec<String> {
    ids.iter()
        .flat_map(|id| store.events(id).unwrap())
        .map(|(_, t)| t)
        .filter(|t| t.starts_with("schedule"))
        .collect()
}

#[test]
fn a_cron_schedule_runs_at_each_instant_in_its_zone_across_the_spring_change() {
    let clock = ManualClock::new(at("2026-03-06T12:00:00Z"));
    let e = engine(WEEKDAYS, &temp_db("cron"), &clock);
    // Friday 08:30 EST (13:30Z), then Monday 08:30 EDT (12:30Z) after the clocks change.
    assert_eq!(
        e.advance(&clock, Duration::days(3) + Duration::hours(2))
            .unwrap(),
        2
    );
    let ids = [
        "Digest-schedule-0-1772803800".to_string(),
        "Digest-schedule-0-1773059400".to_string(),
    ];
    assert_eq!(
        schedule_runs(e.store(), &ids),
        [
            "schedule `0 30 8 * * MON-FRI` ran for 2026-03-06T13:30:00+00:00",
            "schedule `0 30 8 * * MON-FRI` ran for 2026-03-09T12:30:00+00:00"
        ]
    );
    let session = e.store().session(&ids[0]).unwrap().unwrap();
    assert_eq!(
        session.vars[0],
        Value::Number(1.0),
        "the schedule's actions ran"
    );
}

#[test]
fn after_downtime_a_schedule_runs_once_not_once_per_missed_instant() {
    let db = temp_db("cron-down");
    let clock = ManualClock::new(at("2026-03-02T12:00:00Z"));
    let e = engine(WEEKDAYS, &db, &clock);
    assert_eq!(
        e.run_schedules().unwrap(),
        0,
        "first sight: remembers Monday 08:30"
    );
    drop(e);
    // Down all week, back on Saturday.
    clock.advance(Duration::days(5));
    let e = engine(WEEKDAYS, &db, &clock);
    assert_eq!(e.run_schedules().unwrap(), 1, "one catch-up run");
    assert_eq!(e.run_schedules().unwrap(), 0, "and not again");
    assert_eq!(
        e.next_schedule_due().unwrap(),
        Some(at("2026-03-09T12:30:00Z")),
        "then the next instant after now"
    );
}

#[test]
fn inbound_texts_start_sessions_reach_reply_handlers_and_opt_out() {
    use journeyc::runtime::engine::Reply;
    let source = example("appointment_reminder.journey")
        + &example("texting_journey_links.journey")
            .replace("import std.calendars\nimport std.notifications\n", "");
    let source = format!("import std.calendars\nimport std.notifications\n{source}");
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let e = engine(&source, &temp_db("inbound"), &clock);
    let me = "+14158675309";
    let vars = vec![(
        "appointment_at".to_string(),
        Value::DateTime(at("2026-03-10T21:30:00Z")),
    )];
    e.start(
        "AppointmentReminder",
        Start::Api {
            phone: me.into(),
            actor: vec![],
            vars,
        },
        "a1".into(),
        b"a1",
        Some(LINK.into()),
    )
    .unwrap();

    // A reply reaches the session's handler for its keyword.
    assert_eq!(
        e.inbound_sms("+15005550006", me, " yes ", new_id("unused"))
            .unwrap(),
        Reply::None
    );
    let confirmed = e
        .journey("AppointmentReminder")
        .unwrap()
        .vars
        .iter()
        .position(|v| v.name == "confirmed")
        .unwrap();
    assert_eq!(
        e.store().session("a1").unwrap().unwrap().vars[confirmed],
        Value::Boolean(true)
    );
    assert!(bodies(e.store())
        .iter()
        .any(|b| b.starts_with("Thanks, you're confirmed.")));

    // HELP answers with the journey's help text.
    let help = e
        .inbound_sms("+15005550006", me, "help", new_id("unused"))
        .unwrap();
    assert_eq!(
        help,
        Reply::Text("Appointment reminders from Acme Dental. Reply STOP to opt out.".into())
    );

    // STOP opts the number out: what the session sends after it is suppressed.
    e.inbound_sms("+15005550006", me, "STOP", new_id("unused"))
        .unwrap();
    assert!(e.store().is_opted_out(me).unwrap());
    e.inbound_sms("+15005550006", me, "NO", new_id("unused"))
        .unwrap();
    let last = e.store().outbox(None).unwrap().pop().unwrap();
    assert_eq!(
        (last.body.starts_with("No problem."), last.status),
        (true, MessageStatus::Suppressed)
    );

    // A text from someone without a session starts one through the SMS trigger.
    let other = "+14155550123";
    e.inbound_sms("+15005550006", other, "hi", new_id("t1"))
        .unwrap();
    let started = e.store().session("t1").unwrap().unwrap();
    assert_eq!(started.journey, "TextingJourneyLinksBySms");
    assert!(started.actor_initialized);
}

#[test]
fn the_scheduler_fires_on_the_real_clock_and_wakes_early_for_an_earlier_timer() {
    use journeyc::runtime::clock::SystemClock;
    use journeyc::runtime::scheduler::Scheduler;
    let source = "journey Soon {\n  sms from \"+15005550006\"\n  trigger api\n  var late: Boolean = false\n  on session started {\n    if late {\n      start timer \"t\" after 1h {\n        send sms Hi\n      }\n    } else {\n      start timer \"t\" at NOW() + 1s {\n        send sms Hi\n      }\n    }\n  }\n  step S {\n    page P {\n      heading \"x\"\n    }\n  }\n  notification Hi sms {\n    text \"Hi\"\n  }\n}\n";
    let e = Arc::new(Engine::new(
        journeys(source),
        Box::new(SqliteStore::open(&temp_db("realtime")).unwrap()),
        Arc::new(SystemClock),
    ));
    let late = vec![("late".to_string(), Value::Boolean(true))];
    e.start(
        "Soon",
        Start::Api {
            phone: "+14158675309".into(),
            actor: vec![],
            vars: late,
        },
        "late".into(),
        b"late",
        None,
    )
    .unwrap();
    let scheduler = Scheduler::start(e.clone());
    // The scheduler now sleeps for an hour; a session whose timer is due in a second
    // must wake it.
    std::thread::sleep(std::time::Duration::from_millis(100));
    e.start(
        "Soon",
        Start::Api {
            phone: "+14155550123".into(),
            actor: vec![],
            vars: vec![],
        },
        "soon".into(),
        b"soon",
        None,
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while bodies(e.store()).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    scheduler.stop();
    let sent: Vec<String> = e
        .store()
        .outbox(None)
        .unwrap()
        .into_iter()
        .map(|m| m.session_id)
        .collect();
    assert_eq!(sent, ["soon"], "only the timer due in a second fired");
}

#[test]
fn the_scheduler_wakes_early_for_a_new_session_that_expires_first() {
    use journeyc::runtime::clock::SystemClock;
    use journeyc::runtime::scheduler::Scheduler;
    use journeyc::runtime::session::Status;
    let source = "journey Long {\n  sms from \"+15005550006\"\n  trigger api\n  on session started {\n    start timer \"t\" after 1h {\n      send sms Hi\n    }\n  }\n  step S {\n    page P {\n      heading \"x\"\n    }\n  }\n  notification Hi sms {\n    text \"Hi\"\n  }\n}\n\njourney Brief {\n  trigger api\n  expires after 2s\n  step S {\n    page P {\n      heading \"x\"\n    }\n  }\n}\n";
    let e = Arc::new(Engine::new(
        journeys(source),
        Box::new(SqliteStore::open(&temp_db("expiry-wake")).unwrap()),
        Arc::new(SystemClock),
    ));
    let api = |phone: &str| Start::Api {
        phone: phone.into(),
        actor: vec![],
        vars: vec![],
    };
    e.start("Long", api("+14158675309"), "long".into(), b"long", None)
        .unwrap();
    let scheduler = Scheduler::start(e.clone());
    // The scheduler now sleeps for an hour; a session that expires in two seconds,
    // and starts no timer, must wake it.
    std::thread::sleep(std::time::Duration::from_millis(100));
    e.start("Brief", api("+14155550123"), "brief".into(), b"brief", None)
        .unwrap();
    let status = || e.store().session("brief").unwrap().unwrap().status;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while status() == Status::Active && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    scheduler.stop();
    assert_eq!(status(), Status::Expired, "marked at its expiry time");
    let log: Vec<String> = e
        .store()
        .events("brief")
        .unwrap()
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert!(log.contains(&"session expired".to_string()), "{log:?}");
    assert_eq!(
        e.store().session("long").unwrap().unwrap().status,
        Status::Active
    );
}

/// Run as a child process by `acknowledged_changes_survive_kill_9` (ignored when run
/// alone): starts sessions with a timer each, printing every acknowledged one, until
/// it is killed.
#[test]
#[ignore = "a helper process for acknowledged_changes_survive_kill_9"]
fn kill_9_child() {
    let db =
        std::env::var("JOURNEYC_KILL9_DB").expect("run by acknowledged_changes_survive_kill_9");
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let e = engine(DAILY, Path::new(&db), &clock);
    for i in 0.. {
        let id = format!("k{i}");
        e.start(
            "Daily",
            Start::Api {
                phone: format!("+1415555{:04}", i % 10_000),
                actor: vec![],
                vars: vec![],
            },
            id.clone(),
            id.as_bytes(),
            None,
        )
        .unwrap();
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "acked {id}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn acknowledged_changes_survive_kill_9() {
    use std::io::BufRead;
    let db = temp_db("kill9");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kill_9_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("JOURNEYC_KILL9_DB", &db)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    while acked.len() < 300 {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(id) = line.strip_prefix("acked ") {
            acked.push(id.to_string());
        }
    }
    // SIGKILL: no destructors, no checkpoint, no chance to tidy up.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(acked.len(), 300, "the child acknowledged changes");

    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let e = engine(DAILY, &db, &clock);
    for id in &acked {
        let s = e.store().session(id).unwrap();
        assert!(
            s.is_some_and(|s| s.actor_initialized),
            "acknowledged session {id} survived"
        );
    }
    // Every acknowledged session's timer is there too, and fires once.
    let fired = e.advance(&clock, Duration::days(2)).unwrap();
    assert!(
        fired >= acked.len(),
        "{fired} timers fired for {} acknowledged sessions",
        acked.len()
    );
    assert_eq!(e.advance(&clock, Duration::days(2)).unwrap(), 0);
}

#[test]
fn inbound_calls_say_their_text_and_join_or_start_sessions() {
    let source = example("call_deflection.journey");
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let e = engine(&source, &temp_db("calls"), &clock);
    let said = e
        .inbound_call("+15005550006", Some("+14158675309"), new_id("c1"))
        .unwrap();
    assert_eq!(
        said,
        ["Thanks for calling Acme. We've just texted you a link to book online. Goodbye!"]
    );
    assert_eq!(
        bodies(e.store()),
        ["Thanks for calling Acme. Book a call back here:", LINK]
    );

    // The same caller again joins the active session: no new session, the texts are
    // suppressed as duplicates within 30 minutes.
    let again = e
        .inbound_call("+15005550006", Some("+14158675309"), new_id("c2"))
        .unwrap();
    assert_eq!(again.len(), 1);
    assert!(e.store().session("c2").unwrap().is_none());
    assert_eq!(bodies(e.store()).len(), 2);

    // A withheld number still hears the message; the text cannot go anywhere.
    let withheld = e.inbound_call("+15005550006", None, new_id("c3")).unwrap();
    assert_eq!(withheld.len(), 1);
    let log = log(e.store(), "c3");
    assert!(
        log.iter()
            .any(|l| l.starts_with("action failed: cannot send `BookingLink`")),
        "{log:?}"
    );

    assert!(
        e.inbound_call("+15005559999", None, new_id("c4")).is_err(),
        "no journey answers that number"
    );
}

/// A journey that counts: each text is a reply that adds one and answers with its own
/// text (so no answer is a duplicate of another), and restarts a timer due at once that
/// counts its firings.
const COUNTER: &str = r#"
journey Counter {
  sms from "+15005550006"
  trigger sms to "+15005550001"
  var count: Number = 0
  var ticks: Number = 0

  on reply {
    set count = count + 1
    send sms Got
    start timer "tick" at NOW() {
      set ticks = ticks + 1
    }
  }

  step One {
    page Only {
      heading "Counting"
    }
  }

  notification Got sms {
    text "got {{ session.message }}"
  }
}
"#;

/// Starts a `COUNTER` session for each of `people`, by a first text each; its id is
/// `c{i}`.
fn counter_sessions(e: &Engine, people: &[String]) {
    for (i, phone) in people.iter().enumerate() {
        e.inbound_sms("+15005550001", phone, "hello", new_id(&format!("c{i}")))
            .unwrap();
    }
}

#[test]
fn concurrent_texts_to_one_session_are_each_counted_once_and_answered_once() {
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let e = engine(COUNTER, &temp_db("concurrent-texts"), &clock);
    let me = "+14158675309".to_string();
    counter_sessions(&e, std::slice::from_ref(&me));
    // 200 texts from one person, from 40 threads at once; and, as another server on
    // the same database would, a thread that changes the session directly in the store
    // 100 times, so the engine's events really conflict and run again.
    let other = {
        let e = e.clone();
        std::thread::spawn(move || {
            let j = e.journeys()[0].clone();
            let ticks = j.vars.iter().position(|v| v.name == "ticks").unwrap();
            let mut conflicts = 0;
            for _ in 0..100 {
                loop {
                    let mut s = e.store().session("c0").unwrap().unwrap();
                    s.vars[ticks] = Value::Number(number(&s, &j, "ticks") + 1.0);
                    match e.store().apply(&mut s, &[], e.now()) {
                        Ok(()) => break,
                        Err(err) if err.is_conflict() => conflicts += 1,
                        Err(err) => panic!("{err}"),
                    }
                }
            }
            conflicts
        })
    };
    let threads: Vec<_> = (0..40)
        .map(|t| {
            let (e, me) = (e.clone(), me.clone());
            std::thread::spawn(move || {
                for k in 0..5 {
                    let body = format!("text {t}-{k}");
                    e.inbound_sms("+15005550001", &me, &body, new_id("unused"))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let conflicts = other.join().unwrap();
    let j = &e.journeys()[0];
    let s = e.store().session("c0").unwrap().unwrap();
    assert_eq!(number(&s, j, "count"), 200.0, "no update lost");
    assert_eq!(
        number(&s, j, "ticks"),
        100.0,
        "nor one of the other writer's"
    );
    assert_eq!(
        s.revision, 301,
        "one revision per change, after the first text"
    );
    eprintln!("the other writer's changes conflicted {conflicts} times");
    let mut answers: Vec<String> = bodies(e.store())
        .into_iter()
        .filter(|b| b.starts_with("got text"))
        .collect();
    assert_eq!(answers.len(), 200, "every text answered once");
    answers.sort();
    answers.dedup();
    assert_eq!(answers.len(), 200, "no answer sent twice");
    let texts = log(e.store(), "c0")
        .iter()
        .filter(|l| l.starts_with("text from"))
        .count();
    assert_eq!(
        texts, 200,
        "one log line per text, none from an attempt undone"
    );
    assert!(
        e.store().session("unused").unwrap().is_none(),
        "every text reached the session"
    );
}

#[test]
fn timers_firing_while_texts_change_the_same_sessions_lose_nothing() {
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let e = engine(COUNTER, &temp_db("timers-and-texts"), &clock);
    let people: Vec<String> = (0..8).map(|i| format!("+1415867530{i}")).collect();
    counter_sessions(&e, &people);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // One thread fires what is due, over and over, while texts restart the timers.
    let firing = {
        let (e, done) = (e.clone(), done.clone());
        std::thread::spawn(move || {
            let mut fired = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                fired += e.fire_due(None).unwrap();
            }
            fired
        })
    };
    let texting: Vec<_> = people
        .iter()
        .flat_map(|phone| (0..3).map(move |t| (phone.clone(), t)))
        .map(|(phone, t)| {
            let e = e.clone();
            std::thread::spawn(move || {
                for k in 0..10 {
                    e.inbound_sms(
                        "+15005550001",
                        &phone,
                        &format!("{t}-{k}"),
                        new_id("unused"),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for t in texting {
        t.join().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut fired = firing.join().unwrap();
    fired += e.fire_due(None).unwrap();
    assert_eq!(
        e.store().next_timer_due().unwrap(),
        None,
        "nothing left due"
    );
    let j = &e.journeys()[0];
    let mut ticks = 0.0;
    for i in 0..people.len() {
        let id = format!("c{i}");
        let s = e.store().session(&id).unwrap().unwrap();
        assert_eq!(number(&s, j, "count"), 30.0, "{id}: every text counted");
        let lines = log(e.store(), &id)
            .iter()
            .filter(|l| l.starts_with("timer `tick` fired"))
            .count();
        assert_eq!(
            number(&s, j, "ticks"),
            lines as f64,
            "{id}: every firing counted"
        );
        assert!(lines >= 1, "{id}: its last timer fired");
        ticks += number(&s, j, "ticks");
    }
    assert_eq!(
        ticks, fired as f64,
        "each firing the engine reported is counted"
    );
}

#[test]
fn a_cron_run_and_a_timer_change_one_session_without_losing_either() {
    // The schedule's session starts a timer; it comes due while the next instant's run
    // starts another session; each change is based on the revision it read.
    let source = r#"
journey Daily {
  trigger schedule "0 0 9 * * *" in "UTC" {
    set runs = runs + 1
    start timer "later" at NOW() {
      set ticks = ticks + 1
    }
  }
  var runs: Number = 0
  var ticks: Number = 0
  step One {
    page Only {
      heading "Daily"
    }
  }
}
"#;
    let clock = ManualClock::new(at("2026-03-04T08:00:00Z"));
    let e = engine(source, &temp_db("cron-and-timer"), &clock);
    assert_eq!(
        e.advance(&clock, Duration::days(3)).unwrap(),
        6,
        "3 runs, 3 timers"
    );
    let j = &e.journeys()[0];
    for day in ["2026-03-04", "2026-03-05", "2026-03-06"] {
        let id = format!(
            "Daily-schedule-0-{}",
            at(&format!("{day}T09:00:00Z")).timestamp()
        );
        let s = e.store().session(&id).unwrap().unwrap();
        assert_eq!(
            (number(&s, j, "runs"), number(&s, j, "ticks")),
            (1.0, 1.0),
            "{id}"
        );
    }
}

/// A two-page journey whose first button starts a reminder; `{text}` is what the
/// reminder says and `{extra}` is spliced in before the page `Second`.
fn versioned(setting: &str, text: &str, extra: &str) -> String {
    format!(
        r#"
journey Versioned {{
  sms from "+15005550006"
  trigger api
  {setting}
  var answer: Text

  step Ask {{
    page First {{
      heading "First"
      button "Next" {{
        set answer = "yes"
        start timer "nudge" after 1d {{
          send sms Nudge
        }}
        go to page Second
      }}
    }}
{extra}
    page Second {{
      heading "Second"
    }}
  }}

  notification Nudge sms {{
    text "{text}"
  }}
}}
"#
    )
}

fn api_session(e: &Engine, id: &str, phone: &str) {
    e.start(
        "Versioned",
        Start::Api {
            phone: phone.into(),
            actor: vec![],
            vars: vec![],
        },
        id.into(),
        id.as_bytes(),
        Some(LINK.into()),
    )
    .unwrap();
}

#[test]
fn a_session_keeps_the_version_it_started_on_after_the_journey_changes() {
    let db = temp_db("versions-keep");
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let v1 = versioned("", "old reminder", "");
    {
        let e = engine(&v1, &db, &clock);
        assert_eq!(e.deployed()[0].version, 1);
        api_session(&e, "s1", "+14155550101");
        let j = &e.journeys()[0];
        e.run("s1", &[], &button(j, 0, 0)).unwrap();
        assert_eq!(page_name(&e, "s1"), "Second");
    }
    // A page before `Second`, and a new reminder text: indices and the notification
    // move, and the session must not notice.
    let v2 = versioned(
        "",
        "new reminder",
        "    page Inserted {\n      heading \"Inserted\"\n    }\n",
    );
    let e = engine(&v2, &db, &clock);
    let d = &e.deployed()[0];
    assert_eq!((d.version, d.new, d.older_live), (2, true, 1));
    assert_eq!(page_name(&e, "s1"), "Second", "on the page it was on");
    api_session(&e, "s2", "+14155550102");
    let j = &e.journeys()[0];
    e.run("s2", &[], &button(j, 0, 0)).unwrap();
    assert_eq!(e.advance(&clock, Duration::days(2)).unwrap(), 2);
    let mut texts = bodies(e.store());
    texts.sort();
    assert_eq!(
        texts,
        ["new reminder", "old reminder"],
        "each its own version's"
    );
    // The same source again is the same version.
    drop(e);
    let e = engine(&v2, &db, &clock);
    assert_eq!((e.deployed()[0].version, e.deployed()[0].new), (2, false));
    assert_eq!(e.versions_of("Versioned"), [1, 2]);
}

#[test]
fn on_new_version_upgrade_moves_sessions_by_name_and_leaves_those_that_do_not_fit() {
    let db = temp_db("versions-upgrade");
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let setting = "on new version upgrade";
    {
        let e = engine(
            &versioned(
                setting,
                "old reminder",
                "    page Gone {\n      heading \"Gone\"\n    }\n",
            ),
            &db,
            &clock,
        );
        let j = e.journeys()[0].clone();
        // `moves` is on `Second` with a reminder pending; `stays` is on `Gone`.
        api_session(&e, "moves", "+14155550111");
        e.run("moves", &[], &button(&j, 0, 0)).unwrap();
        api_session(&e, "stays", "+14155550112");
        let gone = j.steps[0]
            .pages
            .iter()
            .position(|p| p.name == "Gone")
            .unwrap();
        let go_gone = vec![ir::Action::GoToPage {
            step: 0,
            page: gone,
        }];
        e.run("stays", &[], &go_gone).unwrap();
    }
    // `Gone` is removed and a page is inserted; the reminder's text changes.
    let v2 = versioned(
        setting,
        "new reminder",
        "    page Inserted {\n      heading \"Inserted\"\n    }\n",
    );
    let e = engine(&v2, &db, &clock);
    let d = &e.deployed()[0];
    assert_eq!((d.version, d.upgraded, d.older_live), (2, 1, 1), "{d:?}");
    assert_eq!(
        d.left.iter().collect::<Vec<_>>(),
        [(&"its page `Gone` is gone".to_string(), &1)]
    );
    let moved = e.store().session("moves").unwrap().unwrap();
    assert_eq!(moved.version, 2);
    assert_eq!(
        page_name(&e, "moves"),
        "Second",
        "matched by name, not index"
    );
    let j = e.journey_of(&moved).unwrap();
    let answer = j.vars.iter().position(|v| v.name == "answer").unwrap();
    assert_eq!(
        moved.vars[answer],
        Value::Text("yes".into()),
        "kept by name"
    );
    assert!(log(e.store(), "moves").contains(&"moved from version 1 to version 2".to_string()));
    assert_eq!(e.store().session("stays").unwrap().unwrap().version, 1);
    assert_eq!(page_name(&e, "stays"), "Gone");
    // The moved session's reminder is the new version's.
    e.advance(&clock, Duration::days(2)).unwrap();
    assert_eq!(bodies(e.store()), ["new reminder"]);
}

#[test]
fn a_corrupted_row_or_a_missing_version_fails_its_session_without_a_panic() {
    let db = temp_db("versions-broken");
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let v1 = versioned("", "reminder", "");
    {
        let e = engine(&v1, &db, &clock);
        let j = e.journeys()[0].clone();
        for id in ["garbled", "orphan", "fine"] {
            api_session(&e, id, &format!("+1415555012{}", id.len()));
            e.run(id, &[], &button(&j, 0, 0)).unwrap();
        }
        // No timer: only its expiry will come to it.
        api_session(&e, "garbled-later", "+14155550139");
    }
    let v2 = versioned("", "reminder 2", "");
    {
        let e = engine(&v2, &db, &clock);
        api_session(&e, "on-v2", "+14155550199");
    }
    // Damage: one row's state no longer reads, and version 1 is gone from the store,
    // which `orphan` and `fine` run... so `fine` moves to version 2 first, as a
    // person would by starting again.
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute(
            "UPDATE sessions SET state = '{not json' WHERE id IN ('garbled', 'garbled-later')",
            [],
        )
        .unwrap();
        c.execute("UPDATE sessions SET version = 2 WHERE id = 'fine'", [])
            .unwrap();
        c.execute("DELETE FROM journey_versions WHERE version = 1", [])
            .unwrap();
    }
    let e = engine(&v2, &db, &clock);
    let err = e.run("garbled", &[], &[]).unwrap_err();
    assert!(
        matches!(err, journeyc::runtime::store::StoreError::Broken { .. }),
        "{err}"
    );
    let err = e.run("orphan", &[], &[]).unwrap_err();
    assert!(err.to_string().contains("version 1"), "{err}");
    // Failed, with the problem in the log and the timers cancelled; the timer of the
    // session that fits fires; nothing panics.
    let status = |id: &str| -> String {
        rusqlite::Connection::open(&db)
            .unwrap()
            .query_row("SELECT status FROM sessions WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap()
    };
    assert_eq!(status("garbled"), "failed");
    assert_eq!(status("orphan"), "failed");
    assert!(log(e.store(), "orphan")
        .iter()
        .any(|l| l
            .starts_with("session failed: version 1 of journey `Versioned` is not in the store")));
    assert!(log(e.store(), "garbled")
        .iter()
        .any(|l| l.starts_with("session failed: its stored state does not read")));
    assert_eq!(e.advance(&clock, Duration::days(2)).unwrap(), 1);
    assert_eq!(bodies(e.store()), ["reminder 2"], "only `fine`'s reminder");
    // A broken row that nothing touched is failed when it comes to expire, and the
    // others still expire.
    e.advance(&clock, Duration::days(40)).unwrap();
    assert_eq!(status("garbled-later"), "failed");
    assert_eq!(status("fine"), "expired");
    assert_eq!(e.store().next_expiry().unwrap(), None);
    assert_eq!(e.store().next_timer_due().unwrap(), None);
}

#[test]
fn ten_versions_with_live_sessions_across_restarts() {
    let db = temp_db("versions-ten");
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    for i in 1..=10u32 {
        let e = engine(&versioned("", &format!("reminder {i}"), ""), &db, &clock);
        let d = &e.deployed()[0];
        assert_eq!(
            (d.version, d.new, d.older_live),
            (i, true, u64::from(i - 1))
        );
        let id = format!("v{i}");
        api_session(&e, &id, &format!("+141555502{i:02}"));
        let j = e.journeys()[0].clone();
        e.run(&id, &[], &button(&j, 0, 0)).unwrap();
    }
    let e = engine(&versioned("", "reminder 10", ""), &db, &clock);
    assert_eq!(e.versions_of("Versioned"), (1..=10).collect::<Vec<_>>());
    for i in 1..=10u32 {
        let s = e.store().session(&format!("v{i}")).unwrap().unwrap();
        assert_eq!(s.version, i);
        assert_eq!(page_name(&e, &s.id), "Second");
    }
    assert_eq!(e.advance(&clock, Duration::days(2)).unwrap(), 10);
    let mut texts = bodies(e.store());
    texts.sort_by_key(|t| t[9..].parse::<u32>().unwrap());
    let expected: Vec<String> = (1..=10).map(|i| format!("reminder {i}")).collect();
    assert_eq!(
        texts, expected,
        "each session's reminder from its own version"
    );
}

#[test]
fn a_press_for_a_page_the_session_has_left_keeps_nothing() {
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let e = engine(
        &versioned("", "reminder", ""),
        &temp_db("stale-press"),
        &clock,
    );
    api_session(&e, "s1", "+14155550301");
    let j = e.journeys()[0].clone();
    let next = button(&j, 0, 0);
    // Two presses of `First`'s button, the second based on the page the first left:
    // only one is kept, and only one reminder is set.
    e.press_queued("s1", Some((0, 0)), &[], &next)
        .unwrap()
        .wait()
        .unwrap();
    let Err(err) = e.press_queued("s1", Some((0, 0)), &[], &next) else {
        panic!("the second press was kept");
    };
    assert!(
        matches!(err, journeyc::runtime::store::StoreError::Stale { .. }),
        "{err}"
    );
    assert_eq!(page_name(&e, "s1"), "Second");
    assert_eq!(e.store().session_timers("s1").unwrap().len(), 1);
    assert_eq!(e.store().session("s1").unwrap().unwrap().revision, 2);
}

#[test]
fn a_schedule_session_is_found_by_its_link_and_overflowing_values_fail_their_action() {
    let source = r#"
journey Daily {
  on session started {
    start timer "far" after 1d * 100000000 {
      set runs = runs + 1
    }
  }
  trigger schedule "0 0 9 * * *" in "UTC" {
    set big = 10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
    set big = big * big
    set runs = runs + 1
  }
  var runs: Number = 0
  var big: Number = 0
  step One {
    page Only {
      heading "Daily"
    }
  }
}
"#;
    let clock = ManualClock::new(at("2026-03-04T08:00:00Z"));
    let e = engine(source, &temp_db("schedule-link"), &clock);
    assert_eq!(e.advance(&clock, Duration::hours(2)).unwrap(), 1);
    let id = format!(
        "Daily-schedule-0-{}",
        at("2026-03-04T09:00:00Z").timestamp()
    );
    // Its link is derived as every link is, so the link's hash finds it.
    let found = e
        .store()
        .session_by_token(format!("hash:{id}").as_bytes())
        .unwrap();
    assert_eq!(found.map(|s| s.id), Some(id.clone()));
    // A number past the largest stops the chain with a logged failure, no panic, and
    // so does a timer past the calendar's end; the session stays readable.
    let s = e.store().session(&id).unwrap().unwrap();
    let j = e.journey_of(&s).unwrap();
    assert_eq!(number(&s, j, "big"), 1e190, "the first `set` stands");
    assert_eq!(number(&s, j, "runs"), 0.0, "the chain stopped");
    let failed = log(e.store(), &id)
        .into_iter()
        .filter(|l| l.starts_with("action failed"))
        .count();
    assert_eq!(failed, 2, "{:?}", log(e.store(), &id));
    assert_eq!(
        e.store().next_timer_due().unwrap(),
        None,
        "no timer past the end"
    );
}

const ORDER: &str = r#"
journey Order {
  sms from "+15005550006"
  trigger link "order"
  trigger api {
    set trace = trace + "t"
  }
  trigger call to "+15005550006" {
    say "Hello"
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
      button "Next" {
        set trace = trace + "b"
      }
    }
    page Q {
      heading "Q"
      button "Again" {
        set trace = trace + "q"
      }
      button "Back" {
        go to page P
      }
    }
  }
}
"#;

#[test]
fn step_one_is_entered_after_the_start_and_a_button_without_go_to_moves_on() {
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let e = engine(ORDER, &temp_db("order"), &clock);
    let j = e.journeys()[0].clone();
    // `on session started`, then the trigger's actions, then step 1's `on enter`.
    e.start("Order", Start::Link, "l1".into(), b"l1", None)
        .unwrap();
    let api = Start::Api {
        phone: "+14155550401".into(),
        actor: vec![],
        vars: vec![],
    };
    e.start("Order", api, "a1".into(), b"a1", None).unwrap();
    let trace = |id: &str| text_var(&e.store().session(id).unwrap().unwrap(), &j, "trace");
    assert_eq!(trace("l1"), "se");
    assert_eq!(trace("a1"), "ste");
    // A button with no `go to` moves on to the next page; on the last page it stays;
    // a `go to` goes where it says.
    let press = |page: usize, button: usize| {
        let ir::Control::Button { actions, .. } = j.steps[0].pages[page]
            .controls
            .iter()
            .filter(|c| matches!(c, ir::Control::Button { .. }))
            .nth(button)
            .unwrap()
            .clone()
        else {
            unreachable!()
        };
        e.press_queued("l1", Some((0, page)), &[], &actions)
            .unwrap()
            .wait()
            .unwrap();
        e.store().session("l1").unwrap().unwrap().page
    };
    assert_eq!(press(0, 0), Some(1), "on to Q");
    assert_eq!(press(1, 0), Some(1), "Q is the last page: it stays");
    assert_eq!(press(1, 1), Some(0), "back to P, as the button says");
    assert_eq!(trace("l1"), "sebq");
}

#[test]
fn session_from_is_the_calling_number() {
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let e = engine(ORDER, &temp_db("call-from"), &clock);
    let me = "+14155550402";
    let said = e
        .inbound_call("+15005550006", Some(me), new_id("c1"))
        .unwrap();
    assert_eq!(said, ["Hello"]);
    assert_eq!(
        e.store().session("c1").unwrap().unwrap().from.as_deref(),
        Some(me)
    );
    // A second call joins the session and says it again.
    e.inbound_call("+15005550006", Some(me), new_id("c2"))
        .unwrap();
    assert!(e.store().session("c2").unwrap().is_none());
    assert_eq!(
        e.store().session("c1").unwrap().unwrap().from.as_deref(),
        Some(me)
    );
}

#[test]
fn one_reply_handler_reads_a_score_with_number() {
    let source = r#"
journey Survey {
  sms from "+15005550006"
  trigger api
  var score: Number
  on session started {
    send sms Ask
  }
  on reply {
    set score = NUMBER(session.message)
    if score >= 1 AND score <= 5 {
      send sms Thanks
      end session
    } else {
      send sms Ask
    }
  }
  step Wait {
    page Waiting {
      heading "Thanks for your time"
    }
  }
  notification Ask sms {
    text "How did we do, from 1 to 5? ({{ session.message }})"
  }
  notification Thanks sms {
    text "Thank you for the {{ score }}!"
  }
}
"#;
    let clock = ManualClock::new(at("2026-03-04T15:00:00Z"));
    let e = engine(source, &temp_db("survey"), &clock);
    let me = "+14155550501";
    let api = Start::Api {
        phone: me.into(),
        actor: vec![],
        vars: vec![],
    };
    e.start("Survey", api, "v1".into(), b"v1", None).unwrap();
    e.inbound_sms("+15005550006", me, "great", new_id("x"))
        .unwrap();
    e.inbound_sms("+15005550006", me, " 4 ", new_id("x"))
        .unwrap();
    let texts = bodies(e.store());
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts[1].ends_with("(great)"), "{texts:?}");
    assert_eq!(texts[2], "Thank you for the 4!");
    assert_eq!(
        e.store().session("v1").unwrap().unwrap().status,
        journeyc::runtime::session::Status::Ended
    );
}
