//! Collection costs: the NL BIK scale (Besluit vergoeding voor buitengerechtelijke
//! incassokosten, art. 2), the €40 fixed compensation for businesses (Directive 2011/7 art. 6),
//! the BE consumer damages cap and the fee for later reminders (Boek XIX WER).
//!
//! Amounts are computed exactly; the minimum and the maximum apply to the exact scale amount,
//! VAT (when the creditor cannot deduct it, NL BIK only) is added after them, and the result is
//! rounded half-up to cents once.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;

use super::rates::{BeConsumerRules, BikScale, Rates, Region};
use super::{percent, round_cents, ser_4dp, ser_money, LawError};
use crate::calendar::Jurisdiction;
use crate::model::CustomerKind;

/// The standard VAT rate in NL and BE today.
pub fn default_vat_rate() -> Decimal {
    Decimal::from_str("0.21").expect("constant")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostsOptions {
    /// NL BIK: the creditor cannot deduct or recover VAT, so the fee is raised by `vat_rate`.
    pub vat_not_deductible: bool,
    /// VAT rate as a fraction (default 0.21).
    pub vat_rate: Decimal,
    /// BE consumers: reminders sent after the free first one (each at most €7.50 + postage).
    pub later_reminders: u32,
    /// BE consumers: the postage of one later reminder.
    pub postage: Decimal,
}

impl Default for CostsOptions {
    fn default() -> Self {
        CostsOptions {
            vat_not_deductible: false,
            vat_rate: default_vat_rate(),
            later_reminders: 0,
            postage: Decimal::ZERO,
        }
    }
}

/// One line of the computation (unrounded; JSON shows 4 decimals).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CostLine {
    pub label: String,
    #[serde(serialize_with = "ser_4dp")]
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CostsResult {
    pub jurisdiction: Jurisdiction,
    pub kind: CustomerKind,
    #[serde(serialize_with = "ser_money")]
    pub principal: Decimal,
    /// The costs, rounded half-up to cents.
    #[serde(serialize_with = "ser_money")]
    pub costs: Decimal,
    /// Which rule applied, in words.
    pub rule: String,
    /// VAT included in `costs` (zero when none was added).
    #[serde(serialize_with = "ser_money")]
    pub vat: Decimal,
    pub breakdown: Vec<CostLine>,
    pub notes: Vec<String>,
}

/// The BIK scale amount for `principal`, exact, before minimum and maximum, with one line per
/// bracket used.
pub fn bik_scale(scale: &BikScale, principal: Decimal) -> (Decimal, Vec<CostLine>) {
    let mut total = Decimal::ZERO;
    let mut lines = Vec::new();
    for b in &scale.brackets {
        if principal <= b.from {
            break;
        }
        let top = b.to.map_or(principal, |t| t.min(principal));
        let part = top - b.from;
        let amount = part * b.rate;
        total += amount;
        lines.push(CostLine {
            label: format!("{} of {} (the part from {} to {})", percent(b.rate), part, b.from, top),
            amount,
        });
    }
    (total, lines)
}

/// The BE consumer damages cap for a balance, exact (before rounding).
pub fn be_consumer_damages_cap(rules: &BeConsumerRules, balance: Decimal) -> (Decimal, String) {
    let band = rules
        .damages_bands
        .iter()
        .find(|b| b.balance_to.is_none_or(|t| balance <= t))
        .or(rules.damages_bands.last())
        .expect("validated: at least one band");
    let mut amount = band.fixed + band.rate * (balance - band.over).max(Decimal::ZERO);
    let mut label = if band.rate.is_zero() {
        format!("balance up to {}: fixed {}", band.balance_to.unwrap_or(balance), band.fixed)
    } else {
        format!("{} + {} of the part above {}", band.fixed, percent(band.rate), band.over)
    };
    if let Some(cap) = band.cap {
        if amount > cap {
            amount = cap;
            label.push_str(&format!(", capped at {cap}"));
        }
    }
    (amount, label)
}

fn describe_band(b: &super::rates::DamagesBand) -> String {
    let range = match b.balance_to {
        Some(to) => format!("balance {} to {}", b.balance_from, to),
        None => format!("balance from {}", b.balance_from),
    };
    let mut s = if b.rate.is_zero() {
        format!("{range}: {}", b.fixed)
    } else {
        format!("{range}: {} + {} of the part above {}", b.fixed, percent(b.rate), b.over)
    };
    if let Some(cap) = b.cap {
        s.push_str(&format!(", at most {cap}"));
    }
    s
}

/// The most a BE trader may charge for one reminder after the free first one.
pub fn be_later_reminder_fee_max(rules: &BeConsumerRules, postage: Decimal) -> Decimal {
    rules.extra_reminder_fee_max + postage
}

/// The collection costs for a claim of `principal` (for BE consumers: the legal maximum of the
/// damages for that balance, plus the later-reminder fees asked for in `opts`).
pub fn collection_costs(
    rates: &Rates,
    jurisdiction: Jurisdiction,
    kind: CustomerKind,
    principal: Decimal,
    opts: &CostsOptions,
) -> Result<CostsResult, LawError> {
    if principal <= Decimal::ZERO {
        return Err(LawError::NotPositive { what: "the principal", amount: principal });
    }
    if opts.vat_rate.is_sign_negative() || opts.vat_rate >= Decimal::ONE {
        return Err(LawError::Invalid(format!(
            "VAT rate {} is not a fraction between 0 and 1; write 0.21 for 21%",
            opts.vat_rate
        )));
    }
    if opts.postage.is_sign_negative() && !opts.postage.is_zero() {
        return Err(LawError::Negative { what: "the postage", amount: opts.postage });
    }
    let mut notes = Vec::new();
    let mut breakdown;
    let mut vat = Decimal::ZERO;
    let rule;
    let costs;
    match (jurisdiction, kind) {
        (Jurisdiction::Nl, _) => {
            let scale = &rates.bik;
            let (raw, lines) = bik_scale(scale, principal);
            breakdown = lines;
            let mut amount = raw;
            let mut applied = String::new();
            if amount < scale.minimum {
                amount = scale.minimum;
                applied = format!(", raised to the minimum of {}", scale.minimum);
                breakdown.push(CostLine {
                    label: format!("scale total {} is below the minimum", raw),
                    amount: scale.minimum - raw,
                });
            } else if amount > scale.maximum {
                amount = scale.maximum;
                applied = format!(", capped at the maximum of {}", scale.maximum);
                breakdown.push(CostLine {
                    label: format!("scale total {} is above the maximum", raw),
                    amount: scale.maximum - raw,
                });
            }
            if opts.vat_not_deductible {
                vat = amount * opts.vat_rate;
                breakdown.push(CostLine {
                    label: format!("VAT {} (the creditor cannot deduct VAT)", percent(opts.vat_rate)),
                    amount: vat,
                });
                amount += vat;
                applied.push_str(&format!(
                    ", plus {} VAT because the creditor cannot deduct it (art. 2 lid 3)",
                    percent(opts.vat_rate)
                ));
            }
            costs = round_cents(amount);
            vat = round_cents(vat);
            let steps = scale
                .brackets
                .iter()
                .map(|b| percent(b.rate).trim_end_matches('%').to_string())
                .collect::<Vec<_>>()
                .join("/");
            rule = match kind {
                CustomerKind::B2c => format!(
                    "NL consumer: BIK scale (Besluit BIK art. 2: {steps}% of the principal, minimum {}, maximum {}){applied}; chargeable only after a 14-day letter that names this amount (art. 6:96 lid 6 BW)",
                    scale.minimum, scale.maximum
                ),
                CustomerKind::B2b => format!(
                    "NL business: BIK scale (Besluit BIK art. 2: {steps}% of the principal, the default for businesses, HR 10-07-2015), minimum {}, maximum {}{applied}; never less than the {} fixed compensation (art. 6:96 BW, Directive 2011/7 art. 6)",
                    scale.minimum,
                    scale.maximum,
                    rates.fixed_compensation_for(Region::Nl).unwrap_or(scale.minimum)
                ),
            };
            if kind == CustomerKind::B2b {
                if let Some(fixed) = rates.fixed_compensation_for(Region::Nl) {
                    if costs < fixed {
                        // Only reachable with an override whose BIK minimum is below the €40.
                        notes.push(format!("raised to the fixed compensation of {fixed}"));
                        return Ok(CostsResult {
                            jurisdiction,
                            kind,
                            principal,
                            costs: round_cents(fixed),
                            rule,
                            vat,
                            breakdown,
                            notes,
                        });
                    }
                }
            }
            if opts.later_reminders > 0 {
                notes.push("later-reminder fees are a BE consumer rule; ignored for NL".into());
            }
        }
        (Jurisdiction::Be, CustomerKind::B2b) => {
            let fixed = rates.fixed_compensation_for(Region::Be).ok_or_else(|| {
                LawError::Invalid("the rate tables have no BE or EU fixed compensation".into())
            })?;
            breakdown =
                vec![CostLine { label: "fixed compensation for recovery costs".into(), amount: fixed }];
            costs = round_cents(fixed);
            rule = format!(
                "BE business: fixed compensation of {fixed} for recovery costs (Wet 2 augustus 2002 art. 6, Directive 2011/7 art. 6), due without a reminder; higher proven costs may be claimed on top"
            );
            if opts.vat_not_deductible {
                notes.push("the VAT gross-up is a rule of the NL BIK decree; a compensation is not subject to VAT, so none was added".into());
            }
            if opts.later_reminders > 0 {
                notes.push("later-reminder fees are a BE consumer rule; ignored for businesses".into());
            }
        }
        (Jurisdiction::Be, CustomerKind::B2c) => {
            let rules = &rates.be_consumer;
            let (damages, label) = be_consumer_damages_cap(rules, principal);
            breakdown = vec![CostLine { label: format!("damages cap: {label}"), amount: damages }];
            let mut amount = damages;
            let mut fees = String::new();
            if opts.later_reminders > 0 {
                let each = be_later_reminder_fee_max(rules, opts.postage);
                let total = each * Decimal::from(opts.later_reminders);
                breakdown.push(CostLine {
                    label: format!(
                        "{} later reminder(s) at most {} + {} postage each",
                        opts.later_reminders, rules.extra_reminder_fee_max, opts.postage
                    ),
                    amount: total,
                });
                amount += total;
                fees = format!(
                    ", plus at most {} + postage for each of the {} reminder(s) after the free first one",
                    rules.extra_reminder_fee_max, opts.later_reminders
                );
            }
            costs = round_cents(amount);
            let bands = rules.damages_bands.iter().map(describe_band).collect::<Vec<_>>().join("; ");
            rule = format!(
                "BE consumer: legal maximum of the damages (Boek XIX WER): {bands}{fees}; only if the contract stipulates it reciprocally, and only after the free first reminder and its 14-day wait"
            );
            if opts.vat_not_deductible {
                notes.push("the VAT gross-up is a rule of the NL BIK decree; damages are not subject to VAT, so none was added".into());
            }
        }
    }
    Ok(CostsResult { jurisdiction, kind, principal, costs, rule, vat, breakdown, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }
    fn rates() -> Rates {
        Rates::shipped().unwrap()
    }
    fn costs(
        jurisdiction: Jurisdiction,
        kind: CustomerKind,
        principal: &str,
        opts: &CostsOptions,
    ) -> Result<CostsResult, LawError> {
        collection_costs(&rates(), jurisdiction, kind, dec(principal), opts)
    }
    fn nl(principal: &str, kind: CustomerKind) -> Decimal {
        costs(Jurisdiction::Nl, kind, principal, &CostsOptions::default()).unwrap().costs
    }
    fn bik(principal: &str) -> Decimal {
        nl(principal, CustomerKind::B2c)
    }
    fn be_c(principal: &str) -> Decimal {
        costs(Jurisdiction::Be, CustomerKind::B2c, principal, &CostsOptions::default()).unwrap().costs
    }

    #[test]
    fn v1_to_v8_bik_scale() {
        assert_eq!(bik("100.00"), dec("40.00")); // V1 [H]
        assert_eq!(bik("266.66"), dec("40.00")); // V2 [H]
        assert_eq!(bik("266.67"), dec("40.00")); // V2 [H] (40.0005 rounds to 40.00)
        assert_eq!(bik("1000.00"), dec("150.00")); // V3 [H]
        assert_eq!(bik("3000.00"), dec("425.00")); // V4 [H]
        assert_eq!(bik("10000.00"), dec("875.00")); // V5 [H]
        assert_eq!(bik("12345.67"), dec("898.46")); // V6 [H]
        assert_eq!(bik("200000.00"), dec("2775.00")); // V7 [H]
        assert_eq!(bik("1000000.00"), dec("6775.00")); // V8 [H]
        assert_eq!(bik("2000000.00"), dec("6775.00")); // V8 [H]
        assert_eq!(bik("100.00").to_string(), "40.00");
    }

    #[test]
    fn v9_vat_added_when_not_deductible() {
        // V9 [M]: 150.00 x 1.21 = 181.50
        let opts = CostsOptions { vat_not_deductible: true, ..CostsOptions::default() };
        let r = costs(Jurisdiction::Nl, CustomerKind::B2c, "1000.00", &opts).unwrap();
        assert_eq!(r.costs, dec("181.50"));
        assert_eq!(r.vat, dec("31.50"));
        assert!(r.rule.contains("VAT"));
        // VAT comes after the minimum and the maximum.
        assert_eq!(costs(Jurisdiction::Nl, CustomerKind::B2c, "10", &opts).unwrap().costs, dec("48.40"));
        assert_eq!(
            costs(Jurisdiction::Nl, CustomerKind::B2c, "5000000", &opts).unwrap().costs,
            dec("8197.75")
        );
        // Configurable rate (e.g. 9%).
        let low = CostsOptions { vat_not_deductible: true, vat_rate: dec("0.09"), ..CostsOptions::default() };
        assert_eq!(costs(Jurisdiction::Nl, CustomerKind::B2c, "1000", &low).unwrap().costs, dec("163.50"));
        let bad = CostsOptions { vat_rate: dec("21"), ..CostsOptions::default() };
        assert!(costs(Jurisdiction::Nl, CustomerKind::B2c, "1000", &bad).is_err());
    }

    #[test]
    fn both_sides_of_every_bik_bracket() {
        // minimum: 15% x 266.666.. = 40
        assert_eq!(bik("266.60"), dec("40.00"));
        assert_eq!(bik("266.70"), dec("40.01"));
        assert_eq!(bik("2499.99"), dec("375.00")); // 374.9985
        assert_eq!(bik("2500.00"), dec("375.00"));
        assert_eq!(bik("2500.01"), dec("375.00")); // 375.001
        assert_eq!(bik("2500.10"), dec("375.01"));
        assert_eq!(bik("4999.99"), dec("625.00")); // 624.999
        assert_eq!(bik("5000.00"), dec("625.00"));
        assert_eq!(bik("5000.20"), dec("625.01"));
        assert_eq!(bik("9999.90"), dec("875.00")); // 874.995 -> half up
        assert_eq!(bik("9999.80"), dec("874.99"));
        assert_eq!(bik("10001.00"), dec("875.01"));
        assert_eq!(bik("199999.00"), dec("2774.99"));
        assert_eq!(bik("200002.00"), dec("2775.01"));
        // maximum at exactly 1,000,000
        assert_eq!(bik("999998.00"), dec("6774.99"));
        assert_eq!(bik("1000002.00"), dec("6775.00"));
        assert!(costs(Jurisdiction::Nl, CustomerKind::B2c, "0", &CostsOptions::default()).is_err());
    }

    #[test]
    fn nl_business_scale_with_40_minimum() {
        assert_eq!(nl("100", CustomerKind::B2b), dec("40.00"));
        assert_eq!(nl("3000", CustomerKind::B2b), dec("425.00"));
        let r = costs(Jurisdiction::Nl, CustomerKind::B2b, "100", &CostsOptions::default()).unwrap();
        assert!(r.rule.contains("fixed compensation"), "{}", r.rule);
    }

    #[test]
    fn v18_be_business_fixed_40() {
        // V18 [M]: interest 56.42 + 40 fixed = 96.42 total extra
        let r = costs(Jurisdiction::Be, CustomerKind::B2b, "1000.00", &CostsOptions::default()).unwrap();
        assert_eq!(r.costs, dec("40.00"));
        let interest = crate::law::compute_interest(
            &rates(),
            Jurisdiction::Be,
            crate::law::InterestKind::Commercial,
            dec("1000.00"),
            "2023-03-31".parse().unwrap(),
            "2023-09-30".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(interest.interest + r.costs, dec("96.42"));
    }

    #[test]
    fn v19_be_consumer_damages_cap() {
        // V19 [M]
        assert_eq!(be_c("100"), dec("20.00"));
        assert_eq!(be_c("150"), dec("20.00"));
        assert_eq!(be_c("400"), dec("55.00"));
        assert_eq!(be_c("500"), dec("65.00"));
        assert_eq!(be_c("1000"), dec("90.00"));
        assert_eq!(be_c("39200"), dec("2000.00"));
        assert_eq!(be_c("50000"), dec("2000.00"));
    }

    #[test]
    fn be_band_boundaries() {
        assert_eq!(be_c("0.01"), dec("20.00"));
        assert_eq!(be_c("150.00"), dec("20.00"));
        assert_eq!(be_c("150.01"), dec("30.00")); // 30.001
        assert_eq!(be_c("150.05"), dec("30.01")); // 30.005 half up
        assert_eq!(be_c("499.99"), dec("65.00")); // 64.999
        assert_eq!(be_c("500.00"), dec("65.00"));
        assert_eq!(be_c("500.01"), dec("65.00")); // 65.0005
        assert_eq!(be_c("500.10"), dec("65.01")); // 65.005
        assert_eq!(be_c("39199.80"), dec("1999.99"));
        assert_eq!(be_c("39200.20"), dec("2000.00"));
    }

    #[test]
    fn be_later_reminder_fees() {
        let opts = CostsOptions { later_reminders: 2, postage: dec("1.96"), ..CostsOptions::default() };
        let r = costs(Jurisdiction::Be, CustomerKind::B2c, "400", &opts).unwrap();
        // 55.00 + 2 x (7.50 + 1.96)
        assert_eq!(r.costs, dec("73.92"));
        assert_eq!(be_later_reminder_fee_max(&rates().be_consumer, dec("1.96")), dec("9.46"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["costs"], "73.92");
        assert!(json["rule"].as_str().unwrap().starts_with("BE consumer"));
    }
}
