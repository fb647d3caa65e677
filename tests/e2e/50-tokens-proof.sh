#!/usr/bin/env bash
# 50-tokens-proof.sh: `veritrail token` (create prints the token once and
# nothing else, list shows no secret, revoke, names in use, bad names, not a
# data directory) and `veritrail proof verify` on bundles made by a real
# `veritrail serve`: ok (with and without the root), a flipped bit in a
# proof hash, an entry that does not match its envelope, a checkpoint of
# another log, a root that does not allow the signer, a bundle of two
# attestations of which one is broken, malformed and truncated bundles, and
# usage errors. Exit codes: 0 verified, 1 not verified, 2 usage or input.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"

D=$T/demo
check "setup: log, keys, root, tokens" demo_setup "$D"
VKEY=$(cat "$D/log.vkey")

# ---- token --------------------------------------------------------------------
tok_shape() { [ "$(wc -l <"$1")" -eq 1 ] && grep -Eqx '[A-Za-z0-9_-]{43}' "$1"; }
check "token create: one line, 43 base64url characters" tok_shape "$D/ci.token"
check "token create --admin: the same shape" tok_shape "$D/admin.token"
check "two tokens differ" test "$(cat "$D/ci.token")" != "$(cat "$D/admin.token")"

expect_rc 0 "token create: exit 0" "$VT" token create --dir "$D/data" --name "release-bot"
check "token create: nothing on stderr" test ! -s "$T/err"
cp "$T/out" "$T/bot.token"

expect_rc 0 "token list" "$VT" token list --dir "$D/data"
check "token list: admin admin active" grep -Eq '^admin admin active [0-9T:-]+Z$' "$T/out"
check "token list: ci writer active" grep -Eq '^ci writer active [0-9T:-]+Z$' "$T/out"
check "token list: three tokens, sorted" \
	test "$(cut -d' ' -f1 "$T/out" | tr '\n' ' ')" = "admin ci release-bot "
check "token list: no secret" test "$(grep -cF -e "$(cat "$D/ci.token")" \
	-e "$(cat "$T/bot.token")" "$T/out")" -eq 0

expect_rc 2 "token create: a name in use" "$VT" token create --dir "$D/data" --name ci
expect_err "already exists" "token create: says the name is in use"
expect_rc 2 "token create: a bad name" "$VT" token create --dir "$D/data" --name "a b"
expect_err "token name" "token create: says what is wrong with the name"
expect_rc 2 "token create: not a data directory" \
	"$VT" token create --dir "$T/nowhere" --name x
check "token create: no token printed on failure" test ! -s "$T/out"
expect_rc 2 "token create: needs --name" "$VT" token create --dir "$D/data"
expect_rc 2 "token: unknown command" "$VT" token rotate --dir "$D/data" --name ci

expect_rc 0 "token revoke" "$VT" token revoke --dir "$D/data" --name release-bot
"$VT" token list --dir "$D/data" >"$T/list"
check "token list: revoked" grep -Eq '^release-bot writer revoked ' "$T/list"
expect_rc 2 "token revoke: unknown name" "$VT" token revoke --dir "$D/data" --name nobody
expect_err "no token named 'nobody'" "token revoke: names the token"

# ---- bundles from a running server --------------------------------------------
if ! "$VT" serve --help >/dev/null 2>&1; then
	skip "proof verify: this build has no 'veritrail serve' to make bundles"
	finish
	exit
fi
if serve_start "$D"; then ok "serve starts"; else
	notok "serve starts (stderr: $(head -3 "$T/serve.err" | tr '\n' '|'))"
	exit 1
fi
make_env 1 "$T/e1.json"
make_env 2 "$T/e2.json"
make_env 1 "$T/e1r.json" "$D/builder.key" https://veritrail.dev/review/v1
submit "$T/e1.json"
check "submit with the ci token: 201" test "$CODE" = 201
cp "$T/body" "$T/b1.json"
submit "$T/e2.json"
cp "$T/body" "$T/b2.json"
submit "$T/e2.json" "$T/bot.token"
check "the revoked token is refused by the running server" test "$CODE" = 401 -o "$CODE" = 403
http GET "/v1/bundle?subject=sha256:$(printf '%064x' 1)"
check "bundle of subject 1: 200" test "$CODE" = 200
cp "$T/body" "$T/subject1.json"
serve_stop

# ---- proof verify: good bundles -----------------------------------------------
expect_rc 0 "proof verify: ok" "$VT" proof verify --bundle "$T/b1.json" --log-key "$VKEY"
check "proof verify: explained verdict" grep -Eq \
	"^attestation 1: ok: entry 0 of log 'e2e.veritrail.example/log' \(checkpoint size 1\), predicate type '$SLSA', subject 'fw-1.bin' \(sha256:0{16}\.\.\.\)" \
	"$T/out"
check "proof verify: says signatures were not checked without a root" \
	grep -q "envelope signatures not checked (no root)" "$T/out"
expect_rc 0 "proof verify --root: ok" \
	"$VT" proof verify --bundle "$T/b1.json" --log-key "$VKEY" --root "$D/root.json"
check "proof verify --root: names the role" grep -q "authorized by role 'builder'" "$T/out"
expect_rc 0 "proof verify: the log key from a file" \
	"$VT" proof verify --bundle "$T/b2.json" --log-key "$D/log.vkey"
expect_rc 0 "proof verify: a subject's bundle" \
	"$VT" proof verify --bundle "$T/subject1.json" --log-key "$VKEY" --root "$D/root.json"
check "proof verify: one line per attestation" test "$(grep -c ': ok: ' "$T/out")" -eq 1

