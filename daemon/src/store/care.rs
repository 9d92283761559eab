//! Working with the customer in the store: promises, disputes, payment plans, pauses, and the
//! `care_events` history line each of them writes. Recording checks what an operator (or the
//! admin API, or a call outcome) asks against the store, so a promise on an invoice that does
//! not exist or is paid is refused with the reason, and writes the record and its history line
//! in one transaction.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use rusqlite::{params, OptionalExtension, Transaction};
use rust_decimal::Decimal;

use super::{date_col, decimal_col, opt_date, Store, StoreError, WriteTx};
use crate::care::{
    Book, Dispute, DisputeStatus, Instalment, Pause, PauseScope, PaymentPlan, PlanStatus, Promise,
    PromiseStatus, Recorded, Settings,
};
use crate::law::round_cents;

#[derive(Debug, thiserror::Error)]
pub enum CareError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// What the operator asked cannot be recorded; the text says why and what to do.
    #[error("{0}")]
    Refused(String),
}

impl From<rusqlite::Error> for CareError {
    fn from(e: rusqlite::Error) -> Self {
        CareError::Store(StoreError::Sql(e))
    }
}

fn refuse<T>(text: impl Into<String>) -> Result<T, CareError> {
    Err(CareError::Refused(text.into()))
}

/// Who records, and when.
#[derive(Debug, Clone)]
pub struct By {
    pub who: String,
    /// RFC 3339 timestamp of the recording.
    pub at: String,
    /// The day it counts from (`--at`).
    pub on: NaiveDate,
}

impl By {
    fn recorded(&self) -> Recorded {
        Recorded { by: self.who.clone(), at: self.at.clone(), on: self.on }
    }
}

#[derive(Debug, Clone)]
pub struct NewPromise {
    pub invoices: Vec<String>,
    pub date: NaiveDate,
    pub amount: Option<Decimal>,
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewDispute {
    pub invoice: String,
    pub reason: String,
    pub amount: Option<Decimal>,
    pub deadline: Option<NaiveDate>,
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewPlan {
    pub invoices: Vec<String>,
    /// (date, amount) in any order; stored in date order.
    pub instalments: Vec<(NaiveDate, Decimal)>,
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewPause {
    pub scope: PauseScope,
    pub until: Option<NaiveDate>,
    pub reason: String,
}

/// An invoice as recording sees it.
struct Open {
    customer_id: String,
    currency: String,
    open: Decimal,
}

/// Per invoice, what disputes resolved for the customer took off it: (open amount at the
/// resolution, amount deducted, paid since), see [`crate::care::after_deduction`].
pub type Deductions = HashMap<String, Vec<(Decimal, Decimal, Decimal)>>;

/// A change that `dunwell send` records once the payments (or their absence) decide it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    PromiseKept { id: i64, on: NaiveDate },
    PromiseBroken { id: i64, on: NaiveDate },
    PlanKept { id: i64, on: NaiveDate },
    PlanBroken { id: i64, on: NaiveDate, seq: u32 },
}

/// A care message written with an outbox row (same transaction): the record remembers it so
/// it is written once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notified {
    BrokenPromise { id: i64 },
    PlanBroken { id: i64 },
    Instalment { plan: i64, seq: u32 },
    DisputeTask { id: i64 },
    PromiseConfirmed { id: i64 },
    PlanConfirmed { id: i64 },
}

const PROMISE_COLUMNS: &str =
    "p.id, p.customer_id, p.promised_date, p.amount, p.status, p.note, p.recorded_by,
    p.recorded_at, p.recorded_on, p.settled_on, p.notified_on,
    (SELECT json_group_array(invoice_number) FROM (SELECT invoice_number FROM promise_invoices
        WHERE promise_id = p.id ORDER BY invoice_number))";

const DISPUTE_COLUMNS: &str = "id, customer_id, invoice_number, reason, amount, deadline, note, status,
    recorded_on, recorded_at, recorded_by, resolved_on, resolved_at, resolved_by, deducted, task_on";

const PLAN_COLUMNS: &str = "pp.id, pp.customer_id, pp.status, pp.recorded_on, pp.recorded_at, pp.recorded_by,
    pp.note, pp.settled_on, pp.missed, pp.notified_on,
    (SELECT json_group_array(invoice_number) FROM (SELECT invoice_number FROM payment_plan_invoices
        WHERE plan_id = pp.id ORDER BY invoice_number)),
    (SELECT json_group_array(json_array(seq, due_date, amount, reminded_on)) FROM (SELECT * FROM instalments
        WHERE plan_id = pp.id ORDER BY seq))";

const PAUSE_COLUMNS: &str =
    "id, scope, target, from_day, until, reason, recorded_at, recorded_by, lifted_on, lifted_at, lifted_by";

fn invoices_json(s: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s).map_err(|_| StoreError::Corrupt { what: "invoice list", value: s.to_string() })
}

fn promise_row(r: &rusqlite::Row<'_>) -> Result<Promise, StoreError> {
    let status: String = r.get(4)?;
    Ok(Promise {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        date: date_col(r.get_ref(2)?.as_str()?)?,
        amount: match r.get_ref(3)?.as_str_or_null()? {
            Some(a) => decimal_col(a)?,
            None => Decimal::ZERO,
        },
        status: PromiseStatus::parse(&status)
            .ok_or(StoreError::Corrupt { what: "promise status", value: status.clone() })?,
        note: r.get(5)?,
        recorded: Recorded {
            by: r.get(6)?,
            at: r.get(7)?,
            on: match r.get_ref(8)?.as_str_or_null()? {
                Some(d) => date_col(d)?,
                None => date_col(&r.get::<_, String>(7)?.chars().take(10).collect::<String>())?,
            },
        },
        settled_on: opt_date(r.get_ref(9)?.as_str_or_null()?)?,
        notified_on: opt_date(r.get_ref(10)?.as_str_or_null()?)?,
        invoices: invoices_json(r.get_ref(11)?.as_str()?)?,
    })
}

