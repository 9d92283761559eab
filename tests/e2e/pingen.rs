//! Letters through Pingen's print-and-mail API, end to end: `dunwell send` across the days of
//! the standard playbook against a fake Pingen on 127.0.0.1 (a thread with a `TcpListener`
//! that issues tokens, takes the PDF upload, keeps letters and their status, and records every
//! request). A registered letter and an ordinary one reach Pingen with the stored PDF and the
//! right product; a send call that fails is retried on the recorded letter, never a second
//! one; a letter Pingen refuses is dead with Pingen's reason.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::{copy_dir, json, outbox, replace, repo, s, send_days, testdata, Env};

const ORG: &str = "8e3f2a61-4b7d-4c0e-9a55-2f1d6c7b8e90";
const CLIENT_ID: &str = "dunwell-client-7f3a";
const SECRET: &str = "s3cr3t-9d8c7b6a5f4e3d2c1b0a";
const SIGNATURE: &str = "$2y$10$Zk1x9sIGNATURE";
const BUSINESS: &str = "[business]\nname = 'Bakkerij Van Dam B.V.'\naddress = 'Kerkstraat 12, 3811 CV Amersfoort'\niban = 'NL91ABNA0417164300'\ncontact_name = 'Anja van Dam'\ncontact_phone = '+31 33 123 45 67'\n";

/// A request as the fake saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// The path with its query.
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap()
    }

    fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path() == path
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    tokens: Vec<String>,
    uploads: u32,
    created: u32,
    /// Letter id → status.
    letters: BTreeMap<String, String>,
    /// Answer the first send call with HTTP 500 (the letter stays a draft).
    fail_first_send: bool,
    sends: u32,
    /// The answer to every create call instead of a new letter.
    create_error: Option<(u16, Value)>,
}

struct Fake {
    base: String,
    state: Arc<Mutex<State>>,
}

impl Fake {
    fn start(state: State) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(state));
        let shared = Arc::clone(&state);
        let own = base.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let Some(seen) = read_request(&stream) else { continue };
                let (status, body) = {
                    let mut s = shared.lock().unwrap();
                    s.seen.push(seen.clone());
                    answer(&mut s, &seen, &own)
                };
                let body = body.to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} {}\r\nContent-Type: application/vnd.api+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    reason_phrase(status),
                    body.len()
                );
            }
        });
        Fake { base, state }
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    fn creates(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(|r| r.is("POST", &letters_path())).collect()
    }

    /// The send calls of letter `id`.
    fn sends_of(&self, id: &str) -> Vec<Seen> {
        let path = format!("{}/{id}/send", letters_path());
        self.seen().into_iter().filter(|r| r.is("PATCH", &path)).collect()
    }

    fn status_of(&self, id: &str) -> Option<String> {
        self.state.lock().unwrap().letters.get(id).cloned()
    }
}

fn letters_path() -> String {
    format!("/organisations/{ORG}/deliveries/letters")
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        401 => "Unauthorized",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        500 => "Internal Server Error",
        _ => "Whatever",
    }
}

fn letter_json(id: &str, status: &str) -> Value {
    json!({"data": {"id": id, "type": "letters", "attributes": {
        "status": status, "file_pages": 1, "address_position": "left", "country": "NL",
    }}})
}

fn error_json(code: &str, detail: &str) -> Value {
    json!({"errors": [{"code": code, "title": code, "detail": detail}]})
}

