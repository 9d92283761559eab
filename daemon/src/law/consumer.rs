//! Consumer-protection timing rules, as pure functions for the planner and `dunwell check`.
//!
//! * NL (art. 6:96 lid 6 BW): collection costs (BIK) may only be charged to a consumer after a
//!   letter, sent after the debtor is in default (verzuim), that demands payment within 14 days
//!   and names the exact costs; the term runs from the day after the letter was received, and
//!   the costs are due from the day after the term ends. A statutory term that ends on a
//!   Saturday, Sunday or Algemene termijnenwet holiday (incl. Good Friday and 5 May) moves to
//!   the next day that is none of these (Atw art. 1; whether the Atw applies to this term is
//!   not confirmed, legal-reference.md §8.7, so applying it is the cautious choice).
//! * BE (Boek XIX WER): the first reminder is free; costs, damages and interest only after a
//!   14-calendar-day wait that starts on the day after an electronic reminder was sent, or on the
//!   3rd working day after a paper reminder was sent (day 1 = that working day; §8.9, \[L\]).
//!   Convention: a wait whose 14th day is a Saturday, Sunday or BE legal holiday is extended to
//!   the next working day (cautious; the WER text was not seen). Later reminders may cost at most
//!   €7.50 plus postage each.
//!
//! Post is received `post_delay_days` calendar days after sending (configurable; the planner
//! chooses the default); electronic letters are received on the day they are sent.

use chrono::{Days, NaiveDate};

use crate::calendar::{add_days, Calendar, Jurisdiction};
use crate::model::CustomerKind;

/// The 14-day term of the NL letter and the BE wait.
pub const TERM_DAYS: u64 = 14;
/// A paper reminder's BE wait starts on this working day after sending.
pub const BE_PAPER_START_WORKING_DAY: u32 = 3;
/// Due dates scanned for the worst case in [`check_consumer_playbook`].
pub const WORST_CASE_YEARS: std::ops::RangeInclusive<i32> = 2025..=2064;

/// How a letter or reminder reaches the debtor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    Post,
    Electronic,
}

/// A reminder or letter that was (or will be) sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Letter {
    pub sent: NaiveDate,
    pub delivery: Delivery,
    /// NL: the letter names the exact BIK amount that will be charged.
    pub names_exact_costs: bool,
}

fn next_day(d: NaiveDate) -> NaiveDate {
    d.succ_opt().expect("date within chrono's range")
}

fn plus(d: NaiveDate, days: u64) -> NaiveDate {
    d + Days::new(days)
}

/// Atw art. 1: `date` itself if it is not a Saturday, Sunday or Atw holiday, else the next day
/// that is none of these.
pub fn atw_extend(mut date: NaiveDate) -> NaiveDate {
    while Calendar::is_atw_holiday(date) {
        date = next_day(date);
    }
    date
}

fn be_closed(date: NaiveDate) -> bool {
    !Calendar::new(Jurisdiction::Be, []).is_working_day(date)
}

/// The statutory working day `n` working days after `date` (NL: not Sat/Sun/Atw holiday; BE:
/// not Sat/Sun/BE legal holiday).
pub fn working_days_after(jurisdiction: Jurisdiction, date: NaiveDate, n: u32) -> NaiveDate {
    let closed = |d: NaiveDate| match jurisdiction {
        Jurisdiction::Nl => Calendar::is_atw_holiday(d),
        Jurisdiction::Be => be_closed(d),
    };
    let mut d = date;
    let mut left = n;
    while left > 0 {
        d = next_day(d);
        if !closed(d) {
            left -= 1;
        }
    }
    d
}

/// The day a letter is taken to reach the debtor.
pub fn received_on(sent: NaiveDate, delivery: Delivery, post_delay_days: u32) -> NaiveDate {
    match delivery {
        Delivery::Electronic => sent,
        Delivery::Post => plus(sent, u64::from(post_delay_days)),
    }
}

/// NL: a 14-day letter only counts when sent after the debtor is in default, i.e. after the due date.
pub fn nl_letter_after_verzuim(due_date: NaiveDate, sent: NaiveDate) -> bool {
    sent > due_date
}

