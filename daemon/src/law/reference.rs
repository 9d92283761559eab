//! Payment references: the Belgian structured communication (`+++123/4567/89002+++`, ten
//! digits and two mod-97 check digits) and the ISO 11649 RF creditor reference.
//!
//! Generation from an invoice number is deterministic, so the camt.053 matcher can recompute
//! the reference of every open invoice instead of storing it:
//!
//! * structured communication: an invoice number made of at most ten digits plus separators
//!   (`-`, `/`, `.`, `_`, space) uses those digits (`2024-017` -> `0002024017`); any other
//!   invoice number uses its 64-bit FNV-1a hash modulo 10^10;
//! * RF: the invoice number's letters and digits, upper-cased, when there are 1 to 21 of them;
//!   a longer number uses `H` followed by its FNV-1a hash in base 36.

use std::fmt;

/// What is wrong with a reference that was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("`{input}` is not a Belgian structured communication: it has {found} digits, it needs 12 (like +++123/4567/89002+++)")]
    BeLength { input: String, found: usize },
    #[error("`{input}` is not a Belgian structured communication: `{found}` is not allowed; write 12 digits, optionally as +++123/4567/89002+++")]
    BeCharacter { input: String, found: char },
    #[error("`{input}` is not a valid Belgian structured communication: its check digits are {found} but its first ten digits give {expected}; it was probably mistyped")]
    BeCheck { input: String, expected: String, found: String },
    #[error("`{input}` is not an RF creditor reference: it must start with `RF` and two check digits")]
    RfPrefix { input: String },
    #[error("`{input}` is not an RF creditor reference: it has {found} characters after `RF` and the check digits; ISO 11649 allows 1 to 21")]
    RfLength { input: String, found: usize },
    #[error(
        "`{input}` is not an RF creditor reference: `{found}` is not allowed; use letters A-Z and digits"
    )]
    RfCharacter { input: String, found: char },
    #[error("`{input}` is not a valid RF creditor reference: the check digits do not match (ISO 11649 mod 97); it was probably mistyped")]
    RfCheck { input: String },
    #[error("invoice number `{0}` is empty; a payment reference needs at least one letter or digit")]
    EmptyInvoiceNumber(String),
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A valid Belgian structured communication ("gestructureerde mededeling", OGM/VCS).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BeStructured {
    /// Exactly 12 ASCII digits, check digits included.
    digits: String,
}

const TEN_DIGITS: u64 = 10_000_000_000;

impl BeStructured {
    /// The reference with base number `base` (below 10^10).
    pub fn from_base(base: u64) -> Option<Self> {
        if base >= TEN_DIGITS {
            return None;
        }
        let check = match base % 97 {
            0 => 97,
            r => r,
        };
        Some(BeStructured { digits: format!("{base:010}{check:02}") })
    }

    /// The deterministic reference for an invoice number (see the module docs).
    pub fn for_invoice(invoice_number: &str) -> Result<Self, ReferenceError> {
        let t = invoice_number.trim();
        if t.is_empty() {
            return Err(ReferenceError::EmptyInvoiceNumber(invoice_number.to_string()));
        }
        let only_digits = t.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | '/' | '.' | '_' | ' '));
        let digits: String = t.chars().filter(char::is_ascii_digit).collect();
        let base = if only_digits && !digits.is_empty() && digits.len() <= 10 {
            digits.parse::<u64>().expect("at most ten ASCII digits")
        } else {
            fnv1a(t.as_bytes()) % TEN_DIGITS
        };
        Ok(BeStructured::from_base(base).expect("base below 10^10"))
    }

    /// Reads `+++123/4567/89002+++`, `***123/4567/89002***` or the bare 12 digits (as bank
    /// statements carry them), with optional spaces, and checks the mod-97 digits.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let input = s.to_string();
        let mut t = s.trim();
        for wrap in ["+++", "***"] {
            if let Some(inner) = t.strip_prefix(wrap).and_then(|x| x.strip_suffix(wrap)) {
                t = inner;
                break;
            }
        }
        let mut digits = String::with_capacity(12);
        for c in t.chars() {
            match c {
                '0'..='9' => digits.push(c),
                '/' | ' ' => {}
                other => return Err(ReferenceError::BeCharacter { input, found: other }),
            }
        }
        if digits.len() != 12 {
            return Err(ReferenceError::BeLength { input, found: digits.len() });
        }
        let base: u64 = digits[..10].parse().expect("ten ASCII digits");
        let expected = BeStructured::from_base(base).expect("below 10^10");
        if expected.digits != digits {
            return Err(ReferenceError::BeCheck {
                input,
                expected: expected.digits[10..].to_string(),
                found: digits[10..].to_string(),
            });
        }
        Ok(expected)
    }

    /// The 12 digits, as they go into a SEPA remittance field.
    pub fn digits(&self) -> &str {
        &self.digits
    }
}

