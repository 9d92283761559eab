//! Paging through the one read-only folder a file connector is given ([`crate::INPUT_DIR`]).
//!
//! Files are read oldest change first; the cursor is the modification time and name of the
//! last file read, so a later sync reads only files added or changed since, and a file that
//! arrives while a sync pages through the folder is not skipped.

use std::path::Path;

use crate::ConnectorError;

/// One file of a page: its name in the folder and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// The file's name in the folder (for error messages and ids).
    pub name: String,
    /// Its content, checked to be UTF-8.
    pub text: String,
}

/// A page of files after a cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePage {
    /// The files of this page, oldest change first.
    pub files: Vec<InputFile>,
    /// The cursor after the last file of this page (`None` when the page is empty).
    pub next_cursor: Option<String>,
    /// Whether more files follow.
    pub more: bool,
}

/// The files of `dir` whose name ends in `extension` (case-insensitive, e.g. `".xml"`) after
/// `cursor`, at most `limit` of them (at least one), with their text.
pub fn page(
    dir: &Path,
    extension: &str,
    cursor: Option<&str>,
    limit: u32,
) -> Result<FilePage, ConnectorError> {
    let listing = std::fs::read_dir(dir).map_err(|e| {
        ConnectorError::InvalidConfig(format!(
            "cannot list the input folder: {e}; is `directory` set for this plugin?"
        ))
    })?;
    let extension = extension.to_ascii_lowercase();
    let mut entries: Vec<(u128, String)> = Vec::new();
    for entry in listing {
        let entry =
            entry.map_err(|e| ConnectorError::Remote(format!("cannot list the input folder: {e}")))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.to_ascii_lowercase().ends_with(&extension) {
            continue;
        }
        let meta = entry.metadata().map_err(|e| ConnectorError::Remote(format!("{name}: {e}")))?;
        if !meta.is_file() {
            continue;
        }
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        entries.push((modified, name));
    }
    entries.sort();
    if let Some(c) = cursor {
        let (t, name) = parse_cursor(c)?;
        entries.retain(|(m, n)| (*m, n.as_str()) > (t, name.as_str()));
    }
    let limit = (limit as usize).max(1);
    let more = entries.len() > limit;
    entries.truncate(limit);
    let next_cursor = entries.last().map(|(m, n)| format!("{m}:{n}"));
    let mut files = Vec::with_capacity(entries.len());
    for (_, name) in entries {
        let bytes =
            std::fs::read(dir.join(&name)).map_err(|e| ConnectorError::Remote(format!("{name}: {e}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| ConnectorError::InvalidData(format!("{name}: not UTF-8 text")))?;
        files.push(InputFile { name, text });
    }
    Ok(FilePage { files, next_cursor, more })
}

fn parse_cursor(c: &str) -> Result<(u128, String), ConnectorError> {
    let bad = || ConnectorError::InvalidData(format!("`{c}` is not a cursor of a file connector"));
    let (t, name) = c.split_once(':').ok_or_else(bad)?;
    Ok((t.parse().map_err(|_| bad())?, name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_modification_time_then_name_and_resume_after_the_cursor() {
        let dir = std::env::temp_dir().join(format!("dunwell-sdk-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["b.xml", "a.XML", "c.xml", "notes.txt"] {
            std::fs::write(dir.join(name), name).unwrap();
        }
        std::fs::create_dir(dir.join("sub.xml")).unwrap();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let p = page(&dir, ".xml", cursor.as_deref(), 2).unwrap();
            seen.extend(p.files.iter().map(|f| f.text.clone()));
            cursor = p.next_cursor.or(cursor);
            if !p.more {
                break;
            }
        }
        seen.sort();
        assert_eq!(seen, vec!["a.XML", "b.xml", "c.xml"]);
        // Nothing new after the last cursor.
        assert!(page(&dir, ".xml", cursor.as_deref(), 10).unwrap().files.is_empty());
        assert!(matches!(page(&dir, ".xml", Some("nonsense"), 10), Err(ConnectorError::InvalidData(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
