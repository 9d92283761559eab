//! The `camt053` connector: incoming payments from ISO 20022 bank-to-customer statements in a
//! folder mounted read-only at `/input`. The cursor is the modification time and name of the
//! last file read.
//!
//! Banks write these files in many ways, and one entry dunwell cannot read must not keep the
//! payments of every other entry (and every later statement) from arriving: an invoice that was
//! paid would be chased. So an entry that cannot be read becomes one record whose amount is
//! [`unusable`] with the reason: the host sets it aside where `dunwell quarantine` lists it, stores
//! the rest, and asks again next sync. Only a file that is not a camt.053 at all (a wrong folder,
//! a truncated download) fails the page, with its name.
//!
//! - Elements are matched by local name: versions .02 to .13 differ in namespace and in a few
//!   shapes (`Sts` as text or `Sts/Cd`, `Dt` or `DtTm`, `Dbtr/Nm` or `Dbtr/Pty/Nm`), not in what
//!   the entries mean.
//! - Only booked credits can pay an invoice: debits, reversals (`RvslInd`) and entries not booked
//!   are skipped. A missing `Sts` counts as booked: a statement reports booked entries, and some
//!   banks leave the status out.
//! - An entry with at most one transaction detail is one payment of the entry's own amount and
//!   currency: that is what the account was credited. A lone detail's amount is the
//!   instruction's, and real files put anything there: `0` in another currency, 105.750 against
//!   an entry of 8.85, 0.04 against 4500.00.
//! - A batch entry's details are its payments, and only when they add up to the entry. A batch
//!   whose details do not, or whose transactions the statement does not itemize (`Btch/NbOfTxs`
//!   of two or more with at most one detail: a lump sum whose transactions only a camt.054
//!   lists), is not guessed at: it is one unusable record. Matching a lump sum by its amount
//!   would settle the wrong invoice.
//! - Ids must be the same on every read of a file (a statement read twice is the same payments):
//!   the detail's `AcctSvcrRef` or `EndToEndId` under the statement's id, else the entry's
//!   reference or position. Banks repeat references (PostFinance gives two entries one
//!   `AcctSvcrRef`), so an id that occurs twice in a file also gets the entry's and detail's
//!   position.
//! - Entries in another currency than an invoice's are passed on with their own currency: the
//!   host's matching compares currencies, not this connector.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use dunwell_plugin_sdk::prelude::*;
use dunwell_plugin_sdk::{files, log, Decimal};
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

/// An element's own text, trimmed; comments between its text nodes are skipped.
fn own_text(node: Node<'_, '_>) -> Option<String> {
    let t: String = node.children().filter(|c| c.is_text()).filter_map(|c| c.text()).collect();
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn text(node: Node<'_, '_>, path: &[&str]) -> Option<String> {
    own_text(at(node, path)?)
}

/// The day of a `BookgDt`/`ValDt`: its `Dt`, or the date part of its `DtTm` (the bank's local
/// time, as written).
fn date_of(node: Option<Node<'_, '_>>) -> Option<String> {
    let n = node?;
    text(n, &["Dt"]).or_else(|| text(n, &["DtTm"]).map(|t| t.chars().take(10).collect()))
}

/// An ISO 20022 amount: an `xs:decimal` (so `.6` and `6.` too), never negative.
fn amount_of(t: &str) -> Option<Decimal> {
    let t = t.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    let mut s = if t.starts_with('.') { format!("0{t}") } else { t.to_string() };
    if s.ends_with('.') {
        s.pop();
    }
    parse_amount(&s).ok().filter(|a| !a.is_sign_negative())
}

/// A reference that identifies nothing (`NOTPROVIDED` is the SEPA placeholder, `NONREF` the
/// German banks').
fn real_reference(r: String) -> Option<String> {
    (!r.eq_ignore_ascii_case("NOTPROVIDED") && !r.eq_ignore_ascii_case("NONREF")).then_some(r)
}

/// Where a record was read: its entry's index in the statement and, for a detail, the detail's.
/// Appended to an id that occurs more than once in a file.
struct Read {
    payment: Payment,
    position: String,
}

/// The statement an entry is in, and what of it was skipped: one debug line per statement, not
/// one per debit (the host keeps 64 KiB of a run's log).
struct Stmt<'s> {
    id: &'s str,
    skipped: std::cell::RefCell<BTreeMap<String, usize>>,
}

/// What an entry says about itself, before its details are read.
struct Entry<'a, 'i> {
    node: Node<'a, 'i>,
    index: usize,
    /// `NtryRef`, else the entry's `AcctSvcrRef`.
    reference: Option<String>,
}

impl Entry<'_, '_> {
    /// The key of the entry itself (under the statement's id): its reference or its index.
    fn key(&self) -> String {
        self.reference.clone().unwrap_or_else(|| self.index.to_string())
    }

    fn describe(&self) -> String {
        match &self.reference {
            Some(r) => format!("entry {} ({r})", self.index),
            None => format!("entry {}", self.index),
        }
    }
}

