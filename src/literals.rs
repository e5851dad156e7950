//! The value rules: phone numbers, email addresses, time zones, cron, durations, SMS
//! length, calendar days and times. Each function returns a plain result. The checker
//! turns errors into diagnostics with spans; the runtime applies the same rules to
//! values from outside, so a literal and a typed-in value mean the same.

use std::str::FromStr;

/// Parses a phone number to E.164. Without a leading `+` the number is read as a
/// North American one, which is what a person in the US types.
/// Texts that opt a number out: Twilio's list, matched on the whole text, trimmed and
/// upper-cased. The runtime applies them; `journeyc test`'s checker knows such a text
/// starts no session.
pub const STOP_WORDS: &[&str] = &[
    "STOP",
    "UNSUBSCRIBE",
    "END",
    "QUIT",
    "STOPALL",
    "REVOKE",
    "OPTOUT",
    "CANCEL",
];
/// Texts that opt a number back in (and then go on as any text would).
pub const START_WORDS: &[&str] = &["START", "YES", "UNSTOP"];
/// Texts answered with a journey's `help`, starting no session.
pub const HELP_WORDS: &[&str] = &["HELP", "INFO"];

pub fn parse_phone(text: &str) -> Option<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.len() > 64 {
        return None;
    }
    if let Some(test) = twilio_test_number(trimmed) {
        return Some(test);
    }
    let region = if trimmed.starts_with('+') {
        None
    } else {
        Some(phonenumber::country::Id::US)
    };
    let number = phonenumber::parse(region, trimmed).ok()?;
    if !phonenumber::is_valid(&number) {
        return None;
    }
    Some(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// Twilio's test credentials use `+1 500 555 00xx`, which numbering plans call
/// unassigned. Recognising them first also spares loading the phone metadata, which
/// takes tens of milliseconds, for journeys that use only test numbers.
fn twilio_test_number(text: &str) -> Option<String> {
    let digits: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let rest = digits.strip_prefix("+1500555")?;
    (rest.len() == 4 && rest.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// Whether a string looks like an email address: one `@`, a dotted domain, no spaces.
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && text.len() <= 254
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Why a duration is not valid.
#[derive(Debug, PartialEq, Eq)]
pub enum DurationError {
    UnknownUnit,
    Zero,
    TooLong,
}

pub const DURATION_UNITS: &[(&str, u64)] = &[
    ("s", 1),
    ("m", 60),
    ("h", 3_600),
    ("d", 86_400),
    ("w", 604_800),
    ("mo", 2_592_000),
    ("M", 2_592_000),
];

/// The length in seconds of `value` `unit`, e.g. `30` `m`. Months count as 30 days.
pub fn duration_secs(value: u64, unit: &str) -> Result<u64, DurationError> {
    let (_, per) = DURATION_UNITS
        .iter()
        .find(|(u, _)| *u == unit)
        .ok_or(DurationError::UnknownUnit)?;
    if value == 0 {
        return Err(DurationError::Zero);
    }
    // Ten years is far beyond any session; anything longer is a typo.
    let secs = value
        .checked_mul(*per)
        .filter(|s| *s <= 10 * 365 * 86_400)
        .ok_or(DurationError::TooLong)?;
    Ok(secs)
}

pub fn parse_time_zone(name: &str) -> Option<chrono_tz::Tz> {
    chrono_tz::Tz::from_str(name).ok()
}

pub fn time_zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

/// A cron expression in the `cron` crate's form: five fields get a `0` seconds field.
pub fn normalize_cron(expr: &str) -> String {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() == 5 {
        format!("0 {}", fields.join(" "))
    } else {
        fields.join(" ")
    }
}

/// Checks a cron expression; `Ok` carries the normalised form and, when the day-of-week
/// field uses numbers, that field (numbers there count from Sunday = 1).
pub fn check_cron(expr: &str) -> Result<(String, Option<String>), String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if !(5..=7).contains(&fields.len()) {
        return Err(format!(
            "a cron expression has 5 fields (minute hour day month weekday), or 6 with seconds first, or 7 with a year last; this has {}",
            fields.len()
        ));
    }
    let normalized = normalize_cron(expr);
    cron::Schedule::from_str(&normalized)
        .map_err(|e| cron_field_error(&normalized).unwrap_or_else(|| last_line(&e.to_string())))?;
    let dow = normalized.split_whitespace().nth(5).unwrap_or("*");
    let numeric = (dow.chars().any(|c| c.is_ascii_digit()) && !dow.starts_with("*/"))
        .then(|| dow.to_string());
    Ok((normalized, numeric))
}

/// The first number outside its field's range, said in words; the `cron` crate's own
/// messages quote the normalised expression and are off by one.
fn cron_field_error(normalized: &str) -> Option<String> {
    const FIELDS: [(&str, u32, u32); 7] = [
        ("second", 0, 59),
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day of the month", 1, 31),
        ("month", 1, 12),
        ("day of the week", 1, 7),
        ("year", 1970, 2099),
    ];
    for (field, (name, lo, hi)) in normalized.split_whitespace().zip(FIELDS) {
        for number in field
            .split([',', '-', '/'])
            .filter_map(|n| n.parse::<u32>().ok())
        {
            if number < lo || number > hi {
                return Some(format!(
                    "{name} {number} is out of range: it must be {lo} to {hi}"
                ));
            }
        }
    }
    None
}

fn last_line(message: &str) -> String {
    message
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(message)
        .trim()
        .to_string()
}

/// GSM-7's basic character set (and its extension table, which costs two septets).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENDED: &str = "^{}\\[~]|€\x0c";

/// The characters of `text` that GSM-7 cannot carry, each once, in order: any of them
/// makes the whole text UCS-2, 70 characters a segment instead of 160.
pub fn ucs2_chars(text: &str) -> Vec<char> {
    let mut out = Vec::new();
    for c in text.chars() {
        if !GSM7_BASIC.contains(c) && !GSM7_EXTENDED.contains(c) && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// How many SMS segments a text takes: GSM-7 (160, or 153 per part) when every
/// character fits, else UCS-2 (70, or 67 per part).
pub fn sms_segments(text: &str) -> usize {
    let mut septets = 0usize;
    let mut gsm = true;
    for c in text.chars() {
        if GSM7_BASIC.contains(c) {
            septets += 1;
        } else if GSM7_EXTENDED.contains(c) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    if gsm {
        if septets <= 160 {
            1
        } else {
            septets.div_ceil(153)
        }
    } else {
        let units: usize = text.chars().map(char::len_utf16).sum();
        if units <= 70 {
            1
        } else {
            units.div_ceil(67)
        }
    }
}

/// Parses `HH:MM` to minutes after midnight; `24:00` is allowed as an end time.
pub fn parse_clock(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

pub const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Monday is 0; accepts three-letter and full English names, any case.
pub fn parse_day(text: &str) -> Option<u8> {
    let lower = text.to_ascii_lowercase();
    let full = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    (0..7u8).find(|&i| lower == DAY_NAMES[i as usize] || lower == full[i as usize])
}

pub fn parse_date(text: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        assert_eq!(parse_phone("+15005550006").as_deref(), Some("+15005550006"));
        assert_eq!(
            parse_phone("(415) 867-5309").as_deref(),
            Some("+14158675309")
        );
        assert_eq!(
            parse_phone("+44 20 7946 0958").as_deref(),
            Some("+442079460958")
        );
        assert_eq!(parse_phone("12345"), None);
        assert_eq!(parse_phone("+1555"), None);
        assert_eq!(parse_phone("hello"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(duration_secs(30, "m"), Ok(1_800));
        assert_eq!(duration_secs(2, "d"), Ok(172_800));
        assert_eq!(duration_secs(0, "h"), Err(DurationError::Zero));
        assert_eq!(duration_secs(3, "x"), Err(DurationError::UnknownUnit));
        assert_eq!(duration_secs(u64::MAX, "s"), Err(DurationError::TooLong));
    }

    #[test]
    fn cron_forms() {
        assert_eq!(
            check_cron("0 9 * * MON-FRI").unwrap(),
            ("0 0 9 * * MON-FRI".to_string(), None)
        );
        assert_eq!(check_cron("0 9 * * 1-5").unwrap().1.as_deref(), Some("1-5"));
        assert!(check_cron("0 25 * * *").is_err());
        assert!(check_cron("* *").is_err());
    }

    #[test]
    fn segments() {
        assert_eq!(sms_segments(&"a".repeat(160)), 1);
        assert_eq!(sms_segments(&"a".repeat(161)), 2);
        assert_eq!(sms_segments(&"é".repeat(160)), 1);
        assert_eq!(sms_segments(&"😀".repeat(35)), 1);
        assert_eq!(sms_segments(&"😀".repeat(36)), 2);
        assert_eq!(sms_segments(&"ü".repeat(100)), 1);
        assert_eq!(sms_segments(&"ł".repeat(71)), 2);
    }

    #[test]
    fn clocks_days_dates() {
        assert_eq!(parse_clock("09:30"), Some(570));
        assert_eq!(parse_clock("24:00"), Some(1440));
        assert_eq!(parse_clock("25:00"), None);
        assert_eq!(parse_day("Fri"), Some(4));
        assert_eq!(parse_day("sunday"), Some(6));
        assert!(parse_date("2026-02-30").is_none());
    }
}
