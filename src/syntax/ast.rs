//! The untyped syntax tree: what the user wrote, with spans, and nothing resolved.
//!
//! Broken input still yields a tree; the parts that could not be read are left out
//! and reported as diagnostics, so the checker and editors keep working.

use crate::diagnostic::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A string literal: its unescaped value, and its `{{ }}` parts.
#[derive(Clone, Debug, PartialEq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
    pub parts: Vec<TemplatePart>,
}

impl StrLit {
    pub fn has_interpolation(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, TemplatePart::Expr(_)))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum TemplatePart {
    Text(String),
    Expr(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Import(Import),
    Journey(Journey),
    Calendar(Calendar),
    Notification(Notification),
    Test(Test),
}

#[derive(Clone, Debug, PartialEq)]
pub enum ImportTarget {
    /// `std.calendars`
    Module(Vec<Ident>),
    /// `"shared.journey"`
    File(StrLit),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    pub target: ImportTarget,
    pub alias: Option<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Journey {
    pub name: Ident,
    pub items: Vec<JourneyItem>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LandsOn {
    LastPage,
    FirstPage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    Keep,
    Replace,
    Reject,
}

#[derive(Clone, Debug, PartialEq)]
pub enum JourneyItem {
    SmsFrom(StrLit, Span),
    Expires(Expr, Span),
    LinkLands(LandsOn, Span),
    ExistingSession(Policy, Span),
    /// `on new version upgrade` is true; `on new version keep` false.
    NewVersion(bool, Span),
    /// `time zone "..."`: where the journey's people are, unless their actor says.
    TimeZone(StrLit, Span),
    Help(StrLit, Span),
    Trigger(Trigger),
    OnStarted(Actions, Span),
    OnReply {
        keywords: Vec<StrLit>,
        actions: Actions,
        span: Span,
    },
    Var(VarDecl),
    Step(Step),
    Notification(Notification),
    Calendar(Calendar),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Trigger {
    pub kind: TriggerKind,
    pub actions: Option<Actions>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TriggerKind {
    Link(StrLit),
    Sms(StrLit),
    Call(StrLit),
    Api,
    Schedule { cron: StrLit, zone: StrLit },
}

#[derive(Clone, Debug, PartialEq)]
pub struct VarDecl {
    pub name: Ident,
    pub ty: Ident,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub name: Ident,
    pub pages: Vec<Page>,
    pub on_enter: Vec<Actions>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub name: Ident,
    pub controls: Vec<Control>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // Inputs are the common control; boxing buys nothing.
pub enum Control {
    Heading(StrLit, Span),
    Text(StrLit, Span),
    Link {
        label: StrLit,
        url: Expr,
        span: Span,
    },
    Button {
        label: StrLit,
        actions: Actions,
        span: Span,
    },
    Input(Input),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    pub var: Ident,
    pub kind: Ident,
    pub label: StrLit,
    pub required: bool,
    pub placeholder: Option<StrLit>,
    pub options: Option<Expr>,
    pub validate: Option<(Expr, StrLit)>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Actions {
    pub actions: Vec<Action>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    pub kind: ActionKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unavailable {
    Skip,
    Next,
    Previous,
    Anyway,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TimerWhen {
    After(Expr),
    At(Expr),
}

/// `on CALENDAR [in ZONE] [if unavailable POLICY]` of a timer.
#[derive(Clone, Debug, PartialEq)]
pub struct TimerCalendar {
    pub path: Vec<Ident>,
    /// The zone to read the calendar's hours in, instead of its own.
    pub zone: Option<Expr>,
    pub unavailable: Unavailable,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StartTimer {
    pub key: StrLit,
    pub when: TimerWhen,
    pub calendar: Option<TimerCalendar>,
    pub skip_if_missed: bool,
    pub actions: Actions,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ActionKind {
    Set {
        target: Vec<Ident>,
        value: Expr,
    },
    InitializeActor,
    SendSms(Vec<Ident>),
    StartTimer(Box<StartTimer>),
    StopTimer(StrLit),
    GoToPage(Ident),
    GoToStep(Ident),
    If {
        branches: Vec<(Expr, Actions)>,
        otherwise: Option<Actions>,
    },
    EndSession,
    ExtendSession(Expr),
    Say(StrLit),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub name: Ident,
    pub channel: Ident,
    pub parts: Vec<Part>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Text(StrLit, Span),
    JourneyLink(Span),
    Link(Expr, Span),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Calendar {
    pub name: Ident,
    pub items: Vec<CalendarItem>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CalendarItem {
    TimeZone(StrLit, Span),
    /// Day names and `HH:MM` pairs as written; the checker validates them.
    Weekly {
        days: Vec<(Ident, Option<Ident>)>,
        hours: Vec<(Ident, Ident)>,
        span: Span,
    },
    Cron {
        cron: StrLit,
        length: Expr,
        span: Span,
    },
    Closed {
        from: Ident,
        to: Option<Ident>,
        reason: Option<StrLit>,
        span: Span,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinOp {
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
    Rem,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnOp {
    Not,
    Neg,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Number(f64),
    Text(StrLit),
    Bool(bool),
    Null,
    /// Digits and unit as written, e.g. `30` and `m`; the checker validates the unit.
    Duration {
        value: u64,
        unit: String,
    },
    List(Vec<Expr>),
    Object(Vec<(Ident, Expr)>),
    /// A name, or a dotted path such as `actor.phone`.
    Path(Vec<Ident>),
    Field(Box<Expr>, Ident),
    Call(Ident, Vec<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Unary(UnOp, Box<Expr>),
}

/// `test "name" { ... }`: steps a person, a phone and the clock take, and what should
/// happen (docs/testing.md).
#[derive(Clone, Debug, PartialEq)]
pub struct Test {
    pub name: StrLit,
    pub steps: Vec<TestStep>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TestStep {
    pub kind: TestStepKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TestStepKind {
    /// `clock "2026-12-04 16:00" in "America/New_York"`: when the test starts.
    Clock {
        at: StrLit,
        zone: Option<StrLit>,
    },
    OpenLink(StrLit),
    OpenJourneyLink,
    Fill {
        var: Ident,
        value: StrLit,
    },
    Press(StrLit),
    Text {
        body: StrLit,
        from: Option<StrLit>,
        to: Option<StrLit>,
    },
    Call {
        to: StrLit,
        from: Option<StrLit>,
    },
    Api {
        journey: Ident,
        fields: Vec<(Vec<Ident>, Expr)>,
    },
    Wait(Expr),
    WaitUntil {
        at: StrLit,
        zone: Option<StrLit>,
    },
    WaitSchedule(Ident),
    WaitTimer(StrLit),
    Mark {
        status: Ident,
        code: Option<Expr>,
    },
    Expect(Expectation),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expectation {
    Page(Ident),
    Text(StrLit),
    Error {
        field: Ident,
        message: Option<StrLit>,
    },
    NoSms,
    SmsCount(Expr),
    Sms {
        notification: Option<Vec<Ident>>,
        to: Option<StrLit>,
        matches: Vec<SmsMatch>,
        suppressed: bool,
    },
    Say(StrLit),
    Timer {
        key: StrLit,
        at: Option<(StrLit, Option<StrLit>)>,
    },
    NoTimer(StrLit),
    Status(Ident),
    Value {
        target: Vec<Ident>,
        value: Expr,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum SmsMatch {
    Containing(StrLit),
    Equal(StrLit),
    JourneyLink,
}