/// Pingen as far as dunwell uses it: a new letter is `validating` until its status is read,
/// then `valid`; a valid letter's send call makes it `submitted`.
fn answer(s: &mut State, r: &Seen, base: &str) -> (u16, Value) {
    if r.is("POST", "/identity/auth/access-tokens") {
        let token = format!("tok-{}-a9f8e7d6c5b4a3f2e1d0", s.tokens.len() + 1);
        s.tokens.push(token.clone());
        return (200, json!({"token_type": "Bearer", "expires_in": 43200, "access_token": token}));
    }
    if r.method == "PUT" && r.path().starts_with("/storage/") {
        return (200, json!({}));
    }
    let bearer = r.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
    if !s.tokens.iter().any(|t| t == bearer) {
        return (401, error_json("unauthenticated", "The access token is invalid."));
    }
    if r.is("GET", "/file-upload") {
        s.uploads += 1;
        return (
            200,
            json!({"data": {"id": format!("fu-{}", s.uploads), "type": "file_uploads", "attributes": {
                "url": format!("{base}/storage/upload-{}?X-Amz-Signature=0b1c2d3e", s.uploads),
                "url_signature": SIGNATURE,
                "expires_at": "2099-01-01T00:00:00+0100",
            }}}),
        );
    }
    let letters = letters_path();
    if r.is("POST", &letters) {
        if let Some(error) = s.create_error.clone() {
            return error;
        }
        s.created += 1;
        let id = format!("1e0c6a7b-0000-4000-8000-{:012}", s.created);
        s.letters.insert(id.clone(), "validating".into());
        return (201, letter_json(&id, "validating"));
    }
    let Some(rest) = r.path().strip_prefix(&format!("{letters}/")) else {
        return (404, error_json("not_found", "No such path."));
    };
    let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
    let first_send = s.sends == 0;
    let fail_send = s.fail_first_send;
    let Some(status) = s.letters.get_mut(id) else {
        return (404, error_json("not_found", "The letter does not exist."));
    };
    match (r.method.as_str(), action) {
        ("GET", "") => {
            if status == "validating" {
                *status = "valid".into();
            }
            (200, letter_json(id, status))
        }
        ("PATCH", "send") => {
            s.sends += 1;
            if first_send && fail_send {
                return (500, error_json("server_error", "Something went wrong on our side."));
            }
            let Some(status) = s.letters.get_mut(id) else { unreachable!() };
            if status != "valid" {
                return (422, error_json("conflict", "Only a valid letter can be sent."));
            }
            *status = "submitted".into();
            (200, letter_json(id, "submitted"))
        }
        _ => (404, error_json("not_found", "No such action.")),
    }
}

/// A request as [`fake_http::read_request`] reads it, kept as this fake needs it.
fn read_request(stream: &TcpStream) -> Option<Seen> {
    let r = crate::fake_http::read_request(stream)?;
    let mut parts = r.line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let headers = r
        .headers
        .iter()
        .filter_map(|h| h.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Seen { method, target, headers, body: r.body })
}

/// Step 6 of the standard playbook (the formal notice, J+65) as a registered letter.
fn registered_notice(playbooks: &Path) {
    replace(
        &playbooks.join("standard.toml"),
        "channel = \"letter\"\ntemplate = \"standard-formal-notice\"\n",
        "channel = \"registered-letter\"\ntemplate = \"standard-formal-notice\"\n",
    );
}

/// An installation with its own copy of the shipped playbooks (edited by `edit`), the
/// business, `[channels.letter]` pointing at `fake` (the secret in a file next to
/// dunwell.toml), and the `steps` test data imported (K1 a business without an e-mail
/// address, K2 a consumer; both invoices due 2026-10-31).
fn installation(fake: &Fake, edit: impl FnOnce(&Path)) -> Env {
    let env = Env::new();
    let playbooks = env.path().join("playbooks");
    copy_dir(&repo().join("playbooks"), &playbooks);
    edit(&playbooks);
    std::fs::write(env.path().join("pingen-secret"), format!("{SECRET}\n")).unwrap();
    let base = &fake.base;
    std::fs::write(
        env.path().join("dunwell.toml"),
        format!(
            "data_dir = \"data\"\nplaybooks_dir = \"playbooks\"\n{BUSINESS}\n\
             [channels.letter]\nprovider = \"pingen\"\napi_url = \"{base}\"\nidentity_url = \"{base}/identity\"\n\
             organisation = \"{ORG}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret_file = \"pingen-secret\"\n\
             product = \"fast\"\nprint_spectrum = \"color\"\nprint_mode = \"duplex\"\ntimeout_s = 10\n"
        ),
    )
    .unwrap();
    env.ok(&["import", "csv", s(&testdata("steps"))]);
    env
}

/// The message to `customer` through `channel`.
fn message<'a>(messages: &'a [Value], customer: &str, channel: &str) -> &'a Value {
    messages
        .iter()
        .find(|m| m["customer_id"] == customer && m["channel"] == channel)
        .unwrap_or_else(|| panic!("no {channel} to {customer}: {messages:#?}"))
}

