//! Sync: pulls what a connector plugin has changed since its cursors and stores it in the same
//! store the spreadsheet import writes, in one transaction.
//!
//! - **All or nothing per run**: every page of customers, invoices and payments is pulled and
//!   checked (exact decimals, strict dates, known customers) before the write transaction
//!   opens. A plugin that traps, loops, runs out of memory or returns garbage leaves the store
//!   as it was, and its failure is recorded with a back-off.
//! - Records keep their origin: `source` is `plugin:<name>`, `source_id` the plugin's id.
//! - Incremental: the cursors move only when the run is committed.
//! - Removed at the source: invoices are deleted, customers too when no invoice refers to them,
//!   payments are taken off their invoice; paid invoices get their new open amount.
//! - Full syncs reconcile: an entity pulled from no cursor (the first sync, `dunwell sync
//!   --full`, or every `full_sync_hours`) is a complete snapshot, so the records of this source
//!   it lacks were removed at the source, even when the source cannot say so (a deleted file,
//!   an API that only lists changes). They go the way of records reported `removed`. Only the
//!   entities the plugin provides are reconciled.
//! - Rate limits: a source's `rate-limited(secs)` puts the next attempt at least `secs` away.
//! - Credit notes are stored as invoices with a negative total under `CN-<number>` (their
//!   numbers may repeat an invoice's); one that names the invoice it corrects is deducted from
//!   it (a payment with source id `credit:<id>`).
//! - Bank payments without an invoice are matched: structured reference, then an invoice number
//!   in the free text, then a unique open invoice of exactly that amount; the rest is kept in
//!   `unmatched_payments` and matched again on later syncs.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::law::reference::PaymentReference;
use crate::model::{
    parse_amount, parse_currency, parse_date, Address, Customer, CustomerKind, Invoice, Language,
};
use crate::plugin::bindings::dunwell::connector::types as wit;
use crate::plugin::{Plugin, PluginError};
use crate::store::{
    Counts, MatchCandidate, PaymentWriter, Store, StoreError, SyncStatus, UnmatchedPayment, WriteTx,
};

/// Pages per entity and run before the host stops believing `more`.
const MAX_PAGES: usize = 10_000;
/// Records per entity and run.
const MAX_RECORDS: usize = 2_000_000;
/// Longest text field accepted from a plugin.
const MAX_FIELD: usize = 4096;

