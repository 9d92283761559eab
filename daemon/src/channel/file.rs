//! The file outbox: what each channel would send, written into a folder. The default for
//! every channel, and what `scripts/demo` shows.
//!
//! File names come from the message's day, id and channel only, never from customer data
//! (an invoice number may hold a `/`), and a file is written to a temporary name and renamed,
//! so a crash leaves either the whole file or none, and writing it again replaces it.

use std::path::{Path, PathBuf};

use super::Outcome;
use crate::store::Message;

pub struct FileOutbox {
    dir: PathBuf,
    /// The Reply-To of the `.eml` files (see [`super::email::reply_to`]).
    reply_to: Option<lettre::message::Mailbox>,
}

impl FileOutbox {
    pub fn new(dir: PathBuf) -> FileOutbox {
        FileOutbox { dir, reply_to: None }
    }

    /// The business's address for answers, in every `.eml` written.
    pub fn set_reply_to(&mut self, reply_to: Option<lettre::message::Mailbox>) {
        self.reply_to = reply_to;
    }

    /// The outbox folder (agency case folders are written below it too).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `m` as the file its channel would send; the path is relative to the outbox
    /// folder. An e-mail's Message-ID (the one in its `.eml`) is recorded as the SMTP
    /// channel's is, so a reply to it is matched the same way (`dunwell note`).
    pub fn write(&self, m: &Message, pdf: Option<&[u8]>) -> Outcome {
        let (ext, bytes) = match (m.channel.as_str(), pdf) {
            // An e-mail carries its PDF as an attachment; any other channel's PDF is the letter.
            ("email", _) => {
                ("eml", super::email::eml(m, self.reply_to.as_ref(), pdf).map_err(|e| e.to_string()))
            }
            (_, Some(pdf)) => ("pdf", Ok(pdf.to_vec())),
            ("agency", _) => ("json", serde_json::to_vec_pretty(m).map_err(|e| e.to_string())),
            _ => ("txt", Ok(text(m).into_bytes())),
        };
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) => return Outcome::Refused(format!("cannot compose the message: {e}")),
        };
        let rel = PathBuf::from(m.day.to_string()).join(format!("{:06}-{}.{ext}", m.id, m.channel));
        let message_id = (m.channel == "email")
            .then(|| super::email::FILE_SENDER.parse().ok().map(|from| super::email::message_id(m, &from)))
            .flatten();
        match write_atomically(&self.dir.join(&rel), &bytes) {
            Ok(()) => Outcome::Sent { provider_id: None, message_id, file: Some(rel.display().to_string()) },
            Err(e) => Outcome::Retry(format!("cannot write {}: {e}", self.dir.join(&rel).display())),
        }
    }
}

/// A text rendition for SMS, letters (until the PDF) and call tasks.
fn text(m: &Message) -> String {
    let mut out = String::new();
    let label = match m.channel.as_str() {
        "sms" => "To",
        "phone" => "Call",
        _ => "Address",
    };
    if let Some(r) = &m.recipient {
        out.push_str(&format!("{label}: {}\n", r.replace('\n', "\n    ")));
    }
    if let Some(s) = &m.subject {
        out.push_str(&format!("Subject: {s}\n"));
    }
    out.push_str(&format!(
        "Invoices: {}\n\n",
        m.invoices.iter().map(|c| c.invoice_number.as_str()).collect::<Vec<_>>().join(", ")
    ));
    out.push_str(&m.body);
    out.push('\n');
    out
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}
