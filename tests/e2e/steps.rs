//! What a playbook step can ask for beyond its message, end to end through `dunwell send`: a
//! reminder fee (charged once, owed from then on, refused where the law forbids it), a fallback
//! channel for a message that cannot be delivered, the message attached as a PDF letter, and
//! the handoff to a collection agency (a case folder, optionally POSTed; the invoices leave the
//! playbook).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::{copy_dir, fake_http, json, outbox, replace, repo, s, send_days, testdata, Env};

const BUSINESS: &str = "[business]\nname = 'Bakkerij Van Dam B.V.'\naddress = 'Kerkstraat 12, 3811 CV Amersfoort'\niban = 'NL91ABNA0417164300'\ncontact_name = 'Anja van Dam'\ncontact_phone = '+31 33 123 45 67'\nkvk = '12345678'\ncompany_number = '0123.456.749'\n";

/// An installation with its own copy of the shipped playbooks (edited by `edit`), the
/// business, `extra` configuration, and the `steps` test data imported.
fn installation(extra: &str, edit: impl FnOnce(&Path)) -> Env {
    let env = configured(extra, edit);
    env.ok(&["import", "csv", s(&testdata("steps"))]);
    env
}

/// The same without data (for `dunwell check`, which refuses broken playbooks anywhere).
fn configured(extra: &str, edit: impl FnOnce(&Path)) -> Env {
    let env = Env::new();
    let playbooks = env.path().join("playbooks");
    copy_dir(&repo().join("playbooks"), &playbooks);
    edit(&playbooks);
    std::fs::write(
        env.path().join("dunwell.toml"),
        // `extra` may bring its own [business] table (a Belgian one).
        format!(
            "data_dir = \"data\"\nplaybooks_dir = \"playbooks\"\n{extra}{}",
            if extra.contains("[business]") { "" } else { BUSINESS }
        ),
    )
    .unwrap();
    env
}

/// The standard playbook with every option of this file: step 2 falls back to a letter and
/// attaches the letter, step 5 charges businesses a fee (consumers none) and also falls back to
/// a letter. The formal notice and the handoff still need approval, as shipped.
fn with_options(playbooks: &Path) {
    let p = playbooks.join("standard.toml");
    replace(
        &p,
        "template = \"standard-reminder-1\"\n",
        "template = \"standard-reminder-1\"\nfallback_channel = \"letter\"\nattach = [\"letter\"]\n",
    );
    replace(
        &p,
        "template = \"standard-last-warning\"\n",
        "template = \"standard-last-warning\"\nfee = \"7.50\"\nconsumer = { fee = \"0\" }\nfallback_channel = \"letter\"\n",
    );
}

