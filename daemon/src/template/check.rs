//! Checking a template before it is ever used to send: `dunwell check` (through
//! `PlaybookSet::load`) runs [`check_template`] on every step's files in every language, and
//! [`check_care_templates`] on the messages of working with the customer.

use rust_decimal::Decimal;

use super::{
    care_template_source, dispute_part, has_html, is_partial_name, shape_care, Compiled, MessageContext,
    Partials, TemplateError, CARE_TEMPLATES,
};
use crate::calendar::Jurisdiction;
use crate::location::{Location, Problem};
use crate::model::{CustomerKind, Language};
use crate::playbook::{Channel, MoneyAction, PlaybookSource, Step};

/// Which file of a step's template is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplatePart {
    /// `<name>.txt`: the subject and text body, the SMS, the letter, the call script.
    Text,
    /// `<name>.html`: the HTML body of an e-mail, rendered with HTML escaping.
    Html,
}

/// Checks one file of `step`'s template in `lang`: it must parse, must not join lines by
/// accident (nor may the partials it includes), and must render against sample contexts shaped
/// like the ones the step produces: two invoices for a Dutch business with every optional value
/// present, one invoice for a Belgian consumer with the amounts the step's consumer variant
/// gives, one invoice with every optional value absent, two invoices of a Dutch consumer without
/// a payment reference, two invoices of a Belgian business, and the first with part of an
/// invoice disputed. Partials (`{% include
/// "_signature.txt" %}`) are read from `playbooks`, in `lang`. The text part must also have the
/// layout its channel needs (a `Subject:` line for e-mails and letters, none otherwise), and an
/// e-mail or letter whose step announces collection costs to consumers must print their amount
/// and a 14-day term (the Dutch 14-day letter, art. 6:96 lid 6 BW). So misspelled variables,
/// unguarded optional values, missing subjects and a 14-day letter that lost its amount show up
/// in `dunwell check` instead of in a failed or void send weeks later. Only branches taken by
/// those samples are checked; an `{% if %}` on something else can still hide a mistake.
pub fn check_template(
    playbooks: &PlaybookSource,
    source: &str,
    name: &str,
    lang: Language,
    step: &Step,
    part: TemplatePart,
) -> Result<(), TemplateError> {
    let mut compiled = check_source(playbooks, source, name, lang, part)?;
    let b2b = step.money_for(CustomerKind::B2b);
    let b2c = step.money_for(CustomerKind::B2c);
    let variants = sample_variants(lang, step.channel, b2b, b2c);
    for ctx in &variants {
        let text = render_part(&mut compiled, ctx, part)?;
        // The Dutch consumer with two invoices is the one the 14-day letter is written for.
        if std::ptr::eq(ctx, &variants[3]) {
            check_announced_costs(&text, name, ctx, step)?;
        }
    }
    Ok(())
}

/// What every template file must pass before it is rendered: it parses, it does not join lines
/// by accident, and neither do the partials it includes (read from `playbooks` in `lang`).
/// Returns the file parsed, to be rendered against the samples.
fn check_source<'a>(
    playbooks: &'a PlaybookSource,
    source: &str,
    name: &str,
    lang: Language,
    part: TemplatePart,
) -> Result<Compiled<'a>, TemplateError> {
    let partials = Partials { source: playbooks, lang };
    let compiled = Compiled::new(source, name, lang, "EUR", part == TemplatePart::Html, Some(partials))?;
    check_swallowed_line_breaks(source, name, None)?;
    check_included_partials(source, name, partials)?;
    Ok(compiled)
}

/// Checks one file of care template `template` ([`CARE_TEMPLATES`]) in `lang` for `channel`,
/// as [`check_template`] does a step's: it must parse, must not join lines by accident (nor may
/// its partials), must have its channel's layout, and must render against the sample contexts
/// shaped as the planner sends that message ([`care_variants`]). `playbooks` is where the file
/// and its partials come from (the built-in set for a template the folder lacks).
pub fn check_care_template(
    playbooks: &PlaybookSource,
    source: &str,
    name: &str,
    lang: Language,
    template: &str,
    channel: Channel,
    part: TemplatePart,
) -> Result<(), TemplateError> {
    let mut compiled = check_source(playbooks, source, name, lang, part)?;
    for ctx in care_variants(lang, template, channel) {
        render_part(&mut compiled, &ctx, part)?;
    }
    Ok(())
}

