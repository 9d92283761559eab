//! Amounts an API sends as JSON numbers, read exactly: from the number's own text, never
//! through `f64` (which turns `12345678901234567890.12` into `12345678901234567000` and
//! cannot hold `0.1`).
//!
//! ```
//! use dunwell_plugin_sdk::prelude::*;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Row {
//!     id: u64,
//!     // `121.0` or `"121.00"`: the exact text, checked per record with `fields`.
//!     total: JsonAmount,
//!     // Straight into a Decimal; a bad value fails the whole response.
//!     #[serde(deserialize_with = "json::decimal")]
//!     paid: Decimal,
//!     #[serde(default, deserialize_with = "json::optional_decimal")]
//!     discount: Option<Decimal>,
//! }
//! # fn main() -> Result<(), ConnectorError> {
//! // What `http::get(…).send()?.json()?` decodes, here from a string:
//! let rows: Vec<Row> = serde_json::from_str(r#"[{"id": 17, "total": 0.1, "paid": 1e2}]"#).unwrap();
//! assert_eq!(fields("invoice", rows[0].id).amount("total", &rows[0].total)?, "0.1");
//! assert_eq!(rows[0].paid.to_string(), "100");
//! assert_eq!(rows[0].discount, None);
//! # Ok(()) }
//! ```
//!
//! The number's text comes from serde_json's `RawValue`, so these work with
//! [`crate::http::Response::json`], `serde_json::from_slice` and `serde_json::from_str`, at any
//! depth; not through a `serde_json::Value`, an untagged enum or `#[serde(flatten)]` (serde
//! has already turned the number into an `f64` there, and they refuse it with an error).

use std::fmt;

use rust_decimal::Decimal;
use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::value::RawValue;

use crate::decimal::parse_amount;
use crate::ConnectorError;

/// An amount as the API sent it: a JSON number, as its exact plain decimal text (`1e2` is
/// `"100"`, `0.10` is `"0.10"`, `-0.00` is `"0.00"`), or a JSON string, as it is. Check it
/// per record with [`crate::fields::Fields::amount`] (or [`parse_amount`]): a bad one is then
/// that record's problem, not the whole response's. Derefs to `&str`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct JsonAmount(pub String);

impl JsonAmount {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The amount as a [`Decimal`] (see [`parse_amount`]).
    pub fn decimal(&self) -> Result<Decimal, ConnectorError> {
        parse_amount(&self.0)
    }
}

impl std::ops::Deref for JsonAmount {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for JsonAmount {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JsonAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for JsonAmount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Token::read(deserializer)? {
            Token::Number(raw) => number_text(&raw).map(JsonAmount).map_err(D::Error::custom),
            Token::Text(text) => Ok(JsonAmount(text)),
        }
    }
}

/// For `#[serde(deserialize_with = "json::decimal")]` on a [`Decimal`] field: a JSON number
/// read exactly from its text, or a JSON string of decimal text ([`parse_amount`]). Anything
/// else fails the whole response, with the value and serde_json's line and column; to set one
/// record aside instead, use [`JsonAmount`].
pub fn decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    match Token::read(deserializer)? {
        Token::Number(raw) => parse_number(&raw),
        Token::Text(text) => parse_amount(&text),
    }
    .map_err(|e| D::Error::custom(e.message()))
}

/// [`decimal`] for an `Option<Decimal>` field: `null` is `None`. Add `#[serde(default)]` too,
/// so that a missing field is `None` as well.
pub fn optional_decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Decimal>, D::Error> {
    struct Wrapped(Decimal);
    impl<'de> Deserialize<'de> for Wrapped {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            decimal(deserializer).map(Wrapped)
        }
    }
    Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|w| w.0))
}