fn dispute_row(r: &rusqlite::Row<'_>) -> Result<Dispute, StoreError> {
    let status: String = r.get(7)?;
    let resolved_on = opt_date(r.get_ref(11)?.as_str_or_null()?)?;
    Ok(Dispute {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        invoice: r.get(2)?,
        reason: r.get(3)?,
        amount: r.get_ref(4)?.as_str_or_null()?.map(decimal_col).transpose()?,
        deadline: date_col(r.get_ref(5)?.as_str()?)?,
        note: r.get(6)?,
        status: DisputeStatus::parse(&status)
            .ok_or(StoreError::Corrupt { what: "dispute status", value: status.clone() })?,
        recorded: Recorded { on: date_col(r.get_ref(8)?.as_str()?)?, at: r.get(9)?, by: r.get(10)? },
        resolved: match resolved_on {
            Some(on) => Some(Recorded {
                on,
                at: r.get::<_, Option<String>>(12)?.unwrap_or_default(),
                by: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
            }),
            None => None,
        },
        deducted: r.get_ref(14)?.as_str_or_null()?.map(decimal_col).transpose()?,
        task_on: opt_date(r.get_ref(15)?.as_str_or_null()?)?,
    })
}

fn plan_row(r: &rusqlite::Row<'_>) -> Result<PaymentPlan, StoreError> {
    let status: String = r.get(2)?;
    let raw: String = r.get(11)?;
    let rows: Vec<(u32, String, String, Option<String>)> = serde_json::from_str(&raw)
        .map_err(|_| StoreError::Corrupt { what: "instalments", value: raw.clone() })?;
    let mut instalments = Vec::with_capacity(rows.len());
    for (seq, date, amount, reminded) in rows {
        instalments.push(Instalment {
            seq,
            date: date_col(&date)?,
            amount: decimal_col(&amount)?,
            reminded_on: opt_date(reminded.as_deref())?,
        });
    }
    Ok(PaymentPlan {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        status: PlanStatus::parse(&status)
            .ok_or(StoreError::Corrupt { what: "plan status", value: status.clone() })?,
        recorded: Recorded { on: date_col(r.get_ref(3)?.as_str()?)?, at: r.get(4)?, by: r.get(5)? },
        note: r.get(6)?,
        settled_on: opt_date(r.get_ref(7)?.as_str_or_null()?)?,
        missed: r.get(8)?,
        notified_on: opt_date(r.get_ref(9)?.as_str_or_null()?)?,
        invoices: invoices_json(r.get_ref(10)?.as_str()?)?,
        instalments,
    })
}

fn pause_row(r: &rusqlite::Row<'_>) -> Result<Pause, StoreError> {
    let scope: String = r.get(1)?;
    let target: Option<String> = r.get(2)?;
    let scope = match (scope.as_str(), target) {
        ("customer", Some(t)) => PauseScope::Customer(t),
        ("invoice", Some(t)) => PauseScope::Invoice(t),
        ("all", _) => PauseScope::All,
        (s, t) => {
            return Err(StoreError::Corrupt {
                what: "pause scope",
                value: format!("{s} {}", t.unwrap_or_default()),
            })
        }
    };
    let lifted_on = opt_date(r.get_ref(8)?.as_str_or_null()?)?;
    Ok(Pause {
        id: r.get(0)?,
        scope,
        from: date_col(r.get_ref(3)?.as_str()?)?,
        until: opt_date(r.get_ref(4)?.as_str_or_null()?)?,
        reason: r.get(5)?,
        recorded: Recorded { on: date_col(r.get_ref(3)?.as_str()?)?, at: r.get(6)?, by: r.get(7)? },
        lifted: match lifted_on {
            Some(on) => Some(Recorded {
                on,
                at: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
                by: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
            }),
            None => None,
        },
    })
}

fn collect<T>(
    stmt: &mut rusqlite::Statement<'_>,
    args: impl rusqlite::Params,
    f: fn(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut rows = stmt.query(args)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(f(r)?);
    }
    Ok(out)
}

/// Writes a line of history.
pub(super) fn event(
    tx: &rusqlite::Connection,
    by: &By,
    customer: Option<&str>,
    invoices: &[String],
    kind: &str,
    ref_id: i64,
    text: &str,
) -> Result<(), StoreError> {
    let invoices = serde_json::to_string(invoices).unwrap_or_else(|_| "[]".into());
    tx.execute(
        "INSERT INTO care_events (at, day, customer_id, invoices, kind, ref_id, text, recorded_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![by.at, by.on.to_string(), customer, invoices, kind, ref_id, text, by.who],
    )?;
    Ok(())
}

