//! E-mail against real counterparts: `tests/testdata/smtp/server.py` (Python's aiosmtpd) with
//! STARTTLS or implicit TLS and AUTH, refusing, dropping the connection after DATA, or too
//! slow; each received message parsed by Python's `email` package. The certificates are
//! `tests/testdata/smtp/ca.pem` (trusted through `ca_file`) and a leaf for 127.0.0.1 and
//! localhost (see the README there).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{json, outbox, repo, s, testdata, Env};

/// The business every test sends for.
pub const BUSINESS: &str = "[business]\nname = 'Bakkerij Van Dam B.V.'\naddress = 'Kerkstraat 12, 3811 CV Amersfoort'\niban = 'NL91ABNA0417164300'\n";

/// The day the tests send on (a Monday) and the invoices' due date: step 1 of the standard
/// playbook (e-mail, 3 days before the due date) falls on `DAY`.
pub const DAY: &str = "2026-12-07";
const DUE: &str = "2026-12-10";

/// The test server's login.
const USER: &str = "dunwell";
const PASSWORD: &str = "smtp-test-password";

/// `tests/testdata/smtp/server.py MODE` on a free port of 127.0.0.1, storing what it accepts
/// in a maildir; killed when dropped.
pub struct TestSmtp {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
}

impl TestSmtp {
    pub fn start(mode: &str, dir: &Path) -> TestSmtp {
        TestSmtp::start_with(mode, dir, &[])
    }

    pub fn start_with(mode: &str, dir: &Path, args: &[&str]) -> TestSmtp {
        let maildir = dir.join(format!("maildir-{mode}"));
        let log = std::fs::File::create(dir.join(format!("smtp-{mode}.log"))).unwrap();
        let mut child = Command::new("python3")
            .arg(testdata("smtp/server.py"))
            .arg(mode)
            .arg(&maildir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("python3 (scripts/test installs aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("port ").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
            let log = std::fs::read_to_string(dir.join(format!("smtp-{mode}.log"))).unwrap_or_default();
            panic!("server.py {mode} did not start (is aiosmtpd installed? python3 -m pip install aiosmtpd):\n{log}")
        });
        TestSmtp { child, port, maildir }
    }