fn pdftotext(pdf: &Path) -> String {
    let out = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (scripts/test installs poppler-utils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_e_mail_without_an_address_falls_back_to_a_letter_and_the_mail_carries_the_letter() {
    let env = installation("", with_options);
    // Step 2 (J+5) of both invoices is caught up on 11-26.
    let report = json(&env.ok(&["send", "--at", "2026-11-26", "--format", "json"]));
    assert_eq!(report["delivery"]["dead"], 1, "{report}");
    assert_eq!(report["delivery"]["fallbacks"], 1, "{report}");
    let messages = outbox(&env);
    let dead = messages.iter().find(|m| m["customer_id"] == "K1" && m["channel"] == "email").unwrap();
    assert_eq!(dead["status"], "dead");
    assert!(dead["last_error"].as_str().unwrap().contains("no e-mail address"), "{dead}");
    let letter = messages.iter().find(|m| m["customer_id"] == "K1" && m["channel"] == "letter").unwrap();
    assert_eq!(letter["status"], "sent", "{letter}");
    assert_eq!(letter["replaces"], dead["id"]);
    let pdf = env.path().join("data/outbox").join(letter["file"].as_str().unwrap());
    let text = pdftotext(&pdf);
    assert!(text.contains("Fietsenmaker Jansen") && text.contains("Stationsweg 4"), "{text}");
    assert!(text.contains("F-1"), "{text}");

    // K2 has an address: the e-mail goes, with the letter attached as a PDF.
    let mail = messages.iter().find(|m| m["customer_id"] == "K2").unwrap();
    assert_eq!(mail["status"], "sent");
    let eml =
        std::fs::read_to_string(env.path().join("data/outbox").join(mail["file"].as_str().unwrap())).unwrap();
    assert!(eml.contains("application/pdf"), "no PDF attached:\n{eml}");
    assert!(eml.contains("multipart/mixed"), "{eml}");

    // Run again: the fallback is not queued twice.
    env.ok(&["send", "--at", "2026-11-26"]);
    assert_eq!(outbox(&env).len(), messages.len());
}

#[test]
fn a_fee_is_charged_once_shown_and_owed_from_then_on_but_never_to_a_dutch_consumer() {
    let env = installation("", with_options);
    // After the catch-up on 11-26 the schedule runs 21 days late (anchor 11-21): step 5 (J+45)
    // on Tue 2027-01-05 (14 days, through Tue 01-19), the formal notice (J+65) on Mon 01-25.
    send_days(&env, "2026-11-26", "2027-01-05");
    let plan = json(&env.ok(&["plan", "--at", "2027-01-06", "--days", "20", "--format", "json"]));
    let notice = plan
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["invoice_number"] == "F-1" && a["step"] == 6)
        .unwrap_or_else(|| panic!("{plan}"));
    assert!(notice["reason"].as_str().unwrap().contains("earlier reminder fees 7.50 EUR"), "{notice}");
    let messages = outbox(&env);
    let warning = messages
        .iter()
        .find(|m| m["customer_id"] == "K1" && m["template"] == "standard-last-warning")
        .unwrap_or_else(|| panic!("{messages:?}"));
    // The K1 e-mail died (no address) and its letter fallback carries the fee.
    let fallback = messages.iter().find(|m| m["replaces"] == warning["id"]).unwrap();
    assert!(fallback["body"].as_str().unwrap().contains("7,50"), "{fallback}");
    let consumer = messages
        .iter()
        .find(|m| m["customer_id"] == "K2" && m["template"] == "standard-last-warning")
        .unwrap();
    assert!(!consumer["body"].as_str().unwrap().contains("7,50"), "{consumer}");

    // The formal notice states the earlier fee in what is owed: 500.00 + interest + 40.00
    // costs (BIK minimum 15 % of 500 = 75.00) + 7.50.
    send_days(&env, "2027-01-06", "2027-01-25");
    let notice = outbox(&env)
        .into_iter()
        .find(|m| m["customer_id"] == "K1" && m["template"] == "standard-formal-notice")
        .unwrap();
    let total: rust_decimal::Decimal = notice["total"].as_str().unwrap().parse().unwrap();
    assert!(total > "582.50".parse().unwrap(), "{notice}");
    let interest_free: rust_decimal::Decimal = "582.50".parse().unwrap();
    assert!(total - interest_free < "20".parse().unwrap(), "interest on 500 for ~2 months: {notice}");
}

#[test]
fn check_enforces_the_fee_rules() {
    // NL: no fee to consumers, whatever the step.
    let env = configured("", |p| {
        replace(
            &p.join("standard.toml"),
            "template = \"standard-last-warning\"\n",
            "template = \"standard-last-warning\"\nfee = \"5.00\"\n",
        )
    });
    let err = env.fails(&["check"]);
    assert!(err.contains("NL consumers: no reminder fee may be charged"), "{err}");
    assert!(err.contains("standard.toml:"), "{err}");

    // BE: never on the free first reminder; at most 7.50 (plus a letter's postage).
    let be = "jurisdiction = \"be\"\nletter_postage = \"2.43\"\n[business]\nname = 'Bakkerij Peeters BV'\niban = 'BE68539007547034'\ncompany_number = '0123.456.749'\n";
    let env = configured(be, |p| {
        let f = p.join("standard.toml");
        replace(
            &f,
            "template = \"standard-reminder-1\"\n",
            "template = \"standard-reminder-1\"\nfee = \"5.00\"\n",
        );
        replace(
            &f,
            "template = \"standard-last-warning\"\n",
            "template = \"standard-last-warning\"\nfee = \"9.00\"\n",
        );
    });
    let err = env.fails(&["check"]);
    assert!(err.contains("the first reminder after the due date must be free"), "{err}");
    assert!(err.contains("charges consumers a fee of 9.00"), "{err}");
    assert!(err.contains("at most 7.50"), "{err}");
    // 9.00 on the letter step is within 7.50 + 2.43 postage.
    let env = configured(be, |p| {
        replace(
            &p.join("standard.toml"),
            "template = \"standard-formal-notice\"\n",
            "template = \"standard-formal-notice\"\nfee = \"9.00\"\n",
        )
    });
    env.ok(&["check"]);

    // Options that make no sense are refused with the line.
    let env = configured("", |p| {
        let f = p.join("standard.toml");
        replace(
            &f,
            "template = \"standard-call\"\n",
            "template = \"standard-call\"\nattach = [\"letter\"]\n",
        );
        replace(
            &f,
            "template = \"standard-reminder-2\"\n",
            "template = \"standard-reminder-2\"\nfallback_channel = \"email\"\nattach = [\"invoice\"]\n",
        );
    });
    let err = env.fails(&["check"]);
    assert!(err.contains("attach = [\"letter\"] is for e-mail steps"), "{err}");
    assert!(err.contains("is the step's own channel"), "{err}");
    assert!(err.contains("`invoice` cannot be attached"), "{err}");
}

/// An HTTP server on 127.0.0.1 that answers each POST with 201 and an id, keeping each
/// request's head (request line and headers) and body.
fn agency_server() -> (String, Arc<Mutex<Vec<(String, Vec<u8>)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    let addr = fake_http::serve(move |r, stream| {
        keep.lock().unwrap().push((format!("{}\n{}", r.line, r.headers.join("\n")), r.body.clone()));
        fake_http::respond(stream, "201 Created", &[], "{\"id\":\"AG-1\"}");
    });
    (format!("http://{addr}/cases"), seen)
}

#[test]
fn the_handoff_writes_a_case_file_posts_it_and_the_invoices_leave_the_playbook() {
    let (url, seen) = agency_server();
    let token = "agency-token-0123456789";
    let env = installation(
        &format!("[channels.agency]\nurl = \"{url}\"\ntoken_file = \"agency-token\"\n"),
        with_options,
    );
    std::fs::write(env.path().join("agency-token"), format!("{token}\n")).unwrap();
    // The formal notice (J+65 from the anchor 11-21) falls on Mon 2027-01-25, after the last
    // warning's term (Tue 01-05 through Tue 01-19); the handoff (J+89) on Thu 2027-02-18, after
    // the formal notice's term (posted 01-25, received 01-27, through Wed 02-10). The formal
    // notices and the handoffs wait for approval: a person approves each on its day, the next
    // run delivers it.
    let mut approved = Vec::new();
    let mut day = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
    while day <= chrono::NaiveDate::from_ymd_opt(2027, 2, 19).unwrap() {
        env.ok(&["send", "--at", &day.to_string()]);
        approved.extend(crate::approvals::approve_waiting(&env, &day.to_string()));
        day = day.succ_opt().unwrap();
    }
    let messages = outbox(&env);
    let waited: Vec<(&str, &str)> = approved
        .iter()
        .map(|id| messages.iter().find(|m| m["id"] == *id).unwrap())
        .map(|m| (m["template"].as_str().unwrap(), m["day"].as_str().unwrap()))
        .collect();
    assert_eq!(
        waited,
        [
            ("standard-formal-notice", "2027-01-25"),
            ("standard-formal-notice", "2027-01-25"),
            ("standard-legal-action", "2027-02-18"),
            ("standard-legal-action", "2027-02-18")
        ],
        "K1's and K2's"
    );
    let handoff = messages
        .iter()
        .find(|m| m["customer_id"] == "K1" && m["channel"] == "agency")
        .unwrap_or_else(|| panic!("no handoff: {messages:?}"));
    assert_eq!(handoff["status"], "sent", "{handoff}");
    assert_eq!(handoff["provider_id"], "AG-1");
    let folder: PathBuf = env.path().join("data/outbox").join(handoff["file"].as_str().unwrap());
    let case = json(&std::fs::read_to_string(folder.join("case.json")).unwrap());
    assert_eq!(case["debtor"]["name"], "Fietsenmaker Jansen");
    assert_eq!(case["debtor"]["address"]["street"], "Stationsweg 4");
    assert_eq!(case["creditor"]["name"], "Bakkerij Van Dam B.V.");
    assert_eq!(case["contact"]["name"], "Anja van Dam");
    assert_eq!(case["invoices"][0]["number"], "F-1");
    assert!(case["total_due"].as_str().is_some(), "{case}");
    // Every message sent before: the letters (fallbacks of the e-mails, the formal notice)
    // with their text, and their PDFs beside the JSON.
    let sent = case["messages"].as_array().unwrap();
    assert!(sent.len() >= 3, "{case}");
    assert!(sent.iter().all(|m| m["text"].as_str().is_some_and(|t| !t.is_empty())));
    let documents = case["documents"].as_array().unwrap();
    assert!(!documents.is_empty(), "{case}");
    for d in documents {
        let bytes = std::fs::read(folder.join(d.as_str().unwrap())).unwrap();
        assert!(bytes.starts_with(b"%PDF"), "{d}");
    }

    // The agency got the same case, with the token and an idempotency key, the PDFs inline.
    let requests = seen.lock().unwrap().clone();
    let (head, body) = requests
        .iter()
        .find(|(_, b)| String::from_utf8_lossy(b).contains("Fietsenmaker Jansen"))
        .expect("the case was POSTed");
    assert!(head.starts_with("POST /cases "), "{head}");
    assert!(head.to_ascii_lowercase().contains(&format!("authorization: bearer {token}")), "{head}");
    assert!(head.to_ascii_lowercase().contains("idempotency-key: dunwell-"), "{head}");
    let posted = json(&String::from_utf8_lossy(body));
    assert_eq!(posted["case_id"], case["case_id"]);
    assert_eq!(posted["documents"][0]["content_type"], "application/pdf");

    // The invoice left the playbook: no further step, shown as handed over.
    let plan = env.ok(&["plan", "--at", "2027-02-19", "--days", "60"]);
    assert!(plan.contains("handed over to the collection agency"), "{plan}");
    assert!(plan.contains("F-1"), "{plan}");
    let actions = json(&env.ok(&["plan", "--at", "2027-02-19", "--days", "60", "--format", "json"]));
    assert!(actions.as_array().unwrap().iter().all(|a| a["invoice_number"] != "F-1"), "{actions}");
}

/// An SMS gateway on 127.0.0.1 (the `http` provider): the first request is answered only
/// after the client gave up (the provider may or may not have sent it), the others at once.
fn slow_first_gateway() -> (String, Arc<Mutex<Vec<String>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let keep = bodies.clone();
    let mut n = 0;
    let addr = fake_http::serve(move |r, stream| {
        keep.lock().unwrap().push(String::from_utf8_lossy(&r.body).into_owned());
        if n == 0 {
            std::thread::sleep(std::time::Duration::from_secs(4));
        }
        fake_http::respond(stream, "200 OK", &[], &format!("{{\"id\":\"gw-{n}\"}}"));
        n += 1;
    });
    (format!("http://{addr}/sms"), bodies)
}

/// Edits a copy of the shipped playbooks (`p`): the standard playbook's first reminder goes
/// out as an SMS, with a short text in every language (the shipped ones send no SMS). To a
/// Belgian consumer it is the free first reminder of Boek XIX WER, so it says what that one must
/// (`dunwell check` refuses it otherwise): 14 calendar days and their last day, the damages and
/// the interest rate that follow, the creditor's registration number.
pub fn first_reminder_by_sms(p: &Path) {
    replace(
        &p.join("standard.toml"),
        "channel = \"email\"\ntemplate = \"standard-reminder-1\"",
        "channel = \"sms\"\ntemplate = \"standard-sms\"",
    );
    let be = |days: &str, by: &str, then: &str, damages: &str, interest: &str, number: &str| {
        let and = interest.split_once(' ').map_or("", |(and, _)| and);
        let interest = interest.split_once(' ').map_or(interest, |(_, i)| i);
        format!(
            "{{% if customer.kind == \"b2c\" and jurisdiction == \"be\" %}} {days}{{% if deadline is not none %}}, {by} {{{{ deadline | date }}}}{{% endif %}}; {then}{{% if costs is not none %}} {damages} {{{{ costs | money }}}} {and}{{% endif %}} {interest}{{% if interest_rate is not none %}} {{{{ interest_rate | percent }}}}{{% endif %}}. {number} {{{{ business.company_number or business.kvk or \"-\" }}}}.{{% endif %}}"
        )
    };
    for (lang, text) in [
        ("nl", format!("{{{{ business.name }}}}: factuur {{{{ invoice.number }}}} van {{{{ total_open | money }}}} staat open. Betaal op {{{{ business.iban }}}}.{}", be("Binnen 14 kalenderdagen", "uiterlijk", "daarna", "schadevergoeding", "en verwijlintrest", "Ondernemingsnr."))),
        ("fr", format!("{{{{ business.name }}}} : facture {{{{ invoice.number }}}} de {{{{ total_open | money }}}} impayée. IBAN {{{{ business.iban }}}}.{}", be("Dans les 14 jours calendrier", "au plus tard le", "ensuite", "indemnité", "et intérêts", "N° d'entreprise"))),
        ("en", format!("{{{{ business.name }}}}: invoice {{{{ invoice.number }}}} of {{{{ total_open | money }}}} is unpaid. IBAN {{{{ business.iban }}}}.{}", be("Within 14 calendar days", "by", "then", "damages", "and interest", "Company no."))),
        ("de", format!("{{{{ business.name }}}}: Rechnung {{{{ invoice.number }}}} über {{{{ total_open | money }}}} ist offen. IBAN {{{{ business.iban }}}}.{}", be("Innerhalb von 14 Kalendertagen", "spätestens am", "danach", "Entschädigung", "und Verzugszinsen", "Unternehmensnr."))),
    ] {
        std::fs::write(p.join(format!("templates/{lang}/standard-sms.txt")), text).unwrap();
    }
}

#[test]
fn an_sms_that_timed_out_is_unknown_until_a_person_settles_it() {
    let (url, bodies) = slow_first_gateway();
    let config = format!(
        "[channels.sms]\nprovider = \"http\"\nurl = \"{url}\"\ntoken_file = \"sms-token\"\nsender = \"VanDam\"\ntimeout = \"2s\"\n"
    );
    let env = installation(&config, first_reminder_by_sms);
    std::fs::write(env.path().join("sms-token"), "gateway-token-0123456789\n").unwrap();
    let report = json(&env.ok(&["send", "--at", "2026-11-26", "--format", "json"]));
    assert_eq!(report["delivery"]["unknown"], 1, "{report}");
    let unknown = json(&env.ok(&["outbox", "--status", "unknown", "--format", "json"]));
    let sms = &unknown.as_array().unwrap()[0];
    assert_eq!(sms["customer_id"], "K2");
    assert!(sms["last_error"].as_str().unwrap().contains("settle it"), "{sms}");
    let id = sms["id"].as_i64().unwrap().to_string();

    // Another run does not send it again on its own.
    env.ok(&["send", "--at", "2026-11-26"]);
    assert_eq!(bodies.lock().unwrap().len(), 1);
    assert_eq!(
        json(&env.ok(&["outbox", "--status", "unknown", "--format", "json"])).as_array().unwrap().len(),
        1
    );

    // Only an unknown message can be settled, and settling needs a verdict.
    let err = env.fails(&["outbox", "settle", &id]);
    assert!(err.contains("--sent") || err.contains("--not-sent"), "{err}");
    // The portal shows it never left: queued again, the next run sends it, once.
    env.ok(&["outbox", "settle", &id, "--not-sent"]);
    let report = json(&env.ok(&["send", "--at", "2026-11-26", "--format", "json"]));
    assert_eq!(report["delivery"]["sent"], 1, "{report}");
    let bodies = bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], bodies[1], "the same message, with the same reference");
    assert!(bodies[0].contains(&format!("dunwell-{id}")), "{}", bodies[0]);
    let sent = json(&env.ok(&["outbox", "--status", "sent", "--format", "json"]));
    let sms = sent.as_array().unwrap().iter().find(|m| m["channel"] == "sms").unwrap();
    assert_eq!(sms["provider_id"], "gw-1");
    let err = env.fails(&["outbox", "settle", &id, "--sent"]);
    assert!(err.contains("not unknown"), "{err}");
}