fn pdftotext(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("letter.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (scripts/test installs poppler-utils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The PDF stored with message `id` in the outbox.
fn stored_pdf(env: &Env, id: i64) -> Vec<u8> {
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.query_row("SELECT pdf FROM outbox WHERE id = ?1", [id], |r| r.get(0)).unwrap()
}

/// What Pingen got for message `m`: its create call (the one naming `dunwell-<id>.pdf`) and
/// the bytes PUT to the upload URL that call names.
fn upload_of(fake: &Fake, m: &Value) -> (Value, Vec<u8>) {
    let name = format!("dunwell-{}.pdf", m["id"]);
    let creates: Vec<Value> = fake
        .creates()
        .iter()
        .map(Seen::json)
        .filter(|c| c["data"]["attributes"]["file_original_name"] == name.as_str())
        .collect();
    assert_eq!(creates.len(), 1, "one create call for {name}: {creates:#?}");
    let create = creates[0].clone();
    let url = create["data"]["attributes"]["file_url"].as_str().unwrap().to_string();
    let target = url.strip_prefix(&fake.base).unwrap_or_else(|| panic!("{url}"));
    let puts: Vec<Seen> =
        fake.seen().into_iter().filter(|r| r.method == "PUT" && r.target == target).collect();
    assert_eq!(puts.len(), 1, "{target}");
    (create, puts[0].body.clone())
}

#[test]
fn pingen_posts_registered_and_ordinary_letters_with_their_pdf_and_product() {
    let fake = Fake::start(State::default());
    let env = installation(&fake, |p| {
        registered_notice(p);
        // K1 has no e-mail address: the first reminder (J+5) goes out as an ordinary letter.
        replace(
            &p.join("standard.toml"),
            "template = \"standard-reminder-1\"\n",
            "template = \"standard-reminder-1\"\nfallback_channel = \"letter\"\n",
        );
    });
    // The schedule from the first step (J-3) through the formal notice (J+65, 2027-01-04). The
    // notices wait for approval: nothing of them reaches Pingen until they are approved.
    send_days(&env, "2026-10-28", "2027-01-04");
    assert_eq!(fake.creates().len(), 1, "only the first reminder's letter: {:#?}", fake.creates());
    assert_eq!(crate::approvals::approve_waiting(&env, "2027-01-04").len(), 2);
    env.ok(&["send", "--at", "2027-01-04"]);
    let messages = outbox(&env);

    // The formal notices: registered letters, sent, with Pingen's letter id.
    for (customer, name, street) in
        [("K1", "Fietsenmaker Jansen", "Stationsweg 4"), ("K2", "Petra de Boer", "Lindelaan 9")]
    {
        let notice = message(&messages, customer, "registered-letter");
        assert_eq!(notice["status"], "sent", "{notice:#}");
        assert_eq!(notice["day"], "2027-01-04", "{notice:#}");
        let id = notice["provider_id"].as_str().unwrap_or_else(|| panic!("no provider id: {notice:#}"));
        assert_eq!(fake.status_of(id).as_deref(), Some("submitted"), "{id}");

        let (create, pdf) = upload_of(&fake, notice);
        let a = &create["data"]["attributes"];
        assert_eq!(create["data"]["type"], "letters", "{create:#}");
        assert_eq!(a["address_position"], "left", "{create:#}");
        assert_eq!(a["auto_send"], false, "{create:#}");
        assert_eq!(a["file_url_signature"], SIGNATURE, "{create:#}");
        // The PDF stored with the message, unchanged.
        assert!(pdf.starts_with(b"%PDF"), "{:?}", String::from_utf8_lossy(&pdf[..pdf.len().min(40)]));
        assert_eq!(pdf, stored_pdf(&env, notice["id"].as_i64().unwrap()));
        let text = pdftotext(&pdf);
        assert!(text.contains(name) && text.contains(street) && text.contains("Amersfoort"), "{text}");
        let invoice = if customer == "K1" { "F-1" } else { "F-2" };
        assert!(text.contains(invoice), "{text}");
        assert!(text.contains("AANGETEKEND"), "the registered mark: {text}");

        let sends = fake.sends_of(id);
        assert_eq!(sends.len(), 1, "{sends:#?}");
        let send = sends[0].json();
        assert_eq!(send["data"]["id"], id, "{send:#}");
        assert_eq!(send["data"]["attributes"]["delivery_product"], "registered", "{send:#}");
        assert_eq!(send["data"]["attributes"]["print_mode"], "duplex", "{send:#}");
        assert_eq!(send["data"]["attributes"]["print_spectrum"], "color", "{send:#}");
    }

    // K1's first reminder: the e-mail died, its fallback went to Pingen as an ordinary letter
    // with the configured product.
    let letter = message(&messages, "K1", "letter");
    assert_eq!(letter["status"], "sent", "{letter:#}");
    assert_eq!(letter["template"], "standard-reminder-1", "{letter:#}");
    let reminder = messages
        .iter()
        .find(|m| {
            m["customer_id"] == "K1" && m["template"] == "standard-reminder-1" && m["channel"] == "email"
        })
        .unwrap();
    assert_eq!(reminder["status"], "dead", "{reminder:#}");
    assert_eq!(letter["replaces"], reminder["id"], "{letter:#}");
    let id = letter["provider_id"].as_str().unwrap_or_else(|| panic!("no provider id: {letter:#}"));
    let (create, pdf) = upload_of(&fake, letter);
    assert_eq!(create["data"]["attributes"]["auto_send"], false, "{create:#}");
    let text = pdftotext(&pdf);
    assert!(text.contains("F-1") && text.contains("Stationsweg 4"), "{text}");
    assert!(!text.contains("AANGETEKEND"), "an ordinary letter has no registered mark: {text}");
    let sends = fake.sends_of(id);
    assert_eq!(sends.len(), 1, "{sends:#?}");
    assert_eq!(sends[0].json()["data"]["attributes"]["delivery_product"], "fast");

    // Three letters, three created at Pingen, each sent once; nothing else was created.
    let letters = messages.iter().filter(|m| m["channel"].as_str().unwrap().contains("letter")).count();
    assert_eq!(letters, 3, "{messages:#?}");
    assert_eq!(fake.creates().len(), 3);

    // The token came once per run, with the secret from the file next to dunwell.toml; every
    // API call carries it; the signed upload URL gets no token.
    let seen = fake.seen();
    let token_calls: Vec<&Seen> =
        seen.iter().filter(|r| r.is("POST", "/identity/auth/access-tokens")).collect();
    assert!(!token_calls.is_empty());
    for t in &token_calls {
        let form = String::from_utf8_lossy(&t.body);
        assert!(form.contains("grant_type=client_credentials"), "{form}");
        assert!(form.contains(&format!("client_id={CLIENT_ID}")), "{form}");
        assert!(form.contains(&format!("client_secret={SECRET}")), "{form}");
    }
    for r in &seen {
        if r.method == "PUT" {
            assert_eq!(r.header("authorization"), None, "{r:?}");
        } else if !r.path().starts_with("/identity/") {
            assert!(r.header("authorization").is_some_and(|h| h.starts_with("Bearer tok-")), "{r:?}");
            assert_eq!(r.header("accept"), Some("application/vnd.api+json"), "{r:?}");
        }
    }
    // The secret shows nowhere in the outbox.
    assert!(!env.ok(&["outbox", "--format", "json"]).contains(SECRET));
}

#[test]
fn pingen_failing_the_send_call_is_retried_on_the_recorded_letter_never_a_second_one() {
    let fake = Fake::start(State { fail_first_send: true, ..State::default() });
    let env = installation(&fake, |_| {});
    send_days(&env, "2026-10-28", "2027-01-04");
    // The two formal notices (J+65) wait for approval, then go out with the next run.
    assert_eq!(fake.creates().len(), 0, "{:#?}", fake.creates());
    assert_eq!(crate::approvals::approve_waiting(&env, "2027-01-04").len(), 2);
    env.ok(&["send", "--at", "2027-01-04"]);

    // K1's send call got a 500 first.
    let messages = outbox(&env);
    let k1 = message(&messages, "K1", "letter");
    assert_eq!(k1["status"], "failed", "{k1:#}");
    assert_eq!(k1["attempts"], 1, "{k1:#}");
    assert!(k1["next_attempt"].as_str().is_some_and(|n| !n.is_empty()), "a next attempt: {k1:#}");
    let error = k1["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("500") && error.contains("Something went wrong on our side."), "{k1:#}");
    // The letter's id was recorded before the send call.
    let id =
        k1["provider_id"].as_str().unwrap_or_else(|| panic!("no provider id recorded: {k1:#}")).to_string();
    assert_eq!(fake.status_of(&id).as_deref(), Some("valid"), "still a draft at Pingen");
    assert_eq!(fake.sends_of(&id).len(), 1);
    let k2 = message(&messages, "K2", "letter");
    assert_eq!(k2["status"], "sent", "{k2:#}");
    assert_eq!(fake.creates().len(), 2);

    // Before its next attempt is due nothing is tried again.
    let before = fake.seen().len();
    env.ok(&["send", "--at", "2027-01-04"]);
    assert_eq!(fake.seen().len(), before, "{:#?}", &fake.seen()[before..]);
    assert_eq!(message(&outbox(&env), "K1", "letter")["status"], "failed");

    // Once it is due (the back-off runs on the real clock: move it into the past), the next
    // run looks the recorded letter up and sends that one.
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    let moved = conn
        .execute(
            "UPDATE outbox SET next_attempt = '2000-01-01T00:00:00+00:00' WHERE id = ?1 AND status = 'failed'",
            [k1["id"].as_i64().unwrap()],
        )
        .unwrap();
    assert_eq!(moved, 1);
    drop(conn);
    let report = json(&env.ok(&["send", "--at", "2027-01-05", "--format", "json"]));
    assert_eq!(report["delivery"]["sent"], 1, "{report:#}");
    assert_eq!(report["delivery"]["failed"], 0, "{report:#}");

    let k1 = message(&outbox(&env), "K1", "letter").clone();
    assert_eq!(k1["status"], "sent", "{k1:#}");
    assert_eq!(k1["attempts"], 2, "{k1:#}");
    assert_eq!(k1["provider_id"], id.as_str(), "{k1:#}");
    assert!(k1["last_error"].is_null(), "{k1:#}");
    assert_eq!(fake.status_of(&id).as_deref(), Some("submitted"));
    // Exactly one letter per message at Pingen: no second create call.
    assert_eq!(fake.creates().len(), 2, "{:#?}", fake.creates());
    // The retry read the letter's status, then sent it (the ordinary product).
    let retry = &fake.seen()[before..];
    let status = format!("{}/{id}", letters_path());
    let read = retry.iter().position(|r| r.is("GET", &status)).unwrap_or_else(|| panic!("{retry:#?}"));
    let send = retry
        .iter()
        .position(|r| r.is("PATCH", &format!("{status}/send")))
        .unwrap_or_else(|| panic!("{retry:#?}"));
    assert!(read < send, "{retry:#?}");
    assert!(!retry.iter().any(|r| r.method == "PUT" || r.is("GET", "/file-upload")), "{retry:#?}");
    let sends = fake.sends_of(&id);
    assert_eq!(sends.len(), 2);
    assert_eq!(sends[1].json()["data"]["attributes"]["delivery_product"], "fast");
}

#[test]
fn pingen_refusing_the_letter_makes_it_dead_with_pingens_reason() {
    let detail = "The recipient's address could not be found in the address window.";
    let fake = Fake::start(State {
        create_error: Some((
            422,
            json!({"errors": [{
                "code": "validation_error",
                "title": "The given data was invalid.",
                "detail": detail,
                "source": {"pointer": "/data/attributes/file_url"},
            }]}),
        )),
        ..State::default()
    });
    let env = installation(&fake, registered_notice);
    send_days(&env, "2026-10-28", "2027-01-03");
    // The notices wait for approval first: nothing goes to Pingen.
    let report = json(&env.ok(&["send", "--at", "2027-01-04", "--format", "json"]));
    assert_eq!(report["awaiting_approval"], 2, "{report:#}");
    assert_eq!(fake.creates().len(), 0, "{:#?}", fake.creates());
    assert_eq!(crate::approvals::approve_waiting(&env, "2027-01-04").len(), 2);
    let report = json(&env.ok(&["send", "--at", "2027-01-04", "--format", "json"]));
    assert_eq!(report["delivery"]["dead"], 2, "{report:#}");
    assert_eq!(report["delivery"]["sent"], 0, "{report:#}");

    let messages = outbox(&env);
    for customer in ["K1", "K2"] {
        let notice = message(&messages, customer, "registered-letter");
        assert_eq!(notice["status"], "dead", "{notice:#}");
        assert!(notice["next_attempt"].is_null(), "{notice:#}");
        assert!(notice["provider_id"].is_null(), "{notice:#}");
        let error = notice["last_error"].as_str().unwrap_or_default();
        assert!(error.contains(detail), "{notice:#}");
        assert!(error.contains("422"), "{notice:#}");
        assert!(!error.contains(SECRET), "{notice:#}");
    }
    // Each letter was tried once; nothing was sent.
    assert_eq!(fake.creates().len(), 2);
    assert!(!fake.seen().iter().any(|r| r.method == "PATCH"));
    // A dead letter is not tried again.
    let before = fake.seen().len();
    env.ok(&["send", "--at", "2027-01-05"]);
    assert_eq!(fake.seen().len(), before);
}
