//! Checks one file's items: calendars, notifications and journeys, to IR.

use std::collections::HashMap;
use std::sync::Arc;

use super::{flow, Exports};
use crate::diagnostic::*;
use crate::ir;
use crate::literals::{self, DurationError};
use crate::syntax::ast::{self, ExprKind as E, TemplatePart};
use crate::types::{Func, Returns, Type, ACTOR_FIELDS, SESSION_FIELDS};

/// Above this many segments a text part gets a warning.
pub const MAX_QUIET_SEGMENTS: usize = 3;
/// Twilio's limit on one message body.
pub const MAX_SMS_CHARS: usize = 1_600;

pub(super) fn check_module(
    file: FileId,
    name: &str,
    tree: &ast::File,
    imports: &HashMap<String, Arc<Exports>>,
    diags: &mut Vec<Diagnostic>,
) -> (ir::Module, Exports) {
    let mut cx = Cx {
        file,
        diags,
        imports,
        local: Exports::default(),
    };
    let mut module = ir::Module {
        name: name.to_string(),
        ..Default::default()
    };
    let mut names: HashMap<(&str, String), Span> = HashMap::new();
    let mut first_definition = |cx: &mut Cx, kind: &'static str, id: &ast::Ident| -> bool {
        if let Some(first) = names.get(&(kind, id.name.clone())) {
            cx.duplicate(kind, id, *first);
            return false;
        }
        names.insert((kind, id.name.clone()), id.span);
        true
    };
    // Calendars and notifications first: journeys may use them wherever they stand.
    for item in &tree.items {
        match item {
            ast::Item::Calendar(c) if first_definition(&mut cx, "calendar", &c.name) => {
                let cal = cx.calendar(c);
                cx.local.calendars.insert(c.name.name.clone(), cal.clone());
                module.calendars.push(cal);
            }
            ast::Item::Notification(n) if first_definition(&mut cx, "notification", &n.name) => {
                let mut scope = Scope::global();
                let built = cx.notification(n, &mut scope, &n.name.name);
                cx.local.notifications.insert(
                    n.name.name.clone(),
                    (built.clone(), scope.journey_link_used.is_some()),
                );
                module.notifications.push(built);
            }
            _ => {}
        }
    }
    for item in &tree.items {
        if let ast::Item::Journey(j) = item {
            if first_definition(&mut cx, "journey", &j.name) {
                module.journeys.push(cx.journey(j));
            }
        }
    }
    let exports = std::mem::take(&mut cx.local);
    (module, exports)
}

/// State shared by everything checked in one file.
pub(super) struct Cx<'a> {
    pub file: FileId,
    pub diags: &'a mut Vec<Diagnostic>,
    imports: &'a HashMap<String, Arc<Exports>>,
    local: Exports,
}

/// What names mean inside one journey (or, for file-level notifications, none).
pub(super) struct Scope {
    in_journey: bool,
    vars: Vec<(String, Type, Span)>,
    var_index: HashMap<String, usize>,
    /// Where the journey link is first used, for the "no web flow" check.
    pub journey_link_used: Option<Span>,
    /// Notifications and calendars referenced so far, by qualified name.
    notif_index: HashMap<String, usize>,
    notifications: Vec<ir::Notification>,
    local_notifications: HashMap<String, (ir::Notification, bool)>,
    cal_index: HashMap<String, usize>,
    calendars: Vec<ir::Calendar>,
    local_calendars: HashMap<String, ir::Calendar>,
    pub sms_sends: Vec<Span>,
    pub timer_starts: Vec<(String, Span)>,
    pub timer_stops: Vec<(String, Span)>,
    steps: HashMap<String, usize>,
    /// Page name to (step, page).
    pages: HashMap<String, (usize, usize)>,
    /// The step whose pages and `on enter` are being checked, if any.
    current_step: Option<usize>,
    /// A `go to` named a page or step that does not exist.
    unresolved_navigation: bool,
}

impl Scope {
    fn global() -> Scope {
        Scope {
            in_journey: false,
            vars: Vec::new(),
            var_index: HashMap::new(),
            journey_link_used: None,
            notif_index: HashMap::new(),
            notifications: Vec::new(),
            local_notifications: HashMap::new(),
            cal_index: HashMap::new(),
            calendars: Vec::new(),
            local_calendars: HashMap::new(),
            sms_sends: Vec::new(),
            timer_starts: Vec::new(),
            timer_stops: Vec::new(),
            steps: HashMap::new(),
            pages: HashMap::new(),
            current_step: None,
            unresolved_navigation: false,
        }
    }
}

/// Where an action list runs, for the actions that only fit some places.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    Call,
    Other,
}

fn join(path: &[ast::Ident]) -> String {
    path.iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(".")
}

fn path_span(path: &[ast::Ident]) -> Span {
    path[0].span.to(path[path.len() - 1].span)
}

fn lit(ty: Type, kind: ir::ExprKind) -> ir::Expr {
    ir::Expr { ty, kind }
}

fn any() -> ir::Expr {
    lit(Type::Any, ir::ExprKind::Null)
}

