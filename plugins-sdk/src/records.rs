//! Constructors and chained setters for the records, so that a connector writes what its
//! source has and nothing else: every optional field starts empty, every flag false.
//!
//! ```
//! use dunwell_plugin_sdk::prelude::*;
//!
//! let invoice = Invoice::new("inv-17", "2026-0017", "C1", "2026-01-05", "2026-02-04", "EUR", "121.00")
//!     .open("21.00")
//!     .reference("RF18539007547034");
//! assert_eq!(invoice.open.as_deref(), Some("21.00"));
//! assert_eq!(invoice.status, InvoiceStatus::Open);
//!
//! let paid = Invoice::new("inv-18", "2026-0018", "C1", "2026-01-06", "2026-02-05", "EUR", Decimal::new(5000, 2))
//!     .paid()
//!     .paid_date("2026-01-20");
//! assert_eq!(paid.total, "50.00");
//!
//! let customer = Customer::new("c-1", "C1", "Bakkerij De Korenaar BV")
//!     .email("debiteuren@korenaar.example")
//!     .city("Utrecht")
//!     .country("NL");
//! assert_eq!(customer.address.city.as_deref(), Some("Utrecht"));
//!
//! let payment = Payment::new("pay-1", "100.00", "EUR", "2026-01-20").invoice_number("2026-0017");
//! assert!(!payment.removed);
//! ```
//!
//! Optional fields take a value or an `Option` of one, so a field the source may lack is
//! passed on as it is: `.email(row.email)` with `row.email: Option<String>`. Amounts take
//! decimal text or a [`Decimal`] (written with [`crate::decimal::format_amount`], its scale
//! kept).

use rust_decimal::Decimal;

use crate::decimal::format_amount;
use crate::{Address, Customer, CustomerKind, DocumentKind, Invoice, InvoiceStatus, Payment};

/// An amount as the contract carries it: decimal text as it is, a [`Decimal`] written exactly.
pub trait IntoAmount {
    /// The amount's text (`"121.00"`).
    fn into_amount(self) -> String;
}

impl IntoAmount for &str {
    fn into_amount(self) -> String {
        self.to_string()
    }
}

impl IntoAmount for String {
    fn into_amount(self) -> String {
        self
    }
}

impl IntoAmount for &String {
    fn into_amount(self) -> String {
        self.clone()
    }
}

impl IntoAmount for Decimal {
    fn into_amount(self) -> String {
        format_amount(self)
    }
}

impl IntoAmount for &Decimal {
    fn into_amount(self) -> String {
        format_amount(*self)
    }
}

/// An optional amount: an amount, or an `Option` of one.
pub trait MaybeAmount {
    /// The amount's text, when there is one.
    fn maybe_amount(self) -> Option<String>;
}

impl<T: IntoAmount> MaybeAmount for T {
    fn maybe_amount(self) -> Option<String> {
        Some(self.into_amount())
    }
}

impl<T: IntoAmount> MaybeAmount for Option<T> {
    fn maybe_amount(self) -> Option<String> {
        self.map(IntoAmount::into_amount)
    }
}

/// An optional text field: text, or an `Option` of it.
pub trait MaybeText {
    /// The text, when there is some.
    fn maybe_text(self) -> Option<String>;
}

impl MaybeText for &str {
    fn maybe_text(self) -> Option<String> {
        Some(self.to_string())
    }
}

impl MaybeText for String {
    fn maybe_text(self) -> Option<String> {
        Some(self)
    }
}

impl MaybeText for &String {
    fn maybe_text(self) -> Option<String> {
        Some(self.clone())
    }
}

impl MaybeText for Option<String> {
    fn maybe_text(self) -> Option<String> {
        self
    }
}

impl MaybeText for Option<&str> {
    fn maybe_text(self) -> Option<String> {
        self.map(str::to_string)
    }
}

impl MaybeText for Option<&String> {
    fn maybe_text(self) -> Option<String> {
        self.cloned()
    }
}

