//! The `ubl` connector: reads a folder of UBL 2.1 invoices and credit notes (Peppol BIS
//! Billing 3, Dutch NLCIUS / SI-UBL 2.0, Belgian UBL.BE) and hands dunwell the invoices and
//! their customers.
//!
//! Configuration (`[plugins.ubl]` in dunwell.toml): `directory` (the folder, mounted read-only
//! at `/input`), and the optional config value `default_term_days` (default 30) used when a
//! document states neither a `DueDate` nor a payment term in days.
//!
//! The cursor is the modification time and name of the last file read, so a sync reads only
//! new and changed files. A file that is not a readable UBL invoice fails the pull, naming the
//! file: dunwell then stores nothing of that run.

pub mod date;
pub mod ubl;

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
        let (docs, next, more) = read_page(&request)?;
        let mut items: Vec<Customer> = Vec::new();
        for doc in docs {
            if !items.iter().any(|c| c.key == doc.customer.key) {
                items.push(doc.customer);
            }
        }
        Ok(CustomerPage { items, next_cursor: next.or(request.cursor), more })
    }

    fn pull_invoices(request: PageRequest) -> Result<InvoicePage, ConnectorError> {
        let (docs, next, more) = read_page(&request)?;
        Ok(InvoicePage {
            items: docs.into_iter().map(|d| d.invoice).collect(),
            next_cursor: next.or(request.cursor),
            more,
        })
    }
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

/// A file in the folder and its place in the cursor order.
struct Entry {
    modified: u128,
    name: String,
}

fn cursor_of(e: &Entry) -> String {
    format!("{}:{}", e.modified, e.name)
}

fn parse_cursor(c: &str) -> Result<(u128, String), ConnectorError> {
    let (t, name) = c
        .split_once(':')
        .ok_or_else(|| ConnectorError::InvalidData(format!("`{c}` is not a cursor of the ubl connector")))?;
    let t = t
        .parse()
        .map_err(|_| ConnectorError::InvalidData(format!("`{c}` is not a cursor of the ubl connector")))?;
    Ok((t, name.to_string()))
}

/// The documents of the files after the cursor, up to `limit` files.
fn read_page(request: &PageRequest) -> Result<(Vec<Document>, Option<String>, bool), ConnectorError> {
    let term = default_term()?;
    let dir = std::path::Path::new(INPUT_DIR);
    let listing = std::fs::read_dir(dir).map_err(|e| {
        ConnectorError::InvalidConfig(format!(
            "cannot list the input folder: {e}; is `directory` set for this plugin?"
        ))
    })?;
    let mut entries = Vec::new();
    for entry in listing {
        let entry =
            entry.map_err(|e| ConnectorError::Remote(format!("cannot list the input folder: {e}")))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.to_ascii_lowercase().ends_with(".xml") {
            continue;
        }
        let meta = entry.metadata().map_err(|e| ConnectorError::Remote(format!("{name}: {e}")))?;
        if !meta.is_file() {
            continue;
        }
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        entries.push(Entry { modified, name });
    }
    entries.sort_by(|a, b| (a.modified, &a.name).cmp(&(b.modified, &b.name)));
    if let Some(c) = &request.cursor {
        let (t, name) = parse_cursor(c)?;
        entries.retain(|e| (e.modified, &e.name) > (t, &name));
    }
    let limit = (request.limit as usize).max(1);
    let more = entries.len() > limit;
    entries.truncate(limit);
    let mut docs = Vec::with_capacity(entries.len());
    for e in &entries {
        let bytes = std::fs::read(dir.join(&e.name))
            .map_err(|err| ConnectorError::Remote(format!("{}: {err}", e.name)))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| ConnectorError::InvalidData(format!("{}: not UTF-8 text", e.name)))?;
        let doc = parse_document(text, term)
            .map_err(|m| ConnectorError::InvalidData(format!("{}: {m}", e.name)))?;
        docs.push(doc);
    }
    log(Level::Debug, &format!("read {} UBL files", docs.len()));
    Ok((docs, entries.last().map(cursor_of), more))
}
