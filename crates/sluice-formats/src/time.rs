//! Text forms of `DATE`, `TIME` and `TIMESTAMP` values, computed with integer arithmetic.
//!
//! Dates use the proleptic Gregorian calendar. Years 0..=9999 are written with four digits, other years with a
//! sign and at least four digits (`+10000-01-01`, `-0001-12-31`), as ISO 8601's expanded form and chrono do.
//! Fractions of a second have 0, 3, 6 or 9 digits, the fewest that show the value exactly.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch now: Debezium's `ts_ms`, when a message is encoded.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Nanoseconds in a day: every valid `TIME` value is below this.
pub(crate) const NANOS_PER_DAY: u64 = 86_400_000_000_000;

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// The civil `(year, month, day)` of a count of days since 1970-01-01.
///
/// Shifts the epoch to 0000-03-01 so that leap days fall at the end of a year, then splits the day number into
/// 400-year eras (146,097 days each), years within the era, and a day of the year counted from March.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn push2(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
}

/// Writes `n` with exactly `width` digits, zero-padded (`n` must have at most `width` digits).
fn push_padded(out: &mut Vec<u8>, mut n: u64, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for slot in out[start..].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

fn push_year(out: &mut Vec<u8>, year: i64) {
    if (0..=9999).contains(&year) {
        push_padded(out, year as u64, 4);
    } else {
        out.push(if year < 0 { b'-' } else { b'+' });
        let abs = year.unsigned_abs();
        if abs < 10_000 {
            push_padded(out, abs, 4);
        } else {
            out.extend_from_slice(itoa::Buffer::new().format(abs).as_bytes());
        }
    }
}

/// Writes `YYYY-MM-DD` for a day count since 1970-01-01.
pub(crate) fn write_date(out: &mut Vec<u8>, days: i64) {
    let (year, month, day) = civil_from_days(days);
    push_year(out, year);
    out.push(b'-');
    push2(out, month);
    out.push(b'-');
    push2(out, day);
}

/// Writes `HH:MM:SS` and the shortest exact fraction of `nanos` (0, 3, 6 or 9 digits), for a time below one day.
pub(crate) fn write_time(out: &mut Vec<u8>, nanos: u64) {
    let secs = nanos / 1_000_000_000;
    push2(out, (secs / 3600) as u32);
    out.push(b':');
    push2(out, (secs / 60 % 60) as u32);
    out.push(b':');
    push2(out, (secs % 60) as u32);
    let frac = nanos % 1_000_000_000;
    if frac == 0 {
        return;
    }
    out.push(b'.');
    if frac.is_multiple_of(1_000_000) {
        push_padded(out, frac / 1_000_000, 3);
    } else if frac.is_multiple_of(1_000) {
        push_padded(out, frac / 1_000, 6);
    } else {
        push_padded(out, frac, 9);
    }
}

/// Writes a timestamp (microseconds since 1970-01-01 00:00:00, negative before) as date, `separator`, time.
pub(crate) fn write_timestamp(out: &mut Vec<u8>, micros: i64, separator: u8) {
    let secs = micros.div_euclid(MICROS_PER_SECOND);
    let frac_micros = micros.rem_euclid(MICROS_PER_SECOND) as u64;
    write_date(out, secs.div_euclid(SECONDS_PER_DAY));
    out.push(separator);
    let second_of_day = secs.rem_euclid(SECONDS_PER_DAY) as u64;
    write_time(out, second_of_day * 1_000_000_000 + frac_micros * 1_000);
}

/// Milliseconds since the epoch of a timestamp in microseconds, rounded down (towards the past).
pub(crate) fn timestamp_millis(micros: i64) -> i64 {
    micros.div_euclid(1_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::written as text;
    use chrono::{Duration, NaiveDate, NaiveTime};
    use proptest::prelude::*;

    #[test]
    fn reference_vectors() {
        assert_eq!(text(|o| write_date(o, 19_628)), "2023-09-28");
        assert_eq!(text(|o| write_time(o, 84_075_123_000_000)), "23:21:15.123");
        let micros = 1_529_501_823_000 * 1_000;
        assert_eq!(
            text(|o| write_timestamp(o, micros, b' ')),
            "2018-06-20 13:37:03"
        );
        assert_eq!(
            text(|o| write_timestamp(o, micros, b'T')),
            "2018-06-20T13:37:03"
        );
    }

    #[test]
    fn dates_before_1970_and_far_years() {
        assert_eq!(text(|o| write_date(o, 0)), "1970-01-01");
        assert_eq!(text(|o| write_date(o, -1)), "1969-12-31");
        assert_eq!(text(|o| write_date(o, -719_528)), "0000-01-01");
        assert_eq!(text(|o| write_date(o, -719_529)), "-0001-12-31");
        assert_eq!(text(|o| write_date(o, 2_932_897)), "+10000-01-01");
        assert_eq!(
            text(|o| write_timestamp(o, -1, b' ')),
            "1969-12-31 23:59:59.999999"
        );
        assert_eq!(
            text(|o| write_timestamp(o, -1_000, b' ')),
            "1969-12-31 23:59:59.999"
        );
        assert_eq!(timestamp_millis(-1), -1);
        assert_eq!(timestamp_millis(1_999), 1);
    }

    #[test]
    fn fractions_use_3_6_or_9_digits() {
        assert_eq!(text(|o| write_time(o, 0)), "00:00:00");
        assert_eq!(text(|o| write_time(o, 1_000_000)), "00:00:00.001");
        assert_eq!(text(|o| write_time(o, 1_000)), "00:00:00.000001");
        assert_eq!(text(|o| write_time(o, 1)), "00:00:00.000000001");
        assert_eq!(
            text(|o| write_time(o, NANOS_PER_DAY - 1)),
            "23:59:59.999999999"
        );
    }

    proptest! {
        #[test]
        fn dates_agree_with_chrono(days in -3_000_000i64..3_000_000) {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
            let expected = (epoch + Duration::days(days)).format("%Y-%m-%d").to_string();
            prop_assert_eq!(text(|o| write_date(o, days)), expected);
        }

        #[test]
        fn timestamps_agree_with_chrono(micros in -100_000_000_000_000_000i64..100_000_000_000_000_000) {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
            let expected = (epoch + Duration::microseconds(micros)).format("%Y-%m-%d %H:%M:%S%.f").to_string();
            prop_assert_eq!(text(|o| write_timestamp(o, micros, b' ')), expected);
        }

        #[test]
        fn times_agree_with_chrono(nanos in 0..NANOS_PER_DAY) {
            let t = NaiveTime::from_num_seconds_from_midnight_opt(
                (nanos / 1_000_000_000) as u32, (nanos % 1_000_000_000) as u32).unwrap();
            prop_assert_eq!(text(|o| write_time(o, nanos)), t.format("%H:%M:%S%.f").to_string());
        }
    }
}