    /// The files of the messages received, sorted.
    pub fn messages(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(self.maildir.join("new"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        out.sort();
        out
    }
}

impl Drop for TestSmtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `Message-ID:` header's value, read from the raw message.
pub fn message_id_of(raw: &str) -> Option<String> {
    raw.replace("\r\n", "\n")
        .split("\n\n")
        .next()?
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID:").or_else(|| l.strip_prefix("Message-Id:")))
        .map(|v| v.trim().to_string())
}

/// Writes an export of one invoice per customer, each due on `DUE`: `(id, name, language,
/// e-mail, total)`.
pub fn export(dir: &Path, customers: &[(&str, &str, &str, &str, &str)]) -> PathBuf {
    let out = dir.join("export");
    std::fs::create_dir_all(&out).unwrap();
    let mut c = String::from(
        "customer_id,name,kind,language,email,phone,street,postal_code,city,country,customer_since,payment_method,segment\n",
    );
    let mut i = String::from("invoice_number,customer_id,issue_date,due_date,currency,total,open_amount\n");
    for (n, (id, name, lang, email, total)) in customers.iter().enumerate() {
        c.push_str(&format!(
            "{id},\"{name}\",b2b,{lang},{email},,Dorpsstraat 1,1234 AB,Amsterdam,NL,2020-01-01,transfer,\n"
        ));
        i.push_str(&format!("2026-{:05},{id},2026-11-10,{DUE},EUR,{total},\n", n + 1));
    }
    std::fs::write(out.join("customers.csv"), c).unwrap();
    std::fs::write(out.join("invoices.csv"), i).unwrap();
    std::fs::write(out.join("payments.csv"), "invoice_number,date,amount,method\n").unwrap();
    out
}

/// An env with `customers` imported and `[channels.email]` set to `email`.
fn env_with(customers: &[(&str, &str, &str, &str, &str)], email: &str) -> Env {
    let env = Env::with_config(&format!("{BUSINESS}[channels.email]\n{email}"));
    env.ok(&["import", "csv", s(&export(env.path(), customers))]);
    env
}

/// The `[channels.email]` lines for the test server: `url`, the login (password in a file of
/// `env_dir`), and the test CA unless `ca` is false.
fn email_settings(dir: &Path, url: &str, password: &str, ca: bool) -> String {
    let file = dir.join("smtp-password");
    std::fs::write(&file, format!("{password}\n")).unwrap();
    let ca_file = if ca { format!("ca_file = '{}'\n", s(&testdata("smtp/ca.pem"))) } else { String::new() };
    format!(
        "url = '{url}'\nfrom = 'Bakkerij Van Dam <debiteuren@bakkerij.example>'\nreply_to = 'Debiteuren <deb@bakkerij.example>'\nuser = '{USER}'\npassword_file = '{}'\ntimeout_s = 10\n{ca_file}",
        s(&file)
    )
}

fn send(env: &Env) -> Value {
    json(&env.ok(&["send", "--at", DAY, "--format", "json"]))
}

/// Parses a received message with Python's `email` package (policy default).
fn parse(path: &Path) -> Value {
    let script = r#"
import email, email.policy, json, re, sys
raw = open(sys.argv[1], 'rb').read()
m = email.message_from_bytes(raw, policy=email.policy.default)
head = re.sub(r'\n[ \t]+', ' ', raw.replace(b'\r\n', b'\n').split(b'\n\n')[0].decode('ascii', 'replace')).split('\n')
print(json.dumps({
  'from': str(m['From']), 'to': str(m['To']), 'subject': str(m['Subject']),
  'raw_subject': next((l for l in head if l.startswith('Subject:')), ''),
  'message_id': str(m['Message-ID']), 'date': str(m['Date']), 'reply_to': str(m['Reply-To']),
  'envelope_to': str(m['X-RcptTo']), 'content_type': m.get_content_type(),
  'plain': m.get_body(('plain',)).get_content(), 'html': (m.get_body(('html',)) or m).get_content(),
  'headers': list(m.keys()), 'defects': [str(d) for d in m.defects],
}))
"#;
    let out = Command::new("python3").arg("-c").arg(script).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    json(&String::from_utf8(out.stdout).unwrap())
}

#[test]
fn starttls_with_auth_delivers_a_message_that_parses() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestSmtp::start("starttls", dir.path());
    let url = format!("smtp://localhost:{}?tls=required", server.port);
    let env = env_with(
        &[("C1", "Müller & Söhne GmbH", "de", "buchhaltung@mueller.example", "1234.56")],
        &email_settings(dir.path(), &url, PASSWORD, true),
    );
    let report = send(&env);
    assert_eq!(report["delivery"]["sent"], 1, "{report}");
    let received = server.messages();
    assert_eq!(received.len(), 1);
    let m = parse(&received[0]);
    let row = &outbox(&env)[0];
    assert_eq!(row["status"], "sent", "{row}");
    assert_eq!(m["content_type"], "multipart/alternative", "{m}");
    assert_eq!(m["from"], "Bakkerij Van Dam <debiteuren@bakkerij.example>");
    assert_eq!(m["reply_to"], "Debiteuren <deb@bakkerij.example>");
    assert_eq!(m["to"], "buchhaltung@mueller.example");
    assert_eq!(m["envelope_to"], "buchhaltung@mueller.example");
    // The UTF-8 subject arrives as written (RFC 2047 on the wire, decoded by Python).
    let subject = m["subject"].as_str().unwrap();
    assert!(subject.contains("2026-00001") && subject.contains("fällig"), "{m}");
    assert_eq!(row["subject"], subject);
    assert!(m["raw_subject"].as_str().unwrap().contains("=?utf-8?"), "{m}");
    let date = m["date"].as_str().unwrap();
    assert!(date.len() > 20 && date.ends_with("+0000"), "an RFC 5322 date: {m}");
    assert!(m["message_id"].as_str().unwrap().starts_with("<dunwell.1."), "{m}");
    assert!(m["message_id"].as_str().unwrap().ends_with("@bakkerij.example>"), "{m}");
    assert_eq!(m["message_id"], row["message_id"], "the Message-ID is dunwell's own");
    for part in ["plain", "html"] {
        let body = m[part].as_str().unwrap();
        assert!(body.contains("2026-00001"), "{part}: {body}");
        assert!(body.contains("1.234,56"), "{part}: {body}");
    }
    assert_eq!(m["defects"], serde_json::json!([]), "{m}");
    assert!(row["provider_id"].is_string(), "the server's reply is kept: {row}");
}

#[test]
fn implicit_tls_with_auth_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestSmtp::start("tls", dir.path());
    let url = format!("smtps://127.0.0.1:{}", server.port);
    let env = env_with(
        &[
            ("C1", "Bakkerij De Vries B.V.", "nl", "admin@devries.example", "605.00"),
            ("C2", "Dubois SPRL", "fr", "compta@dubois.example", "99.95"),
        ],
        &email_settings(dir.path(), &url, PASSWORD, true),
    );
    let report = send(&env);
    assert_eq!(report["delivery"]["sent"], 2, "{report}");
    let received: Vec<Value> = server.messages().iter().map(|p| parse(p)).collect();
    assert_eq!(received.len(), 2);
    let mut to: Vec<&str> = received.iter().map(|m| m["envelope_to"].as_str().unwrap()).collect();
    to.sort();
    assert_eq!(to, ["admin@devries.example", "compta@dubois.example"]);
    assert!(outbox(&env).iter().all(|r| r["status"] == "sent"));
}

