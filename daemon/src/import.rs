//! `dunwell import csv DIR`: reads the spreadsheet export of `shared/formats/csv-export.md`.
//!
//! All or nothing: every file is parsed and checked completely before the store is touched,
//! the checks that need the store (a customer known from an earlier import) run inside the
//! write transaction, and any problem rolls the whole import back. Re-importing the same files
//! changes nothing: rows are upserted by key and only real differences are written.

use std::collections::BTreeSet;

// Fx hashing: the keys are a user's own invoice numbers, not attacker-chosen, and SipHash
// over millions of keys is a visible share of a large import.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::location::{Location, Problem, Problems};
use crate::model::{
    parse_amount, parse_currency, parse_date, Address, Customer, CustomerKind, Invoice, Language,
    PaymentMethod,
};
pub use crate::store::Counts;
use crate::store::{self, Store, StoreError, WriteTx};

/// The `source` recorded on rows that came from a spreadsheet import.
pub const SOURCE: &str = "csv";
/// Longest field accepted. Real exports never come close; a longer field is a broken quote
/// that swallowed the rest of the file, and saying so beats storing it.
pub const MAX_FIELD_BYTES: usize = 4096;
/// Stop collecting problems after this many: the first ones tell the user what to fix.
const MAX_PROBLEMS: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Invalid(Problems),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{dir} holds none of customers.csv, invoices.csv, payments.csv; point `dunwell import csv` at the folder of the export")]
    NoFiles { dir: PathBuf },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct PaymentCounts {
    pub added: u64,
    pub removed: u64,
    pub unchanged: u64,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct ImportSummary {
    pub customers: Counts,
    pub invoices: Counts,
    pub payments: PaymentCounts,
    /// Invoices not in invoices.csv whose open amount changed because of payments.csv.
    pub settlements_updated: u64,
    pub warnings: Vec<String>,
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.customers;
        let i = &self.invoices;
        let p = &self.payments;
        writeln!(f, "customers: {} added, {} changed, {} unchanged", c.added, c.changed, c.unchanged)?;
        writeln!(f, "invoices:  {} added, {} changed, {} unchanged", i.added, i.changed, i.unchanged)?;
        write!(f, "payments:  {} added, {} removed, {} unchanged", p.added, p.removed, p.unchanged)?;
        if self.settlements_updated > 0 {
            write!(f, "\n{} other invoices' open amounts updated by payments", self.settlements_updated)?;
        }
        Ok(())
    }
}

/// One data row of a file, with its line for error messages.
struct Row<T> {
    line: usize,
    value: T,
}

struct InvoiceRow {
    invoice: Invoice,
    declared_open: Option<Decimal>,
    customer_column: usize,
}

struct PaymentRow {
    invoice_number: String,
    invoice_column: usize,
    date: NaiveDate,
    amount: Decimal,
    method: Option<PaymentMethod>,
}

/// The parsed, self-consistent content of an export folder.
#[derive(Default)]
pub struct Export {
    dir: PathBuf,
    customers: Option<Vec<Row<Customer>>>,
    invoices: Option<Vec<Row<InvoiceRow>>>,
    payments: Option<Vec<Row<PaymentRow>>>,
}

