//! Channels: how a message in the outbox reaches the customer, and the worker that delivers
//! the outbox.
//!
//! Every channel has a file mode that is the default: without an SMTP server, SMS provider or
//! print service configured, what would be sent is written into `outbox/` under the data
//! directory (`.eml`, `.txt`, `.json`), so a fresh installation shows exactly what would go out.
//!
//! Delivery of one message: mark it `sending` (its own transaction), hand it to the channel,
//! record the result. A message found `sending` after a crash is delivered again. Where that
//! can duplicate a message, per channel (ARCHITECTURE.md says the same):
//! - files: never; the file is written under a name derived from the message's id (temporary
//!   file, then rename), so writing it again replaces it;
//! - e-mail: between the server's `250` after `DATA` and our recording it (RFC 1047's
//!   synchronisation gap: milliseconds, up to the SMTP timeout when the link dies there); the
//!   copy carries the same `Message-ID`, which many receivers collapse;
//! - SMS: a request that timed out is `unknown`, never sent again blindly.

pub mod agency;
pub mod email;
pub mod file;
pub mod letter;
pub mod sms;

use std::collections::HashSet;
use std::path::PathBuf;

use chrono::{DateTime, DurationRound, Utc};
use serde::Serialize;

use crate::send::gate::{Gate, Verdict};
use crate::store::{Message, Status, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write to the outbox folder {path}: {source}")]
    Folder { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Setup(String),
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        provider_id: Option<String>,
        message_id: Option<String>,
        file: Option<String>,
    },
    /// Worth another attempt later (a server down, a 4xx).
    Retry(String),
    /// Never worth another attempt (no address, a 5xx refusal of the recipient).
    Refused(String),
    /// The provider may or may not have it: a person settles it.
    Unknown(String),
}

/// A log line about one message, with the fields a log shipper filters on.
macro_rules! about {
    ($level:ident, $m:expr, $($message:tt)+) => {
        tracing::$level!(
            outbox_id = $m.id,
            customer = %$m.customer_id,
            channel = %$m.channel,
            invoices = %covered($m),
            template = %$m.template,
            $($message)+
        )
    };
}

/// What a delivery run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    pub sent: u32,
    pub failed: u32,
    pub dead: u32,
    pub unknown: u32,
    /// Fallback messages queued for dead ones (and delivered in the same run).
    pub fallbacks: u32,
    /// Not sent because an invoice they cover was paid or is gone.
    pub cancelled: u32,
    /// Left in the outbox for a later run (a stale source, outside the channel's window).
    pub held: u32,
    /// Delivery stopped early (the daemon is stopping).
    pub stopped: bool,
    /// Each message handled: its id, channel and what became of it (`sent`, `failed`, `dead`,
    /// `unknown`, `cancelled`), for the daemon's metrics.
    #[serde(skip)]
    pub outcomes: Vec<(i64, String, &'static str)>,
}

impl DeliveryReport {
    /// Counts what became of a message (`sent`, `failed`, `dead`, `unknown`, `cancelled`)
    /// and keeps it for the metrics.
    fn record(&mut self, m: &Message, result: &'static str) {
        match result {
            "sent" => self.sent += 1,
            "failed" => self.failed += 1,
            "dead" => self.dead += 1,
            "unknown" => self.unknown += 1,
            _ => self.cancelled += 1,
        }
        self.outcomes.push((m.id, m.channel.clone(), result));
    }
}

/// The configured channels (file mode for each that has no service configured).
pub struct Channels {
    pub files: file::FileOutbox,
    pub email: Option<email::Smtp>,
    pub sms: Option<SmsChannel>,
    /// The print-and-mail service for letters; without it letters are written as PDF files.
    pub letter: Option<letter::Pingen>,
    /// The collection agency's endpoint; case files are written to the outbox folder either way.
    pub agency: Option<agency::Agency>,
    /// Attempts before a message is `dead`.
    pub max_attempts: u32,
}

impl Channels {
    /// File mode for every channel, into `dir`.
    pub fn files_only(dir: PathBuf) -> Channels {
        Channels {
            files: file::FileOutbox::new(dir),
            email: None,
            sms: None,
            letter: None,
            agency: None,
            max_attempts: 8,
        }
    }

