//! Internal escalation end to end (issue 13, point 6): a step copies the customer's account
//! manager (`account_manager` in customers.csv, `cc_account_manager = true` on the step), the
//! mail keeps a Reply-To pointing at the business, and the business is told by e-mail
//! (`[business] alerts_to`) of a customer over its credit limit, once per occurrence.

use std::path::{Path, PathBuf};

use crate::email::TestSmtp;
use crate::{copy_dir, json, replace, repo, s, Env};

/// The business, with where replies and alerts go and a default credit limit.
const BUSINESS: &str = "[business]\nname = 'Bakkerij Van Dam B.V.'\naddress = 'Kerkstraat 12, 3811 CV Amersfoort'\niban = 'NL91ABNA0417164300'\ncontact_email = 'debiteuren@bakkerij.example'\nalerts_to = 'eigenaar@bakkerij.example'\n\n[escalation]\ncredit_limit = '5000.00'\n";

/// A Monday: step 1 of the VIP playbook for an invoice due 2026-11-27 (J+10) and step 1 of
/// the standard one for an invoice due 2026-12-10 (J-3).
const DAY: &str = "2026-12-07";

/// C1: a VIP (segment by hand) with an account manager, 800 open, under the default limit.
/// C2: standard, an account manager too (its playbook copies nobody), 1500 open over its own
/// limit of 1000.
fn export(dir: &Path) -> PathBuf {
    let out = dir.join("export");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("customers.csv"),
        "customer_id,name,kind,language,email,phone,street,postal_code,city,country,customer_since,payment_method,segment,account_manager,credit_limit\n\
C1,Studio Peeters BV,b2b,nl,info@peeters.example,,Meir 1,2000,Antwerpen,BE,2015-01-01,transfer,vip,anja@bakkerij.example,\n\
C2,Jansen BV,b2b,nl,admin@jansen.example,,Dorpsstraat 1,1234 AB,Amsterdam,NL,2020-01-01,transfer,,piet@bakkerij.example,1000.00\n",
    )
    .unwrap();
    std::fs::write(
        out.join("invoices.csv"),
        "invoice_number,customer_id,issue_date,due_date,currency,total,open_amount\n\
2026-101,C1,2026-10-28,2026-11-27,EUR,800.00,\n\
2026-102,C2,2026-11-10,2026-12-10,EUR,1500.00,\n",
    )
    .unwrap();
    std::fs::write(out.join("payments.csv"), "invoice_number,date,amount,method\n").unwrap();
    out
}

fn installation(extra: &str) -> Env {
    let env = Env::with_config(&format!("{BUSINESS}{extra}"));
    env.ok(&["import", "csv", s(&export(env.path()))]);
    env
}

/// The header block of a raw message, folded lines joined.
fn head(raw: &str) -> Vec<String> {
    let raw = raw.replace("\r\n", "\n");
    let block = raw.split("\n\n").next().unwrap_or_default().replace("\n ", " ");
    block.lines().map(str::to_string).collect()
}

fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

#[test]
fn the_account_manager_is_copied_replies_go_to_the_business_and_an_alert_goes_once() {
    let env = installation("");
    let report = json(&env.ok(&["send", "--at", DAY, "--format", "json"]));
    let written: Vec<(&str, &str)> = report["written"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["customer_id"].as_str().unwrap(), d["template"].as_str().unwrap()))
        .collect();
    assert_eq!(written, [("C1", "vip-reminder-1"), ("C2", "standard-preventive")], "{report}");
    let alerts = report["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{report}");
    assert_eq!(
        (alerts[0]["customer_id"].as_str(), alerts[0]["kind"].as_str()),
        (Some("C2"), Some("credit-limit"))
    );
    assert_eq!(alerts[0]["since"], DAY);
    assert_eq!(report["delivery"]["sent"], 3, "{report}");

    let outbox = env.path().join("data/outbox").join(DAY);
    let eml = |n: u32| std::fs::read_to_string(outbox.join(format!("{n:06}-email.eml"))).unwrap();
    // The VIP step copies the account manager; answers go to the business.
    let vip = head(&eml(1));
    assert_eq!(header(&vip, "To"), Some("info@peeters.example"), "{vip:?}");
    assert_eq!(header(&vip, "Cc"), Some("anja@bakkerij.example"), "{vip:?}");
    assert_eq!(header(&vip, "Reply-To"), Some("debiteuren@bakkerij.example"), "{vip:?}");
    // The standard playbook copies nobody, whatever the customer has.
    let standard = head(&eml(2));
    assert_eq!(header(&standard, "Cc"), None, "{standard:?}");
    assert_eq!(header(&standard, "Reply-To"), Some("debiteuren@bakkerij.example"), "{standard:?}");
    let rows = json(&env.ok(&["outbox", "--format", "json"]));
    let row = |id: u64| rows.as_array().unwrap().iter().find(|m| m["id"] == id).unwrap().clone();
    assert_eq!(row(1)["cc"], "anja@bakkerij.example");
    assert!(row(2)["cc"].is_null());

    // The alert: to alerts_to, in the business's language, with the figures and the advice.
    let alert = eml(3);
    let h = head(&alert);
    assert_eq!(header(&h, "To"), Some("eigenaar@bakkerij.example"), "{h:?}");
    assert_eq!(row(3)["template"], "alert-credit-limit");
    assert_eq!(row(3)["customer_id"], "C2");
    assert!(
        row(3)["subject"].as_str().unwrap().contains("Jansen BV (C2) zit boven de kredietlimiet"),
        "{}",
        row(3)
    );
    let body = row(3)["body"].as_str().unwrap().to_string();
    for needle in [
        "€ 1.500,00",
        "€ 1.000,00 (van deze klant)",
        "2026-102",
        "vooruitbetaling",
        "geen nieuwe bestellingen",
    ] {
        assert!(body.contains(needle), "{needle}: {body}");
    }

    // Once: the same day again and the next days while it holds, nothing new.
    let again = json(&env.ok(&["send", "--at", DAY, "--format", "json"]));
    assert_eq!(again["alerts"].as_array().unwrap().len(), 0, "{again}");
    let next = json(&env.ok(&["send", "--at", "2026-12-08", "--format", "json"]));
    assert_eq!(next["alerts"].as_array().unwrap().len(), 0, "{next}");
    assert_eq!(json(&env.ok(&["outbox", "--format", "json"])).as_array().unwrap().len(), 3);
    // `dunwell history` of the customer shows what the business was told.
    let history = env.ok(&["history", "C2"]);
    assert!(history.contains("alert-credit-limit to eigenaar@bakkerij.example"), "{history}");
}

