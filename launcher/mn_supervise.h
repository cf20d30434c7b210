/* mn_supervise.h: running a launched job: its scratch directory, signals, waiting, and the
 * account of which ranks failed and why.
 *
 * The same for every launch engine: the engine's command runs in its own process group with
 * stdin from /dev/null; SIGINT, SIGTERM, SIGUSR1 and SIGUSR2 sent to mnrun are forwarded to
 * it once; a second SIGINT or SIGTERM kills it and this machine's ranks. Restarts and a
 * start barrier will live here too. */
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

/* Run cmd and wait for it, forwarding signals. report_dir (MN_REPORT_DIR of the ranks) also
 * identifies this job's ranks on this machine when they must be killed. out: exit_code, the
 * child's exit status, or 128+signal when a signal ended it. */
mn_status_t mn_supervise_run(const mn_cmd_t *cmd, const char *report_dir, int *exit_code);

/* After a job that ended with job_code: read the reports of ranks 0..nranks-1 and, if the job
 * failed, print to stderr one line per failing rank (lowest first) and per rank without a
 * report (a few, then a count). Returns mnrun's exit code: job_code, or the code of the
 * lowest failing rank when that is 64, 65 or 66 (mpirun may name another rank first). When
 * job_code is 0 or 75 (ranks that wrote their report exit 0): the lowest failing rank's
 * code, else 75 when ranks stopped with a snapshot. */
int mn_supervise_account(const char *report_dir, int nranks, int job_code);

#ifdef __cplusplus
}
#endif
#endif /* MN_SUPERVISE_H */
