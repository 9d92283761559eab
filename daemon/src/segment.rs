//! Sorting customers into segments by how they pay.
//!
//! `segment_all` is a pure function of the customers, their invoices, broken promises, the
//! rules of `playbooks/segments.toml` and a date: the same inputs always give the same
//! segments, which is what lets `dunwell plan --at` show the future and lets tests pin every
//! threshold from both sides. Each result carries the indicator values behind it and one
//! sentence a person understands.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::str::FromStr;

use chrono::{Months, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};

use crate::location::{Location, Problem};
use crate::model::{Customer, Invoice};

pub const BAD_PAYER: &str = "bad-payer";
pub const VIP: &str = "vip";

/// The thresholds of the default segmentation rules (`playbooks/segments.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentRules {
    /// How far back invoices are looked at, in calendar months.
    pub window_months: u32,
    /// Fewer counting invoices than this: too little history, the default segment.
    pub min_counting_invoices: u32,
    /// The segment for everyone the rules do not single out.
    pub default: String,
    #[serde(rename = "bad-payer")]
    pub bad_payer: BadPayerRules,
    pub vip: VipRules,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BadPayerRules {
    pub late_days: u32,
    #[serde(deserialize_with = "share")]
    pub late_share: Decimal,
    pub broken_promises: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VipRules {
    pub customer_years: u32,
    pub late_days: u32,
    #[serde(deserialize_with = "share")]
    pub max_late_share: Decimal,
}

/// A fraction between 0 and 1, written as a TOML number (`0.30`) or string (`"0.30"`).
/// Floats are read back through their shortest decimal form, so `0.30` is exactly 0.3 and a
/// customer with 3 late of 10 invoices is a bad payer, as the user meant.
fn share<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(i64),
        Float(f64),
        Text(String),
    }
    let value = match Raw::deserialize(d)? {
        Raw::Int(i) => Decimal::from(i),
        Raw::Float(f) => Decimal::from_str(&f.to_string()).map_err(serde::de::Error::custom)?,
        Raw::Text(s) => Decimal::from_str(s.trim()).map_err(serde::de::Error::custom)?,
    };
    if value < Decimal::ZERO || value > Decimal::ONE {
        return Err(serde::de::Error::custom(format!(
            "a share must be between 0 and 1 (0.30 means 30%), not {value}"
        )));
    }
    Ok(value)
}

impl Default for SegmentRules {
    /// The rules of DESIGN.md; the shipped segments.toml states the same values.
    fn default() -> Self {
        SegmentRules {
            window_months: 24,
            min_counting_invoices: 3,
            default: "standard".into(),
            bad_payer: BadPayerRules { late_days: 15, late_share: Decimal::new(30, 2), broken_promises: 2 },
            vip: VipRules { customer_years: 3, late_days: 0, max_late_share: Decimal::new(10, 2) },
        }
    }
}

impl SegmentRules {
    pub fn parse(path: &Path, text: &str) -> Result<SegmentRules, Problem> {
        let rules: SegmentRules = toml::from_str(text).map_err(|e| Problem::from_toml(path, text, &e))?;
        if rules.window_months == 0 {
            return Err(Problem::new(Location::file(path), "window_months must be at least 1"));
        }
        if rules.default.trim().is_empty() {
            return Err(Problem::new(Location::file(path), "default must name a segment"));
        }
        Ok(rules)
    }

    /// Every segment these rules can assign.
    pub fn segment_names(&self) -> BTreeSet<String> {
        [self.default.clone(), BAD_PAYER.to_string(), VIP.to_string()].into_iter().collect()
    }
}

/// Which rule decided a customer's segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    Manual,
    TooLittleHistory,
    BadPayerLate,
    BadPayerPromises,
    Vip,
    Default,
}

