//! The planner: which step of which playbook is due for which invoice on which day, and why.
//!
//! `plan` is a pure function (data in, actions out, no I/O, no clock): the CLI's `plan`
//! command, the daemon and the tests all call it with the same kind of inputs, so what
//! `dunwell plan` shows is exactly what the daemon will do.
//!
//! Schedule rules, per invoice with an open amount above zero:
//! - it follows the playbook of its customer's segment at its first step and keeps it
//!   (`Progress::playbook`); without progress, the segment at the run date;
//! - step k's target is `anchor + offset_k`, the anchor starting at the due date; its day is
//!   the first working day on or after the target and after the day of step k-1;
//! - a pre-due step (negative offset) whose target is before the run date is skipped;
//! - any other step whose day is before the run date is done on the first working day on or
//!   after the run date, and the anchor moves by that delay, so the rest of the schedule moves
//!   with it: a late import catches up one step at a time, never jumps to a harsh step;
//! - a step with `min_open_amount` above what is open is skipped.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::calendar::{add_days, Calendar};
use crate::law::consumer::{earliest_interest_date, Delivery, Letter};
use crate::law::interest::{InterestBasis, InterestKind};
use crate::law::{collection_costs, owed, ChargedCosts, CostsOptions, OwedInput, PaymentReference, Rates};
use crate::model::{Customer, CustomerKind, Invoice, Payment};
use crate::playbook::{Channel, MoneyAction, Playbook, Step};
use crate::segment::Segmentation;

mod care;

/// How far an invoice already is in its playbook (recorded by the daemon as steps are done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The segment whose playbook the invoice follows.
    pub playbook: String,
    /// Steps already done or skipped: the next step is `steps_done + 1`.
    pub steps_done: usize,
    /// The due date plus every catch-up delay so far.
    pub anchor: NaiveDate,
    /// The day the last step was done, if any.
    pub last_day: Option<NaiveDate>,
    /// The first reminder sent after the due date (Belgian consumers: interest and costs only
    /// after the 14-day wait that follows it).
    pub first_reminder: Option<(NaiveDate, Delivery)>,
    /// Reminder fees charged on this invoice so far (owed from then on).
    pub fees: Decimal,
    /// The day the invoice was handed to the collection agency: it has left the playbook.
    pub handed_over: Option<NaiveDate>,
    /// The last term a message gave the debtor (no later step escalates before it ends).
    pub term: Option<Term>,
}

impl Progress {
    /// The written demands for payment on record (the first reminder after the due date, the
    /// last message that gave a term): what interrupts prescription where the law says so.
    pub fn demands(&self) -> impl Iterator<Item = NaiveDate> {
        [self.first_reminder.map(|(d, _)| d), self.term.map(|t| t.sent)].into_iter().flatten()
    }
}

/// A term given to pay: the day the message was sent and the term's last day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Term {
    pub sent: NaiveDate,
    pub ends: NaiveDate,
}

/// What the planner works with besides the invoices: the calendar, the playbooks and, to put
/// amounts on the actions, the law.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub calendar: &'a Calendar,
    pub playbooks: &'a BTreeMap<String, Playbook>,
    /// `None`: actions carry no interest, costs or total due.
    pub law: Option<Law<'a>>,
    /// Calendar days a letter takes by post before it counts as received (terms run from
    /// receipt).
    pub post_delay_days: u32,
    /// `[care]`: instalment reminders and graces (`None`: the defaults).
    pub care_settings: Option<&'a crate::care::Settings>,
}

#[derive(Debug, Clone, Copy)]
pub struct Law<'a> {
    pub rates: &'a Rates,
    pub costs: &'a CostsOptions,
}

/// One invoice to plan, with what the planner needs to know about its customer.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub invoice: &'a Invoice,
    pub customer: &'a Customer,
    pub segmentation: &'a Segmentation,
    pub progress: Option<&'a Progress>,
    /// The invoice's payments so far (interest runs on what remains; art. 6:44 allocation).
    pub payments: &'a [Payment],
    /// Promises, disputes, a payment plan or pauses that act on the invoice.
    pub care: Option<&'a crate::care::InvoiceCare<'a>>,
}

