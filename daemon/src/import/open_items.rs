//! An open-items report: one row per open invoice with its customer and the amount open, as
//! bookkeeping packages export it ("openstaande posten", "te herinneren facturen").
//!
//! Customers are created from the rows (keyed by their number, or by their name when the
//! report has none); a customer already stored keeps what the report does not say (its kind,
//! e-mail, address). The open amount is the report's; without a total column a stored
//! invoice keeps its total, a new one takes the open amount as its total. With `--open-items`
//! an invoice of this source (`csv`) that is open in the store but no longer in the report is
//! marked paid on the report's date, and the summary names each one; without it nothing is
//! ever marked paid (the summary names them as left open). The whole import is one
//! transaction, like every import.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::columns::Kind;
use super::rows::{self, check_invoice, open_within, InvoiceRow, Row, RowCheck, MAX_NAME};
use super::table::{self, Header, PresetChoice, Rec, Table};
use super::{
    finish, Dialect, ImportError, ImportSummary, OpenItemsSummary, Options, Preview, Writer, MAX_PROBLEMS,
    PREVIEW_ROWS, SOURCE,
};
use crate::location::{Problem, Problems};
use crate::model::{parse_country, parse_currency, Customer, CustomerKind, Invoice, Language};
use crate::store::{self, Store};
use crate::text;

// The columns of `OPEN_ITEM_COLUMNS`, by index.
const NUMBER: usize = 0;
const CUSTOMER_ID: usize = 1;
const NAME: usize = 2;
const ISSUE: usize = 3;
const DUE: usize = 4;
const CURRENCY: usize = 5;
const TOTAL: usize = 6;
const OPEN: usize = 7;
const KIND: usize = 8;
const LANGUAGE: usize = 9;
const EMAIL: usize = 10;
const PHONE: usize = 11;
const STREET: usize = 12;
const POSTAL: usize = 13;
const CITY: usize = 14;
const COUNTRY: usize = 15;

/// The customer a row names, with only what the report says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ItemCustomer {
    id: String,
    name: Option<String>,
    kind: Option<CustomerKind>,
    language: Option<Language>,
    email: Option<String>,
    phone: Option<String>,
    street: Option<String>,
    postal_code: Option<String>,
    city: Option<String>,
    country: Option<String>,
}

struct Item {
    customer: ItemCustomer,
    invoice: InvoiceRow,
    /// The report has a total column.
    total_given: bool,
}

fn parse_item(header: &Header, rec: Rec<'_>, problems: &mut Vec<Problem>) -> Option<Row<Item>> {
    let lenient = header.lenient;
    let mut c = RowCheck::new(header, rec, problems);
    let number = c.parse(NUMBER, "invoice_number", text::identifier);
    let name = if header.has(NAME) {
        c.parse(NAME, "name", |s| text::single_line(s, MAX_NAME)).map(Some)
    } else {
        Some(None)
    };
    let id = if header.has(CUSTOMER_ID) {
        c.parse(CUSTOMER_ID, "customer_id", text::identifier)
    } else {
        // The report has no customer number: the name is the key.
        let raw = c.text(NAME);
        match text::identifier(raw) {
            Ok(id) => Some(id),
            Err(e) if !raw.is_empty() => {
                c.fail(NAME, format!("name: the report has no customer number, so the name is the customer's key, and `{raw}` cannot be one ({e}); add a customer number column"));
                None
            }
            Err(_) => None,
        }
    };
    let issue = c.parse(ISSUE, "issue_date", |s| header.date(s));
    let due = c.parse(DUE, "due_date", |s| header.date(s));
    let currency = c.optional(CURRENCY, "currency", parse_currency);
    let total = c.optional(TOTAL, "total", |s| header.amount(s));
    let open = c.parse(OPEN, "open_amount", |s| header.amount(s));
    let kind = c.optional(KIND, "kind", |s| rows::parse_kind(s, lenient));
    let language = c.optional(LANGUAGE, "language", |s| s.parse::<Language>());
    let email = c.optional(EMAIL, "email", text::email);
    let phone = c.optional(PHONE, "phone", rows::parse_phone);
    let street = c.optional(STREET, "street", |s| text::single_line(s, MAX_NAME));
    let postal = c.optional(POSTAL, "postal_code", |s| text::single_line(s, MAX_NAME));
    let city = c.optional(CITY, "city", |s| text::single_line(s, MAX_NAME));
    let country = c.optional(COUNTRY, "country", parse_country);
    check_invoice(&mut c, (DUE, OPEN), issue, due, total.flatten(), open);
    if !c.ok {
        return None;
    }
    let open = open?;
    let id = id?;
    Some(Row {
        line: c.line(),
        value: Item {
            customer: ItemCustomer {
                id: id.clone(),
                name: name?,
                kind: kind?,
                language: language?,
                email: email?,
                phone: phone?,
                street: street?,
                postal_code: postal?,
                city: city?,
                country: country?,
            },
            total_given: header.has(TOTAL),
            invoice: InvoiceRow {
                invoice: Invoice {
                    number: number?,
                    customer_id: id,
                    issue_date: issue?,
                    due_date: due?,
                    currency: currency?.unwrap_or_else(|| "EUR".to_string()),
                    total: total?.unwrap_or(open),
                    open_amount: open,
                    paid_date: None,
                },
                declared_open: Some(open),
            },
        },
    })
}