/// Reads and checks the export in `dir`, touching nothing. `segments` are the segment names
/// a manual `segment` column may use.
pub fn read_export(dir: &Path, segments: &BTreeSet<String>) -> Result<Export, ImportError> {
    let mut problems = Vec::new();
    let mut export = Export { dir: dir.to_path_buf(), ..Export::default() };
    let files = ["customers.csv", "invoices.csv", "payments.csv"];
    if !files.iter().any(|f| dir.join(f).exists()) {
        return Err(ImportError::NoFiles { dir: dir.to_path_buf() });
    }
    // The three files are independent until their cross-references are checked: read them
    // on separate threads.
    let (customers, invoices, payments) = std::thread::scope(|scope| {
        let customers = scope.spawn(|| {
            let mut problems = Vec::new();
            let rows = read_table(dir, "customers.csv", CUSTOMER_COLUMNS, &mut problems)
                .map(|t| t.map(|t| parse_customers(&t, segments, &mut problems)));
            (rows, problems)
        });
        let invoices = scope.spawn(|| {
            let mut problems = Vec::new();
            let rows = read_table(dir, "invoices.csv", INVOICE_COLUMNS, &mut problems)
                .map(|t| t.map(|t| parse_invoices(&t, &mut problems)));
            (rows, problems)
        });
        let mut problems = Vec::new();
        let rows = read_table(dir, "payments.csv", PAYMENT_COLUMNS, &mut problems)
            .map(|t| t.map(|t| parse_payments(&t, &mut problems)));
        let customers = customers.join().expect("the customers.csv reader panicked");
        let invoices = invoices.join().expect("the invoices.csv reader panicked");
        (customers, invoices, (rows, problems))
    });
    export.customers = customers.0?;
    problems.extend(customers.1);
    export.invoices = invoices.0?;
    problems.extend(invoices.1);
    export.payments = payments.0?;
    problems.extend(payments.1);
    if problems.is_empty() {
        check_duplicates(&export, &mut problems);
    }
    if problems.is_empty() {
        Ok(export)
    } else {
        problems.truncate(MAX_PROBLEMS);
        Err(ImportError::Invalid(Problems(problems)))
    }
}

/// Reads the export in `dir` and stores it in one transaction.
pub fn import_dir(
    store: &mut Store,
    dir: &Path,
    segments: &BTreeSet<String>,
) -> Result<ImportSummary, ImportError> {
    let started = std::time::Instant::now();
    let export = read_export(dir, segments)?;
    tracing::info!(
        "read and checked {} customers, {} invoices, {} payments in {:.1}s; writing",
        export.customers.as_ref().map_or(0, Vec::len),
        export.invoices.as_ref().map_or(0, Vec::len),
        export.payments.as_ref().map_or(0, Vec::len),
        started.elapsed().as_secs_f64()
    );
    let tx = store.begin()?;
    let summary = write_export(&tx, &export)?;
    tx.log_import(SOURCE, &dir.display().to_string(), &summary.to_string())?;
    tracing::info!("written in {:.1}s; committing", started.elapsed().as_secs_f64());
    tx.commit()?;
    Ok(summary)
}

