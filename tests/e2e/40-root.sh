#!/usr/bin/env bash
# 40-root.sh: `veritrail root`: init, role, governance, sign, verify, show,
# bump, authorize; k-of-n governance, edits dropping signatures, forged and
# expired roots, the successor rule (version + 1, old AND new thresholds),
# and authorization of attestations by role. Every refusal is one line on
# stderr with exit 1 (verification) or 2 (usage, malformed input).
. "$(dirname "$0")/lib.sh"
SLSA=https://slsa.dev/provenance/v1
TESTS=https://in-toto.io/attestation/test-result/v0.1

cd "$T" || exit 1
for k in g1 g2 g3 b1 t1 x1; do
	"$VT" key generate --out "$k" >/dev/null 2>&1 || { notok "key generate $k"; exit 1; }
done
"$VT" key generate --type ecdsa-p256 --out b2 >/dev/null 2>&1 || { notok "key generate b2"; exit 1; }

# The payload of a root envelope (one line) as JSON text, and back.
payload() { sed 's/^{"payload":"\([^"]*\)".*/\1/' "$1" | base64 -d; }
# set_payload FILE JSON_FILE: an unsigned envelope around JSON_FILE's bytes.
set_payload() {
	printf '{"payload":"%s","payloadType":"application/vnd.veritrail.root+json","signatures":[]}\n' \
		"$(base64 -w0 "$2")" >"$1"
}
# The signatures array of a root envelope.
sigs_of() { sed 's/.*"signatures":\(\[.*\]\)}$/\1/' "$1"; }

# ---- usage ---------------------------------------------------------------------
expect_rc 0 "root help" "$VT" root help
for sub in init role sign verify show; do
	expect_rc 0 "root $sub -h" "$VT" root $sub -h
	check "root $sub -h: the usage, on standard output" grep -q "^usage: veritrail root" "$T/out"
done
check "help lists every command" grep -q "authorize ROOT ENVELOPE" "$T/out"
expect_rc 2 "root without a command" "$VT" root
expect_rc 2 "unknown command" "$VT" root frob
expect_err "^veritrail: root: unknown command 'frob'" "unknown command: one line"
expect_rc 2 "unknown option" "$VT" root init --out r.json --governance-key g1.pub --threshold 1 --bogus
expect_err "unknown option '--bogus'" "unknown option: one line"
expect_rc 2 "option without value" "$VT" root init --out r.json --governance-key
expect_err "option '--governance-key' needs a value" "missing value: one line"

# ---- init ----------------------------------------------------------------------
expect_rc 2 "init needs --out" "$VT" root init --governance-key g1.pub --threshold 1
expect_err "--out, --governance-key and --threshold are required" "init: required options"
expect_rc 2 "init needs --threshold" "$VT" root init --out r.json --governance-key g1.pub
expect_rc 2 "init: threshold 0" "$VT" root init --out r.json --governance-key g1.pub --threshold 0
expect_err "--threshold '0' is not a number from 1 to 1" "threshold 0: one line"
expect_rc 2 "init: threshold above the key count" "$VT" root init --out r.json \
	--governance-key g1.pub --governance-key g2.pub --threshold 3
expect_rc 2 "init: --expires 0" "$VT" root init --out r.json --governance-key g1.pub --threshold 1 --expires 0
expect_err "--expires '0' is not a number from 1 to 36500" "expires 0: one line"
expect_rc 2 "init: --expires abc" "$VT" root init --out r.json --governance-key g1.pub --threshold 1 --expires abc
expect_rc 2 "init: missing key file" "$VT" root init --out r.json --governance-key nope.pub --threshold 1
expect_err "nope.pub" "missing key file: one line naming it"
expect_rc 2 "init: the same key twice" "$VT" root init --out r.json \
	--governance-key g1.pub --governance-key g1.key --threshold 1
expect_err "is given twice" "duplicate governance key: one line"
check "no file left behind by failed inits" test ! -e r.json

expect_rc 0 "init 2-of-2" "$VT" root init --out root.json --governance-key g1.pub \
	--governance-key g2.pub --threshold 2 --expires 30
check "init says what it wrote" grep -q "wrote root version 1 to 'root.json': 2 governance keys, threshold 2" "$T/out"
check "the envelope names its payload type" grep -q '"payloadType":"application/vnd.veritrail.root+json"' root.json
check "the document names its media type" sh -c "$(declare -f payload); payload root.json | grep -q '\"mediaType\":\"application/vnd.veritrail.root+json;version=1\"'"
cp root.json root.orig
expect_rc 2 "init never overwrites" "$VT" root init --out root.json --governance-key g1.pub --threshold 1
expect_err "'root.json' already exists \(use --force to overwrite it\)" "overwrite refusal: one line"
check "refused init left the file alone" cmp -s root.json root.orig
expect_rc 0 "init another root" "$VT" root init --out other.json --governance-key g1.pub --threshold 1
expect_rc 0 "init --force overwrites it" "$VT" root init --out other.json --governance-key g3.pub --threshold 1 --force
expect_rc 0 "init --out - writes to stdout" "$VT" root init --out - --governance-key g1.pub --threshold 1
check "stdout holds the envelope" grep -q '^{"payload":"' "$T/out"