/// What an action is: a playbook step, or a message of working with the customer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    #[default]
    Step,
    /// A promise was not kept: the customer is told, and the playbook resumes after it.
    BrokenPromise,
    /// A payment plan ended because an instalment was missed.
    PlanBroken,
    /// An instalment of a payment plan is coming up.
    Instalment,
    /// A dispute passed its deadline unresolved: a task for a person.
    DisputeTask,
    /// A promise confirmed to the customer in writing (when it is recorded).
    PromiseConfirmation,
    /// A payment plan confirmed to the customer in writing, with every instalment.
    PlanConfirmation,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Step => "step",
            ActionKind::BrokenPromise => "broken-promise",
            ActionKind::PlanBroken => "payment-plan-broken",
            ActionKind::Instalment => "instalment",
            ActionKind::DisputeTask => "dispute-task",
            ActionKind::PromiseConfirmation => "promise-confirmation",
            ActionKind::PlanConfirmation => "payment-plan-confirmation",
        }
    }

    /// The template a message of this kind is rendered from (steps: their own).
    pub fn template(self) -> Option<&'static str> {
        match self {
            ActionKind::Step => None,
            ActionKind::BrokenPromise => Some("broken-promise"),
            ActionKind::PlanBroken => Some("payment-plan-broken"),
            ActionKind::Instalment => Some("instalment-reminder"),
            ActionKind::DisputeTask => Some("dispute-overdue"),
            ActionKind::PromiseConfirmation => Some("promise-confirmation"),
            ActionKind::PlanConfirmation => Some("payment-plan-confirmation"),
        }
    }
}

/// The care record a message of working with the customer is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CareRef {
    /// `promise`, `payment-plan` or `dispute`.
    pub record: &'static str,
    pub id: i64,
    /// The instalment, for an instalment reminder or a broken plan.
    pub seq: Option<u32>,
}

/// A step due on a day: what to send, to whom, and the sentence that explains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub date: NaiveDate,
    pub customer_id: String,
    pub customer_name: String,
    pub invoice_number: String,
    /// The segment whose playbook the invoice follows.
    pub segment: String,
    /// The customer's segment at the run date (differs when the invoice keeps an older playbook).
    pub customer_segment: String,
    /// 1-based position in the playbook.
    pub step: u32,
    pub steps_in_playbook: u32,
    pub offset_days: i64,
    pub channel: Channel,
    pub template: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub open_amount: Decimal,
    pub currency: String,
    pub due_date: NaiveDate,
    /// Days past the due date on `date` (negative before it).
    pub days_overdue: i64,
    /// The day the step aimed at before working days and catch-up moved it.
    pub target_date: NaiveDate,
    /// True when the step was due before the run date and is being caught up.
    pub catch_up: bool,
    pub requires_approval: bool,
    /// Statutory interest outstanding on `date`, where the step announces or applies it.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub interest: Option<Decimal>,
    /// The collection costs, where the step announces or applies them.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub costs: Option<Decimal>,
    /// What the customer is asked to pay on `date`: the open principal plus what the step
    /// applies (announced amounts are not included).
    #[serde(with = "rust_decimal::serde::str_option")]
    pub total_due: Option<Decimal>,
    /// The reminder fee this step charges (its playbook's `fee`), part of `total_due`.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub fee: Option<Decimal>,
    /// The structured reference to pay with (BE `+++…+++` or ISO 11649 RF), generated from
    /// the invoice number.
    pub payment_reference: Option<String>,
    /// Whose law governs the claim: a consumer's own country (NL or BE), else the business's
    /// (or the business customer's explicit `jurisdiction`).
    pub jurisdiction: crate::calendar::Jurisdiction,
    /// The statutory interest rate in force on `date` (a yearly percentage, `10.15`), where the
    /// step announces or applies interest.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub interest_rate: Option<Decimal>,
    /// The law the interest rests on: `nl-commercial` (art. 6:119a BW), `nl-consumer` (art.
    /// 6:119 BW), `be-commercial` (Wet 2 augustus 2002), `be-consumer` (Boek XIX WER).
    pub interest_basis: Option<&'static str>,
    /// The last day of the term this step's message gives to pay (its `term_days`).
    pub deadline: Option<NaiveDate>,
    /// The term of an earlier message that has run out by `date`: the message says so instead
    /// of pretending it still runs.
    pub expired_term: Option<Term>,
    /// The collection costs (BE: the damages) are owed on `date` because the term that ran out
    /// was given by a message that named them, and the customer's law makes them due after it
    /// (`law::consumer::earliest_costs_date`: NL consumers after the term of a 14-day letter,
    /// art. 6:96 lid 6 BW; BE consumers after the wait that the free first reminder started, Boek
    /// XIX WER; for a consumer the message must have given 14 days or more; businesses from the
    /// due date). The message then says they are due instead of announcing them again as costs
    /// that "will not be due" when paid in time.
    pub costs_due: bool,
    /// A playbook step, or a message of working with the customer (step 0).
    pub kind: ActionKind,
    /// The promise, plan or dispute a message of working with the customer is about.
    pub care: Option<CareRef>,
    /// The part of the invoice under open disputes: not chased (`open_amount` is the rest, and
    /// interest and costs are computed on the rest).
    #[serde(with = "rust_decimal::serde::str_option")]
    pub disputed: Option<Decimal>,
    pub reason: String,
    /// Where the invoice stands once this step is done: what `dunwell send` records, so the
    /// next plan continues from it.
    #[serde(skip)]
    pub progress_after: Progress,
}