fn write_export(tx: &WriteTx<'_>, export: &Export) -> Result<ImportSummary, ImportError> {
    let mut summary = ImportSummary::default();
    let mut problems = Vec::new();
    let file = |name: &str| export.dir.join(name);

    // Cross-file references, against the file first and the store second.
    let file_customers: HashSet<&str> =
        export.customers.iter().flatten().map(|r| r.value.id.as_str()).collect();
    let stored_customers = if export.invoices.is_some() { tx.customer_ids()? } else { Default::default() };
    for row in export.invoices.iter().flatten() {
        let id = row.value.invoice.customer_id.as_str();
        if file_customers.contains(id) || stored_customers.contains(id) {
            continue;
        }
        if problems.len() < MAX_PROBLEMS {
            problems.push(Problem::new(
                Location::at(file("invoices.csv"), row.line, row.value.customer_column),
                format!("customer_id `{id}` is not in customers.csv nor in the store; add the customer or fix the id"),
            ));
        }
    }
    let file_invoices: HashSet<&str> =
        export.invoices.iter().flatten().map(|r| r.value.invoice.number.as_str()).collect();
    let mut stored_invoices: HashMap<&str, (Decimal, Option<Decimal>)> = HashMap::default();
    for row in export.payments.iter().flatten() {
        let n = row.value.invoice_number.as_str();
        if file_invoices.contains(n) || stored_invoices.contains_key(n) {
            continue;
        }
        match tx.invoice_amounts(n)? {
            Some(amounts) => {
                stored_invoices.insert(n, amounts);
            }
            None if problems.len() < MAX_PROBLEMS => problems.push(Problem::new(
                Location::at(file("payments.csv"), row.line, row.value.invoice_column),
                format!("invoice_number `{n}` is not in invoices.csv nor in the store; fix the number or import the invoice"),
            )),
            None => {}
        }
    }
    if !problems.is_empty() {
        return Err(ImportError::Invalid(Problems(problems)));
    }

    // The payments each touched invoice has after this import: the file's own for invoices
    // payments.csv mentions (it is the full list for them), plus what other sources brought.
    let store_had_payments = tx.count(store::Table::Payments)? > 0;
    let stored = if store_had_payments { tx.payments_by_invoice()? } else { Default::default() };
    // Per invoice, in file order (so the payments index is written in key order).
    let mut file_payments: Vec<(&str, Vec<FilePayment>)> = Vec::new();
    let mut position: HashMap<&str, usize> = HashMap::default();
    for row in export.payments.iter().flatten() {
        let p = &row.value;
        let i = *position.entry(p.invoice_number.as_str()).or_insert_with(|| {
            file_payments.push((p.invoice_number.as_str(), Vec::new()));
            file_payments.len() - 1
        });
        let list = &mut file_payments[i].1;
        // The key of a csv payment: its date, amount and occurrence among equal ones on its
        // invoice (an invoice has a handful of payments, so counting by scanning is cheap).
        let n = 1 + list.iter().filter(|(d, a, _, _)| *d == p.date && *a == p.amount).count();
        list.push((p.date, p.amount, format!("{}|{}|{}", p.date, p.amount, n), p.method));
    }
    let settle = |number: &str,
                  total: Decimal,
                  declared: Option<Decimal>,
                  line_hint: Option<usize>,
                  warnings: &mut Vec<String>| {
        let mut dated: Vec<(NaiveDate, Decimal)> = Vec::new();
        let from_file = position.get(number).map(|&i| &file_payments[i].1);
        if let Some(list) = from_file {
            dated.extend(list.iter().map(|(d, a, _, _)| (*d, *a)));
        }
        if let Some(list) = stored.get(number) {
            let from_file = from_file.is_some();
            dated.extend(
                list.iter().filter(|(src, _)| !(from_file && src == SOURCE)).map(|(_, p)| (p.date, p.amount)),
            );
        }
        settlement(number, total, declared, dated, line_hint, &file("invoices.csv"), warnings)
    };

    // Customers.
    let mut customers = tx.customer_writer()?;
    for row in export.customers.iter().flatten() {
        summary.customers.record(customers.upsert(&row.value, SOURCE, &row.value.id)?);
    }
    drop(customers);
    let t = std::time::Instant::now();
    // Invoices, with their open amount and paid date derived from the payments.
    let mut invoices = tx.invoice_writer(tx.count(store::Table::Invoices)? == 0)?;
    for row in export.invoices.iter().flatten() {
        let r = &row.value;
        let mut inv = r.invoice.clone();
        let (open, paid) =
            settle(&inv.number, inv.total, r.declared_open, Some(row.line), &mut summary.warnings);
        inv.open_amount = open;
        inv.paid_date = paid;
        summary.invoices.record(invoices.upsert(&inv, r.declared_open, SOURCE, &inv.number)?);
    }
    drop(invoices);
    tracing::debug!("invoices written in {:.1}s", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    let mut payments = tx.payment_writer()?;
    // Payments: per invoice mentioned, make the stored csv payments equal the file's.
    for (number, list) in &file_payments {
        let before: HashSet<&str> = stored
            .get(*number)
            .map(|v| v.iter().filter(|(src, _)| src == SOURCE).map(|(_, p)| p.source_id.as_str()).collect())
            .unwrap_or_default();
        let now: HashSet<&str> = list.iter().map(|(_, _, id, _)| id.as_str()).collect();
        for (date, amount, id, method) in list {
            if before.contains(id.as_str()) {
                summary.payments.unchanged += 1;
            } else {
                payments.insert(number, *date, *amount, *method, SOURCE, id)?;
                summary.payments.added += 1;
            }
        }
        for id in before.difference(&now) {
            payments.delete(number, SOURCE, id)?;
            summary.payments.removed += 1;
        }
    }
    drop(payments);
    tracing::debug!("payments written in {:.1}s", t.elapsed().as_secs_f64());
    for (number, (total, declared)) in &stored_invoices {
        let (open, paid) = settle(number, *total, *declared, None, &mut summary.warnings);
        if tx.set_settlement(number, open, paid)? {
            summary.settlements_updated += 1;
        }
    }
    Ok(summary)
}

/// A payment of payments.csv: date, amount, its key (`source_id`) and method.
type FilePayment = (NaiveDate, Decimal, String, Option<PaymentMethod>);

/// [`crate::model::settlement`] of an imported invoice, with a warning where the stated open
/// amount and the payments disagree, or the payments exceed the total.
fn settlement(
    number: &str,
    total: Decimal,
    declared: Option<Decimal>,
    mut payments: Vec<(NaiveDate, Decimal)>,
    line: Option<usize>,
    file: &Path,
    warnings: &mut Vec<String>,
) -> (Decimal, Option<NaiveDate>) {
    payments.sort();
    let paid_sum: Decimal = payments.iter().map(|(_, a)| *a).sum();
    let computed = total - paid_sum;
    if let Some(d) = declared {
        if !payments.is_empty() && d != computed {
            let place = match line {
                Some(l) => format!("{}:{l}", file.display()),
                None => format!("invoice {number}"),
            };
            warnings.push(format!(
                "{place}: open_amount {d} of invoice {number} differs from total minus payments ({total} - {paid_sum} = {computed}); using open_amount"
            ));
        }
    }
    if total > Decimal::ZERO && paid_sum > total {
        warnings.push(format!("invoice {number} is overpaid: payments {paid_sum} exceed the total {total}"));
    }
    crate::model::settlement(total, declared, &payments)
}

// ---- reading CSV ------------------------------------------------------------------------

struct Column {
    name: &'static str,
    required: bool,
}

const fn req(name: &'static str) -> Column {
    Column { name, required: true }
}
const fn opt(name: &'static str) -> Column {
    Column { name, required: false }
}

const CUSTOMER_COLUMNS: &[Column] = &[
    req("customer_id"),
    req("name"),
    req("kind"),
    opt("language"),
    opt("email"),
    opt("phone"),
    opt("street"),
    opt("postal_code"),
    opt("city"),
    opt("country"),
    opt("customer_since"),
    opt("payment_method"),
    opt("segment"),
];
const INVOICE_COLUMNS: &[Column] = &[
    req("invoice_number"),
    req("customer_id"),
    req("issue_date"),
    req("due_date"),
    opt("currency"),
    req("total"),
    opt("open_amount"),
];
const PAYMENT_COLUMNS: &[Column] = &[req("invoice_number"), req("date"), req("amount"), opt("method")];

/// A CSV file read into memory with its header mapped to our columns.
struct CsvTable {
    path: PathBuf,
    /// For each of our columns (by index into the column list), its position in the file.
    positions: Vec<Option<usize>>,
    records: Vec<csv::ByteRecord>,
}

impl CsvTable {
    /// The trimmed text of column `col` (our index) in `rec`; empty when the column is absent.
    fn field<'r>(&self, rec: &'r csv::ByteRecord, col: usize) -> &'r str {
        self.positions[col]
            .and_then(|p| rec.get(p))
            // UTF-8 was checked when reading.
            .map(|b| std::str::from_utf8(b).unwrap_or("").trim())
            .unwrap_or("")
    }

    fn location(&self, rec: &csv::ByteRecord, col: usize) -> Location {
        let line = rec.position().map_or(0, |p| p.line() as usize);
        Location::at(&self.path, line, self.positions[col].map_or(0, |p| p + 1))
    }

    fn line(rec: &csv::ByteRecord) -> usize {
        rec.position().map_or(0, |p| p.line() as usize)
    }
}

