# lib.sh: sourced by the end-to-end scripts. Each check prints "ok - ...",
# "not ok - ..." or "skip - ..." (counted by scripts/run-tests).
# $VT is the veritrail binary, $VT_SHARED the shared vectors (may be absent).
set -u
VT=${VT:-$(cd "$(dirname "$0")/../.." && pwd)/build/veritrail}
T=$(mktemp -d "${TMPDIR:-/tmp}/vt-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
FAILS=0

ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; FAILS=$((FAILS + 1)); }
skip() { echo "skip - $*"; }

# expect_rc RC DESC CMD...: run CMD, pass if it exits RC; its output is kept in $T/out, $T/err.
expect_rc() {
	local want=$1 desc=$2 rc
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$desc"; else
		notok "$desc (exit $rc, wanted $want)"
		sed 's/^/#   /' "$T/err" | head -5
	fi
}

# expect_err PATTERN DESC: the last command's stderr is one line matching PATTERN.
expect_err() {
	local pat=$1 desc=$2
	if [ "$(wc -l <"$T/err")" -eq 1 ] && grep -Eq -- "$pat" "$T/err"; then ok "$desc"; else
		notok "$desc (stderr: $(head -3 "$T/err" | tr '\n' '|'))"
	fi
}

# check DESC CMD...: pass if CMD succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else notok "$desc"; fi
}

shared_dir() {
	if [ -n "${VT_SHARED:-}" ] && [ -f "$VT_SHARED/vectors/README.md" ]; then
		echo "$VT_SHARED"
	fi
}

finish() { [ "$FAILS" -eq 0 ]; }
