# lib.sh — shared helpers for the integration tests (t_*.sh): start a real owld on a free
# loopback port in a private temp dir, talk to it with curl and python3, record "ok - ..." /
# "not ok - ..." lines and exit with the automake test-driver status (0 pass, 1 fail, 77 skip,
# 99 hard error). Everything a test writes goes under $T (mktemp -d), removed on exit; the
# source tree is never written (distcheck makes it read-only).
#
# Environment: OWLD (owld binary), OWL_SRCDIR, OWL_BUILDDIR (set by `make check`; derived
# from this file's place when run by hand), OWL_IT_KEEP=1 keeps $T for inspection,
# OWL_IT_LOG_LEVEL sets owld's --log-level (default info), OWL_IT_PORTS=LO-HI makes owld
# listen on a free port of that range only (for runs beside others given their own ports).

set -u

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${OWL_SRCDIR:=$(cd "$IT_DIR/../.." && pwd)}"
: "${OWL_BUILDDIR:=$OWL_SRCDIR}"
: "${OWLD:=$OWL_BUILDDIR/server/owld}"
PYTHON=${PYTHON:-python3}
# python must not drop __pycache__ into the (possibly read-only) source tree
export PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH="$IT_DIR${PYTHONPATH:+:$PYTHONPATH}"
TEST_NAME=$(basename "$0" .sh)

if [ ! -x "$OWLD" ]; then
    echo "ERROR: owld not found at $OWLD (build it, or set OWLD)" >&2
    exit 99
fi
if ! command -v curl >/dev/null || ! command -v "$PYTHON" >/dev/null; then
    echo "SKIP: curl and python3 are needed" >&2
    exit 77
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/owl-$TEST_NAME.XXXXXX") || exit 99
PASS=0
FAIL=0
OWLD_PID=
OWLD_LOG=
PORT=
DATA=
ADMIN=
ADMIN_ID=
OWLD_RC=
OWLD_N=0
BG_PIDS=()
OWLD_WRAPPER=()
START_TIMEOUT=${START_TIMEOUT:-10}

# cleanup — the EXIT trap: kill what we started (by pid), keep or remove $T.
cleanup() {
    local p
    for p in "${BG_PIDS[@]}" $OWLD_PID; do
        [ -n "$p" ] && kill -9 "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "${OWL_IT_KEEP:-0}" = 1 ]; then
        echo "# kept $T"
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT
trap 'exit 99' INT TERM HUP

now_ms() { date +%s%3N; }

# ---- assertions -------------------------------------------------------------------------

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }

not_ok() {
    FAIL=$((FAIL + 1))
    echo "not ok - $1"
    shift
    local l
    for l in "$@"; do echo "#   $l"; done
}

# check NAME CMD... — passes when CMD exits 0.
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else not_ok "$name" "command failed: $*"; fi
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "got:      ${3:0:600}"; fi
}

# check_contains NAME HAYSTACK NEEDLE
check_contains() {
    case "$2" in
    *"$3"*) ok "$1" ;;
    *) not_ok "$1" "expected to contain: $3" "got: ${2:0:600}" ;;
    esac
}

# check_not_contains NAME HAYSTACK NEEDLE
check_not_contains() {
    case "$2" in
    *"$3"*) not_ok "$1" "expected not to contain: $3" "got: ${2:0:600}" ;;
    *) ok "$1" ;;
    esac
}

# check_lt NAME A B — integer A < B.
check_lt() {
    if [ "$2" -lt "$3" ] 2>/dev/null; then ok "$1 ($2 < $3)"; else not_ok "$1" "expected $2 < $3"; fi
}

