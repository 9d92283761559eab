//! Connector plugins end to end: the real `dunwell` binary loads the real components
//! (connectors/*, tests/guests/hostile, tests/guests/legacy) built for wasm32-wasip2.
//!
//! `scripts/test` builds the guests before `cargo test`; when they are missing this builds them
//! (the same command), so a plain `cargo test` works too.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use dunwell::store::Store;

use crate::fake_http::{respond, serve};
use crate::{repo, s, testdata, Env};

/// The guest crates and their component file names.
pub const GUESTS: &[(&str, &str)] = &[
    ("dunwell-connector-ubl", "dunwell_connector_ubl"),
    ("dunwell-connector-camt053", "dunwell_connector_camt053"),
    ("dunwell-connector-moneybird", "dunwell_connector_moneybird"),
    ("dunwell-guest-hostile", "dunwell_guest_hostile"),
    ("dunwell-guest-legacy", "dunwell_guest_legacy"),
];

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("target"))
}

/// The path of a guest component, building the guests once if one is missing.
pub fn guest(file: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let path = |f: &str| target_dir().join("wasm32-wasip2/release").join(format!("{f}.wasm"));
    BUILT.get_or_init(|| {
        if GUESTS.iter().all(|(_, f)| path(f).is_file()) {
            return;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.current_dir(repo()).args(["build", "--release", "--target", "wasm32-wasip2"]);
        for (krate, _) in GUESTS {
            cmd.args(["-p", krate]);
        }
        let status = cmd.status().expect("run cargo to build the guest components");
        assert!(
            status.success(),
            "building the guests failed; is the target installed? `rustup target add wasm32-wasip2`"
        );
    });
    let p = path(file);
    assert!(p.is_file(), "{} missing; run scripts/test (it builds the guests)", p.display());
    p
}

fn ubl_env(extra: &str) -> (Env, PathBuf) {
    let env = Env::with_config(&format!(
        "[plugins.ubl]\npath = '{}'\ndirectory = 'inbox'\n{extra}",
        s(&guest("dunwell_connector_ubl"))
    ));
    let inbox = env.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    for entry in std::fs::read_dir(testdata("connectors/ubl")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), inbox.join(entry.file_name())).unwrap();
    }
    (env, inbox)
}

/// Replaces the configuration of `env` (as [`Env::with_config`] writes it).

#[test]
fn plugin_check_prints_the_description() {
    let env = Env::new();
    let out = env.ok(&["plugin", "check", s(&guest("dunwell_connector_ubl"))]);
    assert!(out.contains("ubl 0.1.0"), "{out}");
    assert!(out.contains("contract: dunwell:connector@0.2.0"), "{out}");
    assert!(out.contains("reads a directory"), "{out}");
    assert!(out.contains("default_term_days"), "{out}");
}

#[test]
fn plugin_check_refuses_modules_garbage_and_other_contract_versions() {
    let env = Env::new();
    let core = env.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let err = env.fails(&["plugin", "check", s(&core)]);
    assert!(err.contains("not a WebAssembly component but a core module"), "{err}");
    let junk = env.path().join("junk.wasm");
    std::fs::write(&junk, b"MZ\x90\0 not wasm").unwrap();
    let err = env.fails(&["plugin", "check", s(&junk)]);
    assert!(err.contains("is not a WebAssembly component"), "{err}");

    // The same connector, relabelled as built against dunwell:connector@9.1.0.
    let mut bytes = std::fs::read(guest("dunwell_connector_ubl")).unwrap();
    let (from, to) = (b"dunwell:connector/source@0.2.0", b"dunwell:connector/source@9.1.0");
    let mut hits = 0;
    for i in 0..bytes.len().saturating_sub(from.len()) {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            hits += 1;
        }
    }
    assert!(hits > 0);
    let other = env.path().join("other-major.wasm");
    std::fs::write(&other, bytes).unwrap();
    let err = env.fails(&["plugin", "check", s(&other)]);
    assert!(
        err.contains(
            "was built against dunwell:connector@9.1.0, but this dunwell speaks dunwell:connector@0.1.0 and dunwell:connector@0.2.0"
        ),
        "{err}"
    );
}

