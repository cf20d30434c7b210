/* mn_liveness.h: how mnrun knows that every rank started and is still alive.
 *
 * Each rank, once MPI is up and its stop handler in place, creates "<dir>/join-<rank>" (the
 * start barrier: mnrun tears the gang down when not every rank has joined within
 * --start-timeout, and holds a stop signal until every rank has joined), and a thread of
 * its own writes a growing count into "<dir>/alive-<rank>" every MN_LIVENESS_PERIOD_S
 * seconds until the rank exits (a rank that only joined, mn_liveness_join, has no heartbeat
 * file, and is never judged silent). A rank whose file mnrun has not seen change for
 * --fail-timeout, measured on mnrun's monotonic clock, without an exit report is lost (its
 * process or node is gone): mnrun then tears the gang down, so that no rank waits forever
 * in a collective for it. No wall clock is compared, so a clock step on either host neither
 * hides a lost rank nor condemns a live one. dir is MN_REPORT_DIR; with several hosts it must be on
 * a file system that mnrun's host sees (docs/launcher.md). */
#ifndef MN_LIVENESS_H
#define MN_LIVENESS_H

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_LIVENESS_PERIOD_S 0.25

/* ---- the rank's side (dir NULL or "": do nothing) ---- */

/* Mark this rank as joined and start its heartbeat thread. */
mn_status_t mn_liveness_start(const char *dir, int rank);
/* Mark this rank as joined without a heartbeat: for mnrank, the per-rank shim of a program
 * that need not use libmn (launcher/mnrank.c). mnrun then judges the rank by its exit alone
 * until the program itself beats (mn_liveness_start), if it ever does. */
mn_status_t mn_liveness_join(const char *dir, int rank);
/* Stop the heartbeat thread (the files stay: mnrun removes the directory). */
void mn_liveness_stop(void);

/* ---- mnrun's side ---- */

/* What mnrun last saw of one rank's heartbeat file (zero it before the first look). */
typedef struct mn_liveness_seen {
  unsigned long long count; /* the count, size, inode and modification time last read */
  long long size, ino, mtime_ns;
  double at_s; /* CLOCK_MONOTONIC seconds when any of them last changed (0: never looked) */
} mn_liveness_seen_t;

/* Whether the rank has joined. */
int mn_liveness_joined(const char *dir, int rank);
/* Seconds on this process's monotonic clock since the rank's heartbeat file last changed
 * (its count, or its size, inode or time: any change is a beat), as seen by this and
 * earlier calls with the same *seen (-1: no heartbeat file yet). in/out: seen. */
double mn_liveness_silent_s(const char *dir, int rank, mn_liveness_seen_t *seen);
/* Seconds between the wall clock now and the heartbeat file's modification time (-1: none
 * yet): only to compare ranks with one another after a job (a clock step shifts them
 * alike), never to judge one rank alone. */
double mn_liveness_age_s(const char *dir, int rank);

#ifdef __cplusplus
}
#endif
#endif /* MN_LIVENESS_H */
