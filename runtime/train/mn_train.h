/* mn_train.h: a whole data-parallel training run on one communicator.
 *
 * mntrain's main() and the tests call this: it opens the data, builds the model, loops
 * over epochs and steps (the step is forward, loss, backward, allreduce, update), validates
 * at each epoch end, and reports through mn_runlog.h. Every rank of comm calls it with the
 * same config. */
#ifndef MN_TRAIN_H
#define MN_TRAIN_H

#include <stdint.h>

#include <mpi.h>

#include "mn_config.h"
#include "mn_runlog.h"
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

/* in: cfg, comm; want_params: copy the final parameters into res->params on success;
 * out: res (always written: the summary so far and, on failure, failed_rank).
 * Errors are agreed among the ranks: all return the same status, and the lowest failing
 * rank has logged why. */
mn_status_t mn_train_run(const mn_config_t *cfg, MPI_Comm comm, int want_params,
                         mn_train_result_t *res);

#ifdef __cplusplus
}
#endif
#endif /* MN_TRAIN_H */
