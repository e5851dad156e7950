//! `journeyc test`: runs a checked `test` block on the real engine, through the same
//! calls every front end makes (`runtime::web` for pages, the engine's inbound text,
//! call, API and schedule entries, `advance` for time), with a private store in memory
//! and a manual clock. Nothing leaves the process: the outbox is read, never sent.
//!
//! A run is deterministic: the clock starts at the test's instant, session ids are
//! `s1`, `s2`, ... and journey links are derived from them under a fixed key, so the
//! same test does the same thing every time. Each test gets an engine of its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde_json::Value as Json;

use crate::coverage::{Item, Reached};
use crate::ir::{self, TestAction, TestPlace};
use crate::runtime::clock::{Clock, ManualClock};
use crate::runtime::engine::{Engine, JourneyLink, Reply, Start};
use crate::runtime::input;
use crate::runtime::probe::Heard;
use crate::runtime::session::SessionState;
use crate::runtime::sqlite::SqliteStore;
use crate::runtime::store::{MessageStatus, StoreError};
use crate::runtime::web::{Part, Press, Submitted, View};
use crate::runtime::{links, Value};

/// Where test journey links point; no server answers there.
pub const LINK_BASE: &str = "https://journey.test";
/// The key test journey links are derived under: fixed, so links are stable.
const LINK_KEY: &[u8] = b"journeyc test: not a secret";
/// Lines of a session's event log a failure shows, newest last.
const LOG_LINES: usize = 12;

/// What one test did.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub name: String,
    /// Steps run, the failing one included.
    pub steps: usize,
    pub failure: Option<Failure>,
    pub reached: Reached,
}

/// Where and how a test failed.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// The failing step's line, as byte offsets in the test's file.
    pub span: (usize, usize),
    /// What the step expected or tried.
    pub expected: String,
    /// What happened instead.
    pub found: String,
    /// What happened last: the test's steps and texts, and the current session's event
    /// log, oldest first.
    pub log: Vec<String>,
}

/// A text the person's phone got, in the order they were queued.
#[derive(Clone, Debug)]
struct Text {
    session: String,
    to: String,
    body: String,
    /// The outbox's id; `None` for an answer given in the webhook's reply (HELP).
    id: Option<i64>,
    status: MessageStatus,
    notification: Option<String>,
}

/// Runs `test` with `journeys` (at least those it names).
pub fn run(test: &ir::Test, journeys: &[ir::Journey]) -> Outcome {
    let mut outcome = Outcome {
        name: test.name.clone(),
        steps: 0,
        failure: None,
        reached: Reached::default(),
    };
    let mut runner = match Runner::new(test, journeys) {
        Ok(r) => r,
        Err(e) => {
            outcome.failure = Some(Failure {
                span: test.span,
                expected: "a fresh engine for the test".into(),
                found: e.to_string(),
                log: vec![],
            });
            return outcome;
        }
    };
    for step in &test.steps {
        outcome.steps += 1;
        if !is_expectation(&step.action) {
            runner.note(format!("test: {}", describe(&step.action)));
        }
        let result = runner.step(&step.action);
        // Whatever the step did is in the outbox now; and the page the session is on is
        // reached, however it got there.
        let looked = matches!(
            step.action,
            TestAction::OpenLink { .. }
                | TestAction::OpenJourneyLink
                | TestAction::Press { .. }
                | TestAction::ExpectPage { .. }
                | TestAction::ExpectText { .. }
        );
        let seen = runner.collect().and_then(|()| runner.note_place(looked));
        runner.follow_log();
        if let Err(found) = result.and_then(|()| seen.map_err(|e| e.to_string())) {
            outcome.failure = Some(Failure {
                span: step.span,
                expected: describe(&step.action),
                found,
                log: runner.log_tail(),
            });
            break;
        }
    }
    outcome.reached = runner.reached.lock().map(|r| r.clone()).unwrap_or_default();
    outcome
}

struct Runner {
    engine: Engine,
    clock: ManualClock,
    /// The session the test talks to: the last one started or texted.
    current: Option<String>,
    /// What `fill` typed, for the next `press`.
    fields: HashMap<String, String>,
    /// The page as shown after a press whose fields were not accepted.
    invalid: Option<crate::runtime::web::PageModel>,
    /// Whether the person is within the web flow (has pressed a button since opening).
    within_flow: bool,
    /// The words of the last call.
    said: Vec<String>,
    texts: Vec<Text>,
    /// `texts[..counted]` were accounted for by an SMS expectation.
    counted: usize,
    /// Texts an `expect sms` has matched.
    matched: Vec<bool>,
    /// The highest outbox id read.
    outbox_seen: i64,
    /// Per session, the notifications sent and how many texts each made, not yet
    /// matched to the outbox.
    sent: SentBy,
    reached: Arc<Mutex<Reached>>,
    ids: Arc<Mutex<u32>>,
    /// What the test did and saw, with the clock's time, and the current session's
    /// event log as it grew, in the order it happened: a failure shows its end.
    trail: Vec<(DateTime<Utc>, String)>,
    /// How many lines of each session's event log are in the trail.
    logged: HashMap<String, usize>,
}

