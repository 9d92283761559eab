#!/usr/bin/env bash
# Regenerates the test certificates of this folder (see README.md): a CA and a leaf for
# 127.0.0.1 and localhost signed by it, both valid for 100 years. Needs openssl.
set -euo pipefail
cd "$(dirname "$0")"
days=36500
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -x509 -new -key ca.key -sha256 -days "$days" -subj "/O=dunwell tests/CN=dunwell test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out ca.pem
openssl ecparam -name prime256v1 -genkey -noout -out server.key
openssl req -new -key server.key -subj "/O=dunwell tests/CN=localhost" -out server.csr
cat > server.ext <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
EXT
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days "$days" \
    -extfile server.ext -out server.pem
rm -f server.csr server.ext ca.srl
# The CA's key is not needed by the tests; keep it out of the repository.
rm -f ca.key
openssl verify -CAfile ca.pem server.pem
