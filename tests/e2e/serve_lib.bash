# serve_lib.bash: helpers shared by the `veritrail serve` tests (60-62),
# sourced after lib.sh. (Not named *.sh: the test runner runs those.)
#
# A demo deployment in a directory: a log (data/), a governance key and a
# root whose role "builder" may sign SLSA provenance, a key outside the root,
# a writer token (ci.token) and an admin token (admin.token). The server runs
# in the background on 127.0.0.1 (port 0 = any free one, read from its
# "serving" line) and is killed when the script exits.

SLSA=https://slsa.dev/provenance/v1
SERVE_PID=
URL=
trap 'if [ -n "$SERVE_PID" ]; then kill -9 "$SERVE_PID" 2>/dev/null; fi; rm -rf "$T"' EXIT

# demo_setup DIR: the deployment above in DIR.
demo_setup() {
	local d=$1
	mkdir -p "$d" &&
		"$VT" log init --dir "$d/data" --origin e2e.veritrail.example/log >/dev/null &&
		"$VT" key generate --type ed25519 --out "$d/gov" >/dev/null &&
		"$VT" key generate --type ed25519 --out "$d/builder" >/dev/null &&
		"$VT" key generate --type ed25519 --out "$d/stranger" >/dev/null &&
		"$VT" root init --out "$d/root.json" --governance-key "$d/gov.pub" --threshold 1 \
			>/dev/null &&
		"$VT" root role "$d/root.json" --name builder --key "$d/builder.pub" \
			--may-sign "$SLSA" >/dev/null &&
		"$VT" root sign "$d/root.json" --key "$d/gov.key" >/dev/null &&
		"$VT" token create --dir "$d/data" --name ci >"$d/ci.token" &&
		"$VT" token create --dir "$d/data" --name admin --admin >"$d/admin.token" &&
		"$VT" log key --dir "$d/data" >"$d/log.vkey"
}

# serve_start DIR [ARGS...]: start `veritrail serve --dir DIR/data --root
# DIR/root.json` on 127.0.0.1:${SERVE_PORT:-0} in the background; sets
# SERVE_PID and URL. Succeeds once /healthz answers. Output in $T/serve.out,
# $T/serve.err.
serve_start() {
	local d=$1
	shift
	URL=
	"$VT" serve --dir "$d/data" --root "$d/root.json" --listen "127.0.0.1:${SERVE_PORT:-0}" \
		"$@" >"$T/serve.out" 2>"$T/serve.err" &
	SERVE_PID=$!
	for _ in $(seq 400); do
		URL=$(sed -n 's/^veritrail: serving .* on \(http:[^ ]*\) (tree size [0-9]*)$/\1/p' \
			"$T/serve.out")
		[ -n "$URL" ] && break
		kill -0 "$SERVE_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	[ -n "$URL" ] && curl -sf -o /dev/null "$URL/healthz"
}

# serve_stop [SIGNAL]: send SIGNAL (TERM) to the server and wait; SERVE_RC is its status.
serve_stop() {
	kill -"${1:-TERM}" "$SERVE_PID" 2>/dev/null
	wait "$SERVE_PID"
	SERVE_RC=$?
	SERVE_PID=
	if [ "$SERVE_RC" != 0 ]; then
		echo "# serve exited $SERVE_RC; the end of its standard error:"
		grep -v '^[0-9-]*T[0-9:.]*Z ' "$T/serve.err" | tail -15 | sed 's/^/#   /'
	fi
}

# make_env N OUT [KEY [TYPE]]: an envelope about subject fw-N.bin (digest N), signed by KEY.
make_env() {
	"$VT" attest --key "${3:-$D/builder.key}" --predicate-type "${4:-$SLSA}" \
		--subject-digest "fw-$1.bin=sha256:$(printf '%064x' "$1")" --out "$2"
}

# http METHOD PATH [CURL ARGS...]: one request; CODE is the status, the
# body is in $T/body, the headers in $T/hdr.
http() {
	local m=$1 p=$2
	shift 2
	CODE=$(curl -s -X "$m" -o "$T/body" -D "$T/hdr" -w '%{http_code}' "$@" "$URL$p")
}

# submit FILE [TOKEN FILE]: POST /v1/entries with the ci token (or TOKEN FILE).
submit() {
	http POST /v1/entries -H "Authorization: Bearer $(cat "${2:-$D/ci.token}")" \
		--data-binary @"$1"
}

# header NAME: the value of a header of the last response.
header() { sed -n "s/^$1: *\(.*\)\r$/\1/Ip" "$T/hdr" | head -1; }

# json_field NAME FILE: the first string value of member NAME in FILE (flat use only).
json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$2" | head -1; }

# error_is CODE WORD DESC [PATTERN]: the last response was CODE with a JSON
# error body {"error":WORD,"message":...} whose message matches PATTERN.
error_is() {
	local code=$1 word=$2 desc=$3 pat=${4:-.}
	if [ "$CODE" = "$code" ] && grep -q "^{\"error\":\"$word\",\"message\":\".*\"}$" "$T/body" &&
		grep -Eq -- "$pat" "$T/body"; then
		ok "$desc"
	else
		notok "$desc (status $CODE, body $(head -c 300 "$T/body"))"
	fi
}
