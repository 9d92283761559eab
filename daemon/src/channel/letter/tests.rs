//! The Pingen client against a real HTTP server on 127.0.0.1 per test (a thread with a
//! `std::net::TcpListener`) that plays Pingen: it issues tokens, hands out a signed upload URL
//! on itself, takes the PUT, keeps letters and their status, and records every request
//! (method, path, headers, body) for the test to check.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::*;
use crate::http::testing::{closed_port, read_request, Seen};
use crate::store::Status;

const ORG: &str = "8e3f2a61-4b7d-4c0e-9a55-2f1d6c7b8e90";
const CLIENT_ID: &str = "dunwell-client-7f3a";
const SECRET: &str = "s3cr3t-9d8c7b6a5f4e3d2c1b0a";
const SIGNATURE: &str = "$2y$10$Zk1x9sIGNATURE";
/// A PDF with bytes that are not UTF-8, to see them arrive unchanged.
const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n\x00\xff\xfe binary\n%%EOF\n";

/// How the server answers one request.
#[derive(Clone)]
enum Reply {
    Json(u16, Value),
    /// Reads the request, then holds the connection open without a word for this long.
    Silent(Duration),
}

/// A letter the fake keeps.
struct Letter {
    status: String,
    /// Status reads left before a `validating` letter becomes `valid`.
    checks_left: u32,
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    tokens: Vec<String>,
    /// Tokens the API refuses (401), e.g. one Pingen revoked before it expired.
    revoked: Vec<String>,
    /// Revoke the first token once it has been issued.
    revoke_first: bool,
    letters: BTreeMap<String, Letter>,
    created: u32,
    /// Status reads a new letter stays `validating`.
    checks: u32,
    /// The status a new letter ends its check with (default `valid`).
    checked_status: Option<String>,
    create_reply: Option<Reply>,
    send_reply: Option<Reply>,
    events: Vec<Value>,
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
                let reply = {
                    let mut s = shared.lock().unwrap();
                    s.seen.push(seen.clone());
                    answer(&mut s, &seen, &own)
                };
                match reply {
                    Reply::Json(status, body) => {
                        let body = body.to_string();
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {status} {}\r\nContent-Type: application/vnd.api+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            reason_phrase(status),
                            body.len()
                        );
                    }
                    Reply::Silent(d) => std::thread::sleep(d),
                }
            }
        });
        Fake { base, state }
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    fn tokens(&self) -> Vec<String> {
        self.state.lock().unwrap().tokens.clone()
    }

    fn letters_path(&self) -> String {
        format!("/organisations/{ORG}/deliveries/letters")
    }

    fn add_letter(&self, id: &str, status: &str) {
        self.state
            .lock()
            .unwrap()
            .letters
            .insert(id.to_string(), Letter { status: status.to_string(), checks_left: 0 });
    }

    fn status_of(&self, id: &str) -> Option<String> {
        self.state.lock().unwrap().letters.get(id).map(|l| l.status.clone())
    }

    fn count(&self, method: &str, path: &str) -> usize {
        self.seen().iter().filter(|s| s.is(method, path)).count()
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        401 => "Unauthorized",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        _ => "Whatever",
    }
}

fn letter_json(id: &str, status: &str) -> Value {
    json!({"data": {"id": id, "type": "letters", "attributes": {
        "status": status, "file_original_name": "dunwell-42.pdf", "file_pages": 1,
        "address_position": "left", "country": "NL",
    }}})
}

fn error_json(code: &str, title: &str, detail: &str) -> Value {
    json!({"errors": [{"code": code, "title": title, "detail": detail}]})
}

