//! Letters checked the way a reader sees them: the PDF's text through `pdftotext`
//! (poppler-utils), word positions through `pdftotext -bbox`, and the QR code decoded from a
//! rendered page with `zbarimg` (zbar-tools). `scripts/test` installs both; a missing tool
//! fails the test with a message saying so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use rust_decimal::Decimal;

use super::*;

const MM: f64 = 72.0 / 25.4;

fn letters() -> &'static Letters {
    static LETTERS: OnceLock<Letters> = OnceLock::new();
    LETTERS.get_or_init(|| Letters::new(DEFAULT_TEMPLATE).expect("the default template compiles"))
}

/// Runs a tool of poppler-utils or zbar-tools; panics with a clear message when it is missing.
fn run(tool: &str, args: &[&str]) -> Vec<u8> {
    let out = match Command::new(tool).args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`{tool}` is missing: the letter tests need poppler-utils and zbar-tools \
             (apt-get install -y poppler-utils zbar-tools; scripts/test installs them)"
        ),
        Err(e) => panic!("cannot run `{tool}`: {e}"),
    };
    // Poppler warns "Syntax Error: Suspects object is wrong type" on typst PDFs: harmless.
    assert!(
        out.status.success(),
        "`{tool} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A rendered letter in its own temporary folder (removed on drop).
struct Pdf {
    dir: PathBuf,
    path: PathBuf,
}

impl Drop for Pdf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Pdf {
    fn new(bytes: &[u8]) -> Pdf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("dunwell-letters-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("letter.pdf");
        std::fs::write(&path, bytes).unwrap();
        Pdf { dir, path }
    }

    fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// The text of every page (`pdftotext -layout`), one string per page.
    fn pages(&self) -> Vec<String> {
        let text =
            String::from_utf8(run("pdftotext", &["-layout", "-enc", "UTF-8", self.arg(), "-"])).unwrap();
        let mut pages: Vec<String> = text.split('\u{c}').map(str::to_string).collect();
        if pages.last().is_some_and(|p| p.trim().is_empty()) {
            pages.pop();
        }
        pages
    }

    /// Every word with its box in points from the top-left corner (`pdftotext -bbox`), per page.
    fn words(&self) -> Vec<Vec<Word>> {
        let html = String::from_utf8(run("pdftotext", &["-bbox", "-enc", "UTF-8", self.arg(), "-"])).unwrap();
        let mut pages = Vec::new();
        for page in html.split("<page ").skip(1) {
            let mut words = Vec::new();
            for w in page.split("<word ").skip(1) {
                let attr = |name: &str| -> f64 {
                    let start = w.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                    let end = start + w[start..].find('"').unwrap();
                    w[start..end].parse().unwrap()
                };
                let text_start = w.find('>').unwrap() + 1;
                let text_end = w.find("</word>").unwrap();
                let text =
                    w[text_start..text_end].replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
                words.push(Word {
                    text,
                    x0: attr("xMin"),
                    y0: attr("yMin"),
                    x1: attr("xMax"),
                    y1: attr("yMax"),
                });
            }
            pages.push(words);
        }
        pages
    }

    /// The QR code on page `page`, rendered at 200 dpi and decoded by zbarimg as raw bytes.
    fn qr(&self, page: usize) -> String {
        let png = self.path.with_file_name("page");
        let p = page.to_string();
        run(
            "pdftoppm",
            &["-r", "200", "-png", "-singlefile", "-f", &p, "-l", &p, self.arg(), png.to_str().unwrap()],
        );
        let png = png.with_extension("png");
        // -Sbinary: without it zbar guesses a charset and mangles UTF-8 such as "Één".
        let out = run("zbarimg", &["--quiet", "--raw", "-Sbinary", png.to_str().unwrap()]);
        let mut text = String::from_utf8(out).expect("the QR payload is UTF-8");
        if text.ends_with('\n') {
            text.pop(); // zbarimg ends its output with a line break
        }
        text
    }

    /// Every EPC QR code on page `page` (at 200 dpi), in no particular order. zbarimg puts
    /// the symbols' bytes one after the other (`-Sbinary` leaves out any separator), so the
    /// output is cut before each `BCD\n002\n`, the start of every EPC payload.
    fn qrs(&self, page: usize) -> Vec<String> {
        let png = self.path.with_file_name("page");
        let p = page.to_string();
        run(
            "pdftoppm",
            &["-r", "200", "-png", "-singlefile", "-f", &p, "-l", &p, self.arg(), png.to_str().unwrap()],
        );
        let png = png.with_extension("png");
        let out = run("zbarimg", &["--quiet", "--raw", "-Sbinary", png.to_str().unwrap()]);
        let text = String::from_utf8(out).expect("the QR payloads are UTF-8");
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let start = "BCD\n002\n";
        assert!(text.starts_with(start), "not an EPC payload: {text:?}");
        text.split(start).skip(1).map(|p| format!("{start}{p}")).collect()
    }

    /// Page `page` in grey levels at `dpi` (pdftoppm's PGM): (width, height, pixels).
    fn grey(&self, page: usize, dpi: u32) -> (usize, usize, Vec<u8>) {
        let out = self.path.with_file_name("grey");
        let p = page.to_string();
        run(
            "pdftoppm",
            &[
                "-r",
                &dpi.to_string(),
                "-gray",
                "-singlefile",
                "-f",
                &p,
                "-l",
                &p,
                self.arg(),
                out.to_str().unwrap(),
            ],
        );
        let data = std::fs::read(out.with_extension("pgm")).unwrap();
        // "P5\n<w> <h>\n255\n" then the pixels.
        let mut fields = Vec::new();
        let mut i = 0;
        while fields.len() < 4 {
            while data[i].is_ascii_whitespace() {
                i += 1;
            }
            let start = i;
            while !data[i].is_ascii_whitespace() {
                i += 1;
            }
            fields.push(String::from_utf8(data[start..i].to_vec()).unwrap());
        }
        assert_eq!(fields[0], "P5");
        let (w, h) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
        (w, h, data[i + 1..].to_vec())
    }
}

#[derive(Debug)]
struct Word {
    text: String,
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

fn row(n: usize) -> InvoiceRow {
    InvoiceRow {
        number: format!("2026-{n:04}"),
        issue_date: "02-01-2026".into(),
        due_date: "01-02-2026".into(),
        amount: "€ 1.234,56".into(),
        paid: if n.is_multiple_of(2) { "€ 234,56".into() } else { "€ 0,00".into() },
        open: if n.is_multiple_of(2) { "€ 1.000,00".into() } else { "€ 1.234,56".into() },
        days_late: (30 + n).to_string(),
    }
}

fn letter(invoices: usize) -> Letter {
    Letter {
        lang: "nl".into(),
        sender: Sender {
            name: "Bakkerij Één & Zonen B.V.".into(),
            address_lines: vec!["Kerkstraat 12".into(), "3511 LX Utrecht".into()],
            registration: vec!["KvK 12345678".into(), "BTW NL123456789B01".into()],
            iban: "NL91ABNA0417164300".into(),
            bic: Some("ABNANL2A".into()),
            email: Some("debiteuren@bakkerij-een.nl".into()),
            phone: Some("030 123 45 67".into()),
        },
        recipient: vec![
            "Brasserie François Noël".into(),
            "t.a.v. mevrouw Hélène Müller".into(),
            "Rue de la Gare 5".into(),
            "4700 Eupen".into(),
            "BELGIË".into(),
        ],
        place_and_date: "Utrecht, 3 maart 2026".into(),
        subject: "Tweede herinnering: openstaande facturen".into(),
        body: "Geachte mevrouw Müller,\n\nVolgens onze administratie zijn de onderstaande facturen nog niet \
               (volledig) betaald.\nWilt u het openstaande bedrag binnen 14 dagen overmaken?\n\n\
               Heeft u inmiddels betaald? Dan kunt u deze brief als niet verzonden beschouwen."
            .into(),
        invoices: (1..=invoices).map(row).collect(),
        total_label: "Totaal openstaand".into(),
        total: "€ 3.469,12".into(),
        closing: "Met vriendelijke groet,\n\nJan de Vries\nDebiteurenbeheer".into(),
        labels: Labels::for_lang("nl").unwrap(),
        payment: Some(Payment {
            name: "Bakkerij Één & Zonen B.V.".into(),
            iban: "NL91ABNA0417164300".into(),
            bic: Some("ABNANL2A".into()),
            amount: Decimal::from_str("3469.12").unwrap(),
            reference: Some("+++090/9337/55493+++".into()),
            text: None,
            info: None,
        }),
        instalments: Vec::new(),
        registered: false,
    }
}

/// The page's text without the runs of spaces `-layout` puts between columns.
fn squeeze(s: &str) -> String {
    s.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n")
}

#[test]
fn a_letter_with_three_invoices_reads_exactly() {
    let mut l = letter(3);
    l.registered = true;
    let pdf = Pdf::new(&letters().render(&l).unwrap());
    let pages = pdf.pages();
    assert_eq!(pages.len(), 1, "{pages:#?}");
    let text = squeeze(&pages[0]);
    for expected in [
        "Bakkerij Één & Zonen B.V.",
        "AANGETEKEND",
        "Brasserie François Noël",
        "t.a.v. mevrouw Hélène Müller",
        "BELGIË",
        "KvK 12345678",
        "BTW NL123456789B01",
        "Utrecht, 3 maart 2026",
        "Tweede herinnering: openstaande facturen",
        "Geachte mevrouw Müller,",
        "Factuur Factuurdatum Vervaldatum Bedrag Betaald Openstaand Dagen te laat",
        "2026-0002 02-01-2026 01-02-2026 € 1.234,56 € 234,56 € 1.000,00 32",
        "Totaal openstaand € 3.469,12",
        "NL91 ABNA 0417 1643 00",
        "+++090/9337/55493+++",
        "Met vriendelijke groet,",
        "Pagina 1 / 1",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // A single line break in a paragraph stays a line break.
    assert!(text.contains("(volledig) betaald.\nWilt u"), "{text}");
    // Fonts embedded (subsets), nothing taken from the machine.
    let fonts = String::from_utf8(run("pdffonts", &[pdf.arg()])).unwrap();
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r.contains("DejaVuSans") && r.contains(" yes yes ")),
        "{fonts}"
    );
}

#[test]
fn sixty_invoices_run_over_pages_with_the_header_on_each() {
    let pdf = Pdf::new(&letters().render(&letter(60)).unwrap());
    let pages = pdf.pages();
    let n = pages.len();
    assert!(n >= 2, "60 invoices fit on {n} page(s)");
    let header = "Factuur Factuurdatum Vervaldatum Bedrag Betaald Openstaand Dagen te laat";
    let all: String = pages.iter().map(|p| squeeze(p)).collect::<Vec<_>>().join("\n");
    for (i, page) in pages.iter().enumerate() {
        let text = squeeze(page);
        if i + 1 < n || text.contains("2026-0060") {
            assert_eq!(text.matches(header).count(), 1, "page {}:\n{text}", i + 1);
        }
        assert!(text.contains(&format!("Pagina {} / {n}", i + 1)), "page {}:\n{text}", i + 1);
    }
    for k in 1..=60 {
        assert_eq!(all.matches(&format!("2026-{k:04} ")).count(), 1, "invoice {k}");
    }
    assert_eq!(all.matches("Totaal openstaand € 3.469,12").count(), 1);
    assert!(squeeze(&pages[n - 1]).contains("+++090/9337/55493+++"));
}

#[test]
fn the_address_lies_in_the_envelope_window_and_the_postage_area_is_empty() {
    for recipient in [
        letter(3).recipient,
        vec![
            "Brasserie François Noël".into(),
            "t.a.v. mevrouw Hélène Müller".into(),
            "Afdeling crediteuren".into(),
            "Postbus 123".into(),
            "4700 Eupen".into(),
            "BELGIË".into(),
        ],
    ] {
        let mut l = letter(3);
        l.recipient = recipient.clone();
        l.registered = true;
        let pdf = Pdf::new(&letters().render(&l).unwrap());
        let words = pdf.words().remove(0);
        // The words of each address line, found in reading order.
        let mut from = 0;
        for line in &recipient {
            for token in line.split_whitespace() {
                let i = from
                    + words[from..]
                        .iter()
                        .position(|w| w.text == token)
                        .unwrap_or_else(|| panic!("{token:?} of the address not found in {words:#?}"));
                let w = &words[i];
                from = i + 1;
                // DIN 5008 form B address zone (x 20-105 mm, below 62.7 mm) within Pingen's
                // address area (x 22-107.5 mm, y 60-85.5 mm).
                assert!(w.x0 >= 24.9 * MM && w.x1 <= 105.0 * MM, "{w:?} outside the window (x)");
                assert!(w.y0 >= 62.7 * MM && w.y1 <= 85.5 * MM, "{w:?} outside the window (y)");
            }
        }
        let first = words.iter().find(|w| w.text == "Brasserie").unwrap();
        assert!((first.x0 - 25.0 * MM).abs() < 0.5 * MM, "{first:?}");
        for w in &words {
            let in_postage = w.x1 > 20.0 * MM && w.x0 < 109.5 * MM && w.y1 > 40.0 * MM && w.y0 < 60.0 * MM;
            assert!(!in_postage, "{w:?} is in Pingen's postage area");
        }
    }
}

#[test]
fn the_qr_code_scans_to_the_epc_payload() {
    let mut l = letter(3);
    l.payment.as_mut().unwrap().name = "Één & Çà Noël".into();
    let pdf = Pdf::new(&letters().render(&l).unwrap());
    let expected = epc_payload(l.payment.as_ref().unwrap()).unwrap();
    assert!(expected.contains("\n090933755493"), "{expected}");
    assert_eq!(pdf.qr(1), expected);
    // An RF reference on the last of three pages.
    let mut l = letter(60);
    let p = l.payment.as_mut().unwrap();
    p.reference = Some("RF18 5390 0754 7034".into());
    p.amount = Decimal::from_str("0.01").unwrap();
    p.bic = None;
    let pdf = Pdf::new(&letters().render(&l).unwrap());
    let last = pdf.pages().len();
    assert_eq!(pdf.qr(last), epc_payload(l.payment.as_ref().unwrap()).unwrap());
    assert!(squeeze(&pdf.pages()[last - 1]).contains("RF18 5390 0754 7034"));
}

#[test]
fn customer_data_is_printed_as_text_never_as_markup() {
    let mut l = letter(3);
    l.recipient[0] = "#set page(fill: red)".into();
    l.recipient[1] = "*Jansen* _en_ $x^2$ <b> @ref \\ ]".into();
    l.subject = "#panic(\"boom\") [a] `raw` = Kop".into();
    l.body = "- geen lijst\n+ geen opsomming\n\n#read(\"/etc/passwd\") // geen commentaar /* */".into();
    l.invoices[0].number = "#sys.inputs".into();
    let pdf = Pdf::new(&letters().render(&l).unwrap());
    let text = squeeze(&pdf.pages()[0]);
    for literal in [
        "#set page(fill: red)",
        "*Jansen* _en_ $x^2$ <b> @ref \\ ]",
        "#panic(\"boom\") [a] `raw` = Kop",
        "- geen lijst\n+ geen opsomming",
        "#read(\"/etc/passwd\") // geen commentaar /* */",
        "#sys.inputs 02-01-2026",
    ] {
        assert!(text.contains(literal), "missing {literal:?} in:\n{text}");
    }
    // And the page is still white: the corner pixels are paper.
    let (w, h, px) = pdf.grey(1, 20);
    for (x, y) in [(2, 2), (w - 3, 2), (2, h - 3), (w - 3, h - 3)] {
        assert_eq!(px[y * w + x], 255, "pixel ({x}, {y})");
    }
}

#[test]
fn every_language_renders_with_its_labels() {
    for (lang, mark, page) in [
        ("nl", "AANGETEKEND", "Pagina"),
        ("fr", "RECOMMANDÉ", "Page"),
        ("en", "REGISTERED", "Page"),
        ("de", "EINSCHREIBEN", "Seite"),
    ] {
        let mut l = letter(2);
        l.lang = lang.into();
        l.labels = Labels::for_lang(lang).unwrap();
        l.registered = true;
        let pdf = Pdf::new(&letters().render(&l).unwrap());
        let text = squeeze(&pdf.pages()[0]);
        assert!(text.contains(mark) && text.contains(&format!("{page} 1 / 1")), "{lang}:\n{text}");
        assert!(text.contains(&l.labels.days_late), "{lang}:\n{text}");
    }
    assert!(Labels::for_lang("es").is_none());
}

#[test]
fn without_payment_or_registration_neither_is_printed() {
    let mut l = letter(3);
    l.payment = None;
    l.registered = false;
    l.closing = String::new();
    let pdf = Pdf::new(&letters().render(&l).unwrap());
    let text = squeeze(&pdf.pages()[0]);
    assert!(
        !text.contains("AANGETEKEND") && !text.contains("Betaalgegevens") && !text.contains("+++"),
        "{text}"
    );
    // The sender's IBAN is still in the letterhead.
    assert!(text.contains("NL91 ABNA 0417 1643 00"), "{text}");
    // A text instead of a structured reference.
    let mut l = letter(3);
    let p = l.payment.as_mut().unwrap();
    p.reference = None;
    p.text = Some("Factuur 2026-0001 t/m 2026-0003".into());
    let pdf = Pdf::new(&letters().render(&l).unwrap());
    assert!(squeeze(&pdf.pages()[0]).contains("Omschrijving Factuur 2026-0001 t/m 2026-0003"));
    assert_eq!(pdf.qr(1), epc_payload(l.payment.as_ref().unwrap()).unwrap());
}

#[test]
fn a_minimal_letter_renders() {
    let mut l = letter(0);
    l.sender.address_lines.clear();
    l.sender.registration.clear();
    l.sender.bic = None;
    l.sender.email = None;
    l.sender.phone = Some("  ".into());
    l.recipient = vec!["Jansen".into()];
    l.body = String::new();
    l.closing = String::new();
    l.payment = None;
    let pdf = Pdf::new(&letters().render(&l).unwrap());
    let text = squeeze(&pdf.pages()[0]);
    assert!(text.contains("Jansen") && text.contains("Totaal openstaand € 3.469,12"), "{text}");
}

#[test]
fn rendering_is_deterministic() {
    let l = letter(5);
    assert_eq!(letters().render(&l).unwrap(), letters().render(&l).unwrap());
    assert_eq!(render(DEFAULT_TEMPLATE, &l).unwrap(), letters().render(&l).unwrap());
}

#[test]
fn letters_that_cannot_be_printed_are_refused() {
    let refused = |f: &dyn Fn(&mut Letter)| {
        let mut l = letter(3);
        f(&mut l);
        match letters().render(&l) {
            Ok(_) => panic!("must be refused: {l:?}"),
            Err(e) => e,
        }
    };
    let e = refused(&|l| l.recipient = (1..=7).map(|i| format!("regel {i}")).collect());
    assert!(matches!(e, LetterError::Invalid { field: "recipient", .. }), "{e}");
    refused(&|l| l.recipient = vec![" ".into()]);
    refused(&|l| l.recipient[0] = "Jansen\nExtra regel".into());
    refused(&|l| l.subject = "Herinnering\r".into());
    refused(&|l| l.lang = "es".into());
    refused(&|l| l.sender.iban = "NL91ABNA0417164301".into());
    refused(&|l| l.sender.bic = Some("ABN".into()));
    let e = refused(&|l| l.payment.as_mut().unwrap().reference = Some("+++090/9337/55494+++".into()));
    assert!(matches!(e, LetterError::Epc { field: "reference", .. }), "{e}");
    refused(&|l| l.payment.as_mut().unwrap().amount = Decimal::ZERO);
}

#[test]
fn a_broken_template_is_refused_with_line_and_column() {
    let err = |t: &str| match Letters::new(t) {
        Err(LetterError::Template(e)) => e,
        Err(e) => panic!("not a template error: {e}"),
        Ok(_) => panic!("{t:?} must be refused"),
    };
    let e = err("#let d = sys.inputs\n\nHallo #d.nope");
    assert!(e.starts_with("letter.typ:3:") && e.contains("nope"), "{e}");
    let e = err("#set text(font: \"DejaVu Sans\")\n#table(columns: (1fr,)\n");
    assert!(e.starts_with("letter.typ:2:"), "{e}");
    // The template cannot read files or load packages.
    let e = err("#read(\"/etc/hostname\")");
    assert!(e.starts_with("letter.typ:1:"), "{e}");
    let e = err("#import \"@preview/tablex:0.0.9\": tablex");
    assert!(e.starts_with("letter.typ:1:"), "{e}");
    // An edited template works with the same data.
    let edited =
        DEFAULT_TEMPLATE.replace("#text(weight: \"bold\", d.subject)", "#text(size: 14pt, d.subject)");
    assert_ne!(edited, DEFAULT_TEMPLATE);
    let pdf = Pdf::new(&render(&edited, &letter(3)).unwrap());
    assert!(squeeze(&pdf.pages()[0]).contains("Tweede herinnering: openstaande facturen"));
}

#[test]
fn the_engine_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Letters>();
    let l = letter(3);
    let one = letters().render(&l).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..2).map(|_| s.spawn(|| letters().render(&l).unwrap())).collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), one);
        }
    });
}

