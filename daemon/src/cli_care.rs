//! `dunwell promise`, `dispute`, `payment-plan` and `pause`: recording what a customer said or
//! agreed, and what a person decided. The checks and the writing are in the store
//! (`store/care.rs`), the rules in [`crate::care`], what they do to the reminders in the
//! planner; this is the shell. Every record keeps who made it (`--by`) and the day it counts
//! from (`--at`), and shows in `dunwell history`.

use std::io::Write;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use clap::{ArgGroup, Args, Subcommand};
use rust_decimal::Decimal;

use crate::care::{DisputeStatus, PauseScope};
use crate::cli::{date_arg, write_json, write_table, Format};
use crate::config::Config;
use crate::store::{By, NewDispute, NewPause, NewPlan, NewPromise, Store};

/// Options every recording command takes.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// The day it is recorded for (YYYY-MM-DD); default today in the configured time zone.
    #[arg(long, global = true, value_name = "DATE", value_parser = date_arg)]
    pub at: Option<NaiveDate>,
    /// Who records it, kept with the record; default the USER environment variable, else
    /// "operator".
    #[arg(long, global = true, value_name = "NAME")]
    pub by: Option<String>,
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

impl Common {
    pub fn by(&self, config: &Config) -> By {
        By {
            who: self.by.clone().unwrap_or_else(default_by),
            at: chrono::Utc::now().to_rfc3339(),
            on: self.at.unwrap_or_else(|| config.today()),
        }
    }
}

/// The login name, else a word that says nobody was named.
pub fn default_by() -> String {
    std::env::var("USER").ok().filter(|u| !u.trim().is_empty()).unwrap_or_else(|| "operator".into())
}

fn amount_arg(s: &str) -> Result<Decimal, String> {
    crate::model::parse_amount(s).map_err(|e| format!("{e} (write an amount like 250.00)"))
}