/// Pingen as far as dunwell uses it.
fn answer(s: &mut State, r: &Seen, base: &str) -> Reply {
    let letters = format!("/organisations/{ORG}/deliveries/letters");
    if r.is("POST", "/identity/auth/access-tokens") {
        let token = format!("tok-{}-a9f8e7d6c5b4a3f2e1d0", s.tokens.len() + 1);
        s.tokens.push(token.clone());
        if s.revoke_first && s.tokens.len() == 1 {
            s.revoked.push(token.clone());
        }
        return Reply::Json(200, json!({"token_type": "Bearer", "expires_in": 43200, "access_token": token}));
    }
    if r.method == "PUT" && r.path() == "/storage/upload-1" {
        return Reply::Json(200, json!({}));
    }
    let bearer = r.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
    if !s.tokens.iter().any(|t| t == bearer) || s.revoked.iter().any(|t| t == bearer) {
        return Reply::Json(
            401,
            error_json("unauthenticated", "Unauthenticated.", "The access token is invalid."),
        );
    }
    if r.is("GET", "/file-upload") {
        return Reply::Json(
            200,
            json!({"data": {"id": "fu-1", "type": "file_uploads", "attributes": {
                "url": format!("{base}/storage/upload-1?X-Amz-Signature=0b1c2d3e"),
                "url_signature": SIGNATURE,
                "expires_at": "2099-01-01T00:00:00+0100",
            }}}),
        );
    }
    if r.is("POST", &letters) {
        if let Some(reply) = s.create_reply.clone() {
            return reply;
        }
        s.created += 1;
        let id = format!("1e0c6a7b-0000-4000-8000-00000000000{}", s.created);
        s.letters.insert(id.clone(), Letter { status: "validating".into(), checks_left: s.checks });
        return Reply::Json(201, letter_json(&id, "validating"));
    }
    let Some(rest) = r.path().strip_prefix(&format!("{letters}/")) else {
        return Reply::Json(404, error_json("not_found", "Not found.", "No such path."));
    };
    let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
    let checked = s.checked_status.clone().unwrap_or_else(|| "valid".into());
    let Some(letter) = s.letters.get_mut(id) else {
        return Reply::Json(404, error_json("not_found", "Not found.", "The letter does not exist."));
    };
    match (r.method.as_str(), action) {
        ("GET", "") => {
            if letter.status == "validating" {
                if letter.checks_left == 0 {
                    letter.status = checked;
                } else {
                    letter.checks_left -= 1;
                }
            }
            Reply::Json(200, letter_json(id, &letter.status))
        }
        ("GET", "events") => Reply::Json(200, json!({"data": s.events.clone()})),
        ("PATCH", "send") => {
            if let Some(reply) = s.send_reply.clone() {
                return reply;
            }
            if letter.status != "valid" {
                return Reply::Json(
                    422,
                    error_json("conflict", "Not sendable.", "Only a valid letter can be sent."),
                );
            }
            letter.status = "submitted".into();
            Reply::Json(200, letter_json(id, "submitted"))
        }
        _ => Reply::Json(404, error_json("not_found", "Not found.", "No such action.")),
    }
}

fn settings(base: &str, dir: &tempfile::TempDir) -> LetterSettings {
    let secret = dir.path().join("pingen-secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    LetterSettings {
        provider: "pingen".into(),
        api_url: base.to_string(),
        identity_url: format!("{base}/identity/"),
        organisation: ORG.into(),
        client_id: CLIENT_ID.into(),
        client_secret_file: secret,
        product: None,
        print_spectrum: None,
        print_mode: None,
        timeout_s: Some(5),
    }
}

/// A client of `base` that polls quickly.
fn client(s: &LetterSettings) -> Pingen {
    let mut p = Pingen::new(s).unwrap();
    p.first_poll = Duration::from_millis(5);
    p.validation_wait = Duration::from_secs(3);
    p
}

fn pingen(fake: &Fake) -> (Pingen, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (client(&settings(&fake.base, &dir)), dir)
}

fn message(id: i64) -> Message {
    Message {
        key: format!("k-{id}"),
        day: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        created: "2026-03-02T08:00:00+00:00".into(),
        customer_id: "C1001".into(),
        template: "reminder-2".into(),
        recipient: Some("Bakkerij de Vries\nDorpsstraat 1\n1234 AB Ergens".into()),
        body: "Geachte heer De Vries, …".into(),
        total: Some("120.50".into()),
        currency: Some("EUR".into()),
        status: Status::Sending,
        ..Message::example(id, "letter")
    }
}

/// Sends message `id` and returns the outcome and the ids `record` got.
fn send(p: &Pingen, id: i64, registered: bool, existing: Option<&str>) -> (Outcome, Vec<String>) {
    let mut recorded = Vec::new();
    let outcome = p.send(&message(id), PDF, registered, existing, &mut |letter: &str| {
        recorded.push(letter.to_string());
        Ok(())
    });
    (outcome, recorded)
}

