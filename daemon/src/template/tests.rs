use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::check::{self, sample_variants, set_amounts};
use super::*;
use crate::calendar::Jurisdiction;
use crate::playbook::{LawSettings, PlaybookSet};

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn day(y: i32, m: u32, dd: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, dd).unwrap()
}

/// The sample narrowed to its first invoice, for a channel.
fn one_invoice(channel: Channel) -> MessageContext {
    let mut ctx = MessageContext::sample();
    ctx.channel = channel;
    ctx.invoices.truncate(1);
    ctx.invoice = ctx.invoices[0].clone();
    ctx.total_open = ctx.invoice.open_amount;
    ctx.payment_reference = ctx.invoice.payment_reference.clone();
    set_amounts(&mut ctx, (MoneyAction::Apply, MoneyAction::Apply));
    ctx
}

#[test]
fn money_is_formatted_per_language() {
    let cases: &[(&str, &str, [&str; 4])] = &[
        // amount, currency, [nl, fr, en, de]
        ("1234.56", "EUR", ["€ 1.234,56", "1 234,56 €", "€1,234.56", "1.234,56 €"]),
        ("2.005", "EUR", ["€ 2,01", "2,01 €", "€2.01", "2,01 €"]),
        ("2.004999", "EUR", ["€ 2,00", "2,00 €", "€2.00", "2,00 €"]),
        ("-2.005", "EUR", ["€ -2,01", "-2,01 €", "-€2.01", "-2,01 €"]),
        ("-1234.5", "EUR", ["€ -1.234,50", "-1 234,50 €", "-€1,234.50", "-1.234,50 €"]),
        ("0", "EUR", ["€ 0,00", "0,00 €", "€0.00", "0,00 €"]),
        ("-0.004", "EUR", ["€ 0,00", "0,00 €", "€0.00", "0,00 €"]),
        ("999.995", "EUR", ["€ 1.000,00", "1 000,00 €", "€1,000.00", "1.000,00 €"]),
        ("1234567.891", "EUR", ["€ 1.234.567,89", "1 234 567,89 €", "€1,234,567.89", "1.234.567,89 €"]),
        ("123456", "EUR", ["€ 123.456,00", "123 456,00 €", "€123,456.00", "123.456,00 €"]),
        ("1234.5", "USD", ["USD 1.234,50", "1 234,50 USD", "USD 1,234.50", "1.234,50 USD"]),
        ("-40", "gbp", ["GBP -40,00", "-40,00 GBP", "-GBP 40.00", "-40,00 GBP"]),
        ("40", "eur", ["€ 40,00", "40,00 €", "€40.00", "40,00 €"]),
    ];
    for (amount, currency, expected) in cases {
        for (lang, want) in Language::ALL.iter().zip(expected) {
            assert_eq!(format_money(d(amount), currency, *lang), *want, "{amount} {currency} in {lang}");
        }
    }
}

#[test]
fn dates_are_written_in_words() {
    let march3 = day(2026, 3, 3);
    assert_eq!(format_date(march3, Language::Nl), "3 maart 2026");
    assert_eq!(format_date(march3, Language::Fr), "3 mars 2026");
    assert_eq!(format_date(march3, Language::En), "3 March 2026");
    assert_eq!(format_date(march3, Language::De), "3. März 2026");
    let aug1 = day(2025, 8, 1);
    assert_eq!(format_date(aug1, Language::Nl), "1 augustus 2025");
    assert_eq!(format_date(aug1, Language::Fr), "1er août 2025");
    assert_eq!(format_date(aug1, Language::En), "1 August 2025");
    assert_eq!(format_date(aug1, Language::De), "1. August 2025");
    let dec31 = day(2024, 12, 31);
    assert_eq!(format_date(dec31, Language::Fr), "31 décembre 2024");
    assert_eq!(format_date(day(2026, 1, 14), Language::De), "14. Januar 2026");
    assert_eq!(format_date(day(2026, 2, 14), Language::Fr), "14 février 2026");
}

#[test]
fn days_take_the_right_number() {
    let cases =
        [(1, ["1 dag", "1 jour", "1 day", "1 Tag"]), (30, ["30 dagen", "30 jours", "30 days", "30 Tage"])];
    for (n, expected) in cases {
        for (lang, want) in Language::ALL.iter().zip(expected) {
            assert_eq!(format_days(n, *lang), want);
        }
    }
    let ctx = one_invoice(Channel::Phone);
    let r = render("{{ days_overdue | days }} / {{ 1 | days }}", "t", Language::De, &ctx).unwrap();
    assert_eq!(r.body, "30 Tage / 1 Tag");
    let err = render("x {{ today | days }}", "t", Language::Nl, &ctx).unwrap_err();
    assert!(err.to_string().contains("`days` needs a whole number"), "{err}");
}

#[test]
fn filters_use_render_language_and_invoice_currency() {
    let mut ctx = one_invoice(Channel::Phone);
    let src = "{{ invoice.open_amount | money }} / {{ costs | money }} / {{ \"40\" | money(\"USD\") }} / \
               {{ 7 | money }} / {{ invoice.due_date | date }}";
    let nl = render(src, "t", Language::Nl, &ctx).unwrap();
    assert_eq!(nl.body, "€ 1.234,56 / € 185,18 / USD 40,00 / € 7,00 / 3 maart 2026");
    let fr = render(src, "t", Language::Fr, &ctx).unwrap();
    assert_eq!(fr.body, "1 234,56 € / 185,18 € / 40,00 USD / 7,00 € / 3 mars 2026");
    let de = render(src, "t", Language::De, &ctx).unwrap();
    assert_eq!(de.body, "1.234,56 € / 185,18 € / 40,00 USD / 7,00 € / 3. März 2026");
    ctx.invoice.currency = "CHF".into();
    let en = render(src, "t", Language::En, &ctx).unwrap();
    assert_eq!(en.body, "CHF 1,234.56 / CHF 185.18 / USD 40.00 / CHF 7.00 / 3 March 2026");
}

#[test]
fn subject_is_required_for_email_and_letters_and_refused_elsewhere() {
    let mut ctx = MessageContext::sample();
    let r =
        render("Subject: Factuur {{ invoice.number }}\n\nBeste klant,\n\nTekst.\n", "t", Language::Nl, &ctx)
            .unwrap();
    assert_eq!(r.subject.as_deref(), Some("Factuur 2026-0117"));
    assert_eq!(r.body, "Beste klant,\n\nTekst.");

    for channel in [Channel::Email, Channel::Letter, Channel::RegisteredLetter] {
        ctx.channel = channel;
        let err = render("Beste klant,\n", "mail.txt", Language::Nl, &ctx).unwrap_err();
        assert!(matches!(err, TemplateError::Layout { .. }), "{err}");
        assert!(err.to_string().contains("Subject:"), "{err}");
        assert!(err.to_string().contains(channel.as_str()), "{err}");
    }
    for channel in [Channel::Sms, Channel::Phone, Channel::Agency] {
        ctx.channel = channel;
        let r = render("Bel {{ customer.name }}.", "t", Language::Nl, &ctx).unwrap();
        assert_eq!(r.subject, None);
        assert_eq!(r.body, "Bel Hotel De Linde.");
        let err = render("Subject: x\n\nBel.", "t", Language::Nl, &ctx).unwrap_err();
        assert!(err.to_string().contains("remove the `Subject:` line"), "{err}");
    }
}

#[test]
fn errors_carry_line_numbers_and_say_what_to_fix() {
    let syntax = "Subject: x\n\nHallo,\n{% if costs %}\nkosten\n";
    let err = check_syntax(syntax, "nl/broken.txt").unwrap_err();
    assert!(matches!(err, TemplateError::Syntax { .. }), "{err}");
    assert!(err.line().is_some(), "{err}");
    assert!(err.to_string().contains("nl/broken.txt"), "{err}");
    assert!(err.to_string().contains("endif"), "{err}");

    let unclosed = "Subject: x\n\nHallo,\n\nBedrag {{ invoice.total | money \n";
    let err = check_syntax(unclosed, "t").unwrap_err();
    assert!(matches!(err, TemplateError::Syntax { .. }), "{err}");
    assert!(err.line().is_some(), "{err}");

    let unknown = "Subject: x\n\nBeste {{ customer.name }},\n\nFactuur {{ invoice.numbr }} staat open.\n";
    let err = check_syntax(unknown, "nl/typo.txt").unwrap_err();
    assert_eq!(err.line(), Some(5), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("invoice.numbr"), "{msg}");
    assert!(msg.contains("line 5"), "{msg}");
    assert!(msg.contains("spelling"), "{msg}");

    // A misspelt variable given to a filter is quoted with the filter, not as the filter.
    let err = check_syntax("x\n\nBedrag: {{ total_opn | money }}.", "t").unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(err.to_string().contains("`total_opn | money` is not defined"), "{err}");

    // Inside a loop over the invoices too.
    let in_loop = "x\n{% for i in invoices %}\n- {{ i.numbr }}\n{% endfor %}\n";
    let err = check_syntax(in_loop, "t").unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(err.to_string().contains("i.numbr"), "{err}");

    let top_level = "Geachte {{ klant }},";
    let err = check_syntax(top_level, "t").unwrap_err();
    assert_eq!(err.line(), Some(1), "{err}");
    assert!(err.to_string().contains("klant"), "{err}");

    // Strict: an undefined value in a condition is an error too, not a silently false branch.
    let err = check_syntax("x\n{% if custmer.kind == \"b2c\" %}y{% endif %}", "t").unwrap_err();
    assert_eq!(err.line(), Some(2), "{err}");

    let err = check_syntax("x\n\n{{ today | datum }}", "t").unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(err.to_string().contains("money"), "{err}");

    // An optional value used without a guard fails on the sample where it is absent.
    let err = check_syntax("Kosten:\n{{ costs | money }}", "t").unwrap_err();
    assert_eq!(err.line(), Some(2), "{err}");
    assert!(err.to_string().contains("is not none"), "{err}");
    assert!(check_syntax("{% if costs is not none %}{{ costs | money }}{% endif %}", "t").is_ok());

    // Printing an absent value (which would read `none`) is an error, with its line.
    let err = check_syntax("Kenmerk:\n\n{{ payment_reference }}", "t").unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(err.to_string().contains("would print as `none`"), "{err}");
    let err = check_syntax("{{ contact.phone }}", "t").unwrap_err();
    assert!(err.to_string().contains("contact.phone"), "{err}");
    assert!(check_syntax("{% if contact.phone %}Tel. {{ contact.phone }}{% endif %}", "t").is_ok());

    let joined =
        "Subject: x\n\nSoort: {% if customer.kind == \"b2c\" %}consument{% else %}zakelijk{% endif %}\n\nTekst";
    let err = check_syntax(joined, "t").unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(err.to_string().contains("+%}"), "{err}");
    let kept = joined.replace("{% endif %}", "{% endif +%}");
    assert!(check_syntax(&kept, "t").is_ok());
    let ctx = MessageContext::sample();
    assert_eq!(render(&kept, "t", Language::Nl, &ctx).unwrap().body, "Soort: zakelijk\n\nTekst");
}

#[test]
fn render_reports_errors_too() {
    let ctx = MessageContext::sample();
    let err = render("Subject: a\n\n{{ invoice.number | money }}", "t", Language::Nl, &ctx).unwrap_err();
    assert!(err.to_string().contains("`money` needs an amount"), "{err}");
    let err = render("Subject: a\n\n{{ 2.5 | money }}", "t", Language::Nl, &ctx).unwrap_err();
    assert!(err.to_string().contains("quoted string"), "{err}");
    let err = render("Subject: a\n\n{{ business.nam }}", "t", Language::Nl, &ctx).unwrap_err();
    assert_eq!(err.line(), Some(3));
}

#[test]
fn text_is_not_html_escaped_but_html_is() {
    let mut ctx = MessageContext::sample();
    ctx.customer.name = "A & B <script>alert(1)</script>".into();
    let r =
        render("Subject: {{ customer.name }}\n\n{{ customer.name }}", "t.html", Language::En, &ctx).unwrap();
    assert_eq!(r.subject.as_deref(), Some("A & B <script>alert(1)</script>"));
    assert_eq!(r.body, "A & B <script>alert(1)</script>");

    let html =
        render_html("<p>Dear {{ customer.name }},</p>", "t.html", Language::En, &ctx, "R&D <b>").unwrap();
    assert!(html.contains("<p>Dear A &amp; B &lt;script&gt;alert(1)&lt;&#x2f;script&gt;,</p>"), "{html}");
    assert!(!html.contains("<script>"), "{html}");
    // The subject in the title is escaped too; the document says its language.
    assert!(html.contains("<title>R&amp;D &lt;b&gt;</title>"), "{html}");
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"), "{html}");
    // Amounts come out of `money` unharmed.
    let html = render_html("{{ total_open | money }}", "t.html", Language::Nl, &ctx, "s").unwrap();
    assert!(html.contains("€ 1.734,56"), "{html}");
    // A whole document is kept as written.
    let doc = "<!DOCTYPE html>\n<html><body>{{ customer.id }}</body></html>";
    assert_eq!(
        render_html(doc, "t.html", Language::En, &ctx, "s").unwrap(),
        "<!DOCTYPE html>\n<html><body>C-1042</body></html>\n"
    );
    let err = render_html("{% if false %}x{% endif %}", "t.html", Language::En, &ctx, "s").unwrap_err();
    assert!(matches!(err, TemplateError::Layout { .. }), "{err}");
}

