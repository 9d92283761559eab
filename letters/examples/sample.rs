//! Writes a sample reminder letter to a PDF, to look at the layout:
//! `cargo run -p dunwell-letters --example sample -- OUT.pdf [INVOICES] [TEMPLATE.typ]`.

use dunwell_letters::{sample, InvoiceRow, Letters, DEFAULT_TEMPLATE};

fn main() {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "letter.pdf".into());
    let count: usize = args.next().map_or(3, |n| n.parse().expect("a number of invoices"));
    let template = match args.next() {
        Some(path) => std::fs::read_to_string(path).expect("a readable template"),
        None => DEFAULT_TEMPLATE.to_string(),
    };
    let mut l = sample();
    l.sender.name = "Bakkerij Één & Zonen B.V.".into();
    l.sender.address_lines = vec!["Kerkstraat 12".into(), "3511 LX Utrecht".into()];
    l.recipient = vec![
        "Brasserie François Noël".into(),
        "t.a.v. mevrouw Hélène Müller".into(),
        "Rue de la Gare 5".into(),
        "4700 Eupen".into(),
        "BELGIË".into(),
    ];
    l.place_and_date = "Utrecht, 3 maart 2026".into();
    l.subject = "Tweede herinnering: openstaande facturen".into();
    l.body = "Geachte mevrouw Müller,\n\nVolgens onze administratie zijn de onderstaande facturen nog niet \
              (volledig) betaald. Wij hebben u hierover op 12 februari al een herinnering gestuurd.\n\n\
              Wilt u het openstaande bedrag van € 3.469,12 binnen 14 dagen na dagtekening van deze brief \
              overmaken? Heeft u inmiddels betaald, dan kunt u deze brief als niet verzonden beschouwen."
        .into();
    l.invoices = (1..=count)
        .map(|n| InvoiceRow {
            number: format!("2026-{n:04}"),
            issue_date: "02-01-2026".into(),
            due_date: "01-02-2026".into(),
            amount: "€ 1.234,56".into(),
            paid: if n.is_multiple_of(2) { "€ 234,56".into() } else { "€ 0,00".into() },
            open: if n.is_multiple_of(2) { "€ 1.000,00".into() } else { "€ 1.234,56".into() },
            days_late: (30 + n).to_string(),
        })
        .collect();
    l.total = "€ 3.469,12".into();
    l.closing = "Met vriendelijke groet,\n\nJan de Vries\nDebiteurenbeheer".into();
    let p = l.payment.as_mut().unwrap();
    p.name = l.sender.name.clone();
    p.amount = "3469.12".parse().unwrap();
    p.reference = Some("+++090/9337/55493+++".into());
    let letters = Letters::new(&template).unwrap_or_else(|e| panic!("{e}"));
    let pdf = letters.render(&l).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&out, pdf).expect("writable");
    println!("{out}");
}