/// The payments (booked credits) of one camt.053 document, and one unusable record for each
/// credit that cannot be read; an error only when the document is not a camt.053 statement.
pub fn parse_statement(xml: &str) -> Result<Vec<Payment>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("not well-formed XML: {e}"))?;
    let root = doc.root_element();
    let body = child(root, "BkToCstmrStmt").ok_or("not a camt.053 statement (no BkToCstmrStmt)")?;
    let message = text(body, &["GrpHdr", "MsgId"]);
    let mut out = Vec::new();
    for (s_no, stmt) in children(body, "Stmt").enumerate() {
        let id = text(stmt, &["Id"]).unwrap_or_else(|| match &message {
            Some(m) => format!("{m}/{s_no}"),
            None => format!("stmt{s_no}"),
        });
        let s = Stmt { id: &id, skipped: Default::default() };
        for (index, node) in children(stmt, "Ntry").enumerate() {
            let reference = text(node, &["NtryRef"]).or_else(|| text(node, &["AcctSvcrRef"]));
            read_entry(&s, &Entry { node, index, reference }, &mut out);
        }
        let skipped = s.skipped.into_inner();
        if !skipped.is_empty() {
            let what: Vec<String> = skipped.iter().map(|(why, n)| format!("{n} × {why}")).collect();
            log(Level::Debug, &format!("statement {id}: skipped {}", what.join(", ")));
        }
    }
    Ok(unique_ids(out))
}

/// Notes an entry that is no payment (a debit, a reversal, not booked).
fn skip(stmt: &Stmt, why: &str) {
    *stmt.skipped.borrow_mut().entry(why.to_string()).or_default() += 1;
}

/// The records of one entry: nothing for what is not a booked credit, its payments, or one
/// unusable record.
fn read_entry(stmt: &Stmt, entry: &Entry, out: &mut Vec<Read>) {
    let node = entry.node;
    match text(node, &["CdtDbtInd"]).as_deref() {
        Some("CRDT") => {}
        Some("DBIT") => return skip(stmt, "a debit"),
        other => return skip(stmt, &format!("credit/debit indicator {other:?}")),
    }
    if matches!(text(node, &["RvslInd"]).as_deref(), Some("true" | "1")) {
        return skip(stmt, "a reversal");
    }
    let status =
        text(node, &["Sts"]).or_else(|| text(node, &["Sts", "Cd"])).or_else(|| text(node, &["Sts", "Prtry"]));
    if let Some(s) = status.filter(|s| s != "BOOK") {
        return skip(stmt, &format!("status {s}, not booked"));
    }
    let amt = child(node, "Amt");
    let currency = amt.and_then(|a| a.attribute("Ccy")).map(str::trim).unwrap_or_default().to_string();
    let date = date_of(child(node, "BookgDt")).or_else(|| date_of(child(node, "ValDt")));
    let unusable_entry = |reason: String| Read {
        payment: Payment::new(
            format!("{}/{}", stmt.id, entry.key()),
            unusable(&reason),
            currency.clone(),
            date.clone().unwrap_or_default(),
        )
        .free_text(text(node, &["AddtlNtryInf"])),
        position: entry.index.to_string(),
    };
    let Some(amount_text) = amt.map(|a| own_text(a).unwrap_or_default()) else {
        return out.push(unusable_entry("a credit entry without an amount".into()));
    };
    let Some(amount) = amount_of(&amount_text) else {
        return out.push(unusable_entry(format!("entry amount `{amount_text}` is not an amount")));
    };
    if currency.is_empty() {
        return out.push(unusable_entry(format!("entry amount {amount} without a currency")));
    }
    if amount.is_zero() {
        return skip(stmt, "a credit of zero");
    }
    let Some(date) = date.clone() else {
        return out.push(unusable_entry(format!(
            "a booked credit of {amount} {currency} without a booking or value date"
        )));
    };
    let details: Vec<Node> = children(node, "NtryDtls").flat_map(|d| children(d, "TxDtls")).collect();
    let declared: u64 = children(node, "NtryDtls")
        .flat_map(|d| children(d, "Btch"))
        .filter_map(|b| text(b, &["NbOfTxs"])?.parse::<u64>().ok())
        .sum();
    let payment = |detail: Option<Node>, t_no: usize, amount: Decimal| Read {
        payment: detail_payment(stmt, entry, detail, t_no, amount, &currency, &date),
        position: format!("{}/{t_no}", entry.index),
    };
    if details.len() <= 1 {
        if declared >= 2 {
            return out.push(unusable_entry(format!(
                "a batch of {declared} transactions booked as one entry of {amount} {currency}: the statement does not itemize them"
            )));
        }
        let detail = details.first().copied();
        if let Some(Ok(own)) = detail.and_then(|d| detail_amount(d, &currency)) {
            if !own.is_zero() && own != amount {
                log(
                    Level::Debug,
                    &format!(
                        "statement {}: {}: its one transaction says {own} {currency}; the entry's {amount} is what was credited",
                        stmt.id,
                        entry.describe()
                    ),
                );
            }
        }
        return out.push(payment(detail, 0, amount));
    }
    let n = details.len();
    let mut sum = Decimal::ZERO;
    let mut reads = Vec::new();
    for (t_no, d) in details.into_iter().enumerate() {
        let own = match detail_amount(d, &currency) {
            Some(Ok(a)) => a,
            Some(Err(t)) => {
                return out.push(unusable_entry(format!(
                    "batch entry of {amount} {currency}: transaction {} of {n} has the amount `{t}`, which is not an amount",
                    t_no + 1
                )))
            }
            None => {
                return out.push(unusable_entry(format!(
                    "batch entry of {amount} {currency}: transaction {} of {n} has no amount in {currency}",
                    t_no + 1
                )))
            }
        };
        if text(d, &["CdtDbtInd"]).as_deref() == Some("DBIT") {
            // A batch may net a return against its credits: it counts, but pays nothing.
            sum -= own;
        } else {
            sum += own;
            if !own.is_zero() {
                reads.push(payment(Some(d), t_no, own));
            }
        }
    }
    if sum != amount {
        return out.push(unusable_entry(format!(
            "batch entry of {amount} {currency}: its {n} transactions add up to {sum} {currency}"
        )));
    }
    out.extend(reads);
}

