//! Working days and public holidays.
//!
//! The planner only ever asks "is this a working day?" and "what is the first working day on
//! or after X?", so the calendar is a small value type that the planner receives as data: the
//! jurisdiction's public holidays (computed, so they never run out) plus the closing days the
//! operator configured. The Algemene termijnenwet days (which also count Good Friday and 5 May)
//! are a separate question asked by the law module through [`Calendar::is_atw_holiday`].

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// Where the business (and so its customers' legal rules and holidays) lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jurisdiction {
    Nl,
    Be,
}

impl Jurisdiction {
    pub fn as_str(self) -> &'static str {
        match self {
            Jurisdiction::Nl => "nl",
            Jurisdiction::Be => "be",
        }
    }

    /// The country's ISO 3166 code (`NL`, `BE`): a phone number or an address without one is
    /// taken to be in it.
    pub fn country(self) -> &'static str {
        match self {
            Jurisdiction::Nl => "NL",
            Jurisdiction::Be => "BE",
        }
    }
}

impl fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Jurisdiction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "nl" => Ok(Jurisdiction::Nl),
            "be" => Ok(Jurisdiction::Be),
            other => Err(format!("unknown jurisdiction `{other}`; use `nl` or `be`")),
        }
    }
}

/// Easter Sunday of `year` (Gregorian calendar), by the anonymous Gregorian algorithm
/// (Meeus/Jones/Butcher). Hand-written: it is ten lines of integer arithmetic and every
/// Easter-based holiday depends on it; the tests pin it to the table in legal-reference.md §5.3.
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("computus yields a valid date")
}

/// [`easter_sunday`] from a table of the years a planner or a check asks about: the 40-year
/// scans of `dunwell check` ask for Easter millions of times, and the arithmetic was a tenth
/// of the check's time. Years outside the table are computed.
fn easter(year: i32) -> NaiveDate {
    const YEARS: std::ops::RangeInclusive<i32> = 1900..=2299;
    static TABLE: std::sync::OnceLock<Vec<NaiveDate>> = std::sync::OnceLock::new();
    match usize::try_from(year - YEARS.start()) {
        Ok(i) if YEARS.contains(&year) => TABLE.get_or_init(|| YEARS.map(easter_sunday).collect())[i],
        _ => easter_sunday(year),
    }
}

fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("fixed holiday dates are valid")
}

/// `date` moved by `days` calendar days, back when negative (a playbook step's `J+offset`).
pub fn add_days(date: NaiveDate, days: i64) -> NaiveDate {
    if days >= 0 {
        date + Days::new(days as u64)
    } else {
        date - Days::new(days.unsigned_abs())
    }
}

/// King's Day: 27 April, or 26 April when the 27th is a Sunday.
fn kings_day(year: i32) -> NaiveDate {
    let d = ymd(year, 4, 27);
    if d.weekday() == Weekday::Sun {
        ymd(year, 4, 26)
    } else {
        d
    }
}

/// The public holidays (general days off) of `jurisdiction` in `year`, with their names.
pub fn public_holidays(jurisdiction: Jurisdiction, year: i32) -> Vec<(NaiveDate, &'static str)> {
    let easter = easter_sunday(year);
    let mut days = match jurisdiction {
        Jurisdiction::Nl => vec![
            (ymd(year, 1, 1), "New Year's Day"),
            (add_days(easter, 1), "Easter Monday"),
            (kings_day(year), "King's Day"),
            (add_days(easter, 39), "Ascension Day"),
            (add_days(easter, 50), "Whit Monday"),
            (ymd(year, 12, 25), "Christmas Day"),
            (ymd(year, 12, 26), "Boxing Day"),
        ],
        Jurisdiction::Be => vec![
            (ymd(year, 1, 1), "New Year's Day"),
            (add_days(easter, 1), "Easter Monday"),
            (ymd(year, 5, 1), "Labour Day"),
            (add_days(easter, 39), "Ascension Day"),
            (add_days(easter, 50), "Whit Monday"),
            (ymd(year, 7, 21), "National Day"),
            (ymd(year, 8, 15), "Assumption Day"),
            (ymd(year, 11, 1), "All Saints' Day"),
            (ymd(year, 11, 11), "Armistice Day"),
            (ymd(year, 12, 25), "Christmas Day"),
        ],
    };
    days.sort();
    days
}

