//! Bank statements end to end: the real camt.053 files of tests/testdata/connectors/camt053
//! (where each comes from: its README) synced through the camt053 component by the real
//! `dunwell` binary. What each file must give was read by hand from its XML; the connector's
//! unit tests list every field of every record, these check that the records land in the store
//! (matched, unmatched or quarantined) and stay put on the next syncs.

use std::path::PathBuf;

use dunwell::store::Store;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::plugins::guest;
use crate::{s, testdata, Env};

/// Every real statement of the test data.
const FILES: &[&str] = &[
    "genkgo-camt053.v2.minimal.xml",
    "genkgo-camt053.v2.multi.statement.xml",
    "genkgo-camt053.v2.with-party-ids.xml",
    "genkgo-camt053.v3.xml",
    "genkgo-camt053.v4.xml",
    "genkgo-camt053.v8.xml",
    "moov-FI_camt_053_sample.xml.xml",
    "moov-camt.053_P_CH2909000000250094239_1110092698_0_2020112503071366.xml",
    "oca-test-camt053",
    "oca-test-camt053-txdtls",
    "subite-2024-03-07.xml",
    "viafintech-valid_example.xml",
    "viafintech-valid_example_v4.xml",
    "viafintech-valid_example_v8.xml",
    "viafintech-valid_example_with_batch.xml",
    "viafintech-valid_example_with_datetime.xml",
    "viafintech-valid_example_with_instdamt.xml",
];

/// The payments of all of them (id, amount, currency, received on), hand-checked per file.
/// genkgo's minimal and with-party-ids files hold the same payment under the same id: it counts
/// once.
const PAYMENTS: &[(&str, &str, &str, &str)] = &[
    // genkgo (v2 minimal and with-party-ids, v2 multi statement, v3, v4, v8)
    ("253EURNL26VAYB8060476890/0/0", "8.85", "EUR", "2014-12-31"),
    ("253EURNL26VAYB8060476890/000000001", "8.85", "EUR", "2014-12-31"),
    ("253EURNL26VAYB8060476890/XXXXXXXXXXXXXXXXXXXXXXEUR/0", "8.85", "EUR", "2014-12-31"),
    ("253EURNL26VAYB8060476890/AAAASESS-FP-CN_98765/01/0", "8.85", "EUR", "2014-12-31"),
    ("253EURNL26VAYB8060476890/MUELL/FINP/RA12345", "8.85", "EUR", "2014-12-31"),
    // moov: Finnish sample, PostFinance
    ("BANKSTMTID0972009/091029ACCTSTMTARCH06/0", "2120.00", "EUR", "2009-10-29"),
    ("BANKSTMTID0972009/091029ACCTSTMTARCH07/0", "5455.00", "EUR", "2009-10-29"),
    ("BANKSTMTID0972009/EndToEndIdSCT01", "10000.00", "EUR", "2009-10-29"),
    ("20201124375204229003973/0758103031480900", "4.50", "CHF", "2020-11-24"),
    ("20201124375204229003973/07582000303F0C7U", "1500.00", "CHF", "2020-11-24"),
    ("20201124375204229003973/07582000303KBMSU/3/0", "1537.00", "CHF", "2020-11-24"),
    ("20201124375204229003973/07582000303KBMSU/4/0", "1692.22", "CHF", "2020-11-24"),
    // OCA
    ("1234Test/1/115", "1405.31", "EUR", "2014-01-05"),
    ("20170323123456789012345/123456CHCAFEBABE/0/0", "2187.00", "CHF", "2017-03-22"),
    ("20170323123456789012345/123456CHCAFEBABE/0/1", "1296.00", "CHF", "2017-03-22"),
    // viafintech: VR-Bank v2
    ("0352C5320131227220503/2013122711085260000/0", "1.00", "EUR", "2013-12-27"),
    // viafintech: PostFinance v4
    ("20160430375204000008574/160527CH00T3L0GE", "100.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T3KWWA", "50.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T2H28C", "200.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T3L0W5", "50.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T3L0NC", "100.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T3KXDV", "200.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T3KZO9", "50.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T3L0V2", "100.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T99DU7", "50.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T99EBW", "100.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T2UENT", "50.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T2Y4XY", "20.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T3HDBA", "100.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T3VT3Y", "100.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T3VTGB", "30.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T3VTGE", "50.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T2QNQZ", "20.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160527CH00T3HG80", "250.00", "CHF", "2016-05-27"),
    ("20160430375204000008574/160406CH00NKZCKG", "20.00", "CHF", "2016-04-06"),
    ("20160430375204000008574/160406CH00NKSQ5N", "40.00", "CHF", "2016-04-06"),
    ("20160430375204000008574/160406CH00NKSQ5Q", "50.00", "CHF", "2016-04-06"),
    ("20160430375204000008574/TST_201-2091644-9", "15.00", "CHF", "2016-04-10"),
    ("20160430375204000008574/TST_201-2091644-8", "9.00", "CHF", "2016-04-10"),
    ("20160430375204000008574/TST_201-13113-5", "56.56", "CHF", "2016-04-10"),
    // viafintech: UBS v8, ING v2, Wise v10, the stray 0.04 detail
    ("R30B4SA880HMZ9XA/9999181ZC0283079", "474.4", "CHF", "2023-06-20"),
    ("R30B4SA880HMZ9XA/0123171DO5126811", "88.85", "CHF", "2023-06-20"),
    ("2019062434566666666666666/GBSXX21170607391766562", "2688.00", "EUR", "2019-06-13"),
    ("2019062434566666666666666/032019169492039060000000002/0", "5000.00", "EUR", "2019-06-18"),
    ("7301750-38631543-1688639227213/Test Buchung/0", "195.86", "USD", "2023-06-21"),
    ("STM-C053-190720325942-06/1340044232/0", "4500.00", "CHF", "2019-05-13"),
];