#[test]
fn a_belgian_first_reminder_must_give_14_days_and_name_what_follows() {
    let be = "jurisdiction = \"be\"\n[business]\nname = 'Bakkerij Peeters BV'\niban = 'BE68539007547034'\ncompany_number = '0123.456.749'\n";
    configured(be, |_| {}).ok(&["check"]);
    let env = configured(be, |p| {
        replace(
            &p.join("standard.toml"),
            "consumer = { interest = \"announce\", costs = \"announce\", term_days = 14 }\n",
            "",
        )
    });
    let err = env.fails(&["check"]);
    assert!(
        err.contains("step 2 (standard-reminder-1) is the first reminder after the due date, which for a Belgian consumer starts the 14-day wait"),
        "{err}"
    );
    assert!(err.contains("a term of at least 14 days"), "{err}");
    assert!(err.contains("the damages that will be claimed"), "{err}");
}

#[test]
fn a_14_day_letter_without_a_costs_figure_is_held() {
    // A Dutch consumer's invoice in US dollars: the BIK is a scale in euro, so no figure can be
    // stated, and the first reminder (which names the costs for consumers) must not go out.
    let env = configured("", |_| {});
    let data = env.path().join("usd");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("customers.csv"),
        "customer_id,name,kind,language,email,country\nU1,Sanne Visser,b2c,nl,sanne@example.nl,NL\n",
    )
    .unwrap();
    std::fs::write(
        data.join("invoices.csv"),
        "invoice_number,customer_id,issue_date,due_date,currency,total,open_amount\nUS-1,U1,2026-10-01,2026-10-31,USD,250.00,\n",
    )
    .unwrap();
    env.ok(&["import", "csv", s(&data)]);
    let report = json(&env.ok(&["send", "--at", "2026-11-26", "--format", "json"]));
    let held = report["held"].as_array().unwrap();
    assert_eq!(held.len(), 1, "{report}");
    assert!(
        held[0]["reason"]
            .as_str()
            .unwrap()
            .contains("step 2 of invoice US-1 must state the collection costs"),
        "{report}"
    );
    assert!(report["written"].as_array().unwrap().is_empty(), "{report}");
    assert!(outbox(&env).is_empty());
    let out = env.run(&["plan", "--at", "2026-11-26", "--format", "json"]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("must state the collection costs"), "{log}");
}

