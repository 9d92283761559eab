//! Planner rules with hand-computed dates. Calendar facts used below (2026): Nov 20 Fri,
//! Nov 28/29 Sat/Sun, Nov 30 Mon, Dec 1 Tue, Dec 25 Fri (Christmas), Dec 26 Sat (Boxing Day),
//! Apr 27 Mon (King's Day, NL only), Jul 21 Tue (National Day, BE only), Aug 18 Tue.

use super::*;
use crate::calendar::Jurisdiction;
use crate::law::{CostsOptions, Rates};
use crate::model::{CustomerKind, Payment};
use crate::playbook::MoneyAction;
use crate::segment::{Indicators, Rule};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn nl() -> Calendar {
    Calendar::new(Jurisdiction::Nl, [])
}

fn be() -> Calendar {
    Calendar::new(Jurisdiction::Be, [])
}

fn playbook(segment: &str, offsets: &[i64]) -> Playbook {
    Playbook {
        segment: segment.into(),
        goal: None,
        tone: None,
        steps: offsets
            .iter()
            .enumerate()
            .map(|(i, &o)| Step {
                number: i as u32 + 1,
                offset_days: o,
                channel: Channel::Email,
                template: format!("{segment}-{}", i + 1),
                description: None,
                interest: MoneyAction::None,
                costs: MoneyAction::None,
                consumer_interest: MoneyAction::None,
                consumer_costs: MoneyAction::None,
                requires_approval: false,
                min_open_amount: None,
                fee: None,
                consumer_fee: None,
                fallback_channel: None,
                fallback_template: None,
                attach_letter: false,
                term_days: None,
                consumer_term_days: None,
                cc_account_manager: false,
            })
            .collect(),
        file: "test.toml".into(),
    }
}

/// The default standard playbook's offsets.
const STANDARD: &[i64] = &[-3, 5, 15, 20, 30, 40, 54];

fn books(list: Vec<Playbook>) -> BTreeMap<String, Playbook> {
    list.into_iter().map(|p| (p.segment.clone(), p)).collect()
}

fn customer() -> Customer {
    Customer::new("C1", "Bakkerij De Vries", CustomerKind::B2b)
}

fn segmentation(segment: &str) -> Segmentation {
    Segmentation {
        customer_id: "C1".into(),
        segment: segment.into(),
        rule: Rule::Default,
        indicators: Indicators {
            invoices_in_window: 0,
            counting_invoices: 0,
            late_bad_payer: 0,
            late_vip: 0,
            broken_promises: 0,
            avg_days_late: None,
            mean_invoice_total: None,
            portfolio_mean_total: None,
            customer_since: None,
            open_invoices: 1,
        },
        reason: "test reason".into(),
    }
}

fn invoice(number: &str, due: &str, open: i64) -> Invoice {
    Invoice {
        number: number.into(),
        customer_id: "C1".into(),
        issue_date: d(due) - Days::new(30),
        due_date: d(due),
        currency: "EUR".into(),
        total: Decimal::from(open.max(100)),
        open_amount: Decimal::from(open),
        paid_date: None,
    }
}

fn run(
    at: &str,
    days: u32,
    cal: &Calendar,
    pbs: &BTreeMap<String, Playbook>,
    invoices: &[Invoice],
    seg: &str,
) -> Plan {
    let c = customer();
    let s = segmentation(seg);
    let rules = Rules { calendar: cal, playbooks: pbs, law: None, post_delay_days: 2, care_settings: None };
    plan(
        d(at),
        days,
        &rules,
        invoices.iter().map(|i| Subject {
            invoice: i,
            customer: &c,
            segmentation: &s,
            progress: None,
            payments: &[],
            care: None,
        }),
    )
}

fn days_and_steps(p: &Plan) -> Vec<(String, u32)> {
    p.actions.iter().map(|a| (a.date.to_string(), a.step)).collect()
}

fn pairs(list: &[(&str, u32)]) -> Vec<(String, u32)> {
    list.iter().map(|(a, b)| (a.to_string(), *b)).collect()
}

#[test]
fn full_schedule_moves_weekend_targets_to_monday() {
    let pbs = books(vec![playbook("standard", STANDARD)]);
    let p = run("2026-11-20", 60, &nl(), &pbs, &[invoice("F1", "2026-12-01", 100)], "standard");
    // -3: Sat 11-28 -> Mon 11-30; +5: Sun 12-06 -> Mon 12-07; +15 Wed 12-16; +20 Mon 12-21;
    // +30 Thu 12-31; +40 Sun 2027-01-10 -> Mon 01-11; +54 Sun 01-24 is past the horizon (01-19).
    assert_eq!(
        days_and_steps(&p),
        pairs(&[
            ("2026-11-30", 1),
            ("2026-12-07", 2),
            ("2026-12-16", 3),
            ("2026-12-21", 4),
            ("2026-12-31", 5),
            ("2027-01-11", 6)
        ])
    );
    let first = &p.actions[0];
    assert_eq!(first.target_date, d("2026-11-28"));
    assert_eq!(first.days_overdue, -1);
    assert!(first.reason.contains("Target 2026-11-28 is a Saturday"), "{}", first.reason);
    assert!(first.reason.contains("standard playbook step 1 of 7 (J-3, email)"), "{}", first.reason);
    assert!(first.reason.contains("segment standard because test reason"), "{}", first.reason);
    assert!(!first.catch_up);
}

#[test]
fn christmas_and_boxing_day_are_skipped() {
    let pbs = books(vec![playbook("standard", &[5])]);
    // Due Sun 12-20, +5 = Fri 12-25 (Christmas), Sat 26 (Boxing Day), Sun 27 -> Mon 12-28.
    let p = run("2026-12-01", 60, &nl(), &pbs, &[invoice("F1", "2026-12-20", 100)], "standard");
    assert_eq!(days_and_steps(&p), pairs(&[("2026-12-28", 1)]));
    assert!(p.actions[0].reason.contains("is Christmas Day"), "{}", p.actions[0].reason);
}

