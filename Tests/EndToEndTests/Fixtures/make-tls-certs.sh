#!/usr/bin/env bash
# Makes a test CA and server certificates for 127.0.0.1 in $1: good (CA-signed), expired
# (CA-signed, valid only in 2020), wrong-host (CA-signed for another name), self-signed; and
# client certificates for a scraper: client (CA-signed), client-expired (CA-signed, 2020 only),
# server-only (CA-signed, but its extended key usage allows serverAuth alone).
set -euo pipefail
cd "$1"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 -subj "/CN=aoai-canary test CA" 2>/dev/null
printf '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\npolicy=p\ndefault_md=sha256\ncopy_extensions=copy\nunique_subject=no\n[p]\ncommonName=supplied\n' > ca.cnf
: > index.txt
echo 01 > serial
sign() {  # name, host, subjectAltName, start, end, [more -addext]
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" -addext "subjectAltName=$3" ${6:+-addext "$6"} 2>/dev/null
    openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in "$1.csr" -out "$1.pem" -startdate "$4" -enddate "$5" -notext 2>/dev/null
}
sign good 127.0.0.1 "IP:127.0.0.1" 20240101000000Z 20440101000000Z
sign expired 127.0.0.1 "IP:127.0.0.1" 20200101000000Z 20200102000000Z
sign wrong-host other.example "DNS:other.example" 20240101000000Z 20440101000000Z
openssl req -x509 -newkey rsa:2048 -nodes -keyout self-signed.key -out self-signed.pem -days 3650 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
sign client prometheus "DNS:prometheus" 20240101000000Z 20440101000000Z
sign client-expired prometheus "DNS:prometheus" 20200101000000Z 20200102000000Z
sign server-only prometheus "DNS:prometheus" 20240101000000Z 20440101000000Z "extendedKeyUsage=serverAuth"