type Step = Result<(), String>;

/// Per session, the notifications sent and how many of their texts are not yet matched
/// to the outbox, oldest first.
type SentBy = Arc<Mutex<HashMap<String, Vec<(String, usize)>>>>;

fn failed(e: StoreError) -> String {
    format!("the engine failed: {e}")
}

impl Runner {
    fn new(test: &ir::Test, all: &[ir::Journey]) -> Result<Runner, StoreError> {
        let mut journeys = Vec::new();
        for want in &test.journeys {
            let found = all
                .iter()
                .find(|j| j.name == want.name && j.fingerprint() == want.fingerprint);
            let Some(j) = found else {
                return Err(StoreError::NotFound(format!(
                    "the journey `{}` the test was checked with",
                    want.name
                )));
            };
            journeys.push(j.clone());
        }
        let clock = ManualClock::new(test.start);
        let store = SqliteStore::in_memory()?;
        let engine = Engine::open(journeys, Box::new(store), Arc::new(clock.clone()))?;
        engine.set_links(Arc::new(|id: &str| link_of(id)));
        // A failure shows the session's log: it should say what every step did.
        engine.set_detailed_log(true);
        let reached = Arc::new(Mutex::new(Reached::default()));
        let sent: SentBy = Arc::default();
        {
            let (reached, sent) = (reached.clone(), sent.clone());
            engine.set_probe(Arc::new(
                move |journey: &str, session: &str, heard| match heard {
                    Heard::Reached(item) => {
                        if let Ok(mut r) = reached.lock() {
                            r.insert(journey, item);
                        }
                    }
                    Heard::Texts {
                        notification,
                        texts,
                    } => {
                        if let Ok(mut s) = sent.lock() {
                            s.entry(session.to_string())
                                .or_default()
                                .push((notification, texts));
                        }
                    }
                },
            ));
        }
        // Schedules seen for the first time start from their next instant after now.
        engine.run_schedules()?;
        Ok(Runner {
            engine,
            clock,
            current: None,
            fields: HashMap::new(),
            invalid: None,
            within_flow: false,
            said: Vec::new(),
            texts: Vec::new(),
            counted: 0,
            matched: Vec::new(),
            outbox_seen: 0,
            sent,
            reached,
            ids: Arc::default(),
            trail: Vec::new(),
            logged: HashMap::new(),
        })
    }

