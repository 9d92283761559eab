//! Message templates: the text of every reminder, SMS, letter, call script and case file.
//!
//! Templates are minijinja (Jinja2) files that the business edits in its own git repository,
//! one per step and language in `playbooks/templates/<lang>/`, so the renderer is strict: a
//! misspelled variable is an error at `dunwell check` time rather than an empty gap in a letter
//! that has already gone out, and so is printing a value that is absent for the message (an
//! unguarded `{{ payment_reference }}` would otherwise print `none`). Money, dates and day
//! counts are formatted by the `money`, `date` and `days` filters for the recipient's language
//! (`template/format.rs`), so template authors never format numbers by hand and amounts never pass
//! through floating point.
//!
//! What a step's template yields depends on its channel ([`render_message`]):
//!
//! | channel | files | result |
//! | --- | --- | --- |
//! | `email` | `<name>.txt`: `Subject: …`, a blank line, the plain-text body; `<name>.html`: the HTML body | subject, text, HTML |
//! | `letter`, `registered-letter` | `<name>.txt`: `Subject: …`, a blank line, the letter body | subject, text (the PDF's body) |
//! | `sms` | `<name>.txt`: the text, no subject | text, and its [`SmsParts`] |
//! | `phone` | `<name>.txt`: the call script | text |
//! | `agency` | `<name>.txt`: the case file's summary | text |
//!
//! The HTML body is rendered with HTML auto-escaping on, so customer data (a customer called
//! `A & B` or `<script>`) is escaped; the text parts are not escaped. An HTML file may be a
//! body fragment (it is then wrapped in a minimal document) or a whole document.
//!
//! One message covers every invoice of a customer that is due for the same channel on the same
//! day: the context lists them all in `invoices`, with one `total_open`, while `invoice` is the
//! most advanced of them, whose step sets the tone and picks the template.
//!
//! **Partials.** What every message repeats (the table of invoices, the list of amounts, the
//! signature, the payment instruction) lives once per language in a *partial*: a file whose
//! name starts with `_` beside the templates (`templates/nl/_signature.txt`), pulled in with
//! `{% include "_signature.txt" %}`. It is read from the same playbooks (folder or built-in)
//! and the same language as the template that includes it, sees the same variables, and is
//! never a step's template itself. A missing or broken partial is reported with its file and
//! line like any template.
//!
//! **Working with the customer.** Promises, payment plans and disputes have messages of their
//! own that are not playbook steps ([`CARE_TEMPLATES`]: `broken-promise`, `promise-confirmation`,
//! `payment-plan-confirmation`, `instalment-reminder`, `payment-plan-broken` by e-mail or letter,
//! `dispute-overdue` as a task for a person), rendered with `step` 0, no interest or costs, and
//! the record they are about (`promise`, `payment_plan`, `instalment`, `dispute`). They lie
//! beside the steps' templates; a playbooks folder that lacks one in a language sends the
//! built-in one, read whole from the built-in set with its partials ([`care_template_source`]),
//! and `dunwell check` says so in a note ([`care_template_notes`]). An invoice with a disputed
//! part (`disputed`, `dispute_reason`) shows only the undisputed rest as open, and the shipped
//! `_invoices` partials say so under the table.

mod check;
mod format;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::ops::Range;

use chrono::NaiveDate;
use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value};
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

use crate::calendar::Jurisdiction;
use crate::model::{Customer, CustomerKind, Invoice, Language};
use crate::playbook::{Channel, MoneyAction, PlaybookSource, Step};

pub use crate::gsm::{parts as sms_parts, Encoding as SmsEncoding, SmsParts};
pub use check::{
    care_template_notes, check_be_first_reminder_text, check_care_template, check_care_templates,
    check_syntax, check_template, TemplatePart,
};
pub use format::{format_date, format_days, format_money, format_percent};

/// Everything a template may refer to. The field names are the template's vocabulary: renaming
/// one breaks every template that uses it, so treat them as a public interface (and keep
/// the list of names in error messages, `VOCABULARY`, in step).
///
/// Build one with [`MessageContext::new`] and [`MessageContext::for_step`]; the fields are
/// public so a caller can set what it computes itself (`deadline`, `fee`, collection costs
/// computed once on the total of several invoices).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageContext {
    pub business: BusinessContext,
    /// The business's contact person for questions about this message.
    pub contact: ContactContext,
    pub customer: CustomerContext,
    /// The invoice whose step sets the tone and the template: the most advanced of `invoices`
    /// (a copy of one of them). Templates written for one invoice keep working with it.
    pub invoice: InvoiceContext,
    /// Every invoice the message covers, at least one, all in the same currency, in the order
    /// the caller gives (oldest due date first reads best).
    pub invoices: Vec<InvoiceContext>,
    /// The sum of the invoices' open amounts.
    #[serde(serialize_with = "decimal_as_str")]
    pub total_open: Decimal,
    /// The reference to pay the whole message with: the invoice's own when there is one
    /// invoice; for several, the one the caller chose (absent: the texts ask to quote the
    /// invoice numbers). A BE structured reference is written `+++…+++`.
    pub payment_reference: Option<String>,
    /// The day the message is sent (or the call is made); letters are dated with it.
    pub today: NaiveDate,
    /// Days past the due date of `invoice` on `today`; negative before it.
    pub days_overdue: i64,
    /// Late-payment interest up to `today` on all the invoices, when the step announces or
    /// applies it (see `interest_action`).
    #[serde(serialize_with = "opt_decimal_as_str")]
    pub interest: Option<Decimal>,
    /// Collection costs (NL: BIK scale; BE: the contractual or statutory damages) on the
    /// invoices, when the step announces or applies them. An announcing step must show the
    /// exact amount.
    #[serde(serialize_with = "opt_decimal_as_str")]
    pub costs: Option<Decimal>,
    /// A reminder fee this message charges, when the step charges one (it is then part of
    /// `total_due`).
    #[serde(serialize_with = "opt_decimal_as_str")]
    pub fee: Option<Decimal>,
    /// What the debtor has to pay now: `total_open` plus whatever the step applies (interest,
    /// costs, fee); announced amounts are not included.
    #[serde(serialize_with = "opt_decimal_as_str")]
    pub total_due: Option<Decimal>,
    /// What the step does with interest for this customer (`none`, `announce`, `apply`): the
    /// consumer variant of the step for a consumer.
    pub interest_action: MoneyAction,
    /// What the step does with collection costs for this customer.
    pub costs_action: MoneyAction,
    /// The last day of the term this message gives, when it gives one (texts print it as a
    /// date).
    pub deadline: Option<NaiveDate>,
    /// The law that applies to this customer (`nl` or `be`): a consumer's own country's, a
    /// business customer's the business's unless it has its own. It picks the legal wording
    /// (Belgian terms in the Dutch texts, the legal basis of interest and costs).
    pub jurisdiction: Jurisdiction,
    /// The yearly interest rate in force on `today`, in percent (`10.15`), when the step
    /// announces or applies interest.
    #[serde(serialize_with = "opt_decimal_as_str")]
    pub interest_rate: Option<Decimal>,
    /// The legal basis of that interest: `nl-commercial` (wettelijke handelsrente, art. 6:119a
    /// BW), `nl-consumer` (wettelijke rente, art. 6:119 BW), `be-commercial` (wet van 2
    /// augustus 2002), `be-consumer` (Boek XIX WER).
    pub interest_basis: Option<String>,
    /// Whether `costs` include VAT (NL collection costs of a business that cannot deduct VAT).
    pub costs_include_vat: bool,
    /// The term an earlier message gave has run out: the text says so (and that the costs it
    /// announced are now due) instead of giving a new term.
    pub expired_term: Option<ExpiredTerm>,
    /// The playbook step number, 1-based (0 for a message of working with the customer: a
    /// broken promise, an instalment, a confirmation).
    pub step: u32,
    /// `email`, `sms`, `phone`, `letter`, `registered-letter` or `agency`.
    pub channel: Channel,
    /// The promise the message is about (a broken promise, a confirmation).
    pub promise: Option<PromiseContext>,
    /// The payment plan the message is about (a confirmation, an instalment, a broken plan).
    pub payment_plan: Option<PlanContext>,
    /// The instalment an instalment reminder is for (also in `payment_plan.instalments`).
    pub instalment: Option<InstalmentContext>,
    /// The dispute a task for a person is about (its deadline passed unresolved).
    pub dispute: Option<DisputeContext>,
}