/// The figures behind a customer's segment, over the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Indicators {
    /// Invoices issued in the window.
    pub invoices_in_window: u32,
    /// Of those, the ones whose due date is before the evaluation date.
    pub counting_invoices: u32,
    /// Counting invoices late by more than the bad-payer `late_days`.
    pub late_bad_payer: u32,
    /// Counting invoices late by more than the vip `late_days`.
    pub late_vip: u32,
    pub broken_promises: u32,
    /// Mean days between due date and payment (or the evaluation date while open), over
    /// counting invoices whose timing is known; negative means paid early on average.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub avg_days_late: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub mean_invoice_total: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str_option")]
    pub portfolio_mean_total: Option<Decimal>,
    pub customer_since: Option<NaiveDate>,
    pub open_invoices: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segmentation {
    pub customer_id: String,
    pub segment: String,
    pub rule: Rule,
    pub indicators: Indicators,
    pub reason: String,
}

#[derive(Default, Clone)]
struct Acc {
    in_window: u32,
    counting: u32,
    late_bad: u32,
    late_vip: u32,
    timed: u32,
    days_sum: i64,
    total_sum: Decimal,
    open: u32,
    promises: u32,
}

/// Days between the due date and the day the invoice stopped being open, as seen at `at`;
/// `None` when it was paid but nobody knows when (counts as on time).
fn days_late(inv: &Invoice, at: NaiveDate) -> Option<i64> {
    let end = match inv.paid_date {
        Some(paid) => paid.min(at),
        None if inv.is_open() => at,
        None => return None,
    };
    Some((end - inv.due_date).num_days())
}

fn months_before(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_sub_months(Months::new(months)).unwrap_or(NaiveDate::MIN)
}

fn percent(part: u32, whole: u32) -> String {
    if whole == 0 {
        return "0%".into();
    }
    let p = (Decimal::from(part) * Decimal::ONE_HUNDRED / Decimal::from(whole)).round();
    format!("{p}%")
}

fn share_percent(share: Decimal) -> String {
    format!("{}%", (share * Decimal::ONE_HUNDRED).normalize())
}

/// Segments every customer at `at`. Invoices with a total of zero or less (credit notes) say
/// nothing about how a customer pays and are left out.
pub fn segment_all(
    at: NaiveDate,
    rules: &SegmentRules,
    customers: &[Customer],
    invoices: &[Invoice],
    broken_promises: &[(String, NaiveDate)],
) -> Vec<Segmentation> {
    let start = months_before(at, rules.window_months);
    let index: HashMap<&str, usize> = customers.iter().enumerate().map(|(i, c)| (c.id.as_str(), i)).collect();
    let mut acc = vec![Acc::default(); customers.len()];
    let (mut all_sum, mut all_count) = (Decimal::ZERO, 0u64);
    for inv in invoices {
        let Some(&ci) = index.get(inv.customer_id.as_str()) else {
            continue;
        };
        let a = &mut acc[ci];
        if inv.is_open() {
            a.open += 1;
        }
        if inv.total <= Decimal::ZERO || inv.issue_date < start || inv.issue_date >= at {
            continue;
        }
        a.in_window += 1;
        a.total_sum += inv.total;
        all_sum += inv.total;
        all_count += 1;
        if inv.due_date >= at {
            continue;
        }
        a.counting += 1;
        if let Some(days) = days_late(inv, at) {
            a.timed += 1;
            a.days_sum += days;
            a.late_bad += u32::from(days > i64::from(rules.bad_payer.late_days));
            a.late_vip += u32::from(days > i64::from(rules.vip.late_days));
        }
    }
    for (customer, date) in broken_promises {
        if *date >= start && *date < at {
            if let Some(&ci) = index.get(customer.as_str()) {
                acc[ci].promises += 1;
            }
        }
    }
    let portfolio_mean = (all_count > 0).then(|| (all_sum / Decimal::from(all_count)).round_dp(2));
    let vip_since = months_before(at, rules.vip.customer_years.saturating_mul(12));
    customers
        .iter()
        .zip(&acc)
        .map(|(c, a)| {
            let indicators = Indicators {
                invoices_in_window: a.in_window,
                counting_invoices: a.counting,
                late_bad_payer: a.late_bad,
                late_vip: a.late_vip,
                broken_promises: a.promises,
                avg_days_late: (a.timed > 0)
                    .then(|| (Decimal::from(a.days_sum) / Decimal::from(a.timed)).round_dp(1)),
                mean_invoice_total: (a.in_window > 0)
                    .then(|| (a.total_sum / Decimal::from(a.in_window)).round_dp(2)),
                portfolio_mean_total: portfolio_mean,
                customer_since: c.customer_since,
                open_invoices: a.open,
            };
            let (segment, rule, reason) = decide(c, a, rules, vip_since, (all_sum, all_count), &indicators);
            Segmentation { customer_id: c.id.clone(), segment, rule, indicators, reason }
        })
        .collect()
}