impl Default for Address {
    /// No address lines.
    fn default() -> Address {
        Address { street: None, postal_code: None, city: None, country: None }
    }
}

impl Customer {
    /// A customer with the source's record `id`, the business's customer `key` (invoices
    /// refer to it) and `name`; nothing else known yet.
    ///
    /// ```
    /// # use dunwell_plugin_sdk::prelude::*;
    /// let c = Customer::new("7", "C7", "Jansen Installatie").kind(CustomerKind::B2c).language("nl");
    /// assert_eq!(c.kind, Some(CustomerKind::B2c));
    /// ```
    pub fn new(id: impl Into<String>, key: impl Into<String>, name: impl Into<String>) -> Customer {
        Customer {
            id: id.into(),
            key: key.into(),
            name: name.into(),
            kind: None,
            contact: None,
            email: None,
            phone: None,
            address: Address::default(),
            language: None,
            removed: false,
        }
    }

    /// Business or consumer (consumers get stricter legal rules); unknown is taken as business.
    pub fn kind(mut self, kind: impl Into<Option<CustomerKind>>) -> Customer {
        self.kind = kind.into();
        self
    }

    /// The contact person.
    pub fn contact(mut self, contact: impl MaybeText) -> Customer {
        self.contact = contact.maybe_text();
        self
    }

    /// The address reminders go to.
    pub fn email(mut self, email: impl MaybeText) -> Customer {
        self.email = email.maybe_text();
        self
    }

    /// The phone number calls and text messages go to.
    pub fn phone(mut self, phone: impl MaybeText) -> Customer {
        self.phone = phone.maybe_text();
        self
    }

    /// The whole address at once.
    pub fn address(mut self, address: Address) -> Customer {
        self.address = address;
        self
    }

    /// The street and house number.
    pub fn street(mut self, street: impl MaybeText) -> Customer {
        self.address.street = street.maybe_text();
        self
    }

    /// The postal code.
    pub fn postal_code(mut self, postal_code: impl MaybeText) -> Customer {
        self.address.postal_code = postal_code.maybe_text();
        self
    }

    /// The city.
    pub fn city(mut self, city: impl MaybeText) -> Customer {
        self.address.city = city.maybe_text();
        self
    }

    /// ISO 3166 alpha-2 (`NL`).
    pub fn country(mut self, country: impl MaybeText) -> Customer {
        self.address.country = country.maybe_text();
        self
    }

    /// `nl`, `fr`, `en` or `de`.
    pub fn language(mut self, language: impl MaybeText) -> Customer {
        self.language = language.maybe_text();
        self
    }

    /// Deleted at the source.
    pub fn removed(mut self) -> Customer {
        self.removed = true;
        self
    }
}