/// A promise to pay, as the texts show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromiseContext {
    pub id: i64,
    /// The day the customer promised to pay by.
    pub date: NaiveDate,
    #[serde(serialize_with = "decimal_as_str")]
    pub amount: Decimal,
    /// The day the promise was made.
    pub made_on: NaiveDate,
    pub invoices: Vec<String>,
}

/// A payment plan, as the texts show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanContext {
    pub id: i64,
    pub made_on: NaiveDate,
    pub invoices: Vec<String>,
    pub instalments: Vec<InstalmentContext>,
    /// The sum of the instalments.
    #[serde(serialize_with = "decimal_as_str")]
    pub total: Decimal,
    /// What the payments have covered so far.
    #[serde(serialize_with = "decimal_as_str")]
    pub paid: Decimal,
    /// The instalment whose miss broke the plan.
    pub missed: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstalmentContext {
    /// 1-based.
    pub seq: u32,
    pub date: NaiveDate,
    #[serde(serialize_with = "decimal_as_str")]
    pub amount: Decimal,
    /// What the payments have covered of it.
    #[serde(serialize_with = "decimal_as_str")]
    pub paid: Decimal,
    /// What is still to pay of it.
    #[serde(serialize_with = "decimal_as_str")]
    pub open: Decimal,
    /// The reference to pay this instalment with (the plan's invoice's, when it is one).
    pub payment_reference: Option<String>,
}

/// A dispute, as a task for a person shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DisputeContext {
    pub id: i64,
    pub invoice: String,
    #[serde(serialize_with = "decimal_as_str")]
    pub amount: Decimal,
    /// The reason code (`wrong-amount`, `not-delivered`, `quality`, `administrative`, `other`,
    /// or one of the business's own).
    pub reason: String,
    pub note: Option<String>,
    pub made_on: NaiveDate,
    pub deadline: NaiveDate,
}

/// A term given by an earlier message that has run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExpiredTerm {
    /// The day the message that gave the term was sent.
    pub sent: NaiveDate,
    /// The term's last day.
    pub ended: NaiveDate,
    /// The collection costs (BE: the damages) the message names are owed since the term ran
    /// out: the message that gave it named them, and the customer's law makes them due after it
    /// (`plan::Action::costs_due`). The texts then say so, and never that paying now avoids
    /// them.
    pub costs_due: bool,
}

/// The creditor: the business that sends the reminders (`[business]` of dunwell.toml).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BusinessContext {
    /// The registered name (with its legal form when it is part of the name).
    pub name: String,
    /// `B.V.`, `BV`, `SRL`, `eenmanszaak`, … (printed after the name unless the name ends
    /// with it).
    pub legal_form: Option<String>,
    /// Postal address on one line, as it should appear under a signature.
    pub address: String,
    pub iban: String,
    pub bic: Option<String>,
    /// VAT number; absent for businesses outside the VAT system.
    pub vat_number: Option<String>,
    /// NL Kamer van Koophandel number, 8 digits (Handelsregisterwet art. 27: on letters and
    /// e-mails).
    pub kvk: Option<String>,
    /// BE enterprise number, written `0123.456.749` (a Belgian consumer's first reminder must
    /// show it).
    pub company_number: Option<String>,
    /// BE register of legal persons and its seat: `RPR Gent`, `RPM Liège`.
    pub rpr: Option<String>,
    pub website: Option<String>,
    /// Who signs the letters, and as what (`Anja van Dam`, `directeur`).
    pub signatory_name: Option<String>,
    pub signatory_role: Option<String>,
}

impl BusinessContext {
    /// The context of the configured business.
    pub fn from_business(b: &crate::config::Business) -> BusinessContext {
        let opt =
            |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        BusinessContext {
            name: b.name.trim().to_string(),
            legal_form: opt(&b.legal_form),
            address: b.address.trim().to_string(),
            iban: b.iban.trim().to_string(),
            bic: opt(&b.bic),
            vat_number: Some(b.vat_number.trim().to_string()).filter(|v| !v.is_empty()),
            kvk: opt(&b.kvk),
            company_number: opt(&b.company_number).map(|n| crate::config::format_company_number(&n)),
            rpr: opt(&b.rpr),
            website: opt(&b.website),
            signatory_name: opt(&b.signatory_name),
            signatory_role: opt(&b.signatory_role),
        }
    }
}

/// The person at the business the customer can call or write to about the message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContactContext {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerContext {
    pub id: String,
    pub name: String,
    /// Serialized as `b2b` / `b2c`, so templates can switch wording for consumers.
    pub kind: CustomerKind,
    /// ISO 3166 alpha-2, upper case (`NL`, `BE`), when the address has one.
    pub country: Option<String>,
    /// The language the message is written in (`nl`, `fr`, `en`, `de`): the customer's own,
    /// else the business's default. [`render_message`] picks the template file by it.
    pub language: Language,
    /// The person to address, by first and last name (`Anne Jansen`), when known: the texts
    /// then write "Geachte Anne Jansen", "Dear Anne Jansen", "Guten Tag Anne Jansen", which
    /// needs no title or gender; otherwise "Geachte heer, mevrouw", "Madame, Monsieur", …
    pub contact_name: Option<String>,
}

impl CustomerContext {
    /// The context of a stored customer, written in its language or else `default_language`.
    pub fn from_customer(c: &Customer, default_language: Language) -> CustomerContext {
        CustomerContext {
            id: c.id.clone(),
            name: c.name.clone(),
            kind: c.kind,
            country: c.address.country.clone(),
            language: c.language.unwrap_or(default_language),
            contact_name: c.contact.clone(),
        }
    }
}

