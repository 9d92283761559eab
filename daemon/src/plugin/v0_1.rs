//! Contract `dunwell:connector@0.1.x`, the first published one: components built before 0.2.0
//! keep working. The host serves this world's imports with the 0.2 implementation (the host
//! interface did not change) and adapts what such a component returns to the host's internal
//! form, the 0.2 records: no paid date on invoices, `snapshot` false in `describe()`.

use super::bindings::dunwell::connector::host as current_host;
use super::bindings::dunwell::connector::types as current;
use super::bindings::exports::dunwell::connector::source as current_source;
use super::RunState;

#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../plugins-sdk/wit/connector@0.1.0",
        world: "connector",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

use bindings::dunwell::connector::host::{self as old_host, HttpError, HttpRequest, HttpResponse, Level};
use bindings::dunwell::connector::types as old;
use bindings::exports::dunwell::connector::source as old_source;

impl old::Host for RunState {}

impl old_host::Host for RunState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            Level::Trace => current_host::Level::Trace,
            Level::Debug => current_host::Level::Debug,
            Level::Info => current_host::Level::Info,
            Level::Warn => current_host::Level::Warn,
            Level::Error => current_host::Level::Error,
        };
        current_host::Host::log(self, level, message).await
    }

    async fn config(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        current_host::Host::config(self, key).await
    }

    async fn secret(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        current_host::Host::secret(self, key).await
    }

    async fn send(&mut self, request: HttpRequest) -> wasmtime::Result<Result<HttpResponse, HttpError>> {
        let HttpRequest { method, url, headers, body } = request;
        let request = current_host::HttpRequest { method, url, headers, body };
        Ok(match current_host::Host::send(self, request).await? {
            Ok(r) => Ok(HttpResponse { status: r.status, headers: r.headers, body: r.body }),
            Err(e) => Err(match e {
                current_host::HttpError::Denied(m) => HttpError::Denied(m),
                current_host::HttpError::Timeout => HttpError::Timeout,
                current_host::HttpError::TooLarge(n) => HttpError::TooLarge(n),
                current_host::HttpError::RequestLimit(n) => HttpError::RequestLimit(n),
                current_host::HttpError::Transport(m) => HttpError::Transport(m),
            }),
        })
    }
}

/// The request as this contract spells it.
pub(super) fn request(r: &current::PageRequest) -> old::PageRequest {
    old::PageRequest { cursor: r.cursor.clone(), limit: r.limit }
}

/// `describe()`: a 0.1 connector never says its pulls are snapshots.
pub(super) fn info(i: old_source::Info) -> current_source::Info {
    current_source::Info {
        name: i.name,
        version: i.version,
        sdk_version: i.sdk_version,
        description: i.description,
        http_hosts: i.http_hosts,
        reads_directory: i.reads_directory,
        config_keys: i
            .config_keys
            .into_iter()
            .map(|k| current_source::ConfigKey {
                name: k.name,
                secret: k.secret,
                required: k.required,
                description: k.description,
            })
            .collect(),
        provides_customers: i.provides_customers,
        provides_invoices: i.provides_invoices,
        provides_payments: i.provides_payments,
        snapshot: false,
    }
}

pub(super) fn error(e: old::ConnectorError) -> current::ConnectorError {
    use current::ConnectorError as C;
    use old::ConnectorError as O;
    match e {
        O::InvalidConfig(m) => C::InvalidConfig(m),
        O::Auth(m) => C::Auth(m),
        O::RateLimited(s) => C::RateLimited(s),
        O::Remote(m) => C::Remote(m),
        O::InvalidData(m) => C::InvalidData(m),
        O::Unsupported(m) => C::Unsupported(m),
        O::Internal(m) => C::Internal(m),
    }
}

fn customer(c: old::Customer) -> current::Customer {
    let a = c.address;
    current::Customer {
        id: c.id,
        key: c.key,
        name: c.name,
        kind: c.kind.map(|k| match k {
            old::CustomerKind::B2b => current::CustomerKind::B2b,
            old::CustomerKind::B2c => current::CustomerKind::B2c,
        }),
        contact: c.contact,
        email: c.email,
        phone: c.phone,
        address: current::Address {
            street: a.street,
            postal_code: a.postal_code,
            city: a.city,
            country: a.country,
        },
        language: c.language,
        removed: c.removed,
    }
}

