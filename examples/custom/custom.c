/* custom.c: a trainer of a model mn does not ship, written on mn's public API (docs/api.md).
 *
 * The model is a two-layer network, x -> tanh(W1 x + b1) -> W2 h + b2 -> softmax
 * cross-entropy, its forward and backward written here by hand. The data are made here too:
 * sample i of --samples is a point of D features in [-1, 1) drawn from (seed, i), its class
 * the argmax of a fixed random "teacher" drawn from the seed. Each epoch's order is a shuffle
 * from (seed, epoch); a step takes the next world x batch samples of it, each rank its own
 * share. The step count alone says where the run stands, so a run stopped at any step and
 * resumed takes the very steps the uninterrupted run takes, and ends with bitwise the same
 * parameters (at the same number of ranks).
 *
 * What it shows, in about ten calls: mn_init; the parameters by name (mn_params_create,
 * mn_params_add, mn_params_commit); mn_optimizer_create; mn_state_open and mn_state_resume;
 * per step mn_grads_begin, mn_grads_ready as backward finishes each tensor, mn_grads_end
 * and mn_optimizer_step; mn_state_save every --every steps and when a stop signal reached a
 * rank (then exit 75: "requeue me"); mn_finish. Attributes ride along: the seed, checked on
 * resume, the last loss, and a blob of every logged loss (the loss curve). The progress line
 * and the records of --metrics FILE (mntrain's JSON lines) come from mn_metrics_open,
 * mn_metrics_step and mn_metrics_close.
 *
 *   mnrun -np 2 -- ./custom --steps 2000 --dir snapshots      (or mpirun -np 2 ./custom ...)
 *
 * It computes on the CPU (plain C loops): the parameter and gradient views are then host
 * memory. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mn/mn.h>

enum { D = 16, H = 64, C = 4 }; /* features, hidden units, classes */
enum { MAX_CURVE = 4096 };      /* logged losses kept */

typedef struct args {
  int64_t steps, every, samples;
  int batch; /* per rank */
  uint64_t seed;
  double lr;
  const char *dir;
  const char *metrics; /* JSON lines (NULL: none) */
  int help;
} args_t;

/* ---- data: counter-based, so that any rank makes any sample, and any epoch's order ---- */

