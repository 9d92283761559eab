//! Letters and registered letters through Pingen's print-and-mail API (issue 10, point 6).
//!
//! A letter's PDF is rendered when its message is written and kept with its outbox row
//! (`Store::message_pdf`); [`Pingen::send`] hands it to Pingen, which prints, envelopes and
//! posts it. The `[channels.letter]` section ([`LetterSettings`]) configures it.
//!
//! # The calls (shapes as in Pingen's Rust SDK, `pingencom/pingen2-sdk-rust`)
//!
//! 1. `POST {identity_url}/auth/access-tokens`, a form: `grant_type=client_credentials`,
//!    `client_id`, `client_secret`, `scope=letter` → `{"access_token", "expires_in", …}`.
//!    The token is kept until a minute before it expires (one token for many letters); an API
//!    call answered 401 gets a new token and is made once more.
//! 2. `GET {api_url}/file-upload` → `data.attributes.url` and `url_signature`.
//! 3. `PUT <url>` with the PDF's bytes (no token: the URL is signed).
//! 4. `POST /organisations/{org}/deliveries/letters`, `{"data": {"type": "letters",
//!    "attributes": {"file_original_name", "file_url", "file_url_signature",
//!    "address_position": "left", "auto_send": false}}}` → the letter's `data.id` (status
//!    `validating`). The id is recorded (`record`) **before** anything is sent.
//! 5. `GET /organisations/{org}/deliveries/letters/{id}` until Pingen has checked the letter
//!    (status `valid`), at most a minute; a letter still being checked is sent on the next
//!    attempt.
//! 6. `PATCH /organisations/{org}/deliveries/letters/{id}/send`, `{"data": {"id", "type":
//!    "letters", "attributes": {"delivery_product", "print_mode", "print_spectrum"}}}`;
//!    `delivery_product` is `registered` for a registered letter, the configured `product`
//!    (default `cheap`) otherwise.
//!
//! Every API call sends `Accept: application/vnd.api+json` (and that `Content-Type` with a
//! body). No idempotency key is sent: the research notes found none in Pingen's
//! documentation (some third-party notes mention one; unverified), so a letter is never sent
//! twice by recording its id after the create call and only then sending it.
//!
//! # A second attempt of the same message (`existing`)
//!
//! The id recorded by an earlier attempt is looked up first: a letter already submitted,
//! printing, sent (or later) is `Sent` with that id and nothing is created or sent again; a
//! letter still `valid` (a draft) is only sent; one still being checked is waited for; a
//! letter Pingen no longer knows (404) or that expired is made anew.
//!
//! # Outcomes
//!
//! | what happened | outcome |
//! | --- | --- |
//! | Pingen took the send call (2xx), or the letter was already submitted | `Sent`, `provider_id` = Pingen's letter id |
//! | no connection; a timeout or broken connection before the send call; HTTP 5xx, 408, 409, 429; the credentials or the organisation refused (401, 403, 404 on create); the letter still being checked after a minute | `Retry` (nothing was sent; the next attempt starts from the recorded id) |
//! | HTTP 4xx on the upload, create or send call (a file Pingen cannot take, an address it cannot read, more pages than the product allows); Pingen's check ended in `invalid` or `action_required`; the letter was cancelled at Pingen | `Refused`, with Pingen's `errors[].detail` (the token and secret masked) |
//! | a timeout or broken connection after the send call left; HTTP 504 on it; a status dunwell does not know | `Unknown`: Pingen may be sending it; a person settles it in the Pingen app |
//!
//! A 5xx answer to the send call is `Retry`, not `Unknown`: the next attempt reads the
//! letter's status before it sends, and sends only a letter that is still a draft.
//!
//! [`Pingen::send`] runs on its own current-thread tokio runtime (like `SmsChannel`); it must
//! not be called from inside another runtime.

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::{json, Value};

use super::Outcome;
use crate::plugin::redact::{Redactor, MIN_SECRET_LEN};
use crate::store::Message;
use crate::text;

/// Pingen's production API.
pub const DEFAULT_API_URL: &str = "https://api.pingen.com";
/// Pingen's production identity service (the token endpoint).
pub const DEFAULT_IDENTITY_URL: &str = "https://identity.pingen.com";
/// The delivery product of a letter that is not registered, when `product` is not set.
pub const DEFAULT_PRODUCT: &str = "cheap";