/// The longest wait a source's `rate-limited(secs)` can impose: a garbage value from a plugin
/// must not park its syncs for years.
pub const MAX_RETRY_AFTER_SECS: u32 = 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("plugin {plugin} returned unusable data: {message}; nothing of this run was stored")]
    Invalid { plugin: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// The seconds the source asked to wait before the next attempt, when it said.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            SyncError::Plugin(e) => e.retry_after(),
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
    pub unmatched: u64,
    /// Earlier unmatched bank payments matched in this run.
    pub rematched: u64,
    pub warnings: Vec<String>,
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
        let matched = self.matched_by_reference + self.matched_by_number + self.matched_by_amount;
        if matched + self.unmatched > 0 {
            write!(
                f,
                "\nmatched:   {} by reference, {} by invoice number, {} by amount; {} unmatched",
                self.matched_by_reference, self.matched_by_number, self.matched_by_amount, self.unmatched
            )?;
            if self.rematched > 0 {
                write!(f, " ({} earlier unmatched payments matched now)", self.rematched)?;
            }
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
}

#[derive(Debug)]
pub struct SyncedCustomer {
    pub source_id: String,
    pub customer: Customer,
    pub removed: bool,
}

#[derive(Debug)]
pub struct SyncedInvoice {
    pub source_id: String,
    pub invoice: Invoice,
    pub declared_open: Option<Decimal>,
    pub credit_note: bool,
    pub corrects: Option<String>,
    pub payment_reference: Option<String>,
    pub removed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedPayment {
    pub source_id: String,
    pub date: NaiveDate,
    pub amount: Decimal,
    pub currency: String,
    pub invoice_number: Option<String>,
    pub invoice_id: Option<String>,
    pub reference: Option<String>,
    pub free_text: Option<String>,
    pub payer_name: Option<String>,
    pub payer_iban: Option<String>,
    pub removed: bool,
}

/// Runs one sync of `plugin` into `store` ([`Mode::Auto`]). On failure nothing is stored, and
/// the failure is recorded (with back-off) in the plugin's sync status.
pub fn sync(store: &mut Store, plugin: &Plugin, now: DateTime<Utc>) -> Result<SyncSummary, SyncError> {
    sync_with(store, plugin, now, Mode::Auto)
}

/// Runs one sync of `plugin` into `store`, incremental or full. On failure nothing is stored,
/// and the failure is recorded in the plugin's sync status: back-off, and at least the wait
/// the source asked for when it rate-limited the run.
pub fn sync_with(
    store: &mut Store,
    plugin: &Plugin,
    now: DateTime<Utc>,
    mode: Mode,
) -> Result<SyncSummary, SyncError> {
    let name = plugin.name().to_string();
    let full = match mode {
        Mode::Full | Mode::FullAllowEmpty => true,
        Mode::Auto => {
            let status = store.sync_status(&name)?;
            let hours = plugin.settings().full_sync_hours;
            let due = full_sync_due(status.as_ref(), hours, now);
            if !due && status.as_ref().is_some_and(|s| s.failures >= FULL_SYNC_GIVE_WAY_AFTER) && hours > 0 {
                tracing::warn!(
                    plugin = name.as_str(),
                    "the last syncs failed: pulling only what changed; run `dunwell sync {name} --full` once the cause is fixed"
                );
            }
            due
        }
    };
    if full {
        tracing::info!(plugin = name.as_str(), "full sync: pulling everything and reconciling");
    }
    let result = pull(store, plugin, full).and_then(|mut pulled| {
        pulled.allow_empty = mode == Mode::FullAllowEmpty;
        write(store, &name, pulled, now)
    });
    if let Err(e) = &result {
        let message = e.to_string();
        tracing::error!(plugin = name.as_str(), "sync failed: {message}");
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

fn invalid(plugin: &str, message: String) -> SyncError {
    SyncError::Invalid { plugin: plugin.to_string(), message }
}

/// Pulls every page of what changed (`full`: of everything), and checks it.
pub fn pull(store: &Store, plugin: &Plugin, full: bool) -> Result<Pulled, SyncError> {
    let name = plugin.name();
    let mut run = plugin.start()?;
    let info = run.describe()?;
    let limit = plugin.settings().limits.page_size;
    let mut pulled = Pulled::default();

    macro_rules! pages {
        ($entity:literal, $method:ident, $check:ident, $into:expr) => {{
            let mut cursor = if full { None } else { store.sync_cursor(name, $entity)? };
            if cursor.is_none() {
                pulled.snapshots.insert($entity);
            }
            let mut records = 0usize;
            for page_no in 0.. {
                if page_no >= MAX_PAGES {
                    return Err(invalid(name, format!("more than {MAX_PAGES} pages of {}", $entity)));
                }
                let page = run.$method(&wit::PageRequest { cursor: cursor.clone(), limit })?;
                records += page.items.len();
                if records > MAX_RECORDS {
                    return Err(invalid(name, format!("more than {MAX_RECORDS} {}", $entity)));
                }
                if page.items.len() > limit as usize {
                    return Err(invalid(
                        name,
                        format!("a page of {} {} exceeds the limit of {limit}", page.items.len(), $entity),
                    ));
                }
                for item in page.items {
                    $into.push($check(item).map_err(|m| invalid(name, format!("{}: {m}", $entity)))?);
                }
                if let Some(next) = page.next_cursor {
                    check_text("cursor", &next).map_err(|m| invalid(name, m))?;
                    cursor = Some(next);
                }
                if !page.more {
                    break;
                }
            }
            if let Some(c) = cursor {
                pulled.cursors.insert($entity, c);
            }
        }};
    }
    if info.provides_customers {
        pages!("customers", pull_customers, check_customer, pulled.customers);
    }
    if info.provides_invoices {
        pages!("invoices", pull_invoices, check_invoice, pulled.invoices);
    }
    if info.provides_payments {
        pages!("payments", pull_payments, check_payment, pulled.payments);
    }
    let provided = [info.provides_customers, info.provides_invoices, info.provides_payments];
    pulled.full = pulled.snapshots.len() == provided.iter().filter(|p| **p).count();
    tracing::info!(
        plugin = name,
        "pulled {} customers, {} invoices, {} payments with {} HTTP requests",
        pulled.customers.len(),
        pulled.invoices.len(),
        pulled.payments.len(),
        run.requests()
    );
    Ok(pulled)
}

fn check_text(what: &str, s: &str) -> Result<(), String> {
    if s.len() > MAX_FIELD {
        return Err(format!("{what} is longer than {MAX_FIELD} bytes"));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(format!("{what} `{}` holds control characters", s.escape_debug()));
    }
    Ok(())
}

fn required(what: &str, s: String) -> Result<String, String> {
    check_text(what, &s)?;
    let t = s.trim();
    if t.is_empty() {
        return Err(format!("{what} is empty"));
    }
    Ok(t.to_string())
}

fn optional(what: &str, s: Option<String>) -> Result<Option<String>, String> {
    match s {
        None => Ok(None),
        Some(s) => {
            check_text(what, &s)?;
            let t = s.trim();
            Ok((!t.is_empty()).then(|| t.to_string()))
        }
    }
}

fn amount(what: &str, id: &str, s: &str) -> Result<Decimal, String> {
    parse_amount(s).map_err(|m| format!("{id}: {what}: {m}"))
}

fn date(what: &str, id: &str, s: &str) -> Result<NaiveDate, String> {
    parse_date(s).map_err(|m| format!("{id}: {what}: {m}"))
}

fn check_customer(c: wit::Customer) -> Result<SyncedCustomer, String> {
    let source_id = required("customer id", c.id)?;
    let key = required("customer key", c.key)?;
    let id = &source_id;
    let language = match optional("language", c.language)? {
        None => None,
        Some(l) => Some(l.parse::<Language>().map_err(|m| format!("{id}: {m}"))?),
    };
    let country = optional("country", c.address.country)?.map(|c| c.to_ascii_uppercase());
    if let Some(cc) = &country {
        if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!("{id}: country `{cc}` is not an ISO 3166 alpha-2 code"));
        }
    }
    let customer = Customer {
        id: key,
        name: required("customer name", c.name)?,
        kind: match c.kind {
            Some(wit::CustomerKind::B2c) => CustomerKind::B2c,
            _ => CustomerKind::B2b,
        },
        language,
        email: optional("email", c.email)?,
        phone: optional("phone", c.phone)?,
        address: Address {
            street: optional("street", c.address.street)?,
            postal_code: optional("postal code", c.address.postal_code)?,
            city: optional("city", c.address.city)?,
            country,
        },
        customer_since: None,
        payment_method: None,
        segment: None,
    };
    Ok(SyncedCustomer { source_id, customer, removed: c.removed })
}

fn check_invoice(i: wit::Invoice) -> Result<SyncedInvoice, String> {
    let source_id = required("invoice id", i.id)?;
    let id = &source_id;
    let number = required("invoice number", i.number)?;
    let credit_note = matches!(i.kind, wit::DocumentKind::CreditNote);
    let total = amount("total", id, &i.total)?;
    let mut declared_open = i.open.as_deref().map(|o| amount("open", id, o)).transpose()?;
    if credit_note && total > Decimal::ZERO {
        return Err(format!("{id}: credit note with a positive total {total}"));
    }
    if !credit_note && total < Decimal::ZERO {
        return Err(format!("{id}: invoice with a negative total {total}; send it as a credit note"));
    }
    if declared_open.is_some_and(|o| o.abs() > total.abs()) {
        return Err(format!(
            "{id}: open amount {} above the total {total}",
            declared_open.unwrap_or_default()
        ));
    }
    let issue_date = date("issued-on", id, &i.issued_on)?;
    let due_date = date("due-on", id, &i.due_on)?;
    if due_date < issue_date {
        return Err(format!("{id}: due date {due_date} before the issue date {issue_date}"));
    }
    match i.status {
        wit::InvoiceStatus::Paid | wit::InvoiceStatus::Void => declared_open = Some(Decimal::ZERO),
        wit::InvoiceStatus::Open => {}
    }
    let corrects = if credit_note { optional("corrects", i.corrects)? } else { None };
    let stored_number = if credit_note && !number.to_ascii_uppercase().starts_with("CN") {
        format!("CN-{number}")
    } else {
        number
    };
    Ok(SyncedInvoice {
        invoice: Invoice {
            number: stored_number,
            customer_id: required("customer key", i.customer_key)?,
            issue_date,
            due_date,
            currency: parse_currency(&i.currency).map_err(|m| format!("{id}: {m}"))?,
            total,
            open_amount: declared_open.unwrap_or(total),
            paid_date: None,
        },
        source_id,
        declared_open: if corrects.is_some() { Some(Decimal::ZERO) } else { declared_open },
        credit_note,
        corrects,
        payment_reference: optional("payment reference", i.payment_reference)?,
        removed: i.removed,
    })
}

fn check_payment(p: wit::Payment) -> Result<SyncedPayment, String> {
    let source_id = required("payment id", p.id)?;
    let id = &source_id;
    let amount = amount("amount", id, &p.amount)?;
    if amount <= Decimal::ZERO {
        return Err(format!("{id}: payment amount {amount} is not positive"));
    }
    Ok(SyncedPayment {
        date: date("received-on", id, &p.received_on)?,
        amount,
        currency: parse_currency(&p.currency).map_err(|m| format!("{id}: {m}"))?,
        invoice_number: optional("invoice number", p.invoice_number)?,
        invoice_id: optional("invoice id", p.invoice_id)?,
        reference: optional("reference", p.reference)?,
        free_text: optional("free text", p.free_text)?,
        payer_name: optional("payer name", p.payer_name)?,
        payer_iban: optional("payer iban", p.payer_iban)?,
        removed: p.removed,
        source_id,
    })
}

/// Letters and digits only, upper-cased: `2024-0017` and `2024 0017` read alike.
fn squash(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_uppercase).collect()
}

/// Bank-payment matching against the store's invoices, indexed once per sync: a statement of
/// a few hundred payments against a million invoices must not scan (and regenerate the
/// reference of) every invoice for every payment.
struct Matcher {
    /// In invoice-number order; earlier candidates win ties, as the rules below say.
    candidates: Vec<MatchCandidate>,
    by_number: HashMap<String, usize>,
    /// Squashed stated references, then (built on the first payment that carries a reference)
    /// the squashed references dunwell generates (BE structured and RF) for each number.
    by_reference: HashMap<String, usize>,
    generated_indexed: bool,
    /// Squashed invoice numbers of at least 4 characters, longest first (ties in number order).
    numbers: Vec<(String, usize)>,
}

impl Matcher {
    fn new(candidates: Vec<MatchCandidate>) -> Self {
        let by_number = candidates.iter().enumerate().map(|(i, c)| (c.number.clone(), i)).collect();
        let mut by_reference = HashMap::new();
        for (i, c) in candidates.iter().enumerate() {
            if let Some(r) = c.payment_reference.as_deref().map(squash).filter(|r| !r.is_empty()) {
                by_reference.entry(r).or_insert(i);
            }
        }
        let mut numbers: Vec<(String, usize)> = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| (squash(&c.number), i))
            .filter(|(n, _)| n.len() >= 4)
            .collect();
        // The longest number wins (F2024-17 inside F2024-175 must not match the shorter).
        numbers.sort_by_key(|(n, i)| (std::cmp::Reverse(n.len()), *i));
        Matcher { candidates, by_number, by_reference, generated_indexed: false, numbers }
    }

    /// Adds the references dunwell generates for every invoice (once, lazily: most syncs bring
    /// no bank payments with a reference).
    fn index_generated(&mut self) {
        if self.generated_indexed {
            return;
        }
        self.generated_indexed = true;
        for (i, c) in self.candidates.iter().enumerate() {
            for jurisdiction in [crate::calendar::Jurisdiction::Be, crate::calendar::Jurisdiction::Nl] {
                if let Ok(r) = PaymentReference::for_invoice(jurisdiction, &c.number) {
                    let key = squash(&r.to_string());
                    // A stated reference of an earlier invoice keeps its place.
                    match self.by_reference.get(&key) {
                        Some(&j) if j <= i => {}
                        _ => {
                            self.by_reference.insert(key, i);
                        }
                    }
                }
            }
        }
    }

    /// Finds the invoice a bank payment pays: (1) structured reference, (2) invoice number in
    /// the free text, (3) the one open invoice of exactly that amount. Returns the number and
    /// the rule.
    fn find(&mut self, p: &SyncedPayment) -> Option<(String, &'static str)> {
        if let Some(r) = p.reference.as_deref() {
            let want = squash(r);
            if !want.is_empty() {
                if PaymentReference::parse(r).is_ok() {
                    self.index_generated();
                }
                if let Some(&i) = self.by_reference.get(&want) {
                    return Some((self.candidates[i].number.clone(), "reference"));
                }
            }
        }
        if let Some(text) = p.free_text.as_deref().or(p.reference.as_deref()) {
            let text = squash(text);
            if let Some((_, i)) = self.numbers.iter().find(|(n, _)| text.contains(n.as_str())) {
                return Some((self.candidates[*i].number.clone(), "number"));
            }
        }
        let mut by_amount = self.candidates.iter().filter(|c| {
            c.currency == p.currency && c.open_amount == p.amount && c.open_amount > Decimal::ZERO
        });
        match (by_amount.next(), by_amount.next()) {
            (Some(c), None) => Some((c.number.clone(), "amount")),
            _ => None,
        }
    }

    /// Lowers what is open on `number` after a payment was put on it.
    fn paid(&mut self, number: &str, amount: Decimal) {
        if let Some(&i) = self.by_number.get(number) {
            self.candidates[i].open_amount -= amount;
        }
    }
}

