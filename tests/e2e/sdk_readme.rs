//! The plugin SDK's README is enough to write a connector: `scripts/readme-connector` builds
//! the README's Acme example exactly as printed (and runs its native test); here the real
//! binary loads that component, runs it against a fake Acme API on 127.0.0.1 and syncs it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use crate::fake_http::{respond, serve};
use crate::{repo, s, testdata, Env};

/// The README's component, built once by the script if `scripts/test` has not built it.
fn acme() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let out = std::process::Command::new(repo().join("scripts/readme-connector"))
                .output()
                .expect("run scripts/readme-connector");
            assert!(
                out.status.success(),
                "building the README's connector failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        })
        .clone()
}

/// A fake Acme API: `GET /v1/invoices` with a bearer token, two invoices on page 1, none after.
/// Returns its address and the request lines it saw.
fn fake_acme() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let addr = serve(move |req, stream| {
        log.lock().unwrap().push(req.line.clone());
        let authorized = req.has_header("authorization: bearer s3cret-acme-token");
        let body = if !authorized {
            ""
        } else if req.line.contains("page=1") {
            r#"[{"id":"a1","number":"AC-1","customer":"C1","date":"2026-09-01","due":"2026-10-01",
                 "total":"121.00","unpaid":"121.00","updated_at":"2026-09-01T10:00:00Z"},
                {"id":"a2","number":"AC-2","customer":"C1","date":"2026-09-15","due":"2026-10-15",
                 "total":"1000.10","unpaid":"400.05","updated_at":"2026-09-16T08:30:00Z"}]"#
        } else {
            "[]"
        };
        let status = if authorized { "200 OK" } else { "401 Unauthorized" };
        respond(stream, status, &[], body);
    });
    (addr.to_string(), seen)
}

#[test]
fn the_readme_connector_loads_runs_and_syncs() {
    let wasm = acme();
    let env = Env::new();
    let out = env.ok(&["plugin", "check", s(&wasm)]);
    assert!(out.contains("acme 0.1.0"), "{out}");
    assert!(out.contains("api.acme.example"), "{out}");
    assert!(out.contains("token"), "{out}");

    let (addr, seen) = fake_acme();
    let base = format!("base_url=http://{addr}/v1");
    let out = env.ok(&[
        "plugin",
        "run",
        s(&wasm),
        "--allow-host",
        &addr,
        "--set",
        &base,
        "--secret",
        "token=s3cret-acme-token",
        "--what",
        "invoices",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let page = &v["invoices"][0];
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{out}");
    assert_eq!(items[1]["number"], "AC-2");
    assert_eq!(items[1]["total"], "1000.10");
    assert_eq!(items[1]["open"], "400.05");
    // Fewer rows than the page size: done, and the cursor remembers the newest change.
    assert_eq!(page["more"], false, "{out}");
    assert_eq!(page["next_cursor"], "2026-09-16T08:30:00Z|1", "{out}");
    assert!(seen.lock().unwrap()[0].starts_with("GET /v1/invoices?updated_after=&page=1&per_page="));

    // Installed as the README's step 5 says, it syncs into the store and the plan uses it.
    env.ok(&["import", "csv", s(&testdata("good"))]);
    env.set_config(&format!(
        "[plugins.acme]\npath = '{}'\nallowed_hosts = [\"{addr}\"]\n[plugins.acme.config]\n\
             base_url = \"http://{addr}/v1\"\n[plugins.acme.secrets]\ntoken = \"s3cret-acme-token\"\n",
        s(&wasm)
    ));
    let out = env.ok(&["sync", "acme"]);
    assert!(out.contains("invoices:  2 added"), "{out}");
    let plan = env.ok(&["plan", "--at", "2026-11-02", "--days", "30", "--format", "json"]);
    let actions: Vec<serde_json::Value> = serde_json::from_str(&plan).unwrap();
    let ac2: Vec<_> = actions.iter().filter(|a| a["invoice_number"] == "AC-2").collect();
    assert!(!ac2.is_empty(), "no action for the synced invoice: {plan}");
    assert_eq!(ac2[0]["open_amount"], "400.05");
}
