//! Sync: pulls what a connector plugin has changed since its cursors and stores it in the same
//! store the spreadsheet import writes, in one transaction.
//!
//! - **One transaction per run, one bad record never stops the others**: every page of
//!   customers, invoices and payments is pulled and checked (exact decimals, strict dates,
//!   known customers) before the write transaction opens. A full pull too big for one run's
//!   budget stores the complete pages it got and goes on in the next runs, which reconcile
//!   when its last page is in ([`Stop`], ARCHITECTURE.md "A full pull runs over several
//!   syncs"). A record the host cannot use is set
//!   aside in the quarantine with its field and reason (`quarantine.rs`), and the rest is
//!   stored. A plugin that traps, loops, runs out of memory or returns something that is not a
//!   page leaves the store as it was, and its failure is recorded with a back-off.
//! - Quarantined records are tried again on every sync: an entity with quarantined records is
//!   pulled whole (from no cursor), so an unchanged record is seen again, and one the complete
//!   pull lacks was removed at the source. A quarantined record counts as present in a full
//!   sync's reconciliation: what the store holds for it is kept.
//! - Records keep their origin: `source` is `plugin:<name>`, `source_id` the plugin's id.
//! - Incremental: the cursors move only when the run is committed.
//! - Removed at the source: invoices are deleted, customers too when no invoice refers to them,
//!   payments are taken off their invoice; paid invoices get their new open amount.
//! - Full syncs reconcile: an entity pulled from no cursor (the first sync, `dunwell sync
//!   --full`, or every `full_sync_hours`) is a complete snapshot, so the records of this source
//!   it lacks were removed at the source, even when the source cannot say so (a deleted file,
//!   an API that only lists changes). They go the way of records reported `removed`. Only the
//!   entities the plugin provides are reconciled.
//! - Snapshot sources: a connector whose `describe()` says `snapshot` (contract 0.2: an API
//!   without a change feed) is pulled from no cursor on every run, and every run reconciles
//!   like a full sync (with the same guard: an empty snapshot removes nothing and warns).
//! - Paid dates: an invoice the source reports paid with a `paid-date` (contract 0.2) keeps
//!   that date as its paid date when no payment list dates the settlement, so segmentation
//!   learns how its customer pays.
//! - Rate limits: a source's `rate-limited(secs)` puts the next attempt at least `secs` away.
//! - Credit notes are stored as invoices with a negative total under `CN-<number>` (their
//!   numbers may repeat an invoice's); one that names the invoice it corrects is deducted from
//!   it (a payment with source id `credit:<id>`).
//! - Bank payments without an invoice are matched: structured reference, then an invoice number
//!   in the free text, then a unique open invoice of exactly that amount (or, among several,
//!   the one of the customer whose account paid before); the rest is kept in
//!   `unmatched_payments` and matched again on later syncs.

mod check;
mod matching;
mod quarantine;
mod write;

pub use check::{SyncedCustomer, SyncedInvoice, SyncedPayment, Unusable, UNUSABLE_PREFIX};

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::plugin::bindings::dunwell::connector::types as wit;
use crate::plugin::{Plugin, PluginError};
use crate::store::{Counts, FullPullEntity, QuarantinedRecord, Store, StoreError, SyncStatus};
use check::{check_cursor, check_customer, check_invoice, check_paid_date, check_payment};
use write::write;

/// Pages per entity and run before the host stops believing `more`.
const MAX_PAGES: usize = 10_000;
/// Records per entity and run.
const MAX_RECORDS: usize = 2_000_000;

