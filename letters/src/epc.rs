//! The EPC QR code ("GiroCode", EPC069-12 version 002) and the checks behind it: IBAN and BIC,
//! the Belgian structured communication (`+++123/4567/89002+++`) and the ISO 11649 creditor
//! reference (`RF18 5390 0754 7034`).
//!
//! Anything out of range is refused with [`LetterError::Epc`]: a letter without a QR code is
//! better than a QR code that pays the wrong account, amount or reference.

use qrcode::{EcLevel, QrCode, Version};
use rust_decimal::Decimal;

use crate::{LetterError, Payment};

/// At most this many bytes of payload (EPC069-12: QR version 13 at error correction level M).
pub const MAX_PAYLOAD_BYTES: usize = 331;

fn epc(field: &'static str, reason: impl Into<String>) -> LetterError {
    LetterError::Epc { field, reason: reason.into() }
}

/// The payload of the EPC QR code for `p`, lines separated by LF, nothing after the last used
/// line:
///
/// ```text
/// BCD / 002 / 1 (UTF-8) / SCT / BIC (may be empty) / name / IBAN / EUR12.34 / purpose (empty) /
/// structured reference (line 10) / unstructured text (line 11, only without a reference) /
/// information to the payer (line 12)
/// ```
///
/// The Belgian structured communication goes into line 10 as its 12 digits, an RF reference
/// without spaces. Errors: an IBAN or BIC that does not check out, a name that is empty or
/// longer than 70 characters, an amount outside 0.01–999,999,999.99 or with more than two
/// decimals, a reference that is neither a valid Belgian communication nor a valid RF
/// reference, a reference *and* a text (EPC069-12 allows one of them), a text over 140 or an
/// information over 70 characters, any line break or control character, or more than
/// [`MAX_PAYLOAD_BYTES`] bytes in all.
pub fn epc_payload(p: &Payment) -> Result<String, LetterError> {
    let bic = match &p.bic {
        Some(b) => bic(b).map_err(|r| epc("bic", r))?,
        None => String::new(),
    };
    let name = line("name", &p.name, 70)?;
    if name.is_empty() {
        return Err(epc("name", "the beneficiary's name is empty"));
    }
    let iban = iban(&p.iban).map_err(|r| epc("iban", r))?;
    let amount = amount(p.amount)?;
    let reference = match &p.reference {
        Some(r) => Some(Reference::parse(r).map_err(|r| epc("reference", r))?),
        None => None,
    };
    let text = match &p.text {
        Some(t) => line("text", t, 140)?,
        None => String::new(),
    };
    if reference.is_some() && !text.is_empty() {
        return Err(epc(
            "text",
            "a structured reference and an unstructured text exclude each other (EPC069-12); give one",
        ));
    }
    let info = match &p.info {
        Some(i) => line("info", i, 70)?,
        None => String::new(),
    };
    let mut lines = vec![
        "BCD".to_string(),
        "002".to_string(),
        "1".to_string(),
        "SCT".to_string(),
        bic,
        name,
        iban,
        amount,
        String::new(), // purpose
        reference.map(|r| r.payload()).unwrap_or_default(),
        text,
        info,
    ];
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    let payload = lines.join("\n");
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(epc(
            "payment",
            format!("{} bytes of QR payload, at most {MAX_PAYLOAD_BYTES} are allowed", payload.len()),
        ));
    }
    Ok(payload)
}

/// The EPC QR code of `payload` as an SVG image (error correction level M, with its quiet
/// zone, one unit per module).
pub fn qr_svg(payload: &str) -> Result<String, LetterError> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .map_err(|e| epc("payment", format!("no QR code: {e}")))?;
    match code.version() {
        Version::Normal(v) if v <= 13 => {}
        v => return Err(epc("payment", format!("QR version {v:?} is above the 13 EPC069-12 allows"))),
    }
    Ok(code.render::<qrcode::render::svg::Color>().quiet_zone(true).module_dimensions(1, 1).build())
}

/// One line of free text: trimmed, at most `max` characters, no line break or other control
/// character (they would shift every following line of the payload).
fn line(field: &'static str, s: &str, max: usize) -> Result<String, LetterError> {
    let t = s.trim();
    if t.chars().any(char::is_control) {
        return Err(epc(field, "contains a line break or another control character"));
    }
    let n = t.chars().count();
    if n > max {
        return Err(epc(field, format!("{n} characters, at most {max} are allowed")));
    }
    Ok(t.to_string())
}

