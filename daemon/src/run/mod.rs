//! `dunwell run`: the daemon. Three jobs on cron schedules (sync, send, deliver) that call the
//! same library code as `dunwell sync` and `dunwell send`, the admin API and metrics, systemd's
//! notify protocol, reload on SIGHUP and a clean stop on SIGTERM.
//!
//! Threads: a small tokio runtime carries the schedule, the signals and the admin API; each job
//! run goes to a blocking thread (SQLite, wasmtime and the channels are synchronous). One job
//! runs at a time (`work`): a sync, a send and a delivery never interleave their writes, and a
//! slow run delays the next one instead of doubling it.

pub mod admin;
mod admin_care;
pub mod clock;
pub mod metrics;
pub mod notify;
pub mod schedule;
pub mod status;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::calendar::Calendar;
use crate::config::Config;
use crate::playbook::PlaybookSet;
use crate::plugin::{Host, Plugin};
use crate::store::Store;
pub use clock::Clock;
use metrics::Metrics;
use notify::Notifier;
use schedule::JobKind;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Io(String),
}

/// Everything a reload replaces: the configuration, the playbooks with their templates and the
/// rate tables, the compiled plugins. Built and checked whole before it goes into service.
pub struct Loaded {
    pub config: Config,
    pub playbooks: PlaybookSet,
    pub plugins: Vec<Plugin>,
    pub calendar: Calendar,
    pub loaded_at: DateTime<Utc>,
    /// The git commit of the playbooks folder when it is a work tree ("which playbook sent
    /// this?"), with `-dirty` when it has changes not committed.
    pub playbooks_commit: Option<String>,
    /// The secret of the SMS delivery-report address (`report_token_file`).
    pub sms_report_token: Option<String>,
}

impl Loaded {
    /// Reads and checks everything `config_path` names. Any problem refuses the whole.
    pub fn load(config_path: Option<&Path>) -> Result<Loaded, RunError> {
        let config = Config::discover(config_path).map_err(|e| RunError::Config(e.to_string()))?;
        // Checked in full once per change of the files, the settings or the binary, as every
        // command does: a restart (24 of them in the kill test) then takes milliseconds, not
        // the deep check's second.
        let playbooks = PlaybookSet::load_for(&config).map_err(|p| {
            RunError::Config(format!("{p}\nthe playbooks have problems (see `dunwell check`)"))
        })?;
        // The rate tables are read now so a broken override file is refused here, not at 08:00.
        crate::law::Rates::load(config.rates_file.as_deref()).map_err(|e| RunError::Config(e.to_string()))?;
        // The channels' settings and secrets are checked now; each delivery opens its own.
        config.open_channels().map_err(|e| RunError::Config(format!("[channels]: {e}")))?;
        let mut plugins = Vec::new();
        if !config.plugins.is_empty() {
            let host = Host::new().map_err(|e| RunError::Config(e.to_string()))?;
            // Compiled ahead of time where `dunwell plugin compile` did so.
            let store = Store::open(&config.database_path())?;
            let artifacts = crate::plugin::aot::Artifacts::load(&store, &config.plugin_cache_dir())?;
            drop(store);
            for settings in config.plugins.values() {
                let started = std::time::Instant::now();
                let plugin = host
                    .load_with(settings.clone(), Some(&artifacts))
                    .map_err(|e| RunError::Config(e.to_string()))?;
                tracing::info!(
                    plugin = %settings.name,
                    seconds = started.elapsed().as_secs_f64(),
                    compiled_ahead = plugin.compiled_ahead,
                    "plugin loaded"
                );
                plugins.push(plugin);
            }
        }
        let calendar = Calendar::new(config.jurisdiction, config.closing_days.iter().copied());
        let playbooks_commit = config.playbooks_dir.as_deref().and_then(git_commit);
        let sms_report_token = match config.channels.sms.as_ref().and_then(|s| s.report_token_file.as_ref()) {
            Some(file) => Some(
                crate::http::read_secret_file(file, "the secret of the SMS report address", 16)
                    .map_err(|e| RunError::Config(format!("[channels.sms] report_token_file: {e}")))?,
            ),
            None => None,
        };
        Ok(Loaded {
            config,
            playbooks,
            plugins,
            calendar,
            loaded_at: Utc::now(),
            playbooks_commit,
            sms_report_token,
        })
    }

