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

#include <mn/world.h>

#include "mn_config.h"
#include <mn/metrics.h>
#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_train_result {
  mn_summary_t summary;
  float *params; /* a copy of the final parameters (caller frees), when asked */
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

#ifdef __cplusplus
}
#endif
#endif /* MN_TRAIN_H */
