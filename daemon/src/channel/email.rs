//! E-mail: the outbox message as a MIME message (lettre), sent over SMTP or written as an
//! `.eml` file.
//!
//! The `Message-ID` is dunwell's own, derived from the outbox row, so a message delivered again
//! after a crash carries the same id (receivers that collapse duplicates by id then show one).
//! Headers are built by lettre, which encodes non-ASCII (RFC 2047) and never lets a value add a
//! header: the recipient is an address checked by `text::email` at import or sync, the
//! subject is a rendered template and may hold anything a customer's name holds.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Deserialize;
use sha2::Digest;

use super::{ChannelError, Outcome};
use crate::store::Message;

/// `[channels.email]` in dunwell.toml.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// `smtps://host:465` (implicit TLS), `smtp://host:587?tls=required` (STARTTLS), or
    /// `smtp://127.0.0.1:PORT` (plain, only to this machine).
    pub url: String,
    /// The sender, e.g. `"Bakkerij Van Dam <debiteuren@bakkerij.example>"`.
    pub from: String,
    pub reply_to: Option<String>,
    /// The SMTP user name; the password is read from `password_file`, never from dunwell.toml.
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    /// Seconds one message may take, connection included (default 60).
    pub timeout_s: Option<u64>,
}

/// The sender address used in `.eml` files when no SMTP sender is configured.
pub const FILE_SENDER: &str = "dunwell <dunwell@localhost.invalid>";

fn mailbox(what: &str, s: &str) -> Result<Mailbox, String> {
    s.parse::<Mailbox>()
        .map_err(|e| format!("{what} `{}` is not an e-mail address: {e}", crate::text::escape(s)))
}

/// The message's own `Message-ID`: the same for every attempt at the same outbox row.
pub fn message_id(m: &Message, from: &Mailbox) -> String {
    let digest = sha2::Sha256::digest(m.key.as_bytes());
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("<dunwell.{}.{hash}@{}>", m.id, from.email.domain())
}

/// The MIME message for an outbox row.
pub fn compose(m: &Message, from: &Mailbox, reply_to: Option<&Mailbox>) -> Result<lettre::Message, String> {
    let to = m.recipient.as_deref().ok_or("no recipient")?;
    let mut b = lettre::Message::builder()
        .from(from.clone())
        .to(mailbox("the recipient", to)?)
        .subject(m.subject.clone().unwrap_or_default())
        .message_id(Some(message_id(m, from)))
        .date_now();
    if let Some(r) = reply_to {
        b = b.reply_to(r.clone());
    }
    let built = match &m.html {
        Some(html) => b.multipart(MultiPart::alternative_plain_html(m.body.clone(), html.clone())),
        None => b.singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(m.body.clone())),
    };
    built.map_err(|e| format!("cannot build the message: {e}"))
}

/// The `.eml` of an outbox row (file mode).
pub fn eml(m: &Message) -> Result<Vec<u8>, String> {
    let from = mailbox("the sender", FILE_SENDER)?;
    Ok(compose(m, &from, None)?.formatted())
}

/// An SMTP connection pool and the runtime it runs on.
pub struct Smtp {
    /// `Some` until dropped (see `Drop`).
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    runtime: tokio::runtime::Runtime,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    timeout: Duration,
}

impl Smtp {
    pub fn new(s: &EmailSettings) -> Result<Smtp, ChannelError> {
        let setup = |m: String| ChannelError::Setup(format!("[channels.email]: {m}"));
        let from = mailbox("from", &s.from).map_err(setup)?;
        let reply_to = s.reply_to.as_deref().map(|r| mailbox("reply_to", r)).transpose().map_err(setup)?;
        let url = s.url.trim();
        let plain = url.starts_with("smtp://") && !url.contains("tls=");
        if plain {
            let host = url.trim_start_matches("smtp://").split(['/', '?', ':', '@']).next().unwrap_or("");
            if host != "127.0.0.1" && host != "localhost" && host != "[::1]" {
                return Err(setup(format!(
                    "`{url}` sends in plain text; use smtps://{host}:465 or smtp://{host}:587?tls=required (plain smtp:// only to this machine)"
                )));
            }
        } else if url.contains("tls=opportunistic") {
            return Err(setup(
                "tls=opportunistic lets a man in the middle strip the encryption; use tls=required".into(),
            ));
        }
        let timeout = Duration::from_secs(s.timeout_s.unwrap_or(60));
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| setup(format!("url `{url}`: {e}")))?
            .timeout(Some(timeout))
            .pool_config(
                lettre::transport::smtp::PoolConfig::new().max_size(4).idle_timeout(Duration::from_secs(30)),
            );
        if let Some(user) = &s.user {
            let file =
                s.password_file.as_ref().ok_or_else(|| setup("`user` needs `password_file`".into()))?;
            let password = std::fs::read_to_string(file)
                .map_err(|e| setup(format!("cannot read password_file {}: {e}", file.display())))?;
            builder = builder.credentials(Credentials::new(user.clone(), password.trim_end().to_string()));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| setup(format!("cannot start the runtime: {e}")))?;
        // The pool starts its reaper task when built: inside the runtime.
        let transport = {
            let _inside = runtime.enter();
            builder.build()
        };
        Ok(Smtp { transport: Some(transport), runtime, from, reply_to, timeout })
    }

    /// Sends one message; `Sent` carries the server's reply (Postfix: `queued as ID`) and
    /// the Message-ID.
    pub fn send(&mut self, m: &Message) -> Outcome {
        let message = match compose(m, &self.from, self.reply_to.as_ref()) {
            Ok(message) => message,
            Err(e) => return Outcome::Refused(e),
        };
        let id = message_id(m, &self.from);
        // lettre's timeout covers the connection only; the whole exchange is bounded here.
        let Some(transport) = &self.transport else { return Outcome::Retry("SMTP: closed".into()) };
        let result = self
            .runtime
            .block_on(async { tokio::time::timeout(self.timeout, transport.send(message)).await });
        match result {
            Ok(Ok(reply)) => Outcome::Sent {
                provider_id: Some(reply.message().collect::<Vec<_>>().join(" ")).filter(|s| !s.is_empty()),
                message_id: Some(id),
                file: None,
            },
            Ok(Err(e)) if e.is_permanent() => Outcome::Refused(format!("the SMTP server refused it: {e}")),
            Ok(Err(e)) => Outcome::Retry(format!("SMTP: {e}")),
            Err(_) => Outcome::Retry(format!("SMTP: no answer within {}s", self.timeout.as_secs())),
        }
    }
}

impl Drop for Smtp {
    /// The pool closes its connections on a task of the runtime: drop it inside.
    fn drop(&mut self) {
        let _inside = self.runtime.enter();
        self.transport.take();
    }
}
