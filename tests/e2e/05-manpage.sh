#!/usr/bin/env bash
# 05-manpage.sh: docs/veritrail.1 renders without warnings and cannot fall
# behind the code. Checked against the binary and the sources:
#   - the page has every section man-pages expect of it;
#   - every verb of `veritrail help` has a subsection (.SS VERB) and a
#     SYNOPSIS line;
#   - every sub-verb in `veritrail VERB --help` appears as "VERB SUB" in
#     VERB's subsection;
#   - every long option src/cli/cmd_VERB.c parses (getopt_long tables,
#     {"name", offsetof(...)} tables, the option names hand-written parsers
#     compare) or `veritrail VERB --help` shows appears in VERB's subsection;
#   - every --option any string of src/cli mentions appears in the page, and
#     the page mentions no --option the code does not know (no stale ones);
#   - every variable src/ reads with getenv() is under ENVIRONMENT.
# A self-test runs the same checks on a damaged copy of the page and expects
# each to fail. Rendering needs groff (Debian: groff-base) or man (man-db),
# both in scripts/install-deps; without either that check is skipped, saying
# so.
. "$(dirname "$0")/lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
MAN=$TOP/docs/veritrail.1
CLI=$TOP/src/cli

if [ ! -f "$MAN" ]; then
	notok "docs/veritrail.1 exists"
	finish
	exit
fi
ok "docs/veritrail.1 exists"
if [ ! -x "$VT" ]; then
	notok "the binary $VT exists (build it first)"
	finish
	exit
fi

# opts_in: the --options of standard input (whole words), sorted, unique.
opts_in() {
	grep -oE -- '(^|[^A-Za-z0-9-])--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

# --- What the code has ----------------------------------------------------

# The verbs, as the binary lists them, and each verb's --help.
"$VT" help | awk '/^verbs:/ { f = 1; next } f && /^  [a-z]/ { print $1 } f && /^$/ { exit }' \
	>"$T/verbs"
if [ -s "$T/verbs" ]; then ok "veritrail help lists $(wc -l <"$T/verbs") verbs"; else
	notok "veritrail help lists the verbs"
fi
while read -r v; do
	"$VT" "$v" --help >"$T/help.$v" 2>&1
	# Sub-verbs: "veritrail VERB SUB" in a usage line, or, under
	# "usage: veritrail VERB <command>", a line "  SUB ...".
	awk -v v="$v" '
		NR == 1 && $0 ~ ("veritrail " v " <command>") { cmd = 1 }
		{ for (i = 1; i < NF - 1; i++)
			  if ($i == "veritrail" && $(i + 1) == v && $(i + 2) ~ /^[a-z][a-z-]*$/)
				  print $(i + 2) }
		cmd && /^  [a-z][a-z-]* / { print $1 }' "$T/help.$v" | sort -u >"$T/sub.$v"
done <"$T/verbs"

# scan FILE: "P --opt" for each option the code parses: getopt_long tables,
# {"name", offsetof(...)} tables, and string literals made only of option
# names (what hand-written parsers compare); "M --opt" for each --opt that
# any string literal mentions (usage, messages, hints about other verbs).
# String literals are told apart from comments and character literals.
scan() {
	perl -0777 -ne '
		while (/\{\s*"([a-z][a-z0-9-]*)"\s*,\s*(?:(?:no|required|optional)_argument|offsetof\s*\()/g) {
			print "P --$1\n";
		}
		while (/\G(?:("(?:[^"\\\n]|\\.)*")|(\x27(?:[^\x27\\\n]|\\.)*\x27)|(\/\*.*?\*\/)|(\/\/[^\n]*)|([^"\x27\/]+|\/))/gsc) {
			next unless defined $1;
			my $s = substr($1, 1, -1);
			if ($s =~ /^\s*(--[a-z][a-z0-9-]*(?:\s+--[a-z][a-z0-9-]*)*)\s*$/) {
				print "P $_\n" for split(/\s+/, $1);
			}
			print "M $_\n" for ($s =~ /(?<![A-Za-z0-9-])(--[a-z][a-z0-9-]*)/g);
		}' "$1" | grep -E '^[PM] --' | sort -u
}
: >"$T/mentioned"
for f in "$CLI"/cmd_*.c "$CLI"/main.c; do
	b=$(basename "$f" .c)
	scan "$f" >"$T/scan.$b"
	awk -v b="$b.c" '{ print $2, b }' "$T/scan.$b" >>"$T/mentioned"
