//! SMS (issue 10, point 5): texts counted in parts and transliterated to GSM-7, numbers checked,
//! and one send to an HTTPS provider: CM.com, Spryng, Twilio, MessageBird (legacy REST API) or
//! any HTTP endpoint that takes a JSON body.
//!
//! The outbox worker builds one [`SmsSender`] from the `[channels.sms]` section
//! ([`SmsSettings`]) and calls [`SmsSender::send`] for each entry; [`prepare`] gives the text
//! exactly as it will be sent and its [`SmsParts`], for the outbox, `dunwell preview` and
//! dry runs.
//!
//! # Outcomes of a send, and what the outbox does with them
//!
//! | result | meaning | outbox |
//! | --- | --- | --- |
//! | `Ok(SmsReceipt)` | the provider answered 2xx | sent, with `provider_id` |
//! | [`SmsError::Rejected`] | 4xx (but 408 and 429): the provider refused this message | failed for good (resending the same request gets the same answer) |
//! | [`SmsError::Failed`] | nothing was sent: no connection (refused, DNS, TLS, connect timeout), 5xx but 504, 408, 429 | retry later |
//! | [`SmsError::Unknown`] | the request left, no usable answer came back: a timeout after sending, a connection broken before the answer, a 504, a 2xx from Twilio without a `sid` | **never resent blindly**: the provider may have sent it; settle it from its status or delivery report (by `reference`) |
//! | [`SmsError::Number`], [`SmsError::Text`], [`SmsError::TooLong`] | refused before anything was sent | failed for good, the reason on the entry |
//! | [`SmsError::Config`] | the settings or the token file | the channel cannot work until fixed |
//!
//! # TLS and the crypto provider
//!
//! The client comes from [`crate::http::client_builder`], the binary's one HTTP setup (the
//! plugin host uses it too), which installs ring as the process-wide rustls `CryptoProvider`
//! before it builds anything, so reqwest's `rustls-no-provider` never meets a process without
//! one (its "no crypto provider" panic). ring is the only provider in the dependency tree
//! (`cargo tree -p dunwell -i aws-lc-rs` is empty); lettre with its `ring` feature uses the
//! process default, else ring. This module installs nothing itself.

mod number;
pub mod report;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

pub use crate::gsm::{
    gsm7_septets, is_gsm7, parts, transliterate, Encoding, SmsParts, GSM7_PART, GSM7_SINGLE, UCS2_PART,
    UCS2_SINGLE,
};
pub use number::mobile_number;

use crate::text;

/// What can go wrong with an SMS; see the table in the module documentation for what each
/// means to the outbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// The recipient's number: not a number, not valid, not a mobile.
    #[error("{0}")]
    Number(String),
    /// The text or the reference cannot be sent (empty text, a reference providers refuse).
    #[error("{0}")]
    Text(String),
    /// The text needs more parts than allowed; nothing was sent.
    #[error(
        "the text needs {parts} SMS parts ({units} {encoding} units), more than the {max} allowed (`max_parts`); shorten the template"
    )]
    TooLong { parts: u32, max: u32, units: usize, encoding: Encoding },
    /// The settings or the token file.
    #[error("SMS settings: {0}")]
    Config(String),
    /// The provider refused the message (HTTP 4xx): not retried.
    #[error("the SMS provider refused the message: {0}")]
    Rejected(String),
    /// Nothing was sent (no connection, HTTP 5xx, 408, 429): try again later.
    #[error("the SMS was not sent: {0}")]
    Failed(String),
    /// The request left but no usable answer came back: the provider may have sent the
    /// message. Must not be resent blindly; settle it from the provider's status or delivery
    /// report (by the reference) first.
    #[error("the SMS may or may not have been sent: {0}")]
    Unknown(String),
}

impl SmsError {
    /// Whether the outbox may simply try again later (nothing was sent).
    pub fn is_retryable(&self) -> bool {
        matches!(self, SmsError::Failed(_))
    }
}

