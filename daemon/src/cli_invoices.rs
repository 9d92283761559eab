//! `dunwell invoices`: the invoices the store holds, so that a connector's author (and an
//! operator) sees what an import or a sync brought in, exactly as dunwell will chase it.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use clap::Args;
use rust_decimal::Decimal;

use crate::cli::Format;
use crate::config::Config;
use crate::store::invoices::{InvoiceFilter, ListedInvoice};
use crate::store::Store;

#[derive(Args, Debug)]
pub struct InvoicesArgs {
    /// Only the invoices of this customer (its id, the key a source gives it).
    #[arg(long, value_name = "ID")]
    pub customer: Option<String>,
    /// Only the invoices of this source: `csv` (the spreadsheet import) or a plugin's name
    /// (stored as `plugin:NAME`).
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Only the invoices with something still to pay (an open amount above zero).
    #[arg(long)]
    pub open: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run_invoices(config: &Config, args: &InvoicesArgs, out: &mut dyn Write) -> Result<()> {
    let store = Store::open(&config.database_path())?;
    let filter = InvoiceFilter {
        customer: args.customer.clone(),
        source: args.source.as_deref().map(crate::plugin::settings::source_of),
        open: args.open,
    };
    let rows = store.list_invoices(&filter)?;
    match args.format {
        // Dates as YYYY-MM-DD, amounts as exact decimal text.
        Format::Json => crate::cli::write_json(out, &rows)?,
        Format::Table if rows.is_empty() => {
            writeln!(out, "{}", nothing(&store, &filter)?)?;
        }
        Format::Table => write_table(out, &rows)?,
    }
    Ok(())
}

/// What an empty list says: which filter left nothing, and where invoices do come from.
fn nothing(store: &Store, filter: &InvoiceFilter) -> Result<String> {
    let sources = store.sources_with_invoices()?;
    if sources.is_empty() {
        return Ok(
            "no invoices in the store; bring them in with `dunwell import csv DIR` or `dunwell sync`".into()
        );
    }
    let mut what = vec![];
    if filter.open {
        what.push("open".to_string());
    }
    what.push("invoices".into());
    if let Some(c) = &filter.customer {
        what.push(format!("of customer {c}"));
    }
    if let Some(s) = &filter.source {
        what.push(format!("from {s}"));
    }
    let text = crate::text::escape(&what.join(" ")).into_owned();
    Ok(format!("no {text} in the store (it holds invoices from {})", sources.join(", ")))
}

fn write_table(out: &mut dyn Write, rows: &[ListedInvoice]) -> Result<()> {
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let i = &r.invoice;
            vec![
                crate::cli::truncate(&i.number, 40),
                crate::cli::truncate(&i.customer_id, 30),
                i.issue_date.to_string(),
                i.due_date.to_string(),
                i.currency.clone(),
                i.total.to_string(),
                i.open_amount.to_string(),
                i.paid_date.map_or_else(|| "-".into(), |d| d.to_string()),
                r.source.clone(),
            ]
        })
        .collect();
    crate::cli::write_table(
        out,
        &["NUMBER", "CUSTOMER", "ISSUED", "DUE", "CURRENCY", "TOTAL", "OPEN", "PAID", "SOURCE"],
        &table,
        None,
    )?;
    let mut open: BTreeMap<&str, (usize, Decimal)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.invoice.open_amount > Decimal::ZERO) {
        let e = open.entry(r.invoice.currency.as_str()).or_default();
        e.0 += 1;
        e.1 += r.invoice.open_amount;
    }
    let n: usize = open.values().map(|(n, _)| n).sum();
    let amounts: Vec<String> = open.iter().map(|(c, (_, a))| format!("{a} {c}")).collect();
    writeln!(
        out,
        "\n{} invoice{}, {n} open{}",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        if amounts.is_empty() { String::new() } else { format!(" ({})", amounts.join(", ")) }
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Invoice;

    fn row(number: &str, total: &str, open: &str, currency: &str, paid: Option<&str>) -> ListedInvoice {
        ListedInvoice {
            invoice: Invoice {
                number: number.into(),
                customer_id: "C1".into(),
                issue_date: "2026-01-01".parse().unwrap(),
                due_date: "2026-01-31".parse().unwrap(),
                currency: currency.into(),
                total: total.parse().unwrap(),
                open_amount: open.parse().unwrap(),
                paid_date: paid.map(|p| p.parse().unwrap()),
            },
            payment_reference: None,
            source: "plugin:mb".into(),
            source_id: "1".into(),
        }
    }

    #[test]
    fn the_table_shows_every_column_and_the_open_totals() {
        let rows = [
            row("F1", "99.90", "99.90", "EUR", None),
            row("F2\u{1b}[2J", "10.00", "0.00", "EUR", Some("2026-01-20")),
            row("F3", "5000", "5000", "JPY", None),
            row("F4", "0.10", "0.10", "EUR", None),
        ];
        let mut out = Vec::new();
        write_table(&mut out, &rows).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let cells = |l: &str| {
            l.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect::<Vec<_>>()
        };
        assert_eq!(
            cells(lines[0]),
            ["NUMBER", "CUSTOMER", "ISSUED", "DUE", "CURRENCY", "TOTAL", "OPEN", "PAID", "SOURCE"]
        );
        assert_eq!(
            cells(lines[1]),
            ["F1", "C1", "2026-01-01", "2026-01-31", "EUR", "99.90", "99.90", "-", "plugin:mb"]
        );
        assert!(lines[2].starts_with("F2\\u{1b}[2J "), "escaped: {text}");
        assert!(lines[2].contains("2026-01-20"), "{text}");
        assert_eq!(lines.last().unwrap(), &"4 invoices, 3 open (100.00 EUR, 5000 JPY)");
    }
}
