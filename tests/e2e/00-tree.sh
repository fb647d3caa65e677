#!/usr/bin/env bash
# The tree's own rules: module layering, formatting, no machine paths.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."

if out=$(scripts/check-deps 2>&1); then ok "modules include only modules below them"; else
	notok "module layering: $out"
fi
if command -v clang-format >/dev/null; then
	if make -s check-format >"$T/fmt" 2>&1; then ok "sources match .clang-format"; else
		notok "sources differ from .clang-format: $(grep -cE "(warning|error):" "$T/fmt") places"
		head -5 "$T/fmt"
	fi
else
	skip "clang-format is not installed"
fi
if git rev-parse --git-dir >/dev/null 2>&1; then
	if git grep -nE '/(work|root|home)/[A-Za-z]' -- ':!tests/e2e/00-tree.sh' >"$T/paths"; then
		notok "committed files name machine paths: $(head -3 "$T/paths" | tr '\n' ' ')"
	else
		ok "no machine paths in committed files"
	fi
fi
finish
