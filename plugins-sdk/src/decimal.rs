//! Exact decimal amounts. Amounts cross the WIT boundary as text such as `"1234.50"`: the host
//! parses that text exactly, so never go through `f64` on the way.

use rust_decimal::Decimal;

use crate::ConnectorError;

/// Parses decimal text exactly: optional sign, digits, optional `.` and digits. Refuses
/// thousands separators, commas, exponents and anything else a float printer might produce.
pub fn parse_amount(text: &str) -> Result<Decimal, ConnectorError> {
    let t = text.trim();
    let digits = t.strip_prefix('-').or_else(|| t.strip_prefix('+')).unwrap_or(t);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let ok = !int.is_empty()
        && int.len() <= 15
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.len() <= 10 && f.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return Err(ConnectorError::InvalidData(format!("`{t}` is not a decimal amount")));
    }
    let unsigned = t.strip_prefix('+').unwrap_or(t);
    Decimal::from_str_exact(unsigned).map_err(|e| ConnectorError::InvalidData(format!("`{t}`: {e}")))
}

/// Formats an amount for the host: plain decimal text, `.` point, no exponent, the scale kept
/// (`227.00` stays `227.00`).
pub fn format_amount(amount: Decimal) -> String {
    amount.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_or_refused() {
        assert_eq!(parse_amount("363.0").unwrap().to_string(), "363.0");
        assert_eq!(parse_amount("-0.10").unwrap().to_string(), "-0.10");
        assert_eq!(format_amount(parse_amount("1210.500").unwrap()), "1210.500");
        for bad in ["1,5", "1e3", "", ".5", "1.", "NaN", "1 000", "12.3.4"] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }
}
