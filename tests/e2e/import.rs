//! `dunwell import csv`: the broken-input corpus, idempotence, updates, quirks, and a crash.

use std::collections::BTreeMap;

use dunwell::store::Store;

use crate::{s, testdata, Env};

/// Everything in the store, as comparable text.
fn dump(env: &Env) -> String {
    let store = Store::open(&env.db()).expect("open store");
    format!(
        "{:?}\n{:?}\n{}",
        store.load_customers().unwrap(),
        store.load_invoices().unwrap(),
        store.count(dunwell::store::Table::Payments).unwrap()
    )
}

#[test]
fn good_export_imports_and_reimport_changes_nothing() {
    let env = Env::new();
    let good = testdata("good");
    let first = env.ok(&["import", "csv", s(&good)]);
    assert!(first.contains("customers: 3 added, 0 changed, 0 unchanged"), "{first}");
    assert!(first.contains("invoices:  5 added, 0 changed, 0 unchanged"), "{first}");
    assert!(first.contains("payments:  3 added, 0 removed, 0 unchanged"), "{first}");
    let before = dump(&env);
    let second = env.ok(&["import", "csv", s(&good)]);
    assert!(second.contains("customers: 0 added, 0 changed, 3 unchanged"), "{second}");
    assert!(second.contains("invoices:  0 added, 0 changed, 5 unchanged"), "{second}");
    assert!(second.contains("payments:  0 added, 0 removed, 3 unchanged"), "{second}");
    assert_eq!(before, dump(&env));
}

#[test]
fn open_amounts_and_paid_dates_follow_the_payments() {
    let env = Env::new();
    env.ok(&["import", "csv", s(&testdata("good"))]);
    let store = Store::open(&env.db()).unwrap();
    let invoices: BTreeMap<String, _> =
        store.load_invoices().unwrap().into_iter().map(|i| (i.number.clone(), i)).collect();
    // No open_amount column value: total minus payments.
    assert_eq!(invoices["2026-001"].open_amount.to_string(), "1210.00");
    assert_eq!(invoices["2026-003"].open_amount.to_string(), "49.95");
    assert_eq!(invoices["2026-003"].paid_date, None);
    // Paid in full: the date of the payment that brought it to zero.
    assert_eq!(invoices["2026-005"].open_amount.to_string(), "0.00");
    assert_eq!(invoices["2026-005"].paid_date.unwrap().to_string(), "2026-09-14");
    // open_amount column 0 with a matching payment.
    assert_eq!(invoices["2026-002"].paid_date.unwrap().to_string(), "2026-11-12");
}

#[test]
fn changed_file_updates_only_what_changed() {
    let env = Env::new();
    env.ok(&["import", "csv", s(&testdata("good"))]);
    let dir = env.path().join("update");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("invoices.csv"),
        "invoice_number,customer_id,issue_date,due_date,total\n\
         2026-001,C1,2026-10-01,2026-10-31,1210.00\n\
         2026-003,C2,2026-11-01,2026-11-29,99.95\n\
         2026-006,C3,2026-11-20,2026-12-20,80.00\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("payments.csv"),
        "invoice_number,date,amount\n2026-003,2026-11-21,49.95\n2026-001,2026-11-02,210.00\n",
    )
    .unwrap();
    let out = env.ok(&["import", "csv", s(&dir)]);
    // 2026-001 changes (a payment lowers its open amount), 2026-003 changes (new due date and
    // its payments are now the file's: the old 50.00 is removed, 49.95 added), 2026-006 is new.
    assert!(out.contains("invoices:  1 added, 2 changed, 0 unchanged"), "{out}");
    assert!(out.contains("payments:  2 added, 1 removed, 0 unchanged"), "{out}");
    let store = Store::open(&env.db()).unwrap();
    let invoices: BTreeMap<String, _> =
        store.load_invoices().unwrap().into_iter().map(|i| (i.number.clone(), i)).collect();
    assert_eq!(invoices["2026-001"].open_amount.to_string(), "1000.00");
    assert_eq!(invoices["2026-003"].open_amount.to_string(), "50.00");
    assert_eq!(invoices["2026-003"].due_date.to_string(), "2026-11-29");
    assert_eq!(invoices.len(), 6);
    // Untouched invoices keep their payments.
    assert_eq!(invoices["2026-005"].paid_date.unwrap().to_string(), "2026-09-14");
}

