#!/usr/bin/env bash
# 63-clients.sh: the client verbs against a real server over loopback:
# `veritrail submit` (bundles written per envelope, one kept-alive connection,
# refusals explained, exit codes) and `veritrail bundle` (every attestation
# about an artifact, by file or digest), each bundle checked offline.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"

D=$T/demo
check "setup: log, keys, root, tokens" demo_setup "$D"
VKEY=$(cat "$D/log.vkey")
if serve_start "$D"; then ok "serve starts"; else
	notok "serve starts (stderr: $(head -3 "$T/serve.err" | tr '\n' '|'))"
	exit 1
fi

# Two attestations about one firmware file, one about another.
head -c 4096 /dev/urandom >"$T/fw.bin"
head -c 4096 /dev/urandom >"$T/other.bin"
"$VT" attest --key "$D/builder.key" --predicate-type "$SLSA" --subject "$T/fw.bin" \
	--out "$T/a1.json" 2>/dev/null
echo '{"buildType":"https://example.com/rebuild@v1"}' >"$T/pred.json"
"$VT" attest --key "$D/builder.key" --predicate-type "$SLSA" --predicate "$T/pred.json" \
	--subject "$T/fw.bin" --out "$T/a2.json" 2>/dev/null
"$VT" attest --key "$D/builder.key" --predicate-type "$SLSA" --subject "$T/other.bin" \
	--out "$T/a3.json" 2>/dev/null
mkdir -p "$T/bundles"

expect_rc 0 "submit three envelopes" "$VT" submit --server "$URL" --token-file "$D/ci.token" \
	--out "$T/bundles" "$T/a1.json" "$T/a2.json" "$T/a3.json"
check "one line per envelope with its index" test "$(grep -c ': entry [0-9]*, bundle ' "$T/out")" -eq 3
check "indexes 0, 1, 2 in order" test "$(sed -n 's/.*: entry \([0-9]*\),.*/\1/p' "$T/out" | tr '\n' ' ')" = "0 1 2 "
for i in 1 2 3; do
	expect_rc 0 "bundle a$i verifies offline" \
		"$VT" proof verify --bundle "$T/bundles/a$i.bundle.json" --log-key "$VKEY" --root "$D/root.json"
done

# --out: a missing directory is made (a trailing slash names the same one); a file there is
# refused before anything is sent (a bundle the server answered with is never lost).
expect_rc 0 "submit --out a new directory" "$VT" submit --server "$URL" --token-file "$D/ci.token" \
	--out "$T/new/" "$T/a1.json"
check "the directory was made and holds the bundle" test -s "$T/new/a1.bundle.json"
check "the path printed has no doubled slash" grep -q "bundle $T/new/a1.bundle.json\$" "$T/out"
expect_rc 0 "that bundle verifies offline" \
	"$VT" proof verify --bundle "$T/new/a1.bundle.json" --log-key "$VKEY" --root "$D/root.json"
: >"$T/afile"
"$VT" attest --key "$D/builder.key" --predicate-type "$SLSA" --subject "$T/afile" \
	--out "$T/a4.json" 2>/dev/null
expect_rc 2 "submit --out a file is refused" "$VT" submit --server "$URL" --token-file "$D/ci.token" \
	--out "$T/afile" "$T/a4.json"
expect_err "'$T/afile' is not a directory" "says --out is not a directory"
expect_rc 2 "a usage error with --out" env -u VERITRAIL_TOKEN "$VT" submit --server "$URL" \
	--out "$T/never" "$T/a4.json"
check "makes no directory" test ! -e "$T/never"
expect_rc 1 "nothing was sent" "$VT" bundle --server "$URL" --subject "$T/afile" --out "$T/a4b.json"
expect_err "no entry about this subject" "the log holds no attestation about that file"

expect_rc 0 "resubmitting is idempotent" env VERITRAIL_TOKEN="$(cat "$D/ci.token")" \
	"$VT" submit --server "$URL/" "$T/a1.json"