    /// Ids for a new session, made only when the engine starts one.
    fn new_ids(&self) -> impl Fn() -> (String, Vec<u8>, Option<String>) + Send + 'static {
        let ids = self.ids.clone();
        move || {
            let mut n = ids.lock().unwrap_or_else(|e| e.into_inner());
            *n += 1;
            let id = format!("s{n}");
            let link = link_of(&id);
            (id, link.token_hash, Some(link.url))
        }
    }

    fn reach(&self, journey: &str, item: Item) {
        if let Ok(mut r) = self.reached.lock() {
            r.insert(journey, item);
        }
    }

    /// The current session, as stored now.
    fn session(&self) -> Result<SessionState, String> {
        let Some(id) = &self.current else {
            return Err("no session has started".into());
        };
        self.engine
            .session(id)
            .map_err(failed)?
            .ok_or_else(|| format!("session {id} is gone"))
    }

    /// The current session and its pending timers, earliest first.
    fn timers(&self) -> Result<(SessionState, Vec<crate::runtime::store::Timer>), String> {
        let state = self.session()?;
        let timers = self.engine.timers(&state.id).map_err(failed)?;
        Ok((state, timers))
    }

    fn journey_of(&self, state: &SessionState) -> Result<&ir::Journey, String> {
        self.engine.journey_of(state).map_err(failed)
    }

    /// The index of the trigger of `journey` that `is` picks.
    fn reach_trigger(&self, journey: &str, is: impl Fn(&ir::Trigger) -> bool) {
        if let Some(j) = self.engine.journey(journey) {
            if let Some(index) = j.triggers.iter().position(is) {
                self.reach(journey, Item::Trigger { index });
            }
        }
    }

    fn step(&mut self, action: &TestAction) -> Step {
        if !matches!(
            action,
            TestAction::Fill { .. }
                | TestAction::ExpectError { .. }
                | TestAction::ExpectText { .. }
        ) && !is_expectation(action)
        {
            self.invalid = None;
        }
        match action {
            TestAction::OpenLink { slug } => {
                // A new tab: nothing typed in another one comes along.
                self.fields.clear();
                let (id, hash, url) = self.new_ids()();
                let started = self
                    .engine
                    .open_link(slug, id, &hash, url)
                    .and_then(|p| p.wait())
                    .map_err(failed)?;
                let journey = started.session.journey.clone();
                self.reach_trigger(
                    &journey,
                    |t| matches!(t, ir::Trigger::Link { slug: s } if s == slug),
                );
                self.current = Some(started.session.id);
                self.within_flow = false;
                Ok(())
            }
            TestAction::OpenJourneyLink => {
                self.session()?;
                self.within_flow = false;
                Ok(())
            }
            TestAction::Fill { field, value } => {
                self.fields.insert(field.clone(), value.clone());
                Ok(())
            }
            TestAction::Press { label } => self.press(label),
            TestAction::Text { body, from, to } => self.text(body, from.as_deref(), to.as_deref()),
            TestAction::Call { to, from } => {
                let before = self.latest_id();
                let said = self
                    .engine
                    .inbound_call(to, from.as_deref(), self.new_ids())
                    .map_err(failed)?;
                self.said = said;
                if let Some(id) = self.started_since(before) {
                    let state = self.engine.session(&id).map_err(failed)?;
                    if let Some(s) = state {
                        self.reach_trigger(
                            &s.journey,
                            |t| matches!(t, ir::Trigger::Call { to: n, .. } if n == to),
                        );
                    }
                    self.current = Some(id);
                } else if let Some(phone) = from {
                    self.follow(phone)?;
                }
                Ok(())
            }
            TestAction::Api {
                journey,
                actor,
                vars,
            } => self.api(journey, actor, vars),
            TestAction::Wait { secs } => self.advance(Duration::seconds(*secs as i64)),
            TestAction::WaitUntil { at } => {
                let now = self.clock.now();
                if *at < now {
                    return Err(format!(
                        "the clock is already at {}, after {}",
                        now.to_rfc3339(),
                        at.to_rfc3339()
                    ));
                }
                self.advance(*at - now)
            }
            TestAction::WaitSchedule { journey } => self.wait_schedule(journey),
            TestAction::WaitTimer { key } => {
                let (_, timers) = self.timers()?;
                let Some(t) = timers.iter().find(|t| &t.key == key) else {
                    return Err(format!("no timer \"{key}\" is pending"));
                };
                let by = (t.due - self.clock.now()).max(Duration::zero());
                self.advance(by)
            }
            TestAction::Mark { status, code } => self.mark(status, code.as_deref()),
            _ => self.expect(action),
        }
    }

    fn press(&mut self, label: &str) -> Step {
        let state = self.session()?;
        let View::Page(page) = self.engine.view(&state, self.within_flow).map_err(failed)? else {
            return Err("the journey link shows no page".into());
        };
        let buttons: Vec<(usize, &str)> = page
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Button { index, label } => Some((*index, label.as_str())),
                _ => None,
            })
            .collect();
        let Some(&(index, _)) = buttons.iter().find(|(_, l)| *l == label) else {
            let j = self.journey_of(&state)?;
            let name = &j.steps[page.step].pages[page.page].name;
            return Err(if buttons.is_empty() {
                format!("page {name} has no buttons")
            } else {
                format!(
                    "page {name} has the buttons \"{}\"",
                    buttons
                        .iter()
                        .map(|b| b.1)
                        .collect::<Vec<_>>()
                        .join("\", \"")
                )
            });
        };
        let journey = state.journey.clone();
        // A browser sends every field as shown, with what was typed over it.
        let mut fields: HashMap<String, String> = page
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Input(f) => Some((f.name.clone(), f.value.clone())),
                _ => None,
            })
            .collect();
        fields.extend(std::mem::take(&mut self.fields));
        let press = Press {
            page: Some((page.step, page.page)),
            button: Some(index),
            fields,
        };
        let outcome = self
            .engine
            .submit(&state, press)
            .and_then(|s| s.wait())
            .map_err(failed)?;
        self.within_flow = true;
        match outcome {
            Submitted::Invalid(shown) => {
                self.invalid = Some(shown);
                Ok(())
            }
            Submitted::Stale => Err("the page was no longer the session's".into()),
            Submitted::NoButton => Err("the press named no button".into()),
            Submitted::Moved { .. } | Submitted::Stayed { .. } | Submitted::Ended => {
                self.reach(
                    &journey,
                    Item::Button {
                        step: page.step,
                        page: page.page,
                        control: index,
                    },
                );
                Ok(())
            }
        }
    }

    fn text(&mut self, body: &str, from: Option<&str>, to: Option<&str>) -> Step {
        let current = self.current.as_ref().map(|_| self.session()).transpose()?;
        let from = match (from, &current) {
            (Some(f), _) => f.to_string(),
            (None, Some(s)) => match s.actor.get("phone") {
                Some(Value::Phone(p)) => p.clone(),
                _ => return Err("the session's actor has no phone number to text from".into()),
            },
            (None, None) => return Err("no number to text from".into()),
        };
        let to = match (to, &current) {
            (Some(t), _) => t.to_string(),
            (None, Some(s)) => self
                .journey_of(s)?
                .sms_from
                .clone()
                .ok_or("the session's journey has no `sms from` number to text")?,
            (None, None) => return Err("no number to text".into()),
        };
        let before = self.latest_id();
        let reply = self
            .engine
            .inbound_sms(&to, &from, body, self.new_ids())
            .map_err(failed)?;
        if let Some(id) = self.started_since(before) {
            if let Some(s) = self.engine.session(&id).map_err(failed)? {
                self.reach_trigger(
                    &s.journey,
                    |t| matches!(t, ir::Trigger::Sms { to: n, .. } if *n == to),
                );
            }
            self.current = Some(id);
        } else {
            self.follow(&from)?;
        }
        if let Reply::Text(answer) = reply {
            self.texts.push(Text {
                session: self.current.clone().unwrap_or_default(),
                to: from,
                body: answer,
                id: None,
                status: MessageStatus::Sent,
                notification: None,
            });
            self.matched.push(false);
        }
        Ok(())
    }

    /// After a text or call from `phone` that started nothing: the session it went to,
    /// if the current one is not that number's.
    fn follow(&mut self, phone: &str) -> Step {
        if let Ok(s) = self.session() {
            if s.actor.get("phone") == Some(&Value::Phone(phone.to_string())) {
                return Ok(());
            }
        }
        let now = self.clock.now();
        let active = self
            .engine
            .store()
            .active_sessions_for_phone(phone, now)
            .map_err(failed)?;
        // The engine gives a text to the first journey, in file order, with a session.
        let first = self
            .engine
            .journeys()
            .iter()
            .find_map(|j| active.iter().find(|s| s.journey == j.name));
        if let Some(s) = first {
            self.current = Some(s.id.clone());
        }
        Ok(())
    }

    /// The number of the last id handed out, to tell whether a step started a session.
    fn latest_id(&self) -> u32 {
        *self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session started since `before` ids were handed out, if it exists.
    fn started_since(&self, before: u32) -> Option<String> {
        let now = self.latest_id();
        (now > before)
            .then(|| format!("s{now}"))
            .filter(|id| matches!(self.engine.session(id), Ok(Some(_))))
    }

    fn api(&mut self, journey: &str, actor: &[(String, Json)], vars: &[(String, Json)]) -> Step {
        let j = self
            .engine
            .journey(journey)
            .ok_or_else(|| format!("no journey {journey}"))?;
        let mut phone = None;
        let mut fields = Vec::new();
        for (field, value) in actor {
            if field == "phone" {
                let text = value.as_str().unwrap_or_default();
                phone = Some(
                    input::phone(text).ok_or_else(|| format!("`{text}` is not a phone number"))?,
                );
            } else {
                let v = input::actor_field(field, value)
                    .map_err(|_| format!("{value} is not a valid actor.{field}"))?;
                fields.push((field.clone(), v));
            }
        }
        let mut values = Vec::new();
        for (name, value) in vars {
            let var = j
                .vars
                .iter()
                .find(|v| &v.name == name)
                .ok_or_else(|| format!("no variable {name}"))?;
            let v = input::from_json(&var.ty, value).map_err(|e| format!("{name}: {e}"))?;
            values.push((name.clone(), v));
        }
        let phone = phone.ok_or("the API needs actor.phone")?;
        let (id, hash, url) = self.new_ids()();
        let started = self
            .engine
            .start(
                journey,
                Start::Api {
                    phone,
                    actor: fields,
                    vars: values,
                },
                id,
                &hash,
                url,
            )
            .map_err(failed)?;
        self.reach_trigger(journey, |t| matches!(t, ir::Trigger::Api { .. }));
        self.current = Some(started.session.id);
        Ok(())
    }

    fn advance(&mut self, by: Duration) -> Step {
        self.engine.advance(&self.clock, by).map_err(failed)?;
        Ok(())
    }

    fn wait_schedule(&mut self, journey: &str) -> Step {
        let j = self
            .engine
            .journey(journey)
            .ok_or_else(|| format!("no journey {journey}"))?;
        let mut next: Option<(usize, DateTime<Utc>)> = None;
        for (index, t) in j.triggers.iter().enumerate() {
            if matches!(t, ir::Trigger::Schedule { .. }) {
                let due = self
                    .engine
                    .store()
                    .schedule_next(journey, index)
                    .map_err(failed)?;
                if let Some(due) = due {
                    if next.is_none_or(|(_, n)| due < n) {
                        next = Some((index, due));
                    }
                }
            }
        }
        let Some((index, due)) = next else {
            return Err(format!("{journey}'s schedule has no next run"));
        };
        let by = (due - self.clock.now()).max(Duration::zero());
        self.advance(by)?;
        let id = format!("{journey}-schedule-{index}-{}", due.timestamp());
        if !matches!(self.engine.session(&id), Ok(Some(_))) {
            return Err(format!(
                "the schedule did not start a session at {}",
                due.to_rfc3339()
            ));
        }
        self.reach(journey, Item::Trigger { index });
        self.current = Some(id);
        Ok(())
    }

    fn mark(&mut self, status: &str, code: Option<&str>) -> Step {
        let sent = |t: &&Text| t.id.is_some() && t.status != MessageStatus::Suppressed;
        let Some(last) = self.texts.iter().rev().find(sent) else {
            return Err("no text has been sent".into());
        };
        let id = last.id.expect("found by id");
        let ours = match status {
            "sent" => MessageStatus::Sent,
            "delivered" => MessageStatus::Delivered,
            _ => MessageStatus::Failed,
        };
        let note = code.map(|c| format!("Twilio error {c}: {status}"));
        // The sender would have recorded Twilio's id when it was accepted.
        let sid = format!("SMtest{id}");
        let store = self.engine.store();
        store.message_sent(id, &sid).map_err(failed)?;
        self.engine
            .message_status(&sid, ours, note.as_deref())
            .map_err(failed)?;
        if let Some(t) = self.texts.iter_mut().find(|t| t.id == Some(id)) {
            t.status = ours;
        }
        Ok(())
    }

    /// Reads what the outbox gained since the last look, naming each text's
    /// notification from what the probe heard.
    fn collect(&mut self) -> Result<(), StoreError> {
        let new: Vec<_> = self
            .engine
            .outbox()?
            .into_iter()
            .filter(|m| m.id > self.outbox_seen)
            .collect();
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        for m in new {
            self.outbox_seen = self.outbox_seen.max(m.id);
            let notification = sent.get_mut(&m.session_id).and_then(|queue| {
                while queue.first().is_some_and(|(_, n)| *n == 0) {
                    queue.remove(0);
                }
                let (name, left) = queue.first_mut()?;
                *left -= 1;
                Some(name.clone())
            });
            self.texts.push(Text {
                session: m.session_id,
                to: m.to,
                body: m.body,
                id: Some(m.id),
                status: m.status,
                notification,
            });
            self.matched.push(false);
        }
        Ok(())
    }

    /// Marks the current session's step as reached, and its page when the person
    /// looked at it: the web steps and page expectations look, a text or a timer not.
    fn note_place(&mut self, looked: bool) -> Result<(), StoreError> {
        let Some(id) = &self.current else {
            return Ok(());
        };
        let Some(state) = self.engine.session(id)? else {
            return Ok(());
        };
        self.reach(&state.journey, Item::Step { step: state.step });
        if !looked {
            return Ok(());
        }
        if let Ok(View::Page(p)) = self.engine.view(&state, self.within_flow) {
            self.reach(
                &state.journey,
                Item::Page {
                    step: p.step,
                    page: p.page,
                },
            );
        }
        Ok(())
    }

    fn note(&mut self, what: String) {
        self.trail.push((self.clock.now(), what));
    }

    /// Adds what the current session's event log gained to the trail.
    fn follow_log(&mut self) {
        let Some(id) = self.current.clone() else {
            return;
        };
        let events = self.engine.events(&id).unwrap_or_default();
        let seen = self.logged.entry(id).or_default();
        for (at, line) in events.into_iter().skip(*seen) {
            *seen += 1;
            self.trail.push((at, line));
        }
    }

    /// The trail's last lines, oldest first.
    fn log_tail(&self) -> Vec<String> {
        let skip = self.trail.len().saturating_sub(LOG_LINES);
        self.trail[skip..]
            .iter()
            .map(|(at, line)| format!("{} {line}", at.format("%Y-%m-%d %H:%M:%S UTC")))
            .collect()
    }

    fn expect(&mut self, action: &TestAction) -> Step {
        match action {
            TestAction::ExpectSmsCount { count } => {
                let new: Vec<&Text> = self.texts[self.counted..]
                    .iter()
                    .filter(|t| t.status != MessageStatus::Suppressed)
                    .collect();
                let n = new.len();
                self.counted = self.texts.len();
                if n == *count {
                    return Ok(());
                }
                Err(format!(
                    "{n} text{} sent since the last SMS expectation{}",
                    if n == 1 { " was" } else { "s were" },
                    list_texts(&new)
                ))
            }
            TestAction::ExpectSms { .. } => self.expect_sms(action),
            TestAction::ExpectPage { page } => {
                let state = self.session()?;
                let shown = self.shown(&state)?;
                match shown {
                    Some((s, p)) => {
                        let j = self.journey_of(&state)?;
                        let name = &j.steps[s].pages[p].name;
                        if name == page {
                            Ok(())
                        } else {
                            Err(format!("the person sees page {name}{}", self.refused()))
                        }
                    }
                    None => Err(format!(
                        "the journey link shows no page (the session is {})",
                        state.status_at(self.clock.now())
                    )),
                }
            }
            TestAction::ExpectText { text } => {
                let state = self.session()?;
                let page = match self.invalid.clone() {
                    Some(p) => p,
                    None => match self.engine.view(&state, self.within_flow).map_err(failed)? {
                        View::Page(p) => p,
                        View::Nothing => return Err("the journey link shows no page".into()),
                    },
                };
                let words: Vec<String> = page.parts.iter().map(part_text).collect();
                if words.iter().any(|w| w.contains(text.as_str())) {
                    Ok(())
                } else {
                    Err(format!("the page says: {}", words.join(" | ")))
                }
            }
            TestAction::ExpectError { field, message } => {
                let Some(page) = &self.invalid else {
                    return Err("the last press was accepted: no field has an error".into());
                };
                let error = page.parts.iter().find_map(|p| match p {
                    Part::Input(f) if &f.name == field => Some(f.error.clone()),
                    _ => None,
                });
                match (error, message) {
                    (None, _) => Err(format!("the page has no input for {field}")),
                    (Some(None), _) => Err(format!("{field} was accepted")),
                    (Some(Some(e)), Some(m)) if !e.contains(m.as_str()) => {
                        Err(format!("{field}'s error is \"{e}\""))
                    }
                    _ => Ok(()),
                }
            }
            TestAction::ExpectSay { text } => {
                if self.said.iter().any(|s| s.contains(text.as_str())) {
                    Ok(())
                } else if self.said.is_empty() {
                    Err("nothing was said".into())
                } else {
                    Err(format!("the call said \"{}\"", self.said.join(" ")))
                }
            }
            TestAction::ExpectTimer { key, at } => {
                let (state, timers) = self.timers()?;
                let Some(t) = timers.iter().find(|t| &t.key == key) else {
                    let keys: Vec<&str> = timers.iter().map(|t| t.key.as_str()).collect();
                    return Err(if keys.is_empty() {
                        "no timer is pending".into()
                    } else {
                        format!("the pending timers are \"{}\"", keys.join("\", \""))
                    });
                };
                match at {
                    Some(at) if *at != t.due => Err(format!(
                        "\"{key}\" is due at {}",
                        in_zones(t.due, self.zone(&state))
                    )),
                    _ => Ok(()),
                }
            }
            TestAction::ExpectNoTimer { key } => {
                let (state, timers) = self.timers()?;
                match timers.iter().find(|t| &t.key == key) {
                    Some(t) => Err(format!(
                        "\"{key}\" is pending, due at {}",
                        in_zones(t.due, self.zone(&state))
                    )),
                    None => Ok(()),
                }
            }
            TestAction::ExpectStatus { status } => {
                let state = self.session()?;
                let now = state.status_at(self.clock.now());
                if now == status {
                    Ok(())
                } else {
                    Err(format!("the session is {now}"))
                }
            }
            TestAction::ExpectValue { place, value } => {
                let state = self.session()?;
                let j = self.journey_of(&state)?;
                let (name, actual, wanted) = match place {
                    TestPlace::Var(name) => {
                        let i = j
                            .vars
                            .iter()
                            .position(|v| &v.name == name)
                            .ok_or_else(|| format!("no variable {name}"))?;
                        let wanted = input::from_json(&j.vars[i].ty, value)
                            .map_err(|e| format!("{value} cannot be a {}: {e}", j.vars[i].ty))?;
                        (name.clone(), state.vars[i].clone(), wanted)
                    }
                    TestPlace::Actor(field) => {
                        let actual = state.actor.get(field).cloned().unwrap_or(Value::Null);
                        let wanted = if field == "phone" {
                            match value.as_str().and_then(input::phone) {
                                Some(p) => Value::Phone(p),
                                None => Value::Null,
                            }
                        } else {
                            input::actor_field(field, value)
                                .map_err(|_| format!("{value} is not a valid actor.{field}"))?
                        };
                        (format!("actor.{field}"), actual, wanted)
                    }
                };
                if actual == wanted {
                    Ok(())
                } else {
                    Err(format!("{name} is {}", shown_value(&actual)))
                }
            }
            other => Err(format!("{other:?} is not an expectation")),
        }
    }

    fn expect_sms(&mut self, action: &TestAction) -> Step {
        let TestAction::ExpectSms {
            notification,
            to,
            containing,
            equal,
            journey_link,
            suppressed,
        } = action
        else {
            return Ok(());
        };
        let actor_phone = self
            .session()
            .ok()
            .and_then(|s| match s.actor.get("phone") {
                Some(Value::Phone(p)) => Some(p.clone()),
                _ => None,
            });
        let to = to.clone().or(actor_phone);
        let fits = |t: &Text| {
            let link = link_of(&t.session).url;
            (t.status == MessageStatus::Suppressed) == *suppressed
                && to.as_ref().is_none_or(|n| &t.to == n)
                && notification
                    .as_ref()
                    .is_none_or(|n| t.notification.as_ref() == Some(n))
                && containing.iter().all(|c| t.body.contains(c.as_str()))
                && equal.as_ref().is_none_or(|e| &t.body == e)
                && (!journey_link || t.body.contains(&link))
        };
        let found = (0..self.texts.len()).find(|&i| !self.matched[i] && fits(&self.texts[i]));
        match found {
            Some(i) => {
                self.matched[i] = true;
                self.counted = self.counted.max(i + 1);
                Ok(())
            }
            None => {
                let unmatched: Vec<&Text> = self
                    .texts
                    .iter()
                    .zip(&self.matched)
                    .filter(|(_, m)| !**m)
                    .map(|(t, _)| t)
                    .collect();
                Err(if unmatched.is_empty() {
                    "no text was sent that an earlier expectation did not match".into()
                } else {
                    format!("the texts not yet matched are:{}", list_texts(&unmatched))
                })
            }
        }
    }

    /// Why the last press did not move on, when its fields were refused: a page
    /// expectation that fails after one says so.
    fn refused(&self) -> String {
        let Some(page) = &self.invalid else {
            return String::new();
        };
        let errors: Vec<String> = page
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Input(f) => f.error.as_ref().map(|e| format!("{}: {e}", f.name)),
                _ => None,
            })
            .collect();
        format!(" (the last press was refused: {})", errors.join("; "))
    }

    /// The page the journey link shows now, if any.
    fn shown(&self, state: &SessionState) -> Result<Option<(usize, usize)>, String> {
        if let Some(p) = &self.invalid {
            return Ok(Some((p.step, p.page)));
        }
        Ok(
            match self.engine.view(state, self.within_flow).map_err(failed)? {
                View::Page(p) => Some((p.step, p.page)),
                View::Nothing => None,
            },
        )
    }

    /// The zone to show a session's times in: its actor's, else its journey's.
    fn zone(&self, state: &SessionState) -> Option<String> {
        match state.actor.get("time_zone") {
            Some(Value::Text(z)) => Some(z.clone()),
            _ => self
                .engine
                .journey_of(state)
                .ok()
                .and_then(|j| j.time_zone.clone()),
        }
    }
}