# ---- proof verify: bad bundles --------------------------------------------------
differs() { ! cmp -s "$1" "$2"; }

# A changed first proof hash (the line after "index 1" in entry 1's bundle).
sed 's/\(index 1\\n\)A/\1B/;t;s/\(index 1\\n\)./\1A/' "$T/b2.json" >"$T/bad-proof.json"
check "the proof hash was changed" differs "$T/b2.json" "$T/bad-proof.json"
expect_rc 1 "proof verify: a changed proof hash" \
	"$VT" proof verify --bundle "$T/bad-proof.json" --log-key "$VKEY"
check "proof verify: prints FAILED for it" grep -q "^attestation 1: FAILED: proof mismatch" "$T/out"
expect_err "attestation 1: proof mismatch" "proof verify: one line on stderr naming the attestation"

# A changed checkpoint root: the log's signature no longer verifies.
O='\\n\\ne2e.veritrail.example/log\\n[0-9]*\\n'
sed "s|\($O\)A|\1B|;t;s|\($O\).|\1A|" "$T/b2.json" >"$T/bad-root.json"
check "the checkpoint root was changed" differs "$T/b2.json" "$T/bad-root.json"
expect_rc 1 "proof verify: a changed checkpoint root" \
	"$VT" proof verify --bundle "$T/bad-root.json" --log-key "$VKEY"
expect_err "attestation 1: checkpoint signature" "proof verify: the signature no longer verifies"

# The entry of another envelope.
e1=$(sed -n 's/.*"entry":"\([^"]*\)".*/\1/p' "$T/b1.json")
e2=$(sed -n 's/.*"entry":"\([^"]*\)".*/\1/p' "$T/b2.json")
sed "s|\"entry\":\"$e2\"|\"entry\":\"$e1\"|" "$T/b2.json" >"$T/swapped.json"
expect_rc 1 "proof verify: an entry that is not the envelope's" \
	"$VT" proof verify --bundle "$T/swapped.json" --log-key "$VKEY"
expect_err "attestation 1: entry does not match the envelope" "proof verify: says so"

# Another log with the same origin: its key does not verify ours.
"$VT" log init --dir "$T/impostor" --origin e2e.veritrail.example/log >/dev/null
expect_rc 1 "proof verify: another log's key" \
	"$VT" proof verify --bundle "$T/b1.json" --log-key "$("$VT" log key --dir "$T/impostor")"
expect_err "attestation 1: checkpoint signature" "proof verify: names the checkpoint signature"
"$VT" log init --dir "$T/other" --origin other.example/log >/dev/null
expect_rc 1 "proof verify: a log we do not trust" \
	"$VT" proof verify --bundle "$T/b1.json" --log-key "$("$VT" log key --dir "$T/other")"
expect_err "not a trusted log" "proof verify: says the log is not trusted"

# A root in which the builder may sign only reviews.
"$VT" root init --out "$T/root2.json" --governance-key "$D/gov.pub" --threshold 1 >/dev/null
"$VT" root role "$T/root2.json" --name builder --key "$D/builder.pub" \
	--may-sign https://veritrail.dev/review/v1 >/dev/null
"$VT" root sign "$T/root2.json" --key "$D/gov.key" >/dev/null
expect_rc 1 "proof verify --root: a root that does not allow the signer" \
	"$VT" proof verify --bundle "$T/b1.json" --log-key "$VKEY" --root "$T/root2.json"
expect_err "attestation 1: authorization" "proof verify: names the authorization"
"$VT" root init --out "$T/unsigned.json" --governance-key "$D/gov.pub" --threshold 1 >/dev/null
expect_rc 1 "proof verify --root: an unsigned root" \
	"$VT" proof verify --bundle "$T/b1.json" --log-key "$VKEY" --root "$T/unsigned.json"

# Two attestations, the second broken: both verdicts, exit 1.
a1=$(sed 's/^{"attestations":\[\(.*\)\],"mediaType".*$/\1/' "$T/b1.json")
a2=$(sed 's/^{"attestations":\[\(.*\)\],"mediaType".*$/\1/' "$T/swapped.json")
printf '{"attestations":[%s,%s],"mediaType":"application/vnd.veritrail.bundle+json;version=1"}' \
	"$a1" "$a2" >"$T/two.json"
expect_rc 1 "proof verify: one of two attestations broken" \
	"$VT" proof verify --bundle "$T/two.json" --log-key "$VKEY"
check "proof verify: attestation 1 ok, 2 FAILED" \
	test "$(cut -d: -f1,2 "$T/out" | tr '\n' '|')" = "attestation 1: ok|attestation 2: FAILED|"

# Malformed input: exit 2.
head -c 200 "$T/b1.json" >"$T/trunc.json"
expect_rc 2 "proof verify: a truncated bundle" \
	"$VT" proof verify --bundle "$T/trunc.json" --log-key "$VKEY"
{ cat "$T/b1.json"; printf 'x'; } >"$T/trail.json"
expect_rc 2 "proof verify: trailing garbage" \
	"$VT" proof verify --bundle "$T/trail.json" --log-key "$VKEY"
expect_rc 2 "proof verify: no such bundle" \
	"$VT" proof verify --bundle "$T/none.json" --log-key "$VKEY"
expect_rc 2 "proof verify: a malformed log key" \
	"$VT" proof verify --bundle "$T/b1.json" --log-key "not+a+key"
expect_rc 2 "proof verify: needs --log-key" "$VT" proof verify --bundle "$T/b1.json"
expect_rc 2 "proof: unknown command" "$VT" proof check --bundle "$T/b1.json"

finish
