//! The security review of the plugin sandbox and sync (issue 9,
//! `../shared/research/plugin-security.md`), one test per finding: the hostile guest's attack
//! modes against the real binary. A plugin stays in its lane: it cannot touch other sources'
//! records (F1), leak its secrets (F2), forge output (F3, F4), smuggle text through the record
//! checks (F5) or exhaust the daemon's memory (F6) and file descriptors (F7).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dunwell::model::{Customer, Invoice};
use dunwell::store::Store;
use serde_json::Value;

use crate::plugins::{guest, invoices};
use crate::{s, testdata, Env};

// ---- helpers ------------------------------------------------------------------------------

fn hostile_wasm() -> String {
    s(&guest("dunwell_guest_hostile")).to_string()
}

/// A `[plugins.<name>]` section running the hostile guest in `mode`; `extra` goes into the
/// section, `config` into its `.config` table, `token` (when given) is its secret `token`.
fn section(name: &str, mode: &str, extra: &str, config: &str, token: Option<&str>) -> String {
    let mut text = format!(
        "[plugins.{name}]\npath = '{}'\n{extra}\n[plugins.{name}.config]\nmode = '{mode}'\n{config}\n",
        hostile_wasm()
    );
    if let Some(token) = token {
        text.push_str(&format!("[plugins.{name}.secrets]\ntoken = '{token}'\n"));
    }
    text
}

/// Runs dunwell with this env's config and `DUNWELL_LOG` set to `log` (`Env::run` uses `warn`),
/// with `NO_COLOR` set: the log's own colours (ANSI SGR codes, which tracing writes even into a
/// pipe) are then off, so every ESC byte in the output comes from somewhere else.
fn run_log(env: &Env, log: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dunwell"))
        .arg("--config")
        .arg(env.path().join("dunwell.toml"))
        .args(args)
        .current_dir(env.path())
        .env("DUNWELL_LOG", log)
        .env("NO_COLOR", "1")
        .output()
        .expect("run dunwell")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn customers(env: &Env) -> Vec<Customer> {
    Store::open(&env.db()).unwrap().load_customers().unwrap()
}

fn customer(env: &Env, id: &str) -> Customer {
    let all = customers(env);
    all.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no customer {id} in {all:?}")).clone()
}

fn invoice(env: &Env, number: &str) -> Invoice {
    let all = invoices(env);
    all.iter()
        .find(|i| i.number == number)
        .unwrap_or_else(|| panic!("no invoice {number} in {all:?}"))
        .clone()
}

fn quarantine(env: &Env) -> Vec<Value> {
    let out = env.ok(&["quarantine", "--format", "json"]);
    serde_json::from_str::<Value>(&out).unwrap().as_array().unwrap().clone()
}

/// The quarantined record of `plugin` with the plugin's id `id`.
fn quarantined<'a>(q: &'a [Value], plugin: &str, id: &str) -> &'a Value {
    q.iter()
        .find(|r| r["plugin"] == plugin && r["id"] == id)
        .unwrap_or_else(|| panic!("no quarantined record {id} of {plugin} in\n{q:#?}"))
}

/// The invoice numbers `dunwell plan --at 2026-12-01 --format json` has actions for.
fn planned(env: &Env) -> Vec<String> {
    let out = env.ok(&["plan", "--at", "2026-12-01", "--format", "json"]);
    let actions: Value = serde_json::from_str(&out).unwrap();
    actions.as_array().unwrap().iter().map(|a| a["invoice_number"].as_str().unwrap().to_string()).collect()
}

/// The lines of a debug-level `stderr` that name plugin `evil` or are the final `error:`
/// (the engine's compiler traces left out), at most 30.
fn plugin_lines(stderr: &str) -> String {
    stderr.lines().filter(|l| names_evil(l) || l.starts_with("error")).take(30).collect::<Vec<_>>().join("\n")
}

/// Whether a log line names plugin `evil` (`evil.example`, a host in the attacker's text, does
/// not count).
fn names_evil(line: &str) -> bool {
    line.replace("evil.example", "").contains("evil")
}