/// What a provider said when it took a message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SmsReceipt {
    /// What the delivery reports and the provider's status calls know the message by: our
    /// `reference` for CM, Spryng and MessageBird, Twilio's `sid`, the `id` of an HTTP
    /// endpoint's answer (else the reference).
    pub provider_id: String,
    /// Parts counted before sending (the provider bills these).
    pub parts: u32,
}

/// The SMS provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// CM.com: `POST {url}/v1.0/message`, header `X-CM-PRODUCTTOKEN`.
    Cm,
    /// Spryng: `POST {url}/v1/messages`, bearer token.
    Spryng,
    /// Twilio: `POST {url}/2010-04-01/Accounts/{account}/Messages.json`, Basic `account:token`,
    /// a form body.
    Twilio,
    /// MessageBird's REST API: `POST {url}/messages`, `Authorization: AccessKey …`.
    #[serde(rename = "messagebird")]
    MessageBird,
    /// Any endpoint: `POST {url}` with the rendered `body_template`, bearer token.
    Http,
}

impl Provider {
    fn name(self) -> &'static str {
        match self {
            Provider::Cm => "cm",
            Provider::Spryng => "spryng",
            Provider::Twilio => "twilio",
            Provider::MessageBird => "messagebird",
            Provider::Http => "http",
        }
    }

    fn default_base(self) -> Option<&'static str> {
        match self {
            Provider::Cm => Some("https://gw.messaging.cm.com"),
            Provider::Spryng => Some("https://rest.spryngsms.com"),
            Provider::Twilio => Some("https://api.twilio.com"),
            Provider::MessageBird => Some("https://rest.messagebird.com"),
            Provider::Http => None,
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The `[channels.sms]` section.
///
/// ```toml
/// [channels.sms]
/// provider = "cm"               # "cm" | "spryng" | "twilio" | "messagebird" | "http"
/// token_file = "secrets/cm-token"
/// sender = "Bakkerij"           # at most 11 letters and digits, or a number
/// timeout = 15                  # seconds (or "15s", "500ms"); default 15
/// max_parts = 3                 # refuse longer texts; default 3
/// # url = "https://…"           # the provider's base URL; required (the endpoint) for "http"
/// # account = "AC…"             # Twilio's Account SID
/// # body_template = '{"to":"{{to}}","text":"{{text}}"}'   # "http" only
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    pub provider: Provider,
    /// The provider's base URL (the API path is appended), to reach a regional gateway or a
    /// test server; for `http` the whole endpoint, and required. `https://`, or `http://` to
    /// the loopback interface only.
    #[serde(default)]
    pub url: Option<String>,
    /// The file holding the API token (CM product token, Spryng or MessageBird access key,
    /// Twilio auth token, the endpoint's bearer token). Never in dunwell.toml itself.
    pub token_file: PathBuf,
    /// The sender shown on the phone: at most 11 ASCII letters, digits and spaces (with a
    /// letter), or a number of up to 15 digits with an optional `+`. For Twilio also a
    /// Messaging Service SID (`MG…`).
    pub sender: String,
    /// Twilio's Account SID (`AC` and 32 hexadecimal digits); only for Twilio.
    #[serde(default)]
    pub account: Option<String>,
    /// `http` only: the JSON body, with `{{to}}` (E.164), `{{text}}`, `{{reference}}` and
    /// `{{sender}}` placed inside JSON strings; each is inserted JSON-escaped. Default:
    /// [`DEFAULT_BODY_TEMPLATE`].
    #[serde(default)]
    pub body_template: Option<String>,
    /// The whole request, connecting included. A connection not made within two thirds of it
    /// (at most 10 s) counts as nothing sent; a timeout after that is [`SmsError::Unknown`].
    #[serde(default = "default_timeout", deserialize_with = "deserialize_timeout")]
    pub timeout: Duration,
    /// Texts that need more parts than this are refused ([`SmsError::TooLong`]).
    #[serde(default = "default_max_parts")]
    pub max_parts: u32,
    /// The file holding the secret of the delivery-report address: the daemon takes the
    /// provider's status reports at `/sms/report/<this secret>` (give the provider that URL
    /// through your HTTPS proxy). Without it, an SMS of unknown fate is settled by hand.
    #[serde(default)]
    pub report_token_file: Option<PathBuf>,
}

