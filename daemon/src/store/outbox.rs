//! What `dunwell send` keeps: each invoice's progress through its playbook, and the outbox of
//! messages with their delivery state.
//!
//! A message's row and the progress it records are written in one transaction
//! ([`WriteTx::enqueue`]), unique by an idempotency key, before anything leaves the machine: a
//! second run for the same day finds the key and sends nothing new, and a crash leaves either
//! both or neither. Delivery then moves a row `queued` → `sending` → `sent` (or `failed` with a
//! next attempt, `dead` after the last, `unknown` when the provider may or may not have it).

use std::collections::HashMap;

use chrono::NaiveDate;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{date_col, decimal_col, Store, StoreError, WriteTx};
use crate::law::consumer::Delivery;
use crate::plan::Progress;

/// Where a message is on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Written, waiting for a person's approval; never delivered by `dunwell send`.
    AwaitingApproval,
    Queued,
    /// Handed to the channel; a row found in this state after a crash is delivered again
    /// (see ARCHITECTURE.md for the window in which that can duplicate a message).
    Sending,
    Sent,
    /// Failed for now; tried again at `next_attempt`.
    Failed,
    /// The provider may or may not have sent it (an SMS request that timed out): never
    /// retried blindly.
    Unknown,
    /// Failed on every attempt; needs a person.
    Dead,
    /// Not sent: an invoice it covers was paid or disputed after it was written (checked just
    /// before delivery).
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::AwaitingApproval => "awaiting-approval",
            Status::Queued => "queued",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Unknown => "unknown",
            Status::Dead => "dead",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "awaiting-approval" => Status::AwaitingApproval,
            "queued" => Status::Queued,
            "sending" => Status::Sending,
            "sent" => Status::Sent,
            "failed" => Status::Failed,
            "unknown" => Status::Unknown,
            "dead" => Status::Dead,
            "cancelled" => Status::Cancelled,
            _ => return None,
        })
    }
}

/// One invoice a message covers, and the step it takes it to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Covered {
    pub invoice_number: String,
    pub step: u32,
}

/// A message to write to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub key: String,
    pub day: NaiveDate,
    pub customer_id: String,
    pub channel: String,
    pub template: String,
    pub language: String,
    pub recipient: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    pub html: Option<String>,
    pub invoices: Vec<Covered>,
    pub total: Option<String>,
    pub currency: Option<String>,
    pub status: Status,
    /// A letter's PDF.
    pub pdf: Option<Vec<u8>>,
    /// What goes out instead when this message cannot be delivered (the step's
    /// `fallback_channel`), rendered with it.
    pub fallback: Option<Fallback>,
    /// The data of an agency case file (JSON).
    pub data: Option<String>,
    /// An e-mail's `Cc` (the customer's account manager, for a step with `cc_account_manager`).
    pub cc: Option<String>,
}

/// The message that replaces one that cannot be delivered: rendered when the original is
/// written (the same amounts and day), written to the outbox only when the original dies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Fallback {
    pub channel: String,
    pub template: String,
    pub recipient: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    pub html: Option<String>,
    /// A letter's PDF (kept in its own column, not in the JSON).
    #[serde(skip)]
    pub pdf: Option<Vec<u8>>,
}

/// A message in the outbox, as `dunwell outbox` and `dunwell history` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub id: i64,
    pub key: String,
    pub day: NaiveDate,
    pub created: String,
    pub customer_id: String,
    pub channel: String,
    pub template: String,
    pub language: String,
    pub recipient: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    pub html: Option<String>,
    pub invoices: Vec<Covered>,
    pub total: Option<String>,
    pub currency: Option<String>,
    pub status: Status,
    pub attempts: u32,
    pub next_attempt: Option<String>,
    pub last_error: Option<String>,
    pub provider_id: Option<String>,
    pub message_id: Option<String>,
    pub file: Option<String>,
    pub sent_at: Option<String>,
    pub outcome: Option<String>,
    pub outcome_note: Option<String>,
    pub outcome_at: Option<String>,
    /// The message this one stands in for (a fallback), by id.
    pub replaces: Option<i64>,
    /// An e-mail's `Cc`.
    pub cc: Option<String>,
}

