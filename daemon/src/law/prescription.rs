//! When an invoice's claim prescribes (NL *verjaart*, BE *verjaart* / *se prescrit*), and whether
//! it is near or past that day.
//!
//! The periods ship in `daemon/rates/rates.toml` (`[[prescription]]`, one row per jurisdiction,
//! debtor kind and goods/services, with article, sources and confidence) together with what an
//! act does to a running period (`[[prescription_interruption]]`: NL art. 3:317/3:319 BW, a
//! written demand restarts the period; BE art. 2244/2248 oud BW, a creditor's own reminder
//! does not, a lawyer's or bailiff's registered notice adds one year once, an acknowledgement
//! restarts). The rate override file overrides rows by their key, exactly like the rates
//! ([`Rates::load`]).
//!
//! Pure: no clock, no I/O. Dates are computed so that they are never later than the law's:
//! a period starts the day after the due (or invoice) date and the claim is prescribed from
//! the same calendar date `years` later; a last day on a weekend or holiday is not moved;
//! an interruption counts from the day it was sent, not the (later) day it arrived.

use std::fmt;
use std::path::Path;

use chrono::{Datelike, Days, NaiveDate};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use super::rates::{line_col, Confidence, Rates, RatesError};
use crate::calendar::Jurisdiction;
use crate::model::CustomerKind;

/// What the invoice is for, as far as the caller knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Goods {
    Goods,
    Services,
    /// Not known: the shorter period of the two is used, so the warning comes early.
    Unknown,
}

/// What a `[[prescription]]` row covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum What {
    Goods,
    Services,
    Any,
}

/// The day after which a period starts running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunsFrom {
    /// The day after the due date (the claim became due: NL *opeisbaar*, BE art. 2257 oud BW).
    DueDate,
    /// The day after the invoice date, taken for the delivery (BE art. 2272 oud BW).
    IssueDate,
}

/// An act that may interrupt a running period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interrupter {
    /// A written reminder, demand or formal notice from the creditor (or its collection agency)
    /// that claims payment: what dunwell sends by e-mail or letter.
    Demand,
    /// A formal notice by registered letter with acknowledgement of receipt from the creditor's
    /// lawyer or a bailiff (BE art. 2244 §2 oud BW).
    RegisteredNotice,
    /// The debtor acknowledged the debt (a signed acknowledgement, a payment plan; a part
    /// payment usually counts).
    Acknowledgement,
}

impl Interrupter {
    const ALL: [Interrupter; 3] =
        [Interrupter::Demand, Interrupter::RegisteredNotice, Interrupter::Acknowledgement];

    pub fn as_str(self) -> &'static str {
        match self {
            Interrupter::Demand => "demand",
            Interrupter::RegisteredNotice => "registered_notice",
            Interrupter::Acknowledgement => "acknowledgement",
        }
    }

    /// How a warning names the act.
    fn noun(self) -> &'static str {
        match self {
            Interrupter::Demand => "the demand",
            Interrupter::RegisteredNotice => "the registered notice",
            Interrupter::Acknowledgement => "the acknowledgement",
        }
    }
}

/// What an interrupting act does to the running period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// A new period of the rule's own length starts the next day (NL 3:319 BW; BE 2248 oud BW).
    Restart,
    /// A new period of `years` (at most the rule's own) starts the next day, the claim never
    /// prescribing before the current end; only the first such act counts (BE 2244 §2 oud BW).
    NewPeriodOnce { years: u32 },
    /// It does not interrupt.
    None,
}

/// One `[[prescription]]` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub jurisdiction: Jurisdiction,
    pub who: CustomerKind,
    pub what: What,
    pub years: u32,
    pub runs_from: RunsFrom,
    pub warn_days: u32,
    pub article: String,
    /// What the warning says, e.g. "a claim for payment against a business prescribes 5 years
    /// after it became due".
    pub rule: String,
    pub confidence: Confidence,
    pub source: String,
    pub note: Option<String>,
}

/// One `[[prescription_interruption]]` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterruptionRule {
    pub jurisdiction: Jurisdiction,
    pub by: Interrupter,
    pub effect: Effect,
    pub article: String,
    pub rule: String,
    pub confidence: Confidence,
    pub source: String,
    pub note: Option<String>,
}

/// The prescription tables after the override was merged in. Every jurisdiction and debtor
/// kind has a period for goods and for services, and every act has a row per jurisdiction.
#[derive(Debug, Clone)]
pub struct PrescriptionRules {
    rules: Vec<Rule>,
    interruptions: Vec<InterruptionRule>,
    /// Index into `rules` per [`case`] slot.
    cases: Vec<usize>,
    /// Index into `interruptions` per [`act`] slot.
    acts: Vec<usize>,
}

const JURISDICTIONS: [Jurisdiction; 2] = [Jurisdiction::Nl, Jurisdiction::Be];
const KINDS: [CustomerKind; 2] = [CustomerKind::B2b, CustomerKind::B2c];
const SUBJECTS: [What; 2] = [What::Goods, What::Services];