/// The longest wait a source's `rate-limited(secs)` can impose: a garbage value from a plugin
/// must not park its syncs for years.
pub const MAX_RETRY_AFTER_SECS: u32 = 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// A required config key or secret of the plugin is not set: nothing was pulled.
    #[error(transparent)]
    Unset(#[from] crate::plugin::settings::Unset),
    #[error("plugin {plugin} returned unusable data: {message}; nothing of this run was stored")]
    Invalid { plugin: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The source failed part-way through an entity: the pages before were stored.
    #[error("{message}; {kept}")]
    Stopped {
        plugin: String,
        /// What of the run was stored, and where the next one goes on.
        kept: String,
        message: String,
        retry_after: Option<u32>,
    },
}

impl SyncError {
    /// The seconds the source asked to wait before the next attempt, when it said.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            SyncError::Plugin(e) => e.retry_after(),
            SyncError::Stopped { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Whether a sync pulls only what changed or takes a complete snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// From the stored cursors, unless the plugin's `full_sync_hours` have passed since its
    /// last full sync (or it never had one): then full.
    Auto,
    /// Every entity from no cursor; what the snapshot lacks is removed (`dunwell sync --full`).
    Full,
    /// As `Full`, and an empty snapshot removes everything of this source too
    /// (`--full --allow-empty`); otherwise an empty snapshot removes nothing.
    FullAllowEmpty,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct SyncSummary {
    pub plugin: String,
    /// Every entity was pulled as a complete snapshot and reconciled.
    pub full: bool,
    pub customers: Counts,
    pub invoices: Counts,
    pub payments: Counts,
    /// Bank payments matched to an invoice, by rule.
    pub matched_by_reference: u64,
    pub matched_by_number: u64,
    pub matched_by_amount: u64,
    /// Among several open invoices of the amount, the one of the customer whose account paid
    /// before.
    pub matched_by_payer: u64,
    pub unmatched: u64,
    /// Earlier unmatched bank payments matched in this run.
    pub rematched: u64,
    /// Records of this run set aside: the host cannot use them (`dunwell quarantine`).
    pub quarantined: u64,
    /// Records that were quarantined before and arrived usable or were removed at the source.
    pub released: u64,
    /// What was set aside in this run, and why.
    pub quarantine: Vec<QuarantinedRecord>,
    pub warnings: Vec<String>,
    /// The run stopped before an entity's last page (its budget ran out): where, and why; the
    /// next sync resumes there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl fmt::Display for SyncSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = |c: &Counts| {
            format!(
                "{} added, {} changed, {} unchanged, {} removed",
                c.added, c.changed, c.unchanged, c.removed
            )
        };
        writeln!(f, "{}{}:", self.plugin, if self.full { " (full sync)" } else { "" })?;
        writeln!(f, "customers: {}", line(&self.customers))?;
        writeln!(f, "invoices:  {}", line(&self.invoices))?;
        write!(f, "payments:  {}", line(&self.payments))?;
        let matched = self.matched_by_reference
            + self.matched_by_number
            + self.matched_by_amount
            + self.matched_by_payer;
        if matched + self.unmatched > 0 {
            write!(
                f,
                "\nmatched:   {} by reference, {} by invoice number, {} by amount, {} by amount and known account; {} unmatched",
                self.matched_by_reference,
                self.matched_by_number,
                self.matched_by_amount,
                self.matched_by_payer,
                self.unmatched
            )?;
            if self.rematched > 0 {
                write!(f, " ({} earlier unmatched payments matched now)", self.rematched)?;
            }
        }
        if self.quarantined + self.released > 0 {
            write!(
                f,
                "\nquarantine: {} quarantined, {} released (`dunwell quarantine` lists them; each sync tries them again)",
                self.quarantined, self.released
            )?;
        }
        if let Some(stopped) = &self.stopped {
            write!(f, "\nstopped:   {stopped}")?;
        }
        Ok(())
    }
}

/// Back-off after `failures` failed runs in a row: 1, 2, 4 ... minutes, at most 6 hours.
pub fn backoff(failures: u32) -> chrono::Duration {
    chrono::Duration::minutes(1i64 << failures.saturating_sub(1).min(9)).min(chrono::Duration::hours(6))
}

/// The wait before the next attempt after `failures` failed runs in a row, when the source
/// may have asked for `retry_after` seconds: the later of the two (the request capped at
/// [`MAX_RETRY_AFTER_SECS`]).
pub fn retry_wait(failures: u32, retry_after: Option<u32>) -> chrono::Duration {
    let asked = retry_after.map_or(chrono::Duration::zero(), |s| {
        chrono::Duration::seconds(i64::from(s.min(MAX_RETRY_AFTER_SECS)))
    });
    backoff(failures).max(asked)
}

/// Whether a full sync is due: `hours` (0: never automatically) have passed since the last
/// full sync, or there was none (an unreadable time counts as none). After two failures in a
/// row an automatic sync pulls only what changed: a full pull needs a first sync's request and
/// time budget, and one that keeps failing must not stop the daily news from coming in.
pub fn full_sync_due(status: Option<&SyncStatus>, hours: u32, now: DateTime<Utc>) -> bool {
    if hours == 0 || status.is_some_and(|s| s.failures >= FULL_SYNC_GIVE_WAY_AFTER) {
        return false;
    }
    match status.and_then(|s| s.last_full_sync.as_deref()).and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        None => true,
        Some(t) => {
            now.signed_duration_since(t.with_timezone(&Utc)) >= chrono::Duration::hours(i64::from(hours))
        }
    }
}

