//! Connector plugin speed: `cargo bench -p dunwell --bench plugins [-- N]` (needs the guests:
//! `cargo build --release --target wasm32-wasip2 -p dunwell-connector-ubl`).
//!
//! Prints, for N generated UBL invoices (default 3000): the `ubl` connector's own pull (list,
//! read and parse the folder) run natively vs the same pull through the component, their ratio
//! (goal < 2x; the epoch interruption that enforces the CPU limit is ~15% of the component's
//! time); the instantiation time of a pre-instantiated component (goal < 1 ms); compile time;
//! and the sync rate into an on-disk store.

use std::path::{Path, PathBuf};
use std::time::Instant;

use dunwell::plugin::bindings::dunwell::connector::types::PageRequest;
use dunwell::plugin::{Host, PluginSettings};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(3000);
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("target"));
    let wasm = target.join("wasm32-wasip2/release/dunwell_connector_ubl.wasm");
    assert!(
        wasm.is_file(),
        "{} missing: cargo build --release --target wasm32-wasip2 -p dunwell-connector-ubl",
        wasm.display()
    );
    let template =
        std::fs::read_to_string(repo().join("tests/testdata/connectors/ubl/nlcius-SI-UBL-2.0_ok_base.xml"))
            .expect("UBL fixture");
    let dir = tempfile::tempdir().expect("tempdir");
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    for i in 0..n {
        let doc = template
            .replace("<cbc:ID>12115118</cbc:ID>", &format!("<cbc:ID>B{i:06}</cbc:ID>"))
            .replace("<cbc:ID>10202</cbc:ID>", &format!("<cbc:ID>C{:04}</cbc:ID>", i % 500))
            .replace(">227.00<", &format!(">{}.{:02}<", 100 + i % 900, i % 100));
        std::fs::write(inbox.join(format!("inv-{i:06}.xml")), doc).unwrap();
    }
    println!("{n} generated UBL invoices ({} KiB each)", template.len() / 1024);

    // Native: the connector's own code, called directly: the same listing, paging and parsing
    // the component runs, without the sandbox and the component boundary.
    let started = Instant::now();
    let request = dunwell_plugin_sdk::prelude::PageRequest { cursor: None, limit: n as u32 };
    let native_page = dunwell_connector_ubl::pull_invoices_in(&inbox, request).expect("native pull");
    assert_eq!(native_page.items.len(), n);
    let native_total: usize = native_page.items.iter().map(|i| i.number.len()).sum();
    let native = started.elapsed();

    let host = Host::new().expect("engine");
    let mut settings = PluginSettings::for_file(wasm.clone());
    settings.name = "ubl".into();
    settings.directory = Some(inbox.clone());
    settings.limits.page_size = n as u32;
    settings.limits.cpu = std::time::Duration::from_secs(300);
    settings.limits.timeout = std::time::Duration::from_secs(600);
    settings.limits.memory_bytes = 1 << 30;
    let started = Instant::now();
    let plugin = host.load(settings).expect("load");
    let compile = started.elapsed();

    // Component: one page with every invoice (the guest reads and parses the same files).
    let mut run = plugin.start().expect("start");
    let started = Instant::now();
    let page = run.pull_invoices(&PageRequest { cursor: None, limit: n as u32 }).expect("pull");
    let component = started.elapsed();
    assert_eq!(page.items.len(), n);
    assert_eq!(page.items.iter().map(|i| i.number.len()).sum::<usize>(), native_total);

    // Instantiation of the pre-instantiated component: a fresh store + instance per run.
    let rounds = 200;
    let started = Instant::now();
    for _ in 0..rounds {
        drop(plugin.start().expect("start"));
    }
    let instantiate = started.elapsed() / rounds;

    // Sync into an on-disk store: pull (customers + invoices) and write in one transaction.
    let mut store = dunwell::store::Store::open(&dir.path().join("data/dunwell.db")).expect("store");
    let started = Instant::now();
    let summary = dunwell::sync::sync(&mut store, &plugin, chrono::Utc::now()).expect("sync");
    let sync = started.elapsed();
    assert_eq!(summary.invoices.added as usize, n);

    println!("native parse:        {:8.1} ms  ({:.1} µs/invoice)", ms(native), us(native) / n as f64);
    println!("component parse:     {:8.1} ms  ({:.1} µs/invoice)", ms(component), us(component) / n as f64);
    println!("ratio component/native: {:.2}x (goal < 2x)", component.as_secs_f64() / native.as_secs_f64());
    println!("compile component:   {:8.1} ms (once per plugin and process)", ms(compile));
    println!("instantiate (pre):   {:8.3} ms  (goal < 1 ms; mean of {rounds})", ms(instantiate));
    println!(
        "sync into the store: {:8.1} ms  = {:.0} invoices/s ({} customers, {} invoices)",
        ms(sync),
        n as f64 / sync.as_secs_f64(),
        summary.customers.added,
        summary.invoices.added
    );
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn us(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
