/* crc32c.h — CRC-32C (Castagnoli), the checksum of every owl on-disk record.
 * Uses the SSE4.2 crc32 instruction when the CPU has it, a slicing-by-8 table otherwise;
 * both give identical results (checked by tests/unit/test_crc32c.c). */
#ifndef OWL_CRC32C_H
#define OWL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* owl_crc32c — extends crc (0 to start) over n bytes of p and returns the new value.
 * Chaining: owl_crc32c(owl_crc32c(0, a, n), b, m) == crc of a||b. Cannot fail. */
uint32_t owl_crc32c(uint32_t crc, const void *p, size_t n);

/* owl_crc32c_sw — the portable table implementation, exposed for tests. */
uint32_t owl_crc32c_sw(uint32_t crc, const void *p, size_t n);

#endif