/// One invoice of the message, with the amounts the step announces or applies to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvoiceContext {
    pub number: String,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    /// ISO 4217, upper case; the `money` filter uses it unless told otherwise.
    pub currency: String,
    #[serde(serialize_with = "decimal_as_str")]
    pub total: Decimal,
    /// What has been paid or credited: `total - open_amount`.
    #[serde(serialize_with = "decimal_as_str")]
    pub paid: Decimal,
    #[serde(serialize_with = "decimal_as_str")]
    pub open_amount: Decimal,
    /// Days past the due date on the message's day; negative before it.
    pub days_overdue: i64,
    /// Structured reference (NL betalingskenmerk, BE +++…+++, RF), when the invoice has one.
    pub payment_reference: Option<String>,
    /// Interest on this invoice up to the message's day, when the step announces or applies it.
    #[serde(serialize_with = "opt_decimal_as_str")]
    pub interest: Option<Decimal>,
    /// Collection costs on this invoice, when computed per invoice (absent when they are
    /// computed once on the total of the message).
    #[serde(serialize_with = "opt_decimal_as_str")]
    pub costs: Option<Decimal>,
    /// What is to be paid on this invoice now: open amount plus what the step applies to it.
    #[serde(serialize_with = "opt_decimal_as_str")]
    pub total_due: Option<Decimal>,
    /// The part of the invoice under an open dispute: not chased, and not in `open_amount`
    /// (which is then the undisputed rest the message asks for).
    #[serde(serialize_with = "opt_decimal_as_str")]
    pub disputed: Option<Decimal>,
    /// The dispute's reason code (`wrong-amount`, `not-delivered`, `quality`,
    /// `administrative`, `other`, or one of the business's own), with `disputed`.
    pub dispute_reason: Option<String>,
}

impl InvoiceContext {
    /// A stored invoice as seen on `today`, without amounts (set `interest`, `costs`,
    /// `total_due` and `payment_reference` from the plan's action).
    pub fn from_invoice(inv: &Invoice, today: NaiveDate) -> InvoiceContext {
        InvoiceContext {
            number: inv.number.clone(),
            issue_date: inv.issue_date,
            due_date: inv.due_date,
            currency: inv.currency.clone(),
            total: inv.total,
            paid: inv.total - inv.open_amount,
            open_amount: inv.open_amount,
            days_overdue: (today - inv.due_date).num_days(),
            payment_reference: None,
            interest: None,
            costs: None,
            total_due: None,
            disputed: None,
            dispute_reason: None,
        }
    }
}

/// A context that cannot describe a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot build the message: {0}")]
pub struct ContextError(pub String);

/// Amounts go into templates as exact decimal strings: minijinja has no decimal type, and a
/// float would round `2.005` the wrong way before the `money` filter ever saw it.
fn decimal_as_str<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.to_string())
}

fn opt_decimal_as_str<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&d.to_string()),
        None => s.serialize_none(),
    }
}

/// The sum of the values that are present; `None` when none is.
fn sum_present(values: impl Iterator<Item = Option<Decimal>>) -> Option<Decimal> {
    values.fold(None, |acc, v| match (acc, v) {
        (None, v) => v,
        (Some(a), Some(v)) => Some(a + v),
        (a, None) => a,
    })
}

impl MessageContext {
    /// The context of one message to `customer` about `invoices` (at least one, one currency),
    /// on `today`. `lead` is the index of the most advanced invoice, whose step sets the tone.
    ///
    /// Derived here: `invoice` (the lead), `days_overdue` (the lead's), `total_open`,
    /// `payment_reference` (the invoice's own when there is one invoice; for several, set it
    /// afterwards), and `interest`, `costs` and `total_due` as the sums of the invoices'
    /// amounts that are present (`total_due` only when every invoice has one). A caller that
    /// computes costs once on the total sets `costs` and `total_due` itself. Then call
    /// [`for_step`](Self::for_step).
    pub fn new(
        business: BusinessContext,
        contact: ContactContext,
        customer: CustomerContext,
        invoices: Vec<InvoiceContext>,
        lead: usize,
        today: NaiveDate,
    ) -> Result<MessageContext, ContextError> {
        let invoice = invoices
            .get(lead)
            .cloned()
            .ok_or_else(|| ContextError(format!("no invoice {lead} among the {} given", invoices.len())))?;
        if let Some(other) = invoices.iter().find(|i| i.currency != invoice.currency) {
            return Err(ContextError(format!(
                "invoices {} ({}) and {} ({}) are in different currencies; one message has one total, \
                 so send them separately",
                invoice.number, invoice.currency, other.number, other.currency
            )));
        }
        let total_open = invoices.iter().map(|i| i.open_amount).sum();
        let interest = sum_present(invoices.iter().map(|i| i.interest));
        let costs = sum_present(invoices.iter().map(|i| i.costs));
        // An invoice whose step applies nothing is owed at its open amount.
        let total_due = invoices
            .iter()
            .any(|i| i.total_due.is_some())
            .then(|| invoices.iter().map(|i| i.total_due.unwrap_or(i.open_amount)).sum());
        let payment_reference = match invoices.as_slice() {
            [one] => one.payment_reference.clone(),
            _ => None,
        };
        Ok(MessageContext {
            business,
            contact,
            customer,
            days_overdue: invoice.days_overdue,
            invoice,
            invoices,
            total_open,
            payment_reference,
            today,
            interest,
            costs,
            fee: None,
            total_due,
            interest_action: MoneyAction::None,
            costs_action: MoneyAction::None,
            deadline: None,
            jurisdiction: Jurisdiction::Nl,
            interest_rate: None,
            interest_basis: None,
            costs_include_vat: false,
            expired_term: None,
            step: 1,
            channel: Channel::Email,
            promise: None,
            payment_plan: None,
            instalment: None,
            dispute: None,
        })
    }

    /// For a message of working with the customer (no playbook step): it states no interest
    /// or costs of its own; `channel` is the one it goes out through.
    pub fn for_care(mut self, channel: Channel) -> MessageContext {
        self.step = 0;
        self.channel = channel;
        self.interest_action = MoneyAction::None;
        self.costs_action = MoneyAction::None;
        self
    }

    /// Sets what comes from the lead invoice's playbook step: its number, channel, and what it
    /// does with interest and costs for this customer's kind.
    pub fn for_step(mut self, step: &Step) -> MessageContext {
        let (interest, costs) = step.money_for(self.customer.kind);
        self.step = step.number;
        self.channel = step.channel;
        self.interest_action = interest;
        self.costs_action = costs;
        self
    }