/// The result of a planning run: the actions, and invoices that could not be planned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub problems: Vec<String>,
    /// Open invoices handed to the collection agency: they have left the playbook.
    pub handed_over: Vec<HandedOver>,
    /// Open invoices that get no step in the plan's days because of a pause, a promise, a
    /// payment plan or a dispute, and why.
    pub on_hold: Vec<OnHold>,
}

/// An open invoice whose steps wait for something a person recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnHold {
    pub invoice_number: String,
    pub customer_id: String,
    pub customer_name: String,
    /// The first day a step may go again (`None`: until a person lifts it or resolves it).
    pub until: Option<NaiveDate>,
    pub reason: String,
}

/// A message of working with the customer about one invoice of `record`, on `day`, through
/// the customer's channel (e-mail when there is an address, else a letter): what a
/// confirmation is built from.
pub fn care_message(
    kind: ActionKind,
    day: NaiveDate,
    rules: &Rules<'_>,
    s: &Subject<'_>,
    record: CareRef,
    reason: String,
) -> Option<Action> {
    let segment = s.progress.map_or(s.segmentation.segment.as_str(), |p| p.playbook.as_str());
    let playbook = rules.playbooks.get(segment)?;
    Some(care::action(kind, day, rules, playbook, s, care::customer_channel(s), record, reason))
}

impl Action {
    /// What the action is within its invoice, for the outbox's idempotency key: the step's
    /// number, or the care message and its record (`broken-promise-3`, `instalment-2.1`).
    pub fn slot(&self) -> String {
        match (self.kind, self.care) {
            (ActionKind::Step, _) | (_, None) => self.step.to_string(),
            (kind, Some(c)) => match c.seq {
                Some(seq) => format!("{}-{}.{seq}", kind.as_str(), c.id),
                None => format!("{}-{}", kind.as_str(), c.id),
            },
        }
    }
}

/// An open invoice the collection agency now pursues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandedOver {
    pub invoice_number: String,
    pub customer_id: String,
    pub customer_name: String,
    /// The day the case file went to the agency.
    pub day: NaiveDate,
    #[serde(with = "rust_decimal::serde::str")]
    pub open_amount: Decimal,
    pub currency: String,
}

/// Plans the actions due from `at` through `at + days`, assuming nothing more is paid and
/// every planned step is carried out on its planned day.
pub fn plan<'a>(
    at: NaiveDate,
    days: u32,
    rules: &Rules<'_>,
    subjects: impl IntoIterator<Item = Subject<'a>>,
) -> Plan {
    let end = at + Days::new(u64::from(days));
    let mut out = Plan::default();
    for s in subjects {
        if !s.invoice.is_open() {
            continue;
        }
        if let Some(day) = s.progress.and_then(|p| p.handed_over) {
            out.handed_over.push(HandedOver {
                invoice_number: s.invoice.number.clone(),
                customer_id: s.customer.id.clone(),
                customer_name: s.customer.name.clone(),
                day,
                open_amount: s.invoice.open_amount,
                currency: s.invoice.currency.clone(),
            });
            continue;
        }
        let segment = s.progress.map_or(s.segmentation.segment.as_str(), |p| p.playbook.as_str());
        let Some(playbook) = rules.playbooks.get(segment) else {
            out.problems.push(format!(
                "invoice {} of customer {} is not planned: segment `{segment}` has no playbook",
                s.invoice.number, s.customer.id
            ));
            continue;
        };
        let Some(care) = s.care.filter(|c| !c.is_empty()) else {
            plan_invoice(at, end, rules, playbook, &s, None, None, &mut out);
            continue;
        };
        // Disputed parts are not chased: the steps run on the undisputed rest (interest and
        // costs included); a fully disputed invoice waits for the dispute's resolution.
        let disputed = care::disputed(s.invoice, care);
        if disputed > Decimal::ZERO {
            care::dispute_tasks(at, end, rules, playbook, &s, care, &mut out);
        }
        if disputed >= s.invoice.open_amount {
            out.on_hold.push(care::on_hold(&s, None, care::fully_disputed(care)));
            continue;
        }
        let reduced = (disputed > Decimal::ZERO).then(|| Invoice {
            total: s.invoice.total - disputed,
            open_amount: s.invoice.open_amount - disputed,
            ..s.invoice.clone()
        });
        let s = match &reduced {
            Some(inv) => Subject { invoice: inv, ..s },
            None => s,
        };
        let Some(floor) = care::hold(at, end, rules, playbook, &s, care, &mut out) else { continue };
        plan_invoice(
            at,
            end,
            rules,
            playbook,
            &s,
            floor,
            (disputed > Decimal::ZERO).then_some(disputed),
            &mut out,
        );
    }
    out.actions.sort_by(|a, b| (a.date, &a.invoice_number, a.step).cmp(&(b.date, &b.invoice_number, b.step)));
    out.handed_over.sort_by(|a, b| (a.day, &a.invoice_number).cmp(&(b.day, &b.invoice_number)));
    out.on_hold.sort_by(|a, b| (&a.customer_id, &a.invoice_number).cmp(&(&b.customer_id, &b.invoice_number)));
    out
}

