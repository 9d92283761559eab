//! The invariants of ARCHITECTURE.md, each tested where it could break: a plugin's cursors
//! move only when its run is committed (not when a pull fails on a later page, not when the
//! write fails), a full pull larger than one run's budget goes on over several syncs and
//! reconciles only when its last page is in, and a plugin without `allowed_hosts` reaches no
//! host at all.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dunwell::store::Store;
use serde_json::{json, Value};

use crate::fake_http::{respond, serve};
use crate::plugins::guest;
use crate::{s, Env};

/// What the fake Moneybird holds; it can fail every request for a second page of sales
/// invoices (HTTP 500).
#[derive(Default)]
struct Source {
    invoices: Mutex<Vec<Value>>,
    fail_second_page: AtomicBool,
    /// Requests answered with the failure.
    failed: AtomicUsize,
}

/// `items[(page - 1) * per ..]`, at most `per` of them, as JSON.
fn page_of(items: &[Value], page: usize, per: usize) -> String {
    let slice: Vec<&Value> = items.iter().skip(page.saturating_sub(1) * per).take(per).collect();
    serde_json::to_string(&slice).unwrap()
}

/// A fake Moneybird API (administration 123) on 127.0.0.1: one contact, the invoices of
/// `source` filtered by `updated_after` and paged by `page` / `per_page`. Returns its port.
fn fake_moneybird(source: Arc<Source>) -> u16 {
    serve(move |req, stream| {
        let page: usize = req.query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let per: usize = req.query.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(100);
        let (status, body) = match req.path.as_str() {
            "/api/v2/123/contacts.json" => (
                "200 OK",
                page_of(&[json!({"id": "3001", "company_name": "Foobar Holding B.V."})], page, per),
            ),
            "/api/v2/123/sales_invoices.json"
                if page >= 2 && source.fail_second_page.load(Ordering::SeqCst) =>
            {
                source.failed.fetch_add(1, Ordering::SeqCst);
                ("500 Internal Server Error", r#"{"error":"page 2 is on fire"}"#.to_string())
            }
            "/api/v2/123/sales_invoices.json" => {
                let since = req.query.get("filter").and_then(|f| {
                    f.split(',').find_map(|p| p.strip_prefix("updated_after:").map(str::to_string))
                });
                let all = source.invoices.lock().unwrap();
                let changed: Vec<Value> = all
                    .iter()
                    .filter(|i| since.as_deref().is_none_or(|s| i["updated_at"].as_str().unwrap() > s))
                    .cloned()
                    .collect();
                ("200 OK", page_of(&changed, page, per))
            }
            _ => ("404 Not Found", "{}".to_string()),
        };
        respond(stream, status, &[], &body);
    })
    .port()
}

/// A Moneybird sales invoice of 363.00 of contact 3001.
fn mb_invoice(n: u32, unpaid: &str, updated: &str, payments: Value) -> Value {
    json!({"id": format!("9000{n}"), "contact_id": "3001", "invoice_id": format!("2026-000{n}"),
        "state": if unpaid == "0.0" { "paid" } else { "open" }, "invoice_date": "2026-10-27",
        "due_date": "2026-11-10", "payment_reference": null, "currency": "EUR",
        "updated_at": updated, "payments": payments, "total_unpaid": unpaid,
        "total_price_incl_tax": "363.0"})
}

/// The moneybird connector pointed at 127.0.0.1:`port`, two records a page; `allowed_hosts`
/// only when given.
fn moneybird_env(port: u16, allowed_hosts: Option<&str>) -> Env {
    Env::with_config(&moneybird_config(port, allowed_hosts, ""))
}

/// The `[plugins.moneybird]` section of [`moneybird_env`], with `extra` lines in it.
fn moneybird_config(port: u16, allowed_hosts: Option<&str>, extra: &str) -> String {
    let allowed = allowed_hosts.map(|h| format!("allowed_hosts = ['{h}']\n")).unwrap_or_default();
    format!(
        "[plugins.moneybird]\npath = '{}'\n{allowed}page_size = 2\n{extra}[plugins.moneybird.config]\nadministration_id = '123'\nbase_url = 'http://127.0.0.1:{port}/api/v2'\n[plugins.moneybird.secrets]\ntoken = 'mb-token'\n",
        s(&guest("dunwell_connector_moneybird"))
    )
}

/// The stored cursors of the moneybird plugin, per entity.
fn cursors(env: &Env) -> Vec<(&'static str, Option<String>)> {
    let store = Store::open(&env.db()).unwrap();
    ["customers", "invoices", "payments"]
        .into_iter()
        .map(|entity| (entity, store.sync_cursor("moneybird", entity).unwrap()))
        .collect()
}

/// Open amounts by invoice number.
fn open_amounts(env: &Env) -> Vec<(String, String)> {
    let invoices = Store::open(&env.db()).unwrap().load_invoices().unwrap();
    invoices.into_iter().map(|i| (i.number, i.open_amount.to_string())).collect()
}

/// Three open invoices at the source, synced once: every entity has a cursor.
fn synced_once() -> (Env, Arc<Source>) {
    let source = Arc::new(Source::default());
    *source.invoices.lock().unwrap() = invoices_at_source(1..=3);
    let port = fake_moneybird(source.clone());
    let env = moneybird_env(port, Some(&format!("127.0.0.1:{port}")));
    let out = env.ok(&["sync", "moneybird"]);
    assert!(out.contains("invoices:  3 added"), "{out}");
    assert!(cursors(&env).iter().all(|(_, c)| c.is_some()), "{:?}", cursors(&env));
    (env, source)
}

#[test]
fn cursors_stay_when_a_pull_fails_after_its_first_page() {
    let (env, source) = synced_once();
    let before = (cursors(&env), open_amounts(&env));
    // Three invoices changed since: the first page (two of them, and a cursor to the second
    // page) arrives, the second page fails.
    source
        .invoices
        .lock()
        .unwrap()
        .extend((4..=6).map(|n| mb_invoice(n, "363.0", &format!("2026-11-0{n}T09:00:00.000Z"), json!([]))));
    source.fail_second_page.store(true, Ordering::SeqCst);
    let err = env.fails(&["sync", "moneybird"]);
    assert!(err.contains("plugin moneybird"), "{err}");
    assert!(err.contains("500"), "{err}");
    assert!(source.failed.load(Ordering::SeqCst) >= 1, "the second page was asked for");
    assert_eq!(
        (cursors(&env), open_amounts(&env)),
        before,
        "a failed run moves no cursor and stores nothing"
    );
    let status = Store::open(&env.db()).unwrap().sync_status("moneybird").unwrap().unwrap();
    assert_eq!(status.failures, 1);

    // The source recovers: the next sync starts from the same cursors and gets all three.
    source.fail_second_page.store(false, Ordering::SeqCst);
    let out = env.ok(&["sync", "moneybird"]);
    assert!(out.contains("invoices:  3 added, 0 changed, 0 unchanged"), "{out}");
    let after = cursors(&env);
    assert_ne!(after[1], before.0[1], "a committed run moves the invoices' cursor");
    assert_eq!(open_amounts(&env).len(), 6);
}

#[test]
fn cursors_stay_when_the_write_fails() {
    let (env, source) = synced_once();
    let before = (cursors(&env), open_amounts(&env));
    // Invoice 2 is paid at the source; storing its payment fails inside the write.
    source.invoices.lock().unwrap()[1] = mb_invoice(
        2,
        "0.0",
        "2026-11-02T09:00:00.000Z",
        json!([{"id": "77001", "price": "363.0", "payment_date": "2026-11-02"}]),
    );
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER refuse_payments BEFORE INSERT ON payments
         BEGIN SELECT RAISE(ABORT, 'the test refuses every payment'); END",
    )
    .unwrap();
    drop(conn);
    let err = env.fails(&["sync", "moneybird"]);
    assert!(err.contains("the test refuses every payment"), "the write itself failed: {err}");
    assert_eq!(
        (cursors(&env), open_amounts(&env)),
        before,
        "a failed write moves no cursor and stores nothing"
    );

    // Once the write can succeed, the same change arrives and the cursors move.
    rusqlite::Connection::open(env.db()).unwrap().execute_batch("DROP TRIGGER refuse_payments").unwrap();
    let out = env.ok(&["sync", "moneybird"]);
    assert!(out.contains("invoices:  0 added, 1 changed"), "{out}");
    assert!(out.contains("payments:  1 added"), "{out}");
    let after = cursors(&env);
    assert_ne!(after[1], before.0[1], "{after:?}");
    assert_ne!(after[2], before.0[2], "{after:?}");
    let paid = open_amounts(&env).into_iter().find(|(n, _)| n == "2026-0002").unwrap();
    assert!(paid.1.parse::<rust_decimal::Decimal>().unwrap().is_zero(), "{paid:?}");
}

