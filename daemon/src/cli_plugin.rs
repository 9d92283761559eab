//! `dunwell sync`, `dunwell plugin check`, `dunwell plugin run` and `dunwell payments
//! unmatched`: the command-line edge of the connector plugins (the host is `plugin`, the
//! storing is `sync`).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};

use crate::cli::Format;
use crate::config::Config;
use crate::plugin::bindings::dunwell::connector::types::PageRequest;
use crate::plugin::bindings::exports::dunwell::connector::source::Info;
use crate::plugin::{Host, PluginSettings};
use crate::store::Store;

#[derive(Args, Debug)]
pub struct SyncArgs {
    /// The plugin to sync (a `[plugins.<name>]` of the configuration); default all of them.
    pub plugin: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Skip plugins still in their back-off after a failure (for timers and cron).
    #[arg(long)]
    pub if_due: bool,
    /// Pull everything, not only what changed, and remove what the source no longer has (a
    /// deleted file, an invoice deleted in the package). Happens by itself every
    /// `full_sync_hours` (default 24).
    #[arg(long)]
    pub full: bool,
    /// With --full: let an empty answer remove everything of the plugin. Without it, a complete
    /// list that comes back empty (an unmounted folder, a wrong account) removes nothing.
    #[arg(long, requires = "full")]
    pub allow_empty: bool,
}

#[derive(Subcommand, Debug)]
pub enum PaymentsCommand {
    /// List the bank payments that matched no invoice yet (each sync tries them again).
    Unmatched {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Args, Debug)]
