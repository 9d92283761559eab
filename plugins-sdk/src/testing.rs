//! The host, faked for native unit tests of a connector (`cargo test` without WebAssembly).
//!
//! ```
//! use dunwell_plugin_sdk::prelude::*;
//! use dunwell_plugin_sdk::testing::{self, HttpResponse};
//!
//! struct Books;
//! impl Connector for Books {
//!     fn describe() -> Info {
//!         info("books", "1.0.0", "Books").http_host("api.books.example").provides(false, true, false)
//!     }
//!     fn pull_invoices(request: PageRequest) -> Result<InvoicePage, ConnectorError> {
//!         let admin = require_config("administration_id")?;
//!         let numbers: Vec<String> =
//!             http::get(&format!("https://api.books.example/{admin}/invoices")).send()?.error_for_status()?.json()?;
//!         let items = numbers
//!             .into_iter()
//!             .map(|n| Invoice::new(n.clone(), n, "C1", "2026-01-05", "2026-02-04", "EUR", "10.00"))
//!             .collect();
//!         Ok(InvoicePage { items, next_cursor: request.cursor, more: false })
//!     }
//! }
//!
//! testing::set_config("administration_id", "123");
//! testing::set_http(|req| {
//!     assert_eq!(req.url, "https://api.books.example/123/invoices");
//!     Ok(HttpResponse { status: 200, headers: vec![], body: br#"["F1","F2"]"#.to_vec() })
//! });
//! let page = Books::pull_invoices(PageRequest { cursor: None, limit: 100 }).unwrap();
//! assert_eq!(page.items[1].number, "F2");
//! ```
//! State is per thread, so tests running in parallel do not see each other's settings.

use std::cell::RefCell;
use std::collections::HashMap;

pub use crate::bindings::dunwell::connector::host::{HttpError, HttpRequest, HttpResponse};
use crate::Level;

type Handler = Box<dyn FnMut(&HttpRequest) -> Result<HttpResponse, HttpError>>;

#[derive(Default)]
struct Fake {
    config: HashMap<String, String>,
    secrets: HashMap<String, String>,
    logs: Vec<(Level, String)>,
    http: Option<Handler>,
}

thread_local! {
    static FAKE: RefCell<Fake> = RefCell::new(Fake::default());
}

/// Sets a configuration value.
pub fn set_config(key: &str, value: &str) {
    FAKE.with(|f| f.borrow_mut().config.insert(key.into(), value.into()));
}

/// Sets a secret.
pub fn set_secret(key: &str, value: &str) {
    FAKE.with(|f| f.borrow_mut().secrets.insert(key.into(), value.into()));
}

/// Answers HTTP requests with `handler`.
pub fn set_http(handler: impl FnMut(&HttpRequest) -> Result<HttpResponse, HttpError> + 'static) {
    FAKE.with(|f| f.borrow_mut().http = Some(Box::new(handler)));
}

/// The log lines written so far (and forgets them).
pub fn take_logs() -> Vec<(Level, String)> {
    FAKE.with(|f| std::mem::take(&mut f.borrow_mut().logs))
}

/// Forgets all settings.
pub fn reset() {
    FAKE.with(|f| *f.borrow_mut() = Fake::default());
}

#[allow(dead_code)]
pub(crate) fn log(level: Level, message: &str) {
    FAKE.with(|f| f.borrow_mut().logs.push((level, message.to_string())));
}

#[allow(dead_code)]
pub(crate) fn config(key: &str) -> Option<String> {
    FAKE.with(|f| f.borrow().config.get(key).cloned())
}

#[allow(dead_code)]
pub(crate) fn secret(key: &str) -> Option<String> {
    FAKE.with(|f| f.borrow().secrets.get(key).cloned())
}

#[allow(dead_code)]
pub(crate) fn send(request: &HttpRequest) -> Result<HttpResponse, HttpError> {
    let handler = FAKE.with(|f| f.borrow_mut().http.take());
    let Some(mut handler) = handler else {
        return Err(HttpError::Denied("no HTTP handler set (testing::set_http)".into()));
    };
    let result = handler(request);
    FAKE.with(|f| {
        f.borrow_mut().http.get_or_insert(handler);
    });
    result
}
