//! A day's work: plan what is due, write it to the outbox with the progress it records, and
//! deliver what the outbox holds. `dunwell send` is a thin shell around [`send_day`]; the
//! daemon calls the same function on its schedule.
//!
//! The plan is exactly `dunwell plan`'s (same loading, same [`crate::plan::plan`], with the
//! stored progress), for the one day. Steps of one customer due the same day through the same
//! channel become one message (`group_by_customer`); the most advanced invoice's step sets the
//! template. A customer gets at most `max_messages_per_week` messages in any seven days; what
//! is held back stays unplanned-as-done, so the next run catches it up.

pub mod alerts;
pub mod care;
pub mod gate;
mod render;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::law::{CostsOptions, Rates};
use crate::model::{Customer, Invoice, Payment};
use crate::plan::{self, Action, Plan, Progress, Subject};
use crate::playbook::{Channel, PlaybookSet};
use crate::segment::{self, Segmentation};
use crate::store::{Covered, Fallback, NewMessage, Status, Store, StoreError};

pub use render::Draft;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Law(#[from] crate::law::LawError),
    #[error(transparent)]
    Rates(#[from] crate::law::RatesError),
    #[error("{0}")]
    Render(String),
    #[error(transparent)]
    Channel(#[from] crate::channel::ChannelError),
}

/// Everything loaded from the store that planning needs, kept together so that `dunwell
/// plan`, `dunwell send` and `dunwell preview` plan from the same inputs.
pub struct Inputs {
    pub customers: Vec<Customer>,
    pub invoices: Vec<Invoice>,
    pub payments: Vec<Payment>,
    pub segmentations: Vec<Segmentation>,
    pub progress: HashMap<String, Progress>,
    pub rates: Rates,
    pub costs: CostsOptions,
    /// Promises, disputes, payment plans and pauses, evaluated on the day loaded.
    pub care: care::CareInputs,
}

impl Inputs {
    pub fn load(
        store: &Store,
        config: &Config,
        playbooks: &PlaybookSet,
        at: NaiveDate,
    ) -> Result<Inputs, SendError> {
        let customers = store.load_customers()?;
        let mut invoices = store.load_invoices()?;
        care::apply_deductions(&mut invoices, &store.deductions()?);
        let mut care = care::CareInputs::load(store, &config.care, &config.calendar(), &invoices, at)?;
        // Promises and plans the payments have decided by `at` count as decided from here on
        // (`send_day` records them): a promise broken today weighs in today's segment.
        let settled = care.settled();
        care.apply(&settled);
        // The book holds every broken promise, today's included.
        let broken: Vec<(String, NaiveDate)> = care
            .book
            .promises
            .iter()
            .filter(|p| p.status == crate::care::PromiseStatus::Broken)
            .map(|p| (p.customer_id.clone(), p.date))
            .collect();
        care.settled = settled;
        let segmentations = segment::segment_all(at, &playbooks.rules, &customers, &invoices, &broken);
        Ok(Inputs {
            care,
            payments: store.load_payments_of_open_invoices()?,
            progress: store.load_progress()?,
            rates: Rates::load(config.rates_file.as_deref())?,
            costs: CostsOptions { vat_not_deductible: !config.vat_deductible, ..Default::default() },
            customers,
            invoices,
            segmentations,
        })
    }

    /// The plan from `at` through `at + days`, continuing from the stored progress;
    /// `customer`: only that customer's invoices.
    pub fn plan(
        &self,
        config: &Config,
        playbooks: &PlaybookSet,
        at: NaiveDate,
        days: u32,
        customer: Option<&str>,
    ) -> Plan {
        let by_customer: HashMap<&str, (&Customer, &Segmentation)> =
            self.customers.iter().zip(&self.segmentations).map(|(c, s)| (c.id.as_str(), (c, s))).collect();
        let by_invoice: HashMap<&str, &[Payment]> = self
            .payments
            .chunk_by(|a, b| a.invoice_number == b.invoice_number)
            .map(|chunk| (chunk[0].invoice_number.as_str(), chunk))
            .collect();
        let mut cares = self.care.by_invoice();
        let pauses = self.care.pauses();
        if !pauses.is_empty() {
            for inv in self.invoices.iter().filter(|i| i.is_open()) {
                for p in pauses.iter().filter(|p| p.covers(&inv.customer_id, &inv.number)) {
                    cares.entry(inv.number.as_str()).or_default().pauses.push(p);
                }
            }
        }
        let subjects = self.invoices.iter().filter(|i| i.is_open()).filter_map(|inv| {
            if customer.is_some_and(|id| id != inv.customer_id) {
                return None;
            }
            let (customer, segmentation) = by_customer.get(inv.customer_id.as_str())?;
            Some(Subject {
                invoice: inv,
                customer,
                segmentation,
                progress: self.progress.get(&inv.number),
                payments: by_invoice.get(inv.number.as_str()).copied().unwrap_or(&[]),
                care: cares.get(inv.number.as_str()),
            })
        });
        let calendar = config.calendar();
        let rules = plan::Rules {
            calendar: &calendar,
            playbooks: &playbooks.playbooks,
            law: Some(plan::Law { rates: &self.rates, costs: &self.costs }),
            post_delay_days: config.post_delay_days,
            care_settings: Some(&config.care),
        };
        plan::plan(at, days, &rules, subjects)
    }

    pub fn customer(&self, id: &str) -> Option<&Customer> {
        self.customers.iter().find(|c| c.id == id)
    }

    pub fn invoice(&self, number: &str) -> Option<&Invoice> {
        self.invoices.iter().find(|i| i.number == number)
    }
}

/// How `dunwell send` groups and paces messages (`[channels]` in dunwell.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    pub group_by_customer: bool,
    pub max_messages_per_week: u32,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing { group_by_customer: true, max_messages_per_week: 2 }
    }
}

