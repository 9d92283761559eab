//! How a spreadsheet file is written: its encoding, separator, decimal mark and date forms.
//!
//! Excel on a Dutch or Belgian computer saves "CSV" as Windows-1252 text separated by `;`,
//! with a decimal comma (`1.234,50`) and day-first dates (`31-10-2026`, `31/10/2026`). Each of
//! these is detected per file and can be fixed in `[import]` of dunwell.toml. Nothing is
//! guessed where a guess could be wrong: a file whose amounts could be read with either
//! decimal mark (only values like `1.234`) is refused with a message saying what was detected
//! and what to set, and dates are never read month-first unless configured (`03/04/2026` is
//! 3 April here).
//!
//! A comma-separated file whose columns carry dunwell's own names (`shared/formats/
//! csv-export.md`) is read exactly as that format says: UTF-8, `1234.50`, `YYYY-MM-DD`,
//! unless `[import]` says otherwise. Money is never read through floating point.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::CustomerKind;

/// `[import]` in dunwell.toml: what to take instead of detecting, and extra column names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `","`, `";"` or `"tab"`: the field separator of every CSV file.
    pub separator: Option<Separator>,
    /// `"comma"` or `"point"`: the decimal mark of every CSV file's amounts.
    pub decimal: Option<DecimalMark>,
    /// The one form of dates that are not `YYYY-MM-DD`, e.g. `"DD-MM-YYYY"` or, to read the
    /// month first, `"MM/DD/YYYY"`.
    pub date_format: Option<DateFormat>,
    /// `"utf-8"` or `"windows-1252"`: the encoding of every CSV file.
    pub encoding: Option<Encoding>,
    /// The kind of every new customer of a file without a `kind` column (`"b2b"` or `"b2c"`).
    /// Without it such a file is refused: the law differs for consumers, so it is not guessed.
    pub default_kind: Option<CustomerKind>,
    /// `[import.columns]`: `"Header text" = "field"` (or `"ignore"`), for headers dunwell does
    /// not know. The header is matched case-insensitively.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnTarget>,
}

impl Settings {
    /// The `[import.columns]` target of a header, matched case-insensitively.
    pub fn column(&self, header: &str) -> Option<&ColumnTarget> {
        let h = header.trim();
        self.columns.iter().find(|(k, _)| k.trim().to_lowercase() == h.to_lowercase()).map(|(_, v)| v)
    }
}

/// What `[import.columns]` maps a header to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnTarget {
    Field(&'static str),
    /// `"ignore"`: the column is not read (for a second column that would mean the same).
    Ignore,
}

impl<'de> Deserialize<'de> for ColumnTarget {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let t = s.trim().to_ascii_lowercase();
        if t == "ignore" {
            return Ok(ColumnTarget::Ignore);
        }
        let fields = super::columns::fields();
        match fields.iter().find(|f| **f == t) {
            Some(f) => Ok(ColumnTarget::Field(f)),
            None => Err(serde::de::Error::custom(format!(
                "`{s}` in [import.columns] is not a field dunwell reads; use one of {}, or \"ignore\"",
                fields.join(", ")
            ))),
        }
    }
}

/// The field separator of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Separator(pub u8);

impl Separator {
    pub fn name(self) -> &'static str {
        match self.0 {
            b';' => ";",
            b'\t' => "tab",
            _ => ",",
        }
    }
}

impl<'de> Deserialize<'de> for Separator {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "," => Ok(Separator(b',')),
            ";" => Ok(Separator(b';')),
            "\t" | "tab" | "TAB" => Ok(Separator(b'\t')),
            other => Err(serde::de::Error::custom(format!(
                "separator = \"{}\" is not a separator dunwell reads; use \",\", \";\" or \"tab\"",
                other.escape_debug()
            ))),
        }
    }
}

/// The decimal mark of amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecimalMark {
    /// `1.234,50`, `1234,50`.
    Comma,
    /// `1,234.50`, `1234.50`.
    Point,
}

impl DecimalMark {
    pub fn name(self) -> &'static str {
        match self {
            DecimalMark::Comma => "comma",
            DecimalMark::Point => "point",
        }
    }
}