fn j_index(j: Jurisdiction) -> usize {
    match j {
        Jurisdiction::Nl => 0,
        Jurisdiction::Be => 1,
    }
}

/// The slot of a (jurisdiction, kind, goods or services) case.
fn case(j: Jurisdiction, who: CustomerKind, subject: What) -> usize {
    let k = match who {
        CustomerKind::B2b => 0,
        CustomerKind::B2c => 1,
    };
    let s = match subject {
        What::Services => 1,
        What::Goods | What::Any => 0,
    };
    j_index(j) * 4 + k * 2 + s
}

/// The slot of a (jurisdiction, act) pair.
fn act(j: Jurisdiction, by: Interrupter) -> usize {
    j_index(j) * Interrupter::ALL.len() + by as usize
}

impl PrescriptionRules {
    /// The shipped tables only.
    pub fn shipped() -> Result<PrescriptionRules, RatesError> {
        Rates::shipped().map(|r| r.prescription)
    }

    /// The shipped tables with the rate override file (if any) merged over them.
    pub fn load(override_file: Option<&Path>) -> Result<PrescriptionRules, RatesError> {
        Rates::load(override_file).map(|r| r.prescription)
    }

    /// From `(file name, TOML text)` pairs, as [`Rates::from_sources`]: the first is a complete
    /// rate file, the following ones override it row by row.
    pub fn from_sources(sources: &[(&str, &str)]) -> Result<PrescriptionRules, RatesError> {
        Rates::from_sources(sources).map(|r| r.prescription)
    }

    /// Every period row, in file order (overridden rows in place).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Every interruption row, in file order.
    pub fn interruptions(&self) -> &[InterruptionRule] {
        &self.interruptions
    }

    /// The row that governs a claim for goods or services (`subject` is `Goods` or `Services`).
    pub fn rule_for(&self, j: Jurisdiction, who: CustomerKind, subject: What) -> &Rule {
        &self.rules[self.cases[case(j, who, subject)]]
    }

    /// What `by` does under the law of `j`.
    pub fn interruption_for(&self, j: Jurisdiction, by: Interrupter) -> &InterruptionRule {
        &self.interruptions[self.acts[act(j, by)]]
    }
}

/// An act on a day (the day it was sent or made).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Interruption {
    pub on: NaiveDate,
    pub by: Interrupter,
}

/// The claim of one invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The law that governs the claim (for a consumer: the consumer's country, Rome I art. 6).
    pub jurisdiction: Jurisdiction,
    pub kind: CustomerKind,
    pub goods: Goods,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    /// Demands sent, notices, acknowledgements, in any order. Pass every written message that
    /// claimed payment (e-mail, letter); not calls.
    pub interruptions: Vec<Interruption>,
}

impl Claim {
    pub fn new(
        jurisdiction: Jurisdiction,
        kind: CustomerKind,
        goods: Goods,
        issue_date: NaiveDate,
        due_date: NaiveDate,
    ) -> Claim {
        Claim { jurisdiction, kind, goods, issue_date, due_date, interruptions: Vec::new() }
    }

    /// Adds a written demand sent on `on` (the usual case: a reminder or formal notice).
    pub fn with_demand(mut self, on: NaiveDate) -> Claim {
        self.interruptions.push(Interruption { on, by: Interrupter::Demand });
        self
    }

    pub fn with(mut self, by: Interrupter, on: NaiveDate) -> Claim {
        self.interruptions.push(Interruption { on, by });
        self
    }
}

/// Why an act did not move the date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ignored {
    /// The law does not give it that effect (a Belgian creditor's own reminder).
    NoEffect,
    /// Before the period started running.
    BeforeStart,
    /// On or after the day the claim prescribed.
    TooLate,
    /// A second act of a kind that interrupts only once (BE art. 2244 §2).
    OnlyOnce,
}

/// When a claim prescribes, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prescription {
    /// The first day on which the claim is prescribed (the last day to act is the day before).
    pub prescribes_on: NaiveDate,
    /// From this day on the claim is near prescription (`prescribes_on - warn_days`).
    pub warn_from: NaiveDate,
    pub rule: Rule,
    pub due_date: NaiveDate,
    pub issue_date: NaiveDate,
    /// The acts that moved the date, oldest first, with their row.
    pub counted: Vec<(Interruption, InterruptionRule)>,
    /// The acts that did not, with why.
    pub ignored: Vec<(Interruption, InterruptionRule, Ignored)>,
}

/// Where a claim stands on a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "standing", rename_all = "snake_case")]
pub enum Standing {
    Fine,
    /// Within the rule's `warn_days` of prescribing.
    Near {
        prescribes_on: NaiveDate,
        rule: String,
    },
    /// Prescribed: escalating needs a person's approval.
    Past {
        prescribed_on: NaiveDate,
        rule: String,
    },
}

