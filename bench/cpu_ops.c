/* cpu_ops: the CPU table's non-GEMM ops of one GPT-2 training step, timed at 1 and at N
 * threads (mn_kernels_cpu_set_threads), with the speed-up of each op and of the step.
 *
 * The step is llm.c's for L blocks of width C, NH heads, batch B, sequence T and vocabulary
 * V: each op is timed once at its shape and counted as often as a step calls it (the
 * layernorms 2L + 1 times, the residual adds 2L forward and 2L backward, the bias adds and
 * bias gradients of the four linear layers of each block, AdamW and the non-finite check
 * over all the parameters once). GEMMs are left out: they are OpenBLAS's, on its own
 * threads. Each repeat runs the op at 1 thread, then at N, one after the other, so that a
 * machine shared with other work slows both alike; the table gives the medians over the
 * repeats (after one untimed call each). Inputs are random, outputs unchecked: that every op
 * gives the same bits at any count is tests/test_kernels_threads.c's, their values
 * tests/test_kernels.c's. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mn_kernels.h"
#include "mn_parse.h"

typedef struct opts {
  int layers, batch, seq, width, heads, vocab, threads, reps;
} opts_t;

/* the step's buffers, each sized for its largest use */
typedef struct bench {
  const mn_kernels_t *k;
  mn_kctx_t ctx;
  int L, B, T, C, NH, V, Vp;
  int64_t rows, nparams;
  int32_t *tokens;
  float *wte, *wpe, *x, *y, *z, *h, *h2, *qkv, *dqkv, *att, *logits, *mean, *rstd, *w, *b, *dw, *db;
  float *p, *g, *m, *v; /* the flat parameters, gradients and AdamW moments */
} bench_t;

typedef struct op {
  const char *name;
  int per_layer, per_step; /* calls: per_layer * L + per_step */
  void (*run)(const bench_t *s);
} op_t;

static const mn_kctx_t *cx(const bench_t *s) { return &s->ctx; }

static void encoder_fwd(const bench_t *s) {
  s->k->encoder_fwd(cx(s), s->x, s->tokens, s->wte, s->wpe, s->B, s->T, s->C);
}
static void layernorm_fwd(const bench_t *s) {
  s->k->layernorm_fwd(cx(s), s->y, s->mean, s->rstd, s->x, s->w, s->b, (int)s->rows, s->C);
}
static void bias_qkv(const bench_t *s) {
  s->k->bias_act_fwd(cx(s), s->qkv, s->b, (int)s->rows, 3 * s->C, 0);
}
static void bias_c(const bench_t *s) {
  s->k->bias_act_fwd(cx(s), s->y, s->b, (int)s->rows, s->C, 0);
}
static void bias_4c(const bench_t *s) {
  s->k->bias_act_fwd(cx(s), s->h, s->b, (int)s->rows, 4 * s->C, 0);
}
static void attention_fwd(const bench_t *s) {
  s->k->attention_fwd(cx(s), s->z, s->att, s->qkv, s->B, s->T, s->C, s->NH);
}
static void add_fwd(const bench_t *s) { s->k->add_fwd(cx(s), s->z, s->x, s->y, s->rows * s->C); }
static void gelu_fwd(const bench_t *s) { s->k->gelu_fwd(cx(s), s->h2, s->h, s->rows * 4 * s->C); }
static void classifier(const bench_t *s) {
  double loss;
  int64_t correct;
  s->k->classifier_xent(cx(s), s->logits, s->tokens, (int)s->rows, s->V, s->Vp, 1.0f, s->h2, &loss,
                        &correct);
}
static void gelu_bwd(const bench_t *s) {
  s->k->gelu_bwd(cx(s), s->h2, s->h, s->h2, s->rows * 4 * s->C, 0);
}
static void layernorm_bwd(const bench_t *s) {
  s->k->layernorm_bwd(cx(s), s->z, s->dw, s->db, s->y, s->x, s->w, s->mean, s->rstd, (int)s->rows,
                      s->C, 1, 1);
}
static void attention_bwd(const bench_t *s) {
  s->k->attention_bwd(cx(s), s->dqkv, s->z, s->qkv, s->att, s->B, s->T, s->C, s->NH, 0);
}
static void bias_grad_qkv(const bench_t *s) {
  s->k->bias_grad(cx(s), s->qkv, (int)s->rows, 3 * s->C, s->db, 0);
}
static void bias_grad_c(const bench_t *s) {
  s->k->bias_grad(cx(s), s->y, (int)s->rows, s->C, s->db, 0);
}
static void bias_grad_4c(const bench_t *s) {
  s->k->bias_grad(cx(s), s->h, (int)s->rows, 4 * s->C, s->db, 0);
}
static void add_bwd(const bench_t *s) { s->k->add_fwd(cx(s), s->y, s->y, s->x, s->rows * s->C); }
static void encoder_bwd(const bench_t *s) {
  s->k->encoder_bwd(cx(s), s->g, s->g + (int64_t)s->V * s->C, s->x, s->tokens, s->B, s->T, s->C,
                    s->V, s->T, 1, 1);
}
static void nonfinite(const bench_t *s) {
  double sumsq;
  s->k->count_nonfinite(cx(s), s->g, s->nparams, &sumsq);
}
static void adamw(const bench_t *s) {
  mn_adamw_args_t a = {.lr = 1e-4f,
                       .beta1 = 0.9f,
                       .beta2 = 0.95f,
                       .eps = 1e-8f,
                       .weight_decay = 0.1f,
                       .grad_scale = 1.0f,
                       .bias_correction1 = 0.1f,
                       .bias_correction2 = 0.05f};
  s->k->adamw_update(cx(s), s->p, s->g, s->m, s->v, s->nparams, &a);
}