/// Failures in a row after which an automatic sync stops trying to be a full one.
const FULL_SYNC_GIVE_WAY_AFTER: u32 = 2;

/// The source id prefix of the payment that carries a credit note's deduction from the invoice
/// it corrects (`credit:<the credit note's id>`); the store's SQL spells it out too.
pub(crate) const CREDIT_PREFIX: &str = "credit:";

/// Whether a plugin's back-off has passed.
pub fn due(status: Option<&SyncStatus>, now: DateTime<Utc>) -> bool {
    status
        .and_then(|s| s.next_attempt.as_deref())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .is_none_or(|t| t.with_timezone(&Utc) <= now)
}

/// What one run pulled, checked.
#[derive(Debug, Default)]
pub struct Pulled {
    pub customers: Vec<SyncedCustomer>,
    pub invoices: Vec<SyncedInvoice>,
    pub payments: Vec<SyncedPayment>,
    pub cursors: BTreeMap<&'static str, String>,
    /// The entities pulled from no cursor: complete snapshots, reconciled against the store.
    pub snapshots: BTreeSet<&'static str>,
    /// Every entity the plugin provides is a snapshot.
    pub full: bool,
    /// An empty snapshot may remove everything the store holds from this source.
    pub allow_empty: bool,
    /// Records the checks could not use, set aside instead of stored.
    pub quarantined: Vec<QuarantinedRecord>,
    /// The other sources whose records this plugin may take over (`adopt`).
    pub adopt: Vec<String>,
    /// Masks the plugin's secrets in what the quarantine keeps.
    pub redactor: crate::plugin::Redactor,
    /// Where the run stopped before an entity's last page, if it did.
    pub stop: Option<Stop>,
    /// When the full pull this run continued began (`None`: no full pull was under way).
    pub full_pull_started: Option<String>,
    /// What the earlier runs of the full pull saw of the entities this run resumed.
    pub seen_before: BTreeMap<&'static str, Seen>,
}

/// Runs one sync of `plugin` into `store` ([`Mode::Auto`]). On failure nothing is stored, and
/// the failure is recorded (with back-off) in the plugin's sync status.
pub fn sync(store: &mut Store, plugin: &Plugin, now: DateTime<Utc>) -> Result<SyncSummary, SyncError> {
    sync_with(store, plugin, now, Mode::Auto)
}

