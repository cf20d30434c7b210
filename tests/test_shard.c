/* test_shard.c: the shard plan (runtime/data/shard.c).
 *
 * Every sample is used exactly once per epoch across all ranks (drop: the dropped rest
 * excepted; pad: every sample at least once), every rank runs the same number of steps,
 * the order is reshuffled per epoch and reproducible, and the set of samples of a global
 * step depends only on world x batch (data-parallel equivalence). World sizes 1 to 8,
 * awkward N. */
#include <stdlib.h>
#include <string.h>

#include "mn_shard.h"
#include "mn_test.h"

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* All samples of one epoch, rank by rank and step by step: out[rank][step][i] flattened as
 * out[(step * world + rank) * batch + i], i.e. in global order. Returns steps. */
static int64_t epoch_samples(int64_t n, int world, int batch, const mn_shard_opts_t *o,
                             int64_t epoch, int64_t **out) {
  int64_t steps = -1;
  int64_t *all = NULL;
  for (int r = 0; r < world; r++) {
    mn_shard_plan_t p;
    if (mn_shard_plan_init(n, world, r, batch, o, &p) != MN_OK) {
      free(all);
      return -1;
    }
    if (steps < 0) {
      steps = p.steps_per_epoch;
      all = malloc((size_t)(steps * world * batch) * sizeof *all);
    }
    CHECK(p.steps_per_epoch == steps); /* equal step counts on every rank */
    mn_shard_plan_epoch(&p, epoch);
    for (int64_t s = 0; s < steps; s++) mn_shard_step_samples(&p, s, all + (s * world + r) * batch);
    mn_shard_plan_free(&p);
  }
  *out = all;
  return steps;
}

static void check_coverage(int64_t n, int world, int batch, const mn_shard_opts_t *o) {
  int64_t *s = NULL;
  int64_t steps = epoch_samples(n, world, batch, o, 3, &s);
  CHECK_MSG(steps >= 1, "n=%lld world=%d batch=%d", (long long)n, world, batch);
  if (steps < 1) return;
  int64_t g = (int64_t)world * batch;
  int64_t total = steps * g;
  if (o->pad)
    CHECK(steps == (n + g - 1) / g);
  else
    CHECK(steps == n / g);
  int *seen = calloc((size_t)n, sizeof *seen);
  for (int64_t i = 0; i < total; i++) {
    CHECK_MSG(s[i] >= 0 && s[i] < n, "sample %lld out of range", (long long)s[i]);
    if (s[i] >= 0 && s[i] < n) seen[s[i]]++;
  }
  int64_t once = 0, twice = 0, never = 0;
  for (int64_t i = 0; i < n; i++) {
    once += seen[i] == 1;
    twice += seen[i] == 2;
    never += seen[i] == 0;
    CHECK_MSG(seen[i] <= 2, "sample %lld used %d times", (long long)i, seen[i]);
  }
  if (o->pad) {
    /* every sample at least once; the wrap-around repeats exactly total - n of them */
    CHECK_MSG(never == 0 && twice == total - n, "pad n=%lld world=%d batch=%d never=%lld",
              (long long)n, world, batch, (long long)never);
  } else {
    /* exactly once for the used ones, the rest (fewer than one global batch) dropped */
    CHECK_MSG(once == total && twice == 0 && never == n - total && never < g,
              "drop n=%lld world=%d batch=%d once=%lld never=%lld", (long long)n, world, batch,
              (long long)once, (long long)never);
  }
  free(seen);
  free(s);
}

static void test_coverage(void) {
  const int64_t ns[] = {24, 97, 1000, 1023, 4097};
  const int64_t blocks[] = {1, 5, 64};
  const int windows[] = {1, 3};
  for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
    for (int world = 1; world <= 8; world++)
      for (size_t b = 0; b < sizeof blocks / sizeof *blocks; b++)
        for (size_t w = 0; w < sizeof windows / sizeof *windows; w++)
          for (int pad = 0; pad <= 1; pad++) {
            int batch = 3;
            if (ns[a] < (int64_t)world * batch) continue;
            mn_shard_opts_t o = {blocks[b], windows[w], 1, pad, 42};
            check_coverage(ns[a], world, batch, &o);
          }
}

/* The sample set of global step s is the same for world 4 x batch 3, 2 x 6 and 1 x 12. */
static void test_world_independence(void) {
  mn_shard_opts_t o = {7, 2, 1, 0, 9};
  int64_t n = 500;
  int64_t *a = NULL, *b = NULL, *c = NULL;
  int64_t sa = epoch_samples(n, 4, 3, &o, 1, &a);
  int64_t sb = epoch_samples(n, 2, 6, &o, 1, &b);
  int64_t sc = epoch_samples(n, 1, 12, &o, 1, &c);
  CHECK(sa == sb && sb == sc);
  /* rank slices are consecutive order positions, so the flattened order is identical */
  CHECK(memcmp(a, b, (size_t)(sa * 12) * sizeof *a) == 0);
  CHECK(memcmp(a, c, (size_t)(sa * 12) * sizeof *a) == 0);
  free(a);
  free(b);
  free(c);
}