#[test]
fn a_wrong_password_fails_naming_the_fix_and_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestSmtp::start("starttls", dir.path());
    let url = format!("smtp://127.0.0.1:{}?tls=required", server.port);
    let env = env_with(
        &[
            ("C1", "Bakkerij De Vries B.V.", "nl", "admin@devries.example", "605.00"),
            ("C2", "Dubois SPRL", "fr", "compta@dubois.example", "99.95"),
        ],
        &email_settings(dir.path(), &url, "not-the-password", true),
    );
    let report = send(&env);
    assert_eq!(
        (report["delivery"]["sent"].as_u64(), report["delivery"]["failed"].as_u64()),
        (Some(0), Some(2))
    );
    assert!(server.messages().is_empty());
    let rows = outbox(&env);
    for row in &rows {
        assert_eq!(row["status"], "failed", "{row}");
        assert!(row["next_attempt"].is_string(), "{row}");
        let error = row["last_error"].as_str().unwrap();
        assert!(error.contains("refused the login of user `dunwell`"), "{error}");
        assert!(error.contains("535"), "{error}");
        assert!(error.contains("check `user` in [channels.email] and the password in"), "{error}");
        assert!(error.contains("smtp-password"), "names the file: {error}");
        assert!(!error.contains("not-the-password"), "never the password: {error}");
    }
    // One login was tried, not one per message.
    assert_eq!(
        rows.iter().filter(|r| r["last_error"].as_str().unwrap().contains("not tried again")).count(),
        1
    );
}

#[test]
fn an_untrusted_certificate_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    for (mode, url) in [("starttls", "smtp://127.0.0.1:{}?tls=required"), ("tls", "smtps://localhost:{}")] {
        let server = TestSmtp::start(mode, dir.path());
        let url = url.replace("{}", &server.port.to_string());
        let env = env_with(
            &[("C1", "Bakkerij De Vries B.V.", "nl", "admin@devries.example", "605.00")],
            &email_settings(dir.path(), &url, PASSWORD, false),
        );
        let report = send(&env);
        assert_eq!(report["delivery"]["failed"], 1, "{report}");
        let row = &outbox(&env)[0];
        let error = row["last_error"].as_str().unwrap();
        assert!(error.contains("is not trusted"), "{mode}: {error}");
        assert!(error.contains("UnknownIssuer"), "{mode}: {error}");
        assert!(error.contains("ca_file"), "{mode}: {error}");
        assert!(server.messages().is_empty());
    }
}

