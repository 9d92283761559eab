use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::check::{sample_variants, set_amounts};
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
    LawSettings { jurisdiction: Jurisdiction::Nl, post_delay_days: 2 }
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
    let mut ctx = MessageContext::sample();
    ctx.customer.kind = kind;
    ctx.customer.language = lang;
    if kind == CustomerKind::B2c {
        ctx.customer.name = "J. Peeters".into();
        ctx.customer.country = Some("BE".into());
        ctx.customer.contact_name = None;
        ctx.fee = None;
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
        i.due_date = i.due_date + chrono::Duration::days(10);
        i.days_overdue -= 10;
    });
    ctx.invoice = ctx.invoices[0].clone();
    ctx.days_overdue = days;
    ctx.step = step.number;
    ctx.channel = step.channel;
    set_amounts(&mut ctx, step.money_for(kind));
    ctx
}

/// Every template of every shipped step renders in every language, for a business and a
/// consumer, with one invoice and with two, and says what its step must say.
#[test]
fn every_shipped_template_renders_in_every_language() {
    let set = PlaybookSet::load(PlaybookSource::Dir(playbooks_dir()), Language::Nl, &nl_law())
        .unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(set.languages, Language::ALL.to_vec());
    let mut names = BTreeSet::new();
    let mut failures = Vec::new();
    for pb in set.playbooks.values() {
        for step in &pb.steps {
            names.insert(step.template.clone());
            for lang in Language::ALL {
                for kind in [CustomerKind::B2b, CustomerKind::B2c] {
                    for several in [false, true] {
                        let ctx = context_for(step, kind, lang, several);
                        let what = format!(
                            "{lang}/{} ({}, {} invoice{})",
                            step.template,
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
                    }
                }
            }
        }
    }
    assert_eq!(names.len(), 19, "the default playbooks name 19 templates: {names:?}");
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
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
    if costs == MoneyAction::Announce && step.channel != Channel::Phone && !all.contains(fourteen_days(lang))
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
    if step.channel == Channel::Email
        || step.channel == Channel::Letter
        || step.channel == Channel::RegisteredLetter
    {
        if !all.contains(&ctx.business.iban) {
            fail("does not say where to pay (IBAN)".into());
        }
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
    let [full, consumer, sparse, several] = sample_variants(
        Language::Fr,
        step.channel,
        step.money_for(CustomerKind::B2b),
        step.money_for(CustomerKind::B2c),
    );
    assert_eq!(
        (full.invoices.len(), consumer.invoices.len(), sparse.invoices.len(), several.invoices.len()),
        (2, 1, 1, 2)
    );
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
        for entry in std::fs::read_dir(&dir).unwrap() {
            let file = entry.unwrap().file_name().to_string_lossy().into_owned();
            let used = match file.rsplit_once('.') {
                Some((stem, "txt")) => steps.iter().any(|s| s.template == stem),
                Some((stem, "html")) => steps.iter().any(|s| s.template == stem && has_html(s.channel)),
                _ => false,
            };
            assert!(used, "{lang}/{file} is not used by any playbook step");
        }
    }
}
