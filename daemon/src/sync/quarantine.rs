//! Setting aside what a pull brought that cannot be stored, and keeping the quarantine table
//! in step with each run: the record-level problems (a bad field, an unknown customer, an
//! invoice number twice, one payment id with two contents) that must not stop the rest of the
//! run from landing.

use std::collections::{HashMap, HashSet};

use super::check::Unusable;
use super::{Pulled, SyncSummary, SyncedPayment};
use crate::store::{QuarantinedRecord, StoreError, WriteTx};

/// The quarantine entry of a record the checks refused. A record without a usable id gets one
/// from its place in the pull: it cannot be told apart from others anyway, and a complete
/// pull (which every sync makes while it is quarantined) replaces it.
pub(super) fn entry(entity: &'static str, bad: Unusable, page: usize, index: usize) -> QuarantinedRecord {
    QuarantinedRecord {
        entity,
        id: bad.id.unwrap_or_else(|| format!("(no id: page {}, record {})", page + 1, index + 1)),
        record: bad.record,
        field: bad.field.to_string(),
        reason: bad.reason,
    }
}

/// Drops repeats of a payment within one pull: a bank statement delivered twice brings the
/// same entries twice, and counting them twice would be wrong. One id with different contents
/// cannot be told apart: every record with that id is set aside.
pub(super) fn dedupe_payments(pulled: &mut Pulled) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    let mut repeats = HashSet::new();
    let mut clashes: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in pulled.payments.iter().enumerate() {
        match first.get(p.source_id.as_str()) {
            None => {
                first.insert(p.source_id.as_str(), i);
            }
            Some(&j) if pulled.payments[j] == *p => {
                repeats.insert(i);
            }
            Some(&j) => clashes.entry(p.source_id.clone()).or_insert_with(|| vec![j]).push(i),
        }
    }
    if !repeats.is_empty() {
        tracing::debug!("{} payments delivered twice in one pull, kept once", repeats.len());
    }
    let mut drop = repeats;
    let mut ids: Vec<_> = clashes.into_iter().collect();
    ids.sort();
    for (id, at) in ids {
        let describe = |p: &SyncedPayment| format!("{} {} on {}", p.amount, p.currency, p.date);
        let contents: Vec<String> = at.iter().map(|&i| describe(&pulled.payments[i])).collect();
        pulled.quarantined.push(QuarantinedRecord {
            entity: "payments",
            id: id.clone(),
            record: Some(contents[0].clone()),
            field: "id".into(),
            reason: format!(
                "payment id {id} appears {} times in one pull with different contents ({}); each payment needs its own id",
                at.len(),
                contents.join(", ")
            ),
        });
        drop.extend(at);
    }
    let mut i = 0;
    pulled.payments.retain(|_| {
        i += 1;
        !drop.contains(&(i - 1))
    });
}

/// Sets aside every invoice whose number appears more than once in the pull (two files with
/// one number): which one is right is for a person to say, so neither is stored.
pub(super) fn repeated_numbers(pulled: &mut Pulled) {
    let mut by_number: HashMap<&str, Vec<&str>> = HashMap::new();
    for inv in &pulled.invoices {
        by_number.entry(inv.invoice.number.as_str()).or_default().push(inv.source_id.as_str());
    }
    let repeated: HashMap<String, Vec<String>> = by_number
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(n, ids)| (n.to_string(), ids.into_iter().map(str::to_string).collect()))
        .collect();
    if repeated.is_empty() {
        return;
    }
    pulled.invoices.retain(|inv| {
        let Some(ids) = repeated.get(&inv.invoice.number) else { return true };
        let others: Vec<&str> = ids.iter().map(String::as_str).filter(|id| *id != inv.source_id).collect();
        pulled.quarantined.push(QuarantinedRecord {
            entity: "invoices",
            id: inv.source_id.clone(),
            record: Some(inv.invoice.number.clone()),
            field: "number".into(),
            reason: format!(
                "invoice number {} appears {} times in one pull: here and in {}; neither is stored until one is corrected",
                inv.invoice.number,
                ids.len(),
                others.join(", ")
            ),
        });
        false
    });
}

/// Sets aside invoices whose customer is neither in this pull nor in the store.
pub(super) fn unknown_customers(tx: &WriteTx<'_>, pulled: &mut Pulled) -> Result<(), StoreError> {
    let pulled_customers: HashSet<String> =
        pulled.customers.iter().filter(|c| !c.removed).map(|c| c.customer.id.clone()).collect();
    let quarantined_customers: HashSet<String> = pulled
        .quarantined
        .iter()
        .filter(|q| q.entity == "customers")
        .filter_map(|q| q.record.clone())
        .collect();
    let mut keep = Vec::with_capacity(pulled.invoices.len());
    for inv in std::mem::take(&mut pulled.invoices) {
        let id = inv.invoice.customer_id.as_str();
        if inv.removed || pulled_customers.contains(id) || tx.customer_exists(id)? {
            keep.push(inv);
            continue;
        }
        let why = if quarantined_customers.contains(id) {
            "is quarantined itself (see its record)"
        } else {
            "is in neither this pull nor the store"
        };
        pulled.quarantined.push(QuarantinedRecord {
            entity: "invoices",
            id: inv.source_id.clone(),
            record: Some(inv.invoice.number.clone()),
            field: "customer-key".into(),
            reason: format!("invoice {} refers to customer `{id}`, which {why}", inv.invoice.number),
        });
    }
    pulled.invoices = keep;
    Ok(())
}