#[test]
fn check_and_plan_name_a_claim_past_prescription_and_it_escalates_only_with_approval() {
    let env = configured("", |_| {});
    let data = env.path().join("old");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("customers.csv"),
        "customer_id,name,kind,language,email,country\nO1,Oude Schuld B.V.,b2b,nl,boekhouding@oude-schuld.example,NL\nF1,Jeanne Dupont,b2c,fr,jeanne@example.fr,FR\n",
    )
    .unwrap();
    // Due 2019-06-28: a business claim prescribes 5 years after it became due (art. 3:307 BW).
    std::fs::write(
        data.join("invoices.csv"),
        "invoice_number,customer_id,issue_date,due_date,currency,total,open_amount\nOLD-1,O1,2019-05-29,2019-06-28,EUR,300.00,\n",
    )
    .unwrap();
    env.ok(&["import", "csv", s(&data)]);
    let out = env.ok(&["check"]);
    assert!(out.contains("warning: invoice OLD-1 is past prescription"), "{out}");
    assert!(out.contains("3:307"), "{out}");
    // A consumer in France: Dutch law and the EU rules only, and check says so.
    assert!(out.contains("warning: customer F1 is a consumer in FR"), "{out}");
    let plan = json(&env.ok(&["plan", "--at", "2026-11-26", "--days", "90", "--format", "json"]));
    let actions = plan.as_array().unwrap();
    // The reminder (2) and the call (4) go; every step that names or charges more waits.
    let approval: Vec<(u64, bool)> =
        actions.iter().map(|a| (a["step"].as_u64().unwrap(), a["requires_approval"] == true)).collect();
    assert_eq!(approval, [(2, false), (3, true), (4, false), (5, true), (6, true), (7, true)], "{plan}");
}