fn sent_as(id: &str) -> Outcome {
    Outcome::Sent { provider_id: Some(id.to_string()), message_id: None, file: None }
}

const FIRST: &str = "1e0c6a7b-0000-4000-8000-000000000001";
const SECOND: &str = "1e0c6a7b-0000-4000-8000-000000000002";

#[test]
fn a_whole_send() {
    let fake = Fake::start(State { checks: 2, ..State::default() });
    let (p, _dir) = pingen(&fake);
    let state = Arc::clone(&fake.state);
    let mut recorded = Vec::new();
    let outcome = p.send(&message(42), PDF, false, None, &mut |letter: &str| {
        // Recorded after the create call, before any send call.
        let s = state.lock().unwrap();
        assert!(s.seen.iter().any(|r| r.method == "POST" && r.target.ends_with("/deliveries/letters")));
        assert!(!s.seen.iter().any(|r| r.method == "PATCH"), "recorded before the send call");
        recorded.push(letter.to_string());
        Ok(())
    });
    assert_eq!(outcome, sent_as(FIRST));
    assert_eq!(recorded, [FIRST]);
    assert_eq!(fake.status_of(FIRST).as_deref(), Some("submitted"));

    let seen = fake.seen();
    let calls: Vec<(&str, &str)> = seen.iter().map(|r| (r.method.as_str(), r.path())).collect();
    let letter = format!("{}/{FIRST}", fake.letters_path());
    let send_path = format!("{letter}/send");
    assert_eq!(
        calls,
        [
            ("POST", "/identity/auth/access-tokens"),
            ("GET", "/file-upload"),
            ("PUT", "/storage/upload-1"),
            ("POST", fake.letters_path().as_str()),
            ("GET", letter.as_str()),
            ("GET", letter.as_str()),
            ("GET", letter.as_str()),
            ("PATCH", send_path.as_str()),
        ]
    );

    // The client-credentials form.
    let token = &seen[0];
    assert_eq!(token.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(
        token.form().into_iter().collect::<BTreeMap<_, _>>(),
        BTreeMap::from([
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("client_id".to_string(), CLIENT_ID.to_string()),
            ("client_secret".to_string(), SECRET.to_string()),
            ("scope".to_string(), "letter".to_string()),
        ])
    );
    let bearer = format!("Bearer {}", fake.tokens()[0]);
    // Every API call: the bearer token and JSON:API's media type.
    for r in seen.iter().filter(|r| r.path() != "/identity/auth/access-tokens" && r.method != "PUT") {
        assert_eq!(r.header("authorization"), Some(bearer.as_str()), "{} {}", r.method, r.target);
        assert_eq!(r.header("accept"), Some("application/vnd.api+json"), "{} {}", r.method, r.target);
        if r.method == "GET" {
            assert!(r.body.is_empty());
        } else {
            assert_eq!(
                r.header("content-type"),
                Some("application/vnd.api+json"),
                "{} {}",
                r.method,
                r.target
            );
        }
    }
    // The PDF, byte for byte, to the signed URL as given, without the token.
    let put = &seen[2];
    assert_eq!(put.target, "/storage/upload-1?X-Amz-Signature=0b1c2d3e");
    assert_eq!(put.body, PDF);
    assert_eq!(put.header("authorization"), None);
    // The create body.
    assert_eq!(
        seen[3].json(),
        json!({"data": {"type": "letters", "attributes": {
            "file_original_name": "dunwell-42.pdf",
            "file_url": format!("{}/storage/upload-1?X-Amz-Signature=0b1c2d3e", fake.base),
            "file_url_signature": SIGNATURE,
            "address_position": "left",
            "auto_send": false,
        }}})
    );
    // The send body.
    assert_eq!(
        seen[7].json(),
        json!({"data": {"id": FIRST, "type": "letters", "attributes": {
            "delivery_product": "cheap",
            "print_mode": "simplex",
            "print_spectrum": "grayscale",
        }}})
    );
}

#[test]
fn one_token_for_two_letters_and_the_products() {
    let fake = Fake::start(State::default());
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&fake.base, &dir);
    s.product = Some("fast".into());
    s.print_spectrum = Some("color".into());
    s.print_mode = Some("duplex".into());
    let p = client(&s);

    let (first, _) = send(&p, 1, true, None);
    let (second, _) = send(&p, 2, false, None);
    assert_eq!(first, sent_as(FIRST));
    assert_eq!(second, sent_as(SECOND));
    assert_eq!(fake.count("POST", "/identity/auth/access-tokens"), 1, "one token for both letters");

    let sends: Vec<Value> = fake.seen().iter().filter(|r| r.method == "PATCH").map(Seen::json).collect();
    assert_eq!(sends.len(), 2);
    assert_eq!(
        sends[0]["data"],
        json!({"id": FIRST, "type": "letters", "attributes": {
            "delivery_product": "registered", "print_mode": "duplex", "print_spectrum": "color",
        }})
    );
    assert_eq!(sends[1]["data"]["attributes"]["delivery_product"], "fast");
}

