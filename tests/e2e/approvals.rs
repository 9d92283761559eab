//! Approvals end to end, with the shipped playbooks: a formal notice waits in `dunwell
//! approvals` and nothing of it reaches the file outbox until it is approved; a rejected one is
//! skipped (the playbook goes on) or postponed (it comes back, awaiting approval again, exactly
//! the days postponed later); and the same decisions through the daemon's admin API.
//!
//! The data: three business customers in Amersfoort, one invoice each, due Sun 2026-11-01.
//! The standard playbook from Fri 11-06 (J+5): reminder 11-06, 14-day letter Thu 11-26, call
//! Tue 12-01, last warning Wed 12-16 (14 days, through Wed 12-30), formal notice by letter Tue
//! 2027-01-05 (J+65, needs approval), the handoff to the agency Fri 2027-01-29 (J+89; needs
//! approval).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::daemon::{admin_addr, dechunk, start, token, ADMIN};
use crate::{json, outbox, s, Env};

/// The days the steps before the formal notice fall on: sending on exactly those days is what
/// sending every day would do (nothing else is due in between).
const BEFORE_NOTICE: [&str; 4] = ["2026-11-06", "2026-11-26", "2026-12-01", "2026-12-16"];
const NOTICE_DAY: &str = "2027-01-05";

fn installation(extra: &str) -> Env {
    let env = Env::with_config(extra);
    let data = env.path().join("export");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("customers.csv"),
        "customer_id,name,kind,language,email,street,postal_code,city,country\n\
         A1,Fietsenmaker Jansen,b2b,nl,info@jansen.example,Stationsweg 4,3811 AB,Amersfoort,NL\n\
         A2,Drukkerij Smit,b2b,nl,info@smit.example,Kerkweg 8,3811 AC,Amersfoort,NL\n\
         A3,Bouwbedrijf Visser,b2b,nl,info@visser.example,Dorpsstraat 2,3811 AD,Amersfoort,NL\n",
    )
    .unwrap();
    std::fs::write(
        data.join("invoices.csv"),
        "invoice_number,customer_id,issue_date,due_date,currency,total,open_amount\n\
         F-1,A1,2026-10-02,2026-11-01,EUR,500.00,\n\
         F-2,A2,2026-10-02,2026-11-01,EUR,600.00,\n\
         F-3,A3,2026-10-02,2026-11-01,EUR,700.00,\n",
    )
    .unwrap();
    env.ok(&["import", "csv", s(&data)]);
    env
}

fn of<'a>(messages: &'a [Value], customer: &str) -> Vec<&'a Value> {
    messages.iter().filter(|m| m["customer_id"] == customer).collect()
}

fn id(m: &Value) -> i64 {
    m["id"].as_i64().unwrap()
}

/// Every file the file outbox holds, as `DAY/NAME`.
fn files(env: &Env) -> Vec<String> {
    let dir = env.path().join("data/outbox");
    let mut out = Vec::new();
    for day in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(day.path()).unwrap().flatten() {
            out.push(format!("{}/{}", day.file_name().to_string_lossy(), f.file_name().to_string_lossy()));
        }
    }
    out.sort();
    out
}

/// Whether the file outbox holds anything of message `id` (a file or a case folder named
/// from its id).
fn delivered_file(env: &Env, id: i64) -> Option<String> {
    let prefix = format!("{id:06}-");
    files(env).into_iter().find(|f| f.split('/').nth(1).is_some_and(|n| n.starts_with(&prefix)))
}

/// Approves, as a person would, every message awaiting approval (`--at day`, by "test");
/// returns their ids, oldest first. For the tests of what comes after an approval.
pub fn approve_waiting(env: &Env, day: &str) -> Vec<i64> {
    let listed = json(&env.ok(&["approvals", "--format", "json"]));
    let ids: Vec<String> = listed.as_array().unwrap().iter().map(|m| id(m).to_string()).collect();
    if !ids.is_empty() {
        let mut args = vec!["approvals", "approve", "--at", day, "--by", "test"];
        args.extend(ids.iter().map(String::as_str));
        env.ok(&args);
    }
    ids.iter().map(|i| i.parse().unwrap()).collect()
}

