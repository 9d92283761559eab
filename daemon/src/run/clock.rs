//! The daemon's clock. The real one, or a fast one for tests: a day of work in fast-forward
//! (`dunwell run --clock-start 2026-12-01T06:00:00Z --clock-speed 600` lives ten minutes per
//! second), so the schedule, the send windows and the catch-up rules are tested as they run,
//! with the real binary and its real timers.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

#[derive(Debug, Clone)]
pub enum Clock {
    System,
    Fast { real_start: Instant, start: DateTime<Utc>, speed: u32 },
}

impl Clock {
    pub fn fast(start: DateTime<Utc>, speed: u32) -> Clock {
        Clock::Fast { real_start: Instant::now(), start, speed: speed.max(1) }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fast { real_start, start, speed } => {
                let elapsed = real_start.elapsed().as_micros() as i64 * i64::from(*speed);
                *start + chrono::Duration::microseconds(elapsed)
            }
        }
    }

    /// The real time to wait until the clock shows `at` (zero when it has passed).
    pub fn real_until(&self, at: DateTime<Utc>) -> Duration {
        let ahead = (at - self.now()).to_std().unwrap_or(Duration::ZERO);
        match self {
            Clock::System => ahead,
            Clock::Fast { speed, .. } => ahead / *speed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_clock_runs_ahead_by_its_speed() {
        let start = DateTime::parse_from_rfc3339("2026-12-01T06:00:00Z").map(|d| d.with_timezone(&Utc));
        let start = start.expect("a valid instant");
        let c = Clock::fast(start, 600);
        std::thread::sleep(Duration::from_millis(100));
        let passed = c.now() - start;
        // 100 ms real at 600x is a minute; the sleep may overrun, never underrun.
        assert!(passed >= chrono::Duration::seconds(60), "{passed}");
        assert!(passed < chrono::Duration::seconds(600), "{passed}");
        let wait = c.real_until(c.now() + chrono::Duration::minutes(10));
        assert!(wait <= Duration::from_secs(1) && wait >= Duration::from_millis(900), "{wait:?}");
        assert_eq!(c.real_until(start), Duration::ZERO);
    }
}
