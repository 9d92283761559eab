//! Just enough calendar arithmetic for the `YYYY-MM-DD` dates of the contract: check a date,
//! take the date of a timestamp, add days to it (a due date from an issue date and a term).
//! Hand-written: a few lines do not justify a date crate in every connector.
//!
//! ```
//! use dunwell_plugin_sdk::prelude::*;
//! # fn main() -> Result<(), ConnectorError> {
//! let issued = date::check("2026-09-01")?;
//! assert_eq!(date::add_days(&issued, 30).as_deref(), Some("2026-10-01"));
//! // The day of a timestamp as it is written:
//! assert_eq!(date::from_timestamp("2026-09-01T23:30:00+02:00")?, "2026-09-01");
//! // The Option form:
//! assert_eq!(date::parse("2024-02-29"), Some((2024, 2, 29)));
//! assert!(date::parse("2026-02-30").is_none());
//! # Ok(()) }
//! ```

use crate::ConnectorError;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Checks a `YYYY-MM-DD` date and returns (year, month, day); `None` when it is not one. See
/// [`check`] for the same check with an error message.
pub fn parse(s: &str) -> Option<(i64, u32, u32)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s[0..4].parse().ok()?;
    let m: u32 = s[5..7].parse().ok()?;
    let d: u32 = s[8..10].parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let (y2, m2, d2) = civil_from_days(days_from_civil(y, m, d));
    ((y2, m2, d2) == (y, m, d)).then_some((y, m, d))
}

/// Checks a `YYYY-MM-DD` date and returns it, or an error naming the text
/// (`"2026-02-30" is not a date (YYYY-MM-DD)`); add the record and field with
/// [`crate::fields`].
pub fn check(text: &str) -> Result<String, ConnectorError> {
    match parse(text) {
        Some(_) => Ok(text.to_string()),
        None => Err(ConnectorError::InvalidData(format!("{text:?} is not a date (YYYY-MM-DD)"))),
    }
}

/// The date of an ISO 8601 / RFC 3339 timestamp as it is written, its offset ignored
/// (`2026-09-01T23:30:00+02:00` is `2026-09-01`): the day the source itself shows. Also takes
/// a plain date.
pub fn from_timestamp(text: &str) -> Result<String, ConnectorError> {
    let t = text.trim();
    let day = match t.get(10..11) {
        None => t,
        Some("T" | "t" | " ") => &t[..10],
        Some(_) => "",
    };
    match parse(day) {
        Some(_) => Ok(day.to_string()),
        None => Err(ConnectorError::InvalidData(format!("{text:?} is not a date or a timestamp"))),
    }
}

/// `date` + `days`, or `None` when `date` is not a valid date.
pub fn add_days(date: &str, days: u32) -> Option<String> {
    let (y, m, d) = parse(date)?;
    let (y, m, d) = civil_from_days(days_from_civil(y, m, d) + i64::from(days));
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_days_across_months_and_leap_years() {
        assert_eq!(add_days("2024-02-28", 1).as_deref(), Some("2024-02-29"));
        assert_eq!(add_days("2023-12-20", 14).as_deref(), Some("2024-01-03"));
        assert_eq!(add_days("2018-08-30", 30).as_deref(), Some("2018-09-29"));
        assert!(parse("2023-02-29").is_none());
        assert!(add_days("2023-13-01", 1).is_none());
    }

    #[test]
    fn check_says_what_is_wrong() {
        assert_eq!(check("2024-02-29").unwrap(), "2024-02-29");
        let e = check("2026-02-30").unwrap_err();
        assert!(matches!(&e, ConnectorError::InvalidData(_)), "{e:?}");
        assert_eq!(e.message(), r#""2026-02-30" is not a date (YYYY-MM-DD)"#);
        for bad in ["2026-9-1", "01-09-2026", "2026-09-01T10:00:00Z", "", "2026/09/01"] {
            assert!(check(bad).is_err(), "{bad}");
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_date_of_a_timestamp_as_written() {
        assert_eq!(from_timestamp("2026-09-01T23:30:00+02:00").unwrap(), "2026-09-01");
        assert_eq!(from_timestamp("2026-09-01T10:00:00Z").unwrap(), "2026-09-01");
        assert_eq!(from_timestamp("2026-09-01 10:00:00").unwrap(), "2026-09-01");
        assert_eq!(from_timestamp("2026-09-01").unwrap(), "2026-09-01");
        for bad in ["2026-09-31T00:00:00Z", "2026-09-01X", "yesterday", "", "2026-09-0"] {
            assert!(from_timestamp(bad).is_err(), "{bad}");
        }
    }
}
