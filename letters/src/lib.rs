//! Letters and registered letters as PDF (issue 10, point 6), typeset by typst.
//!
//! The layout is a typst file the business can edit in git (`playbooks/letters/letter.typ`;
//! [`DEFAULT_TEMPLATE`] is a copy of the shipped one). Everything about the customer goes in
//! as *data* through `sys.inputs`, never spliced into the markup: a customer called
//! `#set page(fill: red)` or `*Jansen*` is printed exactly like that.
//!
//! ```no_run
//! # fn letter() -> dunwell_letters::Letter { unimplemented!() }
//! use dunwell_letters::{Letters, DEFAULT_TEMPLATE};
//! let letters = Letters::new(DEFAULT_TEMPLATE)?; // once: fonts parsed, template checked
//! let pdf: Vec<u8> = letters.render(&letter())?; // per letter
//! # Ok::<(), dunwell_letters::LetterError>(())
//! ```
//!
//! The font (DejaVu Sans, regular and bold; Bitstream Vera licence in `fonts/LICENSE`) is
//! compiled into the crate, so é, ë, ç and € render on every machine. The template can read no
//! file and load no package: it sees the fonts, the template and the letter's data.

mod epc;

use typst::diag::{SourceDiagnostic, Warned};
use typst::ecow::EcoVec;
use typst::foundations::{Array, Bytes, Dict, Str, Value};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::{World, WorldExt};
use typst_as_lib::{TypstEngine, TypstTemplateMainFile};
use typst_layout::PagedDocument;

pub use epc::{epc_payload, Reference, MAX_PAYLOAD_BYTES};

/// The shipped letter layout (`playbooks/letters/letter.typ`).
pub const DEFAULT_TEMPLATE: &str = include_str!("../../playbooks/letters/letter.typ");

/// The name the template has in error messages (`letter.typ:12:5: …`).
pub const TEMPLATE_NAME: &str = "letter.typ";

static FONT_REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static FONT_BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// How many compilations typst's memo cache keeps unused entries for: a few letters' worth of
/// laid-out paragraphs and shaped text, bounded.
const CACHE_MAX_AGE: usize = 8;

/// Why a letter could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    /// The template does not compile (each problem with `letter.typ:line:column`).
    #[error("letter template: {0}")]
    Template(String),
    /// A field of the letter cannot be printed (e.g. a recipient of 7 lines).
    #[error("letter: {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The payment cannot become an EPC QR code (e.g. a wrong IBAN or reference).
    #[error("EPC QR code: {field}: {reason}")]
    Epc { field: &'static str, reason: String },
    /// The PDF export failed.
    #[error("PDF export: {0}")]
    Pdf(String),
}

/// One letter, every value already formatted for its language by the caller (dates, amounts).
#[derive(Debug, Clone, PartialEq)]
pub struct Letter {
    /// `nl`, `fr`, `en` or `de` (hyphenation and the text's language in the PDF).
    pub lang: String,
    pub sender: Sender,
    /// The address, 1 to 6 lines; when abroad the last line is the country in capitals
    /// (`BELGIË`, `PAYS-BAS`).
    pub recipient: Vec<String>,
    /// `Amsterdam, 3 maart 2026`.
    pub place_and_date: String,
    /// Printed in bold above the body.
    pub subject: String,
    /// Paragraphs separated by blank lines (a single line break stays a line break); it
    /// usually opens with the salutation. Printed before the table of invoices.
    pub body: String,
    pub invoices: Vec<InvoiceRow>,
    /// `Totaal openstaand`.
    pub total_label: String,
    /// The total of the open amounts, formatted (`€ 1.234,56`).
    pub total: String,
    /// Printed after the table and the payment block: the greeting and signature
    /// (paragraphs separated by blank lines; may be empty).
    pub closing: String,
    pub labels: Labels,
    /// The payment block with the EPC QR code; `None` prints neither.
    pub payment: Option<Payment>,
    /// A payment plan's instalments, each printed with its own EPC QR code (after the
    /// payment block, when there is one). Empty: the letter is laid out as without them. A
    /// plan's confirmation usually sets `payment` to `None`, so that the customer pays per
    /// instalment and not the total.
    pub instalments: Vec<InstalmentPayment>,
    /// Prints the registered mark (`labels.registered`) on the first page.
    pub registered: bool,
}