impl fmt::Display for BeStructured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.digits;
        write!(f, "+++{}/{}/{}+++", &d[..3], &d[3..7], &d[7..])
    }
}

/// mod 97 of a string of letters and digits, letters counting A=10 .. Z=35 (ISO 7064).
fn mod97(s: &str) -> u32 {
    let mut r: u32 = 0;
    for c in s.chars() {
        let v = c.to_digit(36).expect("caller passes ASCII alphanumerics");
        r = if v >= 10 { (r * 100 + v) % 97 } else { (r * 10 + v) % 97 };
    }
    r
}

/// An RF reference body is 1 to 21 letters and digits; `input` is what the error quotes.
fn check_rf_body(body: &str, input: &str) -> Result<(), ReferenceError> {
    if let Some(c) = body.chars().find(|c| !c.is_ascii_alphanumeric()) {
        return Err(ReferenceError::RfCharacter { input: input.to_string(), found: c });
    }
    if body.is_empty() || body.len() > 21 {
        return Err(ReferenceError::RfLength { input: input.to_string(), found: body.len() });
    }
    Ok(())
}

/// A valid ISO 11649 RF creditor reference, kept in electronic form (`RF18539007547034`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RfReference(String);

impl RfReference {
    /// The RF reference for a reference body of 1 to 21 letters and digits.
    pub fn from_body(body: &str) -> Result<Self, ReferenceError> {
        let body = body.to_ascii_uppercase();
        check_rf_body(&body, &body)?;
        let check = 98 - mod97(&format!("{body}RF00"));
        Ok(RfReference(format!("RF{check:02}{body}")))
    }

    /// The deterministic reference for an invoice number (see the module docs).
    pub fn for_invoice(invoice_number: &str) -> Result<Self, ReferenceError> {
        let body: String = invoice_number
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_uppercase();
        if body.is_empty() {
            return Err(ReferenceError::EmptyInvoiceNumber(invoice_number.to_string()));
        }
        if body.len() <= 21 {
            RfReference::from_body(&body)
        } else {
            let mut h = fnv1a(invoice_number.trim().as_bytes());
            let mut b36 = Vec::new();
            while h > 0 {
                b36.push(
                    std::char::from_digit((h % 36) as u32, 36).expect("digit below 36").to_ascii_uppercase(),
                );
                h /= 36;
            }
            b36.reverse();
            RfReference::from_body(&format!("H{}", b36.into_iter().collect::<String>()))
        }
    }

    /// Reads an RF reference in electronic (`RF18539007547034`) or print form
    /// (`RF18 5390 0754 7034`), case-insensitive, and checks it.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let input = s.to_string();
        let compact: String =
            s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        let (Some(check), true) = (compact.get(2..4), compact.starts_with("RF")) else {
            return Err(ReferenceError::RfPrefix { input });
        };
        if !check.chars().all(|c| c.is_ascii_digit()) {
            return Err(ReferenceError::RfPrefix { input });
        }
        let body = &compact[4..];
        check_rf_body(body, s)?;
        if mod97(&format!("{body}RF{check}")) != 1 {
            return Err(ReferenceError::RfCheck { input });
        }
        Ok(RfReference(compact))
    }

    /// Electronic form, for SEPA remittance information.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Print form: groups of four (`RF18 5390 0754 7034`).
    pub fn print_form(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
    }
}

