//! The admin API's side of working with the customer: the same records as `dunwell promise`,
//! `dispute`, `payment-plan`, `pause`, `tasks done` and `history`, through the same store
//! functions, behind the bearer token. Bodies are JSON; every request that records something
//! names who records it (`"by"`) and may name the day it counts from (`"at"`, default the
//! daemon's today). A request the store refuses (an unknown invoice, a paid one, instalments
//! that do not add up) is a 400 with the sentence that says why.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;

use super::admin::{error, respond, with_store};
use super::Daemon;
use crate::care::{DisputeStatus, PauseScope};
use crate::store::{By, CallOutcome, CareError, NewDispute, NewPause, NewPlan, NewPromise, Store};

pub fn routes() -> Router<Arc<Daemon>> {
    Router::new()
        .route("/promises", get(promises).post(add_promise))
        .route("/disputes", get(disputes).post(add_dispute))
        .route("/disputes/{id}/resolve", post(resolve_dispute))
        .route("/payment-plans", get(plans).post(add_plan))
        .route("/payment-plans/{id}/cancel", post(cancel_plan))
        .route("/pauses", get(pauses).post(add_pause))
        .route("/pauses/{id}/lift", post(lift_pause))
        .route("/tasks/{id}/done", post(task_done))
        .route("/history/{who}", get(history))
        .route("/notes", post(add_note))
}

/// A request the API refuses: a 400 with the sentence that says why.
struct Bad(String);

impl IntoResponse for Bad {
    fn into_response(self) -> Response {
        error(StatusCode::BAD_REQUEST, self.0)
    }
}

fn bad(message: impl Into<String>) -> Bad {
    Bad(message.into())
}

/// Reads a JSON body into `T`, or answers 400 with serde's sentence and an example.
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8], example: &str) -> Result<T, Bad> {
    serde_json::from_slice(bytes).map_err(|e| bad(format!("the body must be JSON like {example}: {e}")))
}

fn amount(field: &str, text: Option<&str>) -> Result<Option<Decimal>, Bad> {
    text.map(|t| crate::model::parse_amount(t).map_err(|e| bad(format!("\"{field}\": {e}")))).transpose()
}

fn date(field: &str, text: Option<&str>) -> Result<Option<NaiveDate>, Bad> {
    text.map(|t| crate::model::parse_date(t).map_err(|e| bad(format!("\"{field}\": {e}")))).transpose()
}

/// A payment plan's instalments as (date, amount).
fn instalments(list: &[InstalmentBody]) -> Result<Vec<(NaiveDate, Decimal)>, Bad> {
    list.iter()
        .map(|i| {
            Ok((
                date("instalments.date", Some(&i.date))?.unwrap_or_default(),
                amount("instalments.amount", Some(&i.amount))?.unwrap_or_default(),
            ))
        })
        .collect()
}

/// Who records, and the day: `by` is required (it is kept with the record), `at` defaults to
/// the daemon's today in the configured zone.
fn who(d: &Daemon, by: Option<String>, at: Option<&str>) -> Result<By, Bad> {
    let by = by
        .filter(|b| !b.trim().is_empty())
        .ok_or_else(|| bad("say who records this in \"by\": \"name\"; it is kept with the record"))?;
    let by = crate::text::single_line(&by, 100).map_err(|e| bad(format!("\"by\": {e}")))?;
    let now = d.clock.now();
    let on = match date("at", at)? {
        Some(on) => on,
        None => now.with_timezone(&d.loaded().config.time_zone).date_naive(),
    };
    Ok(By { who: by, at: now.to_rfc3339(), on })
}

/// Runs a recording on the store: refused → 400, anything else going wrong → 500.
async fn record<T: serde::Serialize + Send + 'static>(
    d: &Daemon,
    work: impl FnOnce(&super::Loaded, &mut Store) -> Result<T, CareError> + Send + 'static,
) -> Response {
    let result = with_store(d, move |loaded, store| Ok(work(loaded, store))).await;
    match result {
        Ok(Ok(v)) => recorded(v),
        Ok(Err(CareError::Refused(why))) => bad(why).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(r) => r,
    }
}

fn recorded(v: impl serde::Serialize) -> Response {
    Json(json!({ "ok": true, "recorded": v })).into_response()
}