/// A port of 127.0.0.1 that counts the connections made to it and answers each request
/// with an empty list.
fn counting_server() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && !line.trim().is_empty() {
                line.clear();
            }
            respond(&mut stream, "200 OK", &[], "[]");
        }
    });
    (port, connections)
}

#[test]
fn a_plugin_without_allowed_hosts_reaches_no_host() {
    let (port, connections) = counting_server();
    let env = moneybird_env(port, None);
    let err = env.fails(&["sync", "moneybird"]);
    assert!(err.contains("plugin moneybird"), "{err}");
    assert!(err.contains(&format!("host `127.0.0.1:{port}` is not allowed")), "{err}");
    assert_eq!(connections.load(Ordering::SeqCst), 0, "no connection may reach the server");
    let status = Store::open(&env.db()).unwrap().sync_status("moneybird").unwrap().unwrap();
    assert_eq!(status.failures, 1);
    assert!(cursors(&env).iter().all(|(_, c)| c.is_none()));
}

/// Invoice numbers stored, in order.
fn numbers(env: &Env) -> Vec<String> {
    open_amounts(env).into_iter().map(|(n, _)| n).collect()
}

/// The full pull under way: (entity, cursor, done) per entity.
fn under_way(env: &Env) -> Vec<(String, Option<String>, bool)> {
    let store = Store::open(&env.db()).unwrap();
    store.full_pull("moneybird").unwrap().into_iter().map(|e| (e.entity, e.cursor, e.done)).collect()
}

