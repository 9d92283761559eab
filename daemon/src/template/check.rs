//! Checking a template before it is ever used to send: `dunwell check` (through
//! `PlaybookSet::load`) runs [`check_template`] on every step's files in every language.

use rust_decimal::Decimal;

use super::{environment, render, render_html, render_with, MessageContext, TemplateError};
use crate::model::{CustomerKind, Language};
use crate::playbook::{Channel, MoneyAction, Step};

/// Which file of a step's template is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplatePart {
    /// `<name>.txt`: the subject and text body, the SMS, the letter, the call script.
    Text,
    /// `<name>.html`: the HTML body of an e-mail, rendered with HTML escaping.
    Html,
}

/// Checks one file of `step`'s template in `lang`: it must parse, must not join lines by
/// accident, and must render against sample contexts shaped like the ones the step produces:
/// two invoices for a business with every optional value present, one invoice for a Belgian
/// consumer with the amounts the step's consumer variant gives, one invoice with every optional
/// value absent, and two invoices with no payment reference. The text part must also have the
/// layout its channel needs (a `Subject:` line for e-mails and letters, none otherwise). So
/// misspelled variables, unguarded optional values and missing subjects show up in `dunwell
/// check` instead of in a failed send weeks later. Only branches taken by those samples are
/// checked; an `{% if %}` on something else can still hide a mistake.
pub fn check_template(
    source: &str,
    name: &str,
    lang: Language,
    step: &Step,
    part: TemplatePart,
) -> Result<(), TemplateError> {
    let html = part == TemplatePart::Html;
    let env = environment(lang, "EUR", html);
    env.template_from_named_str(name, source).map_err(|e| TemplateError::from_minijinja(name, source, e))?;
    check_swallowed_line_breaks(source, name)?;
    let b2b = step.money_for(CustomerKind::B2b);
    let b2c = step.money_for(CustomerKind::B2c);
    for ctx in sample_variants(lang, step.channel, b2b, b2c) {
        match part {
            TemplatePart::Text => render(source, name, lang, &ctx).map(|_| ())?,
            TemplatePart::Html => render_html(source, name, lang, &ctx, "subject").map(|_| ())?,
        }
    }
    Ok(())
}

/// Checks a text template without knowing its step: it must parse, must not join lines by
/// accident, and must render against the sample contexts of a step that applies interest and
/// costs (its subject line is not checked).
pub fn check_syntax(source: &str, name: &str) -> Result<(), TemplateError> {
    let env = environment(Language::En, "EUR", false);
    env.template_from_named_str(name, source).map_err(|e| TemplateError::from_minijinja(name, source, e))?;
    check_swallowed_line_breaks(source, name)?;
    let apply = (MoneyAction::Apply, MoneyAction::Apply);
    let announce = (MoneyAction::Announce, MoneyAction::Announce);
    for ctx in sample_variants(Language::En, Channel::Letter, apply, announce) {
        render_with(source, name, Language::En, &ctx, false)?;
    }
    Ok(())
}

/// Block tags trim the line break after them, which is what a tag alone on its line needs but
/// silently joins two lines when the tag ends a line of text (`Soort: {% if … %}a{% endif %}`).
/// That mistake is invisible until a letter comes out with two paragraphs run together, so it
/// is reported here; `+%}` keeps the line break on purpose, `-%}` removes it on purpose.
fn check_swallowed_line_breaks(source: &str, name: &str) -> Result<(), TemplateError> {
    let mut in_raw = false;
    let lines: Vec<&str> = source.lines().collect();
    // The last line has no following line to be joined to.
    let checked = lines.len().saturating_sub(1);
    for (i, line) in lines.iter().take(checked).enumerate() {
        let t = line.trim();
        if t.contains("{% raw") || t.contains("{%- raw") {
            in_raw = true;
        }
        if in_raw {
            in_raw = !(t.contains("endraw %}") || t.contains("endraw -%}") || t.contains("endraw +%}"));
            continue;
        }
        let ends_with_tag = t.ends_with("%}") && !t.ends_with("+%}") && !t.ends_with("-%}");
        let standalone_tag = t.starts_with("{%") && t.matches("{%").count() == 1;
        if ends_with_tag && !standalone_tag {
            return Err(TemplateError::Syntax {
                name: name.to_string(),
                line: Some(i + 1),
                message: format!(
                    "`{t}` ends with a block tag after other text, so its line break is removed and \
                     the next line is joined to it; end the last tag with `+%}}` to keep the line break, \
                     or put the tag on a line of its own"
                ),
            });
        }
    }
    Ok(())
}