#[test]
fn payments_only_import_updates_stored_invoices() {
    let env = Env::new();
    env.ok(&["import", "csv", s(&testdata("good"))]);
    let dir = env.path().join("pay");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("payments.csv"), "invoice_number,date,amount\n2026-001,2026-11-25,1210.00\n")
        .unwrap();
    let out = env.ok(&["import", "csv", s(&dir)]);
    assert!(out.contains("1 other invoices' open amounts updated"), "{out}");
    let store = Store::open(&env.db()).unwrap();
    let inv = store.load_invoices().unwrap().into_iter().find(|i| i.number == "2026-001").unwrap();
    assert_eq!(inv.open_amount.to_string(), "0.00");
    assert_eq!(inv.paid_date.unwrap().to_string(), "2026-11-25");
}

#[test]
fn every_broken_input_is_reported_and_leaves_the_store_unchanged() {
    let env = Env::new();
    env.ok(&["import", "csv", s(&testdata("good"))]);
    let before = dump(&env);
    let mut cases: Vec<_> =
        std::fs::read_dir(testdata("broken")).unwrap().map(|e| e.unwrap().path()).collect();
    cases.sort();
    assert!(cases.len() >= 20, "the corpus has {} cases", cases.len());
    for case in cases {
        let expect = std::fs::read_to_string(case.join("expect")).unwrap();
        let err = env.fails(&["import", "csv", s(&case)]);
        for line in expect.lines().filter(|l| !l.is_empty()) {
            assert!(err.contains(line), "case {}: expected `{line}` in:\n{err}", case.display());
        }
        assert!(err.starts_with("error: "), "case {}: {err}", case.display());
        assert_eq!(before, dump(&env), "case {} changed the store", case.display());
    }
}

#[test]
fn huge_field_is_refused_with_its_place() {
    let env = Env::new();
    env.ok(&["import", "csv", s(&testdata("good"))]);
    let before = dump(&env);
    let dir = env.path().join("huge");
    std::fs::create_dir(&dir).unwrap();
    let name = "x".repeat(100_000);
    std::fs::write(dir.join("customers.csv"), format!("customer_id,name,kind\nC9,{name},b2b\n")).unwrap();
    let err = env.fails(&["import", "csv", s(&dir)]);
    assert!(err.contains("customers.csv:2:2: field is 100000 bytes long, the limit is 4096"), "{err}");
    // An unclosed quote swallows the rest of the file into one field.
    let rest = (0..2000).map(|i| format!("C{i},Name {i},b2b\n")).collect::<String>();
    std::fs::write(dir.join("customers.csv"), format!("customer_id,name,kind\nC9,\"Open quote,b2b\n{rest}"))
        .unwrap();
    let err = env.fails(&["import", "csv", s(&dir)]);
    assert!(err.contains("customers.csv:2:2: field is"), "{err}");
    assert!(err.contains("is a quote left open on this line?"), "{err}");
    assert_eq!(before, dump(&env));
}

#[test]
fn spreadsheet_quirks_are_accepted() {
    let env = Env::new();
    let out = env.ok(&["import", "csv", s(&testdata("quirks"))]);
    assert!(out.contains("customers: 2 added"), "{out}");
    let store = Store::open(&env.db()).unwrap();
    let customers = store.load_customers().unwrap();
    assert_eq!(customers[0].name, "Van Dam, Hout & Co");
    assert_eq!(customers[1].name, "Anaïs Lévêque");
    assert_eq!(customers[1].kind, dunwell::model::CustomerKind::B2c);
    let invoices = store.load_invoices().unwrap();
    assert_eq!(invoices[0].total.to_string(), "150.00");
    assert_eq!(invoices[0].currency, "EUR");
}