pub struct QuarantineArgs {
    /// Only this plugin's records.
    #[arg(long, value_name = "NAME")]
    pub plugin: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// Write a new connector crate to start from: it builds, passes its own test against a
    /// canned API, and passes `plugin check`; then make it speak your package's API.
    New(crate::cli_plugin_new::NewArgs),
    /// Load a connector component and print its description and the contract it speaks.
    Check {
        /// The component (`.wasm`, built for wasm32-wasip2).
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run a connector and print what it returns (JSON), storing nothing. Uses the settings of
    /// the matching `[plugins.<name>]` section when there is one, plus the options below.
    Run(RunArgs),
    /// Compile the configured connectors ahead of time into the cache directory
    /// ($CACHE_DIRECTORY under systemd, else `cache/` in the data directory), so the daemon
    /// starts and reloads without compiling them. Run it again after upgrading dunwell or a
    /// connector; a stale artefact is never used (the daemon compiles as before).
    Compile {
        /// Only this plugin (default: every `[plugins.<name>]`).
        name: Option<String>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    All,
    Customers,
    Invoices,
    Payments,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The component (`.wasm`).
    pub file: PathBuf,
    /// Take directory, hosts, limits, config values and secrets from `[plugins.NAME]`.
    #[arg(long, value_name = "NAME")]
    pub plugin: Option<String>,
    /// A config value for the plugin (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = key_value)]
    pub set: Vec<(String, String)>,
    /// A secret for the plugin (repeatable).
    #[arg(long = "secret", value_name = "KEY=VALUE", value_parser = key_value)]
    pub secrets: Vec<(String, String)>,
    /// The read-only folder of a file connector (mounted at /input).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// A host the plugin may reach (repeatable): `host`, `host:port`, `*.domain`.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// What to pull.
    #[arg(long, value_enum, default_value_t = What::All)]
    pub what: What,
    /// Start after this cursor.
    #[arg(long)]
    pub cursor: Option<String>,
    /// Records per page.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Follow `more` and print every page (default: the first page only).
    #[arg(long)]
    pub all_pages: bool,
    /// Save every HTTP exchange of the run in DIR (one JSON file each, every secret masked),
    /// to answer later runs with --replay DIR: a connector's tests without the real API.
    #[arg(long, value_name = "DIR", conflicts_with = "replay")]
    pub record: Option<PathBuf>,
    /// Answer the connector's HTTP requests from a recording made with --record DIR, in
    /// order; nothing goes out (the allowed hosts and limits still apply).
    #[arg(long, value_name = "DIR")]
    pub replay: Option<PathBuf>,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

pub fn run_sync(config: &Config, args: &SyncArgs, out: &mut dyn Write) -> Result<()> {
    let plugins: Vec<&PluginSettings> = match &args.plugin {
        Some(name) => match config.plugins.get(name) {
            Some(p) => vec![p],
            None => bail!(
                "no plugin `{name}` in the configuration; add a [plugins.{name}] section with `path = \"....wasm\"`{}",
                known(config)
            ),
        },
        None => config.plugins.values().collect(),
    };
    if plugins.is_empty() {
        bail!("no plugins configured; add a [plugins.<name>] section to dunwell.toml (see plugins-sdk/README.md)");
    }
    let host = Host::new()?;
    let mut store = Store::open(&config.database_path())?;
    let mode = match (args.full, args.allow_empty) {
        (true, true) => crate::sync::Mode::FullAllowEmpty,
        (true, false) => crate::sync::Mode::Full,
        (false, _) => crate::sync::Mode::Auto,
    };
    let mut failed = Vec::new();
    // A failed full sync that kept the pages it got.
    let mut partly = false;
    let mut summaries = Vec::new();
    for settings in plugins {
        let status = store.sync_status(&settings.name)?;
        if args.if_due && !crate::sync::due(status.as_ref(), chrono::Utc::now()) {
            let next = status.as_ref().and_then(|s| s.next_attempt.as_deref()).unwrap_or("-");
            writeln!(out, "{}: skipped, backing off after a failure until {next}", settings.name)?;
            continue;
        }
        let started = Instant::now();
        let result = match host.load(settings.clone()) {
            Ok(plugin) => crate::sync::sync_with(&mut store, &plugin, chrono::Utc::now(), mode),
            Err(e) => {
                // Failed before a run started: record it too, so the back-off applies.
                let _ = store.record_sync_failure(
                    &settings.name,
                    chrono::Utc::now(),
                    crate::sync::backoff,
                    &e.to_string(),
                );
                Err(e.into())
            }
        };
        match result {
            Ok(summary) => {
                for w in summary.warnings.iter().take(20) {
                    tracing::warn!(plugin = settings.name.as_str(), "{w}");
                }
                if args.format == Format::Table {
                    writeln!(out, "{summary}")?;
                    writeln!(out, "synced {} in {:.1}s", settings.name, started.elapsed().as_secs_f64())?;
                }
                summaries.push(summary);
            }
            Err(e) => {
                partly |= matches!(e, crate::sync::SyncError::Stopped { .. });
                failed.push(e.to_string())
            }
        }
    }
    if args.format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, &summaries)?;
        writeln!(out)?;
    }
    if !failed.is_empty() {
        let kept = if partly {
            "a full sync keeps the pages it got before the failure; otherwise the store keeps what it had before for the failed plugin(s)"
        } else {
            "the store keeps what it had before for the failed plugin(s)"
        };
        bail!("{}\n{kept}", failed.join("\n"));
    }
    Ok(())
}

fn known(config: &Config) -> String {
    if config.plugins.is_empty() {
        String::new()
    } else {
        format!(" (configured: {})", config.plugins.keys().cloned().collect::<Vec<_>>().join(", "))
    }
}

pub fn run_plugin(config: &Config, command: &PluginCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        PluginCommand::New(args) => crate::cli_plugin_new::run_new(args, out),
        PluginCommand::Check { file, format } => check(file, *format, out),
        PluginCommand::Run(args) => run(config, args, out),
        PluginCommand::Compile { name } => compile(config, name.as_deref(), out),
    }
}