impl<'de> Deserialize<'de> for DecimalMark {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim().to_ascii_lowercase().as_str() {
            "comma" | "," => Ok(DecimalMark::Comma),
            "point" | "." => Ok(DecimalMark::Point),
            _ => Err(serde::de::Error::custom(format!(
                "decimal = \"{s}\" is not a decimal mark; use \"comma\" (1.234,50) or \"point\" (1,234.50)"
            ))),
        }
    }
}

/// The text encoding of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    /// UTF-8 with a byte-order mark (detected only; set as `utf-8`).
    Utf8Bom,
    /// What Excel writes as "CSV" on a Dutch or Belgian Windows computer (a superset of
    /// Latin-1 with €, „ and the like in 0x80–0x9F).
    Windows1252,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 with BOM",
            Encoding::Windows1252 => "Windows-1252",
        }
    }
}

impl<'de> Deserialize<'de> for Encoding {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "windows-1252" | "cp1252" | "latin-1" | "latin1" | "iso-8859-1" => Ok(Encoding::Windows1252),
            _ => Err(serde::de::Error::custom(format!(
                "encoding = \"{s}\" is not an encoding dunwell reads; use \"utf-8\" or \"windows-1252\" (what Excel writes as CSV on a Dutch or Belgian Windows computer)"
            ))),
        }
    }
}

/// Which comes first in a date that is not `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// `YYYY-MM-DD` only.
    Iso,
    DayFirst,
    MonthFirst,
}

/// `[import] date_format`: the form of dates other than `YYYY-MM-DD`, which is always read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateFormat {
    pub order: Order,
    /// `-`, `/` or `.`.
    pub sep: u8,
}

impl<'de> Deserialize<'de> for DateFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DateFormat::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "date_format = \"{s}\" is not a date form dunwell reads; use \"YYYY-MM-DD\", \"DD-MM-YYYY\", \"DD/MM/YYYY\", \"DD.MM.YYYY\" (D and M for days and months without a leading zero), or, only when the file writes the month first, \"MM/DD/YYYY\""
            ))
        })
    }
}

impl DateFormat {
    fn parse(s: &str) -> Option<DateFormat> {
        let t = s.trim().to_ascii_uppercase();
        if t == "YYYY-MM-DD" {
            return Some(DateFormat { order: Order::Iso, sep: b'-' });
        }
        let sep = [b'-', b'/', b'.'].into_iter().find(|c| t.as_bytes().contains(c))?;
        let parts: Vec<&str> = t.split(sep as char).collect();
        let [a, b, y] = parts.as_slice() else { return None };
        if *y != "YYYY" {
            return None;
        }
        let order = match (*a, *b) {
            ("DD" | "D", "MM" | "M") => Order::DayFirst,
            ("MM" | "M", "DD" | "D") => Order::MonthFirst,
            _ => return None,
        };
        Some(DateFormat { order, sep })
    }
}

/// How amounts of one file are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountRule {
    /// The documented export format: `1234.50` and nothing else.
    Strict,
    /// This decimal mark; the other mark (or a space) may group thousands.
    Mark(DecimalMark),
}

/// How dates of one file are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateRule {
    /// The documented export format: `YYYY-MM-DD` and nothing else.
    Strict,
    /// `YYYY-MM-DD`, or day first with `-`, `/` or `.` (`31-10-2026`, `3/4/2026`).
    DayFirst,
    /// `YYYY-MM-DD`, or the configured form.
    Format(DateFormat),
}

/// Reads an amount by `rule`; the error says what is wrong and how it should look.
pub fn parse_amount(s: &str, rule: AmountRule) -> Result<Decimal, String> {
    match rule {
        AmountRule::Strict => crate::model::parse_amount(s),
        AmountRule::Mark(mark) => {
            let t = s.trim();
            let Some(plain) = normalize_amount(t, mark) else {
                let example = match mark {
                    DecimalMark::Comma => "1.234,50 or 1234,50",
                    DecimalMark::Point => "1,234.50 or 1234.50",
                };
                return Err(format!(
                    "`{t}` is not an amount with a decimal {} (this file's); write it like {example}",
                    mark.name()
                ));
            };
            crate::model::parse_amount(&plain).map_err(|_| {
                format!("`{t}` is out of range; amounts may have at most 15 digits before and 6 after the decimal mark")
            })
        }
    }
}

