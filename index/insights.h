/* insights.h — private to index/: the compiled form of a CloudWatch Logs Insights query shared
 * by the parser (insights_parse.c), the evaluator and runner (insights_exec.c) and the
 * scalar functions (insights_fn.c). The language and every choice made where AWS's
 * documentation is silent: docs/insights.md.
 *
 * A query is a list of commands over one table of rows whose columns are "slots": every field
 * name the query mentions is interned once into a slot number, so a row is an array of values
 * indexed by slot. Expressions are nodes in one array, linked by index. Nothing in a compiled
 * query changes after owl_ins_parse returns. */
#ifndef OWL_INSIGHTS_H
#define OWL_INSIGHTS_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "index/index.h"

#define INS_MAX_TEXT 10000   /* CloudWatch's limit on queryString */
#define INS_MAX_LIMIT 10000  /* CloudWatch's limit on `limit` and on rows returned */
#define INS_MAX_DEPTH 64     /* nesting of expressions (parentheses, not, unary minus) */
#define INS_MAX_STATS 2      /* stats commands per query (CloudWatch's limit) */
#define INS_MAX_AGGS 64      /* aggregates, and group keys, of one stats */
#define INS_MAX_HEIGHT 200   /* height of an expression tree (chains of operators) */
#define INS_RE_LIMIT 200000  /* PCRE2 match and depth limits: a search that hits them fails */

/* ---- values ---- */

enum ins_vt { VT_NULL = 0, VT_NUM, VT_STR, VT_TIME, VT_BOOL };

/* One value. STR: s[0..n). NUM: num, and s/n its source text when it came from an event (so it
 * prints as written) or NULL. TIME: ms since the epoch in ms. BOOL: num 0 or 1. */
typedef struct ins_val {
    uint8_t t;
    uint32_t n;
    const char *s;
    double num;
    int64_t ms;
} ins_val;

/* ---- expressions ---- */

enum ins_ek {
    E_NUM,    /* num */
    E_STR,    /* s, n */
    E_FIELD,  /* slot */
    E_PERIOD, /* a time period (bin, datefloor): period ms, or unit for calendar units */
    E_NEG,    /* a */
    E_NOT,    /* a */
    E_AND,    /* a, b */
    E_OR,     /* a, b */
    E_CMP,    /* a op b */
    E_ARITH,  /* a op b */
    E_LIKE,   /* a like s (substring); neg: not like */
    E_REGEX,  /* a like /re/ or a =~ /re/: re; neg */
    E_IN,     /* a in [args]; neg: not in */
    E_CALL,   /* fn(args) */
    E_AGG,    /* an aggregate inside a stats item: agg index into the stats' aggs */
};

enum ins_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_ADD, OP_SUB, OP_MUL, OP_DIV,
              OP_MOD, OP_POW };

/* Calendar units of a period; fixed ones are a number of ms. */
enum ins_unit { U_FIXED = 0, U_MONTH, U_QUARTER, U_YEAR };

typedef struct ins_node {
    uint8_t kind;    /* enum ins_ek */
    uint8_t op;      /* enum ins_op */
    uint8_t neg;     /* E_LIKE, E_REGEX, E_IN */
    uint8_t unit;    /* E_PERIOD: enum ins_unit */
    int a, b;        /* operands */
    int fn;          /* E_CALL: index in ins_fns[] */
    int agg;         /* E_AGG */
    int re;          /* E_REGEX */
    int slot;        /* E_FIELD */
    size_t arg0, nargs; /* E_CALL, E_IN: q->args[arg0 .. arg0+nargs) */
    double num;      /* E_NUM; E_PERIOD: ms per period (U_FIXED) or count of units */
    const char *s;   /* E_STR, E_LIKE: owned by the query */
    size_t n;
    size_t pos;      /* byte offset in the text, for messages */
    int height;      /* of the tree below: bounds the evaluator's recursion */
} ins_node;

/* ---- scalar functions (insights_fn.c) ---- */

enum ins_argk { A_ANY = 0, A_FIELD, A_PERIOD };

typedef struct ins_fn {
    const char *name;  /* lower case; names match case-insensitively */
    int min, max;      /* argument count; max -1: any */
    uint8_t arg1;      /* enum ins_argk: what the first argument must be */
    uint8_t arg2;      /* ...the second */
} ins_fn;

extern const ins_fn ins_fns[];
extern const size_t ins_nfns;

/* ---- aggregates ---- */

enum ins_aggk { AG_COUNT, AG_COUNT_STAR, AG_COUNT_DISTINCT, AG_SUM, AG_AVG, AG_MIN, AG_MAX,
                AG_PCT, AG_STDDEV, AG_EARLIEST, AG_LATEST, AG_SORTS_FIRST, AG_SORTS_LAST };

typedef struct ins_agg {
    uint8_t kind;  /* enum ins_aggk */
    int arg;       /* node of its argument (-1 for count(*)) */
    double pct;    /* AG_PCT: 0..100 */
} ins_agg;

/* ---- commands ---- */

enum ins_ck { C_FIELDS, C_DISPLAY, C_FILTER, C_STATS, C_SORT, C_LIMIT, C_PARSE, C_DEDUP };