#[test]
fn a_refused_token_is_renewed_once() {
    let fake = Fake::start(State { revoke_first: true, ..State::default() });
    let (p, _dir) = pingen(&fake);
    let (outcome, recorded) = send(&p, 7, false, None);
    assert_eq!(outcome, sent_as(FIRST));
    assert_eq!(recorded, [FIRST]);
    let tokens = fake.tokens();
    assert_eq!(tokens.len(), 2, "one new token after the 401");
    let seen = fake.seen();
    let uploads: Vec<&Seen> = seen.iter().filter(|r| r.is("GET", "/file-upload")).collect();
    assert_eq!(uploads.len(), 2, "the refused call is made once more");
    assert_eq!(uploads[0].header("authorization"), Some(format!("Bearer {}", tokens[0]).as_str()));
    assert_eq!(uploads[1].header("authorization"), Some(format!("Bearer {}", tokens[1]).as_str()));
    // Later calls use the new token.
    let patch = seen.iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(patch.header("authorization"), Some(format!("Bearer {}", tokens[1]).as_str()));
}

#[test]
fn a_token_refused_twice_is_retried_later() {
    let fake = Fake::start(State::default());
    // Every token is refused: the identity service hands out tokens the API does not take.
    {
        let mut s = fake.state.lock().unwrap();
        s.revoked = (1..=3).map(|n| format!("tok-{n}-a9f8e7d6c5b4a3f2e1d0")).collect();
    }
    let (p, _dir) = pingen(&fake);
    let (outcome, recorded) = send(&p, 7, false, None);
    assert!(matches!(&outcome, Outcome::Retry(why) if why.contains("401")), "{outcome:?}");
    assert!(recorded.is_empty());
    assert_eq!(fake.tokens().len(), 2, "one renewal, not more");
}

#[test]
fn an_existing_letter_already_sent_is_not_sent_again() {
    for status in ["submitted", "printing", "sent", "awaiting_credits"] {
        let fake = Fake::start(State::default());
        fake.add_letter(FIRST, status);
        let (p, _dir) = pingen(&fake);
        let (outcome, recorded) = send(&p, 9, false, Some(FIRST));
        assert_eq!(outcome, sent_as(FIRST), "{status}");
        assert!(recorded.is_empty());
        let calls: Vec<(String, String)> =
            fake.seen().iter().map(|r| (r.method.clone(), r.path().to_string())).collect();
        assert_eq!(
            calls,
            [
                ("POST".to_string(), "/identity/auth/access-tokens".to_string()),
                ("GET".to_string(), format!("{}/{FIRST}", fake.letters_path())),
            ],
            "{status}: no upload, no create, no send"
        );
    }
}

#[test]
fn an_existing_draft_is_only_sent() {
    let fake = Fake::start(State::default());
    fake.add_letter(FIRST, "valid");
    let (p, _dir) = pingen(&fake);
    let (outcome, recorded) = send(&p, 9, true, Some(FIRST));
    assert_eq!(outcome, sent_as(FIRST));
    assert!(recorded.is_empty(), "nothing new to record");
    assert_eq!(fake.count("GET", "/file-upload"), 0);
    assert_eq!(fake.count("POST", &fake.letters_path()), 0);
    let patch = fake.seen().into_iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(patch.path(), format!("{}/{FIRST}/send", fake.letters_path()));
    assert_eq!(patch.json()["data"]["attributes"]["delivery_product"], "registered");
}

