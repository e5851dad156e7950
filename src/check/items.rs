//! Calendars and notifications, at file level or inside a journey.

use super::cx::Cx;
use super::report::suggestion;
use super::scope::Scope;
use crate::diagnostic::*;
use crate::ir;
use crate::literals;
use crate::syntax::ast::{self, ExprKind as E, TemplatePart};
use crate::types::Type;

/// Above this many segments a text part gets a warning.
pub const MAX_QUIET_SEGMENTS: usize = 3;
/// Twilio's limit on one message body.
pub const MAX_SMS_CHARS: usize = 1_600;

impl Cx<'_> {
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
                        self.set_twice("time zone", *span, first);
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
                            let afternoon = format!(
                                "{}-{:02}:{:02}",
                                from.name,
                                (t + 720) / 60,
                                (t + 720) % 60
                            );
                            let help = suggestion(twelve_hour.then_some(afternoon))
                                .map(|s| format!("times are 24-hour: {s}"))
                                .unwrap_or_else(|| "split hours that cross midnight into two lines, e.g. `22:00-24:00` and `00:00-06:00` on the next day".into());
                            let d = self
                                .diag(
                                    INVALID_CALENDAR,
                                    from.span.to(to.span),
                                    format!(
                                        "opening hours `{}-{}` end before they start",
                                        from.name, to.name
                                    ),
                                    "the end must be after the start",
                                )
                                .with_help(help);
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
            let help = suggestion(did_you_mean(&id.name, literals::DAY_NAMES))
                .unwrap_or_else(|| "days are mon, tue, wed, thu, fri, sat and sun".into());
            let d = self
                .diag(
                    INVALID_CALENDAR,
                    id.span,
                    format!("unknown day `{}`", id.name),
                    "not a day of the week",
                )
                .with_help(help);
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

    pub(super) fn notification(
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
}