/// NL: the last day to pay under a 14-day letter received on `received` (day 1 is the day after
/// receipt; the end moves past Saturdays, Sundays and Atw holidays).
pub fn nl_letter_term_end(received: NaiveDate) -> NaiveDate {
    atw_extend(plus(received, TERM_DAYS))
}

/// The last day of a term of `days` days that a message sent on `sent` gives the debtor, as the
/// law of `jurisdiction` counts it. NL: day 1 is the day after receipt (post: `post_delay_days`
/// after sending; electronic: the day it is sent), and an end on a Saturday, Sunday or Atw
/// holiday moves to the next day that is none (Atw art. 1). BE: day 1 is the day after an
/// electronic message, or the 3rd working day after posting (as for the Boek XIX wait), and an
/// end on a Saturday, Sunday or legal holiday moves to the next working day. For 14 days these
/// are exactly [`nl_letter_term_end`] and [`be_wait_last_day`].
pub fn term_end(
    jurisdiction: Jurisdiction,
    sent: NaiveDate,
    delivery: Delivery,
    days: u32,
    post_delay_days: u32,
) -> NaiveDate {
    match jurisdiction {
        Jurisdiction::Nl => atw_extend(plus(received_on(sent, delivery, post_delay_days), u64::from(days))),
        Jurisdiction::Be => {
            let mut d = plus(be_wait_first_day(sent, delivery), u64::from(days.max(1)) - 1);
            while be_closed(d) {
                d = next_day(d);
            }
            d
        }
    }
}

/// NL consumers: the first day the BIK may be charged after a letter sent on `sent`.
pub fn nl_consumer_costs_from(sent: NaiveDate, delivery: Delivery, post_delay_days: u32) -> NaiveDate {
    next_day(nl_letter_term_end(received_on(sent, delivery, post_delay_days)))
}

/// BE consumers: day 1 of the 14-day wait after a reminder sent on `sent`.
pub fn be_wait_first_day(sent: NaiveDate, delivery: Delivery) -> NaiveDate {
    match delivery {
        Delivery::Electronic => next_day(sent),
        Delivery::Post => working_days_after(Jurisdiction::Be, sent, BE_PAPER_START_WORKING_DAY),
    }
}

/// BE consumers: the 14th day of the wait (moved to the next working day when it is not one).
pub fn be_wait_last_day(sent: NaiveDate, delivery: Delivery) -> NaiveDate {
    let mut d = plus(be_wait_first_day(sent, delivery), TERM_DAYS - 1);
    while be_closed(d) {
        d = next_day(d);
    }
    d
}

/// BE consumers: the first day costs, damages and interest may be claimed after the free first
/// reminder sent on `sent`.
pub fn be_consumer_claimable_from(sent: NaiveDate, delivery: Delivery) -> NaiveDate {
    next_day(be_wait_last_day(sent, delivery))
}

/// The first day collection costs may be charged, or `None` while the letter the law requires
/// has not been sent (or does not count).
///
/// * Businesses (NL and BE): the day after the due date; no letter is needed.
/// * NL consumers: `letter` is the 14-day letter; it must be sent after the due date and name the
///   exact costs.
/// * BE consumers: `letter` is the free first reminder.
pub fn earliest_costs_date(
    jurisdiction: Jurisdiction,
    kind: CustomerKind,
    due_date: NaiveDate,
    letter: Option<Letter>,
    post_delay_days: u32,
) -> Option<NaiveDate> {
    match (jurisdiction, kind) {
        (_, CustomerKind::B2b) => Some(next_day(due_date)),
        (Jurisdiction::Nl, CustomerKind::B2c) => {
            let l = letter?;
            (nl_letter_after_verzuim(due_date, l.sent) && l.names_exact_costs)
                .then(|| nl_consumer_costs_from(l.sent, l.delivery, post_delay_days))
        }
        (Jurisdiction::Be, CustomerKind::B2c) => {
            let l = letter?;
            (l.sent > due_date).then(|| be_consumer_claimable_from(l.sent, l.delivery))
        }
    }
}

