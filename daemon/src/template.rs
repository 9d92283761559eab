//! Message templates: the text of every reminder, call script, letter and case file.
//!
//! Templates are plain-text minijinja (Jinja2) files that the business edits in its own git
//! repository, so the renderer is strict: a misspelled variable is an error at `dunwell check`
//! time rather than an empty gap in a letter that has already gone out. Money and dates are
//! formatted by the `money` and `date` filters for the recipient's language, so template authors
//! never format numbers by hand and amounts never pass through floating point.
//!
//! An e-mail template starts with a `Subject: ...` line and a blank line; [`render`] splits that
//! line off so the channel can put it in the header.

use std::fmt::Write as _;
use std::ops::Range;

use chrono::{Datelike, NaiveDate};
use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Serialize, Serializer};

use crate::model::{CustomerKind, Language};

/// Everything a template may refer to. The field names are the template's vocabulary: renaming
/// one breaks every template that uses it, so treat them as a public interface.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageContext {
    pub business: BusinessContext,
    pub customer: CustomerContext,
    pub invoice: InvoiceContext,
    /// The day the message is sent (or the call is made); letters are dated with it.
    pub today: NaiveDate,
    /// Negative before the due date, so preventive messages can use the same context.
    pub days_overdue: i64,
    /// Late-payment interest up to `today`, when the step announces or applies it.
    #[serde(serialize_with = "opt_decimal_as_str")]
    pub interest: Option<Decimal>,
    /// Collection costs (NL: BIK scale; BE: the contractual or statutory damages), when the
    /// step announces or applies them. An announcing step must show the exact amount.
    #[serde(serialize_with = "opt_decimal_as_str")]
    pub costs: Option<Decimal>,
    /// What the debtor has to pay now: open amount plus whatever the step applies.
    #[serde(serialize_with = "opt_decimal_as_str")]
    pub total_due: Option<Decimal>,
    /// The pay-by date the step sets, when it sets one.
    pub deadline: Option<NaiveDate>,
    /// The playbook step number, 1-based.
    pub step: u32,
    /// `email`, `sms`, `phone`, `letter`, `registered-letter` or `agency`.
    pub channel: String,
}

/// The creditor: the business that sends the reminders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BusinessContext {
    pub name: String,
    /// Postal address on one line, as it should appear under a signature.
    pub address: String,
    pub iban: String,
    /// VAT number (in Belgium also the company number a consumer reminder must show); absent
    /// for businesses outside the VAT system.
    pub vat_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerContext {
    pub id: String,
    pub name: String,
    /// Serialized as `b2b` / `b2c`, so templates can switch wording for consumers.
    pub kind: CustomerKind,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvoiceContext {
    pub number: String,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    /// ISO 4217, upper case; the `money` filter uses it unless told otherwise.
    pub currency: String,
    #[serde(serialize_with = "decimal_as_str")]
    pub total: Decimal,
    #[serde(serialize_with = "decimal_as_str")]
    pub open_amount: Decimal,
    /// Structured reference (NL betalingskenmerk, BE +++…+++), when the invoice has one.
    pub payment_reference: Option<String>,
}

/// Amounts go into templates as exact decimal strings: minijinja has no decimal type, and a
/// float would round `2.005` the wrong way before the `money` filter ever saw it.
fn decimal_as_str<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.to_string())
}

fn opt_decimal_as_str<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&d.to_string()),
        None => s.serialize_none(),
    }
}

