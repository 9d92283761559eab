//! When the daemon's jobs run and when each channel may deliver: `[schedule]` in dunwell.toml.
//!
//! Pure: every answer is a function of the resolved schedule, an instant passed in and (for
//! the `working-days` windows) the business's calendar. The daemon owns the clock, so the
//! rules here can be tested on exact instants, daylight-saving changes included.
//!
//! Cron expressions have five fields and Vixie-cron meaning (day-of-month OR day-of-week when
//! both are restricted; 0 and 7 are Sunday) and are read on the wall clock of the configured
//! time zone, so "08:00" stays 08:00 in Amsterdam across the switch to and from summer time.
//! A fixed time that falls in the spring-forward gap runs once, at the end of the gap; in the
//! autumn overlap it runs once, at the first of the two instants (croner's rules).

use std::path::Path;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::calendar::Calendar;
use crate::location::{Location, Problem};

/// The three jobs of the daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    /// Pulls every connector.
    Sync,
    /// Plans the day, records the progress and queues the messages.
    Send,
    /// Empties the outbox, each channel within its window.
    Deliver,
}

impl JobKind {
    /// In the order a start-up catch-up runs them: fresh data first, then the day's messages,
    /// then their delivery.
    pub const ALL: [JobKind; 3] = [JobKind::Sync, JobKind::Send, JobKind::Deliver];

    /// The job's name in the config, logs, metrics and the admin API.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Sync => "sync",
            JobKind::Send => "send",
            JobKind::Deliver => "deliver",
        }
    }

    /// The job named `name` (as [`JobKind::as_str`] spells it), for the admin API.
    pub fn from_name(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|j| j.as_str() == name)
    }

    fn index(self) -> usize {
        self as usize
    }

    /// What a job runs when `[schedule]` does not say.
    pub fn default_expression(self) -> &'static str {
        match self {
            JobKind::Sync => DEFAULT_SYNC,
            JobKind::Send => DEFAULT_SEND,
            JobKind::Deliver => DEFAULT_DELIVER,
        }
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Hourly: a payment booked this morning stops this afternoon's reminder.
pub const DEFAULT_SYNC: &str = "0 * * * *";
/// Working days (Mon-Fri) at 08:00, so the day's messages are queued before the windows open.
pub const DEFAULT_SEND: &str = "0 8 * * 1-5";
/// Every 15 minutes; the channel windows decide what actually goes out.
pub const DEFAULT_DELIVER: &str = "*/15 * * * *";
/// Older data than this and `send` waits: reminding for an invoice paid yesterday is worse
/// than reminding a day late.
pub const DEFAULT_MAX_SOURCE_AGE: &str = "24h";

/// The channels that have a window, in the order of [`WindowsSection`]. The first is the
/// fallback for a channel name this list does not know.
pub const CHANNELS: [&str; 6] = ["email", "sms", "letter", "registered-letter", "phone", "agency"];

/// Office hours for messages a person reads at once; letters are handed to the print service
/// an hour earlier so they make the day's post.
const DEFAULT_WINDOWS: [&str; 6] = [
    "working-days 09:00-17:00",
    "working-days 09:00-17:00",
    "working-days 08:00-16:00",
    "working-days 08:00-16:00",
    "working-days 09:00-17:00",
    "working-days 09:00-17:00",
];

/// How far [`Schedule::next_window_open`] looks: a year and a bit covers every weekday
/// pattern and a calendar's holidays; a window that does not open in that time never will.
const WINDOW_SEARCH_DAYS: u32 = 370;

/// `[schedule]` as written. Values keep their place in the file so a bad one can be shown
/// with its line and column.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSection {
    pub sync: Option<Spanned<String>>,
    pub send: Option<Spanned<String>>,
    pub deliver: Option<Spanned<String>>,
    pub max_source_age: Option<Spanned<String>>,
    pub windows: Option<WindowsSection>,
}

/// `[schedule.windows]`: one window per channel, each defaulting on its own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsSection {
    pub email: Option<Spanned<String>>,
    pub sms: Option<Spanned<String>>,
    pub letter: Option<Spanned<String>>,
    #[serde(rename = "registered-letter")]
    pub registered_letter: Option<Spanned<String>>,
    pub phone: Option<Spanned<String>>,
    pub agency: Option<Spanned<String>>,
}

impl WindowsSection {
    /// In the order of [`CHANNELS`].
    fn values(&self) -> [Option<&Spanned<String>>; 6] {
        [
            self.email.as_ref(),
            self.sms.as_ref(),
            self.letter.as_ref(),
            self.registered_letter.as_ref(),
            self.phone.as_ref(),
            self.agency.as_ref(),
        ]
    }
}

/// The resolved `[schedule]`.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// The zone every cron expression and window is read in (`time_zone` of the config).
    pub time_zone: Tz,
    /// `send` waits while the newest successful sync of a source is older than this.
    pub max_source_age: Duration,
    /// By [`JobKind::index`].
    jobs: [Job; 3],
    /// By position in [`CHANNELS`].
    windows: [ChannelWindow; 6],
}

#[derive(Clone, Debug)]
struct Job {
    expression: String,
    cron: Cron,
}

