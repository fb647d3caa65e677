#!/usr/bin/env bash
# 30-log.sh: `veritrail log` end to end: init, key, append (files and
# --lines), checkpoint, entry, prove, export, audit, and their one-line
# errors. Everything the command prints is checked by an independent reader
# written here in python3 (hashlib, base64) straight from RFC 9162 and the
# C2SP specs: roots, inclusion and consistency proofs, the exported tiles and
# bundles, and the checkpoint signature (Ed25519 via `openssl pkeyutl`).
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
	skip "python3 is not installed: no independent reader"
	exit 0
fi
have_openssl=0
command -v openssl >/dev/null 2>&1 && have_openssl=1

cat >"$T/tlog.py" <<'EOF'
# An independent reader of a veritrail log: RFC 9162 section 2.1 and C2SP
# tlog-tiles, tlog-checkpoint, signed-note. Usage:
#   tlog.py ENTRIES root N
#   tlog.py ENTRIES inclusion I N PROOF_FILE
#   tlog.py ENTRIES consistency M N PROOF_FILE
#   tlog.py ENTRIES export DIR VKEY
#   tlog.py - note FILE VKEY
# ENTRIES: a file listing the log's entries in order, one per line as
# "file:PATH" (the file's bytes) or "lines:PATH" (each line of PATH).
import base64, hashlib, os, subprocess, sys, tempfile

def H(b): return hashlib.sha256(b).digest()
def leaf(d): return H(b"\x00" + d)
def node(l, r): return H(b"\x01" + l + r)

def mth(ls):
    if not ls: return H(b"")
    if len(ls) == 1: return ls[0]
    k = 1
    while k * 2 < len(ls): k *= 2
    return node(mth(ls[:k]), mth(ls[k:]))

def entries(path):
    out = []
    for spec in open(path).read().split("\n"):
        if not spec: continue
        kind, p = spec.split(":", 1)
        data = open(p, "rb").read()
        if kind == "file": out.append(data)
        else: out.extend(data.split(b"\n")[:-1])
    return out

def proof(path):
    return [base64.b64decode(l, validate=True) for l in open(path).read().split("\n") if l]

def inclusion_ok(idx, size, lf, pr, root):
    if idx >= size: return False
    fn, sn, r = idx, size - 1, lf
    for p in pr:
        if sn == 0: return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1; sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1; sn >>= 1
    return sn == 0 and r == root

def consistency_ok(m, n, pr, r1, r2):
    if m == n: return not pr and r1 == r2
    if m == 0: return not pr
    if m & (m - 1) == 0: pr = [r1] + pr
    if not pr: return False
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1; sn >>= 1
    fr = sr = pr[0]
    for c in pr[1:]:
        if sn == 0: return False
        if fn & 1 or fn == sn:
            fr = node(c, fr); sr = node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1; sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1; sn >>= 1
    return fr == r1 and sr == r2 and sn == 0

def verify_note(note, vkey):
    """C2SP signed-note: the log's Ed25519 line must verify; returns the text."""
    text, sep, sigs = note.partition(b"\n\n")
    assert sep, "no blank line"
    text += b"\n"
    name, kh, kb = vkey.split("+", 2)
    key = base64.b64decode(kb)
    assert key[0] == 1 and len(key) == 33, "not an Ed25519 vkey"
    assert H(name.encode() + b"\n" + key)[:4].hex() == kh, "vkey hash"
    for line in sigs.decode().split("\n"):
        if not line.startswith("\u2014 " + name + " "): continue
        sig = base64.b64decode(line.split(" ")[2])
        if sig[:4].hex() != kh: continue
        if os.environ.get("HAVE_OPENSSL") == "1":
            with tempfile.TemporaryDirectory() as t:
                der = bytes.fromhex("302a300506032b6570032100") + key[1:]
                pem = "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der).decode() + \
                      "\n-----END PUBLIC KEY-----\n"
                open(t + "/pub.pem", "w").write(pem)
                open(t + "/msg", "wb").write(text)
                open(t + "/sig", "wb").write(sig[4:])
                r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                                    t + "/pub.pem", "-rawin", "-in", t + "/msg", "-sigfile",
                                    t + "/sig"], capture_output=True)
                assert r.returncode == 0, "signature does not verify"
        return text
    raise AssertionError("no signature by the log key")