/// `s` as `1234.50` (optional minus, digits, optional `.` and decimals) when it is an amount
/// with decimal mark `mark`: thousands grouped by the other mark or a space (every group of
/// three digits, the first of one to three), a `€` before or after.
pub fn normalize_amount(s: &str, mark: DecimalMark) -> Option<String> {
    let mut t = s.trim();
    let mut negative = false;
    if let Some(rest) = t.strip_prefix('-') {
        negative = true;
        t = rest.trim_start();
    }
    if let Some(rest) = t.strip_prefix('€') {
        t = rest.trim_start();
    } else if let Some(rest) = t.strip_suffix('€') {
        t = rest.trim_end();
    }
    if !negative {
        if let Some(rest) = t.strip_prefix('-') {
            negative = true;
            t = rest;
        }
    }
    let (dec, group) = match mark {
        DecimalMark::Comma => (',', '.'),
        DecimalMark::Point => ('.', ','),
    };
    let (int, frac) = match t.split_once(dec) {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    if let Some(f) = frac {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    if int.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(t.len() + 1);
    if negative {
        out.push('-');
    }
    if int.bytes().all(|b| b.is_ascii_digit()) {
        out.push_str(int);
    } else {
        let space = |c: char| matches!(c, ' ' | '\u{a0}' | '\u{202f}');
        let sep = int.chars().find(|c| !c.is_ascii_digit())?;
        if sep != group && !space(sep) {
            return None;
        }
        let groups: Vec<&str> = int.split(|c: char| if space(sep) { space(c) } else { c == sep }).collect();
        let first = groups[0];
        let first_ok = (1..=3).contains(&first.len()) && !first.starts_with('0');
        let rest_ok = groups[1..].iter().all(|g| g.len() == 3);
        if !first_ok || !rest_ok || !groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit())) {
            return None;
        }
        groups.iter().for_each(|g| out.push_str(g));
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    Some(out)
}

/// What one amount says about its file's decimal mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// Reads the same with either mark (`1234`, `1 234`).
    Either,
    /// Only a decimal comma reads it (`1.234,50`, `12,5`, `1.234.567`).
    Comma,
    /// Only a decimal point reads it (`1,234.50`, `12.5`).
    Point,
    /// Either mark reads it, differently (`1.234`, `1,234`).
    Ambiguous,
    /// Neither reads it (reported with the row).
    Neither,
}

pub fn evidence(s: &str) -> Evidence {
    let comma = normalize_amount(s, DecimalMark::Comma);
    let point = normalize_amount(s, DecimalMark::Point);
    match (comma, point) {
        (Some(c), Some(p)) if c == p => Evidence::Either,
        (Some(_), Some(_)) => Evidence::Ambiguous,
        (Some(_), None) => Evidence::Comma,
        (None, Some(_)) => Evidence::Point,
        (None, None) => Evidence::Neither,
    }
}

/// A form a date was written in, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateForm {
    pub order: Order,
    pub sep: u8,
    /// A day or month was written without its leading zero (`3-4-2026`).
    pub short: bool,
}

impl DateForm {
    const ISO: DateForm = DateForm { order: Order::Iso, sep: b'-', short: false };

    /// A bit for [`DatesSeen`].
    fn bit(self) -> u32 {
        let order = match self.order {
            Order::Iso => 0,
            Order::DayFirst => 1,
            Order::MonthFirst => 2,
        };
        let sep = match self.sep {
            b'/' => 1,
            b'.' => 2,
            _ => 0,
        };
        1 << (order * 8 + sep * 2 + u32::from(self.short))
    }

    fn name(self) -> String {
        let s = self.sep as char;
        match (self.order, self.short) {
            (Order::Iso, _) => "YYYY-MM-DD".into(),
            (Order::DayFirst, false) => format!("DD{s}MM{s}YYYY"),
            (Order::DayFirst, true) => format!("D{s}M{s}YYYY"),
            (Order::MonthFirst, false) => format!("MM{s}DD{s}YYYY"),
            (Order::MonthFirst, true) => format!("M{s}D{s}YYYY"),
        }
    }
}

/// The set of date forms one file used.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DatesSeen(pub u32);

impl DatesSeen {
    pub fn add(&mut self, form: DateForm) {
        self.0 |= form.bit();
    }