fn preview_body(env: &Env, args: &[&str]) -> String {
    let mut all = vec!["preview", "--format", "json"];
    all.extend_from_slice(args);
    json(&env.ok(&all))["body"].as_str().unwrap().to_string()
}

#[test]
fn a_consumer_in_ghent_is_written_belgian_amounts_and_the_belgian_term() {
    // A Dutch business, a consumer in Gent with 46.88 open, due Sat 2026-10-31. The first
    // reminder after the due date (J+5, Thu 11-05, by e-mail) starts the Belgian 14-day wait:
    // day 1 is Fri 11-06, day 14 Thu 11-19. The damages it names are the Belgian cap for a
    // balance up to 150.00: 20.00 (the Dutch BIK minimum would be 40.00).
    let env = configured("", |_| {});
    let data = env.path().join("gent");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("customers.csv"),
        "customer_id,name,kind,language,email,street,postal_code,city,country\nG1,Els Van Damme,b2c,nl,els@example.be,Veldstraat 1,9000,Gent,BE\n",
    )
    .unwrap();
    std::fs::write(
        data.join("invoices.csv"),
        "invoice_number,customer_id,issue_date,due_date,currency,total,open_amount\nG-1,G1,2026-10-01,2026-10-31,EUR,46.88,\n",
    )
    .unwrap();
    env.ok(&["import", "csv", s(&data)]);
    let body = preview_body(&env, &["--invoice", "G-1", "--at", "2026-11-02"]);
    assert!(body.contains("€ 46,88"), "{body}");
    assert!(body.contains("€ 20,00"), "the Belgian damages: {body}");
    assert!(!body.contains("€ 40,00"), "no Dutch BIK: {body}");
    assert!(body.contains("binnen 14 kalenderdagen"), "{body}");
    assert!(body.contains("19 november 2026"), "the wait's last day: {body}");
}