#[test]
fn context_lists_every_invoice_and_adds_them_up() {
    let ctx = MessageContext::sample();
    assert_eq!(ctx.invoices.len(), 2);
    assert_eq!(ctx.invoice, ctx.invoices[0]);
    assert_eq!(ctx.total_open, d("1734.56"));
    assert_eq!(ctx.interest, Some(d("14.58")));
    assert_eq!(ctx.total_due, Some(d("2016.82")));
    for i in &ctx.invoices {
        assert_eq!(i.total - i.paid, i.open_amount, "{}", i.number);
        assert_eq!(ctx.today - i.due_date, chrono::Duration::days(i.days_overdue), "{}", i.number);
    }

    // Built from stored invoices: sums, the lead, the reference of a lone invoice.
    let inv = |n: &str, total: &str, open: &str| Invoice {
        number: n.into(),
        customer_id: "C1".into(),
        issue_date: day(2026, 1, 1),
        due_date: day(2026, 1, 31),
        currency: "EUR".into(),
        total: d(total),
        open_amount: d(open),
        paid_date: None,
    };
    let today = day(2026, 3, 2);
    let mut a = InvoiceContext::from_invoice(&inv("A", "100", "60"), today);
    a.interest = Some(d("1.10"));
    a.total_due = Some(d("61.10"));
    a.payment_reference = Some("RF18A".into());
    let mut b = InvoiceContext::from_invoice(&inv("B", "50", "50"), today);
    b.interest = Some(d("0.90"));
    b.total_due = Some(d("50.90"));
    assert_eq!((a.paid, a.days_overdue), (d("40"), 30));
    let customer = CustomerContext::from_customer(
        &crate::model::Customer::new("C1", "Janssens BV", CustomerKind::B2b),
        Language::De,
    );
    assert_eq!(customer.language, Language::De);
    let business = MessageContext::sample().business;
    let ctx = MessageContext::new(
        business.clone(),
        ContactContext::default(),
        customer.clone(),
        vec![a.clone(), b.clone()],
        1,
        today,
    )
    .unwrap();
    assert_eq!(ctx.invoice.number, "B");
    assert_eq!(
        (ctx.total_open, ctx.interest, ctx.costs, ctx.total_due),
        (d("110"), Some(d("2.00")), None, Some(d("112.00")))
    );
    assert_eq!(ctx.payment_reference, None, "several invoices: the caller picks the reference");
    let alone = MessageContext::new(
        business.clone(),
        ContactContext::default(),
        customer.clone(),
        vec![a.clone()],
        0,
        today,
    )
    .unwrap();
    assert_eq!(alone.payment_reference.as_deref(), Some("RF18A"));

    let steps = PlaybookSet::load(PlaybookSource::Dir(playbooks_dir()), Language::Nl, &nl_law()).unwrap();
    let step = &steps.playbooks["standard"].steps[4];
    let ctx = alone.for_step(step);
    assert_eq!((ctx.step, ctx.channel), (5, Channel::Email));
    assert_eq!((ctx.interest_action, ctx.costs_action), (MoneyAction::Apply, MoneyAction::Announce));

    b.currency = "USD".into();
    let err = MessageContext::new(
        business.clone(),
        ContactContext::default(),
        customer.clone(),
        vec![a.clone(), b],
        0,
        today,
    )
    .unwrap_err();
    assert!(err.to_string().contains("different currencies"), "{err}");
    assert!(MessageContext::new(business, ContactContext::default(), customer, vec![a], 1, today).is_err());
}

#[test]
fn render_message_gives_each_channel_its_parts() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("templates/de");
    std::fs::create_dir_all(&t).unwrap();
    std::fs::write(t.join("m.txt"), "Subject: Rechnung {{ invoice.number }}\n\nGuten Tag {{ customer.name }},\n\nOffen: {{ total_open | money }}.\n").unwrap();
    std::fs::write(
        t.join("m.html"),
        "<p>Guten Tag {{ customer.name }},</p>\n<p>Offen: {{ total_open | money }}.</p>\n",
    )
    .unwrap();
    std::fs::write(
        t.join("s.txt"),
        "{{ business.name }}: Rechnung {{ invoice.number }}, offen {{ total_open | money }}.",
    )
    .unwrap();
    std::fs::write(t.join("call.txt"), "ANRUF\n{% for i in invoices %}\n- {{ i.number }}\n{% endfor %}\n")
        .unwrap();
    let source = PlaybookSource::Dir(dir.path().to_path_buf());

    let mut ctx = MessageContext::sample();
    ctx.customer.language = Language::De;
    ctx.customer.name = "Müller & Söhne <GmbH>".into();
    let m = render_message(&source, "m", &ctx).unwrap();
    assert_eq!(m.subject.as_deref(), Some("Rechnung 2026-0117"));
    assert_eq!(m.text, "Guten Tag Müller & Söhne <GmbH>,\n\nOffen: 1.734,56 €.");
    let html = m.html.unwrap();
    assert!(html.contains("<p>Guten Tag Müller &amp; Söhne &lt;GmbH&gt;,</p>"), "{html}");
    assert!(html.contains("<html lang=\"de\">"), "{html}");
    assert_eq!(m.sms, None);

    ctx.channel = Channel::Sms;
    let m = render_message(&source, "s", &ctx).unwrap();
    assert_eq!((m.subject, m.html), (None, None));
    assert_eq!(m.text, "Bakkerij Van Dam B.V.: Rechnung 2026-0117, offen 1.734,56 €.");
    // `€` is in GSM-7's extension table: two septets.
    assert_eq!(m.sms, Some(SmsParts { encoding: SmsEncoding::Gsm7, units: 61, parts: 1 }));

    ctx.channel = Channel::Phone;
    assert_eq!(render_message(&source, "call", &ctx).unwrap().text, "ANRUF\n- 2026-0117\n- 2026-0142");

    ctx.channel = Channel::Letter;
    let m = render_message(&source, "m", &ctx).unwrap();
    assert_eq!((m.subject.as_deref(), m.html), (Some("Rechnung 2026-0117"), None));

    // A missing file names the file and the language.
    ctx.customer.language = Language::Fr;
    let err = render_message(&source, "m", &ctx).unwrap_err();
    assert!(matches!(err, TemplateError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("templates/fr/m.txt"), "{err}");
    assert!(err.to_string().contains("`fr`"), "{err}");
    std::fs::remove_file(t.join("m.html")).unwrap();
    ctx.customer.language = Language::De;
    ctx.channel = Channel::Email;
    let err = render_message(&source, "m", &ctx).unwrap_err();
    assert!(err.to_string().contains("templates/de/m.html"), "{err}");
}

// ---- the shipped templates ----

fn playbooks_dir() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../playbooks")).to_path_buf()
}

fn nl_law() -> LawSettings {
    LawSettings {
        jurisdiction: Jurisdiction::Nl,
        post_delay_days: 2,
        be_reminder_fee_max: Decimal::new(750, 2),
        letter_postage: Decimal::ZERO,
    }
}

/// The 14-day term of art. 6:96 lid 6 BW, as each language words it.
fn fourteen_days(lang: Language) -> &'static str {
    match lang {
        Language::Nl => "binnen 14 dagen na de dag van ontvangst",
        Language::Fr => "dans les 14 jours suivant le jour de la réception",
        Language::En => "within 14 days of the day after you receive",
        Language::De => "innerhalb von 14 Tagen nach dem Tag des Empfangs",
    }
}

/// A context shaped like the one the outbox builds for `step`, with one or both sample
/// invoices: amounts present only when the step announces or applies them, and adding up.
fn context_for(step: &Step, kind: CustomerKind, lang: Language, several: bool) -> MessageContext {
    context_in(step, kind, Jurisdiction::Nl, lang, several)
}

/// [`context_for`] for a customer under the law of `jurisdiction` (a Belgian business has its
/// enterprise number, a Belgian customer lives in Belgium and pays with a structured reference).
fn context_in(
    step: &Step,
    kind: CustomerKind,
    jurisdiction: Jurisdiction,
    lang: Language,
    several: bool,
) -> MessageContext {
    let mut ctx = MessageContext::sample();
    ctx.customer.kind = kind;
    ctx.customer.language = lang;
    ctx.jurisdiction = jurisdiction;
    if kind == CustomerKind::B2c {
        ctx.customer.name = "J. Peeters".into();
        ctx.customer.contact_name = None;
        ctx.fee = None;
    }
    if jurisdiction == Jurisdiction::Nl {
        ctx.business.company_number = None;
        ctx.business.rpr = None;
    }
    if jurisdiction == Jurisdiction::Be {
        ctx.customer.country = Some("BE".into());
        ctx.business.kvk = None;
        ctx.business.vat_number = Some("BE0123456749".into());
        ctx.invoices[0].payment_reference = Some("+++090/9337/55493+++".into());
        ctx.payment_reference = Some("+++090/9337/55471+++".into());
    }
    if !several {
        ctx.invoices.truncate(1);
        ctx.invoice = ctx.invoices[0].clone();
        ctx.total_open = ctx.invoice.open_amount;
        ctx.payment_reference = ctx.invoice.payment_reference.clone();
    }
    let days = step.offset_days;
    for i in &mut ctx.invoices {
        i.due_date = ctx.today - chrono::Duration::days(days);
        i.days_overdue = days;
    }
    ctx.invoices[1..].iter_mut().for_each(|i| {
        i.due_date += chrono::Duration::days(10);
        i.days_overdue -= 10;
    });
    ctx.invoice = ctx.invoices[0].clone();
    ctx.days_overdue = days;
    ctx.step = step.number;
    ctx.channel = step.channel;
    set_amounts(&mut ctx, step.money_for(kind));
    // A Belgian consumer's interest runs only after the 14-day wait: announced, it is nil.
    if jurisdiction == Jurisdiction::Be
        && kind == CustomerKind::B2c
        && ctx.interest_action == MoneyAction::Announce
    {
        for i in &mut ctx.invoices {
            i.interest = Some(Decimal::ZERO);
        }
        ctx.invoice.interest = Some(Decimal::ZERO);
        ctx.interest = Some(Decimal::ZERO);
    }
    ctx
}

/// The labels of the total of a list of amounts, and of the total open, per language.
fn total_labels(lang: Language) -> (&'static str, &'static str) {
    match lang {
        Language::Nl => ("Totaal verschuldigd", "Totaal openstaand"),
        Language::Fr => ("Total dû", "Total restant dû"),
        Language::En => ("Total due", "Total outstanding"),
        Language::De => ("Geschuldeter Gesamtbetrag", "Offener Gesamtbetrag"),
    }
}

/// The amount at the end of a line such as `- Openstaande hoofdsom: € 1.234,56` or `- Total dû :
/// 1 234,56 €`, in the way `lang` writes it.
fn amount_at_end(line: &str, lang: Language) -> Option<Decimal> {
    let sep = if lang == Language::Fr { " : " } else { ": " };
    let (_, amount) = line.rsplit_once(sep)?;
    let digits: String = match lang {
        Language::Nl | Language::De => amount.replace('.', "").replace(',', "."),
        Language::Fr => amount.replace(' ', "").replace(',', "."),
        Language::En => amount.replace(',', ""),
    };
    let digits: String = digits.chars().filter(|c| c.is_ascii_digit() || *c == '.' || *c == '-').collect();
    Decimal::from_str(&digits).ok()
}