/// The first day that earns statutory interest, or `None` while a BE consumer has not had the
/// free first reminder.
///
/// NL consumers: the day after the due date, which assumes the due date is a fatal term (verzuim
/// without notice, art. 6:83 sub a BW); without one, verzuim only starts after a notice of
/// default and the planner must pass that day instead. BE consumers: the cautious reading of the
/// open question in legal-reference.md §8.9, the day after the 14-day wait.
pub fn earliest_interest_date(
    jurisdiction: Jurisdiction,
    kind: CustomerKind,
    due_date: NaiveDate,
    first_reminder: Option<Letter>,
) -> Option<NaiveDate> {
    match (jurisdiction, kind) {
        (Jurisdiction::Be, CustomerKind::B2c) => {
            let l = first_reminder?;
            (l.sent > due_date).then(|| be_consumer_claimable_from(l.sent, l.delivery))
        }
        _ => Some(next_day(due_date)),
    }
}

/// BE consumers: whether the `n`-th reminder (1-based) may carry a fee (the first is free). For
/// regular-supply contracts the first three arrears of a calendar year get a free reminder, so
/// pass `arrear_in_year` (1-based) and `regular_supply`.
pub fn be_reminder_fee_allowed(
    n: u32,
    regular_supply: bool,
    arrear_in_year: u32,
    free_per_year: u32,
) -> bool {
    if regular_supply && arrear_in_year > free_per_year {
        return true;
    }
    n >= 2
}

/// What a playbook step does, as far as the consumer rules care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepView {
    pub name: String,
    /// Days after the due date (J + offset); negative before it.
    pub offset_days: i64,
    /// How the step reaches the debtor, when it sends a letter, e-mail or SMS; `None` for a
    /// phone call or handoff.
    pub delivery: Option<Delivery>,
    /// The message names the exact collection costs (NL 14-day letter).
    pub names_exact_costs: bool,
    pub applies_costs: bool,
    pub applies_interest: bool,
    /// The step charges a reminder fee (BE).
    pub charges_fee: bool,
}

/// A rule a consumer playbook breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub step: String,
    pub rule: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step `{}`: {}", self.step, self.rule)
    }
}

/// The first and last due date of [`WORST_CASE_YEARS`].
fn worst_case_dues() -> (NaiveDate, NaiveDate) {
    let start = NaiveDate::from_ymd_opt(*WORST_CASE_YEARS.start(), 1, 1).expect("valid");
    let end = NaiveDate::from_ymd_opt(*WORST_CASE_YEARS.end(), 12, 31).expect("valid");
    (start, end)
}

/// The largest `f(due) - due` in days over every due date in [`WORST_CASE_YEARS`].
pub fn worst_case(f: impl Fn(NaiveDate) -> NaiveDate) -> i64 {
    let (start, end) = worst_case_dues();
    let mut due = start;
    let mut worst = i64::MIN;
    while due <= end {
        worst = worst.max((f(due) - due).num_days());
        due = next_day(due);
    }
    worst
}

/// [`worst_case`] of `|due| g(due + offset)` for every offset of a range, from one scan: the
/// lag `g(s) - s` of every day `s` that a due date plus an offset reaches, then the largest
/// over each offset's window. `dunwell check` asked for a 40-year scan per step that gives a
/// term; the steps of a playbook differ only in their offsets, so one scan per kind of term
/// serves them all.
#[derive(Debug, Clone)]
pub struct ShiftedWorstCase {
    offsets: std::ops::RangeInclusive<i64>,
    lags: Vec<i64>,
    /// Due dates in [`WORST_CASE_YEARS`].
    span: usize,
}

impl ShiftedWorstCase {
    pub fn new(
        offsets: std::ops::RangeInclusive<i64>,
        g: impl Fn(NaiveDate) -> NaiveDate,
    ) -> ShiftedWorstCase {
        let (start, end) = worst_case_dues();
        let span = usize::try_from((end - start).num_days() + 1).expect("a positive span");
        let (first, last) = (add_days(start, *offsets.start()), add_days(end, *offsets.end()));
        let mut lags = Vec::with_capacity(span + offsets.clone().count());
        let mut day = first;
        while day <= last {
            lags.push((g(day) - day).num_days());
            day = next_day(day);
        }
        ShiftedWorstCase { offsets, lags, span }
    }