/// What the check reads of a message part rendered for `ctx`: the text's body (its subject
/// line taken off), or the HTML body.
fn render_part(
    compiled: &mut Compiled<'_>,
    ctx: &MessageContext,
    part: TemplatePart,
) -> Result<String, TemplateError> {
    match part {
        TemplatePart::Text => compiled.render_text(ctx).map(|r| r.body),
        TemplatePart::Html => compiled.render_html(ctx, "subject"),
    }
}

/// `dunwell check` for the care templates ([`CARE_TEMPLATES`]): each is rendered in each of
/// `languages`, for each channel it can go by (an e-mail's HTML body too), from where
/// [`care_template_source`] finds it (the folder's own, else the built-in one). Problems are
/// added to `problems` with the file and line, like a step template's; one already reported at
/// the same place (a partial the steps' templates include too, the same text checked for e-mail
/// and letter) is not repeated. A folder without a care template is no problem: see
/// [`care_template_notes`].
pub fn check_care_templates(source: &PlaybookSource, languages: &[Language], problems: &mut Vec<Problem>) {
    let mut add = |problem: Problem| {
        if !problems.iter().any(|p| p.location == problem.location) {
            problems.push(problem);
        }
    };
    for &(template, channels) in CARE_TEMPLATES {
        for &lang in languages {
            let from = match care_template_source(source, lang, template) {
                Ok(from) => from,
                Err(e) => {
                    add(Problem::new(Location::file(e.name()), e.to_string()));
                    continue;
                }
            };
            for &channel in channels {
                let mut parts = vec![(TemplatePart::Text, PlaybookSource::template_path(lang, template))];
                if has_html(channel) {
                    parts.push((TemplatePart::Html, PlaybookSource::html_template_path(lang, template)));
                }
                for (part, rel) in parts {
                    let file = from.display(&rel);
                    let name = match part {
                        TemplatePart::Text => template.to_string(),
                        TemplatePart::Html => format!("{template}.html"),
                    };
                    match from.read_file(&rel) {
                        Ok(Some(body)) => {
                            if let Err(e) =
                                check_care_template(from, &body, &name, lang, template, channel, part)
                            {
                                let file = match e.partial() {
                                    Some(p) => from.display(&format!("templates/{}/{p}", lang.as_str())),
                                    None => file,
                                };
                                add(Problem::new(
                                    Location::at(file, e.line().unwrap_or(0), 0),
                                    e.to_string(),
                                ));
                            }
                        }
                        Ok(None) => add(Problem::new(
                            Location::file(&file),
                            match part {
                                TemplatePart::Text => format!(
                                    "care template `{template}` is missing for language `{lang}`: create {}",
                                    file.display()
                                ),
                                TemplatePart::Html => format!(
                                    "care template `{template}` has a text for language `{lang}` but no HTML \
                                     body, which an e-mail needs: create {} (or remove the text to send the \
                                     built-in message)",
                                    file.display()
                                ),
                            },
                        )),
                        Err(msg) => add(Problem::new(Location::file(file), msg)),
                    }
                }
            }
        }
    }
}

/// The care templates a playbooks folder does not have itself, so that the built-in ones are
/// sent: one note per template with its languages, for `dunwell check` to print (a note, not a
/// problem). None for the built-in playbooks themselves.
pub fn care_template_notes(source: &PlaybookSource, languages: &[Language]) -> Vec<String> {
    let mut notes = Vec::new();
    for &(template, _) in CARE_TEMPLATES {
        let built_in: Vec<&str> = languages
            .iter()
            .filter(|&&lang| {
                matches!(care_template_source(source, lang, template), Ok(PlaybookSource::Builtin))
                    && !matches!(source, PlaybookSource::Builtin)
            })
            .map(|l| l.as_str())
            .collect();
        if !built_in.is_empty() {
            notes.push(format!(
                "care template `{template}` comes from the built-in set in {} (the folder has no {}); \
                 copy it there to change its text",
                built_in.join(", "),
                source.display(&format!("templates/<lang>/{template}.txt")).display()
            ));
        }
    }
    notes
}