/// Every list of amounts adds up to the total under it, in the text and in the HTML; a total
/// open under several invoices is their sum.
fn check_sums(ctx: &MessageContext, m: &Message, what: &str, failures: &mut Vec<String>) {
    let lang = ctx.customer.language;
    let (total_due, total_open) = total_labels(lang);
    let mut fail = |msg: String| failures.push(format!("{what}: {msg}"));
    let mut lists = Vec::new();
    // Text: runs of `- label: amount` lines ending with the total.
    let mut run: Vec<&str> = Vec::new();
    for line in m.text.lines().chain(std::iter::once("")) {
        if line.starts_with("- ") && amount_at_end(line, lang).is_some() {
            run.push(line);
            continue;
        }
        if run.last().is_some_and(|l| l.starts_with(&format!("- {total_due}"))) {
            lists.push(("text", run.iter().map(|l| l.to_string()).collect::<Vec<_>>()));
        }
        run.clear();
    }
    // HTML: the table of amounts, one `label | amount` row each, the total last.
    if let Some(html) = &m.html {
        for table in html.split("<table cellpadding=\"4\"").skip(1) {
            let table = table.split("</table>").next().unwrap_or_default();
            let rows: Vec<String> = table
                .split("<tr")
                .skip(1)
                .map(|row| {
                    let cells: Vec<String> = row
                        .split("<td")
                        .skip(1)
                        .map(|c| {
                            let c = c.split_once('>').map(|x| x.1).unwrap_or_default();
                            let mut text = String::new();
                            let mut in_tag = false;
                            for ch in c.chars() {
                                match ch {
                                    '<' => in_tag = true,
                                    '>' => in_tag = false,
                                    ch if !in_tag => text.push(ch),
                                    _ => {}
                                }
                            }
                            text.trim().to_string()
                        })
                        .collect();
                    let sep = if lang == Language::Fr { " : " } else { ": " };
                    format!(
                        "- {}{sep}{}",
                        cells.first().cloned().unwrap_or_default(),
                        cells.last().cloned().unwrap_or_default()
                    )
                })
                .collect();
            if rows.last().is_some_and(|l| l.starts_with(&format!("- {total_due}"))) {
                lists.push(("html", rows));
            }
        }
    }
    if ctx.total_due.is_some() && matches!(ctx.interest_action, MoneyAction::Apply) {
        if !lists.iter().any(|(part, _)| *part == "text") {
            fail("applies interest but shows no list of amounts with its total".into());
        }
        if m.html.is_some() && !lists.iter().any(|(part, _)| *part == "html") {
            fail("applies interest but the HTML shows no table of amounts with its total".into());
        }
    }
    for (part, lines) in &lists {
        let amounts: Vec<Decimal> = lines.iter().filter_map(|l| amount_at_end(l, lang)).collect();
        let (total, items) = amounts.split_last().expect("a list has its total");
        let sum: Decimal = items.iter().sum();
        if sum != *total {
            fail(format!(
                "the {part} list of amounts adds up to {sum}, not to its total {total}:\n{}",
                lines.join("\n")
            ));
        }
        if Some(*total) != ctx.total_due.map(|t| t.round_dp(2)) {
            fail(format!("the {part} list ends with {total}, but the total due is {:?}", ctx.total_due));
        }
    }
    let open: Decimal = ctx.invoices.iter().map(|i| i.open_amount).sum();
    for line in m.text.lines().filter(|l| l.starts_with(total_open)) {
        if amount_at_end(line, lang) != Some(open) {
            fail(format!("`{line}` is not the sum of the open amounts ({open})"));
        }
    }
}

/// The wording the law and the reader need: the VAT remark beside collection costs, the legal
/// basis of interest, the business's registration, a salutation to a person, Belgian terms for
/// Belgian customers, and a Belgian consumer's first reminder with all Boek XIX WER asks.
fn check_wording(step: &Step, ctx: &MessageContext, m: &Message, what: &str, failures: &mut Vec<String>) {
    let lang = ctx.customer.language;
    let money = |a: Decimal| format_money(a, &ctx.invoice.currency, lang);
    let all = format!("{}\n{}", m.subject.clone().unwrap_or_default(), m.text);
    let mut fail = |msg: String| failures.push(format!("{what}: {msg}"));
    let writes = matches!(step.channel, Channel::Email | Channel::Letter | Channel::RegisteredLetter);
    let be = ctx.jurisdiction == Jurisdiction::Be;
    let consumer = ctx.customer.kind == CustomerKind::B2c;
    let vat = match lang {
        Language::Nl => "btw",
        Language::Fr => "TVA",
        Language::En => "VAT",
        Language::De => "MwSt.",
    };
    if let Some(costs) = ctx.costs.filter(|_| ctx.costs_action != MoneyAction::None) {
        for line in all.lines().filter(|l| l.contains(&money(costs))) {
            if !line.contains(vat) {
                fail(format!("names the costs without saying whether VAT is included: `{line}`"));
            }
        }
    }
    if ctx.interest_action == MoneyAction::Apply && writes {
        let basis = match (lang, be, consumer) {
            (Language::Nl, false, false) => "art. 6:119a BW",
            (Language::Nl, false, true) => "art. 6:119 BW",
            (Language::Nl, true, false) => "wet van 2 augustus 2002",
            (Language::Nl, true, true) => "Boek XIX WER",
            (Language::Fr, false, false) => "art. 6:119a",
            (Language::Fr, false, true) => "art. 6:119",
            (Language::Fr, true, false) => "loi du 2 août 2002",
            (Language::Fr, true, true) => "Livre XIX",
            (Language::En, false, false) => "art. 6:119a",
            (Language::En, false, true) => "art. 6:119",
            (Language::En, true, false) => "2 August 2002",
            (Language::En, true, true) => "Book XIX",
            (Language::De, false, false) => "Art. 6:119a",
            (Language::De, false, true) => "Art. 6:119",
            (Language::De, true, false) => "2. August 2002",
            (Language::De, true, true) => "Buch XIX",
        };
        if !all.contains(basis) {
            fail(format!("applies interest without its legal basis ({basis})"));
        }
        let rate = format_percent(ctx.interest_rate.unwrap(), lang);
        if !all.contains(&rate) {
            fail(format!("applies interest without its rate ({rate})"));
        }
    }
    if writes {
        if !be && !all.contains("12345678") {
            fail("does not print the KvK number".into());
        }
        if be && ctx.business.company_number.as_ref().is_some_and(|n| !all.contains(n.as_str())) {
            fail("does not print the enterprise number".into());
        }
        if let Some(html) = &m.html {
            if !be && !html.contains("12345678") {
                fail("the HTML does not print the KvK number".into());
            }
        }
    }
    for text in [Some(&all), m.html.as_ref()].into_iter().flatten() {
        if text.contains(&format!("{} {}", "Geachte", ctx.customer.name)) {
            fail("addresses the company as a person".into());
        }
        let interest_words = ["rente", "intrest", "intérêts", "interest", "Zinsen"];
        if be && consumer && ctx.interest_action == MoneyAction::Announce {
            let zero = money(Decimal::ZERO);
            if text.lines().any(|l| l.contains(&zero) && interest_words.iter().any(|w| l.contains(w))) {
                fail("announces interest that does not run yet as € 0,00".into());
            }
        }
        if lang == Language::Nl && be {
            for word in ["vertragingsrente", "verzuim", "proceskosten", "griffierecht"] {
                if text.contains(word) {
                    fail(format!("Belgian customer, Dutch term `{word}`"));
                }
            }
            if ctx.payment_reference.is_some() && text.contains("betalingskenmerk +++") {
                fail("a structured communication called betalingskenmerk".into());
            }
        }
        if consumer && step.channel != Channel::Agency {
            for threat in [
                "extra kosten",
                "verdere kosten",
                "frais supplémentaires",
                "additional costs",
                "further costs",
                "weitere Kosten",
                "zusätzliche Kosten",
            ] {
                if text.contains(threat) {
                    fail(format!("threatens a consumer with `{threat}`"));
                }
            }
        }
    }
    // Boek XIX WER: the free first reminder to a Belgian consumer.
    let first =
        ["standard-reminder-1", "vip-reminder-1", "bad-payer-reminder-1"].contains(&step.template.as_str());
    if first && be && consumer && writes {
        let days = match lang {
            Language::Nl => "14 kalenderdagen",
            Language::Fr => "14 jours calendrier",
            Language::En => "14 calendar days",
            Language::De => "14 Kalendertagen",
        };
        if !all.contains(days) {
            fail(format!("a Belgian consumer's first reminder without `{days}`"));
        }
        if let Some(d) = ctx.deadline {
            if !all.contains(&format_date(d, lang)) {
                fail("a Belgian consumer's first reminder without its last day".into());
            }
        }
        if !all.contains(&money(ctx.total_open))
            || !all.contains("0123.456.749")
            || !all.contains(&ctx.business.name)
        {
            fail("a Belgian consumer's first reminder must state the balance, the creditor and its enterprise number".into());
        }
        if let Some(c) = ctx.costs {
            if !all.contains(&money(c)) {
                fail("a Belgian consumer's first reminder without the damages".into());
            }
        }
    }
}

/// `ctx` as the planner may send it: without an expired term, and (when an earlier step of its
/// playbook gives this kind of customer a term) after that term ran out, with the costs owed
/// since (the message that gave the term named them) or not; the expired term's day and end are
/// the sample's.
fn expired_term_branches(ctx: &MessageContext, after_a_term: bool) -> Vec<(MessageContext, &'static str)> {
    let sample = MessageContext::sample().expired_term.expect("the sample has an expired term");
    [(None, "no expired term"), (Some(false), "term expired"), (Some(true), "term expired, costs due")]
        .into_iter()
        .filter(|(expired, _)| after_a_term || expired.is_none())
        .map(|(costs_due, what)| {
            let mut c = ctx.clone();
            c.expired_term = costs_due.map(|costs_due| ExpiredTerm { costs_due, ..sample });
            (c, what)
        })
        .collect()
}

