//! `dunwell import csv DIR`: reads the spreadsheet export of `shared/formats/csv-export.md`.
//!
//! All or nothing: everything is written inside one transaction while the files are still
//! being read and checked (see [`import_dir`]); the first problem stops the writing, every
//! problem is reported, and the transaction is dropped, so a bad row anywhere leaves the store
//! as it was. Re-importing the same files changes nothing: rows are upserted by key and only
//! real differences are written.

use std::collections::hash_map::Entry;
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
    parse_amount, parse_country, parse_currency, parse_date, Address, Customer, CustomerKind, Invoice,
    Language, PaymentMethod,
};
pub use crate::store::Counts;
use crate::store::{self, Store, StoreError, WriteTx};
use crate::text;

/// Longest customer name or address line.
const MAX_NAME: usize = 200;

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

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct ImportSummary {
    pub customers: Counts,
    pub invoices: Counts,
    /// Payments are added or removed, never changed (a changed row is a removed one and an
    /// added one: its key is its date, amount and occurrence).
    pub payments: Counts,
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
}

struct PaymentRow {
    invoice_number: String,
    invoice_column: usize,
    date: NaiveDate,
    amount: Decimal,
    method: Option<PaymentMethod>,
}

/// Rows of invoices.csv travel from the reading thread to the writer in chunks of this many.
const CHUNK: usize = 8192;
/// Chunks the reader may run ahead of the writer (bounds the memory of a big import).
const CHUNKS_AHEAD: usize = 64;

/// What the thread reading customers.csv and invoices.csv hands back when it is done.
#[derive(Default)]
struct Scanned {
    customers: Option<Vec<Row<Customer>>>,
    customer_problems: Vec<Problem>,
    /// Every invoice number of invoices.csv (`None` without the file), for payments.csv.
    invoice_numbers: Option<HashSet<String>>,
    invoice_problems: Vec<Problem>,
}

/// Reads the export in `dir` and stores it in one transaction.
///
/// The files are checked while they are written: a thread reads customers.csv and then
/// streams the checked rows of invoices.csv to this thread, which writes them; another
/// thread reads payments.csv. Any problem anywhere rolls the whole transaction back, so the
/// store sees all of the import or none of it. Overlapping the reading with the writing is
/// what keeps a million-invoice import near the speed of SQLite's own CSV import.
pub fn import_dir(
    store: &mut Store,
    dir: &Path,
    segments: &BTreeSet<String>,
) -> Result<ImportSummary, ImportError> {
    let started = std::time::Instant::now();
    let files = ["customers.csv", "invoices.csv", "payments.csv"];
    if !files.iter().any(|f| dir.join(f).exists()) {
        return Err(ImportError::NoFiles { dir: dir.to_path_buf() });
    }
    let tx = store.begin()?;
    // Customers an invoice may name besides those of customers.csv.
    let stored_customers =
        if dir.join("invoices.csv").exists() { tx.customer_ids()? } else { Default::default() };
    let known_new = tx.count(store::Table::Invoices)? == 0;
    // Invoices still open from earlier imports: an export of open invoices only leaves the
    // paid ones out, and they would be chased for ever; the summary says so.
    let open_before = if !known_new && dir.join("invoices.csv").exists() {
        tx.open_invoices_of_source(SOURCE)?
    } else {
        vec![]
    };
    let (rows, receiver) = std::sync::mpsc::sync_channel::<Vec<Row<InvoiceRow>>>(CHUNKS_AHEAD);
    let summary = std::thread::scope(|scope| {
        let reader = scope.spawn(|| read_customers_and_invoices(dir, segments, &stored_customers, rows));
        let payments = scope.spawn(|| {
            let mut problems = Vec::new();
            let rows = read_rows(dir, "payments.csv", PAYMENT_COLUMNS, &mut problems, parse_payment);
            (rows, problems)
        });
        let (payment_rows, payment_problems) = payments.join().expect("the payments.csv reader panicked");
        let payment_rows = payment_rows?;
        let mut writer = Writer::new(&tx, dir, payment_rows.as_deref().unwrap_or_default(), known_new)?;
        // Invoices as they arrive; after a problem the rest is only drained (the reader goes
        // on checking, to report every problem at once).
        let mut healthy = payment_problems.is_empty();
        let mut written = 0usize;
        for chunk in receiver {
            if healthy {
                let n = chunk.len();
                writer.invoices(chunk)?;
                if (written + n) / (CHUNK * 32) > written / (CHUNK * 32) {
                    tracing::info!(
                        "{} invoices written in {:.1}s",
                        written + n,
                        started.elapsed().as_secs_f64()
                    );
                }
                written += n;
            }
        }
        let scanned = reader.join().expect("the invoices.csv reader panicked")?;
        healthy &= scanned.customer_problems.is_empty() && scanned.invoice_problems.is_empty();
        let mut problems = scanned.customer_problems;
        problems.extend(scanned.invoice_problems);
        problems.extend(payment_problems);
        if healthy {
            let customers = scanned.customers.as_deref().unwrap_or_default();
            writer.customers(customers)?;
            writer.payments(scanned.invoice_numbers.as_ref(), &mut problems)?;
            if let Some(numbers) = &scanned.invoice_numbers {
                let missing: Vec<&String> = open_before.iter().filter(|n| !numbers.contains(*n)).collect();
                if let Some(warning) = missing_open_warning(&missing) {
                    writer.summary.warnings.push(warning);
                }
            }
        }
        if !problems.is_empty() {
            problems.truncate(MAX_PROBLEMS);
            return Err(ImportError::Invalid(Problems(problems)));
        }
        Ok(writer.summary)
    })?;
    tx.log_import(SOURCE, &dir.display().to_string(), &summary.to_string())?;
    tracing::info!("written in {:.1}s; committing", started.elapsed().as_secs_f64());
    tx.commit()?;
    Ok(summary)
}