/// The contexts a care template is rendered against: the [`sample_variants`] (a Dutch business
/// with two invoices, a Belgian consumer, nothing optional, a Dutch consumer with two invoices,
/// a Belgian business, a partly disputed invoice) shaped as the planner sends `template`
/// ([`shape_care`]), with what varies between real messages: structured references for Belgian
/// customers, instalments without a reference (all, or one), a promise for part of what is
/// open, an instalment past its date and one that is the last, a broken plan whose missed
/// instalment is not named, a dispute without a note or with a reason of the business's own.
pub(super) fn care_variants(lang: Language, template: &str, channel: Channel) -> Vec<MessageContext> {
    let none = (MoneyAction::None, MoneyAction::None);
    let mut variants = sample_variants(lang, channel, none, none).to_vec();
    for (k, ctx) in variants.iter_mut().enumerate() {
        shape_care(ctx, template);
        let be = ctx.jurisdiction == Jurisdiction::Be;
        if let Some(plan) = &mut ctx.payment_plan {
            for t in &mut plan.instalments {
                if be {
                    t.payment_reference = Some(format!("+++090/9337/5{:04}+++", 5400 + t.seq));
                }
            }
            match k {
                // Nothing optional: no references, and the plan's missed instalment unnamed.
                2 => {
                    plan.instalments.iter_mut().for_each(|t| t.payment_reference = None);
                    plan.missed = None;
                }
                // One instalment without a reference.
                3 => plan.instalments[1].payment_reference = None,
                // The first instalment unpaid and past its date.
                1 => {
                    let first = &mut plan.instalments[0];
                    (first.paid, first.open) = (Decimal::ZERO, first.amount);
                    plan.paid = plan.instalments.iter().map(|t| t.paid).sum();
                }
                _ => {}
            }
            if ctx.instalment.is_some() {
                let which = match k {
                    1 => 0,
                    2 | 4 => plan.instalments.len() - 1,
                    _ => 1,
                };
                ctx.instalment = Some(plan.instalments[which].clone());
            }
        }
        if let Some(promise) = &mut ctx.promise {
            if k == 3 {
                promise.amount = Decimal::new(50000, 2);
            }
        }
        if let Some(dispute) = &mut ctx.dispute {
            match k {
                2 => dispute.note = None,
                4 => dispute.reason = "late-delivery".into(),
                _ => {}
            }
            let reason = dispute.reason.clone();
            for i in ctx.invoices.iter_mut().filter(|i| i.disputed.is_some()) {
                i.dispute_reason = Some(reason.clone());
            }
        }
    }
    variants
}

/// A step that announces collection costs to consumers is the Dutch 14-day letter: it only
/// counts when it states the exact amount and the 14-day term (art. 6:96 lid 6 BW), so a
/// template edited until it no longer does is refused.
fn check_announced_costs(
    text: &str,
    name: &str,
    ctx: &MessageContext,
    step: &Step,
) -> Result<(), TemplateError> {
    if ctx.costs_action != MoneyAction::Announce
        || !matches!(step.channel, Channel::Email | Channel::Letter | Channel::RegisteredLetter)
    {
        return Ok(());
    }
    let lang = ctx.customer.language;
    let missing = |what: String| TemplateError::Layout {
        name: name.to_string(),
        message: format!(
            "step {} announces collection costs to consumers, so its message is the 14-day letter \
             (art. 6:96 lid 6 BW), which only counts when it states {what}; print it where the costs \
             are announced, without `{{% if costs is not none %}}` around it (dunwell holds the \
             message when the amount is unknown)",
            step.number
        ),
    };
    if let Some(costs) = ctx.costs {
        let amount = super::format_money(costs, &ctx.invoice.currency, lang);
        let amount_html = amount.replace('&', "&amp;");
        if !text.contains(&amount) && !text.contains(&amount_html) {
            return Err(missing(format!("the exact amount of the costs (here {amount})")));
        }
    }
    let term = match lang {
        Language::Nl => "14 dagen",
        Language::Fr => "14 jours",
        Language::En => "14 days",
        Language::De => "14 Tagen",
    };
    if !text.contains(term) {
        return Err(missing(format!("the term of 14 days (`{term}`)")));
    }
    Ok(())
}

