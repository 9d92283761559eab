//! Working with the customer, as scenarios over simulated time: `dunwell send --at` runs day
//! by day over the real planner and the file outbox, while promises, disputes, payment plans,
//! pauses and call outcomes are recorded on the days a credit controller would record them,
//! and payments arrive by re-importing payments.csv. Each scenario asserts the exact messages
//! and the days they went out.
//!
//! The data (`tests/testdata/care`): one customer per scenario, every invoice due Monday
//! 2 November 2026, so the standard playbook would send: preventive 30 October, first reminder
//! 9 November, second reminder 27 November, call 2 December, last warning 17 December.

use serde_json::Value;

use crate::{json, send_days, testdata, Env};

fn installation() -> Env {
    let env = Env::new();
    env.ok(&["import", "csv", crate::s(&testdata("care"))]);
    env
}

/// Payments arrive: payments.csv holds every payment of the invoices it names.
fn pay(env: &Env, payments: &[(&str, &str, &str)]) {
    let dir = env.path().join(format!("payments-{}", payments.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from("invoice_number,date,amount,method\n");
    for (invoice, date, amount) in payments {
        csv.push_str(&format!("{invoice},{date},{amount},transfer\n"));
    }
    std::fs::write(dir.join("payments.csv"), csv).unwrap();
    env.ok(&["import", "csv", crate::s(&dir)]);
}

/// The customer's messages in the outbox, in the order written.
fn messages(env: &Env, customer: &str) -> Vec<Value> {
    let all = json(&env.ok(&["outbox", "--format", "json"]));
    let mut out: Vec<Value> =
        all.as_array().unwrap().iter().filter(|m| m["customer_id"] == customer).cloned().collect();
    out.sort_by_key(|m| m["id"].as_i64());
    out
}

/// (day, template) of each of the customer's messages.
fn sent(env: &Env, customer: &str) -> Vec<(String, String)> {
    messages(env, customer)
        .iter()
        .map(|m| (m["day"].as_str().unwrap().to_string(), m["template"].as_str().unwrap().to_string()))
        .collect()
}

fn expect(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(d, t)| (d.to_string(), t.to_string())).collect()
}

fn body_of(env: &Env, customer: &str, template: &str) -> String {
    let m = messages(env, customer);
    let found: Vec<&Value> = m.iter().filter(|m| m["template"] == template).collect();
    assert_eq!(found.len(), 1, "one {template} for {customer}: {m:#?}");
    found[0]["body"].as_str().unwrap().to_string()
}

/// The EPC payloads of the QR codes in the PDF an .eml carries (Python's email package takes
/// the PDF out, poppler renders it, zbarimg reads the codes: all installed by scripts/test).
fn qr_codes_in_eml(eml: &std::path::Path) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("letter.pdf");
    let script = "import sys, email\nfrom email import policy\nm = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=policy.default)\nparts = [p for p in m.walk() if p.get_content_type() == 'application/pdf']\nassert len(parts) == 1, len(parts)\nopen(sys.argv[2], 'wb').write(parts[0].get_content())\n";
    let out =
        std::process::Command::new("python3").arg("-c").arg(script).arg(eml).arg(&pdf).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let prefix = dir.path().join("page");
    let out = std::process::Command::new("pdftoppm")
        .args(["-r", "150", "-png"])
        .arg(&pdf)
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut codes = Vec::new();
    let mut pages: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    pages.sort();
    for page in pages.iter().filter(|p| p.extension().is_some_and(|e| e == "png")) {
        let out = std::process::Command::new("zbarimg")
            .args(["-q", "--raw", "-Sbinary"])
            .arg(page)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // Several codes come out joined: each EPC payload starts with its service tag.
        codes.extend(text.split("BCD\n").filter(|c| !c.trim().is_empty()).map(|c| format!("BCD\n{c}")));
    }
    codes
}

