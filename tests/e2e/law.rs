//! `dunwell interest` and `dunwell costs` through the real binary, on worked vectors of
//! legal-reference.md §6.

use serde_json::Value;

use crate::Env;

/// The words of a command line (none of these arguments contains a space).
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// V10: NL commercial interest on 5000.00 due 2025-09-30, paid 2025-12-29.
const V10: &str =
    "interest --jurisdiction nl --kind commercial --principal 5000.00 --from 2025-09-30 --to 2025-12-29";

#[test]
fn interest_command_gives_the_worked_vector() {
    let env = Env::new();
    let out = env.ok(&words(&format!("{V10} --format json")));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["interest"], "125.14");
    let periods = v["periods"].as_array().unwrap();
    assert!(!periods.is_empty());
    let days: i64 = periods.iter().map(|p| p["days"].as_i64().unwrap()).sum();
    assert_eq!(days, 90);
    let table = env.ok(&words(V10));
    assert!(table.starts_with("Interest: 125.14"), "{table}");
}

#[test]
fn costs_command_gives_the_worked_vectors() {
    let env = Env::new();
    // V9: NL consumer, 1000.00, creditor cannot deduct VAT: 150.00 + 21% = 181.50.
    let out = env.ok(&words(
        "costs --jurisdiction nl --kind b2c --principal 1000.00 --vat-not-deductible --format json",
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["costs"], "181.50");
    assert!(v["rule"].as_str().unwrap().contains("BIK"), "{v}");
    // V19: BE consumer, 400.00: 30.00 + 10% of 250.00 = 55.00.
    let out = env.ok(&words("costs --jurisdiction be --kind b2c --principal 400 --format json"));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["costs"], "55.00");
    let err = env.fails(&words("costs --jurisdiction nl --kind b2c --principal 1.000,00"));
    assert!(err.contains("1.000,00"), "{err}");
}