impl MessageContext {
    /// A complete context with every optional value present, for `dunwell check` and for
    /// previewing a template without a database.
    pub fn sample() -> MessageContext {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        MessageContext {
            business: BusinessContext {
                name: "Bakkerij Van Dam B.V.".into(),
                address: "Kerkstraat 12, 3811 CV Amersfoort".into(),
                iban: "NL91 ABNA 0417 1643 00".into(),
                vat_number: Some("NL123456789B01".into()),
            },
            customer: CustomerContext {
                id: "C-1042".into(),
                name: "Hotel De Linde".into(),
                kind: CustomerKind::B2b,
            },
            invoice: InvoiceContext {
                number: "2026-0117".into(),
                issue_date: date(2026, 2, 1),
                due_date: date(2026, 3, 3),
                currency: "EUR".into(),
                total: Decimal::new(123456, 2),
                open_amount: Decimal::new(123456, 2),
                payment_reference: Some("1234 5678 9012 3456".into()),
            },
            today: date(2026, 4, 2),
            days_overdue: 30,
            interest: Some(Decimal::new(1253, 2)),
            costs: Some(Decimal::new(18518, 2)),
            total_due: Some(Decimal::new(143227, 2)),
            deadline: Some(date(2026, 4, 16)),
            step: 5,
            channel: "email".into(),
        }
    }
}

/// A rendered message: the subject goes into the e-mail header, the body into the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: Option<String>,
    pub body: String,
}

/// A template that cannot be used, with where and what to fix. `name` is whatever the caller
/// passed (normally the path below `playbooks/templates`), so the operator can open the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template {name}{}: syntax error: {message}", at_line(*.line))]
    Syntax { name: String, line: Option<usize>, message: String },
    #[error("template {name}{}: {message}", at_line(*.line))]
    Render { name: String, line: Option<usize>, message: String },
    /// The text rendered, but is not shaped the way its channel needs (e-mail without subject).
    #[error("template {name}: {message}")]
    Layout { name: String, message: String },
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

impl TemplateError {
    pub fn name(&self) -> &str {
        match self {
            TemplateError::Syntax { name, .. }
            | TemplateError::Render { name, .. }
            | TemplateError::Layout { name, .. } => name,
        }
    }

    pub fn line(&self) -> Option<usize> {
        match self {
            TemplateError::Syntax { line, .. } | TemplateError::Render { line, .. } => *line,
            TemplateError::Layout { .. } => None,
        }
    }

    /// Turns minijinja's terse error into one that quotes the offending text and says what to
    /// change, because the reader is a bookkeeper editing a text file, not a Rust developer.
    fn from_minijinja(name: &str, source: &str, err: minijinja::Error) -> TemplateError {
        let line = err.line();
        let quoted = err
            .range()
            .and_then(|r| snippet(source, r))
            .or_else(|| line.and_then(|l| source.lines().nth(l - 1)).map(|t| t.trim().to_string()));
        let detail = err.detail().unwrap_or("").to_string();
        let name = name.to_string();
        match err.kind() {
            ErrorKind::SyntaxError => {
                let mut message =
                    if detail.is_empty() { "the template does not parse".to_string() } else { detail };
                if let Some(q) = quoted {
                    let _ = write!(message, " (in `{q}`)");
                }
                message.push_str(
                    "; check that every `{{` has a matching `}}`, every `{%` a matching `%}`, \
                     and every `{% if %}` / `{% for %}` its `{% endif %}` / `{% endfor %}`",
                );
                TemplateError::Syntax { name, line, message }
            }
            ErrorKind::UndefinedError => {
                let what = quoted.map(|q| format!("`{q}`")).unwrap_or_else(|| "a variable".to_string());
                let message = format!(
                    "{what} is not defined; check the spelling. Available: {VOCABULARY}. \
                     Use `{{% if x is defined %}}` only for values that may really be missing"
                );
                TemplateError::Render { name, line, message }
            }
            ErrorKind::UnknownFilter => {
                let message = format!(
                    "{detail}; the message filters are `money` and `date` (plus minijinja's built-in \
                     filters such as `upper` and `default`)"
                );
                TemplateError::Render { name, line, message }
            }
            kind => {
                let mut message =
                    if detail.is_empty() { kind.to_string() } else { format!("{kind}: {detail}") };
                if let Some(q) = quoted {
                    let _ = write!(message, " (in `{q}`)");
                }
                TemplateError::Render { name, line, message }
            }
        }
    }
}

