//! The `dunwell` command line: argument parsing and output formatting around the library.
//! This is the binary's edge, so errors are `anyhow` here and typed everywhere below.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::config::Config;
use crate::import;
use crate::location::Problems;
use crate::model::{parse_date, Customer, Invoice};
use crate::plan::Action;
use crate::playbook::{PlaybookSet, PlaybookSource};
use crate::sample;
use crate::segment;
use crate::store::{Store, Table};

#[derive(Parser, Debug)]
#[command(
    name = "dunwell",
    version,
    about = "Chases unpaid invoices: imports them, sorts customers by how they pay, and plans reminders per segment",
    long_about = "dunwell imports invoices, customers and payments, sorts customers into segments by how \
they pay (vip, standard, bad-payer), and plans the reminders of each segment's playbook: which step \
goes to whom on which day, and why.\n\nConfiguration comes from --config, else ./dunwell.toml, else \
built-in defaults (data in ./dunwell-data, playbooks from ./playbooks or the built-in set).",
    after_help = "Typical first run:\n  dunwell sample --customers 200 --invoices 2000 --seed 1 export/\n  \
dunwell import csv export/\n  dunwell segments\n  dunwell plan --days 14"
)]
pub struct Cli {
    /// Configuration file (default: ./dunwell.toml when present, else built-in defaults).
    #[arg(long, global = true, value_name = "PATH", env = "DUNWELL_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Import invoices, customers and payments into the store.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Write a realistic, deterministic sample export (customers.csv, invoices.csv, payments.csv).
    Sample(SampleArgs),
    /// Show each customer's segment and the figures behind it.
    Segments(SegmentsArgs),
    /// Validate the playbooks, templates and segment rules; non-zero exit on any problem.
    Check(CheckArgs),
    /// Show the reminder actions due from a date, and why each is due.
    Plan(PlanArgs),
    /// Compute statutory interest on a late payment, period by period.
    Interest(crate::cli_law::InterestArgs),
    /// Compute the collection costs that may be charged on a principal.
    Costs(crate::cli_law::CostsArgs),
    /// Run one sync of the connector plugins now (or of one) and print what changed.
    Sync(crate::cli_plugin::SyncArgs),
    /// Inspect and try out connector plugins (WebAssembly components).
    #[command(subcommand)]
    Plugin(crate::cli_plugin::PluginCommand),
    /// Payments in the store: the bank payments that matched no invoice.
    #[command(subcommand)]
    Payments(crate::cli_plugin::PaymentsCommand),
    /// List the stored invoices (number, customer, dates, currency, total, open amount, paid
    /// date, source): what an import or a sync brought in. `--format json` adds each one's
    /// payment reference and the source's id.
    Invoices(crate::cli_invoices::InvoicesArgs),
    /// List the records connectors sent that could not be used (a bad amount, date or
    /// currency, an unknown customer, an invoice number twice), with the field and the reason.
    /// They are kept aside while the rest of each sync lands, and every sync tries them again
    /// until the source sends them usable or no longer has them.
    Quarantine(crate::cli_plugin::QuarantineArgs),
    /// Do a day's work: plan the steps due, write one message per customer and channel to the
    /// outbox (with the progress it records), and deliver what the outbox holds. Running it
    /// again for the same day sends nothing new.
    Send(crate::cli_send::SendArgs),
    /// Show exactly what would be sent for an invoice's next step (or step K): subject and
    /// body for e-mail, the text for SMS, letters and call scripts.
    Preview(crate::cli_send::PreviewArgs),
    /// List the outbox: every message, its state, its file or the provider's receipt.
    Outbox(crate::cli_send::OutboxArgs),
    /// What was sent to a customer or about an invoice, with the text, in day order: each
    /// reply (`dunwell note`) right after the message it answers, and the promises, disputes,
    /// plans, pauses and call outcomes recorded, with who recorded them. `--format json`:
    /// `{"messages": [...], "notes": [...], "events": [...]}`.
    History(crate::cli_send::HistoryArgs),
    /// Call tasks for a person, and recording how a call went.
    Tasks(crate::cli_send::TasksArgs),
    /// Promises to pay: record one (the invoices' reminders wait for it), list them.
    Promise(crate::cli_care::PromiseArgs),
    /// Disputes: record one (the disputed amount is not chased), resolve it, list them.
    Dispute(crate::cli_care::DisputeArgs),
    /// Payment plans: record one (instalments replace the playbook while it holds), list them.
    PaymentPlan(crate::cli_care::PlanArgs),
    /// Pauses of a customer, an invoice or everything (a moratorium): add, lift, list.
    Pause(crate::cli_care::PauseArgs),
    /// Record a customer's reply (an .eml saved or forwarded from the mail client) or a note;
    /// `dunwell history` shows it next to the message it answers (matched by In-Reply-To).
    Note(crate::cli_note::NoteArgs),
    /// The messages that wait for a person's approval (a formal notice, the handoff to the
    /// agency), and approving or rejecting them (skip the step, or postpone it by some days).
    Approvals(crate::cli_approvals::ApprovalsArgs),
    /// Run the daemon: sync, send and deliver on the schedule of [schedule] in dunwell.toml,
    /// with the admin API (health, metrics, status) on 127.0.0.1:8720. For systemd
    /// (daemon/systemd/dunwell.service): Type=notify, reload on SIGHUP, stop on SIGTERM.
    Run(crate::cli_run::RunArgs),
    /// Make the running daemon re-read dunwell.toml, the playbooks, the templates, the rate
    /// tables and the plugins. A configuration with any problem is refused (non-zero exit)
    /// and the previous one keeps running.
    Reload(crate::cli_run::ReloadArgs),
    /// How the daemon is: each job's last and next run, each source's age, the outbox, dead
    /// letters, tasks waiting, held reminders and why, the configuration in force.
    Status(crate::cli_run::StatusArgs),
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Import a spreadsheet export: a folder with customers.csv, invoices.csv and/or
    /// payments.csv, or one CSV file of open items (with --open-items, or --preset, or a
    /// package's report recognised by its header). All or nothing: on any bad row nothing is
    /// stored. Re-importing the same files changes nothing.
    ///
    /// Files as Excel writes them in the Netherlands and Belgium are read as they are: `;` or
    /// tab separated, a decimal comma (1.234,50), day-first dates (31-10-2026, 3/4/2026 is
    /// 3 April), Windows-1252 or UTF-8 with a byte-order mark, Dutch, French and English
    /// column names. The summary says what was detected; [import] in dunwell.toml sets any
    /// of it (separator, decimal, date_format, encoding, default_kind, [import.columns]).
    /// A file whose decimal mark cannot be told is refused with what to set.
    Csv(ImportArgs),
    /// Import Excel workbooks (.xlsx; also .xls and .ods): one workbook with sheets named
    /// customers, invoices and payments (or klanten, facturen, betalingen), a workbook of one
    /// sheet of open items, or a folder with customers.xlsx, invoices.xlsx and
    /// payments.xlsx. Number cells are read as exact decimals, date cells as dates; the same
    /// column names and [import] settings as for CSV apply.
    Xlsx(ImportArgs),
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The folder of the export, or one file (a CSV file or workbook of open items, or a
    /// workbook with the three sheets).
    #[arg(value_name = "DIR|FILE")]
    pub path: PathBuf,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Read and check everything and print what would be stored (the counts, the first rows
    /// as parsed, what was detected), then store nothing: the import runs in its transaction
    /// and that is rolled back.
    #[arg(long)]
    pub dry_run: bool,
    /// The file is an open-items report (one row per open invoice with its customer and open
    /// amount). Invoices imported from spreadsheets that are open in the store but no longer in
    /// the report are marked paid on the report's date (--report-date), and the summary names
    /// them. Without this flag nothing is ever marked paid.
    #[arg(long)]
    pub open_items: bool,
    /// Read an open-items report with the column names of this package's report (see
    /// docs/open-items-presets.md). Without it a package's report is recognised by its
    /// header when exactly one preset fits.
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// The day the open-items report was made (YYYY-MM-DD): invoices that left it are marked
    /// paid on this day. Default: today in the configured time zone.
    #[arg(long, value_name = "DATE", value_parser = date_arg)]
    pub report_date: Option<NaiveDate>,
}

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Number of customers.
    #[arg(long, default_value_t = 200)]
    pub customers: usize,
    /// Number of invoices, spread over the 30 months before --as-of.
    #[arg(long, default_value_t = 2000)]
    pub invoices: usize,
    /// Random seed: the same arguments always give byte-identical files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The "today" of the sample: no invoice is issued and no payment made after it.
    #[arg(long, value_name = "DATE", default_value = "2026-12-01", value_parser = date_arg)]
    pub as_of: NaiveDate,
    /// Folder to write the CSV files into (created if missing).
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct SegmentsArgs {
    /// Evaluate at this date (YYYY-MM-DD); default today in the configured time zone.
    #[arg(long, value_name = "DATE", value_parser = date_arg)]
    pub at: Option<NaiveDate>,
    /// Only this customer.
    #[arg(long, value_name = "ID")]
    pub customer: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Playbooks folder to check (default: the configured one, else ./playbooks, else the built-in set).
    pub dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// First day of the plan (YYYY-MM-DD); default today in the configured time zone.
    #[arg(long, value_name = "DATE", value_parser = date_arg)]
    pub at: Option<NaiveDate>,
    /// Also show what is due on the N days after --at, assuming nothing more is paid and
    /// every step is carried out on its planned day.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub days: u32,
    /// Only this customer's invoices.
    #[arg(long, value_name = "ID")]
    pub customer: Option<String>,
    /// Leave out the reason line under each action (table format only).
    #[arg(long)]
    pub brief: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A table for people.
    Table,
    /// JSON for scripts.
    Json,
}

pub(crate) fn date_arg(s: &str) -> Result<NaiveDate, String> {
    parse_date(s)
}

/// Runs the parsed command line, writing results to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<()> {
    if let Command::Reload(args) = &cli.command {
        // A file the client cannot load goes to the daemon all the same: it refuses it,
        // keeps the old one and records why (status, metrics, systemd's STATUS).
        let config = match Config::discover(cli.config.as_deref()) {
            Ok(c) => c,
            Err(e) => Config::admin_only(cli.config.as_deref()).ok_or(e)?,
        };
        return crate::cli_run::run_reload(&config, args, out);
    }
    let config = Config::discover(cli.config.as_deref())?;
    match cli.command {
        Command::Import(ImportCommand::Csv(args)) => import_files(&config, &args, false, out),
        Command::Import(ImportCommand::Xlsx(args)) => import_files(&config, &args, true, out),
        Command::Sample(args) => run_sample(&args, out),
        Command::Segments(args) => run_segments(&config, &args, out),
        Command::Check(args) => run_check(&config, &args, out),
        Command::Plan(args) => run_plan(&config, &args, out),
        Command::Interest(mut args) => {
            args.rates = args.rates.or_else(|| config.rates_file.clone());
            crate::cli_law::run_interest(&args, out)
        }
        Command::Sync(args) => crate::cli_plugin::run_sync(&config, &args, out),
        Command::Plugin(command) => crate::cli_plugin::run_plugin(&config, &command, out),
        Command::Payments(command) => crate::cli_plugin::run_payments(&config, &command, out),
        Command::Quarantine(args) => crate::cli_plugin::run_quarantine(&config, &args, out),
        Command::Invoices(args) => crate::cli_invoices::run_invoices(&config, &args, out),
        Command::Send(args) => crate::cli_send::run_send(&config, &args, out),
        Command::Outbox(args) => crate::cli_send::run_outbox(&config, &args, out),
        Command::Preview(args) => crate::cli_send::run_preview(&config, &args, out),
        Command::History(args) => crate::cli_send::run_history(&config, &args, out),
        Command::Tasks(args) => crate::cli_send::run_tasks(&config, &args, out),
        Command::Promise(args) => crate::cli_care::run_promise(&config, &args, out),
        Command::Dispute(args) => crate::cli_care::run_dispute(&config, &args, out),
        Command::PaymentPlan(args) => crate::cli_care::run_payment_plan(&config, &args, out),
        Command::Pause(args) => crate::cli_care::run_pause(&config, &args, out),
        Command::Note(args) => crate::cli_note::run_note(&config, &args, out),
        Command::Approvals(args) => crate::cli_approvals::run_approvals(&config, &args, out),
        Command::Run(args) => crate::cli_run::run_daemon(cli.config.clone(), &args),
        Command::Reload(args) => crate::cli_run::run_reload(&config, &args, out),
        Command::Status(args) => crate::cli_run::run_status(&config, &args, out),
        Command::Costs(mut args) => {
            args.rates = args.rates.or_else(|| config.rates_file.clone());
            crate::cli_law::run_costs(&args, out)
        }
    }
}

/// The playbooks for a command that uses them: checked in full once per change of the files,
/// the settings or the binary (remembered in the data directory), as the daemon's are;
/// `dunwell check` always checks in full.
pub(crate) fn load_playbooks(config: &Config) -> Result<PlaybookSet> {
    PlaybookSet::load_for(config)
        .map_err(|p| anyhow!("{p}\nthe playbooks have problems; fix them (see `dunwell check`)"))
}

fn open_store(config: &Config) -> Result<Store> {
    Ok(Store::open(&config.database_path())?)
}

fn import_files(config: &Config, args: &ImportArgs, xlsx: bool, out: &mut dyn Write) -> Result<()> {
    let preset = match args.preset.as_deref() {
        None => None,
        Some(name) => Some(import::presets::find(name).ok_or_else(|| {
            let known = import::presets::PRESETS.iter().map(|p| p.name).collect::<Vec<_>>();
            anyhow!(
                "--preset {name}: no such preset; the presets are {} (docs/open-items-presets.md says which packages have none and why); for another report give --open-items and map its headers in [import.columns]",
                if known.is_empty() { "none yet".to_string() } else { known.join(", ") }
            )
        })?),
    };
    if args.report_date.is_some() && !args.open_items {
        bail!("--report-date is the day of an open-items report; give --open-items too (without it nothing is marked paid)");
    }
    let playbooks = load_playbooks(config)?;
    let segments = playbooks.segment_names();
    // A dry run into a store that does not exist yet runs against an empty one in memory, so
    // that not even the database file is created.
    let mut store = if args.dry_run && !config.database_path().exists() {
        Store::open_in_memory()?
    } else {
        open_store(config)?
    };
    let started = Instant::now();
    let path = &args.path;
    let opts = import::Options {
        settings: &config.import,
        segments: &segments,
        dry_run: args.dry_run,
        preset,
        open_items: args.open_items,
        report_date: args.report_date.unwrap_or_else(|| config.today()),
    };
    tracing::info!("importing {} into {}", path.display(), store.path().display());
    let result = if xlsx {
        import::import_xlsx(&mut store, path, &opts)
    } else {
        import::import_csv(&mut store, path, &opts)
    };
    let summary = match result {
        Ok(s) => s,
        Err(import::ImportError::Invalid(problems)) => {
            bail!("{problems}\nnothing was imported; fix the rows above and run the import again")
        }
        Err(e) => return Err(e.into()),
    };
    for w in summary.warnings.iter().take(20) {
        tracing::warn!("{w}");
    }
    if summary.warnings.len() > 20 {
        tracing::warn!("... and {} more warnings", summary.warnings.len() - 20);
    }
    match args.format {
        Format::Json => write_json(out, &summary)?,
        Format::Table => {
            writeln!(out, "{summary}")?;
            if let Some(preview) = &summary.preview {
                write_preview(out, preview)?;
            }
            if summary.dry_run {
                writeln!(
                    out,
                    "dry run: checked {} in {:.1}s; nothing was stored",
                    path.display(),
                    started.elapsed().as_secs_f64()
                )?;
            } else {
                writeln!(out, "imported {} in {:.1}s", path.display(), started.elapsed().as_secs_f64())?;
            }
        }
    }
    Ok(())
}

/// The first rows of each kind as a dry run parsed them.
fn write_preview(out: &mut dyn Write, preview: &import::Preview) -> Result<()> {
    if !preview.customers.is_empty() {
        writeln!(out, "first customers as read:")?;
        for c in &preview.customers {
            let mut line = format!("  {}  {}  {}", c.id, c.name, c.kind.as_str());
            for extra in [
                c.email.as_deref(),
                c.phone.as_deref(),
                c.address.city.as_deref(),
                c.address.country.as_deref(),
            ]
            .into_iter()
            .flatten()
            {
                line.push_str("  ");
                line.push_str(extra);
            }
            writeln!(out, "{line}")?;
        }
    }
    if !preview.invoices.is_empty() {
        writeln!(out, "first invoices as read:")?;
        for i in &preview.invoices {
            writeln!(
                out,
                "  {}  customer {}  issued {}  due {}  {} {}  open {}",
                i.number, i.customer_id, i.issue_date, i.due_date, i.currency, i.total, i.open_amount
            )?;
        }
    }
    if !preview.payments.is_empty() {
        writeln!(out, "first payments as read:")?;
        for p in &preview.payments {
            let method = p.method.map(|m| format!("  {}", m.as_str())).unwrap_or_default();
            writeln!(out, "  {}  {}  {}{method}", p.invoice_number, p.date, p.amount)?;
        }
    }
    Ok(())
}

fn run_sample(args: &SampleArgs, out: &mut dyn Write) -> Result<()> {
    let opts = sample::SampleOptions {
        customers: args.customers,
        invoices: args.invoices,
        seed: args.seed,
        as_of: args.as_of,
    };
    let s = sample::generate(&opts, &args.dir)?;
    writeln!(
        out,
        "wrote {} customers, {} invoices ({} open) and {} payments to {}",
        s.customers,
        s.invoices,
        s.open_invoices,
        s.payments,
        args.dir.display()
    )?;
    Ok(())
}

/// Everything segmentation and planning read from the store.
struct Snapshot {
    customers: Vec<Customer>,
    invoices: Vec<Invoice>,
    broken_promises: Vec<(String, NaiveDate)>,
}

fn snapshot(store: &Store) -> Result<Snapshot> {
    let started = Instant::now();
    let snap = Snapshot {
        customers: store.load_customers()?,
        invoices: store.load_invoices()?,
        broken_promises: store.broken_promises()?,
    };
    tracing::debug!(
        "loaded {} customers and {} invoices in {:.2}s",
        snap.customers.len(),
        snap.invoices.len(),
        started.elapsed().as_secs_f64()
    );
    if snap.customers.is_empty() && store.count(Table::Imports)? == 0 {
        tracing::warn!(
            "the store at {} is empty; import data first with `dunwell import csv DIR`",
            store.path().display()
        );
    }
    Ok(snap)
}

#[derive(Serialize)]
struct SegmentRow<'a> {
    customer_id: &'a str,
    name: &'a str,
    segment: &'a str,
    rule: segment::Rule,
    indicators: &'a segment::Indicators,
    reason: &'a str,
}