/// The warning for invoices open in the store that a new invoices.csv no longer lists.
fn missing_open_warning(missing: &[&String]) -> Option<String> {
    if missing.is_empty() {
        return None;
    }
    let examples = missing.iter().take(5).map(|n| n.as_str()).collect::<Vec<_>>().join(", ");
    let more = if missing.len() > 5 { format!(" and {} more", missing.len() - 5) } else { String::new() };
    Some(format!(
        "{} invoice(s) open in the store are not in this invoices.csv ({examples}{more}); they stay open and are still chased. If they were paid, import them with open_amount 0 or with their payments",
        missing.len()
    ))
}

/// Reads customers.csv, then streams the checked rows of invoices.csv to `rows`. An invoice
/// must name a customer of customers.csv or of `stored_customers`, and its number must be new
/// in the file. After the first problem nothing more is sent, but the rest is still checked.
fn read_customers_and_invoices(
    dir: &Path,
    segments: &BTreeSet<String>,
    stored_customers: &HashSet<String>,
    rows: std::sync::mpsc::SyncSender<Vec<Row<InvoiceRow>>>,
) -> Result<Scanned, ImportError> {
    let mut scanned = Scanned::default();
    let problems = &mut scanned.customer_problems;
    scanned.customers = read_rows(dir, "customers.csv", CUSTOMER_COLUMNS, problems, |h, r, p| {
        parse_customer(h, r, segments, p)
    })?;
    let mut first: HashMap<&str, usize> = HashMap::default();
    for row in scanned.customers.iter().flatten() {
        match first.entry(row.value.id.as_str()) {
            Entry::Vacant(slot) => {
                slot.insert(row.line);
            }
            Entry::Occupied(prev) => problems.push(Problem::new(
                Location::at(dir.join("customers.csv"), row.line, 0),
                format!("customer_id `{}` appears twice; first on line {}", row.value.id, prev.get()),
            )),
        }
    }
    // A customer row with a problem is missing from `first`: do not also call its invoices'
    // customer unknown.
    let customers_ok = problems.is_empty();
    let known = |id: &str| !customers_ok || first.contains_key(id) || stored_customers.contains(id);
    let mut numbers: HashMap<String, usize> = HashMap::default();
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut sending = true;
    let problems = &mut scanned.invoice_problems;
    let header = scan_table(dir, "invoices.csv", INVOICE_COLUMNS, problems, |h, rec, problems| {
        let Some(row) = parse_invoice(h, rec, problems) else { return };
        let inv = &row.value.invoice;
        if !known(&inv.customer_id) && problems.len() < MAX_PROBLEMS {
            problems.push(Problem::new(
                h.location(rec, 1),
                format!(
                    "customer_id `{}` is not in customers.csv nor in the store; add the customer or fix the id",
                    inv.customer_id
                ),
            ));
        }
        match numbers.entry(inv.number.clone()) {
            Entry::Vacant(slot) => {
                slot.insert(row.line);
            }
            Entry::Occupied(first) if problems.len() < MAX_PROBLEMS => problems.push(Problem::new(
                Location::at(&h.path, row.line, 0),
                format!("invoice_number `{}` appears twice; first on line {}", inv.number, first.get()),
            )),
            Entry::Occupied(_) => {}
        }
        if sending && problems.is_empty() {
            chunk.push(row);
            if chunk.len() == CHUNK {
                // A closed channel means the writer failed; it reports why.
                sending = rows.send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))).is_ok();
            }
        }
    })?;
    if sending && problems.is_empty() && !chunk.is_empty() {
        let _ = rows.send(chunk);
    }
    scanned.invoice_numbers = header.map(|_| numbers.into_keys().collect());
    Ok(scanned)
}