#[derive(Clone, Debug)]
struct ChannelWindow {
    text: String,
    window: Window,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Window {
    Always,
    /// Open on `days` from `from` up to (not including) `until`, both in seconds after local
    /// midnight; `until` may be 86,400 (24:00).
    Hours {
        days: Days,
        from: u32,
        until: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Days {
    /// Monday to Friday that are working days of the business's calendar.
    WorkingDays,
    /// One bit per weekday, Monday = bit 0.
    Weekdays(u8),
}

impl Days {
    fn includes(self, date: NaiveDate, calendar: &Calendar) -> bool {
        match self {
            Days::WorkingDays => calendar.is_working_day(date),
            Days::Weekdays(mask) => mask & (1 << date.weekday().num_days_from_monday()) != 0,
        }
    }
}

impl Schedule {
    /// Resolves `[schedule]` (`None`: the section is absent, all defaults). `path` and `text`
    /// are the config file and its contents, for the location of a bad value.
    pub fn resolve(
        section: Option<&ScheduleSection>,
        time_zone: Tz,
        path: &Path,
        text: &str,
    ) -> Result<Schedule, Problem> {
        let empty = ScheduleSection::default();
        let section = section.unwrap_or(&empty);
        let problem = |value: &Spanned<String>, message: String| {
            Problem::new(Location::at_offset(path, text, value.span().start), message)
        };

        let written = [section.sync.as_ref(), section.send.as_ref(), section.deliver.as_ref()];
        let mut jobs = Vec::with_capacity(3);
        for (kind, value) in JobKind::ALL.into_iter().zip(written) {
            let job = match value {
                None => default_job(kind),
                Some(v) => Job {
                    expression: one_line(v.get_ref()),
                    cron: parse_cron(v.get_ref()).map_err(|reason| {
                        problem(
                            v,
                            format!(
                                "`{}` in [schedule] {} is not a cron expression: {reason}; write five fields: minute hour day-of-month month day-of-week, e.g. \"{}\"",
                                shown(v.get_ref()),
                                kind.as_str(),
                                kind.default_expression()
                            ),
                        )
                    })?,
                },
            };
            jobs.push(job);
        }

        let max_source_age = match &section.max_source_age {
            None => default_max_source_age(),
            Some(v) => parse_duration(v.get_ref()).map_err(|reason| {
                problem(
                    v,
                    format!(
                        "`{}` in [schedule] max_source_age is not a duration: {reason}; write a number with d (days), h (hours) or m (minutes), e.g. \"24h\", \"90m\", \"2d\" or \"1d12h\"",
                        shown(v.get_ref())
                    ),
                )
            })?,
        };

        let written = section.windows.as_ref().map(WindowsSection::values).unwrap_or_default();
        let mut windows = Vec::with_capacity(CHANNELS.len());
        for (i, value) in written.into_iter().enumerate() {
            let window = match value {
                None => default_window(i),
                Some(v) => ChannelWindow {
                    text: one_line(v.get_ref()),
                    window: parse_window(v.get_ref()).map_err(|reason| {
                        problem(
                            v,
                            format!(
                                "`{}` in [schedule.windows] {} is not a delivery window: {reason}; write days and hours, e.g. \"{}\", \"mon-sat 08:00-18:00\" or \"daily 00:00-24:00\", or \"always\"",
                                shown(v.get_ref()),
                                CHANNELS[i],
                                DEFAULT_WINDOWS[i]
                            ),
                        )
                    })?,
                },
            };
            windows.push(window);
        }

        Ok(Schedule { time_zone, max_source_age, jobs: into_array(jobs), windows: into_array(windows) })
    }

    /// The schedule of a daemon started without a config file.
    pub fn default_for(time_zone: Tz) -> Schedule {
        Schedule {
            time_zone,
            max_source_age: default_max_source_age(),
            jobs: JobKind::ALL.map(default_job),
            windows: std::array::from_fn(default_window),
        }
    }

    /// The job's cron expression as written (for status output).
    pub fn expression(&self, job: JobKind) -> &str {
        &self.jobs[job.index()].expression
    }

    /// The first occurrence strictly after `now`; `None` only when the expression has no
    /// occurrence left before the year 5000 (resolve refuses expressions that never fire).
    pub fn next_after(&self, job: JobKind, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.time_zone);
        let next = self.jobs[job.index()].cron.find_next_occurrence(&local, false).ok()?;
        Some(next.with_timezone(&Utc))
    }

    /// At start-up: the slot to make up for `job`, if it missed one while the daemon was down.
    ///
    /// Only the latest missed slot in (`last_run`, `now`] is returned, however many were
    /// missed: each job works from the current state, so one run catches up on all of them.
    /// On a first start (`last_run` None) sync and deliver run at once (`now`), and send makes
    /// up today's slot if it has passed. A missed send
    /// is made up only on the day of its slot, in the configured zone: yesterday's reminders
    /// must not go out at three in the morning, and the planner catches up the steps itself.
    pub fn missed(
        &self,
        job: JobKind,
        last_run: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let Some(last_run) = last_run else {
            // A first start: data and the outbox at once, and the day's send when its slot
            // today has passed (a business that installs dunwell at 10:30 gets today's work
            // done today, not tomorrow).
            return match job {
                JobKind::Sync | JobKind::Deliver => Some(now),
                JobKind::Send => {
                    let midnight = self.local_date(now).and_hms_opt(0, 0, 0)?;
                    let start = self
                        .time_zone
                        .from_local_datetime(&midnight)
                        .earliest()
                        .map(|t| t.with_timezone(&Utc) - Duration::seconds(1))?;
                    self.latest_between(job, start, now)
                }
            };
        };
        let slot = self.latest_between(job, last_run, now)?;
        match job {
            JobKind::Send => (self.local_date(slot) == self.local_date(now)).then_some(slot),
            JobKind::Sync | JobKind::Deliver => Some(slot),
        }
    }

    /// The latest occurrence in (`after`, `upto`], found with the forward search only, so that
    /// it is one of the instants [`Schedule::next_after`] gives (the two directions of a cron
    /// search can disagree inside a daylight-saving change). The span looked at doubles from
    /// an hour until it holds an occurrence, so a long downtime costs a few searches, not one
    /// per missed slot.
    fn latest_between(
        &self,
        job: JobKind,
        after: DateTime<Utc>,
        upto: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let total = upto.signed_duration_since(after);
        if total <= Duration::zero() {
            return None;
        }
        let mut span = Duration::hours(1);
        loop {
            let start = if span >= total { after } else { upto - span };
            let mut latest = None;
            let mut cursor = start;
            while let Some(next) = self.next_after(job, cursor) {
                if next > upto {
                    break;
                }
                latest = Some(next);
                cursor = next;
            }
            if latest.is_some() || start == after {
                return latest;
            }
            span = span + span;
        }
    }

    /// Whether `channel` may deliver at `now`. A channel without a window of its own
    /// (anything but [`CHANNELS`]) keeps the e-mail window: office hours are the safe guess.
    pub fn window_open(&self, channel: &str, now: DateTime<Utc>, calendar: &Calendar) -> bool {
        match self.window(channel).window {
            Window::Always => true,
            Window::Hours { days, from, until } => {
                let local = now.with_timezone(&self.time_zone);
                let second = local.num_seconds_from_midnight();
                days.includes(local.date_naive(), calendar) && from <= second && second < until
            }
        }
    }

    /// When `channel` may next deliver: `now` when its window is open, else the instant it
    /// opens. `None` when it does not open within about a year (a calendar closed every day).
    pub fn next_window_open(
        &self,
        channel: &str,
        now: DateTime<Utc>,
        calendar: &Calendar,
    ) -> Option<DateTime<Utc>> {
        if self.window_open(channel, now, calendar) {
            return Some(now);
        }
        let Window::Hours { days, from, until } = self.window(channel).window else {
            return Some(now);
        };
        let mut date = self.local_date(now);
        for _ in 0..=WINDOW_SEARCH_DAYS {
            if days.includes(date, calendar) {
                if let Some(opens) = self.first_instant(date, from, until) {
                    if opens > now && self.window_open(channel, opens, calendar) {
                        return Some(opens);
                    }
                }
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// The window as written, for status ("working-days 09:00-17:00").
    pub fn window_text(&self, channel: &str) -> String {
        self.window(channel).text.clone()
    }

    fn window(&self, channel: &str) -> &ChannelWindow {
        let i = CHANNELS.iter().position(|c| *c == channel).unwrap_or(0);
        &self.windows[i]
    }

    fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.time_zone).date_naive()
    }

    /// The first instant of `date` whose wall clock reads `from` or later but before `until`:
    /// a window that opens inside the spring-forward gap opens when the gap ends.
    fn first_instant(&self, date: NaiveDate, from: u32, until: u32) -> Option<DateTime<Utc>> {
        let midnight = date.and_hms_opt(0, 0, 0)?;
        let mut second = from;
        while second < until {
            let wall = midnight + Duration::seconds(i64::from(second));
            match self.time_zone.from_local_datetime(&wall) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => return Some(t.with_timezone(&Utc)),
                LocalResult::None => second += 60,
            }
        }
        None
    }
}

fn default_job(kind: JobKind) -> Job {
    let expression = kind.default_expression();
    Job {
        expression: expression.to_string(),
        // A constant of this file, pinned by the tests.
        cron: parse_cron(expression).expect("the default cron expressions parse"),
    }
}

fn default_window(i: usize) -> ChannelWindow {
    ChannelWindow {
        text: DEFAULT_WINDOWS[i].to_string(),
        // A constant of this file, pinned by the tests.
        window: parse_window(DEFAULT_WINDOWS[i]).expect("the default windows parse"),
    }
}

fn default_max_source_age() -> Duration {
    Duration::hours(24)
}

fn into_array<T, const N: usize>(items: Vec<T>) -> [T; N] {
    match items.try_into() {
        Ok(array) => array,
        Err(_) => unreachable!("one item per job and per channel"),
    }
}

/// A valid value as status output and logs show it: its words with one space between them
/// (a line break between cron fields is legal, and would break a log line).
fn one_line(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A value from the file as it can be shown in a one-line message.
fn shown(value: &str) -> String {
    crate::text::escape(&crate::text::cap(value, 100)).into_owned()
}

/// A cron expression with five fields and Vixie-cron meaning. croner accepts more (seconds,
/// years, a `+` that turns the day fields' OR into AND); this is what cron users expect.
fn parse_cron(expression: &str) -> Result<Cron, String> {
    let expression = expression.trim();
    if expression.is_empty() {
        return Err("it is empty".into());
    }
    const NICKNAMES: [&str; 6] = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly"];
    if expression.starts_with('@') {
        if !NICKNAMES.iter().any(|n| n.eq_ignore_ascii_case(expression)) {
            return Err(format!("of the @ forms only {} are known", NICKNAMES.join(", ")));
        }
    } else {
        let fields = expression.split_whitespace().count();
        if fields != 5 {
            let hint = if fields > 5 { " (there is no seconds or year field)" } else { "" };
            return Err(format!("it has {fields} fields{hint}"));
        }
    }
    if expression.contains('+') {
        return Err("`+` (day-of-month AND day-of-week) is not cron; a day-of-month and a day-of-week both given match either, as in Vixie cron".into());
    }
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .dom_and_dow(false)
        .alternative_weekdays(false)
        .sloppy_ranges(false)
        .build();
    let cron = parser.parse(expression).map_err(|e| {
        let message = e.to_string();
        message.trim().trim_end_matches('.').to_string()
    })?;
    // A pattern without a year repeats within 28 years, so one that finds nothing from here
    // never fires (30 February): refused now rather than silently never running.
    let reference = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().ok_or("no reference time")?;
    if cron.find_next_occurrence(&reference, false).is_err() {
        return Err("no date matches it, so it would never run".into());
    }
    Ok(cron)
}

/// `90m`, `24h`, `2d`, `1d12h`: whole days, hours and minutes, in that order, each at most
/// once, more than zero in all.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("it is empty".into());
    }
    let mut total = Duration::zero();
    let mut last_unit: Option<usize> = None;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("expected a number at `{}`", shown(rest)));
        }
        let number: i64 = rest[..digits].parse().map_err(|_| "the number is too large".to_string())?;
        rest = &rest[digits..];
        let mut chars = rest.chars();
        let unit = chars.next().ok_or_else(|| format!("`{number}` has no unit"))?;
        let (rank, part) = match unit {
            'd' => (0, Duration::try_days(number)),
            'h' => (1, Duration::try_hours(number)),
            'm' => (2, Duration::try_minutes(number)),
            other => return Err(format!("`{}` is not a unit (d, h or m)", shown(&other.to_string()))),
        };
        if last_unit.is_some_and(|last| last >= rank) {
            return Err("give days, hours and minutes once each, in that order".into());
        }
        last_unit = Some(rank);
        total = part
            .and_then(|p| total.checked_add(&p))
            .filter(|t| *t <= Duration::days(3650))
            .ok_or("it is longer than ten years")?;
        rest = chars.as_str();
    }
    if total <= Duration::zero() {
        return Err("it must be longer than zero".into());
    }
    Ok(total)
}

