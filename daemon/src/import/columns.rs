//! Which column of a file holds which field: dunwell's own names (csv-export.md), the Dutch,
//! French and English names exports use (`Factuurnummer`, `N° de facture`, `Invoice number`),
//! an open-items preset's headers, and `[import.columns]` for anything else.
//!
//! Matching: `[import.columns]` and preset headers by their text (case-insensitive, trimmed);
//! our own names and the known names ignoring case, spaces and punctuation (`Factuurnr.` is
//! `factuurnr`). A missing required column gets one message for the whole header, listing the
//! headers found and the nearest names, so a wrong separator or a renamed column is seen at once.

use super::dialect::{ColumnTarget, Settings};
use super::presets::Preset;

/// One of our columns of a file kind.
pub struct Column {
    pub name: &'static str,
    pub required: bool,
}

const fn req(name: &'static str) -> Column {
    Column { name, required: true }
}
const fn opt(name: &'static str) -> Column {
    Column { name, required: false }
}

/// The order is the index the row parsers use.
pub const CUSTOMER_COLUMNS: &[Column] = &[
    req("customer_id"),
    req("name"),
    req("kind"),
    opt("language"),
    opt("email"),
    opt("phone"),
    opt("street"),
    opt("postal_code"),
    opt("city"),
    opt("country"),
    opt("customer_since"),
    opt("payment_method"),
    opt("segment"),
    opt("jurisdiction"),
    opt("account_manager"),
    opt("credit_limit"),
    opt("contact"),
];
pub const INVOICE_COLUMNS: &[Column] = &[
    req("invoice_number"),
    req("customer_id"),
    req("issue_date"),
    req("due_date"),
    opt("currency"),
    req("total"),
    opt("open_amount"),
];
pub const PAYMENT_COLUMNS: &[Column] = &[req("invoice_number"), req("date"), req("amount"), opt("method")];
/// An open-items report: one row per open invoice with its customer. `name` is needed unless
/// `customer_id` is there (then the id names the customer too); without `customer_id` the
/// name is the customer's key. Without `total` the open amount is all the report knows.
pub const OPEN_ITEM_COLUMNS: &[Column] = &[
    req("invoice_number"),
    opt("customer_id"),
    req("name"),
    req("issue_date"),
    req("due_date"),
    opt("currency"),
    opt("total"),
    req("open_amount"),
    opt("kind"),
    opt("language"),
    opt("email"),
    opt("phone"),
    opt("street"),
    opt("postal_code"),
    opt("city"),
    opt("country"),
];

/// Every field a column can be mapped to (`[import.columns]` checks against it): the columns
/// of customers, invoices and payments, each once, in that order.
pub fn fields() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for c in [CUSTOMER_COLUMNS, INVOICE_COLUMNS, PAYMENT_COLUMNS].into_iter().flatten() {
        if !out.contains(&c.name) {
            out.push(c.name);
        }
    }
    out
}

/// The fields whose values are amounts (the decimal mark is detected from them).
pub const AMOUNT_FIELDS: &[&str] = &["total", "open_amount", "amount", "credit_limit"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Customers,
    Invoices,
    Payments,
    OpenItems,
}

impl Kind {
    pub fn columns(self) -> &'static [Column] {
        match self {
            Kind::Customers => CUSTOMER_COLUMNS,
            Kind::Invoices => INVOICE_COLUMNS,
            Kind::Payments => PAYMENT_COLUMNS,
            Kind::OpenItems => OPEN_ITEM_COLUMNS,
        }
    }
}