fn decide(
    c: &Customer,
    a: &Acc,
    rules: &SegmentRules,
    vip_since: NaiveDate,
    (all_sum, all_count): (Decimal, u64),
    ind: &Indicators,
) -> (String, Rule, String) {
    let months = rules.window_months;
    if let Some(manual) = &c.segment {
        return (manual.clone(), Rule::Manual, format!("segment {manual} is set by hand on the customer"));
    }
    if a.counting < rules.min_counting_invoices {
        return (
            rules.default.clone(),
            Rule::TooLittleHistory,
            format!(
                "too little history: {} invoice{} due in the last {months} months (fewer than {})",
                a.counting,
                if a.counting == 1 { "" } else { "s" },
                rules.min_counting_invoices
            ),
        );
    }
    let bp = &rules.bad_payer;
    let late_text = format!(
        "{} of {} invoices ({}) paid or open more than {} days late",
        a.late_bad,
        a.counting,
        percent(a.late_bad, a.counting),
        bp.late_days
    );
    if Decimal::from(a.late_bad) >= bp.late_share * Decimal::from(a.counting) {
        return (
            BAD_PAYER.into(),
            Rule::BadPayerLate,
            format!("{late_text}, at or above {}", share_percent(bp.late_share)),
        );
    }
    if a.promises >= bp.broken_promises {
        return (
            BAD_PAYER.into(),
            Rule::BadPayerPromises,
            format!("{} broken payment promises ({} or more)", a.promises, bp.broken_promises),
        );
    }
    let v = &rules.vip;
    let long_enough = c.customer_since.is_some_and(|s| s <= vip_since);
    // Compare means by cross-multiplying: exact, no rounding at the boundary.
    let above_mean = a.in_window > 0
        && all_count > 0
        && a.total_sum * Decimal::from(all_count) > all_sum * Decimal::from(a.in_window);
    let punctual = Decimal::from(a.late_vip) <= v.max_late_share * Decimal::from(a.counting);
    let mean = ind.mean_invoice_total.map_or("-".into(), |m| m.to_string());
    let portfolio = ind.portfolio_mean_total.map_or("-".into(), |m| m.to_string());
    let vip_late = format!(
        "{} of {} invoices ({}) paid more than {} days late",
        a.late_vip,
        a.counting,
        percent(a.late_vip, a.counting),
        v.late_days
    );
    if long_enough && above_mean && punctual {
        let since = c.customer_since.map_or(String::new(), |d| d.to_string());
        return (
            VIP.into(),
            Rule::Vip,
            format!(
                "customer since {since} ({} years or more), mean invoice {mean} above the portfolio mean {portfolio}, and {vip_late} (at most {})",
                v.customer_years,
                share_percent(v.max_late_share)
            ),
        );
    }
    let why_not_vip = if !long_enough {
        match c.customer_since {
            Some(s) => format!("customer since {s}, less than {} years", v.customer_years),
            None => "customer_since unknown".to_string(),
        }
    } else if !above_mean {
        format!("mean invoice {mean} not above the portfolio mean {portfolio}")
    } else {
        format!("{vip_late}, more than {}", share_percent(v.max_late_share))
    };
    (
        rules.default.clone(),
        Rule::Default,
        format!("{late_text}, below {}; not vip: {why_not_vip}", share_percent(bp.late_share)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Address, CustomerKind};

    const AT: &str = "2026-06-15";

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn customer(id: &str, since: Option<&str>) -> Customer {
        Customer {
            id: id.into(),
            name: id.into(),
            kind: CustomerKind::B2b,
            language: None,
            email: None,
            phone: None,
            address: Address::default(),
            customer_since: since.map(d),
            payment_method: None,
            segment: None,
            jurisdiction: None,
            account_manager: None,
            credit_limit: None,
            contact: None,
        }
    }

    /// An invoice of `total` issued `age` days before AT, due 30 days after issue, paid
    /// `paid_after_due` days after its due date (`None`: still open).
    fn inv(customer: &str, n: u32, age: i64, total: i64, paid_after_due: Option<i64>) -> Invoice {
        let issue = d(AT) - chrono::Duration::days(age);
        let due = issue + chrono::Duration::days(30);
        Invoice {
            number: format!("{customer}-{n}"),
            customer_id: customer.into(),
            issue_date: issue,
            due_date: due,
            currency: "EUR".into(),
            total: Decimal::from(total),
            open_amount: if paid_after_due.is_some() { Decimal::ZERO } else { Decimal::from(total) },
            paid_date: paid_after_due.map(|p| due + chrono::Duration::days(p)),
        }
    }

    fn run(
        customers: &[Customer],
        invoices: &[Invoice],
        promises: &[(String, NaiveDate)],
    ) -> Vec<Segmentation> {
        segment_all(d(AT), &SegmentRules::default(), customers, invoices, promises)
    }

    /// `n` counting invoices for `c` of which `late` were paid `days` after due, the rest on time.
    fn history(c: &str, n: u32, late: u32, days: i64, total: i64) -> Vec<Invoice> {
        (0..n).map(|i| inv(c, i, 100 + i64::from(i), total, Some(if i < late { days } else { 0 }))).collect()
    }

    #[test]
    fn shipped_segments_toml_equals_the_defaults() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../playbooks/segments.toml"));
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(SegmentRules::parse(path, &text).unwrap(), SegmentRules::default());
    }

    #[test]
    fn bad_payer_share_boundary_30_percent() {
        // 3 of 10 late by 16 days: exactly 30% -> bad payer. 2 of 10 (20%) -> standard.
        let c = [customer("A", None), customer("B", None)];
        let mut invoices = history("A", 10, 3, 16, 100);
        invoices.extend(history("B", 10, 2, 16, 100));
        let s = run(&c, &invoices, &[]);
        assert_eq!((s[0].segment.as_str(), s[0].rule), (BAD_PAYER, Rule::BadPayerLate));
        assert_eq!(s[0].indicators.late_bad_payer, 3);
        assert!(s[0].reason.contains("3 of 10 invoices (30%)"), "{}", s[0].reason);
        assert_eq!((s[1].segment.as_str(), s[1].rule), ("standard", Rule::Default));
    }

    #[test]
    fn late_by_15_means_more_than_15_days() {
        // 5 of 10 paid exactly 15 days late: not late by 15 -> not a bad payer; 16 days is.
        let c = [customer("A", None), customer("B", None)];
        let mut invoices = history("A", 10, 5, 15, 100);
        invoices.extend(history("B", 10, 5, 16, 100));
        let s = run(&c, &invoices, &[]);
        assert_eq!(s[0].segment, "standard");
        assert_eq!(s[0].indicators.late_bad_payer, 0);
        assert_eq!(s[0].indicators.late_vip, 5);
        assert_eq!(s[1].segment, BAD_PAYER);
    }

    #[test]
    fn open_invoices_are_late_by_days_open_at_the_date() {
        // Due 20 and 15 days before AT and still open: 20 > 15 is late, 15 is not.
        let c = [customer("A", None)];
        let mut invoices = history("A", 2, 0, 0, 100);
        invoices.push(inv("A", 50, 50, 100, None)); // due AT-20
        invoices.push(inv("A", 51, 45, 100, None)); // due AT-15
        let s = run(&c, &invoices, &[]);
        assert_eq!(s[0].indicators.counting_invoices, 4);
        assert_eq!(s[0].indicators.late_bad_payer, 1);
        assert_eq!(s[0].indicators.open_invoices, 2);
        assert_eq!(s[0].segment, "standard"); // 1 of 4 = 25% < 30%
    }

    #[test]
    fn paid_after_the_date_counts_as_open_at_the_date() {
        // Due AT-10, paid AT+30: at AT it was 10 days late, not 40.
        let c = [customer("A", None)];
        let invoices: Vec<Invoice> = (0..3).map(|i| inv("A", i, 40, 100, Some(40))).collect();
        let s = run(&c, &invoices, &[]);
        assert_eq!(s[0].indicators.late_bad_payer, 0);
        assert_eq!(s[0].indicators.avg_days_late, Some(Decimal::from(10)));
    }

    #[test]
    fn paid_without_known_date_counts_as_on_time() {
        let c = [customer("A", None)];
        let mut invoices = history("A", 3, 0, 0, 100);
        for i in &mut invoices {
            i.paid_date = None; // open_amount 0, date unknown
        }
        let s = run(&c, &invoices, &[]);
        assert_eq!(s[0].indicators.counting_invoices, 3);
        assert_eq!(s[0].indicators.late_vip, 0);
        assert_eq!(s[0].indicators.avg_days_late, None);
    }

    #[test]
    fn fewer_than_three_counting_invoices_is_standard_whatever_else() {
        // 2 counting invoices both 60 days late plus 3 broken promises: still standard.
        let c = [customer("A", None), customer("B", None)];
        let mut invoices = history("A", 2, 2, 60, 100);
        invoices.push(inv("A", 9, 10, 100, None)); // not yet due: does not count
        invoices.extend(history("B", 3, 3, 60, 100));
        let promises = vec![("A".to_string(), d("2026-05-01")); 3];
        let s = run(&c, &invoices, &promises);
        assert_eq!((s[0].segment.as_str(), s[0].rule), ("standard", Rule::TooLittleHistory));
        assert_eq!(s[0].indicators.invoices_in_window, 3);
        assert_eq!(s[0].indicators.counting_invoices, 2);
        assert_eq!(s[1].segment, BAD_PAYER);
    }

    #[test]
    fn due_on_the_date_does_not_count() {
        let c = [customer("A", None)];
        let mut invoices = history("A", 2, 0, 0, 100);
        invoices.push(inv("A", 7, 30, 100, None)); // due exactly AT
        let s = run(&c, &invoices, &[]);
        assert_eq!(s[0].rule, Rule::TooLittleHistory);
    }

    #[test]
    fn broken_promises_two_or_more() {
        let c = [customer("A", None), customer("B", None), customer("C", None)];
        let mut invoices = history("A", 5, 0, 0, 100);
        invoices.extend(history("B", 5, 0, 0, 100));
        invoices.extend(history("C", 5, 0, 0, 100));
        let promises = vec![
            ("A".to_string(), d("2026-01-10")),
            ("A".to_string(), d("2026-02-10")),
            ("B".to_string(), d("2026-02-10")),
            // outside the window: 2024-06-15 is the first day in it
            ("C".to_string(), d("2024-06-14")),
            ("C".to_string(), d("2024-06-15")),
        ];
        let s = run(&c, &invoices, &promises);
        assert_eq!((s[0].segment.as_str(), s[0].rule), (BAD_PAYER, Rule::BadPayerPromises));
        assert_eq!(s[1].segment, "standard");
        assert_eq!(s[2].indicators.broken_promises, 1);
        assert_eq!(s[2].segment, "standard");
    }

    #[test]
    fn window_is_24_months_to_the_day_before() {
        let c = [customer("A", None)];
        let mut invoices = history("A", 3, 0, 0, 100);
        let mut edge = inv("A", 90, 0, 100, None);
        edge.issue_date = d("2024-06-15"); // first day of the window
        edge.due_date = d("2024-07-15");
        let mut before = edge.clone();
        before.number = "A-91".into();
        before.issue_date = d("2024-06-14");
        let mut today = edge.clone();
        today.number = "A-92".into();
        today.issue_date = d(AT); // issued on D: outside
        invoices.extend([edge, before, today]);
        let s = run(&c, &invoices, &[]);
        assert_eq!(s[0].indicators.invoices_in_window, 4);
    }

    fn vip_case(since: &str, own_total: i64, late: u32) -> Segmentation {
        // Customer V: 10 invoices; customer X: 10 invoices of 100 each, on time.
        let c = [customer("V", Some(since)), customer("X", None)];
        let mut invoices = history("V", 10, late, 1, own_total);
        invoices.extend(history("X", 10, 0, 0, 100));
        run(&c, &invoices, &[]).remove(0)
    }

    #[test]
    fn vip_needs_three_years_to_the_day() {
        // AT is 2026-06-15: the same date three years before is 2023-06-15.
        assert_eq!(vip_case("2023-06-15", 200, 0).segment, VIP);
        let s = vip_case("2023-06-16", 200, 0);
        assert_eq!(s.segment, "standard");
        assert!(s.reason.contains("less than 3 years"), "{}", s.reason);
    }

    #[test]
    fn vip_needs_mean_strictly_above_portfolio_mean() {
        // Own mean 101 vs portfolio (10*101 + 10*100)/20 = 100.5 -> above.
        assert_eq!(vip_case("2020-01-01", 101, 0).segment, VIP);
        // Own mean 100 equals the portfolio mean 100 -> not above.
        let s = vip_case("2020-01-01", 100, 0);
        assert_eq!(s.segment, "standard");
        assert!(s.reason.contains("not above the portfolio mean"), "{}", s.reason);
    }

    #[test]
    fn vip_allows_at_most_ten_percent_late() {
        // 1 of 10 paid 1 day late = 10% -> still vip; 2 of 10 -> not.
        let s = vip_case("2020-01-01", 200, 1);
        assert_eq!(s.segment, VIP, "{}", s.reason);
        assert_eq!(s.indicators.late_vip, 1);
        assert_eq!(vip_case("2020-01-01", 200, 2).segment, "standard");
    }

    #[test]
    fn bad_payer_beats_vip_and_manual_beats_all() {
        let mut c = [customer("V", Some("2010-01-01")), customer("M", None)];
        c[1].segment = Some(VIP.into());
        let mut invoices = history("V", 10, 4, 30, 1000);
        invoices.extend(history("M", 10, 10, 90, 1));
        let s = run(&c, &invoices, &[]);
        assert_eq!(s[0].segment, BAD_PAYER);
        assert_eq!((s[1].segment.as_str(), s[1].rule), (VIP, Rule::Manual));
    }

    #[test]
    fn no_customer_since_is_never_vip() {
        let s = vip_case("2020-01-01", 200, 0);
        assert_eq!(s.segment, VIP);
        let c = [customer("V", None), customer("X", None)];
        let mut invoices = history("V", 10, 0, 0, 200);
        invoices.extend(history("X", 10, 0, 0, 100));
        assert_eq!(run(&c, &invoices, &[])[0].segment, "standard");
    }

    #[test]
    fn shares_parse_exactly_and_are_checked() {
        let p = Path::new("segments.toml");
        let base =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../playbooks/segments.toml"))
                .unwrap();
        let r = SegmentRules::parse(p, &base.replace("late_share = 0.30", "late_share = \"0.25\"")).unwrap();
        assert_eq!(r.bad_payer.late_share, Decimal::new(25, 2));
        let err = SegmentRules::parse(p, &base.replace("late_share = 0.30", "late_share = 30")).unwrap_err();
        assert!(err.to_string().contains("between 0 and 1"), "{err}");
        let err =
            SegmentRules::parse(p, &base.replace("broken_promises = 2", "broken_promise = 2")).unwrap_err();
        assert!(err.to_string().starts_with("segments.toml:"), "{err}");
        assert!(err.to_string().contains("broken_promise"), "{err}");
    }
}
