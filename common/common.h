/* common.h — the public face of common/: everything here depends on nothing else of owl. */
#ifndef OWL_COMMON_H
#define OWL_COMMON_H

#include "buf.h"
#include "crc32c.h"
#include "err.h"
#include "hash.h"
#include "log.h"
#include "clock.h"
#include "util.h"
#include "arena.h"

#endif
