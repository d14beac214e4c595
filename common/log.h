/* log.h — leveled, thread-safe logging to stderr: "2026-11-21T05:11:36.123Z info  msg". */
#ifndef OWL_LOG_H
#define OWL_LOG_H

enum owl_log_level { OWL_LOG_DEBUG, OWL_LOG_INFO, OWL_LOG_WARN, OWL_LOG_ERROR, OWL_LOG_OFF };

/* owl_log_set_level — messages below level are dropped. */
void owl_log_set_level(enum owl_log_level level);

/* owl_log_level_names — the level names indexed by level ("debug" ... "off"), then NULL:
 * what log lines print and what --log-level accepts. */
extern const char *const owl_log_level_names[];

/* owl_log — writes one line (atomically with respect to other threads). */
void owl_log(enum owl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define owl_debug(...) owl_log(OWL_LOG_DEBUG, __VA_ARGS__)
#define owl_info(...) owl_log(OWL_LOG_INFO, __VA_ARGS__)
#define owl_warn(...) owl_log(OWL_LOG_WARN, __VA_ARGS__)
#define owl_errorf(...) owl_log(OWL_LOG_ERROR, __VA_ARGS__)

#endif
