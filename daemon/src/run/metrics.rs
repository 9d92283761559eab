//! The daemon's Prometheus metrics: one registry with the prefix `dunwell`, served by the admin
//! API on `/metrics`.
//!
//! Two kinds of metrics live here:
//! - events, counted as they happen (`sync_finished`, `job_finished`, …): counters, a histogram
//!   and a few gauges that remember the last event;
//! - state, read from the store after every job run and handed over as a [`Snapshot`]: gauges
//!   that each `set_snapshot` replaces as a whole, so a source or a segment that disappeared
//!   does not linger.
//!
//! `encode` writes Prometheus text 0.0.4 (what `promtool check metrics` reads and what Prometheus
//! asks for by default); `encode_openmetrics` writes OpenMetrics text for a scraper that asks for
//! it in `Accept`. Money is `Decimal` everywhere else in dunwell; it becomes `f64` only here, at
//! the reporting edge.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, PoisonError, RwLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

/// The `Content-Type` of [`Metrics::encode`]'s output.
pub const PROMETHEUS_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The `Content-Type` of [`Metrics::encode_openmetrics`]'s output.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds (seconds) of the job duration histogram: from a quick no-op run to a sync of
/// every connector that waits out rate limits.
const JOB_DURATION_BUCKETS: [f64; 12] =
    [0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0];

/// The results `message_delivered` is called with; each (channel, segment) gets all of them at 0
/// on its first message, so a `rate(...{result="failed"}[...])` has a series before the first
/// failure.
const MESSAGE_RESULTS: [&str; 5] = ["sent", "failed", "dead", "unknown", "cancelled"];

