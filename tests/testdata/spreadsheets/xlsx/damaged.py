# Derives two damaged workbooks from layout.xlsx (which LibreOffice made), each a copy with its
# sheet XML changed:
# - hostile.xlsx: a cell in the last column (XFD) of 1000 rows, a file of a few kilobytes that
#   describes more than sixteen million cells; the reader must refuse it before taking the memory;
# - uncalculated.xlsx: the formula in D3 without its saved value, as a writer that does not
#   calculate leaves it; the reader must refuse it rather than read an empty amount.
import os
import re
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
SHEET = "xl/worksheets/sheet1.xml"

with zipfile.ZipFile(os.path.join(HERE, "layout.xlsx")) as source:
    parts = [(info, source.read(info.filename)) for info in source.infolist()]


def derive(name, change):
    with zipfile.ZipFile(os.path.join(HERE, name), "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in parts:
            if info.filename == SHEET:
                data = change(data.decode("utf-8")).encode("utf-8")
            out.writestr(info.filename, data)
    print("wrote", name)


def far_cells(text):
    rows = "".join('<row r="%d"><c r="XFD%d" t="n"><v>1</v></c></row>' % (r, r) for r in range(1, 1001))
    start = text.index("<sheetData>") + len("<sheetData>")
    end = text.index("</sheetData>")
    return text[:start] + rows + text[end:]


def no_cached_value(text):
    changed, n = re.subn(r'(<c r="D3"[^>]*>)(<f[^>]*>[^<]*</f>)<v>[^<]*</v>', r"\1\2", text)
    assert n == 1, "D3 with a formula and a value not found"
    return changed


derive("hostile.xlsx", far_cells)
derive("uncalculated.xlsx", no_cached_value)
