//! `dunwell import csv|xlsx` with files as people have them: the corpus of
//! tests/testdata/spreadsheets (Dutch and Belgian Excel dialects, ambiguous files, open-items
//! reports, a preset) and the workbooks of its xlsx/ folder; dry runs; open-items re-imports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dunwell::store::Store;

use crate::{s, testdata, Env};

fn corpus(case: &str) -> PathBuf {
    testdata("spreadsheets").join(case)
}

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

fn invoices(env: &Env) -> BTreeMap<String, dunwell::model::Invoice> {
    let store = Store::open(&env.db()).unwrap();
    store.load_invoices().unwrap().into_iter().map(|i| (i.number.clone(), i)).collect()
}

/// An env whose dunwell.toml has the case's `import.toml` lines, if any.
fn env_for(case: &Path) -> Env {
    let extra = std::fs::read_to_string(case.join("import.toml")).unwrap_or_default();
    Env::with_config(&extra)
}

fn expected(case: &Path, file: &str) -> Vec<String> {
    std::fs::read_to_string(case.join(file))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// Every folder case of the corpus: a good one imports and its summary has every `expect`
/// line; a bad one is refused with every line in the message and leaves the store as it was.
#[test]
fn every_corpus_case_gives_what_its_expect_says() {
    let cases = [
        "nl-excel",
        "be-nl-excel",
        "be-nl-excel/tab",
        "be-fr-excel",
        "ambiguous-amounts",
        "month-first",
        "calc-roundtrip",
    ];
    for name in cases {
        let case = corpus(name);
        let env = env_for(&case);
        env.ok(&["import", "csv", s(&testdata("good"))]);
        let before = dump(&env);
        let expect = expected(&case, "expect");
        let good = expect.iter().any(|l| l.contains(" added"));
        if good {
            let out = env.ok(&["import", "csv", s(&case)]);
            for line in &expect {
                assert!(out.contains(line.as_str()), "case {name}: expected `{line}` in:\n{out}");
            }
            // A second import of the same files changes nothing.
            let again = env.ok(&["import", "csv", s(&case)]);
            assert!(again.contains("invoices:  0 added, 0 changed"), "case {name}: {again}");
        } else {
            let err = env.fails(&["import", "csv", s(&case)]);
            for line in &expect {
                assert!(err.contains(line.as_str()), "case {name}: expected `{line}` in:\n{err}");
            }
            assert!(err.starts_with("error: "), "case {name}: {err}");
            assert_eq!(before, dump(&env), "case {name} changed the store");
        }
    }
}

#[test]
fn a_dutch_excel_export_is_read_exactly() {
    let env = Env::new();
    let out = env.ok(&["import", "csv", s(&corpus("nl-excel"))]);
    assert!(out.contains("read as: ; separated, decimal comma, dates DD-MM-YYYY, Windows-1252"), "{out}");
    let store = Store::open(&env.db()).unwrap();
    let customers = store.load_customers().unwrap();
    assert_eq!(customers[0].name, "Café 't Hoekje");
    assert_eq!(customers[0].kind, dunwell::model::CustomerKind::B2b);
    assert_eq!(customers[1].name, "Zoë de Vries");
    assert_eq!(customers[1].kind, dunwell::model::CustomerKind::B2c);
    assert_eq!(customers[2].address.street.as_deref(), Some("Industrieweg 7; unit 3"));
    let inv = invoices(&env);
    assert_eq!(inv["2026-0101"].total.to_string(), "1234.50");
    assert_eq!(inv["2026-0101"].due_date.to_string(), "2026-10-31");
    assert_eq!(inv["2026-0102"].open_amount.to_string(), "302.50");
    assert_eq!(inv["2026-0104"].total.to_string(), "12100.00");
    assert_eq!(inv["2026-0104"].paid_date.unwrap().to_string(), "2026-09-18");
}

#[test]
fn the_summary_names_the_dialect_in_json_too() {
    let env = Env::new();
    let out = env.ok(&["import", "csv", s(&corpus("be-nl-excel")), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // Every field the summary had before is still there.
    for field in ["customers", "invoices", "payments", "settlements_updated", "warnings"] {
        assert!(v.get(field).is_some(), "no `{field}` in {v}");
    }
    assert_eq!(v["invoices"]["added"], 3);
    assert_eq!(v["dialect"]["text"], "; separated, decimal comma, dates D-M-YYYY, Windows-1252");
    let files = v["dialect"]["files"].as_array().unwrap();
    let invoices = files.iter().find(|f| f["file"] == "invoices.csv").unwrap();
    assert_eq!(invoices["separator"], ";");
    assert_eq!(invoices["decimal"], "comma");
    assert_eq!(invoices["dates"][0], "D-M-YYYY");
    assert!(invoices["columns"].as_array().unwrap().iter().any(|c| c[0] == "Saldo" && c[1] == "open_amount"));
    // The documented format says so.
    let env = Env::new();
    let out = env.ok(&["import", "csv", s(&testdata("good")), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["dialect"]["files"][0]["format"], "export");
}

#[test]
fn a_file_without_kind_takes_the_configured_default_and_says_so() {
    let env = Env::with_config("[import]\ndefault_kind = \"b2b\"\n");
    let out = env.ok(&["import", "csv", s(&corpus("be-fr-excel"))]);
    assert!(out.contains("customers: 2 added"), "{out}");
    assert!(out.contains("invoices:  3 added"), "{out}");
    assert!(out.contains("2 new customer(s) taken as b2b ([import] default_kind)"), "{out}");
    assert!(out.contains("dates DD/MM/YYYY, UTF-8 with BOM"), "{out}");
    let inv = invoices(&env);
    assert_eq!(inv["F-2026-032"].open_amount.to_string(), "242.00");
}

#[test]
fn what_detection_cannot_tell_is_set_in_dunwell_toml() {
    // Month first only when configured.
    let env = Env::with_config("[import]\ndate_format = \"MM/DD/YYYY\"\n");
    env.ok(&["import", "csv", s(&corpus("month-first"))]);
    assert_eq!(invoices(&env)["2026-601"].issue_date.to_string(), "2026-10-15");
    // Thousands points: with the decimal comma said, 1.250 is 1250.
    let env = Env::with_config("[import]\ndecimal = \"comma\"\n");
    let out = env.ok(&["import", "csv", s(&corpus("ambiguous-amounts"))]);
    assert!(out.contains("decimal comma (set in [import])"), "{out}");
    assert_eq!(invoices(&env)["2026-503"].total.to_string(), "12100");
    // An unknown header mapped by hand.
    let env = Env::with_config("[import.columns]\n\"Ref.\" = \"invoice_number\"\n");
    let dir = env.path().join("mapped");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("customers.csv"), "Klantnummer;Naam;Soort\nK1;Smit;zakelijk\n").unwrap();
    std::fs::write(
        dir.join("invoices.csv"),
        "Ref.;Klantnummer;Factuurdatum;Vervaldatum;Bedrag incl. btw\nA-1;K1;01-10-2026;31-10-2026;1.210,00\n",
    )
    .unwrap();
    env.ok(&["import", "csv", s(&dir)]);
    assert_eq!(invoices(&env)["A-1"].total.to_string(), "1210.00");
    // A setting that is not one is refused with dunwell.toml's line.
    let env = Env::with_config("[import]\ndecimal = \"komma\"\n");
    let err = env.fails(&["import", "csv", s(&corpus("nl-excel"))]);
    assert!(err.contains("dunwell.toml:4:"), "{err}");
    assert!(err.contains("decimal = \"komma\" is not a decimal mark"), "{err}");
    let env = Env::with_config("[import]\nseperator = \";\"\n");
    let err = env.fails(&["import", "csv", s(&corpus("nl-excel"))]);
    assert!(err.contains("seperator"), "{err}");
}

#[test]
fn an_unknown_column_gets_one_message_with_the_headers_found() {
    let env = Env::new();
    let dir = env.path().join("renamed");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("invoices.csv"),
        "Factuurnumer;Klant nr.;Datum;Verval;Bedrag\nA-1;K1;01-10-2026;31-10-2026;10,00\n",
    )
    .unwrap();
    let err = env.fails(&["import", "csv", s(&dir)]);
    assert_eq!(err.matches("missing required column").count(), 1, "{err}");
    assert!(err.contains("invoices.csv:1: missing required columns `invoice_number`, `due_date`"), "{err}");
    assert!(err.contains("the header has `Factuurnumer`, `Klant nr.`, `Datum`, `Verval`, `Bedrag`"), "{err}");
    assert!(err.contains("`Factuurnumer` is close to `Factuurnummer` (invoice_number)"), "{err}");
    assert!(err.contains("[import.columns]"), "{err}");
}

#[test]
fn a_dry_run_reads_checks_and_shows_but_writes_nothing() {
    // Into a store that does not exist: not even the database file is made.
    let env = Env::new();
    let out = env.ok(&["import", "csv", s(&corpus("nl-excel")), "--dry-run"]);
    assert!(out.contains("customers: 3 added"), "{out}");
    assert!(out.contains("first invoices as read:"), "{out}");
    assert!(
        out.contains(
            "2026-0101  customer K1001  issued 2026-10-01  due 2026-10-31  EUR 1234.50  open 1234.50"
        ),
        "{out}"
    );
    assert!(out.contains("read as: ; separated, decimal comma"), "{out}");
    assert!(out.contains("nothing was stored"), "{out}");
    assert!(!env.db().exists(), "a dry run made the database");
    // Into a store that has data: counts as the real import would, and nothing changes.
    env.ok(&["import", "csv", s(&testdata("good"))]);
    let before = dump(&env);
    let out = env.ok(&["import", "csv", s(&corpus("nl-excel")), "--dry-run", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["invoices"]["added"], 5);
    assert_eq!(v["preview"]["invoices"][0]["number"], "2026-0101");
    assert_eq!(before, dump(&env));
    let out = env.ok(&["import", "xlsx", s(&corpus("xlsx/export.xlsx")), "--dry-run"]);
    assert!(out.contains("invoices:  4 added"), "{out}");
    assert_eq!(before, dump(&env));
    // A refused dry run is refused like the import.
    env.fails(&["import", "csv", s(&corpus("ambiguous-amounts")), "--dry-run"]);
    assert_eq!(before, dump(&env));
}

/// The README's three steps: a report, a later one with --open-items (two invoices left it:
/// marked paid on its date), and the later one without --open-items (nothing marked paid).
#[test]
fn a_later_open_items_report_marks_paid_only_with_open_items() {
    let case = corpus("open-items");
    let first = case.join("report-2026-11-01.csv");
    let second = case.join("report-2026-11-15.csv");
    let env = env_for(&case);
    // One file is not taken for a report unless said so (or a preset recognises it).
    let err = env.fails(&["import", "csv", s(&first)]);
    assert!(err.contains("--open-items"), "{err}");
    let out = env.ok(&["import", "csv", s(&first), "--open-items", "--report-date", "2026-11-01"]);
    for line in expected(&case, "expect") {
        assert!(out.contains(&line), "expected `{line}` in:\n{out}");
    }
    assert!(out.contains("5 invoices, 4599.45 EUR open"), "{out}");
    let saved = env.path().join("after-first");
    crate::copy_dir(&env.path().join("data"), &saved);

    let out = env.ok(&["import", "csv", s(&second), "--open-items", "--report-date", "2026-11-15"]);
    for line in expected(&case, "expect-2026-11-15") {
        assert!(out.contains(&line), "expected `{line}` in:\n{out}");
    }
    assert!(
        out.contains("marked paid on 2026-11-15, no longer in the report (2): 2026-0207, 2026-0215"),
        "{out}"
    );
    assert!(out.contains("invoices:  1 added, 0 changed, 3 unchanged"), "{out}");
    let inv = invoices(&env);
    for n in ["2026-0207", "2026-0215"] {
        assert_eq!(inv[n].open_amount.to_string(), "0.00", "{n}");
        assert_eq!(inv[n].paid_date.unwrap().to_string(), "2026-11-15", "{n}");
    }
    assert_eq!(inv["2026-0230"].open_amount.to_string(), "45.00");
    let open: rust_decimal::Decimal = inv.values().map(|i| i.open_amount).sum();
    assert_eq!(open.to_string(), "1974.45");
    // Customers are keyed by name when the report has no number.
    let store = Store::open(&env.db()).unwrap();
    assert!(store.load_customers().unwrap().iter().any(|c| c.id == "Zoë de Vries"));
    drop(store);

    // A dry run of the later report says what it would mark paid, and marks nothing.
    std::fs::remove_dir_all(env.path().join("data")).unwrap();
    crate::copy_dir(&saved, &env.path().join("data"));
    let out =
        env.ok(&["import", "csv", s(&second), "--open-items", "--dry-run", "--report-date", "2026-11-15"]);
    assert!(out.contains("marked paid on 2026-11-15"), "{out}");
    let inv = invoices(&env);
    assert_eq!(inv["2026-0207"].open_amount.to_string(), "250.00", "a dry run marked it paid");
}

#[test]
fn without_open_items_an_invoice_that_left_the_report_stays_open() {
    let case = corpus("open-items");
    let env = env_for(&case);
    env.ok(&[
        "import",
        "csv",
        s(&case.join("report-2026-11-01.csv")),
        "--open-items",
        "--report-date",
        "2026-11-01",
    ]);
    // --report-date belongs to --open-items.
    let err =
        env.fails(&["import", "csv", s(&case.join("report-2026-11-15.csv")), "--report-date", "2026-11-15"]);
    assert!(err.contains("--report-date"), "{err}");
    let xlsx_like = env.path().join("later");
    std::fs::create_dir(&xlsx_like).unwrap();
    // The later report under a header Yuki's preset recognises, so no --open-items is needed.
    let text = std::fs::read(case.join("report-2026-11-15.csv")).unwrap();
    let text = dunwell::import::dialect::decode_windows_1252(&text);
    let body: String = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.trim_end_matches('\r').split(';').collect();
            // Factuurnr.;Relatie;Onderwerp;Factuurdatum;Vervaldatum;Btw-bedrag;Bedrag;Uitstaand;Dagen achterstallig
            format!("{};{};;{};{};;{};{};\r\n", f[1], f[0], f[2], f[3], f[4], f[4])
        })
        .collect();
    let file = xlsx_like.join("yuki.csv");
    std::fs::write(
        &file,
        format!("Factuurnr.;Relatie;Onderwerp;Factuurdatum;Vervaldatum;Btw-bedrag;Bedrag;Uitstaand;Dagen achterstallig\r\n{body}"),
    )
    .unwrap();
    let out = env.ok(&["import", "csv", s(&file)]);
    assert!(out.contains("preset yuki"), "{out}");
    assert!(out.contains("invoices:  1 added"), "{out}");
    assert!(
        out.contains(
            "not in the report but left open, as --open-items was not given (2): 2026-0207, 2026-0215"
        ),
        "{out}"
    );
    let inv = invoices(&env);
    assert_eq!(inv["2026-0207"].open_amount.to_string(), "250.00");
    assert_eq!(inv["2026-0207"].paid_date, None);
    assert_eq!(inv["2026-0215"].open_amount.to_string(), "2420.00");
}

#[test]
fn the_yuki_preset_is_recognised_from_its_header() {
    let case = corpus("presets/yuki");
    let env = env_for(&case);
    let out = env.ok(&["import", "csv", s(&case.join("te-herinneren-facturen.csv"))]);
    for line in expected(&case, "expect") {
        assert!(out.contains(&line), "expected `{line}` in:\n{out}");
    }
    assert!(out.contains("preset yuki"), "{out}");
    let inv = invoices(&env);
    assert_eq!(inv["2026-0315"].total.to_string(), "605.00");
    assert_eq!(inv["2026-0315"].open_amount.to_string(), "305.00");
    let err = env.fails(&["import", "csv", s(&case.join("te-herinneren-facturen.csv")), "--preset", "nope"]);
    assert!(err.contains("no such preset"), "{err}");
}

#[test]
fn a_workbook_imports_like_its_csv_files() {
    let env = Env::new();
    let out = env.ok(&["import", "xlsx", s(&corpus("xlsx/export.xlsx"))]);
    assert!(out.contains("customers: 3 added"), "{out}");
    assert!(out.contains("invoices:  4 added"), "{out}");
    assert!(out.contains("payments:  2 added"), "{out}");
    assert!(out.contains("Excel workbook"), "{out}");
    let inv = invoices(&env);
    assert_eq!(inv["2026-0101"].total.to_string(), "1234.50");
    assert_eq!(inv["2026-0102"].total.to_string(), "0.10");
    assert_eq!(inv["2026-0104"].open_amount.to_string(), "605.25");
    assert_eq!(inv["2026-0101"].due_date.to_string(), "2026-10-31");
    let store = Store::open(&env.db()).unwrap();
    let customers = store.load_customers().unwrap();
    assert_eq!(customers[1].name, "Brasserie Léonie");
    assert_eq!(customers[0].phone.as_deref(), Some("+31612345678"));
    drop(store);
    let before = dump(&env);
    // The same sheets saved as .xls and .ods are the same records.
    for other in ["xlsx/export.xls", "xlsx/export.ods"] {
        let out = env.ok(&["import", "xlsx", s(&corpus(other))]);
        assert!(out.contains("invoices:  0 added, 0 changed, 4 unchanged"), "{other}: {out}");
        assert_eq!(before, dump(&env), "{other}");
    }
}

#[test]
fn a_workbook_of_open_items_and_a_cell_error() {
    let env = Env::with_config("[import]\ndefault_kind = \"b2b\"\n");
    let book = corpus("xlsx/open-items.xlsx");
    let err = env.fails(&["import", "xlsx", s(&book)]);
    assert!(err.contains("--open-items"), "{err}");
    let out = env.ok(&["import", "xlsx", s(&book), "--open-items", "--report-date", "2026-11-30"]);
    assert!(out.contains("customers: 3 added"), "{out}");
    assert!(out.contains("invoices:  3 added"), "{out}");
    let inv = invoices(&env);
    assert_eq!(inv["F2026-131"].total.to_string(), "2420.00");
    assert_eq!(inv["F2026-131"].open_amount.to_string(), "1000.01");
    let before = dump(&env);
    let err = env.fails(&["import", "xlsx", s(&corpus("xlsx/errors.xlsx"))]);
    assert!(err.contains("errors.xlsx"), "{err}");
    assert!(err.contains("F3"), "{err}");
    assert_eq!(before, dump(&env));
}

#[test]
fn a_bad_cell_of_a_workbook_is_named_by_sheet_row_and_column() {
    let env = Env::new();
    let dir = env.path().join("books");
    std::fs::create_dir(&dir).unwrap();
    // A folder of one workbook is that workbook.
    std::fs::copy(corpus("xlsx/export.xlsx"), dir.join("export.xlsx")).unwrap();
    let out = env.ok(&["import", "xlsx", s(&dir), "--dry-run"]);
    assert!(out.contains("invoices:  4 added"), "{out}");
    env.ok(&["import", "xlsx", s(&dir)]);
    let err = env.fails(&["import", "csv", s(&dir)]);
    assert!(err.contains("holds none of customers.csv"), "{err}");
}
