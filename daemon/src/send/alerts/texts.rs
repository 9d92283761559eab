//! The alerts' texts in nl, fr, en and de: plain text for a person at the business (never a
//! customer), so they live here rather than among the playbooks' templates. Placeholders
//! (`{name}`, `{open}`, …) are filled in one pass, so a customer's name cannot bring in another.

use chrono::NaiveDate;

use super::{Figures, Kind, LIMIT_CURRENCY};
use crate::model::Language;
use crate::template::{format_date, format_days, format_money};

/// One language's words. Subjects and leads are by [`Kind`], in the order of [`Kind::ALL`].
struct Words {
    subject: [&'static str; 3],
    lead: [&'static str; 3],
    open: &'static str,
    /// An invoice, invoices: `{invoices}` is the count with the noun.
    invoice_noun: (&'static str, &'static str),
    limit_own: &'static str,
    limit_default: &'static str,
    limit_none: &'static str,
    promises: &'static str,
    promises_last: &'static str,
    segment: &'static str,
    invoices: &'static str,
    invoice_late: &'static str,
    invoice_not_due: &'static str,
    suggestion: &'static str,
    footer: &'static str,
}

const NL: Words = Words {
    subject: [
        "Signaal: {name} ({id}) is een slechte betaler geworden",
        "Signaal: {name} ({id}) heeft een tweede betalingsbelofte gebroken",
        "Signaal: {name} ({id}) zit boven de kredietlimiet",
    ],
    lead: [
        "Sinds {since} valt {name} ({id}) in het segment slechte betalers ({reason}).",
        "{name} ({id}) heeft {count} betalingsbeloftes niet nagekomen; de tweede bleek op {since} gebroken.",
        "Op {since} staat bij {name} ({id}) {open} open: {over} boven de kredietlimiet van {limit}.",
    ],
    open: "Openstaand: {open} op {invoices}, waarvan {overdue} vervallen",
    invoice_noun: ("factuur", "facturen"),
    limit_own: "Kredietlimiet: {limit} (van deze klant)",
    limit_default: "Kredietlimiet: {limit} (de standaard van [escalation] in dunwell.toml)",
    limit_none: "Kredietlimiet: geen",
    promises: "Gebroken betalingsbeloftes: {count}",
    promises_last: "Gebroken betalingsbeloftes: {count} (de laatste op {last})",
    segment: "Segment: {segment}",
    invoices: "Openstaande facturen:",
    invoice_late: "  {number}  vervaldag {due}  {amount}  ({days} te laat)",
    invoice_not_due: "  {number}  vervaldag {due}  {amount}  (nog niet vervallen)",
    suggestion: "Advies: zet {name} op strengere voorwaarden (vooruitbetaling of een kortere betaaltermijn), of neem geen nieuwe bestellingen meer aan tot de achterstand is betaald.",
    footer: "dunwell meldt dit één keer. `dunwell history {id}` toont alles wat aan en over deze klant is verstuurd en vastgelegd.",
};

const FR: Words = Words {
    subject: [
        "Alerte : {name} ({id}) est devenu mauvais payeur",
        "Alerte : {name} ({id}) n'a pas tenu une deuxième promesse de paiement",
        "Alerte : {name} ({id}) dépasse sa limite de crédit",
    ],
    lead: [
        "Depuis le {since}, {name} ({id}) est dans le segment des mauvais payeurs ({reason}).",
        "{name} ({id}) n'a pas tenu {count} promesses de paiement ; la deuxième a été constatée le {since}.",
        "Le {since}, {name} ({id}) doit {open} : {over} de plus que sa limite de crédit de {limit}.",
    ],
    open: "Ouvert : {open} sur {invoices}, dont {overdue} échus",
    invoice_noun: ("facture", "factures"),
    limit_own: "Limite de crédit : {limit} (propre à ce client)",
    limit_default: "Limite de crédit : {limit} (par défaut, [escalation] de dunwell.toml)",
    limit_none: "Limite de crédit : aucune",
    promises: "Promesses de paiement non tenues : {count}",
    promises_last: "Promesses de paiement non tenues : {count} (la dernière le {last})",
    segment: "Segment : {segment}",
    invoices: "Factures ouvertes :",
    invoice_late: "  {number}  échéance {due}  {amount}  ({days} de retard)",
    invoice_not_due: "  {number}  échéance {due}  {amount}  (pas encore échue)",
    suggestion: "Suggestion : imposer à {name} des conditions plus strictes (paiement anticipé ou délai de paiement plus court), ou arrêter les nouvelles commandes jusqu'au règlement de l'arriéré.",
    footer: "dunwell ne le signale qu'une fois. `dunwell history {id}` montre tout ce qui a été envoyé à ce client et noté à son sujet.",
};

const EN: Words = Words {
    subject: [
        "Alert: {name} ({id}) has become a bad payer",
        "Alert: {name} ({id}) has broken a second promise to pay",
        "Alert: {name} ({id}) is over its credit limit",
    ],
    lead: [
        "Since {since}, {name} ({id}) is in the bad-payer segment ({reason}).",
        "{name} ({id}) has broken {count} promises to pay; the second was found broken on {since}.",
        "On {since}, {name} ({id}) owes {open}: {over} more than its credit limit of {limit}.",
    ],
    open: "Open: {open} on {invoices}, of which {overdue} overdue",
    invoice_noun: ("invoice", "invoices"),
    limit_own: "Credit limit: {limit} (this customer's own)",
    limit_default: "Credit limit: {limit} (the default of [escalation] in dunwell.toml)",
    limit_none: "Credit limit: none",
    promises: "Broken promises to pay: {count}",
    promises_last: "Broken promises to pay: {count} (the last on {last})",
    segment: "Segment: {segment}",
    invoices: "Open invoices:",
    invoice_late: "  {number}  due {due}  {amount}  ({days} late)",
    invoice_not_due: "  {number}  due {due}  {amount}  (not yet due)",
    suggestion: "Suggestion: put {name} on stricter terms (prepayment, or shorter payment terms), or stop new orders until the arrears are cleared.",
    footer: "dunwell tells you this once. `dunwell history {id}` shows everything sent to and recorded about this customer.",
};

const DE: Words = Words {
    subject: [
        "Hinweis: {name} ({id}) ist ein schlechter Zahler geworden",
        "Hinweis: {name} ({id}) hat ein zweites Zahlungsversprechen gebrochen",
        "Hinweis: {name} ({id}) liegt über dem Kreditlimit",
    ],
    lead: [
        "Seit dem {since} ist {name} ({id}) im Segment der schlechten Zahler ({reason}).",
        "{name} ({id}) hat {count} Zahlungsversprechen nicht eingehalten; das zweite wurde am {since} als gebrochen festgestellt.",
        "Am {since} schuldet {name} ({id}) {open}: {over} mehr als das Kreditlimit von {limit}.",
    ],
    open: "Offen: {open} aus {invoices}, davon {overdue} überfällig",
    invoice_noun: ("Rechnung", "Rechnungen"),
    limit_own: "Kreditlimit: {limit} (eigenes Limit dieses Kunden)",
    limit_default: "Kreditlimit: {limit} (Standard aus [escalation] in dunwell.toml)",
    limit_none: "Kreditlimit: keines",
    promises: "Gebrochene Zahlungsversprechen: {count}",
    promises_last: "Gebrochene Zahlungsversprechen: {count} (zuletzt am {last})",
    segment: "Segment: {segment}",
    invoices: "Offene Rechnungen:",
    invoice_late: "  {number}  fällig {due}  {amount}  ({days} überfällig)",
    invoice_not_due: "  {number}  fällig {due}  {amount}  (noch nicht fällig)",
    suggestion: "Vorschlag: {name} auf strengere Bedingungen setzen (Vorauskasse oder kürzere Zahlungsfristen) oder keine neuen Aufträge annehmen, bis der Rückstand beglichen ist.",
    footer: "dunwell meldet dies einmal. `dunwell history {id}` zeigt alles, was an diesen Kunden gesendet und über ihn festgehalten wurde.",
};

fn words(lang: Language) -> &'static Words {
    match lang {
        Language::Nl => &NL,
        Language::Fr => &FR,
        Language::En => &EN,
        Language::De => &DE,
    }
}

/// `text` with each `{key}` of `values` replaced, in one pass (a value is never read again).
fn fill(text: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after
            .find('}')
            .and_then(|close| values.iter().find(|(k, _)| *k == &after[..close]).map(|(_, v)| (close, v)))
        {
            Some((close, value)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The subject and body of an alert of `kind` about the customer of `figures`, whose
/// occurrence started on `since`.
pub(super) fn render(lang: Language, kind: Kind, f: &Figures, since: NaiveDate) -> (String, String) {
    let w = words(lang);
    let money = |amount| format_money(amount, LIMIT_CURRENCY, lang);
    let index = Kind::ALL.iter().position(|k| *k == kind).unwrap_or_default();
    let limit = f.credit_limit.map(|l| l.amount);
    let values = [
        ("name", f.customer_name.clone()),
        ("id", f.customer_id.clone()),
        ("since", format_date(since, lang)),
        ("reason", f.segment_reason.clone()),
        ("count", f.broken_promises.len().to_string()),
        ("last", f.broken_promises.last().map(|d| format_date(*d, lang)).unwrap_or_default()),
        ("open", money(f.open_total)),
        ("overdue", money(f.overdue_total)),
        ("invoices", {
            let n = f.open_invoices.len();
            format!("{n} {}", if n == 1 { w.invoice_noun.0 } else { w.invoice_noun.1 })
        }),
        ("limit", limit.map(money).unwrap_or_default()),
        ("over", limit.map(|l| money(f.open_total - l)).unwrap_or_default()),
        ("segment", f.segment.clone()),
    ];
    let subject = fill(w.subject[index], &values);
    let mut body = vec![fill(w.lead[index], &values), String::new(), fill(w.open, &values)];
    body.push(match f.credit_limit {
        Some(l) if l.own => fill(w.limit_own, &values),
        Some(_) => fill(w.limit_default, &values),
        None => w.limit_none.to_string(),
    });
    body.push(fill(if f.broken_promises.is_empty() { w.promises } else { w.promises_last }, &values));
    body.push(fill(w.segment, &values));
    if !f.open_invoices.is_empty() {
        body.push(String::new());
        body.push(w.invoices.to_string());
        for i in &f.open_invoices {
            let line = if i.days_late > 0 { w.invoice_late } else { w.invoice_not_due };
            body.push(fill(
                line,
                &[
                    ("number", i.number.clone()),
                    ("due", format_date(i.due_date, lang)),
                    ("amount", format_money(i.open_amount, &i.currency, lang)),
                    ("days", format_days(i.days_late, lang)),
                ],
            ));
        }
    }
    body.push(String::new());
    body.push(fill(w.suggestion, &values));
    body.push(String::new());
    body.push(fill(w.footer, &values));
    (subject, body.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_once() {
        let v = [("name", "{id} & {x".to_string()), ("id", "C1".to_string())];
        assert_eq!(fill("{name} ({id}) {unknown}", &v), "{id} & {x (C1) {unknown}");
    }
}
