//! Workbooks (.xlsx; .xls, .xlsb and .ods come along with calamine) turned into rows of text.
//!
//! The importer's checks (amounts, dates, column mapping) work on text, so a workbook is handed
//! to them as the same kind of grid a CSV file gives: one string per cell. The text is made so
//! that nothing is lost or invented on the way: a number cell becomes the shortest decimal that
//! reads back as exactly the `f64` the file stores (Excel stores what the user typed, so a typed
//! `12,35` is `"12.35"`), built by moving the decimal point in a string, never by arithmetic on
//! the amount; a date cell becomes `YYYY-MM-DD`; an error cell (`#DIV/0!`) stops the import with
//! its sheet and cell, because a missing amount must never be read as zero. Formulas give the
//! value the spreadsheet program saved with them.
//!
//! Positions are kept: `rows[i]` is spreadsheet row `i + 1` and `rows[i][j]` is column `j + 1`,
//! so a message can point at `B7` even when the sheet starts with empty rows. A row ends at its
//! last non-empty cell and the sheet at its last row with a non-empty cell; a missing cell is
//! `""` to the reader.
//!
//! A workbook is a zip of XML: a small file can describe a huge or far-away cell. The file size
//! and the number of cells (listed or padded) are capped, and an .xlsx is read cell by cell so a
//! hostile file is refused before it takes the memory.

use std::path::{Path, PathBuf};

use calamine::{CellErrorType, Data, DataRef, ExcelDateTime, Reader, SheetType, Sheets};

/// Beyond this a workbook is not an export of open invoices; it would cost memory for nothing.
pub const MAX_FILE_BYTES: u64 = 100 * 1024 * 1024;

/// Cells read or padded per workbook; 10 million empty strings already take about 240 MB.
pub const MAX_CELLS: usize = 10_000_000;

/// Excel's own limits: a position beyond them only comes from a damaged or crafted file.
const MAX_ROWS: u32 = 1_048_576;
const MAX_COLUMNS: u32 = 16_384;

/// One worksheet as text, in the positions the user sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    pub name: String,
    /// `rows[i][j]` is the cell in row `i + 1`, column `j + 1` (A1 is `rows[0][0]`); rows are
    /// ragged (a row ends at its last non-empty cell) and empty rows are empty vectors.
    pub rows: Vec<Vec<String>>,
}

impl Sheet {
    /// The text of a cell by 0-based position, `""` where the file has nothing.
    pub fn cell(&self, row: usize, column: usize) -> &str {
        self.rows.get(row).and_then(|r| r.get(column)).map_or("", String::as_str)
    }

    /// Some cell holds something.
    pub fn has_content(&self) -> bool {
        self.rows.iter().any(|r| r.iter().any(|c| !c.trim().is_empty()))
    }
}

/// The workbook formats calamine reads, by a path's extension.
pub fn is_workbook(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "xlsx" | "xlsm" | "xls" | "xlsb" | "ods"))
}

/// Every message starts with the file and says what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum XlsxError {
    #[error("{}: cannot read the file: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "{}: the file is {size} bytes, more than the {limit} bytes dunwell reads from a \
         workbook; delete the sheets and rows that are not needed, or export the sheets as CSV",
        path.display()
    )]
    FileTooLarge { path: PathBuf, size: u64, limit: u64 },
    #[error(
        "{}: not a workbook dunwell can read ({reason}); open it in Excel or LibreOffice and \
         save it as an Excel workbook (.xlsx)",
        path.display()
    )]
    Open { path: PathBuf, reason: String },
    #[error(
        "{}: sheet `{sheet}` cannot be read ({reason}); open the file in Excel or LibreOffice \
         and save it again as an Excel workbook (.xlsx)",
        path.display()
    )]
    Sheet { path: PathBuf, sheet: String, reason: String },
    #[error(
        "{}: more than {limit} cells (counting the empty cells before each value), reached in \
         sheet `{sheet}` at {cell}; delete the unused rows and columns (a cell far down or to \
         the right counts all the cells before it), or split the file",
        path.display()
    )]
    TooManyCells { path: PathBuf, sheet: String, cell: String, limit: usize },
    #[error(
        "{}: sheet `{sheet}` has a cell at row {row}, column {column}, beyond the {MAX_ROWS} rows \
         and {MAX_COLUMNS} columns of a spreadsheet; the file is damaged: save it again from \
         Excel or LibreOffice",
        path.display()
    )]
    OutOfSheet { path: PathBuf, sheet: String, row: u64, column: u64 },
    #[error(
        "{}: sheet `{sheet}`, cell {cell}: the cell shows the error {value}, not a value; correct \
         the formula or type the value, save and import again",
        path.display()
    )]
    CellError { path: PathBuf, sheet: String, cell: String, value: String },
    #[error(
        "{}: sheet `{sheet}`, cell {cell}: the formula has no saved value (the program that wrote \
         the file did not calculate it); open the file in Excel or LibreOffice, save it and \
         import again",
        path.display()
    )]
    Uncalculated { path: PathBuf, sheet: String, cell: String },
    #[error(
        "{}: sheet `{sheet}`, cell {cell}: {problem}; type the value again (a date as \
         31-10-2026, a number as 1234,50), save and import again",
        path.display()
    )]
    BadValue { path: PathBuf, sheet: String, cell: String, problem: String },
}

