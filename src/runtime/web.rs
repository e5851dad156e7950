//! The web flow as the runtime's own API: which journey a starting link opens, which
//! page a journey link shows and what is on it (a render model, not HTML), and what
//! pressing one of its buttons with the fields as typed does. The server translates
//! HTTP to these calls and renders the model; `journeyc test` and the preview call the
//! same functions, so every front end follows the same rules (language.md §11, §14).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::engine::{Engine, Pending, Started};
use super::input::{self, MAX_FIELD};
use super::interp::Effect;
use super::session::{SessionState, Status};
use super::store::{Result, StoreError};
use super::{eval, Value};
use crate::ir::{self, Control, InputKind, LandsOn};

/// What a journey link shows.
#[derive(Clone, Debug, PartialEq)]
pub enum View {
    Page(PageModel),
    /// The session is on no page (a step without pages, or past the last one): there
    /// is nothing to do here right now.
    Nothing,
}

/// One page as a person sees it, with every expression already evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct PageModel {
    pub step: usize,
    pub page: usize,
    /// The first heading, or else the journey's name.
    pub title: String,
    /// Whether the page has a form to submit: a button or an input.
    pub form: bool,
    pub parts: Vec<Part>,
}

/// One control of a page, in the order written. `index` is the control's place on
/// its page, which is how a press names its button.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    /// `main` for the page's first heading.
    Heading {
        text: String,
        main: bool,
    },
    Text(String),
    /// `url` is `None` when it is not a web, phone, SMS or email address: then the
    /// label is shown as text, never as a link.
    Link {
        label: String,
        url: Option<String>,
    },
    Button {
        index: usize,
        label: String,
    },
    Input(Field),
}

/// An input with its value (what was typed, or else the variable's value) and the
/// message for it, if what was typed was not accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub index: usize,
    /// The form field's name: its variable's.
    pub name: String,
    pub kind: InputKind,
    pub label: String,
    pub placeholder: Option<String>,
    pub required: bool,
    pub value: String,
    /// For `choice` and `radio`.
    pub options: Vec<String>,
    pub error: Option<String>,
}

/// A press of a page's button, as a front end received it.
#[derive(Clone, Debug, Default)]
pub struct Press {
    /// The page the form was shown for; `None` when the front end does not know.
    pub page: Option<(usize, usize)>,
    /// The button's `index`; `None` (Enter in a field) means the page's first button.
    pub button: Option<usize>,
    /// The fields as typed, by name.
    pub fields: HashMap<String, String>,
}

/// What a press did.
#[derive(Clone, Debug, PartialEq)]
pub enum Submitted {
    /// The button's actions ran and the session is on `step` and `page` (`None`: a
    /// step without pages).
    Moved { step: usize, page: Option<usize> },
    /// The actions ran and the person stays on the page: it is the last of its step
    /// and the button did not say where to go.
    Stayed { step: usize, page: usize },
    /// The session is over: the actions ended it, or it ended or expired meanwhile.
    Ended,
    /// Some fields were not accepted: the page again, with what was typed and a
    /// message for each such field. Nothing was kept.
    Invalid(PageModel),
    /// The form is from a page the session is no longer on (an old tab, or another
    /// event moved it on meanwhile): nothing was kept.
    Stale,
    /// The press named no button of the page: nothing was kept.
    NoButton,
}

/// A press on its way to being kept: `finish` or `wait` for what it did.
#[must_use = "a press is kept only once it is durable"]
pub struct Submission(Kept);

/// What a press's change gives once durable: the session after it, and its effects.
type Pressed = (SessionState, Vec<Effect>);

enum Kept {
    /// Nothing to keep: the outcome is known already.
    Now(Submitted),
    /// The button's actions, pressed on page `at`.
    Later {
        pending: Box<Pending<Pressed>>,
        at: (usize, usize),
    },
}

