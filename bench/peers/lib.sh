# shellcheck shell=bash
# bench/peers/lib.sh — what every bench/peers/<name> script shares: the command dispatch, free
# loopback ports, ready checks and a stop that kills exactly the process start recorded.
# Invariant: DIR/pid holds "PID STARTTIME" (field 22 of /proc/PID/stat) of the one process a
# start launched, so a recycled pid is never killed; DIR/port holds its HTTP port and DIR/peer
# the peer's name (bench/run stops strays by it).

PEER_DIR=
peer_die() { echo "peers/$PEER_NAME: $*" >&2; exit 1; }

# peer_need CMD PACKAGE — installs the Debian package when CMD is missing (root only)
peer_need() {
    command -v "$1" >/dev/null && return 0
    [ "$(id -u)" = 0 ] || peer_die "$1 missing and not root: apt-get install $2"
    echo "peers/$PEER_NAME: installing $2 with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null 2>&1 || {
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null 2>&1
    } || peer_die "apt-get install $2 failed"
    command -v "$1" >/dev/null || peer_die "$2 installed but $1 is still not on PATH"
}

peer_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# peer_alive PID [STARTTIME] — true while PID runs (a zombie counts as gone) and, when
# STARTTIME is given, is still the process that was started
peer_alive() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }  # fields from 3 on; the command name may hold spaces
    # shellcheck disable=SC2086
    set -- "$1" "${2:-}" $st
    [ "$3" != Z ] || return 1
    [ -z "$2" ] || [ "${22}" = "$2" ]
}

peer_starttime() { local st; st=$(cat "/proc/$1/stat") && st=${st##*) } && echo "$st" | awk '{ print $20 }'; }

# peer_launch LOG CMD... — starts CMD in the background (pinned to $PEER_CPU when set), with
# stdin from /dev/null and output to LOG, and records it in DIR/pid
peer_launch() {
    local log=$1 pid
    shift
    if [ -n "${PEER_CPU:-}" ]; then
        set -- taskset -c "$PEER_CPU" "$@"
    fi
    "$@" </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "$pid $(peer_starttime "$pid")" >"$PEER_DIR/pid"
    echo "$PEER_NAME" >"$PEER_DIR/peer"
}

# peer_wait_ready URL EXPECT LOG — polls URL until its body holds EXPECT (60 s at most); dies,
# after stopping the peer, when it exits or never answers
peer_wait_ready() {
    local url=$1 expect=$2 log=$3 pid st i body
    read -r pid st <"$PEER_DIR/pid"
    for i in $(seq 600); do
        peer_alive "$pid" "$st" || { tail -n 20 "$log" >&2; rm -f "$PEER_DIR/pid"; peer_die "exited at start (log: $log)"; }
        body=$(curl -s --max-time 1 "$url" 2>/dev/null) && [[ "$body" == *"$expect"* ]] && return 0
        [ $((i % 100)) = 0 ] && echo "peers/$PEER_NAME: waiting for $url" >&2
        sleep 0.1
    done
    tail -n 20 "$log" >&2
    peer_stop
    peer_die "did not answer $url within 60 s"
}

# peer_stop — SIGTERM to the recorded process, up to 30 s for it to exit, then SIGKILL; a
# no-op when nothing runs
peer_stop() {
    local pid st i
    [ -f "$PEER_DIR/pid" ] || return 0
    read -r pid st <"$PEER_DIR/pid"
    if peer_alive "$pid" "$st"; then
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 300); do
            peer_alive "$pid" "$st" || break
            sleep 0.1
        done
        if peer_alive "$pid" "$st"; then
            echo "peers/$PEER_NAME: pid $pid ignored SIGTERM for 30 s, killing it" >&2
            kill -KILL "$pid" 2>/dev/null
            for i in $(seq 50); do peer_alive "$pid" "$st" || break; sleep 0.1; done
        fi
    fi
    rm -f "$PEER_DIR/pid"
}

peer_running() {
    local pid st
    [ -f "$PEER_DIR/pid" ] && read -r pid st <"$PEER_DIR/pid" && peer_alive "$pid" "$st"
}

peer_usage() {
    cat >&2 <<EOF
usage: bench/peers/$PEER_NAME start DIR | stop DIR | port DIR | version [DIR]${PEER_EXTRA_USAGE:-}
  start    launches the peer on a free 127.0.0.1 port with its data in DIR (created),
           waits until it answers and prints the port; PEER_CPU=C pins it to CPU C
  stop     stops what start launched (DIR/pid) and waits for it to exit
  port     prints the port of the peer running in DIR
  version  the peer's version string (asked of the running peer when DIR holds one)
EOF
    exit 2
}

# peer_main "$@" — dispatches to the script's peer_start / peer_version / peer_cmd_* functions
peer_main() {
    local cmd=${1:-}
    [ -n "$cmd" ] || peer_usage
    shift
    case "$cmd" in
    start|stop|port)
        [ $# -ge 1 ] || peer_usage
        mkdir -p "$1" || peer_die "cannot create $1"
        PEER_DIR=$(cd "$1" && pwd)
        shift
        case "$cmd" in
        start)
            peer_running && peer_die "already running in $PEER_DIR (stop it first)"
            peer_start "$@"
            cat "$PEER_DIR/port"
            ;;
        stop) peer_stop ;;
        port) [ -f "$PEER_DIR/port" ] || peer_die "nothing started in $PEER_DIR"; cat "$PEER_DIR/port" ;;
        esac
        ;;
    version)
        if [ $# -ge 1 ] && [ -d "$1" ]; then PEER_DIR=$(cd "$1" && pwd); fi
        peer_version
        ;;
    *)
        if declare -F "peer_cmd_$cmd" >/dev/null; then
            "peer_cmd_$cmd" "$@"
        else
            peer_usage
        fi
        ;;
    esac
}