/// Runs one sync of `plugin` into `store`, incremental or full. On failure nothing is stored
/// (but the complete pages of a full pull, [`SyncError::Stopped`]), and the failure is
/// recorded in the plugin's sync status: back-off, and at least the wait the source asked for
/// when it rate-limited the run.
pub fn sync_with(
    store: &mut Store,
    plugin: &Plugin,
    now: DateTime<Utc>,
    mode: Mode,
) -> Result<SyncSummary, SyncError> {
    let name = plugin.name().to_string();
    let status = store.sync_status(&name)?;
    let mut gave_way = false;
    let full = match mode {
        Mode::Full | Mode::FullAllowEmpty => true,
        Mode::Auto => {
            let hours = plugin.settings().full_sync_hours;
            let due = full_sync_due(status.as_ref(), hours, now);
            gave_way =
                !due && status.as_ref().is_some_and(|s| s.failures >= FULL_SYNC_GIVE_WAY_AFTER) && hours > 0;
            due
        }
    };
    let under_way = store.full_pull(&name)?;
    if full && under_way.is_empty() {
        tracing::info!(plugin = name.as_str(), "full sync: pulling everything and reconciling");
    }
    // Entities with quarantined records are pulled whole, so every one is looked at again;
    // not after two failures in a row (the same give-way as for full syncs).
    let retry = match status {
        Some(s) if s.failures >= FULL_SYNC_GIVE_WAY_AFTER => BTreeSet::new(),
        _ => store.quarantined_entities(&name)?,
    };
    let mut failure = None;
    let result = pull(store, plugin, full, &retry, &under_way, run_day(now)).and_then(|mut pulled| {
        // A failure part-way: the pages before it are stored, then the failure is recorded.
        if let Some(stop) = pulled.stop.as_mut() {
            let kept = if stop.pages > 0 {
                format!(
                    "the {} {} pulled before it were stored, and the next sync resumes there",
                    stop.records, stop.entity
                )
            } else {
                format!("what this run pulled before it was stored, and the next sync goes on with the {}", stop.entity)
            };
            failure = stop.error.take().map(|e| SyncError::Stopped {
                plugin: name.clone(),
                kept,
                retry_after: e.retry_after(),
                message: match e {
                    SyncError::Invalid { plugin, message } => {
                        format!("plugin {plugin} returned unusable data: {message}")
                    }
                    other => other.to_string(),
                },
            });
        }
        // (A snapshot source has nothing else to pull: its pulls are full all the same.)
        if gave_way && !pulled.full {
            tracing::warn!(
                plugin = name.as_str(),
                "the last syncs failed: pulled only what changed; run `dunwell sync {name} --full` once the cause is fixed"
            );
        }
        pulled.allow_empty = mode == Mode::FullAllowEmpty;
        pulled.adopt = plugin.settings().adopt.clone();
        pulled.redactor = plugin.redactor().clone();
        let failed = failure.is_some();
        let summary = write(store, &name, pulled, now, failed)?;
        match failure.take() {
            Some(e) => Err(e),
            None => Ok(summary),
        }
    });
    // What leaves the run: the plugin's secrets masked, plugin text capped and escaped (the
    // plugin's own errors are already; a host message may quote a record).
    let result = result.map_err(|e| match e {
        SyncError::Invalid { plugin: who, message } => SyncError::Invalid {
            plugin: who,
            message: crate::text::plugin_text(&plugin.redactor().apply(&message)),
        },
        SyncError::Stopped { plugin: who, kept, message, retry_after } => SyncError::Stopped {
            plugin: who,
            kept,
            message: crate::text::plugin_text(&plugin.redactor().apply(&message)),
            retry_after,
        },
        other => other,
    });
    if let Err(e) = &result {
        // Not logged here: the caller reports the error once (`dunwell sync`'s `error:` line,
        // the daemon's "sync failed" line).
        let message = e.to_string();
        let retry_after = e.retry_after();
        let status =
            store.record_sync_failure(&name, now, |failures| retry_wait(failures, retry_after), &message)?;
        tracing::warn!(
            plugin = name.as_str(),
            "{} failure(s) in a row; next attempt not before {}",
            status.failures,
            status.next_attempt.as_deref().unwrap_or("-")
        );
    }
    result
}

/// The run's day for dates a source reports as past (an invoice's paid date): the day at `now`
/// where it starts first (UTC+14), so that no source's own "today" is refused.
fn run_day(now: DateTime<Utc>) -> NaiveDate {
    (now + chrono::Duration::hours(14)).date_naive()
}

/// Whether an entity is pulled from no cursor (and so reconciled as a complete snapshot): a
/// full sync, a source whose every pull is a snapshot, or an entity pulled whole to retry its
/// quarantined records.
fn from_scratch(full: bool, snapshot: bool, whole: bool) -> bool {
    full || snapshot || whole
}

fn invalid(plugin: &str, message: String) -> SyncError {
    SyncError::Invalid { plugin: plugin.to_string(), message }
}

/// Where a run stopped before an entity's last page: its budget (requests, pages, records,
/// `max_pull_mb`) ran out, or the source failed after the first pages. What came before is
/// stored; the next run resumes at `resume`.
#[derive(Debug)]
pub struct Stop {
    pub entity: &'static str,
    /// The entity was pulled from no cursor, as part of a full pull (which then runs over
    /// several syncs); else an incremental pull, whose cursor simply moves to `resume`.
    pub full_pull: bool,
    /// Where the entity got to: the cursor after its last page (or the one it started from);
    /// `None`: it starts from no cursor again.
    pub resume: Option<String>,
    /// Pages and records of the entity this run got before the stop.
    pub pages: usize,
    pub records: usize,
    /// Why it stopped, for the summary.
    pub reason: String,
    /// The failure, when it was one (a budget running out is not): recorded as the run's
    /// failure once the pages before it are stored.
    pub error: Option<SyncError>,
}