fn run_segments(config: &Config, args: &SegmentsArgs, out: &mut dyn Write) -> Result<()> {
    let playbooks = load_playbooks(config)?;
    let store = open_store(config)?;
    let snap = snapshot(&store)?;
    let at = args.at.unwrap_or_else(|| config.today());
    let segs =
        segment::segment_all(at, &playbooks.rules, &snap.customers, &snap.invoices, &snap.broken_promises);
    let rows: Vec<SegmentRow<'_>> = snap
        .customers
        .iter()
        .zip(&segs)
        .filter(|(c, _)| args.customer.as_ref().is_none_or(|id| &c.id == id))
        .map(|(c, s)| SegmentRow {
            customer_id: &c.id,
            name: &c.name,
            segment: &s.segment,
            rule: s.rule,
            indicators: &s.indicators,
            reason: &s.reason,
        })
        .collect();
    if let Some(id) = &args.customer {
        if rows.is_empty() {
            bail!("no customer with id `{id}` in the store");
        }
    }
    let mut w = BufWriter::new(out);
    match args.format {
        Format::Json => write_json(&mut w, &rows)?,
        Format::Table => {
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let i = r.indicators;
                    vec![
                        r.customer_id.to_string(),
                        truncate(r.name, 32),
                        r.segment.to_string(),
                        i.counting_invoices.to_string(),
                        i.late_bad_payer.to_string(),
                        i.late_vip.to_string(),
                        i.broken_promises.to_string(),
                        i.avg_days_late.map_or("-".into(), |v| v.to_string()),
                        i.mean_invoice_total.map_or("-".into(), |v| v.to_string()),
                    ]
                })
                .collect();
            let reasons: Vec<&str> = rows.iter().map(|r| r.reason).collect();
            write_table(
                &mut w,
                &[
                    "CUSTOMER",
                    "NAME",
                    "SEGMENT",
                    "COUNTING",
                    "LATE>15",
                    "LATE>0",
                    "BROKEN",
                    "AVG LATE",
                    "MEAN TOTAL",
                ],
                &table,
                Some(&reasons),
            )?;
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for r in &rows {
                *counts.entry(r.segment).or_default() += 1;
            }
            let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
            writeln!(w, "\n{} customers at {at}: {}", rows.len(), parts.join(", "))?;
        }
    }
    w.flush()?;
    Ok(())
}

