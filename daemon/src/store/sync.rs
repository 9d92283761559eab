//! What the store keeps for connector syncs: cursors, each plugin's status and back-off, bank
//! payments no invoice was found for yet, and the look-ups and deletions a sync run makes.

use std::collections::HashSet;

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};
use rust_decimal::Decimal;

use super::{date_col, decimal_col, Store, StoreError, WriteTx};

/// A plugin's sync health: failures in a row and when to try again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncStatus {
    pub plugin: String,
    pub last_success: Option<String>,
    pub last_failure: Option<String>,
    pub failures: u32,
    /// RFC 3339; a scheduler waits until then after a failure.
    pub next_attempt: Option<String>,
    pub last_error: Option<String>,
    /// RFC 3339; when the last complete snapshot (full sync) was stored.
    pub last_full_sync: Option<String>,
}

/// An invoice as bank matching sees it (paid ones too: a payment by reference or number may
/// land on an invoice that is already paid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchCandidate {
    pub number: String,
    pub customer_id: String,
    pub currency: String,
    pub open_amount: Decimal,
    pub payment_reference: Option<String>,
}

/// A bank payment no invoice could be found for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnmatchedPayment {
    pub source: String,
    pub source_id: String,
    pub date: NaiveDate,
    pub amount: Decimal,
    pub currency: String,
    pub reference: Option<String>,
    pub free_text: Option<String>,
    pub payer_name: Option<String>,
    pub payer_iban: Option<String>,
}

/// One entity of a full pull that runs over several syncs (migration 13).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FullPullEntity {
    pub entity: String,
    /// Where the next run resumes; `None` once `done` (or before the first page).
    pub cursor: Option<String>,
    /// Its complete list is in and was reconciled.
    pub done: bool,
    /// RFC 3339: when the full pull began.
    pub started: String,
    /// Keys the earlier runs of the pull saw (usable records and quarantined ones).
    pub seen: u64,
}

/// The most of an error kept in `sync_status.last_error`: a plugin's 16 MiB error must not be
/// written into the database on every retry.
const MAX_LAST_ERROR: usize = 4096;