/// The `http` provider's body when `body_template` is not set.
pub const DEFAULT_BODY_TEMPLATE: &str =
    r#"{"to":"{{to}}","text":"{{text}}","reference":"{{reference}}","sender":"{{sender}}"}"#;

/// Longest reference sent (CM's limit for `reference`).
pub const MAX_REFERENCE: usize = 32;
/// Most parts `max_parts` may allow (GSM's concatenation allows 255; providers stop earlier).
const MAX_PARTS_LIMIT: u32 = 10;
/// Most of a provider's answer read (its id or its reason are at the start).
const MAX_ANSWER: usize = 64 << 10;
/// Most of a provider's reason kept in an error.
const MAX_REASON: usize = 400;

fn default_timeout() -> Duration {
    Duration::from_secs(15)
}

fn default_max_parts() -> u32 {
    3
}

/// `15` or `2.5` (seconds), or `"15s"`, `"500ms"`, `"1m"`; more than zero, at most 5 minutes.
fn deserialize_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Whole(u64),
        Fraction(f64),
        Text(String),
    }
    let bad = || {
        serde::de::Error::custom(
            "`timeout` must be seconds (`15`) or `\"15s\"`, `\"500ms\"`, more than 0 and at most 300 s",
        )
    };
    let secs: f64 = match Raw::deserialize(d)? {
        Raw::Whole(s) => s as f64,
        Raw::Fraction(f) => f,
        Raw::Text(t) => {
            let t = t.trim();
            let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
                (n, 0.001)
            } else if let Some(n) = t.strip_suffix('s') {
                (n, 1.0)
            } else if let Some(n) = t.strip_suffix('m') {
                (n, 60.0)
            } else {
                (t, 1.0)
            };
            number.trim().parse::<f64>().map_err(|_| bad())? * scale
        }
    };
    if !(secs > 0.0 && secs <= 300.0) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The text as it will be sent ([`transliterate`]d) and what it costs.
pub fn prepare(text: &str) -> (String, SmsParts) {
    let sent = transliterate(text);
    let counted = parts(&sent);
    (sent, counted)
}

/// Sends SMS through one provider: built once from the settings (the token read, the URL and
/// sender checked, one HTTP client), then [`send`](Self::send) for each message.
pub struct SmsSender {
    provider: Provider,
    endpoint: Url,
    token: String,
    sender: String,
    body_template: String,
    max_parts: u32,
    timeout: Duration,
    client: reqwest::Client,
}

