/* prep_teacher.c: mnprep teacher, a synthetic set labelled by a fixed random network.
 *
 * Rows x = z A + noise with a latent z, labelled by argmax of relu(z W1 + b1) W2 + b2, b2
 * balancing the classes (docs/data.md). Every random number comes from a stream named by
 * (seed, purpose, row), so the rows do not depend on --shards. Plain double arithmetic:
 * the labels do not depend on a BLAS build. It writes through prep_out.c and reads nothing. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mn_rng.h"
#include "prep.h"

typedef struct teacher_opts {
  const char *out;
  int64_t samples, val;
  int dim, classes, hidden, shards, latent;
  int64_t chunk;
  uint64_t seed;
} teacher_opts_t;

typedef struct teacher {
  int dim, hidden, classes;
  int latent;  /* 0: the teacher sees x itself */
  int in;      /* the teacher's input size: latent, or dim */
  double *mix; /* [latent, dim] */
  double *w1;  /* [in, hidden] */
  double *b1;  /* [hidden] */
  double *w2;  /* [hidden, classes] */
  double *b2;  /* [classes] */
  double *h;   /* [hidden] scratch */
  double *z;   /* [classes] scratch */
} teacher_t;

static void teacher_free(teacher_t *t) {
  free(t->mix);
  free(t->w1);
  free(t->b1);
  free(t->w2);
  free(t->b2);
  free(t->h);
  free(t->z);
}

/* logits z = relu(u W1 + b1) W2 (without b2) of the teacher input u (the latent, or x).
 * Plain double loops: the labels must not depend on a BLAS build. */
static void teacher_logits(teacher_t *t, const float *x, double *z) {
  int H = t->hidden, C = t->classes;
  for (int k = 0; k < H; k++) t->h[k] = t->b1[k];
  for (int d = 0; d < t->in; d++) {
    double xd = x[d];
    const double *w = t->w1 + (size_t)d * H;
    for (int k = 0; k < H; k++) t->h[k] += xd * w[k];
  }
  for (int c = 0; c < C; c++) z[c] = 0;
  for (int k = 0; k < H; k++) {
    double hk = t->h[k] > 0 ? t->h[k] : 0;
    const double *w = t->w2 + (size_t)k * C;
    for (int c = 0; c < C; c++) z[c] += hk * w[c];
  }
}

static int argmax_biased(const double *z, const double *b, int n) {
  int best = 0;
  for (int c = 1; c < n; c++)
    if (z[c] + b[c] > z[best] + b[best]) best = c;
  return best;
}

static int32_t teacher_label(teacher_t *t, const float *x) {
  teacher_logits(t, x, t->z);
  return argmax_biased(t->z, t->b2, t->classes);
}

/* The teacher input u[t->in] of a row (the latent, or x itself). */
static void draw_input(const teacher_t *t, uint64_t seed, int stream, int64_t row, float *u) {
  mn_rng_t rng;
  mn_rng_seed(&rng, seed, (uint64_t)stream, (uint64_t)row);
  for (int d = 0; d < t->in; d++) u[d] = (float)mn_rng_normal(&rng);
}

/* A row: its teacher input u, and x = u A + noise (x = u without a latent). */
static void draw_row(const teacher_t *t, uint64_t seed, int stream, int64_t row, float *u,
                     float *x) {
  draw_input(t, seed, stream, row, u);
  if (!t->latent) {
    memcpy(x, u, (size_t)t->dim * sizeof *x);
    return;
  }
  mn_rng_t rng;
  mn_rng_seed(&rng, seed ^ 0x9e3779b97f4a7c15ULL, (uint64_t)stream, (uint64_t)row);
  for (int d = 0; d < t->dim; d++) {
    double v = 0.5 * mn_rng_normal(&rng);
    for (int l = 0; l < t->latent; l++) v += u[l] * t->mix[(size_t)l * t->dim + d];
    x[d] = (float)v;
  }
}

/* b2 that balances the classes: start from minus the mean logit over a calibration draw,
 * then nudge each class's bias by the log of its share until the shares even out. */