#[test]
fn plugin_run_prints_what_the_connector_returns() {
    let env = Env::new();
    let out = env.ok(&[
        "plugin",
        "run",
        s(&guest("dunwell_connector_ubl")),
        "--dir",
        s(&testdata("connectors/ubl")),
        "--set",
        "default_term_days=14",
        "--what",
        "invoices",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let items = v["invoices"][0]["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{out}");
    let vat_z = items.iter().find(|i| i["number"] == "Vat-Z").unwrap();
    assert_eq!(vat_z["due_on"], "2018-09-29", "the stated 30-day term beats the configured 14");
    assert_eq!(vat_z["total"], "1200.00");
}

pub(crate) fn invoices(env: &Env) -> Vec<dunwell::model::Invoice> {
    Store::open(&env.db()).unwrap().load_invoices().unwrap()
}

#[test]
fn ubl_sync_stores_invoices_incrementally_and_plan_works() {
    let (env, inbox) = ubl_env("");
    let out = env.ok(&["sync"]);
    assert!(out.contains("customers: 3 added"), "{out}");
    assert!(out.contains("invoices:  4 added"), "{out}");
    let inv = invoices(&env);
    let find =
        |n: &str| inv.iter().find(|i| i.number == n).unwrap_or_else(|| panic!("{n} in {inv:?}")).clone();
    let nl = find("12115118");
    assert_eq!((nl.total.to_string(), nl.open_amount.to_string()), ("227.00".into(), "227.00".into()));
    assert_eq!(nl.customer_id, "10202");
    // The credit note is kept as a negative document and deducted from the invoice it corrects.
    let cn = find("CN-Snippet1");
    assert_eq!(cn.total.to_string(), "-1656.25");
    assert_eq!(find("Snippet1").open_amount.to_string(), "0.00");
    assert_eq!(find("Vat-Z").due_date.to_string(), "2018-09-29");
    let customers = Store::open(&env.db()).unwrap().load_customers().unwrap();
    let buyer = customers.iter().find(|c| c.id == "FR23342").unwrap();
    assert_eq!(buyer.email.as_deref(), Some("lj@buyer.se"));
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    let (source, source_id): (String, String) = conn
        .query_row("SELECT source, source_id FROM invoices WHERE number = 'Vat-Z'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((source.as_str(), source_id.as_str()), ("plugin:ubl", "peppol-bis3-vat-category-E.xml"));

    // Nothing new: nothing pulled.
    let out = env.ok(&["sync", "ubl"]);
    assert!(out.contains("invoices:  0 added, 0 changed, 0 unchanged"), "{out}");
    // A new file: only it is read.
    let text = std::fs::read_to_string(inbox.join("nlcius-SI-UBL-2.0_ok_base.xml")).unwrap();
    std::fs::write(
        inbox.join("new.xml"),
        text.replace("<cbc:ID>12115118</cbc:ID>", "<cbc:ID>12115119</cbc:ID>"),
    )
    .unwrap();
    let out = env.ok(&["sync", "ubl"]);
    assert!(out.contains("invoices:  1 added, 0 changed, 0 unchanged"), "{out}");
    assert_eq!(invoices(&env).len(), 5);

    let plan = env.ok(&["plan", "--at", "2026-01-05"]);
    assert!(plan.contains("12115119"), "{plan}");
}

#[test]
fn a_file_that_is_not_text_stores_nothing_and_backs_off() {
    // (A file that is text but not a UBL invoice is quarantined instead: tests/e2e/quarantine.rs.)
    let (env, inbox) = ubl_env("");
    std::fs::write(inbox.join("zz-broken.xml"), b"<Invoice>\xff\xfe</Invoice>").unwrap();
    let err = env.fails(&["sync"]);
    assert!(err.contains("plugin ubl could not pull"), "{err}");
    assert!(err.contains("zz-broken.xml: not UTF-8 text"), "{err}");
    assert!(invoices(&env).is_empty(), "all or nothing");
    let status = Store::open(&env.db()).unwrap().sync_status("ubl").unwrap().unwrap();
    assert_eq!(status.failures, 1);
    assert!(status.next_attempt.is_some());
    std::fs::remove_file(inbox.join("zz-broken.xml")).unwrap();
    let out = env.ok(&["sync", "--if-due"]);
    assert!(out.contains("ubl: skipped, backing off after a failure until"), "{out}");
    assert!(invoices(&env).is_empty());
    env.ok(&["sync"]);
    let status = Store::open(&env.db()).unwrap().sync_status("ubl").unwrap().unwrap();
    assert_eq!((status.failures, status.next_attempt), (0, None));
}

/// The line of `out` that starts with `start`.
fn line<'a>(out: &'a str, start: &str) -> &'a str {
    out.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("no `{start}` line in\n{out}"))
}

fn numbers(env: &Env) -> Vec<String> {
    invoices(env).into_iter().map(|i| i.number).collect()
}

#[test]
fn ubl_full_sync_removes_the_invoices_of_deleted_files() {
    let (env, inbox) = ubl_env("");
    let out = env.ok(&["sync"]);
    assert!(out.starts_with("ubl (full sync):"), "the first sync is a complete snapshot: {out}");
    assert_eq!(numbers(&env), ["12115118", "CN-Snippet1", "Snippet1", "Vat-Z"]);
    std::fs::remove_file(inbox.join("nlcius-SI-UBL-2.0_ok_base.xml")).unwrap();

    // An incremental sync cannot see a deleted file.
    let out = env.ok(&["sync", "ubl"]);
    assert!(out.starts_with("ubl:"), "{out}");
    assert_eq!(line(&out, "invoices:"), "invoices:  0 added, 0 changed, 0 unchanged, 0 removed");
    assert_eq!(numbers(&env).len(), 4);

    // A full one removes exactly that invoice, and its customer, who has nothing left.
    let out = env.ok(&["sync", "ubl", "--full"]);
    assert!(out.starts_with("ubl (full sync):"), "{out}");
    assert!(line(&out, "invoices:").ends_with(", 1 removed"), "{out}");
    assert!(line(&out, "customers:").ends_with(", 1 removed"), "{out}");
    assert_eq!(numbers(&env), ["CN-Snippet1", "Snippet1", "Vat-Z"]);
    let customers = Store::open(&env.db()).unwrap().load_customers().unwrap();
    assert!(customers.iter().all(|c| c.id != "10202"), "{customers:?}");
    let open = |n: &str| invoices(&env).into_iter().find(|i| i.number == n).unwrap().open_amount.to_string();
    assert_eq!(open("Snippet1"), "0.00", "still credited");

    // The credit note's file goes: the credit note, and its deduction from Snippet1, go too.
    std::fs::remove_file(inbox.join("peppol-bis3-base-creditnote-correction.xml")).unwrap();
    let out = env.ok(&["sync", "ubl", "--full"]);
    assert!(line(&out, "invoices:").ends_with(", 1 removed"), "{out}");
    assert!(line(&out, "customers:").ends_with(", 0 removed"), "FR23342 still has Snippet1: {out}");
    assert_eq!(numbers(&env), ["Snippet1", "Vat-Z"]);
    assert_eq!(open("Snippet1"), "1656.25");
}

