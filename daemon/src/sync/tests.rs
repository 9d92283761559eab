//! Unit tests of sync, in one file because they share fixtures (`payment`, `now`, the pulls
//! written directly): matching, writing and reconciling, back-off and full syncs, checks.

use rust_decimal::Decimal;

use super::matching::{Matcher, Rule};
use super::*;
use crate::law::reference::PaymentReference;
use crate::model::{Customer, CustomerKind, Invoice};
use crate::store::MatchCandidate;

// ---- matching (matching.rs) ----

fn payment(reference: Option<&str>, text: Option<&str>, amount: &str) -> SyncedPayment {
    SyncedPayment {
        source_id: "p".into(),
        date: "2026-01-05".parse().unwrap(),
        amount: amount.parse().unwrap(),
        currency: "EUR".into(),
        invoice_number: None,
        invoice_id: None,
        reference: reference.map(Into::into),
        free_text: text.map(Into::into),
        payer_name: None,
        payer_iban: None,
        removed: false,
    }
}

fn candidate(number: &str, open: &str, reference: Option<&str>) -> MatchCandidate {
    MatchCandidate {
        number: number.into(),
        customer_id: "C1".into(),
        currency: "EUR".into(),
        open_amount: open.parse().unwrap(),
        payment_reference: reference.map(Into::into),
    }
}

#[test]
fn matching_order_reference_then_number_then_amount() {
    // The rules compete: the reference names F2024-17, the text names F2024-175, and 50.00 is
    // open on F2024-200 alone. Each rule must win over the ones after it.
    let mut m = Matcher::new(
        vec![
            candidate("F2024-17", "100.00", Some("RF18 5390 0754 7034")),
            candidate("F2024-175", "8.85", None),
            candidate("F2024-200", "50.00", None),
        ],
        vec![],
    );
    let text = Some("factuur f2024 175 bedankt");
    assert_eq!(
        m.find(&payment(Some("RF18539007547034"), text, "50.00")),
        Some(("F2024-17".into(), Rule::Reference))
    );
    // Without the reference, the number in the text (the longest one: F2024-17 is in it too).
    assert_eq!(m.find(&payment(None, text, "50.00")), Some(("F2024-175".into(), Rule::Number)));
    // A reference nobody was given does not stop the next rules.
    assert_eq!(
        m.find(&payment(Some("RF71 0000 0000 0000"), text, "50.00")),
        Some(("F2024-175".into(), Rule::Number))
    );
    // With neither, the amount.
    assert_eq!(m.find(&payment(None, Some("thanks"), "50.00")), Some(("F2024-200".into(), Rule::Amount)));
    assert_eq!(m.find(&payment(None, None, "50.00")), Some(("F2024-200".into(), Rule::Amount)));
    assert_eq!(m.find(&payment(None, Some("thanks"), "51")), None);
    // Once the 50.00 is paid, the amount no longer singles the invoice out.
    m.paid("F2024-200", "50.00".parse().unwrap(), None);
    assert_eq!(m.find(&payment(None, Some("thanks"), "50.00")), None);
    // A partly paid invoice is found by what is still open (45.00 after 55.00).
    m.paid("F2024-17", "55.00".parse().unwrap(), None);
    assert_eq!(m.find(&payment(None, None, "45")), Some(("F2024-17".into(), Rule::Amount)));
}

#[test]
fn a_known_account_singles_out_its_customers_invoice_among_equal_amounts() {
    let of = |number: &str, customer: &str| MatchCandidate {
        customer_id: customer.into(),
        ..candidate(number, "121.00", None)
    };
    let mut m = Matcher::new(
        vec![of("A-1", "C1"), of("B-1", "C2"), of("B-2", "C2"), of("C-1", "C3")],
        vec![("NL91 ABNA 0417 1643 00".into(), "C3".into())],
    );
    let from = |iban: Option<&str>| SyncedPayment {
        payer_iban: iban.map(Into::into),
        ..payment(None, Some("thanks"), "121.00")
    };
    // Four invoices of 121.00: the amount alone decides nothing.
    assert_eq!(m.find(&from(None)), None);
    assert_eq!(m.find(&from(Some("NL91ABNA0417164300"))), Some(("C-1".into(), Rule::Payer)));
    // An unknown account, or a customer with two such invoices, decides nothing either.
    assert_eq!(m.find(&from(Some("NL02RABO0123456789"))), None);
    m.paid("A-1", "1.00".parse().unwrap(), Some("NL02RABO0123456789"));
    assert_eq!(m.find(&from(Some("NL02RABO0123456789"))), None, "A-1 has 120.00 open now");
    m.paid("B-1", "121.00".parse().unwrap(), Some("BE68539007547034"));
    m.paid("C-1", "121.00".parse().unwrap(), None);
    // Left at 121.00: B-2 (C2) only, so the amount decides again.
    assert_eq!(m.find(&from(None)), Some(("B-2".into(), Rule::Amount)));
    // An account seen paying for two customers identifies neither.
    let mut m2 = Matcher::new(
        vec![of("A-1", "C1"), of("B-1", "C2"), of("B-2", "C2")],
        vec![("BE68539007547034".into(), "C1".into()), ("BE68539007547034".into(), "C2".into())],
    );
    assert_eq!(m2.find(&from(Some("BE68539007547034"))), None);
}

#[test]
fn generated_references_match_without_a_stated_one() {
    let mut m = Matcher::new(
        vec![candidate("2026-001", "10.00", None), candidate("2026-002", "20.00", None)],
        vec![],
    );
    for jurisdiction in [crate::calendar::Jurisdiction::Be, crate::calendar::Jurisdiction::Nl] {
        let r = PaymentReference::for_invoice(jurisdiction, "2026-002").unwrap().to_string();
        assert_eq!(m.find(&payment(Some(&r), None, "1")), Some(("2026-002".into(), Rule::Reference)), "{r}");
    }
    // A reference nobody was given falls through to the other rules.
    assert_eq!(m.find(&payment(Some("+++000/0000/00097+++"), None, "3")), None);
}

// ---- writing and reconciling (write.rs; no plugin: checked pulls written directly) ----

fn customer(id: &str) -> SyncedCustomer {
    SyncedCustomer {
        source_id: format!("c-{id}"),
        customer: Customer::new(id, format!("Customer {id}"), CustomerKind::B2b),
        removed: false,
    }
}

