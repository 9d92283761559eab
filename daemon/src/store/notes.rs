//! What the business hears and records about a customer besides the reminders: notes (a
//! customer's reply the operator pasted or forwarded, `dunwell note`, matched to the message it
//! answers), the lines of history the care records write (`care_events`, read here for
//! `dunwell history`), and the alerts the business was given (`send::alerts`).
//!
//! `alerts` holds the occurrences in force: a row is written with the alert's message (in the
//! message's transaction) when a condition starts, and removed when the condition has ended, so
//! the next time it comes back is a new occurrence with a new `since` (and a new message). What
//! was said stays in the outbox.

use std::collections::HashMap;

use chrono::NaiveDate;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{date_col, Store, StoreError, WriteTx};

/// A note to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNote {
    pub customer_id: String,
    /// The day it belongs to in the history (the reply's date, or `--at`).
    pub day: NaiveDate,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
    pub recorded_by: String,
    /// The reply's `From`.
    pub sender: Option<String>,
    pub subject: Option<String>,
    /// The reply's own `Message-ID`, with its angle brackets.
    pub message_id: Option<String>,
    /// The `Message-ID` it answers (`In-Reply-To`, else the last of `References`).
    pub in_reply_to: Option<String>,
    /// The outbox message it answers, when that is one of ours.
    pub outbox_id: Option<i64>,
    pub body: String,
}

/// A recorded note, as `dunwell history` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub id: i64,
    pub customer_id: String,
    pub day: NaiveDate,
    pub recorded_at: String,
    pub recorded_by: String,
    pub sender: Option<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub outbox_id: Option<i64>,
    pub body: String,
}

/// A line of the care history (a promise, a dispute, a plan, a pause, a call's outcome, …),
/// written by whoever recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CareEvent {
    pub id: i64,
    pub at: String,
    pub day: NaiveDate,
    pub customer_id: Option<String>,
    pub invoices: Vec<String>,
    pub kind: String,
    pub ref_id: Option<i64>,
    pub text: String,
    pub recorded_by: String,
}

/// A message of ours, found by its `Message-ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    pub outbox_id: i64,
    pub customer_id: String,
    pub day: NaiveDate,
    pub template: String,
}

const NOTE_COLUMNS: &str =
    "id, customer_id, day, recorded_at, recorded_by, sender, subject, message_id, in_reply_to, outbox_id, body";

fn note(r: &rusqlite::Row<'_>) -> Result<Note, StoreError> {
    Ok(Note {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        day: date_col(r.get_ref(2)?.as_str()?)?,
        recorded_at: r.get(3)?,
        recorded_by: r.get(4)?,
        sender: r.get(5)?,
        subject: r.get(6)?,
        message_id: r.get(7)?,
        in_reply_to: r.get(8)?,
        outbox_id: r.get(9)?,
        body: r.get(10)?,
    })
}

/// An id written with or without its angle brackets, without them.
fn bare(id: &str) -> &str {
    id.trim().trim_start_matches('<').trim_end_matches('>')
}

/// `<id>` for an id written with or without its angle brackets.
pub fn bracketed(id: &str) -> String {
    format!("<{}>", bare(id))
}

