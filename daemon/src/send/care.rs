//! The care records as a day's planning sees them: loaded from the store with the payments
//! that decide them, evaluated on the day (a promise waiting, kept or broken; a plan running,
//! kept or broken), and handed to the planner per invoice.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::care::{
    self, Book, InstalmentPaid, InvoiceCare, Paid, PlanState, PlanStatus, PromiseState, PromiseStatus,
};
use crate::model::Invoice;
use crate::store::{Settled, Store, StoreError};

/// The care records in force with their states on the planning day.
#[derive(Debug, Default)]
pub struct CareInputs {
    pub book: Book,
    pub promise_states: HashMap<i64, PromiseState>,
    pub plan_states: HashMap<i64, (PlanState, Vec<InstalmentPaid>)>,
    /// What the payments decided by the day (already applied to `book`), for `send_day` to
    /// record.
    pub settled: Vec<Settled>,
}

impl CareInputs {
    pub fn load(
        store: &Store,
        settings: &care::Settings,
        calendar: &crate::calendar::Calendar,
        invoices: &[Invoice],
        at: NaiveDate,
    ) -> Result<CareInputs, StoreError> {
        let book = store.load_care()?;
        if book.is_empty() {
            return Ok(CareInputs::default());
        }
        let payments = store.care_payments()?;
        let open: HashMap<&str, Decimal> =
            invoices.iter().map(|i| (i.number.as_str(), i.open_amount)).collect();
        let paid_since = |numbers: &[String], since: NaiveDate| -> Vec<Paid> {
            let mut v: Vec<Paid> = payments
                .iter()
                .filter(|p| p.date >= since && numbers.contains(&p.invoice_number))
                .map(|p| Paid { date: p.date, amount: p.amount })
                .collect();
            v.sort_by_key(|p| p.date);
            v
        };
        let all_paid = |numbers: &[String]| {
            numbers.iter().all(|n| open.get(n.as_str()).is_none_or(|o| *o <= Decimal::ZERO))
        };
        let mut promise_states = HashMap::new();
        for p in book.promises.iter().filter(|p| p.status == PromiseStatus::Open) {
            let state = care::promise_state(
                p,
                &paid_since(&p.invoices, p.recorded.on),
                all_paid(&p.invoices),
                at,
                calendar,
                settings.promise_grace_days,
            );
            promise_states.insert(p.id, state);
        }
        let mut plan_states = HashMap::new();
        for plan in &book.plans {
            let allocation = care::allocate(plan, &paid_since(&plan.invoices, plan.recorded.on));
            let mut state = care::plan_state(&allocation, at, calendar, settings.plan_grace_days);
            if plan.status == PlanStatus::Active
                && all_paid(&plan.invoices)
                && !matches!(state, PlanState::Kept { .. })
            {
                state = PlanState::Kept { on: at };
            }
            plan_states.insert(plan.id, (state, allocation));
        }
        Ok(CareInputs { book, promise_states, plan_states, settled: Vec::new() })
    }

    /// What the payments decided since the last run: promises kept or broken, plans kept or
    /// broken (recorded by `dunwell send`, shown by `dunwell plan` as it would be).
    pub fn settled(&self) -> Vec<Settled> {
        let mut out = Vec::new();
        for p in self.book.promises.iter().filter(|p| p.status == PromiseStatus::Open) {
            match self.promise_states.get(&p.id) {
                Some(PromiseState::Kept { on }) => out.push(Settled::PromiseKept { id: p.id, on: *on }),
                Some(PromiseState::Broken { on }) => out.push(Settled::PromiseBroken { id: p.id, on: *on }),
                _ => {}
            }
        }
        for plan in self.book.plans.iter().filter(|p| p.status == PlanStatus::Active) {
            match self.plan_states.get(&plan.id).map(|(s, _)| *s) {
                Some(PlanState::Kept { on }) => out.push(Settled::PlanKept { id: plan.id, on }),
                Some(PlanState::Broken { seq, on }) => out.push(Settled::PlanBroken { id: plan.id, on, seq }),
                _ => {}
            }
        }
        out
    }

    /// Applies recorded changes to the records in memory, as the store now has them.
    pub fn apply(&mut self, changes: &[Settled]) {
        for c in changes {
            match *c {
                Settled::PromiseKept { id, on } | Settled::PromiseBroken { id, on } => {
                    if let Some(p) = self.book.promises.iter_mut().find(|p| p.id == id) {
                        p.status = if matches!(c, Settled::PromiseKept { .. }) {
                            PromiseStatus::Kept
                        } else {
                            PromiseStatus::Broken
                        };
                        p.settled_on = Some(on);
                    }
                }
                Settled::PlanKept { id, on } => {
                    if let Some(p) = self.book.plans.iter_mut().find(|p| p.id == id) {
                        p.status = PlanStatus::Kept;
                        p.settled_on = Some(on);
                    }
                }
                Settled::PlanBroken { id, on, seq } => {
                    if let Some(p) = self.book.plans.iter_mut().find(|p| p.id == id) {
                        p.status = PlanStatus::Broken;
                        p.settled_on = Some(on);
                        p.missed = Some(seq);
                    }
                }
            }
        }
    }