const CUSTOMER_ID: &[&str] = &[
    "Klantnummer",
    "Klantnr",
    "Klantcode",
    "Klant ID",
    "Debiteurnummer",
    "Debiteurnr",
    "Debiteurcode",
    "Relatienummer",
    "Relatienr",
    "Relatiecode",
    "N° client",
    "Numéro de client",
    "Numéro client",
    "No client",
    "Code client",
    "Customer number",
    "Customer no",
    "Customer ID",
    "Customer code",
    "Client number",
    "Client ID",
    "Debtor number",
    "Account code",
];
const CUSTOMER_NAME: &[&str] = &[
    "Naam",
    "Klantnaam",
    "Bedrijfsnaam",
    "Relatienaam",
    "Debiteurnaam",
    "Naam klant",
    "Nom",
    "Nom du client",
    "Nom client",
    "Raison sociale",
    "Client",
    "Customer",
    "Customer name",
    "Company",
    "Company name",
    "Client name",
    "Debtor",
    "Account name",
];
const INVOICE_NUMBER: &[&str] = &[
    "Factuurnummer",
    "Factuurnr",
    "Factuur nr",
    "Factuur",
    "N° de facture",
    "N° facture",
    "Numéro de facture",
    "No de facture",
    "Facture",
    "Invoice number",
    "Invoice no",
    "Invoice",
    "Invoice ID",
];

/// A bare `Relatie` or `Debiteur`: the customer's number in a file of customers, invoices or
/// payments; its name in an open-items report, which names the customer rather than numbering it
/// (there a bare `Klant` is the name too).
const BARE_CUSTOMER_ID: &[&str] = &["Debiteur", "Relatie"];
const BARE_CUSTOMER_NAME: &[&str] = &["Relatie", "Debiteur", "Klant"];

/// The names exports give `field` in a file of `kind`, besides our own.
fn known_names(kind: Kind, field: &str) -> impl Iterator<Item = &'static str> {
    let extra: &[&str] = match (kind == Kind::OpenItems, field) {
        (true, "name") => BARE_CUSTOMER_NAME,
        (false, "customer_id") => BARE_CUSTOMER_ID,
        _ => &[],
    };
    names_of(kind, field).iter().chain(extra).copied()
}

fn names_of(kind: Kind, field: &str) -> &'static [&'static str] {
    match (kind, field) {
        (_, "customer_id") => CUSTOMER_ID,
        (_, "name") => CUSTOMER_NAME,
        (_, "kind") => &[
            "Soort",
            "Soort klant",
            "Klantsoort",
            "Type",
            "Type klant",
            "Klanttype",
            "Type de client",
            "Customer type",
            "Customer kind",
        ],
        (_, "language") => &["Taal", "Langue", "Language"],
        (_, "email") => &[
            "E-mail",
            "Email",
            "E-mailadres",
            "Emailadres",
            "Mail",
            "Adresse e-mail",
            "Courriel",
            "E-mail address",
        ],
        (_, "phone") => &[
            "Telefoon",
            "Telefoonnummer",
            "Tel",
            "Mobiel",
            "Mobiel nummer",
            "GSM",
            "Téléphone",
            "Phone",
            "Phone number",
            "Mobile",
        ],
        (_, "street") => &["Straat", "Adres", "Straat en huisnummer", "Rue", "Adresse", "Street", "Address"],
        (_, "postal_code") => &["Postcode", "Code postal", "Postal code", "Zip", "Zip code", "Postcode (NL)"],
        (_, "city") => {
            &["Plaats", "Woonplaats", "Gemeente", "Stad", "Localité", "Ville", "Commune", "City", "Town"]
        }
        (_, "country") => &["Land", "Landcode", "Pays", "Code pays", "Country", "Country code"],
        (_, "customer_since") => &["Klant sinds", "Client depuis", "Customer since"],
        (_, "payment_method") => &["Betaalwijze", "Betaalmethode", "Mode de paiement", "Payment method"],
        (_, "account_manager") => &["Accountmanager", "Account manager"],
        (_, "credit_limit") => &["Kredietlimiet", "Limite de crédit", "Credit limit"],
        (_, "contact") => &[
            "Contactpersoon",
            "Naam contactpersoon",
            "Ter attentie van",
            "Personne de contact",
            "Personne à contacter",
            "Contact person",
            "Contact name",
        ],
        (_, "invoice_number") => INVOICE_NUMBER,
        (_, "issue_date") => &[
            "Factuurdatum",
            "Datum factuur",
            "Date de facture",
            "Date facture",
            "Date",
            "Datum",
            "Invoice date",
            "Issue date",
        ],
        (_, "due_date") => &[
            "Vervaldatum",
            "Vervaldag",
            "Uiterste betaaldatum",
            "Date d'échéance",
            "Échéance",
            "Date échéance",
            "Due date",
            "Due",
        ],
        (_, "currency") => &["Valuta", "Munteenheid", "Devise", "Monnaie", "Currency"],
        (Kind::Payments, "amount") => &[
            "Bedrag",
            "Betaald",
            "Betaald bedrag",
            "Ontvangen",
            "Montant",
            "Montant payé",
            "Amount",
            "Amount paid",
            "Paid",
        ],
        (_, "total") => &[
            "Bedrag incl. btw",
            "Bedrag incl btw",
            "Bedrag inclusief btw",
            "Totaal incl. btw",
            "Totaalbedrag",
            "Factuurbedrag",
            "Bedrag",
            "Totaal",
            "Montant TVAC",
            "Montant TTC",
            "Total TVAC",
            "Total TTC",
            "Montant",
            "Total",
            "Amount incl. VAT",
            "Total incl. VAT",
            "Invoice amount",
            "Amount",
        ],
        (_, "open_amount") => &[
            "Openstaand",
            "Openstaand bedrag",
            "Saldo",
            "Open",
            "Nog te betalen",
            "Restant",
            "Uitstaand",
            "Solde",
            "Montant ouvert",
            "Reste à payer",
            "Montant dû",
            "Open amount",
            "Outstanding",
            "Balance",
            "Amount due",
        ],
        (Kind::Payments, "date") => &[
            "Betaaldatum",
            "Betalingsdatum",
            "Datum betaling",
            "Datum",
            "Date de paiement",
            "Date paiement",
            "Date",
            "Payment date",
        ],
        (Kind::Payments, "method") => &["Betaalwijze", "Betaalmethode", "Mode de paiement", "Payment method"],
        _ => &[],
    }
}

