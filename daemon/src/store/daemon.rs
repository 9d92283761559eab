//! What the daemon keeps in the store: each job's last run, its own state (the configuration
//! in force, a heartbeat), and the look-ups of the freshness gate and of delivery's last check.
//! In the store rather than in memory so `dunwell status` answers from the same file while the
//! daemon runs, and after it stopped.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use rust_decimal::Decimal;
use serde::Serialize;

use super::{decimal_col, Store, StoreError};

/// A job's last run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRun {
    pub job: String,
    /// The scheduled slot the run was for (RFC 3339, UTC).
    pub slot: Option<String>,
    pub started: String,
    /// None while it runs (or when the daemon died during it).
    pub finished: Option<String>,
    pub ok: Option<bool>,
    /// What it did (JSON, the job's own report).
    pub summary: Option<serde_json::Value>,
    pub error: Option<String>,
}

/// A source and the end of its last good sync (None: never).
pub type SourceTime = (String, Option<DateTime<Utc>>);

/// An invoice as delivery checks it just before a message goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceNow {
    pub open_amount: Decimal,
    pub source: String,
}

impl Store {
    /// Records that `job` started for `slot`.
    pub fn job_started(
        &mut self,
        job: &str,
        slot: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO job_runs (job, slot, started) VALUES (?1, ?2, ?3)
             ON CONFLICT (job) DO UPDATE SET slot = excluded.slot, started = excluded.started,
                finished = NULL, ok = NULL, summary = NULL, error = NULL",
            params![job, slot.map(|s| s.to_rfc3339()), at.to_rfc3339()],
        )?;
        Ok(())
    }

    /// Records how `job` ended.
    pub fn job_finished(
        &mut self,
        job: &str,
        at: DateTime<Utc>,
        summary: Option<&serde_json::Value>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE job_runs SET finished = ?2, ok = ?3, summary = ?4, error = ?5 WHERE job = ?1",
            params![
                job,
                at.to_rfc3339(),
                error.is_none(),
                summary.map(|s| s.to_string()),
                error.map(|e| crate::text::cap(e, 4096))
            ],
        )?;
        Ok(())
    }

    pub fn job_runs(&self) -> Result<Vec<JobRun>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT job, slot, started, finished, ok, summary, error FROM job_runs ORDER BY job")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<bool>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (job, slot, started, finished, ok, summary, error) = row?;
            let summary = match summary {
                Some(s) => Some(
                    serde_json::from_str(&s)
                        .map_err(|_| StoreError::Corrupt { what: "job summary", value: s })?,
                ),
                None => None,
            };
            out.push(JobRun { job, slot, started, finished, ok, summary, error });
        }
        Ok(out)
    }

    /// The slot of the job's last run, for the catch-up at start. A run the daemon died in
    /// (started, never finished) did not happen: its slot is reported a second early, so the
    /// catch-up makes it up.
    pub fn job_last_slot(&self, job: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<(Option<String>, Option<String>)> = self
            .conn
            .query_row("SELECT slot, finished FROM job_runs WHERE job = ?1", [job], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((Some(slot), finished)) = row else { return Ok(None) };
        let slot = DateTime::parse_from_rfc3339(&slot).ok().map(|d| d.with_timezone(&Utc));
        Ok(match finished {
            Some(_) => slot,
            None => slot.map(|s| s - chrono::Duration::seconds(1)),
        })
    }

    pub fn set_daemon_state(&mut self, key: &str, value: &serde_json::Value) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO daemon_state (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value.to_string()],
        )?;
        Ok(())
    }

    pub fn daemon_state(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let v: Option<String> = self
            .conn
            .query_row("SELECT value FROM daemon_state WHERE key = ?1", [key], |r| r.get(0))
            .optional()?;
        match v {
            Some(s) => Ok(Some(
                serde_json::from_str(&s)
                    .map_err(|_| StoreError::Corrupt { what: "daemon state", value: s })?,
            )),
            None => Ok(None),
        }
    }

    /// When each source last delivered data successfully: a connector's last good sync (the
    /// source `plugin:NAME`, as its rows are marked), the CSV export's last import (`csv`). Sources that hold invoices or payments but never
    /// synced (a plugin removed from the configuration) are listed with `None`.
    pub fn source_times(&self) -> Result<Vec<SourceTime>, StoreError> {
        let mut stmt = self.conn.prepare(
            "WITH sources AS (
                SELECT DISTINCT source FROM invoices
                UNION SELECT DISTINCT source FROM payments
                UNION SELECT 'plugin:' || plugin FROM sync_status
                UNION SELECT source FROM imports WHERE source = 'csv')
             SELECT s.source,
                CASE WHEN s.source = 'csv' THEN (SELECT max(at) FROM imports WHERE source = 'csv')
                     ELSE (SELECT last_success FROM sync_status WHERE 'plugin:' || plugin = s.source) END
             FROM sources s ORDER BY s.source",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (source, at) = row?;
            let at = at.and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|d| d.with_timezone(&Utc));
            out.push((source, at));
        }
        Ok(out)
    }

    /// The sources that hold payments but no invoices (a bank statement connector): an invoice
    /// is only as fresh as the payments that may have paid it.
    pub fn payment_only_sources(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT source FROM payments WHERE source NOT IN (SELECT DISTINCT source FROM invoices)
             UNION SELECT DISTINCT source FROM unmatched_payments
                   WHERE source NOT IN (SELECT DISTINCT source FROM invoices)",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every invoice's source, by number.
    pub fn invoice_sources(&self) -> Result<HashMap<String, String>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT number, source FROM invoices")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One invoice as it stands now, or None when it is gone (removed at the source).
    pub fn invoice_now(&self, number: &str) -> Result<Option<InvoiceNow>, StoreError> {
        let row: Option<(String, String)> = self
            .conn
            .query_row("SELECT open_amount, source FROM invoices WHERE number = ?1", [number], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        match row {
            Some((open, source)) => Ok(Some(InvoiceNow { open_amount: decimal_col(&open)?, source })),
            None => Ok(None),
        }
    }

    /// Outbox messages by status.
    pub fn outbox_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut stmt =
            self.conn.prepare("SELECT status, count(*) FROM outbox GROUP BY status ORDER BY status")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Call tasks no one recorded an outcome for yet.
    pub fn open_tasks(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM outbox WHERE channel = 'phone' AND outcome IS NULL AND status = 'sent'",
            [],
            |r| r.get(0),
        )?)
    }
    /// The segment (playbook) of the first invoice a message covers, for the metrics.
    pub fn message_segment(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT p.playbook FROM outbox o, json_each(o.invoices) j
                 JOIN progress p ON p.invoice_number = json_extract(j.value, '$.invoice_number')
                 WHERE o.id = ?1 LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .optional()?)
    }
    /// The compiled components dunwell wrote: file name → SHA-256 of its bytes.
    pub fn plugin_artifacts(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT file, sha256 FROM plugin_artifacts")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn record_plugin_artifact(
        &mut self,
        file: &str,
        sha256: &str,
        plugin: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO plugin_artifacts (file, sha256, plugin, created) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (file) DO UPDATE SET sha256 = excluded.sha256, plugin = excluded.plugin,
                created = excluded.created",
            params![file, sha256, plugin, Utc::now().to_rfc3339()],
        )?;
        Ok(())
    }
    /// The message of `channel` the provider knows by `provider_id`.
    pub fn message_by_provider_id(
        &self,
        channel: &str,
        provider_id: &str,
    ) -> Result<Option<super::Message>, StoreError> {
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM outbox WHERE channel = ?1 AND provider_id = ?2 ORDER BY id DESC LIMIT 1",
                params![channel, provider_id],
                |r| r.get(0),
            )
            .optional()?;
        match id {
            Some(id) => self.message(id),
            None => Ok(None),
        }
    }
}