#[test]
fn the_last_warning_says_the_term_of_the_14_day_letter_has_run_out() {
    // Good data, C1 (a business, 1210.00, due Sat 10-31): step 2 caught up on 11-26 (anchor
    // 11-21); the 14-day letter (step 3) on Wed 12-16 gives 14 days, through Wed 12-30; the last
    // warning (step 5) on Tue 2027-01-05 says that term ran out instead of giving a new one.
    let env = configured("", |_| {});
    env.ok(&["import", "csv", s(&testdata("good"))]);
    let letter = preview_body(&env, &["--invoice", "2026-001", "--step", "3", "--at", "2026-11-26"]);
    assert!(letter.contains("30 december 2026"), "the term's last day: {letter}");
    let warning = preview_body(&env, &["--invoice", "2026-001", "--step", "5", "--at", "2026-11-26"]);
    assert!(
        warning.contains("De termijn uit ons bericht van 16 december 2026 is op 30 december 2026 verstreken"),
        "{warning}"
    );
}

#[test]
fn the_providers_delivery_reports_settle_an_unknown_sms_and_kill_an_undelivered_one() {
    let (url, _bodies) = slow_first_gateway();
    let config = format!(
        "{}[channels.sms]\nprovider = \"http\"\nurl = \"{url}\"\ntoken_file = \"sms-token\"\nsender = \"VanDam\"\ntimeout = \"2s\"\nreport_token_file = \"sms-report\"\n",
        crate::daemon::ADMIN
    );
    let env = installation(&config, first_reminder_by_sms);
    std::fs::write(env.path().join("sms-token"), "gateway-token-0123456789\n").unwrap();
    let secret = "report-secret-7c1d9e0a55b2";
    std::fs::write(env.path().join("sms-report"), format!("{secret}\n")).unwrap();
    // The SMS timed out: its fate is unknown.
    env.ok(&["send", "--at", "2026-11-26"]);
    let unknown = json(&env.ok(&["outbox", "--status", "unknown", "--format", "json"]));
    let id = unknown.as_array().unwrap()[0]["id"].as_i64().unwrap();

    let mut d = crate::daemon::start(&env, &[], &[]);
    let addr = crate::daemon::admin_addr(&env, &mut d);
    let report = |query: String| crate::daemon::http(&addr, "GET", &format!("/sms/report/{query}"), None);
    let message = || {
        let all = json(&env.ok(&["outbox", "--format", "json"]));
        all.as_array().unwrap().iter().find(|m| m["id"] == id).unwrap().clone()
    };
    // A wrong secret changes nothing.
    assert_eq!(report(format!("wrong-secret-000000?reference=dunwell-{id}&status=delivered")).0, 404);
    assert_eq!(message()["status"], "unknown");
    // The provider had it after all (a query-string report by our reference, as Spryng and
    // MessageBird send them): sent, with the provider's id.
    let (code, body) = report(format!("{secret}?reference=dunwell-{id}&status=delivered&id=gw-0"));
    assert_eq!(code, 200, "{body}");
    let m = message();
    assert_eq!((m["status"].as_str(), m["provider_id"].as_str()), (Some("sent"), Some("gw-0")), "{m:#}");
    // Then the phone network gave up on it (by the provider's own id, as Twilio reports):
    // dead, with the provider's word, so a step's fallback would go out instead.
    let (code, body) = report(format!("{secret}?MessageSid=gw-0&MessageStatus=undelivered"));
    assert_eq!(code, 200, "{body}");
    d.signal("TERM");
    assert!(d.wait(std::time::Duration::from_secs(45)).success(), "{}", d.log());
    let m = message();
    assert_eq!(m["status"], "dead", "{m:#}");
    assert!(m["last_error"].as_str().unwrap().contains("`undelivered`"), "{m:#}");
    assert!(d.log().contains("SMS report: message"), "{}", d.log());
}

