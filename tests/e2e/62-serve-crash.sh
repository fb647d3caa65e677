#!/usr/bin/env bash
# 62-serve-crash.sh: durability under fire. Thousands of distinct envelopes
# are submitted over many connections at once (tests/e2e/serve_flood.c,
# built here against the library) while the server is killed with SIGKILL
# several times and restarted on the same port. Every envelope that was
# acknowledged (201, or 200 for a resubmission whose first answer was lost)
# must be in the log at its index with a bundle that verifies offline; the
# log must hold each envelope once; `veritrail log audit` must pass; the
# served checkpoint and a full tile must equal `veritrail log export`.
# The server keeps 64 keys of its lookup index in memory (--index-memtable),
# so the kills also land while index runs are written and merged; after the
# storm every envelope submitted again is found (200, the log does not grow).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LIB=$(dirname "$VT")/libveritrail.a
COUNT=${VT_FLOOD_COUNT:-3000}
CONNS=${VT_FLOOD_CONNS:-32}
KILLS=${VT_FLOOD_KILLS:-4}

# ---- the client, built like the library (with its sanitizers, if any) ----
SAN=
if nm "$LIB" 2>/dev/null | grep -q '__asan_init'; then
	SAN="-fsanitize=address,undefined -fno-omit-frame-pointer"
	COUNT=${VT_FLOOD_COUNT:-1500}
fi
LIBS=$(pkg-config --libs libcrypto libsodium jansson sqlite3 libmicrohttpd 2>/dev/null ||
	echo -lcrypto -lsodium -ljansson -lsqlite3 -lmicrohttpd)
# shellcheck disable=SC2086,SC2046
if cc -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -D_GNU_SOURCE -O1 -g $SAN \
	-I"$ROOT/include" $(pkg-config --cflags jansson 2>/dev/null) -o "$T/flood" \
	"$ROOT/tests/e2e/serve_flood.c" "$LIB" $LIBS -lpthread -lm 2>"$T/cc.err"; then
	ok "build the flood client against $(basename "$LIB")"
else
	notok "build the flood client ($(head -3 "$T/cc.err" | tr '\n' '|'))"
	exit 1
fi

D=$T/demo
check "setup: log, keys, root, tokens" demo_setup "$D"
VKEY=$(cat "$D/log.vkey")
if serve_start "$D" --access-log off --index-memtable 64; then ok "serve starts"; else
	notok "serve starts (stderr: $(head -3 "$T/serve.err" | tr '\n' '|'))"
	exit 1
fi
SERVE_PORT=${URL##*:}

# ---- flood, and kill the server under it -------------------------------------
mkdir "$T/acks"
"$T/flood" submit "$D/builder.key" "$SERVE_PORT" "$D/ci.token" "$COUNT" "$CONNS" "$T/acks" 75 \
	"$$" >"$T/flood.out" 2>"$T/flood.err" &
FLOOD=$!
restarts=0
for k in $(seq "$KILLS"); do
	# Let some submissions through, then kill in the middle of the traffic.
	target=$((COUNT * k / (KILLS + 1)))
	for _ in $(seq 300); do
		[ "$(ls "$T/acks" | wc -l)" -ge "$target" ] && break
		kill -0 $FLOOD 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$SERVE_PID"
	wait "$SERVE_PID" 2>/dev/null
	SERVE_PID=
	acked=$(ls "$T/acks" | wc -l)
	sleep 0.3
	if serve_start "$D" --access-log off --index-memtable 64; then
		restarts=$((restarts + 1))
	else
		notok "restart $k after SIGKILL (stderr: $(head -3 "$T/serve.err" | tr '\n' '|'))"
		break
	fi
	echo "# kill $k at $acked acknowledged; restarted on port $SERVE_PORT"
done
check "server killed with SIGKILL and restarted $KILLS times" test "$restarts" = "$KILLS"
wait $FLOOD
check "flood client ran" test $? = 0
echo "# $(cat "$T/flood.out")"
sed 's/^/#   /' "$T/flood.err" | head -5
ACKED=$(ls "$T/acks" | wc -l)
check "every one of $COUNT envelopes acknowledged in the end ($ACKED)" test "$ACKED" = "$COUNT"
check "no envelope refused" grep -q ' refused 0$' "$T/flood.out"

# ---- every acknowledged envelope is in the log, with a valid proof ---------------
http GET /checkpoint
cp "$T/body" "$T/checkpoint.served"
SIZE=$(sed -n 2p "$T/body")
check "the log holds each envelope once (tree size $SIZE = $COUNT)" test "$SIZE" = "$COUNT"
http GET /tile/0/000
cp "$T/body" "$T/tile.served"
check "a full tile: 8192 bytes, immutable" test "$(wc -c <"$T/body")" = 8192 -a \
	"$(header Cache-Control)" = "public, max-age=31536000, immutable"
http GET /tile/entries/001
cp "$T/body" "$T/bundle1.served"
check "a full entry bundle: 200" test "$CODE" = 200
# ---- every envelope found again through the lookup index ----------------------
http GET /metrics
RUNS=$(sed -n 's/^veritrail_index_runs \([0-9]*\)$/\1/p' "$T/body")
check "the lookup index is in run files on disk (${RUNS:-none})" test "${RUNS:-0}" -gt 0
check "no part of the lookup index failing" grep -q '^veritrail_index_failing 0$' "$T/body"
"$T/flood" submit "$D/builder.key" "$SERVE_PORT" "$D/ci.token" "$COUNT" "$CONNS" - 60 "$$" \
	>"$T/again.out" 2>"$T/again.err"
echo "# again: $(cat "$T/again.out")"
check "all $COUNT submitted again: found, none new" grep -q "(201: 0, 200: $COUNT)" "$T/again.out"
http GET /checkpoint
check "the log did not grow" test "$(sed -n 2p "$T/body")" = "$COUNT"
serve_stop TERM
check "SIGTERM after the storm: exit 0" test "$SERVE_RC" = 0
expect_rc 0 "every acknowledged bundle verifies offline and its entry is in the log" \
	"$T/flood" check "$D/data" "$VKEY" "$T/acks"
sed 's/^/#   /' "$T/out"
n=0
for f in $(ls "$T/acks" | awk -v step=$((COUNT / 10)) 'NR % step == 1'); do
	"$VT" proof verify --bundle "$T/acks/$f" --log-key "$VKEY" --root "$D/root.json" >/dev/null ||
		break
	n=$((n + 1))
done
check "veritrail proof verify --root accepts a sample of 10 bundles ($n)" test "$n" = 10
expect_rc 0 "veritrail log audit passes" "$VT" log audit --dir "$D/data"
expect_rc 0 "log export" "$VT" log export --dir "$D/data" --to "$T/export"
check "served checkpoint = exported" cmp -s "$T/checkpoint.served" "$T/export/checkpoint"
check "served full tile 0/000 = exported" cmp -s "$T/tile.served" "$T/export/tile/0/000"
check "served entry bundle 001 = exported" cmp -s "$T/bundle1.served" "$T/export/tile/entries/001"
finish