/// Plans one invoice's steps. `floor`: no step before that day (a pause, a promise or a plan
/// held them; the text says which), with the catch-up rules from it as from a run date.
/// `disputed`: the part of the invoice under dispute (`s.invoice` is already the rest).
#[allow(clippy::too_many_arguments)]
fn plan_invoice(
    at: NaiveDate,
    end: NaiveDate,
    rules: &Rules<'_>,
    playbook: &Playbook,
    s: &Subject<'_>,
    floor: Option<(NaiveDate, String)>,
    disputed: Option<Decimal>,
    out: &mut Plan,
) {
    let calendar = rules.calendar;
    // Held until `floor`: the first day after the hold is treated as the run date, so the
    // steps due meanwhile are caught up one at a time, never in a burst.
    let run_day = floor.as_ref().map_or(at, |(f, _)| at.max(*f));
    let inv = s.invoice;
    let (mut anchor, mut prev_day, first, mut first_reminder, mut fees) = match s.progress {
        Some(p) => (p.anchor, p.last_day, p.steps_done, p.first_reminder, p.fees),
        None => (inv.due_date, None, 0, None, Decimal::ZERO),
    };
    // The creditor's bank decides the reference; the customer's law decides amounts and terms.
    let reference =
        PaymentReference::for_invoice(calendar.jurisdiction(), &inv.number).ok().map(|r| r.to_string());
    let kind = s.customer.kind;
    let (law_j, law_note) = s.customer.law(calendar.jurisdiction());
    if let Some(note) = law_note {
        if !out.problems.contains(&note) {
            out.problems.push(note);
        }
    }
    let mut term = s.progress.and_then(|p| p.term);
    // The message that gave `term`: whether it named the collection costs, how it went, and
    // its term in days. Before the first step to plan, the last step that gives a term (the one
    // that set the stored term).
    let mut term_giver: Option<TermGiver> =
        playbook.steps.iter().take(first).rev().find_map(|s| term_giver_of(s, kind));
    // Written demands so far (they interrupt prescription where the law says so).
    let mut demands: Vec<NaiveDate> = s.progress.into_iter().flat_map(Progress::demands).collect();
    let mut warned_prescription = false;
    // The costs depend only on the invoice and the customer: computed once per invoice.
    let mut costs_cache = None;
    for step in playbook.steps.iter().skip(first) {
        let target = add_days(anchor, step.offset_days);
        if step.offset_days < 0 && target < run_day {
            continue; // the moment for a preventive message has passed
        }
        if step.min_open_amount.is_some_and(|min| inv.open_amount < min) {
            continue;
        }
        let earliest = prev_day.map_or(target, |p| target.max(p + Days::new(1)));
        let mut day = calendar.working_day_on_or_after(earliest);
        let mut catch_up = None;
        if day < run_day {
            let done =
                calendar.working_day_on_or_after(prev_day.map_or(run_day, |p| run_day.max(p + Days::new(1))));
            let delay = (done - day).num_days();
            anchor = add_days(anchor, delay);
            catch_up = Some((day, delay));
            day = done;
        }
        // A term once given is honoured: nothing escalates before the day after it ends.
        let mut waited = None;
        if let Some(t) = term.filter(|t| step.escalates_for(kind) && day <= t.ends) {
            let after = calendar.working_day_on_or_after(t.ends + Days::new(1));
            waited = Some((day, t));
            day = after;
        }
        if day > end {
            break;
        }
        let expired_term = term.filter(|t| day > t.ends && step.channel.delivery().is_some());
        let costs_due = match (expired_term, term_giver) {
            // A consumer's letter counts only with a term of 14 days or more (NL: the 14-day
            // letter; BE: the first reminder's wait), whatever `earliest_costs_date` assumes.
            (Some(t), Some(TermGiver { names_costs: true, delivery, days }))
                if kind == CustomerKind::B2b || u64::from(days) >= crate::law::consumer::TERM_DAYS =>
            {
                let letter = Letter { sent: t.sent, delivery, names_exact_costs: true };
                crate::law::consumer::earliest_costs_date(
                    law_j,
                    kind,
                    inv.due_date,
                    Some(letter),
                    rules.post_delay_days,
                )
                .is_some_and(|from| from <= day)
            }
            _ => false,
        };
        // Prescription: a warning near it; past it, nothing escalates without a person's approval.
        let mut prescribed = None;
        if let Some(law) = rules.law {
            let claim = demands.iter().fold(
                crate::law::Claim::new(law_j, kind, crate::law::Goods::Unknown, inv.issue_date, inv.due_date),
                |c, d| c.with_demand(*d),
            );
            match crate::law::standing(&law.rates.prescription, &claim, day) {
                crate::law::Standing::Fine => {}
                crate::law::Standing::Near { rule, .. } if !warned_prescription => {
                    warned_prescription = true;
                    out.problems.push(format!("invoice {} nears prescription: {rule}", inv.number));
                }
                crate::law::Standing::Near { .. } => {}
                crate::law::Standing::Past { rule, .. } => {
                    if !warned_prescription {
                        warned_prescription = true;
                        out.problems.push(format!("invoice {} is past prescription: {rule}", inv.number));
                    }
                    if step.escalates_for(kind) {
                        prescribed = Some(rule);
                    }
                }
            }
        }
        if step.channel.delivery().is_some() {
            demands.push(day);
        }
        if first_reminder.is_none() && day > inv.due_date {
            first_reminder = step.channel.delivery().map(|d| (day, d));
        }
        let deadline = match (step.term_for(kind), step.channel.delivery()) {
            (Some(days), Some(delivery)) => {
                let ends = crate::law::consumer::term_end(law_j, day, delivery, days, rules.post_delay_days);
                term = Some(Term { sent: day, ends });
                term_giver = term_giver_of(step, kind);
                Some(ends)
            }
            _ => None,
        };
        let amounts = match rules.law {
            Some(law) => {
                amounts(law, law_j, step, s, day, first_reminder, &mut costs_cache).unwrap_or_else(|e| {
                    out.problems
                        .push(format!("invoice {}: no amounts for step {}: {e}", inv.number, step.number));
                    Amounts::default()
                })
            }
            None => Amounts::default(),
        };
        if rules.law.is_some() && amounts.costs.is_none() && step.money_for(kind).1 != MoneyAction::None {
            out.problems.push(format!(
                "invoice {} ({} {}): step {} on {day} must state the collection costs, but none can be computed (the statutory scales are in euro); `dunwell send` holds the message",
                inv.number, inv.open_amount, inv.currency, step.number
            ));
        }
        let mut amounts = amounts;
        let (fee, fee_note) = lawful_fee(rules, law_j, kind, step.fee_for(kind), first_reminder, day);
        amounts.add_fees(inv.open_amount, fees, fee);
        let mut reason = explain(calendar, playbook, step, s, target, day, prev_day, catch_up);
        if let Some((f, why)) = floor.as_ref().filter(|(f, _)| catch_up.is_some() && *f > at) {
            reason.push_str(&format!(" It waited for {why}: nothing went before {f}."));
        }
        if let Some(d) = disputed {
            reason.push_str(&format!(
                " {d} {} of the invoice is disputed and not chased: the step asks for the rest.",
                inv.currency
            ));
        }
        if let Some((planned, t)) = waited {
            reason.push_str(&format!(
                " It waits for the term of the message of {}, which runs through {}: planned for {planned}, it goes on {day}.",
                t.sent, t.ends
            ));
        }
        if let Some(d) = deadline {
            reason.push_str(&format!(
                " It gives a term to pay through {d} ({} law).",
                law_j.as_str().to_uppercase()
            ));
        }
        if law_j != calendar.jurisdiction() {
            reason.push_str(&format!(" The customer's claims follow {} law.", law_j.as_str().to_uppercase()));
        }
        amounts.explain(step, kind, &inv.currency, &mut reason);
        if let Some(note) = fee_note {
            reason.push(' ');
            reason.push_str(&note);
        }
        if let Some(rule) = &prescribed {
            reason.push_str(&format!(
                " The claim is past prescription ({rule}): this step escalates, so it waits for a person's approval."
            ));
        }
        let Amounts { interest, costs, total_due, interest_rate, interest_basis, .. } = amounts;
        fees += fee.unwrap_or_default();
        out.actions.push(Action {
            date: day,
            customer_id: s.customer.id.clone(),
            customer_name: s.customer.name.clone(),
            invoice_number: inv.number.clone(),
            segment: playbook.segment.clone(),
            customer_segment: s.segmentation.segment.clone(),
            step: step.number,
            steps_in_playbook: playbook.steps.len() as u32,
            offset_days: step.offset_days,
            channel: step.channel,
            template: step.template.clone(),
            open_amount: inv.open_amount,
            currency: inv.currency.clone(),
            due_date: inv.due_date,
            days_overdue: (day - inv.due_date).num_days(),
            target_date: target,
            catch_up: catch_up.is_some(),
            requires_approval: step.requires_approval || prescribed.is_some(),
            interest,
            costs,
            total_due,
            fee,
            payment_reference: reference.clone(),
            jurisdiction: law_j,
            interest_rate,
            interest_basis,
            deadline,
            expired_term,
            costs_due,
            kind: ActionKind::Step,
            care: None,
            disputed,
            reason,
            progress_after: Progress {
                playbook: playbook.segment.clone(),
                steps_done: step.number as usize,
                anchor,
                last_day: Some(day),
                first_reminder,
                fees,
                handed_over: None,
                term,
            },
        });
        prev_day = Some(day);
    }
}