/// The records that cannot be used (id, reason): the Finnish sample's lump sums, whose
/// transactions only its camt.054 lists, and a Lithuanian credit without any date.
const QUARANTINED: &[(&str, &str)] = &[
    (
        "BANKSTMTID0972009/091029ACCTSTMTARCH04",
        "a batch of 2 transactions booked as one entry of 2000.00 EUR: the statement does not itemize them",
    ),
    (
        "BANKSTMTID0972009/091029ACCTSTMTARCH05",
        "a batch of 2 transactions booked as one entry of 3000.00 EUR: the statement does not itemize them",
    ),
    (
        "BANKSTMTID0972009/091029ACCTSTMTARCH21",
        "a batch of 2 transactions booked as one entry of 500.00 EUR: the statement does not itemize them",
    ),
    (
        "MSG66141212-AUHHDI/REF000000011092",
        "a booked credit of 828531.98 EUR without a booking or value date",
    ),
];

fn env_with_bank() -> Env {
    let env = Env::with_config(&format!(
        "[plugins.bank]\npath = '{}'\ndirectory = 'bank'\n",
        s(&guest("dunwell_connector_camt053"))
    ));
    std::fs::create_dir_all(env.path().join("bank")).unwrap();
    env
}

/// Where a statement goes in the bank folder: the connector reads `*.xml` files only.
fn bank_file(env: &Env, name: &str) -> PathBuf {
    let file = if name.ends_with(".xml") { name.to_string() } else { format!("{name}.xml") };
    env.path().join("bank").join(file)
}

fn statement(name: &str) -> String {
    std::fs::read_to_string(testdata("connectors/camt053").join(name)).unwrap()
}

fn put(env: &Env, name: &str) {
    std::fs::copy(testdata("connectors/camt053").join(name), bank_file(env, name)).unwrap();
}

/// Invoices of our own for the real payments to pay: an export of customers and invoices.
fn import_invoices(env: &Env, invoices: &[&str]) {
    let dir = env.path().join("export");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("customers.csv"),
        "customer_id,name,kind,language,email,phone,street,postal_code,city,country,customer_since,payment_method,segment\n\
         C1,Bakkerij De Vries B.V.,b2b,nl,admin@bakkerijdevries.nl,+31201234567,Dorpsstraat 1,1234 AB,Amsterdam,NL,2019-01-15,transfer,\n",
    )
    .unwrap();
    let mut csv = String::from("invoice_number,customer_id,issue_date,due_date,currency,total,open_amount\n");
    for i in invoices {
        csv.push_str(i);
        csv.push('\n');
    }
    std::fs::write(dir.join("invoices.csv"), csv).unwrap();
    env.ok(&["import", "csv", s(&dir)]);
}

fn run_json(env: &Env, args: &[&str]) -> Value {
    let out = env.ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("dunwell {args:?}: {e}\n{out}"))
}

/// The one summary of `dunwell sync bank [--full] --format json`.
fn sync(env: &Env, full: bool) -> Value {
    let mut args = vec!["sync", "bank", "--format", "json"];
    if full {
        args.push("--full");
    }
    let v = run_json(env, &args);
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v:#}");
    v[0].clone()
}

fn amount(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("amount {v}")).parse::<Decimal>().unwrap().normalize()
}