impl fmt::Display for RfReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A structured payment reference read from a bank statement or an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PaymentReference {
    BeStructured(BeStructured),
    Rf(RfReference),
}

impl PaymentReference {
    /// Reads either kind: `RF...` as ISO 11649, anything else as a Belgian structured communication.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let t = s.trim();
        if t.len() >= 2 && t[..2].eq_ignore_ascii_case("RF") {
            RfReference::parse(t).map(PaymentReference::Rf)
        } else {
            BeStructured::parse(t).map(PaymentReference::BeStructured)
        }
    }

    /// The reference dunwell generates for an invoice: the structured communication for
    /// Belgian businesses, the RF reference otherwise.
    pub fn for_invoice(
        jurisdiction: crate::calendar::Jurisdiction,
        invoice_number: &str,
    ) -> Result<Self, ReferenceError> {
        match jurisdiction {
            crate::calendar::Jurisdiction::Be => {
                BeStructured::for_invoice(invoice_number).map(PaymentReference::BeStructured)
            }
            crate::calendar::Jurisdiction::Nl => {
                RfReference::for_invoice(invoice_number).map(PaymentReference::Rf)
            }
        }
    }

    /// Whether this is the reference generated for `invoice_number` (of either kind).
    pub fn matches_invoice(&self, invoice_number: &str) -> bool {
        match self {
            PaymentReference::BeStructured(b) => {
                BeStructured::for_invoice(invoice_number).is_ok_and(|x| &x == b)
            }
            PaymentReference::Rf(r) => RfReference::for_invoice(invoice_number).is_ok_and(|x| &x == r),
        }
    }
}

