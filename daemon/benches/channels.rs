//! Channel speed: `cargo bench -p dunwell --bench channels [-- MESSAGES [RENDERS]]` (defaults
//! 10,000 e-mails, 100,000 renders; needs python3 with aiosmtpd, as the e2e tests do).
//!
//! Prints:
//! - template rendering: `template::render_message` (the templates read from the playbooks
//!   folder for each message, as `dunwell send` does) and `render_message_from` (the sources
//!   already in memory), e-mails (text + HTML) over three templates in four languages:
//!   renders per second;
//! - `dunwell send --at DAY` in file mode for MESSAGES customers with one e-mail step due
//!   (plan, render, write the outbox with its progress, write the `.eml` files);
//! - the same outbox delivered by `channel::deliver` to a local aiosmtpd
//!   (`tests/testdata/smtp/server.py plain`, writing a maildir), one connection carrying every
//!   message: messages per second (goal >= 200/s), with each message's two store updates
//!   (`sending`, `sent`) included; and `Smtp::send` alone, without the store, for comparison,
//!   also over STARTTLS and implicit TLS with AUTH (500 messages each);
//! - `dunwell send --at DAY` with SMTP configured, on a fresh store: the whole day end to end.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use dunwell::channel::email::{EmailSettings, Smtp};
use dunwell::channel::{self, Channels, Outcome};
use dunwell::model::Language;
use dunwell::playbook::{Channel, PlaybookSource};
use dunwell::store::Store;
use dunwell::template::{self, MessageContext, Sources};

/// A Monday; the invoices fall due three days later, so step 1 of the standard playbook
/// (e-mail, 3 days before the due date) is due on it.
const DAY: &str = "2026-12-07";
const DUE: &str = "2026-12-10";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn rate(n: usize, seconds: f64) -> String {
    format!("{:>10.0}/s", n as f64 / seconds)
}

fn renders(n: usize) {
    let source = PlaybookSource::Dir(repo().join("playbooks"));
    let templates = ["standard-preventive", "standard-reminder-1", "standard-reminder-2"];
    let languages = [Language::Nl, Language::Fr, Language::En, Language::De];
    let mut contexts = Vec::new();
    for lang in languages {
        let mut ctx = MessageContext::sample();
        ctx.customer.language = lang;
        ctx.channel = Channel::Email;
        contexts.push(ctx);
    }
    // Warm-up, and every combination renders.
    let mut bytes = 0;
    for ctx in &contexts {
        for t in templates {
            let m = template::render_message(&source, t, ctx).expect("render");
            bytes += m.text.len() + m.html.map_or(0, |h| h.len());
        }
    }
    println!(
        "templates: {} e-mail templates x {} languages, {} bytes of text + HTML each on average",
        templates.len(),
        languages.len(),
        bytes / (templates.len() * languages.len())
    );

    let started = Instant::now();
    for i in 0..n {
        let ctx = &contexts[i % contexts.len()];
        let m = template::render_message(&source, templates[i % templates.len()], ctx).expect("render");
        std::hint::black_box(m);
    }
    let t = started.elapsed().as_secs_f64();
    println!("  {n} x render_message (files read each time)          {:>7.2} s {}", t, rate(n, t));

    let mut sources = Vec::new();
    for lang in languages {
        for t in templates {
            let text_path = PlaybookSource::template_path(lang, t);
            let html_path = PlaybookSource::html_template_path(lang, t);
            let text = source.read_file(&text_path).unwrap().unwrap();
            let html = source.read_file(&html_path).unwrap().unwrap();
            sources.push((lang, text, text_path, html, html_path));
        }
    }
    let started = Instant::now();
    for i in 0..n {
        let (lang, text, text_path, html, html_path) = &sources[i % sources.len()];
        let ctx = contexts.iter().find(|c| c.customer.language == *lang).unwrap();
        let s = Sources { text: (text, text_path), html: Some((html, html_path)), partials: Some(&source) };
        std::hint::black_box(template::render_message_from(s, ctx).expect("render"));
    }
    let t = started.elapsed().as_secs_f64();
    println!("  {n} x render_message_from (sources in memory)        {:>7.2} s {}", t, rate(n, t));
}

