#!/bin/bash
# t_owlstore.sh — the owl-store tool over a data directory: import of raw lines (with their
# own timestamps), scans (token and substring, counts), stats, verify (ok, then exit 1 naming
# a part with a flipped byte) and the usage errors (exit 2). The lines are years old, so the
# import ends by merging their three sparse days into one span part (--no-compact: not).
. "$(dirname "$0")/lib.sh"

STORE_TOOL="$OWL_BUILDDIR/index/owl-store"
[ -x "$STORE_TOOL" ] || bail "no owl-store at $STORE_TOOL"
D="$T/data"
IN="$T/in.log"
for i in $(seq 1 3000); do
    printf '2025-03-%02d 10:00:%02d,123 INFO worker-%d handled request id=req%05d in %dms\n' \
        $((i % 3 + 1)) $((i % 60)) $((i % 7)) "$i" $((i % 500))
done >"$IN"
echo "2025-03-02 11:00:00,000 ERROR worker-1 owlneedle42 exploded" >>"$IN"

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
    "$("$STORE_TOOL" scan "$D" --table logs --partition app --start 2025-03-02T00:00:00Z \
        --end 2025-03-03T00:00:00Z --substr INFO --count 2>/dev/null)"

stats=$("$STORE_TOOL" stats "$D")
check_contains "stats lists the partition with its rows" "$stats" "app"
check_contains "stats counts 3001 rows" "$stats" "rows 3001"

out=$("$STORE_TOOL" verify "$D")
check_eq "verify exits 0 on a healthy store" 0 $?
check_contains "verify says what it checked" "$out" "ok: 1 part(s)"
check_eq "the three days are one span" 1 "$(find "$D/store/logs" -name 's-*.owp' | wc -l)"

D2="$T/data2"
"$STORE_TOOL" import "$D2" --table logs --partition app --no-compact "$IN" >/dev/null 2>&1
check_eq "--no-compact keeps a part per day" 3 "$(find "$D2/store/logs" -name 'p-*.owp' | wc -l)"
check_eq "and scans the same rows" 3001 \
    "$("$STORE_TOOL" scan "$D2" --table logs --partition app --count 2>/dev/null)"

part=$(find "$D/store/logs" -name '*.owp' | sort | head -1)
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
