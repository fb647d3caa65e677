#!/usr/bin/env bash
# 20-envelopes.sh: `veritrail envelope sign|verify` (DSSE v1) against the
# openssl command: signatures made by openssl over PAE bytes built with
# printf verify with veritrail, and veritrail's verify with openssl; k-of-n
# thresholds, duplicate keys, tampering, malformed input, no partial output.
. "$(dirname "$0")/lib.sh"
DATA=$(cd "$(dirname "$0")/../data" && pwd)
export LC_ALL=C # ${#var} counts bytes

# pae TYPE FILE: the DSSE PAE of FILE's bytes with payloadType TYPE, on stdout.
pae() { printf 'DSSEv1 %d %s %d ' "${#1}" "$1" "$(wc -c <"$2")"; cat "$2"; }
# envelope TYPE FILE SIGFILE [KEYID]: a one-signature envelope, built by hand.
envelope() {
	local kid=
	[ -n "${4:-}" ] && kid="\"keyid\":\"$4\","
	printf '{"payload":"%s","payloadType":"%s","signatures":[{%s"sig":"%s"}]}\n' \
		"$(base64 -w0 <"$2")" "$1" "$kid" "$(base64 -w0 <"$3")"
}
# sig_of ENVELOPE [N]: the Nth (default 1) signature's bytes, decoded, on stdout.
sig_of() {
	grep -o '"sig":"[^"]*"' "$1" | sed -n "${2:-1}p" | cut -d'"' -f4 | base64 -d
}
# quiet CMD...: run CMD with its output discarded (for checks that only need the status).
quiet() { "$@" >/dev/null 2>&1; }
# key_id PUB: the key id (sha256 of the SPKI DER) computed by openssl.
key_id() { openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }

if ! command -v openssl >/dev/null 2>&1; then
	skip "openssl is not installed: interop checks need it"
	finish
	exit $?
fi

# Fresh keys made by openssl, so nothing here depends on veritrail's own key code.
openssl genpkey -algorithm ed25519 -out "$T/ed.key" 2>/dev/null
openssl pkey -in "$T/ed.key" -pubout -out "$T/ed.pub"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/p256.key" 2>/dev/null
openssl pkey -in "$T/p256.key" -pubout -out "$T/p256.pub"
openssl genpkey -algorithm ed25519 -out "$T/other.key" 2>/dev/null
openssl pkey -in "$T/other.key" -pubout -out "$T/other.pub"
ED_ID=$(key_id "$T/ed.pub")
P_ID=$(key_id "$T/p256.pub")

TYPE=application/vnd.in-toto+json
# (its base64 holds '+' and '/', so the URL-safe check below changes it)
printf '{"_type":"https://in-toto.io/Statement/v1","note":"interop ~~~ ???"}' >"$T/payload"
pae "$TYPE" "$T/payload" >"$T/pae.bin"

# ---- the DSSE spec's own example (protocol.md): ECDSA P-256, raw r||s ----
expect_rc 0 "spec example verifies" "$VT" envelope verify --key "$DATA/dsse/spec-p256.pub" \
	"$DATA/dsse/spec-hello.json"
printf 'hello world' >"$T/hw"
check "spec example PAE bytes" test "$(pae http://example.com/HelloWorld "$T/hw")" = \
	"DSSEv1 29 http://example.com/HelloWorld 11 hello world"

# ---- openssl signs, veritrail verifies ----
openssl pkeyutl -sign -rawin -inkey "$T/ed.key" -in "$T/pae.bin" -out "$T/ed.sig"
envelope "$TYPE" "$T/payload" "$T/ed.sig" >"$T/ossl-ed.json"
expect_rc 0 "openssl Ed25519 signature (no keyid) verifies" "$VT" envelope verify \
	--key "$T/ed.pub" "$T/ossl-ed.json"
check "success line names the key" grep -q "^verified: 1 of 1 required signatures (keyids $ED_ID)" "$T/out"

openssl dgst -sha256 -sign "$T/p256.key" -out "$T/p256.sig" "$T/pae.bin"
envelope "$TYPE" "$T/payload" "$T/p256.sig" "$P_ID" >"$T/ossl-p256.json"
expect_rc 0 "openssl ECDSA P-256 DER signature verifies" "$VT" envelope verify \
	--key "$T/p256.pub" "$T/ossl-p256.json"

printf '{"payload":"%s","payloadType":"%s","signatures":[{"sig":"%s"}]}\n' \
	"$(base64 -w0 <"$T/payload" | tr '+/' '-_')" "$TYPE" \
	"$(base64 -w0 <"$T/ed.sig" | tr '+/' '-_')" >"$T/ossl-ed-url.json"
