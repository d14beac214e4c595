#!/bin/bash
# t_client_install.sh — libowl as a user gets it: `make install` into a fresh prefix, then a
# program outside the tree (its own directory, only the installed header and library) built
# with nothing but `pkg-config --cflags --libs owl`, shared and then static, runs: it prints
# the linked version, carries a W3C context through inject and extract, and ends a span that
# owl_shutdown(0) drops (the exporter linked: libcurl, zlib). Also: the shared library exports
# owl_ symbols only. "Static": libowl.a linked in with libcurl and zlib shared, as Debian's
# static libcurl cannot be linked fully static (its nghttp2, psl, rtmp, gssapi and ldap come
# without static libraries; docs/client.md).
. "$(dirname "$0")/lib.sh"

command -v pkg-config >/dev/null || skip "pkg-config is not installed (apt-get install pkg-config)"
[ -f "$OWL_BUILDDIR/Makefile" ] || bail "no configured build at $OWL_BUILDDIR"
P="$T/prefix"
make -s -C "$OWL_BUILDDIR" install prefix="$P" >"$T/install.log" 2>&1
rc=$?
check_eq "make install prefix=$P exits 0" 0 "$rc"
[ "$rc" = 0 ] || { sed 's/^/# /' "$T/install.log" | tail -20; bail "make install"; }
check "the header, the libraries and owl.pc are installed" \
    test -f "$P/include/owl/owl.h" -a -f "$P/lib/libowl.a" -a -e "$P/lib/libowl.so" -a \
    -f "$P/lib/pkgconfig/owl.pc"
exported=$(nm -D --defined-only "$P/lib/libowl.so" | awk '$2 == "T" || $2 == "D" || $2 == "B" { print $3 }')
check "libowl.so exports owl_ symbols only ($(echo "$exported" | wc -l) of them)" \
    test -z "$(echo "$exported" | grep -v '^owl_')" -a -n "$exported"

mkdir -p "$T/user"
cat >"$T/user/prog.c" <<'PROG'
/* a program outside owl's tree: only <owl/owl.h> */
#include <owl/owl.h>
#include <stdio.h>
#include <string.h>

struct hdrs {
    char name[4][64], value[4][512];
    int n;
};

static int set(void *carrier, const char *name, const char *value)
{
    struct hdrs *h = carrier;
    if (h->n == 4)
        return -1;
    snprintf(h->name[h->n], sizeof h->name[0], "%s", name);
    snprintf(h->value[h->n++], sizeof h->value[0], "%s", value);
    return 0;
}

static const char *get(void *carrier, const char *name)
{
    struct hdrs *h = carrier;
    for (int i = 0; i < h->n; i++)
        if (!strcasecmp(h->name[i], name))
            return h->value[i];
    return NULL;
}

int main(void)
{
    const uint8_t tid[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                             0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
    const uint8_t sid[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
    owl_context *c = owl_context_new(tid, sid, 1);
    struct hdrs h = {.n = 0};
    if (!c || owl_inject(c, set, &h, OWL_PROPAGATE_W3C) != 0)
        return 1;
    int rc = 0;
    owl_context *back = owl_extract(get, &h, OWL_PROPAGATE_W3C, &rc);
    uint8_t t2[16], s2[8];
    if (!back || owl_context_ids(back, t2, s2) != 0 || memcmp(t2, tid, 16) || memcmp(s2, sid, 8))
        return 2;
    owl_config *cfg = owl_config_new();
    if (!cfg || owl_config_set(cfg, "endpoint", "http://127.0.0.1:9") || owl_init(cfg))
        return 3;
    owl_config_free(cfg);
    owl_span_end(owl_span_start("x", OWL_KIND_INTERNAL, NULL, 0));
    owl_shutdown(0);
    printf("%s %d %s %s=%s dropped=%llu\n", owl_version(),
           owl_version_number() == OWL_VERSION_NUMBER, owl_client_strerror(OWL_ERR_INVAL),
           h.name[0], h.value[0], (unsigned long long)owl_dropped_spans());
    owl_context_free(back);
    owl_context_free(c);
    return 0;
}
PROG
SAN=
is_sanitized && SAN="-fsanitize=address,undefined"
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
flags=$(pkg-config --cflags --libs owl)
check_contains "pkg-config --cflags --libs owl names the prefix" "$flags" "-I$P/include"
(cd "$T/user" && cc -Wall -Werror $SAN prog.c $flags -o prog) 2>"$T/cc.err"
check_eq "the program builds with pkg-config's flags alone" 0 $?
sed 's/^/# /' "$T/cc.err" | head -10
out=$(cd "$T/user" && LD_LIBRARY_PATH="$P/lib" ./prog 2>&1)
check_eq "... and runs: the linked version, a context through traceparent and back, a span dropped" \
    "0.1.0 1 invalid argument traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 dropped=1" \
    "$out"
if is_sanitized; then
    echo "# the static link is not tried under the sanitizers (their runtimes are shared)"
else
    # libowl.a linked in, libcurl and zlib shared: Debian's libcurl4-openssl-dev has no static
    # nghttp2, rtmp, psl, gssapi or ldap, so a fully static program cannot be made here
    (cd "$T/user" && cc -Wall -Werror prog.c $(pkg-config --cflags owl) "$P/lib/libowl.a" \
        $(pkg-config --libs libcurl zlib) -pthread -o prog-static) 2>"$T/cc-static.err"
    check_eq "the program links libowl.a in (libcurl and zlib shared)" 0 $?
    sed 's/^/# /' "$T/cc-static.err" | head -10
    check "... and needs no libowl.so" sh -c "! ldd '$T/user/prog-static' | grep -q libowl"
    out=$(cd "$T/user" && ./prog-static 2>&1)
    check_contains "... and runs" "$out" "0.1.0 1 invalid argument traceparent="
fi

# docs/client.md's and libowl(3)'s example, as a user copies it, sends its span, log line and
# counter to a real owld
cp "$OWL_SRCDIR/client/examples/hello.c" "$T/user/hello.c"
(cd "$T/user" && cc -Wall -Werror $SAN hello.c $flags -o hello) 2>"$T/cc-hello.err"
check_eq "the documented example builds with pkg-config's flags alone" 0 $?
sed 's/^/# /' "$T/cc-hello.err" | head -10
start_owld || bail "owld did not start"
(cd "$T/user" && OWL_ENDPOINT=$BASE OWL_API_KEY=$ADMIN LD_LIBRARY_PATH="$P/lib" ./hello)
check_eq "... runs, owl_shutdown sending everything (exit 0)" 0 $?
found=
for _ in $(seq 50); do
    found=$(curl -s -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/traces?service=checkout")
    case "$found" in *'"rootOperation":"POST /orders"'*) break ;; esac
    sleep 0.1
done
check_contains "owld has its trace (service checkout, POST /orders)" "$found" \
    '"rootOperation":"POST /orders"'
logs=$(curl -s -H "Authorization: Bearer $ADMIN" \
    "$BASE/api/v1/logs/events?group=/otel/checkout")
check_contains "... and its log line" "$logs" '"message":"placing order 42"'
stop_owld
finish
