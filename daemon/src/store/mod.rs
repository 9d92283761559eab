//! The SQLite store: one database file in the data directory holds all state.
//!
//! Every write happens inside one transaction per unit of work (an import, a sync), so a crash
//! at any point leaves either the state before or the state after, never half of it. The
//! database runs in WAL mode with `synchronous = NORMAL`: a power cut may lose the last
//! committed transaction but never corrupts or half-applies one. Schema changes are numbered
//! migrations tracked in `PRAGMA user_version`, applied in one transaction at open.
//!
//! Dates are stored as `YYYY-MM-DD` text (sortable, readable with the sqlite3 tool) and money
//! as decimal text, because SQLite's numbers are binary floating point.

pub mod approvals;
mod care;
mod daemon;
pub mod invoices;
pub mod notes;
mod open_items;
mod outbox;
mod quarantine;
mod schema;
mod sync;
mod write;

pub use care::{By, CallOutcome, CareError, NewDispute, NewPause, NewPlan, NewPromise, Notified, Settled};
pub use daemon::{InvoiceNow, JobRun};
pub use outbox::{Covered, Fallback, Message, NewMessage, Status};
pub use quarantine::{Quarantined, QuarantinedRecord};
pub use sync::{FullPullEntity, MatchCandidate, SyncStatus, UnmatchedPayment};
pub use write::{
    Counts, CustomerWriter, InvoiceWriter, PaymentWriter, PaymentsByInvoice, StoredPayment, Upsert, WriteTx,
};

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::NaiveDate;
use rusqlite::Connection;
use rust_decimal::Decimal;

use crate::model::{Address, Customer, CustomerKind, Invoice, Language, Payment, PaymentMethod};
use schema::MIGRATIONS;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create data directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error(
        "database {path} has schema version {found}, newer than this dunwell understands ({supported}); upgrade dunwell"
    )]
    TooNew { path: PathBuf, found: i64, supported: i64 },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the database holds a value that is not valid ({what}: `{value}`); was it edited by hand?")]
    Corrupt { what: &'static str, value: String },
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// The columns [`customer_row`] reads, first in a SELECT.
const CUSTOMER_COLUMNS: &str = "id, name, kind, language, email, phone, street, postal_code, city, country, \
     customer_since, payment_method, segment, jurisdiction, account_manager, credit_limit, contact";

/// A customer from the first columns of a row selected with [`CUSTOMER_COLUMNS`].
fn customer_row(r: &rusqlite::Row<'_>) -> Result<Customer, StoreError> {
    Ok(Customer {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: parse_col::<CustomerKind>(r.get_ref(2)?.as_str()?, "customer kind")?,
        language: opt_col::<Language>(r.get_ref(3)?.as_str_or_null()?, "language")?,
        email: r.get(4)?,
        phone: r.get(5)?,
        address: Address { street: r.get(6)?, postal_code: r.get(7)?, city: r.get(8)?, country: r.get(9)? },
        customer_since: opt_date(r.get_ref(10)?.as_str_or_null()?)?,
        payment_method: opt_col::<PaymentMethod>(r.get_ref(11)?.as_str_or_null()?, "payment method")?,
        segment: r.get(12)?,
        jurisdiction: opt_col::<crate::calendar::Jurisdiction>(
            r.get_ref(13)?.as_str_or_null()?,
            "customer jurisdiction",
        )?,
        account_manager: r.get(14)?,
        credit_limit: r.get_ref(15)?.as_str_or_null()?.map(decimal_col).transpose()?,
        contact: r.get(16)?,
    })
}

/// The columns [`invoice_row`] reads, first in a SELECT.
const INVOICE_COLUMNS: &str =
    "number, customer_id, issue_date, due_date, currency, total, open_amount, paid_date";

/// An invoice from the first columns of a row selected with [`INVOICE_COLUMNS`].
fn invoice_row(r: &rusqlite::Row<'_>) -> Result<Invoice, StoreError> {
    Ok(Invoice {
        number: r.get_ref(0)?.as_str()?.to_owned(),
        customer_id: r.get_ref(1)?.as_str()?.to_owned(),
        issue_date: date_col(r.get_ref(2)?.as_str()?)?,
        due_date: date_col(r.get_ref(3)?.as_str()?)?,
        currency: r.get_ref(4)?.as_str()?.to_owned(),
        total: decimal_col(r.get_ref(5)?.as_str()?)?,
        open_amount: decimal_col(r.get_ref(6)?.as_str()?)?,
        paid_date: opt_date(r.get_ref(7)?.as_str_or_null()?)?,
    })
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
        }
        let conn =
            Connection::open(path).map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?;
        Store::init(conn, path.to_path_buf())
    }

    pub fn open_in_memory() -> Result<Store, StoreError> {
        Store::init(Connection::open_in_memory()?, PathBuf::from(":memory:"))
    }

    fn init(conn: Connection, path: PathBuf) -> Result<Store, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "cache_size", -65536)?; // 64 MiB
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        let mut store = Store { conn, path };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let supported = MIGRATIONS.len() as i64;
        // Read first: an up-to-date store needs no write lock, so opening it never waits for
        // a writer (the daemon's sync, another command's import).
        let version: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == supported {
            return Ok(());
        }
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > supported {
            return Err(StoreError::TooNew { path: self.path.clone(), found: version, supported });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Starts the one transaction an import or sync writes in.
    pub fn begin(&mut self) -> Result<WriteTx<'_>, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        Ok(WriteTx { tx })
    }

    pub fn count(&self, table: Table) -> Result<u64, StoreError> {
        Ok(self.conn.query_row(&format!("SELECT count(*) FROM {}", table.name()), [], |r| r.get(0))?)
    }

    pub fn load_customers(&self) -> Result<Vec<Customer>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("SELECT {CUSTOMER_COLUMNS} FROM customers ORDER BY id"))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(customer_row(r)?);
        }
        Ok(out)
    }

    /// Every invoice, in invoice-number order. Reads borrowed text to keep a million-row load
    /// to one allocation per string field.
    pub fn load_invoices(&self) -> Result<Vec<Invoice>, StoreError> {
        let mut stmt =
            self.conn.prepare(&format!("SELECT {INVOICE_COLUMNS} FROM invoices ORDER BY number"))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(invoice_row(r)?);
        }
        Ok(out)
    }

    /// The payments of invoices that are still open, ordered by invoice and date: what interest
    /// and allocation need for planning. (The REAL cast only narrows the load; which invoices
    /// are open is decided on the exact decimals. CROSS JOIN keeps SQLite's loop order: scan the
    /// invoices, then look their few payments up by index, instead of probing every payment.)
    pub fn load_payments_of_open_invoices(&self) -> Result<Vec<Payment>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT p.invoice_number, p.date, p.amount, p.method
             FROM invoices i CROSS JOIN payments p ON p.invoice_number = i.number
             WHERE CAST(i.open_amount AS REAL) > 0
             ORDER BY p.invoice_number, p.date",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(Payment {
                invoice_number: r.get_ref(0)?.as_str()?.to_owned(),
                date: date_col(r.get_ref(1)?.as_str()?)?,
                amount: decimal_col(r.get_ref(2)?.as_str()?)?,
                method: opt_col::<PaymentMethod>(r.get_ref(3)?.as_str_or_null()?, "payment method")?,
            });
        }
        Ok(out)
    }

    /// Broken promises as (customer id, promised date).
    pub fn broken_promises(&self) -> Result<Vec<(String, NaiveDate)>, StoreError> {
        let mut stmt =
            self.conn.prepare("SELECT customer_id, promised_date FROM promises WHERE status = 'broken'")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push((r.get(0)?, date_col(r.get_ref(1)?.as_str()?)?));
        }
        Ok(out)
    }

    /// Runs SQLite's own consistency check; `Ok(())` when the file is sound.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        Ok(self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Table {
    Customers,
    Invoices,
    Payments,
    Imports,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Customers => "customers",
            Table::Invoices => "invoices",
            Table::Payments => "payments",
            Table::Imports => "imports",
        }
    }
}