fn invoice(number: &str, customer: &str, total: &str) -> SyncedInvoice {
    let total: Decimal = total.parse().unwrap();
    SyncedInvoice {
        source_id: format!("i-{number}"),
        invoice: Invoice {
            number: number.into(),
            customer_id: customer.into(),
            issue_date: "2026-01-01".parse().unwrap(),
            due_date: "2026-01-31".parse().unwrap(),
            currency: "EUR".into(),
            total,
            open_amount: total,
            paid_date: None,
        },
        declared_open: None,
        credit_note: total < Decimal::ZERO,
        corrects: None,
        payment_reference: None,
        removed: false,
    }
}

fn paid(id: &str, invoice: &str, amount: &str) -> SyncedPayment {
    SyncedPayment {
        source_id: id.into(),
        invoice_number: Some(invoice.into()),
        ..payment(None, None, amount)
    }
}

fn pulled(
    customers: Vec<SyncedCustomer>,
    invoices: Vec<SyncedInvoice>,
    payments: Vec<SyncedPayment>,
    snapshots: &[&'static str],
) -> Pulled {
    Pulled {
        customers,
        invoices,
        payments,
        cursors: BTreeMap::new(),
        snapshots: snapshots.iter().copied().collect(),
        full: !snapshots.is_empty(),
        ..Pulled::default()
    }
}

fn now() -> DateTime<Utc> {
    "2026-02-01T10:00:00Z".parse().unwrap()
}

fn open_of(store: &Store) -> BTreeMap<String, String> {
    store.load_invoices().unwrap().into_iter().map(|i| (i.number, i.open_amount.to_string())).collect()
}

fn customer_ids(store: &Store) -> Vec<String> {
    store.load_customers().unwrap().into_iter().map(|c| c.id).collect()
}

/// The ubl case: two customers, two invoices and a credit note on the first.
fn first_sync(store: &mut Store) {
    let mut cn = invoice("CN-3", "C1", "-21.00");
    cn.corrects = Some("F1".into());
    let all = pulled(
        vec![customer("C1"), customer("C2")],
        vec![invoice("F1", "C1", "121.00"), invoice("F2", "C2", "50.00"), cn],
        vec![],
        &["customers", "invoices"],
    );
    let s = write(store, "ubl", all, now(), false).unwrap();
    assert_eq!((s.invoices.added, s.customers.added), (3, 2));
    assert_eq!(open_of(store)["F1"], "100.00", "the credit note is deducted");
}

#[test]
fn an_incremental_pull_removes_only_what_is_reported_removed() {
    let mut store = Store::open_in_memory().unwrap();
    first_sync(&mut store);
    // Nothing changed since the cursor: an empty pull that is no snapshot removes nothing.
    let s = write(&mut store, "ubl", pulled(vec![], vec![], vec![], &[]), now(), false).unwrap();
    assert_eq!((s.invoices.removed, s.customers.removed, s.full), (0, 0, false));
    assert_eq!(open_of(&store).len(), 3);
    // A reported removal goes.
    let mut gone = invoice("F2", "C2", "50.00");
    gone.removed = true;
    let s = write(&mut store, "ubl", pulled(vec![], vec![gone], vec![], &[]), now(), false).unwrap();
    assert_eq!(s.invoices.removed, 1);
    assert!(!open_of(&store).contains_key("F2"));
}

#[test]
fn a_full_snapshot_removes_what_it_lacks_as_if_reported_removed() {
    let mut store = Store::open_in_memory().unwrap();
    first_sync(&mut store);
    // The source now holds only F1: F2 and the credit note were deleted there, and C2 has
    // nothing left.
    let snapshot =
        pulled(vec![customer("C1")], vec![invoice("F1", "C1", "121.00")], vec![], &["customers", "invoices"]);
    let s = write(&mut store, "ubl", snapshot, now(), false).unwrap();
    assert!(s.full);
    assert_eq!((s.invoices.added, s.invoices.removed), (0, 2), "{s:?}");
    assert_eq!(s.customers.removed, 1, "{s:?}");
    assert_eq!(
        open_of(&store),
        BTreeMap::from([("F1".to_string(), "121.00".to_string())]),
        "the removed credit note's deduction is gone too"
    );
    assert_eq!(customer_ids(&store), ["C1"]);
    assert!(s.to_string().starts_with("ubl (full sync):\n"), "{s}");
    // The same snapshot again: nothing more to remove.
    let again =
        pulled(vec![customer("C1")], vec![invoice("F1", "C1", "121.00")], vec![], &["customers", "invoices"]);
    let s = write(&mut store, "ubl", again, now(), false).unwrap();
    assert_eq!((s.invoices.removed, s.customers.removed), (0, 0));
}

#[test]
fn reconciliation_keeps_other_sources_and_customers_with_invoices_left() {
    let mut store = Store::open_in_memory().unwrap();
    first_sync(&mut store);
    // Another plugin's invoice for C2.
    let other = pulled(vec![], vec![invoice("M1", "C2", "10.00")], vec![], &[]);
    write(&mut store, "moneybird", other, now(), false).unwrap();
    // ubl's source is empty now, and the operator said so (`--allow-empty`).
    let mut empty = pulled(vec![], vec![], vec![], &["customers", "invoices"]);
    empty.allow_empty = true;
    let s = write(&mut store, "ubl", empty, now(), false).unwrap();
    assert_eq!(s.invoices.removed, 3);
    assert_eq!(open_of(&store).keys().collect::<Vec<_>>(), ["M1"], "moneybird's invoice stays");
    assert_eq!(customer_ids(&store), ["C2"], "C2 still has an invoice: kept, C1 removed");
    assert_eq!(s.customers.removed, 1);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn a_payment_delivered_twice_in_one_pull_counts_once_and_a_clashing_id_is_quarantined() {
    let mut store = Store::open_in_memory().unwrap();
    first_sync(&mut store);
    let stray = SyncedPayment { source_id: "p-stray".into(), ..payment(None, Some("?"), "7.77") };
    let twice = pulled(vec![], vec![], vec![stray.clone(), paid("p1", "F2", "50.00"), stray.clone()], &[]);
    let s = write(&mut store, "bank", twice, now(), false).unwrap();
    assert_eq!((s.payments.added, s.unmatched, s.quarantined), (1, 1, 0), "{s:?}");
    assert_eq!(store.unmatched_payments().unwrap().len(), 1);
    // One id, two contents: neither can be trusted; the other payment of the pull lands.
    let clash = SyncedPayment { source_id: "p-clash".into(), amount: Decimal::new(888, 2), ..stray.clone() };
    let other = SyncedPayment { amount: Decimal::new(999, 2), ..clash.clone() };
    let s = write(
        &mut store,
        "bank",
        pulled(vec![], vec![], vec![clash, other, paid("p2", "F1", "10.00")], &[]),
        now(),
        false,
    )
    .unwrap();
    assert_eq!((s.payments.added, s.quarantined), (1, 1), "{s:?}");
    let q = store.quarantine(Some("bank")).unwrap();
    assert_eq!((q.len(), q[0].id.as_str(), q[0].field.as_str()), (1, "p-clash", "id"));
    assert!(
        q[0].reason
            .contains("payment id p-clash appears 2 times in one pull with different contents (8.88 EUR"),
        "{}",
        q[0].reason
    );
}

#[test]
fn a_bank_payment_on_an_invoice_removed_at_its_source_goes_back_to_unmatched() {
    let mut store = Store::open_in_memory().unwrap();
    first_sync(&mut store);
    let bank = pulled(vec![], vec![], vec![paid("p1", "F2", "50.00")], &[]);
    write(&mut store, "bank", bank, now(), false).unwrap();
    assert!(store.unmatched_payments().unwrap().is_empty());
    let mut gone = invoice("F2", "C2", "50.00");
    gone.removed = true;
    let s = write(&mut store, "ubl", pulled(vec![], vec![gone], vec![], &[]), now(), false).unwrap();
    assert_eq!(s.invoices.removed, 1);
    let unmatched = store.unmatched_payments().unwrap();
    assert_eq!(unmatched.len(), 1, "{unmatched:?}");
    assert_eq!((unmatched[0].source.as_str(), unmatched[0].source_id.as_str()), ("plugin:bank", "p1"));
    assert_eq!(unmatched[0].amount.to_string(), "50.00");
    assert_eq!(
        unmatched[0].free_text.as_deref(),
        Some("was matched to invoice F2, which was removed at its source")
    );
}

#[test]
fn an_empty_snapshot_removes_nothing_unless_allowed() {
    let mut store = Store::open_in_memory().unwrap();
    first_sync(&mut store);
    // An unmounted folder: the complete lists come back empty.
    let s =
        write(&mut store, "ubl", pulled(vec![], vec![], vec![], &["customers", "invoices"]), now(), false)
            .unwrap();
    assert_eq!((s.invoices.removed, s.customers.removed), (0, 0), "{s:?}");
    assert_eq!(open_of(&store).len(), 3);
    assert_eq!(customer_ids(&store).len(), 2);
    assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
    assert!(
        s.warnings[0].starts_with("the complete list of invoices came back empty while 3 are stored"),
        "{:?}",
        s.warnings
    );
    // One invoice left at the source is not empty: the other two go.
    let one =
        pulled(vec![customer("C1")], vec![invoice("F1", "C1", "121.00")], vec![], &["customers", "invoices"]);
    let s = write(&mut store, "ubl", one, now(), false).unwrap();
    assert_eq!(s.invoices.removed, 2, "{s:?}");
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn only_the_entities_pulled_as_snapshots_are_reconciled() {
    let mut store = Store::open_in_memory().unwrap();
    first_sync(&mut store);
    // A payments-only snapshot under the same name removes no invoice or customer.
    let s = write(&mut store, "ubl", pulled(vec![], vec![], vec![], &["payments"]), now(), false).unwrap();
    assert_eq!((s.invoices.removed, s.customers.removed), (0, 0));
    assert_eq!(open_of(&store).len(), 3);
    assert_eq!(customer_ids(&store).len(), 2);
    // An invoices snapshot without customers removes invoices but no customer, not even
    // one left without invoices.
    let snapshot = pulled(vec![], vec![invoice("F1", "C1", "121.00")], vec![], &["invoices"]);
    let s = write(&mut store, "ubl", snapshot, now(), false).unwrap();
    assert_eq!((s.invoices.removed, s.customers.removed), (2, 0));
    assert_eq!(customer_ids(&store).len(), 2);
}

#[test]
fn payments_missing_from_a_snapshot_come_off_their_invoice() {
    let mut store = Store::open_in_memory().unwrap();
    first_sync(&mut store);
    // A bank pays F2 and sends a payment nobody can place.
    let stray = SyncedPayment { source_id: "p-stray".into(), ..payment(None, Some("?"), "7.77") };
    let bank = pulled(vec![], vec![], vec![paid("p1", "F2", "50.00"), stray], &["payments"]);
    let s = write(&mut store, "bank", bank, now(), false).unwrap();
    assert_eq!((s.payments.added, s.unmatched), (1, 1));
    assert_eq!(open_of(&store)["F2"], "0.00");
    // Incremental, nothing new: nothing removed.
    let s = write(&mut store, "bank", pulled(vec![], vec![], vec![], &[]), now(), false).unwrap();
    assert_eq!(s.payments.removed, 0);
    assert_eq!(open_of(&store)["F2"], "0.00");
    // A full snapshot without the statement: the payment comes off F2, which is open
    // again; the unmatched one goes too; ubl's credit-note deduction is not the bank's.
    // (An empty snapshot removes only when the operator allows it: --allow-empty.)
    let mut empty = pulled(vec![], vec![], vec![], &["payments"]);
    empty.allow_empty = true;
    let s = write(&mut store, "bank", empty, now(), false).unwrap();
    assert_eq!(s.payments.removed, 1);
    assert_eq!(open_of(&store)["F2"], "50.00");
    assert!(store.unmatched_payments().unwrap().is_empty());
    assert_eq!(open_of(&store)["F1"], "100.00");
    // ubl's own invoices snapshot keeps its credit note's deduction.
    let mut cn = invoice("CN-3", "C1", "-21.00");
    cn.corrects = Some("F1".into());
    let snapshot = pulled(
        vec![customer("C1"), customer("C2")],
        vec![invoice("F1", "C1", "121.00"), invoice("F2", "C2", "50.00"), cn],
        vec![],
        &["customers", "invoices"],
    );
    let s = write(&mut store, "ubl", snapshot, now(), false).unwrap();
    assert_eq!(s.invoices.removed, 0);
    assert_eq!(open_of(&store)["F1"], "100.00");
}

#[test]
fn a_full_sync_is_recorded_and_clears_cursors_it_did_not_get() {
    let mut store = Store::open_in_memory().unwrap();
    let mut first = pulled(vec![customer("C1")], vec![], vec![], &[]);
    first.cursors.insert("customers", "page:2".into());
    write(&mut store, "mb", first, now(), false).unwrap();
    assert_eq!(store.sync_cursor("mb", "customers").unwrap().as_deref(), Some("page:2"));
    let status = store.sync_status("mb").unwrap().unwrap();
    assert_eq!(status.last_full_sync, None, "an incremental run is no full sync");
    let later = now() + chrono::Duration::hours(1);
    write(&mut store, "mb", pulled(vec![customer("C1")], vec![], vec![], &["customers"]), later, false)
        .unwrap();
    assert_eq!(store.sync_cursor("mb", "customers").unwrap(), None);
    let status = store.sync_status("mb").unwrap().unwrap();
    assert_eq!(status.last_full_sync, Some(later.to_rfc3339()));
    // An incremental run afterwards keeps the time of the last full one.
    write(&mut store, "mb", pulled(vec![], vec![], vec![], &[]), later + chrono::Duration::hours(1), false)
        .unwrap();
    assert_eq!(store.sync_status("mb").unwrap().unwrap().last_full_sync, Some(later.to_rfc3339()));
}

// ---- back-off and full syncs (mod.rs) ----

#[test]
fn full_syncs_fall_due_after_the_configured_hours() {
    let status = |last: Option<&str>| SyncStatus {
        plugin: "p".into(),
        last_success: None,
        last_failure: None,
        failures: 0,
        next_attempt: None,
        last_error: None,
        last_full_sync: last.map(Into::into),
    };
    let at = now();
    assert!(full_sync_due(None, 24, at), "never synced");
    assert!(full_sync_due(Some(&status(None)), 24, at), "never a full sync");
    assert!(!full_sync_due(Some(&status(Some("2026-01-31T10:00:01Z"))), 24, at));
    assert!(full_sync_due(Some(&status(Some("2026-01-31T10:00:00Z"))), 24, at));
    assert!(full_sync_due(Some(&status(Some("garbage"))), 24, at));
    assert!(!full_sync_due(Some(&status(None)), 0, at), "0: never by itself");
    assert!(!full_sync_due(None, 0, at));
    // Failing full syncs give way to incremental ones after two failures in a row.
    let failing = |failures| SyncStatus { failures, ..status(Some("2026-01-01T00:00:00Z")) };
    assert!(full_sync_due(Some(&failing(1)), 24, at));
    assert!(!full_sync_due(Some(&failing(2)), 24, at));
}

#[test]
fn a_rate_limit_pushes_the_next_attempt_past_the_wait_asked() {
    assert_eq!(retry_wait(1, None), chrono::Duration::minutes(1));
    assert_eq!(retry_wait(1, Some(7200)), chrono::Duration::hours(2), "later than the back-off");
    assert_eq!(retry_wait(9, Some(10)), backoff(9), "the back-off is later than 10 s");
    assert_eq!(retry_wait(1, Some(u32::MAX)), chrono::Duration::hours(24), "capped");
    let err = SyncError::Plugin(PluginError::Reported {
        plugin: "mb".into(),
        what: "invoices".into(),
        message: "rate limited by the source; retry in 7200s".into(),
        retry_after: Some(7200),
    });
    assert_eq!(err.retry_after(), Some(7200));
    let mut store = Store::open_in_memory().unwrap();
    let status = store.record_sync_failure("mb", now(), |n| retry_wait(n, err.retry_after()), "x").unwrap();
    let next: DateTime<Utc> = status.next_attempt.unwrap().parse().unwrap();
    assert_eq!(next, now() + chrono::Duration::seconds(7200));
    assert!(!due(store.sync_status("mb").unwrap().as_ref(), now() + chrono::Duration::seconds(7199)));
    assert!(due(store.sync_status("mb").unwrap().as_ref(), now() + chrono::Duration::seconds(7200)));
}

#[test]
fn backoff_doubles_and_caps() {
    assert_eq!(backoff(1), chrono::Duration::minutes(1));
    assert_eq!(backoff(3), chrono::Duration::minutes(4));
    assert_eq!(backoff(40), chrono::Duration::hours(6));
}

// ---- checks (check.rs) ----

#[test]
fn garbage_is_refused() {
    let inv = |total: &str, due: &str| wit::Invoice {
        id: "1".into(),
        number: "F1".into(),
        customer_key: "C1".into(),
        kind: wit::DocumentKind::Invoice,
        issued_on: "2026-01-01".into(),
        due_on: due.into(),
        currency: "EUR".into(),
        total: total.into(),
        open: None,
        payment_reference: None,
        corrects: None,
        status: wit::InvoiceStatus::Open,
        paid_date: None,
        removed: false,
    };
    assert!(check_invoice(inv("12.50", "2026-01-31")).is_ok());
    for (t, d) in [
        ("1e3", "2026-01-31"),
        ("NaN", "2026-01-31"),
        ("1,5", "2026-01-31"),
        ("10", "2026-02-30"),
        ("10", "31-01-2026"),
        ("unusable: page 3 is torn", "2026-01-31"),
    ] {
        assert!(check_invoice(inv(t, d)).is_err(), "{t} {d}");
    }
    let bad = check_invoice(inv("12.50", "31-01-2026")).unwrap_err();
    assert_eq!((bad.id.as_deref(), bad.record.as_deref(), bad.field), (Some("1"), Some("F1"), "due-on"));
    let bad = check_invoice(inv("unusable: page 3 is torn", "2026-01-31")).unwrap_err();
    assert_eq!(
        (bad.field, bad.reason.as_str()),
        ("total", "invoice F1: the connector could not read it: page 3 is torn")
    );
    // A negative invoice is a credit note (Peppol BIS 3 corrections), stored under CN-.
    let cn = check_invoice(inv("-5", "2026-01-31")).unwrap();
    assert!(cn.credit_note);
    assert_eq!(cn.invoice.number, "CN-F1");
    assert_eq!(super::UNUSABLE_PREFIX, dunwell_plugin_sdk::UNUSABLE_PREFIX);
}

#[test]
fn payment_ids_may_not_pose_as_credit_note_deductions() {
    let p = |id: &str| wit::Payment {
        id: id.into(),
        amount: "10.00".into(),
        currency: "EUR".into(),
        received_on: "2026-01-05".into(),
        invoice_number: None,
        invoice_id: None,
        reference: None,
        free_text: None,
        payer_name: None,
        payer_iban: None,
        removed: false,
    };
    assert!(check_payment(p("stmt-1/4")).is_ok());
    let err = check_payment(p("credit:CN-3")).unwrap_err();
    assert_eq!(err.field, "id");
    assert!(err.reason.contains("reserves for credit notes"), "{err}");
}

#[test]
fn an_account_learnt_from_one_payment_places_the_next_among_equal_amounts() {
    let mut store = Store::open_in_memory().unwrap();
    first_sync(&mut store);
    // C1 gets an invoice of 50.00 too: F2 (C2) and G1 (C1) are both 50.00 open.
    let more = pulled(vec![], vec![invoice("G1", "C1", "50.00")], vec![], &[]);
    write(&mut store, "ubl", more, now(), false).unwrap();
    let iban = "NL91 ABNA 0417 1643 00";
    // C1's account pays F1 naming it.
    let first = SyncedPayment { payer_iban: Some(iban.into()), ..paid("p1", "F1", "100.00") };
    write(&mut store, "bank", pulled(vec![], vec![], vec![first], &[]), now(), false).unwrap();
    // The same account pays 50.00 without a word: the amount alone fits F2 and G1; the
    // account says C1, so G1.
    let second = SyncedPayment {
        source_id: "p2".into(),
        payer_iban: Some("NL91ABNA0417164300".into()),
        ..payment(None, Some("bedankt"), "50.00")
    };
    let s = write(&mut store, "bank", pulled(vec![], vec![], vec![second], &[]), now(), false).unwrap();
    assert_eq!((s.matched_by_payer, s.matched_by_amount, s.unmatched), (1, 0, 0), "{s:?}");
    let open = open_of(&store);
    assert_eq!((open["G1"].as_str(), open["F2"].as_str()), ("0.00", "50.00"));
    // A stranger's 50.00: F2 is now the only 50.00 open, so the amount alone places it.
    let stranger = SyncedPayment { source_id: "p3".into(), ..payment(None, None, "50.00") };
    let s = write(&mut store, "bank", pulled(vec![], vec![], vec![stranger], &[]), now(), false).unwrap();
    assert_eq!((s.matched_by_amount, s.unmatched), (1, 0), "the amount is unique again: {s:?}");
}

// ---- quarantine (quarantine.rs): one bad record never stops the others ----

fn set_aside(entity: &'static str, id: &str, record: &str) -> QuarantinedRecord {
    QuarantinedRecord {
        entity,
        id: id.into(),
        record: Some(record.into()),
        field: "total".into(),
        reason: "`1,5` is not an amount".into(),
    }
}

#[test]
fn a_quarantined_invoice_keeps_what_the_store_holds_through_a_full_sync() {
    let mut store = Store::open_in_memory().unwrap();
    first_sync(&mut store);
    // F2 comes back unusable in a complete pull; F1 is now paid at the source.
    let mut f1 = invoice("F1", "C1", "121.00");
    f1.declared_open = Some(Decimal::ZERO);
    let mut cn = invoice("CN-3", "C1", "-21.00");
    cn.corrects = Some("F1".into());
    let mut all =
        pulled(vec![customer("C1"), customer("C2")], vec![f1, cn], vec![], &["customers", "invoices"]);
    all.quarantined.push(set_aside("invoices", "i-F2", "F2"));
    let s = write(&mut store, "ubl", all, now(), false).unwrap();
    assert_eq!((s.invoices.removed, s.customers.removed, s.quarantined), (0, 0, 1), "{s:?}");
    let open = open_of(&store);
    assert_eq!((open["F1"].as_str(), open["F2"].as_str()), ("0", "50.00"), "F1's news lands, F2 is kept");
    let q = store.quarantine(None).unwrap();
    assert_eq!((q[0].plugin.as_str(), q[0].entity.as_str(), q[0].id.as_str()), ("ubl", "invoices", "i-F2"));
    assert_eq!((q[0].record.as_deref(), q[0].attempts), (Some("F2"), 1));
    assert!(s.to_string().contains("quarantine: 1 quarantined, 0 released"), "{s}");

    // Still unusable next time: one more attempt, first seen kept.
    let mut again = pulled(vec![], vec![invoice("F1", "C1", "121.00")], vec![], &["invoices"]);
    again.quarantined.push(set_aside("invoices", "i-F2", "F2"));
    write(&mut store, "ubl", again, "2026-02-02T10:00:00Z".parse().unwrap(), false).unwrap();
    let q = store.quarantine(Some("ubl")).unwrap();
    assert_eq!((q.len(), q[0].attempts, q[0].first_seen.as_str()), (1, 2, "2026-02-01T10:00:00+00:00"));
    assert_eq!(store.quarantined_entities("ubl").unwrap().into_iter().collect::<Vec<_>>(), ["invoices"]);

    // Fixed at the source: it lands and leaves the quarantine.
    let fixed = pulled(vec![], vec![invoice("F2", "C2", "55.00")], vec![], &[]);
    let s = write(&mut store, "ubl", fixed, now(), false).unwrap();
    assert_eq!((s.invoices.changed, s.released), (1, 1), "{s:?}");
    assert!(store.quarantine(None).unwrap().is_empty());
    assert_eq!(open_of(&store)["F2"], "55.00");
}

#[test]
fn a_quarantined_record_gone_from_a_complete_pull_leaves_the_quarantine() {
    let mut store = Store::open_in_memory().unwrap();
    first_sync(&mut store);
    let mut one = pulled(vec![], vec![], vec![], &[]);
    one.quarantined.push(set_aside("payments", "p-bad", "1,5 EUR on 2026-01-05"));
    write(&mut store, "bank", one, now(), false).unwrap();
    // An incremental pull that does not mention it keeps it; a complete one that lacks it drops it.
    let s = write(&mut store, "bank", pulled(vec![], vec![], vec![], &[]), now(), false).unwrap();
    assert_eq!((s.released, store.quarantine(None).unwrap().len()), (0, 1));
    let s = write(&mut store, "bank", pulled(vec![], vec![], vec![], &["payments"]), now(), false).unwrap();
    assert_eq!((s.released, store.quarantine(None).unwrap().len()), (1, 0));
}

#[test]
fn invoices_of_unknown_customers_and_repeated_numbers_are_set_aside_not_fatal() {
    let mut store = Store::open_in_memory().unwrap();
    let mut a = invoice("F7", "C1", "10.00");
    a.source_id = "a.xml".into();
    let mut b = invoice("F7", "C1", "12.00");
    b.source_id = "b.xml".into();
    let stranger = invoice("F8", "C9", "30.00");
    let run = pulled(vec![customer("C1")], vec![a, stranger, invoice("F9", "C1", "40.00"), b], vec![], &[]);
    let s = write(&mut store, "ubl", run, now(), false).unwrap();
    assert_eq!((s.invoices.added, s.quarantined), (1, 3), "{s:?}");
    assert_eq!(open_of(&store).keys().collect::<Vec<_>>(), ["F9"]);
    let q = store.quarantine(Some("ubl")).unwrap();
    let reasons: Vec<(&str, &str, &str)> =
        q.iter().map(|q| (q.id.as_str(), q.field.as_str(), q.reason.as_str())).collect();
    assert_eq!(
        reasons,
        [
            ("a.xml", "number", "invoice number F7 appears 2 times in one pull: here and in b.xml; neither is stored until one is corrected"),
            ("b.xml", "number", "invoice number F7 appears 2 times in one pull: here and in a.xml; neither is stored until one is corrected"),
            ("i-F8", "customer-key", "invoice F8 refers to customer `C9`, which is in neither this pull nor the store"),
        ]
    );
}

#[test]
fn a_source_that_renames_a_credit_note_does_not_deduct_it_twice() {
    let mut store = Store::open_in_memory().unwrap();
    first_sync(&mut store);
    let mut cn = invoice("CN-3", "C1", "-21.00");
    cn.corrects = Some("F1".into());
    cn.source_id = "credit-3.xml".into();
    write(&mut store, "ubl", pulled(vec![], vec![cn], vec![], &[]), now(), false).unwrap();
    assert_eq!(open_of(&store)["F1"], "100.00");
}

// ---- ownership: a plugin stays in its lane ----

/// The spreadsheet's customer C1 (bad payer by hand, paying by transfer since 2019) and its
/// invoice F1, and a plugin that sends both keys with its own content.
fn csv_victim(store: &mut Store) {
    let tx = store.begin().unwrap();
    let mut c = Customer::new("C1", "Bakkerij De Vries", CustomerKind::B2b);
    c.email = Some("admin@bakkerij.example".into());
    c.segment = Some("bad-payer".into());
    c.customer_since = Some("2019-01-15".parse().unwrap());
    c.payment_method = Some(crate::model::PaymentMethod::Transfer);
    tx.customer_writer().unwrap().upsert(&c, "csv", "C1").unwrap();
    let inv = invoice("F1", "C1", "121.00").invoice;
    tx.invoice_writer(false).unwrap().upsert(&inv, None, "csv", "F1").unwrap();
    tx.commit().unwrap();
}

fn takeover() -> Pulled {
    let mut c = customer("C1");
    c.customer.email = Some("attacker@evil.example".into());
    let mut f1 = invoice("F1", "C1", "0.01");
    f1.declared_open = Some(Decimal::ZERO);
    let mut cn = invoice("CN-9", "C1", "-100.00");
    cn.corrects = Some("F1".into());
    pulled(vec![c, customer("C2")], vec![f1, invoice("F2", "C2", "50.00"), cn], vec![], &[])
}

#[test]
fn a_plugin_cannot_take_over_another_sources_records() {
    let mut store = Store::open_in_memory().unwrap();
    csv_victim(&mut store);
    let s = write(&mut store, "evil", takeover(), now(), false).unwrap();
    assert_eq!((s.quarantined, s.customers.added, s.invoices.added), (2, 1, 2), "{s:?}");
    let c = store.load_customers().unwrap().into_iter().find(|c| c.id == "C1").unwrap();
    assert_eq!(c.email.as_deref(), Some("admin@bakkerij.example"));
    assert_eq!(c.segment.as_deref(), Some("bad-payer"));
    assert_eq!(open_of(&store)["F1"], "121.00", "neither the takeover nor the credit note touched it");
    assert!(
        s.warnings.iter().any(|w| w.contains("corrects invoice F1, which belongs to csv; not deducted")),
        "{s:?}"
    );
    let q = store.quarantine(Some("evil")).unwrap();
    assert!(
        q.iter().any(|q| q.field == "key"
            && q.reason.starts_with(
                "customer C1: it belongs to csv, and a plugin may not change another source's records"
            )
            && q.reason.contains("add `adopt = [\"csv\"]`")),
        "{q:?}"
    );
    assert!(
        q.iter().any(|q| q.field == "number" && q.reason.starts_with("invoice F1: it belongs to csv")),
        "{q:?}"
    );
    // Reported removed next time: still not the plugin's to delete.
    let mut gone = invoice("F1", "C1", "121.00");
    gone.removed = true;
    let mut c1 = customer("C1");
    c1.removed = true;
    write(&mut store, "evil", pulled(vec![c1], vec![gone], vec![], &[]), now(), false).unwrap();
    assert!(open_of(&store).contains_key("F1"));
    assert!(customer_ids(&store).contains(&"C1".to_string()));
}

#[test]
fn an_adopting_plugin_takes_over_but_never_the_operators_columns() {
    let mut store = Store::open_in_memory().unwrap();
    csv_victim(&mut store);
    let mut run = takeover();
    run.adopt = vec!["csv".into()];
    let s = write(&mut store, "moneybird", run, now(), false).unwrap();
    assert_eq!(s.quarantined, 0, "{s:?}");
    let c = store.load_customers().unwrap().into_iter().find(|c| c.id == "C1").unwrap();
    assert_eq!(c.email.as_deref(), Some("attacker@evil.example"), "adopted: the plugin's content wins");
    assert_eq!(c.segment.as_deref(), Some("bad-payer"), "a plugin never clears the segment set by hand");
    assert_eq!(c.customer_since.map(|d| d.to_string()).as_deref(), Some("2019-01-15"));
    assert_eq!(c.payment_method, Some(crate::model::PaymentMethod::Transfer));
    assert_eq!(open_of(&store)["F1"], "0");
    // Unchanged content counts unchanged, the operator's columns notwithstanding.
    let mut again = takeover();
    again.adopt = vec!["csv".into()];
    let s = write(&mut store, "moneybird", again, now(), false).unwrap();
    assert_eq!((s.customers.unchanged, s.customers.changed), (2, 0), "{s:?}");
}

#[test]
fn money_in_another_currency_never_pays_an_invoice() {
    let mut m = Matcher::new(
        vec![candidate("F2024-17", "100.00", Some("RF18539007547034")), candidate("F2024-18", "50.00", None)],
        vec![],
    );
    let chf = |p: SyncedPayment| SyncedPayment { currency: "CHF".into(), ..p };
    assert_eq!(m.find(&chf(payment(Some("RF18539007547034"), None, "100.00"))), None);
    assert_eq!(m.find(&chf(payment(None, Some("factuur F2024-18"), "50.00"))), None);
    assert_eq!(m.find(&chf(payment(None, None, "50.00"))), None);
    // A reference naming an invoice in another currency is not tried against the others.
    assert_eq!(m.find(&chf(payment(Some("RF18539007547034"), Some("F2024-18"), "50.00"))), None);
    assert_eq!(
        m.find(&payment(Some("RF18539007547034"), None, "100.00")).map(|(n, _)| n).as_deref(),
        Some("F2024-17")
    );

    // Stated by the source, the same: kept with the unmatched payments.
    let mut store = Store::open_in_memory().unwrap();
    first_sync(&mut store);
    let p = SyncedPayment { currency: "CHF".into(), ..paid("p-chf", "F2", "50.00") };
    let s = write(&mut store, "bank", pulled(vec![], vec![], vec![p], &[]), now(), false).unwrap();
    assert_eq!((s.payments.added, s.unmatched), (0, 1), "{s:?}");
    assert_eq!(open_of(&store)["F2"], "50.00");
    assert!(s.warnings[0].contains("names invoice F2, which is in EUR"), "{:?}", s.warnings);
}

// ---- contract 0.2: paid dates and snapshot sources ----

/// A contract record of a paid invoice of 121.00 issued on 2026-01-01, paid on `paid`.
fn paid_wit(status: wit::InvoiceStatus, total: &str, paid: Option<&str>) -> wit::Invoice {
    wit::Invoice {
        id: "i-F7".into(),
        number: "F7".into(),
        customer_key: "C1".into(),
        kind: wit::DocumentKind::Invoice,
        issued_on: "2026-01-01".into(),
        due_on: "2026-01-31".into(),
        currency: "EUR".into(),
        total: total.into(),
        open: None,
        payment_reference: None,
        corrects: None,
        status,
        paid_date: paid.map(Into::into),
        removed: false,
    }
}

#[test]
fn a_paid_date_is_checked_like_the_other_dates() {
    use wit::InvoiceStatus::{Open, Paid, Void};
    let today: NaiveDate = "2026-02-01".parse().unwrap();
    let check = |i| check_invoice(i).and_then(|i| check_paid_date(i, today));
    let date = |d: &str| Some(d.parse::<NaiveDate>().unwrap());
    // Kept for a paid invoice, on the issue date and on the run's day too.
    for day in ["2026-01-20", "2026-01-01", "2026-02-01"] {
        let ok = check(paid_wit(Paid, "121.00", Some(day))).unwrap();
        assert_eq!(ok.invoice.paid_date, date(day));
    }
    // Blank is none; an open or void invoice, or a credit note, has no paid date.
    assert_eq!(check(paid_wit(Paid, "121.00", Some(" "))).unwrap().invoice.paid_date, None);
    assert_eq!(check(paid_wit(Open, "121.00", Some("2026-01-20"))).unwrap().invoice.paid_date, None);
    assert_eq!(check(paid_wit(Void, "121.00", Some("2026-01-20"))).unwrap().invoice.paid_date, None);
    assert_eq!(check(paid_wit(Paid, "-121.00", Some("2026-01-20"))).unwrap().invoice.paid_date, None);
    // Refused, naming the field: not a date, before the issue date, after the run's day.
    for (day, says) in [
        ("20-01-2026", "20-01-2026"),
        ("2026-02-30", "2026-02-30"),
        ("2025-12-31", "is before the issue date 2026-01-01"),
        ("2026-02-02", "is in the future (today is 2026-02-01)"),
    ] {
        let bad = check(paid_wit(Paid, "121.00", Some(day))).unwrap_err();
        assert_eq!((bad.id.as_deref(), bad.field), (Some("i-F7"), "paid-date"), "{day}: {bad:?}");
        assert!(bad.reason.contains(says), "{day}: {}", bad.reason);
    }
    // Even an open invoice's paid date must be a date: the source sent nonsense.
    let bad = check(paid_wit(Open, "121.00", Some("yesterday"))).unwrap_err();
    assert_eq!(bad.field, "paid-date");
}

#[test]
fn the_run_day_refuses_no_source_its_own_today() {
    // 23:30 UTC on 1 February is 2 February in Amsterdam in summer and in Auckland: a source
    // there may say "paid today".
    let late: DateTime<Utc> = "2026-02-01T23:30:00Z".parse().unwrap();
    assert_eq!(run_day(late), "2026-02-02".parse::<NaiveDate>().unwrap());
    let early: DateTime<Utc> = "2026-02-01T00:10:00Z".parse().unwrap();
    assert_eq!(run_day(early), "2026-02-01".parse::<NaiveDate>().unwrap());
}

fn paid_dates(store: &Store) -> BTreeMap<String, Option<NaiveDate>> {
    store.load_invoices().unwrap().into_iter().map(|i| (i.number, i.paid_date)).collect()
}

/// A checked invoice of `total` the source reports paid on `paid` (or open, without).
fn reported_paid(number: &str, total: &str, paid: Option<&str>) -> SyncedInvoice {
    let mut i = invoice(number, "C1", total);
    if paid.is_some() {
        i.declared_open = Some(Decimal::ZERO);
        i.invoice.open_amount = Decimal::ZERO;
    }
    i.invoice.paid_date = paid.map(|d| d.parse().unwrap());
    i
}

#[test]
fn a_source_paid_date_is_stored_when_no_payment_dates_the_settlement() {
    let mut store = Store::open_in_memory().unwrap();
    let day = |d: &str| Some(d.parse::<NaiveDate>().unwrap());
    // P1: paid, no payments in the store: the source's day. P2: paid, and its payment of the
    // whole amount dates the settlement. O1: open.
    let first = pulled(
        vec![customer("C1")],
        vec![
            reported_paid("P1", "100.00", Some("2026-01-10")),
            reported_paid("P2", "50.00", Some("2026-01-12")),
            reported_paid("O1", "80.00", None),
        ],
        vec![paid("pay-2", "P2", "50.00")],
        &[],
    );
    let s = write(&mut store, "books", first, now(), false).unwrap();
    assert_eq!(s.invoices.added, 3, "{s:?}");
    assert_eq!(
        paid_dates(&store),
        BTreeMap::from([
            ("O1".to_string(), None),
            ("P1".to_string(), day("2026-01-10")),
            ("P2".to_string(), day("2026-01-05")),
        ]),
        "the payment's day wins over the stated one"
    );
    // The same pull again changes nothing; the paid date stays.
    let again = pulled(vec![], vec![reported_paid("P1", "100.00", Some("2026-01-10"))], vec![], &[]);
    let s = write(&mut store, "books", again, now(), false).unwrap();
    assert_eq!((s.invoices.unchanged, s.invoices.changed), (1, 0), "{s:?}");
    assert_eq!(paid_dates(&store)["P1"], day("2026-01-10"));
    // Segmentation reads it: the invoice counts as paid on that day.
    let p1 = store.load_invoices().unwrap().into_iter().find(|i| i.number == "P1").unwrap();
    assert_eq!((p1.open_amount, p1.paid_date), (Decimal::ZERO, day("2026-01-10")));
    // A partial payment arriving in the same pull does not date a settlement: the source does.
    let partial = pulled(
        vec![],
        vec![reported_paid("P3", "90.00", Some("2026-01-15"))],
        vec![paid("pay-3", "P3", "40.00")],
        &[],
    );
    write(&mut store, "books", partial, now(), false).unwrap();
    assert_eq!(paid_dates(&store)["P3"], day("2026-01-15"));
    // Open again at the source: no paid date.
    let reopened = pulled(vec![], vec![reported_paid("P1", "100.00", None)], vec![], &[]);
    write(&mut store, "books", reopened, now(), false).unwrap();
    assert_eq!(paid_dates(&store)["P1"], None);
}

#[test]
fn a_snapshot_source_pulls_everything_on_every_run_and_reconciles() {
    // Which entities start from no cursor: a snapshot source's always, like a full sync's.
    assert!(from_scratch(false, true, false), "a snapshot source on an ordinary run");
    assert!(from_scratch(true, false, false) && from_scratch(false, false, true));
    assert!(!from_scratch(false, false, false), "an ordinary run of a source with a change feed");
    // So each of its runs is a complete snapshot, written as a full sync's is: what it lacks
    // goes, and an empty one removes nothing and warns.
    let mut store = Store::open_in_memory().unwrap();
    first_sync(&mut store);
    let run = |invoices: Vec<SyncedInvoice>, customers: Vec<SyncedCustomer>| {
        let mut p = pulled(customers, invoices, vec![], &["customers", "invoices"]);
        // Mode::Auto: no --allow-empty.
        p.allow_empty = false;
        p
    };
    let s = write(&mut store, "ubl", run(vec![], vec![]), now(), false).unwrap();
    assert_eq!((s.invoices.removed, s.customers.removed), (0, 0), "{s:?}");
    assert!(s.warnings[0].starts_with("the complete list of invoices came back empty"), "{:?}", s.warnings);
    let s = write(
        &mut store,
        "ubl",
        run(vec![invoice("F1", "C1", "121.00")], vec![customer("C1")]),
        now(),
        false,
    )
    .unwrap();
    assert!(s.full);
    assert_eq!((s.invoices.removed, s.customers.removed), (2, 1), "{s:?}");
    let status = store.sync_status("ubl").unwrap().unwrap();
    assert!(status.last_full_sync.is_some(), "recorded as a full sync");
}

/// What `pull` hands `write` for a run of a full pull under way: the keys the earlier runs
/// saw of the entities it resumes, read back from the store.
fn resumed(store: &Store, plugin: &str, mut p: Pulled) -> Pulled {
    let under_way = store.full_pull(plugin).unwrap();
    p.full_pull_started = under_way.first().map(|e| e.started.clone());
    for entity in ["customers", "invoices", "payments"] {
        if under_way.iter().any(|e| e.entity == entity && !e.done) {
            p.seen_before.insert(entity, Seen::load(store, plugin, entity).unwrap());
        }
    }
    p
}

#[test]
fn a_full_pull_over_two_runs_reconciles_against_everything_both_saw() {
    let mut store = Store::open_in_memory().unwrap();
    first_sync(&mut store);
    // F2 was deleted at the source, F3 added. Run 1 of the full pull gets the customers and
    // F1's page, then its budget runs out: nothing may be removed yet (F2 may be on a page
    // still to come), and the pull is under way.
    let mut run1 = pulled(
        vec![customer("C1"), customer("C2")],
        vec![invoice("F1", "C1", "121.00")],
        vec![],
        &["customers"],
    );
    run1.full = false;
    run1.quarantined.push(set_aside("invoices", "i-F9", "{}"));
    run1.stop = Some(Stop {
        entity: "invoices",
        full_pull: true,
        resume: Some("page:2".into()),
        pages: 1,
        records: 2,
        reason: "the run's 4 HTTP requests (max_requests) were used up".into(),
        error: None,
    });
    let s = write(&mut store, "ubl", run1, now(), false).unwrap();
    assert_eq!((s.full, s.invoices.removed), (false, 0), "{s:?}");
    assert_eq!(
        s.stopped.as_deref(),
        Some("invoices after 1 page (2 records): the run's 4 HTTP requests (max_requests) were used up; the full sync goes on from there")
    );
    assert!(s.to_string().contains("\nstopped:   invoices after 1 page (2 records)"), "{s}");
    assert!(open_of(&store).contains_key("F2"));
    let under_way = store.full_pull("ubl").unwrap();
    let states: Vec<(&str, Option<&str>, bool, u64)> =
        under_way.iter().map(|e| (e.entity.as_str(), e.cursor.as_deref(), e.done, e.seen)).collect();
    assert_eq!(states, [("customers", None, true, 0), ("invoices", Some("page:2"), false, 2)]);
    let status = store.sync_status("ubl").unwrap().unwrap();
    let first_full = status.last_full_sync.clone();

    // Run 2 resumes the invoices and gets the last page (F3; the credit note CN-3 is gone
    // too): F1 was seen by run 1 and stays, F2 and the credit note go, the quarantined F9 of
    // run 1 keeps its place, and the pull is complete.
    let run2 =
        resumed(&store, "ubl", pulled(vec![], vec![invoice("F3", "C1", "10.00")], vec![], &["invoices"]));
    assert_eq!(run2.seen_before["invoices"].keys, ["F1".to_string()].into());
    assert_eq!(run2.seen_before["invoices"].held, ["i-F9".to_string()].into());
    let mut run2 = run2;
    run2.full = true;
    let later = now() + chrono::Duration::hours(1);
    let s = write(&mut store, "ubl", run2, later, false).unwrap();
    assert!(s.full && s.stopped.is_none(), "{s:?}");
    assert_eq!((s.invoices.added, s.invoices.removed), (1, 2), "{s:?}");
    let open: Vec<String> = open_of(&store).into_keys().collect();
    assert_eq!(open, ["F1", "F3"]);
    assert!(store.full_pull("ubl").unwrap().is_empty(), "the pull is over");
    let status = store.sync_status("ubl").unwrap().unwrap();
    assert_ne!(status.last_full_sync, first_full, "recorded as a full sync when it completed");
}

#[test]
fn a_full_pull_that_failed_part_way_keeps_its_pages_but_is_no_success() {
    let mut store = Store::open_in_memory().unwrap();
    let mut run = pulled(vec![customer("C1")], vec![invoice("F1", "C1", "121.00")], vec![], &["customers"]);
    run.full = false;
    run.stop = Some(Stop {
        entity: "invoices",
        full_pull: true,
        resume: Some("page:2".into()),
        pages: 1,
        records: 1,
        reason: "the source failed: HTTP 500".into(),
        error: None,
    });
    write(&mut store, "ubl", run, now(), true).unwrap();
    assert_eq!(open_of(&store).len(), 1, "the page before the failure is stored");
    assert_eq!(store.sync_status("ubl").unwrap(), None, "not recorded as a success");
    assert_eq!(store.full_pull("ubl").unwrap()[1].cursor.as_deref(), Some("page:2"));
}