/// `always`, or `<days> HH:MM-HH:MM` with the end exclusive.
fn parse_window(text: &str) -> Result<Window, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("always") {
        return Ok(Window::Always);
    }
    let (days, hours) = text.split_once(char::is_whitespace).ok_or("it has no hours")?;
    let days = parse_days(&days.to_ascii_lowercase())?;
    let hours: String = hours.chars().filter(|c| !c.is_whitespace()).collect();
    let (from, until) =
        hours.split_once('-').ok_or_else(|| format!("`{}` is not HH:MM-HH:MM", shown(&hours)))?;
    let from = parse_clock(from, false)?;
    let until = parse_clock(until, true)?;
    if from >= until {
        return Err(
            "it closes before it opens (a window ends by midnight; write 24:00 for the end of the day)"
                .into(),
        );
    }
    Ok(Window::Hours { days, from, until })
}

fn parse_days(text: &str) -> Result<Days, String> {
    match text {
        "working-days" => return Ok(Days::WorkingDays),
        "daily" => return Ok(Days::Weekdays(0x7f)),
        _ => {}
    }
    let mut mask = 0u8;
    for item in text.split(',') {
        match item.split_once('-') {
            None => mask |= 1 << weekday(item)?.num_days_from_monday(),
            Some((first, last)) => {
                let mut day = weekday(first)?;
                let last = weekday(last)?;
                // A range may wrap over the weekend: fri-mon.
                loop {
                    mask |= 1 << day.num_days_from_monday();
                    if day == last {
                        break;
                    }
                    day = day.succ();
                }
            }
        }
    }
    Ok(Days::Weekdays(mask))
}