impl Store {
    pub fn sync_cursor(&self, plugin: &str, entity: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT cursor FROM sync_cursors WHERE plugin = ?1 AND entity = ?2",
                [plugin, entity],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn sync_status(&self, plugin: &str) -> Result<Option<SyncStatus>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT plugin, last_success, last_failure, failures, next_attempt, last_error,
                        last_full_sync
                 FROM sync_status WHERE plugin = ?1",
                [plugin],
                |r| {
                    Ok(SyncStatus {
                        plugin: r.get(0)?,
                        last_success: r.get(1)?,
                        last_failure: r.get(2)?,
                        failures: r.get(3)?,
                        next_attempt: r.get(4)?,
                        last_error: r.get(5)?,
                        last_full_sync: r.get(6)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records a failed sync in its own small transaction: failures + 1, next attempt after
    /// `backoff`.
    pub fn record_sync_failure(
        &mut self,
        plugin: &str,
        at: chrono::DateTime<chrono::Utc>,
        backoff: impl Fn(u32) -> chrono::Duration,
        error: &str,
    ) -> Result<SyncStatus, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let failures: u32 = tx
            .query_row("SELECT failures FROM sync_status WHERE plugin = ?1", [plugin], |r| r.get(0))
            .optional()?
            .unwrap_or(0)
            + 1;
        let next = (at + backoff(failures)).to_rfc3339();
        tx.execute(
            "INSERT INTO sync_status (plugin, last_failure, failures, next_attempt, last_error)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (plugin) DO UPDATE SET last_failure = excluded.last_failure,
                failures = excluded.failures, next_attempt = excluded.next_attempt,
                last_error = excluded.last_error",
            params![plugin, at.to_rfc3339(), failures, next, crate::text::cap(error, MAX_LAST_ERROR)],
        )?;
        tx.commit()?;
        // The row was just written.
        self.sync_status(plugin)?.ok_or(StoreError::Sql(rusqlite::Error::QueryReturnedNoRows))
    }

    pub fn unmatched_payments(&self) -> Result<Vec<UnmatchedPayment>, StoreError> {
        read_unmatched(&self.conn)
    }

    /// The full pull of `plugin` under way, per entity; empty when there is none.
    pub fn full_pull(&self, plugin: &str) -> Result<Vec<FullPullEntity>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT f.entity, f.cursor, f.done, f.started,
                    (SELECT count(*) FROM sync_full_seen s WHERE s.plugin = f.plugin AND s.entity = f.entity)
               FROM sync_full_pulls f WHERE f.plugin = ?1 ORDER BY f.entity",
        )?;
        let rows = stmt.query_map([plugin], |r| {
            Ok(FullPullEntity {
                entity: r.get(0)?,
                cursor: r.get(1)?,
                done: r.get(2)?,
                started: r.get(3)?,
                seen: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The keys the earlier runs of a full pull saw of `entity`: (keys of usable records,
    /// source ids of quarantined ones).
    pub fn full_pull_seen(
        &self,
        plugin: &str,
        entity: &str,
    ) -> Result<(HashSet<String>, HashSet<String>), StoreError> {
        let mut stmt =
            self.conn.prepare("SELECT held, key FROM sync_full_seen WHERE plugin = ?1 AND entity = ?2")?;
        let mut rows = stmt.query([plugin, entity])?;
        let (mut keys, mut held) = (HashSet::new(), HashSet::new());
        while let Some(r) = rows.next()? {
            if r.get::<_, bool>(0)? {
                held.insert(r.get(1)?);
            } else {
                keys.insert(r.get(1)?);
            }
        }
        Ok((keys, held))
    }
}

fn read_unmatched(conn: &Connection) -> Result<Vec<UnmatchedPayment>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT source, source_id, date, amount, currency, reference, free_text, payer_name, payer_iban
             FROM unmatched_payments ORDER BY date, source, source_id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(UnmatchedPayment {
            source: r.get(0)?,
            source_id: r.get(1)?,
            date: date_col(r.get_ref(2)?.as_str()?)?,
            amount: decimal_col(r.get_ref(3)?.as_str()?)?,
            currency: r.get(4)?,
            reference: r.get(5)?,
            free_text: r.get(6)?,
            payer_name: r.get(7)?,
            payer_iban: r.get(8)?,
        });
    }
    Ok(out)
}

/// An invoice of a connector by its id there (the `source <> 'csv'` lets SQLite use the
/// partial index of migration 4).
const INVOICE_BY_SOURCE_ID: &str =
    "SELECT number FROM invoices WHERE source = ?1 AND source <> 'csv' AND source_id = ?2";

impl WriteTx<'_> {
    /// Bank payments no invoice was found for yet.
    pub fn unmatched(&self) -> Result<Vec<UnmatchedPayment>, StoreError> {
        read_unmatched(&self.tx)
    }

    pub fn set_sync_cursor(&self, plugin: &str, entity: &str, cursor: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO sync_cursors (plugin, entity, cursor) VALUES (?1, ?2, ?3)
             ON CONFLICT (plugin, entity) DO UPDATE SET cursor = excluded.cursor",
            params![plugin, entity, cursor],
        )?;
        Ok(())
    }

    /// A full pull of `entity` stopped before its last page: the next run resumes at `cursor`,
    /// or, without one (the source gave none), starts the entity over, forgetting what it saw.
    pub fn full_pull_resume(
        &self,
        plugin: &str,
        entity: &str,
        cursor: Option<&str>,
        started: &str,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO sync_full_pulls (plugin, entity, cursor, done, started) VALUES (?1, ?2, ?3, 0, ?4)
             ON CONFLICT (plugin, entity) DO UPDATE SET cursor = excluded.cursor, done = 0",
            params![plugin, entity, cursor, started],
        )?;
        if cursor.is_none() {
            self.tx.execute(
                "DELETE FROM sync_full_seen WHERE plugin = ?1 AND entity = ?2",
                params![plugin, entity],
            )?;
        }
        Ok(())
    }

    /// The complete list of `entity` is in (and reconciled): its seen keys are no longer needed.
    pub fn full_pull_done(&self, plugin: &str, entity: &str, started: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO sync_full_pulls (plugin, entity, cursor, done, started) VALUES (?1, ?2, NULL, 1, ?3)
             ON CONFLICT (plugin, entity) DO UPDATE SET cursor = NULL, done = 1",
            params![plugin, entity, started],
        )?;
        self.tx.execute(
            "DELETE FROM sync_full_seen WHERE plugin = ?1 AND entity = ?2",
            params![plugin, entity],
        )?;
        Ok(())
    }

    /// Keys a run of a full pull saw of `entity` (`held`: source ids of quarantined records).
    pub fn full_pull_saw<'k>(
        &self,
        plugin: &str,
        entity: &str,
        held: bool,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO sync_full_seen (plugin, entity, held, key) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for key in keys {
            stmt.execute(params![plugin, entity, held, key])?;
        }
        Ok(())
    }

