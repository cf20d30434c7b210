/* mn_resume.h: choosing and loading the snapshot a run continues from.
 *
 * snapshot.resume (or --resume): auto continues from the newest snapshot in snapshot.dir
 * that is valid and fits this run, and starts afresh only when the directory holds none;
 * require fails without one; never starts afresh and first moves any old snapshots into a
 * subdirectory, so that two runs never mix in one directory. A candidate fits when the
 * model shape, the keys of mn_config_shape_hash and the training set's identity (N, D,
 * classes, label CRC) are the same; damaged, unreadable and foreign files are logged with
 * their path and reason and skipped for the next older one. */
#ifndef MN_RESUME_H
#define MN_RESUME_H

#include "mn_comm.h"
#include "mn_config.h"
#include "mn_model.h"
#include "mn_snapshot.h"
#include "mn_trainstate.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_resume_result {
  int resumed;       /* 0: a fresh start */
  char path[4096];   /* the snapshot (rank 0 only) */
  mn_position_t pos; /* the snapshot's position, as it was written */
  int world, batch;  /* of the run that wrote it */
  /* what the run had reached (rank 0 only; mn_snapshot_meta_t): training time, the last
   * interval's loss, the last epoch's train and validation loss and accuracy */
  double elapsed_s, loss, train_loss, val_loss, val_accuracy;
} mn_resume_result_t;

/* Collective over comm. Rank 0 chooses (here: this run's own metadata, for the checks),
 * reads the tensors into the host buffers bufs (the parameters, then each state of the
 * optimizer kind: [m->nparams] each, laid out as m->params), and sends them and the
 * position to every rank; the caller moves them to its device. A snapshot of another
 * optimizer kind, or one whose tensors do not match the registry's names and shapes, is
 * skipped (refused under require), naming the reason or the tensor. All ranks return the
 * same status: MN_ERR_NOINPUT when require finds no snapshot; MN_ERR_DATA when require
 * meets another model shape, or when the directory holds snapshots and none can be used.
 * out: res. */
mn_status_t mn_resume(const mn_config_t *cfg, mn_comm_t *comm, const mn_snapshot_meta_t *here,
                      const mn_model_t *m, const mn_optim_kind_t *kind, float *const *bufs,
                      mn_resume_result_t *res);

#ifdef __cplusplus
}
#endif
#endif /* MN_RESUME_H */
