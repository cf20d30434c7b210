/* gpt_ops: where the time of one GPT training step goes on the CPU, op by op.
 *
 *   mn_gpt_ops [--steps N] [--warmup N] [--set K=V]... train.conf
 *
 * mn has no profiler, so this program runs mn's own step (mn_model_forward, mn_model_loss,
 * mn_model_backward, the finite check of the gradient, mn_optim_step: what one rank of
 * mntrain does between its batches, without the allreduce and the data loader) on the model
 * of train.conf's [model] at data.batch_size, with a copy of the CPU kernel table whose every
 * op is wrapped by a timer. So it measures the very calls mn's step makes, in their order and
 * at their shapes, and adds each call's wall time to its op's bucket; the GEMMs are split into
 * the transformer blocks' linear layers and the tied output head's (any GEMM with a dimension
 * equal to the padded vocabulary, when no other dimension of the model equals it). What the
 * wrappers miss (the model's own code between the ops, and the timer itself) is the step's
 * wall time less the ops' sum, printed as "outside the ops".
 *
 * Inputs are random token ids (the step's time does not depend on their values). Threads:
 * the GEMMs use OpenBLAS's threads (OPENBLAS_NUM_THREADS, as mnrun sets it); the other CPU
 * kernels use what they use on the build (one thread on main at the time of writing).
 * bench/gpt_cpu.sh runs it at the shape of its own runs (docs/benchmarks.md). */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mn_config.h"
#include "mn_kernels.h"
#include "mn_model.h"
#include "mn_optim.h"
#include "mn_parse.h"

#define MAX_SETS 64

/* ---- the timed kernel table ------------------------------------------------------------- */

enum {
  OP_GEMM_BLOCKS,
  OP_GEMM_HEAD,
  OP_ATTENTION_FWD,
  OP_ATTENTION_BWD,
  OP_LAYERNORM_FWD,
  OP_LAYERNORM_BWD,
  OP_GELU_FWD,
  OP_GELU_BWD,
  OP_ADD,
  OP_BIAS,
  OP_ENCODER_FWD,
  OP_ENCODER_BWD,
  OP_CLASSIFIER,
  OP_ADAMW,
  OP_CHECK,
  OP_MEMORY,
  OP_OTHER,
  OP_COUNT
};

static const char *const op_names[OP_COUNT] = {"gemm: blocks' linear layers",
                                               "gemm: tied head (logits, dx, dwte)",
                                               "attention_fwd",
                                               "attention_bwd",
                                               "layernorm_fwd",
                                               "layernorm_bwd",
                                               "gelu_fwd",
                                               "gelu_bwd",
                                               "add (residuals)",
                                               "bias (fwd add, bwd sum)",
                                               "encoder_fwd",
                                               "encoder_bwd",
                                               "classifier_xent",
                                               "adamw/sgd update",
                                               "count_nonfinite (finite check)",
                                               "copy/upload/download",
                                               "other ops"};

typedef struct op_time {
  double s;
  int64_t calls;
  double flop; /* GEMMs only */
} op_time_t;

static const mn_kernels_t *g_cpu;
static op_time_t g_t[OP_COUNT];
static int g_head_dim; /* the padded vocabulary when it identifies the head's GEMMs, else 0 */

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define TIMED(op, call)                                                                            \
  do {                                                                                             \
    double t0_ = now_s();                                                                          \
    call;                                                                                          \
    g_t[op].s += now_s() - t0_;                                                                    \
    g_t[op].calls++;                                                                               \
  } while (0)

