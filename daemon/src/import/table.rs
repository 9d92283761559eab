//! Reading one table (a CSV file or a workbook's sheet) record by record: the header mapped to
//! our columns, the file's dialect settled (detected, configured, or the documented format),
//! every record's bytes checked, each sound record handed on. Problems carry the file, line and
//! column (for a sheet: the file, sheet, row and column).

use std::cell::Cell;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::columns::{self, Kind};
use super::dialect::{
    self, AmountRule, DateRule, DatesSeen, DecimalMark, Encoding, Evidence, FileDialect, Settings,
};
use super::presets::Preset;
use super::xlsx::{column_letters, Sheet};
use super::{ImportError, MAX_FIELD_BYTES, MAX_PROBLEMS};
use crate::location::{Location, Problem};

/// Where a table is: a CSV file, or a sheet of a workbook.
#[derive(Debug, Clone)]
pub enum Place {
    Csv(PathBuf),
    Sheet { path: PathBuf, sheet: String },
}

impl Place {
    /// The location of `line` (a sheet's row) and 1-based `column` (0: the whole line).
    pub fn location(&self, line: usize, column: usize) -> Location {
        match self {
            Place::Csv(path) => Location::at(path, line, column),
            Place::Sheet { path, sheet } => {
                let mut text = format!("{}, sheet {sheet}", path.display());
                if line > 0 {
                    text.push_str(&format!(", row {line}"));
                }
                if column > 0 {
                    text.push_str(&format!(", column {}", column_letters(column)));
                }
                Location::file(text)
            }
        }
    }

    /// `invoices.csv`, or `book.xlsx, sheet Facturen`: for summaries.
    pub fn name(&self) -> String {
        match self {
            Place::Csv(path) => file_name(path),
            Place::Sheet { path, sheet } => format!("{}, sheet {sheet}", file_name(path)),
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// A table to read.
pub enum Table<'a> {
    Csv(PathBuf),
    Sheet { path: &'a Path, sheet: &'a Sheet },
}

impl Table<'_> {
    /// A CSV file is there (a sheet always is).
    pub fn exists(&self) -> bool {
        match self {
            Table::Csv(path) => path.exists(),
            Table::Sheet { .. } => true,
        }
    }
}

/// One record of a table. CSV fields were checked for UTF-8 before a record is handed on.
#[derive(Clone, Copy)]
pub enum Rec<'a> {
    Csv { rec: &'a csv::ByteRecord, line: usize },
    Row { cells: &'a [String], row: usize },
}

impl<'a> Rec<'a> {
    pub fn get(&self, i: usize) -> Option<&'a str> {
        match *self {
            Rec::Csv { rec, .. } => rec.get(i).map(|b| std::str::from_utf8(b).unwrap_or("")),
            Rec::Row { cells, .. } => cells.get(i).map(String::as_str),
        }
    }

    /// 1-based line of the file (a sheet's row).
    pub fn line(&self) -> usize {
        match *self {
            Rec::Csv { line, .. } => line,
            Rec::Row { row, .. } => row,
        }
    }

    fn len(&self) -> usize {
        match *self {
            Rec::Csv { rec, .. } => rec.len(),
            Rec::Row { cells, .. } => cells.len(),
        }
    }

    /// The length in bytes of field `i`, its UTF-8 not checked.
    fn byte_len(&self, i: usize) -> usize {
        match *self {
            Rec::Csv { rec, .. } => rec.get(i).map_or(0, <[u8]>::len),
            Rec::Row { cells, .. } => cells.get(i).map_or(0, String::len),
        }
    }

    fn blank(&self) -> bool {
        (0..self.len()).all(|i| self.get(i).is_none_or(|f| f.trim().is_empty()))
    }
}

/// Which open-items preset to read a table with.
#[derive(Clone, Copy)]
pub enum PresetChoice {
    None,
    /// `--preset NAME`.
    Given(&'static Preset),
    /// The one preset whose headers the file has, if exactly one.
    Detect,
}

/// A table's header mapped to our columns, and how its values are read.
pub struct Header {
    pub place: Place,
    /// For each of our columns (by index into the kind's list), its position in the table.
    pub positions: Vec<Option<usize>>,
    /// How many fields the header has; every CSV row must have as many.
    fields: usize,
    amounts: AmountRule,
    dates: DateRule,
    /// Values beyond the documented format are read too (`zakelijk` for b2b).
    pub lenient: bool,
    seen: Cell<DatesSeen>,
    pub dialect: FileDialect,
    pub preset: Option<&'static Preset>,
}

impl Header {
    /// The trimmed text of column `col` (our index) in `rec`; empty when the column is absent.
    pub fn field<'r>(&self, rec: Rec<'r>, col: usize) -> &'r str {
        self.positions[col].and_then(|p| rec.get(p)).map(str::trim).unwrap_or("")
    }