fn read_table(
    dir: &Path,
    name: &str,
    columns: &[Column],
    problems: &mut Vec<Problem>,
) -> Result<Option<CsvTable>, ImportError> {
    let path = dir.join(name);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ImportError::Read { path, source }),
    };
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(&bytes);
    let expected = || columns.iter().filter(|c| c.required).map(|c| c.name).collect::<Vec<_>>().join(", ");
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        problems.push(Problem::new(
            Location::at(&path, 1, 1),
            format!("the file is empty; it needs a header row with at least the columns {}", expected()),
        ));
        return Ok(None);
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(body);
    let mut records = Vec::new();
    let mut rec = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                problems.push(Problem::new(Location::at(&path, line, 0), format!("cannot read CSV: {e}")));
                return Ok(None);
            }
        }
        if rec.len() == 1 && rec.get(0).is_some_and(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue; // blank line
        }
        records.push(rec.clone());
    }
    if records.is_empty() {
        problems.push(Problem::new(Location::at(&path, 1, 1), "the file has no header row".to_string()));
        return Ok(None);
    }
    let header = records.remove(0);
    let mut ok = true;
    // Encoding and size, for every field, before anything is interpreted.
    for r in std::iter::once(&header).chain(records.iter()) {
        for (i, f) in r.iter().enumerate() {
            let loc = || Location::at(&path, CsvTable::line(r), i + 1);
            if let Err(e) = std::str::from_utf8(f) {
                let bad = f.get(e.valid_up_to()).copied().unwrap_or(0);
                problems.push(Problem::new(
                    loc(),
                    format!("byte 0x{bad:02X} is not valid UTF-8; save the file as UTF-8 (it looks like Windows-1252 or Latin-1)"),
                ));
                ok = false;
            } else if f.len() > MAX_FIELD_BYTES {
                problems.push(Problem::new(
                    loc(),
                    format!(
                        "field is {} bytes long, the limit is {MAX_FIELD_BYTES}; is a quote left open on this line?",
                        f.len()
                    ),
                ));
                ok = false;
            }
            if problems.len() >= MAX_PROBLEMS {
                return Ok(None);
            }
        }
    }
    if !ok {
        return Ok(None);
    }
    let names: Vec<String> =
        header.iter().map(|f| String::from_utf8_lossy(f).trim().to_ascii_lowercase()).collect();
    let mut positions = Vec::with_capacity(columns.len());
    for col in columns {
        let found: Vec<usize> =
            names.iter().enumerate().filter(|(_, n)| *n == col.name).map(|(i, _)| i).collect();
        match found.as_slice() {
            [] if col.required => {
                problems.push(Problem::new(
                    Location::at(&path, CsvTable::line(&header), 0),
                    format!(
                        "missing required column `{}` in the header (required: {})",
                        col.name,
                        expected()
                    ),
                ));
                ok = false;
                positions.push(None);
            }
            [] => positions.push(None),
            [one] => positions.push(Some(*one)),
            [_, second, ..] => {
                problems.push(Problem::new(
                    Location::at(&path, CsvTable::line(&header), second + 1),
                    format!("column `{}` appears twice in the header", col.name),
                ));
                ok = false;
                positions.push(None);
            }
        }
    }
    for r in &records {
        if r.len() != header.len() {
            problems.push(Problem::new(
                Location::at(&path, CsvTable::line(r), 0),
                format!(
                    "row has {} fields but the header has {}; check for a missing or extra comma, or an unquoted comma in a value",
                    r.len(),
                    header.len()
                ),
            ));
            ok = false;
            if problems.len() >= MAX_PROBLEMS {
                break;
            }
        }
    }
    Ok(ok.then_some(CsvTable { path, positions, records }))
}

