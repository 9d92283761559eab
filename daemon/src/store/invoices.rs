//! The invoices the store holds, as `dunwell invoices` lists them: what an import or a sync
//! brought in, with the source that owns each one.

use rusqlite::params;
use serde::Serialize;

use super::{invoice_row, Store, StoreError, INVOICE_COLUMNS};
use crate::model::Invoice;

/// A stored invoice with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedInvoice {
    #[serde(flatten)]
    pub invoice: Invoice,
    pub payment_reference: Option<String>,
    /// `csv` or `plugin:<name>`.
    pub source: String,
    /// The source's id of the invoice (a plugin's record id; the number for the CSV import).
    pub source_id: String,
}

/// Which invoices to list; every field narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceFilter {
    pub customer: Option<String>,
    /// As stored: `csv` or `plugin:<name>`.
    pub source: Option<String>,
    /// Only invoices with something still to pay (an open amount above zero).
    pub open: bool,
}

impl Store {
    /// The invoices `filter` lets through, in invoice-number order. Whether one is open is
    /// decided on the exact decimal, not in SQL (the store keeps amounts as text).
    pub fn list_invoices(&self, filter: &InvoiceFilter) -> Result<Vec<ListedInvoice>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {INVOICE_COLUMNS}, payment_reference, source, source_id
             FROM invoices
             WHERE (?1 IS NULL OR customer_id = ?1) AND (?2 IS NULL OR source = ?2)
             ORDER BY number"
        ))?;
        let mut rows = stmt.query(params![filter.customer, filter.source])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let invoice = invoice_row(r)?;
            if filter.open && invoice.open_amount <= rust_decimal::Decimal::ZERO {
                continue;
            }
            out.push(ListedInvoice {
                invoice,
                payment_reference: r.get(8)?,
                source: r.get(9)?,
                source_id: r.get(10)?,
            });
        }
        Ok(out)
    }

    /// The sources the store holds invoices from (`csv`, `plugin:<name>`), sorted.
    pub fn sources_with_invoices(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT DISTINCT source FROM invoices ORDER BY source")?;
        let sources = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(sources)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invoice(number: &str, customer: &str, total: &str, open: &str) -> Invoice {
        Invoice {
            number: number.into(),
            customer_id: customer.into(),
            issue_date: "2026-01-01".parse().unwrap(),
            due_date: "2026-01-31".parse().unwrap(),
            currency: "EUR".into(),
            total: total.parse().unwrap(),
            open_amount: open.parse().unwrap(),
            paid_date: None,
        }
    }

    #[test]
    fn invoices_are_listed_by_customer_source_and_openness() {
        let mut store = Store::open_in_memory().unwrap();
        let tx = store.begin().unwrap();
        let mut customers = tx.customer_writer().unwrap();
        for id in ["C1", "C2"] {
            let c = crate::model::Customer::new(id, "Bakkerij", crate::model::CustomerKind::B2b);
            customers.upsert(&c, "csv", id).unwrap();
        }
        drop(customers);
        let mut w = tx.invoice_writer(false).unwrap();
        w.upsert(&invoice("F1", "C1", "100.00", "100.00"), None, "csv", "F1").unwrap();
        w.upsert(&invoice("F2", "C2", "50.00", "0.00"), None, "plugin:ubl", "f2.xml").unwrap();
        w.upsert(&invoice("CN-3", "C2", "-20.00", "-20.00"), None, "plugin:ubl", "cn3.xml").unwrap();
        w.upsert(&invoice("F4", "C2", "70.00", "70.00"), None, "plugin:ubl", "f4.xml").unwrap();
        drop(w);
        tx.commit().unwrap();

        let numbers = |f: InvoiceFilter| {
            store.list_invoices(&f).unwrap().into_iter().map(|i| i.invoice.number).collect::<Vec<_>>()
        };
        assert_eq!(numbers(InvoiceFilter::default()), ["CN-3", "F1", "F2", "F4"]);
        assert_eq!(
            numbers(InvoiceFilter { customer: Some("C2".into()), ..Default::default() }),
            ["CN-3", "F2", "F4"]
        );
        let ubl = InvoiceFilter { source: Some("plugin:ubl".into()), ..Default::default() };
        assert_eq!(numbers(ubl.clone()), ["CN-3", "F2", "F4"]);
        assert_eq!(
            numbers(InvoiceFilter { open: true, ..ubl }),
            ["F4"],
            "paid and credit notes are not open"
        );
        assert!(numbers(InvoiceFilter { source: Some("plugin:mb".into()), ..Default::default() }).is_empty());
        let f2 = store.list_invoices(&InvoiceFilter::default()).unwrap().remove(2);
        assert_eq!((f2.source.as_str(), f2.source_id.as_str()), ("plugin:ubl", "f2.xml"));
        assert_eq!(f2.invoice.open_amount.to_string(), "0.00");
        assert_eq!(store.sources_with_invoices().unwrap(), ["csv", "plugin:ubl"]);
    }
}
