//! Working with the customer: promises to pay, disputes, payment plans and pauses.
//!
//! The records are data: the store keeps them, the CLI and the admin API record them (with who
//! and when), and the planner reads them through [`InvoiceCare`]. This module is pure (no
//! clock, no I/O): it says what a record does to an invoice's reminders on a day, and when a
//! promise or a plan is kept or broken, so that `dunwell plan` (which only looks) and `dunwell
//! send` (which records the outcome) reach the same answer.
//!
//! The rules, in short:
//! - a **pause** (customer, invoice or everything) holds every step until the day after its
//!   `until` (indefinitely while it has none and is not lifted); then the planner's catch-up
//!   rules apply, one step at a time;
//! - an open **promise** holds the steps of its invoices through the promised date plus a grace
//!   of working days; when the payments since it was made do not cover its amount by then, it
//!   is broken: one "broken promise" message goes out on the first working day after the grace,
//!   and the playbook resumes the working day after that message;
//! - an open **dispute** takes its amount out of what is chased (and out of the principal that
//!   interest and costs are computed on); a fully disputed invoice gets no reminders; once its
//!   deadline has passed unresolved, a task goes to a person;
//! - an active **payment plan** replaces the playbook for its invoices: a reminder before each
//!   instalment instead of the steps; payments are allocated to the instalments in order, and an
//!   instalment not covered by the end of its grace breaks the plan: the customer is told, and
//!   the playbook resumes for what is left.

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;

/// `[care]` in dunwell.toml.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Working days after a promised date before the promise counts as broken.
    pub promise_grace_days: u32,
    /// Working days after an instalment's date before a missed instalment breaks the plan.
    pub plan_grace_days: u32,
    /// Calendar days a dispute has to be resolved when `--deadline` is not given.
    pub dispute_days: u32,
    /// Calendar days before each instalment that its reminder goes out (0: none).
    pub instalment_reminder_days: u32,
    /// The reasons a dispute may give (`--reason`).
    pub dispute_reasons: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            promise_grace_days: 3,
            plan_grace_days: 3,
            dispute_days: 30,
            instalment_reminder_days: 3,
            dispute_reasons: ["wrong-amount", "not-delivered", "quality", "administrative", "other"]
                .map(String::from)
                .to_vec(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PromiseStatus {
    Open,
    Kept,
    Broken,
}

impl PromiseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PromiseStatus::Open => "open",
            PromiseStatus::Kept => "kept",
            PromiseStatus::Broken => "broken",
        }
    }

    pub fn parse(s: &str) -> Option<PromiseStatus> {
        Some(match s {
            "open" => PromiseStatus::Open,
            "kept" => PromiseStatus::Kept,
            "broken" => PromiseStatus::Broken,
            _ => return None,
        })
    }
}

/// Who recorded something, and when (an RFC 3339 timestamp) on which day (the `--at` day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recorded {
    pub by: String,
    pub at: String,
    pub on: NaiveDate,
}

/// A promise to pay `amount` by `date` for one or more invoices of one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promise {
    pub id: i64,
    pub customer_id: String,
    pub invoices: Vec<String>,
    pub date: NaiveDate,
    /// What was promised (the open total of the invoices when none was named).
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub status: PromiseStatus,
    pub note: Option<String>,
    pub recorded: Recorded,
    /// The day it was found kept or broken.
    pub settled_on: Option<NaiveDate>,
    /// The day the broken-promise message was written.
    pub notified_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisputeStatus {
    Open,
    /// Resolved for the customer with a credit note: the amount leaves the claim.
    Credit,
    /// Resolved for the customer by writing the amount off: it leaves the claim.
    WriteOff,
    /// Resolved against the customer: the amount was owed all along; dunning resumes.
    Rejected,
}

