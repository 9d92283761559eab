# Builds the .xlsx test workbooks from the CSVs next to this file with LibreOffice Calc, the
# way a Dutch user gets them: each CSV is opened as Calc opens it on an nl-NL computer (so
# `1.234,50` becomes a number and `31-10-2026` a date cell), the sheets are put together in one
# workbook and saved as Excel 2007-365 .xlsx. Run by make.sh, which starts Calc.
#
#   /usr/bin/python3 make.py PIPE_NAME
import os
import sys
import time

import uno
from com.sun.star.beans import PropertyValue

HERE = os.path.dirname(os.path.abspath(__file__))

# Field separator ';' (59), text delimiter '"' (34), UTF-8 (76), from line 1, no column formats,
# language nl-NL (1043), quoted fields as text (so "+31612345678" and "2026-0101" stay text),
# detect special numbers (dates, times), [3 export-only tokens], evaluate formulas (=1/0).
CSV_OPTIONS = "59,34,76,1,,1043,true,true,false,false,false,-1,true"

WORKBOOKS = [
    (
        "export.xlsx",
        [
            ("export-customers.csv", "customers"),
            ("export-invoices.csv", "invoices"),
            ("export-payments.csv", "payments"),
        ],
    ),
    ("open-items.xlsx", [("open-items.csv", "Openstaande posten")]),
    ("errors.xlsx", [("errors.csv", "invoices")]),
    ("layout.xlsx", [("layout.csv", "open items")]),
]

OTHER_FORMATS = ["export.xlsx"]

# Number formats a user applies after opening the CSV: (workbook, sheet, cells, nl-NL code).
# Calc reads `1.234.567,89` as a number but shows it in the General format; the grouped display
# is what most amount columns look like.
FORMATS = [("layout.xlsx", "open items", "C3:D4", "#.##0,00")]


def prop(name, value):
    p = PropertyValue()
    p.Name = name
    p.Value = value
    return p


def connect(pipe):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local
    )
    url = "uno:pipe,name=%s;urp;StarOffice.ComponentContext" % pipe
    for _ in range(60):
        try:
            return resolver.resolve(url)
        except Exception:
            time.sleep(0.5)
    sys.exit("LibreOffice did not answer on pipe %s" % pipe)


def load_csv(desktop, name):
    url = uno.systemPathToFileUrl(os.path.join(HERE, name))
    return desktop.loadComponentFromURL(
        url,
        "_blank",
        0,
        (
            prop("FilterName", "Text - txt - csv (StarCalc)"),
            prop("FilterOptions", CSV_OPTIONS),
            prop("Hidden", True),
        ),
    )


def set_format(book, sheet, cells, code):
    locale = uno.createUnoStruct("com.sun.star.lang.Locale")
    locale.Language, locale.Country = "nl", "NL"
    formats = book.NumberFormats
    key = formats.queryKey(code, locale, False)
    if key == -1:
        key = formats.addNew(code, locale)
    book.Sheets.getByName(sheet).getCellRangeByName(cells).NumberFormat = key


def main():
    ctx = connect(sys.argv[1])
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    for target, parts in WORKBOOKS:
        first_csv, first_name = parts[0]
        book = load_csv(desktop, first_csv)
        sheets = book.Sheets
        sheets.getByIndex(0).Name = first_name
        for position, (csv, name) in enumerate(parts[1:], start=1):
            source = load_csv(desktop, csv)
            source_sheet = source.Sheets.getByIndex(0).Name
            # importSheet copies cells with their number formats (dates stay dates).
            sheets.importSheet(source, source_sheet, position)
            sheets.getByIndex(position).Name = name
            source.close(True)
        for workbook, sheet, cells, code in FORMATS:
            if workbook == target:
                set_format(book, sheet, cells, code)
        book.calculateAll()
        stem = target[: -len(".xlsx")]
        outputs = [(target, "Calc MS Excel 2007 XML")]
        if target in OTHER_FORMATS:
            # The same workbook as .ods and .xls, which calamine reads through its other readers.
            outputs += [(stem + ".ods", "calc8"), (stem + ".xls", "MS Excel 97")]
        for name, filter_name in outputs:
            out = uno.systemPathToFileUrl(os.path.join(HERE, name))
            book.storeToURL(out, (prop("FilterName", filter_name), prop("Overwrite", True)))
            print("wrote", name)
        book.close(True)
    try:
        desktop.terminate()
    except Exception:
        # terminate() ends the process, which can drop the bridge before it answers.
        pass


main()