/// Writes the confirmation of a just-recorded promise or plan (written at `now`, the daemon's
/// clock); its failure does not undo the record (it is said in the answer).
fn confirm(
    loaded: &super::Loaded,
    store: &mut Store,
    record: &'static str,
    id: i64,
    on: NaiveDate,
    now: DateTime<Utc>,
) -> serde_json::Value {
    match crate::send::care::confirm(
        store,
        &loaded.config,
        &loaded.playbooks,
        crate::plan::CareRef { record, id, seq: None },
        on,
        now,
    ) {
        Ok(draft) => json!({ "channel": draft.channel, "recipient": draft.recipient }),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

async fn promises(State(d): State<Arc<Daemon>>) -> Response {
    respond(with_store(&d, |_, store| store.promises().map_err(|e| e.to_string())).await)
}

async fn disputes(State(d): State<Arc<Daemon>>) -> Response {
    respond(with_store(&d, |_, store| store.disputes().map_err(|e| e.to_string())).await)
}

async fn plans(State(d): State<Arc<Daemon>>) -> Response {
    respond(with_store(&d, |_, store| store.payment_plans().map_err(|e| e.to_string())).await)
}

async fn pauses(State(d): State<Arc<Daemon>>) -> Response {
    respond(with_store(&d, |_, store| store.pauses().map_err(|e| e.to_string())).await)
}

async fn history(State(d): State<Arc<Daemon>>, Path(who): Path<String>) -> Response {
    respond(
        with_store(&d, move |_, store| {
            let run = || -> Result<serde_json::Value, crate::store::StoreError> {
                Ok(json!({
                    "messages": store.history(&who)?,
                    "notes": store.notes(&who)?,
                    "events": store.care_events(&who)?,
                }))
            };
            run().map_err(|e| e.to_string())
        })
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromiseBody {
    invoices: Vec<String>,
    date: String,
    amount: Option<String>,
    note: Option<String>,
    #[serde(default)]
    confirm: bool,
    by: Option<String>,
    at: Option<String>,
}

async fn add_promise(State(d): State<Arc<Daemon>>, bytes: axum::body::Bytes) -> Result<Response, Bad> {
    let b: PromiseBody = body(
        &bytes,
        r#"{"invoices": ["2026-0117"], "date": "2026-12-15", "amount": "500.00", "by": "anna"}"#,
    )?;
    let date = date("date", Some(&b.date))?.unwrap_or_default();
    let p = NewPromise {
        invoices: b.invoices,
        date,
        amount: amount("amount", b.amount.as_deref())?,
        note: b.note,
    };
    let confirming = b.confirm;
    let by = who(&d, b.by, b.at.as_deref())?;
    let now = d.clock.now();
    Ok(record(&d, move |loaded, store| {
        let promise = store.add_promise(&p, &by)?;
        let confirmation = confirming.then(|| confirm(loaded, store, "promise", promise.id, by.on, now));
        Ok(json!({ "promise": promise, "confirmation": confirmation }))
    })
    .await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisputeBody {
    invoice: String,
    reason: String,
    amount: Option<String>,
    deadline: Option<String>,
    note: Option<String>,
    by: Option<String>,
    at: Option<String>,
}

async fn add_dispute(State(d): State<Arc<Daemon>>, bytes: axum::body::Bytes) -> Result<Response, Bad> {
    let b: DisputeBody = body(
        &bytes,
        r#"{"invoice": "2026-0117", "reason": "wrong-amount", "amount": "120.00", "by": "anna"}"#,
    )?;
    let n = NewDispute {
        invoice: b.invoice,
        reason: b.reason,
        amount: amount("amount", b.amount.as_deref())?,
        deadline: date("deadline", b.deadline.as_deref())?,
        note: b.note,
    };
    let by = who(&d, b.by, b.at.as_deref())?;
    Ok(record(&d, move |loaded, store| store.add_dispute(&n, &loaded.config.care, &by)).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    outcome: String,
    note: Option<String>,
    by: Option<String>,
    at: Option<String>,
}

async fn resolve_dispute(
    State(d): State<Arc<Daemon>>,
    Path(id): Path<i64>,
    bytes: axum::body::Bytes,
) -> Result<Response, Bad> {
    let b: ResolveBody = body(&bytes, r#"{"outcome": "credit", "by": "anna"}"#)?;
    let outcome = DisputeStatus::parse(&b.outcome)
        .filter(|o| *o != DisputeStatus::Open)
        .ok_or_else(|| bad(format!("\"outcome\": `{}` is not credit, write-off or rejected", b.outcome)))?;
    let note = b.note;
    let by = who(&d, b.by, b.at.as_deref())?;
    Ok(record(&d, move |_, store| store.resolve_dispute(id, outcome, note.as_deref(), &by)).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InstalmentBody {
    date: String,
    amount: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    invoices: Vec<String>,
    instalments: Vec<InstalmentBody>,
    note: Option<String>,
    /// Default true: a plan is confirmed to the customer in writing.
    confirm: Option<bool>,
    by: Option<String>,
    at: Option<String>,
}

async fn add_plan(State(d): State<Arc<Daemon>>, bytes: axum::body::Bytes) -> Result<Response, Bad> {
    let b: PlanBody = body(
        &bytes,
        r#"{"invoices": ["2026-0117"], "instalments": [{"date": "2026-12-15", "amount": "400.00"}], "by": "anna"}"#,
    )?;
    let p = NewPlan { invoices: b.invoices, instalments: instalments(&b.instalments)?, note: b.note };
    let confirming = b.confirm.unwrap_or(true);
    let by = who(&d, b.by, b.at.as_deref())?;
    let now = d.clock.now();
    Ok(record(&d, move |loaded, store| {
        let plan = store.add_plan(&p, &by)?;
        let confirmation = confirming.then(|| confirm(loaded, store, "payment-plan", plan.id, by.on, now));
        Ok(json!({ "payment_plan": plan, "confirmation": confirmation }))
    })
    .await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ByBody {
    by: Option<String>,
    at: Option<String>,
}

/// Who records, from a body that says nothing else.
fn who_only(d: &Daemon, bytes: &[u8]) -> Result<By, Bad> {
    let b: ByBody = body(bytes, r#"{"by": "anna"}"#)?;
    who(d, b.by, b.at.as_deref())
}

async fn cancel_plan(
    State(d): State<Arc<Daemon>>,
    Path(id): Path<i64>,
    bytes: axum::body::Bytes,
) -> Result<Response, Bad> {
    let by = who_only(&d, &bytes)?;
    Ok(record(&d, move |_, store| store.cancel_plan(id, &by).map(|()| json!({ "cancelled": id }))).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PauseBody {
    customer: Option<String>,
    invoice: Option<String>,
    #[serde(default)]
    all: bool,
    until: Option<String>,
    reason: String,
    by: Option<String>,
    at: Option<String>,
}

async fn add_pause(State(d): State<Arc<Daemon>>, bytes: axum::body::Bytes) -> Result<Response, Bad> {
    let b: PauseBody = body(
        &bytes,
        r#"{"customer": "C0042", "until": "2027-01-06", "reason": "in hospital", "by": "anna"}"#,
    )?;
    let scope = match (b.customer, b.invoice, b.all) {
        (Some(c), None, false) => PauseScope::Customer(c),
        (None, Some(n), false) => PauseScope::Invoice(n),
        (None, None, true) => PauseScope::All,
        _ => return Err(bad("name one of \"customer\", \"invoice\" or \"all\": true")),
    };
    let p = NewPause { scope, until: date("until", b.until.as_deref())?, reason: b.reason };
    let by = who(&d, b.by, b.at.as_deref())?;
    Ok(record(&d, move |_, store| store.add_pause(&p, &by)).await)
}

async fn lift_pause(
    State(d): State<Arc<Daemon>>,
    Path(id): Path<i64>,
    bytes: axum::body::Bytes,
) -> Result<Response, Bad> {
    let by = who_only(&d, &bytes)?;
    Ok(record(&d, move |_, store| store.lift_pause(id, &by)).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskBody {
    outcome: String,
    note: Option<String>,
    date: Option<String>,
    amount: Option<String>,
    reason: Option<String>,
    #[serde(default)]
    instalments: Vec<InstalmentBody>,
    by: Option<String>,
    at: Option<String>,
}

async fn task_done(
    State(d): State<Arc<Daemon>>,
    Path(id): Path<i64>,
    bytes: axum::body::Bytes,
) -> Result<Response, Bad> {
    let b: TaskBody = body(&bytes, r#"{"outcome": "promise", "date": "2026-12-15", "by": "piet"}"#)?;
    let instalments = instalments(&b.instalments)?;
    let call = CallOutcome {
        outcome: b.outcome,
        note: b.note,
        date: date("date", b.date.as_deref())?,
        amount: amount("amount", b.amount.as_deref())?,
        reason: b.reason,
        instalments,
    };
    let by = who(&d, b.by, b.at.as_deref())?;
    Ok(record(&d, move |loaded, store| store.record_call(id, &call, &loaded.config.care, &by)).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    customer: String,
    /// A note's text, or
    text: Option<String>,
    /// a reply as the mail client saved it (the .eml's bytes as a string).
    eml: Option<String>,
    by: Option<String>,
    at: Option<String>,
}

/// A customer's reply (or a note), matched to the message it answers, as `dunwell note` does.
async fn add_note(State(d): State<Arc<Daemon>>, bytes: axum::body::Bytes) -> Result<Response, Bad> {
    let b: NoteBody = body(&bytes, r#"{"customer": "C1", "text": "called: pays Friday", "by": "anna"}"#)?;
    let reply = match (b.eml, b.text) {
        (Some(raw), None) => {
            crate::cli_note::parse_eml(raw.as_bytes()).map_err(|e| bad(format!("\"eml\": {e:#}")))?
        }
        (None, Some(text)) => {
            let body = crate::cli_note::clean_body(&text);
            if body.is_empty() {
                return Err(bad("\"text\" is empty; give the note's text"));
            }
            crate::cli_note::Reply { body, ..Default::default() }
        }
        _ => {
            return Err(bad("give either \"text\" (a note) or \"eml\" (a reply as saved by the mail client)"))
        }
    };
    let by = who(&d, b.by, b.at.as_deref())?.who;
    let at = date("at", b.at.as_deref())?;
    let customer = b.customer;
    let result = with_store(&d, move |loaded, store| {
        Ok(crate::cli_note::record_note(store, &loaded.config, &customer, reply, &by, at)
            .map(|n| json!({ "id": n.id, "day": n.day, "answers": n.answers.map(|a| a.outbox_id) })))
    })
    .await;
    Ok(match result {
        Ok(Ok(v)) => recorded(v),
        // What the check refuses names the customer or the reply: the request's fault.
        Ok(Err(e)) => bad(format!("{e:#}")).into_response(),
        Err(r) => r,
    })
}
