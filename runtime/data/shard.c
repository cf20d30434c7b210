/* shard.c: the sample order of an epoch and each rank's slice of it (mn_shard.h).
 *
 * Pure arithmetic over indices: no I/O, no MPI. The epoch's order is stored compactly as
 * a block permutation plus, for the window being read, that window's permutation, so that
 * memory is O(N / block_size + window) rather than O(N). */
#include "mn_shard.h"

#include <stdlib.h>
#include <string.h>

#include "mn_rng.h"

enum { STREAM_BLOCKS = 1, STREAM_WINDOW = 2 };

mn_status_t mn_shard_plan_init(int64_t n, int world, int rank, int batch,
                               const mn_shard_opts_t *opts, mn_shard_plan_t *plan) {
  if (world < 1 || rank < 0 || rank >= world || batch < 1 || opts->block_size < 1 ||
      opts->shuffle_blocks < 1)
    return mn_error(MN_ERR_CONFIG, "shard plan: bad world %d, rank %d, batch %d, block %lld", world,
                    rank, batch, (long long)opts->block_size);
  int64_t global = (int64_t)world * batch;
  if (n < global)
    return mn_error(MN_ERR_DATA,
                    "%lld samples are fewer than world x batch = %d x %d = %lld: not one "
                    "step can be filled",
                    (long long)n, world, batch, (long long)global);

  mn_shard_plan_t p;
  memset(&p, 0, sizeof p);
  p.n = n;
  p.world = world;
  p.rank = rank;
  p.batch = batch;
  p.opts = *opts;
  p.steps_per_epoch = opts->pad ? (n + global - 1) / global : n / global;
  p.epoch = -1;
  p.win_id = -1;
  p.nblocks = (n + opts->block_size - 1) / opts->block_size;
  int64_t win_cap = opts->block_size * opts->shuffle_blocks;
  if (win_cap > n) win_cap = n;
  p.block_perm = malloc((size_t)p.nblocks * sizeof *p.block_perm);
  p.block_start = malloc((size_t)(p.nblocks + 1) * sizeof *p.block_start);
  p.win_perm = malloc((size_t)win_cap * sizeof *p.win_perm);
  if (!p.block_perm || !p.block_start || !p.win_perm) {
    mn_shard_plan_free(&p);
    return mn_error(MN_ERR_NOMEM, "shard plan: out of memory for %lld blocks",
                    (long long)p.nblocks);
  }
  *plan = p;
  return MN_OK;
}

void mn_shard_plan_free(mn_shard_plan_t *plan) {
  free(plan->block_perm);
  free(plan->block_start);
  free(plan->win_perm);
  plan->block_perm = plan->block_start = plan->win_perm = NULL;
}

static int64_t block_len(const mn_shard_plan_t *p, int64_t block) {
  int64_t start = block * p->opts.block_size;
  int64_t end = start + p->opts.block_size;
  return (end > p->n ? p->n : end) - start;
}

mn_status_t mn_shard_plan_epoch(mn_shard_plan_t *plan, int64_t epoch) {
  mn_shard_plan_t *p = plan;
  for (int64_t b = 0; b < p->nblocks; b++) p->block_perm[b] = b;
  if (p->opts.shuffle) {
    mn_rng_t rng;
    mn_rng_seed(&rng, p->opts.seed, STREAM_BLOCKS, (uint64_t)epoch);
    mn_rng_shuffle_i64(&rng, p->block_perm, p->nblocks);
  }
  p->block_start[0] = 0;
  for (int64_t b = 0; b < p->nblocks; b++)
    p->block_start[b + 1] = p->block_start[b] + block_len(p, p->block_perm[b]);
  p->epoch = epoch;
  p->win_id = -1;
  return MN_OK;
}

/* Build the permutation of window w: its positions, in order, mapped to samples. */
static void load_window(mn_shard_plan_t *p, int64_t w) {
  int64_t first = w * p->opts.shuffle_blocks;
  int64_t last = first + p->opts.shuffle_blocks;
  if (last > p->nblocks) last = p->nblocks;
  int64_t len = 0;
  for (int64_t b = first; b < last; b++) {
    int64_t start = p->block_perm[b] * p->opts.block_size;
    int64_t blen = block_len(p, p->block_perm[b]);
    for (int64_t i = 0; i < blen; i++) p->win_perm[len++] = start + i;
  }
  if (p->opts.shuffle) {
    mn_rng_t rng;
    mn_rng_seed(&rng, p->opts.seed ^ 0x5bd1e995u, STREAM_WINDOW + (uint64_t)p->epoch * 4,
                (uint64_t)w);
    mn_rng_shuffle_i64(&rng, p->win_perm, len);
  }
  p->win_id = w;
  p->win_len = len;
}

int64_t mn_prefix_find(const int64_t *starts, int64_t n, int64_t v) {
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2;
    if (starts[mid] <= v)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

int64_t mn_shard_sample_at(mn_shard_plan_t *plan, int64_t pos) {
  mn_shard_plan_t *p = plan;
  int64_t b = mn_prefix_find(p->block_start, p->nblocks, pos); /* the permuted block */
  int64_t w = b / p->opts.shuffle_blocks;
  if (w != p->win_id) load_window(p, w);
  int64_t win_start = p->block_start[w * p->opts.shuffle_blocks];
  return p->win_perm[pos - win_start];
}

void mn_shard_samples_at(mn_shard_plan_t *plan, int64_t pos, int64_t *idx) {
  int64_t base = pos + (int64_t)plan->rank * plan->batch;
  for (int i = 0; i < plan->batch; i++) idx[i] = mn_shard_sample_at(plan, (base + i) % plan->n);
}

void mn_shard_step_samples(mn_shard_plan_t *plan, int64_t step, int64_t *idx) {
  mn_shard_samples_at(plan, step * (int64_t)plan->world * plan->batch, idx);
}

int64_t mn_shard_steps_from(const mn_shard_plan_t *plan, int64_t pos) {
  int64_t global = (int64_t)plan->world * plan->batch, left = plan->n - pos;
  if (pos < 0 || left <= 0) return 0;
  return plan->opts.pad ? (left + global - 1) / global : left / global;
}