# run_py NAME SCRIPT ARGS... — runs a python helper that prints ok/not ok lines itself and
# adds its counts to ours; a helper that dies without printing counts as one failure.
run_py() {
    local name=$1 out rc n_ok n_fail
    shift
    out=$("$PYTHON" "$@" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    n_ok=$(printf '%s\n' "$out" | grep -c '^ok - ')
    n_fail=$(printf '%s\n' "$out" | grep -c '^not ok - ')
    PASS=$((PASS + n_ok))
    FAIL=$((FAIL + n_fail))
    if [ "$rc" -ne 0 ] && [ "$n_fail" -eq 0 ]; then
        not_ok "$name: helper exited $rc"
    fi
}

# show_log — the tail of the current owld log, for failures.
show_log() {
    local f
    for f in "$T"/owld.*.log; do
        [ -f "$f" ] || continue
        echo "# ---- $f (last 40 lines) ----"
        tail -n 40 "$f" | sed 's/^/# /'
    done
}

# check_logs_clean — no owld log of this test holds a sanitizer or valgrind report.
check_logs_clean() {
    local f bad=
    for f in "$T"/owld.*.log; do
        [ -f "$f" ] || continue
        if grep -q -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' -e 'runtime error:' \
            -e 'WARNING: ThreadSanitizer' "$f"; then
            bad="$bad $(basename "$f")"
        fi
    done
    if [ -z "$bad" ]; then ok "owld logs hold no sanitizer report"; else
        not_ok "owld logs hold no sanitizer report" "reports in:$bad"; fi
}

# finish — checks the logs, prints the summary line and exits with the driver's status.
finish() {
    local ran=$((PASS + FAIL))
    check_logs_clean
    echo "# $TEST_NAME: $PASS passed, $FAIL failed"
    if [ "$FAIL" -ne 0 ]; then
        show_log
        exit 1
    fi
    if [ "$ran" -eq 0 ]; then
        echo "# no checks ran"
        exit 99
    fi
    exit 0
}

skip() {
    echo "# SKIP: $*"
    exit 77
}

# bail — a precondition failed (owld did not start, ...): count it, show the log, stop.
bail() {
    not_ok "$*"
    echo "# $TEST_NAME: $PASS passed, $FAIL failed (bailed out)"
    show_log
    exit 1
}

# ---- owld lifecycle ---------------------------------------------------------------------

free_port() {
    "$PYTHON" -c 'import socket, sys
lo, _, hi = sys.argv[1].partition("-")
for port in range(int(lo), int(hi) + 1) if hi else [0]:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        print(s.getsockname()[1])
        break
    except OSError:
        pass
    finally:
        s.close()' "${OWL_IT_PORTS:-}"
}

# is_sanitized — owld was built with AddressSanitizer/UBSan.
is_sanitized() {
    [ "${OWL_SANITIZERS:-}" = 1 ] && return 0
    nm "$OWLD" 2>/dev/null | grep -q -e '__asan_init' -e '__ubsan_handle'
}

# alive PID — the process exists and is not a zombie.
alive() {
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# start_owld [FLAGS...] — starts owld on a free port with data dir $DATA (a fresh one under
# $T unless DATA is set), waits for GET /healthz (START_TIMEOUT seconds), and sets OWLD_PID,
# PORT, BASE, OWLD_LOG, ADMIN ("KEYID:SECRET") and ADMIN_ID. Returns 1 when it did not come up.
start_owld() {
    local deadline
    [ -n "$DATA" ] || DATA=$T/data
    for _ in 1 2 3; do
        OWLD_N=$((OWLD_N + 1))
        PORT=$(free_port)
        BASE=http://127.0.0.1:$PORT
        OWLD_LOG=$T/owld.$OWLD_N.log
        echo "# starting owld #$OWLD_N on port $PORT (data $DATA) $*"
        # no X-Ray daemon endpoint unless the test asks for one (--xray-daemon ADDR, or
        # XRAY_DAEMON_DEFAULT=1 for owld's default): tests run side by side, and the default
        # 127.0.0.1:2000 is one port for all of them
        local xd=(--xray-daemon off)
        case " $* " in *" --xray-daemon "*) xd=() ;; esac
        [ "${XRAY_DAEMON_DEFAULT:-}" = 1 ] && xd=()
        "${OWLD_WRAPPER[@]}" "$OWLD" --listen "127.0.0.1:$PORT" --data-dir "$DATA" \
            --log-level "${OWL_IT_LOG_LEVEL:-info}" "${xd[@]}" "$@" 2>"$OWLD_LOG" &
        OWLD_PID=$!
        deadline=$(($(now_ms) + START_TIMEOUT * 1000))
        while [ "$(now_ms)" -lt "$deadline" ]; do
            if ! alive "$OWLD_PID"; then
                wait "$OWLD_PID" 2>/dev/null
                OWLD_RC=$?
                OWLD_PID=
                break
            fi
            if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BASE/healthz")" = 200 ]; then
                ADMIN=$(tr -d '\n' <"$DATA/admin.key" 2>/dev/null)
                ADMIN_ID=${ADMIN%%:*}
                return 0
            fi
            sleep 0.05
        done
        if [ -n "$OWLD_PID" ]; then
            echo "# owld did not answer /healthz within ${START_TIMEOUT}s"
            kill -9 "$OWLD_PID" 2>/dev/null
            wait "$OWLD_PID" 2>/dev/null
            OWLD_PID=
            return 1
        fi
        # it exited: retry only when the port was taken between free_port and bind
        grep -qi 'in use' "$OWLD_LOG" || { echo "# owld exited with $OWLD_RC"; return 1; }
    done
    return 1
}