fn amount(a: Decimal) -> Result<String, LetterError> {
    let min = Decimal::new(1, 2);
    let max = Decimal::new(99_999_999_999, 2);
    if a < min || a > max {
        return Err(epc("amount", format!("{a} is outside EUR 0.01 to 999999999.99")));
    }
    if a.normalize().scale() > 2 {
        return Err(epc("amount", format!("{a} has more than two decimals")));
    }
    let mut a = a;
    a.rescale(2);
    Ok(format!("EUR{a}"))
}

/// The IBAN's length in the countries of the SEPA scheme (unknown countries get only the
/// general checks: 15–34 characters and mod 97).
#[rustfmt::skip]
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24), ("AT", 20), ("BE", 16), ("BG", 22), ("CH", 21), ("CY", 28), ("CZ", 24),
    ("DE", 22), ("DK", 18), ("EE", 20), ("ES", 24), ("FI", 18), ("FR", 27), ("GB", 22),
    ("GI", 23), ("GR", 27), ("HR", 21), ("HU", 28), ("IE", 22), ("IS", 26), ("IT", 27),
    ("LI", 21), ("LT", 20), ("LU", 20), ("LV", 21), ("MC", 27), ("MT", 31), ("NL", 18),
    ("NO", 15), ("PL", 28), ("PT", 25), ("RO", 24), ("SE", 24), ("SI", 19), ("SK", 24),
    ("SM", 27), ("VA", 22),
];

/// Checks an IBAN (spaces allowed, any case) and returns it without spaces, in capitals.
pub fn iban(s: &str) -> Result<String, String> {
    let iban: String = s.chars().filter(|c| *c != ' ').collect::<String>().to_ascii_uppercase();
    let b = iban.as_bytes();
    if !(15..=34).contains(&b.len()) {
        return Err(format!("`{s}` is not an IBAN: {} characters", b.len()));
    }
    if !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[2..4].iter().all(u8::is_ascii_digit)
        || !b[4..].iter().all(u8::is_ascii_alphanumeric)
    {
        return Err(format!("`{s}` is not an IBAN: two letters, two check digits, then letters and digits"));
    }
    if let Some((_, len)) = IBAN_LENGTHS.iter().find(|(c, _)| c.as_bytes() == &b[..2]) {
        if b.len() != *len {
            return Err(format!(
                "`{s}` is not an IBAN: {} has {len} characters, not {}",
                &iban[..2],
                b.len()
            ));
        }
    }
    let rearranged = iban[4..].chars().chain(iban[..4].chars());
    if mod97(rearranged) != 1 {
        return Err(format!("`{s}` is not an IBAN: the check digits do not match (mod 97)"));
    }
    Ok(iban)
}

/// Checks a BIC (8 or 11 characters: bank, country, location, branch) and returns it in capitals.
pub fn bic(s: &str) -> Result<String, String> {
    let bic = s.trim_matches(' ').to_ascii_uppercase();
    let b = bic.as_bytes();
    let ok = (b.len() == 8 || b.len() == 11)
        && b[..6].iter().all(u8::is_ascii_uppercase)
        && b[6..].iter().all(u8::is_ascii_alphanumeric);
    if ok {
        Ok(bic)
    } else {
        Err(format!("`{s}` is not a BIC: 8 or 11 letters and digits (AAAABBCC or AAAABBCCDDD)"))
    }
}

/// ISO 7064 mod 97-10 over digits and letters (A = 10 … Z = 35); `None`-free: callers have
/// checked that every character is an ASCII letter or digit.
fn mod97(chars: impl Iterator<Item = char>) -> u32 {
    chars.fold(0u32, |acc, c| {
        let v = c.to_digit(36).expect("checked alphanumeric");
        if v < 10 {
            (acc * 10 + v) % 97
        } else {
            (acc * 100 + v) % 97
        }
    })
}

/// A structured payment reference, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// The Belgian structured communication (OGM/VCS): its 12 digits, the last two `mod 97`
    /// of the first ten (97 when that is 0).
    Belgian(String),
    /// An ISO 11649 creditor reference: `RF`, two check digits, up to 21 letters and digits,
    /// without spaces, in capitals.
    Creditor(String),
}

