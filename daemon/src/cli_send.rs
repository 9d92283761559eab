//! `dunwell send`, `dunwell outbox`, `dunwell history` and `dunwell tasks`: the channels from
//! the command line. The work is in [`crate::send`] and [`crate::channel`]; this is the shell.

use std::io::Write;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};

use crate::cli::{write_json, write_table, Format};
use crate::config::Config;
use crate::store::{Message, Status, Store};

#[derive(Args, Debug)]
pub struct SendArgs {
    /// The day to do (YYYY-MM-DD); default today in the configured time zone.
    #[arg(long, value_parser = crate::model::parse_date)]
    pub at: Option<NaiveDate>,
    /// Render everything that would go out and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusArg {
    AwaitingApproval,
    Queued,
    Sending,
    Sent,
    Failed,
    Unknown,
    Dead,
}

impl From<StatusArg> for Status {
    fn from(s: StatusArg) -> Status {
        match s {
            StatusArg::AwaitingApproval => Status::AwaitingApproval,
            StatusArg::Queued => Status::Queued,
            StatusArg::Sending => Status::Sending,
            StatusArg::Sent => Status::Sent,
            StatusArg::Failed => Status::Failed,
            StatusArg::Unknown => Status::Unknown,
            StatusArg::Dead => Status::Dead,
        }
    }
}