/// What the earlier runs of a full pull saw of one entity: keys of usable records, and source
/// ids of quarantined ones.
#[derive(Debug, Default)]
pub struct Seen {
    pub keys: std::collections::HashSet<String>,
    pub held: std::collections::HashSet<String>,
}

impl Seen {
    fn load(store: &Store, plugin: &str, entity: &str) -> Result<Seen, StoreError> {
        let (keys, held) = store.full_pull_seen(plugin, entity)?;
        Ok(Seen { keys, held })
    }
}

/// Pulls every page of what changed (`full`, or a plugin that says every pull is a snapshot:
/// of everything; the entities in `whole`: all of them too), and checks it (`today`: the run's
/// day, see [`run_day`]): what cannot be used goes to `Pulled::quarantined`.
///
/// `under_way` is the full pull an earlier run began and could not finish (its budget ran out
/// or the source failed part-way): its entities resume where they stopped, those whose list is
/// complete pull only what changed since, and the rest start from no cursor, so the run that
/// gets the last page of the last entity completes the full pull.
pub fn pull(
    store: &Store,
    plugin: &Plugin,
    full: bool,
    whole: &BTreeSet<String>,
    under_way: &[FullPullEntity],
    today: NaiveDate,
) -> Result<Pulled, SyncError> {
    let name = plugin.name();
    let mut run = plugin.start()?;
    let info = run.describe()?;
    // The required config keys and secrets are set before anything is pulled.
    use crate::plugin::settings::{check_required, SetIn};
    check_required(plugin.settings(), &info.config_keys, SetIn::Config)?;
    if info.snapshot && !full && under_way.is_empty() {
        tracing::info!(plugin = name, "every pull is a snapshot: pulling everything and reconciling");
    }
    let snapshot = info.snapshot;
    let limits = &plugin.settings().limits;
    let limit = limits.page_size;
    let budget = limits.max_pull_bytes;
    let mut pulled_bytes = 0u64;
    let mut pulled =
        Pulled { full_pull_started: under_way.first().map(|e| e.started.clone()), ..Pulled::default() };
    if let Some(started) = &pulled.full_pull_started {
        tracing::info!(plugin = name, "continuing the full pull begun at {started}");
    }

    // Whether an entity of this run got a page in.
    let progressed = std::cell::Cell::new(false);
    macro_rules! pages {
        ($entity:literal, $method:ident, $check:ident, $into:expr) => {{
            let state = under_way.iter().find(|e| e.entity == $entity);
            // Where this entity starts, and whether it is pulled from no cursor (complete).
            let start = match state {
                // Its complete list came in an earlier run of the full pull: what changed
                // since, or nothing for a source without a change feed.
                Some(s) if s.done && snapshot => None,
                Some(s) if s.done => Some((store.sync_cursor(name, $entity)?, false)),
                Some(s) => Some((s.cursor.clone(), true)),
                None if !under_way.is_empty() || from_scratch(full, snapshot, whole.contains($entity)) => {
                    Some((None, true))
                }
                None => Some((store.sync_cursor(name, $entity)?, false)),
            };
            if let (None, Some((mut cursor, scratch))) = (&pulled.stop, start) {
                if let Some(s) = state.filter(|s| !s.done) {
                    tracing::info!(plugin = name, "resuming {} after the {} seen so far", $entity, s.seen);
                    pulled.seen_before.insert($entity, Seen::load(store, name, $entity)?);
                } else if !full && !snapshot && under_way.is_empty() && whole.contains($entity) {
                    tracing::info!(plugin = name, "pulling all {} again to retry the quarantined ones", $entity);
                }
                let mut records = 0usize;
                let mut pages = 0usize;
                // Err((why it stopped, the failure if it was one)).
                let ended: Result<(), (String, Option<SyncError>)> = loop {
                    if pages >= MAX_PAGES {
                        break Err((format!("{MAX_PAGES} pages of {} in one run", $entity), None));
                    }
                    let page = match run.$method(&wit::PageRequest { cursor: cursor.clone(), limit }) {
                        Ok(page) => page,
                        Err(_) if run.out_of_requests() => {
                            break Err((
                                format!(
                                    "the run's {} HTTP requests (max_requests) were used up",
                                    limits.max_requests
                                ),
                                None,
                            ))
                        }
                        Err(e) => break Err((e.to_string(), Some(e.into()))),
                    };
                    if page.items.len() > limit as usize {
                        let m = format!("a page of {} {} exceeds the limit of {limit}", page.items.len(), $entity);
                        break Err((m.clone(), Some(invalid(name, m))));
                    }
                    let more = page.more;
                    records += page.items.len();
                    pulled_bytes += page.items.iter().map(check::TextSize::text_size).sum::<usize>() as u64;
                    for (i, item) in page.items.into_iter().enumerate() {
                        match ($check)(item) {
                            Ok(record) => $into.push(record),
                            Err(bad) => pulled.quarantined.push(quarantine::entry($entity, bad, pages, i)),
                        }
                    }
                    if let Some(next) = page.next_cursor {
                        if let Err(m) = check_cursor(&next) {
                            break Err((m.clone(), Some(invalid(name, m))));
                        }
                        cursor = Some(next);
                    }
                    pages += 1;
                    if !more {
                        break Ok(());
                    }
                    // A full pull of a big administration takes minutes: say how far it got.
                    if pages % 10 == 0 {
                        tracing::info!(plugin = name, "{records} {} pulled so far ({pages} pages)", $entity);
                    }
                    if pulled_bytes > budget {
                        break Err((
                            format!(
                                "the records of this run reached max_pull_mb ({} MiB) in [plugins.{name}]",
                                budget >> 20
                            ),
                            None,
                        ));
                    }
                    if records > MAX_RECORDS {
                        break Err((format!("{MAX_RECORDS} {} in one run", $entity), None));
                    }
                };
                match ended {
                    Ok(()) => {
                        if scratch {
                            pulled.snapshots.insert($entity);
                        }
                        if let Some(c) = cursor {
                            pulled.cursors.insert($entity, c);
                        }
                    }
                    Err((reason, error)) => {
                        // Something of this run is worth keeping: a page of this entity, or an
                        // earlier entity's pages (this one then starts next time).
                        let progress = progressed.get() || pages > 0;
                        // A full pull keeps what came in even when the source failed (and
                        // resumes there); an incremental one only when its budget ran out
                        // (a failed one stores nothing and starts where it did).
                        if !progress || (!scratch && error.is_some()) {
                            return Err(error.unwrap_or_else(|| {
                                invalid(
                                    name,
                                    format!(
                                        "{reason} before the first page of {} was complete; raise the limit in [plugins.{name}]",
                                        $entity
                                    ),
                                )
                            }));
                        }
                        if let (false, Some(c)) = (scratch, &cursor) {
                            pulled.cursors.insert($entity, c.clone());
                        }
                        // A failure is reported once, by the caller; a budget that ran out
                        // is said here (and in the summary).
                        if error.is_none() {
                            tracing::info!(
                                plugin = name,
                                "{} stopped after {pages} pages ({records} records): {reason}; the next sync goes on from there",
                                $entity
                            );
                        }
                        pulled.stop =
                            Some(Stop { entity: $entity, full_pull: scratch, resume: cursor, pages, records, reason, error });
                    }
                }
                progressed.set(progressed.get() || pages > 0);
            }
        }};
    }
    let mut provided = Vec::new();
    if info.provides_customers {
        provided.push("customers");
        pages!("customers", pull_customers, check_customer, pulled.customers);
    }
    if info.provides_invoices {
        provided.push("invoices");
        let check = |i| check_invoice(i).and_then(|i| check_paid_date(i, today));
        pages!("invoices", pull_invoices, check, pulled.invoices);
    }
    if info.provides_payments {
        provided.push("payments");
        pages!("payments", pull_payments, check_payment, pulled.payments);
    }
    // Complete when every entity's list came in, in this run or an earlier one of the pull.
    pulled.full = provided
        .iter()
        .all(|e| pulled.snapshots.contains(e) || under_way.iter().any(|u| u.entity == *e && u.done));
    tracing::info!(
        plugin = name,
        "pulled {} customers, {} invoices, {} payments ({} unusable) with {} HTTP requests",
        pulled.customers.len(),
        pulled.invoices.len(),
        pulled.payments.len(),
        pulled.quarantined.len(),
        run.requests()
    );
    Ok(pulled)
}

#[cfg(test)]
mod tests;
