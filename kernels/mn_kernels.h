/* mn_kernels.h: the compute kernels of mn, one table per back end, and the context every
 * op runs in.
 *
 * Every op has a CPU reference in kernels/cpu/<op>.c; its CUDA twin sits beside it in
 * kernels/cuda/<op>.cu and fills the same table. Callers pick a table once and never branch
 * on the back end. Pointers are in the back end's memory (host for CPU). Matrices are
 * row-major. Nothing here knows about MPI, files or signals.
 *
 * Every op that queues work takes a context (mn_kctx_t) first: the stream it is queued on
 * and a workspace it may use as scratch. The kernels keep no scratch of their own; an op
 * that needs scratch says how much through its *_workspace query, and the caller (the
 * runtime's device) sizes the workspace once for the largest need. */
#ifndef MN_KERNELS_H
#define MN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The context of an op, owned by the caller (the runtime's device; kernels never allocate,
 * free or resize it).
 *
 * stream: where the op's work is queued: a cudaStream_t on CUDA, NULL for the legacy
 *   default stream; ignored on the CPU (its ops finish before they return).
 * workspace, workspace_nbytes: back-end memory (device memory on CUDA), aligned as the
 *   table's alloc aligns, that an op may overwrite as scratch between its start and the end
 *   of its work on the stream. Every op of one stream reuses the same workspace: ops on one
 *   stream run in order, so they never overlap; two streams need two workspaces. An op needs
 *   no more than its *_workspace query answers (0 for the ops without a query); one given
 *   less is a programming error (abort with a message). */
typedef struct mn_kctx {
  void *stream;
  void *workspace;
  size_t workspace_nbytes;
} mn_kctx_t;

/* A context with the default stream and no workspace, for callers of ops that need none
 * (e.g. copies in tests and tools, every op of the CPU table but attention_bwd). Never
 * NULL. */
const mn_kctx_t *mn_kctx_default(void);

/* ---- the arguments of the optimizer updates (in; the caller's, read during the call) ---- */

/* SGD with momentum; lr, weight_decay and grad_scale as the caller's step wants them. */
typedef struct mn_sgd_args {
  float lr, momentum, weight_decay;
  float grad_scale; /* g is multiplied by it first (1: none; clipping by global norm) */
  int nesterov;
} mn_sgd_args_t;

/* AdamW (decoupled weight decay); the bias corrections of step t come from the caller, which
 * counts the steps. */
typedef struct mn_adamw_args {
  float lr, beta1, beta2, eps, weight_decay;
  float grad_scale;       /* g is multiplied by it first */
  float bias_correction1; /* 1 - beta1^t, t the 1-based step (computed by the caller in double) */
  float bias_correction2; /* 1 - beta2^t */
} mn_adamw_args_t;