    /// The records that act on each invoice.
    pub fn by_invoice(&self) -> HashMap<&str, InvoiceCare<'_>> {
        let mut out: HashMap<&str, InvoiceCare<'_>> = HashMap::new();
        for p in &self.book.promises {
            let state = match p.status {
                PromiseStatus::Open => match self.promise_states.get(&p.id) {
                    Some(s) => *s,
                    None => continue,
                },
                PromiseStatus::Broken => PromiseState::Broken { on: p.settled_on.unwrap_or(p.date) },
                PromiseStatus::Kept => continue,
            };
            for n in &p.invoices {
                out.entry(n.as_str()).or_default().promises.push((p, state));
            }
        }
        for d in &self.book.disputes {
            out.entry(d.invoice.as_str()).or_default().disputes.push(d);
        }
        for plan in &self.book.plans {
            if !matches!(plan.status, PlanStatus::Active | PlanStatus::Broken) {
                continue;
            }
            let Some((state, allocation)) = self.plan_states.get(&plan.id) else { continue };
            for n in &plan.invoices {
                out.entry(n.as_str()).or_default().plan = Some((plan, *state, allocation.as_slice()));
            }
        }
        out
    }

    /// The pauses in force (they may cover any invoice: a customer, everything).
    pub fn pauses(&self) -> &[care::Pause] {
        &self.book.pauses
    }
}

/// Takes what disputes resolved for the customer took off each invoice (see
/// [`care::after_deduction`]); the total goes down by the same amount, so interest runs on what
/// is still claimed.
pub fn apply_deductions(
    invoices: &mut [Invoice],
    deductions: &HashMap<String, Vec<(Decimal, Decimal, Decimal)>>,
) {
    if deductions.is_empty() {
        return;
    }
    for inv in invoices.iter_mut() {
        let Some(list) = deductions.get(&inv.number) else { continue };
        for (before, deducted, since) in list {
            let after = care::after_deduction(inv.open_amount, *before, *deducted, *since);
            if after < inv.open_amount {
                inv.total -= inv.open_amount - after;
                inv.open_amount = after;
            }
        }
    }
}

/// Fills in what a message of working with the customer is about: the promise, the plan with
/// its instalments (each with what was paid of it), or the dispute.
pub(super) fn describe(
    inputs: &super::Inputs,
    lead: &crate::plan::Action,
    ctx: &mut crate::template::MessageContext,
) {
    use crate::template::{DisputeContext, InstalmentContext, PlanContext, PromiseContext};
    let Some(r) = lead.care else { return };
    let book = &inputs.care.book;
    match r.record {
        "promise" => {
            if let Some(p) = book.promises.iter().find(|p| p.id == r.id) {
                ctx.promise = Some(PromiseContext {
                    id: p.id,
                    date: p.date,
                    amount: p.amount,
                    made_on: p.recorded.on,
                    invoices: p.invoices.clone(),
                });
            }
        }
        "payment-plan" => {
            let Some(plan) = book.plans.iter().find(|p| p.id == r.id) else { return };
            let allocation = inputs.care.plan_states.get(&plan.id).map(|(_, a)| a.as_slice()).unwrap_or(&[]);
            let reference = match plan.invoices.as_slice() {
                [one] => lead.payment_reference.clone().filter(|_| *one == lead.invoice_number),
                _ => None,
            };
            let instalments: Vec<InstalmentContext> = plan
                .instalments
                .iter()
                .map(|i| {
                    let paid = allocation.iter().find(|a| a.seq == i.seq).map_or(Decimal::ZERO, |a| a.paid);
                    InstalmentContext {
                        seq: i.seq,
                        date: i.date,
                        amount: i.amount,
                        paid,
                        open: (i.amount - paid).max(Decimal::ZERO),
                        payment_reference: reference.clone(),
                    }
                })
                .collect();
            ctx.instalment = r.seq.and_then(|seq| instalments.iter().find(|i| i.seq == seq).cloned());
            ctx.payment_plan = Some(PlanContext {
                id: plan.id,
                made_on: plan.recorded.on,
                invoices: plan.invoices.clone(),
                total: plan.instalments.iter().map(|i| i.amount).sum(),
                paid: instalments.iter().map(|i| i.paid).sum(),
                missed: plan.missed.or(r.seq.filter(|_| lead.kind == crate::plan::ActionKind::PlanBroken)),
                instalments,
            });
        }
        "dispute" => {
            if let Some(d) = book.disputes.iter().find(|d| d.id == r.id) {
                ctx.dispute = Some(DisputeContext {
                    id: d.id,
                    invoice: d.invoice.clone(),
                    amount: d.amount.unwrap_or(lead.open_amount),
                    reason: d.reason.clone(),
                    note: d.note.clone(),
                    made_on: d.recorded.on,
                    deadline: d.deadline,
                });
            }
        }
        _ => {}
    }
}

