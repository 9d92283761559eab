//! Where in a user's file something is wrong.
//!
//! Every error a user can cause by editing a file must point at the file, line and column,
//! so this small type is shared by the config, playbook, segment-rule and CSV readers.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    /// 1-based; 0 when only the file is known.
    pub line: usize,
    /// 1-based; 0 when only the line is known.
    pub column: usize,
}

impl Location {
    pub fn file(file: impl Into<PathBuf>) -> Self {
        Location { file: file.into(), line: 0, column: 0 }
    }

    pub fn at(file: impl Into<PathBuf>, line: usize, column: usize) -> Self {
        Location { file: file.into(), line, column }
    }

    /// The location of byte `offset` in `source`.
    pub fn at_offset(file: &Path, source: &str, offset: usize) -> Self {
        let (line, column) = line_column(source, offset);
        Location::at(file, line, column)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if self.column > 0 {
                write!(f, ":{}", self.column)?;
            }
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of byte `offset` in `source`.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// A problem found in a user's file, printed as `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub location: Location,
    pub message: String,
}

impl Problem {
    pub fn new(location: Location, message: impl Into<String>) -> Self {
        Problem { location, message: message.into() }
    }

    /// Turns a `toml` deserialisation error into a located problem. toml's own message is
    /// several lines with a source excerpt; users get one line naming the key instead.
    pub fn from_toml(file: &Path, source: &str, err: &toml::de::Error) -> Self {
        let message = err.message().trim().to_string();
        match err.span() {
            Some(span) => {
                let location = Location::at_offset(file, source, span.start);
                let key = key_on_line(source, span.start);
                let message = match key {
                    Some(k) if !message.contains(&format!("`{k}`")) => {
                        format!("{message} (key `{k}`)")
                    }
                    _ => message,
                };
                Problem { location, message }
            }
            None => Problem { location: Location::file(file), message },
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// The key of a `key = value` line containing byte `offset`, for error messages.
fn key_on_line(source: &str, offset: usize) -> Option<String> {
    let offset = offset.min(source.len());
    let start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = source[start..].find('\n').map_or(source.len(), |i| start + i);
    let line = &source[start..end];
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.starts_with('[') && !key.starts_with('#')).then(|| key.to_string())
}

/// A list of problems, displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_columns() {
        let src = "a = 1\nbé = 2\n";
        assert_eq!(line_column(src, 0), (1, 1));
        assert_eq!(line_column(src, 6), (2, 1));
        // after the two-byte é, column counts characters
        assert_eq!(line_column(src, 9), (2, 3));
        assert_eq!(line_column(src, 999), (3, 1));
    }

    #[test]
    fn display_omits_unknown_parts() {
        assert_eq!(Location::file("x.toml").to_string(), "x.toml");
        assert_eq!(Location::at("x.toml", 3, 0).to_string(), "x.toml:3");
        assert_eq!(Location::at("x.toml", 3, 7).to_string(), "x.toml:3:7");
    }
}
