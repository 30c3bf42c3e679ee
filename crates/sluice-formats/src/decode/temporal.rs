//! Reading `DATE`, `TIME` and `TIMESTAMP` text: the inverse of `crate::time`.
//!
//! Accepts everything the encoders write (four-digit years, and signed expanded years such as `+10000-01-01` or
//! `-0001-12-31`; fractions of 0, 3, 6 or 9 digits) and a little more that users commonly send: any fraction of 1
//! to 9 digits, a `T` between date and time, and a trailing `Z` or `+00:00` on timestamps. Timestamps keep
//! microseconds; further fraction digits are truncated (the value is rounded towards the past).

const NANOS_PER_SECOND: u64 = 1_000_000_000;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of `crate::time::civil_from_days`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The value of exactly `n` ASCII digits, or `None`.
fn digits(s: &str, n: usize) -> Option<u32> {
    if s.len() != n || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `[+|-]YYYY-MM-DD` (four or more year digits) as days since 1970-01-01; `None` when malformed, not a real
/// calendar day, or out of `DATE`'s range.
pub(crate) fn parse_date(s: &str) -> Option<i32> {
    i32::try_from(date_days(s)?).ok()
}

fn date_days(s: &str) -> Option<i64> {
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let mut parts = body.splitn(3, '-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    // Nine digits keep the arithmetic far from overflow; DATE's range ends near year 5,879,610 anyway.
    if !(4..=9).contains(&year.len()) || !year.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i64 = year.parse().ok()?;
    let year = if negative { -year } else { year };
    let (month, day) = (digits(month, 2)?, digits(day, 2)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// `HH:MM:SS[.fraction]` (fraction of 1 to 9 digits) as nanoseconds since midnight.
pub(crate) fn parse_time(s: &str) -> Option<u64> {
    let (hms, fraction) = match s.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (s, None),
    };
    let mut parts = hms.splitn(3, ':');
    let hours = digits(parts.next()?, 2)?;
    let minutes = digits(parts.next()?, 2)?;
    let seconds = digits(parts.next()?, 2)?;
    if hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    let mut nanos = 0u64;
    if let Some(f) = fraction {
        if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        nanos = f.parse::<u64>().ok()? * 10u64.pow(9 - f.len() as u32);
    }
    let secs = u64::from(hours * 3600 + minutes * 60 + seconds);
    Some(secs * NANOS_PER_SECOND + nanos)
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]`, with ` ` or `T` between date and time and an optional `Z` or `+00:00`
/// after, as microseconds since 1970-01-01 00:00:00.
pub(crate) fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix("+00:00"))
        .unwrap_or(s);
    // The date may start with a sign, so look for the separator after its first character.
    let at = s.get(1..)?.find([' ', 'T'])? + 1;
    let days = date_days(&s[..at])?;
    let micros = parse_time(&s[at + 1..])? / 1_000;
    // In 128 bits: the day's start may lie before i64::MIN even when the timestamp itself does not.
    let total = i128::from(days) * i128::from(MICROS_PER_DAY) + i128::from(micros);
    i64::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::written;
    use crate::time::{write_date, write_time, write_timestamp};
    use proptest::prelude::*;

    #[test]
    fn dates_including_expanded_years_and_leap_days() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2023-09-28"), Some(19_628));
        assert_eq!(parse_date("1969-12-31"), Some(-1));
        assert_eq!(parse_date("-0001-12-31"), Some(-719_529));
        assert_eq!(parse_date("+10000-01-01"), Some(2_932_897));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2023-13-01",
            "2023-04-31",
            "2023-00-10",
            "23-01-01",
            "2023-1-01",
            "2023/01/01",
            "2023-01-01 ",
            "",
            "+99999999-01-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn times_with_fractions_of_any_length_up_to_nine() {
        assert_eq!(parse_time("00:00:00"), Some(0));
        assert_eq!(parse_time("23:21:15.123"), Some(84_075_123_000_000));
        assert_eq!(parse_time("00:00:00.5"), Some(500_000_000));
        assert_eq!(parse_time("23:59:59.999999999"), Some(86_399_999_999_999));
        for bad in [
            "24:00:00",
            "12:60:00",
            "12:00:60",
            "12:00",
            "12:00:00.",
            "12:00:00.1234567890",
            "1:00:00",
        ] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn timestamps_with_either_separator_and_a_utc_suffix() {
        let micros = 1_529_501_823_000_000;
        assert_eq!(parse_timestamp("2018-06-20 13:37:03"), Some(micros));
        assert_eq!(parse_timestamp("2018-06-20T13:37:03"), Some(micros));
        assert_eq!(parse_timestamp("2018-06-20T13:37:03Z"), Some(micros));
        assert_eq!(parse_timestamp("2018-06-20T13:37:03+00:00"), Some(micros));
        assert_eq!(parse_timestamp("1969-12-31 23:59:59.999999"), Some(-1));
        assert_eq!(
            parse_timestamp("1969-12-31 23:59:59.9999999"),
            Some(-1),
            "digits beyond microseconds are truncated"
        );
        for bad in [
            "2018-06-20",
            "2018-06-20  13:37:03",
            "2018-06-20 13:37:03+01:00",
            "2018-06-20X13:37:03",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn every_written_date_time_and_timestamp_reads_back(
            days in any::<i32>(),
            nanos in 0..crate::time::NANOS_PER_DAY,
            micros in any::<i64>(),
        ) {
            prop_assert_eq!(parse_date(&written(|o| write_date(o, i64::from(days)))), Some(days));
            prop_assert_eq!(parse_time(&written(|o| write_time(o, nanos))), Some(nanos));
            prop_assert_eq!(parse_timestamp(&written(|o| write_timestamp(o, micros, b' '))), Some(micros));
            prop_assert_eq!(parse_timestamp(&written(|o| write_timestamp(o, micros, b'T'))), Some(micros));
        }
    }
}
