/* pred.h — predicates (private to index/): one table indexed by enum owl_pred_op whose entries
 * hold the row check (does this value satisfy the predicate?) and the block check (may some
 * row of a block, known only by its footer statistics, satisfy it?). The store filters rows
 * with the first, part.c prunes blocks with the second, so an operator is added in one place.
 * Also the boolean filter trees of owl_scan (AND/OR/NOT over predicates) and BSON paths. */
#ifndef OWL_PRED_H
#define OWL_PRED_H

#include <stddef.h>
#include <stdint.h>

#include "index/bloom.h"
#include "index/index.h"

/* What a block's footer says about one column: the input of a block check. */
typedef struct owl_pred_colstats {
    enum owl_type type;
    unsigned flags;         /* the owl_col_flags the bloom was built for */
    int has_min, has_max;
    owl_cell min, max;      /* .i for TIME/I64, .u for U64, .f for F64 */
    const owl_bloom *bloom; /* never NULL; nwords == 0: no bloom (never prunes) */
    int format;             /* the part's format version: how token items are hashed */
} owl_pred_colstats;

/* owl_pred_token_item — the bloom item of a token as a part of `format` hashes it (part.c
 * builds its blooms with it, the block checks probe with it). */
uint64_t owl_pred_token_item(const char *t, size_t n, int format);

/* The bloom item of a token. From format 3, a token of OWL_NUM_TOKEN_MIN or more decimal
 * digits stands for its length and all but its last OWL_NUM_TOKEN_DROP digits, so numbers that
 * differ only there share one item: counters, ids and epoch times, most of a log block's
 * distinct tokens, cost one item per thousand neighbouring values instead of one each. A
 * search for such a number then prunes like a min/max index of width 1000. */
#define OWL_NUM_TOKEN_MIN 5
#define OWL_NUM_TOKEN_DROP 3
#define OWL_NUM_TOKEN_SEED 0x6e756d6265727300ull

/* owl__token_item — owl_pred_token_item for a caller that already knows whether the token is
 * all decimal digits (a tokenizer learns it on the way). */
static inline uint64_t owl__token_item(const char *t, size_t n, int all_digits, int format)
{
    if (format >= 3 && n >= OWL_NUM_TOKEN_MIN && all_digits)
        return owl_hash64(t, n - OWL_NUM_TOKEN_DROP, OWL_NUM_TOKEN_SEED | n);
    return owl_hash64(t, n, 0);
}

/* owl_pred_num_item — the bloom item of a whole numeric value (its 8 little-endian bytes). */
uint64_t owl_pred_num_item(uint64_t v);

/* owl_pred_holds — 1 when value v of a column of type t satisfies p, else 0. Never fails:
 * a malformed BSON value at a path predicate is no match. */
int owl_pred_holds(enum owl_type t, const owl_pred *p, const owl_cell *v);

/* owl_pred_block_may — 0 only when no value described by cs can satisfy p; 1 otherwise
 * (always 1 for path predicates and EXISTS). */
int owl_pred_block_may(const owl_pred_colstats *cs, const owl_pred *p);

/* owl_pred_value_may — 0 only when no value of the block equals v (min/max, blooms). */
int owl_pred_value_may(const owl_pred_colstats *cs, const owl_cell *v);

/* owl_pred_rows — clears keep[r] for each row r of v[0..n) (values of a column of type t)
 * that fails p; rows whose keep is already 0 are not looked at. one_buf: the byte values
 * lie in one buffer (a decoded part block), so TOKEN/SUBSTR may search it in one pass.
 * scratch has n bytes. */
void owl_pred_rows(enum owl_type t, const owl_pred *p, const owl_cell *v, size_t n, int one_buf,
                   uint8_t *keep, uint8_t *scratch);

/* owl_pred_check — OWL_OK when p is a valid predicate on schema sc (column in range, a known
 * operator, path predicates on BSON columns only, EXISTS with a path); else OWL_EINVAL. */
int owl_pred_check(const owl_schema *sc, const owl_pred *p, owl_error *err);

/* owl_filter_check — OWL_OK when every node of f is well formed (owl_filter in index.h) and
 * its predicates pass owl_pred_check; *depth gets the tree's depth (a leaf alone: 1).
 * OWL_EINVAL otherwise. */
int owl_filter_check(const owl_schema *sc, const owl_filter *f, size_t *depth, owl_error *err);

/* owl_filter_cols — sets seen[c] for each column a predicate of f reads (f checked). */
void owl_filter_cols(const owl_filter *f, int *seen);

/* owl_filter_rows — keep[r] = keep[r] && f holds on row r, for rows [0, n) of cols (indexed by
 * schema column). scratch: (2 * depth + 1) * n bytes, depth from owl_filter_check. */
void owl_filter_rows(const owl_schema *sc, const owl_filter *f, owl_cell *const *cols, size_t n,
                     int one_buf, uint8_t *keep, uint8_t *scratch);

/* owl_filter_block_may — 0 only when f certainly fails on every row of a block, given
 * leaf_may(ud, p), the block check of each leaf: an AND when one child fails, an OR when all
 * do, never a NOT. */
int owl_filter_block_may(const owl_filter *f, int (*leaf_may)(void *ud, const owl_pred *p),
                         void *ud);

#endif