fn count_rule(summary: &mut SyncSummary, rule: &str) {
    match rule {
        "reference" => summary.matched_by_reference += 1,
        "number" => summary.matched_by_number += 1,
        _ => summary.matched_by_amount += 1,
    }
}

/// Recomputes the open amount and paid date of `numbers`: the amount the source stated (this
/// pull's, else the stored one) wins, else total minus payments.
fn settle(
    tx: &crate::store::WriteTx<'_>,
    numbers: &HashSet<String>,
    declared: &HashMap<&str, Option<Decimal>>,
) -> Result<(), StoreError> {
    let mut numbers: Vec<&String> = numbers.iter().collect();
    numbers.sort();
    for number in numbers {
        let Some((total, stored_declared)) = tx.invoice_amounts(number)? else { continue };
        let declared_open = declared.get(number.as_str()).copied().unwrap_or(stored_declared);
        let mut paid = tx.invoice_payments(number)?;
        paid.sort();
        let (open, paid_date) = crate::model::settlement(total, declared_open, &paid);
        tx.set_settlement(number, open, paid_date)?;
    }
    Ok(())
}

/// Drops repeats of a payment within one pull: a bank statement delivered twice brings the
/// same entries twice, and counting them twice would be wrong. The same id with different
/// content is the connector's mistake and fails the run.
fn dedupe_payments(plugin: &str, payments: &mut Vec<SyncedPayment>) -> Result<(), SyncError> {
    let mut first: HashMap<&str, usize> = HashMap::new();
    let mut repeats = Vec::new();
    for (i, p) in payments.iter().enumerate() {
        match first.get(p.source_id.as_str()) {
            None => {
                first.insert(p.source_id.as_str(), i);
            }
            Some(&j) if payments[j] == *p => repeats.push(i),
            Some(&j) => {
                let q = &payments[j];
                return Err(invalid(
                    plugin,
                    format!(
                        "payment id {} appears twice in one pull with different content ({} {} on {} and {} {} on {}); each payment needs its own id",
                        p.source_id, q.amount, q.currency, q.date, p.amount, p.currency, p.date
                    ),
                ));
            }
        }
    }
    if !repeats.is_empty() {
        tracing::debug!(plugin, "{} payments delivered twice in one pull, kept once", repeats.len());
        let mut i = 0;
        payments.retain(|_| {
            i += 1;
            repeats.binary_search(&(i - 1)).is_err()
        });
    }
    Ok(())
}