fn instalment_arg(s: &str) -> Result<(NaiveDate, Decimal), String> {
    let (date, amount) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}` is not DATE:AMOUNT; write an instalment like 2026-12-15:250.00"))?;
    Ok((crate::model::parse_date(date)?, amount_arg(amount)?))
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  dunwell promise add --invoice 2026-0117 --date 2026-12-15 --amount 500.00 --note \"called, pays after the 15th\"\n  dunwell promise list --format json\n\n\
The promised invoices get no reminder through the promised date plus [care] promise_grace_days working days (default 3). \
When the payments since the promise do not cover its amount by then, it is recorded as broken (it counts in the segmentation), \
the customer gets a broken-promise message, and the playbook resumes under the catch-up rules."
)]
pub struct PromiseArgs {
    #[command(subcommand)]
    pub action: PromiseAction,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Subcommand, Debug)]
pub enum PromiseAction {
    /// Record a promise to pay one or more invoices of one customer by a date.
    Add {
        #[arg(long = "invoice", value_name = "N", required = true)]
        invoices: Vec<String>,
        /// The day the customer promised to pay by.
        #[arg(long, value_name = "DATE", value_parser = date_arg)]
        date: NaiveDate,
        /// What was promised; default the invoices' open total.
        #[arg(long, value_name = "A", value_parser = amount_arg)]
        amount: Option<Decimal>,
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Also write a confirmation to the customer (template `promise-confirmation`) to the
        /// outbox; the next `dunwell send` or the daemon delivers it.
        #[arg(long)]
        confirm: bool,
    },
    /// List every promise with its state (open, kept, broken).
    List,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  dunwell dispute add --invoice 2026-0117 --reason wrong-amount --amount 120.00 --note \"2 crates returned\"\n  dunwell dispute resolve 3 --outcome credit\n  dunwell dispute list\n\n\
The disputed amount is not chased: reminders ask for the undisputed rest and say so, and interest and costs are computed on the rest only. \
Once the deadline (default [care] dispute_days = 30 days) passes unresolved, a task for a person appears in `dunwell tasks`. \
Resolved for the customer (credit, write-off) the amount leaves the claim; rejected, dunning resumes where it stopped."
)]
pub struct DisputeArgs {
    #[command(subcommand)]
    pub action: DisputeAction,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Subcommand, Debug)]
pub enum DisputeAction {
    /// Record a dispute about (part of) an invoice.
    Add {
        #[arg(long, value_name = "N")]
        invoice: String,
        /// wrong-amount, not-delivered, quality, administrative or other (the list is
        /// [care] dispute_reasons).
        #[arg(long, value_name = "REASON")]
        reason: String,
        /// The disputed part; default all of the open amount.
        #[arg(long, value_name = "A", value_parser = amount_arg)]
        amount: Option<Decimal>,
        /// The day it must be resolved by; default [care] dispute_days after --at.
        #[arg(long, value_name = "DATE", value_parser = date_arg)]
        deadline: Option<NaiveDate>,
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// Resolve a dispute: credit or write-off (for the customer: the amount leaves the claim)
    /// or rejected (dunning resumes).
    Resolve {
        id: i64,
        #[arg(long, value_parser = ["credit", "write-off", "rejected"])]
        outcome: String,
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// List every dispute with its state.
    List,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  dunwell payment-plan add --invoice 2026-0117 --instalment 2026-12-15:400.00 --instalment 2027-01-15:434.56\n  dunwell payment-plan list\n\n\
The instalments must add up to the invoices' open total. The customer gets the plan in writing (template `payment-plan-confirmation`, \
with a QR code per instalment) unless --no-confirm. While the plan holds, the playbook is replaced by a reminder [care] instalment_reminder_days \
before each instalment; payments go to the instalments in order. An instalment not paid [care] plan_grace_days working days after its date \
ends the plan: the customer is told and the playbook resumes for the rest."
)]
pub struct PlanArgs {
    #[command(subcommand)]
    pub action: PlanAction,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Subcommand, Debug)]
pub enum PlanAction {
    /// Record a payment plan for one or more invoices of one customer.
    Add {
        #[arg(long = "invoice", value_name = "N", required = true)]
        invoices: Vec<String>,
        /// One instalment as DATE:AMOUNT; repeat for each.
        #[arg(long = "instalment", value_name = "DATE:AMOUNT", required = true, value_parser = instalment_arg)]
        instalments: Vec<(NaiveDate, Decimal)>,
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Do not write the confirmation to the customer.
        #[arg(long)]
        no_confirm: bool,
    },
    /// End an active plan by agreement: the playbook resumes under the catch-up rules.
    Cancel { id: i64 },
    /// List every payment plan with its instalments and state.
    List,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  dunwell pause add --customer C0042 --until 2027-01-06 --reason \"director in hospital\"\n  dunwell pause add --all --until 2027-01-03 --reason \"holiday moratorium\"\n  dunwell pause lift 4\n\n\
A pause holds every step of what it covers through --until (or until lifted); the care messages wait too. \
When it ends, the catch-up rules apply: one step at a time, the rest of the schedule moving with it, never a burst."
)]
pub struct PauseArgs {
    #[command(subcommand)]
    pub action: PauseAction,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Subcommand, Debug)]
pub enum PauseAction {
    /// Pause a customer, an invoice, or everything.
    #[command(group(ArgGroup::new("what").required(true).args(["customer", "invoice", "all"])))]
    Add {
        #[arg(long, value_name = "ID")]
        customer: Option<String>,
        #[arg(long, value_name = "N")]
        invoice: Option<String>,
        /// Everything: a moratorium (over the holidays, say).
        #[arg(long)]
        all: bool,
        /// The last day of the pause; without it, until lifted.
        #[arg(long, value_name = "DATE", value_parser = date_arg)]
        until: Option<NaiveDate>,
        #[arg(long, value_name = "TEXT", required = true)]
        reason: String,
    },
    /// Lift a pause now (on --at).
    Lift { id: i64 },
    /// List every pause.
    List,
}

/// A list as JSON, or as a table with one row per record (a sentence when there is none).
fn list<T: serde::Serialize>(
    out: &mut dyn Write,
    format: Format,
    items: &[T],
    nothing: &str,
    header: &[&str],
    row: impl Fn(&T) -> Vec<String>,
) -> Result<()> {
    match format {
        Format::Json => write_json(out, &items),
        Format::Table if items.is_empty() => Ok(writeln!(out, "{nothing}")?),
        Format::Table => Ok(write_table(out, header, &items.iter().map(row).collect::<Vec<_>>(), None)?),
    }
}

fn opt(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

pub fn run_promise(config: &Config, args: &PromiseArgs, out: &mut dyn Write) -> Result<()> {
    let mut store = Store::open(&config.database_path())?;
    let by = args.common.by(config);
    match &args.action {
        PromiseAction::Add { invoices, date, amount, note, confirm } => {
            let p = store.add_promise(
                &NewPromise { invoices: invoices.clone(), date: *date, amount: *amount, note: note.clone() },
                &by,
            )?;
            let confirmation =
                if *confirm { Some(confirm_record(config, &mut store, "promise", p.id, &by)?) } else { None };
            if args.common.format == Format::Json {
                return write_json(out, &serde_json::json!({ "promise": p, "confirmation": confirmation }));
            }
            writeln!(
                out,
                "promise #{}: {} by {} for {} (customer {}); reminders wait through the grace of {} working days",
                p.id,
                p.amount,
                p.date,
                p.invoices.join(", "),
                p.customer_id,
                config.care.promise_grace_days
            )?;
            if let Some(c) = confirmation {
                writeln!(out, "{c}")?;
            }
        }
        PromiseAction::List => {
            list(
                out,
                args.common.format,
                &store.promises()?,
                "no promises recorded",
                &["ID", "CUSTOMER", "INVOICES", "DATE", "AMOUNT", "STATE", "SETTLED", "BY"],
                |p| {
                    vec![
                        p.id.to_string(),
                        p.customer_id.clone(),
                        p.invoices.join(", "),
                        p.date.to_string(),
                        p.amount.to_string(),
                        p.status.as_str().into(),
                        opt(p.settled_on),
                        p.recorded.by.clone(),
                    ]
                },
            )?;
        }
    }
    Ok(())
}

/// Writes a confirmation to the outbox and says where it went.
fn confirm_record(
    config: &Config,
    store: &mut Store,
    record: &'static str,
    id: i64,
    by: &By,
) -> Result<String> {
    let playbooks = crate::cli::load_playbooks(config)?;
    let draft = crate::send::care::confirm(
        store,
        config,
        &playbooks,
        crate::plan::CareRef { record, id, seq: None },
        by.on,
        chrono::Utc::now(),
    )
    .with_context(|| format!("the {record} is recorded, but its confirmation could not be written"))?;
    Ok(format!(
        "confirmation by {} to {} is in the outbox; the next `dunwell send` (or the daemon) delivers it",
        draft.channel,
        draft.recipient.as_deref().unwrap_or("(no address)")
    ))
}

pub fn run_dispute(config: &Config, args: &DisputeArgs, out: &mut dyn Write) -> Result<()> {
    let mut store = Store::open(&config.database_path())?;
    let by = args.common.by(config);
    let json = args.common.format == Format::Json;
    match &args.action {
        DisputeAction::Add { invoice, reason, amount, deadline, note } => {
            let d = store.add_dispute(
                &NewDispute {
                    invoice: invoice.clone(),
                    reason: reason.clone(),
                    amount: *amount,
                    deadline: *deadline,
                    note: note.clone(),
                },
                &config.care,
                &by,
            )?;
            if json {
                return write_json(out, &d);
            }
            writeln!(
                out,
                "dispute #{} on {}: {} ({}); not chased, to be resolved by {}",
                d.id,
                d.invoice,
                d.amount.map_or_else(|| "the whole open amount".to_string(), |a| a.to_string()),
                crate::care::reason_text(&d.reason),
                d.deadline
            )?;
        }
        DisputeAction::Resolve { id, outcome, note } => {
            let outcome = DisputeStatus::parse(outcome).unwrap_or(DisputeStatus::Rejected);
            let d = store.resolve_dispute(*id, outcome, note.as_deref(), &by)?;
            if json {
                return write_json(out, &d);
            }
            match d.deducted {
                Some(x) => writeln!(
                    out,
                    "dispute #{id} resolved ({}): {x} leaves the claim on {}; book the credit note in your bookkeeping too",
                    outcome.as_str(),
                    d.invoice
                )?,
                None => writeln!(out, "dispute #{id} rejected: dunning on {} resumes where it stopped", d.invoice)?,
            }
        }
        DisputeAction::List => {
            list(
                out,
                args.common.format,
                &store.disputes()?,
                "no disputes recorded",
                &["ID", "CUSTOMER", "INVOICE", "REASON", "AMOUNT", "DEADLINE", "STATE", "BY"],
                |d| {
                    vec![
                        d.id.to_string(),
                        d.customer_id.clone(),
                        d.invoice.clone(),
                        d.reason.clone(),
                        d.amount.map_or_else(|| "all".into(), |a| a.to_string()),
                        d.deadline.to_string(),
                        d.status.as_str().into(),
                        d.recorded.by.clone(),
                    ]
                },
            )?;
        }
    }
    Ok(())
}

pub fn run_payment_plan(config: &Config, args: &PlanArgs, out: &mut dyn Write) -> Result<()> {
    let mut store = Store::open(&config.database_path())?;
    let by = args.common.by(config);
    let json = args.common.format == Format::Json;
    match &args.action {
        PlanAction::Add { invoices, instalments, note, no_confirm } => {
            let p = store.add_plan(
                &NewPlan { invoices: invoices.clone(), instalments: instalments.clone(), note: note.clone() },
                &by,
            )?;
            let confirmation = if *no_confirm {
                None
            } else {
                Some(confirm_record(config, &mut store, "payment-plan", p.id, &by)?)
            };
            if json {
                return write_json(
                    out,
                    &serde_json::json!({ "payment_plan": p, "confirmation": confirmation }),
                );
            }
            writeln!(
                out,
                "payment plan #{} for {} (customer {}): {}",
                p.id,
                p.invoices.join(", "),
                p.customer_id,
                p.instalments
                    .iter()
                    .map(|i| format!("{} on {}", i.amount, i.date))
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
            if let Some(c) = confirmation {
                writeln!(out, "{c}")?;
            }
        }
        PlanAction::Cancel { id } => {
            store.cancel_plan(*id, &by)?;
            writeln!(out, "payment plan #{id} cancelled: the playbook resumes under the catch-up rules")?;
        }
        PlanAction::List => {
            list(
                out,
                args.common.format,
                &store.payment_plans()?,
                "no payment plans recorded",
                &["ID", "CUSTOMER", "INVOICES", "INSTALMENTS", "STATE", "MISSED", "BY"],
                |p| {
                    vec![
                        p.id.to_string(),
                        p.customer_id.clone(),
                        p.invoices.join(", "),
                        p.instalments
                            .iter()
                            .map(|i| format!("{} {}", i.date, i.amount))
                            .collect::<Vec<_>>()
                            .join("; "),
                        p.status.as_str().into(),
                        p.missed.map(|m| m.to_string()).unwrap_or_default(),
                        p.recorded.by.clone(),
                    ]
                },
            )?;
        }
    }
    Ok(())
}

pub fn run_pause(config: &Config, args: &PauseArgs, out: &mut dyn Write) -> Result<()> {
    let mut store = Store::open(&config.database_path())?;
    let by = args.common.by(config);
    let json = args.common.format == Format::Json;
    match &args.action {
        PauseAction::Add { customer, invoice, all, until, reason } => {
            let scope = match (customer, invoice, all) {
                (Some(c), None, false) => PauseScope::Customer(c.clone()),
                (None, Some(n), false) => PauseScope::Invoice(n.clone()),
                (None, None, true) => PauseScope::All,
                _ => bail!("name one of --customer ID, --invoice N or --all"),
            };
            let p = store.add_pause(&NewPause { scope, until: *until, reason: reason.clone() }, &by)?;
            if json {
                return write_json(out, &p);
            }
            writeln!(
                out,
                "pause #{} of {} {}",
                p.id,
                p.scope.describe(),
                p.until.map_or_else(
                    || "until lifted (`dunwell pause lift ID`)".to_string(),
                    |u| format!("through {u}")
                )
            )?;
        }
        PauseAction::Lift { id } => {
            let p = store.lift_pause(*id, &by)?;
            if json {
                return write_json(out, &p);
            }
            writeln!(out, "pause #{id} lifted: the catch-up rules apply from {}", by.on)?;
        }
        PauseAction::List => {
            list(
                out,
                args.common.format,
                &store.pauses()?,
                "no pauses recorded",
                &["ID", "WHAT", "FROM", "UNTIL", "", "REASON", "BY"],
                |p| {
                    vec![
                        p.id.to_string(),
                        p.scope.describe(),
                        p.from.to_string(),
                        p.until.map_or_else(|| "until lifted".into(), |u| u.to_string()),
                        p.lifted.as_ref().map(|l| format!("lifted {}", l.on)).unwrap_or_default(),
                        p.reason.clone(),
                        p.recorded.by.clone(),
                    ]
                },
            )?;
        }
    }
    Ok(())
}
