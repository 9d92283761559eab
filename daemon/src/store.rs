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

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use rust_decimal::Decimal;

use crate::model::{Address, Customer, CustomerKind, Invoice, Language, Payment, PaymentMethod};

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

/// Numbered schema migrations; index + 1 is the `user_version` after applying it.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE customers (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('b2b', 'b2c')),
    language       TEXT,
    email          TEXT,
    phone          TEXT,
    street         TEXT,
    postal_code    TEXT,
    city           TEXT,
    country        TEXT,
    customer_since TEXT,
    payment_method TEXT,
    segment        TEXT,
    source         TEXT NOT NULL,
    source_id      TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE invoices (
    number        TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL,
    issue_date    TEXT NOT NULL,
    due_date      TEXT NOT NULL,
    currency      TEXT NOT NULL,
    total         TEXT NOT NULL,
    -- the open amount the source stated, if it stated one; it wins over total - payments
    declared_open TEXT,
    -- what is open now, derived at write time from declared_open or the payments
    open_amount   TEXT NOT NULL,
    paid_date     TEXT,
    source        TEXT NOT NULL,
    source_id     TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE payments (
    id             INTEGER PRIMARY KEY,
    invoice_number TEXT NOT NULL,
    date           TEXT NOT NULL,
    amount         TEXT NOT NULL,
    method         TEXT,
    source         TEXT NOT NULL,
    source_id      TEXT NOT NULL,
    -- one index serves both the look-up by invoice and the uniqueness of a source's key
    UNIQUE (invoice_number, source, source_id)
);

-- promises to pay, recorded by an operator; broken ones weigh in segmentation
CREATE TABLE promises (
    id             INTEGER PRIMARY KEY,
    customer_id    TEXT NOT NULL,
    invoice_number TEXT,
    promised_date  TEXT NOT NULL,
    amount         TEXT,
    status         TEXT NOT NULL CHECK (status IN ('open', 'kept', 'broken')),
    recorded_at    TEXT NOT NULL
);
CREATE INDEX promises_by_customer ON promises (customer_id);

-- one row per completed import or sync, for the audit trail
CREATE TABLE imports (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    source   TEXT NOT NULL,
    location TEXT NOT NULL,
    summary  TEXT NOT NULL
);
"#,
    // 2: connector sync (issue 3): cursors, per-plugin status with back-off, payment references
    // for bank matching, and bank payments that matched no invoice yet.
    r#"
ALTER TABLE invoices ADD COLUMN payment_reference TEXT;
CREATE INDEX invoices_by_source ON invoices (source, source_id);

CREATE TABLE sync_cursors (
    plugin TEXT NOT NULL,
    entity TEXT NOT NULL CHECK (entity IN ('customers', 'invoices', 'payments')),
    cursor TEXT NOT NULL,
    PRIMARY KEY (plugin, entity)
) WITHOUT ROWID;

CREATE TABLE sync_status (
    plugin        TEXT PRIMARY KEY,
    last_success  TEXT,
    last_failure  TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,
    next_attempt  TEXT,
    last_error    TEXT
) WITHOUT ROWID;

CREATE TABLE unmatched_payments (
    source      TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    date        TEXT NOT NULL,
    amount      TEXT NOT NULL,
    currency    TEXT NOT NULL,
    reference   TEXT,
    free_text   TEXT,
    payer_name  TEXT,
    payer_iban  TEXT,
    PRIMARY KEY (source, source_id)
) WITHOUT ROWID;
"#,
    // 3: full re-syncs with reconciliation: when a plugin's last complete snapshot was taken.
    r#"
ALTER TABLE sync_status ADD COLUMN last_full_sync TEXT;
"#,
    // 4: the look-up by source id serves connector syncs only: a spreadsheet row's source id is
    // its key, so csv rows stay out of the index and a million-row import maintains one
    // b-tree instead of two. Queries must say `source <> 'csv'` for SQLite to use it.
    r#"
DROP INDEX invoices_by_source;
CREATE INDEX invoices_by_source ON invoices (source, source_id) WHERE source <> 'csv';
"#,
];

