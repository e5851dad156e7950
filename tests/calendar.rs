//! Calendars as timers use them: open or closed at an instant, and the next or
//! previous open time, across weekends, holidays and both daylight-saving changes.

use chrono::{DateTime, Utc};
use journeyc::ir::Unavailable;
use journeyc::runtime::calendar::Calendar;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The calendars of a checked file, by name (std calendars as `std.calendars.NAME`).
fn calendar(source: &str, name: &str) -> Calendar {
    let (_, modules, diags) = journeyc::check_source("cal.journey", source);
    assert!(diags.is_empty(), "{diags:?}");
    let cal = modules
        .iter()
        .flat_map(|(_, m)| {
            m.calendars
                .iter()
                .chain(m.journeys.iter().flat_map(|j| j.calendars.iter()))
        })
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no calendar {name}"));
    Calendar::new(cal)
}

fn business_hours_ny() -> Calendar {
    let source = "import std.calendars\n\njourney J {\n  trigger api\n  on session started {\n    start timer \"t\" after 1d on std.calendars.BusinessHoursNY {\n      end session\n    }\n  }\n  step S {\n    page P {\n      heading \"x\"\n    }\n  }\n}\n";
    calendar(source, "std.calendars.BusinessHoursNY")
}

#[test]
fn business_hours_are_open_on_weekdays_in_new_york_time() {
    let cal = business_hours_ny();
    assert!(
        cal.is_open(at("2026-03-04T15:00:00Z")),
        "Wednesday 10:00 EST"
    );
    assert!(
        cal.is_open(at("2026-03-04T14:00:00Z")),
        "opens at 09:00 sharp"
    );
    assert!(!cal.is_open(at("2026-03-04T13:59:59Z")), "08:59:59 EST");
    assert!(
        !cal.is_open(at("2026-03-04T22:00:00Z")),
        "closes at 17:00 sharp"
    );
    assert!(!cal.is_open(at("2026-03-07T15:00:00Z")), "Saturday");
}

#[test]
fn next_open_crosses_the_weekend_and_the_spring_change() {
    let cal = business_hours_ny();
    // Friday 18:00 EST; clocks go forward on Sunday 8 March, so Monday 09:00 is EDT.
    assert_eq!(
        cal.next_open(at("2026-03-06T23:00:00Z")),
        Some(at("2026-03-09T13:00:00Z"))
    );
    // An open time is its own next open time.
    assert_eq!(
        cal.next_open(at("2026-03-04T15:00:00Z")),
        Some(at("2026-03-04T15:00:00Z"))
    );
}

#[test]
fn next_open_crosses_the_autumn_change() {
    let cal = business_hours_ny();
    // Friday 18:00 EDT; clocks go back on Sunday 1 November, so Monday 09:00 is EST.
    assert_eq!(
        cal.next_open(at("2026-10-30T22:00:00Z")),
        Some(at("2026-11-02T14:00:00Z"))
    );
}

#[test]
fn previous_open_is_the_last_minute_before_closing() {
    let cal = business_hours_ny();
    // Saturday: back to Friday 16:59 EST.
    assert_eq!(
        cal.previous_open(at("2026-03-07T15:00:00Z")),
        Some(at("2026-03-06T21:59:00Z"))
    );
}

#[test]
fn policies_for_a_time_outside_the_calendar() {
    let cal = business_hours_ny();
    let saturday = at("2026-03-07T15:00:00Z");
    assert_eq!(cal.resolve(saturday, Unavailable::Skip), None);
    assert_eq!(cal.resolve(saturday, Unavailable::Anyway), Some(saturday));
    assert_eq!(
        cal.resolve(saturday, Unavailable::Next),
        Some(at("2026-03-09T13:00:00Z"))
    );
    assert_eq!(
        cal.resolve(saturday, Unavailable::Previous),
        Some(at("2026-03-06T21:59:00Z"))
    );
    let wednesday = at("2026-03-04T15:00:00Z");
    for policy in [
        Unavailable::Skip,
        Unavailable::Anyway,
        Unavailable::Next,
        Unavailable::Previous,
    ] {
        assert_eq!(
            cal.resolve(wednesday, policy),
            Some(wednesday),
            "{policy:?} keeps an open time"
        );
    }
}

const OFFICE: &str = "calendar Office {\n  time zone \"America/New_York\"\n  open mon-fri 09:00-12:00, 13:00-17:00\n  open sat 20:00-24:00\n  open sun 02:30-04:00\n  closed 2026-12-24..2026-12-25 \"Christmas\"\n}\n";

#[test]
fn closed_dates_and_split_days() {
    let cal = calendar(OFFICE, "Office");
    // Thursday 24 and Friday 25 December are closed: from Wednesday evening, the next
    // open time is Saturday 26 December at 20:00 EST.
    assert_eq!(
        cal.next_open(at("2026-12-23T23:00:00Z")),
        Some(at("2026-12-27T01:00:00Z"))
    );
    assert!(!cal.is_open(at("2026-12-24T15:00:00Z")));
    // The lunch hour is closed; the afternoon opens at 13:00.
    assert!(!cal.is_open(at("2026-03-04T17:30:00Z")));
    assert_eq!(
        cal.next_open(at("2026-03-04T17:30:00Z")),
        Some(at("2026-03-04T18:00:00Z"))
    );
    // `24:00` closes at midnight.
    assert!(
        cal.is_open(at("2026-03-08T04:59:00Z")),
        "Saturday 23:59 EST"
    );
}

#[test]
fn a_window_that_starts_in_the_spring_gap_opens_when_the_gap_ends() {
    let cal = calendar(OFFICE, "Office");
    // Sunday 8 March 2026: 02:30 does not exist in New York; 03:00 EDT is 07:00Z.
    assert!(
        !cal.is_open(at("2026-03-08T07:00:00Z")),
        "03:00 EDT is before the moved start"
    );
    assert!(cal.is_open(at("2026-03-08T07:30:00Z")), "03:30 EDT");
    assert!(!cal.is_open(at("2026-03-08T08:00:00Z")), "04:00 EDT closes");
}

#[test]
fn cron_windows() {
    let source =
        "calendar Mornings {\n  time zone \"UTC\"\n  open cron \"0 9 * * MON-FRI\" for 3h\n}\n";
    let cal = calendar(source, "Mornings");
    assert!(cal.is_open(at("2026-03-04T10:00:00Z")));
    assert!(!cal.is_open(at("2026-03-04T12:00:00Z")));
    assert_eq!(
        cal.next_open(at("2026-03-07T10:00:00Z")),
        Some(at("2026-03-09T09:00:00Z"))
    );
    assert_eq!(
        cal.previous_open(at("2026-03-07T10:00:00Z")),
        Some(at("2026-03-06T11:59:00Z"))
    );
}

#[test]
fn a_calendar_closed_for_good_has_no_next_open_time() {
    let source = "calendar Gone {\n  time zone \"UTC\"\n  open mon-fri 09:00-17:00\n  closed 2026-01-01..2030-12-31 \"closed\"\n}\n";
    let cal = calendar(source, "Gone");
    assert_eq!(cal.next_open(at("2026-03-04T10:00:00Z")), None);
    assert_eq!(
        cal.resolve(at("2026-03-04T10:00:00Z"), Unavailable::Next),
        None
    );
}