    /// A complete context with every optional value present and two invoices, for `dunwell
    /// check` and for previewing a template without a database. Its amounts add up: the
    /// invoices' open amounts to `total_open`; `total_open`, `interest`, `costs` and `fee` to
    /// `total_due` (the step applies both interest and costs).
    pub fn sample() -> MessageContext {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        let today = date(2026, 4, 2);
        let first = InvoiceContext {
            number: "2026-0117".into(),
            issue_date: date(2026, 2, 1),
            due_date: date(2026, 3, 3),
            currency: "EUR".into(),
            total: Decimal::new(123456, 2),
            paid: Decimal::ZERO,
            open_amount: Decimal::new(123456, 2),
            days_overdue: 30,
            payment_reference: Some("1234 5678 9012 3456".into()),
            interest: Some(Decimal::new(1253, 2)),
            costs: None,
            total_due: None,
            disputed: None,
            dispute_reason: None,
        };
        let second = InvoiceContext {
            number: "2026-0142".into(),
            issue_date: date(2026, 2, 16),
            due_date: date(2026, 3, 18),
            currency: "EUR".into(),
            total: Decimal::new(75000, 2),
            paid: Decimal::new(25000, 2),
            open_amount: Decimal::new(50000, 2),
            days_overdue: 15,
            payment_reference: Some("1234 5678 9012 3464".into()),
            interest: Some(Decimal::new(205, 2)),
            costs: None,
            total_due: None,
            disputed: None,
            dispute_reason: None,
        };
        let mut ctx = MessageContext::new(
            BusinessContext {
                name: "Bakkerij Van Dam B.V.".into(),
                legal_form: Some("B.V.".into()),
                address: "Kerkstraat 12, 3811 CV Amersfoort".into(),
                iban: "NL91 ABNA 0417 1643 00".into(),
                bic: Some("ABNANL2A".into()),
                vat_number: Some("NL123456789B01".into()),
                kvk: Some("12345678".into()),
                company_number: Some("0123.456.749".into()),
                rpr: Some("RPR Gent".into()),
                website: Some("www.bakkerijvandam.nl".into()),
                signatory_name: Some("Anja van Dam".into()),
                signatory_role: Some("directeur".into()),
            },
            ContactContext {
                name: Some("Sanne de Boer".into()),
                phone: Some("+31 33 123 45 67".into()),
                email: Some("debiteuren@bakkerijvandam.nl".into()),
            },
            CustomerContext {
                id: "C-1042".into(),
                name: "Hotel De Linde".into(),
                kind: CustomerKind::B2b,
                country: Some("NL".into()),
                language: Language::Nl,
                contact_name: Some("Anne Jansen".into()),
            },
            vec![first, second],
            0,
            today,
        )
        .expect("the sample is consistent");
        // Interest 12.53 + 2.05; collection costs once on the total open of 1,734.56 (BIK
        // 15 %); a reminder fee; all applied.
        ctx.payment_reference = Some("1234 5678 9012 3472".into());
        ctx.costs = Some(Decimal::new(26018, 2));
        ctx.fee = Some(Decimal::new(750, 2));
        ctx.total_due =
            Some(ctx.total_open + Decimal::new(1458, 2) + Decimal::new(26018, 2) + Decimal::new(750, 2));
        ctx.interest_action = MoneyAction::Apply;
        ctx.costs_action = MoneyAction::Apply;
        ctx.deadline = Some(date(2026, 4, 16));
        ctx.jurisdiction = Jurisdiction::Nl;
        ctx.interest_rate = Some(Decimal::new(1015, 2));
        ctx.interest_basis = Some("nl-commercial".into());
        ctx.costs_include_vat = false;
        ctx.expired_term =
            Some(ExpiredTerm { sent: date(2026, 3, 18), ended: date(2026, 4, 1), costs_due: true });
        ctx.step = 5;
        // Working with the customer: a promise for both invoices, a plan of three instalments
        // (the first paid, the second in part), its second instalment, and a dispute about
        // part of the second invoice whose deadline passed yesterday.
        let numbers: Vec<String> = ctx.invoices.iter().map(|i| i.number.clone()).collect();
        ctx.promise = Some(PromiseContext {
            id: 7,
            date: date(2026, 3, 27),
            amount: ctx.total_open,
            made_on: date(2026, 3, 20),
            invoices: numbers.clone(),
        });
        let instalment = |seq, date, amount: Decimal, paid: Decimal, reference: &str| InstalmentContext {
            seq,
            date,
            amount,
            paid,
            open: amount - paid,
            payment_reference: Some(reference.to_string()),
        };
        let instalments = vec![
            instalment(
                1,
                date(2026, 4, 1),
                Decimal::new(57819, 2),
                Decimal::new(57819, 2),
                "1234 5678 9012 3480",
            ),
            instalment(
                2,
                date(2026, 5, 1),
                Decimal::new(57819, 2),
                Decimal::new(7819, 2),
                "1234 5678 9012 3498",
            ),
            instalment(3, date(2026, 6, 1), Decimal::new(57818, 2), Decimal::ZERO, "1234 5678 9012 3502"),
        ];
        ctx.instalment = Some(instalments[1].clone());
        ctx.payment_plan = Some(PlanContext {
            id: 3,
            made_on: date(2026, 3, 25),
            invoices: numbers,
            total: instalments.iter().map(|i| i.amount).sum(),
            paid: instalments.iter().map(|i| i.paid).sum(),
            instalments,
            missed: None,
        });
        ctx.dispute = Some(DisputeContext {
            id: 4,
            invoice: "2026-0142".into(),
            amount: Decimal::new(20000, 2),
            reason: "quality".into(),
            note: Some("Twee dozen croissants kwamen beschadigd aan.".into()),
            made_on: date(2026, 3, 4),
            deadline: date(2026, 4, 1),
        });
        ctx
    }

    /// [`sample`](Self::sample) with the sample dispute applied to the second invoice: 200.00
    /// of its 500.00 open is disputed (`quality`), so it asks for the undisputed 300.00, and
    /// `total_open` and `total_due` are what the reminder then chases.
    pub fn sample_disputed() -> MessageContext {
        let mut ctx = MessageContext::sample();
        let dispute = ctx.dispute.clone().expect("the sample has a dispute");
        dispute_part(&mut ctx, &dispute);
        ctx
    }

    /// The sample shaped as the planner builds message `template` of [`CARE_TEMPLATES`]: for its
    /// first channel, step 0, no interest, costs or fee, and only the record it is about (the
    /// promise; the plan, with its instalment for a reminder and the missed one for a broken
    /// plan; the dispute, on a partly disputed invoice). `None` for another name.
    pub fn sample_care(template: &str) -> Option<MessageContext> {
        let (_, channels) = CARE_TEMPLATES.iter().find(|(n, _)| *n == template)?;
        let mut ctx = MessageContext::sample().for_care(channels[0]);
        shape_care(&mut ctx, template);
        Some(ctx)
    }
}

/// Marks `dispute`'s amount of its invoice in `ctx` as disputed: out of the open amount (which
/// is then the undisputed rest) and out of `total_open` (and `total_due`).
pub(crate) fn dispute_part(ctx: &mut MessageContext, dispute: &DisputeContext) {
    let mut taken = Decimal::ZERO;
    for i in ctx.invoices.iter_mut().filter(|i| i.number == dispute.invoice && i.disputed.is_none()) {
        let part = dispute.amount.min(i.open_amount);
        i.disputed = Some(part);
        i.dispute_reason = Some(dispute.reason.clone());
        i.open_amount -= part;
        i.total_due = i.total_due.map(|t| t - part);
        taken += part;
    }
    if let Some(i) = ctx.invoices.iter().find(|i| i.number == ctx.invoice.number) {
        ctx.invoice = i.clone();
    }
    ctx.total_open -= taken;
    ctx.total_due = ctx.total_due.map(|t| t - taken);
}