    /// A handoff: the case folder is written to the outbox (the business's record of what the
    /// agency got), then POSTed when an endpoint is configured.
    fn hand_over(&mut self, m: &Message, case: &agency::CaseFile) -> Outcome {
        let folder = match agency::write_case(self.files.dir(), m, case) {
            Ok(rel) => rel,
            Err(e) => {
                return Outcome::Retry(format!(
                    "cannot write the case file below {}: {e}",
                    self.files.dir().display()
                ))
            }
        };
        match &self.agency {
            None => Outcome::Sent { provider_id: None, message_id: None, file: Some(folder) },
            Some(endpoint) => match endpoint.post(m, case) {
                Outcome::Sent { provider_id, message_id, .. } => {
                    Outcome::Sent { provider_id, message_id, file: Some(folder) }
                }
                other => other,
            },
        }
    }

    fn deliver_one(&mut self, m: &Message, pdf: Option<&[u8]>) -> Outcome {
        if m.recipient.is_none() && matches!(m.channel.as_str(), "email" | "sms") {
            let what = if m.channel == "email" { "e-mail address" } else { "phone number" };
            return Outcome::Refused(format!(
                "customer {} has no {what}; add one at the source (or give the step a fallback channel)",
                m.customer_id
            ));
        }
        match (m.channel.as_str(), self.email.as_mut(), self.sms.as_ref()) {
            ("email", Some(smtp), _) => smtp.send(m, pdf),
            ("sms", _, Some(sms)) => sms.send(m),
            _ => self.files.write(m, pdf),
        }
    }
}

/// The SMS provider and the runtime its client runs on.
pub struct SmsChannel {
    pub sender: sms::SmsSender,
    pub runtime: tokio::runtime::Runtime,
    /// The country a number without `+` belongs to (the business's jurisdiction).
    pub country: &'static str,
}