    pub fn has(&self, col: usize) -> bool {
        self.positions[col].is_some()
    }

    pub fn location(&self, rec: Rec<'_>, col: usize) -> Location {
        self.place.location(rec.line(), self.positions[col].map_or(0, |p| p + 1))
    }

    pub fn amount(&self, s: &str) -> Result<Decimal, String> {
        let mut a = dialect::parse_amount(s, self.amounts)?;
        // A number cell holds 1234.5 for 1.234,50: give it the cents it is shown with, so that
        // the same invoice from a CSV file and from a workbook is the same record.
        if matches!(self.place, Place::Sheet { .. }) && a.scale() < 2 {
            a.rescale(2);
        }
        Ok(a)
    }

    pub fn date(&self, s: &str) -> Result<NaiveDate, String> {
        let (date, form) = dialect::parse_date(s, self.dates).map_err(|e| {
            if self.dates == DateRule::Strict {
                format!("{e} (a file with dunwell's own column names is read as the documented export format; for other date forms set [import] date_format in dunwell.toml, e.g. \"DD-MM-YYYY\", or \"MM/DD/YYYY\" if the file writes the month first)")
            } else {
                e
            }
        })?;
        let mut seen = self.seen.get();
        seen.add(form);
        self.seen.set(seen);
        Ok(date)
    }

    /// What was detected, with the date forms seen so far.
    pub fn file_dialect(&self) -> FileDialect {
        let mut d = self.dialect.clone();
        d.dates = self.seen.get().names();
        d
    }
}

/// A CSV file's bytes (decoded to UTF-8 when it is Windows-1252) and how to split them.
struct CsvText {
    /// The file as read (or decoded), and where its text starts (after a byte-order mark).
    bytes: Vec<u8>,
    start: usize,
    info: CsvInfo,
    /// The first line is Excel's `sep=;`.
    sep_line: bool,
    /// What to add to a "not valid UTF-8" problem.
    utf8_hint: &'static str,
}

impl CsvText {
    fn body(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    /// A reader at the file's first record (past Excel's `sep=` line).
    fn reader(&self) -> csv::Reader<&[u8]> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.info.sep)
            .from_reader(self.body());
        if self.sep_line {
            let _ = reader.read_byte_record(&mut csv::ByteRecord::new());
        }
        reader
    }
}

/// What was settled about a CSV file before its header was mapped.
#[derive(Clone, Copy)]
struct CsvInfo {
    sep: u8,
    /// `[import] separator` or a `sep=` line named it.
    sep_given: bool,
    /// `None`: plain ASCII, the same in every encoding.
    encoding: Option<Encoding>,
}