/// JSON:API's media type, which Pingen's API speaks.
const JSON_API: &str = "application/vnd.api+json";
/// The one scope dunwell needs: creating and sending letters.
const SCOPE: &str = "letter";
const DEFAULT_TIMEOUT_S: u64 = 30;
const MAX_TIMEOUT_S: u64 = 300;
/// Most of an answer read (a letter, a token or an error is a few KiB).
const MAX_ANSWER: usize = 64 << 10;
/// Most of Pingen's reason kept in an outcome.
const MAX_REASON: usize = 600;
/// A token is renewed this long before Pingen says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// A token whose answer gives no `expires_in` is kept this long.
const TOKEN_UNSAID: Duration = Duration::from_secs(300);
/// How long one attempt waits for Pingen's check of a new letter.
const VALIDATION_WAIT: Duration = Duration::from_secs(60);
/// The first pause before looking at the letter's status again; each further one is this much
/// longer, up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_secs(1);
const MAX_POLL: Duration = Duration::from_secs(5);

/// The `[channels.letter]` section.
///
/// ```toml
/// [channels.letter]
/// provider = "pingen"
/// organisation = "8e3f2a61-4b7d-4c0e-9a55-2f1d6c7b8e90"   # Pingen's organisation id
/// client_id = "…"
/// client_secret_file = "secrets/pingen-client-secret"
/// # product = "cheap"            # cheap | fast | bulk | premium; registered letters use "registered"
/// # print_spectrum = "grayscale" # grayscale | color
/// # print_mode = "simplex"       # simplex | duplex
/// # timeout_s = 30               # each HTTP request, connecting included
/// # api_url = "https://api-staging.pingen.com"            # staging
/// # identity_url = "https://identity-staging.pingen.com"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LetterSettings {
    /// `"pingen"`, the only print-and-mail service so far.
    pub provider: String,
    /// Pingen's API; `https://`, or `http://` to the loopback interface only.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// Pingen's identity service, where tokens come from; same rules as `api_url`.
    #[serde(default = "default_identity_url")]
    pub identity_url: String,
    /// The organisation's id (in Pingen's app under the organisation's settings).
    pub organisation: String,
    /// The API client's id (client-credentials grant).
    pub client_id: String,
    /// The file holding the client's secret. Never in dunwell.toml itself.
    pub client_secret_file: PathBuf,
    /// Delivery product of ordinary letters: `cheap` (default), `fast`, `bulk`, `premium`.
    #[serde(default)]
    pub product: Option<String>,
    /// `grayscale` (default) or `color`.
    #[serde(default)]
    pub print_spectrum: Option<String>,
    /// `simplex` (default) or `duplex`.
    #[serde(default)]
    pub print_mode: Option<String>,
    /// Seconds each HTTP request may take, connecting included (default 30, at most 300).
    #[serde(default)]
    pub timeout_s: Option<u64>,
}

fn default_api_url() -> String {
    DEFAULT_API_URL.to_string()
}

fn default_identity_url() -> String {
    DEFAULT_IDENTITY_URL.to_string()
}

/// A token and until when it may be used.
struct Token {
    value: String,
    until: Instant,
}

/// Pingen's print-and-mail API: built once from the settings (secret read, URLs checked, one
/// HTTP client from [`crate::http::client_builder`], one runtime), then [`send`](Self::send) for each letter.
pub struct Pingen {
    api: String,
    identity: String,
    organisation: String,
    client_id: String,
    secret: String,
    product: String,
    print_spectrum: String,
    print_mode: String,
    timeout: Duration,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    /// The last token; kept (marked used up) after a 401 so it can still be masked.
    token: Mutex<Option<Token>>,
    validation_wait: Duration,
    first_poll: Duration,
}

impl std::fmt::Debug for Pingen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pingen")
            .field("api", &self.api)
            .field("identity", &self.identity)
            .field("organisation", &self.organisation)
            .field("client_id", &self.client_id)
            .field("product", &self.product)
            .field("print_spectrum", &self.print_spectrum)
            .field("print_mode", &self.print_mode)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The calls of one send, for what their failures mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Token,
    UploadUrl,
    Upload,
    Create,
    Status,
    Events,
    Send,
}