#[test]
fn a_kept_promise_holds_the_reminders_and_the_playbook_resumes_for_the_rest() {
    let env = installation();
    send_days(&env, "2026-10-29", "2026-11-10");
    let out = env.ok(&[
        "promise",
        "add",
        "--invoice",
        "P-1",
        "--date",
        "2026-12-01",
        "--amount",
        "400",
        "--note",
        "called: pays part",
        "--at",
        "2026-11-10",
        "--by",
        "anna",
    ]);
    assert!(out.contains("promise #1: 400.00 by 2026-12-01"), "{out}");
    // The second reminder (27 November) waits for the promise.
    let plan = env.ok(&["plan", "--at", "2026-11-11", "--days", "20", "--customer", "C1"]);
    assert!(plan.contains("on hold") && plan.contains("promise #1"), "{plan}");
    send_days(&env, "2026-11-11", "2026-11-29");
    pay(&env, &[("P-1", "2026-11-30", "400.00")]);
    send_days(&env, "2026-11-30", "2026-12-07");
    assert_eq!(
        sent(&env, "C1"),
        expect(&[
            ("2026-10-30", "standard-preventive"),
            ("2026-11-09", "standard-reminder-1"),
            // Kept on the 30th: the second reminder is caught up that day, for the rest.
            ("2026-11-30", "standard-reminder-2"),
            // The schedule moved 3 days with it: 2 December + 3 = Saturday the 5th → Monday.
            ("2026-12-07", "standard-call"),
        ])
    );
    let body = body_of(&env, "C1", "standard-reminder-2");
    assert!(body.contains("betaald € 400,00, openstaand € 600,00"), "{body}");
    let promises = json(&env.ok(&["promise", "list", "--format", "json"]));
    let p = &promises[0];
    assert_eq!((p["status"].as_str(), p["settled_on"].as_str()), (Some("kept"), Some("2026-11-30")), "{p}");
    assert_eq!((p["amount"].as_str(), p["recorded"]["by"].as_str()), (Some("400.00"), Some("anna")));
}

#[test]
fn a_broken_promise_is_told_the_playbook_resumes_and_a_second_one_makes_a_bad_payer() {
    let env = installation();
    send_days(&env, "2026-10-29", "2026-11-10");
    env.ok(&[
        "promise",
        "add",
        "--invoice",
        "P-2",
        "--invoice",
        "P-3",
        "--date",
        "2026-11-16",
        "--at",
        "2026-11-10",
    ]);
    send_days(&env, "2026-11-11", "2026-11-30");
    // Grace: 16 November + 3 working days = the 19th; broken on Friday the 20th.
    let body = body_of(&env, "C2", "broken-promise");
    assert!(body.contains("16 november 2026") && body.contains("1.000,00"), "{body}");
    assert!(body.contains("P-2") && body.contains("P-3"), "{body}");
    let promises = json(&env.ok(&["promise", "list", "--format", "json"]));
    assert_eq!(
        (promises[0]["status"].as_str(), promises[0]["settled_on"].as_str()),
        (Some("broken"), Some("2026-11-20"))
    );
    let seg = json(&env.ok(&["segments", "--at", "2026-11-30", "--customer", "C2", "--format", "json"]));
    assert_eq!(seg[0]["segment"], "standard", "{seg}");
    assert_eq!(seg[0]["indicators"]["broken_promises"], 1, "{seg}");

    env.ok(&[
        "promise",
        "add",
        "--invoice",
        "P-2",
        "--invoice",
        "P-3",
        "--date",
        "2026-12-04",
        "--at",
        "2026-11-30",
    ]);
    send_days(&env, "2026-12-01", "2026-12-14");
    assert_eq!(
        sent(&env, "C2"),
        expect(&[
            ("2026-10-30", "standard-preventive"),
            ("2026-11-09", "standard-reminder-1"),
            ("2026-11-20", "broken-promise"),
            ("2026-11-27", "standard-reminder-2"),
            // 4 December + 3 working days = the 9th; broken on the 10th.
            ("2026-12-10", "broken-promise"),
            // The call (2 December) waited for the promise: the working day after its message.
            ("2026-12-11", "standard-call"),
        ])
    );
    let seg = json(&env.ok(&["segments", "--at", "2026-12-10", "--customer", "C2", "--format", "json"]));
    assert_eq!(seg[0]["segment"], "bad-payer", "{seg}");
    assert!(seg[0]["reason"].as_str().unwrap().contains("2 broken payment promises"), "{seg}");
}

