#!/bin/bash
# t_init.sh — first start is explicit (issue 9, item 2): the first start writes owl.instance,
# admin.key and aws-credentials; a restart leaves them byte-identical; a deleted journal (and
# snapshot), a deleted master.key or a corrupt marker make owld refuse to start without
# touching the credentials; a directory of the release before the marker is adopted; an empty
# existing directory is a first start.
. "$(dirname "$0")/lib.sh"

AWS=/usr/bin/aws

# refused WHAT PATTERN — owld must exit non-zero (not keep running) with PATTERN in stderr,
# and leave admin.key / aws-credentials as they were.
refused() {
    local before after
    before=$(cat "$DATA/admin.key" "$DATA/aws-credentials" | sha256sum)
    timeout 20 "$OWLD" --listen 127.0.0.1:0 --data-dir "$DATA" 2>"$T/refuse.log"
    local rc=$?
    check "$1: owld exits non-zero (rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
    check "$1: the message names it" grep -q -- "$2" "$T/refuse.log"
    check "$1: the message says nothing was changed" grep -q "nothing was changed" "$T/refuse.log"
    after=$(cat "$DATA/admin.key" "$DATA/aws-credentials" | sha256sum)
    check_eq "$1: credentials untouched" "$before" "$after"
}

works() {
    start_owld || bail "owld starts ($1)"
    check_eq "$1: admin key from admin.key" "$ADMIN" "$(cat "$DATA/admin.key" | tr -d '\n')"
    admin GET /api/v1/keys
    check_eq "$1: admin bearer works" 200 "$STATUS"
    if [ -x "$AWS" ]; then
        env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_PROFILE \
            AWS_SHARED_CREDENTIALS_FILE="$DATA/aws-credentials" AWS_CONFIG_FILE=/dev/null \
            AWS_EC2_METADATA_DISABLED=true AWS_PAGER="" HOME="$T" \
            "$AWS" sts get-caller-identity --endpoint-url "$BASE" --region us-east-1 \
            --output json >"$T/aws.out" 2>"$T/aws.err"
        check_eq "$1: aws sts get-caller-identity" 0 "$?"
    fi
    stop_owld
}

# (g) an empty existing directory is a first start; (a) it writes the marker and the keys
DATA=$T/data
mkdir -p "$DATA"
works "first start"
for f in owl.instance admin.key aws-credentials master.key; do
    check "first start writes $f" test -s "$DATA/$f"
done
check_contains "marker has magic and version" "$(head -1 "$DATA/owl.instance")" "owl-instance 1"
SUM=$(cat "$DATA/admin.key" "$DATA/aws-credentials" | sha256sum)
FIRST_ADMIN=$ADMIN

# (b) restart: byte-identical credentials, same admin key
works "restart"
check_eq "restart: credentials byte-identical" "$SUM" \
    "$(cat "$DATA/admin.key" "$DATA/aws-credentials" | sha256sum)"

# (c) journals and snapshots deleted -> refusal; restored -> works
mkdir -p "$T/save"
cp -a "$DATA/meta/." "$T/save/"
rm -f "$DATA"/meta/journal-*.owm "$DATA"/meta/snapshot-*.owm
refused "deleted journal" "journal"
cp -a "$T/save/." "$DATA/meta/"
works "journal restored"
check_eq "journal restored: same admin" "$FIRST_ADMIN" "$ADMIN"

# (c') a snapshot whose journal is deleted (generation G > 0: force one snapshot by hand)
J=$(ls "$DATA"/meta/journal-*.owm | tail -1)
G=${J##*journal-}
G=${G%.owm}
NG=$(printf '%012d' $((10#$G + 2)))  # G+1 with journal-G is a legitimate crash state
cp "$J" "$T/jsave"
: >"$DATA/meta/snapshot-$NG.owm"
refused "snapshot without its journal" "journal-G"
rm -f "$DATA/meta/snapshot-$NG.owm"

# (d) master.key deleted -> refusal; restored -> works
mv "$DATA/master.key" "$T/master.key"
refused "deleted master.key" "master.key"
check "no new master.key written" test ! -e "$DATA/master.key"
mv "$T/master.key" "$DATA/master.key"
works "master.key restored"

# (e) corrupt marker -> refusal
cp "$DATA/owl.instance" "$T/marker"
sed -i 's/^id \(.\)/id X/' "$DATA/owl.instance"
refused "corrupt marker" "owl.instance"
printf 'owl-instance 9\n' >"$DATA/owl.instance"
refused "unknown marker version" "owl.instance"
cp "$T/marker" "$DATA/owl.instance"

# (f) a directory of the release before the marker is adopted
rm -f "$DATA/owl.instance"
works "pre-marker directory"
check "adopted: marker written" test -s "$DATA/owl.instance"
check_eq "adopted: same admin" "$FIRST_ADMIN" "$ADMIN"
check "adopted: logged" grep -q "adopted" "$OWLD_LOG"
check_eq "adopted: credentials byte-identical" "$SUM" \
    "$(cat "$DATA/admin.key" "$DATA/aws-credentials" | sha256sum)"

# a deleted admin.key is rewritten with the same credentials (re-derived), never a new key
rm -f "$DATA/admin.key"
works "admin.key deleted"
check_eq "admin.key rewritten identical" "$SUM" \
    "$(cat "$DATA/admin.key" "$DATA/aws-credentials" | sha256sum)"

finish