fn date_col(s: &str) -> Result<NaiveDate, StoreError> {
    parse_iso_date(s).ok_or_else(|| StoreError::Corrupt { what: "date", value: s.to_string() })
}

/// `YYYY-MM-DD` without chrono's general-purpose format parser: loading a million invoices
/// parses three million dates, and this is several times faster.
fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

fn opt_date(s: Option<&str>) -> Result<Option<NaiveDate>, StoreError> {
    s.map(date_col).transpose()
}

fn decimal_col(s: &str) -> Result<Decimal, StoreError> {
    Decimal::from_str(s).map_err(|_| StoreError::Corrupt { what: "amount", value: s.to_string() })
}

fn parse_col<T: FromStr>(s: &str, what: &'static str) -> Result<T, StoreError> {
    s.parse().map_err(|_| StoreError::Corrupt { what, value: s.to_string() })
}

fn opt_col<T: FromStr>(s: Option<&str>, what: &'static str) -> Result<Option<T>, StoreError> {
    s.map(|v| parse_col(v, what)).transpose()
}

impl From<rusqlite::types::FromSqlError> for StoreError {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        StoreError::Sql(rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            Box::new(e),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_once_and_reopen_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dunwell.db");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dunwell.db");
        drop(Store::open(&path).unwrap());
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        let err = Store::open(&path).err().unwrap();
        assert!(err.to_string().contains("upgrade dunwell"), "{err}");
    }

    #[test]
    fn iso_dates_parse_fast_and_strictly() {
        assert_eq!(parse_iso_date("2024-02-29"), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(parse_iso_date("2023-02-29"), None);
        assert_eq!(parse_iso_date("2024-2-29"), None);
        assert_eq!(parse_iso_date("2024-0a-01"), None);
    }
}
