//! Statutory interest: NL wettelijke handelsrente (art. 6:119a BW) and wettelijke rente
//! (art. 6:119 BW), both capitalised yearly; BE late-payment interest for commercial
//! transactions (Wet 2 augustus 2002), simple.
//!
//! Conventions (see also the module docs of [`crate::law`]):
//! interest runs from the day after the due date through the payment date; each day earns
//! 1/365 of the yearly rate in force that day (leap years included); a rate change splits a
//! period; NL capitalisation adds the year's interest, rounded half-up to cents, to the base on
//! each anniversary of the first interest day; the total is rounded half-up to cents at the end.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;

use super::rates::{Confidence, RateKind, Rates, Region, SeriesKey, BE_NEW_CONTRACTS, BE_OLD_CONTRACTS};
use super::{percent, round_cents, ser_4dp, ser_money, LawError};
use crate::calendar::Jurisdiction;

/// Commercial (B2B) or consumer (non-commercial) interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InterestKind {
    Commercial,
    Consumer,
}

impl InterestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InterestKind::Commercial => "commercial",
            InterestKind::Consumer => "consumer",
        }
    }

    /// Business customers get commercial interest, consumers the non-commercial kind.
    pub fn for_customer(kind: crate::model::CustomerKind) -> Self {
        match kind {
            crate::model::CustomerKind::B2b => InterestKind::Commercial,
            crate::model::CustomerKind::B2c => InterestKind::Consumer,
        }
    }
}

impl fmt::Display for InterestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InterestKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "commercial" | "b2b" => Ok(InterestKind::Commercial),
            "consumer" | "b2c" => Ok(InterestKind::Consumer),
            other => Err(format!("`{other}` is not an interest kind; use `commercial` or `consumer`")),
        }
    }
}

/// Which statutory interest applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterestBasis {
    pub jurisdiction: Jurisdiction,
    pub kind: InterestKind,
    /// BE only: contracts concluded before 2013-03-16 keep the old (ECB + 7) series through
    /// 2015-03-15. `None` means a contract from 2013-03-16 on.
    pub contract_date: Option<NaiveDate>,
}

const BE_REGIME_CHANGE: (i32, u32, u32) = (2013, 3, 16);
const BE_OLD_REGIME_END: (i32, u32, u32) = (2015, 3, 15);

fn ymd((y, m, d): (i32, u32, u32)) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("constant date is valid")
}

impl InterestBasis {
    pub fn new(jurisdiction: Jurisdiction, kind: InterestKind) -> Self {
        InterestBasis { jurisdiction, kind, contract_date: None }
    }

    /// NL interest is capitalised yearly (6:119 lid 2, 6:119a lid 3); BE interest is simple.
    pub fn compounds(&self) -> bool {
        self.jurisdiction == Jurisdiction::Nl
    }

    /// The rate series in force on `day`.
    pub fn series_on(&self, day: NaiveDate) -> SeriesKey {
        match (self.jurisdiction, self.kind) {
            (Jurisdiction::Nl, InterestKind::Commercial) => {
                SeriesKey::new(Region::Nl, RateKind::StatutoryCommercial, None)
            }
            (Jurisdiction::Nl, InterestKind::Consumer) => {
                SeriesKey::new(Region::Nl, RateKind::StatutoryConsumer, None)
            }
            (Jurisdiction::Be, _) => {
                let old_contract = self.contract_date.is_some_and(|c| c < ymd(BE_REGIME_CHANGE));
                let old = day < ymd(BE_REGIME_CHANGE) || (old_contract && day <= ymd(BE_OLD_REGIME_END));
                let applies = if old { BE_OLD_CONTRACTS } else { BE_NEW_CONTRACTS };
                SeriesKey::new(Region::Be, RateKind::Commercial, Some(applies))
            }
        }
    }

    /// Human-readable statement of the rule applied.
    pub fn rule(&self) -> String {
        match (self.jurisdiction, self.kind) {
            (Jurisdiction::Nl, InterestKind::Commercial) => {
                "NL wettelijke handelsrente (art. 6:119a BW), capitalised yearly on each anniversary of the first interest day".into()
            }
            (Jurisdiction::Nl, InterestKind::Consumer) => {
                "NL wettelijke rente (art. 6:119 BW), capitalised yearly on each anniversary of the first interest day".into()
            }
            (Jurisdiction::Be, InterestKind::Commercial) => {
                "BE interest for late payment in commercial transactions (Wet 2 augustus 2002), simple interest".into()
            }
            (Jurisdiction::Be, InterestKind::Consumer) => {
                "BE consumer debt (Boek XIX WER): the legal maximum, the Wet 2 augustus 2002 rate, simple interest; only if the contract stipulates interest, and only after the free first reminder and its 14-day wait".into()
            }
        }
    }
}