/// Sets aside customers and invoices whose key another source owns, unless this plugin may
/// adopt that source's records: upserts go by key, so without this a plugin could redirect a
/// spreadsheet customer's e-mail, clear a segment set by hand, or mark any invoice paid and
/// then delete it.
pub(super) fn foreign(tx: &WriteTx<'_>, source: &str, pulled: &mut Pulled) -> Result<(), StoreError> {
    let adopt = pulled.adopt.clone();
    let other = |owner: Option<String>| owner.filter(|o| o != source && !adopt.contains(o));
    let advice = |owner: &str| {
        format!(
            "it belongs to {owner}, and a plugin may not change another source's records (to take them over, e.g. in a migration, add `adopt = [\"{}\"]` to the plugin's section)",
            owner.strip_prefix("plugin:").unwrap_or(owner)
        )
    };
    let mut keep = Vec::with_capacity(pulled.customers.len());
    for c in std::mem::take(&mut pulled.customers) {
        match other(tx.customer_source(&c.customer.id)?) {
            Some(owner) if !c.removed => pulled.quarantined.push(QuarantinedRecord {
                entity: "customers",
                id: c.source_id.clone(),
                record: Some(c.customer.id.clone()),
                field: "key".into(),
                reason: format!("customer {}: {}", c.customer.id, advice(&owner)),
            }),
            _ => keep.push(c),
        }
    }
    pulled.customers = keep;
    let mut keep = Vec::with_capacity(pulled.invoices.len());
    for inv in std::mem::take(&mut pulled.invoices) {
        match other(tx.invoice_source(&inv.invoice.number)?.map(|(s, _)| s)) {
            Some(owner) if !inv.removed => pulled.quarantined.push(QuarantinedRecord {
                entity: "invoices",
                id: inv.source_id.clone(),
                record: Some(inv.invoice.number.clone()),
                field: "number".into(),
                reason: format!("invoice {}: {}", inv.invoice.number, advice(&owner)),
            }),
            _ => keep.push(inv),
        }
    }
    pulled.invoices = keep;
    Ok(())
}

/// The ids of what this run quarantined, per entity: they count as present in a full sync's
/// reconciliation, so what the store holds for them stays.
/// The source ids of `entity` set aside in this run, and in the earlier runs of a full pull it
/// completes.
pub(super) fn held(pulled: &Pulled, entity: &str) -> HashSet<String> {
    let mut held: HashSet<String> =
        pulled.quarantined.iter().filter(|q| q.entity == entity).map(|q| q.id.clone()).collect();
    if let Some(seen) = pulled.seen_before.get(entity) {
        held.extend(seen.held.iter().cloned());
    }
    held
}

/// Brings the quarantine table in step with this run: records that arrived usable (or
/// removed) leave it, so do those a complete pull lacks (gone at the source); what this run
/// set aside is put (or kept, with one more attempt).
pub(super) fn record(
    tx: &WriteTx<'_>,
    plugin: &str,
    pulled: &Pulled,
    now: &str,
    summary: &mut SyncSummary,
) -> Result<(), StoreError> {
    for entity in ["customers", "invoices", "payments"] {
        let stored = tx.quarantined(plugin, entity)?;
        if stored.is_empty() {
            continue;
        }
        let held = held(pulled, entity);
        let usable: HashSet<&str> = match entity {
            "customers" => pulled.customers.iter().map(|c| c.source_id.as_str()).collect(),
            "invoices" => pulled.invoices.iter().map(|i| i.source_id.as_str()).collect(),
            _ => pulled.payments.iter().map(|p| p.source_id.as_str()).collect(),
        };
        let complete = pulled.snapshots.contains(entity);
        for q in stored.iter().filter(|q| !held.contains(&q.id)) {
            if (complete || usable.contains(q.id.as_str())) && tx.quarantine_release(plugin, entity, &q.id)? {
                summary.released += 1;
                tracing::info!(plugin, "{entity} {} left the quarantine", q.id);
            }
        }
    }
    let mut seen = HashSet::new();
    // What the quarantine keeps is shown and stored: the plugin's secrets masked.
    let r = &pulled.redactor;
    let unique: Vec<QuarantinedRecord> = pulled
        .quarantined
        .iter()
        .filter(|q| seen.insert((q.entity, q.id.as_str())))
        .map(|q| QuarantinedRecord {
            entity: q.entity,
            id: r.apply(&q.id),
            record: q.record.as_deref().map(|x| r.apply(x)),
            field: q.field.clone(),
            reason: r.apply(&q.reason),
        })
        .collect();
    for q in &unique {
        // The reason names the record, the field and the value; the id is the plugin's.
        tracing::warn!(plugin, field = q.field.as_str(), "quarantined {} {}: {}", q.entity, q.id, q.reason);
        tx.quarantine_put(plugin, q, now)?;
    }
    summary.quarantined = unique.len() as u64;
    summary.quarantine = unique;
    Ok(())
}
