#!/usr/bin/env python3
"""Writes the spreadsheet corpus byte for byte as Excel writes it on a Dutch or Belgian computer.

Run from anywhere: `python3 tests/testdata/spreadsheets/make.py`. It rewrites every file of the
cases below (never `xlsx/`, which is made otherwise) and nothing else; the files are committed,
so the tests do not run this. What Excel (Microsoft 365, Windows) does when it saves a sheet:

- "CSV (gescheiden door lijstscheidingsteken) (*.csv)" / "CSV (séparateur: point-virgule)":
  the ANSI code page of Windows, Windows-1252 for nl-NL, nl-BE and fr-BE (é = E9, ë = EB,
  € = 80), no byte-order mark.
- "CSV UTF-8 (door komma's gescheiden) (*.csv)": UTF-8 with a byte-order mark (EF BB BF).
  Despite the name, both CSV kinds use the list separator of the regional settings: `;` in
  nl-NL, nl-BE and fr-BE (where the decimal separator is the comma).
- "Tekst (tab is scheidingsteken) (*.txt)": Windows-1252, a tab between fields.
- Every row ends in CR LF, the last one too.
- A field is quoted ("...") only when it holds the separator, a quote (doubled) or a line break.
- A cell is written as it is displayed: a number in its number format with the locale's
  decimal comma (`#.##0,00` gives `1.234,50`, `0,00` gives `1234,50`), a date in its date format
  (the Windows short date is the default; `dd-mm-jjjj`, `dd/mm/jjjj` and `d-m-jjjj` are all
  common), text as typed.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))


def cell(value, sep):
    if any(c in value for c in (sep, '"', "\r", "\n")):
        return '"' + value.replace('"', '""') + '"'
    return value


def write(case, name, rows, encoding="cp1252", sep=";", bom=False):
    """One file: rows of text cells, CRLF after every row, encoded as Excel encodes it."""
    text = "".join(sep.join(cell(v, sep) for v in row) + "\r\n" for row in rows)
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path = os.path.join(HERE, case, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def lines(case, name, text):
    """A plain UTF-8 text file with LF line ends (expect, import.toml)."""
    path = os.path.join(HERE, case, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


# nl-excel: Dutch Excel, "CSV (gescheiden door lijstscheidingsteken)", Windows-1252,
# `;`, amounts `#.##0,00`, dates `dd-mm-jjjj`, the kind as Soort = zakelijk/particulier.
NL_CUSTOMERS = [
    ["Klantnummer", "Naam", "Soort", "E-mail", "Telefoon", "Adres", "Postcode", "Plaats", "Land"],
    ["K1001", "Café 't Hoekje", "zakelijk", "info@hoekje.example", "", "Kerkstraat 12", "1017 GC", "Amsterdam", "NL"],
    ["K1002", "Zoë de Vries", "particulier", "zoe.devries@example.nl", "+31612345678", "Dorpsstraat 5", "5611 AA", "Eindhoven", "NL"],
    ["K1003", "Brouwerij De Ploeg B.V.", "zakelijk", "debiteuren@deploeg.example", "", "Industrieweg 7; unit 3", "3542 AD", "Utrecht", "NL"],
]
NL_INVOICES = [
    ["Factuurnummer", "Klantnummer", "Factuurdatum", "Vervaldatum", "Bedrag incl. btw", "Openstaand", "Notitie"],
    ["2026-0101", "K1001", "01-10-2026", "31-10-2026", "1.234,50", "1.234,50", ""],
    ["2026-0102", "K1001", "15-10-2026", "14-11-2026", "605,00", "302,50", "deels betaald"],
    ["2026-0103", "K1002", "03-09-2026", "17-09-2026", "89,95", "89,95", "incl. € 4,95 verzendkosten"],
    ["2026-0104", "K1003", "20-08-2026", "19-09-2026", "12.100,00", "0,00", "betaald in twee delen"],
    ["2026-0105", "K1003", "02-11-2026", "02-12-2026", "2.420,00", "2.420,00", ""],
]
NL_PAYMENTS = [
    ["Factuurnummer", "Betaaldatum", "Bedrag"],
    ["2026-0102", "30-10-2026", "302,50"],
    ["2026-0104", "10-09-2026", "6.000,00"],
    ["2026-0104", "18-09-2026", "6.100,00"],
]

# be-fr-excel: Belgian French Excel, "CSV UTF-8", BOM, `;`, amounts `0,00`, dates `dd/mm/yyyy`,
# no kind column.
FR_CUSTOMERS = [
    ["N° client", "Client", "E-mail", "Rue", "Code postal", "Localité", "Pays"],
    ["C201", "Boulangerie Lefèvre SRL", "compta@lefevre.example", "Rue de la Station 4", "5000", "Namur", "BE"],
    ["C202", "Frédéric Dubois", "f.dubois@example.be", "Avenue Louise 120", "1050", "Ixelles", "BE"],
]
FR_INVOICES = [
    ["N° de facture", "N° client", "Client", "Date de facture", "Date d'échéance", "Montant TVAC", "Solde"],
    ["F-2026-031", "C201", "Boulangerie Lefèvre SRL", "05/10/2026", "04/11/2026", "1210,00", "1210,00"],
    ["F-2026-032", "C201", "Boulangerie Lefèvre SRL", "20/10/2026", "19/11/2026", "484,00", "242,00"],
    ["F-2026-033", "C202", "Frédéric Dubois", "14/09/2026", "28/09/2026", "99,99", "99,99"],
]

# be-nl-excel: Flemish Excel, Windows-1252, `;`, amounts `0,00`, dates `d-m-jjjj`,
# the kind as Type = b2b/b2c. tab/: the same sheet saved as "Tekst (tab is scheidingsteken)".
BE_CUSTOMERS = [
    ["Klantnummer", "Naam", "Type", "E-mail", "Straat", "Postcode", "Gemeente", "Land"],
    ["301", "Drukkerij Van Damme BV", "b2b", "boekhouding@vandamme.example", "Kortrijksesteenweg 80", "9000", "Gent", "BE"],
    ["302", "Chloë Janssens", "b2c", "chloe.janssens@example.be", "Lange Nieuwstraat 3", "2000", "Antwerpen", "BE"],
]
BE_INVOICES = [
    ["Factuurnummer", "Klantnummer", "Factuurdatum", "Vervaldatum", "Bedrag incl. btw", "Saldo"],
    ["VF26-0007", "301", "3-9-2026", "3-10-2026", "1234,50", "734,50"],
    ["VF26-0008", "301", "1-10-2026", "31-10-2026", "2662,00", "2662,00"],
    ["VF26-0009", "302", "15-10-2026", "29-10-2026", "75,00", "75,00"],
]
BE_PAYMENTS = [
    ["Factuurnummer", "Betaaldatum", "Bedrag"],
    ["VF26-0007", "7-10-2026", "500,00"],
]

# ambiguous-amounts: whole euros with a thousands point (`#.##0`), every amount of the form
# 1.234: a decimal point with three decimals or a thousands separator? Must be refused.
AMB_CUSTOMERS = [
    ["Klantnummer", "Naam", "Soort"],
    ["K1", "Aannemersbedrijf Smit B.V.", "zakelijk"],
]
AMB_INVOICES = [
    ["Factuurnummer", "Klantnummer", "Factuurdatum", "Vervaldatum", "Bedrag incl. btw", "Openstaand"],
    ["2026-501", "K1", "01-10-2026", "31-10-2026", "1.250", "1.250"],
    ["2026-502", "K1", "15-10-2026", "14-11-2026", "2.500", "2.500"],
    ["2026-503", "K1", "01-11-2026", "01-12-2026", "12.100", "12.100"],
]

# month-first: an English (United States) Excel file, `,` and a decimal point, dates M/D/YYYY
# that only a month-first reading makes valid. Must be refused, never guessed.
US_CUSTOMERS = [
    ["customer_id", "name", "kind"],
    ["C1", "Smit Consultancy", "b2b"],
]
US_INVOICES = [
    ["invoice_number", "customer_id", "issue_date", "due_date", "total"],
    ["2026-601", "C1", "10/15/2026", "11/14/2026", "1210.00"],
]

# presets/yuki: the documented columns of "Te herinneren facturen" (the tenth default column's
# name is unknown and left out). Format not documented: written here in the Dutch Excel dialect.
YUKI = [
    ["Factuurnr.", "Relatie", "Onderwerp", "Factuurdatum", "Vervaldatum", "Btw-bedrag", "Bedrag", "Uitstaand", "Dagen achterstallig"],
    ["2026-0311", "Café 't Hoekje", "Catering september", "01-09-2026", "01-10-2026", "210,00", "1.210,00", "1.210,00", "60"],
    ["2026-0315", "Café 't Hoekje", "Catering oktober", "01-10-2026", "31-10-2026", "105,00", "605,00", "305,00", "30"],
    ["2026-0320", "Zoë de Vries", "Workshop", "15-10-2026", "29-10-2026", "17,35", "99,95", "99,95", "32"],
]

# open-items: a generic Dutch open-items report on two days. On 15 November 2026-0207 and
# 2026-0215 are gone (paid meanwhile) and 2026-0230 is new.
OPEN_HEADER = ["Relatie", "Factuurnummer", "Factuurdatum", "Vervaldatum", "Openstaand"]
OPEN_1101 = [
    OPEN_HEADER,
    ["Café 't Hoekje", "2026-0201", "01-09-2026", "01-10-2026", "1.234,50"],
    ["Café 't Hoekje", "2026-0207", "15-09-2026", "15-10-2026", "250,00"],
    ["Zoë de Vries", "2026-0210", "01-10-2026", "15-10-2026", "89,95"],
    ["Brouwerij De Ploeg B.V.", "2026-0215", "05-10-2026", "04-11-2026", "2.420,00"],
    ["Brouwerij De Ploeg B.V.", "2026-0220", "20-10-2026", "19-11-2026", "605,00"],
]
OPEN_1115 = [
    OPEN_HEADER,
    ["Café 't Hoekje", "2026-0201", "01-09-2026", "01-10-2026", "1.234,50"],
    ["Zoë de Vries", "2026-0210", "01-10-2026", "15-10-2026", "89,95"],
    ["Brouwerij De Ploeg B.V.", "2026-0220", "20-10-2026", "19-11-2026", "605,00"],
    ["Zoë de Vries", "2026-0230", "01-11-2026", "15-11-2026", "45,00"],
]

DEFAULT_KIND = '[import]\ndefault_kind = "b2b"\n'


def main():
    write("nl-excel", "customers.csv", NL_CUSTOMERS)
    write("nl-excel", "invoices.csv", NL_INVOICES)
    write("nl-excel", "payments.csv", NL_PAYMENTS)
    lines("nl-excel", "expect",
          "customers: 3 added\ninvoices:  5 added\npayments:  3 added\n"
          "decimal comma\nDD-MM-YYYY\nWindows-1252\n")

    write("be-fr-excel", "customers.csv", FR_CUSTOMERS, encoding="utf-8", bom=True)
    write("be-fr-excel", "invoices.csv", FR_INVOICES, encoding="utf-8", bom=True)
    lines("be-fr-excel", "expect", "customers.csv\ndefault_kind\n")

    write("be-nl-excel", "customers.csv", BE_CUSTOMERS)
    write("be-nl-excel", "invoices.csv", BE_INVOICES)
    write("be-nl-excel", "payments.csv", BE_PAYMENTS)
    lines("be-nl-excel", "expect",
          "customers: 2 added\ninvoices:  3 added\npayments:  1 added\n"
          "decimal comma\nWindows-1252\n")
    write("be-nl-excel", "tab/customers.csv", BE_CUSTOMERS, sep="\t")
    write("be-nl-excel", "tab/invoices.csv", BE_INVOICES, sep="\t")
    write("be-nl-excel", "tab/payments.csv", BE_PAYMENTS, sep="\t")
    lines("be-nl-excel", "tab/expect",
          "customers: 2 added\ninvoices:  3 added\npayments:  1 added\n"
          "decimal comma\nWindows-1252\n")

    write("ambiguous-amounts", "customers.csv", AMB_CUSTOMERS)
    write("ambiguous-amounts", "invoices.csv", AMB_INVOICES)
    lines("ambiguous-amounts", "expect", "invoices.csv\n1.250\n[import]\ndecimal\n")

    write("month-first", "customers.csv", US_CUSTOMERS, sep=",")
    write("month-first", "invoices.csv", US_INVOICES, sep=",")
    lines("month-first", "expect", "invoices.csv\n10/15/2026\n[import]\n")

    write("presets/yuki", "te-herinneren-facturen.csv", YUKI)
    lines("presets/yuki", "import.toml", DEFAULT_KIND)
    lines("presets/yuki", "expect", "customers: 2 added\ninvoices:  3 added\n")

    write("open-items", "report-2026-11-01.csv", OPEN_1101)
    write("open-items", "report-2026-11-15.csv", OPEN_1115)
    lines("open-items", "import.toml", DEFAULT_KIND)
    lines("open-items", "expect", "customers: 3 added\ninvoices:  5 added\n")
    lines("open-items", "expect-2026-11-15",
          "invoices:  1 added\n2026-0207\n2026-0215\n2026-11-15\n")


if __name__ == "__main__":
    main()