/// A progress row as a JSON object (the `undo` of a message).
const PROGRESS_JSON: &str =
    "'playbook', playbook, 'steps_done', steps_done, 'anchor', anchor, 'last_day', last_day,
    'first_reminder', first_reminder, 'first_delivery', first_delivery, 'fees', fees,
    'handed_over', handed_over, 'term_sent', term_sent, 'term_end', term_end";

/// For the channels' tests: a queued message with the delivery fields empty, to complete
/// with `Message { field: …, ..Message::example(id, channel) }`.
#[cfg(test)]
impl Message {
    pub(crate) fn example(id: i64, channel: &str) -> Message {
        Message {
            id,
            key: format!("C1|{channel}|2026-12-01|F1:1"),
            day: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default(),
            created: String::new(),
            customer_id: "C1".into(),
            channel: channel.into(),
            template: "t".into(),
            language: "nl".into(),
            recipient: None,
            subject: None,
            body: String::new(),
            html: None,
            invoices: Vec::new(),
            total: None,
            currency: None,
            status: Status::Queued,
            attempts: 0,
            next_attempt: None,
            last_error: None,
            provider_id: None,
            message_id: None,
            file: None,
            sent_at: None,
            outcome: None,
            outcome_note: None,
            outcome_at: None,
            replaces: None,
            cc: None,
        }
    }
}

const MESSAGE_COLUMNS: &str = "id, key, day, created, customer_id, channel, template, language, recipient,
    subject, body, html, invoices, total, currency, status, attempts, next_attempt, last_error,
    provider_id, message_id, file, sent_at, outcome, outcome_note, outcome_at, replaces, cc";

fn message(r: &rusqlite::Row<'_>) -> Result<Message, StoreError> {
    let invoices: String = r.get(12)?;
    let status: String = r.get(15)?;
    Ok(Message {
        id: r.get(0)?,
        key: r.get(1)?,
        day: date_col(r.get_ref(2)?.as_str()?)?,
        created: r.get(3)?,
        customer_id: r.get(4)?,
        channel: r.get(5)?,
        template: r.get(6)?,
        language: r.get(7)?,
        recipient: r.get(8)?,
        subject: r.get(9)?,
        body: r.get(10)?,
        html: r.get(11)?,
        invoices: serde_json::from_str(&invoices)
            .map_err(|_| StoreError::Corrupt { what: "outbox invoices", value: invoices.clone() })?,
        total: r.get(13)?,
        currency: r.get(14)?,
        status: Status::parse(&status).ok_or(StoreError::Corrupt { what: "outbox status", value: status })?,
        attempts: r.get(16)?,
        next_attempt: r.get(17)?,
        last_error: r.get(18)?,
        provider_id: r.get(19)?,
        message_id: r.get(20)?,
        file: r.get(21)?,
        sent_at: r.get(22)?,
        outcome: r.get(23)?,
        outcome_note: r.get(24)?,
        outcome_at: r.get(25)?,
        replaces: r.get(26)?,
        cc: r.get(27)?,
    })
}

pub(super) fn query(
    conn: &rusqlite::Connection,
    filter: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<Message>, StoreError> {
    let mut stmt = conn.prepare(&format!("SELECT {MESSAGE_COLUMNS} FROM outbox {filter}"))?;
    let mut rows = stmt.query(args)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(message(r)?);
    }
    Ok(out)
}

fn delivery_text(d: Delivery) -> &'static str {
    match d {
        Delivery::Post => "post",
        Delivery::Electronic => "electronic",
    }
}