static mn_status_t teacher_balance(teacher_t *t, uint64_t seed) {
  enum { M = 4096, ROUNDS = 60 };
  int C = t->classes;
  double *zs = malloc((size_t)M * C * sizeof *zs);
  float *x = malloc((size_t)t->in * sizeof *x);
  int *cnt = malloc((size_t)C * sizeof *cnt);
  if (!zs || !x || !cnt) {
    free(zs);
    free(x);
    free(cnt);
    return mn_error(MN_ERR_NOMEM, "out of memory");
  }
  double sd = 0;
  for (int c = 0; c < C; c++) t->b2[c] = 0;
  for (int i = 0; i < M; i++) {
    draw_input(t, seed, STREAM_CALIB, i, x);
    teacher_logits(t, x, zs + (size_t)i * C);
    for (int c = 0; c < C; c++) t->b2[c] -= zs[(size_t)i * C + c] / M;
  }
  for (int i = 0; i < M; i++)
    for (int c = 0; c < C; c++) {
      double v = zs[(size_t)i * C + c] + t->b2[c];
      sd += v * v;
    }
  sd = sqrt(sd / ((double)M * C));
  for (int round = 0; round < ROUNDS; round++) {
    for (int c = 0; c < C; c++) cnt[c] = 0;
    for (int i = 0; i < M; i++) cnt[argmax_biased(zs + (size_t)i * C, t->b2, C)]++;
    for (int c = 0; c < C; c++) {
      double share = (cnt[c] + 0.5) / ((double)M / C + 0.5);
      t->b2[c] -= 0.3 * sd * log(share);
    }
  }
  free(zs);
  free(x);
  free(cnt);
  return MN_OK;
}

static mn_status_t teacher_init(teacher_t *t, const teacher_opts_t *o) {
  memset(t, 0, sizeof *t);
  t->dim = o->dim;
  t->hidden = o->hidden;
  t->classes = o->classes;
  t->latent = o->latent;
  t->in = o->latent ? o->latent : o->dim;
  size_t D = (size_t)t->in, H = (size_t)o->hidden, C = (size_t)o->classes;
  size_t L = (size_t)o->latent;
  t->mix = malloc((L ? L : 1) * (size_t)o->dim * sizeof *t->mix);
  t->w1 = malloc(D * H * sizeof *t->w1);
  t->b1 = malloc(H * sizeof *t->b1);
  t->w2 = malloc(H * C * sizeof *t->w2);
  t->b2 = malloc(C * sizeof *t->b2);
  t->h = malloc(H * sizeof *t->h);
  t->z = malloc(C * sizeof *t->z);
  if (!t->mix || !t->w1 || !t->b1 || !t->w2 || !t->b2 || !t->h || !t->z) {
    teacher_free(t);
    return mn_error(MN_ERR_NOMEM, "out of memory for a teacher of %d x %d x %d", o->dim, o->hidden,
                    o->classes);
  }
  mn_rng_t rng;
  mn_rng_seed(&rng, o->seed, STREAM_MIX, 0); /* rows of unit variance before the noise */
  for (size_t i = 0; i < L * (size_t)o->dim; i++) t->mix[i] = mn_rng_normal(&rng) / sqrt((double)L);
  mn_rng_seed(&rng, o->seed, STREAM_W1, 0);
  for (size_t i = 0; i < D * H; i++) t->w1[i] = mn_rng_normal(&rng) * sqrt(2.0 / (double)D);
  mn_rng_seed(&rng, o->seed, STREAM_B1, 0);
  for (size_t i = 0; i < H; i++) t->b1[i] = mn_rng_normal(&rng) * 0.1;
  mn_rng_seed(&rng, o->seed, STREAM_W2, 0);
  for (size_t i = 0; i < H * C; i++) t->w2[i] = mn_rng_normal(&rng) * sqrt(1.0 / (double)H);
  return teacher_balance(t, o->seed);
}

/* Rows [first, first + n) of a stream into o, chunk rows at a time. */
static mn_status_t teacher_fill(teacher_t *t, const teacher_opts_t *opt, int stream, int64_t first,
                                int64_t n, out_file_t *o) {
  int64_t chunk = opt->chunk < n ? opt->chunk : n;
  if (chunk < 1024 && n >= 1024) chunk = 1024; /* fewer, larger writes */
  float *x = malloc((size_t)chunk * (size_t)t->dim * sizeof *x);
  float *u = malloc((size_t)t->in * sizeof *u);
  int32_t *y = malloc((size_t)chunk * sizeof *y);
  mn_status_t st = MN_OK;
  if (!x || !u || !y) st = mn_error(MN_ERR_NOMEM, "out of memory");
  for (int64_t done = 0; st == MN_OK && done < n; done += chunk) {
    int64_t m = n - done < chunk ? n - done : chunk;
    for (int64_t i = 0; i < m; i++) {
      float *row = x + (size_t)i * t->dim;
      draw_row(t, opt->seed, stream, first + done + i, u, row);
      y[i] = teacher_label(t, u);
    }
    st = out_append(o, x, y, m, t->classes);
  }
  free(x);
  free(u);
  free(y);
  return st;
}