    /// The forms' names, day-first ones before `YYYY-MM-DD`. A form seen both with and
    /// without leading zeros is named once, by its short form (`D-M-YYYY`).
    pub fn names(self) -> Vec<String> {
        let mut out = Vec::new();
        for order in [Order::DayFirst, Order::MonthFirst, Order::Iso] {
            for sep in [b'-', b'/', b'.'] {
                let long = DateForm { order, sep, short: false };
                let short = DateForm { order, sep, short: true };
                if self.0 & short.bit() != 0 {
                    out.push(short.name());
                } else if self.0 & long.bit() != 0 {
                    out.push(long.name());
                }
            }
        }
        out.dedup();
        out
    }
}

/// Reads a date by `rule`, with the form it was written in.
pub fn parse_date(s: &str, rule: DateRule) -> Result<(NaiveDate, DateForm), String> {
    if rule == DateRule::Strict {
        return crate::model::parse_date(s).map(|d| (d, DateForm::ISO));
    }
    // Excel and some packages add a time of day to a date; the day is what counts.
    let t = strip_time(s.trim());
    let b = t.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        return crate::model::parse_date(t).map(|d| (d, DateForm::ISO));
    }
    let (order, allowed): (Order, &[u8]) = match rule {
        DateRule::Format(f) if f.order == Order::Iso => {
            return Err(format!(
                "`{t}` is not a date in the form YYYY-MM-DD that [import] date_format sets; write it like 2026-10-31"
            ))
        }
        DateRule::Format(f) => (f.order, std::slice::from_ref(match f.sep {
            b'/' => &b'/',
            b'.' => &b'.',
            _ => &b'-',
        })),
        _ => (Order::DayFirst, b"-/."),
    };
    let how = match rule {
        DateRule::Format(f) => format!(
            "write it as {} ([import] date_format) or YYYY-MM-DD",
            DateForm { order: f.order, sep: f.sep, short: false }.name()
        ),
        _ => "write it as DD-MM-YYYY (31-10-2026), DD/MM/YYYY or YYYY-MM-DD".to_string(),
    };
    let Some(sep) = allowed.iter().copied().find(|c| b.contains(c)) else {
        return Err(format!("`{t}` is not a date; {how}"));
    };
    let parts: Vec<&str> = t.split(sep as char).collect();
    let digits = |p: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit())
    };
    let [a, m, y] = parts.as_slice() else { return Err(format!("`{t}` is not a date; {how}")) };
    if !digits(a, 1..=2) || !digits(m, 1..=2) || !digits(y, 1..=4) {
        return Err(format!("`{t}` is not a date; {how}"));
    }
    if y.len() != 4 {
        return Err(format!(
            "`{t}` has a year of {} digits; give the column four-digit years (format the cells as dd-mm-jjjj in the spreadsheet)",
            y.len()
        ));
    }
    let n = |p: &str| p.parse::<u32>().unwrap_or(0);
    let (day, month) = match order {
        Order::MonthFirst => (n(m), n(a)),
        _ => (n(a), n(m)),
    };
    let short = a.len() == 1 || m.len() == 1;
    let form = DateForm { order, sep, short };
    match NaiveDate::from_ymd_opt(n(y) as i32, month, day) {
        Some(d) => Ok((d, form)),
        None if order == Order::DayFirst && month > 12 && day <= 12 => Err(format!(
            "`{t}` is not a date read day first (there is no month {month}); dates are read day first here (03/04/2026 is 3 April); if this file writes the month first, set [import] date_format = \"MM{s}DD{s}YYYY\"",
            s = sep as char
        )),
        None => Err(format!("`{t}` is not a valid calendar date")),
    }
}

/// `t` without a trailing time of day (` 14:30`, ` 0:00:00`, `T00:00:00`).
fn strip_time(t: &str) -> &str {
    let Some(i) = t.rfind([' ', 'T']) else { return t };
    let time = &t[i + 1..];
    let parts: Vec<&str> = time.split(':').collect();
    let shaped = (2..=3).contains(&parts.len())
        && parts.iter().enumerate().all(|(k, p)| {
            (if k == 0 { 1..=2 } else { 2..=2 }).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
        });
    if shaped && i >= 8 {
        t[..i].trim_end()
    } else {
        t
    }
}

