//! The `moneybird` connector: contacts, sales invoices and their payments from the Moneybird
//! REST API v2 (`https://moneybird.com/api/v2/{administration_id}/….json`, bearer token).
//!
//! Invoices are pulled with `filter=period:all,state:all,updated_after:<time>` (Moneybird's
//! default period is this year, which would silently hide old unpaid invoices), `per_page`
//! and `page`; the cursor is the newest `updated_at` seen plus the page within the current
//! pull. Amounts are Moneybird's decimal strings, parsed exactly. A 429 with a short
//! `Retry-After` is retried by the SDK; a longer one ends the run (dunwell backs off).
//! `pending_payment` (paid, not yet booked) counts as paid: it must not be chased.
//!
//! Credit invoices (negative totals) are sent as credit notes without `corrects`: Moneybird
//! itself books a credit against its original as a payment on the original (one with a
//! `credit_invoice_id`), which this connector passes on with the other payments, and states
//! the original's `total_unpaid`. Naming the original as well would deduct the credit twice.

use dunwell_plugin_sdk::prelude::*;
use serde::Deserialize;

pub struct Moneybird;

#[derive(Deserialize)]
struct MbContact {
    id: String,
    company_name: Option<String>,
    firstname: Option<String>,
    lastname: Option<String>,
    address1: Option<String>,
    zipcode: Option<String>,
    city: Option<String>,
    country: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    send_invoices_to_email: Option<String>,
}

#[derive(Deserialize)]
struct MbPayment {
    id: String,
    price: String,
    payment_date: String,
}

#[derive(Deserialize)]
struct MbInvoice {
    id: String,
    contact_id: String,
    invoice_id: Option<String>,
    state: String,
    invoice_date: String,
    due_date: String,
    payment_reference: Option<String>,
    currency: String,
    total_price_incl_tax: String,
    total_unpaid: String,
    updated_at: String,
    #[serde(default)]
    payments: Vec<MbPayment>,
}

fn some(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.trim().is_empty())
}

struct Api {
    base: String,
    token: String,
}

impl Api {
    fn new() -> Result<Api, ConnectorError> {
        let admin = require_config("administration_id")?;
        if !admin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConnectorError::InvalidConfig(format!(
                "administration_id `{admin}` is not a number"
            )));
        }
        let root = config("base_url").unwrap_or_else(|| "https://moneybird.com/api/v2".into());
        let token = secret("token")
            .ok_or_else(|| ConnectorError::InvalidConfig("the secret `token` is missing".into()))?;
        Ok(Api { base: format!("{}/{admin}", root.trim_end_matches('/')), token })
    }

    fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ConnectorError> {
        let mut req = http::get(&format!("{}/{path}", self.base)).bearer(&self.token);
        for (k, v) in query {
            req = req.query(k, v);
        }
        req.send()?.error_for_status()?.json()
    }
}

/// Cursor `<updated_after>|<page>`: the newest change of the previous pull, and the page within
/// the current one.
fn split_cursor(c: Option<&str>) -> Result<(String, u32), ConnectorError> {
    match c {
        None => Ok((String::new(), 1)),
        Some(c) => {
            let (since, page) =
                c.rsplit_once('|').ok_or_else(|| ConnectorError::InvalidData(format!("bad cursor `{c}`")))?;
            let page = page.parse().map_err(|_| ConnectorError::InvalidData(format!("bad cursor `{c}`")))?;
            Ok((since.to_string(), page))
        }
    }
}

/// One page of invoices changed since the cursor, and the cursor after it.
fn invoice_page(request: &PageRequest) -> Result<(Vec<MbInvoice>, Option<String>, bool), ConnectorError> {
    let api = Api::new()?;
    let (since, page) = split_cursor(request.cursor.as_deref())?;
    let per_page = request.limit.clamp(1, 100);
    let mut filter = "period:all,state:all".to_string();
    if !since.is_empty() {
        filter.push_str(&format!(",updated_after:{since}"));
    }
    let rows: Vec<MbInvoice> = api.get(
        "sales_invoices.json",
        &[("filter", filter), ("page", page.to_string()), ("per_page", per_page.to_string())],
    )?;
    let more = rows.len() as u32 >= per_page;
    // Cursor of the pull in progress keeps `since`; when it ends, move to the newest change.
    let next = if more {
        format!("{since}|{}", page + 1)
    } else {
        let newest = rows.iter().map(|r| r.updated_at.as_str()).max().unwrap_or("");
        let newest = if newest > since.as_str() { newest.to_string() } else { since.clone() };
        format!("{newest}|1")
    };
    Ok((rows, Some(next), more))
}

fn date_part(s: &str) -> String {
    s.chars().take(10).collect()
}

impl Connector for Moneybird {
    fn describe() -> Info {
        info("moneybird", env!("CARGO_PKG_VERSION"), "Moneybird sales invoices, contacts and payments")
            .http_host("moneybird.com")
            .config_key("administration_id", true, "the administration (GET /api/v2/administrations.json)")
            .config_key("base_url", false, "API root, default https://moneybird.com/api/v2")
            .secret_key("token", true, "personal API token or OAuth access token (scope sales_invoices)")
            .provides(true, true, true)
    }

