//! One record of a table into a checked customer, invoice or payment, every problem reported
//! with its place and what to fix.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::table::{Header, Rec};
use super::MAX_PROBLEMS;
use crate::location::Problem;
use crate::model::{
    parse_country, parse_currency, Address, Customer, CustomerKind, Invoice, Language, PaymentMethod,
};
use crate::text;

/// Longest customer name or address line.
pub const MAX_NAME: usize = 200;

/// One data row of a file, with its line for error messages.
pub struct Row<T> {
    pub line: usize,
    pub value: T,
}

pub struct InvoiceRow {
    pub invoice: Invoice,
    pub declared_open: Option<Decimal>,
}

pub struct PaymentRow {
    pub invoice_number: String,
    pub invoice_column: usize,
    pub date: NaiveDate,
    pub amount: Decimal,
    pub method: Option<PaymentMethod>,
}

/// Collects one row's problems; `get` returns `None` after recording what is wrong.
pub struct RowCheck<'a, 'r> {
    pub header: &'a Header,
    pub rec: Rec<'r>,
    pub problems: &'a mut Vec<Problem>,
    pub ok: bool,
}

impl<'a, 'r> RowCheck<'a, 'r> {
    pub fn new(header: &'a Header, rec: Rec<'r>, problems: &'a mut Vec<Problem>) -> Self {
        RowCheck { header, rec, problems, ok: true }
    }

    pub fn text(&self, col: usize) -> &'r str {
        self.header.field(self.rec, col)
    }

    pub fn fail(&mut self, col: usize, message: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem::new(self.header.location(self.rec, col), message));
        }
        self.ok = false;
    }

    pub fn required(&mut self, col: usize, name: &str) -> Option<&'r str> {
        let t = self.text(col);
        if t.is_empty() {
            self.fail(col, format!("`{name}` is empty; every row needs one"));
            None
        } else {
            Some(t)
        }
    }

    pub fn parse<T>(&mut self, col: usize, name: &str, f: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let t = self.required(col, name)?;
        self.parse_value(col, name, t, f)
    }

    pub fn optional<T>(
        &mut self,
        col: usize,
        name: &str,
        f: impl Fn(&str) -> Result<T, String>,
    ) -> Option<Option<T>> {
        let t = self.text(col);
        if t.is_empty() {
            return Some(None);
        }
        self.parse_value(col, name, t, f).map(Some)
    }

    fn parse_value<T>(
        &mut self,
        col: usize,
        name: &str,
        t: &str,
        f: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        match f(t) {
            Ok(v) => Some(v),
            Err(msg) => {
                self.fail(col, format!("{name}: {msg}"));
                None
            }
        }
    }

    pub fn line(&self) -> usize {
        self.rec.line()
    }
}

