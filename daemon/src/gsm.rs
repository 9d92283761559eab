//! GSM 03.38 (3GPP TS 23.038), one counter for the templates (`dunwell check`, previews) and
//! the SMS channel: which characters an SMS can carry in the 7-bit alphabet, how
//! many parts a text takes, and transliteration of what Dutch, French and German reminders
//! use and the alphabet lacks.
//!
//! Why hand-written: no crate on crates.io counts parts correctly for our case. The ones
//! found either treat the alphabet as ASCII (no `é`, `ü`, `€`; `` ` `` wrongly in), map
//! position 0x09 to `ç` (the long-standing error of many tables: 23.038 says `Ç`), count
//! extension characters as one septet, or count concatenated parts by plain division, which
//! splits an escape sequence or a surrogate pair across two parts (a handset never does, so
//! the provider bills one part more than such a counter says). The Twilio port
//! (`message_segment_calculator`) does not resolve on crates.io. The table is short and
//! fixed by the standard, so it is written out here and tested against the boundaries.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};
use unicode_normalization::UnicodeNormalization;

/// How the text is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The GSM 7-bit default alphabet (with its extension table).
    Gsm7,
    /// UCS-2 (UTF-16 on the wire): any one character outside GSM-7 makes the whole text this.
    Ucs2,
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        })
    }
}

/// What a text costs: its encoding, its length in that encoding's units and its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SmsParts {
    pub encoding: Encoding,
    /// Septets (GSM-7; an extension character counts 2) or UTF-16 code units (UCS-2; a
    /// character outside the Basic Multilingual Plane counts 2).
    pub units: usize,
    /// Message parts the network delivers and the provider bills (at least 1).
    pub parts: u32,
}

/// Septets in a single-part GSM-7 message.
pub const GSM7_SINGLE: usize = 160;
/// Septets per part of a concatenated GSM-7 message (the user data header takes 7).
pub const GSM7_PART: usize = 153;
/// UTF-16 units in a single-part UCS-2 message.
pub const UCS2_SINGLE: usize = 70;
/// UTF-16 units per part of a concatenated UCS-2 message.
pub const UCS2_PART: usize = 67;

/// Position 0x1B of the basic table: the escape to the extension table, not a character.
const ESCAPE: usize = 0x1B;

/// The GSM 03.38 default alphabet, positions 0x00 to 0x7F (3GPP TS 23.038, 6.2.1). Position
/// 0x1B is the escape to the extension table and stands for no character.
#[rustfmt::skip]
const BASIC: [char; 128] = [
    // 0x00
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
    // 0x10
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É',
    // 0x20
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
    // 0x30
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
    // 0x40
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    // 0x50
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
    // 0x60
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    // 0x70
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
];

/// The extension table (reached through 0x1B, so each counts 2 septets): form feed at 0x0A,
/// `^` 0x14, `{` 0x28, `}` 0x29, `\` 0x2F, `[` 0x3C, `~` 0x3D, `]` 0x3E, `|` 0x40, `€` 0x65.
const EXTENSION: [char; 10] = ['\u{0C}', '^', '{', '}', '\\', '[', '~', ']', '|', '€'];

/// Septets `c` takes in GSM-7: 1 (basic table), 2 (extension table) or `None` (not in GSM-7).
pub fn gsm7_septets(c: char) -> Option<usize> {
    if let Some(i) = BASIC.iter().position(|&b| b == c) {
        return (i != ESCAPE).then_some(1);
    }
    EXTENSION.contains(&c).then_some(2)
}

/// Whether `c` can be sent in GSM-7 (basic or extension table).
pub fn is_gsm7(c: char) -> bool {
    gsm7_septets(c).is_some()
}

/// The encoding, length and number of parts of `text` as it is (see [`transliterate`] to make
/// it fit GSM-7 first).
///
/// GSM-7: up to 160 septets is one part, longer texts 153 per part; UCS-2: 70, then 67. A part
/// never ends in the middle of an escape sequence (an extension character) or a surrogate pair
/// (a character outside the BMP, e.g. an emoji): such a character starts the next part, which
/// is how handsets and providers split, so it can cost one part more than a division says.
/// An empty text is one (empty) part.
pub fn parts(text: &str) -> SmsParts {
    let septets: Option<Vec<usize>> = text.chars().map(gsm7_septets).collect();
    let (encoding, widths, single, per_part) = match septets {
        Some(widths) => (Encoding::Gsm7, widths, GSM7_SINGLE, GSM7_PART),
        None => (Encoding::Ucs2, text.chars().map(char::len_utf16).collect(), UCS2_SINGLE, UCS2_PART),
    };
    let units: usize = widths.iter().sum();
    if units <= single {
        return SmsParts { encoding, units, parts: 1 };
    }
    let (mut parts, mut used) = (1u32, 0usize);
    for w in widths {
        if used + w > per_part {
            parts += 1;
            used = 0;
        }
        used += w;
    }
    SmsParts { encoding, units, parts }
}

