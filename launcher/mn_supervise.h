/* mn_supervise.h: running a launched job: its scratch directory, signals, waiting, and the
 * account of which ranks failed and why.
 *
 * The same for every launch engine: the engine's command runs in its own process group with
 * stdin from /dev/null; SIGINT, SIGTERM, SIGUSR1 and SIGUSR2 sent to mnrun are recorded from
 * mnrun's first instruction (mn_supervise_signals_install), held until every rank has
 * joined (its handler is then in place), and forwarded; a second SIGINT or SIGTERM kills
 * the engine and this machine's ranks. A watchdog tears the gang down when a rank does not
 * join in time, stops beating, fails while the others go on, or when every rank has
 * reported and the engine does not exit (mn_watch_t). */
#ifndef MN_SUPERVISE_H
#define MN_SUPERVISE_H

#include <stddef.h>

#include "mn_launch.h"
#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A private directory ($TMPDIR or /tmp, "mnrun.XXXXXX", mode 0700) for the generated
 * hostfile and the rank reports. out: dir (size n). */
mn_status_t mn_supervise_workdir_create(char *dir, size_t n);
/* Remove the directory and every file in it. */
void mn_supervise_workdir_remove(const char *dir);

/* Handle SIGINT, SIGTERM, SIGUSR1, SIGUSR2 and SIGCHLD from now until the process exits (the
 * handler only records them; idempotent). mnrun calls it first thing, so that no stop
 * signal is lost or kills it while it checks the job. */
mn_status_t mn_supervise_signals_install(void);
/* The first stop signal (INT, TERM, USR1, USR2) received since then (0: none). */
int mn_supervise_stop_signal(void);

/* What the watchdog of mn_supervise_run() checks (mn_liveness.h), and what it found. */
typedef struct mn_watch {
  int nranks;
  const int *watched;     /* [nranks]: 1 when mnrun sees this rank's files (NULL: all) */
  double start_timeout_s; /* every watched rank joins within this, or the gang goes (0: off) */
  double fail_timeout_s;  /* a lost or failed rank brings the gang down within this (0: off) */
  double exit_timeout_s;  /* every rank reported: the engine exits within this, or the job is
                           * killed (0: no bound) */
} mn_watch_t;

typedef enum {
  MN_WATCH_OK = 0,
  MN_WATCH_START_TIMEOUT, /* rank: the lowest that had not joined */
  MN_WATCH_LOST,          /* rank: its heartbeat stopped without a report */
  MN_WATCH_LINGER,        /* rank: it failed, and the others had not stopped in time */
  MN_WATCH_ENGINE_STUCK,  /* every rank reported; the engine had not exited after_s later */
} mn_watch_reason_t;

typedef struct mn_watch_result {
  mn_watch_reason_t reason;
  int rank;
  int nmissing; /* start timeout: how many had not joined */
  double after_s;
  int stop_requests; /* stop signals that mnrun itself received (then: no restart) */
  int killed_by;     /* the second SIGINT or SIGTERM, which killed the job (0: none) */
} mn_watch_result_t;

/* Run cmd and wait for it, forwarding signals (held while a watched rank has not joined),
 * and tear the job down (SIGKILL to its process group and to this machine's ranks) when
 * the watchdog says so. Installs the signal handlers if mnrun has not. report_dir
 * (MN_REPORT_DIR of the ranks) also identifies this job's ranks on this machine when they
 * must be killed. watch may be NULL (no watchdog). out: exit_code, the child's exit status,
 * or 128+signal when a signal ended it; why (may be NULL): the watchdog's finding. */
mn_status_t mn_supervise_run(const mn_cmd_t *cmd, const char *report_dir, const mn_watch_t *watch,
                             int *exit_code, mn_watch_result_t *why);

/* Once the engine has exited: SIGKILL every process left on this machine whose environment
 * holds this job's MN_REPORT_DIR=report_dir (what a program started by mnrank left running),
 * after waiting up to grace_s seconds for them to end on their own. Returns how many were
 * killed. */
int mn_supervise_sweep(const char *report_dir, double grace_s);

/* After a job that ended with job_code: read the reports of ranks 0..nranks-1 and, if the job
 * failed, print to stderr one line per failing rank (lowest first) and per rank without a
 * report (a few, then a count). Returns mnrun's exit code. When every rank reported: the
 * reports' code (the lowest failing rank's, else 75 when ranks stopped with a snapshot,
 * else 0), whatever job_code is (an engine that crashed or was killed after the reports;
 * said on stderr). Else: job_code, or the code of the lowest failing rank when that is 64,
 * 65, 66 or 73 (mpirun may name another rank first); when job_code is 0 or 75 (ranks that
 * wrote their report exit 0), the lowest failing rank's code, else 75 when ranks stopped
 * with a snapshot. */
int mn_supervise_account(const char *report_dir, int nranks, int job_code);

#ifdef __cplusplus
}
#endif
#endif /* MN_SUPERVISE_H */