/// Collects one row's problems; `get` returns `None` after recording what is wrong.
struct RowCheck<'a> {
    table: &'a CsvTable,
    rec: &'a csv::ByteRecord,
    problems: &'a mut Vec<Problem>,
    ok: bool,
}

impl<'a> RowCheck<'a> {
    fn text(&self, col: usize) -> &'a str {
        self.table.field(self.rec, col)
    }

    fn fail(&mut self, col: usize, message: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem::new(self.table.location(self.rec, col), message));
        }
        self.ok = false;
    }

    fn required(&mut self, col: usize, name: &str) -> Option<&'a str> {
        let t = self.text(col);
        if t.is_empty() {
            self.fail(col, format!("`{name}` is empty; every row needs one"));
            None
        } else {
            Some(t)
        }
    }

    fn parse<T>(&mut self, col: usize, name: &str, f: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let t = self.required(col, name)?;
        self.parse_value(col, name, t, f)
    }

    fn optional<T>(
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
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn parse_email(s: &str) -> Result<String, String> {
    let ok = s.split_once('@').is_some_and(|(user, host)| {
        !user.is_empty() && host.contains('.') && !host.starts_with('.') && !host.ends_with('.')
    }) && !s.contains(char::is_whitespace);
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("`{s}` is not an e-mail address"))
    }
}