/// What complete snapshots lack: the records of this source that are no longer at the source.
#[derive(Debug, Default)]
struct Gone {
    /// (number, source id)
    invoices: Vec<(String, String)>,
    /// Customer ids.
    customers: Vec<String>,
    /// Payment source ids (stored on an invoice or unmatched).
    payments: Vec<String>,
}

/// Compares the entities pulled as snapshots with what the store holds from `source`. A record
/// the pull mentions at all (even as removed) is not gone: the pull itself says what happens
/// to it.
///
/// An empty snapshot of an entity the store holds records of removes nothing (unless
/// `allow_empty`): an unmounted share or a wrong account looks exactly like that, and wiping a
/// ledger on a hiccup is worse than keeping a removed record one more day.
fn gone(
    tx: &WriteTx<'_>,
    source: &str,
    pulled: &Pulled,
    warnings: &mut Vec<String>,
) -> Result<Gone, StoreError> {
    let mut gone = Gone::default();
    let mut guard = |entity: &str, pulled_count: usize, stored: usize| -> bool {
        if pulled_count == 0 && stored > 0 && !pulled.allow_empty {
            warnings.push(format!(
                "the complete list of {entity} came back empty while {stored} are stored from this plugin; nothing was removed (if the source really has none now, run `dunwell sync --full --allow-empty`)"
            ));
            false
        } else {
            true
        }
    };
    if pulled.snapshots.contains("invoices") {
        let seen: HashSet<&str> = pulled.invoices.iter().map(|i| i.invoice.number.as_str()).collect();
        gone.invoices = tx.invoices_of_source(source)?;
        if guard("invoices", pulled.invoices.len(), gone.invoices.len()) {
            gone.invoices.retain(|(number, _)| !seen.contains(number.as_str()));
        } else {
            gone.invoices.clear();
        }
    }
    if pulled.snapshots.contains("customers") {
        let seen: HashSet<&str> = pulled.customers.iter().map(|c| c.customer.id.as_str()).collect();
        gone.customers = tx.customers_of_source(source)?;
        if guard("customers", pulled.customers.len(), gone.customers.len()) {
            gone.customers.retain(|id| !seen.contains(id.as_str()));
        } else {
            gone.customers.clear();
        }
    }
    if pulled.snapshots.contains("payments") {
        let seen: HashSet<&str> = pulled.payments.iter().map(|p| p.source_id.as_str()).collect();
        gone.payments = tx.payments_of_source(source)?;
        if guard("payments", pulled.payments.len(), gone.payments.len()) {
            gone.payments.retain(|id| !seen.contains(id.as_str()));
        } else {
            gone.payments.clear();
        }
    }
    Ok(gone)
}

/// Deletes an invoice removed at the source, with its payments, when this source owns it.
fn remove_invoice(
    tx: &WriteTx<'_>,
    source: &str,
    number: &str,
    summary: &mut SyncSummary,
) -> Result<(), StoreError> {
    if tx.invoice_source(number)?.is_some_and(|(s, _)| s == source) && tx.delete_invoice(number)? {
        summary.invoices.removed += 1;
    }
    Ok(())
}

/// Takes the deduction of a credit note (`credit:<its source id>`) off the invoice it was on.
fn drop_credit(
    tx: &WriteTx<'_>,
    payments: &mut PaymentWriter<'_>,
    source: &str,
    source_id: &str,
    touched: &mut HashSet<String>,
) -> Result<(), StoreError> {
    let credit_id = format!("credit:{source_id}");
    if let Some(old) = tx.payment_invoice(source, &credit_id)? {
        payments.delete(&old, source, &credit_id)?;
        touched.insert(old);
    }
    Ok(())
}

/// Takes a payment removed at the source off its invoice (to be settled again), or out of the
/// unmatched bank payments.
fn remove_payment(
    tx: &WriteTx<'_>,
    payments: &mut PaymentWriter<'_>,
    source: &str,
    source_id: &str,
    touched: &mut HashSet<String>,
    summary: &mut SyncSummary,
) -> Result<(), StoreError> {
    if let Some(old) = tx.payment_invoice(source, source_id)? {
        payments.delete(&old, source, source_id)?;
        touched.insert(old);
        summary.payments.removed += 1;
    }
    tx.delete_unmatched(source, source_id)
}