/// An invoice: 0.1 has no paid date.
fn invoice(i: old::Invoice) -> current::Invoice {
    current::Invoice {
        id: i.id,
        number: i.number,
        customer_key: i.customer_key,
        kind: match i.kind {
            old::DocumentKind::Invoice => current::DocumentKind::Invoice,
            old::DocumentKind::CreditNote => current::DocumentKind::CreditNote,
        },
        issued_on: i.issued_on,
        due_on: i.due_on,
        currency: i.currency,
        total: i.total,
        open: i.open,
        payment_reference: i.payment_reference,
        corrects: i.corrects,
        status: match i.status {
            old::InvoiceStatus::Open => current::InvoiceStatus::Open,
            old::InvoiceStatus::Paid => current::InvoiceStatus::Paid,
            old::InvoiceStatus::Void => current::InvoiceStatus::Void,
        },
        paid_date: None,
        removed: i.removed,
    }
}

fn payment(p: old::Payment) -> current::Payment {
    current::Payment {
        id: p.id,
        amount: p.amount,
        currency: p.currency,
        received_on: p.received_on,
        invoice_number: p.invoice_number,
        invoice_id: p.invoice_id,
        reference: p.reference,
        free_text: p.free_text,
        payer_name: p.payer_name,
        payer_iban: p.payer_iban,
        removed: p.removed,
    }
}

pub(super) fn customers(
    r: Result<old::CustomerPage, old::ConnectorError>,
) -> Result<current::CustomerPage, current::ConnectorError> {
    let p = r.map_err(error)?;
    Ok(current::CustomerPage {
        items: p.items.into_iter().map(customer).collect(),
        next_cursor: p.next_cursor,
        more: p.more,
    })
}

pub(super) fn invoices(
    r: Result<old::InvoicePage, old::ConnectorError>,
) -> Result<current::InvoicePage, current::ConnectorError> {
    let p = r.map_err(error)?;
    Ok(current::InvoicePage {
        items: p.items.into_iter().map(invoice).collect(),
        next_cursor: p.next_cursor,
        more: p.more,
    })
}

pub(super) fn payments(
    r: Result<old::PaymentPage, old::ConnectorError>,
) -> Result<current::PaymentPage, current::ConnectorError> {
    let p = r.map_err(error)?;
    Ok(current::PaymentPage {
        items: p.items.into_iter().map(payment).collect(),
        next_cursor: p.next_cursor,
        more: p.more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_0_1_become_the_hosts_with_no_paid_date_and_no_snapshots() {
        let old = old::Invoice {
            id: "1".into(),
            number: "F1".into(),
            customer_key: "C1".into(),
            kind: old::DocumentKind::CreditNote,
            issued_on: "2026-01-01".into(),
            due_on: "2026-01-31".into(),
            currency: "EUR".into(),
            total: "-10.00".into(),
            open: Some("-10.00".into()),
            payment_reference: Some("RF18539007547034".into()),
            corrects: Some("F0".into()),
            status: old::InvoiceStatus::Paid,
            removed: true,
        };
        let page = old::InvoicePage { items: vec![old], next_cursor: Some("c".into()), more: true };
        let page = invoices(Ok(page)).unwrap();
        let i = &page.items[0];
        assert_eq!((page.next_cursor.as_deref(), page.more), (Some("c"), true));
        assert_eq!((i.id.as_str(), i.number.as_str(), i.total.as_str()), ("1", "F1", "-10.00"));
        assert!(matches!(i.kind, current::DocumentKind::CreditNote));
        assert!(matches!(i.status, current::InvoiceStatus::Paid));
        assert_eq!((i.corrects.as_deref(), i.paid_date.as_deref(), i.removed), (Some("F0"), None, true));
        let err = customers(Err(old::ConnectorError::RateLimited(Some(7)))).unwrap_err();
        assert!(matches!(err, current::ConnectorError::RateLimited(Some(7))));
        let info = info(old_source::Info {
            name: "legacy".into(),
            version: "1".into(),
            sdk_version: "0.1.0".into(),
            description: "d".into(),
            http_hosts: vec!["api.example.com".into()],
            reads_directory: false,
            config_keys: vec![old_source::ConfigKey {
                name: "k".into(),
                secret: true,
                required: true,
                description: "kd".into(),
            }],
            provides_customers: false,
            provides_invoices: true,
            provides_payments: true,
        });
        assert!(!info.snapshot);
        assert!(info.provides_invoices && info.provides_payments && !info.provides_customers);
        assert!(info.config_keys[0].secret && info.config_keys[0].required);
    }
}