fn parse_phone(s: &str) -> Result<String, String> {
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

fn parse_country(s: &str) -> Result<String, String> {
    if s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(s.to_ascii_uppercase())
    } else {
        Err(format!("`{s}` is not an ISO 3166 alpha-2 country code; write it like NL or BE"))
    }
}

fn parse_customers(
    table: &CsvTable,
    segments: &BTreeSet<String>,
    problems: &mut Vec<Problem>,
) -> Vec<Row<Customer>> {
    let mut out = Vec::with_capacity(table.records.len());
    for rec in &table.records {
        let mut c = RowCheck { table, rec, problems: &mut *problems, ok: true };
        let id = c.required(0, "customer_id");
        let name = c.required(1, "name");
        let kind = c.parse(2, "kind", |s| s.parse::<CustomerKind>());
        let language = c.optional(3, "language", |s| s.parse::<Language>());
        let email = c.optional(4, "email", parse_email);
        let phone = c.optional(5, "phone", parse_phone);
        let country = c.optional(9, "country", parse_country);
        let since = c.optional(10, "customer_since", parse_date);
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
        let (street, postal, city) = (c.text(6), c.text(7), c.text(8));
        if !c.ok {
            continue;
        }
        if let (
            Some(id),
            Some(name),
            Some(kind),
            Some(language),
            Some(email),
            Some(phone),
            Some(country),
            Some(since),
            Some(method),
            Some(segment),
        ) = (id, name, kind, language, email, phone, country, since, method, segment)
        {
            out.push(Row {
                line: CsvTable::line(rec),
                value: Customer {
                    id: id.to_string(),
                    name: name.to_string(),
                    kind,
                    language,
                    email,
                    phone,
                    address: Address {
                        street: non_empty(street),
                        postal_code: non_empty(postal),
                        city: non_empty(city),
                        country,
                    },
                    customer_since: since,
                    payment_method: method,
                    segment,
                },
            });
        }
    }
    out
}

/// Invoices are the big file (a million rows): its records are checked in two halves at once.
fn parse_invoices(table: &CsvTable, problems: &mut Vec<Problem>) -> Vec<Row<InvoiceRow>> {
    let (first, second) = table.records.split_at(table.records.len() / 2);
    let (mut rows, mut more, second_problems) = std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            let mut p = Vec::new();
            let rows = parse_invoice_records(table, second, &mut p);
            (rows, p)
        });
        let rows = parse_invoice_records(table, first, problems);
        let (more, p) = other.join().expect("the invoices.csv checker panicked");
        (rows, more, p)
    });
    problems.extend(second_problems);
    problems.truncate(MAX_PROBLEMS);
    rows.append(&mut more);
    rows
}

