//! Text that comes from outside (connector plugins, spreadsheets) made safe to keep, compare,
//! show and later use as an address: one grammar per kind of field, and escaping for whatever
//! is shown in a terminal or a log.
//!
//! Why a grammar and not just "no NUL": an invoice number with a line break forges rows in
//! `dunwell plan`; a right-to-left override shows `INV-exe.pdf` for `INV-fdp.exe`; a zero-width
//! space makes two numbers that look the same; `a@b.example\nBcc: x@evil.example` would add a
//! header to an e-mail; a number starting with `..` could become a path. Each of these is
//! refused where it enters, naming the field, and escaped wherever it is shown.
//!
//! A `/` inside an invoice number or an id is allowed: `2026/0001` is how many Belgian and
//! Dutch packages number invoices. Nothing uses a number or an id as a path as it is: file
//! names (the outbox) are derived from them.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

/// Longest invoice number, customer key, reference or record id.
pub const MAX_IDENTIFIER: usize = 128;
/// Longest plugin text kept or shown (an error, a log line, a description).
pub const MAX_PLUGIN_TEXT: usize = 2 << 10;

/// Unicode format characters that change how text is shown without being seen: bidi
/// embeddings, overrides and isolates, zero-width characters, the BOM, soft hyphen, word
/// joiner, invisible operators.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
}

/// Line and paragraph separators besides the C0 ones.
fn line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Whether `c` must not appear in text that is shown as it is.
fn unsafe_char(c: char) -> bool {
    c.is_control() || invisible(c) || line_break(c)
}

/// Bytes as lower-case hex: digests in file names, keys, ids and tokens.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `s` with every control, line break and invisible format character written as an escape
/// (`\n`, `\u{1b}`): what a plugin or a file says can be shown, never acted on by a terminal
/// or mistaken for another log line.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`escape`], but line breaks stay: for messages dunwell writes over several lines.
pub fn escape_keep_lines(s: &str) -> String {
    s.split('\n').map(|line| escape(line).into_owned()).collect::<Vec<_>>().join("\n")
}

/// At most `max` bytes of `s` (cut at a character boundary), saying how much was cut.
pub fn cap(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!("{} [... {} more bytes]", &s[..cut], s.len() - cut))
}

/// Plugin text as it may be logged, stored or shown: capped, then escaped.
pub fn plugin_text(s: &str) -> String {
    escape(&cap(s, MAX_PLUGIN_TEXT)).into_owned()
}

/// An identifier (invoice number, customer key, reference, record id): trimmed, NFC, one line
/// of visible characters, no `\`, not starting with `.`, at most [`MAX_IDENTIFIER`]
/// characters. The error says what is wrong without echoing invisible characters.
pub fn identifier(s: &str) -> Result<String, String> {
    identifier_max(s, MAX_IDENTIFIER)
}

/// [`identifier`] with another length cap (record ids built from several references).
pub fn identifier_max(s: &str, max_chars: usize) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("is empty".into());
    }
    // The common case, and the one an import of a million rows meets: printable ASCII is NFC.
    let b = t.as_bytes();
    if b.len() <= max_chars && b[0] != b'.' && b.iter().all(|&c| (0x20..0x7f).contains(&c) && c != b'\\') {
        return Ok(t.to_string());
    }
    if let Some(c) = t.chars().find(|&c| unsafe_char(c)) {
        return Err(format!(
            "`{}` holds {}; write it on one line, with visible characters only",
            escape(&cap(t, 80)),
            describe(c)
        ));
    }
    if t.contains('\\') {
        return Err(format!("`{}` holds a `\\`", cap(t, 80)));
    }
    if t.starts_with('.') {
        return Err(format!("`{}` starts with `.`", cap(t, 80)));
    }
    let n: String = t.nfc().collect();
    if n.chars().count() > max_chars {
        return Err(format!("`{}` is longer than {max_chars} characters", cap(&n, 80)));
    }
    Ok(n)
}

/// A name or an address line: trimmed, NFC, one line, no controls or bidi overrides.
pub fn single_line(s: &str, max_chars: usize) -> Result<String, String> {
    let t = s.trim();
    if t.len() <= max_chars && t.bytes().all(|c| (0x20..0x7f).contains(&c)) {
        return Ok(t.to_string());
    }
    if let Some(c) = t.chars().find(|&c| c.is_control() || line_break(c) || bidi_override(c)) {
        return Err(format!("`{}` holds {}; write it on one line", escape(&cap(t, 80)), describe(c)));
    }
    let n: String = t.nfc().collect();
    if n.chars().count() > max_chars {
        return Err(format!("`{}` is longer than {max_chars} characters", cap(&n, 80)));
    }
    Ok(n)
}