static uint64_t mix(uint64_t x) { /* splitmix64's finaliser */
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* A uniform float in [-1, 1) from (seed, stream, i). */
static float uniform(uint64_t seed, uint64_t stream, uint64_t i) {
  return (float)(mix(mix(seed ^ mix(stream)) + i) >> 40) / (float)(1 << 23) - 1.0f;
}

static void sample(uint64_t seed, int64_t i, float *x, int *y) {
  float best = -INFINITY;
  for (int d = 0; d < D; d++) x[d] = uniform(seed, 1, (uint64_t)i * D + d);
  for (int c = 0; c < C; c++) {
    float z = 0;
    for (int d = 0; d < D; d++) z += uniform(seed, 2, (uint64_t)c * D + d) * x[d]; /* teacher */
    if (z > best) best = z, *y = c;
  }
}

/* Epoch e's order of the n samples (Fisher-Yates from (seed, e)). */
static void shuffle(uint64_t seed, int64_t e, int64_t *order, int64_t n) {
  for (int64_t i = 0; i < n; i++) order[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(mix(mix(seed ^ 0x5eedULL) + (uint64_t)e * (uint64_t)n + (uint64_t)i) %
                          (uint64_t)(i + 1));
    int64_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}

/* ---- the model: forward, loss and backward of one batch, by hand ---------------------- */

enum { W1, B1, W2, B2, NT }; /* the tensors, in order of addition (forward order) */

typedef struct model {
  mn_params_t *p;
  int idx[NT];
  float *w[NT], *g[NT]; /* views of the values and gradients (host memory on the CPU) */
  float *h, *dz;        /* a batch's hidden activations [n][H] and output gradients [n][C] */
} model_t;

/* The mean loss of the batch x[n][D], y[n]; the gradients of that mean written (not added)
 * layer by layer from the output, each handed to the exchange as soon as it is final, so
 * that it travels while the layers below are computed. */
static double forward_backward(model_t *m, const float *x, const int *y, int n) {
  const float *w1 = m->w[W1], *b1 = m->w[B1], *w2 = m->w[W2], *b2 = m->w[B2];
  float *g1 = m->g[W1], *gb1 = m->g[B1], *g2 = m->g[W2], *gb2 = m->g[B2];
  double loss = 0;
  for (int s = 0; s < n; s++) { /* forward and loss; dz = d(mean loss)/dz */
    const float *xs = x + s * D;
    float *h = m->h + s * H, *dz = m->dz + s * C, zmax = -INFINITY, sum = 0;
    for (int j = 0; j < H; j++) {
      float a = b1[j];
      for (int d = 0; d < D; d++) a += w1[j * D + d] * xs[d];
      h[j] = tanhf(a);
    }
    for (int c = 0; c < C; c++) {
      dz[c] = b2[c];
      for (int j = 0; j < H; j++) dz[c] += w2[c * H + j] * h[j];
      if (dz[c] > zmax) zmax = dz[c];
    }
    loss -= dz[y[s]] - zmax;
    for (int c = 0; c < C; c++) sum += dz[c] = expf(dz[c] - zmax);
    loss += log(sum);
    for (int c = 0; c < C; c++) dz[c] = (dz[c] / sum - (c == y[s])) / (float)n;
  }
  memset(g2, 0, sizeof(float) * C * H); /* the output layer */
  memset(gb2, 0, sizeof(float) * C);
  for (int s = 0; s < n; s++)
    for (int c = 0; c < C; c++) {
      gb2[c] += m->dz[s * C + c];
      for (int j = 0; j < H; j++) g2[c * H + j] += m->dz[s * C + c] * m->h[s * H + j];
    }
  mn_grads_ready(m->p, m->idx[W2]);
  mn_grads_ready(m->p, m->idx[B2]);
  memset(g1, 0, sizeof(float) * H * D); /* the hidden layer */
  memset(gb1, 0, sizeof(float) * H);
  for (int s = 0; s < n; s++)
    for (int j = 0; j < H; j++) {
      float dh = 0, hj = m->h[s * H + j];
      for (int c = 0; c < C; c++) dh += m->dz[s * C + c] * w2[c * H + j];
      float da = dh * (1 - hj * hj);
      gb1[j] += da;
      for (int d = 0; d < D; d++) g1[j * D + d] += da * x[s * D + d];
    }
  mn_grads_ready(m->p, m->idx[W1]);
  mn_grads_ready(m->p, m->idx[B1]);
  return loss / n;
}

/* The parameters by name, committed, and the scratch of batches of b. */
static mn_status_t build(mn_world_t *w, int b, model_t *m) {
  static const char *names[NT] = {"hidden.weight", "hidden.bias", "out.weight", "out.bias"};
  static const int64_t dims[NT][2] = {{H, D}, {H, 1}, {C, H}, {C, 1}};
  mn_status_t st = mn_params_create(w, &m->p);
  for (int t = 0; t < NT && st == MN_OK; t++)
    st = mn_params_add(m->p, names[t], t % 2 ? 1 : 2, dims[t],
                       t % 2 ? MN_PARAM_BIAS : MN_PARAM_WEIGHT, &m->idx[t]);
  if (st == MN_OK) st = mn_params_commit(m->p);
  for (int t = 0; t < NT && st == MN_OK; t++) {
    m->w[t] = mn_params_data(m->p, m->idx[t]);
    m->g[t] = mn_params_grad(m->p, m->idx[t]);
  }
  m->h = malloc(sizeof(float) * (size_t)b * H);
  m->dz = malloc(sizeof(float) * (size_t)b * C);
  return st == MN_OK && (!m->h || !m->dz) ? MN_ERR_NOMEM : st;
}

/* A fresh run's values, from the seed: the same on every rank, so no broadcast is needed. */
static void init_weights(model_t *m, uint64_t seed) {
  for (int i = 0; i < H * D; i++) m->w[W1][i] = uniform(seed, 3, (uint64_t)i) / sqrtf(D);
  for (int i = 0; i < C * H; i++) m->w[W2][i] = uniform(seed, 4, (uint64_t)i) / sqrtf(H);
}

/* FNV-1a of the parameters' bytes: any bit that differs changes it. */
static uint64_t fingerprint(const model_t *m) {
  static const int64_t count[NT] = {H * D, H, C * H, C};
  uint64_t f = 1469598103934665603ULL;
  for (int t = 0; t < NT; t++)
    for (size_t i = 0; i < (size_t)count[t] * sizeof(float); i++)
      f = (f ^ ((const unsigned char *)m->w[t])[i]) * 1099511628211ULL;
  return f;
}

/* ---- the training loop ------------------------------------------------------------------- */

static mn_status_t train(mn_world_t *w, model_t *m, mn_optimizer_t *o, mn_state_t *s,
                         mn_metrics_t *mx, const args_t *a, float *curve, size_t *ncurve) {
  int rank = mn_world_rank(w), world = mn_world_size(w), b = a->batch;
  int64_t G = (int64_t)world * b, spe = a->samples / G, epoch = -1;
  int64_t *order = malloc(sizeof *order * (size_t)a->samples);
  float *x = malloc(sizeof *x * (size_t)b * D);
  int *y = malloc(sizeof *y * (size_t)b);
  mn_status_t st = order && x && y ? MN_OK : MN_ERR_NOMEM;
  if (st == MN_OK && spe < 1) {
    if (rank == 0)
      fprintf(stderr, "custom: --samples %lld < a step's %lld\n", (long long)a->samples,
              (long long)G);
    st = MN_ERR_USAGE;
  }
  while (st == MN_OK && mn_optimizer_steps(o) < a->steps) {
    int64_t step = mn_optimizer_steps(o); /* where the run stands: a resume restored it */
    if (step / spe != epoch) shuffle(a->seed, epoch = step / spe, order, a->samples);
    for (int j = 0; j < b; j++) /* this rank's share of the step's samples */
      sample(a->seed, order[(step % spe) * G + (int64_t)rank * b + j], x + (size_t)j * D, &y[j]);

    mn_step_flags_t flags;
    st = mn_grads_begin(m->p);
    double loss = st == MN_OK ? forward_backward(m, x, y, b) : NAN;
    if (st == MN_OK) st = mn_grads_end(m->p, &flags); /* gradients: the mean over the ranks */
    if (st == MN_OK) st = mn_optimizer_step(o, &flags);
    if (st != MN_OK) break;

    int64_t done = step + 1;
    if (done % a->every == 0 || done == a->steps) { /* log: the mean loss over the ranks */
      st = mn_allreduce(w, &loss, 1, MN_FLOAT64, MN_AVERAGE);
      /* the progress line and a step record: epoch, step in it, steps done, loss, lr (the
       * rest, the rate and the time, mn_metrics_step fills in) */
      mn_step_record_t rec = {.epoch = step / spe + 1,
                              .step_in_epoch = step % spe + 1,
                              .global_step = done,
                              .loss = loss,
                              .lr = mn_optimizer_lr(o),
                              .grad_norm = flags.grad_norm};
      if (st == MN_OK) st = mn_metrics_step(mx, &rec);
      if (*ncurve < MAX_CURVE) curve[(*ncurve)++] = (float)loss;
      if (st == MN_OK) st = mn_state_set_real(s, "loss", loss);
      if (st == MN_OK) st = mn_state_set_blob(s, "curve", curve, *ncurve * sizeof *curve);
    }
    const char *why = done == a->steps       ? "final"
                      : flags.stop           ? "stop"
                      : done % a->every == 0 ? "interval"
                                             : NULL;
    if (st == MN_OK && why)
      st = mn_state_save(s, why, done == a->steps || flags.stop); /* wait at the end */
    if (st == MN_OK && flags.stop && done < a->steps) {
      if (rank == 0)
        printf("stopped by a signal after step %lld, with a snapshot\n", (long long)done);
      st = MN_ERR_PREEMPTED; /* exit 75: requeue me */
    }
  }
  free(order);
  free(x);
  free(y);
  return st;
}

/* Collective: the progress line and, with --metrics, the JSON-lines records: where this run
 * starts (a resume's step, time and snapshot), and its settings for the start record. */
static mn_status_t open_metrics(mn_world_t *w, const mn_optimizer_t *o, const mn_state_t *s,
                                const args_t *a, mn_metrics_t **mx) {
  static char set[6][64];
  const char *config[7] = {set[0], set[1], set[2], set[3], set[4], set[5], NULL};
  snprintf(set[0], sizeof set[0], "custom.steps=%lld", (long long)a->steps);
  snprintf(set[1], sizeof set[1], "custom.samples=%lld", (long long)a->samples);
  snprintf(set[2], sizeof set[2], "custom.batch=%d", a->batch);
  snprintf(set[3], sizeof set[3], "custom.seed=%llu", (unsigned long long)a->seed);
  snprintf(set[4], sizeof set[4], "optimizer.lr=%g", a->lr);
  snprintf(set[5], sizeof set[5], "snapshot.every=%lld", (long long)a->every);
  int64_t G = (int64_t)mn_world_size(w) * a->batch, step = mn_optimizer_steps(o);
  int64_t spe = a->samples / G > 0 ? a->samples / G : 1;
  mn_metrics_opts_t mo = {.path = a->metrics,
                          .total_steps = a->steps,
                          .steps_per_epoch = spe,
                          .samples_per_step = G,
                          .start_step = step,
                          .start_epoch = step / spe,
                          .elapsed_s = mn_state_elapsed_s(s),
                          .resumed_from = mn_state_resumed_from(s),
                          .config = config};
  return mn_metrics_open(w, &mo, mx);
}

static mn_status_t parse(int argc, char **argv, args_t *a) {
  static const struct option opts[] = {
      {"steps", required_argument, NULL, 's'},   {"every", required_argument, NULL, 'e'},
      {"samples", required_argument, NULL, 'n'}, {"batch", required_argument, NULL, 'b'},
      {"seed", required_argument, NULL, 'r'},    {"lr", required_argument, NULL, 'l'},
      {"dir", required_argument, NULL, 'd'},     {"metrics", required_argument, NULL, 'm'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
  *a = (args_t){1000, 100, 4096, 32, 1, 0.1, "snapshots", NULL, 0};
  for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
    switch (c) {
    case 's': a->steps = atoll(optarg); break;
    case 'e': a->every = atoll(optarg); break;
    case 'n': a->samples = atoll(optarg); break;
    case 'b': a->batch = atoi(optarg); break;
    case 'r': a->seed = strtoull(optarg, NULL, 10); break;
    case 'l': a->lr = atof(optarg); break;
    case 'd': a->dir = optarg; break;
    case 'm': a->metrics = optarg; break;
    default:
      fprintf(c == 'h' ? stdout : stderr,
              "usage: custom [--steps N (1000)] [--every K (100)] [--samples N (4096)] "
              "[--batch B (32 per rank)] [--seed S (1)] [--lr LR (0.1)] [--dir DIR "
              "(snapshots)] [--metrics FILE]\n");
      a->help = c == 'h';
      return a->help ? MN_OK : MN_ERR_USAGE;
    }
  }
  if (a->steps < 1 || a->every < 1 || a->batch < 1 || a->samples < 1 || !(a->lr > 0)) {
    fprintf(stderr, "custom: --steps, --every, --batch, --samples and --lr must be positive\n");
    return MN_ERR_USAGE;
  }
  return MN_OK;
}

int main(int argc, char **argv) {
  mn_world_t *w = NULL;
  model_t m = {0};
  mn_optimizer_t *o = NULL;
  mn_state_t *s = NULL;
  args_t a;
  static float curve[MAX_CURVE];
  size_t ncurve = 0;
  int resumed = 0;
  /* plain C loops: the CPU, 1 thread */
  mn_init_opts_t init = {.device = MN_COMPUTE_CPU, .threads = 1};

  mn_status_t st = mn_init(&argc, &argv, &init, &w);
  if (st == MN_OK) st = parse(argc, argv, &a);
  if (st == MN_OK && a.help) return mn_finish(w, MN_OK);
  if (st == MN_OK) st = build(w, a.batch, &m);
  if (st == MN_OK) {
    mn_optim_opts_t opt = mn_optim_defaults(); /* SGD with momentum 0.9 */
    opt.lr = a.lr;
    st = mn_optimizer_create(m.p, &opt, &o);
  }
  if (st == MN_OK) st = mn_state_open(m.p, o, a.dir, 3, &s); /* keeps the newest 3 */
  if (st == MN_OK) st = mn_state_resume(s, &resumed);
  if (st == MN_OK && !resumed) {
    init_weights(&m, a.seed);
    st = mn_state_set_int(s, "seed", (int64_t)a.seed);
  } else if (st == MN_OK) { /* the snapshot's data must be this run's */
    int64_t seed = -1;
    mn_state_get_int(s, "seed", &seed);
    mn_state_get_blob(s, "curve", curve, sizeof curve, &ncurve);
    ncurve /= sizeof *curve;
    if ((uint64_t)seed != a.seed) {
      if (mn_world_rank(w) == 0)
        fprintf(stderr, "custom: %s holds a run of --seed %lld\n", a.dir, (long long)seed);
      st = MN_ERR_DATA;
    } else if (mn_world_rank(w) == 0) {
      printf("resumed at step %lld from %s\n", (long long)mn_optimizer_steps(o), a.dir);
    }
  }
  mn_metrics_t *mx = NULL;
  if (st == MN_OK) st = open_metrics(w, o, s, &a, &mx);
  if (st == MN_OK) st = mn_state_set_metrics(s, mx); /* snapshot records too */
  if (st == MN_OK) st = train(w, &m, o, s, mx, &a, curve, &ncurve);
  mn_state_close(s); /* before the metrics, which record its writes, and before mn_finish */
  /* the summary; 74 if the file could not be written */
  st = mn_metrics_close(mx, o ? mn_optimizer_steps(o) : -1, st);
  if (st == MN_OK && mn_world_rank(w) == 0)
    printf("done: step %lld, %zu losses logged, parameters fnv1a %016" PRIx64 "\n",
           (long long)mn_optimizer_steps(o), ncurve, fingerprint(&m));

  mn_optimizer_free(o);
  mn_params_free(m.p);
  free(m.h);
  free(m.dz);
  return mn_finish(w, st); /* the exit code: 0, 75 after a stop, 64, 65, ... */
}