impl SmsChannel {
    pub fn new(settings: sms::SmsSettings, country: &'static str) -> Result<SmsChannel, ChannelError> {
        let sender =
            sms::SmsSender::new(settings).map_err(|e| ChannelError::Setup(format!("[channels.sms]: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ChannelError::Setup(format!("cannot start the runtime: {e}")))?;
        Ok(SmsChannel { sender, runtime, country })
    }

    fn send(&self, m: &Message) -> Outcome {
        let to = match sms::mobile_number(m.recipient.as_deref().unwrap_or_default(), self.country) {
            Ok(to) => to,
            Err(e) => return Outcome::Refused(e.to_string()),
        };
        let reference = format!("dunwell-{}", m.id);
        match self.runtime.block_on(self.sender.send(&to, &m.body, &reference)) {
            Ok(receipt) => {
                Outcome::Sent { provider_id: Some(receipt.provider_id), message_id: None, file: None }
            }
            Err(e) if e.is_retryable() => Outcome::Retry(e.to_string()),
            Err(e @ sms::SmsError::Unknown(_)) => Outcome::Unknown(e.to_string()),
            Err(e) => Outcome::Refused(e.to_string()),
        }
    }
}

/// Waits between attempts: 5 minutes, doubling, at most a day.
pub fn retry_after(attempts: u32) -> chrono::Duration {
    chrono::Duration::minutes(5i64 << attempts.saturating_sub(1).min(9)).min(chrono::Duration::hours(24))
}

/// Delivers what the outbox holds now (queued, due retries, and anything left `sending`),
/// then whatever that queued in turn (the fallback of a message that died).
pub fn deliver(
    store: &mut Store,
    channels: &mut Channels,
    now: DateTime<Utc>,
    gate: &Gate<'_>,
) -> Result<DeliveryReport, ChannelError> {
    let mut report = DeliveryReport::default();
    let mut held: HashSet<i64> = HashSet::new();
    loop {
        // A message handled in this run leaves the deliverable set (sent, dead, unknown,
        // cancelled, held, or failed with a later attempt), so this ends once no fallback was
        // queued.
        let batch: Vec<Message> =
            store.deliverable(&now.to_rfc3339())?.into_iter().filter(|m| !held.contains(&m.id)).collect();
        if batch.is_empty() {
            return Ok(report);
        }
        for m in batch {
            match gate.check(store, &m)? {
                Verdict::Go => deliver_message(store, channels, now, &m, &mut report)?,
                Verdict::Hold(why) => {
                    // Every message waiting for its window would repeat this every run: the
                    // daemon logs the count, the reasons are in `dunwell status`.
                    about!(debug, &m, "held: {why}");
                    held.insert(m.id);
                    report.held += 1;
                }
                Verdict::Cancel(why) => {
                    let why = if m.status == Status::Sending {
                        format!(
                            "{why}; it was being delivered when dunwell stopped and may have gone out then"
                        )
                    } else {
                        why
                    };
                    if store.cancel(m.id, &why)? {
                        about!(warn, &m, "cancelled: {why}");
                        report.record(&m, "cancelled");
                    }
                    held.insert(m.id);
                }
                Verdict::Stop => {
                    report.stopped = true;
                    return Ok(report);
                }
            }
        }
    }
}

/// `F-1:2,F-7:3`: the invoices a message covers with their steps, for log lines.
fn covered(m: &Message) -> String {
    m.invoices.iter().map(|c| format!("{}:{}", c.invoice_number, c.step)).collect::<Vec<_>>().join(",")
}

fn deliver_message(
    store: &mut Store,
    channels: &mut Channels,
    now: DateTime<Utc>,
    m: &Message,
    report: &mut DeliveryReport,
) -> Result<(), ChannelError> {
    if m.status == Status::Sending && m.channel == "sms" {
        // dunwell stopped while this SMS was with the provider: it may have been sent, and an
        // SMS carries no id a phone could collapse a copy by. A person settles it.
        let why = "dunwell stopped while this SMS was being sent; the provider may have it: look it up by its reference and settle it with `dunwell outbox settle`";
        about!(error, m, "message {} (sms to {}): {why}", m.id, m.customer_id);
        store.mark_failed(m.id, Status::Unknown, why, None)?;
        report.record(m, "unknown");
        return Ok(());
    }
    if !store.mark_sending(m.id)? {
        // Changed since the batch was read (cancelled, or never queued: a message awaiting
        // approval is not taken whatever the caller read); nothing goes out.
        about!(warn, m, "message {} is no longer waiting to go out; not delivered", m.id);
        return Ok(());
    }
    let attempts = m.attempts + 1;
    let outcome = if m.channel == "agency" {
        let case = agency::case_file(store, m)?;
        channels.hand_over(m, &case)
    } else if let (true, Some(pingen)) = (m.channel.contains("letter"), channels.letter.as_ref()) {
        match store.message_pdf(m.id)? {
            Some(pdf) => {
                // The letter's id is recorded before Pingen is asked to send it, so a restart
                // looks the letter up instead of creating and sending a second one.
                let mut record = |id: &str| store.set_provider_id(m.id, id).map_err(|e| e.to_string());
                let registered = m.channel == "registered-letter";
                pingen.send(m, &pdf, registered, m.provider_id.as_deref(), &mut record)
            }
            None => Outcome::Refused(format!("message {} has no PDF to post", m.id)),
        }
    } else {
        let pdf = store.message_pdf(m.id)?;
        channels.deliver_one(m, pdf.as_deref())
    };
    match outcome {
        Outcome::Sent { provider_id, message_id, file } => {
            if m.channel == "agency" {
                // Before the message is marked sent: a crash in between delivers the handoff
                // again (the same case id), never leaves the invoices in the playbook.
                let numbers: Vec<String> = m.invoices.iter().map(|c| c.invoice_number.clone()).collect();
                store.mark_handed_over(&numbers, m.day)?;
            }
            store.mark_sent(
                m.id,
                &now.to_rfc3339(),
                provider_id.as_deref(),
                message_id.as_deref(),
                file.as_deref(),
            )?;
            about!(info, m, "sent");
            report.record(m, "sent");
        }
        Outcome::Retry(why) if attempts < channels.max_attempts => {
            // On the minute: a run that starts at that minute (a deliver at */5) takes it.
            let next = (now + retry_after(attempts))
                .duration_trunc(chrono::Duration::minutes(1))
                .unwrap_or(now + retry_after(attempts))
                .to_rfc3339();
            about!(
                warn,
                m,
                "message {} ({} to {}): {why}; next attempt {next}",
                m.id,
                m.channel,
                m.customer_id
            );
            store.mark_failed(m.id, Status::Failed, &why, Some(&next))?;
            report.record(m, "failed");
        }
        Outcome::Retry(why) | Outcome::Refused(why) => {
            about!(error, m, "message {} ({} to {}) is dead: {why}", m.id, m.channel, m.customer_id);
            if let Some(fallback) = store.mark_dead(m.id, &why)? {
                tracing::warn!(
                    "message {} to {}: its step's fallback goes out instead (message {fallback})",
                    m.id,
                    m.customer_id
                );
                report.fallbacks += 1;
            }
            report.record(m, "dead");
        }
        Outcome::Unknown(why) => {
            about!(error, m, "message {} ({} to {}): {why}", m.id, m.channel, m.customer_id);
            store.mark_failed(m.id, Status::Unknown, &why, None)?;
            report.record(m, "unknown");
        }
    }
    Ok(())
}