/// Reads every worksheet of the workbook at `path`, in workbook order (chart and macro sheets
/// have no cells and are left out; hidden worksheets are included, as the user may map them).
pub fn read_workbook(path: &Path) -> Result<Vec<Sheet>, XlsxError> {
    let size =
        std::fs::metadata(path).map_err(|source| XlsxError::Io { path: path.to_path_buf(), source })?.len();
    if size > MAX_FILE_BYTES {
        return Err(XlsxError::FileTooLarge { path: path.to_path_buf(), size, limit: MAX_FILE_BYTES });
    }
    let mut workbook = calamine::open_workbook_auto(path).map_err(|e| match e {
        calamine::Error::Io(source) => XlsxError::Io { path: path.to_path_buf(), source },
        other => XlsxError::Open { path: path.to_path_buf(), reason: other.to_string() },
    })?;
    let names: Vec<String> = workbook
        .sheets_metadata()
        .iter()
        .filter(|s| s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .collect();
    let mut budget = Budget { used: 0 };
    let mut sheets = Vec::with_capacity(names.len());
    for name in names {
        let mut grid = Grid::new(path, &name);
        match &mut workbook {
            Sheets::Xlsx(xlsx) => read_xlsx_sheet(xlsx, &mut grid, &mut budget)?,
            other => read_range_sheet(other, &mut grid, &mut budget)?,
        }
        let rows = grid.rows;
        sheets.push(Sheet { name, rows });
    }
    Ok(sheets)
}

/// Cells counted over the whole workbook, so many medium sheets cannot add up to a huge one.
struct Budget {
    used: usize,
}

/// The rows of one sheet being filled, with what an error message needs.
struct Grid<'a> {
    path: &'a Path,
    sheet: &'a str,
    rows: Vec<Vec<String>>,
}

impl<'a> Grid<'a> {
    fn new(path: &'a Path, sheet: &'a str) -> Self {
        Grid { path, sheet, rows: Vec::new() }
    }

    /// Counts cells read or padded: reading is bounded even when nothing is kept.
    fn count(&self, budget: &mut Budget, row: u32, column: u32, n: usize) -> Result<(), XlsxError> {
        budget.used = budget.used.saturating_add(n);
        if budget.used > MAX_CELLS {
            return Err(XlsxError::TooManyCells {
                path: self.path.to_path_buf(),
                sheet: self.sheet.to_string(),
                cell: cell_name(row, column),
                limit: MAX_CELLS,
            });
        }
        Ok(())
    }

    fn check_position(&self, row: u32, column: u32) -> Result<(), XlsxError> {
        if row >= MAX_ROWS || column >= MAX_COLUMNS {
            return Err(XlsxError::OutOfSheet {
                path: self.path.to_path_buf(),
                sheet: self.sheet.to_string(),
                row: u64::from(row) + 1,
                column: u64::from(column) + 1,
            });
        }
        Ok(())
    }