/// The working-day calendar the planner uses: Monday to Friday, minus the jurisdiction's
/// public holidays, minus configured closing days.
#[derive(Debug, Clone)]
pub struct Calendar {
    jurisdiction: Jurisdiction,
    closing_days: BTreeSet<NaiveDate>,
}

impl Calendar {
    pub fn new(jurisdiction: Jurisdiction, closing_days: impl IntoIterator<Item = NaiveDate>) -> Self {
        Calendar { jurisdiction, closing_days: closing_days.into_iter().collect() }
    }

    pub fn jurisdiction(&self) -> Jurisdiction {
        self.jurisdiction
    }

    /// The name of the holiday or closing day on `date`, if any (weekends are not named).
    pub fn closed_because(&self, date: NaiveDate) -> Option<&'static str> {
        if self.closing_days.contains(&date) {
            return Some("closing day");
        }
        holiday_name(self.jurisdiction, date)
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && self.closed_because(date).is_none()
    }

    /// The first working day on or after `date`.
    pub fn working_day_on_or_after(&self, mut date: NaiveDate) -> NaiveDate {
        while !self.is_working_day(date) {
            date = date.succ_opt().expect("date within chrono's range");
        }
        date
    }

    /// Whether `date` is a day on which a statutory term may not end under the Dutch Algemene
    /// termijnenwet: Saturday, Sunday, the NL public holidays, Good Friday and 5 May.
    pub fn is_atw_holiday(date: NaiveDate) -> bool {
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            return true;
        }
        // Good Friday falls between 20 March and 23 April.
        (matches!(date.month(), 3 | 4) && date == add_days(easter(date.year()), -2))
            || (date.month() == 5 && date.day() == 5)
            || holiday_name(Jurisdiction::Nl, date).is_some()
    }
}