pub struct Store {
    conn: Connection,
    path: PathBuf,
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
        let mut stmt = self.conn.prepare(
            "SELECT id, name, kind, language, email, phone, street, postal_code, city, country,
                    customer_since, payment_method, segment
             FROM customers ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(Customer {
                id: r.get(0)?,
                name: r.get(1)?,
                kind: parse_col::<CustomerKind>(r.get_ref(2)?.as_str()?, "customer kind")?,
                language: opt_col::<Language>(r.get_ref(3)?.as_str_or_null()?, "language")?,
                email: r.get(4)?,
                phone: r.get(5)?,
                address: Address {
                    street: r.get(6)?,
                    postal_code: r.get(7)?,
                    city: r.get(8)?,
                    country: r.get(9)?,
                },
                customer_since: opt_date(r.get_ref(10)?.as_str_or_null()?)?,
                payment_method: opt_col::<PaymentMethod>(r.get_ref(11)?.as_str_or_null()?, "payment method")?,
                segment: r.get(12)?,
            });
        }
        Ok(out)
    }

    /// Every invoice, in invoice-number order. Reads borrowed text to keep a million-row load
    /// to one allocation per string field.
    pub fn load_invoices(&self) -> Result<Vec<Invoice>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT number, customer_id, issue_date, due_date, currency, total, open_amount, paid_date
             FROM invoices ORDER BY number",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(Invoice {
                number: r.get_ref(0)?.as_str()?.to_owned(),
                customer_id: r.get_ref(1)?.as_str()?.to_owned(),
                issue_date: date_col(r.get_ref(2)?.as_str()?)?,
                due_date: date_col(r.get_ref(3)?.as_str()?)?,
                currency: r.get_ref(4)?.as_str()?.to_owned(),
                total: decimal_col(r.get_ref(5)?.as_str()?)?,
                open_amount: decimal_col(r.get_ref(6)?.as_str()?)?,
                paid_date: opt_date(r.get_ref(7)?.as_str_or_null()?)?,
            });
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

    /// Records a promise to pay (used by operators; `status` is open, kept or broken).
    pub fn record_promise(
        &mut self,
        customer_id: &str,
        invoice_number: Option<&str>,
        promised_date: NaiveDate,
        status: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO promises (customer_id, invoice_number, promised_date, status, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                customer_id,
                invoice_number,
                promised_date.to_string(),
                status,
                chrono::Utc::now().to_rfc3339()
            ],
        )?;
        Ok(())
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

/// Whether an upsert added a row, changed one, or found it identical.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Added,
    Changed,
    Unchanged,
}

/// Stored payments per invoice number, with their source.
pub type PaymentsByInvoice = rustc_hash::FxHashMap<String, Vec<(String, StoredPayment)>>;

/// A stored payment, as the import needs it to recompute open amounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPayment {
    pub date: NaiveDate,
    pub amount: Decimal,
    pub source_id: String,
}

/// The single write transaction of an import or sync. Dropping it without `commit` rolls
/// everything back.
pub struct WriteTx<'a> {
    tx: Transaction<'a>,
}

