//! Delivery reports: what an SMS provider says became of a message, received by the daemon at
//! `/sms/report/<report token>` (the provider's status webhook, behind the operator's HTTPS
//! proxy). A report settles a message whose fate was unknown (the send timed out: sent when the
//! provider has it, queued again when it says it failed), and a message the provider could not
//! deliver after taking it is dead, so its step's fallback (a letter, a call) goes out instead.
//!
//! Providers name our message by the reference dunwell sent (`dunwell-ID`: CM, Spryng,
//! MessageBird, the generic gateway) or by their own id (Twilio's `MessageSid`, matched to the
//! provider id recorded at sending). Reports come as a query string, a form or JSON; the
//! fields are looked up by name, case-insensitively, wherever they are.

use crate::store::{Status, Store, StoreError};

/// The fields of one report that matter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Our reference, `dunwell-ID`.
    pub reference: Option<String>,
    /// The provider's id of the message.
    pub provider_id: Option<String>,
    /// The provider's status word or code, lower case.
    pub status: Option<String>,
}

/// What a status says about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// The provider has it (accepted, sent on, delivered).
    Taken,
    /// It will not arrive (rejected, undeliverable, expired).
    Failed,
    /// Nothing final yet, or a word this does not know.
    Open,
}

const REFERENCE_KEYS: &[&str] = &["reference", "ref", "clientreference", "client_reference"];
const ID_KEYS: &[&str] = &["messagesid", "message_sid", "messageid", "message_id", "id"];
const STATUS_KEYS: &[&str] = &["messagestatus", "status", "statusdescription", "standarderrorcode"];

/// Reads a report from the query string and the body (form or JSON).
pub fn parse(query: &str, body: &[u8]) -> Report {
    let mut pairs: Vec<(String, String)> = form_pairs(query);
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(json) => json_pairs(&json, &mut pairs),
        Err(_) => pairs.extend(form_pairs(&String::from_utf8_lossy(body))),
    }
    let find = |keys: &[&str]| {
        keys.iter().find_map(|k| {
            pairs
                .iter()
                .find(|(name, value)| name.eq_ignore_ascii_case(k) && !value.trim().is_empty())
                .map(|(_, v)| crate::text::cap(v.trim(), 200).into_owned())
        })
    };
    Report {
        reference: find(REFERENCE_KEYS),
        provider_id: find(ID_KEYS),
        status: find(STATUS_KEYS).map(|s| s.to_ascii_lowercase()),
    }
}

fn form_pairs(text: &str) -> Vec<(String, String)> {
    let text = text.trim_start_matches('?');
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match (bytes[i], bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok())) {
                (b'%', Some(hex)) if u8::from_str_radix(hex, 16).is_ok() => {
                    out.push(u8::from_str_radix(hex, 16).unwrap_or(b'%'));
                    i += 3;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    text.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
}

/// Every string or number field of a JSON document, by its key (CM nests its reports).
fn json_pairs(value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) => out.push((k.clone(), s.clone())),
                    serde_json::Value::Number(n) => out.push((k.clone(), n.to_string())),
                    other => json_pairs(other, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| json_pairs(i, out)),
        _ => {}
    }
}

/// The fate a status word means, across the providers' vocabularies.
pub fn fate(status: &str) -> Fate {
    match status {
        "delivered" | "delivrd" | "sent" | "accepted" | "buffered" | "queued" | "sending" | "scheduled"
        | "received" => Fate::Taken,
        "failed" | "undelivered" | "undeliverable" | "delivery_failed" | "rejected" | "expired"
        | "undeliv" | "deleted" | "canceled" | "cancelled" => Fate::Failed,
        _ => Fate::Open,
    }
}

/// Applies a report to the outbox; returns what it did, for the log and the answer.
pub fn settle(store: &mut Store, report: &Report) -> Result<String, StoreError> {
    let by_reference = report
        .reference
        .as_deref()
        .and_then(|r| r.strip_prefix("dunwell-"))
        .and_then(|id| id.parse::<i64>().ok());
    let message = match by_reference {
        Some(id) => store.message(id)?,
        None => match &report.provider_id {
            Some(pid) => store.message_by_provider_id("sms", pid)?,
            None => None,
        },
    };
    let Some(m) = message.filter(|m| m.channel == "sms") else {
        return Ok("no SMS of dunwell's matches the report".into());
    };
    let status = report.status.as_deref().unwrap_or("");
    let fate = fate(status);
    let said = format!("the provider reported `{}`", crate::text::escape(status));
    Ok(match (m.status, fate) {
        (Status::Unknown | Status::Sending, Fate::Taken) => {
            store.mark_sent(
                m.id,
                &chrono::Utc::now().to_rfc3339(),
                report.provider_id.as_deref(),
                None,
                None,
            )?;
            format!("message {}: sent ({said})", m.id)
        }
        (Status::Unknown | Status::Sending, Fate::Failed) => {
            store.requeue(m.id)?;
            format!("message {}: not sent ({said}); queued again", m.id)
        }
        (Status::Sent, Fate::Failed) => {
            let fallback =
                store.mark_dead(m.id, &format!("taken by the provider, then not delivered: {said}"))?;
            match fallback {
                Some(f) => {
                    format!("message {}: not delivered ({said}); its fallback goes out (message {f})", m.id)
                }
                None => format!("message {}: not delivered ({said}); dead", m.id),
            }
        }
        (_, _) => format!("message {} ({}): {said}; nothing to change", m.id, m.status.as_str()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_read_from_queries_forms_and_json() {
        // CM (JSON, nested), Spryng/MessageBird (query), Twilio (form, its own id).
        let cm = br#"{"messages":{"msg":{"received":"2026-12-01T09:00:00","to":"0031612345678","reference":"dunwell-42","status":{"code":"2","errorCode":"","errorDescription":"Delivered"}}}}"#;
        let r = parse("", cm);
        assert_eq!(r.reference.as_deref(), Some("dunwell-42"));
        let r = parse("?ID=abc&REFERENCE=dunwell-7&STATUS=Delivered", b"");
        assert_eq!((r.reference.as_deref(), r.status.as_deref()), (Some("dunwell-7"), Some("delivered")));
        let r = parse("", b"MessageSid=SM0123&MessageStatus=undelivered&To=%2B31612345678");
        assert_eq!((r.provider_id.as_deref(), r.status.as_deref()), (Some("SM0123"), Some("undelivered")));
        assert_eq!(parse("", b"").status, None);
    }

    #[test]
    fn statuses_mean_taken_failed_or_nothing_yet() {
        for s in ["delivered", "accepted", "sent", "buffered"] {
            assert_eq!(fate(s), Fate::Taken, "{s}");
        }
        for s in ["failed", "undelivered", "delivery_failed", "rejected", "expired"] {
            assert_eq!(fate(s), Fate::Failed, "{s}");
        }
        assert_eq!(fate("whatever"), Fate::Open);
    }
}
