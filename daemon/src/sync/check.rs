//! The checks every record from a plugin passes before anything is written: bounded, clean
//! text, exact decimals, strict dates. They turn wit records into `Synced*` records.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::CREDIT_PREFIX;
use crate::model::{
    parse_amount, parse_country, parse_currency, parse_date, Address, Customer, CustomerKind, Invoice,
    Language,
};
use crate::plugin::bindings::dunwell::connector::types as wit;

/// Longest text field accepted from a plugin.
const MAX_FIELD: usize = 4096;

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

pub(super) fn check_text(what: &str, s: &str) -> Result<(), String> {
    if s.len() > MAX_FIELD {
        return Err(format!("{what} is longer than {MAX_FIELD} bytes"));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(format!("{what} `{}` holds control characters", s.escape_debug()));
    }
    Ok(())
}

fn required(what: &str, s: String) -> Result<String, String> {
    check_text(what, &s)?;
    let t = s.trim();
    if t.is_empty() {
        return Err(format!("{what} is empty"));
    }
    Ok(t.to_string())
}

fn optional(what: &str, s: Option<String>) -> Result<Option<String>, String> {
    match s {
        None => Ok(None),
        Some(s) => {
            check_text(what, &s)?;
            let t = s.trim();
            Ok((!t.is_empty()).then(|| t.to_string()))
        }
    }
}

fn amount(what: &str, id: &str, s: &str) -> Result<Decimal, String> {
    parse_amount(s).map_err(|m| format!("{id}: {what}: {m}"))
}

fn date(what: &str, id: &str, s: &str) -> Result<NaiveDate, String> {
    parse_date(s).map_err(|m| format!("{id}: {what}: {m}"))
}

pub(super) fn check_customer(c: wit::Customer) -> Result<SyncedCustomer, String> {
    let source_id = required("customer id", c.id)?;
    let key = required("customer key", c.key)?;
    let id = &source_id;
    let language = match optional("language", c.language)? {
        None => None,
        Some(l) => Some(l.parse::<Language>().map_err(|m| format!("{id}: {m}"))?),
    };
    let country = match optional("country", c.address.country)? {
        None => None,
        Some(cc) => Some(parse_country(&cc).map_err(|m| format!("{id}: country: {m}"))?),
    };
    let customer = Customer {
        id: key,
        name: required("customer name", c.name)?,
        kind: match c.kind {
            Some(wit::CustomerKind::B2c) => CustomerKind::B2c,
            _ => CustomerKind::B2b,
        },
        language,
        email: optional("email", c.email)?,
        phone: optional("phone", c.phone)?,
        address: Address {
            street: optional("street", c.address.street)?,
            postal_code: optional("postal code", c.address.postal_code)?,
            city: optional("city", c.address.city)?,
            country,
        },
        customer_since: None,
        payment_method: None,
        segment: None,
    };
    Ok(SyncedCustomer { source_id, customer, removed: c.removed })
}

pub(super) fn check_invoice(i: wit::Invoice) -> Result<SyncedInvoice, String> {
    let source_id = required("invoice id", i.id)?;
    let id = &source_id;
    let number = required("invoice number", i.number)?;
    let credit_note = matches!(i.kind, wit::DocumentKind::CreditNote);
    let total = amount("total", id, &i.total)?;
    let mut declared_open = i.open.as_deref().map(|o| amount("open", id, o)).transpose()?;
    if credit_note && total > Decimal::ZERO {
        return Err(format!("{id}: credit note with a positive total {total}"));
    }
    if !credit_note && total < Decimal::ZERO {
        return Err(format!("{id}: invoice with a negative total {total}; send it as a credit note"));
    }
    if declared_open.is_some_and(|o| o.abs() > total.abs()) {
        return Err(format!(
            "{id}: open amount {} above the total {total}",
            declared_open.unwrap_or_default()
        ));
    }
    let issue_date = date("issued-on", id, &i.issued_on)?;
    let due_date = date("due-on", id, &i.due_on)?;
    if due_date < issue_date {
        return Err(format!("{id}: due date {due_date} before the issue date {issue_date}"));
    }
    match i.status {
        wit::InvoiceStatus::Paid | wit::InvoiceStatus::Void => declared_open = Some(Decimal::ZERO),
        wit::InvoiceStatus::Open => {}
    }
    let corrects = if credit_note { optional("corrects", i.corrects)? } else { None };
    let stored_number = if credit_note && !number.to_ascii_uppercase().starts_with("CN") {
        format!("CN-{number}")
    } else {
        number
    };
    Ok(SyncedInvoice {
        invoice: Invoice {
            number: stored_number,
            customer_id: required("customer key", i.customer_key)?,
            issue_date,
            due_date,
            currency: parse_currency(&i.currency).map_err(|m| format!("{id}: {m}"))?,
            total,
            open_amount: declared_open.unwrap_or(total),
            paid_date: None,
        },
        source_id,
        declared_open: if corrects.is_some() { Some(Decimal::ZERO) } else { declared_open },
        credit_note,
        corrects,
        payment_reference: optional("payment reference", i.payment_reference)?,
        removed: i.removed,
    })
}

pub(super) fn check_payment(p: wit::Payment) -> Result<SyncedPayment, String> {
    let source_id = required("payment id", p.id)?;
    let id = &source_id;
    if id.starts_with(CREDIT_PREFIX) {
        // The host keeps a credit note's deduction as a payment under that prefix.
        return Err(format!("payment id `{id}` starts with `{CREDIT_PREFIX}`, which dunwell reserves for credit notes; use another id"));
    }
    let amount = amount("amount", id, &p.amount)?;
    if amount <= Decimal::ZERO {
        return Err(format!("{id}: payment amount {amount} is not positive"));
    }
    Ok(SyncedPayment {
        date: date("received-on", id, &p.received_on)?,
        amount,
        currency: parse_currency(&p.currency).map_err(|m| format!("{id}: {m}"))?,
        invoice_number: optional("invoice number", p.invoice_number)?,
        invoice_id: optional("invoice id", p.invoice_id)?,
        reference: optional("reference", p.reference)?,
        free_text: optional("free text", p.free_text)?,
        payer_name: optional("payer name", p.payer_name)?,
        payer_iban: optional("payer iban", p.payer_iban)?,
        removed: p.removed,
        source_id,
    })
}