/// Every template of every shipped step renders in every language, for a business and a
/// consumer, under Dutch and Belgian law, with one invoice and with two, without an expired term
/// and after one (its costs owed or not), and says what its step must say: the sums add up, the
/// interest has its basis and rate.
#[test]
fn every_shipped_template_renders_in_every_language() {
    let set = PlaybookSet::load(PlaybookSource::Dir(playbooks_dir()), Language::Nl, &nl_law())
        .unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(set.languages, Language::ALL.to_vec());
    let mut names = BTreeSet::new();
    let mut failures = Vec::new();
    for pb in set.playbooks.values() {
        for (i, step) in pb.steps.iter().enumerate() {
            names.insert(step.template.clone());
            for lang in Language::ALL {
                for jurisdiction in [Jurisdiction::Nl, Jurisdiction::Be] {
                    for kind in [CustomerKind::B2b, CustomerKind::B2c] {
                        let after_a_term = pb.steps[..i]
                            .iter()
                            .any(|s| s.term_for(kind).is_some() && s.channel.delivery().is_some());
                        for several in [false, true] {
                            let base = context_in(step, kind, jurisdiction, lang, several);
                            for (ctx, branch) in expired_term_branches(&base, after_a_term) {
                                let what = format!(
                                    "{lang}/{} ({} {}, {} invoice{}, {branch})",
                                    step.template,
                                    jurisdiction,
                                    kind.as_str(),
                                    ctx.invoices.len(),
                                    if several { "s" } else { "" }
                                );
                                let m = match render_message(&set.source, &step.template, &ctx) {
                                    Ok(m) => m,
                                    Err(e) => {
                                        failures.push(format!("{what}: {e}"));
                                        continue;
                                    }
                                };
                                check_message(step, &ctx, &m, &what, &mut failures);
                                check_sums(&ctx, &m, &what, &mut failures);
                                check_wording(step, &ctx, &m, &what, &mut failures);
                                check_expired_term(step, &ctx, &m, &what, &mut failures);
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(names.len(), 19, "the default playbooks name 19 templates: {names:?}");
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
}

/// After an earlier term ran out, a message that writes to the customer says so (with its
/// date), never gives the impression that the old term still runs, and, when the costs are owed
/// since (`expired_term.costs_due`), states them as due with their amount and never promises
/// that paying now avoids them.
fn check_expired_term(
    step: &Step,
    ctx: &MessageContext,
    m: &Message,
    what: &str,
    failures: &mut Vec<String>,
) {
    let lang = ctx.customer.language;
    let writes = matches!(step.channel, Channel::Email | Channel::Letter | Channel::RegisteredLetter);
    let Some(expired) = ctx.expired_term.filter(|_| writes && step.offset_days > 0) else { return };
    let mut fail = |msg: String| failures.push(format!("{what}: {msg}"));
    let ended = format_date(expired.ended, lang);
    for (part, text) in [("text", Some(&m.text)), ("HTML", m.html.as_ref())] {
        let Some(text) = text else { continue };
        if !text.contains(&ended) {
            fail(format!("the {part} does not say that the term that ended on {ended} has run out"));
        }
        // The sentence is a paragraph of its own (a partial loses its last line break).
        if part == "text" {
            let lines: Vec<&str> = text.lines().collect();
            if let Some(i) = lines.iter().position(|l| l.contains(&ended)) {
                if lines.get(i + 1).is_some_and(|next| !next.is_empty()) {
                    fail(format!("the expired term runs into the next paragraph: `{}`", lines[i + 1]));
                }
            }
        }
        let costs = ctx.costs.filter(|_| ctx.costs_action != MoneyAction::None);
        if let Some(costs) = costs.filter(|_| expired.costs_due || ctx.costs_action == MoneyAction::Apply) {
            let due = match lang {
                Language::Nl => "verschuldigd",
                Language::Fr => "dès lors",
                Language::En => "therefore due",
                Language::De => "geschuldet",
            };
            let amount = format_money(costs, &ctx.invoice.currency, lang);
            if !text.lines().any(|l| l.contains(&ended) && l.contains(&amount) && l.contains(due)) {
                fail(format!(
                    "the {part} does not say that the costs of {amount} are due since the term ran out"
                ));
            }
            let not_due = match lang {
                Language::Nl => "niet verschuldigd",
                Language::Fr => "pas dus",
                Language::En => "not be due",
                Language::De => "nicht an",
            };
            if text.contains(not_due) {
                fail(format!("the {part} says the costs that are due will not be (`{not_due}`)"));
            }
        }
    }
}

/// What is wrong with the lists of an HTML body, if anything: every item inside a list, no
/// paragraph inside one, every list closed.
fn list_problem(html: &str) -> Option<&'static str> {
    let mut depth = 0i32;
    for (i, _) in html.match_indices('<') {
        let tag = &html[i..];
        if tag.starts_with("<ul>") {
            depth += 1;
        } else if tag.starts_with("</ul>") {
            depth -= 1;
        } else if (tag.starts_with("<li>") && depth != 1)
            || (tag.starts_with("<p>") && depth != 0)
            || depth < 0
        {
            return Some("the HTML has a list item outside a list or a paragraph inside one");
        }
    }
    (depth != 0).then_some("the HTML leaves a list open")
}

fn check_message(step: &Step, ctx: &MessageContext, m: &Message, what: &str, failures: &mut Vec<String>) {
    let lang = ctx.customer.language;
    let money = |a: Decimal| format_money(a, &ctx.invoice.currency, lang);
    let all = format!("{}\n{}", m.subject.clone().unwrap_or_default(), m.text);
    let mut fail = |msg: String| failures.push(format!("{what}: {msg}"));
    for i in &ctx.invoices {
        if !all.contains(&i.number) {
            fail(format!("does not name invoice {}", i.number));
        }
        if !all.contains(&money(i.open_amount)) {
            fail(format!("does not show what is open on {}", i.number));
        }
        if let Some(html) = &m.html {
            if !html.contains(&i.number) || !html.contains(&money(i.open_amount)) {
                fail(format!("the HTML does not list invoice {} with its open amount", i.number));
            }
        }
    }
    if ctx.invoices.len() > 1 && !all.contains(&money(ctx.total_open)) {
        fail(format!("several invoices but no total open ({})", money(ctx.total_open)));
    }
    match step.channel {
        Channel::Email | Channel::Letter | Channel::RegisteredLetter if m.subject.is_none() => {
            fail("no subject".into())
        }
        Channel::Email if m.html.is_none() => fail("e-mail without HTML".into()),
        _ => {}
    }
    let (interest, costs) = (ctx.interest_action, ctx.costs_action);
    if costs != MoneyAction::None {
        let want = money(ctx.costs.unwrap());
        if !all.contains(&want) {
            fail(format!("costs = {costs:?} but {want} is not in the text"));
        }
    }
    let be_consumer = ctx.jurisdiction == Jurisdiction::Be && ctx.customer.kind == CustomerKind::B2c;
    let be_term = match lang {
        Language::Nl => "14 kalenderdagen",
        Language::Fr => "14 jours calendrier",
        Language::En => "14 calendar days",
        Language::De => "14 Kalendertagen",
    };
    if costs == MoneyAction::Announce
        && ctx.expired_term.is_none()
        && step.channel != Channel::Phone
        && !all.contains(fourteen_days(lang))
        && !(be_consumer && all.contains(be_term))
    {
        fail("costs are announced but the 14-day term is missing".into());
    }
    if interest == MoneyAction::Apply || costs == MoneyAction::Apply {
        let want = money(ctx.total_due.unwrap());
        if !all.contains(&want) {
            fail(format!("applies money but the total due {want} is not shown"));
        }
        if let Some(html) = &m.html {
            if !html.contains(&want) {
                fail(format!("the HTML does not show the total due {want}"));
            }
        }
    }
    if interest == MoneyAction::Apply {
        let want = money(ctx.interest.unwrap());
        if !all.contains(&want) {
            fail(format!("interest is applied but {want} is not shown"));
        }
    }
    if let Some(fee) = ctx.fee {
        if step.offset_days > 0
            && !matches!(step.channel, Channel::Phone | Channel::Agency)
            && !all.contains(&money(fee))
        {
            fail(format!("a fee of {} is charged but not shown", money(fee)));
        }
    }
    if let Some(problem) = m.html.as_deref().and_then(list_problem) {
        fail(problem.into());
    }
    for text in [Some(&all), m.html.as_ref()].into_iter().flatten() {
        if text.contains("{{") || text.contains("{%") || text.contains("  \n") || text.contains(" \n") {
            fail("leftover template syntax or trailing spaces".into());
        }
        if text.contains("\n\n\n") {
            fail("two blank lines in a row".into());
        }
        if text.contains("none") && !text.contains("none of") {
            fail("prints `none`".into());
        }
    }
    if step.channel == Channel::Phone {
        let required: &[&str] = match lang {
            Language::Nl => &["DOEL", "FACTUREN", "BETAALDATUM", "BETWISTING", "VOLGENDE STAP"],
            Language::Fr => &["OBJECTIF", "FACTURES", "DATE DE PAIEMENT", "CONTESTATION", "SUITE"],
            Language::En => &["PURPOSE", "INVOICES", "PAYMENT DATE", "DISPUTE", "NEXT STEPS"],
            Language::De => &["ZIEL", "RECHNUNGEN", "ZAHLUNGSDATUM", "BESTREITUNG", "NÄCHSTE SCHRITTE"],
        };
        for heading in required {
            if !m.text.contains(heading) {
                fail(format!("call script without the section {heading}"));
            }
        }
    }
    let written = [Channel::Email, Channel::Letter, Channel::RegisteredLetter].contains(&step.channel);
    if written && !all.contains(&ctx.business.iban) {
        fail("does not say where to pay (IBAN)".into());
    }
}

/// The HTML part escapes what comes from the customer's data in every shipped e-mail.
#[test]
fn shipped_html_escapes_customer_data() {
    let set = PlaybookSet::load(PlaybookSource::Dir(playbooks_dir()), Language::Nl, &nl_law()).unwrap();
    for pb in set.playbooks.values() {
        for step in pb.steps.iter().filter(|s| s.channel == Channel::Email) {
            for lang in Language::ALL {
                let mut ctx = context_for(step, CustomerKind::B2b, lang, true);
                ctx.customer.name = "<script>alert(1)</script> A & B".into();
                ctx.customer.contact_name = Some("<b>Jansen</b>".into());
                ctx.invoices[1].number = "2026/<i>7</i>".into();
                let m = render_message(&set.source, &step.template, &ctx).unwrap();
                let html = m.html.unwrap();
                assert!(
                    !html.contains("<script>") && !html.contains("<b>") && !html.contains("<i>"),
                    "{lang}/{}: {html}",
                    step.template
                );
                assert!(
                    html.contains("2026&#x2f;&lt;i&gt;7&lt;&#x2f;i&gt;"),
                    "{lang}/{}: {html}",
                    step.template
                );
                // The text part is not escaped.
                assert!(m.text.contains("2026/<i>7</i>"), "{lang}/{}", step.template);
            }
        }
    }
}

#[test]
fn the_check_renders_every_variant() {
    // The variants the check renders: two invoices with everything, a Belgian consumer, one
    // invoice with nothing optional, two invoices without a reference.
    let set = PlaybookSet::load(PlaybookSource::Dir(playbooks_dir()), Language::Nl, &nl_law()).unwrap();
    let step = &set.playbooks["bad-payer"].steps[2];
    let [full, consumer, sparse, several, be_business, disputed] = sample_variants(
        Language::Fr,
        step.channel,
        step.money_for(CustomerKind::B2b),
        step.money_for(CustomerKind::B2c),
    );
    assert_eq!(
        (full.invoices.len(), consumer.invoices.len(), sparse.invoices.len(), several.invoices.len()),
        (2, 1, 1, 2)
    );
    assert_eq!(
        (consumer.jurisdiction, be_business.jurisdiction, several.jurisdiction),
        (Jurisdiction::Be, Jurisdiction::Be, Jurisdiction::Nl)
    );
    assert_eq!(consumer.interest_basis.as_deref(), Some("be-consumer"));
    assert_eq!(be_business.interest_basis.as_deref(), Some("be-commercial"));
    assert_eq!(disputed.invoices[1].disputed, Some(d("200.00")), "the table of invoices shows a dispute");
    assert_eq!(disputed.total_open, full.total_open - d("200.00"));
    assert_eq!(several.costs_action, MoneyAction::Announce, "announced costs are always there");
    assert!(several.costs.is_some() && several.expired_term.is_none());
    assert_eq!(consumer.interest_action, MoneyAction::Announce, "the consumer variant of the step");
    assert_eq!(consumer.total_due, Some(consumer.total_open), "announced interest is not in the total");
    assert_eq!(full.customer.language, Language::Fr);
    assert!(sparse.payment_reference.is_none() && several.payment_reference.is_none());
    assert!(sparse.contact.phone.is_none() && sparse.interest.is_none());
}

#[test]
fn no_orphan_template_files() {
    let set = PlaybookSet::load(PlaybookSource::Dir(playbooks_dir()), Language::Nl, &nl_law()).unwrap();
    let steps: Vec<&Step> = set.playbooks.values().flat_map(|p| &p.steps).collect();
    for lang in Language::ALL {
        let dir = playbooks_dir().join("templates").join(lang.as_str());
        let sources: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let file = entry.unwrap().file_name().to_string_lossy().into_owned();
            if file.starts_with('_') {
                let include = format!("{{% include \"{file}\" %}}");
                assert!(sources.iter().any(|s| s.contains(&include)), "{lang}/{file} is included nowhere");
                continue;
            }
            let care = |stem: &str, html: bool| {
                CARE_TEMPLATES
                    .iter()
                    .any(|(n, channels)| *n == stem && (!html || channels.iter().any(|c| has_html(*c))))
            };
            let used = match file.rsplit_once('.') {
                Some((stem, "txt")) => steps.iter().any(|s| s.template == stem) || care(stem, false),
                Some((stem, "html")) => {
                    steps.iter().any(|s| s.template == stem && has_html(s.channel)) || care(stem, true)
                }
                _ => false,
            };
            assert!(used, "{lang}/{file} is not used by any playbook step nor a care message");
        }
    }
}

#[test]
fn includes_read_partials_of_the_same_language_and_playbooks() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "templates/nl/m.txt",
        "Subject: x\n\n{% include \"_groet.txt\" %}\n\nTekst {% include \"_naam.txt\" %}.\n",
    );
    write(
        "templates/nl/_groet.txt",
        "{% if customer.contact_name %}\nGeachte {{ customer.contact_name }},\n{% endif %}\n",
    );
    write("templates/nl/_naam.txt", "{{ business.name }}\n");
    write("templates/fr/m.txt", "Subject: x\n\n{% include \"_groet.txt\" %}\n");
    write("templates/fr/_groet.txt", "Madame, Monsieur,\n");
    let source = PlaybookSource::Dir(dir.path().to_path_buf());
    let mut ctx = MessageContext::sample();
    ctx.channel = Channel::Letter;
    let m = render_message(&source, "m", &ctx).unwrap();
    assert_eq!(m.text, "Geachte Anne Jansen,\n\nTekst Bakkerij Van Dam B.V..");
    ctx.customer.language = Language::Fr;
    assert_eq!(render_message(&source, "m", &ctx).unwrap().text, "Madame, Monsieur,");

    // A missing partial: the including line, and the file that is not there.
    write("templates/de/m.txt", "Subject: x\n\nGuten Tag,\n{% include \"_fehlt.txt\" %}\n");
    ctx.customer.language = Language::De;
    let err = render_message(&source, "m", &ctx).unwrap_err();
    assert_eq!((err.line(), err.partial()), (Some(4), None), "{err}");
    assert!(err.to_string().contains("templates/de/_fehlt.txt"), "{err}");
    // A broken partial: its own name and line.
    write("templates/en/m.txt", "Subject: x\n\nDear,\n\n{% include \"_sig.txt\" %}\n");
    write("templates/en/_sig.txt", "Regards,\n\n{{ business.nam }}\n");
    ctx.customer.language = Language::En;
    let err = render_message(&source, "m", &ctx).unwrap_err();
    assert_eq!((err.line(), err.partial()), (Some(3), Some("_sig.txt")), "{err}");
    assert!(err.to_string().contains("business.nam"), "{err}");
    assert!(err.to_string().contains("in the included _sig.txt, line 3"), "{err}");
    write("templates/en/_sig.txt", "Regards,\n{% if business.name %}\n");
    let err = render_message(&source, "m", &ctx).unwrap_err();
    assert!(matches!(err, TemplateError::Syntax { .. }), "{err}");
    assert_eq!(err.partial(), Some("_sig.txt"), "{err}");
    // Only partials can be included: no step's template, no path.
    for bad in ["m.txt", "../nl/_naam.txt", "_x/../../m.txt"] {
        write("templates/en/m.txt", &format!("Subject: x\n\n{{% include \"{bad}\" %}}\n"));
        let err = render_message(&source, "m", &ctx).unwrap_err();
        assert!(err.to_string().contains("only partials"), "{bad}: {err}");
    }
    // Without playbooks (a template given as text), nothing can be included.
    assert!(render("{% include \"_naam.txt\" %}", "t", Language::Nl, &MessageContext::sample()).is_err());
}

#[test]
fn the_check_follows_includes() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("templates/nl");
    std::fs::create_dir_all(&t).unwrap();
    let source = PlaybookSource::Dir(dir.path().to_path_buf());
    let set = PlaybookSet::load(PlaybookSource::Dir(playbooks_dir()), Language::Nl, &nl_law()).unwrap();
    let step = &set.playbooks["standard"].steps[5];
    std::fs::write(t.join("_sig.txt"), "Hoogachtend,\n\n{{ business.name }}\n{{ contact.phone }}\n").unwrap();
    let text = "Subject: x\n\nTekst.\n\n{% include \"_sig.txt\" %}\n";
    let err = check_template(&source, text, "brief", Language::Nl, step, TemplatePart::Text).unwrap_err();
    assert_eq!((err.partial(), err.line()), (Some("_sig.txt"), Some(4)), "{err}");
    assert!(err.to_string().contains("would print as `none`"), "{err}");
    // A partial that joins lines by accident is reported with its own line.
    std::fs::write(
        t.join("_sig.txt"),
        "Hoogachtend,\nNaam: {% if business.name %}{{ business.name }}{% endif %}\nx\n",
    )
    .unwrap();
    let err = check_template(&source, text, "brief", Language::Nl, step, TemplatePart::Text).unwrap_err();
    assert_eq!((err.partial(), err.line()), (Some("_sig.txt"), Some(2)), "{err}");
    let err = check_template(
        &source,
        "Subject: x\n\n{% include \"_geen.txt\" %}\n",
        "brief",
        Language::Nl,
        step,
        TemplatePart::Text,
    )
    .unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(err.to_string().contains("_geen.txt"), "{err}");
}

#[test]
fn a_14_day_letter_that_lost_its_amount_or_term_is_refused() {
    let set = PlaybookSet::load(PlaybookSource::Dir(playbooks_dir()), Language::Nl, &nl_law()).unwrap();
    let step = &set.playbooks["standard"].steps[2];
    assert_eq!(step.money_for(CustomerKind::B2c).1, MoneyAction::Announce);
    let shipped = set.source.read_template(Language::Nl, &step.template).unwrap().unwrap();
    check_template(&set.source, &shipped, "t", Language::Nl, step, TemplatePart::Text).unwrap();
    let without_amount = shipped.replace(
        "- brengen wij {% include \"_costs.txt\" %} in rekening;",
        "- brengen wij incassokosten in rekening;",
    );
    assert_ne!(without_amount, shipped);
    let err = check_template(&set.source, &without_amount, "t", Language::Nl, step, TemplatePart::Text)
        .unwrap_err();
    assert!(err.to_string().contains("exact amount"), "{err}");
    let without_term = shipped.replace("binnen 14 dagen", "spoedig").replace("14 dagen", "twee weken");
    let err =
        check_template(&set.source, &without_term, "t", Language::Nl, step, TemplatePart::Text).unwrap_err();
    assert!(err.to_string().contains("term of 14 days"), "{err}");
}

#[test]
fn rates_are_written_per_language() {
    assert_eq!(format_percent(d("10.15"), Language::Nl), "10,15%");
    assert_eq!(format_percent(d("10.50"), Language::Fr), "10,5 %");
    assert_eq!(format_percent(d("8.00"), Language::En), "8%");
    assert_eq!(format_percent(d("4"), Language::De), "4 %");
    let mut ctx = MessageContext::sample();
    ctx.channel = Channel::Phone;
    assert_eq!(render("{{ interest_rate | percent }}", "t", Language::Nl, &ctx).unwrap().body, "10,15%");
    let mut sparse = ctx.clone();
    sparse.interest_rate = None;
    let err = render("{{ interest_rate | percent }}", "t", Language::Nl, &sparse).unwrap_err();
    assert!(err.to_string().contains("`percent` got an empty amount"), "{err}");
}

#[test]
fn the_business_context_formats_the_identity() {
    let b = crate::config::Business {
        name: "Atelier Janssens".into(),
        legal_form: Some("BV".into()),
        company_number: Some("0123456749".into()),
        rpr: Some("RPR Gent".into()),
        vat_number: String::new(),
        website: Some(" ".into()),
        ..Default::default()
    };
    let c = BusinessContext::from_business(&b);
    assert_eq!(c.company_number.as_deref(), Some("0123.456.749"));
    assert_eq!((c.vat_number, c.website, c.kvk), (None, None, None));
    assert_eq!(c.legal_form.as_deref(), Some("BV"));
}

/// The shipped signature: the signatory (else the contact), the name with its legal form once,
/// the registration numbers, how to reach the business.
#[test]
fn the_shipped_signature_names_the_signatory_and_the_registration() {
    let set = PlaybookSet::load(PlaybookSource::Dir(playbooks_dir()), Language::Nl, &nl_law()).unwrap();
    let mut ctx = MessageContext::sample();
    ctx.channel = Channel::Letter;
    let src = "Subject: x\n\nHoogachtend,\n\n{% include \"_signature.txt\" %}\n";
    let partials = Some(Partials { source: &set.source, lang: Language::Nl });
    let body = render_text(src, "t", Language::Nl, &ctx, partials).unwrap().body;
    assert_eq!(
        body,
        "Hoogachtend,\n\nAnja van Dam\ndirecteur\nBakkerij Van Dam B.V.\nKerkstraat 12, 3811 CV Amersfoort\nKvK 12345678\n\
         Ondernemingsnummer 0123.456.749, RPR Gent\nBtw-nummer: NL123456789B01\nContactpersoon: Sanne de Boer\n\
         Telefoon: +31 33 123 45 67\nE-mail: debiteuren@bakkerijvandam.nl\nwww.bakkerijvandam.nl"
    );
    ctx.business.signatory_name = None;
    ctx.business.name = "Bakkerij Van Dam".into();
    ctx.business.company_number = None;
    let body = render_text(src, "t", Language::Nl, &ctx, partials).unwrap().body;
    assert!(body.starts_with("Hoogachtend,\n\nSanne de Boer\nBakkerij Van Dam B.V.\n"), "{body}");
    assert!(!body.contains("Contactpersoon") && !body.contains("Ondernemingsnummer"), "{body}");
}

/// Prints shipped templates as rendered, for reading them: `DUMP=nl/standard-reminder-2
/// cargo test -p dunwell --lib dump_shipped -- --ignored --nocapture` (add `:be:b2c:2` for a
/// Belgian consumer with two invoices).
#[test]
#[ignore]
fn dump_shipped() {
    let want = std::env::var("DUMP").unwrap_or_default();
    let mut parts = want.split(':');
    let (lang, template) = parts.next().unwrap_or_default().split_once('/').unwrap_or(("nl", ""));
    let jurisdiction = if parts.next() == Some("be") { Jurisdiction::Be } else { Jurisdiction::Nl };
    let kind = if parts.next() == Some("b2c") { CustomerKind::B2c } else { CustomerKind::B2b };
    let several = parts.next() == Some("2");
    let lang = Language::from_str(lang).unwrap();
    let set = PlaybookSet::load(PlaybookSource::Dir(playbooks_dir()), Language::Nl, &nl_law()).unwrap();
    // A care template: `DUMP=nl/payment-plan-confirmation:3` prints the variant 3 of the check
    // (0 to 5, see `care_variants`) for each channel.
    if let Some((_, channels)) = CARE_TEMPLATES.iter().find(|(n, _)| *n == template) {
        let k: usize = want.split(':').nth(1).and_then(|k| k.parse().ok()).unwrap_or(0);
        for &channel in *channels {
            let ctx = check::care_variants(lang, template, channel).swap_remove(k);
            let m = render_message(&set.source, template, &ctx).unwrap_or_else(|e| panic!("{e}"));
            println!("[{}]\nSubject: {}\n\n{}\n", channel.as_str(), m.subject.unwrap_or_default(), m.text);
            if std::env::var("HTML").is_ok() {
                println!("{}", m.html.unwrap_or_default());
            }
        }
        return;
    }
    for step in set.playbooks.values().flat_map(|p| &p.steps).filter(|s| s.template == template) {
        let ctx = context_in(step, kind, jurisdiction, lang, several);
        let m = render_message(&set.source, &step.template, &ctx).unwrap_or_else(|e| panic!("{e}"));
        println!("Subject: {}\n\n{}\n", m.subject.unwrap_or_default(), m.text);
        if std::env::var("HTML").is_ok() {
            println!("{}", m.html.unwrap_or_default());
        }
    }
}

#[test]
fn the_sum_check_catches_a_list_that_does_not_add_up() {
    let ctx = one_invoice(Channel::Letter);
    let lang = Language::Nl;
    let money = |d: Decimal| format_money(d, "EUR", lang);
    let good = format!(
        "- Openstaande hoofdsom: {}\n- Vertragingsrente (art. 6:119a BW, 10,15% per jaar): {}\n- Incassokosten (geen btw): {}\n- Herinneringskosten: {}\n- Totaal verschuldigd: {}",
        money(ctx.total_open),
        money(ctx.interest.unwrap()),
        money(ctx.costs.unwrap()),
        money(ctx.fee.unwrap()),
        money(ctx.total_due.unwrap())
    );
    let message = |text: String| Message { subject: None, text, html: None, sms: None };
    let mut failures = Vec::new();
    check_sums(&ctx, &message(good.clone()), "good", &mut failures);
    assert!(failures.is_empty(), "{failures:?}");
    let bad = good.replace(
        &format!(": {}\n- Herinneringskosten", money(ctx.costs.unwrap())),
        ": € 1,00\n- Herinneringskosten",
    );
    assert_ne!(bad, good);
    check_sums(&ctx, &message(bad), "bad", &mut failures);
    assert!(failures.iter().any(|f| f.contains("adds up to")), "{failures:?}");
}

/// What every care message must be: shaped for its channel, every invoice named, where to pay
/// in a message to the customer, no interest or costs of its own, no template leftovers, whole
/// HTML lists, Belgian terms for Belgian customers, and a disputed part said.
fn check_care_message(
    template: &str,
    ctx: &MessageContext,
    m: &Message,
    what: &str,
    failures: &mut Vec<String>,
) {
    let lang = ctx.customer.language;
    let money = |a: Decimal| format_money(a, &ctx.invoice.currency, lang);
    let all = format!("{}\n{}", m.subject.clone().unwrap_or_default(), m.text);
    let mut fail = |msg: String| failures.push(format!("{what}: {msg}"));
    let to_customer = ctx.channel != Channel::Phone;
    match ctx.channel {
        Channel::Email | Channel::Letter if m.subject.is_none() => fail("no subject".into()),
        Channel::Email if m.html.is_none() => fail("e-mail without HTML".into()),
        Channel::Phone if m.subject.is_some() || m.html.is_some() => {
            fail("a task with a subject or HTML".into())
        }
        _ => {}
    }
    for i in &ctx.invoices {
        if !all.contains(&i.number) {
            fail(format!("does not name invoice {}", i.number));
        }
        if let Some(html) = &m.html {
            if !html.contains(&i.number) {
                fail(format!("the HTML does not name invoice {}", i.number));
            }
        }
    }
    if template != "instalment-reminder" {
        for i in &ctx.invoices {
            if !all.contains(&money(i.open_amount)) {
                fail(format!("does not show what is open on {}", i.number));
            }
        }
        if to_customer && ctx.invoices.len() > 1 && !all.contains(&money(ctx.total_open)) {
            fail("several invoices but no total open".into());
        }
        for i in ctx.invoices.iter().filter(|i| i.disputed.is_some()) {
            if !all.contains(&money(i.disputed.unwrap())) {
                fail(format!("does not say that part of {} is disputed", i.number));
            }
        }
    }
    if to_customer && !all.contains(&ctx.business.iban) {
        fail("does not say where to pay (IBAN)".into());
    }
    let money_words: &[&str] = match lang {
        Language::Nl => &["rente", "intrest", "kosten", "vergoeding"],
        Language::Fr => &["intérêt", "frais", "indemnité"],
        Language::En => &["interest", "costs", "fee", "damages"],
        Language::De => &["Zinsen", "Kosten", "Gebühr"],
    };
    for text in [Some(&all), m.html.as_ref()].into_iter().flatten() {
        if to_customer {
            for word in money_words {
                if text.to_lowercase().contains(&word.to_lowercase()) {
                    fail(format!("a care message to the customer speaks of `{word}`"));
                }
            }
        }
        if text.contains("{{") || text.contains("{%") || text.contains(" \n") {
            fail("leftover template syntax or trailing spaces".into());
        }
        if text.contains("\n\n\n") {
            fail("two blank lines in a row".into());
        }
        if text.contains("none") {
            fail("prints `none`".into());
        }
        if lang == Language::Nl && ctx.jurisdiction == Jurisdiction::Be {
            for word in ["vertragingsrente", "betalingskenmerk +++", "betalingsregeling"] {
                if text.contains(word) {
                    fail(format!("Belgian customer, Dutch term `{word}`"));
                }
            }
        }
    }
    if let Some(problem) = m.html.as_deref().and_then(list_problem) {
        fail(problem.into());
    }
}

/// Every care template renders in every language, for every channel it can go by, against
/// every context the check uses, and says what it must.
#[test]
fn every_care_template_renders_in_every_language() {
    let source = PlaybookSource::Dir(playbooks_dir());
    let mut failures = Vec::new();
    let mut rendered = 0;
    for &(template, channels) in CARE_TEMPLATES {
        for lang in Language::ALL {
            // The shipped folder has its own copy of every care template.
            assert!(
                source.read_template(lang, template).unwrap().is_some(),
                "{lang}/{template}.txt is not shipped"
            );
            for &channel in channels {
                for (k, ctx) in check::care_variants(lang, template, channel).into_iter().enumerate() {
                    let what = format!("{lang}/{template} ({}, variant {k})", channel.as_str());
                    match render_message(&source, template, &ctx) {
                        Ok(m) => {
                            rendered += 1;
                            check_care_message(template, &ctx, &m, &what, &mut failures);
                        }
                        Err(e) => failures.push(format!("{what}: {e}")),
                    }
                }
            }
        }
    }
    assert_eq!(rendered, (5 * 2 + 1) * 4 * 6);
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_care_samples_hold_what_the_messages_are_about() {
    let sample = MessageContext::sample();
    let plan = sample.payment_plan.as_ref().unwrap();
    assert_eq!(plan.instalments.len(), 3);
    assert_eq!(plan.total, sample.total_open, "the plan covers what is open");
    assert_eq!(plan.paid, plan.instalments.iter().map(|i| i.paid).sum::<Decimal>());
    assert!(plan.instalments.iter().all(|i| i.open == i.amount - i.paid));
    assert_eq!(sample.instalment.as_ref().unwrap().seq, 2);
    assert_eq!(sample.promise.as_ref().unwrap().amount, sample.total_open);
    assert_eq!(sample.dispute.as_ref().unwrap().invoice, "2026-0142");
    assert!(sample.invoices.iter().all(|i| i.disputed.is_none()), "the step sample chases everything");

    let disputed = MessageContext::sample_disputed();
    let part = &disputed.invoices[1];
    assert_eq!((part.disputed, part.open_amount), (Some(d("200.00")), d("300.00")));
    assert_eq!(part.dispute_reason.as_deref(), Some("quality"));
    assert_eq!(disputed.total_open, d("1534.56"));

    for &(template, channels) in CARE_TEMPLATES {
        let ctx = MessageContext::sample_care(template).unwrap();
        assert_eq!((ctx.step, ctx.channel), (0, channels[0]), "{template}");
        assert_eq!((ctx.interest_action, ctx.costs_action), (MoneyAction::None, MoneyAction::None));
        assert!(
            ctx.interest.is_none() && ctx.costs.is_none() && ctx.fee.is_none() && ctx.total_due.is_none()
        );
        let about = (
            ctx.promise.is_some(),
            ctx.payment_plan.is_some(),
            ctx.instalment.is_some(),
            ctx.dispute.is_some(),
        );
        let want = match template {
            "broken-promise" | "promise-confirmation" => (true, false, false, false),
            "payment-plan-confirmation" | "payment-plan-broken" => (false, true, false, false),
            "instalment-reminder" => (false, true, true, false),
            _ => (false, false, false, true),
        };
        assert_eq!(about, want, "{template}");
    }
    assert_eq!(
        MessageContext::sample_care("payment-plan-broken").unwrap().payment_plan.unwrap().missed,
        Some(2)
    );
    assert!(MessageContext::sample_care("standard-reminder-1").is_none());
}

/// The broken-promise message names the promise's date and amount (and the day it was made) as
/// the customer's language writes them, in the text and the HTML, and asks for what is open.
#[test]
fn the_broken_promise_names_the_promised_date_and_amount() {
    let source = PlaybookSource::Dir(playbooks_dir());
    for lang in Language::ALL {
        let mut ctx = MessageContext::sample_care("broken-promise").unwrap();
        ctx.customer.language = lang;
        let promise = ctx.promise.clone().unwrap();
        let m = render_message(&source, "broken-promise", &ctx).unwrap();
        let html = m.html.clone().unwrap();
        for want in [
            format_date(promise.date, lang),
            format_date(promise.made_on, lang),
            format_money(promise.amount, "EUR", lang),
            format_money(ctx.total_open, "EUR", lang),
        ] {
            assert!(m.text.contains(&want), "{lang}: `{want}` missing:\n{}", m.text);
            assert!(html.contains(&want.replace('&', "&amp;")), "{lang}: `{want}` missing:\n{html}");
        }
        let resume = match lang {
            Language::Nl => "hervatten wij",
            Language::Fr => "reprennent",
            Language::En => "resume",
            Language::De => "wieder auf",
        };
        assert!(m.text.contains(resume), "{lang}: does not say the reminders resume:\n{}", m.text);
    }
    let mut ctx = MessageContext::sample_care("broken-promise").unwrap();
    ctx.channel = Channel::Letter;
    let m = render_message(&source, "broken-promise", &ctx).unwrap();
    assert_eq!(m.subject.as_deref(), Some("Betaalafspraak niet nagekomen: facturen 2026-0117, 2026-0142"));
    assert!(m.html.is_none());
    assert!(m.text.contains(
        "Op 20 maart 2026 heeft u ons toegezegd € 1.734,56 uiterlijk op 27 maart 2026 te betalen voor de \
         facturen 2026-0117, 2026-0142."
    ));
}

/// The plan's confirmation lists every instalment with its date, amount and reference, and the
/// total, in the text and the HTML; the instalment reminder names its instalment and what is
/// left of it; the broken plan names the missed instalment.
#[test]
fn the_plan_confirmation_lists_every_instalment() {
    let source = PlaybookSource::Dir(playbooks_dir());
    for lang in Language::ALL {
        let mut ctx = MessageContext::sample_care("payment-plan-confirmation").unwrap();
        ctx.customer.language = lang;
        let plan = ctx.payment_plan.clone().unwrap();
        let m = render_message(&source, "payment-plan-confirmation", &ctx).unwrap();
        let html = m.html.clone().unwrap();
        for t in &plan.instalments {
            let (date, amount) = (format_date(t.date, lang), format_money(t.amount, "EUR", lang));
            let reference = t.payment_reference.clone().unwrap();
            let line = m.text.lines().find(|l| l.contains(&date)).unwrap_or_else(|| panic!("{lang}: {date}"));
            assert!(line.contains(&amount) && line.contains(&reference), "{lang}: `{line}`");
            assert!(line.contains(&format!(" {}", t.seq)), "{lang}: `{line}` has no number");
            for want in [&date, &amount, &reference] {
                assert!(html.contains(want.as_str()), "{lang}: `{want}` missing:\n{html}");
            }
        }
        let total = format_money(plan.total, "EUR", lang);
        assert!(m.text.contains(&total) && html.contains(&total), "{lang}: no total");
        assert!(m.text.contains(&ctx.business.iban), "{lang}");

        let mut ctx = MessageContext::sample_care("instalment-reminder").unwrap();
        ctx.customer.language = lang;
        let t = ctx.instalment.clone().unwrap();
        let m = render_message(&source, "instalment-reminder", &ctx).unwrap();
        for want in [
            format_date(t.date, lang),
            format_money(t.amount, "EUR", lang),
            format_money(t.open, "EUR", lang),
            t.payment_reference.clone().unwrap(),
            format_money(plan.instalments[2].amount, "EUR", lang),
        ] {
            assert!(
                m.subject.as_deref().unwrap_or_default().contains(&want) || m.text.contains(&want),
                "{lang}: `{want}`:\n{}",
                m.text
            );
        }

        let mut ctx = MessageContext::sample_care("payment-plan-broken").unwrap();
        ctx.customer.language = lang;
        let m = render_message(&source, "payment-plan-broken", &ctx).unwrap();
        let missed = &plan.instalments[1];
        assert!(m.text.contains(&format_date(missed.date, lang)), "{lang}:\n{}", m.text);
        assert!(m.text.contains(&format_money(ctx.total_open, "EUR", lang)), "{lang}:\n{}", m.text);
    }
}

/// A reminder whose invoice has a disputed part says, under the table of invoices, which part
/// of which invoice is disputed and why, that it is not asked for now, and shows the rest: in
/// every language, in the text and the HTML; without a dispute the table says nothing of it.
#[test]
fn a_reminder_with_a_disputed_part_says_so_and_asks_for_the_rest() {
    let set = PlaybookSet::load(PlaybookSource::Dir(playbooks_dir()), Language::Nl, &nl_law()).unwrap();
    let step = &set.playbooks["standard"].steps[1];
    assert_eq!(step.template, "standard-reminder-1");
    let said = |lang: Language| match lang {
        Language::Nl => ("betwist (reden: kwaliteit)", "onbetwiste deel"),
        Language::Fr => ("est contesté (motif : qualité)", "non contestée"),
        Language::En => ("is disputed (reason: quality)", "undisputed part"),
        Language::De => ("bestritten (Grund: Qualität)", "unbestrittene Teil"),
    };
    for lang in Language::ALL {
        let plain = context_for(step, CustomerKind::B2b, lang, true);
        let m = render_message(&set.source, &step.template, &plain).unwrap();
        assert!(!m.text.contains(said(lang).0) && !m.html.unwrap().contains(said(lang).0), "{lang}");

        let mut ctx = plain.clone();
        let dispute = ctx.dispute.clone().unwrap();
        dispute_part(&mut ctx, &dispute);
        let m = render_message(&set.source, &step.template, &ctx).unwrap();
        let html = m.html.clone().unwrap();
        let (disputed, rest) =
            (format_money(d("200.00"), "EUR", lang), format_money(d("300.00"), "EUR", lang));
        let total = format_money(plain.total_open - d("200.00"), "EUR", lang);
        for text in [&m.text, &html] {
            let (reason, undisputed) = said(lang);
            assert!(text.contains(reason) && text.contains(undisputed), "{lang}:\n{text}");
            assert!(
                text.contains(&disputed) && text.contains(&rest) && text.contains(&total),
                "{lang}:\n{text}"
            );
            assert!(text.contains("2026-0142"), "{lang}");
        }
        // The note comes under the table, before the total.
        let note = m.text.find(said(lang).0).unwrap();
        assert!(m.text.find(&rest).unwrap() < note, "{lang}:\n{}", m.text);
        assert!(html.find("</table>").unwrap() < html.find(said(lang).0).unwrap(), "{lang}");
    }
    // Exactly, in Dutch, for the customer and for a call script (a person of the business).
    let mut ctx = context_for(step, CustomerKind::B2b, Language::Nl, true);
    let dispute = ctx.dispute.clone().unwrap();
    dispute_part(&mut ctx, &dispute);
    let m = render_message(&set.source, &step.template, &ctx).unwrap();
    assert!(
        m.text.contains(
            "  factuurbedrag € 750,00, betaald € 250,00, openstaand € 300,00\n\nVan factuur 2026-0142 is € 200,00 \
             betwist (reden: kwaliteit). Dat deel vragen wij u nu niet te betalen: het openstaande bedrag dat \
             hierboven bij deze factuur staat, is het onbetwiste deel.\n\nTotaal openstaand: € 1.534,56\n"
        ),
        "{}",
        m.text
    );
    let call = set.playbooks["standard"].steps.iter().find(|s| s.channel == Channel::Phone).unwrap();
    let mut ctx = context_for(call, CustomerKind::B2b, Language::Nl, true);
    ctx.invoices[1].disputed = Some(d("200.00"));
    ctx.invoices[1].dispute_reason = Some("not-delivered".into());
    let m = render_message(&set.source, &call.template, &ctx).unwrap();
    assert!(m.text.contains("(reden: niet geleverd); dat deel wordt nu niet gevorderd."), "{}", m.text);
    // A reason of the business's own is printed as it is named.
    ctx.invoices[1].dispute_reason = Some("late-delivery".into());
    let m = render_message(&set.source, &call.template, &ctx).unwrap();
    assert!(m.text.contains("(reden: late delivery)"), "{}", m.text);
}

/// Copies the shipped playbooks into `dir`, without the care templates.
fn copy_without_care_templates(dir: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
            if entry.path().is_dir() {
                copy(&entry.path(), &to.join(&name));
            } else if !is_care_template(stem) {
                std::fs::copy(entry.path(), to.join(&name)).unwrap();
            }
        }
    }
    copy(&playbooks_dir(), dir);
}

/// A playbooks folder written before the care messages existed sends the built-in ones (text,
/// HTML and partials), says so in a note, and is no problem for `dunwell check`; its own file
/// wins once it is there, and is checked; a step's template never falls back.
#[test]
fn a_folder_without_a_care_template_falls_back_to_the_built_in_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("playbooks");
    copy_without_care_templates(&dir);
    let source = PlaybookSource::Dir(dir.clone());
    let set = PlaybookSet::load(source.clone(), Language::Nl, &nl_law()).unwrap_or_else(|p| panic!("{p}"));

    for &(template, channels) in CARE_TEMPLATES {
        for lang in [Language::Nl, Language::De] {
            let mut ctx = MessageContext::sample_care(template).unwrap();
            ctx.customer.language = lang;
            ctx.channel = channels[0];
            let ours = render_message(&set.source, template, &ctx).unwrap_or_else(|e| panic!("{e}"));
            let built_in = render_message(&PlaybookSource::Builtin, template, &ctx).unwrap();
            assert_eq!(ours, built_in, "{lang}/{template}");
            assert!(matches!(care_template_source(&source, lang, template), Ok(PlaybookSource::Builtin)));
        }
    }
    let notes = care_template_notes(&set.source, &set.languages);
    assert_eq!(notes.len(), CARE_TEMPLATES.len(), "{notes:?}");
    assert!(
        notes[0].starts_with("care template `broken-promise` comes from the built-in set in nl, fr, en, de"),
        "{notes:?}"
    );
    assert!(care_template_notes(&PlaybookSource::Dir(playbooks_dir()), &Language::ALL).is_empty());
    assert!(care_template_notes(&PlaybookSource::Builtin, &Language::ALL).is_empty());

    // The folder's own partials do not leak into the built-in message.
    std::fs::write(dir.join("templates/nl/_signature.txt"), "Groet van de eigen map\n").unwrap();
    let ctx = MessageContext::sample_care("broken-promise").unwrap();
    let m = render_message(&source, "broken-promise", &ctx).unwrap();
    assert!(!m.text.contains("eigen map") && m.text.contains("Anja van Dam"), "{}", m.text);

    // The folder's own text wins, in its language only, with the folder's partials.
    let nl = dir.join("templates/nl");
    std::fs::write(
        nl.join("broken-promise.txt"),
        "Subject: Afspraak {{ promise.date | date }}\n\nU beloofde {{ promise.amount | money }}.\n\n{% include \"_signature.txt\" %}\n",
    )
    .unwrap();
    std::fs::write(nl.join("broken-promise.html"), "<p>U beloofde {{ promise.amount | money }}.</p>\n")
        .unwrap();
    let m = render_message(&source, "broken-promise", &ctx).unwrap();
    assert_eq!(m.subject.as_deref(), Some("Afspraak 27 maart 2026"));
    assert_eq!(m.text, "U beloofde € 1.734,56.\n\nGroet van de eigen map");
    let mut en = ctx.clone();
    en.customer.language = Language::En;
    let m = render_message(&source, "broken-promise", &en).unwrap();
    assert!(m.text.contains("you promised to pay €1,734.56"), "{}", m.text);
    let set = PlaybookSet::load(source.clone(), Language::Nl, &nl_law()).unwrap();
    let notes = care_template_notes(&set.source, &set.languages);
    assert!(notes[0].contains("built-in set in fr, en, de"), "{notes:?}");

    // Its own file is checked like a step's: a misspelt variable, a missing HTML body.
    std::fs::write(nl.join("broken-promise.txt"), "Subject: x\n\nU beloofde {{ promise.amont | money }}.\n")
        .unwrap();
    let problems = PlaybookSet::load(source.clone(), Language::Nl, &nl_law()).unwrap_err().to_string();
    assert!(problems.contains("templates/nl/broken-promise.txt:3:"), "{problems}");
    assert!(problems.contains("`promise.amont | money` is not defined"), "{problems}");
    assert_eq!(problems.matches("broken-promise.txt:").count(), 1, "reported once:\n{problems}");
    std::fs::write(nl.join("broken-promise.txt"), "Subject: x\n\nU beloofde {{ promise.amount | money }}.\n")
        .unwrap();
    std::fs::remove_file(nl.join("broken-promise.html")).unwrap();
    let problems = PlaybookSet::load(source.clone(), Language::Nl, &nl_law()).unwrap_err().to_string();
    assert!(problems.contains("templates/nl/broken-promise.html"), "{problems}");
    assert!(problems.contains("no HTML body"), "{problems}");
    let err = render_message(&source, "broken-promise", &ctx).unwrap_err();
    assert!(matches!(err, TemplateError::Missing { .. }), "{err}");

    // A step's template does not fall back.
    std::fs::remove_file(nl.join("standard-reminder-1.txt")).unwrap();
    let step = MessageContext::sample();
    let err = render_message(&source, "standard-reminder-1", &step).unwrap_err();
    assert!(matches!(err, TemplateError::Missing { .. }), "{err}");
}

