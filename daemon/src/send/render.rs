//! Rendering one message of a group: the customer's language, the template of the lead step,
//! the recipient for the channel.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::{Group, Inputs};
use crate::config::Config;
use crate::model::{Customer, Language};
use crate::playbook::{Channel, PlaybookSet};
use crate::template::{
    self, BusinessContext, ContactContext, CustomerContext, InvoiceContext, MessageContext,
};

/// A rendered message, before it is written to the outbox (what `--dry-run` and `preview`
/// show).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Draft {
    pub customer_id: String,
    pub customer_name: String,
    pub channel: String,
    pub template: String,
    pub language: Language,
    /// E-mail address, phone number, or the postal address lines joined by newlines.
    pub recipient: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    pub html: Option<String>,
    pub invoices: Vec<String>,
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
    pub currency: String,
    pub requires_approval: bool,
    /// A letter's PDF (not shown in JSON).
    #[serde(skip)]
    pub pdf: Option<Vec<u8>>,
    /// An agency handoff's case data: the customer, the invoices with their amounts, the
    /// summary (what the case file is built from at delivery).
    #[serde(skip)]
    pub case: Option<serde_json::Value>,
}

/// The part of an agency case file known when the handoff is written: who owes what, with
/// interest and costs as the message states them.
fn case_data(customer: &Customer, ctx: &MessageContext, summary: &str) -> serde_json::Value {
    serde_json::json!({
        "creditor": ctx.business,
        "contact": ctx.contact,
        "debtor": customer,
        "day": ctx.today,
        "currency": ctx.invoice.currency,
        "invoices": ctx.invoices,
        "total_open": ctx.total_open.to_string(),
        "interest": ctx.interest.map(|d| d.to_string()),
        "costs": ctx.costs.map(|d| d.to_string()),
        "fees": ctx.fee.map(|d| d.to_string()),
        "total_due": ctx.total_due.map(|d| d.to_string()),
        "payment_reference": ctx.payment_reference,
        "summary": summary,
    })
}

/// The language a customer is written to in: theirs when the playbooks have it, else the
/// business's default.
fn language(customer: &Customer, config: &Config, playbooks: &PlaybookSet) -> Language {
    customer.language.filter(|l| playbooks.languages.contains(l)).unwrap_or(config.default_language)
}

/// Where the channel delivers to, from the customer's data.
fn recipient(customer: &Customer, channel: Channel) -> Option<String> {
    match channel {
        Channel::Email => customer.email.clone(),
        Channel::Sms | Channel::Phone => customer.phone.clone(),
        Channel::Letter | Channel::RegisteredLetter => {
            let lines = address_lines(customer);
            (lines.len() >= 3).then(|| lines.join("\n"))
        }
        Channel::Agency => None,
    }
}