fn compile(config: &Config, name: Option<&str>, out: &mut dyn Write) -> Result<()> {
    let plugins: Vec<&PluginSettings> = match name {
        Some(n) => vec![config
            .plugins
            .get(n)
            .with_context(|| format!("no plugin `{n}` in the configuration{}", known(config)))?],
        None => config.plugins.values().collect(),
    };
    if plugins.is_empty() {
        bail!("no plugins configured; add a [plugins.<name>] section to dunwell.toml (see plugins-sdk/README.md)");
    }
    let host = Host::new()?;
    let mut store = Store::open(&config.database_path())?;
    let dir = config.plugin_cache_dir();
    for settings in plugins {
        let started = Instant::now();
        // Loaded first: only a component the host accepts (the contract's version, its
        // folder) is worth compiling.
        host.load(settings.clone())?;
        let bytes = std::fs::read(&settings.path)
            .with_context(|| format!("cannot read {}", settings.path.display()))?;
        let file = crate::plugin::aot::compile(&mut store, host.engine(), &dir, &settings.name, &bytes)
            .map_err(anyhow::Error::msg)?;
        writeln!(
            out,
            "{}: compiled into {} in {:.2}s",
            settings.name,
            file.display(),
            started.elapsed().as_secs_f64()
        )?;
    }
    Ok(())
}

fn check(file: &std::path::Path, format: Format, out: &mut dyn Write) -> Result<()> {
    let host = Host::new()?;
    let started = Instant::now();
    let plugin = host.load(PluginSettings::for_file(file.to_path_buf()))?;
    let compiled = started.elapsed();
    let info = plugin.start()?.describe()?;
    if format == Format::Json {
        // The description as `plugin run` prints it, and the contract the component speaks.
        let mut value = serde_json::to_value(&info)?;
        if let Some(fields) = value.as_object_mut() {
            fields.insert("contract".into(), plugin.contract().into());
        }
        return crate::cli::write_json(out, &value);
    }
    print_info(&info, plugin.contract(), out)?;
    writeln!(out, "component: {} (compiled in {:.2}s)", file.display(), compiled.as_secs_f64())?;
    Ok(())
}

/// `describe()` is checked by the host (no control or invisible characters); it is escaped
/// here all the same, as everything from a plugin is before it reaches a terminal.
fn print_info(info: &Info, contract: &str, out: &mut dyn Write) -> Result<()> {
    let e = |s: &str| crate::text::escape(s).into_owned();
    let mut info = info.clone();
    info.name = e(&info.name);
    info.version = e(&info.version);
    info.sdk_version = e(&info.sdk_version);
    info.description = e(&info.description);
    info.http_hosts = info.http_hosts.iter().map(|h| e(h)).collect();
    for k in &mut info.config_keys {
        k.name = e(&k.name);
        k.description = e(&k.description);
    }
    let info = &info;
    writeln!(out, "{} {} — {}", info.name, info.version, info.description)?;
    writeln!(out, "sdk: {}, contract: {}", info.sdk_version, e(contract))?;
    let provides: Vec<&str> = [
        (info.provides_customers, "customers"),
        (info.provides_invoices, "invoices"),
        (info.provides_payments, "payments"),
    ]
    .iter()
    .filter(|(b, _)| *b)
    .map(|(_, s)| *s)
    .collect();
    writeln!(out, "provides: {}", if provides.is_empty() { "nothing".into() } else { provides.join(", ") })?;
    if !info.http_hosts.is_empty() {
        writeln!(out, "needs hosts: {} (grant with allowed_hosts = [...])", info.http_hosts.join(", "))?;
    }
    if info.reads_directory {
        writeln!(out, "reads a directory (set `directory = \"...\"`; mounted read-only at /input)")?;
    }
    if info.snapshot {
        writeln!(out, "every pull is a complete snapshot: each sync pulls everything and removes what the source no longer has")?;
    }
    for k in &info.config_keys {
        writeln!(
            out,
            "{} {}{}: {}",
            if k.secret { "secret" } else { "config" },
            k.name,
            if k.required { " (required)" } else { "" },
            k.description
        )?;
    }
    Ok(())
}

/// Whether two paths name the same file, however each was written (so
/// `dunwell --config dunwell.toml plugin run ./x.wasm` finds the `[plugins]` section naming x.wasm).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    a == b || matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