/// (source id, amount, currency, date) of every unmatched bank payment, sorted.
fn unmatched(env: &Env) -> Vec<(String, Decimal, String, String)> {
    let v = run_json(env, &["payments", "unmatched", "--format", "json"]);
    let mut rows: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["source"], "plugin:bank", "{p}");
            (
                p["source_id"].as_str().unwrap().to_string(),
                amount(&p["amount"]),
                p["currency"].as_str().unwrap().to_string(),
                p["date"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn expected(
    payments: &[(&str, &str, &str, &str)],
    except: &[&str],
) -> Vec<(String, Decimal, String, String)> {
    let mut rows: Vec<_> = payments
        .iter()
        .filter(|p| !except.contains(&p.0))
        .map(|(id, a, c, d)| {
            (id.to_string(), a.parse::<Decimal>().unwrap().normalize(), c.to_string(), d.to_string())
        })
        .collect();
    rows.sort();
    rows
}

/// (id, reason) of what `dunwell quarantine --format json` lists, sorted; each a payment of the
/// bank plugin whose amount the connector could not read.
fn quarantined(env: &Env) -> Vec<(String, String)> {
    let v = run_json(env, &["quarantine", "--format", "json"]);
    let mut rows: Vec<_> = v
        .as_array()
        .unwrap_or_else(|| panic!("{v:#}"))
        .iter()
        .map(|q| {
            assert_eq!(
                (q["plugin"].as_str(), q["entity"].as_str(), q["field"].as_str()),
                (Some("bank"), Some("payments"), Some("amount")),
                "{q}"
            );
            (q["id"].as_str().unwrap().to_string(), q["reason"].as_str().unwrap().to_string())
        })
        .collect();
    rows.sort();
    rows
}

fn assert_quarantined(env: &Env, expected: &[(&str, &str)]) {
    let got = quarantined(env);
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for ((id, reason), (want_id, want_reason)) in got.iter().zip(expected) {
        assert_eq!(id, want_id);
        assert!(reason.contains(want_reason), "{id}: `{reason}` should say `{want_reason}`");
    }
}

fn invoice(env: &Env, number: &str) -> dunwell::model::Invoice {
    Store::open(&env.db()).unwrap().load_invoices().unwrap().into_iter().find(|i| i.number == number).unwrap()
}

#[test]
fn every_real_statement_syncs_as_hand_checked() {
    let env = env_with_bank();
    import_invoices(
        &env,
        &[
            // By the invoice number in the free text: UBS's "INVOICE R77561" and the Finnish
            // sample's "INVOICE US20291092" (3200 USD instructed, 2120.00 EUR credited).
            "R77561,C1,2023-06-01,2023-06-30,CHF,474.40,",
            "US20291092,C1,2009-10-01,2009-10-31,EUR,2120.00,",
            // By its amount: the entry of 4500.00 CHF whose one detail says 0.04.
            "F-4500,C1,2019-04-01,2019-05-01,CHF,4500.00,",
        ],
    );
    for f in FILES {
        put(&env, f);
    }
    let summary = sync(&env, false);
    // `payments` counts the payments stored on invoices; the others wait as unmatched.
    assert_eq!(
        summary["payments"],
        json!({"added": 3, "changed": 0, "unchanged": 0, "removed": 0}),
        "{summary:#}"
    );
    assert_eq!(
        (
            &summary["matched_by_reference"],
            &summary["matched_by_number"],
            &summary["matched_by_amount"],
            &summary["unmatched"]
        ),
        (&json!(0), &json!(2), &json!(1), &json!(PAYMENTS.len() - 3)),
        "{summary:#}"
    );
    assert_eq!(summary["quarantined"], json!(QUARANTINED.len()), "{summary:#}");

    let matched = [
        "R30B4SA880HMZ9XA/9999181ZC0283079",
        "BANKSTMTID0972009/091029ACCTSTMTARCH06/0",
        "STM-C053-190720325942-06/1340044232/0",
    ];
    assert_eq!(unmatched(&env), expected(PAYMENTS, &matched));
    for (number, paid) in [("R77561", "2023-06-20"), ("US20291092", "2009-10-29"), ("F-4500", "2019-05-13")] {
        let i = invoice(&env, number);
        assert_eq!(
            (i.open_amount, i.paid_date.map(|d| d.to_string())),
            (Decimal::ZERO, Some(paid.into())),
            "{i:?}"
        );
    }
    assert_quarantined(&env, QUARANTINED);

    // One record whole, as the v8 file writes it (Dbtr/Pty/Nm, Sts/Cd, BookgDt/DtTm, a
    // detail of 0 SEK).
    let v = run_json(&env, &["payments", "unmatched", "--format", "json"]);
    let v8 = v
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["source_id"] == "253EURNL26VAYB8060476890/MUELL/FINP/RA12345");
    assert_eq!(
        v8,
        Some(
            &json!({"date": "2014-12-31", "amount": "8.85", "currency": "EUR", "reference": "4654654654654654",
            "free_text": null, "payer_name": "NAME NAME", "payer_iban": "NL56AGDH9619008421",
            "source": "plugin:bank", "source_id": "253EURNL26VAYB8060476890/MUELL/FINP/RA12345"})
        )
    );

    // Read again, every file, from scratch: the same ids, so nothing is added or removed.
    let summary = sync(&env, true);
    assert_eq!(
        summary["payments"],
        json!({"added": 0, "changed": 0, "unchanged": 3, "removed": 0}),
        "{summary:#}"
    );
    assert_eq!(summary["quarantined"], json!(QUARANTINED.len()), "{summary:#}");
    assert_eq!(unmatched(&env), expected(PAYMENTS, &matched));
    assert_quarantined(&env, QUARANTINED);
}

#[test]
fn an_entry_whose_one_detail_says_zero_in_another_currency_pays_the_entry_amount() {
    // genkgo's camt.053.001.08: a credit entry of 8.85 EUR whose TxDtls says `0` SEK. The whole
    // run used to be refused ("payment amount 0 is not positive").
    let env = env_with_bank();
    import_invoices(&env, &["F2026-001,C1,2014-12-01,2014-12-31,EUR,8.85,"]);
    put(&env, "genkgo-camt053.v8.xml");
    let summary = sync(&env, false);
    assert_eq!(summary["payments"]["added"], json!(1), "{summary:#}");
    assert_eq!(
        (&summary["matched_by_amount"], &summary["unmatched"], &summary["quarantined"]),
        (&json!(1), &json!(0), &json!(0)),
        "{summary:#}"
    );
    let i = invoice(&env, "F2026-001");
    assert_eq!(
        (i.open_amount, i.paid_date.map(|d| d.to_string())),
        (Decimal::ZERO, Some("2014-12-31".into()))
    );
    assert!(unmatched(&env).is_empty());
    assert!(quarantined(&env).is_empty());
}

#[test]
fn a_batch_entry_whose_details_do_not_add_up_is_quarantined_and_the_other_entries_land() {
    // PostFinance's 110.00 CHF batch of three, its third detail changed from 50.00 to 40.00.
    let env = env_with_bank();
    let good = statement("viafintech-valid_example_v4.xml");
    let at = good.find("<AcctSvcrRef>160406CH00NKSQ5Q</AcctSvcrRef>").unwrap();
    let amount_at = at + good[at..].find(r#"<Amt Ccy="CHF">50.00</Amt>"#).unwrap();
    let bad = format!("{}{}{}", &good[..amount_at], r#"<Amt Ccy="CHF">40.00</Amt>"#, &good[amount_at + 26..]);
    assert_eq!(bad.len(), good.len());
    let file = bank_file(&env, "viafintech-valid_example_v4.xml");
    std::fs::write(&file, &bad).unwrap();

    let batch: Vec<&str> = PAYMENTS.iter().map(|p| p.0).filter(|id| id.contains("/160406CH00")).collect();
    assert_eq!(batch.len(), 3);
    let postfinance: Vec<_> =
        PAYMENTS.iter().copied().filter(|p| p.0.starts_with("20160430375204000008574/")).collect();
    assert_eq!(postfinance.len(), 24);

    let summary = sync(&env, false);
    assert_eq!((&summary["unmatched"], &summary["quarantined"]), (&json!(21), &json!(1)), "{summary:#}");
    assert_eq!(unmatched(&env), expected(&postfinance, &batch), "the other 21 landed");
    let reason = "batch entry of 110.00 CHF: its 3 transactions add up to 100.00 CHF";
    assert_quarantined(&env, &[("20160430375204000008574/20160323007602726186629000000012", reason)]);

    // A full sync reads the file again: it removes nothing and still sets the batch aside.
    let summary = sync(&env, true);
    assert_eq!(summary["payments"]["removed"], json!(0), "{summary:#}");
    assert_eq!(summary["quarantined"], json!(1), "{summary:#}");
    assert_eq!(unmatched(&env), expected(&postfinance, &batch));
    assert_quarantined(&env, &[("20160430375204000008574/20160323007602726186629000000012", reason)]);

    // The bank sends the statement right: the three payments land, nothing stays aside.
    std::fs::write(&file, &good).unwrap();
    let summary = sync(&env, true);
    assert_eq!((&summary["quarantined"], &summary["released"]), (&json!(0), &json!(1)), "{summary:#}");
    assert_eq!(unmatched(&env), expected(&postfinance, &[]));
    assert!(quarantined(&env).is_empty());
}
