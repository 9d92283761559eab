//! `dunwell import csv DIR|FILE` and `dunwell import xlsx FILE|DIR`: reads the spreadsheet
//! export of `shared/formats/csv-export.md` (customers, invoices, payments), the same as people
//! have it (Dutch and Belgian Excel dialects, other column names, .xlsx workbooks), and
//! open-items reports of bookkeeping packages.
//!
//! All or nothing: everything is written inside one transaction while the files are still
//! being read and checked (see [`import_export`]); the first problem stops the writing, every
//! problem is reported, and the transaction is dropped, so a bad row anywhere leaves the store
//! as it was. Re-importing the same files changes nothing: rows are upserted by key and only
//! real differences are written.
//!
//! One concern per module: [`dialect`] (encoding, separator, decimal mark, dates), [`columns`]
//! (header names and `[import.columns]`), `table` (reading a CSV file or a sheet record by
//! record), `rows` (a record into a checked customer, invoice or payment), `open_items` (an
//! open-items report), [`presets`] (the packages' report headers), [`xlsx`] (workbooks).

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
use crate::model::{Customer, CustomerKind, Invoice, Payment, PaymentMethod};
pub use crate::store::Counts;
use crate::store::{self, Store, StoreError, WriteTx};

pub mod columns;
pub mod dialect;
mod open_items;
pub mod presets;
mod rows;
mod table;
pub mod xlsx;

pub use dialect::{Dialect, FileDialect, Settings};
use rows::{InvoiceRow, PaymentRow, Row};
use table::{Place, PresetChoice, Table};

/// The `source` recorded on rows that came from a spreadsheet import.
pub const SOURCE: &str = "csv";
/// Longest field accepted. Real exports never come close; a longer field is a broken quote
/// that swallowed the rest of the file, and saying so beats storing it.
pub const MAX_FIELD_BYTES: usize = 4096;
/// Stop collecting problems after this many: the first ones tell the user what to fix.
const MAX_PROBLEMS: usize = 50;
/// Rows of each kind a dry run shows as parsed.
const PREVIEW_ROWS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Invalid(Problems),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{dir} holds none of customers.csv, invoices.csv, payments.csv; point `dunwell import csv` at the folder of the export")]
    NoFiles { dir: PathBuf },
    #[error("{dir} holds none of customers.xlsx, invoices.xlsx, payments.xlsx and not exactly one workbook (.xlsx, .xls, .ods); point `dunwell import xlsx` at the workbook")]
    NoWorkbook { dir: PathBuf },
    #[error("{path}: {message}")]
    Usage { path: PathBuf, message: String },
    #[error(transparent)]
    Xlsx(#[from] xlsx::XlsxError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How to import: `[import]` of dunwell.toml and the command line's choices.
#[derive(Clone)]
pub struct Options<'a> {
    pub settings: &'a Settings,
    /// The segments with a playbook (a customer's `segment` must be one).
    pub segments: &'a BTreeSet<String>,
    /// Read, check and write everything inside the import's transaction, then roll it back:
    /// the summary (counts, the first rows as parsed, the dialect) is exactly what the import
    /// would do, and nothing is stored.
    pub dry_run: bool,
    /// `--preset NAME`: read an open-items report with this package's headers.
    pub preset: Option<&'static presets::Preset>,
    /// `--open-items`: the file is an open-items report, and the invoices of this source that
    /// left it since the last one are marked paid on `report_date`. Without it nothing is ever
    /// marked paid.
    pub open_items: bool,
    /// The day the report was made (`--report-date`, default today).
    pub report_date: NaiveDate,
}

impl<'a> Options<'a> {
    pub fn new(settings: &'a Settings, segments: &'a BTreeSet<String>, report_date: NaiveDate) -> Self {
        Options { settings, segments, dry_run: false, preset: None, open_items: false, report_date }
    }
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
    /// What was detected in each file: separator, decimal mark, date forms, encoding.
    pub dialect: Dialect,
    /// What the import took instead of the file (a default kind), said in the summary.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// An open-items report: what it holds and what left it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_items: Option<OpenItemsSummary>,
    /// `--dry-run`: nothing was stored.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// `--dry-run`: the first rows of each kind as they would be stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<Preview>,
}

