/* mn/status.h: the status every fallible call of mn returns, and the exit codes of mn's
 * programs (docs/exit-codes.md), for trainers of their own.
 *
 * A call returns MN_OK (0) or a negative mn_status_t, and writes its outputs only on
 * success; mn_error_message() then says what and where ("train.h5: dataset /x: expected 2
 * dimensions"). main() turns the status it ends with into the process's exit code with
 * mn_status_exit_code(): 75 (MN_ERR_PREEMPTED) tells mnrun and Slurm that the job stopped
 * with a complete snapshot and may be requeued. */
#ifndef MN_PUBLIC_STATUS_H
#define MN_PUBLIC_STATUS_H

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

/* The last message recorded by a call of this thread that failed ("" when none). */
const char *mn_error_message(void);
/* A trainer's own failure, in the same slot: records the message (printf's format) for st
 * and returns st, so that the place that finds a problem words it and the place that
 * decides prints it once (mn_finish puts it in the exit report):
 *   return mn_error(MN_ERR_DATA, "%s: row %d: a label of %d", path, i, y); */
mn_status_t mn_error(mn_status_t st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif /* MN_PUBLIC_STATUS_H */