#[test]
fn an_existing_letter_still_being_checked_is_waited_for() {
    let fake = Fake::start(State::default());
    fake.state
        .lock()
        .unwrap()
        .letters
        .insert(FIRST.into(), Letter { status: "validating".into(), checks_left: 2 });
    let (p, _dir) = pingen(&fake);
    let (outcome, recorded) = send(&p, 9, false, Some(FIRST));
    assert_eq!(outcome, sent_as(FIRST));
    assert!(recorded.is_empty());
    assert_eq!(fake.count("POST", &fake.letters_path()), 0);
}

#[test]
fn an_existing_letter_pingen_does_not_know_is_made_anew() {
    let fake = Fake::start(State::default());
    let (p, _dir) = pingen(&fake);
    let gone = "0d0d0d0d-dead-4000-8000-000000000000";
    let (outcome, recorded) = send(&p, 9, false, Some(gone));
    assert_eq!(outcome, sent_as(FIRST));
    assert_eq!(recorded, [FIRST], "the new id is recorded");
    assert_eq!(fake.count("POST", &fake.letters_path()), 1);
}

#[test]
fn a_cancelled_letter_is_refused_and_a_strange_status_unknown() {
    let fake = Fake::start(State::default());
    fake.add_letter(FIRST, "cancelled");
    fake.add_letter(SECOND, "teleported");
    let (p, _dir) = pingen(&fake);
    let (cancelled, _) = send(&p, 9, false, Some(FIRST));
    assert!(matches!(&cancelled, Outcome::Refused(why) if why.contains("cancelled")), "{cancelled:?}");
    let (strange, _) = send(&p, 10, false, Some(SECOND));
    assert!(matches!(&strange, Outcome::Unknown(why) if why.contains("teleported")), "{strange:?}");
    assert_eq!(fake.count("PATCH", &format!("{}/{FIRST}/send", fake.letters_path())), 0);
    assert_eq!(fake.count("POST", &fake.letters_path()), 0);
    // A recorded id that is no Pingen id is not put into a path.
    let (odd, _) = send(&p, 11, false, Some("../../etc"));
    assert!(matches!(&odd, Outcome::Unknown(_)), "{odd:?}");
}

#[test]
fn a_validation_error_is_refused_with_pingens_detail() {
    let fake = Fake::start(State::default());
    let (p, _dir) = pingen(&fake);
    // Pingen's detail, with the token in it to see it masked.
    let token = "tok-1-a9f8e7d6c5b4a3f2e1d0";
    fake.state.lock().unwrap().create_reply = Some(Reply::Json(
        422,
        json!({"errors": [{
            "code": "validation_failed",
            "title": "The given data was invalid.",
            "detail": format!("The document has 17 pages; letters to NL may have at most 14 (request by {token})."),
            "source": {"pointer": "/data/attributes/file_url"},
        }]}),
    ));
    let (outcome, recorded) = send(&p, 5, false, None);
    let Outcome::Refused(why) = &outcome else { panic!("{outcome:?}") };
    assert!(why.contains("HTTP 422"), "{why}");
    assert!(why.contains("letters to NL may have at most 14"), "{why}");
    assert!(why.contains("/data/attributes/file_url"), "{why}");
    assert!(!why.contains(token), "the token is masked: {why}");
    assert!(!why.contains(SECRET));
    assert!(recorded.is_empty());
    assert_eq!(fake.count("PATCH", &format!("{}/{FIRST}/send", fake.letters_path())), 0);
}

#[test]
fn a_letter_pingen_finds_invalid_is_refused_with_its_events() {
    let fake = Fake::start(State {
        checked_status: Some("invalid".into()),
        events: vec![
            json!({"id": "e1", "type": "letters_events", "attributes": {"code": "validating", "name": "Validating", "description": "The letter is being validated."}}),
            json!({"id": "e2", "type": "letters_events", "attributes": {"code": "address_not_found", "name": "Address not found", "description": "No address was found in the address window."}}),
        ],
        ..State::default()
    });
    let (p, _dir) = pingen(&fake);
    let (outcome, recorded) = send(&p, 5, false, None);
    let Outcome::Refused(why) = &outcome else { panic!("{outcome:?}") };
    assert!(why.contains(FIRST) && why.contains("invalid"), "{why}");
    assert!(why.contains("No address was found in the address window."), "{why}");
    assert_eq!(recorded, [FIRST]);
    assert_eq!(fake.seen().iter().filter(|r| r.method == "PATCH").count(), 0);
}

