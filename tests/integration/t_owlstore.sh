#!/bin/bash
# t_owlstore.sh — the owl-store tool over a data directory: import of raw lines (with their
# own timestamps), scans (token and substring, counts), stats, verify (ok, then exit 1 naming
# a part with a flipped byte) and the usage errors (exit 2).
. "$(dirname "$0")/lib.sh"

STORE_TOOL="$OWL_BUILDDIR/index/owl-store"
[ -x "$STORE_TOOL" ] || bail "no owl-store at $STORE_TOOL"
D="$T/data"
IN="$T/in.log"
for i in $(seq 1 3000); do
    printf '2026-11-%02d 10:00:%02d,123 INFO worker-%d handled request id=req%05d in %dms\n' \
        $((i % 3 + 1)) $((i % 60)) $((i % 7)) "$i" $((i % 500))
done >"$IN"
echo "2026-11-02 11:00:00,000 ERROR worker-1 owlneedle42 exploded" >>"$IN"

out=$("$STORE_TOOL" import "$D" --table logs --partition app --level 9 "$IN" 2>&1)
check_eq "import exits 0" 0 $?
check_contains "import reports every row" "$out" "imported 3001 rows (3001 with their own timestamp)"

check_eq "scan --contains counts the one needle" 1 \
    "$("$STORE_TOOL" scan "$D" --table logs --partition app --contains owlneedle42 --count 2>/dev/null)"
check_eq "scan --contains INFO counts whole tokens" 3000 \
    "$("$STORE_TOOL" scan "$D" --table logs --partition app --contains INFO --count 2>/dev/null)"
check_eq "scan --substr finds parts of tokens" 3000 \
    "$("$STORE_TOOL" scan "$D" --table logs --partition app --substr req0 --count 2>/dev/null)"
check_eq "scan prints the message as imported" "$(grep owlneedle42 "$IN")" \
    "$("$STORE_TOOL" scan "$D" --table logs --partition app --contains owlneedle42 2>/dev/null)"
check_eq "a time range limits the scan" 1000 \
    "$("$STORE_TOOL" scan "$D" --table logs --partition app --start 2026-11-02T00:00:00Z \
        --end 2026-11-03T00:00:00Z --substr INFO --count 2>/dev/null)"

stats=$("$STORE_TOOL" stats "$D")
check_contains "stats lists the partition with its rows" "$stats" "app"
check_contains "stats counts 3001 rows" "$stats" "rows 3001"

out=$("$STORE_TOOL" verify "$D")
check_eq "verify exits 0 on a healthy store" 0 $?
check_contains "verify says what it checked" "$out" "ok: 3 part(s)"

part=$(find "$D/store/logs" -name 'p-*.owp' | sort | head -1)
printf '\x5a' | dd of="$part" bs=1 seek=40 conv=notrunc status=none
out=$("$STORE_TOOL" verify "$D")
check_eq "verify exits 1 on a flipped byte" 1 $?
check_contains "verify names the corrupt part" "$out" "CORRUPT part $part"

"$STORE_TOOL" import "$D" --table logs --partition app --level 0 "$IN" >/dev/null 2>&1
check_eq "--level 0 is a usage error (exit 2)" 2 $?
"$STORE_TOOL" scan "$D" --table logs --partition app --contains a --substr b >/dev/null 2>&1
check_eq "--contains with --substr is a usage error" 2 $?
"$STORE_TOOL" frobnicate "$D" >/dev/null 2>&1
check_eq "an unknown command is a usage error" 2 $?
"$STORE_TOOL" scan "$D" --table logs --partition app --start yesterday >/dev/null 2>&1
check_eq "a bad time is a usage error" 2 $?

finish