/// The message that gave the last term, as far as whether the costs are owed after it depends
/// on it.
#[derive(Debug, Clone, Copy)]
struct TermGiver {
    /// It announced or applied the collection costs.
    names_costs: bool,
    delivery: Delivery,
    /// The term it gave, in days.
    days: u32,
}

/// For a step that gives a customer of `kind` a term: what its message said of the costs, how
/// it reaches the customer, and the term.
fn term_giver_of(step: &Step, kind: CustomerKind) -> Option<TermGiver> {
    let days = step.term_for(kind)?;
    let delivery = step.channel.delivery()?;
    Some(TermGiver { names_costs: step.money_for(kind).1 != MoneyAction::None, delivery, days })
}

#[derive(Debug, Default, Clone)]
struct Amounts {
    interest: Option<Decimal>,
    costs: Option<Decimal>,
    total_due: Option<Decimal>,
    /// This step's reminder fee, and the fees charged by earlier steps (both in `total_due`).
    fee: Option<Decimal>,
    earlier_fees: Decimal,
    /// The rate in force (a percentage) and the law the interest rests on.
    interest_rate: Option<Decimal>,
    interest_basis: Option<&'static str>,
    /// How the interest's principal was read when the source's open amount and its dated
    /// payments do not tell the same story.
    note: Option<String>,
}