/// The writing side of an import, inside its transaction.
struct Writer<'t, 'p> {
    tx: &'t WriteTx<'t>,
    dir: &'p Path,
    summary: ImportSummary,
    /// Payments of payments.csv per invoice, in file order (so the payments index is written
    /// in key order), with `position` finding an invoice's list.
    file_payments: Vec<(&'p str, Vec<FilePayment>)>,
    position: HashMap<&'p str, usize>,
    payment_rows: &'p [Row<PaymentRow>],
    /// The payments stored before this import, per invoice (only when there are any).
    stored: store::PaymentsByInvoice,
    /// invoices.csv, for warnings.
    invoices_path: PathBuf,
    invoices: store::InvoiceWriter<'t>,
}

impl<'t, 'p> Writer<'t, 'p> {
    /// `known_new`: the invoices table was empty (plain inserts do).
    fn new(
        tx: &'t WriteTx<'t>,
        dir: &'p Path,
        payment_rows: &'p [Row<PaymentRow>],
        known_new: bool,
    ) -> Result<Self, ImportError> {
        let stored = if tx.count(store::Table::Payments)? > 0 {
            tx.payments_by_invoice()?
        } else {
            Default::default()
        };
        let mut file_payments: Vec<(&str, Vec<FilePayment>)> = Vec::new();
        let mut position: HashMap<&str, usize> = HashMap::default();
        for row in payment_rows {
            let p = &row.value;
            let i = *position.entry(p.invoice_number.as_str()).or_insert_with(|| {
                file_payments.push((p.invoice_number.as_str(), Vec::new()));
                file_payments.len() - 1
            });
            let list = &mut file_payments[i].1;
            // The key of a csv payment: its date, amount and occurrence among equal ones on
            // its invoice (an invoice has a handful of payments, so counting by scanning is
            // cheap).
            let n = 1 + list.iter().filter(|(d, a, _, _)| *d == p.date && *a == p.amount).count();
            list.push((p.date, p.amount, format!("{}|{}|{}", p.date, p.amount, n), p.method));
        }
        Ok(Writer {
            tx,
            dir,
            summary: ImportSummary::default(),
            file_payments,
            position,
            payment_rows,
            stored,
            invoices_path: dir.join("invoices.csv"),
            invoices: tx.invoice_writer(known_new)?,
        })
    }

