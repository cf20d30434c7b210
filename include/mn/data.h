/* mn/data.h: a trainer's input: an HDF5 dataset read in batches, each rank its own share,
 * in an order that a resume continues exactly.
 *
 * Two kinds of dataset, mntrain's (docs/data.md): samples (each file /x float32 [n, D] and
 * /y int32 [n]) and token streams (each file /tokens uint16 or int32 [n] with the
 * attribute vocab_size), read as windows of context + 1 tokens: a row's x is a window's
 * first context tokens and its y the next token of each (int32 both). One file, a
 * comma-separated list or a glob are read as one dataset, the files one after another.
 *
 * The shard plan: each epoch, a global order of the rows is drawn from (seed, epoch), the
 * same on every rank and at any world size (blocks of block_size rows permuted, then rows
 * permuted inside windows of shuffle_blocks blocks, so that reads stay contiguous). Step s
 * of an epoch takes order positions [s x G, (s + 1) x G), G = world x batch, and rank r the
 * batch rows at s x G + r x batch: the rows of a global step depend on G alone, and every
 * rank runs the same number of steps per epoch (the last partial step dropped, or padded
 * by wrapping round). A thread per rank reads batches ahead of the step.
 *
 * Resume: the position of the next batch is (epoch, order position), which mn_data_save
 * keeps among a snapshot's attributes (mn/state.h) and mn_data_restore continues from;
 * a resume on another world size continues at the same row of the same epoch's order. */
#ifndef MN_PUBLIC_DATA_H
#define MN_PUBLIC_DATA_H

#include <stddef.h>
#include <stdint.h>

#include <mn/state.h>
#include <mn/status.h>
#include <mn/world.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_data mn_data_t;

typedef struct mn_data_opts {
  int batch;          /* rows per rank per step (>= 1); 0: no batches, rows read with
                         mn_data_read only (a validation set), no shard plan */
  uint64_t seed;      /* of the order (any value, 0 too) */
  int in_order;       /* 1: rows in file order every epoch; 0 (default): shuffled */
  int64_t block_size; /* rows per shuffle block; 0: 256 */
  int shuffle_blocks; /* blocks per shuffle window; 0: 16 */
  int pad;            /* 1: an epoch's last step wraps round; 0 (default): dropped */
  int prefetch;       /* batches read ahead; 0: 4 */
} mn_data_opts_t;

/* Collective: open a sample dataset. in: spec (a path, "a.h5,b.h5" or a glob), dim (the
 * features per row D; 0: any), classes (labels must lie in [0, classes); 0: only >= 0),
 * o. out: *d. Every rank returns the same status: MN_ERR_NOINPUT for a missing file,
 * MN_ERR_DATA for a file that is not such a dataset or has fewer rows than one global step
 * (naming the file and what is wrong), MN_ERR_USAGE for a bad option. */
mn_status_t mn_data_open_samples(mn_world_t *w, const char *spec, int dim, int classes,
                                 const mn_data_opts_t *o, mn_data_t **d);

/* Collective: open a token stream for windows of context tokens (>= 1). vocab > 0: every
 * file's vocab_size must be <= vocab. Statuses as mn_data_open_samples; a token outside
 * [0, vocab_size) is found when read, and ends mn_data_next with MN_ERR_DATA. */
mn_status_t mn_data_open_tokens(mn_world_t *w, const char *spec, int context, int vocab,
                                const mn_data_opts_t *o, mn_data_t **d);

/* Stop the reader and close the files (NULL: nothing). */
void mn_data_close(mn_data_t *d);

/* ---- what it is ----------------------------------------------------------------------- */

int64_t mn_data_rows(const mn_data_t *d); /* samples, or windows of a token stream */
int mn_data_x_width(const mn_data_t *d);  /* x elements per row: D floats, or context int32 */
int mn_data_y_width(const mn_data_t *d);  /* y elements per row (int32): 1, or context */
int mn_data_is_tokens(const mn_data_t *d);
int64_t mn_data_steps_per_epoch(const mn_data_t *d); /* of a whole epoch */

/* ---- batches -------------------------------------------------------------------------- */

typedef struct mn_data_batch {
  const void *x;    /* [count, x_width]: float (samples) or int32 (tokens), host memory */
  const int32_t *y; /* [count, y_width] */
  int count;        /* rows: the batch */
  int64_t epoch;    /* the batch's epoch, from 0 */
  int64_t step;     /* its step in that epoch, from 0 */
  int last;         /* 1: the epoch's last step */
  double wait_s;    /* time this call waited for the reader */
} mn_data_batch_t;

/* This rank's next batch, in order, crossing into the next epoch on its own; waits for the
 * reader. out: *b, valid until the next mn_data_next or mn_data_close (host memory, pinned
 * on a GPU so that its copy to the device can be asynchronous). MN_ERR_DATA or MN_ERR_IO
 * when a read failed (naming the file), and on every call after. Not collective: every rank
 * takes the same number of batches per epoch, and a failed read is to be agreed (with
 * mn_grads_fail, or mn_agree) before the step's collectives. */
mn_status_t mn_data_next(mn_data_t *d, mn_data_batch_t *b);

/* The position of the batch mn_data_next returns next: its epoch and the order position
 * its global step starts at (0 <= *pos < rows). Either out may be NULL. */
void mn_data_position(const mn_data_t *d, int64_t *epoch, int64_t *pos);

/* Continue at (epoch, pos), as mn_data_position gave them, perhaps on another world size
 * (a position with no whole step left in its epoch is the next epoch's start).
 * MN_ERR_USAGE for epoch < 0 or pos outside [0, rows). Not collective, but every rank
 * seeks to the same place. */
mn_status_t mn_data_seek(mn_data_t *d, int64_t epoch, int64_t pos);

/* Rows [first, first + count) in file order, into the caller's host buffers x[count,
 * x_width] and y[count, y_width]: for validation, each rank reading its own share.
 * MN_ERR_USAGE for a range outside [0, rows); read errors as mn_data_next. */
mn_status_t mn_data_read(mn_data_t *d, int64_t first, int64_t count, void *x, int32_t *y);

/* ---- resume --------------------------------------------------------------------------- */

/* Keep the position of the next batch, and what identifies the dataset (rows, the order's
 * seed, a CRC of its labels), as attributes "<key>.epoch", "<key>.pos", ... of s, saved
 * with the next mn_state_save: call it just before. key: an attribute name (mn/state.h),
 * "data" say, or "train". */
mn_status_t mn_data_save(const mn_data_t *d, mn_state_t *s, const char *key);

/* After a resume (mn_state_resume): continue where the snapshot's data stood (mn_data_seek).
 * out: *found (may be NULL): 1 when the snapshot held key's position, 0 when it did not
 * (a fresh run; nothing changed). MN_ERR_DATA when it was taken on another dataset or
 * another seed (other rows or labels: its position would mean other rows), nothing changed. */
mn_status_t mn_data_restore(mn_data_t *d, const mn_state_t *s, const char *key, int *found);

#ifdef __cplusplus
}
#endif
#endif /* MN_PUBLIC_DATA_H */
