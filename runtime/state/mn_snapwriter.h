/* mn_snapwriter.h: rank 0's background snapshot writer.
 *
 * Parameters are replicated, so one rank writes. mn_snapwriter_submit() copies the
 * parameters and the optimizer's states (and the trainer's blobs, if any) into the writer's
 * own host buffers and returns; a thread writes
 * the file (mn_snapshot_write: atomic and durable) and then prunes to snapshot.keep. On
 * the CPU the copy is a memcpy (the only pause training sees). On a GPU it is a
 * device-to-device copy into an image of the state (fast) and then an asynchronous copy of
 * that image into pinned host buffers on the device's download stream, which the thread
 * waits for before it writes: training goes on meanwhile. A submit first waits for the
 * write before it, so at most one is in flight.
 *
 * What it writes is a registry's (mn_tensors.h): mntrain's model's, or the parameters of a
 * trainer of the public API (runtime/api/state.c), named as mn_trainstate.h names them. */
#ifndef MN_SNAPWRITER_H
#define MN_SNAPWRITER_H

#include <stddef.h>
#include <stdint.h>

#include "mn_device.h"
#include "mn_optim.h"
#include "mn_snapshot.h"
#include "mn_status.h"
#include "mn_tensors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_snapwriter mn_snapwriter_t;

/* The outcome of one write. */
typedef struct mn_snapwrite_result {
  mn_status_t status;
  char message[1024]; /* when status != MN_OK */
  char path[4096];
  int64_t step;
  char reason[16];
  double write_s; /* in the thread: file, fsync, rename, prune */
  double stall_s; /* in the training thread: the copy (and any wait for the write before) */
} mn_snapwrite_result_t;

/* in: dir, keep (snapshot.keep), the state written: tensors (a laid-out registry), params
 * (its flat parameter buffer, [tensors->size] floats) and o (the optimizer's states, laid
 * out the same), dev (whose memory holds them); all must outlive the writer. out: w. */
mn_status_t mn_snapwriter_start(const char *dir, int keep, const mn_tensors_t *tensors,
                                const float *params, const mn_optim_t *o, mn_device_t *dev,
                                mn_snapwriter_t **w);

/* Start writing meta (copied, strings too) with the current parameters and optimizer
 * states (in the device's memory, as of the work queued so far), and extra[0, nextra)
 * (host tensors, such as a trainer's blobs: copied too; NULL, 0 for none). When a write was
 * in flight it is waited for first, and its result is returned in *previous
 * (previous->status is -1 when there was none). Fails only when this write cannot start. */
mn_status_t mn_snapwriter_submit(mn_snapwriter_t *w, const mn_snapshot_meta_t *meta,
                                 const mn_snapshot_tensor_t *extra, int nextra,
                                 mn_snapwrite_result_t *previous);

/* Whether the last write has finished and failed (it stays to be reported by the next
 * submit or wait): a look that does not wait. out: result, when it did. */
int mn_snapwriter_failed(mn_snapwriter_t *w, mn_snapwrite_result_t *result);

/* Wait for the write in flight. out: result (result->status is -1 when none was). */
void mn_snapwriter_wait(mn_snapwriter_t *w, mn_snapwrite_result_t *result);

/* Wait, then stop the thread and free everything. */
void mn_snapwriter_stop(mn_snapwriter_t *w);

#ifdef __cplusplus
}
#endif
#endif /* MN_SNAPWRITER_H */
