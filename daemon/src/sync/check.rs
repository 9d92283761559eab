//! The checks every record from a plugin passes before anything is written: bounded, clean
//! text, exact decimals brought to their currency's scale, strict dates. They turn wit records
//! into `Synced*` records, or say which field of which record cannot be used ([`Unusable`]):
//! the sync sets such a record aside (quarantine) and stores the rest of the run.
//!
//! A refusal's reason names the record, the field and the value, in that order:
//! `invoice F2026-018: total `99,9` is not a decimal amount; ...`. The record is named by what
//! a person finds it by at the source (an invoice's number, a customer's key), else by the
//! plugin's id (payments have nothing else).
//!
//! **Amounts keep their currency's scale** ([`minor_units`], ISO 4217): `99.9` EUR is stored
//! and shown as `99.90`, `1000.00` JPY as `1000`; trailing zeros beyond the scale go
//! (`99.900` → `99.90`), a digit beyond it refuses the record (`99.999` EUR): rounding money a
//! source sent is not the host's call. A currency code outside the table refuses the record
//! too, since its scale is unknown.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::CREDIT_PREFIX;
use crate::model::{
    parse_amount, parse_country, parse_currency, parse_date, Address, Customer, CustomerKind, Invoice,
    Language,
};
use crate::plugin::bindings::dunwell::connector::types as wit;
use crate::text;

/// The start of an amount by which a connector says it could not read a record, and why: the
/// SDK's `UNUSABLE_PREFIX` (the daemon does not link the SDK; a test keeps the two equal).
pub const UNUSABLE_PREFIX: &str = "unusable: ";

/// Longest cursor accepted from a plugin (opaque to dunwell, never shown whole).
const MAX_CURSOR: usize = 4096;
/// Longest record id: file connectors build them from statement and entry references.
const MAX_ID: usize = 256;
/// Longest name or address line.
const MAX_NAME: usize = 200;
/// Longest free text kept (a bank's remittance lines).
const MAX_FREE_TEXT: usize = 1024;

#[derive(Debug)]
pub struct SyncedCustomer {
    pub source_id: String,
    pub customer: Customer,
    pub removed: bool,
}

#[derive(Debug)]
pub struct SyncedInvoice {
    pub source_id: String,
    pub invoice: Invoice,
    pub declared_open: Option<Decimal>,
    pub credit_note: bool,
    pub corrects: Option<String>,
    pub payment_reference: Option<String>,
    pub removed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedPayment {
    pub source_id: String,
    pub date: NaiveDate,
    pub amount: Decimal,
    pub currency: String,
    pub invoice_number: Option<String>,
    pub invoice_id: Option<String>,
    pub reference: Option<String>,
    pub free_text: Option<String>,
    pub payer_name: Option<String>,
    pub payer_iban: Option<String>,
    pub removed: bool,
}

/// Why a record cannot be used: the record's id (when it has a usable one), what it says it is
/// (an invoice number, a customer key), the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    pub id: Option<String>,
    pub record: Option<String>,
    pub field: &'static str,
    pub reason: String,
}