/// When `claim` prescribes under `rules`. With [`Goods::Unknown`] the period that ends first
/// (goods or services) is taken.
pub fn prescription(rules: &PrescriptionRules, claim: &Claim) -> Prescription {
    let of = |subject| compute(rules, rules.rule_for(claim.jurisdiction, claim.kind, subject), claim);
    match claim.goods {
        Goods::Goods => of(What::Goods),
        Goods::Services => of(What::Services),
        Goods::Unknown => {
            let (goods, services) = (of(What::Goods), of(What::Services));
            if services.prescribes_on < goods.prescribes_on {
                services
            } else {
                goods
            }
        }
    }
}

/// Whether `claim` is fine, near prescription or past it on `at`.
pub fn standing(rules: &PrescriptionRules, claim: &Claim, at: NaiveDate) -> Standing {
    let p = prescription(rules, claim);
    if at >= p.prescribes_on {
        Standing::Past { prescribed_on: p.prescribes_on, rule: p.sentence(at) }
    } else if at >= p.warn_from {
        Standing::Near { prescribes_on: p.prescribes_on, rule: p.sentence(at) }
    } else {
        Standing::Fine
    }
}

impl Prescription {
    /// A sentence for warnings, e.g. "NL: a claim for payment against a business prescribes 5
    /// years after it became due (art. 3:307 lid 1 BW); invoice due 2021-03-01 prescribed on
    /// 2026-03-02". Tense and the acts' effects as seen on `at`.
    pub fn sentence(&self, at: NaiveDate) -> String {
        let r = &self.rule;
        let invoice = match r.runs_from {
            RunsFrom::DueDate => format!("invoice due {}", self.due_date),
            RunsFrom::IssueDate => format!("invoice dated {}", self.issue_date),
        };
        let verb = if at >= self.prescribes_on { "prescribed" } else { "prescribes" };
        let mut s = format!(
            "{}: {} ({}); {invoice} {verb} on {}",
            r.jurisdiction.country(),
            r.rule,
            r.article,
            self.prescribes_on
        );
        if let Some((i, row)) = self.counted.last() {
            let how = match row.effect {
                Effect::NewPeriodOnce { .. } => "extended",
                _ => "restarted",
            };
            s.push_str(&format!("; {how} by {} of {} ({})", i.by.noun(), i.on, row.article));
        }
        if let Some((i, row, _)) = self.ignored.iter().rev().find(|(_, _, why)| *why == Ignored::NoEffect) {
            s.push_str(&format!("; {} of {} does not interrupt it ({})", i.by.noun(), i.on, row.article));
        }
        s
    }
}

fn compute(rules: &PrescriptionRules, rule: &Rule, claim: &Claim) -> Prescription {
    let start = match rule.runs_from {
        RunsFrom::DueDate => claim.due_date,
        RunsFrom::IssueDate => claim.issue_date,
    };
    let mut end = prescribed_from(start, rule.years);
    let mut acts = claim.interruptions.clone();
    acts.sort_by_key(|i| (i.on, i.by));
    let mut counted = Vec::new();
    let mut ignored = Vec::new();
    let mut once_used = false;
    for i in acts {
        let row = rules.interruption_for(rule.jurisdiction, i.by).clone();
        let why = if row.effect == Effect::None {
            Some(Ignored::NoEffect)
        } else if i.on < start {
            Some(Ignored::BeforeStart)
        } else if i.on >= end {
            Some(Ignored::TooLate)
        } else {
            None
        };
        if let Some(why) = why {
            ignored.push((i, row, why));
            continue;
        }
        match row.effect {
            Effect::Restart => end = end.max(prescribed_from(i.on, rule.years)),
            Effect::NewPeriodOnce { years } => {
                if once_used {
                    ignored.push((i, row, Ignored::OnlyOnce));
                    continue;
                }
                once_used = true;
                end = end.max(prescribed_from(i.on, years.min(rule.years)));
            }
            Effect::None => {}
        }
        counted.push((i, row));
    }
    Prescription {
        prescribes_on: end,
        warn_from: end.checked_sub_days(Days::new(rule.warn_days.into())).unwrap_or(NaiveDate::MIN),
        rule: rule.clone(),
        due_date: claim.due_date,
        issue_date: claim.issue_date,
        counted,
        ignored,
    }
}

/// A period of `years` that starts running on the day after `event`: the first day on which
/// the claim is prescribed is the same calendar date as that first day, `years` later. A first
/// day of 29 February has no such date in a common year: the period then ends with 28 February
/// and the claim is prescribed from 1 March.
pub fn prescribed_from(event: NaiveDate, years: u32) -> NaiveDate {
    let Some(first) = event.succ_opt() else { return NaiveDate::MAX };
    let year = i32::try_from(years).ok().and_then(|y| first.year().checked_add(y));
    let Some(year) = year else { return NaiveDate::MAX };
    NaiveDate::from_ymd_opt(year, first.month(), first.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
        .unwrap_or(NaiveDate::MAX)
}

impl fmt::Display for Standing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Standing::Fine => f.write_str("not near prescription"),
            Standing::Near { rule, .. } => write!(f, "near prescription: {rule}"),
            Standing::Past { rule, .. } => write!(f, "prescribed: {rule}"),
        }
    }
}

// ----- parsing (called by `rates.rs`) ----------------------------------------------------------

