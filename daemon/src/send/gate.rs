//! The checks between "written" and "sent": the freshness gate (no reminder is recorded or
//! sent for an invoice whose source has not synced successfully within `max_source_age`, so a
//! payment that the bookkeeping already knows cannot be missed), the last look at the invoice
//! just before delivery (paid or gone since the message was written: cancelled, never sent), the
//! channels' send windows (the daemon only), and a stop request (SIGTERM: the message in hand is
//! finished, the rest waits for the next start).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::calendar::Calendar;
use crate::run::schedule::Schedule;
use crate::store::{Message, Store, StoreError};

/// One source's age, as status and metrics show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceAge {
    pub source: String,
    pub last_success: Option<DateTime<Utc>>,
    pub age_seconds: Option<i64>,
    pub fresh: bool,
}

/// When each source last synced, against `max_source_age`.
#[derive(Debug, Clone)]
pub struct Freshness {
    max_age: Duration,
    now: DateTime<Utc>,
    times: HashMap<String, Option<DateTime<Utc>>>,
    /// Sources of payments only (a bank feed): every invoice depends on them.
    payment_only: Vec<String>,
}

impl Freshness {
    pub fn load(store: &Store, max_age: Duration, now: DateTime<Utc>) -> Result<Freshness, StoreError> {
        Ok(Freshness {
            max_age,
            now,
            times: store.source_times()?.into_iter().collect(),
            payment_only: store.payment_only_sources()?,
        })
    }

    pub fn sources(&self) -> Vec<SourceAge> {
        let mut out: Vec<SourceAge> = self
            .times
            .iter()
            .map(|(source, at)| SourceAge {
                source: source.clone(),
                last_success: *at,
                age_seconds: at.map(|t| (self.now - t).num_seconds()),
                fresh: self.source_stale(source).is_none(),
            })
            .collect();
        out.sort_by(|a, b| a.source.cmp(&b.source));
        out
    }

    /// Called for every action and message: allocates only to say why one is stale.
    fn source_stale(&self, source: &str) -> Option<String> {
        match self.times.get(source).copied().flatten() {
            None => Some(format!(
                "source `{source}` has never synced successfully; its reminders wait for a good sync (`dunwell sync`, `dunwell status`)"
            )),
            Some(at) if self.now - at > self.max_age => Some(format!(
                "source `{source}` last synced successfully {} ago ({}), longer than max_source_age = {}; its reminders wait for a good sync, so a payment it knows of cannot be missed",
                describe(self.now - at),
                at.format("%Y-%m-%d %H:%M UTC"),
                describe(self.max_age)
            )),
            Some(_) => None,
        }
    }

    /// Why an invoice of `source` may not be reminded now; None when it may.
    pub fn stale(&self, source: &str) -> Option<String> {
        self.source_stale(source)
            .or_else(|| self.payment_only.iter().filter(|s| *s != source).find_map(|s| self.source_stale(s)))
    }
}

/// "45m", "26h", "3d4h": an age for people (hours up to two days, as limits are written).
pub fn describe(d: Duration) -> String {
    let minutes = d.num_minutes().max(0);
    if minutes < 48 * 60 {
        return match (minutes / 60, minutes % 60) {
            (0, m) => format!("{m}m"),
            (h, 0) => format!("{h}h"),
            (h, m) => format!("{h}h{m}m"),
        };
    }
    match (minutes / 1440, (minutes % 1440) / 60) {
        (d, 0) => format!("{d}d"),
        (d, h) => format!("{d}d{h}h"),
    }
}

/// What delivery does with one message now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Go,
    /// Not now: it stays in the outbox for a later run.
    Hold(String),
    /// Never: an invoice it covers was paid or is gone.
    Cancel(String),
    /// Stop delivering (SIGTERM); this message and the rest wait for the next start.
    Stop,
}

/// The checks made just before each delivery.
pub struct Gate<'a> {
    pub freshness: Freshness,
    /// The daemon's send windows; `dunwell send` delivers when a person runs it.
    pub windows: Option<(&'a Schedule, &'a Calendar)>,
    pub now: DateTime<Utc>,
    pub stop: Option<&'a AtomicBool>,
}

impl Gate<'_> {
    pub fn check(&self, store: &Store, m: &Message) -> Result<Verdict, StoreError> {
        if self.stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
            return Ok(Verdict::Stop);
        }
        let mut stale = None;
        for c in &m.invoices {
            let Some(now) = store.invoice_now(&c.invoice_number)? else {
                return Ok(Verdict::Cancel(format!(
                    "invoice {} is no longer at its source (removed or credited) since this message was written",
                    c.invoice_number
                )));
            };
            if now.open_amount <= Decimal::ZERO {
                return Ok(Verdict::Cancel(format!(
                    "invoice {} was paid since this message was written (open amount now {})",
                    c.invoice_number, now.open_amount
                )));
            }
            if stale.is_none() {
                stale = self.freshness.stale(&now.source);
            }
        }
        // A dispute, a pause or a promise recorded since the message was written: it is
        // cancelled (its invoices get their progress back), and the planner decides again.
        if let Some(why) = store.recorded_since(m)? {
            return Ok(Verdict::Cancel(why));
        }
        if let Some(why) = stale {
            return Ok(Verdict::Hold(why));
        }
        if let Some((schedule, calendar)) = self.windows {
            if !schedule.window_open(&m.channel, self.now, calendar) {
                let next = schedule
                    .next_window_open(&m.channel, self.now, calendar)
                    .map(|t| {
                        format!(
                            "; it opens {}",
                            t.with_timezone(&schedule.time_zone).format("%Y-%m-%d %H:%M %Z")
                        )
                    })
                    .unwrap_or_default();
                return Ok(Verdict::Hold(format!(
                    "outside the {} window ({}){next}",
                    m.channel,
                    schedule.window_text(&m.channel)
                )));
            }
        }
        Ok(Verdict::Go)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_limits_are_written() {
        let m = Duration::minutes;
        assert_eq!(describe(m(45)), "45m");
        assert_eq!(describe(m(24 * 60)), "24h");
        assert_eq!(describe(m(26 * 60 + 5)), "26h5m");
        assert_eq!(describe(m(48 * 60)), "2d");
        assert_eq!(describe(m(8 * 1440 + 65)), "8d1h");
        assert_eq!(describe(m(-5)), "0m");
    }
}
