//! The store conformance suite: every `Store` implementation must pass these, run
//! against each one: SQLite on a file and in memory, and PostgreSQL when
//! `JOURNEYC_TEST_POSTGRES_URL` names a database (each test in a schema of its own).

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use journeyc::ir;
use journeyc::runtime::interp::Effect;
use journeyc::runtime::postgres::PgStore;
use journeyc::runtime::session::{SessionState, Status};
use journeyc::runtime::sqlite::SqliteStore;
use journeyc::runtime::store::{MessageStatus, Store};
use journeyc::runtime::Value;

#[path = "support/postgres.rs"]
mod postgres;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn temp_db(name: &str) -> PathBuf {
    // Under target/tmp, replaced by the next run: tests leave nothing in /tmp.
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("journeyc-store-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("journey.db")
}

/// Every implementation under test, fresh.
fn stores(name: &str) -> Vec<(&'static str, Box<dyn Store>)> {
    let mut stores: Vec<(&'static str, Box<dyn Store>)> = vec![
        (
            "sqlite file",
            Box::new(SqliteStore::open(&temp_db(name)).unwrap()),
        ),
        ("sqlite memory", Box::new(SqliteStore::in_memory().unwrap())),
    ];
    if let Some(url) = postgres::fresh_url(name) {
        stores.push(("postgres", Box::new(PgStore::open(&url).unwrap())));
    }
    stores
}

fn journey() -> ir::Journey {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/texting_journey_links.journey"),
    )
    .unwrap();
    let (_, modules, _) = journeyc::check_source("t.journey", &text);
    modules
        .into_iter()
        .flat_map(|(_, m)| m.journeys)
        .next()
        .unwrap()
}

const NOW: &str = "2026-03-04T15:00:00Z";
const PHONE: &str = "+14158675309";

fn new_session(store: &dyn Store, id: &str) -> SessionState {
    let mut s = SessionState::new(id.into(), &journey(), "link", at(NOW));
    store
        .create_session(&mut s, id.as_bytes(), at(NOW))
        .unwrap();
    s
}

/// The outbox's texts, oldest first.
fn bodies(store: &dyn Store) -> Vec<String> {
    store
        .outbox(None)
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect()
}

fn initialise(s: &mut SessionState) {
    s.actor.insert("phone".into(), Value::Phone(PHONE.into()));
    s.actor_initialized = true;
}

fn sms(body: &str) -> Effect {
    Effect::Sms {
        to: PHONE.into(),
        from: "+15005550006".into(),
        body: body.into(),
    }
}

fn timer(key: &str, due: &str, step: usize) -> Effect {
    Effect::StartTimer {
        key: key.into(),
        due: at(due),
        step,
        skip_if_missed: false,
        actions: vec![ir::Action::EndSession],
    }
}

#[test]
fn sessions_are_kept_and_found_by_token_and_by_phone() {
    for (name, store) in stores("sessions") {
        let mut s = new_session(&*store, "s1");
        assert_eq!(store.session("s1").unwrap().as_ref(), Some(&s), "{name}");
        assert_eq!(
            store.session_by_token(b"s1").unwrap().map(|s| s.id),
            Some("s1".to_string()),
            "{name}"
        );
        assert_eq!(store.session_by_token(b"nope").unwrap(), None, "{name}");
        assert_eq!(
            store
                .active_session_for_phone(&s.journey, PHONE, at(NOW))
                .unwrap(),
            None,
            "{name}: not before initialisation"
        );
        initialise(&mut s);
        store.apply(&mut s, &[], at(NOW)).unwrap();
        let found = store
            .active_session_for_phone(&s.journey, PHONE, at(NOW))
            .unwrap();
        assert_eq!(found.map(|f| f.id), Some("s1".to_string()), "{name}");
        let all = store.active_sessions_for_phone(PHONE, at(NOW)).unwrap();
        assert_eq!(all.len(), 1, "{name}: every journey's, at once");
        assert!(store
            .active_sessions_for_phone(PHONE, s.expires_at)
            .unwrap()
            .is_empty());
        assert!(store
            .active_sessions_for_phone("+14155550000", at(NOW))
            .unwrap()
            .is_empty());
        assert_eq!(
            store
                .active_session_for_phone(&s.journey, PHONE, s.expires_at)
                .unwrap(),
            None,
            "{name}: not once expired"
        );
        s.status = Status::Ended;
        store.apply(&mut s, &[], at(NOW)).unwrap();
        assert_eq!(
            store
                .active_session_for_phone(&s.journey, PHONE, at(NOW))
                .unwrap(),
            None,
            "{name}: not once ended"
        );
    }
}

/// What the inbound tests read: sessions "a" and then "b" for `PHONE`, webhook
/// "SMkept" kept, "+14155550000" opted out. Gives "a".
fn inbound_setting(store: &dyn Store) -> SessionState {
    let (mut a, mut b) = (new_session(store, "a"), new_session(store, "b"));
    initialise(&mut a);
    initialise(&mut b);
    store.apply(&mut a, &[], at(NOW)).unwrap();
    store.apply(&mut b, &[], at(NOW)).unwrap();
    assert!(store.first_delivery("SMkept", at(NOW)).unwrap());
    store.opt_out("+14155550000", at(NOW)).unwrap();
    a
}

#[test]
fn an_inbound_text_reads_its_repeat_opt_out_and_sessions_at_once() {
    for (name, store) in stores("inbound") {
        let a = inbound_setting(&*store);
        let read = |sid: Option<&str>, phone: &str, now| store.inbound(sid, phone, now).unwrap();
        let both = read(Some("SMnew"), PHONE, at(NOW));
        assert!(!both.seen && !both.opted_out, "{name}");
        // As `active_sessions_for_phone` lists them: the newest first.
        let ids: Vec<&str> = both.active.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["b", "a"], "{name}");
        assert_eq!(
            both.active[0],
            store.session("b").unwrap().unwrap(),
            "{name}"
        );
        assert!(read(Some("SMkept"), PHONE, at(NOW)).seen, "{name}");
        assert!(!read(None, PHONE, at(NOW)).seen, "{name}");
        assert!(read(None, PHONE, a.expires_at).active.is_empty(), "{name}");
        let out = read(Some("SMkept"), "+14155550000", at(NOW));
        assert!(out.seen && out.opted_out && out.active.is_empty(), "{name}");
    }
}

#[test]
fn inbound_reads_asked_at_once_each_get_their_own_answer() {
    // PostgreSQL answers reads asked while its last query was out in one query: each
    // must get the answer for its own webhook id, number and time.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (name, store) in stores("inbound-async") {
        let store: Arc<dyn Store> = Arc::from(store);
        let a = inbound_setting(&*store);
        let asks: Vec<(Option<String>, String, DateTime<Utc>)> = (0..300)
            .map(|i| {
                let sid = match i % 3 {
                    0 => None,
                    1 => Some("SMkept".to_string()),
                    _ => Some(format!("SMnew{i}")),
                };
                let phone = [PHONE, "+14155550000", "+14155551111"][i % 5 % 3];
                let now = if i % 7 == 0 { a.expires_at } else { at(NOW) };
                (sid, phone.to_string(), now)
            })
            .collect();
        let answers = rt.block_on(async {
            let tasks: Vec<_> = asks
                .iter()
                .cloned()
                .map(|(sid, phone, now)| {
                    let store = store.clone();
                    tokio::spawn(
                        async move { store.inbound_async(sid.as_deref(), &phone, now).await },
                    )
                })
                .collect();
            let mut answers = Vec::new();
            for t in tasks {
                answers.push(t.await.unwrap().unwrap());
            }
            answers
        });
        for ((sid, phone, now), answer) in asks.iter().zip(answers) {
            let expected = store.inbound(sid.as_deref(), phone, *now).unwrap();
            assert_eq!(answer, expected, "{name}: {sid:?} {phone} {now}");
        }
        // Not all alike: the answers depend on the question.
        let both = store.inbound(None, PHONE, at(NOW)).unwrap();
        assert_eq!(both.active.len(), 2, "{name}");
    }
}