/// The separator of a CSV file from its header line: the one of `,` `;` and tab that occurs
/// outside quotes; when several do, the one that splits the line into the most recognised
/// column names (`recognised` counts them), then the most columns. `None` when that still
/// leaves a tie (the caller asks for `[import] separator`).
pub fn detect_separator(line: &[u8], recognised: impl Fn(&[String]) -> usize) -> Option<u8> {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for &b in line {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            _ if !quoted => {
                for (c, n) in counts.iter_mut() {
                    if *c == b {
                        *n += 1;
                    }
                }
            }
            _ => {}
        }
    }
    let candidates: Vec<(u8, usize)> = counts.into_iter().filter(|(_, n)| *n > 0).collect();
    match candidates.as_slice() {
        [] => Some(b','),
        [(c, _)] => Some(*c),
        _ => {
            let scored: Vec<((usize, usize), u8)> =
                candidates.iter().map(|&(c, n)| ((recognised(&split_line(line, c)), n), c)).collect();
            let best = scored.iter().map(|(s, _)| *s).max()?;
            let winners: Vec<u8> = scored.iter().filter(|(s, _)| *s == best).map(|(_, c)| *c).collect();
            (winners.len() == 1).then(|| winners[0])
        }
    }
}

/// The fields of the first line of `bytes` split by `sep` (quotes honoured), trimmed.
pub fn split_line(bytes: &[u8], sep: u8) -> Vec<String> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(sep).from_reader(bytes);
    let mut rec = csv::ByteRecord::new();
    match reader.read_byte_record(&mut rec) {
        Ok(true) => rec.iter().map(|f| String::from_utf8_lossy(f).trim().to_string()).collect(),
        _ => Vec::new(),
    }
}

/// Whether `bytes` hold a well-formed UTF-8 sequence of more than one byte (a file that has
/// them and also invalid bytes is UTF-8 with damage, not Windows-1252).
pub fn has_utf8_multibyte(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => return !s.is_ascii(),
            Err(e) => {
                let good = &rest[..e.valid_up_to()];
                if !good.is_ascii() {
                    return true;
                }
                rest = &rest[e.valid_up_to() + e.error_len().unwrap_or(rest.len() - e.valid_up_to())..];
            }
        }
    }
}

/// Windows-1252 bytes as UTF-8 text (every byte maps to a character; line breaks stay where
/// they were, so lines and columns of problems are the file's).
pub fn decode_windows_1252(bytes: &[u8]) -> String {
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
    text.into_owned()
}

/// What was detected (or configured) for one file, for the summary.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct FileDialect {
    /// `invoices.csv`, or `book.xlsx, sheet Facturen`.
    pub file: String,
    /// `export` (dunwell's own documented format), `csv` (a detected dialect) or `xlsx`.
    pub format: &'static str,
    /// `,`, `;` or `tab` (CSV only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub separator: Option<&'static str>,
    /// `comma`, `point`, or absent when no amount had a decimal mark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decimal: Option<&'static str>,
    /// The date forms seen, e.g. `["DD-MM-YYYY"]`.
    pub dates: Vec<String>,
    /// `UTF-8`, `UTF-8 with BOM` or `Windows-1252` (CSV only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<&'static str>,
    /// Which of the above `[import]` set instead of detection.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configured: Vec<&'static str>,
    /// Headers read under another name: `("Factuurnummer", "invoice_number")`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<(String, &'static str)>,
    /// The open-items preset whose columns were used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<&'static str>,
}

impl FileDialect {
    /// The parts of the description: separator, decimal mark, dates, encoding.
    fn parts(&self) -> [Option<String>; 4] {
        let set = |what: &str| if self.configured.contains(&what) { " (set in [import])" } else { "" };
        [
            self.separator.map(|sep| {
                format!("{} separated{}", if sep == "," { "comma" } else { sep }, set("separator"))
            }),
            self.decimal.map(|d| format!("decimal {d}{}", set("decimal"))),
            (!self.dates.is_empty())
                .then(|| format!("dates {}{}", self.dates.join(" and "), set("date_format"))),
            self.encoding.map(|e| format!("{e}{}", set("encoding"))),
        ]
    }
}

impl fmt::Display for FileDialect {
    /// `; separated, decimal comma, dates DD-MM-YYYY, Windows-1252`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Dialect::new(vec![self.clone()]).text)
    }
}