impl WriteTx<'_> {
    pub fn count(&self, table: Table) -> Result<u64, StoreError> {
        Ok(self.tx.query_row(&format!("SELECT count(*) FROM {}", table.name()), [], |r| r.get(0))?)
    }

    /// Every stored customer id: one scan instead of a look-up per invoice when an export
    /// without customers.csv names many customers.
    pub fn customer_ids(&self) -> Result<rustc_hash::FxHashSet<String>, StoreError> {
        let mut stmt = self.tx.prepare("SELECT id FROM customers")?;
        let ids = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<_, _>>()?;
        Ok(ids)
    }

    pub fn customer_exists(&self, id: &str) -> Result<bool, StoreError> {
        let mut stmt = self.tx.prepare_cached("SELECT 1 FROM customers WHERE id = ?1")?;
        Ok(stmt.exists([id])?)
    }

    /// The total and declared open amount of a stored invoice.
    pub fn invoice_amounts(&self, number: &str) -> Result<Option<(Decimal, Option<Decimal>)>, StoreError> {
        let mut stmt =
            self.tx.prepare_cached("SELECT total, declared_open FROM invoices WHERE number = ?1")?;
        let row = stmt
            .query_row([number], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)))
            .optional()?;
        match row {
            None => Ok(None),
            Some((total, declared)) => {
                Ok(Some((decimal_col(&total)?, declared.as_deref().map(decimal_col).transpose()?)))
            }
        }
    }

    /// All stored payments of `source`, by invoice number.
    pub fn payments_by_invoice(&self) -> Result<PaymentsByInvoice, StoreError> {
        let mut stmt =
            self.tx.prepare("SELECT invoice_number, date, amount, source, source_id FROM payments")?;
        let mut rows = stmt.query([])?;
        let mut out = PaymentsByInvoice::default();
        while let Some(r) = rows.next()? {
            let p = StoredPayment {
                date: date_col(r.get_ref(1)?.as_str()?)?,
                amount: decimal_col(r.get_ref(2)?.as_str()?)?,
                source_id: r.get(4)?,
            };
            let number = r.get_ref(0)?.as_str()?;
            let payment = (r.get(3)?, p);
            // Rows come in index order, so most belong to an invoice already seen.
            match out.get_mut(number) {
                Some(list) => list.push(payment),
                None => {
                    out.insert(number.to_string(), vec![payment]);
                }
            }
        }
        Ok(out)
    }

    /// A writer for many customers, with its statements prepared once.
    pub fn customer_writer(&self) -> Result<CustomerWriter<'_>, StoreError> {
        Ok(CustomerWriter {
            exists: self.tx.prepare("SELECT 1 FROM customers WHERE id = ?1")?,
            upsert: self.tx.prepare(UPSERT_CUSTOMER)?,
            tx: &self.tx,
        })
    }

    /// A writer for many invoices. `known_new`: the table was empty, skip existence checks.
    pub fn invoice_writer(&self, known_new: bool) -> Result<InvoiceWriter<'_>, StoreError> {
        Ok(InvoiceWriter {
            exists: self.tx.prepare("SELECT 1 FROM invoices WHERE number = ?1")?,
            // Into an empty table a plain insert does: nothing can conflict.
            upsert: self.tx.prepare(if known_new { INSERT_INVOICE } else { UPSERT_INVOICE })?,
            tx: &self.tx,
            known_new,
            amounts: Default::default(),
        })
    }

    pub fn payment_writer(&self) -> Result<PaymentWriter<'_>, StoreError> {
        Ok(PaymentWriter {
            insert: self.tx.prepare(
                "INSERT INTO payments (invoice_number, date, amount, method, source, source_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?,
            delete: self.tx.prepare(
                "DELETE FROM payments WHERE invoice_number = ?1 AND source = ?2 AND source_id = ?3",
            )?,
        })
    }

    /// Updates what is open on an invoice after its payments changed.
    pub fn set_settlement(
        &self,
        number: &str,
        open: Decimal,
        paid_date: Option<NaiveDate>,
    ) -> Result<bool, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "UPDATE invoices SET open_amount = ?2, paid_date = ?3
             WHERE number = ?1 AND (open_amount, paid_date) IS NOT (?2, ?3)",
        )?;
        Ok(stmt.execute(params![number, open.to_string(), paid_date.map(|d| d.to_string())])? > 0)
    }

    pub fn log_import(&self, source: &str, location: &str, summary: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO imports (at, source, location, summary) VALUES (?1, ?2, ?3, ?4)",
            params![chrono::Utc::now().to_rfc3339(), source, location, summary],
        )?;
        Ok(())
    }

    pub fn commit(self) -> Result<(), StoreError> {
        self.tx.commit()?;
        Ok(())
    }
}

const UPSERT_CUSTOMER: &str =
    "INSERT INTO customers (id, name, kind, language, email, phone, street, postal_code,
        city, country, customer_since, payment_method, segment, source, source_id)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
     ON CONFLICT (id) DO UPDATE SET
        name = excluded.name, kind = excluded.kind, language = excluded.language,
        email = excluded.email, phone = excluded.phone, street = excluded.street,
        postal_code = excluded.postal_code, city = excluded.city, country = excluded.country,
        customer_since = excluded.customer_since, payment_method = excluded.payment_method,
        segment = excluded.segment, source = excluded.source, source_id = excluded.source_id
     WHERE (name, kind, language, email, phone, street, postal_code, city, country,
            customer_since, payment_method, segment, source, source_id)
        IS NOT (excluded.name, excluded.kind, excluded.language, excluded.email, excluded.phone,
                excluded.street, excluded.postal_code, excluded.city, excluded.country,
                excluded.customer_since, excluded.payment_method, excluded.segment,
                excluded.source, excluded.source_id)";

/// An invoice of a connector by its id there (the `source <> 'csv'` lets SQLite use the
/// partial index of migration 4).
const INVOICE_BY_SOURCE_ID: &str =
    "SELECT number FROM invoices WHERE source = ?1 AND source <> 'csv' AND source_id = ?2";

const INSERT_INVOICE: &str =
    "INSERT INTO invoices (number, customer_id, issue_date, due_date, currency, total,
        declared_open, open_amount, paid_date, source, source_id)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