#[test]
fn a_partly_disputed_invoice_is_chased_for_the_rest_and_the_credit_takes_the_part_off() {
    let env = installation();
    send_days(&env, "2026-10-29", "2026-11-12");
    env.ok(&[
        "dispute",
        "add",
        "--invoice",
        "D-1",
        "--reason",
        "wrong-amount",
        "--amount",
        "300.00",
        "--deadline",
        "2026-12-31",
        "--note",
        "3 crates returned",
        "--at",
        "2026-11-12",
    ]);
    let plan = json(&env.ok(&[
        "plan",
        "--at",
        "2026-11-13",
        "--days",
        "20",
        "--customer",
        "C3",
        "--format",
        "json",
    ]));
    let r2 = &plan[0];
    assert_eq!((r2["step"].as_u64(), r2["date"].as_str()), (Some(3), Some("2026-11-27")), "{plan}");
    assert_eq!((r2["open_amount"].as_str(), r2["disputed"].as_str()), (Some("700.00"), Some("300.00")));
    // The costs the 14-day letter names are the BIK on the undisputed 700.00: 15% = 105.00.
    assert_eq!(r2["costs"].as_str(), Some("105.00"), "{r2}");
    send_days(&env, "2026-11-13", "2026-11-30");
    let body = body_of(&env, "C3", "standard-reminder-2");
    assert!(body.contains("700,00") && body.contains("300,00") && body.contains("105,00"), "{body}");
    env.ok(&["dispute", "resolve", "1", "--outcome", "credit", "--at", "2026-12-01"]);
    send_days(&env, "2026-12-01", "2026-12-17");
    assert_eq!(
        sent(&env, "C3"),
        expect(&[
            ("2026-10-30", "standard-preventive"),
            ("2026-11-09", "standard-reminder-1"),
            ("2026-11-27", "standard-reminder-2"),
            ("2026-12-02", "standard-call"),
            ("2026-12-17", "standard-last-warning"),
        ])
    );
    // Credited: the 300.00 left the claim, so the last warning asks for 700.00 and no longer
    // speaks of a dispute.
    let last = messages(&env, "C3").pop().unwrap();
    assert!(last["body"].as_str().unwrap().contains("700,00"), "{last}");
    assert!(!last["body"].as_str().unwrap().contains("300,00"), "{last}");
}

#[test]
fn a_dispute_past_its_deadline_becomes_a_task_and_rejected_dunning_resumes() {
    let env = installation();
    send_days(&env, "2026-10-29", "2026-11-12");
    env.ok(&[
        "dispute",
        "add",
        "--invoice",
        "D-2",
        "--reason",
        "not-delivered",
        "--deadline",
        "2026-11-30",
        "--at",
        "2026-11-12",
    ]);
    let plan = env.ok(&["plan", "--at", "2026-11-13", "--days", "10", "--customer", "C4"]);
    assert!(plan.contains("disputed in full"), "{plan}");
    send_days(&env, "2026-11-13", "2026-12-02");
    let tasks = json(&env.ok(&["tasks", "--format", "json"]));
    let task: Vec<&Value> = tasks.as_array().unwrap().iter().filter(|t| t["customer_id"] == "C4").collect();
    assert_eq!(task.len(), 1, "{tasks:#}");
    assert_eq!(
        (task[0]["template"].as_str(), task[0]["day"].as_str()),
        (Some("dispute-overdue"), Some("2026-12-01"))
    );
    env.ok(&["dispute", "resolve", "1", "--outcome", "rejected", "--at", "2026-12-03"]);
    send_days(&env, "2026-12-03", "2026-12-08");
    assert_eq!(
        sent(&env, "C4"),
        expect(&[
            ("2026-10-30", "standard-preventive"),
            ("2026-11-09", "standard-reminder-1"),
            ("2026-12-01", "dispute-overdue"),
            // Resumed where it stopped, one step at a time: the second reminder (27 November)
            // on the 3rd, the schedule 6 days later, so the call on the 8th.
            ("2026-12-03", "standard-reminder-2"),
            ("2026-12-08", "standard-call"),
        ])
    );
}

