//! Approvals: a step with `requires_approval` is written to the outbox `awaiting-approval`
//! (`send::send_day`) and waits there for a person's decision, recorded on the row itself
//! (`decision`, `decided_by`, `decided_at`, migration 12) and as a line of history
//! (`care_events`, kind `approval`).
//!
//! This is the one way out of `awaiting-approval` besides cancellation:
//! - **approve**: the message is `queued`; the next delivery run sends it (and, should it die,
//!   its fallback, which carries the same decision);
//! - **skip**: the message is `cancelled` and its invoices keep the progress it recorded, so the
//!   step counts as done and the playbook goes on with the next one;
//! - **postpone N days**: the message is cancelled exactly as [`Store::cancel`] cancels it (the
//!   progress its invoices had before it comes back) and each covered invoice is paused through
//!   the message's day + N - 1 (`pauses`), so the planner plans the step again N days after it
//!   was due, awaiting approval again.
//!
//! Every other writer of the outbox refuses a row awaiting approval (`mark_sending`,
//! `mark_sent`, `mark_failed`, `mark_dead`, `requeue`): whatever the channel or the path,
//! nothing that needs approval leaves without it. One call decides on a batch of messages in
//! one transaction: one id that is not awaiting approval refuses the whole batch.

use std::collections::HashMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use rusqlite::params;
use serde::Serialize;

use super::outbox::{cancel_in, query};
use super::{Message, Status, Store, StoreError};

/// The longest postponement: further than that is a pause (`dunwell pause add`), not a
/// postponed step.
pub const MAX_POSTPONE_DAYS: u32 = 366;

/// What becomes of a rejected step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not sent; the playbook goes on with the next step.
    Skip,
    /// Not sent now; planned again this many days after the message's day.
    Postpone(u32),
}

/// Who decides and when: the person, the day the decision counts for (`--at`), the moment.
#[derive(Debug, Clone, Copy)]
pub struct Decider<'a> {
    pub by: &'a str,
    pub day: NaiveDate,
    pub at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no message ids given: name the messages to decide on (`dunwell approvals` lists them)")]
    NoIds,
    #[error("no message #{0} in the outbox (`dunwell approvals` lists the messages awaiting approval); nothing was decided")]
    NotFound(i64),
    #[error("message #{id} is {status}, not awaiting approval; nothing was decided")]
    NotAwaiting { id: i64, status: &'static str },
    #[error("postpone by 1 to {MAX_POSTPONE_DAYS} days, not {0} (for longer, pause the invoices with `dunwell pause add`)")]
    Days(u32),
    #[error("the name of who decides {0}")]
    By(String),
}

impl From<rusqlite::Error> for ApprovalError {
    fn from(e: rusqlite::Error) -> Self {
        ApprovalError::Store(StoreError::Sql(e))
    }
}

impl ApprovalError {
    /// Whether the request was at fault (an unknown id, one already decided, a bad number of
    /// days or name), as opposed to the store: the admin API answers 400 for these.
    pub fn is_request_error(&self) -> bool {
        !matches!(self, ApprovalError::Store(_))
    }
}

/// What one decision did to one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decided {
    pub id: i64,
    pub day: NaiveDate,
    pub customer_id: String,
    pub channel: String,
    pub template: String,
    pub invoices: Vec<String>,
    /// `approved`, `skipped` or `postponed:DAYS`, as stored on the row.
    pub decision: String,
    /// The message's status now: `queued` or `cancelled`.
    pub status: Status,
    /// Postponed: the last day of the pause of each covered invoice (the step comes back the
    /// day after, or the first working day after that).
    pub paused_until: Option<NaiveDate>,
    /// The sentence written to the history.
    pub text: String,
}

impl Store {
    /// The messages awaiting approval, oldest first.
    pub fn awaiting_approval(&self) -> Result<Vec<Message>, StoreError> {
        query(&self.conn, "WHERE status = 'awaiting-approval' ORDER BY day, id", [])
    }