/// Writes a checked pull in one transaction.
fn write(
    store: &mut Store,
    plugin: &str,
    mut pulled: Pulled,
    now: DateTime<Utc>,
) -> Result<SyncSummary, SyncError> {
    dedupe_payments(plugin, &mut pulled.payments)?;
    let source = format!("plugin:{plugin}");
    let mut summary = SyncSummary { plugin: plugin.to_string(), full: pulled.full, ..SyncSummary::default() };
    let tx = store.begin()?;

    // Customers the invoices need must be in this pull or the store.
    let pulled_customers: HashSet<&str> =
        pulled.customers.iter().filter(|c| !c.removed).map(|c| c.customer.id.as_str()).collect();
    for inv in pulled.invoices.iter().filter(|i| !i.removed) {
        let id = inv.invoice.customer_id.as_str();
        if !pulled_customers.contains(id) && !tx.customer_exists(id)? {
            return Err(invalid(
                plugin,
                format!("invoice {} refers to customer `{id}`, which is unknown", inv.invoice.number),
            ));
        }
    }
    let mut seen = HashSet::new();
    for inv in &pulled.invoices {
        if !seen.insert(inv.invoice.number.as_str()) {
            return Err(invalid(
                plugin,
                format!("invoice number {} appears twice in one pull", inv.invoice.number),
            ));
        }
    }

    // What complete snapshots lack, against the store as it was before this run.
    let gone = gone(&tx, &source, &pulled, &mut summary.warnings)?;

    let mut touched: HashSet<String> = HashSet::new();
    {
        let mut customers = tx.customer_writer()?;
        for c in pulled.customers.iter().filter(|c| !c.removed) {
            summary.customers.record(customers.upsert(&c.customer, &source, &c.source_id)?);
        }
    }
    {
        let mut invoices = tx.invoice_writer(false)?;
        for inv in &pulled.invoices {
            let number = inv.invoice.number.as_str();
            let owner = tx.invoice_source(number)?;
            if let Some((s, sid)) = &owner {
                if *s != source {
                    summary
                        .warnings
                        .push(format!("invoice {number} came from {s} ({sid}); now from {source}"));
                }
            }
            if inv.removed {
                remove_invoice(&tx, &source, number, &mut summary)?;
                continue;
            }
            // Settled against the payments already stored, so that an invoice that carries
            // payments or a credit and did not change at the source is counted unchanged
            // (this run's own payments are settled again below).
            let mut invoice = inv.invoice.clone();
            let mut paid = tx.invoice_payments(number)?;
            paid.sort();
            (invoice.open_amount, invoice.paid_date) =
                crate::model::settlement(invoice.total, inv.declared_open, &paid);
            summary.invoices.record(invoices.upsert(&invoice, inv.declared_open, &source, &inv.source_id)?);
            tx.set_payment_reference(number, inv.payment_reference.as_deref())?;
            touched.insert(number.to_string());
        }
        for (number, _) in &gone.invoices {
            remove_invoice(&tx, &source, number, &mut summary)?;
        }
    }
    // Credit notes that name their invoice are deducted from it; the deduction of a credit
    // note goes when the credit note goes (or no longer names an invoice).
    {
        let mut payments = tx.payment_writer()?;
        for cn in pulled.invoices.iter().filter(|i| i.credit_note || i.removed) {
            drop_credit(&tx, &mut payments, &source, &cn.source_id, &mut touched)?;
            if cn.removed {
                continue;
            }
            let Some(target) = cn.corrects.as_deref() else { continue };
            let credit_id = format!("credit:{}", cn.source_id);
            if tx.invoice_source(target)?.is_none() {
                summary.warnings.push(format!(
                    "credit note {} corrects invoice {target}, which is not in the store",
                    cn.invoice.number
                ));
                continue;
            }
            payments.insert(target, cn.invoice.issue_date, -cn.invoice.total, None, &source, &credit_id)?;
            touched.insert(target.to_string());
        }
        for (_, source_id) in &gone.invoices {
            drop_credit(&tx, &mut payments, &source, source_id, &mut touched)?;
        }
        // Payments a full snapshot no longer has, before matching looks at what is open.
        for source_id in &gone.payments {
            remove_payment(&tx, &mut payments, &source, source_id, &mut touched, &mut summary)?;
        }
    }
    // Open amounts as they are now, so that matching sees what is really open.
    let declared: HashMap<&str, Option<Decimal>> =
        pulled.invoices.iter().map(|i| (i.invoice.number.as_str(), i.declared_open)).collect();
    settle(&tx, &touched, &declared)?;
    // Bank payments that matched nothing before (from any plugin), against the invoices as
    // they are now: the invoice may have arrived after its payment. The invoices are loaded
    // for matching only when there is something to match.
    let unmatched = tx.unmatched()?;
    let mut matcher = if unmatched.is_empty() && pulled.payments.is_empty() {
        None
    } else {
        Some(Matcher::new(tx.match_candidates()?))
    };
    if let Some(matcher) = matcher.as_mut() {
        let mut payments = tx.payment_writer()?;
        for u in unmatched {
            let p = SyncedPayment {
                source_id: u.source_id.clone(),
                date: u.date,
                amount: u.amount,
                currency: u.currency.clone(),
                invoice_number: None,
                invoice_id: None,
                reference: u.reference.clone(),
                free_text: u.free_text.clone(),
                payer_name: u.payer_name.clone(),
                payer_iban: u.payer_iban.clone(),
                removed: false,
            };
            let Some((n, rule)) = matcher.find(&p) else { continue };
            payments.insert(&n, u.date, u.amount, None, &u.source, &u.source_id)?;
            tx.delete_unmatched(&u.source, &u.source_id)?;
            matcher.paid(&n, u.amount);
            count_rule(&mut summary, rule);
            summary.rematched += 1;
            touched.insert(n);
        }
    }
    // Payments.
    if let (false, Some(matcher)) = (pulled.payments.is_empty(), matcher.as_mut()) {
        let mut payments = tx.payment_writer()?;
        for p in &pulled.payments {
            if p.removed {
                remove_payment(&tx, &mut payments, &source, &p.source_id, &mut touched, &mut summary)?;
                continue;
            }
            if tx.payment_invoice(&source, &p.source_id)?.is_some() {
                summary.payments.unchanged += 1;
                continue;
            }
            let direct = match (&p.invoice_number, &p.invoice_id) {
                (Some(n), _) if tx.invoice_source(n)?.is_some() => Some(n.clone()),
                (_, Some(id)) => tx.invoice_by_source(&source, id)?,
                _ => None,
            };
            let target = match direct {
                Some(n) => Some(n),
                None => match matcher.find(p) {
                    Some((n, rule)) => {
                        count_rule(&mut summary, rule);
                        Some(n)
                    }
                    None => None,
                },
            };
            match target {
                Some(n) => {
                    payments.insert(&n, p.date, p.amount, None, &source, &p.source_id)?;
                    tx.delete_unmatched(&source, &p.source_id)?;
                    matcher.paid(&n, p.amount);
                    touched.insert(n);
                    summary.payments.added += 1;
                }
                None => {
                    summary.unmatched += 1;
                    tx.record_unmatched(&UnmatchedPayment {
                        source: source.clone(),
                        source_id: p.source_id.clone(),
                        date: p.date,
                        amount: p.amount,
                        currency: p.currency.clone(),
                        reference: p.reference.clone(),
                        free_text: p.free_text.clone(),
                        payer_name: p.payer_name.clone(),
                        payer_iban: p.payer_iban.clone(),
                    })?;
                }
            }
        }
    }
    // Open amounts and paid dates of everything touched.
    settle(&tx, &touched, &declared)?;
    // Customers removed at the source, once nothing refers to them.
    for c in pulled.customers.iter().filter(|c| c.removed) {
        if tx.delete_unused_customer(&c.customer.id, &source)? {
            summary.customers.removed += 1;
        } else {
            summary.warnings.push(format!(
                "customer {} was removed at the source but still has invoices; kept",
                c.customer.id
            ));
        }
    }
    // Customers a full snapshot no longer has, once nothing refers to them (one that still
    // has invoices, from another source, stays without a word).
    for id in &gone.customers {
        if tx.delete_unused_customer(id, &source)? {
            summary.customers.removed += 1;
        }
    }
    for (entity, cursor) in &pulled.cursors {
        tx.set_sync_cursor(plugin, entity, cursor)?;
    }
    // A full pull that ended without a cursor starts from nothing next time too.
    for entity in pulled.snapshots.iter().filter(|e| !pulled.cursors.contains_key(*e)) {
        tx.clear_sync_cursor(plugin, entity)?;
    }
    tx.record_sync_success(plugin, now, pulled.full)?;
    tx.log_import(&source, plugin, &summary.to_string())?;
    tx.commit()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(reference: Option<&str>, text: Option<&str>, amount: &str) -> SyncedPayment {
        SyncedPayment {
            source_id: "p".into(),
            date: "2026-01-05".parse().unwrap(),
            amount: amount.parse().unwrap(),
            currency: "EUR".into(),
            invoice_number: None,
            invoice_id: None,
            reference: reference.map(Into::into),
            free_text: text.map(Into::into),
            payer_name: None,
            payer_iban: None,
            removed: false,
        }
    }

    fn candidate(number: &str, open: &str, reference: Option<&str>) -> MatchCandidate {
        MatchCandidate {
            number: number.into(),
            currency: "EUR".into(),
            open_amount: open.parse().unwrap(),
            payment_reference: reference.map(Into::into),
        }
    }

    #[test]
    fn matching_order_reference_then_number_then_amount() {
        let mut m = Matcher::new(vec![
            candidate("F2024-17", "100.00", Some("RF18 5390 0754 7034")),
            candidate("F2024-175", "8.85", None),
            candidate("F2024-200", "50.00", None),
        ]);
        assert_eq!(
            m.find(&payment(Some("RF18539007547034"), None, "1")),
            Some(("F2024-17".into(), "reference"))
        );
        assert_eq!(
            m.find(&payment(None, Some("factuur f2024 175 bedankt"), "1")),
            Some(("F2024-175".into(), "number"))
        );
        assert_eq!(m.find(&payment(None, Some("thanks"), "50.00")), Some(("F2024-200".into(), "amount")));
        assert_eq!(m.find(&payment(None, Some("thanks"), "51")), None);
        // Once the 50.00 is paid, the amount no longer singles the invoice out.
        m.paid("F2024-200", "50.00".parse().unwrap());
        assert_eq!(m.find(&payment(None, Some("thanks"), "50.00")), None);
    }

    #[test]
    fn generated_references_match_without_a_stated_one() {
        let mut m =
            Matcher::new(vec![candidate("2026-001", "10.00", None), candidate("2026-002", "20.00", None)]);
        for jurisdiction in [crate::calendar::Jurisdiction::Be, crate::calendar::Jurisdiction::Nl] {
            let r = PaymentReference::for_invoice(jurisdiction, "2026-002").unwrap().to_string();
            assert_eq!(m.find(&payment(Some(&r), None, "1")), Some(("2026-002".into(), "reference")), "{r}");
        }
        // A reference nobody was given falls through to the other rules.
        assert_eq!(m.find(&payment(Some("+++000/0000/00097+++"), None, "3")), None);
    }

    // ---- writing and reconciling (no plugin: checked pulls written directly) ----

    fn customer(id: &str) -> SyncedCustomer {
        SyncedCustomer {
            source_id: format!("c-{id}"),
            customer: Customer {
                id: id.into(),
                name: format!("Customer {id}"),
                kind: CustomerKind::B2b,
                language: None,
                email: None,
                phone: None,
                address: Address::default(),
                customer_since: None,
                payment_method: None,
                segment: None,
            },
            removed: false,
        }
    }

    fn invoice(number: &str, customer: &str, total: &str) -> SyncedInvoice {
        let total: Decimal = total.parse().unwrap();
        SyncedInvoice {
            source_id: format!("i-{number}"),
            invoice: Invoice {
                number: number.into(),
                customer_id: customer.into(),
                issue_date: "2026-01-01".parse().unwrap(),
                due_date: "2026-01-31".parse().unwrap(),
                currency: "EUR".into(),
                total,
                open_amount: total,
                paid_date: None,
            },
            declared_open: None,
            credit_note: total < Decimal::ZERO,
            corrects: None,
            payment_reference: None,
            removed: false,
        }
    }

    fn paid(id: &str, invoice: &str, amount: &str) -> SyncedPayment {
        SyncedPayment {
            source_id: id.into(),
            invoice_number: Some(invoice.into()),
            ..payment(None, None, amount)
        }
    }

    fn pulled(
        customers: Vec<SyncedCustomer>,
        invoices: Vec<SyncedInvoice>,
        payments: Vec<SyncedPayment>,
        snapshots: &[&'static str],
    ) -> Pulled {
        Pulled {
            customers,
            invoices,
            payments,
            cursors: BTreeMap::new(),
            snapshots: snapshots.iter().copied().collect(),
            full: !snapshots.is_empty(),
            allow_empty: false,
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-02-01T10:00:00Z".parse().unwrap()
    }

    fn open_of(store: &Store) -> BTreeMap<String, String> {
        store.load_invoices().unwrap().into_iter().map(|i| (i.number, i.open_amount.to_string())).collect()
    }

    fn customer_ids(store: &Store) -> Vec<String> {
        store.load_customers().unwrap().into_iter().map(|c| c.id).collect()
    }

    /// The ubl case: two customers, two invoices and a credit note on the first.
    fn first_sync(store: &mut Store) {
        let mut cn = invoice("CN-3", "C1", "-21.00");
        cn.corrects = Some("F1".into());
        let all = pulled(
            vec![customer("C1"), customer("C2")],
            vec![invoice("F1", "C1", "121.00"), invoice("F2", "C2", "50.00"), cn],
            vec![],
            &["customers", "invoices"],
        );
        let s = write(store, "ubl", all, now()).unwrap();
        assert_eq!((s.invoices.added, s.customers.added), (3, 2));
        assert_eq!(open_of(store)["F1"], "100.00", "the credit note is deducted");
    }

    #[test]
    fn an_incremental_pull_removes_only_what_is_reported_removed() {
        let mut store = Store::open_in_memory().unwrap();
        first_sync(&mut store);
        // Nothing changed since the cursor: an empty pull that is no snapshot removes nothing.
        let s = write(&mut store, "ubl", pulled(vec![], vec![], vec![], &[]), now()).unwrap();
        assert_eq!((s.invoices.removed, s.customers.removed, s.full), (0, 0, false));
        assert_eq!(open_of(&store).len(), 3);
        // A reported removal goes.
        let mut gone = invoice("F2", "C2", "50.00");
        gone.removed = true;
        let s = write(&mut store, "ubl", pulled(vec![], vec![gone], vec![], &[]), now()).unwrap();
        assert_eq!(s.invoices.removed, 1);
        assert!(!open_of(&store).contains_key("F2"));
    }

    #[test]
    fn a_full_snapshot_removes_what_it_lacks_as_if_reported_removed() {
        let mut store = Store::open_in_memory().unwrap();
        first_sync(&mut store);
        // The source now holds only F1: F2 and the credit note were deleted there, and C2 has
        // nothing left.
        let snapshot = pulled(
            vec![customer("C1")],
            vec![invoice("F1", "C1", "121.00")],
            vec![],
            &["customers", "invoices"],
        );
        let s = write(&mut store, "ubl", snapshot, now()).unwrap();
        assert!(s.full);
        assert_eq!((s.invoices.added, s.invoices.removed), (0, 2), "{s:?}");
        assert_eq!(s.customers.removed, 1, "{s:?}");
        assert_eq!(
            open_of(&store),
            BTreeMap::from([("F1".to_string(), "121.00".to_string())]),
            "the removed credit note's deduction is gone too"
        );
        assert_eq!(customer_ids(&store), ["C1"]);
        assert!(s.to_string().starts_with("ubl (full sync):\n"), "{s}");
        // The same snapshot again: nothing more to remove.
        let again = pulled(
            vec![customer("C1")],
            vec![invoice("F1", "C1", "121.00")],
            vec![],
            &["customers", "invoices"],
        );
        let s = write(&mut store, "ubl", again, now()).unwrap();
        assert_eq!((s.invoices.removed, s.customers.removed), (0, 0));
    }

    #[test]
    fn reconciliation_keeps_other_sources_and_customers_with_invoices_left() {
        let mut store = Store::open_in_memory().unwrap();
        first_sync(&mut store);
        // Another plugin's invoice for C2.
        let other = pulled(vec![], vec![invoice("M1", "C2", "10.00")], vec![], &[]);
        write(&mut store, "moneybird", other, now()).unwrap();
        // ubl's source is empty now, and the operator said so (`--allow-empty`).
        let mut empty = pulled(vec![], vec![], vec![], &["customers", "invoices"]);
        empty.allow_empty = true;
        let s = write(&mut store, "ubl", empty, now()).unwrap();
        assert_eq!(s.invoices.removed, 3);
        assert_eq!(open_of(&store).keys().collect::<Vec<_>>(), ["M1"], "moneybird's invoice stays");
        assert_eq!(customer_ids(&store), ["C2"], "C2 still has an invoice: kept, C1 removed");
        assert_eq!(s.customers.removed, 1);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    #[test]
    fn a_payment_delivered_twice_in_one_pull_counts_once_and_a_clashing_id_fails() {
        let mut store = Store::open_in_memory().unwrap();
        first_sync(&mut store);
        let stray = SyncedPayment { source_id: "p-stray".into(), ..payment(None, Some("?"), "7.77") };
        let twice =
            pulled(vec![], vec![], vec![stray.clone(), paid("p1", "F2", "50.00"), stray.clone()], &[]);
        let s = write(&mut store, "bank", twice, now()).unwrap();
        assert_eq!((s.payments.added, s.unmatched), (1, 1), "{s:?}");
        assert_eq!(store.unmatched_payments().unwrap().len(), 1);
        let clash = SyncedPayment { amount: Decimal::new(888, 2), ..stray.clone() };
        let err =
            write(&mut store, "bank", pulled(vec![], vec![], vec![stray, clash], &[]), now()).unwrap_err();
        assert!(
            err.to_string()
                .contains("payment id p-stray appears twice in one pull with different content (7.77 EUR"),
            "{err}"
        );
    }

    #[test]
    fn a_bank_payment_on_an_invoice_removed_at_its_source_goes_back_to_unmatched() {
        let mut store = Store::open_in_memory().unwrap();
        first_sync(&mut store);
        let bank = pulled(vec![], vec![], vec![paid("p1", "F2", "50.00")], &[]);
        write(&mut store, "bank", bank, now()).unwrap();
        assert!(store.unmatched_payments().unwrap().is_empty());
        let mut gone = invoice("F2", "C2", "50.00");
        gone.removed = true;
        let s = write(&mut store, "ubl", pulled(vec![], vec![gone], vec![], &[]), now()).unwrap();
        assert_eq!(s.invoices.removed, 1);
        let unmatched = store.unmatched_payments().unwrap();
        assert_eq!(unmatched.len(), 1, "{unmatched:?}");
        assert_eq!((unmatched[0].source.as_str(), unmatched[0].source_id.as_str()), ("plugin:bank", "p1"));
        assert_eq!(unmatched[0].amount.to_string(), "50.00");
        assert_eq!(
            unmatched[0].free_text.as_deref(),
            Some("was matched to invoice F2, which was removed at its source")
        );
    }

    #[test]
    fn an_empty_snapshot_removes_nothing_unless_allowed() {
        let mut store = Store::open_in_memory().unwrap();
        first_sync(&mut store);
        // An unmounted folder: the complete lists come back empty.
        let s = write(&mut store, "ubl", pulled(vec![], vec![], vec![], &["customers", "invoices"]), now())
            .unwrap();
        assert_eq!((s.invoices.removed, s.customers.removed), (0, 0), "{s:?}");
        assert_eq!(open_of(&store).len(), 3);
        assert_eq!(customer_ids(&store).len(), 2);
        assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
        assert!(
            s.warnings[0].starts_with("the complete list of invoices came back empty while 3 are stored"),
            "{:?}",
            s.warnings
        );
        // One invoice left at the source is not empty: the other two go.
        let one = pulled(
            vec![customer("C1")],
            vec![invoice("F1", "C1", "121.00")],
            vec![],
            &["customers", "invoices"],
        );
        let s = write(&mut store, "ubl", one, now()).unwrap();
        assert_eq!(s.invoices.removed, 2, "{s:?}");
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    #[test]
    fn only_the_entities_pulled_as_snapshots_are_reconciled() {
        let mut store = Store::open_in_memory().unwrap();
        first_sync(&mut store);
        // A payments-only snapshot under the same name removes no invoice or customer.
        let s = write(&mut store, "ubl", pulled(vec![], vec![], vec![], &["payments"]), now()).unwrap();
        assert_eq!((s.invoices.removed, s.customers.removed), (0, 0));
        assert_eq!(open_of(&store).len(), 3);
        assert_eq!(customer_ids(&store).len(), 2);
        // An invoices snapshot without customers removes invoices but no customer, not even
        // one left without invoices.
        let snapshot = pulled(vec![], vec![invoice("F1", "C1", "121.00")], vec![], &["invoices"]);
        let s = write(&mut store, "ubl", snapshot, now()).unwrap();
        assert_eq!((s.invoices.removed, s.customers.removed), (2, 0));
        assert_eq!(customer_ids(&store).len(), 2);
    }

    #[test]
    fn payments_missing_from_a_snapshot_come_off_their_invoice() {
        let mut store = Store::open_in_memory().unwrap();
        first_sync(&mut store);
        // A bank pays F2 and sends a payment nobody can place.
        let stray = SyncedPayment { source_id: "p-stray".into(), ..payment(None, Some("?"), "7.77") };
        let bank = pulled(vec![], vec![], vec![paid("p1", "F2", "50.00"), stray], &["payments"]);
        let s = write(&mut store, "bank", bank, now()).unwrap();
        assert_eq!((s.payments.added, s.unmatched), (1, 1));
        assert_eq!(open_of(&store)["F2"], "0.00");
        // Incremental, nothing new: nothing removed.
        let s = write(&mut store, "bank", pulled(vec![], vec![], vec![], &[]), now()).unwrap();
        assert_eq!(s.payments.removed, 0);
        assert_eq!(open_of(&store)["F2"], "0.00");
        // A full snapshot without the statement: the payment comes off F2, which is open
        // again; the unmatched one goes too; ubl's credit-note deduction is not the bank's.
        // (An empty snapshot removes only when the operator allows it: --allow-empty.)
        let mut empty = pulled(vec![], vec![], vec![], &["payments"]);
        empty.allow_empty = true;
        let s = write(&mut store, "bank", empty, now()).unwrap();
        assert_eq!(s.payments.removed, 1);
        assert_eq!(open_of(&store)["F2"], "50.00");
        assert!(store.unmatched_payments().unwrap().is_empty());
        assert_eq!(open_of(&store)["F1"], "100.00");
        // ubl's own invoices snapshot keeps its credit note's deduction.
        let mut cn = invoice("CN-3", "C1", "-21.00");
        cn.corrects = Some("F1".into());
        let snapshot = pulled(
            vec![customer("C1"), customer("C2")],
            vec![invoice("F1", "C1", "121.00"), invoice("F2", "C2", "50.00"), cn],
            vec![],
            &["customers", "invoices"],
        );
        let s = write(&mut store, "ubl", snapshot, now()).unwrap();
        assert_eq!(s.invoices.removed, 0);
        assert_eq!(open_of(&store)["F1"], "100.00");
    }

    #[test]
    fn a_full_sync_is_recorded_and_clears_cursors_it_did_not_get() {
        let mut store = Store::open_in_memory().unwrap();
        let mut first = pulled(vec![customer("C1")], vec![], vec![], &[]);
        first.cursors.insert("customers", "page:2".into());
        write(&mut store, "mb", first, now()).unwrap();
        assert_eq!(store.sync_cursor("mb", "customers").unwrap().as_deref(), Some("page:2"));
        let status = store.sync_status("mb").unwrap().unwrap();
        assert_eq!(status.last_full_sync, None, "an incremental run is no full sync");
        let later = now() + chrono::Duration::hours(1);
        write(&mut store, "mb", pulled(vec![customer("C1")], vec![], vec![], &["customers"]), later).unwrap();
        assert_eq!(store.sync_cursor("mb", "customers").unwrap(), None);
        let status = store.sync_status("mb").unwrap().unwrap();
        assert_eq!(status.last_full_sync, Some(later.to_rfc3339()));
        // An incremental run afterwards keeps the time of the last full one.
        write(&mut store, "mb", pulled(vec![], vec![], vec![], &[]), later + chrono::Duration::hours(1))
            .unwrap();
        assert_eq!(store.sync_status("mb").unwrap().unwrap().last_full_sync, Some(later.to_rfc3339()));
    }

    #[test]
    fn full_syncs_fall_due_after_the_configured_hours() {
        let status = |last: Option<&str>| SyncStatus {
            plugin: "p".into(),
            last_success: None,
            last_failure: None,
            failures: 0,
            next_attempt: None,
            last_error: None,
            last_full_sync: last.map(Into::into),
        };
        let at = now();
        assert!(full_sync_due(None, 24, at), "never synced");
        assert!(full_sync_due(Some(&status(None)), 24, at), "never a full sync");
        assert!(!full_sync_due(Some(&status(Some("2026-01-31T10:00:01Z"))), 24, at));
        assert!(full_sync_due(Some(&status(Some("2026-01-31T10:00:00Z"))), 24, at));
        assert!(full_sync_due(Some(&status(Some("garbage"))), 24, at));
        assert!(!full_sync_due(Some(&status(None)), 0, at), "0: never by itself");
        assert!(!full_sync_due(None, 0, at));
        // Failing full syncs give way to incremental ones after two failures in a row.
        let failing = |failures| SyncStatus { failures, ..status(Some("2026-01-01T00:00:00Z")) };
        assert!(full_sync_due(Some(&failing(1)), 24, at));
        assert!(!full_sync_due(Some(&failing(2)), 24, at));
    }

    #[test]
    fn a_rate_limit_pushes_the_next_attempt_past_the_wait_asked() {
        assert_eq!(retry_wait(1, None), chrono::Duration::minutes(1));
        assert_eq!(retry_wait(1, Some(7200)), chrono::Duration::hours(2), "later than the back-off");
        assert_eq!(retry_wait(9, Some(10)), backoff(9), "the back-off is later than 10 s");
        assert_eq!(retry_wait(1, Some(u32::MAX)), chrono::Duration::hours(24), "capped");
        let err = SyncError::Plugin(PluginError::Reported {
            plugin: "mb".into(),
            what: "invoices".into(),
            message: "rate limited by the source; retry in 7200s".into(),
            retry_after: Some(7200),
        });
        assert_eq!(err.retry_after(), Some(7200));
        let mut store = Store::open_in_memory().unwrap();
        let status =
            store.record_sync_failure("mb", now(), |n| retry_wait(n, err.retry_after()), "x").unwrap();
        let next: DateTime<Utc> = status.next_attempt.unwrap().parse().unwrap();
        assert_eq!(next, now() + chrono::Duration::seconds(7200));
        assert!(!due(store.sync_status("mb").unwrap().as_ref(), now() + chrono::Duration::seconds(7199)));
        assert!(due(store.sync_status("mb").unwrap().as_ref(), now() + chrono::Duration::seconds(7200)));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), chrono::Duration::minutes(1));
        assert_eq!(backoff(3), chrono::Duration::minutes(4));
        assert_eq!(backoff(40), chrono::Duration::hours(6));
    }

    #[test]
    fn garbage_is_refused() {
        let inv = |total: &str, due: &str| wit::Invoice {
            id: "1".into(),
            number: "F1".into(),
            customer_key: "C1".into(),
            kind: wit::DocumentKind::Invoice,
            issued_on: "2026-01-01".into(),
            due_on: due.into(),
            currency: "EUR".into(),
            total: total.into(),
            open: None,
            payment_reference: None,
            corrects: None,
            status: wit::InvoiceStatus::Open,
            removed: false,
        };
        assert!(check_invoice(inv("12.50", "2026-01-31")).is_ok());
        for (t, d) in [
            ("1e3", "2026-01-31"),
            ("NaN", "2026-01-31"),
            ("1,5", "2026-01-31"),
            ("10", "2026-02-30"),
            ("10", "31-01-2026"),
            ("-5", "2026-01-31"),
        ] {
            assert!(check_invoice(inv(t, d)).is_err(), "{t} {d}");
        }
    }
}
