//! Alerts to the business (issue 13, point 6): when a customer becomes a bad payer, breaks a
//! second promise to pay, or owes more than its credit limit, one e-mail goes to `[business]
//! alerts_to` with the customer, the figures, and what the seeds' process suggests: stricter
//! terms (prepayment, shorter payment terms) or no new orders until the arrears are cleared.
//!
//! Each `dunwell send` (not a dry run) looks at every customer on its day:
//! - **bad payer**: the customer's segment that day is `bad-payer` by the segmentation rules (a
//!   segment set by hand is the business's own decision and raises nothing);
//! - **broken promises**: two or more promises recorded broken; the occurrence starts the day
//!   the second one was found broken;
//! - **credit limit**: the open amount of its invoices in euro is more than its limit: its own
//!   `credit_limit` (customers.csv), else `[escalation] credit_limit`; without either, none.
//!
//! Once per occurrence: the `alerts` table keeps the occurrences in force (customer, kind, the
//! day it started); a condition that holds and has none gets its message, and one that no
//! longer holds ends its occurrence, so its coming back later is told again. The message's
//! idempotency key is `.alert|CUSTOMER|KIND|SINCE` (no customer id starts with `.`), written in
//! the same transaction as the occurrence, so a second run of the same day writes nothing, and
//! `Store::messages_between` leaves these keys out of the customer's weekly cap. The message
//! covers no invoice (the last look before delivery cancels nothing: the business wants to know
//! even when one was paid meanwhile) and is written in the business's `default_language`.
//!
//! The freshness gate holds alerts as it holds reminders: a customer with an open invoice whose
//! source (or the bank feed) is older than `max_source_age` is neither told of nor cleared
//! until a good sync, so a payment the bookkeeping knows of cannot raise a false alarm.

mod texts;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use super::{Inputs, SendError};
use crate::care::PromiseStatus;
use crate::config::Config;
use crate::model::{Customer, Invoice};
use crate::segment::{Rule, Segmentation};
use crate::store::{NewMessage, Status, Store};

/// Broken promises that alert the business.
pub const BROKEN_PROMISES: usize = 2;

/// The currency credit limits are in.
pub const LIMIT_CURRENCY: &str = "EUR";

/// What the business is told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    BadPayer,
    BrokenPromises,
    CreditLimit,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::BadPayer, Kind::BrokenPromises, Kind::CreditLimit];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::BadPayer => "bad-payer",
            Kind::BrokenPromises => "broken-promises",
            Kind::CreditLimit => "credit-limit",
        }
    }

    /// The outbox row's template name (the texts are in `alerts/texts.rs`, not in the
    /// playbooks: they go to the business, never to a customer).
    pub fn template(self) -> String {
        format!("alert-{}", self.as_str())
    }
}

/// A customer's credit limit and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limit {
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// The customer's own (`credit_limit` in customers.csv) rather than `[escalation]`'s.
    pub own: bool,
}

/// An open invoice, as the alert lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenInvoice {
    pub number: String,
    pub due_date: NaiveDate,
    #[serde(with = "rust_decimal::serde::str")]
    pub open_amount: Decimal,
    pub currency: String,
    /// Days past the due date (0 when not yet due).
    pub days_late: i64,
}

/// Where a customer stands on a day: what an alert states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub customer_id: String,
    pub customer_name: String,
    pub segment: String,
    pub segment_rule: Rule,
    pub segment_reason: String,
    /// Open on its invoices in [`LIMIT_CURRENCY`].
    #[serde(with = "rust_decimal::serde::str")]
    pub open_total: Decimal,
    /// Of that, past its due date.
    #[serde(with = "rust_decimal::serde::str")]
    pub overdue_total: Decimal,
    /// Every open invoice (any currency), oldest due first.
    pub open_invoices: Vec<OpenInvoice>,
    /// The days its promises were found broken, oldest first.
    pub broken_promises: Vec<NaiveDate>,
    pub credit_limit: Option<Limit>,
}