impl DisputeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DisputeStatus::Open => "open",
            DisputeStatus::Credit => "credit",
            DisputeStatus::WriteOff => "write-off",
            DisputeStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<DisputeStatus> {
        Some(match s {
            "open" => DisputeStatus::Open,
            "credit" => DisputeStatus::Credit,
            "write-off" => DisputeStatus::WriteOff,
            "rejected" => DisputeStatus::Rejected,
            _ => return None,
        })
    }
}

/// A dispute about (part of) one invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dispute {
    pub id: i64,
    pub customer_id: String,
    pub invoice: String,
    pub reason: String,
    /// The disputed part; `None`: the whole open amount.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub amount: Option<Decimal>,
    pub deadline: NaiveDate,
    pub note: Option<String>,
    pub status: DisputeStatus,
    pub recorded: Recorded,
    pub resolved: Option<Recorded>,
    /// Resolved for the customer: what left the claim.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub deducted: Option<Decimal>,
    /// The day the task for a person was written once the deadline passed.
    pub task_on: Option<NaiveDate>,
}

impl Dispute {
    /// What is disputed of an invoice with `open` still open.
    pub fn disputed_of(&self, open: Decimal) -> Decimal {
        self.amount.map_or(open, |a| a.min(open)).max(Decimal::ZERO)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanStatus {
    Active,
    Kept,
    Broken,
    Cancelled,
}

impl PlanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Active => "active",
            PlanStatus::Kept => "kept",
            PlanStatus::Broken => "broken",
            PlanStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<PlanStatus> {
        Some(match s {
            "active" => PlanStatus::Active,
            "kept" => PlanStatus::Kept,
            "broken" => PlanStatus::Broken,
            "cancelled" => PlanStatus::Cancelled,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instalment {
    /// 1-based.
    pub seq: u32,
    pub date: NaiveDate,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// The day its reminder was written.
    pub reminded_on: Option<NaiveDate>,
}

/// A payment plan: the invoices' open amounts paid in instalments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentPlan {
    pub id: i64,
    pub customer_id: String,
    pub invoices: Vec<String>,
    pub instalments: Vec<Instalment>,
    pub status: PlanStatus,
    pub note: Option<String>,
    pub recorded: Recorded,
    pub settled_on: Option<NaiveDate>,
    /// The instalment whose miss broke the plan.
    pub missed: Option<u32>,
    /// The day the customer was told the plan is broken.
    pub notified_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "scope", content = "target", rename_all = "kebab-case")]
pub enum PauseScope {
    Customer(String),
    Invoice(String),
    All,
}

impl PauseScope {
    pub fn describe(&self) -> String {
        match self {
            PauseScope::Customer(id) => format!("customer {id}"),
            PauseScope::Invoice(n) => format!("invoice {n}"),
            PauseScope::All => "every customer (moratorium)".into(),
        }
    }
}

/// A pause: no step for what it covers through `until` (or until lifted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pause {
    pub id: i64,
    #[serde(flatten)]
    pub scope: PauseScope,
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
    pub reason: String,
    pub recorded: Recorded,
    pub lifted: Option<Recorded>,
}

impl Pause {
    pub fn covers(&self, customer: &str, invoice: &str) -> bool {
        match &self.scope {
            PauseScope::Customer(id) => id == customer,
            PauseScope::Invoice(n) => n == invoice,
            PauseScope::All => true,
        }
    }

    /// Whether it still holds anything on or after `day`.
    pub fn in_force(&self, day: NaiveDate) -> bool {
        self.lifted.is_none() && self.until.is_none_or(|u| u >= day)
    }
}

/// The care records in the store that can still act on a plan.
#[derive(Debug, Clone, Default)]
pub struct Book {
    pub promises: Vec<Promise>,
    pub disputes: Vec<Dispute>,
    pub plans: Vec<PaymentPlan>,
    pub pauses: Vec<Pause>,
}

impl Book {
    pub fn is_empty(&self) -> bool {
        self.promises.is_empty()
            && self.disputes.is_empty()
            && self.plans.is_empty()
            && self.pauses.is_empty()
    }
}

/// A dated amount paid towards an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paid {
    pub date: NaiveDate,
    pub amount: Decimal,
}

/// `day` plus `n` working days (the end of a grace of `n` working days after `day`).
pub fn add_working_days(calendar: &Calendar, day: NaiveDate, n: u32) -> NaiveDate {
    let mut d = day;
    for _ in 0..n {
        d = calendar.working_day_on_or_after(d + Days::new(1));
    }
    d
}

/// The last day of a grace of `days` working days after `due` (moved to a working day first).
pub fn grace_end(calendar: &Calendar, due: NaiveDate, days: u32) -> NaiveDate {
    add_working_days(calendar, calendar.working_day_on_or_after(due), days)
}

/// A promise or an instalment not kept by the end of its grace is broken on the first working
/// day after it.
pub fn broken_on(calendar: &Calendar, grace_end: NaiveDate) -> NaiveDate {
    calendar.working_day_on_or_after(grace_end + Days::new(1))
}

/// Where a promise stands on a day, given what was paid towards it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum PromiseState {
    /// Not yet due or within its grace, which ends on `grace_end`.
    Waiting { grace_end: NaiveDate },
    /// Covered by the payment of `on`.
    Kept { on: NaiveDate },
    /// Not covered at the end of its grace: broken on `on` (the first working day after it).
    Broken { on: NaiveDate },
}

