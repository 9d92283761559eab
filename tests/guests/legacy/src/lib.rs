//! A connector as it was built for contract `dunwell:connector@0.1.0`, straight from the
//! frozen WIT with wit-bindgen: the host must keep loading such components next to 0.2 ones
//! (tests/e2e/plugins.rs). It uses every host import of 0.1.0 that needs no network: `log`,
//! `config` and `secret`.
//!
//! It provides one customer, two invoices (LG-1 open, LG-2 paid) and a payment on LG-1, all
//! on the first pull; a pull from its cursor (`done`) finds nothing new.

// The bindings' `export!` is used only in WebAssembly (at the end of this file); natively, the
// import the bindings make for it is unused.
#![cfg_attr(not(target_arch = "wasm32"), allow(unused_imports))]

// `wit_bindgen::generate!({ path: "plugins-sdk/wit/connector@0.1.0", world: "connector" })`,
// expanded and committed by scripts/regen-bindings, as the SDK's own bindings are.
include!("bindings.rs");

use dunwell::connector::host::{config, log, secret, Level};
use dunwell::connector::types::{
    Address, ConnectorError, Customer, CustomerPage, DocumentKind, Invoice, InvoicePage, InvoiceStatus,
    PageRequest, Payment, PaymentPage,
};
use exports::dunwell::connector::source::{ConfigKey, Guest, Info};

/// The connector.
pub struct Legacy;

/// The records of the first pull, none after it.
fn first(request: &PageRequest) -> bool {
    request.cursor.is_none()
}

fn invoice(id: &str, number: &str, total: &str, status: InvoiceStatus) -> Invoice {
    Invoice {
        id: id.into(),
        number: number.into(),
        customer_key: "L1".into(),
        kind: DocumentKind::Invoice,
        issued_on: "2026-01-05".into(),
        due_on: "2026-02-04".into(),
        currency: "EUR".into(),
        total: total.into(),
        open: None,
        payment_reference: None,
        corrects: None,
        status,
        removed: false,
    }
}

impl Guest for Legacy {
    fn describe() -> Info {
        Info {
            name: "legacy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            sdk_version: "none (wit-bindgen, contract 0.1.0)".into(),
            description: "a connector built against dunwell:connector@0.1.0".into(),
            http_hosts: Vec::new(),
            reads_directory: false,
            config_keys: vec![ConfigKey {
                name: "customer_name".into(),
                secret: false,
                required: false,
                description: "the name of its one customer".into(),
            }],
            provides_customers: true,
            provides_invoices: true,
            provides_payments: true,
        }
    }

    fn pull_customers(request: PageRequest) -> Result<CustomerPage, ConnectorError> {
        let items = if first(&request) {
            vec![Customer {
                id: "l-1".into(),
                key: "L1".into(),
                name: config("customer_name").unwrap_or_else(|| "Legacy Customer BV".into()),
                kind: None,
                contact: None,
                email: Some("debiteuren@legacy.example".into()),
                phone: None,
                address: Address { street: None, postal_code: None, city: None, country: Some("NL".into()) },
                language: Some("nl".into()),
                removed: false,
            }]
        } else {
            Vec::new()
        };
        Ok(CustomerPage { items, next_cursor: Some("done".into()), more: false })
    }

    fn pull_invoices(request: PageRequest) -> Result<InvoicePage, ConnectorError> {
        // The 0.1 host imports work: a log line, and a secret that is not set.
        log(Level::Info, &format!("legacy guest pulls invoices (token set: {})", secret("token").is_some()));
        let items = if first(&request) {
            let mut paid = invoice("l-inv-2", "LG-2", "50.00", InvoiceStatus::Paid);
            paid.open = Some("0.00".into());
            vec![invoice("l-inv-1", "LG-1", "121.00", InvoiceStatus::Open), paid]
        } else {
            Vec::new()
        };
        Ok(InvoicePage { items, next_cursor: Some("done".into()), more: false })
    }

    fn pull_payments(request: PageRequest) -> Result<PaymentPage, ConnectorError> {
        let items = if first(&request) {
            vec![Payment {
                id: "l-pay-1".into(),
                amount: "21.00".into(),
                currency: "EUR".into(),
                received_on: "2026-01-20".into(),
                invoice_number: Some("LG-1".into()),
                invoice_id: None,
                reference: None,
                free_text: None,
                payer_name: None,
                payer_iban: None,
                removed: false,
            }]
        } else {
            Vec::new()
        };
        Ok(PaymentPage { items, next_cursor: Some("done".into()), more: false })
    }
}

// Only in WebAssembly: the component export names are not valid native symbol names (and
// `cargo test --workspace` builds this crate natively too).
#[cfg(target_arch = "wasm32")]
export!(Legacy);
