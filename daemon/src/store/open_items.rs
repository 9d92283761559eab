//! What a spreadsheet import of an open-items report (or of customers without a `kind`
//! column) needs from the store inside its transaction: a stored customer to merge the
//! report's few fields into, and marking an invoice that left the report as paid.

use chrono::NaiveDate;
use rusqlite::{params, OptionalExtension};
use rust_decimal::Decimal;

use super::{decimal_col, opt_col, opt_date, parse_col, StoreError, WriteTx};
use crate::model::{Address, Customer, CustomerKind, Language, PaymentMethod};

impl WriteTx<'_> {
    /// The stored customer `id`, whole.
    pub fn stored_customer(&self, id: &str) -> Result<Option<Customer>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT id, name, kind, language, email, phone, street, postal_code, city, country,
                    customer_since, payment_method, segment, jurisdiction, account_manager, credit_limit
             FROM customers WHERE id = ?1",
        )?;
        let row = stmt
            .query_row([id], |r| {
                Ok((
                    (r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?),
                    (
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<String>>(5)?,
                    ),
                    (
                        r.get::<_, Option<String>>(6)?,
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, Option<String>>(8)?,
                        r.get::<_, Option<String>>(9)?,
                    ),
                    (
                        r.get::<_, Option<String>>(10)?,
                        r.get::<_, Option<String>>(11)?,
                        r.get::<_, Option<String>>(12)?,
                        r.get::<_, Option<String>>(13)?,
                        r.get::<_, Option<String>>(14)?,
                        r.get::<_, Option<String>>(15)?,
                    ),
                ))
            })
            .optional()?;
        let Some(((id, name, kind), (language, email, phone), (street, postal_code, city, country), rest)) =
            row
        else {
            return Ok(None);
        };
        let (since, method, segment, jurisdiction, account_manager, credit_limit) = rest;
        Ok(Some(Customer {
            id,
            name,
            kind: parse_col::<CustomerKind>(&kind, "customer kind")?,
            language: opt_col::<Language>(language.as_deref(), "language")?,
            email,
            phone,
            address: Address { street, postal_code, city, country },
            customer_since: opt_date(since.as_deref())?,
            payment_method: opt_col::<PaymentMethod>(method.as_deref(), "payment method")?,
            segment,
            jurisdiction: opt_col::<crate::calendar::Jurisdiction>(
                jurisdiction.as_deref(),
                "customer jurisdiction",
            )?,
            account_manager,
            credit_limit: credit_limit.as_deref().map(decimal_col).transpose()?,
        }))
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