fn run_check(config: &Config, args: &CheckArgs, out: &mut dyn Write) -> Result<()> {
    let source = PlaybookSource::resolve(args.dir.as_deref().or(config.playbooks_dir.as_deref()));
    if let PlaybookSource::Dir(d) = &source {
        if !d.is_dir() {
            bail!("{}: no such folder; give the playbooks folder to check", d.display());
        }
    }
    // Rate tables: a broken override file is an error, an outdated series of the business's
    // jurisdiction a warning.
    let rates = crate::law::rates::Rates::load(config.rates_file.as_deref())?;
    let ours =
        |w: &crate::law::Warning| w.series.to_ascii_lowercase().starts_with(config.jurisdiction.as_str());
    for warning in rates.stale_series(config.today()).iter().filter(|w| ours(w)) {
        writeln!(out, "warning: {warning}")?;
    }
    let loaded = PlaybookSet::load(source.clone(), config.default_language, &config.law_settings());
    // Without loaded playbooks, assume they write (the shipped ones do).
    let writes = loaded.as_ref().map_or(true, writes_to_customers);
    let be_consumers = if writes { belgian_consumers(config)? } else { Vec::new() };
    let (business, business_warnings) = business_problems(config, writes, &be_consumers);
    for w in &business_warnings {
        writeln!(out, "warning: {w}")?;
    }
    match loaded {
        Ok(_) if !business.is_empty() => {
            let n = business.len();
            Err(anyhow!("{}\n{n} problem{} found", Problems(business), if n == 1 { "" } else { "s" }))
        }
        Ok(set) => {
            let steps: usize = set.playbooks.values().map(|p| p.steps.len()).sum();
            let names: Vec<&str> = set.playbooks.keys().map(String::as_str).collect();
            let langs: Vec<&str> = set.languages.iter().map(|l| l.as_str()).collect();
            writeln!(
                out,
                "{}: ok: {} playbooks ({}), {steps} steps, templates in {}",
                source.display("").display(),
                names.len(),
                names.join(", "),
                langs.join(", ")
            )?;
            for note in crate::template::care_template_notes(&set.source, &set.languages) {
                writeln!(out, "note: {note}")?;
            }
            for w in store_warnings(config, &rates)? {
                writeln!(out, "warning: {w}")?;
            }
            Ok(())
        }
        Err(Problems(mut problems)) => {
            problems.extend(business);
            let n = problems.len();
            Err(anyhow!("{}\n{n} problem{} found", Problems(problems), if n == 1 { "" } else { "s" }))
        }
    }
}