/// Shapes a context for care message `template` the way the planner sends it: no interest,
/// costs or fee of its own; the promise's and the plan's invoices those of the message; only
/// the record the message is about; a broken plan names its missed instalment (the second); a
/// dispute task is about the last invoice of the message, part of which is disputed.
pub(crate) fn shape_care(ctx: &mut MessageContext, template: &str) {
    ctx.step = 0;
    ctx.interest_action = MoneyAction::None;
    ctx.costs_action = MoneyAction::None;
    ctx.interest = None;
    ctx.costs = None;
    ctx.fee = None;
    ctx.total_due = None;
    ctx.interest_rate = None;
    ctx.interest_basis = None;
    ctx.expired_term = None;
    for i in &mut ctx.invoices {
        (i.interest, i.costs, i.total_due) = (None, None, None);
    }
    ctx.invoice.interest = None;
    let numbers: Vec<String> = ctx.invoices.iter().map(|i| i.number.clone()).collect();
    if let Some(p) = &mut ctx.promise {
        p.invoices = numbers.clone();
        p.amount = ctx.total_open;
    }
    if let Some(p) = &mut ctx.payment_plan {
        p.invoices = numbers;
    }
    let (promise, plan, instalment, dispute) = match template {
        "broken-promise" | "promise-confirmation" => (true, false, false, false),
        "payment-plan-confirmation" | "payment-plan-broken" => (false, true, false, false),
        "instalment-reminder" => (false, true, true, false),
        "dispute-overdue" => (false, false, false, true),
        _ => (true, true, true, true),
    };
    if !promise {
        ctx.promise = None;
    }
    if !plan {
        ctx.payment_plan = None;
    }
    if !instalment {
        ctx.instalment = None;
    }
    if template == "payment-plan-broken" {
        if let Some(p) = &mut ctx.payment_plan {
            p.missed = Some(2);
        }
    }
    let last = ctx.invoices.last().map(|i| i.number.clone());
    match (dispute, ctx.dispute.take(), last) {
        (true, Some(mut d), Some(last)) => {
            d.invoice = last;
            dispute_part(ctx, &d);
            ctx.dispute = Some(d);
        }
        (_, d, _) => ctx.dispute = if dispute { d } else { None },
    }
}

/// The text part of a rendered template: the subject goes into the e-mail header or the
/// letter's subject line, the body into the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: Option<String>,
    pub body: String,
}

/// A rendered message, ready for its channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// E-mail subject, or a letter's subject line; `None` for SMS, call scripts, case files.
    pub subject: Option<String>,
    /// The plain-text body: the e-mail's text part, the SMS, the letter's body, the call script.
    pub text: String,
    /// The e-mail's HTML part (a whole document); `None` for other channels.
    pub html: Option<String>,
    /// For an SMS: its encoding and the number of parts it is sent as.
    pub sms: Option<SmsParts>,
}

/// A template that cannot be used, with where and what to fix. `name` is whatever the caller
/// passed (normally the path below `playbooks/templates`), so the operator can open the file.
/// When the problem is inside a partial the template includes, `partial` names that file
/// (`_signature.txt`, beside the template) and `line` is its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template {name}{}{}: syntax error: {message}", in_partial(partial), at_line(*.line))]
    Syntax { name: String, partial: Option<String>, line: Option<usize>, message: String },
    #[error("template {name}{}{}: {message}", in_partial(partial), at_line(*.line))]
    Render { name: String, partial: Option<String>, line: Option<usize>, message: String },
    /// The text rendered, but is not shaped the way its channel needs (e-mail without subject).
    #[error("template {name}: {message}")]
    Layout { name: String, message: String },
    /// The file a step needs is not there (or cannot be read).
    #[error("template {name}: {message}")]
    Missing { name: String, message: String },
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

fn in_partial(partial: &Option<String>) -> String {
    partial.as_deref().map(|p| format!(", in the included {p}")).unwrap_or_default()
}

/// The variables a template can use, listed in error messages so the fix is one glance away.
const VOCABULARY: &str = "business.{name, legal_form, address, iban, bic, vat_number, kvk, \
     company_number, rpr, website, signatory_name, signatory_role}, contact.{name, phone, email}, \
     customer.{id, name, kind, country, language, contact_name}, \
     invoice and each of invoices.{number, issue_date, due_date, currency, total, paid, open_amount, \
     days_overdue, payment_reference, interest, costs, total_due, disputed, dispute_reason}, \
     total_open, payment_reference, today, days_overdue, interest, costs, fee, total_due, \
     interest_action, costs_action, deadline, jurisdiction, interest_rate, interest_basis, \
     costs_include_vat, expired_term.{sent, ended, costs_due}, step, channel, \
     promise.{id, date, amount, made_on, invoices}, \
     payment_plan.{id, made_on, invoices, instalments, total, paid, missed}, \
     instalment and each of payment_plan.instalments.{seq, date, amount, paid, open, payment_reference}, \
     dispute.{id, invoice, amount, reason, note, made_on, deadline}";

/// Where `{% include %}` reads partials from: `templates/<lang>/` of the template's playbooks.
#[derive(Debug, Clone, Copy)]
struct Partials<'a> {
    source: &'a PlaybookSource,
    lang: Language,
}

impl Partials<'_> {
    fn path(&self, name: &str) -> String {
        format!("templates/{}/{name}", self.lang.as_str())
    }

    /// The text of partial `name`: `Ok(None)` when there is no such file.
    fn read(&self, name: &str) -> Result<Option<String>, minijinja::Error> {
        if !is_partial_name(name) {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "`{name}` cannot be included: only partials can, files beside the template whose \
                     name starts with `_` (such as \"_signature.txt\"), without a folder"
                ),
            ));
        }
        self.source
            .read_file(&self.path(name))
            .map_err(|msg| minijinja::Error::new(ErrorKind::InvalidOperation, format!("{name}: {msg}")))
    }
}