/// The business that sends the letter: letterhead, details column and footer.
#[derive(Debug, Clone, PartialEq)]
pub struct Sender {
    pub name: String,
    pub address_lines: Vec<String>,
    /// `KvK 12345678`, `BTW NL123456789B01`, `KBO/BCE 0123.456.789`.
    pub registration: Vec<String>,
    /// Checked (mod 97) and printed in groups of four.
    pub iban: String,
    pub bic: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// One row of the table of invoices, formatted by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceRow {
    pub number: String,
    pub issue_date: String,
    pub due_date: String,
    pub amount: String,
    pub paid: String,
    pub open: String,
    pub days_late: String,
}

/// What the customer is asked to pay, for the payment block and the EPC QR code.
#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    /// The beneficiary (at most 70 characters).
    pub name: String,
    pub iban: String,
    pub bic: Option<String>,
    /// In euro, 0.01 to 999,999,999.99, at most two decimals.
    pub amount: rust_decimal::Decimal,
    /// The structured reference: Belgian `+++123/4567/89002+++` or ISO 11649 `RF…`
    /// (EPC line 10). Anything else is refused; put free text in `text`.
    pub reference: Option<String>,
    /// Unstructured remittance text (EPC line 11, at most 140 characters); only without a
    /// `reference`, EPC069-12 allows one of the two.
    pub text: Option<String>,
    /// Information shown to the payer by the banking app (EPC line 12, at most 70
    /// characters); not printed on the letter.
    pub info: Option<String>,
}

/// One instalment of a payment plan: what is printed next to its EPC QR code, and what the
/// code pays.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalmentPayment {
    /// `Termijn 1`; when empty, `labels.instalment` and the instalment's number (from 1).
    pub label: String,
    /// The date it is due, formatted (`1 april 2026`); printed after `labels.due_on`.
    pub due_date: String,
    /// The amount as printed (`€ 123,45`). It must state `payment.amount`: its digits are
    /// compared with the amount's to two decimals (`€ 1.234,50` and `1 234,50 €` both match
    /// 1234.5), so that the text and the code cannot ask for different sums.
    pub amount: String,
    /// What the QR code pays: beneficiary, IBAN, the instalment's amount, and its own
    /// reference or text (printed as in the payment block).
    pub payment: Payment,
}

/// The fixed words of the layout, in the letter's language.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    /// Column headings of the table of invoices.
    pub invoice: String,
    pub issue_date: String,
    pub due_date: String,
    pub amount: String,
    pub paid: String,
    pub open: String,
    pub days_late: String,
    /// Footer: `Pagina` → `Pagina 1 / 3`.
    pub page: String,
    /// The mark of a registered letter: `AANGETEKEND`.
    pub registered: String,
    /// The payment block's heading and captions.
    pub payment: String,
    pub beneficiary: String,
    pub iban: String,
    pub bic: String,
    /// Caption of the structured reference (`Betalingskenmerk`, `Gestructureerde mededeling`).
    pub reference: String,
    /// Caption of the unstructured text.
    pub description: String,
    /// The line under the payment details that tells the reader to scan the QR code.
    pub scan: String,
    /// An instalment of a payment plan: `Termijn` (the default label is `Termijn 1`, …).
    pub instalment: String,
    /// Before an instalment's date: `te betalen op` → `te betalen op 1 april 2026`.
    pub due_on: String,
}