/// What the store holds that the law makes a person look at: consumers outside the Netherlands
/// and Belgium (dunwell applies the business's law and the EU rules to them, which their own
/// law may better), and open invoices that near or passed their limitation period today (the
/// written demands on record interrupt it where the law says so); at most 20 named, then a count.
fn store_warnings(config: &Config, rates: &crate::law::Rates) -> Result<Vec<String>> {
    use crate::law::{standing, Claim, Goods, Standing};
    let path = config.database_path();
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let store = open_store(config)?;
    let customers: std::collections::HashMap<String, crate::model::Customer> =
        store.load_customers()?.into_iter().map(|c| (c.id.clone(), c)).collect();
    let progress = store.load_progress()?;
    let today = config.today();
    let mut out: Vec<String> = customers.values().filter_map(|c| c.law(config.jurisdiction).1).collect();
    out.sort();
    for inv in store.load_invoices()?.iter().filter(|i| i.is_open()) {
        let Some(c) = customers.get(&inv.customer_id) else { continue };
        let (law, _) = c.law(config.jurisdiction);
        let mut claim = Claim::new(law, c.kind, Goods::Unknown, inv.issue_date, inv.due_date);
        for d in progress.get(&inv.number).into_iter().flat_map(crate::plan::Progress::demands) {
            claim = claim.with_demand(d);
        }
        match standing(&rates.prescription, &claim, today) {
            Standing::Fine => {}
            Standing::Near { rule, .. } => {
                out.push(format!("invoice {} nears prescription: {rule}", inv.number))
            }
            Standing::Past { rule, .. } => out.push(format!(
                "invoice {} is past prescription: {rule}; its escalating steps wait for approval",
                inv.number
            )),
        }
    }
    if out.len() > 20 {
        let more = out.len() - 20;
        out.truncate(20);
        out.push(format!("{more} more (`dunwell plan` names each invoice)"));
    }
    Ok(out)
}

