//! `dunwell run`, `dunwell reload` and `dunwell status`: the daemon from the command line. The
//! daemon itself is [`crate::run`].

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;

use crate::cli::{write_json, write_table, Format};
use crate::config::Config;
use crate::run::{Clock, RunOptions};
use crate::store::Store;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Start the clock at this instant and run it fast (tests and rehearsals: a day of work in
    /// minutes). RFC 3339, e.g. 2026-12-01T06:00:00Z.
    #[arg(long, hide = true, requires = "clock_speed")]
    pub clock_start: Option<DateTime<Utc>>,
    /// How many seconds of the fast clock pass per real second.
    #[arg(long, hide = true)]
    pub clock_speed: Option<u32>,
    /// Stop by itself after this many real seconds, as on SIGTERM.
    #[arg(long = "for", value_name = "SECONDS", hide = true)]
    pub run_for: Option<u64>,
}

#[derive(Args, Debug)]
pub struct ReloadArgs {
    /// Wait until the daemon has the new configuration in force or refused it; exit non-zero
    /// when it was refused (systemd's ExecReload= uses this). The reload is always
    /// synchronous; the flag says so in the unit file.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run_daemon(config_path: Option<PathBuf>, args: &RunArgs) -> Result<()> {
    let clock = match (args.clock_start, args.clock_speed) {
        (Some(start), Some(speed)) => Clock::fast(start, speed),
        _ => Clock::System,
    };
    crate::run::run(RunOptions {
        config_path,
        clock,
        run_for: args.run_for.map(std::time::Duration::from_secs),
    })?;
    Ok(())
}

pub fn run_reload(config: &Config, _args: &ReloadArgs, out: &mut dyn Write) -> Result<()> {
    let token = crate::run::admin_token(config, false)?;
    // The address the running daemon recorded (it may have asked for any free port).
    let recorded = Store::open(&config.database_path())
        .ok()
        .and_then(|s| s.daemon_state("daemon").ok().flatten())
        .and_then(|d| d.get("listen").and_then(|l| l.as_str()).and_then(|l| l.parse().ok()));
    let listen: std::net::SocketAddr = recorded.unwrap_or(config.admin.listen);
    let url = format!("http://{listen}/reload");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let response = runtime.block_on(async {
        let client = crate::http::client_builder(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(600))
            .build()
            .context("cannot set up the HTTP client")?;
        let response = client.post(&url).bearer_auth(&token).send().await.with_context(|| {
            format!("cannot reach the daemon's admin API at {url}; is `dunwell run` running with this configuration?")
        })?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        anyhow::Ok((status, body))
    })?;
    let (status, body) = response;
    match status.as_u16() {
        200 => {
            writeln!(out, "reloaded: the new configuration is in force")?;
            Ok(())
        }
        409 => bail!(
            "the daemon refused the new configuration and keeps running the previous one:\n{}",
            body.get("error").and_then(|e| e.as_str()).unwrap_or("(no reason given)")
        ),
        401 => bail!("the daemon refused the admin token; `dunwell reload` must read the same admin-token as the daemon"),
        other => bail!("the admin API answered {other}: {body}"),
    }
}

pub fn run_status(config: &Config, args: &StatusArgs, out: &mut dyn Write) -> Result<()> {
    let store = Store::open(&config.database_path())?;
    let commit = config.playbooks_dir.as_deref().and_then(crate::run::git_commit);
    let s = crate::run::status::status(config, &store, Utc::now(), commit)?;
    if args.format == Format::Json {
        return write_json(out, &s);
    }
    match (&s.daemon, s.daemon_running) {
        (Some(d), true) => writeln!(
            out,
            "daemon: running (pid {}, since {}, admin API on {})",
            d.get("pid").and_then(|p| p.as_u64()).unwrap_or_default(),
            d.get("started").and_then(|p| p.as_str()).unwrap_or("-"),
            d.get("listen").and_then(|p| p.as_str()).unwrap_or("-"),
        )?,
        _ => writeln!(out, "daemon: not running")?,
    }
    if let Some(err) = s.daemon.as_ref().and_then(|d| d.get("reload_error")).and_then(|e| e.as_str()) {
        writeln!(out, "last reload REFUSED (the previous configuration keeps running): {err}")?;
    }
    if let Some(cfg) = s.daemon.as_ref().and_then(|d| d.get("config")) {
        writeln!(
            out,
            "configuration in force: {} (playbooks {}{}), loaded {}",
            cfg.get("config_file").and_then(|v| v.as_str()).unwrap_or("built-in defaults"),
            cfg.get("playbooks_dir").and_then(|v| v.as_str()).unwrap_or("built in"),
            cfg.get("playbooks_commit")
                .and_then(|v| v.as_str())
                .map(|c| format!(" at commit {c}"))
                .unwrap_or_default(),
            cfg.get("loaded_at").and_then(|v| v.as_str()).unwrap_or("-"),
        )?;
    }
    writeln!(out)?;
    let rows: Vec<Vec<String>> = s
        .jobs
        .iter()
        .map(|j| {
            vec![
                j.job.to_string(),
                j.schedule.clone(),
                j.last_started.clone().unwrap_or_else(|| "-".into()),
                j.result.to_string(),
                j.next_run.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    write_table(out, &["JOB", "SCHEDULE", "LAST RUN", "RESULT", "NEXT RUN"], &rows, None)?;
    for j in s.jobs.iter().filter(|j| j.error.is_some()) {
        writeln!(
            out,
            "{} failed: {}",
            j.job,
            crate::text::escape_keep_lines(j.error.as_deref().unwrap_or_default())
        )?;
    }
    writeln!(out)?;
    let rows: Vec<Vec<String>> = s
        .sources
        .iter()
        .map(|src| {
            vec![
                src.source.clone(),
                src.last_success.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into()),
                src.age_seconds
                    .map(|a| crate::send::gate::describe(chrono::Duration::seconds(a)))
                    .unwrap_or_else(|| "-".into()),
                if src.fresh {
                    "fresh".into()
                } else {
                    format!("STALE (max_source_age {})", s.max_source_age)
                },
            ]
        })
        .collect();
    if rows.is_empty() {
        writeln!(out, "sources: none yet (import a CSV export or configure a connector)")?;
    } else {
        write_table(out, &["SOURCE", "LAST GOOD SYNC", "AGE", "FRESHNESS"], &rows, None)?;
    }
    writeln!(out)?;
    let counts: Vec<String> = s.outbox.iter().map(|(k, v)| format!("{k} {v}")).collect();
    writeln!(out, "outbox: {}", if counts.is_empty() { "empty".into() } else { counts.join(", ") })?;
    writeln!(out, "dead letters: {} (`dunwell outbox --status dead`)", s.dead_letters)?;
    writeln!(out, "call tasks waiting for a person: {} (`dunwell tasks`)", s.tasks_waiting)?;
    if s.held.is_empty() && s.held_in_outbox == 0 {
        writeln!(out, "held reminders: none")?;
    } else {
        writeln!(
            out,
            "held reminders: {} at the last send, {} in the outbox at the last delivery",
            s.held.len(),
            s.held_in_outbox
        )?;
        for h in s.held.iter().take(20) {
            writeln!(
                out,
                "  {} {}: {}",
                h.get("customer_id").and_then(|v| v.as_str()).unwrap_or("-"),
                h.get("invoices").map(|v| v.to_string()).unwrap_or_default(),
                h.get("reason").and_then(|v| v.as_str()).unwrap_or("-"),
            )?;
        }
    }
    Ok(())
}