impl Labels {
    /// The shipped labels for `nl`, `fr`, `en` and `de`.
    pub fn for_lang(lang: &str) -> Option<Labels> {
        let l = |a: [&str; 18]| {
            let [invoice, issue_date, due_date, amount, paid, open, days_late, page, registered, payment, beneficiary, iban, bic, reference, description, scan, instalment, due_on] =
                a.map(str::to_string);
            Labels {
                invoice,
                issue_date,
                due_date,
                amount,
                paid,
                open,
                days_late,
                page,
                registered,
                payment,
                beneficiary,
                iban,
                bic,
                reference,
                description,
                scan,
                instalment,
                due_on,
            }
        };
        Some(match lang {
            "nl" => l([
                "Factuur",
                "Factuurdatum",
                "Vervaldatum",
                "Bedrag",
                "Betaald",
                "Openstaand",
                "Dagen te laat",
                "Pagina",
                "AANGETEKEND",
                "Betaalgegevens",
                "Ten name van",
                "IBAN",
                "BIC",
                "Betalingskenmerk",
                "Omschrijving",
                "Scan de QR-code met uw bank-app om direct te betalen.",
                "Termijn",
                "te betalen op",
            ]),
            "fr" => l([
                "Facture",
                "Date",
                "Échéance",
                "Montant",
                "Payé",
                "Solde dû",
                "Jours de retard",
                "Page",
                "RECOMMANDÉ",
                "Données de paiement",
                "Bénéficiaire",
                "IBAN",
                "BIC",
                "Communication structurée",
                "Communication",
                "Scannez le code QR avec votre application bancaire pour payer.",
                "Échéance",
                "à payer le",
            ]),
            "en" => l([
                "Invoice",
                "Invoice date",
                "Due date",
                "Amount",
                "Paid",
                "Open",
                "Days late",
                "Page",
                "REGISTERED",
                "Payment details",
                "Beneficiary",
                "IBAN",
                "BIC",
                "Payment reference",
                "Description",
                "Scan the QR code with your banking app to pay.",
                "Instalment",
                "due on",
            ]),
            "de" => l([
                "Rechnung",
                "Rechnungsdatum",
                "Fälligkeit",
                "Betrag",
                "Bezahlt",
                "Offen",
                "Tage überfällig",
                "Seite",
                "EINSCHREIBEN",
                "Zahlungsdaten",
                "Empfänger",
                "IBAN",
                "BIC",
                "Strukturierte Mitteilung",
                "Verwendungszweck",
                "Scannen Sie den QR-Code mit Ihrer Banking-App, um zu bezahlen.",
                "Rate",
                "fällig am",
            ]),
            _ => return None,
        })
    }
}

/// Renders one letter with `template` (the text of a `letter.typ`). Builds the typst engine
/// each time: to render many letters, make a [`Letters`] once.
pub fn render(template: &str, letter: &Letter) -> Result<Vec<u8>, LetterError> {
    Letters::new(template)?.render(letter)
}

/// A letter template ready to render: the typst engine with the fonts parsed once.
/// `Send + Sync`; rendering takes `&self`.
pub struct Letters {
    engine: TypstEngine<TypstTemplateMainFile>,
}

impl Letters {
    /// Prepares `template` and checks it by rendering a sample letter (with a payment block,
    /// two instalments and the registered mark), so a broken template is refused here with
    /// `letter.typ:line:column`, not when the first letter is due.
    pub fn new(template: &str) -> Result<Letters, LetterError> {
        let path = VirtualPath::new(TEMPLATE_NAME).expect("a valid file name");
        let id: FileId = RootedPath::new(VirtualRoot::Project, path).intern();
        let engine = TypstEngine::builder()
            .main_file(Source::new(id, template.to_string()))
            .fonts([FONT_REGULAR, FONT_BOLD])
            .comemo_evict_max_age(Some(CACHE_MAX_AGE))
            .build();
        let letters = Letters { engine };
        let mut check = sample();
        check.instalments = sample_instalments(2);
        letters.render(&check)?;
        Ok(letters)
    }

    /// The PDF of `letter`.
    pub fn render(&self, letter: &Letter) -> Result<Vec<u8>, LetterError> {
        let inputs = inputs(letter)?;
        let world = self
            .engine
            .world_builder()
            .with_inputs(inputs)
            .build()
            .map_err(|e| LetterError::Template(e.to_string()))?;
        let Warned { output, .. } = typst::compile::<PagedDocument>(&world);
        let result = output
            .map_err(|errors: EcoVec<SourceDiagnostic>| LetterError::Template(diagnostics(&world, &errors)))
            .and_then(|doc| {
                // No timestamp: the same letter gives the same bytes.
                typst_pdf::pdf(&doc, &typst_pdf::PdfOptions::default()).map_err(
                    |errors: EcoVec<SourceDiagnostic>| LetterError::Pdf(diagnostics(&world, &errors)),
                )
            });
        typst::comemo::evict(CACHE_MAX_AGE);
        result
    }
}