/// A header as it is compared with known names: lower case, letters and digits only.
pub fn squash(header: &str) -> String {
    header.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// How a file's header maps to our columns.
#[derive(Debug, Default)]
pub struct Mapping {
    /// For each of our columns (by index into the kind's list), its position in the file.
    pub positions: Vec<Option<usize>>,
    /// Every mapped column carries exactly our own name (the documented format).
    pub own_names: bool,
    /// Headers read under another name: (header, field).
    pub renamed: Vec<(String, &'static str)>,
}

/// What is wrong with a header: the column it concerns (0-based), or `None` for the line.
#[derive(Debug, PartialEq, Eq)]
pub struct HeaderProblem {
    pub column: Option<usize>,
    pub message: String,
}

/// Maps `headers` (the header row's texts, trimmed) to the columns of `kind`.
pub fn map_header(
    kind: Kind,
    headers: &[String],
    settings: &Settings,
    preset: Option<&Preset>,
) -> Result<Mapping, Vec<HeaderProblem>> {
    let columns = kind.columns();
    let mut positions: Vec<Option<usize>> = vec![None; columns.len()];
    let mut own_names = true;
    let mut renamed = Vec::new();
    let mut problems = Vec::new();
    for (i, header) in headers.iter().enumerate() {
        let Some((field, own)) = field_of(kind, header, settings, preset) else { continue };
        let Some(slot) = columns.iter().position(|c| c.name == field) else { continue };
        match positions[slot] {
            None => {
                positions[slot] = Some(i);
                if !own {
                    own_names = false;
                    renamed.push((header.clone(), field));
                }
            }
            Some(first) if headers[first].trim().eq_ignore_ascii_case(header.trim()) => {
                problems.push(HeaderProblem {
                    column: Some(i),
                    message: format!("column `{}` appears twice in the header", header.trim().to_lowercase()),
                });
            }
            Some(first) => problems.push(HeaderProblem {
                column: Some(i),
                message: format!(
                    "columns `{}` (column {}) and `{header}` (column {}) both give `{field}`; keep one, or set the other aside in dunwell.toml: [import.columns] \"{header}\" = \"ignore\"",
                    headers[first],
                    first + 1,
                    i + 1
                ),
            }),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let has =
        |name: &str| columns.iter().position(|c| c.name == name).is_some_and(|i| positions[i].is_some());
    let mut missing: Vec<&'static str> = columns
        .iter()
        .zip(&positions)
        .filter(|(c, p)| c.required && p.is_none())
        .map(|(c, _)| c.name)
        .collect();
    if kind == Kind::OpenItems && has("customer_id") {
        missing.retain(|m| *m != "name");
    }
    // `kind` may come from `[import] default_kind`.
    let kind_missing = missing.contains(&"kind");
    if settings.default_kind.is_some() {
        missing.retain(|m| *m != "kind");
    }
    if missing.is_empty() {
        return Ok(Mapping { positions, own_names, renamed });
    }
    Err(vec![HeaderProblem { column: None, message: missing_message(kind, headers, &missing, kind_missing) }])
}

/// The field `header` gives in a file of `kind`, and whether it is our own name.
fn field_of(
    kind: Kind,
    header: &str,
    settings: &Settings,
    preset: Option<&Preset>,
) -> Option<(&'static str, bool)> {
    match settings.column(header) {
        Some(ColumnTarget::Ignore) => return None,
        Some(ColumnTarget::Field(f)) => return Some((f, false)),
        None => {}
    }
    if let Some(p) = preset {
        let h = header.trim().to_lowercase();
        if let Some((_, f)) = p.columns.iter().find(|(ph, _)| ph.trim().to_lowercase() == h) {
            return Some((f, false));
        }
    }
    let lower = header.trim().to_ascii_lowercase();
    if let Some(f) = kind.columns().iter().find(|c| c.name == lower) {
        return Some((f.name, true));
    }
    let s = squash(header);
    if s.is_empty() {
        return None;
    }
    kind.columns()
        .iter()
        .map(|c| c.name)
        .find(|f| squash(f) == s || known_names(kind, f).any(|n| squash(n) == s))
        .map(|f| (f, false))
}

/// Whether `header` is a column of `kind` without any settings (for separator detection).
pub fn recognised(kind: Kind, headers: &[String], settings: &Settings, preset: Option<&Preset>) -> usize {
    headers.iter().filter(|h| field_of(kind, h, settings, preset).is_some()).count()
}

/// The one message for a header that lacks required columns.
fn missing_message(kind: Kind, headers: &[String], missing: &[&'static str], kind_missing: bool) -> String {
    let required: Vec<&str> = kind.columns().iter().filter(|c| c.required).map(|c| c.name).collect();
    let quoted = |v: &[&str]| v.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ");
    let mut msg = if missing.len() == 1 {
        format!("missing required column `{}` in the header (required: {})", missing[0], required.join(", "))
    } else {
        format!(
            "missing required columns {} in the header (required: {})",
            quoted(missing),
            required.join(", ")
        )
    };
    let found: Vec<&str> = headers.iter().map(|h| h.as_str()).filter(|h| !h.is_empty()).collect();
    if found.is_empty() {
        msg.push_str("; the header row is empty");
    } else {
        msg.push_str(&format!(
            "; the header has {}",
            found.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    if found.len() == 1 {
        if let Some(sep) = [';', '\t', ','].into_iter().find(|c| found[0].contains(*c)) {
            let name = if sep == '\t' { "tab".to_string() } else { sep.to_string() };
            msg.push_str(&format!(
                "; that is one column holding `{name}`: is the file separated by `{name}`? say so in dunwell.toml: [import] separator = \"{name}\""
            ));
        }
    }
    let mut near = Vec::new();
    for &field in missing.iter().filter(|m| **m != "kind" || !kind_missing || missing.len() > 1) {
        if let Some((header, name)) = nearest(kind, field, headers) {
            near.push(format!("`{header}` is close to `{name}` ({field})"));
        }
    }
    if !near.is_empty() {
        msg.push_str(&format!("; {}", near.join(", ")));
    }
    let others: Vec<&&str> = missing.iter().filter(|m| **m != "kind").collect();
    if let Some(example) = others.first() {
        let names = known_names(kind, example).take(3).collect::<Vec<_>>().join("`, `");
        let also =
            if names.is_empty() { String::new() } else { format!(" (besides `{names}` and the like)") };
        msg.push_str(&format!(
            "; if a column of the file holds it under another name{also}, map it in dunwell.toml: [import.columns] \"Its header\" = \"{example}\""
        ));
    }
    if kind_missing {
        msg.push_str(
            "; there is no `kind` column: whether a customer is a business (b2b) or a consumer (b2c) decides which law applies, so dunwell does not guess it; add a kind column (b2b or b2c), or set [import] default_kind = \"b2b\" (or \"b2c\") in dunwell.toml to take that kind for every new customer of the file",
        );
    }
    msg
}

/// The header nearest to one of `field`'s names, when it is near enough to be a typo or a
/// variant, with that name.
fn nearest(kind: Kind, field: &'static str, headers: &[String]) -> Option<(String, &'static str)> {
    let names: Vec<&'static str> = std::iter::once(field).chain(known_names(kind, field)).collect();
    let mut best: Option<(usize, String, &'static str)> = None;
    for h in headers {
        let hs = squash(h);
        if hs.is_empty() {
            continue;
        }
        for n in &names {
            let ns = squash(n);
            let d = distance(&hs, &ns);
            let limit = (ns.chars().count().max(hs.chars().count()) / 3).max(1);
            let contains = hs.len() >= 4 && ns.len() >= 4 && (ns.contains(&hs) || hs.contains(&ns));
            if (d <= limit || contains) && best.as_ref().is_none_or(|(bd, _, _)| d < *bd) {
                best = Some((d, h.clone(), n));
            }
        }
    }
    best.map(|(_, h, n)| (h, n))
}

/// Levenshtein distance in characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The presets whose columns the header holds: every preset header that maps to a required
/// field is there. Exactly one such preset is taken without `--preset`.
pub fn matching_presets<'p>(headers: &[String], presets: &'p [Preset]) -> Vec<&'p Preset> {
    let have: Vec<String> = headers.iter().map(|h| h.trim().to_lowercase()).collect();
    presets
        .iter()
        .filter(|p| p.columns.iter().all(|(h, _)| have.contains(&h.trim().to_lowercase())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// `headers` mapped with no settings and no preset.
    fn map(kind: Kind, headers: &[&str]) -> Result<Mapping, Vec<HeaderProblem>> {
        map_header(kind, &h(headers), &Settings::default(), None)
    }

    fn positions(kind: Kind, headers: &[&str]) -> Vec<Option<usize>> {
        map(kind, headers).unwrap().positions
    }

    #[test]
    fn dutch_french_and_english_names() {
        let nl = positions(
            Kind::Invoices,
            &[
                "Factuurnummer",
                "Klantnummer",
                "Factuurdatum",
                "Vervaldatum",
                "Bedrag incl. btw",
                "Openstaand",
            ],
        );
        assert_eq!(nl, [Some(0), Some(1), Some(2), Some(3), None, Some(4), Some(5)]);
        let fr = positions(
            Kind::Invoices,
            &["N° de facture", "N° client", "Date de facture", "Date d'échéance", "Montant TVAC", "Solde"],
        );
        assert_eq!(fr, [Some(0), Some(1), Some(2), Some(3), None, Some(4), Some(5)]);
        let en = positions(
            Kind::Invoices,
            &["Invoice number", "Customer ID", "Invoice date", "Due date", "Total", "Balance"],
        );
        assert_eq!(en, [Some(0), Some(1), Some(2), Some(3), None, Some(4), Some(5)]);
        let pay = positions(Kind::Payments, &["Factuurnr.", "Betaaldatum", "Bedrag"]);
        assert_eq!(pay, [Some(0), Some(1), Some(2), None]);
    }

    #[test]
    fn the_contact_person_by_its_dutch_french_and_english_names() {
        let contact = CUSTOMER_COLUMNS.iter().position(|c| c.name == "contact").unwrap();
        for header in ["contact", "Contactpersoon", "Personne de contact", "Contact person"] {
            let p = positions(Kind::Customers, &["Klantnummer", "Naam", "Soort", header]);
            assert_eq!(p[contact], Some(3), "{header}");
        }
    }

    #[test]
    fn own_names_are_the_documented_format() {
        let m = map(Kind::Customers, &["Kind", "Name", "Customer_ID", "Notes"]).unwrap();
        assert!(m.own_names);
        let m = map(Kind::Customers, &["Klantnummer", "name", "kind"]).unwrap();
        assert!(!m.own_names);
        assert_eq!(m.renamed, [("Klantnummer".to_string(), "customer_id")]);
    }

    #[test]
    fn configured_columns_win() {
        let mut settings = Settings::default();
        settings.columns.insert("Fact. ref".into(), ColumnTarget::Field("invoice_number"));
        settings.columns.insert("Saldo".into(), ColumnTarget::Ignore);
        let m = map_header(
            Kind::Invoices,
            &h(&["fact. ref", "customer_id", "issue_date", "due_date", "total", "Saldo"]),
            &settings,
            None,
        )
        .unwrap();
        assert_eq!(m.positions, [Some(0), Some(1), Some(2), Some(3), None, Some(4), None]);
    }

    #[test]
    fn one_message_for_missing_columns_with_the_nearest_names() {
        let err = map(Kind::Invoices, &["invoice_number", "customer_id", "issue_date", "total"]).unwrap_err();
        assert_eq!(err.len(), 1);
        assert!(
            err[0].message.starts_with("missing required column `due_date` in the header"),
            "{}",
            err[0].message
        );
        assert!(err[0]
            .message
            .contains("the header has `invoice_number`, `customer_id`, `issue_date`, `total`"));
        let err =
            map(Kind::Invoices, &["Factuurnumer", "Klant", "Datum", "Verval datum", "Bedrag"]).unwrap_err();
        assert_eq!(err.len(), 1);
        let m = &err[0].message;
        assert!(m.contains("missing required columns `invoice_number`, `customer_id`"), "{m}");
        assert!(m.contains("`Factuurnumer` is close to `Factuurnummer` (invoice_number)"), "{m}");
        assert!(m.contains("[import.columns]"), "{m}");
        // A `;` file read with `,` is one column: say so.
        let err = map(Kind::Invoices, &["Factuurnummer;Klantnummer;Vervaldatum"]).unwrap_err();
        assert!(err[0].message.contains("separator = \";\""), "{}", err[0].message);
    }

    #[test]
    fn no_kind_column_names_default_kind() {
        let err = map(Kind::Customers, &["Klantnummer", "Naam"]).unwrap_err();
        assert!(err[0].message.contains("missing required column `kind`"), "{}", err[0].message);
        assert!(err[0].message.contains("[import] default_kind"), "{}", err[0].message);
        let settings =
            Settings { default_kind: Some(crate::model::CustomerKind::B2b), ..Settings::default() };
        assert!(map_header(Kind::Customers, &h(&["Klantnummer", "Naam"]), &settings, None).is_ok());
    }

    #[test]
    fn the_same_field_twice() {
        let err = map(Kind::Customers, &["customer_id", "name", "kind", "name"]).unwrap_err();
        assert_eq!(err[0].message, "column `name` appears twice in the header");
        assert_eq!(err[0].column, Some(3));
        let err = map(
            Kind::Invoices,
            &["Factuurnummer", "Klantnummer", "Factuurdatum", "Vervaldatum", "Bedrag", "Saldo", "Openstaand"],
        )
        .unwrap_err();
        assert!(err[0].message.contains("both give `open_amount`"), "{}", err[0].message);
    }

    #[test]
    fn presets_by_their_headers() {
        const P: &[Preset] = &[Preset {
            name: "demo",
            package: "Demo",
            report: "Open posten",
            source: "test",
            columns: &[
                ("Fact.", "invoice_number"),
                ("Relatie", "name"),
                ("Verval", "due_date"),
                ("Open", "open_amount"),
            ],
        }];
        let headers = h(&["Fact.", "Relatie", "Datum", "Verval", "Open", "Extra"]);
        assert_eq!(matching_presets(&headers, P).len(), 1);
        assert!(matching_presets(&h(&["Fact.", "Relatie"]), P).is_empty());
        assert!(matching_presets(&headers, &[]).is_empty());
        let m = map_header(Kind::OpenItems, &headers, &Settings::default(), Some(&P[0])).unwrap();
        assert_eq!(m.positions[0], Some(0));
        assert_eq!(m.positions[2], Some(1));
        assert_eq!(m.positions[3], Some(2));
    }
}
