//! The write side: the one transaction an import or sync writes in (`WriteTx`), the bulk
//! writers with their statements prepared once, and what a write reports (`Upsert`, `Counts`).

use chrono::NaiveDate;
use rusqlite::{params, OptionalExtension, Transaction};
use rust_decimal::Decimal;

use super::{date_col, decimal_col, StoreError, Table};
use crate::model::{Customer, Invoice, Language, PaymentMethod};

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
    pub(super) tx: Transaction<'a>,
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

    /// The source of a stored customer (`csv`, `plugin:<name>`), `None` when it is not stored.
    pub fn customer_source(&self, id: &str) -> Result<Option<String>, StoreError> {
        let mut stmt = self.tx.prepare_cached("SELECT source FROM customers WHERE id = ?1")?;
        Ok(stmt.query_row([id], |r| r.get(0)).optional()?)
    }

    /// The numbers of the stored invoices of `source` with something still open (credit notes
    /// aside), in number order.
    pub fn open_invoices_of_source(&self, source: &str) -> Result<Vec<String>, StoreError> {
        // Amounts are decimal text: open means not negative and not all zeros.
        let mut stmt = self.tx.prepare(
            "SELECT number FROM invoices
              WHERE source = ?1 AND substr(open_amount, 1, 1) <> '-'
                AND trim(replace(open_amount, '.', ''), '0') <> ''
              ORDER BY number",
        )?;
        let rows = stmt.query_map([source], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
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

    /// Every stored payment (of every source), by invoice number.
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

    /// A writer for a plugin's customers: it never touches what only the operator sets (the
    /// segment by hand, customer since, payment method, account manager, credit limit), which
    /// the contract cannot carry.
    pub fn plugin_customer_writer(&self) -> Result<CustomerWriter<'_>, StoreError> {
        Ok(CustomerWriter {
            exists: self.tx.prepare("SELECT 1 FROM customers WHERE id = ?1")?,
            upsert: self.tx.prepare(UPSERT_PLUGIN_CUSTOMER)?,
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
                "INSERT INTO payments (invoice_number, date, amount, method, source, source_id, payer_iban)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
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

/// The insert half of both customer upserts.
macro_rules! insert_customer {
    () => {
        "INSERT INTO customers (id, name, kind, language, email, phone, street, postal_code,
            city, country, customer_since, payment_method, segment, source, source_id, jurisdiction,
            account_manager, credit_limit, contact)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
    };
}

const UPSERT_CUSTOMER: &str = concat!(
    insert_customer!(),
    " ON CONFLICT (id) DO UPDATE SET
        name = excluded.name, kind = excluded.kind, language = excluded.language,
        email = excluded.email, phone = excluded.phone, street = excluded.street,
        postal_code = excluded.postal_code, city = excluded.city, country = excluded.country,
        customer_since = excluded.customer_since, payment_method = excluded.payment_method,
        segment = excluded.segment, source = excluded.source, source_id = excluded.source_id,
        jurisdiction = excluded.jurisdiction, account_manager = excluded.account_manager,
        credit_limit = excluded.credit_limit, contact = excluded.contact
     WHERE (name, kind, language, email, phone, street, postal_code, city, country,
            customer_since, payment_method, segment, source, source_id, jurisdiction,
            account_manager, credit_limit, contact)
        IS NOT (excluded.name, excluded.kind, excluded.language, excluded.email, excluded.phone,
                excluded.street, excluded.postal_code, excluded.city, excluded.country,
                excluded.customer_since, excluded.payment_method, excluded.segment,
                excluded.source, excluded.source_id, excluded.jurisdiction,
                excluded.account_manager, excluded.credit_limit, excluded.contact)"
);

/// [`UPSERT_CUSTOMER`] without the operator's columns in the update (see
/// `plugin_customer_writer`).
const UPSERT_PLUGIN_CUSTOMER: &str = concat!(
    insert_customer!(),
    " ON CONFLICT (id) DO UPDATE SET
        name = excluded.name, kind = excluded.kind, language = excluded.language,
        email = excluded.email, phone = excluded.phone, street = excluded.street,
        postal_code = excluded.postal_code, city = excluded.city, country = excluded.country,
        source = excluded.source, source_id = excluded.source_id
     WHERE (name, kind, language, email, phone, street, postal_code, city, country, source, source_id)
        IS NOT (excluded.name, excluded.kind, excluded.language, excluded.email, excluded.phone,
                excluded.street, excluded.postal_code, excluded.city, excluded.country,
                excluded.source, excluded.source_id)"
);

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
            c.jurisdiction.map(crate::calendar::Jurisdiction::as_str),
            c.account_manager,
            c.credit_limit.map(|l| l.to_string()),
            c.contact,
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
        self.write(invoice_number, date, amount, method, None, (source, source_id))
    }

    /// A bank payment, with the account it came from (what teaches dunwell a customer's
    /// account for matching later payments).
    pub fn insert_bank(
        &mut self,
        invoice_number: &str,
        date: NaiveDate,
        amount: Decimal,
        payer_iban: Option<&str>,
        source: &str,
        source_id: &str,
    ) -> Result<(), StoreError> {
        self.write(invoice_number, date, amount, None, payer_iban, (source, source_id))
    }

    fn write(
        &mut self,
        invoice_number: &str,
        date: NaiveDate,
        amount: Decimal,
        method: Option<PaymentMethod>,
        payer_iban: Option<&str>,
        (source, source_id): (&str, &str),
    ) -> Result<(), StoreError> {
        let mut d = DateText::default();
        self.insert.execute(params![
            invoice_number,
            d.of(date),
            amount.to_string(),
            method.map(PaymentMethod::as_str),
            source,
            source_id,
            payer_iban,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CustomerKind;
    use crate::store::Store;

    fn customer(id: &str) -> Customer {
        Customer {
            language: Some(Language::Nl),
            ..Customer::new(id, format!("Customer {id}"), CustomerKind::B2b)
        }
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
    fn account_manager_credit_limit_and_contact_are_the_operators() {
        let mut store = Store::open_in_memory().unwrap();
        let tx = store.begin().unwrap();
        let mut c = Customer {
            account_manager: Some("anja@bakkerij.example".into()),
            credit_limit: Some(Decimal::new(500000, 2)),
            contact: Some("Anne Jansen".into()),
            ..customer("C1")
        };
        {
            let mut cw = tx.customer_writer().unwrap();
            assert_eq!(cw.upsert(&c, "csv", "C1").unwrap(), Upsert::Added);
            assert_eq!(cw.upsert(&c, "csv", "C1").unwrap(), Upsert::Unchanged);
            // A connector's record carries neither: it leaves them as they are.
            let from_plugin = Customer { name: "Renamed".into(), ..customer("C1") };
            assert_eq!(
                tx.plugin_customer_writer().unwrap().upsert(&from_plugin, "csv", "C1").unwrap(),
                Upsert::Changed
            );
        }
        tx.commit().unwrap();
        c.name = "Renamed".into();
        assert_eq!(store.load_customers().unwrap(), vec![c.clone()]);
        // The spreadsheet is the operator's: another contact in it is a change, and a new export
        // without them clears them.
        let tx = store.begin().unwrap();
        let other = Customer { contact: Some("Piet de Vries".into()), ..c };
        assert_eq!(tx.customer_writer().unwrap().upsert(&other, "csv", "C1").unwrap(), Upsert::Changed);
        let cleared = Customer { account_manager: None, credit_limit: None, contact: None, ..other };
        assert_eq!(tx.customer_writer().unwrap().upsert(&cleared, "csv", "C1").unwrap(), Upsert::Changed);
        tx.commit().unwrap();
        assert_eq!(store.load_customers().unwrap(), vec![cleared]);
    }

    #[test]
    fn date_text_formats_like_chrono() {
        for s in ["2026-01-01", "1999-12-31", "0042-07-04"] {
            let d: NaiveDate = s.parse().unwrap();
            assert_eq!(DateText::default().of(d), d.to_string());
        }
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
}