/// What interest runs on: the principal of the claim and the dated payments against it.
///
/// A source may state an open amount without the payments behind it (`open_amount` in
/// invoices.csv, a connector's `open`). Interest must rest on what is open, like the costs and
/// the total due beside it, so the claim's principal is the open amount plus the dated
/// payments: the part of the total that no dated payment explains is taken as paid on or
/// before the due date (it never earned interest). When the dated payments come to more than
/// the source says was paid, the source's open amount wins (as it does for the open amount
/// itself) and interest runs on it from the due date, without the payments: the figure the
/// customer sees never rests on more than what the source says is open.
#[derive(Debug, Clone, PartialEq, Eq)]
struct InterestBase<'p> {
    principal: Decimal,
    payments: &'p [Payment],
    note: Option<String>,
}

fn interest_base<'p>(inv: &Invoice, payments: &'p [Payment]) -> InterestBase<'p> {
    let dated: Decimal = payments.iter().map(|p| p.amount).sum();
    let stated_paid = inv.total - inv.open_amount;
    let cur = &inv.currency;
    if dated == stated_paid {
        return InterestBase { principal: inv.total, payments, note: None };
    }
    if dated < stated_paid {
        let undated = stated_paid - dated;
        return InterestBase {
            principal: inv.open_amount + dated,
            payments,
            note: Some(format!(
                "The source states {} {cur} open of {} {cur} without payment dates for {undated} {cur}: that part counts as paid on or before the due date, so interest runs on the {} {cur} open.",
                inv.open_amount, inv.total, inv.open_amount
            )),
        };
    }
    InterestBase {
        principal: inv.open_amount,
        payments: &[],
        note: Some(format!(
            "The payments on record ({dated} {cur}) come to more than the source says was paid of {} {cur}; its open amount of {} {cur} wins, and interest runs on it from the due date.",
            inv.total, inv.open_amount
        )),
    }
}

impl Amounts {
    /// Reminder fees are owed once charged: an earlier step's fee and this step's are part of
    /// what the customer is asked to pay, whatever the step does with interest and costs.
    fn add_fees(&mut self, open: Decimal, earlier: Decimal, fee: Option<Decimal>) {
        let add = earlier + fee.unwrap_or_default();
        self.fee = fee;
        self.earlier_fees = earlier;
        if add > Decimal::ZERO {
            self.total_due = Some(self.total_due.unwrap_or(open) + add);
        }
    }