/// The next non-blank record with its line, or `None` at the end or after a problem
/// (reported). `body` is what the reader reads.
fn next_record(
    reader: &mut csv::Reader<&[u8]>,
    rec: &mut csv::ByteRecord,
    body: &[u8],
    path: &Path,
    problems: &mut Vec<Problem>,
) -> Option<usize> {
    let blank = |rec: &csv::ByteRecord| {
        rec.len() == 1 && rec.get(0).is_some_and(|f| f.iter().all(u8::is_ascii_whitespace))
    };
    loop {
        match reader.read_byte_record(rec) {
            Ok(true) if blank(rec) => continue,
            Ok(true) => return Some(rec.position().map_or(0, |p| line_of(body, p))),
            Ok(false) => return None,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_of(body, p));
                problems.push(Problem::new(Location::at(path, line, 0), format!("cannot read CSV: {e}")));
                return None;
            }
        }
    }
}

/// The 1-based line of the record that starts at `pos`. The csv crate counts the line ends
/// before `pos`, but takes a record's position before the line ends that lead up to it (the
/// `\n` of a CR LF, which is how Excel ends every line, and blank lines): those are added here.
fn line_of(body: &[u8], pos: &csv::Position) -> usize {
    let from = usize::try_from(pos.byte()).map_or(body.len(), |b| b.min(body.len()));
    let ends = body[from..].iter().take_while(|b| matches!(b, b'\r' | b'\n')).filter(|b| **b == b'\n');
    pos.line() as usize + ends.count()
}