pub(super) fn draft(
    config: &Config,
    playbooks: &PlaybookSet,
    inputs: &Inputs,
    customer: &Customer,
    group: &Group<'_>,
    at: NaiveDate,
    lang: Option<Language>,
    letters: Option<&dunwell_letters::Letters>,
) -> Result<Draft, String> {
    let lead = group.lead();
    let lang = lang.unwrap_or_else(|| language(customer, config, playbooks));
    // A message of working with the customer (a broken promise, an instalment) has no step.
    let care = lead.kind != crate::plan::ActionKind::Step;
    let step = if care {
        None
    } else {
        let step = playbooks
            .step(&lead.segment, lead.step)
            .ok_or_else(|| format!("playbook {} has no step {}", lead.segment, lead.step))?;
        // A group on another channel than its step's is the step's fallback.
        if group.channel == step.channel {
            Some(step.clone())
        } else {
            Some(step.fallback().filter(|f| f.channel == group.channel).ok_or_else(|| {
                format!(
                    "step {} of playbook {} has no fallback through {}",
                    lead.step,
                    lead.segment,
                    group.channel.as_str()
                )
            })?)
        }
    };
    let mut invoices = Vec::with_capacity(group.actions.len());
    for a in &group.actions {
        let inv = inputs
            .invoice(&a.invoice_number)
            .ok_or_else(|| format!("invoice {} is gone", a.invoice_number))?;
        let mut i = InvoiceContext::from_invoice(inv, at);
        (i.interest, i.costs, i.total_due, i.payment_reference) =
            (a.interest, a.costs, a.total_due, a.payment_reference.clone());
        if let Some(d) = a.disputed {
            i.open_amount = a.open_amount;
            i.disputed = Some(d);
            i.dispute_reason = inputs
                .care
                .book
                .disputes
                .iter()
                .find(|x| x.invoice == a.invoice_number)
                .map(|x| x.reason.clone());
        }
        invoices.push(i);
    }
    let lead_index = group.actions.iter().position(|a| std::ptr::eq(*a, lead)).unwrap_or(0);
    let business = &config.business;
    let mut customer_ctx = CustomerContext::from_customer(customer, config.default_language);
    customer_ctx.language = lang;
    let ctx = MessageContext::new(
        BusinessContext::from_business(business),
        ContactContext::default(),
        customer_ctx,
        invoices,
        lead_index,
        at,
    )
    .map_err(|e| e.to_string())?;
    let mut ctx = match &step {
        Some(step) => ctx.for_step(step),
        None => ctx.for_care(group.channel),
    };
    if care {
        super::care::describe(inputs, lead, &mut ctx);
    }
    ctx.fee = lead.fee;
    ctx.contact = ContactContext {
        name: business.contact_name.clone(),
        phone: business.contact_phone.clone(),
        email: business.contact_email.clone(),
    };
    // What the plan worked out for the lead invoice: whose law, the rate and its basis, the
    // term this message gives and the one that ran out.
    ctx.jurisdiction = lead.jurisdiction;
    ctx.interest_rate = lead.interest_rate.filter(|_| ctx.interest.is_some());
    ctx.interest_basis = lead.interest_basis.filter(|_| ctx.interest.is_some()).map(str::to_string);
    ctx.costs_include_vat = lead.jurisdiction == crate::calendar::Jurisdiction::Nl && !config.vat_deductible;
    ctx.deadline = lead.deadline;
    ctx.expired_term = lead.expired_term.map(|t| template::ExpiredTerm {
        sent: t.sent,
        ended: t.ends,
        costs_due: lead.costs_due,
    });
    aggregate_costs(lead.jurisdiction, inputs, &mut ctx)?;
    let template_name = step.as_ref().map_or(lead.template.as_str(), |s| s.template.as_str());
    let rendered =
        template::render_message(&playbooks.source, template_name, &ctx).map_err(|e| e.to_string())?;
    let total = ctx.total_due.unwrap_or(ctx.total_open);
    let recipient = recipient(customer, group.channel);
    // A payment plan's confirmation carries the letter with a QR code per instalment.
    let as_letter = matches!(group.channel, Channel::Letter | Channel::RegisteredLetter)
        || step.as_ref().is_some_and(|s| s.attach_letter)
        || lead.kind == crate::plan::ActionKind::PlanConfirmation;
    let pdf = match (as_letter, letters) {
        (true, Some(engine)) => Some(letter_pdf(
            engine,
            config,
            customer,
            &ctx,
            rendered.subject.as_deref().unwrap_or_default(),
            &rendered.text,
            total,
        )?),
        _ => None,
    };
    let case = (group.channel == Channel::Agency).then(|| case_data(customer, &ctx, &rendered.text));
    Ok(Draft {
        customer_id: customer.id.clone(),
        customer_name: customer.name.clone(),
        channel: group.channel.as_str().to_string(),
        template: template_name.to_string(),
        language: lang,
        recipient,
        subject: rendered.subject,
        body: rendered.text,
        html: rendered.html,
        invoices: group.actions.iter().map(|a| a.invoice_number.clone()).collect(),
        total,
        currency: ctx.invoice.currency.clone(),
        requires_approval: lead.requires_approval,
        case,
        pdf,
    })
}