done
awk '{ print $1 }' "$T/mentioned" | sort -u >"$T/known"
# want.VERB: the options VERB's subsection must name (--help is described
# once, under DESCRIPTION).
for f in "$CLI"/cmd_*.c; do
	v=$(basename "$f" .c)
	v=${v#cmd_}
	{
		awk '$1 == "P" { print $2 }' "$T/scan.cmd_$v"
		[ -f "$T/help.$v" ] && opts_in <"$T/help.$v"
	} | grep -vx -- --help | sort -u >"$T/want.$v"
done
grep -rhoE 'getenv\("[A-Za-z_][A-Za-z0-9_]*"\)' "$TOP/src" | sed 's/getenv("\(.*\)")/\1/' | sort -u \
	>"$T/env"

# --- What a page has --------------------------------------------------------

# prepare PAGE DIR: the page's source made searchable in DIR: norm (comments
# dropped, \- as -, font changes, \& and \c removed), sh.NAME for each .SH
# (spaces as _), ss.NAME for each .SS, opts (every --option in the page).
prepare() {
	mkdir -p "$2"
	sed -e '/^\.\\"/d' -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' -e 's/\\c$//' \
		-e 's/\\e/\\/g' "$1" >"$2/norm"
	awk -v d="$2" '
		/^\.S[HS]( |$)/ { s = $0; sub(/^\.S[HS] +/, "", s); gsub(/"/, "", s); gsub(/ /, "_", s)
				  if ($1 == ".SH") { sh = d "/sh." s; ss = "" } else ss = d "/ss." s
				  printf "" >(ss != "" ? ss : sh); next }
		sh != "" { print >>sh }
		ss != "" { print >>ss }' "$2/norm"
	opts_in <"$2/norm" >"$2/opts"
}

# The checks: each takes a prepared DIR and prints what is missing.
missing_sections() {
	local s
	for s in NAME SYNOPSIS DESCRIPTION COMMANDS ENVIRONMENT FILES EXIT_STATUS EXAMPLES STANDARDS \
		SEE_ALSO; do
		[ -s "$1/sh.$s" ] || echo "section ${s/_/ }"
	done
}

missing_verbs() {
	local v
	while read -r v; do
		[ -s "$1/ss.$v" ] || echo "$v (no .SS $v)"
		grep -Eqs "^\.B veritrail $v( |\$)" "$1/sh.SYNOPSIS" || echo "$v (not in SYNOPSIS)"
	done <"$T/verbs"
}

missing_subverbs() {
	local v s
	while read -r v; do
		while read -r s; do
			grep -Eqs "(^|[^a-z-])$v $s([^a-z-]|\$)" "$1/ss.$v" || echo "$v $s"
		done <"$T/sub.$v"
	done <"$T/verbs"
}

missing_options() {
	local f v
	for f in "$CLI"/cmd_*.c; do
		v=$(basename "$f" .c)
		v=${v#cmd_}
		if [ ! -s "$1/ss.$v" ]; then
			echo "$v (no .SS $v for $(basename "$f"))"
			continue
		fi
		opts_in <"$1/ss.$v" | comm -23 "$T/want.$v" - | sed "s/^/$v /"
	done
}

missing_mentions() {
	awk 'NR == FNR { have[$1] = 1; next } !($1 in have) { print $1 " (" $2 ")" }' "$1/opts" \
		"$T/mentioned" | sort -u
}

unknown_options() {
	comm -23 "$1/opts" "$T/known"
}

missing_env() {
	local e
	while read -r e; do
		grep -Eqs "(^|[^A-Za-z0-9_])$e([^A-Za-z0-9_]|\$)" "$1/sh.ENVIRONMENT" || echo "$e"
	done <"$T/env"
}

# --- The page ---------------------------------------------------------------

prepare "$MAN" "$T/page"

# run CHECK DESC: pass when CHECK finds nothing missing in the page.
run() {
	local out
	out=$("$1" "$T/page")
	if [ -z "$out" ]; then ok "$2"; else
		notok "$2; missing: $(echo "$out" | tr '\n' ',' | sed 's/,$//')"
	fi
}

run missing_sections "the page has every required section"
run missing_verbs "every verb of 'veritrail help' has a section and a SYNOPSIS line"
run missing_subverbs "every sub-verb of each verb's --help is in its verb's section"
run missing_options "every long option of src/cli/cmd_<verb>.c and of --help is in its verb's section"
run missing_mentions "every --option the sources mention is in the page"
run unknown_options "the page mentions no --option the code does not know"
run missing_env "every getenv() variable of src/ is under ENVIRONMENT"

# Self-test: a page that lost a section, a verb's subsection, a sub-verb, an
# option and an environment variable, and gained an option the code does not
# have, must fail each check.
sed -e 's/^\.SS token$/.SS tokens/' -e 's/log prove/log proof/g' -e 's/drain\\-timeout/drain/g' \
	-e 's/^\.B VT_FAULT_IO$/.B VT_FAULTS/' -e 's/^\.SH STANDARDS$/.SS STANDARDS/' "$MAN" \
	>"$T/damaged.1"
printf '.TP\n.B \\-\\-no\\-such\\-option\n' >>"$T/damaged.1"
prepare "$T/damaged.1" "$T/damaged"
for c in missing_sections missing_verbs missing_subverbs missing_options missing_mentions \
	unknown_options missing_env; do
	if [ -n "$("$c" "$T/damaged")" ]; then ok "self-test: $c catches a damaged page"; else
		notok "self-test: $c does not catch a damaged page"
	fi
done

# Rendering: no warnings from groff (every warning on) or man.
rendered=0
if command -v groff >/dev/null 2>&1; then
	rendered=1
	if groff -man -Tutf8 -ww -z "$MAN" 2>"$T/groff.err" && [ ! -s "$T/groff.err" ]; then
		ok "groff -man -Tutf8 -ww renders the page without warnings"
	else
		notok "groff -man -Tutf8 -ww renders the page without warnings: $(head -3 "$T/groff.err" | tr '\n' '|')"
	fi
fi
if command -v man >/dev/null 2>&1; then
	rendered=1
	if MANWIDTH=80 man --warnings -l "$MAN" >"$T/man.out" 2>"$T/man.err" && [ ! -s "$T/man.err" ] &&
		grep -q 'EXIT STATUS' "$T/man.out"; then
		ok "man -l renders the page without warnings"
	else
		notok "man -l renders the page without warnings: $(head -3 "$T/man.err" | tr '\n' '|')"
	fi
fi
if [ "$rendered" -eq 0 ]; then
	skip "neither groff nor man is installed (Debian: groff-base, man-db): the page was not rendered"
fi
finish
