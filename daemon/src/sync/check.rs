//! The checks every record from a plugin passes before anything is written: bounded, clean
//! text, exact decimals, strict dates. They turn wit records into `Synced*` records, or say
//! which field of which record cannot be used ([`Unusable`]): the sync sets such a record
//! aside (quarantine) and stores the rest of the run.

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
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.id.as_deref().unwrap_or("(no id)"), self.field, self.reason)
    }
}

/// A field's problem, before the record's id is attached.
type Bad = (&'static str, String);

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
            + [&self.open, &self.payment_reference, &self.corrects].into_iter().map(opt_len).sum::<usize>()
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
    read(kind, &s).map_err(|m| (field, m))
}

fn optional(field: &'static str, kind: Kind, s: Option<String>) -> Result<Option<String>, Bad> {
    match s {
        Some(s) if !s.trim().is_empty() => {
            let t = read(kind, &s).map_err(|m| (field, m))?;
            Ok((!t.is_empty()).then_some(t))
        }
        _ => Ok(None),
    }
}

/// An exact amount; a connector that could not read one says why with
/// [`UNUSABLE_PREFIX`] (contract 0.1.0 has no field for it), and that reason is kept.
fn amount(field: &'static str, s: &str) -> Result<Decimal, Bad> {
    if let Some(reason) = s.strip_prefix(UNUSABLE_PREFIX) {
        return Err((field, format!("the connector could not read it: {}", text::plugin_text(reason))));
    }
    parse_amount(s).map_err(|m| (field, m))
}

fn date(field: &'static str, s: &str) -> Result<NaiveDate, Bad> {
    parse_date(s).map_err(|m| (field, m))
}

/// The record's id first: without it the record cannot be told apart from others.
fn record_id(field: &'static str, id: String, record: Option<String>) -> Result<String, Unusable> {
    required(field, Kind::Id, id).map_err(|(field, reason)| Unusable { id: None, record, field, reason })
}

fn attach<T>(id: &str, record: Option<&str>, r: Result<T, Bad>) -> Result<T, Unusable> {
    r.map_err(|(field, reason)| Unusable {
        id: Some(id.to_string()),
        record: record.map(str::to_string),
        field,
        reason,
    })
}

/// A short printable label from text a plugin sent (it may be anything).
fn label(s: &str) -> Option<String> {
    let t = text::escape(&text::cap(s.trim(), 80)).into_owned();
    (!t.is_empty()).then_some(t)
}

pub(super) fn check_customer(c: wit::Customer) -> Result<SyncedCustomer, Unusable> {
    let record = label(&c.key);
    let source_id = record_id("id", c.id.clone(), record.clone())?;
    let removed = c.removed;
    let checked = attach(&source_id, record.as_deref(), customer_fields(c));
    Ok(SyncedCustomer { customer: checked?, source_id, removed })
}

fn customer_fields(c: wit::Customer) -> Result<Customer, Bad> {
    let key = required("key", Kind::Identifier, c.key)?;
    let language = match optional("language", Kind::Identifier, c.language)? {
        None => None,
        Some(l) => Some(l.parse::<Language>().map_err(|m| ("language", m))?),
    };
    let country = match optional("country", Kind::Identifier, c.address.country)? {
        None => None,
        Some(cc) => Some(parse_country(&cc).map_err(|m| ("country", m))?),
    };
    Ok(Customer {
        id: key,
        name: required("name", Kind::Name, c.name)?,
        kind: match c.kind {
            Some(wit::CustomerKind::B2c) => CustomerKind::B2c,
            _ => CustomerKind::B2b,
        },
        language,
        email: optional("email", Kind::Email, c.email)?,
        phone: optional("phone", Kind::Name, c.phone)?,
        address: Address {
            street: optional("street", Kind::Name, c.address.street)?,
            postal_code: optional("postal-code", Kind::Name, c.address.postal_code)?,
            city: optional("city", Kind::Name, c.address.city)?,
            country,
        },
        customer_since: None,
        payment_method: None,
        segment: None,
        // The operator's columns: the connector contract does not carry them.
        jurisdiction: None,
        account_manager: None,
        credit_limit: None,
    })
}