/// Whether any step (or its fallback) sends an e-mail or a letter, which name the creditor.
fn writes_to_customers(set: &PlaybookSet) -> bool {
    use crate::playbook::Channel;
    set.playbooks.values().flat_map(|p| &p.steps).any(|s| {
        std::iter::once(s.channel)
            .chain(s.fallback_channel)
            .any(|c| matches!(c, Channel::Email | Channel::Letter | Channel::RegisteredLetter))
    })
}

/// The stored customers who are consumers under Belgian law (they live in Belgium), by id: the
/// first reminder they get must name the creditor's registration number (Boek XIX WER).
fn belgian_consumers(config: &Config) -> Result<Vec<String>> {
    if !config.database_path().is_file() {
        return Ok(Vec::new());
    }
    let store = open_store(config)?;
    Ok(store
        .load_customers()?
        .into_iter()
        .filter(|c| c.is_belgian_consumer(config.jurisdiction))
        .map(|c| c.id)
        .collect())
}

/// What `[business]` must hold before the playbooks write to anyone: every e-mail and letter
/// names the creditor and where to pay. A Belgian consumer's first reminder must name the
/// creditor and its registration number (Boek XIX WER art. XIX.2): a Belgian business's
/// enterprise number, so `company_number` is required of it; a Dutch business's KvK number (or
/// a Belgian enterprise number it has), so a Dutch business with neither fails as soon as the
/// store holds a Belgian consumer (`be_consumers`, their ids). Problems point at dunwell.toml
/// and the key; a Dutch business without its KvK number (Handelsregisterwet art. 27) and no
/// Belgian consumers is a warning.
fn business_problems(
    config: &Config,
    writes: bool,
    be_consumers: &[String],
) -> (Vec<crate::location::Problem>, Vec<String>) {
    use crate::calendar::Jurisdiction;
    use crate::location::{Location, Problem};
    let file = config.source.clone().unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_FILE));
    let text = config.source.as_deref().and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default();
    // The line of `key` in [business], else of [business], else the file.
    let at = |key: &str| {
        let lines: Vec<&str> = text.lines().collect();
        let Some(header) = lines.iter().position(|l| l.trim() == "[business]") else {
            return Location::file(&file);
        };
        let in_section = lines[header + 1..].iter().take_while(|l| !l.trim_start().starts_with('['));
        for (i, l) in in_section.enumerate() {
            if l.split_once('=').is_some_and(|(k, _)| k.trim().trim_matches('"') == key) {
                return Location::at(&file, header + i + 2, 1);
            }
        }
        Location::at(&file, header + 1, 1)
    };
    let b = &config.business;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    if !writes {
        return (problems, warnings);
    }
    if b.name.trim().is_empty() {
        problems.push(Problem::new(
            at("name"),
            "`name` in [business] is empty: every e-mail and letter names the creditor; set name = \"…\" (see examples/dunwell.toml)",
        ));
    }
    if b.iban.trim().is_empty() {
        problems.push(Problem::new(
            at("iban"),
            "`iban` in [business] is empty: every e-mail and letter says where to pay; set iban = \"…\"",
        ));
    }
    if config.jurisdiction == Jurisdiction::Be && b.company_number.is_none() {
        problems.push(Problem::new(
            at("company_number"),
            "`company_number` in [business] is empty: a Belgian business's reminders to consumers must name its enterprise number (Boek XIX WER), and its letters too (WER art. III.25); set company_number = \"0123.456.749\"",
        ));
    }
    if config.jurisdiction == Jurisdiction::Nl
        && b.registration_number().is_none()
        && !be_consumers.is_empty()
    {
        let named: Vec<&str> = be_consumers.iter().take(3).map(String::as_str).collect();
        let more = if be_consumers.len() > named.len() { ", …" } else { "" };
        problems.push(Problem::new(
            at("kvk"),
            format!(
                "`kvk` and `company_number` in [business] are empty, but the store holds {} consumer{} in Belgium ({}{more}): the first reminder to a Belgian consumer must name the creditor's registration number (Boek XIX WER art. XIX.2); set kvk = \"12345678\" (or the Belgian company_number)",
                be_consumers.len(),
                if be_consumers.len() == 1 { "" } else { "s" },
                named.join(", ")
            ),
        ));
    } else if config.jurisdiction == Jurisdiction::Nl && b.kvk.is_none() {
        warnings.push(format!(
            "{}: `kvk` in [business] is empty: a Dutch business must print its KvK number on letters and e-mails (Handelsregisterwet art. 27); set kvk = \"12345678\"",
            at("kvk")
        ));
    }
    (problems, warnings)
}

