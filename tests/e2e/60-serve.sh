#!/usr/bin/env bash
# 60-serve.sh: `veritrail serve` end to end over loopback with curl: submit
# an attested envelope (201 and a bundle that verifies offline), resubmit
# (200, same index), a batch, every read route, the C2SP checkpoint and tiles
# compared with `veritrail log export` of the same directory, metrics,
# healthz, the access log, a clean SIGTERM and a restart on the stored root.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"

D=$T/demo
check "setup: log, keys, root, tokens" demo_setup "$D"
VKEY=$(cat "$D/log.vkey")
ORIGIN=e2e.veritrail.example/log

# ---- start ---------------------------------------------------------------
if serve_start "$D"; then ok "serve starts and answers /healthz"; else
	notok "serve starts (stderr: $(head -3 "$T/serve.err" | tr '\n' '|'))"
	exit 1
fi
check "prints one line: serving <origin> on <url> (tree size 0)" \
	grep -qx "veritrail: serving $ORIGIN on http://127.0.0.1:[0-9]* (tree size 0)" "$T/serve.out"
check "stdout holds only that line" test "$(wc -l <"$T/serve.out")" -eq 1

http GET /healthz
check "healthz: 200 ok, tree size 0" \
	test "$CODE" = 200 -a "$(cat "$T/body")" = '{"status":"ok","tree_size":0}'

# ---- submit --------------------------------------------------------------
for i in 1 2 3 4 5; do make_env $i "$T/e$i.json"; done
submit "$T/e1.json"
check "POST /v1/entries: 201 Created" test "$CODE" = 201
check "POST /v1/entries: Location /v1/entries/0" test "$(header Location)" = /v1/entries/0
check "POST /v1/entries: JSON bundle" \
	grep -q '"mediaType":"application/vnd.veritrail.bundle+json;version=1"' "$T/body"
cp "$T/body" "$T/b1.json"
expect_rc 0 "bundle verifies offline (proof verify --log-key)" \
	"$VT" proof verify --bundle "$T/b1.json" --log-key "$VKEY"
expect_rc 0 "bundle verifies offline with the root" \
	"$VT" proof verify --bundle "$T/b1.json" --log-key "$VKEY" --root "$D/root.json"
"$VT" log init --dir "$T/impostor" --origin "$ORIGIN" >/dev/null
expect_rc 1 "bundle does not verify under another log's key of the same origin" \
	"$VT" proof verify --bundle "$T/b1.json" --log-key "$("$VT" log key --dir "$T/impostor")"

submit "$T/e1.json"
check "resubmit: 200 OK (idempotent)" test "$CODE" = 200
check "resubmit: same index" test "$(header Location)" = /v1/entries/0
expect_rc 0 "resubmit: its bundle verifies" \
	"$VT" proof verify --bundle "$T/body" --log-key "$VKEY"

for i in 2 3 4 5; do
	submit "$T/e$i.json"
	[ "$CODE" = 201 ] || break
done
check "four more envelopes: 201 each" test "$CODE" = 201
check "the last is entry 4" test "$(header Location)" = /v1/entries/4

# ---- batch ----------------------------------------------------------------
make_env 6 "$T/e6.json"
make_env 7 "$T/e7.json"
{ printf '['; cat "$T/e6.json"; printf ','; cat "$T/e7.json"; printf ','; cat "$T/e1.json"; printf ']'; } >"$T/batch.json"
http POST /v1/entries:batch -H "Authorization: Bearer $(cat "$D/ci.token")" \
	--data-binary @"$T/batch.json"
check "batch: 200" test "$CODE" = 200
# Entries of one batch may be sequenced in any order: 5 and 6, or 6 and 5.
check "batch: results 201, 201, 200 at index 0 (the resubmission)" \
	test "$(grep -o '{"status":[0-9]*,"index":[0-9]*' "$T/body" | sed 's/"index":[56]$/"index":N/' |
		tr '\n' ' ')" = '{"status":201,"index":N {"status":201,"index":N {"status":200,"index":0 '
I7=$(grep -o '{"status":[0-9]*,"index":[0-9]*' "$T/body" | sed -n '2s/.*"index"://p')
{ printf '{"envelopes":['; cat "$T/e7.json"; printf ']}'; } >"$T/batch2.json"
http POST /v1/entries:batch -H "Authorization: Bearer $(cat "$D/ci.token")" \
	--data-binary @"$T/batch2.json"