/// `dunwell check` renders the shipped care templates too: a broken one is reported with its
/// file and line, a broken partial they include once.
#[test]
fn the_check_renders_the_care_templates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("playbooks");
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            if entry.path().is_dir() {
                copy(&entry.path(), &to.join(entry.file_name()));
            } else {
                std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
    }
    copy(&playbooks_dir(), &dir);
    let source = PlaybookSource::Dir(dir.clone());
    PlaybookSet::load(source.clone(), Language::Nl, &nl_law()).unwrap_or_else(|p| panic!("{p}"));
    let file = dir.join("templates/fr/payment-plan-confirmation.html");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("{{ t.amount | money }}", "{{ t.amout | money }}")).unwrap();
    let line = text.lines().position(|l| l.contains("{{ t.amount | money }}")).unwrap() + 1;
    let problems = PlaybookSet::load(source.clone(), Language::Nl, &nl_law()).unwrap_err().to_string();
    assert!(
        problems.contains(&format!(
            "templates/fr/payment-plan-confirmation.html:{line}: template payment-plan-confirmation.html, line {line}: `t.amout | money` is not defined"
        )),
        "{problems}"
    );
    std::fs::write(&file, text).unwrap();
    let file = dir.join("templates/de/dispute-overdue.txt");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("Subject", "").replace("AUFGABE:", "Subject: AUFGABE:")).unwrap();
    let problems = PlaybookSet::load(source.clone(), Language::Nl, &nl_law()).unwrap_err().to_string();
    assert!(problems.contains("templates/de/dispute-overdue.txt"), "{problems}");
    assert!(problems.contains("remove the `Subject:` line"), "{problems}");
}

