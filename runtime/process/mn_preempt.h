/* mn_preempt.h: stop requests by signal (SIGTERM, SIGUSR1, SIGUSR2, SIGINT).
 *
 * The handler only records the signal and the time (async-signal-safe); the trainer polls
 * mn_preempt_requested() and carries the request to every rank in the step's allreduce,
 * so that all ranks stop after the same step, write a snapshot and exit 75. A second
 * signal changes nothing: the snapshot being written is finished, never cut short. */
#ifndef MN_PREEMPT_H
#define MN_PREEMPT_H

#include <stdint.h>

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Install the handlers, then unblock the stop signals (they may have been blocked since
 * before exec: mnrun's direct launch; a stop that waited is taken now). Idempotent; call it
 * before any thread starts. */
mn_status_t mn_preempt_install(void);
/* Whether the handlers are still mn's: a library (NCCL takes SIGUSR1 in some versions)
 * may replace them. Re-installs them and returns 0 when one was replaced. */
int mn_preempt_check_handlers(void);

/* The first stop signal received (0: none), and seconds since it arrived. */
int mn_preempt_requested(void);
double mn_preempt_since_s(void);

/* Testing aid: when MN_TEST_SIGNAL_STEP=S is set (and MN_TEST_SIGNAL_RANK is unset or
 * names this rank; MN_TEST_SIGNAL names the signal, default TERM), the trainer calls this
 * at the start of every step and it sends this process that real signal at step S (S = -1:
 * before the first step). Documented in docs/snapshot-format.md. */
void mn_preempt_test_hook(int rank, int64_t step);

#ifdef __cplusplus
}
#endif
#endif /* MN_PREEMPT_H */
