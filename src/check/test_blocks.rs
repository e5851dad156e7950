//! `test` blocks: every step checked against the journeys the test runs with (its
//! file's and those of the files it imports), so that a test naming a starting link,
//! page, button, input, notification, timer or variable that does not exist fails
//! here, with a span, before anything runs. Which journey a step talks to is followed
//! from the steps before it: `open link`, a text, a call, `api` and `wait for schedule`
//! choose one.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::Value as Json;

use super::cx::Cx;
use super::report::{seen_before, suggestion, twice};
use crate::diagnostic::*;
use crate::ir::{self, Control, TestAction, TestPlace};
use crate::literals;
use crate::syntax::ast::{self, Expectation, ExprKind as E, SmsMatch, TestStepKind as K};
use crate::types::{Type, ACTOR_FIELDS};

/// Statuses a session can be in, as `expect status` names them.
const STATUSES: &[&str] = &["active", "ended", "expired", "failed"];
/// Delivery statuses `mark last sms` takes: Twilio's callback statuses.
const DELIVERY: &[&str] = &["sent", "delivered", "undelivered", "failed"];

/// What a test step knows of where the test stands.
struct At<'j> {
    journey: Option<&'j ir::Journey>,
    /// The page the person is known to see: after `expect page`, until something moves.
    page: Option<(usize, usize)>,
    /// Every journey a step has talked to: the test's engine runs these, and no other
    /// (another journey's schedule would otherwise run through every `wait`).
    touched: Vec<&'j ir::Journey>,
    /// Phone numbers known to have a session, with its journey: a text from one goes
    /// to that session.
    phones: Vec<(String, &'j ir::Journey)>,
    /// A step that would have started a session was wrong and reported: the steps
    /// after it are not reported again for wanting one.
    lost: bool,
}

impl<'j> At<'j> {
    fn talk_to(&mut self, j: &'j ir::Journey) {
        self.journey = Some(j);
        if !self.touched.iter().any(|t| std::ptr::eq(*t, j)) {
            self.touched.push(j);
        }
    }
}