impl std::fmt::Display for Unusable {
    /// The reason: it names the record, the field and the value itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// A field's problem (the field, and a message that starts with the field and names the
/// value), before the record's name is put in front.
type Bad = (&'static str, String);

/// A value a plugin sent, as a reason quotes it: capped, escaped.
fn shown(s: &str) -> String {
    text::escape(&text::cap(s, 80)).into_owned()
}

/// `field` and its value `s` in front of a checker's message about it. The model's and
/// `text`'s checkers start their messages with the value in backquotes; it is replaced by the
/// escaped value (the model's parsers echo it raw), or kept after a colon when it is not there.
fn bad(field: &'static str, s: &str, message: &str) -> Bad {
    let t = s.trim();
    let value = shown(t);
    let problem = [format!("`{t}` "), format!("`{value}` ")]
        .iter()
        .find_map(|p| message.strip_prefix(p.as_str()))
        .map(|rest| text::escape(rest).into_owned());
    match problem {
        Some(rest) => (field, format!("{field} `{value}` {rest}")),
        None => (field, format!("{field} `{value}`: {}", text::escape(message))),
    }
}

/// The bytes of text a plugin record holds: what a run's pulled records cost the daemon's
/// memory until they are written (`max_pull_mb`).
pub trait TextSize {
    fn text_size(&self) -> usize;
}

fn opt_len(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, String::len)
}

impl TextSize for wit::Customer {
    fn text_size(&self) -> usize {
        let a = &self.address;
        self.id.len()
            + self.key.len()
            + self.name.len()
            + [&self.contact, &self.email, &self.phone, &self.language]
                .into_iter()
                .map(opt_len)
                .sum::<usize>()
            + [&a.street, &a.postal_code, &a.city, &a.country].into_iter().map(opt_len).sum::<usize>()
    }
}

impl TextSize for wit::Invoice {
    fn text_size(&self) -> usize {
        [
            &self.id,
            &self.number,
            &self.customer_key,
            &self.issued_on,
            &self.due_on,
            &self.currency,
            &self.total,
        ]
        .into_iter()
        .map(String::len)
        .sum::<usize>()
            + [&self.open, &self.payment_reference, &self.corrects, &self.paid_date]
                .into_iter()
                .map(opt_len)
                .sum::<usize>()
    }
}

impl TextSize for wit::Payment {
    fn text_size(&self) -> usize {
        [&self.id, &self.amount, &self.currency, &self.received_on]
            .into_iter()
            .map(String::len)
            .sum::<usize>()
            + [
                &self.invoice_number,
                &self.invoice_id,
                &self.reference,
                &self.free_text,
                &self.payer_name,
                &self.payer_iban,
            ]
            .into_iter()
            .map(opt_len)
            .sum::<usize>()
    }
}

/// A cursor: one line of visible characters, bounded. Not a record: a bad one fails the run.
pub(super) fn check_cursor(s: &str) -> Result<(), String> {
    if s.len() > MAX_CURSOR {
        return Err(format!("the cursor is longer than {MAX_CURSOR} bytes"));
    }
    if text::escape(s) != s {
        return Err(format!(
            "the cursor `{}` holds control or invisible characters",
            text::escape(&text::cap(s, 80))
        ));
    }
    Ok(())
}

/// How a text field is read (see [`crate::text`]).
#[derive(Clone, Copy)]
enum Kind {
    /// Numbers, keys, references: one visible line, NFC, short.
    Identifier,
    /// The record's own id: as an identifier, a little longer.
    Id,
    /// Names and address lines: one line, no bidi overrides.
    Name,
    /// An e-mail address reminders may go to.
    Email,
    /// Someone else's words (remittance text, payer's name): cleaned, never refused.
    Free,
}

fn read(kind: Kind, s: &str) -> Result<String, String> {
    match kind {
        Kind::Identifier => text::identifier(s),
        Kind::Id => text::identifier_max(s, MAX_ID),
        Kind::Name => text::single_line(s, MAX_NAME),
        Kind::Email => text::email(s),
        Kind::Free => Ok(text::free_text(s, MAX_FREE_TEXT)),
    }
}

fn required(field: &'static str, kind: Kind, s: String) -> Result<String, Bad> {
    if s.trim().is_empty() {
        return Err((field, format!("{field} is empty")));
    }
    read(kind, &s).map_err(|m| bad(field, &s, &m))
}

fn optional(field: &'static str, kind: Kind, s: Option<String>) -> Result<Option<String>, Bad> {
    match s {
        Some(s) if !s.trim().is_empty() => {
            let t = read(kind, &s).map_err(|m| bad(field, &s, &m))?;
            Ok((!t.is_empty()).then_some(t))
        }
        _ => Ok(None),
    }
}

/// A connector that could not read a record says why in an amount, after [`UNUSABLE_PREFIX`]
/// (contract 0.1.0 has no field for it): that reason is kept, and it names the source's field.
fn connector_refused(field: &'static str, s: &str) -> Result<(), Bad> {
    match s.strip_prefix(UNUSABLE_PREFIX) {
        Some(reason) => {
            Err((field, format!("the connector could not read it: {}", text::plugin_text(reason))))
        }
        None => Ok(()),
    }
}

/// ISO 4217 minor units: the decimals of each currency dunwell takes from a connector (the
/// codes in use, and HRK for Croatian invoices from before the euro). Sorted by code.
#[rustfmt::skip]
const MINOR_UNITS: &[(&str, u32)] = &[
    ("AED", 2), ("AFN", 2), ("ALL", 2), ("AMD", 2), ("ANG", 2), ("AOA", 2), ("ARS", 2), ("AUD", 2),
    ("AWG", 2), ("AZN", 2), ("BAM", 2), ("BBD", 2), ("BDT", 2), ("BGN", 2), ("BHD", 3), ("BIF", 0),
    ("BMD", 2), ("BND", 2), ("BOB", 2), ("BOV", 2), ("BRL", 2), ("BSD", 2), ("BTN", 2), ("BWP", 2),
    ("BYN", 2), ("BZD", 2), ("CAD", 2), ("CDF", 2), ("CHE", 2), ("CHF", 2), ("CHW", 2), ("CLF", 4),
    ("CLP", 0), ("CNY", 2), ("COP", 2), ("COU", 2), ("CRC", 2), ("CUP", 2), ("CVE", 2), ("CZK", 2),
    ("DJF", 0), ("DKK", 2), ("DOP", 2), ("DZD", 2), ("EGP", 2), ("ERN", 2), ("ETB", 2), ("EUR", 2),
    ("FJD", 2), ("FKP", 2), ("GBP", 2), ("GEL", 2), ("GHS", 2), ("GIP", 2), ("GMD", 2), ("GNF", 0),
    ("GTQ", 2), ("GYD", 2), ("HKD", 2), ("HNL", 2), ("HRK", 2), ("HTG", 2), ("HUF", 2), ("IDR", 2),
    ("ILS", 2), ("INR", 2), ("IQD", 3), ("IRR", 2), ("ISK", 0), ("JMD", 2), ("JOD", 3), ("JPY", 0),
    ("KES", 2), ("KGS", 2), ("KHR", 2), ("KMF", 0), ("KPW", 2), ("KRW", 0), ("KWD", 3), ("KYD", 2),
    ("KZT", 2), ("LAK", 2), ("LBP", 2), ("LKR", 2), ("LRD", 2), ("LSL", 2), ("LYD", 3), ("MAD", 2),
    ("MDL", 2), ("MGA", 2), ("MKD", 2), ("MMK", 2), ("MNT", 2), ("MOP", 2), ("MRU", 2), ("MUR", 2),
    ("MVR", 2), ("MWK", 2), ("MXN", 2), ("MXV", 2), ("MYR", 2), ("MZN", 2), ("NAD", 2), ("NGN", 2),
    ("NIO", 2), ("NOK", 2), ("NPR", 2), ("NZD", 2), ("OMR", 3), ("PAB", 2), ("PEN", 2), ("PGK", 2),
    ("PHP", 2), ("PKR", 2), ("PLN", 2), ("PYG", 0), ("QAR", 2), ("RON", 2), ("RSD", 2), ("RUB", 2),
    ("RWF", 0), ("SAR", 2), ("SBD", 2), ("SCR", 2), ("SDG", 2), ("SEK", 2), ("SGD", 2), ("SHP", 2),
    ("SLE", 2), ("SOS", 2), ("SRD", 2), ("SSP", 2), ("STN", 2), ("SVC", 2), ("SYP", 2), ("SZL", 2),
    ("THB", 2), ("TJS", 2), ("TMT", 2), ("TND", 3), ("TOP", 2), ("TRY", 2), ("TTD", 2), ("TWD", 2),
    ("TZS", 2), ("UAH", 2), ("UGX", 0), ("USD", 2), ("USN", 2), ("UYI", 0), ("UYU", 2), ("UYW", 4),
    ("UZS", 2), ("VED", 2), ("VES", 2), ("VND", 0), ("VUV", 0), ("WST", 2), ("XAF", 0), ("XCD", 2),
    ("XCG", 2), ("XOF", 0), ("XPF", 0), ("YER", 2), ("ZAR", 2), ("ZMW", 2), ("ZWG", 2),
];

/// The number of decimals of an ISO 4217 currency (upper case), when dunwell knows it.
pub fn minor_units(currency: &str) -> Option<u32> {
    MINOR_UNITS.binary_search_by(|(code, _)| (*code).cmp(currency)).ok().map(|i| MINOR_UNITS[i].1)
}

/// `value` at exactly `minor` decimals, when that loses nothing (`99.9` → `99.90`,
/// `99.900` → `99.90`); `None` when a digit beyond the currency's scale is not zero.
pub fn to_scale(value: Decimal, minor: u32) -> Option<Decimal> {
    if value.normalize().scale() > minor {
        return None;
    }
    let mut scaled = value;
    scaled.rescale(minor);
    Some(scaled)
}

/// A currency code and its number of decimals.
fn currency(s: &str) -> Result<(String, u32), Bad> {
    const FIELD: &str = "currency";
    if s.trim().is_empty() {
        return Err((FIELD, format!("{FIELD} is empty")));
    }
    let code = parse_currency(s).map_err(|m| bad(FIELD, s, &m))?;
    let minor = minor_units(&code).ok_or_else(|| {
        (
            FIELD,
            format!(
                "{FIELD} `{}` is not an ISO 4217 currency dunwell knows, so the number of its decimals is not known",
                shown(&code)
            ),
        )
    })?;
    Ok((code, minor))
}

/// An exact amount in `currency`, brought to the currency's `minor` decimals.
fn amount(field: &'static str, s: &str, currency: &str, minor: u32) -> Result<Decimal, Bad> {
    connector_refused(field, s)?;
    let t = s.trim();
    if t.is_empty() {
        return Err((field, format!("{field} is empty")));
    }
    let value = parse_amount(t).map_err(|m| {
        let why = if m.contains("out of range") {
            "is out of range: at most 15 digits before the `.` and 6 after it"
        } else {
            "is not a decimal amount; write it like 1234.50 (digits, a `.` decimal point, no thousands separator)"
        };
        (field, format!("{field} `{}` {why}", shown(t)))
    })?;
    to_scale(value, minor).ok_or_else(|| {
        let decimals = value.scale();
        let s = if decimals == 1 { "" } else { "s" };
        (field, format!("{field} `{t}` has {decimals} decimal{s}, more than {currency} has ({minor})"))
    })
}

fn date(field: &'static str, s: &str) -> Result<NaiveDate, Bad> {
    if s.trim().is_empty() {
        return Err((field, format!("{field} is empty")));
    }
    parse_date(s).map_err(|m| bad(field, s, &m))
}

/// How a refused record is named at the start of its reason: its kind and what a person finds
/// it by (an invoice's number, a customer's key), else the plugin's id.
fn named(kind: &str, name: Option<&str>, id: Option<&str>) -> String {
    match (name, id) {
        (Some(n), _) => format!("{kind} {n}"),
        (None, Some(id)) => format!("{kind} {}", shown(id)),
        (None, None) => format!("{kind} without a usable id"),
    }
}

/// The record's id first: without it the record cannot be told apart from others.
fn record_id(kind: &str, name: Option<&str>, id: String, record: Option<String>) -> Result<String, Unusable> {
    required("id", Kind::Id, id).map_err(|(field, reason)| Unusable {
        id: None,
        reason: format!("{}: {reason}", named(kind, name, None)),
        record,
        field,
    })
}

/// A field's problem as the record's: its name in front of the reason.
fn attach<T>(
    kind: &str,
    name: Option<&str>,
    id: &str,
    record: Option<&str>,
    r: Result<T, Bad>,
) -> Result<T, Unusable> {
    r.map_err(|(field, reason)| Unusable {
        id: Some(id.to_string()),
        record: record.map(str::to_string),
        field,
        reason: format!("{}: {reason}", named(kind, name, Some(id))),
    })
}

/// A short printable label from text a plugin sent (it may be anything).
fn label(s: &str) -> Option<String> {
    let t = text::escape(&text::cap(s.trim(), 80)).into_owned();
    (!t.is_empty()).then_some(t)
}

pub(super) fn check_customer(c: wit::Customer) -> Result<SyncedCustomer, Unusable> {
    const KIND: &str = "customer";
    let record = label(&c.key);
    let name = record.as_deref();
    let source_id = record_id(KIND, name, c.id.clone(), record.clone())?;
    let removed = c.removed;
    let checked = attach(KIND, name, &source_id, name, customer_fields(c));
    Ok(SyncedCustomer { customer: checked?, source_id, removed })
}

fn customer_fields(c: wit::Customer) -> Result<Customer, Bad> {
    let key = required("key", Kind::Identifier, c.key)?;
    let language = match optional("language", Kind::Identifier, c.language)? {
        None => None,
        Some(l) => Some(l.parse::<Language>().map_err(|m| bad("language", &l.to_ascii_lowercase(), &m))?),
    };
    let country = match optional("country", Kind::Identifier, c.address.country)? {
        None => None,
        Some(cc) => Some(parse_country(&cc).map_err(|m| bad("country", &cc, &m))?),
    };
    let name = required("name", Kind::Name, c.name)?;
    let kind = match c.kind {
        Some(wit::CustomerKind::B2c) => CustomerKind::B2c,
        _ => CustomerKind::B2b,
    };
    // The operator's columns (segment, jurisdiction, account manager, ...) stay unset: the
    // connector contract does not carry them.
    Ok(Customer {
        language,
        email: optional("email", Kind::Email, c.email)?,
        phone: optional("phone", Kind::Name, c.phone)?,
        address: Address {
            street: optional("street", Kind::Name, c.address.street)?,
            postal_code: optional("postal-code", Kind::Name, c.address.postal_code)?,
            city: optional("city", Kind::Name, c.address.city)?,
            country,
        },
        ..Customer::new(key, name, kind)
    })
}

pub(super) fn check_invoice(i: wit::Invoice) -> Result<SyncedInvoice, Unusable> {
    let kind = match i.kind {
        wit::DocumentKind::CreditNote => "credit note",
        _ => "invoice",
    };
    let record = label(&i.number);
    let name = record.as_deref();
    let source_id = record_id(kind, name, i.id.clone(), record.clone())?;
    let checked = attach(kind, name, &source_id, name, invoice_fields(i));
    let (invoice, declared_open, credit_note, corrects, payment_reference, removed) = checked?;
    Ok(SyncedInvoice { invoice, source_id, declared_open, credit_note, corrects, payment_reference, removed })
}

type InvoiceFields = (Invoice, Option<Decimal>, bool, Option<String>, Option<String>, bool);

fn invoice_fields(i: wit::Invoice) -> Result<InvoiceFields, Bad> {
    // What the connector says it could not read comes first: the rest may be empty then.
    connector_refused("total", &i.total)?;
    let number = required("number", Kind::Identifier, i.number)?;
    let (currency, minor) = currency(&i.currency)?;
    let total = amount("total", &i.total, &currency, minor)?;
    let mut declared_open = i.open.as_deref().map(|o| amount("open", o, &currency, minor)).transpose()?;
    // A negative invoice is a credit note: Peppol BIS 3 allows that instead of a CreditNote
    // document, and some packages write corrections that way.
    let credit_note = matches!(i.kind, wit::DocumentKind::CreditNote) || total < Decimal::ZERO;
    if credit_note && total > Decimal::ZERO {
        return Err(("total", format!("total `{total}` is positive, but the document is a credit note")));
    }
    if let Some(open) = declared_open.filter(|o| o.abs() > total.abs()) {
        return Err(("open", format!("open `{open}` is more than the total {total}")));
    }
    if let Some(open) =
        declared_open.filter(|o| !o.is_zero() && (*o < Decimal::ZERO) != (total < Decimal::ZERO))
    {
        return Err(("open", format!("open `{open}` has the other sign than the total {total}")));
    }
    let issue_date = date("issued-on", &i.issued_on)?;
    let due_date = date("due-on", &i.due_on)?;
    if due_date < issue_date {
        return Err(("due-on", format!("due-on `{due_date}` is before the issue date {issue_date}")));
    }
    let paid_date = paid_date(i.paid_date.as_deref(), issue_date)?;
    // Nothing open, at the currency's scale like every amount.
    let zero = Decimal::new(0, minor);
    match i.status {
        wit::InvoiceStatus::Paid | wit::InvoiceStatus::Void => declared_open = Some(zero),
        wit::InvoiceStatus::Open => {}
    }
    let corrects = if credit_note { optional("corrects", Kind::Identifier, i.corrects)? } else { None };
    let stored_number = if credit_note && !number.to_ascii_uppercase().starts_with("CN") {
        format!("CN-{number}")
    } else {
        number
    };
    let invoice = Invoice {
        number: stored_number,
        customer_id: required("customer-key", Kind::Identifier, i.customer_key)?,
        issue_date,
        due_date,
        currency,
        total,
        open_amount: declared_open.unwrap_or(total),
        // The source's word, for a paid invoice: payments that date the settlement win (write.rs).
        paid_date: paid_date.filter(|_| matches!(i.status, wit::InvoiceStatus::Paid) && !credit_note),
    };
    let declared_open = if corrects.is_some() { Some(zero) } else { declared_open };
    let reference = optional("payment-reference", Kind::Identifier, i.payment_reference)?;
    Ok((invoice, declared_open, credit_note, corrects, reference, i.removed))
}

/// `paid-date` (contract 0.2): a date like the others, not before the issue date; blank is none.
fn paid_date(s: Option<&str>, issue_date: NaiveDate) -> Result<Option<NaiveDate>, Bad> {
    let Some(s) = s.filter(|s| !s.trim().is_empty()) else { return Ok(None) };
    let paid = date("paid-date", s)?;
    if paid < issue_date {
        return Err(("paid-date", format!("paid-date `{paid}` is before the issue date {issue_date}")));
    }
    Ok(Some(paid))
}

/// A paid date after `today`, the run's day, cannot be true: the invoice is set aside like one
/// with any other impossible date.
pub(super) fn check_paid_date(i: SyncedInvoice, today: NaiveDate) -> Result<SyncedInvoice, Unusable> {
    let Some(paid) = i.invoice.paid_date.filter(|paid| *paid > today) else { return Ok(i) };
    let record = label(&i.invoice.number);
    let bad = Err(("paid-date", format!("paid-date `{paid}` is in the future (today is {today})")));
    attach("invoice", record.as_deref(), &i.source_id, record.as_deref(), bad)
}

pub(super) fn check_payment(p: wit::Payment) -> Result<SyncedPayment, Unusable> {
    // A payment has no number: its id names it (the record shows its amount and date).
    const KIND: &str = "payment";
    let record = if p.amount.starts_with(UNUSABLE_PREFIX) {
        label(&format!("{} on {}", p.currency, p.received_on))
    } else {
        label(&format!("{} {} on {}", p.amount, p.currency, p.received_on))
    };
    let source_id = record_id(KIND, None, p.id.clone(), record.clone())?;
    if source_id.starts_with(CREDIT_PREFIX) {
        // The host keeps a credit note's deduction as a payment under that prefix.
        let bad = Err(("id", format!(
            "id `{source_id}` starts with `{CREDIT_PREFIX}`, which dunwell reserves for credit notes; the connector must use another id"
        )));
        return attach(KIND, None, &source_id, record.as_deref(), bad);
    }
    let checked = attach(KIND, None, &source_id, record.as_deref(), payment_fields(p, &source_id));
    checked
}

fn payment_fields(p: wit::Payment, source_id: &str) -> Result<SyncedPayment, Bad> {
    connector_refused("amount", &p.amount)?;
    let (currency, minor) = currency(&p.currency)?;
    let amount = amount("amount", &p.amount, &currency, minor)?;
    if amount <= Decimal::ZERO {
        return Err(("amount", format!("amount `{amount}` is not positive")));
    }
    Ok(SyncedPayment {
        date: date("received-on", &p.received_on)?,
        amount,
        currency,
        invoice_number: optional("invoice-number", Kind::Identifier, p.invoice_number)?,
        invoice_id: optional("invoice-id", Kind::Id, p.invoice_id)?,
        reference: optional("reference", Kind::Identifier, p.reference)?,
        free_text: optional("free-text", Kind::Free, p.free_text)?,
        payer_name: optional("payer-name", Kind::Free, p.payer_name)?,
        payer_iban: optional("payer-iban", Kind::Identifier, p.payer_iban)?,
        removed: p.removed,
        source_id: source_id.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invoice(total: &str, currency: &str) -> wit::Invoice {
        wit::Invoice {
            id: "369764595231884301".into(),
            number: "F2026-018".into(),
            customer_key: "C1".into(),
            kind: wit::DocumentKind::Invoice,
            issued_on: "2026-01-01".into(),
            due_on: "2026-01-31".into(),
            currency: currency.into(),
            total: total.into(),
            open: None,
            payment_reference: None,
            corrects: None,
            status: wit::InvoiceStatus::Open,
            removed: false,
            paid_date: None,
        }
    }

    fn payment(amount: &str, currency: &str) -> wit::Payment {
        wit::Payment {
            id: "stmt-1/4".into(),
            amount: amount.into(),
            currency: currency.into(),
            received_on: "2026-01-05".into(),
            invoice_number: None,
            invoice_id: None,
            reference: None,
            free_text: None,
            payer_name: None,
            payer_iban: None,
            removed: false,
        }
    }

    fn customer(key: &str, email: &str) -> wit::Customer {
        wit::Customer {
            id: "c-77".into(),
            key: key.into(),
            name: "Bakkerij De Vries".into(),
            kind: None,
            contact: None,
            email: Some(email.into()),
            phone: None,
            language: None,
            address: wit::Address { street: None, postal_code: None, city: None, country: None },
            removed: false,
        }
    }

    fn reason<T: std::fmt::Debug>(r: Result<T, Unusable>) -> (&'static str, String) {
        let bad = r.unwrap_err();
        (bad.field, bad.reason)
    }

    #[test]
    fn amounts_are_brought_to_their_currency_scale() {
        let stored = |total: &str, currency: &str| {
            let i = check_invoice(invoice(total, currency)).unwrap().invoice;
            (i.total.to_string(), i.open_amount.to_string(), i.currency)
        };
        assert_eq!(stored("99.9", "EUR"), ("99.90".into(), "99.90".into(), "EUR".into()));
        assert_eq!(stored("99", "usd"), ("99.00".into(), "99.00".into(), "USD".into()));
        assert_eq!(stored("99.900", "EUR"), ("99.90".into(), "99.90".into(), "EUR".into()), "zeros go");
        assert_eq!(stored("1000.00", "JPY").0, "1000");
        assert_eq!(stored("12.5", "KWD").0, "12.500");
        assert_eq!(stored("12.5", "BHD").0, "12.500");
        assert_eq!(stored("-5.5", "EUR").0, "-5.50", "a credit note too");

        // The open amount, and a paid invoice's zero, at the same scale.
        let mut i = invoice("1210", "EUR");
        i.open = Some("605.5".into());
        let checked = check_invoice(i).unwrap();
        assert_eq!(checked.invoice.open_amount.to_string(), "605.50");
        assert_eq!(checked.declared_open.map(|d| d.to_string()).as_deref(), Some("605.50"));
        let mut i = invoice("1210", "EUR");
        i.status = wit::InvoiceStatus::Paid;
        let checked = check_invoice(i).unwrap();
        assert_eq!(checked.invoice.open_amount.to_string(), "0.00");

        let p = check_payment(payment("8.8", "EUR")).unwrap();
        assert_eq!((p.amount.to_string(), p.currency.as_str()), ("8.80".into(), "EUR"));
        assert_eq!(check_payment(payment("5000", "JPY")).unwrap().amount.to_string(), "5000");
    }

    #[test]
    fn more_decimals_than_the_currency_has_refuse_the_record() {
        assert_eq!(
            reason(check_invoice(invoice("99.999", "EUR"))),
            ("total", "invoice F2026-018: total `99.999` has 3 decimals, more than EUR has (2)".into())
        );
        assert_eq!(
            reason(check_invoice(invoice("1000.5", "JPY"))),
            ("total", "invoice F2026-018: total `1000.5` has 1 decimal, more than JPY has (0)".into())
        );
        assert_eq!(
            reason(check_invoice(invoice("1.2345", "KWD"))).1,
            "invoice F2026-018: total `1.2345` has 4 decimals, more than KWD has (3)"
        );
        let mut i = invoice("100.00", "EUR");
        i.open = Some("50.005".into());
        assert_eq!(
            reason(check_invoice(i)),
            ("open", "invoice F2026-018: open `50.005` has 3 decimals, more than EUR has (2)".into())
        );
        assert_eq!(
            reason(check_payment(payment("8.851", "EUR"))),
            ("amount", "payment stmt-1/4: amount `8.851` has 3 decimals, more than EUR has (2)".into())
        );
    }

    #[test]
    fn an_unknown_currency_refuses_the_record() {
        assert_eq!(
            reason(check_invoice(invoice("10.00", "XYZ"))),
            (
                "currency",
                "invoice F2026-018: currency `XYZ` is not an ISO 4217 currency dunwell knows, so the number of its decimals is not known".into()
            )
        );
        assert_eq!(
            reason(check_invoice(invoice("10.00", "EURO"))).1,
            "invoice F2026-018: currency `EURO` is not an ISO 4217 currency code (three letters, like EUR)"
        );
        assert_eq!(reason(check_payment(payment("10.00", " "))).1, "payment stmt-1/4: currency is empty");
    }

    #[test]
    fn the_currency_table_is_sorted_and_knows_the_exceptions() {
        assert!(MINOR_UNITS.windows(2).all(|w| w[0].0 < w[1].0), "sorted, no code twice");
        assert!(MINOR_UNITS
            .iter()
            .all(|(c, m)| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) && *m <= 4));
        let of = |c: &str| minor_units(c);
        assert_eq!(
            [
                of("EUR"),
                of("USD"),
                of("GBP"),
                of("CHF"),
                of("JPY"),
                of("KRW"),
                of("KWD"),
                of("BHD"),
                of("CLF")
            ],
            [Some(2), Some(2), Some(2), Some(2), Some(0), Some(0), Some(3), Some(3), Some(4)]
        );
        assert_eq!((of("XYZ"), of("eur"), of("XAU")), (None, None, None));
        assert_eq!(to_scale(Decimal::new(999, 1), 2), Some(Decimal::new(9990, 2)));
        assert_eq!(to_scale(Decimal::new(999, 3), 2), None);
        assert_eq!(to_scale(Decimal::new(-5, 0), 3).map(|d| d.to_string()).as_deref(), Some("-5.000"));
    }

    #[test]
    fn a_refusal_names_the_record_the_field_and_the_value() {
        let inv = |total: &str| reason(check_invoice(invoice(total, "EUR"))).1;
        assert_eq!(
            inv("99,9"),
            "invoice F2026-018: total `99,9` is not a decimal amount; write it like 1234.50 (digits, a `.` decimal point, no thousands separator)"
        );
        assert!(inv("1e5").starts_with("invoice F2026-018: total `1e5` is not a decimal amount"));
        assert_eq!(
            inv("1234567890123456"),
            "invoice F2026-018: total `1234567890123456` is out of range: at most 15 digits before the `.` and 6 after it"
        );
        assert_eq!(inv(""), "invoice F2026-018: total is empty");
        // What the plugin sent is shown escaped: a reason is logged and printed.
        assert_eq!(
            inv("1\n2"),
            "invoice F2026-018: total `1\\n2` is not a decimal amount; write it like 1234.50 (digits, a `.` decimal point, no thousands separator)"
        );
        // The connector's own reason is kept (it names the source's field).
        assert_eq!(
            inv("unusable: field `due_date` is null, not a text"),
            "invoice F2026-018: the connector could not read it: field `due_date` is null, not a text"
        );

        let mut i = invoice("10.00", "EUR");
        i.due_on = "31-01-2026".into();
        assert_eq!(
            reason(check_invoice(i)),
            (
                "due-on",
                "invoice F2026-018: due-on `31-01-2026` is not a date; write YYYY-MM-DD, like 2026-03-31"
                    .into()
            )
        );
        let mut i = invoice("10.00", "EUR");
        i.issued_on = "2026-02-30".into();
        assert_eq!(
            reason(check_invoice(i)).1,
            "invoice F2026-018: issued-on `2026-02-30` is not a valid calendar date"
        );
        let mut i = invoice("10.00", "EUR");
        i.due_on = "2025-12-01".into();
        assert_eq!(
            reason(check_invoice(i)).1,
            "invoice F2026-018: due-on `2025-12-01` is before the issue date 2026-01-01"
        );
        let mut i = invoice("10.00", "EUR");
        i.open = Some("12.00".into());
        assert_eq!(
            reason(check_invoice(i)).1,
            "invoice F2026-018: open `12.00` is more than the total 10.00"
        );
        let mut i = invoice("10.00", "EUR");
        i.kind = wit::DocumentKind::CreditNote;
        i.number = "CN-4".into();
        assert_eq!(
            reason(check_invoice(i)).1,
            "credit note CN-4: total `10.00` is positive, but the document is a credit note"
        );
        let mut i = invoice("10.00", "EUR");
        i.customer_key = "C\u{202e}1".into();
        assert_eq!(
            reason(check_invoice(i)),
            (
                "customer-key",
                "invoice F2026-018: customer-key `C\\u{202e}1` holds the invisible character U+202E; write it on one line, with visible characters only".into()
            )
        );

        // Without a usable number, the plugin's id names it; without an id, what is known.
        let mut i = invoice("10.00", "EUR");
        i.number = " ".into();
        assert_eq!(
            reason(check_invoice(i)),
            ("number", "invoice 369764595231884301: number is empty".into())
        );
        let mut i = invoice("10.00", "EUR");
        i.id = String::new();
        assert_eq!(reason(check_invoice(i)), ("id", "invoice F2026-018: id is empty".into()));
        let mut i = invoice("10.00", "EUR");
        (i.id, i.number) = (String::new(), String::new());
        assert_eq!(reason(check_invoice(i)).1, "invoice without a usable id: id is empty");
        let mut p = payment("3.00", "EUR");
        p.id = "stmt\n1".into();
        assert_eq!(
            reason(check_payment(p)),
            ("id", "payment without a usable id: id `stmt\\n1` holds a line break; write it on one line, with visible characters only".into())
        );

        assert_eq!(
            reason(check_payment(payment("-3.00", "EUR"))),
            ("amount", "payment stmt-1/4: amount `-3.00` is not positive".into())
        );
        let mut p = payment("3.00", "EUR");
        p.id = "credit:CN-3".into();
        assert_eq!(
            reason(check_payment(p)).1,
            "payment credit:CN-3: id `credit:CN-3` starts with `credit:`, which dunwell reserves for credit notes; the connector must use another id"
        );

        assert_eq!(
            reason(check_customer(customer("C1", "info at example.com"))),
            ("email", "customer C1: email `info at example.com` is not an e-mail address".into())
        );
        let mut c = customer("C1", "info@example.com");
        c.language = Some("ES".into());
        assert_eq!(
            reason(check_customer(c)).1,
            "customer C1: language `es` is not a supported language; use nl, fr, en or de"
        );
        let mut c = customer("C1", "info@example.com");
        c.address.country = Some("NLD".into());
        assert_eq!(
            reason(check_customer(c)).1,
            "customer C1: country `NLD` is not an ISO 3166 alpha-2 country code; write it like NL or BE"
        );
        assert_eq!(reason(check_customer(customer("", "info@example.com"))).1, "customer c-77: key is empty");
        // Display is the reason.
        let bad = check_invoice(invoice("99,9", "EUR")).unwrap_err();
        assert!(bad.to_string().starts_with("invoice F2026-018: total `99,9`"), "{bad}");
    }
}