/// Open invoices of 363.00, invoice n changed at 07:16:5n.
fn invoices_at_source(range: std::ops::RangeInclusive<u32>) -> Vec<Value> {
    range.map(|n| mb_invoice(n, "363.0", &format!("2026-10-27T07:16:5{n}.000Z"), json!([]))).collect()
}

#[test]
fn a_full_pull_larger_than_the_request_budget_goes_on_over_several_syncs() {
    // Seven invoices, synced whole once. Then invoice 1 is deleted at the source and invoice
    // 8 added. With 4 requests a run and two invoices a page, a full pull takes three runs:
    // contacts (1 request) and invoices (4 pages) and payments (the same 4 pages).
    let source = Arc::new(Source::default());
    *source.invoices.lock().unwrap() = invoices_at_source(1..=7);
    let port = fake_moneybird(source.clone());
    let env = moneybird_env(port, Some(&format!("127.0.0.1:{port}")));
    let out = env.ok(&["sync", "moneybird"]);
    assert!(out.contains("(full sync)") && out.contains("invoices:  7 added"), "{out}");
    let first_full =
        Store::open(&env.db()).unwrap().sync_status("moneybird").unwrap().unwrap().last_full_sync;
    {
        let mut at_source = source.invoices.lock().unwrap();
        at_source.remove(0);
        at_source.push(mb_invoice(8, "363.0", "2026-10-27T07:17:00.000Z", json!([])));
    }
    env.set_config(&moneybird_config(port, Some(&format!("127.0.0.1:{port}")), "max_requests = 4\n"));

    // Run 1: the contacts and three pages of invoices, then the budget is used up. What came
    // in is stored, nothing is removed yet (invoice 1 might be on a page still to come), and
    // the run is no failure.
    let out = env.ok(&["sync", "moneybird", "--full"]);
    assert!(!out.contains("(full sync)"), "{out}");
    assert!(
        out.contains("stopped:   invoices after 3 pages (6 records): the run's 4 HTTP requests (max_requests) were used up; the full sync goes on from there"),
        "{out}"
    );
    assert!(out.contains("invoices:  0 added, 0 changed, 6 unchanged, 0 removed"), "{out}");
    assert!(numbers(&env).contains(&"2026-0001".to_string()));
    let state = under_way(&env);
    assert_eq!(state.len(), 2, "{state:?}");
    assert_eq!((state[0].0.as_str(), state[0].2), ("customers", true), "{state:?}");
    assert_eq!(
        (state[1].0.as_str(), state[1].1.as_deref(), state[1].2),
        ("invoices", Some("|4|2026-10-27T07:16:57.000Z"), false)
    );
    let status = Store::open(&env.db()).unwrap().sync_status("moneybird").unwrap().unwrap();
    assert_eq!((status.failures, &status.last_full_sync), (0, &first_full));

    // Run 2 (an ordinary sync goes on with the pull): the contacts changed since (1 request),
    // the last page of invoices, which completes their list: invoice 8 arrives and invoice 1,
    // which no run of the pull saw, goes; then the first page of payments.
    let out = env.ok(&["sync", "moneybird"]);
    assert!(out.contains("invoices:  1 added, 0 changed, 0 unchanged, 1 removed"), "{out}");
    assert!(out.contains("stopped:   payments after 2 pages (0 records)"), "{out}");
    assert!(!out.contains("(full sync)"), "{out}");
    assert_eq!(numbers(&env), (2..=8).map(|n| format!("2026-000{n}")).collect::<Vec<_>>());

    // Run 3 finishes the payments: the pull is complete and recorded as a full sync.
    let out = env.ok(&["sync", "moneybird"]);
    assert!(out.contains("moneybird (full sync):"), "{out}");
    assert!(!out.contains("stopped:"), "{out}");
    assert!(under_way(&env).is_empty(), "{:?}", under_way(&env));
    let status = Store::open(&env.db()).unwrap().sync_status("moneybird").unwrap().unwrap();
    assert_ne!(status.last_full_sync, first_full);
    // The next run is an ordinary incremental one again.
    let out = env.ok(&["sync", "moneybird"]);
    assert!(!out.contains("(full sync)") && !out.contains("stopped:"), "{out}");
}