/// Walks to the day of the formal notices and checks they wait: three messages awaiting
/// approval, nothing of them in the file outbox. Returns their ids for A1, A2, A3.
fn notices_waiting(env: &Env) -> [i64; 3] {
    for day in BEFORE_NOTICE {
        env.ok(&["send", "--at", day]);
    }
    let report = json(&env.ok(&["send", "--at", NOTICE_DAY, "--format", "json"]));
    assert_eq!(report["awaiting_approval"], 3, "{report:#}");
    assert_eq!(report["delivery"]["sent"], 0, "{report:#}");
    let messages = outbox(env);
    let mut ids = [0; 3];
    for (i, customer) in ["A1", "A2", "A3"].iter().enumerate() {
        let m = *of(&messages, customer).last().unwrap();
        assert_eq!(
            (m["day"].as_str(), m["template"].as_str(), m["channel"].as_str(), m["status"].as_str()),
            (Some(NOTICE_DAY), Some("standard-formal-notice"), Some("letter"), Some("awaiting-approval")),
            "{m:#}"
        );
        assert_eq!(m["invoices"][0]["step"], 6, "{m:#}");
        assert_eq!(delivered_file(env, id(m)), None, "nothing of a waiting message is written");
        ids[i] = id(m);
    }
    ids
}