    /// Stores a non-empty text at its position, padding with `""` (each pad counted) so that
    /// column `j` stays at index `j`.
    fn put(&mut self, budget: &mut Budget, row: u32, column: u32, text: String) -> Result<(), XlsxError> {
        let (r, c) = (row as usize, column as usize);
        if self.rows.len() <= r {
            self.count(budget, row, column, r + 1 - self.rows.len())?;
            self.rows.resize_with(r + 1, Vec::new);
        }
        let len = self.rows[r].len();
        if len <= c {
            self.count(budget, row, column, c + 1 - len)?;
            self.rows[r].resize(c + 1, String::new());
        }
        self.rows[r][c] = text;
        Ok(())
    }

    fn error_cell(&self, row: u32, column: u32, e: &CellErrorType) -> XlsxError {
        XlsxError::CellError {
            path: self.path.to_path_buf(),
            sheet: self.sheet.to_string(),
            cell: cell_name(row, column),
            value: e.to_string(),
        }
    }

    fn bad_value(&self, row: u32, column: u32, problem: String) -> XlsxError {
        XlsxError::BadValue {
            path: self.path.to_path_buf(),
            sheet: self.sheet.to_string(),
            cell: cell_name(row, column),
            problem,
        }
    }

    fn sheet_error(&self, reason: impl std::fmt::Display) -> XlsxError {
        XlsxError::Sheet {
            path: self.path.to_path_buf(),
            sheet: self.sheet.to_string(),
            reason: reason.to_string(),
        }
    }

    /// Turns one cell into its text and stores it; an empty cell is counted, not stored (a
    /// stored cell is counted by `put`, with the padding before it).
    fn take(
        &mut self,
        budget: &mut Budget,
        row: u32,
        column: u32,
        value: Value<'_>,
    ) -> Result<(), XlsxError> {
        self.check_position(row, column)?;
        let text = match value {
            Value::Empty => return self.count(budget, row, column, 1),
            Value::Text(s) => s.trim().to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => decimal_text(f)
                .ok_or_else(|| self.bad_value(row, column, format!("the number {f} is not finite")))?,
            Value::Bool(b) => b.to_string(),
            Value::DateTime(d) => {
                datetime_text(&d).map_err(|problem| self.bad_value(row, column, problem))?
            }
            Value::DateTimeIso(s) => {
                iso_datetime_text(s).map_err(|problem| self.bad_value(row, column, problem))?
            }
            Value::DurationIso(s) => s.trim().to_string(),
            Value::Error(e) => return Err(self.error_cell(row, column, e)),
        };
        if text.is_empty() {
            return self.count(budget, row, column, 1);
        }
        self.put(budget, row, column, text)
    }
}

