#!/usr/bin/env bash
# 31-log-crash.sh: the log survives kill -9 and I/O errors.
#
# Rounds of `veritrail log append --lines` killed with SIGKILL at a random
# moment; then: every index the command printed (acknowledged: printed only
# after its batch committed) is in the log with the right bytes, the latest
# checkpoint covers them, and the log audits clean. Then the same with I/O
# errors injected at the k-th write or sync (VT_FAULT_IO=k), which must also
# end in one clear line on stderr. Finally every entry of the log is checked
# against the lines each round fed it, through an export read back by an
# independent reader (python3).
. "$(dirname "$0")/lib.sh"

ROUNDS=${VT_CRASH_ROUNDS:-24}
LINES=100000
D=$T/log
"$VT" log init --dir "$D" --origin example.com/crash >/dev/null || { notok "log init"; exit 1; }

# round_file R: the lines round R feeds (deterministic; line K is "round R line K ...").
round_file() {
	awk -v r="$1" -v n="$LINES" 'BEGIN { for (k = 1; k <= n; k++)
		printf "round %d line %d %s\n", r, k, substr("abcdefghijklmnopqrstuvwxyz0123456789", 1, (k * 7) % 37) }'
}
size_of() { "$VT" log checkpoint --dir "$D" | sed -n 2p; }

# check_round NAME BASE OUT R: the invariants after a round that started at size BASE.
check_round() {
	local name=$1 base=$2 out=$3 r=$4 size acked last i want got bad=0
	size=$(size_of)
	if [ -z "$size" ]; then
		notok "$name: the log does not open"
		return
	fi
	# Complete lines only (wc -l counts newlines): a kill can cut the last one.
	acked=$(wc -l <"$out")
	if [ "$acked" -gt 0 ]; then
		if [ "$(head -1 "$out")" != "$base" ] ||
			[ "$(sed -n "${acked}p" "$out")" != "$((base + acked - 1))" ]; then
			notok "$name: acknowledged indexes are not $base.. in order"
			return
		fi
		last=$((base + acked - 1))
		if [ "$size" -le "$last" ]; then
			notok "$name: checkpoint size $size does not cover acknowledged index $last"
			return
		fi
		# The first, the last and a few in between have the bytes of their lines.
		for i in "$base" "$last" $((base + acked / 3)) $((base + acked / 2)) $((base + RANDOM % acked)); do
			want="round $r line $((i - base + 1)) "
			got=$("$VT" log entry --dir "$D" --index "$i")
			case $got in "$want"*) ;; *) bad=1 ;; esac
		done
		if [ $bad -ne 0 ]; then
			notok "$name: an acknowledged entry has the wrong bytes"
			return
		fi
	fi
	ok "$name: $acked acknowledged, all present, size $size covers them"
}

audit() {
	if "$VT" log audit --dir "$D" >"$T/audit" 2>&1; then ok "$1: audit passes ($(cat "$T/audit"))"; else
		notok "$1: audit: $(cat "$T/audit")"
	fi
}

: >"$T/rounds" # "R BASE" per round, to rebuild the expected log at the end
start=$(date +%s)
for r in $(seq 1 "$ROUNDS"); do
	round_file "$r" >"$T/in"
	base=$(size_of)
	echo "$r $base" >>"$T/rounds"
	"$VT" log append --dir "$D" --lines "$T/in" >"$T/out" 2>"$T/err" &
	pid=$!
	# A random moment: 0 to 0.25 s after the start.
	sleep "0.$(printf '%03d' $((RANDOM % 250)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	check_round "kill -9 round $r" "$base" "$T/out" "$r"
	if [ $((r % 6)) -eq 0 ]; then audit "after round $r"; fi
	if [ $(($(date +%s) - start)) -gt 30 ]; then
		skip "kill -9: stopped after $r rounds (time budget)"
		break
	fi
done
audit "after the kill -9 rounds"

# I/O errors at the k-th write or sync: a clean failure in one line, nothing acknowledged lost.
LINES=10000
for k in 0 1 2 3 5 8 13 21 40 80 400; do
	r=$((r + 1))
	round_file "$r" >"$T/in"
	base=$(size_of)
	echo "$r $base" >>"$T/rounds"
	VT_FAULT_IO=$k "$VT" log append --dir "$D" --lines "$T/in" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 0 ]; then
		ok "VT_FAULT_IO=$k: append went through"
	elif [ $rc -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ]; then
		ok "VT_FAULT_IO=$k: append failed with one line: $(cat "$T/err")"
	else
		notok "VT_FAULT_IO=$k: exit $rc, stderr: $(head -3 "$T/err" | tr '\n' '|')"
	fi
	check_round "VT_FAULT_IO=$k" "$base" "$T/out" "$r"
done
audit "after the I/O errors"

# Every entry of the log is the line its round fed it (export, read back in python).
size=$(size_of)
if command -v python3 >/dev/null 2>&1 && "$VT" log export --dir "$D" --to "$T/site" >/dev/null; then
	if python3 - "$T/site" "$T/rounds" "$size" <<'EOF'; then
import sys
site, rounds, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
spans = [tuple(map(int, l.split())) for l in open(rounds)]
def expect(i):
    r, base = [s for s in spans if s[1] <= i][-1]
    k = i - base + 1
    return ("round %d line %d %s" % (r, k, "abcdefghijklmnopqrstuvwxyz0123456789"[:(k * 7) % 37])).encode()
def path(n, w):
    s = "%03d" % (n % 1000); n //= 1000
    while n: s = "x%03d/" % (n % 1000) + s; n //= 1000
    return "%s/tile/entries/%s%s" % (site, s, "" if w == 256 else ".p/%d" % w)
i = 0
for b in range((size + 255) // 256):
    data = open(path(b, min(256, size - 256 * b)), "rb").read()
    off = 0
    while off < len(data):
        n = data[off] * 256 + data[off + 1]
        if data[off + 2: off + 2 + n] != expect(i):
            sys.exit("entry %d is %r, want %r" % (i, data[off + 2: off + 2 + n], expect(i)))
        off += 2 + n; i += 1
if i != size:
    sys.exit("%d entries for size %d" % (i, size))
print("all %d entries match" % size)
EOF
		ok "every entry of the log is the line its round appended"
	else
		notok "every entry of the log is the line its round appended"
	fi
else
	skip "full content check: python3 or export unavailable"
fi
finish