/// A detail's amount in the entry's currency: its `Amt`, else its `AmtDtls/TxAmt/Amt`, whichever
/// is in that currency; `Some(Err(text))` when that one is not an amount.
fn detail_amount(detail: Node<'_, '_>, currency: &str) -> Option<Result<Decimal, String>> {
    [at(detail, &["Amt"]), at(detail, &["AmtDtls", "TxAmt", "Amt"])]
        .into_iter()
        .flatten()
        .find(|a| a.attribute("Ccy").map(str::trim) == Some(currency))
        .map(|a| {
            let t = own_text(a).unwrap_or_default();
            amount_of(&t).ok_or(t)
        })
}

fn detail_payment(
    stmt: &Stmt,
    entry: &Entry,
    detail: Option<Node<'_, '_>>,
    t_no: usize,
    amount: Decimal,
    currency: &str,
    date: &str,
) -> Payment {
    let id = detail
        .and_then(|t| {
            text(t, &["Refs", "AcctSvcrRef"])
                .or_else(|| text(t, &["Refs", "EndToEndId"]).and_then(real_reference))
        })
        .map(|r| format!("{}/{r}", stmt.id))
        .unwrap_or_else(|| format!("{}/{}/{t_no}", stmt.id, entry.key()));
    let remittance = detail.and_then(|t| child(t, "RmtInf"));
    let reference =
        remittance.and_then(|r| children(r, "Strd").find_map(|s| text(s, &["CdtrRefInf", "Ref"])));
    let free: Vec<String> =
        remittance.map(|r| children(r, "Ustrd").filter_map(own_text).collect()).unwrap_or_default();
    let parties = detail.and_then(|t| child(t, "RltdPties"));
    Payment::new(id, amount, currency, date)
        .reference(reference)
        .free_text((!free.is_empty()).then(|| free.join(" ")))
        .payer_name(
            parties.and_then(|p| text(p, &["Dbtr", "Nm"]).or_else(|| text(p, &["Dbtr", "Pty", "Nm"]))),
        )
        .payer_iban(parties.and_then(|p| text(p, &["DbtrAcct", "Id", "IBAN"])))
}

/// Everything of a payment but its id, to tell a record read twice from two records that share
/// an id.
fn content(p: &Payment) -> impl PartialEq + '_ {
    (&p.amount, &p.currency, &p.received_on, &p.reference, &p.free_text, &p.payer_name, &p.payer_iban)
}

