//! Replies end to end (issue 13, point 8): a reminder goes out by e-mail (the file outbox,
//! whose `.eml` carries dunwell's Message-ID), the customer's reply is saved as an `.eml`
//! with `In-Reply-To` set to it, `dunwell note C1 --file reply.eml` records it, and `dunwell
//! history` shows it right after the message it answers, with the care history around it.

use crate::email::message_id_of;
use crate::{json, s, testdata, Env};

const BUSINESS: &str = "[business]\nname = 'Bakkerij Van Dam B.V.'\naddress = 'Kerkstraat 12, 3811 CV Amersfoort'\niban = 'NL91ABNA0417164300'\nkvk = '12345678'\ncontact_email = 'debiteuren@bakkerij.example'\n";

/// The customer's answer to `answers`, as a mail client saves it: multipart, the text
/// quoted-printable, a UTF-8 subject, dated `date`.
fn reply(message_id: &str, answers: &str, date: &str) -> String {
    format!(
        "From: =?UTF-8?Q?Jan_de_Vri=C3=ABs?= <admin@bakkerijdevries.nl>\r\n\
To: debiteuren@bakkerij.example\r\n\
Subject: =?UTF-8?Q?Re:_factuur_2026-001_=E2=80=93_betaling_volgt?=\r\n\
Date: {date}\r\n\
Message-ID: {message_id}\r\n\
In-Reply-To: {answers}\r\n\
References: {answers}\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain; charset=UTF-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Beste,\r\n\
\r\n\
Wij betalen de =E2=82=AC 1.210,00 op vrijdag; excuses voor de vertraging (caf=C3=A9 dicht).\r\n\
--b\r\n\
Content-Type: text/html; charset=UTF-8\r\n\
\r\n\
<p>Beste,</p><p>Wij betalen op vrijdag.</p>\r\n\
--b--\r\n"
    )
}

#[test]
fn a_reply_is_noted_and_shown_right_after_the_message_it_answers() {
    let env = Env::with_config(BUSINESS);
    env.ok(&["import", "csv", s(&testdata("good"))]);
    // 2026-11-26: step 2 of 2026-001 (C1) and of 2026-003 (C2) by e-mail (tests/e2e/send.rs).
    env.ok(&["send", "--at", "2026-11-26"]);
    let eml = std::fs::read_to_string(env.path().join("data/outbox/2026-11-26/000001-email.eml")).unwrap();
    let ours = message_id_of(&eml).expect("our Message-ID");
    assert!(ours.starts_with("<dunwell.1."), "{ours}");
    assert!(eml.contains("Reply-To: debiteuren@bakkerij.example"), "{eml}");
    // The file outbox records it as the SMTP channel does.
    let outbox = json(&env.ok(&["outbox", "--format", "json"]));
    let first = outbox.as_array().unwrap().iter().find(|m| m["id"] == 1).unwrap();
    assert_eq!(first["message_id"].as_str(), Some(ours.as_str()));
    // Step 3 of 2026-001: message #3, on 12-16.
    env.ok(&["send", "--at", "2026-12-16"]);

    // The reply is dated after message #3, yet answers #1.
    let file = env.path().join("reply.eml");
    std::fs::write(&file, reply("<r1@bakkerijdevries.nl>", &ours, "Fri, 18 Dec 2026 09:14:03 +0100"))
        .unwrap();
    let out = env.ok(&["note", "C1", "--file", s(&file), "--by", "anja"]);
    assert!(out.contains("note #1 for C1 (Bakkerij De Vries B.V.) on 2026-12-18"), "{out}");
    assert!(out.contains("reply from Jan de Vriës <admin@bakkerijdevries.nl>"), "{out}");
    assert!(out.contains("answering message #1 of 2026-11-26 (standard-reminder-1)"), "{out}");
    // A remark typed by hand, in its day's place; a line of care history recorded by someone.
    env.ok(&[
        "note",
        "C1",
        "--text",
        "Gebeld: Jan is op vakantie tot 10 december.",
        "--at",
        "2026-12-01",
        "--by",
        "piet",
    ]);
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.execute(
        "INSERT INTO care_events (at, day, customer_id, invoices, kind, ref_id, text, recorded_by)
         VALUES ('2026-12-02T10:00:00+00:00', '2026-12-02', 'C1', '[\"2026-001\"]', 'promise', 4,
                 'promise to pay 2026-001 by 2026-12-18', 'anja')",
        [],
    )
    .unwrap();
    drop(conn);

    let history = env.ok(&["history", "C1"]);
    let at = |needle: &str| history.find(needle).unwrap_or_else(|| panic!("no `{needle}` in:\n{history}"));
    let message1 = at("#1 2026-11-26 email standard-reminder-1");
    let reply_line =
        at("note #1 2026-12-18 reply from Jan de Vriës <admin@bakkerijdevries.nl> to #1, recorded by anja");
    let remark = at("note #2 2026-12-01 note, recorded by piet");
    let event =
        at("event 2026-12-02 promise #4: promise to pay 2026-001 by 2026-12-18 (2026-001), recorded by anja");
    let message3 = at("#3 2026-12-16 email");
    // Right after the message it answers: no other entry in between.
    assert!(message1 < reply_line && reply_line < remark && remark < event && event < message3, "{history}");
    let between = &history[message1..reply_line];
    assert_eq!(between.matches("\n#").count(), 0, "{history}");
    assert!(history[reply_line..].contains("Subject: Re: factuur 2026-001 – betaling volgt"), "{history}");
    assert!(
        history.contains("Wij betalen de € 1.210,00 op vrijdag; excuses voor de vertraging (café dicht)."),
        "{history}"
    );
    // The invoice's history has the reply too (it answers a message about it) and the event.
    let invoice = env.ok(&["history", "2026-001"]);
    assert!(invoice.contains("note #1 2026-12-18 reply from"), "{invoice}");
    assert!(invoice.contains("event 2026-12-02 promise"), "{invoice}");
    assert!(!invoice.contains("note #2"), "{invoice}");

    // JSON keeps each list apart.
    let j = json(&env.ok(&["history", "C1", "--format", "json"]));
    assert_eq!(j["messages"].as_array().unwrap().len(), 2, "{j}");
    let notes = j["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "{j}");
    let r = notes.iter().find(|n| n["id"] == 1).unwrap();
    assert_eq!((r["outbox_id"].as_i64(), r["recorded_by"].as_str()), (Some(1), Some("anja")));
    assert_eq!(r["in_reply_to"].as_str(), Some(ours.as_str()));
    assert_eq!(r["message_id"], "<r1@bakkerijdevries.nl>");
    assert_eq!(j["events"][0]["recorded_by"], "anja");

    // The same reply again, a reply to another customer's message, an unknown customer: refused.
    let err = env.fails(&["note", "C1", "--file", s(&file)]);
    assert!(err.contains("already noted for C1 as note #1"), "{err}");
    let err = env.fails(&["note", "C2", "--file", s(&file)]);
    assert!(err.contains("answers message #1 of 2026-11-26 (standard-reminder-1) to customer C1"), "{err}");
    assert!(err.contains("not to C2"), "{err}");
    let err = env.fails(&["note", "C9", "--text", "hallo"]);
    assert!(err.contains("no customer `C9` in the store"), "{err}");
    let err = env.fails(&["note", "C1"]);
    assert!(err.contains("--file") || err.contains("--text"), "{err}");
}