fn parse_invoice_records(
    table: &CsvTable,
    records: &[csv::ByteRecord],
    problems: &mut Vec<Problem>,
) -> Vec<Row<InvoiceRow>> {
    let mut out = Vec::with_capacity(records.len());
    for rec in records {
        let mut c = RowCheck { table, rec, problems: &mut *problems, ok: true };
        let number = c.required(0, "invoice_number");
        let customer = c.required(1, "customer_id");
        let issue = c.parse(2, "issue_date", parse_date);
        let due = c.parse(3, "due_date", parse_date);
        let currency = c.optional(4, "currency", parse_currency);
        let total = c.parse(5, "total", parse_amount);
        let open = c.optional(6, "open_amount", parse_amount);
        if let (Some(issue), Some(due)) = (issue, due) {
            if due < issue {
                c.fail(3, format!("due_date {due} is before issue_date {issue}"));
            }
        }
        if let (Some(total), Some(Some(open))) = (total, open) {
            if total >= Decimal::ZERO && (open < Decimal::ZERO || open > total) {
                c.fail(6, format!("open_amount {open} must be between 0 and the total {total}"));
            } else if total < Decimal::ZERO && (open > Decimal::ZERO || open < total) {
                c.fail(
                    6,
                    format!("open_amount {open} of a credit note must be between the total {total} and 0"),
                );
            }
        }
        if !c.ok {
            continue;
        }
        if let (
            Some(number),
            Some(customer),
            Some(issue),
            Some(due),
            Some(currency),
            Some(total),
            Some(open),
        ) = (number, customer, issue, due, currency, total, open)
        {
            out.push(Row {
                line: CsvTable::line(rec),
                value: InvoiceRow {
                    invoice: Invoice {
                        number: number.to_string(),
                        customer_id: customer.to_string(),
                        issue_date: issue,
                        due_date: due,
                        currency: currency.unwrap_or_else(|| "EUR".to_string()),
                        total,
                        open_amount: open.unwrap_or(total),
                        paid_date: None,
                    },
                    declared_open: open,
                    customer_column: table.positions[1].map_or(0, |p| p + 1),
                },
            });
        }
    }
    out
}

fn parse_payments(table: &CsvTable, problems: &mut Vec<Problem>) -> Vec<Row<PaymentRow>> {
    let mut out = Vec::with_capacity(table.records.len());
    for rec in &table.records {
        let mut c = RowCheck { table, rec, problems: &mut *problems, ok: true };
        let number = c.required(0, "invoice_number");
        let date = c.parse(1, "date", parse_date);
        let amount = c.parse(2, "amount", |s| {
            let a = parse_amount(s)?;
            if a <= Decimal::ZERO {
                Err(format!("`{s}` must be positive; a refund is a credit note, not a payment"))
            } else {
                Ok(a)
            }
        });
        let method = c.optional(3, "method", |s| s.parse::<PaymentMethod>());
        if let (true, Some(number), Some(date), Some(amount), Some(method)) =
            (c.ok, number, date, amount, method)
        {
            out.push(Row {
                line: CsvTable::line(rec),
                value: PaymentRow {
                    invoice_number: number.to_string(),
                    invoice_column: table.positions[0].map_or(0, |p| p + 1),
                    date,
                    amount,
                    method,
                },
            });
        }
    }
    out
}

fn check_duplicates(export: &Export, problems: &mut Vec<Problem>) {
    let mut first: HashMap<&str, usize> = HashMap::default();
    for row in export.customers.iter().flatten() {
        if let Some(prev) = first.insert(row.value.id.as_str(), row.line) {
            problems.push(Problem::new(
                Location::at(export.dir.join("customers.csv"), row.line, 0),
                format!("customer_id `{}` appears twice; first on line {prev}", row.value.id),
            ));
        }
    }
    first.clear();
    for row in export.invoices.iter().flatten() {
        if let Some(prev) = first.insert(row.value.invoice.number.as_str(), row.line) {
            problems.push(Problem::new(
                Location::at(export.dir.join("invoices.csv"), row.line, 0),
                format!("invoice_number `{}` appears twice; first on line {prev}", row.value.invoice.number),
            ));
        }
        if problems.len() >= MAX_PROBLEMS {
            return;
        }
    }
}
