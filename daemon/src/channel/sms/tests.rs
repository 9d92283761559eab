//! The SMS sender against a real HTTP server on 127.0.0.1 per test (a thread with a
//! `std::net::TcpListener`), which records each request (method, path, headers, body) for the
//! test to check and answers the way the provider does.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::http::testing::{closed_port, read_request, Seen};

const TOKEN: &str = "tok-3f9a8b7c6d5e4f3a2b1c";
const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";

/// How the server answers.
#[derive(Clone)]
enum Answer {
    /// A status line (`201 Created`) and a JSON body.
    With(&'static str, String),
    /// Reads the request, then holds the connection open without a word for this long.
    Silent(Duration),
    /// Reads the request, then closes the connection.
    Hangs,
}

/// A server on a free port of 127.0.0.1: `http://127.0.0.1:PORT` and the requests it saw.
fn server(answer: Answer) -> (String, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let Some(seen) = read_request(&stream) else { continue };
            let _ = tx.send(seen);
            let mut stream = stream;
            match &answer {
                Answer::With(status, body) => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
                Answer::Silent(d) => std::thread::sleep(*d),
                Answer::Hangs => {}
            }
        }
    });
    (base, rx)
}

/// The one request the server saw.
fn seen(rx: &mpsc::Receiver<Seen>) -> Seen {
    rx.recv_timeout(Duration::from_secs(5)).expect("the server saw a request")
}

fn token_file(dir: &tempfile::TempDir, content: &str) -> PathBuf {
    let path = dir.path().join("sms-token");
    std::fs::write(&path, content).unwrap();
    path
}

fn settings(provider: Provider, url: &str, token_file: PathBuf) -> SmsSettings {
    SmsSettings {
        provider,
        url: Some(url.to_string()),
        token_file,
        sender: "Bakkerij".into(),
        account: (provider == Provider::Twilio).then(|| TWILIO_SID.to_string()),
        body_template: None,
        timeout: Duration::from_secs(5),
        max_parts: 3,
        report_token_file: None,
    }
}

fn sender(provider: Provider, url: &str) -> (SmsSender, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = SmsSender::new(settings(provider, url, token_file(&dir, &format!("{TOKEN}\n")))).unwrap();
    (s, dir)
}

const TEXT: &str = "Beste klant, uw financiële afspraak – factuur 2026/0042 – staat open: € 120,50. Groet, Bakkerij’s België";
const SENT: &str = "Beste klant, uw financiele afspraak - factuur 2026/0042 - staat open: € 120,50. Groet, Bakkerij's Belgie";

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn the_test_base64_is_right() {
    assert_eq!(base64(b"Man"), "TWFu");
    assert_eq!(base64(b"Ma"), "TWE=");
    assert_eq!(base64(b"M"), "TQ==");
}

#[test]
fn prepare_transliterates_then_counts() {
    let (text, counted) = prepare(TEXT);
    assert_eq!(text, SENT);
    assert_eq!(counted, SmsParts { encoding: Encoding::Gsm7, units: SENT.chars().count() + 1, parts: 1 });
}

#[tokio::test]
async fn cm_request_shape() {
    let (base, rx) = server(Answer::With(
        "200 OK",
        r#"{"details":"Created 1 message(s)","errorCode":0,"messages":[{"to":"0031612345678","status":"Accepted","reference":"d-42","parts":1,"messageDetails":null,"messageErrorCode":0}]}"#.into(),
    ));
    let (sms, _dir) = sender(Provider::Cm, &format!("{base}/"));
    let receipt = sms.send("+31612345678", TEXT, "d-42").await.unwrap();
    assert_eq!(receipt, SmsReceipt { provider_id: "d-42".into(), parts: 1 });
    let r = seen(&rx);
    assert_eq!((r.method.as_str(), r.target.as_str()), ("POST", "/v1.0/message"));
    assert_eq!(r.header("X-CM-PRODUCTTOKEN"), Some(TOKEN));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({"messages": {"msg": [{
            "from": "Bakkerij",
            "to": [{"number": "0031612345678"}],
            "body": {"type": "auto", "content": SENT},
            "reference": "d-42",
            "minimumNumberOfMessageParts": 1,
            "maximumNumberOfMessageParts": 3,
            "allowedChannels": ["SMS"],
        }]}})
    );
}