/// The word a language uses for calendar days after a number (`14 kalenderdagen`): Boek XIX
/// WER counts the first reminder's term in calendar days, and the shipped texts say so.
fn calendar_days_word(lang: Language) -> &'static str {
    match lang {
        Language::Nl => "kalenderdagen",
        Language::Fr => "jours calendrier",
        Language::En => "calendar days",
        Language::De => "Kalendertagen",
    }
}

/// The numbers written just before `word` in `text` (`binnen 14 kalenderdagen` gives 14).
fn numbers_before(text: &str, word: &str) -> Vec<u32> {
    text.match_indices(word)
        .filter_map(|(at, _)| {
            let before = text[..at].trim_end();
            let digits = before.trim_end_matches(|c: char| c.is_ascii_digit());
            before[digits.len()..].parse().ok()
        })
        .collect()
}

/// Checks the text of the first reminder after the due date (`step`) as a Belgian consumer
/// receives it. That reminder is free and starts the 14-day wait of Boek XIX WER (art. XIX.2),
/// and it only does so when it states a term of at least 14 calendar days with its last day,
/// the balance due, the damages and the interest (its rate: the amount only starts after the
/// wait) that will be claimed, and the creditor's name and company number. The step's settings
/// are checked elsewhere (`playbook::check_be_first_reminder`); this catches a template, or a
/// partial such as `_be_first_reminder.txt`, edited until it no longer says all that. It is
/// rendered in `lang` for a sample Belgian consumer, once from a business with a Belgian
/// enterprise number and once from a Dutch business with only its KvK number (which is then its
/// registration number). The error names what is missing.
pub fn check_be_first_reminder_text(
    playbooks: &PlaybookSource,
    source: &str,
    name: &str,
    lang: Language,
    step: &Step,
    part: TemplatePart,
) -> Result<(), TemplateError> {
    if step.channel.delivery().is_none() {
        return Ok(());
    }
    // Parsing and line breaks are [`check_template`]'s, which `dunwell check` runs on the same
    // file; a template that does not parse fails here too, when it renders.
    let partials = Partials { source: playbooks, lang };
    let mut compiled = Compiled::new(source, name, lang, "EUR", part == TemplatePart::Html, Some(partials))?;
    let b2c = step.money_for(CustomerKind::B2c);
    let [_, consumer, ..] = sample_variants(lang, step.channel, step.money_for(CustomerKind::B2b), b2c);
    let mut dutch_business = consumer.clone();
    dutch_business.business.company_number = None;
    dutch_business.business.rpr = None;
    dutch_business.business.kvk = Some("12345678".into());
    for ctx in [consumer, dutch_business] {
        let text = render_part(&mut compiled, &ctx, part)?;
        // The HTML body escapes what it prints; compare with what a reader sees.
        let text = text.replace("&amp;", "&").replace("&#x2f;", "/").replace("&#x27;", "'");
        let money = |d: Decimal| super::format_money(d, &ctx.invoice.currency, lang);
        let mut missing = Vec::new();
        let word = calendar_days_word(lang);
        let days = numbers_before(&text, word);
        if days.is_empty() || days.iter().any(|d| *d < 14) {
            let found = match days.iter().min() {
                Some(d) if *d < 14 => format!(" (it gives {d} {word})"),
                _ => String::new(),
            };
            missing.push(format!("a term of at least 14 calendar days (`14 {word}`){found}"));
        }
        if let Some(deadline) = ctx.deadline {
            let day = super::format_date(deadline, lang);
            if !text.contains(&day) {
                missing.push(format!("the term's last day (here {day}, from `deadline`)"));
            }
        }
        if !text.contains(&money(ctx.total_open)) {
            missing.push(format!("the balance due (here {})", money(ctx.total_open)));
        }
        if let Some(costs) = ctx.costs {
            if !text.contains(&money(costs)) {
                missing.push(format!("the damages that will be claimed (here {})", money(costs)));
            }
        }
        if let Some(rate) = ctx.interest_rate.filter(|_| ctx.interest_action != MoneyAction::None) {
            let rate = super::format_percent(rate, lang);
            if !text.contains(&rate) {
                missing.push(format!("the interest that will be claimed, with its rate (here {rate})"));
            }
        }
        if !text.contains(&ctx.business.name) {
            missing.push(format!("the creditor's name (here {})", ctx.business.name));
        }
        let number = ctx.business.company_number.as_ref().or(ctx.business.kvk.as_ref());
        if let Some(number) = number.filter(|n| !text.contains(n.as_str())) {
            let which = if ctx.business.company_number.is_some() {
                "enterprise number"
            } else {
                "registration number (a Dutch business's KvK number)"
            };
            missing.push(format!("the creditor's {which} (here {number})"));
        }
        if !missing.is_empty() {
            let partials: Vec<String> =
                included_names(source).into_iter().filter(|p| is_partial_name(p)).collect();
            let from = if partials.is_empty() {
                String::new()
            } else {
                format!(" (with the partials it includes: {})", partials.join(", "))
            };
            return Err(TemplateError::Layout {
                name: name.to_string(),
                message: format!(
                    "step {} ({}) is the first reminder after the due date, which for a Belgian consumer \
                     is free and starts the 14-day wait of Boek XIX WER (art. XIX.2); rendered for a \
                     Belgian consumer{from} it does not print {}",
                    step.number,
                    step.template,
                    missing.join(", ")
                ),
            });
        }
    }
    Ok(())
}

