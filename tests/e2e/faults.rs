//! Faults while `dunwell run` works, each on the real binary in fast-forward: a broken playbook
//! on reload, a plugin file that disappears, an unreachable SMTP server, a full data disk (a
//! tmpfs), a database locked by another process. The daemon stays up, says what is wrong (the
//! log, `dunwell status`, a metric) and recovers by itself once the fault is gone.
//!
//! The tests at the end pin the fixes of what these faults first showed: reads that waited
//! for the write lock, a connector's reminders held as never synced, a full disk reported as a
//! bare "disk I/O error", a failed send not tried again the same day.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::daemon::{admin_addr, email_config, http, sample_env, start, status, token, Running, ADMIN};
use crate::email::TestSmtp;
use crate::{copy_dir, outbox, replace, repo, s, testdata, Env, BUSINESS};

/// How long any one condition may take on a loaded machine.
const LONG: Duration = Duration::from_secs(60);

/// The daemon's `/metrics` text.
fn metrics(addr: &str) -> String {
    let (code, body) = http(addr, "GET", "/metrics", None);
    assert_eq!(code, 200, "{body}");
    body
}

/// One sample's value, `series` written as the exposition prints it (`name{labels}`).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The sum of the samples of `name` whose labels include each of `with` (`key="value"`).
fn sum(metrics: &str, name: &str, with: &[&str]) -> f64 {
    let prefix = format!("{name}{{");
    metrics
        .lines()
        .filter(|l| l.starts_with(&prefix) && with.iter().all(|w| l.contains(w)))
        .filter_map(|l| l.rsplit_once(' ')?.1.trim().parse::<f64>().ok())
        .sum()
}

/// The last `n` lines of a log, for failure messages (a send day logs hundreds).
fn tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What the log says after the last line that has `marker`.
fn after<'a>(log: &'a str, marker: &str) -> &'a str {
    let at = log.rfind(marker).unwrap_or_else(|| panic!("no `{marker}` in the log:\n{}", tail(log, 80)));
    &log[at..]
}

/// Polls `f` until it gives a value; panics with `what` and the log's tail after `limit`, or
/// at once when the daemon exited.
fn until<T>(d: &mut Running, limit: Duration, what: &str, mut f: impl FnMut(&Running) -> Option<T>) -> T {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f(d) {
            return v;
        }
        if let Some(st) = d.child.try_wait().unwrap() {
            panic!("dunwell run exited ({st}) while waiting for {what}:\n{}", tail(&d.log(), 80));
        }
        assert!(Instant::now() < end, "not within {limit:?}: {what}\n{}", tail(&d.log(), 80));
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn alive(d: &mut Running) {
    if let Some(st) = d.child.try_wait().unwrap() {
        panic!("dunwell run exited ({st}):\n{}", tail(&d.log(), 80));
    }
}

/// SIGTERM, and the exit is 0.
fn stop(d: &mut Running) {
    alive(d);
    d.signal("TERM");
    let st = d.wait(Duration::from_secs(45));
    assert!(st.success(), "exit 0 on SIGTERM: {st}\n{}", tail(&d.log(), 80));
}

fn job(st: &Value, name: &str) -> Value {
    st["jobs"].as_array().unwrap().iter().find(|j| j["job"] == name).unwrap().clone()
}

fn time(v: &Value) -> DateTime<Utc> {
    utc(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
}

fn utc(t: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc)
}

/// The log lines that have every one of `parts`.
fn lines_with<'a>(log: &'a str, parts: &[&str]) -> Vec<&'a str> {
    log.lines().filter(|l| parts.iter().all(|p| l.contains(p))).collect()
}

/// A dunwell.toml of this test's own (the shipped playbooks copied, where a test edits them).
fn write_config(env: &Env, body: &str) {
    let text = format!("data_dir = \"data\"\n{body}\n{BUSINESS}");
    std::fs::write(env.path().join("dunwell.toml"), text).unwrap();
}

/// The 1-based number of the first line of `path` that has `text`.
fn line_of(path: &Path, text: &str) -> usize {
    let content = std::fs::read_to_string(path).unwrap();
    content.lines().position(|l| l.contains(text)).map(|i| i + 1).unwrap()
}