/// A Dutch hotel (a business) with one invoice of 1000.00, due Wed 2026-07-01, and an e-mail
/// address; the business is closed the week of Mon 2026-08-17.
fn hotel_with_a_summer_closure() -> Env {
    let closed =
        "closing_days = [\"2026-08-17\", \"2026-08-18\", \"2026-08-19\", \"2026-08-20\", \"2026-08-21\"]\n";
    let env = configured(closed, |_| {});
    let data = env.path().join("hotel");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("customers.csv"),
        "customer_id,name,kind,language,email,country\nH1,Hotel De Linde B.V.,b2b,nl,boekhouding@delinde.example,NL\n",
    )
    .unwrap();
    std::fs::write(
        data.join("invoices.csv"),
        "invoice_number,customer_id,issue_date,due_date,currency,total,open_amount\nH-1,H1,2026-06-01,2026-07-01,EUR,1000.00,\n",
    )
    .unwrap();
    env.ok(&["import", "csv", s(&data)]);
    env
}

#[test]
fn the_last_warning_gives_a_term_that_pushes_the_formal_notice() {
    // Hand-computed, Dutch law for a business: wettelijke handelsrente 10.15 % from Thu 07-02,
    // BIK 15 % of 1000.00 = 150.00 (no VAT). The standard playbook:
    // - step 2 (J+5) Mon 07-06 gives the business 7 days: through Mon 07-13;
    // - step 3 (J+25) Sun 07-26 -> Mon 07-27, the 14-day letter: through Mon 08-10;
    // - step 4 (J+30) Fri 07-31, the call;
    // - step 5, the last warning (J+45): Sat 08-15 -> Mon 08-17, closed all week -> Mon 08-24.
    //   Interest 1000.00 x 10.15 % x 54/365 (07-02..08-24) = 15.0164 -> 15.02. It says the
    //   letter's term ran out (the costs are owed since) and gives 14 days: through Mon 09-07;
    // - step 6, the formal notice (J+65): Fri 09-04 falls inside that term, so it goes on Tue
    //   09-08. Interest x 69/365 (07-02..09-08) = 19.1877 -> 19.19; 1000.00 + 19.19 + 150.00 =
    //   1169.19. By post it arrives Thu 09-10: 14 days through Thu 09-24;
    // - step 7, the handoff (J+89): Mon 09-28, after that term.
    let env = hotel_with_a_summer_closure();
    let plan = json(&env.ok(&["plan", "--at", "2026-07-02", "--days", "120", "--format", "json"]));
    let days: Vec<(&str, u64, Option<&str>)> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["date"].as_str().unwrap(), a["step"].as_u64().unwrap(), a["deadline"].as_str()))
        .collect();
    assert_eq!(
        days,
        [
            ("2026-07-06", 2, Some("2026-07-13")),
            ("2026-07-27", 3, Some("2026-08-10")),
            ("2026-07-31", 4, None),
            ("2026-08-24", 5, Some("2026-09-07")),
            ("2026-09-08", 6, Some("2026-09-24")),
            ("2026-09-28", 7, None),
        ],
        "{plan:#}"
    );
    let notice = &plan[4];
    assert!(
        notice["reason"].as_str().unwrap().contains(
            "It waits for the term of the message of 2026-08-24, which runs through 2026-09-07: planned for 2026-09-04, it goes on 2026-09-08."
        ),
        "{notice}"
    );
    assert_eq!((notice["interest"].as_str(), notice["costs"].as_str()), (Some("19.19"), Some("150.00")));
    assert_eq!(notice["total_due"], "1169.19");

    let warning = [
        "- Openstaande hoofdsom: € 1.000,00\n- Vertragingsrente tot en met 24 augustus 2026 (wettelijke handelsrente, art. 6:119a BW, 10,15% per jaar): € 15,02\n- Totaal verschuldigd: € 1.015,02\n",
        "De termijn uit ons bericht van 27 juli 2026 is op 10 augustus 2026 verstreken zonder dat wij uw betaling hebben ontvangen; de incassokosten van € 150,00 (art. 6:96 BW en Besluit BIK; geen btw) zijn daarmee verschuldigd.",
        "Wij verzoeken u dit bedrag uiterlijk op 7 september 2026 over te maken",
        "Dit is onze laatste herinnering. Betaalt u niet uiterlijk op 7 september 2026, dan:",
    ];
    let body = preview_body(&env, &["--invoice", "H-1", "--step", "5", "--at", "2026-07-02"]);
    for line in warning {
        assert!(body.contains(line), "`{line}` in:\n{body}");
    }
    let formal = [
        "De termijn uit ons bericht van 24 augustus 2026 is op 7 september 2026 verstreken zonder dat wij uw betaling hebben ontvangen; de incassokosten van € 150,00 (art. 6:96 BW en Besluit BIK; geen btw) zijn daarmee verschuldigd.",
        "- Openstaande hoofdsom: € 1.000,00\n- Vertragingsrente tot en met 8 september 2026 (wettelijke handelsrente, art. 6:119a BW, 10,15% per jaar): € 19,19\n- Incassokosten (art. 6:96 BW en Besluit BIK; geen btw): € 150,00\n- Totaal verschuldigd: € 1.169,19\n",
        "Wij sommeren u het totaal verschuldigde bedrag uiterlijk op 24 september 2026 over te maken",
    ];
    let body = preview_body(&env, &["--invoice", "H-1", "--step", "6", "--at", "2026-07-02"]);
    for line in formal {
        assert!(body.contains(line), "`{line}` in:\n{body}");
    }

    // Sent day by day as planned: the same texts; nothing on the Friday the notice would have
    // gone without the last warning's term.
    for day in ["2026-07-06", "2026-07-27", "2026-07-31", "2026-08-24"] {
        let report = json(&env.ok(&["send", "--at", day, "--format", "json"]));
        assert_eq!(report["written"].as_array().unwrap().len(), 1, "{day}: {report}");
    }
    let report = json(&env.ok(&["send", "--at", "2026-09-04", "--format", "json"]));
    assert!(report["written"].as_array().unwrap().is_empty(), "{report}");
    env.ok(&["send", "--at", "2026-09-08"]);
    let messages = outbox(&env);
    let sent = |template: &str| {
        messages
            .iter()
            .find(|m| m["template"] == template)
            .unwrap_or_else(|| panic!("no {template}: {messages:#?}"))
    };
    let w = sent("standard-last-warning");
    assert_eq!(w["total"], "1015.02", "{w}");
    for line in warning {
        assert!(w["body"].as_str().unwrap().contains(line), "`{line}` in {w}");
    }
    let n = sent("standard-formal-notice");
    assert_eq!(
        (n["status"].as_str(), n["total"].as_str()),
        (Some("awaiting-approval"), Some("1169.19")),
        "{n}"
    );
    for line in formal {
        assert!(n["body"].as_str().unwrap().contains(line), "`{line}` in {n}");
    }
}