/// What a written care message marks on its record.
pub(super) fn notified(lead: &crate::plan::Action) -> Option<crate::store::Notified> {
    use crate::plan::ActionKind;
    use crate::store::Notified;
    let r = lead.care?;
    Some(match lead.kind {
        ActionKind::Step => return None,
        ActionKind::BrokenPromise => Notified::BrokenPromise { id: r.id },
        ActionKind::PlanBroken => Notified::PlanBroken { id: r.id },
        ActionKind::Instalment => Notified::Instalment { plan: r.id, seq: r.seq? },
        ActionKind::DisputeTask => Notified::DisputeTask { id: r.id },
        ActionKind::PromiseConfirmation => Notified::PromiseConfirmed { id: r.id },
        ActionKind::PlanConfirmation => Notified::PlanConfirmed { id: r.id },
    })
}

/// Writes the written confirmation of a promise or a payment plan to the outbox (e-mail when
/// the customer has an address, else a letter; a plan's e-mail carries the letter with a QR
/// code per instalment). Delivered by the next `dunwell send` or the daemon.
pub fn confirm(
    store: &mut Store,
    config: &crate::config::Config,
    playbooks: &crate::playbook::PlaybookSet,
    record: crate::plan::CareRef,
    at: NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<super::Draft, super::SendError> {
    use super::SendError;
    use crate::plan::ActionKind;
    let inputs = super::Inputs::load(store, config, playbooks, at)?;
    let (kind, numbers, what) = match record.record {
        "promise" => {
            let p = inputs.care.book.promises.iter().find(|p| p.id == record.id).ok_or_else(|| {
                SendError::Render(format!("promise #{} is not open: nothing to confirm", record.id))
            })?;
            (ActionKind::PromiseConfirmation, p.invoices.clone(), format!("promise #{}", p.id))
        }
        _ => {
            let p = inputs.care.book.plans.iter().find(|p| p.id == record.id).ok_or_else(|| {
                SendError::Render(format!("payment plan #{} is not active: nothing to confirm", record.id))
            })?;
            (ActionKind::PlanConfirmation, p.invoices.clone(), format!("payment plan #{}", p.id))
        }
    };
    let calendar = config.calendar();
    let rules = crate::plan::Rules {
        calendar: &calendar,
        playbooks: &playbooks.playbooks,
        law: None,
        post_delay_days: config.post_delay_days,
        care_settings: Some(&config.care),
    };
    let mut actions = Vec::new();
    let mut customer = None;
    for n in &numbers {
        let inv = inputs.invoice(n).ok_or_else(|| SendError::Render(format!("invoice {n} is gone")))?;
        let index =
            inputs.customers.iter().position(|c| c.id == inv.customer_id).ok_or_else(|| {
                SendError::Render(format!("customer {} is not in the store", inv.customer_id))
            })?;
        let c = &inputs.customers[index];
        customer = Some(c);
        let subject = crate::plan::Subject {
            invoice: inv,
            customer: c,
            segmentation: &inputs.segmentations[index],
            progress: inputs.progress.get(n),
            payments: &[],
            care: None,
        };
        let action =
            crate::plan::care_message(kind, at, &rules, &subject, record, format!("confirms {what}"))
                .ok_or_else(|| SendError::Render(format!("invoice {n}: its segment has no playbook")))?;
        actions.push(action);
    }
    let (Some(customer), Some(first)) = (customer, actions.first()) else {
        return Err(SendError::Render(format!("{what} covers no invoice")));
    };
    let g = super::Group {
        customer_id: customer.id.clone(),
        channel: first.channel,
        actions: actions.iter().collect(),
    };
    let lead = g.lead();
    let letters =
        match kind == ActionKind::PlanConfirmation || !matches!(g.channel, crate::playbook::Channel::Email) {
            true => Some(super::letter_engine(playbooks)?),
            false => None,
        };
    let draft = super::render::draft(config, playbooks, &inputs, customer, &g, at, None, letters.as_ref())
        .map_err(SendError::Render)?;
    let key = format!("{}|{}|{at}|{}", customer.id, g.channel.as_str(), lead.slot());
    let message = super::new_message(key, at, &g, &draft, crate::store::Status::Queued, None, None);
    let tx = store.begin()?;
    if tx.enqueue(&message, &now.to_rfc3339(), &[])?.is_some() {
        if let Some(n) = notified(lead) {
            tx.care_notified(n, at)?;
        }
        tx.commit()?;
    }
    Ok(draft)
}