/// The partials a template includes (`{% include "_x.txt" %}`), read from the same language
/// folder, must not join lines by accident either; those they include in turn are checked too.
fn check_included_partials(source: &str, name: &str, partials: Partials<'_>) -> Result<(), TemplateError> {
    let mut seen: Vec<String> = Vec::new();
    let mut queue = included_names(source);
    while let Some(partial) = queue.pop() {
        if seen.contains(&partial) || !is_partial_name(&partial) {
            continue;
        }
        if let Ok(Some(text)) = partials.read(&partial) {
            check_swallowed_line_breaks(&text, name, Some(&partial))?;
            queue.extend(included_names(&text));
        }
        seen.push(partial);
    }
    Ok(())
}

/// The names in `{% include "…" %}` tags of a template (a missing one is reported when the
/// template renders, with its line).
fn included_names(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    for tag in source.split("{%").skip(1) {
        let tag = tag.split("%}").next().unwrap_or_default().trim_start_matches(['-', '+']).trim();
        let Some(rest) = tag.strip_prefix("include") else { continue };
        let rest = rest.trim_start();
        let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else { continue };
        if let Some(name) = rest[1..].split(quote).next() {
            names.push(name.to_string());
        }
    }
    names
}

/// Checks a text template without knowing its step: it must parse, must not join lines by
/// accident, and must render against the sample contexts of a step that applies interest and
/// costs (its subject line is not checked). It includes no partials.
pub fn check_syntax(source: &str, name: &str) -> Result<(), TemplateError> {
    let mut compiled = Compiled::new(source, name, Language::En, "EUR", false, None)?;
    check_swallowed_line_breaks(source, name, None)?;
    let apply = (MoneyAction::Apply, MoneyAction::Apply);
    let announce = (MoneyAction::Announce, MoneyAction::Announce);
    for ctx in sample_variants(Language::En, Channel::Letter, apply, announce) {
        compiled.render(&ctx)?;
    }
    Ok(())
}