fn run_plan(config: &Config, args: &PlanArgs, out: &mut dyn Write) -> Result<()> {
    let playbooks = load_playbooks(config)?;
    let store = open_store(config)?;
    let at = args.at.unwrap_or_else(|| config.today());
    let started = Instant::now();
    // The same inputs `dunwell send` plans from, the stored progress included.
    let inputs = crate::send::Inputs::load(&store, config, &playbooks, at)?;
    if inputs.customers.is_empty() && store.count(Table::Imports)? == 0 {
        tracing::warn!(
            "the store at {} is empty; import data first with `dunwell import csv DIR`",
            store.path().display()
        );
    }
    if let Some(id) = &args.customer {
        if inputs.customer(id).is_none() {
            bail!("no customer with id `{id}` in the store");
        }
    }
    let result = inputs.plan(config, &playbooks, at, args.days, args.customer.as_deref());
    tracing::debug!("planned {} actions in {:.2}s", result.actions.len(), started.elapsed().as_secs_f64());
    for p in &result.problems {
        tracing::warn!("{p}");
    }
    let mut w = BufWriter::new(out);
    match args.format {
        // The JSON stays an array of actions (scripts read it); the handed-over invoices go to
        // the log beside it.
        Format::Json => {
            for h in &result.handed_over {
                tracing::info!(
                    "invoice {} of customer {} was handed over to the collection agency on {}",
                    h.invoice_number,
                    h.customer_id,
                    h.day
                );
            }
            for h in &result.on_hold {
                tracing::info!(
                    "invoice {} of customer {} is on hold: {}",
                    h.invoice_number,
                    h.customer_id,
                    h.reason
                );
            }
            write_json(&mut w, &result.actions)?
        }
        Format::Table => {
            write_plan_table(&mut w, &result.actions, at, args.days, args.brief)?;
            write_handed_over(&mut w, &result.handed_over)?;
            write_on_hold(&mut w, &result.on_hold)?;
        }
    }
    w.flush()?;
    Ok(())
}

