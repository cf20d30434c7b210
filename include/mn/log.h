/* mn/log.h: the log mn writes, for a trainer's own lines: the time, the rank and the host
 * in each, as "2026-11-29T06:45:12.345Z mn[r3 node07] info: message" on stderr (the time in
 * ISO 8601, UTC, milliseconds), filtered by level (info by default) before it is formatted.
 * mn_init sets the rank and host. Printing on rank 0 only is an if on mn_log_is_root(). */
#ifndef MN_PUBLIC_LOG_H
#define MN_PUBLIC_LOG_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mn_log_level {
  MN_LOG_ERROR = 0,
  MN_LOG_WARN = 1,
  MN_LOG_INFO = 2,
  MN_LOG_DEBUG = 3,
} mn_log_level_t;

void mn_log_set_level(mn_log_level_t level);
int mn_log_enabled(mn_log_level_t level);
int mn_log_is_root(void); /* true on rank 0, and outside ranks */

/* A line of level (printf's format and arguments). */
void mn_log_write(mn_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mn_log_vwrite(mn_log_level_t level, const char *fmt, va_list ap);

#define MN_LOG_AT(lvl, ...)                                                                        \
  do {                                                                                             \
    if (mn_log_enabled(lvl)) mn_log_write((lvl), __VA_ARGS__);                                     \
  } while (0)
#define mn_log_error(...) MN_LOG_AT(MN_LOG_ERROR, __VA_ARGS__)
#define mn_log_warn(...) MN_LOG_AT(MN_LOG_WARN, __VA_ARGS__)
#define mn_log_info(...) MN_LOG_AT(MN_LOG_INFO, __VA_ARGS__)
#define mn_log_debug(...) MN_LOG_AT(MN_LOG_DEBUG, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif /* MN_PUBLIC_LOG_H */