/// What was detected in every file of an import.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Dialect {
    /// One line for the import: `; separated, decimal comma, dates DD-MM-YYYY, Windows-1252`;
    /// where the files differ, each value with its file.
    pub text: String,
    pub files: Vec<FileDialect>,
}

impl Dialect {
    pub fn new(files: Vec<FileDialect>) -> Dialect {
        let mut parts: Vec<String> = Vec::new();
        let all: Vec<[Option<String>; 4]> = files.iter().map(FileDialect::parts).collect();
        for i in 0..4 {
            let mut distinct: Vec<(&str, Vec<&str>)> = Vec::new();
            for (file, p) in files.iter().zip(&all) {
                let Some(v) = &p[i] else { continue };
                match distinct.iter_mut().find(|(d, _)| d == v) {
                    Some((_, names)) => names.push(&file.file),
                    None => distinct.push((v, vec![&file.file])),
                }
            }
            match distinct.as_slice() {
                [] => {}
                [(v, _)] => parts.push(v.to_string()),
                many => parts.push(
                    many.iter()
                        .map(|(v, names)| format!("{v} ({})", names.join(", ")))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            }
        }
        if files.iter().any(|f| f.format == "xlsx") {
            parts.push("Excel workbook".into());
        }
        let mut text = parts.join(", ");
        if !files.is_empty() && files.iter().all(|f| f.format == "export") {
            text.push_str(" (dunwell's own export format)");
        }
        let mut presets: Vec<&str> = files.iter().filter_map(|f| f.preset).collect();
        presets.dedup();
        if !presets.is_empty() {
            text.push_str(&format!("; preset {}", presets.join(", ")));
        }
        Dialect { text, files }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn amount(s: &str, mark: DecimalMark) -> String {
        parse_amount(s, AmountRule::Mark(mark)).unwrap().to_string()
    }

    #[test]
    fn amounts_in_either_convention() {
        assert_eq!(amount("1.234,50", DecimalMark::Comma), "1234.50");
        assert_eq!(amount("1,234.50", DecimalMark::Point), "1234.50");
        assert_eq!(amount("1234,50", DecimalMark::Comma), "1234.50");
        assert_eq!(amount("1234.50", DecimalMark::Point), "1234.50");
        assert_eq!(amount("-1.234.567,8", DecimalMark::Comma), "-1234567.8");
        assert_eq!(amount("€ 1.234,50", DecimalMark::Comma), "1234.50");
        assert_eq!(amount("-€ 12,00", DecimalMark::Comma), "-12.00");
        assert_eq!(amount("1 234,50", DecimalMark::Comma), "1234.50");
        assert_eq!(amount("1\u{a0}234,50", DecimalMark::Comma), "1234.50");
        assert_eq!(amount("1.234", DecimalMark::Comma), "1234");
        assert_eq!(amount("1.234", DecimalMark::Point), "1.234");
        assert_eq!(amount("0,5", DecimalMark::Comma), "0.5");
        for bad in
            ["1.23,50", "12.34.5", ",50", "1,2,3", "1e5", "12,", "1.234.50", "01.234,00", "1 234.567,8"]
        {
            assert!(parse_amount(bad, AmountRule::Mark(DecimalMark::Comma)).is_err(), "{bad}");
        }
        let err = parse_amount("1,234.50", AmountRule::Mark(DecimalMark::Comma)).unwrap_err();
        assert!(err.contains("decimal comma"), "{err}");
        assert!(parse_amount("1234567890123456,00", AmountRule::Mark(DecimalMark::Comma)).is_err());
    }

    #[test]
    fn the_strict_rule_is_the_documented_format() {
        assert_eq!(parse_amount("1234.50", AmountRule::Strict).unwrap().to_string(), "1234.50");
        assert!(parse_amount("1.234,50", AmountRule::Strict).is_err());
        assert!(parse_date("31-10-2026", DateRule::Strict).is_err());
    }

    #[test]
    fn evidence_of_each_amount() {
        assert_eq!(evidence("1.234,50"), Evidence::Comma);
        assert_eq!(evidence("1234,50"), Evidence::Comma);
        assert_eq!(evidence("1.234.567"), Evidence::Comma);
        assert_eq!(evidence("0,123"), Evidence::Comma);
        assert_eq!(evidence("1234,567"), Evidence::Comma);
        assert_eq!(evidence("1,234.50"), Evidence::Point);
        assert_eq!(evidence("12.5"), Evidence::Point);
        assert_eq!(evidence("1.234"), Evidence::Ambiguous);
        assert_eq!(evidence("1,234"), Evidence::Ambiguous);
        assert_eq!(evidence("-999,000"), Evidence::Ambiguous);
        assert_eq!(evidence("1234"), Evidence::Either);
        assert_eq!(evidence("1 234"), Evidence::Either);
        assert_eq!(evidence("abc"), Evidence::Neither);
    }

    fn date(s: &str) -> String {
        parse_date(s, DateRule::DayFirst).unwrap().0.to_string()
    }

    #[test]
    fn every_date_form_day_first() {
        assert_eq!(date("2026-10-31"), "2026-10-31");
        assert_eq!(date("31-10-2026"), "2026-10-31");
        assert_eq!(date("31/10/2026"), "2026-10-31");
        assert_eq!(date("3-4-2026"), "2026-04-03");
        assert_eq!(date("3/04/2026"), "2026-04-03");
        assert_eq!(date("31.10.2026"), "2026-10-31");
        assert_eq!(date("31-10-2026 00:00"), "2026-10-31");
        assert_eq!(date("2026-10-31 14:30:00"), "2026-10-31");
        assert_eq!(date("2026-10-31T00:00:00"), "2026-10-31");
        // Never month first unless configured: 3 April.
        assert_eq!(date("03/04/2026"), "2026-04-03");
        let err = parse_date("10/31/2026", DateRule::DayFirst).unwrap_err();
        assert!(err.contains("date_format = \"MM/DD/YYYY\""), "{err}");
        let err = parse_date("31-10-26", DateRule::DayFirst).unwrap_err();
        assert!(err.contains("four-digit years"), "{err}");
        assert!(parse_date("31-02-2026", DateRule::DayFirst)
            .unwrap_err()
            .contains("not a valid calendar date"));
        assert!(parse_date("2026-02-30", DateRule::DayFirst)
            .unwrap_err()
            .contains("not a valid calendar date"));
        assert!(parse_date("31 okt 2026", DateRule::DayFirst).is_err());
    }

    #[test]
    fn month_first_only_when_configured() {
        let f = DateFormat::parse("MM/DD/YYYY").unwrap();
        let (d, form) = parse_date("03/04/2026", DateRule::Format(f)).unwrap();
        assert_eq!(d.to_string(), "2026-03-04");
        assert_eq!(form.order, Order::MonthFirst);
        // YYYY-MM-DD is always read; the configured form replaces the others.
        assert_eq!(parse_date("2026-03-04", DateRule::Format(f)).unwrap().0.to_string(), "2026-03-04");
        assert!(parse_date("03-04-2026", DateRule::Format(f)).is_err());
        assert!(DateFormat::parse("YY-MM-DD").is_none());
    }

    #[test]
    fn dates_seen_are_named() {
        let mut seen = DatesSeen::default();
        seen.add(parse_date("31-10-2026", DateRule::DayFirst).unwrap().1);
        assert_eq!(seen.names(), ["DD-MM-YYYY"]);
        seen.add(parse_date("3-4-2026", DateRule::DayFirst).unwrap().1);
        seen.add(parse_date("2026-04-03", DateRule::DayFirst).unwrap().1);
        assert_eq!(seen.names(), ["D-M-YYYY", "YYYY-MM-DD"]);
    }

    #[test]
    fn separators_from_the_header_line() {
        let none = |_: &[String]| 0;
        assert_eq!(detect_separator(b"a;b;c\r\n1,5;2;3", none), Some(b';'));
        assert_eq!(detect_separator(b"a,b,c\n", none), Some(b','));
        assert_eq!(detect_separator(b"a\tb\tc\n", none), Some(b'\t'));
        assert_eq!(detect_separator(b"\"Naam, voornaam\";b\n", none), Some(b';'));
        assert_eq!(detect_separator(b"single\n", none), Some(b','));
        // Both occur: the one that yields known names wins; a tie is left to the user.
        let known = |f: &[String]| f.iter().filter(|h| h.as_str() == "Factuurnummer").count();
        assert_eq!(detect_separator(b"Factuurnummer;Naam, voornaam\n", known), Some(b';'));
        assert_eq!(detect_separator(b"a,b;c\n", none), None);
    }

    #[test]
    fn encodings() {
        assert_eq!(decode_windows_1252(b"Caf\xe9 \x80 \xeb"), "Café € ë");
        assert!(!has_utf8_multibyte(b"Caf\xe9"));
        assert!(has_utf8_multibyte("Café \u{e9}".as_bytes()));
        assert!(has_utf8_multibyte(b"Caf\xc3\xa9 and \xe9"));
    }

    #[test]
    fn import_section_of_dunwell_toml() {
        let path = std::path::Path::new("dunwell.toml");
        let text = "[import]\nseparator = \"tab\"\ndecimal = \"comma\"\ndate_format = \"DD/MM/YYYY\"\nencoding = \"windows-1252\"\ndefault_kind = \"b2c\"\n[import.columns]\n\"Fact. ref\" = \"invoice_number\"\n\"Saldo\" = \"ignore\"\n";
        let config = crate::config::Config::parse(path, text).unwrap();
        let i = &config.import;
        assert_eq!(i.separator, Some(Separator(b'\t')));
        assert_eq!(i.decimal, Some(DecimalMark::Comma));
        assert_eq!(i.date_format, Some(DateFormat { order: Order::DayFirst, sep: b'/' }));
        assert_eq!(i.encoding, Some(Encoding::Windows1252));
        assert_eq!(i.default_kind, Some(CustomerKind::B2c));
        assert_eq!(i.column("FACT. REF"), Some(&ColumnTarget::Field("invoice_number")));
        assert_eq!(i.column("saldo"), Some(&ColumnTarget::Ignore));
        for (bad, says) in [
            ("[import]\nseperator = \";\"\n", "seperator"),
            ("[import]\ndecimal = \"komma\"\n", "is not a decimal mark"),
            ("[import]\ndate_format = \"YY-MM-DD\"\n", "MM/DD/YYYY"),
            ("[import.columns]\n\"Ref\" = \"number\"\n", "not a field dunwell reads"),
        ] {
            let err = crate::config::Config::parse(path, bad).unwrap_err().to_string();
            assert!(err.contains("dunwell.toml:2"), "{err}");
            assert!(err.contains(says), "{err}");
        }
    }

    /// An amount written with `mark`, grouped or not, as a spreadsheet would.
    fn written(int: u64, cents: Option<u32>, mark: DecimalMark, grouped: bool) -> String {
        let (dec, group) = match mark {
            DecimalMark::Comma => (',', '.'),
            DecimalMark::Point => ('.', ','),
        };
        let digits = int.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if grouped && i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(group);
            }
            out.push(c);
        }
        if let Some(c) = cents {
            out.push(dec);
            out.push_str(&format!("{c:02}"));
        }
        out
    }