/// Sets the amounts the way the planner does for a step with these actions: interest and
/// costs present when announced or applied, the total due as the open total plus what is
/// applied (and the fee, when there is one).
pub(super) fn set_amounts(ctx: &mut MessageContext, (interest, costs): (MoneyAction, MoneyAction)) {
    let full = MessageContext::sample();
    ctx.interest_action = interest;
    ctx.costs_action = costs;
    // Costs of a one-invoice context: the first invoice's share of the sample's.
    let share = if ctx.invoices.len() == 1 { ctx.total_open / full.total_open } else { Decimal::ONE };
    let scale = |d: Decimal| (d * share).round_dp(2);
    for i in &mut ctx.invoices {
        i.interest = (interest != MoneyAction::None).then(|| i.interest.unwrap_or(Decimal::new(1253, 2)));
        i.costs = None;
        i.total_due = None;
    }
    ctx.invoice = ctx.invoices[0].clone();
    ctx.interest =
        (interest != MoneyAction::None).then(|| ctx.invoices.iter().filter_map(|i| i.interest).sum());
    ctx.costs = (costs != MoneyAction::None).then(|| scale(full.costs.unwrap_or_default()));
    let applied = |action: MoneyAction, amount: Option<Decimal>| {
        if action == MoneyAction::Apply {
            amount.unwrap_or_default()
        } else {
            Decimal::ZERO
        }
    };
    let charges = interest != MoneyAction::None || costs != MoneyAction::None || ctx.fee.is_some();
    ctx.total_due = charges.then(|| {
        ctx.total_open
            + applied(interest, ctx.interest)
            + applied(costs, ctx.costs)
            + ctx.fee.unwrap_or_default()
    });
}

/// The contexts every template is rendered against (see [`check_template`]).
pub(super) fn sample_variants(
    lang: Language,
    channel: Channel,
    b2b: (MoneyAction, MoneyAction),
    b2c: (MoneyAction, MoneyAction),
) -> [MessageContext; 4] {
    let mut full = MessageContext::sample();
    full.customer.language = lang;
    full.channel = channel;
    // Every optional value present, whatever the step does with it.
    full.interest_action = b2b.0;
    full.costs_action = b2b.1;

    let one = |mut ctx: MessageContext| {
        ctx.invoices.truncate(1);
        ctx.invoice = ctx.invoices[0].clone();
        ctx.total_open = ctx.invoice.open_amount;
        ctx.payment_reference = ctx.invoice.payment_reference.clone();
        ctx
    };
    let mut consumer = one(full.clone());
    consumer.customer.kind = CustomerKind::B2c;
    consumer.customer.name = "J. Peeters".into();
    consumer.customer.country = Some("BE".into());
    consumer.customer.contact_name = None;
    consumer.business.vat_number = Some("BE0123456749".into());
    consumer.invoices[0].payment_reference = Some("+++090/9337/55493+++".into());
    consumer.payment_reference = consumer.invoices[0].payment_reference.clone();
    consumer.fee = None;
    set_amounts(&mut consumer, b2c);

    let absent = |mut ctx: MessageContext| {
        ctx.business.vat_number = None;
        ctx.contact = Default::default();
        ctx.customer.country = None;
        ctx.customer.contact_name = None;
        ctx.payment_reference = None;
        for i in &mut ctx.invoices {
            i.payment_reference = None;
        }
        ctx.fee = None;
        ctx.deadline = None;
        ctx
    };
    let mut sparse = absent(one(full.clone()));
    set_amounts(&mut sparse, b2b);
    sparse.interest = None;
    sparse.costs = None;
    sparse.total_due = None;
    sparse.invoice.interest = None;
    sparse.invoices[0].interest = None;

    let mut several = absent(full.clone());
    several.customer.kind = CustomerKind::B2c;
    set_amounts(&mut several, b2c);

    [full, consumer, sparse, several]
}