/// `stored` with what the report says of it, or a new customer; `None` when a new customer's
/// kind is known neither from the report nor from `[import] default_kind`.
fn merge(
    row: &ItemCustomer,
    stored: Option<Customer>,
    default_kind: Option<CustomerKind>,
) -> Option<Customer> {
    let mut c = match stored {
        Some(s) => s,
        None => Customer::new(
            row.id.clone(),
            row.name.clone().unwrap_or_else(|| row.id.clone()),
            row.kind.or(default_kind)?,
        ),
    };
    if let Some(n) = &row.name {
        c.name = n.clone();
    }
    if let Some(k) = row.kind {
        c.kind = k;
    }
    c.language = row.language.or(c.language);
    c.email = row.email.clone().or(c.email);
    c.phone = row.phone.clone().or(c.phone);
    let a = &mut c.address;
    a.street = row.street.clone().or(a.street.take());
    a.postal_code = row.postal_code.clone().or(a.postal_code.take());
    a.city = row.city.clone().or(a.city.take());
    a.country = row.country.clone().or(a.country.take());
    Some(c)
}

/// Imports the open-items report `table` in one transaction (rolled back in a dry run).
pub(super) fn import(
    store: &mut Store,
    table: Table<'_>,
    opts: &Options<'_>,
) -> Result<ImportSummary, ImportError> {
    let started = std::time::Instant::now();
    let choice = opts.preset.map_or(PresetChoice::Detect, PresetChoice::Given);
    let mut problems = Vec::new();
    let mut items: Vec<Row<Item>> = Vec::new();
    let header =
        table::scan_table(&table, Kind::OpenItems, opts.settings, choice, &mut problems, |h, rec, p| {
            items.extend(parse_item(h, rec, p))
        })?;
    let path = match &table {
        Table::Csv(p) => p.clone(),
        Table::Sheet { path, .. } => path.to_path_buf(),
    };
    let usage = || {
        ImportError::Usage {
        path: path.clone(),
        message: format!(
            "is one file, not the folder of an export; to import it as an open-items report (one row per open invoice with its customer and open amount) give --open-items, or --preset NAME for a package's report ({}); otherwise point at the folder holding customers, invoices and payments",
            super::presets::PRESETS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
        ),
    }
    };
    let Some(header) = header else {
        if !opts.open_items && opts.preset.is_none() {
            return Err(usage());
        }
        if problems.is_empty() {
            return Err(ImportError::Read {
                path,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        problems.truncate(MAX_PROBLEMS);
        return Err(ImportError::Invalid(Problems(problems)));
    };
    if !opts.open_items && header.preset.is_none() {
        return Err(usage());
    }
    // One customer per key, named alike on every row; one row per invoice.
    let mut customers: Vec<(usize, ItemCustomer)> = Vec::new();
    let mut by_id: HashMap<&str, usize> = HashMap::default();
    let mut numbers: HashMap<&str, usize> = HashMap::default();
    for row in &items {
        let c = &row.value.customer;
        match by_id.get(c.id.as_str()) {
            None => {
                by_id.insert(&c.id, customers.len());
                customers.push((row.line, c.clone()));
            }
            Some(&i) if customers[i].1.name != c.name && problems.len() < MAX_PROBLEMS => {
                let (line, first) = &customers[i];
                problems.push(Problem::new(
                    header.place.location(row.line, header.positions[NAME].map_or(0, |p| p + 1)),
                    format!(
                        "customer `{}` is named `{}` here but `{}` on line {line}; one customer, one name",
                        c.id,
                        c.name.as_deref().unwrap_or(""),
                        first.name.as_deref().unwrap_or("")
                    ),
                ));
            }
            Some(_) => {}
        }
        let number = row.value.invoice.invoice.number.as_str();
        if let Some(first) = numbers.get(number) {
            if problems.len() < MAX_PROBLEMS {
                problems.push(Problem::new(
                    header.place.location(row.line, 0),
                    format!("invoice_number `{number}` appears twice; first on line {first}"),
                ));
            }
        } else {
            numbers.insert(number, row.line);
        }
    }
    if !problems.is_empty() {
        problems.truncate(MAX_PROBLEMS);
        return Err(ImportError::Invalid(Problems(problems)));
    }

    let tx = store.begin()?;
    let known_new = tx.count(store::Table::Invoices)? == 0;
    let open_before = if known_new { vec![] } else { tx.open_invoices_of_source(SOURCE)? };
    let mut writer = Writer::new(&tx, None, &[], known_new)?;
    writer.invoices_place = Some(header.place.clone());
    let default_kind = opts.settings.default_kind;
    let mut preview = Preview::default();
    {
        let mut customer_writer = tx.customer_writer()?;
        let mut defaulted = 0usize;
        let mut unknown_kind: Vec<(usize, String)> = Vec::new();
        for (line, row) in &customers {
            let stored = tx.stored_customer(&row.id)?;
            let new = stored.is_none();
            match merge(row, stored, default_kind) {
                Some(c) => {
                    if new && row.kind.is_none() {
                        defaulted += 1;
                    }
                    writer.summary.customers.record(customer_writer.upsert(&c, SOURCE, &c.id)?);
                    if preview.customers.len() < PREVIEW_ROWS {
                        preview.customers.push(c);
                    }
                }
                None => unknown_kind.push((*line, row.id.clone())),
            }
        }
        if let Some((line, id)) = unknown_kind.first() {
            let column = if header.has(KIND) {
                "the `kind` column is empty for them"
            } else {
                "the report has no `kind` column"
            };
            return Err(ImportError::Invalid(Problems(vec![Problem::new(
                header.place.location(*line, 0),
                format!(
                    "{} customer(s) of the report are new (the first: `{id}`) and {column}: whether a customer is a business (b2b) or a consumer (b2c) decides which law applies, so dunwell does not guess it; add a kind column (b2b or b2c), or set [import] default_kind = \"b2b\" (or \"b2c\") in dunwell.toml to take that kind for every new customer",
                    unknown_kind.len()
                ),
            )])));
        }
        if defaulted > 0 {
            if let Some(k) = default_kind {
                writer.summary.notes.push(format!(
                    "{} gives no kind: {defaulted} new customer(s) taken as {} ([import] default_kind); customers already stored keep theirs",
                    header.place.name(),
                    k.as_str()
                ));
            }
        }
    }
    let mut open: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut rows = Vec::with_capacity(items.len());
    for row in items {
        let Row { line, value: Item { mut invoice, total_given, .. } } = row;
        if !total_given {
            // The report knows only what is open: a stored invoice keeps its total.
            if let Some((total, _)) = tx.invoice_amounts(&invoice.invoice.number)? {
                if open_within(total, invoice.invoice.open_amount) {
                    invoice.invoice.total = total;
                }
            }
        }
        *open.entry(invoice.invoice.currency.clone()).or_default() += invoice.invoice.open_amount;
        if preview.invoices.len() < PREVIEW_ROWS {
            preview.invoices.push(invoice.invoice.clone());
        }
        rows.push(Row { line, value: invoice });
    }
    let in_report: HashSet<&str> = rows.iter().map(|r| r.value.invoice.number.as_str()).collect();
    let left: Vec<String> = open_before.into_iter().filter(|n| !in_report.contains(n.as_str())).collect();
    let count = rows.len() as u64;
    writer.invoices(rows)?;
    let mut report = OpenItemsSummary {
        report_date: opts.open_items.then_some(opts.report_date),
        invoices: count,
        open,
        preset: header.preset.map(|p| p.name),
        ..OpenItemsSummary::default()
    };
    if opts.open_items {
        for number in left {
            if tx.mark_paid(&number, opts.report_date)? {
                report.marked_paid.push(number);
            }
        }
    } else {
        report.left_open = left;
    }
    let mut summary = std::mem::take(&mut writer.summary);
    drop(writer);
    summary.open_items = Some(report);
    summary.dialect = Dialect::new(vec![header.file_dialect()]);
    if opts.dry_run {
        summary.preview = Some(preview);
    }
    finish(tx, &path.display().to_string(), &mut summary, opts, started)?;
    Ok(summary)
}
