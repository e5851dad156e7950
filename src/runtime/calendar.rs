//! When a calendar is open, and the next or previous time it is.
//!
//! A calendar is open when its local time falls in a weekly window or in a window that
//! starts at one of its cron instants, and its local date is not closed. Windows are
//! half-open: 09:00-17:00 is open at 09:00 and closed at 17:00. Local times are read
//! with `time::local_to_utc`, so a window that starts in a daylight-saving gap opens
//! when the gap ends.

use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use super::time::local_to_utc;
use crate::ir::{self, Unavailable};

/// How far ahead or back to look for an open time; a calendar closed for longer is
/// treated as never open.
const SEARCH_DAYS: i64 = 400;

/// A checked calendar, ready to answer questions about time.
pub struct Calendar {
    zone: Tz,
    weekly: Vec<ir::WeeklyHours>,
    cron: Vec<(cron::Schedule, Duration)>,
    closed: Vec<(NaiveDate, NaiveDate)>,
}

impl Calendar {
    /// The calendar with its hours read in `zone` instead of its own: nine to five
    /// where the person is.
    pub fn in_zone(mut self, zone: Tz) -> Calendar {
        self.zone = zone;
        self
    }

    /// Builds from the IR; the checker has validated every part, so nothing fails here
    /// except for IR written by hand, whose bad parts are left out.
    pub fn new(cal: &ir::Calendar) -> Calendar {
        Calendar {
            zone: crate::literals::parse_time_zone(&cal.time_zone).unwrap_or(Tz::UTC),
            weekly: cal.weekly.clone(),
            cron: cal
                .cron
                .iter()
                .filter_map(|w| {
                    Some((
                        cron::Schedule::from_str(&w.cron).ok()?,
                        Duration::seconds(i64::try_from(w.length_secs).ok()?),
                    ))
                })
                .collect(),
            closed: cal
                .closed
                .iter()
                .filter_map(|c| {
                    Some((
                        NaiveDate::from_str(&c.from).ok()?,
                        NaiveDate::from_str(&c.to).ok()?,
                    ))
                })
                .collect(),
        }
    }

    fn closed_on(&self, date: NaiveDate) -> bool {
        self.closed
            .iter()
            .any(|(from, to)| *from <= date && date <= *to)
    }

    /// The windows that start on a local date, as UTC instants, earliest first.
    fn windows_on(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let mut out = Vec::new();
        if self.closed_on(date) {
            return out;
        }
        let weekday = date.weekday().num_days_from_monday() as u8;
        for w in self.weekly.iter().filter(|w| w.days.contains(&weekday)) {
            let start = local_to_utc(self.zone, date, minutes(w.from_minute));
            let end = if w.to_minute >= 24 * 60 {
                local_to_utc(self.zone, date + Duration::days(1), NaiveTime::MIN)
            } else {
                local_to_utc(self.zone, date, minutes(w.to_minute))
            };
            if start < end {
                out.push((start, end));
            }
        }
        let day_start = local_to_utc(self.zone, date, NaiveTime::MIN);
        let day_end = local_to_utc(self.zone, date + Duration::days(1), NaiveTime::MIN);
        for (schedule, length) in &self.cron {
            let from = day_start.with_timezone(&self.zone) - Duration::seconds(1);
            for start in schedule
                .after(&from)
                .take_while(|s| s.with_timezone(&Utc) < day_end)
                .take(24 * 60)
            {
                let start = start.with_timezone(&Utc);
                out.push((start, start + *length));
            }
        }
        out.sort();
        out
    }

    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.zone).date_naive()
    }

    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        // A window may start the day before and run past midnight (cron windows).
        let today = self.local_date(at);
        [today - Duration::days(1), today]
            .into_iter()
            .flat_map(|d| self.windows_on(d))
            .any(|(start, end)| start <= at && at < end && !self.closed_on(self.local_date(at)))
    }

    /// The earliest open time at or after `at`.
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_open(at) {
            return Some(at);
        }
        let first = self.local_date(at);
        (0..SEARCH_DAYS).find_map(|i| {
            let date = first + Duration::days(i);
            self.windows_on(date)
                .into_iter()
                .map(|(start, _)| start)
                .find(|start| *start >= at && !self.closed_on(self.local_date(*start)))
        })
    }

    /// The latest open minute at or before `at`: `at` itself when open, else one minute
    /// before the last window that ended (16:59 for a 09:00-17:00 day).
    pub fn previous_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_open(at) {
            return Some(at);
        }
        let first = self.local_date(at);
        (0..SEARCH_DAYS).find_map(|i| {
            let date = first - Duration::days(i);
            self.windows_on(date)
                .into_iter()
                .rev()
                .map(|(start, end)| (end - Duration::minutes(1)).max(start))
                .find(|last| *last <= at)
        })
    }

    /// When a timer due at `due` should fire under this calendar, or `None` to skip it.
    pub fn resolve(&self, due: DateTime<Utc>, policy: Unavailable) -> Option<DateTime<Utc>> {
        match policy {
            Unavailable::Anyway => Some(due),
            Unavailable::Skip => self.is_open(due).then_some(due),
            Unavailable::Next => self.next_open(due),
            Unavailable::Previous => self.previous_open(due),
        }
    }
}

fn minutes(m: u16) -> NaiveTime {
    NaiveTime::from_hms_opt(u32::from(m / 60), u32::from(m % 60), 0).unwrap_or(NaiveTime::MIN)
}