/// A promise's state on `at`. `paid`: the payments on its invoices since it was made (dated
/// on or after the day it was recorded), in date order; `all_paid`: whether every invoice it
/// covers is settled (a credit note, a payment the source knows without its date).
pub fn promise_state(
    p: &Promise,
    paid: &[Paid],
    all_paid: bool,
    at: NaiveDate,
    calendar: &Calendar,
    grace_days: u32,
) -> PromiseState {
    let grace_end = grace_end(calendar, p.date, grace_days);
    let mut sum = Decimal::ZERO;
    for x in paid.iter().filter(|x| x.date <= grace_end) {
        sum += x.amount;
        if sum >= p.amount {
            return PromiseState::Kept { on: x.date };
        }
    }
    if all_paid {
        return PromiseState::Kept { on: at.min(grace_end) };
    }
    if at > grace_end {
        PromiseState::Broken { on: broken_on(calendar, grace_end) }
    } else {
        PromiseState::Waiting { grace_end }
    }
}

/// An instalment with what the payments covered of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstalmentPaid {
    pub seq: u32,
    pub date: NaiveDate,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub paid: Decimal,
    /// The day the payment that completed it was made.
    pub settled_on: Option<NaiveDate>,
}

/// Payments allocated to the instalments in order: each payment fills the earliest
/// instalment not yet covered, the rest going on to the next.
pub fn allocate(plan: &PaymentPlan, paid: &[Paid]) -> Vec<InstalmentPaid> {
    let mut out: Vec<InstalmentPaid> = plan
        .instalments
        .iter()
        .map(|i| InstalmentPaid {
            seq: i.seq,
            date: i.date,
            amount: i.amount,
            paid: Decimal::ZERO,
            settled_on: None,
        })
        .collect();
    let mut k = 0;
    for x in paid {
        let mut left = x.amount;
        while left > Decimal::ZERO && k < out.len() {
            let take = (out[k].amount - out[k].paid).min(left);
            out[k].paid += take;
            left -= take;
            if out[k].paid >= out[k].amount {
                out[k].settled_on = Some(x.date);
                k += 1;
            }
        }
    }
    out
}

/// Where a payment plan stands on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum PlanState {
    /// Running; `next`: the first instalment not yet covered.
    Running { next: Option<u32> },
    /// Every instalment covered, the last on `on`.
    Kept { on: NaiveDate },
    /// Instalment `seq` was not covered by the end of its grace: broken on `on`.
    Broken { seq: u32, on: NaiveDate },
}

