//! `dunwell interest` and `dunwell costs`: the law module's computations on the command line.
//! The main CLI (cli.rs) embeds [`InterestArgs`] and [`CostsArgs`] as subcommands and calls
//! [`run_interest`] / [`run_costs`].

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::calendar::Jurisdiction;
use crate::law::costs::{collection_costs, CostsOptions};
use crate::law::interest::{compute_interest_with, InterestBasis, InterestKind, InterestResult};
use crate::law::{percent, round_4, show_money, Rates};
use crate::model::{parse_date, CustomerKind};

/// Output format of the law commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LawFormat {
    /// A readable table.
    #[default]
    Text,
    Json,
}

fn parse_amount_arg(s: &str) -> Result<Decimal, String> {
    let v = crate::model::parse_amount(s)?;
    if v.is_sign_negative() && !v.is_zero() {
        return Err(format!("`{s}` is negative; give the amount owed, like 1234.50"));
    }
    Ok(v)
}

fn parse_percent_arg(s: &str) -> Result<Decimal, String> {
    let t = s.trim().trim_end_matches('%');
    let v = crate::model::parse_amount(t)
        .map_err(|_| format!("`{s}` is not a percentage; write it like 21 or 9"))?;
    if v.is_sign_negative() || v >= Decimal::ONE_HUNDRED {
        return Err(format!("`{s}` is not a VAT percentage between 0 and 100"));
    }
    Ok(v / Decimal::ONE_HUNDRED)
}

/// `dunwell interest`: statutory interest for one late payment.
#[derive(Debug, Clone, clap::Args)]
pub struct InterestArgs {
    /// Jurisdiction whose law applies: nl or be.
    #[arg(long, value_name = "nl|be")]
    pub jurisdiction: Jurisdiction,
    /// commercial (B2B: NL 6:119a BW, BE Wet 2 aug 2002) or consumer (NL 6:119 BW; BE: the legal maximum).
    #[arg(long, value_name = "commercial|consumer")]
    pub kind: InterestKind,
    /// The amount paid late, like 5000.00.
    #[arg(long, value_name = "AMOUNT", value_parser = parse_amount_arg)]
    pub principal: Decimal,
    /// The due date (interest starts the day after), YYYY-MM-DD.
    #[arg(long, value_name = "DUE_DATE", value_parser = parse_date)]
    pub from: NaiveDate,
    /// The payment date (included), YYYY-MM-DD.
    #[arg(long, value_name = "PAY_DATE", value_parser = parse_date)]
    pub to: NaiveDate,
    #[arg(long, value_enum, default_value_t = LawFormat::Text)]
    pub format: LawFormat,
    /// A rate file that replaces or extends the built-in rate tables.
    #[arg(long, value_name = "PATH")]
    pub rates: Option<PathBuf>,
    /// BE only: the contract date; contracts before 2013-03-16 keep the old rate until 2015-03-15.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub contract_date: Option<NaiveDate>,
}

/// `dunwell costs`: collection costs for a principal.
#[derive(Debug, Clone, clap::Args)]
pub struct CostsArgs {
    /// Jurisdiction whose law applies: nl or be.
    #[arg(long, value_name = "nl|be")]
    pub jurisdiction: Jurisdiction,
    /// b2b (business customer) or b2c (consumer).
    #[arg(long, value_name = "b2b|b2c")]
    pub kind: CustomerKind,
    /// The principal (hoofdsom / balance due), like 1000.00.
    #[arg(long, value_name = "AMOUNT", value_parser = parse_amount_arg)]
    pub principal: Decimal,
    /// NL BIK: the creditor cannot deduct VAT, so VAT is added to the costs.
    #[arg(long)]
    pub vat_not_deductible: bool,
    /// VAT percentage used with --vat-not-deductible.
    #[arg(long, value_name = "PERCENT", default_value = "21", value_parser = parse_percent_arg)]
    pub vat_rate: Decimal,
    /// BE consumers: reminders sent after the free first one (each at most 7.50 + postage).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub later_reminders: u32,
    /// BE consumers: postage of one later reminder.
    #[arg(long, value_name = "AMOUNT", default_value = "0", value_parser = parse_amount_arg)]
    pub postage: Decimal,
    #[arg(long, value_enum, default_value_t = LawFormat::Text)]
    pub format: LawFormat,
    /// A rate file that replaces or extends the built-in rate tables.
    #[arg(long, value_name = "PATH")]
    pub rates: Option<PathBuf>,
}

fn load_rates(path: &Option<PathBuf>) -> anyhow::Result<Rates> {
    Rates::load(path.as_deref()).context("loading the rate tables")
}

/// Runs `dunwell interest`, writing the result to `out`.
pub fn run_interest(args: &InterestArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let rates = load_rates(&args.rates)?;
    let basis =
        InterestBasis { jurisdiction: args.jurisdiction, kind: args.kind, contract_date: args.contract_date };
    let result = compute_interest_with(&rates, &basis, args.principal, args.from, args.to)?;
    match args.format {
        LawFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &result)?;
            writeln!(out)?;
        }
        LawFormat::Text => write_interest_text(&result, out)?,
    }
    Ok(())
}

