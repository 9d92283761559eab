//! The handoff to a collection agency: one case file per customer, written into the outbox
//! folder and, when `[channels.agency]` names an endpoint, POSTed to it.
//!
//! The case file is what an agency needs to take the claim over without calling the business
//! back: the creditor and its contact person, the debtor with every contact detail on record,
//! each invoice with its amounts (interest, costs and fees as the handoff states them), every
//! message sent about them (day, channel, the rendered text), the notes of call tasks, and
//! the PDF letters sent. Part of it (who owes what) is fixed when the handoff is written
//! (`outbox.data`, see `send::render`); the history is gathered at delivery, so a handoff that
//! waited for approval still lists every message sent before it.
//!
//! Written as a folder `agency/<day>/<id>-<customer>/` holding `case.json` and
//! `letter-<id>.pdf` files: built under a temporary name and renamed, so a crash leaves the
//! whole folder or none. The POST carries an `Idempotency-Key` derived from the message, so a
//! request repeated after a timeout or a crash is recognisable as the same case.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::{json, Value};

use super::Outcome;
use crate::store::{Message, Status, Store, StoreError};
use crate::text;

/// `[channels.agency]` in dunwell.toml.
///
/// ```toml
/// [channels.agency]
/// url = "https://api.agency.example/v1/cases"
/// token_file = "secrets/agency-token"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencySettings {
    /// Where case files are POSTed (https; http only to 127.0.0.1). Without it the case file
    /// is only written to the outbox folder, for the business to pass on.
    pub url: Option<String>,
    /// A file holding the bearer token, when the endpoint wants one.
    pub token_file: Option<PathBuf>,
    /// Seconds a POST may take (default 60).
    pub timeout_s: Option<u64>,
}

/// A case file: its JSON and the documents (name, PDF bytes) that go with it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFile {
    pub json: Value,
    pub documents: Vec<(String, Vec<u8>)>,
}

/// Gathers the case file of handoff message `m`: the data written with it, every message
/// sent to the customer before it with its text, the call notes and the letters sent.
pub fn case_file(store: &Store, m: &Message) -> Result<CaseFile, StoreError> {
    let mut case = match store.message_data(m.id)? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|_| StoreError::Corrupt { what: "agency case data", value: text })?,
        None => json!({}),
    };
    let mut messages = Vec::new();
    let mut notes = Vec::new();
    let mut documents = Vec::new();
    for h in store.history(&m.customer_id)? {
        if h.id == m.id || h.customer_id != m.customer_id {
            continue;
        }
        if h.channel == "phone" {
            if let Some(outcome) = &h.outcome {
                notes.push(json!({
                    "day": h.day,
                    "task": h.id,
                    "outcome": outcome,
                    "note": h.outcome_note,
                    "recorded_at": h.outcome_at,
                }));
            }
            continue;
        }
        if h.status != Status::Sent {
            continue;
        }
        let document = match store.message_pdf(h.id)? {
            Some(pdf) if h.channel.contains("letter") || h.channel == "email" => {
                let name = format!("letter-{:06}.pdf", h.id);
                documents.push((name.clone(), pdf));
                Some(name)
            }
            _ => None,
        };
        messages.push(json!({
            "id": h.id,
            "day": h.day,
            "sent_at": h.sent_at,
            "channel": h.channel,
            "template": h.template,
            "language": h.language,
            "recipient": h.recipient,
            "subject": h.subject,
            "text": h.body,
            "invoices": h.invoices,
            "total": h.total,
            "currency": h.currency,
            "provider_id": h.provider_id,
            "message_id": h.message_id,
            "document": document,
        }));
    }
    if let Value::Object(map) = &mut case {
        map.insert("case_id".into(), json!(case_id(m)));
        map.insert("handed_over".into(), json!(m.day));
        map.insert(
            "invoice_numbers".into(),
            json!(m.invoices.iter().map(|c| &c.invoice_number).collect::<Vec<_>>()),
        );
        map.insert("messages".into(), Value::Array(messages));
        map.insert("notes".into(), Value::Array(notes));
        map.insert("documents".into(), json!(documents.iter().map(|(n, _)| n).collect::<Vec<_>>()));
    }
    Ok(CaseFile { json: case, documents })
}

/// The case's id: stable for the message, so a repeated POST names the same case.
fn case_id(m: &Message) -> String {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(m.key.as_bytes());
    let short = crate::text::hex(&hash[..6]);
    format!("dunwell-{}-{short}", m.id)
}