const UPSERT_INVOICE: &str =
    "INSERT INTO invoices (number, customer_id, issue_date, due_date, currency, total,
        declared_open, open_amount, paid_date, source, source_id)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
     ON CONFLICT (number) DO UPDATE SET
        customer_id = excluded.customer_id, issue_date = excluded.issue_date,
        due_date = excluded.due_date, currency = excluded.currency, total = excluded.total,
        declared_open = excluded.declared_open, open_amount = excluded.open_amount,
        paid_date = excluded.paid_date, source = excluded.source, source_id = excluded.source_id
     WHERE (customer_id, issue_date, due_date, currency, total, declared_open, open_amount,
            paid_date, source, source_id)
        IS NOT (excluded.customer_id, excluded.issue_date, excluded.due_date, excluded.currency,
                excluded.total, excluded.declared_open, excluded.open_amount, excluded.paid_date,
                excluded.source, excluded.source_id)";

/// Upserts customers with statements prepared once: an import writes a hundred thousand.
pub struct CustomerWriter<'t> {
    exists: rusqlite::Statement<'t>,
    upsert: rusqlite::Statement<'t>,
    tx: &'t Transaction<'t>,
}

impl CustomerWriter<'_> {
    pub fn upsert(&mut self, c: &Customer, source: &str, source_id: &str) -> Result<Upsert, StoreError> {
        let existed = self.exists.exists([&c.id])?;
        let before = self.tx.total_changes();
        self.upsert.execute(params![
            c.id,
            c.name,
            c.kind.as_str(),
            c.language.map(Language::as_str),
            c.email,
            c.phone,
            c.address.street,
            c.address.postal_code,
            c.address.city,
            c.address.country,
            c.customer_since.map(|d| d.to_string()),
            c.payment_method.map(PaymentMethod::as_str),
            c.segment,
            source,
            source_id,
        ])?;
        Ok(classify(existed, self.tx.total_changes() > before))
    }
}

/// Upserts invoices with statements prepared once: an import writes a million.
pub struct InvoiceWriter<'t> {
    exists: rusqlite::Statement<'t>,
    upsert: rusqlite::Statement<'t>,
    tx: &'t Transaction<'t>,
    known_new: bool,
    /// Total, declared open and open amount.
    amounts: [AmountText; 3],
}

impl InvoiceWriter<'_> {
    /// Writes an invoice; `declared_open` is what the source stated (kept so a later payment
    /// import can tell a stated amount from a derived one).
    pub fn upsert(
        &mut self,
        inv: &Invoice,
        declared_open: Option<Decimal>,
        source: &str,
        source_id: &str,
    ) -> Result<Upsert, StoreError> {
        let existed = !self.known_new && self.exists.exists([&inv.number])?;
        let before = self.tx.total_changes();
        let mut issue = DateText::default();
        let mut due = DateText::default();
        let mut paid = DateText::default();
        let [total, declared, open] = &mut self.amounts;
        self.upsert.execute(params![
            inv.number,
            inv.customer_id,
            issue.of(inv.issue_date),
            due.of(inv.due_date),
            inv.currency,
            total.of(inv.total),
            declared_open.map(|d| declared.of(d)),
            open.of(inv.open_amount),
            inv.paid_date.map(|d| paid.of(d)),
            source,
            source_id,
        ])?;
        Ok(classify(existed, self.tx.total_changes() > before))
    }
}

pub struct PaymentWriter<'t> {
    insert: rusqlite::Statement<'t>,
    delete: rusqlite::Statement<'t>,
}

impl PaymentWriter<'_> {
    pub fn insert(
        &mut self,
        invoice_number: &str,
        date: NaiveDate,
        amount: Decimal,
        method: Option<PaymentMethod>,
        source: &str,
        source_id: &str,
    ) -> Result<(), StoreError> {
        let mut d = DateText::default();
        self.insert.execute(params![
            invoice_number,
            d.of(date),
            amount.to_string(),
            method.map(PaymentMethod::as_str),
            source,
            source_id
        ])?;
        Ok(())
    }

    pub fn delete(&mut self, invoice_number: &str, source: &str, source_id: &str) -> Result<(), StoreError> {
        self.delete.execute(params![invoice_number, source, source_id])?;
        Ok(())
    }
}

/// A decimal formatted into a buffer kept between rows: `to_string` allocates, and a
/// million-row import formats three million amounts.
#[derive(Default)]
struct AmountText(String);

