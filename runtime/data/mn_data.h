/* mn_data.h: HDF5 datasets as mn reads them (docs/data.md), and the prefetching loader.
 *
 * A dataset is one HDF5 file or several shard files read as one, of one of two kinds:
 *
 * - samples: each file holds /x float32 [n_i, D] and /y int32 [n_i], and the rows of the
 *   files follow one another in the order given (a glob is sorted). Opening checks
 *   everything a run depends on (files exist, both datasets there, ranks, types, equal D,
 *   labels in [0, classes)). A row is D floats and one int32 label.
 * - tokens: each file holds /tokens uint16 or int32 [n_i] (attribute vocab_size), the files
 *   concatenated into one stream. A "row" is a window of a model of context T: window i is
 *   the tokens [i*T, i*T + T + 1) of the stream, x its first T (the inputs) and y its last T
 *   (the targets, shifted by one), both as int32; there are (ntokens - 1) / T of them, and a
 *   window may cross a file boundary. Token values are checked as they are read.
 *
 * The rest of the API (size, shard plans, the loader) sees rows either way. Failures name
 * the file and the dataset: MN_ERR_NOINPUT for a missing file, MN_ERR_DATA otherwise.
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
/* A token dataset (same spec forms) for windows of `context` (>= 1) tokens. vocab > 0: each
 * file's vocab_size must be <= vocab (0: any). Fails when a file lacks /tokens (a sample
 * file says so), has the wrong type or rank, no vocab_size, or when the whole stream is
 * shorter than one window (context + 1 tokens). Cheap: reads no more than the
 * MN_DATA_FEATURE_ROWS fixed windows. out: *ds. Never logs. */
mn_status_t mn_dataset_open_tokens(const char *spec, int context, int vocab, mn_dataset_t **ds);
void mn_dataset_close(mn_dataset_t *ds);
/* Rows: samples, or windows of a token dataset. */
int64_t mn_dataset_size(const mn_dataset_t *ds);
/* x elements per row, 4 bytes each: D (float32) for samples, T (int32) for tokens. */
int mn_dataset_dim(const mn_dataset_t *ds);
/* y elements per row (int32): 1 for samples (the label), T for tokens (the targets). */
int mn_dataset_label_width(const mn_dataset_t *ds);
/* 1 for a token dataset, 0 for samples. */
int mn_dataset_is_tokens(const mn_dataset_t *ds);
int mn_dataset_nfiles(const mn_dataset_t *ds);
const char *mn_dataset_path(const mn_dataset_t *ds, int file);
/* Rows of file `file` for samples; its tokens (the length of /tokens) for tokens. */
int64_t mn_dataset_file_rows(const mn_dataset_t *ds, int file);
/* Samples: CRC-32 (zlib) of all labels, int32 in dataset order. Tokens: CRC-32 of the
 * targets (int32) of the MN_DATA_FEATURE_ROWS fixed windows below, computed at open. With N,
 * D and the row (token) counts of the files, what snapshots record as the dataset's
 * identity. */
uint32_t mn_dataset_label_crc(const mn_dataset_t *ds);
/* Rows (windows) whose features the dataset's identity covers: at most this many, at the fixed
 * positions i * (N - 1) / (K - 1), i = 0 .. K - 1 (K = min(N, this); no seed, so that any
 * run on the same files finds the same rows). */
#define MN_DATA_FEATURE_ROWS 16
/* CRC-32 (zlib) of those rows' features (float32 as in memory, little-endian on every
 * machine mn runs on; for tokens the windows' inputs, int32), in row order. The rows are
 * read at the first call only (tokens: at open); later calls answer the kept value. out: crc.
 * Errors: those of mn_dataset_read. Not to be called from two threads at once. */
mn_status_t mn_dataset_feature_crc(mn_dataset_t *ds, uint32_t *crc);

/* Rows idx[0..count) in that order (repeats allowed), each in [0, size). out: x[count, dim]
 * (float for samples, int32 for tokens), y[count, label_width] (int32). Calls on one
 * handle are serialised by a lock, so any thread may call. */
mn_status_t mn_dataset_read(mn_dataset_t *ds, const int64_t *idx, int count, void *x, int32_t *y);
/* Rows [start, start + count). out: x, y as mn_dataset_read. */
mn_status_t mn_dataset_read_range(mn_dataset_t *ds, int64_t start, int64_t count, void *x,
                                  int32_t *y);

/* ---- loader ------------------------------------------------------------------------ */

typedef struct mn_loader mn_loader_t;

typedef struct mn_batch {
  const void *x;      /* [count, dim]: float (samples) or int32 (tokens) */
  const int32_t *y;   /* [count, label_width] */
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
