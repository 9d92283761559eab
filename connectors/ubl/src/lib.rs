//! The `ubl` connector: reads a folder of UBL 2.1 invoices and credit notes (Peppol BIS
//! Billing 3, Dutch NLCIUS / SI-UBL 2.0, Belgian UBL.BE) and hands dunwell the invoices and
//! their customers.
//!
//! Configuration (`[plugins.ubl]` in dunwell.toml): `directory` (the folder, mounted read-only
//! at `/input`), and the optional config value `default_term_days` (default 30) used when a
//! document states neither a `DueDate` nor a payment term in days.
//!
//! The cursor is the modification time and name of the last file read, so a sync reads only
//! new and changed files. Each invoice's id is its file's name, so that one number in two
//! files stays two records the host can name. A file that is not a readable UBL invoice is
//! passed on as an invoice whose total is [`unusable`] with the reason: the host quarantines
//! it under the file's name and stores the other files (its customers pull skips it).

pub mod ubl;

use std::path::Path;

use dunwell_plugin_sdk::prelude::*;

pub use ubl::{parse_document, Document};

/// The connector.
pub struct Ubl;

impl Connector for Ubl {
    fn describe() -> Info {
        info("ubl", env!("CARGO_PKG_VERSION"), "UBL 2.1 invoices and credit notes from a folder")
            .reads_directory()
            .config_key(
                "default_term_days",
                false,
                "payment term in days when a document has no DueDate and no term (default 30)",
            )
            .provides(true, true, false)
    }

    fn pull_customers(request: PageRequest) -> Result<CustomerPage, ConnectorError> {
        let (docs, next, more) = read_page_in(Path::new(INPUT_DIR), &request)?;
        let mut items: Vec<Customer> = Vec::new();
        for doc in docs.into_iter().filter_map(Result::ok) {
            if !items.iter().any(|c| c.key == doc.customer.key) {
                items.push(doc.customer);
            }
        }
        Ok(CustomerPage { items, next_cursor: next.or(request.cursor), more })
    }

    fn pull_invoices(request: PageRequest) -> Result<InvoicePage, ConnectorError> {
        pull_invoices_in(Path::new(INPUT_DIR), request)
    }
}

/// [`Connector::pull_invoices`] over the folder `dir`: in the component `dir` is the one
/// folder the host mounted; natively (tests, the plugins bench) any folder.
pub fn pull_invoices_in(dir: &Path, request: PageRequest) -> Result<InvoicePage, ConnectorError> {
    let (docs, next, more) = read_page_in(dir, &request)?;
    Ok(InvoicePage {
        items: docs.into_iter().map(|d| d.map_or_else(|bad| bad, |d| d.invoice)).collect(),
        next_cursor: next.or(request.cursor),
        more,
    })
}

export_connector!(Ubl);

fn default_term() -> Result<u32, ConnectorError> {
    match config("default_term_days") {
        None => Ok(30),
        Some(v) => v.trim().parse().map_err(|_| {
            ConnectorError::InvalidConfig(format!("default_term_days `{v}` is not a number of days"))
        }),
    }
}

/// One file of a page: its document, or the invoice record that tells the host why the file
/// cannot be read.
type Read = Result<Document, Invoice>;

/// The documents of the files of `dir` after the cursor, up to `limit` files.
fn read_page_in(
    dir: &Path,
    request: &PageRequest,
) -> Result<(Vec<Read>, Option<String>, bool), ConnectorError> {
    let term = default_term()?;
    let page = dunwell_plugin_sdk::files::page(dir, ".xml", request.cursor.as_deref(), request.limit)?;
    let mut docs = Vec::with_capacity(page.files.len());
    for f in page.files {
        docs.push(match parse_document(&f.text, term) {
            Ok(mut doc) => {
                doc.invoice.id = f.name;
                Ok(doc)
            }
            Err(m) => {
                log(Level::Warn, &format!("{}: {m}", f.name));
                Err(unreadable(f.name, &m))
            }
        });
    }
    log(Level::Debug, &format!("read {} UBL files", docs.len()));
    Ok((docs, page.next_cursor, page.more))
}

/// The record of a file that is not a readable UBL invoice: named by the file, with the reason
/// in its total (the contract has no other way to say it).
fn unreadable(file: String, reason: &str) -> Invoice {
    Invoice::new(file.clone(), file, "", "", "", "", unusable(reason))
}