check "URL-safe envelope uses '-' and '_'" grep -q '"payload":"[^"]*[-_]' "$T/ossl-ed-url.json"
expect_rc 0 "URL-safe base64 envelope verifies" "$VT" envelope verify --key "$T/ed.pub" \
	"$T/ossl-ed-url.json"

expect_rc 1 "openssl Ed25519 envelope with the wrong key" "$VT" envelope verify \
	--key "$T/other.pub" "$T/ossl-ed.json"

# ---- veritrail signs, openssl verifies ----
expect_rc 0 "sign with Ed25519 (openssl key)" "$VT" envelope sign --key "$T/ed.key" \
	--payload-type "$TYPE" --in "$T/payload" --out "$T/vt-ed.json"
sig_of "$T/vt-ed.json" >"$T/vt-ed.sig"
check "Ed25519 signature verifies with openssl pkeyutl" \
	quiet openssl pkeyutl -verify -rawin -pubin -inkey "$T/ed.pub" -in "$T/pae.bin" -sigfile "$T/vt-ed.sig"
check "keyid is the SHA-256 of the SPKI DER" grep -q "\"keyid\":\"$ED_ID\"" "$T/vt-ed.json"
check "envelope is one line of compact JSON" test "$(wc -l <"$T/vt-ed.json")" -eq 1

printf '%s' "$(cat "$T/payload")" | "$VT" envelope sign --key "$T/p256.key" --payload-type "$TYPE" \
	>"$T/vt-p256.json" 2>"$T/err"
check "sign reads stdin and writes stdout" test -s "$T/vt-p256.json"
sig_of "$T/vt-p256.json" >"$T/vt-p256.sig"
check "ECDSA signature is DER (SEQUENCE)" test "$(head -c1 "$T/vt-p256.sig" | od -An -tx1 | tr -d ' ')" = 30
check "ECDSA signature verifies with openssl dgst" \
	quiet openssl dgst -sha256 -verify "$T/p256.pub" -signature "$T/vt-p256.sig" "$T/pae.bin"

# ---- k-of-n ----
expect_rc 0 "add a second signature (--add)" "$VT" envelope sign --key "$T/p256.key" \
	--add "$T/vt-ed.json" --out "$T/2of2.json"
expect_rc 0 "2-of-2 verifies" "$VT" envelope verify --key "$T/ed.pub" --key "$T/p256.pub" \
	--threshold 2 "$T/2of2.json"
check "2-of-2 success line" grep -q '^verified: 2 of 2 required signatures' "$T/out"
sig_of "$T/2of2.json" 2 >"$T/2nd.sig"
check "second signature verifies with openssl too" \
	quiet openssl dgst -sha256 -verify "$T/p256.pub" -signature "$T/2nd.sig" "$T/pae.bin"

expect_rc 1 "2 required, one key's signature missing" "$VT" envelope verify --key "$T/ed.pub" \
	--key "$T/p256.pub" --threshold 2 "$T/vt-ed.json"
check "says which key has no signature" grep -q "key $P_ID .* has no valid signature" "$T/err"
check "says how many verified" grep -q "1 of 2 required signatures verified" "$T/err"

"$VT" envelope sign --key "$T/other.key" --add "$T/vt-ed.json" --out "$T/ed+other.json"
expect_rc 1 "2 required, the second signer is not a given key" "$VT" envelope verify \
	--key "$T/ed.pub" --key "$T/p256.pub" --threshold 2 "$T/ed+other.json"
check "reason per signature: no such key" grep -q "signature 2 (keyid .*): no such key" "$T/err"

expect_rc 1 "same key given twice counts once" "$VT" envelope verify --key "$T/ed.pub" \
	--key "$T/ed.pub" --threshold 2 "$T/vt-ed.json"

# The same signature twice (second copy without keyid): one key, one vote.
sed 's/\(\[{"keyid":"[^"]*",\("sig":"[^"]*"\)}\)\]/\1,{\2}]/' "$T/vt-ed.json" >"$T/dup.json"
check "dup envelope has two signatures" test "$(grep -o '"sig"' "$T/dup.json" | wc -l)" -eq 2
expect_rc 1 "same signature twice counts once" "$VT" envelope verify --key "$T/ed.pub" \
	--key "$T/p256.pub" --threshold 2 "$T/dup.json"
check "reason per signature: duplicate key" grep -q "signature 2 (keyid none): duplicate key" "$T/err"

expect_rc 2 "--add by a key that already signed is refused" "$VT" envelope sign \
	--key "$T/ed.key" --add "$T/2of2.json" --out "$T/again.json"