#[test]
fn a_kept_payment_plan_replaces_the_playbook_with_a_reminder_before_each_instalment() {
    let env = installation();
    send_days(&env, "2026-10-29", "2026-11-09");
    let out = env.ok(&[
        "payment-plan",
        "add",
        "--invoice",
        "L-1",
        "--instalment",
        "2026-11-30:300.00",
        "--instalment",
        "2026-12-30:300.00",
        "--instalment",
        "2027-01-29:300.00",
        "--at",
        "2026-11-10",
    ]);
    assert!(out.contains("confirmation by email"), "{out}");
    send_days(&env, "2026-11-10", "2026-11-29");
    pay(&env, &[("L-1", "2026-11-30", "300.00")]);
    send_days(&env, "2026-11-30", "2026-12-28");
    pay(&env, &[("L-1", "2026-11-30", "300.00"), ("L-1", "2026-12-29", "300.00")]);
    send_days(&env, "2026-12-29", "2027-01-27");
    pay(
        &env,
        &[("L-1", "2026-11-30", "300.00"), ("L-1", "2026-12-29", "300.00"), ("L-1", "2027-01-28", "300.00")],
    );
    send_days(&env, "2027-01-28", "2027-02-05");
    assert_eq!(
        sent(&env, "C5"),
        expect(&[
            ("2026-10-30", "standard-preventive"),
            ("2026-11-09", "standard-reminder-1"),
            ("2026-11-10", "payment-plan-confirmation"),
            ("2026-11-27", "instalment-reminder"),
            // 30 December - 3 = Sunday the 27th: the next working day.
            ("2026-12-28", "instalment-reminder"),
            ("2027-01-26", "instalment-reminder"),
        ])
    );
    let confirmation = body_of(&env, "C5", "payment-plan-confirmation");
    // The e-mail carries the letter, with a QR code per instalment that pays that instalment.
    let m = messages(&env, "C5").into_iter().find(|m| m["template"] == "payment-plan-confirmation").unwrap();
    let codes = qr_codes_in_eml(&env.path().join("data/outbox").join(m["file"].as_str().unwrap()));
    assert_eq!(codes.len(), 3, "{codes:?}");
    assert!(codes.iter().all(|c| c.contains("EUR300.00") && c.contains("NL91ABNA0417164300")), "{codes:?}");
    for date in ["30 november 2026", "30 december 2026", "29 januari 2027"] {
        assert!(confirmation.contains(date), "{date}: {confirmation}");
    }
    let plans = json(&env.ok(&["payment-plan", "list", "--format", "json"]));
    assert_eq!(
        (plans[0]["status"].as_str(), plans[0]["settled_on"].as_str()),
        (Some("kept"), Some("2027-01-28"))
    );
}

#[test]
fn a_plan_missed_on_its_second_instalment_ends_tells_the_customer_and_the_playbook_resumes() {
    let env = installation();
    send_days(&env, "2026-10-29", "2026-11-09");
    env.ok(&[
        "payment-plan",
        "add",
        "--invoice",
        "L-2",
        "--instalment",
        "2026-11-30:300.00",
        "--instalment",
        "2026-12-15:300.00",
        "--instalment",
        "2027-01-15:300.00",
        "--at",
        "2026-11-10",
    ]);
    send_days(&env, "2026-11-10", "2026-11-29");
    pay(&env, &[("L-2", "2026-11-30", "300.00")]);
    send_days(&env, "2026-11-30", "2026-12-28");
    assert_eq!(
        sent(&env, "C6"),
        expect(&[
            ("2026-10-30", "standard-preventive"),
            ("2026-11-09", "standard-reminder-1"),
            ("2026-11-10", "payment-plan-confirmation"),
            ("2026-11-27", "instalment-reminder"),
            ("2026-12-14", "instalment-reminder"),
            // 15 December + 3 working days = the 18th; the plan ends Monday the 21st.
            ("2026-12-21", "payment-plan-broken"),
            // The playbook resumes the next working day, one step at a time, for the 600.00
            // left: the second reminder, then the call 25 days after its own day.
            ("2026-12-22", "standard-reminder-2"),
            ("2026-12-28", "standard-call"),
        ])
    );
    assert!(body_of(&env, "C6", "standard-reminder-2").contains("600,00"));
    let plans = json(&env.ok(&["payment-plan", "list", "--format", "json"]));
    assert_eq!(
        (plans[0]["status"].as_str(), plans[0]["missed"].as_u64()),
        (Some("broken"), Some(2)),
        "{plans}"
    );
}

