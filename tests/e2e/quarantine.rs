//! Quarantine end to end: one record a sync cannot use is set aside, listed and tried again,
//! and never stops the rest of the run from landing (issue 8). Real components, real files:
//! OpenPEPPOL's own BIS 3 examples, several of which share one invoice number.

use std::path::Path;
use std::sync::{Arc, Mutex};

use dunwell::store::Store;
use serde_json::Value;

use crate::plugins::{fake_moneybird, guest, invoices, mb_invoice, moneybird_env};
use crate::{s, testdata, Env};

fn ubl_inbox() -> (Env, std::path::PathBuf) {
    let env = Env::with_config(&format!(
        "[plugins.ubl]\npath = '{}'\ndirectory = 'inbox'\n",
        s(&guest("dunwell_connector_ubl"))
    ));
    let inbox = env.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    (env, inbox)
}

/// Copies a fixture into the inbox (from connectors/ubl or connectors/peppol-more).
fn put(inbox: &Path, name: &str) {
    let from = ["connectors/ubl", "connectors/peppol-more"]
        .iter()
        .map(|d| testdata(d).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no fixture {name}"));
    std::fs::copy(from, inbox.join(name)).unwrap();
}

fn quarantine(env: &Env) -> Vec<Value> {
    let out = env.ok(&["quarantine", "--format", "json"]);
    serde_json::from_str::<Value>(&out).unwrap().as_array().unwrap().clone()
}

fn sync_json(env: &Env, args: &[&str]) -> Value {
    let mut all = vec!["sync"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let out = env.ok(&all);
    serde_json::from_str::<Value>(&out).unwrap()[0].clone()
}

#[test]
fn peppol_examples_negative_invoices_and_repeated_numbers() {
    let (env, inbox) = ubl_inbox();
    put(&inbox, "peppol-bis3-vat-category-E.xml");
    put(&inbox, "nlcius-SI-UBL-2.0_ok_base.xml");
    let first = sync_json(&env, &["ubl"]);
    assert_eq!((first["invoices"]["added"].as_u64(), first["quarantined"].as_u64()), (Some(2), Some(0)));

    // OpenPEPPOL's examples: Vat-Z again (vat-category-Z), Snippet1 twice (base-example and
    // Allowance-example), a negative invoice correcting Snippet1, and a torn file.
    for name in [
        "peppol-bis3-vat-category-Z.xml",
        "peppol-bis3-base-example.xml",
        "peppol-bis3-Allowance-example.xml",
        "peppol-bis3-base-negative-inv-correction.xml",
    ] {
        put(&inbox, name);
    }
    std::fs::write(inbox.join("torn.xml"), "<Invoice><cbc:ID>1</cbc:ID>").unwrap();
    let out = env.ok(&["sync", "ubl", "--full"]);
    assert!(out.contains("quarantine: 5 quarantined, 0 released"), "{out}");
    // The full sync removed nothing: Vat-Z keeps the version stored before.
    assert!(out.contains("invoices:  1 added, 0 changed, 1 unchanged, 0 removed"), "{out}");
    let stored = invoices(&env);
    let numbers: Vec<&str> = stored.iter().map(|i| i.number.as_str()).collect();
    assert_eq!(numbers, ["12115118", "CN-Correction1", "Vat-Z"]);
    let cn = stored.iter().find(|i| i.number == "CN-Correction1").unwrap();
    assert_eq!(cn.total.to_string(), "-1656.25", "the negative invoice is kept as a credit note");

    let q = quarantine(&env);
    let rows: Vec<(&str, &str, &str)> = q
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["field"].as_str().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(rows.len(), 5, "{q:?}");
    assert_eq!(
        rows[0],
        (
            "peppol-bis3-Allowance-example.xml",
            "number",
            "invoice number Snippet1 appears 2 times in one pull: here and in peppol-bis3-base-example.xml; neither is stored until one is corrected"
        )
    );
    assert_eq!(rows[1].0, "peppol-bis3-base-example.xml");
    assert_eq!(
        rows[2],
        (
            "peppol-bis3-vat-category-E.xml",
            "number",
            "invoice number Vat-Z appears 2 times in one pull: here and in peppol-bis3-vat-category-Z.xml; neither is stored until one is corrected"
        )
    );
    assert_eq!(rows[3].0, "peppol-bis3-vat-category-Z.xml");
    assert_eq!((rows[4].0, rows[4].1), ("torn.xml", "total"));
    assert!(
        rows[4].2.starts_with("invoice torn.xml: the connector could not read it: not well-formed XML"),
        "{}",
        rows[4].2
    );
    assert!(q.iter().all(|r| r["plugin"] == "ubl" && r["entity"] == "invoices" && r["attempts"] == 1));
    let table = env.ok(&["quarantine"]);
    assert!(table.contains("5 quarantined records"), "{table}");

    // An incremental sync with nothing changed still looks at them again.
    let again = sync_json(&env, &["ubl"]);
    assert_eq!((again["quarantined"].as_u64(), again["invoices"]["removed"].as_u64()), (Some(5), Some(0)));
    assert!(quarantine(&env).iter().all(|r| r["attempts"] == 2));

    // Fixed at the source: the second Snippet1, the second Vat-Z and the torn file go.
    for name in ["peppol-bis3-Allowance-example.xml", "peppol-bis3-vat-category-Z.xml", "torn.xml"] {
        std::fs::remove_file(inbox.join(name)).unwrap();
    }
    let fixed = sync_json(&env, &["ubl"]);
    assert_eq!((fixed["quarantined"].as_u64(), fixed["released"].as_u64()), (Some(0), Some(5)), "{fixed}");
    assert!(quarantine(&env).is_empty());
    assert_eq!(env.ok(&["quarantine"]).trim(), "nothing is quarantined");
    let snippet = invoices(&env).into_iter().find(|i| i.number == "Snippet1").unwrap();
    assert_eq!(snippet.open_amount.to_string(), "0.00", "the negative invoice is deducted from Snippet1");
}

#[test]
fn one_malformed_moneybird_invoice_does_not_hold_back_the_others() {
    let list: Vec<Value> = (1..=3)
        .map(|i| {
            mb_invoice(
                i,
                &format!("2026-000{i}"),
                "open",
                "363.0",
                &format!("2026-10-27T07:16:5{i}.000Z"),
                Value::Array(vec![]),
            )
        })
        .collect();
    let at_source = Arc::new(Mutex::new(list));
    let (port, _) = fake_moneybird(at_source.clone());
    let env = moneybird_env(port, "");
    env.ok(&["sync", "moneybird"]);

    // Invoice 1 breaks at the source (no due date); invoice 2 is paid meanwhile.
    {
        let mut all = at_source.lock().unwrap();
        all[0]["due_date"] = Value::Null;
        all[0]["updated_at"] = "2026-11-02T08:00:00.000Z".into();
        all[1] = mb_invoice(
            2,
            "2026-0002",
            "paid",
            "0.0",
            "2026-11-02T09:00:00.000Z",
            serde_json::json!([{"id": "370131013361206478", "price": "363.0", "payment_date": "2026-11-02"}]),
        );
    }
    let out = env.ok(&["sync", "moneybird"]);
    assert!(out.contains("quarantine: 1 quarantined"), "{out}");
    let paid = invoices(&env).into_iter().find(|i| i.number == "2026-0002").unwrap();
    assert_eq!(
        (paid.open_amount.to_string(), paid.paid_date.map(|d| d.to_string())),
        ("0.00".into(), Some("2026-11-02".into()))
    );
    let q = quarantine(&env);
    assert_eq!(q.len(), 1);
    assert_eq!(
        (q[0]["id"].as_str(), q[0]["record"].as_str()),
        (Some("369764595231884301"), Some("2026-0001"))
    );
    assert_eq!(
        q[0]["reason"],
        "invoice 2026-0001: the connector could not read it: field `due_date` is null, not a text"
    );
    // What the store held for invoice 1 stays, and a full sync keeps it too.
    env.ok(&["sync", "moneybird", "--full"]);
    assert!(invoices(&env).iter().any(|i| i.number == "2026-0001" && i.due_date.to_string() == "2026-11-10"));

    // Repaired at the source: it lands and leaves the quarantine.
    {
        let mut all = at_source.lock().unwrap();
        all[0]["due_date"] = "2026-11-17".into();
        all[0]["updated_at"] = "2026-11-03T08:00:00.000Z".into();
    }
    let out = env.ok(&["sync", "moneybird"]);
    assert!(out.contains("quarantine: 0 quarantined, 1 released"), "{out}");
    assert!(quarantine(&env).is_empty());
    let status = Store::open(&env.db()).unwrap().sync_status("moneybird").unwrap().unwrap();
    assert_eq!(status.failures, 0);
    assert!(invoices(&env).iter().any(|i| i.number == "2026-0001" && i.due_date.to_string() == "2026-11-17"));
}

fn hostile(env: &Env, mode: &str) {
    env.set_config(&format!(
        "[plugins.hostile]\npath = '{}'\n[plugins.hostile.config]\nmode = '{mode}'\n",
        s(&guest("dunwell_guest_hostile"))
    ));
}

#[test]
fn hostile_garbage_amounts_and_dates_are_quarantined_not_stored() {
    let env = Env::new();
    hostile(&env, "good");
    env.ok(&["sync"]);
    let before = invoices(&env);
    hostile(&env, "garbage");
    let out = env.ok(&["sync", "hostile"]);
    assert!(out.contains("quarantine: 1 quarantined"), "{out}");
    assert_eq!(invoices(&env), before, "what the store held for H-1 stays");
    let q = quarantine(&env);
    assert_eq!(
        (q[0]["id"].as_str(), q[0]["record"].as_str(), q[0]["field"].as_str()),
        (Some("h1"), Some("H-1"), Some("total"))
    );
    assert!(
        q[0]["reason"].as_str().unwrap().starts_with("invoice H-1: total `1e5` is not a decimal amount"),
        "{q:?}"
    );
    let status = Store::open(&env.db()).unwrap().sync_status("hostile").unwrap().unwrap();
    assert_eq!(status.failures, 0, "a bad record is not a failed run");
}