/// Ids unique within the file, the same on every read. Records of different entries or details
/// that share an id get their positions. Records that share an id and a position come from one
/// statement given twice in the file: identical ones stay as they are (the host counts them
/// once), a different one is numbered.
fn unique_ids(reads: Vec<Read>) -> Vec<Payment> {
    // For each id: the position of its first record, and whether another position has it too.
    let mut positions: HashMap<String, (String, bool)> = HashMap::new();
    for r in &reads {
        let e = positions.entry(r.payment.id.clone()).or_insert_with(|| (r.position.clone(), false));
        e.1 |= e.0 != r.position;
    }
    let mut out: Vec<Payment> = reads
        .into_iter()
        .map(|mut r| {
            if positions[&r.payment.id].1 {
                r.payment.id = format!("{}/{}", r.payment.id, r.position);
            }
            r.payment
        })
        .collect();
    let mut first: HashMap<String, usize> = HashMap::new();
    for i in 0..out.len() {
        match first.get(&out[i].id) {
            None => {
                first.insert(out[i].id.clone(), i);
            }
            Some(&j) if content(&out[j]) == content(&out[i]) => {}
            Some(_) => {
                let mut k = 2;
                while first.contains_key(&format!("{}#{k}", out[i].id)) {
                    k += 1;
                }
                out[i].id = format!("{}#{k}", out[i].id);
                first.insert(out[i].id.clone(), i);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! Every real statement in tests/testdata/connectors/camt053 (see its README for where each
    //! comes from), with the payments read by hand from the XML, in file order.

    use super::*;

    fn read(name: &str) -> String {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/testdata/connectors/camt053").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn fixture(name: &str) -> Vec<Payment> {
        parse_statement(&read(name)).unwrap()
    }

    /// id, amount, currency, received on, structured reference, free text, payer, payer's IBAN.
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );

    fn rows(payments: &[Payment]) -> Vec<Row<'_>> {
        payments
            .iter()
            .map(|p| {
                assert!(p.invoice_number.is_none() && p.invoice_id.is_none() && !p.removed, "{p:?}");
                (
                    p.id.as_str(),
                    p.amount.as_str(),
                    p.currency.as_str(),
                    p.received_on.as_str(),
                    p.reference.as_deref(),
                    p.free_text.as_deref(),
                    p.payer_name.as_deref(),
                    p.payer_iban.as_deref(),
                )
            })
            .collect()
    }

    /// The file gives exactly `expected`, and the same on a second read.
    fn expect(name: &str, expected: &[Row]) {
        let payments = fixture(name);
        let got = rows(&payments);
        for (i, (g, e)) in got.iter().zip(expected).enumerate() {
            assert_eq!(g, e, "{name}: record {i}");
        }
        assert_eq!(got.len(), expected.len(), "{name}: {got:#?}");
        let again = fixture(name);
        assert_eq!(rows(&again), got, "{name}: a second read gives the same records");
    }

    const NL56: Option<&str> = Some("NL56AGDH9619008421");
    const NAME: Option<&str> = Some("NAME NAME");
    const REF: Option<&str> = Some("4654654654654654");

    #[test]
    fn genkgo_v2_minimal() {
        expect(
            "genkgo-camt053.v2.minimal.xml",
            &[("253EURNL26VAYB8060476890/0/0", "8.85", "EUR", "2014-12-31", REF, None, NAME, NL56)],
        );
    }

    #[test]
    fn genkgo_v2_with_party_ids() {
        expect(
            "genkgo-camt053.v2.with-party-ids.xml",
            &[("253EURNL26VAYB8060476890/0/0", "8.85", "EUR", "2014-12-31", REF, None, NAME, NL56)],
        );
    }

    #[test]
    fn genkgo_v2_multi_statement_skips_the_debit_of_the_second() {
        // Statement 254: a 7.00 debit. The credit's related party is the creditor (us): no payer.
        expect(
            "genkgo-camt053.v2.multi.statement.xml",
            &[(
                "253EURNL26VAYB8060476890/000000001",
                "8.85",
                "EUR",
                "2014-12-31",
                None,
                Some("Transaction Description 1"),
                None,
                None,
            )],
        );
    }

    #[test]
    fn genkgo_v3_lone_detail_of_another_amount_pays_the_entry() {
        // The one TxDtls says 105.750 EUR; the entry, what the account got, is 8.85 EUR.
        expect(
            "genkgo-camt053.v3.xml",
            &[(
                "253EURNL26VAYB8060476890/XXXXXXXXXXXXXXXXXXXXXXEUR/0",
                "8.85",
                "EUR",
                "2014-12-31",
                REF,
                None,
                NAME,
                NL56,
            )],
        );
    }

    #[test]
    fn genkgo_v4_zero_detail_in_sek_pays_the_entry() {
        expect(
            "genkgo-camt053.v4.xml",
            &[(
                "253EURNL26VAYB8060476890/AAAASESS-FP-CN_98765/01/0",
                "8.85",
                "EUR",
                "2014-12-31",
                REF,
                None,
                NAME,
                NL56,
            )],
        );
    }

    #[test]
    fn genkgo_v8_zero_detail_in_sek_pays_the_entry() {
        // Sts/Cd, BookgDt/DtTm, Dbtr/Pty/Nm; the detail's amount is `0` SEK; no Acct/Ccy.
        expect(
            "genkgo-camt053.v8.xml",
            &[(
                "253EURNL26VAYB8060476890/MUELL/FINP/RA12345",
                "8.85",
                "EUR",
                "2014-12-31",
                REF,
                None,
                NAME,
                NL56,
            )],
        );
    }

    #[test]
    fn viafintech_vr_bank_v2() {
        // Debits of 2.00, 3.00 and a 6.00 batch skipped; the credit's payer account is a BBAN.
        expect(
            "viafintech-valid_example.xml",
            &[(
                "0352C5320131227220503/2013122711085260000/0",
                "1.00",
                "EUR",
                "2013-12-27",
                None,
                Some("R CKBUCHUNG"),
                Some("Testkonto Nummer 2"),
                None,
            )],
        );
    }

    #[test]
    fn viafintech_postfinance_v4_batches_that_add_up() {
        // Six debits (charges) and two reversed debits skipped; four batches (1000.00 of 10,
        // 620.00 of 8, 110.00 of 3, 24.00 of 2) whose details add up, and one of one.
        const CH11: Option<&str> = Some("CH1111111111111111111");
        const CH44: Option<&str> = Some("CH4444444444444444444");
        const CH00: Option<&str> = Some("CH0000000000000000000");
        const CH74: Option<&str> = Some("CH7408237100000000002");
        const PIA: Option<&str> = Some("Rutschmann Pia");
        const MARIA: Option<&str> = Some("Bernasconi Maria");
        const MAX: Option<&str> = Some("Max Mustermann");
        const D1: &str = "2016-05-27";
        expect(
            "viafintech-valid_example_v4.xml",
            &[
                (
                    "20160430375204000008574/160527CH00T3L0GE",
                    "100.00",
                    "CHF",
                    D1,
                    Some("CreditorReference"),
                    None,
                    Some("Hans Kaufmann"),
                    None,
                ),
                (
                    "20160430375204000008574/160527CH00T3KWWA",
                    "50.00",
                    "CHF",
                    D1,
                    Some("000000000002016030002820804"),
                    None,
                    PIA,
                    None,
                ),
                (
                    "20160430375204000008574/160527CH00T2H28C",
                    "200.00",
                    "CHF",
                    D1,
                    Some("000000000002016030001581632"),
                    None,
                    None,
                    None,
                ),
                (
                    "20160430375204000008574/160527CH00T3L0W5",
                    "50.00",
                    "CHF",
                    D1,
                    Some("000000000002015110003015939"),
                    None,
                    None,
                    None,
                ),
                (
                    "20160430375204000008574/160527CH00T3L0NC",
                    "100.00",
                    "CHF",
                    D1,
                    Some("000000000002016030000535990"),
                    None,
                    None,
                    None,
                ),
                (
                    "20160430375204000008574/160527CH00T3KXDV",
                    "200.00",
                    "CHF",
                    D1,
                    Some("000000000002016030002463591"),
                    None,
                    MARIA,
                    CH44,
                ),
                (
                    "20160430375204000008574/160527CH00T3KZO9",
                    "50.00",
                    "CHF",
                    D1,
                    Some("000000000002016030002780613"),
                    None,
                    None,
                    None,
                ),
                (
                    "20160430375204000008574/160527CH00T3L0V2",
                    "100.00",
                    "CHF",
                    D1,
                    Some("000000000002016030001554373"),
                    None,
                    None,
                    None,
                ),
                (
                    "20160430375204000008574/160527CH00T99DU7",
                    "50.00",
                    "CHF",
                    D1,
                    Some("000000000002016030000985620"),
                    None,
                    Some("Zürcher Kantonalbank"),
                    CH00,
                ),
                (
                    "20160430375204000008574/160527CH00T99EBW",
                    "100.00",
                    "CHF",
                    D1,
                    Some("000000000002016030001593614"),
                    None,
                    Some("UBS Switzerland AG"),
                    CH00,
                ),
                (
                    "20160430375204000008574/160527CH00T2UENT",
                    "50.00",
                    "CHF",
                    D1,
                    None,
                    Some("MUSTER MITTEILUNG"),
                    PIA,
                    CH11,
                ),
                (
                    "20160430375204000008574/160527CH00T2Y4XY",
                    "20.00",
                    "CHF",
                    D1,
                    None,
                    Some("MUSTER MITTEILUNG"),
                    MARIA,
                    CH44,
                ),
                (
                    "20160430375204000008574/160527CH00T3HDBA",
                    "100.00",
                    "CHF",
                    D1,
                    None,
                    Some("MUSTER MITTEILUNG 1 MUSTER MITTEILUNG 2 MUSTER MITTEILUNG 3 MUSTER MITTEILUNG 4"),
                    PIA,
                    CH11,
                ),
                ("20160430375204000008574/160527CH00T3VT3Y", "100.00", "CHF", D1, None, None, MARIA, None),
                ("20160430375204000008574/160527CH00T3VTGB", "30.00", "CHF", D1, None, None, PIA, None),
                (
                    "20160430375204000008574/160527CH00T3VTGE",
                    "50.00",
                    "CHF",
                    D1,
                    None,
                    Some("MUSTER MITTEILUNG 1 MUSTER MITTEILUNG 2"),
                    MARIA,
                    None,
                ),
                (
                    "20160430375204000008574/160527CH00T2QNQZ",
                    "20.00",
                    "CHF",
                    D1,
                    None,
                    Some("MUSTER MITTEILUNG 1 MUSTER MITTEILUNG 2"),
                    PIA,
                    CH11,
                ),
                (
                    "20160430375204000008574/160527CH00T3HG80",
                    "250.00",
                    "CHF",
                    D1,
                    None,
                    Some("MUSTER MITTEILUNG 1"),
                    PIA,
                    CH11,
                ),
                (
                    "20160430375204000008574/160406CH00NKZCKG",
                    "20.00",
                    "CHF",
                    "2016-04-06",
                    None,
                    Some("Mitteilung Return Muster"),
                    MAX,
                    CH74,
                ),
                (
                    "20160430375204000008574/160406CH00NKSQ5N",
                    "40.00",
                    "CHF",
                    "2016-04-06",
                    None,
                    Some("Return Mitteilung Muster"),
                    MAX,
                    CH74,
                ),
                (
                    "20160430375204000008574/160406CH00NKSQ5Q",
                    "50.00",
                    "CHF",
                    "2016-04-06",
                    None,
                    Some("Mitteilung Return Mitteilung"),
                    MAX,
                    CH74,
                ),
                (
                    "20160430375204000008574/TST_201-2091644-9",
                    "15.00",
                    "CHF",
                    "2016-04-10",
                    None,
                    Some("Mitteilung 132"),
                    PIA,
                    Some("CH4409000000495962779"),
                ),
                (
                    "20160430375204000008574/TST_201-2091644-8",
                    "9.00",
                    "CHF",
                    "2016-04-10",
                    None,
                    Some("Mitteilung 131"),
                    MARIA,
                    Some("CH3709000000250094580"),
                ),
                (
                    "20160430375204000008574/TST_201-13113-5",
                    "56.56",
                    "CHF",
                    "2016-04-10",
                    None,
                    None,
                    MARIA,
                    Some("CH3709000000250094580"),
                ),
            ],
        );
    }

    #[test]
    fn viafintech_ubs_v8() {
        // The third entry, a debit of 20.97 EUR on a CHF account, is skipped.
        expect(
            "viafintech-valid_example_v8.xml",
            &[
                (
                    "R30B4SA880HMZ9XA/9999181ZC0283079",
                    "474.4",
                    "CHF",
                    "2023-06-20",
                    None,
                    Some("INVOICE R77561"),
                    Some("Jon Doe"),
                    None,
                ),
                (
                    "R30B4SA880HMZ9XA/0123171DO5126811",
                    "88.85",
                    "CHF",
                    "2023-06-20",
                    Some("RF38000000000000000000552"),
                    None,
                    Some("Finanz AG"),
                    None,
                ),
            ],
        );
    }

    #[test]
    fn viafintech_ing_v2_debit_batch_and_credits_without_detail_amounts() {
        expect(
            "viafintech-valid_example_with_batch.xml",
            &[
                (
                    "2019062434566666666666666/GBSXX21170607391766562",
                    "2688.00",
                    "EUR",
                    "2019-06-13",
                    None,
                    Some("TERUGGAAF"),
                    Some("TEST"),
                    Some("NL86INGB00066666666"),
                ),
                (
                    "2019062434566666666666666/032019169492039060000000002/0",
                    "5000.00",
                    "EUR",
                    "2019-06-18",
                    None,
                    None,
                    Some("Bedrijf BV"),
                    Some("NL11INGB0001234567"),
                ),
            ],
        );
    }

    #[test]
    fn viafintech_wise_v10_entry_without_details() {
        expect(
            "viafintech-valid_example_with_datetime.xml",
            &[(
                "7301750-38631543-1688639227213/Test Buchung/0",
                "195.86",
                "USD",
                "2023-06-21",
                None,
                None,
                None,
                None,
            )],
        );
    }

    #[test]
    fn viafintech_lone_detail_with_a_stray_amount_pays_the_entry() {
        // TxAmt 0.04 CHF (and InstdAmt 4500.00) under an entry of 4500.00 CHF.
        expect(
            "viafintech-valid_example_with_instdamt.xml",
            &[(
                "STM-C053-190720325942-06/1340044232/0",
                "4500.00",
                "CHF",
                "2019-05-13",
                None,
                Some("Praxis am Weiher"),
                None,
                None,
            )],
        );
    }

    #[test]
    fn oca_abn_v2_debit_and_reversed_batch_skipped() {
        expect(
            "oca-test-camt053",
            &[(
                "1234Test/1/115",
                "1405.31",
                "EUR",
                "2014-01-05",
                None,
                None,
                Some("3rd party Media"),
                Some("NL69ABNA0522123643"),
            )],
        );
    }

    #[test]
    fn oca_swiss_v4_batch_whose_details_share_a_reference() {
        // Both details carry AcctSvcrRef 123456CHCAFEBABE: the ids get their positions.
        expect(
            "oca-test-camt053-txdtls",
            &[
                (
                    "20170323123456789012345/123456CHCAFEBABE/0/0",
                    "2187.00",
                    "CHF",
                    "2017-03-22",
                    Some("302388292000011111111111111"),
                    None,
                    Some("Banque Cantonale Vaudoise"),
                    Some("CH2222000000123456789"),
                ),
                (
                    "20170323123456789012345/123456CHCAFEBABE/0/1",
                    "1296.00",
                    "CHF",
                    "2017-03-22",
                    Some("302388292000022222222222222"),
                    None,
                    Some("Banque Cantonale Vaudoise"),
                    Some("CH3333000000123456789"),
                ),
            ],
        );
    }

    #[test]
    fn moov_finnish_sample_lump_sums_are_unusable() {
        // Four debits skipped; three credits booked as lump sums of 2 transactions each (the
        // sample's camt.054 itemizes them) cannot be placed; an international payment (3200 USD
        // instructed, 2120.00 EUR credited), a priority payment with charges deducted (5500.00
        // instructed, 5455.00 credited) and a SEPA credit transfer are payments.
        const D: &str = "2009-10-29";
        const RF: Option<&str> = Some("RF98123456789012");
        expect(
            "moov-FI_camt_053_sample.xml.xml",
            &[
                (
                    "BANKSTMTID0972009/091029ACCTSTMTARCH04",
                    "unusable: a batch of 2 transactions booked as one entry of 2000.00 EUR: the statement does not itemize them",
                    "EUR",
                    D,
                    None,
                    None,
                    None,
                    None,
                ),
                (
                    "BANKSTMTID0972009/091029ACCTSTMTARCH21",
                    "unusable: a batch of 2 transactions booked as one entry of 500.00 EUR: the statement does not itemize them",
                    "EUR",
                    D,
                    None,
                    None,
                    None,
                    None,
                ),
                (
                    "BANKSTMTID0972009/091029ACCTSTMTARCH05",
                    "unusable: a batch of 2 transactions booked as one entry of 3000.00 EUR: the statement does not itemize them",
                    "EUR",
                    D,
                    None,
                    None,
                    None,
                    None,
                ),
                ("BANKSTMTID0972009/091029ACCTSTMTARCH06/0", "2120.00", "EUR", D, None, Some("INVOICE US20291092"), Some("DEBTOR NAME"), None),
                ("BANKSTMTID0972009/091029ACCTSTMTARCH07/0", "5455.00", "EUR", D, RF, None, Some("PAYERS NAME2"), None),
                ("BANKSTMTID0972009/EndToEndIdSCT01", "10000.00", "EUR", D, RF, None, Some("DEBTOR"), None),
            ],
        );
    }

    #[test]
    fn moov_postfinance_v4_entries_sharing_a_reference() {
        // The 77.70 debit (whose detail says CRDT) is skipped; the last two credits carry the
        // same AcctSvcrRef.
        const S: &str = "2020-11-24";
        expect(
            "moov-camt.053_P_CH2909000000250094239_1110092698_0_2020112503071366.xml",
            &[
                ("20201124375204229003973/0758103031480900", "4.50", "CHF", S, None, None, None, None),
                ("20201124375204229003973/07582000303F0C7U", "1500.00", "CHF", S, None, None, None, None),
                ("20201124375204229003973/07582000303KBMSU/3/0", "1537.00", "CHF", S, None, None, None, None),
                ("20201124375204229003973/07582000303KBMSU/4/0", "1692.22", "CHF", S, None, None, None, None),
            ],
        );
    }

    #[test]
    fn subite_lithuanian_v8_without_status_or_dates() {
        // No Sts (counted as booked) and neither BookgDt nor ValDt: the credit cannot be dated.
        // The two debits are skipped; the second statement has no entries.
        expect(
            "subite-2024-03-07.xml",
            &[(
                "MSG66141212-AUHHDI/REF000000011092",
                "unusable: a booked credit of 828531.98 EUR without a booking or value date",
                "EUR",
                "",
                None,
                None,
                None,
                None,
            )],
        );
    }

    #[test]
    fn ids_are_unique_in_every_file() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/testdata/connectors/camt053");
        let mut files = 0;
        for f in std::fs::read_dir(dir).unwrap() {
            let name = f.unwrap().file_name().into_string().unwrap();
            let p = fixture(&name);
            let ids: std::collections::HashSet<&str> = p.iter().map(|p| p.id.as_str()).collect();
            if name != "genkgo-camt053.v2.multi.statement.xml" {
                assert_eq!(ids.len(), p.len(), "{name}: {p:#?}");
            }
            files += 1;
        }
        assert!(files >= 17, "{files} files");
    }

    // ---- the same real files, changed by hand ---------------------------------------------

    fn changed(name: &str, edits: &[(&str, &str)]) -> Vec<Payment> {
        let mut xml = read(name);
        for (from, to) in edits {
            assert_eq!(xml.matches(from).count(), 1, "{name}: `{from}` must occur once");
            xml = xml.replace(from, to);
        }
        parse_statement(&xml).unwrap()
    }

    #[test]
    fn batch_whose_details_do_not_add_up_is_one_unusable_record() {
        let p = changed("oca-test-camt053-txdtls", &[(">1296.00<", ">1286.00<")]);
        assert_eq!(
            rows(&p),
            [(
                "20170323123456789012345/012345678",
                "unusable: batch entry of 3483.00 CHF: its 2 transactions add up to 3473.00 CHF",
                "CHF",
                "2017-03-22",
                None,
                Some("CRÉDIT GROUPÉ BVR TRAITEMENT DU 22.03.2017 NUMÉRO CLIENT 01-70884-3 PAQUET ID: 123456CHCAFEBABE"),
                None,
                None
            )]
        );
    }

    #[test]
    fn batch_detail_without_a_usable_amount_is_one_unusable_record() {
        let p = changed(
            "oca-test-camt053-txdtls",
            &[(r#"<Amt Ccy="CHF">1296.00<"#, r#"<Amt Ccy="EUR">1296.00<"#)],
        );
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].amount,
            "unusable: batch entry of 3483.00 CHF: transaction 2 of 2 has no amount in CHF"
        );
        let p = changed("oca-test-camt053-txdtls", &[(">2187.00<", ">2.187,00<")]);
        assert_eq!(
            p[0].amount,
            "unusable: batch entry of 3483.00 CHF: transaction 1 of 2 has the amount `2.187,00`, which is not an amount"
        );
        // In the entry's currency under AmtDtls/TxAmt when Amt is in another one.
        let p = changed(
            "oca-test-camt053-txdtls",
            &[(
                r#"<Amt Ccy="CHF">1296.00</Amt>"#,
                r#"<Amt Ccy="EUR">1200.00</Amt><AmtDtls><TxAmt><Amt Ccy="CHF">1296.00</Amt></TxAmt></AmtDtls>"#,
            )],
        );
        assert_eq!(p.iter().map(|p| p.amount.as_str()).collect::<Vec<_>>(), ["2187.00", "1296.00"]);
    }

    #[test]
    fn batch_that_nets_a_debit_detail_pays_its_credits() {
        let p = changed(
            "oca-test-camt053-txdtls",
            &[
                (">3483.00<", ">891.00<"),
                (
                    "<Amt Ccy=\"CHF\">1296.00</Amt>\n            <CdtDbtInd>CRDT",
                    "<Amt Ccy=\"CHF\">1296.00</Amt>\n            <CdtDbtInd>DBIT",
                ),
            ],
        );
        assert_eq!(
            rows(&p).into_iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
            [("20170323123456789012345/123456CHCAFEBABE", "2187.00")],
            "the one payment keeps the reference as its id"
        );
    }

    #[test]
    fn garbage_entry_amount_is_unusable_not_a_failed_page() {
        let p = changed("genkgo-camt053.v8.xml", &[(">8.85<", ">8,85<")]);
        assert_eq!(
            rows(&p),
            [(
                "253EURNL26VAYB8060476890/AAAASESS-FP-CN_98765/01",
                "unusable: entry amount `8,85` is not an amount",
                "EUR",
                "2014-12-31",
                None,
                None,
                None,
                None
            )]
        );
        let p =
            changed("genkgo-camt053.v2.minimal.xml", &[(r#"<Amt Ccy="EUR">8.85</Amt>"#, "<Amt>8.85</Amt>")]);
        assert_eq!(p[0].amount, "unusable: entry amount 8.85 without a currency");
        let p = changed("genkgo-camt053.v2.minimal.xml", &[(r#"<Amt Ccy="EUR">8.85</Amt>"#, "")]);
        assert_eq!(p[0].amount, "unusable: a credit entry without an amount");
    }

    #[test]
    fn decimal_forms_the_schema_allows() {
        let p = changed("genkgo-camt053.v2.minimal.xml", &[(">8.85<", ">.85<")]);
        assert_eq!(p[0].amount, "0.85");
        let p = changed("genkgo-camt053.v2.minimal.xml", &[(">8.85<", ">  8.<")]);
        assert_eq!(p[0].amount, "8");
        let p = changed("genkgo-camt053.v2.minimal.xml", &[(">8.85<", "><!-- booked -->8.85<")]);
        assert_eq!(p[0].amount, "8.85", "a comment inside an element");
        let p = changed("genkgo-camt053.v2.minimal.xml", &[(">8.85<", ">0.00<")]);
        assert!(p.is_empty(), "a credit of zero pays nothing: {p:?}");
    }

    #[test]
    fn debits_reversals_and_entries_not_booked_are_skipped() {
        for (name, from, to) in [
            (
                "genkgo-camt053.v2.minimal.xml",
                "<CdtDbtInd>CRDT</CdtDbtInd>\n                <RvslInd>false",
                "<CdtDbtInd>DBIT</CdtDbtInd>\n                <RvslInd>false",
            ),
            ("genkgo-camt053.v2.minimal.xml", "<RvslInd>false</RvslInd>", "<RvslInd>true</RvslInd>"),
            ("genkgo-camt053.v2.minimal.xml", "<Sts>BOOK</Sts>", "<Sts>PDNG</Sts>"),
            ("genkgo-camt053.v2.minimal.xml", "<Sts>BOOK</Sts>", "<Sts>INFO</Sts>"),
            ("genkgo-camt053.v8.xml", "<Cd>BOOK</Cd>", "<Cd>PDNG</Cd>"),
            ("genkgo-camt053.v8.xml", "<Cd>BOOK</Cd>", "<Prtry>PENDING</Prtry>"),
        ] {
            let p = changed(name, &[(from, to)]);
            assert!(p.is_empty(), "{name} with {to}: {p:?}");
        }
        // A missing status counts as booked (subite's Lithuanian statements leave it out).
        let p = changed("genkgo-camt053.v2.minimal.xml", &[("<Sts>BOOK</Sts>", "")]);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn skipped_entries_are_one_debug_line_per_statement() {
        dunwell_plugin_sdk::testing::take_logs();
        fixture("viafintech-valid_example_v4.xml");
        let logs: Vec<String> = dunwell_plugin_sdk::testing::take_logs()
            .into_iter()
            .filter(|(l, _)| matches!(l, Level::Debug))
            .map(|(_, m)| m)
            .collect();
        assert_eq!(
            logs,
            ["statement 20160430375204000008574: skipped 8 × a debit"],
            "six charges and two reversed debits"
        );
    }

    #[test]
    fn value_date_when_there_is_no_booking_date() {
        let p = changed(
            "genkgo-camt053.v2.minimal.xml",
            &[("<Dt>2014-12-31</Dt>\n                </BookgDt>", "</BookgDt>")],
        );
        assert_eq!(p[0].received_on, "2015-01-02");
    }

    #[test]
    fn end_to_end_id_placeholders_are_no_ids() {
        let p = changed(
            "viafintech-valid_example_v8.xml",
            &[("<AcctSvcrRef>9999181ZC0283079</AcctSvcrRef>", "")],
        );
        assert_eq!(p[0].id, "R30B4SA880HMZ9XA/80000004540000100095");
        let p = changed(
            "viafintech-valid_example_v8.xml",
            &[
                ("<AcctSvcrRef>9999181ZC0283079</AcctSvcrRef>", ""),
                ("<EndToEndId>80000004540000100095</EndToEndId>", "<EndToEndId>NOTPROVIDED</EndToEndId>"),
            ],
        );
        assert_eq!(
            p[0].id, "R30B4SA880HMZ9XA/9999171ZC0173078/0",
            "the entry's AcctSvcrRef and the detail's index"
        );
    }

    #[test]
    fn the_same_statement_twice_in_a_file_is_the_same_payment() {
        let xml = read("genkgo-camt053.v2.minimal.xml");
        let start = xml.find("<Stmt>").unwrap();
        let end = xml.find("</Stmt>").unwrap() + "</Stmt>".len();
        let twice = format!("{}{}{}", &xml[..end], &xml[start..end], &xml[end..]);
        let p = parse_statement(&twice).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].id, p[1].id, "identical: the host counts it once");
        let other = twice.replacen(">8.85<", ">9.85<", 2).replacen(">9.85<", ">8.85<", 1);
        let p = parse_statement(&other).unwrap();
        assert_eq!(
            p.iter().map(|p| (p.id.as_str(), p.amount.as_str())).collect::<Vec<_>>(),
            [("253EURNL26VAYB8060476890/0/0", "8.85"), ("253EURNL26VAYB8060476890/0/0#2", "9.85")]
        );
    }

    #[test]
    fn not_a_statement() {
        assert!(parse_statement("<Document><Foo/></Document>").unwrap_err().contains("camt.053"));
        assert!(parse_statement("%PDF-1.4").unwrap_err().contains("not well-formed XML"));
        let report = read("genkgo-camt053.v2.minimal.xml").replace("BkToCstmrStmt", "BkToCstmrAcctRpt");
        assert!(parse_statement(&report).unwrap_err().contains("no BkToCstmrStmt"));
    }
}