#[test]
fn full_sync_hours_make_a_sync_full_by_itself() {
    let set_last_full = |env: &Env, hours_ago: i64| {
        let at = (chrono::Utc::now() - chrono::Duration::hours(hours_ago)).to_rfc3339();
        let conn = rusqlite::Connection::open(env.db()).unwrap();
        assert_eq!(conn.execute("UPDATE sync_status SET last_full_sync = ?1", [at]).unwrap(), 1);
    };
    // Default: 24 hours.
    let (env, inbox) = ubl_env("");
    env.ok(&["sync"]);
    std::fs::remove_file(inbox.join("peppol-bis3-vat-category-E.xml")).unwrap();
    set_last_full(&env, 23);
    let out = env.ok(&["sync"]);
    assert!(out.starts_with("ubl:"), "23 hours after the last full sync: {out}");
    assert!(numbers(&env).contains(&"Vat-Z".to_string()));
    set_last_full(&env, 25);
    let out = env.ok(&["sync"]);
    assert!(out.starts_with("ubl (full sync):"), "{out}");
    assert!(!numbers(&env).contains(&"Vat-Z".to_string()));
    let status = Store::open(&env.db()).unwrap().sync_status("ubl").unwrap().unwrap();
    assert_eq!(status.last_full_sync, status.last_success, "the full sync is recorded");

    // 0: never by itself.
    let (env, inbox) = ubl_env("full_sync_hours = 0\n");
    env.ok(&["sync"]);
    std::fs::remove_file(inbox.join("peppol-bis3-vat-category-E.xml")).unwrap();
    set_last_full(&env, 24 * 365);
    let out = env.ok(&["sync"]);
    assert!(out.starts_with("ubl:"), "{out}");
    assert!(numbers(&env).contains(&"Vat-Z".to_string()));
    env.ok(&["sync", "--full"]);
    assert!(!numbers(&env).contains(&"Vat-Z".to_string()));
}

fn bank_env() -> Env {
    let env = Env::with_config(&format!(
        "[plugins.ubl]\npath = '{}'\ndirectory = 'inbox'\n[plugins.bank]\npath = '{}'\ndirectory = 'bank'\n",
        s(&guest("dunwell_connector_ubl")),
        s(&guest("dunwell_connector_camt053"))
    ));
    let (inbox, bank) = (env.path().join("inbox"), env.path().join("bank"));
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::create_dir_all(&bank).unwrap();
    // Two invoices of our own, made from the NLCIUS example.
    let base = std::fs::read_to_string(testdata("connectors/ubl/nlcius-SI-UBL-2.0_ok_base.xml")).unwrap();
    let invoice = |number: &str, amount: &str, reference: &str| {
        base.replace("<cbc:ID>12115118</cbc:ID>", &format!("<cbc:ID>{number}</cbc:ID>"))
            .replace(">227.00<", &format!(">{amount}<"))
            .replace("Deb. 10202 / Fact. 12115118", reference)
    };
    std::fs::write(inbox.join("a.xml"), invoice("F2026-001", "8.85", "4654654654654654")).unwrap();
    std::fs::write(inbox.join("b.xml"), invoice("F2026-002", "121.00", "no reference")).unwrap();
    // The bank: the real minimal statement (8.85 with structured reference 4654654654654654)
    // and a copy of it for 121.00 without a usable reference.
    let camt = std::fs::read_to_string(testdata("connectors/camt053/genkgo-camt053.v2.minimal.xml")).unwrap();
    std::fs::write(bank.join("1.xml"), &camt).unwrap();
    std::fs::write(
        bank.join("2.xml"),
        camt.replace("253EURNL26VAYB8060476890", "254EURNL26VAYB8060476890")
            .replace(">8.85<", ">121.00<")
            .replace("4654654654654654", "0000"),
    )
    .unwrap();
    env
}

#[test]
fn camt053_payments_are_matched_by_reference_then_amount() {
    let env = bank_env();
    // The rules compete: F2026-001 is 50.00 now and F2026-002 8.85, and both statements pay
    // 8.85. The first one's structured reference names F2026-001, while its amount alone would
    // name F2026-002: the reference wins (a part payment). The second one, without a usable
    // reference, goes by its amount to F2026-002.
    let edit = |path: &str, from: &str, to: &str| {
        let path = env.path().join(path);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from} in {}", path.display());
        std::fs::write(&path, text.replace(from, to)).unwrap();
    };
    edit("inbox/a.xml", ">8.85<", ">50.00<");
    edit("inbox/b.xml", ">121.00<", ">8.85<");
    edit("bank/2.xml", ">121.00<", ">8.85<");
    env.ok(&["sync", "ubl"]);
    let out = env.ok(&["sync", "bank"]);
    assert!(out.contains("payments:  2 added"), "{out}");
    assert!(
        out.contains(
            "1 by reference, 0 by invoice number, 1 by amount, 0 by amount and known account; 0 unmatched"
        ),
        "{out}"
    );
    let open: Vec<(String, String, Option<String>)> = invoices(&env)
        .into_iter()
        .map(|i| (i.number, i.open_amount.to_string(), i.paid_date.map(|d| d.to_string())))
        .collect();
    assert_eq!(
        open,
        [
            ("F2026-001".to_string(), "41.15".to_string(), None),
            ("F2026-002".to_string(), "0.00".to_string(), Some("2014-12-31".to_string()))
        ]
    );
    // Again: nothing new.
    let out = env.ok(&["sync", "bank"]);
    assert!(out.contains("payments:  0 added"), "{out}");
}

#[test]
fn bank_payments_that_arrive_before_their_invoices_are_matched_later() {
    let env = bank_env();
    let out = env.ok(&["sync", "bank"]);
    assert!(out.contains("0 by amount, 0 by amount and known account; 2 unmatched"), "{out}");
    assert_eq!(Store::open(&env.db()).unwrap().unmatched_payments().unwrap().len(), 2);
    let out = env.ok(&["sync", "ubl"]);
    assert!(out.contains("(2 earlier unmatched payments matched now)"), "{out}");
    assert!(invoices(&env).iter().all(|i| i.open_amount.is_zero()));
    assert!(Store::open(&env.db()).unwrap().unmatched_payments().unwrap().is_empty());
}