/// [`Store::cancel`] inside a transaction the caller holds (a rejected approval postpones its
/// step in the same transaction as the decision and the pauses it records).
pub(super) fn cancel_in(tx: &rusqlite::Connection, id: i64, reason: &str) -> Result<bool, StoreError> {
    let changed = tx.execute(
        "UPDATE outbox SET status = 'cancelled', last_error = ?2, next_attempt = NULL
         WHERE id = ?1 AND status IN ('queued', 'failed', 'sending', 'awaiting-approval')",
        params![id, crate::text::cap(reason, 4096)],
    )?;
    if changed == 0 {
        return Ok(false);
    }
    let undo: Option<String> =
        tx.query_row("SELECT undo FROM outbox WHERE id = ?1", [id], |r| r.get(0)).optional()?.flatten();
    let undo: serde_json::Map<String, serde_json::Value> = match undo {
        Some(json) => serde_json::from_str(&json)
            .map_err(|_| StoreError::Corrupt { what: "outbox undo", value: json.clone() })?,
        None => serde_json::Map::new(),
    };
    for (number, before) in undo {
        let later: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM outbox o, json_each(o.invoices) j
                WHERE o.id > ?1 AND o.status <> 'cancelled'
                  AND json_extract(j.value, '$.invoice_number') = ?2)",
            params![id, number],
            |r| r.get(0),
        )?;
        if later {
            continue;
        }
        if before.is_null() {
            tx.execute("DELETE FROM progress WHERE invoice_number = ?1", [&number])?;
        } else {
            tx.execute(
                "INSERT OR REPLACE INTO progress (invoice_number, playbook, steps_done, anchor, last_day,
                    first_reminder, first_delivery, fees, handed_over, term_sent, term_end)
                 SELECT ?1, j ->> 'playbook', j ->> 'steps_done', j ->> 'anchor', j ->> 'last_day',
                    j ->> 'first_reminder', j ->> 'first_delivery', j ->> 'fees', j ->> 'handed_over',
                    j ->> 'term_sent', j ->> 'term_end'
                 FROM (SELECT json(?2) AS j)",
                params![number, before.to_string()],
            )?;
        }
    }
    Ok(true)
}

