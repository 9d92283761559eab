//! What promises, disputes, payment plans and pauses do to an invoice's plan (the rules are in
//! [`crate::care`]): the day its steps may go again, and the messages of working with the
//! customer that go before them (a broken promise, an instalment, a broken plan, a task for an
//! overdue dispute). Like the rest of the planner: pure, and it assumes nothing more is paid.

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;

use super::{Action, ActionKind, CareRef, OnHold, Plan, Progress, Rules, Subject};
use crate::care::{broken_on, grace_end, InvoiceCare, PlanState, PromiseState, Settings};
use crate::playbook::{Channel, Playbook};

/// The part of the invoice under open disputes (at most its open amount).
pub(super) fn disputed(inv: &crate::model::Invoice, care: &InvoiceCare<'_>) -> Decimal {
    let sum: Decimal = care.disputes.iter().map(|d| d.disputed_of(inv.open_amount)).sum();
    sum.min(inv.open_amount)
}

pub(super) fn fully_disputed(care: &InvoiceCare<'_>) -> String {
    let ids: Vec<String> = care
        .disputes
        .iter()
        .map(|d| {
            format!("#{} ({}, to be resolved by {})", d.id, crate::care::reason_text(&d.reason), d.deadline)
        })
        .collect();
    format!(
        "disputed in full (dispute {}): no reminder until it is resolved (`dunwell dispute resolve`)",
        ids.join(", ")
    )
}

pub(super) fn on_hold(s: &Subject<'_>, until: Option<NaiveDate>, reason: String) -> OnHold {
    OnHold {
        invoice_number: s.invoice.number.clone(),
        customer_id: s.customer.id.clone(),
        customer_name: s.customer.name.clone(),
        until,
        reason,
    }
}

/// Messages to the customer go by e-mail when there is an address, else by letter.
pub(super) fn customer_channel(s: &Subject<'_>) -> Channel {
    if s.customer.email.is_some() {
        Channel::Email
    } else {
        Channel::Letter
    }
}

/// A task for a person for each open dispute of the invoice whose deadline has passed (once).
pub(super) fn dispute_tasks(
    at: NaiveDate,
    end: NaiveDate,
    rules: &Rules<'_>,
    playbook: &Playbook,
    s: &Subject<'_>,
    care: &InvoiceCare<'_>,
    out: &mut Plan,
) {
    for d in care.disputes.iter().filter(|d| d.task_on.is_none()) {
        let day = rules.calendar.working_day_on_or_after(at.max(d.deadline + Days::new(1)));
        if day > end {
            continue;
        }
        let reason = format!(
            "dispute #{} on invoice {} ({}, {} disputed) was to be resolved by {}: a person looks into it",
            d.id,
            d.invoice,
            crate::care::reason_text(&d.reason),
            d.amount.map_or_else(|| "all".to_string(), |a| format!("{a} {}", s.invoice.currency)),
            d.deadline
        );
        let r = CareRef { record: "dispute", id: d.id, seq: None };
        out.actions.push(action(ActionKind::DisputeTask, day, rules, playbook, s, Channel::Phone, r, reason));
    }
}