impl AmountText {
    fn of(&mut self, amount: Decimal) -> &str {
        use std::fmt::Write;
        self.0.clear();
        // Writing into a String cannot fail.
        let _ = write!(self.0, "{amount}");
        &self.0
    }
}

/// `YYYY-MM-DD` formatted into a stack buffer: chrono's `to_string` allocates, and a
/// million-row import formats three million dates.
#[derive(Default)]
struct DateText([u8; 10]);

impl DateText {
    fn of(&mut self, date: NaiveDate) -> &str {
        use chrono::Datelike;
        let (y, m, d) = (date.year().clamp(0, 9999) as u32, date.month(), date.day());
        let digits = [y / 1000, y / 100 % 10, y / 10 % 10, y % 10, 10, m / 10, m % 10, 10, d / 10, d % 10];
        for (slot, v) in self.0.iter_mut().zip(digits) {
            *slot = if v == 10 { b'-' } else { b'0' + v as u8 };
        }
        // Only ASCII digits and dashes were written.
        std::str::from_utf8(&self.0).unwrap_or("0000-00-00")
    }
}

/// What a unit of work (an import, a sync) did to one kind of record.
#[derive(Debug, Default, Clone, Copy, serde::Serialize, PartialEq, Eq)]
pub struct Counts {
    pub added: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub removed: u64,
}

impl Counts {
    pub fn record(&mut self, u: Upsert) {
        match u {
            Upsert::Added => self.added += 1,
            Upsert::Changed => self.changed += 1,
            Upsert::Unchanged => self.unchanged += 1,
        }
    }
}

fn classify(existed: bool, wrote: bool) -> Upsert {
    match (existed, wrote) {
        (false, _) => Upsert::Added,
        (true, true) => Upsert::Changed,
        (true, false) => Upsert::Unchanged,
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

    fn customer(id: &str) -> Customer {
        Customer {
            id: id.into(),
            name: format!("Customer {id}"),
            kind: CustomerKind::B2b,
            language: Some(Language::Nl),
            email: None,
            phone: None,
            address: Address::default(),
            customer_since: None,
            payment_method: None,
            segment: None,
        }
    }

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
    fn upsert_reports_added_changed_unchanged() {
        let mut store = Store::open_in_memory().unwrap();
        let tx = store.begin().unwrap();
        let mut c = customer("C1");
        let inv = Invoice {
            number: "F1".into(),
            customer_id: "C1".into(),
            issue_date: "2026-01-01".parse().unwrap(),
            due_date: "2026-01-31".parse().unwrap(),
            currency: "EUR".into(),
            total: Decimal::new(12150, 2),
            open_amount: Decimal::new(12150, 2),
            paid_date: Some("2026-02-03".parse().unwrap()),
        };
        {
            let mut cw = tx.customer_writer().unwrap();
            assert_eq!(cw.upsert(&c, "csv", "C1").unwrap(), Upsert::Added);
            assert_eq!(cw.upsert(&c, "csv", "C1").unwrap(), Upsert::Unchanged);
            c.email = Some("a@b.nl".into());
            assert_eq!(cw.upsert(&c, "csv", "C1").unwrap(), Upsert::Changed);
            let mut iw = tx.invoice_writer(false).unwrap();
            assert_eq!(iw.upsert(&inv, None, "csv", "F1").unwrap(), Upsert::Added);
            assert_eq!(iw.upsert(&inv, None, "csv", "F1").unwrap(), Upsert::Unchanged);
            let mut pw = tx.payment_writer().unwrap();
            pw.insert("F1", "2026-02-03".parse().unwrap(), Decimal::new(12150, 2), None, "csv", "p1")
                .unwrap();
            assert!(pw.insert("F1", "2026-02-03".parse().unwrap(), Decimal::ONE, None, "csv", "p1").is_err());
        }
        tx.commit().unwrap();
        assert_eq!(store.load_invoices().unwrap(), vec![inv]);
        assert_eq!(store.load_customers().unwrap(), vec![c]);
        assert_eq!(store.count(Table::Payments).unwrap(), 1);
    }

    #[test]
    fn date_text_formats_like_chrono() {
        for s in ["2026-01-01", "1999-12-31", "0042-07-04"] {
            let d: NaiveDate = s.parse().unwrap();
            assert_eq!(DateText::default().of(d), d.to_string());
        }
    }

    #[test]
    fn look_ups_by_source_id_use_the_partial_index() {
        let store = Store::open_in_memory().unwrap();
        let plan: Vec<String> = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {INVOICE_BY_SOURCE_ID}"))
            .unwrap()
            .query_map(["plugin:x", "1"], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(plan.iter().any(|d| d.contains("INDEX invoices_by_source")), "{plan:?}");
    }

    #[test]
    fn dropped_transaction_rolls_back() {
        let mut store = Store::open_in_memory().unwrap();
        {
            let tx = store.begin().unwrap();
            tx.customer_writer().unwrap().upsert(&customer("C1"), "csv", "C1").unwrap();
        }
        assert_eq!(store.count(Table::Customers).unwrap(), 0);
    }

    #[test]
    fn iso_dates_parse_fast_and_strictly() {
        assert_eq!(parse_iso_date("2024-02-29"), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(parse_iso_date("2023-02-29"), None);
        assert_eq!(parse_iso_date("2024-2-29"), None);
        assert_eq!(parse_iso_date("2024-0a-01"), None);
    }
}

// ---- sync (connectors) ----

/// A plugin's sync health: failures in a row and when to try again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncStatus {
    pub plugin: String,
    pub last_success: Option<String>,
    pub last_failure: Option<String>,
    pub failures: u32,
    /// RFC 3339; a scheduler waits until then after a failure.
    pub next_attempt: Option<String>,
    pub last_error: Option<String>,
    /// RFC 3339; when the last complete snapshot (full sync) was stored.
    pub last_full_sync: Option<String>,
}

/// An open invoice as bank matching sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchCandidate {
    pub number: String,
    pub currency: String,
    pub open_amount: Decimal,
    pub payment_reference: Option<String>,
}

/// A bank payment no invoice could be found for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnmatchedPayment {
    pub source: String,
    pub source_id: String,
    pub date: NaiveDate,
    pub amount: Decimal,
    pub currency: String,
    pub reference: Option<String>,
    pub free_text: Option<String>,
    pub payer_name: Option<String>,
    pub payer_iban: Option<String>,
}