    /// The open amount and paid date of `number` after this import: from the file's payments
    /// for invoices payments.csv mentions (it is the full list for them), plus what other
    /// sources brought.
    fn settle(
        &mut self,
        number: &str,
        total: Decimal,
        declared: Option<Decimal>,
        line: Option<usize>,
    ) -> (Decimal, Option<NaiveDate>) {
        let from_file = self.position.get(number).map(|&i| &self.file_payments[i].1);
        let from_store = self.stored.get(number);
        if from_file.is_none() && from_store.is_none() {
            return crate::model::settlement(total, declared, &[]);
        }
        let mut dated: Vec<(NaiveDate, Decimal)> = Vec::new();
        if let Some(list) = from_file {
            dated.extend(list.iter().map(|(d, a, _, _)| (*d, *a)));
        }
        if let Some(list) = from_store {
            let from_file = from_file.is_some();
            dated.extend(
                list.iter().filter(|(src, _)| !(from_file && src == SOURCE)).map(|(_, p)| (p.date, p.amount)),
            );
        }
        settlement(number, total, declared, dated, line, &self.invoices_path, &mut self.summary.warnings)
    }

    fn invoices(&mut self, chunk: Vec<Row<InvoiceRow>>) -> Result<(), ImportError> {
        for row in chunk {
            let Row { line, value: InvoiceRow { mut invoice, declared_open } } = row;
            let (open, paid) = self.settle(&invoice.number, invoice.total, declared_open, Some(line));
            invoice.open_amount = open;
            invoice.paid_date = paid;
            let done = self.invoices.upsert(&invoice, declared_open, SOURCE, &invoice.number)?;
            self.summary.invoices.record(done);
        }
        Ok(())
    }

    fn customers(&mut self, customers: &[Row<Customer>]) -> Result<(), ImportError> {
        let mut writer = self.tx.customer_writer()?;
        for row in customers {
            self.summary.customers.record(writer.upsert(&row.value, SOURCE, &row.value.id)?);
        }
        Ok(())
    }

    /// Checks that every payment names a known invoice, makes the stored csv payments of each
    /// invoice payments.csv mentions equal the file's, and settles the stored invoices they
    /// belong to that invoices.csv did not bring.
    fn payments(
        &mut self,
        file_invoices: Option<&HashSet<String>>,
        problems: &mut Vec<Problem>,
    ) -> Result<(), ImportError> {
        let mut stored_invoices: HashMap<&str, (Decimal, Option<Decimal>)> = HashMap::default();
        for row in self.payment_rows {
            let n = row.value.invoice_number.as_str();
            if file_invoices.is_some_and(|f| f.contains(n)) || stored_invoices.contains_key(n) {
                continue;
            }
            match self.tx.invoice_amounts(n)? {
                Some(amounts) => {
                    stored_invoices.insert(n, amounts);
                }
                None if problems.len() < MAX_PROBLEMS => problems.push(Problem::new(
                    Location::at(self.dir.join("payments.csv"), row.line, row.value.invoice_column),
                    format!("invoice_number `{n}` is not in invoices.csv nor in the store; fix the number or import the invoice"),
                )),
                None => {}
            }
        }
        if !problems.is_empty() {
            return Ok(());
        }
        let mut payments = self.tx.payment_writer()?;
        let counts = &mut self.summary.payments;
        for (number, list) in &self.file_payments {
            // An invoice has a handful of payments: scanning beats hashing here.
            let before: Vec<&str> = self
                .stored
                .get(*number)
                .map(|v| {
                    v.iter().filter(|(src, _)| src == SOURCE).map(|(_, p)| p.source_id.as_str()).collect()
                })
                .unwrap_or_default();
            for (date, amount, id, method) in list {
                if before.contains(&id.as_str()) {
                    counts.unchanged += 1;
                } else {
                    payments.insert(number, *date, *amount, *method, SOURCE, id)?;
                    counts.added += 1;
                }
            }
            for id in before.iter().filter(|b| !list.iter().any(|(_, _, id, _)| id == *b)) {
                payments.delete(number, SOURCE, id)?;
                counts.removed += 1;
            }
        }
        drop(payments);
        for (number, (total, declared)) in stored_invoices {
            let (open, paid) = self.settle(number, total, declared, None);
            if self.tx.set_settlement(number, open, paid)? {
                self.summary.settlements_updated += 1;
            }
        }
        Ok(())
    }
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
    opt("jurisdiction"),
    opt("account_manager"),
    opt("credit_limit"),
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

/// A file's header row mapped to our columns.
struct Header {
    path: PathBuf,
    /// For each of our columns (by index into the column list), its position in the file.
    positions: Vec<Option<usize>>,
    /// How many fields the header has; every row must have as many.
    fields: usize,
}

impl Header {
    /// The trimmed text of column `col` (our index) in `rec`; empty when the column is absent.
    fn field<'r>(&self, rec: &'r csv::ByteRecord, col: usize) -> &'r str {
        self.positions[col]
            .and_then(|p| rec.get(p))
            // UTF-8 was checked when reading.
            .map(|b| std::str::from_utf8(b).unwrap_or("").trim())
            .unwrap_or("")
    }