#[test]
fn a_letter_still_being_checked_is_sent_on_the_next_attempt() {
    let fake = Fake::start(State { checks: 1_000, ..State::default() });
    let dir = tempfile::tempdir().unwrap();
    let mut p = client(&settings(&fake.base, &dir));
    p.validation_wait = Duration::from_millis(100);
    let (outcome, recorded) = send(&p, 5, false, None);
    assert!(matches!(&outcome, Outcome::Retry(why) if why.contains("still checking")), "{outcome:?}");
    assert_eq!(recorded, [FIRST]);
    assert_eq!(fake.seen().iter().filter(|r| r.method == "PATCH").count(), 0);
    // Pingen finishes; the next attempt only sends.
    fake.state.lock().unwrap().letters.get_mut(FIRST).unwrap().checks_left = 0;
    let (outcome, recorded) = send(&p, 5, false, Some(FIRST));
    assert_eq!(outcome, sent_as(FIRST));
    assert!(recorded.is_empty());
    assert_eq!(fake.count("POST", &fake.letters_path()), 1);
}

#[test]
fn when_the_id_cannot_be_recorded_nothing_is_sent() {
    let fake = Fake::start(State::default());
    let (p, _dir) = pingen(&fake);
    let outcome = p.send(&message(3), PDF, false, None, &mut |_: &str| Err("database is locked".into()));
    assert!(
        matches!(&outcome, Outcome::Retry(why) if why.contains(FIRST) && why.contains("database is locked")),
        "{outcome:?}"
    );
    assert_eq!(fake.seen().iter().filter(|r| r.method == "PATCH").count(), 0);
}

#[test]
fn server_down_is_retry() {
    let down = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let p = client(&settings(&down, &dir));
    let (outcome, recorded) = send(&p, 1, false, None);
    assert!(matches!(&outcome, Outcome::Retry(why) if why.contains("cannot connect")), "{outcome:?}");
    assert!(recorded.is_empty());
}

#[test]
fn a_timeout_on_the_send_call_is_unknown() {
    let fake =
        Fake::start(State { send_reply: Some(Reply::Silent(Duration::from_secs(3))), ..State::default() });
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&fake.base, &dir);
    s.timeout_s = Some(1);
    let p = client(&s);
    let (outcome, recorded) = send(&p, 1, false, None);
    assert!(
        matches!(&outcome, Outcome::Unknown(why) if why.contains("within 1 s") && why.contains("Pingen may be sending")),
        "{outcome:?}"
    );
    assert_eq!(recorded, [FIRST]);
}

#[test]
fn a_timeout_before_the_send_call_is_retry() {
    let fake =
        Fake::start(State { create_reply: Some(Reply::Silent(Duration::from_secs(3))), ..State::default() });
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&fake.base, &dir);
    s.timeout_s = Some(1);
    let p = client(&s);
    let (outcome, recorded) = send(&p, 1, false, None);
    assert!(matches!(&outcome, Outcome::Retry(why) if why.contains("within 1 s")), "{outcome:?}");
    assert!(recorded.is_empty());
}

#[test]
fn a_server_error_on_the_send_call_is_retry_and_a_gateway_timeout_unknown() {
    let fake = Fake::start(State {
        send_reply: Some(Reply::Json(503, error_json("unavailable", "Service Unavailable", "Try later."))),
        ..State::default()
    });
    let (p, _dir) = pingen(&fake);
    let (outcome, _) = send(&p, 1, false, None);
    assert!(matches!(&outcome, Outcome::Retry(why) if why.contains("503")), "{outcome:?}");
    fake.state.lock().unwrap().send_reply = Some(Reply::Json(504, json!({})));
    let (outcome, _) = send(&p, 1, false, Some(FIRST));
    assert!(matches!(&outcome, Outcome::Unknown(why) if why.contains("504")), "{outcome:?}");
}

