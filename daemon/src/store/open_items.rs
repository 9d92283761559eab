//! What a spreadsheet import of an open-items report (or of customers without a `kind`
//! column) needs from the store inside its transaction: a stored customer to merge the
//! report's few fields into, and marking an invoice that left the report as paid.

use chrono::NaiveDate;
use rusqlite::params;
use rust_decimal::Decimal;

use super::{customer_row, StoreError, WriteTx, CUSTOMER_COLUMNS};
use crate::model::Customer;

impl WriteTx<'_> {
    /// The stored customer `id`, whole.
    pub fn stored_customer(&self, id: &str) -> Result<Option<Customer>, StoreError> {
        let mut stmt =
            self.tx.prepare_cached(&format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = ?1"))?;
        let mut rows = stmt.query([id])?;
        rows.next()?.map(customer_row).transpose()
    }

    /// Marks invoice `number` paid on `date`: nothing open (at the scale of its total), and
    /// that is what its source now states. False when there is no such invoice.
    pub fn mark_paid(&self, number: &str, date: NaiveDate) -> Result<bool, StoreError> {
        let Some((total, _)) = self.invoice_amounts(number)? else { return Ok(false) };
        let mut zero = Decimal::ZERO;
        zero.rescale(total.scale());
        let mut stmt = self.tx.prepare_cached(
            "UPDATE invoices SET open_amount = ?2, declared_open = ?2, paid_date = ?3 WHERE number = ?1",
        )?;
        Ok(stmt.execute(params![number, zero.to_string(), date.to_string()])? > 0)
    }
}
