//! `dunwell run`, the real binary as systemd would run it: a day of work in fast-forward
//! (`--clock-start`/`--clock-speed`: the daemon's clock starts at a given instant and runs N
//! times faster, so its timers, the schedule, the send windows and catch-up run for real), the
//! notify protocol against a fake NOTIFY_SOCKET, reload, stop, the admin API and its metrics,
//! the freshness gate, and cancellation of a message whose invoice was paid meanwhile.

use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{outbox, repo, s, Env};

/// The admin section of every test: any free port (status tells which).
pub const ADMIN: &str = "[admin]\nlisten = '127.0.0.1:0'\n";

/// A running `dunwell run`.
pub struct Running {
    pub child: Child,
    pub log: PathBuf,
}

pub fn start(env: &Env, args: &[&str], envs: &[(&str, &str)]) -> Running {
    let log = env.path().join(format!("daemon-{}.log", Instant::now().elapsed().as_nanos()));
    let log = unique(log);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dunwell"));
    cmd.arg("--config")
        .arg(env.path().join("dunwell.toml"))
        .arg("run")
        .args(args)
        .current_dir(env.path())
        .env("DUNWELL_LOG", "info")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("CREDENTIALS_DIRECTORY")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    Running { child: cmd.spawn().expect("start dunwell run"), log }
}