    /// `worst_case(|due| g(due + offset))`; `None` for an offset outside the range scanned.
    pub fn at(&self, offset: i64) -> Option<i64> {
        if !self.offsets.contains(&offset) {
            return None;
        }
        let from = usize::try_from(offset - self.offsets.start()).ok()?;
        let worst = self.lags.get(from..from + self.span)?.iter().max()?;
        Some(worst + offset)
    }
}

/// Checks a consumer (B2C) playbook against the timing rules for every due date in
/// [`WORST_CASE_YEARS`] (weekends and holidays move the earliest lawful day by up to a few days,
/// so a step must be late enough for the worst case). Steps are taken in offset order.
pub fn check_consumer_playbook(
    jurisdiction: Jurisdiction,
    steps: &[StepView],
    post_delay_days: u32,
) -> Vec<Violation> {
    let mut ordered: Vec<&StepView> = steps.iter().collect();
    ordered.sort_by_key(|s| s.offset_days);
    let mut out = Vec::new();
    match jurisdiction {
        Jurisdiction::Nl => {
            // Each 14-day letter's worst case is a 40-year scan: done once per letter, and only
            // when some step charges costs.
            let letters: Vec<(usize, &StepView, i64)> = if ordered.iter().any(|s| s.applies_costs) {
                ordered
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.offset_days >= 1 && l.names_exact_costs)
                    .filter_map(|(i, l)| {
                        let delivery = l.delivery?;
                        let lag = worst_case(|due| {
                            nl_consumer_costs_from(add_days(due, l.offset_days), delivery, post_delay_days)
                        });
                        Some((i, *l, lag))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            for (i, step) in ordered.iter().enumerate() {
                if step.charges_fee {
                    out.push(Violation {
                        step: step.name.clone(),
                        rule: "NL consumers: no reminder fee may be charged; collection costs are limited to the BIK scale (art. 6:96 lid 5-6 BW)".into(),
                    });
                }
                if !step.applies_costs {
                    continue;
                }
                let earlier = letters.iter().filter(|(j, ..)| *j < i);
                if earlier.clone().any(|(.., lag)| *lag <= step.offset_days) {
                    continue;
                }
                let rule = match earlier.min_by_key(|(.., lag)| *lag) {
                    Some((_, l, lag)) => format!(
                        "NL consumers: collection costs may only be charged from the day after the 14-day term of the letter `{}` (art. 6:96 lid 6 BW), counted from the day after receipt and moved past weekends and Atw holidays; at J+{} that can be as late as J+{lag}, so this step at J+{} charges too early",
                        l.name, l.offset_days, step.offset_days
                    ),
                    None => format!(
                        "NL consumers: collection costs need an earlier letter, sent after the due date, that demands payment within 14 days and names the exact costs (art. 6:96 lid 6 BW); no step before J+{} does that",
                        step.offset_days
                    ),
                };
                out.push(Violation { step: step.name.clone(), rule });
            }
        }
        Jurisdiction::Be => {
            let first = ordered.iter().find(|s| s.offset_days >= 1 && s.delivery.is_some());
            let lag = first.map(|f| {
                let delivery = f.delivery.expect("filtered on delivery");
                (f, worst_case(|due| be_consumer_claimable_from(add_days(due, f.offset_days), delivery)))
            });
            for step in &ordered {
                let charges = step.applies_costs || step.applies_interest || step.charges_fee;
                if !charges {
                    continue;
                }
                let is_first = first.is_some_and(|f| std::ptr::eq(*f, *step));
                let rule = match lag {
                    None => Some(format!(
                        "BE consumers: costs, damages, interest and fees need a free first reminder sent after the due date and a 14-day wait (Boek XIX WER); no step before J+{} sends one",
                        step.offset_days
                    )),
                    Some(_) if is_first => Some(
                        "BE consumers: the first reminder after the due date must be free (Boek XIX WER); it may only announce the costs and interest".to_string(),
                    ),
                    Some((f, lag)) if step.offset_days < lag => Some(format!(
                        "BE consumers: costs, damages, interest and fees only after the 14-day wait following the free first reminder `{}` (Boek XIX WER); at J+{} that wait can end as late as J+{}, so this step at J+{} charges too early",
                        f.name,
                        f.offset_days,
                        lag - 1,
                        step.offset_days
                    )),
                    Some(_) => None,
                };
                if let Some(rule) = rule {
                    out.push(Violation { step: step.name.clone(), rule });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn v14_nl_letter_received_wednesday() {
        // V14 [H rule]: received Wed 2025-05-14 -> last day Wed 2025-05-28, BIK from Thu 2025-05-29
        assert_eq!(nl_letter_term_end(d("2025-05-14")), d("2025-05-28"));
        assert_eq!(nl_consumer_costs_from(d("2025-05-14"), Delivery::Electronic, 0), d("2025-05-29"));
        // Sent by post two days earlier with a 2-day delivery delay: same result.
        assert_eq!(nl_consumer_costs_from(d("2025-05-12"), Delivery::Post, 2), d("2025-05-29"));
    }

    #[test]
    fn v15_nl_term_ending_on_ascension_moves_to_friday() {
        // V15 [L]: day 14 = Thu 2025-05-29 (Ascension) -> Fri 2025-05-30 (decree bridge days not encoded)
        assert_eq!(nl_letter_term_end(d("2025-05-15")), d("2025-05-30"));
        assert_eq!(nl_consumer_costs_from(d("2025-05-15"), Delivery::Electronic, 0), d("2025-05-31"));
    }

    #[test]
    fn v16_v17_five_working_days_after_maundy_thursday_2025() {
        // V16 [H dates]: NL skips Good Friday, Easter Monday, weekends -> Mon 2025-04-28
        assert_eq!(working_days_after(Jurisdiction::Nl, d("2025-04-17"), 5), d("2025-04-28"));
        // V17 [H dates / L meaning]: BE counts Good Friday, skips Easter Monday -> Fri 2025-04-25
        assert_eq!(working_days_after(Jurisdiction::Be, d("2025-04-17"), 5), d("2025-04-25"));
    }

    #[test]
    fn v20_be_consumer_wait_paper_and_email() {
        // V20 [L]: paper sent Mon 2025-03-03 -> day 1 Thu 03-06, day 14 Wed 03-19, claimable Thu 03-20
        assert_eq!(be_wait_first_day(d("2025-03-03"), Delivery::Post), d("2025-03-06"));
        assert_eq!(be_wait_last_day(d("2025-03-03"), Delivery::Post), d("2025-03-19"));
        assert_eq!(be_consumer_claimable_from(d("2025-03-03"), Delivery::Post), d("2025-03-20"));
        // e-mail: day 1 Tue 03-04, day 14 Mon 03-17, claimable Tue 03-18
        assert_eq!(be_wait_first_day(d("2025-03-03"), Delivery::Electronic), d("2025-03-04"));
        assert_eq!(be_consumer_claimable_from(d("2025-03-03"), Delivery::Electronic), d("2025-03-18"));
    }

    #[test]
    fn a_term_of_14_days_is_the_letter_term_and_the_wait() {
        for sent in ["2025-05-14", "2025-12-19", "2026-04-01", "2026-12-11"] {
            for delivery in [Delivery::Post, Delivery::Electronic] {
                let sent = d(sent);
                assert_eq!(
                    term_end(Jurisdiction::Nl, sent, delivery, 14, 2),
                    nl_letter_term_end(received_on(sent, delivery, 2))
                );
                assert_eq!(
                    term_end(Jurisdiction::Be, sent, delivery, 14, 2),
                    be_wait_last_day(sent, delivery)
                );
            }
        }
        // NL, 7 days by e-mail on Fri 2026-12-18: day 7 Fri 12-25 (Christmas) -> Mon 12-28.
        assert_eq!(term_end(Jurisdiction::Nl, d("2026-12-18"), Delivery::Electronic, 7, 2), d("2026-12-28"));
        // BE, 7 days by post on Mon 2025-03-03: day 1 Thu 03-06, day 7 Wed 03-12.
        assert_eq!(term_end(Jurisdiction::Be, d("2025-03-03"), Delivery::Post, 7, 2), d("2025-03-12"));
    }

    #[test]
    fn atw_extension_examples() {
        // Good Friday 2026-04-03 -> Sat, Sun, Easter Monday -> Tue 04-07
        assert_eq!(atw_extend(d("2026-04-03")), d("2026-04-07"));
        // 5 May 2026 is a Tuesday and an Atw day
        assert_eq!(atw_extend(d("2026-05-05")), d("2026-05-06"));
        assert_eq!(atw_extend(d("2026-05-06")), d("2026-05-06"));
        // Christmas 2026: Fri 25, Sat 26, Sun 27 -> Mon 28
        assert_eq!(atw_extend(d("2026-12-25")), d("2026-12-28"));
        // BE wait ending on a Saturday moves to Monday: e-mail sent Fri 2025-03-07, day 14 = Fri 03-21 (no);
        // e-mail sent Sat 2025-03-08: day 1 Sun 03-09, day 14 Sat 03-22 -> Mon 03-24
        assert_eq!(be_wait_last_day(d("2025-03-08"), Delivery::Electronic), d("2025-03-24"));
    }

    #[test]
    fn earliest_dates_by_kind() {
        let due = d("2025-04-30");
        assert_eq!(
            earliest_costs_date(Jurisdiction::Nl, CustomerKind::B2b, due, None, 2),
            Some(d("2025-05-01"))
        );
        assert_eq!(
            earliest_costs_date(Jurisdiction::Be, CustomerKind::B2b, due, None, 2),
            Some(d("2025-05-01"))
        );
        assert_eq!(earliest_costs_date(Jurisdiction::Nl, CustomerKind::B2c, due, None, 2), None);
        let letter = Letter { sent: d("2025-05-12"), delivery: Delivery::Post, names_exact_costs: true };
        assert_eq!(
            earliest_costs_date(Jurisdiction::Nl, CustomerKind::B2c, due, Some(letter), 2),
            Some(d("2025-05-29"))
        );
        let vague = Letter { names_exact_costs: false, ..letter };
        assert_eq!(earliest_costs_date(Jurisdiction::Nl, CustomerKind::B2c, due, Some(vague), 2), None);
        let too_early = Letter { sent: due, ..letter };
        assert_eq!(earliest_costs_date(Jurisdiction::Nl, CustomerKind::B2c, due, Some(too_early), 2), None);
        let be_first = Letter { sent: d("2025-03-03"), delivery: Delivery::Post, names_exact_costs: false };
        assert_eq!(
            earliest_costs_date(Jurisdiction::Be, CustomerKind::B2c, d("2025-02-28"), Some(be_first), 0),
            Some(d("2025-03-20"))
        );
        assert_eq!(
            earliest_interest_date(Jurisdiction::Be, CustomerKind::B2c, d("2025-02-28"), Some(be_first)),
            Some(d("2025-03-20"))
        );
        assert_eq!(earliest_interest_date(Jurisdiction::Be, CustomerKind::B2c, d("2025-02-28"), None), None);
        assert_eq!(
            earliest_interest_date(Jurisdiction::Nl, CustomerKind::B2c, d("2025-02-28"), None),
            Some(d("2025-03-01"))
        );
        assert!(!be_reminder_fee_allowed(1, false, 1, 3));
        assert!(be_reminder_fee_allowed(2, false, 1, 3));
        assert!(be_reminder_fee_allowed(1, true, 4, 3));
    }

    fn step(name: &str, offset: i64, delivery: Option<Delivery>) -> StepView {
        StepView {
            name: name.into(),
            offset_days: offset,
            delivery,
            names_exact_costs: false,
            applies_costs: false,
            applies_interest: false,
            charges_fee: false,
        }
    }

    #[test]
    fn one_shifted_scan_gives_each_offsets_worst_case() {
        let term = |day: NaiveDate| {
            let sent = Calendar::new(Jurisdiction::Be, []).working_day_on_or_after(day);
            term_end(Jurisdiction::Be, sent, Delivery::Post, 14, 2) + Days::new(1)
        };
        let shifted = ShiftedWorstCase::new(-3..=40, term);
        for offset in [-3, 0, 1, 7, 14, 39, 40] {
            let direct = worst_case(|due| term(add_days(due, offset)));
            assert_eq!(shifted.at(offset), Some(direct), "offset {offset}");
        }
        assert_eq!(shifted.at(41), None);
        assert_eq!(shifted.at(-4), None);
    }

    #[test]
    fn nl_playbook_check() {
        let e = Some(Delivery::Electronic);
        let mut letter = step("14-day letter", 5, e);
        letter.names_exact_costs = true;
        let mut costs = step("last warning", 20, e);
        costs.applies_costs = true;
        // J+5 letter by e-mail: term ends J+19 at the earliest, but weekends/holidays push it later.
        let v = check_consumer_playbook(Jurisdiction::Nl, &[letter.clone(), costs.clone()], 0);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].rule.contains("art. 6:96 lid 6"), "{}", v[0].rule);
        // The worst case after a J+5 e-mail is a term end moved by up to 5 days (e.g. Good Friday,
        // Easter Monday and King's Day in 2038).
        let worst = worst_case(|due| nl_consumer_costs_from(add_days(due, 5), Delivery::Electronic, 0));
        assert!((20..=26).contains(&worst), "{worst}");
        costs.offset_days = worst;
        assert!(check_consumer_playbook(Jurisdiction::Nl, &[letter.clone(), costs.clone()], 0).is_empty());
        costs.offset_days = worst - 1;
        assert_eq!(check_consumer_playbook(Jurisdiction::Nl, &[letter.clone(), costs.clone()], 0).len(), 1);
        // No letter naming the costs at all.
        let mut plain = letter.clone();
        plain.names_exact_costs = false;
        costs.offset_days = 40;
        let v = check_consumer_playbook(Jurisdiction::Nl, &[plain, costs.clone()], 0);
        assert!(v[0].rule.contains("names the exact costs"), "{}", v[0].rule);
        // A letter before the due date does not count.
        let mut early = letter.clone();
        early.offset_days = -3;
        assert_eq!(check_consumer_playbook(Jurisdiction::Nl, &[early, costs.clone()], 0).len(), 1);
        // Interest alone is fine for NL consumers.
        let mut interest = step("interest", 6, e);
        interest.applies_interest = true;
        assert!(check_consumer_playbook(Jurisdiction::Nl, &[interest], 0).is_empty());
    }

    #[test]
    fn be_playbook_check() {
        let e = Some(Delivery::Electronic);
        let mut first = step("first reminder", 3, e);
        let mut second = step("second reminder", 13, e);
        second.applies_interest = true;
        let v = check_consumer_playbook(Jurisdiction::Be, &[first.clone(), second.clone()], 0);
        assert_eq!(v.len(), 1);
        assert!(v[0].rule.contains("14-day wait"), "{}", v[0].rule);
        let worst = worst_case(|due| be_consumer_claimable_from(add_days(due, 3), Delivery::Electronic));
        second.offset_days = worst;
        assert!(check_consumer_playbook(Jurisdiction::Be, &[first.clone(), second.clone()], 0).is_empty());
        // The first reminder itself must be free.
        first.charges_fee = true;
        let v = check_consumer_playbook(Jurisdiction::Be, &[first, second.clone()], 0);
        assert!(v[0].rule.contains("must be free"), "{}", v[0].rule);
        // A lone charging reminder is itself the first reminder.
        let v = check_consumer_playbook(Jurisdiction::Be, &[second.clone()], 0);
        assert!(v[0].rule.contains("must be free"), "{}", v[0].rule);
        // Nothing sent at all (a phone call that applies interest).
        second.delivery = None;
        let v = check_consumer_playbook(Jurisdiction::Be, &[second], 0);
        assert!(v[0].rule.contains("free first reminder"), "{}", v[0].rule);
    }
}