impl std::fmt::Debug for SmsSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsSender")
            .field("provider", &self.provider)
            .field("endpoint", &self.endpoint.as_str())
            .field("sender", &self.sender)
            .field("max_parts", &self.max_parts)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SmsSender {
    /// Checks the settings, reads the token file and builds the HTTP client (rustls; no
    /// proxies from the environment, no redirects: the token goes to the configured host
    /// only).
    pub fn new(settings: SmsSettings) -> Result<SmsSender, SmsError> {
        let config = |m: String| SmsError::Config(m);
        let provider = settings.provider;
        let token = read_token(&settings.token_file)?;
        check_sender(provider, &settings.sender).map_err(config)?;
        if settings.max_parts == 0 || settings.max_parts > MAX_PARTS_LIMIT {
            return Err(config(format!(
                "`max_parts` must be 1 to {MAX_PARTS_LIMIT}, not {}",
                settings.max_parts
            )));
        }
        if settings.timeout.is_zero() {
            return Err(config("`timeout` must be more than zero".into()));
        }
        if provider != Provider::Twilio && settings.account.is_some() {
            return Err(config(format!("`account` is for provider \"twilio\", not \"{provider}\"")));
        }
        if provider != Provider::Http && settings.body_template.is_some() {
            return Err(config(format!("`body_template` is for provider \"http\", not \"{provider}\"")));
        }
        let base = match (&settings.url, provider.default_base()) {
            (Some(url), _) => url.trim().to_string(),
            (None, Some(default)) => default.to_string(),
            (None, None) => {
                return Err(config("provider \"http\" needs `url`, the endpoint to POST to".into()))
            }
        };
        let base = crate::http::check_service_url(&base).map_err(|e| config(format!("`url` {e}")))?;
        let endpoint = match provider {
            Provider::Http => base,
            Provider::Cm => join(&base, "/v1.0/message"),
            Provider::Spryng => join(&base, "/v1/messages"),
            Provider::MessageBird => join(&base, "/messages"),
            Provider::Twilio => {
                let sid = settings.account.as_deref().map(str::trim).unwrap_or_default();
                if !(sid.len() == 34
                    && sid.starts_with("AC")
                    && sid[2..].bytes().all(|b| b.is_ascii_hexdigit()))
                {
                    return Err(config(
                        "provider \"twilio\" needs `account`, the Account SID (`AC` and 32 hexadecimal digits)".into(),
                    ));
                }
                join(&base, &format!("/2010-04-01/Accounts/{sid}/Messages.json"))
            }
        };
        let endpoint = Url::parse(&endpoint).map_err(|e| config(format!("`url`: {e}")))?;
        let body_template = settings.body_template.unwrap_or_else(|| DEFAULT_BODY_TEMPLATE.to_string());
        if provider == Provider::Http {
            check_template(&body_template).map_err(config)?;
        }
        // The binary's one client setup: rustls, no environment proxies, no redirects.
        let client = crate::http::client_builder((settings.timeout * 2 / 3).min(Duration::from_secs(10)))
            .timeout(settings.timeout)
            .build()
            .map_err(|e| {
                config(format!("cannot set up the HTTP client: {}", crate::http::error_chain(&e)))
            })?;
        Ok(SmsSender {
            provider,
            endpoint,
            token,
            sender: settings.sender.trim().to_string(),
            body_template,
            max_parts: settings.max_parts,
            timeout: settings.timeout,
            client,
        })
    }

    /// The provider this sender talks to.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The most parts a text may take.
    pub fn max_parts(&self) -> u32 {
        self.max_parts
    }

    /// Sends `text` to `to_e164` (from [`mobile_number`]) with `reference` (the outbox entry's
    /// key: 1 to 32 ASCII letters, digits, `-`, `_`, `.`, `:`), which the provider's delivery
    /// reports carry back.
    ///
    /// The text is [`transliterate`]d, then counted; above `max_parts` it is refused
    /// ([`SmsError::TooLong`]) before anything is sent. One request, no retry here: see the
    /// module documentation for what each error means. Must run inside a tokio runtime.
    pub async fn send(&self, to_e164: &str, text: &str, reference: &str) -> Result<SmsReceipt, SmsError> {
        if !to_e164.starts_with('+') {
            return Err(SmsError::Number(format!(
                "`{}` is not in E.164 form (+31612345678): check it with mobile_number first",
                text::escape(&text::cap(to_e164, 64))
            )));
        }
        let to = mobile_number(to_e164, "NL")?;
        check_reference(reference).map_err(SmsError::Text)?;
        let (body, counted) = prepare(text);
        if body.trim().is_empty() {
            return Err(SmsError::Text("the SMS text is empty".into()));
        }
        if counted.parts > self.max_parts {
            return Err(SmsError::TooLong {
                parts: counted.parts,
                max: self.max_parts,
                units: counted.units,
                encoding: counted.encoding,
            });
        }
        let digits = &to[1..];
        let request = self.client.post(self.endpoint.clone()).header(ACCEPT, "application/json");
        let request = match self.provider {
            Provider::Cm => request.header("X-CM-PRODUCTTOKEN", self.secret(&self.token)?).json(&json!({
                "messages": {"msg": [{
                    "from": self.sender,
                    "to": [{"number": format!("00{digits}")}],
                    "body": {"type": "auto", "content": body},
                    "reference": reference,
                    "minimumNumberOfMessageParts": 1,
                    "maximumNumberOfMessageParts": self.max_parts,
                    "allowedChannels": ["SMS"],
                }]}
            })),
            Provider::Spryng => {
                request.header(AUTHORIZATION, self.secret(&format!("Bearer {}", self.token))?).json(&json!({
                    "body": body,
                    "encoding": "auto",
                    "originator": self.sender,
                    "recipients": [digits],
                    "route": "business",
                    "reference": reference,
                }))
            }
            Provider::MessageBird => request
                .header(AUTHORIZATION, self.secret(&format!("AccessKey {}", self.token))?)
                .json(&json!({
                    "originator": self.sender,
                    "recipients": [digits],
                    "body": body,
                    "reference": reference,
                    "datacoding": "auto",
                })),
            Provider::Twilio => {
                let account = self.twilio_account();
                let from = if is_messaging_service(&self.sender) { "MessagingServiceSid" } else { "From" };
                request.basic_auth(account, Some(&self.token)).form(&[
                    ("To", to.as_str()),
                    (from, self.sender.as_str()),
                    ("Body", body.as_str()),
                    ("SmartEncoded", "true"),
                ])
            }
            Provider::Http => {
                let rendered = render(&self.body_template, |name| match name {
                    "to" => Some(to.as_str()),
                    "text" => Some(body.as_str()),
                    "reference" => Some(reference),
                    "sender" => Some(self.sender.as_str()),
                    _ => None,
                })
                .map_err(|e| SmsError::Config(format!("`body_template`: {e}")))?;
                request
                    .header(AUTHORIZATION, self.secret(&format!("Bearer {}", self.token))?)
                    .header(CONTENT_TYPE, "application/json")
                    .body(rendered)
            }
        };
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let answer = crate::http::read_capped(response, MAX_ANSWER).await;
        if status.is_success() {
            let provider_id = self.accepted(answer, reference)?;
            return Ok(SmsReceipt { provider_id, parts: counted.parts });
        }
        let reason = self.reason(status, answer.as_deref().unwrap_or_default());
        Err(match status {
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => SmsError::Failed(reason),
            StatusCode::GATEWAY_TIMEOUT => SmsError::Unknown(format!(
                "{reason} (a gateway in front of the provider gave up waiting: the provider may have sent it)"
            )),
            s if s.is_client_error() => SmsError::Rejected(reason),
            _ => SmsError::Failed(reason),
        })
    }

    fn twilio_account(&self) -> &str {
        // The path is `/2010-04-01/Accounts/{sid}/Messages.json`, checked in `new`.
        let segments: Vec<&str> = self.endpoint.path().split('/').collect();
        segments
            .iter()
            .rposition(|s| *s == "Accounts")
            .and_then(|i| segments.get(i + 1))
            .copied()
            .unwrap_or("")
    }

    /// A header value that holds the token, marked sensitive (left out of reqwest's debug
    /// output).
    fn secret(&self, value: &str) -> Result<HeaderValue, SmsError> {
        let mut v = HeaderValue::from_str(value)
            .map_err(|_| SmsError::Config("the token holds characters a header cannot carry".into()))?;
        v.set_sensitive(true);
        Ok(v)
    }

    /// The id of a message the provider took (HTTP 2xx).
    fn accepted(&self, answer: Result<Vec<u8>, String>, reference: &str) -> Result<String, SmsError> {
        let json = answer.as_ref().ok().and_then(|b| serde_json::from_slice::<Value>(b).ok());
        match self.provider {
            Provider::Twilio => {
                match json.as_ref().and_then(|v| v.get("sid")).and_then(Value::as_str).filter(|s| !s.is_empty()) {
                    Some(sid) => Ok(text::escape(&text::cap(sid, 128)).into_owned()),
                    None => Err(SmsError::Unknown(format!(
                        "Twilio accepted the request but its answer has no `sid`{}: look the message up in Twilio's log before any resend",
                        answer.err().map(|e| format!(" ({e})")).unwrap_or_default()
                    ))),
                }
            }
            Provider::Http => Ok(match json.as_ref().and_then(|v| v.get("id")) {
                Some(Value::String(id)) if !id.is_empty() => text::escape(&text::cap(id, 128)).into_owned(),
                Some(Value::Number(n)) => n.to_string(),
                _ => reference.to_string(),
            }),
            Provider::Cm => {
                // CM answers per message; a message it refused says so even in a 2xx.
                let refused = json.as_ref().and_then(|v| v.pointer("/messages/0")).filter(|m| {
                    m.get("status")
                        .and_then(Value::as_str)
                        .is_some_and(|s| s.eq_ignore_ascii_case("rejected"))
                });
                match refused {
                    Some(m) => Err(SmsError::Rejected(self.clean(
                        m.get("messageDetails").and_then(Value::as_str).unwrap_or("the message was rejected"),
                    ))),
                    None => Ok(reference.to_string()),
                }
            }
            Provider::Spryng | Provider::MessageBird => Ok(reference.to_string()),
        }
    }

    /// A provider's reason for a non-2xx answer: its message where the JSON has one, else the
    /// body; capped, escaped, the token masked.
    fn reason(&self, status: StatusCode, body: &[u8]) -> String {
        crate::http::status_reason(status, body, json_reason, |d| self.clean(d))
    }

    /// Provider text as it may be kept: the token masked, capped, escaped.
    fn clean(&self, s: &str) -> String {
        let masked = if self.token.is_empty() { s.to_string() } else { s.replace(&self.token, "[token]") };
        text::escape(&text::cap(masked.trim(), MAX_REASON)).into_owned()
    }

    fn transport_error(&self, err: &reqwest::Error) -> SmsError {
        let detail = self.clean(&crate::http::error_chain(err));
        if err.is_connect() {
            // The connection (TCP, TLS) was never made: nothing was sent.
            SmsError::Failed(format!("cannot connect to {}: {detail}", self.endpoint_host()))
        } else if err.is_builder() {
            SmsError::Config(detail)
        } else if err.is_timeout() {
            SmsError::Unknown(format!(
                "no answer from {} within {:?} after the request was sent; the provider may have sent it, so settle it from its status or delivery report before any resend ({detail})",
                self.endpoint_host(),
                self.timeout
            ))
        } else {
            SmsError::Unknown(format!(
                "the connection to {} broke after the request was sent; the provider may have sent it ({detail})",
                self.endpoint_host()
            ))
        }
    }

    fn endpoint_host(&self) -> String {
        match (self.endpoint.host_str(), self.endpoint.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => self.endpoint.to_string(),
        }
    }
}

