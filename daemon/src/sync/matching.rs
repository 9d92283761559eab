//! Bank-payment matching: which invoice a payment that names none pays (a structured
//! reference, then an invoice number in its text, then a unique open amount, then a unique
//! open amount among the invoices of the customer whose account paid before).

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::{SyncSummary, SyncedPayment};
use crate::law::reference::PaymentReference;
use crate::store::MatchCandidate;

/// Letters and digits only, upper-cased: `2024-0017` and `2024 0017` read alike.
fn squash(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_uppercase).collect()
}

/// Bank-payment matching against the store's invoices, indexed once per sync: a statement of
/// a few hundred payments against a million invoices must not scan (and regenerate the
/// reference of) every invoice for every payment.
pub(super) struct Matcher {
    /// In invoice-number order; earlier candidates win ties, as the rules below say.
    candidates: Vec<MatchCandidate>,
    by_number: HashMap<String, usize>,
    /// Squashed stated references, then (built on the first payment that carries a reference)
    /// the squashed references dunwell generates (BE structured and RF) for each number.
    by_reference: HashMap<String, usize>,
    generated_indexed: bool,
    /// Squashed invoice numbers of at least 4 characters, longest first (ties in number order).
    numbers: Vec<(String, usize)>,
    /// Candidates with something open, by currency and (normalised) open amount.
    by_amount: HashMap<(String, Decimal), Vec<usize>>,
    /// Candidates by customer.
    by_customer: HashMap<String, Vec<usize>>,
    /// Squashed accounts that paid a customer's invoice before: `None` when they paid for more
    /// than one customer (a bookkeeper's or a parent company's account tells nothing).
    payers: HashMap<String, Option<String>>,
}

