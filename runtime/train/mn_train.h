/* mn_train.h: a whole data-parallel training run on one communicator.
 *
 * mntrain's main() and the tests call this: it opens the data, builds the model, loops
 * over epochs and steps (the step is forward, loss, backward, allreduce, update), validates
 * at each epoch end, and reports through mn/metrics.h. Every rank of comm calls it with the
 * same config. */
#ifndef MN_TRAIN_H
#define MN_TRAIN_H

#include <stdint.h>

#include <mpi.h>

#include <mn/metrics.h>
#include <mn/state.h>
#include <mn/status.h>
#include <mn/world.h>

#include "mn_config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_train_result {
  mn_summary_t summary;
  float *params; /* a copy of the final parameters (caller frees), when asked: every tensor's
                    values in the registry's order (mn_params_get), one after the other */
  int64_t nparams;
  int failed_rank; /* on failure, the lowest rank that failed (-1: unknown) */
} mn_train_result_t;

/* The world a run of cfg wants (mn_init's options): its [compute] device, TF32 and
 * determinism, its [comm] bucket size and timeout. */
mn_init_opts_t mn_train_init_opts(const mn_config_t *cfg);

/* in: cfg, w (mn/world.h: its ranks and device, opened with mn_train_init_opts(cfg));
 * want_params: copy the final parameters into res->params on success; out: res (always
 * written: the summary so far and, on failure, failed_rank, which w then holds too, for
 * mn_finish's report). Errors are agreed among the ranks: all return the same status, and
 * the lowest failing rank has logged why. */
mn_status_t mn_train_world(const mn_config_t *cfg, mn_world_t *w, int want_params,
                           mn_train_result_t *res);

/* mn_train_world on a world of comm's ranks, opened and closed here (a part of
 * MPI_COMM_WORLD: tests compare runs of several world sizes in one job). */
mn_status_t mn_train_run(const mn_config_t *cfg, MPI_Comm comm, int want_params,
                         mn_train_result_t *res);

/* fit.c: mn/state.h's fits function for a run of config text arg (mn_config_text): a
 * snapshot of another model shape or optimizer kind is refused (an error under resume =
 * require), one of another data order skipped, naming the key. */
mn_state_fit_t mn_train_fits(void *arg, const char *path, const mn_state_run_t *run, char *why,
                             size_t len);
/* Warn of each key of config text here (but log.* and snapshot.*) that the snapshot's run had
 * otherwise: a new learning rate after a resume is a choice, not an error. */
void mn_train_log_changes(const char *here, const char *snapshot);

#ifdef __cplusplus
}
#endif
#endif /* MN_TRAIN_H */
