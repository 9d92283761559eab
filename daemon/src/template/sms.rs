//! How many SMS parts a text takes, so the outbox can show it and a template author sees when
//! a reminder no longer fits one message.
//!
//! GSM 03.38: a text made only of GSM-7 characters takes 160 septets in one message, 153 per
//! part once it is split (the rest carries the concatenation header); the characters of the
//! extension table (`€ [ ] { } \ ^ ~ |` and form feed) take two septets, and a part never ends
//! between the two. One character outside GSM-7 makes the whole text UCS-2: 70 UTF-16 units in
//! one message, 67 per part, a surrogate pair never split. Dutch and French texts trip over
//! this with `ë`, `ï`, `ê`, `’` and `–`, which are not GSM-7 (`é`, `è`, `ä`, `ö`, `ü` are).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmsEncoding {
    Gsm7,
    Ucs2,
}

/// The size of an SMS text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SmsParts {
    pub encoding: SmsEncoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    /// Messages the text is sent as (1 for an empty text).
    pub parts: usize,
}

/// The GSM-7 default alphabet, without the escape character.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table: each takes an escape septet plus its own.
const GSM7_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// Septets a character takes in GSM-7, or `None` when it is not in the alphabet.
fn gsm7_septets(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Counts the parts of `text` as an SMS.
pub fn sms_parts(text: &str) -> SmsParts {
    let septets: Option<Vec<usize>> = text.chars().map(gsm7_septets).collect();
    match septets {
        Some(units) => SmsParts {
            encoding: SmsEncoding::Gsm7,
            units: units.iter().sum(),
            parts: parts(&units, 160, 153),
        },
        None => {
            let units: Vec<usize> = text.chars().map(char::len_utf16).collect();
            SmsParts { encoding: SmsEncoding::Ucs2, units: units.iter().sum(), parts: parts(&units, 70, 67) }
        }
    }
}

/// Parts needed for characters of the given sizes: one message when all fit in `single`, else
/// parts of at most `per_part`, never splitting a character.
fn parts(sizes: &[usize], single: usize, per_part: usize) -> usize {
    if sizes.iter().sum::<usize>() <= single {
        return 1;
    }
    let (mut count, mut used) = (1, 0);
    for &size in sizes {
        if used + size > per_part {
            count += 1;
            used = 0;
        }
        used += size;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_limits() {
        let one = "a".repeat(160);
        assert_eq!(sms_parts(&one), SmsParts { encoding: SmsEncoding::Gsm7, units: 160, parts: 1 });
        assert_eq!(sms_parts(&"a".repeat(161)).parts, 2);
        assert_eq!(sms_parts(&"a".repeat(306)).parts, 2);
        assert_eq!(sms_parts(&"a".repeat(307)).parts, 3);
        assert_eq!(sms_parts("").parts, 1);
        // Accents that are GSM-7 keep a Dutch or French text in GSM-7.
        assert_eq!(
            sms_parts("Geachte heer, uw factuur van 3 maart: é è à ü ö ä").encoding,
            SmsEncoding::Gsm7
        );
    }

    #[test]
    fn extension_characters_count_double_and_are_not_split() {
        let p = sms_parts(&format!("{}€", "a".repeat(158)));
        assert_eq!((p.encoding, p.units, p.parts), (SmsEncoding::Gsm7, 160, 1));
        assert_eq!(sms_parts(&format!("{}€", "a".repeat(159))).parts, 2);
        // 152 septets, then a two-septet € that would straddle the 153 boundary: it moves on.
        let p = sms_parts(&format!("{}€{}", "a".repeat(152), "a".repeat(152)));
        assert_eq!((p.units, p.parts), (306, 3));
    }

    #[test]
    fn one_character_outside_gsm7_makes_it_ucs2() {
        let p = sms_parts("Financiële herinnering");
        assert_eq!((p.encoding, p.units, p.parts), (SmsEncoding::Ucs2, 22, 1));
        assert_eq!(sms_parts(&format!("’{}", "a".repeat(69))).parts, 1);
        assert_eq!(sms_parts(&format!("’{}", "a".repeat(70))).parts, 2);
        assert_eq!(sms_parts(&format!("–{}", "a".repeat(133))).parts, 2);
        assert_eq!(sms_parts(&format!("–{}", "a".repeat(134))).parts, 3);
    }
}