#[test]
fn over_smtp_the_copy_is_delivered_and_reply_to_defaults_to_the_contact_address() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestSmtp::start("plain", dir.path());
    let env = installation(&format!(
        "[channels.email]\nurl = 'smtp://127.0.0.1:{}'\nfrom = 'Bakkerij Van Dam <noreply@bakkerij.example>'\ntimeout_s = 10\n",
        server.port
    ));
    let report = json(&env.ok(&["send", "--at", DAY, "--format", "json"]));
    assert_eq!(report["delivery"]["sent"], 3, "{report}");
    let received: Vec<Vec<String>> =
        server.messages().iter().map(|p| head(&std::fs::read_to_string(p).unwrap())).collect();
    let vip =
        received.iter().find(|h| header(h, "To") == Some("info@peeters.example")).expect("the VIP reminder");
    assert_eq!(header(vip, "Cc"), Some("anja@bakkerij.example"), "{vip:?}");
    assert_eq!(header(vip, "Reply-To"), Some("debiteuren@bakkerij.example"), "{vip:?}");
    // The copy is a recipient of the envelope too.
    let rcpt = header(vip, "X-RcptTo").unwrap();
    assert!(rcpt.contains("info@peeters.example") && rcpt.contains("anja@bakkerij.example"), "{rcpt}");
    let alert =
        received.iter().find(|h| header(h, "To") == Some("eigenaar@bakkerij.example")).expect("the alert");
    assert!(header(alert, "Subject").is_some(), "{alert:?}");
}

#[test]
fn a_copy_on_a_step_that_sends_no_e_mail_is_refused_by_check() {
    let env = Env::new();
    let playbooks = env.path().join("playbooks");
    copy_dir(&repo().join("playbooks"), &playbooks);
    replace(
        &playbooks.join("vip.toml"),
        "template = \"vip-call-1\"\n",
        "template = \"vip-call-1\"\ncc_account_manager = true\n",
    );
    std::fs::write(
        env.path().join("dunwell.toml"),
        format!("data_dir = \"data\"\nplaybooks_dir = \"playbooks\"\n{}", crate::BUSINESS),
    )
    .unwrap();
    let err = env.fails(&["check"]);
    assert!(err.contains("vip.toml:"), "{err}");
    assert!(err.contains("cc_account_manager = true is for e-mail steps: a phone step"), "{err}");
}

#[test]
fn account_managers_credit_limits_and_alerts_to_are_checked() {
    let env = Env::new();
    let dir = export(env.path());
    let customers = dir.join("customers.csv");
    replace(&customers, "anja@bakkerij.example", "anja at bakkerij");
    replace(&customers, ",1000.00\n", ",\"1.000,00\"\n");
    let err = env.fails(&["import", "csv", s(&dir)]);
    assert!(err.contains("customers.csv:2:14") && err.contains("account_manager"), "{err}");
    assert!(err.contains("customers.csv:3:15") && err.contains("credit_limit"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");

    env.set_config(&BUSINESS.replace("eigenaar@bakkerij.example", "eigenaar"));
    let err = env.fails(&["send", "--at", DAY]);
    assert!(err.contains("alerts_to = \"eigenaar\" is not an e-mail address"), "{err}");
    assert!(err.contains("dunwell.toml:"), "{err}");
    env.set_config(&BUSINESS.replace("'5000.00'", "'vijfduizend'"));
    let err = env.fails(&["send", "--at", DAY]);
    assert!(err.contains("credit_limit = \"vijfduizend\" in [escalation] is not an amount"), "{err}");
}