impl Store {
    /// The name of a stored customer; `None` when there is no such customer.
    pub fn customer_name(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.conn.query_row("SELECT name FROM customers WHERE id = ?1", [id], |r| r.get(0)).optional()?)
    }

    /// Records a note; returns its id.
    pub fn add_note(&mut self, n: &NewNote) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO notes (customer_id, day, recorded_at, recorded_by, sender, subject, message_id,
                in_reply_to, outbox_id, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                n.customer_id,
                n.day.to_string(),
                n.recorded_at,
                n.recorded_by,
                n.sender,
                n.subject,
                n.message_id,
                n.in_reply_to,
                n.outbox_id,
                n.body
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The note of `customer_id` with this `Message-ID` (the same reply noted before).
    pub fn note_with_message_id(
        &self,
        customer_id: &str,
        message_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM notes WHERE customer_id = ?1 AND message_id = ?2",
                params![customer_id, bracketed(message_id)],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// A recorded note.
    pub fn note(&self, id: i64) -> Result<Option<Note>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("SELECT {NOTE_COLUMNS} FROM notes WHERE id = ?1"))?;
        let mut rows = stmt.query([id])?;
        rows.next()?.map(note).transpose()
    }

    /// The notes of a customer, or those answering a message that covers an invoice, in day
    /// order.
    pub fn notes(&self, customer_or_invoice: &str) -> Result<Vec<Note>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {NOTE_COLUMNS} FROM notes
             WHERE customer_id = ?1
                OR outbox_id IN (SELECT o.id FROM outbox o, json_each(o.invoices) j
                                 WHERE json_extract(j.value, '$.invoice_number') = ?1)
             ORDER BY day, id"
        ))?;
        let mut rows = stmt.query([customer_or_invoice])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(note(r)?);
        }
        Ok(out)
    }

    /// The care history of a customer, or the lines that name an invoice, in day order.
    pub fn care_events(&self, customer_or_invoice: &str) -> Result<Vec<CareEvent>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, at, day, customer_id, invoices, kind, ref_id, text, recorded_by FROM care_events
             WHERE customer_id = ?1 OR EXISTS (SELECT 1 FROM json_each(care_events.invoices) WHERE value = ?1)
             ORDER BY day, id",
        )?;
        let mut rows = stmt.query([customer_or_invoice])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let invoices: String = r.get(4)?;
            out.push(CareEvent {
                id: r.get(0)?,
                at: r.get(1)?,
                day: date_col(r.get_ref(2)?.as_str()?)?,
                customer_id: r.get(3)?,
                invoices: serde_json::from_str(&invoices).map_err(|_| StoreError::Corrupt {
                    what: "care event invoices",
                    value: invoices.clone(),
                })?,
                kind: r.get(5)?,
                ref_id: r.get(6)?,
                text: r.get(7)?,
                recorded_by: r.get(8)?,
            });
        }
        Ok(out)
    }

    /// The outbox message whose recorded `Message-ID` is `id` (with or without its angle
    /// brackets, as stored: `<dunwell.7.…@domain>`).
    pub fn message_by_message_id(&self, id: &str) -> Result<Option<Answered>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT id, customer_id, day, template FROM outbox WHERE message_id IN (?1, ?2) ORDER BY id LIMIT 1",
                params![bracketed(id), bare(id)],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?)),
            )
            .optional()?;
        row.map(|(outbox_id, customer_id, day, template)| {
            Ok(Answered { outbox_id, customer_id, day: date_col(&day)?, template })
        })
        .transpose()
    }

    /// The alerts in force: (customer, kind) → the day the occurrence started.
    pub fn alerts_in_force(&self) -> Result<HashMap<(String, String), NaiveDate>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT customer_id, kind, max(since) FROM alerts GROUP BY customer_id, kind")?;
        let mut rows = stmt.query([])?;
        let mut out = HashMap::new();
        while let Some(r) = rows.next()? {
            out.insert((r.get(0)?, r.get(1)?), date_col(r.get_ref(2)?.as_str()?)?);
        }
        Ok(out)
    }

    /// Ends an occurrence: the condition no longer holds, so its coming back is a new one.
    pub fn end_alert(&mut self, customer_id: &str, kind: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM alerts WHERE customer_id = ?1 AND kind = ?2", params![customer_id, kind])?;
        Ok(())
    }
}

impl WriteTx<'_> {
    /// Records that the business was told of an occurrence (in the transaction of its message).
    pub fn record_alert(
        &self,
        customer_id: &str,
        kind: &str,
        since: NaiveDate,
        outbox_id: Option<i64>,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO alerts (customer_id, kind, since, outbox_id) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (customer_id, kind, since) DO UPDATE SET outbox_id = coalesce(alerts.outbox_id, excluded.outbox_id)",
            params![customer_id, kind, since.to_string(), outbox_id],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn notes_are_kept_and_found_by_customer() {
        let mut store = Store::open_in_memory().unwrap();
        let n = NewNote {
            customer_id: "C1".into(),
            day: day("2026-11-27"),
            recorded_at: "2026-11-27T09:00:00+00:00".into(),
            recorded_by: "anja".into(),
            sender: Some("Jan <jan@example.nl>".into()),
            subject: Some("Re: Factuur".into()),
            message_id: Some("<r1@example.nl>".into()),
            in_reply_to: Some("<dunwell.1.ab@localhost.invalid>".into()),
            outbox_id: None,
            body: "Ik betaal vrijdag.".into(),
        };
        let id = store.add_note(&n).unwrap();
        let notes = store.notes("C1").unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!((notes[0].id, notes[0].body.as_str()), (id, "Ik betaal vrijdag."));
        assert_eq!(store.note(id).unwrap().as_ref(), Some(&notes[0]));
        assert_eq!(store.note(id + 1).unwrap(), None);
        assert_eq!(store.note_with_message_id("C1", "r1@example.nl").unwrap(), Some(id));
        assert_eq!(store.note_with_message_id("C2", "<r1@example.nl>").unwrap(), None);
        assert!(store.notes("C2").unwrap().is_empty());
    }

    #[test]
    fn alerts_in_force_end_and_come_back() {
        let mut store = Store::open_in_memory().unwrap();
        let tx = store.begin().unwrap();
        tx.record_alert("C1", "bad-payer", day("2026-11-01"), Some(3)).unwrap();
        tx.record_alert("C1", "bad-payer", day("2026-11-01"), None).unwrap();
        tx.commit().unwrap();
        let key = ("C1".to_string(), "bad-payer".to_string());
        assert_eq!(store.alerts_in_force().unwrap().get(&key), Some(&day("2026-11-01")));
        store.end_alert("C1", "bad-payer").unwrap();
        assert!(store.alerts_in_force().unwrap().is_empty());
        assert_eq!(bracketed("a@b"), "<a@b>");
        assert_eq!(bracketed(" <a@b> "), "<a@b>");
    }
}
