/* encoder.cu: the CUDA token-plus-position embedding of mn: out[b,t,:] = wte[tokens[b,t],:]
 * + wpe[t,:], and its backward, a scatter-add into dwte and dwpe, deterministic and without
 * atomics.
 *
 * The backward gives each row of dwte one owner: the first position holding its token (the
 * head of the token's chain). A first kernel links the positions: for each p, the next
 * position with the same token (-1 for none) and whether p is a head, found by comparing p's
 * token with every other one, a tile of tokens at a time in shared memory (B*T squared
 * comparisons, no sort). Then one block per head walks its chain, each thread one channel,
 * adding to the row's old value (0 after the zeroing when not accumulating) the positions'
 * gradients in increasing b * T + t; dwpe's rows are summed over b the same way, one thread
 * per element. That is the CPU's order (kernels/cpu/encoder.c), so the results have the same
 * bits on every run and on both back ends. The links (B*T next indices, then B*T head
 * flags) live in the context's workspace. Token ids must lie in [0, V); they are not checked
 * here. */
#include "mn_cuda.cuh"

/* The scratch in the workspace: n next indices (int32), then n head flags (bytes). */
static size_t link_nbytes(int64_t n) { return (size_t)n * (sizeof(int32_t) + 1); }

static __global__ void encoder_fwd_kernel(float *__restrict__ out,
                                          const int32_t *__restrict__ tokens,
                                          const float *__restrict__ wte,
                                          const float *__restrict__ wpe, int T, int C,
                                          int64_t count) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
    int64_t p = i / C;
    int c = (int)(i % C);
    out[i] = __fadd_rn(wte[(int64_t)tokens[p] * C + c], wpe[(p % T) * C + c]);
  }
}

/* One thread per position p: next[p] = the least q > p with tokens[q] == tokens[p], or -1;
 * head[p] = no q < p holds that token. */
static __global__ void encoder_link_kernel(const int32_t *__restrict__ tokens, int n,
                                           int32_t *__restrict__ next,
                                           unsigned char *__restrict__ head) {
  __shared__ int32_t tile[MN_CUDA_THREADS];
  int p = blockIdx.x * MN_CUDA_THREADS + threadIdx.x;
  int32_t tok = p < n ? tokens[p] : -1;
  int earlier = 0, nxt = -1;
  for (int base = 0; base < n; base += MN_CUDA_THREADS) {
    int q = base + threadIdx.x;
    tile[threadIdx.x] = q < n ? tokens[q] : -1; /* -1: no token matches it */
    __syncthreads();
    int len = n - base < MN_CUDA_THREADS ? n - base : MN_CUDA_THREADS;
    for (int j = 0; j < len; j++) {
      if (tile[j] != tok) continue;
      if (base + j < p) earlier = 1;
      if (base + j > p && nxt < 0) nxt = base + j;
    }
    __syncthreads();
  }
  if (p < n) {
    next[p] = nxt;
    head[p] = !earlier;
  }
}

/* One block per position; a head adds its chain's gradients into its token's row. */
static __global__ void encoder_dwte_kernel(float *__restrict__ dwte, const float *__restrict__ dout,
                                           const int32_t *__restrict__ tokens,
                                           const int32_t *__restrict__ next,
                                           const unsigned char *__restrict__ head, int C) {
  int p = blockIdx.x;
  if (!head[p]) return;
  float *row = dwte + (int64_t)tokens[p] * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    float acc = row[c];
    for (int q = p; q >= 0; q = next[q]) acc = __fadd_rn(acc, dout[(int64_t)q * C + c]);
    row[c] = acc;
  }
}

/* dwpe[t,c] += sum_b dout[b,t,c], b increasing; one thread per (t, c) of the first T rows. */
static __global__ void encoder_dwpe_kernel(float *__restrict__ dwpe, const float *__restrict__ dout,
                                           int B, int T, int C) {
  int64_t count = (int64_t)T * C, stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
    float acc = dwpe[i];
    for (int b = 0; b < B; b++) acc = __fadd_rn(acc, dout[(int64_t)b * count + i]);
    dwpe[i] = acc;
  }
}

extern "C" void mn_encoder_fwd_cuda(const mn_kctx_t *ctx, float *out, const int32_t *tokens,
                                    const float *wte, const float *wpe, int B, int T, int C) {
  int64_t count = (int64_t)B * T * C;
  if (count <= 0) return;
  encoder_fwd_kernel<<<mn_cuda_blocks(count), MN_CUDA_THREADS, 0, mn_cuda_stream(ctx)>>>(
      out, tokens, wte, wpe, T, C, count);
  MN_CUDA_LAUNCHED("encoder_fwd_kernel");
}

extern "C" size_t mn_encoder_bwd_workspace_cuda(int B, int T) {
  int64_t n = (int64_t)B * T;
  return n > 0 ? link_nbytes(n) : 0;
}

extern "C" void mn_encoder_bwd_cuda(const mn_kctx_t *ctx, float *dwte, float *dwpe,
                                    const float *dout, const int32_t *tokens, int B, int T, int C,
                                    int V, int T_max, int dwte_add, int dwpe_add) {
  cudaStream_t s = mn_cuda_stream(ctx);
  if (!dwte_add) MN_CUDA_CHECK(cudaMemsetAsync(dwte, 0, (size_t)V * C * sizeof *dwte, s));
  if (!dwpe_add) MN_CUDA_CHECK(cudaMemsetAsync(dwpe, 0, (size_t)T_max * C * sizeof *dwpe, s));
  int n = B * T;
  if (n <= 0 || C <= 0) return;
  mn_cuda_need_workspace(ctx, link_nbytes(n), "encoder_bwd");
  int32_t *next = (int32_t *)ctx->workspace;
  unsigned char *head = (unsigned char *)(next + n);
  unsigned link_blocks = (unsigned)((n + MN_CUDA_THREADS - 1) / MN_CUDA_THREADS);
  encoder_link_kernel<<<link_blocks, MN_CUDA_THREADS, 0, s>>>(tokens, n, next, head);
  MN_CUDA_LAUNCHED("encoder_link_kernel");
  int threads = C < MN_CUDA_THREADS ? (C + 31) / 32 * 32 : MN_CUDA_THREADS;
  encoder_dwte_kernel<<<(unsigned)n, threads, 0, s>>>(dwte, dout, tokens, next, head, C);
  MN_CUDA_LAUNCHED("encoder_dwte_kernel");
  int64_t count = (int64_t)T * C;
  encoder_dwpe_kernel<<<mn_cuda_blocks(count), MN_CUDA_THREADS, 0, s>>>(dwpe, dout, B, T, C);
  MN_CUDA_LAUNCHED("encoder_dwpe_kernel");
}