/// Invoices that left the playbook for the collection agency: no step of dunwell's is planned
/// for them any more.
fn write_handed_over(w: &mut dyn Write, handed: &[crate::plan::HandedOver]) -> Result<()> {
    if handed.is_empty() {
        return Ok(());
    }
    writeln!(w, "\nhanded over to the collection agency (no further steps):")?;
    let rows: Vec<Vec<String>> = handed
        .iter()
        .map(|h| {
            vec![
                h.day.to_string(),
                h.invoice_number.clone(),
                h.customer_id.clone(),
                truncate(&h.customer_name, 28),
                format!("{} {}", h.open_amount, h.currency),
            ]
        })
        .collect();
    write_table(w, &["HANDED OVER", "INVOICE", "CUSTOMER", "NAME", "OPEN"], &rows, None)?;
    Ok(())
}

/// Invoices whose steps wait for a pause, a promise, a payment plan or a dispute.
fn write_on_hold(w: &mut dyn Write, held: &[crate::plan::OnHold]) -> Result<()> {
    if held.is_empty() {
        return Ok(());
    }
    writeln!(w, "\non hold (no step in these days):")?;
    let rows: Vec<Vec<String>> = held
        .iter()
        .map(|h| {
            vec![
                h.invoice_number.clone(),
                h.customer_id.clone(),
                truncate(&h.customer_name, 28),
                h.until.map_or_else(|| "-".into(), |d| d.to_string()),
                crate::text::escape(&h.reason).into_owned(),
            ]
        })
        .collect();
    write_table(w, &["INVOICE", "CUSTOMER", "NAME", "UNTIL", "WHY"], &rows, None)?;
    Ok(())
}