impl Reference {
    /// Reads `+++123/4567/89002+++` (or with `***`, or the bare 12 digits) and `RF…` (spaces
    /// allowed, any case). Anything else is refused.
    pub fn parse(s: &str) -> Result<Reference, String> {
        let t = s.trim();
        if t.len() >= 2 && t[..2].eq_ignore_ascii_case("RF") {
            let r: String = t.chars().filter(|c| *c != ' ').collect::<String>().to_ascii_uppercase();
            let b = r.as_bytes();
            if !(5..=25).contains(&b.len())
                || !b[2..4].iter().all(u8::is_ascii_digit)
                || !b[4..].iter().all(u8::is_ascii_alphanumeric)
            {
                return Err(format!(
                    "`{s}` is not an RF creditor reference (ISO 11649): RF, two check digits, 1 to 21 letters and digits"
                ));
            }
            if mod97(r[4..].chars().chain(r[..4].chars())) != 1 {
                return Err(format!(
                    "`{s}`: the check digits of the RF creditor reference do not match (ISO 11649)"
                ));
            }
            return Ok(Reference::Creditor(r));
        }
        let inner = t
            .strip_prefix("+++")
            .and_then(|x| x.strip_suffix("+++"))
            .or_else(|| t.strip_prefix("***").and_then(|x| x.strip_suffix("***")))
            .unwrap_or(t);
        let digits: String = inner.chars().filter(|c| !matches!(c, '/' | ' ' | '.')).collect();
        if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`{s}` is neither a Belgian structured communication (+++123/4567/89002+++) nor an RF creditor reference"
            ));
        }
        let base: u64 = digits[..10].parse().expect("ten digits");
        let check: u64 = digits[10..].parse().expect("two digits");
        let expected = match base % 97 {
            0 => 97,
            r => r,
        };
        if check != expected {
            return Err(format!(
                "`{s}`: the check digits of the Belgian structured communication do not match (mod 97 gives {expected:02})"
            ));
        }
        Ok(Reference::Belgian(digits))
    }

    /// As it goes into line 10 of the EPC payload: the 12 digits, or the RF reference.
    pub fn payload(&self) -> String {
        match self {
            Reference::Belgian(d) | Reference::Creditor(d) => d.clone(),
        }
    }

    /// As printed on the letter: `+++123/4567/89002+++`, or `RF18 5390 0754 7034`.
    pub fn printed(&self) -> String {
        match self {
            Reference::Belgian(d) => format!("+++{}/{}/{}+++", &d[..3], &d[3..7], &d[7..]),
            Reference::Creditor(r) => groups_of_four(r),
        }
    }
}