    /// What status shows as the configuration in force.
    pub fn describe(&self) -> serde_json::Value {
        json!({
            "config_file": self.config.source.as_ref().map(|p| p.display().to_string()),
            "playbooks_dir": self.config.playbooks_dir.as_ref().map(|p| p.display().to_string()),
            "playbooks_commit": self.playbooks_commit,
            "plugins": self.plugins.iter().map(|p| p.name().to_string()).collect::<Vec<_>>(),
            "loaded_at": self.loaded_at.to_rfc3339(),
            "time_zone": self.config.time_zone.name(),
            "schedule": {
                "sync": self.config.schedule.expression(JobKind::Sync),
                "send": self.config.schedule.expression(JobKind::Send),
                "deliver": self.config.schedule.expression(JobKind::Deliver),
            },
        })
    }
}

/// `git rev-parse HEAD` of the folder, if it is in a git work tree and git is installed.
pub fn git_commit(dir: &Path) -> Option<String> {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = run(&["rev-parse", "HEAD"])?;
    let dirty = run(&["status", "--porcelain", "--", "."]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

/// The daemon's shared state.
pub struct Daemon {
    config_path: Option<PathBuf>,
    loaded: RwLock<Arc<Loaded>>,
    pub metrics: Metrics,
    pub clock: Clock,
    notifier: Notifier,
    /// Set on SIGTERM: jobs finish the item in hand and stop.
    stop: Arc<AtomicBool>,
    /// One job at a time.
    work: tokio::sync::Mutex<()>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
    /// Wakes the job loops after a reload (new schedule) or on stop.
    wake: tokio::sync::watch::Sender<u64>,
    last_reload_error: Mutex<Option<String>>,
    token: String,
    started: DateTime<Utc>,
    /// The admin API's address as bound (`listen` may ask for port 0).
    bound: std::sync::OnceLock<std::net::SocketAddr>,
}

impl Daemon {
    pub fn loaded(&self) -> Arc<Loaded> {
        match self.loaded.read() {
            Ok(l) => l.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    fn open_store(&self) -> Result<Store, crate::store::StoreError> {
        Store::open(&self.loaded().config.database_path())
    }

    /// Re-reads everything; keeps the running configuration when anything is wrong.
    pub async fn reload(self: &Arc<Self>) -> Result<String, String> {
        let _one = self.reloading.lock().await;
        self.notifier.reloading();
        tracing::info!("reloading the configuration");
        let path = self.config_path.clone();
        let result = tokio::task::spawn_blocking(move || Loaded::load(path.as_deref()))
            .await
            .map_err(|e| format!("the reload failed: {e}"))
            .and_then(|r| r.map_err(|e| e.to_string()));
        let old = self.loaded();
        let result = result.and_then(|new| {
            let (a, b) = (&old.config, &new.config);
            if a.data_dir != b.data_dir {
                Err("data_dir changed: that takes a restart (`systemctl restart dunwell`)".to_string())
            } else if a.admin != b.admin {
                Err("[admin] changed: that takes a restart (`systemctl restart dunwell`)".to_string())
            } else {
                Ok(new)
            }
        });
        match result {
            Ok(new) => {
                let described = new.describe();
                match self.loaded.write() {
                    Ok(mut l) => *l = Arc::new(new),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(new),
                }
                if let Ok(mut e) = self.last_reload_error.lock() {
                    *e = None;
                }
                self.metrics.reload(true);
                self.wake.send_modify(|n| *n += 1);
                self.record_state(None);
                tracing::info!("reloaded: the new configuration is in force");
                self.notifier.ready("running; configuration reloaded");
                Ok(format!("reloaded: {described}"))
            }
            Err(why) => {
                tracing::error!("reload refused, the previous configuration keeps running: {why}");
                if let Ok(mut e) = self.last_reload_error.lock() {
                    *e = Some(why.clone());
                }
                self.metrics.reload(false);
                self.record_state(Some(&why));
                self.notifier.ready(&format!(
                    "running; reload refused, previous configuration kept: {}",
                    why.lines().next().unwrap_or_default()
                ));
                Err(why)
            }
        }
    }

    /// The daemon's own row in the store, for `dunwell status`.
    fn record_state(&self, reload_error: Option<&str>) {
        let loaded = self.loaded();
        let value = json!({
            "pid": std::process::id(),
            "started": self.started.to_rfc3339(),
            "heartbeat": Utc::now().to_rfc3339(),
            "clock": self.clock.now().to_rfc3339(),
            "config": loaded.describe(),
            "reload_error": reload_error,
            "listen": self.bound.get().copied().unwrap_or(loaded.config.admin.listen).to_string(),
        });
        let result = self.open_store().and_then(|mut s| s.set_daemon_state("daemon", &value));
        if let Err(e) = result {
            tracing::warn!("cannot record the daemon's state in the store: {e}");
        }
    }

    fn heartbeat(&self) {
        let error = self.last_reload_error.lock().ok().and_then(|e| e.clone());
        self.record_state(error.as_deref());
    }

    /// Runs one job now (waiting for a running one to finish) and records it.
    pub async fn run_job(
        self: &Arc<Self>,
        job: JobKind,
        slot: Option<DateTime<Utc>>,
    ) -> Result<serde_json::Value, String> {
        let _one = self.work.lock().await;
        if self.stop.load(Ordering::SeqCst) {
            return Err("the daemon is stopping".into());
        }
        let d = self.clone();
        let started = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || d.job_body(job, slot))
            .await
            .map_err(|e| format!("the {} job failed: {e}", job.as_str()))
            .and_then(|r| r);
        let seconds = started.elapsed().as_secs_f64();
        self.metrics.job_finished(job.as_str(), result.is_ok(), seconds, Utc::now().timestamp());
        match &result {
            Ok(_) => tracing::info!(job = job.as_str(), seconds, "job done"),
            Err(e) => {
                // A sync job's first line names the plugins; their errors are logged already.
                let shown =
                    if job == JobKind::Sync { e.lines().next().unwrap_or_default() } else { e.as_str() };
                tracing::error!(job = job.as_str(), seconds, "job failed: {shown}")
            }
        }
        let d = self.clone();
        // The figures behind the gauges, read after every run.
        let _ = tokio::task::spawn_blocking(move || d.refresh_metrics()).await;
        // `systemctl status` shows the last run.
        let at = self.clock.now().with_timezone(&self.loaded().config.time_zone).format("%Y-%m-%d %H:%M");
        self.notifier.status(&match &result {
            Ok(_) => format!("running; last {} at {at}: ok", job.as_str()),
            Err(e) => format!(
                "running; last {} at {at} FAILED: {}",
                job.as_str(),
                e.lines().next().unwrap_or_default()
            ),
        });
        result
    }

    /// The work of one job, on a blocking thread.
    fn job_body(&self, job: JobKind, slot: Option<DateTime<Utc>>) -> Result<serde_json::Value, String> {
        let loaded = self.loaded();
        let now = self.clock.now();
        let full = |e: String| match disk_full(&loaded.config.data_dir, &e) {
            Some(hint) => format!("{e}: {hint}"),
            None => e,
        };
        let mut store = self.open_store().map_err(|e| full(e.to_string()))?;
        store.job_started(job.as_str(), slot, now).map_err(|e| full(e.to_string()))?;
        let result = match job {
            JobKind::Sync => self.sync(&loaded, &mut store, now),
            JobKind::Send => self.send(&loaded, &mut store, now),
            JobKind::Deliver => self.deliver(&loaded, &mut store, now),
        }
        .map_err(full);
        let (summary, error) = match &result {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e.as_str())),
        };
        if let Err(e) = store.job_finished(job.as_str(), self.clock.now(), summary, error) {
            tracing::error!(job = job.as_str(), "cannot record the run: {e}");
        }
        result
    }

    fn sync(
        &self,
        loaded: &Loaded,
        store: &mut Store,
        now: DateTime<Utc>,
    ) -> Result<serde_json::Value, String> {
        let mut results = Vec::new();
        let mut failed = Vec::new();
        for plugin in &loaded.plugins {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let name = plugin.name().to_string();
            let status = store.sync_status(&name).map_err(|e| e.to_string())?;
            if !crate::sync::due(status.as_ref(), now) {
                // Still failing as far as anyone knows: the run says so (status, metrics).
                let next = status.as_ref().and_then(|s| s.next_attempt.clone()).unwrap_or_default();
                let last = status.as_ref().and_then(|s| s.last_error.clone()).unwrap_or_default();
                tracing::info!(plugin = %name, "sync skipped: backing off after a failure until {next}");
                failed.push((format!("{name}, backing off until {next}"), format!("the last error: {last}")));
                results.push(json!({"plugin": name, "skipped": true, "next_attempt": next}));
                continue;
            }
            match crate::sync::sync(store, plugin, now) {
                Ok(summary) => {
                    for w in summary.warnings.iter().take(20) {
                        tracing::warn!(plugin = %name, "{w}");
                    }
                    tracing::info!(plugin = %name, "synced: {}", summary.to_string().replace('\n', "; "));
                    self.metrics.sync_finished(&name, true);
                    results.push(json!({"plugin": name, "ok": true, "summary": summary}));
                }
                Err(e) => {
                    // Said once, here; the job's own line names the plugins only.
                    tracing::error!(plugin = %name, "sync failed: {e}");
                    self.metrics.sync_finished(&name, false);
                    failed.push((name.clone(), e.to_string()));
                    results.push(json!({"plugin": name, "ok": false, "error": e.to_string()}));
                }
            }
        }
        if failed.is_empty() {
            Ok(json!({"plugins": results}))
        } else {
            // The first line names which failed (the job's log line shows only it: each
            // plugin's error has its own `sync failed` line); the rest, for `dunwell status`,
            // says why.
            let mut text = format!(
                "{} of {} plugin{} failed ({})",
                failed.len(),
                results.len(),
                if results.len() == 1 { "" } else { "s" },
                failed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join("; ")
            );
            for (name, why) in &failed {
                text.push_str(&format!("\n{name}: {why}"));
            }
            Err(text)
        }
    }

    fn send(
        &self,
        loaded: &Loaded,
        store: &mut Store,
        now: DateTime<Utc>,
    ) -> Result<serde_json::Value, String> {
        let c = &loaded.config;
        let day = now.with_timezone(&c.time_zone).date_naive();
        let report = crate::send::send_day(store, c, &loaded.playbooks, c.pacing(), None, day, now, false)
            .map_err(|e| e.to_string())?;
        for p in &report.problems {
            tracing::warn!("{p}");
        }
        for d in &report.written {
            tracing::info!(
                customer = %d.customer_id,
                channel = %d.channel,
                template = %d.template,
                invoices = %d.invoices.join(","),
                "recorded"
            );
        }
        self.metrics.actions_planned(report.due as u64);
        tracing::info!(
            day = %day,
            due = report.due,
            written = report.written.len(),
            held = report.held.len(),
            already_done = report.already_done,
            "send done"
        );
        Ok(json!({
            "day": day,
            "due": report.due,
            "written": report.written.len(),
            "awaiting_approval": report.awaiting_approval,
            "already_done": report.already_done,
            "held": report.held,
        }))
    }

    fn deliver(
        &self,
        loaded: &Loaded,
        store: &mut Store,
        now: DateTime<Utc>,
    ) -> Result<serde_json::Value, String> {
        let c = &loaded.config;
        let mut channels = c.open_channels().map_err(|e| e.to_string())?;
        let freshness = crate::send::gate::Freshness::load(store, c.schedule.max_source_age, now)
            .map_err(|e| e.to_string())?;
        let gate = crate::send::gate::Gate {
            freshness,
            windows: Some((&c.schedule, &loaded.calendar)),
            now,
            stop: Some(&self.stop),
        };
        let report = crate::channel::deliver(store, &mut channels, now, &gate).map_err(|e| e.to_string())?;
        tracing::info!(
            sent = report.sent,
            failed = report.failed,
            dead = report.dead,
            unknown = report.unknown,
            cancelled = report.cancelled,
            held = report.held,
            "deliver done"
        );
        for (id, channel, result) in &report.outcomes {
            let segment = store.message_segment(*id).ok().flatten().unwrap_or_else(|| "-".into());
            self.metrics.message_delivered(channel, &segment, result);
        }
        Ok(serde_json::to_value(&report).unwrap_or_default())
    }

    /// Sets the gauges from the store: sources, outbox, open amounts by segment and age.
    fn refresh_metrics(&self) {
        let loaded = self.loaded();
        match status::snapshot(&loaded, self.clock.now()) {
            Ok(s) => self.metrics.set_snapshot(&s),
            Err(e) => tracing::warn!("cannot read the figures for the metrics: {e}"),
        }
    }

    /// One job's loop: wait for its next slot in the configured zone, run it, repeat. A run
    /// that fails (the store locked, the disk full, a source down) is tried again after 5
    /// minutes, doubling up to an hour, until its next slot comes (a send: within its day).
    async fn job_loop(self: Arc<Self>, job: JobKind) {
        let mut wake = self.wake.subscribe();
        // (when to try again, the slot it is for, failures so far)
        let mut retry: Option<(DateTime<Utc>, DateTime<Utc>, u32)> = None;
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let now = self.clock.now();
            let schedule = self.loaded().config.schedule.clone();
            let next = schedule.next_after(job, now);
            let (at, slot) = match (retry, next) {
                (Some((again, slot, _)), Some(next)) if again < next => (again, slot),
                (Some((again, slot, _)), None) => (again, slot),
                (_, Some(next)) => (next, next),
                (None, None) => {
                    tracing::warn!(job = job.as_str(), "the schedule has no next run; waiting for a reload");
                    if wake.changed().await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            // Sleep in steps of at most a minute and look again: the wall clock may jump (NTP,
            // a suspended VM), a reload may change the schedule.
            let wait = self.clock.real_until(at).min(Duration::from_secs(60));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                r = wake.changed() => { if r.is_err() { return; } continue; }
            }
            if self.clock.now() < at || self.stop.load(Ordering::SeqCst) {
                continue;
            }
            let result = self.run_job(job, Some(slot)).await;
            let after = self.clock.now();
            retry = match (result, retry) {
                (Ok(_), _) => None,
                (Err(_), previous) => {
                    let failures = previous.filter(|r| r.1 == slot).map_or(0, |r| r.2) + 1;
                    let again = after
                        + chrono::Duration::minutes(5 << (failures - 1).min(4))
                            .min(chrono::Duration::hours(1));
                    let tz = schedule.time_zone;
                    let same_day =
                        again.with_timezone(&tz).date_naive() == slot.with_timezone(&tz).date_naive();
                    if job == JobKind::Send && !same_day {
                        None
                    } else {
                        tracing::warn!(
                            job = job.as_str(),
                            "the run failed; trying again at {}",
                            again.to_rfc3339()
                        );
                        Some((again, slot, failures))
                    }
                }
            };
            // Slots that passed while the job ran are not made up one by one: the next run
            // does whatever is due then.
            if let Some(skipped) = schedule.next_after(job, at) {
                if skipped < after {
                    tracing::warn!(
                        job = job.as_str(),
                        "the run took past its next slot ({}); that slot is skipped",
                        skipped.to_rfc3339()
                    );
                    self.metrics.job_skipped(job.as_str());
                }
            }
        }
    }
}

/// SQLite reports a full disk as "database or disk is full", or as a bare "disk I/O error"
/// when the file it could not grow was its shared-memory index: when the data directory's disk
/// has (almost) no room left, say so.
fn disk_full(dir: &Path, error: &str) -> Option<String> {
    let suspicious = ["disk I/O error", "disk is full", "No space left"].iter().any(|s| error.contains(s));
    if !suspicious {
        return None;
    }
    let st = rustix::fs::statvfs(dir).ok()?;
    let free = st.f_bavail.saturating_mul(st.f_frsize);
    (free < 4 << 20).then(|| {
        format!(
            "the data disk is full ({} KiB free for {}); free some space there and dunwell goes on by itself",
            free / 1024,
            dir.display()
        )
    })
}

/// The admin token: the configured file, `$CREDENTIALS_DIRECTORY/admin-token`, or one made up
/// at the first start in the data directory (mode 0600). Only the daemon makes one (`create`):
/// a client that made its own would only be refused.
pub fn admin_token(config: &Config, create: bool) -> Result<String, RunError> {
    let read = |file: &Path| {
        crate::http::read_secret_file(file, "the admin token", crate::plugin::redact::MIN_SECRET_LEN)
            .map_err(RunError::Config)
    };
    if let Some(file) = &config.admin.token_file {
        return read(file);
    }
    let credential = std::env::var_os("CREDENTIALS_DIRECTORY").map(|d| Path::new(&d).join("admin-token"));
    let file = config.data_dir.join("admin-token");
    if let Some(found) = credential.iter().chain([&file]).find(|f| f.exists()) {
        return read(found);
    }
    if !create {
        return Err(RunError::Config(format!(
            "no admin token: none in [admin] token_file, $CREDENTIALS_DIRECTORY/admin-token or {}; the daemon writes one when it starts (under systemd, run this with the service's credentials: CREDENTIALS_DIRECTORY=/run/credentials/dunwell.service)",
            file.display()
        )));
    }
    let token = random_token();
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| RunError::Io(format!("cannot create {}: {e}", config.data_dir.display())))?;
    write_private(&file, &token)
        .map_err(|e| RunError::Io(format!("cannot write {}: {e}", file.display())))?;
    tracing::info!("wrote a new admin token to {}", file.display());
    Ok(token)
}

fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    crate::text::hex(&bytes)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// How `dunwell run` was started.
pub struct RunOptions {
    pub config_path: Option<PathBuf>,
    pub clock: Clock,
    /// Stop after this long (tests; `--for`), as a SIGTERM would.
    pub run_for: Option<Duration>,
}

/// Runs the daemon until SIGTERM or SIGINT. Returns once everything is stopped.
pub fn run(options: RunOptions) -> Result<(), RunError> {
    let notifier = Notifier::from_env();
    let loaded = Loaded::load(options.config_path.as_deref())?;
    let config = &loaded.config;
    // One delivering process per data directory, for the daemon's whole life: a `dunwell
    // send` next to it would take its `sending` messages for a crashed run's.
    let _lock =
        crate::send::lock(&config.data_dir, "dunwell run").map_err(|e| RunError::Config(e.to_string()))?;
    let store = Store::open(&config.database_path())?;
    let integrity = store.integrity_check()?;
    if integrity != "ok" {
        return Err(RunError::Config(format!(
            "the database {} fails SQLite's integrity check ({integrity}); restore it from a backup",
            config.database_path().display()
        )));
    }
    drop(store);
    let token = admin_token(config, true)?;
    let listen = config.admin.listen;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .thread_name("dunwell")
        .build()
        .map_err(|e| RunError::Io(format!("cannot start the runtime: {e}")))?;
    let (wake, _) = tokio::sync::watch::channel(0u64);
    let daemon = Arc::new(Daemon {
        config_path: options.config_path.clone(),
        loaded: RwLock::new(Arc::new(loaded)),
        metrics: Metrics::new(),
        clock: options.clock,
        notifier,
        stop: Arc::new(AtomicBool::new(false)),
        work: tokio::sync::Mutex::new(()),
        reloading: tokio::sync::Mutex::new(()),
        wake,
        last_reload_error: Mutex::new(None),
        token,
        started: Utc::now(),
        bound: std::sync::OnceLock::new(),
    });
    runtime.block_on(serve(daemon, listen, options.run_for))
}