#[test]
fn a_pause_and_a_moratorium_lifted_after_several_steps_catch_up_without_a_burst() {
    let env = installation();
    send_days(&env, "2026-10-29", "2026-11-02");
    env.ok(&["pause", "add", "--customer", "C7", "--reason", "director in hospital", "--at", "2026-11-03"]);
    send_days(&env, "2026-11-03", "2026-12-03");
    let plan = env.ok(&["plan", "--at", "2026-12-03", "--customer", "C7", "--days", "10"]);
    assert!(plan.contains("until it is lifted"), "{plan}");
    env.ok(&["pause", "lift", "1", "--at", "2026-12-04"]);
    send_days(&env, "2026-12-04", "2026-12-17");
    env.ok(&[
        "pause",
        "add",
        "--all",
        "--until",
        "2026-12-31",
        "--reason",
        "holiday moratorium",
        "--at",
        "2026-12-18",
    ]);
    send_days(&env, "2026-12-18", "2027-01-08");
    assert_eq!(
        sent(&env, "C7"),
        expect(&[
            ("2026-10-30", "standard-preventive"),
            // Three steps fell due during the pause; one goes the day it is lifted.
            ("2026-12-04", "standard-reminder-1"),
            // The second reminder moved 25 days with it (22 December), into the moratorium:
            // the first working day after it.
            ("2027-01-04", "standard-reminder-2"),
        ])
    );
    // Nothing at all went out during the moratorium.
    let all = json(&env.ok(&["outbox", "--format", "json"]));
    let during: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| ("2026-12-18".."2027-01-01").contains(&m["day"].as_str().unwrap()))
        .collect();
    assert!(during.is_empty(), "{during:#?}");
}

#[test]
fn a_call_outcome_records_a_promise_that_holds_the_reminders() {
    let env = installation();
    send_days(&env, "2026-10-29", "2026-12-02");
    let tasks = json(&env.ok(&["tasks", "--format", "json"]));
    let task =
        tasks.as_array().unwrap().iter().find(|t| t["customer_id"] == "C9").expect("a call for C9").clone();
    assert_eq!(task["day"], "2026-12-02");
    let id = task["id"].as_i64().unwrap().to_string();
    let out = env.ok(&[
        "tasks",
        "done",
        &id,
        "--outcome",
        "promise",
        "--date",
        "2026-12-21",
        "--amount",
        "800",
        "--note",
        "pays after the holidays start",
        "--at",
        "2026-12-02",
        "--by",
        "piet",
    ]);
    assert!(out.contains("promise #1 recorded: 800.00 by 2026-12-21"), "{out}");
    let promises = json(&env.ok(&["promise", "list", "--format", "json"]));
    let p = &promises[0];
    assert_eq!(p["invoices"], serde_json::json!(["K-1"]));
    assert_eq!(p["recorded"]["by"], "piet");
    assert!(p["note"].as_str().unwrap().contains("pays after the holidays start"), "{p}");
    // The last warning (17 December) waits for the promise; it is paid on the 22nd.
    send_days(&env, "2026-12-03", "2026-12-21");
    pay(&env, &[("K-1", "2026-12-22", "800.00")]);
    send_days(&env, "2026-12-22", "2027-01-08");
    assert_eq!(
        sent(&env, "C9"),
        expect(&[
            ("2026-10-30", "standard-preventive"),
            ("2026-11-09", "standard-reminder-1"),
            ("2026-11-27", "standard-reminder-2"),
            ("2026-12-02", "standard-call"),
        ])
    );
    let promises = json(&env.ok(&["promise", "list", "--format", "json"]));
    assert_eq!(promises[0]["status"], "kept");
}