    fn location(&self, rec: &csv::ByteRecord, col: usize) -> Location {
        Location::at(&self.path, line_of(rec), self.positions[col].map_or(0, |p| p + 1))
    }
}

fn line_of(rec: &csv::ByteRecord) -> usize {
    rec.position().map_or(0, |p| p.line() as usize)
}

/// The problems of one record's bytes: encoding and size of each field, and the field count.
fn check_record(
    path: &Path,
    rec: &csv::ByteRecord,
    fields: Option<usize>,
    problems: &mut Vec<Problem>,
) -> bool {
    let mut ok = true;
    for (i, f) in rec.iter().enumerate() {
        let loc = || Location::at(path, line_of(rec), i + 1);
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
    }
    if let Some(n) = fields.filter(|&n| ok && rec.len() != n) {
        problems.push(Problem::new(
            Location::at(path, line_of(rec), 0),
            format!(
                "row has {} fields but the header has {n}; check for a missing or extra comma, or an unquoted comma in a value",
                rec.len(),
            ),
        ));
        ok = false;
    }
    ok
}

/// Reads `dir/name` record by record: maps the header to `columns`, checks every record's
/// bytes and hands each sound one to `each`. Returns the header, or `None` when the file is
/// absent or has no usable header (the problems say why). Stops after [`MAX_PROBLEMS`].
fn scan_table(
    dir: &Path,
    name: &str,
    columns: &[Column],
    problems: &mut Vec<Problem>,
    mut each: impl FnMut(&Header, &csv::ByteRecord, &mut Vec<Problem>),
) -> Result<Option<Header>, ImportError> {
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
    let mut rec = csv::ByteRecord::new();
    let blank = |rec: &csv::ByteRecord| {
        rec.len() == 1 && rec.get(0).is_some_and(|f| f.iter().all(u8::is_ascii_whitespace))
    };
    let mut next = |rec: &mut csv::ByteRecord, problems: &mut Vec<Problem>| loop {
        match reader.read_byte_record(rec) {
            Ok(true) if blank(rec) => continue,
            Ok(true) => return Some(()),
            Ok(false) => return None,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                problems.push(Problem::new(Location::at(&path, line, 0), format!("cannot read CSV: {e}")));
                return None;
            }
        }
    };
    if next(&mut rec, problems).is_none() {
        if problems.is_empty() {
            problems.push(Problem::new(Location::at(&path, 1, 1), "the file has no header row".to_string()));
        }
        return Ok(None);
    }
    if !check_record(&path, &rec, None, problems) {
        return Ok(None);
    }
    let names: Vec<String> =
        rec.iter().map(|f| String::from_utf8_lossy(f).trim().to_ascii_lowercase()).collect();
    let mut positions = Vec::with_capacity(columns.len());
    let mut ok = true;
    for col in columns {
        let found: Vec<usize> =
            names.iter().enumerate().filter(|(_, n)| *n == col.name).map(|(i, _)| i).collect();
        match found.as_slice() {
            [] if col.required => {
                problems.push(Problem::new(
                    Location::at(&path, line_of(&rec), 0),
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
                    Location::at(&path, line_of(&rec), second + 1),
                    format!("column `{}` appears twice in the header", col.name),
                ));
                ok = false;
                positions.push(None);
            }
        }
    }
    if !ok {
        return Ok(None);
    }
    let header = Header { path: path.clone(), positions, fields: rec.len() };
    while problems.len() < MAX_PROBLEMS && next(&mut rec, problems).is_some() {
        if check_record(&path, &rec, Some(header.fields), problems) {
            each(&header, &rec, problems);
        }
    }
    Ok(Some(header))
}