async fn serve(
    d: Arc<Daemon>,
    listen: std::net::SocketAddr,
    run_for: Option<Duration>,
) -> Result<(), RunError> {
    use tokio::signal::unix::{signal, SignalKind};
    // Before READY: the first registration replaces the default action (exit) for good.
    let sig = |k| signal(k).map_err(|e| RunError::Io(format!("cannot handle signals: {e}")));
    let mut hup = sig(SignalKind::hangup())?;
    let mut term = sig(SignalKind::terminate())?;
    let mut int = sig(SignalKind::interrupt())?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        RunError::Io(format!(
            "cannot listen on {listen} for the admin API: {e}; is another dunwell running? (change `listen` in [admin])"
        ))
    })?;
    let listen = listener.local_addr().unwrap_or(listen);
    let _ = d.bound.set(listen);
    let (stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let admin = tokio::spawn(admin::serve(d.clone(), listener, async {
        let _ = admin_stopped.await;
    }));
    d.record_state(None);
    d.refresh_metrics_async().await;
    let loaded = d.loaded();
    tracing::info!(
        listen = %listen,
        plugins = loaded.plugins.len(),
        time_zone = loaded.config.time_zone.name(),
        "dunwell is running"
    );
    d.notifier.ready(&format!("running; admin API on {listen}"));

    // Runs missed while the daemon was down: each made up once, now, where it may be.
    let store = d.open_store()?;
    let mut catch_up = Vec::new();
    for job in JobKind::ALL {
        let last = store.job_last_slot(job.as_str())?;
        if let Some(slot) = loaded.config.schedule.missed(job, last, d.clock.now()) {
            match last {
                None => tracing::info!(job = job.as_str(), "first start: running it now"),
                Some(_) => tracing::info!(
                    job = job.as_str(),
                    "making up the run of {} missed while dunwell was down",
                    slot.to_rfc3339()
                ),
            }
            catch_up.push((job, slot));
        }
    }
    drop(store);
    let catch = {
        let d = d.clone();
        tokio::spawn(async move {
            for (job, slot) in catch_up {
                let _ = d.run_job(job, Some(slot)).await;
            }
        })
    };
    let loops: Vec<_> = JobKind::ALL.into_iter().map(|job| tokio::spawn(d.clone().job_loop(job))).collect();

    let watchdog = d.notifier.watchdog_interval().unwrap_or(Duration::from_secs(3600));
    let mut watchdog_tick = tokio::time::interval(watchdog);
    let mut heartbeat = tokio::time::interval(Duration::from_secs(30));
    let deadline = async {
        match run_for {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = hup.recv() => { let _ = d.reload().await; }
            _ = term.recv() => { tracing::info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: stopping"); break; }
            _ = &mut deadline => { tracing::info!("--for elapsed: stopping"); break; }
            _ = watchdog_tick.tick() => {
                if d.notifier.watchdog_interval().is_some() { d.notifier.watchdog(); }
            }
            _ = heartbeat.tick() => {
                // Not awaited: a store locked by someone else must not hold up the signals.
                let d2 = d.clone();
                tokio::task::spawn_blocking(move || d2.heartbeat());
            }
        }
    }

    // Stop: no new runs; the run in hand finishes its current item (a delivery its current
    // message, a sync its transaction) and returns.
    d.notifier.stopping("stopping: finishing the work in hand");
    d.stop.store(true, Ordering::SeqCst);
    d.wake.send_modify(|n| *n += 1);
    let finish = async {
        for l in loops {
            let _ = l.await;
        }
        let _ = catch.await;
        let _ = d.work.lock().await;
    };
    if tokio::time::timeout(Duration::from_secs(30), finish).await.is_err() {
        tracing::warn!("a job did not finish within 30 s; stopping anyway (its transaction is rolled back, its message is delivered again at the next start)");
    }
    let _ = stop_admin.send(());
    if tokio::time::timeout(Duration::from_secs(5), admin).await.is_err() {
        tracing::warn!("the admin API did not close its connections within 5 s");
    }
    let d2 = d.clone();
    let _ = tokio::task::spawn_blocking(move || {
        let result = d2.open_store().and_then(|mut s| {
            s.set_daemon_state("stopped", &json!({"at": Utc::now().to_rfc3339(), "pid": std::process::id()}))
        });
        if let Err(e) = result {
            tracing::warn!("cannot record the stop: {e}");
        }
    })
    .await;
    tracing::info!("stopped");
    Ok(())
}

impl Daemon {
    async fn refresh_metrics_async(self: &Arc<Self>) {
        let d = self.clone();
        let _ = tokio::task::spawn_blocking(move || d.refresh_metrics()).await;
    }
}
