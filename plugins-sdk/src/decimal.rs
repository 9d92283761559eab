//! Exact decimal amounts. Amounts cross the WIT boundary as text such as `"1234.50"`: the host
//! parses that text exactly, so never go through `f64` on the way. Amounts an API sends as
//! JSON numbers are read from the number's own text by [`crate::json`].
//!
//! An amount keeps its scale: `99.9` stays `99.9` here and the host brings it to its
//! currency's decimals when it stores it (`99.90` for EUR).

use rust_decimal::Decimal;

use crate::ConnectorError;

/// Digits before the decimal point [`parse_amount`] accepts.
pub const MAX_INTEGER_DIGITS: usize = 15;
/// Digits after the decimal point [`parse_amount`] accepts.
pub const MAX_FRACTION_DIGITS: usize = 10;

/// Parses decimal text exactly: optional sign, digits, optional `.` and digits. Refuses
/// thousands separators, commas, exponents and anything else a float printer might produce,
/// and more than 15 digits before or 10 after the point. The scale is kept (`"363.0"` is
/// 363.0, not 363).
///
/// The error names the text (`"12,5" is not a decimal amount`); add the record and the field
/// with [`crate::fields`] or [`crate::fields::Context`].
pub fn parse_amount(text: &str) -> Result<Decimal, ConnectorError> {
    let t = text.trim();
    let digits = t.strip_prefix('-').or_else(|| t.strip_prefix('+')).unwrap_or(t);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return Err(ConnectorError::InvalidData(format!("{t:?} is not a decimal amount")));
    }
    if int.len() > MAX_INTEGER_DIGITS || frac.is_some_and(|f| f.len() > MAX_FRACTION_DIGITS) {
        return Err(ConnectorError::InvalidData(format!(
            "{t:?} is out of range: at most {MAX_INTEGER_DIGITS} digits before the decimal point and {MAX_FRACTION_DIGITS} after"
        )));
    }
    let unsigned = t.strip_prefix('+').unwrap_or(t);
    Decimal::from_str_exact(unsigned).map_err(|e| ConnectorError::InvalidData(format!("{t:?}: {e}")))
}

/// Formats an amount for the host: plain decimal text, `.` point, no exponent, the scale kept
/// (`227.00` stays `227.00`).
pub fn format_amount(amount: Decimal) -> String {
    amount.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: ConnectorError) -> String {
        match e {
            ConnectorError::InvalidData(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exact_or_refused() {
        assert_eq!(parse_amount("363.0").unwrap().to_string(), "363.0");
        assert_eq!(parse_amount("-0.10").unwrap().to_string(), "-0.10");
        assert_eq!(parse_amount("+5").unwrap().to_string(), "5");
        assert_eq!(format_amount(parse_amount("1210.500").unwrap()), "1210.500");
        assert_eq!(
            format_amount(parse_amount("999999999999999.9999999999").unwrap()),
            "999999999999999.9999999999"
        );
        for bad in ["1,5", "1e3", "", ".5", "1.", "NaN", "1 000", "12.3.4", "--1", "0x10"] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_text() {
        assert_eq!(message(parse_amount("12,5").unwrap_err()), r#""12,5" is not a decimal amount"#);
        assert!(message(parse_amount("1234567890123456").unwrap_err()).contains("out of range"));
        assert!(message(parse_amount("1.12345678901").unwrap_err()).contains("out of range"));
    }
}
