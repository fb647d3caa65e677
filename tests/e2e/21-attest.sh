#!/usr/bin/env bash
# 21-attest.sh: `veritrail attest` and `veritrail statement show`: in-toto
# Statement v1 in a DSSE envelope; subject digests equal sha256sum; the
# predicate; refusals with one-line errors and no partial output; a 3 GiB
# sparse file hashed in flat memory.
. "$(dirname "$0")/lib.sh"
DATA=$(cd "$(dirname "$0")/../data" && pwd)
KEY=$DATA/keys/ed25519.key
PUB=$DATA/keys/ed25519.pub
PTYPE=https://veritrail.example/predicates/test/v1

cd "$T" || exit 1
mkdir -p dist
printf 'first artifact\n' >dist/app.tar
head -c 100000 /dev/urandom >blob.bin
: >empty

expect_rc 0 "attest two files and a digest" "$VT" attest --key "$KEY" --predicate-type "$PTYPE" \
	--subject dist/app.tar --subject blob.bin --subject empty \
	--subject-digest "pkg:generic/x@1=sha256:$(printf x | sha256sum | cut -d' ' -f1)" \
	--out att.json
check "payloadType is in-toto" grep -q '"payloadType":"application/vnd.in-toto+json"' att.json
expect_rc 0 "attestation verifies" "$VT" envelope verify --key "$PUB" att.json

expect_rc 0 "statement show" "$VT" statement show att.json
cp "$T/out" show.txt
for f in dist/app.tar blob.bin empty; do
	check "show lists $f with its sha256sum" \
		grep -q "^  sha256:$(sha256sum "$f" | cut -d' ' -f1)  $f\$" show.txt
done
check "show lists the --subject-digest subject" \
	grep -q "^  sha256:$(printf x | sha256sum | cut -d' ' -f1)  pkg:generic/x@1\$" show.txt
check "show gives the predicate type" grep -q "^predicateType: $PTYPE\$" show.txt
check "show gives the signature's key id" \
	grep -q "^  keyid $("$VT" key id "$PUB")\$" show.txt
check "show says nothing was verified" grep -q "not verified here" show.txt

expect_rc 0 "statement show --json" "$VT" statement show --json att.json
check "json: subject digest for dist/app.tar" grep -q \
	"{\"digest\":{\"sha256\":\"$(sha256sum dist/app.tar | cut -d' ' -f1)\"},\"name\":\"dist/app.tar\"}" "$T/out"
check "json: predicate defaults to {}" grep -q '"predicate":{}' "$T/out"
check "json: predicateType" grep -q "\"predicateType\":\"$PTYPE\"" "$T/out"

# The statement itself, decoded from the envelope by hand.
grep -o '"payload":"[^"]*"' att.json | cut -d'"' -f4 | base64 -d >stmt.json
check "statement _type is v1" grep -q '^{"_type":"https://in-toto.io/Statement/v1"' stmt.json

# ---- predicate ----
printf '{"result":"pass","count":3,"nested":{"a":[1,2]}}\n' >pred.json
expect_rc 0 "attest with a predicate file" "$VT" attest --key "$DATA/keys/p256.key" \
	--predicate-type "$PTYPE" --predicate pred.json --subject dist/app.tar --out att2.json
expect_rc 0 "ECDSA attestation verifies" "$VT" envelope verify --key "$DATA/keys/p256.pub" att2.json
"$VT" statement show --json att2.json >show2.json
check "predicate carried" grep -q '"predicate":{"count":3,"nested":{"a":\[1,2\]},"result":"pass"}' show2.json

printf '[1,2]' >arr.json
expect_rc 2 "predicate must be an object" "$VT" attest --key "$KEY" --predicate-type "$PTYPE" \
	--predicate arr.json --subject dist/app.tar --out bad1.json