#[test]
fn camt053_full_sync_takes_a_deleted_statement_off_its_invoice_and_keeps_the_invoices() {
    let env = bank_env();
    env.ok(&["sync", "ubl"]);
    env.ok(&["sync", "bank"]);
    assert!(invoices(&env).iter().all(|i| i.open_amount.is_zero()));
    std::fs::remove_file(env.path().join("bank/2.xml")).unwrap();
    let out = env.ok(&["sync", "bank"]);
    assert!(line(&out, "payments:").ends_with(", 0 removed"), "incremental: {out}");
    let out = env.ok(&["sync", "bank", "--full"]);
    assert!(out.starts_with("bank (full sync):"), "{out}");
    assert_eq!(line(&out, "payments:"), "payments:  0 added, 0 changed, 1 unchanged, 1 removed");
    assert_eq!(
        line(&out, "invoices:"),
        "invoices:  0 added, 0 changed, 0 unchanged, 0 removed",
        "a payments-only connector removes no invoice"
    );
    let open: Vec<(String, String)> =
        invoices(&env).into_iter().map(|i| (i.number, i.open_amount.to_string())).collect();
    assert_eq!(
        open,
        [("F2026-001".to_string(), "0.00".to_string()), ("F2026-002".to_string(), "121.00".to_string())]
    );
    let paid = invoices(&env).into_iter().find(|i| i.number == "F2026-002").unwrap();
    assert_eq!(paid.paid_date, None, "open again");
}

#[test]
fn payments_unmatched_lists_the_bank_payments_without_an_invoice() {
    let env = Env::with_config(&format!(
        "[plugins.bank]\npath = '{}'\ndirectory = 'bank'\n",
        s(&guest("dunwell_connector_camt053"))
    ));
    let bank = env.path().join("bank");
    std::fs::create_dir_all(&bank).unwrap();
    for f in ["genkgo-camt053.v2.minimal.xml", "genkgo-camt053.v2.multi.statement.xml"] {
        std::fs::copy(testdata("connectors/camt053").join(f), bank.join(f)).unwrap();
    }
    assert_eq!(env.ok(&["payments", "unmatched"]), "no unmatched bank payments\n");
    let out = env.ok(&["sync", "bank"]);
    assert!(out.contains("2 unmatched"), "{out}");

    let table = env.ok(&["payments", "unmatched"]);
    let lines: Vec<&str> = table.lines().collect();
    let cells = |l: &str| {
        l.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect::<Vec<_>>()
    };
    assert_eq!(cells(lines[0]), ["DATE", "AMOUNT", "REFERENCE", "FREE TEXT", "PAYER", "IBAN", "SOURCE"]);
    assert_eq!(
        cells(lines[1]),
        ["2014-12-31", "8.85 EUR", "4654654654654654", "-", "NAME NAME", "NL56AGDH9619008421", "plugin:bank"]
    );
    assert_eq!(
        cells(lines[2]),
        ["2014-12-31", "8.85 EUR", "-", "Transaction Description 1", "-", "-", "plugin:bank"]
    );
    assert!(table.contains("2 unmatched bank payments (17.70 EUR)"), "{table}");

    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["payments", "unmatched", "--format", "json"])).unwrap();
    assert_eq!(
        json,
        serde_json::json!([
            {"date": "2014-12-31", "amount": "8.85", "currency": "EUR", "reference": "4654654654654654",
             "free_text": null, "payer_name": "NAME NAME", "payer_iban": "NL56AGDH9619008421",
             "source": "plugin:bank", "source_id": "253EURNL26VAYB8060476890/0/0"},
            {"date": "2014-12-31", "amount": "8.85", "currency": "EUR", "reference": null,
             "free_text": "Transaction Description 1", "payer_name": null, "payer_iban": null,
             "source": "plugin:bank", "source_id": "253EURNL26VAYB8060476890/000000001"}
        ])
    );
}

// ---- moneybird against a fake server ----------------------------------------------------

/// A fake Moneybird: `.json` paths, bearer token, `updated_after` filter, paging, decimal
/// strings, and a 429 with `Retry-After: 1` on the very first request. Returns its port and
/// the number of requests it answered.
pub(crate) fn fake_moneybird(invoices: Arc<Mutex<Vec<serde_json::Value>>>) -> (u16, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let addr = serve(move |req, stream| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let (status, body) = if n == 0 {
            ("429 Too Many Requests", "[]".to_string())
        } else if !req.has_header("authorization: bearer mb-token") {
            ("401 Unauthorized", r#"{"error":"token invalid"}"#.to_string())
        } else if req.path == "/api/v2/123/contacts.json" {
            (
                "200 OK",
                serde_json::json!([{"id":"369764595159532558","company_name":"Foobar Holding B.V.",
                "firstname":"John","lastname":"Doe","address1":"Hoofdstraat 12","zipcode":"1234AB",
                "city":"Amsterdam","country":"NL","phone":"","email":"info@example.com",
                "send_invoices_to_email":"debiteuren@example.com","customer_id":"26"}])
                .to_string(),
            )
        } else if req.path == "/api/v2/123/sales_invoices.json" {
            let q = &req.query;
            let since = q.get("filter").and_then(|f| {
                f.split(',').find_map(|p| p.strip_prefix("updated_after:").map(str::to_string))
            });
            let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let per: usize = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(100);
            let all = invoices.lock().unwrap();
            let changed: Vec<&serde_json::Value> = all
                .iter()
                .filter(|i| since.as_deref().is_none_or(|s| i["updated_at"].as_str().unwrap_or("") > s))
                .collect();
            let slice: Vec<&serde_json::Value> =
                changed.into_iter().skip((page - 1) * per).take(per).collect();
            ("200 OK", serde_json::to_string(&slice).unwrap())
        } else {
            ("404 Not Found", "{}".to_string())
        };
        let retry: &[&str] = if n == 0 { &["Retry-After: 1"] } else { &[] };
        respond(stream, status, retry, &body);
    });
    (addr.port(), hits)
}