/// `letter.typ:12:5: unknown variable: foo (hint: …)`, one problem per line.
fn diagnostics(world: &dyn World, errors: &[SourceDiagnostic]) -> String {
    let mut out = Vec::new();
    for e in errors {
        let at = e.span.id().zip(world.range(e.span)).and_then(|(id, range)| {
            let source = world.source(id).ok()?;
            let (line, column) = source.lines().byte_to_line_column(range.start)?;
            let name = id.vpath().get_without_slash().to_string();
            Some(format!("{name}:{}:{}: ", line + 1, column + 1))
        });
        let mut s = format!("{}{}", at.unwrap_or_default(), e.message);
        for hint in &e.hints {
            s.push_str(&format!(" (hint: {})", hint.v));
        }
        out.push(s);
    }
    out.join("\n")
}

fn invalid(field: &'static str, reason: impl Into<String>) -> LetterError {
    LetterError::Invalid { field, reason: reason.into() }
}

/// A value of a one-line field: no line breaks or other control characters (a line break in
/// an address line would add a line to the window).
fn one_line(field: &'static str, s: &str) -> Result<Value, LetterError> {
    if s.chars().any(char::is_control) {
        return Err(invalid(field, format!("{s:?} contains a line break or another control character")));
    }
    Ok(Value::Str(Str::from(s)))
}

fn optional(field: &'static str, s: &Option<String>) -> Result<Value, LetterError> {
    match s.as_deref().map(str::trim) {
        None | Some("") => Ok(Value::None),
        Some(s) => one_line(field, s),
    }
}

fn lines(field: &'static str, items: &[String]) -> Result<Value, LetterError> {
    Ok(Value::Array(items.iter().map(|s| one_line(field, s)).collect::<Result<Array, _>>()?))
}

/// Paragraphs separated by blank lines; CR LF read as LF; tabs kept as spaces.
fn paragraphs(field: &'static str, text: &str) -> Result<Value, LetterError> {
    let text = text.replace("\r\n", "\n").replace('\t', "    ");
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid(field, "contains a control character"));
    }
    let mut out = Array::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(Value::Str(Str::from(current.join("\n"))));
                current.clear();
            }
        } else {
            current.push(line.trim_end());
        }
    }
    if !current.is_empty() {
        out.push(Value::Str(Str::from(current.join("\n"))));
    }
    Ok(Value::Array(out))
}

fn dict<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Dict(pairs.into_iter().map(|(k, v)| (Str::from(k), v)).collect::<Dict>())
}