def tile_path(level, n, w):
    s = "%03d" % (n % 1000)
    n //= 1000
    while n > 0:
        s = "x%03d/" % (n % 1000) + s
        n //= 1000
    return "tile/%s/%s%s" % (level, s, "" if w == 256 else ".p/%d" % w)

def check_export(d, es, vkey):
    text = verify_note(open(d + "/checkpoint", "rb").read(), vkey).decode()
    origin, size, root = text.split("\n")[:3]
    size = int(size)
    assert origin == vkey.split("+", 2)[0], "origin"
    assert size == len(es), "size %d, %d entries" % (size, len(es))
    # Entry bundles -> leaf hashes -> level-0 tiles; each level from the one below.
    level_hashes = []
    for b in range((size + 255) // 256):
        w = min(256, size - 256 * b)
        data = open(d + "/" + tile_path("entries", b, w), "rb").read()
        off, got = 0, []
        while off < len(data):
            n = data[off] * 256 + data[off + 1]
            got.append(data[off + 2: off + 2 + n]); off += 2 + n
        assert off == len(data) and got == es[256 * b: 256 * b + w], "bundle %d" % b
        level_hashes += [leaf(e) for e in got]
    level, hs = 0, level_hashes
    while hs and (level == 0 or size >= 256 ** level):
        for t in range((len(hs) + 255) // 256):
            w = min(256, len(hs) - 256 * t)
            tile = open(d + "/" + tile_path(level, t, w), "rb").read()
            assert tile == b"".join(hs[256 * t: 256 * t + w]), "tile %d/%d" % (level, t)
        hs = [mth(hs[256 * t: 256 * t + 256]) for t in range(len(hs) // 256)]
        level += 1
    assert base64.b64decode(root) == mth(level_hashes), "root"
    print("export ok: %d entries, %d levels" % (size, level))

es = entries(sys.argv[1]) if sys.argv[1] != "-" else []
cmd = sys.argv[2]
if cmd == "note":
    verify_note(open(sys.argv[3], "rb").read(), sys.argv[4])
elif cmd == "root":
    print(base64.b64encode(mth([leaf(e) for e in es[:int(sys.argv[3])]])).decode())
elif cmd == "inclusion":
    i, n = int(sys.argv[3]), int(sys.argv[4])
    ls = [leaf(e) for e in es[:n]]
    sys.exit(0 if inclusion_ok(i, n, ls[i], proof(sys.argv[5]), mth(ls)) else 1)
elif cmd == "consistency":
    m, n = int(sys.argv[3]), int(sys.argv[4])
    ls = [leaf(e) for e in es[:n]]
    sys.exit(0 if consistency_ok(m, n, proof(sys.argv[5]), mth(ls[:m]), mth(ls)) else 1)
elif cmd == "export":
    check_export(sys.argv[3], es, sys.argv[4])
EOF
export HAVE_OPENSSL=$have_openssl
tl() { python3 "$T/tlog.py" "$T/entries" "$@"; }
D=$T/log

# ---- init and key ------------------------------------------------------------
for sub in init append prove audit; do
	expect_rc 0 "log $sub --help" "$VT" log $sub --dir "$D" --help
	check "log $sub --help: the usage, on standard output" grep -q "^usage: veritrail log" "$T/out"
done
expect_rc 2 "init without --origin" "$VT" log init --dir "$D"
expect_err "origin NAME is required" "init without --origin: one line"
expect_rc 2 "init with a bad origin" "$VT" log init --dir "$D" --origin "has space"
expect_err "origin 'has space' is not a valid log name" "bad origin: one line"
expect_rc 0 "log init" "$VT" log init --dir "$D" --origin example.com/e2e
vkey=$(tail -1 "$T/out")
if [[ $vkey =~ ^example\.com/e2e\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$ ]]; then
	ok "init prints the verifier key last"
else
	notok "init prints the verifier key last (got '$vkey')"
fi
check "log.key is mode 0600" test "$(stat -c %a "$D/log.key")" = 600
expect_rc 2 "a second init is refused" "$VT" log init --dir "$D" --origin example.com/other
expect_err "already holds a log" "second init: one line"
expect_rc 0 "log key" "$VT" log key --dir "$D"
check "log key prints the same verifier key" test "$(cat "$T/out")" = "$vkey"
expect_rc 2 "log key of a directory without a log" "$VT" log key --dir "$T/nothing"
expect_err "nothing" "missing log: one line naming it"

# ---- checkpoint of the empty log ---------------------------------------------
: >"$T/entries"
expect_rc 0 "checkpoint of the empty log" "$VT" log checkpoint --dir "$D"
check "empty checkpoint: size 0, root SHA-256(\"\")" \
	test "$(sed -n 2,3p "$T/out" | tr '\n' ' ')" = "0 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= "

# ---- append ----------------------------------------------------------------------
printf 'first entry' >"$T/f1"
head -c 3000 /dev/urandom >"$T/f2"
printf 'x' >"$T/f3"
expect_rc 0 "append three files" "$VT" log append --dir "$D" "$T/f1" "$T/f2" "$T/f3"
check "append prints indexes 0..2" test "$(tr '\n' ' ' <"$T/out")" = "0 1 2 "
printf 'file:%s\nfile:%s\nfile:%s\n' "$T/f1" "$T/f2" "$T/f3" >>"$T/entries"
for i in $(seq 1 1000); do echo "line $i $((i * i))"; done >"$T/lines"
expect_rc 0 "append --lines (1000 lines)" "$VT" log append --dir "$D" --lines "$T/lines"
check "append --lines prints 3..1002" test "$(head -1 "$T/out")-$(tail -1 "$T/out")-$(wc -l <"$T/out")" = "3-1002-1000"
echo "lines:$T/lines" >>"$T/entries"
printf 'a\nb\n' | "$VT" log append --dir "$D" --lines - >"$T/out" 2>"$T/err"
check "append --lines - (standard input)" test "$(tr '\n' ' ' <"$T/out")" = "1003 1004 "
printf 'a\nb\n' >"$T/ab"
echo "lines:$T/ab" >>"$T/entries"

# Bad input appends nothing and says what is wrong in one line.
head -c 65536 /dev/zero >"$T/big"
expect_rc 2 "a 65536-byte file is refused" "$VT" log append --dir "$D" "$T/f1" "$T/big"
expect_err "big' has 65536 bytes; a log entry has 1..65535" "too big: one line naming the file"
: >"$T/empty"
expect_rc 2 "an empty file is refused" "$VT" log append --dir "$D" "$T/empty"
expect_err "empty' has 0 bytes" "empty file: one line naming it"
printf 'ok\n\nafter\n' >"$T/gap"
expect_rc 2 "an empty line is refused" "$VT" log append --dir "$D" --lines "$T/gap"
expect_err "gap' line 2: 0 bytes; a log entry has 1..65535" "empty line: one line naming file and line"
expect_rc 2 "a missing file is refused" "$VT" log append --dir "$D" "$T/missing"
expect_err "cannot open '.*missing'" "missing file: one line naming it"
expect_rc 2 "append with no entries" "$VT" log append --dir "$D"
expect_rc 2 "unknown option" "$VT" log append --dir "$D" --bogus x
expect_err "unknown option '--bogus'" "unknown option: one line"
expect_rc 0 "checkpoint" "$VT" log checkpoint --dir "$D"
check "refused appends left the size at 1005" test "$(sed -n 2p "$T/out")" = 1005
N=1005

# ---- checkpoint, root, entries ------------------------------------------------
check "checkpoint origin line" test "$(sed -n 1p "$T/out")" = example.com/e2e
check "checkpoint root = root recomputed from the entries" \
	test "$(sed -n 3p "$T/out")" = "$(tl root $N)"
if [ $have_openssl -eq 1 ]; then
	cp "$T/out" "$T/note"
	check "checkpoint signature verifies (openssl Ed25519)" python3 "$T/tlog.py" - note "$T/note" "$vkey"
	sed '2s/.*/1006/' "$T/note" >"$T/note2"
	if python3 "$T/tlog.py" - note "$T/note2" "$vkey" 2>/dev/null; then
		notok "a changed checkpoint fails the signature check"
	else
		ok "a changed checkpoint fails the signature check"
	fi
else
	skip "checkpoint signature: no openssl command"
fi
expect_rc 0 "entry 1 (a file)" "$VT" log entry --dir "$D" --index 1
check "entry 1 has the file's bytes" cmp -s "$T/out" "$T/f2"
expect_rc 0 "entry 500 (a line)" "$VT" log entry --dir "$D" --index 500
check "entry 500 is line 498" test "$(cat "$T/out")" = "line 498 248004"
expect_rc 2 "entry beyond the log" "$VT" log entry --dir "$D" --index $N
expect_err "entry 1005 is beyond the log's size 1005" "entry beyond: one line"

# ---- proofs, checked independently ---------------------------------------------
for spec in "0 1" "0 $N" "2 3" "255 256" "256 257" "511 $N" "1004 $N" "700 800" "3 1000"; do
	set -- $spec
	if "$VT" log prove --dir "$D" --index "$1" --size "$2" >"$T/proof" 2>"$T/err" &&
		tl inclusion "$1" "$2" "$T/proof"; then
		ok "inclusion proof of $1 in $2 verifies"
	else
		notok "inclusion proof of $1 in $2 verifies ($(cat "$T/err"))"
	fi
done
"$VT" log prove --dir "$D" --index 7 >"$T/proof" 2>/dev/null
check "inclusion proof without --size is for the current size" tl inclusion 7 $N "$T/proof"
awk 'NR == 1 { first = $0; next } NR == 2 { print; print first; next } { print }' "$T/proof" >"$T/bad"
if tl inclusion 7 $N "$T/bad"; then notok "a proof with two hashes swapped fails the reader"; else
	ok "a proof with two hashes swapped fails the reader"
fi
for spec in "1 2" "1 $N" "3 $N" "256 512" "255 $N" "1000 1003" "$N $N" "0 $N"; do
	set -- $spec
	if "$VT" log prove --dir "$D" --from "$1" --to "$2" >"$T/proof" 2>"$T/err" &&
		tl consistency "$1" "$2" "$T/proof"; then
		ok "consistency proof $1 -> $2 verifies"
	else
		notok "consistency proof $1 -> $2 verifies ($(cat "$T/err"))"
	fi
done
expect_rc 0 "prove --tlog-proof" "$VT" log prove --dir "$D" --index 5 --tlog-proof
check "tlog-proof: header, index, proof, blank, checkpoint" \
	test "$(sed -n 1,2p "$T/out" | tr '\n' ' ')" = "c2sp.org/tlog-proof@v1 index 5 "
check "tlog-proof ends with the checkpoint" test "$(tail -n +2 "$T/out" | grep -c "^example.com/e2e$")" = 1
expect_rc 2 "inclusion of an index beyond the size" "$VT" log prove --dir "$D" --index 10 --size 10
expect_err "index 10 is not in a tree of size 10" "index beyond: one line"
expect_rc 2 "consistency from a larger size" "$VT" log prove --dir "$D" --from 9 --to 8
expect_err "size 9 is larger than size 8" "from > to: one line"
expect_rc 2 "size beyond the log" "$VT" log prove --dir "$D" --index 1 --size 5000
expect_err "tree size 5000 is beyond the log's size 1005" "size beyond: one line"
expect_rc 2 "a non-number index" "$VT" log prove --dir "$D" --index 01
expect_err "index '01' is not a decimal number" "non-canonical number: one line"
expect_rc 2 "both --index and --from" "$VT" log prove --dir "$D" --index 1 --from 1

# ---- export, read back independently -------------------------------------------
expect_rc 0 "export" "$VT" log export --dir "$D" --to "$T/site"
check "export printed one summary line" test "$(wc -l <"$T/out")" = 1
if tl export "$T/site" "$vkey" >"$T/py" 2>&1; then ok "exported tree verifies ($(cat "$T/py"))"; else
	notok "exported tree verifies: $(tail -1 "$T/py")"
fi
check "export has full tile 0/000 and partial 0/003.p/237" \
	test -f "$T/site/tile/0/000" -a -f "$T/site/tile/0/003.p/237" -a -f "$T/site/tile/1/000.p/3"
expect_rc 0 "export again (incremental)" "$VT" log export --dir "$D" --to "$T/site"
if tl export "$T/site" "$vkey" >"$T/py" 2>&1; then ok "re-exported tree verifies"; else
	notok "re-exported tree verifies: $(tail -1 "$T/py")"
fi
expect_rc 2 "export without --to" "$VT" log export --dir "$D"

# ---- audit -----------------------------------------------------------------------
expect_rc 0 "audit" "$VT" log audit --dir "$D"
check "audit prints one summary line with the size" grep -q "1005 entries" "$T/out"
expect_rc 0 "audit --key with the log's key" "$VT" log audit --dir "$D" --key "$vkey"
expect_rc 1 "audit --key with another key" "$VT" log audit --dir "$D" --key "example.com/e2e+00000000+AAAA"
expect_err "not by the given key" "wrong key: one line"
# Tamper with an entry behind veritrail's back: its bytes live in the segment
# file at the offset the database records for its bundle (docs/FORMATS.md).
cp -r "$D" "$T/tampered"
if python3 - "$T/tampered" <<'EOF'
import sqlite3, sys
d = sys.argv[1]
db = sqlite3.connect(d + "/veritrail.db")
(off,) = db.execute("SELECT off FROM bundles WHERE n = 1").fetchone()
with open(d + "/entries.seg", "r+b") as f:
    f.seek(off + 10)
    b = f.read(1)
    f.seek(off + 10)
    f.write(bytes([b[0] ^ 1]))
EOF
then
	expect_rc 1 "audit of a log with a changed entry fails" "$VT" log audit --dir "$T/tampered"
	expect_err "^veritrail: tile 0/001: hash [0-9]+ differs$" "audit names the tile and hash"
else
	notok "tampering with the segment file (python3 and its sqlite3 module are needed)"
fi

# ---- many batches streamed from a pipe, a bad line in the third ---------------------
# 10000 good lines span batches of 4096; line 10001 is empty. The lines before it are
# appended, in order, and printed; the error names the line; nothing after it is appended.
"$VT" log init --dir "$T/pipe" --origin example.com/pipe >/dev/null
{ seq 1 10000 | sed 's/^/piped /'; echo; echo "never"; } |
	"$VT" log append --dir "$T/pipe" --lines - >"$T/out" 2>"$T/err"
check "a bad line from a pipe exits 2" test $? -eq 2
expect_err "standard input' line 10001: 0 bytes" "bad piped line: one line naming it"
check "the 10000 lines before it are printed in order" test "$(seq 0 9999 | cmp - "$T/out" && echo same)" = same
check "and appended: size 10000" test "$("$VT" log checkpoint --dir "$T/pipe" | sed -n 2p)" = 10000
check "entry 4096 (the second batch's first) is line 4097" \
	test "$("$VT" log entry --dir "$T/pipe" --index 4096)" = "piped 4097"
check "entry 9999 is line 10000" test "$("$VT" log entry --dir "$T/pipe" --index 9999)" = "piped 10000"
expect_rc 0 "the piped log audits clean" "$VT" log audit --dir "$T/pipe"

# ---- the tessera example log's shape ----------------------------------------------
S=$(shared_dir)
if [ -n "$S" ] && [ -d "$S/vectors/tessera-log/tile" ]; then
	"$VT" log init --dir "$T/t15" --origin example.com/t15 >/dev/null
	for i in $(seq 1 15); do printf 'entry %d\n' "$i" | "$VT" log append --dir "$T/t15" --lines - >/dev/null; done
	"$VT" log export --dir "$T/t15" --to "$T/t15-site" >/dev/null
	(cd "$S/vectors/tessera-log" && find tile -type f | sort) >"$T/want"
	(cd "$T/t15-site" && find tile -type f | sort) >"$T/got"
	if cmp -s "$T/want" "$T/got"; then
		ok "a 15-entry export has the tessera example log's tile names"
	else
		notok "a 15-entry export has the tessera example log's tile names: $(diff "$T/want" "$T/got" | head -3 | tr '\n' ' ')"
	fi
else
	skip "tessera example log: ../shared is absent (set VT_SHARED)"
fi
finish