impl Figures {
    /// The figures of `customer` on `at`: `invoices` are its invoices (any), `broken` the days
    /// its promises were found broken, `default_limit` the one of `[escalation]`.
    pub fn of(
        customer: &Customer,
        segmentation: &Segmentation,
        invoices: &[&Invoice],
        broken: &[NaiveDate],
        default_limit: Option<Decimal>,
        at: NaiveDate,
    ) -> Figures {
        let mut open: Vec<OpenInvoice> = invoices
            .iter()
            .filter(|i| i.is_open())
            .map(|i| OpenInvoice {
                number: i.number.clone(),
                due_date: i.due_date,
                open_amount: i.open_amount,
                currency: i.currency.clone(),
                days_late: (at - i.due_date).num_days().max(0),
            })
            .collect();
        open.sort_by(|a, b| (a.due_date, &a.number).cmp(&(b.due_date, &b.number)));
        let in_limit_currency = || open.iter().filter(|i| i.currency == LIMIT_CURRENCY);
        let open_total = in_limit_currency().map(|i| i.open_amount).sum();
        let overdue_total = in_limit_currency().filter(|i| i.days_late > 0).map(|i| i.open_amount).sum();
        let mut broken = broken.to_vec();
        broken.sort();
        Figures {
            customer_id: customer.id.clone(),
            customer_name: customer.name.clone(),
            segment: segmentation.segment.clone(),
            segment_rule: segmentation.rule,
            segment_reason: segmentation.reason.clone(),
            open_total,
            overdue_total,
            open_invoices: open,
            broken_promises: broken,
            credit_limit: match (customer.credit_limit, default_limit) {
                (Some(amount), _) => Some(Limit { amount, own: true }),
                (None, Some(amount)) => Some(Limit { amount, own: false }),
                (None, None) => None,
            },
        }
    }

    /// The conditions that hold, each with the day its occurrence starts (if it starts now).
    pub fn conditions(&self, at: NaiveDate) -> Vec<(Kind, NaiveDate)> {
        let mut out = Vec::new();
        if self.segment == crate::segment::BAD_PAYER && self.segment_rule != Rule::Manual {
            out.push((Kind::BadPayer, at));
        }
        if let Some(second) = self.broken_promises.get(BROKEN_PROMISES - 1) {
            out.push((Kind::BrokenPromises, *second));
        }
        if self.credit_limit.is_some_and(|l| self.open_total > l.amount) {
            out.push((Kind::CreditLimit, at));
        }
        out
    }
}

/// What to do with one customer's alerts: the occurrences to tell of (kind, since) and the
/// kinds whose occurrence has ended. `in_force`: the kinds with an occurrence in force.
pub fn decide(holding: &[(Kind, NaiveDate)], in_force: &[Kind]) -> (Vec<(Kind, NaiveDate)>, Vec<Kind>) {
    let raise = holding.iter().copied().filter(|(k, _)| !in_force.contains(k)).collect();
    let end = in_force.iter().copied().filter(|k| !holding.iter().any(|(h, _)| h == k)).collect();
    (raise, end)
}

/// An alert written to the outbox by this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Raised {
    pub customer_id: String,
    pub customer_name: String,
    pub kind: Kind,
    /// The day the occurrence started.
    pub since: NaiveDate,
    pub recipient: String,
    pub subject: String,
    pub outbox_id: i64,
}

