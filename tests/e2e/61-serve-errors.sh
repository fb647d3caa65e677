#!/usr/bin/env bash
# 61-serve-errors.sh: every error `veritrail serve` answers, each with its
# JSON body {"error","message"}: 413, 400 (malformed JSON, not an envelope,
# bad signature), 403 (signer not allowed: the message names the rule), 401
# (missing, unknown and revoked token), 403 for a writer on the admin route,
# 404/405, 429 with Retry-After, the per-IP connection limit; start-up
# refusals (uninitialised directory, port in use, invalid root, bad address:
# one line each); a stalled client does not block others and is timed out;
# SIGTERM drains submissions in flight (they complete, exit 0, audit clean).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"

D=$T/demo
check "setup: log, keys, root, tokens" demo_setup "$D"
VKEY=$(cat "$D/log.vkey")
if serve_start "$D" --timeout 2 --max-batch-body 8192; then ok "serve starts"; else
	notok "serve starts (stderr: $(head -3 "$T/serve.err" | tr '\n' '|'))"
	exit 1
fi
PORT=${URL##*:}
AUTH="Authorization: Bearer $(cat "$D/ci.token")"
for i in 1 2; do make_env $i "$T/e$i.json"; done
submit "$T/e1.json"
check "a valid envelope is accepted (201)" test "$CODE" = 201

# ---- 413 ----------------------------------------------------------------------
head -c 1048577 /dev/zero | tr '\0' ' ' >"$T/big"
submit "$T/big"
error_is 413 too_large "413: Content-Length past 1 MiB, refused before the body" "1048576 bytes"
http POST /v1/entries -H "$AUTH" -H "Transfer-Encoding: chunked" --data-binary @"$T/big"
error_is 413 too_large "413: chunked body past 1 MiB, dropped as it arrives"
head -c 9000 /dev/zero | tr '\0' ' ' >"$T/bigbatch"
http POST /v1/entries:batch -H "$AUTH" --data-binary @"$T/bigbatch"
error_is 413 too_large "413: batch body past --max-batch-body"
{ printf '['; for i in $(seq 1001); do printf '{},'; done; printf '{}]'; } >"$T/many"
http POST /v1/entries:batch -H "$AUTH" --data-binary @"$T/many"
error_is 413 too_large "413: batch of more than 1000 envelopes" "1002 envelopes, more than 1000"
http GET /healthz
check "the server still answers after refusing bodies" test "$CODE" = 200

# ---- 400 ----------------------------------------------------------------------
printf '{"payload":' >"$T/trunc.json"
submit "$T/trunc.json"
error_is 400 malformed "400: malformed JSON"
printf '{"hello":"world"}' >"$T/notenv.json"
submit "$T/notenv.json"
error_is 400 malformed "400: JSON that is not a DSSE envelope"
printf 'not a statement' | "$VT" envelope sign --key "$D/builder.key" \
	--payload-type application/vnd.in-toto+json --out "$T/notstmt.json"
submit "$T/notstmt.json"
error_is 400 malformed "400: an envelope whose payload is not an in-toto statement"
p1=$(json_field payload "$T/e1.json")
p2=$(json_field payload "$T/e2.json")
sed "s#$p1#$p2#" "$T/e1.json" >"$T/badsig.json"
submit "$T/badsig.json"
error_is 400 bad_signature "400: bad signature (the payload changed), with the reason" "signature"
http POST /v1/entries:batch -H "$AUTH" --data-binary '{"not":"a batch"}'
error_is 400 malformed "400: batch that is neither an array nor {\"envelopes\":[...]}"
http POST /v1/entries:batch -H "$AUTH" --data-binary '[]'
error_is 400 malformed "400: empty batch"

# ---- 403: signer not allowed ------------------------------------------------------
make_env 20 "$T/stranger.json" "$D/stranger.key"
submit "$T/stranger.json"
error_is 403 denied "403: signed by a key outside the root (names the rule)" "is not in the root"
make_env 21 "$T/othertype.json" "$D/builder.key" https://example.com/other/v1
submit "$T/othertype.json"
error_is 403 denied "403: predicate type no role may sign (names the type)" \
	"no role may sign predicate type 'https://example.com/other/v1'"
{ printf '['; cat "$T/e2.json"; printf ','; cat "$T/stranger.json"; printf ']'; } >"$T/mixed.json"
http POST /v1/entries:batch -H "$AUTH" --data-binary @"$T/mixed.json"
check "batch: one accepted, one denied, each with its status" \
	test "$(grep -o '"status":[0-9]*' "$T/body" | tr '\n' ' ')" = '"status":201 "status":403 '

# ---- 401 / 403 (tokens) ----------------------------------------------------------------
http POST /v1/entries --data-binary @"$T/e1.json"
error_is 401 unauthorized "401: no Authorization header" "Bearer"
check "401: WWW-Authenticate challenge" test "$(header WWW-Authenticate)" = 'Bearer realm="veritrail"'
http POST /v1/entries -H "Authorization: Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
	--data-binary @"$T/e1.json"
error_is 401 unauthorized "401: unknown token"
http POST /v1/entries -H "Authorization: Basic dXNlcjpwYXNz" --data-binary @"$T/e1.json"
error_is 401 unauthorized "401: not a bearer token"
"$VT" token create --dir "$D/data" --name temp >"$T/temp.token"
submit "$T/e1.json" "$T/temp.token"
check "a token created while serving works" test "$CODE" = 200
expect_rc 0 "token revoke while serving" "$VT" token revoke --dir "$D/data" --name temp
submit "$T/e1.json" "$T/temp.token"
error_is 401 unauthorized "401: revoked token"
http PUT /v1/root -H "$AUTH" --data-binary @"$D/root.json"
error_is 403 forbidden "403: writer token on the admin route"
http PUT /v1/root -H "Authorization: Bearer $(cat "$D/admin.token")" --data-binary @"$D/root.json"
error_is 409 policy "409: PUT /v1/root with the root in force (not its successor)"
http PUT /v1/root -H "Authorization: Bearer $(cat "$D/admin.token")" --data-binary '{"x":1}'
error_is 400 malformed "400: PUT /v1/root with something that is not a root"

# ---- 404 / 405 ----------------------------------------------------------------------
http GET /nothing/here
error_is 404 not_found "404: unknown path"
http GET /v1/entries/999
error_is 404 not_found "404: entry past the tree size"
http GET /v1/entries/007
error_is 400 malformed "400: entry index with leading zeros"
http GET /v1/envelopes/ABCDEF
error_is 400 malformed "400: digest that is not 64 lowercase hex digits"
http DELETE /v1/entries
error_is 405 method_not_allowed "405: DELETE /v1/entries"
check "405: Allow: POST" test "$(header Allow)" = POST
http POST /checkpoint
error_is 405 method_not_allowed "405: POST /checkpoint"
check "405: Allow: GET, HEAD" test "$(header Allow)" = "GET, HEAD"

# ---- a stalled client does not block others -------------------------------------------------
if exec 3<>"/dev/tcp/127.0.0.1/$PORT"; then
	printf 'POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{"pay' >&3
	start=$(date +%s%N)
	http GET /healthz
	ms=$((($(date +%s%N) - start) / 1000000))
	check "stalled client: another client is answered at once (${ms} ms)" \
		test "$CODE" = 200 -a "$ms" -lt 1500
	make_env 3 "$T/e3.json"
	submit "$T/e3.json"
	check "stalled client: another client's submission is accepted" test "$CODE" = 201
	start=$(date +%s%N)
	timeout 10 cat <&3 >/dev/null
	ms=$((($(date +%s%N) - start) / 1000000))
	check "stalled client: closed after the --timeout (2 s), ${ms} ms after" test "$ms" -lt 5000
	exec 3<&-
else
	notok "stalled client: cannot connect with /dev/tcp"
fi

# ---- start-up refusals -------------------------------------------------------------------
mkdir "$T/empty"
expect_rc 2 "uninitialised directory: exit 2" "$VT" serve --dir "$T/empty" --root "$D/root.json" \
	--listen 127.0.0.1:0
expect_err "log init" "uninitialised directory: one line saying to run log init"
expect_rc 2 "missing directory: exit 2" "$VT" serve --dir "$T/nothere" --root "$D/root.json" \
	--listen 127.0.0.1:0
expect_err "." "missing directory: one line"
check "setup: a second deployment" demo_setup "$T/second"
expect_rc 2 "port in use: exit 2" "$VT" serve --dir "$T/second/data" --root "$T/second/root.json" \
	--listen "127.0.0.1:$PORT"
expect_err "address already in use" "port in use: one line saying so"
"$VT" root init --out "$T/unsigned.json" --governance-key "$D/gov.pub" --threshold 1 >/dev/null
"$VT" serve --dir "$T/second/data" --root "$T/unsigned.json" --listen 127.0.0.1:0 \
	>"$T/out" 2>"$T/err"
rc=$?
check "invalid root (unsigned): refused (exit $rc)" test "$rc" = 1 -o "$rc" = 2
expect_err "." "invalid root: one line from the library"
expect_rc 2 "bad --listen: exit 2" "$VT" serve --dir "$T/second/data" \
	--root "$T/second/root.json" --listen nonsense
expect_err "listen address" "bad --listen: one line"
expect_rc 2 "no --dir: exit 2" "$VT" serve --root "$D/root.json"
expect_rc 2 "bad --linger: exit 2" "$VT" serve --dir "$T/second/data" \
	--root "$T/second/root.json" --linger 1000001
expect_err "--linger '1000001' is not a number from 0 to 1000000" "bad --linger: one line"
expect_rc 2 "bad --index-memtable: exit 2" "$VT" serve --dir "$T/second/data" \
	--root "$T/second/root.json" --index-memtable 15
expect_err "--index-memtable '15' is not a number from 16 to 16777216" \
	"bad --index-memtable: one line"

# ---- SIGTERM drains submissions in flight ------------------------------------------------------
# Two clients upload their envelopes slowly (1 KiB/s, about 3 s each); the
# server gets SIGTERM while both are in flight.
for i in 30 31; do
	make_env $i "$T/slow$i.json"
	head -c 2500 /dev/zero | tr '\0' ' ' >>"$T/slow$i.json"
done
SIZE0=$(curl -s "$URL/checkpoint" | sed -n 2p)
for i in 30 31; do
	curl -s -o "$T/slow$i.out" -w '%{http_code}' --limit-rate 1K -H "$AUTH" \
		--data-binary @"$T/slow$i.json" "$URL/v1/entries" >"$T/slow$i.code" &
done
sleep 1
serve_stop TERM
wait
check "SIGTERM: exit 0" test "$SERVE_RC" = 0
check "SIGTERM: drained 2 requests in flight" grep -q 'draining 2 requests in flight' "$T/serve.err"
check "SIGTERM: both slow submissions completed with 201" \
	test "$(cat "$T/slow30.code") $(cat "$T/slow31.code")" = "201 201"
expect_rc 0 "SIGTERM: the drained submissions' bundles verify" \
	"$VT" proof verify --bundle "$T/slow30.out" --log-key "$VKEY"
expect_rc 0 "SIGTERM: log audit clean" "$VT" log audit --dir "$D/data"
SIZE1=$("$VT" log checkpoint --dir "$D/data" | sed -n 2p)
check "SIGTERM: the log grew by the 2 drained entries ($SIZE0 -> $SIZE1)" \
	test "$SIZE1" = $((SIZE0 + 2))

# ---- 429 ----------------------------------------------------------------------------------
if serve_start "$D" --rate 1 --burst 2 --max-per-ip 3 --linger 0; then
	ok "serve with --rate 1 --burst 2 --max-per-ip 3 --linger 0"
else
	notok "serve with --rate 1 --burst 2 --max-per-ip 3 --linger 0"
fi
# Two tokens in the bucket, one more per second: a quick third (or, on a
# very slow machine, fourth or fifth) submission finds it empty.
codes=
for _ in 1 2 3 4 5; do
	submit "$T/e1.json"
	codes="$codes$CODE "
	[ "$CODE" = 429 ] && break
done
check "429: a burst past 2 is limited ($codes)" test "${codes#200 200 }" != "$codes" -a "$CODE" = 429
error_is 429 rate_limited "429: JSON error naming the token" "token 'ci'"
check "429: Retry-After: 1" test "$(header Retry-After)" = 1
http GET /v1/entries/0
check "429: reads are not limited" test "$CODE" = 200
sleep 1.1
submit "$T/e1.json"
check "429: a token is back after a second" test "$CODE" = 200
http GET /metrics
check "metrics: rate limited counter" grep -q '^veritrail_http_rate_limited_total 1$' "$T/body"

# ---- per-IP connection limit ---------------------------------------------------------------
PORT=${URL##*:}
sleep 0.2
exec 3<>"/dev/tcp/127.0.0.1/$PORT" 4<>"/dev/tcp/127.0.0.1/$PORT" 5<>"/dev/tcp/127.0.0.1/$PORT"
sleep 0.2
http GET /healthz
check "per-IP limit: a 4th connection from 127.0.0.1 is refused" test "$CODE" = 000
exec 3<&-
sleep 0.2
http GET /healthz
check "per-IP limit: once one closes, the next is served" test "$CODE" = 200
exec 4<&- 5<&-
serve_stop TERM
check "exit 0" test "$SERVE_RC" = 0
finish