pub(crate) fn mb_invoice(
    id: u32,
    number: &str,
    state: &str,
    unpaid: &str,
    updated: &str,
    payments: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({"id": format!("3697645952318843{id:02}"), "contact_id": "369764595159532558",
        "invoice_id": number, "state": state, "invoice_date": "2026-10-27", "due_date": "2026-11-10",
        "payment_reference": "RF3500000000000004MNRNQDX", "reference": "Project X", "currency": "EUR",
        "paid_at": null, "updated_at": updated, "version": 1666855019, "payments": payments,
        "total_paid": "0.0", "total_unpaid": unpaid, "total_price_excl_tax": "300.0",
        "total_price_incl_tax": "363.0", "original_sales_invoice_id": null})
}

#[test]
fn moneybird_syncs_from_a_fake_server_incrementally() {
    let list: Vec<serde_json::Value> = (1..=3)
        .map(|i| {
            mb_invoice(
                i,
                &format!("2026-000{i}"),
                "open",
                "363.0",
                &format!("2026-10-27T07:16:5{i}.000Z"),
                serde_json::json!([]),
            )
        })
        .collect();
    let at_source = Arc::new(Mutex::new(list));
    let (port, hits) = fake_moneybird(at_source.clone());
    let env = moneybird_env(port, "page_size = 2\n");
    let out = env.ok(&["sync", "moneybird"]);
    assert!(out.contains("customers: 1 added"), "{out}");
    assert!(out.contains("invoices:  3 added"), "{out}");
    assert!(hits.load(Ordering::SeqCst) >= 5, "429 retried, pages followed");
    let customers = Store::open(&env.db()).unwrap().load_customers().unwrap();
    assert_eq!(customers[0].email.as_deref(), Some("debiteuren@example.com"));
    // Moneybird's `363.0` at EUR's scale.
    assert_eq!(invoices(&env)[0].open_amount.to_string(), "363.00");

    // Invoice 2 gets paid at the source: only it comes back, with its payment.
    at_source.lock().unwrap()[1] = mb_invoice(
        2,
        "2026-0002",
        "paid",
        "0.0",
        "2026-11-02T09:00:00.000Z",
        serde_json::json!([{"id": "370131013361206478", "invoice_type": "SalesInvoice",
            "invoice_id": "369764595231884302", "price": "363.0", "price_base": "363.0",
            "payment_date": "2026-11-02"}]),
    );
    let out = env.ok(&["sync", "moneybird"]);
    assert!(out.contains("invoices:  0 added, 1 changed, 0 unchanged"), "{out}");
    assert!(out.contains("payments:  1 added"), "{out}");
    let paid = invoices(&env).into_iter().find(|i| i.number == "2026-0002").unwrap();
    assert_eq!(
        (paid.open_amount.to_string().as_str(), paid.paid_date.map(|d| d.to_string())),
        ("0.00", Some("2026-11-02".into()))
    );
}

/// A source that always answers 429 with `Retry-After: 7200`.
fn rate_limited_server() -> u16 {
    serve(|_, stream| respond(stream, "429 Too Many Requests", &["Retry-After: 7200"], "[]")).port()
}

/// An installation with the moneybird connector pointed at a fake server on `port`;
/// `extra` goes into its `[plugins.moneybird]` section.
pub(crate) fn moneybird_env(port: u16, extra: &str) -> Env {
    Env::with_config(&format!(
        "[plugins.moneybird]\npath = '{}'\nallowed_hosts = ['127.0.0.1:{port}']\n{extra}[plugins.moneybird.config]\nadministration_id = '123'\nbase_url = 'http://127.0.0.1:{port}/api/v2'\n[plugins.moneybird.secrets]\ntoken = 'mb-token'\n",
        s(&guest("dunwell_connector_moneybird"))
    ))
}

#[test]
fn a_rate_limited_sync_waits_as_long_as_the_source_asks() {
    let port = rate_limited_server();
    let env = moneybird_env(port, "");
    let err = env.fails(&["sync", "moneybird"]);
    assert!(err.contains("rate limited by the source; retry in 7200s"), "{err}");
    let status = Store::open(&env.db()).unwrap().sync_status("moneybird").unwrap().unwrap();
    let time = |t: Option<String>| chrono::DateTime::parse_from_rfc3339(&t.unwrap()).unwrap();
    let (failed, next) = (time(status.last_failure), time(status.next_attempt));
    assert_eq!(status.failures, 1);
    assert_eq!(next - failed, chrono::Duration::seconds(7200), "not the 1-minute back-off");
    let out = env.ok(&["sync", "--if-due"]);
    assert!(out.contains("moneybird: skipped, backing off"), "{out}");
}

// ---- hostile guests ---------------------------------------------------------------------

/// Syncs the hostile guest in `good` mode, then in `mode`: the second sync must fail with a
/// line naming the plugin and containing `expect`, and leave the store as the first left it.
/// Returns that failed run's output.
fn contained(mode: &str, extra: &str, expect: &str) -> std::process::Output {
    contained_with(mode, extra, "", expect)
}