    fn explain(&self, step: &Step, kind: CustomerKind, currency: &str, text: &mut String) {
        let (interest, costs) = step.money_for(kind);
        let verb = |a: MoneyAction| if a == MoneyAction::Apply { "applied" } else { "announced" };
        let mut parts = Vec::new();
        if let Some(i) = self.interest {
            parts.push(format!("interest {i} {currency} ({})", verb(interest)));
        }
        if let Some(c) = self.costs {
            parts.push(format!("collection costs {c} {currency} ({})", verb(costs)));
        }
        if let Some(f) = self.fee {
            parts.push(format!("reminder fee {f} {currency} (charged)"));
        }
        if self.earlier_fees > Decimal::ZERO {
            parts.push(format!("earlier reminder fees {} {currency}", self.earlier_fees));
        }
        if let Some(t) = self.total_due {
            parts.push(format!("total due {t} {currency}"));
        }
        if !parts.is_empty() {
            text.push_str(&format!(" Amounts: {}.", parts.join(", ")));
        }
        if let Some(note) = &self.note {
            text.push(' ');
            text.push_str(note);
        }
    }
}

/// Interest, costs and the total due on `day` for a step that announces or applies them.
///
/// The projection assumes nothing more is paid. Interest runs on the invoice's principal (see
/// [`interest_base`]) with its payments allocated costs, interest, principal (art. 6:44 BW);
/// for Belgian consumers it only
/// starts after the wait that follows the first reminder. Costs are the statutory amount for the
/// open principal (the scales are in euro, so other currencies get none). Announced amounts are
/// named but not added: the total due is then the open amount plus what is applied.
fn amounts(
    law: Law<'_>,
    jurisdiction: crate::calendar::Jurisdiction,
    step: &Step,
    s: &Subject<'_>,
    day: NaiveDate,
    first_reminder: Option<(NaiveDate, Delivery)>,
    costs_cache: &mut Option<Option<Decimal>>,
) -> Result<Amounts, crate::law::LawError> {
    let (interest_action, costs_action) = step.money_for(s.customer.kind);
    if interest_action == MoneyAction::None && costs_action == MoneyAction::None {
        return Ok(Amounts::default());
    }
    let inv = s.invoice;
    let kind = s.customer.kind;
    let costs = match costs_action {
        MoneyAction::None => None,
        _ => match costs_cache {
            Some(cached) => *cached,
            None => {
                let c = if inv.currency == "EUR" {
                    Some(collection_costs(law.rates, jurisdiction, kind, inv.open_amount, law.costs)?.costs)
                } else {
                    None
                };
                *costs_cache = Some(c);
                c
            }
        },
    };
    let applied_costs = costs.filter(|_| costs_action == MoneyAction::Apply);
    if interest_action == MoneyAction::None {
        return Ok(Amounts {
            interest: None,
            costs,
            total_due: Some(inv.open_amount + applied_costs.unwrap_or_default()),
            ..Amounts::default()
        });
    }
    let letter = first_reminder.map(|(sent, delivery)| Letter { sent, delivery, names_exact_costs: false });
    let interest_from = earliest_interest_date(jurisdiction, kind, inv.due_date, letter);
    let base = interest_base(inv, s.payments);
    let claim = OwedInput {
        principal: base.principal,
        due_date: inv.due_date,
        jurisdiction,
        kind,
        charge_interest: interest_from.is_some(),
        interest_from,
        contract_date: None,
        costs: applied_costs.map(|amount| ChargedCosts { amount, from: day }),
    };
    let owed = owed(law.rates, &claim, base.payments, day)?;
    let total_due = match interest_action {
        MoneyAction::Apply => owed.total_due,
        _ => inv.open_amount + applied_costs.unwrap_or_default(),
    };
    let basis = InterestBasis::new(jurisdiction, InterestKind::for_customer(kind));
    let interest_rate =
        law.rates.period_on(&basis.series_on(day), day).map(|p| (p.rate * Decimal::ONE_HUNDRED).normalize());
    Ok(Amounts {
        interest: Some(owed.outstanding.interest),
        costs,
        total_due: Some(total_due),
        note: base.note,
        interest_rate,
        interest_basis: Some(interest_basis_name(jurisdiction, kind)),
        ..Amounts::default()
    })
}