/// A partial's name: `_` then letters, digits, `-`, `_` and `.`; no folder, no `..`.
pub fn is_partial_name(name: &str) -> bool {
    name.len() > 1
        && name.starts_with('_')
        && !name.contains("..")
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl TemplateError {
    pub fn name(&self) -> &str {
        match self {
            TemplateError::Syntax { name, .. }
            | TemplateError::Render { name, .. }
            | TemplateError::Layout { name, .. }
            | TemplateError::Missing { name, .. } => name,
        }
    }

    /// The line of the problem: in the partial when [`partial`](Self::partial) names one, else
    /// in the template.
    pub fn line(&self) -> Option<usize> {
        match self {
            TemplateError::Syntax { line, .. } | TemplateError::Render { line, .. } => *line,
            TemplateError::Layout { .. } | TemplateError::Missing { .. } => None,
        }
    }

    /// The included partial the problem is in (its file name, beside the template), if any.
    pub fn partial(&self) -> Option<&str> {
        match self {
            TemplateError::Syntax { partial, .. } | TemplateError::Render { partial, .. } => {
                partial.as_deref()
            }
            TemplateError::Layout { .. } | TemplateError::Missing { .. } => None,
        }
    }

    /// Turns minijinja's terse error into one that quotes the offending text and says what to
    /// change, because the reader is a bookkeeper editing a text file, not a Rust developer.
    /// An error inside an included partial is reported at the partial's line, quoting the
    /// partial (read again from `partials`).
    fn from_minijinja(
        name: &str,
        source: &str,
        err: minijinja::Error,
        partials: Option<Partials<'_>>,
    ) -> TemplateError {
        // An error inside an include is wrapped ("error in \"_x.txt\""): report the inner one.
        let mut err = &err;
        while err.kind() == ErrorKind::BadInclude {
            match std::error::Error::source(err).and_then(|e| e.downcast_ref::<minijinja::Error>()) {
                Some(inner) => err = inner,
                None => break,
            }
        }
        let partial = err.name().filter(|n| *n != name && is_partial_name(n)).map(str::to_string);
        let partial_source =
            partial.as_deref().and_then(|p| partials.and_then(|ps| ps.read(p).ok().flatten()));
        let source = partial_source.as_deref().unwrap_or(source);
        let line = err.line();
        let quoted = err
            .range()
            .and_then(|r| snippet(source, r))
            .or_else(|| line.and_then(|l| source.lines().nth(l - 1)).map(|t| t.trim().to_string()));
        let detail = err.detail().unwrap_or("").to_string();
        let name = name.to_string();
        match err.kind() {
            ErrorKind::SyntaxError => {
                let mut message =
                    if detail.is_empty() { "the template does not parse".to_string() } else { detail };
                if let Some(q) = quoted {
                    let _ = write!(message, " (in `{q}`)");
                }
                message.push_str(
                    "; check that every `{{` has a matching `}}`, every `{%` a matching `%}`, \
                     and every `{% if %}` / `{% for %}` its `{% endif %}` / `{% endfor %}`",
                );
                TemplateError::Syntax { name, partial, line, message }
            }
            ErrorKind::UndefinedError => {
                // A filter given an undefined value is blamed on the filter (`money`): quote
                // the whole `{{ … | money }}` instead, which names the misspelt variable.
                let quoted = match (&quoted, line.and_then(|l| source.lines().nth(l - 1))) {
                    (Some(q), Some(text)) if ["money", "date", "days", "percent"].contains(&q.as_str()) => {
                        expression_with_filter(text, q).or(quoted)
                    }
                    _ => quoted,
                };
                let what = quoted.map(|q| format!("`{q}`")).unwrap_or_else(|| "a variable".to_string());
                let message = format!(
                    "{what} is not defined; check the spelling. Available: {VOCABULARY}. \
                     Use `{{% if x is defined %}}` only for values that may really be missing"
                );
                TemplateError::Render { name, partial, line, message }
            }
            ErrorKind::UnknownFilter => {
                let message = format!(
                    "{detail}; the message filters are `money`, `date`, `days` and `percent` (plus \
                     minijinja's built-in filters such as `upper`, `join` and `default`)"
                );
                TemplateError::Render { name, partial, line, message }
            }
            ErrorKind::TemplateNotFound => {
                let wanted = detail.split('"').nth(1).unwrap_or(detail.as_str()).to_string();
                let file = match partials {
                    Some(ps) if is_partial_name(&wanted) => {
                        ps.source.display(&ps.path(&wanted)).display().to_string()
                    }
                    _ => wanted.clone(),
                };
                let message = format!(
                    "`{{% include \"{wanted}\" %}}`: there is no {file}; a partial is a file beside the \
                     template, in the same language folder, whose name starts with `_`"
                );
                TemplateError::Render { name, partial, line, message }
            }
            kind => {
                let mut message =
                    if detail.is_empty() { kind.to_string() } else { format!("{kind}: {detail}") };
                if let Some(q) = quoted {
                    let _ = write!(message, " (in `{q}`)");
                }
                TemplateError::Render { name, partial, line, message }
            }
        }
    }
}

/// The `{{ … }}` expression of `line` that applies `filter`, without the braces.
fn expression_with_filter(line: &str, filter: &str) -> Option<String> {
    line.split("{{").skip(1).filter_map(|rest| rest.split_once("}}").map(|(e, _)| e.trim())).find_map(|e| {
        e.split('|').skip(1).any(|f| f.trim().split('(').next() == Some(filter)).then(|| e.to_string())
    })
}

fn snippet(source: &str, range: Range<usize>) -> Option<String> {
    let s = source.get(range)?.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Builds the environment for one language and currency. It is rebuilt per render because the
/// filters close over both; that costs microseconds, next to an SMTP round trip. `html` turns
/// HTML auto-escaping on, for the HTML part of an e-mail. With `partials`, `{% include %}`
/// reads `_name` files from the language folder of those playbooks.
fn environment<'s>(
    lang: Language,
    currency: &str,
    html: bool,
    partials: Option<Partials<'_>>,
) -> Environment<'s> {
    let mut env = Environment::new();
    if let Some(p) = partials {
        let source = p.source.clone();
        env.set_loader(move |name| Partials { source: &source, lang }.read(name));
    }
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_debug(true);
    // Block tags on their own line must not leave blank lines in a plain-text letter.
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    // Plain text must not be escaped ("Smith & Co" is not "Smith &amp; Co"); HTML must be.
    env.set_auto_escape_callback(move |_| if html { AutoEscape::Html } else { AutoEscape::None });
    env.set_formatter(|out, state, value| {
        if value.is_none() {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                "this value is empty for this message and would print as `none`; print it inside \
                 `{% if … %}` … `{% endif %}` (or give a fallback with `| default(\"…\")`)",
            ));
        }
        minijinja::escape_formatter(out, state, value)
    });
    let default_currency = currency.to_string();
    env.add_filter("money", move |value: Value, currency: Option<String>| {
        let amount = value_to_decimal(&value, "money")?;
        let currency = currency.as_deref().unwrap_or(&default_currency);
        Ok::<_, minijinja::Error>(format_money(amount, currency, lang))
    });
    env.add_filter("date", move |value: Value| {
        let date = value_to_date(&value)?;
        Ok::<_, minijinja::Error>(format_date(date, lang))
    });
    env.add_filter("percent", move |value: Value| {
        let rate = value_to_decimal(&value, "percent")?;
        Ok::<_, minijinja::Error>(format_percent(rate, lang))
    });
    env.add_filter("days", move |value: Value| {
        let days = match value.kind() {
            ValueKind::Undefined => return Err(minijinja::Error::from(ErrorKind::UndefinedError)),
            ValueKind::Number => i64::try_from(value.clone()).ok(),
            _ => None,
        }
        .ok_or_else(|| filter_error(format!("`days` needs a whole number of days, got `{value}`")))?;
        Ok::<_, minijinja::Error>(format_days(days, lang))
    });
    env
}

fn filter_error(message: String) -> minijinja::Error {
    minijinja::Error::new(ErrorKind::InvalidOperation, message)
}