# ---- verify an unsigned root, then sign ---------------------------------------------------
expect_rc 1 "verify: unsigned root" "$VT" root verify root.json
expect_err "^veritrail: 'root.json': root version 1 has 0 of 2 required governance signatures$" "unsigned: one line"

expect_rc 0 "role builder" "$VT" root role root.json --name builder --key b1.pub --key b2.pub --may-sign "$SLSA"
check "role reports itself" grep -q "role 'builder' set: 2 keys, threshold 1, may sign 1 predicate type" "$T/out"
expect_rc 0 "role tester" "$VT" root role root.json --name tester --key t1.pub --may-sign "$TESTS" --may-sign "urn:x:vulns:v1"

expect_rc 1 "sign: a role key is no governance key" "$VT" root sign root.json --key b1.key
expect_err "key '[0-9a-f]{16}\.\.\.' is not a governance key of root version 1" "non-governance signer: one line"
expect_rc 2 "sign: a public key cannot sign" "$VT" root sign root.json --key g1.pub
expect_err "public key" "public key signer: one line"
expect_rc 2 "sign: needs --key" "$VT" root sign root.json
expect_rc 0 "sign with g1" "$VT" root sign root.json --key g1.key
check "sign reports the count" grep -q "(1 signature)" "$T/out"
expect_rc 2 "sign: g1 again" "$VT" root sign root.json --key g1.key
expect_err "root version 1 is already signed by key '[0-9a-f]{16}\.\.\.'" "double signing: one line"
expect_rc 1 "verify: 1 of 2" "$VT" root verify root.json
expect_err "root version 1 has 1 of 2 required governance signatures" "1 of 2: one line"
expect_rc 0 "sign with g2" "$VT" root sign root.json --key g2.key
expect_rc 0 "verify: 2 of 2" "$VT" root verify root.json
check "verify prints version, expiry and count" \
	grep -Eq "^root version 1 is valid: expires [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z; 2 of 2 required governance signatures$" "$T/out"

# ---- show --------------------------------------------------------------------------------
expect_rc 0 "show" "$VT" root show root.json
cp "$T/out" show.txt
G1=$("$VT" key id g1.pub) B2=$("$VT" key id b2.pub)
check "show: version" grep -q "^root version 1$" show.txt
check "show: expiry" grep -Eq "^expires .*Z \(in (29|30) days\)$" show.txt
check "show: governance threshold" grep -q "^governance: threshold 2 of 2$" show.txt
check "show: governance key" grep -q "^  key $G1 (ed25519)$" show.txt
check "show: role" grep -q "^role builder: threshold 1 of 2$" show.txt
check "show: role key type" grep -q "^  key $B2 (ecdsa-p256)$" show.txt
check "show: predicate type" grep -q "^  may sign $TESTS$" show.txt
check "show: signatures" grep -q "^signatures: 2; 2 of 2 required governance signatures valid$" show.txt
check "show: who signed" grep -q "^  1\. key $G1: valid$" show.txt

# ---- edits drop signatures; refused edits leave the file alone -------------------------------
cp root.json signed.json
expect_rc 2 "role: bad name" "$VT" root role root.json --name Builder --key b1.pub --may-sign "$SLSA"
expect_err "role 'Builder': a role name is 1 to 64 characters from \[a-z0-9-\]" "bad role name: one line"
expect_rc 2 "role: not a URI" "$VT" root role root.json --name x --key b1.pub --may-sign "not a uri"
expect_err "is not a predicate type URI" "bad predicate type: one line"
expect_rc 2 "role: threshold above keys" "$VT" root role root.json --name x --key b1.pub --threshold 2 --may-sign "$SLSA"
expect_rc 2 "role: needs --may-sign" "$VT" root role root.json --name x --key b1.pub
expect_err "--key and --may-sign are required" "role without types: one line"
expect_rc 2 "role: needs the root" "$VT" root role --name x --key b1.pub --may-sign "$SLSA"
expect_rc 2 "role: remove a role that is not there" "$VT" root role root.json --name nobody --remove
expect_err "root has no role 'nobody'" "remove missing role: one line"
check "refused edits left the signed root alone" cmp -s root.json signed.json
expect_rc 0 "role: replace tester" "$VT" root role root.json --name tester --key t1.pub --key x1.pub --threshold 2 --may-sign "$TESTS"
check "edit says signatures were dropped" grep -q "; 2 signatures dropped, sign it again" "$T/out"
expect_rc 1 "verify after an edit" "$VT" root verify root.json
expect_err "0 of 2 required governance signatures" "edited root is unsigned"
expect_rc 0 "role: remove tester" "$VT" root role root.json --name tester --remove
expect_rc 0 "show after removal" "$VT" root show root.json
check "tester is gone" sh -c "! grep -q tester '$T/out'"
cp signed.json root.json