/// The lines of `stderr` that contain `forged` but do not name plugin `evil`, or do not hold
/// `before`, the plugin's text ahead of its newline: lines a plugin's text forged. (tracing
/// appends `plugin="evil"` to the last line of a message, so naming evil alone does not show
/// that the newline was escaped.)
fn forged_lines(stderr: &str, before: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains("forged") && !(names_evil(l) && l.contains(before)))
        .map(|l| l.chars().take(300).collect())
        .collect()
}

/// The control characters (other than newline and tab) and bidi / zero-width characters in
/// `out`, with their positions.
fn raw_controls(out: &str) -> Vec<(usize, char)> {
    out.char_indices()
        .filter(|(_, c)| {
            (c.is_control() && *c != '\n' && *c != '\t')
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

#[test]
fn the_checks_of_this_file_catch_what_the_review_saw() {
    // stderr as the review found it (F3): the plugin's newline starts a line of its own.
    let raw = " INFO all good\nERROR plugin=\"moneybird\" forged: was stopped plugin=\"evil\"\n";
    assert_eq!(forged_lines(raw, "all good").len(), 1, "{raw}");
    let escaped = " INFO all good\\nERROR plugin=\"moneybird\" forged: was stopped plugin=\"evil\"\n";
    assert!(forged_lines(escaped, "all good").is_empty(), "{escaped}");
    let bomb = "ERROR plugin evil could not pull invoices: boom\nERROR plugin=\"moneybird\" forged: token rejected, re-enter it at https://evil.example/login\nxxx plugin=\"evil\"";
    assert_eq!(forged_lines(bomb, "boom").len(), 1);
    // F2: the SDK's `.query()` form of the base64 secret, and its lower-case hex.
    let logged = b"HTTP request to http://127.0.0.1:1/x?t=Zm9v%2BYmFy%2Fc2VjcmV0%3D%3D refused";
    assert_eq!(leaked(logged, SECRETS[1]), ["Zm9v%2BYmFy%2Fc2VjcmV0%3D%3D"]);
    assert_eq!(leaked(b"t=Zm9v%2bYmFy%2fc2VjcmV0%3d%3d", SECRETS[1]).len(), 1);
    assert_eq!(leaked(b"sk%5Flive%5FSuperSecret123", SECRETS[0]).len(), 1);
    assert!(leaked(b"t=*** refused", SECRETS[0]).is_empty());
    // F4, F5: what a terminal would act on.
    assert_eq!(raw_controls("needs hosts: evil.example.com\u{1b}[2K\r"), [(29, '\u{1b}'), (33, '\r')]);
    assert_eq!(raw_controls("INV-\u{202e}fdp.exe 2026-001\u{200b}").len(), 2);
    assert!(raw_controls("INV-\\u{202e}fdp.exe\n\tok").is_empty());
}

// ---- F1: ownership ------------------------------------------------------------------------

/// tests/testdata/good with a hand-set `bad-payer` segment on the victim, C1, written into `env`.
fn victim_export(env: &Env) -> PathBuf {
    let dir = env.path().join("export");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["invoices.csv", "payments.csv"] {
        std::fs::copy(testdata("good").join(f), dir.join(f)).unwrap();
    }
    let text = std::fs::read_to_string(testdata("good/customers.csv")).unwrap();
    let from = "Amsterdam,NL,2019-01-15,transfer,\n";
    assert!(text.contains(from), "C1's row changed in tests/testdata/good/customers.csv");
    std::fs::write(
        dir.join("customers.csv"),
        text.replace(from, "Amsterdam,NL,2019-01-15,transfer,bad-payer\n"),
    )
    .unwrap();
    dir
}

/// An env with the victim's export imported; returns C1 and 2026-001 as imported.
fn victim_env() -> (Env, Customer, Invoice) {
    let env = Env::new();
    env.ok(&["import", "csv", s(&victim_export(&env))]);
    let victim = customer(&env, "C1");
    assert_eq!(
        (victim.email.as_deref(), victim.segment.as_deref()),
        (Some("admin@bakkerijdevries.nl"), Some("bad-payer"))
    );
    assert_eq!(victim.customer_since.map(|d| d.to_string()).as_deref(), Some("2019-01-15"));
    assert!(victim.payment_method.is_some());
    let bill = invoice(&env, "2026-001");
    assert_eq!((bill.total.to_string(), bill.open_amount.to_string()), ("1210.00".into(), "1210.00".into()));
    assert!(planned(&env).contains(&"2026-001".to_string()), "2026-001 is chased before the attack");
    (env, victim, bill)
}

#[test]
fn f1_a_plugin_cannot_take_over_or_remove_another_sources_customer_and_invoice() {
    let (env, victim, bill) = victim_env();
    let victim_config = "victim_customer = 'C1'\nvictim_invoice = '2026-001'";
    env.set_config(&section("evil", "takeover", "", victim_config, None));
    let out = env.run(&["sync", "evil"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "the takeover is refused record by record, not as a failed run:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("quarantine: 2 quarantined"), "{stdout}\n{stderr}");

    let q = quarantine(&env);
    for (id, entity, field) in
        [("evil-victim", "customers", "key"), ("evil-victim-invoice", "invoices", "number")]
    {
        let r = quarantined(&q, "evil", id);
        assert_eq!((r["entity"].as_str(), r["field"].as_str()), (Some(entity), Some(field)), "{r:#}");
        let reason = r["reason"].as_str().unwrap();
        assert!(reason.contains("belongs to csv"), "{reason}");
        assert!(reason.contains("adopt = [\"csv\"]"), "the reason says how to allow it: {reason}");
    }

    assert_eq!(customer(&env, "C1"), victim, "the victim's e-mail, segment, since and payment method");
    assert_eq!(
        invoice(&env, "2026-001"),
        bill,
        "the victim's invoice: total, open amount (no credit deducted)"
    );
    assert!(planned(&env).contains(&"2026-001".to_string()), "2026-001 is still chased");

    // The plugin's next run says the victim's records were deleted at its source.
    env.set_config(&section("evil", "takeover_remove", "", victim_config, None));
    let out = env.run(&["sync", "evil"]);
    let report = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(customer(&env, "C1"), victim, "after takeover_remove: {report}");
    assert_eq!(invoice(&env, "2026-001"), bill, "after takeover_remove: {report}");
    assert!(planned(&env).contains(&"2026-001".to_string()), "after takeover_remove: {report}");
}

#[test]
fn f1_adopt_lets_a_migration_take_the_customer_over_but_keeps_hand_set_columns() {
    let (env, victim, _) = victim_env();
    env.set_config(&section("migrate", "takeover", "adopt = ['csv']", "victim_customer = 'C1'", None));
    let out = env.run(&["sync", "migrate"]);
    let report = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{report}");
    let adopted = customer(&env, "C1");
    assert_eq!(adopted.email.as_deref(), Some("attacker@evil.example"), "adopted: {report}");
    assert_eq!(
        (&adopted.segment, &adopted.customer_since, &adopted.payment_method),
        (&victim.segment, &victim.customer_since, &victim.payment_method),
        "columns a plugin cannot supply are kept: {report}"
    );
}

// ---- F2: secrets --------------------------------------------------------------------------

const SECRETS: [&str; 2] = ["sk_live_SuperSecret123", "Zm9v+YmFy/c2VjcmV0=="];

/// `secret` percent-encoded: bytes `keep` accepts as they are, the others `%XX` (lower- or
/// upper-case hex); with `plus`, a space as `+` (form encoding).
fn encoded(secret: &str, keep: fn(u8) -> bool, lower: bool, plus: bool) -> String {
    let mut out = String::new();
    for b in secret.bytes() {
        if keep(b) {
            out.push(b as char);
        } else if plus && b == b' ' {
            out.push('+');
        } else if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every form of `secret` that must not appear: raw, percent-encoded (RFC 3986 unreserved
/// kept, or only letters and digits kept) in upper- and lower-case hex, form-encoded.
fn forms(secret: &str) -> Vec<String> {
    let unreserved: fn(u8) -> bool = |b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b);
    let alnum: fn(u8) -> bool = |b| b.is_ascii_alphanumeric();
    let form: fn(u8) -> bool = |b| b.is_ascii_alphanumeric() || b"*-._".contains(&b);
    let mut all = vec![secret.to_string()];
    for keep in [unreserved, alnum, form] {
        for lower in [false, true] {
            for plus in [false, true] {
                all.push(encoded(secret, keep, lower, plus));
            }
        }
    }
    all.sort();
    all.dedup();
    all
}

/// The forms of `secret` found in `bytes`.
fn leaked(bytes: &[u8], secret: &str) -> Vec<String> {
    forms(secret).into_iter().filter(|f| bytes.windows(f.len()).any(|w| w == f.as_bytes())).collect()
}

/// The database file and its write-ahead log, as bytes.
fn store_bytes(env: &Env) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal"] {
        let path = PathBuf::from(format!("{}{suffix}", env.db().display()));
        if let Ok(bytes) = std::fs::read(&path) {
            all.extend(bytes);
        }
    }
    all
}

/// The lines of `bytes` that hold one of `found` (at most 5, cut to 400 characters).
fn lines_with(bytes: &[u8], found: &[String]) -> String {
    text(bytes)
        .lines()
        .filter(|l| found.iter().any(|f| l.contains(f.as_str())))
        .take(5)
        .map(|l| l.chars().take(400).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `dunwell sync evil` in `mode` with secret `token` at debug level; asserts that the
/// secret appears in no form in its stdout, its stderr, `dunwell quarantine` or the store.
/// Returns the env and the sync's output.
fn leak_check(mode: &str, extra: &str, token: &str) -> (Env, Output) {
    let env = Env::new();
    env.set_config(&section("evil", mode, extra, "", Some(token)));
    let out = run_log(&env, "debug", &["sync", "evil"]);
    for (what, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let found = leaked(bytes, token);
        assert!(
            found.is_empty(),
            "mode {mode}: the secret reached {what} as {found:?}:\n{}",
            lines_with(bytes, &found)
        );
    }
    let q = run_log(&env, "debug", &["quarantine", "--format", "json"]);
    let listed = [q.stdout.as_slice(), q.stderr.as_slice()].concat();
    let found = leaked(&listed, token);
    assert!(
        found.is_empty(),
        "mode {mode}: `dunwell quarantine` shows the secret as {found:?}:\n{}",
        lines_with(&listed, &found)
    );
    let db = store_bytes(&env);
    assert!(!db.is_empty(), "mode {mode}: no database at {}", env.db().display());
    let found = leaked(&db, token);
    assert!(found.is_empty(), "mode {mode}: the secret is in the database file or its WAL as {found:?}");
    (env, out)
}

#[test]
fn f2_a_secret_in_a_refused_plain_http_url_is_not_logged_or_stored() {
    for token in SECRETS {
        let (_, out) = leak_check("leak_url", "allowed_hosts = ['api.example.com']", token);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "plain http to api.example.com is refused");
        assert!(
            stderr.contains("api.example.com"),
            "the refused request is reported:\n{}",
            plugin_lines(&stderr)
        );
    }
}

#[test]
fn f2_a_percent_encoded_secret_is_not_logged_or_stored() {
    for token in SECRETS {
        let (_, out) = leak_check("leak_pct", "allowed_hosts = ['127.0.0.1:1']", token);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "nothing listens on 127.0.0.1:1");
        assert!(stderr.contains("127.0.0.1:1"), "the failed request is reported:\n{}", plugin_lines(&stderr));
    }
}

#[test]
fn f2_a_secret_in_a_refused_field_is_not_echoed_or_stored() {
    for token in SECRETS {
        let (env, out) = leak_check("leak_field", "", token);
        let report = format!("{}\n{}", text(&out.stdout), plugin_lines(&text(&out.stderr)));
        let stored = invoices(&env);
        assert!(
            stored.iter().all(|i| !i.number.contains(token)),
            "the number with a BEL was stored: {stored:?}"
        );
        let refused = !out.status.success()
            || quarantine(&env).iter().any(|r| r["plugin"] == "evil" && r["id"] == "leak");
        assert!(
            refused,
            "the invoice `<secret>\\u{{7}}` is neither quarantined nor failing the run: {report}"
        );
    }
}

#[test]
fn f2_a_secret_shorter_than_8_characters_is_refused_with_the_configuration() {
    let env = Env::new();
    env.set_config(&section("evil", "good", "", "", Some("abc1234")));
    let err = env.fails(&["sync"]);
    assert!(err.contains("shorter than 8 characters"), "{err}");
    assert!(err.contains("[plugins.evil.secrets]"), "{err}");
    assert!(err.contains("token"), "{err}");
    assert!(!err.contains("abc1234"), "the refused secret is not shown: {err}");
    // 8 characters are enough.
    env.set_config(&section("evil", "good", "", "", Some("abc12345")));
    env.ok(&["sync"]);
}

// ---- F3: plugin text is data --------------------------------------------------------------

#[test]
fn f3_a_16_mib_error_with_newlines_is_capped_and_forges_no_log_line() {
    let env = Env::new();
    env.set_config(&section("evil", "errbomb", "", "", None));
    // Info, not debug: at debug the engine's compiler traces megabytes that are not the plugin's.
    let out = run_log(&env, "info", &["sync", "evil"]);
    let stderr = text(&out.stderr);
    let head: String = stderr.chars().take(3000).collect();
    assert!(!out.status.success(), "{head}");
    assert!(out.stderr.len() < 64 << 10, "{} bytes on stderr; it starts:\n{head}", out.stderr.len());
    let status = Store::open(&env.db()).unwrap().sync_status("evil").unwrap().expect("a sync status");
    let last_error = status.last_error.unwrap_or_default();
    assert!(last_error.len() <= 4096, "sync_status.last_error holds {} bytes", last_error.len());
    assert!(stderr.contains("forged"), "the plugin's error is shown (escaped): {head}");
    let forged = forged_lines(&stderr, "boom");
    assert!(forged.is_empty(), "lines forged by the plugin's error text: {forged:#?}");
}

#[test]
fn f3_a_log_line_with_a_newline_forges_no_log_line() {
    let env = Env::new();
    env.set_config(&section("evil", "logforge", "", "", None));
    let out = run_log(&env, "info", &["sync", "evil"]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("forged"), "the plugin's log line is shown (escaped) at info level:\n{stderr}");
    let forged = forged_lines(&stderr, "all good");
    assert!(forged.is_empty(), "lines forged by the plugin's log() text: {forged:#?}\n{stderr}");
}

// ---- F4: terminal escapes -----------------------------------------------------------------

#[test]
fn f4_plugin_check_shows_no_terminal_escapes_from_describe() {
    let env = Env::new();
    let out = run_log(&env, "warn", &["plugin", "check", &hostile_wasm()]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let shown = format!("stdout:\n{stdout:?}\nstderr:\n{stderr:?}");
    for (what, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(!bytes.contains(&0x1b), "an ESC byte reached {what}: {shown}");
        assert!(!bytes.contains(&0x07), "a BEL byte reached {what}: {shown}");
    }
    let raw = raw_controls(&stdout).into_iter().chain(raw_controls(&stderr)).collect::<Vec<_>>();
    assert!(raw.is_empty(), "raw control characters {raw:?}: {shown}");
    if !out.status.success() {
        assert!(stderr.contains("describe()"), "a refusal names describe(): {shown}");
    }
    assert!(
        stdout.contains("evil.example.com") || stderr.contains("evil.example.com"),
        "the host the plugin needs is visible: {shown}"
    );
}

#[test]
fn f4_an_error_text_with_terminal_escapes_reaches_stderr_escaped() {
    let env = Env::new();
    env.set_config(&section("evil", "erransi", "", "", None));
    let out = run_log(&env, "warn", &["sync", "evil"]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr:?}");
    assert!(stderr.lines().any(names_evil), "the failure names plugin evil: {stderr:?}");
    assert!(!out.stderr.contains(&0x1b), "an ESC byte reached stderr: {stderr:?}");
    let raw = raw_controls(&stderr);
    assert!(raw.is_empty(), "raw control characters {raw:?} in {stderr:?}");
}

// ---- F5: a grammar per field --------------------------------------------------------------

/// An env after `dunwell sync evil` in mode `unicode`.
fn unicode_env() -> Env {
    let env = Env::new();
    env.set_config(&section("evil", "unicode", "", "", None));
    let out = env.run(&["sync", "evil"]);
    assert!(out.status.success(), "bad records are quarantined, the run lands:\n{}", text(&out.stderr));
    env
}

#[test]
fn f5_numbers_names_and_addresses_that_forge_hide_or_walk_paths_are_quarantined() {
    let env = unicode_env();
    let q = quarantine(&env);
    for (id, entity, field) in [
        ("u-newline", "invoices", "number"),
        ("u-path", "invoices", "number"),
        ("u-bidi", "invoices", "number"),
        ("u-zwsp", "invoices", "number"),
        ("u-backslash", "invoices", "number"),
        ("u-nfc", "invoices", "number"),
        ("u-nfd", "invoices", "number"),
        ("uc1", "customers", "name"),
        ("uc2", "customers", "email"),
    ] {
        let r = quarantined(&q, "evil", id);
        assert_eq!((r["entity"].as_str(), r["field"].as_str()), (Some(entity), Some(field)), "{id}: {r:#}");
    }
    for id in ["u-nfc", "u-nfd"] {
        let reason = quarantined(&q, "evil", id)["reason"].as_str().unwrap().to_string();
        assert!(reason.contains("appears 2 times"), "NFC and NFD are one number: {reason}");
    }
    assert!(q.iter().all(|r| r["id"] != "u-good" && r["id"] != "hc1"), "{q:#?}");

    let numbers: Vec<String> = invoices(&env).into_iter().map(|i| i.number).collect();
    assert_eq!(numbers, ["EVIL/2026/0001"], "only the good invoice is stored, as it was sent");
    let keys: Vec<String> = customers(&env).into_iter().map(|c| c.id).collect();
    assert_eq!(keys, ["HC1"]);

    let plan = env.ok(&["plan", "--at", "2026-12-01"]);
    assert!(plan.contains("EVIL/2026/0001"), "{plan}");
    assert!(!plan.lines().any(|l| l.starts_with("2026-999")), "a forged row:\n{plan}");
    let raw = raw_controls(&plan);
    assert!(raw.is_empty(), "raw control, bidi or zero-width characters {raw:?} in\n{plan}");
}

#[test]
fn f5_the_quarantine_table_shows_bad_text_escaped() {
    // Every cell of every table is escaped (issue 9): the quarantine lists the bad records.
    let env = unicode_env();
    let table = env.ok(&["quarantine"]);
    assert!(table.contains("EVIL") || table.contains("u-newline"), "{table}");
    for forged in ["2026-999", "FAKE LINE", "Bcc:"] {
        assert!(
            !table.lines().any(|l| l.trim_start().starts_with(forged)),
            "a line starts with {forged}:\n{table}"
        );
    }
    let raw = raw_controls(&table);
    assert!(raw.is_empty(), "raw control, bidi or zero-width characters {raw:?} in\n{table}");
}

// ---- F6: bounded host memory --------------------------------------------------------------

/// The `VmHWM` (peak resident set) of process `pid` in bytes, while it runs.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// Runs `dunwell sync evil` with the hostile guest in mode `amplify` (`extra` in its section,
/// `config` in its config) on the good export, sampling the peak RSS while it runs. Asserts the
/// run is stopped by `max_pull_mb` and peaks under 300 MB; what came in before the budget ran
/// out is stored (as a full pull that goes on next time), the invoices are untouched.
fn amplify(extra: &str, config: &str) {
    let env = Env::new();
    env.ok(&["import", "csv", s(&testdata("good"))]);
    let before = (customers(&env), invoices(&env));
    env.set_config(&section("evil", "amplify", extra, config, None));

    let mut child = Command::new(env!("CARGO_BIN_EXE_dunwell"))
        .arg("--config")
        .arg(env.path().join("dunwell.toml"))
        .args(["sync", "evil"])
        .current_dir(env.path())
        .env("DUNWELL_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dunwell");
    let pid = child.id();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    // Stopped well above the goal, so that a daemon without a budget (gigabytes) cannot starve
    // the machine.
    const GUARD: u64 = 1 << 30;
    let started = Instant::now();
    let (mut peak, mut killed) = (0u64, false);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if let Some(hwm) = peak_rss(pid) {
            peak = peak.max(hwm);
        }
        if !killed && (peak > GUARD || started.elapsed() > Duration::from_secs(180)) {
            let _ = child.kill();
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (stdout, stderr) = (text(&stdout.join().unwrap()), text(&stderr.join().unwrap()));
    let mb = peak as f64 / (1 << 20) as f64;
    let label = if extra.is_empty() && config.is_empty() {
        "default limits".to_string()
    } else {
        format!("{extra} {config}")
    };
    eprintln!(
        "amplify ({}): peak RSS (VmHWM) of `dunwell sync evil`: {mb:.1} MiB in {:?}",
        label.replace('\n', ", "),
        started.elapsed()
    );

    assert!(!killed, "stopped by the test at a peak RSS of {mb:.1} MiB after {:?}", started.elapsed());
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("stopped:   customers after") && stdout.contains("max_pull_mb"),
        "the run is stopped by the pull budget:\n{stdout}\n{stderr}"
    );
    assert!(peak > 0, "VmHWM was never read");
    assert!(peak < 300 << 20, "peak RSS {mb:.1} MiB, the goal is under 300 MB");
    assert_eq!(invoices(&env), before.1, "the invoices are untouched");
    let store = Store::open(&env.db()).unwrap();
    let under_way = store.full_pull("evil").unwrap();
    assert!(
        under_way
            .iter()
            .any(|e| e.entity == "customers" && e.cursor.as_deref().is_some_and(|c| c.starts_with("amp"))),
        "the next run goes on where this one stopped: {under_way:?}"
    );
}

#[test]
fn f6_an_amplifying_plugin_hits_the_pull_budget_not_the_host_memory() {
    // Default limits; every text field of every customer about 4 KiB, pages forever.
    amplify("", "");
}

#[test]
fn f6_records_the_checks_accept_stop_at_the_pull_budget_with_a_raised_cpu_budget() {
    // 4 KiB ids and names are refused on arrival and cost little; records the checks accept
    // (short ids, names and address lines of 190 bytes) are held until the write. With the CPU
    // budget an operator raises for a large administration, only the pull budget stops them
    // (without it: over 1 GB in 8 s).
    amplify("cpu_ms = 60000\ntimeout_s = 120", "field_bytes = '190'");
}

// ---- F7: file descriptors -----------------------------------------------------------------

#[test]
fn f7_a_file_connector_holds_at_most_10000_open_files_and_the_daemon_goes_on() {
    let env = Env::new();
    let inbox = env.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    for i in 0..3 {
        std::fs::write(inbox.join(format!("{i}.txt")), format!("file {i}\n")).unwrap();
    }
    env.set_config(&section("evil", "fds", "directory = 'inbox'", "", None));
    let out = run_log(&env, "info", &["sync", "evil"]);
    let stderr = text(&out.stderr);
    let last_error = Store::open(&env.db())
        .ok()
        .and_then(|s| s.sync_status("evil").ok().flatten())
        .and_then(|s| s.last_error)
        .unwrap_or_default();
    let all = format!("{stderr}\n{last_error}");
    // The guest's own count ("opened N files") or, when the host stopped it (a trap: "resource
    // table has no free keys"), the highest it logged on the way ("holding N open files", every
    // thousand and at 10,001).
    let after = |marker: &str| -> Vec<u64> {
        all.match_indices(marker)
            .filter_map(|(i, _)| {
                let digits: String =
                    all[i + marker.len()..].chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .collect()
    };
    let opened = after("opened ").into_iter().max().or_else(|| after("holding ").into_iter().max());
    let opened = opened.unwrap_or_else(|| panic!("how many files the guest opened is not reported:\n{all}"));
    eprintln!("fds: the guest held {opened} open files");
    assert!(opened <= 10_000, "the guest held {opened} open files (cap: 10,000):\n{all}");

    // The daemon still works: a good plugin syncs in the same installation.
    env.set_config(&section("evil", "good", "directory = 'inbox'", "", None));
    let out = env.ok(&["sync"]);
    assert!(out.contains("invoices:"), "{out}");
}