/// The public holiday on `date`, without building the year's list: the planner asks this for
/// millions of dates, so it must not allocate.
fn holiday_name(jurisdiction: Jurisdiction, date: NaiveDate) -> Option<&'static str> {
    let (m, d) = (date.month(), date.day());
    let fixed = match (jurisdiction, m, d) {
        (_, 1, 1) => Some("New Year's Day"),
        (_, 12, 25) => Some("Christmas Day"),
        (Jurisdiction::Nl, 12, 26) => Some("Boxing Day"),
        (Jurisdiction::Be, 5, 1) => Some("Labour Day"),
        (Jurisdiction::Be, 7, 21) => Some("National Day"),
        (Jurisdiction::Be, 8, 15) => Some("Assumption Day"),
        (Jurisdiction::Be, 11, 1) => Some("All Saints' Day"),
        (Jurisdiction::Be, 11, 11) => Some("Armistice Day"),
        (Jurisdiction::Nl, 4, 26 | 27) if date == kings_day(date.year()) => Some("King's Day"),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    // Easter-based days fall between 23 March and 14 June.
    if !(3..=6).contains(&m) {
        return None;
    }
    match (date - easter(date.year())).num_days() {
        1 => Some("Easter Monday"),
        39 => Some("Ascension Day"),
        50 => Some("Whit Monday"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_easter_table_is_the_computus_and_good_friday_falls_in_march_or_april() {
        for year in 1583..=2600 {
            let sunday = easter_sunday(year);
            assert_eq!(easter(year), sunday, "{year}");
            // is_atw_holiday only looks for Good Friday in these months.
            assert!(matches!(add_days(sunday, -2).month(), 3 | 4), "{year}");
            assert!(Calendar::is_atw_holiday(add_days(sunday, -2)), "{year}");
        }
    }

    #[test]
    fn easter_matches_reference_table() {
        // legal-reference.md §5.3
        assert_eq!(easter_sunday(2023), d("2023-04-09"));
        assert_eq!(easter_sunday(2024), d("2024-03-31"));
        assert_eq!(easter_sunday(2025), d("2025-04-20"));
        assert_eq!(easter_sunday(2026), d("2026-04-05"));
        assert_eq!(easter_sunday(2027), d("2027-03-28"));
        // Known extremes of the Gregorian computus.
        assert_eq!(easter_sunday(2285), d("2285-03-22"));
        assert_eq!(easter_sunday(2038), d("2038-04-25"));
    }

    #[test]
    fn kings_day_moves_to_saturday_when_27_april_is_sunday() {
        assert_eq!(kings_day(2025), d("2025-04-26"));
        assert_eq!(kings_day(2026), d("2026-04-27"));
        let nl = Calendar::new(Jurisdiction::Nl, []);
        assert!(!nl.is_working_day(d("2026-04-27")));
        assert!(nl.is_working_day(d("2026-04-28")));
        // 2025-04-26 is a Saturday anyway; 2025-04-28 (Monday) is an ordinary working day.
        assert_eq!(nl.closed_because(d("2025-04-26")), Some("King's Day"));
        assert!(nl.is_working_day(d("2025-04-28")));
    }

    #[test]
    fn nl_and_be_holidays_2026() {
        let nl = Calendar::new(Jurisdiction::Nl, []);
        let be = Calendar::new(Jurisdiction::Be, []);
        for day in ["2026-01-01", "2026-04-06", "2026-05-14", "2026-05-25", "2026-12-25"] {
            assert!(!nl.is_working_day(d(day)), "{day} closed in nl");
            assert!(!be.is_working_day(d(day)), "{day} closed in be");
        }
        // NL only
        assert!(!nl.is_working_day(d("2026-04-27")));
        assert!(be.is_working_day(d("2026-04-27")));
        assert!(!nl.is_working_day(d("2026-12-26")) && d("2026-12-26").weekday() == Weekday::Sat);
        assert!(!nl.is_working_day(d("2025-12-26")));
        assert!(be.is_working_day(d("2025-12-26")));
        // BE only
        for day in ["2026-05-01", "2026-07-21", "2025-08-15", "2024-11-01", "2026-11-11"] {
            assert!(!be.is_working_day(d(day)), "{day} closed in be");
            assert!(nl.is_working_day(d(day)), "{day} open in nl");
        }
        // Good Friday is a working day in both.
        assert!(nl.is_working_day(d("2026-04-03")));
        assert!(be.is_working_day(d("2026-04-03")));
        assert_eq!(public_holidays(Jurisdiction::Nl, 2026).len(), 7);
        assert_eq!(public_holidays(Jurisdiction::Be, 2026).len(), 10);
        for (day, name) in public_holidays(Jurisdiction::Be, 2027) {
            assert_eq!(holiday_name(Jurisdiction::Be, day), Some(name));
        }
        for (day, name) in public_holidays(Jurisdiction::Nl, 2025) {
            assert_eq!(holiday_name(Jurisdiction::Nl, day), Some(name));
        }
    }

    #[test]
    fn weekends_and_closing_days_shift_to_next_working_day() {
        let cal = Calendar::new(Jurisdiction::Nl, [d("2026-12-28")]);
        // Christmas 2026 is a Friday; Sat, Sun, then the configured closing day Monday.
        assert_eq!(cal.working_day_on_or_after(d("2026-12-25")), d("2026-12-29"));
        assert_eq!(cal.working_day_on_or_after(d("2026-11-28")), d("2026-11-30"));
        assert_eq!(cal.working_day_on_or_after(d("2026-11-26")), d("2026-11-26"));
        // Easter weekend 2026: Sat 4, Sun 5, Mon 6 (Easter Monday).
        assert_eq!(cal.working_day_on_or_after(d("2026-04-04")), d("2026-04-07"));
    }

    #[test]
    fn atw_counts_good_friday_and_5_may() {
        assert!(Calendar::is_atw_holiday(d("2026-04-03")));
        assert!(Calendar::is_atw_holiday(d("2026-05-05")));
        assert!(Calendar::is_atw_holiday(d("2026-04-27")));
        assert!(Calendar::is_atw_holiday(d("2026-11-28")));
        assert!(!Calendar::is_atw_holiday(d("2026-05-06")));
    }
}