impl Invoice {
    /// An open invoice: the source's record `id`, the `number` printed on it, the `key` of its
    /// customer, the issue and due dates (`YYYY-MM-DD`), the currency (`EUR`) and the total
    /// including VAT (decimal text or a [`Decimal`]). No open amount stated (dunwell derives it
    /// from the payments), no reference, not a credit note.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: impl Into<String>,
        number: impl Into<String>,
        customer_key: impl Into<String>,
        issued_on: impl Into<String>,
        due_on: impl Into<String>,
        currency: impl Into<String>,
        total: impl IntoAmount,
    ) -> Invoice {
        Invoice {
            id: id.into(),
            number: number.into(),
            customer_key: customer_key.into(),
            kind: DocumentKind::Invoice,
            issued_on: issued_on.into(),
            due_on: due_on.into(),
            currency: currency.into(),
            total: total.into_amount(),
            open: None,
            payment_reference: None,
            corrects: None,
            status: InvoiceStatus::Open,
            paid_date: None,
            removed: false,
        }
    }

    /// What is still to be paid, as the source states it.
    pub fn open(mut self, open: impl MaybeAmount) -> Invoice {
        self.open = open.maybe_amount();
        self
    }

    /// The structured payment reference (RF…, betalingskenmerk, +++…+++), which bank payments
    /// are matched by.
    pub fn reference(mut self, reference: impl MaybeText) -> Invoice {
        self.payment_reference = reference.maybe_text();
        self
    }

    /// A credit note (its total negative), correcting the invoice of number `corrects` when
    /// known: dunwell then deducts it from that invoice.
    ///
    /// ```
    /// # use dunwell_plugin_sdk::prelude::*;
    /// let cn = Invoice::new("cn-1", "CN-1", "C1", "2026-02-01", "2026-02-01", "EUR", "-21.00")
    ///     .credit_note(Some("2026-0017"));
    /// assert_eq!(cn.kind, DocumentKind::CreditNote);
    /// ```
    pub fn credit_note(mut self, corrects: impl MaybeText) -> Invoice {
        self.kind = DocumentKind::CreditNote;
        self.corrects = corrects.maybe_text();
        self
    }

    /// Open, paid or void (see [`Invoice::paid`], [`Invoice::void`]).
    pub fn status(mut self, status: InvoiceStatus) -> Invoice {
        self.status = status;
        self
    }

    /// Paid in full (nothing is chased); give the day with [`Invoice::paid_date`] when known.
    pub fn paid(self) -> Invoice {
        self.status(InvoiceStatus::Paid)
    }

    /// Cancelled, written off or otherwise not to be chased.
    pub fn void(self) -> Invoice {
        self.status(InvoiceStatus::Void)
    }

    /// The day it was paid in full (`YYYY-MM-DD`), when the source says. Read for a
    /// [`paid`](Invoice::paid) invoice only; dunwell keeps it when no payment dates the
    /// settlement, and learns the customer's payment behaviour from it.
    pub fn paid_date(mut self, date: impl MaybeText) -> Invoice {
        self.paid_date = date.maybe_text();
        self
    }

    /// Deleted at the source.
    pub fn removed(mut self) -> Invoice {
        self.removed = true;
        self
    }
}

impl Payment {
    /// Money received: the source's record `id`, the amount (positive; decimal text or a
    /// [`Decimal`]), its currency and the day it was received (`YYYY-MM-DD`). Say which
    /// invoice it pays when the source knows ([`Payment::invoice_number`],
    /// [`Payment::invoice_id`]); otherwise dunwell matches it by reference, number or amount.
    pub fn new(
        id: impl Into<String>,
        amount: impl IntoAmount,
        currency: impl Into<String>,
        received_on: impl Into<String>,
    ) -> Payment {
        Payment {
            id: id.into(),
            amount: amount.into_amount(),
            currency: currency.into(),
            received_on: received_on.into(),
            invoice_number: None,
            invoice_id: None,
            reference: None,
            free_text: None,
            payer_name: None,
            payer_iban: None,
            removed: false,
        }
    }

    /// The number of the invoice it pays.
    pub fn invoice_number(mut self, number: impl MaybeText) -> Payment {
        self.invoice_number = number.maybe_text();
        self
    }

    /// The source's record id of the invoice it pays.
    pub fn invoice_id(mut self, id: impl MaybeText) -> Payment {
        self.invoice_id = id.maybe_text();
        self
    }

    /// The structured creditor reference the payer gave.
    pub fn reference(mut self, reference: impl MaybeText) -> Payment {
        self.reference = reference.maybe_text();
        self
    }

    /// The unstructured remittance text.
    pub fn free_text(mut self, text: impl MaybeText) -> Payment {
        self.free_text = text.maybe_text();
        self
    }

    /// The payer's name, as the bank gives it.
    pub fn payer_name(mut self, name: impl MaybeText) -> Payment {
        self.payer_name = name.maybe_text();
        self
    }

    /// The payer's account (IBAN): dunwell learns which customer pays from it.
    pub fn payer_iban(mut self, iban: impl MaybeText) -> Payment {
        self.payer_iban = iban.maybe_text();
        self
    }

    /// Deleted or reversed at the source.
    pub fn removed(mut self) -> Payment {
        self.removed = true;
        self
    }
}