#[test]
fn the_admin_api_records_and_lists_what_the_cli_does_behind_its_token() {
    use crate::approvals::{get, post};
    use crate::daemon::{admin_addr, start, token, ADMIN};
    // The daemon's send never runs (1 June); what it serves is the records.
    let env = Env::with_config(&format!(
        "{ADMIN}[schedule]\nmax_source_age = '400d'\nsend = '0 12 1 6 *'\ndeliver = '0 12 1 6 *'\n"
    ));
    env.ok(&["import", "csv", crate::s(&testdata("care"))]);
    send_days(&env, "2026-10-29", "2026-12-02");
    let call = json(&env.ok(&["tasks", "--format", "json"]))
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["customer_id"] == "C9")
        .map(|t| t["id"].as_i64().unwrap())
        .expect("a call task for C9");
    let mut d = start(&env, &[], &[]);
    let addr = admin_addr(&env, &mut d);
    let t = token(&env);

    let promise = r#"{"invoices": ["P-1"], "date": "2026-12-20", "amount": "250", "note": "by phone", "by": "anna", "at": "2026-12-03", "confirm": true}"#;
    assert_eq!(post(&addr, "/promises", None, promise).0, 401);
    let (code, body) = post(&addr, "/promises", Some(&t), promise);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["recorded"]["promise"]["amount"], "250.00", "{body}");
    assert_eq!(body["recorded"]["confirmation"]["channel"], "email", "{body}");
    // What the store refuses is a 400 with its sentence; nothing is recorded.
    let (code, body) =
        post(&addr, "/promises", Some(&t), r#"{"invoices": ["NOPE"], "date": "2026-12-20", "by": "anna"}"#);
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("no invoice `NOPE`"), "{body}");
    let (code, body) = post(&addr, "/promises", Some(&t), r#"{"invoices": ["P-1"], "date": "2026-12-20"}"#);
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("\"by\""), "{body}");
    let listed = get(&addr, "/promises", &t);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["recorded"]["by"], "anna");

    let (code, body) = post(
        &addr,
        "/disputes",
        Some(&t),
        r#"{"invoice": "D-1", "reason": "quality", "amount": "300.00", "by": "anna", "at": "2026-12-03"}"#,
    );
    assert_eq!(code, 200, "{body}");
    let (code, body) =
        post(&addr, "/disputes", Some(&t), r#"{"invoice": "D-2", "reason": "weather", "by": "anna"}"#);
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not a dispute reason"), "{body}");
    let (code, body) = post(
        &addr,
        "/disputes/1/resolve",
        Some(&t),
        r#"{"outcome": "write-off", "by": "anna", "at": "2026-12-04"}"#,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["recorded"]["deducted"], "300.00", "{body}");

    let plan = r#"{"invoices": ["L-1"], "instalments": [{"date": "2026-12-15", "amount": "450.00"}, {"date": "2027-01-15", "amount": "450.00"}], "by": "anna", "at": "2026-12-03"}"#;
    let (code, body) = post(&addr, "/payment-plans", Some(&t), plan);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["recorded"]["confirmation"]["channel"], "email", "{body}");
    let (code, body) = post(
        &addr,
        "/payment-plans",
        Some(&t),
        r#"{"invoices": ["L-2"], "instalments": [{"date": "2026-12-15", "amount": "100.00"}], "by": "anna", "at": "2026-12-03"}"#,
    );
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("add up to 100.00 EUR"), "{body}");

    let (code, body) = post(
        &addr,
        "/pauses",
        Some(&t),
        r#"{"customer": "C7", "until": "2026-12-31", "reason": "moving offices", "by": "anna", "at": "2026-12-03"}"#,
    );
    assert_eq!(code, 200, "{body}");
    let (code, body) = post(&addr, "/pauses/1/lift", Some(&t), r#"{"by": "piet", "at": "2026-12-05"}"#);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["recorded"]["lifted"]["by"], "piet", "{body}");

    let (code, body) = post(
        &addr,
        &format!("/tasks/{call}/done"),
        Some(&t),
        r#"{"outcome": "payment-plan", "instalments": [{"date": "2026-12-20", "amount": "400.00"}, {"date": "2027-01-20", "amount": "400.00"}], "note": "two parts", "by": "piet", "at": "2026-12-03"}"#,
    );
    assert_eq!(code, 200, "{body}");
    assert!(body["recorded"].as_str().unwrap().contains("payment plan #2 recorded"), "{body}");

    let (code, body) = post(
        &addr,
        "/notes",
        Some(&t),
        r#"{"customer": "C1", "text": "Rang: betaalt de rest in januari.", "by": "anna"}"#,
    );
    assert_eq!(code, 200, "{body}");
    let (code, body) = post(&addr, "/notes", Some(&t), r#"{"customer": "C404", "text": "x", "by": "anna"}"#);
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("no customer `C404`"), "{body}");
    let history = get(&addr, "/history/C1", &t);
    assert!(
        history["notes"][0]["body"].as_str().unwrap().contains("betaalt de rest in januari"),
        "{history:#}"
    );
    let events: Vec<&str> =
        history["events"].as_array().unwrap().iter().map(|e| e["text"].as_str().unwrap()).collect();
    assert!(events.iter().any(|e| e.contains("promise #1: 250.00 EUR by 2026-12-20")), "{history:#}");
    // The CLI sees what the API recorded.
    let plans = json(&env.ok(&["payment-plan", "list", "--format", "json"]));
    assert_eq!(plans.as_array().unwrap().len(), 2, "{plans}");
    assert_eq!(plans[1]["recorded"]["by"], "piet");
    assert!(plans[1]["note"].as_str().unwrap().contains("two parts"));
    drop(d);
}

