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

/* (mn_error, which records a message for st and returns it, is public: mn/status.h) */
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