/// What an open-items report held and what was done with the invoices that left it.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct OpenItemsSummary {
    pub report_date: Option<NaiveDate>,
    /// Invoices in the report.
    pub invoices: u64,
    /// What the report says is open, per currency.
    pub open: std::collections::BTreeMap<String, Decimal>,
    /// Invoices of this source open in the store but not in the report, marked paid on the
    /// report's date (`--open-items`).
    pub marked_paid: Vec<String>,
    /// The same without `--open-items`: left open.
    pub left_open: Vec<String>,
    /// The preset whose headers were read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<&'static str>,
}

/// The first rows of each kind, as parsed (a dry run shows them).
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Preview {
    pub customers: Vec<Customer>,
    pub invoices: Vec<Invoice>,
    pub payments: Vec<Payment>,
}

fn list(numbers: &[String]) -> String {
    let shown = numbers.iter().take(10).map(String::as_str).collect::<Vec<_>>().join(", ");
    if numbers.len() > 10 {
        format!("{shown} and {} more", numbers.len() - 10)
    } else {
        shown
    }
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
        if let Some(o) = &self.open_items {
            let open = o.open.iter().map(|(cur, a)| format!("{a} {cur}")).collect::<Vec<_>>().join(" + ");
            let open = if open.is_empty() { "nothing".to_string() } else { open };
            let date = o.report_date.map(|d| format!(" of {d}")).unwrap_or_default();
            write!(f, "\nopen-items report{date}: {} invoices, {open} open", o.invoices)?;
            if let Some(d) = o.report_date.filter(|_| !o.marked_paid.is_empty()) {
                write!(
                    f,
                    "\nmarked paid on {d}, no longer in the report ({}): {}",
                    o.marked_paid.len(),
                    list(&o.marked_paid)
                )?;
            }
            if !o.left_open.is_empty() {
                write!(
                    f,
                    "\nnot in the report but left open, as --open-items was not given ({}): {}; import the report with --open-items to mark them paid on its date",
                    o.left_open.len(),
                    list(&o.left_open)
                )?;
            }
        }
        for note in &self.notes {
            write!(f, "\n{note}")?;
        }
        if !self.dialect.text.is_empty() {
            write!(f, "\nread as: {}", self.dialect.text)?;
        }
        Ok(())
    }
}

/// Imports the export in `dir` (customers.csv, invoices.csv, payments.csv) with the default
/// settings: what `dunwell import csv DIR` did before `[import]` existed.
pub fn import_dir(
    store: &mut Store,
    dir: &Path,
    segments: &BTreeSet<String>,
) -> Result<ImportSummary, ImportError> {
    let settings = Settings::default();
    let today = chrono::Local::now().date_naive();
    import_csv(store, dir, &Options::new(&settings, segments, today))
}

/// `dunwell import csv PATH`: a folder holding the export's CSV files, or one CSV file of open
/// items (with `--open-items`, `--preset` or a preset detected from its header).
pub fn import_csv(store: &mut Store, path: &Path, opts: &Options<'_>) -> Result<ImportSummary, ImportError> {
    if path.is_dir() {
        let files = ["customers.csv", "invoices.csv", "payments.csv"];
        if !files.iter().any(|f| path.join(f).exists()) {
            return Err(ImportError::NoFiles { dir: path.to_path_buf() });
        }
        let tables = Export {
            customers: Some(Table::Csv(path.join("customers.csv"))).filter(Table::exists),
            invoices: Some(Table::Csv(path.join("invoices.csv"))).filter(Table::exists),
            payments: Some(Table::Csv(path.join("payments.csv"))).filter(Table::exists),
            label: path.display().to_string(),
        };
        if opts.open_items || opts.preset.is_some() {
            return Err(ImportError::Usage {
                path: path.to_path_buf(),
                message: "is a folder of the export; --open-items and --preset are for one file of open items: give the report's file".into(),
            });
        }
        return import_export(store, tables, opts);
    }
    if !path.exists() {
        return Err(ImportError::Read {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
        });
    }
    if xlsx::is_workbook(path) {
        return Err(ImportError::Usage {
            path: path.to_path_buf(),
            message: "is a workbook, not a CSV file; import it with `dunwell import xlsx`".into(),
        });
    }
    open_items::import(store, Table::Csv(path.to_path_buf()), opts)
}