/// A session of the test journey started for `PHONE` by `trigger`, with the actor
/// initialised as starting does, not yet kept.
fn started(id: &str, trigger: &str, now: DateTime<Utc>) -> SessionState {
    let mut s = SessionState::new(id.into(), &journey(), trigger, now);
    initialise(&mut s);
    s
}

#[test]
fn a_session_started_for_a_number_holds_it_for_its_journey_while_active() {
    for (name, store) in stores("number-claims") {
        let create =
            |s: &mut SessionState, now| store.create_session(s, s.id.clone().as_bytes(), now);
        let mut first = started("first", "sms", at(NOW));
        create(&mut first, at(NOW)).unwrap();
        for trigger in ["sms", "call", "api"] {
            let e = create(
                &mut started(&format!("again-{trigger}"), trigger, at(NOW)),
                at(NOW),
            )
            .unwrap_err();
            assert!(e.is_conflict(), "{name}, {trigger}: {e}");
            assert!(
                store
                    .session(&format!("again-{trigger}"))
                    .unwrap()
                    .is_none(),
                "{name}"
            );
        }
        // A session started by a link holds no number, even with an actor.
        create(&mut started("by-link", "link", at(NOW)), at(NOW)).unwrap();
        // An ended session holds its number no longer.
        first.status = Status::Ended;
        store.apply(&mut first, &[], at(NOW)).unwrap();
        let mut second = started("second", "api", at(NOW));
        create(&mut second, at(NOW)).unwrap();
        // Nor one past its expiry, before it is marked expired.
        let later = second.expires_at + Duration::seconds(1);
        let mut third = started("third", "call", later);
        create(&mut third, later).unwrap();
        let released = store.session("second").unwrap().unwrap();
        assert_eq!(released.status, Status::Active, "{name}");
        // Its revision moved, so an event read before it expired changes nothing.
        assert!(released.revision > second.revision, "{name}");
        let e = create(&mut started("fourth", "sms", later), later).unwrap_err();
        assert!(e.is_conflict(), "{name}: {e}");
        // A session whose actor's phone changes gives up the number it started for.
        third
            .actor
            .insert("phone".into(), Value::Phone("+14155550999".into()));
        store.apply(&mut third, &[], later).unwrap();
        create(&mut started("fifth", "sms", later), later).unwrap();
    }
}