typedef struct mn_kernels {
  const char *name;

  /* ---- compute: each op queued on ctx->stream, in order ---- */

  /* c[m,n] = alpha * op(a) * op(b) + beta * c; op(a) is [m,k], op(b) is [k,n];
   * trans_a/trans_b nonzero: a is stored [k,m] / b is stored [n,k]. */
  void (*gemm)(const mn_kctx_t *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

  /* y[i,j] = act(y[i,j] + bias[j]) for y[m,n]; act is ReLU when relu, identity otherwise. */
  void (*bias_act_fwd)(const mn_kctx_t *ctx, float *y, const float *bias, int m, int n, int relu);

  /* y[i] = ReLU(x[i]) for x[count], in: x, out: y (y may equal x): x[i] < 0 ? 0 : x[i],
   * the value bias_act_fwd's ReLU gives (NaN stays NaN). */
  void (*relu_fwd)(const mn_kctx_t *ctx, float *y, const float *x, int64_t count);

  /* dy[i] *= (y[i] > 0), the ReLU gradient given the ReLU output y. */
  void (*relu_bwd)(const mn_kctx_t *ctx, float *dy, const float *y, int64_t count);

  /* db[j] = (accumulate ? db[j] : 0) + sum_i dy[i,j] for dy[m,n]; in: dy, in/out: db
   * (accumulate: tied parameters and gradient accumulation add into a gradient). */
  void (*bias_grad)(const mn_kctx_t *ctx, const float *dy, int m, int n, float *db, int accumulate);

  /* Softmax cross-entropy over logits[m,c] with integer labels[m]:
   * dlogits[i,j] = (softmax(logits_i)_j - [j == labels_i]) * grad_scale,
   * *loss_sum = sum_i -log softmax(logits_i)_{labels_i}, *correct = #{i: argmax == label}.
   * dlogits may be NULL (evaluation only). Returns when done (it reads its totals back).
   * Needs softmax_xent_workspace(m, c) bytes of ctx's workspace. classifier_xent with
   * V = Vp = c (below), which may also write dlogits in place over logits. */
  void (*softmax_xent)(const mn_kctx_t *ctx, const float *logits, const int32_t *labels, int m,
                       int c, float grad_scale, float *dlogits, double *loss_sum, int64_t *correct);
  size_t (*softmax_xent_workspace)(int m, int c);

  /* PyTorch's SGD (torch.optim.SGD, no dampening) over w, g, v[count]; in: g, a; in/out: w
   * and the momentum buffer v:
   * g' = grad_scale * g + weight_decay * w; v = momentum * v + g';
   * w -= lr * (nesterov ? g' + momentum * v : v). */
  void (*sgd_update)(const mn_kctx_t *ctx, float *w, const float *g, float *v, int64_t count,
                     const mn_sgd_args_t *a);

  /* PyTorch's AdamW (torch.optim.AdamW, decoupled decay, no amsgrad) over w, g, m, v[count];
   * in: g, a; in/out: w and the moments m, v:
   * w *= 1 - lr * weight_decay; g' = grad_scale * g; m = beta1 m + (1 - beta1) g';
   * v = beta2 v + (1 - beta2) g'^2; w -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),
   * bc1 and bc2 being a's bias corrections. */
  void (*adamw_update)(const mn_kctx_t *ctx, float *w, const float *g, float *m, float *v,
                       int64_t count, const mn_adamw_args_t *a);

  /* x *= alpha. */
  void (*scale)(const mn_kctx_t *ctx, float *x, int64_t count, float alpha);

  /* The number of NaN and infinite values in x[0, count), and, when sumsq is not NULL, the sum
   * of the squares of its finite values accumulated in double, in an order fixed by count
   * alone (the same bits on every run; out: *sumsq, the squared global norm for clipping,
   * from the same pass over memory). Returns when the work queued before it on ctx->stream
   * is done (it synchronises on a GPU to return its host results).
   * Needs count_nonfinite_workspace(count) bytes of ctx's workspace. */
  int64_t (*count_nonfinite)(const mn_kctx_t *ctx, const float *x, int64_t count, double *sumsq);
  size_t (*count_nonfinite_workspace)(int64_t count);

  /* ---- the GPT-2 layers' ops, as llm.c (train_gpt2.c) defines them ----
   * Shapes: B batch, T sequence length (T <= T_max), C channels, NH heads (C % NH == 0,
   * head size hs = C / NH), V vocabulary, Vp >= V its padded width; rows = B * T; every
   * tensor row-major, indexed as written ([B,T,C]: (b * T + t) * C + c). Token ids and labels
   * lie in [0, V) (not checked here: the data reader validates them). Unless said otherwise
   * an output overlaps no input. */

  /* Token plus position embedding. in: tokens[B,T], wte[V,C], wpe[T_max,C]; out: out[B,T,C]:
   * out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]. */
  void (*encoder_fwd)(const mn_kctx_t *ctx, float *out, const int32_t *tokens, const float *wte,
                      const float *wpe, int B, int T, int C);

  /* Its backward, a scatter-add. in: dout[B,T,C], tokens[B,T]; in/out: dwte[V,C],
   * dwpe[T_max,C]: dwte[v,:] = (dwte_add ? dwte[v,:] : 0) + sum over the (b,t) with
   * tokens[b,t] == v of dout[b,t,:], for every v < V; dwpe[t,:] = (dwpe_add ? dwpe[t,:] : 0)
   * + sum_b dout[b,t,:] for t < T, and (dwpe_add ? unchanged : 0) for T <= t < T_max. So with
   * a flag 0 that tensor holds exactly the gradient of this call; with 1 it is added (apart,
   * because a token embedding tied to the output head is added into while the position
   * embedding is overwritten). Each sum runs from the old value (or 0) over the positions in
   * increasing
   * b * T + t: the same order, so the same bits, on every back end and every run (CUDA uses
   * no atomics). Needs encoder_bwd_workspace(B, T) bytes of ctx's workspace. */
  void (*encoder_bwd)(const mn_kctx_t *ctx, float *dwte, float *dwpe, const float *dout,
                      const int32_t *tokens, int B, int T, int C, int V, int T_max, int dwte_add,
                      int dwpe_add);
  size_t (*encoder_bwd_workspace)(int B, int T);

  /* LayerNorm over the last dimension, eps 1e-5 (PyTorch's torch.nn.LayerNorm). in:
   * inp[rows,C], weight[C], bias[C]; out: out[rows,C], mean[rows], rstd[rows] (mean and rstd
   * kept for the backward; either may be NULL when not wanted):
   * mean_i = sum_j inp[i,j] / C, var_i = sum_j (inp[i,j] - mean_i)^2 / C (biased),
   * rstd_i = 1 / sqrt(var_i + 1e-5), out[i,j] = (inp[i,j] - mean_i) rstd_i weight[j] + bias[j]. */
  void (*layernorm_fwd)(const mn_kctx_t *ctx, float *out, float *mean, float *rstd,
                        const float *inp, const float *weight, const float *bias, int rows, int C);

  /* Its backward given the forward's mean and rstd. in: dout[rows,C], inp, weight, mean, rstd;
   * in/out: dinp[rows,C] (must not overlap dout), dweight[C], dbias[C]. With n the normalised
   * input (inp - mean) rstd and g = weight * dout (per row):
   * dinp = (din_add ? dinp : 0) + rstd (g - mean_j(g) - n mean_j(g n)),
   * dweight = (dparams_add ? dweight : 0) + sum_i dout n, dbias = (dparams_add ? dbias : 0) +
   * sum_i dout. */
  void (*layernorm_bwd)(const mn_kctx_t *ctx, float *dinp, float *dweight, float *dbias,
                        const float *dout, const float *inp, const float *weight, const float *mean,
                        const float *rstd, int rows, int C, int din_add, int dparams_add);

  /* GELU, tanh approximation (GPT-2's; PyTorch's approximate='tanh'), over count elements.
   * in: inp; out: out (may be inp):
   * out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
  void (*gelu_fwd)(const mn_kctx_t *ctx, float *out, const float *inp, int64_t count);

  /* Its backward. in: inp (the forward's input), dout; in/out: dinp (may be dout):
   * dinp = (add ? dinp : 0) + gelu'(inp) dout. */
  void (*gelu_bwd)(const mn_kctx_t *ctx, float *dinp, const float *inp, const float *dout,
                   int64_t count, int add);

  /* The residual add: out = a + b over count elements; in: a, b; out: out (may be a or b, so
   * add_fwd(ctx, y, y, x, n) is y += x: what the residual's backward needs besides copy). */
  void (*add_fwd)(const mn_kctx_t *ctx, float *out, const float *a, const float *b, int64_t count);

  /* Causal multi-head self-attention (llm.c's attention_forward). in: qkv[B,T,3C], each
   * position's query, key and value side by side, head h's at channels h*hs + [0, hs) of
   * each; out: out[B,T,C] (head h's output in channels h*hs + [0, hs)) and att[B,NH,T,T]
   * (kept for the backward): for each (b, h, t),
   * att[b,h,t,t2] = softmax_{t2 <= t}(q_t . k_t2 / sqrt(hs)) for t2 <= t, 0 for t2 > t;
   * out[b,t,h*hs + i] = sum_{t2 <= t} att[b,h,t,t2] v_t2[i]. Needs attention_workspace(B, T,
   * C, NH) bytes of ctx's workspace (below). */
  void (*attention_fwd)(const mn_kctx_t *ctx, float *out, float *att, const float *qkv, int B,
                        int T, int C, int NH);

  /* Its backward. in: dout[B,T,C], qkv and att (the forward's); in/out: dqkv[B,T,3C]:
   * dqkv = (add ? dqkv : 0) + the gradient with respect to qkv, through the softmax
   * (datt = dout . v, dpre = att (datt - sum_t2 att datt)), then q, k and v. */
  void (*attention_bwd)(const mn_kctx_t *ctx, float *dqkv, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int NH, int add);
  /* The workspace of both, in bytes: on the CPU, whose threads take the (b, h) pairs, each
   * pair's keys (values) transposed and a row of datt; on CUDA the backward's whole
   * [B,NH,T,T] dpre, so that dq, dk and dv are sums in a fixed order without atomics, and
   * none for the forward. */
  size_t (*attention_workspace)(int B, int T, int C, int NH);

  /* The fused classifier: softmax_xent over the first V columns of each row of the padded
   * logits[rows,Vp] (row stride Vp); the padded columns [V, Vp) are never predicted (their
   * probability is 0, they are not in the argmax) and get gradient 0. in: logits,
   * labels[rows]; out: *loss_sum = sum_i -log softmax(logits_i[0,V))_{labels_i},
   * *correct = #{i: the first argmax of logits_i[0,V) is labels_i} and, when dlogits is not
   * NULL, dlogits[rows,Vp], which may be logits itself (written in place, as llm.c does, so
   * that the probabilities need no tensor of their own) or a separate buffer (no partial
   * overlap): dlogits[i,j] = (softmax(logits_i[0,V))_j - [j == labels_i]) grad_scale for
   * j < V, 0 for V <= j < Vp. softmax_xent is its case Vp == V. Returns when done (it reads
   * its totals back). Needs classifier_xent_workspace(rows, Vp) bytes of ctx's workspace. */
  void (*classifier_xent)(const mn_kctx_t *ctx, const float *logits, const int32_t *labels,
                          int rows, int V, int Vp, float grad_scale, float *dlogits,
                          double *loss_sum, int64_t *correct);
  size_t (*classifier_xent_workspace)(int rows, int Vp);

  /* ---- memory of the back end (host memory for CPU, device memory for CUDA) ---- */

  /* nbytes of zeroed memory aligned to 256 bytes (at least), or NULL when there is not
   * enough; release(NULL) is a no-op.
   * Synchronous, no stream: allocate before the work that uses the memory is queued. */
  void *(*alloc)(size_t nbytes);
  void (*release)(void *p);
  /* Copies queued on ctx->stream that return when done, after all work queued before them
   * on that stream: host -> back end, back end -> host, and within the back end. (The
   * runtime's device has its own copy streams for input and snapshots: mn_device.h.) */
  void (*upload)(const mn_kctx_t *ctx, void *dst, const void *host_src, size_t nbytes);
  void (*download)(const mn_kctx_t *ctx, void *host_dst, const void *src, size_t nbytes);
  void (*copy)(const mn_kctx_t *ctx, void *dst, const void *src, size_t nbytes);
  /* Wait until the work queued on ctx->stream is done; for the legacy default stream
   * (NULL) all work on the device, other streams' included (a no-op on the CPU). */
  void (*sync)(const mn_kctx_t *ctx);
} mn_kernels_t;

/* The CPU back end (GEMM through CBLAS/OpenBLAS). Never NULL. */
const mn_kernels_t *mn_kernels_cpu(void);

/* The threads of the CPU back end: its GEMMs run on OpenBLAS's, its other ops on as many
 * OpenMP threads (kernels/cpu/threads.c). Until set, the count is OMP_NUM_THREADS when the
 * environment has it; else OpenBLAS's (OPENBLAS_NUM_THREADS: mnrun gives each rank its share
 * of the cores) when it has OMP_WAIT_POLICY (mnrun sets PASSIVE: spinning OpenMP threads
 * would take the cores from OpenBLAS's); else 1. No op's result depends on it: every CPU op
 * gives the same bits at any count.
 * set_threads(n) sets both OpenBLAS's count and the ops' (n < 1 counts as 1), for every
 * thread of the process; call it between ops, not during one. */
void mn_kernels_cpu_set_threads(int n);
int mn_kernels_cpu_threads(void);

/* The CUDA back end (kernels/cuda/, GEMM through cuBLAS), or NULL when no device is usable:
 * the build has no CUDA (MN_HAVE_CUDA undefined; kernels/cuda_absent.c), cudaGetDeviceCount
 * fails or finds none, or cuBLAS cannot start. Its pointers are device pointers; its ops run
 * on the context's stream of the current device, and softmax_xent and count_nonfinite
 * synchronise that stream to return their host results. cuBLAS is set to the context's
 * stream before each GEMM. The first call picks up the current device; not thread-safe
 * before it. */
const mn_kernels_t *mn_kernels_cuda(void);

/* Opt in (on != 0) or out of TF32 tensor-core math for the CUDA gemm (off by default:
 * full FP32). A no-op without CUDA. */
void mn_kernels_cuda_set_tf32(int on);

#ifdef __cplusplus
}
#endif
#endif /* MN_KERNELS_H */
