/* mn_log.h: logging with the time, rank and host in every line, filtered before formatting.
 *
 * Lines go to stderr as "2026-11-29T06:45:12.345Z mn[r3 node07] error: message" (the time
 * in ISO 8601, UTC, milliseconds: docs/metrics.md). Tools and the launcher log with rank
 * -1, which prints as "2026-11-29T06:45:12.345Z mnrun: error: message". Printing only on rank 0 is
 * a call to mn_log_is_root(), never a macro that hides an if. */
#ifndef MN_LOG_H
#define MN_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include <mn/log.h> /* the levels, the writes and their macros: the public part */

#ifdef __cplusplus
extern "C" {
#endif

/* Set the program name (for rank -1), the rank (-1: not a rank) and the host. */
void mn_log_init(const char *prog, int rank, const char *host);
/* A line with no level, always printed ("<time> mnrun: message"): what the launcher
 * reports of the job (a lost rank, a timeout). */
void mn_log_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The time now as the log writes it: ISO 8601 UTC with milliseconds, "...T06:45:12.345Z".
 * out: buf[len] (32 bytes suffice). */
void mn_log_timestamp(char *buf, size_t len);

/* Invariants only, never with side effects. Aborts with file:line. */
void mn_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#define MN_ASSERT(e) ((e) ? (void)0 : mn_assert_fail(#e, __FILE__, __LINE__))

#ifdef __cplusplus
}
#endif
#endif /* MN_LOG_H */