// ---- issue 11: terms, costs due, Boek XIX, wording ----

/// The shipped playbooks, loaded as `dunwell check` loads them.
fn shipped() -> PlaybookSet {
    PlaybookSet::load(PlaybookSource::Dir(playbooks_dir()), Language::Nl, &nl_law())
        .unwrap_or_else(|p| panic!("{p}"))
}

/// Step `template` of the shipped playbooks.
fn shipped_step<'a>(set: &'a PlaybookSet, template: &str) -> &'a Step {
    set.playbooks.values().flat_map(|p| &p.steps).find(|s| s.template == template).expect("a shipped step")
}

/// `ctx` after the term of the message of 18 March 2026 ran out on 1 April 2026.
fn after_the_term(mut ctx: MessageContext, costs_due: bool) -> MessageContext {
    ctx.expired_term = Some(ExpiredTerm { sent: day(2026, 3, 18), ended: day(2026, 4, 1), costs_due });
    ctx
}

#[test]
fn the_second_reminder_to_a_consumer_says_the_first_term_ran_out_and_the_costs_are_due() {
    // A consumer's first reminder gave 14 days and named the costs (the 14-day letter; for a
    // Belgian consumer the free reminder that starts the wait). When it ran out, the costs are
    // owed: the second reminder says so with their amount, and no longer that paying within its
    // own term avoids them.
    let set = shipped();
    for template in ["standard-reminder-2", "vip-reminder-2"] {
        let step = shipped_step(&set, template);
        let nl =
            after_the_term(context_in(step, CustomerKind::B2c, Jurisdiction::Nl, Language::Nl, false), true);
        assert_eq!(nl.costs, Some(d("185.18")), "one invoice's share of the sample's costs");
        let m = render_message(&set.source, template, &nl).unwrap();
        assert!(
            m.text.contains(
                "De termijn uit ons bericht van 18 maart 2026 is op 1 april 2026 verstreken zonder dat wij uw betaling \
                 hebben ontvangen; de incassokosten van € 185,18 (art. 6:96 BW en Besluit BIK; geen btw) zijn daarmee \
                 verschuldigd."
            ),
            "{template}: {}",
            m.text
        );
        assert!(m.text.contains("- brengen wij deze kosten in rekening;"), "{template}: {}", m.text);
        for text in [&m.text, m.html.as_ref().unwrap()] {
            assert!(!text.contains("niet verschuldigd"), "{template}: {text}");
        }
        assert!(!m.subject.as_deref().unwrap_or_default().contains("voorkom"), "{:?}", m.subject);
        let be =
            after_the_term(context_in(step, CustomerKind::B2c, Jurisdiction::Be, Language::Nl, false), true);
        let m = render_message(&set.source, template, &be).unwrap();
        assert!(
            m.text.contains(
                "is op 1 april 2026 verstreken zonder dat wij uw betaling hebben ontvangen; een forfaitaire \
                 schadevergoeding van € 185,18 (volgens onze algemene voorwaarden, Boek XIX WER; geen btw) is daarmee \
                 verschuldigd."
            ),
            "{template}: {}",
            m.text
        );
        assert!(!m.text.contains("niet verschuldigd"), "{template}: {}", m.text);
        // The other languages: the term ran out, the costs are due, nothing says they will not be.
        for (lang, expired, due, not_due) in [
            (Language::Fr, "a expiré le 1er avril 2026", "sont dès lors dus", "pas dus"),
            (Language::En, "ended on 1 April 2026", "are therefore due", "not be due"),
            (Language::De, "ist am 1. April 2026 abgelaufen", "sind damit geschuldet", "nicht an"),
        ] {
            let ctx =
                after_the_term(context_in(step, CustomerKind::B2c, Jurisdiction::Nl, lang, false), true);
            let m = render_message(&set.source, template, &ctx).unwrap();
            for text in [&m.text, m.html.as_ref().unwrap()] {
                assert!(text.contains(expired) && text.contains(due), "{lang}/{template}: {text}");
                assert!(!text.contains(not_due), "{lang}/{template}: {text}");
            }
        }
    }
    // A business's first reminder named no costs: its term ran out, but the second reminder is
    // the first to name them, with a new term that avoids them.
    let step = shipped_step(&set, "standard-reminder-2");
    let ctx =
        after_the_term(context_in(step, CustomerKind::B2b, Jurisdiction::Nl, Language::Nl, false), false);
    let m = render_message(&set.source, "standard-reminder-2", &ctx).unwrap();
    assert!(
        m.text.contains(
            "De termijn uit ons bericht van 18 maart 2026 is op 1 april 2026 verstreken zonder dat wij uw betaling \
             hebben ontvangen.\n"
        ),
        "{}",
        m.text
    );
    assert!(m.text.contains("- brengen wij incassokosten van € 185,18"), "{}", m.text);
    assert!(m.text.contains("Betaalt u binnen de genoemde termijn, dan zijn deze kosten niet verschuldigd."));
    assert!(m.subject.unwrap().ends_with(": voorkom incassokosten"));
}

