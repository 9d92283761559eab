//! `dunwell send` end to end: the day's messages into the file outbox, exactly once, the plan
//! continuing from them; and e-mail through a real SMTP server (Python's aiosmtpd), each
//! received message parsed by Python's `email` package.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{json, s, testdata, Env};

/// The business every test sends for.
const BUSINESS: &str = "[business]\nname = 'Bakkerij Van Dam B.V.'\naddress = 'Kerkstraat 12, 3811 CV Amersfoort'\niban = 'NL91ABNA0417164300'\nkvk = '12345678'\n";

fn imported(config: &str) -> Env {
    let env = Env::with_config(&format!("{BUSINESS}{config}"));
    env.ok(&["import", "csv", s(&testdata("good"))]);
    env
}

fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(days) = std::fs::read_dir(dir) {
        for day in days {
            for f in std::fs::read_dir(day.unwrap().path()).unwrap() {
                let p = f.unwrap().path();
                out.push(format!(
                    "{}/{}",
                    p.parent().unwrap().file_name().unwrap().to_string_lossy(),
                    p.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_day_goes_to_the_file_outbox_once_and_the_plan_continues_from_it() {
    // At 2026-11-26 the plan has step 2 (e-mail) for 2026-001 (C1) and 2026-003 (C2), both
    // caught up that day (see tests/e2e/plan.rs).
    let env = imported("");
    let out = env.ok(&["send", "--at", "2026-11-26", "--format", "json"]);
    let report = json(&out);
    assert_eq!(report["due"], 2, "{out}");
    assert_eq!(report["written"].as_array().unwrap().len(), 2, "{out}");
    assert_eq!(report["delivery"]["sent"], 2, "{out}");
    let outbox = env.path().join("data/outbox");
    assert_eq!(files(&outbox), ["2026-11-26/000001-email.eml", "2026-11-26/000002-email.eml"]);
    let eml = std::fs::read_to_string(outbox.join("2026-11-26/000001-email.eml")).unwrap();
    assert!(eml.contains("To: admin@bakkerijdevries.nl"), "{eml}");
    assert!(eml.contains("Message-ID: <dunwell.1."), "{eml}");
    assert!(eml.contains("2026-001"), "{eml}");
    assert!(
        eml.contains("NL91ABNA0417164300") || eml.contains("NL91 ABNA 0417 1643 00"),
        "where to pay: {eml}"
    );

    // Again for the same day: nothing new.
    let again = json(&env.ok(&["send", "--at", "2026-11-26", "--format", "json"]));
    assert_eq!((again["written"].as_array().unwrap().len(), again["already_done"].as_u64()), (0, Some(0)));
    assert_eq!(files(&outbox).len(), 2);
    let listed = json(&env.ok(&["outbox", "--format", "json"]));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(listed.as_array().unwrap().iter().all(|m| m["status"] == "sent"));

    // The plan goes on from what was sent: step 2 is done, step 3 is next (Wed 12-16).
    let plan = json(&env.ok(&["plan", "--at", "2026-11-26", "--days", "21", "--format", "json"]));
    let first: Vec<(String, u64)> = plan
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["invoice_number"] == "2026-001")
        .map(|a| (a["date"].as_str().unwrap().to_string(), a["step"].as_u64().unwrap()))
        .collect();
    assert_eq!(first[0], ("2026-12-16".to_string(), 3), "{plan}");

    let history = env.ok(&["history", "C1"]);
    assert!(history.contains("standard-reminder-1"), "{history}");
    assert!(env.ok(&["history", "2026-003"]).contains("#2"));
}

#[test]
fn a_dry_run_renders_and_writes_nothing() {
    let env = imported("");
    let report = json(&env.ok(&["send", "--at", "2026-11-26", "--dry-run", "--format", "json"]));
    assert_eq!(report["written"].as_array().unwrap().len(), 2);
    assert!(report["written"][0]["body"].as_str().unwrap().contains("2026-001"));
    assert_eq!(json(&env.ok(&["outbox", "--format", "json"])).as_array().unwrap().len(), 0);
    assert!(!env.path().join("data/outbox").exists());
}

#[test]
fn the_weekly_cap_holds_a_message_back_and_it_goes_out_later() {
    let env = imported("[channels]\nmax_messages_per_week = 1\n");
    env.ok(&["send", "--at", "2026-11-26"]);
    // Step 3 of 2026-001 and 2026-003 is due on Wed 12-16: C1 and C2 had one message on 11-26,
    // outside that week, so both go.
    let report = json(&env.ok(&["send", "--at", "2026-12-16", "--format", "json"]));
    assert_eq!(report["written"].as_array().unwrap().len(), 2, "{report}");
    // Step 4 (phone, Mon 12-21) falls in the same seven days: held back, with the reason. (C3's
    // first VIP reminder goes that day: it had no message that week.)
    let report = json(&env.ok(&["send", "--at", "2026-12-21", "--format", "json"]));
    let written = report["written"].as_array().unwrap();
    assert!(written.iter().all(|d| d["customer_id"] == "C3"), "{report}");
    let held = report["held"].as_array().unwrap();
    assert_eq!(held.len(), 2, "{report}");
    assert!(held[0]["reason"].as_str().unwrap().contains("max_messages_per_week = 1"), "{report}");
    // A week after the last message it goes out (caught up, the schedule moves with it).
    let report = json(&env.ok(&["send", "--at", "2026-12-23", "--format", "json"]));
    let written = report["written"].as_array().unwrap();
    assert_eq!(written.len(), 2, "{report}");
    assert!(written.iter().all(|d| d["channel"] == "phone"), "{report}");
    let tasks = json(&env.ok(&["tasks", "--format", "json"]));
    assert_eq!(tasks.as_array().unwrap().len(), 2);
    let id = tasks[0]["id"].as_i64().unwrap().to_string();
    env.ok(&[
        "tasks",
        "done",
        &id,
        "--outcome",
        "promise",
        "--date",
        "2026-12-20",
        "--note",
        "betaalt vrijdag",
    ]);
    assert_eq!(json(&env.ok(&["tasks", "--format", "json"])).as_array().unwrap().len(), 1);
    let err = env.fails(&["tasks", "done", &id, "--outcome", "promise"]);
    assert!(err.contains("--date"), "{err}");
}

/// Python's aiosmtpd on a free port of 127.0.0.1, writing each message into a maildir.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl SmtpServer {
    fn start(dir: &Path) -> SmtpServer {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let maildir = dir.join("maildir");
        let child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd (scripts/test installs it: python3 -m pip install aiosmtpd)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "aiosmtpd did not start; is it installed?");
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer { child, port, maildir }
    }

    fn messages(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(self.maildir.join("new"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        out.sort();
        out
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses a received message with Python's `email` package (policy default).
fn parse(path: &Path) -> Value {
    let script = r#"
import email, email.policy, json, sys
m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)
print(json.dumps({
  'from': str(m['From']), 'to': str(m['To']), 'subject': str(m['Subject']),
  'message_id': str(m['Message-ID']), 'date': str(m['Date']), 'reply_to': str(m['Reply-To']),
  'envelope_to': str(m['X-RcptTo']), 'content_type': m.get_content_type(),
  'plain': m.get_body(('plain',)).get_content(), 'html': (m.get_body(('html',)) or m).get_content(),
  'headers': list(m.keys()),
}))
"#;
    let out = Command::new("python3").arg("-c").arg(script).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    json(&String::from_utf8(out.stdout).unwrap())
}

#[test]
fn e_mail_goes_through_a_real_smtp_server_with_our_message_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(dir.path());
    let env = imported(&format!(
        "[channels.email]\nurl = 'smtp://127.0.0.1:{}'\nfrom = 'Bakkerij Van Dam <debiteuren@bakkerij.example>'\nreply_to = 'Debiteuren <deb@bakkerij.example>'\ntimeout_s = 20\n",
        server.port
    ));
    let out = env.ok(&["send", "--at", "2026-11-26", "--format", "json"]);
    assert_eq!(json(&out)["delivery"]["sent"], 2, "{out}");
    let received = server.messages();
    assert_eq!(received.len(), 2);
    let m = parse(&received[0]);
    let all = [m.clone(), parse(&received[1])];
    let to_c1 =
        all.iter().find(|m| m["to"] == "admin@bakkerijdevries.nl").unwrap_or_else(|| panic!("{all:?}"));
    assert_eq!(to_c1["from"], "Bakkerij Van Dam <debiteuren@bakkerij.example>");
    assert_eq!(to_c1["reply_to"], "Debiteuren <deb@bakkerij.example>");
    assert_eq!(to_c1["envelope_to"], "admin@bakkerijdevries.nl");
    assert_eq!(to_c1["content_type"], "multipart/alternative");
    assert!(to_c1["plain"].as_str().unwrap().contains("2026-001"), "{to_c1}");
    assert!(to_c1["html"].as_str().unwrap().contains("2026-001"), "{to_c1}");
    assert!(to_c1["date"].as_str().unwrap().len() > 10);
    let stored = json(&env.ok(&["outbox", "--format", "json"]));
    let row =
        stored.as_array().unwrap().iter().find(|r| r["recipient"] == "admin@bakkerijdevries.nl").unwrap();
    assert_eq!(row["status"], "sent");
    assert_eq!(to_c1["message_id"], row["message_id"], "dunwell sets the Message-ID itself");
    // Nothing twice.
    env.ok(&["send", "--at", "2026-11-26"]);
    assert_eq!(server.messages().len(), 2);
}

#[test]
fn a_server_that_is_down_leaves_the_message_queued_for_a_retry() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let env = imported(&format!(
        "[channels.email]\nurl = 'smtp://127.0.0.1:{port}'\nfrom = 'x@bakkerij.example'\ntimeout_s = 5\n"
    ));
    let out = json(&env.ok(&["send", "--at", "2026-11-26", "--format", "json"]));
    assert_eq!(
        (out["delivery"]["sent"].as_u64(), out["delivery"]["failed"].as_u64()),
        (Some(0), Some(2)),
        "{out}"
    );
    let failed = json(&env.ok(&["outbox", "--status", "failed", "--format", "json"]));
    assert_eq!(failed.as_array().unwrap().len(), 2);
    assert!(failed[0]["next_attempt"].is_string());
    assert!(failed[0]["last_error"].as_str().unwrap().contains("SMTP"), "{failed}");
}

#[test]
fn plain_smtp_to_another_machine_is_refused() {
    let env = imported("[channels.email]\nurl = 'smtp://mail.example.com:25'\nfrom = 'x@bakkerij.example'\n");
    let err = env.fails(&["send", "--at", "2026-11-26"]);
    assert!(err.contains("sends in plain text; use smtps://mail.example.com:465"), "{err}");
}

#[test]
fn preview_shows_what_would_be_sent_in_any_language() {
    let env = imported("");
    let out = env.ok(&["preview", "--invoice", "2026-001", "--at", "2026-11-26"]);
    assert!(
        out.starts_with("email to C1 (Bakkerij De Vries B.V.), template standard-reminder-1 in nl"),
        "{out}"
    );
    assert!(out.contains("To: admin@bakkerijdevries.nl"), "{out}");
    assert!(out.contains("Subject: "), "{out}");
    let de = json(&env.ok(&[
        "preview",
        "--invoice",
        "2026-001",
        "--at",
        "2026-11-26",
        "--step",
        "5",
        "--lang",
        "de",
        "--format",
        "json",
    ]));
    assert_eq!(
        (de["language"].as_str(), de["template"].as_str()),
        (Some("de"), Some("standard-last-warning"))
    );
    assert!(de["html"].as_str().unwrap().contains("2026-001"));
    let err = env.fails(&["preview", "--invoice", "NOPE", "--at", "2026-11-26"]);
    assert!(err.contains("no invoice `NOPE` in the store"), "{err}");
    // Nothing was written.
    assert_eq!(json(&env.ok(&["outbox", "--format", "json"])).as_array().unwrap().len(), 0);
}

#[test]
fn nothing_is_sent_without_the_business_and_its_iban() {
    let env = Env::new();
    env.set_config_without_business("");
    env.ok(&["import", "csv", s(&testdata("good"))]);
    let err = env.fails(&["send", "--at", "2026-11-26"]);
    assert!(err.contains("set `name` and `iban` in [business]"), "{err}");
}

#[test]
fn one_message_covers_both_invoices_and_charges_the_costs_once_on_their_total() {
    let env = Env::with_config(BUSINESS);
    env.ok(&["import", "csv", s(&testdata("two-invoices"))]);
    env.ok(&["send", "--at", "2026-11-26"]);
    // Step 3 (Wed 12-16) announces the costs: BIK on 200.00 is 15% = 30.00, at least 40.00 —
    // once for the letter's claim, not 40.00 per invoice.
    let report = json(&env.ok(&["send", "--at", "2026-12-16", "--format", "json"]));
    let written = report["written"].as_array().unwrap();
    assert_eq!(written.len(), 1, "{report}");
    assert_eq!(written[0]["invoices"], serde_json::json!(["2026-101", "2026-102"]));
    let body = written[0]["body"].as_str().unwrap();
    assert!(body.contains("2026-101") && body.contains("2026-102"), "{body}");
    assert!(body.contains("€ 40,00"), "{body}");
    assert!(!body.contains("€ 80,00"), "{body}");
}

#[test]
fn a_letter_step_writes_a_pdf_with_the_invoice_and_where_to_pay() {
    // 2026-001 (C1): step 2 caught up on 11-26 moves the schedule 21 days (anchor 11-21); step
    // 6 (letter, J+65) falls on Mon 2027-01-25, after the last warning's 14 days (Tue 01-05
    // through Tue 01-19). It is the formal notice: written awaiting approval, no file until a
    // person approves it, then the next run writes it.
    let env = imported("");
    for day in ["2026-11-26", "2026-12-16", "2026-12-21", "2027-01-05", "2027-01-25"] {
        env.ok(&["send", "--at", day]);
    }
    let pdfs = || -> Vec<String> {
        files(&env.path().join("data/outbox")).into_iter().filter(|f| f.ends_with(".pdf")).collect()
    };
    assert!(pdfs().is_empty(), "a letter before its approval: {:?}", pdfs());
    let waiting = json(&env.ok(&["approvals", "--format", "json"]));
    let notices: Vec<(&str, &str)> = waiting
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["customer_id"].as_str().unwrap(), m["template"].as_str().unwrap()))
        .collect();
    assert!(notices.contains(&("C1", "standard-formal-notice")), "{waiting:#}");
    crate::approvals::approve_waiting(&env, "2027-01-25");
    env.ok(&["send", "--at", "2027-01-25"]);
    let letters = pdfs();
    assert!(!letters.is_empty(), "no letter written");
    let pdf = env.path().join("data/outbox").join(&letters[0]);
    let out = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (scripts/test installs poppler-utils)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2026-001"), "{text}");
    assert!(text.contains("NL91 ABNA 0417 1643 00"), "{text}");
    assert!(text.contains("Bakkerij De Vries B.V."), "the customer's address: {text}");
    // The greeting and signature close the letter: after the table of invoices and the
    // payment block, not before them.
    let table = text.find("Totaal openstaand").expect("the table's total");
    let greeting = text.rfind("Hoogachtend").expect("the greeting");
    let signature = text.rfind("Bakkerij Van Dam B.V.").expect("the signature");
    assert!(table < greeting && greeting < signature, "{text}");
}

#[test]
fn a_second_send_while_one_is_delivering_stops_with_a_clear_error() {
    let env = imported("");
    env.ok(&["send", "--at", "2026-10-01"]);
    // Another run holds the data directory's send lock (the lock dies with its process).
    let lock = std::fs::File::options().write(true).open(env.path().join("data/send.lock")).unwrap();
    lock.try_lock().unwrap();
    let err = env.fails(&["send", "--at", "2026-11-26"]);
    assert!(err.contains("dunwell send (pid") && err.contains("send.lock: let it finish"), "{err}");
    let count = || json(&env.ok(&["outbox", "--format", "json"])).as_array().unwrap().len();
    assert_eq!(count(), 0);
    drop(lock);
    env.ok(&["send", "--at", "2026-11-26"]);
    assert_eq!(count(), 2);
}