/// Applies the holds of the invoice's pauses, promises and payment plan: pushes the care
/// messages due in the plan's days, and returns the first day its steps may go (with the
/// reason), `Some(None)` when nothing holds them, or `None` when they wait past the plan's
/// last day (the invoice is then listed on hold).
pub(super) fn hold(
    at: NaiveDate,
    end: NaiveDate,
    rules: &Rules<'_>,
    playbook: &Playbook,
    s: &Subject<'_>,
    care: &InvoiceCare<'_>,
    out: &mut Plan,
) -> Option<Option<(NaiveDate, String)>> {
    let cal = rules.calendar;
    let defaults;
    let settings = match rules.care_settings {
        Some(s) => s,
        None => {
            defaults = Settings::default();
            &defaults
        }
    };
    let mut floor: Option<(NaiveDate, String)> = None;
    let raise = |day: NaiveDate, why: String, floor: &mut Option<(NaiveDate, String)>| {
        if floor.as_ref().is_none_or(|(f, _)| day > *f) {
            *floor = Some((day, why));
        }
    };
    // Pauses first: they hold the care messages too.
    for p in care.pauses.iter().filter(|p| p.in_force(at)) {
        let why = format!("pause #{} of {} ({})", p.id, p.scope.describe(), p.reason);
        match p.until {
            None => {
                out.on_hold.push(on_hold(
                    s,
                    None,
                    format!("{why}: until it is lifted (`dunwell pause lift {}`)", p.id),
                ));
                return None;
            }
            Some(u) => raise(u + Days::new(1), format!("{why} through {u}"), &mut floor),
        }
    }
    let paused_until = floor.as_ref().map(|(f, _)| *f);
    // The first working day on or after `day` that no pause holds and the run has reached.
    let open_day = |day: NaiveDate| cal.working_day_on_or_after(day.max(at).max(paused_until.unwrap_or(day)));
    let channel = customer_channel(s);

    if let Some((plan, state, allocation)) = care.plan {
        use crate::care::PlanStatus;
        let r = |seq| CareRef { record: "payment-plan", id: plan.id, seq };
        let broken = match (plan.status, state) {
            (PlanStatus::Broken, _) => match plan.notified_on {
                Some(n) => {
                    raise(
                        n + Days::new(1),
                        format!("the end of payment plan #{} on {n}", plan.id),
                        &mut floor,
                    );
                    None
                }
                None => Some((plan.missed.unwrap_or(0), plan.settled_on.unwrap_or(at))),
            },
            (PlanStatus::Active, PlanState::Broken { seq, on }) => Some((seq, on)),
            (PlanStatus::Active, PlanState::Running { .. }) => {
                // Reminders before each instalment still to pay, and, assuming nothing more is
                // paid, the end of the plan when the first one is missed.
                let mut projected = None;
                for (i, paid) in plan.instalments.iter().zip(allocation) {
                    if paid.paid >= paid.amount {
                        continue;
                    }
                    let reminder_days = u64::from(settings.instalment_reminder_days);
                    if reminder_days > 0 && i.reminded_on.is_none() && i.date >= at {
                        let day =
                            open_day(i.date.checked_sub_days(Days::new(reminder_days)).unwrap_or(i.date));
                        if day <= end && day <= i.date {
                            let reason = format!(
                                "payment plan #{}: instalment {} of {} {} is due on {}",
                                plan.id,
                                i.seq,
                                paid.amount - paid.paid,
                                s.invoice.currency,
                                i.date
                            );
                            out.actions.push(action(
                                ActionKind::Instalment,
                                day,
                                rules,
                                playbook,
                                s,
                                channel,
                                r(Some(i.seq)),
                                reason,
                            ));
                        }
                    }
                    if projected.is_none() {
                        let last = grace_end(cal, i.date, settings.plan_grace_days);
                        projected = Some((i.seq, broken_on(cal, last)));
                    }
                }
                match projected {
                    Some((seq, on)) if open_day(on) <= end => Some((seq, on)),
                    Some(_) => {
                        out.on_hold.push(on_hold(
                            s,
                            None,
                            format!("payment plan #{} runs: reminders follow its instalments", plan.id),
                        ));
                        return None;
                    }
                    None => None,
                }
            }
            _ => None,
        };
        if let Some((seq, on)) = broken {
            let day = open_day(on);
            if day > end {
                out.on_hold.push(on_hold(s, Some(day), format!("payment plan #{} ends on {day}", plan.id)));
                return None;
            }
            let reason = format!(
                "payment plan #{}: instalment {seq} was not paid by the end of its grace, so the plan ends; the customer is told and the playbook resumes",
                plan.id
            );
            out.actions.push(action(
                ActionKind::PlanBroken,
                day,
                rules,
                playbook,
                s,
                channel,
                r(Some(seq)),
                reason,
            ));
            raise(day + Days::new(1), format!("payment plan #{}, which ended on {day}", plan.id), &mut floor);
        }
    }

    for (p, state) in &care.promises {
        use crate::care::PromiseStatus;
        let r = CareRef { record: "promise", id: p.id, seq: None };
        let what = format!("promise #{} to pay {} {} by {}", p.id, p.amount, s.invoice.currency, p.date);
        let broken_on = match (p.status, state) {
            (PromiseStatus::Broken, _) => match p.notified_on {
                Some(n) => {
                    raise(n + Days::new(1), format!("{what}, broken (told on {n})"), &mut floor);
                    None
                }
                None => Some(p.settled_on.unwrap_or(at)),
            },
            (PromiseStatus::Open, PromiseState::Broken { on }) => Some(*on),
            (PromiseStatus::Open, PromiseState::Waiting { grace_end }) => Some(broken_on(cal, *grace_end)),
            _ => None,
        };
        let Some(on) = broken_on else { continue };
        let day = open_day(on);
        if day > end {
            out.on_hold.push(on_hold(
                s,
                Some(day),
                format!("{what}: its grace runs until {}", on.pred_opt().unwrap_or(on)),
            ));
            return None;
        }
        let reason = format!(
            "{what} was not kept by the end of its grace: the customer is told, and the playbook resumes the next working day"
        );
        out.actions.push(action(ActionKind::BrokenPromise, day, rules, playbook, s, channel, r, reason));
        raise(day + Days::new(1), format!("{what}, broken on {day}"), &mut floor);
    }
    if let Some((f, _)) = &floor {
        if *f > end {
            let (f, why) = floor.unwrap_or((end, String::new()));
            out.on_hold.push(on_hold(s, Some(f), why));
            return None;
        }
    }
    Some(floor)
}

