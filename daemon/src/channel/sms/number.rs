//! Mobile numbers: parsed, checked and written in E.164 with the `phonenumber` crate (a port of
//! Google's libphonenumber with its metadata), before anything is sent.

use phonenumber::{country, metadata::DATABASE, Mode, Type};

use super::SmsError;
use crate::text;

/// `raw` as an E.164 mobile number (`+31612345678`). A number without a country code is read
/// as one of `default_country` (a CLDR code: `"NL"`, `"BE"`, …); `0031…`, `+32…` and
/// `tel:+31…` carry their own.
///
/// The number must parse, be valid by the metadata (`12345` parses, but is no number) and be
/// a mobile number (or one the metadata cannot tell from a fixed line, as in the USA): an SMS
/// to a landline, a toll-free or a premium-rate number is an error, never a send. A number
/// with an extension is refused too.
pub fn mobile_number(raw: &str, default_country: &str) -> Result<String, SmsError> {
    let shown = || format!("`{}`", text::escape(&text::cap(raw.trim(), 64)));
    let id: country::Id = default_country.trim().to_ascii_uppercase().parse().map_err(|_| {
        SmsError::Number(format!("`{}` is not a country code", text::escape(default_country)))
    })?;
    let invalid = || SmsError::Number(format!("{} is not a valid phone number", shown()));
    let number = phonenumber::parse(Some(id), raw).map_err(|_| invalid())?;
    if !phonenumber::is_valid(&number) {
        return Err(invalid());
    }
    if number.extension().is_some() {
        return Err(SmsError::Number(format!(
            "{} has an extension: an SMS needs a mobile number of its own",
            shown()
        )));
    }
    let e164 = number.format().mode(Mode::E164).to_string();
    let named = if raw.trim() == e164 { format!("`{e164}`") } else { format!("{} ({e164})", shown()) };
    match number.number_type(&DATABASE) {
        Type::Mobile | Type::FixedLineOrMobile => Ok(e164),
        Type::FixedLine => Err(SmsError::Number(format!("{named} is a landline, not a mobile number"))),
        other => Err(SmsError::Number(format!("{named} is a {} number, not a mobile number", kind(other)))),
    }
}

fn kind(t: Type) -> &'static str {
    match t {
        Type::TollFree => "toll-free",
        Type::PremiumRate => "premium-rate",
        Type::SharedCost => "shared-cost",
        Type::PersonalNumber => "personal",
        Type::Voip => "VoIP",
        Type::Pager => "pager",
        Type::Uan => "company (UAN)",
        Type::Emergency => "emergency",
        Type::Voicemail => "voicemail",
        Type::ShortCode => "short-code",
        _ => "non-mobile",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(raw: &str, country: &str) -> String {
        mobile_number(raw, country).unwrap_err().to_string()
    }

    #[test]
    fn dutch_and_belgian_mobiles() {
        assert_eq!(mobile_number("06 12345678", "NL").unwrap(), "+31612345678");
        assert_eq!(mobile_number("06-1234 5678", "nl").unwrap(), "+31612345678");
        assert_eq!(mobile_number("+31 6 12345678", "BE").unwrap(), "+31612345678");
        assert_eq!(mobile_number("0031612345678", "NL").unwrap(), "+31612345678");
        assert_eq!(mobile_number("0470 12 34 56", "BE").unwrap(), "+32470123456");
        assert_eq!(mobile_number("+32 470 12 34 56", "NL").unwrap(), "+32470123456");
        assert_eq!(mobile_number("tel:+32470123456", "NL").unwrap(), "+32470123456");
    }

    #[test]
    fn bad_numbers_are_clear_errors() {
        assert_eq!(err("12345", "NL"), "`12345` is not a valid phone number");
        assert_eq!(err("hello", "NL"), "`hello` is not a valid phone number");
        assert_eq!(err("", "NL"), "`` is not a valid phone number");
        assert_eq!(err("06 1234", "NL"), "`06 1234` is not a valid phone number");
        assert_eq!(err("+31201234567", "NL"), "`+31201234567` is a landline, not a mobile number");
        assert_eq!(
            err("020 123 4567", "NL"),
            "`020 123 4567` (+31201234567) is a landline, not a mobile number"
        );
        assert_eq!(
            err("02 511 12 34", "BE"),
            "`02 511 12 34` (+3225111234) is a landline, not a mobile number"
        );
        assert_eq!(
            err("0800 0123", "NL"),
            "`0800 0123` (+318000123) is a toll-free number, not a mobile number"
        );
        assert_eq!(
            err("0900 1234", "NL"),
            "`0900 1234` (+319001234) is a premium-rate number, not a mobile number"
        );
        assert_eq!(err("0612345678", "XX"), "`XX` is not a country code");
        // What is shown of the input is escaped: no line break reaches a log or the outbox.
        assert_eq!(err("06\n1234", "NL"), "`06\\n1234` is not a valid phone number");
    }
}