fn unique(base: PathBuf) -> PathBuf {
    let mut n = 0;
    loop {
        let p = base.with_extension(format!("{n}.log"));
        if !p.exists() {
            return p;
        }
        n += 1;
    }
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill").arg(format!("-{sig}")).arg(self.pid().to_string()).status().unwrap();
        assert!(ok.success(), "kill -{sig} failed");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the exit; panics with the log after `limit`.
    pub fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let until = Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                panic!("dunwell run did not exit within {limit:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the daemon's first sync job is over (done or failed), then stops it with
    /// SIGTERM and expects exit 0; returns the log.
    pub fn stop_after_first_sync(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let sync_over = |log: &str| {
            log.lines().any(|l| {
                (l.contains(" job done ") || l.contains(" job failed: ")) && l.contains("job=\"sync\"")
            })
        };
        while !sync_over(&self.log()) {
            assert!(Instant::now() < deadline, "no sync within a minute:\n{}", self.log());
            assert!(self.child.try_wait().unwrap().is_none(), "the daemon stopped:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        self.signal("TERM");
        let st = self.wait(Duration::from_secs(45));
        let log = self.log();
        assert!(st.success(), "exit 0 on SIGTERM: {st}\n{log}");
        log
    }

    /// Waits until the log has `text`.
    pub fn wait_for_log(&mut self, text: &str, limit: Duration) {
        let until = Instant::now() + limit;
        while !self.log().contains(text) {
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!("dunwell run exited ({st}) before logging `{text}`:\n{}", self.log());
            }
            assert!(Instant::now() < until, "no `{text}` in the log within {limit:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn status(env: &Env) -> Value {
    serde_json::from_str(&env.ok(&["status", "--format", "json"])).unwrap()
}

/// The admin API's address, once the running daemon has recorded it.
pub fn admin_addr(env: &Env, d: &mut Running) -> String {
    d.wait_for_log("dunwell is running", Duration::from_secs(60));
    let st = status(env);
    st["daemon"]["listen"].as_str().expect("the daemon records its address").to_string()
}

/// A plain HTTP/1.1 request to 127.0.0.1; returns the status code and the body.
pub fn http(addr: &str, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let code = raw.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    // Chunked bodies (axum streams some): good enough to search, not to parse.
    (code, body)
}

pub fn token(env: &Env) -> String {
    std::fs::read_to_string(env.path().join("data/admin-token")).unwrap().trim().to_string()
}

/// An env with the shipped sample export imported (its "today" is 2026-12-01).
pub fn sample_env(extra: &str) -> Env {
    let env = Env::with_config(&format!("{ADMIN}{extra}"));
    env.ok(&["import", "csv", s(&repo().join("sample-data"))]);
    env
}

fn utc(t: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(t).unwrap_or_else(|e| panic!("{t}: {e}")).with_timezone(&chrono::Utc)
}

fn minutes_utc(t: &str) -> (String, u32) {
    let t = utc(t);
    (
        t.date_naive().to_string(),
        t.format("%H").to_string().parse::<u32>().unwrap() * 60
            + t.format("%M").to_string().parse::<u32>().unwrap(),
    )
}

#[test]
fn a_day_of_work_in_fast_forward_sends_at_eight_and_delivers_inside_the_windows() {
    // The sample was imported "now" (real time); the fast clock starts at 07:40 in Amsterdam
    // on 2026-12-01, a Tuesday: the freshness limit must reach back that far.
    let env = sample_env("[schedule]\nmax_source_age = '30d'\n");
    let mut d =
        start(&env, &["--clock-start", "2026-12-01T06:40:00Z", "--clock-speed", "1200", "--for", "36"], &[]);
    let st = d.wait(Duration::from_secs(120));
    let log = d.log();
    assert!(st.success(), "{log}");
    // No colour codes when stderr is a file.
    assert!(!log.contains('\u{1b}'), "{log}");
    let status = status(&env);
    let send = status["jobs"].as_array().unwrap().iter().find(|j| j["job"] == "send").unwrap().clone();
    assert_eq!(send["result"], "ok", "{status:#}");
    let summary = &send["summary"];
    assert_eq!(summary["day"], "2026-12-01", "{send:#}");
    let written = summary["written"].as_u64().unwrap();
    assert!(written > 10, "the sample has work on 2026-12-01: {send:#}");
    let messages = outbox(&env);
    assert_eq!(messages.len() as u64, written, "one outbox row per message written");
    // The 08:00 send (07:00 UTC) ran once; on a loaded machine it starts a few real seconds
    // late, which is minutes at this speed.
    let at = |field: &str| send[field].as_str().unwrap_or_else(|| panic!("no {field}: {send:#}"));
    let (started, finished) = (utc(at("last_started")), utc(at("last_finished")));
    let (day, minute) = minutes_utc(at("last_started"));
    assert!(day == "2026-12-01" && (7 * 60..7 * 60 + 30).contains(&minute), "{send:#}");
    for m in &messages {
        // What is not sent needs a person: no address and no fallback (dead, with the
        // reason), or a step that waits for approval.
        match m["status"].as_str().unwrap() {
            "sent" => {}
            "dead" => {
                assert!(m["last_error"].as_str().unwrap().contains("no e-mail address"), "{m:#}");
                continue;
            }
            "awaiting-approval" => continue,
            other => panic!("{other}: {m:#}\n{log}"),
        }
        let (day, minute) = minutes_utc(m["sent_at"].as_str().unwrap());
        assert_eq!(day, "2026-12-01", "{m:#}");
        // December: Amsterdam is UTC+1. E-mail and SMS 09:00-17:00, letters 08:00-16:00.
        let (from, until) = match m["channel"].as_str().unwrap() {
            "letter" | "registered-letter" => (7 * 60, 15 * 60),
            _ => (8 * 60, 16 * 60),
        };
        assert!((from..until).contains(&minute), "sent outside its window: {m:#}");
        // Recorded by that send, while it ran.
        let created = utc(m["created"].as_str().unwrap());
        assert!((started..=finished).contains(&created), "recorded by the 08:00 send: {m:#}\n{send:#}");
    }
    // Each delivery is one structured log line naming the message.
    let sent_lines = log.lines().filter(|l| l.contains(" sent outbox_id=")).count();
    assert_eq!(sent_lines, messages.iter().filter(|m| m["status"] == "sent").count(), "{log}");
    assert!(status["daemon_running"] == false, "stopped: {status:#}");
}

#[test]
fn a_send_missed_while_down_is_made_up_once_the_same_day_and_not_the_next() {
    let env = sample_env("[schedule]\nmax_source_age = '30d'\n");
    let run = |from: &str, seconds: &str| {
        let mut d = start(&env, &["--clock-start", from, "--clock-speed", "60", "--for", seconds], &[]);
        assert!(d.wait(Duration::from_secs(60)).success(), "{}", d.log());
        d.log()
    };
    let sends = |log: &str| log.lines().filter(|l| l.contains("send done")).count();
    // Tuesday 07:58 in Amsterdam: the 08:00 send runs on time.
    let log = run("2026-12-01T06:58:00Z", "4");
    assert_eq!(sends(&log), 1, "{log}");
    let first = outbox(&env).len();
    assert!(first > 0);
    // Down over Wednesday's 08:00, back at 10:30: made up once, at start.
    let log = run("2026-12-02T09:30:00Z", "3");
    assert_eq!(log.matches("making up the run of 2026-12-02T07:00:00").count(), 1, "{log}");
    assert_eq!(sends(&log), 1, "{log}");
    let st = status(&env);
    let send = st["jobs"].as_array().unwrap().iter().find(|j| j["job"] == "send").unwrap().clone();
    assert_eq!(send["summary"]["day"], "2026-12-02", "{send:#}");
    let second = outbox(&env).len();
    // Down over Thursday's 08:00, back on Friday at 03:00: Thursday's send is not made up at
    // night (the planner catches its steps up at Friday's 08:00).
    let log = run("2026-12-04T02:00:00Z", "3");
    assert!(!log.contains("making up the run of 2026-12-03"), "{log}");
    assert_eq!(sends(&log), 0, "{log}");
    assert_eq!(outbox(&env).len(), second, "nothing new at night");
}

/// The datagrams dunwell sends to a fake NOTIFY_SOCKET.
struct FakeSystemd {
    socket: UnixDatagram,
    pub path: PathBuf,
}

impl FakeSystemd {
    fn new(dir: &Path) -> FakeSystemd {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
        FakeSystemd { socket, path }
    }

    /// The next datagram that has `field`.
    fn expect(&self, field: &str) -> String {
        let mut buf = vec![0u8; 4096];
        loop {
            let n = self.socket.recv(&mut buf).unwrap_or_else(|e| panic!("no `{field}` from dunwell: {e}"));
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            if msg.lines().any(|l| l.starts_with(field)) {
                return msg;
            }
        }
    }
}

#[test]
fn systemd_hears_ready_reloading_a_refused_reload_the_watchdog_and_stopping() {
    let env = sample_env("[schedule]\nmax_source_age = '30d'\n");
    let systemd = FakeSystemd::new(env.path());
    let mut d = start(&env, &[], &[("NOTIFY_SOCKET", s(&systemd.path)), ("WATCHDOG_USEC", "2000000")]);
    // WATCHDOG_PID must name the daemon for the watchdog to apply: sd_notify reads it, and a
    // missing one means "this process".
    let ready = systemd.expect("READY=1");
    assert!(ready.contains("STATUS="), "{ready}");
    systemd.expect("WATCHDOG=1");

    // A good reload (SIGHUP, as `systemctl reload` without ExecReload would).
    d.signal("HUP");
    let reloading = systemd.expect("RELOADING=1");
    let usec: u64 = reloading
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("RELOADING=1 without MONOTONIC_USEC: {reloading}"))
        .parse()
        .unwrap();
    assert!(usec > 0);
    let ready = systemd.expect("READY=1");
    assert!(ready.contains("reloaded"), "{ready}");

    // A broken configuration: `dunwell reload --wait` (ExecReload=) fails, the daemon keeps
    // the old one and says so.
    let config = env.path().join("dunwell.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        good.replace("max_source_age = '30d'", "max_source_age = '30d'\nsend = '0 8 * *'"),
    )
    .unwrap();
    let out = env.run(&["reload", "--wait"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused") && err.contains("send"), "{err}");
    systemd.expect("RELOADING=1");
    let ready = systemd.expect("READY=1");
    assert!(ready.contains("reload refused"), "{ready}");
    // Status shows the refusal; the daemon still answers.
    std::fs::write(&config, &good).unwrap();
    let st = status(&env);
    assert!(st["daemon"]["reload_error"].as_str().unwrap_or_default().contains("send"), "{st:#}");
    assert_eq!(st["daemon_running"], true);
    // Fixed: the reload goes through.
    env.ok(&["reload", "--wait"]);

    d.signal("TERM");
    systemd.expect("STOPPING=1");
    let st = d.wait(Duration::from_secs(45));
    assert!(st.success(), "exit 0 on SIGTERM: {st}\n{}", d.log());
}

#[test]
fn the_admin_api_wants_its_token_and_serves_metrics_promtool_accepts() {
    let env = sample_env("[schedule]\nmax_source_age = '30d'\n");
    let mut d = start(&env, &["--clock-start", "2026-12-01T06:59:00Z", "--clock-speed", "60"], &[]);
    let addr = admin_addr(&env, &mut d);
    assert_eq!(http(&addr, "GET", "/healthz", None).0, 200);
    assert_eq!(http(&addr, "GET", "/readyz", None).0, 200);
    assert_eq!(http(&addr, "GET", "/status", None).0, 401);
    assert_eq!(http(&addr, "GET", "/status", Some("not-the-token-at-all")).0, 401);
    let t = token(&env);
    let (code, body) = http(&addr, "GET", "/status", Some(&t));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"jobs\""), "{body}");
    // The send at 08:00 (a minute of fast clock away) runs; then the plan and outbox answer.
    d.wait_for_log("send done", Duration::from_secs(60));
    let (code, body) = http(&addr, "GET", "/outbox?status=queued", Some(&t));
    assert_eq!(code, 200, "{body}");
    let (code, body) = http(&addr, "GET", "/plan?days=3", Some(&t));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"actions\""), "{body}");
    let (code, metrics) = http(&addr, "GET", "/metrics", None);
    assert_eq!(code, 200);
    assert!(metrics.contains("dunwell_admin_unauthorized_total 2"), "{metrics}");
    assert!(metrics.contains("dunwell_job_runs_total{job=\"send\",result=\"ok\"} 1"), "{metrics}");
    assert!(metrics.contains("dunwell_open_amount_euros{"), "{metrics}");
    assert!(metrics.contains("bucket=\"90+\""), "{metrics}");
    let promtool = promtool();
    let file = env.path().join("metrics.txt");
    std::fs::write(&file, dechunk(&metrics)).unwrap();
    let out = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics:\n{}{}\n{metrics}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    d.signal("TERM");
    assert!(d.wait(Duration::from_secs(45)).success(), "{}", d.log());
}

/// promtool, from $PROMTOOL (scripts/test extracts Debian's prometheus package) or PATH.
pub fn promtool() -> PathBuf {
    if let Some(p) = std::env::var_os("PROMTOOL") {
        return PathBuf::from(p);
    }
    let found = Command::new("sh").args(["-c", "command -v promtool"]).output().unwrap();
    let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
    assert!(
        !path.is_empty(),
        "promtool is missing: run scripts/test, which extracts it from Debian's prometheus package"
    );
    PathBuf::from(path)
}

/// A body as sent with `Transfer-Encoding: chunked` (hex length lines between the parts).
pub fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((len, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(len.trim(), 16) else { return body.to_string() };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    if out.is_empty() {
        body.to_string()
    } else {
        out
    }
}

#[test]
fn a_stale_source_holds_every_reminder_and_says_why() {
    use chrono::Datelike;
    // The import happened now; the fast clock starts on a Tuesday at least three days on:
    // the CSV source is stale by then.
    let env = sample_env("[schedule]\nmax_source_age = '24h'\n");
    let mut day = chrono::Utc::now().date_naive() + chrono::Days::new(3);
    while day.weekday() != chrono::Weekday::Tue {
        day = day.succ_opt().unwrap();
    }
    let start_at = format!("{day}T06:59:00Z");
    let mut d = start(&env, &["--clock-start", &start_at, "--clock-speed", "60", "--for", "4"], &[]);
    assert!(d.wait(Duration::from_secs(60)).success(), "{}", d.log());
    let log = d.log();
    assert!(outbox(&env).is_empty(), "nothing is written for a stale source:\n{log}");
    let st = status(&env);
    let send = st["jobs"].as_array().unwrap().iter().find(|j| j["job"] == "send").unwrap().clone();
    assert_eq!(send["result"], "ok", "{send:#}\n{log}");
    let held = send["summary"]["held"].as_array().unwrap();
    assert!(!held.is_empty(), "{send:#}");
    for h in held {
        assert_eq!(h["kind"], "stale-source", "{h:#}");
        assert!(h["reason"].as_str().unwrap().contains("source `csv` last synced successfully"), "{h:#}");
        assert!(h["reason"].as_str().unwrap().contains("max_source_age = 24h"), "{h:#}");
    }
    assert!(log.contains("held: source `csv`"), "{log}");
    let out = env.ok(&["status"]);
    assert!(out.contains(&format!("held reminders: {} at the last send", held.len())), "{out}");
    assert!(out.contains("max_source_age = 24h"), "{out}");
}

#[test]
fn a_message_whose_invoice_was_paid_before_delivery_is_cancelled_and_the_rest_planned_again() {
    // Send records at 08:00, delivery never runs in the first start (its slot is in June).
    let env = sample_env("[schedule]\nmax_source_age = '30d'\ndeliver = '0 12 1 6 *'\n");
    let mut d =
        start(&env, &["--clock-start", "2026-12-01T06:59:00Z", "--clock-speed", "60", "--for", "4"], &[]);
    assert!(d.wait(Duration::from_secs(60)).success(), "{}", d.log());
    let queued = outbox(&env);
    assert!(!queued.is_empty());
    let m = queued.iter().find(|m| m["status"] == "queued").expect("a queued message").clone();
    let number = m["invoices"][0]["invoice_number"].as_str().unwrap().to_string();
    // The invoice is paid at the source (its open amount there is 0.00), the export imported
    // again while nothing runs.
    let export = env.path().join("export");
    crate::copy_dir(&repo().join("sample-data"), &export);
    let invoices = std::fs::read_to_string(export.join("invoices.csv")).unwrap();
    let header = invoices.lines().next().unwrap().to_string();
    let line = invoices.lines().find(|l| l.starts_with(&format!("{number},"))).unwrap().to_string();
    let cols: Vec<&str> = header.split(',').collect();
    let vals: Vec<&str> = line.split(',').collect();
    let total = vals[cols.iter().position(|c| *c == "total").unwrap()];
    let open = cols.iter().position(|c| *c == "open_amount").unwrap();
    let paid: Vec<&str> = vals.iter().enumerate().map(|(i, v)| if i == open { "0.00" } else { v }).collect();
    std::fs::write(export.join("invoices.csv"), invoices.replace(&line, &paid.join(","))).unwrap();
    assert!(!total.is_empty());
    env.ok(&["import", "csv", s(&export)]);
    // Delivery now: the message is cancelled, not sent.
    env.set_config(&format!("{ADMIN}[schedule]\nmax_source_age = '30d'\ndeliver = '*/5 * * * *'\n"));
    let mut d =
        start(&env, &["--clock-start", "2026-12-01T09:04:00Z", "--clock-speed", "60", "--for", "8"], &[]);
    assert!(d.wait(Duration::from_secs(60)).success(), "{}", d.log());
    let after = outbox(&env);
    let cancelled = after.iter().find(|x| x["id"] == m["id"]).unwrap();
    assert_eq!(cancelled["status"], "cancelled", "{cancelled:#}");
    assert!(cancelled["last_error"].as_str().unwrap().contains("paid"), "{cancelled:#}");
    assert!(d.log().contains("cancelled"), "{}", d.log());
    // Its other invoices (if it covered several) are planned again on the next send.
    let others: Vec<&str> = m["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|c| c["invoice_number"].as_str().unwrap())
        .collect();
    if !others.is_empty() {
        let plan = env.ok(&["plan", "--at", "2026-12-01", "--format", "json"]);
        for o in others {
            assert!(plan.contains(o), "{o} is planned again: {plan}");
        }
    }
    // No file was written for it.
    assert!(cancelled["file"].is_null(), "{cancelled:#}");
}

/// The test server's address for `[channels.email]` without TLS (plain SMTP on 127.0.0.1).
pub fn email_config(port: u16) -> String {
    format!(
        "[channels.email]\nurl = 'smtp://127.0.0.1:{port}'\nfrom = 'Bakkerij Van Dam <debiteuren@bakkerij.example>'\ntimeout_s = 10\n"
    )
}

#[test]
fn killed_at_random_moments_nothing_is_lost_nothing_sent_twice_and_the_store_stays_sound() {
    use rand::{Rng, SeedableRng};
    let env = sample_env("");
    let smtp = crate::email::TestSmtp::start("plain", env.path());
    env.set_config(&format!(
        "{ADMIN}[schedule]\nmax_source_age = '30d'\ndeliver = '*/5 * * * *'\n{}",
        email_config(smtp.port)
    ));
    // A seed per run, printed, so a failure can be replayed.
    let seed: u64 =
        std::env::var("DUNWELL_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("kill test seed {seed} (DUNWELL_KILL_SEED={seed} replays it)");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    // The day runs from 07:55 to 16:30 local; each start picks the clock up where the last
    // one was killed.
    let speed = 300u32;
    let mut at =
        chrono::DateTime::parse_from_rfc3339("2026-12-01T06:55:00Z").unwrap().with_timezone(&chrono::Utc);
    let mut kills = 0;
    while kills < 24 {
        let mut d =
            start(&env, &["--clock-start", &at.to_rfc3339(), "--clock-speed", &speed.to_string()], &[]);
        let started = Instant::now();
        // Mostly while it works: the first moments (start, catch-up, the 08:00 send, the
        // 09:00 deliveries) are where a kill hurts.
        let wait = Duration::from_millis(rng.gen_range(50..2500));
        std::thread::sleep(wait);
        if let Some(st) = d.child.try_wait().unwrap() {
            panic!("dunwell run exited by itself ({st}):\n{}", d.log());
        }
        d.child.kill().unwrap();
        d.child.wait().unwrap();
        kills += 1;
        at += chrono::Duration::from_std(started.elapsed() * speed).unwrap();
        let conn = rusqlite::Connection::open(env.db()).unwrap();
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok", "after kill {kills}");
    }
    assert!(
        at < chrono::DateTime::parse_from_rfc3339("2026-12-01T15:00:00Z").unwrap(),
        "the kills ran past the day: {at}"
    );
    // The rest of the day without interruption, four times as fast: nothing is killed any
    // more, and at 300x the afternoon took a minute of the test's two.
    let rest_speed = 4 * speed;
    let rest =
        ((chrono::DateTime::parse_from_rfc3339("2026-12-01T15:30:00Z").unwrap().with_timezone(&chrono::Utc)
            - at)
            .num_seconds()
            / i64::from(rest_speed))
        .max(2)
            + 2;
    let mut d = start(
        &env,
        &[
            "--clock-start",
            &at.to_rfc3339(),
            "--clock-speed",
            &rest_speed.to_string(),
            "--for",
            &rest.to_string(),
        ],
        &[],
    );
    assert!(d.wait(Duration::from_secs(rest as u64 + 60)).success(), "{}", d.log());

    // Nothing lost: the day's send ran to the end, every message it wrote went out.
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let messages = outbox(&env);
    // What one uninterrupted run of the same day gives (`dunwell send` on a fresh install of
    // the same export, into the file outbox): the same messages, by key, in the same states.
    let fresh = sample_env("[schedule]\nmax_source_age = '30d'\n");
    fresh.ok(&["send", "--at", "2026-12-01"]);
    let states = |list: &[Value]| {
        let mut v: Vec<(String, String)> = list
            .iter()
            .map(|m| (m["key"].as_str().unwrap().to_string(), m["status"].as_str().unwrap().to_string()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(states(&messages), states(&outbox(&fresh)), "the killed day ends as an uninterrupted one");
    // Nothing sent twice outside the documented window: each e-mail reached the server, and
    // a copy exists only for a message a kill caught between the server's answer and our
    // record (at most one per kill), with the same Message-ID.
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for file in smtp.messages() {
        let raw = std::fs::read_to_string(file).unwrap();
        *seen.entry(crate::email::message_id_of(&raw).unwrap()).or_default() += 1;
    }
    let emails: Vec<&Value> =
        messages.iter().filter(|m| m["channel"] == "email" && m["recipient"].is_string()).collect();
    for m in &emails {
        let id = m["message_id"].as_str().unwrap_or_else(|| panic!("no Message-ID recorded: {m:#}"));
        assert!(seen.contains_key(id), "{id} never reached the server");
    }
    let copies: usize = seen.values().map(|n| n - 1).sum();
    assert!(copies <= kills, "{copies} duplicate e-mails after {kills} kills");
    eprintln!("{kills} kills: {} messages, {} e-mails, {copies} duplicates", messages.len(), emails.len());
}

#[test]
fn sigterm_during_a_delivery_finishes_the_message_in_hand_and_leaves_the_rest_queued() {
    let env = sample_env("");
    // A server that answers each message after two seconds: SIGTERM comes while one is in
    // flight.
    let smtp = crate::email::TestSmtp::start_with("slow", env.path(), &["--delay", "2"]);
    env.set_config(&format!(
        "{ADMIN}[schedule]\nmax_source_age = '30d'\ndeliver = '*/5 * * * *'\n{}",
        email_config(smtp.port)
    ));
    // 07:58: the send runs at 08:00, the e-mail window opens at 09:00 (six real seconds on).
    let mut d = start(&env, &["--clock-start", "2026-12-01T06:58:00Z", "--clock-speed", "600"], &[]);
    let until = Instant::now() + Duration::from_secs(60);
    while smtp.messages().is_empty() {
        assert!(Instant::now() < until, "no message reached the server:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let stopping = Instant::now();
    d.signal("TERM");
    let st = d.wait(Duration::from_secs(45));
    assert!(st.success(), "exit 0 on SIGTERM: {st}\n{}", d.log());
    assert!(stopping.elapsed() < Duration::from_secs(30), "stopped in {:?}", stopping.elapsed());
    let messages = outbox(&env);
    let count = |s: &str| messages.iter().filter(|m| m["status"] == s).count();
    // Nothing half-sent: no message is left `sending`; what reached the server is recorded.
    assert_eq!(count("sending"), 0, "{messages:#?}");
    assert!(
        count("sent") >= 1 && count("sent") <= smtp.messages().len(),
        "sent {}, server {}",
        count("sent"),
        smtp.messages().len()
    );
    assert!(count("queued") > 0, "the rest waits for the next start");
    assert!(d.log().contains("stopped"), "{}", d.log());
}