#[test]
fn collection_costs_say_whether_vat_is_included() {
    // A business that cannot deduct VAT charges the BIK with VAT (21 %): the letters say so.
    let set = shipped();
    let notice = shipped_step(&set, "standard-formal-notice");
    let letter = shipped_step(&set, "standard-reminder-2");
    for (lang, applied, announced) in [
        (Language::Nl, "- Incassokosten (art. 6:96 BW en Besluit BIK; inclusief btw): € 185,18", "incassokosten van € 185,18 (art. 6:96 BW en Besluit BIK; inclusief btw)"),
        (Language::Fr, "- Frais de recouvrement (art. 6:96 du Code civil néerlandais et Besluit BIK ; TVA comprise) : 185,18 €", "des frais de recouvrement de 185,18 € (art. 6:96 du Code civil néerlandais et Besluit BIK ; TVA comprise)"),
        (Language::En, "Collection Costs Decree; including VAT): €185.18", "collection costs of €185.18 (art. 6:96 Dutch Civil Code and the Dutch Collection Costs Decree; including VAT)"),
    ] {
        let mut ctx = context_in(notice, CustomerKind::B2b, Jurisdiction::Nl, lang, false);
        ctx.costs_include_vat = true;
        let m = render_message(&set.source, &notice.template, &ctx).unwrap();
        assert!(m.text.contains(applied), "{lang}: {}", m.text);
        let mut ctx = context_in(letter, CustomerKind::B2c, Jurisdiction::Nl, lang, false);
        ctx.costs_include_vat = true;
        let m = render_message(&set.source, &letter.template, &ctx).unwrap();
        assert!(m.text.contains(announced), "{lang}: {}", m.text);
        assert!(m.html.unwrap().contains(announced), "{lang}");
        // Without it: no VAT.
        ctx.costs_include_vat = false;
        let m = render_message(&set.source, &letter.template, &ctx).unwrap();
        assert!(
            !m.text.contains("inclusief btw") && !m.text.contains("TVA comprise") && !m.text.contains("including VAT"),
            "{lang}: {}",
            m.text
        );
    }
}

#[test]
fn the_formal_notices_ask_the_court_for_the_costs_of_the_proceedings() {
    // No threat the law does not back: the costs of proceedings are the court's to award.
    let set = shipped();
    for template in ["standard-formal-notice", "vip-formal-notice", "bad-payer-formal-notice"] {
        let step = shipped_step(&set, template);
        for (lang, jurisdiction, wording) in [
            (Language::Nl, Jurisdiction::Nl, "de rechter zullen vragen u ook in de proceskosten te veroordelen"),
            (Language::Nl, Jurisdiction::Be, "de rechter zullen vragen u ook te veroordelen tot de gerechtskosten, waaronder het rolrecht en de rechtsplegingsvergoeding"),
            (Language::Fr, Jurisdiction::Be, "demanderons au juge de vous condamner également aux dépens, en ce compris les droits de mise au rôle et l'indemnité de procédure"),
            (Language::En, Jurisdiction::Nl, "ask the court to order you to pay the costs of the proceedings"),
            (Language::De, Jurisdiction::Nl, "das Gericht ersuchen werden, Sie auch zu den Gerichtskosten zu verurteilen"),
        ] {
            let ctx = context_in(step, CustomerKind::B2b, jurisdiction, lang, false);
            let text = render_message(&set.source, template, &ctx).unwrap().text;
            assert!(text.contains(wording), "{lang}/{template} ({jurisdiction}): {text}");
            assert!(!text.contains("op u verhalen") && !text.contains("zullen wij eveneens"), "{text}");
        }
    }
}