check "the same entry, said to be logged already" grep -q ': entry 0 (already logged)' "$T/out"

# Refusals: the server's reason, one line, exit 1; usage errors exit 2.
"$VT" attest --key "$D/stranger.key" --predicate-type "$SLSA" --subject "$T/fw.bin" \
	--out "$T/stranger.json" 2>/dev/null
expect_rc 1 "an envelope signed outside the root is refused" \
	"$VT" submit --server "$URL" --token-file "$D/ci.token" "$T/stranger.json"
expect_err "stranger.json': server answered 403: " "the refusal names the file and the server's reason"
expect_rc 2 "a wrong token is a usage error" \
	"$VT" submit --server "$URL" --token not-a-token "$T/a1.json"
expect_err "server answered 401" "401 is explained"
expect_rc 2 "no token at all" env -u VERITRAIL_TOKEN "$VT" submit --server "$URL" "$T/a1.json"
expect_err "needs a token" "says a token is needed"
expect_rc 2 "a missing envelope file" \
	"$VT" submit --server "$URL" --token-file "$D/ci.token" "$T/nope.json"
expect_err "nope.json" "names the missing file"
expect_rc 2 "an unreachable server" \
	"$VT" submit --server http://127.0.0.1:1 --token-file "$D/ci.token" "$T/a1.json"
expect_err "cannot reach" "says the server cannot be reached"

# bundle: by file and by digest; both hold the two attestations about fw.bin.
expect_rc 0 "bundle by file" "$VT" bundle --server "$URL" --subject "$T/fw.bin" --out "$T/fw.bundle.json"
check "it holds both attestations about fw.bin" \
	test "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["attestations"]))' "$T/fw.bundle.json")" = 2
expect_rc 0 "the bundle verifies offline" \
	"$VT" proof verify --bundle "$T/fw.bundle.json" --log-key "$VKEY" --root "$D/root.json"
DIG=$(sha256sum "$T/fw.bin" | cut -d' ' -f1)
expect_rc 0 "bundle by digest" "$VT" bundle --server "$URL" --subject "sha256:$DIG" --out "$T/fw2.bundle.json"
check "by file and by digest give the same attestations" \
	test "$(python3 -c 'import json,sys; print(sorted(a["entry"] for a in json.load(open(sys.argv[1]))["attestations"]) == sorted(a["entry"] for a in json.load(open(sys.argv[2]))["attestations"]))' "$T/fw.bundle.json" "$T/fw2.bundle.json")" = True
expect_rc 1 "an artifact the log knows nothing about" \
	"$VT" bundle --server "$URL" --subject "sha256:$(printf '%064x' 7)" --out "$T/none.json"
check "no bundle file is left behind" test ! -e "$T/none.json"
expect_rc 2 "a malformed digest" "$VT" bundle --server "$URL" --subject sha256:XYZ --out "$T/x.json"
expect_err "64 lowercase hex" "the digest error says what is expected"

# A tampered bundle fails offline: flip one character of the proof's first hash.
python3 - "$T/fw.bundle.json" "$T/tampered.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
p = b["attestations"][0]["proof"].split("\n")
i = next(k for k, l in enumerate(p) if l.startswith("index ")) + 1
if i < len(p) and p[i]:
    c = "A" if p[i][0] != "A" else "B"
    p[i] = c + p[i][1:]
else:  # a one-entry tree has no path: tamper with the entry instead
    b["attestations"][0]["entry"] = "e30="
b["attestations"][0]["proof"] = "\n".join(p)
json.dump(b, open(sys.argv[2], "w"))
PY
expect_rc 1 "a tampered bundle is refused offline" \
	"$VT" proof verify --bundle "$T/tampered.json" --log-key "$VKEY"
serve_stop TERM
check "the server stops cleanly" test "$SERVE_RC" = 0
finish