/// A session's journey link in a test: derived from its id under the fixed key.
fn link_of(id: &str) -> JourneyLink {
    let token = links::token(LINK_KEY, id);
    JourneyLink {
        url: format!("{LINK_BASE}/j/{token}"),
        token_hash: <sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()).to_vec(),
    }
}

fn is_expectation(action: &TestAction) -> bool {
    matches!(
        action,
        TestAction::ExpectPage { .. }
            | TestAction::ExpectText { .. }
            | TestAction::ExpectError { .. }
            | TestAction::ExpectSmsCount { .. }
            | TestAction::ExpectSms { .. }
            | TestAction::ExpectSay { .. }
            | TestAction::ExpectTimer { .. }
            | TestAction::ExpectNoTimer { .. }
            | TestAction::ExpectStatus { .. }
            | TestAction::ExpectValue { .. }
    )
}

fn part_text(p: &Part) -> String {
    match p {
        Part::Heading { text, .. } | Part::Text(text) => text.clone(),
        Part::Link { label, .. } | Part::Button { label, .. } => label.clone(),
        Part::Input(f) => f.label.clone(),
    }
}

fn shown_value(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Text(_) | Value::Phone(_) | Value::Email(_) => format!("\"{}\"", v.display()),
        other => other.display(),
    }
}