/// The variables a template can use, listed in error messages so the fix is one glance away.
const VOCABULARY: &str = "business.{name, address, iban, vat_number}, customer.{id, name, kind}, \
     invoice.{number, issue_date, due_date, currency, total, open_amount, payment_reference}, \
     today, days_overdue, interest, costs, total_due, deadline, step, channel";

fn snippet(source: &str, range: Range<usize>) -> Option<String> {
    let s = source.get(range)?.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Builds the environment for one language and currency. It is rebuilt per render because the
/// filters close over both; that costs microseconds, next to an SMTP round trip.
fn environment<'s>(lang: Language, currency: &str) -> Environment<'s> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_debug(true);
    // Block tags on their own line must not leave blank lines in a plain-text letter.
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    // Plain text: HTML escaping would turn "Smith & Co" into "Smith &amp; Co".
    env.set_auto_escape_callback(|_| AutoEscape::None);
    let default_currency = currency.to_string();
    env.add_filter("money", move |value: Value, currency: Option<String>| {
        let amount = value_to_decimal(&value)?;
        let currency = currency.as_deref().unwrap_or(&default_currency);
        Ok::<_, minijinja::Error>(format_money(amount, currency, lang))
    });
    env.add_filter("date", move |value: Value| {
        let date = value_to_date(&value)?;
        Ok::<_, minijinja::Error>(format_date(date, lang))
    });
    env
}

fn filter_error(message: String) -> minijinja::Error {
    minijinja::Error::new(ErrorKind::InvalidOperation, message)
}

fn value_to_decimal(value: &Value) -> Result<Decimal, minijinja::Error> {
    match value.kind() {
        ValueKind::Undefined => Err(minijinja::Error::from(ErrorKind::UndefinedError)),
        ValueKind::None => Err(filter_error(
            "`money` got an empty amount: this value is absent for this step; \
             guard it with `{% if … is not none %}`"
                .into(),
        )),
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default().trim();
            Decimal::from_str_exact(s)
                .map_err(|_| filter_error(format!("`money` needs an amount, got the text `{s}`")))
        }
        ValueKind::Number => i64::try_from(value.clone()).map(Decimal::from).map_err(|_| {
            filter_error(format!(
                "`money` got the fractional number {value}, which would lose cents in binary floating \
                 point; write it as a quoted string such as \"{value}\""
            ))
        }),
        _ => Err(filter_error(format!("`money` needs an amount, got `{value}`"))),
    }
}

fn value_to_date(value: &Value) -> Result<NaiveDate, minijinja::Error> {
    match value.kind() {
        ValueKind::Undefined => Err(minijinja::Error::from(ErrorKind::UndefinedError)),
        ValueKind::None => Err(filter_error(
            "`date` got an empty date: this value is absent for this step; \
             guard it with `{% if … is not none %}`"
                .into(),
        )),
        _ => {
            let s = value.as_str().map(str::trim).unwrap_or_default();
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| filter_error(format!("`date` needs a date like 2026-03-03, got `{value}`")))
        }
    }
}

/// Formats an amount the way a reader in that language expects it, rounded half-up (away from
/// zero) to cents, because that is how the amounts on the invoice and in the law are rounded.
/// A currency other than EUR is written as its ISO code: a bare `$` or `kr` is ambiguous.
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

/// Formats a date in words, because `03-04-2026` reads as March or April depending on who
/// reads it, and a payment term must not be ambiguous.
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
        Language::De => format!("{day}. {} {year}", DE[month]),
    }
}