#[test]
fn a_refusal_is_dead_with_the_servers_reply_and_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    for (mode, reply) in [
        ("refuse-rcpt", "550 5.1.1 <admin@devries.example>: Recipient address rejected"),
        ("refuse-data", "554 5.7.1 Message rejected"),
    ] {
        let server = TestSmtp::start(mode, dir.path());
        let env = env_with(
            &[("C1", "Bakkerij De Vries B.V.", "nl", "admin@devries.example", "605.00")],
            &format!("url = 'smtp://127.0.0.1:{}'\nfrom = 'debiteuren@bakkerij.example'\n", server.port),
        );
        let report = send(&env);
        assert_eq!(report["delivery"]["dead"], 1, "{mode}: {report}");
        let dead = json(&env.ok(&["outbox", "--status", "dead", "--format", "json"]));
        let row = &dead[0];
        let error = row["last_error"].as_str().unwrap();
        assert!(error.contains(reply), "{mode}: {error}");
        assert!(error.contains("refused the message"), "{mode}: {error}");
        assert!(row["next_attempt"].is_null(), "{row}");
        // Not tried again.
        let again = send(&env);
        for what in ["sent", "failed", "dead", "unknown"] {
            assert_eq!(again["delivery"][what], 0, "{mode}: {again}");
        }
        assert_eq!(outbox(&env)[0]["attempts"], 1);
        let table = env.ok(&["outbox"]);
        assert!(table.contains("dead"), "{table}");
    }
}

#[test]
fn a_connection_lost_after_data_is_retried_later_with_the_same_message_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestSmtp::start("drop-after-data", dir.path());
    let env = env_with(
        &[("C1", "Bakkerij De Vries B.V.", "nl", "admin@devries.example", "605.00")],
        &format!(
            "url = 'smtp://127.0.0.1:{}'\nfrom = 'debiteuren@bakkerij.example'\ntimeout_s = 10\n",
            server.port
        ),
    );
    let started = Instant::now();
    let report = send(&env);
    assert!(started.elapsed() < Duration::from_secs(8), "no wait for the timeout");
    assert_eq!(report["delivery"]["failed"], 1, "{report}");
    // The server has it (RFC 1047's gap): dunwell cannot know, so it is not marked sent.
    let received = server.messages();
    assert_eq!(received.len(), 1);
    let first_id = message_id_of(&std::fs::read_to_string(&received[0]).unwrap()).unwrap();
    let row = &outbox(&env)[0];
    assert_eq!(row["status"], "failed", "{row}");
    assert!(row["next_attempt"].is_string(), "{row}");
    let error = row["last_error"].as_str().unwrap();
    assert!(error.contains("the server may have it"), "{error}");
    assert!(error.contains("same Message-ID"), "{error}");

    // The next attempt (its time brought forward) goes to a working server: the copy carries
    // the same Message-ID, as channel/mod.rs documents for this window.
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.execute("UPDATE outbox SET next_attempt = '2000-01-01T00:00:00+00:00'", []).unwrap();
    drop(conn);
    let plain = TestSmtp::start("plain", dir.path());
    let config = std::fs::read_to_string(env.path().join("dunwell.toml")).unwrap();
    std::fs::write(
        env.path().join("dunwell.toml"),
        config.replace(&format!(":{}'", server.port), &format!(":{}'", plain.port)),
    )
    .unwrap();
    assert_eq!(send(&env)["delivery"]["sent"], 1);
    let again = plain.messages();
    assert_eq!(again.len(), 1);
    assert_eq!(message_id_of(&std::fs::read_to_string(&again[0]).unwrap()).unwrap(), first_id);
    assert_eq!(outbox(&env)[0]["message_id"].as_str(), Some(first_id.as_str()));
}

