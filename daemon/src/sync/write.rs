//! Writing a checked pull in the run's one transaction: upserts, removals (reported or missing
//! from a full snapshot), credit-note deductions, bank-payment matching and open amounts.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::matching::{count_rule, Matcher};
use super::quarantine;
use super::{Pulled, SyncError, SyncSummary, SyncedPayment, CREDIT_PREFIX};
use crate::store::{PaymentWriter, Store, StoreError, UnmatchedPayment, WriteTx};

/// What this pull's invoices state, by number: the open amount and the paid date.
type Stated<'a> = HashMap<&'a str, (Option<Decimal>, Option<NaiveDate>)>;

/// Recomputes the open amount and paid date of `numbers`: the amount the source stated (this
/// pull's, else the stored one) wins, else total minus payments; the payments date the
/// settlement, else this pull's paid date.
fn settle(tx: &WriteTx<'_>, numbers: &HashSet<String>, stated: &Stated<'_>) -> Result<(), StoreError> {
    let mut numbers: Vec<&String> = numbers.iter().collect();
    numbers.sort();
    for number in numbers {
        let Some((total, stored_declared)) = tx.invoice_amounts(number)? else { continue };
        let (declared_open, paid_date) = match stated.get(number.as_str()) {
            Some(&(open, paid)) => (open, paid),
            None => (stored_declared, None),
        };
        let (open, paid_date) = settlement(tx, number, total, declared_open, paid_date)?;
        tx.set_settlement(number, open, paid_date)?;
    }
    Ok(())
}

/// [`crate::model::settlement`] of `number` against the payments stored for it now; a settled
/// invoice no payment dates takes the paid date its source stated (`stated_paid`, contract
/// 0.2), so segmentation learns from sources without a payment list.
fn settlement(
    tx: &WriteTx<'_>,
    number: &str,
    total: Decimal,
    declared_open: Option<Decimal>,
    stated_paid: Option<NaiveDate>,
) -> Result<(Decimal, Option<NaiveDate>), StoreError> {
    let mut paid = tx.invoice_payments(number)?;
    paid.sort();
    let (open, paid_date) = crate::model::settlement(total, declared_open, &paid);
    let settled = open <= Decimal::ZERO && total > Decimal::ZERO;
    Ok((open, paid_date.or(stated_paid.filter(|_| settled))))
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
/// the pull mentions at all (even as removed, or quarantined) is not gone: the pull itself
/// says what happens to it.
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
    let allow_empty = pulled.allow_empty;
    let mut gone = Gone::default();
    if pulled.snapshots.contains("invoices") {
        let held = quarantine::held(pulled, "invoices");
        let keys = with_seen(pulled, "invoices");
        let stored = tx.invoices_of_source(source)?;
        gone.invoices = lacking("invoices", keys, held.len(), stored, |(n, _)| n, allow_empty, warnings);
        gone.invoices.retain(|(_, id)| !held.contains(id));
    }
    if pulled.snapshots.contains("customers") {
        let held = quarantine::held(pulled, "customers");
        let keys = with_seen(pulled, "customers");
        let stored = tx.customers_of_source(source)?;
        gone.customers = lacking("customers", keys, held.len(), stored, |(k, _)| k, allow_empty, warnings)
            .into_iter()
            .filter(|(_, id)| !held.contains(id))
            .map(|(key, _)| key)
            .collect();
    }
    if pulled.snapshots.contains("payments") {
        let held = quarantine::held(pulled, "payments");
        let keys = with_seen(pulled, "payments");
        let stored = tx.payments_of_source(source)?;
        gone.payments = lacking("payments", keys, held.len(), stored, |id| id, allow_empty, warnings);
        gone.payments.retain(|id| !held.contains(id));
    }
    Ok(gone)
}

/// The keys of `entity` this run pulled, those a snapshot is reconciled by: invoice numbers,
/// customer ids, payment source ids.
fn pulled_keys<'p>(pulled: &'p Pulled, entity: &str) -> Vec<&'p str> {
    match entity {
        "customers" => pulled.customers.iter().map(|c| c.customer.id.as_str()).collect(),
        "invoices" => pulled.invoices.iter().map(|i| i.invoice.number.as_str()).collect(),
        _ => pulled.payments.iter().map(|p| p.source_id.as_str()).collect(),
    }
}

/// The complete list a snapshot of `entity` is reconciled against: the keys this run pulled,
/// with those the earlier runs of a full pull saw.
fn with_seen<'p>(pulled: &'p Pulled, entity: &str) -> HashSet<&'p str> {
    let mut all: HashSet<&str> = pulled_keys(pulled, entity).into_iter().collect();
    if let Some(seen) = pulled.seen_before.get(entity) {
        all.extend(seen.keys.iter().map(String::as_str));
    }
    all
}