#[test]
fn holidays_differ_between_nl_and_be() {
    let pbs = books(vec![playbook("standard", &[5])]);
    // King's Day Mon 2026-04-27: closed in NL only.
    let inv = [invoice("F1", "2026-04-22", 100)];
    assert_eq!(
        days_and_steps(&run("2026-04-01", 60, &nl(), &pbs, &inv, "standard")),
        pairs(&[("2026-04-28", 1)])
    );
    assert_eq!(
        days_and_steps(&run("2026-04-01", 60, &be(), &pbs, &inv, "standard")),
        pairs(&[("2026-04-27", 1)])
    );
    // Belgian National Day Tue 2026-07-21: closed in BE only.
    let inv = [invoice("F1", "2026-07-16", 100)];
    assert_eq!(
        days_and_steps(&run("2026-07-01", 60, &nl(), &pbs, &inv, "standard")),
        pairs(&[("2026-07-21", 1)])
    );
    assert_eq!(
        days_and_steps(&run("2026-07-01", 60, &be(), &pbs, &inv, "standard")),
        pairs(&[("2026-07-22", 1)])
    );
    // A configured closing day works like a holiday.
    let closed = Calendar::new(Jurisdiction::Nl, [d("2026-07-21")]);
    assert_eq!(
        days_and_steps(&run("2026-07-01", 60, &closed, &pbs, &inv, "standard")),
        pairs(&[("2026-07-22", 1)])
    );
}

#[test]
fn pre_due_step_with_target_before_run_date_is_skipped() {
    let pbs = books(vec![playbook("standard", STANDARD)]);
    // Run Mon 11-30. Due Wed 12-02: -3 targets Sun 11-29, before the run: skipped, even though
    // its working day would have been the run date itself.
    let p = run("2026-11-30", 0, &nl(), &pbs, &[invoice("F1", "2026-12-02", 100)], "standard");
    assert!(p.actions.is_empty(), "{:?}", days_and_steps(&p));
    let p = run("2026-11-30", 10, &nl(), &pbs, &[invoice("F1", "2026-12-02", 100)], "standard");
    assert_eq!(days_and_steps(&p), pairs(&[("2026-12-07", 2)]));
    // Due Thu 12-03: -3 targets Mon 11-30, the run date: kept.
    let p = run("2026-11-30", 0, &nl(), &pbs, &[invoice("F1", "2026-12-03", 100)], "standard");
    assert_eq!(days_and_steps(&p), pairs(&[("2026-11-30", 1)]));
    assert_eq!(p.actions[0].days_overdue, -3);
}

#[test]
fn invoice_100_days_overdue_starts_with_first_reminder_and_schedule_moves() {
    let pbs = books(vec![playbook("standard", STANDARD)]);
    // Due Tue 08-18, run Thu 11-26 (100 days later). -3 is skipped (pre-due, in the past).
    // +5 targets Sun 08-23 -> planned Mon 08-24, before the run: done Thu 11-26, a delay of
    // 94 days; the anchor becomes 11-20. +15 -> Sat 12-05 -> Mon 12-07; +20 -> Thu 12-10;
    // +30 -> Sun 12-20 -> Mon 12-21; +40 -> Wed 12-30; +54 -> Wed 2027-01-13.
    let p = run("2026-11-26", 60, &nl(), &pbs, &[invoice("F1", "2026-08-18", 100)], "standard");
    assert_eq!(
        days_and_steps(&p),
        pairs(&[
            ("2026-11-26", 2),
            ("2026-12-07", 3),
            ("2026-12-10", 4),
            ("2026-12-21", 5),
            ("2026-12-30", 6),
            ("2027-01-13", 7)
        ])
    );
    let first = &p.actions[0];
    assert!(first.catch_up);
    assert_eq!(first.days_overdue, 100);
    assert!(first.reason.contains("it was due on 2026-08-24"), "{}", first.reason);
    assert!(first.reason.contains("moves 94 days later"), "{}", first.reason);
    assert!(p.actions[1..].iter().all(|a| !a.catch_up));
}

#[test]
fn catch_up_on_a_weekend_run_happens_on_monday() {
    let pbs = books(vec![playbook("standard", &[5, 15])]);
    // Due Mon 11-02: +5 = Sat 11-07 -> Mon 11-09, before the run (Sat 11-28): done Mon 11-30,
    // delay 21 days, anchor 11-23; +15 -> Tue 12-08.
    let p = run("2026-11-28", 30, &nl(), &pbs, &[invoice("F1", "2026-11-02", 100)], "standard");
    assert_eq!(days_and_steps(&p), pairs(&[("2026-11-30", 1), ("2026-12-08", 2)]));
}

#[test]
fn one_step_per_invoice_per_day() {
    let pbs = books(vec![playbook("standard", &[5, 6])]);
    // Due Mon 11-23: +5 Sat 11-28 -> Mon 11-30; +6 Sun 11-29 would also be Mon 11-30, but must
    // come after step 1's day: Tue 12-01.
    let p = run("2026-11-20", 30, &nl(), &pbs, &[invoice("F1", "2026-11-23", 100)], "standard");
    assert_eq!(days_and_steps(&p), pairs(&[("2026-11-30", 1), ("2026-12-01", 2)]));
    assert!(p.actions[1].reason.contains("not after the previous step's day"), "{}", p.actions[1].reason);
}

#[test]
fn catch_up_of_two_overdue_steps_does_only_the_first_today() {
    let pbs = books(vec![playbook("standard", &[1, 2, 30])]);
    // Due Mon 11-02; +1 Tue 11-03 and +2 Wed 11-04 both before the run (Thu 11-26).
    // Step 1 done 11-26 (delay 23, anchor 11-25); step 2 targets 11-27 (Fri); step 3 12-25 is
    // Christmas -> Mon 12-28.
    let p = run("2026-11-26", 40, &nl(), &pbs, &[invoice("F1", "2026-11-02", 100)], "standard");
    assert_eq!(days_and_steps(&p), pairs(&[("2026-11-26", 1), ("2026-11-27", 2), ("2026-12-28", 3)]));
}

#[test]
fn partial_payment_shows_open_amount_and_min_open_amount_skips() {
    let mut pb = playbook("standard", &[5, 10]);
    pb.steps[1].min_open_amount = Some(Decimal::from(50));
    let pbs = books(vec![pb]);
    let mut partly = invoice("F1", "2026-12-01", 40);
    partly.total = Decimal::new(12100, 2);
    let full = invoice("F2", "2026-12-01", 100);
    let p = run("2026-11-20", 30, &nl(), &pbs, &[partly, full], "standard");
    // F1 (40 open) gets step 1 only; F2 gets both. Sorted by date, then invoice.
    let got: Vec<(String, String, u32)> =
        p.actions.iter().map(|a| (a.date.to_string(), a.invoice_number.clone(), a.step)).collect();
    assert_eq!(
        got,
        vec![
            ("2026-12-07".to_string(), "F1".to_string(), 1),
            ("2026-12-07".to_string(), "F2".to_string(), 1),
            ("2026-12-11".to_string(), "F2".to_string(), 2),
        ]
    );
    assert_eq!(p.actions[0].open_amount, Decimal::from(40));
}