impl Cx<'_> {
    pub(super) fn tests(&mut self, tree: &ast::File, journeys: &[&ir::Journey]) -> Vec<ir::Test> {
        let mut seen = HashMap::new();
        let mut out = Vec::new();
        for item in &tree.items {
            let ast::Item::Test(t) = item else { continue };
            if let Some(first) = seen_before(&mut seen, t.name.value.clone(), t.name.span) {
                let d = twice(
                    self.file,
                    format!("two tests are named \"{}\"", t.name.value),
                    (t.name.span, "named again here"),
                    (first, "first named here"),
                    "give each test a name of its own, so a failure names one test",
                );
                self.push(d);
                continue;
            }
            if let Some(test) = self.test(t, journeys) {
                out.push(test);
            }
        }
        out
    }

    fn test(&mut self, t: &ast::Test, journeys: &[&ir::Journey]) -> Option<ir::Test> {
        let name = self.constant(&t.name, "a test's name")?;
        let mut at = At {
            journey: None,
            page: None,
            touched: Vec::new(),
            phones: Vec::new(),
            lost: false,
        };
        let mut start = DateTime::parse_from_rfc3339(ir::DEFAULT_TEST_START)
            .expect("the default start reads")
            .with_timezone(&Utc);
        let mut steps = Vec::new();
        for (i, step) in t.steps.iter().enumerate() {
            if let K::Clock { at: when, zone } = &step.kind {
                if i > 0 {
                    let d = self
                        .diag(TEST_STEP, step.span, "`clock` must come first", "the test has begun by now")
                        .with_help("move `clock` to the first line of the test: it says when the test starts; use `wait` to move time on");
                    self.push(d);
                } else if let Some(instant) = self.instant(when, zone.as_ref()) {
                    start = instant;
                }
                continue;
            }
            if let Some(action) = self.test_step(step, journeys, &mut at) {
                steps.push(ir::TestStep {
                    span: (step.span.start, step.span.end),
                    action,
                });
            }
        }
        Some(ir::Test {
            name,
            span: (t.name.span.start, t.name.span.end),
            start,
            journeys: at
                .touched
                .iter()
                .map(|j| ir::TestJourney {
                    name: j.name.clone(),
                    fingerprint: j.fingerprint(),
                })
                .collect(),
            steps,
        })
    }

    fn test_step<'j>(
        &mut self,
        step: &ast::TestStep,
        journeys: &[&'j ir::Journey],
        at: &mut At<'j>,
    ) -> Option<TestAction> {
        let span = step.span;
        // Everything but a look (`expect`, `fill`) may move the person on.
        if !matches!(step.kind, K::Expect(_) | K::Fill { .. }) {
            at.page = None;
        }
        Some(match &step.kind {
            K::Clock { .. } => return None,
            K::OpenLink(slug) => {
                let slug = self.constant(slug, "a starting link")?;
                let found = journeys.iter().find(|j| {
                    j.triggers
                        .iter()
                        .any(|t| matches!(t, ir::Trigger::Link { slug: s } if *s == slug))
                });
                let Some(j) = found else {
                    let slugs: Vec<&str> = journeys
                        .iter()
                        .flat_map(|j| &j.triggers)
                        .filter_map(|t| match t {
                            ir::Trigger::Link { slug } => Some(slug.as_str()),
                            _ => None,
                        })
                        .collect();
                    self.unknown(step_arg(step), "starting link", &slug, &slugs);
                    at.lost = true;
                    return None;
                };
                at.talk_to(j);
                TestAction::OpenLink { slug }
            }
            K::OpenJourneyLink => {
                self.session(at, span, "open journey link")?;
                TestAction::OpenJourneyLink
            }
            K::Fill { var, value } => {
                let j = self.session(at, span, "fill")?;
                let value = self.constant(value, "what is filled in")?;
                let index = self.variable(j, var)?;
                let pages = pages_with(j, |c| matches!(c, Control::Input(i) if i.var == index));
                let on_page = at.page.is_none_or(|p| pages.contains(&p));
                if pages.is_empty() || !on_page {
                    let place = match at.page {
                        Some((s, p)) if !pages.is_empty() => {
                            format!("page `{}`", j.steps[s].pages[p].name)
                        }
                        _ => format!("journey `{}`", j.name),
                    };
                    let d = self
                        .diag(TEST_UNKNOWN, var.span, format!("{place} has no input for `{}`", var.name), "no such input")
                        .with_help("`fill` names the variable an input on the page is bound to, as in `input phone: phone \"Mobile\"`");
                    self.push(d);
                    return None;
                }
                TestAction::Fill {
                    field: var.name.clone(),
                    value,
                }
            }
            K::Press(label) => {
                let j = self.session(at, span, "press")?;
                let label_text = self.constant(label, "a button's label")?;
                let mut labels = Vec::new();
                let mut templated = false;
                for (s, step) in j.steps.iter().enumerate() {
                    for (p, page) in step.pages.iter().enumerate() {
                        if at.page.is_some_and(|here| here != (s, p)) {
                            continue;
                        }
                        for c in &page.controls {
                            if let Control::Button { label, .. } = c {
                                match &label.kind {
                                    ir::ExprKind::Text(t) => labels.push(t.as_str()),
                                    _ => templated = true,
                                }
                            }
                        }
                    }
                }
                if !templated && !labels.contains(&label_text.as_str()) {
                    let place = match at.page {
                        Some((s, p)) => format!("page `{}`", j.steps[s].pages[p].name),
                        None => format!("journey `{}`", j.name),
                    };
                    let guess = did_you_mean(&label_text, labels.iter().copied());
                    let help = suggestion(guess.map(|g| format!("\"{g}\""))).unwrap_or_else(|| {
                        if labels.is_empty() {
                            format!("{place} has no buttons")
                        } else {
                            format!("the buttons are \"{}\"", labels.join("\", \""))
                        }
                    });
                    let d = self
                        .diag(
                            TEST_UNKNOWN,
                            label.span,
                            format!("{place} has no button \"{label_text}\""),
                            "no such button",
                        )
                        .with_help(help);
                    self.push(d);
                    return None;
                }
                TestAction::Press { label: label_text }
            }
            K::Text { body, from, to } => {
                let body = self.constant(body, "a text")?;
                let from = match from {
                    Some(f) => Some(self.phone_literal(f, "the sender's number")?),
                    None => None,
                };
                let to = match to {
                    Some(t) => Some(self.phone_literal(t, "the number texted")?),
                    None => None,
                };
                let word = body.trim().to_uppercase();
                // STOP and HELP are answered without a session; START goes on as a text.
                let starts = !literals::STOP_WORDS.contains(&word.as_str())
                    && !literals::HELP_WORDS.contains(&word.as_str());
                // A text from a number with a session goes to that session.
                let known = from
                    .as_ref()
                    .and_then(|f| at.phones.iter().find(|(p, _)| p == f))
                    .map(|(_, j)| *j);
                let by_number = to.as_ref().and_then(|number| {
                    journeys
                        .iter()
                        .find(|j| {
                            j.triggers
                                .iter()
                                .any(|t| matches!(t, ir::Trigger::Sms { to, .. } if to == number))
                        })
                        .copied()
                });
                if let Some(j) = known {
                    at.talk_to(j);
                } else if let (Some(j), Some(f), true, true) =
                    (by_number, &from, at.journey.is_some(), starts)
                {
                    // A new person texting the number starts a session of its journey.
                    at.phones.push((f.clone(), j));
                    at.talk_to(j);
                }
                if at.journey.is_none() {
                    if !starts {
                        let d = self
                            .diag(TEST_STEP, span, format!("\"{}\" starts no session", body.trim()), "answered without a session")
                            .with_help("STOP and HELP are answered by the number itself; text something else to start the journey");
                        self.push(d);
                        return None;
                    }
                    let Some(number) = &to else {
                        let d = self
                            .diag(TEST_STEP, span, "this text goes to no number", "no session has started to reply to")
                            .with_help("say which number is texted: `text \"HI\" from \"+14155550100\" to \"+15005550006\"`");
                        self.push(d);
                        return None;
                    };
                    let by_text = journeys.iter().find(|j| {
                        j.triggers
                            .iter()
                            .any(|t| matches!(t, ir::Trigger::Sms { to, .. } if to == number))
                    });
                    let Some(j) = by_text else {
                        let d = self
                            .diag(
                                TEST_UNKNOWN,
                                span,
                                format!("no journey starts with a text to {number}"),
                                "nothing answers this number",
                            )
                            .with_help(
                                "texts start the journey whose `trigger sms to` has this number",
                            );
                        self.push(d);
                        return None;
                    };
                    let Some(f) = &from else {
                        let d = self
                            .diag(
                                TEST_STEP,
                                span,
                                "who sends this text?",
                                "no session has started, so there is no actor to text as",
                            )
                            .with_help("add the sender's number: `from \"+14155550100\"`");
                        self.push(d);
                        return None;
                    };
                    at.phones.push((f.clone(), j));
                    at.talk_to(j);
                }
                TestAction::Text { body, from, to }
            }
            K::Call { to, from } => {
                let to = self.phone_literal(to, "the number called")?;
                let from = match from {
                    Some(f) => Some(self.phone_literal(f, "the caller's number")?),
                    None => None,
                };
                let by_call = journeys.iter().find(|j| {
                    j.triggers
                        .iter()
                        .any(|t| matches!(t, ir::Trigger::Call { to: n, .. } if *n == to))
                });
                let Some(j) = by_call else {
                    let d = self
                        .diag(
                            TEST_UNKNOWN,
                            span,
                            format!("no journey answers calls to {to}"),
                            "nothing answers this number",
                        )
                        .with_help(
                            "calls start the journey whose `trigger call to` has this number",
                        );
                    self.push(d);
                    at.lost = true;
                    return None;
                };
                if let Some(f) = &from {
                    at.phones.push((f.clone(), j));
                }
                at.talk_to(j);
                TestAction::Call { to, from }
            }
            K::Api { journey, fields } => {
                let Some(j) = self.journey_named(journeys, journey) else {
                    at.lost = true;
                    return None;
                };
                if !j
                    .triggers
                    .iter()
                    .any(|t| matches!(t, ir::Trigger::Api { .. }))
                {
                    let d = self
                        .diag(TEST_UNKNOWN, journey.span, format!("journey `{}` has no `trigger api`", j.name), "the API cannot start it")
                        .with_help("add `trigger api` to the journey, or start it the way its triggers say");
                    self.push(d);
                    return None;
                }
                let (mut actor, mut vars) = (Vec::new(), Vec::new());
                // Every field is checked, and the journey followed, whatever one says.
                at.talk_to(j);
                let mut bad = false;
                for (target, value) in fields {
                    let Some((place, ty)) = self.test_place(j, target) else {
                        bad = true;
                        continue;
                    };
                    let Some(v) = self.test_value(value, ty, &place) else {
                        // An `actor.phone` that is no number is reported once.
                        if place == TestPlace::Actor("phone".into()) {
                            actor.push(("phone".into(), Json::Null));
                        }
                        bad = true;
                        continue;
                    };
                    match place {
                        TestPlace::Actor(field) => actor.push((field, v)),
                        TestPlace::Var(name) => vars.push((name, v)),
                    }
                }
                if !actor.iter().any(|(f, _)| f == "phone") {
                    let d = self
                        .diag(
                            TEST_STEP,
                            journey.span,
                            "the API starts a session for a phone number",
                            "no `actor.phone` here",
                        )
                        .with_help("add `actor.phone = \"+14155550100\"` inside the braces");
                    self.push(d);
                    return None;
                }
                if bad {
                    return None;
                }
                if let Some((_, Json::String(p))) = actor.iter().find(|(f, _)| f == "phone") {
                    if let Some(p) = literals::parse_phone(p) {
                        at.phones.push((p, j));
                    }
                }
                TestAction::Api {
                    journey: j.name.clone(),
                    actor,
                    vars,
                }
            }
            K::Wait(e) => {
                let E::Duration { value, unit } = &e.kind else {
                    let d = self
                        .diag(TEST_STEP, e.span, "`wait` takes a duration", "not a duration")
                        .with_help("write `wait 1d`, `wait 2h` or `wait 30m`; `wait until \"...\"` waits for a time");
                    self.push(d);
                    return None;
                };
                TestAction::Wait {
                    secs: self.duration_literal(*value, unit, e.span)?,
                }
            }
            K::WaitUntil { at: when, zone } => TestAction::WaitUntil {
                at: self.instant(when, zone.as_ref())?,
            },
            K::WaitSchedule(name) => {
                let Some(j) = self.journey_named(journeys, name) else {
                    at.lost = true;
                    return None;
                };
                if !j
                    .triggers
                    .iter()
                    .any(|t| matches!(t, ir::Trigger::Schedule { .. }))
                {
                    let d = self
                        .diag(TEST_UNKNOWN, name.span, format!("journey `{}` has no `trigger schedule`", j.name), "no schedule to wait for")
                        .with_help("`wait for schedule` moves time to the next run of the journey's `trigger schedule`");
                    self.push(d);
                    return None;
                }
                at.talk_to(j);
                TestAction::WaitSchedule {
                    journey: j.name.clone(),
                }
            }
            K::WaitTimer(key) => {
                let j = self.session(at, span, "wait for timer")?;
                TestAction::WaitTimer {
                    key: self.timer_key(j, key)?,
                }
            }
            K::Mark { status, code } => {
                self.session(at, span, "mark last sms")?;
                if !DELIVERY.contains(&status.name.as_str()) {
                    self.unknown(status.span, "delivery status", &status.name, DELIVERY);
                    return None;
                }
                let code = match code {
                    Some(c) => match &c.kind {
                        E::Number(n) if n.fract() == 0.0 && *n >= 0.0 => Some(format!("{n}")),
                        _ => {
                            let d = self
                                .diag(
                                    TEST_STEP,
                                    c.span,
                                    "an error code is a whole number",
                                    "not Twilio's error code",
                                )
                                .with_help("write Twilio's code as a number, e.g. `code 30003`");
                            self.push(d);
                            return None;
                        }
                    },
                    None => None,
                };
                TestAction::Mark {
                    status: status.name.clone(),
                    code,
                }
            }
            K::Expect(e) => self.expectation(e, span, at)?,
        })
    }

    fn expectation(&mut self, e: &Expectation, span: Span, at: &mut At<'_>) -> Option<TestAction> {
        // Texts can be counted before any session, as `expect no sms`.
        if matches!(e, Expectation::NoSms | Expectation::SmsCount(_)) {
            return Some(match e {
                Expectation::SmsCount(n) => match &n.kind {
                    E::Number(v) if v.fract() == 0.0 && *v >= 0.0 => {
                        TestAction::ExpectSmsCount { count: *v as usize }
                    }
                    _ => {
                        let d = self.diag(
                            TEST_STEP,
                            n.span,
                            "a count of texts is a whole number",
                            "not a count",
                        );
                        self.push(d);
                        return None;
                    }
                },
                _ => TestAction::ExpectSmsCount { count: 0 },
            });
        }
        let j = self.session(at, span, "expect")?;
        Some(match e {
            Expectation::NoSms | Expectation::SmsCount(_) => unreachable!("handled above"),
            Expectation::Page(name) => {
                let found = j.steps.iter().enumerate().find_map(|(s, step)| {
                    let p = step.pages.iter().position(|p| p.name == name.name)?;
                    Some((s, p))
                });
                let Some(page) = found else {
                    let names: Vec<&str> = j
                        .steps
                        .iter()
                        .flat_map(|s| &s.pages)
                        .map(|p| p.name.as_str())
                        .collect();
                    let d = self
                        .diag(
                            UNKNOWN_PAGE,
                            name.span,
                            format!("journey `{}` has no page `{}`", j.name, name.name),
                            "no such page",
                        )
                        .with_help(
                            suggestion(did_you_mean(&name.name, names.iter().copied()))
                                .unwrap_or_else(|| format!("its pages are {}", names.join(", "))),
                        );
                    self.push(d);
                    return None;
                };
                at.page = Some(page);
                TestAction::ExpectPage {
                    page: name.name.clone(),
                }
            }
            Expectation::Text(text) => TestAction::ExpectText {
                text: self.constant(text, "the text expected")?,
            },
            Expectation::Error { field, message } => {
                self.variable(j, field)?;
                let message = match message {
                    Some(m) => Some(self.constant(m, "a message")?),
                    None => None,
                };
                TestAction::ExpectError {
                    field: field.name.clone(),
                    message,
                }
            }
            Expectation::Sms {
                notification,
                to,
                matches,
                suppressed,
            } => {
                let notification = match notification {
                    Some(path) => {
                        let dotted = path
                            .iter()
                            .map(|i| i.name.as_str())
                            .collect::<Vec<_>>()
                            .join(".");
                        if !j.notifications.iter().any(|n| n.name == dotted) {
                            let span = path[0].span.to(path[path.len() - 1].span);
                            let names = j.notifications.iter().map(|n| n.name.as_str());
                            let d = self
                                .diag(
                                    UNKNOWN_NOTIFICATION,
                                    span,
                                    format!(
                                        "journey `{}` sends no notification `{dotted}`",
                                        j.name
                                    ),
                                    "not among its notifications",
                                )
                                .with_help(
                                    suggestion(did_you_mean(&dotted, names)).unwrap_or_else(|| {
                                        "name a notification the journey sends with `send sms`"
                                            .into()
                                    }),
                                );
                            self.push(d);
                            return None;
                        }
                        Some(dotted)
                    }
                    None => None,
                };
                let to = match to {
                    Some(t) => Some(self.phone_literal(t, "the number texted")?),
                    None => None,
                };
                let (mut containing, mut equal, mut journey_link) = (Vec::new(), None, false);
                for m in matches {
                    match m {
                        SmsMatch::Containing(s) => containing.push(self.constant(s, "a text")?),
                        SmsMatch::Equal(s) => equal = Some(self.constant(s, "a text")?),
                        SmsMatch::JourneyLink => journey_link = true,
                    }
                }
                if journey_link && *suppressed {
                    let d = self
                        .diag(TEST_STEP, span, "a suppressed text has no journey link to match", "`with journey link` and `suppressed` together")
                        .with_help("a text kept back is stored with its link redacted; match its words with `containing` instead");
                    self.push(d);
                    return None;
                }
                TestAction::ExpectSms {
                    notification,
                    to,
                    containing,
                    equal,
                    journey_link,
                    suppressed: *suppressed,
                }
            }
            Expectation::Say(text) => TestAction::ExpectSay {
                text: self.constant(text, "the words expected")?,
            },
            Expectation::Timer { key, at: due } => {
                let key = self.timer_key(j, key)?;
                let at = match due {
                    Some((when, zone)) => Some(self.instant(when, zone.as_ref())?),
                    None => None,
                };
                TestAction::ExpectTimer { key, at }
            }
            Expectation::NoTimer(key) => TestAction::ExpectNoTimer {
                key: self.timer_key(j, key)?,
            },
            Expectation::Status(status) => {
                if !STATUSES.contains(&status.name.as_str()) {
                    self.unknown(status.span, "session status", &status.name, STATUSES);
                    return None;
                }
                TestAction::ExpectStatus {
                    status: status.name.clone(),
                }
            }
            Expectation::Value { target, value } => {
                let (place, ty) = self.test_place(j, target)?;
                let value = self.test_value(value, ty, &place)?;
                TestAction::ExpectValue { place, value }
            }
        })
    }

    /// The journey of the session a step needs, or a diagnostic that none has started.
    fn session<'j>(&mut self, at: &At<'j>, span: Span, what: &str) -> Option<&'j ir::Journey> {
        if at.journey.is_none() && !at.lost {
            let d = self
                .diag(TEST_STEP, span, format!("`{what}` before any session has started"), "no session yet")
                .with_help("start one first: `open link \"slug\"`, `text \"HI\" from \"+1...\" to \"+1...\"`, `call \"+1...\"`, `api Journey { ... }` or `wait for schedule Journey`");
            self.push(d);
        }
        at.journey
    }

    fn journey_named<'j>(
        &mut self,
        journeys: &[&'j ir::Journey],
        name: &ast::Ident,
    ) -> Option<&'j ir::Journey> {
        let found = journeys.iter().find(|j| j.name == name.name).copied();
        if found.is_none() {
            let names: Vec<&str> = journeys.iter().map(|j| j.name.as_str()).collect();
            self.unknown(name.span, "journey", &name.name, &names);
        }
        found
    }

    fn variable(&mut self, j: &ir::Journey, var: &ast::Ident) -> Option<usize> {
        let found = j.vars.iter().position(|v| v.name == var.name);
        if found.is_none() {
            let names = j.vars.iter().map(|v| v.name.as_str());
            let d = self
                .diag(
                    UNKNOWN_VARIABLE,
                    var.span,
                    format!("journey `{}` has no variable `{}`", j.name, var.name),
                    "no such variable",
                )
                .with_help(
                    suggestion(did_you_mean(&var.name, names))
                        .unwrap_or_else(|| "name one of the journey's `var`s".into()),
                );
            self.push(d);
        }
        found
    }

    fn timer_key(&mut self, j: &ir::Journey, key: &ast::StrLit) -> Option<String> {
        let key_text = self.constant(key, "a timer key")?;
        let keys: Vec<String> = crate::coverage::items(j)
            .into_iter()
            .filter_map(|i| match i {
                crate::coverage::Item::Timer { key } => Some(key),
                _ => None,
            })
            .collect();
        if keys.contains(&key_text) {
            return Some(key_text);
        }
        let names: Vec<&str> = keys.iter().map(String::as_str).collect();
        self.unknown(key.span, "timer", &key_text, &names);
        None
    }

    /// Where `target` points in `j` (a variable, or `actor.FIELD`), with its type.
    fn test_place(&mut self, j: &ir::Journey, target: &[ast::Ident]) -> Option<(TestPlace, Type)> {
        match target {
            [actor, field] if actor.name == "actor" => {
                let Some((_, ty)) = ACTOR_FIELDS.iter().find(|(f, _)| *f == field.name) else {
                    let names = ACTOR_FIELDS.iter().map(|(f, _)| *f);
                    let d = self
                        .diag(UNKNOWN_FIELD, field.span, format!("the actor has no field `{}`", field.name), "no such field")
                        .with_help(suggestion(did_you_mean(&field.name, names)).unwrap_or_else(|| {
                            "the actor's fields are phone, email, first_name, last_name and time_zone".into()
                        }));
                    self.push(d);
                    return None;
                };
                Some((TestPlace::Actor(field.name.clone()), *ty))
            }
            [var] => {
                let index = self.variable(j, var)?;
                Some((TestPlace::Var(var.name.clone()), j.vars[index].ty))
            }
            _ => {
                let span = target[0].span.to(target[target.len() - 1].span);
                let d = self
                    .diag(TEST_STEP, span, "this names no variable", "not a variable or `actor.FIELD`")
                    .with_help("name a variable of the journey, or one of the actor's fields, such as `actor.phone`");
                self.push(d);
                None
            }
        }
    }

    /// A value written out in a test, as the API's JSON would carry it: text, a number,
    /// `true`, `false` or `null`, that reads as a value of `ty` (`place` names it).
    fn test_value(&mut self, e: &ast::Expr, ty: Type, place: &TestPlace) -> Option<Json> {
        let number = |n: f64| serde_json::Number::from_f64(n).map(Json::Number);
        let value = match &e.kind {
            E::Text(s) => Some(Json::String(self.constant(s, "a value")?)),
            E::Number(n) => number(*n),
            E::Unary(ast::UnOp::Neg, inner) => match inner.kind {
                E::Number(n) => number(-n),
                _ => None,
            },
            E::Bool(b) => Some(Json::Bool(*b)),
            E::Null => Some(Json::Null),
            _ => None,
        };
        let Some(value) = value else {
            let d = self
                .diag(TEST_STEP, e.span, "a value here is written out", "not a plain, finite value")
                .with_help("write text in quotes, a number, `true`, `false` or `null`; dates and times as text, e.g. \"2026-03-10T15:00:00-05:00\"");
            self.push(d);
            return None;
        };
        // What the API would refuse, refused here, before the test runs.
        let text = value.as_str().unwrap_or_default();
        let reads = match (&value, ty, place) {
            (Json::Null, _, _) | (_, Type::Any, _) => Ok(()),
            (Json::String(_), _, TestPlace::Actor(f)) if f == "time_zone" => {
                literals::parse_time_zone(text)
                    .map(|_| ())
                    .ok_or("an IANA time zone, such as \"America/New_York\"")
            }
            (Json::Bool(_), Type::Boolean, _) | (Json::Number(_), Type::Number, _) => Ok(()),
            (Json::String(_), Type::Text, _) => Ok(()),
            (Json::String(_), Type::Phone, _) => literals::parse_phone(text)
                .map(|_| ())
                .ok_or("a phone number, such as \"+14155550100\""),
            (Json::String(_), Type::Email, _) => literals::is_email(text)
                .then_some(())
                .ok_or("an email address"),
            (Json::String(_), Type::Date, _) => literals::parse_date(text)
                .map(|_| ())
                .ok_or("a date, YYYY-MM-DD"),
            (Json::String(_), Type::DateTime, _) => DateTime::parse_from_rfc3339(text)
                .map(|_| ())
                .map_err(|_| "a date and time in RFC 3339, such as \"2026-03-10T15:00:00-05:00\""),
            (Json::Number(n), Type::Duration, _) if n.is_i64() => Ok(()),
            (_, Type::Duration, _) => Err("a whole number of seconds"),
            (_, Type::List | Type::Object, _) => {
                Err("a list or an object, which a test cannot write")
            }
            (_, t, _) => Err(match t {
                Type::Boolean => "`true` or `false`",
                Type::Number => "a number",
                _ => "text in quotes",
            }),
        };
        if let Err(expected) = reads {
            let d = self
                .diag(
                    ASSIGN_TYPE,
                    e.span,
                    format!("this value does not fit a {ty}"),
                    format!("expected {expected}"),
                )
                .with_help("write the value as the API would send it");
            self.push(d);
            return None;
        }
        Some(value)
    }

    /// A date and time in a test: RFC 3339 with an offset, or `YYYY-MM-DD HH:MM[:SS]`
    /// read in `zone`. A local time that happens twice (when the clocks go back) is the
    /// first; one that never happens (when they go forward) is refused.
    fn instant(&mut self, at: &ast::StrLit, zone: Option<&ast::StrLit>) -> Option<DateTime<Utc>> {
        let text = self.constant(at, "a date and time")?;
        let zone = match zone {
            Some(z) => Some(self.time_zone(z)?),
            None => None,
        };
        let bad = |cx: &mut Self, message: String, help: String| {
            let d = cx
                .diag(TEST_STEP, at.span, message, "not a time this test can use")
                .with_help(help);
            cx.push(d);
            None
        };
        if let Ok(t) = DateTime::parse_from_rfc3339(&text) {
            if zone.is_some() {
                return bad(
                    self,
                    format!("`{text}` has an offset and a zone"),
                    "leave out `in \"...\"`: the offset says where it is".into(),
                );
            }
            return Some(t.with_timezone(&Utc));
        }
        let naive = [
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M:%S",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&text, f).ok());
        let Some(naive) = naive else {
            return bad(self, format!("`{text}` is not a date and time"), "write \"2026-12-04 09:00\" with `in \"Zone/Name\"`, or RFC 3339 with an offset such as \"2026-12-04T09:00:00-05:00\"".into());
        };
        let Some(name) = zone else {
            return bad(self, format!("in which time zone is {text}?"), format!("add the zone, as in `\"{text}\" in \"America/New_York\"`, or write an offset: \"2026-12-04T09:00:00-05:00\""));
        };
        let tz = literals::parse_time_zone(&name)?;
        match tz.from_local_datetime(&naive).earliest() {
            Some(t) => Some(t.with_timezone(&Utc)),
            None => bad(
                self,
                format!("{text} does not happen in {name}"),
                "the clocks go forward over it; pick a time before or after".into(),
            ),
        }
    }

    /// "`what` `name` is unknown", with a suggestion from `known`.
    fn unknown(&mut self, span: Span, what: &str, name: &str, known: &[&str]) {
        let help = suggestion(did_you_mean(name, known.iter().copied())).unwrap_or_else(|| {
            if known.is_empty() {
                format!("there is no {what} here to name")
            } else {
                format!("it is one of: {}", known.join(", "))
            }
        });
        let d = self
            .diag(
                TEST_UNKNOWN,
                span,
                format!("unknown {what} `{name}`"),
                format!("no such {what}"),
            )
            .with_help(help);
        self.push(d);
    }
}

/// The pages of `j` with a control for which `has` holds.
fn pages_with(j: &ir::Journey, has: impl Fn(&Control) -> bool) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    for (s, step) in j.steps.iter().enumerate() {
        for (p, page) in step.pages.iter().enumerate() {
            if page.controls.iter().any(&has) {
                found.push((s, p));
            }
        }
    }
    found
}

/// The span of a step's argument, for the steps whose one argument is the mistake.
fn step_arg(step: &ast::TestStep) -> Span {
    match &step.kind {
        K::OpenLink(s) | K::Press(s) => s.span,
        _ => step.span,
    }
}