check "batch as {\"envelopes\":[...]}: 200 with the existing entry" \
	grep -q "^{\"results\":\[{\"status\":200,\"index\":$I7,\"bundle\":{" "$T/body"

# ---- reads ------------------------------------------------------------------
http GET /v1/entries/0
json_field entry "$T/b1.json" | base64 -d >"$T/entry0" 2>/dev/null
check "GET /v1/entries/0: 200, the bundle's entry" cmp -s "$T/body" "$T/entry0"
check "GET /v1/entries/0: immutable" \
	test "$(header Cache-Control)" = "public, max-age=31536000, immutable"
PSHA=$(json_field payloadSha256 "$T/body")
http GET "/v1/envelopes/$PSHA"
check "GET /v1/envelopes/<payload sha256>: 200, the envelope's payload" \
	test "$CODE" = 200 -a "$(json_field payload "$T/body")" = "$(json_field payload "$T/e1.json")"
SUB=$(printf '%064x' 3)
http GET "/v1/subjects/$SUB"
check "GET /v1/subjects/<sha256>: entries [2]" \
	test "$CODE" = 200 -a "$(cat "$T/body")" = "{\"entries\":[2],\"subject\":\"sha256:$SUB\"}"
http GET "/v1/bundle?subject=sha256:$SUB"
check "GET /v1/bundle?subject=: 200" test "$CODE" = 200
expect_rc 0 "GET /v1/bundle: verifies offline with the root" \
	"$VT" proof verify --bundle "$T/body" --log-key "$VKEY" --root "$D/root.json"
http GET "/v1/bundle?subject=sha256:$(printf '%064x' 999)"
check "GET /v1/bundle for an unknown subject: 404" test "$CODE" = 404

# ---- C2SP tlog-tiles -----------------------------------------------------------
http GET /checkpoint
cp "$T/body" "$T/checkpoint.served"
check "GET /checkpoint: 200 text/plain" \
	test "$CODE" = 200 -a "$(header Content-Type)" = "text/plain; charset=utf-8"
check "GET /checkpoint: not cached" test "$(header Cache-Control)" = no-cache
check "GET /checkpoint: origin and size 7" \
	test "$(sed -n 1p "$T/body")" = "$ORIGIN" -a "$(sed -n 2p "$T/body")" = 7
check "GET /checkpoint: signed by the log" grep -q "^— $ORIGIN " "$T/body"
http GET /tile/0/000.p/7
cp "$T/body" "$T/tile0.served"
check "GET /tile/0/000.p/7: 7 hashes, octet-stream" \
	test "$CODE" = 200 -a "$(wc -c <"$T/body")" = 224 -a \
	"$(header Content-Type)" = application/octet-stream
check "partial tile: short max-age" test "$(header Cache-Control)" = "public, max-age=60"
http GET /tile/entries/000.p/7
cp "$T/body" "$T/bundle0.served"
check "GET /tile/entries/000.p/7: 200" test "$CODE" = 200
http GET /tile/0/000
check "GET /tile/0/000 (full tile not there yet): 404" test "$CODE" = 404
http GET /tile/0/0.p/7
check "GET /tile/0/0.p/7 (non-canonical path): 400" test "$CODE" = 400
CODE=$(curl -s -I -o "$T/hdr" -w '%{http_code}' "$URL/checkpoint")
check "HEAD /checkpoint: 200" test "$CODE" = 200

# ---- operations ---------------------------------------------------------------
http GET /metrics
check "metrics: Prometheus text" test "$(header Content-Type)" = "text/plain; version=0.0.4; charset=utf-8"
for m in 'veritrail_submissions_total 10' 'veritrail_entries_accepted_total 7' \
	'veritrail_entries_existed_total 3' 'veritrail_tree_size 7' \
	'veritrail_http_requests_total{route="POST /v1/entries",code="201"} 5' \
	'veritrail_http_requests_total{route="POST /v1/entries",code="200"} 1' \
	'veritrail_http_request_duration_seconds_count{route="POST /v1/entries"} 6' \
	'veritrail_rejections_total{reason="denied"} 0' 'veritrail_batches_total' \
	'veritrail_batch_entries_total' 'veritrail_http_connections_open 1' \
	'veritrail_index_runs 0' 'veritrail_index_memory_bytes' 'veritrail_index_failing 0'; do
	check "metrics: $m" grep -q "^$m" "$T/body"
done
check "metrics: submission latency histogram" \
	grep -q '^veritrail_http_request_duration_seconds_bucket{route="POST /v1/entries",le="+Inf"} 6$' \
	"$T/body"