/// `dunwell import xlsx PATH`: a workbook with sheets named customers, invoices and payments
/// (or klanten, facturen, betalingen; clients, factures, paiements), a workbook of one sheet
/// of open items, or a folder holding customers.xlsx, invoices.xlsx and payments.xlsx (the
/// first sheet of each) or exactly one workbook.
pub fn import_xlsx(store: &mut Store, path: &Path, opts: &Options<'_>) -> Result<ImportSummary, ImportError> {
    if path.is_dir() {
        let kinds = ["customers", "invoices", "payments"];
        let found: Vec<PathBuf> =
            kinds.iter().map(|k| path.join(format!("{k}.xlsx"))).filter(|p| p.exists()).collect();
        if found.is_empty() {
            let mut books: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|source| ImportError::Read { path: path.to_path_buf(), source })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && xlsx::is_workbook(p))
                .collect();
            books.sort();
            return match books.as_slice() {
                [one] => import_xlsx(store, one, opts),
                _ => Err(ImportError::NoWorkbook { dir: path.to_path_buf() }),
            };
        }
        let mut sheets: Vec<(PathBuf, xlsx::Sheet)> = Vec::new();
        for k in kinds {
            let p = path.join(format!("{k}.xlsx"));
            if p.exists() {
                let first = xlsx::read_workbook(&p)?.into_iter().find(xlsx::Sheet::has_content);
                match first {
                    Some(sheet) => sheets.push((p, sheet)),
                    None => {
                        return Err(ImportError::Usage {
                            path: p,
                            message: "has no sheet with anything in it".into(),
                        })
                    }
                }
            }
        }
        let table = |name: &str| {
            sheets
                .iter()
                .find(|(p, _)| p.file_stem().is_some_and(|s| s == name))
                .map(|(p, sheet)| Table::Sheet { path: p, sheet })
        };
        let export = Export {
            customers: table("customers"),
            invoices: table("invoices"),
            payments: table("payments"),
            label: path.display().to_string(),
        };
        return import_export(store, export, opts);
    }
    let sheets = xlsx::read_workbook(path)?;
    let kind_of = |name: &str| match name.trim().to_lowercase().as_str() {
        "customers" | "klanten" | "debiteuren" | "relaties" | "clients" => Some(0),
        "invoices" | "facturen" | "factures" | "verkoopfacturen" => Some(1),
        "payments" | "betalingen" | "paiements" | "ontvangsten" => Some(2),
        _ => None,
    };
    let by_kind: Vec<Option<&xlsx::Sheet>> =
        (0..3).map(|k| sheets.iter().find(|s| kind_of(&s.name) == Some(k))).collect();
    if by_kind.iter().any(Option::is_some) && (opts.open_items || opts.preset.is_some()) {
        return Err(ImportError::Usage {
            path: path.to_path_buf(),
            message: "holds the sheets of an export (customers, invoices, payments), not one sheet of open items; import it without --open-items and --preset".into(),
        });
    }
    if by_kind.iter().any(Option::is_some) {
        let export = Export {
            customers: by_kind[0].map(|sheet| Table::Sheet { path, sheet }),
            invoices: by_kind[1].map(|sheet| Table::Sheet { path, sheet }),
            payments: by_kind[2].map(|sheet| Table::Sheet { path, sheet }),
            label: path.display().to_string(),
        };
        return import_export(store, export, opts);
    }
    let filled: Vec<&xlsx::Sheet> = sheets.iter().filter(|s| s.has_content()).collect();
    match filled.as_slice() {
        [one] => open_items::import(store, Table::Sheet { path, sheet: one }, opts),
        _ => Err(ImportError::Usage {
            path: path.to_path_buf(),
            message: format!(
                "has the sheets {}; name them customers, invoices and payments (or klanten, facturen, betalingen), or keep one sheet of open items",
                sheets.iter().map(|s| format!("`{}`", s.name)).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

/// The tables of one export.
struct Export<'a> {
    customers: Option<Table<'a>>,
    invoices: Option<Table<'a>>,
    payments: Option<Table<'a>>,
    /// The folder or workbook, for the import log.
    label: String,
}

/// Rows of invoices.csv travel from the reading thread to the writer in chunks of this many.
const CHUNK: usize = 8192;
/// Chunks the reader may run ahead of the writer (bounds the memory of a big import).
const CHUNKS_AHEAD: usize = 64;

/// What the thread reading customers.csv and invoices.csv hands back when it is done.
#[derive(Default)]
struct Scanned {
    customers: Option<Vec<Row<Customer>>>,
    customers_place: Option<Place>,
    /// customers.csv has a `kind` column (else `[import] default_kind` gave it).
    customers_kind_given: bool,
    customer_problems: Vec<Problem>,
    /// Every invoice number of invoices.csv (`None` without the file), for payments.csv.
    invoice_numbers: Option<HashSet<String>>,
    invoices_place: Option<Place>,
    invoice_problems: Vec<Problem>,
    dialects: Vec<FileDialect>,
    preview: Vec<Invoice>,
}

/// Reads the export's tables and stores them in one transaction.
///
/// The files are checked while they are written: a thread reads customers.csv and then
/// streams the checked rows of invoices.csv to this thread, which writes them; another
/// thread reads payments.csv. Any problem anywhere rolls the whole transaction back, so the
/// store sees all of the import or none of it. Overlapping the reading with the writing is
/// what keeps a million-invoice import near the speed of SQLite's own CSV import. A dry run
/// does all of it and rolls the transaction back.
fn import_export(
    store: &mut Store,
    export: Export<'_>,
    opts: &Options<'_>,
) -> Result<ImportSummary, ImportError> {
    let started = std::time::Instant::now();
    let tx = store.begin()?;
    // Customers an invoice may name besides those of customers.csv.
    let stored_customers = if export.invoices.is_some() { tx.customer_ids()? } else { Default::default() };
    let known_new = tx.count(store::Table::Invoices)? == 0;
    // Invoices still open from earlier imports: an export of open invoices only leaves the
    // paid ones out, and they would be chased for ever; the summary says so.
    let open_before =
        if !known_new && export.invoices.is_some() { tx.open_invoices_of_source(SOURCE)? } else { vec![] };
    let (rows, receiver) = std::sync::mpsc::sync_channel::<Vec<Row<InvoiceRow>>>(CHUNKS_AHEAD);
    let Export { customers, invoices, payments, label } = export;
    let mut summary = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            read_customers_and_invoices(customers.as_ref(), invoices.as_ref(), opts, &stored_customers, rows)
        });
        let payments = scope.spawn(|| {
            let mut problems = Vec::new();
            let read = match &payments {
                Some(t) => read_rows(t, columns::Kind::Payments, opts, &mut problems, rows::parse_payment),
                None => Ok((None, None)),
            };
            (read, problems)
        });
        let (payment_rows, payment_problems) = payments.join().expect("the payments.csv reader panicked");
        let (payment_rows, payments_header) = payment_rows?;
        let payments_place = payments_header.as_ref().map(|h| h.place.clone());
        let mut writer =
            Writer::new(&tx, payments_place, payment_rows.as_deref().unwrap_or_default(), known_new)?;
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
        let mut scanned = reader.join().expect("the invoices.csv reader panicked")?;
        writer.invoices_place = scanned.invoices_place.take();
        healthy &= scanned.customer_problems.is_empty() && scanned.invoice_problems.is_empty();
        let mut problems = std::mem::take(&mut scanned.customer_problems);
        problems.extend(std::mem::take(&mut scanned.invoice_problems));
        problems.extend(payment_problems);
        if healthy {
            let customers = scanned.customers.as_deref().unwrap_or_default();
            let place = scanned.customers_place.as_ref();
            writer.customers(
                customers,
                scanned.customers_kind_given,
                opts.settings.default_kind,
                place,
                &mut problems,
            )?;
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
        let mut dialects = std::mem::take(&mut scanned.dialects);
        dialects.extend(payments_header.map(|h| h.file_dialect()));
        writer.summary.dialect = Dialect::new(dialects);
        if opts.dry_run {
            writer.summary.preview = Some(Preview {
                customers: scanned
                    .customers
                    .iter()
                    .flatten()
                    .take(PREVIEW_ROWS)
                    .map(|r| r.value.clone())
                    .collect(),
                invoices: std::mem::take(&mut scanned.preview),
                payments: payment_rows
                    .iter()
                    .flatten()
                    .take(PREVIEW_ROWS)
                    .map(|r| Payment {
                        invoice_number: r.value.invoice_number.clone(),
                        date: r.value.date,
                        amount: r.value.amount,
                        method: r.value.method,
                    })
                    .collect(),
            });
        }
        Ok(writer.summary)
    })?;
    finish(tx, &label, &mut summary, opts, started)?;
    Ok(summary)
}

