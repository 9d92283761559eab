//! `dunwell sync`, `dunwell plugin check` and `dunwell plugin run`: the command-line edge of the
//! connector plugins (the host is `plugin`, the storing is `sync`).

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
}

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// Load a connector component and print its description.
    Check {
        /// The component (`.wasm`, built for wasm32-wasip2).
        file: PathBuf,
    },
    /// Run a connector and print what it returns (JSON), storing nothing. Uses the settings of
    /// the matching `[plugins.<name>]` section when there is one, plus the options below.
    Run(RunArgs),
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
    let mut failed = Vec::new();
    let mut summaries = Vec::new();
    for settings in plugins {
        let status = store.sync_status(&settings.name)?;
        if args.if_due && !crate::sync::due(status.as_ref(), chrono::Utc::now()) {
            let next = status.as_ref().and_then(|s| s.next_attempt.as_deref()).unwrap_or("-");
            writeln!(out, "{}: skipped, backing off after a failure until {next}", settings.name)?;
            continue;
        }
        let started = Instant::now();
        let result = host
            .load(settings.clone())
            .map_err(crate::sync::SyncError::from)
            .and_then(|plugin| crate::sync::sync(&mut store, &plugin, chrono::Utc::now()));
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
                if matches!(
                    e,
                    crate::sync::SyncError::Plugin(
                        crate::plugin::PluginError::Read { .. }
                            | crate::plugin::PluginError::NotAComponent { .. }
                            | crate::plugin::PluginError::WrongVersion { .. }
                            | crate::plugin::PluginError::Load { .. }
                    )
                ) {
                    // Failed before a run started: record it too, so the back-off applies.
                    let _ = store.record_sync_failure(
                        &settings.name,
                        chrono::Utc::now(),
                        crate::sync::backoff,
                        &e.to_string(),
                    );
                }
                failed.push(format!("{e}"));
            }
        }
    }
    if args.format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, &summaries)?;
        writeln!(out)?;
    }
    if !failed.is_empty() {
        bail!("{}\nthe store keeps what it had before for the failed plugin(s)", failed.join("\n"));
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
        PluginCommand::Check { file } => check(file, out),
        PluginCommand::Run(args) => run(config, args, out),
    }
}

fn check(file: &std::path::Path, out: &mut dyn Write) -> Result<()> {
    let host = Host::new()?;
    let started = Instant::now();
    let plugin = host.load(PluginSettings::for_file(file.to_path_buf()))?;
    let compiled = started.elapsed();
    let info = plugin.start()?.describe()?;
    print_info(&info, out)?;
    writeln!(out, "component: {} (compiled in {:.2}s)", file.display(), compiled.as_secs_f64())?;
    Ok(())
}

fn print_info(info: &Info, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "{} {} — {}", info.name, info.version, info.description)?;
    writeln!(
        out,
        "sdk: {}, contract: {}@{}",
        info.sdk_version,
        crate::plugin::WIT_PACKAGE,
        crate::plugin::WIT_VERSION
    )?;
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
    let by_name = args.plugin.as_ref().map(|n| {
        config
            .plugins
            .get(n)
            .cloned()
            .with_context(|| format!("no [plugins.{n}] in the configuration{}", known(config)))
    });
    let mut settings = match by_name {
        Some(s) => s?,
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
    settings.allowed_hosts.extend(args.allow_hosts.iter().cloned());
    if let Some(dir) = &args.dir {
        settings.directory = Some(dir.clone());
    }
    let host = Host::new()?;
    let plugin = host.load(settings)?;
    let mut run = plugin.start()?;
    let info = run.describe()?;
    let mut result = serde_json::Map::new();
    result.insert("describe".into(), serde_json::to_value(&info)?);
    let want = |w: What| args.what == What::All || args.what == w;
    macro_rules! pull {
        ($what:expr, $key:literal, $method:ident, $provides:expr) => {
            if want($what) && ($provides || args.what != What::All) {
                let mut pages = Vec::new();
                let mut cursor = args.cursor.clone();
                loop {
                    let page = run.$method(&PageRequest { cursor: cursor.clone(), limit: args.limit })?;
                    let more = page.more && args.all_pages && pages.len() < 10_000;
                    cursor = page.next_cursor.clone();
                    pages.push(serde_json::to_value(&page)?);
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
    serde_json::to_writer_pretty(&mut *out, &result)?;
    writeln!(out)?;
    Ok(())
}
