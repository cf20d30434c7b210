/* mn_status.h: the one status type of mn, its names, and its mapping to exit codes.
 *
 * Every fallible function returns an mn_status_t and writes its outputs only on success.
 * Only main() turns a status into a process exit code (sysexits.h, docs/exit-codes.md). */
#ifndef MN_STATUS_H
#define MN_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mn_status {
  MN_OK = 0,
  MN_ERR_USAGE = -1,     /* bad command line                      -> 64 */
  MN_ERR_CONFIG = -2,    /* bad train.conf or --set               -> 64 */
  MN_ERR_DATA = -3,      /* bad dataset or snapshot contents      -> 65 */
  MN_ERR_NOINPUT = -4,   /* an input file is missing              -> 66 */
  MN_ERR_PEER = -5,      /* a peer rank or node failed            -> 69 */
  MN_ERR_INTERNAL = -6,  /* a bug, or a library failed unexpectedly -> 70 */
  MN_ERR_NOMEM = -7,     /* out of memory                          -> 70 */
  MN_ERR_IO = -8,        /* an output could not be written         -> 74 */
  MN_ERR_PREEMPTED = -9, /* stopped by a signal after a snapshot   -> 75 */
  MN_ERR_UNAVAILABLE = -10, /* a resource asked for is not here (GPU, NCCL) -> 69 */
  MN_ERR_NONFINITE = -11,   /* a NaN or Inf in the loss, gradients or input -> 65 */
  MN_ERR_LOCKED = -12,      /* the snapshot directory is held by another job -> 73 */
} mn_status_t;

/* Exit codes (sysexits.h values, spelled out so that no header is needed). */
enum {
  MN_EXIT_OK = 0,
  MN_EXIT_USAGE = 64,
  MN_EXIT_DATAERR = 65,
  MN_EXIT_NOINPUT = 66,
  MN_EXIT_UNAVAILABLE = 69,
  MN_EXIT_SOFTWARE = 70,
  MN_EXIT_CANTCREAT = 73,
  MN_EXIT_IOERR = 74,
  MN_EXIT_TEMPFAIL = 75,
};

/* A short lower-case name of the status ("bad data"), never NULL. */
const char *mn_status_string(mn_status_t st);

/* The process exit code for a status (docs/exit-codes.md). */
int mn_status_exit_code(mn_status_t st);

/* Record a message for st in this thread's last-error slot and return st, so that the
 * place that finds a problem words it and the place that decides prints it once:
 *   return mn_error(MN_ERR_DATA, "%s: dataset /x: expected 2 dimensions", path); */
mn_status_t mn_error(mn_status_t st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last message recorded in this thread ("" when none). */
const char *mn_error_message(void);
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