check "access log: one line per request with status, bytes, ms, token" \
	grep -Eq '^[0-9-]+T[0-9:.]+Z 127\.0\.0\.1 POST /v1/entries 201 [0-9]+ [0-9.]+ ci$' "$T/serve.err"
check "access log: the query string as sent" \
	grep -q " GET /v1/bundle?subject=sha256:$SUB 200 " "$T/serve.err"

# ---- admin: replace the root ---------------------------------------------------
TESTS=https://in-toto.io/attestation/test-result/v0.1
"$VT" root bump "$D/root.json" --out "$T/root2.json" >/dev/null &&
	"$VT" root role "$T/root2.json" --name tester --key "$D/stranger.pub" --may-sign "$TESTS" \
		>/dev/null &&
	"$VT" root sign "$T/root2.json" --key "$D/gov.key" --previous "$D/root.json" >/dev/null
make_env 8 "$T/e8.json" "$D/stranger.key" "$TESTS"
submit "$T/e8.json"
check "before the new root: the tester role does not exist (403)" test "$CODE" = 403
http PUT /v1/root -H "Authorization: Bearer $(cat "$D/admin.token")" --data-binary @"$T/root2.json"
check "PUT /v1/root (admin, valid successor): 200 with a bundle" \
	test "$CODE" = 200 -a "$(header Location)" = /v1/entries/7
expect_rc 0 "PUT /v1/root: the logged root's bundle verifies" \
	"$VT" proof verify --bundle "$T/body" --log-key "$VKEY"
submit "$T/e8.json"
check "after the new root: the tester role may sign test results (201)" test "$CODE" = 201
http PUT /v1/root -H "Authorization: Bearer $(cat "$D/admin.token")" --data-binary @"$T/root2.json"
check "PUT /v1/root again with the same version: 409" test "$CODE" = 409
http GET /checkpoint
cp "$T/body" "$T/checkpoint.served"
http GET /tile/0/000.p/9
cp "$T/body" "$T/tile9.served"
http GET /tile/entries/000.p/9
cp "$T/body" "$T/bundle9.served"

# ---- stop, then compare with the static export ------------------------------------
serve_stop TERM
check "SIGTERM: exit 0" test "$SERVE_RC" = 0
check "SIGTERM: says it stopped" grep -q '^veritrail: SIGTERM: stopped$' "$T/serve.err"
expect_rc 0 "log export of the same directory" "$VT" log export --dir "$D/data" --to "$T/export"
check "served checkpoint = exported checkpoint" cmp -s "$T/checkpoint.served" "$T/export/checkpoint"
check "served tile 0/000.p/7 = exported" cmp -s "$T/tile0.served" "$T/export/tile/0/000.p/7"
check "served entry bundle 000.p/7 = exported" \
	cmp -s "$T/bundle0.served" "$T/export/tile/entries/000.p/7"
check "served tile 0/000.p/9 = exported" cmp -s "$T/tile9.served" "$T/export/tile/0/000.p/9"
check "served entry bundle 000.p/9 = exported" \
	cmp -s "$T/bundle9.served" "$T/export/tile/entries/000.p/9"
expect_rc 0 "log audit passes" "$VT" log audit --dir "$D/data"

# ---- restart without --root: the stored root -------------------------------------
"$VT" serve --dir "$D/data" --listen 127.0.0.1:0 >"$T/serve.out" 2>"$T/serve.err" &
# shellcheck disable=SC2034 # used by serve_stop and the EXIT trap (serve_lib.bash)
SERVE_PID=$!
for i in $(seq 200); do grep -q serving "$T/serve.out" && break; sleep 0.05; done
check "restart without --root (the stored, replaced root): tree size 9" \
	grep -qx "veritrail: serving $ORIGIN on http://127.0.0.1:[0-9]* (tree size 9)" "$T/serve.out"
URL=$(sed -n 's/.* on \(http:[^ ]*\) .*/\1/p' "$T/serve.out")
submit "$T/e2.json"
check "restart: resubmission still 200 at index 1" \
	test "$CODE" = 200 -a "$(header Location)" = /v1/entries/1
submit "$T/e8.json"
check "restart: the replaced root is in force (tester's entry: 200 at index 8)" \
	test "$CODE" = 200 -a "$(header Location)" = /v1/entries/8
serve_stop INT
check "SIGINT: exit 0" test "$SERVE_RC" = 0
finish