expect_err "already signed by key $ED_ID" "refusal is one line naming the key"
check "no output file after the refusal" test ! -e "$T/again.json"

# ---- tampering ----
sed 's/"payload":"[^"]*"/"payload":"'"$(printf '{"_type":"forged"}' | base64 -w0)"'"/' \
	"$T/2of2.json" >"$T/forged.json"
expect_rc 1 "flipped payload fails" "$VT" envelope verify --key "$T/ed.pub" --key "$T/p256.pub" \
	"$T/forged.json"
check "reason: bad signature" grep -q "signature 1 (keyid .*): bad signature" "$T/err"
sed 's#"payloadType":"[^"]*"#"payloadType":"application/json"#' "$T/vt-ed.json" >"$T/retyped.json"
expect_rc 1 "changed payloadType fails (PAE covers it)" "$VT" envelope verify --key "$T/ed.pub" \
	"$T/retyped.json"

# ---- malformed input: exit 2, one line naming the file ----
printf '{"payload":"aGk=","payloadType":"t","signatures":[]}' >"$T/nosig.json"
expect_rc 2 "envelope without signatures" "$VT" envelope verify --key "$T/ed.pub" "$T/nosig.json"
expect_err "nosig\.json': envelope: signatures: empty" "one line naming the file and field"
printf '{"payload":"aGk","payloadType":"t","signatures":[{"sig":"AAAA"}]}' >"$T/b64.json"
expect_rc 2 "unpadded base64" "$VT" envelope verify --key "$T/ed.pub" "$T/b64.json"
expect_err "payload: not base64" "bad base64: one line"
printf '%s trailing' "$(cat "$T/vt-ed.json")" >"$T/trail.json"
expect_rc 2 "trailing garbage" "$VT" envelope verify --key "$T/ed.pub" "$T/trail.json"
expect_err "trail\.json': envelope: malformed JSON" "trailing garbage: one line"
expect_rc 2 "missing envelope file" "$VT" envelope verify --key "$T/ed.pub" "$T/nope.json"
expect_err "nope\.json" "missing file: one line naming it"

# ---- usage ----
expect_rc 2 "threshold above the number of keys" "$VT" envelope verify --key "$T/ed.pub" \
	--threshold 2 "$T/vt-ed.json"
expect_err "threshold 2 is more than the 1 keys" "threshold: one line"
expect_rc 2 "threshold 0" "$VT" envelope verify --key "$T/ed.pub" --threshold 0 "$T/vt-ed.json"
expect_rc 2 "verify without keys" "$VT" envelope verify "$T/vt-ed.json"
expect_rc 2 "sign without --payload-type or --add" "$VT" envelope sign --key "$T/ed.key"
expect_rc 2 "unknown action" "$VT" envelope frobnicate

# ---- no partial output when signing fails ----
expect_rc 2 "sign with an unsupported key (RSA)" "$VT" envelope sign --key "$DATA/keys/rsa.key" \
	--payload-type t --in "$T/payload" --out "$T/fail1.json"
expect_err "RSA" "unsupported key: one line"
check "no output file after a bad key" test ! -e "$T/fail1.json"
expect_rc 2 "sign with a public key" "$VT" envelope sign --key "$T/ed.pub" --payload-type t \
	--in "$T/payload" --out "$T/fail2.json"
check "no output file after a public key" test ! -e "$T/fail2.json"
printf 'garbage' >"$T/garbage.key"
expect_rc 2 "sign with a garbage key file" "$VT" envelope sign --key "$T/garbage.key" \
	--payload-type t --in "$T/payload" --out "$T/fail3.json"
check "no output file after a garbage key" test ! -e "$T/fail3.json"
expect_rc 2 "--add to a malformed envelope" "$VT" envelope sign --key "$T/p256.key" \
	--add "$T/nosig.json" --out "$T/fail4.json"
check "no output file after a malformed --add" test ! -e "$T/fail4.json"
cp "$T/vt-ed.json" "$T/keep.json"
expect_rc 2 "refused --add leaves an existing --out file alone" "$VT" envelope sign \
	--key "$T/ed.key" --add "$T/vt-ed.json" --out "$T/keep.json"
check "existing output unchanged" cmp -s "$T/keep.json" "$T/vt-ed.json"

# ---- an encrypted key, with its passphrase from the environment ----
VERITRAIL_KEY_PASSPHRASE=correct-horse expect_rc 0 "sign with an encrypted key" "$VT" envelope \
	sign --key "$DATA/keys/ed25519-enc.key" --payload-type t --in "$T/payload" --out "$T/enc.json"
expect_rc 0 "its envelope verifies" "$VT" envelope verify --key "$DATA/keys/ed25519.pub" "$T/enc.json"

finish
