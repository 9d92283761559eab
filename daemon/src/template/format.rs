//! How amounts, dates and day counts are written in each language: the `money`, `date` and
//! `days` filters of the templates.
//!
//! The conventions are those of the reader's country where the language is spoken by
//! dunwell's customers: Dutch for the Netherlands and Flanders, French for Wallonia and
//! Brussels, German for the German-speaking Community of eastern Belgium (de-BE), English as
//! a neutral fallback. They follow the Unicode CLDR number and currency patterns of those
//! locales:
//!
//! | language | pattern | example | CLDR locale |
//! | --- | --- | --- | --- |
//! | `nl` | `€ #.##0,00` | `€ 1.234,56` | nl-NL and nl-BE (the same pattern) |
//! | `fr` | `# ##0,00 €` | `1 234,56 €` | fr-BE (CLDR groups with a narrow no-break space; a plain space here, which every mail client and letter font shows alike) |
//! | `de` | `#.##0,00 €` | `1.234,56 €` | de-BE (as de-DE: point for thousands, comma for decimals, the sign after the amount) |
//! | `en` | `€#,##0.00` | `€1,234.56` | en-IE / en-GB style |
//!
//! Dates are written in words (`3 maart 2026`, `3 mars 2026`, `3. März 2026`, `3 March
//! 2026`) because `03-04-2026` reads as March or April depending on who reads it, and a payment
//! term must not be ambiguous.

use chrono::{Datelike, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::model::Language;

/// Formats an amount the way a reader in that language expects it (see the module table),
/// rounded half-up (away from zero) to cents, because that is how the amounts on the invoice
/// and in the law are rounded. A currency other than EUR is written as its ISO code: a bare
/// `$` or `kr` is ambiguous.
///
/// German follows the Belgian convention of the German-speaking Community (de-BE), which is
/// also Germany's: `1.234,56 €`.
pub fn format_money(amount: Decimal, currency: &str, lang: Language) -> String {
    let mut rounded = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(2);
    let negative = rounded.is_sign_negative() && !rounded.is_zero();
    let digits = rounded.abs().to_string();
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits.as_str(), "00"));
    let (group_sep, decimal_sep) = match lang {
        Language::Nl | Language::De => ('.', ','),
        Language::Fr => (' ', ','),
        Language::En => (',', '.'),
    };
    let mut number = String::with_capacity(digits.len() + 8);
    for (i, c) in int_part.chars().enumerate() {
        if i > 0 && (int_part.len() - i) % 3 == 0 {
            number.push(group_sep);
        }
        number.push(c);
    }
    number.push(decimal_sep);
    number.push_str(frac_part);

    let code = currency.trim().to_ascii_uppercase();
    let is_euro = code == "EUR";
    let sign = if negative { "-" } else { "" };
    match lang {
        Language::Nl => {
            let symbol = if is_euro { "€" } else { code.as_str() };
            format!("{symbol} {sign}{number}")
        }
        Language::En if is_euro => format!("{sign}€{number}"),
        Language::En => format!("{sign}{code} {number}"),
        Language::Fr | Language::De => {
            let symbol = if is_euro { "€" } else { code.as_str() };
            format!("{sign}{number} {symbol}")
        }
    }
}

/// Formats a date in words (see the module documentation).
pub fn format_date(date: NaiveDate, lang: Language) -> String {
    const NL: [&str; 12] = [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ];
    const FR: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DE: [&str; 12] = [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ];
    let month = date.month0() as usize;
    let (day, year) = (date.day(), date.year());
    match lang {
        Language::Nl => format!("{day} {} {year}", NL[month]),
        // French writes the first of the month as an ordinal: « le 1er mars ».
        Language::Fr if day == 1 => format!("1er {} {year}", FR[month]),
        Language::Fr => format!("{day} {} {year}", FR[month]),
        Language::En => format!("{day} {} {year}", EN[month]),
        // "Januar" rather than Austria's "Jänner": Belgium writes German as Germany does.
        Language::De => format!("{day}. {} {year}", DE[month]),
    }
}

/// A number of days with the noun in the right number: `1 dag`, `30 dagen`; `1 jour`,
/// `30 jours`; `1 day`, `30 days`; `1 Tag`, `30 Tage` (German nominative/accusative, as in
/// "30 Tage überfällig"). Templates use it as `{{ i.days_overdue | days }}`.
pub fn format_days(days: i64, lang: Language) -> String {
    let one = days.abs() == 1;
    let noun = match (lang, one) {
        (Language::Nl, true) => "dag",
        (Language::Nl, false) => "dagen",
        (Language::Fr, true) => "jour",
        (Language::Fr, false) => "jours",
        (Language::En, true) => "day",
        (Language::En, false) => "days",
        (Language::De, true) => "Tag",
        (Language::De, false) => "Tage",
    };
    format!("{days} {noun}")
}

/// A yearly rate in percent as each language writes it: `10,15%` (nl), `10,15 %` (fr, de),
/// `10.15%` (en); trailing zeros after the decimal point are dropped (`8%`, `10,5%`).
pub fn format_percent(rate: Decimal, lang: Language) -> String {
    let number = rate.normalize().to_string();
    match lang {
        Language::Nl => format!("{}%", number.replace('.', ",")),
        // A plain space, as between the groups of digits of an amount.
        Language::Fr | Language::De => format!("{} %", number.replace('.', ",")),
        Language::En => format!("{number}%"),
    }
}