# ---- forged and malformed roots ------------------------------------------------------------------
# A different document under the old signatures.
payload root.json | sed 's/"threshold":1/"threshold":2/' >forged.doc
set_payload forged.json forged.doc
sed -i "s|\"signatures\":\[\]|\"signatures\":$(sigs_of root.json)|" forged.json
expect_rc 1 "forged document under valid signatures" "$VT" root verify forged.json
expect_err "0 of 2 required governance signatures" "forgery: one line"
sed 's|"payloadType":"application/vnd.veritrail.root+json"|"payloadType":"application/json"|' root.json >wrongtype.json
expect_rc 2 "wrong payloadType" "$VT" root verify wrongtype.json
expect_err "'wrongtype.json': envelope: payloadType is not \"application/vnd.veritrail.root\+json\"" "wrong payloadType: one line"
payload root.json | sed 's/"version":1/"version":0/' >v0.doc
set_payload v0.json v0.doc
expect_rc 2 "version 0" "$VT" root verify v0.json
expect_err "root: version is not an integer from 1 to 2\^53" "version 0: one line"
payload root.json | sed 's/"roles":{/"comment":"x","roles":{/' >extra.doc
set_payload extra.json extra.doc
expect_rc 2 "unknown member" "$VT" root show extra.json
expect_err "root: unknown member 'comment'" "unknown member: one line"
payload root.json | sed "s/\"$G1\"/\"$("$VT" key id x1.pub)\"/g" >mismatch.doc
set_payload mismatch.json mismatch.doc
expect_rc 2 "key id that does not match its key" "$VT" root verify mismatch.json
expect_err "key id does not match the public key" "keyid mismatch: one line"
printf 'not json' >garbage.json
expect_rc 2 "garbage" "$VT" root verify garbage.json
expect_err "^veritrail: 'garbage.json': envelope" "garbage: one line"
expect_rc 2 "missing file" "$VT" root verify nope.json
expect_err "nope.json" "missing file: one line"
head -c 2000000 /dev/zero | tr '\0' ' ' >huge.json
expect_rc 2 "oversized root" "$VT" root verify huge.json

# ---- an expired root -----------------------------------------------------------------------------------
payload root.json | sed 's/"expires":"[^"]*"/"expires":"2020-01-01T00:00:00Z"/' >old.doc
set_payload expired.json old.doc
"$VT" root sign expired.json --key g1.key >/dev/null && "$VT" root sign expired.json --key g2.key >/dev/null
expect_rc 1 "expired root" "$VT" root verify expired.json
expect_err "^veritrail: 'expired.json': root version 1 expired at 2020-01-01T00:00:00Z$" "expired: one line"
expect_rc 0 "show an expired root" "$VT" root show expired.json
check "show says EXPIRED" grep -q "(EXPIRED)" "$T/out"