    fn pull_customers(request: PageRequest) -> Result<CustomerPage, ConnectorError> {
        let api = Api::new()?;
        let page: u32 =
            request.cursor.as_deref().and_then(|c| c.strip_prefix("page:")?.parse().ok()).unwrap_or(1);
        let per_page = request.limit.clamp(1, 100);
        let rows: Vec<MbContact> =
            api.get("contacts.json", &[("page", page.to_string()), ("per_page", per_page.to_string())])?;
        let more = rows.len() as u32 >= per_page;
        let items = rows
            .into_iter()
            .map(|c| {
                let person = [c.firstname.as_deref(), c.lastname.as_deref()]
                    .iter()
                    .flatten()
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ");
                let name = some(c.company_name).unwrap_or_else(|| person.clone());
                Customer {
                    key: c.id.clone(),
                    id: c.id,
                    name,
                    kind: None,
                    contact: (!person.trim().is_empty()).then_some(person),
                    email: some(c.send_invoices_to_email).or(some(c.email)),
                    phone: some(c.phone),
                    address: Address {
                        street: some(c.address1),
                        postal_code: some(c.zipcode),
                        city: some(c.city),
                        country: some(c.country),
                    },
                    language: None,
                    removed: false,
                }
            })
            .collect();
        // Contacts are pulled in full each sync (cheap; versions would need the sync API): after
        // the last page the cursor goes back to the first. (Without a cursor the host would keep
        // the previous page's, and the next sync would start on the last page.)
        let next = if more { format!("page:{}", page + 1) } else { "page:1".to_string() };
        Ok(CustomerPage { items, next_cursor: Some(next), more })
    }

    fn pull_invoices(request: PageRequest) -> Result<InvoicePage, ConnectorError> {
        let (rows, next, more) = invoice_page(&request)?;
        let mut items = Vec::new();
        for r in rows {
            if r.state == "draft" {
                continue; // not sent: nothing to chase
            }
            let total = parse_amount(&r.total_price_incl_tax)?;
            let unpaid = parse_amount(&r.total_unpaid)?;
            let status = match r.state.as_str() {
                "paid" | "pending_payment" => InvoiceStatus::Paid,
                "uncollectible" => InvoiceStatus::Void,
                _ => InvoiceStatus::Open,
            };
            let credit = total.is_sign_negative();
            items.push(Invoice {
                number: r.invoice_id.clone().unwrap_or_else(|| r.id.clone()),
                id: r.id,
                customer_key: r.contact_id,
                kind: if credit { DocumentKind::CreditNote } else { DocumentKind::Invoice },
                issued_on: date_part(&r.invoice_date),
                due_on: date_part(&r.due_date),
                currency: r.currency,
                total: format_amount(total),
                open: Some(format_amount(unpaid)),
                payment_reference: some(r.payment_reference),
                corrects: None,
                status,
                removed: false,
            });
        }
        Ok(InvoicePage { items, next_cursor: next, more })
    }

    fn pull_payments(request: PageRequest) -> Result<PaymentPage, ConnectorError> {
        let (rows, next, more) = invoice_page(&request)?;
        let mut items = Vec::new();
        for r in rows {
            for p in r.payments {
                let amount = parse_amount(&p.price)?;
                if amount.is_sign_negative() || amount.is_zero() {
                    continue;
                }
                items.push(Payment {
                    id: p.id,
                    amount: format_amount(amount),
                    currency: r.currency.clone(),
                    received_on: date_part(&p.payment_date),
                    invoice_number: None,
                    invoice_id: Some(r.id.clone()),
                    reference: None,
                    free_text: None,
                    payer_name: None,
                    payer_iban: None,
                    removed: false,
                });
            }
        }
        Ok(PaymentPage { items, next_cursor: next, more })
    }
}

export_connector!(Moneybird);

#[cfg(test)]
mod tests {
    use super::*;
    use dunwell_plugin_sdk::testing::*;

    #[test]
    fn maps_the_documented_payload_and_pages() {
        set_config("administration_id", "123");
        set_secret("token", "tok");
        set_http(|req| {
            assert!(req.headers.iter().any(|(k, v)| k == "Authorization" && v == "Bearer tok"));
            assert!(req
                .url
                .starts_with("https://moneybird.com/api/v2/123/sales_invoices.json?filter=period%3Aall"));
            Ok(HttpResponse {
                status: 200,
                headers: vec![],
                body: br#"[{"id":"369764595231884307","contact_id":"369764595159532558","invoice_id":"2022-0001",
                 "state":"open","invoice_date":"2022-10-27","due_date":"2022-11-10",
                 "payment_reference":"RF3500000000000004MNRNQDX","currency":"EUR",
                 "total_paid":"0.0","total_unpaid":"363.0","total_price_incl_tax":"363.0",
                 "updated_at":"2022-10-27T07:16:59.436Z","payments":[]}]"#
                    .to_vec(),
            })
        });
        let page = Moneybird::pull_invoices(PageRequest { cursor: None, limit: 100 }).unwrap();
        assert_eq!(page.items[0].number, "2022-0001");
        assert_eq!(page.items[0].total, "363.0");
        assert_eq!(page.next_cursor.as_deref(), Some("2022-10-27T07:16:59.436Z|1"));
        assert!(!page.more);
    }

    #[test]
    fn contacts_start_over_on_the_first_page_after_the_last() {
        set_config("administration_id", "123");
        set_secret("token", "tok");
        set_http(|req| {
            let body: &[u8] =
                if req.url.contains("page=1&") { br#"[{"id":"1","company_name":"A"}]"# } else { b"[]" };
            Ok(HttpResponse { status: 200, headers: vec![], body: body.to_vec() })
        });
        let first = Moneybird::pull_customers(PageRequest { cursor: None, limit: 1 }).unwrap();
        assert_eq!((first.next_cursor.as_deref(), first.more), (Some("page:2"), true));
        let last = Moneybird::pull_customers(PageRequest { cursor: first.next_cursor, limit: 1 }).unwrap();
        assert_eq!((last.next_cursor.as_deref(), last.more), (Some("page:1"), false));
        assert!(last.items.is_empty());
    }
}