#[test]
fn json_summary_for_scripts() {
    let env = Env::new();
    let out = env.ok(&["import", "csv", s(&testdata("good")), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["invoices"]["added"], 5);
    assert_eq!(v["payments"]["added"], 3);
}

/// Kills imports part-way through: the store must hold all of an import or nothing of it, and
/// be sound. The kills are timed from the process's own log: `importing …` is logged right
/// before the import's one transaction opens and `…; committing` right before it commits. A
/// run killed while another connection could not take the write lock (the import held it)
/// and before `committing` was killed while writing, and must leave the store exactly as
/// before. Some kills must land there on any machine: the delays are fractions of how long
/// an uninterrupted run took to write, and they shrink while kills come too late.
#[test]
fn killed_import_leaves_all_or_nothing() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};

    let env = Env::new();
    let export = env.path().join("big");
    env.ok(&["sample", "--customers", "2000", "--invoices", "20000", "--seed", "7", s(&export)]);
    // The store before each run holds the small good export.
    env.ok(&["import", "csv", s(&testdata("good"))]);
    let before = dump(&env);
    let data = env.path().join("data");
    let saved = env.path().join("data-before");
    let copy = |from: &std::path::Path, to: &std::path::Path| {
        let _ = std::fs::remove_dir_all(to);
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    };
    copy(&data, &saved);

    /// One run of the import from the saved store, killed `kill_after` the `importing` line:
    /// (its log lines with the time each was read, whether a writer held the lock just before
    /// the kill).
    struct Run {
        log: Vec<(Instant, String)>,
        writer_active: bool,
    }
    let run = |kill_after: Option<Duration>| -> Run {
        copy(&saved, &data);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dunwell"))
            .arg("--config")
            .arg(env.path().join("dunwell.toml"))
            .args(["import", "csv", s(&export)])
            .current_dir(env.path())
            .env("DUNWELL_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (lines, log) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = lines.send((Instant::now(), line));
            }
        });
        let mut seen = Vec::new();
        while !seen.iter().any(|(_, l): &(Instant, String)| l.contains("importing ")) {
            let line = log.recv_timeout(Duration::from_secs(120));
            seen.push(line.unwrap_or_else(|e| panic!("no `importing` line ({e}): {seen:?}")));
        }
        let mut writer_active = false;
        if let Some(delay) = kill_after {
            let probe = rusqlite::Connection::open(env.db()).unwrap();
            probe.busy_timeout(Duration::ZERO).unwrap();
            std::thread::sleep(delay);
            match probe.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => probe.execute_batch("ROLLBACK").unwrap(),
                Err(e) => writer_active = e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy),
            }
            let _ = child.kill(); // SIGKILL: no chance to clean up
        }
        let status = child.wait().unwrap();
        seen.extend(log.iter());
        if kill_after.is_none() {
            assert!(status.success(), "{seen:?}");
        }
        Run { log: seen, writer_active }
    };
    let at = |run: &Run, text: &str| run.log.iter().find(|(_, l)| l.contains(text)).map(|(t, _)| *t);

    // Uninterrupted: what "all" is, and how long the writing took.
    let whole = run(None);
    let after = dump(&env);
    assert_ne!(after, before);
    let writing = at(&whole, "; committing").unwrap() - at(&whole, "importing ").unwrap();

    let mut outcomes = Vec::new();
    let mut while_writing = 0;
    let mut fractions = vec![0.1, 0.3, 0.5, 0.7, 0.9, 1.5, 3.0];
    let mut next = 0;
    while next < fractions.len() {
        let delay = writing.mul_f64(fractions[next]);
        next += 1;
        let killed = run(Some(delay));
        let store = Store::open(&env.db()).unwrap();
        assert_eq!(store.integrity_check().unwrap(), "ok");
        drop(store);
        let state = dump(&env);
        let committing = at(&killed, "; committing").is_some();
        let outcome = if state == before {
            "nothing"
        } else {
            assert!(state == after, "killed {delay:?} in: neither all nor nothing\n{:?}", killed.log);
            "everything"
        };
        if !committing {
            assert_eq!(outcome, "nothing", "killed {delay:?} in, before its commit");
        }
        let mid_write = killed.writer_active && !committing;
        while_writing += usize::from(mid_write);
        outcomes
            .push(format!("{delay:?}: {outcome}{}", if mid_write { " (killed while writing)" } else { "" }));
        // Every kill came too late for this machine's speed now: try earlier ones.
        if next == fractions.len() && while_writing == 0 && fractions.len() < 20 {
            fractions.push(fractions.iter().copied().fold(1.0, f64::min) / 2.0);
        }
    }
    assert!(while_writing > 0, "no kill landed while the import was writing: {outcomes:?}");
    eprintln!("outcomes of the kills: {outcomes:?}");
    // And the import still works afterwards.
    env.ok(&["import", "csv", s(&export)]);
}

/// sample-data/README.md promises the shipped export is reproducible byte for byte.
#[test]
fn shipped_sample_data_is_what_the_generator_writes() {
    let env = Env::new();
    let out = env.path().join("sample");
    env.ok(&[
        "sample",
        "--customers",
        "200",
        "--invoices",
        "2000",
        "--seed",
        "1",
        "--as-of",
        "2026-12-01",
        s(&out),
    ]);
    for f in ["customers.csv", "invoices.csv", "payments.csv"] {
        let shipped = std::fs::read(crate::repo().join("sample-data").join(f)).unwrap();
        assert!(
            shipped == std::fs::read(out.join(f)).unwrap(),
            "sample-data/{f} differs from the generator's output"
        );
    }
}