/// The letter as the template's `sys.inputs` (see the comment at the top of `letter.typ`).
fn inputs(letter: &Letter) -> Result<Dict, LetterError> {
    if !matches!(letter.lang.as_str(), "nl" | "fr" | "en" | "de") {
        return Err(invalid("lang", format!("`{}`: nl, fr, en or de", letter.lang)));
    }
    let recipient: Vec<&String> = letter.recipient.iter().filter(|l| !l.trim().is_empty()).collect();
    if recipient.is_empty() || recipient.len() > 6 {
        return Err(invalid(
            "recipient",
            format!("{} address lines; the envelope window takes 1 to 6", recipient.len()),
        ));
    }
    let recipient = Value::Array(
        recipient.into_iter().map(|l| one_line("recipient", l.trim())).collect::<Result<Array, _>>()?,
    );
    let s = &letter.sender;
    let sender_iban = epc::iban(&s.iban).map_err(|r| invalid("sender.iban", r))?;
    let sender_bic = match &s.bic {
        Some(b) if !b.trim().is_empty() => {
            Value::Str(epc::bic(b).map_err(|r| invalid("sender.bic", r))?.as_str().into())
        }
        _ => Value::None,
    };
    let sender = dict([
        ("name", one_line("sender.name", &s.name)?),
        ("address", lines("sender.address_lines", &s.address_lines)?),
        ("registration", lines("sender.registration", &s.registration)?),
        ("iban", Value::Str(epc::groups_of_four(&sender_iban).into())),
        ("bic", sender_bic),
        ("email", optional("sender.email", &s.email)?),
        ("phone", optional("sender.phone", &s.phone)?),
    ]);
    let mut invoices = Array::new();
    for i in &letter.invoices {
        invoices.push(dict([
            ("number", one_line("invoices.number", &i.number)?),
            ("issue_date", one_line("invoices.issue_date", &i.issue_date)?),
            ("due_date", one_line("invoices.due_date", &i.due_date)?),
            ("amount", one_line("invoices.amount", &i.amount)?),
            ("paid", one_line("invoices.paid", &i.paid)?),
            ("open", one_line("invoices.open", &i.open)?),
            ("days_late", one_line("invoices.days_late", &i.days_late)?),
        ]));
    }
    let l = &letter.labels;
    let labels = dict([
        ("invoice", one_line("labels.invoice", &l.invoice)?),
        ("issue_date", one_line("labels.issue_date", &l.issue_date)?),
        ("due_date", one_line("labels.due_date", &l.due_date)?),
        ("amount", one_line("labels.amount", &l.amount)?),
        ("paid", one_line("labels.paid", &l.paid)?),
        ("open", one_line("labels.open", &l.open)?),
        ("days_late", one_line("labels.days_late", &l.days_late)?),
        ("page", one_line("labels.page", &l.page)?),
        ("registered", one_line("labels.registered", &l.registered)?),
        ("payment", one_line("labels.payment", &l.payment)?),
        ("beneficiary", one_line("labels.beneficiary", &l.beneficiary)?),
        ("iban", one_line("labels.iban", &l.iban)?),
        ("bic", one_line("labels.bic", &l.bic)?),
        ("reference", one_line("labels.reference", &l.reference)?),
        ("description", one_line("labels.description", &l.description)?),
        ("scan", one_line("labels.scan", &l.scan)?),
        ("instalment", one_line("labels.instalment", &l.instalment)?),
        ("due_on", one_line("labels.due_on", &l.due_on)?),
    ]);
    let payment = match &letter.payment {
        None => Value::None,
        Some(p) => Value::Dict(payment_block(p, "payment.name", "payment.text")?),
    };
    let mut instalments = Array::new();
    for (n, i) in letter.instalments.iter().enumerate() {
        let label = match i.label.trim() {
            "" => format!("{} {}", l.instalment.trim(), n + 1),
            label => label.to_string(),
        };
        let amount = i.amount.trim();
        if printed_digits(amount) != printed_digits(&cents(i.payment.amount)) {
            return Err(invalid(
                "instalments.amount",
                format!("{label}: `{amount}` does not state the QR code's amount {}", i.payment.amount),
            ));
        }
        let mut block = payment_block(&i.payment, "instalments.payment.name", "instalments.payment.text")?;
        block.insert("label".into(), one_line("instalments.label", &label)?);
        block.insert("due_date".into(), one_line("instalments.due_date", i.due_date.trim())?);
        block.insert("amount".into(), one_line("instalments.amount", amount)?);
        instalments.push(Value::Dict(block));
    }
    let Value::Dict(d) = dict([
        ("lang", Value::Str(letter.lang.as_str().into())),
        ("sender", sender),
        ("recipient", recipient),
        ("place_and_date", one_line("place_and_date", &letter.place_and_date)?),
        ("subject", one_line("subject", &letter.subject)?),
        ("body", paragraphs("body", &letter.body)?),
        ("invoices", Value::Array(invoices)),
        ("total_label", one_line("total_label", &letter.total_label)?),
        ("total", one_line("total", &letter.total)?),
        ("closing", paragraphs("closing", &letter.closing)?),
        ("labels", labels),
        ("payment", payment),
        ("instalments", Value::Array(instalments)),
        ("registered", Value::Bool(letter.registered)),
    ]) else {
        unreachable!("dict() makes a dictionary")
    };
    Ok(d)
}

/// What the template gets of a [`Payment`]: the checked details as printed, the EPC payload and
/// its QR code.
fn payment_block(
    p: &Payment,
    name_field: &'static str,
    text_field: &'static str,
) -> Result<Dict, LetterError> {
    let payload = epc_payload(p)?;
    let svg = epc::qr_svg(&payload)?;
    // Printed as checked: the same IBAN, BIC and reference as in the code.
    let reference = p
        .reference
        .as_deref()
        .map(Reference::parse)
        .transpose()
        .map_err(|r| LetterError::Epc { field: "reference", reason: r })?;
    let Value::Dict(d) = dict([
        ("name", one_line(name_field, p.name.trim())?),
        ("iban", Value::Str(epc::groups_of_four(&epc::iban(&p.iban).expect("checked")).into())),
        (
            "bic",
            match &p.bic {
                Some(b) => Value::Str(epc::bic(b).expect("checked").as_str().into()),
                None => Value::None,
            },
        ),
        ("reference", reference.map_or(Value::None, |r| Value::Str(r.printed().into()))),
        ("text", optional(text_field, &p.text)?),
        ("payload", Value::Str(payload.as_str().into())),
        ("qr", Value::Bytes(Bytes::from_string(svg))),
    ]) else {
        unreachable!("dict() makes a dictionary")
    };
    Ok(d)
}