/// A jurisdiction written `"NL"` or `"nl"`.
#[derive(Debug, Clone, Copy)]
struct Jur(Jurisdiction);

impl<'de> Deserialize<'de> for Jur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map(Jur).map_err(de::Error::custom)
    }
}

/// A `[[prescription]]` row as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    jurisdiction: Jur,
    who: CustomerKind,
    what: What,
    years: u32,
    runs_from: RunsFrom,
    warn_days: u32,
    article: String,
    rule: String,
    confidence: Confidence,
    source: String,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawEffect {
    Restart,
    NewPeriodOnce,
    None,
}

/// A `[[prescription_interruption]]` row as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInterruption {
    jurisdiction: Jur,
    by: Interrupter,
    effect: RawEffect,
    years: Option<u32>,
    article: String,
    rule: String,
    confidence: Confidence,
    source: String,
    note: Option<String>,
}

/// Collects the rows of each file in order; a later file's row replaces the row with the same
/// key, a second row with the same key in one file is an error.
#[derive(Default)]
pub(crate) struct Builder {
    rules: Vec<(Rule, String, usize)>,
    interruptions: Vec<(InterruptionRule, String, usize)>,
}

/// The most years a period may have (BE real actions: 30).
const MAX_YEARS: u32 = 30;

impl Builder {
    pub(crate) fn add(
        &mut self,
        file: &str,
        text: &str,
        rules: Vec<toml::Spanned<RawRule>>,
        interruptions: Vec<toml::Spanned<RawInterruption>>,
    ) -> Result<(), RatesError> {
        for row in rules {
            let line = line_col(text, row.span().start).0;
            let invalid = |message: String| RatesError::Invalid { file: file.to_string(), line, message };
            let r = row.into_inner();
            if r.years == 0 || r.years > MAX_YEARS {
                return Err(invalid(format!(
                    "a prescription period of {} years; write 1 to {MAX_YEARS}",
                    r.years
                )));
            }
            if u64::from(r.warn_days) >= u64::from(r.years) * 365 {
                return Err(invalid(format!(
                    "`warn_days` {} is not shorter than the period of {} years",
                    r.warn_days, r.years
                )));
            }
            let rule = Rule {
                jurisdiction: r.jurisdiction.0,
                who: r.who,
                what: r.what,
                years: r.years,
                runs_from: r.runs_from,
                warn_days: r.warn_days,
                article: r.article,
                rule: r.rule,
                confidence: r.confidence,
                source: r.source,
                note: r.note,
            };
            let k = (rule.jurisdiction, rule.who, rule.what);
            let same = move |o: &Rule| (o.jurisdiction, o.who, o.what) == k;
            let key =
                format!("{} {} {}", rule.jurisdiction.country(), rule.who.as_str(), what_str(rule.what));
            upsert(&mut self.rules, rule, file, line, same, &key)?;
        }
        for row in interruptions {
            let line = line_col(text, row.span().start).0;
            let invalid = |message: String| RatesError::Invalid { file: file.to_string(), line, message };
            let r = row.into_inner();
            let effect = match (r.effect, r.years) {
                (RawEffect::NewPeriodOnce, Some(y)) if (1..=MAX_YEARS).contains(&y) => {
                    Effect::NewPeriodOnce { years: y }
                }
                (RawEffect::NewPeriodOnce, _) => {
                    return Err(invalid(format!(
                        "`effect = \"new_period_once\"` needs `years` (1 to {MAX_YEARS}): the length of the new period"
                    )))
                }
                (_, Some(_)) => {
                    return Err(invalid(
                        "`years` belongs only to `effect = \"new_period_once\"`; a restart runs the rule's own period"
                            .into(),
                    ))
                }
                (RawEffect::Restart, None) => Effect::Restart,
                (RawEffect::None, None) => Effect::None,
            };
            let row = InterruptionRule {
                jurisdiction: r.jurisdiction.0,
                by: r.by,
                effect,
                article: r.article,
                rule: r.rule,
                confidence: r.confidence,
                source: r.source,
                note: r.note,
            };
            let k = (row.jurisdiction, row.by);
            let same = move |o: &InterruptionRule| (o.jurisdiction, o.by) == k;
            let key = format!("{} {}", row.jurisdiction.country(), row.by.as_str());
            upsert(&mut self.interruptions, row, file, line, same, &key)?;
        }
        Ok(())
    }