impl Step {
    fn doing(self) -> &'static str {
        match self {
            Step::Token => "asking Pingen for an access token",
            Step::UploadUrl => "asking Pingen for an upload URL",
            Step::Upload => "uploading the PDF",
            Step::Create => "creating the letter at Pingen",
            Step::Status => "reading the letter's status at Pingen",
            Step::Events => "reading the letter's events at Pingen",
            Step::Send => "sending the letter at Pingen",
        }
    }
}

/// An HTTP answer: its status and (at most [`MAX_ANSWER`] bytes of) its body, or why the body
/// could not be read.
struct Reply {
    status: StatusCode,
    body: Result<Vec<u8>, String>,
}

impl Reply {
    fn json(&self) -> Option<Value> {
        self.body.as_ref().ok().and_then(|b| serde_json::from_slice(b).ok())
    }
}

/// What a letter's status at Pingen means for this attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// `valid`: checked, a draft; send it.
    Ready,
    /// Pingen is still at it (`validating` and the like): look again shortly.
    Checking,
    /// Submitted or further along: it is on its way.
    Submitted,
    /// Pingen's check found problems a person must fix (`invalid`, `action_required`).
    NeedsPerson,
    /// Cancelled or rejected at Pingen.
    Stopped,
    /// A draft left too long: make a new one.
    Expired,
    /// A status dunwell does not know.
    Strange,
}

/// Pingen's letter statuses (its help centre's "letter status from transfer to dispatching";
/// the values as in the web app, which Pingen's API reference does not list).
fn stage(status: &str) -> Stage {
    match status {
        "valid" => Stage::Ready,
        // `fixing`, `transferring` and `inspection` may come before or after submission;
        // waiting is right either way (a letter is only sent while `valid`).
        "validating" | "fixing" | "transferring" | "inspection" => Stage::Checking,
        "submitted" | "accepted" | "awaiting_credits" | "printing" | "processing" | "sent" | "delivered"
        | "undeliverable" => Stage::Submitted,
        "invalid" | "action_required" | "unprintable" => Stage::NeedsPerson,
        "cancelled" | "cancelling" | "rejected" => Stage::Stopped,
        "expired" => Stage::Expired,
        _ => Stage::Strange,
    }
}

fn sent(id: &str) -> Outcome {
    Outcome::Sent { provider_id: Some(id.to_string()), message_id: None, file: None }
}

