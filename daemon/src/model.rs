//! The domain records every other module speaks in: customers, invoices, payments and the
//! small enums around them. They hold parsed, validated values only (dates are `NaiveDate`,
//! money is `Decimal`), so code past the import edge never re-validates.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Business customer or consumer: consumers get the stricter legal rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CustomerKind {
    B2b,
    B2c,
}

impl CustomerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerKind::B2b => "b2b",
            CustomerKind::B2c => "b2c",
        }
    }
}

impl FromStr for CustomerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "b2b" => Ok(CustomerKind::B2b),
            "b2c" => Ok(CustomerKind::B2c),
            other => Err(format!("`{other}` is not a customer kind; use `b2b` or `b2c`")),
        }
    }
}

/// The languages reminders can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Nl,
    Fr,
    En,
    De,
}

impl Language {
    pub const ALL: [Language; 4] = [Language::Nl, Language::Fr, Language::En, Language::De];

    pub fn as_str(self) -> &'static str {
        match self {
            Language::Nl => "nl",
            Language::Fr => "fr",
            Language::En => "en",
            Language::De => "de",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "nl" => Ok(Language::Nl),
            "fr" => Ok(Language::Fr),
            "en" => Ok(Language::En),
            "de" => Ok(Language::De),
            other => Err(format!("`{other}` is not a supported language; use nl, fr, en or de")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Transfer,
    DirectDebit,
    Card,
    Other,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Transfer => "transfer",
            PaymentMethod::DirectDebit => "direct_debit",
            PaymentMethod::Card => "card",
            PaymentMethod::Other => "other",
        }
    }
}