#[test]
fn a_full_pull_that_fails_part_way_keeps_its_pages_and_resumes_there() {
    // The first sync of seven invoices is a full one; page 2 of the invoices fails.
    let source = Arc::new(Source::default());
    *source.invoices.lock().unwrap() = invoices_at_source(1..=7);
    source.fail_second_page.store(true, Ordering::SeqCst);
    let port = fake_moneybird(source.clone());
    let env = moneybird_env(port, Some(&format!("127.0.0.1:{port}")));
    let err = env.fails(&["sync", "moneybird"]);
    assert!(err.contains("500"), "{err}");
    assert!(
        err.contains("the 2 invoices pulled before it were stored, and the next sync resumes there"),
        "{err}"
    );
    assert_eq!(numbers(&env), ["2026-0001", "2026-0002"]);
    let status = Store::open(&env.db()).unwrap().sync_status("moneybird").unwrap().unwrap();
    assert_eq!((status.failures, status.last_full_sync), (1, None), "a failure, with its back-off");
    assert_eq!(under_way(&env)[1].1.as_deref(), Some("|2|2026-10-27T07:16:52.000Z"));

    // The source recovers: the next sync asks for page 2 on, not page 1 again.
    source.fail_second_page.store(false, Ordering::SeqCst);
    let out = env.ok(&["sync", "moneybird"]);
    assert!(out.contains("invoices:  5 added, 0 changed, 0 unchanged, 0 removed"), "{out}");
    assert!(out.contains("moneybird (full sync):"), "{out}");
    assert_eq!(numbers(&env).len(), 7);
    assert!(under_way(&env).is_empty());
}
