//! The `camt053` connector: incoming payments from ISO 20022 bank-to-customer statements
//! (camt.053.001.02 and later; elements matched by local name, so every version reads) in a
//! folder mounted read-only at `/input`.
//!
//! Only booked credits (`CdtDbtInd` CRDT, `Sts` BOOK, not reversals) are payments. Each
//! transaction (`TxDtls`) becomes one payment with its structured creditor reference, its free
//! text and the payer; dunwell matches them to invoices (reference, then invoice number in the
//! text, then amount). The cursor is the modification time and name of the last file read.

use std::path::Path;

use dunwell_plugin_sdk::prelude::*;
use dunwell_plugin_sdk::{files, Decimal};
use roxmltree::Node;

/// The connector.
pub struct Camt053;

impl Connector for Camt053 {
    fn describe() -> Info {
        info("camt053", env!("CARGO_PKG_VERSION"), "payments from camt.053 bank statements in a folder")
            .reads_directory()
            .provides(false, false, true)
    }

    fn pull_payments(request: PageRequest) -> Result<PaymentPage, ConnectorError> {
        let page = files::page(Path::new(INPUT_DIR), ".xml", request.cursor.as_deref(), request.limit)?;
        let mut items = Vec::new();
        for f in page.files {
            items.extend(
                parse_statement(&f.text)
                    .map_err(|m| ConnectorError::InvalidData(format!("{}: {m}", f.name)))?,
            );
        }
        Ok(PaymentPage { items, next_cursor: page.next_cursor.or(request.cursor), more: page.more })
    }
}

export_connector!(Camt053);

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| c.is_element() && c.tag_name().name() == name)
}

fn children<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn at<'a, 'i>(node: Node<'a, 'i>, path: &[&str]) -> Option<Node<'a, 'i>> {
    path.iter().try_fold(node, |n, name| child(n, name))
}

