/* ranks: 4 */
/* test_dp_equiv.c: data-parallel equivalence (design property 1), gradient accumulation
 * and clipping, through mn_train_run on real MPI ranks.
 *
 * 1. K steps at world 4 with batch b per rank must give the same weights, within 1e-5
 *    relative (max norm), as world 1 with batch 4b over the same global sample order: the
 *    shard plan makes the samples of a global step depend only on world x batch, and the
 *    allreduce averages the per-rank mean gradients.
 * 2. Gradient accumulation (optimizer.accum_steps = A, batch b) gives the weights of one
 *    batch of A x b (accum_steps = 1) over the same data and seed, within 1e-5 relative:
 *    at world 1 and 2, with SGD and AdamW, and with clip_norm small enough to clip every
 *    step. (Without the 1/A of the loss scale the accumulated gradient is A times too
 *    large; at world 2, a micro-batch whose buckets went to the allreduce before the last
 *    one would be summed over the ranks twice.)
 * 3. Clipping in the trainer, one step exactly: with momentum 0 and no decay a step moves
 *    w by -lr g, so a step without clipping gives the mean gradient g (its global norm
 *    |g| over every tensor); the same step with clip_norm c must move w by exactly
 *    -lr g c / (|g| + 1e-6). At world 1 and 2, with 2 micro-batches: the norm is that of
 *    the whole summed gradient, after the allreduce.
 * 4. The same for a GPT (model.type = gpt, a token file written here with the HDF5 API):
 *    world 4 x batch b and world 2 x batch 2b against world 1 x batch 4b, and accumulation
 *    (accum_steps 2 x batch b against 1 x 2b) at world 1 and 2, with AdamW, weight decay,
 *    clip_norm small enough to clip, warm-up and cosine, within 1e-5 relative. One set of
 *    entries is compared apart: the key biases of attention (the middle third of each
 *    h.<i>.attn.c_attn.bias). Adding a constant to every key of a query moves all its scores
 *    alike, so the softmax ignores it: their gradient is 0 up to rounding, and the AdamW step
 *    of a rounding-noise gradient is decided by the noise (up to lr a step, its sign by the
 *    order of the sums, which the world size changes). They cannot change the loss, so they
 *    feed nothing back into the other weights; they are held to the bound of such steps,
 *    2 x (sum of the steps' lr), and the rest to 1e-5.
 * The runs cross epoch boundaries and use shuffling, momentum, weight decay, warm-up and a
 * cosine schedule, so that any rank-dependent drift would show. */
#include <float.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mn_config.h"
#include "mn_kernels.h"
#include "mn_model.h"
#include "mn_rng.h"
#include "mn_test.h"
#include "mn_train.h"

enum { N = 200, D = 12, C = 4, B = 5, K = 23 };