impl Store {
    pub fn sync_cursor(&self, plugin: &str, entity: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT cursor FROM sync_cursors WHERE plugin = ?1 AND entity = ?2",
                [plugin, entity],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn sync_status(&self, plugin: &str) -> Result<Option<SyncStatus>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT plugin, last_success, last_failure, failures, next_attempt, last_error,
                        last_full_sync
                 FROM sync_status WHERE plugin = ?1",
                [plugin],
                |r| {
                    Ok(SyncStatus {
                        plugin: r.get(0)?,
                        last_success: r.get(1)?,
                        last_failure: r.get(2)?,
                        failures: r.get(3)?,
                        next_attempt: r.get(4)?,
                        last_error: r.get(5)?,
                        last_full_sync: r.get(6)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records a failed sync in its own small transaction: failures + 1, next attempt after
    /// `backoff`.
    pub fn record_sync_failure(
        &mut self,
        plugin: &str,
        at: chrono::DateTime<chrono::Utc>,
        backoff: impl Fn(u32) -> chrono::Duration,
        error: &str,
    ) -> Result<SyncStatus, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let failures: u32 = tx
            .query_row("SELECT failures FROM sync_status WHERE plugin = ?1", [plugin], |r| r.get(0))
            .optional()?
            .unwrap_or(0)
            + 1;
        let next = (at + backoff(failures)).to_rfc3339();
        tx.execute(
            "INSERT INTO sync_status (plugin, last_failure, failures, next_attempt, last_error)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (plugin) DO UPDATE SET last_failure = excluded.last_failure,
                failures = excluded.failures, next_attempt = excluded.next_attempt,
                last_error = excluded.last_error",
            params![plugin, at.to_rfc3339(), failures, next, error],
        )?;
        tx.commit()?;
        Ok(self.sync_status(plugin)?.unwrap_or(SyncStatus {
            plugin: plugin.into(),
            last_success: None,
            last_failure: Some(at.to_rfc3339()),
            failures,
            next_attempt: Some(next),
            last_error: Some(error.into()),
            last_full_sync: None,
        }))
    }

    pub fn unmatched_payments(&self) -> Result<Vec<UnmatchedPayment>, StoreError> {
        read_unmatched(&self.conn)
    }
}

fn read_unmatched(conn: &Connection) -> Result<Vec<UnmatchedPayment>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT source, source_id, date, amount, currency, reference, free_text, payer_name, payer_iban
             FROM unmatched_payments ORDER BY date, source, source_id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(UnmatchedPayment {
            source: r.get(0)?,
            source_id: r.get(1)?,
            date: date_col(r.get_ref(2)?.as_str()?)?,
            amount: decimal_col(r.get_ref(3)?.as_str()?)?,
            currency: r.get(4)?,
            reference: r.get(5)?,
            free_text: r.get(6)?,
            payer_name: r.get(7)?,
            payer_iban: r.get(8)?,
        });
    }
    Ok(out)
}

impl WriteTx<'_> {
    /// Bank payments no invoice was found for yet.
    pub fn unmatched(&self) -> Result<Vec<UnmatchedPayment>, StoreError> {
        read_unmatched(&self.tx)
    }