/// [`contained`] with `config` lines added to the guest's `[plugins.hostile.config]`.
fn contained_with(mode: &str, extra: &str, config: &str, expect: &str) -> std::process::Output {
    let env = Env::new();
    let section = |mode: &str, extra: &str| {
        format!(
            "[plugins.hostile]\npath = '{}'\n{extra}\n[plugins.hostile.config]\nmode = '{mode}'\n{config}\n[plugins.hostile.secrets]\ntoken = 'sekrit-token-123'\n",
            s(&guest("dunwell_guest_hostile"))
        )
    };
    env.set_config(&section("good", ""));
    env.ok(&["sync"]);
    let before = invoices(&env);
    assert_eq!(before.len(), 1);
    env.set_config(&section(mode, extra));
    let started = std::time::Instant::now();
    let out = env.run(&["sync", "hostile"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "mode {mode} must fail");
    assert!(err.contains("plugin hostile"), "mode {mode}: {err}");
    assert!(err.contains(expect), "mode {mode}: expected `{expect}` in\n{err}");
    assert!(!err.contains("sekrit-token-123"), "secrets are never logged: {err}");
    assert!(started.elapsed().as_secs() < 30, "mode {mode} took {:?}", started.elapsed());
    let store = Store::open(&env.db()).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert_eq!(invoices(&env), before, "mode {mode} changed the store");
    let status = store.sync_status("hostile").unwrap().unwrap();
    assert_eq!(status.failures, 1, "mode {mode}");
    assert!(status.last_error.unwrap_or_default().contains(expect));
    out
}

#[test]
fn hostile_endless_loop_is_stopped() {
    contained("loop", "cpu_ms = 300", "CPU budget of 300 ms exceeded");
}

#[test]
fn hostile_memory_bomb_is_stopped() {
    contained("bomb", "memory_mb = 16", "memory limit of 16 MiB exceeded");
}

#[test]
fn hostile_panic_is_stopped() {
    contained("panic", "", "it panicked");
}

#[test]
fn hostile_sleeper_hits_the_wall_clock() {
    contained("sleep", "timeout_s = 1", "wall-clock timeout of 1s exceeded");
}

#[test]
fn hostile_disallowed_host_is_denied() {
    contained("exfil", "allowed_hosts = ['127.0.0.1']", "host `evil.example.com:443` is not allowed");
}

#[test]
fn hostile_file_access_finds_nothing() {
    contained("files", "", "cannot read /etc/passwd");
}

#[test]
fn hostile_raw_socket_reaches_nothing() {
    // A port that would accept: the guest's connect must never arrive.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    contained_with(
        "socket",
        "",
        &format!("addr = '{addr}'"),
        &format!("raw socket to {addr}: cannot connect"),
    );
    assert!(listener.accept().is_err(), "the guest reached the port");
}

#[test]
fn hostile_stdout_flood_goes_nowhere() {
    // Writing 100 MB takes the guest about 3 s of its budget: room for a loaded machine.
    let out = contained("stdout", "cpu_ms = 30000", "wrote 100 MB to stdout");
    assert!(
        out.stdout.len() < 10_000,
        "{} bytes of plugin output reached dunwell's stdout",
        out.stdout.len()
    );
    assert!(out.stderr.len() < 10_000, "{} bytes reached dunwell's stderr", out.stderr.len());
}

#[test]
fn hostile_sees_no_environment_or_arguments() {
    contained("env", "", "environment: 0 variables, 0 arguments");
}

#[test]
fn hostile_flood_of_records_is_refused() {
    contained("flood", "page_size = 20", "exceeds the limit of 20");
}

#[test]
fn hostile_allowed_name_that_resolves_to_loopback_is_refused() {
    // `localhost` is allowed as a name, but leads to 127.0.0.1 / ::1, which the operator did not
    // allow literally: refused before any connection is made.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    contained_with(
        "huge",
        &format!("allowed_hosts = ['localhost:{port}']"),
        &format!("url = 'https://localhost:{port}/export.json'"),
        "`localhost` resolves to a loopback address",
    );
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "no connection may reach the port: {accepted:?}"
    );
}

#[test]
fn hostile_100_mb_response_is_cut_off() {
    let port = serve(|_, stream| {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n";
        let _ = stream.write_all(head.as_bytes());
        let chunk = vec![b' '; 1 << 16];
        for _ in 0..1600 {
            if stream.write_all(&chunk).is_err() {
                break;
            }
        }
    })
    .port();
    contained_with(
        "huge",
        &format!("allowed_hosts = ['127.0.0.1:{port}']\nmax_response_mb = 1"),
        &format!("url = 'http://127.0.0.1:{port}/export.json'"),
        "larger than 1048576 bytes",
    );
}

// ---- contracts 0.1 and 0.2 side by side --------------------------------------------------

fn legacy_env(extra: &str) -> Env {
    Env::with_config(&format!(
        "[plugins.legacy]\npath = '{}'\n{extra}[plugins.legacy.config]\ncustomer_name = 'Oude Aansluiting BV'\n",
        s(&guest("dunwell_guest_legacy"))
    ))
}