/// A JSON number's text (`12.50`, `-1.5e3`) as a [`Decimal`], exactly: the scale is the
/// number's own (`12.50` keeps two decimals; `1e2` is 100). Numbers a `Decimal` cannot hold
/// exactly (more than 28 digits) are refused, never rounded. `-0` is 0.
pub fn parse_number(token: &str) -> Result<Decimal, ConnectorError> {
    let text = number_text(token).map_err(ConnectorError::InvalidData)?;
    Decimal::from_str_exact(&text).map_err(|_| {
        ConnectorError::InvalidData(format!(
            "{} cannot be held exactly (at most 28 significant digits)",
            token.trim()
        ))
    })
}

/// A JSON number's text as plain decimal text without an exponent, exactly (`1e2` →
/// `100`, `1.5E-3` → `0.0015`, `-0.00` → `0.00`).
fn number_text(token: &str) -> Result<String, String> {
    let t = token.trim();
    let not_a_number = || format!("{t} is not a JSON number");
    let (negative, rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || (int.len() > 1 && int.starts_with('0')) || (mantissa.contains('.') && !digits(frac)) {
        return Err(not_a_number());
    }
    let exponent: i64 = match exponent {
        None => 0,
        Some(e) => {
            let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
            if !digits(unsigned) {
                return Err(not_a_number());
            }
            // A longer exponent is out of any amount's range whatever its mantissa.
            let value: i64 = unsigned.parse().ok().filter(|v| *v <= 1000).ok_or_else(|| out_of_range(t))?;
            if e.starts_with('-') {
                -value
            } else {
                value
            }
        }
    };
    let mut all = format!("{int}{frac}");
    let mut scale = frac.len() as i64 - exponent;
    if scale < 0 {
        all.extend(std::iter::repeat_n('0', (-scale) as usize));
        scale = 0;
    }
    let scale = scale as usize;
    // Leading zeros off, but one digit before the point stays.
    let significant = all.trim_start_matches('0');
    let mut plain = String::new();
    let whole_len = significant.len().saturating_sub(scale);
    if significant.len() > 40 || scale > 40 {
        return Err(out_of_range(t));
    }
    if whole_len == 0 {
        plain.push('0');
    } else {
        plain.push_str(&significant[..whole_len]);
    }
    if scale > 0 {
        plain.push('.');
        plain.extend(std::iter::repeat_n('0', scale.saturating_sub(significant.len())));
        plain.push_str(&significant[whole_len..]);
    }
    if negative && significant.bytes().any(|b| b != b'0') {
        plain.insert(0, '-');
    }
    Ok(plain)
}

fn out_of_range(t: &str) -> String {
    format!("{t} is out of range for an amount")
}

/// A JSON value as the deserializer holds it: a number's raw text, or a string's content.
enum Token {
    Number(String),
    Text(String),
}

impl Token {
    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Token, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let raw = raw.get().trim();
        match raw.as_bytes().first() {
            Some(b'"') => serde_json::from_str::<String>(raw).map(Token::Text).map_err(D::Error::custom),
            Some(b'-' | b'0'..=b'9') => Ok(Token::Number(raw.to_string())),
            _ => Err(D::Error::custom(format!("{raw} is not an amount (a JSON number or string)"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    struct Row {
        #[serde(deserialize_with = "decimal")]
        total: Decimal,
        #[serde(default, deserialize_with = "optional_decimal")]
        discount: Option<Decimal>,
        unpaid: JsonAmount,
        credit: Option<JsonAmount>,
    }

    fn row(json: &str) -> Result<Row, serde_json::Error> {
        serde_json::from_str(json)
    }

    fn total(number: &str) -> String {
        row(&format!(r#"{{"total": {number}, "unpaid": 0}}"#)).unwrap().total.to_string()
    }

    #[test]
    fn numbers_are_read_from_their_text() {
        assert_eq!(total("0.1"), "0.1");
        assert_eq!(total("1e2"), "100");
        assert_eq!(total("1E+2"), "100");
        assert_eq!(total("12345678901234567890.12"), "12345678901234567890.12");
        assert_eq!(total("-0.00"), "0.00");
        assert_eq!(total("-0"), "0");
        assert_eq!(total("99.90"), "99.90", "the scale is kept");
        assert_eq!(total("1.5e-3"), "0.0015");
        assert_eq!(total("-12.5E1"), "-125");
        assert_eq!(total("0.000"), "0.000");
        assert_eq!(total("1210.500"), "1210.500");
        assert_eq!(total(r#""121.00""#), "121.00", "a string works too");
        assert_eq!(total(r#""-0.10""#), "-0.10");
        // Through f64 these would not survive:
        assert_eq!(total("9007199254740993"), "9007199254740993");
        assert_eq!(total("0.30000000000000004441"), "0.30000000000000004441");
    }

    #[test]
    fn what_cannot_be_held_exactly_is_refused() {
        for bad in [
            "123456789012345678901234567890",
            "1e29",
            "1e-29",
            "1e400",
            "1e99999999999999999999",
            r#""12,5""#,
            r#""1e3""#,
            "true",
            r#"{"value": 1}"#,
            "null",
        ] {
            let err = row(&format!(r#"{{"total": {bad}, "unpaid": 0}}"#)).unwrap_err().to_string();
            assert!(!err.is_empty(), "{bad}");
        }
        let err = row(r#"{"total": "12,5", "unpaid": 0}"#).unwrap_err().to_string();
        assert!(err.starts_with(r#""12,5" is not a decimal amount at line 1"#), "{err}");
        let err = row(r#"{"total": 1e-29, "unpaid": 0}"#).unwrap_err().to_string();
        assert!(err.contains("cannot be held exactly"), "{err}");
    }

    #[test]
    fn json_amount_keeps_the_text_for_a_check_per_record() {
        let r = row(r#"{"total": 1, "unpaid": 1e2, "credit": -0.50}"#).unwrap();
        assert_eq!(r.unpaid.as_str(), "100");
        assert_eq!(r.credit.as_deref(), Some("-0.50"));
        assert_eq!(r.discount, None);
        let r = row(r#"{"total": 1, "unpaid": "12,5", "credit": null, "discount": 2.50}"#).unwrap();
        assert_eq!(&*r.unpaid, "12,5", "a string is kept as sent");
        assert_eq!(r.credit, None);
        assert_eq!(r.discount.map(|d| d.to_string()).as_deref(), Some("2.50"));
        let e = crate::fields::fields("invoice", 17).amount("unpaid", &r.unpaid).unwrap_err();
        assert_eq!(e.message(), r#"invoice 17: unpaid: "12,5" is not a decimal amount"#);
        assert!(row(r#"{"total": 1, "unpaid": 1, "discount": null}"#).unwrap().discount.is_none());
        assert!(row(r#"{"total": 1, "unpaid": true}"#).is_err());
    }

    #[test]
    fn parse_number_alone() {
        assert_eq!(parse_number("12.50").unwrap().to_string(), "12.50");
        assert_eq!(parse_number("-1.5e3").unwrap().to_string(), "-1500");
        for bad in ["", "-", "1.", ".5", "01", "1e", "1e+", "+1", "1,5", "0x1", "1.2.3", "NaN"] {
            assert!(parse_number(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn through_the_response_and_nested() {
        #[derive(Deserialize)]
        struct Page {
            items: Vec<Row>,
        }
        let body = br#"{"items": [{"total": 0.1, "unpaid": 0.10}, {"total": 1e2, "unpaid": "3.00"}]}"#;
        let response = crate::http::Response(crate::testing::HttpResponse {
            status: 200,
            headers: vec![],
            body: body.to_vec(),
        });
        let page: Page = response.json().unwrap();
        assert_eq!(page.items[0].total.to_string(), "0.1");
        assert_eq!(page.items[0].unpaid.as_str(), "0.10");
        assert_eq!(page.items[1].total.to_string(), "100");
    }
}
