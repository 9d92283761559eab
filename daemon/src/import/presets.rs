//! Presets for the open-items reports of Dutch bookkeeping packages.
//!
//! Many businesses do not have three files (customers, invoices, payments) but one report of
//! open items that their bookkeeping package exports: one row per unpaid invoice with the
//! customer's name and the amount still open. Such a report uses the package's own column names
//! (in Dutch), so a preset maps each of its headers to one of our field names (the column names
//! of `shared/formats/csv-export.md`), selectable with `--preset NAME` and detected from the
//! header when exactly one preset fits.
//!
//! A preset exists only for a package whose public documentation shows the report's columns;
//! nothing here is guessed. Where each preset's columns come from, and which packages were
//! searched without result (and are therefore left out), is written down in
//! `docs/open-items-presets.md`.

/// The open-items report of one bookkeeping package.
pub struct Preset {
    /// The name given to `--preset`: "exact-online", "moneybird", "e-boekhouden", "twinfield", "yuki".
    pub name: &'static str,
    /// The package, as its maker spells it: "Exact Online".
    pub package: &'static str,
    /// The report's name in the package.
    pub report: &'static str,
    /// Where the columns come from (URL or repository path).
    pub source: &'static str,
    /// (header text as the package exports it, matched case-insensitively after trimming, our field name)
    pub columns: &'static [(&'static str, &'static str)],
}

/// Every documented preset. See `docs/open-items-presets.md` for the packages left out.
pub const PRESETS: &[Preset] = &[Preset {
    name: "yuki",
    package: "Yuki",
    report: "Te herinneren facturen (werklijst onder Verkoop > Facturen, gedownload als CSV)",
    source: "https://support.yuki.nl/nl/support/solutions/articles/11000062384-te-herinneren-facturen-",
    // Default columns of the work list: Factuurnr., Relatie, Onderwerp, Factuurdatum,
    // Vervaldatum, Btw-bedrag, Bedrag, Uitstaand, Dagen achterstallig (and one more, whose
    // name the stored copy of the page cuts off). Onderwerp, Btw-bedrag and Dagen
    // achterstallig are not ours and are not listed.
    columns: &[
        ("Factuurnr.", "invoice_number"),
        ("Relatie", "name"),
        ("Factuurdatum", "issue_date"),
        ("Vervaldatum", "due_date"),
        ("Bedrag", "total"),
        ("Uitstaand", "open_amount"),
    ],
}];

/// The preset called `name` (as given to `--preset`; matched exactly, names are lower case).
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|preset| preset.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::columns::OPEN_ITEM_COLUMNS;
    use std::collections::BTreeSet;

    const NAMES: &[&str] = &["exact-online", "moneybird", "e-boekhouden", "twinfield", "yuki"];

    fn normalized(header: &str) -> String {
        header.trim().to_lowercase()
    }

    fn header_set(preset: &Preset) -> BTreeSet<String> {
        preset.columns.iter().map(|(header, _)| normalized(header)).collect()
    }

    #[test]
    fn every_field_is_one_of_ours() {
        for preset in PRESETS {
            for (header, field) in preset.columns {
                assert!(
                    OPEN_ITEM_COLUMNS.iter().any(|c| c.name == *field),
                    "{}: `{header}` maps to `{field}`, which is not a field of csv-export.md",
                    preset.name
                );
            }
        }
    }

    #[test]
    fn names_are_the_known_ones_and_unique() {
        let mut seen = BTreeSet::new();
        for preset in PRESETS {
            assert!(NAMES.contains(&preset.name), "unknown preset name `{}`", preset.name);
            assert!(seen.insert(preset.name), "preset `{}` appears twice", preset.name);
        }
    }

    #[test]
    fn every_preset_says_what_it_is_and_where_it_comes_from() {
        for preset in PRESETS {
            assert!(!preset.package.is_empty(), "{}: no package", preset.name);
            assert!(!preset.report.is_empty(), "{}: no report", preset.name);
            assert!(!preset.source.trim().is_empty(), "{}: no source", preset.name);
        }
    }

    #[test]
    fn headers_and_fields_are_unique_within_a_preset() {
        for preset in PRESETS {
            let mut headers = BTreeSet::new();
            let mut fields = BTreeSet::new();
            for (header, field) in preset.columns {
                assert_eq!(*header, header.trim(), "{}: `{header}` has spaces around it", preset.name);
                assert!(!header.is_empty(), "{}: an empty header", preset.name);
                assert!(
                    headers.insert(normalized(header)),
                    "{}: header `{header}` appears twice (case-insensitively)",
                    preset.name
                );
                assert!(fields.insert(*field), "{}: two headers map to `{field}`", preset.name);
            }
        }
    }

    #[test]
    fn no_two_presets_have_the_same_header_set() {
        for (i, a) in PRESETS.iter().enumerate() {
            for b in &PRESETS[i + 1..] {
                assert_ne!(
                    header_set(a),
                    header_set(b),
                    "`{}` and `{}` have the same headers: detection would be ambiguous",
                    a.name,
                    b.name
                );
            }
        }
    }

    #[test]
    fn every_preset_maps_what_an_open_item_needs() {
        for preset in PRESETS {
            let fields: BTreeSet<&str> = preset.columns.iter().map(|(_, field)| *field).collect();
            for needed in ["invoice_number", "open_amount", "due_date"] {
                assert!(fields.contains(needed), "{}: no column maps to `{needed}`", preset.name);
            }
            assert!(
                fields.contains("customer_id") || fields.contains("name"),
                "{}: no column names the customer (customer_id or name)",
                preset.name
            );
        }
    }

    #[test]
    fn find_gives_each_preset_by_its_name_and_nothing_else() {
        for preset in PRESETS {
            let found = find(preset.name).expect("a preset is found by its name");
            assert_eq!(found.name, preset.name);
            assert_eq!(found.source, preset.source);
        }
        assert!(find("nonexistent").is_none());
        assert!(find("").is_none());
    }
}