/// Reads `table` as a file of `kind`: maps the header, settles the dialect, checks every
/// record and hands each sound one to `each`. Returns the header, or `None` when the file is
/// absent or unusable (the problems say why). Stops after [`MAX_PROBLEMS`].
pub fn scan_table(
    table: &Table<'_>,
    kind: Kind,
    settings: &Settings,
    preset: PresetChoice,
    problems: &mut Vec<Problem>,
    mut each: impl FnMut(&Header, Rec<'_>, &mut Vec<Problem>),
) -> Result<Option<Header>, ImportError> {
    match table {
        Table::Csv(path) => {
            let Some(text) = read_csv(path, kind, settings, preset, problems)? else { return Ok(None) };
            let body = text.body();
            let mut reader = text.reader();
            let mut rec = csv::ByteRecord::new();
            let Some(line) = next_record(&mut reader, &mut rec, body, path, problems) else {
                if problems.is_empty() {
                    problems.push(Problem::new(
                        Location::at(path, 1, 1),
                        "the file has no header row".to_string(),
                    ));
                }
                return Ok(None);
            };
            let place = Place::Csv(path.clone());
            if !check_record(
                &place,
                Rec::Csv { rec: &rec, line },
                None,
                text.info.sep,
                text.utf8_hint,
                problems,
            ) {
                return Ok(None);
            }
            let names: Vec<String> =
                rec.iter().map(|f| String::from_utf8_lossy(f).trim().to_string()).collect();
            let Some(mut header) =
                header_of(place, Some(text.info), kind, &names, line, settings, preset, problems)
            else {
                return Ok(None);
            };
            let documented = header.dialect.format == "export";
            if !documented && settings.decimal.is_none() {
                // The decimal mark, from every amount of the file: a pass of its own, from the
                // record after the header (the problems of the records are the main pass's).
                let mut pre = text.reader();
                let mut scratch = Vec::new();
                let mut r = csv::ByteRecord::new();
                next_record(&mut pre, &mut r, body, path, &mut scratch);
                let mut evidence = EvidenceSeen::new(kind);
                while let Some(line) = next_record(&mut pre, &mut r, body, path, &mut scratch) {
                    evidence.add(&header, Rec::Csv { rec: &r, line });
                }
                if !settle_decimal(&mut header, evidence, problems) {
                    return Ok(None);
                }
            }
            while problems.len() < MAX_PROBLEMS {
                let Some(line) = next_record(&mut reader, &mut rec, body, path, problems) else {
                    break;
                };
                let r = Rec::Csv { rec: &rec, line };
                if check_record(
                    &header.place,
                    r,
                    Some(header.fields),
                    text.info.sep,
                    text.utf8_hint,
                    problems,
                ) {
                    each(&header, r, problems);
                }
            }
            Ok(Some(header))
        }
        Table::Sheet { path, sheet } => {
            let place = Place::Sheet { path: path.to_path_buf(), sheet: sheet.name.clone() };
            let rows = || {
                sheet
                    .rows
                    .iter()
                    .enumerate()
                    .map(|(i, cells)| Rec::Row { cells, row: i + 1 })
                    .filter(|r| !r.blank())
            };
            let Some(first) = rows().next() else {
                problems.push(Problem::new(
                    place.location(0, 0),
                    "the sheet is empty; it needs a header row and a row per record".to_string(),
                ));
                return Ok(None);
            };
            let names: Vec<String> =
                (0..first.len()).map(|i| first.get(i).unwrap_or("").trim().to_string()).collect();
            let Some(header) = header_of(place, None, kind, &names, first.line(), settings, preset, problems)
            else {
                return Ok(None);
            };
            for rec in rows().skip(1) {
                if problems.len() >= MAX_PROBLEMS {
                    break;
                }
                if check_record(&header.place, rec, None, b',', "", problems) {
                    each(&header, rec, problems);
                }
            }
            Ok(Some(header))
        }
    }
}

/// The amounts' evidence of a file: the first amount of each kind, with its place.
struct EvidenceSeen {
    /// The amount columns of the file's kind: (our index, field).
    amounts: Vec<(usize, &'static str)>,
    comma: Option<(String, Location, String)>,
    point: Option<(String, Location, String)>,
    ambiguous: Option<(String, Location, String)>,
}

impl EvidenceSeen {
    fn new(kind: Kind) -> Self {
        let amounts = kind
            .columns()
            .iter()
            .enumerate()
            .filter(|(_, c)| columns::AMOUNT_FIELDS.contains(&c.name))
            .map(|(col, c)| (col, c.name))
            .collect();
        EvidenceSeen { amounts, comma: None, point: None, ambiguous: None }
    }

    fn add(&mut self, header: &Header, rec: Rec<'_>) {
        for &(col, name) in &self.amounts {
            let text = header.field(rec, col);
            if text.is_empty() {
                continue;
            }
            let slot = match dialect::evidence(text) {
                Evidence::Comma => &mut self.comma,
                Evidence::Point => &mut self.point,
                Evidence::Ambiguous => &mut self.ambiguous,
                Evidence::Either | Evidence::Neither => continue,
            };
            if slot.is_none() {
                *slot = Some((text.to_string(), header.location(rec, col), name.to_string()));
            }
        }
    }
}

/// Settles the decimal mark of a detected file from its amounts; false (with the problem)
/// when they disagree or cannot tell.
fn settle_decimal(header: &mut Header, seen: EvidenceSeen, problems: &mut Vec<Problem>) -> bool {
    let detected = |h: &Header| {
        let d = h.file_dialect();
        let mut parts = Vec::new();
        if let Some(s) = d.separator {
            parts.push(format!("{s} separated"));
        }
        if let Some(e) = d.encoding {
            parts.push(e.to_string());
        }
        parts.join(", ")
    };
    match (seen.comma, seen.point, seen.ambiguous) {
        (Some((c, cloc, cfield)), Some((p, ploc, pfield)), _) => {
            problems.push(Problem::new(
                ploc.clone(),
                format!(
                    "the amounts of this file mix a decimal comma (`{c}` in {cfield} at {cloc}) and a decimal point (`{p}` in {pfield} here); write them all one way, or say which is right in dunwell.toml: [import] decimal = \"comma\" or \"point\" (detected so far: {})",
                    detected(header)
                ),
            ));
            false
        }
        (Some(_), None, _) => {
            header.amounts = AmountRule::Mark(DecimalMark::Comma);
            header.dialect.decimal = Some("comma");
            true
        }
        (None, Some(_), _) => {
            header.amounts = AmountRule::Mark(DecimalMark::Point);
            header.dialect.decimal = Some("point");
            true
        }
        (None, None, Some((a, loc, field))) => {
            let read = |m| dialect::normalize_amount(&a, m).unwrap_or_default();
            problems.push(Problem::new(
                loc,
                format!(
                    "cannot tell the decimal mark of this file's amounts: `{a}` ({field}) is {} with a decimal comma (the point grouping thousands) but {} with a decimal point, and no amount of the file settles it (like 1.234,50 or 12,50); detected so far: {}. Say which it is in dunwell.toml: [import] decimal = \"comma\" or [import] decimal = \"point\"",
                    read(DecimalMark::Comma),
                    read(DecimalMark::Point),
                    detected(header)
                ),
            ));
            false
        }
        (None, None, None) => {
            // Whole amounts only: either mark reads them the same.
            header.amounts = AmountRule::Mark(DecimalMark::Point);
            true
        }
    }
}

/// Reads a CSV file and settles its encoding and separator; `None` when it is absent or
/// unusable (the problems say why).
fn read_csv(
    path: &Path,
    kind: Kind,
    settings: &Settings,
    preset: PresetChoice,
    problems: &mut Vec<Problem>,
) -> Result<Option<CsvText>, ImportError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ImportError::Read { path: path.to_path_buf(), source }),
    };
    let bom = bytes.starts_with(b"\xEF\xBB\xBF");
    let body = if bom { &bytes[3..] } else { &bytes[..] };
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        let expected =
            kind.columns().iter().filter(|c| c.required).map(|c| c.name).collect::<Vec<_>>().join(", ");
        problems.push(Problem::new(
            Location::at(path, 1, 1),
            format!("the file is empty; it needs a header row with at least the columns {expected}"),
        ));
        return Ok(None);
    }
    // Excel's `sep=;` line names the separator.
    let first_end = body.iter().position(|b| *b == b'\n').unwrap_or(body.len());
    let first = body[..first_end].strip_suffix(b"\r").unwrap_or(&body[..first_end]);
    let (sep_line, named) = match first {
        [b's', b'e', b'p', b'=', c] if matches!(c, b',' | b';' | b'\t') => (true, Some(*c)),
        _ => (false, None),
    };
    let header_line = if sep_line { &body[(first_end + 1).min(body.len())..] } else { body };
    let presets: &[Preset] = match preset {
        PresetChoice::Given(p) => std::slice::from_ref(p),
        PresetChoice::Detect => super::presets::PRESETS,
        PresetChoice::None => &[],
    };
    let recognised = |fields: &[String]| {
        let without = columns::recognised(kind, fields, settings, None);
        presets
            .iter()
            .map(|p| columns::recognised(kind, fields, settings, Some(p)))
            .max()
            .unwrap_or(0)
            .max(without)
    };
    let sep = match settings.separator.map(|s| s.0).or(named) {
        Some(s) => s,
        None => match dialect::detect_separator(header_line, recognised) {
            Some(s) => s,
            None => {
                problems.push(Problem::new(
                    Location::at(path, 1, 0),
                    "the header line holds both `,` and `;` (or tabs) and either could separate its columns; say which in dunwell.toml: [import] separator = \";\" (or \",\" or \"tab\")".to_string(),
                ));
                return Ok(None);
            }
        },
    };
    let valid = std::str::from_utf8(body).is_ok();
    // The documented format is UTF-8: decided from the header's names before any decoding.
    let names = dialect::split_line(header_line, sep);
    let own_names =
        columns::map_header(kind, &names, settings, None).is_ok_and(|m| own_format(sep, &m, settings));
    let (encoding, utf8_hint) = match settings.encoding {
        Some(Encoding::Windows1252) => (Encoding::Windows1252, ""),
        Some(_) => (Encoding::Utf8, "; save the file as UTF-8 (it looks like Windows-1252 or Latin-1), or set [import] encoding = \"windows-1252\" in dunwell.toml"),
        None if valid || bom => (Encoding::Utf8, if bom { "; the file starts with a UTF-8 byte-order mark but this byte is not UTF-8: save it as UTF-8 again" } else { "" }),
        None if own_names => (
            Encoding::Utf8,
            "; save the file as UTF-8 (it looks like Windows-1252 or Latin-1), or set [import] encoding = \"windows-1252\" in dunwell.toml",
        ),
        None if dialect::has_utf8_multibyte(body) => (
            Encoding::Utf8,
            "; the rest of the file is UTF-8, so the file is damaged: save it as UTF-8 again, or set [import] encoding = \"windows-1252\" if it is not UTF-8",
        ),
        None => (Encoding::Windows1252, ""),
    };
    let ascii = body.is_ascii();
    let start = usize::from(bom) * 3;
    let (bytes, start) = match encoding {
        Encoding::Windows1252 if !ascii => (dialect::decode_windows_1252(body).into_bytes(), 0),
        // A large plain file is not copied.
        _ => (bytes, start),
    };
    let encoding = match encoding {
        Encoding::Utf8 if bom => Some(Encoding::Utf8Bom),
        // Plain ASCII reads the same in every encoding: nothing to name.
        _ if !bom && ascii && settings.encoding.is_none() => None,
        e => Some(e),
    };
    let info = CsvInfo { sep, sep_given: settings.separator.is_some() || named.is_some(), encoding };
    Ok(Some(CsvText { bytes, start, info, sep_line, utf8_hint }))
}

