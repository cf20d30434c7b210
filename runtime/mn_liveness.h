/* mn_liveness.h: how mnrun knows that every rank started and is still alive.
 *
 * Each rank, once MPI is up, creates "<dir>/join-<rank>" (the start barrier: mnrun tears
 * the gang down when not every rank has joined within --start-timeout), and a thread of
 * its own touches "<dir>/alive-<rank>" every MN_LIVENESS_PERIOD_S seconds until the rank
 * exits. A rank whose file grows older than --fail-timeout without an exit report is lost
 * (its process or node is gone): mnrun then tears the gang down, so that no rank waits
 * forever in a collective for it. dir is MN_REPORT_DIR; with several hosts it must be on
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
/* Stop the heartbeat thread (the files stay: mnrun removes the directory). */
void mn_liveness_stop(void);

/* ---- mnrun's side ---- */

/* Whether the rank has joined. */
int mn_liveness_joined(const char *dir, int rank);
/* Seconds since the rank's last heartbeat (-1: none yet). */
double mn_liveness_age_s(const char *dir, int rank);

#ifdef __cplusplus
}
#endif
#endif /* MN_LIVENESS_H */