    /// The invoices that a message awaiting approval covers, with that message's id: no later
    /// step of theirs is written while the decision is open (a postponement must find their
    /// progress as the waiting message left it).
    pub fn invoices_awaiting_approval(&self) -> Result<HashMap<String, i64>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT json_extract(j.value, '$.invoice_number'), o.id
             FROM outbox o, json_each(o.invoices) j
             WHERE o.status = 'awaiting-approval'",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = HashMap::new();
        while let Some(r) = rows.next()? {
            out.insert(r.get(0)?, r.get(1)?);
        }
        Ok(out)
    }

    /// The steps (invoice, step) a person approved after the day their message was written:
    /// written again, they need no second approval.
    pub fn preapproved_steps(&self) -> Result<std::collections::HashSet<(String, u32)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT json_extract(j.value, '$.invoice_number'), json_extract(j.value, '$.step')
             FROM outbox o, json_each(o.invoices) j
             WHERE o.decision = 'approved-late'",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = std::collections::HashSet::new();
        while let Some(r) = rows.next()? {
            out.insert((r.get(0)?, r.get(1)?));
        }
        Ok(out)
    }

    /// Approves messages awaiting approval: they are queued for the next delivery run (or,
    /// approved after their day, written again by the next send).
    pub fn approve(&mut self, ids: &[i64], who: Decider<'_>) -> Result<Vec<Decided>, ApprovalError> {
        self.decide(ids, who, None)
    }

    /// Rejects messages awaiting approval: the step is skipped or postponed (see the module).
    pub fn reject(
        &mut self,
        ids: &[i64],
        how: Rejection,
        who: Decider<'_>,
    ) -> Result<Vec<Decided>, ApprovalError> {
        self.decide(ids, who, Some(how))
    }

    /// One transaction for the batch: every id is checked inside it, and the first that is not
    /// awaiting approval drops everything written for the ones before.
    fn decide(
        &mut self,
        ids: &[i64],
        who: Decider<'_>,
        rejection: Option<Rejection>,
    ) -> Result<Vec<Decided>, ApprovalError> {
        let by = crate::text::single_line(who.by, 100).map_err(ApprovalError::By)?;
        if by.is_empty() {
            return Err(ApprovalError::By("is empty".into()));
        }
        if let Some(Rejection::Postpone(days)) = rejection {
            if days == 0 || days > MAX_POSTPONE_DAYS {
                return Err(ApprovalError::Days(days));
            }
        }
        let mut unique: Vec<i64> = Vec::with_capacity(ids.len());
        for &id in ids {
            if !unique.contains(&id) {
                unique.push(id);
            }
        }
        if unique.is_empty() {
            return Err(ApprovalError::NoIds);
        }
        let at = who.at.to_rfc3339();
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut out = Vec::with_capacity(unique.len());
        for id in unique {
            let m = query(&tx, "WHERE id = ?1", [id])?.pop().ok_or(ApprovalError::NotFound(id))?;
            if m.status != Status::AwaitingApproval {
                return Err(ApprovalError::NotAwaiting { id, status: m.status.as_str() });
            }
            let what = format!("message #{id} ({}, {})", m.template, m.channel);
            let (decision, status, paused_until, text) = match rejection {
                // Approved after its day: the text as written would give a term that started
                // days ago (a formal notice's 14 days must run from receipt) with stale
                // amounts. It is written again on the next send, with that day's amounts and
                // term, already approved (`Store::preapproved_steps`).
                None if who.day > m.day => {
                    let text = format!(
                        "{what} approved by {by} on {}, after its day {}: it is written again with that day's amounts and term by the next send",
                        who.day, m.day
                    );
                    cancel_in(&tx, id, &text)?;
                    tx.execute(
                        "UPDATE outbox SET decision = 'approved-late', decided_by = ?2, decided_at = ?3 WHERE id = ?1",
                        params![id, by, at],
                    )?;
                    ("approved-late".to_string(), Status::Cancelled, None, text)
                }
                None => {
                    tx.execute(
                        "UPDATE outbox SET status = 'queued', next_attempt = NULL, decision = 'approved',
                            decided_by = ?2, decided_at = ?3
                         WHERE id = ?1 AND status = 'awaiting-approval'",
                        params![id, by, at],
                    )?;
                    ("approved".to_string(), Status::Queued, None, format!("{what} approved by {by}"))
                }
                Some(Rejection::Skip) => {
                    let text = format!(
                        "{what} rejected by {by}: the step is skipped and the playbook goes on with the next one"
                    );
                    tx.execute(
                        "UPDATE outbox SET status = 'cancelled', next_attempt = NULL, last_error = ?4,
                            decision = 'skipped', decided_by = ?2, decided_at = ?3
                         WHERE id = ?1 AND status = 'awaiting-approval'",
                        params![id, by, at, text],
                    )?;
                    // The step counts as done, but a message never sent gave no term, charged
                    // no fee and was no reminder: those come back as they were before it.
                    tx.execute(
                        "UPDATE progress SET term_sent = b.j ->> 'term_sent', term_end = b.j ->> 'term_end',
                            fees = coalesce(b.j ->> 'fees', '0'), first_reminder = b.j ->> 'first_reminder',
                            first_delivery = b.j ->> 'first_delivery'
                         FROM (SELECT j.key AS invoice, CASE WHEN j.type = 'object' THEN j.value ELSE '{}' END AS j
                               FROM outbox o, json_each(o.undo) j WHERE o.id = ?1) b
                         WHERE progress.invoice_number = b.invoice",
                        params![id],
                    )?;
                    ("skipped".to_string(), Status::Cancelled, None, text)
                }
                Some(Rejection::Postpone(days)) => {
                    // The pause ends the day before the step may come back: the message's day
                    // plus the days postponed.
                    let back = m.day.checked_add_days(Days::new(u64::from(days))).unwrap_or(m.day);
                    let until = back.pred_opt().unwrap_or(back);
                    let text = format!(
                        "{what} rejected by {by}: postponed {days} day{}, planned again from {back}",
                        if days == 1 { "" } else { "s" }
                    );
                    cancel_in(&tx, id, &text)?;
                    let decision = format!("postponed:{days}");
                    tx.execute(
                        "UPDATE outbox SET decision = ?2, decided_by = ?3, decided_at = ?4 WHERE id = ?1",
                        params![id, decision, by, at],
                    )?;
                    let reason = format!("approval of message #{id} rejected by {by}: postponed {days} days");
                    for c in &m.invoices {
                        tx.execute(
                            "INSERT INTO pauses (scope, target, from_day, until, reason, recorded_at, recorded_by)
                             VALUES ('invoice', ?1, ?2, ?3, ?4, ?5, ?6)",
                            params![
                                c.invoice_number,
                                who.day.to_string(),
                                until.to_string(),
                                reason,
                                at,
                                by
                            ],
                        )?;
                    }
                    (decision, Status::Cancelled, Some(until), text)
                }
            };
            let invoices: Vec<String> = m.invoices.iter().map(|c| c.invoice_number.clone()).collect();
            let recorder = super::By { who: by.clone(), at: at.clone(), on: who.day };
            super::care::event(&tx, &recorder, Some(&m.customer_id), &invoices, "approval", id, &text)?;
            out.push(Decided {
                id,
                day: m.day,
                customer_id: m.customer_id,
                channel: m.channel,
                template: m.template,
                invoices,
                decision,
                status,
                paused_until,
                text,
            });
        }
        tx.commit()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Progress;
    use crate::store::{Covered, Fallback, NewMessage};

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn who(by: &str) -> Decider<'_> {
        Decider {
            by,
            day: day("2026-12-01"),
            at: DateTime::parse_from_rfc3339("2026-12-01T09:30:00Z").unwrap().with_timezone(&Utc),
        }
    }

    fn progress(steps_done: usize, last_day: &str) -> Progress {
        Progress {
            playbook: "standard".into(),
            steps_done,
            anchor: day("2026-10-31"),
            last_day: Some(day(last_day)),
            first_reminder: None,
            fees: rust_decimal::Decimal::ZERO,
            handed_over: None,
            term: None,
        }
    }

    /// Writes a message for `invoices` at step `step` (the progress before it: `step - 1`
    /// steps done on 2026-11-20; after it: `step` on `day`) with a letter as fallback.
    fn write(store: &mut Store, key: &str, status: Status, invoices: &[&str], step: u32, on: &str) -> i64 {
        let tx = store.begin().unwrap();
        for n in invoices {
            tx.set_progress(n, &progress(step as usize - 1, "2026-11-20")).unwrap();
        }
        let m = NewMessage {
            key: key.into(),
            day: day(on),
            customer_id: "C1".into(),
            channel: "email".into(),
            template: "standard-formal-notice".into(),
            language: "nl".into(),
            recipient: Some("c1@example.nl".into()),
            subject: Some("Ingebrekestelling".into()),
            body: "body".into(),
            html: None,
            invoices: invoices.iter().map(|n| Covered { invoice_number: n.to_string(), step }).collect(),
            total: Some("100.00".into()),
            currency: Some("EUR".into()),
            status,
            pdf: None,
            fallback: Some(Fallback {
                channel: "letter".into(),
                template: "standard-formal-notice".into(),
                recipient: Some("Kerkstraat 1".into()),
                subject: None,
                body: "letter".into(),
                html: None,
                pdf: None,
            }),
            data: None,
            cc: None,
        };
        let after: Vec<(String, Progress)> =
            invoices.iter().map(|n| (n.to_string(), progress(step as usize, on))).collect();
        let id = tx.enqueue(&m, "2026-12-01T08:00:00Z", &after).unwrap().unwrap();
        tx.commit().unwrap();
        id
    }

    fn steps_done(store: &Store, invoice: &str) -> usize {
        store.load_progress().unwrap()[invoice].steps_done
    }

    fn column(store: &Store, sql: &str, id: i64) -> Option<String> {
        store.conn.query_row(sql, [id], |r| r.get(0)).unwrap()
    }

    fn count(store: &Store, table: &str) -> i64 {
        store.conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_message_awaiting_approval_is_listed_and_never_deliverable() {
        let mut store = Store::open_in_memory().unwrap();
        let waiting = write(&mut store, "k1", Status::AwaitingApproval, &["F-1"], 6, "2026-12-01");
        let queued = write(&mut store, "k2", Status::Queued, &["F-2"], 2, "2026-12-01");
        let listed: Vec<i64> = store.awaiting_approval().unwrap().iter().map(|m| m.id).collect();
        assert_eq!(listed, [waiting]);
        let due: Vec<i64> = store.deliverable("2027-01-01T00:00:00Z").unwrap().iter().map(|m| m.id).collect();
        assert_eq!(due, [queued]);
        assert_eq!(
            store.invoices_awaiting_approval().unwrap(),
            HashMap::from([("F-1".to_string(), waiting)])
        );
        // Every other writer leaves it alone: nothing takes it out of waiting.
        assert!(!store.mark_sending(waiting).unwrap());
        store.mark_failed(waiting, Status::Failed, "x", Some("2026-01-01T00:00:00Z")).unwrap();
        store.mark_sent(waiting, "2026-12-01T10:00:00Z", None, None, Some("f")).unwrap();
        store.requeue(waiting).unwrap();
        assert_eq!(store.mark_dead(waiting, "x").unwrap(), None, "no fallback of a waiting message");
        let m = store.message(waiting).unwrap().unwrap();
        assert_eq!(m.status, Status::AwaitingApproval);
        assert_eq!((m.attempts, m.file, m.last_error), (0, None, None));
        assert_eq!(count(&store, "outbox"), 2, "no fallback row");
        assert!(store.deliverable("2027-01-01T00:00:00Z").unwrap().iter().all(|m| m.id != waiting));
    }

    #[test]
    fn approved_after_its_day_it_is_written_again_and_a_skip_gives_no_term_or_fee() {
        let mut store = Store::open_in_memory().unwrap();
        let a = write(&mut store, "k1", Status::AwaitingApproval, &["F-1"], 6, "2026-11-30");
        let late = store.approve(&[a], who("anna")).unwrap();
        assert_eq!((late[0].decision.as_str(), late[0].status), ("approved-late", Status::Cancelled));
        assert!(late[0].text.contains("written again with that day's amounts and term"), "{}", late[0].text);
        // The progress is as before the message, and the step is approved for its next writing.
        assert_eq!(steps_done(&store, "F-1"), 5);
        assert!(store.preapproved_steps().unwrap().contains(&("F-1".to_string(), 6)));
        // A skipped message counts as done but gave no term and charged no fee.
        let tx = store.begin().unwrap();
        let before = Progress { fees: rust_decimal::Decimal::ZERO, term: None, ..progress(4, "2026-11-20") };
        tx.set_progress("F-2", &before).unwrap();
        let m = NewMessage {
            key: "k2".into(),
            invoices: vec![Covered { invoice_number: "F-2".into(), step: 5 }],
            fallback: None,
            ..template_message()
        };
        let term = crate::plan::Term { sent: day("2026-12-01"), ends: day("2026-12-16") };
        let after = Progress {
            fees: rust_decimal::Decimal::new(750, 2),
            term: Some(term),
            ..progress(5, "2026-12-01")
        };
        let b = tx.enqueue(&m, "2026-12-01T08:00:00Z", &[("F-2".into(), after)]).unwrap().unwrap();
        tx.commit().unwrap();
        store.reject(&[b], Rejection::Skip, who("anna")).unwrap();
        let p = &store.load_progress().unwrap()["F-2"];
        assert_eq!((p.steps_done, p.last_day), (5, Some(day("2026-12-01"))));
        assert_eq!((p.term, p.fees), (None, rust_decimal::Decimal::ZERO));
    }

    fn template_message() -> NewMessage {
        NewMessage {
            key: String::new(),
            day: day("2026-12-01"),
            customer_id: "C1".into(),
            channel: "email".into(),
            template: "standard-last-warning".into(),
            language: "nl".into(),
            recipient: Some("c1@example.nl".into()),
            subject: None,
            body: "body".into(),
            html: None,
            invoices: Vec::new(),
            total: None,
            currency: None,
            status: Status::AwaitingApproval,
            pdf: None,
            fallback: None,
            data: None,
            cc: None,
        }
    }

    #[test]
    fn approving_queues_the_message_records_who_and_writes_the_history() {
        let mut store = Store::open_in_memory().unwrap();
        let a = write(&mut store, "k1", Status::AwaitingApproval, &["F-1", "F-2"], 6, "2026-12-01");
        let b = write(&mut store, "k2", Status::AwaitingApproval, &["F-3"], 6, "2026-12-01");
        let decided = store.approve(&[a, b, a], who("anna")).unwrap();
        assert_eq!(decided.len(), 2, "an id named twice is decided once");
        assert_eq!(decided[0].text, format!("message #{a} (standard-formal-notice, email) approved by anna"));
        assert_eq!(decided[0].status, Status::Queued);
        let m = store.message(a).unwrap().unwrap();
        assert_eq!(m.status, Status::Queued);
        assert_eq!(
            column(&store, "SELECT decision FROM outbox WHERE id = ?1", a).as_deref(),
            Some("approved")
        );
        assert_eq!(column(&store, "SELECT decided_by FROM outbox WHERE id = ?1", a).as_deref(), Some("anna"));
        assert_eq!(
            column(&store, "SELECT decided_at FROM outbox WHERE id = ?1", a).as_deref(),
            Some("2026-12-01T09:30:00+00:00")
        );
        let due: Vec<i64> = store.deliverable("2026-12-03T10:00:00Z").unwrap().iter().map(|m| m.id).collect();
        assert_eq!(due, [a, b]);
        // The progress the message recorded stays: the step is done once it is delivered.
        assert_eq!(steps_done(&store, "F-1"), 6);
        let (at, day, customer, invoices, kind, ref_id, text, by): (
            String,
            String,
            String,
            String,
            String,
            i64,
            String,
            String,
        ) = store
            .conn
            .query_row(
                "SELECT at, day, customer_id, invoices, kind, ref_id, text, recorded_by FROM care_events WHERE ref_id = ?1",
                [a],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
            )
            .unwrap();
        assert_eq!(
            (
                at.as_str(),
                day.as_str(),
                customer.as_str(),
                invoices.as_str(),
                kind.as_str(),
                ref_id,
                by.as_str()
            ),
            ("2026-12-01T09:30:00+00:00", "2026-12-01", "C1", r#"["F-1","F-2"]"#, "approval", a, "anna")
        );
        assert_eq!(text, decided[0].text);
        // Once approved, it is no longer awaiting: a second decision is refused.
        let err = store.approve(&[a], who("anna")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("message #{a} is queued, not awaiting approval; nothing was decided")
        );
        assert!(err.is_request_error());
    }

    #[test]
    fn the_fallback_of_an_approved_message_carries_its_decision() {
        let mut store = Store::open_in_memory().unwrap();
        let a = write(&mut store, "k1", Status::AwaitingApproval, &["F-1"], 6, "2026-12-01");
        store.approve(&[a], who("anna")).unwrap();
        assert!(store.mark_sending(a).unwrap());
        let fallback = store.mark_dead(a, "no address").unwrap().expect("the fallback is queued");
        let f = store.message(fallback).unwrap().unwrap();
        assert_eq!((f.status, f.channel.as_str(), f.replaces), (Status::Queued, "letter", Some(a)));
        assert_eq!(
            column(&store, "SELECT decision || ' by ' || decided_by FROM outbox WHERE id = ?1", fallback)
                .as_deref(),
            Some("approved by anna")
        );
    }

    #[test]
    fn one_id_that_is_not_awaiting_refuses_the_whole_batch() {
        let mut store = Store::open_in_memory().unwrap();
        let a = write(&mut store, "k1", Status::AwaitingApproval, &["F-1"], 6, "2026-12-01");
        let q = write(&mut store, "k2", Status::Queued, &["F-2"], 2, "2026-12-01");
        let b = write(&mut store, "k3", Status::AwaitingApproval, &["F-3"], 6, "2026-12-01");
        let err = store.approve(&[a, q, b], who("anna")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("message #{q} is queued, not awaiting approval; nothing was decided")
        );
        let err = store.reject(&[a, 999], Rejection::Postpone(5), who("anna")).unwrap_err();
        assert!(err.to_string().starts_with("no message #999 in the outbox"), "{err}");
        // Nothing of either batch was written.
        for id in [a, b] {
            assert_eq!(store.message(id).unwrap().unwrap().status, Status::AwaitingApproval);
            assert_eq!(column(&store, "SELECT decision FROM outbox WHERE id = ?1", id), None);
        }
        assert_eq!(steps_done(&store, "F-1"), 6);
        assert_eq!((count(&store, "care_events"), count(&store, "pauses")), (0, 0));
        // Requests that make no sense are refused before anything is read.
        assert!(matches!(store.approve(&[], who("anna")), Err(ApprovalError::NoIds)));
        assert!(matches!(
            store.reject(&[a], Rejection::Postpone(0), who("anna")),
            Err(ApprovalError::Days(0))
        ));
        assert!(matches!(store.approve(&[a], who(" ")), Err(ApprovalError::By(_))));
        assert!(matches!(store.approve(&[a], who("anna\nbob")), Err(ApprovalError::By(_))));
    }

    #[test]
    fn skipping_cancels_the_message_and_keeps_the_step_done() {
        let mut store = Store::open_in_memory().unwrap();
        let a = write(&mut store, "k1", Status::AwaitingApproval, &["F-1"], 6, "2026-12-01");
        let decided = store.reject(&[a], Rejection::Skip, who("bob")).unwrap();
        assert_eq!(decided[0].decision, "skipped");
        let m = store.message(a).unwrap().unwrap();
        assert_eq!(m.status, Status::Cancelled);
        let error = m.last_error.unwrap();
        assert!(error.contains("rejected by bob") && error.contains("the step is skipped"), "{error}");
        assert_eq!(
            column(&store, "SELECT decision FROM outbox WHERE id = ?1", a).as_deref(),
            Some("skipped")
        );
        // The step counts as done: the playbook continues with step 7.
        let p = &store.load_progress().unwrap()["F-1"];
        assert_eq!((p.steps_done, p.last_day), (6, Some(day("2026-12-01"))));
        assert_eq!(count(&store, "pauses"), 0);
        assert_eq!(count(&store, "care_events"), 1);
        assert!(store.deliverable("2027-01-01T00:00:00Z").unwrap().is_empty());
    }

    #[test]
    fn postponing_restores_the_progress_and_pauses_each_invoice_until_the_day_before() {
        let mut store = Store::open_in_memory().unwrap();
        let a = write(&mut store, "k1", Status::AwaitingApproval, &["F-1", "F-2"], 6, "2026-12-01");
        let decided = store.reject(&[a], Rejection::Postpone(5), who("carla")).unwrap();
        assert_eq!(decided[0].decision, "postponed:5");
        assert_eq!(decided[0].paused_until, Some(day("2026-12-05")));
        assert_eq!(
            decided[0].text,
            format!("message #{a} (standard-formal-notice, email) rejected by carla: postponed 5 days, planned again from 2026-12-06")
        );
        let m = store.message(a).unwrap().unwrap();
        assert_eq!(m.status, Status::Cancelled);
        assert_eq!(
            column(&store, "SELECT decision FROM outbox WHERE id = ?1", a).as_deref(),
            Some("postponed:5")
        );
        // The progress before the message, as `Store::cancel` gives it back.
        for n in ["F-1", "F-2"] {
            let p = &store.load_progress().unwrap()[n];
            assert_eq!((p.steps_done, p.last_day), (5, Some(day("2026-11-20"))), "{n}");
        }
        let mut stmt = store
            .conn
            .prepare("SELECT scope, target, from_day, until, reason, recorded_at, recorded_by, lifted_on FROM pauses ORDER BY target")
            .unwrap();
        let pauses: Vec<Vec<Option<String>>> = stmt
            .query_map([], |r| (0..8).map(|i| r.get(i)).collect::<Result<Vec<Option<String>>, _>>())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let reason = format!("approval of message #{a} rejected by carla: postponed 5 days");
        let row = |n: &str| -> Vec<Option<String>> {
            ["invoice", n, "2026-12-01", "2026-12-05", &reason, "2026-12-01T09:30:00+00:00", "carla"]
                .iter()
                .map(|s| Some(s.to_string()))
                .chain([None])
                .collect()
        };
        assert_eq!(pauses, [row("F-1"), row("F-2")]);
        let text: String = store
            .conn
            .query_row("SELECT text FROM care_events WHERE ref_id = ?1 AND kind = 'approval'", [a], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(text, decided[0].text);
        assert!(store.deliverable("2027-01-01T00:00:00Z").unwrap().is_empty());
    }

    #[test]
    fn a_message_without_a_prior_step_postponed_leaves_no_progress() {
        // The first step of an invoice (no progress before it): postponing it removes the
        // progress, as cancelling does, so the planner starts the invoice again.
        let mut store = Store::open_in_memory().unwrap();
        let tx = store.begin().unwrap();
        let m = NewMessage {
            key: "k".into(),
            channel: "agency".into(),
            template: "standard-legal-action".into(),
            recipient: None,
            body: "case".into(),
            invoices: vec![Covered { invoice_number: "F-9".into(), step: 1 }],
            ..template_message()
        };
        let id = tx
            .enqueue(&m, "2026-12-01T08:00:00Z", &[("F-9".into(), progress(1, "2026-12-01"))])
            .unwrap()
            .unwrap();
        tx.commit().unwrap();
        store.reject(&[id], Rejection::Postpone(1), who("dee")).unwrap();
        assert!(!store.load_progress().unwrap().contains_key("F-9"));
        let until: String = store.conn.query_row("SELECT until FROM pauses", [], |r| r.get(0)).unwrap();
        assert_eq!(until, "2026-12-01", "one day later: the pause ends on the message's day");
    }
}