impl Matcher {
    pub(super) fn new(candidates: Vec<MatchCandidate>, known_payers: Vec<(String, String)>) -> Self {
        let by_number = candidates.iter().enumerate().map(|(i, c)| (c.number.clone(), i)).collect();
        let mut by_reference = HashMap::new();
        for (i, c) in candidates.iter().enumerate() {
            if let Some(r) = c.payment_reference.as_deref().map(squash).filter(|r| !r.is_empty()) {
                by_reference.entry(r).or_insert(i);
            }
        }
        let mut numbers: Vec<(String, usize)> = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| (squash(&c.number), i))
            .filter(|(n, _)| n.len() >= 4)
            .collect();
        // The longest number wins (F2024-17 inside F2024-175 must not match the shorter).
        numbers.sort_by_key(|(n, i)| (std::cmp::Reverse(n.len()), *i));
        let mut by_amount: HashMap<(String, Decimal), Vec<usize>> = HashMap::new();
        let mut by_customer: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, c) in candidates.iter().enumerate() {
            if c.open_amount > Decimal::ZERO {
                by_amount.entry((c.currency.clone(), c.open_amount.normalize())).or_default().push(i);
            }
            by_customer.entry(c.customer_id.clone()).or_default().push(i);
        }
        let mut matcher = Matcher {
            candidates,
            by_number,
            by_reference,
            generated_indexed: false,
            numbers,
            by_amount,
            by_customer,
            payers: HashMap::new(),
        };
        for (iban, customer) in known_payers {
            matcher.learn_payer(&iban, &customer);
        }
        matcher
    }

    /// Remembers that `iban` paid an invoice of `customer`.
    fn learn_payer(&mut self, iban: &str, customer: &str) {
        let key = squash(iban);
        if key.is_empty() {
            return;
        }
        match self.payers.get(&key) {
            None => {
                self.payers.insert(key, Some(customer.to_string()));
            }
            Some(Some(known)) if known != customer => {
                self.payers.insert(key, None);
            }
            Some(_) => {}
        }
    }

    /// Adds the references dunwell generates for every invoice (once, lazily: most syncs bring
    /// no bank payments with a reference).
    fn index_generated(&mut self) {
        if self.generated_indexed {
            return;
        }
        self.generated_indexed = true;
        for (i, c) in self.candidates.iter().enumerate() {
            for jurisdiction in [crate::calendar::Jurisdiction::Be, crate::calendar::Jurisdiction::Nl] {
                if let Ok(r) = PaymentReference::for_invoice(jurisdiction, &c.number) {
                    let key = squash(&r.to_string());
                    // A stated reference of an earlier invoice keeps its place.
                    match self.by_reference.get(&key) {
                        Some(&j) if j <= i => {}
                        _ => {
                            self.by_reference.insert(key, i);
                        }
                    }
                }
            }
        }
    }

    /// The currency of a stored invoice, by number.
    pub(super) fn currency(&self, number: &str) -> Option<&str> {
        self.by_number.get(number).map(|&i| self.candidates[i].currency.as_str())
    }

    /// The candidate `i` for payment `p` by `rule`, when it is in the payment's currency: money
    /// in another currency is never a payment of the invoice (an amount in CHF does not pay
    /// that much in EUR). A payment that names an invoice of another currency pays nothing, and
    /// is not tried against other invoices either.
    fn named(&self, i: usize, p: &SyncedPayment, rule: Rule) -> Option<(String, Rule)> {
        let c = &self.candidates[i];
        (c.currency == p.currency).then(|| (c.number.clone(), rule))
    }

    /// Finds the invoice a bank payment pays: (1) structured reference, (2) invoice number in
    /// the free text, (3) the one open invoice of exactly that amount, (4) failing that (several
    /// invoices of that amount are open), the one among them of the customer whose account
    /// paid before; always in the payment's currency. Returns the number and the rule.
    pub(super) fn find(&mut self, p: &SyncedPayment) -> Option<(String, Rule)> {
        if let Some(r) = p.reference.as_deref() {
            let want = squash(r);
            if !want.is_empty() {
                if PaymentReference::parse(r).is_ok() {
                    self.index_generated();
                }
                if let Some(&i) = self.by_reference.get(&want) {
                    return self.named(i, p, Rule::Reference);
                }
            }
        }
        if let Some(text) = p.free_text.as_deref().or(p.reference.as_deref()) {
            let text = squash(text);
            if let Some(&(_, i)) = self.numbers.iter().find(|(n, _)| text.contains(n.as_str())) {
                return self.named(i, p, Rule::Number);
            }
        }
        let same =
            self.by_amount.get(&(p.currency.clone(), p.amount.normalize())).map_or(&[][..], Vec::as_slice);
        if let [i] = same {
            return Some((self.candidates[*i].number.clone(), Rule::Amount));
        }
        let customer = p.payer_iban.as_deref().and_then(|iban| self.payers.get(&squash(iban))?.as_ref())?;
        let theirs = self.by_customer.get(customer)?;
        let mut hits = same.iter().filter(|i| theirs.contains(i));
        match (hits.next(), hits.next()) {
            (Some(&i), None) => Some((self.candidates[i].number.clone(), Rule::Payer)),
            _ => None,
        }
    }

    /// Lowers what is open on `number` after a payment was put on it, and remembers the
    /// account that paid it.
    pub(super) fn paid(&mut self, number: &str, amount: Decimal, payer_iban: Option<&str>) {
        let Some(&i) = self.by_number.get(number) else { return };
        let c = &self.candidates[i];
        let before = (c.currency.clone(), c.open_amount.normalize());
        if let Some(list) = self.by_amount.get_mut(&before) {
            list.retain(|&j| j != i);
        }
        self.candidates[i].open_amount -= amount;
        let c = &self.candidates[i];
        if c.open_amount > Decimal::ZERO {
            let list = self.by_amount.entry((c.currency.clone(), c.open_amount.normalize())).or_default();
            let at = list.partition_point(|&j| j < i);
            list.insert(at, i);
        }
        if let Some(iban) = payer_iban {
            let customer = self.candidates[i].customer_id.clone();
            self.learn_payer(iban, &customer);
        }
    }
}

/// Which matching rule placed a bank payment, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rule {
    /// The structured payment reference.
    Reference,
    /// An invoice number in the free text.
    Number,
    /// The one open invoice of exactly that amount.
    Amount,
    /// Of the open invoices of that amount, the one of the customer whose account paid before.
    Payer,
}

pub(super) fn count_rule(summary: &mut SyncSummary, rule: Rule) {
    match rule {
        Rule::Reference => summary.matched_by_reference += 1,
        Rule::Number => summary.matched_by_number += 1,
        Rule::Payer => summary.matched_by_payer += 1,
        Rule::Amount => summary.matched_by_amount += 1,
    }
}