impl Pingen {
    /// Checks the settings, reads the client secret and sets up the HTTP client
    /// ([`crate::http::client_builder`]: rustls, no proxies from the environment, no redirects,
    /// no automatic retries) and the runtime.
    pub fn new(s: &LetterSettings) -> Result<Pingen, String> {
        let bad = |field: &str, why: String| format!("[channels.letter] `{field}`: {why}");
        if s.provider.trim() != "pingen" {
            return Err(bad(
                "provider",
                format!(
                    "\"{}\" is not a print-and-mail service dunwell knows; the one there is: \"pingen\"",
                    text::escape(&text::cap(&s.provider, 40))
                ),
            ));
        }
        let api = crate::http::check_service_url(&s.api_url).map_err(|e| bad("api_url", e))?;
        let identity = crate::http::check_service_url(&s.identity_url).map_err(|e| bad("identity_url", e))?;
        let organisation = s.organisation.trim();
        if !plausible_id(organisation) {
            return Err(bad(
                "organisation",
                "must be the organisation's id from Pingen (letters, digits and `-`, e.g. `8e3f2a61-4b7d-4c0e-9a55-2f1d6c7b8e90`)"
                    .into(),
            ));
        }
        let client_id = s.client_id.trim();
        if client_id.is_empty()
            || client_id.len() > 256
            || client_id.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(bad("client_id", "must be the API client's id: one word, no spaces".into()));
        }
        let secret =
            crate::http::read_secret_file(&s.client_secret_file, "the API client's secret", MIN_SECRET_LEN)
                .map_err(|e| bad("client_secret_file", e))?;
        let product = s.product.as_deref().unwrap_or(DEFAULT_PRODUCT).trim().to_string();
        match product.as_str() {
            "cheap" | "fast" | "bulk" | "premium" => {}
            "registered" => {
                return Err(bad(
                    "product",
                    "\"registered\" is chosen per letter (a registered-letter step); set the product of ordinary letters: \"cheap\", \"fast\", \"bulk\" or \"premium\"".into(),
                ))
            }
            other => {
                return Err(bad(
                    "product",
                    format!(
                        "\"{}\" is not one of Pingen's products \"cheap\", \"fast\", \"bulk\", \"premium\"",
                        text::escape(&text::cap(other, 40))
                    ),
                ))
            }
        }
        let print_spectrum = s.print_spectrum.as_deref().unwrap_or("grayscale").trim().to_string();
        if !matches!(print_spectrum.as_str(), "grayscale" | "color") {
            return Err(bad("print_spectrum", "must be \"grayscale\" or \"color\"".into()));
        }
        let print_mode = s.print_mode.as_deref().unwrap_or("simplex").trim().to_string();
        if !matches!(print_mode.as_str(), "simplex" | "duplex") {
            return Err(bad("print_mode", "must be \"simplex\" or \"duplex\"".into()));
        }
        let timeout_s = s.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
        if !(1..=MAX_TIMEOUT_S).contains(&timeout_s) {
            return Err(bad("timeout_s", format!("must be 1 to {MAX_TIMEOUT_S} seconds, not {timeout_s}")));
        }
        let timeout = Duration::from_secs(timeout_s);
        // dunwell's shared HTTP defaults: rustls, no environment proxies, no redirects (the
        // token goes to the configured hosts only), no automatic retries.
        let client = crate::http::client_builder((timeout * 2 / 3).min(Duration::from_secs(10)))
            .timeout(timeout)
            .build()
            .map_err(|e| {
                format!("[channels.letter]: cannot set up the HTTP client: {}", crate::http::error_chain(&e))
            })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("[channels.letter]: cannot start the runtime: {e}"))?;
        Ok(Pingen {
            api,
            identity,
            organisation: organisation.to_string(),
            client_id: client_id.to_string(),
            secret,
            product,
            print_spectrum,
            print_mode,
            timeout,
            client,
            runtime,
            token: Mutex::new(None),
            validation_wait: VALIDATION_WAIT,
            first_poll: FIRST_POLL,
        })
    }

    /// Sends one letter. `existing`: the provider's letter id recorded by an earlier attempt
    /// of this message (a crash or timeout after the create call); `record`: called with the
    /// new letter id right after the create call, BEFORE the send call, so a restart never
    /// creates and sends a second letter. When `record` fails nothing is sent (`Retry`).
    ///
    /// Blocks on its own runtime: not to be called from inside a tokio runtime.
    pub fn send(
        &self,
        m: &Message,
        pdf: &[u8],
        registered: bool,
        existing: Option<&str>,
        record: &mut dyn FnMut(&str) -> Result<(), String>,
    ) -> Outcome {
        self.runtime.block_on(self.deliver(m, pdf, registered, existing, record))
    }

    async fn deliver(
        &self,
        m: &Message,
        pdf: &[u8],
        registered: bool,
        existing: Option<&str>,
        record: &mut dyn FnMut(&str) -> Result<(), String>,
    ) -> Outcome {
        if !pdf.starts_with(b"%PDF-") {
            return Outcome::Refused(format!(
                "message {} has no PDF to print (render the letter again)",
                m.id
            ));
        }
        let mut known: Option<(String, String)> = None;
        if let Some(id) = existing.map(str::trim).filter(|id| !id.is_empty()) {
            if !plausible_id(id) {
                return Outcome::Unknown(format!(
                    "the Pingen letter id recorded for message {} (`{}`) is not an id Pingen gives; look the letter up in the Pingen app",
                    m.id,
                    text::escape(&text::cap(id, 80))
                ));
            }
            match self.status(id).await {
                Err(outcome) => return outcome,
                Ok(None) => {
                    tracing::warn!(
                        "message {}: Pingen no longer knows letter {id} of an earlier attempt; making a new one",
                        m.id
                    );
                }
                Ok(Some(status)) => match stage(&status) {
                    Stage::Expired => {
                        tracing::warn!(
                            "message {}: Pingen letter {id} of an earlier attempt expired unsent; making a new one",
                            m.id
                        );
                    }
                    _ => known = Some((id.to_string(), status)),
                },
            }
        }
        let (id, status) = match known {
            Some(k) => k,
            None => {
                let (id, status) = match self.create(m, pdf).await {
                    Ok(created) => created,
                    Err(outcome) => return outcome,
                };
                if let Err(e) = record(&id) {
                    return Outcome::Retry(format!(
                        "Pingen letter {id} was created but its id could not be recorded ({}); it was not sent",
                        text::escape(&text::cap(&e, MAX_REASON))
                    ));
                }
                (id, status.unwrap_or_else(|| "validating".to_string()))
            }
        };
        if let Err(outcome) = self.until_ready(&id, status).await {
            return outcome;
        }
        self.send_letter(&id, registered).await
    }

    /// Uploads the PDF and creates the letter (not sent); its id and status.
    async fn create(&self, m: &Message, pdf: &[u8]) -> Result<(String, Option<String>), Outcome> {
        let reply = self.call(Step::UploadUrl, Method::GET, "/file-upload", None).await?;
        if !reply.status.is_success() {
            return Err(self.failure(Step::UploadUrl, &reply));
        }
        let json = reply.json();
        let attribute = |name: &str| {
            json.as_ref()
                .and_then(|v| v.pointer(&format!("/data/attributes/{name}")))
                .and_then(Value::as_str)
                .map(str::to_string)
                .filter(|s| !s.is_empty())
        };
        let (Some(url), Some(signature)) = (attribute("url"), attribute("url_signature")) else {
            return Err(Outcome::Retry(
                "Pingen's answer to the upload request has no `url` and `url_signature`; nothing was sent"
                    .into(),
            ));
        };
        // The PDF goes where Pingen says, but only over https (or to the loopback interface).
        crate::http::check_service_url(&url).map_err(|_| {
            Outcome::Retry("Pingen gave an upload URL that is not https; nothing was uploaded or sent".into())
        })?;
        self.upload(&url, pdf).await?;

        let body = json!({"data": {"type": "letters", "attributes": {
            "file_original_name": format!("dunwell-{}.pdf", m.id),
            "file_url": url,
            "file_url_signature": signature,
            "address_position": "left",
            "auto_send": false,
        }}});
        let path = format!("/organisations/{}/deliveries/letters", self.organisation);
        let reply = self.call(Step::Create, Method::POST, &path, Some(&body)).await?;
        if !reply.status.is_success() {
            return Err(self.failure(Step::Create, &reply));
        }
        let json = reply.json();
        let id = json.as_ref().and_then(|v| v.pointer("/data/id")).and_then(Value::as_str).map(str::trim);
        match id {
            Some(id) if plausible_id(id) => {
                let status = json
                    .as_ref()
                    .and_then(|v| v.pointer("/data/attributes/status"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                tracing::info!("message {}: Pingen letter {id} created (not sent yet)", m.id);
                Ok((id.to_string(), status))
            }
            _ => Err(Outcome::Retry(format!(
                "Pingen answered the create call with HTTP {} but no usable letter id{}; the letter (if made) was not sent",
                reply.status,
                reply.body.as_ref().err().map(|e| format!(" ({})", self.clean(e))).unwrap_or_default()
            ))),
        }
    }

    /// `PUT` the PDF to the signed URL (no token: it must not go to the storage host).
    async fn upload(&self, url: &str, pdf: &[u8]) -> Result<(), Outcome> {
        let host = host_of(url);
        let response = self
            .client
            .put(url)
            .body(pdf.to_vec())
            .send()
            .await
            .map_err(|e| self.transport(Step::Upload, e, &host))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = crate::http::read_capped(response, MAX_ANSWER).await.unwrap_or_default();
        let reason = self.reason(status, &body);
        Err(if status == StatusCode::PAYLOAD_TOO_LARGE {
            Outcome::Refused(format!("the PDF is too large for Pingen ({reason})"))
        } else {
            Outcome::Retry(format!("uploading the PDF to {host} failed ({reason}); nothing was sent"))
        })
    }

    /// The letter's status; `None` when Pingen does not know the letter (404).
    async fn status(&self, id: &str) -> Result<Option<String>, Outcome> {
        let path = format!("/organisations/{}/deliveries/letters/{id}", self.organisation);
        let reply = self.call(Step::Status, Method::GET, &path, None).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !reply.status.is_success() {
            return Err(self.failure(Step::Status, &reply));
        }
        match reply.json().as_ref().and_then(|v| v.pointer("/data/attributes/status")).and_then(Value::as_str)
        {
            Some(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            _ => Err(Outcome::Retry(format!(
                "Pingen's answer about letter {id} has no status; nothing was sent"
            ))),
        }
    }

    /// Waits (at most `validation_wait`) until the letter is `valid`; `Err` with the outcome
    /// of this attempt when it should not be sent now.
    async fn until_ready(&self, id: &str, mut status: String) -> Result<(), Outcome> {
        let start = Instant::now();
        let mut pause = self.first_poll;
        loop {
            match stage(&status) {
                Stage::Ready => return Ok(()),
                Stage::Checking => {}
                Stage::Submitted => {
                    if status == "awaiting_credits" {
                        tracing::warn!(
                            "Pingen letter {id} waits for credits: buy credits in the Pingen app, or it goes back to a draft after seven days"
                        );
                    }
                    return Err(sent(id));
                }
                Stage::NeedsPerson => {
                    let why = self.events(id).await;
                    return Err(Outcome::Refused(format!(
                        "Pingen cannot print letter {id} (status `{}`){}; fix the letter, or correct it and send it in the Pingen app",
                        text::escape(&text::cap(&status, 40)),
                        why.map(|w| format!(": {w}")).unwrap_or_default()
                    )));
                }
                Stage::Stopped => {
                    return Err(Outcome::Refused(format!(
                        "Pingen letter {id} was {} at Pingen; it is not sent again",
                        text::escape(&text::cap(&status, 40))
                    )))
                }
                Stage::Expired => {
                    return Err(Outcome::Retry(format!(
                        "Pingen letter {id} expired before it was sent; a new one is made on the next attempt"
                    )))
                }
                Stage::Strange => {
                    return Err(Outcome::Unknown(format!(
                        "Pingen letter {id} has the status `{}`, which dunwell does not know; look it up in the Pingen app before sending it again",
                        text::escape(&text::cap(&status, 40))
                    )))
                }
            }
            if start.elapsed() + pause > self.validation_wait {
                return Err(Outcome::Retry(format!(
                    "Pingen is still checking letter {id} (status `{}`) after {} s; it is sent on the next attempt",
                    text::escape(&text::cap(&status, 40)),
                    start.elapsed().as_secs()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause + self.first_poll).min(MAX_POLL.max(self.first_poll));
            status = match self.status(id).await? {
                Some(s) => s,
                None => {
                    return Err(Outcome::Retry(format!(
                        "Pingen no longer knows letter {id}, which was being checked; a new one is made on the next attempt"
                    )))
                }
            };
        }
    }

    /// The names and descriptions of the letter's last events (why Pingen's check failed);
    /// best effort.
    async fn events(&self, id: &str) -> Option<String> {
        let path = format!("/organisations/{}/deliveries/letters/{id}/events", self.organisation);
        let reply = self.call(Step::Events, Method::GET, &path, None).await.ok()?;
        if !reply.status.is_success() {
            return None;
        }
        let json = reply.json()?;
        let events = json.get("data")?.as_array()?;
        let mut said: Vec<String> = Vec::new();
        for e in events.iter().rev().take(3).rev() {
            let a = e.get("attributes")?;
            let get = |k: &str| a.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
            let line = match (get("name"), get("description")) {
                (Some(n), Some(d)) => format!("{n}: {d}"),
                (Some(n), None) => n.to_string(),
                (None, Some(d)) => d.to_string(),
                (None, None) => continue,
            };
            if !said.contains(&line) {
                said.push(line);
            }
        }
        (!said.is_empty()).then(|| self.clean(&said.join("; ")))
    }

    /// The send call.
    async fn send_letter(&self, id: &str, registered: bool) -> Outcome {
        let product = if registered { "registered" } else { self.product.as_str() };
        let body = json!({"data": {"id": id, "type": "letters", "attributes": {
            "delivery_product": product,
            "print_mode": self.print_mode,
            "print_spectrum": self.print_spectrum,
        }}});
        let path = format!("/organisations/{}/deliveries/letters/{id}/send", self.organisation);
        let reply = match self.call(Step::Send, Method::PATCH, &path, Some(&body)).await {
            Ok(reply) => reply,
            Err(outcome) => return outcome,
        };
        if reply.status.is_success() {
            tracing::info!("Pingen letter {id} sent ({product})");
            return sent(id);
        }
        self.failure(Step::Send, &reply)
    }

    /// One API call with the token; a 401 gets a new token and the call is made once more.
    async fn call(
        &self,
        step: Step,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, Outcome> {
        let url = format!("{}{path}", self.api);
        let host = host_of(&self.api);
        let mut fresh = false;
        loop {
            let token = self.token(fresh).await?;
            let mut request = self
                .client
                .request(method.clone(), &url)
                .header(ACCEPT, JSON_API)
                .header(AUTHORIZATION, bearer(&token)?);
            if let Some(body) = body {
                request = request.header(CONTENT_TYPE, JSON_API).body(body.to_string());
            }
            let response = request.send().await.map_err(|e| self.transport(step, e, &host))?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !fresh {
                // Revoked or expired early: one new token, one more try (a 401 means Pingen
                // did nothing with the request).
                self.forget_token();
                fresh = true;
                continue;
            }
            let body = crate::http::read_capped(response, MAX_ANSWER).await;
            return Ok(Reply { status, body });
        }
    }

    /// The cached token, or a new one (`fresh`, or none cached, or it expires soon).
    async fn token(&self, fresh: bool) -> Result<String, Outcome> {
        if !fresh {
            let cached = self.token.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.until) {
                return Ok(t.value.clone());
            }
        }
        let url = format!("{}/auth/access-tokens", self.identity);
        let response = self
            .client
            .post(&url)
            .header(ACCEPT, "application/json")
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.secret.as_str()),
                ("scope", SCOPE),
            ])
            .send()
            .await
            .map_err(|e| self.transport(Step::Token, e, &host_of(&self.identity)))?;
        let status = response.status();
        let body = crate::http::read_capped(response, MAX_ANSWER).await;
        if !status.is_success() {
            let reason = self.reason(status, body.as_deref().unwrap_or_default());
            return Err(Outcome::Retry(match status.as_u16() {
                400 | 401 | 403 => format!(
                    "Pingen refused the API client ({reason}); check `client_id` and `client_secret_file` in [channels.letter]; nothing was sent"
                ),
                _ => format!("{} failed ({reason}); nothing was sent", Step::Token.doing()),
            }));
        }
        let json = body.ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let value = json
            .as_ref()
            .and_then(|v| v.get("access_token"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
            .map(str::to_string);
        let Some(value) = value else {
            return Err(Outcome::Retry(
                "Pingen's token answer has no usable `access_token`; nothing was sent".into(),
            ));
        };
        let lifetime = json
            .as_ref()
            .and_then(|v| v.get("expires_in"))
            .and_then(|e| e.as_u64().or_else(|| e.as_str().and_then(|s| s.trim().parse().ok())))
            .map(Duration::from_secs)
            .unwrap_or(TOKEN_UNSAID);
        let until = Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN);
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = Some(Token { value: value.clone(), until });
        Ok(value)
    }

    /// Marks the cached token used up (it stays known, to be masked).
    fn forget_token(&self) {
        if let Some(t) = self.token.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            t.until = Instant::now();
        }
    }

    /// What a non-2xx answer means at this step.
    fn failure(&self, step: Step, reply: &Reply) -> Outcome {
        let status = reply.status;
        let reason = self.reason(status, reply.body.as_deref().unwrap_or_default());
        let doing = step.doing();
        match status.as_u16() {
            401 => Outcome::Retry(format!(
                "Pingen refused a new access token while {doing} ({reason}); check the API client in [channels.letter]; nothing was sent"
            )),
            403 => Outcome::Retry(format!(
                "Pingen denied access while {doing} ({reason}); check `organisation` and the API client's rights (scope `letter`) in [channels.letter]; nothing was sent"
            )),
            404 if matches!(step, Step::UploadUrl | Step::Create) => Outcome::Retry(format!(
                "Pingen does not know this path while {doing} ({reason}); check `organisation` and `api_url` in [channels.letter]; nothing was sent"
            )),
            402 | 408 | 409 | 423 | 425 | 429 => Outcome::Retry(format!("{doing}: {reason}; nothing was sent")),
            504 if step == Step::Send => Outcome::Unknown(format!(
                "{doing}: {reason} (a gateway gave up waiting: Pingen may be sending it); look the letter up in the Pingen app before sending it again"
            )),
            s if (400..500).contains(&s) && matches!(step, Step::Create | Step::Send) => {
                Outcome::Refused(format!("Pingen refused the letter while {doing}: {reason}"))
            }
            _ => Outcome::Retry(format!("{doing}: {reason}; nothing was sent")),
        }
    }

    fn transport(&self, step: Step, err: reqwest::Error, host: &str) -> Outcome {
        // Without the URL: the signed upload URL is a capability.
        let err = err.without_url();
        let detail = self.clean(&crate::http::error_chain(&err));
        let doing = step.doing();
        if err.is_connect() {
            return Outcome::Retry(format!(
                "cannot connect to {host} while {doing}: {detail}; nothing was sent"
            ));
        }
        if err.is_builder() {
            return Outcome::Retry(format!(
                "{doing}: the request could not be made ({detail}); nothing was sent"
            ));
        }
        let what = if err.is_timeout() {
            format!("no answer from {host} within {} s", self.timeout.as_secs())
        } else {
            format!("the connection to {host} broke")
        };
        if step == Step::Send {
            Outcome::Unknown(format!(
                "{what} after the send call left ({detail}): Pingen may be sending the letter; look it up in the Pingen app before sending it again"
            ))
        } else {
            Outcome::Retry(format!("{what} while {doing} ({detail}); nothing was sent"))
        }
    }

    /// `HTTP 422 Unprocessable Entity: <Pingen's details>`: capped, escaped, secrets masked.
    fn reason(&self, status: StatusCode, body: &[u8]) -> String {
        crate::http::status_reason(status, body, pingen_reason, |d| self.clean(d))
    }

    /// Text from Pingen or the network as it may be kept: the client secret and the token
    /// masked, capped, escaped.
    fn clean(&self, s: &str) -> String {
        let token = self.token.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|t| t.value.clone());
        let secrets: Vec<String> = std::iter::once(self.secret.clone()).chain(token).collect();
        let masked = Redactor::new(secrets.iter()).apply(s);
        text::escape(&text::cap(masked.trim(), MAX_REASON)).into_owned()
    }
}

/// `Bearer <token>`, marked sensitive.
fn bearer(token: &str) -> Result<HeaderValue, Outcome> {
    let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| Outcome::Retry("Pingen's access token cannot be sent in a header".into()))?;
    v.set_sensitive(true);
    Ok(v)
}