fn open_invoice(tx: &Transaction<'_>, number: &str) -> Result<Open, CareError> {
    let row: Option<(String, String, String)> = tx
        .query_row(
            "SELECT customer_id, currency, open_amount FROM invoices WHERE number = ?1",
            [number],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((customer_id, currency, open)) = row else {
        return refuse(format!(
            "no invoice `{number}` in the store; `dunwell invoices` or `dunwell plan` list them"
        ));
    };
    let open = decimal_col(&open)?;
    if open <= Decimal::ZERO {
        return refuse(format!("invoice {number} is paid (nothing open): there is nothing to record for it"));
    }
    Ok(Open { customer_id, currency, open })
}

/// The invoices of one customer, all open, in one currency: what a promise or a plan covers.
fn open_invoices(tx: &Transaction<'_>, numbers: &[String]) -> Result<(String, String, Decimal), CareError> {
    if numbers.is_empty() {
        return refuse("name at least one invoice (--invoice N)");
    }
    let mut customer: Option<(String, String)> = None;
    let mut total = Decimal::ZERO;
    for (i, n) in numbers.iter().enumerate() {
        if numbers[..i].contains(n) {
            return refuse(format!("invoice {n} is named twice"));
        }
        let inv = open_invoice(tx, n)?;
        match &customer {
            None => customer = Some((inv.customer_id.clone(), inv.currency.clone())),
            Some((c, _)) if *c != inv.customer_id => {
                return refuse(format!(
                    "invoice {n} is customer {}'s, the others are customer {c}'s: record one per customer",
                    inv.customer_id
                ))
            }
            Some((_, cur)) if *cur != inv.currency => {
                return refuse(format!(
                    "invoice {n} is in {}, the others in {cur}: record one per currency",
                    inv.currency
                ))
            }
            Some(_) => {}
        }
        total += inv.open;
    }
    let (c, cur) = customer.unwrap_or_default();
    Ok((c, cur, total))
}

fn check_amount(what: &str, amount: Decimal, currency: &str) -> Result<(), CareError> {
    if amount <= Decimal::ZERO {
        return refuse(format!("{what} must be more than zero (got {amount})"));
    }
    if amount.normalize().scale() > 2 {
        return refuse(format!("{what} {amount} has more than 2 decimals; {currency} amounts have cents"));
    }
    Ok(())
}

impl Store {
    /// Everything that can still act on a plan: open and broken promises, open disputes,
    /// active and broken payment plans, pauses not lifted.
    pub fn load_care(&self) -> Result<Book, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {PROMISE_COLUMNS} FROM promises p WHERE p.status IN ('open', 'broken') ORDER BY p.id"
        ))?;
        let promises = collect(&mut stmt, [], promise_row)?;
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {DISPUTE_COLUMNS} FROM disputes WHERE status = 'open' ORDER BY id"))?;
        let disputes = collect(&mut stmt, [], dispute_row)?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {PLAN_COLUMNS} FROM payment_plans pp WHERE pp.status IN ('active', 'broken') ORDER BY pp.id"
        ))?;
        let plans = collect(&mut stmt, [], plan_row)?;
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {PAUSE_COLUMNS} FROM pauses WHERE lifted_on IS NULL ORDER BY id"))?;
        let pauses = collect(&mut stmt, [], pause_row)?;
        Ok(Book { promises, disputes, plans, pauses })
    }

    /// The payments of every invoice an open or broken promise or an active or broken plan
    /// covers (paid invoices included: what was paid towards a promise counts wherever it went).
    pub fn care_payments(&self) -> Result<Vec<crate::model::Payment>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT p.invoice_number, p.date, p.amount FROM payments p
             WHERE p.invoice_number IN (
                SELECT i.invoice_number FROM promise_invoices i JOIN promises x ON x.id = i.promise_id
                 WHERE x.status IN ('open', 'broken')
                UNION
                SELECT i.invoice_number FROM payment_plan_invoices i JOIN payment_plans x ON x.id = i.plan_id
                 WHERE x.status IN ('active', 'broken'))
             ORDER BY p.invoice_number, p.date",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(crate::model::Payment {
                invoice_number: r.get(0)?,
                date: date_col(r.get_ref(1)?.as_str()?)?,
                amount: decimal_col(r.get_ref(2)?.as_str()?)?,
                method: None,
            });
        }
        Ok(out)
    }

    pub fn promises(&self) -> Result<Vec<Promise>, StoreError> {
        let mut stmt =
            self.conn.prepare(&format!("SELECT {PROMISE_COLUMNS} FROM promises p ORDER BY p.id"))?;
        collect(&mut stmt, [], promise_row)
    }

    pub fn disputes(&self) -> Result<Vec<Dispute>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("SELECT {DISPUTE_COLUMNS} FROM disputes ORDER BY id"))?;
        collect(&mut stmt, [], dispute_row)
    }

    pub fn payment_plans(&self) -> Result<Vec<PaymentPlan>, StoreError> {
        let mut stmt =
            self.conn.prepare(&format!("SELECT {PLAN_COLUMNS} FROM payment_plans pp ORDER BY pp.id"))?;
        collect(&mut stmt, [], plan_row)
    }

    pub fn pauses(&self) -> Result<Vec<Pause>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("SELECT {PAUSE_COLUMNS} FROM pauses ORDER BY id"))?;
        collect(&mut stmt, [], pause_row)
    }

    /// What disputes resolved for the customer take off each invoice: per invoice, the
    /// deduction's (open amount at the resolution, amount deducted, paid since).
    pub fn deductions(&self) -> Result<Deductions, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT d.invoice_number, d.open_before, d.deducted,
                (SELECT json_group_array(p.amount) FROM payments p
                  WHERE p.invoice_number = d.invoice_number AND p.id > coalesce(d.payment_mark, 0))
             FROM disputes d WHERE d.status IN ('credit', 'write-off') AND d.deducted IS NOT NULL
             ORDER BY d.id",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Deductions::new();
        while let Some(r) = rows.next()? {
            let paid: Vec<String> = serde_json::from_str(r.get_ref(3)?.as_str()?).unwrap_or_default();
            let mut since = Decimal::ZERO;
            for p in paid {
                since += decimal_col(&p)?;
            }
            out.entry(r.get(0)?).or_default().push((
                decimal_col(r.get_ref(1)?.as_str()?)?,
                decimal_col(r.get_ref(2)?.as_str()?)?,
                since,
            ));
        }
        Ok(out)
    }

    /// Records a promise to pay; without an amount, the invoices' open total is promised.
    pub fn add_promise(&mut self, p: &NewPromise, by: &By) -> Result<Promise, CareError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (customer, currency, open) = open_invoices(&tx, &p.invoices)?;
        if p.date < by.on {
            return refuse(format!(
                "the promised date {} is before {} (the day recorded): a promise is for a day to come",
                p.date, by.on
            ));
        }
        let amount = p.amount.unwrap_or(open);
        check_amount("the promised amount", amount, &currency)?;
        let amount = round_cents(amount);
        tx.execute(
            "INSERT INTO promises (customer_id, invoice_number, promised_date, amount, status, recorded_at, note,
                recorded_by, recorded_on)
             VALUES (?1, ?2, ?3, ?4, 'open', ?5, ?6, ?7, ?8)",
            params![
                customer,
                p.invoices.first(),
                p.date.to_string(),
                amount.to_string(),
                by.at,
                p.note,
                by.who,
                by.on.to_string()
            ],
        )?;
        let id = tx.last_insert_rowid();
        for n in &p.invoices {
            tx.execute(
                "INSERT INTO promise_invoices (promise_id, invoice_number) VALUES (?1, ?2)",
                params![id, n],
            )?;
        }
        let text = format!(
            "promise #{id}: {amount} {currency} by {} for {}{}",
            p.date,
            p.invoices.join(", "),
            p.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()
        );
        event(&tx, by, Some(&customer), &p.invoices, "promise", id, &text)?;
        tx.commit()?;
        Ok(Promise {
            id,
            customer_id: customer,
            invoices: p.invoices.clone(),
            date: p.date,
            amount,
            status: PromiseStatus::Open,
            note: p.note.clone(),
            recorded: by.recorded(),
            settled_on: None,
            notified_on: None,
        })
    }

    /// Records a dispute about (part of) an invoice.
    pub fn add_dispute(
        &mut self,
        d: &NewDispute,
        settings: &Settings,
        by: &By,
    ) -> Result<Dispute, CareError> {
        if !settings.dispute_reasons.contains(&d.reason) {
            return refuse(format!(
                "`{}` is not a dispute reason; use one of {} (the list is `dispute_reasons` in [care] of dunwell.toml)",
                d.reason,
                settings.dispute_reasons.join(", ")
            ));
        }
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let inv = open_invoice(&tx, &d.invoice)?;
        if let Some(a) = d.amount {
            check_amount("the disputed amount", a, &inv.currency)?;
            if a > inv.open {
                return refuse(format!(
                    "the disputed amount {a} is more than invoice {}'s open {} {}; leave --amount out to dispute all of it",
                    d.invoice, inv.open, inv.currency
                ));
            }
        }
        let d = &NewDispute { amount: d.amount.map(round_cents), ..d.clone() };
        let deadline = d.deadline.unwrap_or(by.on + Days::new(u64::from(settings.dispute_days)));
        if deadline < by.on {
            return refuse(format!("the deadline {deadline} is before {} (the day recorded)", by.on));
        }
        tx.execute(
            "INSERT INTO disputes (customer_id, invoice_number, reason, amount, deadline, note, status,
                recorded_on, recorded_at, recorded_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7, ?8, ?9)",
            params![
                inv.customer_id,
                d.invoice,
                d.reason,
                d.amount.map(|a| a.to_string()),
                deadline.to_string(),
                d.note,
                by.on.to_string(),
                by.at,
                by.who
            ],
        )?;
        let id = tx.last_insert_rowid();
        let text = format!(
            "dispute #{id} on {}: {} ({}), to be resolved by {deadline}{}",
            d.invoice,
            d.amount.map_or_else(
                || format!("all of {} {}", inv.open, inv.currency),
                |a| format!("{a} {}", inv.currency)
            ),
            crate::care::reason_text(&d.reason),
            d.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default()
        );
        event(&tx, by, Some(&inv.customer_id), std::slice::from_ref(&d.invoice), "dispute", id, &text)?;
        tx.commit()?;
        Ok(Dispute {
            id,
            customer_id: inv.customer_id,
            invoice: d.invoice.clone(),
            reason: d.reason.clone(),
            amount: d.amount,
            deadline,
            note: d.note.clone(),
            status: DisputeStatus::Open,
            recorded: by.recorded(),
            resolved: None,
            deducted: None,
            task_on: None,
        })
    }

    /// Resolves an open dispute. For the customer (credit, write-off) the disputed amount leaves
    /// the claim; rejected, dunning resumes where it stopped.
    pub fn resolve_dispute(
        &mut self,
        id: i64,
        outcome: DisputeStatus,
        note: Option<&str>,
        by: &By,
    ) -> Result<Dispute, CareError> {
        if outcome == DisputeStatus::Open {
            return refuse("resolve a dispute as credit, write-off or rejected");
        }
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let d = tx
            .query_row(&format!("SELECT {DISPUTE_COLUMNS} FROM disputes WHERE id = ?1"), [id], |r| {
                Ok(dispute_row(r))
            })
            .optional()?
            .transpose()?;
        let Some(d) = d else {
            return refuse(format!("no dispute #{id}; `dunwell dispute list` lists them"));
        };
        if d.status != DisputeStatus::Open {
            return refuse(format!("dispute #{id} was resolved already ({})", d.status.as_str()));
        }
        let row: Option<(String, String)> = tx
            .query_row("SELECT open_amount, currency FROM invoices WHERE number = ?1", [&d.invoice], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let (open, currency) = match row {
            Some((o, c)) => (decimal_col(&o)?, c),
            None => (Decimal::ZERO, String::new()),
        };
        let mark: i64 = tx.query_row("SELECT coalesce(max(id), 0) FROM payments", [], |r| r.get(0))?;
        let deducted =
            matches!(outcome, DisputeStatus::Credit | DisputeStatus::WriteOff).then(|| d.disputed_of(open));
        tx.execute(
            "UPDATE disputes SET status = ?2, resolved_on = ?3, resolved_at = ?4, resolved_by = ?5,
                resolution_note = ?6, deducted = ?7, open_before = ?8, payment_mark = ?9
             WHERE id = ?1",
            params![
                id,
                outcome.as_str(),
                by.on.to_string(),
                by.at,
                by.who,
                note,
                deducted.map(|x| x.to_string()),
                open.to_string(),
                mark
            ],
        )?;
        let text = match deducted {
            Some(x) => format!(
                "dispute #{id} on {} resolved for the customer ({}): {x} {currency} leaves the claim",
                d.invoice,
                outcome.as_str()
            ),
            None => format!("dispute #{id} on {} rejected: dunning resumes", d.invoice),
        };
        event(
            &tx,
            by,
            Some(&d.customer_id),
            std::slice::from_ref(&d.invoice),
            "dispute-resolved",
            id,
            &text,
        )?;
        tx.commit()?;
        Ok(Dispute { status: outcome, resolved: Some(by.recorded()), deducted, ..d })
    }

    /// Records a payment plan; its instalments must add up to the invoices' open total.
    pub fn add_plan(&mut self, p: &NewPlan, by: &By) -> Result<PaymentPlan, CareError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (customer, currency, open) = open_invoices(&tx, &p.invoices)?;
        for n in &p.invoices {
            let other: Option<i64> = tx
                .query_row(
                    "SELECT pp.id FROM payment_plans pp JOIN payment_plan_invoices i ON i.plan_id = pp.id
                     WHERE pp.status = 'active' AND i.invoice_number = ?1",
                    [n],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(other) = other {
                return refuse(format!(
                    "invoice {n} is in payment plan #{other} already; cancel that one first (`dunwell payment-plan cancel {other}`)"
                ));
            }
        }
        if p.instalments.is_empty() {
            return refuse("name the instalments: --instalment YYYY-MM-DD:AMOUNT, one per instalment");
        }
        // Checked as given (more than 2 decimals is refused), then written with their cents.
        let mut instalments = p.instalments.clone();
        instalments.sort_by_key(|(d, _)| *d);
        let mut sum = Decimal::ZERO;
        for i in 0..instalments.len() {
            let (date, amount) = instalments[i];
            check_amount(&format!("instalment {date}"), amount, &currency)?;
            if date < by.on {
                return refuse(format!("instalment {date} is before {} (the day recorded)", by.on));
            }
            if i > 0 && instalments[i - 1].0 == date {
                return refuse(format!("two instalments on {date}: make it one"));
            }
            instalments[i].1 = round_cents(amount);
            sum += instalments[i].1;
        }
        if sum != open {
            return refuse(format!(
                "the instalments add up to {sum} {currency}, but {} {} {open} {currency} open; make them add up to the open total",
                p.invoices.join(", "),
                if p.invoices.len() == 1 { "has" } else { "have" }
            ));
        }
        tx.execute(
            "INSERT INTO payment_plans (customer_id, status, recorded_on, recorded_at, recorded_by, note)
             VALUES (?1, 'active', ?2, ?3, ?4, ?5)",
            params![customer, by.on.to_string(), by.at, by.who, p.note],
        )?;
        let id = tx.last_insert_rowid();
        for n in &p.invoices {
            tx.execute(
                "INSERT INTO payment_plan_invoices (plan_id, invoice_number) VALUES (?1, ?2)",
                params![id, n],
            )?;
        }
        for (i, (date, amount)) in instalments.iter().enumerate() {
            tx.execute(
                "INSERT INTO instalments (plan_id, seq, due_date, amount) VALUES (?1, ?2, ?3, ?4)",
                params![id, i as i64 + 1, date.to_string(), amount.to_string()],
            )?;
        }
        let text = format!(
            "payment plan #{id} for {}: {}",
            p.invoices.join(", "),
            instalments.iter().map(|(d, a)| format!("{a} {currency} on {d}")).collect::<Vec<_>>().join(", ")
        );
        event(&tx, by, Some(&customer), &p.invoices, "payment-plan", id, &text)?;
        tx.commit()?;
        Ok(PaymentPlan {
            id,
            customer_id: customer,
            invoices: p.invoices.clone(),
            instalments: instalments
                .iter()
                .enumerate()
                .map(|(i, (date, amount))| Instalment {
                    seq: i as u32 + 1,
                    date: *date,
                    amount: *amount,
                    reminded_on: None,
                })
                .collect(),
            status: PlanStatus::Active,
            note: p.note.clone(),
            recorded: by.recorded(),
            settled_on: None,
            missed: None,
            notified_on: None,
        })
    }

    /// Cancels an active payment plan (the playbook resumes under the catch-up rules).
    pub fn cancel_plan(&mut self, id: i64, by: &By) -> Result<(), CareError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let row: Option<(String, String)> = tx
            .query_row("SELECT status, customer_id FROM payment_plans WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((status, customer)) = row else {
            return refuse(format!("no payment plan #{id}; `dunwell payment-plan list` lists them"));
        };
        if status != "active" {
            return refuse(format!("payment plan #{id} is {status}, not active"));
        }
        tx.execute(
            "UPDATE payment_plans SET status = 'cancelled', settled_on = ?2 WHERE id = ?1",
            params![id, by.on.to_string()],
        )?;
        event(&tx, by, Some(&customer), &[], "payment-plan", id, &format!("payment plan #{id} cancelled"))?;
        tx.commit()?;
        Ok(())
    }

    pub fn add_pause(&mut self, p: &NewPause, by: &By) -> Result<Pause, CareError> {
        if p.reason.trim().is_empty() {
            return refuse("give the pause a reason (--reason TEXT): it shows in the plan and the history");
        }
        if p.until.is_some_and(|u| u < by.on) {
            return refuse(format!(
                "--until {} is before {} (the day recorded)",
                p.until.unwrap_or(by.on),
                by.on
            ));
        }
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (scope, target, customer, invoices) = match &p.scope {
            PauseScope::Customer(id) => {
                let known: bool =
                    tx.query_row("SELECT EXISTS (SELECT 1 FROM customers WHERE id = ?1)", [id], |r| {
                        r.get(0)
                    })?;
                if !known {
                    return refuse(format!("no customer `{id}` in the store"));
                }
                ("customer", Some(id.clone()), Some(id.clone()), Vec::new())
            }
            PauseScope::Invoice(n) => {
                let inv = open_invoice(&tx, n)?;
                ("invoice", Some(n.clone()), Some(inv.customer_id), vec![n.clone()])
            }
            PauseScope::All => ("all", None, None, Vec::new()),
        };
        tx.execute(
            "INSERT INTO pauses (scope, target, from_day, until, reason, recorded_at, recorded_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                scope,
                target,
                by.on.to_string(),
                p.until.map(|u| u.to_string()),
                p.reason,
                by.at,
                by.who
            ],
        )?;
        let id = tx.last_insert_rowid();
        let text = format!(
            "pause #{id} of {} {}: {}",
            p.scope.describe(),
            p.until.map_or_else(|| "until lifted".to_string(), |u| format!("through {u}")),
            p.reason
        );
        event(&tx, by, customer.as_deref(), &invoices, "pause", id, &text)?;
        tx.commit()?;
        Ok(Pause {
            id,
            scope: p.scope.clone(),
            from: by.on,
            until: p.until,
            reason: p.reason.clone(),
            recorded: by.recorded(),
            lifted: None,
        })
    }

    pub fn lift_pause(&mut self, id: i64, by: &By) -> Result<Pause, CareError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let p = tx
            .query_row(&format!("SELECT {PAUSE_COLUMNS} FROM pauses WHERE id = ?1"), [id], |r| {
                Ok(pause_row(r))
            })
            .optional()?
            .transpose()?;
        let Some(p) = p else { return refuse(format!("no pause #{id}; `dunwell pause list` lists them")) };
        if p.lifted.is_some() {
            return refuse(format!("pause #{id} was lifted already"));
        }
        tx.execute(
            "UPDATE pauses SET lifted_on = ?2, lifted_at = ?3, lifted_by = ?4 WHERE id = ?1",
            params![id, by.on.to_string(), by.at, by.who],
        )?;
        let (customer, invoices) = match &p.scope {
            PauseScope::Customer(c) => (Some(c.clone()), Vec::new()),
            PauseScope::Invoice(n) => {
                let c: Option<String> = tx
                    .query_row("SELECT customer_id FROM invoices WHERE number = ?1", [n], |r| r.get(0))
                    .optional()?;
                (c, vec![n.clone()])
            }
            PauseScope::All => (None, Vec::new()),
        };
        event(&tx, by, customer.as_deref(), &invoices, "pause-lifted", id, &format!("pause #{id} lifted"))?;
        tx.commit()?;
        Ok(Pause { lifted: Some(by.recorded()), ..p })
    }

    /// Records promises and plans the payments decided (kept or broken), each with its line of
    /// history. Run by `dunwell send` before it plans.
    pub fn record_settled(&mut self, changes: &[Settled], by: &By) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for c in changes {
            let (promise, id, status, on, missed, text) = match *c {
                Settled::PromiseKept { id, on } => {
                    (true, id, "kept", on, None, format!("promise #{id} kept (paid by {on})"))
                }
                Settled::PromiseBroken { id, on } => (
                    true,
                    id,
                    "broken",
                    on,
                    None,
                    format!("promise #{id} broken: not paid by the end of its grace"),
                ),
                Settled::PlanKept { id, on } => {
                    (false, id, "kept", on, None, format!("payment plan #{id} kept: every instalment paid"))
                }
                Settled::PlanBroken { id, on, seq } => (
                    false,
                    id,
                    "broken",
                    on,
                    Some(seq),
                    format!("payment plan #{id} broken: instalment {seq} not paid by the end of its grace"),
                ),
            };
            // The record's table, the status it leaves, the table of its invoices and its
            // key there, and its kind in the history.
            let (table, from, members, key, kind) = if promise {
                ("promises", "open", "promise_invoices", "promise_id", "promise")
            } else {
                ("payment_plans", "active", "payment_plan_invoices", "plan_id", "payment-plan")
            };
            let changed = tx.execute(
                &format!(
                    "UPDATE {table} SET status = ?2, settled_on = ?3 WHERE id = ?1 AND status = '{from}'"
                ),
                params![id, status, on.to_string()],
            )?;
            if changed == 0 {
                continue;
            }
            if let Some(seq) = missed {
                tx.execute("UPDATE payment_plans SET missed = ?2 WHERE id = ?1", params![id, seq])?;
            }
            let (customer, invoices): (String, String) = tx.query_row(
                &format!(
                    "SELECT customer_id, (SELECT json_group_array(invoice_number) FROM {members} WHERE {key} = ?1)
                     FROM {table} WHERE id = ?1"
                ),
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let by = By { on, ..by.clone() };
            event(&tx, &by, Some(&customer), &invoices_json(&invoices)?, kind, id, &text)?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// How a call went, as recorded on its task (`dunwell tasks done`, `POST /tasks/ID/done`).
#[derive(Debug, Clone, Default)]
pub struct CallOutcome {
    /// paid, promise, dispute, payment-plan, no-answer or wrong-number.
    pub outcome: String,
    pub note: Option<String>,
    /// promise: the day promised.
    pub date: Option<NaiveDate>,
    /// promise: the amount (default the open total); dispute: the disputed part (default all).
    pub amount: Option<Decimal>,
    /// dispute: its reason.
    pub reason: Option<String>,
    /// payment-plan: the instalments.
    pub instalments: Vec<(NaiveDate, Decimal)>,
}

pub const CALL_OUTCOMES: &[&str] =
    &["paid", "promise", "dispute", "payment-plan", "no-answer", "wrong-number"];

impl Store {
    /// Records how a call went on its task, and the promise, dispute or payment plan it agreed
    /// (with the call's note) in the same go. Returns a sentence saying what was recorded.
    pub fn record_call(
        &mut self,
        task: i64,
        call: &CallOutcome,
        settings: &Settings,
        by: &By,
    ) -> Result<String, CareError> {
        if !CALL_OUTCOMES.contains(&call.outcome.as_str()) {
            return refuse(format!(
                "`{}` is not a call outcome; use one of {}",
                call.outcome,
                CALL_OUTCOMES.join(", ")
            ));
        }
        let Some(m) = self.message(task)?.filter(|m| m.channel == "phone") else {
            return refuse(format!("no call task with id {task}; `dunwell tasks` lists them"));
        };
        let note = Some(match &call.note {
            Some(n) => format!("call task #{task}: {n}"),
            None => format!("call task #{task}"),
        });
        // The invoices of the call that are still open: what the outcome is about.
        let mut open = Vec::new();
        for c in &m.invoices {
            if self.invoice_now(&c.invoice_number)?.is_some_and(|i| i.open_amount > Decimal::ZERO) {
                open.push(c.invoice_number.clone());
            }
        }
        let recorded = match call.outcome.as_str() {
            "promise" => {
                let Some(date) = call.date else {
                    return refuse(
                        "a promise needs the day promised: add --date YYYY-MM-DD (\"date\" in the API)",
                    );
                };
                let p =
                    self.add_promise(&NewPromise { invoices: open, date, amount: call.amount, note }, by)?;
                format!("; promise #{} recorded: {} by {}", p.id, p.amount, p.date)
            }
            "dispute" => {
                let Some(reason) = call.reason.clone() else {
                    return refuse(format!(
                        "a dispute needs its reason: add --reason {} (\"reason\" in the API)",
                        settings.dispute_reasons.join("|")
                    ));
                };
                let [invoice] = open.as_slice() else {
                    return refuse(if open.is_empty() {
                        "the call's invoices are paid: there is nothing to dispute".to_string()
                    } else {
                        format!(
                            "the call covers invoices {}: record the dispute on the one it is about with `dunwell dispute add --invoice N`",
                            open.join(", ")
                        )
                    });
                };
                let d = self.add_dispute(
                    &NewDispute {
                        invoice: invoice.clone(),
                        reason,
                        amount: call.amount,
                        deadline: None,
                        note,
                    },
                    settings,
                    by,
                )?;
                format!("; dispute #{} recorded on {}, to be resolved by {}", d.id, d.invoice, d.deadline)
            }
            "payment-plan" => {
                if call.instalments.is_empty() {
                    return refuse(
                        "a payment plan needs its instalments: add --instalment YYYY-MM-DD:AMOUNT for each",
                    );
                }
                let p = self
                    .add_plan(&NewPlan { invoices: open, instalments: call.instalments.clone(), note }, by)?;
                format!("; payment plan #{} recorded ({} instalments)", p.id, p.instalments.len())
            }
            _ => String::new(),
        };
        self.record_outcome(task, &call.outcome, call.note.as_deref(), &by.at)?;
        Ok(format!("task {task}: {}{recorded}", call.outcome))
    }

    /// Why a message written before something a person recorded must not go out now: a
    /// dispute on one of its invoices, a pause of its customer or invoices in force on its day,
    /// or (for a playbook step) a promise to pay its invoices. `None`: nothing since.
    pub fn recorded_since(&self, m: &super::Message) -> Result<Option<String>, StoreError> {
        let day = m.day.to_string();
        for c in &m.invoices {
            let dispute: Option<i64> = self
                .conn
                .query_row(
                    "SELECT id FROM disputes WHERE invoice_number = ?1 AND status = 'open' AND recorded_at > ?2",
                    params![c.invoice_number, m.created],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = dispute {
                return Ok(Some(format!(
                    "invoice {} was disputed (dispute #{id}) since this message was written",
                    c.invoice_number
                )));
            }
            let pause: Option<(i64, String)> = self
                .conn
                .query_row(
                    "SELECT id, reason FROM pauses
                     WHERE lifted_on IS NULL AND recorded_at > ?3 AND (until IS NULL OR until >= ?4)
                       AND (scope = 'all' OR (scope = 'customer' AND target = ?2) OR (scope = 'invoice' AND target = ?1))",
                    params![c.invoice_number, m.customer_id, m.created, day],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((id, reason)) = pause {
                return Ok(Some(format!(
                    "pause #{id} ({reason}) was recorded since this message was written"
                )));
            }
            if c.step > 0 {
                let promise: Option<i64> = self
                    .conn
                    .query_row(
                        "SELECT p.id FROM promises p JOIN promise_invoices i ON i.promise_id = p.id
                         WHERE i.invoice_number = ?1 AND p.status = 'open' AND p.recorded_at > ?2",
                        params![c.invoice_number, m.created],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(id) = promise {
                    return Ok(Some(format!(
                        "the customer promised to pay invoice {} (promise #{id}) since this message was written",
                        c.invoice_number
                    )));
                }
            }
        }
        Ok(None)
    }
}

impl WriteTx<'_> {
    /// Remembers that a care message was written (in the transaction that writes it).
    pub fn care_notified(&self, n: Notified, day: NaiveDate) -> Result<(), StoreError> {
        let day = day.to_string();
        match n {
            Notified::BrokenPromise { id } => {
                self.tx.execute("UPDATE promises SET notified_on = ?2 WHERE id = ?1", params![id, day])?
            }
            Notified::PlanBroken { id } => self
                .tx
                .execute("UPDATE payment_plans SET notified_on = ?2 WHERE id = ?1", params![id, day])?,
            Notified::Instalment { plan, seq } => self.tx.execute(
                "UPDATE instalments SET reminded_on = ?3 WHERE plan_id = ?1 AND seq = ?2",
                params![plan, seq, day],
            )?,
            Notified::DisputeTask { id } => {
                self.tx.execute("UPDATE disputes SET task_on = ?2 WHERE id = ?1", params![id, day])?
            }
            Notified::PromiseConfirmed { id } => {
                self.tx.execute("UPDATE promises SET confirmed = 1 WHERE id = ?1", params![id])?
            }
            Notified::PlanConfirmed { id } => {
                self.tx.execute("UPDATE payment_plans SET confirmed = 1 WHERE id = ?1", params![id])?
            }
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Covered, NewMessage, Status};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn by(on: &str, at: &str) -> By {
        By { who: "anna".into(), at: format!("{on}T{at}+00:00"), on: d(on) }
    }

    /// Customers C1 and C2; F1 (1000.00) and F2 (500.00) of C1, G1 (200.00) of C2, P1 paid.
    fn store() -> Store {
        let s = Store::open_in_memory().unwrap();
        s.conn
            .execute_batch(
                "INSERT INTO customers (id, name, kind, source, source_id) VALUES
                    ('C1', 'Bos', 'b2b', 'csv', 'C1'), ('C2', 'Kok', 'b2b', 'csv', 'C2');
                 INSERT INTO invoices (number, customer_id, issue_date, due_date, currency, total, open_amount, source, source_id) VALUES
                    ('F1', 'C1', '2026-10-01', '2026-10-31', 'EUR', '1000.00', '1000.00', 'csv', 'F1'),
                    ('F2', 'C1', '2026-10-01', '2026-10-31', 'EUR', '500.00', '500.00', 'csv', 'F2'),
                    ('G1', 'C2', '2026-10-01', '2026-10-31', 'EUR', '200.00', '200.00', 'csv', 'G1'),
                    ('P1', 'C1', '2026-10-01', '2026-10-31', 'EUR', '80.00', '0', 'csv', 'P1');",
            )
            .unwrap();
        s
    }

    fn refused<T: std::fmt::Debug>(r: Result<T, CareError>) -> String {
        match r {
            Err(CareError::Refused(why)) => why,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn what_cannot_be_recorded_is_refused_with_the_reason() {
        let mut s = store();
        let on = by("2026-11-10", "09:00:00");
        let promise = |invoices: &[&str], date: &str, amount: Option<i64>| NewPromise {
            invoices: invoices.iter().map(|n| n.to_string()).collect(),
            date: d(date),
            amount: amount.map(Decimal::from),
            note: None,
        };
        assert!(refused(s.add_promise(&promise(&["NOPE"], "2026-11-20", None), &on))
            .contains("no invoice `NOPE`"));
        assert!(refused(s.add_promise(&promise(&["P1"], "2026-11-20", None), &on)).contains("is paid"));
        assert!(refused(s.add_promise(&promise(&["F1", "G1"], "2026-11-20", None), &on))
            .contains("one per customer"));
        assert!(
            refused(s.add_promise(&promise(&["F1"], "2026-11-09", None), &on)).contains("before 2026-11-10")
        );
        // Without an amount, the open total is promised, in cents.
        let p = s.add_promise(&promise(&["F1", "F2"], "2026-11-20", None), &on).unwrap();
        assert_eq!((p.amount.to_string(), p.customer_id.as_str()), ("1500.00".to_string(), "C1"));
        let dispute = |amount: Option<i64>, reason: &str| NewDispute {
            invoice: "F1".into(),
            reason: reason.into(),
            amount: amount.map(Decimal::from),
            deadline: None,
            note: None,
        };
        let settings = Settings::default();
        assert!(refused(s.add_dispute(&dispute(None, "weather"), &settings, &on))
            .contains("not a dispute reason"));
        assert!(refused(s.add_dispute(&dispute(Some(1200), "quality"), &settings, &on))
            .contains("more than invoice F1"));
        let x = s.add_dispute(&dispute(Some(300), "quality"), &settings, &on).unwrap();
        assert_eq!(x.deadline, d("2026-12-10"), "30 days by default");
        let plan = |amounts: &[i64]| NewPlan {
            invoices: vec!["F2".into()],
            instalments: amounts
                .iter()
                .enumerate()
                .map(|(i, a)| (d("2026-12-01") + Days::new(i as u64 * 30), Decimal::from(*a)))
                .collect(),
            note: None,
        };
        assert!(refused(s.add_plan(&plan(&[200, 200]), &on))
            .contains("add up to 400.00 EUR, but F2 has 500.00 EUR open"));
        // Amounts are checked as given: rounded to cents first, these would add up.
        let mut odd = plan(&[250, 250]);
        odd.instalments[0].1 = Decimal::new(250_004, 3);
        odd.instalments[1].1 = Decimal::new(249_996, 3);
        assert!(refused(s.add_plan(&odd, &on)).contains("250.004 has more than 2 decimals"));
        s.add_plan(&plan(&[250, 250]), &on).unwrap();
        assert!(refused(s.add_plan(&plan(&[500]), &on)).contains("in payment plan #1 already"));
        let pause = NewPause { scope: PauseScope::Customer("C9".into()), until: None, reason: "x".into() };
        assert!(refused(s.add_pause(&pause, &on)).contains("no customer `C9`"));
        // Every record wrote its line of history, with who.
        let lines: i64 = s
            .conn
            .query_row("SELECT count(*) FROM care_events WHERE recorded_by = 'anna'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(lines, 3);
    }

    #[test]
    fn a_message_written_before_a_dispute_a_pause_or_a_promise_does_not_go_out() {
        let mut s = store();
        let message = |key: &str, invoice: &str, step: u32| NewMessage {
            key: key.into(),
            day: d("2026-11-10"),
            customer_id: "C1".into(),
            channel: "email".into(),
            template: "standard-reminder-1".into(),
            language: "nl".into(),
            recipient: Some("c1@example.nl".into()),
            subject: None,
            body: "body".into(),
            html: None,
            invoices: vec![Covered { invoice_number: invoice.into(), step }],
            total: None,
            currency: None,
            status: Status::Queued,
            pdf: None,
            fallback: None,
            data: None,
            cc: None,
        };
        let tx = s.begin().unwrap();
        let a = tx.enqueue(&message("a", "F1", 2), "2026-11-10T08:00:00+00:00", &[]).unwrap().unwrap();
        let b = tx.enqueue(&message("b", "F2", 2), "2026-11-10T08:00:00+00:00", &[]).unwrap().unwrap();
        tx.commit().unwrap();
        let get = |s: &Store, id| s.message(id).unwrap().unwrap();
        assert_eq!(s.recorded_since(&get(&s, a)).unwrap(), None);
        // Recorded before the message was written: the planner knew it, nothing to stop.
        let early = by("2026-11-10", "07:00:00");
        s.add_promise(
            &NewPromise { invoices: vec!["F2".into()], date: d("2026-11-20"), amount: None, note: None },
            &early,
        )
        .unwrap();
        assert_eq!(s.recorded_since(&get(&s, b)).unwrap(), None);
        let later = by("2026-11-10", "09:00:00");
        let dispute = NewDispute {
            invoice: "F1".into(),
            reason: "quality".into(),
            amount: None,
            deadline: None,
            note: None,
        };
        s.add_dispute(&dispute, &Settings::default(), &later).unwrap();
        assert!(s.recorded_since(&get(&s, a)).unwrap().unwrap().contains("invoice F1 was disputed"));
        s.add_pause(
            &NewPause { scope: PauseScope::All, until: Some(d("2026-11-12")), reason: "strike".into() },
            &later,
        )
        .unwrap();
        assert!(s.recorded_since(&get(&s, b)).unwrap().unwrap().contains("pause #1 (strike)"));
    }

    #[test]
    fn a_credit_takes_the_disputed_part_off_once_and_later_payments_count() {
        let mut s = store();
        let on = by("2026-11-10", "09:00:00");
        let dispute = NewDispute {
            invoice: "F1".into(),
            reason: "wrong-amount".into(),
            amount: Some(Decimal::from(300)),
            deadline: None,
            note: None,
        };
        s.add_dispute(&dispute, &Settings::default(), &on).unwrap();
        let resolved =
            s.resolve_dispute(1, DisputeStatus::Credit, None, &by("2026-11-20", "09:00:00")).unwrap();
        assert_eq!(resolved.deducted, Some(Decimal::from(300)));
        assert!(
            refused(s.resolve_dispute(1, DisputeStatus::Rejected, None, &on)).contains("resolved already")
        );
        let dec = |v: i64| Decimal::from(v);
        assert_eq!(s.deductions().unwrap()["F1"], vec![(dec(1000), dec(300), dec(0))]);
        s.conn
            .execute("INSERT INTO payments (invoice_number, date, amount, source, source_id) VALUES ('F1', '2026-11-25', '200.00', 'csv', 'x')", [])
            .unwrap();
        assert_eq!(s.deductions().unwrap()["F1"], vec![(dec(1000), dec(300), dec(200))]);
        // The open amount the planner chases: 1000 - 300 - 200, whatever the source says.
        assert_eq!(crate::care::after_deduction(dec(800), dec(1000), dec(300), dec(200)), dec(500));
        // A rejected dispute leaves the claim whole.
        let dispute = NewDispute {
            invoice: "F2".into(),
            reason: "quality".into(),
            amount: None,
            deadline: None,
            note: None,
        };
        s.add_dispute(&dispute, &Settings::default(), &on).unwrap();
        let r = s.resolve_dispute(2, DisputeStatus::Rejected, None, &on).unwrap();
        assert_eq!(r.deducted, None);
        assert!(!s.deductions().unwrap().contains_key("F2"));
    }
}