/// One stretch of days with the same rate and base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// First day (inclusive).
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    pub days: i64,
    /// Yearly rate as a fraction.
    pub rate: Decimal,
    #[serde(serialize_with = "ser_money")]
    pub base: Decimal,
    /// Unrounded (`base * rate * days / 365`); JSON shows 4 decimals.
    #[serde(serialize_with = "ser_4dp")]
    pub amount: Decimal,
    pub confidence: Confidence,
}

/// A yearly capitalisation: on `date` the base grew by `amount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capitalisation {
    pub date: NaiveDate,
    #[serde(serialize_with = "ser_money")]
    pub amount: Decimal,
    #[serde(serialize_with = "ser_money")]
    pub new_base: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterestResult {
    pub jurisdiction: Jurisdiction,
    pub kind: InterestKind,
    pub rule: String,
    #[serde(serialize_with = "ser_money")]
    pub principal: Decimal,
    pub due_date: NaiveDate,
    pub paid_date: NaiveDate,
    /// Number of interest days (`paid_date - due_date`, at least 0).
    pub days: i64,
    /// Total interest, rounded half-up to cents.
    #[serde(serialize_with = "ser_money")]
    pub interest: Decimal,
    pub periods: Vec<Period>,
    pub capitalisations: Vec<Capitalisation>,
    /// Low-confidence rates used, rates beyond the table, and similar caveats.
    pub warnings: Vec<String>,
}

/// The n-th anniversary of `start` (n >= 1). A year that starts on 29 February ends on
/// 28 February, so its anniversary in a common year is 1 March.
pub fn anniversary(start: NaiveDate, n: u32) -> NaiveDate {
    let a = start.checked_add_months(Months::new(12 * n)).expect("anniversary within chrono's date range");
    if a.day() != start.day() {
        a.succ_opt().expect("date within range")
    } else {
        a
    }
}

/// What [`Accrual::run`] stopped for.
pub(crate) enum Stop {
    /// Accrued through the requested day.
    Done,
    /// The next day to accrue is an anniversary: capitalise, call
    /// [`Accrual::capitalised`], then run again.
    Anniversary(NaiveDate),
}

/// The day-by-day interest engine shared by [`compute_interest`] and [`crate::law::owed()`]:
/// it walks forward from the first interest day, splitting at rate changes and anniversaries,
/// and leaves what happens to the base (capitalisation, payments) to its caller.
pub(crate) struct Accrual<'r> {
    rates: &'r Rates,
    basis: InterestBasis,
    first_day: NaiveDate,
    /// The next day that has not earned interest yet.
    cursor: NaiveDate,
    years_done: u32,
    pub periods: Vec<Period>,
    /// Caveats about the rates used, kept as facts and worded only when asked for: the planner
    /// runs this hundreds of thousands of times and rarely shows the words.
    caveats: BTreeSet<Caveat>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Caveat {
    LowConfidence { key: SeriesKey, start: NaiveDate, rate: Decimal },
    BeyondTable { key: SeriesKey, covered: NaiveDate, newest_start: NaiveDate, rate: Decimal },
}

impl fmt::Display for Caveat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caveat::LowConfidence { key, start, rate } => write!(
                f,
                "the {key} rate of {} from {start} is low confidence (derived or from a single unverified source); check it before relying on the amount",
                percent(*rate)
            ),
            Caveat::BeyondTable { key, covered, newest_start, rate } => write!(
                f,
                "the table has no {key} rate for days from {covered}; the rate from {newest_start} ({}) was used. Add the newer rate to a rate override file",
                percent(*rate)
            ),
        }
    }
}

impl<'r> Accrual<'r> {
    pub fn new(rates: &'r Rates, basis: InterestBasis, first_day: NaiveDate) -> Self {
        Accrual {
            rates,
            basis,
            first_day,
            cursor: first_day,
            years_done: 0,
            periods: Vec::new(),
            caveats: BTreeSet::new(),
        }
    }