#[test]
fn a_server_slower_than_timeout_s_is_left_for_a_retry() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestSmtp::start_with("slow", dir.path(), &["--delay", "20"]);
    let env = env_with(
        &[
            ("C1", "Bakkerij De Vries B.V.", "nl", "admin@devries.example", "605.00"),
            ("C2", "Dubois SPRL", "fr", "compta@dubois.example", "99.95"),
        ],
        &format!(
            "url = 'smtp://127.0.0.1:{}'\nfrom = 'debiteuren@bakkerij.example'\ntimeout_s = 2\n",
            server.port
        ),
    );
    let started = Instant::now();
    let report = send(&env);
    assert!(started.elapsed() < Duration::from_secs(15), "each message waits timeout_s, no more");
    assert_eq!(report["delivery"]["failed"], 2, "{report}");
    for row in outbox(&env) {
        assert_eq!(row["status"], "failed", "{row}");
        let error = row["last_error"].as_str().unwrap();
        assert!(error.contains("gave no answer within 2s (timeout_s)"), "{error}");
    }
}

#[test]
fn a_customer_name_with_a_line_break_adds_no_header() {
    // The import refuses such a name (names are one line); a store written otherwise, and a
    // template that puts the name into the subject, must still not add a header.
    let dir = tempfile::tempdir().unwrap();
    let server = TestSmtp::start("plain", dir.path());
    let playbooks = dir.path().join("playbooks");
    copy_dir(&repo().join("playbooks"), &playbooks);
    let template = playbooks.join("templates/de/standard-preventive.txt");
    let text = std::fs::read_to_string(&template).unwrap();
    let (subject, rest) = text.split_once('\n').unwrap();
    std::fs::write(&template, format!("{subject} – {{{{ customer.name }}}}\n{rest}")).unwrap();
    let env = Env::new();
    std::fs::write(
        env.path().join("dunwell.toml"),
        format!(
            "data_dir = 'data'\nplaybooks_dir = '{}'\n{BUSINESS}[channels.email]\nurl = 'smtp://127.0.0.1:{}'\nfrom = 'debiteuren@bakkerij.example'\n",
            s(&playbooks),
            server.port
        ),
    )
    .unwrap();
    env.ok(&[
        "import",
        "csv",
        s(&export(
            env.path(),
            &[
                ("C1", "Evil", "de", "evil@example.com", "100.00"),
                ("C2", "Evil", "de", "evil2@example.com", "100.00"),
            ],
        )),
    ]);
    let bad = dir.path().join("bad");
    export(&bad, &[("C1", "Evil\r\nBcc: victim@example.com", "de", "evil@example.com", "100.00")]);
    let err = env.fails(&["import", "csv", s(&bad.join("export"))]);
    assert!(err.contains("customers.csv:2"), "{err}");
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.execute(
        "UPDATE customers SET name = 'Evil\r\nBcc: victim@example.com\r\nX-Injected: yes' WHERE id = 'C1'",
        [],
    )
    .unwrap();
    conn.execute(
        "UPDATE customers SET name = 'Evil\rBcc: victim@example.com\rX-Injected: yes' WHERE id = 'C2'",
        [],
    )
    .unwrap();
    drop(conn);
    let report = send(&env);
    assert_eq!(report["delivery"]["sent"], 2, "{report}");
    let received = server.messages();
    assert_eq!(received.len(), 2, "nothing went to a Bcc");
    for path in &received {
        let m = parse(path);
        let headers: Vec<String> = m["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_ascii_lowercase())
            .collect();
        assert!(!headers.iter().any(|h| h == "bcc" || h == "x-injected"), "{m}");
        assert!(m["envelope_to"].as_str().unwrap().starts_with("evil"), "{m}");
        assert!(
            !m["subject"].as_str().unwrap().contains('\r') && !m["subject"].as_str().unwrap().contains('\n')
        );
        assert_eq!(m["defects"], serde_json::json!([]), "{m}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