#[tokio::test]
async fn cm_refusing_one_message_in_a_2xx_is_rejected() {
    let (base, _rx) = server(Answer::With(
        "200 OK",
        r#"{"details":"","errorCode":0,"messages":[{"to":"0031612345678","status":"Rejected","reference":"d-42","parts":0,"messageDetails":"Gsm '0031612345678' is blacklisted","messageErrorCode":302}]}"#.into(),
    ));
    let (sms, _dir) = sender(Provider::Cm, &base);
    let err = sms.send("+31612345678", "Hallo", "d-42").await.unwrap_err();
    assert_eq!(err, SmsError::Rejected("Gsm '0031612345678' is blacklisted".into()));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn spryng_request_shape() {
    let (base, rx) = server(Answer::With(
        "200 OK",
        r#"{"id":"5f1c4c52-2a5e-4b1e-b0c2-1f8e6c2b9a11","encoding":"plain","originator":"Bakkerij","body":"...","reference":"d-7","credits":1}"#.into(),
    ));
    let (sms, _dir) = sender(Provider::Spryng, &base);
    let receipt = sms.send("+32470123456", TEXT, "d-7").await.unwrap();
    assert_eq!(receipt, SmsReceipt { provider_id: "d-7".into(), parts: 1 });
    let r = seen(&rx);
    assert_eq!((r.method.as_str(), r.target.as_str()), ("POST", "/v1/messages"));
    assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("accept"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({"body": SENT, "encoding": "auto", "originator": "Bakkerij", "recipients": ["32470123456"],
               "route": "business", "reference": "d-7"})
    );
}

#[tokio::test]
async fn twilio_request_shape() {
    let (base, rx) = server(Answer::With(
        "201 Created",
        r#"{"sid":"SM1f0e2d3c4b5a69788796a5b4c3d2e1f0","status":"queued","to":"+31612345678","num_segments":"1"}"#.into(),
    ));
    let (sms, _dir) = sender(Provider::Twilio, &base);
    let receipt = sms.send("+31612345678", TEXT, "d-9").await.unwrap();
    assert_eq!(receipt, SmsReceipt { provider_id: "SM1f0e2d3c4b5a69788796a5b4c3d2e1f0".into(), parts: 1 });
    let r = seen(&rx);
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"));
    let basic = format!("Basic {}", base64(format!("{TWILIO_SID}:{TOKEN}").as_bytes()));
    assert_eq!(r.header("authorization"), Some(basic.as_str()));
    assert_eq!(r.header("content-type"), Some("application/x-www-form-urlencoded"));
    let form = r.form();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(field("To"), Some("+31612345678"));
    assert_eq!(field("From"), Some("Bakkerij"));
    assert_eq!(field("Body"), Some(SENT));
    assert_eq!(field("SmartEncoded"), Some("true"));
    assert_eq!(form.len(), 4, "{form:?}");
}

#[tokio::test]
async fn twilio_messaging_service_and_an_answer_without_sid() {
    let (base, rx) = server(Answer::With("201 Created", r#"{"status":"queued"}"#.into()));
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(Provider::Twilio, &base, token_file(&dir, TOKEN));
    s.sender = "MG0123456789abcdef0123456789abcdef".into();
    let sms = SmsSender::new(s).unwrap();
    let err = sms.send("+31612345678", "Hallo", "d-9").await.unwrap_err();
    assert!(matches!(&err, SmsError::Unknown(m) if m.contains("no `sid`")), "{err}");
    let r = seen(&rx);
    let form = r.form();
    assert!(
        form.contains(&("MessagingServiceSid".into(), "MG0123456789abcdef0123456789abcdef".into())),
        "{form:?}"
    );
    assert!(!form.iter().any(|(n, _)| n == "From"));
}

#[tokio::test]
async fn messagebird_request_shape() {
    let (base, rx) = server(Answer::With(
        "201 Created",
        r#"{"id":"e8077d803532c0b5937c639b60216938","reference":"d-11","recipients":{"totalCount":1,"totalSentCount":1}}"#.into(),
    ));
    let (sms, _dir) = sender(Provider::MessageBird, &base);
    let receipt = sms.send("+31612345678", TEXT, "d-11").await.unwrap();
    assert_eq!(receipt, SmsReceipt { provider_id: "d-11".into(), parts: 1 });
    let r = seen(&rx);
    assert_eq!((r.method.as_str(), r.target.as_str()), ("POST", "/messages"));
    assert_eq!(r.header("authorization"), Some(format!("AccessKey {TOKEN}").as_str()));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({"originator": "Bakkerij", "recipients": ["31612345678"], "body": SENT, "reference": "d-11",
               "datacoding": "auto"})
    );
}

#[tokio::test]
async fn http_renders_the_template_json_escaped() {
    let (base, rx) = server(Answer::With("202 Accepted", r#"{"id": 981234, "queued": true}"#.into()));
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(Provider::Http, &format!("{base}/api/sms?x=1"), token_file(&dir, TOKEN));
    s.body_template = Some(
        r#"{"message": {"to": "{{to}}", "content": "{{ text }}"}, "meta": {"ref": "{{reference}}", "from": "{{sender}}"}}"#.into(),
    );
    let sms = SmsSender::new(s).unwrap();
    // Quotes, a backslash, a line break, and a placeholder inside the text (left as it is).
    let text = "Zeg \"hallo\" \\ tot {{reference}}\nGroet’";
    let receipt = sms.send("+31612345678", text, "d-13").await.unwrap();
    assert_eq!(receipt, SmsReceipt { provider_id: "981234".into(), parts: 1 });
    let r = seen(&rx);
    assert_eq!((r.method.as_str(), r.target.as_str()), ("POST", "/api/sms?x=1"));
    assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({"message": {"to": "+31612345678", "content": "Zeg \"hallo\" \\ tot {{reference}}\nGroet'"},
               "meta": {"ref": "d-13", "from": "Bakkerij"}})
    );
}

#[tokio::test]
async fn http_default_template_and_no_id_gives_the_reference() {
    let (base, rx) = server(Answer::With("200 OK", "{}".into()));
    let (sms, _dir) = sender(Provider::Http, &base);
    let receipt = sms.send("+32470123456", "Hallo", "d-14").await.unwrap();
    assert_eq!(receipt.provider_id, "d-14");
    assert_eq!(
        seen(&rx).json(),
        json!({"to": "+32470123456", "text": "Hallo", "reference": "d-14", "sender": "Bakkerij"})
    );
}

#[tokio::test]
async fn a_4xx_is_rejected_with_the_providers_reason() {
    let (base, _rx) = server(Answer::With(
        "400 Bad Request",
        r#"{"code":21211,"message":"The 'To' number +31612345678 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}"#.into(),
    ));
    let (sms, _dir) = sender(Provider::Twilio, &base);
    let err = sms.send("+31612345678", "Hallo", "d-1").await.unwrap_err();
    assert_eq!(
        err,
        SmsError::Rejected(
            "HTTP 400 Bad Request: The 'To' number +31612345678 is not a valid phone number. (code 21211)"
                .into()
        )
    );
    assert!(!err.is_retryable());

    // MessageBird's error list.
    let (base, _rx) = server(Answer::With(
        "422 Unprocessable Entity",
        r#"{"errors":[{"code":9,"description":"no (correct) recipients found","parameter":"recipient"}]}"#
            .into(),
    ));
    let (sms, _dir) = sender(Provider::MessageBird, &base);
    let err = sms.send("+31612345678", "Hallo", "d-1").await.unwrap_err();
    assert_eq!(
        err,
        SmsError::Rejected("HTTP 422 Unprocessable Entity: no (correct) recipients found".into())
    );
}

#[tokio::test]
async fn a_rejection_reason_is_capped_escaped_and_masks_the_token() {
    let body = format!("bad token {TOKEN}\u{1b}[31m\r\nInjected: yes {}", "x".repeat(10_000));
    let (base, _rx) = server(Answer::With("401 Unauthorized", body));
    let (sms, _dir) = sender(Provider::Spryng, &base);
    let SmsError::Rejected(reason) = sms.send("+31612345678", "Hallo", "d-1").await.unwrap_err() else {
        panic!("not rejected")
    };
    assert!(
        reason.starts_with("HTTP 401 Unauthorized: bad token [token]\\u{1b}[31m\\r\\nInjected: yes xxx"),
        "{reason}"
    );
    assert!(!reason.contains(TOKEN) && !reason.contains('\n') && !reason.contains('\u{1b}'));
    assert!(reason.len() < 600, "{}", reason.len());
    assert!(reason.ends_with("more bytes]"), "{reason}");
}

#[tokio::test]
async fn a_5xx_429_or_408_is_failed_and_retryable_but_a_504_is_unknown() {
    for (status, retryable) in [
        ("500 Internal Server Error", true),
        ("503 Service Unavailable", true),
        ("429 Too Many Requests", true),
        ("408 Request Timeout", true),
    ] {
        let (base, _rx) = server(Answer::With(status, r#"{"message":"try later"}"#.into()));
        let (sms, _dir) = sender(Provider::Cm, &base);
        let err = sms.send("+31612345678", "Hallo", "d-1").await.unwrap_err();
        assert_eq!(err, SmsError::Failed(format!("HTTP {status}: try later")));
        assert_eq!(err.is_retryable(), retryable);
    }
    let (base, _rx) = server(Answer::With("504 Gateway Timeout", String::new()));
    let (sms, _dir) = sender(Provider::Cm, &base);
    let err = sms.send("+31612345678", "Hallo", "d-1").await.unwrap_err();
    assert!(matches!(&err, SmsError::Unknown(m) if m.starts_with("HTTP 504 Gateway Timeout")), "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_server_that_never_answers_is_unknown_after_the_timeout() {
    let (base, rx) = server(Answer::Silent(Duration::from_secs(10)));
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(Provider::Spryng, &base, token_file(&dir, TOKEN));
    s.timeout = Duration::from_millis(400);
    let sms = SmsSender::new(s).unwrap();
    let started = Instant::now();
    let err = sms.send("+31612345678", "Hallo", "d-1").await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(&err, SmsError::Unknown(m) if m.contains("may have sent it")), "{err}");
    assert!(!err.is_retryable());
    assert!(took >= Duration::from_millis(400) && took < Duration::from_secs(5), "{took:?}");
    // The provider did get the request: exactly why this must not be resent blindly.
    assert_eq!(seen(&rx).target, "/v1/messages");
}

#[tokio::test]
async fn a_connection_dropped_without_an_answer_is_unknown() {
    let (base, rx) = server(Answer::Hangs);
    let (sms, _dir) = sender(Provider::MessageBird, &base);
    let err = sms.send("+31612345678", "Hallo", "d-1").await.unwrap_err();
    assert!(matches!(&err, SmsError::Unknown(m) if m.contains("broke after the request was sent")), "{err}");
    seen(&rx);
}

#[tokio::test]
async fn connection_refused_is_failed_and_retryable() {
    let (sms, _dir) = sender(Provider::Cm, &closed_port());
    let err = sms.send("+31612345678", "Hallo", "d-1").await.unwrap_err();
    assert!(
        matches!(&err, SmsError::Failed(m) if m.contains("cannot connect") && m.contains("refused")),
        "{err}"
    );
    assert!(err.is_retryable());
}

/// The TLS stack works with no crypto provider installed beforehand (the shared builder installs ring): an
/// `https://` URL to a server that is not TLS fails in the handshake, as a connection failure
/// (nothing sent), not a panic.
#[tokio::test]
async fn tls_handshake_failure_is_failed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut hello = [0u8; 5];
            let _ = stream.read_exact(&mut hello);
            let _ = tx.send(hello);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let (sms, _dir) = sender(Provider::Cm, &format!("https://{addr}"));
    let err = sms.send("+31612345678", "Hallo", "d-1").await.unwrap_err();
    assert!(matches!(&err, SmsError::Failed(m) if m.contains("cannot connect")), "{err}");
    let hello = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(hello[0], 0x16, "a TLS handshake record (ClientHello) was sent");
}

#[tokio::test]
async fn a_bad_number_is_refused_before_sending() {
    // Nothing listens: had it tried to send, the error would be `Failed`.
    let (sms, _dir) = sender(Provider::Cm, &closed_port());
    for (to, message) in [
        ("+12345", "`+12345` is not a valid phone number"),
        ("+31201234567", "`+31201234567` is a landline, not a mobile number"),
        ("0612345678", "`0612345678` is not in E.164 form (+31612345678): check it with mobile_number first"),
    ] {
        assert_eq!(sms.send(to, "Hallo", "d-1").await.unwrap_err(), SmsError::Number(message.into()));
    }
}

#[tokio::test]
async fn text_and_reference_are_checked_before_sending() {
    let (sms, _dir) = sender(Provider::Cm, &closed_port());
    let err = sms.send("+31612345678", &"ë€".repeat(300), "d-1").await.unwrap_err();
    // Transliterated: "e€" is 3 septets, 900 septets = 6 parts of GSM-7.
    assert_eq!(err, SmsError::TooLong { parts: 6, max: 3, units: 900, encoding: Encoding::Gsm7 });
    assert!(err.to_string().contains("6 SMS parts"), "{err}");
    let err = sms.send("+31612345678", &"Дмитрий ".repeat(30), "d-1").await.unwrap_err();
    assert!(matches!(err, SmsError::TooLong { encoding: Encoding::Ucs2, parts: 4, .. }), "{err:?}");
    assert!(matches!(sms.send("+31612345678", " \u{200B}\n", "d-1").await, Err(SmsError::Text(_))));
    for reference in ["", "has space", "d/1", &"x".repeat(33), "ë"] {
        assert!(
            matches!(sms.send("+31612345678", "Hallo", reference).await, Err(SmsError::Text(_))),
            "{reference:?}"
        );
    }
    // Exactly at the limit still goes (and so fails to connect here).
    let three = "a".repeat(459);
    assert!(matches!(sms.send("+31612345678", &three, "d-1").await, Err(SmsError::Failed(_))));
}

#[test]
fn the_token_file_is_required_and_named_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-token");
    let err = SmsSender::new(settings(Provider::Cm, "https://gw.example", missing.clone())).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, SmsError::Config(_)));
    assert!(
        message.contains(&format!("cannot read the SMS token file `{}`", missing.display())),
        "{message}"
    );

    let empty = token_file(&dir, " \n");
    let err = SmsSender::new(settings(Provider::Cm, "https://gw.example", empty.clone())).unwrap_err();
    assert_eq!(err, SmsError::Config(format!("the SMS token file `{}` is empty", empty.display())));

    let two_lines = token_file(&dir, "secret-one\nsecret-two\n");
    let err = SmsSender::new(settings(Provider::Cm, "https://gw.example", two_lines)).unwrap_err();
    assert!(err.to_string().contains("on one line") && !err.to_string().contains("secret"), "{err}");
}

#[test]
fn settings_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(&dir, TOKEN);
    let check = |change: &dyn Fn(&mut SmsSettings)| {
        let mut s = settings(Provider::Cm, "https://gw.example", token.clone());
        change(&mut s);
        SmsSender::new(s).map(|_| ()).map_err(|e| e.to_string())
    };
    assert_eq!(check(&|_| {}), Ok(()));
    assert_eq!(check(&|s| s.url = None), Ok(()));
    assert_eq!(check(&|s| s.sender = "+31612345678".into()), Ok(()));
    assert_eq!(check(&|s| s.sender = "Bakker Jan".into()), Ok(()));
    assert!(check(&|s| s.url = Some("http://gw.example".into())).unwrap_err().contains("https://"));
    assert_eq!(check(&|s| s.url = Some("http://localhost:8080".into())), Ok(()));
    assert_eq!(check(&|s| s.url = Some("http://[::1]:8080".into())), Ok(()));
    assert!(check(&|s| s.url = Some("http://10.0.0.1".into())).is_err());
    assert!(check(&|s| s.url = Some("https://user:pw@gw.example".into())).unwrap_err().contains("password"));
    assert!(check(&|s| s.url = Some("not a url".into())).is_err());
    assert!(check(&|s| s.sender = "Bakkerij Jansen".into()).unwrap_err().contains("at most 11"));
    assert!(check(&|s| s.sender = "Bäkkerij".into()).is_err());
    assert!(check(&|s| s.sender = "".into()).is_err());
    assert!(check(&|s| s.max_parts = 0).unwrap_err().contains("max_parts"));
    assert!(check(&|s| s.account = Some(TWILIO_SID.into()))
        .unwrap_err()
        .contains("`account` is for provider \"twilio\""));
    assert!(check(&|s| s.body_template = Some("{}".into())).unwrap_err().contains("`body_template` is for"));
    assert!(check(&|s| {
        s.provider = Provider::Twilio;
        s.account = None
    })
    .unwrap_err()
    .contains("Account SID"));
    assert!(check(&|s| {
        s.provider = Provider::Twilio;
        s.account = Some("AC../../x".into())
    })
    .is_err());
    assert!(check(&|s| {
        s.provider = Provider::Http;
        s.url = None
    })
    .unwrap_err()
    .contains("needs `url`"));
    let http = |template: &str| {
        let template = template.to_string();
        check(&move |s| {
            s.provider = Provider::Http;
            s.body_template = Some(template.clone())
        })
    };
    assert_eq!(http(r#"{"to":"{{to}}","msg":"{{text}}"}"#), Ok(()));
    assert!(http(r#"{"to":{{to}},"msg":"{{text}}"}"#).unwrap_err().contains("not JSON"));
    assert!(http(r#"{"to":"{{to}}","msg":"{{body}}"}"#)
        .unwrap_err()
        .contains("unknown placeholder `{{body}}`"));
    assert!(http(r#"{"to":"{{to}}"}"#).unwrap_err().contains("must contain {{text}}"));
    assert!(http(r#"{"to":"{{to}}","msg":"{{text"}"#).unwrap_err().contains("without `}}`"));
}

#[test]
fn settings_read_from_toml() {
    let s: SmsSettings = toml::from_str(
        r#"
        provider = "messagebird"
        token_file = "secrets/mb"
        sender = "Bakkerij"
        "#,
    )
    .unwrap();
    assert_eq!(s.provider, Provider::MessageBird);
    assert_eq!(s.token_file, PathBuf::from("secrets/mb"));
    assert_eq!(
        (s.timeout, s.max_parts, s.url, s.account, s.body_template),
        (Duration::from_secs(15), 3, None, None, None)
    );

    let read = |extra: &str| {
        toml::from_str::<SmsSettings>(&format!(
            "provider = \"twilio\"\ntoken_file = \"t\"\nsender = \"X1\"\n{extra}"
        ))
        .map_err(|e| e.to_string())
    };
    assert_eq!(read("timeout = 20").unwrap().timeout, Duration::from_secs(20));
    assert_eq!(read("timeout = 2.5").unwrap().timeout, Duration::from_millis(2500));
    assert_eq!(read("timeout = \"500ms\"").unwrap().timeout, Duration::from_millis(500));
    assert_eq!(read("timeout = \"15s\"").unwrap().timeout, Duration::from_secs(15));
    assert_eq!(read("timeout = \"1m\"").unwrap().timeout, Duration::from_secs(60));
    assert!(read("timeout = 0").unwrap_err().contains("timeout"));
    assert!(read("timeout = \"soon\"").unwrap_err().contains("timeout"));
    assert!(read("timeout = 3600").is_err());
    assert_eq!(read("max_parts = 2").unwrap().max_parts, 2);
    assert!(read("password = \"x\"").unwrap_err().contains("unknown field `password`"));
    assert!(
        toml::from_str::<SmsSettings>("provider = \"sms77\"\ntoken_file = \"t\"\nsender = \"X\"").is_err()
    );
    for (name, provider) in [
        ("cm", Provider::Cm),
        ("spryng", Provider::Spryng),
        ("twilio", Provider::Twilio),
        ("messagebird", Provider::MessageBird),
        ("http", Provider::Http),
    ] {
        let s: SmsSettings =
            toml::from_str(&format!("provider = \"{name}\"\ntoken_file = \"t\"\nsender = \"X\"")).unwrap();
        assert_eq!(s.provider, provider);
        assert_eq!(provider.to_string(), name);
    }
}

#[test]
fn the_token_stays_out_of_debug_output() {
    let (sms, _dir) = sender(Provider::Cm, "https://gw.example");
    let shown = format!("{sms:?}");
    assert!(!shown.contains(TOKEN) && shown.contains("gw.example"), "{shown}");
}