pub(super) fn check_invoice(i: wit::Invoice) -> Result<SyncedInvoice, Unusable> {
    let record = label(&i.number);
    let source_id = record_id("id", i.id.clone(), record.clone())?;
    let checked = attach(&source_id, record.as_deref(), invoice_fields(i));
    let (invoice, declared_open, credit_note, corrects, payment_reference, removed) = checked?;
    Ok(SyncedInvoice { invoice, source_id, declared_open, credit_note, corrects, payment_reference, removed })
}

type InvoiceFields = (Invoice, Option<Decimal>, bool, Option<String>, Option<String>, bool);

fn invoice_fields(i: wit::Invoice) -> Result<InvoiceFields, Bad> {
    let number = required("number", Kind::Identifier, i.number)?;
    let total = amount("total", &i.total)?;
    let mut declared_open = i.open.as_deref().map(|o| amount("open", o)).transpose()?;
    // A negative invoice is a credit note: Peppol BIS 3 allows that instead of a CreditNote
    // document, and some packages write corrections that way.
    let credit_note = matches!(i.kind, wit::DocumentKind::CreditNote) || total < Decimal::ZERO;
    if credit_note && total > Decimal::ZERO {
        return Err(("total", format!("a credit note with a positive total {total}")));
    }
    if declared_open.is_some_and(|o| o.abs() > total.abs()) {
        return Err((
            "open",
            format!("open amount {} above the total {total}", declared_open.unwrap_or_default()),
        ));
    }
    if declared_open.is_some_and(|o| !o.is_zero() && (o < Decimal::ZERO) != (total < Decimal::ZERO)) {
        return Err((
            "open",
            format!(
                "open amount {} has the other sign than the total {total}",
                declared_open.unwrap_or_default()
            ),
        ));
    }
    let issue_date = date("issued-on", &i.issued_on)?;
    let due_date = date("due-on", &i.due_on)?;
    if due_date < issue_date {
        return Err(("due-on", format!("due date {due_date} before the issue date {issue_date}")));
    }
    match i.status {
        wit::InvoiceStatus::Paid | wit::InvoiceStatus::Void => declared_open = Some(Decimal::ZERO),
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
        currency: parse_currency(&i.currency).map_err(|m| ("currency", m))?,
        total,
        open_amount: declared_open.unwrap_or(total),
        paid_date: None,
    };
    let declared_open = if corrects.is_some() { Some(Decimal::ZERO) } else { declared_open };
    let reference = optional("payment-reference", Kind::Identifier, i.payment_reference)?;
    Ok((invoice, declared_open, credit_note, corrects, reference, i.removed))
}

pub(super) fn check_payment(p: wit::Payment) -> Result<SyncedPayment, Unusable> {
    let record = if p.amount.starts_with(UNUSABLE_PREFIX) {
        label(&format!("{} on {}", p.currency, p.received_on))
    } else {
        label(&format!("{} {} on {}", p.amount, p.currency, p.received_on))
    };
    let source_id = record_id("id", p.id.clone(), record.clone())?;
    if source_id.starts_with(CREDIT_PREFIX) {
        // The host keeps a credit note's deduction as a payment under that prefix.
        return Err(Unusable {
            id: Some(source_id.clone()),
            record,
            field: "id",
            reason: format!(
                "payment id `{source_id}` starts with `{CREDIT_PREFIX}`, which dunwell reserves for credit notes; the connector must use another id"
            ),
        });
    }
    let checked = attach(&source_id, record.as_deref(), payment_fields(p, &source_id));
    checked
}

fn payment_fields(p: wit::Payment, source_id: &str) -> Result<SyncedPayment, Bad> {
    let amount = amount("amount", &p.amount)?;
    if amount <= Decimal::ZERO {
        return Err(("amount", format!("payment amount {amount} is not positive")));
    }
    Ok(SyncedPayment {
        date: date("received-on", &p.received_on)?,
        amount,
        currency: parse_currency(&p.currency).map_err(|m| ("currency", m))?,
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