/// Renders a template for one message. `name` is only used in error messages.
pub fn render(
    source: &str,
    name: &str,
    lang: Language,
    ctx: &MessageContext,
) -> Result<Rendered, TemplateError> {
    let text = render_text(source, name, lang, ctx)?;
    let (subject, body) = split_subject(&text);
    if ctx.channel == "email" && subject.as_deref().is_none_or(str::is_empty) {
        return Err(TemplateError::Layout {
            name: name.to_string(),
            message: "an e-mail template must start with a `Subject: ...` line (with text after the \
                      colon), then one blank line, then the body"
                .into(),
        });
    }
    if body.is_empty() {
        return Err(TemplateError::Layout {
            name: name.to_string(),
            message: "the message body is empty; write the text below the subject line".into(),
        });
    }
    Ok(Rendered { subject, body })
}

fn render_text(
    source: &str,
    name: &str,
    lang: Language,
    ctx: &MessageContext,
) -> Result<String, TemplateError> {
    let env = environment(lang, &ctx.invoice.currency);
    let template = env
        .template_from_named_str(name, source)
        .map_err(|e| TemplateError::from_minijinja(name, source, e))?;
    template.render(ctx).map_err(|e| TemplateError::from_minijinja(name, source, e))
}

/// Splits off a leading `Subject:` line. Leading blank lines of the body and trailing white
/// space are dropped, so a template's exact spacing around blocks does not leak into the mail.
fn split_subject(text: &str) -> (Option<String>, String) {
    let text = text.trim_start_matches(['\n', '\r']);
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let subject = first.trim_end_matches('\r').strip_prefix("Subject:").map(|s| s.trim().to_string());
    let body = if subject.is_some() { rest } else { text };
    (subject, body.trim_start_matches(['\n', '\r']).trim_end().to_string())
}

/// Checks a template before it is ever used to send: it must parse, and it must render against
/// sample contexts for a business customer, a consumer, and one with every optional value
/// absent, so that misspelled variables and unguarded optional values show up in `dunwell
/// check` instead of in a failed send weeks later. Only branches taken by those samples are
/// checked; an `{% if %}` on something else can still hide a mistake.
pub fn check_syntax(source: &str, name: &str) -> Result<(), TemplateError> {
    let env = environment(Language::En, "EUR");
    env.template_from_named_str(name, source).map_err(|e| TemplateError::from_minijinja(name, source, e))?;
    check_swallowed_line_breaks(source, name)?;
    for ctx in sample_variants() {
        render_text(source, name, Language::En, &ctx)?;
    }
    Ok(())
}

/// Block tags trim the line break after them, which is what a tag alone on its line needs but
/// silently joins two lines when the tag ends a line of text (`Soort: {% if … %}a{% endif %}`).
/// That mistake is invisible until a letter comes out with two paragraphs run together, so it
/// is reported here; `+%}` keeps the line break on purpose, `-%}` removes it on purpose.
fn check_swallowed_line_breaks(source: &str, name: &str) -> Result<(), TemplateError> {
    let mut in_raw = false;
    let lines: Vec<&str> = source.lines().collect();
    // The last line has no following line to be joined to.
    let checked = lines.len().saturating_sub(1);
    for (i, line) in lines.iter().take(checked).enumerate() {
        let t = line.trim();
        if t.contains("{% raw") || t.contains("{%- raw") {
            in_raw = true;
        }
        if in_raw {
            in_raw = !(t.contains("endraw %}") || t.contains("endraw -%}") || t.contains("endraw +%}"));
            continue;
        }
        let ends_with_tag = t.ends_with("%}") && !t.ends_with("+%}") && !t.ends_with("-%}");
        let standalone_tag = t.starts_with("{%") && t.matches("{%").count() == 1;
        if ends_with_tag && !standalone_tag {
            return Err(TemplateError::Syntax {
                name: name.to_string(),
                line: Some(i + 1),
                message: format!(
                    "`{t}` ends with a block tag after other text, so its line break is removed and \
                     the next line is joined to it; end the last tag with `+%}}` to keep the line break, \
                     or put the tag on a line of its own"
                ),
            });
        }
    }
    Ok(())
}