#[test]
fn paid_and_credit_invoices_are_not_planned() {
    let pbs = books(vec![playbook("standard", STANDARD)]);
    let mut credit = invoice("CN1", "2026-11-01", -50);
    credit.total = Decimal::from(-50);
    let p = run("2026-11-26", 60, &nl(), &pbs, &[invoice("F1", "2026-11-01", 0), credit], "standard");
    assert!(p.actions.is_empty());
}

#[test]
fn invoice_keeps_the_playbook_it_started_on() {
    let pbs = books(vec![playbook("vip", &[10, 15, 25]), playbook("standard", STANDARD)]);
    let c = customer();
    let s = segmentation("standard");
    let inv = invoice("F1", "2026-11-02", 100);
    // Step 1 (+10 -> Thu 11-12) was done on its day under the vip playbook.
    let progress = Progress {
        playbook: "vip".into(),
        steps_done: 1,
        anchor: d("2026-11-02"),
        last_day: Some(d("2026-11-12")),
        first_reminder: None,
        fees: Decimal::ZERO,
        handed_over: None,
        term: None,
    };
    let cal = nl();
    let rules = Rules { calendar: &cal, playbooks: &pbs, law: None, post_delay_days: 2, care_settings: None };
    let p = plan(
        d("2026-11-13"),
        30,
        &rules,
        [Subject {
            invoice: &inv,
            customer: &c,
            segmentation: &s,
            progress: Some(&progress),
            payments: &[],
            care: None,
        }],
    );
    // +15 -> Tue 11-17; +25 -> Fri 11-27.
    assert_eq!(days_and_steps(&p), pairs(&[("2026-11-17", 2), ("2026-11-27", 3)]));
    assert_eq!(p.actions[0].segment, "vip");
    assert_eq!(p.actions[0].customer_segment, "standard");
    assert!(p.actions[0].reason.contains("keeps the vip playbook"), "{}", p.actions[0].reason);
}

#[test]
fn horizon_of_zero_days_is_the_run_date_only() {
    let pbs = books(vec![playbook("standard", STANDARD)]);
    let invoices = [invoice("F1", "2026-11-21", 100), invoice("F2", "2026-11-29", 100)];
    // F1: +5 = Thu 11-26 (the run date). F2: -3 = Thu 11-26 too.
    let p = run("2026-11-26", 0, &nl(), &pbs, &invoices, "standard");
    assert_eq!(
        p.actions.iter().map(|a| (a.invoice_number.as_str(), a.step)).collect::<Vec<_>>(),
        vec![("F1", 2), ("F2", 1)]
    );
}

#[test]
fn unknown_playbook_is_reported_not_silently_dropped() {
    let pbs = books(vec![playbook("standard", STANDARD)]);
    let p = run("2026-11-26", 0, &nl(), &pbs, &[invoice("F1", "2026-11-21", 100)], "gold");
    assert!(p.actions.is_empty());
    assert_eq!(p.problems.len(), 1);
    assert!(p.problems[0].contains("segment `gold` has no playbook"), "{}", p.problems[0]);
}

#[test]
fn planning_is_deterministic_whatever_the_input_order() {
    let pbs = books(vec![playbook("standard", STANDARD)]);
    let mut invoices: Vec<Invoice> =
        (0..40).map(|i| invoice(&format!("F{i:02}"), &format!("2026-11-{:02}", 1 + i % 28), 100)).collect();
    let a = run("2026-11-26", 30, &nl(), &pbs, &invoices, "standard");
    invoices.reverse();
    let b = run("2026-11-26", 30, &nl(), &pbs, &invoices, "standard");
    assert_eq!(a, b);
    assert!(a
        .actions
        .windows(2)
        .all(|w| (w[0].date, &w[0].invoice_number) <= (w[1].date, &w[1].invoice_number)));
}

// ---- amounts: interest, costs and total due on the actions ----

fn money_step(offset: i64, interest: MoneyAction, costs: MoneyAction) -> Step {
    Step {
        number: 1,
        offset_days: offset,
        channel: Channel::Email,
        template: "t".into(),
        description: None,
        interest,
        costs,
        consumer_interest: interest,
        consumer_costs: costs,
        requires_approval: false,
        min_open_amount: None,
        fee: None,
        consumer_fee: None,
        fallback_channel: None,
        fallback_template: None,
        attach_letter: false,
        term_days: None,
        consumer_term_days: None,
        cc_account_manager: false,
    }
}

fn with_steps(steps: Vec<Step>) -> BTreeMap<String, Playbook> {
    let mut pb = playbook("standard", &[]);
    pb.steps = steps
        .into_iter()
        .enumerate()
        .map(|(i, mut s)| {
            s.number = i as u32 + 1;
            s
        })
        .collect();
    books(vec![pb])
}