impl FromStr for PaymentMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "transfer" => Ok(PaymentMethod::Transfer),
            "direct_debit" => Ok(PaymentMethod::DirectDebit),
            "card" => Ok(PaymentMethod::Card),
            "other" => Ok(PaymentMethod::Other),
            other => {
                Err(format!("`{other}` is not a payment method; use transfer, direct_debit, card or other"))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Address {
    pub street: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    /// ISO 3166 alpha-2, upper case.
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// The business's own key for the customer (`customer_id` in the export).
    pub id: String,
    pub name: String,
    pub kind: CustomerKind,
    pub language: Option<Language>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Address,
    pub customer_since: Option<NaiveDate>,
    pub payment_method: Option<PaymentMethod>,
    /// A segment set by hand; it overrides the computed one.
    pub segment: Option<String>,
    /// Whose law governs a business customer's claims, set by hand (`jurisdiction` in
    /// customers.csv); without it the business's own. Consumers always keep their country's
    /// protection (see [`Customer::law`]).
    pub jurisdiction: Option<crate::calendar::Jurisdiction>,
    /// The person at the business who owns the relationship (`account_manager` in
    /// customers.csv, set by hand): a step with `cc_account_manager = true` copies them.
    pub account_manager: Option<String>,
    /// The most this customer may owe at once (`credit_limit` in customers.csv, set by hand);
    /// without it `[escalation] credit_limit` of dunwell.toml. Going over it alerts the business.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub credit_limit: Option<Decimal>,
    /// The person the letters are addressed to (`contact` in customers.csv, set by hand), by
    /// first and last name: the salutation then names them ("Geachte Anne Jansen") instead of
    /// reading "Geachte Hotel De Linde"; without it the texts write "Geachte heer, mevrouw".
    /// Connectors leave it empty (the contract does not carry it).
    #[serde(default)]
    pub contact: Option<String>,
}

impl Customer {
    /// A customer known by no more than its key, name and kind (the rest unknown).
    pub fn new(id: impl Into<String>, name: impl Into<String>, kind: CustomerKind) -> Customer {
        Customer {
            id: id.into(),
            name: name.into(),
            kind,
            language: None,
            email: None,
            phone: None,
            address: Address::default(),
            customer_since: None,
            payment_method: None,
            segment: None,
            jurisdiction: None,
            account_manager: None,
            credit_limit: None,
            contact: None,
        }
    }

    /// The law that governs this customer's claims: a consumer keeps the mandatory protection
    /// of the country they live in (Rome I, art. 6), so a consumer in the Netherlands or
    /// Belgium gets that country's consumer rules, costs and interest; a consumer elsewhere,
    /// the business's own law (the note says so). A business customer: its explicit
    /// `jurisdiction`, else the business's.
    pub fn law(
        &self,
        business: crate::calendar::Jurisdiction,
    ) -> (crate::calendar::Jurisdiction, Option<String>) {
        use crate::calendar::Jurisdiction;
        match self.kind {
            CustomerKind::B2b => (self.jurisdiction.unwrap_or(business), None),
            CustomerKind::B2c => match self.address.country.as_deref() {
                Some("NL") => (Jurisdiction::Nl, None),
                Some("BE") => (Jurisdiction::Be, None),
                None => (business, None),
                Some(other) => (
                    business,
                    Some(format!(
                        "customer {} is a consumer in {other}: dunwell applies {} law and the EU rules only; the consumer law of {other} may protect them further, so check the amounts before charging them",
                        self.id,
                        business.country()
                    )),
                ),
            },
        }
    }

    /// A consumer whom the Belgian consumer rules protect (Boek XIX WER): one who lives in
    /// Belgium whatever the business's law, or one with no country under a Belgian business
    /// ([`Customer::law`]).
    pub fn is_belgian_consumer(&self, business: crate::calendar::Jurisdiction) -> bool {
        self.kind == CustomerKind::B2c && self.law(business).0 == crate::calendar::Jurisdiction::Be
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub number: String,
    pub customer_id: String,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    /// ISO 4217, upper case.
    pub currency: String,
    pub total: Decimal,
    /// What is still unpaid now (never below zero for an invoice; credit notes are negative totals).
    pub open_amount: Decimal,
    /// The day the payment arrived that brought the open amount to zero; `None` while open,
    /// or when the invoice is paid but no payment date is known.
    pub paid_date: Option<NaiveDate>,
}

impl Invoice {
    pub fn is_open(&self) -> bool {
        self.open_amount > Decimal::ZERO
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub invoice_number: String,
    pub date: NaiveDate,
    pub amount: Decimal,
    pub method: Option<PaymentMethod>,
}

/// What is open on an invoice and the day it was paid in full. The open amount the source
/// stated wins; without one it is the total minus the payments. The paid date is the date of
/// the payment that brought the open amount to zero (`None` while open, for a credit note, or
/// when the source says "paid" without payments to date it). `payments` must be sorted by date.
pub fn settlement(
    total: Decimal,
    declared_open: Option<Decimal>,
    payments: &[(NaiveDate, Decimal)],
) -> (Decimal, Option<NaiveDate>) {
    let paid_sum: Decimal = payments.iter().map(|(_, a)| *a).sum();
    let open = declared_open.unwrap_or(total - paid_sum);
    let paid_date = if open <= Decimal::ZERO && total > Decimal::ZERO {
        let mut remaining = total;
        payments.iter().find_map(|(date, amount)| {
            remaining -= *amount;
            (remaining <= Decimal::ZERO).then_some(*date)
        })
    } else {
        None
    };
    (open, paid_date)
}

/// ISO 3166 alpha-2 check: two ASCII letters. Returned upper-cased.
pub fn parse_country(s: &str) -> Result<String, String> {
    if s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(s.to_ascii_uppercase())
    } else {
        Err(format!("`{s}` is not an ISO 3166 alpha-2 country code; write it like NL or BE"))
    }
}

/// ISO 4217 code check: three ASCII letters. Returned upper-cased.
pub fn parse_currency(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.len() == 3 && t.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(t.to_ascii_uppercase())
    } else {
        Err(format!("`{t}` is not an ISO 4217 currency code (three letters, like EUR)"))
    }
}

/// Parses an amount exactly as the export format writes it: optional minus, digits, optional
/// `.` and decimals. Thousands separators, commas, exponents and spaces inside are refused,
/// because guessing would silently turn `1,234` into 1.234.
pub fn parse_amount(s: &str) -> Result<Decimal, String> {
    let t = s.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return Err(format!(
            "`{t}` is not an amount; write digits with a `.` decimal point and no thousands separator, like 1234.50"
        ));
    }
    if int.len() > 15 || frac.is_some_and(|f| f.len() > 6) {
        return Err(format!(
            "`{t}` is out of range; amounts may have at most 15 digits before and 6 after the decimal point"
        ));
    }
    Decimal::from_str_exact(t).map_err(|e| format!("`{t}` is not an amount: {e}"))
}

