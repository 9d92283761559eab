//! `dunwell note CUSTOMER (--file reply.eml | --text TEXT)`: records a customer's reply (or any
//! remark) that the operator pasted or forwarded, so `dunwell history` shows it next to the
//! message it answers.
//!
//! An `.eml` is read with `mailparse` (MIME, quoted-printable and base64, RFC 2047 headers,
//! charsets): From, Subject, Date, Message-ID, In-Reply-To and References, and the text (the
//! `text/plain` part that is not an attachment, else the HTML part reduced to text). It is
//! matched to the outbox message it answers by `In-Reply-To`, else the `References` from the
//! last, against the `Message-ID` dunwell gave its e-mails (`<dunwell.ID.HASH@domain>`, kept in
//! `outbox.message_id` by the SMTP channel and the file outbox alike; a row that has none is
//! recognised by its id and the hash of its key). A reply to a message of another customer is
//! refused, naming that customer: it would show in the wrong history.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, TimeZone, Utc};
use clap::Args;
use mailparse::{MailHeaderMap, ParsedMail};

use crate::cli::{write_json, Format};
use crate::config::Config;
use crate::store::notes::{bracketed, Answered, NewNote};
use crate::store::Store;

/// The largest `.eml` read (a reply with a big attachment is still far below).
const MAX_EML_BYTES: u64 = 25 * 1024 * 1024;
/// The most of a note's text kept, in characters.
const MAX_BODY_CHARS: usize = 64 * 1024;

#[derive(Args, Debug)]
pub struct NoteArgs {
    /// The customer the note is about (its customer_id).
    pub customer: String,
    /// A reply saved as an .eml file (in a mail client: "save as" or "forward as attachment").
    #[arg(long, value_name = "PATH", conflicts_with = "text", required_unless_present = "text")]
    pub file: Option<PathBuf>,
    /// The note's text, typed or pasted.
    #[arg(long, value_name = "TEXT")]
    pub text: Option<String>,
    /// The day it belongs to in the history (YYYY-MM-DD); default the reply's Date, else today.
    #[arg(long, value_parser = crate::model::parse_date)]
    pub at: Option<NaiveDate>,
    /// Who records it; default the USER environment variable, else "operator".
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// What an `.eml` holds, as a note keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    pub from: Option<String>,
    pub subject: Option<String>,
    /// The `Date` header, when it can be read.
    pub date: Option<chrono::DateTime<Utc>>,
    /// With angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub body: String,
}

impl Reply {
    /// The ids it may answer, most likely first: `In-Reply-To`, then `References` from the
    /// last (the message replied to) back.
    pub fn answers(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.in_reply_to.clone();
        for r in self.references.iter().rev() {
            if !ids.contains(r) {
                ids.push(r.clone());
            }
        }
        ids
    }
}

/// Reads an e-mail message. Refuses what is not one (no header at all).
pub fn parse_eml(raw: &[u8]) -> Result<Reply> {
    let mail = mailparse::parse_mail(raw).context("the file is not an e-mail message (RFC 5322)")?;
    let h = &mail.headers;
    if h.get_first_value("From").is_none()
        && h.get_first_value("Subject").is_none()
        && h.get_first_value("Message-ID").is_none()
    {
        bail!("the file has no From, Subject or Message-ID header: it does not look like an e-mail; save the reply from the mail client as .eml (or paste its text with --text)");
    }
    let ids = |key: &str| -> Vec<String> {
        h.get_all_values(key)
            .iter()
            .filter_map(|v| mailparse::msgidparse(v).ok())
            .flat_map(|list| list.iter().map(|id| bracketed(id)).collect::<Vec<_>>())
            .filter(|id| id.len() > 2)
            .collect()
    };
    let from = h.get_first_header("From").map(|header| match mailparse::addrparse_header(header) {
        Ok(list) => match list.extract_single_info() {
            Some(single) => match single.display_name.filter(|n| !n.trim().is_empty()) {
                Some(name) => format!("{} <{}>", name.trim(), single.addr),
                None => single.addr,
            },
            None => header.get_value(),
        },
        Err(_) => header.get_value(),
    });
    let date = h
        .get_first_value("Date")
        .and_then(|d| mailparse::dateparse(&d).ok())
        .and_then(|t| Utc.timestamp_opt(t, 0).single());
    Ok(Reply {
        from: from.map(|f| header_text(&f)).filter(|f| !f.is_empty()),
        subject: h.get_first_value("Subject").map(|s| header_text(&s)).filter(|s| !s.is_empty()),
        date,
        message_id: ids("Message-ID").into_iter().next(),
        in_reply_to: ids("In-Reply-To"),
        references: ids("References"),
        body: clean_body(&text_of(&mail)),
    })
}