fn plan_with_law(
    at: &str,
    cal: &Calendar,
    pbs: &BTreeMap<String, Playbook>,
    inv: &Invoice,
    kind: CustomerKind,
    payments: &[Payment],
) -> Plan {
    let rates = Rates::shipped().unwrap();
    let costs = CostsOptions::default();
    let rules = Rules {
        calendar: cal,
        playbooks: pbs,
        law: Some(Law { rates: &rates, costs: &costs }),
        post_delay_days: 2,
        care_settings: None,
    };
    let mut c = customer();
    c.kind = kind;
    let s = segmentation("standard");
    plan(
        d(at),
        60,
        &rules,
        [Subject { invoice: inv, customer: &c, segmentation: &s, progress: None, payments, care: None }],
    )
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
fn applied_interest_and_costs_match_the_worked_vectors() {
    // legal-reference.md §6: NL commercial interest on 5000.00 due 2025-09-30 through
    // 2025-12-29 is 125.14 (V10); BIK on 5000.00 is 15% of 2500 + 10% of 2500 = 625.00.
    // J+90 = Mon 2025-12-29.
    let pbs = with_steps(vec![money_step(90, MoneyAction::Apply, MoneyAction::Apply)]);
    let mut inv = invoice("F1", "2025-09-30", 5000);
    inv.total = Decimal::from(5000);
    let p = plan_with_law("2025-12-29", &nl(), &pbs, &inv, CustomerKind::B2b, &[]);
    let a = &p.actions[0];
    assert_eq!(a.date, d("2025-12-29"));
    assert_eq!(a.interest, Some(dec("125.14")));
    assert_eq!(a.costs, Some(dec("625.00")));
    assert_eq!(a.total_due, Some(dec("5750.14")));
    assert!(a.reason.contains("Amounts: interest 125.14 EUR (applied), collection costs 625.00 EUR (applied), total due 5750.14 EUR."), "{}", a.reason);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

#[test]
fn announced_amounts_are_named_but_not_added_to_the_total() {
    let pbs = with_steps(vec![money_step(90, MoneyAction::Announce, MoneyAction::Announce)]);
    let mut inv = invoice("F1", "2025-09-30", 5000);
    inv.total = Decimal::from(5000);
    let a = &plan_with_law("2025-12-29", &nl(), &pbs, &inv, CustomerKind::B2b, &[]).actions[0];
    assert_eq!(
        (a.interest, a.costs, a.total_due),
        (Some(dec("125.14")), Some(dec("625.00")), Some(dec("5000")))
    );
}

#[test]
fn steps_without_money_carry_no_amounts() {
    let pbs = with_steps(vec![money_step(90, MoneyAction::None, MoneyAction::None)]);
    let a =
        &plan_with_law("2025-12-29", &nl(), &pbs, &invoice("F1", "2025-09-30", 100), CustomerKind::B2b, &[])
            .actions[0];
    assert_eq!((a.interest, a.costs, a.total_due), (None, None, None));
    assert!(a.payment_reference.as_deref().is_some_and(|r| r.starts_with("RF")));
}

#[test]
fn partial_payment_goes_to_interest_first_and_interest_runs_on_the_rest() {
    // 5000.00 due 2025-09-30 at 10.15%; 1000.00 paid on 2025-10-30.
    // 2025-10-01..10-30: 5000 x 0.1015 x 30/365 = 41.7123 -> 41.71 at the payment, which takes
    // 41.71 of interest and 958.29 of principal (art. 6:44 BW), leaving 4041.71.
    // 2025-10-31..12-29 (60 days): 4041.71 x 0.1015 x 60/365 = 67.4357 -> 67.44.
    // Costs on the open amount 4000.00: 375.00 + 150.00 = 525.00.
    // Total due: 4041.71 + 67.44 + 525.00 = 4634.15.
    let pbs = with_steps(vec![money_step(90, MoneyAction::Apply, MoneyAction::Apply)]);
    let mut inv = invoice("F1", "2025-09-30", 4000);
    inv.total = Decimal::from(5000);
    let payments = [Payment {
        invoice_number: "F1".into(),
        date: d("2025-10-30"),
        amount: Decimal::from(1000),
        method: None,
    }];
    let a = &plan_with_law("2025-12-29", &nl(), &pbs, &inv, CustomerKind::B2b, &payments).actions[0];
    assert_eq!(a.interest, Some(dec("67.44")));
    assert_eq!(a.costs, Some(dec("525.00")));
    assert_eq!(a.total_due, Some(dec("4634.15")));
}

#[test]
fn belgian_consumer_interest_starts_after_the_wait_that_follows_the_first_reminder() {
    // Due Mon 2026-03-02. Step 1 (+5, e-mail) Sat 03-07 -> Mon 03-09: the free first reminder.
    // The 14-day wait runs 03-10..03-23, so interest counts from 03-24. Step 2 (+30) is Wed
    // 04-01: 9 days of interest (03-24..04-01). A business customer: 30 days (03-03..04-01).
    let pbs = with_steps(vec![
        money_step(5, MoneyAction::None, MoneyAction::None),
        money_step(30, MoneyAction::Apply, MoneyAction::None),
    ]);
    let inv = invoice("F1", "2026-03-02", 1000);
    let rates = Rates::shipped().unwrap();
    let expect = |from: &str| {
        crate::law::compute_interest(
            &rates,
            crate::calendar::Jurisdiction::Be,
            crate::law::InterestKind::Commercial,
            Decimal::from(1000),
            d(from),
            d("2026-04-01"),
        )
        .unwrap()
    };
    let consumer = plan_with_law("2026-03-01", &be(), &pbs, &inv, CustomerKind::B2c, &[]);
    assert_eq!(days_and_steps(&consumer), pairs(&[("2026-03-09", 1), ("2026-04-01", 2)]));
    let nine_days = expect("2026-03-23");
    assert_eq!(nine_days.periods.iter().map(|p| p.days).sum::<i64>(), 9);
    assert_eq!(consumer.actions[1].interest, Some(nine_days.interest));
    let business = plan_with_law("2026-03-01", &be(), &pbs, &inv, CustomerKind::B2b, &[]);
    assert_eq!(business.actions[1].interest, Some(expect("2026-03-02").interest));
    assert!(business.actions[1].interest > consumer.actions[1].interest);
    assert!(consumer.actions[1].payment_reference.as_deref().is_some_and(|r| r.starts_with("+++")));
}

#[test]
fn consumer_overrides_change_what_a_step_does() {
    let mut step = money_step(90, MoneyAction::Apply, MoneyAction::Apply);
    step.consumer_interest = MoneyAction::Announce;
    step.consumer_costs = MoneyAction::None;
    let pbs = with_steps(vec![step]);
    let mut inv = invoice("F1", "2025-09-30", 5000);
    inv.total = Decimal::from(5000);
    let a = &plan_with_law("2025-12-29", &nl(), &pbs, &inv, CustomerKind::B2c, &[]).actions[0];
    // NL consumers get the 6:119 statutory rate, lower than the commercial one.
    assert!(a.interest.is_some_and(|i| i > Decimal::ZERO && i < dec("125.14")), "{:?}", a.interest);
    assert_eq!(a.costs, None);
    assert_eq!(a.total_due, Some(dec("5000")));
}

/// Issue 8's invoice: 1210.00 due 2025-09-30, 605.00 open, a step 58 days later (Thu
/// 2025-11-27) that applies interest and announces costs. NL commercial rate 10.15%.
fn half_paid(payments: &[Payment]) -> Action {
    let pbs = with_steps(vec![money_step(58, MoneyAction::Apply, MoneyAction::Announce)]);
    let mut inv = invoice("F1", "2025-09-30", 605);
    inv.total = dec("1210.00");
    inv.open_amount = dec("605.00");
    let p = plan_with_law("2025-11-01", &nl(), &pbs, &inv, CustomerKind::B2b, payments);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    p.actions[0].clone()
}

fn paid(date: &str, amount: &str) -> Payment {
    Payment { invoice_number: "F1".into(), date: d(date), amount: dec(amount), method: None }
}

#[test]
fn a_stated_open_amount_without_payment_dates_is_the_principal() {
    // 605.00 x 0.1015 x 58/365 = 9.7583 -> 9.76 (not 19.52, which is 1210.00's interest);
    // BIK on 605.00: 15% = 90.75; total due 605.00 + 9.76 (costs only announced).
    let a = half_paid(&[]);
    assert_eq!(a.date, d("2025-11-27"));
    assert_eq!(
        (a.interest, a.costs, a.total_due),
        (Some(dec("9.76")), Some(dec("90.75")), Some(dec("614.76")))
    );
    assert!(
        a.reason.contains(
            "without payment dates for 605.00 EUR: that part counts as paid on or before the due date"
        ),
        "{}",
        a.reason
    );
}

#[test]
fn a_dated_payment_on_the_due_date_gives_the_same_amounts() {
    let a = half_paid(&[paid("2025-09-30", "605.00")]);
    assert_eq!(
        (a.interest, a.costs, a.total_due),
        (Some(dec("9.76")), Some(dec("90.75")), Some(dec("614.76")))
    );
    assert!(!a.reason.contains("payment dates"), "{}", a.reason);
}

#[test]
fn a_later_dated_payment_earns_interest_until_it_was_made() {
    // 1210.00 for 10 days (10-01..10-10): 3.3649 -> 3.36 at the payment, which goes to
    // interest first: 3.36 interest, 601.64 principal, leaving 608.36. Then 48 days
    // (10-11..11-27): 608.36 x 0.1015 x 48/365 = 8.1203 -> 8.12. Total 608.36 + 8.12 = 616.48.
    let a = half_paid(&[paid("2025-10-10", "605.00")]);
    assert_eq!((a.interest, a.total_due), (Some(dec("8.12")), Some(dec("616.48"))));
}

#[test]
fn part_dated_part_undated_counts_only_the_dated_part_as_a_payment() {
    // 302.50 undated (before the due date), 302.50 on 2025-09-30: principal 907.50, open 605.00.
    let a = half_paid(&[paid("2025-09-30", "302.50")]);
    assert_eq!((a.interest, a.total_due), (Some(dec("9.76")), Some(dec("614.76"))));
    assert!(a.reason.contains("without payment dates for 302.50 EUR"), "{}", a.reason);
}

#[test]
fn payments_above_what_the_source_says_was_paid_leave_the_open_amount_as_principal() {
    // The source says 605.00 is open, yet 800.00 of payments are on record: the open amount
    // wins and earns interest from the due date, as without payments.
    let a = half_paid(&[paid("2025-10-10", "800.00")]);
    assert_eq!(
        (a.interest, a.costs, a.total_due),
        (Some(dec("9.76")), Some(dec("90.75")), Some(dec("614.76")))
    );
    assert!(a.reason.contains("its open amount of 605.00 EUR wins"), "{}", a.reason);
}

// ---- terms, the customer's own law, lawful fees (issue 11) ----

fn with_term(mut s: Step, days: u32) -> Step {
    s.term_days = Some(days);
    s.consumer_term_days = Some(days);
    s
}

#[test]
fn an_escalating_step_waits_for_the_last_term_given_and_then_says_it_expired() {
    // Step 1 (J+5, Thu 2025-10-09 for a due date of Sat 10-04... here due Wed 2025-10-01 -> Mon
    // 10-06) gives 14 days by e-mail: through Mon 10-20. Step 2 at J+10 (Sat 10-11 -> Mon 10-13)
    // applies interest: it waits until Tue 10-21. Step 3 (J+30, Fri 10-31) names the expired term.
    let pbs = with_steps(vec![
        with_term(money_step(5, MoneyAction::Announce, MoneyAction::Announce), 14),
        money_step(10, MoneyAction::Apply, MoneyAction::None),
        money_step(30, MoneyAction::Apply, MoneyAction::Apply),
    ]);
    let inv = invoice("F1", "2025-10-01", 500);
    let p = plan_with_law("2025-10-01", &nl(), &pbs, &inv, CustomerKind::B2b, &[]);
    let days: Vec<(String, u32)> = p.actions.iter().map(|a| (a.date.to_string(), a.step)).collect();
    assert_eq!(days, pairs(&[("2025-10-06", 1), ("2025-10-21", 2), ("2025-10-31", 3)]));
    assert_eq!(p.actions[0].deadline, Some(d("2025-10-20")));
    let waited = &p.actions[1];
    assert!(waited.reason.contains("waits for the term of the message of 2025-10-06, which runs through 2025-10-20: planned for 2025-10-13, it goes on 2025-10-21"), "{}", waited.reason);
    assert_eq!(waited.expired_term, Some(Term { sent: d("2025-10-06"), ends: d("2025-10-20") }));
    assert_eq!(p.actions[2].expired_term, Some(Term { sent: d("2025-10-06"), ends: d("2025-10-20") }));
    // A plain reminder (nothing applied, no term) does not wait.
    let pbs = with_steps(vec![
        with_term(money_step(5, MoneyAction::None, MoneyAction::None), 14),
        money_step(10, MoneyAction::None, MoneyAction::None),
    ]);
    let p = plan_with_law("2025-10-01", &nl(), &pbs, &inv, CustomerKind::B2b, &[]);
    assert_eq!(p.actions[1].date, d("2025-10-13"));
    assert_eq!(p.actions[1].expired_term, None);
}

#[test]
fn a_letters_term_runs_from_receipt_and_past_a_holiday() {
    // A letter posted Mon 2026-12-14 arrives Wed 12-16 (post_delay_days 2); 14 days end Wed
    // 12-30. Posted Fri 2026-12-11: arrives Sun 12-13, 14 days end Sun 12-27 -> Mon 12-28
    // (Atw: 12-25, 12-26 and the weekend).
    let mut letter = with_term(money_step(0, MoneyAction::None, MoneyAction::None), 14);
    letter.channel = Channel::Letter;
    let pbs = with_steps(vec![letter]);
    let a =
        &plan_with_law("2026-12-01", &nl(), &pbs, &invoice("F1", "2026-12-14", 500), CustomerKind::B2b, &[])
            .actions[0];
    assert_eq!(a.deadline, Some(d("2026-12-30")));
    let a =
        &plan_with_law("2026-12-01", &nl(), &pbs, &invoice("F1", "2026-12-11", 500), CustomerKind::B2b, &[])
            .actions[0];
    assert_eq!(a.deadline, Some(d("2026-12-28")));
}

fn plan_for(customer: &Customer, pbs: &BTreeMap<String, Playbook>, inv: &Invoice, at: &str) -> Plan {
    let rates = Rates::shipped().unwrap();
    let costs = CostsOptions::default();
    let cal = nl();
    let rules = Rules {
        calendar: &cal,
        playbooks: pbs,
        law: Some(Law { rates: &rates, costs: &costs }),
        post_delay_days: 2,
        care_settings: None,
    };
    let s = segmentation("standard");
    plan(
        d(at),
        90,
        &rules,
        [Subject { invoice: inv, customer, segmentation: &s, progress: None, payments: &[], care: None }],
    )
}

#[test]
fn a_consumer_in_ghent_gets_belgian_costs_and_the_belgian_wait_under_a_dutch_business() {
    // 46.88 open: the NL BIK minimum would be 40.00; the BE damages cap for a balance up to
    // 150.00 is 20.00. Interest: none before the 14-day wait after the first reminder.
    let mut c = customer();
    c.kind = CustomerKind::B2c;
    c.address.country = Some("BE".into());
    let mut first = with_term(money_step(5, MoneyAction::Announce, MoneyAction::Announce), 14);
    first.consumer_interest = MoneyAction::Announce;
    let pbs = with_steps(vec![first, money_step(40, MoneyAction::Apply, MoneyAction::Apply)]);
    let mut inv = invoice("F1", "2026-10-01", 0);
    inv.total = dec("46.88");
    inv.open_amount = dec("46.88");
    let p = plan_for(&c, &pbs, &inv, "2026-10-01");
    let first = &p.actions[0];
    assert_eq!(first.jurisdiction, crate::calendar::Jurisdiction::Be);
    assert_eq!(first.costs, Some(dec("20.00")));
    assert_eq!(first.interest, Some(dec("0.00")), "no interest before the wait ends");
    assert_eq!(first.interest_basis, Some("be-consumer"));
    // The first reminder goes Tue 10-06 by e-mail: day 1 of the wait Wed 10-07, day 14 Tue 10-20.
    assert_eq!(first.deadline, Some(d("2026-10-20")));
    // The same consumer in Utrecht: the Dutch BIK.
    c.address.country = Some("NL".into());
    let p = plan_for(&c, &pbs, &inv, "2026-10-01");
    assert_eq!(p.actions[0].costs, Some(dec("40.00")));
    assert_eq!(p.actions[0].jurisdiction, crate::calendar::Jurisdiction::Nl);
    // In France: the business's law, and the plan says so.
    c.address.country = Some("FR".into());
    let p = plan_for(&c, &pbs, &inv, "2026-10-01");
    assert_eq!(p.actions[0].jurisdiction, crate::calendar::Jurisdiction::Nl);
    assert!(p.problems.iter().any(|m| m.contains("consumer in FR")), "{:?}", p.problems);
    // A business customer follows the business's law, unless it has its own.
    let mut b = customer();
    b.address.country = Some("BE".into());
    assert_eq!(
        plan_for(&b, &pbs, &inv, "2026-10-01").actions[0].jurisdiction,
        crate::calendar::Jurisdiction::Nl
    );
    b.jurisdiction = Some(crate::calendar::Jurisdiction::Be);
    assert_eq!(
        plan_for(&b, &pbs, &inv, "2026-10-01").actions[0].jurisdiction,
        crate::calendar::Jurisdiction::Be
    );
}

#[test]
fn a_fee_goes_only_where_the_customers_law_allows_it() {
    let fee = |mut s: Step| {
        s.fee = Some(dec("9.00"));
        s.consumer_fee = Some(dec("9.00"));
        s
    };
    let pbs = with_steps(vec![
        fee(money_step(5, MoneyAction::None, MoneyAction::None)),
        fee(money_step(30, MoneyAction::None, MoneyAction::None)),
    ]);
    let inv = invoice("F1", "2026-10-01", 500);
    let mut c = customer();
    // A business pays both.
    let p = plan_for(&c, &pbs, &inv, "2026-10-01");
    assert_eq!(p.actions.iter().map(|a| a.fee).collect::<Vec<_>>(), [Some(dec("9.00")), Some(dec("9.00"))]);
    assert_eq!(p.actions[1].total_due, Some(dec("518.00")));
    // A Dutch consumer: none.
    c.kind = CustomerKind::B2c;
    c.address.country = Some("NL".into());
    let p = plan_for(&c, &pbs, &inv, "2026-10-01");
    assert!(p.actions.iter().all(|a| a.fee.is_none()));
    assert!(
        p.actions[0].reason.contains("Dutch consumers may not be charged one"),
        "{}",
        p.actions[0].reason
    );
    // A Belgian consumer: not on the free first reminder, then at most 7.50.
    c.address.country = Some("BE".into());
    let p = plan_for(&c, &pbs, &inv, "2026-10-01");
    assert_eq!(p.actions.iter().map(|a| a.fee).collect::<Vec<_>>(), [None, Some(dec("7.50"))]);
    assert!(p.actions[1].reason.contains("capped at 7.50"), "{}", p.actions[1].reason);
}

#[test]
fn a_prescribed_claim_escalates_only_with_approval_and_a_near_one_is_named() {
    // NL, a business: 5 years from the day after the due date (art. 3:307 BW). Due 2020-06-30:
    // prescribed from 2025-07-01.
    let pbs = with_steps(vec![
        money_step(5, MoneyAction::None, MoneyAction::None),
        money_step(10, MoneyAction::Apply, MoneyAction::Apply),
    ]);
    let inv = invoice("F1", "2020-06-30", 500);
    let p = plan_for(&customer(), &pbs, &inv, "2025-09-01");
    assert!(!p.actions[0].requires_approval, "a plain reminder still goes");
    assert!(p.actions[1].requires_approval, "{}", p.actions[1].reason);
    assert!(p.actions[1].reason.contains("past prescription"), "{}", p.actions[1].reason);
    assert!(
        p.problems.iter().any(|m| m.contains("invoice F1 is past prescription") && m.contains("3:307")),
        "{:?}",
        p.problems
    );
    // Three months before: a warning only.
    let p = plan_for(&customer(), &pbs, &inv, "2025-04-01");
    assert!(p.actions.iter().all(|a| !a.requires_approval));
    assert!(p.problems.iter().any(|m| m.contains("nears prescription")), "{:?}", p.problems);
}

mod care {
    //! What promises, disputes, plans and pauses do to the plan (calendar: 2026-11-02 Mon).
    use super::*;
    use crate::care::{
        Dispute, DisputeStatus, Instalment, InvoiceCare, Pause, PauseScope, PaymentPlan, PlanStatus, Promise,
        PromiseState, PromiseStatus, Recorded,
    };

    fn rec(on: &str) -> Recorded {
        Recorded { by: "anna".into(), at: format!("{on}T09:00:00+00:00"), on: d(on) }
    }

    fn run_care(at: &str, days: u32, inv: &Invoice, care: &InvoiceCare<'_>) -> Plan {
        let pbs = books(vec![playbook("standard", STANDARD)]);
        let cal = nl();
        let c = Customer { email: Some("a@b.example".into()), ..customer() };
        let s = segmentation("standard");
        let rules =
            Rules { calendar: &cal, playbooks: &pbs, law: None, post_delay_days: 2, care_settings: None };
        plan(
            d(at),
            days,
            &rules,
            [Subject {
                invoice: inv,
                customer: &c,
                segmentation: &s,
                progress: None,
                payments: &[],
                care: Some(care),
            }],
        )
    }

    fn kinds(p: &Plan) -> Vec<(String, &'static str, u32)> {
        p.actions.iter().map(|a| (a.date.to_string(), a.kind.as_str(), a.step)).collect()
    }

    fn pause(until: Option<&str>) -> Pause {
        Pause {
            id: 1,
            scope: PauseScope::Customer("C1".into()),
            from: d("2026-11-03"),
            until: until.map(d),
            reason: "holidays".into(),
            recorded: rec("2026-11-03"),
            lifted: None,
        }
    }

    #[test]
    fn steps_due_during_a_pause_come_one_at_a_time_after_it() {
        // Due 2 Nov; steps at +5 (9 Nov), +15 (17 Nov), +20 (23 Nov): all inside the pause.
        let inv = invoice("F1", "2026-11-02", 500);
        let p = pause(Some("2026-11-29"));
        let care = InvoiceCare { pauses: vec![&p], ..Default::default() };
        let plan = run_care("2026-11-03", 40, &inv, &care);
        // The first goes Monday 30 Nov (the day after the pause, a Sunday, moved on); the
        // schedule moved 21 days with it: +15 → 8 Dec, +20 → 14 Dec.
        assert_eq!(
            kinds(&plan),
            vec![("2026-11-30".into(), "step", 2), ("2026-12-08".into(), "step", 3)],
            "{:#?}",
            plan.actions
        );
        assert!(plan.actions[0].reason.contains("pause #1"), "{}", plan.actions[0].reason);
        let p = pause(None);
        let care = InvoiceCare { pauses: vec![&p], ..Default::default() };
        let plan = run_care("2026-11-03", 60, &inv, &care);
        assert!(plan.actions.is_empty());
        assert_eq!(plan.on_hold.len(), 1);
        assert!(plan.on_hold[0].reason.contains("until it is lifted"), "{:?}", plan.on_hold);
    }

    #[test]
    fn a_promise_not_kept_is_told_the_day_after_its_grace_and_the_steps_follow() {
        let inv = invoice("F1", "2026-11-02", 500);
        let p = Promise {
            id: 7,
            customer_id: "C1".into(),
            invoices: vec!["F1".into()],
            date: d("2026-11-10"),
            amount: Decimal::from(500),
            status: PromiseStatus::Open,
            note: None,
            recorded: rec("2026-11-04"),
            settled_on: None,
            notified_on: None,
        };
        // 10 Nov + 3 working days = 13 Nov (Fri): broken on Monday the 16th.
        let care = InvoiceCare {
            promises: vec![(&p, PromiseState::Waiting { grace_end: d("2026-11-13") })],
            ..Default::default()
        };
        let plan = run_care("2026-11-04", 25, &inv, &care);
        assert_eq!(
            kinds(&plan),
            vec![
                ("2026-11-16".into(), "broken-promise", 0),
                // The first reminder (9 Nov) waited: the working day after the message.
                ("2026-11-17".into(), "step", 2),
                // The schedule moved 8 days: +15 → 25 Nov.
                ("2026-11-25".into(), "step", 3),
            ]
        );
        assert_eq!(plan.actions[0].slot(), "broken-promise-7");
        // Told already: only the hold after the message remains.
        let told = Promise { status: PromiseStatus::Broken, notified_on: Some(d("2026-11-16")), ..p.clone() };
        let care = InvoiceCare {
            promises: vec![(&told, PromiseState::Broken { on: d("2026-11-16") })],
            ..Default::default()
        };
        let plan = run_care("2026-11-17", 3, &inv, &care);
        assert_eq!(kinds(&plan), vec![("2026-11-17".into(), "step", 2)]);
    }

    #[test]
    fn a_disputed_part_is_left_out_and_a_full_dispute_holds_until_its_task() {
        let inv = invoice("F1", "2026-11-02", 1000);
        let mut dispute = Dispute {
            id: 3,
            customer_id: "C1".into(),
            invoice: "F1".into(),
            reason: "quality".into(),
            amount: Some(Decimal::from(300)),
            deadline: d("2026-11-20"),
            note: None,
            status: DisputeStatus::Open,
            recorded: rec("2026-11-03"),
            resolved: None,
            deducted: None,
            task_on: None,
        };
        let care = InvoiceCare { disputes: vec![&dispute], ..Default::default() };
        let plan = run_care("2026-11-03", 10, &inv, &care);
        assert_eq!(kinds(&plan), vec![("2026-11-09".into(), "step", 2)]);
        assert_eq!(
            (plan.actions[0].open_amount, plan.actions[0].disputed),
            (Decimal::from(700), Some(Decimal::from(300)))
        );
        dispute.amount = None;
        let care = InvoiceCare { disputes: vec![&dispute], ..Default::default() };
        let plan = run_care("2026-11-03", 30, &inv, &care);
        // No step; the deadline (20 Nov) passed: a task on Monday the 23rd.
        assert_eq!(kinds(&plan), vec![("2026-11-23".into(), "dispute-task", 0)]);
        assert_eq!(plan.actions[0].channel, Channel::Phone);
        assert!(plan.on_hold[0].reason.contains("disputed in full"), "{:?}", plan.on_hold);
    }

    #[test]
    fn a_running_plan_sends_instalment_reminders_and_its_first_miss_ends_it() {
        let inv = invoice("F1", "2026-11-02", 600);
        let plan_record = PaymentPlan {
            id: 2,
            customer_id: "C1".into(),
            invoices: vec!["F1".into()],
            instalments: vec![
                Instalment { seq: 1, date: d("2026-11-20"), amount: Decimal::from(300), reminded_on: None },
                Instalment { seq: 2, date: d("2026-12-21"), amount: Decimal::from(300), reminded_on: None },
            ],
            status: PlanStatus::Active,
            note: None,
            recorded: rec("2026-11-04"),
            settled_on: None,
            missed: None,
            notified_on: None,
        };
        let allocation = crate::care::allocate(&plan_record, &[]);
        let state = crate::care::plan_state(&allocation, d("2026-11-04"), &nl(), 3);
        let care = InvoiceCare { plan: Some((&plan_record, state, &allocation)), ..Default::default() };
        // Within 10 days: only the reminder of instalment 1 (20 Nov - 3 = the 17th).
        let plan = run_care("2026-11-04", 15, &inv, &care);
        assert_eq!(kinds(&plan), vec![("2026-11-17".into(), "instalment", 0)]);
        assert!(plan.on_hold[0].reason.contains("payment plan #2 runs"), "{:?}", plan.on_hold);
        // Assuming nothing is paid: 20 Nov + 3 working days = 25 Nov; the plan ends on the 26th
        // and the playbook resumes the next day with the step that was due (catch-up).
        let plan = run_care("2026-11-04", 30, &inv, &care);
        assert_eq!(
            kinds(&plan),
            vec![
                ("2026-11-17".into(), "instalment", 0),
                ("2026-11-26".into(), "payment-plan-broken", 0),
                ("2026-11-27".into(), "step", 2),
            ]
        );
        assert_eq!(plan.actions[1].care.and_then(|c| c.seq), Some(1));
    }
}

#[test]
fn the_costs_are_due_once_the_term_of_a_message_that_named_them_ran_out() {
    // The shipped pattern: a first reminder (J+5) that gives consumers 14 days and names the
    // costs (businesses 7 days, no costs), a second (J+25) that names them with 14 days for
    // all, a last warning (J+45). Due Wed 2025-10-01.
    let mut first = with_term(money_step(5, MoneyAction::None, MoneyAction::None), 7);
    (first.consumer_interest, first.consumer_costs, first.consumer_term_days) =
        (MoneyAction::Announce, MoneyAction::Announce, Some(14));
    let second = with_term(money_step(25, MoneyAction::Announce, MoneyAction::Announce), 14);
    let last = money_step(45, MoneyAction::Apply, MoneyAction::Announce);
    let pbs = with_steps(vec![first.clone(), second.clone(), last.clone()]);
    let inv = invoice("F1", "2025-10-01", 500);
    let due = |kind| -> Vec<bool> {
        plan_with_law("2025-10-01", &nl(), &pbs, &inv, kind, &[])
            .actions
            .iter()
            .map(|a| a.costs_due)
            .collect()
    };
    // A consumer: the first reminder was the 14-day letter (art. 6:96 lid 6 BW): the costs are
    // owed once its term ran out, so the second reminder says so.
    assert_eq!(due(CustomerKind::B2c), [false, true, true]);
    // A business: its first reminder named no costs; the second is the first to name them.
    assert_eq!(due(CustomerKind::B2b), [false, false, true]);
    // A 7-day term is no 14-day letter: nothing is owed by a Dutch consumer after it.
    first.consumer_term_days = Some(7);
    let short = with_steps(vec![first, second, last]);
    let p = plan_with_law("2025-10-01", &nl(), &short, &inv, CustomerKind::B2c, &[]);
    assert!(p.actions[1].expired_term.is_some(), "{:?}", p.actions[1]);
    assert!(!p.actions[1].costs_due, "{:?}", p.actions[1]);
    assert!(p.actions[2].costs_due, "after the second reminder's 14 days");

    // Planned again from the stored progress (the second reminder sent on Mon 10-27, its term
    // through Mon 11-10): the last warning still knows that message named the costs.
    let rates = Rates::shipped().unwrap();
    let costs = CostsOptions::default();
    let cal = nl();
    let rules = Rules {
        calendar: &cal,
        playbooks: &pbs,
        law: Some(Law { rates: &rates, costs: &costs }),
        post_delay_days: 2,
        care_settings: None,
    };
    let progress = Progress {
        playbook: "standard".into(),
        steps_done: 2,
        anchor: d("2025-10-01"),
        last_day: Some(d("2025-10-27")),
        first_reminder: Some((d("2025-10-06"), Delivery::Electronic)),
        fees: Decimal::ZERO,
        handed_over: None,
        term: Some(Term { sent: d("2025-10-27"), ends: d("2025-11-10") }),
    };
    let c = customer();
    let s = segmentation("standard");
    let p = plan(
        d("2025-11-01"),
        60,
        &rules,
        [Subject {
            invoice: &inv,
            customer: &c,
            segmentation: &s,
            progress: Some(&progress),
            payments: &[],
            care: None,
        }],
    );
    let a = &p.actions[0];
    assert_eq!((a.step, a.date), (3, d("2025-11-17")));
    assert_eq!(a.expired_term, progress.term);
    assert!(a.costs_due, "{a:?}");
}