    /// Checks that every case has a row; `first` is the shipped file's name (for errors).
    pub(crate) fn finish(self, first: &str) -> Result<PrescriptionRules, RatesError> {
        let missing = |message: String| RatesError::Invalid { file: first.to_string(), line: 1, message };
        let rules: Vec<Rule> = self.rules.into_iter().map(|(r, _, _)| r).collect();
        let interruptions: Vec<InterruptionRule> =
            self.interruptions.into_iter().map(|(r, _, _)| r).collect();
        let mut cases = vec![0; JURISDICTIONS.len() * KINDS.len() * SUBJECTS.len()];
        for j in JURISDICTIONS {
            for who in KINDS {
                for subject in SUBJECTS {
                    let find = |what: What| {
                        rules.iter().position(|r| r.jurisdiction == j && r.who == who && r.what == what)
                    };
                    let index = find(subject).or_else(|| find(What::Any)).ok_or_else(|| {
                        missing(format!(
                            "no `[[prescription]]` row for {} {} {} (nor one with `what = \"any\"`)",
                            j.country(),
                            who.as_str(),
                            what_str(subject)
                        ))
                    })?;
                    cases[case(j, who, subject)] = index;
                }
            }
        }
        let mut acts = vec![0; JURISDICTIONS.len() * Interrupter::ALL.len()];
        for j in JURISDICTIONS {
            for by in Interrupter::ALL {
                let index = interruptions.iter().position(|r| r.jurisdiction == j && r.by == by).ok_or_else(
                    || {
                        missing(format!(
                            "no `[[prescription_interruption]]` row for {} `by = \"{}\"`",
                            j.country(),
                            by.as_str()
                        ))
                    },
                )?;
                acts[act(j, by)] = index;
            }
        }
        Ok(PrescriptionRules { rules, interruptions, cases, acts })
    }
}

fn what_str(w: What) -> &'static str {
    match w {
        What::Goods => "goods",
        What::Services => "services",
        What::Any => "any",
    }
}

