//! UBL 2.1 invoice / credit note → the connector model. Elements are matched by local name,
//! so the namespace prefixes a sender chose do not matter.

use dunwell_plugin_sdk::prelude::*;
use dunwell_plugin_sdk::{date, Decimal};
use roxmltree::Node;

/// One parsed document: the invoice (or credit note) and its buyer.
#[derive(Debug, Clone)]
pub struct Document {
    pub invoice: Invoice,
    pub customer: Customer,
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| c.is_element() && c.tag_name().name() == name)
}

/// The node at a path of local names below `node`.
fn at<'a, 'i>(node: Node<'a, 'i>, path: &[&str]) -> Option<Node<'a, 'i>> {
    path.iter().try_fold(node, |n, name| child(n, name))
}

fn text(node: Node<'_, '_>, path: &[&str]) -> Option<String> {
    let t = at(node, path)?.text()?.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn amount(node: Node<'_, '_>, path: &[&str], what: &str) -> Result<Option<Decimal>, String> {
    match text(node, path) {
        None => Ok(None),
        Some(t) => parse_amount(&t).map(Some).map_err(|_| format!("{what} `{t}` is not an amount")),
    }
}

/// A payment term in days from free text such as "Payment within 30 days" or
/// "Betalingstermijn: 14 dagen netto".
fn term_days(note: &str) -> Option<u32> {
    let lower = note.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    words.windows(2).find_map(|w| {
        let n: u32 = w[0].parse().ok()?;
        matches!(w[1], "days" | "day" | "dagen" | "dag" | "jours" | "jour" | "tage" | "tagen").then_some(n)
    })
}

/// Parses one UBL document. `default_term_days` applies when it states neither a due date nor
/// a term in days.
pub fn parse_document(xml: &str, default_term_days: u32) -> Result<Document, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("not well-formed XML: {e}"))?;
    let root = doc.root_element();
    let credit_note = match root.tag_name().name() {
        "Invoice" => false,
        "CreditNote" => true,
        other => return Err(format!("root element `{other}` is neither Invoice nor CreditNote")),
    };
    let number = text(root, &["ID"]).ok_or("no cbc:ID (invoice number)")?;
    let issued = text(root, &["IssueDate"]).ok_or("no cbc:IssueDate")?;
    if date::parse(&issued).is_none() {
        return Err(format!("IssueDate `{issued}` is not a YYYY-MM-DD date"));
    }
    let currency = text(root, &["DocumentCurrencyCode"]).ok_or("no cbc:DocumentCurrencyCode")?;
    let means = child(root, "PaymentMeans");
    let due = match text(root, &["DueDate"]).or_else(|| means.and_then(|m| text(m, &["PaymentDueDate"]))) {
        Some(d) if date::parse(&d).is_some() => d,
        Some(d) => return Err(format!("DueDate `{d}` is not a YYYY-MM-DD date")),
        None => {
            let stated = root
                .children()
                .filter(|c| c.tag_name().name() == "PaymentTerms")
                .filter_map(|t| text(t, &["Note"]))
                .chain(
                    root.children()
                        .filter(|c| c.tag_name().name() == "Note")
                        .filter_map(|n| n.text().map(str::to_string)),
                )
                .find_map(|n| term_days(&n));
            date::add_days(&issued, stated.unwrap_or(default_term_days)).ok_or("IssueDate out of range")?
        }
    };
    let totals = child(root, "LegalMonetaryTotal").ok_or("no cac:LegalMonetaryTotal")?;
    let payable = amount(totals, &["PayableAmount"], "PayableAmount")?.ok_or("no cbc:PayableAmount")?;
    let total = amount(totals, &["TaxInclusiveAmount"], "TaxInclusiveAmount")?.unwrap_or(payable);
    // Peppol BIS 3 lets a supplier correct an invoice with a negative Invoice instead of a
    // CreditNote: its amounts are negative already, and it is a credit note all the same.
    let negative_invoice = !credit_note && total < Decimal::ZERO;
    let credit = credit_note || negative_invoice;
    let sign = if credit_note { Decimal::NEGATIVE_ONE } else { Decimal::ONE };
    let reference = root
        .children()
        .filter(|c| c.tag_name().name() == "PaymentMeans")
        .find_map(|m| text(m, &["PaymentID"]));
    let corrects =
        if credit { text(root, &["BillingReference", "InvoiceDocumentReference", "ID"]) } else { None };

    let party =
        at(root, &["AccountingCustomerParty", "Party"]).ok_or("no cac:AccountingCustomerParty/cac:Party")?;
    let legal = child(party, "PartyLegalEntity");
    let name = text(party, &["PartyName", "Name"])
        .or_else(|| legal.and_then(|l| text(l, &["RegistrationName"])))
        .ok_or("the buyer has no name (PartyName or RegistrationName)")?;
    let key = text(party, &["PartyIdentification", "ID"])
        .or_else(|| legal.and_then(|l| text(l, &["CompanyID"])))
        .or_else(|| text(party, &["EndpointID"]))
        .unwrap_or_else(|| name.clone());
    let postal = child(party, "PostalAddress");
    let street = postal.and_then(|p| {
        let s = text(p, &["StreetName"])?;
        Some(match text(p, &["AdditionalStreetName"]) {
            Some(extra) => format!("{s} {extra}"),
            None => s,
        })
    });
    let customer = Customer::new(key.clone(), key.clone(), name)
        .kind(CustomerKind::B2b)
        .contact(text(party, &["Contact", "Name"]))
        .email(text(party, &["Contact", "ElectronicMail"]))
        .phone(text(party, &["Contact", "Telephone"]))
        .street(street)
        .postal_code(postal.and_then(|p| text(p, &["PostalZone"])))
        .city(postal.and_then(|p| text(p, &["CityName"])))
        .country(postal.and_then(|p| text(p, &["Country", "IdentificationCode"])));
    // PayableAmount is what was open at issue; only when something was prepaid is it a
    // statement worth keeping. Otherwise dunwell derives the open amount from payments.
    let prepaid = amount(totals, &["PrepaidAmount"], "PrepaidAmount")?.unwrap_or_default();
    let open = (!prepaid.is_zero()).then(|| payable * sign);
    // The page reader puts the file's name in the id: one number in two files must stay two
    // records, so that both can be named. UBL says nothing of when an invoice was paid.
    let id = format!("{}/{}", if credit_note { "CreditNote" } else { "Invoice" }, number);
    let mut invoice = Invoice::new(id, number, key, issued, due, currency, total * sign)
        .open(open)
        .reference(reference)
        .status(if payable.is_zero() { InvoiceStatus::Paid } else { InvoiceStatus::Open });
    if credit {
        invoice = invoice.credit_note(corrects);
    }
    Ok(Document { invoice, customer })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_in_words() {
        assert_eq!(term_days("Payment within 10 days, 2% discount"), Some(10));
        assert_eq!(term_days("Betalingstermijn: 14 dagen netto."), Some(14));
        assert_eq!(term_days("Net 30"), None);
    }
}