impl Submission {
    /// Awaits the press's durability, and gives what it did.
    pub async fn finish(self) -> Result<Submitted> {
        match self.0 {
            Kept::Now(outcome) => Ok(outcome),
            Kept::Later { pending, at } => settled(pending.finish().await, at),
        }
    }

    /// Blocks this thread until the press is durable, and gives what it did.
    pub fn wait(self) -> Result<Submitted> {
        match self.0 {
            Kept::Now(outcome) => Ok(outcome),
            Kept::Later { pending, at } => settled(pending.wait(), at),
        }
    }
}

fn settled(kept: Result<Pressed>, at: (usize, usize)) -> Result<Submitted> {
    match kept {
        Ok((state, _)) if state.status != Status::Active => Ok(Submitted::Ended),
        // The person stays only when no action said where to go (a `go to` back to the
        // same page or step is a move). A session that has shown no page yet is on its
        // step's first page.
        Ok((state, effects))
            if !effects.contains(&Effect::Moved) && (state.step, state.page.unwrap_or(0)) == at =>
        {
            Ok(Submitted::Stayed {
                step: at.0,
                page: at.1,
            })
        }
        Ok((state, _)) => Ok(Submitted::Moved {
            step: state.step,
            page: state.page,
        }),
        // Another event moved the session on between the read and the commit.
        Err(StoreError::Stale { .. }) => Ok(Submitted::Stale),
        // Another event ended it, or it expired, since it was read.
        Err(StoreError::Rejected(_)) => Ok(Submitted::Ended),
        Err(e) => Err(e),
    }
}

impl Engine {
    /// The journey whose starting link is `slug`.
    pub fn link_journey(&self, slug: &str) -> Option<&ir::Journey> {
        self.journeys().iter().find(|j| {
            j.triggers
                .iter()
                .any(|t| matches!(t, ir::Trigger::Link { slug: s } if s == slug))
        })
    }

    /// Opens a starting link: a new session of its journey (or the one its
    /// existing-session policy keeps). `NotFound` when no journey has the link.
    pub fn open_link(
        &self,
        slug: &str,
        session_id: String,
        token_hash: &[u8],
        journey_link: Option<String>,
    ) -> Result<Pending<Started>> {
        let Some(journey) = self.link_journey(slug) else {
            return Err(StoreError::NotFound(format!("no starting link `{slug}`")));
        };
        let name = journey.name.clone();
        self.start_queued(
            &name,
            super::engine::Start::Link,
            session_id,
            token_hash,
            journey_link,
        )
    }

    /// What a journey link shows for `state`. `within_flow` says the person is in the
    /// middle of the flow (they just submitted a form): a journey whose links open the
    /// first page then shows the page the session is on.
    pub fn view(&self, state: &SessionState, within_flow: bool) -> Result<View> {
        let journey = self.journey_of(state)?;
        Ok(match shown_page(journey, state, within_flow) {
            Some((step, page)) => View::Page(model(journey, state, step, page, None, self.now())),
            None => View::Nothing,
        })
    }