/// invoices.csv is written while it is still being read: a problem far down a big file, after
/// several chunks of rows were already written, must still roll all of them back, and every
/// problem of the file is reported, not only the first.
#[test]
fn a_problem_late_in_a_big_file_rolls_back_what_was_already_written() {
    let env = Env::new();
    env.ok(&["import", "csv", s(&testdata("good"))]);
    let before = dump(&env);
    let dir = env.path().join("big");
    std::fs::create_dir(&dir).unwrap();
    let mut csv = String::from("invoice_number,customer_id,issue_date,due_date,total\n");
    for i in 1..=30_000 {
        // Line i + 1 of the file; the unknown customer and the repeated number sit far past
        // the first chunks.
        let customer = if i == 29_000 { "C404" } else { "C1" };
        let number = if i == 29_500 || i == 29_700 { 7 } else { i };
        csv.push_str(&format!("BIG-{number},{customer},2026-10-01,2026-10-31,{i}.50\n"));
    }
    std::fs::write(dir.join("invoices.csv"), csv).unwrap();
    let err = env.fails(&["import", "csv", s(&dir)]);
    assert!(
        err.contains("invoices.csv:29001:2: customer_id `C404` is not in customers.csv nor in the store"),
        "{err}"
    );
    assert!(
        err.contains("invoices.csv:29501: invoice_number `BIG-7` appears twice; first on line 8"),
        "{err}"
    );
    assert!(
        err.contains("invoices.csv:29701: invoice_number `BIG-7` appears twice; first on line 8"),
        "{err}"
    );
    assert_eq!(before, dump(&env), "a failed import left rows behind");
    // The same file without the two problems goes in whole.
    let fixed = std::fs::read_to_string(dir.join("invoices.csv"))
        .unwrap()
        .replace("BIG-29000,C404,", "BIG-29000,C1,")
        .replace("BIG-7,C1,2026-10-01,2026-10-31,29500.50", "BIG-29500,C1,2026-10-01,2026-10-31,29500.50")
        .replace("BIG-7,C1,2026-10-01,2026-10-31,29700.50", "BIG-29700,C1,2026-10-01,2026-10-31,29700.50");
    std::fs::write(dir.join("invoices.csv"), fixed).unwrap();
    let out = env.ok(&["import", "csv", s(&dir)]);
    assert!(out.contains("invoices:  30000 added, 0 changed, 0 unchanged"), "{out}");
}

/// Many packages export only the open invoices. An invoice open in the store that a later
/// export leaves out was probably paid: the import keeps it (upsert by key) but says so,
/// naming the invoices, instead of letting dunwell chase them silently.
#[test]
fn open_invoices_missing_from_a_later_export_are_named() {
    let env = Env::new();
    env.ok(&["import", "csv", s(&testdata("good"))]);
    let dir = env.path().join("open-only");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("invoices.csv"),
        "invoice_number,customer_id,issue_date,due_date,total,open_amount\n\
         2026-004,C3,2026-11-10,2026-12-10,4840.00,4840.00\n\
         2026-002,C1,2026-10-15,2026-11-14,605.00,0\n",
    )
    .unwrap();
    let out = env.run(&["import", "csv", s(&dir)]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 invoice(s) open in the store are not in this invoices.csv (2026-001, 2026-003)"),
        "{err}"
    );
    // Kept as they were: the warning tells, the import does not guess.
    let open: Vec<String> = Store::open(&env.db())
        .unwrap()
        .load_invoices()
        .unwrap()
        .into_iter()
        .filter(|i| !i.open_amount.is_zero())
        .map(|i| i.number)
        .collect();
    assert_eq!(open, ["2026-001", "2026-003", "2026-004"]);
    // The full export again: nothing missing, no warning.
    let out = env.run(&["import", "csv", s(&testdata("good"))]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not in this invoices.csv"));
}

/// The body of `dunwell preview --format json` with `args`.
fn preview_body(env: &Env, args: &[&str]) -> String {
    let mut all = vec!["preview", "--format", "json"];
    all.extend_from_slice(args);
    let out = env.ok(&all);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v["body"].as_str().unwrap().to_string()
}