# ---- successors ------------------------------------------------------------------------------------------
expect_rc 0 "bump" "$VT" root bump root.json --out v2.json
check "bump reports version 2" grep -q "wrote root version 2 to 'v2.json'" "$T/out"
expect_rc 2 "bump never overwrites" "$VT" root bump root.json --out v2.json
expect_err "'v2.json' already exists" "bump overwrite: one line"
expect_rc 2 "bump needs --out" "$VT" root bump root.json
expect_rc 1 "unsigned successor" "$VT" root verify v2.json --previous root.json
expect_err "root version 2 has 0 of 2 required signatures by the governance keys of root version 1" "unsigned successor: one line"
# Rotate governance: g1 g2 -> g2 g3.
expect_rc 0 "governance rotation" "$VT" root governance v2.json --key g2.pub --key g3.pub --threshold 2
expect_rc 2 "governance needs --threshold" "$VT" root governance v2.json --key g2.pub
expect_rc 1 "sign with an old key needs --previous" "$VT" root sign v2.json --key g1.key
expect_err "is not a governance key of root version 2" "old key without --previous: one line"
expect_rc 0 "sign with the old g1" "$VT" root sign v2.json --key g1.key --previous root.json
expect_rc 0 "sign with g2 (old and new)" "$VT" root sign v2.json --key g2.key
expect_rc 1 "successor lacks its own threshold" "$VT" root verify v2.json --previous root.json
expect_err "root version 2 has 1 of 2 required signatures by its own governance keys" "own threshold: one line"
expect_rc 1 "sign with x1: neither old nor new governance" "$VT" root sign v2.json --key x1.key --previous root.json
expect_err "is a governance key neither of root version 2 nor of root version 1" "stranger: one line"
expect_rc 0 "sign with the new g3" "$VT" root sign v2.json --key g3.key
expect_rc 0 "valid successor" "$VT" root verify v2.json --previous root.json
check "successor report" grep -q "^root version 2 is a valid successor of root version 1: expires .*; 2 of 2 required signatures by the previous governance keys, 2 of 2 by its own$" "$T/out"
expect_rc 0 "v2 also verifies alone" "$VT" root verify v2.json
expect_rc 0 "show --previous" "$VT" root show v2.json --previous root.json
check "show: old-key signature judged by the old root" grep -q "^  1\. key $G1: not by a governance key; previous root: valid$" "$T/out"
# Only the new keys sign: the old root did not agree.
"$VT" root bump root.json --out v2new.json >/dev/null
"$VT" root governance v2new.json --key g2.pub --key g3.pub --threshold 2 >/dev/null
"$VT" root sign v2new.json --key g2.key >/dev/null && "$VT" root sign v2new.json --key g3.key >/dev/null
expect_rc 0 "new-keys-only root is valid alone" "$VT" root verify v2new.json
expect_rc 1 "...but not as a successor" "$VT" root verify v2new.json --previous root.json
expect_err "1 of 2 required signatures by the governance keys of root version 1" "old threshold missing: one line"
# Versions must go up by exactly one.
expect_rc 0 "bump to 3" "$VT" root bump v2.json --out v3.json
"$VT" root sign v3.json --key g1.key --previous root.json >/dev/null 2>&1
"$VT" root sign v3.json --key g2.key >/dev/null && "$VT" root sign v3.json --key g3.key >/dev/null
expect_rc 1 "version 3 cannot succeed version 1" "$VT" root verify v3.json --previous root.json
expect_err "root version 3 cannot succeed root version 1: its version must be 2" "version skip: one line"
expect_rc 0 "version 3 succeeds version 2" "$VT" root verify v3.json --previous v2.json
expect_rc 1 "a previous root without its own threshold vouches for nothing" "$VT" root verify v2.json --previous root.orig
expect_err "previous root 'root.orig': root version 1 has 0 of 2" "unsigned previous: one line"

# ---- authorization -------------------------------------------------------------------------------------------
printf 'artifact\n' >app.tar
attest() { "$VT" attest --key "$1.key" --predicate-type "$2" --subject app.tar --out "$3" >/dev/null 2>&1; }
if attest b1 "$SLSA" prov.json; then
	expect_rc 0 "authorize: builder provenance" "$VT" root authorize root.json prov.json
	check "authorize names the role" grep -q "^'prov.json' is authorized by root version 1: signed by role 'builder'$" "$T/out"
	attest b2 "$SLSA" prov2.json
	expect_rc 0 "authorize: ECDSA builder key" "$VT" root authorize root.json prov2.json
	attest t1 "$TESTS" tests.json
	expect_rc 0 "authorize: tester" "$VT" root authorize root.json tests.json
	attest t1 "$SLSA" wrongrole.json
	expect_rc 1 "authorize: wrong role" "$VT" root authorize root.json wrongrole.json
	expect_err "predicate type '$SLSA' may be signed by roles builder; signature 1 is by key '[0-9a-f]{16}\.\.\.', which is in none of them" "wrong role: one line"
	attest x1 "$SLSA" stranger.json
	expect_rc 1 "authorize: key not in the root" "$VT" root authorize root.json stranger.json
	expect_err "signature 1: key '[0-9a-f]{16}\.\.\.' is not in the root" "unknown key: one line"
	attest b1 https://example.com/other/v1 other.json
	expect_rc 1 "authorize: predicate type no role may sign" "$VT" root authorize root.json other.json
	expect_err "no role may sign predicate type 'https://example.com/other/v1'" "type not allowed: one line"
	# b1's key id with a signature by t1 over another statement.
	sed "s|\"sig\":\"[^\"]*\"|\"sig\":\"$(sed 's/.*"sig":"\([^"]*\)".*/\1/' tests.json)\"|" prov.json >badsig.json
	expect_rc 1 "authorize: bad signature" "$VT" root authorize root.json badsig.json
	expect_err "signature 1: does not verify with key" "bad signature: one line"
	expect_rc 1 "authorize under an unsigned root" "$VT" root authorize root.orig prov.json
	expect_err "0 of 2 required governance signatures" "unsigned root: one line"
	expect_rc 2 "authorize: not an envelope" "$VT" root authorize root.json garbage.json
	expect_rc 0 "authorize under the successor" "$VT" root authorize v2.json prov.json
else
	skip "veritrail attest is unavailable: authorization not driven end to end"
fi
finish