#[test]
fn a_broken_playbook_on_reload_is_refused_and_the_old_one_keeps_working_until_it_is_fixed() {
    let env = Env::new();
    let playbooks = env.path().join("playbooks");
    copy_dir(&repo().join("playbooks"), &playbooks);
    write_config(
        &env,
        &format!(
            "playbooks_dir = \"playbooks\"\n{ADMIN}[schedule]\nmax_source_age = '30d'\ndeliver = '*/5 * * * *'\n"
        ),
    );
    env.ok(&["import", "csv", s(&repo().join("sample-data"))]);
    // 07:48 in Amsterdam, two minutes a second: the 08:00 send is six real seconds away, time
    // enough to break the playbook and have the reload refused first.
    let mut d = start(&env, &["--clock-start", "2026-12-01T06:48:00Z", "--clock-speed", "120"], &[]);
    let addr = admin_addr(&env, &mut d);
    let loaded_at = status(&env)["daemon"]["config"]["loaded_at"].clone();
    assert!(loaded_at.is_string());

    // A step with a channel that does not exist.
    let file = playbooks.join("standard.toml");
    let good = std::fs::read_to_string(&file).unwrap();
    replace(&file, "channel = \"phone\"", "channel = \"pigeon\"");
    let at = format!("standard.toml:{}:", line_of(&file, "pigeon"));
    let err = env.fails(&["reload", "--wait"]);
    assert!(
        err.contains("refused") && err.contains(&at) && err.contains("unknown variant `pigeon`"),
        "{err}"
    );

    // Status, metrics and the log say so; the old configuration stays in force.
    let st = status(&env);
    let why = st["daemon"]["reload_error"].as_str().unwrap_or_default();
    assert!(why.contains(&at) && why.contains("pigeon"), "{st:#}");
    assert_eq!(st["daemon_running"], true, "{st:#}");
    assert_eq!(st["daemon"]["config"]["loaded_at"], loaded_at, "the old configuration is in force: {st:#}");
    let m = metrics(&addr);
    assert_eq!(sample(&m, r#"dunwell_reloads_total{result="failed"}"#), Some(1.0), "{m}");
    assert_eq!(sample(&m, r#"dunwell_reloads_total{result="ok"}"#), Some(0.0), "{m}");
    assert_eq!(sample(&m, "dunwell_config_last_reload_successful"), Some(0.0), "{m}");
    let refused = "reload refused, the previous configuration keeps running";
    assert!(lines_with(&d.log(), &[refused, &at]).len() == 1, "{}", tail(&d.log(), 40));
    assert_eq!(http(&addr, "GET", "/healthz", None).0, 200);
    assert_eq!(http(&addr, "GET", "/readyz", None).0, 200);

    // The 08:00 send runs after the refusal, with the playbooks in force.
    until(&mut d, LONG, "the 08:00 send after the refused reload", |d| {
        after(&d.log(), refused).contains("send done").then_some(())
    });
    let st = status(&env);
    let send = job(&st, "send");
    assert_eq!(send["result"], "ok", "{send:#}");
    assert_eq!(send["summary"]["day"], "2026-12-01", "{send:#}");
    let written = send["summary"]["written"].as_u64().unwrap();
    assert!(written > 10, "{send:#}");
    assert_eq!(outbox(&env).len() as u64, written);
    // `dunwell status` keeps naming the refusal while the daemon beats.
    assert!(env.ok(&["status"]).contains("last reload REFUSED"), "{}", env.ok(&["status"]));

    // Fixed: the reload goes through, everything says so, and the jobs go on.
    std::fs::write(&file, &good).unwrap();
    let out = env.ok(&["reload", "--wait"]);
    assert!(out.contains("reloaded"), "{out}");
    let st = status(&env);
    assert!(st["daemon"]["reload_error"].is_null(), "{st:#}");
    assert_ne!(st["daemon"]["config"]["loaded_at"], loaded_at, "{st:#}");
    let m = metrics(&addr);
    assert_eq!(sample(&m, r#"dunwell_reloads_total{result="failed"}"#), Some(1.0), "{m}");
    assert_eq!(sample(&m, r#"dunwell_reloads_total{result="ok"}"#), Some(1.0), "{m}");
    assert_eq!(sample(&m, "dunwell_config_last_reload_successful"), Some(1.0), "{m}");
    until(&mut d, LONG, "a job run after the good reload", |d| {
        after(&d.log(), "reloaded: the new configuration is in force").contains("job done").then_some(())
    });
    stop(&mut d);
}

/// An invoice file for the UBL connector's folder: the test corpus's NLCIUS invoice under
/// another number.
fn ubl_invoice(number: &str) -> String {
    let base = std::fs::read_to_string(testdata("connectors/ubl/nlcius-SI-UBL-2.0_ok_base.xml")).unwrap();
    assert!(base.contains("<cbc:ID>12115118</cbc:ID>"));
    base.replacen("<cbc:ID>12115118</cbc:ID>", &format!("<cbc:ID>{number}</cbc:ID>"), 1)
}

fn invoice_count(env: &Env, number: &str) -> i64 {
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row("SELECT count(*) FROM invoices WHERE number = ?1", [number], |r| r.get(0)).unwrap()
}

#[test]
fn a_plugin_file_that_disappears_is_refused_on_reload_and_the_loaded_plugin_keeps_syncing() {
    let env = Env::new();
    // The test's own copy of the component: it goes away and comes back.
    let wasm = env.path().join("connectors/ubl.wasm");
    std::fs::create_dir_all(wasm.parent().unwrap()).unwrap();
    std::fs::copy(crate::plugins::guest("dunwell_connector_ubl"), &wasm).unwrap();
    let inbox = env.path().join("inbox");
    copy_dir(&testdata("connectors/ubl"), &inbox);
    env.set_config(&format!(
        "{ADMIN}[schedule]\nmax_source_age = '30d'\n[plugins.ubl]\npath = '{}'\ndirectory = 'inbox'\n",
        s(&wasm)
    ));
    // Ten minutes a second: the hourly sync every six real seconds.
    let mut d = start(&env, &["--clock-start", "2026-12-01T06:50:00Z", "--clock-speed", "600"], &[]);
    let addr = admin_addr(&env, &mut d);
    // The first sync runs at once.
    let ok = r#"dunwell_syncs_total{plugin="ubl",result="ok"}"#;
    let failed = r#"dunwell_syncs_total{plugin="ubl",result="failed"}"#;
    let first = until(&mut d, LONG, "the first sync", |_| sample(&metrics(&addr), ok).filter(|n| *n >= 1.0));
    assert!(d.log().contains("synced: ubl (full sync)"), "{}", tail(&d.log(), 40));
    let loaded_at = status(&env)["daemon"]["config"]["loaded_at"].clone();

    // The file goes; a reload is refused and names it.
    let away = env.path().join("connectors/ubl.wasm.away");
    std::fs::rename(&wasm, &away).unwrap();
    let err = env.fails(&["reload", "--wait"]);
    assert!(err.contains("plugin ubl") && err.contains(s(&wasm)) && err.contains("No such file"), "{err}");
    let st = status(&env);
    let why = st["daemon"]["reload_error"].as_str().unwrap_or_default();
    assert!(why.contains(s(&wasm)), "{st:#}");
    assert_eq!(st["daemon"]["config"]["plugins"], serde_json::json!(["ubl"]), "{st:#}");
    assert_eq!(st["daemon"]["config"]["loaded_at"], loaded_at, "{st:#}");
    let m = metrics(&addr);
    assert_eq!(sample(&m, r#"dunwell_reloads_total{result="failed"}"#), Some(1.0), "{m}");
    assert_eq!(sample(&m, "dunwell_config_last_reload_successful"), Some(0.0), "{m}");

    // The plugin compiled at start keeps syncing: a new invoice in the folder lands.
    std::fs::write(inbox.join("fx-0001.xml"), ubl_invoice("FX-0001")).unwrap();
    let refused = "reload refused, the previous configuration keeps running";
    until(&mut d, LONG, "a sync after the refusal that brings FX-0001", |d| {
        (after(&d.log(), refused).contains("synced: ubl") && invoice_count(&env, "FX-0001") == 1)
            .then_some(())
    });
    let later = after(&d.log(), refused).to_string();
    assert!(lines_with(&later, &["synced: ubl", "invoices:  1 added"]).len() == 1, "{later}");
    let m = metrics(&addr);
    assert!(sample(&m, ok).unwrap() > first, "{m}");
    assert_eq!(sample(&m, failed), Some(0.0), "{m}");
    let sync = until(&mut d, LONG, "status: the sync job ok", |_| {
        let sync = job(&status(&env), "sync");
        (sync["result"] == "ok").then_some(sync)
    });
    assert_eq!(sync["summary"]["plugins"][0]["plugin"], "ubl", "{sync:#}");
    assert_eq!(sync["summary"]["plugins"][0]["ok"], true, "{sync:#}");

    // Back: the reload goes through.
    std::fs::rename(&away, &wasm).unwrap();
    env.ok(&["reload", "--wait"]);
    let st = status(&env);
    assert!(st["daemon"]["reload_error"].is_null(), "{st:#}");
    assert_ne!(st["daemon"]["config"]["loaded_at"], loaded_at, "{st:#}");
    let m = metrics(&addr);
    assert_eq!(sample(&m, r#"dunwell_reloads_total{result="ok"}"#), Some(1.0), "{m}");
    assert_eq!(sample(&m, "dunwell_config_last_reload_successful"), Some(1.0), "{m}");
    until(&mut d, LONG, "a sync with the reloaded plugin", |d| {
        after(&d.log(), "reloaded: the new configuration is in force").contains("synced: ubl").then_some(())
    });
    assert_eq!(sample(&metrics(&addr), failed), Some(0.0));
    stop(&mut d);
}

/// A TCP forwarder on a fixed port of 127.0.0.1 to another: the SMTP server "comes back" on
/// the port the configuration names (server.py always picks a free port of its own).
struct Forwarder {
    stop: Arc<AtomicBool>,
}

impl Forwarder {
    fn start(listener: TcpListener, to: u16) -> Forwarder {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        std::thread::spawn(move || pipe(client, to));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => return,
                }
            }
        });
        Forwarder { stop }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn pipe(client: TcpStream, to: u16) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", to)) else { return };
    let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_in, &mut s_out);
        let _ = s_out.shutdown(std::net::Shutdown::Write);
    });
    let (mut s_in, mut c_out) = (server, client);
    let _ = std::io::copy(&mut s_in, &mut c_out);
    let _ = c_out.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

#[test]
fn an_unreachable_smtp_server_fails_the_messages_with_a_retry_time_and_they_go_out_once_it_is_back() {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let env = sample_env(&format!(
        "[schedule]\nmax_source_age = '30d'\ndeliver = '*/5 * * * *'\n{}",
        email_config(port)
    ));
    let smtp = TestSmtp::start("plain", env.path());
    // Ten minutes a second from 07:40 in Amsterdam: the send at 08:00, the e-mail window opens
    // at 09:00 (eight real seconds in).
    let mut d = start(&env, &["--clock-start", "2026-12-01T06:40:00Z", "--clock-speed", "600"], &[]);
    let addr = admin_addr(&env, &mut d);
    let emails = |env: &Env| -> Vec<Value> {
        outbox(env).into_iter().filter(|m| m["channel"] == "email" && m["recipient"].is_string()).collect()
    };
    let failed = until(&mut d, LONG, "every e-mail failed once", |_| {
        let list = emails(&env);
        (!list.is_empty() && list.iter().all(|m| m["status"] == "failed")).then_some(list)
    });
    let n = failed.len();
    assert!(n > 10, "{n}");
    let refused = format!("SMTP: cannot reach 127.0.0.1:{port}: Connection refused");
    for m in &failed {
        assert!(m["last_error"].as_str().unwrap().contains(&refused), "{m:#}");
        assert!(m["attempts"].as_u64().unwrap() >= 1, "{m:#}");
        // Attempted at 09:00 in Amsterdam at the earliest (the window), retried five minutes
        // later at the earliest, the wait doubling.
        assert!(time(&m["next_attempt"]) >= utc("2026-12-01T08:05:00Z"), "{m:#}");
    }
    let log = d.log();
    assert!(lines_with(&log, &[&refused, "; next attempt 2026-12-01T"]).len() >= n, "{}", tail(&log, 40));
    // A retry run moves them through `sending` for a moment: polled.
    let st = until(&mut d, LONG, "status: the e-mails failed", |_| {
        let st = status(&env);
        (st["outbox"]["failed"].as_u64() == Some(n as u64)).then_some(st)
    });
    assert_eq!(st["daemon_running"], true, "{st:#}");
    let m = until(&mut d, LONG, "metrics: the e-mails failed", |_| {
        let m = metrics(&addr);
        (sample(&m, r#"dunwell_outbox_messages{status="failed"}"#) == Some(n as f64)).then_some(m)
    });
    let email_failed = sum(&m, "dunwell_messages_total", &[r#"channel="email""#, r#"result="failed""#]);
    assert!(email_failed >= n as f64, "{m}");
    assert_eq!(sum(&m, "dunwell_messages_total", &[r#"channel="email""#, r#"result="sent""#]), 0.0, "{m}");
    assert_eq!(http(&addr, "GET", "/healthz", None).0, 200);

    // The server comes back on the configured port: no reload, the retries find it. (Should
    // something else have taken the port meanwhile, the configuration moves to the server.)
    let _forwarder = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => Some(Forwarder::start(listener, smtp.port)),
        Err(e) => {
            eprintln!("port {port} taken ({e}); pointing [channels.email] at {} instead", smtp.port);
            env.set_config(&format!(
                "{ADMIN}[schedule]\nmax_source_age = '30d'\ndeliver = '*/5 * * * *'\n{}",
                email_config(smtp.port)
            ));
            env.ok(&["reload", "--wait"]);
            None
        }
    };
    let sent = until(&mut d, LONG, "every e-mail sent", |_| {
        let list = emails(&env);
        list.iter().all(|m| m["status"] == "sent").then_some(list)
    });
    assert_eq!(sent.len(), n);
    let mut ids = Vec::new();
    for m in &sent {
        let before = failed.iter().find(|f| f["id"] == m["id"]).unwrap();
        assert!(time(&m["sent_at"]) >= time(&before["next_attempt"]), "sent before its retry time: {m:#}");
        assert!(m["attempts"].as_u64().unwrap() >= 2, "{m:#}");
        ids.push(m["message_id"].as_str().unwrap().to_string());
    }
    // Each reached the server once.
    let mut received: Vec<String> = smtp
        .messages()
        .iter()
        .map(|f| crate::email::message_id_of(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect();
    received.sort();
    ids.sort();
    assert_eq!(received, ids);
    let st = status(&env);
    assert!(st["outbox"].get("failed").is_none(), "{st:#}");
    assert_eq!(st["outbox"]["sent"].as_u64(), Some(n as u64), "{st:#}");
    let m = metrics(&addr);
    assert_eq!(
        sum(&m, "dunwell_messages_total", &[r#"channel="email""#, r#"result="sent""#]),
        n as f64,
        "{m}"
    );
    stop(&mut d);
}

/// A tmpfs mounted on a folder for the test's life; unmounted when dropped (lazily if busy).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(Tmpfs(dir.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(&self.0).status().is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A small tmpfs (24 MB) on `dir`. None only without root (the test says it was not run); as
/// root a mount that fails fails the test, so CI never passes one that did not run.
fn small_disk(dir: &Path) -> Option<Tmpfs> {
    if !is_root() {
        eprintln!("not run: needs root for a tmpfs mount");
        return None;
    }
    Some(
        Tmpfs::mount(dir, "24m").unwrap_or_else(|e| panic!("cannot mount a tmpfs on {}: {e}", dir.display())),
    )
}

/// Writes zeros to `path` until the file system is full; returns the bytes written.
fn fill(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).unwrap();
    let mut written = 0u64;
    for size in [1 << 20, 4096] {
        let chunk = vec![0u8; size];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
    }
    let _ = f.sync_all();
    written
}

#[test]
fn a_full_data_disk_fails_the_deliveries_without_losing_a_message_and_they_go_out_once_there_is_room() {
    let env =
        Env::with_config(&format!("{ADMIN}[schedule]\nmax_source_age = '30d'\ndeliver = '*/5 * * * *'\n"));
    let data = env.path().join("data");
    // The whole data directory (database, outbox files) on a small disk of its own.
    let Some(_disk) = small_disk(&data) else { return };
    env.ok(&["import", "csv", s(&repo().join("sample-data"))]);
    // Ten minutes a second from 07:40 in Amsterdam: the send at 08:00, deliveries from 09:00.
    let started = Instant::now();
    let mut d = start(&env, &["--clock-start", "2026-12-01T06:40:00Z", "--clock-speed", "600"], &[]);
    let addr = admin_addr(&env, &mut d);
    d.wait_for_log("send done", LONG);
    let all = outbox(&env);
    let queued: Vec<Value> = all.iter().filter(|m| m["status"] == "queued").cloned().collect();
    assert!(queued.len() > 10, "{}", queued.len());
    let failed_before =
        sample(&metrics(&addr), r#"dunwell_job_runs_total{job="deliver",result="failed"}"#).unwrap_or(0.0);

    // The disk fills up before the window opens.
    let filler = data.join("filler");
    let bytes = fill(&filler);
    assert!(bytes > 10 << 20, "{bytes}");
    // Past 09:05 in Amsterdam (the fast clock's estimate, a minute of margin), with deliveries
    // failing on the full disk. SQLite says "database or disk is full" when a write does not
    // fit; when the disk filled while no connection was open (the daemon opens one per run),
    // opening fails to size the new -shm file and SQLite says only "disk I/O error".
    let failures = |log: &str| {
        let full =
            lines_with(log, &["job failed: database error: database or disk is full", "job=\"deliver\""]);
        let shm = lines_with(log, &["job failed: database error: disk I/O error", "job=\"deliver\""]);
        full.len() + shm.len()
    };
    until(&mut d, LONG, "deliveries failing on the full disk in the window", |d| {
        (failures(&d.log()) > 0 && started.elapsed() > Duration::from_secs(9)).then_some(())
    });
    let log = d.log();
    eprintln!(
        "full disk: {} runs failed with `database or disk is full`, {} with `disk I/O error`",
        lines_with(&log, &["job failed: database error: database or disk is full"]).len(),
        lines_with(&log, &["job failed: database error: disk I/O error"]).len()
    );
    // Still up, still answering, counting the failed runs; no file went out.
    alive(&mut d);
    assert_eq!(http(&addr, "GET", "/healthz", None).0, 200);
    let m = metrics(&addr);
    let failing = sample(&m, r#"dunwell_job_runs_total{job="deliver",result="failed"}"#).unwrap();
    assert!(failing > failed_before, "{m}");
    let written: Vec<PathBuf> = files_under(&data.join("outbox"))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "eml"))
        .collect();
    assert!(written.is_empty(), "{written:?}");

    // Room again: the next runs deliver everything, by themselves.
    std::fs::remove_file(&filler).unwrap();
    let freed = d.log().len();
    let done = until(&mut d, LONG, "every queued message delivered after the disk has room", |_| {
        let list = outbox(&env);
        list.iter()
            .filter(|m| queued.iter().any(|q| q["id"] == m["id"]))
            .all(|m| m["status"] == "sent" || m["status"] == "dead")
            .then_some(list)
    });
    // Nothing lost, nothing added, nothing sent while the disk was full.
    let ids = |list: &[Value]| list.iter().map(|m| m["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(ids(&done), ids(&all), "the same messages");
    let mut sent = 0;
    for q in &queued {
        let m = done.iter().find(|m| m["id"] == q["id"]).unwrap();
        if m["status"] == "dead" {
            assert!(m["last_error"].as_str().unwrap().contains("no e-mail address"), "{m:#}");
            continue;
        }
        sent += 1;
        let file = data.join("outbox").join(m["file"].as_str().unwrap());
        assert!(file.metadata().unwrap().len() > 500, "{}", file.display());
    }
    assert!(sent > 10, "{sent} of {}", queued.len());
    let log = d.log();
    assert_eq!(lines_with(&log[freed..], &[" sent outbox_id="]).len(), sent, "{}", tail(&log, 40));
    let deliver = until(&mut d, LONG, "status: the last delivery ok", |_| {
        let deliver = job(&status(&env), "deliver");
        (deliver["result"] == "ok").then_some(deliver)
    });
    assert!(deliver["error"].is_null(), "{deliver:#}");
    stop(&mut d);
}

/// Every file below `dir` (none when it does not exist).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Takes SQLite's write lock on the store from this process (`BEGIN EXCLUSIVE`) until dropped.
fn lock_database(env: &Env) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.busy_timeout(Duration::from_secs(30)).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    conn
}

#[test]
fn a_database_locked_by_another_process_fails_a_run_and_the_next_one_succeeds() {
    let env = sample_env("[schedule]\nmax_source_age = '30d'\ndeliver = '*/5 * * * *'\n");
    // Five minutes a second from 07:50 in Amsterdam: the send at 08:00 (two real seconds in),
    // the e-mail window opens at 09:00 (fourteen).
    let mut d = start(&env, &["--clock-start", "2026-12-01T06:50:00Z", "--clock-speed", "300"], &[]);
    let addr = admin_addr(&env, &mut d);
    d.wait_for_log("send done", LONG);

    // The command line works next to the daemon, except a second delivering process.
    let st = status(&env);
    assert_eq!(st["daemon_running"], true, "{st:#}");
    assert_eq!(job(&st, "send")["result"], "ok", "{st:#}");
    let before = outbox(&env);
    let queued: Vec<Value> = before.iter().filter(|m| m["status"] == "queued").cloned().collect();
    assert!(queued.len() > 10, "{}", queued.len());
    let err = env.fails(&["send", "--at", "2026-12-01"]);
    assert!(err.contains(s(&env.path().join("data/send.lock"))), "{err}");
    assert_eq!(outbox(&env), before, "the refused send neither wrote nor delivered");

    // Another process holds the write lock longer than the busy timeout (10 s): the next run
    // that writes (the 08:05 delivery) fails, the daemon stays up.
    let runs = |what: &str| {
        sample(&metrics(&addr), &format!("dunwell_job_runs_total{{job=\"deliver\",result=\"{what}\"}}"))
            .unwrap_or(0.0)
    };
    let ok_before = runs("ok");
    let lock = lock_database(&env);
    let locked = Instant::now();
    let failure = until(&mut d, LONG, "a delivery failing on the lock", |d| {
        lines_with(&d.log(), &["job failed", "database is locked", "job=\"deliver\""])
            .first()
            .map(|l| l.to_string())
    });
    assert!(locked.elapsed() >= Duration::from_secs(9), "the busy timeout is 10 s: {failure}");
    alive(&mut d);
    assert_eq!(http(&addr, "GET", "/healthz", None).0, 200);
    assert_eq!(runs("failed"), 1.0);
    drop(lock);
    let released = d.log().len();

    // Released: the next run succeeds and delivers the day's messages.
    let done = until(&mut d, LONG, "the queued messages delivered after the lock", |_| {
        let list = outbox(&env);
        list.iter()
            .filter(|m| queued.iter().any(|q| q["id"] == m["id"]))
            .all(|m| m["status"] == "sent" || m["status"] == "dead")
            .then_some(list)
    });
    for q in &queued {
        let m = done.iter().find(|m| m["id"] == q["id"]).unwrap();
        if m["status"] == "dead" {
            assert!(m["last_error"].as_str().unwrap().contains("no e-mail address"), "{m:#}");
        }
    }
    let sent = done.iter().filter(|m| m["status"] == "sent").count();
    assert!(sent > 10, "{sent} of {}", queued.len());
    let log = d.log();
    assert!(
        lines_with(&log[released..], &["deliver done", &format!("sent={sent}")]).len() == 1,
        "{}",
        tail(&log, 30)
    );
    assert!(runs("ok") > ok_before);
    assert_eq!(runs("failed"), 1.0, "one failed run");
    // The slots the blocked run overran were skipped and counted.
    let m = metrics(&addr);
    assert!(sample(&m, r#"dunwell_job_overlaps_total{job="deliver"}"#).unwrap_or(0.0) >= 1.0, "{m}");
    let deliver = job(&status(&env), "deliver");
    assert_eq!(deliver["result"], "ok", "{deliver:#}");
    stop(&mut d);
}

// ---- Daemon bugs found by the fault tests: the right behaviour, failing until fixed. ----

#[test]
fn reads_answer_while_another_process_holds_the_write_lock() {
    let env = sample_env("[schedule]\nmax_source_age = '30d'\n");
    let mut d = start(&env, &["--clock-start", "2026-12-01T06:50:00Z", "--clock-speed", "60"], &[]);
    let addr = admin_addr(&env, &mut d);
    let t = token(&env);
    let lock = lock_database(&env);
    // WAL: readers do not wait for a writer ("every other command works on the store").
    let started = Instant::now();
    let out = env.run(&["status", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = env.run(&["outbox", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(http(&addr, "GET", "/readyz", None).0, 200);
    assert_eq!(http(&addr, "GET", "/status", Some(&t)).0, 200);
    assert!(started.elapsed() < Duration::from_secs(5), "the reads waited {:?}", started.elapsed());
    drop(lock);
    stop(&mut d);
}

#[test]
fn a_connectors_invoices_are_not_held_as_stale_right_after_a_good_sync() {
    let env = Env::new();
    let inbox = env.path().join("inbox");
    copy_dir(&testdata("connectors/ubl"), &inbox);
    env.set_config(&format!(
        "[plugins.ubl]\npath = '{}'\ndirectory = 'inbox'\n",
        s(&crate::plugins::guest("dunwell_connector_ubl"))
    ));
    env.ok(&["sync"]);
    let st: Value = serde_json::from_str(&env.ok(&["status", "--format", "json"])).unwrap();
    let sources = st["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "one source, the connector's: {st:#}");
    assert_eq!(sources[0]["source"], "plugin:ubl", "{st:#}");
    assert_eq!(sources[0]["fresh"], true, "{st:#}");
    let today = Utc::now().date_naive().to_string();
    let send: Value =
        serde_json::from_str(&env.ok(&["send", "--at", &today, "--dry-run", "--format", "json"])).unwrap();
    assert!(send["held"].as_array().unwrap().is_empty(), "{send:#}");
    assert!(send["due"].as_u64().unwrap() > 0, "{send:#}");
}

#[test]
fn a_full_disk_is_named_in_the_log_when_it_filled_while_the_daemon_was_idle() {
    // Deliveries in June: after the catch-up sync the daemon is idle until the 08:00 send, so
    // the -wal and -shm files are gone (the last connection closed) when the disk fills.
    let env =
        Env::with_config(&format!("{ADMIN}[schedule]\nmax_source_age = '30d'\ndeliver = '0 12 1 6 *'\n"));
    let data = env.path().join("data");
    let Some(_disk) = small_disk(&data) else { return };
    env.ok(&["import", "csv", s(&repo().join("sample-data"))]);
    let mut d = start(&env, &["--clock-start", "2026-12-01T06:51:00Z", "--clock-speed", "60"], &[]);
    let _ = admin_addr(&env, &mut d);
    let filler = data.join("filler");
    fill(&filler);
    let failed = until(&mut d, LONG, "the 08:00 send failing on the full disk", |d| {
        lines_with(&d.log(), &["job failed", "job=\"send\""]).first().map(|l| l.to_string())
    });
    std::fs::remove_file(&filler).unwrap();
    assert!(
        failed.contains("disk is full") || failed.contains("No space left on device"),
        "the log should say the disk is full: {failed}"
    );
    stop(&mut d);
}

#[test]
fn a_send_run_that_failed_is_made_up_the_same_day_once_the_fault_is_gone() {
    let env = sample_env("[schedule]\nmax_source_age = '30d'\ndeliver = '*/5 * * * *'\n");
    // Two minutes a second from 07:55 in Amsterdam: the lock is taken before the 08:00 send.
    let mut d = start(&env, &["--clock-start", "2026-12-01T06:55:00Z", "--clock-speed", "120"], &[]);
    let _ = admin_addr(&env, &mut d);
    let lock = lock_database(&env);
    until(&mut d, LONG, "the send failing on the lock", |d| {
        (!lines_with(&d.log(), &["job failed", "database is locked", "job=\"send\""]).is_empty())
            .then_some(())
    });
    drop(lock);
    // Within the next hour of the fast clock (30 real seconds), the day's send is done.
    until(&mut d, Duration::from_secs(30), "the failed send made up", |d| {
        d.log().contains("send done").then_some(())
    });
    assert!(outbox(&env).len() > 10);
    stop(&mut d);
}