/// A header of the documented export format (`csv-export.md`): comma separated, every column
/// under our own name, nothing mapped in `[import.columns]`.
fn own_format(sep: u8, mapping: &columns::Mapping, settings: &Settings) -> bool {
    sep == b',' && mapping.own_names && settings.columns.is_empty()
}

/// Maps the header row `names` (at `line`) and builds the [`Header`]; `None` with the
/// problems when the header is not usable.
#[allow(clippy::too_many_arguments)]
fn header_of(
    place: Place,
    csv: Option<CsvInfo>,
    kind: Kind,
    names: &[String],
    line: usize,
    settings: &Settings,
    preset: PresetChoice,
    problems: &mut Vec<Problem>,
) -> Option<Header> {
    let chosen = match preset {
        PresetChoice::Given(p) => Some(p),
        PresetChoice::Detect => match columns::matching_presets(names, super::presets::PRESETS).as_slice() {
            [one] => Some(*one),
            _ => None,
        },
        PresetChoice::None => None,
    };
    let mapping = match columns::map_header(kind, names, settings, chosen) {
        Ok(m) => m,
        Err(list) => {
            for p in list {
                problems.push(Problem::new(place.location(line, p.column.map_or(0, |c| c + 1)), p.message));
            }
            return None;
        }
    };
    let (encoding, sep_given) = csv.map_or((None, false), |c| (c.encoding, c.sep_given));
    let sep = csv.map(|c| dialect::Separator(c.sep).name());
    let documented = csv.is_some_and(|c| own_format(c.sep, &mapping, settings))
        && chosen.is_none()
        && encoding != Some(Encoding::Windows1252);
    let csv = csv.is_some();
    let mut configured = Vec::new();
    if sep_given {
        configured.push("separator");
    }
    let amounts = match (settings.decimal, csv) {
        (Some(mark), true) => {
            configured.push("decimal");
            AmountRule::Mark(mark)
        }
        (None, true) if documented => AmountRule::Strict,
        // A sheet's number cells are exact decimals with a point.
        _ => AmountRule::Mark(DecimalMark::Point),
    };
    let dates = match settings.date_format {
        Some(f) => {
            configured.push("date_format");
            DateRule::Format(f)
        }
        None if documented => DateRule::Strict,
        None => DateRule::DayFirst,
    };
    if csv && settings.encoding.is_some() {
        configured.push("encoding");
    }
    // A detected mark is named once the amounts settle it (`settle_decimal`).
    let decimal = match amounts {
        AmountRule::Strict => Some("point"),
        AmountRule::Mark(m) if csv && settings.decimal.is_some() => Some(m.name()),
        AmountRule::Mark(_) => None,
    };
    let dialect = FileDialect {
        file: place.name(),
        format: if !csv {
            "xlsx"
        } else if documented {
            "export"
        } else {
            "csv"
        },
        separator: sep,
        decimal,
        dates: Vec::new(),
        encoding: encoding.map(Encoding::name),
        configured,
        columns: mapping.renamed.clone(),
        preset: chosen.map(|p| p.name),
    };
    Some(Header {
        place,
        positions: mapping.positions,
        fields: names.len(),
        amounts,
        dates,
        lenient: !documented,
        seen: Cell::new(DatesSeen::default()),
        dialect,
        preset: chosen,
    })
}