    /// Presses a button of the page `state` shows: reads the fields, and when every one
    /// is accepted runs the button's actions in the session's turn. A button without a
    /// `go to` moves on to the next page of its step (language.md §14).
    pub fn submit(&self, state: &SessionState, press: Press) -> Result<Submission> {
        let journey = self.journey_of(state)?;
        // The form must come from the page the session is on (or, for journeys whose
        // link opens the first page, from that page).
        let current = shown_page(journey, state, true);
        let landing = shown_page(journey, state, false);
        let Some((step, page)) = press
            .page
            .or(current)
            .filter(|p| Some(*p) == current || Some(*p) == landing)
        else {
            return Ok(Submission(Kept::Now(Submitted::Stale)));
        };
        let controls = &journey.steps[step].pages[page].controls;
        let button = press.button.or_else(|| {
            controls
                .iter()
                .position(|c| matches!(c, Control::Button { .. }))
        });
        let Some(Control::Button { actions, .. }) = button.and_then(|i| controls.get(i)) else {
            return Ok(Submission(Kept::Now(Submitted::NoButton)));
        };
        let now = self.now();
        let inputs = match validate(journey, state, step, page, &press.fields, now) {
            Ok(inputs) => inputs,
            Err(entered) => {
                let shown = model(journey, state, step, page, Some(&entered), now);
                return Ok(Submission(Kept::Now(Submitted::Invalid(shown))));
            }
        };
        let label = match &controls[button.expect("found above")] {
            Control::Button { label, .. } => text_of(label, state, now),
            _ => String::new(),
        };
        // Only the page's own inputs, each cut short and quoted with escapes, so that
        // what a person types cannot pass for another line of the log.
        let mut typed: Vec<String> = controls
            .iter()
            .filter_map(|c| match c {
                Control::Input(i) => {
                    let name = field_name(journey, i);
                    let v = press.fields.get(&name)?;
                    Some(format!(
                        "{name} = {:?}",
                        v.chars().take(80).collect::<String>()
                    ))
                }
                _ => None,
            })
            .collect();
        typed.sort();
        let note = format!(
            "button \"{label}\" pressed on page {}{}",
            journey.steps[step].pages[page].name,
            if typed.is_empty() {
                String::new()
            } else {
                format!(" with {}", typed.join(", "))
            }
        );
        match self.press_noted(&state.id, Some((step, page)), &inputs, actions, Some(note)) {
            Ok(pending) => Ok(Submission(Kept::Later {
                pending: Box::new(pending),
                at: (step, page),
            })),
            Err(StoreError::Stale { .. }) => Ok(Submission(Kept::Now(Submitted::Stale))),
            Err(StoreError::Rejected(_)) => Ok(Submission(Kept::Now(Submitted::Ended))),
            Err(e) => Err(e),
        }
    }
}

/// Which page a journey link shows: the session's current page, or step 1's first
/// page when the journey says links open the first page (unless the person is within
/// the flow).
fn shown_page(
    journey: &ir::Journey,
    state: &SessionState,
    within_flow: bool,
) -> Option<(usize, usize)> {
    if journey.link_lands_on == LandsOn::FirstPage && !within_flow {
        return (!journey.steps.first()?.pages.is_empty()).then_some((0, 0));
    }
    let step = journey.steps.get(state.step)?;
    let page = state.page.unwrap_or(0);
    (page < step.pages.len()).then_some((state.step, page))
}

/// What a person typed, by field name, and the messages for fields not accepted.
#[derive(Default)]
struct Entered {
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
}

fn field_name(journey: &ir::Journey, input: &ir::Input) -> String {
    journey.vars[input.var].name.clone()
}

fn text_of(expr: &ir::Expr, state: &SessionState, now: DateTime<Utc>) -> String {
    eval(expr, &state.env(now))
        .map(|v| v.display())
        .unwrap_or_default()
}

fn options_of(input: &ir::Input, state: &SessionState, now: DateTime<Utc>) -> Vec<Value> {
    match input.options.as_ref().map(|o| eval(o, &state.env(now))) {
        Some(Ok(Value::List(items))) => items,
        _ => Vec::new(),
    }
}

/// Only these schemes become clickable links; anything else is shown as text.
fn safe_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    ["https://", "http://", "tel:", "sms:", "mailto:", "/"]
        .iter()
        .any(|p| lower.starts_with(p))
        && !lower.starts_with("//")
}