fn text(node: Node<'_, '_>, path: &[&str]) -> Option<String> {
    let t = at(node, path)?.text()?.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn date_of(node: Option<Node<'_, '_>>) -> Option<String> {
    let n = node?;
    text(n, &["Dt"]).or_else(|| text(n, &["DtTm"]).map(|t| t.chars().take(10).collect()))
}

/// The payments (booked credits) of one camt.053 document.
pub fn parse_statement(xml: &str) -> Result<Vec<Payment>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("not well-formed XML: {e}"))?;
    let root = doc.root_element();
    let body = child(root, "BkToCstmrStmt").ok_or("not a camt.053 statement (no BkToCstmrStmt)")?;
    let mut out = Vec::new();
    for (s_no, stmt) in children(body, "Stmt").enumerate() {
        let stmt_id = text(stmt, &["Id"]).unwrap_or_else(|| format!("stmt{s_no}"));
        for (e_no, entry) in children(stmt, "Ntry").enumerate() {
            let credit = text(entry, &["CdtDbtInd"]).as_deref() == Some("CRDT");
            let status = text(entry, &["Sts"]).or_else(|| text(entry, &["Sts", "Cd"]));
            let reversal = text(entry, &["RvslInd"]).as_deref() == Some("true");
            if !credit || reversal || status.as_deref() != Some("BOOK") {
                continue;
            }
            let amt = child(entry, "Amt").ok_or("an entry without Amt")?;
            let entry_amount = parse_amount(amt.text().unwrap_or_default())
                .map_err(|_| format!("entry amount `{}` is not an amount", amt.text().unwrap_or_default()))?;
            let currency = amt.attribute("Ccy").ok_or("an entry amount without Ccy")?.to_string();
            let date = date_of(child(entry, "BookgDt"))
                .or_else(|| date_of(child(entry, "ValDt")))
                .ok_or("a booked entry without BookgDt")?;
            let entry_ref = text(entry, &["NtryRef"]).or_else(|| text(entry, &["AcctSvcrRef"]));
            let txs: Vec<Node> =
                child(entry, "NtryDtls").map(|d| children(d, "TxDtls").collect()).unwrap_or_default();
            let single = txs.len() <= 1;
            let tx_nodes: Vec<Option<Node>> =
                if txs.is_empty() { vec![None] } else { txs.into_iter().map(Some).collect() };
            for (t_no, tx) in tx_nodes.into_iter().enumerate() {
                let amount: Decimal = match tx
                    .and_then(|t| text(t, &["AmtDtls", "TxAmt", "Amt"]).or_else(|| text(t, &["Amt"])))
                {
                    Some(a) => {
                        parse_amount(&a).map_err(|_| format!("transaction amount `{a}` is not an amount"))?
                    }
                    None if single => entry_amount,
                    None => return Err("a batch entry whose transactions have no amounts".into()),
                };
                let id = tx
                    .and_then(|t| {
                        text(t, &["Refs", "AcctSvcrRef"]).or_else(|| text(t, &["Refs", "EndToEndId"]))
                    })
                    .filter(|r| r != "NOTPROVIDED")
                    .map(|r| format!("{stmt_id}/{r}"))
                    .unwrap_or_else(|| match &entry_ref {
                        Some(r) => format!("{stmt_id}/{r}/{t_no}"),
                        None => format!("{stmt_id}/{e_no}/{t_no}"),
                    });
                let rmt = tx.and_then(|t| child(t, "RmtInf"));
                let reference =
                    rmt.and_then(|r| children(r, "Strd").find_map(|s| text(s, &["CdtrRefInf", "Ref"])));
                let free: Vec<String> = rmt
                    .map(|r| {
                        children(r, "Ustrd").filter_map(|u| u.text().map(|t| t.trim().to_string())).collect()
                    })
                    .unwrap_or_default();
                let parties = tx.and_then(|t| child(t, "RltdPties"));
                let payer_name = parties
                    .and_then(|p| text(p, &["Dbtr", "Nm"]).or_else(|| text(p, &["Dbtr", "Pty", "Nm"])));
                let payer_iban = parties.and_then(|p| text(p, &["DbtrAcct", "Id", "IBAN"]));
                out.push(Payment {
                    id,
                    amount: format_amount(amount),
                    currency: currency.clone(),
                    received_on: date.clone(),
                    invoice_number: None,
                    invoice_id: None,
                    reference,
                    free_text: (!free.is_empty()).then(|| free.join(" ")),
                    payer_name,
                    payer_iban,
                    removed: false,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<Payment> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/testdata/connectors/camt053")
            .join(name);
        parse_statement(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn minimal_statement_has_one_credit_with_a_structured_reference() {
        let p = fixture("genkgo-camt053.v2.minimal.xml");
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].amount.as_str(), p[0].currency.as_str(), p[0].received_on.as_str()),
            ("8.85", "EUR", "2014-12-31")
        );
        assert_eq!(p[0].reference.as_deref(), Some("4654654654654654"));
        assert_eq!(p[0].payer_iban.as_deref(), Some("NL56AGDH9619008421"));
        assert_eq!(p[0].payer_name.as_deref(), Some("NAME NAME"));
    }

    #[test]
    fn debits_are_not_payments() {
        let p = fixture("genkgo-camt053.v2.multi.statement.xml");
        assert!(p.iter().all(|p| p.amount != "7.00"), "{p:?}");
        assert!(p.iter().any(|p| p.amount == "8.85"));
        let ids: std::collections::HashSet<_> = p.iter().map(|p| p.id.clone()).collect();
        assert_eq!(ids.len(), p.len(), "ids are unique");
        assert_eq!(fixture("genkgo-camt053.v2.with-party-ids.xml").len(), 1);
    }

    #[test]
    fn not_a_statement() {
        assert!(parse_statement("<Document><Foo/></Document>").unwrap_err().contains("camt.053"));
    }
}