#[test]
fn an_approval_pending_across_days_is_written_again_with_the_term_of_the_day_it_is_given() {
    let env = installation();
    send_days(&env, "2026-10-29", "2027-01-11");
    // C1's formal notice (J+65: Wednesday 6 January, after the last warning's 14 days from 17
    // December) waits for a person; nothing of it went out, and no later step of P-1 is written
    // while it waits.
    let waiting: Vec<Value> = json(&env.ok(&["approvals", "--format", "json"]))
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["customer_id"] == "C1")
        .cloned()
        .collect();
    assert_eq!(waiting.len(), 1, "{waiting:#?}");
    let notice = &waiting[0];
    assert_eq!(
        (notice["day"].as_str(), notice["template"].as_str()),
        (Some("2027-01-06"), Some("standard-formal-notice"))
    );
    // Posted on the 6th: received Friday the 8th, 14 days run to Friday 22 January.
    assert!(notice["body"].as_str().unwrap().contains("uiterlijk op 22 januari 2027"), "{notice}");
    assert_eq!(notice["file"], Value::Null);
    let id = notice["id"].as_i64().unwrap().to_string();
    let out = env.ok(&["approvals", "approve", &id, "--at", "2027-01-12", "--by", "anna"]);
    assert!(out.contains("writes it again"), "{out}");
    send_days(&env, "2027-01-12", "2027-01-12");
    let c1 = messages(&env, "C1");
    let (old, new) = (&c1[c1.len() - 2], &c1[c1.len() - 1]);
    assert_eq!(
        (old["status"].as_str(), old["day"].as_str()),
        (Some("cancelled"), Some("2027-01-06")),
        "{old}"
    );
    assert_eq!(
        (new["status"].as_str(), new["day"].as_str(), new["template"].as_str()),
        (Some("sent"), Some("2027-01-12"), Some("standard-formal-notice")),
        "{new}"
    );
    // Written on the day of the approval, it gives its full term from then: posted Tuesday the
    // 12th, received the 14th, 14 days to the 28th.
    assert!(new["body"].as_str().unwrap().contains("uiterlijk op 28 januari 2027"), "{new}");
    assert!(new["file"].as_str().is_some_and(|f| f.ends_with(".pdf")), "{new}");
    let history = env.ok(&["history", "P-1"]);
    assert!(history.contains("approved by anna on 2027-01-12"), "{history}");
}
