#!/usr/bin/env bash
# quickstart.sh — set up a Debian 12 machine for owl, build it, and either run owld or test it.
#   ./quickstart.sh run     install what is missing, build, run owld on 127.0.0.1:4318 (./owl-data)
#   ./quickstart.sh test    install what is missing, build, run the whole test suite
#   ./quickstart.sh test --sanitizers   the same with AddressSanitizer + UBSan (build-asan/)
set -euo pipefail
cd "$(dirname "$0")"
top=$(pwd)

build_pkgs="build-essential autoconf automake libtool pkg-config libbson-dev libmongoc-dev
  libzstd-dev libcriterion-dev libcurl4-openssl-dev libssl-dev zlib1g-dev libhttp-parser-dev libcbor-dev
  libprotobuf-c-dev protobuf-c-compiler libpcre2-dev libgraphviz-dev graphviz python3"
test_pkgs="curl awscli python3 valgrind zstd gzip procps"
# Node.js for the OpenTelemetry JS SDK test: Debian's nodejs + npm, unless npm is already there
# (a Node.js from elsewhere, such as NodeSource's, ships its own npm and conflicts with Debian's)
node_pkgs="nodejs npm"

install_missing() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "quickstart: installing ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

build() { # build DIR [configure flags...]
    local dir=$1
    shift
    if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ] ||
        [ "$top/Makefile.am" -nt "$top/Makefile.in" ]; then
        (cd "$top" && autoreconf -fi >&2)
    fi
    mkdir -p "$dir"
    if [ ! -f "$dir/Makefile" ] || [ "$top/configure" -nt "$dir/config.status" ]; then
        (cd "$dir" && "$top/configure" -q "$@" >&2)
    fi
    make -C "$dir" -j"$(nproc)" >&2
}

# Sums automake's .trs results into one closing line. A Criterion program reports each of its
# tests (TAP driver, see Makefile.am), a script one result.
trs_files() { find "$1/tests" -name '*.trs' 2>/dev/null | sort; }
count_results() { # count_results DIR REGEX — .trs result lines matching REGEX
    trs_files "$1" | xargs -r cat | { grep -cE "^:test-result: ($2)\$" || true; }
}
# Names every skipped test with its reason, from the logs: the TAP driver's "SKIP: prog N -
# suite::test # SKIP reason" lines, and a script's own "SKIP: reason" line (tests/integration/
# lib.sh's skip()).
skipped_tests() { # skipped_tests DIR
    local trs log reason
    trs_files "$1" | while IFS= read -r trs; do
        grep -q '^:test-result: SKIP' "$trs" || continue
        log=${trs%.trs}.log
        if grep -q '^SKIP: .* # SKIP' "$log" 2>/dev/null; then
            sed -n 's/^SKIP: \(.*\) # SKIP *\(.*\)$/skipped: \1: \2/p' "$log"
        else
            reason=$(grep -m1 -oE 'SKIP: .*' "$log" 2>/dev/null | sed 's/^SKIP: //')
            name=${trs#"$1"/} && name=${name%.trs}
            [ -f "$top/$name.sh" ] && name=$name.sh # automake drops the extension in .trs names
            echo "skipped: $name: ${reason:-no reason in ${log#"$1"/}}"
        fi
    done
}
summary() {
    local dir=$1
    skipped_tests "$dir"
    echo "$(count_results "$dir" PASS) passed, $(count_results "$dir" 'FAIL|ERROR|XPASS') failed," \
        "$(count_results "$dir" SKIP) skipped"
}

case "${1:-}" in
run)
    install_missing $build_pkgs
    build "$top/build"
    data="$top/owl-data"
    cat <<MSG
owld starts on http://127.0.0.1:4318 with its data in $data
The admin key is written at first start to $data/admin.key (KEYID:SECRET) and, as an AWS
profile, to $data/aws-credentials. Try, from another shell:
  curl -H "Authorization: Bearer \$(cat $data/admin.key)" http://127.0.0.1:4318/api/v1/keys
  AWS_SHARED_CREDENTIALS_FILE=$data/aws-credentials aws sts get-caller-identity \\
      --endpoint-url http://127.0.0.1:4318 --region us-east-1
Stop it with Ctrl-C.
MSG
    exec "$top/build/server/owld" --listen 127.0.0.1:4318 --data-dir "$data"
    ;;
test)
    install_missing $build_pkgs $test_pkgs
    command -v npm >/dev/null || install_missing $node_pkgs
    dir="$top/build" flags=()
    if [ "${2:-}" = "--sanitizers" ]; then
        dir="$top/build-asan" flags=(--enable-sanitizers)
    fi
    build "$dir" "${flags[@]}"
    # the OpenTelemetry JS SDK t_otlp_metrics.sh drives, at the versions package-lock.json pins
    # (again when package-lock.json changed since: new packages for a new test)
    # and the X-Ray SDK for Node t_xray_daemon.sh drives (tests/xray-node), Zipkin's JS tracer
    # t_zipkin.sh drives (tests/zipkin-node)
    for node_dir in otel xray-node zipkin-node; do
        if { [ ! -d "$top/tests/$node_dir/node_modules" ] ||
            [ "$top/tests/$node_dir/package-lock.json" -nt "$top/tests/$node_dir/node_modules/.package-lock.json" ]; } &&
            command -v npm >/dev/null; then
            (cd "$top/tests/$node_dir" && timeout 300 npm ci --no-audit --no-fund >&2) ||
                echo "quickstart: npm ci in tests/$node_dir failed; the tests using it will skip" >&2
        fi
    done
    rc=0
    # twice the CPUs: integration tests spend much of their time waiting (alarm periods, the
    # janitor, the AWS CLI's start-up), so the suite stays well inside CI's 30 minutes
    make -C "$dir" -j"$(($(nproc) * 2))" check || rc=$?
    if [ $rc -ne 0 ]; then
        trs_files "$dir" | while IFS= read -r f; do
            grep -qE '^:test-result: (FAIL|ERROR|XPASS)' "$f" && { echo "=== ${f%.trs}.log"; tail -50 "${f%.trs}.log"; }
        done || true # (a last file that passed leaves the loop's status non-zero)
    fi
    summary "$dir"
    exit $rc
    ;;
*)
    echo "usage: $0 run | test [--sanitizers]" >&2
    exit 2
    ;;
esac
