/* mn_data.h: HDF5 datasets as mn reads them (docs/data.md), and the prefetching loader.
 *
 * A dataset is one HDF5 file or several shard files read as one: each holds /x float32
 * [n_i, D] and /y int32 [n_i], and the rows of the files follow one another in the order
 * given (a glob is sorted). Opening checks everything a run depends on (files exist, both
 * datasets there, ranks, types, equal D, labels in [0, classes)) and fails with a message
 * naming the file and the dataset: MN_ERR_NOINPUT for a missing file, MN_ERR_DATA otherwise.
 *
 * The loader runs one thread per rank that reads this rank's batches (mn_shard.h) ahead of
 * the training step into a ring of `depth` buffers, so that compute does not wait on I/O
 * when the disk keeps up. */
#ifndef MN_DATA_H
#define MN_DATA_H

#include <stdint.h>

#include "mn_device.h"
#include "mn_shard.h"
#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- datasets ---------------------------------------------------------------------- */

typedef struct mn_dataset mn_dataset_t;

/* spec: a path, a comma-separated list of paths, or a glob (which must match something).
 * dim: the expected D (0: any); classes: labels must lie in [0, classes) (0: only >= 0).
 * out: *ds. Never logs: failures are statuses with an mn_error message. */
mn_status_t mn_dataset_open(const char *spec, int dim, int classes, mn_dataset_t **ds);
void mn_dataset_close(mn_dataset_t *ds);
int64_t mn_dataset_size(const mn_dataset_t *ds);
int mn_dataset_dim(const mn_dataset_t *ds);
int mn_dataset_nfiles(const mn_dataset_t *ds);
const char *mn_dataset_path(const mn_dataset_t *ds, int file);
int64_t mn_dataset_file_rows(const mn_dataset_t *ds, int file);
/* CRC-32 (zlib) of all labels, int32 in dataset order: with N, D and the row counts of the
 * files, what snapshots record as the dataset's identity. */
uint32_t mn_dataset_label_crc(const mn_dataset_t *ds);
/* Rows whose features the dataset's identity covers: at most this many, at the fixed
 * positions i * (N - 1) / (K - 1), i = 0 .. K - 1 (K = min(N, this); no seed, so that any
 * run on the same files finds the same rows). */
#define MN_DATA_FEATURE_ROWS 16
/* CRC-32 (zlib) of those rows' features (float32 as in memory, little-endian on every
 * machine mn runs on), in row order. The rows are read at the first call only; later calls
 * answer the kept value. out: crc. Errors: those of mn_dataset_read. Not to be called from
 * two threads at once. */
mn_status_t mn_dataset_feature_crc(mn_dataset_t *ds, uint32_t *crc);

/* Rows idx[0..count) in that order (repeats allowed), each in [0, size). out: x[count, D],
 * y[count]. Calls on one handle are serialised by a lock, so any thread may call. */
mn_status_t mn_dataset_read(mn_dataset_t *ds, const int64_t *idx, int count, float *x, int32_t *y);
/* Rows [start, start + count). out: x[count, D], y[count]. */
mn_status_t mn_dataset_read_range(mn_dataset_t *ds, int64_t start, int64_t count, float *x,
                                  int32_t *y);

/* ---- loader ------------------------------------------------------------------------ */

typedef struct mn_loader mn_loader_t;

typedef struct mn_batch {
  const float *x;     /* [count, D] */
  const int32_t *y;   /* [count] */
  int count;          /* = batch */
  int64_t epoch, pos; /* the step's epoch and order position (mn_shard.h) */
} mn_batch_t;

/* Start the reader thread at the step of epoch `epoch` that starts at order position pos
 * (s * world * batch for step s of a whole epoch; see mn_shard_steps_from), with plan
 * (which the loader copies and owns from here on when this succeeds: pass a fresh plan; on
 * failure it stays the caller's to free). It crosses epoch boundaries on its own, every
 * later epoch starting at position 0. depth >= 1, mn_shard_steps_from(plan, pos) >= 1,
 * plan->n == mn_dataset_size(ds). mem: the device whose host memory (pinned on a GPU) the
 * batch buffers come from, or NULL for plain host memory; it must outlive the loader. */
mn_status_t mn_loader_start(mn_dataset_t *ds, const mn_shard_plan_t *plan, int64_t epoch,
                            int64_t pos, int depth, const mn_device_t *mem, mn_loader_t **loader);
/* The next batch, in order; waits for it. out: batch (valid until mn_loader_release),
 * *wait_s += seconds spent waiting (wait_s may be NULL). Returns the reader's error, with
 * its message, once the batches read before it are taken (and on every call after). */
mn_status_t mn_loader_next(mn_loader_t *loader, mn_batch_t *batch, double *wait_s);
void mn_loader_release(mn_loader_t *loader, mn_batch_t *batch);
/* Stop and join the thread, free everything (the dataset stays open). */
void mn_loader_stop(mn_loader_t *loader);

#ifdef __cplusplus
}
#endif
#endif /* MN_DATA_H */