#[cfg(test)]
mod fixtures {
    use super::*;

    fn fixture(name: &str) -> Document {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/testdata/connectors");
        let path =
            if path.join("ubl").join(name).exists() { path.join("ubl") } else { path.join("peppol-more") };
        let path = path.join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        parse_document(&text, 30).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn peppol_invoice() {
        let d = fixture("peppol-bis3-base-example.xml");
        let i = &d.invoice;
        assert_eq!(
            (i.number.as_str(), i.issued_on.as_str(), i.due_on.as_str()),
            ("Snippet1", "2017-11-13", "2017-12-01")
        );
        assert_eq!((i.total.as_str(), i.open.as_deref(), i.currency.as_str()), ("1656.25", None, "EUR"));
        assert_eq!(i.payment_reference.as_deref(), Some("Snippet1"));
        assert_eq!(d.customer.name, "BuyerTradingName AS");
        assert_eq!(d.customer.email.as_deref(), Some("lj@buyer.se"));
        assert_eq!(d.customer.contact.as_deref(), Some("Lisa Johnson"));
        assert_eq!(i.customer_key, d.customer.key);
    }

    #[test]
    fn credit_note_is_negative_and_corrects_its_invoice() {
        let d = fixture("peppol-bis3-base-creditnote-correction.xml");
        let i = &d.invoice;
        assert!(matches!(i.kind, DocumentKind::CreditNote));
        assert_eq!(i.total, "-1656.25");
        assert_eq!(i.corrects.as_deref(), Some("Snippet1"));
        // No DueDate: "Payment within 10 days" after 2017-11-13.
        assert_eq!(i.due_on, "2017-11-23");
    }

    #[test]
    fn missing_due_date_uses_the_stated_term_and_nlcius_reads() {
        let d = fixture("peppol-bis3-vat-category-E.xml");
        assert_eq!((d.invoice.due_on.as_str(), d.invoice.currency.as_str()), ("2018-09-29", "GBP"));
        let d = fixture("nlcius-SI-UBL-2.0_ok_base.xml");
        assert_eq!((d.invoice.number.as_str(), d.invoice.total.as_str()), ("12115118", "227.00"));
        assert_eq!(d.customer.key, "10202");
        assert_eq!(d.customer.name, "Ontvanger");
        assert_eq!(d.customer.address.postal_code.as_deref(), Some("1111 AA"));
        assert_eq!(d.invoice.payment_reference.as_deref(), Some("Deb. 10202 / Fact. 12115118"));
    }

    #[test]
    fn a_negative_invoice_is_a_credit_note_for_the_invoice_it_names() {
        let d = fixture("peppol-bis3-base-negative-inv-correction.xml");
        let i = &d.invoice;
        assert!(matches!(i.kind, DocumentKind::CreditNote));
        assert_eq!((i.number.as_str(), i.total.as_str()), ("Correction1", "-1656.25"));
        assert_eq!(i.corrects.as_deref(), Some("Snippet1"));
        assert!(matches!(i.status, InvoiceStatus::Open));
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(parse_document("<Invoice><cbc:ID>1</cbc:ID>", 30).unwrap_err().contains("XML"));
        assert!(parse_document("<Order/>", 30).unwrap_err().contains("neither"));
    }
}