#[test]
fn a_0_1_component_is_checked_and_synced_next_to_0_2_ones() {
    let env = legacy_env("");
    let out = env.ok(&["plugin", "check", s(&guest("dunwell_guest_legacy"))]);
    assert!(out.contains("legacy 0.1.0"), "{out}");
    assert!(out.contains("contract: dunwell:connector@0.1.0"), "{out}");
    assert!(!out.contains("snapshot"), "a 0.1 connector has no snapshots: {out}");
    // The JSON says it too, next to what describe() returned (adapted: snapshot false).
    let check_json = |name: &str| -> serde_json::Value {
        serde_json::from_str(&env.ok(&["plugin", "check", "--format", "json", s(&guest(name))])).unwrap()
    };
    let json = check_json("dunwell_guest_legacy");
    assert_eq!(json["contract"], "dunwell:connector@0.1.0", "{json}");
    assert_eq!((json["name"].as_str(), json["snapshot"].as_bool()), (Some("legacy"), Some(false)), "{json}");
    let json = check_json("dunwell_connector_moneybird");
    assert_eq!(json["contract"], "dunwell:connector@0.2.0", "{json}");

    // A sync imports its records, through the 0.1 host imports (its config value names the
    // customer) and the adapter (no paid dates).
    let out = env.ok(&["sync", "legacy"]);
    assert!(out.contains("customers: 1 added"), "{out}");
    assert!(out.contains("invoices:  2 added"), "{out}");
    assert!(out.contains("payments:  1 added"), "{out}");
    let customers = Store::open(&env.db()).unwrap().load_customers().unwrap();
    assert_eq!(customers[0].name, "Oude Aansluiting BV");
    let stored: Vec<(String, String, Option<String>)> = invoices(&env)
        .into_iter()
        .map(|i| (i.number, i.open_amount.to_string(), i.paid_date.map(|d| d.to_string())))
        .collect();
    assert_eq!(
        stored,
        [("LG-1".to_string(), "100.00".to_string(), None), ("LG-2".to_string(), "0.00".to_string(), None)]
    );
    // From its cursor it has nothing new; its records stay.
    let out = env.ok(&["sync", "legacy"]);
    assert!(out.contains("invoices:  0 added, 0 changed, 0 unchanged, 0 removed"), "{out}");
    assert_eq!(invoices(&env).len(), 2);
    // `plugin run` prints its records in the host's form (0.2: `paid_date` null).
    let run: serde_json::Value = serde_json::from_str(&env.ok(&[
        "plugin",
        "run",
        s(&guest("dunwell_guest_legacy")),
        "--what",
        "invoices",
    ]))
    .unwrap();
    assert_eq!(run["invoices"][0]["items"][1]["status"], "Paid", "{run}");
    assert!(run["invoices"][0]["items"][1]["paid_date"].is_null(), "{run}");
}

#[test]
fn a_0_1_component_compiled_ahead_of_time_is_loaded_from_the_cache() {
    use crate::daemon::{start, ADMIN};
    let env = Env::with_config(&format!(
        "{ADMIN}[plugins.legacy]\npath = '{}'\n",
        s(&guest("dunwell_guest_legacy"))
    ));
    let out = env.ok(&["plugin", "compile"]);
    assert!(out.contains("legacy: compiled into "), "{out}");
    let log = start(&env, &["--clock-start", "2026-12-01T06:00:00Z", "--clock-speed", "60"], &[])
        .stop_after_first_sync();
    let loaded =
        log.lines().find(|l| l.contains("plugin loaded plugin=legacy")).unwrap_or_else(|| panic!("{log}"));
    assert!(loaded.contains("compiled_ahead=true"), "{loaded}");
    assert!(!log.contains("sync failed"), "{log}");
    assert_eq!(invoices(&env).len(), 2, "{log}");
}

#[test]
fn moneybird_paid_at_is_the_paid_date_when_no_payment_dates_it() {
    // Paid at the source, the payment not (yet) booked: Moneybird's paid_at is all there is.
    let mut paid =
        mb_invoice(1, "2026-0001", "paid", "0.0", "2026-11-03T09:00:00.000Z", serde_json::json!([]));
    paid["paid_at"] = "2026-11-03T08:59:00.000Z".into();
    let at_source = Arc::new(Mutex::new(vec![paid]));
    let (port, _) = fake_moneybird(at_source);
    let env = moneybird_env(port, "");
    let out = env.ok(&["sync", "moneybird"]);
    assert!(out.contains("invoices:  1 added"), "{out}");
    let stored = invoices(&env);
    assert!(stored[0].open_amount.is_zero(), "{:?}", stored[0]);
    assert_eq!(stored[0].paid_date.map(|d| d.to_string()).as_deref(), Some("2026-11-03"));
}

// ---- the host checks what it can (issue 14 §2) -------------------------------------------

/// The moneybird connector against the fake server on `port`, without `[plugins.moneybird.secrets]`.
fn moneybird_env_without_token(port: u16) -> Env {
    Env::with_config(&format!(
        "[plugins.moneybird]\npath = '{}'\nallowed_hosts = ['127.0.0.1:{port}']\n[plugins.moneybird.config]\nadministration_id = '123'\nbase_url = 'http://127.0.0.1:{port}/api/v2'\n",
        s(&guest("dunwell_connector_moneybird"))
    ))
}

/// Runs dunwell with logging at `info` (what an operator sees by default): the raw output.
fn run_at_info(env: &Env, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dunwell"))
        .arg("--config")
        .arg(env.path().join("dunwell.toml"))
        .args(args)
        .current_dir(env.path())
        .env("DUNWELL_LOG", "info")
        .output()
        .unwrap()
}