# stop_owld [SIGNAL] [TIMEOUT_S] — signals owld (TERM) and waits up to TIMEOUT_S (10) for it
# to exit; sets OWLD_RC (exit status; 137 after a forced kill) and OWLD_STOP_MS. Returns 1
# when it had to be killed with SIGKILL.
# kill9_under_load CLIENT ACKS [MIN_MS] — once the load client CLIENT has written at least 50
# lines (acknowledged requests) to ACKS and MIN_MS ms (default 1000) have passed (or 1,500
# lines, or the client ended, or 30 s), kill -9 owld and wait for the client; sets KILL_MS
# (load start to kill).
kill9_under_load() {
    local client=$1 acks=$2 min_ms=${3:-1000} t0 n el
    t0=$(now_ms)
    while :; do
        n=$(wc -l <"$acks")
        el=$(($(now_ms) - t0))
        if { [ "$n" -ge 50 ] && [ "$el" -ge "$min_ms" ]; } || [ "$n" -ge 1500 ] || ! alive "$client"; then
            break
        fi
        [ "$el" -lt 30000 ] || break
        sleep 0.01
    done
    stop_owld KILL
    wait "$client"
    KILL_MS=$(($(now_ms) - t0))
}

stop_owld() {
    # stderr off: bash announces a background job killed by a signal ("... Killed")
    stop_owld_ "$@" 2>/dev/null
}

stop_owld_() {
    local sig=${1:-TERM} timeout=${2:-10} t0 deadline rc=0
    OWLD_STOP_MS=0
    [ -n "$OWLD_PID" ] || { OWLD_RC=; return 1; }
    t0=$(now_ms)
    kill "-$sig" "$OWLD_PID" 2>/dev/null
    deadline=$((t0 + timeout * 1000))
    while alive "$OWLD_PID" && [ "$(now_ms)" -lt "$deadline" ]; do
        sleep 0.02
    done
    if alive "$OWLD_PID"; then
        echo "# owld (pid $OWLD_PID) still running ${timeout}s after SIG$sig: SIGKILL"
        kill -9 "$OWLD_PID" 2>/dev/null
        rc=1
    fi
    wait "$OWLD_PID"
    OWLD_RC=$?
    OWLD_STOP_MS=$(($(now_ms) - t0))
    OWLD_PID=
    return $rc
}

# ---- HTTP helpers -----------------------------------------------------------------------