/// Steps of one customer and channel due on one day: one message.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    pub customer_id: String,
    pub channel: Channel,
    pub actions: Vec<&'a Action>,
}

impl Group<'_> {
    /// The most advanced invoice's step: it sets the tone and the template.
    pub fn lead(&self) -> &Action {
        self.actions
            .iter()
            .copied()
            .max_by_key(|a| (a.step, a.days_overdue, std::cmp::Reverse(a.invoice_number.clone())))
            .expect("a group has at least one action")
    }

    /// The idempotency key: customer, channel, day and every invoice with its step. The same
    /// steps planned again (a second run, a restart) give the same key.
    pub fn key(&self, day: NaiveDate) -> String {
        let mut covered: Vec<String> =
            self.actions.iter().map(|a| format!("{}:{}", a.invoice_number, a.slot())).collect();
        covered.sort();
        format!("{}|{}|{day}|{}", self.customer_id, self.channel.as_str(), covered.join(","))
    }
}

/// Groups the actions due on one day: per customer and channel (or one per action without
/// `group_by_customer`), in customer order.
pub fn group(actions: &[Action], by_customer: bool) -> Vec<Group<'_>> {
    let mut groups: BTreeMap<(String, &str, String), Group<'_>> = BTreeMap::new();
    for a in actions {
        // A message of working with the customer goes on its own, one per record.
        let split = match (a.kind, by_customer) {
            (crate::plan::ActionKind::Step, true) => String::new(),
            (crate::plan::ActionKind::Step, false) => format!("{}:{}", a.invoice_number, a.step),
            (_, true) => a.slot(),
            (_, false) => format!("{}:{}", a.invoice_number, a.slot()),
        };
        groups
            .entry((a.customer_id.clone(), a.channel.as_str(), split))
            .or_insert_with(|| Group {
                customer_id: a.customer_id.clone(),
                channel: a.channel,
                actions: Vec::new(),
            })
            .actions
            .push(a);
    }
    groups.into_values().collect()
}