static void t_gemm(const mn_kctx_t *ctx, int ta, int tb, int m, int n, int k, float alpha,
                   const float *a, int lda, const float *b, int ldb, float beta, float *c,
                   int ldc) {
  int op = g_head_dim && (m == g_head_dim || n == g_head_dim || k == g_head_dim) ? OP_GEMM_HEAD
                                                                                 : OP_GEMM_BLOCKS;
  TIMED(op, g_cpu->gemm(ctx, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
  g_t[op].flop += 2.0 * m * n * k;
}
static void t_bias_act_fwd(const mn_kctx_t *ctx, float *y, const float *bias, int m, int n,
                           int relu) {
  TIMED(OP_BIAS, g_cpu->bias_act_fwd(ctx, y, bias, m, n, relu));
}
static void t_relu_fwd(const mn_kctx_t *ctx, float *y, const float *x, int64_t count) {
  TIMED(OP_OTHER, g_cpu->relu_fwd(ctx, y, x, count));
}
static void t_relu_bwd(const mn_kctx_t *ctx, float *dy, const float *y, int64_t count) {
  TIMED(OP_OTHER, g_cpu->relu_bwd(ctx, dy, y, count));
}
static void t_bias_grad(const mn_kctx_t *ctx, const float *dy, int m, int n, float *db, int acc) {
  TIMED(OP_BIAS, g_cpu->bias_grad(ctx, dy, m, n, db, acc));
}
static void t_softmax_xent(const mn_kctx_t *ctx, const float *logits, const int32_t *labels, int m,
                           int c, float grad_scale, float *dlogits, double *loss_sum,
                           int64_t *correct) {
  TIMED(OP_CLASSIFIER,
        g_cpu->softmax_xent(ctx, logits, labels, m, c, grad_scale, dlogits, loss_sum, correct));
}
static void t_sgd_update(const mn_kctx_t *ctx, float *w, const float *g, float *v, int64_t count,
                         const mn_sgd_args_t *a) {
  TIMED(OP_ADAMW, g_cpu->sgd_update(ctx, w, g, v, count, a));
}
static void t_adamw_update(const mn_kctx_t *ctx, float *w, const float *g, float *m, float *v,
                           int64_t count, const mn_adamw_args_t *a) {
  TIMED(OP_ADAMW, g_cpu->adamw_update(ctx, w, g, m, v, count, a));
}
static void t_scale(const mn_kctx_t *ctx, float *x, int64_t count, float alpha) {
  TIMED(OP_OTHER, g_cpu->scale(ctx, x, count, alpha));
}
static int64_t t_count_nonfinite(const mn_kctx_t *ctx, const float *x, int64_t count,
                                 double *sumsq) {
  int64_t r;
  TIMED(OP_CHECK, r = g_cpu->count_nonfinite(ctx, x, count, sumsq));
  return r;
}
static void t_encoder_fwd(const mn_kctx_t *ctx, float *out, const int32_t *tokens, const float *wte,
                          const float *wpe, int B, int T, int C) {
  TIMED(OP_ENCODER_FWD, g_cpu->encoder_fwd(ctx, out, tokens, wte, wpe, B, T, C));
}
static void t_encoder_bwd(const mn_kctx_t *ctx, float *dwte, float *dwpe, const float *dout,
                          const int32_t *tokens, int B, int T, int C, int V, int T_max,
                          int dwte_add, int dwpe_add) {
  TIMED(OP_ENCODER_BWD,
        g_cpu->encoder_bwd(ctx, dwte, dwpe, dout, tokens, B, T, C, V, T_max, dwte_add, dwpe_add));
}
static void t_layernorm_fwd(const mn_kctx_t *ctx, float *out, float *mean, float *rstd,
                            const float *inp, const float *w, const float *b, int rows, int C) {
  TIMED(OP_LAYERNORM_FWD, g_cpu->layernorm_fwd(ctx, out, mean, rstd, inp, w, b, rows, C));
}
static void t_layernorm_bwd(const mn_kctx_t *ctx, float *dinp, float *dw, float *db,
                            const float *dout, const float *inp, const float *w, const float *mean,
                            const float *rstd, int rows, int C, int din_add, int dparams_add) {
  TIMED(OP_LAYERNORM_BWD, g_cpu->layernorm_bwd(ctx, dinp, dw, db, dout, inp, w, mean, rstd, rows, C,
                                               din_add, dparams_add));
}
static void t_gelu_fwd(const mn_kctx_t *ctx, float *out, const float *inp, int64_t count) {
  TIMED(OP_GELU_FWD, g_cpu->gelu_fwd(ctx, out, inp, count));
}
static void t_gelu_bwd(const mn_kctx_t *ctx, float *dinp, const float *inp, const float *dout,
                       int64_t count, int add) {
  TIMED(OP_GELU_BWD, g_cpu->gelu_bwd(ctx, dinp, inp, dout, count, add));
}
static void t_add_fwd(const mn_kctx_t *ctx, float *out, const float *a, const float *b,
                      int64_t count) {
  TIMED(OP_ADD, g_cpu->add_fwd(ctx, out, a, b, count));
}
static void t_attention_fwd(const mn_kctx_t *ctx, float *out, float *att, const float *qkv, int B,
                            int T, int C, int NH) {
  TIMED(OP_ATTENTION_FWD, g_cpu->attention_fwd(ctx, out, att, qkv, B, T, C, NH));
}
static void t_attention_bwd(const mn_kctx_t *ctx, float *dqkv, const float *dout, const float *qkv,
                            const float *att, int B, int T, int C, int NH, int add) {
  TIMED(OP_ATTENTION_BWD, g_cpu->attention_bwd(ctx, dqkv, dout, qkv, att, B, T, C, NH, add));
}
static void t_classifier_xent(const mn_kctx_t *ctx, const float *logits, const int32_t *labels,
                              int rows, int V, int Vp, float grad_scale, float *dlogits,
                              double *loss_sum, int64_t *correct) {
  TIMED(OP_CLASSIFIER, g_cpu->classifier_xent(ctx, logits, labels, rows, V, Vp, grad_scale, dlogits,
                                              loss_sum, correct));
}
static void t_upload(const mn_kctx_t *ctx, void *dst, const void *src, size_t nbytes) {
  TIMED(OP_MEMORY, g_cpu->upload(ctx, dst, src, nbytes));
}
static void t_download(const mn_kctx_t *ctx, void *dst, const void *src, size_t nbytes) {
  TIMED(OP_MEMORY, g_cpu->download(ctx, dst, src, nbytes));
}
static void t_copy(const mn_kctx_t *ctx, void *dst, const void *src, size_t nbytes) {
  TIMED(OP_MEMORY, g_cpu->copy(ctx, dst, src, nbytes));
}

/* The CPU table with every compute and copy op timed; the workspace queries, alloc, release
 * and sync are the CPU table's own. */
static mn_kernels_t timed_table(void) {
  g_cpu = mn_kernels_cpu();
  mn_kernels_t t = *g_cpu;
  t.name = "cpu (timed)";
  t.gemm = t_gemm;
  t.bias_act_fwd = t_bias_act_fwd;
  t.relu_fwd = t_relu_fwd;
  t.relu_bwd = t_relu_bwd;
  t.bias_grad = t_bias_grad;
  t.softmax_xent = t_softmax_xent;
  t.sgd_update = t_sgd_update;
  t.adamw_update = t_adamw_update;
  t.scale = t_scale;
  t.count_nonfinite = t_count_nonfinite;
  t.encoder_fwd = t_encoder_fwd;
  t.encoder_bwd = t_encoder_bwd;
  t.layernorm_fwd = t_layernorm_fwd;
  t.layernorm_bwd = t_layernorm_bwd;
  t.gelu_fwd = t_gelu_fwd;
  t.gelu_bwd = t_gelu_bwd;
  t.add_fwd = t_add_fwd;
  t.attention_fwd = t_attention_fwd;
  t.attention_bwd = t_attention_bwd;
  t.classifier_xent = t_classifier_xent;
  t.upload = t_upload;
  t.download = t_download;
  t.copy = t_copy;
  return t;
}

/* ---- the command line -------------------------------------------------------------------- */

typedef struct opts {
  int steps, warmup;
  const char *sets[MAX_SETS];
  int nsets;
  const char *conf;
} opts_t;

static void usage(FILE *f) {
  fprintf(f, "usage: mn_gpt_ops [--steps N] [--warmup N] [--set K=V]... train.conf\n"
             "Time each kernel-table op of mn's training step (forward, loss, backward, finite\n"
             "check, optimizer update; no allreduce, no loader) on train.conf's model at\n"
             "data.batch_size, on the CPU. GEMM threads: OPENBLAS_NUM_THREADS.\n"
             "  --steps N    timed steps (default 10)\n"
             "  --warmup N   untimed steps first (default 2)\n"
             "  --set K=V    config override (repeatable), as mntrain's\n"
             "Exit codes: 0 done, 64 usage or config, 70 out of memory or a failed step.\n");
}

static int parse_args(int argc, char **argv, opts_t *o) {
  static const struct option longopts[] = {{"steps", required_argument, NULL, 's'},
                                           {"warmup", required_argument, NULL, 'w'},
                                           {"set", required_argument, NULL, 'S'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  *o = (opts_t){.steps = 10, .warmup = 2};
  int c, ok = 1;
  while (ok && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 's': ok = mn_parse_int(optarg, 1, 1000000, &o->steps); break;
    case 'w': ok = mn_parse_int(optarg, 0, 1000000, &o->warmup); break;
    case 'S':
      ok = o->nsets < MAX_SETS;
      if (ok) o->sets[o->nsets++] = optarg;
      break;
    case 'h': usage(stdout); exit(0);
    default: ok = 0;
    }
  }
  if (ok && optind == argc - 1)
    o->conf = argv[optind];
  else
    ok = 0;
  if (!ok) usage(stderr);
  return ok;
}

/* ---- the step ---------------------------------------------------------------------------- */

static uint64_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 33;
}

/* One step as mntrain's train_step runs it on one rank (train.c), its loss returned. */
static double step(mn_model_t *m, mn_optim_t *o, const int32_t *x, const int32_t *y, int batch,
                   int64_t t) {
  double loss = 0;
  int64_t correct = 0;
  float scale = 1.0f / ((float)batch * (float)m->spec.seq);
  mn_model_forward(m, x, batch);
  mn_model_loss(m, y, batch, scale, &loss, &correct);
  mn_model_backward(m, x, batch, 0);
  int64_t bad = m->k->count_nonfinite(m->ctx, m->grads, m->nparams, NULL);
  if (bad > 0) return NAN;
  mn_optim_step(o, m, t, 1.0);
  return loss / ((double)batch * m->spec.seq);
}

static void print_table(const mn_model_t *m, const opts_t *o, int batch, double wall_s) {
  double ops = 0, gemm_flop = 0, gemm_s = 0;
  for (int i = 0; i < OP_COUNT; i++) ops += g_t[i].s;
  for (int i = OP_GEMM_BLOCKS; i <= OP_GEMM_HEAD; i++) gemm_flop += g_t[i].flop, gemm_s += g_t[i].s;
  double n = o->steps, tokens = (double)batch * m->spec.seq;
  printf("%-36s %9s %7s %9s %10s\n", "op", "ms/step", "share", "calls", "GFLOP/s");
  for (int i = 0; i < OP_COUNT; i++) {
    if (g_t[i].calls == 0) continue;
    char rate[32] = "";
    if (g_t[i].flop > 0) snprintf(rate, sizeof rate, "%.1f", g_t[i].flop / g_t[i].s / 1e9);
    printf("%-36s %9.2f %6.1f%% %9.0f %10s\n", op_names[i], 1e3 * g_t[i].s / n,
           100 * g_t[i].s / wall_s, (double)g_t[i].calls / n, rate);
  }
  printf("%-36s %9.2f %6.1f%%\n", "outside the ops", 1e3 * (wall_s - ops) / n,
         100 * (wall_s - ops) / wall_s);
  printf("%-36s %9.2f %6.1f%%\n", "step (wall)", 1e3 * wall_s / n, 100.0);
  double fpt = mn_model_flops_per_row(m);
  printf("summary: tokens_per_s=%.0f step_ms=%.2f gemm_share=%.3f attention_share=%.3f "
         "gemm_gflops=%.1f model_gflops=%.1f flops_per_token=%.0f\n",
         n * tokens / wall_s, 1e3 * wall_s / n, gemm_s / wall_s,
         (g_t[OP_ATTENTION_FWD].s + g_t[OP_ATTENTION_BWD].s) / wall_s, gemm_flop / gemm_s / 1e9,
         fpt * n * tokens / wall_s / 1e9, fpt);
}

int main(int argc, char **argv) {
  opts_t o;
  if (!parse_args(argc, argv, &o)) return 64;
  static mn_config_t cfg;
  char err[1024] = "";
  if (mn_config_load(o.conf, o.sets, o.nsets, &cfg, err, sizeof err) != MN_OK) {
    fprintf(stderr, "mn_gpt_ops: %s\n", err);
    return 64;
  }
  static mn_model_spec_t spec;
  if (mn_model_spec_config(&cfg, &spec) != MN_OK) {
    fprintf(stderr, "mn_gpt_ops: [model]: %s\n", mn_error_message());
    return 64;
  }
  int batch = cfg.data.batch_size;
  if (!spec.tokens) {
    fprintf(stderr, "mn_gpt_ops: the model takes no tokens (type = %s): this bench is for a gpt\n",
            spec.type);
    return 64;
  }
  mn_kernels_t timed = timed_table();
  static mn_model_t m;
  static mn_optim_t opt;
  int rc = 70;
  if (mn_model_init(&m, &timed, NULL, &spec, batch, cfg.model.seed, NULL) != MN_OK) {
    fprintf(stderr, "mn_gpt_ops: model: %s\n", mn_error_message());
    return 70;
  }
  int64_t total = (int64_t)o.warmup + o.steps;
  if (mn_optim_init(&opt, &cfg, &timed, &m.tensors, total, total) != MN_OK) {
    fprintf(stderr, "mn_gpt_ops: optimizer: %s\n", mn_error_message());
    goto free_model;
  }
  /* the head's GEMMs are those with the padded vocabulary as a dimension, when no other
   * dimension of the step's GEMMs can equal it */
  int C = cfg.model.width, T = spec.seq, Vp = mn_gpt_padded_vocab(cfg.model.vocab);
  g_head_dim = Vp != C && Vp != 3 * C && Vp != 4 * C && Vp != batch * T && Vp != T ? Vp : 0;

  size_t n = (size_t)batch * T;
  int32_t *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  if (!x || !y) goto free_buffers;
  uint64_t s = 1;
  for (size_t i = 0; i < n; i++) x[i] = (int32_t)(lcg(&s) % (uint64_t)cfg.model.vocab);
  for (size_t i = 0; i < n; i++) y[i] = i + 1 < n ? x[i + 1] : x[0];

  double first = 0, last = 0;
  for (int i = 0; i < o.warmup; i++) first = step(&m, &opt, x, y, batch, i);
  memset(g_t, 0, sizeof g_t);
  double t0 = now_s();
  for (int i = 0; i < o.steps; i++) last = step(&m, &opt, x, y, batch, o.warmup + i);
  double wall = now_s() - t0;
  if (!isfinite(last)) {
    fprintf(stderr, "mn_gpt_ops: a step's loss or gradient is not finite\n");
    goto free_buffers;
  }
  int64_t nparams = 0;
  mn_model_size(&spec, &nparams, NULL);
  const char *th = getenv("OPENBLAS_NUM_THREADS");
  printf(
      "mn_gpt_ops: %s: gpt vocab %d (padded %d), context %d, %d blocks, %d heads, width %d; "
      "batch %d; %lld parameters; optimizer %s; %d steps timed after %d; OPENBLAS_NUM_THREADS=%s;"
      " loss %.3f -> %.3f\n",
      o.conf, cfg.model.vocab, Vp, T, cfg.model.layers[0], cfg.model.heads, C, batch,
      (long long)nparams, opt.kind->name, o.steps, o.warmup, th ? th : "(unset)", first, last);
  if (!g_head_dim)
    printf("note: the padded vocabulary equals another GEMM dimension: the head's GEMMs are "
           "counted with the blocks'\n");
  print_table(&m, &o, batch, wall);
  rc = 0;
free_buffers:
  free(x);
  free(y);
  mn_optim_free(&opt);
free_model:
  mn_model_free(&m);
  return rc;
}