/// A header's text, as free text someone else wrote: on one line, at most 500 characters.
fn header_text(s: &str) -> String {
    crate::text::free_text(s, 500)
}

/// The text of a message: the first `text/plain` part that is not an attachment, else the
/// first HTML part reduced to text, else nothing.
fn text_of(mail: &ParsedMail<'_>) -> String {
    let inline = |p: &&ParsedMail<'_>| {
        p.get_content_disposition().disposition != mailparse::DispositionType::Attachment
    };
    let body = |mime: &str| {
        mail.parts()
            .filter(inline)
            .find(|p| p.ctype.mimetype.eq_ignore_ascii_case(mime))
            .and_then(|p| p.get_body().ok())
    };
    body("text/plain").or_else(|| body("text/html").map(|h| html_to_text(&h))).unwrap_or_default()
}

/// A note's text: line breaks kept (`\n`), other control characters dropped, trailing spaces
/// and runs of blank lines removed, at most [`MAX_BODY_CHARS`].
pub(crate) fn clean_body(s: &str) -> String {
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines: Vec<String> = Vec::new();
    for line in s.split('\n') {
        let line: String = line.chars().filter(|c| *c == '\t' || !c.is_control()).collect();
        let line = line.trim_end().to_string();
        if line.is_empty() && lines.last().is_some_and(String::is_empty) {
            continue;
        }
        lines.push(line);
    }
    let text = lines.join("\n");
    let text = text.trim_matches('\n');
    match text.char_indices().nth(MAX_BODY_CHARS) {
        Some((cut, _)) => format!("{}\n[… cut at {MAX_BODY_CHARS} characters]", &text[..cut]),
        None => text.to_string(),
    }
}

