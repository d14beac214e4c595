/* logtime.h — recognises the timestamp at the start of a raw log line in the formats common
 * in the wild (ISO 8601, syslog, Apache, HDFS, Spark, Android, epoch seconds, ...), so raw
 * text can be imported with each line's own time. An ISO 8601 time's zone (Z, +HH:MM,
 * +HHMM, +HH) is applied; times without a zone are taken as UTC;
 * formats without a year take the year of `now_ms`. */
#ifndef OWL_LOGTIME_H
#define OWL_LOGTIME_H

#include <stddef.h>
#include <stdint.h>

/* owl_logtime_parse — looks for a known timestamp at the start of line (n bytes; a leading
 * '[' or "- " is allowed). On success sets *ms and returns the index (>= 0) of the format in
 * the table (see owl_logtime_format_name); returns -1 when none matches (*ms untouched). */
int owl_logtime_parse(const char *line, size_t n, int64_t now_ms, int64_t *ms);

/* owl_logtime_format_name — a short name of format i ("iso8601", "syslog", ...), or NULL. */
const char *owl_logtime_format_name(int i);

#endif