#[test]
fn the_optional_jurisdiction_and_contact_columns_are_imported_and_used() {
    // A Dutch business; two business customers in Belgium, each 1000.00 due Wed 2026-07-01.
    // B1 says `jurisdiction = be` and names its contact person: Belgian rules (the € 40 fixed
    // compensation of art. 6 of the law of 2 August 2002, interest at the Belgian commercial rate
    // of 10.5 %) and "Geachte Anne Jansen". B2 leaves both empty: the business's Dutch law (BIK
    // 15 % = 150.00, wettelijke handelsrente 10.15 %) and "Geachte heer, mevrouw".
    // The 14-day letter (J+25, Mon 07-27): interest for 26 days (07-02..07-27):
    // 1000.00 x 10.5 % x 26/365 = 7.4795 -> 7.48; x 10.15 % = 7.2301 -> 7.23.
    let env = Env::new();
    let dir = env.path().join("export");
    std::fs::create_dir_all(&dir).unwrap();
    let customers = "customer_id,name,kind,language,email,country,jurisdiction,contact\n\
        B1,Brasserie Het Anker BV,b2b,nl,boekhouding@hetanker.example,BE,be,Anne Jansen\n\
        B2,Brouwerij De Zon BV,b2b,nl,info@dezon.example,BE,,\n";
    std::fs::write(dir.join("customers.csv"), customers).unwrap();
    std::fs::write(
        dir.join("invoices.csv"),
        "invoice_number,customer_id,issue_date,due_date,currency,total,open_amount\n\
         A-1,B1,2026-06-01,2026-07-01,EUR,1000.00,\nZ-1,B2,2026-06-01,2026-07-01,EUR,1000.00,\n",
    )
    .unwrap();
    let out = env.ok(&["import", "csv", s(&dir)]);
    assert!(out.contains("customers: 2 added"), "{out}");
    let stored = Store::open(&env.db()).unwrap().load_customers().unwrap();
    assert_eq!(stored[0].jurisdiction, Some(dunwell::calendar::Jurisdiction::Be));
    assert_eq!(stored[0].contact.as_deref(), Some("Anne Jansen"));
    assert_eq!((stored[1].jurisdiction, stored[1].contact.as_deref()), (None, None));
    let out = env.ok(&["import", "csv", s(&dir)]);
    assert!(out.contains("customers: 0 added, 0 changed, 2 unchanged"), "{out}");

    let plan = env.ok(&["plan", "--at", "2026-07-02", "--days", "30", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let letter = |invoice: &str| {
        plan.as_array()
            .unwrap()
            .iter()
            .find(|a| a["invoice_number"] == invoice && a["step"] == 3)
            .unwrap_or_else(|| panic!("{plan:#}"))
            .clone()
    };
    let (a, z) = (letter("A-1"), letter("Z-1"));
    assert_eq!(a["date"], "2026-07-27");
    let amounts = |x: &serde_json::Value| {
        [&x["jurisdiction"], &x["interest_basis"], &x["interest_rate"], &x["interest"], &x["costs"]]
            .map(|v| v.as_str().unwrap_or_default().to_string())
    };
    assert_eq!(amounts(&a), ["be", "be-commercial", "10.5", "7.48", "40.00"], "{a}");
    assert_eq!(amounts(&z), ["nl", "nl-commercial", "10.15", "7.23", "150.00"], "{z}");

    let body = preview_body(&env, &["--invoice", "A-1", "--step", "3", "--at", "2026-07-02"]);
    assert!(body.starts_with("Geachte Anne Jansen,\n"), "{body}");
    assert!(
        body.contains("een forfaitaire vergoeding voor invorderingskosten van € 40,00 (art. 6 van de wet van 2 augustus 2002; geen btw)"),
        "{body}"
    );
    assert!(body.contains("rekenen wij verwijlintrest aan (wet van 2 augustus 2002"), "{body}");
    assert!(body.contains("10,5% per jaar) vanaf de dag na de vervaldatum tot de dag van volledige betaling; tot en met vandaag is dat € 7,48"), "{body}");
    let body = preview_body(&env, &["--invoice", "Z-1", "--step", "3", "--at", "2026-07-02"]);
    assert!(body.starts_with("Geachte heer, mevrouw,\n"), "{body}");
    assert!(body.contains("incassokosten van € 150,00 (art. 6:96 BW en Besluit BIK; geen btw)"), "{body}");
    assert!(!body.contains("Brouwerij De Zon BV,\n"), "{body}");
    // In English the contact is "Dear Anne Jansen".
    let body = preview_body(&env, &["--invoice", "A-1", "--step", "3", "--at", "2026-07-02", "--lang", "en"]);
    assert!(body.starts_with("Dear Anne Jansen,\n"), "{body}");

    // A new contact in the export is a change, and the next letter names them.
    std::fs::write(dir.join("customers.csv"), customers.replace("Anne Jansen", "Piet de Vries")).unwrap();
    let out = env.ok(&["import", "csv", s(&dir)]);
    assert!(out.contains("customers: 0 added, 1 changed, 1 unchanged"), "{out}");
    let body = preview_body(&env, &["--invoice", "A-1", "--step", "3", "--at", "2026-07-02"]);
    assert!(body.starts_with("Geachte Piet de Vries,\n"), "{body}");
}