/// Free text someone else wrote (a bank's remittance text, a payer's name): kept for reading,
/// so line breaks and controls become spaces and invisible characters go, instead of the
/// payment being refused for them.
pub fn free_text(s: &str, max_chars: usize) -> String {
    let cleaned: String =
        s.chars().filter(|&c| !invisible(c)).map(|c| if unsafe_char(c) { ' ' } else { c }).collect();
    let joined = cleaned.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
    joined.nfc().take(max_chars).collect()
}

fn bidi_override(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn describe(c: char) -> String {
    match c {
        '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => "a line break".into(),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        c => format!("the invisible character U+{:04X}", c as u32),
    }
}

/// An e-mail address as reminders will be sent to: a dot-atom local part, `@`, a domain of
/// letters, digits and hyphens with at least one dot; no spaces, quotes, comments or line
/// breaks (what mail software may read as another header). Hand-written: the dot-atom
/// subset of RFC 5322 is all a debtor's address needs, and stricter than general parsers
/// that accept quoted local parts.
pub fn email(s: &str) -> Result<String, String> {
    let t = s.trim();
    let bad = || format!("`{}` is not an e-mail address", escape(&cap(t, 80)));
    let (local, domain) = t.rsplit_once('@').ok_or_else(bad)?;
    let atom = |a: &str| {
        !a.is_empty()
            && a.chars().all(|c| c.is_alphanumeric() && !c.is_control() || "!#$%&'*+-/=?^_`{|}~".contains(c))
    };
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    let ok = t.len() <= 254
        && local.len() <= 64
        && local.split('.').all(atom)
        && domain.contains('.')
        && domain.split('.').all(label);
    if ok {
        Ok(t.to_string())
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_shows_what_a_terminal_would_act_on() {
        assert_eq!(escape("plain €"), "plain €");
        assert_eq!(
            escape("a\nERROR b\r\u{1b}[2K\u{202e}x\u{200b}"),
            "a\\nERROR b\\r\\u{1b}[2K\\u{202e}x\\u{200b}"
        );
        assert!(matches!(escape("ok"), Cow::Borrowed(_)));
    }

    #[test]
    fn cap_cuts_at_a_character_and_says_how_much() {
        assert_eq!(cap("abc", 5), "abc");
        assert_eq!(cap("ééé", 3), "é [... 4 more bytes]");
        let long = "x".repeat(10_000);
        assert!(plugin_text(&long).len() < MAX_PLUGIN_TEXT + 40);
    }

    #[test]
    fn identifiers_are_one_visible_line() {
        assert_eq!(identifier(" 2026/0001 ").unwrap(), "2026/0001");
        assert_eq!(identifier("Cafe\u{301}-1").unwrap(), identifier("Café-1").unwrap());
        for bad in [
            "2026-001\n2026-999  C999  Forged",
            "INV-\u{202e}fdp.exe\u{202c}",
            "2026-001\u{200b}",
            "a\\b",
            "../../etc/x",
            ".hidden",
            "",
            "tab\there",
        ] {
            assert!(identifier(bad).is_err(), "{bad:?}");
        }
        assert!(identifier(&"9".repeat(129)).is_err());
        assert!(identifier(&"9".repeat(128)).is_ok());
        let e = identifier("a\u{202e}b").unwrap_err();
        assert!(e.contains("U+202E") && !e.contains('\u{202e}'), "{e}");
    }

    #[test]
    fn names_are_one_line_and_free_text_is_cleaned() {
        assert_eq!(single_line("  Van Dam, Hout & Co ", 200).unwrap(), "Van Dam, Hout & Co");
        assert!(single_line("ACME \u{202e}lanigiro\u{202c} BV", 200).is_err());
        assert!(single_line("ACME BV\nFAKE LINE", 200).is_err());
        assert_eq!(free_text("Factuur\n2026-17\u{200b}\tdank  u", 100), "Factuur 2026-17 dank u");
    }

    #[test]
    fn e_mail_addresses_are_dot_atoms_at_a_domain() {
        for good in ["admin@bakkerij.example", "j.o'brien+invoices@sub.example.be", "marie@dubois.fr"] {
            assert_eq!(email(good).unwrap(), good);
        }
        for bad in [
            "a@b.example\nBcc: x@evil.example",
            "a@b",
            "@b.example",
            "a b@c.example",
            "\"quoted\"@c.example",
            "a..b@c.example",
            "a@-b.example",
            "a@b.example>",
        ] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
    }
}