/// The token: the file's content, trimmed; a missing, unreadable or empty file, or one of
/// several lines, is an error naming the file (never showing the content).
fn read_token(path: &std::path::Path) -> Result<String, SmsError> {
    let path = &crate::http::secret_path(path).map_err(SmsError::Config)?;
    let shown = path.display();
    let raw = std::fs::read_to_string(path)
        .map_err(|e| SmsError::Config(format!("cannot read the SMS token file `{shown}`: {e}")))?;
    let token = raw.trim();
    if token.is_empty() {
        return Err(SmsError::Config(format!("the SMS token file `{shown}` is empty")));
    }
    if token.chars().any(|c| c.is_control()) {
        return Err(SmsError::Config(format!(
            "the SMS token file `{shown}` must hold the token alone, on one line"
        )));
    }
    Ok(token.to_string())
}

fn is_messaging_service(sender: &str) -> bool {
    sender.len() == 34 && sender.starts_with("MG") && sender[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn check_sender(provider: Provider, sender: &str) -> Result<(), String> {
    let s = sender.trim();
    let number = {
        let digits = s.strip_prefix('+').unwrap_or(s);
        (3..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    };
    let name = (1..=11).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
        && s.bytes().any(|b| b.is_ascii_alphabetic());
    if number || name || (provider == Provider::Twilio && is_messaging_service(s)) {
        Ok(())
    } else {
        Err(format!(
            "`sender` must be at most 11 letters, digits and spaces, or a phone number (up to 15 digits), not `{}`",
            text::escape(&text::cap(s, 64))
        ))
    }
}

fn check_reference(reference: &str) -> Result<(), String> {
    if (1..=MAX_REFERENCE).contains(&reference.len())
        && reference.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    {
        Ok(())
    } else {
        Err(format!(
            "the SMS reference `{}` must be 1 to {MAX_REFERENCE} ASCII letters, digits, `-`, `_`, `.` or `:`",
            text::escape(&text::cap(reference, 64))
        ))
    }
}

/// `base` with `path` appended (a trailing `/` of `base` dropped).
fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// The template with every `{{name}}` replaced by `value(name)`, JSON-escaped, in one pass (a
/// value that contains `{{…}}` stays as it is).
fn render<'a>(template: &str, value: impl Fn(&str) -> Option<&'a str>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("a `{{` without `}}`")?;
        let name = after[..end].trim();
        let v = value(name).ok_or_else(|| {
            format!(
                "unknown placeholder `{{{{{}}}}}` (known: {{{{to}}}}, {{{{text}}}}, {{{{reference}}}}, {{{{sender}}}})",
                text::escape(&text::cap(name, 40))
            )
        })?;
        let quoted = serde_json::to_string(v).map_err(|e| e.to_string())?;
        out.push_str(&quoted[1..quoted.len() - 1]);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A body template must render to JSON with sample values and use `{{to}}` and `{{text}}`.
fn check_template(template: &str) -> Result<(), String> {
    let rendered = render(template, |name| match name {
        "to" => Some("+31612345678"),
        "text" => Some("a \"quoted\" text\nwith € and \\"),
        "reference" => Some("d-42"),
        "sender" => Some("Bakkerij"),
        _ => None,
    })
    .map_err(|e| format!("`body_template`: {e}"))?;
    serde_json::from_str::<Value>(&rendered).map_err(|e| {
        format!("`body_template` is not JSON once filled in ({e}); put the placeholders inside JSON strings: \"{{{{text}}}}\"")
    })?;
    for needed in ["to", "text"] {
        let found = template
            .match_indices("{{")
            .any(|(i, _)| template[i + 2..].split_once("}}").is_some_and(|(name, _)| name.trim() == needed));
        if !found {
            return Err(format!("`body_template` must contain {{{{{needed}}}}}"));
        }
    }
    Ok(())
}

/// The human part of a provider's JSON error: Twilio `message`, CM `details` and
/// `messages[].messageDetails`, MessageBird `errors[].description`, Spryng `message`, and the
/// usual `error`/`detail` spellings.
fn json_reason(v: &Value) -> Option<String> {
    let mut found: Vec<String> = Vec::new();
    let mut push = |s: Option<&str>| {
        if let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) {
            if !found.iter().any(|f| f == s) {
                found.push(s.to_string());
            }
        }
    };
    for key in ["message", "details", "detail", "error_description", "title"] {
        push(v.get(key).and_then(Value::as_str));
    }
    match v.get("error") {
        Some(Value::String(s)) => push(Some(s)),
        Some(e @ Value::Object(_)) => push(e.get("message").and_then(Value::as_str)),
        _ => {}
    }
    for list in ["messages", "errors"] {
        if let Some(items) = v.get(list).and_then(Value::as_array) {
            for item in items.iter().take(5) {
                for key in ["messageDetails", "description", "message"] {
                    push(item.get(key).and_then(Value::as_str));
                }
            }
        }
    }
    if let Some(code) =
        v.get("code").or_else(|| v.get("errorCode")).filter(|c| c.is_number() || c.is_string())
    {
        if !found.is_empty() {
            let code = code.as_str().map(str::to_string).unwrap_or_else(|| code.to_string());
            found.push(format!("(code {code})"));
        }
    }
    (!found.is_empty()).then(|| found.join(" "))
}
