//! Local times in IANA time zones, with one defined outcome on daylight-saving nights.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant a local date and time happen in `zone`.
///
/// - A local time that happens twice (clocks go back) means the first of the two.
/// - A local time that does not exist (clocks go forward) is moved forward by the
///   length of the gap: 02:30 on a spring-forward night in New York is 03:30 EDT.
pub fn local_to_utc(zone: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = NaiveDateTime::new(date, time);
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // Read the wall time with the offset in force just before the gap.
            let before = zone.from_utc_datetime(&(local - chrono::Duration::hours(12)));
            let offset = chrono::Offset::fix(before.offset());
            let instant = local - chrono::Duration::seconds(i64::from(offset.local_minus_utc()));
            Utc.from_utc_datetime(&instant)
        }
    }
}

/// The calendar date of an instant in `zone`.
pub fn date_in(zone: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn ordinary_local_times() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let t = local_to_utc(
            ny,
            NaiveDate::from_ymd_opt(2026, 7, 1).unwrap(),
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        );
        assert_eq!(t, at("2026-07-01T13:00:00Z"));
        let t = local_to_utc(
            ny,
            NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        );
        assert_eq!(t, at("2026-01-05T14:00:00Z"));
    }

    #[test]
    fn a_local_time_in_the_spring_gap_moves_forward() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // 2026-03-08: clocks go from 02:00 EST to 03:00 EDT.
        let t = local_to_utc(
            ny,
            NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(),
            NaiveTime::from_hms_opt(2, 30, 0).unwrap(),
        );
        assert_eq!(t, at("2026-03-08T07:30:00Z"));
        assert_eq!(
            t.with_timezone(&ny).format("%H:%M %Z").to_string(),
            "03:30 EDT"
        );
    }

    #[test]
    fn a_local_time_that_happens_twice_means_the_first() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // 2026-11-01: clocks go from 02:00 EDT back to 01:00 EST; 01:30 happens twice.
        let t = local_to_utc(
            ny,
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            NaiveTime::from_hms_opt(1, 30, 0).unwrap(),
        );
        assert_eq!(t, at("2026-11-01T05:30:00Z"));
        assert_eq!(
            t.with_timezone(&ny).format("%H:%M %Z").to_string(),
            "01:30 EDT"
        );
    }

    #[test]
    fn dates_follow_the_zone() {
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        assert_eq!(
            date_in(la, at("2026-07-02T03:00:00Z")),
            NaiveDate::from_ymd_opt(2026, 7, 1).unwrap()
        );
    }
}