/// The reminder fee a step may charge this customer under its own law (the playbook is checked
/// against the business's): none to a Dutch consumer (art. 6:96 BW: the BIK is all); to a
/// Belgian consumer none on the free first reminder and at most the statutory maximum (Boek XIX
/// WER; postage is not known here, so not added).
fn lawful_fee(
    rules: &Rules<'_>,
    law_j: crate::calendar::Jurisdiction,
    kind: CustomerKind,
    fee: Option<Decimal>,
    first_reminder: Option<(NaiveDate, Delivery)>,
    day: NaiveDate,
) -> (Option<Decimal>, Option<String>) {
    use crate::calendar::Jurisdiction;
    let Some(fee) = fee else { return (None, None) };
    match (law_j, kind) {
        (_, CustomerKind::B2b) => (Some(fee), None),
        (Jurisdiction::Nl, CustomerKind::B2c) => (
            None,
            Some(format!("No reminder fee ({fee}): Dutch consumers may not be charged one (art. 6:96 BW).")),
        ),
        (Jurisdiction::Be, CustomerKind::B2c) => {
            if first_reminder.is_none_or(|(first, _)| first == day) {
                return (None, Some(format!("No reminder fee ({fee}): the first reminder to a Belgian consumer is free (Boek XIX WER).")));
            }
            let max = rules.law.map_or(Decimal::new(750, 2), |l| l.rates.be_consumer.extra_reminder_fee_max);
            if fee > max {
                (
                    Some(max),
                    Some(format!(
                        "Reminder fee {fee} capped at {max} for a Belgian consumer (Boek XIX WER)."
                    )),
                )
            } else {
                (Some(fee), None)
            }
        }
    }
}

/// The name templates switch on for the law interest rests on.
pub fn interest_basis_name(jurisdiction: crate::calendar::Jurisdiction, kind: CustomerKind) -> &'static str {
    use crate::calendar::Jurisdiction;
    match (jurisdiction, kind) {
        (Jurisdiction::Nl, CustomerKind::B2b) => "nl-commercial",
        (Jurisdiction::Nl, CustomerKind::B2c) => "nl-consumer",
        (Jurisdiction::Be, CustomerKind::B2b) => "be-commercial",
        (Jurisdiction::Be, CustomerKind::B2c) => "be-consumer",
    }
}

fn offset_label(offset: i64) -> String {
    if offset < 0 {
        format!("J{offset}")
    } else {
        format!("J+{offset}")
    }
}

fn why_closed(calendar: &Calendar, date: NaiveDate) -> String {
    match calendar.closed_because(date) {
        Some(name) => name.to_string(),
        None if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) => {
            format!("a {}", weekday_name(date))
        }
        None => "not a working day".to_string(),
    }
}

fn weekday_name(date: NaiveDate) -> &'static str {
    match date.weekday() {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

#[allow(clippy::too_many_arguments)]
fn explain(
    calendar: &Calendar,
    playbook: &Playbook,
    step: &Step,
    s: &Subject<'_>,
    target: NaiveDate,
    day: NaiveDate,
    prev_day: Option<NaiveDate>,
    catch_up: Option<(NaiveDate, i64)>,
) -> String {
    let inv = s.invoice;
    let overdue = (day - inv.due_date).num_days();
    let when = match overdue {
        0 => "falls due that day".to_string(),
        1 => "is 1 day overdue".to_string(),
        n if n > 1 => format!("is {n} days overdue"),
        -1 => "falls due the next day".to_string(),
        n => format!("falls due in {} days", -n),
    };
    let mut text = format!(
        "{} playbook step {} of {} ({}, {}): invoice {} ({} {} open, due {}) {when} on {day}; ",
        playbook.segment,
        step.number,
        playbook.steps.len(),
        offset_label(step.offset_days),
        step.channel.as_str(),
        inv.number,
        inv.open_amount,
        inv.currency,
        inv.due_date,
    );
    if s.progress.is_some() && playbook.segment != s.segmentation.segment {
        text.push_str(&format!(
            "it keeps the {} playbook it started on (customer now {}: {}).",
            playbook.segment, s.segmentation.segment, s.segmentation.reason
        ));
    } else {
        text.push_str(&format!("segment {} because {}.", s.segmentation.segment, s.segmentation.reason));
    }
    if let Some((planned, delay)) = catch_up {
        text.push_str(&format!(
            " Catching up: it was due on {planned}, before this run, so it is done on the first working day of the run and the rest of the schedule moves {delay} day{} later.",
            if delay == 1 { "" } else { "s" }
        ));
    } else if day != target {
        let after_prev = prev_day.is_some_and(|p| target <= p);
        if after_prev {
            text.push_str(&format!(
                " Target {target} is not after the previous step's day, so it moves to the next working day after it."
            ));
        } else {
            text.push_str(&format!(
                " Target {target} is {}, so it moves to the next working day.",
                why_closed(calendar, target)
            ));
        }
    }
    if step.requires_approval {
        text.push_str(" Needs approval before it is carried out.");
    }
    text
}

#[cfg(test)]
mod tests;
