//! Records a plugin sent that the host cannot use (a bad amount, date, currency; an unknown
//! customer; an invoice number twice in one pull), kept aside with the reason instead of
//! failing the whole run. Each is tried again on every sync until the source sends it usable,
//! reports it removed, or a complete pull no longer has it.

use std::collections::BTreeSet;

use rusqlite::params;
use serde::Serialize;

use super::{Store, StoreError, WriteTx};

/// A record set aside by a sync, as `dunwell quarantine` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quarantined {
    pub plugin: String,
    /// `customers`, `invoices` or `payments`.
    pub entity: String,
    /// The plugin's id of the record (for a file connector, usually the file).
    pub id: String,
    /// What the record says it is, to find it at the source: an invoice number, a customer
    /// key, a payment's amount and date.
    pub record: Option<String>,
    /// The field that cannot be used (`amount`, `due-on`, `customer-key`, `number`, ...).
    pub field: String,
    pub reason: String,
    /// RFC 3339: the sync that first set it aside, and the latest that still did.
    pub first_seen: String,
    pub last_seen: String,
    /// Syncs that set it aside.
    pub attempts: u32,
}

/// One record a sync sets aside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantinedRecord {
    pub entity: &'static str,
    pub id: String,
    pub record: Option<String>,
    pub field: String,
    pub reason: String,
}

const SELECT: &str =
    "SELECT plugin, entity, source_id, record, field, reason, first_seen, last_seen, attempts
                      FROM quarantine";

fn read(
    stmt: &mut rusqlite::Statement<'_>,
    args: impl rusqlite::Params,
) -> Result<Vec<Quarantined>, StoreError> {
    let rows = stmt.query_map(args, |r| {
        Ok(Quarantined {
            plugin: r.get(0)?,
            entity: r.get(1)?,
            id: r.get(2)?,
            record: r.get(3)?,
            field: r.get(4)?,
            reason: r.get(5)?,
            first_seen: r.get(6)?,
            last_seen: r.get(7)?,
            attempts: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl Store {
    /// Everything quarantined, of one plugin or of all, by plugin, entity and id.
    pub fn quarantine(&self, plugin: Option<&str>) -> Result<Vec<Quarantined>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "{SELECT} WHERE ?1 IS NULL OR plugin = ?1 ORDER BY plugin, entity, source_id"
        ))?;
        read(&mut stmt, [plugin])
    }

    /// The entities of `plugin` that have quarantined records: a sync pulls them whole again,
    /// so that every quarantined record is looked at again.
    pub fn quarantined_entities(&self, plugin: &str) -> Result<BTreeSet<String>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT DISTINCT entity FROM quarantine WHERE plugin = ?1")?;
        let rows = stmt.query_map([plugin], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl WriteTx<'_> {
    /// The quarantined records of one entity of `plugin`.
    pub fn quarantined(&self, plugin: &str, entity: &str) -> Result<Vec<Quarantined>, StoreError> {
        let mut stmt =
            self.tx.prepare(&format!("{SELECT} WHERE plugin = ?1 AND entity = ?2 ORDER BY source_id"))?;
        read(&mut stmt, params![plugin, entity])
    }

    /// Sets a record aside, or notes that this sync still finds it unusable (first seen kept).
    pub fn quarantine_put(&self, plugin: &str, q: &QuarantinedRecord, now: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO quarantine (plugin, entity, source_id, record, field, reason, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
             ON CONFLICT (plugin, entity, source_id) DO UPDATE SET record = excluded.record,
                field = excluded.field, reason = excluded.reason, last_seen = excluded.last_seen,
                attempts = attempts + 1",
            params![plugin, q.entity, q.id, q.record, q.field, q.reason, now],
        )?;
        Ok(())
    }

    /// Takes a record out of quarantine (it arrived usable, or was removed at the source).
    pub fn quarantine_release(&self, plugin: &str, entity: &str, id: &str) -> Result<bool, StoreError> {
        let n = self.tx.execute(
            "DELETE FROM quarantine WHERE plugin = ?1 AND entity = ?2 AND source_id = ?3",
            params![plugin, entity, id],
        )?;
        Ok(n > 0)
    }
}