#[test]
fn no_pdf_is_refused_before_anything_is_sent() {
    let fake = Fake::start(State::default());
    let (p, _dir) = pingen(&fake);
    let outcome = p.send(&message(1), b"", false, None, &mut |_: &str| Ok(()));
    assert!(matches!(outcome, Outcome::Refused(_)));
    assert!(fake.seen().is_empty());
}

#[test]
fn settings_from_toml() {
    let s: LetterSettings = toml::from_str(
        r#"
        provider = "pingen"
        organisation = "8e3f2a61-4b7d-4c0e-9a55-2f1d6c7b8e90"
        client_id = "abc"
        client_secret_file = "secrets/pingen"
        "#,
    )
    .unwrap();
    assert_eq!(s.api_url, DEFAULT_API_URL);
    assert_eq!(s.identity_url, DEFAULT_IDENTITY_URL);
    assert_eq!((s.product, s.print_spectrum, s.timeout_s), (None, None, None));
    let unknown = toml::from_str::<LetterSettings>(
        r#"
        provider = "pingen"
        organisation = "x"
        client_id = "abc"
        client_secret_file = "s"
        client_secret = "inline"
        "#,
    )
    .unwrap_err();
    assert!(unknown.to_string().contains("client_secret"), "{unknown}");
}

#[test]
fn bad_settings_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let good = settings("https://api.pingen.com", &dir);
    assert!(Pingen::new(&good).is_ok());
    let err = |change: &dyn Fn(&mut LetterSettings)| {
        let mut s = good.clone();
        change(&mut s);
        Pingen::new(&s).unwrap_err()
    };
    let e = err(&|s| s.client_secret_file = dir.path().join("missing"));
    assert!(
        e.contains("[channels.letter]") && e.contains("client_secret_file") && e.contains("missing"),
        "{e}"
    );
    let short = dir.path().join("short");
    std::fs::write(&short, "Qx!7\n").unwrap();
    let e = err(&|s| s.client_secret_file = short.clone());
    assert!(e.contains("client_secret_file") && !e.contains("Qx!7"), "{e}");
    let e = err(&|s| s.api_url = "http://api.pingen.com".into());
    assert!(e.contains("[channels.letter] `api_url`") && e.contains("https"), "{e}");
    let e = err(&|s| s.identity_url = "ftp://identity.pingen.com".into());
    assert!(e.contains("`identity_url`"), "{e}");
    let e = err(&|s| s.provider = "printdirect".into());
    assert!(e.contains("`provider`"), "{e}");
    let e = err(&|s| s.product = Some("registered".into()));
    assert!(e.contains("`product`") && e.contains("per letter"), "{e}");
    let e = err(&|s| s.product = Some("express".into()));
    assert!(e.contains("`product`"), "{e}");
    let e = err(&|s| s.print_spectrum = Some("sepia".into()));
    assert!(e.contains("`print_spectrum`"), "{e}");
    let e = err(&|s| s.organisation = "my org".into());
    assert!(e.contains("`organisation`"), "{e}");
    let e = err(&|s| s.timeout_s = Some(0));
    assert!(e.contains("`timeout_s`"), "{e}");
    let debug = format!("{:?}", Pingen::new(&good).unwrap());
    assert!(!debug.contains(SECRET), "{debug}");
}

#[test]
fn pingens_error_shapes() {
    let list = json!({"errors": [
        {"code": "a", "title": "Invalid.", "detail": "The address is unreadable.", "source": {"pointer": "/data"}},
        {"code": "b", "title": "Only a title."},
    ]});
    assert_eq!(pingen_reason(&list).unwrap(), "The address is unreadable. (/data); Only a title.");
    // The SDK's tests show `errors` as one object too.
    let one = json!({"errors": {"code": "access_denied", "title": "Access denied."}});
    assert_eq!(pingen_reason(&one).unwrap(), "Access denied.");
    let oauth = json!({"error": "invalid_client", "error_description": "Client authentication failed"});
    assert_eq!(pingen_reason(&oauth).unwrap(), "Client authentication failed; invalid_client");
    assert_eq!(pingen_reason(&json!({"data": {}})), None);
}