/// A reminder fee is charged per reminder, not per invoice: when one message covers several
/// invoices, only the lead step's fee stays (on the lead invoice, where it is then owed); the
/// others' fees come off their total and their progress.
pub fn one_fee_per_message(actions: &mut [Action], by_customer: bool) {
    let mut strip = std::collections::HashSet::new();
    for g in group(actions, by_customer) {
        let lead = g.lead();
        for a in &g.actions {
            if a.fee.is_some() && !std::ptr::eq(*a, lead) {
                strip.insert((a.invoice_number.clone(), a.step));
            }
        }
    }
    for a in actions.iter_mut() {
        if let Some(fee) = a.fee.filter(|_| strip.contains(&(a.invoice_number.clone(), a.step))) {
            a.fee = None;
            a.total_due = a.total_due.map(|t| t - fee);
            a.progress_after.fees -= fee;
        }
    }
}

/// A message held back: not written, so the next run plans it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    pub customer_id: String,
    pub channel: String,
    pub invoices: Vec<String>,
    pub reason: String,
    /// Why, as a word for scripts and metrics: `weekly-cap`, `no-costs`,
    /// `no-registration-number`, `stale-source`, `awaiting-approval`.
    pub kind: String,
}

/// What one `dunwell send` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SendReport {
    pub day: Option<NaiveDate>,
    pub dry_run: bool,
    /// Actions due that day.
    pub due: usize,
    /// Messages written to the outbox now (or, dry run: that would be).
    pub written: Vec<Draft>,
    /// Messages whose key was in the outbox already (done by an earlier run).
    pub already_done: usize,
    pub awaiting_approval: usize,
    pub held: Vec<Held>,
    pub delivery: crate::channel::DeliveryReport,
    pub problems: Vec<String>,
    /// Alerts to the business (`[business] alerts_to`) written by this run.
    pub alerts: Vec<alerts::Raised>,
}