/// `text` with what GSM-7 lacks replaced by its nearest GSM-7 spelling, so a Dutch, French or
/// German reminder stays in GSM-7 (one `ë` in "België" would otherwise make the whole text
/// UCS-2 and turn one part into three).
///
/// Kept as they are: every character GSM-7 has (`é è à ù ì ò ä ö ü ñ Ç É Ä Ö Ü Ñ ß Å å Æ æ Ø ø`,
/// and `€` and the other extension characters, which cost 2 septets but keep GSM-7).
/// Replaced: typographic punctuation (`’ ‘ ‚ ′ ´` and `` ` `` → `'`, `“ ” „ « »` → `"`,
/// `– — ‒ ― −` and the Unicode hyphens → `-`, `…` → `...`, `•` → `-`, `·` → `.`), every
/// kind of space (no-break, narrow no-break before French `;:!?`, thin, em …) → ` `, tab →
/// ` `, line and paragraph separators → line break, ligatures (`œ` → `oe`, `Œ` → `OE`, `ĳ` →
/// `ij`, `ﬁ` → `fi`), `ẞ` → `SS`, `°` and `º` → `o` (French "n°"), and letters with accents
/// GSM-7 lacks to their base letter (`ë ï ê â ô û î ç` → `e i e a o u i c`, `À È Ê Ë Ô …` → `A E
/// E E O`), through the Unicode compatibility decomposition. Invisible characters (zero-width
/// spaces and joiners, soft hyphen, byte-order mark, bidi marks) and stray combining marks are
/// dropped; other control characters too (line feed and carriage return stay).
/// Anything else (a Cyrillic or Greek name, an emoji) is kept: the text then goes as UCS-2 and
/// [`parts`] says what it costs, rather than losing a customer's name.
pub fn transliterate(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // NFC first: an `e` followed by a combining acute is `é`, which GSM-7 has.
    for c in text.nfc() {
        if is_gsm7(c) {
            out.push(c);
        } else if let Some(s) = replacement(c) {
            out.push_str(s);
        } else if is_combining_mark(c) || dropped(c) {
            // nothing: a mark left alone after NFC, or an invisible character
        } else if let Some(base) = decomposed(c) {
            out.push_str(&base);
        } else {
            out.push(c);
        }
    }
    out
}