fn run(config: &Config, args: &RunArgs, out: &mut dyn Write) -> Result<()> {
    let mut settings = match &args.plugin {
        Some(n) => config
            .plugins
            .get(n)
            .cloned()
            .with_context(|| format!("no [plugins.{n}] in the configuration{}", known(config)))?,
        None => config
            .plugins
            .values()
            .find(|p| same_file(&p.path, &args.file))
            .cloned()
            .unwrap_or_else(|| PluginSettings::for_file(args.file.clone())),
    };
    settings.path = args.file.clone();
    settings.config.extend(args.set.iter().cloned());
    settings.secrets.extend(args.secrets.iter().cloned());
    if let Some(key) = crate::plugin::redact::short_secret(&settings.secrets) {
        bail!(
            "the secret `{key}` is shorter than {} characters: too short to keep out of logs and too short for a real token; give the whole token",
            crate::plugin::redact::MIN_SECRET_LEN
        );
    }
    let budget = settings.limits.max_pull_bytes;
    settings.allowed_hosts.extend(args.allow_hosts.iter().cloned());
    if let Some(dir) = &args.dir {
        settings.directory = Some(dir.clone());
    }
    let host = Host::new()?;
    let mut plugin = host.load(settings)?;
    let tape = match (&args.record, &args.replay) {
        (Some(dir), _) => Some(crate::plugin::tape::Tape::record(dir)?),
        (None, Some(dir)) => Some(crate::plugin::tape::Tape::replay(dir)?),
        _ => None,
    };
    plugin.set_tape(tape.map(std::sync::Arc::new));
    let mut run = plugin.start()?;
    let info = run.describe()?;
    let set_in = crate::plugin::settings::SetIn::CommandLine;
    crate::plugin::settings::check_required(plugin.settings(), &info.config_keys, set_in)?;
    let mut result = serde_json::Map::new();
    result.insert("describe".into(), serde_json::to_value(&info)?);
    let want = |w: What| args.what == What::All || args.what == w;
    // Pages wait in memory until printed: the same budget as a sync's.
    let mut used = 0u64;
    macro_rules! pull {
        ($what:expr, $key:literal, $method:ident, $provides:expr) => {
            if want($what) && ($provides || args.what != What::All) {
                let mut pages = Vec::new();
                let mut cursor = args.cursor.clone();
                loop {
                    let page = run.$method(&PageRequest { cursor: cursor.clone(), limit: args.limit })?;
                    let more = page.more && args.all_pages && pages.len() < 10_000;
                    cursor = page.next_cursor.clone();
                    let value = serde_json::to_value(&page)?;
                    used += value.to_string().len() as u64;
                    if used > budget {
                        bail!(
                            "the pages pulled so far exceed max_pull_mb ({} MiB); pull fewer (without --all-pages, or with --what) or raise max_pull_mb in the plugin's section",
                            budget >> 20
                        );
                    }
                    pages.push(value);
                    if !more {
                        break;
                    }
                }
                result.insert($key.into(), serde_json::Value::Array(pages));
            }
        };
    }
    pull!(What::Customers, "customers", pull_customers, info.provides_customers);
    pull!(What::Invoices, "invoices", pull_invoices, info.provides_invoices);
    pull!(What::Payments, "payments", pull_payments, info.provides_payments);
    result.insert("requests".into(), run.requests().into());
    // What the plugin returned is printed with its secrets masked, like everything else.
    let text = serde_json::to_string_pretty(&result)?;
    writeln!(out, "{}", plugin.redactor().apply(&text))?;
    Ok(())
}

pub fn run_payments(config: &Config, command: &PaymentsCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        PaymentsCommand::Unmatched { format } => unmatched(config, *format, out),
    }
}

fn unmatched(config: &Config, format: Format, out: &mut dyn Write) -> Result<()> {
    let store = Store::open(&config.database_path())?;
    let payments = store.unmatched_payments()?;
    match format {
        // Dates as YYYY-MM-DD and amounts as exact decimal text (serde-str).
        Format::Json => crate::cli::write_json(out, &payments)?,
        Format::Table => write_unmatched_table(out, &payments)?,
    }
    Ok(())
}