/// Looks at every customer on `at` and writes an alert to the outbox for each occurrence that
/// started (see the module documentation); ends the occurrences that are over. Without
/// `[business] alerts_to`, nothing.
pub(super) fn raise(
    store: &mut Store,
    config: &Config,
    inputs: &Inputs,
    at: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<Raised>, SendError> {
    let Some(to) = config.business.alerts_to.as_deref() else { return Ok(Vec::new()) };
    let mut in_force: HashMap<&str, Vec<Kind>> = HashMap::new();
    let stored = store.alerts_in_force()?;
    for (customer, kind) in stored.keys() {
        if let Some(k) = Kind::ALL.into_iter().find(|k| k.as_str() == kind) {
            in_force.entry(customer.as_str()).or_default().push(k);
        }
    }
    // The days promises were found broken (the promised date for one recorded broken without
    // it), per customer: the book holds every broken promise, today's included.
    let mut broken: HashMap<&str, Vec<NaiveDate>> = HashMap::new();
    for p in inputs.care.book.promises.iter().filter(|p| p.status == PromiseStatus::Broken) {
        broken.entry(p.customer_id.as_str()).or_default().push(p.settled_on.unwrap_or(p.date));
    }
    let freshness = super::gate::Freshness::load(store, config.schedule.max_source_age, now)?;
    let sources = store.invoice_sources()?;
    let mut invoices: HashMap<&str, Vec<&Invoice>> = HashMap::new();
    for i in &inputs.invoices {
        invoices.entry(i.customer_id.as_str()).or_default().push(i);
    }
    let language = config.default_language;
    let created = now.to_rfc3339();
    let mut out = Vec::new();
    for (customer, segmentation) in inputs.customers.iter().zip(&inputs.segmentations) {
        let mine = invoices.get(customer.id.as_str()).map(Vec::as_slice).unwrap_or_default();
        let stale = mine
            .iter()
            .filter(|i| i.is_open())
            .find_map(|i| sources.get(&i.number).and_then(|source| freshness.stale(source)));
        if let Some(why) = stale {
            tracing::debug!(customer = %customer.id, "alerts held: {why}");
            continue;
        }
        let figures = Figures::of(
            customer,
            segmentation,
            mine,
            broken.get(customer.id.as_str()).map(Vec::as_slice).unwrap_or_default(),
            config.escalation.credit_limit,
            at,
        );
        let forced = in_force.get(customer.id.as_str()).map(Vec::as_slice).unwrap_or_default();
        let (tell, ended) = decide(&figures.conditions(at), forced);
        for kind in ended {
            store.end_alert(&customer.id, kind.as_str())?;
        }
        for (kind, since) in tell {
            let (subject, body) = texts::render(language, kind, &figures, since);
            let message = NewMessage {
                key: format!(".alert|{}|{}|{since}", customer.id, kind.as_str()),
                day: at,
                customer_id: customer.id.clone(),
                channel: "email".into(),
                template: kind.template(),
                language: language.as_str().into(),
                recipient: Some(to.to_string()),
                subject: Some(subject.clone()),
                body,
                html: None,
                invoices: Vec::new(),
                total: Some(figures.open_total.to_string()),
                currency: Some(LIMIT_CURRENCY.into()),
                status: Status::Queued,
                pdf: None,
                fallback: None,
                data: None,
                cc: None,
            };
            let tx = store.begin()?;
            let id = tx.enqueue(&message, &created, &[])?;
            tx.record_alert(&customer.id, kind.as_str(), since, id)?;
            tx.commit()?;
            if let Some(outbox_id) = id {
                tracing::info!(customer = %customer.id, kind = kind.as_str(), %since, "alert to {to}");
                out.push(Raised {
                    customer_id: customer.id.clone(),
                    customer_name: customer.name.clone(),
                    kind,
                    since,
                    recipient: to.to_string(),
                    subject,
                    outbox_id,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CustomerKind;
    use crate::playbook::{PlaybookSet, PlaybookSource};

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn amount(s: &str) -> Decimal {
        crate::model::parse_amount(s).unwrap()
    }

    fn invoice(number: &str, customer: &str, due: &str, open: &str) -> Invoice {
        Invoice {
            number: number.into(),
            customer_id: customer.into(),
            issue_date: day("2026-09-01"),
            due_date: day(due),
            currency: "EUR".into(),
            total: amount(open),
            open_amount: amount(open),
            paid_date: None,
        }
    }

    fn segmentation(segment: &str, rule: Rule) -> Segmentation {
        let mut s = crate::segment::segment_all(
            day("2026-12-01"),
            &PlaybookSet::load(PlaybookSource::Builtin, crate::model::Language::Nl, &law()).unwrap().rules,
            &[Customer::new("C1", "x", CustomerKind::B2b)],
            &[],
            &[],
        )
        .remove(0);
        s.segment = segment.into();
        s.rule = rule;
        s
    }

    fn law() -> crate::playbook::LawSettings {
        crate::config::Config::default().law_settings()
    }

    #[test]
    fn each_condition_and_when_it_starts() {
        let c = Customer {
            credit_limit: Some(amount("1000.00")),
            ..Customer::new("C1", "Jansen", CustomerKind::B2b)
        };
        let a = invoice("F1", "C1", "2026-11-01", "600.00");
        let b = invoice("F2", "C1", "2026-12-20", "500.00");
        let at = day("2026-12-01");
        let standard = segmentation("standard", Rule::Default);
        // Over its own limit (1100 > 1000); the default limit does not count.
        let f = Figures::of(&c, &standard, &[&a, &b], &[], Some(amount("5000")), at);
        assert_eq!((f.open_total, f.overdue_total), (amount("1100.00"), amount("600.00")));
        assert_eq!(f.open_invoices[0].days_late, 30);
        assert_eq!(f.conditions(at), [(Kind::CreditLimit, at)]);
        // Exactly at the limit is not over it; without any limit there is nothing to go over.
        let f =
            Figures::of(&c, &standard, &[&a, &invoice("F3", "C1", "2026-12-20", "400.00")], &[], None, at);
        assert!(f.conditions(at).is_empty());
        let plain = Customer::new("C1", "Jansen", CustomerKind::B2b);
        assert!(Figures::of(&plain, &standard, &[&a, &b], &[], None, at).conditions(at).is_empty());
        let f = Figures::of(&plain, &standard, &[&a, &b], &[], Some(amount("1000")), at);
        assert_eq!(f.credit_limit, Some(Limit { amount: amount("1000"), own: false }));
        assert_eq!(f.conditions(at), [(Kind::CreditLimit, at)]);
        // Other currencies are listed, not added to a limit in euro.
        let usd = Invoice { currency: "USD".into(), ..invoice("F4", "C1", "2026-11-01", "9000.00") };
        let f = Figures::of(&c, &standard, &[&usd], &[], None, at);
        assert_eq!((f.open_total, f.open_invoices.len()), (Decimal::ZERO, 1));
        assert!(f.conditions(at).is_empty());

        // A second broken promise: from the day it was found broken. One is not enough.
        let one = [day("2026-10-10")];
        assert!(Figures::of(&plain, &standard, &[], &one, None, at).conditions(at).is_empty());
        let two = [day("2026-11-20"), day("2026-10-10")];
        let f = Figures::of(&plain, &standard, &[], &two, None, at);
        assert_eq!(f.conditions(at), [(Kind::BrokenPromises, day("2026-11-20"))]);

        // A bad payer by the rules, not one set by hand.
        let bad = segmentation("bad-payer", Rule::BadPayerLate);
        assert_eq!(Figures::of(&plain, &bad, &[], &[], None, at).conditions(at), [(Kind::BadPayer, at)]);
        let by_hand = segmentation("bad-payer", Rule::Manual);
        assert!(Figures::of(&plain, &by_hand, &[], &[], None, at).conditions(at).is_empty());
    }

    #[test]
    fn once_per_occurrence() {
        let d1 = day("2026-12-01");
        // New: told. In force: nothing. Over: ended. Back later: told again.
        assert_eq!(decide(&[(Kind::BadPayer, d1)], &[]), (vec![(Kind::BadPayer, d1)], vec![]));
        assert_eq!(decide(&[(Kind::BadPayer, d1)], &[Kind::BadPayer]), (vec![], vec![]));
        assert_eq!(decide(&[], &[Kind::BadPayer]), (vec![], vec![Kind::BadPayer]));
        assert_eq!(
            decide(&[(Kind::CreditLimit, d1)], &[Kind::BadPayer]),
            (vec![(Kind::CreditLimit, d1)], vec![Kind::BadPayer])
        );
    }

    /// A store with customer C1 (limit 1000, the invoices `open`) and C2 (nothing open), not
    /// yet imported (its source never synced).
    fn store_with(open: &[(&str, &str)]) -> Store {
        let mut store = Store::open_in_memory().unwrap();
        let tx = store.begin().unwrap();
        let mut customers = tx.customer_writer().unwrap();
        let c1 = Customer {
            credit_limit: Some(amount("1000")),
            ..Customer::new("C1", "Jansen BV", CustomerKind::B2b)
        };
        customers.upsert(&c1, "csv", "C1").unwrap();
        customers.upsert(&Customer::new("C2", "Peeters", CustomerKind::B2b), "csv", "C2").unwrap();
        drop(customers);
        let mut invoices = tx.invoice_writer(false).unwrap();
        for (number, amount_open) in open {
            let inv = invoice(number, "C1", "2026-11-20", amount_open);
            invoices.upsert(&inv, Some(inv.open_amount), "csv", number).unwrap();
        }
        drop(invoices);
        tx.commit().unwrap();
        store
    }

    fn run(store: &mut Store, config: &Config, at: &str) -> Vec<Raised> {
        let playbooks = PlaybookSet::load(PlaybookSource::Builtin, config.default_language, &law()).unwrap();
        let inputs = Inputs::load(store, config, &playbooks, day(at)).unwrap();
        raise(store, config, &inputs, day(at), Utc::now()).unwrap()
    }

    #[test]
    fn an_alert_is_written_once_and_again_when_the_condition_comes_back() {
        let mut config = Config::default();
        config.business.name = "Bakkerij Van Dam B.V.".into();
        let mut store = store_with(&[("F1", "700.00"), ("F2", "400.00")]);
        // Without alerts_to nothing is raised.
        assert!(run(&mut store, &config, "2026-12-01").is_empty());
        config.business.alerts_to = Some("debiteuren@bakkerij.example".into());
        // Nor while the invoices' source is stale (never imported here): held, like reminders.
        assert!(run(&mut store, &config, "2026-12-01").is_empty());
        let tx = store.begin().unwrap();
        tx.log_import("csv", "test", "").unwrap();
        tx.commit().unwrap();
        let raised = run(&mut store, &config, "2026-12-01");
        assert_eq!(raised.len(), 1, "{raised:?}");
        let r = &raised[0];
        assert_eq!((r.customer_id.as_str(), r.kind, r.since), ("C1", Kind::CreditLimit, day("2026-12-01")));
        let m = store.message(r.outbox_id).unwrap().unwrap();
        assert_eq!(m.recipient.as_deref(), Some("debiteuren@bakkerij.example"));
        assert_eq!(m.template, "alert-credit-limit");
        assert!(m.invoices.is_empty());
        assert!(m.subject.as_deref().unwrap().contains("Jansen BV"), "{m:?}");
        for needle in ["€ 1.100,00", "€ 1.000,00", "F1", "vooruitbetaling", "nieuwe bestellingen"] {
            assert!(m.body.contains(needle), "{needle}: {}", m.body);
        }
        // It does not count against C1's weekly cap.
        assert_eq!(store.messages_between("C1", day("2026-11-25"), day("2026-12-01")).unwrap(), 0);
        // The same day again, and the next days while it holds: nothing new.
        assert!(run(&mut store, &config, "2026-12-01").is_empty());
        assert!(run(&mut store, &config, "2026-12-02").is_empty());
        // Paid down below the limit: the occurrence ends...
        let mut store2 = store;
        {
            let tx = store2.begin().unwrap();
            tx.set_settlement("F2", Decimal::ZERO, Some(day("2026-12-03"))).unwrap();
            tx.commit().unwrap();
        }
        assert!(run(&mut store2, &config, "2026-12-03").is_empty());
        assert!(store2.alerts_in_force().unwrap().is_empty());
        // ... and going over again is a new one.
        {
            let tx = store2.begin().unwrap();
            tx.set_settlement("F2", amount("400.00"), None).unwrap();
            tx.commit().unwrap();
        }
        let again = run(&mut store2, &config, "2026-12-08");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].since, day("2026-12-08"));
        assert_ne!(again[0].outbox_id, r.outbox_id);
    }

    #[test]
    fn a_second_broken_promise_is_told_from_the_day_it_was_found_broken() {
        let mut config = Config::default();
        config.business.alerts_to = Some("debiteuren@bakkerij.example".into());
        let mut store = store_with(&[("F1", "500.00")]);
        let tx = store.begin().unwrap();
        tx.log_import("csv", "test", "").unwrap();
        tx.commit().unwrap();
        let by = |on: &str| crate::store::By {
            who: "anna".into(),
            at: format!("{on}T09:00:00+00:00"),
            on: day(on),
        };
        for (made, date) in [("2026-11-02", "2026-11-05"), ("2026-11-09", "2026-11-12")] {
            let promise = crate::store::NewPromise {
                invoices: vec!["F1".into()],
                date: day(date),
                amount: None,
                note: None,
            };
            store.add_promise(&promise, &by(made)).unwrap();
        }
        // As `send_day` does: what the payments decided is recorded before the alerts.
        let playbooks = PlaybookSet::load(PlaybookSource::Builtin, config.default_language, &law()).unwrap();
        let inputs = Inputs::load(&store, &config, &playbooks, day("2026-12-01")).unwrap();
        assert_eq!(inputs.care.settled.len(), 2);
        store.record_settled(&inputs.care.settled, &by("2026-12-01")).unwrap();
        let raised = run(&mut store, &config, "2026-12-01");
        let told: Vec<(Kind, NaiveDate)> = raised.iter().map(|r| (r.kind, r.since)).collect();
        // Thursday 12 November + 3 working days = the 17th: broken on the 18th.
        assert!(told.contains(&(Kind::BrokenPromises, day("2026-11-18"))), "{raised:?}");
    }

    #[test]
    fn the_texts_exist_in_every_language_and_name_the_figures() {
        let c = Customer {
            credit_limit: Some(amount("1000")),
            ..Customer::new("C9", "Müller & Söhne", CustomerKind::B2b)
        };
        let at = day("2026-12-01");
        let bad = segmentation("bad-payer", Rule::BadPayerPromises);
        let a = invoice("2026-001", "C9", "2026-11-01", "1234.56");
        let f = Figures::of(&c, &bad, &[&a], &[day("2026-10-01"), day("2026-11-15")], None, at);
        for lang in crate::model::Language::ALL {
            for kind in Kind::ALL {
                let (subject, body) = texts::render(lang, kind, &f, at);
                assert!(
                    subject.contains("Müller & Söhne") && subject.contains("C9"),
                    "{lang} {kind:?}: {subject}"
                );
                assert!(!subject.contains('\n'));
                assert!(body.contains("2026-001"), "{lang} {kind:?}: {body}");
                assert!(
                    body.contains("1234,56")
                        || body.contains("1,234.56")
                        || body.contains("1.234,56")
                        || body.contains("1 234,56"),
                    "{lang}: {body}"
                );
                assert!(!body.contains('{'), "a placeholder left: {lang} {kind:?}: {body}");
            }
        }
    }
}