#[test]
fn a_business_that_cannot_deduct_vat_charges_and_names_the_costs_with_vat() {
    // vat_deductible = false: the BIK carries 21 % VAT and the letters say "inclusief btw".
    // Petra de Boer (a consumer, 80.00 open): the BIK minimum of 40.00 + 8.40 VAT = 48.40, named
    // by her first reminder (the 14-day letter). Fietsenmaker Jansen (a business, 500.00): 15 %
    // = 75.00 + 15.75 VAT = 90.75, charged by the formal notice.
    let env = installation("vat_deductible = false\n", |_| {});
    let body = preview_body(&env, &["--invoice", "F-2", "--at", "2026-11-26"]);
    assert!(
        body.contains("- brengen wij incassokosten van € 48,40 (art. 6:96 BW en Besluit BIK; inclusief btw) in rekening;"),
        "{body}"
    );
    let body = preview_body(&env, &["--invoice", "F-2", "--at", "2026-11-26", "--lang", "fr"]);
    assert!(
        body.contains("des frais de recouvrement de 48,40 € (art. 6:96 du Code civil néerlandais et Besluit BIK ; TVA comprise)"),
        "{body}"
    );
    let body = preview_body(&env, &["--invoice", "F-1", "--step", "6", "--at", "2026-11-26"]);
    assert!(
        body.contains("- Incassokosten (art. 6:96 BW en Besluit BIK; inclusief btw): € 90,75\n"),
        "{body}"
    );
    // Deductible (the default): the same costs without VAT, and the letters say so.
    let env = installation("", |_| {});
    let body = preview_body(&env, &["--invoice", "F-2", "--at", "2026-11-26"]);
    assert!(body.contains("incassokosten van € 40,00 (art. 6:96 BW en Besluit BIK; geen btw)"), "{body}");
}