fn value_to_decimal(value: &Value, filter: &str) -> Result<Decimal, minijinja::Error> {
    match value.kind() {
        ValueKind::Undefined => Err(minijinja::Error::from(ErrorKind::UndefinedError)),
        ValueKind::None => Err(filter_error(format!(
            "`{filter}` got an empty amount: this value is absent for this step; \
             guard it with `{{% if … is not none %}}`"
        ))),
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default().trim();
            Decimal::from_str_exact(s)
                .map_err(|_| filter_error(format!("`{filter}` needs an amount, got the text `{s}`")))
        }
        ValueKind::Number => i64::try_from(value.clone()).map(Decimal::from).map_err(|_| {
            filter_error(format!(
                "`{filter}` got the fractional number {value}, which would lose cents in binary floating \
                 point; write it as a quoted string such as \"{value}\""
            ))
        }),
        _ => Err(filter_error(format!("`{filter}` needs an amount, got `{value}`"))),
    }
}

fn value_to_date(value: &Value) -> Result<NaiveDate, minijinja::Error> {
    match value.kind() {
        ValueKind::Undefined => Err(minijinja::Error::from(ErrorKind::UndefinedError)),
        ValueKind::None => Err(filter_error(
            "`date` got an empty date: this value is absent for this step; \
             guard it with `{% if … is not none %}`"
                .into(),
        )),
        _ => {
            let s = value.as_str().map(str::trim).unwrap_or_default();
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| filter_error(format!("`date` needs a date like 2026-03-03, got `{value}`")))
        }
    }
}

/// Renders the text part of a template (`<name>.txt`) in `lang`. `name` is only used in error
/// messages. The subject line is split off and checked against `ctx.channel`: e-mails and
/// letters need one, SMS, call scripts and case files must not have one.
pub fn render(
    source: &str,
    name: &str,
    lang: Language,
    ctx: &MessageContext,
) -> Result<Rendered, TemplateError> {
    render_text(source, name, lang, ctx, None)
}

fn render_text(
    source: &str,
    name: &str,
    lang: Language,
    ctx: &MessageContext,
    partials: Option<Partials<'_>>,
) -> Result<Rendered, TemplateError> {
    Compiled::new(source, name, lang, &ctx.invoice.currency, false, partials)?.render_text(ctx)
}

/// The text part as rendered, split into subject and body, with the layout its channel needs.
fn text_layout(text: &str, name: &str, ctx: &MessageContext) -> Result<Rendered, TemplateError> {
    let (subject, body) = split_subject(text);
    let layout = |message: String| TemplateError::Layout { name: name.to_string(), message };
    if needs_subject(ctx.channel) && subject.as_deref().is_none_or(str::is_empty) {
        return Err(layout(format!(
            "a{} {} template must start with a `Subject: ...` line (with text after the colon), then \
             one blank line, then the body",
            if ctx.channel == Channel::Email { "n" } else { "" },
            ctx.channel.as_str()
        )));
    }
    if !needs_subject(ctx.channel) && subject.is_some() {
        return Err(layout(format!(
            "a{} {} template has no subject; remove the `Subject:` line",
            if ctx.channel == Channel::Agency { "n" } else { "" },
            ctx.channel.as_str()
        )));
    }
    if body.is_empty() {
        return Err(layout("the message body is empty; write the text below the subject line".into()));
    }
    Ok(Rendered { subject, body })
}

/// Renders the HTML part of an e-mail template (`<name>.html`) with auto-escaping on, and
/// wraps a body fragment in a minimal document titled `subject`.
pub fn render_html(
    source: &str,
    name: &str,
    lang: Language,
    ctx: &MessageContext,
    subject: &str,
) -> Result<String, TemplateError> {
    render_html_in(source, name, lang, ctx, subject, None)
}

fn render_html_in(
    source: &str,
    name: &str,
    lang: Language,
    ctx: &MessageContext,
    subject: &str,
    partials: Option<Partials<'_>>,
) -> Result<String, TemplateError> {
    Compiled::new(source, name, lang, &ctx.invoice.currency, true, partials)?.render_html(ctx, subject)
}

/// The HTML part as rendered: a body fragment wrapped in a minimal document titled `subject`.
fn html_document(body: &str, name: &str, lang: Language, subject: &str) -> Result<String, TemplateError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(TemplateError::Layout {
            name: name.to_string(),
            message: "the HTML body is empty; write the message in it".into(),
        });
    }
    let head = body.get(..14).unwrap_or(body).to_ascii_lowercase();
    if head.starts_with("<!doctype") || head.starts_with("<html") {
        return Ok(format!("{body}\n"));
    }
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n</head>\n\
         <body style=\"font-family: Arial, Helvetica, sans-serif; font-size: 15px; line-height: 1.5; color: #222222;\">\n\
         {body}\n</body>\n</html>\n",
        escape_html(subject)
    ))
}

/// Whether a channel's template starts with a `Subject:` line.
fn needs_subject(channel: Channel) -> bool {
    matches!(channel, Channel::Email | Channel::Letter | Channel::RegisteredLetter)
}

/// Whether a channel's template has an HTML part (`<name>.html`) beside the text.
pub fn has_html(channel: Channel) -> bool {
    channel == Channel::Email
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// The template sources of one step in one language.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// `<name>.txt`, and the name to report it by.
    pub text: (&'a str, &'a str),
    /// `<name>.html` for an e-mail, and the name to report it by.
    pub html: Option<(&'a str, &'a str)>,
    /// The playbooks the partials they include are read from (in the message's language);
    /// `None`: they include none.
    pub partials: Option<&'a PlaybookSource>,
}

/// Renders one message for its channel (`ctx.channel`) from template sources already read;
/// see [`render_message`].
pub fn render_message_from(sources: Sources<'_>, ctx: &MessageContext) -> Result<Message, TemplateError> {
    let lang = ctx.customer.language;
    let partials = sources.partials.map(|source| Partials { source, lang });
    let (text_source, text_name) = sources.text;
    let Rendered { subject, body } = render_text(text_source, text_name, lang, ctx, partials)?;
    let html = match (has_html(ctx.channel), sources.html) {
        (true, Some((html_source, html_name))) => Some(render_html_in(
            html_source,
            html_name,
            lang,
            ctx,
            subject.as_deref().unwrap_or_default(),
            partials,
        )?),
        (true, None) => {
            return Err(TemplateError::Missing {
                name: text_name.to_string(),
                message: "an e-mail needs an HTML body beside the text: the `.html` file is missing".into(),
            })
        }
        (false, _) => None,
    };
    let sms = (ctx.channel == Channel::Sms).then(|| sms_parts(&body));
    Ok(Message { subject, text: body, html, sms })
}