fn sample_variants() -> [MessageContext; 3] {
    let full = MessageContext::sample();
    let mut consumer = full.clone();
    consumer.customer.kind = CustomerKind::B2c;
    consumer.customer.name = "J. de Vries".into();
    let mut sparse = full.clone();
    sparse.business.vat_number = None;
    sparse.invoice.payment_reference = None;
    sparse.interest = None;
    sparse.costs = None;
    sparse.total_due = None;
    sparse.deadline = None;
    [full, consumer, sparse]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn day(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn money_is_formatted_per_language() {
        let cases: &[(&str, &str, [&str; 4])] = &[
            // amount, currency, [nl, fr, en, de]
            ("1234.56", "EUR", ["€ 1.234,56", "1 234,56 €", "€1,234.56", "1.234,56 €"]),
            ("2.005", "EUR", ["€ 2,01", "2,01 €", "€2.01", "2,01 €"]),
            ("2.004999", "EUR", ["€ 2,00", "2,00 €", "€2.00", "2,00 €"]),
            ("-2.005", "EUR", ["€ -2,01", "-2,01 €", "-€2.01", "-2,01 €"]),
            ("-1234.5", "EUR", ["€ -1.234,50", "-1 234,50 €", "-€1,234.50", "-1.234,50 €"]),
            ("0", "EUR", ["€ 0,00", "0,00 €", "€0.00", "0,00 €"]),
            ("-0.004", "EUR", ["€ 0,00", "0,00 €", "€0.00", "0,00 €"]),
            ("999.995", "EUR", ["€ 1.000,00", "1 000,00 €", "€1,000.00", "1.000,00 €"]),
            ("1234567.891", "EUR", ["€ 1.234.567,89", "1 234 567,89 €", "€1,234,567.89", "1.234.567,89 €"]),
            ("123456", "EUR", ["€ 123.456,00", "123 456,00 €", "€123,456.00", "123.456,00 €"]),
            ("1234.5", "USD", ["USD 1.234,50", "1 234,50 USD", "USD 1,234.50", "1.234,50 USD"]),
            ("-40", "gbp", ["GBP -40,00", "-40,00 GBP", "-GBP 40.00", "-40,00 GBP"]),
            ("40", "eur", ["€ 40,00", "40,00 €", "€40.00", "40,00 €"]),
        ];
        for (amount, currency, expected) in cases {
            for (lang, want) in Language::ALL.iter().zip(expected) {
                assert_eq!(format_money(d(amount), currency, *lang), *want, "{amount} {currency} in {lang}");
            }
        }
    }

    #[test]
    fn dates_are_written_in_words() {
        let march3 = day(2026, 3, 3);
        assert_eq!(format_date(march3, Language::Nl), "3 maart 2026");
        assert_eq!(format_date(march3, Language::Fr), "3 mars 2026");
        assert_eq!(format_date(march3, Language::En), "3 March 2026");
        assert_eq!(format_date(march3, Language::De), "3. März 2026");
        let aug1 = day(2025, 8, 1);
        assert_eq!(format_date(aug1, Language::Nl), "1 augustus 2025");
        assert_eq!(format_date(aug1, Language::Fr), "1er août 2025");
        assert_eq!(format_date(aug1, Language::En), "1 August 2025");
        assert_eq!(format_date(aug1, Language::De), "1. August 2025");
        let dec31 = day(2024, 12, 31);
        assert_eq!(format_date(dec31, Language::Fr), "31 décembre 2024");
        assert_eq!(format_date(day(2026, 2, 14), Language::Fr), "14 février 2026");
    }

    #[test]
    fn filters_use_render_language_and_invoice_currency() {
        let mut ctx = MessageContext::sample();
        ctx.channel = "letter".into();
        let src =
            "{{ invoice.open_amount | money }} / {{ costs | money }} / {{ \"40\" | money(\"USD\") }} / \
                   {{ 7 | money }} / {{ invoice.due_date | date }}";
        let nl = render(src, "t", Language::Nl, &ctx).unwrap();
        assert_eq!(nl.body, "€ 1.234,56 / € 185,18 / USD 40,00 / € 7,00 / 3 maart 2026");
        let fr = render(src, "t", Language::Fr, &ctx).unwrap();
        assert_eq!(fr.body, "1 234,56 € / 185,18 € / 40,00 USD / 7,00 € / 3 mars 2026");
        ctx.invoice.currency = "CHF".into();
        let en = render(src, "t", Language::En, &ctx).unwrap();
        assert_eq!(en.body, "CHF 1,234.56 / CHF 185.18 / USD 40.00 / CHF 7.00 / 3 March 2026");
    }

    #[test]
    fn subject_is_split_off_and_required_for_email() {
        let ctx = MessageContext::sample();
        let r = render(
            "Subject: Factuur {{ invoice.number }}\n\nBeste klant,\n\nTekst.\n",
            "t",
            Language::Nl,
            &ctx,
        )
        .unwrap();
        assert_eq!(r.subject.as_deref(), Some("Factuur 2026-0117"));
        assert_eq!(r.body, "Beste klant,\n\nTekst.");

        let err = render("Beste klant,\n", "mail.txt", Language::Nl, &ctx).unwrap_err();
        assert!(matches!(err, TemplateError::Layout { .. }), "{err}");
        assert!(err.to_string().contains("Subject:"), "{err}");

        let mut call = ctx.clone();
        call.channel = "phone".into();
        let r = render("Bel {{ customer.name }}.", "t", Language::Nl, &call).unwrap();
        assert_eq!(r.subject, None);
        assert_eq!(r.body, "Bel Hotel De Linde.");
    }

    #[test]
    fn errors_carry_line_numbers_and_say_what_to_fix() {
        let syntax = "Subject: x\n\nHallo,\n{% if costs %}\nkosten\n";
        let err = check_syntax(syntax, "nl/broken.txt").unwrap_err();
        assert!(matches!(err, TemplateError::Syntax { .. }), "{err}");
        assert!(err.line().is_some(), "{err}");
        assert!(err.to_string().contains("nl/broken.txt"), "{err}");
        assert!(err.to_string().contains("endif"), "{err}");

        let unclosed = "Subject: x\n\nHallo,\n\nBedrag {{ invoice.total | money \n";
        let err = check_syntax(unclosed, "t").unwrap_err();
        assert!(matches!(err, TemplateError::Syntax { .. }), "{err}");
        assert!(err.line().is_some(), "{err}");

        let unknown = "Subject: x\n\nBeste {{ customer.name }},\n\nFactuur {{ invoice.numbr }} staat open.\n";
        let err = check_syntax(unknown, "nl/typo.txt").unwrap_err();
        assert_eq!(err.line(), Some(5), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("invoice.numbr"), "{msg}");
        assert!(msg.contains("line 5"), "{msg}");
        assert!(msg.contains("spelling"), "{msg}");

        let top_level = "Geachte {{ klant }},";
        let err = check_syntax(top_level, "t").unwrap_err();
        assert_eq!(err.line(), Some(1), "{err}");
        assert!(err.to_string().contains("klant"), "{err}");

        // Strict: an undefined value in a condition is an error too, not a silently false branch.
        let err = check_syntax("x\n{% if custmer.kind == \"b2c\" %}y{% endif %}", "t").unwrap_err();
        assert_eq!(err.line(), Some(2), "{err}");

        let err = check_syntax("x\n\n{{ today | datum }}", "t").unwrap_err();
        assert_eq!(err.line(), Some(3), "{err}");
        assert!(err.to_string().contains("money"), "{err}");

        // An optional value used without a guard fails on the sample where it is absent.
        let err = check_syntax("Kosten:\n{{ costs | money }}", "t").unwrap_err();
        assert_eq!(err.line(), Some(2), "{err}");
        assert!(err.to_string().contains("is not none"), "{err}");

        assert!(check_syntax("{% if costs is not none %}{{ costs | money }}{% endif %}", "t").is_ok());

        let joined = "Subject: x\n\nSoort: {% if customer.kind == \"b2c\" %}consument{% else %}zakelijk{% endif %}\n\nTekst";
        let err = check_syntax(joined, "t").unwrap_err();
        assert_eq!(err.line(), Some(3), "{err}");
        assert!(err.to_string().contains("+%}"), "{err}");
        let kept = joined.replace("{% endif %}", "{% endif +%}");
        assert!(check_syntax(&kept, "t").is_ok());
        let mut ctx = MessageContext::sample();
        ctx.channel = "letter".into();
        assert_eq!(render(&kept, "t", Language::Nl, &ctx).unwrap().body, "Soort: zakelijk\n\nTekst");
    }

    #[test]
    fn render_reports_errors_too() {
        let ctx = MessageContext::sample();
        let err = render("Subject: a\n\n{{ invoice.number | money }}", "t", Language::Nl, &ctx).unwrap_err();
        assert!(err.to_string().contains("`money` needs an amount"), "{err}");
        let err = render("Subject: a\n\n{{ 2.5 | money }}", "t", Language::Nl, &ctx).unwrap_err();
        assert!(err.to_string().contains("quoted string"), "{err}");
        let err = render("Subject: a\n\n{{ business.nam }}", "t", Language::Nl, &ctx).unwrap_err();
        assert_eq!(err.line(), Some(3));
    }

    #[test]
    fn text_is_not_html_escaped() {
        let mut ctx = MessageContext::sample();
        ctx.customer.name = "Smith & <Co>".into();
        let r = render("Subject: {{ customer.name }}\n\nx", "t.html", Language::En, &ctx).unwrap();
        assert_eq!(r.subject.as_deref(), Some("Smith & <Co>"));
    }

    // ---- the shipped templates ----

    #[derive(Debug, serde::Deserialize)]
    struct Playbook {
        segment: String,
        steps: Vec<Step>,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Step {
        step: u32,
        offset_days: i64,
        channel: String,
        template: String,
        #[serde(default)]
        interest: Option<String>,
        #[serde(default)]
        costs: Option<String>,
    }

    fn playbooks_dir() -> PathBuf {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../playbooks")).to_path_buf()
    }

    fn shipped_playbooks() -> Vec<Playbook> {
        let mut out = Vec::new();
        for name in ["standard", "vip", "bad-payer"] {
            let path = playbooks_dir().join(format!("{name}.toml"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let pb: Playbook = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push(pb);
        }
        out
    }

    /// A context shaped like the one the planner builds for this step: amounts present only when
    /// the step announces or applies them.
    fn context_for(step: &Step, kind: CustomerKind) -> MessageContext {
        let mut ctx = MessageContext::sample();
        ctx.customer.kind = kind;
        ctx.step = step.step;
        ctx.channel = step.channel.clone();
        ctx.days_overdue = step.offset_days;
        ctx.today = if step.offset_days >= 0 {
            ctx.invoice.due_date + chrono::Days::new(step.offset_days as u64)
        } else {
            ctx.invoice.due_date - chrono::Days::new(step.offset_days.unsigned_abs())
        };
        let interest = step.interest.as_deref().unwrap_or("none");
        let costs = step.costs.as_deref().unwrap_or("none");
        if interest == "none" {
            ctx.interest = None;
        }
        if costs == "none" {
            ctx.costs = None;
        }
        if interest != "apply" && costs != "apply" {
            ctx.total_due = None;
        }
        ctx
    }

    const SHIPPED_LANGUAGES: [Language; 3] = [Language::Nl, Language::Fr, Language::En];

    #[test]
    fn every_shipped_template_renders_in_every_language() {
        let dir = playbooks_dir().join("templates");
        let mut seen: BTreeMap<String, ()> = BTreeMap::new();
        let mut failures = Vec::new();
        for pb in shipped_playbooks() {
            for step in &pb.steps {
                seen.insert(step.template.clone(), ());
                for lang in SHIPPED_LANGUAGES {
                    let rel = format!("{lang}/{}.txt", step.template);
                    let path = dir.join(&rel);
                    let source = match std::fs::read_to_string(&path) {
                        Ok(s) => s,
                        Err(e) => {
                            failures.push(format!("{rel} ({} step {}): {e}", pb.segment, step.step));
                            continue;
                        }
                    };
                    if let Err(e) = check_syntax(&source, &rel) {
                        failures.push(format!("check: {e}"));
                        continue;
                    }
                    for kind in [CustomerKind::B2b, CustomerKind::B2c] {
                        let ctx = context_for(step, kind);
                        let out = match render(&source, &rel, lang, &ctx) {
                            Ok(o) => o,
                            Err(e) => {
                                failures.push(format!("render ({}): {e}", kind.as_str()));
                                continue;
                            }
                        };
                        let all = format!("{}\n{}", out.subject.clone().unwrap_or_default(), out.body);
                        if !all.contains(&ctx.invoice.number) {
                            failures.push(format!("{rel}: does not name the invoice number"));
                        }
                        if step.channel == "email" && out.subject.is_none() {
                            failures.push(format!("{rel}: e-mail without subject"));
                        }
                        if step.channel != "email" && out.subject.is_some() {
                            failures.push(format!("{rel}: only e-mails have a Subject line"));
                        }
                        let costs = step.costs.as_deref().unwrap_or("none");
                        if costs == "announce" || costs == "apply" {
                            let want = format_money(ctx.costs.unwrap(), &ctx.invoice.currency, lang);
                            if !all.contains(&want) {
                                failures
                                    .push(format!("{rel}: costs = {costs} but {want} is not in the text"));
                            }
                        }
                        if costs == "announce" {
                            let phrase = match lang {
                                Language::Nl => "binnen 14 dagen na de dag van ontvangst van deze brief",
                                Language::Fr => "dans les 14 jours suivant le jour de la réception",
                                _ => "within 14 days of the day after you receive this letter",
                            };
                            if !all.contains(phrase) {
                                failures
                                    .push(format!("{rel}: costs = announce but the 14-day term is missing"));
                            }
                        }
                        if step.interest.as_deref() == Some("apply") || costs == "apply" {
                            for amount in [ctx.invoice.open_amount, ctx.total_due.unwrap()] {
                                let want = format_money(amount, &ctx.invoice.currency, lang);
                                if !all.contains(&want) {
                                    failures.push(format!("{rel}: applies money but {want} is not shown"));
                                }
                            }
                        }
                        if step.interest.as_deref() == Some("apply") {
                            let want = format_money(ctx.interest.unwrap(), &ctx.invoice.currency, lang);
                            if !all.contains(&want) {
                                failures.push(format!("{rel}: interest = apply but {want} is not shown"));
                            }
                        }
                        if all.contains("{{") || all.contains("{%") || all.contains("  \n") {
                            failures.push(format!("{rel}: leftover template syntax or trailing spaces"));
                        }
                        if step.channel == "sms" && out.body.chars().count() > 320 {
                            failures.push(format!("{rel}: SMS longer than two messages"));
                        }
                    }
                }
            }
        }
        assert_eq!(seen.len(), 19, "the default playbooks name 19 templates: {:?}", seen.keys());
        assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
    }

    #[test]
    fn no_orphan_template_files() {
        let names: Vec<String> =
            shipped_playbooks().into_iter().flat_map(|p| p.steps.into_iter().map(|s| s.template)).collect();
        for lang in SHIPPED_LANGUAGES {
            let dir = playbooks_dir().join("templates").join(lang.as_str());
            for entry in std::fs::read_dir(&dir).unwrap() {
                let file = entry.unwrap().file_name().to_string_lossy().into_owned();
                let stem = file.strip_suffix(".txt").unwrap_or(&file);
                assert!(names.iter().any(|n| n == stem), "{lang}/{file} is not used by any playbook");
            }
        }
    }
}