/// `1234.5` → `1234.50`.
fn cents(amount: rust_decimal::Decimal) -> String {
    let mut a = amount;
    a.rescale(2);
    a.to_string()
}

/// The digits of a printed amount without leading zeros: `€ 1.234,50`, `1 234,50 €` and
/// `1234.50` all give `123450`.
fn printed_digits(s: &str) -> String {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    digits.trim_start_matches('0').to_string()
}

/// `n` instalments of € 823,04 a month from 1 April 2026, each with its own RF reference:
/// [`Letters::new`] checks a template with two.
fn sample_instalments(n: usize) -> Vec<InstalmentPayment> {
    const MONTHS: &str =
        "januari februari maart april mei juni juli augustus september oktober november december";
    (0..n)
        .map(|k| {
            // From April 2026 (month 3 of 2026, counted from 0).
            let month = 3 + k;
            let name = MONTHS.split(' ').nth(month % 12).expect("twelve months");
            // RF, the check digits, then `DW` and the instalment's number; the ISO 11649 check
            // digits are 98 minus (reference + `RF00`) mod 97.
            let body = format!("DW{:04}", k + 1);
            let check = 98
                - format!("{body}RF00").chars().fold(0, |acc, c| {
                    let v = c.to_digit(36).expect("letters and digits");
                    (acc * if v < 10 { 10 } else { 100 } + v) % 97
                });
            InstalmentPayment {
                label: String::new(),
                due_date: format!("1 {name} {}", 2026 + month / 12),
                amount: "€ 823,04".into(),
                payment: Payment {
                    name: "Voorbeeld B.V.".into(),
                    iban: "NL91ABNA0417164300".into(),
                    bic: Some("ABNANL2A".into()),
                    amount: rust_decimal::Decimal::new(82304, 2),
                    reference: Some(format!("RF{check:02}{body}")),
                    text: None,
                    info: None,
                },
            }
        })
        .collect()
}

/// The letter [`Letters::new`] checks a template with: every field filled, a payment block
/// and the registered mark.
pub fn sample() -> Letter {
    let row = |n: &str| InvoiceRow {
        number: n.into(),
        issue_date: "02-01-2026".into(),
        due_date: "01-02-2026".into(),
        amount: "€ 1.234,56".into(),
        paid: "€ 0,00".into(),
        open: "€ 1.234,56".into(),
        days_late: "30".into(),
    };
    Letter {
        lang: "nl".into(),
        sender: Sender {
            name: "Voorbeeld B.V.".into(),
            address_lines: vec!["Damrak 1".into(), "1012 LG Amsterdam".into()],
            registration: vec!["KvK 12345678".into(), "BTW NL123456789B01".into()],
            iban: "NL91ABNA0417164300".into(),
            bic: Some("ABNANL2A".into()),
            email: Some("debiteuren@voorbeeld.nl".into()),
            phone: Some("020 123 45 67".into()),
        },
        recipient: vec![
            "Klant B.V.".into(),
            "t.a.v. de administratie".into(),
            "Straat 1".into(),
            "1234 AB Plaats".into(),
        ],
        place_and_date: "Amsterdam, 3 maart 2026".into(),
        subject: "Herinnering".into(),
        body: "Geachte heer, mevrouw,\n\nVolgens onze administratie staan nog open:".into(),
        invoices: vec![row("2026-0001"), row("2026-0002")],
        total_label: "Totaal openstaand".into(),
        total: "€ 2.469,12".into(),
        closing: "Met vriendelijke groet,\n\nVoorbeeld B.V.".into(),
        labels: Labels::for_lang("nl").expect("nl"),
        payment: Some(Payment {
            name: "Voorbeeld B.V.".into(),
            iban: "NL91ABNA0417164300".into(),
            bic: Some("ABNANL2A".into()),
            amount: rust_decimal::Decimal::new(246912, 2),
            reference: Some("RF18539007547034".into()),
            text: None,
            info: None,
        }),
        instalments: Vec::new(),
        registered: true,
    }
}

#[cfg(test)]
mod tests;
