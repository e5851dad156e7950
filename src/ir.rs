//! The typed intermediate representation: what the runtime executes.
//!
//! Every name is resolved to an index and every expression carries its type, so the
//! runtime never re-parses or re-resolves. Serializable, so `journeyc check --emit ir`
//! can show it and a server can load it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::types::{Func, Type};

/// The IR's stored form: bumped whenever a change to these types would make a journey
/// stored by an older journeyc read differently. Part of every fingerprint.
pub const FORMAT: u32 = 1;

/// Enums of the IR's own (the checker converts the syntax tree's), so that the stored
/// form of a journey does not change when the grammar's types do.
macro_rules! ir_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant),*
        }
    };
}

ir_enum!(
    /// Which page a journey link opens.
    LandsOn { LastPage, FirstPage }
);
ir_enum!(
    /// What a trigger does when the person already has an active session.
    Policy { Keep, Replace, Reject }
);
ir_enum!(
    /// What a timer does when its calendar is closed at the due time.
    Unavailable { Skip, Next, Previous, Anyway }
);
ir_enum!(BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem
});
ir_enum!(UnOp { Not, Neg });
ir_enum!(
    /// What `journeyc run` does with a journey's live sessions when a new version of it
    /// is deployed: `Keep` pins them to the version they started on; `Upgrade` moves
    /// them to the new one, matched by name, where they fit.
    OnNewVersion { Keep, Upgrade }
);

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "OR",
            BinOp::And => "AND",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

/// Everything one file defines, checked.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Module {
    pub name: String,
    pub journeys: Vec<Journey>,
    pub calendars: Vec<Calendar>,
    pub notifications: Vec<Notification>,
    /// The file's `test` blocks, which `journeyc test` runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<Test>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Journey {
    pub name: String,
    /// E.164; `None` when the journey sends no SMS.
    pub sms_from: Option<String>,
    pub expires_after_secs: u64,
    pub link_lands_on: LandsOn,
    pub existing_session: Policy,
    /// What a new version of this journey does with its live sessions.
    #[serde(default = "keep")]
    pub on_new_version: OnNewVersion,
    pub help_text: Option<String>,
    /// `time zone "..."`: the zone of the journey's people when their actor has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    pub triggers: Vec<Trigger>,
    pub on_started: Vec<Action>,
    pub reply_handlers: Vec<ReplyHandler>,
    pub vars: Vec<Var>,
    pub steps: Vec<Step>,
    /// Every notification the journey sends, its own and imported ones.
    pub notifications: Vec<Notification>,
    /// Every calendar its timers use, its own and imported ones.
    pub calendars: Vec<Calendar>,
}

fn keep() -> OnNewVersion {
    OnNewVersion::Keep
}

