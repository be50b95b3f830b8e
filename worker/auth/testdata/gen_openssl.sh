#!/bin/sh
# Generates tokens signed by the openssl CLI, so that the verifier is checked
# against an implementation that is not ours. Run once from this directory;
# the outputs (public keys and tokens, no private keys) are committed:
#   openssl_rs256.pub.pem openssl_rs256.jwt
#   openssl_es256.pub.pem openssl_es256.jwt
#   openssl_eddsa.pub.pem openssl_eddsa.jwt
# Claims: iss "openssl", aud "fluxgate-test", sub "openssl-user",
# scope "read write", iat 1700000000, exp 4102444800 (2100-01-01).
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

claims='{"iss":"openssl","aud":"fluxgate-test","sub":"openssl-user","scope":"read write","iat":1700000000,"exp":4102444800}'
payload=$(printf '%s' "$claims" | b64url)

# RS256: RSASSA-PKCS1-v1_5 with SHA-256.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rs.key" 2>/dev/null
openssl pkey -in "$tmp/rs.key" -pubout -out openssl_rs256.pub.pem
input="$(printf '%s' '{"alg":"RS256","typ":"JWT"}' | b64url).$payload"
sig=$(printf '%s' "$input" | openssl dgst -sha256 -sign "$tmp/rs.key" -binary | b64url)
printf '%s.%s\n' "$input" "$sig" > openssl_rs256.jwt

# ES256: ECDSA P-256 with SHA-256; openssl emits DER (r, s), JWS wants
# r || s as two 32-byte big-endian integers.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/es.key" 2>/dev/null
openssl pkey -in "$tmp/es.key" -pubout -out openssl_es256.pub.pem
input="$(printf '%s' '{"alg":"ES256","typ":"JWT","kid":"openssl-es"}' | b64url).$payload"
printf '%s' "$input" | openssl dgst -sha256 -sign "$tmp/es.key" -binary > "$tmp/es.der"
openssl asn1parse -inform DER -in "$tmp/es.der" | awk -F: '/INTEGER/ {print $NF}' > "$tmp/rs.hex"
raw=""
while read -r n; do
	n=$(printf '%064s' "$n" | tr ' ' 0)
	raw="$raw$n"
done < "$tmp/rs.hex"
sig=$(printf '%s' "$raw" | xxd -r -p | b64url)
printf '%s.%s\n' "$input" "$sig" > openssl_es256.jwt

# EdDSA: Ed25519 over the raw signing input.
openssl genpkey -algorithm ED25519 -out "$tmp/ed.key"
openssl pkey -in "$tmp/ed.key" -pubout -out openssl_eddsa.pub.pem
input="$(printf '%s' '{"alg":"EdDSA","typ":"JWT"}' | b64url).$payload"
printf '%s' "$input" > "$tmp/ed.in"
sig=$(openssl pkeyutl -sign -rawin -inkey "$tmp/ed.key" -in "$tmp/ed.in" | b64url)
printf '%s.%s\n' "$input" "$sig" > openssl_eddsa.jwt

openssl version > openssl_version.txt