/// The parsed rows of `dir/name`; `None` when the file is absent or unusable.
fn read_rows<T>(
    dir: &Path,
    name: &str,
    columns: &[Column],
    problems: &mut Vec<Problem>,
    parse: impl Fn(&Header, &csv::ByteRecord, &mut Vec<Problem>) -> Option<T>,
) -> Result<Option<Vec<T>>, ImportError> {
    let mut rows = Vec::new();
    let header =
        scan_table(dir, name, columns, problems, |h, rec, problems| rows.extend(parse(h, rec, problems)))?;
    Ok(header.map(|_| rows))
}

/// Collects one row's problems; `get` returns `None` after recording what is wrong.
struct RowCheck<'a> {
    header: &'a Header,
    rec: &'a csv::ByteRecord,
    problems: &'a mut Vec<Problem>,
    ok: bool,
}

impl<'a> RowCheck<'a> {
    fn text(&self, col: usize) -> &'a str {
        self.header.field(self.rec, col)
    }

    fn fail(&mut self, col: usize, message: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem::new(self.header.location(self.rec, col), message));
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

fn parse_customer(
    header: &Header,
    rec: &csv::ByteRecord,
    segments: &BTreeSet<String>,
    problems: &mut Vec<Problem>,
) -> Option<Row<Customer>> {
    let mut c = RowCheck { header, rec, problems, ok: true };
    let id = c.parse(0, "customer_id", text::identifier);
    let name = c.parse(1, "name", |s| text::single_line(s, MAX_NAME));
    let kind = c.parse(2, "kind", |s| s.parse::<CustomerKind>());
    let language = c.optional(3, "language", |s| s.parse::<Language>());
    let email = c.optional(4, "email", text::email);
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
    let jurisdiction = c.optional(13, "jurisdiction", |s| match s.trim().to_ascii_lowercase().as_str() {
        "nl" => Ok(crate::calendar::Jurisdiction::Nl),
        "be" => Ok(crate::calendar::Jurisdiction::Be),
        other => Err(format!(
            "`{other}` is not a jurisdiction; use nl or be (whose law governs this business customer's claims), or leave it empty for the business's own"
        )),
    });
    let account_manager = c.optional(14, "account_manager", text::email);
    let credit_limit = c.optional(15, "credit_limit", |s| {
        let limit = parse_amount(s)?;
        if limit.is_sign_negative() {
            return Err(format!(
                "credit_limit {limit} is below zero; write the most this customer may owe, like 5000.00, or leave it empty"
            ));
        }
        Ok(limit)
    });
    let street = c.optional(6, "street", |s| text::single_line(s, MAX_NAME));
    let postal = c.optional(7, "postal_code", |s| text::single_line(s, MAX_NAME));
    let city = c.optional(8, "city", |s| text::single_line(s, MAX_NAME));
    if !c.ok {
        return None;
    }
    Some(Row {
        line: line_of(rec),
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
        },
    })
}

