#!/bin/sh
# Regenerates the .xlsx files of this folder from its CSVs with LibreOffice Calc (see README.md).
# Needs: soffice (Debian: libreoffice-calc) and Python with the UNO bridge (python3-uno).
# Only for making the committed files; the tests read the .xlsx files and need neither.
set -eu
cd "$(dirname "$0")"
python=${PYTHON:-/usr/bin/python3}
pipe="dunwell-xlsx-$$"
# A profile of our own, so a running LibreOffice (or another one of these) is not disturbed.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
soffice --headless --invisible --nologo --norestore --nodefault \
    "-env:UserInstallation=file://$profile" \
    "--accept=pipe,name=$pipe;urp;StarOffice.ComponentContext" &
office=$!
"$python" make.py "$pipe"
"$python" damaged.py
wait "$office" || true
soffice --version
