//! The admin API (axum, 127.0.0.1:8720 by default): `/healthz`, `/readyz` and `/metrics` for
//! monitoring, open like any exporter; `/status`, `/plan`, `/outbox`, `/tasks`, `/approvals`
//! (JSON), `POST /approvals/approve`, `POST /approvals/reject` and `POST /reload`, and the
//! records of working with the customer (`admin_care.rs`: promises, disputes, payment plans,
//! pauses, call outcomes, history) behind a bearer token. A wrong or missing token gets 401 and is counted.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Daemon;
use crate::store::approvals::{Decider, Rejection};
use crate::store::{Status, Store};

pub fn router(d: Arc<Daemon>) -> Router {
    let private = Router::new()
        .route("/status", get(status))
        .route("/plan", get(plan))
        .route("/outbox", get(outbox))
        .route("/tasks", get(tasks))
        .route("/approvals", get(approvals))
        .route("/approvals/approve", post(approve))
        .route("/approvals/reject", post(reject))
        .route("/reload", post(reload))
        .merge(super::admin_care::routes())
        .route_layer(middleware::from_fn_with_state(d.clone(), require_token));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        // The provider's delivery reports: the secret in the path is their key.
        .route("/sms/report/{secret}", get(sms_report).post(sms_report))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(private)
        .with_state(d)
}

/// Serves until `shutdown` resolves; the caller bounds the wait for open connections.
pub async fn serve(
    d: Arc<Daemon>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    if let Err(e) = axum::serve(listener, router(d)).with_graceful_shutdown(shutdown).await {
        tracing::error!("the admin API stopped: {e}");
    }
}

/// Compared as SHA-256 digests in constant time: neither the token's bytes nor its length
/// show in the time a wrong guess takes.
fn token_matches(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.ct_eq(&b).into()
}

async fn require_token(
    State(d): State<Arc<Daemon>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(t) if token_matches(t, d.token()) => next.run(request).await,
        _ => {
            d.metrics.unauthorized();
            tracing::warn!(path = %request.uri().path(), "admin API: request without the right bearer token refused");
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                Json(json!({"error": "this needs the admin token: Authorization: Bearer <the token in the admin-token credential or file>"})),
            )
                .into_response()
        }
    }
}

/// JSON of what a handler found, or the error response it made.
pub(super) fn respond<T: serde::Serialize>(result: Result<T, Response>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

pub(super) fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Runs `work` on the store off the async threads, with the configuration in force.
pub(super) async fn with_store<T: Send + 'static>(
    d: &Daemon,
    work: impl FnOnce(&super::Loaded, &mut Store) -> Result<T, String> + Send + 'static,
) -> Result<T, Response> {
    let loaded = d.loaded();
    let job = move || {
        let mut store = Store::open(&loaded.config.database_path()).map_err(|e| e.to_string())?;
        work(&loaded, &mut store)
    };
    match tokio::task::spawn_blocking(job).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e)),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

async fn readyz(State(d): State<Arc<Daemon>>) -> Response {
    if d.stop.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response();
    }
    match with_store(&d, |_, _| Ok(())).await {
        Ok(()) => "ready\n".into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the store cannot be opened\n").into_response(),
    }
}

async fn metrics(State(d): State<Arc<Daemon>>, headers: HeaderMap) -> Response {
    let open_metrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    if open_metrics {
        (
            [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
            d.metrics.encode_openmetrics(),
        )
            .into_response()
    } else {
        ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], d.metrics.encode())
            .into_response()
    }
}

async fn status(State(d): State<Arc<Daemon>>) -> Response {
    let now = d.clock.now();
    respond(
        with_store(&d, move |loaded, store| {
            super::status::status(&loaded.config, store, now, loaded.playbooks_commit.clone())
                .map_err(|e| e.to_string())
        })
        .await,
    )
}

#[derive(Deserialize)]
struct PlanQuery {
    days: Option<u32>,
}

async fn plan(State(d): State<Arc<Daemon>>, Query(q): Query<PlanQuery>) -> Response {
    let now = d.clock.now();
    let days = q.days.unwrap_or(7).min(366);
    let result = with_store(&d, move |loaded, store| {
        let c = &loaded.config;
        let at = now.with_timezone(&c.time_zone).date_naive();
        let inputs = crate::send::Inputs::load(store, c, &loaded.playbooks, at).map_err(|e| e.to_string())?;
        let plan = inputs.plan(c, &loaded.playbooks, at, days, None);
        Ok(json!({ "from": at, "days": days, "actions": plan.actions, "problems": plan.problems }))
    })
    .await;
    respond(result)
}

#[derive(Deserialize)]
struct OutboxQuery {
    status: Option<String>,
}

async fn outbox(State(d): State<Arc<Daemon>>, Query(q): Query<OutboxQuery>) -> Response {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => match Status::parse(s) {
            Some(s) => Some(s),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("`{s}` is not a status; use queued, sending, sent, failed, unknown, dead, cancelled or awaiting-approval"),
                )
            }
        },
    };
    respond(with_store(&d, move |_, store| store.outbox(status).map_err(|e| e.to_string())).await)
}

async fn tasks(State(d): State<Arc<Daemon>>) -> Response {
    respond(with_store(&d, |_, store| store.call_tasks(false).map_err(|e| e.to_string())).await)
}

