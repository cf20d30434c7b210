/* mn_shard.h: which samples each rank trains on, step by step (pure arithmetic, no I/O).
 *
 * Each epoch a global order of the N samples is drawn from (seed, epoch), the same on every
 * rank and independent of the world size: the dataset is cut into blocks of block_size
 * consecutive samples, the blocks are permuted, and the samples inside each window of
 * shuffle_blocks consecutive (permuted) blocks are permuted again. Reading a window thus
 * touches only a few contiguous stretches of the file.
 *
 * Global step s of an epoch takes order positions [s*G, (s+1)*G), G = world * batch; rank r
 * takes [s*G + r*batch, s*G + (r+1)*batch). So the set of samples of a global step depends
 * only on G, not on how it is split into ranks (data-parallel equivalence), and every rank
 * runs the same number of steps. steps_per_epoch = N / G (drop) or ceil(N / G) (pad: the
 * last step wraps round to the start of the order). */
#ifndef MN_SHARD_H
#define MN_SHARD_H

#include <stdint.h>

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_shard_opts {
  int64_t block_size; /* samples per block (>= 1) */
  int shuffle_blocks; /* blocks per shuffle window (>= 1) */
  int shuffle;        /* 0: the order is 0..N-1 every epoch */
  int pad;            /* 1: pad the last step by wrapping; 0: drop the remainder */
  uint64_t seed;
} mn_shard_opts_t;

typedef struct mn_shard_plan {
  int64_t n;              /* samples */
  int world, rank, batch; /* batch per rank */
  mn_shard_opts_t opts;
  int64_t steps_per_epoch;
  /* the current epoch's order, built by mn_shard_plan_epoch() */
  int64_t epoch;
  int64_t nblocks;
  int64_t *block_perm;  /* [nblocks] block ids in epoch order */
  int64_t *block_start; /* [nblocks + 1] order position where each permuted block starts */
  /* cache of one window's permutation */
  int64_t win_id;
  int64_t win_len;
  int64_t *win_perm; /* [shuffle_blocks * block_size] */
} mn_shard_plan_t;

/* Fails with MN_ERR_DATA when n < world * batch (a step could not be filled), and with
 * MN_ERR_CONFIG on bad options. out: plan. */
mn_status_t mn_shard_plan_init(int64_t n, int world, int rank, int batch,
                               const mn_shard_opts_t *opts, mn_shard_plan_t *plan);
void mn_shard_plan_free(mn_shard_plan_t *plan);

/* Build the order of an epoch (cheap: O(N / block_size)). */
mn_status_t mn_shard_plan_epoch(mn_shard_plan_t *plan, int64_t epoch);

/* The sample at an order position of the current epoch (0 <= pos < n). */
int64_t mn_shard_sample_at(mn_shard_plan_t *plan, int64_t pos);

/* This rank's samples for step s of the current epoch. out: idx[batch]. */
void mn_shard_step_samples(mn_shard_plan_t *plan, int64_t step, int64_t *idx);

/* A resumed epoch may start at any order position, not only at a multiple of G (a run
 * resumed on another world size continues at the same sample). Steps then start at pos,
 * pos + G, ...: mn_shard_steps_from(plan, pos) of them (the same drop or pad rule applied
 * to the n - pos samples left; 0 when none is left), and mn_shard_samples_at() gives this
 * rank's samples of the step that starts at pos. Step s of a whole epoch starts at s * G. */
int64_t mn_shard_steps_from(const mn_shard_plan_t *plan, int64_t pos);
void mn_shard_samples_at(mn_shard_plan_t *plan, int64_t pos, int64_t *idx);

/* The last i in [0, n) with starts[i] <= v, for ascending starts[0..n) with starts[0] <= v:
 * which block (or file) of a prefix-sum table holds position v. */
int64_t mn_prefix_find(const int64_t *starts, int64_t n, int64_t v);

#ifdef __cplusplus
}
#endif
#endif /* MN_SHARD_H */