fn parse_invoice(
    header: &Header,
    rec: &csv::ByteRecord,
    problems: &mut Vec<Problem>,
) -> Option<Row<InvoiceRow>> {
    let mut c = RowCheck { header, rec, problems, ok: true };
    let number = c.parse(0, "invoice_number", text::identifier);
    let customer = c.parse(1, "customer_id", text::identifier);
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
            c.fail(6, format!("open_amount {open} of a credit note must be between the total {total} and 0"));
        }
    }
    if !c.ok {
        return None;
    }
    let (total, open) = (total?, open?);
    Some(Row {
        line: line_of(rec),
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

fn parse_payment(
    header: &Header,
    rec: &csv::ByteRecord,
    problems: &mut Vec<Problem>,
) -> Option<Row<PaymentRow>> {
    let mut c = RowCheck { header, rec, problems, ok: true };
    let number = c.parse(0, "invoice_number", text::identifier);
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
    if !c.ok {
        return None;
    }
    Some(Row {
        line: line_of(rec),
        value: PaymentRow {
            invoice_number: number?,
            invoice_column: header.positions[0].map_or(0, |p| p + 1),
            date: date?,
            amount: amount?,
            method: method?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CUSTOMERS: &str = "customer_id,name,kind\nC1,Bakkerij De Vries,b2b\nC2,\"Dubois, Marie\",b2c\n";
    const HEADER: &str = "invoice_number,customer_id,issue_date,due_date,currency,total,open_amount\n";

    /// Pieces a broken or odd export is made of: good rows, stray quotes and separators, line
    /// ends of every kind, non-UTF-8 bytes, a BOM, long runs.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        // Mostly good rows, so that many files get far enough to be written (and a late
        // problem has to roll back rows already written).
        prop_oneof![
            60 => (1u32..1_000_000)
                .prop_map(|n| format!("F{n},C1,2026-01-01,2026-01-31,EUR,12.50,\n").into_bytes()),
            10 => (1u32..1_000_000)
                .prop_map(|n| format!("B{n},C2,2026-01-01,2026-01-31,,99.95,10.00\r\n").into_bytes()),
            1 => Just(b"\"".to_vec()),
            1 => Just(b",".to_vec()),
            2 => Just(b"\n".to_vec()),
            1 => Just(b"\r".to_vec()),
            1 => Just(b"\xEF\xBB\xBF".to_vec()),
            1 => Just(b"\xE9t\xE9".to_vec()),
            1 => Just(b"X1,C404,2026-01-01,2026-01-31,EUR,1.00,\n".to_vec()),
            1 => Just(b"X2,C1,2026-02-30,2026-03-31,EUR,1.00,\n".to_vec()),
            1 => Just(b"1e5".to_vec()),
            1 => Just(b"-7.00".to_vec()),
            1 => (1usize..6000).prop_map(|n| vec![b'x'; n]),
            1 => proptest::collection::vec(any::<u8>(), 0..12),
        ]
    }

    fn dump(store: &Store) -> (u64, Vec<Invoice>) {
        (store.count(store::Table::Invoices).unwrap(), store.load_invoices().unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        /// Whatever bytes invoices.csv holds, the import never panics; it either stores the
        /// file or refuses it with problems that name the file and a line, and then the store
        /// is exactly as before.
        #[test]
        fn any_invoices_file_is_stored_whole_or_refused_with_its_place(
            body in proptest::collection::vec(piece(), 0..40),
            with_header in proptest::bool::weighted(0.9),
        ) {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("customers.csv"), CUSTOMERS).unwrap();
            let mut bytes = if with_header { HEADER.as_bytes().to_vec() } else { Vec::new() };
            bytes.extend(body.concat());
            std::fs::write(dir.path().join("invoices.csv"), &bytes).unwrap();
            let mut store = Store::open_in_memory().unwrap();
            let segments = BTreeSet::new();
            // A first, clean import, so that "unchanged" means something.
            let good = tempfile::tempdir().unwrap();
            std::fs::write(good.path().join("customers.csv"), CUSTOMERS).unwrap();
            std::fs::write(good.path().join("invoices.csv"), format!("{HEADER}G1,C2,2026-01-01,2026-01-31,EUR,5.00,\n")).unwrap();
            import_dir(&mut store, good.path(), &segments).unwrap();
            let before = dump(&store);
            match import_dir(&mut store, dir.path(), &segments) {
                Ok(summary) => {
                    let (count, _) = dump(&store);
                    prop_assert_eq!(count, 1 + summary.invoices.added);
                }
                Err(ImportError::Invalid(Problems(problems))) => {
                    prop_assert!(!problems.is_empty());
                    for p in &problems {
                        prop_assert!(p.location.file.ends_with("invoices.csv"), "{:?}", p);
                        prop_assert!(p.location.line >= 1, "{:?}", p);
                        prop_assert!(!p.message.is_empty());
                    }
                    prop_assert_eq!(dump(&store), before);
                }
                Err(other) => prop_assert!(false, "unexpected error: {other}"),
            }
        }
    }
}