/// One view over calamine's owned `Data` and borrowed `DataRef`, so both readers share `take`.
enum Value<'a> {
    Empty,
    Text(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    DateTime(ExcelDateTime),
    DateTimeIso(&'a str),
    DurationIso(&'a str),
    Error(&'a CellErrorType),
}

impl<'a> From<&'a Data> for Value<'a> {
    fn from(d: &'a Data) -> Self {
        match d {
            Data::Empty => Value::Empty,
            Data::String(s) => Value::Text(s),
            Data::Int(i) => Value::Int(*i),
            Data::Float(f) => Value::Float(*f),
            Data::Bool(b) => Value::Bool(*b),
            Data::DateTime(dt) => Value::DateTime(*dt),
            Data::DateTimeIso(s) => Value::DateTimeIso(s),
            Data::DurationIso(s) => Value::DurationIso(s),
            Data::Error(e) => Value::Error(e),
        }
    }
}

impl<'a> From<&'a DataRef<'_>> for Value<'a> {
    fn from(d: &'a DataRef<'_>) -> Self {
        match d {
            DataRef::Empty => Value::Empty,
            DataRef::String(s) => Value::Text(s),
            DataRef::SharedString(s) => Value::Text(s),
            DataRef::Int(i) => Value::Int(*i),
            DataRef::Float(f) => Value::Float(*f),
            DataRef::Bool(b) => Value::Bool(*b),
            DataRef::DateTime(dt) => Value::DateTime(*dt),
            DataRef::DateTimeIso(s) => Value::DateTimeIso(s),
            DataRef::DurationIso(s) => Value::DurationIso(s),
            DataRef::Error(e) => Value::Error(e),
        }
    }
}

/// Streams the cells: calamine's `worksheet_range` would first allocate the whole rectangle the
/// file claims, which a crafted file can make enormous.
fn read_xlsx_sheet<RS: std::io::Read + std::io::Seek>(
    xlsx: &mut calamine::Xlsx<RS>,
    grid: &mut Grid<'_>,
    budget: &mut Budget,
) -> Result<(), XlsxError> {
    let mut cells = xlsx.worksheet_cells_reader(grid.sheet).map_err(|e| grid.sheet_error(e))?;
    while let Some(cell) = cells.next_cell_with_formula_metadata().map_err(|e| grid.sheet_error(e))? {
        let (row, column) = cell.pos;
        if cell.formula.is_some() && cell.value == DataRef::Empty {
            // Written by a program that does not calculate: "" would hide an amount.
            return Err(XlsxError::Uncalculated {
                path: grid.path.to_path_buf(),
                sheet: grid.sheet.to_string(),
                cell: cell_name(row, column),
            });
        }
        grid.take(budget, row, column, Value::from(&cell.value))?;
    }
    Ok(())
}

/// The other formats are parsed whole by calamine; the rectangle is checked before it is walked.
fn read_range_sheet<RS: std::io::Read + std::io::Seek>(
    workbook: &mut Sheets<RS>,
    grid: &mut Grid<'_>,
    budget: &mut Budget,
) -> Result<(), XlsxError> {
    let range = workbook.worksheet_range(grid.sheet).map_err(|e| grid.sheet_error(e))?;
    let Some((top, left)) = range.start() else {
        return Ok(());
    };
    let (height, width) = range.get_size();
    if height.saturating_mul(width) > MAX_CELLS.saturating_sub(budget.used) {
        let (bottom, right) = range.end().unwrap_or((top, left));
        return Err(XlsxError::TooManyCells {
            path: grid.path.to_path_buf(),
            sheet: grid.sheet.to_string(),
            cell: cell_name(bottom, right),
            limit: MAX_CELLS,
        });
    }
    for (r, c, data) in range.used_cells() {
        // `cells()` counts from the range's first cell, which need not be A1.
        let (Ok(r), Ok(c)) = (u32::try_from(r), u32::try_from(c)) else {
            return Err(grid.sheet_error("a cell position beyond 2^32"));
        };
        let row = top.saturating_add(r);
        let column = left.saturating_add(c);
        grid.take(budget, row, column, Value::from(data))?;
    }
    Ok(())
}

/// `A1` notation from 0-based positions, as the user finds the cell in the program.
pub fn cell_name(row: u32, column: u32) -> String {
    format!("{}{}", column_letters(column as usize + 1), u64::from(row) + 1)
}

/// `A`, `Z`, `AA`: a spreadsheet's name of 1-based column `n`.
pub fn column_letters(mut n: usize) -> String {
    let mut out = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        out.push(b'A' + r as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The shortest decimal text that reads back as exactly `f`, without exponent or grouping.
///
/// Rust's shortest round-trip digits (`{:e}`: digits and a power of ten) are placed around the
/// decimal point in the string, so no arithmetic touches the value: `0.30000000000000004` (what
/// `0.1 + 0.2` stores) stays that, `12.35` stays `12.35`. `None` for NaN and infinities, which
/// are no amounts. Negative zero is `"0"`.
pub fn decimal_text(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    if f == 0.0 {
        return Some("0".to_string());
    }
    let sci = format!("{f:e}");
    let (negative, sci) = match sci.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, sci.as_str()),
    };
    let (mantissa, exponent) = sci.split_once('e')?;
    let exponent: i64 = exponent.parse().ok()?;
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    // The mantissa has one digit before its point: the point goes after `1 + exponent` digits.
    let point = 1 + exponent;
    let len = digits.len() as i64;
    let mut out = String::with_capacity(digits.len() + exponent.unsigned_abs() as usize + 3);
    if negative {
        out.push('-');
    }
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(&digits);
    } else if point >= len {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (point - len) as usize));
    } else {
        let (int, frac) = digits.split_at(point as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
    Some(out)
}

/// Serial numbers Excel can show as a date (1900-01-00 up to 9999-12-31).
const MAX_SERIAL: f64 = 2_958_466.0;

/// A date cell as `YYYY-MM-DD`, with ` HH:MM:SS` only when the cell holds a time of day too; a
/// time-only cell (a serial below 1) as `HH:MM:SS`; a duration as `[h]:mm:ss`. Milliseconds
/// are dropped: no date in an invoice export carries them.
fn datetime_text(d: &ExcelDateTime) -> Result<String, String> {
    let serial = d.as_f64();
    if d.is_duration() {
        if !serial.is_finite() || serial.abs() > MAX_SERIAL {
            return Err(format!("the duration {serial} (in days) is out of range"));
        }
        // Whole seconds of a duration: float arithmetic on a time span, not on money.
        let total = (serial * 86_400.0).round() as i64;
        let sign = if total < 0 { "-" } else { "" };
        let total = total.unsigned_abs();
        return Ok(format!("{sign}{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60));
    }
    if !serial.is_finite() || !(0.0..MAX_SERIAL).contains(&serial) {
        return Err(format!(
            "the date serial number {serial} is outside the dates a spreadsheet can show \
             (1900 to 9999)"
        ));
    }
    let (year, month, day, hour, minute, second, _milli) = d.to_ymd_hms_milli();
    if serial < 1.0 {
        return Ok(format!("{hour:02}:{minute:02}:{second:02}"));
    }
    if (hour, minute, second) == (0, 0, 0) {
        Ok(format!("{year:04}-{month:02}-{day:02}"))
    } else {
        Ok(format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}"))
    }
}

/// An ISO 8601 date cell (an .xlsx `t="d"` cell, an .ods date) in the same shape as
/// [`datetime_text`]: the date alone when the time is midnight or absent.
fn iso_datetime_text(s: &str) -> Result<String, String> {
    let s = s.trim();
    let unreadable = || format!("the date `{s}` is not a date dunwell can read");
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let b = date.as_bytes();
    let date_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !date_ok {
        return Err(unreadable());
    }
    let Some(time) = time else {
        return Ok(date.to_string());
    };
    // Keep HH:MM:SS; fractions of a second and a zone suffix do not change the day.
    let t = time.as_bytes();
    let hms = match t.len() {
        5.. if t[2] == b':' && t[..2].iter().chain(&t[3..5]).all(u8::is_ascii_digit) => {
            if t.len() >= 8 && t[5] == b':' && t[6..8].iter().all(u8::is_ascii_digit) {
                &time[..8]
            } else {
                &time[..5]
            }
        }
        _ => return Err(unreadable()),
    };
    let hms = if hms.len() == 5 { format!("{hms}:00") } else { hms.to_string() };
    if hms == "00:00:00" {
        Ok(date.to_string())
    } else {
        Ok(format!("{date} {hms}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/testdata/spreadsheets/xlsx").join(name)
    }

    fn sheet<'a>(sheets: &'a [Sheet], name: &str) -> &'a Sheet {
        sheets.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no sheet {name}"))
    }

    #[test]
    fn shortest_decimal_text_without_exponent() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (1234.5, "1234.5"),
            (12.35, "12.35"),
            (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e-7, "0.0000001"),
            (1.5e-7, "0.00000015"),
            (1e21, "1000000000000000000000"),
            (1.25e22, "12500000000000000000000"),
            (123456789.12, "123456789.12"),
            (-0.5, "-0.5"),
            (-1234.56, "-1234.56"),
            (100.0, "100"),
            (5e-324, &format!("0.{}5", "0".repeat(323))),
            (f64::MAX, &format!("17976931348623157{}", "0".repeat(292))),
        ];
        for (f, want) in cases {
            assert_eq!(decimal_text(*f).as_deref(), Some(*want), "{f:e}");
        }
        assert_eq!(decimal_text(f64::NAN), None);
        assert_eq!(decimal_text(f64::INFINITY), None);
        assert_eq!(decimal_text(f64::NEG_INFINITY), None);
    }

    /// The string route must agree with Rust's `Display` (also shortest, also without exponent)
    /// and read back as the same bits, over values from all magnitudes.
    #[test]
    fn decimal_text_round_trips() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            // xorshift: deterministic, no dependency.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if !f.is_finite() {
                continue;
            }
            let text = decimal_text(f).expect("finite");
            assert!(!text.contains(['e', 'E', ',']), "{text}");
            let back: f64 = text.parse().expect("parses");
            assert_eq!(back.to_bits(), if f == 0.0 { 0 } else { f.to_bits() });
            if f != 0.0 {
                assert_eq!(text, format!("{f}"));
            }
        }
    }

    #[test]
    fn cell_names_in_a1_notation() {
        assert_eq!(cell_name(0, 0), "A1");
        assert_eq!(cell_name(6, 1), "B7");
        assert_eq!(cell_name(0, 25), "Z1");
        assert_eq!(cell_name(9, 26), "AA10");
        assert_eq!(cell_name(0, 701), "ZZ1");
        assert_eq!(cell_name(0, 702), "AAA1");
        assert_eq!(cell_name(1_048_575, 16_383), "XFD1048576");
    }

    #[test]
    fn excel_serials_as_dates() {
        let date = |v| ExcelDateTime::new(v, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(datetime_text(&date(46326.0)).as_deref(), Ok("2026-10-31"));
        assert_eq!(datetime_text(&date(46326.5)).as_deref(), Ok("2026-10-31 12:00:00"));
        // 10:31 is not exact in binary; calamine rounds the milliseconds over to the minute.
        assert_eq!(
            datetime_text(&date(46326.0 + (10.0 * 60.0 + 31.0) / 1440.0)).as_deref(),
            Ok("2026-10-31 10:31:00")
        );
        assert_eq!(datetime_text(&date(0.4375)).as_deref(), Ok("10:30:00"));
        assert!(datetime_text(&date(-1.0)).is_err());
        assert!(datetime_text(&date(3_000_000.0)).is_err());
        let span = ExcelDateTime::new(1.5, calamine::ExcelDateTimeType::TimeDelta, false);
        assert_eq!(datetime_text(&span).as_deref(), Ok("36:00:00"));
    }

    #[test]
    fn iso_dates_as_dates() {
        assert_eq!(iso_datetime_text("2026-10-31").as_deref(), Ok("2026-10-31"));
        assert_eq!(iso_datetime_text("2026-10-31T00:00:00").as_deref(), Ok("2026-10-31"));
        assert_eq!(iso_datetime_text("2026-10-31T00:00:00.000Z").as_deref(), Ok("2026-10-31"));
        assert_eq!(iso_datetime_text("2026-10-31T14:05:09.250").as_deref(), Ok("2026-10-31 14:05:09"));
        assert_eq!(iso_datetime_text("2026-10-31T14:05").as_deref(), Ok("2026-10-31 14:05:00"));
        assert!(iso_datetime_text("31-10-2026").is_err());
        assert!(iso_datetime_text("2026-10-31T1").is_err());
    }

    #[test]
    fn export_workbook_reads_exact_text() {
        let sheets = read_workbook(&testdata("export.xlsx")).expect("export.xlsx reads");
        assert_export(&sheets);
    }

    /// calamine's other readers give the same text for the same workbook saved by Calc.
    #[test]
    fn export_as_ods_and_xls_reads_the_same() {
        let xlsx = read_workbook(&testdata("export.xlsx")).expect("export.xlsx reads");
        for name in ["export.ods", "export.xls"] {
            let sheets = read_workbook(&testdata(name)).unwrap_or_else(|e| panic!("{e}"));
            assert_export(&sheets);
            assert_eq!(sheets, xlsx, "{name}");
        }
    }

    fn assert_export(sheets: &[Sheet]) {
        let names: Vec<&str> = sheets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["customers", "invoices", "payments"]);

        let customers = sheet(sheets, "customers");
        assert_eq!(
            customers.rows[0],
            [
                "customer_id",
                "name",
                "kind",
                "language",
                "email",
                "phone",
                "street",
                "postal_code",
                "city",
                "country",
                "customer_since",
                "payment_method"
            ]
        );
        assert_eq!(customers.cell(1, 0), "C001");
        assert_eq!(customers.cell(1, 1), "Bakkerij Van Dijk B.V.");
        assert_eq!(customers.cell(2, 1), "Brasserie Léonie");
        assert_eq!(customers.cell(3, 1), "Zoë Maës");
        assert_eq!(customers.cell(2, 8), "Liège");
        assert_eq!(customers.cell(3, 2), "b2c");
        assert_eq!(customers.cell(1, 5), "+31612345678");
        // A postal code of digits is a number to the spreadsheet: 1000 stays "1000".
        assert_eq!(customers.cell(2, 7), "4000");
        assert_eq!(customers.cell(1, 7), "1012 AB");
        assert_eq!(customers.cell(1, 10), "2019-03-01");
        // An empty cell in the middle of a row is "".
        assert_eq!(customers.cell(3, 4), "");

        let invoices = sheet(sheets, "invoices");
        assert_eq!(
            invoices.rows[0],
            ["invoice_number", "customer_id", "issue_date", "due_date", "currency", "total", "open_amount"]
        );
        assert_eq!(
            invoices.rows[1],
            ["2026-0101", "C001", "2026-10-01", "2026-10-31", "EUR", "1234.5", "1234.5"]
        );
        assert_eq!(invoices.cell(2, 5), "0.1");
        assert_eq!(invoices.cell(2, 6), "0.1");
        assert_eq!(invoices.cell(3, 5), "12.35");
        assert_eq!(invoices.cell(3, 6), "0");
        assert_eq!(invoices.cell(4, 5), "1210");
        assert_eq!(invoices.cell(4, 6), "605.25");
        assert_eq!(invoices.cell(4, 3), "2026-12-15");

        let payments = sheet(sheets, "payments");
        assert_eq!(payments.rows[0], ["invoice_number", "date", "amount", "method"]);
        assert_eq!(payments.rows[1], ["2026-0103", "2026-11-02", "12.35", "transfer"]);
        assert_eq!(payments.rows[2], ["2026-0104", "2026-11-20", "604.75", "direct_debit"]);
        assert_eq!(payments.rows.len(), 3);
    }

    #[test]
    fn open_items_report_with_dutch_headers() {
        let sheets = read_workbook(&testdata("open-items.xlsx")).expect("open-items.xlsx reads");
        assert_eq!(sheets.len(), 1);
        let s = &sheets[0];
        assert_eq!(
            s.rows[0],
            [
                "Factuurnummer",
                "Klantnummer",
                "Relatie",
                "Factuurdatum",
                "Vervaldatum",
                "Bedrag incl. btw",
                "Openstaand"
            ]
        );
        assert_eq!(
            s.rows[1],
            ["F2026-118", "1001", "Café De Kroon", "2026-09-15", "2026-10-15", "1234.5", "1234.5"]
        );
        assert_eq!(s.cell(2, 2), "Brouwerij Ëlsbeek BVBA");
        assert_eq!(s.cell(2, 5), "2420");
        assert_eq!(s.cell(2, 6), "1000.01");
        assert_eq!(s.cell(3, 6), "0.1");
        assert_eq!(s.cell(3, 4), "2026-12-31");
        assert_eq!(s.rows.len(), 4);
    }

    #[test]
    fn error_cell_names_sheet_and_cell() {
        let err = read_workbook(&testdata("errors.xlsx")).expect_err("#DIV/0! refused");
        match &err {
            XlsxError::CellError { sheet, cell, value, .. } => {
                assert_eq!(sheet, "invoices");
                assert_eq!(cell, "F3");
                assert_eq!(value, "#DIV/0!");
            }
            other => panic!("wrong error: {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains("errors.xlsx"), "{message}");
        assert!(
            message.ends_with(
                "sheet `invoices`, cell F3: the cell shows the error #DIV/0!, not a value; \
                 correct the formula or type the value, save and import again"
            ),
            "{message}"
        );
    }

    #[test]
    fn leading_empty_row_and_grouped_number_keep_their_places() {
        let sheets = read_workbook(&testdata("layout.xlsx")).expect("layout.xlsx reads");
        let s = sheet(&sheets, "open items");
        // Row 1 is empty, the header is row 2 and starts in column B.
        assert!(s.rows[0].is_empty());
        assert_eq!(s.cell(1, 0), "");
        assert_eq!(s.cell(1, 1), "Factuurnummer");
        assert_eq!(s.cell(2, 1), "F-7");
        // Shown as 1.234.567,89 (thousands separators), stored as a number.
        assert_eq!(s.cell(2, 2), "1234567.89");
        // A formula gives the value saved with it: =C3*2, shown as 2.469.135,78.
        assert_eq!(s.cell(2, 3), "2469135.78");
        assert_eq!(s.cell(3, 2), "-0.5");
        // D4 is formatted but empty: "" in the middle of the row.
        assert_eq!(s.cell(3, 3), "");
        assert_eq!(s.rows[3].len(), 6);
        assert_eq!(s.cell(2, 5), "false");
        // A cell with a date and a time of day keeps its time.
        assert_eq!(s.cell(3, 4), "2026-10-31 14:30:00");
        assert_eq!(s.cell(2, 4), "2026-10-31");
        assert_eq!(s.cell(3, 5), "true");
    }

    #[test]
    fn formula_without_saved_value_is_refused() {
        let err = read_workbook(&testdata("uncalculated.xlsx")).expect_err("refused");
        assert!(
            matches!(&err, XlsxError::Uncalculated { sheet, cell, .. }
                if sheet == "open items" && cell == "D3"),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("uncalculated.xlsx: sheet `open items`, cell D3: the formula has no saved value"),
            "{err}"
        );
    }

    #[test]
    fn missing_and_unreadable_files_name_the_file() {
        let missing = testdata("no-such-file.xlsx");
        let err = read_workbook(&missing).expect_err("missing file");
        assert!(matches!(err, XlsxError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("no-such-file.xlsx"), "{err}");

        let csv = testdata("export-customers.csv");
        let dir = std::env::temp_dir().join(format!("dunwell-xlsx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let fake = dir.join("not-a-workbook.xlsx");
        std::fs::copy(&csv, &fake).expect("copy");
        let err = read_workbook(&fake).expect_err("a CSV named .xlsx");
        assert!(matches!(err, XlsxError::Open { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("not-a-workbook.xlsx"), "{message}");
        assert!(message.contains("save it as an Excel workbook (.xlsx)"), "{message}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Far-away cells make a small file describe a huge grid: the padding is counted and the
    /// file refused before the memory is taken; one far cell alone is cheap (empty rows).
    #[test]
    fn far_away_cells_are_refused() {
        let path = Path::new("hostile.xlsx");
        let sheet = "s";
        let mut budget = Budget { used: 0 };
        let mut grid = Grid::new(path, sheet);
        grid.take(&mut budget, 0, 0, Value::Text("a")).expect("A1");
        grid.take(&mut budget, 1_048_575, 0, Value::Text("last row")).expect("one cell in the last row");
        assert_eq!(grid.rows.len(), 1_048_576);

        // A cell stored is counted once (with its row): 1000 full rows of 100 cells cost 101000.
        let mut budget = Budget { used: 0 };
        let mut grid = Grid::new(path, sheet);
        for row in 0..1_000 {
            for column in 0..100 {
                grid.take(&mut budget, row, column, Value::Int(1)).expect("a full sheet");
            }
        }
        assert_eq!(budget.used, 101_000);

        let mut budget = Budget { used: 0 };
        let mut grid = Grid::new(path, sheet);
        let err = (0..1_000)
            .try_for_each(|row| grid.take(&mut budget, row, 16_383, Value::Text("far")))
            .expect_err("too many cells");
        // 610 rows of 16384 cells (and the rows) count 9994850; row 611 passes ten million.
        assert!(matches!(&err, XlsxError::TooManyCells { cell, .. } if cell == "XFD611"), "{err:?}");
        assert!(
            err.to_string().starts_with(
                "hostile.xlsx: more than 10000000 cells (counting the empty cells before each \
             value), reached in sheet `s` at XFD611;"
            ),
            "{err}"
        );
        let hostile = testdata("hostile.xlsx");
        let err = read_workbook(&hostile).expect_err("hostile.xlsx refused");
        assert!(
            matches!(&err, XlsxError::TooManyCells { sheet, cell, .. }
                if sheet == "open items" && cell == "XFD611"),
            "{err:?}"
        );

        let err = grid
            .take(&mut Budget { used: 0 }, u32::MAX - 1, 0, Value::Text("x"))
            .expect_err("beyond the sheet");
        assert!(matches!(err, XlsxError::OutOfSheet { .. }), "{err:?}");
        // Empty cells only count, but they count.
        let mut budget = Budget { used: MAX_CELLS - 1 };
        let mut grid = Grid::new(path, sheet);
        grid.take(&mut budget, 0, 0, Value::Empty).expect("at the cap");
        assert!(grid.take(&mut budget, 0, 1, Value::Empty).is_err());
    }
}