#[test]
fn the_reviews_wording_fixes_hold() {
    // letters-review §2: "Hierbij" (not the informal "Bij deze"), "sans objet" (not "nulle"),
    // "verser" (not "virer"), "Je dois toutefois" (not "Je suis tenu", which presumes a man).
    let set = shipped();
    for template in ["standard-formal-notice", "vip-formal-notice", "bad-payer-formal-notice"] {
        let step = shipped_step(&set, template);
        for jurisdiction in [Jurisdiction::Nl, Jurisdiction::Be] {
            let nl = render_message(
                &set.source,
                template,
                &context_in(step, CustomerKind::B2b, jurisdiction, Language::Nl, false),
            )
            .unwrap()
            .text;
            assert!(nl.contains("hierbij in gebreke."), "{template}: {nl}");
            assert!(!nl.contains("Bij deze") && !nl.contains("formeel in gebreke"), "{template}: {nl}");
            let fr = render_message(
                &set.source,
                template,
                &context_in(step, CustomerKind::B2b, jurisdiction, Language::Fr, false),
            )
            .unwrap()
            .text;
            assert!(fr.contains("de considérer la présente comme sans objet."), "{template}: {fr}");
            assert!(fr.contains("mettons en demeure de verser le montant total dû"), "{template}: {fr}");
            assert!(!fr.contains("nulle") && !fr.contains("virer"), "{template}: {fr}");
        }
    }
    let step = shipped_step(&set, "vip-reminder-2");
    let fr = render_message(
        &set.source,
        "vip-reminder-2",
        &context_in(step, CustomerKind::B2b, Jurisdiction::Be, Language::Fr, false),
    )
    .unwrap();
    for text in [&fr.text, fr.html.as_ref().unwrap()] {
        assert!(text.contains("Je dois toutefois vous indiquer ce qui se passera"), "{text}");
        assert!(!text.contains("Je suis tenu"), "{text}");
    }
    // And in no shipped file at all, whatever the branch.
    for (lang, words) in [
        (Language::Nl, &["Bij deze", "bij deze stellen"][..]),
        (
            Language::Fr,
            &["comme nulle", "comme nul ", "de virer", "vous prions de virer", "Je suis tenu"][..],
        ),
    ] {
        for entry in std::fs::read_dir(playbooks_dir().join("templates").join(lang.as_str())).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for w in words {
                assert!(!text.contains(w), "{}: `{w}`", path.display());
            }
        }
    }
}

#[test]
fn dutch_texts_for_belgian_customers_use_belgian_terms() {
    let set = shipped();
    let nl_be = |template: &str, kind: CustomerKind| {
        let step = shipped_step(&set, template);
        let m = render_message(
            &set.source,
            template,
            &context_in(step, kind, Jurisdiction::Be, Language::Nl, false),
        )
        .unwrap();
        format!("{}\n{}", m.subject.unwrap_or_default(), m.text)
    };
    // A +++…+++ reference is a gestructureerde mededeling, never a betalingskenmerk.
    let reminder = nl_be("standard-reminder-2", CustomerKind::B2b);
    assert!(
        reminder.contains("onder vermelding van de gestructureerde mededeling +++090/9337/55493+++"),
        "{reminder}"
    );
    assert!(!reminder.contains("betalingskenmerk"), "{reminder}");
    // The formal notice: in gebreke, verwijlintrest, rolrecht, rechtsplegingsvergoeding, and the
    // creditor's ondernemingsnummer; none of the Dutch terms.
    let notice = nl_be("standard-formal-notice", CustomerKind::B2b);
    for word in [
        "Wij stellen u hierbij in gebreke.",
        "Verwijlintrest tot en met",
        "het rolrecht en de rechtsplegingsvergoeding",
        "loopt de verwijlintrest door",
        "Ondernemingsnummer 0123.456.749, RPR Gent",
    ] {
        assert!(notice.contains(word), "`{word}`: {notice}");
    }
    for word in ["vertragingsrente", "verzuim", "proceskosten", "griffierecht", "KvK"] {
        assert!(!notice.contains(word), "`{word}`: {notice}");
    }
    // A registered letter to a Belgian customer is an aangetekende zending.
    let last = nl_be("bad-payer-final", CustomerKind::B2b);
    assert!(last.contains("een formele ingebrekestelling per aangetekende zending"), "{last}");
    // The consumer's first reminder names the creditor by its ondernemingsnummer.
    let first = nl_be("standard-reminder-1", CustomerKind::B2c);
    assert!(
        first.contains("Schuldeiser: Bakkerij Van Dam B.V., ondernemingsnummer 0123.456.749."),
        "{first}"
    );
    // The second reminder that charges interest says verwijlintrest in its subject too.
    let second = nl_be("bad-payer-reminder-2", CustomerKind::B2b);
    let subject = second.lines().next().unwrap_or_default();
    assert_eq!(subject, "Tweede herinnering factuur 2026-0117: verwijlintrest aangerekend");
    let step = shipped_step(&set, "bad-payer-reminder-2");
    let nl = render_message(
        &set.source,
        "bad-payer-reminder-2",
        &context_in(step, CustomerKind::B2b, Jurisdiction::Nl, Language::Nl, false),
    )
    .unwrap();
    assert_eq!(
        nl.subject.as_deref(),
        Some("Tweede herinnering factuur 2026-0117: rente in rekening gebracht")
    );
}

#[test]
fn the_belgian_first_reminder_names_the_creditor_once_with_one_full_stop() {
    // A name that ends in a full stop (B.V.) is not followed by a second one when no number
    // follows it; with a number the sentence ends after the number.
    let set = shipped();
    let step = shipped_step(&set, "standard-reminder-1");
    for (lang, creditor) in [
        (Language::Nl, "Schuldeiser: Bakkerij Van Dam B.V."),
        (Language::Fr, "Créancier : Bakkerij Van Dam B.V."),
        (Language::En, "Creditor: Bakkerij Van Dam B.V."),
        (Language::De, "Gläubiger: Bakkerij Van Dam B.V."),
    ] {
        let mut ctx = context_in(step, CustomerKind::B2c, Jurisdiction::Be, lang, false);
        ctx.business.company_number = None;
        ctx.business.kvk = None;
        let m = render_message(&set.source, &step.template, &ctx).unwrap();
        for text in [&m.text, m.html.as_ref().unwrap()] {
            assert!(text.contains(creditor), "{lang}: {text}");
            assert!(!text.contains("B.V.."), "{lang}: {text}");
        }
        ctx.business.name = "Bakkerij Van Dam".into();
        let m = render_message(&set.source, &step.template, &ctx).unwrap();
        assert!(m.text.contains(&format!("{}.\n", creditor.trim_end_matches(" B.V."))), "{lang}: {}", m.text);
        ctx.business.kvk = Some("12345678".into());
        let m = render_message(&set.source, &step.template, &ctx).unwrap();
        assert!(m.text.contains("12345678.\n"), "{lang}: {}", m.text);
    }
}

/// A copy of the shipped playbooks in a temporary folder, with `edit` applied to it.
fn edited_playbooks(edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            if entry.path().is_dir() {
                copy(&entry.path(), &to.join(entry.file_name()));
            } else {
                std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(&playbooks_dir(), dir.path());
    edit(dir.path());
    dir
}

/// Replaces `from` (which must be there) in a file.
fn replace_in(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no `{from}`", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn the_belgian_first_reminder_text_is_checked_whatever_the_step_says() {
    // The step's settings are right (14 days, damages and interest announced): only the text
    // decides whether the Belgian consumer read what Boek XIX WER asks.
    let set = shipped();
    let step = shipped_step(&set, "standard-reminder-1").clone();
    let check = |source: &PlaybookSource, lang: Language, part: TemplatePart| {
        let rel = match part {
            TemplatePart::Text => PlaybookSource::template_path(lang, &step.template),
            TemplatePart::Html => PlaybookSource::html_template_path(lang, &step.template),
        };
        let text = source.read_file(&rel).unwrap().unwrap();
        check_be_first_reminder_text(source, &text, &step.template, lang, &step, part)
    };
    for lang in Language::ALL {
        for part in [TemplatePart::Text, TemplatePart::Html] {
            check(&set.source, lang, part).unwrap_or_else(|e| panic!("{lang}: {e}"));
        }
    }
    // Seven days in the partial: refused, naming the term it gives.
    let dir = edited_playbooks(|d| {
        replace_in(
            &d.join("templates/nl/_be_first_reminder.txt"),
            "binnen 14 kalenderdagen",
            "binnen 7 kalenderdagen",
        )
    });
    let source = PlaybookSource::Dir(dir.path().to_path_buf());
    let err = check(&source, Language::Nl, TemplatePart::Text).unwrap_err().to_string();
    assert!(err.contains("step 2 (standard-reminder-1) is the first reminder after the due date"), "{err}");
    assert!(
        err.contains("a term of at least 14 calendar days (`14 kalenderdagen`) (it gives 7 kalenderdagen)"),
        "{err}"
    );
    assert!(err.contains("_be_first_reminder.txt"), "{err}");
    // The HTML body has its own partial, untouched; the other languages too.
    check(&source, Language::Nl, TemplatePart::Html).unwrap();
    check(&source, Language::Fr, TemplatePart::Text).unwrap();
    // No creditor line: the signature still names the business and its number, which is what
    // the law asks of the message (the check reads all of it) ...
    let without_creditor = |d: &Path| {
        let p = d.join("templates/fr/_be_first_reminder.html");
        let text = std::fs::read_to_string(&p).unwrap();
        let kept: Vec<&str> = text.lines().filter(|l| !l.contains("Créancier")).collect();
        std::fs::write(&p, kept.join("\n")).unwrap();
    };
    let dir = edited_playbooks(without_creditor);
    check(&PlaybookSource::Dir(dir.path().to_path_buf()), Language::Fr, TemplatePart::Html).unwrap();
    // ... but signed by a team instead, the message no longer gives the enterprise number.
    let dir = edited_playbooks(|d| {
        without_creditor(d);
        replace_in(
            &d.join("templates/fr/standard-reminder-1.html"),
            "{% include \"_signature.html\" %}",
            "<p>Le service comptable</p>",
        );
    });
    let source = PlaybookSource::Dir(dir.path().to_path_buf());
    let err = check(&source, Language::Fr, TemplatePart::Html).unwrap_err().to_string();
    assert!(err.contains("the creditor's enterprise number (here 0123.456.749)"), "{err}");
    // The payment instruction still names the business: only the number lacks.
    assert!(!err.contains("the creditor's name"), "{err}");
    // No damages or interest, no balance, no last day.
    let dir = edited_playbooks(|d| {
        let p = d.join("templates/en/_be_first_reminder.txt");
        replace_in(&p, "{% include \"_costs.txt\" %}", "fixed damages");
        replace_in(&p, "{% include \"_interest_basis.txt\" %}", "");
        replace_in(&p, ", that is by {{ deadline | date }} at the latest", "");
        replace_in(&p, "outstanding balance of {{ total_open | money }}", "outstanding balance");
    });
    let source = PlaybookSource::Dir(dir.path().to_path_buf());
    let err = check(&source, Language::En, TemplatePart::Text).unwrap_err().to_string();
    for missing in [
        "the term's last day",
        "the damages that will be claimed",
        "the interest that will be claimed, with its rate (here 10.5%)",
    ] {
        assert!(err.contains(missing), "`{missing}`: {err}");
    }
    // The playbooks' check reports it with the file.
    let problems = PlaybookSet::load(source, Language::Nl, &nl_law()).unwrap_err().to_string();
    assert!(
        problems.contains("templates/en/standard-reminder-1.txt: template standard-reminder-1: step 2"),
        "{problems}"
    );
    assert!(
        problems.contains("templates/en/vip-reminder-1.txt: template vip-reminder-1: step 1"),
        "{problems}"
    );
}

#[test]
fn the_salutation_names_the_customers_contact_person() {
    let set = shipped();
    let mut customer = crate::model::Customer::new("C-1042", "Hotel De Linde", CustomerKind::B2b);
    customer.contact = Some("Anne Jansen".into());
    let contact = CustomerContext::from_customer(&customer, Language::Nl);
    assert_eq!(contact.contact_name.as_deref(), Some("Anne Jansen"));
    let step = shipped_step(&set, "standard-formal-notice");
    for (lang, with, without) in [
        (Language::Nl, "Geachte Anne Jansen,", "Geachte heer, mevrouw,"),
        (Language::En, "Dear Anne Jansen,", "Dear Sir or Madam,"),
        (Language::De, "Guten Tag Anne Jansen,", "Sehr geehrte Damen und Herren,"),
        (Language::Fr, "Madame, Monsieur,", "Madame, Monsieur,"),
    ] {
        let mut ctx = context_in(step, CustomerKind::B2b, Jurisdiction::Nl, lang, false);
        ctx.customer = CustomerContext { language: lang, ..contact.clone() };
        let text = render_message(&set.source, &step.template, &ctx).unwrap().text;
        assert!(text.contains(with), "{lang}: {text}");
        assert!(!text.contains("Hotel De Linde,"), "{lang}: {text}");
        ctx.customer.contact_name = CustomerContext::from_customer(
            &crate::model::Customer::new("C-1042", "Hotel De Linde", CustomerKind::B2b),
            lang,
        )
        .contact_name;
        let text = render_message(&set.source, &step.template, &ctx).unwrap().text;
        assert!(text.contains(without), "{lang}: {text}");
    }
}