/// The letter's PDF: the business as sender, the customer's address in the window, the body
/// of the step's template, the table of invoices, and (in euro) the payment block with the EPC
/// QR code and the structured reference of a single invoice.
fn letter_pdf(
    engine: &dunwell_letters::Letters,
    config: &Config,
    customer: &Customer,
    ctx: &MessageContext,
    subject: &str,
    body: &str,
    total: Decimal,
) -> Result<Vec<u8>, String> {
    let lang = ctx.customer.language;
    let money = |d: Decimal| template::format_money(d, &ctx.invoice.currency, lang);
    let b = &config.business;
    let a = &customer.address;
    let mut recipient = address_lines(customer);
    let home = config.jurisdiction.country();
    if let Some(country) = a.country.as_deref().filter(|c| *c != home) {
        recipient.push(country_name(country).to_string());
    }
    let mut labels = dunwell_letters::Labels::for_lang(lang.as_str())
        .ok_or_else(|| format!("no letter labels for language {lang}"))?;
    // A Belgian `+++…+++` reference is a structured communication, anything else a reference.
    let structured = ctx.payment_reference.as_deref().is_some_and(|r| r.starts_with("+++"));
    labels.reference = match (lang, structured) {
        (Language::Nl, true) => "Gestructureerde mededeling",
        (Language::Nl, false) => "Betalingskenmerk",
        (Language::Fr, true) => "Communication structurée",
        (Language::Fr, false) => "Référence",
        (Language::En, true) => "Structured communication",
        (Language::En, false) => "Payment reference",
        (Language::De, true) => "Strukturierte Mitteilung",
        (Language::De, false) => "Zahlungsreferenz",
    }
    .to_string();
    let bic = b.bic.clone().filter(|s| !s.trim().is_empty());
    let payment =
        (ctx.invoice.currency == "EUR" && total > Decimal::ZERO).then(|| dunwell_letters::Payment {
            name: b.name.chars().take(70).collect(),
            iban: b.iban.replace(' ', ""),
            bic: bic.clone(),
            amount: total.round_dp(2),
            reference: ctx.payment_reference.clone(),
            text: match &ctx.payment_reference {
                Some(_) => None,
                None => Some(
                    ctx.invoices
                        .iter()
                        .map(|i| i.number.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                        .chars()
                        .take(140)
                        .collect(),
                ),
            },
            info: None,
        });
    // A payment plan's confirmation: a QR code per instalment still to pay, each for its own
    // amount (the customer pays per instalment, not the total).
    let instalments: Vec<dunwell_letters::InstalmentPayment> = match (&ctx.payment_plan, &payment) {
        (Some(plan), Some(base)) if ctx.instalment.is_none() => plan
            .instalments
            .iter()
            .filter(|i| i.open > Decimal::ZERO)
            .map(|i| {
                // Rounded once, the way the text prints it, so text and code ask the same sum.
                let amount =
                    i.open.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
                let reference = i.payment_reference.clone().or_else(|| base.reference.clone());
                dunwell_letters::InstalmentPayment {
                    label: String::new(),
                    due_date: template::format_date(i.date, lang),
                    amount: money(amount),
                    payment: dunwell_letters::Payment {
                        amount,
                        // EPC069-12: a structured reference or a text, never both.
                        text: if reference.is_some() { None } else { base.text.clone() },
                        reference,
                        ..base.clone()
                    },
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    let total_label = match lang {
        Language::Nl => "Totaal openstaand",
        Language::Fr => "Total restant dû",
        Language::En => "Total outstanding",
        Language::De => "Offener Gesamtbetrag",
    };
    let (letter_body, closing) = split_closing(body, &b.name);
    let letter = dunwell_letters::Letter {
        lang: lang.as_str().to_string(),
        sender: dunwell_letters::Sender {
            name: sender_name(&ctx.business),
            address_lines: b.address.split(", ").map(str::to_string).filter(|l| !l.is_empty()).collect(),
            registration: registration_lines(&ctx.business, lang),
            iban: b.iban.replace(' ', ""),
            bic,
            email: ctx.contact.email.clone().filter(|s| !s.trim().is_empty()),
            phone: ctx.contact.phone.clone().filter(|s| !s.trim().is_empty()),
        },
        recipient,
        place_and_date: template::format_date(ctx.today, lang),
        subject: subject.to_string(),
        body: letter_body,
        invoices: ctx
            .invoices
            .iter()
            .map(|i| dunwell_letters::InvoiceRow {
                number: i.number.clone(),
                issue_date: template::format_date(i.issue_date, lang),
                due_date: template::format_date(i.due_date, lang),
                amount: money(i.total),
                paid: money(i.paid),
                open: money(i.open_amount),
                days_late: i.days_overdue.max(0).to_string(),
            })
            .collect(),
        total_label: total_label.to_string(),
        total: money(ctx.total_open),
        closing,
        labels,
        payment: if instalments.is_empty() { payment } else { None },
        registered: ctx.channel == Channel::RegisteredLetter,
        instalments,
    };
    engine
        .render(&letter)
        .map_err(|e| format!("the letter to customer {} cannot be laid out: {e}", customer.id))
}

/// The business's name as the letterhead prints it: with its legal form, unless the name
/// already ends with it.
fn sender_name(b: &BusinessContext) -> String {
    match &b.legal_form {
        Some(form) if !b.name.trim_end().ends_with(form.as_str()) => format!("{} {form}", b.name),
        _ => b.name.clone(),
    }
}

/// The registration lines of the letterhead and footer, labelled in the letter's language:
/// `KvK 12345678` (Handelsregisterwet art. 27), `Ondernemingsnummer 0123.456.749 · RPR Gent`
/// (WER art. III.25), `Btw-nummer NL123456789B01`.
fn registration_lines(b: &BusinessContext, lang: Language) -> Vec<String> {
    let (company, vat) = match lang {
        Language::Nl => ("Ondernemingsnummer", "Btw-nummer"),
        Language::Fr => ("Numéro d'entreprise", "TVA"),
        Language::En => ("Company number", "VAT"),
        Language::De => ("Unternehmensnummer", "MwSt.-Nr."),
    };
    let mut lines = Vec::new();
    if let Some(kvk) = &b.kvk {
        lines.push(format!("KvK {kvk}"));
    }
    if let Some(number) = &b.company_number {
        lines.push(match &b.rpr {
            Some(rpr) => format!("{company} {number} · {rpr}"),
            None => format!("{company} {number}"),
        });
    }
    if let Some(v) = &b.vat_number {
        lines.push(format!("{vat} {v}"));
    }
    lines
}

/// Splits a letter's text into the body and its closing (the greeting and the signature), so
/// the letter can put the table of invoices and the payment block between them: the signature
/// comes last on paper. The signature is the trailing run of paragraphs from the one with a
/// line that is the business's name (maybe with its legal form after it); the greeting is the one-line paragraph before it
/// ("Hoogachtend," or "Veuillez agréer, …"). A text without them keeps its whole body and is
/// closed with the business's name.
fn split_closing(text: &str, business: &str) -> (String, String) {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let mut paragraphs: Vec<Vec<&str>> = Vec::new();
    let mut current = Vec::new();
    for line in lines {
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    let name = business.trim();
    // The name's line, maybe followed by the legal form ("Bakkerij Van Dam B.V.").
    let names_business = |l: &str| {
        let l = l.trim();
        l == name || l.strip_prefix(name).is_some_and(|rest| rest.starts_with(' ') && rest.len() <= 40)
    };
    let signature = paragraphs.iter().rposition(|p| p.iter().any(|l| names_business(l)));
    let greeting = signature.and_then(|s| s.checked_sub(1)).filter(|&g| {
        let p = &paragraphs[g];
        p.len() == 1 && p[0].chars().count() <= 120 && !p[0].trim_start().starts_with('-')
    });
    let join = |ps: &[Vec<&str>]| ps.iter().map(|p| p.join("\n")).collect::<Vec<_>>().join("\n\n");
    match (greeting, name.is_empty()) {
        (Some(g), false) => (join(&paragraphs[..g]), join(&paragraphs[g..])),
        _ => (text.trim_end().to_string(), name.to_string()),
    }
}

/// The customer's name, street, and postal code with city: what goes in the envelope window.
fn address_lines(customer: &Customer) -> Vec<String> {
    let a = &customer.address;
    let city =
        [a.postal_code.as_deref(), a.city.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    [Some(customer.name.clone()), a.street.clone(), (!city.is_empty()).then_some(city)]
        .into_iter()
        .flatten()
        .collect()
}

/// The country line of a foreign address, as postal services want it.
fn country_name(code: &str) -> &str {
    match code {
        "NL" => "NEDERLAND",
        "BE" => "BELGIË",
        "DE" => "DEUTSCHLAND",
        "FR" => "FRANCE",
        "LU" => "LUXEMBOURG",
        other => other,
    }
}

/// Collection costs of a message about several invoices are computed once on their total open
/// principal, not per invoice and added up: the statutory scales (NL BIK, BE caps) apply to the
/// claim the letter makes, and a per-invoice sum would charge the minimum of each again.
fn aggregate_costs(
    jurisdiction: crate::calendar::Jurisdiction,
    inputs: &Inputs,
    ctx: &mut MessageContext,
) -> Result<(), String> {
    if ctx.invoices.len() < 2 || ctx.costs.is_none() || ctx.invoice.currency != "EUR" {
        return Ok(());
    }
    let per_invoice: Decimal = ctx.invoices.iter().filter_map(|i| i.costs).sum();
    let total = crate::law::collection_costs(
        &inputs.rates,
        jurisdiction,
        ctx.customer.kind,
        ctx.total_open,
        &inputs.costs,
    )
    .map_err(|e| format!("collection costs of customer {}: {e}", ctx.customer.id))?
    .costs;
    for i in &mut ctx.invoices {
        if let (Some(due), Some(c)) = (i.total_due, i.costs) {
            if ctx.costs_action == crate::playbook::MoneyAction::Apply {
                i.total_due = Some(due - c);
            }
        }
        i.costs = None;
    }
    if let Some(lead) = ctx.invoices.iter().find(|i| i.number == ctx.invoice.number) {
        ctx.invoice = lead.clone();
    }
    ctx.costs = Some(total);
    if ctx.costs_action == crate::playbook::MoneyAction::Apply {
        ctx.total_due = ctx.total_due.map(|t| t - per_invoice + total);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{registration_lines, sender_name, split_closing};
    use crate::model::Language;
    use crate::template::BusinessContext;

    #[test]
    fn the_letterhead_names_the_registration_in_the_letters_language() {
        let mut b = BusinessContext {
            name: "Atelier Janssens".into(),
            legal_form: Some("BV".into()),
            company_number: Some("0123.456.749".into()),
            rpr: Some("RPR Gent".into()),
            vat_number: Some("BE0123456749".into()),
            ..Default::default()
        };
        assert_eq!(sender_name(&b), "Atelier Janssens BV");
        assert_eq!(
            registration_lines(&b, Language::Nl),
            ["Ondernemingsnummer 0123.456.749 · RPR Gent", "Btw-nummer BE0123456749"]
        );
        assert_eq!(registration_lines(&b, Language::Fr)[0], "Numéro d'entreprise 0123.456.749 · RPR Gent");
        assert_eq!(registration_lines(&b, Language::De)[1], "MwSt.-Nr. BE0123456749");
        b.name = "Bakkerij Van Dam B.V.".into();
        b.legal_form = Some("B.V.".into());
        b.company_number = None;
        b.kvk = Some("12345678".into());
        b.vat_number = None;
        assert_eq!(sender_name(&b), "Bakkerij Van Dam B.V.");
        assert_eq!(registration_lines(&b, Language::En), ["KvK 12345678"]);
    }

    #[test]
    fn a_signature_with_the_legal_form_after_the_name_closes_the_letter() {
        let text = "Geachte heer,\n\nBetaal.\n\nHoogachtend,\n\nAnja van Dam\ndirecteur\nAtelier Janssens BV\nMeir 1\n";
        let (body, closing) = split_closing(text, "Atelier Janssens");
        assert_eq!(body, "Geachte heer,\n\nBetaal.");
        assert!(closing.starts_with("Hoogachtend,\n\nAnja van Dam"), "{closing}");
    }

    #[test]
    fn the_greeting_and_signature_close_the_letter() {
        let text = "Geachte heer,\n\nBetaal binnen 14 dagen.\n\nHoogachtend,\n\nAnja van Dam\nBakkerij Van Dam B.V.\nKerkstraat 12\n";
        let (body, closing) = split_closing(text, "Bakkerij Van Dam B.V.");
        assert_eq!(body, "Geachte heer,\n\nBetaal binnen 14 dagen.");
        assert_eq!(closing, "Hoogachtend,\n\nAnja van Dam\nBakkerij Van Dam B.V.\nKerkstraat 12");
    }

    #[test]
    fn a_text_without_a_signature_is_closed_with_the_business_name() {
        let text = "Geachte heer,\n\nBetaal binnen 14 dagen.\n";
        let (body, closing) = split_closing(text, "Bakkerij Van Dam B.V.");
        assert_eq!(body, "Geachte heer,\n\nBetaal binnen 14 dagen.");
        assert_eq!(closing, "Bakkerij Van Dam B.V.");
        // A name without a greeting before it (a list item) is not taken for a signature.
        let text = "Wij vorderen:\n\n- Bakkerij Van Dam B.V.\n\nBakkerij Van Dam B.V.";
        assert_eq!(split_closing(text, "Bakkerij Van Dam B.V.").1, "Bakkerij Van Dam B.V.");
    }
}