/// Renders the message of playbook template `template` for `ctx`: in the customer's language
/// (`ctx.customer.language`), for the step's channel (`ctx.channel`), reading
/// `templates/<lang>/<template>.txt` (and `.html` for an e-mail) from `source`. A care
/// template ([`CARE_TEMPLATES`]) that `source` lacks in that language is the built-in one, read
/// with the built-in partials ([`care_template_source`]); a step's template is only ever read
/// from `source`.
///
/// For an outbox entry covering several invoices of one customer:
///
/// ```ignore
/// let invoices = actions.iter().map(|a| {
///     let mut i = InvoiceContext::from_invoice(invoice_of(a), a.date);
///     (i.interest, i.costs, i.total_due, i.payment_reference) =
///         (a.interest, a.costs, a.total_due, a.payment_reference.clone());
///     i
/// }).collect();
/// let mut ctx = MessageContext::new(business, contact, customer, invoices, lead, day)?.for_step(step);
/// ctx.payment_reference = Some(reference_for_the_whole);
/// let message = render_message(&playbooks.source, &step.template, &ctx)?;
/// ```
pub fn render_message(
    source: &PlaybookSource,
    template: &str,
    ctx: &MessageContext,
) -> Result<Message, TemplateError> {
    let lang = ctx.customer.language;
    let source = care_template_source(source, lang, template)?;
    let read = |rel: String| -> Result<(String, String), TemplateError> {
        let name = source.display(&rel).display().to_string();
        match source.read_file(&rel) {
            Ok(Some(text)) => Ok((text, name)),
            Ok(None) => Err(TemplateError::Missing {
                message: format!(
                    "the {} step's template `{template}` has no file for language `{lang}`",
                    ctx.channel.as_str()
                ),
                name,
            }),
            Err(message) => Err(TemplateError::Missing { name, message }),
        }
    };
    let (text, text_name) = read(PlaybookSource::template_path(lang, template))?;
    let html = if has_html(ctx.channel) {
        Some(read(PlaybookSource::html_template_path(lang, template))?)
    } else {
        None
    };
    let sources = Sources {
        text: (&text, &text_name),
        html: html.as_ref().map(|(s, n)| (s.as_str(), n.as_str())),
        partials: Some(source),
    };
    render_message_from(sources, ctx)
}

/// The messages of working with the customer that are not playbook steps, each with the
/// channels it can go by. The planner names them (`plan::ActionKind::template`); their files lie
/// beside the steps' (`templates/<lang>/<name>.txt`, and `.html` for those that can go by e-mail),
/// and a playbooks folder that lacks one uses the built-in one ([`care_template_source`]).
pub const CARE_TEMPLATES: &[(&str, &[Channel])] = &[
    ("broken-promise", &[Channel::Email, Channel::Letter]),
    ("promise-confirmation", &[Channel::Email, Channel::Letter]),
    ("payment-plan-confirmation", &[Channel::Email, Channel::Letter]),
    ("instalment-reminder", &[Channel::Email, Channel::Letter]),
    ("payment-plan-broken", &[Channel::Email, Channel::Letter]),
    ("dispute-overdue", &[Channel::Phone]),
];

/// Whether `name` is one of the [`CARE_TEMPLATES`].
pub fn is_care_template(name: &str) -> bool {
    CARE_TEMPLATES.iter().any(|(n, _)| *n == name)
}

/// The built-in playbooks, as a source to read a care template from.
static BUILT_IN: PlaybookSource = PlaybookSource::Builtin;

/// Where template `name` in `lang` is read from, with the partials it includes: `source`,
/// except for a care template ([`CARE_TEMPLATES`]) that `source` has no `.txt` of in `lang`,
/// which comes from the built-in set as a whole (its text, its HTML and its partials), so a
/// playbooks folder written before these messages existed still sends them. The folder's own
/// file wins when it is there (it then needs its own `.html` for an e-mail, like a step's
/// template). A file that cannot be read is an error, not a reason to fall back.
pub fn care_template_source<'a>(
    source: &'a PlaybookSource,
    lang: Language,
    name: &str,
) -> Result<&'a PlaybookSource, TemplateError> {
    if !is_care_template(name) || matches!(source, PlaybookSource::Builtin) {
        return Ok(source);
    }
    let rel = PlaybookSource::template_path(lang, name);
    match source.read_file(&rel) {
        Ok(Some(_)) => Ok(source),
        Ok(None) => Ok(&BUILT_IN),
        Err(message) => {
            Err(TemplateError::Missing { name: source.display(&rel).display().to_string(), message })
        }
    }
}

/// One template file parsed once and rendered for one context (a message) or many. `dunwell
/// check` renders each file against half a dozen sample contexts on every start of the daemon
/// and on the first command in a data directory; parsing the file and the partials it includes
/// for every one of them was most of the check's time. The environment is rebuilt only when a
/// context's currency differs (the `money` filter closes over it).
struct Compiled<'p> {
    env: Environment<'static>,
    name: String,
    source: String,
    lang: Language,
    html: bool,
    currency: String,
    partials: Option<Partials<'p>>,
}

impl<'p> Compiled<'p> {
    /// Parses `source` for amounts in `currency`: a syntax error is returned here, with its line.
    fn new(
        source: &str,
        name: &str,
        lang: Language,
        currency: &str,
        html: bool,
        partials: Option<Partials<'p>>,
    ) -> Result<Compiled<'p>, TemplateError> {
        let mut compiled = Compiled {
            // A placeholder (no built-ins registered) until the file is parsed just below.
            env: Environment::empty(),
            name: name.to_string(),
            source: source.to_string(),
            lang,
            html,
            currency: currency.to_string(),
            partials,
        };
        compiled.env = compiled.environment()?;
        Ok(compiled)
    }

    /// The environment for `self.currency`, with the file parsed in it.
    fn environment(&self) -> Result<Environment<'static>, TemplateError> {
        let mut env = environment(self.lang, &self.currency, self.html, self.partials);
        env.add_template_owned(self.name.clone(), self.source.clone())
            .map_err(|e| TemplateError::from_minijinja(&self.name, &self.source, e, self.partials))?;
        Ok(env)
    }

    /// The template rendered for `ctx`, before its channel's layout is checked.
    fn render(&mut self, ctx: &MessageContext) -> Result<String, TemplateError> {
        if ctx.invoice.currency != self.currency {
            self.currency = ctx.invoice.currency.clone();
            self.env = self.environment()?;
        }
        let failed = |e| TemplateError::from_minijinja(&self.name, &self.source, e, self.partials);
        self.env.get_template(&self.name).and_then(|t| t.render(ctx)).map_err(failed)
    }

    /// The text part for `ctx`: subject and body, with the layout its channel needs.
    fn render_text(&mut self, ctx: &MessageContext) -> Result<Rendered, TemplateError> {
        let text = self.render(ctx)?;
        text_layout(&text, &self.name, ctx)
    }

    /// The HTML part for `ctx`, as a whole document titled `subject`.
    fn render_html(&mut self, ctx: &MessageContext, subject: &str) -> Result<String, TemplateError> {
        let body = self.render(ctx)?;
        html_document(&body, &self.name, self.lang, subject)
    }
}

/// Splits off a leading `Subject:` line. Leading blank lines of the body and trailing white
/// space are dropped, so a template's exact spacing around blocks does not leak into the mail.
fn split_subject(text: &str) -> (Option<String>, String) {
    let text = text.trim_start_matches(['\n', '\r']);
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let subject = first.trim_end_matches('\r').strip_prefix("Subject:").map(|s| s.trim().to_string());
    let body = if subject.is_some() { rest } else { text };
    (subject, body.trim_start_matches(['\n', '\r']).trim_end().to_string())
}