expect_err "arr\.json': the predicate is not a JSON object" "array predicate: one line"
printf '{"a":' >trunc.json
expect_rc 2 "predicate must be JSON" "$VT" attest --key "$KEY" --predicate-type "$PTYPE" \
	--predicate trunc.json --subject dist/app.tar --out bad2.json
expect_err "trunc\.json'" "broken predicate: one line naming it"

# ---- refusals: one line, exit 2, no output file ----
expect_rc 2 "missing subject file" "$VT" attest --key "$KEY" --predicate-type "$PTYPE" \
	--subject dist/app.tar --subject nosuch.bin --out bad3.json
expect_err "cannot open 'nosuch\.bin'" "missing subject: one line naming it"
expect_rc 2 "bad --subject-digest" "$VT" attest --key "$KEY" --predicate-type "$PTYPE" \
	--subject-digest "x=sha256:ABC" --out bad4.json
expect_err "--subject-digest 'x=sha256:ABC'" "bad digest: one line"
expect_rc 2 "no subject" "$VT" attest --key "$KEY" --predicate-type "$PTYPE" --out bad5.json
expect_rc 2 "no predicate type" "$VT" attest --key "$KEY" --subject dist/app.tar --out bad6.json
expect_rc 2 "same subject name twice" "$VT" attest --key "$KEY" --predicate-type "$PTYPE" \
	--subject dist/app.tar --subject dist/app.tar --out bad7.json
expect_err "given twice" "duplicate subject: one line"
expect_rc 2 "public key cannot attest" "$VT" attest --key "$PUB" --predicate-type "$PTYPE" \
	--subject dist/app.tar --out bad8.json
expect_rc 2 "unsupported key" "$VT" attest --key "$DATA/keys/rsa.key" --predicate-type "$PTYPE" \
	--subject dist/app.tar --out bad9.json
for i in 1 2 3 4 5 6 7 8 9; do
	[ -e "bad$i.json" ] && notok "refused attest $i left bad$i.json behind"
done
ok "no output file after any refusal"

# ---- statement show refusals ----
"$VT" envelope sign --key "$KEY" --payload-type text/plain --in dist/app.tar --out plain.json
expect_rc 2 "show refuses a non-in-toto envelope" "$VT" statement show plain.json
expect_err "plain\.json': envelope: payloadType 'text/plain'" "non-in-toto: one line"
printf '{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"digest":{"sha256":"00"}}],"predicateType":"p"}' >old.json
"$VT" envelope sign --key "$KEY" --payload-type application/vnd.in-toto+json --in old.json --out old-env.json
expect_rc 2 "show refuses a v0.1 statement" "$VT" statement show old-env.json
expect_err "_type" "v0.1 statement: one line"

# ---- a 3 GiB sparse file, hashed in flat memory ----
if truncate -s 3G big.img 2>/dev/null; then
	# SHA-256 of 3 GiB of zero bytes (openssl dgst -sha256 and veritrail agree).
	want=305b66a59d15b252092fbda9d09711230c429f351897cbd430e7b55a35fd3b97
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f %M -o rss.txt "$VT" attest --key "$KEY" --predicate-type "$PTYPE" \
			--subject big.img --out big.json
		rc=$?
		rss=$(tail -1 rss.txt)
		if [ "$rc" -eq 0 ] && [ "$rss" -lt 65536 ]; then
			ok "3 GiB file hashed with max RSS ${rss} KiB (< 64 MiB)"
		else
			notok "3 GiB file: exit $rc, max RSS ${rss} KiB"
		fi
	else
		skip "max RSS of the 3 GiB hash: /usr/bin/time is not installed (package 'time')"
		"$VT" attest --key "$KEY" --predicate-type "$PTYPE" --subject big.img --out big.json
	fi
	"$VT" statement show big.json >big.txt
	check "3 GiB subject digest is the known one" grep -q "sha256:$want  big.img" big.txt
	rm -f big.img
else
	skip "cannot make a 3 GiB sparse file here"
fi

finish
