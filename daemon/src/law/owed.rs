//! What is owed, to the cent: principal, interest to date, costs, what was paid and the total
//! due, consistent with each other.
//!
//! Payments are allocated to costs first, then interest, then principal (art. 6:44 BW); within
//! interest, interest already capitalised (the older part) goes before the current year's. Interest
//! keeps running on what remains. Conventions on top of [`crate::law::interest`]:
//!
//! * a payment on day P counts as made at the end of P: P still earns interest on the full
//!   base, the reduced base earns from P + 1 (6:119a: "tot en met de dag waarop ... voldaan");
//! * on an anniversary the year's interest is capitalised first, then payments of that day are
//!   allocated (legal-reference.md §7);
//! * at each payment the interest accrued since the last rounding point is rounded half-up to
//!   cents, so every allocation is in whole cents (with no payments the result equals
//!   [`crate::law::compute_interest`]);
//! * only the unpaid part of a year's interest is capitalised;
//! * costs count from the day they become chargeable ([`ChargedCosts::from`], decided by the
//!   planner); payments before that day are not allocated to them. The BIK is not recomputed on
//!   a capitalised principal.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::interest::{Accrual, Capitalisation, InterestBasis, InterestKind, Period, Stop};
use super::rates::Rates;
use super::{round_cents, ser_money, LawError};
use crate::calendar::Jurisdiction;
use crate::model::{CustomerKind, Payment};

/// Costs that the planner has decided are chargeable from `from` (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargedCosts {
    pub amount: Decimal,
    pub from: NaiveDate,
}

/// One invoice's claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedInput {
    pub principal: Decimal,
    pub due_date: NaiveDate,
    pub jurisdiction: Jurisdiction,
    pub kind: CustomerKind,
    /// Whether statutory interest is charged at all (BE consumers: only when the contract
    /// stipulates it; the planner may also waive it).
    pub charge_interest: bool,
    /// The first day that earns interest; `None` means the day after the due date. For BE
    /// consumers pass [`crate::law::consumer::be_consumer_claimable_from`].
    pub interest_from: Option<NaiveDate>,
    /// BE only: the contract date, for the pre-2013-03-16 rate series.
    pub contract_date: Option<NaiveDate>,
    pub costs: Option<ChargedCosts>,
}

impl OwedInput {
    /// A claim with statutory interest from the day after the due date and no costs yet.
    pub fn new(
        principal: Decimal,
        due_date: NaiveDate,
        jurisdiction: Jurisdiction,
        kind: CustomerKind,
    ) -> Self {
        OwedInput {
            principal,
            due_date,
            jurisdiction,
            kind,
            charge_interest: true,
            interest_from: None,
            contract_date: None,
            costs: None,
        }
    }
}

/// How one payment was allocated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allocation {
    pub date: NaiveDate,
    #[serde(serialize_with = "ser_money")]
    pub amount: Decimal,
    #[serde(serialize_with = "ser_money")]
    pub to_costs: Decimal,
    #[serde(serialize_with = "ser_money")]
    pub to_interest: Decimal,
    #[serde(serialize_with = "ser_money")]
    pub to_principal: Decimal,
    /// More than was due at that moment.
    #[serde(serialize_with = "ser_money")]
    pub overpaid: Decimal,
}

/// What is still open, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outstanding {
    #[serde(serialize_with = "ser_money")]
    pub principal: Decimal,
    #[serde(serialize_with = "ser_money")]
    pub interest: Decimal,
    #[serde(serialize_with = "ser_money")]
    pub costs: Decimal,
}

/// The claim on `on`. Invariant: `total_due = principal + interest + costs - paid + overpaid`,
/// and `total_due = outstanding.principal + outstanding.interest + outstanding.costs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owed {
    pub on: NaiveDate,
    #[serde(serialize_with = "ser_money")]
    pub principal: Decimal,
    /// All interest up to and including `on`, paid or not.
    #[serde(serialize_with = "ser_money")]
    pub interest: Decimal,
    /// Costs chargeable on `on`.
    #[serde(serialize_with = "ser_money")]
    pub costs: Decimal,
    /// Payments up to and including `on`.
    #[serde(serialize_with = "ser_money")]
    pub paid: Decimal,
    #[serde(serialize_with = "ser_money")]
    pub total_due: Decimal,
    /// What was paid beyond everything due (to refund or to keep as credit).
    #[serde(serialize_with = "ser_money")]
    pub overpaid: Decimal,
    pub outstanding: Outstanding,
    pub allocations: Vec<Allocation>,
    pub periods: Vec<Period>,
    pub capitalisations: Vec<Capitalisation>,
    pub warnings: Vec<String>,
}

