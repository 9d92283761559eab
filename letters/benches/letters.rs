//! Renders 1,000 PDF letters with one engine and prints letters per second.
//!
//! `cargo bench -p dunwell-letters` (release profile). Every letter differs (recipient,
//! invoices, amount and reference), as a day's letters do.

use std::time::Instant;

use dunwell_letters::{epc_payload, sample, InvoiceRow, Letters, DEFAULT_TEMPLATE};
use rust_decimal::Decimal;

const LETTERS: usize = 1_000;

/// A Belgian structured communication for `n`: ten digits and their mod 97.
fn ogm(n: u64) -> String {
    let base = 1_000_000_000 + n;
    let check = match base % 97 {
        0 => 97,
        r => r,
    };
    let d = format!("{base:010}{check:02}");
    format!("+++{}/{}/{}+++", &d[..3], &d[3..7], &d[7..])
}

fn main() {
    let start = Instant::now();
    let letters = Letters::new(DEFAULT_TEMPLATE).expect("the default template compiles");
    let setup = start.elapsed();

    let mut bytes = 0usize;
    let mut pages_hint = 0usize;
    let start = Instant::now();
    for i in 0..LETTERS {
        let mut l = sample();
        l.recipient[0] = format!("Klant {i} B.V.");
        l.registered = i.is_multiple_of(10);
        let count = 1 + i % 5;
        l.invoices = (0..count)
            .map(|k| InvoiceRow {
                number: format!("2026-{i:05}-{k}"),
                issue_date: "02-01-2026".into(),
                due_date: "01-02-2026".into(),
                amount: format!("€ {}.{:03},{:02}", 1 + k, i % 1000, k * 7 % 100),
                paid: "€ 0,00".into(),
                open: format!("€ {}.{:03},{:02}", 1 + k, i % 1000, k * 7 % 100),
                days_late: (10 + i % 90).to_string(),
            })
            .collect();
        pages_hint += count;
        let p = l.payment.as_mut().unwrap();
        p.amount = Decimal::new(100_000 + i as i64 * 37, 2);
        p.reference = Some(ogm(i as u64));
        epc_payload(p).expect("valid payment");
        let pdf = letters.render(&l).expect("renders");
        bytes += pdf.len();
    }
    let took = start.elapsed();
    let rate = LETTERS as f64 / took.as_secs_f64();
    println!(
        "letters: {LETTERS} PDF letters ({pages_hint} invoice rows, {:.1} KiB each on average) in {:.2} s: {rate:.0} letters/s \
         (engine set-up and template check {:.0} ms)",
        bytes as f64 / LETTERS as f64 / 1024.0,
        took.as_secs_f64(),
        setup.as_secs_f64() * 1000.0,
    );
}