/// Block tags trim the line break after them, which is what a tag alone on its line needs but
/// silently joins two lines when the tag ends a line of text (`Soort: {% if … %}a{% endif %}`).
/// That mistake is invisible until a letter comes out with two paragraphs run together, so it
/// is reported here; `+%}` keeps the line break on purpose, `-%}` removes it on purpose.
fn check_swallowed_line_breaks(source: &str, name: &str, partial: Option<&str>) -> Result<(), TemplateError> {
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
                partial: partial.map(str::to_string),
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
/// applied (and the fee, when there is one); the rate and legal basis of the interest of the
/// context's jurisdiction and customer; no expired term when the step announces costs (it gives
/// the term), one when it applies them.
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
    let lead = ctx.invoices.iter().position(|i| i.number == ctx.invoice.number).unwrap_or(0);
    ctx.invoice = ctx.invoices[lead].clone();
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
    let consumer = ctx.customer.kind == CustomerKind::B2c;
    let (basis, rate) = match (ctx.jurisdiction, consumer) {
        (Jurisdiction::Nl, false) => ("nl-commercial", Decimal::new(1015, 2)),
        (Jurisdiction::Nl, true) => ("nl-consumer", Decimal::new(4, 0)),
        (Jurisdiction::Be, false) => ("be-commercial", Decimal::new(105, 1)),
        (Jurisdiction::Be, true) => ("be-consumer", Decimal::new(105, 1)),
    };
    ctx.interest_basis = (interest != MoneyAction::None).then(|| basis.to_string());
    ctx.interest_rate = (interest != MoneyAction::None).then_some(rate);
    // NL collection costs carry VAT when the business cannot deduct it; BE damages never do.
    ctx.costs_include_vat = ctx.jurisdiction == Jurisdiction::Nl && full.costs_include_vat;
    ctx.expired_term = match costs {
        MoneyAction::Apply => full.expired_term,
        MoneyAction::Announce | MoneyAction::None => None,
    };
}

/// The contexts every template is rendered against (see [`check_template`]): a Dutch business
/// with two invoices and everything present, a Belgian consumer, one invoice with nothing
/// optional, a Dutch consumer with two invoices and no payment reference, a Belgian business
/// with two invoices, and the first again with part of its second invoice disputed (so the
/// table of invoices says so).
pub(super) fn sample_variants(
    lang: Language,
    channel: Channel,
    b2b: (MoneyAction, MoneyAction),
    b2c: (MoneyAction, MoneyAction),
) -> [MessageContext; 6] {
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
    let belgian = |ctx: &mut MessageContext| {
        ctx.jurisdiction = Jurisdiction::Be;
        ctx.customer.country = Some("BE".into());
        ctx.business.vat_number = Some("BE0123456749".into());
        ctx.business.kvk = None;
    };
    let mut consumer = one(full.clone());
    consumer.customer.kind = CustomerKind::B2c;
    consumer.customer.name = "J. Peeters".into();
    consumer.customer.contact_name = None;
    belgian(&mut consumer);
    consumer.invoices[0].payment_reference = Some("+++090/9337/55493+++".into());
    consumer.payment_reference = consumer.invoices[0].payment_reference.clone();
    consumer.fee = None;
    set_amounts(&mut consumer, b2c);

    let absent = |mut ctx: MessageContext| {
        ctx.business = super::BusinessContext {
            name: ctx.business.name.clone(),
            address: ctx.business.address.clone(),
            iban: ctx.business.iban.clone(),
            ..Default::default()
        };
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
    // Nothing optional: no interest figure, rate or costs the step does not have to state
    // (announced costs are always there: a message that would lack them is held).
    let mut sparse = absent(one(full.clone()));
    set_amounts(&mut sparse, b2b);
    sparse.interest = None;
    sparse.interest_rate = None;
    sparse.interest_basis = None;
    sparse.expired_term = None;
    if sparse.costs_action != MoneyAction::Announce {
        sparse.costs = None;
    }
    sparse.total_due = None;
    sparse.invoice.interest = None;
    sparse.invoices[0].interest = None;

    let mut several = absent(full.clone());
    several.customer.kind = CustomerKind::B2c;
    set_amounts(&mut several, b2c);

    let mut be_business = full.clone();
    belgian(&mut be_business);
    be_business.customer.name = "Brasserie Het Anker BV".into();
    be_business.payment_reference = Some("+++090/9337/55493+++".into());
    set_amounts(&mut be_business, b2b);

    let mut disputed = full.clone();
    if let Some(dispute) = disputed.dispute.clone() {
        dispute_part(&mut disputed, &dispute);
    }
    set_amounts(&mut disputed, b2b);

    [full, consumer, sparse, several, be_business, disputed]
}