    /// The full pull of `plugin` is complete (or abandoned): forget it.
    pub fn full_pull_clear(&self, plugin: &str) -> Result<(), StoreError> {
        self.tx.execute("DELETE FROM sync_full_pulls WHERE plugin = ?1", [plugin])?;
        self.tx.execute("DELETE FROM sync_full_seen WHERE plugin = ?1", [plugin])?;
        Ok(())
    }

    /// Forgets a plugin's cursor of one entity: a full pull that ended without a cursor.
    pub fn clear_sync_cursor(&self, plugin: &str, entity: &str) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM sync_cursors WHERE plugin = ?1 AND entity = ?2", params![plugin, entity])?;
        Ok(())
    }

    /// Marks a sync as successful: failures reset, no waiting; `full`: it stored a complete
    /// snapshot, so the next automatic full sync counts from `at`.
    pub fn record_sync_success(
        &self,
        plugin: &str,
        at: chrono::DateTime<chrono::Utc>,
        full: bool,
    ) -> Result<(), StoreError> {
        let at = at.to_rfc3339();
        let full_at = full.then_some(at.as_str());
        self.tx.execute(
            "INSERT INTO sync_status (plugin, last_success, failures, last_full_sync) VALUES (?1, ?2, 0, ?3)
             ON CONFLICT (plugin) DO UPDATE SET last_success = excluded.last_success, failures = 0,
                next_attempt = NULL, last_error = NULL,
                last_full_sync = coalesce(excluded.last_full_sync, last_full_sync)",
            params![plugin, at, full_at],
        )?;
        Ok(())
    }

    /// The invoices a source brought, as (number, source id), in number order.
    pub fn invoices_of_source(&self, source: &str) -> Result<Vec<(String, String)>, StoreError> {
        // `source <> 'csv'` lets SQLite use the partial index invoices_by_source.
        let mut stmt = self.tx.prepare(
            "SELECT number, source_id FROM invoices WHERE source = ?1 AND source <> 'csv' ORDER BY number",
        )?;
        let rows = stmt.query_map([source], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The customers a source brought, as (id, source id), in order.
    pub fn customers_of_source(&self, source: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt =
            self.tx.prepare("SELECT id, source_id FROM customers WHERE source = ?1 ORDER BY id")?;
        let rows = stmt.query_map([source], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The source ids of the payments a source reported, stored on an invoice or unmatched, in
    /// order. Credit-note deductions (`credit:<id>`) are not payments the source reported:
    /// they come and go with their credit note.
    pub fn payments_of_source(&self, source: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.tx.prepare(
            "SELECT source_id FROM payments WHERE source = ?1 AND substr(source_id, 1, 7) <> 'credit:'
             UNION
             SELECT source_id FROM unmatched_payments WHERE source = ?1
             ORDER BY 1",
        )?;
        let rows = stmt.query_map([source], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The source and source id of an invoice, by number (`None` when it is not stored).
    pub fn invoice_source(&self, number: &str) -> Result<Option<(String, String)>, StoreError> {
        let mut stmt = self.tx.prepare_cached("SELECT source, source_id FROM invoices WHERE number = ?1")?;
        Ok(stmt.query_row([number], |r| Ok((r.get(0)?, r.get(1)?))).optional()?)
    }

    /// The number of the invoice a source knows by `source_id`.
    pub fn invoice_by_source(&self, source: &str, source_id: &str) -> Result<Option<String>, StoreError> {
        let mut stmt = self.tx.prepare_cached(INVOICE_BY_SOURCE_ID)?;
        Ok(stmt.query_row([source, source_id], |r| r.get(0)).optional()?)
    }

    pub fn set_payment_reference(&self, number: &str, reference: Option<&str>) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "UPDATE invoices SET payment_reference = ?2 WHERE number = ?1 AND payment_reference IS NOT ?2",
        )?;
        stmt.execute(params![number, reference])?;
        Ok(())
    }

    /// Deletes an invoice and its payments; `true` when it existed.
    pub fn delete_invoice(&self, number: &str) -> Result<bool, StoreError> {
        // Another plugin's bank payments on it are not gone with it: the money did arrive. They
        // go back to the unmatched payments, to be placed again or looked at by a person.
        self.tx.execute(
            "INSERT INTO unmatched_payments (source, source_id, date, amount, currency, payer_iban, free_text)
             SELECT p.source, p.source_id, p.date, p.amount, i.currency, p.payer_iban,
                    'was matched to invoice ' || i.number || ', which was removed at its source'
               FROM payments p JOIN invoices i ON i.number = p.invoice_number
              WHERE p.invoice_number = ?1 AND p.source <> i.source AND p.source LIKE 'plugin:%'
                AND substr(p.source_id, 1, 7) <> 'credit:'
             ON CONFLICT (source, source_id) DO NOTHING",
            [number],
        )?;
        self.tx.execute("DELETE FROM payments WHERE invoice_number = ?1", [number])?;
        Ok(self.tx.execute("DELETE FROM invoices WHERE number = ?1", [number])? > 0)
    }

    /// Deletes a customer of `source` that no invoice refers to; `true` when deleted.
    pub fn delete_unused_customer(&self, id: &str, source: &str) -> Result<bool, StoreError> {
        Ok(self.tx.execute(
            "DELETE FROM customers WHERE id = ?1 AND source = ?2
               AND NOT EXISTS (SELECT 1 FROM invoices WHERE customer_id = ?1)",
            [id, source],
        )? > 0)
    }

    /// Every invoice with its open amount and reference, for matching bank payments (a payment
    /// by reference or number may also land on an invoice that is already paid).
    pub fn match_candidates(&self) -> Result<Vec<MatchCandidate>, StoreError> {
        let mut stmt = self.tx.prepare(
            "SELECT number, customer_id, currency, open_amount, payment_reference FROM invoices ORDER BY number",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(MatchCandidate {
                number: r.get(0)?,
                customer_id: r.get(1)?,
                currency: r.get(2)?,
                open_amount: decimal_col(r.get_ref(3)?.as_str()?)?,
                payment_reference: r.get(4)?,
            });
        }
        Ok(out)
    }

    /// The accounts bank payments came from, with the customer of the invoice each paid.
    pub fn known_payers(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.tx.prepare(
            "SELECT DISTINCT p.payer_iban, i.customer_id
               FROM payments p JOIN invoices i ON i.number = p.invoice_number
              WHERE p.payer_iban IS NOT NULL AND p.payer_iban <> ''",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Which invoice a source's payment is stored on, if any.
    pub fn payment_invoice(&self, source: &str, source_id: &str) -> Result<Option<String>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT invoice_number FROM payments WHERE source = ?1 AND source_id = ?2 LIMIT 1",
        )?;
        Ok(stmt.query_row([source, source_id], |r| r.get(0)).optional()?)
    }

    /// The payments stored on one invoice, as (date, amount).
    pub fn invoice_payments(&self, number: &str) -> Result<Vec<(NaiveDate, Decimal)>, StoreError> {
        let mut stmt =
            self.tx.prepare_cached("SELECT date, amount FROM payments WHERE invoice_number = ?1")?;
        let mut rows = stmt.query([number])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push((date_col(r.get_ref(0)?.as_str()?)?, decimal_col(r.get_ref(1)?.as_str()?)?));
        }
        Ok(out)
    }

    pub fn record_unmatched(&self, p: &UnmatchedPayment) -> Result<bool, StoreError> {
        Ok(self.tx.execute(
            "INSERT INTO unmatched_payments (source, source_id, date, amount, currency, reference,
                 free_text, payer_name, payer_iban)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (source, source_id) DO NOTHING",
            params![
                p.source,
                p.source_id,
                p.date.to_string(),
                p.amount.to_string(),
                p.currency,
                p.reference,
                p.free_text,
                p.payer_name,
                p.payer_iban
            ],
        )? > 0)
    }

    pub fn delete_unmatched(&self, source: &str, source_id: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "DELETE FROM unmatched_payments WHERE source = ?1 AND source_id = ?2",
            [source, source_id],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::MIGRATIONS;

    /// A database of schema 2 (before full syncs) with a plugin's status upgrades in place:
    /// the status is kept and has had no full sync yet.
    #[test]
    fn schema_2_upgrades_with_no_full_sync_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dunwell.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(MIGRATIONS[1]).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute(
                "INSERT INTO sync_status (plugin, last_success, failures) VALUES ('ubl', '2026-01-01T00:00:00+00:00', 0)",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let status = store.sync_status("ubl").unwrap().unwrap();
        assert_eq!(status.last_success.as_deref(), Some("2026-01-01T00:00:00+00:00"));
        assert_eq!(status.last_full_sync, None);
    }

    #[test]
    fn look_ups_by_source_id_use_the_partial_index() {
        let store = Store::open_in_memory().unwrap();
        let plan: Vec<String> = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {INVOICE_BY_SOURCE_ID}"))
            .unwrap()
            .query_map(["plugin:x", "1"], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(plan.iter().any(|d| d.contains("INDEX invoices_by_source")), "{plan:?}");
    }
}
