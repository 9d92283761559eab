//! Money and law: statutory interest, collection costs, what is owed, payment references and
//! the consumer-protection timing rules, for the Netherlands and Belgium.
//!
//! Everything here is a pure function over [`rates::Rates`] (the shipped rate tables, optionally
//! overridden by a newer file) and plain values; nothing reads the clock or the store.
//!
//! # Conventions (they are conventions, not law; see `legal-reference.md` §6 and §8)
//!
//! * Money is [`rust_decimal::Decimal`] throughout; no floating point anywhere.
//! * Interest runs from the day after the due date **through** the payment date, so the
//!   number of interest days is `payment_date - due_date` (art. 6:119a lid 1 BW).
//! * Each day earns 1/365 of the yearly rate in force on that day, leap years included (a
//!   leap year has 366 such days). Rate changes split a period.
//! * NL statutory interest (6:119 and 6:119a BW) is capitalised on each anniversary of the
//!   first interest day: the year's interest, rounded half-up to cents, is added to the base.
//!   A year that starts on 29 February ends on 28 February; the next year starts on 1 March.
//! * BE commercial interest (Wet 2 augustus 2002) is simple interest.
//! * Intermediate values are exact; rounding is half-up to cents only at each capitalisation,
//!   at each payment that is allocated (see [`owed()`](owed())) and at the end. Period amounts are
//!   reported unrounded (shown to 4 decimals).
//! * Collection costs are computed exactly and rounded half-up to cents once, after the
//!   minimum, the maximum and any VAT gross-up.

pub mod consumer;
pub mod costs;
pub mod interest;
pub mod owed;
pub mod prescription;
pub mod rates;
pub mod reference;

use rust_decimal::{Decimal, RoundingStrategy};

pub use consumer::{
    check_consumer_playbook, earliest_costs_date, earliest_interest_date, Delivery, Letter, StepView,
    Violation,
};
pub use costs::{collection_costs, CostsOptions, CostsResult};
pub use interest::{compute_interest, InterestKind, InterestResult, Period};
pub use owed::{owed, ChargedCosts, Owed, OwedInput};
pub use prescription::{
    prescription, standing, Claim, Goods, Interrupter, Interruption, Prescription, PrescriptionRules,
    Standing,
};
pub use rates::{Rates, RatesError, Warning};
pub use reference::{BeStructured, PaymentReference, ReferenceError, RfReference};

/// Errors of the law computations; each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum LawError {
    #[error(transparent)]
    Rates(#[from] RatesError),
    #[error("{what} must not be negative (got {amount})")]
    Negative { what: &'static str, amount: Decimal },
    #[error("{what} must be more than zero (got {amount})")]
    NotPositive { what: &'static str, amount: Decimal },
    #[error("{0}")]
    Invalid(String),
}

/// Rounds half-up (away from zero) to cents and always shows two decimals (`40` becomes `40.00`).
pub fn round_cents(d: Decimal) -> Decimal {
    let mut r = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(2);
    r
}

/// Rounds half-up to 4 decimals, for showing unrounded period amounts.
pub(crate) fn round_4(d: Decimal) -> Decimal {
    let mut r = d.round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(4);
    r
}

/// Formats a yearly rate fraction as a percentage: `0.1015` -> `10.15%`.
pub fn percent(rate: Decimal) -> String {
    format!("{}%", (rate * Decimal::ONE_HUNDRED).normalize())
}

/// Serde helper: a decimal shown to 4 decimals, as a string.
pub(crate) fn ser_4dp<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&round_4(*d).to_string())
}

/// Shows an amount with at least two decimals (`1000` -> `1000.00`), never rounding away
/// sub-cent digits of an input amount.
pub fn show_money(d: Decimal) -> String {
    let mut r = d;
    if r.scale() < 2 {
        r.rescale(2);
    }
    r.to_string()
}

/// Serde helper: an amount as a string with at least two decimals (see [`show_money`]).
pub(crate) fn ser_money<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&show_money(*d))
}