#[test]
fn the_shipped_template_is_the_playbooks_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../playbooks/letters/letter.typ");
    assert_eq!(std::fs::read_to_string(path).unwrap(), DEFAULT_TEMPLATE);
}

/// A Belgian structured communication with the base `base` (ten digits at most) and its
/// check digits: `+++000/0000/10110+++` for 101.
fn ogm(base: u64) -> String {
    let check = match base % 97 {
        0 => 97,
        r => r,
    };
    let d = format!("{base:010}{check:02}");
    format!("+++{}/{}/{}+++", &d[..3], &d[3..7], &d[7..])
}

/// An ISO 11649 creditor reference for `body` (capitals and digits), printed in groups of four.
fn rf(body: &str) -> String {
    let check = 98
        - format!("{body}RF00").chars().fold(0, |acc, c| {
            let v = c.to_digit(36).unwrap();
            (acc * if v < 10 { 10 } else { 100 } + v) % 97
        });
    epc::groups_of_four(&format!("RF{check:02}{body}"))
}

/// An instalment of `amount` (`123.45`, printed `€ 123,45`) due on `date`, paying `reference`.
fn instalment(label: &str, date: &str, amount: &str, reference: &str) -> InstalmentPayment {
    let amount = Decimal::from_str(amount).unwrap();
    let (euros, cents) = (amount.trunc(), ((amount - amount.trunc()) * Decimal::ONE_HUNDRED).trunc());
    let euros = euros.to_string();
    let mut grouped = String::new();
    for (i, c) in euros.chars().enumerate() {
        if i > 0 && (euros.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    InstalmentPayment {
        label: label.into(),
        due_date: date.into(),
        amount: format!("€ {grouped},{cents:02}"),
        payment: Payment {
            name: "Bakkerij Één & Zonen B.V.".into(),
            iban: "NL91ABNA0417164300".into(),
            bic: Some("ABNANL2A".into()),
            amount,
            reference: Some(reference.into()),
            text: None,
            info: None,
        },
    }
}

/// The references a page prints (Belgian `+++…+++` and `RF…` in groups of four) among
/// `references`.
fn printed_on<'a>(text: &str, references: &[&'a str]) -> Vec<&'a str> {
    references.iter().copied().filter(|r| text.contains(*r)).collect()
}