/// A message of working with the customer about the invoice, on `day`.
#[allow(clippy::too_many_arguments)]
pub(super) fn action(
    kind: ActionKind,
    day: NaiveDate,
    rules: &Rules<'_>,
    playbook: &Playbook,
    s: &Subject<'_>,
    channel: Channel,
    care: CareRef,
    reason: String,
) -> Action {
    let inv = s.invoice;
    let (law_j, _) = s.customer.law(rules.calendar.jurisdiction());
    let reference = crate::law::PaymentReference::for_invoice(rules.calendar.jurisdiction(), &inv.number)
        .ok()
        .map(|r| r.to_string());
    Action {
        date: day,
        customer_id: s.customer.id.clone(),
        customer_name: s.customer.name.clone(),
        invoice_number: inv.number.clone(),
        segment: playbook.segment.clone(),
        customer_segment: s.segmentation.segment.clone(),
        step: 0,
        steps_in_playbook: playbook.steps.len() as u32,
        offset_days: 0,
        channel,
        template: kind.template().unwrap_or_default().to_string(),
        open_amount: inv.open_amount,
        currency: inv.currency.clone(),
        due_date: inv.due_date,
        days_overdue: (day - inv.due_date).num_days(),
        target_date: day,
        catch_up: false,
        requires_approval: false,
        interest: None,
        costs: None,
        total_due: None,
        fee: None,
        payment_reference: reference,
        jurisdiction: law_j,
        interest_rate: None,
        interest_basis: None,
        deadline: None,
        expired_term: None,
        costs_due: false,
        kind,
        care: Some(care),
        disputed: None,
        reason,
        // A care message moves no step: the invoice keeps where it stands.
        progress_after: s.progress.cloned().unwrap_or(Progress {
            playbook: playbook.segment.clone(),
            steps_done: 0,
            anchor: inv.due_date,
            last_day: None,
            first_reminder: None,
            fees: Decimal::ZERO,
            handed_over: None,
            term: None,
        }),
    }
}