static mn_status_t teacher_run(const teacher_opts_t *opt) {
  if (opt->shards > opt->samples)
    return mn_error(MN_ERR_USAGE, "--shards %d is more than --samples %lld", opt->shards,
                    (long long)opt->samples);
  int nout = opt->shards + (opt->val > 0 ? 1 : 0);
  out_file_t *outs = calloc((size_t)nout, sizeof *outs);
  if (!outs) return mn_error(MN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < nout; i++) out_init(&outs[i]);
  teacher_t t;
  mn_status_t st = teacher_init(&t, opt);
  if (st != MN_OK) {
    free(outs);
    return st;
  }
  char path[PATH_MAX];
  for (int k = 0; k < opt->shards && st == MN_OK; k++) {
    if (opt->shards == 1)
      snprintf(path, sizeof path, "%s-train.h5", opt->out);
    else
      snprintf(path, sizeof path, "%s-train-%05d-of-%05d.h5", opt->out, k, opt->shards);
    int64_t lo = opt->samples * k / opt->shards, hi = opt->samples * (k + 1) / opt->shards;
    st = out_open(&outs[k], path, opt->dim, hi - lo, opt->chunk, opt->classes);
    if (st == MN_OK) st = teacher_fill(&t, opt, STREAM_TRAIN, lo, hi - lo, &outs[k]);
    if (st == MN_OK) st = out_attrs(&outs[k], opt->classes, opt->seed, opt->hidden);
  }
  if (st == MN_OK && opt->val > 0) {
    out_file_t *v = &outs[opt->shards];
    snprintf(path, sizeof path, "%s-val.h5", opt->out);
    st = out_open(v, path, opt->dim, opt->val, opt->chunk, opt->classes);
    if (st == MN_OK) st = teacher_fill(&t, opt, STREAM_VAL, 0, opt->val, v);
    if (st == MN_OK) st = out_attrs(v, opt->classes, opt->seed, opt->hidden);
  }
  if (st == MN_OK) st = outs_commit(outs, nout);
  if (st == MN_OK) {
    int32_t *all = calloc((size_t)opt->classes, sizeof *all);
    for (int i = 0; i < nout; i++) {
      print_written(&outs[i], opt->classes);
      if (all && i < opt->shards)
        for (int c = 0; c < opt->classes; c++) all[c] += outs[i].hist[c];
    }
    if (all) {
      out_file_t sum = outs[0];
      sum.hist = all;
      sum.rows = opt->samples;
      snprintf(sum.path, sizeof sum.path, "training set");
      check_balance(&sum, opt->classes);
      if (opt->val > 0) check_balance(&outs[opt->shards], opt->classes);
      free(all);
    }
  }
  for (int i = 0; i < nout; i++) out_abort(&outs[i]);
  free(outs);
  teacher_free(&t);
  return st;
}

mn_status_t teacher_main(int argc, char **argv) {
  teacher_opts_t o = {.out = NULL,
                      .samples = 60000,
                      .val = 10000,
                      .dim = 784,
                      .classes = 10,
                      .hidden = 16,
                      .shards = 1,
                      .chunk = 256,
                      .seed = 1,
                      .latent = 10};
  static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                       {"samples", required_argument, NULL, 'n'},
                                       {"val", required_argument, NULL, 'v'},
                                       {"dim", required_argument, NULL, 'd'},
                                       {"classes", required_argument, NULL, 'c'},
                                       {"hidden", required_argument, NULL, 'H'},
                                       {"seed", required_argument, NULL, 's'},
                                       {"shards", required_argument, NULL, 'k'},
                                       {"chunk", required_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 0x100},
                                       {"latent", required_argument, NULL, 'l'},
                                       {NULL, 0, NULL, 0}};
  mn_status_t st = MN_OK;
  int64_t seed = 1;
  int c;
  while (st == MN_OK && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'o': o.out = optarg; break;
    case 'n': st = parse_i64("samples", optarg, 1, INT64_C(1) << 40, &o.samples); break;
    case 'v': st = parse_i64("val", optarg, 0, INT64_C(1) << 40, &o.val); break;
    case 'd': st = parse_int("dim", optarg, 1, 1 << 24, &o.dim); break;
    case 'c': st = parse_int("classes", optarg, 2, MN_PREP_MAX_CLASSES, &o.classes); break;
    case 'H': st = parse_int("hidden", optarg, 1, 1 << 16, &o.hidden); break;
    case 'l': st = parse_int("latent", optarg, 0, 1 << 16, &o.latent); break;
    case 's': st = parse_i64("seed", optarg, 0, INT64_MAX, &seed); break;
    case 'k': st = parse_int("shards", optarg, 1, 99999, &o.shards); break;
    case 'r': st = parse_i64("chunk", optarg, 1, INT64_C(1) << 30, &o.chunk); break;
    case 'h': fputs(prep_usage_text, stdout); exit(0);
    case 0x100: printf("mnprep %s\n", MN_VERSION); exit(0);
    default: return prep_bad_option(argv[optind - 1], opts);
    }
  }
  if (st != MN_OK) return st;
  if (optind < argc) return mn_error(MN_ERR_USAGE, "unexpected argument '%s'", argv[optind]);
  if (!o.out || !*o.out) return mn_error(MN_ERR_USAGE, "teacher: --out PREFIX is required");
  o.seed = (uint64_t)seed;
  return teacher_run(&o);
}