fn upsert<T>(
    rows: &mut Vec<(T, String, usize)>,
    row: T,
    file: &str,
    line: usize,
    same: impl Fn(&T) -> bool,
    key: &str,
) -> Result<(), RatesError> {
    match rows.iter_mut().find(|(o, _, _)| same(o)) {
        Some((_, f, first_line)) if f == file => Err(RatesError::Invalid {
            file: file.to_string(),
            line,
            message: format!("a second {key} row; the first is on line {first_line}. Remove one"),
        }),
        Some(existing) => {
            *existing = (row, file.to_string(), line);
            Ok(())
        }
        None => {
            rows.push((row, file.to_string(), line));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rates::{SHIPPED_RATES, SHIPPED_RATES_NAME};
    use super::*;
    use CustomerKind::{B2b, B2c};
    use Jurisdiction::{Be, Nl};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn rules() -> PrescriptionRules {
        PrescriptionRules::shipped().unwrap()
    }

    /// A claim whose invoice is dated 30 days before it is due.
    fn claim(j: Jurisdiction, kind: CustomerKind, goods: Goods, due: &str) -> Claim {
        let due = d(due);
        Claim::new(j, kind, goods, due - Days::new(30), due)
    }

    fn on(rules: &PrescriptionRules, c: &Claim) -> NaiveDate {
        prescription(rules, c).prescribes_on
    }

    #[test]
    fn periods_run_from_the_day_after_and_end_on_the_same_date() {
        // Due 1 March: the period starts on 2 March; five years later, on 2 March, it is over.
        assert_eq!(prescribed_from(d("2021-03-01"), 5), d("2026-03-02"));
        assert_eq!(prescribed_from(d("2024-12-31"), 1), d("2026-01-01"));
        // Leap days: a period that starts on 29 February ends with 28 February of a common
        // year (prescribed from 1 March), and with 28 February of a leap year too.
        assert_eq!(prescribed_from(d("2024-02-28"), 1), d("2025-03-01"));
        assert_eq!(prescribed_from(d("2024-02-28"), 2), d("2026-03-01"));
        assert_eq!(prescribed_from(d("2024-02-28"), 4), d("2028-02-29"));
        // Due on 29 February: the period starts on 1 March.
        assert_eq!(prescribed_from(d("2024-02-29"), 5), d("2029-03-01"));
        // A period that starts on 1 March takes in a later 29 February.
        assert_eq!(prescribed_from(d("2023-02-28"), 1), d("2024-03-01"));
        assert_eq!(prescribed_from(NaiveDate::MAX, 1), NaiveDate::MAX);
    }

    #[test]
    fn nl_business_five_years_art_3_307() {
        let r = rules();
        let c = claim(Nl, B2b, Goods::Goods, "2021-03-01");
        assert_eq!(on(&r, &c), d("2026-03-02"));
        assert_eq!(on(&r, &Claim { goods: Goods::Services, ..c.clone() }), d("2026-03-02"));
        assert_eq!(
            standing(&r, &c, d("2026-03-02")),
            Standing::Past {
                prescribed_on: d("2026-03-02"),
                rule: "NL: a claim for payment against a business prescribes 5 years after it became due \
                       (art. 3:307 lid 1 BW); invoice due 2021-03-01 prescribed on 2026-03-02"
                    .into()
            }
        );
        // 180 days of warning: from 2025-09-03 on.
        assert_eq!(standing(&r, &c, d("2025-09-02")), Standing::Fine);
        match standing(&r, &c, d("2025-09-03")) {
            Standing::Near { prescribes_on, rule } => {
                assert_eq!(prescribes_on, d("2026-03-02"));
                assert!(rule.ends_with("invoice due 2021-03-01 prescribes on 2026-03-02"), "{rule}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(standing(&r, &c, d("2026-03-01")), Standing::Near { .. }));
    }

    #[test]
    fn nl_consumer_goods_two_years_art_7_28_services_five() {
        let r = rules();
        let goods = claim(Nl, B2c, Goods::Goods, "2024-01-15");
        assert_eq!(on(&r, &goods), d("2026-01-16"));
        let services = Claim { goods: Goods::Services, ..goods.clone() };
        assert_eq!(on(&r, &services), d("2029-01-16"));
        // Unknown: the shorter period, so the warning comes early.
        let unknown = Claim { goods: Goods::Unknown, ..goods.clone() };
        let p = prescription(&r, &unknown);
        assert_eq!(p.prescribes_on, d("2026-01-16"));
        assert_eq!(p.rule.article, "art. 7:28 BW");
        // 90 days of warning: 2026-01-16 - 90 days = 2025-10-18.
        assert_eq!(p.warn_from, d("2025-10-18"));
        assert_eq!(standing(&r, &unknown, d("2025-10-17")), Standing::Fine);
        assert!(matches!(standing(&r, &unknown, d("2025-10-18")), Standing::Near { .. }));
        // Leap day: due 2024-02-28, the two years start on 29 February and end with 28 February.
        assert_eq!(on(&r, &claim(Nl, B2c, Goods::Goods, "2024-02-28")), d("2026-03-01"));
    }

    #[test]
    fn be_periods_ten_years_and_one_year_for_consumer_goods() {
        let r = rules();
        // B2B: 10 years (art. 2262bis §1 oud BW), goods and services alike.
        let b2b = claim(Be, B2b, Goods::Goods, "2020-06-30");
        assert_eq!(on(&r, &b2b), d("2030-07-01"));
        assert_eq!(on(&r, &Claim { goods: Goods::Services, ..b2b.clone() }), d("2030-07-01"));
        // B2C goods: 1 year from delivery, taken as the invoice date (art. 2272 oud BW).
        let goods = Claim::new(Be, B2c, Goods::Goods, d("2025-01-10"), d("2025-02-09"));
        let p = prescription(&r, &goods);
        assert_eq!(p.prescribes_on, d("2026-01-11"));
        assert_eq!(p.rule.article, "art. 2272 lid 2 oud BW");
        assert_eq!(p.warn_from, d("2025-10-13"));
        assert_eq!(
            p.sentence(d("2026-01-11")),
            "BE: a business's claim for goods sold to a consumer prescribes 1 year after delivery, \
             taken as the invoice date (art. 2272 lid 2 oud BW); invoice dated 2025-01-10 prescribed on 2026-01-11"
        );
        // B2C services: 10 years from the due date.
        let services = Claim { goods: Goods::Services, ..goods.clone() };
        assert_eq!(on(&r, &services), d("2035-02-10"));
        let unknown = Claim { goods: Goods::Unknown, ..goods.clone() };
        assert_eq!(on(&r, &unknown), d("2026-01-11"));
        // Leap day: an invoice of 2024-02-28 starts the year on 29 February.
        let leap = Claim::new(Be, B2c, Goods::Goods, d("2024-02-28"), d("2024-03-29"));
        assert_eq!(on(&r, &leap), d("2025-03-01"));
    }

    #[test]
    fn nl_a_written_demand_restarts_the_period() {
        let r = rules();
        let c = claim(Nl, B2c, Goods::Goods, "2024-01-15").with_demand(d("2025-06-10"));
        let p = prescription(&r, &c);
        // A new period of two years starts on 2025-06-11.
        assert_eq!(p.prescribes_on, d("2027-06-11"));
        assert_eq!(p.counted.len(), 1);
        assert!(
            p.sentence(d("2027-01-01"))
                .ends_with("prescribes on 2027-06-11; restarted by the demand of 2025-06-10 (art. 3:317 lid 1 and 3:319 BW)"),
            "{}",
            p.sentence(d("2027-01-01"))
        );
        // Another one on the last day restarts it again; one on the day it prescribed is too late.
        let again = c.clone().with_demand(d("2027-06-10"));
        assert_eq!(on(&r, &again), d("2029-06-11"));
        let late = c.clone().with_demand(d("2027-06-11"));
        let p = prescription(&r, &late);
        assert_eq!(p.prescribes_on, d("2027-06-11"));
        assert_eq!(p.ignored.len(), 1);
        assert_eq!(p.ignored[0].2, Ignored::TooLate);
        // Order of the input does not matter.
        let unordered = claim(Nl, B2c, Goods::Goods, "2024-01-15")
            .with_demand(d("2027-06-10"))
            .with_demand(d("2025-06-10"));
        assert_eq!(on(&r, &unordered), d("2029-06-11"));
        // A reminder before the due date interrupts nothing: the period was not running.
        let early = claim(Nl, B2b, Goods::Goods, "2021-03-01").with_demand(d("2021-02-20"));
        let p = prescription(&r, &early);
        assert_eq!(p.prescribes_on, d("2026-03-02"));
        assert_eq!(p.ignored[0].2, Ignored::BeforeStart);
        // Business claim: the new period is five years again (3:319: equal to the original).
        let b2b = claim(Nl, B2b, Goods::Goods, "2021-03-01").with_demand(d("2025-12-31"));
        assert_eq!(on(&r, &b2b), d("2031-01-01"));
        assert_eq!(standing(&r, &b2b, d("2026-06-01")), Standing::Fine);
        // An acknowledgement restarts it too (3:318).
        let ack =
            claim(Nl, B2c, Goods::Goods, "2024-01-15").with(Interrupter::Acknowledgement, d("2025-02-01"));
        assert_eq!(on(&r, &ack), d("2027-02-02"));
    }

    #[test]
    fn be_a_reminder_does_not_interrupt() {
        let r = rules();
        let c =
            Claim::new(Be, B2c, Goods::Goods, d("2025-01-10"), d("2025-02-09")).with_demand(d("2025-12-01"));
        let p = prescription(&r, &c);
        assert_eq!(p.prescribes_on, d("2026-01-11"));
        assert!(p.counted.is_empty());
        assert_eq!(p.ignored[0].2, Ignored::NoEffect);
        match standing(&r, &c, d("2025-12-15")) {
            Standing::Near { prescribes_on, rule } => {
                assert_eq!(prescribes_on, d("2026-01-11"));
                assert!(
                    rule.ends_with(
                        "prescribes on 2026-01-11; the demand of 2025-12-01 does not interrupt it (art. 2244 and 2248 oud BW)"
                    ),
                    "{rule}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(standing(&r, &c, d("2026-01-11")), Standing::Past { .. }));
        // Nor for a business: ten years from the due date whatever the reminders.
        let b2b = claim(Be, B2b, Goods::Services, "2020-06-30").with_demand(d("2030-06-01"));
        assert_eq!(on(&r, &b2b), d("2030-07-01"));
    }

    #[test]
    fn be_a_lawyers_registered_notice_adds_one_year_once() {
        let r = rules();
        // Ten-year claim, notice near its end: one more year from the notice.
        let c =
            claim(Be, B2b, Goods::Goods, "2020-06-30").with(Interrupter::RegisteredNotice, d("2030-03-01"));
        let p = prescription(&r, &c);
        assert_eq!(p.prescribes_on, d("2031-03-02"));
        assert!(p
            .sentence(d("2030-12-01"))
            .contains("extended by the registered notice of 2030-03-01 (art. 2244 §2 oud BW)"));
        // Only once: a second notice changes nothing.
        let twice = c.clone().with(Interrupter::RegisteredNotice, d("2031-01-05"));
        let p = prescription(&r, &twice);
        assert_eq!(p.prescribes_on, d("2031-03-02"));
        assert_eq!(p.ignored[0].2, Ignored::OnlyOnce);
        // Never before the original end: an early notice leaves the ten years.
        let early =
            claim(Be, B2b, Goods::Goods, "2020-06-30").with(Interrupter::RegisteredNotice, d("2021-02-01"));
        assert_eq!(on(&r, &early), d("2030-07-01"));
        // The one-year consumer claim: a year from the notice.
        let consumer = Claim::new(Be, B2c, Goods::Goods, d("2025-01-10"), d("2025-02-09"))
            .with(Interrupter::RegisteredNotice, d("2025-11-01"));
        assert_eq!(on(&r, &consumer), d("2026-11-02"));
        // An acknowledgement restarts the period (art. 2248), after a notice too.
        let ack = Claim::new(Be, B2c, Goods::Goods, d("2025-01-10"), d("2025-02-09"))
            .with(Interrupter::Acknowledgement, d("2025-08-20"));
        assert_eq!(on(&r, &ack), d("2026-08-21"));
        let both = consumer.clone().with(Interrupter::Acknowledgement, d("2026-10-01"));
        assert_eq!(on(&r, &both), d("2027-10-02"));
    }

    #[test]
    fn shipped_table_has_sources_and_confidence() {
        let r = rules();
        assert_eq!(r.rules().len(), 6);
        assert_eq!(r.interruptions().len(), 6);
        for row in r.rules() {
            assert!(row.source.contains("http"), "{row:?}");
            assert!(row.warn_days > 0 && !row.article.is_empty() && !row.rule.is_empty());
        }
        for row in r.interruptions() {
            assert!(row.source.contains("http"), "{row:?}");
        }
        let nl = r.rule_for(Nl, B2b, What::Goods);
        assert_eq!((nl.years, nl.what, nl.confidence), (5, What::Any, Confidence::High));
        assert_eq!(r.rule_for(Be, B2c, What::Goods).confidence, Confidence::Medium);
        assert_eq!(r.interruption_for(Be, Interrupter::Demand).effect, Effect::None);
        assert_eq!(r.interruption_for(Nl, Interrupter::Demand).effect, Effect::Restart);
        assert_eq!(
            r.interruption_for(Be, Interrupter::RegisteredNotice).effect,
            Effect::NewPeriodOnce { years: 1 }
        );
        assert_eq!(r.interruption_for(Nl, Interrupter::Acknowledgement).confidence, Confidence::Low);
        // The rate tables carry the same rules.
        assert_eq!(Rates::shipped().unwrap().prescription.rules(), r.rules());
    }

    #[test]
    fn an_override_replaces_rows_by_key() {
        let over = r#"
[[prescription]]
jurisdiction = "BE"
who = "b2c"
what = "services"
years = 5
runs_from = "due_date"
warn_days = 120
article = "art. 2277 oud BW"
rule = "a periodic debt prescribes 5 years after it became due"
confidence = "medium"
source = "operator"

[[prescription_interruption]]
jurisdiction = "be"
by = "demand"
effect = "restart"
article = "test"
rule = "test"
confidence = "low"
source = "operator"
"#;
        let r = PrescriptionRules::from_sources(&[(SHIPPED_RATES_NAME, SHIPPED_RATES), ("local.toml", over)])
            .unwrap();
        assert_eq!(r.rules().len(), 6);
        let c = claim(Be, B2c, Goods::Services, "2025-02-09");
        assert_eq!(on(&r, &c), d("2030-02-10"));
        assert_eq!(prescription(&r, &c).warn_from, d("2030-02-10") - Days::new(120));
        // The demand now restarts, as the override says.
        assert_eq!(on(&r, &c.clone().with_demand(d("2026-01-01"))), d("2031-01-02"));
        // Other rows stay.
        assert_eq!(on(&r, &claim(Be, B2c, Goods::Goods, "2025-02-09")), d("2026-01-11"));
    }

    #[test]
    fn load_reads_the_rate_override_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rates.toml");
        let row = "[[prescription]]\njurisdiction = \"NL\"\nwho = \"b2b\"\nwhat = \"goods\"\nyears = 3\n\
                   runs_from = \"due_date\"\nwarn_days = 30\narticle = \"x\"\nrule = \"y\"\nconfidence = \"low\"\nsource = \"z\"\n";
        std::fs::write(&path, row).unwrap();
        let r = PrescriptionRules::load(Some(&path)).unwrap();
        // The specific goods row wins over the shipped `any` row; services keep the shipped one.
        assert_eq!(on(&r, &claim(Nl, B2b, Goods::Goods, "2021-03-01")), d("2024-03-02"));
        assert_eq!(on(&r, &claim(Nl, B2b, Goods::Services, "2021-03-01")), d("2026-03-02"));
        assert_eq!(PrescriptionRules::load(None).unwrap().rules(), rules().rules());
    }

    #[test]
    fn bad_rows_are_refused_with_file_and_line() {
        let load = |text: &str| {
            PrescriptionRules::from_sources(&[(SHIPPED_RATES_NAME, SHIPPED_RATES), ("o.toml", text)])
                .unwrap_err()
                .to_string()
        };
        let row = |extra: &str| {
            format!(
                "\n[[prescription]]\njurisdiction = \"NL\"\nwho = \"b2b\"\nwhat = \"any\"\nruns_from = \"due_date\"\n\
                 article = \"a\"\nrule = \"r\"\nconfidence = \"low\"\nsource = \"s\"\n{extra}"
            )
        };
        let e = load(&row("years = 0\nwarn_days = 10\n"));
        assert!(e.starts_with("o.toml:2:") && e.contains("1 to 30"), "{e}");
        let e = load(&row("years = 1\nwarn_days = 365\n"));
        assert!(e.starts_with("o.toml:2:") && e.contains("warn_days"), "{e}");
        let e = load(&row("years = 1\nwarn_days = 10\nperiod = 3\n"));
        assert!(e.starts_with("o.toml:") && e.contains("period"), "{e}");
        let e = load(&row("years = 1\nwarn_days = 10\nwho = \"b2x\"\n"));
        assert!(e.starts_with("o.toml:"), "{e}");
        let twice = format!("{}{}", row("years = 1\nwarn_days = 10\n"), row("years = 2\nwarn_days = 10\n"));
        let e = load(&twice);
        assert!(e.starts_with("o.toml:14:") && e.contains("line 2"), "{e}");
        let once = "[[prescription_interruption]]\njurisdiction = \"BE\"\nby = \"registered_notice\"\n\
                    effect = \"new_period_once\"\narticle = \"a\"\nrule = \"r\"\nconfidence = \"low\"\nsource = \"s\"\n";
        let e = load(once);
        assert!(e.starts_with("o.toml:1:") && e.contains("needs `years`"), "{e}");
        let e = load(&once.replace("new_period_once", "restart").replace("article", "years = 2\narticle"));
        assert!(e.contains("only to"), "{e}");
        let e = load("[[prescription_interruption]]\njurisdiction = \"FR\"\n");
        assert!(e.starts_with("o.toml:") && e.contains("jurisdiction"), "{e}");
    }

    #[test]
    fn a_table_without_a_case_is_refused() {
        let e = Builder::default().finish("rates.toml").unwrap_err().to_string();
        assert!(e.starts_with("rates.toml:1:") && e.contains("NL b2b goods"), "{e}");
        // The shipped file without its interruption rows.
        let cut = SHIPPED_RATES.replace("[[prescription_interruption]]", "[[prescription_interruptio]]");
        assert!(Rates::from_sources(&[("x", &cut)]).is_err());
    }
}