    proptest! {
        /// Any amount written in either convention, with or without thousands separators,
        /// reads back exactly with that file's mark, and never reads as something else with
        /// the other mark once it has decimals.
        #[test]
        fn any_amount_reads_back_exactly(
            int in 0u64..1_000_000_000_000,
            cents in proptest::option::of(0u32..100),
            comma in any::<bool>(),
            grouped in any::<bool>(),
            negative in any::<bool>(),
        ) {
            let mark = if comma { DecimalMark::Comma } else { DecimalMark::Point };
            let mut text = written(int, cents, mark, grouped);
            if negative { text.insert(0, '-'); }
            let expected: Decimal = format!(
                "{}{int}{}", if negative { "-" } else { "" }, cents.map(|c| format!(".{c:02}")).unwrap_or_default()
            ).parse().unwrap();
            let read = parse_amount(&text, AmountRule::Mark(mark)).unwrap();
            prop_assert_eq!(read, expected);
            prop_assert_eq!(read.to_string(), expected.to_string());
            match evidence(&text) {
                Evidence::Comma => prop_assert_eq!(mark, DecimalMark::Comma),
                Evidence::Point => prop_assert_eq!(mark, DecimalMark::Point),
                Evidence::Either | Evidence::Ambiguous => prop_assert!(cents.is_none()),
                Evidence::Neither => prop_assert!(false, "{} read by neither mark", text),
            }
        }
    }
}