#[test]
fn a_required_secret_that_is_not_set_is_named_before_the_connector_runs() {
    let at_source = Arc::new(Mutex::new(vec![mb_invoice(
        1,
        "2026-0001",
        "open",
        "363.0",
        "2026-10-27T07:16:51.000Z",
        serde_json::json!([]),
    )]));
    let (port, hits) = fake_moneybird(at_source);

    // `dunwell sync`: the key and the section to set it in; the source is never asked.
    let env = moneybird_env_without_token(port);
    let err = env.fails(&["sync", "moneybird"]);
    assert!(
        err.contains(
            "error: plugin moneybird cannot run: the required secret `token` is not set (personal API token or OAuth access token (scope sales_invoices)); set it in [plugins.moneybird.secrets]: token = \"...\""
        ),
        "{err}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the connector made no request");
    assert!(invoices(&env).is_empty());
    let status = Store::open(&env.db()).unwrap().sync_status("moneybird").unwrap().unwrap();
    assert_eq!(status.failures, 1, "a failed run like any other: backed off, `dunwell status` shows it");
    assert!(status.last_error.unwrap_or_default().contains("the required secret `token` is not set"));

    // `dunwell plugin run` of the file alone: the flags to pass, every missing key at once.
    let bare = Env::new();
    let file = guest("dunwell_connector_moneybird");
    let err = bare.fails(&["plugin", "run", s(&file)]);
    assert!(
        err.contains("the required config value `administration_id` is not set (the administration (GET /api/v2/administrations.json)); pass --set administration_id=VALUE; the required secret `token` is not set"),
        "{err}"
    );
    assert!(err.contains("pass --secret token=VALUE"), "{err}");
    let base_url = format!("base_url=http://127.0.0.1:{port}/api/v2");
    let allow = format!("127.0.0.1:{port}");
    let given = ["--set", "administration_id=123", "--set", &base_url, "--allow-host", &allow];
    let mut args = vec!["plugin", "run", s(&file)];
    args.extend(given);
    let err = bare.fails(&args);
    assert!(err.contains("`token` is not set"), "{err}");
    assert!(!err.contains("administration_id"), "{err}");
    // The secret given as a config value is found and pointed at.
    let mut misplaced = args.clone();
    misplaced.extend(["--set", "token=mb-token-long"]);
    let err = bare.fails(&misplaced);
    assert!(
        err.contains(
            "it was given with --set, but the connector reads it as a secret: pass --secret token=VALUE"
        ),
        "{err}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "still no request");
    // With everything set it runs (the fake's token is `mb-token`; its first answer is a 429).
    args.extend(["--secret", "token=mb-token", "--what", "invoices"]);
    let out = bare.ok(&args);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["invoices"][0]["items"][0]["number"], "2026-0001", "{out}");
}

#[test]
fn a_failed_sync_prints_its_error_once() {
    // Nothing listens on the port: the connection is refused.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let env = moneybird_env(port, "");
    let out = run_at_info(&env, &["sync", "moneybird"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let needle = "could not pull customers: the source failed: request to";
    assert_eq!(err.matches(needle).count(), 1, "once:\n{err}");
    assert_eq!(err.matches("Connection refused").count(), 1, "once:\n{err}");
    assert!(err.contains(&format!("error: plugin moneybird {needle}")), "{err}");
    assert!(err.contains("1 failure(s) in a row; next attempt not before"), "the back-off is said: {err}");

    // A host the connector may not reach, and a secret that is not set: once each too.
    let env = Env::with_config(&format!(
        "[plugins.hostile]\npath = '{}'\nallowed_hosts = ['127.0.0.1']\n[plugins.hostile.config]\nmode = 'exfil'\n",
        s(&guest("dunwell_guest_hostile"))
    ));
    let out = run_at_info(&env, &["sync", "hostile"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(err.matches("host `evil.example.com:443` is not allowed").count(), 1, "once:\n{err}");
    let env = moneybird_env_without_token(port);
    let out = run_at_info(&env, &["sync", "moneybird"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("the required secret `token` is not set").count(), 1, "once:\n{err}");
}

#[test]
fn invoices_lists_what_a_sync_brought_in() {
    let (env, _) = ubl_env("");
    assert_eq!(
        env.ok(&["invoices"]).trim(),
        "no invoices in the store; bring them in with `dunwell import csv DIR` or `dunwell sync`"
    );
    env.ok(&["sync"]);
    let table = env.ok(&["invoices"]);
    let lines: Vec<&str> = table.lines().collect();
    let cells = |l: &str| {
        l.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect::<Vec<_>>()
    };
    assert_eq!(
        cells(lines[0]),
        ["NUMBER", "CUSTOMER", "ISSUED", "DUE", "CURRENCY", "TOTAL", "OPEN", "PAID", "SOURCE"]
    );
    let numbers: Vec<String> = lines[1..5].iter().map(|l| cells(l)[0].clone()).collect();
    assert_eq!(numbers, ["12115118", "CN-Snippet1", "Snippet1", "Vat-Z"], "{table}");
    assert_eq!(
        cells(lines[1])[1..],
        ["10202", "2015-01-09", "2015-01-09", "EUR", "227.00", "227.00", "-", "plugin:ubl"].map(String::from),
        "{table}"
    );
    assert!(lines.last().unwrap().starts_with("4 invoices, 2 open ("), "{table}");

    // --source takes a plugin's name (or plugin:NAME) or csv; --customer and --open narrow it.
    let json: serde_json::Value = serde_json::from_str(&env.ok(&[
        "invoices",
        "--source",
        "ubl",
        "--customer",
        "10202",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(
        json,
        serde_json::json!([{"number": "12115118", "customer_id": "10202", "issue_date": "2015-01-09",
            "due_date": "2015-01-09", "currency": "EUR", "total": "227.00", "open_amount": "227.00",
            "paid_date": null, "payment_reference": "Deb. 10202 / Fact. 12115118", "source": "plugin:ubl",
            "source_id": "nlcius-SI-UBL-2.0_ok_base.xml"}])
    );
    let open = env.ok(&["invoices", "--source", "plugin:ubl", "--open", "--format", "json"]);
    let open: Vec<String> = serde_json::from_str::<Vec<serde_json::Value>>(&open)
        .unwrap()
        .iter()
        .map(|i| i["number"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        open,
        ["12115118", "Vat-Z"],
        "Snippet1 is paid by its credit note, the credit note is not open"
    );
    assert_eq!(
        env.ok(&["invoices", "--source", "csv"]).trim(),
        "no invoices from csv in the store (it holds invoices from plugin:ubl)"
    );
    assert_eq!(
        env.ok(&["invoices", "--open", "--customer", "nobody"]).trim(),
        "no open invoices of customer nobody in the store (it holds invoices from plugin:ubl)"
    );
}