/// Writes the case folder below `outbox`; returns its path relative to `outbox`.
pub fn write_case(outbox: &Path, m: &Message, case: &CaseFile) -> std::io::Result<String> {
    let customer: String = m
        .customer_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(40)
        .collect();
    let rel = PathBuf::from("agency").join(m.day.to_string()).join(format!("{:06}-{customer}", m.id));
    let dir = outbox.join(&rel);
    let tmp = dir.with_extension("partial");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    let json = serde_json::to_vec_pretty(&case.json).map_err(std::io::Error::other)?;
    std::fs::write(tmp.join("case.json"), json)?;
    for (name, bytes) in &case.documents {
        std::fs::write(tmp.join(name), bytes)?;
    }
    for entry in std::fs::read_dir(&tmp)? {
        std::fs::File::open(entry?.path())?.sync_all()?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::rename(&tmp, &dir)?;
    Ok(rel.display().to_string())
}

/// The agency's HTTP endpoint.
pub struct Agency {
    url: String,
    token: Option<String>,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Agency {
    /// `None` without a `url` (the case file is then only written to the outbox folder).
    pub fn new(s: &AgencySettings) -> Result<Option<Agency>, String> {
        let Some(raw) = s.url.as_deref() else {
            if s.token_file.is_some() {
                return Err("[channels.agency]: `token_file` is set but `url` is not; give the endpoint to POST case files to".into());
            }
            return Ok(None);
        };
        let url = crate::http::check_service_url(raw).map_err(|e| format!("[channels.agency]: `url` {e}"))?;
        let token = match &s.token_file {
            Some(path) => Some(read_token(path)?),
            None => None,
        };
        let timeout = Duration::from_secs(s.timeout_s.unwrap_or(60).clamp(1, 600));
        let client = crate::http::client_builder(Duration::from_secs(10))
            .timeout(timeout)
            .build()
            .map_err(|e| format!("[channels.agency]: cannot set up HTTP: {e}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        Ok(Some(Agency { url, token, client, runtime }))
    }

    /// POSTs the case: its JSON with the documents inlined (base64).
    pub fn post(&self, m: &Message, case: &CaseFile) -> Outcome {
        let mut body = case.json.clone();
        if let Value::Object(map) = &mut body {
            let docs: Vec<Value> = case
                .documents
                .iter()
                .map(|(name, bytes)| {
                    json!({
                        "name": name,
                        "content_type": "application/pdf",
                        "content_base64": base64::engine::general_purpose::STANDARD.encode(bytes),
                    })
                })
                .collect();
            map.insert("documents".into(), Value::Array(docs));
        }
        let mut request = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("Idempotency-Key", case_id(m))
            .body(body.to_string());
        if let Some(token) = &self.token {
            match HeaderValue::from_str(&format!("Bearer {token}")) {
                Ok(v) => request = request.header(AUTHORIZATION, v),
                Err(_) => return Outcome::Refused("the agency token is not a valid header value".into()),
            }
        }
        let redact = |s: String| match &self.token {
            Some(t) => s.replace(t.as_str(), "[token]"),
            None => s,
        };
        self.runtime.block_on(async {
            let response = match request.send().await {
                Ok(r) => r,
                // The key lets the agency recognise a repeat, so a timeout is retried.
                Err(e) => {
                    return Outcome::Retry(redact(format!(
                        "the agency endpoint did not answer: {}",
                        crate::http::error_chain(&e)
                    )))
                }
            };
            let status = response.status();
            let answer = crate::http::read_capped(response, 64 << 10).await.unwrap_or_default();
            let answer_text = String::from_utf8_lossy(&answer).into_owned();
            let shown = text::escape(&text::cap(&answer_text, 500)).into_owned();
            if status.is_success() {
                let id = serde_json::from_slice::<Value>(&answer)
                    .ok()
                    .and_then(|v| v.get("id").or_else(|| v.get("case_id")).cloned())
                    .map(|v| match v {
                        Value::String(s) => text::cap(&s, 128).to_string(),
                        other => text::cap(&other.to_string(), 128).to_string(),
                    });
                return Outcome::Sent { provider_id: id, message_id: None, file: None };
            }
            let why = redact(format!("the agency endpoint answered {status}: {shown}"));
            if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
                Outcome::Retry(why)
            } else {
                Outcome::Refused(why)
            }
        })
    }
}

fn read_token(path: &Path) -> Result<String, String> {
    crate::http::read_secret_file(path, "the agency's token", crate::plugin::redact::MIN_SECRET_LEN)
        .map_err(|e| format!("[channels.agency] `token_file`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            key: "c1|agency|2026-12-01|F1:7".into(),
            customer_id: "C/1".into(),
            body: "summary".into(),
            ..Message::example(7, "agency")
        }
    }

    #[test]
    fn a_case_folder_is_written_whole_and_replaced_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = message();
        let case = CaseFile {
            json: json!({"case_id": "x"}),
            documents: vec![("letter-000003.pdf".into(), b"%PDF-1.7".to_vec())],
        };
        let rel = write_case(dir.path(), &m, &case).expect("written");
        assert_eq!(rel, "agency/2026-12-01/000007-C_1");
        let folder = dir.path().join(&rel);
        assert_eq!(std::fs::read(folder.join("letter-000003.pdf")).expect("pdf"), b"%PDF-1.7");
        let again = CaseFile { json: json!({"case_id": "y"}), documents: vec![] };
        write_case(dir.path(), &m, &again).expect("rewritten");
        assert!(!folder.join("letter-000003.pdf").exists(), "the old folder is replaced, not merged");
        let text = std::fs::read_to_string(folder.join("case.json")).expect("json");
        assert!(text.contains("\"y\""));
        assert!(!dir.path().join("agency/2026-12-01/000007-C_1.partial").exists());
    }

    #[test]
    fn the_case_id_is_stable_for_a_message() {
        let m = message();
        assert_eq!(case_id(&m), case_id(&m));
        let mut other = message();
        other.key.push('x');
        assert_ne!(case_id(&m), case_id(&other));
    }
}