pub fn run_quarantine(config: &Config, args: &QuarantineArgs, out: &mut dyn Write) -> Result<()> {
    let store = Store::open(&config.database_path())?;
    let rows = store.quarantine(args.plugin.as_deref())?;
    match args.format {
        Format::Json => crate::cli::write_json(out, &rows)?,
        Format::Table => write_quarantine_table(out, &rows)?,
    }
    Ok(())
}

fn write_quarantine_table(out: &mut dyn Write, rows: &[crate::store::Quarantined]) -> Result<()> {
    if rows.is_empty() {
        writeln!(out, "nothing is quarantined")?;
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|q| {
            vec![
                q.plugin.clone(),
                q.entity.trim_end_matches('s').to_string(),
                cell(Some(&q.id), 40),
                cell(q.record.as_deref(), 24),
                q.field.clone(),
                cell(Some(&q.reason), 160),
                q.first_seen.chars().take(10).collect(),
                q.attempts.to_string(),
            ]
        })
        .collect();
    crate::cli::write_table(
        out,
        &["PLUGIN", "KIND", "ID", "RECORD", "FIELD", "REASON", "SINCE", "SYNCS"],
        &table,
        None,
    )?;
    writeln!(
        out,
        "\n{} quarantined record{}; each sync tries them again: correct them at the source (the plugin's id names the record there)",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    )?;
    Ok(())
}

/// A table cell of free text: one line, at most `max` characters.
fn cell(s: Option<&str>, max: usize) -> String {
    let one_line: String = s.unwrap_or("-").split_whitespace().collect::<Vec<_>>().join(" ");
    crate::cli::truncate(&one_line, max)
}

fn write_unmatched_table(out: &mut dyn Write, rows: &[crate::store::UnmatchedPayment]) -> Result<()> {
    if rows.is_empty() {
        writeln!(out, "no unmatched bank payments")?;
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.date.to_string(),
                format!("{} {}", r.amount, r.currency),
                cell(r.reference.as_deref(), 30),
                cell(r.free_text.as_deref(), 40),
                cell(r.payer_name.as_deref(), 28),
                cell(r.payer_iban.as_deref(), 34),
                r.source.clone(),
            ]
        })
        .collect();
    crate::cli::write_table(
        out,
        &["DATE", "AMOUNT", "REFERENCE", "FREE TEXT", "PAYER", "IBAN", "SOURCE"],
        &table,
        None,
    )?;
    let mut totals: std::collections::BTreeMap<&str, rust_decimal::Decimal> = Default::default();
    for r in rows {
        *totals.entry(r.currency.as_str()).or_default() += r.amount;
    }
    let totals: Vec<String> = totals.iter().map(|(c, a)| format!("{a} {c}")).collect();
    writeln!(
        out,
        "\n{} unmatched bank payment{} ({}); each sync tries them again: bring in the invoices they pay (sync or import), or book them in your bookkeeping package",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        totals.join(", ")
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(free_text: Option<&str>) -> crate::store::UnmatchedPayment {
        crate::store::UnmatchedPayment {
            date: "2014-12-31".parse().unwrap(),
            amount: "8.85".parse().unwrap(),
            currency: "EUR".into(),
            reference: Some("4654654654654654".into()),
            free_text: free_text.map(Into::into),
            payer_name: Some("NAME NAME".into()),
            payer_iban: None,
            source: "plugin:bank".into(),
            source_id: "253/0/0".into(),
        }
    }

    #[test]
    fn unmatched_table_keeps_each_payment_on_one_line() {
        let mut out = Vec::new();
        let rows = [row(Some("factuur\n2024-17\tdank")), row(None)];
        write_unmatched_table(&mut out, &rows).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("DATE        AMOUNT    REFERENCE"), "{text}");
        assert!(lines[1].contains("factuur 2024-17 dank"), "{text}");
        assert!(lines[1].ends_with("plugin:bank"), "{text}");
        assert!(lines[2].contains("  -  "), "missing values show as -: {text}");
        assert!(text.contains("2 unmatched bank payments (17.70 EUR)"), "{text}");
        let mut out = Vec::new();
        write_unmatched_table(&mut out, &[]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "no unmatched bank payments\n");
    }
}