pub fn parse_phone(s: &str) -> Result<String, String> {
    let digits = s.strip_prefix('+').unwrap_or("");
    if (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
    {
        Ok(s.to_string())
    } else {
        Err(format!("`{s}` is not an E.164 phone number; write it like +31612345678"))
    }
}

/// A customer kind: `b2b` or `b2c`, and in a spreadsheet (not the documented format) also the
/// words exports use for them.
pub fn parse_kind(s: &str, lenient: bool) -> Result<CustomerKind, String> {
    if lenient {
        match s.trim().to_lowercase().as_str() {
            "zakelijk" | "bedrijf" | "onderneming" | "business" | "company" | "entreprise" | "professionnel" | "b2b" => {
                return Ok(CustomerKind::B2b)
            }
            "particulier" | "consument" | "privé" | "prive" | "consumer" | "private" | "consommateur" | "b2c" => {
                return Ok(CustomerKind::B2c)
            }
            other => {
                return Err(format!(
                    "`{other}` is not a customer kind; use b2b (zakelijk, entreprise) or b2c (particulier, consument)"
                ))
            }
        }
    }
    s.parse::<CustomerKind>()
}

/// A customer of customers.csv. Without a `kind` column (then `[import] default_kind` is set)
/// the kind is `default_kind`, and the writer keeps a stored customer's own.
pub fn parse_customer(
    header: &Header,
    rec: Rec<'_>,
    segments: &BTreeSet<String>,
    default_kind: Option<CustomerKind>,
    problems: &mut Vec<Problem>,
) -> Option<Row<Customer>> {
    let lenient = header.lenient;
    let mut c = RowCheck::new(header, rec, problems);
    let id = c.parse(0, "customer_id", text::identifier);
    let name = c.parse(1, "name", |s| text::single_line(s, MAX_NAME));
    let kind = match (header.has(2), default_kind) {
        (false, Some(k)) => Some(k),
        _ => c.parse(2, "kind", |s| parse_kind(s, lenient)),
    };
    let language = c.optional(3, "language", |s| s.parse::<Language>());
    let email = c.optional(4, "email", text::email);
    let phone = c.optional(5, "phone", parse_phone);
    let country = c.optional(9, "country", parse_country);
    let since = c.optional(10, "customer_since", |s| header.date(s));
    let method = c.optional(11, "payment_method", |s| s.parse::<PaymentMethod>());
    let segment = c.optional(12, "segment", |s| {
        if segments.contains(s) {
            Ok(s.to_string())
        } else {
            Err(format!(
                "`{s}` is not a segment with a playbook; use one of {}",
                segments.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
            ))
        }
    });
    let jurisdiction = c.optional(13, "jurisdiction", |s| match s.trim().to_ascii_lowercase().as_str() {
        "nl" => Ok(crate::calendar::Jurisdiction::Nl),
        "be" => Ok(crate::calendar::Jurisdiction::Be),
        other => Err(format!(
            "`{other}` is not a jurisdiction; use nl or be (whose law governs this business customer's claims), or leave it empty for the business's own"
        )),
    });
    let account_manager = c.optional(14, "account_manager", text::email);
    let credit_limit = c.optional(15, "credit_limit", |s| {
        let limit = header.amount(s)?;
        if limit.is_sign_negative() {
            return Err(format!(
                "credit_limit {limit} is below zero; write the most this customer may owe, like 5000.00, or leave it empty"
            ));
        }
        Ok(limit)
    });
    let contact = c.optional(16, "contact", |s| text::single_line(s, MAX_NAME));
    let street = c.optional(6, "street", |s| text::single_line(s, MAX_NAME));
    let postal = c.optional(7, "postal_code", |s| text::single_line(s, MAX_NAME));
    let city = c.optional(8, "city", |s| text::single_line(s, MAX_NAME));
    if !c.ok {
        return None;
    }
    Some(Row {
        line: c.line(),
        value: Customer {
            id: id?,
            name: name?,
            kind: kind?,
            language: language?,
            email: email?,
            phone: phone?,
            address: Address {
                street: street?.filter(|s| !s.is_empty()),
                postal_code: postal?.filter(|s| !s.is_empty()),
                city: city?.filter(|s| !s.is_empty()),
                country: country?,
            },
            customer_since: since?,
            payment_method: method?,
            segment: segment?,
            jurisdiction: jurisdiction?,
            account_manager: account_manager?,
            credit_limit: credit_limit?,
            contact: contact?.filter(|s| !s.is_empty()),
        },
    })
}

/// Checks an invoice's dates and open amount against its total; `cols` are (due, open).
pub fn check_invoice(
    c: &mut RowCheck<'_, '_>,
    (due_col, open_col): (usize, usize),
    issue: Option<NaiveDate>,
    due: Option<NaiveDate>,
    total: Option<Decimal>,
    open: Option<Decimal>,
) {
    if let (Some(issue), Some(due)) = (issue, due) {
        if due < issue {
            c.fail(due_col, format!("due_date {due} is before issue_date {issue}"));
        }
    }
    if let (Some(total), Some(open)) = (total, open) {
        if !open_within(total, open) {
            let message = if total >= Decimal::ZERO {
                format!("open_amount {open} must be between 0 and the total {total}")
            } else {
                format!("open_amount {open} of a credit note must be between the total {total} and 0")
            };
            c.fail(open_col, message);
        }
    }
}

/// `open` lies between 0 and `total` (an invoice), or between `total` and 0 (a credit note).
pub fn open_within(total: Decimal, open: Decimal) -> bool {
    if total >= Decimal::ZERO {
        Decimal::ZERO <= open && open <= total
    } else {
        total <= open && open <= Decimal::ZERO
    }
}

pub fn parse_invoice(header: &Header, rec: Rec<'_>, problems: &mut Vec<Problem>) -> Option<Row<InvoiceRow>> {
    let mut c = RowCheck::new(header, rec, problems);
    let number = c.parse(0, "invoice_number", text::identifier);
    let customer = c.parse(1, "customer_id", text::identifier);
    let issue = c.parse(2, "issue_date", |s| header.date(s));
    let due = c.parse(3, "due_date", |s| header.date(s));
    let currency = c.optional(4, "currency", parse_currency);
    let total = c.parse(5, "total", |s| header.amount(s));
    let open = c.optional(6, "open_amount", |s| header.amount(s));
    check_invoice(&mut c, (3, 6), issue, due, total, open.flatten());
    if !c.ok {
        return None;
    }
    let (total, open) = (total?, open?);
    Some(Row {
        line: c.line(),
        value: InvoiceRow {
            invoice: Invoice {
                number: number?,
                customer_id: customer?,
                issue_date: issue?,
                due_date: due?,
                currency: currency?.unwrap_or_else(|| "EUR".to_string()),
                total,
                open_amount: open.unwrap_or(total),
                paid_date: None,
            },
            declared_open: open,
        },
    })
}

pub fn parse_payment(header: &Header, rec: Rec<'_>, problems: &mut Vec<Problem>) -> Option<Row<PaymentRow>> {
    let mut c = RowCheck::new(header, rec, problems);
    let number = c.parse(0, "invoice_number", text::identifier);
    let date = c.parse(1, "date", |s| header.date(s));
    let amount = c.parse(2, "amount", |s| {
        let a = header.amount(s)?;
        if a <= Decimal::ZERO {
            Err(format!("`{s}` must be positive; a refund is a credit note, not a payment"))
        } else {
            Ok(a)
        }
    });
    let method = c.optional(3, "method", |s| s.parse::<PaymentMethod>());
    if !c.ok {
        return None;
    }
    Some(Row {
        line: c.line(),
        value: PaymentRow {
            invoice_number: number?,
            invoice_column: header.positions[0].map_or(0, |p| p + 1),
            date: date?,
            amount: amount?,
            method: method?,
        },
    })
}
