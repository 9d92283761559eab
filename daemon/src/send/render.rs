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
    let step = playbooks
        .playbooks
        .get(&lead.segment)
        .and_then(|p| p.steps.get(lead.step as usize - 1))
        .ok_or_else(|| format!("playbook {} has no step {}", lead.segment, lead.step))?;
    let mut invoices = Vec::with_capacity(group.actions.len());
    for a in &group.actions {
        let inv = inputs
            .invoice(&a.invoice_number)
            .ok_or_else(|| format!("invoice {} is gone", a.invoice_number))?;
        let mut i = InvoiceContext::from_invoice(inv, at);
        (i.interest, i.costs, i.total_due, i.payment_reference) =
            (a.interest, a.costs, a.total_due, a.payment_reference.clone());
        invoices.push(i);
    }
    let lead_index = group.actions.iter().position(|a| std::ptr::eq(*a, lead)).unwrap_or(0);
    let business = &config.business;
    let mut customer_ctx = CustomerContext::from_customer(customer, config.default_language);
    customer_ctx.language = lang;
    let ctx = MessageContext::new(
        BusinessContext {
            name: business.name.clone(),
            address: business.address.clone(),
            iban: business.iban.clone(),
            vat_number: (!business.vat_number.is_empty()).then(|| business.vat_number.clone()),
        },
        ContactContext::default(),
        customer_ctx,
        invoices,
        lead_index,
        at,
    )
    .map_err(|e| e.to_string())?
    .for_step(step);
    let mut ctx = ctx;
    aggregate_costs(config, inputs, &mut ctx)?;
    let rendered =
        template::render_message(&playbooks.source, &lead.template, &ctx).map_err(|e| e.to_string())?;
    let total = ctx.total_due.unwrap_or(ctx.total_open);
    let recipient = recipient(customer, group.channel);
    let pdf = match (group.channel, letters) {
        (Channel::Letter | Channel::RegisteredLetter, Some(engine)) => Some(letter_pdf(
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
    Ok(Draft {
        customer_id: customer.id.clone(),
        customer_name: customer.name.clone(),
        channel: group.channel.as_str().to_string(),
        template: lead.template.clone(),
        language: lang,
        recipient,
        subject: rendered.subject,
        body: rendered.text,
        html: rendered.html,
        invoices: group.actions.iter().map(|a| a.invoice_number.clone()).collect(),
        total,
        currency: ctx.invoice.currency.clone(),
        requires_approval: lead.requires_approval,
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
    let labels = dunwell_letters::Labels::for_lang(lang.as_str())
        .ok_or_else(|| format!("no letter labels for language {lang}"))?;
    let payment =
        (ctx.invoice.currency == "EUR" && total > Decimal::ZERO).then(|| dunwell_letters::Payment {
            name: b.name.chars().take(70).collect(),
            iban: b.iban.replace(' ', ""),
            bic: None,
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
    let total_label = match lang {
        Language::Nl => "Totaal openstaand",
        Language::Fr => "Total restant dû",
        Language::En => "Total outstanding",
        Language::De => "Offener Gesamtbetrag",
    };
    let letter = dunwell_letters::Letter {
        lang: lang.as_str().to_string(),
        sender: dunwell_letters::Sender {
            name: b.name.clone(),
            address_lines: b.address.split(", ").map(str::to_string).filter(|l| !l.is_empty()).collect(),
            registration: (!b.vat_number.is_empty()).then(|| b.vat_number.clone()).into_iter().collect(),
            iban: b.iban.replace(' ', ""),
            bic: None,
            email: None,
            phone: None,
        },
        recipient,
        place_and_date: template::format_date(ctx.today, lang),
        subject: subject.to_string(),
        body: body.to_string(),
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
        closing: b.name.clone(),
        labels,
        payment,
        registered: ctx.channel == Channel::RegisteredLetter,
    };
    engine
        .render(&letter)
        .map_err(|e| format!("the letter to customer {} cannot be laid out: {e}", customer.id))
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
fn aggregate_costs(config: &Config, inputs: &Inputs, ctx: &mut MessageContext) -> Result<(), String> {
    if ctx.invoices.len() < 2 || ctx.costs.is_none() || ctx.invoice.currency != "EUR" {
        return Ok(());
    }
    let per_invoice: Decimal = ctx.invoices.iter().filter_map(|i| i.costs).sum();
    let total = crate::law::collection_costs(
        &inputs.rates,
        config.jurisdiction,
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