/// What the store holds of one entity (`stored`, keyed by `key`) that a snapshot with `keys`
/// (and `held` quarantined records) lacks; nothing, with a warning, for an empty snapshot
/// unless `allow_empty`.
fn lacking<T>(
    entity: &str,
    keys: HashSet<&str>,
    held: usize,
    stored: Vec<T>,
    key: impl Fn(&T) -> &String,
    allow_empty: bool,
    warnings: &mut Vec<String>,
) -> Vec<T> {
    if keys.is_empty() && held == 0 && !stored.is_empty() && !allow_empty {
        warnings.push(format!(
            "the complete list of {entity} came back empty while {} are stored from this plugin; nothing was removed (if the source really has none now, run `dunwell sync --full --allow-empty`)",
            stored.len()
        ));
        return Vec::new();
    }
    stored.into_iter().filter(|r| !keys.contains(key(r).as_str())).collect()
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
    let credit_id = format!("{CREDIT_PREFIX}{source_id}");
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

fn unmatched_of(source: &str, p: &SyncedPayment) -> UnmatchedPayment {
    UnmatchedPayment {
        source: source.to_string(),
        source_id: p.source_id.clone(),
        date: p.date,
        amount: p.amount,
        currency: p.currency.clone(),
        reference: p.reference.clone(),
        free_text: p.free_text.clone(),
        payer_name: p.payer_name.clone(),
        payer_iban: p.payer_iban.clone(),
    }
}

/// Writes a checked pull in one transaction.
///
/// `failed`: the run stopped on a failure after its first pages; they are stored, but the run
/// is not recorded as a success (the caller records the failure).
pub(super) fn write(
    store: &mut Store,
    plugin: &str,
    mut pulled: Pulled,
    now: DateTime<Utc>,
    failed: bool,
) -> Result<SyncSummary, SyncError> {
    let source = format!("plugin:{plugin}");
    let mut summary = SyncSummary { plugin: plugin.to_string(), full: pulled.full, ..SyncSummary::default() };
    summary.stopped = pulled.stop.as_ref().map(|s| {
        let next = if s.full_pull { "the full sync goes on" } else { "the next sync goes on" };
        let pages = if s.pages == 1 { "1 page".to_string() } else { format!("{} pages", s.pages) };
        format!("{} after {pages} ({} records): {}; {next} from there", s.entity, s.records, s.reason)
    });
    // Records that cannot be stored as they are go aside; the rest of the run lands.
    quarantine::dedupe_payments(&mut pulled);
    quarantine::repeated_numbers(&mut pulled);
    let tx = store.begin()?;
    // Another source's records stay that source's; customers the invoices need must be in
    // this pull or the store.
    quarantine::foreign(&tx, &source, &mut pulled)?;
    quarantine::unknown_customers(&tx, &mut pulled)?;

    // What complete snapshots lack, against the store as it was before this run.
    let gone = gone(&tx, &source, &pulled, &mut summary.warnings)?;

    let mut touched: HashSet<String> = HashSet::new();
    // Source ids this source used before for the invoices it now sends under another id (a
    // connector that changed how it names records): their credit deductions go.
    let mut renamed: Vec<String> = Vec::new();
    {
        let mut customers = tx.plugin_customer_writer()?;
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
                    // Adopted (anything else was quarantined above).
                    summary
                        .warnings
                        .push(format!("invoice {number} came from {s} ({sid}); now from {source}"));
                } else if *sid != inv.source_id {
                    renamed.push(sid.clone());
                }
            }
            if inv.removed {
                remove_invoice(&tx, &source, number, &mut summary)?;
                continue;
            }
            // Settled against the payments already stored, so that an invoice that carries
            // payments or a credit and did not change at the source is counted unchanged.
            // Invoices whose payments change later in this run are settled again below.
            let mut invoice = inv.invoice.clone();
            (invoice.open_amount, invoice.paid_date) =
                settlement(&tx, number, invoice.total, inv.declared_open, inv.invoice.paid_date)?;
            summary.invoices.record(invoices.upsert(&invoice, inv.declared_open, &source, &inv.source_id)?);
            tx.set_payment_reference(number, inv.payment_reference.as_deref())?;
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
            let credit_id = format!("{CREDIT_PREFIX}{}", cn.source_id);
            match tx.invoice_source(target)? {
                None => {
                    summary.warnings.push(format!(
                        "credit note {} corrects invoice {target}, which is not in the store",
                        cn.invoice.number
                    ));
                    continue;
                }
                // A credit note corrects only its own source's invoices: a plugin must not
                // deduct from another source's claim.
                Some((owner, _)) if owner != source => {
                    summary.warnings.push(format!(
                        "credit note {} corrects invoice {target}, which belongs to {owner}; not deducted (book it there)",
                        cn.invoice.number
                    ));
                    continue;
                }
                Some(_) => {}
            }
            payments.insert(target, cn.invoice.issue_date, -cn.invoice.total, None, &source, &credit_id)?;
            touched.insert(target.to_string());
        }
        for source_id in gone.invoices.iter().map(|(_, id)| id).chain(&renamed) {
            drop_credit(&tx, &mut payments, &source, source_id, &mut touched)?;
        }
        // Payments a full snapshot no longer has, before matching looks at what is open.
        for source_id in &gone.payments {
            remove_payment(&tx, &mut payments, &source, source_id, &mut touched, &mut summary)?;
        }
    }
    // Open amounts as they are now, so that matching sees what is really open.
    let stated: Stated<'_> = pulled
        .invoices
        .iter()
        .map(|i| (i.invoice.number.as_str(), (i.declared_open, i.invoice.paid_date)))
        .collect();
    settle(&tx, &touched, &stated)?;
    // Bank payments that matched nothing before (from any plugin), against the invoices as
    // they are now: the invoice may have arrived after its payment. The invoices are loaded
    // for matching only when there is something to match.
    let unmatched = tx.unmatched()?;
    let mut matcher = if unmatched.is_empty() && pulled.payments.is_empty() {
        None
    } else {
        Some(Matcher::new(tx.match_candidates()?, tx.known_payers()?))
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
            payments.insert_bank(&n, u.date, u.amount, u.payer_iban.as_deref(), &u.source, &u.source_id)?;
            tx.delete_unmatched(&u.source, &u.source_id)?;
            matcher.paid(&n, u.amount, u.payer_iban.as_deref());
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
            // Money in another currency than the invoice's pays nothing of it.
            let direct = match direct {
                Some(n) if matcher.currency(&n).is_some_and(|c| c != p.currency) => {
                    summary.warnings.push(format!(
                        "payment {} of {} {} names invoice {n}, which is in {}; kept with the unmatched payments",
                        p.source_id,
                        p.amount,
                        p.currency,
                        matcher.currency(&n).unwrap_or("?")
                    ));
                    summary.unmatched += 1;
                    tx.record_unmatched(&unmatched_of(&source, p))?;
                    continue;
                }
                other => other,
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
                    payments.insert_bank(
                        &n,
                        p.date,
                        p.amount,
                        p.payer_iban.as_deref(),
                        &source,
                        &p.source_id,
                    )?;
                    tx.delete_unmatched(&source, &p.source_id)?;
                    matcher.paid(&n, p.amount, p.payer_iban.as_deref());
                    touched.insert(n);
                    summary.payments.added += 1;
                }
                None => {
                    summary.unmatched += 1;
                    tx.record_unmatched(&unmatched_of(&source, p))?;
                }
            }
        }
    }
    // Open amounts and paid dates of everything touched.
    settle(&tx, &touched, &stated)?;
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
    quarantine::record(&tx, plugin, &pulled, &now.to_rfc3339(), &mut summary)?;
    full_pull_progress(&tx, plugin, &pulled, now)?;
    if !failed {
        tx.record_sync_success(plugin, now, pulled.full)?;
    }
    tx.log_import(&source, plugin, &summary.to_string())?;
    tx.commit()?;
    Ok(summary)
}

/// Keeps a full pull that runs over several syncs in step: the entities whose complete list
/// came in are done (and were reconciled above), the one the run stopped in resumes at its
/// cursor with the keys it saw kept, and once every entity is done the pull is over.
fn full_pull_progress(
    tx: &WriteTx<'_>,
    plugin: &str,
    pulled: &Pulled,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let stop = pulled.stop.as_ref().filter(|s| s.full_pull);
    if pulled.full_pull_started.is_none() && stop.is_none() {
        return Ok(());
    }
    if pulled.full {
        return tx.full_pull_clear(plugin);
    }
    let started = pulled.full_pull_started.clone().unwrap_or_else(|| now.to_rfc3339());
    for entity in &pulled.snapshots {
        tx.full_pull_done(plugin, entity, &started)?;
    }
    if let Some(stop) = stop {
        tx.full_pull_resume(plugin, stop.entity, stop.resume.as_deref(), &started)?;
        if stop.resume.is_some() {
            tx.full_pull_saw(plugin, stop.entity, false, pulled_keys(pulled, stop.entity))?;
            let held = quarantine::held(pulled, stop.entity);
            tx.full_pull_saw(plugin, stop.entity, true, held.iter().map(String::as_str))?;
        }
    }
    Ok(())
}