pub fn plan_state(
    allocation: &[InstalmentPaid],
    at: NaiveDate,
    calendar: &Calendar,
    grace_days: u32,
) -> PlanState {
    for i in allocation {
        if i.paid >= i.amount {
            continue;
        }
        let grace_end = grace_end(calendar, i.date, grace_days);
        if at > grace_end {
            return PlanState::Broken { seq: i.seq, on: broken_on(calendar, grace_end) };
        }
        return PlanState::Running { next: Some(i.seq) };
    }
    match allocation.iter().filter_map(|i| i.settled_on).max() {
        Some(on) => PlanState::Kept { on },
        None => PlanState::Running { next: None },
    }
}

/// What a dispute resolved for the customer takes off an invoice: the source's open amount
/// stays the upper bound (never chase more than the bookkeeping says is open), and the
/// deduction counts from the open amount at the resolution, less what was paid since. When the
/// bookkeeping books the credit note itself, both figures agree and nothing is taken twice.
pub fn after_deduction(
    open_now: Decimal,
    open_before: Decimal,
    deducted: Decimal,
    paid_since: Decimal,
) -> Decimal {
    open_now.min(open_before - deducted - paid_since).max(Decimal::ZERO)
}

/// How a dispute's reason reads in a sentence.
pub fn reason_text(reason: &str) -> String {
    match reason {
        "wrong-amount" => "wrong amount".into(),
        "not-delivered" => "not delivered".into(),
        "quality" => "quality".into(),
        "administrative" => "administrative error".into(),
        other => other.replace('-', " "),
    }
}

/// The care records that act on one invoice (built by the caller from a [`Book`] and the
/// states computed for the plan's first day).
#[derive(Debug, Clone, Default)]
pub struct InvoiceCare<'a> {
    pub pauses: Vec<&'a Pause>,
    /// Its promises that are open or broken, with their state on the plan's first day.
    pub promises: Vec<(&'a Promise, PromiseState)>,
    /// Its open disputes.
    pub disputes: Vec<&'a Dispute>,
    /// The active or broken payment plan that covers it, with its state and allocation.
    pub plan: Option<(&'a PaymentPlan, PlanState, &'a [InstalmentPaid])>,
}

