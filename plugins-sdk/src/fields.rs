//! Errors that say which record and which field: `invoice 17: total: "12,5" is not a decimal
//! amount`, not just `"12,5" is not a decimal amount` somewhere in a page of a hundred.
//!
//! ```
//! use dunwell_plugin_sdk::prelude::*;
//! # fn main() -> Result<(), ConnectorError> {
//! let f = fields("invoice", 17);
//! assert_eq!(f.amount("total", "121.00")?, "121.00"); // exact, the scale kept
//! assert_eq!(f.date("date", "2026-09-01")?, "2026-09-01");
//! assert_eq!(f.timestamp_date("paid_at", "2026-09-20T14:03:00Z")?, "2026-09-20");
//! let e = f.amount("total", "12,5").unwrap_err();
//! assert_eq!(e.message(), r#"invoice 17: total: "12,5" is not a decimal amount"#);
//! let e = f.required("customer", None::<String>).unwrap_err();
//! assert_eq!(e.message(), "invoice 17: customer: is missing");
//! // Any other helper's error, with its context:
//! let e = OffsetPaging::new(&PageRequest { cursor: Some("2|x".into()), limit: 10 }).context("invoices");
//! assert!(e.unwrap_err().message().starts_with(r#"invoices: "2|x" is not a cursor"#));
//! # Ok(()) }
//! ```

use std::fmt::Display;

use rust_decimal::Decimal;

use crate::decimal::{format_amount, parse_amount};
use crate::ConnectorError;

impl ConnectorError {
    /// The error's text without the variant's name (`"12,5" is not a decimal amount`); for a
    /// rate limit, `rate limited` and the wait when known. This is what to pass to
    /// [`crate::unusable`].
    pub fn message(&self) -> String {
        match self {
            ConnectorError::InvalidConfig(m)
            | ConnectorError::Auth(m)
            | ConnectorError::Remote(m)
            | ConnectorError::InvalidData(m)
            | ConnectorError::Unsupported(m)
            | ConnectorError::Internal(m) => m.clone(),
            ConnectorError::RateLimited(Some(secs)) => format!("rate limited for {secs} s"),
            ConnectorError::RateLimited(None) => "rate limited".into(),
        }
    }

    /// The same error with `what: ` in front of its text (`invoice 17: total: …`). A rate
    /// limit, which has no text, is returned as it is.
    pub fn context(self, what: impl Display) -> ConnectorError {
        let with = |m: String| format!("{what}: {m}");
        match self {
            ConnectorError::InvalidConfig(m) => ConnectorError::InvalidConfig(with(m)),
            ConnectorError::Auth(m) => ConnectorError::Auth(with(m)),
            ConnectorError::Remote(m) => ConnectorError::Remote(with(m)),
            ConnectorError::InvalidData(m) => ConnectorError::InvalidData(with(m)),
            ConnectorError::Unsupported(m) => ConnectorError::Unsupported(with(m)),
            ConnectorError::Internal(m) => ConnectorError::Internal(with(m)),
            limited @ ConnectorError::RateLimited(_) => limited,
        }
    }
}

/// Adds context to the error of a `Result<_, ConnectorError>`:
/// `parse_amount(&row.total).context(format!("invoice {}: total", row.id))?`.
pub trait Context<T> {
    /// The error, if any, with `what: ` in front of its text.
    fn context(self, what: impl Display) -> Result<T, ConnectorError>;
}

impl<T> Context<T> for Result<T, ConnectorError> {
    fn context(self, what: impl Display) -> Result<T, ConnectorError> {
        self.map_err(|e| e.context(what))
    }
}

/// Reads the fields of one record of the source; every error names the record and the field.
/// Make one per record with [`fields`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    record: String,
}

/// The fields of the record `kind id` (`fields("invoice", 17)`: errors start with
/// `invoice 17: `).
pub fn fields(kind: &str, id: impl Display) -> Fields {
    Fields { record: format!("{kind} {id}") }
}

impl Fields {
    /// The record as errors name it (`invoice 17`).
    pub fn record(&self) -> &str {
        &self.record
    }

    /// An [`ConnectorError::InvalidData`] about `field` of this record:
    /// `invoice 17: pages: is not a number`.
    pub fn error(&self, field: &str, message: impl Display) -> ConnectorError {
        ConnectorError::InvalidData(format!("{}: {field}: {message}", self.record))
    }

    /// An amount as exact decimal text for a record of the contract (`"121.00"`, the scale
    /// kept), from the source's text: a string field, or a [`crate::json::JsonAmount`] (a JSON
    /// number or string). See [`parse_amount`] for what is accepted.
    pub fn amount(&self, field: &str, text: &str) -> Result<String, ConnectorError> {
        self.decimal(field, text).map(format_amount)
    }