fn write_plan_table(
    w: &mut dyn Write,
    actions: &[Action],
    at: NaiveDate,
    days: u32,
    brief: bool,
) -> Result<()> {
    let rows: Vec<Vec<String>> = actions
        .iter()
        .map(|a| {
            vec![
                a.date.to_string(),
                a.invoice_number.clone(),
                a.customer_id.clone(),
                truncate(&a.customer_name, 28),
                a.segment.clone(),
                match a.kind {
                    crate::plan::ActionKind::Step => format!("{}/{}", a.step, a.steps_in_playbook),
                    _ => "-".into(),
                },
                a.channel.as_str().to_string(),
                a.template.clone(),
                format!("{} {}", a.open_amount, a.currency),
                if a.requires_approval { "approval".into() } else { String::new() },
            ]
        })
        .collect();
    let reasons: Vec<&str> = actions.iter().map(|a| a.reason.as_str()).collect();
    write_table(
        w,
        &["DATE", "INVOICE", "CUSTOMER", "NAME", "SEGMENT", "STEP", "CHANNEL", "TEMPLATE", "OPEN", ""],
        &rows,
        (!brief).then_some(reasons.as_slice()),
    )?;
    let end = at + chrono::Days::new(u64::from(days));
    let mut by_channel: BTreeMap<&str, usize> = BTreeMap::new();
    for a in actions {
        *by_channel.entry(a.channel.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = by_channel.iter().map(|(c, n)| format!("{c} {n}")).collect();
    let span = if days == 0 { format!("on {at}") } else { format!("from {at} through {end}") };
    if actions.is_empty() {
        writeln!(w, "nothing is due {span}")?;
    } else {
        writeln!(w, "\n{} actions {span}: {}", actions.len(), parts.join(", "))?;
    }
    Ok(())
}

/// Streams pretty JSON; an output error (a closed pipe) comes back as the `io::Error` main
/// recognises, not folded into a serde error.
pub(crate) fn write_json(w: &mut dyn Write, value: &impl Serialize) -> Result<()> {
    let mut w = BufWriter::new(w);
    serde_json::to_writer_pretty(&mut w, value).map_err(|e| {
        e.io_error_kind().map_or_else(|| anyhow::Error::from(e), |k| io::Error::from(k).into())
    })?;
    writeln!(w)?;
    w.flush()?;
    Ok(())
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// Left-aligned columns, widths from the content; an optional note line under each row.
pub(crate) fn write_table(
    w: &mut dyn Write,
    header: &[&str],
    rows: &[Vec<String>],
    notes: Option<&[&str]>,
) -> io::Result<()> {
    // Every cell is shown escaped: text from a spreadsheet or a plugin must not break a row
    // or move the terminal's cursor.
    let escaped: Vec<Vec<String>> =
        rows.iter().map(|r| r.iter().map(|c| crate::text::escape(c).into_owned()).collect()).collect();
    let rows = &escaped;
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |w: &mut dyn Write, cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            text.extend(std::iter::repeat_n(' ', widths[i].saturating_sub(cell.chars().count())));
        }
        writeln!(w, "{}", text.trim_end())
    };
    line(w, &mut header.iter().copied())?;
    for (i, row) in rows.iter().enumerate() {
        line(w, &mut row.iter().map(String::as_str))?;
        if let Some(notes) = notes {
            writeln!(w, "    why: {}", crate::text::escape(notes[i]))?;
        }
    }
    Ok(())
}

/// Makes the binary's error (with its chain) into the message users see.
pub fn describe(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(&format!(": {c}"));
        }
    }
    text
}