#[derive(Args, Debug)]
pub struct PreviewArgs {
    /// The invoice whose next message to show.
    #[arg(long)]
    pub invoice: String,
    /// That step of its playbook (1, 2, ...) instead of the next one.
    #[arg(long)]
    pub step: Option<u32>,
    /// Plan from this day (YYYY-MM-DD); default today.
    #[arg(long, value_parser = crate::model::parse_date)]
    pub at: Option<NaiveDate>,
    /// Render in this language (nl, fr, en, de) instead of the customer's.
    #[arg(long)]
    pub lang: Option<crate::model::Language>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct OutboxArgs {
    #[command(subcommand)]
    pub action: Option<OutboxAction>,
    /// Only messages in this state.
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Subcommand, Debug)]
pub enum OutboxAction {
    /// Settles a message whose fate is unknown (an SMS whose request timed out, or that was
    /// being sent when dunwell stopped; a Pingen letter whose send call got no answer): look it
    /// up in the provider's portal or delivery reports (an SMS by its reference `dunwell-ID`, a
    /// letter by its provider id), then record what happened. Never resend one blindly: the
    /// customer may have it already.
    Settle {
        /// The message's id (from `dunwell outbox --status unknown`).
        id: i64,
        /// The provider has it: record it as sent.
        #[arg(long, conflicts_with = "not_sent", required_unless_present = "not_sent")]
        sent: bool,
        /// The provider's id of the message, when you have it (with --sent).
        #[arg(long, requires = "sent")]
        provider_id: Option<String>,
        /// The provider does not have it: queue it again for the next `dunwell send`.
        #[arg(long)]
        not_sent: bool,
    },
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// A customer id or an invoice number.
    pub who: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct TasksArgs {
    #[command(subcommand)]
    pub action: Option<TaskAction>,
    /// Also list the tasks already done.
    #[arg(long)]
    pub all: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    Paid,
    Promise,
    Dispute,
    PaymentPlan,
    NoAnswer,
    WrongNumber,
}

impl CallOutcome {
    fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Paid => "paid",
            CallOutcome::Promise => "promise",
            CallOutcome::Dispute => "dispute",
            CallOutcome::PaymentPlan => "payment-plan",
            CallOutcome::NoAnswer => "no-answer",
            CallOutcome::WrongNumber => "wrong-number",
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum TaskAction {
    /// Record how a call went.
    Done {
        /// The task's id (from `dunwell tasks`).
        id: i64,
        #[arg(long, value_enum)]
        outcome: CallOutcome,
        /// What was said; kept with the outcome and with the promise, dispute or plan it records.
        #[arg(long)]
        note: Option<String>,
        /// With `--outcome promise`: the day the customer promised to pay.
        #[arg(long, value_parser = crate::model::parse_date)]
        date: Option<NaiveDate>,
        /// With `--outcome promise`: the amount promised (default the open total); with
        /// `--outcome dispute`: the disputed part (default all of it).
        #[arg(long, value_name = "A", value_parser = crate::model::parse_amount)]
        amount: Option<rust_decimal::Decimal>,
        /// With `--outcome dispute`: wrong-amount, not-delivered, quality, administrative or
        /// other.
        #[arg(long, value_name = "REASON")]
        reason: Option<String>,
        /// With `--outcome payment-plan`: one instalment as DATE:AMOUNT; repeat for each.
        #[arg(long = "instalment", value_name = "DATE:AMOUNT")]
        instalments: Vec<String>,
        /// The day of the call (default today in the configured time zone).
        #[arg(long, value_name = "DATE", value_parser = crate::model::parse_date)]
        at: Option<NaiveDate>,
        /// Who made the call; default the USER environment variable.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
}

pub fn run_send(config: &Config, args: &SendArgs, out: &mut dyn Write) -> Result<()> {
    let playbooks = crate::cli::load_playbooks(config)?;
    let mut store = Store::open(&config.database_path())?;
    let _lock = crate::send::lock(&config.data_dir, "dunwell send")?;
    let mut channels = config.open_channels()?;
    let at = args.at.unwrap_or_else(|| config.today());
    let report = crate::send::send_day(
        &mut store,
        config,
        &playbooks,
        config.pacing(),
        Some(&mut channels),
        at,
        chrono::Utc::now(),
        args.dry_run,
    )?;
    for p in &report.problems {
        tracing::warn!("{p}");
    }
    if args.format == Format::Json {
        return write_json(out, &report);
    }
    let rows: Vec<Vec<String>> = report
        .written
        .iter()
        .map(|d| {
            vec![
                d.customer_id.clone(),
                crate::cli::truncate(&d.customer_name, 28),
                d.channel.clone(),
                d.template.clone(),
                d.invoices.join(", "),
                format!("{} {}", d.total, d.currency),
                if d.requires_approval { "awaiting approval".into() } else { String::new() },
            ]
        })
        .collect();
    if !rows.is_empty() {
        write_table(out, &["CUSTOMER", "NAME", "CHANNEL", "TEMPLATE", "INVOICES", "TOTAL", ""], &rows, None)?;
        writeln!(out)?;
    }
    for h in &report.held {
        writeln!(
            out,
            "held back: {} {} ({}): {}",
            h.customer_id,
            h.channel,
            h.invoices.join(", "),
            h.reason
        )?;
    }
    for a in &report.alerts {
        writeln!(out, "alert to {}: {} ({})", a.recipient, crate::text::escape(&a.subject), a.kind.as_str())?;
    }
    let verb = if args.dry_run { "would write" } else { "wrote" };
    writeln!(
        out,
        "{at}: {} step{} due; {verb} {} message{} ({} awaiting approval); {} done before; {} held back",
        report.due,
        if report.due == 1 { "" } else { "s" },
        report.written.len(),
        if report.written.len() == 1 { "" } else { "s" },
        report.awaiting_approval,
        report.already_done,
        report.held.len()
    )?;
    if !args.dry_run {
        let d = &report.delivery;
        writeln!(
            out,
            "delivered {} (failed {}, dead {}, unknown {}, cancelled {}, held {}); files in {}",
            d.sent,
            d.failed,
            d.dead,
            d.unknown,
            d.cancelled,
            d.held,
            config.outbox_dir().display()
        )?;
    }
    Ok(())
}

pub fn run_preview(config: &Config, args: &PreviewArgs, out: &mut dyn Write) -> Result<()> {
    let playbooks = crate::cli::load_playbooks(config)?;
    let store = Store::open(&config.database_path())?;
    let at = args.at.unwrap_or_else(|| config.today());
    let d = crate::send::preview(&store, config, &playbooks, &args.invoice, args.step, at, args.lang)?;
    if args.format == Format::Json {
        return write_json(out, &d);
    }
    writeln!(
        out,
        "{} to {} ({}), template {} in {}",
        d.channel, d.customer_id, d.customer_name, d.template, d.language
    )?;
    if let Some(r) = &d.recipient {
        writeln!(out, "To: {}", crate::text::escape(r))?;
    }
    if let Some(s) = &d.subject {
        writeln!(out, "Subject: {}", crate::text::escape(s))?;
    }
    writeln!(out, "\n{}", crate::text::escape_keep_lines(&d.body))?;
    if d.html.is_some() {
        writeln!(out, "\n(an HTML part goes with it: `--format json` shows it)")?;
    }
    Ok(())
}

fn message_rows(messages: &[Message]) -> Vec<Vec<String>> {
    messages
        .iter()
        .map(|m| {
            vec![
                m.id.to_string(),
                m.day.to_string(),
                m.customer_id.clone(),
                m.channel.clone(),
                m.invoices
                    .iter()
                    .map(|c| format!("{} (step {})", c.invoice_number, c.step))
                    .collect::<Vec<_>>()
                    .join(", "),
                m.status.as_str().to_string(),
                m.file
                    .clone()
                    .or_else(|| m.provider_id.clone())
                    .or_else(|| m.last_error.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect()
}

const MESSAGE_HEADER: &[&str] =
    &["ID", "DAY", "CUSTOMER", "CHANNEL", "INVOICES", "STATUS", "FILE / RECEIPT / ERROR"];

pub fn run_outbox(config: &Config, args: &OutboxArgs, out: &mut dyn Write) -> Result<()> {
    let mut store = Store::open(&config.database_path())?;
    if let Some(OutboxAction::Settle { id, sent, provider_id, .. }) = &args.action {
        let Some(m) = store.message(*id)? else {
            bail!("no message with id {id}; `dunwell outbox --status unknown` lists the ones to settle")
        };
        if m.status != Status::Unknown {
            bail!(
                "message {id} is {}, not unknown: only a message whose fate is unknown is settled by hand",
                m.status.as_str()
            );
        }
        if *sent {
            store.mark_sent(*id, &chrono::Utc::now().to_rfc3339(), provider_id.as_deref(), None, None)?;
            writeln!(out, "message {id}: sent")?;
        } else {
            store.requeue(*id)?;
            writeln!(out, "message {id}: queued again; the next `dunwell send` delivers it")?;
        }
        return Ok(());
    }
    let messages = store.outbox(args.status.map(Status::from))?;
    match args.format {
        Format::Json => write_json(out, &messages)?,
        Format::Table if messages.is_empty() => writeln!(out, "the outbox is empty")?,
        Format::Table => write_table(out, MESSAGE_HEADER, &message_rows(&messages), None)?,
    }
    Ok(())
}

/// One line of `dunwell history`: a message, a note (a reply), or a line of the care history.
enum Entry<'a> {
    Message(&'a Message),
    Note(&'a crate::store::notes::Note),
    Event(&'a crate::store::notes::CareEvent),
}

/// The history in day order: each message followed by the notes that answer it; the other
/// notes and the care lines in their day's place, by when they were recorded.
fn timeline<'a>(
    messages: &'a [Message],
    notes: &'a [crate::store::notes::Note],
    events: &'a [crate::store::notes::CareEvent],
) -> Vec<Entry<'a>> {
    use std::collections::{HashMap, HashSet};
    let listed: HashSet<i64> = messages.iter().map(|m| m.id).collect();
    let mut answers: HashMap<i64, Vec<&crate::store::notes::Note>> = HashMap::new();
    let time = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&chrono::Utc));
    // (day, when recorded, messages before events before notes, id): the order of the history.
    type Place = (NaiveDate, Option<chrono::DateTime<chrono::Utc>>, u8, i64);
    let mut placed: Vec<(Place, Entry<'a>)> = Vec::new();
    for n in notes {
        match n.outbox_id.filter(|id| listed.contains(id)) {
            Some(id) => answers.entry(id).or_default().push(n),
            None => placed.push(((n.day, time(&n.recorded_at), 2, n.id), Entry::Note(n))),
        }
    }
    for m in messages {
        placed.push(((m.day, time(&m.created), 0, m.id), Entry::Message(m)));
    }
    for e in events {
        placed.push(((e.day, time(&e.at), 1, e.id), Entry::Event(e)));
    }
    placed.sort_by_key(|(place, _)| *place);
    let mut out = Vec::with_capacity(placed.len() + answers.len());
    for (_, entry) in placed {
        let replies = match &entry {
            Entry::Message(m) => answers.remove(&m.id).unwrap_or_default(),
            _ => Vec::new(),
        };
        out.push(entry);
        out.extend(replies.into_iter().map(Entry::Note));
    }
    out
}

pub fn run_history(config: &Config, args: &HistoryArgs, out: &mut dyn Write) -> Result<()> {
    let store = Store::open(&config.database_path())?;
    let messages = store.history(&args.who)?;
    let notes = store.notes(&args.who)?;
    let events = store.care_events(&args.who)?;
    if args.format == Format::Json {
        return write_json(
            out,
            &serde_json::json!({ "messages": messages, "notes": notes, "events": events }),
        );
    }
    if messages.is_empty() && notes.is_empty() && events.is_empty() {
        writeln!(out, "nothing was sent to, noted or recorded about `{}`", crate::text::escape(&args.who))?;
        return Ok(());
    }
    let esc = |s: &str| crate::text::escape(s).into_owned();
    for entry in timeline(&messages, &notes, &events) {
        match entry {
            Entry::Message(m) => {
                writeln!(
                    out,
                    "#{} {} {} {} to {} [{}]",
                    m.id,
                    m.day,
                    m.channel,
                    m.template,
                    esc(m.recipient.as_deref().unwrap_or("-")),
                    m.status.as_str()
                )?;
                if let Some(cc) = &m.cc {
                    writeln!(out, "Cc: {}", esc(cc))?;
                }
                if let Some(s) = &m.subject {
                    writeln!(out, "Subject: {}", esc(s))?;
                }
                writeln!(out, "{}\n", crate::text::escape_keep_lines(&m.body))?;
            }
            Entry::Note(n) => {
                let what = match &n.sender {
                    Some(from) => format!("reply from {}", esc(from)),
                    None => "note".to_string(),
                };
                let answers = n.outbox_id.map(|id| format!(" to #{id}")).unwrap_or_default();
                writeln!(
                    out,
                    "note #{} {} {what}{answers}, recorded by {}",
                    n.id,
                    n.day,
                    esc(&n.recorded_by)
                )?;
                if let Some(s) = &n.subject {
                    writeln!(out, "Subject: {}", esc(s))?;
                }
                writeln!(out, "{}\n", crate::text::escape_keep_lines(&n.body))?;
            }
            Entry::Event(e) => {
                let invoices = if e.invoices.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", esc(&e.invoices.join(", ")))
                };
                writeln!(
                    out,
                    "event {} {}{}: {}{invoices}, recorded by {}\n",
                    e.day,
                    esc(&e.kind),
                    e.ref_id.map(|id| format!(" #{id}")).unwrap_or_default(),
                    crate::text::escape_keep_lines(&e.text),
                    esc(&e.recorded_by)
                )?;
            }
        }
    }
    Ok(())
}

pub fn run_tasks(config: &Config, args: &TasksArgs, out: &mut dyn Write) -> Result<()> {
    let mut store = Store::open(&config.database_path())?;
    if let Some(TaskAction::Done { id, outcome, note, date, amount, reason, instalments, at, by }) =
        &args.action
    {
        let by = crate::store::By {
            who: by.clone().unwrap_or_else(crate::cli_care::default_by),
            at: chrono::Utc::now().to_rfc3339(),
            on: at.unwrap_or_else(|| config.today()),
        };
        let mut list = Vec::new();
        for i in instalments {
            let (d, a) = i.split_once(':').with_context(|| {
                format!("`{i}` is not DATE:AMOUNT; write an instalment like 2026-12-15:250.00")
            })?;
            list.push((
                crate::model::parse_date(d).map_err(anyhow::Error::msg)?,
                crate::model::parse_amount(a).map_err(anyhow::Error::msg)?,
            ));
        }
        let call = crate::store::CallOutcome {
            outcome: outcome.as_str().to_string(),
            note: note.clone(),
            date: *date,
            amount: *amount,
            reason: reason.clone(),
            instalments: list,
        };
        let text = store.record_call(*id, &call, &config.care, &by)?;
        writeln!(out, "{text}")?;
        return Ok(());
    }
    let tasks = store.call_tasks(args.all)?;
    match args.format {
        Format::Json => write_json(out, &tasks)?,
        Format::Table if tasks.is_empty() => writeln!(out, "no open call tasks")?,
        Format::Table => {
            let rows: Vec<Vec<String>> = tasks
                .iter()
                .map(|t| {
                    vec![
                        t.id.to_string(),
                        t.day.to_string(),
                        t.customer_id.clone(),
                        t.recipient.clone().unwrap_or_else(|| "(no phone number)".into()),
                        t.invoices.iter().map(|c| c.invoice_number.as_str()).collect::<Vec<_>>().join(", "),
                        t.outcome.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            write_table(out, &["ID", "DAY", "CUSTOMER", "PHONE", "INVOICES", "OUTCOME"], &rows, None)?;
            writeln!(out, "\nthe call script of each is in `dunwell history CUSTOMER`; record an outcome with `dunwell tasks done ID --outcome ...`")?;
        }
    }
    Ok(())
}
