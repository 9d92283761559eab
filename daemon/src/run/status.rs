//! `dunwell status` and the admin API's `/status`: how the daemon is, read from the store (so
//! it answers whether the daemon runs or not), and the figures behind the metrics' gauges.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use super::metrics::{ageing_bucket, Snapshot};
use super::schedule::JobKind;
use super::Loaded;
use crate::config::Config;
use crate::send::gate::{Freshness, SourceAge};
use crate::store::{Store, StoreError};

/// One job as status shows it.
#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub job: &'static str,
    pub schedule: String,
    pub last_started: Option<String>,
    pub last_finished: Option<String>,
    /// `ok`, `failed`, `running` (or interrupted: the daemon died during it), `never`.
    pub result: &'static str,
    pub error: Option<String>,
    pub next_run: Option<String>,
    pub summary: Option<serde_json::Value>,
}

/// Everything `dunwell status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub at: String,
    /// Whether a daemon wrote its heartbeat within the last two minutes.
    pub daemon_running: bool,
    /// What the daemon recorded of itself: pid, start, heartbeat, the configuration in force,
    /// the last refused reload.
    pub daemon: Option<serde_json::Value>,
    pub jobs: Vec<JobStatus>,
    pub max_source_age: String,
    pub sources: Vec<SourceAge>,
    pub outbox: BTreeMap<String, u64>,
    pub dead_letters: u64,
    pub tasks_waiting: u64,
    /// Reminders the last send run held back, and why.
    pub held: Vec<serde_json::Value>,
    /// Messages the last delivery left in the outbox (stale source, outside a send window).
    pub held_in_outbox: u64,
    /// The configuration this status was read with (the file, the playbooks' commit).
    pub config_file: Option<String>,
    pub playbooks_commit: Option<String>,
}

/// `playbooks_commit`: the caller's (the daemon has it from its load; `dunwell status` asks
/// git once; the metrics do without).
pub fn status(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
    playbooks_commit: Option<String>,
) -> Result<Status, StoreError> {
    let runs = store.job_runs()?;
    let jobs = JobKind::ALL
        .into_iter()
        .map(|job| {
            let run = runs.iter().find(|r| r.job == job.as_str());
            JobStatus {
                job: job.as_str(),
                schedule: config.schedule.expression(job).to_string(),
                last_started: run.map(|r| r.started.clone()),
                last_finished: run.and_then(|r| r.finished.clone()),
                result: match run {
                    None => "never",
                    Some(r) if r.finished.is_none() => "running",
                    Some(r) if r.ok == Some(true) => "ok",
                    Some(_) => "failed",
                },
                error: run.and_then(|r| r.error.clone()),
                next_run: config.schedule.next_after(job, now).map(|t| t.to_rfc3339()),
                summary: run.and_then(|r| r.summary.clone()),
            }
        })
        .collect::<Vec<_>>();
    let held = jobs
        .iter()
        .find(|j| j.job == "send")
        .and_then(|j| j.summary.as_ref())
        .and_then(|s| s.get("held"))
        .and_then(|h| h.as_array().cloned())
        .unwrap_or_default();
    let held_in_outbox = jobs
        .iter()
        .find(|j| j.job == "deliver")
        .and_then(|j| j.summary.as_ref())
        .and_then(|s| s.get("held"))
        .and_then(|h| h.as_u64())
        .unwrap_or(0);
    let daemon = store.daemon_state("daemon")?;
    let stopped = store.daemon_state("stopped")?;
    let time = |v: Option<&serde_json::Value>, key: &str| {
        v.and_then(|v| v.get(key)).and_then(|t| t.as_str()).and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    };
    let heartbeat = time(daemon.as_ref(), "heartbeat");
    let stopped_at = time(stopped.as_ref(), "at");
    let real_now = Utc::now();
    let daemon_running = heartbeat.is_some_and(|h| {
        (real_now - h.with_timezone(&Utc)) < chrono::Duration::minutes(2) && stopped_at.is_none_or(|s| s < h)
    });
    let outbox: BTreeMap<String, u64> = store.outbox_counts()?.into_iter().collect();
    Ok(Status {
        at: now.to_rfc3339(),
        daemon_running,
        daemon,
        jobs,
        max_source_age: crate::send::gate::describe(config.schedule.max_source_age),
        sources: Freshness::load(store, config.schedule.max_source_age, now)?.sources(),
        dead_letters: outbox.get("dead").copied().unwrap_or(0),
        outbox,
        tasks_waiting: store.open_tasks()?,
        held,
        held_in_outbox,
        config_file: config.source.as_ref().map(|p| p.display().to_string()),
        playbooks_commit,
    })
}

/// The figures behind the gauges: sources, outbox, held reminders, open amounts by segment and
/// ageing bucket (euro invoices; the metric is in euro).
pub fn snapshot(loaded: &Loaded, now: DateTime<Utc>) -> Result<Snapshot, String> {
    let config = &loaded.config;
    let store = Store::open(&config.database_path()).map_err(|e| e.to_string())?;
    let status = status(config, &store, now, None).map_err(|e| e.to_string())?;
    let today = now.with_timezone(&config.time_zone).date_naive();
    let customers = store.load_customers().map_err(|e| e.to_string())?;
    let invoices = store.load_invoices().map_err(|e| e.to_string())?;
    let broken = store.broken_promises().map_err(|e| e.to_string())?;
    let segmentations =
        crate::segment::segment_all(today, &loaded.playbooks.rules, &customers, &invoices, &broken);
    let segment_of: std::collections::HashMap<&str, &str> =
        segmentations.iter().map(|s| (s.customer_id.as_str(), s.segment.as_str())).collect();
    let mut amounts: BTreeMap<(String, &'static str), (Decimal, u64)> = BTreeMap::new();
    for inv in invoices.iter().filter(|i| i.is_open() && i.currency == "EUR") {
        let segment = segment_of.get(inv.customer_id.as_str()).copied().unwrap_or("-");
        let bucket = ageing_bucket((today - inv.due_date).num_days());
        let e = amounts.entry((segment.to_string(), bucket)).or_default();
        e.0 += inv.open_amount;
        e.1 += 1;
    }
    let mut held: BTreeMap<String, u64> = BTreeMap::new();
    for h in &status.held {
        let kind = h.get("kind").and_then(|k| k.as_str()).unwrap_or("other").to_string();
        *held.entry(kind).or_default() += 1;
    }
    if status.held_in_outbox > 0 {
        *held.entry("outbox".into()).or_default() += status.held_in_outbox;
    }
    Ok(Snapshot {
        source_age_seconds: status
            .sources
            .iter()
            .map(|s| (s.source.clone(), s.age_seconds.map(|a| a as f64)))
            .collect(),
        source_fresh: status.sources.iter().map(|s| (s.source.clone(), s.fresh)).collect(),
        outbox: status.outbox.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        dead_letters: status.dead_letters,
        held_reminders: held.into_iter().collect(),
        tasks_open: status.tasks_waiting,
        open_amount: amounts.iter().map(|((s, b), (a, _))| (s.clone(), b.to_string(), *a)).collect(),
        invoices_open: amounts.iter().map(|((s, b), (_, n))| (s.clone(), b.to_string(), *n)).collect(),
    })
}