impl fmt::Display for PaymentReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaymentReference::BeStructured(b) => b.fmt(f),
            PaymentReference::Rf(r) => r.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Jurisdiction;

    #[test]
    fn known_valid_structured_communications() {
        // By hand: 909337554 = 97 x 9374613 + 93, so the check digits are 93.
        assert_eq!(909_337_554u64 % 97, 93);
        let r = BeStructured::parse("+++090/9337/55493+++").unwrap();
        assert_eq!(r.digits(), "090933755493");
        assert_eq!(r.to_string(), "+++090/9337/55493+++");
        // 1234567890 = 97 x 12727504 + 2 -> check 02
        assert_eq!(1_234_567_890u64 % 97, 2);
        assert!(BeStructured::parse("+++123/4567/89002+++").is_ok());
        assert!(BeStructured::parse("***123/4567/89002***").is_ok());
        assert!(BeStructured::parse("123456789002").is_ok());
        assert!(BeStructured::parse(" 123/4567/89002 ").is_ok());
        // Remainder 0 gives check digits 97: 97 x 1 = 97 -> base 0000000097.
        assert_eq!(BeStructured::from_base(97).unwrap().to_string(), "+++000/0000/09797+++");
        assert!(BeStructured::parse("+++000/0000/09797+++").is_ok());
        assert!(BeStructured::parse("+++000/0000/09700+++").is_err());
    }

    #[test]
    fn structured_communication_errors_say_what_is_wrong() {
        let e = BeStructured::parse("+++090/9337/55494+++").unwrap_err();
        assert_eq!(
            e,
            ReferenceError::BeCheck {
                input: "+++090/9337/55494+++".into(),
                expected: "93".into(),
                found: "94".into()
            }
        );
        assert!(e.to_string().contains("check digits are 94"));
        assert!(matches!(
            BeStructured::parse("+++090/9337/5549+++"),
            Err(ReferenceError::BeLength { found: 11, .. })
        ));
        assert!(matches!(
            BeStructured::parse("+++090/9337/5549A+++"),
            Err(ReferenceError::BeCharacter { found: 'A', .. })
        ));
        assert!(BeStructured::from_base(TEN_DIGITS).is_none());
    }

    #[test]
    fn structured_communication_for_invoice_is_deterministic() {
        let a = BeStructured::for_invoice("2024-017").unwrap();
        assert_eq!(a.digits(), "000202401715"); // 2024017 mod 97 = 15
        assert_eq!(2_024_017u64 % 97, 15);
        assert_eq!(a, BeStructured::for_invoice("2024-017").unwrap());
        let b = BeStructured::for_invoice("INV-2024-017").unwrap();
        assert_eq!(b, BeStructured::for_invoice("INV-2024-017").unwrap());
        assert_ne!(a, b);
        assert!(BeStructured::parse(&b.to_string()).is_ok());
        assert!(
            BeStructured::parse(&BeStructured::for_invoice("12345678901234").unwrap().to_string()).is_ok()
        );
        assert!(BeStructured::for_invoice("  ").is_err());
    }

    #[test]
    fn rf_check_digits_per_iso_11649() {
        // ISO 11649 example: RF18 5390 0754 7034
        let r = RfReference::parse("RF18539007547034").unwrap();
        assert_eq!(r.print_form(), "RF18 5390 0754 7034");
        assert_eq!(RfReference::parse("rf18 5390 0754 7034").unwrap(), r);
        assert_eq!(RfReference::from_body("539007547034").unwrap(), r);
        // Other published examples.
        assert!(RfReference::parse("RF18000000000539007547034").is_ok());
        assert_eq!(
            RfReference::from_body("000000000539007547034").unwrap().as_str(),
            "RF18000000000539007547034"
        );
        assert!(RfReference::parse("RF712348231").is_ok());
        assert!(matches!(RfReference::parse("RF19539007547034"), Err(ReferenceError::RfCheck { .. })));
        assert!(matches!(RfReference::parse("XX18539007547034"), Err(ReferenceError::RfPrefix { .. })));
        assert!(matches!(RfReference::parse("RF1"), Err(ReferenceError::RfPrefix { .. })));
        assert!(matches!(RfReference::parse("RF18"), Err(ReferenceError::RfLength { found: 0, .. })));
        assert!(matches!(
            RfReference::parse("RF185390-0754"),
            Err(ReferenceError::RfCharacter { found: '-', .. })
        ));
        assert!(matches!(
            RfReference::parse("RF181234567890123456789012"),
            Err(ReferenceError::RfLength { found: 22, .. })
        ));
    }

    #[test]
    fn rf_for_invoice_is_deterministic_and_valid() {
        let r = RfReference::for_invoice("inv-2024/017").unwrap();
        assert!(r.as_str().ends_with("INV2024017"));
        assert!(RfReference::parse(r.as_str()).is_ok());
        let long = RfReference::for_invoice("PROJECT-ALPHA-2024-INVOICE-000017").unwrap();
        assert!(long.as_str()[4..].starts_with('H'));
        assert!(RfReference::parse(&long.print_form()).is_ok());
        assert_eq!(long, RfReference::for_invoice("PROJECT-ALPHA-2024-INVOICE-000017").unwrap());
        assert!(RfReference::for_invoice("--").is_err());
    }

    #[test]
    fn payment_reference_reads_either_kind_and_matches_invoices() {
        let be = PaymentReference::for_invoice(Jurisdiction::Be, "2024-017").unwrap();
        let nl = PaymentReference::for_invoice(Jurisdiction::Nl, "2024-017").unwrap();
        assert_eq!(PaymentReference::parse(&be.to_string()).unwrap(), be);
        assert_eq!(PaymentReference::parse("000202401715").unwrap(), be);
        assert_eq!(PaymentReference::parse(&nl.to_string()).unwrap(), nl);
        assert!(be.matches_invoice("2024-017"));
        assert!(nl.matches_invoice("2024-017"));
        assert!(!nl.matches_invoice("2024-018"));
        assert!(PaymentReference::parse("RF00 1234").is_err());
    }
}
