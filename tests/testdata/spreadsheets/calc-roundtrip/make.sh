#!/bin/sh
# Opens nl-excel/*.csv in LibreOffice Calc as a Dutch user would (`;`, quote ", Windows-1252,
# locale nl-NL = 1043; Calc recognises 1.234,50 as a number and 01-10-2026 as a date) and saves
# them again as CSV with the same settings. Calc writes each cell in its default format for
# nl-NL: numbers as "Standaard" (1234,5 - the trailing zero and the thousands point are gone),
# dates as DD-MM-JJ (two-digit years), and a phone number typed as +31612345678 has become the
# number 31612345678. Line ends are LF (Calc on Linux). Made with LibreOffice 7.4.7.2.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
profile=$(mktemp -d)
filter='Text - txt - csv (StarCalc):59,34,1252,1,,1043'
for f in customers invoices payments; do
  LC_ALL=nl_NL.UTF-8 LANG=nl_NL.UTF-8 soffice -env:UserInstallation="file://$profile" --headless \
    --infilter="$filter" --convert-to "csv:$filter" --outdir "$here" "$here/../nl-excel/$f.csv" >/dev/null
done
rm -rf "$profile"