impl InvoiceCare<'_> {
    pub fn is_empty(&self) -> bool {
        self.pauses.is_empty() && self.promises.is_empty() && self.disputes.is_empty() && self.plan.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Jurisdiction;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn cal() -> Calendar {
        Calendar::new(Jurisdiction::Nl, Vec::new())
    }

    fn rec(on: &str) -> Recorded {
        Recorded { by: "anna".into(), at: format!("{on}T09:00:00Z"), on: d(on) }
    }

    fn promise(date: &str, amount: i64) -> Promise {
        Promise {
            id: 1,
            customer_id: "C1".into(),
            invoices: vec!["F1".into()],
            date: d(date),
            amount: Decimal::new(amount, 0),
            status: PromiseStatus::Open,
            note: None,
            recorded: rec("2026-11-02"),
            settled_on: None,
            notified_on: None,
        }
    }

    fn paid(date: &str, amount: i64) -> Paid {
        Paid { date: d(date), amount: Decimal::new(amount, 0) }
    }

    #[test]
    fn grace_counts_working_days() {
        // Friday 2026-11-13 + 3 working days = Wednesday the 18th.
        assert_eq!(add_working_days(&cal(), d("2026-11-13"), 3), d("2026-11-18"));
        // Over Christmas: 24 Dec 2026 (Thu) + 3 = 25, 26 are holidays, 27 Sunday → 28, 29, 30.
        assert_eq!(add_working_days(&cal(), d("2026-12-24"), 3), d("2026-12-30"));
    }

    #[test]
    fn a_promise_is_kept_by_payments_within_its_grace_and_broken_after() {
        let p = promise("2026-11-13", 500);
        let c = cal();
        // Within the grace, nothing paid: waiting through the 18th.
        assert_eq!(
            promise_state(&p, &[], false, d("2026-11-18"), &c, 3),
            PromiseState::Waiting { grace_end: d("2026-11-18") }
        );
        // The day after: broken on the 19th.
        assert_eq!(
            promise_state(&p, &[], false, d("2026-11-19"), &c, 3),
            PromiseState::Broken { on: d("2026-11-19") }
        );
        // Two payments that together cover it: kept on the second one's day.
        let pays = [paid("2026-11-10", 200), paid("2026-11-16", 300)];
        assert_eq!(
            promise_state(&p, &pays, false, d("2026-11-30"), &c, 3),
            PromiseState::Kept { on: d("2026-11-16") }
        );
        // Too little: broken, however late we look.
        assert_eq!(
            promise_state(&p, &pays[..1], false, d("2026-11-30"), &c, 3),
            PromiseState::Broken { on: d("2026-11-19") }
        );
        // Paid only after the grace: it was broken.
        assert_eq!(
            promise_state(&p, &[paid("2026-11-20", 500)], false, d("2026-11-30"), &c, 3),
            PromiseState::Broken { on: d("2026-11-19") }
        );
    }

    #[test]
    fn payments_fill_instalments_in_order_and_a_miss_breaks_the_plan_after_grace() {
        let plan = PaymentPlan {
            id: 1,
            customer_id: "C1".into(),
            invoices: vec!["F1".into()],
            instalments: vec![
                Instalment { seq: 1, date: d("2026-12-01"), amount: Decimal::new(300, 0), reminded_on: None },
                Instalment { seq: 2, date: d("2027-01-04"), amount: Decimal::new(300, 0), reminded_on: None },
            ],
            status: PlanStatus::Active,
            note: None,
            recorded: rec("2026-11-20"),
            settled_on: None,
            missed: None,
            notified_on: None,
        };
        let a = allocate(&plan, &[paid("2026-11-30", 200), paid("2026-12-02", 150)]);
        assert_eq!((a[0].paid, a[0].settled_on), (Decimal::new(300, 0), Some(d("2026-12-02"))));
        assert_eq!((a[1].paid, a[1].settled_on), (Decimal::new(50, 0), None));
        let c = cal();
        assert_eq!(plan_state(&a, d("2027-01-07"), &c, 3), PlanState::Running { next: Some(2) });
        // 4 Jan + 3 working days = 7 Jan; broken on Friday the 8th.
        assert_eq!(plan_state(&a, d("2027-01-08"), &c, 3), PlanState::Broken { seq: 2, on: d("2027-01-08") });
        let all = allocate(&plan, &[paid("2026-11-30", 600)]);
        assert_eq!(plan_state(&all, d("2027-02-01"), &c, 3), PlanState::Kept { on: d("2026-11-30") });
    }

    #[test]
    fn a_deduction_never_chases_more_than_the_source_and_never_counts_twice() {
        let dec = |v: i64| Decimal::new(v, 0);
        // 100 open, 30 credited: 70 chased while the bookkeeping still says 100.
        assert_eq!(after_deduction(dec(100), dec(100), dec(30), dec(0)), dec(70));
        // The bookkeeping books the credit note: 70 there too, not 40.
        assert_eq!(after_deduction(dec(70), dec(100), dec(30), dec(0)), dec(70));
        // A payment of 20 since: 50 either way.
        assert_eq!(after_deduction(dec(80), dec(100), dec(30), dec(20)), dec(50));
        assert_eq!(after_deduction(dec(50), dec(100), dec(30), dec(20)), dec(50));
    }

    #[test]
    fn a_pause_covers_its_scope_until_its_last_day() {
        let p = Pause {
            id: 1,
            scope: PauseScope::Customer("C1".into()),
            from: d("2026-12-01"),
            until: Some(d("2026-12-31")),
            reason: "holidays".into(),
            recorded: rec("2026-12-01"),
            lifted: None,
        };
        assert!(p.covers("C1", "F9") && !p.covers("C2", "F9"));
        assert!(p.in_force(d("2026-12-31")) && !p.in_force(d("2027-01-01")));
    }
}
