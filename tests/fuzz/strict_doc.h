/* strict_doc.h — the fuzz targets' independent check of what every request decoder promises
 * since issue 9: no string holds a NUL and no object names a field twice (checked pairwise,
 * fine for fuzz-sized inputs). */
#ifndef OWL_FUZZ_STRICT_DOC_H
#define OWL_FUZZ_STRICT_DOC_H

#include <bson/bson.h>
#include <string.h>

static int fuzz_strict_doc(const bson_t *doc, int is_array)
{
    bson_iter_t it, other;
    if (!bson_iter_init(&it, doc))
        return 0;
    while (bson_iter_next(&it)) {
        if (!is_array) {
            other = it;
            while (bson_iter_next(&other))
                if (strcmp(bson_iter_key(&it), bson_iter_key(&other)) == 0)
                    return 0;
        }
        if (BSON_ITER_HOLDS_UTF8(&it)) {
            uint32_t n;
            const char *s = bson_iter_utf8(&it, &n);
            if (memchr(s, '\0', n))
                return 0;
        } else if (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it)) {
            uint32_t n;
            const uint8_t *p;
            bson_t sub;
            if (BSON_ITER_HOLDS_DOCUMENT(&it))
                bson_iter_document(&it, &n, &p);
            else
                bson_iter_array(&it, &n, &p);
            if (!bson_init_static(&sub, p, n) ||
                !fuzz_strict_doc(&sub, BSON_ITER_HOLDS_ARRAY(&it)))
                return 0;
        }
    }
    return 1;
}

#endif