#[test]
fn three_instalments_each_with_its_own_qr_code_on_one_page() {
    let mut l = letter(3);
    l.payment = None;
    let (r1, r2, r3) = (ogm(101), rf("DW20260417"), ogm(4_567_890_123));
    l.instalments = vec![
        instalment("Termijn 1", "15 april 2026", "123.45", &r1),
        instalment("Termijn 2", "15 mei 2026", "250", &r2),
        instalment("Termijn 3", "15 juni 2026", "3095.67", &r3),
    ];
    let pdf = Pdf::new(&letters().render(&l).unwrap());
    let pages = pdf.pages();
    assert_eq!(pages.len(), 1, "{pages:#?}");
    let text = squeeze(&pages[0]);
    for expected in [
        "Termijn 1 € 123,45",
        "Termijn 2 € 250,00",
        "Termijn 3 € 3.095,67",
        "te betalen op 15 april 2026",
        "te betalen op 15 mei 2026",
        "te betalen op 15 juni 2026",
        "+++000/0000/10104+++",
        r2.as_str(),
        r3.as_str(),
        // The beneficiary once, above the blocks.
        concat!(
            "Betaalgegevens\n",
            "Ten name van Bakkerij Één & Zonen B.V. · IBAN NL91 ABNA 0417 1643 00 · BIC ABNANL2A"
        ),
        "Scan de QR-code met uw bank-app om direct te betalen.",
        "Totaal openstaand € 3.469,12",
        "Met vriendelijke groet,",
        "Pagina 1 / 1",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_eq!(text.matches("Ten name van").count(), 1, "{text}");
    // Three codes, each the EPC payload of its instalment: its amount and its reference; the
    // payment block for the total is left out.
    let mut found = pdf.qrs(1);
    found.sort();
    let mut expected: Vec<String> = l.instalments.iter().map(|i| epc_payload(&i.payment).unwrap()).collect();
    expected.sort();
    assert_eq!(found, expected);
    for (amount, reference) in [("EUR123.45", &r1), ("EUR250.00", &r2), ("EUR3095.67", &r3)] {
        let reference = Reference::parse(reference).unwrap().payload();
        let code = found.iter().find(|c| c.contains(&format!("\n{amount}\n"))).expect(amount);
        assert!(code.ends_with(&format!("\n\n{reference}")), "{code:?} does not end with {reference}");
    }
    assert!(!found.iter().any(|c| c.contains("EUR3469.12")), "{found:?}");
}

#[test]
fn twelve_instalments_flow_onto_a_second_page_whole() {
    let mut l = letter(3);
    l.payment = None;
    let months = ["april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"];
    let references: Vec<String> = (1..=12).map(|k| ogm(2026_0000 + k)).collect();
    l.instalments = (1..=12)
        .map(|k| {
            let date = match k {
                1..=9 => format!("1 {} 2026", months[k - 1]),
                _ => format!("1 {} 2027", ["januari", "februari", "maart"][k - 10]),
            };
            instalment(&format!("Termijn {k}"), &date, &format!("{}.{:02}", 280 + k, k), &references[k - 1])
        })
        .collect();
    let pdf = Pdf::new(&letters().render(&l).unwrap());
    let pages = pdf.pages();
    let n = pages.len();
    assert_eq!(n, 2, "{pages:#?}");
    let refs: Vec<&str> = references.iter().map(String::as_str).collect();
    let mut seen = Vec::new();
    for (p, page) in pages.iter().enumerate() {
        let text = squeeze(page);
        assert!(text.contains(&format!("Pagina {} / {n}", p + 1)), "page {}:\n{text}", p + 1);
        // The codes of a page are those of the instalments it prints: no block is split.
        let printed = printed_on(&text, &refs);
        assert!(!printed.is_empty(), "page {}:\n{text}", p + 1);
        let mut codes = pdf.qrs(p + 1);
        codes.sort();
        let mut expected: Vec<String> = l
            .instalments
            .iter()
            .filter(|i| printed.contains(&i.payment.reference.as_deref().unwrap()))
            .map(|i| {
                assert!(text.contains(&i.amount) && text.contains(&i.due_date), "{i:?} on page {}", p + 1);
                epc_payload(&i.payment).unwrap()
            })
            .collect();
        expected.sort();
        assert_eq!(codes, expected, "page {}", p + 1);
        seen.extend(printed);
    }
    assert_eq!(seen, refs, "every instalment once, in order");
    assert!(squeeze(&pages[0]).contains("Betaalgegevens"));
    assert!(squeeze(&pages[n - 1]).contains("Met vriendelijke groet,"));
    let all: String = pages.iter().map(|p| squeeze(p)).collect::<Vec<_>>().join("\n");
    assert!(all.contains("te betalen op 1 maart 2027") && all.contains("€ 292,12"), "{all}");
}

#[test]
fn instalments_next_to_the_payment_block_and_with_their_own_payees() {
    // The caller keeps the total's payment block: it comes first, the instalments after it,
    // without a second heading or beneficiary.
    let mut l = letter(3);
    let (r1, r2) = (rf("PLAN1"), rf("PLAN2"));
    l.payment.as_mut().unwrap().name = "Bakkerij Één & Zonen B.V.".into();
    l.instalments = vec![
        instalment("Eerste helft", "1 april 2026", "1734.56", &r1),
        instalment("Tweede helft", "1 mei 2026", "1734.56", &r2),
    ];
    let pdf = Pdf::new(&letters().render(&l).unwrap());
    let text = squeeze(&pdf.pages()[0]);
    assert_eq!(text.matches("Betaalgegevens").count(), 1, "{text}");
    assert_eq!(text.matches("Ten name van").count(), 1, "{text}");
    assert!(text.contains("Eerste helft € 1.734,56 Tweede helft € 1.734,56"), "{text}");
    let mut codes = pdf.qrs(1);
    codes.sort();
    let mut expected = vec![epc_payload(l.payment.as_ref().unwrap()).unwrap()];
    expected.extend(l.instalments.iter().map(|i| epc_payload(&i.payment).unwrap()));
    expected.sort();
    assert_eq!(codes, expected);

    // Without it, and one instalment paying another account with a text: each block names
    // its beneficiary, and the text goes in as text.
    let mut l = letter(3);
    l.payment = None;
    l.instalments =
        vec![instalment("", "1 april 2026", "100", &r1), instalment("", "1 mei 2026", "0.5", &r2)];
    let p = &mut l.instalments[1].payment;
    p.name = "Incassobureau *Noord*".into();
    p.iban = "BE68 5390 0754 7034".into();
    p.bic = None;
    p.reference = None;
    p.text = Some("#set page(fill: red) termijn 2".into());
    let pdf = Pdf::new(&letters().render(&l).unwrap());
    let text = squeeze(&pdf.pages()[0]);
    for expected in [
        "Termijn 1 € 100,00",
        "Termijn 2 € 0,50",
        "Omschrijving",
        "#set page(fill: red) termijn 2",
        "Incassobureau *Noord*",
        "IBAN BE68 5390 0754 7034",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_eq!(text.matches("Ten name van").count(), 2, "{text}");
    assert!(!text.contains("BIC ABNANL2A ·"), "no shared beneficiary line:\n{text}");
    let mut codes = pdf.qrs(1);
    codes.sort();
    let mut expected: Vec<String> = l.instalments.iter().map(|i| epc_payload(&i.payment).unwrap()).collect();
    expected.sort();
    assert_eq!(codes, expected);
    assert!(codes.iter().any(|c| c.contains("\nEUR0.50\n") && c.ends_with("termijn 2")), "{codes:?}");
}

#[test]
fn instalments_are_labelled_in_every_language() {
    for (lang, label, due_on) in [
        ("nl", "Termijn", "te betalen op"),
        ("fr", "Échéance", "à payer le"),
        ("en", "Instalment", "due on"),
        ("de", "Rate", "fällig am"),
    ] {
        let mut l = letter(2);
        l.lang = lang.into();
        l.labels = Labels::for_lang(lang).unwrap();
        l.payment = None;
        l.instalments =
            vec![instalment("", "2026-04-01", "10", &ogm(1)), instalment("", "2026-05-01", "20", &ogm(2))];
        let pdf = Pdf::new(&letters().render(&l).unwrap());
        let text = squeeze(&pdf.pages()[0]);
        for expected in [format!("{label} 1 "), format!("{label} 2 "), format!("{due_on} 2026-05-01")] {
            assert!(text.contains(&expected), "{lang}: missing {expected:?} in:\n{text}");
        }
        assert!(text.contains(&l.labels.payment) && text.contains(&l.labels.scan), "{lang}:\n{text}");
    }
}

#[test]
fn instalments_that_cannot_be_paid_as_printed_are_refused() {
    let refused = |f: &dyn Fn(&mut InstalmentPayment)| {
        let mut l = letter(3);
        l.instalments = vec![instalment("Termijn 1", "1 april 2026", "823.04", &ogm(7))];
        f(&mut l.instalments[0]);
        match letters().render(&l) {
            Ok(_) => panic!("must be refused: {:?}", l.instalments),
            Err(e) => e,
        }
    };
    // The text and the code must ask for the same amount.
    let e = refused(&|i| i.amount = "€ 823,40".into());
    assert!(matches!(e, LetterError::Invalid { field: "instalments.amount", .. }), "{e}");
    let e = refused(&|i| i.amount = "€ 823".into());
    assert!(matches!(e, LetterError::Invalid { field: "instalments.amount", .. }), "{e}");
    let e = refused(&|i| i.payment.reference = Some("+++000/0000/00708+++".into()));
    assert!(matches!(e, LetterError::Epc { field: "reference", .. }), "{e}");
    let e = refused(&|i| {
        i.payment.amount = Decimal::ZERO;
        i.amount = "€ 0,00".into();
    });
    assert!(matches!(e, LetterError::Epc { field: "amount", .. }), "{e}");
    let e = refused(&|i| i.label = "Termijn\n1".into());
    assert!(matches!(e, LetterError::Invalid { field: "instalments.label", .. }), "{e}");
    let e = refused(&|i| i.due_date = "1 april\r2026".into());
    assert!(matches!(e, LetterError::Invalid { field: "instalments.due_date", .. }), "{e}");
    // Other spellings of the same amount are fine.
    for printed in ["823,04 €", "€823.04", "EUR 823.04", "€ 0.823,04"] {
        let mut l = letter(3);
        l.instalments = vec![instalment("Termijn 1", "1 april 2026", "823.04", &ogm(7))];
        l.instalments[0].amount = printed.into();
        letters().render(&l).unwrap_or_else(|e| panic!("{printed}: {e}"));
    }
}

#[test]
fn without_instalments_the_layout_is_the_one_before_them() {
    // The shipped template without its instalments section renders the same bytes: an empty
    // list adds nothing to the letter.
    let start = DEFAULT_TEMPLATE.find("// A payment plan:").unwrap();
    let end = DEFAULT_TEMPLATE.find("#if d.closing.len() > 0 {").unwrap();
    assert!(start < end);
    let before = format!("{}{}", &DEFAULT_TEMPLATE[..start], &DEFAULT_TEMPLATE[end..]);
    let before = Letters::new(&before).unwrap();
    for mut l in [letter(3), letter(60)] {
        assert_eq!(before.render(&l).unwrap(), letters().render(&l).unwrap());
        l.payment = None;
        l.registered = true;
        assert_eq!(before.render(&l).unwrap(), letters().render(&l).unwrap());
    }
    // A template whose instalments section is broken is refused up front, like any other.
    let broken = DEFAULT_TEMPLATE.replace("#l.due_on #i.due_date", "#l.due_on #i.nope");
    assert_ne!(broken, DEFAULT_TEMPLATE);
    match Letters::new(&broken) {
        Err(LetterError::Template(e)) => assert!(e.starts_with("letter.typ:") && e.contains("nope"), "{e}"),
        Err(e) => panic!("not a template error: {e}"),
        Ok(_) => panic!("the broken instalments section must be refused"),
    }
}