    /// An amount as a [`Decimal`], to compute with (see [`Fields::amount`]).
    pub fn decimal(&self, field: &str, text: &str) -> Result<Decimal, ConnectorError> {
        parse_amount(text).map_err(|e| self.wrap(field, e))
    }

    /// A checked `YYYY-MM-DD` date (see [`crate::date::check`]; convert other formats first,
    /// e.g. with [`crate::date::from_timestamp`]).
    pub fn date(&self, field: &str, text: &str) -> Result<String, ConnectorError> {
        crate::date::check(text).map_err(|e| self.wrap(field, e))
    }

    /// The day of a timestamp as it is written (`2026-09-20T14:03:00+02:00` is `2026-09-20`;
    /// see [`crate::date::from_timestamp`]), or of a plain date.
    pub fn timestamp_date(&self, field: &str, text: &str) -> Result<String, ConnectorError> {
        crate::date::from_timestamp(text).map_err(|e| self.wrap(field, e))
    }

    /// A value that must be there: `None`, or text that is empty or only spaces, is an error
    /// (`invoice 17: customer: is missing`).
    pub fn required<T: Present>(&self, field: &str, value: Option<T>) -> Result<T, ConnectorError> {
        value.filter(Present::present).ok_or_else(|| self.error(field, "is missing"))
    }

    /// Any other helper's error, about `field` of this record.
    pub fn wrap(&self, field: &str, error: ConnectorError) -> ConnectorError {
        error.context(format_args!("{}: {field}", self.record))
    }
}

/// What [`Fields::required`] accepts: text counts only when it is not blank.
pub trait Present {
    /// Whether the value counts as given.
    fn present(&self) -> bool;
}

impl Present for String {
    fn present(&self) -> bool {
        !self.trim().is_empty()
    }
}

impl Present for &str {
    fn present(&self) -> bool {
        !self.trim().is_empty()
    }
}

macro_rules! always_present {
    ($($t:ty),*) => { $(impl Present for $t { fn present(&self) -> bool { true } })* };
}
always_present!(u8, u16, u32, u64, i8, i16, i32, i64, bool, Decimal, crate::json::JsonAmount);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_record_and_the_field() {
        let f = fields("invoice", 17);
        assert_eq!(f.amount("total", "121.00").unwrap(), "121.00");
        assert_eq!(f.amount("total", "99.9").unwrap(), "99.9", "the scale is kept");
        let e = f.amount("total", "12,5").unwrap_err();
        assert!(matches!(e, ConnectorError::InvalidData(_)));
        assert_eq!(e.message(), r#"invoice 17: total: "12,5" is not a decimal amount"#);
        assert_eq!(f.date("due", "2026-10-01").unwrap(), "2026-10-01");
        assert_eq!(
            f.date("due", "01-10-2026").unwrap_err().message(),
            r#"invoice 17: due: "01-10-2026" is not a date (YYYY-MM-DD)"#
        );
        assert_eq!(f.timestamp_date("paid_at", "2026-09-20T14:03:00+02:00").unwrap(), "2026-09-20");
        assert_eq!(
            f.timestamp_date("paid_at", "20-09-2026 14:03").unwrap_err().message(),
            r#"invoice 17: paid_at: "20-09-2026 14:03" is not a date or a timestamp"#
        );
        assert_eq!(f.required("customer", Some("C1".to_string())).unwrap(), "C1");
        assert_eq!(
            f.required::<String>("customer", None).unwrap_err().message(),
            "invoice 17: customer: is missing"
        );
        assert_eq!(
            f.required("customer", Some("  ")).unwrap_err().message(),
            "invoice 17: customer: is missing"
        );
        assert_eq!(f.required("pages", Some(0u32)).unwrap(), 0);
        assert_eq!(f.error("pages", "is not a number").message(), "invoice 17: pages: is not a number");
        assert_eq!(f.record(), "invoice 17");
    }

    #[test]
    fn context_keeps_the_kind_of_error() {
        let r: Result<(), ConnectorError> = Err(ConnectorError::Remote("the server answered 500".into()));
        let e = r.context("customers").unwrap_err();
        assert!(
            matches!(&e, ConnectorError::Remote(m) if m == "customers: the server answered 500"),
            "{e:?}"
        );
        let e = ConnectorError::RateLimited(Some(30)).context("invoices");
        assert!(matches!(e, ConnectorError::RateLimited(Some(30))));
        assert_eq!(e.message(), "rate limited for 30 s");
        let e = parse_amount("1e3").context("invoice F1: total").unwrap_err();
        assert_eq!(e.message(), r#"invoice F1: total: "1e3" is not a decimal amount"#);
    }
}