struct State {
    principal: Decimal,
    /// Capitalised, unpaid interest (part of the base under NL law).
    capitalised: Decimal,
    /// Uncapitalised interest rounded at a payment, unpaid.
    accrued_cents: Decimal,
    /// Exact uncapitalised interest since the last rounding point.
    exact: Decimal,
    /// All interest rounded so far (at payments and capitalisations).
    interest_total: Decimal,
    costs: Decimal,
    costs_charged: Decimal,
}

impl State {
    fn base(&self, compounds: bool) -> Decimal {
        if compounds {
            self.principal + self.capitalised
        } else {
            self.principal
        }
    }

    fn settle_exact(&mut self) {
        let r = round_cents(self.exact);
        self.accrued_cents += r;
        self.interest_total += r;
        self.exact = Decimal::ZERO;
    }
}

/// What is owed on `on` for the claim `input`, given its `payments` (those after `on` are
/// ignored; their `invoice_number` is not checked).
pub fn owed(rates: &Rates, input: &OwedInput, payments: &[Payment], on: NaiveDate) -> Result<Owed, LawError> {
    if input.principal.is_sign_negative() && !input.principal.is_zero() {
        return Err(LawError::Negative { what: "the principal", amount: input.principal });
    }
    if let Some(c) = input.costs {
        if c.amount.is_sign_negative() && !c.amount.is_zero() {
            return Err(LawError::Negative { what: "the costs", amount: c.amount });
        }
    }
    let mut pays: Vec<&Payment> = payments.iter().filter(|p| p.date <= on).collect();
    for p in &pays {
        if p.amount.is_sign_negative() && !p.amount.is_zero() {
            return Err(LawError::Invalid(format!(
                "payment of {} on {} is negative; net a reversal against the payment it undoes before computing what is owed",
                p.amount, p.date
            )));
        }
    }
    pays.sort_by_key(|p| p.date);

    let basis = InterestBasis {
        jurisdiction: input.jurisdiction,
        kind: InterestKind::for_customer(input.kind),
        contract_date: input.contract_date,
    };
    let compounds = basis.compounds();
    let first_day = match input.interest_from {
        Some(d) => d,
        None => input
            .due_date
            .succ_opt()
            .ok_or_else(|| LawError::Invalid(format!("due date {} is out of range", input.due_date)))?,
    };
    let mut accrual = Accrual::new(rates, basis, first_day);
    let mut st = State {
        principal: input.principal,
        capitalised: Decimal::ZERO,
        accrued_cents: Decimal::ZERO,
        exact: Decimal::ZERO,
        interest_total: Decimal::ZERO,
        costs: Decimal::ZERO,
        costs_charged: Decimal::ZERO,
    };
    let mut capitalisations = Vec::new();
    let mut allocations = Vec::new();
    let mut overpaid_total = Decimal::ZERO;
    let mut paid_total = Decimal::ZERO;

    let mut accrue =
        |through: NaiveDate, st: &mut State, caps: &mut Vec<Capitalisation>| -> Result<(), LawError> {
            if !input.charge_interest {
                return Ok(());
            }
            loop {
                let base = st.base(compounds);
                match accrual.run(through, base, &mut st.exact)? {
                    Stop::Done => return Ok(()),
                    Stop::Anniversary(date) => {
                        let r = round_cents(st.exact);
                        st.interest_total += r;
                        let added = st.accrued_cents + r;
                        st.capitalised += added;
                        st.accrued_cents = Decimal::ZERO;
                        st.exact = Decimal::ZERO;
                        caps.push(Capitalisation { date, amount: added, new_base: st.base(compounds) });
                        accrual.capitalised();
                    }
                }
            }
        };

    for p in pays {
        accrue(p.date, &mut st, &mut capitalisations)?;
        st.settle_exact();
        if let Some(c) = input.costs {
            if c.from <= p.date && st.costs_charged.is_zero() && !c.amount.is_zero() {
                st.costs += c.amount;
                st.costs_charged = c.amount;
            }
        }
        let mut left = p.amount;
        let mut take = |bucket: &mut Decimal| {
            let t = left.min(*bucket);
            *bucket -= t;
            left -= t;
            t
        };
        let to_costs = take(&mut st.costs);
        let to_interest = take(&mut st.capitalised) + take(&mut st.accrued_cents);
        let to_principal = take(&mut st.principal);
        let overpaid = left;
        overpaid_total += overpaid;
        paid_total += p.amount;
        allocations.push(Allocation {
            date: p.date,
            amount: p.amount,
            to_costs,
            to_interest,
            to_principal,
            overpaid,
        });
    }
    accrue(on, &mut st, &mut capitalisations)?;
    st.settle_exact();
    if let Some(c) = input.costs {
        if c.from <= on && st.costs_charged.is_zero() {
            st.costs += c.amount;
            st.costs_charged = c.amount;
        }
    }

    let outstanding = Outstanding {
        principal: round_cents(st.principal),
        interest: round_cents(st.capitalised + st.accrued_cents),
        costs: round_cents(st.costs),
    };
    let total_due = round_cents(outstanding.principal + outstanding.interest + outstanding.costs);
    let mut warnings = accrual.warnings();
    if input.charge_interest && first_day > on {
        warnings.push(format!("interest starts on {first_day}, after {on}: none yet"));
    }
    Ok(Owed {
        on,
        principal: round_cents(input.principal),
        interest: round_cents(st.interest_total),
        costs: round_cents(st.costs_charged),
        paid: round_cents(paid_total),
        total_due,
        overpaid: round_cents(overpaid_total),
        outstanding,
        allocations,
        periods: accrual.periods,
        capitalisations,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }
    fn pay(date: &str, amount: &str) -> Payment {
        Payment { invoice_number: "2025-001".into(), date: d(date), amount: dec(amount), method: None }
    }
    fn rates() -> Rates {
        Rates::shipped().unwrap()
    }
    fn check_invariants(o: &Owed) {
        assert_eq!(o.total_due, o.outstanding.principal + o.outstanding.interest + o.outstanding.costs);
        assert_eq!(o.total_due, o.principal + o.interest + o.costs - o.paid + o.overpaid);
        for a in &o.allocations {
            assert_eq!(a.amount, a.to_costs + a.to_interest + a.to_principal + a.overpaid);
        }
    }

    #[test]
    fn without_payments_matches_compute_interest() {
        // V10 and V13 through owed()
        let i = OwedInput::new(dec("5000.00"), d("2025-09-30"), Jurisdiction::Nl, CustomerKind::B2b);
        let o = owed(&rates(), &i, &[], d("2025-12-29")).unwrap();
        assert_eq!(o.interest, dec("125.14"));
        assert_eq!(o.total_due, dec("5125.14"));
        check_invariants(&o);
        let i = OwedInput::new(dec("1000.00"), d("2022-06-30"), Jurisdiction::Nl, CustomerKind::B2c);
        let o = owed(&rates(), &i, &[], d("2024-06-30")).unwrap();
        assert_eq!(o.interest, dec("97.02"));
        assert_eq!(o.outstanding.interest, dec("97.02"));
        assert_eq!(o.capitalisations[0].amount, dec("29.92"));
        check_invariants(&o);
    }

    #[test]
    fn partial_payment_goes_to_costs_then_interest_then_principal() {
        // V10 claim with 40 costs chargeable from 2025-10-15; 500 paid on 2025-12-29.
        let mut i = OwedInput::new(dec("5000.00"), d("2025-09-30"), Jurisdiction::Nl, CustomerKind::B2b);
        i.costs = Some(ChargedCosts { amount: dec("625.00"), from: d("2025-10-15") });
        let o = owed(&rates(), &i, &[pay("2025-12-29", "800.00")], d("2025-12-29")).unwrap();
        let a = &o.allocations[0];
        assert_eq!((a.to_costs, a.to_interest, a.to_principal), (dec("625.00"), dec("125.14"), dec("49.86")));
        assert_eq!(o.outstanding.principal, dec("4950.14"));
        assert_eq!(o.total_due, dec("4950.14"));
        check_invariants(&o);
        // Interest keeps running on what remains: 10 more days at 10.15% on 4,950.14 = 13.7655
        let later = owed(&rates(), &i, &[pay("2025-12-29", "800.00")], d("2026-01-08")).unwrap();
        assert_eq!(later.outstanding.interest, dec("13.77"));
        assert_eq!(later.total_due, dec("4963.91"));
        assert_eq!(later.interest, dec("138.91"));
        check_invariants(&later);
    }

    #[test]
    fn payment_before_costs_are_chargeable_skips_costs() {
        let mut i = OwedInput::new(dec("1000.00"), d("2025-09-30"), Jurisdiction::Nl, CustomerKind::B2c);
        i.costs = Some(ChargedCosts { amount: dec("150.00"), from: d("2025-11-01") });
        let o = owed(&rates(), &i, &[pay("2025-10-10", "100.00")], d("2025-11-01")).unwrap();
        assert_eq!(o.allocations[0].to_costs, dec("0.00"));
        assert_eq!(o.costs, dec("150.00"));
        assert_eq!(o.outstanding.costs, dec("150.00"));
        check_invariants(&o);
        let before = owed(&rates(), &i, &[], d("2025-10-31")).unwrap();
        assert_eq!(before.costs, dec("0.00"));
    }

    #[test]
    fn overpayment_is_reported_not_lost() {
        let i = OwedInput::new(dec("100.00"), d("2025-09-30"), Jurisdiction::Be, CustomerKind::B2b);
        let o = owed(&rates(), &i, &[pay("2025-09-30", "120.00")], d("2025-10-31")).unwrap();
        assert_eq!(o.overpaid, dec("20.00"));
        assert_eq!(o.total_due, dec("0.00"));
        check_invariants(&o);
        assert!(owed(&rates(), &i, &[pay("2025-09-30", "-1")], d("2025-10-31")).is_err());
    }

    #[test]
    fn capitalised_interest_is_paid_before_current_interest() {
        // NL commercial from 2016-07-01; pay 900 on 2017-07-01 (the anniversary): capitalise 800 first.
        let i = OwedInput::new(dec("10000.00"), d("2016-06-30"), Jurisdiction::Nl, CustomerKind::B2b);
        let o = owed(&rates(), &i, &[pay("2017-07-01", "900.00")], d("2017-07-01")).unwrap();
        assert_eq!(o.capitalisations.len(), 1);
        // Interest on 2017-07-01 itself: 10,800 x 8% / 365 = 2.37
        assert_eq!(o.allocations[0].to_interest, dec("802.37"));
        assert_eq!(o.allocations[0].to_principal, dec("97.63"));
        assert_eq!(o.outstanding.principal, dec("9902.37"));
        check_invariants(&o);
    }

    #[test]
    fn no_interest_when_not_charged_and_late_start() {
        let mut i = OwedInput::new(dec("400.00"), d("2025-03-01"), Jurisdiction::Be, CustomerKind::B2c);
        i.charge_interest = false;
        let o = owed(&rates(), &i, &[], d("2025-06-01")).unwrap();
        assert_eq!(o.interest, dec("0.00"));
        assert_eq!(o.total_due, dec("400.00"));
        i.charge_interest = true;
        i.interest_from = Some(d("2025-03-20"));
        let o = owed(&rates(), &i, &[], d("2025-03-29")).unwrap();
        // 10 days at 11.5% on 400 = 1.2603
        assert_eq!(o.interest, dec("1.26"));
    }

    fn arb_cents(max: i64) -> impl Strategy<Value = Decimal> {
        (1..=max).prop_map(|c| Decimal::new(c, 2))
    }

    proptest! {
        #[test]
        fn allocation_never_loses_or_creates_a_cent(
            principal in arb_cents(5_000_000),
            costs in arb_cents(100_000),
            nl in any::<bool>(),
            b2b in any::<bool>(),
            due_offset in 0i64..2000,
            costs_after in 0i64..60,
            pays in proptest::collection::vec((0i64..900, arb_cents(3_000_000)), 0..6),
            extra_days in 0i64..400,
        ) {
            let rates = Rates::shipped().unwrap();
            let due = d("2016-01-01") + chrono::Days::new(due_offset as u64);
            let mut input = OwedInput::new(
                principal,
                due,
                if nl { Jurisdiction::Nl } else { Jurisdiction::Be },
                if b2b { CustomerKind::B2b } else { CustomerKind::B2c },
            );
            input.costs = Some(ChargedCosts { amount: costs, from: due + chrono::Days::new(costs_after as u64) });
            let payments: Vec<Payment> = pays
                .iter()
                .map(|(off, amt)| Payment { invoice_number: "x".into(), date: due + chrono::Days::new(*off as u64), amount: *amt, method: None })
                .collect();
            let last = payments.iter().map(|p| p.date).max().unwrap_or(due);
            let on = last + chrono::Days::new(extra_days as u64);
            let o = owed(&rates, &input, &payments, on).unwrap();
            check_invariants(&o);
            let allocated: Decimal = o.allocations.iter().map(|a| a.to_costs + a.to_interest + a.to_principal + a.overpaid).sum();
            prop_assert_eq!(allocated, o.paid);
            for a in &o.allocations {
                prop_assert_eq!(a.to_costs.scale() <= 2 && a.to_interest.scale() <= 2 && a.to_principal.scale() <= 2, true);
            }

            // Adding one more payment P on day `on` lowers the total due by exactly P (unless it overpays).
            let before = o.total_due;
            let extra = principal.min(Decimal::new(12_345, 2));
            let mut with = payments.clone();
            with.push(Payment { invoice_number: "x".into(), date: on, amount: extra, method: None });
            let after = owed(&rates, &input, &with, on).unwrap();
            check_invariants(&after);
            if extra <= before {
                prop_assert_eq!(after.total_due, before - extra);
                prop_assert_eq!(after.interest, o.interest);
            } else {
                prop_assert_eq!(after.total_due, Decimal::ZERO);
                prop_assert_eq!(after.overpaid - o.overpaid, extra - before);
            }
        }
    }
}