impl<'a> Cx<'a> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn diag(
        &self,
        code: Code,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::new(code, self.file, span, message, label)
    }

    /// Whether a line inside `span` could not be read: checks that would only echo
    /// that mistake (an empty block, an unreachable page) stay quiet then.
    pub(super) fn syntax_errors_within(&self, span: Span) -> bool {
        self.diags.iter().any(|d| {
            matches!(d.code.id, "J0001" | "J0004")
                && d.file == self.file
                && span.start <= d.primary.span.start
                && d.primary.span.end <= span.end
        })
    }

    fn duplicate(&mut self, kind: &str, id: &ast::Ident, first: Span) {
        let d = self
            .diag(
                DUPLICATE,
                id.span,
                format!("the {kind} `{}` is defined twice", id.name),
                format!("second definition of `{}`", id.name),
            )
            .with_label(first, "first defined here")
            .with_help(format!("rename one of them, or remove the second {kind}"));
        self.push(d);
    }

    fn duplicate_setting(&mut self, what: &str, span: Span, first: Span) {
        let d = self
            .diag(
                DUPLICATE,
                span,
                format!("`{what}` is set twice"),
                "set again here",
            )
            .with_label(first, "first set here")
            .with_help("keep one of them");
        self.push(d);
    }

    /// A string that must be constant (a phone number, a slug, a time zone...).
    fn constant(&mut self, s: &ast::StrLit, what: &str) -> Option<String> {
        if s.has_interpolation() {
            let d = self
                .diag(
                    INTERPOLATION_HERE,
                    s.span,
                    format!("{what} cannot contain `{{{{ }}}}`"),
                    "this must be a constant",
                )
                .with_help("write it out in full, without `{{ }}`");
            self.push(d);
            return None;
        }
        Some(s.value.clone())
    }

    fn phone_literal(&mut self, s: &ast::StrLit, what: &str) -> Option<String> {
        let value = self.constant(s, what)?;
        match literals::parse_phone(&value) {
            Some(e164) => Some(e164),
            None => {
                let d = self
                    .diag(INVALID_PHONE, s.span, format!("`{value}` is not a valid phone number"), "not a phone number")
                    .with_help("write the number in international form with its country code, e.g. \"+14155550123\"");
                self.push(d);
                None
            }
        }
    }

    fn time_zone(&mut self, s: &ast::StrLit) -> Option<String> {
        let value = self.constant(s, "a time zone")?;
        if literals::parse_time_zone(&value).is_some() {
            return Some(value);
        }
        let mut d = self.diag(
            UNKNOWN_TIME_ZONE,
            s.span,
            format!("unknown time zone `{value}`"),
            "not an IANA time zone name",
        );
        d = match did_you_mean(&value, literals::time_zone_names()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => {
                d.with_help("use an IANA name such as \"America/New_York\" or \"Europe/London\"")
            }
        };
        self.push(d);
        None
    }

    fn cron(&mut self, s: &ast::StrLit) -> Option<String> {
        let value = self.constant(s, "a cron expression")?;
        match literals::check_cron(&value) {
            Ok((normalized, numeric_dow)) => {
                if let Some(dow) = numeric_dow {
                    let d = self
                        .diag(CRON_NUMERIC_DAY, s.span, format!("numeric day of week `{dow}` in cron"), "days are numbered from Sunday = 1 here")
                        .with_note("in this cron dialect 1 is Sunday and 7 is Saturday, unlike Unix cron where 1 is Monday")
                        .with_help("use day names, e.g. `MON-FRI`");
                    self.push(d);
                }
                Some(normalized)
            }
            Err(why) => {
                let d = self
                    .diag(INVALID_CRON, s.span, format!("invalid cron expression `{value}`"), why)
                    .with_help("write five fields, `minute hour day-of-month month day-of-week`, e.g. \"0 9 * * MON-FRI\" for 09:00 on weekdays");
                self.push(d);
                None
            }
        }
    }

    /// A duration literal, in seconds.
    fn duration_literal(&mut self, value: u64, unit: &str, span: Span) -> Option<u64> {
        match literals::duration_secs(value, unit) {
            Ok(secs) => {
                if unit == "M" {
                    let d = self
                        .diag(
                            AMBIGUOUS_MONTH,
                            span,
                            format!(
                                "`{value}M` means {value} month{}",
                                if value == 1 { "" } else { "s" }
                            ),
                            "`M` is months, `m` is minutes",
                        )
                        .with_help(format!(
                            "write `{value}m` for minutes or `{value}mo` for months"
                        ));
                    self.push(d);
                }
                Some(secs)
            }
            Err(DurationError::UnknownUnit) => {
                let units = literals::DURATION_UNITS
                    .iter()
                    .map(|(u, _)| *u)
                    .filter(|u| *u != "M");
                let guess = match unit.to_ascii_lowercase().as_str() {
                    "sec" | "secs" | "second" | "seconds" => Some("s"),
                    "min" | "mins" | "minute" | "minutes" => Some("m"),
                    "hr" | "hrs" | "hour" | "hours" => Some("h"),
                    "day" | "days" => Some("d"),
                    "week" | "weeks" | "wk" => Some("w"),
                    "month" | "months" | "mon" => Some("mo"),
                    _ => did_you_mean(unit, units),
                };
                let mut d = self.diag(
                    INVALID_DURATION,
                    span,
                    format!("unknown duration unit `{unit}`"),
                    "not a duration unit",
                );
                d = match guess {
                    Some(g) => d.with_help(format!("did you mean `{value}{g}`? The units are s, m, h, d, w and mo")),
                    None => d.with_help("the units are s (seconds), m (minutes), h (hours), d (days), w (weeks) and mo (months)"),
                };
                self.push(d);
                None
            }
            Err(DurationError::Zero) => {
                let d = self
                    .diag(
                        INVALID_DURATION,
                        span,
                        "zero duration",
                        "this is no time at all",
                    )
                    .with_help("use a positive duration such as `30m`");
                self.push(d);
                None
            }
            Err(DurationError::TooLong) => {
                let d = self
                    .diag(
                        INVALID_DURATION,
                        span,
                        format!("duration `{value}{unit}` is too long"),
                        "longer than ten years",
                    )
                    .with_help("use a duration of at most ten years");
                self.push(d);
                None
            }
        }
    }

    // ------------------------------------------------------------ calendars

    pub(super) fn calendar(&mut self, c: &ast::Calendar) -> ir::Calendar {
        let mut cal = ir::Calendar {
            name: c.name.name.clone(),
            time_zone: String::from("UTC"),
            weekly: vec![],
            cron: vec![],
            closed: vec![],
        };
        let mut zone: Option<Span> = None;
        for item in &c.items {
            match item {
                ast::CalendarItem::TimeZone(s, span) => {
                    if let Some(first) = zone {
                        self.duplicate_setting("time zone", *span, first);
                        continue;
                    }
                    zone = Some(*span);
                    if let Some(tz) = self.time_zone(s) {
                        cal.time_zone = tz;
                    }
                }
                ast::CalendarItem::Weekly { days, hours, .. } => {
                    let mut set = Vec::new();
                    for (from, to) in days {
                        let (Some(a), b) = (self.day(from), to.as_ref().map(|t| self.day(t)))
                        else {
                            continue;
                        };
                        match b {
                            None => set.push(a),
                            Some(None) => {}
                            Some(Some(b)) => {
                                // A range may wrap over the weekend: `fri-mon`.
                                let mut d = a;
                                loop {
                                    set.push(d);
                                    if d == b {
                                        break;
                                    }
                                    d = (d + 1) % 7;
                                }
                            }
                        }
                    }
                    set.sort_unstable();
                    set.dedup();
                    for (from, to) in hours {
                        let (Some(f), Some(t)) = (self.clock(from), self.clock(to)) else {
                            continue;
                        };
                        if f == t {
                            let d = self
                                .diag(
                                    INVALID_CALENDAR,
                                    from.span.to(to.span),
                                    format!("opening hours `{}-{}` are empty", from.name, to.name),
                                    "this opens for no time at all",
                                )
                                .with_help("the end must be after the start, e.g. `09:00-17:00`");
                            self.push(d);
                            continue;
                        }
                        if f > t {
                            // `9:00-5:00` reads as 12-hour time; `22:00-06:00` crosses midnight.
                            let twelve_hour = f < 13 * 60 && t < 12 * 60 && f < t + 12 * 60;
                            let d = self
                                .diag(INVALID_CALENDAR, from.span.to(to.span), format!("opening hours `{}-{}` end before they start", from.name, to.name), "the end must be after the start")
                                .with_help(if twelve_hour {
                                    format!("times are 24-hour: did you mean `{}-{:02}:{:02}`?", from.name, (t + 720) / 60, (t + 720) % 60)
                                } else {
                                    "split hours that cross midnight into two lines, e.g. `22:00-24:00` and `00:00-06:00` on the next day".to_string()
                                });
                            self.push(d);
                            continue;
                        }
                        cal.weekly.push(ir::WeeklyHours {
                            days: set.clone(),
                            from_minute: f,
                            to_minute: t,
                        });
                    }
                }
                ast::CalendarItem::Cron { cron, length, .. } => {
                    let normalized = self.cron(cron);
                    let secs = match &length.kind {
                        E::Duration { value, unit } => {
                            self.duration_literal(*value, unit, length.span)
                        }
                        _ => None,
                    };
                    if let (Some(cron), Some(length_secs)) = (normalized, secs) {
                        cal.cron.push(ir::CronWindow { cron, length_secs });
                    }
                }
                ast::CalendarItem::Closed {
                    from, to, reason, ..
                } => {
                    let a = self.date(from);
                    let b = match to {
                        Some(t) => self.date(t),
                        None => a,
                    };
                    if let (Some(a), Some(b)) = (a, b) {
                        if a > b {
                            let d = self
                                .diag(
                                    INVALID_CALENDAR,
                                    from.span.to(to.as_ref().map_or(from.span, |t| t.span)),
                                    "closed dates end before they start",
                                    "the second date must not be before the first",
                                )
                                .with_help("write the earlier date first");
                            self.push(d);
                            continue;
                        }
                        cal.closed.push(ir::ClosedDates {
                            from: a.to_string(),
                            to: b.to_string(),
                            reason: reason
                                .as_ref()
                                .and_then(|r| self.constant(r, "a closing reason")),
                        });
                    }
                }
            }
        }
        if zone.is_none() {
            let d = self
                .diag(INVALID_CALENDAR, c.name.span, format!("calendar `{}` has no time zone", c.name.name), "no `time zone` in this calendar")
                .with_help("add a line such as `time zone \"America/New_York\"`: opening hours mean nothing without one");
            self.push(d);
        }
        let opens = c.items.iter().any(|i| {
            matches!(
                i,
                ast::CalendarItem::Weekly { .. } | ast::CalendarItem::Cron { .. }
            )
        });
        if !opens && !self.syntax_errors_within(c.span) {
            let d = self
                .diag(
                    INVALID_CALENDAR,
                    c.name.span,
                    format!("calendar `{}` is never open", c.name.name),
                    "no opening hours",
                )
                .with_help("add opening hours, e.g. `open mon-fri 09:00-17:00`");
            self.push(d);
        }
        cal
    }

    fn day(&mut self, id: &ast::Ident) -> Option<u8> {
        let day = literals::parse_day(&id.name);
        if day.is_none() {
            let mut d = self.diag(
                INVALID_CALENDAR,
                id.span,
                format!("unknown day `{}`", id.name),
                "not a day of the week",
            );
            d = match did_you_mean(&id.name, literals::DAY_NAMES) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help("days are mon, tue, wed, thu, fri, sat and sun"),
            };
            self.push(d);
        }
        day
    }

    fn clock(&mut self, id: &ast::Ident) -> Option<u16> {
        let minutes = literals::parse_clock(&id.name);
        if minutes.is_none() {
            let d = self
                .diag(
                    INVALID_CALENDAR,
                    id.span,
                    format!("invalid time of day `{}`", id.name),
                    "not a time between 00:00 and 24:00",
                )
                .with_help("write 24-hour times as HH:MM, e.g. `09:00` or `17:30`");
            self.push(d);
        }
        minutes
    }

    fn date(&mut self, id: &ast::Ident) -> Option<chrono::NaiveDate> {
        let date = literals::parse_date(&id.name);
        if date.is_none() {
            let d = self
                .diag(
                    INVALID_CALENDAR,
                    id.span,
                    format!("invalid date `{}`", id.name),
                    "no such date",
                )
                .with_help("write dates as YYYY-MM-DD, e.g. `2026-12-25`");
            self.push(d);
        }
        date
    }

    // ------------------------------------------------------------ notifications

    fn notification(
        &mut self,
        n: &ast::Notification,
        scope: &mut Scope,
        qualified: &str,
    ) -> ir::Notification {
        if n.channel.name != "sms" {
            let d = self
                .diag(
                    MISPLACED,
                    n.channel.span,
                    format!("unknown notification channel `{}`", n.channel.name),
                    "only `sms` is supported",
                )
                .with_help(format!(
                    "write `notification {} sms {{ ... }}`",
                    n.name.name
                ));
            self.push(d);
        }
        if n.parts.is_empty() && !self.syntax_errors_within(n.span) {
            let d = self
                .diag(
                    MISPLACED,
                    n.name.span,
                    format!("notification `{}` is empty", n.name.name),
                    "this notification sends nothing",
                )
                .with_help("add a part such as `text \"...\"` or `journey link`");
            self.push(d);
        }
        let mut parts = Vec::new();
        for part in &n.parts {
            match part {
                ast::Part::Text(s, _) => {
                    self.sms_length(s);
                    parts.push(ir::NotificationPart::Text {
                        text: self.template(s, scope),
                    });
                }
                ast::Part::JourneyLink(span) => {
                    scope.journey_link_used.get_or_insert(*span);
                    parts.push(ir::NotificationPart::JourneyLink);
                }
                ast::Part::Link(e, _) => {
                    let url = self.expr_expect(e, Type::Text, scope, ASSIGN_TYPE, "a link");
                    parts.push(ir::NotificationPart::Link { url });
                }
            }
        }
        ir::Notification {
            name: qualified.to_string(),
            parts,
        }
    }

    fn sms_length(&mut self, s: &ast::StrLit) {
        let fixed: String = s
            .parts
            .iter()
            .filter_map(|p| {
                if let TemplatePart::Text(t) = p {
                    Some(t.as_str())
                } else {
                    None
                }
            })
            .collect();
        let chars = fixed.chars().count();
        if chars > MAX_SMS_CHARS {
            let d = self
                .diag(
                    SMS_TOO_LONG,
                    s.span,
                    format!(
                        "this text is {chars} characters long, over the 1,600 an SMS can carry"
                    ),
                    "too long to send",
                )
                .with_help("shorten it, or split it into several `text` parts");
            self.push(d);
            return;
        }
        let segments = literals::sms_segments(&fixed);
        if segments > MAX_QUIET_SEGMENTS {
            let d = self
                .diag(LONG_SMS, s.span, format!("this text is sent as {segments} SMS segments"), format!("{chars} characters before interpolation"))
                .with_note("one segment holds 160 plain characters, or 70 when any character is outside GSM-7 (emoji, curly quotes...); each segment is billed")
                .with_help("shorten the text, or send the details on a page behind the journey link");
            self.push(d);
        }
    }

    /// Finds a notification by reference, adding it to the journey's table.
    fn notification_ref(
        &mut self,
        path: &[ast::Ident],
        scope: &mut Scope,
        at: Span,
    ) -> Option<usize> {
        let qualified = join(path);
        if let Some(i) = scope.notif_index.get(&qualified) {
            return Some(*i);
        }
        let found = self.lookup(
            path,
            scope,
            |e| e.notifications.get(&path[path.len() - 1].name).cloned(),
            |s, n| s.local_notifications.get(n).cloned(),
            |x| x.notifications.get(&path[path.len() - 1].name).cloned(),
        );
        let (n, has_link) = match found {
            Lookup::Found(v) => v,
            Lookup::Missing(module) => {
                let name = &path[path.len() - 1].name;
                let candidates: Vec<String> = match &module {
                    None => scope
                        .local_notifications
                        .keys()
                        .chain(self.local.notifications.keys())
                        .cloned()
                        .collect(),
                    Some(m) => self
                        .imports
                        .get(m)
                        .map(|e| e.notifications.keys().cloned().collect())
                        .unwrap_or_default(),
                };
                self.unknown_item(
                    UNKNOWN_NOTIFICATION,
                    "notification",
                    path,
                    name,
                    &candidates,
                    module.as_deref(),
                );
                return None;
            }
            Lookup::NotImported(m) => {
                self.not_imported(path, &m);
                return None;
            }
            Lookup::Failed => return None,
        };
        if has_link {
            scope.journey_link_used.get_or_insert(at);
        }
        let index = scope.notifications.len();
        scope.notifications.push(ir::Notification {
            name: qualified.clone(),
            ..n
        });
        scope.notif_index.insert(qualified, index);
        Some(index)
    }

    fn calendar_ref(&mut self, path: &[ast::Ident], scope: &mut Scope) -> Option<usize> {
        let qualified = join(path);
        if let Some(i) = scope.cal_index.get(&qualified) {
            return Some(*i);
        }
        let last = path[path.len() - 1].name.clone();
        let found = self.lookup(
            path,
            scope,
            |e| e.calendars.get(&last).cloned(),
            |s, n| s.local_calendars.get(n).cloned(),
            |x| x.calendars.get(&last).cloned(),
        );
        let cal = match found {
            Lookup::Found(c) => c,
            Lookup::Missing(module) => {
                let candidates: Vec<String> = match &module {
                    None => scope
                        .local_calendars
                        .keys()
                        .chain(self.local.calendars.keys())
                        .cloned()
                        .collect(),
                    Some(m) => self
                        .imports
                        .get(m)
                        .map(|e| e.calendars.keys().cloned().collect())
                        .unwrap_or_default(),
                };
                self.unknown_item(
                    UNKNOWN_CALENDAR,
                    "calendar",
                    path,
                    &last,
                    &candidates,
                    module.as_deref(),
                );
                return None;
            }
            Lookup::NotImported(m) => {
                self.not_imported(path, &m);
                return None;
            }
            Lookup::Failed => return None,
        };
        let index = scope.calendars.len();
        scope.calendars.push(ir::Calendar {
            name: qualified.clone(),
            ..cal
        });
        scope.cal_index.insert(qualified, index);
        Some(index)
    }

    /// Resolves `Name` (journey, then file) or `module.Name` (an import).
    fn lookup<T>(
        &self,
        path: &[ast::Ident],
        scope: &Scope,
        in_exports: impl Fn(&Exports) -> Option<T>,
        in_scope: impl Fn(&Scope, &str) -> Option<T>,
        in_local: impl Fn(&Exports) -> Option<T>,
    ) -> Lookup<T> {
        if path.len() == 1 {
            let name = &path[0].name;
            return match in_scope(scope, name).or_else(|| in_local(&self.local)) {
                Some(v) => Lookup::Found(v),
                None => Lookup::Missing(None),
            };
        }
        let module = join(&path[..path.len() - 1]);
        match self.imports.get(&module) {
            Some(e) if e.failed => Lookup::Failed,
            Some(e) => match in_exports(e) {
                Some(v) => Lookup::Found(v),
                None => Lookup::Missing(Some(module)),
            },
            None => Lookup::NotImported(module),
        }
    }

    fn unknown_item(
        &mut self,
        code: Code,
        kind: &str,
        path: &[ast::Ident],
        name: &str,
        candidates: &[String],
        module: Option<&str>,
    ) {
        let span = path_span(path);
        let place = module.map(|m| format!(" in `{m}`")).unwrap_or_default();
        let mut d = self.diag(
            code,
            span,
            format!("unknown {kind} `{name}`{place}"),
            format!("no {kind} named `{name}`{place}"),
        );
        if let Some(s) = did_you_mean(name, candidates.iter().map(String::as_str)) {
            let prefix = module.map(|m| format!("{m}.")).unwrap_or_default();
            d = d.with_help(format!("did you mean `{prefix}{s}`?"));
        } else if candidates.is_empty() {
            d = d.with_help(format!(
                "define it with `{kind} {name} ...`, or import a module that has one"
            ));
        } else {
            let mut c: Vec<&str> = candidates.iter().map(String::as_str).collect();
            c.sort_unstable();
            d = d.with_help(format!("the {kind}s here are: {}", c.join(", ")));
        }
        self.push(d);
    }

    fn not_imported(&mut self, path: &[ast::Ident], module: &str) {
        let span = path_span(&path[..path.len() - 1]);
        let d = self
            .diag(
                UNKNOWN_IMPORT,
                span,
                format!("module `{module}` is not imported"),
                "not imported in this file",
            )
            .with_help(format!("add `import {module}` at the top of the file"));
        self.push(d);
    }

    // ------------------------------------------------------------ journeys

    fn journey(&mut self, j: &ast::Journey) -> ir::Journey {
        let mut scope = Scope::global();
        scope.in_journey = true;
        let mut out = ir::Journey {
            name: j.name.name.clone(),
            sms_from: None,
            expires_after_secs: ir::DEFAULT_EXPIRY_SECS,
            link_lands_on: ir::LandsOn::LastPage,
            existing_session: ir::Policy::Replace,
            on_new_version: ir::OnNewVersion::Keep,
            help_text: None,
            triggers: vec![],
            on_started: vec![],
            reply_handlers: vec![],
            vars: vec![],
            steps: vec![],
            notifications: vec![],
            calendars: vec![],
        };
        let mut settings: HashMap<String, Span> = HashMap::new();
        let mut local_names: HashMap<(&str, String), Span> = HashMap::new();

        // Pass 1: declarations, so that uses may come before definitions.
        for item in &j.items {
            match item {
                ast::JourneyItem::Var(v) => {
                    if let Some(first) = local_names.get(&("variable", v.name.name.clone())) {
                        self.duplicate("variable", &v.name, *first);
                        continue;
                    }
                    // Operator words are matched in any case; `true`, `false`, `null` exactly.
                    let name = v.name.name.as_str();
                    if ["and", "or", "not"]
                        .iter()
                        .any(|k| name.eq_ignore_ascii_case(k))
                        || ["true", "false", "null"].contains(&name)
                    {
                        let d = self
                            .diag(
                                MISPLACED,
                                v.name.span,
                                format!("`{}` is a reserved word", v.name.name),
                                "cannot name a variable",
                            )
                            .with_help(format!(
                                "choose another name, e.g. `{}_value`",
                                v.name.name.to_lowercase()
                            ));
                        self.push(d);
                        continue;
                    }
                    if ["actor", "session", "journey_link"].contains(&v.name.name.as_str()) {
                        let d = self
                            .diag(
                                DUPLICATE,
                                v.name.span,
                                format!("`{}` is a built-in name", v.name.name),
                                "this would hide the built-in",
                            )
                            .with_help("choose another name for the variable");
                        self.push(d);
                        continue;
                    }
                    local_names.insert(("variable", v.name.name.clone()), v.name.span);
                    let ty = match Type::from_name(&v.ty.name) {
                        Some(t) => t,
                        None => {
                            let names: Vec<&str> = Type::NAMED.iter().map(|t| t.name()).collect();
                            let mut d = self.diag(
                                UNKNOWN_TYPE,
                                v.ty.span,
                                format!("unknown type `{}`", v.ty.name),
                                "not a type",
                            );
                            d = match did_you_mean(&v.ty.name, names.iter().copied()) {
                                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                                None => d.with_help(format!("the types are {}", names.join(", "))),
                            };
                            self.push(d);
                            Type::Any
                        }
                    };
                    scope
                        .var_index
                        .insert(v.name.name.clone(), scope.vars.len());
                    scope.vars.push((v.name.name.clone(), ty, v.name.span));
                }
                ast::JourneyItem::Step(s) => {
                    if let Some(first) = local_names.get(&("step", s.name.name.clone())) {
                        self.duplicate("step", &s.name, *first);
                    } else {
                        local_names.insert(("step", s.name.name.clone()), s.name.span);
                    }
                    let si = out.steps.len();
                    scope.steps.entry(s.name.name.clone()).or_insert(si);
                    for (pi, p) in s.pages.iter().enumerate() {
                        if let Some(first) = local_names.get(&("page", p.name.name.clone())) {
                            self.duplicate("page", &p.name, *first);
                            continue;
                        }
                        local_names.insert(("page", p.name.name.clone()), p.name.span);
                        scope.pages.insert(p.name.name.clone(), (si, pi));
                    }
                    out.steps.push(ir::Step {
                        name: s.name.name.clone(),
                        on_enter: vec![],
                        pages: vec![],
                    });
                }
                ast::JourneyItem::Calendar(c) => {
                    if let Some(first) = local_names.get(&("calendar", c.name.name.clone())) {
                        self.duplicate("calendar", &c.name, *first);
                        continue;
                    }
                    local_names.insert(("calendar", c.name.name.clone()), c.name.span);
                    let cal = self.calendar(c);
                    scope.local_calendars.insert(c.name.name.clone(), cal);
                }
                _ => {}
            }
        }
        // Variable defaults, after every variable is known.
        for item in &j.items {
            if let ast::JourneyItem::Var(v) = item {
                let Some(&index) = scope.var_index.get(&v.name.name) else {
                    continue;
                };
                if scope.vars[index].2 != v.name.span {
                    continue;
                }
                let ty = scope.vars[index].1;
                let default = v.default.as_ref().map(|e| {
                    self.expr_expect(
                        e,
                        ty,
                        &mut scope,
                        ASSIGN_TYPE,
                        &format!("`{}`", v.name.name),
                    )
                });
                out.vars.push(ir::Var {
                    name: v.name.name.clone(),
                    ty,
                    default,
                });
            }
        }
        // Notifications, which actions refer to.
        for item in &j.items {
            if let ast::JourneyItem::Notification(n) = item {
                if let Some(first) = local_names.get(&("notification", n.name.name.clone())) {
                    self.duplicate("notification", &n.name, *first);
                    continue;
                }
                local_names.insert(("notification", n.name.name.clone()), n.name.span);
                let before = scope.journey_link_used;
                scope.journey_link_used = None;
                let built = self.notification(n, &mut scope, &n.name.name);
                let has_link = scope.journey_link_used.is_some();
                scope.journey_link_used = before;
                scope
                    .local_notifications
                    .insert(n.name.name.clone(), (built, has_link));
            }
        }

        // Pass 2: settings, triggers, handlers and steps.
        let mut step_index = 0;
        for item in &j.items {
            let mut once = |cx: &mut Cx, key: &str, span: Span| -> bool {
                if let Some(first) = settings.get(key) {
                    cx.duplicate_setting(key, span, *first);
                    return false;
                }
                settings.insert(key.to_string(), span);
                true
            };
            match item {
                ast::JourneyItem::SmsFrom(s, span) => {
                    if once(self, "sms from", *span) {
                        out.sms_from = self.phone_literal(s, "a sender number");
                    }
                }
                ast::JourneyItem::Expires(e, span) => {
                    if once(self, "expires after", *span) {
                        if let E::Duration { value, unit } = &e.kind {
                            if let Some(secs) = self.duration_literal(*value, unit, e.span) {
                                if secs > ir::MAX_EXPIRY_SECS {
                                    let d = self
                                        .diag(EXPIRY_RANGE, e.span, "sessions can last at most 90 days", "longer than 90 days")
                                        .with_help("use `expires after 90d` or less, and `extend session by ...` where a session needs more time");
                                    self.push(d);
                                } else {
                                    out.expires_after_secs = secs;
                                }
                            }
                        }
                    }
                }
                ast::JourneyItem::LinkLands(v, span) => {
                    if once(self, "journey link opens", *span) {
                        out.link_lands_on = match v {
                            ast::LandsOn::LastPage => ir::LandsOn::LastPage,
                            ast::LandsOn::FirstPage => ir::LandsOn::FirstPage,
                        };
                    }
                }
                ast::JourneyItem::ExistingSession(v, span) => {
                    if once(self, "on existing session", *span) {
                        out.existing_session = match v {
                            ast::Policy::Keep => ir::Policy::Keep,
                            ast::Policy::Replace => ir::Policy::Replace,
                            ast::Policy::Reject => ir::Policy::Reject,
                        };
                    }
                }
                ast::JourneyItem::NewVersion(upgrade, span) => {
                    if once(self, "on new version", *span) {
                        out.on_new_version = if *upgrade {
                            ir::OnNewVersion::Upgrade
                        } else {
                            ir::OnNewVersion::Keep
                        };
                    }
                }
                ast::JourneyItem::Help(s, span) => {
                    if once(self, "help", *span) {
                        out.help_text = self.constant(s, "help text");
                    }
                }
                ast::JourneyItem::Trigger(t) => {
                    if let Some(trigger) = self.trigger(t, &mut scope, &mut settings) {
                        out.triggers.push(trigger);
                    }
                }
                ast::JourneyItem::OnStarted(a, span) => {
                    if once(self, "on session started", *span) {
                        out.on_started = self.actions(a, &mut scope, Place::Other);
                    }
                }
                ast::JourneyItem::OnReply {
                    keywords,
                    actions,
                    span,
                } => {
                    let mut normalized = Vec::new();
                    for k in keywords {
                        let Some(value) = self.constant(k, "a reply keyword") else {
                            continue;
                        };
                        let value = value.trim().to_uppercase();
                        if value.is_empty() {
                            let d = self
                                .diag(MISPLACED, k.span, "empty reply keyword", "no reply can match this")
                                .with_help("write the word a person replies with, e.g. \"YES\"; `on reply { ... }` alone matches any reply");
                            self.push(d);
                            continue;
                        }
                        let key = format!("reply {value}");
                        if let Some(first) = settings.get(&key) {
                            let d = self
                                .diag(
                                    DUPLICATE,
                                    k.span,
                                    format!("reply `{value}` is handled twice"),
                                    "this handler never runs for it",
                                )
                                .with_label(*first, "handled first here")
                                .with_help("keep the keyword in one `on reply` handler");
                            self.push(d);
                            continue;
                        }
                        settings.insert(key, k.span);
                        normalized.push(value);
                    }
                    if keywords.is_empty() {
                        if let Some(first) = settings.get("reply *") {
                            let d = self
                                .diag(
                                    DUPLICATE,
                                    *span,
                                    "two `on reply` handlers match any reply",
                                    "this handler never runs",
                                )
                                .with_label(*first, "this one matches every reply first")
                                .with_help("merge the two handlers");
                            self.push(d);
                        }
                        settings.insert("reply *".to_string(), *span);
                    }
                    let keywords = normalized;
                    let actions = self.actions(actions, &mut scope, Place::Other);
                    out.reply_handlers
                        .push(ir::ReplyHandler { keywords, actions });
                }
                ast::JourneyItem::Step(s) => {
                    let mut on_enter = Vec::new();
                    scope.current_step = Some(step_index);
                    for a in &s.on_enter {
                        on_enter.extend(self.actions(a, &mut scope, Place::Other));
                    }
                    let pages = s.pages.iter().map(|p| self.page(p, &mut scope)).collect();
                    scope.current_step = None;
                    out.steps[step_index] = ir::Step {
                        name: s.name.name.clone(),
                        on_enter,
                        pages,
                    };
                    step_index += 1;
                }
                ast::JourneyItem::Var(_)
                | ast::JourneyItem::Notification(_)
                | ast::JourneyItem::Calendar(_) => {}
            }
        }

        if out.steps.is_empty() {
            let d = self
                .diag(
                    NO_STEPS,
                    j.name.span,
                    format!("journey `{}` has no steps", j.name.name),
                    "a journey needs at least one step",
                )
                .with_help("add `step Start { page Welcome { heading \"Welcome\" } }`");
            self.push(d);
        }
        if let (Some(used), false) = (scope.journey_link_used, out.steps.is_empty()) {
            let first_has_pages = out.steps.first().is_some_and(|s| !s.pages.is_empty());
            if !first_has_pages {
                let mut d = self
                    .diag(
                        JOURNEY_LINK_NO_WEB_FLOW,
                        used,
                        "journey link used, but step 1 has no web flow",
                        "this journey link would have no page to open",
                    )
                    .with_help(
                        "give the first step a page: a journey link opens step 1's web flow",
                    );
                if let Some(ast::JourneyItem::Step(s)) = j
                    .items
                    .iter()
                    .find(|i| matches!(i, ast::JourneyItem::Step(_)))
                {
                    d = d.with_label(s.name.span, "step 1 has no pages");
                }
                self.push(d);
            }
        }
        if out.sms_from.is_none() && !settings.contains_key("sms from") {
            if let Some(first) = scope.sms_sends.first().copied() {
                let mut d = self
                    .diag(
                        NO_SENDER,
                        first,
                        "SMS sent, but the journey has no sender number",
                        "this sends an SMS",
                    )
                    .with_label(j.name.span, "no `sms from` in this journey")
                    .with_help("add `sms from \"+1...\"` to the journey with your Twilio number");
                if scope.sms_sends.len() > 1 {
                    d = d.with_note(format!(
                        "the journey sends SMS in {} places",
                        scope.sms_sends.len()
                    ));
                }
                self.push(d);
            }
        }
        self.stops_of_unknown_timers(&scope);
        // After a syntax error or a `go to` that names nothing, the graph is incomplete:
        // its findings would only echo that mistake.
        let quiet = scope.unresolved_navigation || self.syntax_errors_within(j.span);
        flow::analyze(self, j, &scope.steps, &scope.pages, quiet);
        flow::duplicate_timers(self, j);
        out.notifications = std::mem::take(&mut scope.notifications);
        out.calendars = std::mem::take(&mut scope.calendars);
        out
    }

    /// Warns about `stop timer` keys that no `start timer` of the journey uses.
    fn stops_of_unknown_timers(&mut self, scope: &Scope) {
        let started: HashMap<&str, Span> = scope
            .timer_starts
            .iter()
            .map(|(k, s)| (k.as_str(), *s))
            .collect();
        for (key, span) in &scope.timer_stops {
            if started.contains_key(key.as_str()) {
                continue;
            }
            let mut d = self.diag(
                UNKNOWN_TIMER,
                *span,
                format!("no timer `{key}` is ever started"),
                "this stops nothing",
            );
            d = match did_you_mean(key, started.keys().copied()) {
                Some(s) => d.with_help(format!("did you mean `\"{s}\"`?")),
                None => d.with_help(
                    "check the key against your `start timer` actions, or remove this action",
                ),
            };
            self.push(d);
        }
    }

    fn trigger(
        &mut self,
        t: &ast::Trigger,
        scope: &mut Scope,
        settings: &mut HashMap<String, Span>,
    ) -> Option<ir::Trigger> {
        let actions = |cx: &mut Cx, scope: &mut Scope, place| {
            t.actions
                .as_ref()
                .map(|a| cx.actions(a, scope, place))
                .unwrap_or_default()
        };
        Some(match &t.kind {
            ast::TriggerKind::Link(slug) => {
                if t.actions.is_some() {
                    let d = self
                        .diag(
                            MISPLACED,
                            t.span,
                            "a starting link takes no actions",
                            "actions here would never run",
                        )
                        .with_help("put them in `on session started { ... }`");
                    self.push(d);
                    actions(self, scope, Place::Other);
                }
                let value = self.constant(slug, "a starting-link slug")?;
                let ok = !value.is_empty()
                    && value.len() <= 64
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !ok {
                    let d = self
                        .diag(INVALID_SLUG, slug.span, format!("`{value}` cannot be a starting-link slug"), "slugs use letters, digits, `-` and `_`")
                        .with_help("use a short name such as \"start\" or \"book-now\" (at most 64 characters)");
                    self.push(d);
                    return None;
                }
                if let Some(first) = settings.get(&format!("link {value}")) {
                    self.duplicate_setting(&format!("trigger link \"{value}\""), t.span, *first);
                    return None;
                }
                settings.insert(format!("link {value}"), t.span);
                ir::Trigger::Link { slug: value }
            }
            ast::TriggerKind::Sms(to) => {
                let to = self.phone_literal(to, "a phone number");
                let actions = actions(self, scope, Place::Other);
                ir::Trigger::Sms { to: to?, actions }
            }
            ast::TriggerKind::Call(to) => {
                let to = self.phone_literal(to, "a phone number");
                let actions = actions(self, scope, Place::Call);
                ir::Trigger::Call { to: to?, actions }
            }
            ast::TriggerKind::Api => {
                if let Some(first) = settings.get("trigger api") {
                    self.duplicate_setting("trigger api", t.span, *first);
                    return None;
                }
                settings.insert("trigger api".to_string(), t.span);
                ir::Trigger::Api {
                    actions: actions(self, scope, Place::Other),
                }
            }
            ast::TriggerKind::Schedule { cron, zone } => {
                let cron = self.cron(cron);
                let zone = self.time_zone(zone);
                let actions = actions(self, scope, Place::Other);
                ir::Trigger::Schedule {
                    cron: cron?,
                    time_zone: zone?,
                    actions,
                }
            }
        })
    }

    fn page(&mut self, p: &ast::Page, scope: &mut Scope) -> ir::Page {
        let mut controls = Vec::new();
        let mut bound: HashMap<usize, Span> = HashMap::new();
        for c in &p.controls {
            controls.push(match c {
                ast::Control::Heading(s, _) => ir::Control::Heading {
                    text: self.template(s, scope),
                },
                ast::Control::Text(s, _) => ir::Control::Text {
                    text: self.template(s, scope),
                },
                ast::Control::Link { label, url, .. } => {
                    let label = self.template(label, scope);
                    ir::Control::Link {
                        label,
                        url: self.expr_expect(url, Type::Text, scope, ASSIGN_TYPE, "a link"),
                    }
                }
                ast::Control::Button { label, actions, .. } => {
                    let label = self.template(label, scope);
                    ir::Control::Button {
                        label,
                        actions: self.actions(actions, scope, Place::Other),
                    }
                }
                ast::Control::Input(input) => match self.input(input, scope, &mut bound) {
                    Some(i) => ir::Control::Input(i),
                    None => continue,
                },
            });
        }
        ir::Page {
            name: p.name.name.clone(),
            controls,
        }
    }

    fn input(
        &mut self,
        input: &ast::Input,
        scope: &mut Scope,
        bound: &mut HashMap<usize, Span>,
    ) -> Option<ir::Input> {
        let kind = ir::InputKind::ALL
            .iter()
            .find(|(n, _, _)| *n == input.kind.name)
            .copied();
        let Some((_, kind, kind_ty)) = kind else {
            let names: Vec<&str> = ir::InputKind::ALL.iter().map(|(n, _, _)| *n).collect();
            let mut d = self.diag(
                UNKNOWN_TYPE,
                input.kind.span,
                format!("unknown input kind `{}`", input.kind.name),
                "not an input kind",
            );
            d = match did_you_mean(&input.kind.name, names.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help(format!("the input kinds are {}", names.join(", "))),
            };
            self.push(d);
            return None;
        };
        if ["actor", "session", "journey_link"].contains(&input.var.name.as_str()) {
            let d = self
                .diag(READ_ONLY, input.var.span, format!("an input cannot fill `{}`", input.var.name), "built-in, not a variable")
                .with_help(format!("bind the input to a variable of the journey, e.g. `var answer: {kind_ty}`, and copy it with `set`"));
            self.push(d);
            return None;
        }
        let Some(&var) = scope.var_index.get(&input.var.name) else {
            self.unknown_variable(&input.var, scope, Some(kind_ty));
            return None;
        };
        if let Some(first) = bound.insert(var, input.var.span) {
            let d = self
                .diag(
                    DUPLICATE,
                    input.var.span,
                    format!("`{}` has two inputs on this page", input.var.name),
                    "bound again here",
                )
                .with_label(first, "first bound here")
                .with_help("bind each input to its own variable");
            self.push(d);
        }
        let var_ty = scope.vars[var].1;
        if var_ty != Type::Any && var_ty != kind_ty {
            let good = ir::InputKind::ALL
                .iter()
                .find(|(_, _, t)| *t == var_ty)
                .map(|(n, _, _)| *n);
            let d = self
                .diag(
                    INPUT_TYPE,
                    input.kind.span,
                    format!(
                        "a `{}` input cannot fill `{}`, which is {var_ty}",
                        input.kind.name, input.var.name
                    ),
                    format!("this input gives a {kind_ty}"),
                )
                .with_label(
                    scope.vars[var].2,
                    format!("`{}` is declared as {var_ty} here", input.var.name),
                )
                .with_help(match good {
                    Some(g) => format!(
                        "use a `{g}` input, or declare `{}` as {kind_ty}",
                        input.var.name
                    ),
                    None => format!("declare `{}` as {kind_ty}", input.var.name),
                });
            self.push(d);
        }
        let options = input
            .options
            .as_ref()
            .map(|o| self.expr_expect(o, Type::List, scope, ASSIGN_TYPE, "options"));
        if let (Some(o), true) = (&input.options, !kind.takes_options()) {
            let d = self
                .diag(
                    MISPLACED,
                    o.span,
                    format!("a `{}` input takes no options", input.kind.name),
                    "these options would be ignored",
                )
                .with_help(
                    "use a `choice` or `radio` input to let people pick from a list, or remove the options",
                );
            self.push(d);
        }
        let placeholder = input
            .placeholder
            .as_ref()
            .and_then(|p| self.constant(p, "a placeholder"));
        if kind.takes_options() && options.is_none() {
            let d = self
                .diag(
                    MISPLACED,
                    input.span,
                    format!("a `{}` input needs options", input.kind.name),
                    "no `options [...]` here",
                )
                .with_help("add the choices, e.g. `options [\"Morning\", \"Afternoon\"]`");
            self.push(d);
        }
        let validate = input.validate.as_ref().map(|(cond, message)| {
            let condition =
                self.expr_expect(cond, Type::Boolean, scope, CONDITION_TYPE, "a validation");
            ir::Validation {
                condition,
                message: self
                    .constant(message, "a validation message")
                    .unwrap_or_default(),
            }
        });
        Some(ir::Input {
            var,
            kind,
            label: self.template(&input.label, scope),
            required: input.required,
            placeholder,
            options,
            validate,
        })
    }

    fn var_ref(&mut self, id: &ast::Ident, scope: &Scope) -> Option<usize> {
        if let Some(i) = scope.var_index.get(&id.name) {
            return Some(*i);
        }
        self.unknown_variable(id, scope, None);
        None
    }

    /// `ty`: the type the context wants, to suggest the right declaration.
    fn unknown_variable(&mut self, id: &ast::Ident, scope: &Scope, ty: Option<Type>) {
        let mut d = self.diag(
            UNKNOWN_VARIABLE,
            id.span,
            format!("unknown variable `{}`", id.name),
            if scope.in_journey {
                "not declared in this journey"
            } else {
                "not a name a notification outside a journey can use"
            },
        );
        let mut names: Vec<&str> = scope.vars.iter().map(|v| v.0.as_str()).collect();
        names.extend(["actor", "session", "journey_link"]);
        if let Some(f) = Func::from_name(&id.name) {
            d = d.with_help(format!(
                "`{}` is a function: call it as `{}(...)`",
                f.name(),
                f.name()
            ));
        } else if let Some(s) = did_you_mean(&id.name, names.iter().copied()) {
            d = d.with_help(format!("did you mean `{s}`?"));
        } else if scope.in_journey {
            d = d.with_help(format!(
                "declare it in the journey: `var {}: {}`",
                id.name,
                ty.unwrap_or(Type::Text)
            ));
        } else {
            d = d.with_help("a notification outside a journey can only use `actor`, `session` and `journey_link`");
        }
        self.push(d);
    }

    // ------------------------------------------------------------ actions

    pub(super) fn actions(
        &mut self,
        a: &ast::Actions,
        scope: &mut Scope,
        place: Place,
    ) -> Vec<ir::Action> {
        a.actions
            .iter()
            .filter_map(|x| self.action(x, scope, place))
            .collect()
    }

    fn action(&mut self, a: &ast::Action, scope: &mut Scope, place: Place) -> Option<ir::Action> {
        Some(match &a.kind {
            ast::ActionKind::Set { target, value } => {
                let (place_ir, ty, what) = self.target(target, scope)?;
                let value = self.expr_expect(value, ty, scope, ASSIGN_TYPE, &what);
                ir::Action::Set {
                    target: place_ir,
                    value,
                }
            }
            ast::ActionKind::InitializeActor => ir::Action::InitializeActor,
            ast::ActionKind::SendSms(path) => {
                scope.sms_sends.push(a.span);
                ir::Action::SendSms {
                    notification: self.notification_ref(path, scope, a.span)?,
                }
            }
            ast::ActionKind::StartTimer(t) => {
                // Check all of the timer even when a part is wrong, then drop it.
                let key = self.constant(&t.key, "a timer key");
                if let Some(key) = &key {
                    scope.timer_starts.push((key.clone(), t.key.span));
                }
                let time = match &t.when {
                    ast::TimerWhen::After(e) => ir::TimerTime::After {
                        duration: self.expr_expect(
                            e,
                            Type::Duration,
                            scope,
                            TIMER_TIME_TYPE,
                            "`after`",
                        ),
                    },
                    ast::TimerWhen::At(e) => ir::TimerTime::At {
                        datetime: self.expr_expect(
                            e,
                            Type::DateTime,
                            scope,
                            TIMER_TIME_TYPE,
                            "`at`",
                        ),
                    },
                };
                let calendar = t
                    .calendar
                    .as_ref()
                    .map(|(path, policy)| (self.calendar_ref(path, scope), *policy));
                // A timer fires after the call has ended, so its actions cannot `say`.
                let actions = self.actions(&t.actions, scope, Place::Other);
                let calendar = match calendar {
                    Some((Some(calendar), if_unavailable)) => Some(ir::TimerCalendar {
                        calendar,
                        if_unavailable: match if_unavailable {
                            ast::Unavailable::Skip => ir::Unavailable::Skip,
                            ast::Unavailable::Next => ir::Unavailable::Next,
                            ast::Unavailable::Previous => ir::Unavailable::Previous,
                            ast::Unavailable::Anyway => ir::Unavailable::Anyway,
                        },
                    }),
                    Some((None, _)) => return None,
                    None => None,
                };
                ir::Action::StartTimer {
                    key: key?,
                    time,
                    calendar,
                    skip_if_missed: t.skip_if_missed,
                    actions,
                }
            }
            ast::ActionKind::StopTimer(key) => {
                let key = self.constant(key, "a timer key")?;
                if let ast::ActionKind::StopTimer(k) = &a.kind {
                    scope.timer_stops.push((key.clone(), k.span));
                }
                ir::Action::StopTimer { key }
            }
            ast::ActionKind::GoToPage(id) => match scope.pages.get(&id.name) {
                Some(&(step, page)) => {
                    if scope.current_step.is_some_and(|cur| cur != step) {
                        let step_name = scope
                            .steps
                            .iter()
                            .find(|(_, i)| **i == step)
                            .map(|(n, _)| n.clone())
                            .unwrap_or_default();
                        let d = self
                            .diag(UNKNOWN_PAGE, id.span, format!("page `{}` is in step `{step_name}`, not in this step", id.name), "not a page of this step")
                            .with_note("`go to page` moves within a step's web flow; steps change only with `go to step`")
                            .with_help(format!("write `go to step {step_name}` to open that step's first page"));
                        self.push(d);
                        scope.unresolved_navigation = true;
                        return None;
                    }
                    ir::Action::GoToPage { step, page }
                }
                None => {
                    let is_step = scope.steps.contains_key(&id.name);
                    self.unknown_target(
                        UNKNOWN_PAGE,
                        ("page", "step"),
                        id,
                        scope.pages.keys(),
                        is_step,
                    );
                    scope.unresolved_navigation = true;
                    return None;
                }
            },
            ast::ActionKind::GoToStep(id) => match scope.steps.get(&id.name) {
                Some(&step) => ir::Action::GoToStep { step },
                None => {
                    let is_page = scope.pages.contains_key(&id.name);
                    self.unknown_target(
                        UNKNOWN_STEP,
                        ("step", "page"),
                        id,
                        scope.steps.keys(),
                        is_page,
                    );
                    scope.unresolved_navigation = true;
                    return None;
                }
            },
            ast::ActionKind::If {
                branches,
                otherwise,
            } => {
                let branches = branches
                    .iter()
                    .map(|(cond, actions)| {
                        let cond = self.expr_expect(
                            cond,
                            Type::Boolean,
                            scope,
                            CONDITION_TYPE,
                            "an `if` condition",
                        );
                        (cond, self.actions(actions, scope, place))
                    })
                    .collect();
                let otherwise = otherwise
                    .as_ref()
                    .map(|o| self.actions(o, scope, place))
                    .unwrap_or_default();
                ir::Action::If {
                    branches,
                    otherwise,
                }
            }
            ast::ActionKind::EndSession => ir::Action::EndSession,
            ast::ActionKind::ExtendSession(e) => ir::Action::ExtendSession {
                by: self.expr_expect(e, Type::Duration, scope, ASSIGN_TYPE, "`extend session by`"),
            },
            ast::ActionKind::Say(s) => {
                if place != Place::Call {
                    let d = self
                        .diag(SAY_OUTSIDE_CALL, a.span, "`say` only works while answering a call", "there is no call to speak on here")
                        .with_help("use `say` inside `trigger call to \"...\" { ... }`; to reach a person here, `send sms` instead");
                    self.push(d);
                    return None;
                }
                ir::Action::Say {
                    text: self.template(s, scope),
                }
            }
        })
    }

    /// Resolves the target of `set`: where it writes, its type, and how to name it.
    fn target(&mut self, path: &[ast::Ident], scope: &Scope) -> Option<(ir::Place, Type, String)> {
        let shown = join(path);
        match path[0].name.as_str() {
            "actor" if path.len() == 1 => {
                let d = self
                    .diag(READ_ONLY, path[0].span, "`actor` cannot be set as a whole", "set one of its fields")
                    .with_help("set a field, e.g. `set actor.phone = phone_input`, then `initialize actor`");
                self.push(d);
                None
            }
            "actor" if path.len() == 2 => {
                let field = &path[1];
                match ACTOR_FIELDS.iter().find(|(n, _)| *n == field.name) {
                    Some((n, t)) => {
                        Some((ir::Place::Actor(n.to_string()), *t, format!("`{shown}`")))
                    }
                    None => {
                        self.unknown_field("actor", field, ACTOR_FIELDS);
                        None
                    }
                }
            }
            "session" | "journey_link" => {
                let d = self
                    .diag(
                        READ_ONLY,
                        path_span(path),
                        format!("`{shown}` cannot be changed"),
                        "read-only",
                    )
                    .with_help("store the value you need in a variable of the journey instead");
                self.push(d);
                None
            }
            _ if path.len() == 1 => {
                let i = self.var_ref(&path[0], scope)?;
                Some((ir::Place::Var(i), scope.vars[i].1, format!("`{shown}`")))
            }
            _ => {
                let d = self
                    .diag(
                        READ_ONLY,
                        path_span(path),
                        format!("cannot set the field `{shown}`"),
                        "only variables and actor fields can be set",
                    )
                    .with_help(if path[0].name == "actor" {
                        "the actor's fields hold single values; set one of them, e.g. `set actor.first_name = name`".to_string()
                    } else {
                        format!("set the whole variable, e.g. `set {} = {{ ... }}`", path[0].name)
                    });
                self.push(d);
                None
            }
        }
    }

    /// `go to page` or `go to step` naming nothing; `kinds` is what was asked for and the
    /// other kind, which the name may be instead.
    fn unknown_target<'n>(
        &mut self,
        code: Code,
        kinds: (&str, &str),
        id: &ast::Ident,
        names: impl Iterator<Item = &'n String>,
        is_other: bool,
    ) {
        let (kind, other) = kinds;
        let mut d = self.diag(
            code,
            id.span,
            format!("unknown {kind} `{}`", id.name),
            format!("no {kind} with this name in the journey"),
        );
        if let Some(s) = did_you_mean(&id.name, names.map(String::as_str)) {
            d = d.with_help(format!("did you mean `{s}`?"));
        } else if is_other {
            d = d.with_help(format!(
                "`{}` is a {other}: write `go to {other} {}`",
                id.name, id.name
            ));
        }
        self.push(d);
    }

    fn unknown_field(&mut self, of: &str, field: &ast::Ident, fields: &[(&str, Type)]) {
        let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        let mut d = self.diag(
            UNKNOWN_FIELD,
            field.span,
            format!("`{of}` has no field `{}`", field.name),
            format!("not a field of `{of}`"),
        );
        d = match did_you_mean(&field.name, names.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{of}.{s}`?")),
            None => d.with_help(format!("the fields of `{of}` are {}", names.join(", "))),
        };
        self.push(d);
    }

    // ------------------------------------------------------------ expressions

    pub(super) fn template(&mut self, s: &ast::StrLit, scope: &mut Scope) -> ir::Expr {
        if !s.has_interpolation() {
            return lit(Type::Text, ir::ExprKind::Text(s.value.clone()));
        }
        let parts = s
            .parts
            .iter()
            .map(|p| match p {
                TemplatePart::Text(t) => lit(Type::Text, ir::ExprKind::Text(t.clone())),
                TemplatePart::Expr(e) => self.expr(e, None, scope),
            })
            .collect();
        lit(Type::Text, ir::ExprKind::Template(parts))
    }

    /// Checks an expression that must have type `want`; `what` names the place.
    fn expr_expect(
        &mut self,
        e: &ast::Expr,
        want: Type,
        scope: &mut Scope,
        code: Code,
        what: &str,
    ) -> ir::Expr {
        let out = self.expr(e, Some(want), scope);
        if !want.accepts(out.ty) {
            let mut d = self.diag(
                code,
                e.span,
                format!("{what} takes {} {want}, not {}", article(want), out.ty),
                format!("this is {}", out.ty),
            );
            d = match (want, out.ty) {
                (Type::Phone, Type::Text) => d.with_help("convert it with `PHONE(...)`, or fill the variable from a `phone` input"),
                (Type::Duration, Type::Number) => d.with_help("add a unit: `30m`, `24h` or `2d`"),
                (Type::Boolean, _) => d.with_help("compare it with something, e.g. `value = \"YES\"`, or use `NOT ISEMPTY(value)`"),
                (Type::DateTime, Type::Duration) => d.with_help("use `after` for a duration, or `at NOW() + ...` for an instant"),
                (Type::Duration, Type::DateTime) => d.with_help("use `at` for an instant"),
                _ => d.with_help(format!("give it {} {want} value", article(want))),
            };
            self.push(d);
        }
        out
    }

    pub(super) fn expr(
        &mut self,
        e: &ast::Expr,
        want: Option<Type>,
        scope: &mut Scope,
    ) -> ir::Expr {
        match &e.kind {
            E::Number(n) => lit(Type::Number, ir::ExprKind::Number(*n)),
            E::Bool(b) => lit(Type::Boolean, ir::ExprKind::Bool(*b)),
            E::Null => lit(Type::Null, ir::ExprKind::Null),
            E::Text(s) => {
                // A constant text where a Phone or Email is wanted is a literal of that type.
                if !s.has_interpolation() {
                    match want {
                        Some(Type::Phone) => {
                            return match self.phone_literal(s, "a phone number") {
                                Some(p) => lit(Type::Phone, ir::ExprKind::Phone(p)),
                                None => any(),
                            }
                        }
                        Some(Type::Email) => {
                            if literals::is_email(&s.value) {
                                return lit(Type::Email, ir::ExprKind::Email(s.value.clone()));
                            }
                            let d = self
                                .diag(
                                    ASSIGN_TYPE,
                                    s.span,
                                    format!("`{}` is not a valid email address", s.value),
                                    "not an email address",
                                )
                                .with_help("write an address such as \"jane@example.com\"");
                            self.push(d);
                            return any();
                        }
                        _ => {}
                    }
                }
                self.template(s, scope)
            }
            E::Duration { value, unit } => match self.duration_literal(*value, unit, e.span) {
                Some(secs) => lit(Type::Duration, ir::ExprKind::Duration(secs)),
                None => lit(Type::Duration, ir::ExprKind::Null),
            },
            E::List(items) => lit(
                Type::List,
                ir::ExprKind::List(items.iter().map(|i| self.expr(i, None, scope)).collect()),
            ),
            E::Object(fields) => {
                let mut seen: HashMap<&str, Span> = HashMap::new();
                let mut out = Vec::new();
                for (name, value) in fields {
                    if let Some(first) = seen.insert(&name.name, name.span) {
                        self.duplicate("field", name, first);
                    }
                    out.push((name.name.clone(), self.expr(value, None, scope)));
                }
                lit(Type::Object, ir::ExprKind::Object(out))
            }
            E::Path(path) => self.path(path, scope),
            E::Field(base, field) => {
                let base = self.expr(base, None, scope);
                self.field_of(base, field)
            }
            E::Call(name, args) => self.call(name, args, e.span, scope),
            E::Unary(op, x) => {
                let want = if *op == ast::UnOp::Not {
                    Type::Boolean
                } else {
                    Type::Number
                };
                let inner = self.expr(x, Some(want), scope);
                let ok =
                    want.accepts(inner.ty) || (*op == ast::UnOp::Neg && inner.ty == Type::Duration);
                if !ok {
                    let sym = if *op == ast::UnOp::Not { "NOT" } else { "-" };
                    let d = self
                        .diag(
                            TYPE_MISMATCH,
                            e.span,
                            format!("`{sym}` cannot be applied to {}", inner.ty),
                            format!("this is {}", inner.ty),
                        )
                        .with_help(format!("`{sym}` takes a {want}"));
                    self.push(d);
                }
                let ty = if ok { inner.ty } else { Type::Any };
                lit(
                    if ty == Type::Null { want } else { ty },
                    ir::ExprKind::Unary(
                        match op {
                            ast::UnOp::Not => ir::UnOp::Not,
                            ast::UnOp::Neg => ir::UnOp::Neg,
                        },
                        Box::new(inner),
                    ),
                )
            }
            E::Binary(op, l, r) => {
                let left = self.expr(l, None, scope);
                // A text literal compared with a Phone reads as a phone literal (only in a
                // comparison: `"call " + mobile` joins texts).
                let compares = matches!(op, ast::BinOp::Eq | ast::BinOp::Ne);
                let hint = match left.ty {
                    Type::Phone | Type::Email if compares => Some(left.ty),
                    _ => None,
                };
                let right = self.expr(r, hint, scope);
                // And a text literal on the left of a Phone or Email reads the same way.
                let left = match (&left.kind, right.ty) {
                    (ir::ExprKind::Text(_), Type::Phone | Type::Email) if compares => {
                        self.expr(l, Some(right.ty), scope)
                    }
                    _ => left,
                };
                let ty = self.binary(*op, &left, &right, l.span, r.span, e.span);
                lit(
                    ty,
                    ir::ExprKind::Binary(bin_op(*op), Box::new(left), Box::new(right)),
                )
            }
        }
    }

    fn binary(
        &mut self,
        op: ast::BinOp,
        left: &ir::Expr,
        right: &ir::Expr,
        ls: Span,
        rs: Span,
        whole: Span,
    ) -> Type {
        use ast::BinOp::*;
        use Type::*;
        let (a, b) = (left.ty, right.ty);
        if a == Any || b == Any {
            return match op {
                Or | And | Eq | Ne | Lt | Le | Gt | Ge => Boolean,
                _ => Any,
            };
        }
        let result = match op {
            Or | And => {
                (matches!(a, Boolean | Null) && matches!(b, Boolean | Null)).then_some(Boolean)
            }
            Eq | Ne => (a == b || a == Null || b == Null).then_some(Boolean),
            Lt | Le | Gt | Ge => (a == b
                && matches!(a, Number | Text | Date | DateTime | Duration))
            .then_some(Boolean),
            Add => match (a, b) {
                (Number, Number) => Some(Number),
                (Text | Phone | Email, Text | Phone | Email) => Some(Text),
                (DateTime, Duration) | (Duration, DateTime) => Some(DateTime),
                (Duration, Date) => Some(Date),
                (Date, Duration) => Some(Date),
                (Duration, Duration) => Some(Duration),
                _ => None,
            },
            Sub => match (a, b) {
                (Number, Number) => Some(Number),
                (DateTime, Duration) => Some(DateTime),
                (Date, Duration) => Some(Date),
                (DateTime, DateTime) | (Duration, Duration) => Some(Duration),
                _ => None,
            },
            Mul => match (a, b) {
                (Number, Number) => Some(Number),
                (Duration, Number) | (Number, Duration) => Some(Duration),
                _ => None,
            },
            Div => match (a, b) {
                (Number, Number) => Some(Number),
                (Duration, Number) => Some(Duration),
                _ => None,
            },
            Rem => (a == Number && b == Number).then_some(Number),
        };
        if let Some(t) = result {
            return t;
        }
        // One spelling of each operator: the IR's.
        let sym = bin_op(op).symbol();
        let (message, help) = match op {
            Eq | Ne => (
                format!(
                    "comparing {a} with {b} is always {}",
                    if op == Eq { "false" } else { "true" }
                ),
                match (a, b) {
                    (Phone, Text) | (Text, Phone) => {
                        "convert the text with `PHONE(...)`, or write the number as a literal"
                            .to_string()
                    }
                    _ => "values of different types are never equal: compare values of one type"
                        .to_string(),
                },
            ),
            Or | And => (
                format!("`{sym}` needs Booleans, not {a} and {b}"),
                "compare the values first, e.g. `answer = \"YES\"`".to_string(),
            ),
            _ => (
                format!("`{sym}` cannot combine {a} and {b}"),
                format!("`{sym}` works on {}", op_domain(op)),
            ),
        };
        let d = self
            .diag(TYPE_MISMATCH, whole, message, format!("{a} {sym} {b}"))
            .with_label(ls, format!("this is {a}"))
            .with_label(rs, format!("this is {b}"))
            .with_help(help);
        self.push(d);
        Any
    }

    fn path(&mut self, path: &[ast::Ident], scope: &mut Scope) -> ir::Expr {
        let head = &path[0];
        let (mut base, rest) = match head.name.as_str() {
            "actor" | "session" => {
                let (fields, of) = if head.name == "actor" {
                    (ACTOR_FIELDS, "actor")
                } else {
                    (SESSION_FIELDS, "session")
                };
                let Some(field) = path.get(1) else {
                    let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
                    let d = self
                        .diag(
                            UNKNOWN_FIELD,
                            head.span,
                            format!("`{of}` is not a value by itself"),
                            "use one of its fields",
                        )
                        .with_help(format!(
                            "write `{of}.{}`; its fields are {}",
                            names[0],
                            names.join(", ")
                        ));
                    self.push(d);
                    return any();
                };
                match fields.iter().find(|(n, _)| *n == field.name) {
                    Some((n, t)) => {
                        let kind = if of == "actor" {
                            ir::ExprKind::Actor(n.to_string())
                        } else {
                            ir::ExprKind::Session(n.to_string())
                        };
                        (lit(*t, kind), &path[2..])
                    }
                    None => {
                        self.unknown_field(of, field, fields);
                        return any();
                    }
                }
            }
            "journey_link" => {
                scope.journey_link_used.get_or_insert(head.span);
                (lit(Type::Text, ir::ExprKind::JourneyLink), &path[1..])
            }
            _ => match scope.var_index.get(&head.name) {
                Some(&i) => (lit(scope.vars[i].1, ir::ExprKind::Var(i)), &path[1..]),
                None => {
                    self.unknown_variable(head, scope, None);
                    return any();
                }
            },
        };
        for field in rest {
            base = self.field_of(base, field);
        }
        base
    }

    fn field_of(&mut self, base: ir::Expr, field: &ast::Ident) -> ir::Expr {
        if !matches!(base.ty, Type::Object | Type::Any | Type::Null) {
            let d = self
                .diag(
                    UNKNOWN_FIELD,
                    field.span,
                    format!("a {} has no fields", base.ty),
                    format!("`.{}` on a {}", field.name, base.ty),
                )
                .with_help("only Object values have fields");
            self.push(d);
            return any();
        }
        lit(
            Type::Any,
            ir::ExprKind::Field(Box::new(base), field.name.clone()),
        )
    }

    fn call(
        &mut self,
        name: &ast::Ident,
        args: &[ast::Expr],
        span: Span,
        scope: &mut Scope,
    ) -> ir::Expr {
        let Some(func) = Func::from_name(&name.name) else {
            let names: Vec<&str> = Func::ALL.iter().map(|f| f.name()).collect();
            let mut d = self.diag(
                UNKNOWN_FUNCTION,
                name.span,
                format!("unknown function `{}`", name.name),
                "no function with this name",
            );
            d = match did_you_mean(&name.name.to_uppercase(), names.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help(format!("the functions are {}", names.join(", "))),
            };
            self.push(d);
            for a in args {
                self.expr(a, None, scope);
            }
            return any();
        };
        let sig = func.signature();
        let (min, max) = (sig.params.len() - sig.optional, sig.params.len());
        let shape = format!(
            "{}({})",
            func.name(),
            sig.params
                .iter()
                .enumerate()
                .map(|(i, p)| if i >= min {
                    format!("[{}]", p.name)
                } else {
                    p.name.to_string()
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        if args.len() < min || args.len() > max {
            let expected = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            let d = self
                .diag(
                    ARITY,
                    span,
                    format!(
                        "`{}` takes {expected} argument{}, but {} were given",
                        func.name(),
                        if max == 1 { "" } else { "s" },
                        args.len()
                    ),
                    format!(
                        "{} argument{} here",
                        args.len(),
                        if args.len() == 1 { "" } else { "s" }
                    ),
                )
                .with_help(format!("call it as `{shape}`: {}", sig.doc));
            self.push(d);
        }
        let mut typed = Vec::new();
        for (i, a) in args.iter().enumerate() {
            let param = sig.params.get(i);
            let hint = param.and_then(|p| {
                (p.accepts.len() == 1 && p.accepts[0] != Type::Any).then_some(p.accepts[0])
            });
            let x = self.expr(a, hint, scope);
            if let (Some(p), ast::ExprKind::Text(s)) = (param, &a.kind) {
                if p.name == "time_zone" && !s.has_interpolation() {
                    self.time_zone(s);
                }
            }
            if let Some(p) = param {
                let ok = p.accepts.iter().any(|t| t.accepts(x.ty));
                if !ok {
                    let wanted = p
                        .accepts
                        .iter()
                        .map(|t| t.name())
                        .collect::<Vec<_>>()
                        .join(" or ");
                    let mut d = self
                        .diag(
                            ARGUMENT_TYPE,
                            a.span,
                            format!(
                                "`{}` expects {wanted} for `{}`, not {}",
                                func.name(),
                                p.name,
                                x.ty
                            ),
                            format!("this is {}", x.ty),
                        )
                        .with_label(name.span, format!("in this call to `{shape}`"));
                    d = match (p.accepts, x.ty) {
                        ([Type::Phone], Type::Text) => {
                            d.with_help("convert the text first with `PHONE(...)`")
                        }
                        _ => d.with_help(format!("pass a {wanted}")),
                    };
                    self.push(d);
                }
            }
            typed.push(x);
        }
        let ty = match sig.returns {
            Returns::Fixed(t) => t,
            Returns::SameAsArg(i) => {
                let t = typed.get(i).map_or(Type::Any, |x| x.ty);
                let other = typed.get(i + 1).map_or(Type::Any, |x| x.ty);
                if t == Type::Null {
                    other
                } else if other != Type::Null
                    && other != Type::Any
                    && t != Type::Any
                    && !t.accepts(other)
                    && !other.accepts(t)
                {
                    let d = self
                        .diag(
                            ARGUMENT_TYPE,
                            args[i + 1].span,
                            format!(
                                "the two results of `{}` differ: {t} and {other}",
                                func.name()
                            ),
                            format!("this is {other}"),
                        )
                        .with_label(args[i].span, format!("this is {t}"))
                        .with_help("give both results the same type");
                    self.push(d);
                    Type::Any
                } else {
                    t
                }
            }
        };
        lit(ty, ir::ExprKind::Call(func, typed))
    }
}

enum Lookup<T> {
    Found(T),
    /// Not there; the module searched, if one was named.
    Missing(Option<String>),
    NotImported(String),
    /// The module's import failed and was reported already.
    Failed,
}

fn article(t: Type) -> &'static str {
    if matches!(t, Type::Email | Type::Object | Type::Any) {
        "an"
    } else {
        "a"
    }
}

/// The IR's twin of a syntax operator.
fn bin_op(op: ast::BinOp) -> ir::BinOp {
    use ast::BinOp as A;
    use ir::BinOp as I;
    match op {
        A::Or => I::Or,
        A::And => I::And,
        A::Eq => I::Eq,
        A::Ne => I::Ne,
        A::Lt => I::Lt,
        A::Le => I::Le,
        A::Gt => I::Gt,
        A::Ge => I::Ge,
        A::Add => I::Add,
        A::Sub => I::Sub,
        A::Mul => I::Mul,
        A::Div => I::Div,
        A::Rem => I::Rem,
    }
}

fn op_domain(op: ast::BinOp) -> &'static str {
    use ast::BinOp::*;
    match op {
        Add => "Numbers, Texts (joining them), and a DateTime or Date with a Duration",
        Sub => "Numbers, and DateTimes, Dates and Durations",
        Mul | Div => "Numbers, and a Duration with a Number",
        Rem => "Numbers",
        Lt | Le | Gt | Ge => "two Numbers, Texts, Dates, DateTimes or Durations",
        _ => "Booleans",
    }
}