/// `t` in UTC, and in `zone` when there is one.
fn in_zones(t: DateTime<Utc>, zone: Option<String>) -> String {
    let utc = t.format("%Y-%m-%d %H:%M UTC").to_string();
    match zone.as_deref().and_then(crate::literals::parse_time_zone) {
        Some(tz) => format!(
            "{} ({utc})",
            t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z")
        ),
        None => utc,
    }
}

/// Texts as a failure lists them, each with its journey link shown as such.
fn list_texts(texts: &[&Text]) -> String {
    texts
        .iter()
        .map(|t| {
            let link = link_of(&t.session).url;
            let body = t.body.replace(&link, "{{ journey_link }}");
            let what = t.notification.as_deref().unwrap_or("a text");
            let status = if t.status == MessageStatus::Suppressed {
                " (suppressed)"
            } else {
                ""
            };
            format!("\n  {what} to {}{status}: \"{body}\"", t.to)
        })
        .collect()
}

/// What a step was for, in words, for its failure.
pub fn describe(action: &TestAction) -> String {
    match action {
        TestAction::OpenLink { slug } => format!("open the starting link \"{slug}\""),
        TestAction::OpenJourneyLink => "open the session's journey link".into(),
        TestAction::Fill { field, .. } => format!("fill {field}"),
        TestAction::Press { label } => format!("press \"{label}\""),
        TestAction::Text { body, .. } => format!("text \"{body}\""),
        TestAction::Call { to, .. } => format!("call {to}"),
        TestAction::Api { journey, .. } => format!("start {journey} through the API"),
        TestAction::Wait { secs } => format!(
            "wait {}",
            crate::runtime::value::format_duration(*secs as i64)
        ),
        TestAction::WaitUntil { at } => format!("wait until {}", at.to_rfc3339()),
        TestAction::WaitSchedule { journey } => format!("wait for {journey}'s schedule"),
        TestAction::WaitTimer { key } => format!("wait for timer \"{key}\""),
        TestAction::Mark { status, .. } => format!("mark the last text {status}"),
        TestAction::ExpectPage { page } => format!("the person sees page {page}"),
        TestAction::ExpectText { text } => format!("the page says \"{text}\""),
        TestAction::ExpectError { field, message } => match message {
            Some(m) => format!("{field} has the error \"{m}\""),
            None => format!("{field} has an error"),
        },
        TestAction::ExpectSmsCount { count: 0 } => "no text since the last SMS expectation".into(),
        TestAction::ExpectSmsCount { count } => {
            format!(
                "{count} text{} since the last SMS expectation",
                if *count == 1 { "" } else { "s" }
            )
        }
        TestAction::ExpectSms {
            notification,
            to,
            containing,
            equal,
            journey_link,
            suppressed,
        } => {
            let mut s = String::from(if *suppressed {
                "a suppressed text"
            } else {
                "a text"
            });
            if let Some(n) = notification {
                s += &format!(" of {n}");
            }
            if let Some(to) = to {
                s += &format!(" to {to}");
            }
            for c in containing {
                s += &format!(" containing \"{c}\"");
            }
            if let Some(e) = equal {
                s += &format!(" equal to \"{e}\"");
            }
            if *journey_link {
                s += " with the session's journey link";
            }
            s
        }
        TestAction::ExpectSay { text } => format!("the call says \"{text}\""),
        TestAction::ExpectTimer { key, at } => match at {
            Some(at) => format!(
                "timer \"{key}\" pending, due at {}",
                at.format("%Y-%m-%d %H:%M UTC")
            ),
            None => format!("timer \"{key}\" pending"),
        },
        TestAction::ExpectNoTimer { key } => format!("no timer \"{key}\" pending"),
        TestAction::ExpectStatus { status } => format!("the session is {status}"),
        TestAction::ExpectValue { place, value } => match place {
            TestPlace::Var(n) => format!("{n} is {value}"),
            TestPlace::Actor(f) => format!("actor.{f} is {value}"),
        },
    }
}
