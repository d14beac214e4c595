/* tables.h — what the registry knows of tables' past (private to index/): the columns WAL
 * records of format version 1 were written with. Version 1 records carry no column list, so
 * to replay them under a later schema the store needs the layout they were written under;
 * these lists are frozen copies and never change when a table gains columns. */
#ifndef OWL_TABLES_H
#define OWL_TABLES_H

#include "index/index.h"

/* owl_table_v1_cols — the columns (in order) of version 1 WAL records of the registered table
 * called name, with *n their count; NULL for tables that never had version 1 records (their
 * version 1 records, if any, are read as the current schema's columns). */
const owl_coldef *owl_table_v1_cols(const char *name, size_t *n);

#endif