/// `NL91ABNA0417164300` → `NL91 ABNA 0417 1643 00`.
pub fn groups_of_four(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn payment() -> Payment {
        Payment {
            name: "Bakkerij Één & Zonen".into(),
            iban: "NL91 ABNA 0417 1643 00".into(),
            bic: Some("ABNANL2A".into()),
            amount: Decimal::from_str("1234.56").unwrap(),
            reference: Some("RF18 5390 0754 7034".into()),
            text: None,
            info: None,
        }
    }

    #[test]
    fn payload_with_an_rf_reference_byte_for_byte() {
        let p = payment();
        assert_eq!(
            epc_payload(&p).unwrap(),
            "BCD\n002\n1\nSCT\nABNANL2A\nBakkerij Één & Zonen\nNL91ABNA0417164300\nEUR1234.56\n\nRF18539007547034"
        );
    }

    #[test]
    fn payload_with_a_belgian_communication_byte_for_byte() {
        let p = Payment {
            name: "Brasserie François".into(),
            iban: "BE68 5390 0754 7034".into(),
            bic: None,
            amount: Decimal::from_str("7.5").unwrap(),
            reference: Some("+++090/9337/55493+++".into()),
            text: None,
            info: Some("Herinnering 2".into()),
        };
        assert_eq!(
            epc_payload(&p).unwrap(),
            "BCD\n002\n1\nSCT\n\nBrasserie François\nBE68539007547034\nEUR7.50\n\n090933755493\n\nHerinnering 2"
        );
    }

    #[test]
    fn payload_with_text_only_byte_for_byte() {
        let mut p = payment();
        p.reference = None;
        p.text = Some("  Factuur 2026/0017  ".into());
        p.amount = Decimal::from_str("999999999.99").unwrap();
        assert_eq!(
            epc_payload(&p).unwrap(),
            "BCD\n002\n1\nSCT\nABNANL2A\nBakkerij Één & Zonen\nNL91ABNA0417164300\nEUR999999999.99\n\n\nFactuur 2026/0017"
        );
        // Nothing at all after the amount: the payload ends there.
        p.text = None;
        p.amount = Decimal::from_str("0.01").unwrap();
        assert_eq!(
            epc_payload(&p).unwrap(),
            "BCD\n002\n1\nSCT\nABNANL2A\nBakkerij Één & Zonen\nNL91ABNA0417164300\nEUR0.01"
        );
    }

    #[test]
    fn references_are_read_and_printed() {
        let be = Reference::parse("+++090/9337/55493+++").unwrap();
        assert_eq!(be, Reference::Belgian("090933755493".into()));
        assert_eq!(be.printed(), "+++090/9337/55493+++");
        assert_eq!(Reference::parse("***090/9337/55493***").unwrap(), be);
        assert_eq!(Reference::parse("090933755493").unwrap(), be);
        // A remainder of 0 gives check digits 97.
        assert_eq!(Reference::parse("+++000/0000/09797+++").unwrap().payload(), "000000009797");
        let rf = Reference::parse("rf18 5390 0754 7034").unwrap();
        assert_eq!(rf.payload(), "RF18539007547034");
        assert_eq!(rf.printed(), "RF18 5390 0754 7034");
    }

    #[test]
    fn bad_input_is_refused_not_printed() {
        let refused = |f: &dyn Fn(&mut Payment)| {
            let mut p = payment();
            f(&mut p);
            if let Ok(payload) = epc_payload(&p) {
                panic!("must be refused: {payload:?}");
            }
        };
        refused(&|p| p.iban = "NL92ABNA0417164300".into()); // check digits
        refused(&|p| p.iban = "NL91ABNA041716430".into()); // length
        refused(&|p| p.iban = "NL91-ABNA-0417-1643-00".into());
        refused(&|p| p.bic = Some("ABNANL2".into()));
        refused(&|p| p.bic = Some("ABNANL2A\n".into()));
        refused(&|p| p.name = "".into());
        refused(&|p| p.name = "x".repeat(71));
        refused(&|p| p.name = "Jansen\nBV".into());
        refused(&|p| p.amount = Decimal::ZERO);
        refused(&|p| p.amount = Decimal::from_str("-5").unwrap());
        refused(&|p| p.amount = Decimal::from_str("0.001").unwrap());
        refused(&|p| p.amount = Decimal::from_str("12.345").unwrap());
        refused(&|p| p.amount = Decimal::from_str("1000000000.00").unwrap());
        refused(&|p| p.reference = Some("+++090/9337/55494+++".into())); // BE check digits
        refused(&|p| p.reference = Some("RF19539007547034".into())); // RF check digits
        refused(&|p| p.reference = Some("Factuur 17".into()));
        refused(&|p| p.reference = Some("RF18".into()));
        refused(&|p| p.text = Some("Factuur 17".into())); // both a reference and a text
        refused(&|p| {
            p.reference = None;
            p.text = Some("x".repeat(141));
        });
        refused(&|p| p.info = Some("y".repeat(71)));
        // Within every field's limit but over 331 bytes in all (2-byte letters).
        refused(&|p| {
            p.reference = None;
            p.name = "é".repeat(70);
            p.text = Some("ë".repeat(140));
            p.info = Some("ç".repeat(70));
        });
        // Trailing zeros are not extra decimals.
        let mut p = payment();
        p.amount = Decimal::from_str("12.3400").unwrap();
        assert!(epc_payload(&p).unwrap().contains("\nEUR12.34\n"));
    }

    #[test]
    fn ibans_and_bics() {
        assert_eq!(iban("be68 5390 0754 7034").unwrap(), "BE68539007547034");
        assert_eq!(iban("DE89370400440532013000").unwrap(), "DE89370400440532013000");
        assert!(iban("BE68539007547035").is_err());
        assert_eq!(bic("gebabebb").unwrap(), "GEBABEBB");
        assert_eq!(bic("DEUTDEFF500").unwrap(), "DEUTDEFF500");
        assert!(bic("GEB4BEBB").is_err());
        assert_eq!(groups_of_four("NL91ABNA0417164300"), "NL91 ABNA 0417 1643 00");
    }

    #[test]
    fn the_qr_code_fits_the_epc_limits() {
        let svg = qr_svg(&epc_payload(&payment()).unwrap()).unwrap();
        assert!(svg.starts_with("<?xml"));
        let long = "x".repeat(MAX_PAYLOAD_BYTES);
        qr_svg(&long).expect("331 bytes fit version 13 at level M");
    }
}