# http METHOD PATH [CURL ARGS...] — one request; sets STATUS, BODY and HDRS (header block,
# CRs stripped). PATH may be a full URL.
http() {
    local method=$1 path=$2 url
    shift 2
    case "$path" in http*) url=$path ;; *) url=$BASE$path ;; esac
    rm -f "$T/.body" "$T/.hdrs"
    STATUS=$(curl -sS -X "$method" -o "$T/.body" -D "$T/.hdrs" -w '%{http_code}' \
        --max-time 20 "$@" "$url" 2>"$T/.curlerr")
    BODY=$(cat "$T/.body" 2>/dev/null)
    HDRS=$(tr -d '\r' <"$T/.hdrs" 2>/dev/null)
    [ -n "$STATUS" ] || STATUS=000
}

# as KEY METHOD PATH [CURL ARGS...] — http with "Authorization: Bearer KEY".
as() {
    local key=$1
    shift
    local m=$1 p=$2
    shift 2
    http "$m" "$p" -H "Authorization: Bearer $key" "$@"
}

# admin METHOD PATH [CURL ARGS...] — as the admin key.
admin() { as "$ADMIN" "$@"; }

# hdr NAME — value of response header NAME (case-insensitive) from the last request.
hdr() {
    printf '%s\n' "$HDRS" | awk -v n="$1" 'BEGIN { n = tolower(n) }
        { i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) {
            v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit } }'
}

# jget PATH [JSON] — a value from JSON ($BODY by default): PATH like "error.code" or
# "events.0.action"; "len:events" gives a list's length. Prints nothing when absent.
jget() {
    printf '%s' "${2-$BODY}" | "$PYTHON" -c '
import json, sys
path = sys.argv[1]
try:
    d = json.load(sys.stdin)
    want_len = path.startswith("len:")
    if want_len:
        path = path[4:]
    for k in filter(None, path.split(".")):
        d = d[int(k)] if isinstance(d, list) else d[k]
    if want_len:
        d = len(d)
    print(json.dumps(d) if isinstance(d, (dict, list)) else d)
except Exception:
    pass' "$1"
}

# is_json — $BODY parses as JSON.
is_json() { printf '%s' "$BODY" | "$PYTHON" -c 'import json,sys; json.load(sys.stdin)' 2>/dev/null; }

# create_key AS_KEY POLICY_JSON_ARRAY [TENANT] — POST /api/v1/keys; on 200 sets NEW_KEY
# ("ID:SECRET"), NEW_ID and NEW_TENANT.
create_key() {
    local body="{\"policy\":$2${3:+,\"tenant\":\"$3\"}}"
    NEW_KEY= NEW_ID= NEW_TENANT=
    as "$1" POST /api/v1/keys -H 'Content-Type: application/json' --data-binary "$body"
    if [ "$STATUS" = 200 ]; then
        NEW_ID=$(jget key_id)
        NEW_KEY=$NEW_ID:$(jget secret)
        NEW_TENANT=$(jget tenant)
    fi
}

# aws_cli CREDENTIALS_FILE ARGS... — the AWS CLI ($AWS) against owld, isolated from any user
# configuration; sets AWS_OUT, AWS_ERR and AWS_RC. awsc ARGS... does it with the admin's
# credentials ($DATA/aws-credentials).
aws_cli() {
    local creds=$1
    shift
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
        -u AWS_DEFAULT_PROFILE -u AWS_ENDPOINT_URL \
        AWS_SHARED_CREDENTIALS_FILE="$creds" AWS_CONFIG_FILE=/dev/null \
        AWS_EC2_METADATA_DISABLED=true AWS_PAGER="" AWS_MAX_ATTEMPTS=1 HOME="$T" \
        "$AWS" "$@" --endpoint-url "$BASE" --region us-east-1 --output json \
        --cli-connect-timeout 5 --cli-read-timeout 30 >"$T/aws.out" 2>"$T/aws.err"
    AWS_RC=$?
    AWS_OUT=$(cat "$T/aws.out")
    AWS_ERR=$(cat "$T/aws.err")
}

awsc() {
    aws_cli "$DATA/aws-credentials" "$@"
}