/// Holds the data directory's send lock while it lives: one `dunwell send` (or daemon) at a
/// time delivers, because a second one would take the first one's `sending` messages for
/// those of a crashed run and deliver them again. The operating system releases the lock
/// when the process ends, however it ends. `holder` ("dunwell send", "dunwell run") is written
/// into the file with the process id, so a refusal names who holds it.
pub fn lock(data_dir: &std::path::Path, holder: &str) -> Result<std::fs::File, SendError> {
    use std::io::{Read, Seek, Write};
    let path = data_dir.join("send.lock");
    std::fs::create_dir_all(data_dir)
        .map_err(|e| SendError::Render(format!("cannot create {}: {e}", data_dir.display())))?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| SendError::Render(format!("cannot open the lock file {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {
            // Who holds it, for the message of the one refused; the lock matters, not this.
            let _ = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| {
                write!(file, "{holder} (pid {})", std::process::id()).and_then(|()| file.flush())
            });
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut who = String::new();
            let _ = file.read_to_string(&mut who);
            let who = crate::text::cap(who.trim(), 100);
            let fix = if who.starts_with("dunwell run") {
                "the daemon delivers from this data directory; leave it to it, or stop it (`systemctl stop dunwell`) to send by hand"
            } else {
                "let it finish"
            };
            Err(SendError::Render(format!(
                "{} holds {}: {fix}",
                if who.is_empty() { "another dunwell".to_string() } else { who.into_owned() },
                path.display()
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(SendError::Render(format!("cannot lock {}: {e}", path.display())))
        }
    }
}

/// Plans `at`, writes its messages with their progress, and (unless `dry_run`) delivers what
/// the outbox holds.
#[allow(clippy::too_many_arguments)]
pub fn send_day(
    store: &mut Store,
    config: &Config,
    playbooks: &PlaybookSet,
    pacing: Pacing,
    channels: Option<&mut crate::channel::Channels>,
    at: NaiveDate,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<SendReport, SendError> {
    // A reminder must say who is owed and where to pay: refuse to write one without.
    let b = &config.business;
    if b.name.trim().is_empty() || b.iban.trim().is_empty() {
        return Err(SendError::Render(
            "set `name` and `iban` in [business] of dunwell.toml first: every reminder says who is owed and where to pay (see examples/dunwell.toml)"
                .into(),
        ));
    }
    let inputs = Inputs::load(store, config, playbooks, at)?;
    if !dry_run && !inputs.care.settled.is_empty() {
        let by = crate::store::By { who: "dunwell".into(), at: now.to_rfc3339(), on: at };
        store.record_settled(&inputs.care.settled, &by)?;
    }
    let mut planned = inputs.plan(config, playbooks, at, 0, None);
    let mut report = SendReport { day: Some(at), dry_run, due: planned.actions.len(), ..Default::default() };
    report.problems = planned.problems.clone();
    // The freshness gate: nothing is recorded for an invoice whose source (or the bank feed
    // that may have paid it) has not synced within max_source_age. Held, not done: the next
    // run after a good sync plans it again.
    let freshness = gate::Freshness::load(store, config.schedule.max_source_age, now)?;
    let sources = store.invoice_sources()?;
    planned.actions.retain(|a| {
        let stale = sources.get(&a.invoice_number).and_then(|source| freshness.stale(source));
        match stale {
            Some(reason) => {
                tracing::warn!(
                    customer = %a.customer_id,
                    invoice = %a.invoice_number,
                    step = a.step,
                    channel = a.channel.as_str(),
                    "held: {reason}"
                );
                report.held.push(Held {
                    customer_id: a.customer_id.clone(),
                    channel: a.channel.as_str().to_string(),
                    invoices: vec![a.invoice_number.clone()],
                    reason,
                    kind: "stale-source".into(),
                });
                false
            }
            None => true,
        }
    });
    // An invoice whose message awaits a person's approval gets no later step until it is
    // decided: nothing goes ahead of an unapproved step, and a postponement finds the
    // invoice's progress as the waiting message left it (`store/approvals.rs`).
    let pending = store.invoices_awaiting_approval()?;
    let preapproved = store.preapproved_steps()?;
    planned.actions.retain(|a| match pending.get(&a.invoice_number) {
        Some(id) => {
            report.held.push(Held {
                customer_id: a.customer_id.clone(),
                channel: a.channel.as_str().to_string(),
                invoices: vec![a.invoice_number.clone()],
                reason: format!(
                    "invoice {} waits for the decision on message #{id} (`dunwell approvals`); its step {} follows once that is approved or rejected",
                    a.invoice_number, a.step
                ),
                kind: "awaiting-approval".into(),
            });
            false
        }
        None => true,
    });
    one_fee_per_message(&mut planned.actions, pacing.group_by_customer);
    let week_start = at.checked_sub_days(Days::new(6)).unwrap_or(at);
    let mut sent_this_week: HashMap<String, u32> = HashMap::new();
    let created = now.to_rfc3339();
    // The letter layout engine, built on the first letter of the run.
    let mut letters: Option<dunwell_letters::Letters> = None;
    for g in group(&planned.actions, pacing.group_by_customer) {
        let key = g.key(at);
        if store.message_exists(&key)? {
            report.already_done += 1;
            continue;
        }
        let lead = g.lead();
        let held_back = |kind: &str, reason: String| Held {
            customer_id: g.customer_id.clone(),
            channel: g.channel.as_str().to_string(),
            invoices: g.actions.iter().map(|a| a.invoice_number.clone()).collect(),
            reason,
            kind: kind.into(),
        };
        // Any step of the message that needs approval holds the whole message, whichever
        // step leads it.
        let needs_approval = g
            .actions
            .iter()
            .any(|a| a.requires_approval && !preapproved.contains(&(a.invoice_number.clone(), a.step)));
        let count = match sent_this_week.get(&g.customer_id) {
            Some(n) => *n,
            None => store.messages_between(&g.customer_id, week_start, at)?,
        };
        if count >= pacing.max_messages_per_week && !needs_approval {
            report.held.push(held_back(
                "weekly-cap",
                format!(
                    "customer {} already had {count} message{} in the seven days through {at} (max_messages_per_week = {}); it goes out on a later run",
                    g.customer_id,
                    if count == 1 { "" } else { "s" },
                    pacing.max_messages_per_week
                ),
            ));
            continue;
        }
        let Some(customer) = inputs.customer(&g.customer_id) else { continue };
        // A step that names or charges collection costs is never sent without the figure: a
        // Dutch 14-day letter without the exact amount does not count, and a charge without one
        // is no charge. Held, with the reason, until the amount can be computed.
        if let Some(missing) =
            g.actions.iter().find(|a| a.costs.is_none() && states_costs(playbooks, a, customer))
        {
            report.held.push(held_back(
                "no-costs",
                format!(
                    "step {} of invoice {} must state the collection costs, but none can be computed for it ({} {}; the statutory scales are in euro): the message is held until they can; charge or name the costs by hand and record the step, or change the playbook",
                    missing.step, missing.invoice_number, missing.open_amount, missing.currency
                ),
            ));
            continue;
        }
        // A reminder to a consumer in Belgium must name the creditor's registration number
        // (Boek XIX WER art. XIX.2). `dunwell check` refuses such a configuration; a send that
        // runs anyway holds the message instead of writing one the law does not count.
        if customer.is_belgian_consumer(config.jurisdiction)
            && config.business.registration_number().is_none()
        {
            report.held.push(held_back(
                "no-registration-number",
                format!(
                    "customer {} is a consumer in Belgium, whose reminders must name the creditor's registration number (Boek XIX WER art. XIX.2), and [business] has neither kvk nor company_number: set one in dunwell.toml; the message goes out on the next run after that",
                    g.customer_id
                ),
            ));
            continue;
        }
        if letters.is_none() && needs_letter(playbooks, lead, g.channel) {
            letters = Some(letter_engine(playbooks)?);
        }
        let mut draft = render::draft(config, playbooks, &inputs, customer, &g, at, None, letters.as_ref())
            .map_err(SendError::Render)?;
        draft.requires_approval = needs_approval;
        // The step's fallback is rendered now, with the same amounts, and kept with the
        // message; it goes out only if the message cannot be delivered.
        let fallback_channel = playbooks.step(&lead.segment, lead.step).and_then(|s| s.fallback_channel);
        let fallback = match fallback_channel {
            Some(channel) => {
                if letters.is_none() && needs_letter(playbooks, lead, channel) {
                    letters = Some(letter_engine(playbooks)?);
                }
                let fg = Group { customer_id: g.customer_id.clone(), channel, actions: g.actions.clone() };
                let f = render::draft(config, playbooks, &inputs, customer, &fg, at, None, letters.as_ref())
                    .map_err(SendError::Render)?;
                Some(Fallback {
                    channel: channel.as_str().to_string(),
                    template: f.template,
                    recipient: f.recipient,
                    subject: f.subject,
                    body: f.body,
                    html: f.html,
                    pdf: f.pdf,
                })
            }
            None => None,
        };
        let status = if needs_approval { Status::AwaitingApproval } else { Status::Queued };
        let cc = playbooks
            .step(&lead.segment, lead.step)
            .filter(|s| s.cc_account_manager)
            .and_then(|_| customer.account_manager.clone());
        let message = new_message(key.clone(), at, &g, &draft, status, fallback, cc);
        if status == Status::AwaitingApproval {
            report.awaiting_approval += 1;
        } else {
            *sent_this_week.entry(g.customer_id.clone()).or_insert(count) += 1;
        }
        if !dry_run {
            let tx = store.begin()?;
            // A step records the invoice's progress; a message of working with the customer
            // records on its promise, plan or dispute that it was written.
            let progress: Vec<(String, Progress)> = g
                .actions
                .iter()
                .filter(|a| a.kind == crate::plan::ActionKind::Step)
                .map(|a| (a.invoice_number.clone(), a.progress_after.clone()))
                .collect();
            if tx.enqueue(&message, &created, &progress)?.is_none() {
                report.already_done += 1;
                continue;
            }
            if let Some(n) = care::notified(lead) {
                tx.care_notified(n, at)?;
            }
            tx.commit()?;
        }
        report.written.push(draft);
    }
    if !dry_run {
        report.alerts = alerts::raise(store, config, &inputs, at, now)?;
    }
    if let (false, Some(channels)) = (dry_run, channels) {
        let gate = gate::Gate { freshness, windows: None, now, stop: None };
        report.delivery = crate::channel::deliver(store, channels, now, &gate)?;
    }
    Ok(report)
}

/// The outbox row of a rendered message: what it says, to whom, and the steps (or care
/// messages) of the invoices it covers.
pub(crate) fn new_message(
    key: String,
    day: NaiveDate,
    g: &Group<'_>,
    draft: &Draft,
    status: Status,
    fallback: Option<Fallback>,
    cc: Option<String>,
) -> NewMessage {
    NewMessage {
        key,
        day,
        customer_id: g.customer_id.clone(),
        channel: g.channel.as_str().to_string(),
        template: draft.template.clone(),
        language: draft.language.as_str().to_string(),
        recipient: draft.recipient.clone(),
        subject: draft.subject.clone(),
        body: draft.body.clone(),
        html: draft.html.clone(),
        invoices: g
            .actions
            .iter()
            .map(|a| Covered { invoice_number: a.invoice_number.clone(), step: a.step })
            .collect(),
        total: Some(draft.total.to_string()),
        currency: Some(draft.currency.clone()),
        status,
        pdf: draft.pdf.clone(),
        fallback,
        data: draft.case.as_ref().map(|c| c.to_string()),
        cc,
    }
}

/// What would be sent for one invoice: its next step from `at` (or step `step`), rendered as
/// `dunwell send` would render it alone, in `lang` or the customer's language.
pub fn preview(
    store: &Store,
    config: &Config,
    playbooks: &PlaybookSet,
    invoice: &str,
    step: Option<u32>,
    at: NaiveDate,
    lang: Option<crate::model::Language>,
) -> Result<Draft, SendError> {
    let inputs = Inputs::load(store, config, playbooks, at)?;
    let inv = inputs
        .invoice(invoice)
        .ok_or_else(|| SendError::Render(format!("no invoice `{invoice}` in the store")))?;
    if !inv.is_open() {
        return Err(SendError::Render(format!("invoice {invoice} is not open: nothing would be sent")));
    }
    let planned = inputs.plan(config, playbooks, at, 366, Some(&inv.customer_id));
    let action = planned
        .actions
        .iter()
        .find(|a| a.invoice_number == invoice && step.is_none_or(|k| a.step == k))
        .ok_or_else(|| {
            SendError::Render(match step {
                Some(k) => format!("step {k} of invoice {invoice} is not ahead in its playbook from {at}"),
                None => format!("invoice {invoice} has no step ahead from {at}"),
            })
        })?;
    let customer = inputs
        .customer(&inv.customer_id)
        .ok_or_else(|| SendError::Render(format!("customer {} is not in the store", inv.customer_id)))?;
    let g = Group { customer_id: customer.id.clone(), channel: action.channel, actions: vec![action] };
    let letters = match needs_letter(playbooks, action, action.channel) {
        true => Some(letter_engine(playbooks)?),
        false => None,
    };
    render::draft(config, playbooks, &inputs, customer, &g, action.date, lang, letters.as_ref())
        .map_err(SendError::Render)
}

/// Whether `a`'s step names or charges collection costs for this customer.
fn states_costs(playbooks: &PlaybookSet, a: &Action, customer: &Customer) -> bool {
    playbooks
        .step(&a.segment, a.step)
        .is_some_and(|s| s.money_for(customer.kind).1 != crate::playbook::MoneyAction::None)
}

/// Whether the message is (or carries) a PDF letter: a letter step, or an e-mail step with
/// `attach = ["letter"]`.
fn needs_letter(playbooks: &PlaybookSet, lead: &Action, channel: Channel) -> bool {
    matches!(channel, Channel::Letter | Channel::RegisteredLetter)
        || playbooks.step(&lead.segment, lead.step).is_some_and(|s| s.attach_letter && s.channel == channel)
}

/// The letter layout: the playbooks' `letters/letter.typ` when there is one, else the shipped
/// one; a broken layout is refused here, naming the line.
pub(super) fn letter_engine(playbooks: &PlaybookSet) -> Result<dunwell_letters::Letters, SendError> {
    let path = format!("letters/{}", dunwell_letters::TEMPLATE_NAME);
    let text = playbooks.source.read_file(&path).map_err(SendError::Render)?;
    let template = text.as_deref().unwrap_or(dunwell_letters::DEFAULT_TEMPLATE);
    dunwell_letters::Letters::new(template)
        .map_err(|e| SendError::Render(format!("{}: {e}", playbooks.source.display(&path).display())))
}