/// Parses a `YYYY-MM-DD` date, and nothing else.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let t = s.trim();
    let shaped = t.len() == 10
        && t.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if !shaped {
        return Err(format!("`{t}` is not a date; write YYYY-MM-DD, like 2026-03-31"));
    }
    // The shape is checked, so the digits can be read directly (several times faster than a
    // general format parser, and an import reads millions of dates).
    let num = |r: std::ops::Range<usize>| {
        t.as_bytes()[r].iter().fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'))
    };
    NaiveDate::from_ymd_opt(num(0..4) as i32, num(5..7), num(8..10))
        .ok_or_else(|| format!("`{t}` is not a valid calendar date"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_exactly_or_not_at_all() {
        assert_eq!(parse_amount("1234.50").unwrap().to_string(), "1234.50");
        assert_eq!(parse_amount("-10").unwrap().to_string(), "-10");
        assert_eq!(parse_amount(" 0.1 ").unwrap().to_string(), "0.1");
        for bad in ["1,234.50", "1.234,50", "12e3", "", "-", ".5", "5.", "€5", "1 000", "0x10", "NaN"] {
            assert!(parse_amount(bad).is_err(), "{bad} must be refused");
        }
        assert!(parse_amount("1234567890123456").is_err());
        assert!(parse_amount("1.1234567").is_err());
    }

    #[test]
    fn settlement_from_stated_amount_or_payments() {
        let d = |s: &str| parse_date(s).unwrap();
        let a = |s: &str| parse_amount(s).unwrap();
        let pays = [(d("2026-01-10"), a("40.00")), (d("2026-02-01"), a("60.00"))];
        assert_eq!(settlement(a("100.00"), None, &pays), (a("0.00"), Some(d("2026-02-01"))));
        assert_eq!(settlement(a("100.00"), None, &pays[..1]), (a("60.00"), None));
        // The stated amount wins; paid in full but no payment to date it.
        assert_eq!(settlement(a("100.00"), Some(a("0")), &[]), (a("0"), None));
        assert_eq!(settlement(a("100.00"), Some(a("25.00")), &pays), (a("25.00"), None));
        // Credit notes are never "paid".
        assert_eq!(settlement(a("-50.00"), None, &[]), (a("-50.00"), None));
    }

    #[test]
    fn dates_are_strict_iso() {
        assert_eq!(parse_date("2024-02-29").unwrap().to_string(), "2024-02-29");
        for bad in ["2023-02-29", "2024-2-29", "29-02-2024", "2024/02/29", "20240229", "2024-13-01"] {
            assert!(parse_date(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn enums_parse_case_insensitively() {
        assert_eq!("B2C".parse::<CustomerKind>(), Ok(CustomerKind::B2c));
        assert_eq!("FR".parse::<Language>(), Ok(Language::Fr));
        assert_eq!("direct_debit".parse::<PaymentMethod>(), Ok(PaymentMethod::DirectDebit));
        assert!("consumer".parse::<CustomerKind>().is_err());
        assert_eq!(parse_currency("eur").unwrap(), "EUR");
        assert!(parse_currency("EURO").is_err());
    }
}
