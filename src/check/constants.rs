//! Constants written in the source: phone numbers, time zones, cron expressions and
//! durations, checked where they stand.

use super::cx::Cx;
use super::report::suggestion;
use crate::diagnostic::*;
use crate::literals::{self, DurationError};
use crate::syntax::ast;

impl Cx<'_> {
    /// A string that must be constant (a phone number, a slug, a time zone...).
    pub(super) fn constant(&mut self, s: &ast::StrLit, what: &str) -> Option<String> {
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

    pub(super) fn phone_literal(&mut self, s: &ast::StrLit, what: &str) -> Option<String> {
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

    pub(super) fn time_zone(&mut self, s: &ast::StrLit) -> Option<String> {
        let value = self.constant(s, "a time zone")?;
        if literals::parse_time_zone(&value).is_some() {
            return Some(value);
        }
        let help =
            suggestion(did_you_mean(&value, literals::time_zone_names())).unwrap_or_else(|| {
                "use an IANA name such as \"America/New_York\" or \"Europe/London\"".into()
            });
        let d = self
            .diag(
                UNKNOWN_TIME_ZONE,
                s.span,
                format!("unknown time zone `{value}`"),
                "not an IANA time zone name",
            )
            .with_help(help);
        self.push(d);
        None
    }

    pub(super) fn cron(&mut self, s: &ast::StrLit) -> Option<String> {
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
    pub(super) fn duration_literal(&mut self, value: u64, unit: &str, span: Span) -> Option<u64> {
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
                let help = suggestion(guess.map(|g| format!("{value}{g}")))
                    .map(|s| format!("{s} The units are s, m, h, d, w and mo"))
                    .unwrap_or_else(|| "the units are s (seconds), m (minutes), h (hours), d (days), w (weeks) and mo (months)".into());
                let d = self
                    .diag(
                        INVALID_DURATION,
                        span,
                        format!("unknown duration unit `{unit}`"),
                        "not a duration unit",
                    )
                    .with_help(help);
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
}