/// The replacements no decomposition gives.
fn replacement(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{2019}' | '\u{2018}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{00B4}' | '`' | '\u{2039}'
        | '\u{203A}' | '\u{02BC}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{00AB}' | '\u{00BB}' => "\"",
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}' | '\u{2212}'
        | '\u{2022}' | '\u{2043}' => "-",
        '\u{2026}' => "...",
        '\u{00B7}' => ".",
        '\t' | '\u{00A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => {
            " "
        }
        '\u{2028}' | '\u{2029}' | '\u{0085}' | '\u{0B}' => "\n",
        '\u{0153}' => "oe",
        '\u{0152}' => "OE",
        '\u{1E9E}' => "SS",
        '\u{00B0}' | '\u{00BA}' => "o",
        '\u{00AA}' => "a",
        '\u{00D7}' => "x",
        '\u{00F0}' => "d",
        '\u{00D0}' | '\u{0110}' => "D",
        '\u{0111}' => "d",
        '\u{0142}' => "l",
        '\u{0141}' => "L",
        '\u{00FE}' => "th",
        '\u{00DE}' => "TH",
        _ => return None,
    })
}

/// Invisible characters and controls that are left out.
fn dropped(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}')
        || (c.is_control() && c != '\n' && c != '\r')
}

/// `c` through its compatibility decomposition without combining marks, when all of what is
/// left is GSM-7 (`ë` → `e`, `ﬁ` → `fi`, `ĳ` → `ij`, `²` → `2`); `None` otherwise.
fn decomposed(c: char) -> Option<String> {
    let mut base = String::new();
    let mut ok = true;
    decompose_compatible(c, |d| {
        if is_combining_mark(d) {
            return;
        }
        if is_gsm7(d) {
            base.push(d);
        } else if let Some(s) = replacement(d) {
            base.push_str(s);
        } else {
            ok = false;
        }
    });
    (ok && !base.is_empty() && base != c.to_string()).then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gsm(units: usize, parts: u32) -> SmsParts {
        SmsParts { encoding: Encoding::Gsm7, units, parts }
    }

    fn ucs2(units: usize, parts: u32) -> SmsParts {
        SmsParts { encoding: Encoding::Ucs2, units, parts }
    }

    #[test]
    fn the_basic_table_is_the_standard_one() {
        // 128 positions, all distinct, and exactly the characters of 23.038 6.2.1.
        let mut seen = std::collections::HashSet::new();
        assert!(BASIC.iter().all(|c| seen.insert(*c)));
        assert_eq!(BASIC[0x00], '@');
        assert_eq!(BASIC[0x09], 'Ç', "0x09 is capital C cedilla, not ç");
        assert_eq!(BASIC[0x24], '¤');
        assert_eq!(BASIC[0x40], '¡');
        assert_eq!(BASIC[0x60], '¿');
        assert_eq!(BASIC[0x7F], 'à');
        for c in "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà\n\r".chars() {
            assert_eq!(gsm7_septets(c), Some(1), "{c:?}");
        }
        for c in "^{}\\[~]|€\u{0C}".chars() {
            assert_eq!(gsm7_septets(c), Some(2), "{c:?}");
        }
        for c in "ç`ëïêâôûîÀÈÊËÔÛÎÏœ’‘“”–—…\u{A0}\t\u{1B}áíóúÁÍÓÚ😀".chars()
        {
            assert_eq!(gsm7_septets(c), None, "{c:?}");
        }
    }

    #[test]
    fn gsm7_single_and_concatenated() {
        assert_eq!(parts(""), gsm(0, 1));
        assert_eq!(parts(&"a".repeat(160)), gsm(160, 1));
        assert_eq!(parts(&"a".repeat(161)), gsm(161, 2));
        assert_eq!(parts(&"a".repeat(306)), gsm(306, 2));
        assert_eq!(parts(&"a".repeat(307)), gsm(307, 3));
        assert_eq!(parts(&"a".repeat(459)), gsm(459, 3));
        assert_eq!(parts(&"a".repeat(460)), gsm(460, 4));
    }

    #[test]
    fn extension_characters_count_two_and_never_straddle_a_part() {
        assert_eq!(parts(&format!("{}€", "a".repeat(158))), gsm(160, 1));
        assert_eq!(parts(&format!("{}€", "a".repeat(159))), gsm(161, 2));
        assert_eq!(parts("{[~]}"), gsm(10, 1));
        // 152 + € would end on septet 154: the € starts part 2, which then holds 2 + 152.
        assert_eq!(parts(&format!("{}€{}", "a".repeat(152), "a".repeat(152))), gsm(306, 3));
        // One septet less and it fits: 151 + € = 153, then 152.
        assert_eq!(parts(&format!("{}€{}", "a".repeat(151), "a".repeat(152))), gsm(305, 2));
    }

    #[test]
    fn ucs2_single_and_concatenated() {
        assert_eq!(parts(&"ë".repeat(70)), ucs2(70, 1));
        assert_eq!(parts(&"ë".repeat(71)), ucs2(71, 2));
        assert_eq!(parts(&"ë".repeat(134)), ucs2(134, 2));
        assert_eq!(parts(&"ë".repeat(135)), ucs2(135, 3));
        // One character outside GSM-7 makes the whole text UCS-2.
        assert_eq!(parts(&format!("{}ç", "a".repeat(69))), ucs2(70, 1));
        assert_eq!(parts(&format!("{}’", "a".repeat(70))), ucs2(71, 2));
        // Extension characters are one unit in UCS-2.
        assert_eq!(parts(&format!("€{}", "ë".repeat(69))), ucs2(70, 1));
    }

    #[test]
    fn an_emoji_is_two_units_and_never_split() {
        assert_eq!(parts("😀"), ucs2(2, 1));
        assert_eq!(parts(&format!("{}😀", "a".repeat(68))), ucs2(70, 1));
        assert_eq!(parts(&format!("{}😀", "a".repeat(69))), ucs2(71, 2));
        // 66 + 😀 would end on unit 68: the emoji starts part 2 (2 + 66 = 68 > 67), so 3 parts.
        assert_eq!(parts(&format!("{}😀{}", "a".repeat(66), "a".repeat(66))), ucs2(134, 3));
        assert_eq!(parts(&format!("{}😀{}", "a".repeat(65), "a".repeat(65))), ucs2(132, 2));
    }

    #[test]
    fn transliteration_keeps_what_gsm7_has() {
        let kept = "é è à ù ì ò ä ö ü ñ Ç É Ä Ö Ü Ñ ß Å å Æ æ Ø ø € [x] {y} ~ | ^ \\ @ £ $ ¥ § ¿ ¡ Δ\r\n";
        assert_eq!(transliterate(kept), kept);
    }

    #[test]
    fn transliteration_of_dutch_french_and_german() {
        assert_eq!(
            transliterate("financiële België coördinatie ruïne"),
            // ö is in GSM-7 (ä ö ü are; ë ï are not).
            "financiele Belgie coördinatie ruine"
        );
        assert_eq!(
            transliterate("Ça coûte 12,50 € à payer avant le 3 mai ; merci"),
            "Ça coute 12,50 € à payer avant le 3 mai ; merci"
        );
        assert_eq!(
            transliterate("garçon fenêtre âge hôtel sûr naïf île Noël"),
            "garcon fenetre age hotel sur naif ile Noel"
        );
        assert_eq!(transliterate("ÀÂÈÊËÎÏÔÛÙŸ"), "AAEEEIIOUUY");
        assert_eq!(transliterate("cœur Œuvre"), "coeur OEuvre");
        assert_eq!(transliterate("Straße Grüße GROẞ"), "Straße Grüße GROSS");
        assert_eq!(transliterate("facture n° 2026/001"), "facture no 2026/001");
        assert_eq!(
            transliterate("’t Is zo’n ‘test’ – “quote” — «guillemets» … done"),
            "'t Is zo'n 'test' - \"quote\" - \"guillemets\" ... done"
        );
        // No-break spaces (French puts a narrow one before ; : ! ?), tabs, zero-width characters.
        assert_eq!(transliterate("Merci\u{202F}! 12\u{A0}500\tEUR\u{200B}\u{AD}x"), "Merci ! 12 500 EURx");
        // Decomposed input (e + combining diaeresis) and ligatures.
        assert_eq!(transliterate("Belgie\u{308} e\u{301}"), "Belgie é");
        assert_eq!(transliterate("ﬁnal ĳs"), "final ijs");
        // What has no GSM-7 spelling stays, so the name is not lost (the text goes as UCS-2).
        assert_eq!(transliterate("Дмитрий 😀"), "Дмитрий 😀");
    }

    #[test]
    fn a_dutch_reminder_stays_one_part() {
        let text = "Beste klant, onze financiële administratie mist nog € 1.120,50 voor factuur 2026/0042. \
                    Betaal vóór 12 mei. Vragen? Bel ons. Bakkerij ’t Hoekje, België";
        assert_eq!(text.chars().count(), 150);
        let before = parts(text);
        assert_eq!(before.encoding, Encoding::Ucs2);
        assert_eq!(before.parts, 3);
        let after = transliterate(text);
        assert!(
            after.contains("financiele") && after.contains("Belgie") && after.contains("Bakkerij 't Hoekje")
        );
        assert!(after.contains("voor 12 mei"), "ó is not in GSM-7 (ò is): {after}");
        // 150 characters, the € two septets: one GSM-7 part.
        assert_eq!(parts(&after), gsm(151, 1), "{after}");
    }

    // The counter `dunwell check` and the templates used before it was shared with the channel.
    #[test]
    fn gsm7_limits() {
        let one = "a".repeat(160);
        assert_eq!(parts(&one), SmsParts { encoding: Encoding::Gsm7, units: 160, parts: 1 });
        assert_eq!(parts(&"a".repeat(161)).parts, 2);
        assert_eq!(parts(&"a".repeat(306)).parts, 2);
        assert_eq!(parts(&"a".repeat(307)).parts, 3);
        assert_eq!(parts("").parts, 1);
        // Accents that are GSM-7 keep a Dutch or French text in GSM-7.
        assert_eq!(parts("Geachte heer, uw factuur van 3 maart: é è à ü ö ä").encoding, Encoding::Gsm7);
    }

    #[test]
    fn extension_characters_count_double_and_are_not_split() {
        let p = parts(&format!("{}€", "a".repeat(158)));
        assert_eq!((p.encoding, p.units, p.parts), (Encoding::Gsm7, 160, 1));
        assert_eq!(parts(&format!("{}€", "a".repeat(159))).parts, 2);
        // 152 septets, then a two-septet € that would straddle the 153 boundary: it moves on.
        let p = parts(&format!("{}€{}", "a".repeat(152), "a".repeat(152)));
        assert_eq!((p.units, p.parts), (306, 3));
    }

    #[test]
    fn one_character_outside_gsm7_makes_it_ucs2() {
        let p = parts("Financiële herinnering");
        assert_eq!((p.encoding, p.units, p.parts), (Encoding::Ucs2, 22, 1));
        assert_eq!(parts(&format!("’{}", "a".repeat(69))).parts, 1);
        assert_eq!(parts(&format!("’{}", "a".repeat(70))).parts, 2);
        assert_eq!(parts(&format!("–{}", "a".repeat(133))).parts, 2);
        assert_eq!(parts(&format!("–{}", "a".repeat(134))).parts, 3);
    }
}