static void test_reshuffle_and_determinism(void) {
  mn_shard_opts_t o = {16, 4, 1, 0, 5};
  int64_t n = 1000, *e1 = NULL, *e1b = NULL, *e2 = NULL, *seed2 = NULL;
  int64_t steps = epoch_samples(n, 2, 10, &o, 1, &e1);
  epoch_samples(n, 2, 10, &o, 1, &e1b);
  epoch_samples(n, 2, 10, &o, 2, &e2);
  mn_shard_opts_t o2 = o;
  o2.seed = 6;
  epoch_samples(n, 2, 10, &o2, 1, &seed2);
  size_t bytes = (size_t)(steps * 20) * sizeof *e1;
  CHECK(memcmp(e1, e1b, bytes) == 0);   /* same (seed, epoch): same order */
  CHECK(memcmp(e1, e2, bytes) != 0);    /* another epoch: another order */
  CHECK(memcmp(e1, seed2, bytes) != 0); /* another seed: another order */
  /* the order is a real shuffle: few samples stay in place */
  int64_t fixed = 0;
  for (int64_t i = 0; i < steps * 20; i++) fixed += e1[i] == i;
  CHECK_MSG(fixed < 50, "%lld samples in place", (long long)fixed);
  /* and a permutation: sorting gives 0..used-1 minus dropped ones, no duplicates */
  qsort(e1, (size_t)(steps * 20), sizeof *e1, cmp_i64);
  for (int64_t i = 1; i < steps * 20; i++) CHECK(e1[i] != e1[i - 1]);
  free(e1);
  free(e1b);
  free(e2);
  free(seed2);
}

/* Without shuffling the order is the identity: each rank's batch is one contiguous run. */
static void test_no_shuffle_is_sequential(void) {
  mn_shard_opts_t o = {8, 2, 0, 0, 1};
  mn_shard_plan_t p;
  CHECK(mn_shard_plan_init(100, 3, 2, 5, &o, &p) == MN_OK);
  mn_shard_plan_epoch(&p, 0);
  int64_t idx[5];
  mn_shard_step_samples(&p, 2, idx);
  for (int i = 0; i < 5; i++) CHECK(idx[i] == 2 * 15 + 2 * 5 + i);
  mn_shard_plan_free(&p);
}

/* With shuffling, a window of blocks covers whole blocks: the samples of positions
 * [k * window_len, (k + 1) * window_len) come from shuffle_blocks whole blocks. */
static void test_window_locality(void) {
  mn_shard_opts_t o = {10, 3, 1, 0, 77};
  mn_shard_plan_t p;
  CHECK(mn_shard_plan_init(300, 1, 0, 30, &o, &p) == MN_OK);
  mn_shard_plan_epoch(&p, 4);
  for (int64_t w = 0; w < 10; w++) {
    int blocks[30] = {0};
    for (int64_t i = 0; i < 30; i++) blocks[mn_shard_sample_at(&p, w * 30 + i) / 10]++;
    int whole = 0;
    for (int b = 0; b < 30; b++) whole += blocks[b] == 10;
    CHECK_MSG(whole == 3, "window %lld spans %d whole blocks", (long long)w, whole);
  }
  mn_shard_plan_free(&p);
}

static void test_errors(void) {
  mn_shard_opts_t o = {4, 2, 1, 0, 1};
  mn_shard_plan_t p;
  CHECK(mn_shard_plan_init(11, 4, 0, 3, &o, &p) == MN_ERR_DATA); /* 11 < 12 */
  CHECK(strstr(mn_error_message(), "fewer than world x batch") != NULL);
  CHECK(mn_shard_plan_init(12, 4, 0, 3, &o, &p) == MN_OK);
  CHECK(p.steps_per_epoch == 1);
  mn_shard_plan_free(&p);
  CHECK(mn_shard_plan_init(100, 4, 4, 3, &o, &p) == MN_ERR_CONFIG); /* rank >= world */
}

/* Steps from an order position (a resumed epoch): the drop/pad rule on what is left, and
 * the samples of the step at s * G are those of step s. */
static void test_steps_from(void) {
  for (int pad = 0; pad <= 1; pad++) {
    mn_shard_opts_t o = {4, 2, 1, pad, 7};
    mn_shard_plan_t p;
    CHECK(mn_shard_plan_init(50, 2, 1, 6, &o, &p) == MN_OK); /* G = 12 */
    CHECK(mn_shard_steps_from(&p, 0) == p.steps_per_epoch);
    CHECK(mn_shard_steps_from(&p, 17) == (pad ? 3 : 2)); /* 33 left */
    CHECK(mn_shard_steps_from(&p, 48) == (pad ? 1 : 0)); /* 2 left */
    CHECK(mn_shard_steps_from(&p, 50) == 0);
    CHECK(mn_shard_steps_from(&p, -1) == 0);
    mn_shard_plan_epoch(&p, 3);
    int64_t a[6], b[6];
    mn_shard_step_samples(&p, 2, a);
    mn_shard_samples_at(&p, 24, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    mn_shard_plan_free(&p);
  }
}

int main(void) {
  test_coverage();
  test_steps_from();
  test_world_independence();
  test_reshuffle_and_determinism();
  test_no_shuffle_is_sequential();
  test_window_locality();
  test_errors();
  return mn_test_result("test_shard");
}