async fn approvals(State(d): State<Arc<Daemon>>) -> Response {
    respond(with_store(&d, |_, store| store.awaiting_approval().map_err(|e| e.to_string())).await)
}

/// The body of `POST /approvals/approve` and `/approvals/reject`: `{"ids": [12, 14], "by":
/// "anna"}`, and for a rejection `"skip": true` or `"postpone_days": 5`. Read by hand so that
/// every mistake is a 400 with a sentence, like the other errors of the API.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    ids: Option<Vec<i64>>,
    by: Option<String>,
    #[serde(default)]
    skip: bool,
    postpone_days: Option<u32>,
}

/// The ids, who decides, and the rest of the body; the error is the 400's sentence.
fn decision_body(body: &[u8]) -> Result<(Vec<i64>, String, DecisionBody), String> {
    let mut b: DecisionBody = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the body must be JSON like {{\"ids\": [12], \"by\": \"anna\"}} (reject: with \"skip\": true or \"postpone_days\": 5): {e}"
        )
    })?;
    let ids = b
        .ids
        .take()
        .filter(|ids| !ids.is_empty())
        .ok_or("name the messages in \"ids\": [..] (GET /approvals lists them)")?;
    let by =
        b.by.take()
            .filter(|by| !by.trim().is_empty())
            .ok_or("say who decides in \"by\": \"name\"; it is recorded with the decision")?;
    Ok((ids, by, b))
}

/// Approves or rejects on the daemon's today, in one transaction; a decision the store refuses
/// (an id not awaiting approval, a bad number of days) is a 400 naming why.
async fn decide(d: &Daemon, ids: Vec<i64>, by: String, how: Option<Rejection>) -> Response {
    let now = d.clock.now();
    let result = with_store(d, move |loaded, store| {
        let day = now.with_timezone(&loaded.config.time_zone).date_naive();
        let who = Decider { by: &by, day, at: now };
        Ok(match how {
            None => store.approve(&ids, who),
            Some(how) => store.reject(&ids, how, who),
        })
    })
    .await;
    match result {
        Ok(Ok(decided)) => {
            for x in &decided {
                tracing::info!(outbox_id = x.id, customer = %x.customer_id, decision = %x.decision, "{}", x.text);
            }
            Json(json!({ "ok": true, "decided": decided })).into_response()
        }
        Ok(Err(e)) if e.is_request_error() => error(StatusCode::BAD_REQUEST, e.to_string()),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(r) => r,
    }
}

async fn approve(State(d): State<Arc<Daemon>>, body: axum::body::Bytes) -> Response {
    match decision_body(&body) {
        Ok((_, _, b)) if b.skip || b.postpone_days.is_some() => error(
            StatusCode::BAD_REQUEST,
            "\"skip\" and \"postpone_days\" belong to POST /approvals/reject".into(),
        ),
        Ok((ids, by, _)) => decide(&d, ids, by, None).await,
        Err(why) => error(StatusCode::BAD_REQUEST, why),
    }
}

async fn reject(State(d): State<Arc<Daemon>>, body: axum::body::Bytes) -> Response {
    let (ids, by, b) = match decision_body(&body) {
        Ok(v) => v,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let how = match (b.skip, b.postpone_days) {
        (true, None) => Rejection::Skip,
        (false, Some(days)) => Rejection::Postpone(days),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "say what becomes of the step: either \"skip\": true or \"postpone_days\": N".into(),
            )
        }
    };
    decide(&d, ids, by, Some(how)).await
}

/// A delivery report from the SMS provider (see `channel::sms::report`). Answered 200 once
/// read, whatever it said, so the provider does not send it again; 404 for a wrong secret.
async fn sms_report(
    State(d): State<Arc<Daemon>>,
    axum::extract::Path(secret): axum::extract::Path<String>,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> Response {
    let loaded = d.loaded();
    let known = loaded.sms_report_token.as_deref().is_some_and(|t| token_matches(&secret, t));
    if !known {
        d.metrics.unauthorized();
        tracing::warn!("an SMS report with an unknown secret was refused");
        return error(StatusCode::NOT_FOUND, "no such report address".into());
    }
    let report = crate::channel::sms::report::parse(uri.query().unwrap_or_default(), &body);
    let result = with_store(&d, move |_, store| {
        crate::channel::sms::report::settle(store, &report).map_err(|e| e.to_string())
    })
    .await;
    match result {
        Ok(what) => {
            tracing::info!("SMS report: {what}");
            Json(json!({ "ok": true, "result": what })).into_response()
        }
        Err(r) => r,
    }
}

/// Synchronous: answers once the new configuration is in force (200) or refused (409, the old
/// one keeps running). `dunwell reload --wait` (systemd's ExecReload=) calls this.
async fn reload(State(d): State<Arc<Daemon>>) -> Response {
    match d.reload().await {
        Ok(message) => Json(json!({ "ok": true, "message": message })).into_response(),
        Err(why) => (StatusCode::CONFLICT, Json(json!({ "ok": false, "error": why }))).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::token_matches;

    #[test]
    fn the_token_must_match_exactly() {
        assert!(token_matches("s3cret-token-0123", "s3cret-token-0123"));
        assert!(!token_matches("s3cret-token-012", "s3cret-token-0123"));
        assert!(!token_matches("", "s3cret-token-0123"));
        assert!(!token_matches("S3cret-token-0123", "s3cret-token-0123"));
    }
}