fn write_interest_text(r: &InterestResult, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "Interest: {}", r.interest)?;
    writeln!(out, "Rule: {}", r.rule)?;
    writeln!(
        out,
        "Principal {}, due {}, paid {}: {} interest day(s), each 1/365 of the yearly rate",
        show_money(r.principal),
        r.due_date,
        r.paid_date,
        r.days
    )?;
    if !r.periods.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{:<10}  {:<10}  {:>5}  {:>7}  {:>14}  {:>14}",
            "from", "to", "days", "rate", "base", "amount"
        )?;
        for p in &r.periods {
            writeln!(
                out,
                "{:<10}  {:<10}  {:>5}  {:>7}  {:>14}  {:>14}",
                p.from,
                p.to,
                p.days,
                percent(p.rate),
                show_money(p.base),
                round_4(p.amount)
            )?;
            if let Some(c) = r.capitalisations.iter().find(|c| p.to.succ_opt() == Some(c.date)) {
                writeln!(out, "{:<10}  capitalised: +{} (base now {})", c.date, c.amount, c.new_base)?;
            }
        }
        writeln!(
            out,
            "{:<10}  {:<10}  {:>5}  {:>7}  {:>14}  {:>14}",
            "total", "", r.days, "", "", r.interest
        )?;
    }
    for w in &r.warnings {
        writeln!(out, "note: {w}")?;
    }
    Ok(())
}

/// Runs `dunwell costs`, writing the result to `out`.
pub fn run_costs(args: &CostsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let rates = load_rates(&args.rates)?;
    let opts = CostsOptions {
        vat_not_deductible: args.vat_not_deductible,
        vat_rate: args.vat_rate,
        later_reminders: args.later_reminders,
        postage: args.postage,
    };
    let result = collection_costs(&rates, args.jurisdiction, args.kind, args.principal, &opts)?;
    match args.format {
        LawFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &result)?;
            writeln!(out)?;
        }
        LawFormat::Text => {
            writeln!(out, "Costs: {}", result.costs)?;
            writeln!(out, "Rule: {}", result.rule)?;
            writeln!(out)?;
            for line in &result.breakdown {
                writeln!(out, "  {:<60}  {:>14}", line.label, round_4(line.amount))?;
            }
            writeln!(out, "  {:<60}  {:>14}", "total, rounded half-up to cents", result.costs)?;
            for n in &result.notes {
                writeln!(out, "note: {n}")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    enum TestCli {
        Interest(InterestArgs),
        Costs(CostsArgs),
    }

    /// Runs a command line (words split on whitespace, without the `dunwell`).
    fn run(line: &str) -> anyhow::Result<String> {
        let cli = TestCli::try_parse_from(std::iter::once("dunwell").chain(line.split_whitespace()))?;
        let mut out = Vec::new();
        match cli {
            TestCli::Interest(a) => run_interest(&a, &mut out)?,
            TestCli::Costs(a) => run_costs(&a, &mut out)?,
        }
        Ok(String::from_utf8(out)?)
    }

    /// `dunwell interest` on commercial interest, the command line [`run`] takes.
    fn commercial(jurisdiction: &str, principal: &str, from: &str, to: &str) -> String {
        format!(
            "interest --jurisdiction {jurisdiction} --kind commercial \
             --principal {principal} --from {from} --to {to}"
        )
    }

    #[test]
    fn interest_command_text_and_json() {
        // V11
        let text = run(&commercial("nl", "10000.00", "2024-11-30", "2025-02-28")).unwrap();
        assert!(text.starts_with("Interest: 284.27\n"), "{text}");
        assert!(text.contains("2024-12-01  2024-12-31     31   12.25%"), "{text}");
        assert!(text.contains("104.0411") && text.contains("180.2329"), "{text}");
        let json = run(&(commercial("nl", "10000", "2016-06-30", "2018-06-30") + " --format json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["interest"], "1664.00"); // V12
        assert_eq!(v["periods"].as_array().unwrap().len(), 2);
        assert_eq!(v["capitalisations"][0]["amount"], "800.00");
        let text = run(&commercial("nl", "10000", "2016-06-30", "2018-06-30")).unwrap();
        assert!(text.contains("2017-07-01  capitalised: +800.00 (base now 10800.00)"), "{text}");
        let be = run(&(commercial("be", "1000.00", "2023-03-31", "2023-09-30") + " --format json")).unwrap();
        assert!(be.contains("\"interest\": \"56.42\""), "{be}"); // V18
    }

    #[test]
    fn costs_command_text_and_json() {
        let text =
            run("costs --jurisdiction nl --kind b2c --principal 1000.00 --vat-not-deductible").unwrap();
        assert!(text.starts_with("Costs: 181.50\n"), "{text}"); // V9
        let json = run("costs --jurisdiction be --kind b2c --principal 400 --format json").unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["costs"], "55.00"); // V19
        assert!(v["rule"].as_str().unwrap().contains("Boek XIX"));
        let json = run("costs --jurisdiction nl --kind b2c --principal 12345.67 --format json").unwrap();
        assert!(json.contains("\"costs\": \"898.46\""), "{json}"); // V6
        let nine =
            run("costs --jurisdiction nl --kind b2b --principal 1000 --vat-not-deductible --vat-rate 9%")
                .unwrap();
        assert!(nine.starts_with("Costs: 163.50\n"), "{nine}");
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let e = run("costs --jurisdiction de --kind b2c --principal 1").unwrap_err().to_string();
        assert!(e.contains("unknown jurisdiction"), "{e}");
        let e = run("costs --jurisdiction nl --kind b2c --principal 1,000.00").unwrap_err().to_string();
        assert!(e.contains("thousands separator"), "{e}");
        let e = run("interest --jurisdiction nl --kind b2x --principal 1 --from 2025-01-01 --to 2025-02-01")
            .unwrap_err()
            .to_string();
        assert!(e.contains("commercial"), "{e}");
        let e =
            run("interest --jurisdiction nl --kind consumer --principal 1 --from 2025-02-30 --to 2025-03-01")
                .unwrap_err()
                .to_string();
        assert!(e.contains("not a valid calendar date"), "{e}");
        let e = run("costs --jurisdiction nl --kind b2c --principal 100 --rates /nonexistent/rates.toml")
            .unwrap_err();
        assert!(format!("{e:#}").contains("/nonexistent/rates.toml"), "{e:#}");
    }
}