/* An output column of fields / stats, or a key of sort / dedup / display. */
typedef struct ins_item {
    int expr;   /* node (-1 for display / dedup: the slot alone) */
    int slot;   /* the slot it writes (fields, stats, by) or reads (display, dedup); sort: the
                 * hidden slot that keeps the key's value at the sort */
    int desc;   /* sort */
} ins_item;

typedef struct ins_cmd {
    uint8_t kind;          /* enum ins_ck */
    size_t pos;            /* where the command starts, for messages */
    ins_item *items;       /* fields, display, stats items, sort keys, dedup fields */
    size_t nitems;
    ins_item *by;          /* stats: group keys */
    size_t nby;
    ins_agg *aggs;         /* stats */
    size_t naggs;
    int expr;              /* filter; parse: the source */
    size_t limit;          /* limit */
    /* parse: the compiled regex (a glob is turned into one) and which group feeds which slot */
    int re;
    int *outs;             /* slot of capture group g+1 */
    size_t nouts;
    const char *glob;      /* parse with a glob: its text (owned by the query), else NULL */
    size_t globn;
} ins_cmd;

/* ---- slots ---- */

enum ins_sys { SYS_NONE = 0, SYS_TIMESTAMP, SYS_MESSAGE, SYS_STREAM, SYS_LOG, SYS_INGEST,
               SYS_PTR };

typedef struct ins_slot {
    char *name;        /* as the result names it */
    size_t n;
    uint8_t sys;       /* enum ins_sys */
    uint8_t hidden;    /* a sort key's copy: never in results */
    uint8_t discover;  /* read before anything assigns it: looked up in the event's message */
    uint64_t hash;
} ins_slot;

struct owl_ins_query {
    ins_node *nodes;
    size_t nnodes, cnodes;
    int *args;
    size_t nargs, cargs;
    ins_cmd *cmds;
    size_t ncmds, ccmds;
    ins_slot *slots;
    size_t nslots, cslots;
    pcre2_code **re;
    size_t nre, cre;
    pcre2_match_context *mctx;
    char **strs;            /* decoded string literals, owned */
    size_t nstrs, cstrs;
    int aggregating;        /* has a stats command */
    unsigned columns;       /* owl_ins_columns */
    int *outcols;           /* the result's columns, as slots */
    size_t noutcols;
    /* the push-down condition (owl_ins_filter), laid out once at parse */
    owl_filter *filter;     /* NULL: none; else filter[0] is the root */
    owl_filter *fnodes;
    size_t nfnodes;
    owl_pred *preds;
    size_t npreds;
    owl_cell *cells;        /* IN sets */
    size_t ncells;
};

/* ---- shared helpers ---- */

/* ins_item_keeps — 1 when fields item it only keeps its field as it is (`fields x`: the
 * field x into x's own slot), so the slot's value is unchanged. */
static inline int ins_item_keeps(const owl_ins_query *q, const ins_item *it)
{
    return it->expr >= 0 && q->nodes[it->expr].kind == E_FIELD &&
           q->nodes[it->expr].slot == it->slot;
}

/* ins_grow — makes room for need elements of size in *arr (capacity *cap). OWL_ENOMEM. */
int ins_grow(void **arr, size_t *cap, size_t need, size_t size);

/* ins_num_text — reads s[0..n) whole as a decimal number (-?D+(.D*)?([eE][+-]?D+)?, also
 * ".5"); 1 and *out when it is one. */
int ins_num_text(const char *s, size_t n, double *out);

/* ins_val_numeric — the numeric view of v (NUM, TIME as ms, BOOL as 0/1, a STR that reads as a
 * number): 1 and *out, else 0. */
int ins_val_numeric(const ins_val *v, double *out);

/* ins_val_text — v's text form into buf (at least 40 bytes) or a view: NUM as written or in
 * shortest round-trip form, TIME as "YYYY-MM-DD HH:MM:SS.mmm" UTC, BOOL as true/false. */
const char *ins_val_text(const ins_val *v, char *buf, size_t *n);

/* ins_cmp_values — equality and order of two non-null values as a comparison operator sees
 * them: numerically when both have a numeric view, else by bytes of their text. <0, 0, >0. */
int ins_cmp_values(const ins_val *a, const ins_val *b);

/* ins_sort_cmp — CloudWatch's sort order of two values, ascending: non-numbers (chunked
 * natural order) before numbers (by value); nulls are handled by the caller. */
int ins_sort_cmp(const ins_val *a, const ins_val *b);

/* ins_fmt_time — "YYYY-MM-DD HH:MM:SS.mmm" of ms (UTC) into out (24 bytes). */
void ins_fmt_time(int64_t ms, char out[24]);

/* ins_period_floor — the start of the period of length (num, unit) holding ms. */
int64_t ins_period_floor(int64_t ms, double num, int unit);

/* ins_period_next — the start of the next period after the one starting at start. */
int64_t ins_period_next(int64_t start, double num, int unit);

/* A scratch allocator for values built while evaluating one row (reset per row). */
typedef struct ins_scratch {
    owl_arena a;
} ins_scratch;

/* ins_call — evaluates the scalar function of node call (E_CALL of q) over its argument values
 * av[0..n) into *out; strings it builds come from sc. OWL_OK or OWL_ENOMEM. */
int ins_call(const owl_ins_query *q, const ins_node *call, const ins_val *av, size_t n,
             ins_scratch *sc, ins_val *out);

#endif
