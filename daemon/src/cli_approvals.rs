//! `dunwell approvals`: the messages that wait for a person's approval (the steps with
//! `requires_approval`, such as the formal notice and the handoff to the agency), and the
//! decisions on them. The work is in [`crate::store::approvals`]; this is the shell.

use std::io::Write;

use anyhow::Result;
use chrono::NaiveDate;
use clap::{ArgGroup, Args, Subcommand};

use crate::cli::{write_json, write_table, Format};
use crate::config::Config;
use crate::store::approvals::{Decided, Decider, Rejection, MAX_POSTPONE_DAYS};
use crate::store::{Message, Store};

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  dunwell approvals\n  dunwell approvals approve 12 14 --by anna\n  \
dunwell approvals reject 13 --postpone 5\n  dunwell approvals reject 15 --skip --by anna\n\n\
An approved message is queued: the next `dunwell send` (or the daemon's next delivery) sends it. \
A decision on several messages is all or nothing: one id that is not awaiting approval refuses \
them all. Every decision is kept on the message and in the customer's history.")]
pub struct ApprovalsArgs {
    #[command(subcommand)]
    pub action: Option<ApprovalsAction>,
    /// `--at` (the day the decision counts for, and from which `list` counts the days
    /// waiting), `--by` (who decides), `--format`: as every recording command has them.
    #[command(flatten)]
    pub common: crate::cli_care::Common,
}

#[derive(Subcommand, Debug)]
pub enum ApprovalsAction {
    /// List the messages awaiting approval, oldest first (the default). `--format json` gives
    /// each message whole, with its rendered subject and text.
    List,
    /// Approve messages: each is queued and goes out with the next delivery, as written on its
    /// day (its amounts and any term it gives are as of that day).
    Approve {
        /// The messages' ids (from `dunwell approvals`).
        #[arg(required = true, value_name = "ID")]
        ids: Vec<i64>,
    },
    /// Reject messages: the step is skipped (the playbook goes on with the next step) or
    /// postponed (planned again DAYS days after the message's day, awaiting approval again).
    #[command(group(ArgGroup::new("how").required(true).args(["skip", "postpone"])))]
    Reject {
        /// The messages' ids (from `dunwell approvals`).
        #[arg(required = true, value_name = "ID")]
        ids: Vec<i64>,
        /// Do not send the step at all: it counts as done and the next step follows on its
        /// schedule.
        #[arg(long)]
        skip: bool,
        /// Plan the step again DAYS days after the message's day (1 to 366); its invoices are
        /// paused until then.
        #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_POSTPONE_DAYS)))]
        postpone: Option<u32>,
    },
}

pub fn run_approvals(config: &Config, args: &ApprovalsArgs, out: &mut dyn Write) -> Result<()> {
    let mut store = Store::open(&config.database_path())?;
    let by = args.common.by(config);
    let who = Decider { by: &by.who, day: by.on, at: chrono::Utc::now() };
    let decided = match &args.action {
        None | Some(ApprovalsAction::List) => return list(&store, by.on, args.common.format, out),
        Some(ApprovalsAction::Approve { ids }) => store.approve(ids, who)?,
        Some(ApprovalsAction::Reject { ids, skip, postpone }) => {
            let how = match (skip, postpone) {
                (_, Some(days)) => Rejection::Postpone(*days),
                _ => Rejection::Skip,
            };
            store.reject(ids, how, who)?
        }
    };
    if args.common.format == Format::Json {
        return write_json(out, &decided);
    }
    for d in &decided {
        writeln!(out, "{}", crate::text::escape(&d.text))?;
        write_consequence(out, d)?;
    }
    Ok(())
}

/// What happens next to a decided message, in a line for the person who decided.
fn write_consequence(out: &mut dyn Write, d: &Decided) -> Result<()> {
    if d.decision == "approved" {
        writeln!(out, "  queued: the next `dunwell send` (or the daemon's next delivery) sends it")?;
    } else if d.decision == "approved-late" {
        writeln!(
            out,
            "  written on {}: the next `dunwell send` (or the daemon's) writes it again as of its day, approved, and sends it",
            d.day
        )?;
    } else if let Some(until) = d.paused_until {
        writeln!(out, "  cancelled; invoices {} paused through {until}", d.invoices.join(", "))?;
    } else {
        writeln!(out, "  cancelled; invoices {} go on with their next step", d.invoices.join(", "))?;
    }
    Ok(())
}

fn list(store: &Store, day: NaiveDate, format: Format, out: &mut dyn Write) -> Result<()> {
    let messages: Vec<Message> = store.awaiting_approval()?;
    match format {
        Format::Json => write_json(out, &messages)?,
        Format::Table if messages.is_empty() => writeln!(out, "nothing awaits approval")?,
        Format::Table => {
            let rows: Vec<Vec<String>> = messages
                .iter()
                .map(|m| {
                    vec![
                        m.id.to_string(),
                        m.day.to_string(),
                        (day - m.day).num_days().max(0).to_string(),
                        m.customer_id.clone(),
                        m.channel.clone(),
                        m.template.clone(),
                        m.invoices
                            .iter()
                            .map(|c| format!("{} (step {})", c.invoice_number, c.step))
                            .collect::<Vec<_>>()
                            .join(", "),
                        match (&m.total, &m.currency) {
                            (Some(t), Some(c)) => format!("{t} {c}"),
                            (Some(t), None) => t.clone(),
                            _ => String::new(),
                        },
                    ]
                })
                .collect();
            write_table(
                out,
                &["ID", "DAY", "WAITING", "CUSTOMER", "CHANNEL", "TEMPLATE", "INVOICES", "TOTAL"],
                &rows,
                None,
            )?;
            writeln!(
                out,
                "\n{} message{} awaiting approval; read one with `dunwell approvals --format json` or `dunwell history CUSTOMER`, then `dunwell approvals approve ID ...` or `dunwell approvals reject ID ... --skip | --postpone DAYS`",
                messages.len(),
                if messages.len() == 1 { "" } else { "s" }
            )?;
        }
    }
    Ok(())
}