/// `tests/testdata/smtp/server.py plain` on a free port; killed when dropped.
struct Server {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Server {
    fn start(dir: &Path, mode: &str) -> Server {
        let maildir = dir.join(format!("maildir-{mode}"));
        let mut child = Command::new("python3")
            .arg(repo().join("tests/testdata/smtp/server.py"))
            .arg(mode)
            .arg(&maildir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line
            .trim()
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .expect("server.py did not start: python3 -m pip install aiosmtpd");
        Server { child, port, maildir }
    }

    fn received(&self) -> usize {
        std::fs::read_dir(self.maildir.join("new")).map(|d| d.count()).unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An export of `n` customers with one invoice each, due on `DUE`.
fn export(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut c = String::from(
        "customer_id,name,kind,language,email,phone,street,postal_code,city,country,customer_since,payment_method,segment\n",
    );
    let mut i = String::from("invoice_number,customer_id,issue_date,due_date,currency,total,open_amount\n");
    let langs = ["nl", "fr", "en", "de"];
    for k in 1..=n {
        c.push_str(&format!(
            "C{k:06},Klant {k} B.V.,b2b,{},klant{k}@example.nl,,Dorpsstraat {k},1234 AB,Amsterdam,NL,2020-01-01,transfer,\n",
            langs[k % 4]
        ));
        i.push_str(&format!("2026-{k:06},C{k:06},2026-11-10,{DUE},EUR,{}.{:02},\n", 100 + k % 900, k % 100));
    }
    std::fs::write(dir.join("customers.csv"), c).unwrap();
    std::fs::write(dir.join("invoices.csv"), i).unwrap();
    std::fs::write(dir.join("payments.csv"), "invoice_number,date,amount,method\n").unwrap();
}

const BUSINESS: &str = "[business]\nname = 'Bakkerij Van Dam B.V.'\naddress = 'Kerkstraat 12, 3811 CV Amersfoort'\niban = 'NL91ABNA0417164300'\n";

fn dunwell(config: &Path, args: &[&str]) -> f64 {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_dunwell"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("DUNWELL_LOG", "error")
        .output()
        .unwrap();
    assert!(out.status.success(), "dunwell {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    started.elapsed().as_secs_f64()
}

fn smtp(port: u16) -> Smtp {
    smtp_at(format!("smtp://127.0.0.1:{port}"), None)
}

/// `url`, with the test server's login (password in `login`'s file) and CA when given.
fn smtp_at(url: String, login: Option<&Path>) -> Smtp {
    Smtp::new(&EmailSettings {
        url,
        from: "Bakkerij Van Dam <debiteuren@bakkerij.example>".into(),
        reply_to: None,
        user: login.map(|_| "dunwell".into()),
        password_file: login.map(Path::to_path_buf),
        timeout_s: Some(30),
        ca_file: login.map(|_| repo().join("tests/testdata/smtp/ca.pem")),
    })
    .expect("smtp")
}

fn emails(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let export_dir = dir.path().join("export");
    export(&export_dir, n);
    let files_config = dir.path().join("files.toml");
    std::fs::write(
        &files_config,
        format!("data_dir = 'data'\nplaybooks_dir = '{}'\n{BUSINESS}", repo().join("playbooks").display()),
    )
    .unwrap();
    let t_import = dunwell(&files_config, &["import", "csv", export_dir.to_str().unwrap()]);
    let t_files = dunwell(&files_config, &["send", "--at", DAY]);
    println!("e-mail: {n} customers with one e-mail step due on {DAY} (import {t_import:.2} s)");
    println!(
        "  dunwell send, file mode (plan, render, write the outbox, .eml files) {:>7.2} s {}",
        t_files,
        rate(n, t_files)
    );

    // The same outbox, queued again, delivered over SMTP.
    let db = dir.path().join("data/dunwell.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let queue_again = || {
        conn.execute("UPDATE outbox SET status = 'queued', file = NULL, sent_at = NULL, attempts = 0", [])
            .unwrap()
    };
    assert_eq!(queue_again(), n, "one message per customer");
    let server = Server::start(dir.path(), "plain");
    let mut store = Store::open(&db).unwrap();
    let mut channels = Channels::files_only(dir.path().join("outbox"));
    channels.email = Some(smtp(server.port));
    let started = Instant::now();
    let now = chrono::Utc::now();
    let gate = dunwell::send::gate::Gate {
        freshness: dunwell::send::gate::Freshness::load(&store, chrono::Duration::days(3650), now).unwrap(),
        windows: None,
        now,
        stop: None,
    };
    let report = channel::deliver(&mut store, &mut channels, now, &gate).unwrap();
    let t_deliver = started.elapsed().as_secs_f64();
    assert_eq!(report.sent as usize, n, "{report:?}");
    assert_eq!(server.received(), n);
    println!(
        "  channel::deliver over SMTP (one connection, store updates incl.)  {:>7.2} s {}  (goal >= 200/s)",
        t_deliver,
        rate(n, t_deliver)
    );

    let messages = store.outbox(None).unwrap();
    let mut alone = smtp(server.port);
    let started = Instant::now();
    for m in &messages {
        assert!(matches!(alone.send(m, None), Outcome::Sent { .. }));
    }
    let t_send = started.elapsed().as_secs_f64();
    println!(
        "  Smtp::send alone (no store)                                       {:>7.2} s {}",
        t_send,
        rate(n, t_send)
    );
    drop(alone);
    let password = dir.path().join("password");
    std::fs::write(&password, "smtp-test-password\n").unwrap();
    for (mode, url) in [("starttls", "smtp://localhost:{}?tls=required"), ("tls", "smtps://localhost:{}")] {
        let server = Server::start(dir.path(), mode);
        let mut tls = smtp_at(url.replace("{}", &server.port.to_string()), Some(&password));
        let some = &messages[..messages.len().min(500)];
        let started = Instant::now();
        for m in some {
            assert!(matches!(tls.send(m, None), Outcome::Sent { .. }), "{mode}");
        }
        let t = started.elapsed().as_secs_f64();
        println!(
            "  Smtp::send alone, {:<20} ({} messages)            {:>7.2} s {}",
            if mode == "tls" { "implicit TLS + AUTH" } else { "STARTTLS + AUTH" },
            some.len(),
            t,
            rate(some.len(), t)
        );
        drop(tls);
        assert_eq!(server.received(), some.len());
    }
    drop(channels);
    drop(store);
    drop(conn);

    // The whole day with SMTP configured, on a fresh store.
    let smtp_config = dir.path().join("smtp.toml");
    std::fs::write(
        &smtp_config,
        format!(
            "data_dir = 'data-smtp'\nplaybooks_dir = '{}'\n{BUSINESS}[channels.email]\nurl = 'smtp://127.0.0.1:{}'\nfrom = 'debiteuren@bakkerij.example'\n",
            repo().join("playbooks").display(),
            server.port
        ),
    )
    .unwrap();
    dunwell(&smtp_config, &["import", "csv", export_dir.to_str().unwrap()]);
    let before = server.received();
    let t_day = dunwell(&smtp_config, &["send", "--at", DAY]);
    assert_eq!(server.received() - before, n);
    println!(
        "  dunwell send with SMTP (plan, render, write, deliver)             {:>7.2} s {}",
        t_day,
        rate(n, t_day)
    );
}

fn main() {
    let numbers: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n_mail = numbers.first().copied().unwrap_or(10_000);
    let n_render = numbers.get(1).copied().unwrap_or(100_000);
    renders(n_render);
    emails(n_mail);
}