/// Commits an import's transaction (logged), or rolls it back in a dry run.
fn finish(
    tx: WriteTx<'_>,
    label: &str,
    summary: &mut ImportSummary,
    opts: &Options<'_>,
    started: std::time::Instant,
) -> Result<(), ImportError> {
    if opts.dry_run {
        summary.dry_run = true;
        tracing::info!("checked in {:.1}s; a dry run: rolling back", started.elapsed().as_secs_f64());
        drop(tx);
        return Ok(());
    }
    tx.log_import(SOURCE, label, &summary.to_string())?;
    tracing::info!("written in {:.1}s; committing", started.elapsed().as_secs_f64());
    tx.commit()?;
    Ok(())
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
    customers: Option<&Table<'_>>,
    invoices: Option<&Table<'_>>,
    opts: &Options<'_>,
    stored_customers: &HashSet<String>,
    rows: std::sync::mpsc::SyncSender<Vec<Row<InvoiceRow>>>,
) -> Result<Scanned, ImportError> {
    let mut scanned = Scanned::default();
    let problems = &mut scanned.customer_problems;
    let default_kind = opts.settings.default_kind;
    if let Some(table) = customers {
        let (rows, header) = read_rows(table, columns::Kind::Customers, opts, problems, |h, r, p| {
            rows::parse_customer(h, r, opts.segments, default_kind, p)
        })?;
        scanned.customers = rows;
        if let Some(h) = header {
            scanned.customers_kind_given = h.has(2);
            scanned.dialects.push(h.file_dialect());
            scanned.customers_place = Some(h.place);
        }
    }
    let mut first: HashMap<&str, usize> = HashMap::default();
    for row in scanned.customers.iter().flatten() {
        match first.entry(row.value.id.as_str()) {
            Entry::Vacant(slot) => {
                slot.insert(row.line);
            }
            Entry::Occupied(prev) => problems.push(Problem::new(
                scanned
                    .customers_place
                    .as_ref()
                    .map_or_else(|| Location::file("customers"), |p| p.location(row.line, 0)),
                format!("customer_id `{}` appears twice; first on line {}", row.value.id, prev.get()),
            )),
        }
    }
    // A customer row with a problem is missing from `first`: do not also call its invoices'
    // customer unknown.
    let customers_ok = problems.is_empty();
    let known = |id: &str| !customers_ok || first.contains_key(id) || stored_customers.contains(id);
    let Some(table) = invoices else { return Ok(scanned) };
    let mut numbers: HashMap<String, usize> = HashMap::default();
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut sending = true;
    let problems = &mut scanned.invoice_problems;
    let preview = &mut scanned.preview;
    let want_preview = opts.dry_run;
    let header = table::scan_table(
        table,
        columns::Kind::Invoices,
        opts.settings,
        PresetChoice::None,
        problems,
        |h, rec, problems| {
            let Some(row) = rows::parse_invoice(h, rec, problems) else { return };
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
                    h.place.location(row.line, 0),
                    format!("invoice_number `{}` appears twice; first on line {}", inv.number, first.get()),
                )),
                Entry::Occupied(_) => {}
            }
            if want_preview && preview.len() < PREVIEW_ROWS {
                preview.push(inv.clone());
            }
            if sending && problems.is_empty() {
                chunk.push(row);
                if chunk.len() == CHUNK {
                    // A closed channel means the writer failed; it reports why.
                    sending = rows.send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))).is_ok();
                }
            }
        },
    )?;
    if sending && problems.is_empty() && !chunk.is_empty() {
        let _ = rows.send(chunk);
    }
    if let Some(h) = &header {
        scanned.dialects.push(h.file_dialect());
        scanned.invoices_place = Some(h.place.clone());
    }
    scanned.invoice_numbers = header.map(|_| numbers.into_keys().collect());
    Ok(scanned)
}