impl Journey {
    /// A stable fingerprint of what this journey does: SHA-256 of its IR's stored form
    /// and the format version, in hex. The same source checks to the same fingerprint;
    /// any change to what runs changes it.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).expect("the IR serializes");
        let mut h = Sha256::new();
        h.update(FORMAT.to_le_bytes());
        h.update(&json);
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

pub const DEFAULT_EXPIRY_SECS: u64 = 30 * 86_400;
pub const MAX_EXPIRY_SECS: u64 = 90 * 86_400;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    Link {
        slug: String,
    },
    Sms {
        to: String,
        actions: Vec<Action>,
    },
    Call {
        to: String,
        actions: Vec<Action>,
    },
    Api {
        actions: Vec<Action>,
    },
    /// `cron` always has the seconds field (five-field input gets `0` prepended).
    Schedule {
        cron: String,
        time_zone: String,
        actions: Vec<Action>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplyHandler {
    /// Upper-case, trimmed; empty means any reply.
    pub keywords: Vec<String>,
    pub actions: Vec<Action>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Var {
    pub name: String,
    pub ty: Type,
    pub default: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub on_enter: Vec<Action>,
    pub pages: Vec<Page>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub name: String,
    pub controls: Vec<Control>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "control", rename_all = "snake_case")]
pub enum Control {
    Heading { text: Expr },
    Text { text: Expr },
    Link { label: Expr, url: Expr },
    Button { label: Expr, actions: Vec<Action> },
    Input(Input),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    Text,
    Phone,
    Email,
    Number,
    Date,
    Datetime,
    Choice,
    Checkbox,
    /// One of the options, each shown at once (radio buttons in a fieldset).
    Radio,
}

impl InputKind {
    /// Whether the input picks one of its `options`.
    pub fn takes_options(self) -> bool {
        matches!(self, InputKind::Choice | InputKind::Radio)
    }

    pub const ALL: [(&'static str, InputKind, Type); 9] = [
        ("text", InputKind::Text, Type::Text),
        ("phone", InputKind::Phone, Type::Phone),
        ("email", InputKind::Email, Type::Email),
        ("number", InputKind::Number, Type::Number),
        ("date", InputKind::Date, Type::Date),
        ("datetime", InputKind::Datetime, Type::DateTime),
        ("choice", InputKind::Choice, Type::Text),
        ("checkbox", InputKind::Checkbox, Type::Boolean),
        ("radio", InputKind::Radio, Type::Text),
    ];
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// Index into the journey's `vars`.
    pub var: usize,
    pub kind: InputKind,
    pub label: Expr,
    pub required: bool,
    pub placeholder: Option<String>,
    pub options: Option<Expr>,
    pub validate: Option<Validation>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    pub condition: Expr,
    pub message: String,
}

/// Where `set` writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Place {
    Var(usize),
    Actor(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimerTime {
    After { duration: Expr },
    At { datetime: Expr },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimerCalendar {
    /// Index into the journey's `calendars`.
    pub calendar: usize,
    pub if_unavailable: Unavailable,
    /// A Text expression naming the zone to read the calendar's hours in (such as
    /// `actor.time_zone`); when it is null or no zone, the journey's `time_zone`, and
    /// then the calendar's own. Absent from the stored form when not given, so
    /// journeys written before it keep their fingerprints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    Set {
        target: Place,
        value: Expr,
    },
    InitializeActor,
    SendSms {
        notification: usize,
    },
    StartTimer {
        key: String,
        time: TimerTime,
        calendar: Option<TimerCalendar>,
        skip_if_missed: bool,
        actions: Vec<Action>,
    },
    StopTimer {
        key: String,
    },
    GoToPage {
        step: usize,
        page: usize,
    },
    GoToStep {
        step: usize,
    },
    If {
        branches: Vec<(Expr, Vec<Action>)>,
        otherwise: Vec<Action>,
    },
    EndSession,
    ExtendSession {
        by: Expr,
    },
    Say {
        text: Expr,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Qualified for imported ones, e.g. `std.notifications.JourneyLink`.
    pub name: String,
    pub parts: Vec<NotificationPart>,
}

/// Each part is sent as its own SMS, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotificationPart {
    Text { text: Expr },
    JourneyLink,
    Link { url: Expr },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calendar {
    pub name: String,
    pub time_zone: String,
    pub weekly: Vec<WeeklyHours>,
    pub cron: Vec<CronWindow>,
    pub closed: Vec<ClosedDates>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeeklyHours {
    /// Monday is 0.
    pub days: Vec<u8>,
    /// Minutes after local midnight; `from < to`.
    pub from_minute: u16,
    pub to_minute: u16,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CronWindow {
    pub cron: String,
    pub length_secs: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClosedDates {
    /// ISO dates, inclusive.
    pub from: String,
    pub to: String,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expr {
    pub ty: Type,
    #[serde(flatten)]
    pub kind: ExprKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "expr", content = "of", rename_all = "snake_case")]
pub enum ExprKind {
    Text(String),
    Number(f64),
    Bool(bool),
    Null,
    /// Phone literals are stored as E.164.
    Phone(String),
    Email(String),
    /// Months count as 30 days.
    Duration(u64),
    List(Vec<Expr>),
    Object(Vec<(String, Expr)>),
    Var(usize),
    Actor(String),
    Session(String),
    JourneyLink,
    Field(Box<Expr>, String),
    Call(Func, Vec<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    /// Text with `{{ }}` parts, concatenated.
    Template(Vec<Expr>),
}

// ---------------------------------------------------------------- tests

/// A checked `test` block. Pages, buttons, inputs and variables are named as in the
/// source; the checker has made sure they exist, and `journeyc test` finds them by name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Test {
    pub name: String,
    /// The test's name in the source, as byte offsets.
    pub span: (usize, usize),
    /// When the test starts: `clock`, or else `DEFAULT_TEST_START`.
    pub start: chrono::DateTime<chrono::Utc>,
    /// The journeys its steps talk to, among its file's and those of the files the
    /// file imports; the test's engine runs these and no other.
    pub journeys: Vec<TestJourney>,
    pub steps: Vec<TestStep>,
}

/// A journey a test runs, by name and fingerprint: two files may hold journeys of one
/// name, and the test runs the one its file sees.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestJourney {
    pub name: String,
    pub fingerprint: String,
}

/// Where a test's clock starts unless it says: Monday 5 January 2026, 09:00 in New
/// York, a fixed instant so that every run sees the same times.
pub const DEFAULT_TEST_START: &str = "2026-01-05T14:00:00Z";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestStep {
    /// The step's line in the source, as byte offsets.
    pub span: (usize, usize),
    pub action: TestAction,
}

/// Where an `expect NAME = VALUE` looks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum TestPlace {
    Var(String),
    Actor(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum TestAction {
    OpenLink {
        slug: String,
    },
    OpenJourneyLink,
    Fill {
        field: String,
        value: String,
    },
    Press {
        label: String,
    },
    /// A text to `to` from `from`; `None` takes the current session's actor and sender
    /// number.
    Text {
        body: String,
        from: Option<String>,
        to: Option<String>,
    },
    Call {
        to: String,
        from: Option<String>,
    },
    /// The API trigger, with actor fields and variables as the API's JSON would give
    /// them.
    Api {
        journey: String,
        actor: Vec<(String, serde_json::Value)>,
        vars: Vec<(String, serde_json::Value)>,
    },
    Wait {
        secs: u64,
    },
    WaitUntil {
        at: chrono::DateTime<chrono::Utc>,
    },
    WaitSchedule {
        journey: String,
    },
    WaitTimer {
        key: String,
    },
    /// A delivery status for the last text, as Twilio's status callback reports it.
    Mark {
        status: String,
        code: Option<String>,
    },
    ExpectPage {
        page: String,
    },
    ExpectText {
        text: String,
    },
    ExpectError {
        field: String,
        message: Option<String>,
    },
    /// Exactly this many texts since the last SMS expectation.
    ExpectSmsCount {
        count: usize,
    },
    ExpectSms {
        notification: Option<String>,
        to: Option<String>,
        containing: Vec<String>,
        equal: Option<String>,
        journey_link: bool,
        suppressed: bool,
    },
    ExpectSay {
        text: String,
    },
    ExpectTimer {
        key: String,
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    ExpectNoTimer {
        key: String,
    },
    ExpectStatus {
        status: String,
    },
    ExpectValue {
        place: TestPlace,
        value: serde_json::Value,
    },
}