#[test]
fn many_starts_for_one_number_at_once_keep_one_session() {
    for (name, store) in stores("number-race") {
        let outcomes: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..16)
                .map(|i| {
                    let store = &store;
                    scope.spawn(move || {
                        let mut s = started(&format!("race{i}"), "sms", at(NOW));
                        store
                            .create_session(&mut s, format!("race{i}").as_bytes(), at(NOW))
                            .map_err(|e| {
                                assert!(e.is_conflict(), "{e}");
                                e.to_string()
                            })
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            outcomes.iter().filter(|o| o.is_ok()).count(),
            1,
            "{name}: {outcomes:?}"
        );
        let active = store.active_sessions_for_phone(PHONE, at(NOW)).unwrap();
        assert_eq!(active.len(), 1, "{name}");
    }
}

#[test]
fn postgres_two_replicas_starting_sessions_for_one_number_at_once_keep_one() {
    // Without a database, `fresh_url` says the test was skipped.
    let Some(url) = postgres::fresh_url("number_replicas") else {
        return;
    };
    let replicas = [PgStore::open(&url).unwrap(), PgStore::open(&url).unwrap()];
    for round in 0..20 {
        let phone = format!("+1415555{round:04}");
        let kept: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (store, phone) = (&replicas[i % 2], phone.clone());
                    scope.spawn(move || {
                        let id = format!("r{round}-{i}");
                        let mut s = SessionState::new(id.clone(), &journey(), "sms", at(NOW));
                        s.actor.insert("phone".into(), Value::Phone(phone));
                        s.actor_initialized = true;
                        match store.create_session(&mut s, id.as_bytes(), at(NOW)) {
                            Ok(()) => 1,
                            Err(e) => {
                                assert!(e.is_conflict(), "{e}");
                                0
                            }
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(kept, 1, "round {round}");
        let active = replicas[1]
            .active_sessions_for_phone(&phone, at(NOW))
            .unwrap();
        assert_eq!(active.len(), 1, "round {round}");
    }
}

#[test]
fn the_outbox_suppresses_duplicates_within_30_minutes_and_opted_out_numbers() {
    for (name, store) in stores("outbox") {
        let mut s = new_session(&*store, "s1");
        initialise(&mut s);
        store
            .apply(&mut s, &[sms("Hello"), sms("Hello")], at(NOW))
            .unwrap();
        store
            .apply(&mut s, &[sms("Hello")], at(NOW) + Duration::minutes(29))
            .unwrap();
        store
            .apply(&mut s, &[sms("Hello")], at(NOW) + Duration::minutes(31))
            .unwrap();
        let statuses: Vec<MessageStatus> = store
            .outbox(Some("s1"))
            .unwrap()
            .iter()
            .map(|m| m.status)
            .collect();
        use MessageStatus::*;
        assert_eq!(
            statuses,
            [Pending, Suppressed, Suppressed, Pending],
            "{name}"
        );
        assert!(
            store
                .events("s1")
                .unwrap()
                .iter()
                .any(|(_, e)| e.contains("within 30 minutes")),
            "{name}: the suppression is logged"
        );

        store.opt_out(PHONE, at(NOW)).unwrap();
        assert!(store.is_opted_out(PHONE).unwrap());
        store.apply(&mut s, &[sms("After STOP")], at(NOW)).unwrap();
        store.opt_in(PHONE).unwrap();
        store.apply(&mut s, &[sms("After START")], at(NOW)).unwrap();
        let last: Vec<(String, MessageStatus)> = store
            .outbox(None)
            .unwrap()
            .into_iter()
            .rev()
            .take(2)
            .map(|m| (m.body, m.status))
            .collect();
        assert_eq!(
            last,
            [
                ("After START".to_string(), Pending),
                ("After STOP".to_string(), Suppressed)
            ],
            "{name}"
        );

        let first = store.outbox(None).unwrap()[0].id;
        store.set_message_status(first, Sent, None).unwrap();
        assert_eq!(store.outbox(None).unwrap()[0].status, Sent, "{name}");
    }
}

#[test]
fn timers_start_replace_stop_and_leave_with_their_step() {
    for (name, store) in stores("timers") {
        let mut s = new_session(&*store, "s1");
        store
            .apply(
                &mut s,
                &[
                    timer("a", "2026-03-05T15:00:00Z", 0),
                    timer("b", "2026-03-06T15:00:00Z", 1),
                ],
                at(NOW),
            )
            .unwrap();
        assert_eq!(
            store.next_timer_due().unwrap(),
            Some(at("2026-03-05T15:00:00Z")),
            "{name}"
        );
        // Starting a key again replaces it.
        store
            .apply(&mut s, &[timer("a", "2026-03-07T15:00:00Z", 0)], at(NOW))
            .unwrap();
        let due: Vec<(String, DateTime<Utc>)> = store
            .due_timers(at("2030-01-01T00:00:00Z"), 10)
            .unwrap()
            .into_iter()
            .map(|t| (t.key, t.due))
            .collect();
        assert_eq!(
            due,
            [
                ("b".to_string(), at("2026-03-06T15:00:00Z")),
                ("a".to_string(), at("2026-03-07T15:00:00Z"))
            ],
            "{name}"
        );
        assert!(
            store
                .due_timers(at("2026-03-06T14:59:59Z"), 10)
                .unwrap()
                .is_empty(),
            "{name}: nothing due yet"
        );
        // Leaving step 0 cancels its timer only; stopping `b` cancels the other.
        store
            .apply(&mut s, &[Effect::LeftSteps { before: 1 }], at(NOW))
            .unwrap();
        assert_eq!(
            store
                .due_timers(at("2030-01-01T00:00:00Z"), 10)
                .unwrap()
                .len(),
            1,
            "{name}"
        );
        store
            .apply(
                &mut s,
                &[
                    Effect::StopTimer { key: "b".into() },
                    Effect::StopTimer {
                        key: "unknown".into(),
                    },
                ],
                at(NOW),
            )
            .unwrap();
        assert_eq!(store.next_timer_due().unwrap(), None, "{name}");
    }
}

#[test]
fn a_timer_fires_once_with_its_effects() {
    for (name, store) in stores("fire") {
        let mut s = new_session(&*store, "s1");
        initialise(&mut s);
        store
            .apply(
                &mut s,
                &[timer("nudge", "2026-03-05T15:00:00Z", 0)],
                at(NOW),
            )
            .unwrap();
        let t = store
            .due_timers(at("2026-03-05T15:00:00Z"), 10)
            .unwrap()
            .remove(0);
        assert_eq!(
            t.actions,
            vec![ir::Action::EndSession],
            "{name}: the actions are kept"
        );
        assert!(
            store
                .fire_timer(t.id, &mut s, &[sms("Reminder")], t.due)
                .unwrap(),
            "{name}"
        );
        assert!(
            !store
                .fire_timer(t.id, &mut s, &[sms("Reminder again")], t.due)
                .unwrap(),
            "{name}: a second firing changes nothing"
        );
        let bodies = bodies(&*store);
        assert_eq!(bodies, ["Reminder"], "{name}");
        assert!(
            store
                .due_timers(at("2030-01-01T00:00:00Z"), 10)
                .unwrap()
                .is_empty(),
            "{name}"
        );
    }
}

#[test]
fn skipping_and_ending_leave_nothing_pending() {
    for (name, store) in stores("skip") {
        let mut s = new_session(&*store, "s1");
        store
            .apply(
                &mut s,
                &[
                    timer("a", "2026-03-05T15:00:00Z", 0),
                    timer("b", "2026-03-06T15:00:00Z", 0),
                ],
                at(NOW),
            )
            .unwrap();
        let a = store
            .due_timers(at("2026-03-05T15:00:00Z"), 10)
            .unwrap()
            .remove(0);
        assert!(
            store
                .skip_timer(a.id, "missed while the runtime was down", at(NOW))
                .unwrap(),
            "{name}"
        );
        assert!(!store.skip_timer(a.id, "again", at(NOW)).unwrap(), "{name}");
        assert!(
            store
                .events("s1")
                .unwrap()
                .iter()
                .any(|(_, e)| e == "timer `a` skipped: missed while the runtime was down"),
            "{name}"
        );
        s.status = Status::Ended;
        store
            .apply(&mut s, &[Effect::Log("session ended".into())], at(NOW))
            .unwrap();
        assert_eq!(
            store.next_timer_due().unwrap(),
            None,
            "{name}: ending cancels what was pending"
        );
        assert_eq!(
            store.session("s1").unwrap().unwrap().status,
            Status::Ended,
            "{name}"
        );
    }
}

#[test]
fn sqlite_keeps_everything_across_a_reopen() {
    let path = temp_db("reopen");
    {
        let store = SqliteStore::open(&path).unwrap();
        let mut s = new_session(&store, "s1");
        initialise(&mut s);
        store
            .apply(
                &mut s,
                &[timer("nudge", "2026-03-05T15:00:00Z", 0), sms("Hi")],
                at(NOW),
            )
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 11, "every migration ran");
    let mut s = store.session("s1").unwrap().unwrap();
    assert!(s.actor_initialized);
    assert_eq!(
        store.next_timer_due().unwrap(),
        Some(at("2026-03-05T15:00:00Z"))
    );
    assert_eq!(store.outbox(None).unwrap().len(), 1);
    // The timer from before the reopen is still known by its key: starting it again
    // replaces it, and ending the session cancels what is pending.
    store
        .apply(
            &mut s,
            &[timer("nudge", "2026-03-06T15:00:00Z", 0)],
            at(NOW),
        )
        .unwrap();
    let due: Vec<DateTime<Utc>> = store
        .due_timers(at("2030-01-01T00:00:00Z"), 10)
        .unwrap()
        .into_iter()
        .map(|t| t.due)
        .collect();
    assert_eq!(due, [at("2026-03-06T15:00:00Z")]);
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    let mut s = store.session("s1").unwrap().unwrap();
    s.status = Status::Ended;
    store.apply(&mut s, &[], at(NOW)).unwrap();
    assert_eq!(store.next_timer_due().unwrap(), None);
}

#[test]
fn sqlite_serves_one_process_at_a_time() {
    let path = temp_db("locked");
    let first = SqliteStore::open(&path).unwrap();
    let err = SqliteStore::open(&path).err().expect("refused while open");
    assert!(
        err.to_string().contains("in use by another journeyc"),
        "{err}"
    );
    drop(first);
    SqliteStore::open(&path).expect("free once the first has closed");
}

#[test]
fn a_failing_change_leaves_the_timers_as_they_were() {
    // The threads' failing changes share batches with the others' changes, so both a
    // whole batch's undo and a single change's are exercised.
    const THREADS: usize = 8;
    const ROUNDS: u32 = 20;
    let last_due = at(&format!("2026-03-{:02}T15:00:00Z", 4 + ROUNDS));
    for (name, store) in stores("failing-timers") {
        let store: Arc<dyn Store> = Arc::from(store);
        assert!(store.first_delivery("SMtaken", at(NOW)).unwrap());
        on_threads(&store, THREADS, |store, mut s, _| {
            for round in 1..=ROUNDS {
                let due = format!("2026-03-{:02}T15:00:00Z", 4 + round);
                store
                    .apply(&mut s, &[timer("k", &due, 0)], at(NOW))
                    .unwrap();
                // The taken delivery id fails the change: neither its stop nor its
                // start happens.
                let failing = [
                    Effect::StopTimer { key: "k".into() },
                    timer("x", "2026-03-05T15:00:00Z", 0),
                    Effect::Delivery("SMtaken".into()),
                ];
                assert!(store.apply(&mut s, &failing, at(NOW)).is_err());
            }
        });
        let due = store.due_timers(at("2030-01-01T00:00:00Z"), 1_000).unwrap();
        let mut sessions: Vec<&str> = due.iter().map(|t| t.session_id.as_str()).collect();
        sessions.sort_unstable();
        sessions.dedup();
        assert_eq!(
            (due.len(), sessions.len()),
            (THREADS, THREADS),
            "{name}: one timer per session"
        );
        assert!(
            due.iter().all(|t| t.key == "k" && t.due == last_due),
            "{name}: each the last `k` started"
        );
        for i in 0..THREADS {
            let mut s = store.session(&format!("s{i}")).unwrap().unwrap();
            store
                .apply(&mut s, &[Effect::StopTimer { key: "k".into() }], at(NOW))
                .unwrap();
        }
        assert_eq!(store.next_timer_due().unwrap(), None, "{name}");
    }
}

#[test]
fn the_sender_claims_each_message_once_and_records_what_twilio_said() {
    for (name, store) in stores("claim") {
        let mut s = new_session(&*store, "s1");
        initialise(&mut s);
        let other = Effect::Sms {
            to: PHONE.into(),
            from: "+15005550007".into(),
            body: "From another number".into(),
        };
        store
            .apply(
                &mut s,
                &[sms("One"), sms("Two"), other, sms("Three")],
                at(NOW),
            )
            .unwrap();
        // A busy sender number is skipped; the others' messages are claimed.
        let busy = vec!["+15005550006".to_string()];
        let claimed = store.claim_messages(10, &busy).unwrap();
        let bodies: Vec<&str> = claimed.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(bodies, ["From another number"], "{name}");
        let claimed = store.claim_messages(2, &[]).unwrap();
        let bodies: Vec<&str> = claimed.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(
            bodies,
            ["One", "Two"],
            "{name}: oldest first, at most the limit"
        );
        assert!(claimed.iter().all(|m| m.status == MessageStatus::Claimed));
        let rest = store.claim_messages(10, &[]).unwrap();
        assert_eq!(rest.len(), 1, "{name}: a message is claimed once");
        assert!(store.claim_messages(10, &[]).unwrap().is_empty());
        // Each is marked `sending` only as it is handed over, and once.
        let other = store.outbox(None).unwrap()[2].id;
        for id in [claimed[0].id, claimed[1].id, other] {
            assert!(store.start_sending(id).unwrap(), "{name}");
        }
        assert!(!store.start_sending(claimed[1].id).unwrap(), "{name}: once");

        store.message_sent(claimed[0].id, "SM1").unwrap();
        assert!(store
            .message_status_by_sid("SM1", MessageStatus::Delivered, None)
            .unwrap());
        assert!(!store
            .message_status_by_sid("SMnope", MessageStatus::Delivered, None)
            .unwrap());
        // A late `sent` or `failed` after `delivered` is answered, and changes nothing.
        assert!(store
            .message_status_by_sid("SM1", MessageStatus::Sent, Some("late"))
            .unwrap());
        assert!(store
            .message_status_by_sid("SM1", MessageStatus::Failed, Some("later"))
            .unwrap());
        // A crash leaves two `sending`: at start-up they become `unknown`; the one only
        // claimed was never handed over, and is pending again. A shared store recovers
        // the claims of a replica that stopped, so it is opened anew: another replica.
        let store = if name == "postgres" {
            drop(store);
            Box::new(PgStore::open(&postgres::same_url("claim")).unwrap())
        } else {
            store
        };
        assert_eq!(store.recover_sending().unwrap(), 2, "{name}");
        let three = store.outbox(None).unwrap()[3].id;
        assert_eq!(
            store.outbox(None).unwrap()[3].status,
            MessageStatus::Pending
        );
        assert_eq!(store.claim_messages(10, &[]).unwrap()[0].id, three);
        assert!(store.start_sending(three).unwrap());
        store
            .set_message_status(three, MessageStatus::Unknown, None)
            .unwrap();
        assert_eq!(
            store.release_claimed().unwrap(),
            0,
            "{name}: nothing claimed"
        );
        let statuses: Vec<(String, MessageStatus, Option<String>)> = store
            .outbox(None)
            .unwrap()
            .into_iter()
            .map(|m| (m.body, m.status, m.sid))
            .collect();
        use MessageStatus::*;
        assert_eq!(
            statuses,
            [
                ("One".into(), Delivered, Some("SM1".into())),
                ("Two".into(), Unknown, None),
                ("From another number".into(), Unknown, None),
                ("Three".into(), Unknown, None),
            ],
            "{name}"
        );
        // The unknown ones are found by status, a page at a time, oldest first.
        let bodies = |after: i64, limit: usize| -> Vec<(i64, String)> {
            store
                .messages_with_status(Unknown, after, limit)
                .unwrap()
                .into_iter()
                .map(|m| (m.id, m.body))
                .collect()
        };
        let first = bodies(0, 2);
        assert_eq!(
            first.iter().map(|(_, b)| b.as_str()).collect::<Vec<_>>(),
            ["Two", "From another number"],
            "{name}"
        );
        let rest = bodies(first[1].0, 2);
        assert_eq!(
            rest.iter().map(|(_, b)| b.as_str()).collect::<Vec<_>>(),
            ["Three"],
            "{name}"
        );
        let delivered: Vec<String> = store
            .messages_with_status(Delivered, 0, 10)
            .unwrap()
            .into_iter()
            .map(|m| m.body)
            .collect();
        assert_eq!(delivered, ["One"], "{name}");
        // Unknown messages count as sent for duplicate suppression.
        store.apply(&mut s, &[sms("Two")], at(NOW)).unwrap();
        assert_eq!(
            store.outbox(None).unwrap().last().unwrap().status,
            Suppressed,
            "{name}"
        );
        // An unknown message Twilio does not have is sent again once, and never after
        // it was sent again.
        assert!(store.resend_unknown(three, "absent").unwrap(), "{name}");
        assert!(
            !store.resend_unknown(three, "absent").unwrap(),
            "{name}: once"
        );
        assert!(store
            .claim_messages(10, &[])
            .unwrap()
            .iter()
            .any(|m| m.id == three));
        assert!(store.start_sending(three).unwrap());
        store.message_sent(three, "SM3").unwrap();
        assert!(
            !store.resend_unknown(three, "late").unwrap(),
            "{name}: it was sent"
        );
    }
}

#[test]
fn many_senders_marking_the_same_messages_at_once_hand_each_over_once() {
    for (name, store) in stores("sending_at_once") {
        let store: Arc<dyn Store> = Arc::from(store);
        let mut s = new_session(&*store, "s1");
        initialise(&mut s);
        let texts: Vec<Effect> = (0..40).map(|i| sms(&format!("Text {i}"))).collect();
        store.apply(&mut s, &texts, at(NOW)).unwrap();
        let ids: Vec<i64> = store
            .claim_messages(40, &[])
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(ids.len(), 40, "{name}");
        // Four callers per message, all at once: their marks share commits, and each
        // message is handed over by exactly one of them.
        let threads: Vec<_> = (0..160)
            .map(|i| {
                let (store, id) = (store.clone(), ids[i % 40]);
                std::thread::spawn(move || (id, store.start_sending(id).unwrap()))
            })
            .collect();
        let mut won = std::collections::HashMap::new();
        for t in threads {
            let (id, mine) = t.join().unwrap();
            *won.entry(id).or_insert(0) += usize::from(mine);
        }
        assert!(won.values().all(|&n| n == 1), "{name}: {won:?}");
        assert!(store
            .outbox(None)
            .unwrap()
            .iter()
            .all(|m| m.status == MessageStatus::Sending));
    }
}

#[test]
fn a_claim_is_given_back_only_while_it_is_still_held() {
    for (name, store) in stores("release_one") {
        let mut s = new_session(&*store, "s1");
        initialise(&mut s);
        store.apply(&mut s, &[sms("One")], at(NOW)).unwrap();
        let id = store.claim_messages(1, &[]).unwrap()[0].id;
        assert!(store.release_claim(id).unwrap(), "{name}");
        assert_eq!(
            store.outbox(None).unwrap()[0].status,
            MessageStatus::Pending
        );
        // Once it is on its way, it is not the outbox's again.
        assert_eq!(store.claim_messages(1, &[]).unwrap()[0].id, id, "{name}");
        assert!(store.start_sending(id).unwrap(), "{name}");
        assert!(!store.release_claim(id).unwrap(), "{name}");
        assert_eq!(
            store.outbox(None).unwrap()[0].status,
            MessageStatus::Sending
        );
    }
    // With replicas, only the one that holds the claim gives it back.
    let Some(url) = postgres::fresh_url("pg_release_one") else {
        return;
    };
    let (one, other) = (PgStore::open(&url).unwrap(), PgStore::open(&url).unwrap());
    let mut s = new_session(&one, "s1");
    initialise(&mut s);
    one.apply(&mut s, &[sms("One")], at(NOW)).unwrap();
    let id = one.claim_messages(1, &[]).unwrap()[0].id;
    assert!(!other.release_claim(id).unwrap());
    assert!(one.release_claim(id).unwrap());
}

#[test]
fn a_text_that_left_or_failed_keeps_no_journey_link_token() {
    const LINK: &str = "https://x.example/j/AAAAAAAAAAAAAAAAAAAAAAAA";
    for (name, store) in stores("redact") {
        let mut s = new_session(&*store, "s1");
        initialise(&mut s);
        let texts = [
            sms(&format!("Sent: {LINK}")),
            sms(&format!("Failed: {LINK}")),
            sms(&format!("Waiting: {LINK}")),
        ];
        store.apply(&mut s, &texts, at(NOW)).unwrap();
        let ids: Vec<i64> = store.outbox(None).unwrap().iter().map(|m| m.id).collect();
        store.message_sent(ids[0], "SM1").unwrap();
        store
            .set_message_status(ids[1], MessageStatus::Failed, Some("no"))
            .unwrap();
        let bodies = bodies(&*store);
        assert_eq!(
            bodies,
            [
                "Sent: https://x.example/j/[redacted]",
                "Failed: https://x.example/j/[redacted]",
                &format!("Waiting: {LINK}"),
            ],
            "{name}"
        );
    }
}

#[test]
fn expired_sessions_are_marked_and_leave_nothing_pending() {
    for (name, store) in stores("expire") {
        let mut s = new_session(&*store, "s1");
        initialise(&mut s);
        store
            .apply(&mut s, &[timer("t", "2026-06-01T00:00:00Z", 0)], at(NOW))
            .unwrap();
        let later = new_session(&*store, "s2");
        assert_eq!(store.next_expiry().unwrap(), Some(s.expires_at), "{name}");
        assert_eq!(store.expire_sessions(at(NOW), 10).unwrap(), 0, "{name}");
        // Cached by token before it expires: the cache must not keep it active.
        assert!(store.session_by_token(b"s1").unwrap().is_some());
        assert_eq!(
            store.expire_sessions(s.expires_at, 10).unwrap(),
            2,
            "{name}"
        );
        for id in ["s1", "s2"] {
            let found = store.session(id).unwrap().unwrap();
            assert_eq!(found.status, Status::Expired, "{name}: {id}");
        }
        let by_token = store.session_by_token(b"s1").unwrap().unwrap();
        assert_eq!(by_token.status, Status::Expired, "{name}");
        assert_eq!(
            store.next_timer_due().unwrap(),
            None,
            "{name}: timer cancelled"
        );
        assert_eq!(store.next_expiry().unwrap(), None, "{name}");
        assert!(store
            .events("s1")
            .unwrap()
            .iter()
            .any(|(_, e)| e == "session expired"));
        assert_eq!(
            store
                .active_session_for_phone(&later.journey, PHONE, at(NOW))
                .unwrap(),
            None,
            "{name}"
        );
    }
}

#[test]
fn a_session_found_by_token_is_never_stale_after_a_change() {
    for (name, store) in stores("fresh") {
        let mut s = new_session(&*store, "s1");
        // Read twice: the second read may come from a cache.
        for _ in 0..2 {
            let found = store.session_by_token(b"s1").unwrap().unwrap();
            assert!(!found.actor_initialized, "{name}");
        }
        initialise(&mut s);
        store
            .apply(&mut s, &[timer("t", "2026-03-04T15:00:00Z", 0)], at(NOW))
            .unwrap();
        let found = store.session_by_token(b"s1").unwrap().unwrap();
        assert!(found.actor_initialized, "{name}: a change by apply is seen");
        // A timer firing changes the session too.
        let timer_id = store.due_timers(at(NOW), 10).unwrap()[0].id;
        s.status = Status::Ended;
        assert!(store.fire_timer(timer_id, &mut s, &[], at(NOW)).unwrap());
        let found = store.session_by_token(b"s1").unwrap().unwrap();
        assert_eq!(
            found.status,
            Status::Ended,
            "{name}: a change by a timer is seen"
        );
    }
}

#[test]
fn webhook_deliveries_are_seen_once_and_secrets_outlive_a_reopen() {
    for (name, store) in stores("deliveries") {
        assert!(store.first_delivery("SMa", at(NOW)).unwrap(), "{name}");
        assert!(!store.first_delivery("SMa", at(NOW)).unwrap(), "{name}");
        assert!(store.delivery_seen("SMa").unwrap(), "{name}");
        assert!(!store.delivery_seen("SMb").unwrap(), "{name}");
        // A delivery kept with a session's effects: a second one fails as a whole.
        let mut s = new_session(&*store, "s1");
        initialise(&mut s);
        let with_delivery = [Effect::Delivery("SMc".into()), sms("Once")];
        store.apply(&mut s, &with_delivery, at(NOW)).unwrap();
        assert!(store.delivery_seen("SMc").unwrap(), "{name}");
        assert!(
            store.apply(&mut s, &with_delivery, at(NOW)).is_err(),
            "{name}"
        );
        assert_eq!(
            store.outbox(Some("s1")).unwrap().len(),
            1,
            "{name}: nothing twice"
        );
        let key = store.secret("csrf").unwrap();
        assert_eq!(key.len(), 32);
        assert_eq!(store.secret("csrf").unwrap(), key, "{name}");
        assert_ne!(store.secret("other").unwrap(), key, "{name}");
        store.ping().unwrap();
    }
    let path = temp_db("secret");
    let key = SqliteStore::open(&path).unwrap().secret("csrf").unwrap();
    assert_eq!(
        SqliteStore::open(&path).unwrap().secret("csrf").unwrap(),
        key
    );
}

#[test]
fn sqlite_refuses_a_database_from_a_newer_version() {
    let path = temp_db("newer");
    drop(SqliteStore::open(&path).unwrap());
    // As a newer journeyc would leave it.
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = SqliteStore::open(&path).err().expect("refused");
    assert!(err.to_string().contains("newer journeyc"), "{err}");
}

/// Starts sessions `s0` to `s{n-1}`, then runs `work` for each session on a thread of
/// its own, all at once, and returns when every thread is done.
fn on_threads(
    store: &Arc<dyn Store>,
    n: usize,
    work: impl Fn(&dyn Store, SessionState, usize) + Send + Sync + 'static,
) {
    for i in 0..n {
        new_session(&**store, &format!("s{i}"));
    }
    let work = Arc::new(work);
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (store, work) = (store.clone(), work.clone());
            std::thread::spawn(move || {
                let s = store.session(&format!("s{i}")).unwrap().unwrap();
                work(&*store, s, i);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn concurrent_changes_all_land_and_a_failing_one_undoes_only_itself() {
    // Enough threads for large batches, whose waiters wake one another in turn, with
    // failing changes spread among the ones that succeed.
    const THREADS: usize = 32;
    for (name, store) in stores("concurrent") {
        let store: Arc<dyn Store> = Arc::from(store);
        on_threads(&store, THREADS, |store, mut s, i| {
            for k in 0..50 {
                store
                    .apply(
                        &mut s,
                        &[timer(&format!("t{k}"), "2026-03-05T15:00:00Z", 0)],
                        at(NOW),
                    )
                    .unwrap();
                if k % 10 == i % 10 {
                    // A second session with a taken id fails alone.
                    let mut clash = SessionState::new(format!("s{i}"), &journey(), "link", at(NOW));
                    assert!(store
                        .create_session(&mut clash, format!("other{i}-{k}").as_bytes(), at(NOW))
                        .is_err());
                }
            }
        });
        assert_eq!(
            store
                .due_timers(at("2030-01-01T00:00:00Z"), 10_000)
                .unwrap()
                .len(),
            THREADS * 50,
            "{name}"
        );
    }
}

#[test]
fn a_batch_of_firings_commits_together_and_skips_what_is_no_longer_pending() {
    for (name, store) in stores("fire-batch") {
        let mut s = new_session(&*store, "s1");
        initialise(&mut s);
        store
            .apply(
                &mut s,
                &[
                    timer("a", "2026-03-05T15:00:00Z", 0),
                    timer("b", "2026-03-05T15:00:00Z", 0),
                ],
                at(NOW),
            )
            .unwrap();
        let mut s2 = new_session(&*store, "s2");
        store
            .apply(&mut s2, &[timer("c", "2026-03-05T15:00:00Z", 0)], at(NOW))
            .unwrap();
        let due = store.due_timers(at("2026-03-05T15:00:00Z"), 10).unwrap();
        let (a, b, c) = (due[0].id, due[1].id, due[2].id);
        assert!(store.fire_timer(a, &mut s, &[], at(NOW)).unwrap());
        let fired = store
            .fire_timers(
                vec![
                    (a, s.clone(), vec![sms("from a")]),
                    (c, s2.clone(), vec![sms("from c")]),
                ],
                at(NOW),
            )
            .unwrap();
        let fired: Vec<bool> = fired.into_iter().map(|f| f.unwrap().is_some()).collect();
        assert_eq!(fired, [false, true], "{name}");
        // What fired later in `s1` was based on `a` having fired: it is not written.
        let later = store
            .fire_timers(
                vec![(a, s.clone(), vec![]), (b, s.clone(), vec![])],
                at(NOW),
            )
            .unwrap();
        assert!(
            matches!(later[..], [Ok(None), Err(ref e)] if e.is_conflict()),
            "{name}: {later:?}"
        );
        let bodies = bodies(&*store);
        assert_eq!(bodies, ["from c"], "{name}: only what fired left effects");
    }
}

/// Runs `f` on a thread and fails, rather than hangs, if it takes longer than a minute.
fn within_a_minute(f: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    match finished.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(()) => worker.join().unwrap(),
        // The thread panicked: its panic is the failure.
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => worker.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("queued changes did not all resolve within a minute")
        }
    }
}

#[test]
fn queued_changes_resolve_waited_awaited_or_dropped() {
    for (name, store) in stores("queued") {
        let store: Arc<dyn Store> = store.into();
        let s = store.clone();
        within_a_minute(move || {
            let j = journey();
            let mut sessions: Vec<SessionState> = (0..300)
                .map(|i| SessionState::new(format!("q{i}"), &j, "link", at(NOW)))
                .collect();
            // Queued together, waited for in order: each resolves, and with success.
            let queued: Vec<_> = sessions
                .iter()
                .map(|x| s.create_session_queued(x, x.id.as_bytes(), &[], at(NOW)))
                .collect();
            for durable in queued {
                durable.wait().unwrap();
            }
            // Each change names the revision it follows: a new session is at 1.
            sessions.iter_mut().for_each(|x| x.revision = 1);
            // Every third dropped unawaited, the rest waited for in reverse order, then
            // more awaited by tasks: none is held up by another.
            let mut queued: Vec<_> = sessions
                .iter()
                .enumerate()
                .filter_map(|(i, x)| {
                    let d = s.apply_queued(x, &[timer("a", "2026-03-05T09:00:00Z", 0)], at(NOW));
                    (i % 3 != 0).then_some(d)
                })
                .collect();
            while let Some(durable) = queued.pop() {
                durable.wait().unwrap();
            }
            // Adding a timer changed no state: the revision is still 1.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            runtime.block_on(async {
                let tasks: Vec<_> = sessions
                    .iter()
                    .map(|x| {
                        let d =
                            s.apply_queued(x, &[timer("b", "2026-03-05T09:00:00Z", 0)], at(NOW));
                        tokio::spawn(d)
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap().unwrap();
                }
            });
        });
        // What was dropped unawaited was still committed.
        let due = store
            .due_timers(at("2026-03-06T00:00:00Z"), 10_000)
            .unwrap();
        assert_eq!(due.len(), 600, "{name}: two timers in each of 300 sessions");
        for i in [0, 1, 299] {
            assert!(store.session(&format!("q{i}")).unwrap().is_some(), "{name}");
        }
    }
}

#[test]
fn a_change_based_on_an_old_revision_writes_nothing_effects_included() {
    for (name, store) in stores("revisions") {
        let mut s = new_session(&*store, "s1");
        assert_eq!(s.revision, 1, "{name}: a new session is at revision 1");
        assert_eq!(store.session("s1").unwrap().unwrap().revision, 1, "{name}");
        initialise(&mut s);
        store.apply(&mut s, &[], at(NOW)).unwrap();
        assert_eq!(
            s.revision, 2,
            "{name}: a change of state moves the revision"
        );
        store
            .apply(&mut s, &[timer("k", "2026-03-05T15:00:00Z", 0)], at(NOW))
            .unwrap();
        assert_eq!(s.revision, 2, "{name}: a change of effects only does not");
        let mut stale = s.clone();
        s.vars[0] = Value::Text("kept".into());
        store.apply(&mut s, &[], at(NOW)).unwrap();
        assert_eq!(s.revision, 3, "{name}");
        // An effects-only change based on revision 2 is refused as well.
        let mut late = stale.clone();
        let err = store.apply(&mut late, &[sms("Late")], at(NOW)).unwrap_err();
        assert!(err.is_conflict(), "{name}: {err}");
        // Based on revision 2, when the session is at 3: nothing of it is written.
        stale.vars[0] = Value::Text("lost".into());
        stale.status = Status::Ended;
        let effects = [
            sms("Hello"),
            timer("x", "2026-03-05T15:00:00Z", 0),
            Effect::StopTimer { key: "k".into() },
            Effect::Log("from the stale change".into()),
            Effect::Delivery("SMstale".into()),
        ];
        let err = store.apply(&mut stale, &effects, at(NOW)).unwrap_err();
        assert!(err.is_conflict(), "{name}: {err}");
        assert_eq!(
            stale.revision, 2,
            "{name}: a failed change moves no revision"
        );
        assert_eq!(store.session("s1").unwrap().as_ref(), Some(&s), "{name}");
        assert!(store.outbox(None).unwrap().is_empty(), "{name}: no SMS");
        let due = store.due_timers(at("2030-01-01T00:00:00Z"), 10).unwrap();
        assert_eq!(due.len(), 1, "{name}: `k` still pending, no `x`");
        assert_eq!(due[0].key, "k", "{name}");
        assert!(!store.delivery_seen("SMstale").unwrap(), "{name}");
        assert!(
            !store
                .events("s1")
                .unwrap()
                .iter()
                .any(|(_, t)| t == "from the stale change"),
            "{name}: no log line"
        );
        // A firing based on an old revision is not written either, and the timer stays
        // due; based on the current one, it fires.
        let err = store
            .fire_timer(due[0].id, &mut stale, &[sms("Reminder")], at(NOW))
            .unwrap_err();
        assert!(err.is_conflict(), "{name}: {err}");
        assert!(store.outbox(None).unwrap().is_empty(), "{name}");
        assert!(store
            .fire_timer(due[0].id, &mut s, &[sms("Reminder")], at(NOW))
            .unwrap());
        assert_eq!(
            s.revision, 3,
            "{name}: a firing that only texts changes no state"
        );
        assert_eq!(store.outbox(None).unwrap().len(), 1, "{name}");
        assert_eq!(store.next_timer_due().unwrap(), None, "{name}");
    }
}

#[test]
fn read_change_write_loops_on_many_threads_lose_no_update() {
    // Each thread counts in one variable of one shared session, and on a conflict reads
    // the session again and redoes its change, as the engine does.
    const THREADS: usize = 8;
    const ROUNDS: usize = 25;
    for (name, store) in stores("revision-threads") {
        let store: Arc<dyn Store> = Arc::from(store);
        let mut s = new_session(&*store, "shared");
        s.vars[0] = Value::Number(0.0);
        store.apply(&mut s, &[], at(NOW)).unwrap();
        let conflicts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let (store, conflicts) = (store.clone(), conflicts.clone());
                std::thread::spawn(move || {
                    for k in 0..ROUNDS {
                        loop {
                            let mut s = store.session("shared").unwrap().unwrap();
                            let Value::Number(n) = s.vars[0] else {
                                panic!()
                            };
                            s.vars[0] = Value::Number(n + 1.0);
                            let log = Effect::Log(format!("{t}-{k}"));
                            match store.apply(&mut s, &[log], at(NOW)) {
                                Ok(()) => break,
                                Err(e) if e.is_conflict() => {
                                    conflicts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                }
                                Err(e) => panic!("{e}"),
                            }
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = store.session("shared").unwrap().unwrap();
        let total = (THREADS * ROUNDS) as f64;
        assert_eq!(s.vars[0], Value::Number(total), "{name}: no update lost");
        assert_eq!(s.revision, 2 + (THREADS * ROUNDS) as u64, "{name}");
        let logged = store.events("shared").unwrap().len();
        assert_eq!(logged, THREADS * ROUNDS, "{name}: one line per change kept");
        eprintln!(
            "{name}: {} conflicts",
            conflicts.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
}

#[test]
fn versions_are_kept_once_per_fingerprint_and_sessions_counted_by_version() {
    for (name, store) in stores("versions") {
        let now = at(NOW);
        assert_eq!(
            store.deploy("J", "fp1", 1, "{}", now).unwrap(),
            (1, true),
            "{name}"
        );
        assert_eq!(
            store.deploy("J", "fp1", 1, "{}", now).unwrap(),
            (1, false),
            "{name}"
        );
        assert_eq!(
            store.deploy("J", "fp2", 1, "{\"a\":1}", now).unwrap(),
            (2, true)
        );
        assert_eq!(
            store.deploy("K", "fp1", 1, "{}", now).unwrap(),
            (1, true),
            "per journey"
        );
        let kept: Vec<(String, u32, String)> = store
            .journey_versions()
            .unwrap()
            .into_iter()
            .map(|v| (v.journey, v.version, v.ir))
            .collect();
        assert_eq!(
            kept,
            [
                ("J".into(), 1, "{}".into()),
                ("J".into(), 2, "{\"a\":1}".into()),
                ("K".into(), 1, "{}".into())
            ],
            "{name}"
        );
        // Sessions from before versions get the version deployed; counts follow.
        let old = new_session(&*store, "old");
        let name_of = old.journey.clone();
        assert_eq!(old.version, 0);
        assert_eq!(store.adopt_unversioned(&name_of, 3).unwrap(), 1, "{name}");
        assert_eq!(store.session("old").unwrap().unwrap().version, 3);
        let mut newer = SessionState::new("newer".into(), &journey(), "link", now);
        newer.version = 4;
        store.create_session(&mut newer, b"newer", now).unwrap();
        assert_eq!(
            store.live_sessions_by_version().unwrap(),
            [(name_of.clone(), 3, 1), (name_of.clone(), 4, 1)],
            "{name}"
        );
        assert_eq!(store.live_session_ids(&name_of, 4).unwrap(), ["newer"]);
        // A session that cannot run is failed whatever its revision, its timers gone.
        store
            .apply(&mut newer, &[timer("t", "2026-03-05T15:00:00Z", 0)], now)
            .unwrap();
        assert_eq!(store.session_timers("newer").unwrap().len(), 1, "{name}");
        store.fail_session("newer", "it does not fit", now).unwrap();
        assert!(store.session_timers("newer").unwrap().is_empty(), "{name}");
        assert_eq!(store.next_timer_due().unwrap(), None, "{name}");
        assert_eq!(
            store.session("newer").unwrap().unwrap().status,
            Status::Failed
        );
        assert!(store
            .events("newer")
            .unwrap()
            .iter()
            .any(|(_, t)| t == "session failed: it does not fit"));
        assert_eq!(
            store.live_sessions_by_version().unwrap(),
            [(name_of, 3, 1)],
            "{name}"
        );
    }
}

#[test]
fn recent_sessions_are_listed_newest_first_whatever_their_status() {
    for (name, store) in stores("recent") {
        for id in ["a", "b", "c"] {
            new_session(&*store, id);
        }
        let mut ended = store.session("b").unwrap().unwrap();
        ended.status = Status::Ended;
        store
            .apply(&mut ended, &[], at("2026-03-02T16:00:00Z"))
            .unwrap();
        assert_eq!(
            store.recent_session_ids(10).unwrap(),
            ["c", "b", "a"],
            "{name}: every session, newest first"
        );
        assert_eq!(store.recent_session_ids(2).unwrap(), ["c", "b"], "{name}");
        assert!(store.recent_session_ids(0).unwrap().is_empty(), "{name}");
    }
}

#[test]
fn postgres_replicas_starting_together_migrate_once_and_share_what_is_kept() {
    let Some(url) = postgres::fresh_url("pg_replicas") else {
        return;
    };
    let opened: Vec<PgStore> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| PgStore::open(&url).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        postgres::number(&url, "SELECT COUNT(*) FROM journeyc_migrations"),
        opened[0].schema_version().unwrap(),
        "each migration ran once"
    );
    // Each knows the others are serving (what came due before it started is theirs).
    assert_eq!(opened[0].live_peers().unwrap(), 3);
    // What one replica keeps, another reads; a schedule's instant goes to one of them.
    let mut s = new_session(&opened[0], "shared");
    initialise(&mut s);
    opened[0]
        .apply(&mut s, &[timer("a", "2026-03-05T09:00:00Z", 0)], at(NOW))
        .unwrap();
    let seen = opened[1].session("shared").unwrap().expect("kept for all");
    assert_eq!(seen.revision, s.revision);
    assert_eq!(opened[2].session_timers("shared").unwrap().len(), 1);
    let next = at("2026-03-05T10:00:00Z");
    let claimed: Vec<bool> = std::thread::scope(|scope| {
        let handles: Vec<_> = opened
            .iter()
            .map(|store| scope.spawn(move || store.claim_schedule("J", 0, None, next).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(claimed.iter().filter(|c| **c).count(), 1, "{claimed:?}");
    // A change based on what another replica replaced conflicts.
    let mut stale = seen.clone();
    stale.vars[0] = Value::Text("lost".into());
    let mut other = opened[3].session("shared").unwrap().unwrap();
    other.vars[0] = Value::Text("one".into());
    opened[3].apply(&mut other, &[], at(NOW)).unwrap();
    let err = opened[2].apply(&mut stale, &[], at(NOW)).unwrap_err();
    assert!(err.is_conflict(), "{err}");
    drop(opened);
    // Everything outlives the replicas.
    let again = PgStore::open(&url).unwrap();
    assert_eq!(
        again.live_peers().unwrap(),
        0,
        "stopped replicas say goodbye"
    );
    assert_eq!(
        again.session("shared").unwrap().unwrap().vars[0],
        Value::Text("one".into())
    );
    assert_eq!(again.session_timers("shared").unwrap().len(), 1);
}

#[test]
fn postgres_reads_by_token_see_every_change_another_replica_committed_before() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
    let Some(url) = postgres::fresh_url("pg_token_reads") else {
        return;
    };
    let reader = Arc::new(PgStore::open(&url).unwrap());
    let writer = PgStore::open(&url).unwrap();
    let mut s = new_session(&writer, "t1");
    initialise(&mut s);
    let committed = Arc::new(AtomicU64::new(s.revision));
    let done = AtomicBool::new(false);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let reads = std::thread::scope(|scope| {
        scope.spawn(|| {
            for i in 0..40 {
                s.vars[0] = Value::Text(format!("change {i}"));
                writer.apply(&mut s, &[], at(NOW)).unwrap();
                committed.store(s.revision, SeqCst);
            }
            done.store(true, SeqCst);
        });
        // Rounds of 64 reads at once on the other replica, which keeps copies and
        // reads together: each must see what was committed before it was asked.
        rt.block_on(async {
            let mut reads = 0;
            while !done.load(SeqCst) {
                let round: Vec<_> = (0..64)
                    .map(|i| {
                        let (reader, committed) = (reader.clone(), committed.clone());
                        tokio::spawn(async move {
                            let token: &[u8] = if i % 8 == 0 { b"no such token" } else { b"t1" };
                            let floor = committed.load(SeqCst);
                            let found = reader.session_by_token_async(token).await.unwrap();
                            (i, floor, found)
                        })
                    })
                    .collect();
                for task in round {
                    let (i, floor, found) = task.await.unwrap();
                    reads += 1;
                    let Some(found) = found else {
                        assert_eq!(i % 8, 0, "the session is found");
                        continue;
                    };
                    assert_ne!(i % 8, 0, "an unknown token finds nothing");
                    assert!(
                        found.revision >= floor,
                        "read revision {} after {floor} was committed",
                        found.revision
                    );
                    if found.revision >= 2 {
                        let change = format!("change {}", found.revision - 2);
                        assert_eq!(
                            found.vars[0],
                            Value::Text(change),
                            "state and revision agree"
                        );
                    }
                }
            }
            reads
        })
    });
    assert!(reads >= 64, "{reads} reads");
    // The last change is read, whole, by the replica that did not make it, waiting on
    // a thread, and in a task of a runtime started after the first one shut down.
    let last = reader.session_by_token(b"t1").unwrap().unwrap();
    assert_eq!(last.revision, s.revision);
    assert_eq!(last.vars[0], Value::Text("change 39".into()));
    drop(rt);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let again = rt
        .block_on(reader.session_by_token_async(b"t1"))
        .unwrap()
        .unwrap();
    assert_eq!(again, last);
}

#[test]
fn postgres_reads_by_token_stay_right_when_the_kept_copies_are_full() {
    let Some(url) = postgres::fresh_url("pg_token_copies") else {
        return;
    };
    // More sessions than a replica keeps copies of (10,000).
    const SESSIONS: usize = 10_100;
    let store = Arc::new(PgStore::open(&url).unwrap());
    std::thread::scope(|scope| {
        for t in 0..16 {
            let store = store.clone();
            scope.spawn(move || {
                for i in (t..SESSIONS).step_by(16) {
                    let id = format!("k{i}");
                    let s = SessionState::new(id.clone(), &journey(), "link", at(NOW));
                    store
                        .create_session_queued(&s, id.as_bytes(), &[], at(NOW))
                        .wait()
                        .unwrap();
                }
            });
        }
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let read_at_once = |tokens: Vec<usize>| {
        let reads: Vec<_> = tokens
            .into_iter()
            .map(|i| {
                let store = store.clone();
                rt.spawn(async move {
                    let token = format!("k{i}");
                    let found = store.session_by_token_async(token.as_bytes()).await;
                    (token, found)
                })
            })
            .collect();
        rt.block_on(async {
            for read in reads {
                let (token, found) = read.await.unwrap();
                let found = found.unwrap_or_else(|e| panic!("{token}: {e}"));
                assert_eq!(found.map(|s| s.id), Some(token));
            }
        });
    };
    // The reader keeps a copy of each of 10,000 sessions: it is full.
    for round in (0..10_000).step_by(250) {
        read_at_once((round..round + 250).collect());
    }
    // Then kept and new tokens at once, so that the copies start again in the middle
    // of a query's answer, between rows that came back without their state.
    for round in 0..2 {
        let kept = (round * 50..round * 50 + 50).map(|i| i * 7);
        let new = 10_000 + round * 50..10_000 + round * 50 + 50;
        read_at_once(kept.zip(new).flat_map(|(a, b)| [a, b]).collect());
    }
}

#[test]
fn postgres_a_webhook_another_replica_is_recording_fails_at_once_and_its_outcome_is_awaited() {
    let Some(url) = postgres::fresh_url("pg_claims") else {
        return;
    };
    let store = Arc::new(PgStore::open(&url).unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Another replica's change recording each id, still open.
    let other = rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
    });
    for (n, (sid, end)) in [("SMkept", "COMMIT"), ("SMundone", "ROLLBACK")]
        .into_iter()
        .enumerate()
    {
        rt.block_on(other.batch_execute(&format!(
            "BEGIN; INSERT INTO deliveries (sid, at) VALUES (journeyc_claim_delivery('{sid}'), 0)"
        )))
        .unwrap();
        // The copy's change fails without waiting: waiting could deadlock two batches.
        let mut s = new_session(&*store, &format!("s{n}"));
        initialise(&mut s);
        let (done, answer) = std::sync::mpsc::channel();
        let copy = store.clone();
        std::thread::spawn(move || {
            let _ =
                done.send(copy.apply(&mut s, &[Effect::Delivery(sid.into()), sms("Hi")], at(NOW)));
        });
        let err = answer
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the copy's change waited for the other")
            .unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert!(!store.delivery_seen(sid).unwrap(), "not yet kept");
        // Its outcome is awaited, then read.
        let settled = std::thread::scope(|scope| {
            let waiting = scope.spawn(|| store.delivery_settled(sid).unwrap());
            std::thread::sleep(std::time::Duration::from_millis(300));
            assert!(!waiting.is_finished(), "{sid}: waits for the other change");
            rt.block_on(other.batch_execute(end)).unwrap();
            waiting.join().unwrap()
        });
        assert_eq!(settled, end == "COMMIT", "{sid}");
        assert!(store.outbox(Some(&format!("s{n}"))).unwrap().is_empty());
    }
    // Once the other change is over, the id can be kept again if it was undone.
    let mut s = new_session(&*store, "again");
    initialise(&mut s);
    store
        .apply(&mut s, &[Effect::Delivery("SMundone".into())], at(NOW))
        .unwrap();
    assert!(store.delivery_seen("SMundone").unwrap());
}

#[test]
fn postgres_texts_queued_before_version_3_lose_their_link_when_sent() {
    let Some(url) = postgres::fresh_url("pg_redacted_upgrade") else {
        return;
    };
    let store = PgStore::open(&url).unwrap();
    let mut s = new_session(&store, "s1");
    initialise(&mut s);
    let body = "Finish here: https://x.example/j/AAAAAAAAAAAAAAAAAAAAAAAA thanks";
    store.apply(&mut s, &[sms(body)], at(NOW)).unwrap();
    drop(store);
    // As version 2 left it: no redacted body kept beside the text (and no number held).
    postgres::psql(
        &url,
        "ALTER TABLE outbox DROP COLUMN redacted; ALTER TABLE sessions DROP COLUMN start_phone; \
         DROP FUNCTION journeyc_claim_number; DELETE FROM journeyc_migrations WHERE version >= 3",
    );
    let store = PgStore::open(&url).unwrap();
    let m = &store.claim_messages(1, &[]).unwrap()[0];
    assert_eq!(m.body, body, "the text goes out whole");
    assert!(store.start_sending(m.id).unwrap());
    store.message_sent(m.id, "SMold").unwrap();
    assert_eq!(
        store.outbox(None).unwrap()[0].body,
        "Finish here: https://x.example/j/[redacted] thanks"
    );
    // As a replica older than version 3 queues it during a rolling upgrade.
    store
        .apply(&mut s, &[sms(&format!("{body} again"))], at(NOW))
        .unwrap();
    postgres::psql(&url, "UPDATE outbox SET redacted = NULL");
    let m = &store.claim_messages(1, &[]).unwrap()[0];
    assert!(store.start_sending(m.id).unwrap());
    store.message_sent(m.id, "SMolder").unwrap();
    assert_eq!(
        store.outbox(None).unwrap()[1].body,
        "Finish here: https://x.example/j/[redacted] thanks again"
    );
}

#[test]
fn postgres_refuses_a_database_from_a_newer_version() {
    let Some(url) = postgres::fresh_url("pg_newer") else {
        return;
    };
    drop(PgStore::open(&url).unwrap());
    postgres::psql(
        &url,
        "INSERT INTO journeyc_migrations (version) VALUES (999)",
    );
    let err = PgStore::open(&url).err().expect("refused");
    assert!(err.to_string().contains("newer journeyc"), "{err}");
}

#[test]
fn postgres_that_cannot_be_reached_is_unavailable_with_no_password_shown() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = PgStore::open(&format!("postgres://u:hunter2@127.0.0.1:{port}/db"))
        .err()
        .expect("refused");
    assert!(
        matches!(err, journeyc::runtime::store::StoreError::Unavailable(_)),
        "{err:?}"
    );
    assert!(err.to_string().contains("u:***@127.0.0.1"), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn postgres_with_sslmode_require_connects_over_tls() {
    let Some(url) = postgres::fresh_url("pg_tls") else {
        return;
    };
    if postgres::query(&url, "SHOW ssl")[0][0] != "on" {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED TLS: the PostgreSQL server has ssl = off"
        );
        return;
    }
    let store = PgStore::open(&format!(
        "{url}&sslmode=require&application_name=journeyc_tls"
    ))
    .unwrap();
    new_session(&store, "over-tls");
    // Every kind of connection: the pool's, the shared readers' and the token reader's.
    assert!(!store.is_opted_out("+15005550006").unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let by_token = rt.block_on(store.session_by_token_async(b"over-tls"));
    assert!(by_token.unwrap().is_some());
    let connections = postgres::number(
        &url,
        "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'journeyc_tls'",
    );
    assert!(connections >= 3, "{connections} connections");
    let encrypted = postgres::number(
        &url,
        "SELECT COUNT(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE ssl AND application_name = 'journeyc_tls'",
    );
    assert!(encrypted > 0, "the store's connections use TLS");
    let plain = postgres::number(
        &url,
        "SELECT COUNT(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE NOT ssl AND application_name = 'journeyc_tls'",
    );
    assert_eq!(plain, 0, "and none goes in clear");
    assert!(store.session("over-tls").unwrap().is_some());
}

#[test]
fn a_shared_store_keeps_one_send_budget_per_number() {
    for (name, store) in stores("send-budget") {
        let gap = std::time::Duration::from_millis(200);
        let slots: Vec<_> = (0..3)
            .map(|_| store.reserve_send("+15005550006", gap).unwrap())
            .collect();
        if !store.shared() {
            // One process paces its own numbers.
            assert!(slots.iter().all(Option::is_none), "{name}");
            continue;
        }
        let slots: Vec<DateTime<Utc>> = slots.into_iter().map(Option::unwrap).collect();
        for pair in slots.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::milliseconds(200), "{name}");
        }
        // Another number has a budget of its own.
        let other = store.reserve_send("+15005550007", gap).unwrap().unwrap();
        assert!(other < slots[1], "{name}");
    }
}