fn weekday(name: &str) -> Result<Weekday, String> {
    const NAMES: [(&str, Weekday); 7] = [
        ("mon", Weekday::Mon),
        ("tue", Weekday::Tue),
        ("wed", Weekday::Wed),
        ("thu", Weekday::Thu),
        ("fri", Weekday::Fri),
        ("sat", Weekday::Sat),
        ("sun", Weekday::Sun),
    ];
    NAMES.iter().find(|(n, _)| *n == name).map(|(_, d)| *d).ok_or_else(|| {
        format!(
            "`{}` is not a day: use working-days, daily, or mon, tue, wed, thu, fri, sat, sun in a range or list",
            shown(name)
        )
    })
}

/// `HH:MM` as seconds after midnight; `24:00` only as an end.
fn parse_clock(text: &str, end: bool) -> Result<u32, String> {
    let bad = || format!("`{}` is not a time of day (HH:MM)", shown(text));
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let digits = |s: &str, len: std::ops::RangeInclusive<usize>| {
        len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 1..=2) || !digits(m, 2..=2) {
        return Err(bad());
    }
    let hour: u32 = h.parse().map_err(|_| bad())?;
    let minute: u32 = m.parse().map_err(|_| bad())?;
    let valid = minute < 60 && (hour < 24 || (end && hour == 24 && minute == 0));
    if !valid {
        return Err(bad());
    }
    Ok(hour * 3600 + minute * 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Jurisdiction;

    const FILE: &str = "/etc/dunwell/dunwell.toml";

    #[derive(Deserialize)]
    struct Wrapper {
        schedule: Option<ScheduleSection>,
    }

    fn resolve_in(text: &str, time_zone: Tz) -> Result<Schedule, Problem> {
        let path = Path::new(FILE);
        let file: Wrapper = toml::from_str(text).map_err(|e| Problem::from_toml(path, text, &e))?;
        Schedule::resolve(file.schedule.as_ref(), time_zone, path, text)
    }

    fn resolve(text: &str) -> Schedule {
        match resolve_in(text, chrono_tz::Europe::Amsterdam) {
            Ok(s) => s,
            Err(p) => panic!("{p}"),
        }
    }

    fn problem(text: &str) -> String {
        match resolve_in(text, chrono_tz::Europe::Amsterdam) {
            Ok(_) => panic!("expected a problem for {text:?}"),
            Err(p) => p.to_string(),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn ams() -> Schedule {
        Schedule::default_for(chrono_tz::Europe::Amsterdam)
    }

    fn nl() -> Calendar {
        Calendar::new(Jurisdiction::Nl, [])
    }

    fn with_send(expression: &str, time_zone: Tz) -> Schedule {
        let text = format!("[schedule]\nsend = \"{expression}\"\n");
        match resolve_in(&text, time_zone) {
            Ok(s) => s,
            Err(p) => panic!("{p}"),
        }
    }

    /// The first `n` occurrences after `from`.
    fn series(s: &Schedule, job: JobKind, from: &str, n: usize) -> Vec<String> {
        let mut t = utc(from);
        let mut out = Vec::new();
        for _ in 0..n {
            t = s.next_after(job, t).unwrap();
            out.push(t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        }
        out
    }

    #[test]
    fn defaults() {
        for s in [ams(), resolve(""), resolve("[schedule]\n")] {
            assert_eq!(s.expression(JobKind::Sync), "0 * * * *");
            assert_eq!(s.expression(JobKind::Send), "0 8 * * 1-5");
            assert_eq!(s.expression(JobKind::Deliver), "*/15 * * * *");
            assert_eq!(s.max_source_age, Duration::hours(24));
            assert_eq!(s.time_zone, chrono_tz::Europe::Amsterdam);
            for c in ["email", "sms", "phone", "agency"] {
                assert_eq!(s.window_text(c), "working-days 09:00-17:00");
            }
            for c in ["letter", "registered-letter"] {
                assert_eq!(s.window_text(c), "working-days 08:00-16:00");
            }
            assert_eq!(s.window_text("pigeon"), "working-days 09:00-17:00");
        }
        assert_eq!(JobKind::ALL.map(JobKind::as_str), ["sync", "send", "deliver"]);
        assert_eq!(JobKind::from_name("deliver"), Some(JobKind::Deliver));
        assert_eq!(JobKind::from_name("Deliver"), None);
        assert_eq!(serde_json::to_string(&JobKind::Send).unwrap(), "\"send\"");
    }

    #[test]
    fn default_jobs_fire_on_their_slots() {
        let s = ams();
        // Sync: on the hour. Wednesday 2026-06-10 10:20 local (08:20Z).
        assert_eq!(
            series(&s, JobKind::Sync, "2026-06-10T08:20:00Z", 2),
            ["2026-06-10T09:00:00Z", "2026-06-10T10:00:00Z"]
        );
        // Deliver: every quarter; exactly on a slot, the next one.
        assert_eq!(
            series(&s, JobKind::Deliver, "2026-06-10T08:15:00Z", 2),
            ["2026-06-10T08:30:00Z", "2026-06-10T08:45:00Z"]
        );
        // Strictly after: a millisecond past the slot is past it.
        assert_eq!(
            s.next_after(JobKind::Deliver, utc("2026-06-10T08:15:00.001Z")),
            Some(utc("2026-06-10T08:30:00Z"))
        );
        assert_eq!(
            s.next_after(JobKind::Deliver, utc("2026-06-10T08:14:59.999Z")),
            Some(utc("2026-06-10T08:15:00Z"))
        );
    }

    #[test]
    fn send_at_eight_local_across_the_spring_change() {
        let s = ams();
        // Thursday 26 March 2026, 09:00 CET; the clocks go forward on Sunday 29 March.
        assert_eq!(
            series(&s, JobKind::Send, "2026-03-26T08:00:00Z", 3),
            [
                "2026-03-27T07:00:00Z", // Friday, 08:00 CET
                "2026-03-30T06:00:00Z", // Monday, 08:00 CEST
                "2026-03-31T06:00:00Z",
            ]
        );
    }

    #[test]
    fn send_at_eight_local_across_the_autumn_change() {
        let s = ams();
        // The clocks go back on Sunday 25 October 2026.
        assert_eq!(
            series(&s, JobKind::Send, "2026-10-22T12:00:00Z", 2),
            [
                "2026-10-23T06:00:00Z", // Friday, 08:00 CEST
                "2026-10-26T07:00:00Z", // Monday, 08:00 CET
            ]
        );
    }

    #[test]
    fn brussels_too() {
        let s = with_send("0 8 * * 1-5", chrono_tz::Europe::Brussels);
        assert_eq!(
            series(&s, JobKind::Send, "2026-03-26T08:00:00Z", 2),
            ["2026-03-27T07:00:00Z", "2026-03-30T06:00:00Z"]
        );
        assert_eq!(
            series(&s, JobKind::Send, "2026-10-22T12:00:00Z", 2),
            ["2026-10-23T06:00:00Z", "2026-10-26T07:00:00Z"]
        );
        // The same expression in another zone fires at another instant.
        let helsinki = with_send("0 8 * * 1-5", chrono_tz::Europe::Helsinki);
        assert_eq!(
            helsinki.next_after(JobKind::Send, utc("2026-06-09T12:00:00Z")),
            Some(utc("2026-06-10T05:00:00Z"))
        );
    }

    #[test]
    fn half_past_two_in_the_spring_gap_runs_once_at_three() {
        let s = with_send("30 2 * * *", chrono_tz::Europe::Amsterdam);
        assert_eq!(
            series(&s, JobKind::Send, "2026-03-27T12:00:00Z", 3),
            [
                "2026-03-28T01:30:00Z", // Saturday 02:30 CET
                "2026-03-29T01:00:00Z", // Sunday: 02:30 does not exist, 03:00 CEST
                "2026-03-30T00:30:00Z", // Monday 02:30 CEST
            ]
        );
    }

    #[test]
    fn half_past_two_in_the_autumn_overlap_runs_once() {
        let s = with_send("30 2 * * *", chrono_tz::Europe::Amsterdam);
        assert_eq!(
            series(&s, JobKind::Send, "2026-10-23T12:00:00Z", 3),
            [
                "2026-10-24T00:30:00Z", // Saturday 02:30 CEST
                "2026-10-25T00:30:00Z", // Sunday: the first 02:30 (CEST), not also 01:30Z (CET)
                "2026-10-26T01:30:00Z", // Monday 02:30 CET
            ]
        );
        // Started between the two 02:30s, it waits for Monday.
        assert_eq!(
            s.next_after(JobKind::Send, utc("2026-10-25T00:45:00Z")),
            Some(utc("2026-10-26T01:30:00Z"))
        );
    }

    #[test]
    fn weekday_numbers() {
        // 1-5 is Monday to Friday: from Saturday 13 June 2026, the next is Monday 15th.
        let s = with_send("0 8 * * 1-5", chrono_tz::UTC);
        assert_eq!(
            series(&s, JobKind::Send, "2026-06-12T09:00:00Z", 2),
            ["2026-06-15T08:00:00Z", "2026-06-16T08:00:00Z"]
        );
        // 0 and 7 are both Sunday.
        for sunday in ["0 8 * * 0", "0 8 * * 7", "0 8 * * SUN", "0 8 * * sun"] {
            let s = with_send(sunday, chrono_tz::UTC);
            assert_eq!(
                series(&s, JobKind::Send, "2026-06-10T00:00:00Z", 2),
                ["2026-06-14T08:00:00Z", "2026-06-21T08:00:00Z"],
                "{sunday}"
            );
        }
        let s = with_send("0 8 * * 5-7", chrono_tz::UTC);
        assert_eq!(
            series(&s, JobKind::Send, "2026-06-10T00:00:00Z", 4),
            ["2026-06-12T08:00:00Z", "2026-06-13T08:00:00Z", "2026-06-14T08:00:00Z", "2026-06-19T08:00:00Z"]
        );
    }

    #[test]
    fn day_of_month_or_day_of_week() {
        // Vixie cron: the 1st of the month OR any Monday.
        let s = with_send("0 9 1 * MON", chrono_tz::UTC);
        assert_eq!(
            series(&s, JobKind::Send, "2026-05-20T00:00:00Z", 5),
            [
                "2026-05-25T09:00:00Z", // Monday
                "2026-06-01T09:00:00Z", // Monday and the 1st: once
                "2026-06-08T09:00:00Z",
                "2026-06-15T09:00:00Z",
                "2026-06-22T09:00:00Z",
            ]
        );
        assert_eq!(
            series(&s, JobKind::Send, "2026-06-29T10:00:00Z", 2),
            [
                "2026-07-01T09:00:00Z", // Wednesday the 1st
                "2026-07-06T09:00:00Z",
            ]
        );
        // With only one of the two restricted, the other does not widen it.
        let s = with_send("0 9 1 * *", chrono_tz::UTC);
        assert_eq!(
            series(&s, JobKind::Send, "2026-05-20T00:00:00Z", 2),
            ["2026-06-01T09:00:00Z", "2026-07-01T09:00:00Z"]
        );
    }

    #[test]
    fn missed_sync_and_deliver_are_made_up_once() {
        let s = ams();
        // Down from Friday 2026-06-12 10:05 local to Monday 10:20 local (three days).
        let last = utc("2026-06-12T08:05:00Z");
        let now = utc("2026-06-15T08:20:00Z");
        assert_eq!(s.missed(JobKind::Sync, Some(last), now), Some(utc("2026-06-15T08:00:00Z")));
        assert_eq!(s.missed(JobKind::Deliver, Some(last), now), Some(utc("2026-06-15T08:15:00Z")));
        // A monthly sync missed three weeks ago is still made up.
        let monthly = resolve("[schedule]\nsync = \"0 3 1 * *\"\n");
        assert_eq!(
            monthly.missed(JobKind::Sync, Some(utc("2026-05-20T00:00:00Z")), utc("2026-06-22T12:00:00Z")),
            Some(utc("2026-06-01T01:00:00Z"))
        );
        // Nothing missed: the last run was after the last slot.
        assert_eq!(s.missed(JobKind::Sync, Some(utc("2026-06-15T08:00:30Z")), now), None);
        assert_eq!(s.missed(JobKind::Deliver, Some(utc("2026-06-15T08:15:00Z")), now), None);
        // A slot exactly at `now` counts; the last run's own slot does not.
        assert_eq!(
            s.missed(JobKind::Deliver, Some(utc("2026-06-15T08:00:00Z")), utc("2026-06-15T08:15:00Z")),
            Some(utc("2026-06-15T08:15:00Z"))
        );
        // A clock that went back makes up nothing.
        assert_eq!(s.missed(JobKind::Deliver, Some(utc("2026-06-16T00:00:00Z")), now), None);
    }

    #[test]
    fn a_first_start_syncs_and_delivers_at_once_and_does_the_days_send_once_its_slot_passed() {
        let s = ams();
        // Monday 10:20 in Amsterdam: today's 08:00 send has passed.
        let now = utc("2026-06-15T08:20:00Z");
        assert_eq!(s.missed(JobKind::Sync, None, now), Some(now));
        assert_eq!(s.missed(JobKind::Deliver, None, now), Some(now));
        assert_eq!(s.missed(JobKind::Send, None, now), Some(utc("2026-06-15T06:00:00Z")));
        // Monday 07:30: not yet; Sunday 10:20: no send on Sundays.
        assert_eq!(s.missed(JobKind::Send, None, utc("2026-06-15T05:30:00Z")), None);
        assert_eq!(s.missed(JobKind::Send, None, utc("2026-06-14T08:20:00Z")), None);
    }

    #[test]
    fn missed_send_only_on_its_own_day() {
        let s = ams();
        // Last sent Wednesday 08:00 local; restarted Thursday 10:30 local: Thursday's 08:00.
        let last = utc("2026-06-10T06:00:00Z");
        assert_eq!(
            s.missed(JobKind::Send, Some(last), utc("2026-06-11T08:30:00Z")),
            Some(utc("2026-06-11T06:00:00Z"))
        );
        // Restarted Friday 03:00 local: Thursday's send is not made up at night.
        assert_eq!(s.missed(JobKind::Send, Some(last), utc("2026-06-12T01:00:00Z")), None);
        // Restarted Monday 07:00 local after a weekend: Friday's is not made up either.
        assert_eq!(
            s.missed(JobKind::Send, Some(utc("2026-06-11T06:00:00Z")), utc("2026-06-15T05:00:00Z")),
            None
        );
        // Already sent today.
        assert_eq!(
            s.missed(JobKind::Send, Some(utc("2026-06-11T06:00:05Z")), utc("2026-06-11T08:30:00Z")),
            None
        );
        // The local day counts, not the UTC one: 00:30 local on Thursday is Wednesday in UTC.
        let midnight = with_send("15 0 * * *", chrono_tz::Europe::Amsterdam);
        assert_eq!(
            midnight.missed(JobKind::Send, Some(utc("2026-06-09T22:15:00Z")), utc("2026-06-10T22:30:00Z")),
            Some(utc("2026-06-10T22:15:00Z"))
        );
    }

    #[test]
    fn missed_after_a_long_downtime_is_quick_and_exact() {
        let s = resolve("[schedule]\ndeliver = \"* * * * *\"\nsync = \"* 8 1 * *\"\n");
        let started = std::time::Instant::now();
        assert_eq!(
            s.missed(JobKind::Deliver, Some(utc("2025-01-01T00:00:00Z")), utc("2026-06-15T08:20:30Z")),
            Some(utc("2026-06-15T08:20:00Z"))
        );
        assert_eq!(
            s.missed(JobKind::Sync, Some(utc("2025-01-01T00:00:00Z")), utc("2026-06-28T08:20:30Z")),
            Some(utc("2026-06-01T06:59:00Z"))
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn windows_on_working_days() {
        let s = ams();
        let cal = nl();
        // Wednesday 10 June 2026: 09:00-17:00 CEST is 07:00Z-15:00Z.
        assert!(!s.window_open("email", utc("2026-06-10T06:59:59Z"), &cal));
        assert!(s.window_open("email", utc("2026-06-10T07:00:00Z"), &cal));
        assert!(s.window_open("email", utc("2026-06-10T14:59:59Z"), &cal));
        // The end is exclusive.
        assert!(!s.window_open("email", utc("2026-06-10T15:00:00Z"), &cal));
        // Letters an hour earlier.
        assert!(s.window_open("letter", utc("2026-06-10T06:00:00Z"), &cal));
        assert!(!s.window_open("letter", utc("2026-06-10T14:00:00Z"), &cal));
        assert!(s.window_open("registered-letter", utc("2026-06-10T06:30:00Z"), &cal));
        // An unknown channel keeps the e-mail window.
        assert!(!s.window_open("pigeon", utc("2026-06-10T06:30:00Z"), &cal));
        assert!(s.window_open("pigeon", utc("2026-06-10T07:30:00Z"), &cal));
        // Saturday 13 June: closed all day.
        assert!(!s.window_open("email", utc("2026-06-13T10:00:00Z"), &cal));
        // Koningsdag, Monday 27 April 2026: a public holiday.
        assert!(!s.window_open("email", utc("2026-04-27T10:00:00Z"), &cal));
        assert!(!s.window_open("sms", utc("2026-04-27T10:00:00Z"), &cal));
        assert!(s.window_open("email", utc("2026-04-28T10:00:00Z"), &cal));
        // A closing day of the business.
        let closed = Calendar::new(Jurisdiction::Nl, [NaiveDate::from_ymd_opt(2026, 6, 10).unwrap()]);
        assert!(!s.window_open("email", utc("2026-06-10T10:00:00Z"), &closed));
        assert!(s.window_open("email", utc("2026-06-11T10:00:00Z"), &closed));
    }

    #[test]
    fn written_windows() {
        let s = resolve(
            "[schedule.windows]\nemail = \"always\"\nsms = \"mon,wed,fri 10:00-12:30\"\nphone = \"mon-sat 08:00-24:00\"\nagency = \"daily 06:00 - 07:00\"\nletter = \"fri-mon 09:00-10:00\"\n",
        );
        let cal = nl();
        assert_eq!(s.window_text("email"), "always");
        assert_eq!(s.window_text("sms"), "mon,wed,fri 10:00-12:30");
        // Always: a Sunday night and Koningsdag alike.
        assert!(s.window_open("email", utc("2026-06-14T01:00:00Z"), &cal));
        assert!(s.window_open("email", utc("2026-04-27T10:00:00Z"), &cal));
        assert_eq!(
            s.next_window_open("email", utc("2026-06-14T01:00:00Z"), &cal),
            Some(utc("2026-06-14T01:00:00Z"))
        );
        // mon,wed,fri: Koningsdag is a Monday, and a weekday list ignores the calendar.
        assert!(s.window_open("sms", utc("2026-04-27T08:00:00Z"), &cal));
        assert!(!s.window_open("sms", utc("2026-04-28T08:00:00Z"), &cal)); // Tuesday
        assert!(s.window_open("sms", utc("2026-04-29T10:29:00Z"), &cal)); // Wednesday 12:29
        assert!(!s.window_open("sms", utc("2026-04-29T10:30:00Z"), &cal)); // 12:30: closed
        assert!(s.window_open("sms", utc("2026-05-01T08:00:00Z"), &cal)); // Friday
        assert_eq!(
            s.next_window_open("sms", utc("2026-04-28T08:00:00Z"), &cal),
            Some(utc("2026-04-29T08:00:00Z"))
        );
        // Until 24:00: open at 23:59 local on Saturday, closed on Sunday.
        assert!(s.window_open("phone", utc("2026-06-13T21:59:00Z"), &cal));
        assert!(!s.window_open("phone", utc("2026-06-13T22:00:00Z"), &cal));
        // Spaces around the dash.
        assert!(s.window_open("agency", utc("2026-06-14T04:30:00Z"), &cal));
        // fri-mon wraps over the weekend.
        assert!(s.window_open("letter", utc("2026-06-13T07:30:00Z"), &cal)); // Saturday
        assert!(s.window_open("letter", utc("2026-06-15T07:30:00Z"), &cal)); // Monday
        assert!(!s.window_open("letter", utc("2026-06-16T07:30:00Z"), &cal)); // Tuesday
                                                                              // Untouched channels keep their defaults.
        assert_eq!(s.window_text("registered-letter"), "working-days 08:00-16:00");
    }

    #[test]
    fn next_window_open() {
        let s = ams();
        let cal = nl();
        // Friday 12 June 2026 17:30 local: Monday 15 June 09:00 local.
        assert_eq!(
            s.next_window_open("email", utc("2026-06-12T15:30:00Z"), &cal),
            Some(utc("2026-06-15T07:00:00Z"))
        );
        // Open now: now.
        assert_eq!(
            s.next_window_open("email", utc("2026-06-12T10:00:00Z"), &cal),
            Some(utc("2026-06-12T10:00:00Z"))
        );
        // Early the same morning: today.
        assert_eq!(
            s.next_window_open("letter", utc("2026-06-12T04:00:00Z"), &cal),
            Some(utc("2026-06-12T06:00:00Z"))
        );
        // Friday 24 April 17:30: Monday is Koningsdag, so Tuesday 28 April.
        assert_eq!(
            s.next_window_open("sms", utc("2026-04-24T15:30:00Z"), &cal),
            Some(utc("2026-04-28T07:00:00Z"))
        );
        // Across the spring change: Friday 27 March 17:30 CET, Monday 30 March 09:00 CEST.
        assert_eq!(
            s.next_window_open("email", utc("2026-03-27T16:30:00Z"), &cal),
            Some(utc("2026-03-30T07:00:00Z"))
        );
        // A window in the spring gap opens when the gap ends.
        let gap = resolve("[schedule.windows]\nemail = \"daily 02:30-04:00\"\n");
        assert_eq!(
            gap.next_window_open("email", utc("2026-03-28T22:00:00Z"), &cal),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        // A calendar closed on every day of the search: never.
        let all: Vec<NaiveDate> =
            (0..400).map(|d| NaiveDate::from_ymd_opt(2026, 6, 1).unwrap() + Duration::days(d)).collect();
        let closed = Calendar::new(Jurisdiction::Nl, all);
        assert_eq!(s.next_window_open("email", utc("2026-06-12T15:30:00Z"), &closed), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("24h"), Ok(Duration::hours(24)));
        assert_eq!(parse_duration("2d"), Ok(Duration::days(2)));
        assert_eq!(parse_duration("1d12h"), Ok(Duration::hours(36)));
        assert_eq!(parse_duration(" 1d2h3m "), Ok(Duration::minutes(24 * 60 + 123)));
        for bad in [
            "",
            "24",
            "h",
            "24 h",
            "1.5h",
            "24H",
            "-1h",
            "0h",
            "12h1d",
            "1h1h",
            "99999999999999999999d",
            "4000d",
            "2w",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        let s = resolve("[schedule]\nmax_source_age = \"1d12h\"\n");
        assert_eq!(s.max_source_age, Duration::hours(36));
    }

    #[test]
    fn written_cron_expressions() {
        let s = resolve(
            "[schedule]\nsync = \"*/30 6-22 * * *\"\nsend = \"  30 7 * * mon-fri \"\ndeliver = \"@hourly\"\n",
        );
        assert_eq!(s.expression(JobKind::Sync), "*/30 6-22 * * *");
        assert_eq!(s.expression(JobKind::Send), "30 7 * * mon-fri");
        assert_eq!(
            resolve("[schedule]\nsend = \"0 8\\t* *\\n1-5\"\n").expression(JobKind::Send),
            "0 8 * * 1-5"
        );
        assert_eq!(
            series(&s, JobKind::Sync, "2026-06-10T20:10:00Z", 2),
            [
                "2026-06-10T20:30:00Z", // 22:30 CEST
                "2026-06-11T04:00:00Z", // 06:00 CEST
            ]
        );
        assert_eq!(series(&s, JobKind::Send, "2026-06-12T12:00:00Z", 1), ["2026-06-15T05:30:00Z"]);
        assert_eq!(series(&s, JobKind::Deliver, "2026-06-12T12:10:00Z", 1), ["2026-06-12T13:00:00Z"]);
    }

    #[test]
    fn bad_cron_names_key_line_and_column() {
        let p = problem("[schedule]\nsend = \"0 8 * * 1-5 *\"\n");
        assert!(p.starts_with(&format!("{FILE}:2:8: ")), "{p}");
        assert!(
            p.contains("`0 8 * * 1-5 *` in [schedule] send is not a cron expression: it has 6 fields"),
            "{p}"
        );
        assert!(
            p.contains("write five fields: minute hour day-of-month month day-of-week, e.g. \"0 8 * * 1-5\""),
            "{p}"
        );

        let p = problem("[schedule]\nsync = \"0 * * * *\"\ndeliver = \"61 * * * *\"\n");
        assert!(p.starts_with(&format!("{FILE}:3:11: ")), "{p}");
        assert!(p.contains("`61 * * * *` in [schedule] deliver is not a cron expression: "), "{p}");
        assert!(p.contains("e.g. \"*/15 * * * *\""), "{p}");

        for (bad, reason) in [
            ("0 8 * *", "it has 4 fields"),
            ("", "it is empty"),
            ("0 0 30 2 *", "never run"),
            ("0 8 * * +1", "Vixie"),
            ("0 8 * * monday", "is not a cron expression: "),
            ("0 25 * * *", "is not a cron expression: "),
            ("0/10 * * * *", "is not a cron expression: "),
            ("@reboot", "of the @ forms only @yearly"),
            ("0 8 * * 1-5 2026", "no seconds or year field"),
        ] {
            let p = problem(&format!("[schedule]\nsync = \"{bad}\"\n"));
            assert!(p.starts_with(&format!("{FILE}:2:8: ")), "{p}");
            assert!(p.contains("in [schedule] sync"), "{p}");
            assert!(p.contains(reason), "{bad}: {p}");
        }
    }

    #[test]
    fn bad_window_names_key_line_and_column() {
        let p = problem("[schedule.windows]\nemail = \"always\"\nsms = \"weekdays 09:00-17:00\"\n");
        assert!(p.starts_with(&format!("{FILE}:3:7: ")), "{p}");
        assert!(p.contains("`weekdays 09:00-17:00` in [schedule.windows] sms is not a delivery window: `weekdays` is not a day"), "{p}");
        assert!(p.contains("e.g. \"working-days 09:00-17:00\""), "{p}");

        for (bad, reason) in [
            ("working-days", "it has no hours"),
            ("working-days 17:00-09:00", "closes before it opens"),
            ("working-days 09:00-09:00", "closes before it opens"),
            ("daily 24:00-24:00", "not a time of day"),
            ("daily 9-17", "not a time of day"),
            ("daily 09:00-25:00", "not a time of day"),
            ("daily 09:60-10:00", "not a time of day"),
            ("daily 0900-1700", "`0900` is not a time of day"),
            ("daily 09:00", "not HH:MM-HH:MM"),
            ("mon-fri,, 09:00-17:00", "is not a day"),
            ("never", "it has no hours"),
        ] {
            let p = problem(&format!("[schedule.windows]\nregistered-letter = \"{bad}\"\n"));
            assert!(p.starts_with(&format!("{FILE}:2:21: ")), "{p}");
            assert!(p.contains("in [schedule.windows] registered-letter is not a delivery window"), "{p}");
            assert!(p.contains(reason), "{bad}: {p}");
        }
    }

    #[test]
    fn bad_duration_names_key_line_and_column() {
        let p = problem("[schedule]\nmax_source_age = \"24 hours\"\n");
        assert!(p.starts_with(&format!("{FILE}:2:18: ")), "{p}");
        assert!(p.contains("`24 hours` in [schedule] max_source_age is not a duration: "), "{p}");
        assert!(p.contains("e.g. \"24h\""), "{p}");
        let p = problem("[schedule]\nmax_source_age = 24\n");
        assert!(p.starts_with(&format!("{FILE}:2:18: ")), "{p}");
        assert!(p.contains("max_source_age"), "{p}");
    }

    #[test]
    fn unknown_keys_name_key_line_and_column() {
        let p = problem("[schedule]\nsync = \"0 * * * *\"\nreminders = \"0 8 * * *\"\n");
        assert!(p.starts_with(&format!("{FILE}:3:1: ")), "{p}");
        assert!(p.contains("unknown field `reminders`"), "{p}");
        let p = problem("[schedule.windows]\nemail = \"always\"\nfax = \"always\"\n");
        assert!(p.starts_with(&format!("{FILE}:3:1: ")), "{p}");
        assert!(p.contains("unknown field `fax`"), "{p}");
        // A value that is not text names its key too.
        let p = problem("[schedule]\nsend = 8\n");
        assert!(p.starts_with(&format!("{FILE}:2:8: ")), "{p}");
        assert!(p.contains("send"), "{p}");
    }

    #[test]
    fn control_characters_in_a_value_are_escaped() {
        let p = problem("[schedule]\nsend = \"0 8 * *\\n1-5 *\"\n");
        assert!(p.contains("`0 8 * *\\n1-5 *`"), "{p}");
        assert!(!p.contains('\n'), "{p}");
    }
}