impl Store {
    /// Every invoice's progress, by invoice number.
    pub fn load_progress(&self) -> Result<HashMap<String, Progress>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT invoice_number, playbook, steps_done, anchor, last_day, first_reminder, first_delivery,
                    fees, handed_over, term_sent, term_end
             FROM progress",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = HashMap::new();
        while let Some(r) = rows.next()? {
            let opt_date = |i: usize| -> Result<Option<NaiveDate>, StoreError> {
                match r.get_ref(i)?.as_str_or_null()? {
                    Some(t) => Ok(Some(date_col(t)?)),
                    None => Ok(None),
                }
            };
            let delivery: Option<String> = r.get(6)?;
            let first_reminder = match (opt_date(5)?, delivery.as_deref()) {
                (Some(d), Some("post")) => Some((d, Delivery::Post)),
                (Some(d), Some(_)) => Some((d, Delivery::Electronic)),
                _ => None,
            };
            out.insert(
                r.get(0)?,
                Progress {
                    playbook: r.get(1)?,
                    steps_done: r.get::<_, i64>(2)? as usize,
                    anchor: date_col(r.get_ref(3)?.as_str()?)?,
                    last_day: opt_date(4)?,
                    first_reminder,
                    fees: decimal_col(r.get_ref(7)?.as_str()?)?,
                    handed_over: opt_date(8)?,
                    term: match (opt_date(9)?, opt_date(10)?) {
                        (Some(sent), Some(ends)) => Some(crate::plan::Term { sent, ends }),
                        _ => None,
                    },
                },
            );
        }
        Ok(out)
    }

    /// Call tasks for a person, oldest first: those without an outcome, or all.
    pub fn call_tasks(&self, with_done: bool) -> Result<Vec<Message>, StoreError> {
        query(&self.conn, "WHERE channel = 'phone' AND (?1 OR outcome IS NULL) ORDER BY id", [with_done])
    }

    /// The outbox, newest first, optionally of one status.
    pub fn outbox(&self, status: Option<Status>) -> Result<Vec<Message>, StoreError> {
        match status {
            Some(s) => query(&self.conn, "WHERE status = ?1 ORDER BY id DESC", [s.as_str()]),
            None => query(&self.conn, "ORDER BY id DESC", []),
        }
    }

    /// Messages to one customer, or covering one invoice, oldest first.
    pub fn history(&self, customer_or_invoice: &str) -> Result<Vec<Message>, StoreError> {
        query(
            &self.conn,
            "WHERE customer_id = ?1
                OR EXISTS (SELECT 1 FROM json_each(outbox.invoices) WHERE json_extract(value, '$.invoice_number') = ?1)
             ORDER BY id",
            [customer_or_invoice],
        )
    }

    /// Whether a message with this key exists (a step already done): read before the message is
    /// rendered, so a second run renders nothing.
    pub fn message_exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM outbox WHERE key = ?1", [key], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// A letter's PDF, when the message has one.
    pub fn message_pdf(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT pdf FROM outbox WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
            .flatten())
    }

    pub fn message(&self, id: i64) -> Result<Option<Message>, StoreError> {
        Ok(query(&self.conn, "WHERE id = ?1", [id])?.pop())
    }

    /// Messages to deliver now: queued, failed whose next attempt has come, and any left
    /// `sending` by a run that died.
    pub fn deliverable(&self, now: &str) -> Result<Vec<Message>, StoreError> {
        query(
            &self.conn,
            "WHERE status IN ('queued', 'sending') OR (status = 'failed' AND next_attempt <= ?1) ORDER BY id",
            [now],
        )
    }

    /// Messages to a customer on the days from `from` through `to` that count against the
    /// weekly cap (everything but dead and cancelled ones, and the alerts to the business
    /// about the customer, which the customer never sees: their keys start with `.alert|`,
    /// which no customer id can).
    pub fn messages_between(
        &self,
        customer_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<u32, StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM outbox WHERE customer_id = ?1 AND day BETWEEN ?2 AND ?3 AND status NOT IN ('dead', 'cancelled')
                AND substr(key, 1, 7) <> '.alert|'",
            params![customer_id, from.to_string(), to.to_string()],
            |r| r.get(0),
        )?)
    }

    /// Marks a message as being delivered now (its own small transaction, before the
    /// channel is called). Only a message that is waiting to go out (queued, failed, or left
    /// `sending` by a crash) is taken: false for any other, above all one awaiting approval,
    /// which nothing but an approve decision puts in the queue (`store/approvals.rs`).
    pub fn mark_sending(&mut self, id: i64) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1
             WHERE id = ?1 AND status IN ('queued', 'failed', 'sending')",
            [id],
        )? > 0)
    }

    /// Records a delivery: the provider's id, the Message-ID, the file written.
    pub fn mark_sent(
        &mut self,
        id: i64,
        at: &str,
        provider_id: Option<&str>,
        message_id: Option<&str>,
        file: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?2, provider_id = coalesce(?3, provider_id),
                message_id = coalesce(?4, message_id), file = coalesce(?5, file), last_error = NULL,
                next_attempt = NULL
             WHERE id = ?1 AND status <> 'awaiting-approval'",
            params![id, at, provider_id, message_id, file],
        )?;
        Ok(())
    }

    /// Records a failed attempt: `failed` with the next attempt, or `dead`/`unknown`.
    pub fn mark_failed(
        &mut self,
        id: i64,
        status: Status,
        error: &str,
        next_attempt: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE outbox SET status = ?2, last_error = ?3, next_attempt = ?4
             WHERE id = ?1 AND status <> 'awaiting-approval'",
            params![id, status.as_str(), crate::text::cap(error, 4096), next_attempt],
        )?;
        Ok(())
    }

    /// Puts a message back in the queue (a person settled an unknown one as not sent). Never
    /// one awaiting approval: only an approve decision queues that.
    pub fn requeue(&mut self, id: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE outbox SET status = 'queued', next_attempt = NULL,
                last_error = 'settled by hand as not sent: ' || coalesce(last_error, '')
             WHERE id = ?1 AND status <> 'awaiting-approval'",
            [id],
        )?;
        Ok(())
    }

    /// Records the provider's id of a message before it is final (a print job created but not
    /// yet sent), so a later attempt continues with it.
    pub fn set_provider_id(&mut self, id: i64, provider_id: &str) -> Result<(), StoreError> {
        self.conn.execute("UPDATE outbox SET provider_id = ?2 WHERE id = ?1", params![id, provider_id])?;
        Ok(())
    }

    /// Records that a message cannot be delivered (`dead`) and, when it has a fallback, queues
    /// the fallback in the same transaction (key: the original's plus `|fallback`). Returns the
    /// fallback's id.
    ///
    /// A message awaiting approval was never attempted, so it is never dead, and its fallback
    /// is never queued through here. The fallback of an approved message carries the
    /// original's decision: the approval was of the step, whichever channel delivers it.
    pub fn mark_dead(&mut self, id: i64, error: &str) -> Result<Option<i64>, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE outbox SET status = 'dead', last_error = ?2, next_attempt = NULL
             WHERE id = ?1 AND status <> 'awaiting-approval'",
            params![id, crate::text::cap(error, 4096)],
        )?;
        if changed == 0 {
            return Ok(None);
        }
        let fallback: Option<String> = tx
            .query_row("SELECT fallback FROM outbox WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
            .flatten();
        let Some(json) = fallback else {
            tx.commit()?;
            return Ok(None);
        };
        let f: Fallback = serde_json::from_str(&json)
            .map_err(|_| StoreError::Corrupt { what: "outbox fallback", value: json.clone() })?;
        let inserted = tx.execute(
            "INSERT INTO outbox (key, day, created, customer_id, channel, template, language, recipient,
                subject, body, html, invoices, total, currency, status, pdf, replaces, decision, decided_by,
                decided_at)
             SELECT key || '|fallback', day, created, customer_id, ?2, ?3, language, ?4, ?5, ?6, ?7,
                invoices, total, currency, 'queued', fallback_pdf, id, decision, decided_by, decided_at
             FROM outbox WHERE id = ?1
             ON CONFLICT (key) DO NOTHING",
            params![id, f.channel, f.template, f.recipient, f.subject, f.body, f.html],
        )?;
        let new = (inserted > 0).then(|| tx.last_insert_rowid());
        tx.commit()?;
        Ok(new)
    }

    /// Cancels a message that was not delivered (an invoice it covers was paid or disputed
    /// since it was written), and gives the invoices it covers back the progress they had
    /// before it, so the next `send` plans the ones still open again (in a message without the
    /// paid one). An invoice that a later message has taken further keeps its progress.
    /// Returns false when the message was no longer waiting (delivered meanwhile).
    pub fn cancel(&mut self, id: i64, reason: &str) -> Result<bool, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if !cancel_in(&tx, id, reason)? {
            return Ok(false);
        }
        tx.commit()?;
        Ok(true)
    }

    /// The data of an agency case file (see [`NewMessage::data`]).
    pub fn message_data(&self, id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT data FROM outbox WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// Records that the invoices went to the collection agency on `day`: they leave the
    /// playbook.
    pub fn mark_handed_over(&mut self, invoices: &[String], day: NaiveDate) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for number in invoices {
            tx.execute(
                "UPDATE progress SET handed_over = ?2 WHERE invoice_number = ?1",
                params![number, day.to_string()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records a call task's outcome.
    pub fn record_outcome(
        &mut self,
        id: i64,
        outcome: &str,
        note: Option<&str>,
        at: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE outbox SET outcome = ?2, outcome_note = ?3, outcome_at = ?4 WHERE id = ?1 AND channel = 'phone'",
            params![id, outcome, note, at],
        )? > 0)
    }
}

impl WriteTx<'_> {
    /// Writes a message and the progress of every invoice it covers, unless a message with
    /// the same key exists (then nothing: the step was done already). Returns the new id.
    pub fn enqueue(
        &self,
        m: &NewMessage,
        created: &str,
        progress: &[(String, Progress)],
    ) -> Result<Option<i64>, StoreError> {
        let invoices = serde_json::to_string(&m.invoices)
            .map_err(|e| StoreError::Corrupt { what: "outbox invoices", value: e.to_string() })?;
        let fallback = match &m.fallback {
            Some(f) => Some(
                serde_json::to_string(f)
                    .map_err(|e| StoreError::Corrupt { what: "outbox fallback", value: e.to_string() })?,
            ),
            None => None,
        };
        let inserted = self.tx.execute(
            "INSERT INTO outbox (key, day, created, customer_id, channel, template, language, recipient,
                subject, body, html, invoices, total, currency, status, pdf, fallback, fallback_pdf, data, cc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
             ON CONFLICT (key) DO NOTHING",
            params![
                m.key,
                m.day.to_string(),
                created,
                m.customer_id,
                m.channel,
                m.template,
                m.language,
                m.recipient,
                m.subject,
                m.body,
                m.html,
                invoices,
                m.total,
                m.currency,
                m.status.as_str(),
                m.pdf,
                fallback,
                m.fallback.as_ref().and_then(|f| f.pdf.as_deref()),
                m.data,
                m.cc,
            ],
        )?;
        if inserted == 0 {
            return Ok(None);
        }
        let id = self.tx.last_insert_rowid();
        // The progress before this message, for `Store::cancel`: an object of invoice number
        // to its progress row (null: none yet).
        let mut undo = serde_json::Map::new();
        for (number, _) in progress {
            let before: Option<String> = self
                .tx
                .query_row(
                    &format!("SELECT json_object({PROGRESS_JSON}) FROM progress WHERE invoice_number = ?1"),
                    [number],
                    |r| r.get(0),
                )
                .optional()?;
            let value = match before {
                Some(json) => serde_json::from_str(&json)
                    .map_err(|_| StoreError::Corrupt { what: "progress", value: json.clone() })?,
                None => serde_json::Value::Null,
            };
            undo.insert(number.clone(), value);
        }
        self.tx.execute(
            "UPDATE outbox SET undo = ?2 WHERE id = ?1",
            params![id, serde_json::Value::Object(undo).to_string()],
        )?;
        for (number, p) in progress {
            self.set_progress(number, p)?;
        }
        Ok(Some(id))
    }

    pub fn set_progress(&self, invoice: &str, p: &Progress) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO progress (invoice_number, playbook, steps_done, anchor, last_day, first_reminder, first_delivery,
                                   fees, handed_over, term_sent, term_end)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (invoice_number) DO UPDATE SET playbook = excluded.playbook,
                steps_done = excluded.steps_done, anchor = excluded.anchor, last_day = excluded.last_day,
                first_reminder = excluded.first_reminder, first_delivery = excluded.first_delivery,
                fees = excluded.fees, handed_over = excluded.handed_over,
                term_sent = excluded.term_sent, term_end = excluded.term_end",
            params![
                invoice,
                p.playbook,
                p.steps_done as i64,
                p.anchor.to_string(),
                p.last_day.map(|d| d.to_string()),
                p.first_reminder.map(|(d, _)| d.to_string()),
                p.first_reminder.map(|(_, k)| delivery_text(k)),
                p.fees.to_string(),
                p.handed_over.map(|d| d.to_string()),
                p.term.map(|t| t.sent.to_string()),
                p.term.map(|t| t.ends.to_string()),
            ],
        )?;
        Ok(())
    }
}