static const op_t ops[] = {
    {"encoder_fwd", 0, 1, encoder_fwd},
    {"layernorm_fwd", 2, 1, layernorm_fwd},
    {"bias_act_fwd 3C", 1, 0, bias_qkv},
    {"attention_fwd", 1, 0, attention_fwd},
    {"bias_act_fwd C", 2, 0, bias_c},
    {"add_fwd", 2, 0, add_fwd},
    {"bias_act_fwd 4C", 1, 0, bias_4c},
    {"gelu_fwd", 1, 0, gelu_fwd},
    {"classifier_xent", 0, 1, classifier},
    {"gelu_bwd", 1, 0, gelu_bwd},
    {"bias_grad 4C", 1, 0, bias_grad_4c},
    {"bias_grad C", 2, 0, bias_grad_c},
    {"add_fwd (residual grad)", 2, 0, add_bwd},
    {"layernorm_bwd", 2, 1, layernorm_bwd},
    {"attention_bwd", 1, 0, attention_bwd},
    {"bias_grad 3C", 1, 0, bias_grad_qkv},
    {"encoder_bwd", 0, 1, encoder_bwd},
    {"count_nonfinite", 0, 1, nonfinite},
    {"adamw_update", 0, 1, adamw},
};
#define NOPS (sizeof ops / sizeof ops[0])

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double time_op(const bench_t *s, const op_t *op, int threads) {
  mn_kernels_cpu_set_threads(threads);
  double t0 = now_s();
  op->run(s);
  return now_s() - t0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static float *floats(int64_t n) {
  float *p = malloc((size_t)n * sizeof *p);
  if (!p) {
    fprintf(stderr, "cpu_ops: no memory for %lld floats\n", (long long)n);
    exit(70);
  }
  uint32_t r = 12345;
  for (int64_t i = 0; i < n; i++) {
    r = r * 1664525u + 1013904223u;
    p[i] = (float)((int32_t)r >> 8) * (1.0f / (1 << 23)); /* in [-1, 1) */
  }
  return p;
}

static void usage(FILE *f) {
  fprintf(f, "usage: mn_cpu_ops [--layers L] [--batch B] [--seq T] [--width C] [--heads NH]\n"
             "                 [--vocab V] [--threads N] [--reps R]\n"
             "Time the non-GEMM CPU ops of one GPT-2 training step at 1 and at N threads.\n"
             "  defaults: --layers 6 --batch 4 --seq 256 --width 384 --heads 6 --vocab 8192\n"
             "            --threads 2 --reps 9\n"
             "Exit codes: 0 done, 64 usage, 70 no memory.\n");
}

static int parse_args(int argc, char **argv, opts_t *o) {
  static const struct option longopts[] = {
      {"layers", required_argument, NULL, 'l'},  {"batch", required_argument, NULL, 'b'},
      {"seq", required_argument, NULL, 't'},     {"width", required_argument, NULL, 'c'},
      {"heads", required_argument, NULL, 'n'},   {"vocab", required_argument, NULL, 'v'},
      {"threads", required_argument, NULL, 'j'}, {"reps", required_argument, NULL, 'r'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
  *o = (opts_t){.layers = 6,
                .batch = 4,
                .seq = 256,
                .width = 384,
                .heads = 6,
                .vocab = 8192,
                .threads = 2,
                .reps = 9};
  int c, ok = 1;
  while (ok && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'l': ok = mn_parse_int(optarg, 1, 1 << 20, &o->layers); break;
    case 'b': ok = mn_parse_int(optarg, 1, 1 << 20, &o->batch); break;
    case 't': ok = mn_parse_int(optarg, 1, 1 << 20, &o->seq); break;
    case 'c': ok = mn_parse_int(optarg, 1, 1 << 20, &o->width); break;
    case 'n': ok = mn_parse_int(optarg, 1, 1 << 20, &o->heads); break;
    case 'v': ok = mn_parse_int(optarg, 1, 1 << 20, &o->vocab); break;
    case 'j': ok = mn_parse_int(optarg, 1, 1 << 20, &o->threads); break;
    case 'r': ok = mn_parse_int(optarg, 1, 1 << 20, &o->reps); break;
    case 'h': usage(stdout); exit(0);
    default: ok = 0;
    }
  }
  return ok && optind == argc && o->width % o->heads == 0;
}

int main(int argc, char **argv) {
  opts_t o;
  if (!parse_args(argc, argv, &o)) {
    usage(stderr);
    return 64;
  }
  bench_t s = {.k = mn_kernels_cpu(),
               .L = o.layers,
               .B = o.batch,
               .T = o.seq,
               .C = o.width,
               .NH = o.heads,
               .V = o.vocab,
               .Vp = (o.vocab + 63) / 64 * 64};
  s.rows = (int64_t)s.B * s.T;
  const int64_t C = s.C, rows = s.rows;
  s.nparams = ((int64_t)s.V + s.T) * C + (int64_t)s.L * (12 * C * C + 13 * C) + 2 * C;
  s.tokens = malloc((size_t)rows * sizeof *s.tokens);
  for (int64_t i = 0; i < rows; i++) s.tokens[i] = (int32_t)((i * 7919) % s.V);
  s.wte = floats((int64_t)s.V * C), s.wpe = floats(s.T * C);
  s.x = floats(rows * C), s.y = floats(rows * C), s.z = floats(rows * C);
  s.h = floats(rows * 4 * C), s.h2 = floats(rows * (4 * C > s.Vp ? 4 * C : s.Vp));
  s.qkv = floats(rows * 3 * C), s.dqkv = floats(rows * 3 * C);
  s.att = floats((int64_t)s.B * s.NH * s.T * s.T), s.logits = floats(rows * s.Vp);
  s.mean = floats(rows), s.rstd = floats(rows);
  s.w = floats(4 * C), s.b = floats(4 * C), s.dw = floats(4 * C), s.db = floats(4 * C);
  s.p = floats(s.nparams), s.g = floats(s.nparams), s.m = floats(s.nparams);
  s.v = floats(s.nparams);
  for (int64_t i = 0; i < s.nparams; i++) s.v[i] = s.v[i] * s.v[i]; /* second moments >= 0 */
  size_t ws = s.k->attention_workspace(s.B, s.T, s.C, s.NH);
  s.ctx.workspace = s.k->alloc(ws), s.ctx.workspace_nbytes = ws;
  layernorm_fwd(&s); /* a real mean and rstd for the backward */
  attention_fwd(&s); /* a real att */

  const int threads0 = mn_kernels_cpu_threads(), N = o.threads;
  printf("# non-GEMM ops of one GPT-2 step: L=%d B=%d T=%d C=%d NH=%d V=%d (%lld parameters); "
         "1 vs %d threads, median of %d\n",
         s.L, s.B, s.T, s.C, s.NH, s.V, (long long)s.nparams, N, o.reps);
  printf("%-24s %6s %12s %12s %8s\n", "op", "calls", "ms@1", "ms@N", "speedup");
  double *t1 = malloc((size_t)o.reps * sizeof *t1), *tn = malloc((size_t)o.reps * sizeof *tn);
  double step1 = 0, stepn = 0;
  for (size_t i = 0; i < NOPS; i++) {
    const op_t *op = &ops[i];
    time_op(&s, op, 1), time_op(&s, op, N); /* warm-up */
    for (int r = 0; r < o.reps; r++) {
      t1[r] = time_op(&s, op, 1);
      tn[r] = time_op(&s, op, N);
    }
    const int calls = op->per_layer * s.L + op->per_step;
    const double m1 = median(t1, o.reps), mn = median(tn, o.reps);
    step1 += calls * m1, stepn += calls * mn;
    printf("%-24s %6d %12.3f %12.3f %8.2f\n", op->name, calls, 1e3 * m1, 1e3 * mn, m1 / mn);
  }
  printf("%-24s %6s %12.2f %12.2f %8.2f\n", "step (calls x median)", "", 1e3 * step1, 1e3 * stepn,
         step1 / stepn);
  printf("threads=%d step_ms_1=%.3f step_ms_n=%.3f speedup=%.3f\n", N, 1e3 * step1, 1e3 * stepn,
         step1 / stepn);
  mn_kernels_cpu_set_threads(threads0);
  return 0;
}