/// HTML reduced to its text: tags dropped (a line break for block elements), `script` and
/// `style` left out, white space collapsed as a browser does, entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut space = false;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            if let Some(comment) = after.strip_prefix("!--") {
                rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
                continue;
            }
            let end = after.find('>').unwrap_or(after.len());
            let tag = &after[..end];
            rest = after.get(end + 1..).unwrap_or("");
            let closing = tag.starts_with('/');
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            if !closing && matches!(name.as_str(), "script" | "style" | "head" | "title") {
                let close = format!("</{name}");
                let lower = rest.to_ascii_lowercase();
                rest = match lower.find(&close) {
                    Some(at) => rest[at..].find('>').map_or("", |gt| &rest[at + gt + 1..]),
                    None => "",
                };
                continue;
            }
            match name.as_str() {
                "br" => {
                    trim_spaces(&mut out);
                    out.push('\n');
                }
                "p" | "blockquote" | "ul" | "ol" | "table" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                    paragraph(&mut out)
                }
                "div" | "tr" | "hr" | "li" => {
                    new_line(&mut out);
                    if name == "li" && !closing {
                        out.push_str("- ");
                    }
                }
                "td" | "th" if !closing => {
                    space = true;
                    continue;
                }
                _ => continue,
            }
            space = false;
            continue;
        }
        let next = rest.find('<').unwrap_or(rest.len());
        for c in decode_entities(&rest[..next]).chars() {
            if c.is_whitespace() && c != '\u{a0}' {
                space = true;
            } else {
                if space && !out.is_empty() && !out.ends_with('\n') {
                    out.push(' ');
                }
                space = false;
                out.push(if c == '\u{a0}' { ' ' } else { c });
            }
        }
        rest = &rest[next..];
    }
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    let mut text = String::new();
    for line in lines {
        if line.is_empty() && (text.is_empty() || text.ends_with("\n\n")) {
            continue;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.trim_end().to_string()
}

fn trim_spaces(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
}

/// Ends the line (once).
fn new_line(out: &mut String) {
    trim_spaces(out);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

/// Ends the paragraph: a blank line (once).
fn paragraph(out: &mut String) {
    new_line(out);
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
}

/// `&amp;`, `&eacute;`, `&#233;`, `&#xE9;` … as characters; an unknown entity stays as written.
fn decode_entities(s: &str) -> String {
    const NAMED: &[(&str, char)] = &[
        ("amp", '&'),
        ("lt", '<'),
        ("gt", '>'),
        ("quot", '"'),
        ("apos", '\''),
        ("nbsp", '\u{a0}'),
        ("euro", '€'),
        ("eacute", 'é'),
        ("egrave", 'è'),
        ("ecirc", 'ê'),
        ("euml", 'ë'),
        ("agrave", 'à'),
        ("acirc", 'â'),
        ("auml", 'ä'),
        ("ccedil", 'ç'),
        ("iuml", 'ï'),
        ("icirc", 'î'),
        ("ocirc", 'ô'),
        ("ouml", 'ö'),
        ("ugrave", 'ù'),
        ("ucirc", 'û'),
        ("uuml", 'ü'),
        ("Auml", 'Ä'),
        ("Ouml", 'Ö'),
        ("Uuml", 'Ü'),
        ("Eacute", 'É'),
        ("szlig", 'ß'),
        ("hellip", '…'),
        ("ndash", '–'),
        ("mdash", '—'),
        ("lsquo", '‘'),
        ("rsquo", '’'),
        ("ldquo", '“'),
        ("rdquo", '”'),
        ("laquo", '«'),
        ("raquo", '»'),
        ("copy", '©'),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after.find(';').filter(|&semi| semi <= 10).and_then(|semi| {
            let name = &after[..semi];
            let c = if let Some(num) = name.strip_prefix('#') {
                match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse().ok(),
                }
                .and_then(char::from_u32)
            } else {
                NAMED.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
            };
            c.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The outbox message a reply answers: by its recorded Message-ID, else (a row sent before
/// ids were recorded) by the row id and key hash in the id itself.
fn answered(store: &Store, reply: &Reply) -> Result<Option<(String, Answered)>> {
    for id in reply.answers() {
        if let Some(a) = store.message_by_message_id(&id)? {
            return Ok(Some((id, a)));
        }
        if let Some(row) = crate::channel::email::row_of_message_id(&id) {
            if let Some(m) = store.message(row)?.filter(|m| crate::channel::email::is_message_id_of(m, &id)) {
                let a = Answered {
                    outbox_id: m.id,
                    customer_id: m.customer_id,
                    day: m.day,
                    template: m.template,
                };
                return Ok(Some((id, a)));
            }
        }
    }
    Ok(None)
}

/// Who records: `--by`, else $USER, else "operator".
fn recorder(who: &str) -> Result<String> {
    crate::text::single_line(who, 100)
        .map_err(|e| anyhow::anyhow!("--by {e}: give the name of who records the note"))
}

/// A note as recorded: its id, its day, and the message it answers.
pub struct Noted {
    pub id: i64,
    pub day: NaiveDate,
    pub customer_name: String,
    pub sender: Option<String>,
    pub answers: Option<Answered>,
    pub empty: bool,
}

/// Records a reply (or a note's text) for a customer: checked against the store (the
/// customer exists, the reply is not noted twice, it answers a message of this customer),
/// matched to the message it answers, and stored with who records it. The CLI and the admin
/// API both record through here.
pub fn record_note(
    store: &mut Store,
    config: &Config,
    customer: &str,
    reply: Reply,
    by: &str,
    at: Option<NaiveDate>,
) -> Result<Noted> {
    let customer = customer.trim();
    let Some(name) = store.customer_name(customer)? else {
        bail!(
            "no customer `{}` in the store; give the customer_id of an imported customer (`dunwell segments` lists them)",
            crate::text::escape(customer)
        )
    };
    let by = recorder(by)?;
    if let Some(id) = &reply.message_id {
        if let Some(existing) = store.note_with_message_id(customer, id)? {
            bail!(
                "this reply ({}) is already noted for {customer} as note #{existing}; `dunwell history {customer}` shows it",
                crate::text::escape(id)
            );
        }
    }
    let matched = answered(store, &reply)?;
    if let Some((_, a)) = &matched {
        if a.customer_id != customer {
            let other = store.customer_name(&a.customer_id)?.unwrap_or_default();
            bail!(
                "this reply answers message #{} of {} ({}) to customer {} ({}), not to {customer} ({}); note it for {} (`dunwell note {} --file …`), or, if it really concerns {customer}, record its text with --text",
                a.outbox_id,
                a.day,
                a.template,
                a.customer_id,
                crate::text::escape(&other),
                crate::text::escape(&name),
                a.customer_id,
                a.customer_id
            );
        }
    } else if let Some(first) = reply.answers().first() {
        tracing::warn!(
            "the reply answers {}, which is not a message dunwell sent (or not from this data directory); it is noted for {customer} without a message",
            crate::text::escape(first)
        );
    }
    let day = at
        .or_else(|| reply.date.map(|d| d.with_timezone(&config.time_zone).date_naive()))
        .unwrap_or_else(|| config.today());
    let note = NewNote {
        customer_id: customer.to_string(),
        day,
        recorded_at: Utc::now().to_rfc3339(),
        recorded_by: by,
        sender: reply.from.clone(),
        subject: reply.subject.clone(),
        message_id: reply.message_id.clone(),
        in_reply_to: matched
            .as_ref()
            .map(|(id, _)| id.clone())
            .or_else(|| reply.answers().into_iter().next()),
        outbox_id: matched.as_ref().map(|(_, a)| a.outbox_id),
        body: reply.body.clone(),
    };
    let id = store.add_note(&note)?;
    Ok(Noted {
        id,
        day,
        customer_name: name,
        sender: note.sender,
        answers: matched.map(|(_, a)| a),
        empty: reply.body.is_empty(),
    })
}

pub fn run_note(config: &Config, args: &NoteArgs, out: &mut dyn Write) -> Result<()> {
    let mut store = Store::open(&config.database_path())?;
    let customer = args.customer.trim();
    let reply = match (&args.file, &args.text) {
        (Some(path), _) => {
            let size =
                std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?.len();
            if size > MAX_EML_BYTES {
                bail!(
                    "{} is {} MB, more than an e-mail reply should be ({} MB at most); save the reply without its attachments, or paste its text with --text",
                    path.display(),
                    size / (1024 * 1024),
                    MAX_EML_BYTES / (1024 * 1024)
                );
            }
            let raw = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            parse_eml(&raw).with_context(|| format!("{}", path.display()))?
        }
        (None, Some(text)) => {
            let body = clean_body(text);
            if body.is_empty() {
                bail!("--text is empty; give the note's text");
            }
            Reply { body, ..Reply::default() }
        }
        (None, None) => bail!("give the reply as --file reply.eml, or the note's text as --text TEXT"),
    };
    let by = args.by.clone().unwrap_or_else(crate::cli_care::default_by);
    let noted = record_note(&mut store, config, customer, reply, &by, args.at)?;
    let (id, day) = (noted.id, noted.day);
    if args.format == Format::Json {
        return write_json(out, &store.note(id)?);
    }
    let what = match &noted.sender {
        Some(from) => format!("reply from {}", crate::text::escape(from)),
        None => "note".to_string(),
    };
    write!(
        out,
        "note #{id} for {customer} ({}) on {day}: {what}",
        crate::text::escape(&noted.customer_name)
    )?;
    match &noted.answers {
        Some(a) => writeln!(out, ", answering message #{} of {} ({})", a.outbox_id, a.day, a.template)?,
        None => writeln!(out)?,
    }
    if noted.empty {
        writeln!(out, "(the message has no text; its subject and sender are kept)")?;
    }
    writeln!(out, "`dunwell history {customer}` shows it")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply as Thunderbird or Outlook would save it: multipart/alternative, the text part
    /// quoted-printable UTF-8, the HTML part base64, an encoded-word subject, a folded
    /// References header.
    const REPLY: &str = "Return-Path: <jan@bakkerijdevries.nl>\r\n\
From: =?UTF-8?Q?Jan_de_Vri=C3=ABs?= <jan@bakkerijdevries.nl>\r\n\
To: Bakkerij Van Dam <debiteuren@bakkerij.example>\r\n\
Subject: =?UTF-8?Q?Re:_Herinnering_factuur_2026-001_=E2=82=AC_1.210,00_?=\r\n =?UTF-8?Q?=E2=80=93_caf=C3=A9?=\r\n\
Date: Fri, 27 Nov 2026 09:14:03 +0100\r\n\
Message-ID: <a1b2c3@mail.bakkerijdevries.nl>\r\n\
In-Reply-To: <dunwell.1.0011223344556677@localhost.invalid>\r\n\
References: <older@bakkerijdevries.nl>\r\n <dunwell.1.0011223344556677@localhost.invalid>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"=_b1\"\r\n\
\r\n\
--=_b1\r\n\
Content-Type: text/plain; charset=UTF-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Goedemorgen,\r\n\
\r\n\
Excuses, de factuur is blijven liggen door een verhuizing van ons caf=C3=A9. W=\r\n\
e betalen de =E2=82=AC 1.210,00 volgende week vrijdag; Zo=C3=AB kijkt het na.\r\n\
\r\n\
Met vriendelijke groet,\r\n\
Jan de Vri=C3=ABs\r\n\
\r\n\
> Geachte heer De Vries,\r\n\
--=_b1\r\n\
Content-Type: text/html; charset=UTF-8\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
PHA+R29lZGVtb3JnZW4sPC9wPg==\r\n\
--=_b1--\r\n";

    #[test]
    fn a_multipart_reply_is_read_with_its_headers_and_text() {
        let r = parse_eml(REPLY.as_bytes()).unwrap();
        assert_eq!(r.from.as_deref(), Some("Jan de Vriës <jan@bakkerijdevries.nl>"));
        assert_eq!(r.subject.as_deref(), Some("Re: Herinnering factuur 2026-001 € 1.210,00 – café"));
        assert_eq!(r.message_id.as_deref(), Some("<a1b2c3@mail.bakkerijdevries.nl>"));
        assert_eq!(r.in_reply_to, ["<dunwell.1.0011223344556677@localhost.invalid>"]);
        assert_eq!(
            r.references,
            ["<older@bakkerijdevries.nl>", "<dunwell.1.0011223344556677@localhost.invalid>"]
        );
        // In-Reply-To first, then References from the last; each once.
        assert_eq!(
            r.answers(),
            ["<dunwell.1.0011223344556677@localhost.invalid>", "<older@bakkerijdevries.nl>"]
        );
        assert_eq!(r.date.unwrap().to_rfc3339(), "2026-11-27T08:14:03+00:00");
        assert!(r.body.starts_with("Goedemorgen,\n\nExcuses"), "{}", r.body);
        assert!(
            r.body.contains("verhuizing van ons café. We betalen de € 1.210,00 volgende week vrijdag; Zoë"),
            "{}",
            r.body
        );
        assert!(r.body.ends_with("> Geachte heer De Vries,"), "{}", r.body);
        assert!(!r.body.contains('\r'));
    }

    #[test]
    fn without_a_text_part_the_html_is_read_in_its_charset() {
        let raw = b"From: compta@exemple.be\r\n\
Subject: =?ISO-8859-1?Q?R=E9f=E9rence_facture?=\r\n\
Content-Type: multipart/mixed; boundary=xyz\r\n\
\r\n\
--xyz\r\n\
Content-Type: text/html; charset=windows-1252\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
<html><head><style>p {color: red}</style></head><body><p>Bonjour,</p><p>Nous contestons le montant de =80 250 : la livraison n'=E9tait pas compl=E8te.<br>Cordialement,</p><script>alert(1)</script><p>Sophie &amp; Luc&nbsp;Peeters &#8364; &eacute;</p></body></html>\r\n\
--xyz\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Disposition: attachment; filename=notes.txt\r\n\
\r\n\
not the body\r\n\
--xyz--\r\n";
        let r = parse_eml(raw).unwrap();
        assert_eq!(r.from.as_deref(), Some("compta@exemple.be"));
        assert_eq!(r.subject.as_deref(), Some("Référence facture"));
        assert_eq!((r.message_id, r.date), (None, None));
        assert_eq!(
            r.body,
            "Bonjour,\n\nNous contestons le montant de € 250 : la livraison n'était pas complète.\nCordialement,\n\nSophie & Luc Peeters € é"
        );
    }

    #[test]
    fn what_is_not_an_e_mail_is_refused() {
        let err = parse_eml(b"just some text\nwithout headers\n").unwrap_err();
        assert!(format!("{err:#}").contains("--text"), "{err:#}");
    }

    #[test]
    fn html_is_reduced_to_text() {
        assert_eq!(html_to_text("<ul><li>one</li><li>two &lt;3&gt;</li></ul>"), "- one\n- two <3>");
        assert_eq!(html_to_text("a<!-- hidden <p> -->b &unknown; &#x41;"), "ab &unknown; A");
        assert_eq!(html_to_text("<div>  many\n   spaces  </div>"), "many spaces");
    }

    #[test]
    fn bodies_are_cleaned_and_capped() {
        assert_eq!(clean_body("\r\n\r\na  \r\n\r\n\r\n\r\nb\u{7}\r\n\r\n"), "a\n\nb");
        let long = "x".repeat(MAX_BODY_CHARS + 10);
        assert!(clean_body(&long).ends_with("characters]"));
    }
}
