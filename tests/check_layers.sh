#!/usr/bin/env bash
# check_layers.sh — the layering rule of docs/architecture.md, checked on every
# `#include "folder/x.h"` of the source folders (run by `make check` and .ci/run):
#   common <- index <- {tracer, analytics} <- ingest <- server
# (a) an include may point down this order or stay in its folder, never up; tracer and
#     analytics do not include each other; client/ includes nothing of the other folders,
#     cli/ only common/ and client/'s public header; no layer folder includes client/ or cli/;
# (b) into another folder only its public header, named after the folder (index/index.h);
#     every header of common/ is public (common has no private headers).
# tests/ and bench/ may include anything and are not scanned. Prints file:line of each
# violation and exits 1; exits 0 when there is none.
#   usage: tests/check_layers.sh [SRCDIR]   (default $OWL_SRCDIR, else this script's ..)
set -euo pipefail
top=${1:-${OWL_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}}
cd "$top"

# Known violations, each with the change that removes it: "file include-target". A listed
# pair that no longer occurs fails the check too, so the list cannot outlive its reason.
exceptions=(
)

folders=(common index tracer analytics ingest server client cli)
files=()
for d in "${folders[@]}"; do
    [ -d "$d" ] && while IFS= read -r f; do files+=("$f"); done < <(find "$d" -name '*.[ch]' | sort)
done
[ ${#files[@]} -gt 0 ] || { echo "check_layers: no sources under $top" >&2; exit 1; }

awk -v exc="$(printf '%s\n' "${exceptions[@]}")" '
BEGIN {
    # rank in the layer order; equal ranks (tracer, analytics) may not include each other
    rank["common"] = 0; rank["index"] = 1; rank["tracer"] = 2; rank["analytics"] = 2
    rank["ingest"] = 3; rank["server"] = 4
    n = split(exc, lines, "\n")
    for (i = 1; i <= n; i++) if (lines[i] != "") allowed[lines[i]] = 0
    bad = 0
}
function fail(msg) { printf "%s:%d: %s\n", FILENAME, FNR, msg; bad++ }
match($0, /^[ \t]*#[ \t]*include[ \t]*"[^"]*"/) {
    inc = $0
    sub(/^[^"]*"/, "", inc); sub(/".*$/, "", inc)
    split(FILENAME, fp, "/"); from = fp[1]
    if (inc ~ /(^|\/)\.\.(\/|$)/) { fail("include \"" inc "\" climbs out with ..; name it from the top: \"folder/x.h\""); next }
    if (inc !~ /\//) next                       # "x.h": a header of the same folder
    to = inc; sub(/\/.*/, "", to)
    if (!(to in rank) && to != "client" && to != "cli") next   # not one of our folders
    if (to == from) next
    if ((FILENAME " " inc) in allowed) { allowed[FILENAME " " inc]++; next }
    if (from == "client") {
        fail("client/ includes " inc ": libowl includes nothing of the server folders")
    } else if (from == "cli") {
        if (to != "common" && to != "client")
            fail("cli/ includes " inc ": cli/ includes only common/ and the client header")
    } else if (to == "client" || to == "cli") {
        fail(from "/ includes " inc ": the server layers do not include client/ or cli/")
    } else if (rank[to] > rank[from]) {
        fail("upward include of " inc ": " from "/ is below " to "/ in common <- index <- {tracer, analytics} <- ingest <- server")
    } else if (rank[to] == rank[from]) {
        fail(from "/ includes " inc ": tracer/ and analytics/ may not include each other")
    }
    if (to != "common" && inc != to "/" to ".h" && !((FILENAME " " inc) in allowed))
        fail("include of " inc ", private to " to "/; use its public header " to "/" to ".h")
}
END {
    for (k in allowed) if (allowed[k] == 0) {
        printf "check_layers: exception \"%s\" no longer occurs: remove it from tests/check_layers.sh\n", k
        bad++
    }
    if (bad) { printf "check_layers: %d violation(s)\n", bad; exit 1 }
}' "${files[@]}"
present=(); for d in "${folders[@]}"; do [ -d "$d" ] && present+=("$d"); done
echo "check_layers: ${#files[@]} files in ${present[*]}: no upward or private include"