fn result_label(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "failed"
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginResult {
    plugin: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobResult {
    job: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabel {
    job: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MessageLabels {
    channel: String,
    segment: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct SegmentBucket {
    segment: String,
    bucket: String,
}

type GaugeF64 = Gauge<f64, AtomicU64>;
type HistogramFamily = Family<JobLabel, Histogram, fn() -> Histogram>;

fn job_duration_histogram() -> Histogram {
    Histogram::new(JOB_DURATION_BUCKETS)
}

/// All the daemon's metrics in one registry (prefix "dunwell"). Cheap to share: `Clone` is an
/// `Arc` clone, and every method takes `&self` and is thread-safe (the jobs run on blocking
/// threads, the admin API on tokio).
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    /// Held for writing while `set_snapshot` clears and refills the state gauges, for reading
    /// while encoding: a scrape never sees a half-replaced snapshot.
    snapshot_lock: RwLock<()>,

    // events
    syncs: Family<PluginResult, Counter>,
    job_runs: Family<JobResult, Counter>,
    job_duration: HistogramFamily,
    job_last_success: Family<JobLabel, Gauge>,
    job_overlaps: Family<JobLabel, Counter>,
    actions_planned_last_run: Gauge,
    actions_planned: Counter,
    messages: Family<MessageLabels, Counter>,
    admin_unauthorized: Counter,
    reloads: Family<ResultLabel, Counter>,
    config_last_reload_successful: Gauge,

    // state, replaced by every snapshot
    source_age: Family<SourceLabel, GaugeF64>,
    source_fresh: Family<SourceLabel, Gauge>,
    outbox: Family<StatusLabel, Gauge>,
    dead_letters: Gauge,
    held_reminders: Family<ReasonLabel, Gauge>,
    tasks_open: Gauge,
    open_amount: Family<SegmentBucket, GaugeF64>,
    invoices_open: Family<SegmentBucket, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric registered, counters at 0. `dunwell_config_last_reload_successful` starts
    /// at 1: the daemon only runs once its configuration has loaded.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("dunwell");

        // The help texts get their full stop from prometheus-client.
        let syncs = Family::<PluginResult, Counter>::default();
        registry.register(
            "syncs",
            "Connector syncs finished, by plugin and result (ok or failed)",
            syncs.clone(),
        );
        let job_runs = Family::<JobResult, Counter>::default();
        registry.register(
            "job_runs",
            "Scheduled job runs finished, by job and result (ok or failed)",
            job_runs.clone(),
        );
        let job_duration: HistogramFamily =
            Family::new_with_constructor(job_duration_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "job_duration",
            "Wall-clock duration of scheduled job runs, ok or failed, by job",
            Unit::Seconds,
            job_duration.clone(),
        );
        let job_last_success = Family::<JobLabel, Gauge>::default();
        registry.register_with_unit(
            "job_last_success_timestamp",
            "Unix time at which the last successful run of the job finished",
            Unit::Seconds,
            job_last_success.clone(),
        );
        let job_overlaps = Family::<JobLabel, Counter>::default();
        registry.register(
            "job_overlaps",
            "Scheduler ticks skipped because the previous run of the job was still running",
            job_overlaps.clone(),
        );
        // Not "actions_planned": in OpenMetrics the counter below is the family
        // "dunwell_actions_planned", and two families must not share a name.
        let actions_planned_last_run = Gauge::default();
        registry.register(
            "actions_planned_last_run",
            "Dunning actions that were due in the last send run",
            actions_planned_last_run.clone(),
        );
        let actions_planned = Counter::default();
        registry.register(
            "actions_planned",
            "Dunning actions found due, summed over all send runs",
            actions_planned.clone(),
        );
        let messages = Family::<MessageLabels, Counter>::default();
        registry.register(
            "messages",
            "Delivery attempts of dunning messages, by channel, customer segment and result \
             (sent, failed, dead, unknown or cancelled)",
            messages.clone(),
        );
        let admin_unauthorized = Counter::default();
        registry.register(
            "admin_unauthorized",
            "Admin API requests refused for a missing or wrong bearer token",
            admin_unauthorized.clone(),
        );
        let reloads = Family::<ResultLabel, Counter>::default();
        registry.register(
            "reloads",
            "Configuration reloads (SIGHUP or admin API), by result (ok or failed)",
            reloads.clone(),
        );
        for ok in [true, false] {
            let _ = reloads.get_or_create(&ResultLabel { result: result_label(ok) });
        }
        let config_last_reload_successful = Gauge::default();
        config_last_reload_successful.set(1);
        registry.register(
            "config_last_reload_successful",
            "Whether the last configuration reload succeeded (1) or failed and the daemon \
             kept the previous configuration (0)",
            config_last_reload_successful.clone(),
        );

        let source_age = Family::<SourceLabel, GaugeF64>::default();
        registry.register_with_unit(
            "source_age",
            "Seconds since the source (connector plugin or csv import) last synced successfully, \
             as of the last job run; +Inf if it never did",
            Unit::Seconds,
            source_age.clone(),
        );
        let source_fresh = Family::<SourceLabel, Gauge>::default();
        registry.register(
            "source_fresh",
            "Whether the source's data is within max_source_age (1) or stale (0), as of the \
             last job run",
            source_fresh.clone(),
        );
        let outbox = Family::<StatusLabel, Gauge>::default();
        registry.register("outbox_messages", "Messages in the outbox, by status", outbox.clone());
        let dead_letters = Gauge::default();
        registry.register(
            "dead_letters",
            "Messages that exhausted their delivery attempts and wait for a person",
            dead_letters.clone(),
        );
        let held_reminders = Family::<ReasonLabel, Gauge>::default();
        registry.register(
            "held_reminders",
            "Reminders held back instead of sent, by reason",
            held_reminders.clone(),
        );
        let tasks_open = Gauge::default();
        registry.register("tasks_open", "Call tasks waiting for a person", tasks_open.clone());
        let open_amount = Family::<SegmentBucket, GaugeF64>::default();
        registry.register_with_unit(
            "open_amount",
            "Open amount of unpaid invoices in euros, by customer segment and ageing bucket \
             (days past due: 0-30, 31-60, 61-90, 90+)",
            Unit::Other("euros".to_owned()),
            open_amount.clone(),
        );
        let invoices_open = Family::<SegmentBucket, Gauge>::default();
        registry.register(
            "invoices_open",
            "Unpaid invoices, by customer segment and ageing bucket (days past due: 0-30, \
             31-60, 61-90, 90+)",
            invoices_open.clone(),
        );

        Metrics {
            inner: Arc::new(Inner {
                registry,
                snapshot_lock: RwLock::new(()),
                syncs,
                job_runs,
                job_duration,
                job_last_success,
                job_overlaps,
                actions_planned_last_run,
                actions_planned,
                messages,
                admin_unauthorized,
                reloads,
                config_last_reload_successful,
                source_age,
                source_fresh,
                outbox,
                dead_letters,
                held_reminders,
                tasks_open,
                open_amount,
                invoices_open,
            }),
        }
    }

    /// A connector sync finished: `dunwell_syncs_total{plugin,result="ok|failed"}`. The first
    /// sync of a plugin creates both results, so the other one shows as 0.
    pub fn sync_finished(&self, plugin: &str, ok: bool) {
        for result in [true, false] {
            let counter = self
                .inner
                .syncs
                .get_or_create(&PluginResult { plugin: plugin.to_owned(), result: result_label(result) });
            if result == ok {
                counter.inc();
            }
        }
    }

    /// A job run finished after `seconds`, at unix time `finished_unix`:
    /// `dunwell_job_runs_total{job,result}`, `dunwell_job_duration_seconds{job}` and, on
    /// success, `dunwell_job_last_success_timestamp_seconds{job}`.
    pub fn job_finished(&self, job: &str, ok: bool, seconds: f64, finished_unix: i64) {
        for result in [true, false] {
            let counter = self
                .inner
                .job_runs
                .get_or_create(&JobResult { job: job.to_owned(), result: result_label(result) });
            if result == ok {
                counter.inc();
            }
        }
        let label = JobLabel { job: job.to_owned() };
        self.inner.job_duration.get_or_create(&label).observe(seconds.max(0.0));
        if ok {
            self.inner.job_last_success.get_or_create(&label).set(finished_unix);
        }
    }

    /// A tick of `job` came while its previous run still ran, and was skipped:
    /// `dunwell_job_overlaps_total{job}`.
    pub fn job_skipped(&self, job: &str) {
        self.inner.job_overlaps.get_or_create(&JobLabel { job: job.to_owned() }).inc();
    }

    /// A send run found `count` actions due: `dunwell_actions_planned_last_run` (gauge) and
    /// `dunwell_actions_planned_total` (counter).
    pub fn actions_planned(&self, count: u64) {
        self.inner.actions_planned_last_run.set(i64::try_from(count).unwrap_or(i64::MAX));
        self.inner.actions_planned.inc_by(count);
    }

    /// A delivery attempt ended: `dunwell_messages_total{channel,segment,result}`, `result`
    /// one of "sent", "failed", "dead", "unknown", "cancelled". The first message of a
    /// (channel, segment) creates all five results, so the others show as 0.
    pub fn message_delivered(&self, channel: &str, segment: &str, result: &str) {
        let labels = |result: &str| MessageLabels {
            channel: channel.to_owned(),
            segment: segment.to_owned(),
            result: result.to_owned(),
        };
        if self.inner.messages.get(&labels(result)).is_none() {
            for known in MESSAGE_RESULTS {
                let _ = self.inner.messages.get_or_create(&labels(known));
            }
        }
        self.inner.messages.get_or_create(&labels(result)).inc();
    }

    /// The admin API refused a request for a missing or wrong token:
    /// `dunwell_admin_unauthorized_total`.
    pub fn unauthorized(&self) {
        self.inner.admin_unauthorized.inc();
    }

    /// A configuration reload ended: `dunwell_reloads_total{result}` and
    /// `dunwell_config_last_reload_successful` (1 or 0).
    pub fn reload(&self, ok: bool) {
        self.inner.reloads.get_or_create(&ResultLabel { result: result_label(ok) }).inc();
        self.inner.config_last_reload_successful.set(i64::from(ok));
    }

    /// Replaces every state gauge with the snapshot: a source, status, reason or segment that
    /// is not in `s` has no sample afterwards. Repeated keys are summed (amounts, counts) or
    /// the last one wins (source age and freshness).
    pub fn set_snapshot(&self, s: &Snapshot) {
        let inner = &*self.inner;
        let _guard = inner.snapshot_lock.write().unwrap_or_else(PoisonError::into_inner);

        inner.source_age.clear();
        for (source, age) in &s.source_age_seconds {
            inner
                .source_age
                .get_or_create(&SourceLabel { source: source.clone() })
                .set(age.unwrap_or(f64::INFINITY));
        }
        inner.source_fresh.clear();
        for (source, fresh) in &s.source_fresh {
            inner.source_fresh.get_or_create(&SourceLabel { source: source.clone() }).set(i64::from(*fresh));
        }
        inner.outbox.clear();
        for (status, count) in &s.outbox {
            inner.outbox.get_or_create(&StatusLabel { status: status.clone() }).inc_by(gauge_value(*count));
        }
        inner.dead_letters.set(gauge_value(s.dead_letters));
        inner.held_reminders.clear();
        for (reason, count) in &s.held_reminders {
            inner
                .held_reminders
                .get_or_create(&ReasonLabel { reason: reason.clone() })
                .inc_by(gauge_value(*count));
        }
        inner.tasks_open.set(gauge_value(s.tasks_open));

        // Sum in Decimal, convert once.
        let mut amounts: BTreeMap<SegmentBucket, Decimal> = BTreeMap::new();
        for (segment, bucket, amount) in &s.open_amount {
            *amounts
                .entry(SegmentBucket { segment: segment.clone(), bucket: bucket.clone() })
                .or_default() += *amount;
        }
        inner.open_amount.clear();
        for (labels, amount) in &amounts {
            inner.open_amount.get_or_create(labels).set(amount.to_f64().unwrap_or(f64::NAN));
        }
        inner.invoices_open.clear();
        for (segment, bucket, count) in &s.invoices_open {
            inner
                .invoices_open
                .get_or_create(&SegmentBucket { segment: segment.clone(), bucket: bucket.clone() })
                .inc_by(gauge_value(*count));
        }
    }

    /// Prometheus text format 0.0.4 (what `promtool check metrics` reads); serve it with
    /// [`PROMETHEUS_CONTENT_TYPE`].
    pub fn encode(&self) -> String {
        let _guard = self.inner.snapshot_lock.read().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        // Writing into a String cannot fail, and neither can encoding our label sets.
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.inner.registry)
            .expect("encoding metrics into a String");
        out
    }

    /// OpenMetrics text (ends in `# EOF`), for a scraper that asks for it in `Accept`; serve it
    /// with [`OPENMETRICS_CONTENT_TYPE`].
    pub fn encode_openmetrics(&self) -> String {
        let _guard = self.inner.snapshot_lock.read().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.inner.registry)
            .expect("encoding metrics into a String");
        out
    }
}

fn gauge_value(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// What the daemon reads from the store after each run. Plain data; `Default` = nothing.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Per source (plugin name, or "csv"): seconds since its last successful sync/import;
    /// `None` = never synced (reported as +Inf).
    pub source_age_seconds: Vec<(String, Option<f64>)>,
    /// Per source: within `max_source_age`.
    pub source_fresh: Vec<(String, bool)>,
    /// Messages by status ("queued", "sending", "sent", "failed", "unknown", "dead",
    /// "awaiting-approval", "cancelled", "held").
    pub outbox: Vec<(String, u64)>,
    pub dead_letters: u64,
    /// Held reminders by reason kind ("stale-source", "weekly-cap", ...).
    pub held_reminders: Vec<(String, u64)>,
    /// Call tasks waiting for a person.
    pub tasks_open: u64,
    /// (segment, ageing bucket, open amount in euro).
    pub open_amount: Vec<(String, String, Decimal)>,
    /// (segment, ageing bucket, count of open invoices).
    pub invoices_open: Vec<(String, String, u64)>,
}

/// The ageing bucket of an invoice `days_overdue` days past its due date: "0-30", "31-60",
/// "61-90", "90+" (not yet due counts as "0-30"; 90 is in 61-90, 91 in 90+).
pub fn ageing_bucket(days_overdue: i64) -> &'static str {
    match days_overdue {
        i64::MIN..=30 => "0-30",
        31..=60 => "31-60",
        61..=90 => "61-90",
        _ => "90+",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    use std::str::FromStr;

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    #[track_caller]
    fn assert_line(text: &str, line: &str) {
        assert!(lines(text).contains(&line), "missing line\n  {line}\nin\n{text}");
    }

    #[track_caller]
    fn assert_no_sample_with(text: &str, needle: &str) {
        let found: Vec<&str> =
            lines(text).into_iter().filter(|l| !l.starts_with('#') && l.contains(needle)).collect();
        assert!(found.is_empty(), "expected no sample with {needle}, found {found:?}");
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            source_age_seconds: vec![("moneybird".into(), Some(120.5)), ("csv".into(), None)],
            source_fresh: vec![("moneybird".into(), true), ("csv".into(), false)],
            outbox: vec![("queued".into(), 3), ("awaiting-approval".into(), 1)],
            dead_letters: 2,
            held_reminders: vec![("stale-source".into(), 4), ("weekly-cap".into(), 1)],
            tasks_open: 5,
            open_amount: vec![
                ("smb".into(), "0-30".into(), Decimal::from_str("1234.56").unwrap()),
                ("smb".into(), "90+".into(), Decimal::from_str("99.99").unwrap()),
                ("smb".into(), "90+".into(), Decimal::from_str("0.01").unwrap()),
                ("enterprise".into(), "31-60".into(), Decimal::from_str("50000").unwrap()),
            ],
            invoices_open: vec![
                ("smb".into(), "0-30".into(), 7),
                ("smb".into(), "90+".into(), 2),
                ("enterprise".into(), "31-60".into(), 1),
            ],
        }
    }

    /// Metrics after a few of every event and one snapshot.
    fn busy() -> Metrics {
        let m = Metrics::new();
        m.sync_finished("moneybird", true);
        m.sync_finished("moneybird", false);
        m.sync_finished("ubl", true);
        m.sync_finished("ubl", true);
        m.job_finished("sync", true, 2.0, 1_760_000_000);
        m.job_finished("sync", false, 0.3, 1_760_000_100);
        m.job_finished("send", true, 45.0, 1_760_000_200);
        m.job_skipped("sync");
        m.actions_planned(4);
        m.actions_planned(6);
        m.message_delivered("email", "smb", "sent");
        m.message_delivered("email", "smb", "sent");
        m.message_delivered("sms", "enterprise", "failed");
        m.unauthorized();
        m.reload(true);
        m.reload(false);
        m.set_snapshot(&snapshot());
        m
    }

    #[test]
    fn events_and_snapshot_encode_as_exact_samples() {
        let text = busy().encode();
        for line in [
            // events
            r#"dunwell_syncs_total{plugin="moneybird",result="ok"} 1"#,
            r#"dunwell_syncs_total{plugin="moneybird",result="failed"} 1"#,
            r#"dunwell_syncs_total{plugin="ubl",result="ok"} 2"#,
            r#"dunwell_syncs_total{plugin="ubl",result="failed"} 0"#,
            r#"dunwell_job_runs_total{job="sync",result="ok"} 1"#,
            r#"dunwell_job_runs_total{job="sync",result="failed"} 1"#,
            r#"dunwell_job_runs_total{job="send",result="failed"} 0"#,
            r#"dunwell_job_duration_seconds_bucket{job="sync",le="0.1"} 0"#,
            r#"dunwell_job_duration_seconds_bucket{job="sync",le="0.5"} 1"#,
            r#"dunwell_job_duration_seconds_bucket{job="sync",le="2.5"} 2"#,
            r#"dunwell_job_duration_seconds_bucket{job="sync",le="+Inf"} 2"#,
            r#"dunwell_job_duration_seconds_sum{job="sync"} 2.3"#,
            r#"dunwell_job_duration_seconds_count{job="sync"} 2"#,
            r#"dunwell_job_duration_seconds_bucket{job="send",le="30"} 0"#,
            r#"dunwell_job_duration_seconds_bucket{job="send",le="60"} 1"#,
            // the last *successful* run, not the last run
            r#"dunwell_job_last_success_timestamp_seconds{job="sync"} 1760000000"#,
            r#"dunwell_job_last_success_timestamp_seconds{job="send"} 1760000200"#,
            r#"dunwell_job_overlaps_total{job="sync"} 1"#,
            "dunwell_actions_planned_last_run 6",
            "dunwell_actions_planned_total 10",
            r#"dunwell_messages_total{channel="email",segment="smb",result="sent"} 2"#,
            r#"dunwell_messages_total{channel="email",segment="smb",result="dead"} 0"#,
            r#"dunwell_messages_total{channel="sms",segment="enterprise",result="failed"} 1"#,
            "dunwell_admin_unauthorized_total 1",
            r#"dunwell_reloads_total{result="ok"} 1"#,
            r#"dunwell_reloads_total{result="failed"} 1"#,
            "dunwell_config_last_reload_successful 0",
            // snapshot
            r#"dunwell_source_age_seconds{source="moneybird"} 120.5"#,
            r#"dunwell_source_age_seconds{source="csv"} +Inf"#,
            r#"dunwell_source_fresh{source="moneybird"} 1"#,
            r#"dunwell_source_fresh{source="csv"} 0"#,
            r#"dunwell_outbox_messages{status="queued"} 3"#,
            r#"dunwell_outbox_messages{status="awaiting-approval"} 1"#,
            "dunwell_dead_letters 2",
            r#"dunwell_held_reminders{reason="stale-source"} 4"#,
            r#"dunwell_held_reminders{reason="weekly-cap"} 1"#,
            "dunwell_tasks_open 5",
            r#"dunwell_open_amount_euros{segment="smb",bucket="0-30"} 1234.56"#,
            r#"dunwell_open_amount_euros{segment="smb",bucket="90+"} 100.0"#,
            r#"dunwell_open_amount_euros{segment="enterprise",bucket="31-60"} 50000.0"#,
            r#"dunwell_invoices_open{segment="smb",bucket="0-30"} 7"#,
            r#"dunwell_invoices_open{segment="enterprise",bucket="31-60"} 1"#,
            // descriptors
            "# HELP dunwell_syncs_total Connector syncs finished, by plugin and result (ok or failed).",
            "# TYPE dunwell_syncs_total counter",
            "# TYPE dunwell_job_duration_seconds histogram",
            "# TYPE dunwell_open_amount_euros gauge",
        ] {
            assert_line(&text, line);
        }
        // the job never overlapped: no sample
        assert_no_sample_with(&text, r#"dunwell_job_overlaps_total{job="send"}"#);
    }

    #[test]
    fn every_metric_has_help_and_type() {
        // families without samples are not emitted, so count on metrics that have them all
        let text = busy().encode();
        let helps: Vec<&str> = lines(&text).into_iter().filter_map(|l| l.strip_prefix("# HELP ")).collect();
        let types = lines(&text).into_iter().filter(|l| l.starts_with("# TYPE ")).count();
        assert_eq!(helps.len(), 19, "{text}");
        assert_eq!(types, 19, "{text}");
        for help in helps {
            let (_name, text) = help.split_once(' ').unwrap();
            assert!(text.len() > 20, "short help: {help}");
        }

        let text = Metrics::new().encode();
        // before anything happened: counters and plain gauges at 0, no snapshot families
        assert_line(&text, "dunwell_admin_unauthorized_total 0");
        assert_line(&text, r#"dunwell_reloads_total{result="failed"} 0"#);
        assert_line(&text, "dunwell_config_last_reload_successful 1");
        assert_no_sample_with(&text, "dunwell_source_age_seconds");
    }

    #[test]
    fn a_new_snapshot_replaces_the_old_one() {
        let m = busy();
        let mut next = snapshot();
        next.source_age_seconds.retain(|(s, _)| s != "csv");
        next.source_fresh.retain(|(s, _)| s != "csv");
        next.outbox.retain(|(s, _)| s != "awaiting-approval");
        next.held_reminders.clear();
        next.open_amount.retain(|(seg, _, _)| seg != "enterprise");
        next.invoices_open.retain(|(seg, _, _)| seg != "enterprise");
        next.invoices_open[0].2 = 8;
        next.dead_letters = 0;
        m.set_snapshot(&next);

        let text = m.encode();
        assert_no_sample_with(&text, r#"source="csv""#);
        assert_no_sample_with(&text, "awaiting-approval");
        assert_no_sample_with(&text, "dunwell_held_reminders");
        assert_no_sample_with(&text, "enterprise\",bucket");
        assert_line(&text, r#"dunwell_invoices_open{segment="smb",bucket="0-30"} 8"#);
        assert_line(&text, r#"dunwell_open_amount_euros{segment="smb",bucket="0-30"} 1234.56"#);
        assert_line(&text, r#"dunwell_source_fresh{source="moneybird"} 1"#);
        assert_line(&text, "dunwell_dead_letters 0");
        // events are not state: a snapshot leaves them alone
        assert_line(&text, r#"dunwell_messages_total{channel="sms",segment="enterprise",result="failed"} 1"#);

        // an empty snapshot empties every family
        m.set_snapshot(&Snapshot::default());
        let text = m.encode();
        for name in [
            "dunwell_source_age_seconds",
            "dunwell_source_fresh",
            "dunwell_outbox_messages",
            "dunwell_open_amount_euros",
            "dunwell_invoices_open",
        ] {
            assert_no_sample_with(&text, name);
        }
        assert_line(&text, "dunwell_tasks_open 0");
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.sync_finished(r#"we"ird\plug"#, false);
        m.set_snapshot(&Snapshot {
            invoices_open: vec![("a \"b\" \\c\nd".into(), "90+".into(), 1)],
            ..Snapshot::default()
        });
        for text in [m.encode(), m.encode_openmetrics()] {
            assert_line(&text, r#"dunwell_syncs_total{plugin="we\"ird\\plug",result="failed"} 1"#);
            assert_line(&text, r#"dunwell_invoices_open{segment="a \"b\" \\c\nd",bucket="90+"} 1"#);
        }
        promtool_check(&m.encode());
    }

    #[test]
    fn openmetrics_has_unique_families_units_and_eof() {
        let text = busy().encode_openmetrics();
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_line(&text, "# TYPE dunwell_syncs counter");
        assert_line(&text, r#"dunwell_syncs_total{plugin="moneybird",result="failed"} 1"#);
        assert_line(&text, "# UNIT dunwell_job_duration_seconds seconds");
        assert_line(&text, "# UNIT dunwell_open_amount_euros euros");
        let mut families: Vec<&str> = lines(&text)
            .into_iter()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        let all = families.len();
        families.sort_unstable();
        families.dedup();
        assert_eq!(families.len(), all, "a family name twice in\n{text}");
    }

    #[test]
    fn ageing_bucket_edges() {
        for (days, bucket) in [
            (i64::MIN, "0-30"),
            (-10, "0-30"),
            (0, "0-30"),
            (30, "0-30"),
            (31, "31-60"),
            (60, "31-60"),
            (61, "61-90"),
            (90, "61-90"),
            (91, "90+"),
            (i64::MAX, "90+"),
        ] {
            assert_eq!(ageing_bucket(days), bucket, "{days} days overdue");
        }
    }

    #[test]
    fn shared_across_threads() {
        fn send_sync<T: Send + Sync + Clone + 'static>() {}
        send_sync::<Metrics>();
        let m = Metrics::new();
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..250 {
                        m.sync_finished("moneybird", true);
                        m.set_snapshot(&Snapshot { tasks_open: i, ..snapshot() });
                        let text = m.encode();
                        // never a half-replaced snapshot
                        assert_line(&text, r#"dunwell_invoices_open{segment="smb",bucket="90+"} 2"#);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_line(&m.encode(), r#"dunwell_syncs_total{plugin="moneybird",result="ok"} 1000"#);
    }

    #[test]
    fn promtool_accepts_the_prometheus_text() {
        let m = busy();
        promtool_check(&m.encode());
        promtool_check(&Metrics::new().encode());
    }

    /// Runs `promtool check metrics` on `text` and fails on any finding. promtool comes from
    /// `$PROMTOOL`, else from PATH; without it the check is skipped, unless
    /// `DUNWELL_REQUIRE_PROMTOOL=1`.
    fn promtool_check(text: &str) {
        let promtool = match std::env::var_os("PROMTOOL") {
            Some(path) if !path.is_empty() => std::path::PathBuf::from(path),
            _ => match find_on_path("promtool") {
                Some(path) => path,
                None => {
                    let how = "promtool not found (set PROMTOOL or put it on PATH); get it \
                               with `cd /tmp && apt-get download prometheus && dpkg-deb -x \
                               prometheus_*.deb /tmp/prom` and run with \
                               PROMTOOL=/tmp/prom/usr/bin/promtool";
                    if std::env::var("DUNWELL_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
                        panic!("DUNWELL_REQUIRE_PROMTOOL=1 but {how}");
                    }
                    eprintln!("NOT RUN: promtool check metrics: {how}");
                    return;
                }
            },
        };
        let mut child = Command::new(&promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", promtool.display()));
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty(),
            "promtool check metrics: {}\nstdout:\n{stdout}\nstderr:\n{stderr}\ninput:\n{text}",
            out.status
        );
    }

    fn find_on_path(name: &str) -> Option<std::path::PathBuf> {
        std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
    }
}