/// The parsed rows of `table` and its header; `None` when the file is absent or unusable.
type ReadRows<T> = (Option<Vec<T>>, Option<table::Header>);

fn read_rows<T>(
    table: &Table<'_>,
    kind: columns::Kind,
    opts: &Options<'_>,
    problems: &mut Vec<Problem>,
    parse: impl Fn(&table::Header, table::Rec<'_>, &mut Vec<Problem>) -> Option<T>,
) -> Result<ReadRows<T>, ImportError> {
    let mut rows = Vec::new();
    let header =
        table::scan_table(table, kind, opts.settings, PresetChoice::None, problems, |h, rec, problems| {
            rows.extend(parse(h, rec, problems))
        })?;
    Ok(match header {
        Some(h) => (Some(rows), Some(h)),
        None => (None, None),
    })
}

/// The writing side of an import, inside its transaction.
struct Writer<'t, 'p> {
    tx: &'t WriteTx<'t>,
    summary: ImportSummary,
    /// Payments of payments.csv per invoice, in file order (so the payments index is written
    /// in key order), with `position` finding an invoice's list.
    file_payments: Vec<(&'p str, Vec<FilePayment>)>,
    position: HashMap<&'p str, usize>,
    payment_rows: &'p [Row<PaymentRow>],
    payments_place: Option<Place>,
    /// The payments stored before this import, per invoice (only when there are any).
    stored: store::PaymentsByInvoice,
    /// invoices.csv, for warnings.
    invoices_place: Option<Place>,
    invoices: store::InvoiceWriter<'t>,
}

impl<'t, 'p> Writer<'t, 'p> {
    /// `known_new`: the invoices table was empty (plain inserts do).
    fn new(
        tx: &'t WriteTx<'t>,
        payments_place: Option<Place>,
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
            summary: ImportSummary::default(),
            file_payments,
            position,
            payment_rows,
            payments_place,
            stored,
            invoices_place: None,
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
        let place = line.zip(self.invoices_place.as_ref()).map(|(l, p)| p.location(l, 0));
        settlement(number, total, declared, dated, place, &mut self.summary.warnings)
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

    /// Writes the customers. Without a `kind` column (`kind_given` false) a stored customer
    /// keeps its kind and a new one takes `[import] default_kind`, which the summary says.
    fn customers(
        &mut self,
        customers: &[Row<Customer>],
        kind_given: bool,
        default_kind: Option<CustomerKind>,
        place: Option<&Place>,
        problems: &mut Vec<Problem>,
    ) -> Result<(), ImportError> {
        let mut writer = self.tx.customer_writer()?;
        let mut defaulted = 0usize;
        for row in customers {
            let mut c = std::borrow::Cow::Borrowed(&row.value);
            if !kind_given {
                match self.tx.stored_customer(&row.value.id)? {
                    Some(stored) => c.to_mut().kind = stored.kind,
                    None => defaulted += 1,
                }
            }
            self.summary.customers.record(writer.upsert(&c, SOURCE, &c.id)?);
        }
        if !kind_given && defaulted > 0 {
            let file = place.map_or_else(|| "the customers".to_string(), Place::name);
            match default_kind {
                Some(k) => self.summary.notes.push(format!(
                    "{file} has no kind column: {defaulted} new customer(s) taken as {} ([import] default_kind); customers already stored keep theirs",
                    k.as_str()
                )),
                None => problems.push(Problem::new(
                    place.map_or_else(|| Location::file("customers"), |p| p.location(1, 0)),
                    "there is no `kind` column and [import] default_kind is not set".to_string(),
                )),
            }
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
                    self.payments_place
                        .as_ref()
                        .map_or_else(|| Location::file("payments"), |p| p.location(row.line, row.value.invoice_column)),
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
    place: Option<Location>,
    warnings: &mut Vec<String>,
) -> (Decimal, Option<NaiveDate>) {
    payments.sort();
    let paid_sum: Decimal = payments.iter().map(|(_, a)| *a).sum();
    let computed = total - paid_sum;
    if let Some(d) = declared {
        if !payments.is_empty() && d != computed {
            let place = match place {
                Some(l) => l.to_string(),
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
