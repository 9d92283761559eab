//! `dunwell plan` and `dunwell segments` on the small good export, with hand-computed days.
//!
//! At 2026-11-26 (Thu): C1 and C2 have 2 counting invoices each (too little history:
//! standard); C3 is vip by hand. Open: 2026-001 (C1, due Sat 10-31, 1210.00), 2026-003 (C2,
//! due Sun 11-15, 49.95 after a partial payment), 2026-004 (C3, due Thu 12-10, 4840.00).

use serde_json::Value;

use crate::{s, testdata, Env};

fn env_with_good_data(config: &str) -> Env {
    let env = Env::with_config(config);
    env.ok(&["import", "csv", s(&testdata("good"))]);
    env
}

fn rows(json: &str) -> Vec<(String, String, u64)> {
    let v: Value = serde_json::from_str(json).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["date"].as_str().unwrap().to_string(),
                a["invoice_number"].as_str().unwrap().to_string(),
                a["step"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn expect(list: &[(&str, &str, u64)]) -> Vec<(String, String, u64)> {
    list.iter().map(|(d, i, s)| (d.to_string(), i.to_string(), *s)).collect()
}

#[test]
fn thirty_day_projection_matches_hand_computed_days() {
    let env = env_with_good_data("");
    let out = env.ok(&["plan", "--at", "2026-11-26", "--days", "30", "--format", "json"]);
    // 2026-001: -3 skipped (pre-due, past); +5 = Thu 11-05 caught up on 11-26 (delay 21, anchor
    // 11-21), giving the business 7 days (through Thu 12-03); +25 Wed 12-16 (after that term;
    // it gives 14 days, through Wed 12-30); +30 Mon 12-21 (a call); +45 01-05 is past 12-26.
    // 2026-003 (a consumer in Brussels: Belgian law): +5 = Fri 11-20 caught up on 11-26 (delay 6,
    // anchor 11-21), 14 days from the day after the e-mail (11-27 through Thu 12-10): same days.
    // 2026-004 (vip): +10 Sun 12-20 -> Mon 12-21; +15 Christmas -> Mon 12-28, past the horizon.
    assert_eq!(
        rows(&out),
        expect(&[
            ("2026-11-26", "2026-001", 2),
            ("2026-11-26", "2026-003", 2),
            ("2026-12-16", "2026-001", 3),
            ("2026-12-16", "2026-003", 3),
            ("2026-12-21", "2026-001", 4),
            ("2026-12-21", "2026-003", 4),
            ("2026-12-21", "2026-004", 1),
        ])
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    let first = &v[0];
    for field in [
        "date",
        "customer_id",
        "invoice_number",
        "segment",
        "step",
        "offset_days",
        "channel",
        "template",
        "open_amount",
        "currency",
        "reason",
    ] {
        assert!(!first[field].is_null(), "field {field} missing in {first}");
    }
    assert_eq!(first["customer_id"], "C1");
    assert_eq!(first["segment"], "standard");
    assert_eq!(first["offset_days"], 5);
    assert_eq!(first["channel"], "email");
    assert_eq!(first["template"], "standard-reminder-1");
    assert_eq!(first["open_amount"], "1210.00");
    assert_eq!(first["currency"], "EUR");
    assert_eq!(first["catch_up"], true);
    let reason = first["reason"].as_str().unwrap();
    assert!(reason.contains("is 26 days overdue on 2026-11-26"), "{reason}");
    assert!(reason.contains("too little history"), "{reason}");
    // The partly paid invoice shows what is still open.
    assert_eq!(v[1]["open_amount"], "49.95");
    // Step 2 moves no money; step 3 (J+15) announces interest and costs (the 14-day letter).
    assert!(v[0]["interest"].is_null() && v[0]["costs"].is_null() && v[0]["total_due"].is_null(), "{}", v[0]);
    assert_eq!(v[0]["deadline"], "2026-12-03");
    assert_eq!(v[1]["deadline"], "2026-12-10");
    let step3 = &v[2];
    assert_eq!((step3["invoice_number"].as_str(), step3["step"].as_u64()), (Some("2026-001"), Some(3)));
    // C1 is a business: commercial interest 1210.00 x 10.15% x 46/365 (11-01..12-16) = 15.48;
    // BIK 15% of 1210.00 = 181.50; announced amounts stay out of the total.
    assert_eq!(step3["interest"], "15.48");
    assert_eq!(step3["interest_rate"], "10.15");
    assert_eq!(step3["interest_basis"], "nl-commercial");
    assert_eq!(step3["jurisdiction"], "nl");
    assert_eq!(step3["costs"], "181.50");
    assert_eq!(step3["total_due"], "1210.00");
    assert!(step3["payment_reference"].as_str().unwrap().starts_with("RF"), "{step3}");
    // C2 is a consumer in Brussels with 49.95 open: Belgian law caps the damages at 20.00 for
    // a balance up to 150.00 (Boek XIX WER), where the Dutch BIK would charge its 40.00 minimum.
    assert_eq!(v[3]["jurisdiction"], "be");
    assert_eq!(v[3]["costs"], "20.00");
    assert!(v[3]["reason"].as_str().unwrap().contains("follow BE law"), "{}", v[3]);
    assert_eq!(v[6]["segment"], "vip");
    assert_eq!(v[6]["channel"], "email");
}

#[test]
fn weekend_run_catches_up_on_monday() {
    let env = env_with_good_data("");
    let out = env.ok(&["plan", "--at", "2026-11-28", "--days", "2", "--format", "json"]);
    assert_eq!(rows(&out), expect(&[("2026-11-30", "2026-001", 2), ("2026-11-30", "2026-003", 2)]));
    let out = env.ok(&["plan", "--at", "2026-11-28", "--format", "json"]);
    assert_eq!(rows(&out), expect(&[]));
}

#[test]
fn closing_days_from_the_config_move_steps() {
    // The office is closed on Wed 12-16: step 3 (target 12-16) moves to Thu 12-17.
    let env = env_with_good_data("closing_days = [\"2026-12-16\"]\n");
    let out = env.ok(&["plan", "--at", "2026-11-26", "--days", "21", "--format", "json", "--customer", "C1"]);
    assert_eq!(rows(&out), expect(&[("2026-11-26", "2026-001", 2), ("2026-12-17", "2026-001", 3)]));
}

#[test]
fn table_output_shows_reasons_and_a_summary() {
    let env = env_with_good_data("");
    let out = env.ok(&["plan", "--at", "2026-11-26"]);
    assert!(out.starts_with("DATE"), "{out}");
    assert!(out.contains("2026-11-26  2026-001"), "{out}");
    assert!(out.contains("    why: standard playbook step 2 of 7 (J+5, email)"), "{out}");
    assert!(out.contains("2 actions on 2026-11-26: email 2"), "{out}");
    let brief = env.ok(&["plan", "--at", "2026-11-26", "--brief"]);
    assert!(!brief.contains("why:"), "{brief}");
    let none = env.ok(&["plan", "--at", "2026-11-28"]);
    assert!(none.contains("nothing is due on 2026-11-28"), "{none}");
}

#[test]
fn segments_list_indicators_and_reasons() {
    let env = env_with_good_data("");
    let out = env.ok(&["segments", "--at", "2026-11-26", "--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["customer_id"], "C1");
    assert_eq!(list[0]["segment"], "standard");
    assert_eq!(list[0]["rule"], "too-little-history");
    assert_eq!(list[0]["indicators"]["counting_invoices"], 2);
    assert_eq!(list[0]["indicators"]["invoices_in_window"], 2);
    assert_eq!(list[2]["segment"], "vip");
    assert_eq!(list[2]["rule"], "manual");
    let table = env.ok(&["segments", "--at", "2026-11-26"]);
    assert!(table.contains("3 customers at 2026-11-26: standard 2, vip 1"), "{table}");
    let err = env.fails(&["segments", "--customer", "nobody"]);
    assert!(err.contains("no customer with id `nobody`"), "{err}");
}

#[test]
fn sample_export_round_trip_and_is_deterministic() {
    let env = Env::new();
    let a = env.path().join("a");
    let b = env.path().join("b");
    env.ok(&["sample", "--customers", "300", "--invoices", "3000", "--seed", "42", s(&a)]);
    env.ok(&["sample", "--customers", "300", "--invoices", "3000", "--seed", "42", s(&b)]);
    for f in ["customers.csv", "invoices.csv", "payments.csv"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f} differs");
    }
    let out = env.ok(&["import", "csv", s(&a)]);
    assert!(out.contains("customers: 300 added"), "{out}");
    assert!(out.contains("invoices:  3000 added"), "{out}");
    let seg = env.ok(&["segments", "--at", "2026-12-01", "--format", "json"]);
    let v: Value = serde_json::from_str(&seg).unwrap();
    let mut counts = std::collections::BTreeMap::new();
    // Segments earned by the rules, not set by hand in the export's `segment` column.
    for c in v.as_array().unwrap().iter().filter(|c| c["rule"] != "manual") {
        *counts.entry(c["segment"].as_str().unwrap().to_string()).or_insert(0) += 1;
    }
    // A realistic mix: every segment is represented.
    for segment in ["vip", "standard", "bad-payer"] {
        assert!(counts.get(segment).copied().unwrap_or(0) > 0, "no {segment} in {counts:?}");
    }
    let plan = env.ok(&["plan", "--at", "2026-12-01", "--days", "14", "--format", "json"]);
    let actions: Value = serde_json::from_str(&plan).unwrap();
    assert!(!actions.as_array().unwrap().is_empty());
}

#[test]
fn empty_store_plans_nothing() {
    let env = Env::new();
    let out = env.ok(&["plan", "--at", "2026-11-26", "--format", "json"]);
    assert_eq!(out.trim(), "[]");
}

/// Issue 8: 1210.00 due Wed 2025-10-01 with 605.00 open. Standard playbook from 2025-09-28:
/// step 5 (J+45) is Sat 11-15 -> Mon 11-17 and applies interest (costs announced), giving 14
/// days (through Mon 12-01); step 6 (J+65) Fri 12-05 applies both; step 7 (J+89) is past the
/// horizon. NL commercial rate 10.15% (2025-07-01). Interest on 605.00: 47 days (10-02..11-17)
/// 7.9076 -> 7.91; 65 days (10-02..12-05) 10.9358 -> 10.94 (on 1210.00 it would be 15.81,
/// 21.87). BIK: 15% of 605.00 = 90.75. Totals: 605.00 + 7.91 = 612.91; 605.00 + 10.94 + 90.75 =
/// 706.69.
fn open_amount_plan(case: &str) -> Vec<Value> {
    let env = Env::new();
    env.ok(&["import", "csv", s(&testdata(&format!("open-amount/{case}")))]);
    let out = env.ok(&["plan", "--at", "2025-09-28", "--days", "70", "--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v.as_array().unwrap().iter().filter(|a| a["step"].as_u64().unwrap() >= 5).cloned().collect()
}

fn money(actions: &[Value]) -> Vec<(String, u64, String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_string();
    actions
        .iter()
        .map(|a| {
            (
                text(&a["date"]),
                a["step"].as_u64().unwrap(),
                text(&a["interest"]),
                text(&a["costs"]),
                text(&a["total_due"]),
            )
        })
        .collect()
}

#[test]
fn interest_rests_on_the_open_amount_a_spreadsheet_states() {
    let expected: Vec<(String, u64, String, String, String)> =
        [("2025-11-17", 5, "7.91", "90.75", "612.91"), ("2025-12-05", 6, "10.94", "90.75", "706.69")]
            .iter()
            .map(|(d, st, i, c, t)| (d.to_string(), *st, i.to_string(), c.to_string(), t.to_string()))
            .collect();
    let undated = open_amount_plan("undated");
    assert_eq!(money(&undated), expected);
    for a in &undated {
        assert_eq!(a["open_amount"], "605.00");
        let reason = a["reason"].as_str().unwrap();
        assert!(
            reason.contains("without payment dates for 605.00 EUR: that part counts as paid on or before the due date, so interest runs on the 605.00 EUR open"),
            "{reason}"
        );
    }
    // The same invoice with the payment row that explains the difference: the same figures.
    let dated = open_amount_plan("dated");
    assert_eq!(money(&dated), expected);
    assert!(dated.iter().all(|a| !a["reason"].as_str().unwrap().contains("payment dates")));
}

/// A folder with customers.csv and invoices.csv written from the given lines.
fn export(env: &Env, name: &str, customers: &str, invoices: &str) -> std::path::PathBuf {
    let dir = env.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("customers.csv"), customers).unwrap();
    std::fs::write(dir.join("invoices.csv"), invoices).unwrap();
    dir
}

/// The reminders (step 2) of a plan: (invoice, day, deadline).
fn reminders(json: &str) -> Vec<(String, String, String)> {
    let v: Value = serde_json::from_str(json).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter(|a| a["step"] == 2)
        .map(|a| {
            (
                a["invoice_number"].as_str().unwrap().to_string(),
                a["date"].as_str().unwrap().to_string(),
                a["deadline"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect()
}

#[test]
fn a_consumers_term_skips_their_own_countrys_holiday_while_sending_follows_the_business() {
    // A Dutch business, a consumer in Gent. G-1 is due Fri 2026-10-23: its first reminder (J+5)
    // goes Wed 10-28 by e-mail and gives the Belgian 14 calendar days from the day after: 10-29
    // through Wed 11-11, Armistice Day in Belgium (a working day in the Netherlands), so the term
    // runs through Thu 11-12. G-2 is due Fri 11-06: its reminder's day, Wed 11-11, is a working
    // day of the business, so it goes that day (14 days: 11-12 through Wed 11-25).
    let customers = "customer_id,name,kind,language,email,street,postal_code,city,country\nG1,Els Van Damme,b2c,nl,els@example.be,Veldstraat 1,9000,Gent,BE\n";
    let invoices = "invoice_number,customer_id,issue_date,due_date,currency,total,open_amount\nG-1,G1,2026-09-23,2026-10-23,EUR,46.88,\nG-2,G1,2026-10-07,2026-11-06,EUR,120.00,\n";
    let env = Env::new();
    env.ok(&["import", "csv", s(&export(&env, "gent", customers, invoices))]);
    let plan = env.ok(&["plan", "--at", "2026-10-24", "--days", "20", "--format", "json"]);
    assert_eq!(
        reminders(&plan),
        vec![
            ("G-1".to_string(), "2026-10-28".to_string(), "2026-11-12".to_string()),
            ("G-2".to_string(), "2026-11-11".to_string(), "2026-11-25".to_string()),
        ],
        "{plan}"
    );
    let body = json_body(&env, &["--invoice", "G-1", "--at", "2026-10-24"]);
    assert!(
        body.contains("binnen 14 kalenderdagen na de dag van verzending van dit bericht, dus uiterlijk op 12 november 2026"),
        "{body}"
    );
    // A Belgian business closes on 11-11: G-2's reminder goes the next day, the term the same.
    let be = Env::with_config(
        "jurisdiction = \"be\"\n[business]\nname = 'Bakkerij Peeters BV'\niban = 'BE68539007547034'\ncompany_number = '0123.456.749'\n",
    );
    be.ok(&["import", "csv", s(&export(&be, "gent", customers, invoices))]);
    let plan = be.ok(&["plan", "--at", "2026-10-24", "--days", "20", "--format", "json"]);
    assert_eq!(
        reminders(&plan),
        vec![
            ("G-1".to_string(), "2026-10-28".to_string(), "2026-11-12".to_string()),
            ("G-2".to_string(), "2026-11-12".to_string(), "2026-11-26".to_string()),
        ],
        "{plan}"
    );
}

/// The body of `dunwell preview --format json` with `args`.
fn json_body(env: &Env, args: &[&str]) -> String {
    let mut all = vec!["preview", "--format", "json"];
    all.extend_from_slice(args);
    let v: Value = serde_json::from_str(&env.ok(&all)).unwrap();
    v["body"].as_str().unwrap().to_string()
}