    fn next_anniversary(&self) -> Option<NaiveDate> {
        self.basis.compounds().then(|| anniversary(self.first_day, self.years_done + 1))
    }

    /// Call after capitalising at the anniversary [`Stop::Anniversary`] reported.
    pub fn capitalised(&mut self) {
        self.years_done += 1;
    }

    pub fn warnings(&self) -> Vec<String> {
        self.caveats.iter().map(ToString::to_string).collect()
    }

    /// Accrues interest on `base` for the days from the cursor through `through`, adding the
    /// exact amounts to `acc`, and stops early before an anniversary.
    pub fn run(&mut self, through: NaiveDate, base: Decimal, acc: &mut Decimal) -> Result<Stop, LawError> {
        let days_per_year = Decimal::from(365);
        while self.cursor <= through {
            let anniv = self.next_anniversary();
            if anniv == Some(self.cursor) {
                return Ok(Stop::Anniversary(self.cursor));
            }
            let day = self.cursor;
            let key = self.basis.series_on(day);
            let period = self.rates.require_period_on(&key, day)?;
            let mut boundary = self.rates.next_change_after(&key, day);
            if self.basis.jurisdiction == Jurisdiction::Be {
                for switch in [ymd(BE_REGIME_CHANGE), ymd(BE_OLD_REGIME_END).succ_opt().expect("valid")] {
                    if switch > day && self.basis.series_on(switch) != key {
                        boundary = Some(boundary.map_or(switch, |b| b.min(switch)));
                    }
                }
            }
            let mut to = through;
            for limit in [boundary, anniv].into_iter().flatten() {
                let before = limit.pred_opt().expect("date within range");
                to = to.min(before);
            }
            let days = (to - day).num_days() + 1;
            let amount = base * period.rate * Decimal::from(days) / days_per_year;
            *acc += amount;
            self.note_caveats(&key, period.start, period.confidence, period.rate, to);
            self.periods.push(Period {
                from: day,
                to,
                days,
                rate: period.rate,
                base,
                amount,
                confidence: period.confidence,
            });
            self.cursor = to.succ_opt().expect("date within range");
        }
        Ok(Stop::Done)
    }

    fn note_caveats(
        &mut self,
        key: &SeriesKey,
        start: NaiveDate,
        confidence: Confidence,
        rate: Decimal,
        to: NaiveDate,
    ) {
        if confidence == Confidence::Low {
            self.caveats.insert(Caveat::LowConfidence { key: key.clone(), start, rate });
        }
        let newest = self.rates.periods(key).last().map(|p| (p.start, p.end));
        if let Some((newest_start, None)) = newest {
            if start == newest_start {
                if let Some(covered) = newest_start.checked_add_months(Months::new(6)) {
                    if to >= covered {
                        self.caveats.insert(Caveat::BeyondTable {
                            key: key.clone(),
                            covered,
                            newest_start,
                            rate,
                        });
                    }
                }
            }
        }
    }
}

/// Statutory interest on `principal` for a payment on `paid_date` of a claim due on `due_date`.
pub fn compute_interest(
    rates: &Rates,
    jurisdiction: Jurisdiction,
    kind: InterestKind,
    principal: Decimal,
    due_date: NaiveDate,
    paid_date: NaiveDate,
) -> Result<InterestResult, LawError> {
    compute_interest_with(rates, &InterestBasis::new(jurisdiction, kind), principal, due_date, paid_date)
}