fn model(
    journey: &ir::Journey,
    state: &SessionState,
    step: usize,
    page: usize,
    entered: Option<&Entered>,
    now: DateTime<Utc>,
) -> PageModel {
    let controls = &journey.steps[step].pages[page].controls;
    let text = |e: &ir::Expr| text_of(e, state, now);
    let mut title = None;
    let parts = controls
        .iter()
        .enumerate()
        .map(|(index, control)| match control {
            Control::Heading { text: t } => {
                let shown = text(t);
                let main = title.is_none();
                title.get_or_insert_with(|| shown.clone());
                Part::Heading { text: shown, main }
            }
            Control::Text { text: t } => Part::Text(text(t)),
            Control::Link { label, url } => {
                let url = text(url);
                Part::Link {
                    label: text(label),
                    url: safe_url(&url).then_some(url),
                }
            }
            Control::Button { label, .. } => Part::Button {
                index,
                label: text(label),
            },
            Control::Input(i) => {
                let name = field_name(journey, i);
                let value = match entered {
                    Some(e) => e.values.get(&name).cloned().unwrap_or_default(),
                    None => input::to_field(&state.vars[i.var]),
                };
                Part::Input(Field {
                    index,
                    kind: i.kind,
                    label: text(&i.label),
                    placeholder: i.placeholder.clone(),
                    required: i.required,
                    value,
                    options: options_of(i, state, now)
                        .iter()
                        .map(Value::display)
                        .collect(),
                    error: entered.and_then(|e| e.errors.get(&name).cloned()),
                    name,
                })
            }
        })
        .collect();
    PageModel {
        step,
        page,
        title: title.unwrap_or_else(|| journey.name.clone()),
        form: controls
            .iter()
            .any(|c| matches!(c, Control::Button { .. } | Control::Input(_))),
        parts,
    }
}

/// Reads every input of a page from what the form sent. On success gives the values
/// to keep, by variable index; otherwise what was entered, with messages.
fn validate(
    journey: &ir::Journey,
    state: &SessionState,
    step: usize,
    page: usize,
    form: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> std::result::Result<Vec<(usize, Value)>, Entered> {
    let mut entered = Entered::default();
    let mut values = Vec::new();
    // A person types their own local time: the actor's zone, else the journey's.
    let zone = match state.actor.get("time_zone") {
        Some(Value::Text(z)) => Some(z.as_str()),
        _ => journey.time_zone.as_deref(),
    };
    let inputs = journey.steps[step].pages[page]
        .controls
        .iter()
        .filter_map(|c| match c {
            Control::Input(i) => Some(i),
            _ => None,
        });
    for input in inputs {
        let name = field_name(journey, input);
        let raw = form.get(&name).map(String::as_str);
        entered.values.insert(
            name.clone(),
            raw.unwrap_or("").chars().take(MAX_FIELD).collect(),
        );
        let value = match input::from_field(input.kind, raw, zone) {
            Ok(v) => v,
            Err(message) => {
                entered.errors.insert(name, message);
                continue;
            }
        };
        // A required checkbox is one the person must tick, such as an agreement.
        let unticked = input.kind == InputKind::Checkbox && value == Value::Boolean(false);
        if input.required && (value.is_empty() || unticked) {
            entered.errors.insert(name, "This is required.".into());
            continue;
        }
        if input.kind.takes_options()
            && !value.is_empty()
            && !options_of(input, state, now).contains(&value)
        {
            entered
                .errors
                .insert(name, "Choose one of the options.".into());
            continue;
        }
        values.push((input.var, value));
    }
    if !entered.errors.is_empty() {
        return Err(entered);
    }
    // Conditions see every value typed on the page, so one field can refer to another.
    let mut trial = state.clone();
    for (var, value) in &values {
        trial.vars[*var] = value.clone();
    }
    for c in &journey.steps[step].pages[page].controls {
        let Control::Input(input) = c else { continue };
        let Some(v) = &input.validate else { continue };
        // An empty optional field is not validated: there is nothing to check.
        if !input.required && trial.vars[input.var].is_empty() {
            continue;
        }
        if !matches!(
            eval(&v.condition, &trial.env(now)),
            Ok(Value::Boolean(true))
        ) {
            entered
                .errors
                .insert(field_name(journey, input), v.message.clone());
        }
    }
    if entered.errors.is_empty() {
        Ok(values)
    } else {
        Err(entered)
    }
}
