/* mn_status.h: the one status type of mn, its names, and its mapping to exit codes.
 *
 * Every fallible function returns an mn_status_t and writes its outputs only on success.
 * Only main() turns a status into a process exit code (sysexits.h, docs/exit-codes.md).
 * The type, its names, the exit codes and the last message are public (mn/status.h); the
 * rest is the runtime's own. */
#ifndef MN_STATUS_H
#define MN_STATUS_H

#include <mn/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Record a message for st in this thread's last-error slot and return st, so that the
 * place that finds a problem words it and the place that decides prints it once:
 *   return mn_error(MN_ERR_DATA, "%s: dataset /x: expected 2 dimensions", path); */
mn_status_t mn_error(mn_status_t st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mn_error_clear(void);

/* The worse of two statuses (the one whose exit code wins when ranks disagree). */
mn_status_t mn_status_worse(mn_status_t a, mn_status_t b);
/* The place of a status in that order (0 = MN_OK), and back: for agreeing across ranks. */
int mn_status_severity(mn_status_t st);
mn_status_t mn_status_from_severity(int severity);

#ifdef __cplusplus
}
#endif
#endif /* MN_STATUS_H */