/// [`compute_interest`] with the full [`InterestBasis`] (BE contract date).
pub fn compute_interest_with(
    rates: &Rates,
    basis: &InterestBasis,
    principal: Decimal,
    due_date: NaiveDate,
    paid_date: NaiveDate,
) -> Result<InterestResult, LawError> {
    if principal.is_sign_negative() && !principal.is_zero() {
        return Err(LawError::Negative { what: "the principal", amount: principal });
    }
    let first_day = due_date
        .succ_opt()
        .ok_or_else(|| LawError::Invalid(format!("due date {due_date} is out of range")))?;
    let mut acc = Accrual::new(rates, *basis, first_day);
    let mut base = principal;
    let mut exact = Decimal::ZERO;
    let mut total = Decimal::ZERO;
    let mut capitalisations = Vec::new();
    loop {
        match acc.run(paid_date, base, &mut exact)? {
            Stop::Done => break,
            Stop::Anniversary(date) => {
                let year = round_cents(exact);
                total += year;
                base += year;
                exact = Decimal::ZERO;
                capitalisations.push(Capitalisation { date, amount: year, new_base: base });
                acc.capitalised();
            }
        }
    }
    total = round_cents(total + round_cents(exact));
    let mut warnings = acc.warnings();
    if paid_date <= due_date {
        warnings.push(format!("paid on {paid_date}, not after the due date {due_date}: no interest"));
    }
    Ok(InterestResult {
        jurisdiction: basis.jurisdiction,
        kind: basis.kind,
        rule: basis.rule(),
        principal,
        due_date,
        paid_date,
        days: (paid_date - due_date).num_days().max(0),
        interest: total,
        periods: acc.periods,
        capitalisations,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::law::round_4;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }
    fn rates() -> Rates {
        Rates::shipped().unwrap()
    }
    /// [`compute_interest`] with the amount and dates written as text.
    fn interest(
        rates: &Rates,
        jurisdiction: Jurisdiction,
        kind: InterestKind,
        principal: &str,
        due: &str,
        paid: &str,
    ) -> Result<InterestResult, LawError> {
        compute_interest(rates, jurisdiction, kind, dec(principal), d(due), d(paid))
    }
    fn nl_c(principal: &str, due: &str, paid: &str) -> InterestResult {
        interest(&rates(), Jurisdiction::Nl, InterestKind::Commercial, principal, due, paid).unwrap()
    }

    /// Rates with a flat 8% NL commercial series from 2000, for
    /// convention tests that should not depend on the real table.
    fn flat_rates() -> Rates {
        let over = r#"
[[rate]]
jurisdiction = "NL"
kind = "statutory_commercial"
start = "2000-01-01"
rate = "0.08"
confidence = "high"
source = "test"
"#;
        let shipped = crate::law::rates::SHIPPED_RATES;
        // Drop every shipped NL commercial row by building the series from the override only.
        let filtered: String = {
            let mut out = String::new();
            for block in shipped.split("\n[[rate]]") {
                if block.contains("kind = \"statutory_commercial\"") {
                    continue;
                }
                if !out.is_empty() {
                    out.push_str("\n[[rate]]");
                }
                out.push_str(block);
            }
            out
        };
        Rates::from_sources(&[("filtered", &filtered), ("flat", over)]).unwrap()
    }

    #[test]
    fn v10_nl_commercial_90_days() {
        // Vector V10 [M]: 5,000 x 10.15% x 90/365 = 125.1370 -> 125.14
        let r = nl_c("5000.00", "2025-09-30", "2025-12-29");
        assert_eq!(r.days, 90);
        assert_eq!(r.periods.len(), 1);
        assert_eq!(round_4(r.periods[0].amount), dec("125.1370"));
        assert_eq!(r.interest, dec("125.14"));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn v11_rate_change_on_1_january() {
        // Vector V11 [M]: 31 d x 12.25% + 59 d x 11.15% = 104.0411 + 180.2329 -> 284.27 (act/365)
        let r = nl_c("10000.00", "2024-11-30", "2025-02-28");
        assert_eq!(r.periods.len(), 2);
        let (a, b) = (&r.periods[0], &r.periods[1]);
        assert_eq!((a.from, a.to, a.days, a.rate), (d("2024-12-01"), d("2024-12-31"), 31, dec("0.1225")));
        assert_eq!((b.from, b.to, b.days, b.rate), (d("2025-01-01"), d("2025-02-28"), 59, dec("0.1115")));
        assert_eq!(round_4(a.amount), dec("104.0411"));
        assert_eq!(round_4(b.amount), dec("180.2329"));
        assert_eq!(r.interest, dec("284.27"));
    }

    #[test]
    fn v12_nl_commercial_capitalised_yearly() {
        // Vector V12 [H rule / M rate]: 800.00 capitalised, then 864.00 -> 1,664.00
        let r = nl_c("10000.00", "2016-06-30", "2018-06-30");
        assert_eq!(r.days, 730);
        assert_eq!(r.capitalisations.len(), 1);
        assert_eq!(r.capitalisations[0].date, d("2017-07-01"));
        assert_eq!(r.capitalisations[0].amount, dec("800.00"));
        assert_eq!(r.capitalisations[0].new_base, dec("10800.00"));
        assert_eq!(r.periods.len(), 2);
        assert_eq!(r.periods[1].base, dec("10800.00"));
        assert_eq!(r.interest, dec("1664.00"));
    }

    #[test]
    fn v13_nl_consumer_capitalised_with_rate_changes_and_leap_year() {
        // Vector V13 [M]: yr 1 29.92 -> 1,029.92; yr 2 67.10; total 97.02 (act/365, 2024 has 366 days of 1/365)
        let r = interest(
            &rates(),
            Jurisdiction::Nl,
            InterestKind::Consumer,
            "1000.00",
            "2022-06-30",
            "2024-06-30",
        )
        .unwrap();
        let days: Vec<(i64, Decimal)> = r.periods.iter().map(|p| (p.days, p.rate)).collect();
        assert_eq!(
            days,
            vec![(184, dec("0.02")), (181, dec("0.04")), (184, dec("0.06")), (182, dec("0.07"))]
        );
        assert_eq!(r.capitalisations.len(), 1);
        assert_eq!(r.capitalisations[0].amount, dec("29.92"));
        assert_eq!(r.capitalisations[0].new_base, dec("1029.92"));
        assert_eq!(r.interest, dec("97.02"));
    }

    #[test]
    fn v18_be_commercial_simple() {
        // Vector V18 [M]: 91 d x 10.5% + 92 d x 12.0% = 26.1781 + 30.2466 = 56.4247 -> 56.42
        let r = interest(
            &rates(),
            Jurisdiction::Be,
            InterestKind::Commercial,
            "1000.00",
            "2023-03-31",
            "2023-09-30",
        )
        .unwrap();
        assert_eq!(r.periods.len(), 2);
        assert_eq!((r.periods[0].days, r.periods[1].days), (91, 92));
        assert_eq!(round_4(r.periods[0].amount), dec("26.1781"));
        assert_eq!(round_4(r.periods[1].amount), dec("30.2466"));
        assert_eq!(r.interest, dec("56.42"));
        assert!(r.capitalisations.is_empty());
    }

    #[test]
    fn v21_be_and_nl_rates_2025_h1() {
        // Vector V21 [L BE / M NL]: BE 11.5%, NL 11.15% in 2025-H1
        let r = rates();
        let be = InterestBasis::new(Jurisdiction::Be, InterestKind::Commercial);
        let nl = InterestBasis::new(Jurisdiction::Nl, InterestKind::Commercial);
        assert_eq!(r.period_on(&be.series_on(d("2025-03-01")), d("2025-03-01")).unwrap().rate, dec("0.115"));
        assert_eq!(r.period_on(&nl.series_on(d("2025-03-01")), d("2025-03-01")).unwrap().rate, dec("0.1115"));
    }

    #[test]
    fn capitalisation_anniversary_day_before_and_after() {
        let r = flat_rates();
        let run = |paid: &str| {
            interest(&r, Jurisdiction::Nl, InterestKind::Commercial, "10000", "2016-06-30", paid).unwrap()
        };
        // Day before the anniversary: a full year, not capitalised, 800.00.
        let before = run("2017-06-30");
        assert!(before.capitalisations.is_empty());
        assert_eq!(before.interest, dec("800.00"));
        // On the anniversary: capitalised, plus one day on 10,800.
        let on = run("2017-07-01");
        assert_eq!(on.capitalisations.len(), 1);
        // 800 + 10800 * 0.08 / 365 = 800 + 2.3671 = 802.37
        assert_eq!(on.interest, dec("802.37"));
        // Day after: two days on 10,800 = 4.7342 -> 804.73
        assert_eq!(run("2017-07-02").interest, dec("804.73"));
        // Simple interest would be 800 + 2 x 2.1918 = 804.38.
    }

    #[test]
    fn leap_year_days_earn_one_365th() {
        let r = flat_rates();
        // 2024-01-01 .. 2024-12-31 is 366 days at 8%/365 on 10,000: 802.1918 -> 802.19
        let res =
            interest(&r, Jurisdiction::Nl, InterestKind::Commercial, "10000", "2023-12-31", "2024-12-31")
                .unwrap();
        assert_eq!(res.days, 366);
        // The anniversary is 2025-01-01, after the payment: no capitalisation, no 1/366 basis.
        assert!(res.capitalisations.is_empty());
        assert_eq!(res.interest, dec("802.19"));
    }

    #[test]
    fn year_starting_29_february_ends_28_february() {
        assert_eq!(anniversary(d("2024-02-29"), 1), d("2025-03-01"));
        assert_eq!(anniversary(d("2024-02-29"), 4), d("2028-02-29"));
        assert_eq!(anniversary(d("2016-07-01"), 2), d("2018-07-01"));
        let r = flat_rates();
        let res =
            interest(&r, Jurisdiction::Nl, InterestKind::Commercial, "10000", "2024-02-28", "2025-03-01")
                .unwrap();
        assert_eq!(res.capitalisations[0].date, d("2025-03-01"));
        // 2024-02-29 .. 2025-02-28 is 366 days: 802.19 capitalised, then 1 day on 10,802.19.
        assert_eq!(res.capitalisations[0].amount, dec("802.19"));
        assert_eq!(res.periods[0].days, 366);
        // 802.19 + 10802.19 x 0.08 / 365 (2.3676) = 804.56
        assert_eq!(res.interest, dec("804.56"));
    }

    #[test]
    fn rate_change_inside_a_period_splits_it() {
        // NL commercial 2023-06-30 -> 2023-07-01 change 10.5% -> 12%.
        let r = nl_c("1000.00", "2023-06-29", "2023-07-01");
        assert_eq!(r.periods.len(), 2);
        assert_eq!((r.periods[0].to, r.periods[0].rate), (d("2023-06-30"), dec("0.105")));
        assert_eq!((r.periods[1].from, r.periods[1].rate), (d("2023-07-01"), dec("0.12")));
        // 1000*(0.105+0.12)/365 = 0.6164 -> 0.62
        assert_eq!(r.interest, dec("0.62"));
        // Payment on the last day before the change: one period only.
        assert_eq!(nl_c("1000.00", "2023-06-29", "2023-06-30").periods.len(), 1);
    }

    #[test]
    fn be_old_contracts_keep_old_series_until_15_march_2015() {
        let basis = InterestBasis {
            jurisdiction: Jurisdiction::Be,
            kind: InterestKind::Commercial,
            contract_date: Some(d("2012-05-01")),
        };
        let res =
            compute_interest_with(&rates(), &basis, dec("1000"), d("2015-03-14"), d("2015-03-17")).unwrap();
        let rates_used: Vec<Decimal> = res.periods.iter().map(|p| p.rate).collect();
        assert_eq!(rates_used, vec![dec("0.075"), dec("0.085")]);
        assert_eq!(res.periods[0].to, d("2015-03-15"));
        let new = interest(
            &rates(),
            Jurisdiction::Be,
            InterestKind::Commercial,
            "1000",
            "2015-03-14",
            "2015-03-17",
        )
        .unwrap();
        assert_eq!(new.periods.len(), 1);
        assert_eq!(new.periods[0].rate, dec("0.085"));
    }

    #[test]
    fn paid_on_time_earns_nothing_and_caveats_are_reported() {
        let r = nl_c("1000.00", "2025-09-30", "2025-09-30");
        assert_eq!(r.interest, dec("0.00"));
        assert!(r.periods.is_empty());
        let late = nl_c("1000.00", "2025-12-31", "2026-08-01");
        assert!(late.warnings.iter().any(|w| w.contains("low confidence")), "{:?}", late.warnings);
        assert!(
            late.warnings
                .iter()
                .any(|w| w.contains("no NL statutory_commercial rate for days from 2026-07-01")),
            "{:?}",
            late.warnings
        );
        let err =
            interest(&rates(), Jurisdiction::Nl, InterestKind::Commercial, "1", "2005-01-01", "2005-02-01")
                .unwrap_err();
        assert!(err.to_string().contains("no NL statutory_commercial rate is known for 2005-01-02"), "{err}");
        assert!(interest(
            &rates(),
            Jurisdiction::Nl,
            InterestKind::Commercial,
            "-1",
            "2025-01-01",
            "2025-02-01"
        )
        .is_err());
    }

    #[test]
    fn json_has_decimal_strings() {
        let r = nl_c("5000", "2025-09-30", "2025-12-29");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["interest"], "125.14");
        assert_eq!(v["principal"], "5000.00");
        assert_eq!(v["periods"][0]["amount"], "125.1370");
        assert_eq!(v["periods"][0]["rate"], "0.1015");
        assert_eq!(v["periods"][0]["from"], "2025-10-01");
        assert_eq!(v["periods"][0]["days"], 90);
    }
}