    pub fn set_sync_cursor(&self, plugin: &str, entity: &str, cursor: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO sync_cursors (plugin, entity, cursor) VALUES (?1, ?2, ?3)
             ON CONFLICT (plugin, entity) DO UPDATE SET cursor = excluded.cursor",
            params![plugin, entity, cursor],
        )?;
        Ok(())
    }

    /// Forgets a plugin's cursor of one entity: a full pull that ended without a cursor.
    pub fn clear_sync_cursor(&self, plugin: &str, entity: &str) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM sync_cursors WHERE plugin = ?1 AND entity = ?2", params![plugin, entity])?;
        Ok(())
    }

    /// Marks a sync as successful: failures reset, no waiting; `full`: it stored a complete
    /// snapshot, so the next automatic full sync counts from `at`.
    pub fn record_sync_success(
        &self,
        plugin: &str,
        at: chrono::DateTime<chrono::Utc>,
        full: bool,
    ) -> Result<(), StoreError> {
        let at = at.to_rfc3339();
        let full_at = full.then_some(at.as_str());
        self.tx.execute(
            "INSERT INTO sync_status (plugin, last_success, failures, last_full_sync) VALUES (?1, ?2, 0, ?3)
             ON CONFLICT (plugin) DO UPDATE SET last_success = excluded.last_success, failures = 0,
                next_attempt = NULL, last_error = NULL,
                last_full_sync = coalesce(excluded.last_full_sync, last_full_sync)",
            params![plugin, at, full_at],
        )?;
        Ok(())
    }

    /// The invoices a source brought, as (number, source id), in number order.
    pub fn invoices_of_source(&self, source: &str) -> Result<Vec<(String, String)>, StoreError> {
        // `source <> 'csv'` lets SQLite use the partial index invoices_by_source.
        let mut stmt = self.tx.prepare(
            "SELECT number, source_id FROM invoices WHERE source = ?1 AND source <> 'csv' ORDER BY number",
        )?;
        let rows = stmt.query_map([source], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The ids of the customers a source brought, in order.
    pub fn customers_of_source(&self, source: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.tx.prepare("SELECT id FROM customers WHERE source = ?1 ORDER BY id")?;
        let rows = stmt.query_map([source], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The source ids of the payments a source reported, stored on an invoice or unmatched, in
    /// order. Credit-note deductions (`credit:<id>`) are not payments the source reported:
    /// they come and go with their credit note.
    pub fn payments_of_source(&self, source: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.tx.prepare(
            "SELECT source_id FROM payments WHERE source = ?1 AND substr(source_id, 1, 7) <> 'credit:'
             UNION
             SELECT source_id FROM unmatched_payments WHERE source = ?1
             ORDER BY 1",
        )?;
        let rows = stmt.query_map([source], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The invoice number and source of an invoice, by number.
    pub fn invoice_source(&self, number: &str) -> Result<Option<(String, String)>, StoreError> {
        let mut stmt = self.tx.prepare_cached("SELECT source, source_id FROM invoices WHERE number = ?1")?;
        Ok(stmt.query_row([number], |r| Ok((r.get(0)?, r.get(1)?))).optional()?)
    }

    /// The number of the invoice a source knows by `source_id`.
    pub fn invoice_by_source(&self, source: &str, source_id: &str) -> Result<Option<String>, StoreError> {
        let mut stmt = self.tx.prepare_cached(INVOICE_BY_SOURCE_ID)?;
        Ok(stmt.query_row([source, source_id], |r| r.get(0)).optional()?)
    }

    pub fn set_payment_reference(&self, number: &str, reference: Option<&str>) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "UPDATE invoices SET payment_reference = ?2 WHERE number = ?1 AND payment_reference IS NOT ?2",
        )?;
        stmt.execute(params![number, reference])?;
        Ok(())
    }

    /// Deletes an invoice and its payments; `true` when it existed.
    pub fn delete_invoice(&self, number: &str) -> Result<bool, StoreError> {
        // Another plugin's bank payments on it are not gone with it: the money did arrive. They
        // go back to the unmatched payments, to be placed again or looked at by a person.
        self.tx.execute(
            "INSERT INTO unmatched_payments (source, source_id, date, amount, currency, free_text)
             SELECT p.source, p.source_id, p.date, p.amount, i.currency,
                    'was matched to invoice ' || i.number || ', which was removed at its source'
               FROM payments p JOIN invoices i ON i.number = p.invoice_number
              WHERE p.invoice_number = ?1 AND p.source <> i.source AND p.source LIKE 'plugin:%'
                AND substr(p.source_id, 1, 7) <> 'credit:'
             ON CONFLICT (source, source_id) DO NOTHING",
            [number],
        )?;
        self.tx.execute("DELETE FROM payments WHERE invoice_number = ?1", [number])?;
        Ok(self.tx.execute("DELETE FROM invoices WHERE number = ?1", [number])? > 0)
    }

    /// Deletes a customer of `source` that no invoice refers to; `true` when deleted.
    pub fn delete_unused_customer(&self, id: &str, source: &str) -> Result<bool, StoreError> {
        Ok(self.tx.execute(
            "DELETE FROM customers WHERE id = ?1 AND source = ?2
               AND NOT EXISTS (SELECT 1 FROM invoices WHERE customer_id = ?1)",
            [id, source],
        )? > 0)
    }

    /// Every invoice with its open amount and reference, for matching bank payments (a payment
    /// by reference or number may also land on an invoice that is already paid).
    pub fn match_candidates(&self) -> Result<Vec<MatchCandidate>, StoreError> {
        let mut stmt = self.tx.prepare(
            "SELECT number, currency, open_amount, payment_reference FROM invoices ORDER BY number",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(MatchCandidate {
                number: r.get(0)?,
                currency: r.get(1)?,
                open_amount: decimal_col(r.get_ref(2)?.as_str()?)?,
                payment_reference: r.get(3)?,
            });
        }
        Ok(out)
    }

    /// Which invoice a source's payment is stored on, if any.
    pub fn payment_invoice(&self, source: &str, source_id: &str) -> Result<Option<String>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT invoice_number FROM payments WHERE source = ?1 AND source_id = ?2 LIMIT 1",
        )?;
        Ok(stmt.query_row([source, source_id], |r| r.get(0)).optional()?)
    }

    /// The payments stored on one invoice, as (date, amount).
    pub fn invoice_payments(&self, number: &str) -> Result<Vec<(NaiveDate, Decimal)>, StoreError> {
        let mut stmt =
            self.tx.prepare_cached("SELECT date, amount FROM payments WHERE invoice_number = ?1")?;
        let mut rows = stmt.query([number])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push((date_col(r.get_ref(0)?.as_str()?)?, decimal_col(r.get_ref(1)?.as_str()?)?));
        }
        Ok(out)
    }

    pub fn record_unmatched(&self, p: &UnmatchedPayment) -> Result<bool, StoreError> {
        Ok(self.tx.execute(
            "INSERT INTO unmatched_payments (source, source_id, date, amount, currency, reference,
                 free_text, payer_name, payer_iban)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (source, source_id) DO NOTHING",
            params![
                p.source,
                p.source_id,
                p.date.to_string(),
                p.amount.to_string(),
                p.currency,
                p.reference,
                p.free_text,
                p.payer_name,
                p.payer_iban
            ],
        )? > 0)
    }

    pub fn delete_unmatched(&self, source: &str, source_id: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "DELETE FROM unmatched_payments WHERE source = ?1 AND source_id = ?2",
            [source, source_id],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod sync_tests {
    use super::*;

    /// A database of schema 2 (before full syncs) with a plugin's status upgrades in place:
    /// the status is kept and has had no full sync yet.
    #[test]
    fn schema_2_upgrades_with_no_full_sync_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dunwell.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(MIGRATIONS[1]).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute(
                "INSERT INTO sync_status (plugin, last_success, failures) VALUES ('ubl', '2026-01-01T00:00:00+00:00', 0)",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let status = store.sync_status("ubl").unwrap().unwrap();
        assert_eq!(status.last_success.as_deref(), Some("2026-01-01T00:00:00+00:00"));
        assert_eq!(status.last_full_sync, None);
    }
}