/// Pingen's ids (UUIDs): 1 to 64 ASCII letters, digits, `-` and `_`; safe in a path.
fn plausible_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The human part of Pingen's error answers: JSON:API `errors[]` (`detail`, else `title`,
/// else `code`, with `source.pointer`; Pingen also sends `errors` as one object), and OAuth's
/// `error_description` / `error`.
fn pingen_reason(v: &Value) -> Option<String> {
    let mut found: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !s.is_empty() && !found.contains(&s) {
            found.push(s);
        }
    };
    let errors: Vec<&Value> = match v.get("errors") {
        Some(Value::Array(items)) => items.iter().take(5).collect(),
        Some(e @ Value::Object(_)) => vec![e],
        _ => Vec::new(),
    };
    for e in errors {
        let field = |k: &str| e.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        if let Some(said) = field("detail").or_else(|| field("title")).or_else(|| field("code")) {
            let at = e
                .pointer("/source/pointer")
                .or_else(|| e.pointer("/source/parameter"))
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty());
            push(match at {
                Some(at) => format!("{said} ({at})"),
                None => said.to_string(),
            });
        }
    }
    for key in ["error_description", "message", "error"] {
        if let Some(s) = v.get(key).and_then(Value::as_str) {
            push(s.trim().to_string());
        }
    }
    (!found.is_empty()).then(|| found.join("; "))
}

/// `host` or `host:port` of a URL, for messages (never its path or query: a signed upload
/// URL is a capability).
fn host_of(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => "Pingen".into(),
        },
        Err(_) => "Pingen".into(),
    }
}