#[test]
fn formal_notices_wait_for_approval_and_are_sent_skipped_or_postponed_as_decided() {
    let env = installation("");
    let [a, b, c] = notices_waiting(&env);
    let before = files(&env);

    // The list shows them, with the rendered letter in JSON.
    let listed = json(&env.ok(&["approvals", "--format", "json", "--at", NOTICE_DAY]));
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.iter().map(id).collect::<Vec<_>>(), [a, b, c], "{listed:?}");
    for (m, number) in listed.iter().zip(["F-1", "F-2", "F-3"]) {
        assert_eq!(m["invoices"][0]["invoice_number"], number);
        let body = m["body"].as_str().unwrap();
        assert!(body.contains(number) && body.contains("Bakkerij Van Dam"), "{body}");
        assert_eq!(m["currency"], "EUR");
    }
    let table = env.ok(&["approvals", "--at", "2027-01-08"]);
    assert!(table.contains("standard-formal-notice"), "{table}");
    assert!(table.contains("3 messages awaiting approval"), "{table}");
    // Sending again that day delivers none of them.
    env.ok(&["send", "--at", NOTICE_DAY]);
    assert_eq!(files(&env), before);

    // A reject must say what becomes of the step.
    let err = env.fails(&["approvals", "reject", &b.to_string()]);
    assert!(err.contains("--skip") && err.contains("--postpone"), "{err}");

    let out = env.ok(&["approvals", "approve", &a.to_string(), "--at", NOTICE_DAY, "--by", "anna"]);
    assert!(
        out.contains(&format!("message #{a} (standard-formal-notice, letter) approved by anna")),
        "{out}"
    );
    let out = env.ok(&[
        "approvals",
        "reject",
        &b.to_string(),
        "--postpone",
        "5",
        "--at",
        NOTICE_DAY,
        "--by",
        "anna",
    ]);
    assert!(out.contains("postponed 5 days, planned again from 2027-01-10"), "{out}");
    let out = env.ok(&["approvals", "reject", &c.to_string(), "--skip", "--at", NOTICE_DAY, "--by", "anna"]);
    assert!(out.contains("the step is skipped"), "{out}");
    // A decided message is no longer awaiting approval: a second decision is refused whole.
    let err = env.fails(&["approvals", "approve", &a.to_string(), &c.to_string(), "--by", "anna"]);
    assert!(err.contains(&format!("message #{a} is queued, not awaiting approval")), "{err}");
    assert_eq!(outbox(&env).iter().find(|m| id(m) == c).unwrap()["status"], "cancelled");
    assert!(env.ok(&["approvals"]).contains("nothing awaits approval"));

    // The approved one goes out with the next send; the other two do not.
    env.ok(&["send", "--at", "2027-01-06"]);
    let messages = outbox(&env);
    let sent = messages.iter().find(|m| id(m) == a).unwrap();
    assert_eq!(sent["status"], "sent", "{sent:#}");
    let file = delivered_file(&env, a).expect("the approved letter is in the file outbox");
    assert_eq!(file, format!("{NOTICE_DAY}/{a:06}-letter.pdf"));
    assert_eq!(sent["file"].as_str(), Some(file.as_str()));
    for (m, decision) in [(b, "postponed 5 days"), (c, "the step is skipped")] {
        let x = messages.iter().find(|x| id(x) == m).unwrap();
        assert_eq!(x["status"], "cancelled", "{x:#}");
        assert!(x["last_error"].as_str().unwrap().contains(decision), "{x:#}");
        assert_eq!(delivered_file(&env, m), None);
    }

    // Postponed by 5 days (paused through Sat 01-09): nothing for A2 on the days before, the
    // notice again on the first working day after, Mon 01-11, waiting for approval again, and
    // still nothing of it in the file outbox.
    crate::send_days(&env, "2027-01-07", "2027-01-10");
    let messages = outbox(&env);
    assert!(of(&messages, "A2").iter().all(|m| m["day"].as_str() <= Some(NOTICE_DAY)), "{messages:#?}");
    env.ok(&["send", "--at", "2027-01-11"]);
    let messages = outbox(&env);
    let again = *of(&messages, "A2").last().unwrap();
    assert_ne!(id(again), b);
    assert_eq!(
        (again["day"].as_str(), again["template"].as_str(), again["status"].as_str()),
        (Some("2027-01-11"), Some("standard-formal-notice"), Some("awaiting-approval")),
        "{again:#}"
    );
    assert_eq!(again["invoices"], json(r#"[{"invoice_number": "F-2", "step": 6}]"#));
    assert_eq!(delivered_file(&env, id(again)), None);
    let listed = json(&env.ok(&["approvals", "--format", "json"]));
    assert_eq!(listed.as_array().unwrap().iter().map(id).collect::<Vec<_>>(), [id(again)]);

    // Skipped: the notice never goes out and the playbook goes on with the handoff (step 7),
    // on its own day, awaiting approval like any handoff.
    let plan = json(&env.ok(&[
        "plan",
        "--at",
        "2027-01-11",
        "--days",
        "60",
        "--customer",
        "A3",
        "--format",
        "json",
    ]));
    let next: Vec<(&str, u64)> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["date"].as_str().unwrap(), x["step"].as_u64().unwrap()))
        .collect();
    assert_eq!(next, [("2027-01-29", 7)], "{plan:#}");
    env.ok(&["send", "--at", "2027-01-29"]);
    let messages = outbox(&env);
    let visser = of(&messages, "A3");
    let handoff = *visser.last().unwrap();
    assert_eq!(
        (handoff["day"].as_str(), handoff["channel"].as_str(), handoff["status"].as_str()),
        (Some("2027-01-29"), Some("agency"), Some("awaiting-approval")),
        "{handoff:#}"
    );
    assert_eq!(handoff["invoices"][0]["step"], 7);
    assert_eq!(visser.iter().filter(|m| m["template"] == "standard-formal-notice").count(), 1, "{visser:?}");
    assert!(visser.iter().all(|m| m["status"] != "sent" || m["template"] != "standard-formal-notice"));
    assert_eq!(delivered_file(&env, id(handoff)), None);
    // While the postponed notice waits for its decision, nothing later of F-2 goes ahead of
    // it: the handoff, six days later than planned like the notice (Fri 01-29 + 6 = Thu 02-04),
    // is held, with the reason.
    let plan = json(&env.ok(&[
        "plan",
        "--at",
        "2027-01-30",
        "--days",
        "30",
        "--customer",
        "A2",
        "--format",
        "json",
    ]));
    assert_eq!(
        (plan[0]["date"].as_str(), plan[0]["step"].as_u64()),
        (Some("2027-02-04"), Some(7)),
        "{plan:#}"
    );
    let report = json(&env.ok(&["send", "--at", "2027-02-04", "--format", "json"]));
    let held: Vec<&Value> =
        report["held"].as_array().unwrap().iter().filter(|h| h["customer_id"] == "A2").collect();
    assert_eq!(held.len(), 1, "{report:#}");
    assert_eq!(
        (held[0]["kind"].as_str(), held[0]["invoices"].clone()),
        (Some("awaiting-approval"), json(r#"["F-2"]"#))
    );
    let reason = held[0]["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("waits for the decision on message #{}", id(again))), "{reason}");
    assert_eq!(of(&outbox(&env), "A2").last().map(|m| id(m)), Some(id(again)));
}

/// A POST with a JSON body to the admin API; returns the status code and the body.
pub fn post(addr: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let code = raw.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let text = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (code, serde_json::from_str(text).unwrap_or(Value::String(text.to_string())))
}

pub fn get(addr: &str, path: &str, token: &str) -> Value {
    let (code, body) = crate::daemon::http(addr, "GET", path, Some(token));
    assert_eq!(code, 200, "{body}");
    json(&dechunk(&body))
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

#[test]
fn the_admin_api_lists_approves_and_rejects_behind_its_token() {
    // The daemon's clock starts at 09:00 in Amsterdam on the day of the notices (a letter's
    // window); its send never runs (June), its delivery every five minutes of fast clock. The
    // export was imported in real time, so the freshness limit reaches back far enough.
    let env = installation(&format!(
        "{ADMIN}[schedule]\nmax_source_age = '400d'\nsend = '0 12 1 6 *'\ndeliver = '*/5 * * * *'\n"
    ));
    let [a, b, c] = notices_waiting(&env);
    let mut d = start(&env, &["--clock-start", "2027-01-05T08:00:00Z", "--clock-speed", "60"], &[]);
    let addr = admin_addr(&env, &mut d);
    let t = token(&env);

    assert_eq!(crate::daemon::http(&addr, "GET", "/approvals", None).0, 401);
    let listed = get(&addr, "/approvals", &t);
    assert_eq!(listed.as_array().unwrap().iter().map(id).collect::<Vec<_>>(), [a, b, c], "{listed:#}");
    assert!(listed[0]["body"].as_str().unwrap().contains("F-1"), "{listed:#}");

    let approve = format!(r#"{{"ids": [{a}], "by": "anna"}}"#);
    assert_eq!(post(&addr, "/approvals/approve", None, &approve).0, 401);
    assert_eq!(post(&addr, "/approvals/approve", Some("not-the-token-at-all"), &approve).0, 401);
    // Mistakes are 400 with a sentence, and decide nothing.
    let (code, body) = post(&addr, "/approvals/approve", Some(&t), &format!(r#"{{"ids": [{a}]}}"#));
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("\"by\""), "{body}");
    let (code, body) =
        post(&addr, "/approvals/reject", Some(&t), &format!(r#"{{"ids": [{b}], "by": "anna"}}"#));
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("postpone_days"), "{body}");
    let (code, body) = post(&addr, "/approvals/approve", Some(&t), "not json");
    assert_eq!(code, 400, "{body}");
    let (code, body) =
        post(&addr, "/approvals/approve", Some(&t), &format!(r#"{{"ids": [{a}, 999], "by": "anna"}}"#));
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("no message #999"), "{body}");
    assert_eq!(get(&addr, "/approvals", &t).as_array().unwrap().len(), 3, "all or nothing");

    let (code, body) = post(&addr, "/approvals/approve", Some(&t), &approve);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["decided"][0]["status"], "queued", "{body}");
    assert_eq!(
        body["decided"][0]["text"],
        format!("message #{a} (standard-formal-notice, letter) approved by anna")
    );
    let (code, body) = post(
        &addr,
        "/approvals/reject",
        Some(&t),
        &format!(r#"{{"ids": [{b}], "postpone_days": 5, "by": "bert"}}"#),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["decided"][0]["decision"], "postponed:5", "{body}");
    assert_eq!(body["decided"][0]["paused_until"], "2027-01-09", "the daemon's day: {body}");
    let (code, body) = post(
        &addr,
        "/approvals/reject",
        Some(&t),
        &format!(r#"{{"ids": [{c}], "skip": true, "by": "bert"}}"#),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["decided"][0]["decision"], "skipped", "{body}");
    let (code, body) =
        post(&addr, "/approvals/approve", Some(&t), &format!(r#"{{"ids": [{c}], "by": "anna"}}"#));
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        body["error"],
        format!("message #{c} is cancelled, not awaiting approval; nothing was decided"),
        "{body}"
    );
    assert!(get(&addr, "/approvals", &t).as_array().unwrap().is_empty());

    // The daemon's next delivery sends the approved letter, and only that.
    let sent = wait_until(Duration::from_secs(60), || {
        outbox(&env).iter().any(|m| id(m) == a && m["status"] == "sent")
    });
    assert!(sent, "{:#?}\n{}", outbox(&env), d.log());
    assert!(delivered_file(&env, a).is_some());
    for m in [b, c] {
        assert_eq!(delivered_file(&env, m), None);
    }
    d.signal("TERM");
    assert!(d.wait(Duration::from_secs(45)).success(), "{}", d.log());
}