static void write_data(const char *path) {
  float *x = malloc(sizeof(float) * N * D);
  int32_t y[N];
  mn_rng_t rng;
  mn_rng_seed(&rng, 7, 0, 0);
  for (int i = 0; i < N; i++) {
    double best = -1e30;
    for (int j = 0; j < D; j++) x[i * D + j] = (float)mn_rng_normal(&rng);
    for (int c = 0; c < C; c++) { /* a fixed linear teacher */
      double s = 0;
      for (int j = 0; j < D; j++) s += x[i * D + j] * sin(1.0 + c * D + j);
      if (s > best) best = s, y[i] = c;
    }
  }
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dx[2] = {N, D}, dy[1] = {N};
  hid_t sx = H5Screate_simple(2, dx, NULL), sy = H5Screate_simple(1, dy, NULL);
  hid_t ax = H5Dcreate2(f, "x", H5T_IEEE_F32LE, sx, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t ay = H5Dcreate2(f, "y", H5T_STD_I32LE, sy, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(ax, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
  H5Dwrite(ay, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, y);
  H5Dclose(ax), H5Dclose(ay), H5Sclose(sx), H5Sclose(sy), H5Fclose(f);
  free(x);
}

/* A run of conf with the overrides sets[0, n) ("section.key=value") on comm: its final
 * parameters (NULL when it failed), *n their count. */
static float *train(const char *conf, const char *const *sets, int nsets, MPI_Comm comm,
                    int64_t *n) {
  mn_config_t *cfg = calloc(1, sizeof *cfg);
  char err[512];
  mn_status_t st = mn_config_load(conf, sets, nsets, cfg, err, sizeof err);
  CHECK_MSG(st == MN_OK, "%s", err);
  mn_train_result_t res;
  memset(&res, 0, sizeof res);
  if (st == MN_OK) {
    st = mn_train_run(cfg, comm, 1, &res);
    CHECK_MSG(st == MN_OK, "training failed: %s", mn_error_message());
  }
  free(cfg);
  *n = res.nparams;
  return st == MN_OK ? res.params : NULL;
}

/* One of the two sides of a comparison: a batch size, and the overrides of its case. */
static float *train_batch(const char *conf, int batch, const char *const *sets, int nsets,
                          MPI_Comm comm, int64_t *n) {
  char set_batch[64];
  const char *all[16];
  snprintf(set_batch, sizeof set_batch, "data.batch_size=%d", batch);
  all[0] = set_batch;
  for (int i = 0; i < nsets && i < 15; i++) all[1 + i] = sets[i];
  return train(conf, all, 1 + nsets, comm, n);
}

/* max |a - b| / max |b| (and max |b - w0| / max |b|: how far training moved b) */
static double rel_diff(const float *a, const float *b, const float *w0, int64_t n, double *moved) {
  double diff = 0, ref = 0, mv = 0;
  for (int64_t i = 0; i < n; i++) {
    diff = fmax(diff, fabs((double)a[i] - b[i]));
    ref = fmax(ref, fabs((double)b[i]));
    mv = fmax(mv, fabs((double)b[i] - w0[i]));
  }
  *moved = mv / ref;
  return diff / ref;
}

/* a and b (A runs, B the reference), both of n parameters, agree within 1e-5 relative, and
 * training moved b away from w0 by more than 1% */
static void check_same(const char *what, const float *a, const float *b, int64_t na, int64_t nb,
                       const float *w0, int64_t n0) {
  CHECK_MSG(a && b && w0 && na == nb && nb == n0, "%s: runs missing or of other sizes", what);
  if (!a || !b || !w0 || na != nb || nb != n0) return;
  double moved, rel = rel_diff(a, b, w0, nb, &moved);
  fprintf(stderr, "%s: relative difference %.3g; training moved the weights by up to %.3g\n", what,
          rel, moved);
  CHECK_MSG(rel <= 1e-5, "%s: relative difference %.3g", what, rel);
  CHECK_MSG(moved > 1e-2, "%s: training barely moved the weights (%.3g)", what, moved);
}

/* The initial weights (one step at lr 1e-30), for a sense of how far training moved them
 * and for the exact clipping check. Rank 0, world 1. */
static float *initial_weights(const char *conf, int64_t *n) {
  const char *sets[] = {"schedule.max_steps=1", "optimizer.lr=1e-30", "optimizer.momentum=0",
                        "optimizer.weight_decay=0", "schedule.warmup_steps=0"};
  return train(conf, sets, 5, MPI_COMM_SELF, n);
}

/* the cases of the accumulation check (2.): the overrides besides batch and accum_steps */
typedef struct accum_case {
  const char *name;
  const char *sets[5];
  int nsets;
} accum_case_t;

static const accum_case_t accum_cases[] = {
    {"sgd", {"optimizer.kind=sgd"}, 1},
    {"adamw", {"optimizer.kind=adamw", "optimizer.lr=0.01", "optimizer.weight_decay=0.01"}, 3},
    {"sgd, clip_norm 0.05", {"optimizer.kind=sgd", "optimizer.clip_norm=0.05"}, 2},
    {"adamw, clip_norm 0.05",
     {"optimizer.kind=adamw", "optimizer.lr=0.01", "optimizer.weight_decay=0.01",
      "optimizer.clip_norm=0.05"},
     4},
};
enum { NCASES = sizeof accum_cases / sizeof accum_cases[0], A = 3 };

/* Both sides of every accumulation case on comm (world 1 or 2); rank 0 of comm compares. */
static void check_accum(const char *conf, MPI_Comm comm, const float *w0, int64_t n0) {
  int world, rank;
  MPI_Comm_size(comm, &world);
  MPI_Comm_rank(comm, &rank);
  float *unclipped[2] = {NULL, NULL};
  int64_t nun[2] = {0, 0};
  for (int c = 0; c < NCASES; c++) {
    const accum_case_t *ac = &accum_cases[c];
    const char *sets[8];
    char accum[64], what[160];
    snprintf(accum, sizeof accum, "optimizer.accum_steps=%d", A);
    for (int i = 0; i < ac->nsets; i++) sets[i] = ac->sets[i];
    sets[ac->nsets] = accum;
    int64_t na = 0, nb = 0;
    float *a = train_batch(conf, B, sets, ac->nsets + 1, comm, &na); /* A x B */
    float *b = train_batch(conf, A * B, sets, ac->nsets, comm, &nb); /* 1 x A B */
    if (rank == 0) {
      snprintf(what, sizeof what, "world %d, %s: accum_steps %d x batch %d vs batch %d", world,
               ac->name, A, B, A * B);
      check_same(what, a, b, na, nb, w0, n0);
      /* the clipped cases (the unclipped ones plus clip_norm) really clip: far from the
       * unclipped run of the same kind */
      if (c < 2) {
        unclipped[c] = b, nun[c] = nb, b = NULL;
      } else if (b && unclipped[c - 2] && nb == nun[c - 2]) {
        double moved, rel = rel_diff(b, unclipped[c - 2], w0, nb, &moved);
        fprintf(stderr, "%s: %.3g relative from the unclipped run\n", what, rel);
        CHECK_MSG(rel > 1e-3, "%s: clipping changed nothing (relative %.3g from the unclipped run)",
                  what, rel);
      }
    }
    free(a);
    free(b);
  }
  free(unclipped[0]);
  free(unclipped[1]);
}

/* One SGD step (momentum 0, no decay, constant lr) on comm, with clip_norm clip: the
 * parameters. */
static float *one_step(const char *conf, const char *clip, MPI_Comm comm, int64_t *n) {
  const char *sets[] = {"schedule.max_steps=1",     "optimizer.momentum=0",
                        "optimizer.weight_decay=0", "schedule.lr_schedule=constant",
                        "schedule.warmup_steps=0",  "optimizer.accum_steps=2",
                        "data.batch_size=5",        clip};
  return train(conf, sets, 8, comm, n);
}

/* Check 3 on comm: rank 0 of comm compares. lr: the config's. */
static void check_clip_step(const char *conf, double lr, MPI_Comm comm, const float *w0,
                            int64_t n0) {
  int world, rank;
  MPI_Comm_size(comm, &world);
  MPI_Comm_rank(comm, &rank);
  int64_t nl = 0, nc = 0;
  float *wl = one_step(conf, "optimizer.clip_norm=0", comm, &nl);
  float *wc = one_step(conf, "optimizer.clip_norm=0.05", comm, &nc);
  if (rank == 0) {
    CHECK(wl && wc && w0 && nl == n0 && nc == n0);
    if (wl && wc && w0 && nl == n0 && nc == n0) {
      double sumsq = 0, ref = 0, diff = 0;
      for (int64_t i = 0; i < n0; i++) {
        double g = ((double)w0[i] - wl[i]) / lr;
        sumsq += g * g;
        ref = fmax(ref, fabs((double)w0[i]));
      }
      double norm = sqrt(sumsq), factor = 0.05 / (norm + 1e-6);
      for (int64_t i = 0; i < n0; i++)
        diff = fmax(diff, fabs((double)wc[i] - (w0[i] + factor * ((double)wl[i] - w0[i]))));
      fprintf(stderr,
              "world %d, one step: gradient norm %.4g, clipped to 0.05 (factor %.4g): max "
              "|diff| from w - lr g factor %.3g (%.3g relative)\n",
              world, norm, factor, diff, diff / ref);
      CHECK_MSG(factor < 0.5, "world %d: the gradient norm %.3g is too small to test clipping",
                world, norm);
      /* the roundings of w0 - lr g (twice) and of the factor: a few float epsilons of |w| */
      CHECK_MSG(diff <= 4 * FLT_EPSILON * ref,
                "world %d: the clipped step is off by %.3g (%.3g relative)", world, diff,
                diff / ref);
    }
  }
  free(wl);
  free(wc);
}

/* ---- 4. the GPT ---------------------------------------------------------------------- */

/* The GPT's shape and data: vocabulary 64 (no padding), context 8, 2 blocks of width 16 and
 * 2 heads; 8 x 50 + 1 tokens are 50 windows, 6 steps of a global batch of 8 an epoch (2
 * windows dropped, others each epoch), so GK steps cross two epoch boundaries. */
enum { GV = 64, GT = 8, GL = 2, GH = 2, GC = 16, GN = GT * 50 + 1, GB = 2, GK = 14 };
static const double glr = 0.01; /* optimizer.lr of the gpt config: a bound of each step's lr */

/* A token stream with structure to learn (each token mostly a function of the last two),
 * uint16 with the attributes of a token dataset (docs/data.md), written with the HDF5 API. */
static void write_tokens(const char *path) {
  uint16_t v[GN];
  mn_rng_t rng;
  mn_rng_seed(&rng, 13, 0, 0);
  v[0] = 1, v[1] = 2;
  for (int i = 2; i < GN; i++)
    v[i] = (uint16_t)(mn_rng_uniform(&rng) < 0.8 ? (v[i - 1] * 5 + v[i - 2] + 3) % GV
                                                 : (int)(mn_rng_uniform(&rng) * GV) % GV);
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims[1] = {GN}, chunk[1] = {128};
  hid_t space = H5Screate_simple(1, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, chunk);
  hid_t d = H5Dcreate2(f, "tokens", H5T_STD_U16LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  hid_t as = H5Screate(H5S_SCALAR), str = H5Tcopy(H5T_C_S1);
  int vocab = GV;
  hid_t a = H5Acreate2(d, "vocab_size", H5T_STD_I32LE, as, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_INT, &vocab);
  H5Aclose(a);
  H5Tset_size(str, 5);
  a = H5Acreate2(d, "tokenizer", str, as, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, str, "byte");
  H5Aclose(a), H5Tclose(str), H5Sclose(as), H5Dclose(d), H5Pclose(dcpl), H5Sclose(space);
  H5Fclose(f);
}

/* Which entries of the parameters (every tensor's values in the registry's order, as
 * mn_train_run copies them out) are key biases: mask[i] = 1. */
static char *key_bias_mask(int64_t *n) {
  mn_gpt_shape_t g = {GV, GT, GL, GH, GC};
  mn_model_spec_t spec;
  mn_model_t m;
  char *mask = NULL;
  *n = 0;
  if (mn_model_spec_gpt(&g, &spec) != MN_OK ||
      mn_model_init(&m, mn_kernels_cpu(), NULL, &spec, 1, 1, NULL) != MN_OK) {
    CHECK_MSG(0, "gpt: cannot build the model: %s", mn_error_message());
    return NULL;
  }
  mask = calloc((size_t)m.tensors.values, 1);
  int found = 0;
  for (int i = 0, at = 0; mask && i < m.tensors.n; at += (int)m.tensors.t[i].count, i++) {
    const mn_tensor_t *t = &m.tensors.t[i];
    size_t len = strlen(t->name), sfx = strlen(".attn.c_attn.bias");
    if (len > sfx && !strcmp(t->name + len - sfx, ".attn.c_attn.bias")) {
      CHECK(t->count == 3 * GC);
      memset(mask + at + GC, 1, GC); /* q, k, v: the middle third */
      found++;
    }
  }
  CHECK_MSG(found == GL, "gpt: %d attn.c_attn.bias tensors, want %d", found, GL);
  *n = m.tensors.values;
  mn_model_free(&m);
  return mask;
}

/* Like check_same, the key biases (mask) apart: those within 2 x the sum of the steps' lr
 * (at most glr each) of b, the rest within 1e-5 relative (max norm over the rest). */
static void check_same_gpt(const char *what, const float *a, const float *b, int64_t na, int64_t nb,
                           const float *w0, int64_t n0, const char *mask, int64_t nm) {
  CHECK_MSG(a && b && w0 && mask && na == nb && nb == n0 && nb == nm,
            "%s: runs missing or of other sizes", what);
  if (!a || !b || !w0 || !mask || na != nb || nb != n0 || nb != nm) return;
  double diff = 0, ref = 0, mv = 0, kdiff = 0;
  for (int64_t i = 0; i < nb; i++) {
    if (mask[i]) {
      kdiff = fmax(kdiff, fabs((double)a[i] - b[i]));
      continue;
    }
    diff = fmax(diff, fabs((double)a[i] - b[i]));
    ref = fmax(ref, fabs((double)b[i]));
    mv = fmax(mv, fabs((double)b[i] - w0[i]));
  }
  double rel = diff / ref, moved = mv / ref;
  fprintf(stderr,
          "%s: relative difference %.3g (key biases apart: max |diff| %.3g); training moved "
          "the weights by up to %.3g\n",
          what, rel, kdiff, moved);
  CHECK_MSG(rel <= 1e-5, "%s: relative difference %.3g", what, rel);
  CHECK_MSG(kdiff <= 2 * glr * GK, "%s: key biases differ by %.3g", what, kdiff);
  CHECK_MSG(moved > 1e-2, "%s: training barely moved the weights (%.3g)", what, moved);
}

/* Sets common to every gpt run besides the config's: clip_norm (on, or 0 for the check that
 * clipping happens), batch size, accumulation. */
static float *train_gpt(const char *conf, int batch, int accum, const char *clip, MPI_Comm comm,
                        int64_t *n) {
  char sb[64], sa[64];
  snprintf(sb, sizeof sb, "data.batch_size=%d", batch);
  snprintf(sa, sizeof sa, "optimizer.accum_steps=%d", accum);
  const char *sets[] = {sb, sa, clip};
  return train(conf, sets, clip ? 3 : 2, comm, n);
}

/* Check 4 on MPI_COMM_WORLD (4 ranks; pair: ranks 0 and 1); rank 0 compares. The runs on
 * several ranks first, then rank 0's own (the others wait in no collective meanwhile). */
static void check_gpt(const char *conf, MPI_Comm pair) {
  int rank, world;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  int64_t n4 = 0, n2 = 0, na2 = 0, nb2 = 0;
  float *w2 = NULL, *a2 = NULL, *b2 = NULL;
  /* world 4 x batch GB; world 2 x batch 2 GB; at world 2, accum_steps 2 x GB and 1 x 2 GB */
  float *w4 = train_gpt(conf, GB, 1, NULL, MPI_COMM_WORLD, &n4);
  if (pair != MPI_COMM_NULL) {
    w2 = train_gpt(conf, world / 2 * GB, 1, NULL, pair, &n2);
    a2 = train_gpt(conf, GB, 2, NULL, pair, &na2);
    b2 = train_gpt(conf, 2 * GB, 1, NULL, pair, &nb2);
  }
  if (rank == 0) {
    int64_t n0 = 0, n1 = 0, nm = 0, nu = 0, na = 0, nb = 0;
    char what[160];
    float *w0 = initial_weights(conf, &n0);
    char *mask = key_bias_mask(&nm);
    float *w1 = train_gpt(conf, world * GB, 1, NULL, MPI_COMM_SELF, &n1);
    snprintf(what, sizeof what, "gpt: world %d x batch %d vs world 1 x batch %d after %d steps",
             world, GB, world * GB, GK);
    check_same_gpt(what, w4, w1, n4, n1, w0, n0, mask, nm);
    snprintf(what, sizeof what, "gpt: world 2 x batch %d vs world 1 x batch %d after %d steps",
             world / 2 * GB, world * GB, GK);
    check_same_gpt(what, w2, w1, n2, n1, w0, n0, mask, nm);
    snprintf(what, sizeof what, "gpt: world 2, accum_steps 2 x batch %d vs batch %d", GB, 2 * GB);
    check_same_gpt(what, a2, b2, na2, nb2, w0, n0, mask, nm);
    float *a = train_gpt(conf, GB, 2, NULL, MPI_COMM_SELF, &na);
    float *b = train_gpt(conf, 2 * GB, 1, NULL, MPI_COMM_SELF, &nb);
    snprintf(what, sizeof what, "gpt: world 1, accum_steps 2 x batch %d vs batch %d", GB, 2 * GB);
    check_same_gpt(what, a, b, na, nb, w0, n0, mask, nm);
    /* the reference clips: the same run without clipping ends far from it */
    float *wu = train_gpt(conf, world * GB, 1, "optimizer.clip_norm=0", MPI_COMM_SELF, &nu);
    CHECK(wu && w1 && w0 && nu == n1 && n0 == n1);
    if (wu && w1 && w0 && nu == n1 && n0 == n1) {
      double moved, rel = rel_diff(wu, w1, w0, n1, &moved);
      fprintf(stderr, "gpt: the unclipped run is %.3g relative from the clipped one\n", rel);
      CHECK_MSG(rel > 1e-3, "gpt: clipping changed nothing (%.3g relative)", rel);
    }
    free(wu);
    free(a);
    free(b);
    free(w0);
    free(w1);
    free(mask);
  }
  free(w4);
  free(w2);
  free(a2);
  free(b2);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, world;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  char dir[256] = "/tmp/mn_equiv_XXXXXX", conf[300], data[300], gconf[300];
  const double lr = 0.2;
  if (rank == 0) {
    CHECK(mkdtemp(dir) != NULL);
    snprintf(data, sizeof data, "%s/d.h5", dir);
    write_data(data);
    snprintf(conf, sizeof conf, "%s/t.conf", dir);
    FILE *f = fopen(conf, "w");
    fprintf(f,
            "[model]\nlayers = %d,16,9,%d\nseed = 3\n"
            "[data]\ntrain = %s\nblock_size = 8\nshuffle_blocks = 3\nseed = 11\n"
            "[optimizer]\nlr = %g\nmomentum = 0.9\nweight_decay = 0.001\n"
            "[schedule]\nepochs = 100\nmax_steps = %d\nlr_schedule = cosine\n"
            "warmup_steps = 4\n"
            "[comm]\nbucket_mb = 0.001\n"
            "[log]\nprogress = off\n"
            "[snapshot]\nenabled = false\n", /* many runs of one config: none resumes */
            D, C, data, lr, K);
    fclose(f);
    snprintf(data, sizeof data, "%s/tokens.h5", dir);
    write_tokens(data);
    snprintf(gconf, sizeof gconf, "%s/gpt.conf", dir);
    f = fopen(gconf, "w");
    fprintf(f,
            "[model]\ntype = gpt\nvocab = %d\ncontext = %d\nlayers = %d\nheads = %d\n"
            "width = %d\nseed = 5\n"
            "[data]\ntrain = %s\nbatch_size = %d\nblock_size = 4\nshuffle_blocks = 3\nseed = 17\n"
            "[optimizer]\nkind = adamw\nlr = %g\nweight_decay = 0.01\nclip_norm = 0.7\n"
            "[schedule]\nepochs = 100\nmax_steps = %d\nlr_schedule = cosine\n"
            "warmup_steps = 3\n"
            "[comm]\nbucket_mb = 0.001\n"
            "[log]\nprogress = off\n"
            "[snapshot]\nenabled = false\n",
            GV, GT, GL, GH, GC, data, 4 * GB, glr, GK);
    fclose(f);
  }
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  snprintf(conf, sizeof conf, "%s/t.conf", dir);
  snprintf(gconf, sizeof gconf, "%s/gpt.conf", dir);
  /* ranks 0 and 1: the world-2 runs */
  MPI_Comm pair;
  MPI_Comm_split(MPI_COMM_WORLD, rank < 2 ? 0 : MPI_UNDEFINED, rank, &pair);

  float *w0 = NULL;
  int64_t n0 = 0;
  if (rank == 0) w0 = initial_weights(conf, &n0);

  /* 1. world 4 x batch B against world 1 x batch 4B */
  int64_t n4 = 0, n1 = 0;
  float *w4 = train_batch(conf, B, NULL, 0, MPI_COMM_WORLD, &n4);
  if (rank == 0) {
    float *w1 = train_batch(conf, world * B, NULL, 0, MPI_COMM_SELF, &n1);
    char what[128];
    snprintf(what, sizeof what, "world %d x batch %d vs world 1 x batch %d after %d steps", world,
             B, world * B, K);
    check_same(what, w4, w1, n4, n1, w0, n0);
    free(w1);
  }
  free(w4);

  /* 2. accumulation, and 3. clipping in the trainer, at world 2 and at world 1 */
  if (pair != MPI_COMM_NULL) {
    check_accum(conf, pair, w0, n0);
    check_clip_step(conf, lr, pair, w0, n0);
    MPI_Comm_free(&pair);
  }
  if (rank == 0) {
    check_accum(conf, MPI_COMM_SELF, w0, n0);
    check_clip_step(conf, lr, MPI_COMM_SELF, w0, n0);
  }
  free(w0);

  /* 4. the GPT: every rank takes part (world 4, and ranks 0 and 1 at world 2) */
  MPI_Comm_split(MPI_COMM_WORLD, rank < 2 ? 0 : MPI_UNDEFINED, rank, &pair);
  check_gpt(gconf, pair);
  if (pair != MPI_COMM_NULL) MPI_Comm_free(&pair);
  if (rank == 0) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
  }
  int failures = mn_test_failures;
  MPI_Bcast(&failures, 1, MPI_INT, 0, MPI_COMM_WORLD);
  mn_test_failures = failures;
  MPI_Finalize();
  return rank == 0 ? mn_test_result("test_dp_equiv") : (failures ? 1 : 0);
}