/// The problems of one record: encoding and size of each field, and the field count.
fn check_record(
    place: &Place,
    rec: Rec<'_>,
    fields: Option<usize>,
    sep: u8,
    utf8_hint: &str,
    problems: &mut Vec<Problem>,
) -> bool {
    let mut ok = true;
    let line = rec.line();
    if let Rec::Csv { rec: r, .. } = rec {
        for (i, f) in r.iter().enumerate() {
            if let Err(e) = std::str::from_utf8(f) {
                let bad = f.get(e.valid_up_to()).copied().unwrap_or(0);
                let hint = if utf8_hint.is_empty() {
                    "; save the file as UTF-8 (it looks like Windows-1252 or Latin-1)"
                } else {
                    utf8_hint
                };
                problems.push(Problem::new(
                    place.location(line, i + 1),
                    format!("byte 0x{bad:02X} is not valid UTF-8{hint}"),
                ));
                ok = false;
            }
        }
    }
    for i in 0..rec.len() {
        // A field that is not UTF-8 was reported above, and only that.
        let len = rec.byte_len(i);
        if len > MAX_FIELD_BYTES && rec.get(i).is_some_and(|f| !f.is_empty()) {
            problems.push(Problem::new(
                place.location(line, i + 1),
                format!("field is {len} bytes long, the limit is {MAX_FIELD_BYTES}; is a quote left open on this line?"),
            ));
            ok = false;
        }
    }
    if let Some(n) = fields.filter(|&n| ok && rec.len() != n) {
        let what = match sep {
            b';' => "semicolon",
            b'\t' => "tab",
            _ => "comma",
        };
        problems.push(Problem::new(
            place.location(line, 0),
            format!(
                "row has {} fields but the header has {n}; check for a missing or extra {what}, or an unquoted {what} in a value",
                rec.len(),
            ),
        ));
        ok = false;
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_locations_name_the_sheet_row_and_column() {
        let place = Place::Sheet { path: PathBuf::from("book.xlsx"), sheet: "Facturen".into() };
        assert_eq!(place.location(7, 5).to_string(), "book.xlsx, sheet Facturen, row 7, column E");
        assert_eq!(place.location(7, 0).to_string(), "book.xlsx, sheet Facturen, row 7");
        assert_eq!(column_letters(27), "AA");
        assert_eq!(column_letters(26), "Z");
    }

    /// Line ends before a record (the `\n` of a CR LF, blank lines) count, and so do line
    /// breaks inside a quoted field.
    #[test]
    fn records_are_on_the_lines_of_the_file() {
        for body in [&b"h\r\na\r\n\r\nb\r\n\"c\r\nd\"\r\ne"[..], b"h\na\n\nb\n\"c\nd\"\ne\n"] {
            let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(body);
            let mut rec = csv::ByteRecord::new();
            let mut lines = Vec::new();
            while let Some(line) =
                next_record(&mut reader, &mut rec, body, Path::new("t.csv"), &mut Vec::new())
            {
                lines.push(line);
            }
            assert_eq!(lines, [1, 2, 4, 5, 7], "{}", String::from_utf8_lossy(body).escape_debug());
        }
    }
}
